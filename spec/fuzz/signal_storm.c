/* signal_storm: runs a command while sending it SIGALRM every INTERVAL_US microseconds, and exits
 * with its status. libFuzzer's -timeout watchdog is a SIGALRM (every timeout/2 + 1 s, without
 * SA_RESTART) that interrupts whatever the fuzzing thread waits in: a harness that takes an
 * interrupted poll() or connect() for a failure fails at random, once in a few 60 s runs
 * (fuzz_http did: "no end of reply"); under this storm it fails at once. spec/fuzz/run replays
 * every target's seeds under it. The command starts with SIGALRM ignored, so that a signal that
 * comes before libFuzzer has put its handler in place does not end it (libFuzzer replaces an
 * ignored SIGALRM's disposition with its own handler when -timeout is above 0).
 *   signal_storm INTERVAL_US COMMAND [ARG...] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long interval_us = argc > 2 ? strtol(argv[1], NULL, 10) : 0;
    if (interval_us <= 0 || interval_us >= 1000000) {
        fprintf(stderr,
                "usage: signal_storm INTERVAL_US COMMAND [ARG...] (0 < INTERVAL_US < 1e6)\n");
        return 2;
    }
    signal(SIGALRM, SIG_IGN); /* inherited through exec, until libFuzzer installs its handler */
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "signal_storm: fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "signal_storm: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    long sent = 0;
    int status = 0;
    for (;;) {
        pid_t done = waitpid(pid, &status, WNOHANG); /* until then kill() cannot reach another */
        if (done == pid) break;
        if (done < 0 && errno != EINTR) {
            fprintf(stderr, "signal_storm: waitpid: %s\n", strerror(errno));
            return 2;
        }
        if (kill(pid, SIGALRM) == 0) sent++;
        struct timespec pause = {0, interval_us * 1000};
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "signal_storm: %ld SIGALRM sent\n", sent);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
