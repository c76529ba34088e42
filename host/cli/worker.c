/* worker: zerog worker [--queue NAME]... [--concurrency N] [--until-idle] [--max-jobs N]
 *                      [--log-format text|json]
 *
 * Runs jobs from the named queues (default: the queues of every loaded job type). With
 * --concurrency N (N > 1) this process is a supervisor of N worker processes (supervisor.c): one
 * that crashes is replaced and the job it held released, so one crash never ends the others.
 * SIGINT or SIGTERM stops taking new jobs; running ones finish first (a supervisor forwards the
 * signal and waits for its workers). --until-idle exits once no message is ready and this worker
 * holds none (delayed messages do not keep it alive); --max-jobs N stops after N runs (shared out
 * among the processes). Job scripts are reloaded when the jobs directory changes (inotify) or on
 * SIGHUP. A store outage is logged once when it begins and once when it ends.
 *
 * `--child NAME --parent PID [--drained]` (not for people) runs one worker process for a
 * supervisor, talking to it over descriptors 3 and 4 (daemon.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

typedef struct worker_options {
    const char *queues[64];
    size_t nqueues;
    int until_idle;
    long max_jobs; /* 0: no limit */
    int concurrency;
    int json_logs;
    const char *child; /* --child NAME */
    long parent;       /* --parent PID */
    int drained;       /* --drained: start drained (a supervisor is draining) */
    int events;        /* --events: publish run starts and ends (serve's workers: its metrics) */
} worker_options;

/* What the loop and the thread beside it (a watcher, or the supervisor's command reader)
 * share. `reserving` is set while the loop waits for a message: a drain is acknowledged only
 * when it is clear, so no job starts after the acknowledgement. */
typedef struct worker_ctl {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int draining, reserving, reload, done;
    int report_fd; /* to the supervisor; -1 when alone */
    long jobs;
    log_target log;
} worker_ctl;

static volatile sig_atomic_t stopping, hangup;
/* the worker's host, told at once (zg_stop is signal-safe): a run that ends after the signal
 * does not claim the next job with its settle only to put it back */
static zg_host *volatile signal_host;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    if (signal_host) zg_stop(signal_host);
}

static void on_hangup(int sig)
{
    (void)sig;
    hangup = 1;
}

static long rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* One line to the supervisor (a single write: lines of two threads never mix). */
static void report(worker_ctl *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(worker_ctl *w, const char *fmt, ...)
{
    if (w->report_fd < 0) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof line && write(w->report_fd, line, (size_t)n) < 0) {
        /* the supervisor is gone; the command reader sees it too and ends the process */
    }
}

static void on_run(void *ud, const zg_run_info *run)
{
    worker_ctl *w = ud;
    if (run->begin) {
        pthread_mutex_lock(&w->lock);
        w->reserving = 0; /* the job started before any drain we acknowledge now */
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        report(w, "begin %s %lld %lld %s\n", run->uuid, (long long)run->message_id,
               (long long)run->reservation, run->queue);
    } else {
        w->jobs++;
        report(w, "end %ld %ld\n", w->jobs, rss_kb());
    }
}

static void log_step(worker_ctl *w, const zg_step_result *r)
{
    char msg[160], id[ZG_UUID_LEN + 8];
    if (r->outcome == ZG_STEP_FINISHED)
        snprintf(msg, sizeof msg, "finished with %d", r->result_code);
    else if (r->outcome == ZG_STEP_REQUEUED)
        snprintf(msg, sizeof msg, "requeued, next run in %gs", r->delay);
    else
        snprintf(msg, sizeof msg, "message dropped");
    snprintf(id, sizeof id, "job %s", r->uuid);
    log_line(&w->log, ZG_LOG_INFO, id, msg);
}

static void reload_scripts(worker_ctl *w, zg_host *h)
{
    int failed = 0;
    zg_reload(h, &failed);
    if (failed)
        log_linef(&w->log, ZG_LOG_WARNING,
                  "job scripts reloaded; %d failed to load and keep their previous version",
                  failed);
    else
        log_line(&w->log, ZG_LOG_INFO, "", "job scripts reloaded");
    report(w, "reloaded %d\n", failed);
}

/* Runs jobs until stopped, idle (--until-idle) or past --max-jobs. */
/* Runs jobs until stopped (or idle, or max_jobs); 1 when a worker alone stopped on a step's
 * ZG_EINVAL (what waiting cannot mend: its queues, or a type's SHARDS against the store's
 * record), else 0. */
static int work(worker_ctl *w, zg_host *h, const worker_options *o)
{
    long ran = 0;
    int outage = 0;
    int64_t last_rss = 0;
    while (!stopping) {
        pthread_mutex_lock(&w->lock);
        if (w->reload) {
            w->reload = 0;
            pthread_mutex_unlock(&w->lock);
            reload_scripts(w, h); /* the held job, if any, went back first */
            pthread_mutex_lock(&w->lock);
            w->reserving = zg_holding(h);
            pthread_cond_broadcast(&w->cond);
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        if (w->draining) {
            if (zg_holding(h)) { /* the job claimed with the last settle goes back first */
                pthread_mutex_unlock(&w->lock);
                zg_release_held(h);
                pthread_mutex_lock(&w->lock);
                w->reserving = 0;
                pthread_cond_broadcast(&w->cond);
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        if (o->max_jobs && ran >= o->max_jobs) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        w->reserving = 1;
        pthread_mutex_unlock(&w->lock);
        zg_step_result r;
        int rc = zg_step(h, o->nqueues ? o->queues : NULL, o->nqueues, o->until_idle ? 0 : 200, &r);
        pthread_mutex_lock(&w->lock);
        /* a job claimed with the settle is still reserved: a drain waits until it goes back */
        w->reserving = zg_holding(h);
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (rc == ZG_OK || rc == ZG_ESTALE) ran++;
        if (outage && (rc == ZG_OK || rc == ZG_ETIMEDOUT)) {
            outage = 0;
            log_line(&w->log, ZG_LOG_INFO, "", "the store is reachable again: taking jobs");
        }
        if (rc == ZG_OK)
            log_step(w, &r);
        else if (rc == ZG_ETIMEDOUT) {
            if (o->until_idle) break;
        } else if (rc == ZG_EINVAL && w->report_fd < 0) { /* (supervised: said once, retried) */
            log_linef(&w->log, ZG_LOG_ERROR, "%s", zg_errstr(h));
            return 1;
        } else if (rc != ZG_ESTALE) { /* a stale settle is logged by the host; others: outages */
            if (!outage)
                log_linef(&w->log, ZG_LOG_ERROR, "%s (said once; retrying until it passes)",
                          zg_errstr(h));
            outage = 1;
            for (int i = 0; i < 10 && !stopping; i++)
                usleep(100 * 1000);
        }
        if (monotonic_ms() - last_rss >= 1000) { /* memory, for the supervisor's /workers */
            last_rss = monotonic_ms();
            report(w, "rss %ld\n", rss_kb());
        }
    }
    return 0;
}

/* ---- alone: a thread watches the jobs directory ---- */

typedef struct watcher {
    worker_ctl *w;
    const char *dir;
} watcher;

static void *watch_scripts(void *arg)
{
    watcher *wa = arg;
    worker_ctl *w = wa->w;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd >= 0)
        inotify_add_watch(fd, wa->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
    char buf[4096];
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int done = w->done;
        pthread_mutex_unlock(&w->lock);
        if (done) break;
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
        pthread_mutex_lock(&w->lock);
        w->reload = 1;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    if (fd >= 0) close(fd);
    return NULL;
}

/* ---- a supervisor's worker: a thread reads its commands ---- */

static void *read_commands(void *arg)
{
    worker_ctl *w = arg;
    FILE *in = fdopen(CHILD_COMMAND_FD, "r");
    char line[128];
    while (in && fgets(line, sizeof line, in)) {
        int gen;
        pthread_mutex_lock(&w->lock);
        if (sscanf(line, "drain %d", &gen) == 1) {
            w->draining = 1;
            while (w->reserving) /* until no message can come to the loop */
                pthread_cond_wait(&w->cond, &w->lock);
            pthread_mutex_unlock(&w->lock);
            report(w, "drained %d\n", gen);
            continue;
        }
        if (strcmp(line, "undrain\n") == 0) w->draining = 0;
        if (strcmp(line, "reload\n") == 0) w->reload = 1;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    /* end of file: the supervisor is gone (its parent-death signal may not have come yet) */
    log_line(&w->log, ZG_LOG_ERROR, "", "the supervisor is gone: exiting");
    _exit(1);
}

/* The watchdog: the run is stuck where the VM cannot stop it (its job is already released
 * and recorded as timed out). The process ends; a supervisor replaces it. */
static void on_overrun(void *ud, const char *uuid)
{
    worker_ctl *w = ud;
    char msg[160];
    snprintf(msg, sizeof msg,
             "job %s overran its TIMEOUT and cannot be stopped: exiting (%d) to "
             "be replaced",
             uuid, EXIT_OVERRUN);
    log_line(&w->log, ZG_LOG_ERROR, "", msg);
    _exit(EXIT_OVERRUN);
}

static zg_host *open_worker_host(const cli_options *co, worker_ctl *w, int events)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = log_line;
    cfg.log_ud = &w->log;
    cfg.on_run = on_run;
    cfg.on_run_ud = w;
    cfg.on_overrun = on_overrun;
    cfg.on_overrun_ud = w;
    cfg.publish_events = events; /* two PUBLISH round trips a job: only where someone listens */
    cfg.prefetch = 1;            /* the settle claims the next job: one round trip a job less */
    return cli_open_host(co, 1, &cfg);
}

static void ctl_init(worker_ctl *w, const char *name, int json, int report_fd)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->log.worker = name;
    w->log.json = json;
    w->report_fd = report_fd;
}

static int run_child(const cli_options *co, const worker_options *o)
{
    /* die with the supervisor; it may have died before this line */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)o->parent) _exit(1);
    fcntl(CHILD_REPORT_FD, F_SETFD, FD_CLOEXEC);
    fcntl(CHILD_COMMAND_FD, F_SETFD, FD_CLOEXEC);
    signal(SIGHUP, SIG_IGN); /* the supervisor says when to reload */
    worker_ctl w;
    ctl_init(&w, o->child, o->json_logs, CHILD_REPORT_FD);
    w.draining = o->drained;
    zg_host *h = open_worker_host(co, &w, o->events);
    if (!h) return EXIT_JOB_FAILED;
    signal_host = h;
    if (stopping) zg_stop(h);
    pthread_t reader;
    if (pthread_create(&reader, NULL, read_commands, &w) != 0) {
        signal_host = NULL;
        zg_host_free(h);
        return EXIT_JOB_FAILED;
    }
    pthread_detach(reader);
    report(&w, "ready\n");
    work(&w, h, o);
    signal_host = NULL;
    zg_host_free(h);
    return EXIT_OK;
}

static int run_alone(const cli_options *co, const worker_options *o)
{
    worker_ctl w;
    ctl_init(&w, "w1", o->json_logs, -1);
    zg_host *h = open_worker_host(co, &w, o->events);
    if (!h) return EXIT_JOB_FAILED;
    signal_host = h;
    if (stopping) zg_stop(h);
    struct sigaction sa = {0};
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    watcher wa = {&w, co->jobs};
    pthread_t thread;
    int watching = pthread_create(&thread, NULL, watch_scripts, &wa) == 0;
    int failed = work(&w, h, o);
    pthread_mutex_lock(&w.lock);
    w.done = 1;
    pthread_mutex_unlock(&w.lock);
    if (watching) pthread_join(thread, NULL);
    signal_host = NULL;
    zg_host_free(h);
    return failed ? EXIT_JOB_FAILED : EXIT_OK;
}

static int run_supervised(const cli_options *co, const worker_options *o)
{
    log_target log = {"worker", o->json_logs};
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = log_line;
    cfg.log_ud = &log;
    supervisor s;
    memset(&s, 0, sizeof s);
    s.opts = co;
    s.log = &log;
    /* opened first: an unreachable store is one error line and exit 1, before any worker */
    if (!(s.host = cli_open_host(co, 0, &cfg))) return EXIT_JOB_FAILED;
    for (size_t i = 0; i < o->nqueues; i++) {
        s.args[s.nargs++] = "--queue";
        s.args[s.nargs++] = o->queues[i];
    }
    if (o->until_idle) s.args[s.nargs++] = "--until-idle";
    if (o->json_logs) {
        s.args[s.nargs++] = "--log-format";
        s.args[s.nargs++] = "json";
    }
    if (co->sandbox_open) {
        s.args[s.nargs++] = "--sandbox-open";
        s.args[s.nargs++] = co->sandbox_open;
    }
    s.max_jobs = o->max_jobs;
    s.exit_0_finishes = o->until_idle || o->max_jobs; /* else an exit is a death to replace */
    struct sigaction sa = {0};
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    int rc = EXIT_OK;
    if (supervisor_start(&s, o->concurrency) != 0) rc = EXIT_JOB_FAILED;
    int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watch >= 0)
        inotify_add_watch(watch, co->jobs,
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE);
    char buf[4096];
    while (rc == EXIT_OK && !stopping && !supervisor_done(&s)) {
        if (supervisor_poll(&s, watch, 100) || hangup) {
            hangup = 0;
            usleep(50 * 1000); /* an editor's burst of writes is one change */
            while (watch >= 0 && read(watch, buf, sizeof buf) > 0) {
            }
            supervisor_reload(&s);
        }
    }
    supervisor_stop(&s, -1); /* running jobs finish first */
    if (watch >= 0) close(watch);
    zg_host_free(s.host);
    return rc;
}

int cmd_worker(const cli_options *co, int argc, char **argv)
{
    worker_options o = {.concurrency = 1};
    cli_list queues = {0};
    double concurrency = 1, max_jobs = 0;
    const char *format = "text", *parent = NULL, *sandbox_open = NULL;
    const cli_opt opts[] = {{"--queue", CLI_LIST, &queues},
                            {"--sandbox-open", CLI_TEXT, &sandbox_open},
                            {"--concurrency", CLI_NUMBER, &concurrency},
                            {"--until-idle", CLI_FLAG, &o.until_idle},
                            {"--max-jobs", CLI_NUMBER, &max_jobs},
                            {"--log-format", CLI_TEXT, &format},
                            {"--drained", CLI_FLAG, &o.drained},
                            {"--events", CLI_FLAG, &o.events},
                            {"--child", CLI_TEXT, &o.child},
                            {"--parent", CLI_TEXT, &parent},
                            {NULL, 0, NULL}};
    int n, rc = cli_parse("worker", argc, argv, opts, 0, 0, NULL, &n);
    if (rc != EXIT_OK) return rc;
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        fputs("zerog: worker: --log-format is text or json\n", stderr);
        return EXIT_BAD_INPUT;
    }
    o.json_logs = strcmp(format, "json") == 0;
    for (size_t i = 0; i < queues.n; i++)
        o.queues[o.nqueues++] = queues.items[i];
    o.concurrency = (int)concurrency;
    o.max_jobs = max_jobs > 1L << 30 ? 1L << 30 : (long)max_jobs;
    o.parent = parent ? strtol(parent, NULL, 10) : 0;
    cli_options mine = *co; /* with what the operator opened for job scripts */
    mine.sandbox_open = sandbox_open;
    co = &mine;
    /* checked before anything starts: a supervisor never replaces workers that cannot start */
    if (!o.child && (rc = cli_check_jobs_dir("worker", co)) != EXIT_OK) return rc;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o.child) return run_child(co, &o);
    if (o.concurrency == 1) return run_alone(co, &o);
    return run_supervised(co, &o);
}
