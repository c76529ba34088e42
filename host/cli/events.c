/* events: zerog events follows the job starts and ends hosts publish (zerog:events) and prints
 * each as a JSON line, until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>

#include "cli.h"

static zg_host *following;

static void on_signal(int sig)
{
    (void)sig;
    if (following) zg_stop(following);
}

static void print_event(void *ud, const char *json)
{
    (void)ud;
    printf("%s\n", json);
    fflush(stdout);
}

int cmd_events(const cli_options *o, int argc, char **argv)
{
    (void)argv;
    if (argc != 0) return cli_usage();
    zg_host *h = cli_open_host(o, 0, NULL);
    if (!h) return EXIT_JOB_FAILED;
    following = h;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = zg_follow_events(h, print_event, NULL);
    int code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    following = NULL;
    zg_host_free(h);
    return code;
}
