/* limits: what RATE and GROUP do under load (issue 12 point 4), through the public API, on the
 * Redis of ZEROG_STORE:
 *   - RATE = { limit = 100, per = 1 } with HOSTS hosts (a thread and a host each) and more jobs
 *     than they may start: the starts in a window of RATE_SECONDS seconds (after the first second)
 *     against limit x RATE_SECONDS;
 *   - GROUP: BACKLOG jobs of group A waiting, one host running them, then a lone job of group B,
 *     TRIES times: how long from its submit until it started (its job left "ready").
 * Prints one JSON line {"kind": "limits", ...}. Environment: ZEROG_STORE, HOSTS (2), RATE_SECONDS
 * (10), BACKLOG (100000), TRIES (5). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zerog.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : dflt;
}

static void die(zg_host *h, const char *what)
{
    fprintf(stderr, "limits bench: %s: %s\n", what, h ? zg_errstr(h) : "");
    exit(1);
}

static const char *const RATED =
    "return { JOB_TYPE = 'bench_rated', QUEUE_NAME = 'bench_rated', RATE = { limit = 100, per "
    "= 1 },\n  run = function(self) return 200 end }\n";
static const char *const GROUPED =
    "return { JOB_TYPE = 'bench_grouped', QUEUE_NAME = 'bench_grouped', GROUP = 'g',\n"
    "  SCHEMA = { g = { type = 'string' } }, run = function(self) return 200 end }\n";

static zg_host *host_with(const char *script)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = getenv("ZEROG_STORE");
    zg_host *h = zg_host_new(&cfg);
    if (!h || zg_errcode(h) != ZG_OK) die(h, "host");
    if (zg_load_string(h, "bench_rated.lua", RATED, NULL) != ZG_OK) die(h, "load");
    if (zg_load_string(h, "bench_grouped.lua", GROUPED, NULL) != ZG_OK) die(h, "load");
    (void)script;
    return h;
}

/* Submits n jobs of type with params, in batches of 1,000. */
static void fill(zg_host *h, const char *type, const char *params, long n)
{
    enum { BATCH = 1000 };
    static const char *all[BATCH];
    static char uuids[BATCH][ZG_UUID_LEN];
    for (int i = 0; i < BATCH; i++)
        all[i] = params;
    for (long done = 0; done < n;) {
        size_t k = (size_t)(n - done < BATCH ? n - done : BATCH);
        if (zg_submit_batch(h, type, all, k, NULL, uuids) != ZG_OK) die(h, "submit");
        done += (long)k;
    }
}

typedef struct worker {
    zg_host *h;
    const char *queue;
    pthread_t thread;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    const char *queues[] = {w->queue};
    zg_run(w->h, queues, 1, 0, NULL);
    return NULL;
}

static void start(worker *w, const char *queue)
{
    w->h = host_with(NULL);
    w->queue = queue;
    pthread_create(&w->thread, NULL, work, w);
}

static void stop(worker *w)
{
    zg_stop(w->h);
    pthread_join(w->thread, NULL);
    zg_host_free(w->h);
}

static int64_t ready(zg_host *h, const char *queue)
{
    zg_queue_counts c;
    if (zg_queue_counts_get(h, queue, &c) != ZG_OK) die(h, "counts");
    return c.ready;
}

static void sleep_until(double at_ms)
{
    double left = at_ms - now_ms();
    if (left > 0) nanosleep(&(struct timespec){(time_t)(left / 1e3), (long)(left * 1e6) % 1000000000L}, NULL);
}

int main(void)
{
    long hosts = env_long("HOSTS", 2), seconds = env_long("RATE_SECONDS", 10);
    long backlog = env_long("BACKLOG", 100000), tries = env_long("TRIES", 5);
    if (hosts < 1 || hosts > 16 || seconds < 1 || tries < 1 || tries > 100) return 2;
    zg_host *h = host_with(NULL);

    /* RATE: more jobs than (seconds + 2) s may start */
    fill(h, "bench_rated", "{}", 100 * (seconds + 3));
    worker w[16];
    for (long i = 0; i < hosts; i++)
        start(&w[i], "bench_rated");
    double t0 = now_ms();
    sleep_until(t0 + 1000); /* the first window's burst is behind */
    int64_t before = ready(h, "bench_rated");
    double t1 = now_ms();
    sleep_until(t1 + 1000.0 * (double)seconds);
    int64_t after = ready(h, "bench_rated");
    double t2 = now_ms();
    for (long i = 0; i < hosts; i++)
        stop(&w[i]);
    double rate = (double)(before - after) * 1000.0 / (t2 - t1);

    /* GROUP: a lone job of B behind the backlog of A */
    fill(h, "bench_grouped", "{\"g\": \"A\"}", backlog);
    worker runner;
    start(&runner, "bench_grouped");
    double waits[100], worst = 0, sum = 0;
    for (long i = 0; i < tries; i++) {
        sleep_until(now_ms() + 200);
        char uuid[ZG_UUID_LEN];
        double at = now_ms();
        if (zg_submit(h, "bench_grouped", "{\"g\": \"B\"}", NULL, uuid) != ZG_OK) die(h, "submit");
        zg_message_stats st = {0};
        do {
            if (zg_job_stats(h, uuid, &st) != ZG_OK) die(h, "job stats");
        } while (st.state == ZG_MSG_READY && now_ms() - at < 10000);
        waits[i] = now_ms() - at;
        sum += waits[i];
        if (waits[i] > worst) worst = waits[i];
    }
    int64_t a_left = ready(h, "bench_grouped");
    stop(&runner);
    printf("{\"kind\":\"limits\",\"rate_limit\":100,\"rate_hosts\":%ld,\"rate_seconds\":%ld,"
           "\"rate_observed\":%.2f,\"rate_error_pct\":%.2f,\"group_backlog\":%ld,"
           "\"group_a_left\":%lld,\"group_tries\":%ld,\"group_start_ms_mean\":%.2f,"
           "\"group_start_ms_max\":%.2f}\n",
           hosts, seconds, rate, (rate - 100.0), backlog, (long long)a_left, tries,
           sum / (double)tries, worst);
    zg_host_free(h);
    return 0;
}
