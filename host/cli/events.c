/* events: zerog events follows the job starts and ends hosts publish (zerog:events) and prints
 * each as a JSON line, until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>

#include "cli.h"
#include "json_out.h"

static zg_host *following;

static void on_signal(int sig)
{
    (void)sig;
    if (following) zg_stop(following);
}

static void print_event(void *ud, const char *json)
{
    (void)ud;
    json_write(stdout, json);
    putchar('\n');
    fflush(stdout);
}

int cmd_events(const cli_options *o, int argc, char **argv)
{
    const char *operands[1];
    int n, code = cli_parse("events", argc, argv, NULL, 0, 0, operands, &n);
    if (code != EXIT_OK) return code;
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    following = h;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = zg_follow_events(h, print_event, NULL);
    code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    following = NULL;
    zg_host_free(h);
    return code;
}
