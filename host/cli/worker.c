/* worker: zerog worker [--queue NAME]... [--concurrency N] [--threads T] [--until-idle]
 *                      [--max-jobs N] [--log-format text|json]
 *
 * Runs jobs from the named queues (default: the queues of every loaded job type). With
 * --concurrency N (N > 1) this process is a supervisor of N worker processes (supervisor.c): one
 * that crashes is replaced and the jobs it held released, so one crash never ends the others.
 * With --threads T each worker process runs T hosts (each its own VM, store connection and
 * heartbeat) in T threads: T runs at once in one address space, which a 2-core machine runs at
 * about half the CPU per job of T processes (README, Performance). A run that overruns what its
 * VM can stop ends its whole process, so the process first releases its other runs (they run
 * again elsewhere, with "Released - host stopping" and no error counted).
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
#include <stdatomic.h>
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
    int threads; /* hosts (runs at once) per worker process */
    int json_logs;
    const char *child; /* --child NAME */
    long parent;       /* --parent PID */
    int drained;       /* --drained: start drained (a supervisor is draining) */
    int events;        /* --events: publish run starts and ends (serve's workers: its metrics) */
} worker_options;

#define WORKER_MAX_THREADS DAEMON_MAX_THREADS

/* The run a thread has in progress (for the release of an overrun's neighbours). */
typedef struct worker_run {
    int busy;
    char uuid[ZG_UUID_LEN];
    int64_t reservation;
} worker_run;

/* What the loops (one per thread) and the thread beside them (a watcher, or the supervisor's
 * command reader) share. reserving[i] is set while loop i waits for a message (or holds one
 * claimed with its settle): a drain is acknowledged only when all are clear, so no job starts
 * after the acknowledgement. A reload is said (logged, and reported to a supervisor) once every
 * loop still looping has done it: no job starts on a script it replaced after it is said. */
typedef struct worker_ctl {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int draining, done;
    unsigned reload_gen;  /* a reload asked: each loop reloads once per generation */
    unsigned reload_said; /* the latest generation said */
    int reload_failed;    /* scripts the latest generation failed to load (the most any loop saw) */
    int report_fd;        /* to the supervisor; -1 when alone */
    long jobs;            /* runs settled */
    long rss_kb;          /* the process's resident memory as last read (rss_read_ms) */
    int64_t rss_read_ms;  /* (the report of each run's end reads it at most once a second) */
    long tickets;         /* steps taken toward --max-jobs (given back when no job ran) */
    int nthreads;         /* set before any thread starts */
    int reserving[WORKER_MAX_THREADS];
    int looping[WORKER_MAX_THREADS];       /* loop i runs (its reload counts) */
    unsigned reloaded[WORKER_MAX_THREADS]; /* the generation loop i reloaded last */
    worker_run runs[WORKER_MAX_THREADS];
    worker_run ahead[WORKER_MAX_THREADS]; /* claimed by a settle for the slot's next run */
    const cli_options *co;
    log_target log;
} worker_ctl;

/* One loop: its host and slot. */
typedef struct worker_thread {
    worker_ctl *w;
    const worker_options *o;
    zg_host *h;
    int slot;
    unsigned reload_seen;
    int failed;
} worker_thread;

/* Set by signal handlers (and the overrun path) and read by every loop's thread: atomics
 * (lock-free, so signal-safe); a volatile sig_atomic_t is only for a handler and the thread it
 * interrupted (found with a ThreadSanitizer build). */
static atomic_int stopping, hangup;
/* the worker's hosts, told at once (zg_stop is signal-safe): a run that ends after the signal
 * does not claim the next job with its settle only to put it back. SIGINT and SIGTERM reach the
 * main thread alone (start_thread; the library's heartbeat threads block every signal), the one
 * that opens and frees these hosts: signal_nhosts drops to 0 before any is freed, so on_signal
 * never stops a freed host */
static _Atomic(zg_host *) signal_hosts[WORKER_MAX_THREADS];
static atomic_int signal_nhosts;

static void stop_all_hosts(void)
{
    for (int i = 0; i < signal_nhosts; i++) {
        zg_host *h = signal_hosts[i];
        if (h) zg_stop(h);
    }
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    stop_all_hosts();
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

/* The resident memory a run's end reports, read at most once a second (w->lock held): reading
 * /proc at every end cost a worker 4% of its CPU at 1,400 jobs/s (perf). */
static long recent_rss_kb(worker_ctl *w)
{
    int64_t now = monotonic_ms();
    if (w->rss_read_ms == 0 || now - w->rss_read_ms >= 1000) {
        w->rss_kb = rss_kb();
        w->rss_read_ms = now;
    }
    return w->rss_kb;
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
    if (n <= 0 || (size_t)n >= sizeof line) return;
    /* (a signal may interrupt a write blocked on a full pipe: written again, whole, since a
     * line of at most PIPE_BUF bytes goes in at once or not at all) */
    while (write(w->report_fd, line, (size_t)n) < 0 && errno == EINTR) {
    }
    /* (another error: the supervisor is gone; the command reader sees it too and ends the
     * process) */
}

static int any_reserving(const worker_ctl *w)
{
    for (int i = 0; i < w->nthreads; i++)
        if (w->reserving[i]) return 1;
    return 0;
}

static void on_run(void *ud, const zg_run_info *run)
{
    worker_thread *t = ud;
    worker_ctl *w = t->w;
    worker_run *r = &w->runs[t->slot];
    pthread_mutex_lock(&w->lock);
    long jobs = w->jobs, rss = 0;
    if (run->begin) {
        w->reserving[t->slot] = 0;  /* the job started before any drain we acknowledge now */
        w->ahead[t->slot].busy = 0; /* (it was claimed ahead, or by this step) */
        r->busy = 1;
        snprintf(r->uuid, sizeof r->uuid, "%s", run->uuid);
        r->reservation = run->reservation;
        pthread_cond_broadcast(&w->cond);
    } else {
        r->busy = 0;
        jobs = ++w->jobs;
        if (w->report_fd >= 0) rss = recent_rss_kb(w);
    }
    pthread_mutex_unlock(&w->lock);
    if (run->begin)
        report(w, "begin %d %s %lld %lld %s\n", t->slot, run->uuid, (long long)run->message_id,
               (long long)run->reservation, run->queue);
    else
        report(w, "end %d %ld %ld\n", t->slot, jobs, rss);
}

/* A job claimed ahead by a settle (cfg.on_hold): the supervisor puts it back should this process
 * die before it starts. */
static void on_hold(void *ud, const zg_run_info *run)
{
    worker_thread *t = ud;
    worker_ctl *w = t->w;
    worker_run *a = &w->ahead[t->slot];
    pthread_mutex_lock(&w->lock);
    a->busy = run->begin;
    snprintf(a->uuid, sizeof a->uuid, "%s", run->uuid);
    a->reservation = run->reservation;
    pthread_mutex_unlock(&w->lock);
    if (!run->begin) {
        report(w, "ahead-gone %d\n", t->slot);
        return;
    }
    report(w, "ahead %d %s %lld %lld %s\n", t->slot, run->uuid, (long long)run->message_id,
           (long long)run->reservation, run->queue);
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

/* Under lock: 1 (once) when every loop still looping, one at least, has reloaded the latest
 * generation. */
static int reload_complete(worker_ctl *w)
{
    if (w->reload_said == w->reload_gen) return 0;
    int loops = 0;
    for (int i = 0; i < w->nthreads; i++) {
        if (!w->looping[i]) continue;
        if (w->reloaded[i] != w->reload_gen) return 0;
        loops++;
    }
    if (!loops) return 0;
    w->reload_said = w->reload_gen;
    return 1;
}

static void say_reloaded(worker_ctl *w, int failed)
{
    if (failed)
        log_linef(&w->log, ZG_LOG_WARNING,
                  "job scripts reloaded; %d failed to load and keep their previous version",
                  failed);
    else
        log_line(&w->log, ZG_LOG_INFO, "", "job scripts reloaded");
    report(w, "reloaded %d\n", failed);
}

/* Reloads generation gen on this loop's host; the last loop to do so says how it went. */
static void reload_scripts(worker_thread *t, unsigned gen)
{
    worker_ctl *w = t->w;
    int failed = 0;
    zg_reload(t->h, &failed);
    pthread_mutex_lock(&w->lock);
    w->reloaded[t->slot] = gen;
    if (gen == w->reload_gen && failed > w->reload_failed) w->reload_failed = failed;
    int complete = reload_complete(w);
    failed = w->reload_failed;
    pthread_mutex_unlock(&w->lock);
    if (complete) say_reloaded(w, failed);
}

/* Asks every loop to reload (under lock). */
static void ask_reload(worker_ctl *w)
{
    w->reload_gen++;
    w->reload_failed = 0;
    pthread_cond_broadcast(&w->cond);
}

/* Gives a step's ticket toward --max-jobs back when no job ran. */
static void give_back_ticket(worker_ctl *w)
{
    pthread_mutex_lock(&w->lock);
    w->tickets--;
    pthread_mutex_unlock(&w->lock);
}

/* Runs jobs until stopped (or idle, or max_jobs shared by the threads are taken); t->failed
 * when a worker alone stopped on a step's ZG_EINVAL (what waiting cannot mend: its queues, or a
 * type's SHARDS against the store's record). */
static void *work(void *arg)
{
    worker_thread *t = arg;
    worker_ctl *w = t->w;
    const worker_options *o = t->o;
    zg_host *h = t->h;
    int *reserving = &w->reserving[t->slot];
    int outage = 0;
    int64_t last_rss = 0;
    while (!stopping) {
        pthread_mutex_lock(&w->lock);
        if (w->reload_gen != t->reload_seen) {
            t->reload_seen = w->reload_gen;
            pthread_mutex_unlock(&w->lock);
            reload_scripts(t, t->reload_seen); /* the held job, if any, went back first */
            pthread_mutex_lock(&w->lock);
            *reserving = zg_holding(h);
            pthread_cond_broadcast(&w->cond);
            pthread_mutex_unlock(&w->lock);
            continue;
        }
        if (w->draining) {
            if (zg_holding(h)) { /* the job claimed with the last settle goes back first */
                pthread_mutex_unlock(&w->lock);
                zg_release_held(h);
                pthread_mutex_lock(&w->lock);
                *reserving = 0;
                pthread_cond_broadcast(&w->cond);
            } else { /* and what a claim whose reply was lost took (no store call when none:
                      * a drained loop takes no step that would look for it) */
                pthread_mutex_unlock(&w->lock);
                zg_release_held(h);
                pthread_mutex_lock(&w->lock);
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
        if (o->max_jobs && w->tickets >= o->max_jobs) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        w->tickets++;
        *reserving = 1;
        pthread_mutex_unlock(&w->lock);
        zg_step_result r;
        int rc = zg_step(h, o->nqueues ? o->queues : NULL, o->nqueues, o->until_idle ? 0 : 200, &r);
        pthread_mutex_lock(&w->lock);
        /* a job claimed with the settle is still reserved: a drain waits until it goes back */
        *reserving = zg_holding(h);
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (rc != ZG_OK && rc != ZG_ESTALE) give_back_ticket(w);
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
            t->failed = 1;
            break;
        } else if (rc != ZG_ESTALE) { /* a stale settle is logged by the host; others: outages */
            if (!outage)
                log_linef(&w->log, ZG_LOG_ERROR, "%s (said once; retrying until it passes)",
                          zg_errstr(h));
            outage = 1;
            for (int i = 0; i < 10 && !stopping; i++)
                usleep(100 * 1000);
        }
        if (t->slot == 0 && monotonic_ms() - last_rss >= 1000) { /* for the supervisor's /workers */
            last_rss = monotonic_ms();
            report(w, "rss %ld\n", rss_kb());
        }
    }
    /* a job claimed with the last settle goes back now, and what a claim whose reply was lost
     * took: in this thread, beside the others, not when every loop has ended (a look the store
     * fails waits out its timeout; zg_host_free then does not look again) */
    zg_release_held(h);
    pthread_mutex_lock(&w->lock);
    *reserving = 0;
    w->looping[t->slot] = 0; /* a reload no longer waits for this loop */
    int complete = reload_complete(w), failed = w->reload_failed;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    if (complete) say_reloaded(w, failed);
    return NULL;
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
        ask_reload(w);
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
            while (any_reserving(w)) /* until no message can come to any loop */
                pthread_cond_wait(&w->cond, &w->lock);
            pthread_mutex_unlock(&w->lock);
            report(w, "drained %d\n", gen);
            continue;
        }
        if (strcmp(line, "undrain\n") == 0) w->draining = 0;
        if (strcmp(line, "reload\n") == 0) ask_reload(w);
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    /* end of file: the supervisor is gone (its parent-death signal may not have come yet) */
    log_line(&w->log, ZG_LOG_ERROR, "", "the supervisor is gone: exiting");
    _exit(1);
}

/* An overrun ends the whole process: its other runs go back first, as a graceful stop would put
 * them (their next run counts no error), through a connection of its own (the hosts belong to
 * their threads). A run that settles meanwhile makes its release find the lease gone. */
static void release_neighbours(worker_thread *t)
{
    worker_ctl *w = t->w;
    stopping = 1;
    stop_all_hosts(); /* no loop claims another job */
    worker_run held[2 * WORKER_MAX_THREADS];
    int slots[2 * WORKER_MAX_THREADS], n = 0;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < w->nthreads; i++) {
        if (i != t->slot && w->runs[i].busy) {
            held[n] = w->runs[i];
            slots[n++] = i;
        }
        if (w->ahead[i].busy) { /* claimed for a next run that will not come */
            held[n] = w->ahead[i];
            slots[n++] = -1 - i;
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (!n) return;
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = log_line;
    cfg.log_ud = &w->log;
    zg_host *rh = cli_open_host(w->co, 0, &cfg);
    for (int k = 0; k < n && rh; k++) {
        int rc = zg_release(rh, held[k].uuid, held[k].reservation, 0, ZG_RELEASE_STOPPING);
        log_linef(&w->log, rc == ZG_OK ? ZG_LOG_INFO : ZG_LOG_WARNING, "job %s: %s", held[k].uuid,
                  rc == ZG_OK ? "released for another host (this process is ending)"
                              : zg_errstr(rh));
        if (rc == ZG_OK && slots[k] >= 0) report(w, "released %d\n", slots[k]);
        if (rc == ZG_OK && slots[k] < 0) report(w, "ahead-gone %d\n", -1 - slots[k]);
    }
    if (rh) zg_host_free(rh);
}

/* The watchdog: the run is stuck where the VM cannot stop it (its job is already released
 * and recorded as timed out). The process ends; a supervisor replaces it. */
static void on_overrun(void *ud, const char *uuid)
{
    worker_thread *t = ud;
    worker_ctl *w = t->w;
    char msg[160];
    snprintf(msg, sizeof msg,
             "job %s overran its TIMEOUT and cannot be stopped: exiting (%d) to "
             "be replaced",
             uuid, EXIT_OVERRUN);
    log_line(&w->log, ZG_LOG_ERROR, "", msg);
    if (w->nthreads > 1) release_neighbours(t);
    _exit(EXIT_OVERRUN);
}

static zg_host *open_worker_host(const cli_options *co, worker_thread *t, int events)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = log_line;
    cfg.log_ud = &t->w->log;
    cfg.on_run = on_run;
    cfg.on_run_ud = t;
    cfg.on_hold = on_hold;
    cfg.on_hold_ud = t;
    cfg.on_overrun = on_overrun;
    cfg.on_overrun_ud = t;
    cfg.publish_events = events; /* two PUBLISH round trips a job: only where someone listens */
    cfg.prefetch = 1;            /* the settle claims the next job: one round trip a job less */
    return cli_open_host(co, 1, &cfg);
}

static void ctl_init(worker_ctl *w, const cli_options *co, const worker_options *o,
                     const char *name, int report_fd)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->co = co;
    /* (1..64: what the option allows, held here for the analyzer's sake) */
    w->nthreads = o->threads < 1                    ? 1
                  : o->threads > WORKER_MAX_THREADS ? WORKER_MAX_THREADS
                                                    : o->threads;
    w->log.worker = name;
    w->log.json = o->json_logs;
    w->report_fd = report_fd;
}

/* Starts a thread with SIGINT and SIGTERM blocked: they reach the main thread alone (see
 * signal_hosts). */
static int start_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    int rc = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Opens the process's hosts, runs a loop on each (the first on this thread, the main one), and
 * frees them. ready: called once every host is open. Returns 1 when a loop failed (see work),
 * -1 when the hosts could not all be opened, else 0. */
static int run_loops(worker_ctl *w, const worker_options *o, void (*ready)(worker_ctl *))
{
    worker_thread ts[WORKER_MAX_THREADS];
    int n = w->nthreads, rc = 0;
    if (n < 1 || n > WORKER_MAX_THREADS) return -1; /* (ctl_init holds it to 1..64) */
    for (int i = 0; i < n; i++) {
        ts[i] = (worker_thread){.w = w, .o = o, .slot = i};
        if (!(ts[i].h = open_worker_host(w->co, &ts[i], o->events))) {
            signal_nhosts = 0;
            while (i-- > 0)
                zg_host_free(ts[i].h);
            return -1;
        }
        signal_hosts[i] = ts[i].h;
        signal_nhosts = i + 1;
        /* before its first claim: should this process die with a claim on the way, the
         * supervisor puts back what the store gave this host (zg_put_back_claims) */
        report(w, "writer %d %s\n", i, zg_writer(ts[i].h));
        if (stopping) zg_stop(ts[i].h);
    }
    if (ready) ready(w);
    pthread_t threads[WORKER_MAX_THREADS];
    int started[WORKER_MAX_THREADS] = {0}, nstarted = 1;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < n; i++)
        w->looping[i] = 1;
    pthread_mutex_unlock(&w->lock);
    for (int i = 1; i < n; i++) {
        started[i] = start_thread(&threads[i], work, &ts[i]) == 0;
        nstarted += started[i];
        if (started[i]) continue;
        pthread_mutex_lock(&w->lock);
        w->looping[i] = 0;
        pthread_mutex_unlock(&w->lock);
    }
    if (nstarted < n)
        log_linef(&w->log, ZG_LOG_ERROR, "cannot start %d of %d threads: running %d at once",
                  n - nstarted, n, nstarted);
    work(&ts[0]);
    for (int i = 1; i < n; i++)
        if (started[i]) pthread_join(threads[i], NULL);
    signal_nhosts = 0;
    for (int i = 0; i < n; i++) {
        rc |= ts[i].failed;
        signal_hosts[i] = NULL;
        zg_host_free(ts[i].h);
    }
    return rc;
}

static void say_ready(worker_ctl *w)
{
    report(w, "ready\n");
}

static int run_child(const cli_options *co, const worker_options *o)
{
    /* die with the supervisor; it may have died before this line */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)o->parent) _exit(1);
    fcntl(CHILD_REPORT_FD, F_SETFD, FD_CLOEXEC);
    fcntl(CHILD_COMMAND_FD, F_SETFD, FD_CLOEXEC);
    signal(SIGHUP, SIG_IGN); /* the supervisor says when to reload */
    /* static: the detached command reader may still read it while the process exits */
    static worker_ctl w;
    ctl_init(&w, co, o, o->child, CHILD_REPORT_FD);
    w.draining = o->drained;
    pthread_t reader;
    if (start_thread(&reader, read_commands, &w) != 0) return EXIT_JOB_FAILED;
    pthread_detach(reader);
    return run_loops(&w, o, say_ready) < 0 ? EXIT_JOB_FAILED : EXIT_OK;
}

static int run_alone(const cli_options *co, const worker_options *o)
{
    worker_ctl w;
    ctl_init(&w, co, o, "w1", -1);
    struct sigaction sa = {0};
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    watcher wa = {&w, co->jobs};
    pthread_t thread;
    int watching = start_thread(&thread, watch_scripts, &wa) == 0;
    int failed = run_loops(&w, o, NULL);
    pthread_mutex_lock(&w.lock);
    w.done = 1;
    pthread_mutex_unlock(&w.lock);
    if (watching) pthread_join(thread, NULL);
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
    char threads[16];
    snprintf(threads, sizeof threads, "%d", o->threads);
    s.threads = o->threads;
    if (o->threads > 1) {
        s.args[s.nargs++] = "--threads";
        s.args[s.nargs++] = threads;
    }
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
    supervisor_free(&s);
    if (watch >= 0) close(watch);
    zg_host_free(s.host);
    return rc;
}

int cmd_worker(const cli_options *co, int argc, char **argv)
{
    worker_options o = {.concurrency = 1, .threads = 1};
    cli_list queues = {0};
    double concurrency = 1, threads = 1, max_jobs = 0;
    const char *format = "text", *parent = NULL, *sandbox_open = NULL;
    const cli_opt opts[] = {{"--queue", CLI_LIST, &queues},
                            {"--sandbox-open", CLI_TEXT, &sandbox_open},
                            {"--concurrency", CLI_NUMBER, &concurrency},
                            {"--threads", CLI_NUMBER, &threads},
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
    o.threads = (int)threads;
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
