/* latency: how soon an idle worker starts a job, through the public API only.
 *   latency LOG_FIFO SAMPLES DELAY_MS WARMUP     (ZEROG_STORE, ZEROG_JOBS as for the command)
 *
 * A `zerog worker` serving the bench_probe queue must be running and idle, its stderr (its log)
 * going to LOG_FIFO. Jobs are submitted one at a time (zg_submit, with DELAY_MS as the delay); the
 * probe job's run begins with zerog.log.info("bench_probe start <i>"), a line the worker writes
 * to its log at once, and this program takes the time when the line arrives. Latency = that time
 * - the time just before zg_submit was called - DELAY_MS: for DELAY_MS 0 the submit-to-start
 * latency, otherwise how late the delayed job started. Both times are CLOCK_MONOTONIC in this one
 * process, in microseconds (the job API's own timestamps have milliseconds); the log line's
 * formatting and the pipe's wake-up (tens of microseconds) are included. After each start it
 * waits until the job has its result and then 1-25 ms more (at random), so the next job finds the
 * worker idle, in any phase of its wait. The first WARMUP samples are dropped (connections,
 * script caches). Prints one JSON line
 * {"kind": "latency", "system": "zerog", "delay_ms", "samples_us": [...]}. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zerog.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#define MARK "bench_probe start "

/* Waits until the log brings the line "... bench_probe start <want>"; returns the time of the read
 * that brought it, or -1 after deadline_us. Other lines are dropped. */
static double wait_for_start(int fd, long want, double deadline_us)
{
    static char pending[4096];
    static size_t used;
    for (;;) {
        double left = deadline_us - now_us();
        if (left <= 0) return -1;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(left / 1000) + 1) <= 0) continue;
        double at = now_us();
        ssize_t n = read(fd, pending + used, sizeof pending - 1 - used);
        if (n <= 0) continue;
        used += (size_t)n;
        int found = 0;
        char *nl;
        while ((nl = memchr(pending, '\n', used))) {
            *nl = '\0';
            const char *mark = strstr(pending, MARK);
            found |= mark && strtol(mark + strlen(MARK), NULL, 10) == want;
            size_t consumed = (size_t)(nl - pending) + 1;
            memmove(pending, nl + 1, used - consumed);
            used -= consumed;
        }
        if (used == sizeof pending - 1) used = 0; /* a line longer than the buffer: dropped */
        if (found) return at;
    }
}

/* Waits until the job has a result (its run settled), polling every millisecond. */
static int wait_for_result(zg_host *h, const char *uuid, double deadline_us)
{
    while (now_us() < deadline_us) {
        char *json = NULL;
        if (zg_read(h, ZG_VIEW_PROGRESS, uuid, &json) == ZG_OK) {
            const char *r = json ? strstr(json, "\"result\":") : NULL;
            long result = r ? strtol(r + 9, NULL, 10) : -1;
            zg_free(json);
            if (result != -1) return 1;
        }
        sleep_us(1000);
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: latency LOG_FIFO SAMPLES DELAY_MS WARMUP\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *fifo = argv[1];
    long samples = strtol(argv[2], NULL, 10), warmup = strtol(argv[4], NULL, 10);
    double delay_ms = strtod(argv[3], NULL);
    /* read-write: it never sees EOF, whatever the worker does with its end */
    int fd = open(fifo, O_RDWR | O_NONBLOCK);
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = getenv("ZEROG_STORE");
    cfg.jobs_dir = getenv("ZEROG_JOBS");
    zg_host *h = zg_host_new(&cfg);
    double *lat = calloc((size_t)(samples > 0 ? samples : 1), sizeof *lat);
    if (fd < 0 || !h || zg_errcode(h) != ZG_OK || !lat) {
        fprintf(stderr, "latency: %s\n", h ? zg_errstr(h) : "cannot start");
        return 1;
    }
    zg_submit_opts opts = {.delay = delay_ms / 1000.0};
    srand(42);
    int rc = 0;
    for (long i = 1; i <= warmup + samples; i++) {
        char params[512], uuid[ZG_UUID_LEN];
        snprintf(params, sizeof params, "{\"i\": %ld}", i);
        double submitted = now_us();
        if (zg_submit(h, "bench_probe", params, &opts, uuid) != ZG_OK) {
            fprintf(stderr, "latency: submit: %s\n", zg_errstr(h));
            rc = 1;
            break;
        }
        double started = wait_for_start(fd, i, submitted + delay_ms * 1000 + 10e6);
        if (started < 0) {
            fprintf(stderr, "latency: job %ld (%s) did not start within 10 s\n", i, uuid);
            rc = 1;
            break;
        }
        if (i > warmup) lat[i - warmup - 1] = started - submitted - delay_ms * 1000;
        if (!wait_for_result(h, uuid, now_us() + 10e6)) {
            fprintf(stderr, "latency: job %ld (%s) has no result after 10 s\n", i, uuid);
            rc = 1;
            break;
        }
        sleep_us(1000 + rand() % 24000); /* idle for 1-25 ms: any phase of its wait */
    }
    if (rc == 0) {
        printf("{\"kind\": \"latency\", \"system\": \"zerog\", \"delay_ms\": %g, \"samples_us\": [",
               delay_ms);
        for (long i = 0; i < samples; i++)
            printf("%s%.1f", i ? ", " : "", lat[i]);
        printf("]}\n");
        qsort(lat, (size_t)samples, sizeof *lat, cmp_double);
        fprintf(stderr, "latency: zerog delay %g ms: p50 %.0f us, p99 %.0f us\n", delay_ms,
                lat[samples / 2], lat[(samples * 99 + 99) / 100 - 1]);
    }
    free(lat);
    zg_host_free(h);
    close(fd);
    return rc;
}
