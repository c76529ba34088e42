/* worker: zerog worker [--queue NAME]... [--concurrency N] [--until-idle] [--max-jobs N]
 *
 * Runs jobs from the named queues (default: the queues of every loaded job type). Concurrency N
 * runs N hosts, each in a thread of its own with its own Lua VM and store connections (the
 * library has no global state, so they share nothing). SIGINT or SIGTERM stops taking new jobs;
 * running ones finish first. --until-idle exits once no message is ready and this worker holds
 * none (delayed messages do not keep it alive); --max-jobs N stops after N runs. Job scripts
 * are reloaded when the jobs directory changes (inotify) or on SIGHUP, as zerog serve does. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cli.h"

typedef struct worker_shared {
    const cli_options *opts;
    const char *queues[64];
    size_t nqueues;
    int until_idle;
    long max_jobs; /* 0: no limit */
    atomic_long taken;
    atomic_int reload_generation;
    atomic_int finished; /* threads that have returned */
} worker_shared;

typedef struct worker_thread {
    pthread_t thread;
    char name[16];
    zg_host *host;
    worker_shared *shared;
} worker_thread;

static volatile sig_atomic_t stopping, hangup;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void on_hangup(int sig)
{
    (void)sig;
    hangup = 1;
}

/* Until every thread has returned: reloads the scripts when the jobs directory changes or on
 * SIGHUP (the threads follow the generation). */
static void watch_scripts(worker_shared *s, const char *dir, int threads)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd >= 0)
        inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
    char buf[4096];
    while (atomic_load(&s->finished) < threads) {
        struct pollfd p = {fd, POLLIN, 0};
        int changed = 0;
        if (fd >= 0)
            changed = poll(&p, 1, 100) > 0;
        else
            usleep(100 * 1000);
        if (!changed && !hangup) continue;
        usleep(50 * 1000); /* an editor's burst of writes is one change */
        while (fd >= 0 && read(fd, buf, sizeof buf) > 0) {
        }
        hangup = 0;
        atomic_fetch_add(&s->reload_generation, 1);
        cli_log_line("worker", ZG_LOG_INFO, "", "job scripts reloaded");
    }
    if (fd >= 0) close(fd);
}

/* Claims one run under --max-jobs; 0 when the limit is reached. */
static int claim(worker_shared *s)
{
    if (!s->max_jobs) return 1;
    if (atomic_fetch_add(&s->taken, 1) < s->max_jobs) return 1;
    atomic_fetch_sub(&s->taken, 1);
    return 0;
}

static void unclaim(worker_shared *s)
{
    if (s->max_jobs) atomic_fetch_sub(&s->taken, 1);
}

static void report(const char *name, const zg_step_result *r)
{
    char msg[160];
    if (r->outcome == ZG_STEP_FINISHED)
        snprintf(msg, sizeof msg, "finished with %d", r->result_code);
    else if (r->outcome == ZG_STEP_REQUEUED)
        snprintf(msg, sizeof msg, "requeued, next run in %gs", r->delay);
    else
        snprintf(msg, sizeof msg, "message dropped");
    char id[ZG_UUID_LEN + 8];
    snprintf(id, sizeof id, "job %s", r->uuid);
    cli_log_line((void *)name, ZG_LOG_INFO, id, msg);
}

static void *worker_main(void *arg)
{
    worker_thread *w = arg;
    worker_shared *s = w->shared;
    zg_host *h = w->host;
    int generation = atomic_load(&s->reload_generation);
    while (!stopping) {
        if (generation != atomic_load(&s->reload_generation)) {
            generation = atomic_load(&s->reload_generation);
            zg_reload(h, NULL);
        }
        if (!claim(s)) break;
        zg_step_result r;
        int rc = zg_step(h, s->nqueues ? s->queues : NULL, s->nqueues, s->until_idle ? 0 : 500, &r);
        if (rc == ZG_OK) {
            report(w->name, &r);
            continue;
        }
        unclaim(s);
        if (rc == ZG_ETIMEDOUT) {
            if (s->until_idle) break;
            continue;
        }
        if (rc != ZG_ESTALE) { /* a stale settle is logged by the host; others are outages */
            cli_log_line(w->name, ZG_LOG_ERROR, "", zg_errstr(h));
            sleep(1);
        }
    }
    atomic_fetch_add(&s->finished, 1);
    return NULL;
}

int cmd_worker(const cli_options *o, int argc, char **argv)
{
    worker_shared s = {.opts = o};
    double concurrency = 1, max_jobs = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--until-idle") == 0)
            s.until_idle = 1;
        else if (strcmp(a, "--queue") == 0 && v && s.nqueues < 64)
            s.queues[s.nqueues++] = argv[++i];
        else if (strcmp(a, "--concurrency") == 0) {
            if (!cli_number(a, v, &concurrency) || concurrency < 1 || concurrency > 256)
                return cli_usage();
            i++;
        } else if (strcmp(a, "--max-jobs") == 0) {
            if (!cli_number(a, v, &max_jobs)) return cli_usage();
            i++;
        } else
            return cli_usage();
    }
    s.max_jobs = (long)max_jobs;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int n = (int)concurrency;
    worker_thread *threads = calloc((size_t)n, sizeof *threads);
    if (!threads) return EXIT_JOB_FAILED;
    /* the hosts are opened here, one by one, so an unreachable store is one error line */
    int opened = 0, started = 0;
    for (; opened < n; opened++) {
        worker_thread *w = &threads[opened];
        w->shared = &s;
        snprintf(w->name, sizeof w->name, "w%d", opened + 1);
        zg_config cfg;
        zg_config_init(&cfg);
        cfg.log = cli_log_line;
        cfg.log_ud = w->name;
        if (!(w->host = cli_open_host(o, 1, &cfg))) break;
    }
    for (; opened == n && started < n; started++)
        if (pthread_create(&threads[started].thread, NULL, worker_main, &threads[started]) != 0)
            break;
    watch_scripts(&s, o->jobs, started);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i].thread, NULL);
    for (int i = 0; i < opened; i++)
        zg_host_free(threads[i].host);
    free(threads);
    return opened < n || started < n ? EXIT_JOB_FAILED : EXIT_OK;
}
