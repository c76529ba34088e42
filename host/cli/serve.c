/* serve: zerog serve [--listen HOST:PORT] [--workers N] [--auth-token T] [--grace S]
 *                    [--log-format text|json] [--max-body BYTES]
 *
 * The supervisor: forks N worker processes (each its own host, Lua VM and connections), replaces
 * one that dies at once and releases the job it held so the next run records the kill, watches
 * the jobs directory (inotify; SIGHUP forces it) and bumps a reload generation the workers follow,
 * serves the HTTP API (http_api.c), and aggregates the events workers publish into metrics. On
 * SIGTERM or SIGINT (or POST /retire) workers stop taking jobs; running ones get --grace seconds,
 * then what is left is released for another host, and it exits 0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "json_out.h"

static volatile sig_atomic_t terminating, hangup, worker_stop;

static void on_terminate(int sig)
{
    (void)sig;
    terminating = 1;
}

static void on_hangup(int sig)
{
    (void)sig;
    hangup = 1;
}

static void on_worker_stop(int sig)
{
    (void)sig;
    worker_stop = 1;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- logging: text lines, or one JSON object per line ---- */

typedef struct log_target {
    const char *worker;
    int json;
} log_target;

static void log_line(void *ud, int level, const char *log_id, const char *msg)
{
    log_target *t = ud;
    if (!t->json) {
        cli_log_line((void *)t->worker, level, log_id, msg);
        return;
    }
    static const char *const names[] = {"info", "warning", "error"};
    char when[40], qmsg[4096], qid[256];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    json_quote(qmsg, sizeof qmsg, msg);
    json_quote(qid, sizeof qid, log_id);
    fprintf(stderr,
            "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"worker\":\"%s\",\"logId\":%s,\"msg\":%s}\n",
            when, ts.tv_nsec / 1000000, names[level], t->worker, qid, qmsg);
}

/* ---- a worker process ---- */

static void on_run(void *ud, const zg_run_info *run)
{
    worker_slot *slot = ud;
    if (!run->begin) {
        slot->busy = 0;
        return;
    }
    snprintf(slot->uuid, sizeof slot->uuid, "%s", run->uuid);
    snprintf(slot->queue, sizeof slot->queue, "%s", run->queue);
    slot->message_id = run->message_id;
    slot->reservation = run->reservation;
    slot->since_ms = wall_ms();
    slot->busy = 1;
}

static void worker_main(daemon_ctx *d, int index)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_worker_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_IGN);
    char name[16];
    snprintf(name, sizeof name, "w%d", index + 1);
    log_target target = {name, d->json_logs};
    worker_slot *slot = &d->shared->slots[index];
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = log_line;
    cfg.log_ud = &target;
    cfg.on_run = on_run;
    cfg.on_run_ud = slot;
    cfg.publish_events = 1;
    zg_host *h = cli_open_host(d->opts, 1, &cfg);
    if (!h) _exit(1);
    int generation = d->shared->reload_generation;
    while (!worker_stop) {
        if (generation != d->shared->reload_generation) {
            generation = d->shared->reload_generation;
            zg_reload(h, NULL);
        }
        if (d->shared->draining) {
            usleep(100 * 1000);
            continue;
        }
        zg_step_result r;
        int rc = zg_step(h, NULL, 0, 200, &r);
        if (rc != ZG_OK && rc != ZG_ETIMEDOUT && rc != ZG_ESTALE) {
            log_line(&target, ZG_LOG_ERROR, "", zg_errstr(h));
            usleep(500 * 1000);
        }
    }
    zg_host_free(h);
    _exit(0);
}

static pid_t spawn(daemon_ctx *d, int index)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) worker_main(d, index);
    if (pid > 0) {
        d->shared->slots[index].busy = 0;
        d->shared->slots[index].pid = pid;
    }
    return pid;
}

/* ---- the supervisor ---- */

/* Releases the job a dead worker held, so the next run records the kill at once. */
static void settle_dead(daemon_ctx *d, zg_host *h, log_target *log, worker_slot *slot, int status)
{
    char msg[512];
    if (!slot->busy) return;
    int rc = zg_release(h, slot->uuid, slot->reservation, 0, ZG_RELEASE_DIED);
    snprintf(msg, sizeof msg, "worker %d died (%s %d) running job %s: %s", (int)slot->pid,
             WIFSIGNALED(status) ? "signal" : "exit",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), slot->uuid,
             rc == ZG_OK ? "released, its next run records the kill" : zg_errstr(h));
    log_line(log, ZG_LOG_WARNING, "", msg);
    slot->busy = 0;
    (void)d;
}

static int slot_of(daemon_ctx *d, pid_t pid)
{
    for (int i = 0; i < d->shared->nworkers; i++)
        if (d->shared->slots[i].pid == pid) return i;
    return -1;
}

/* Reaps dead workers: settles what they held and (unless stopping) starts replacements. */
static void reap(daemon_ctx *d, zg_host *h, log_target *log, int replace)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int i = slot_of(d, pid);
        if (i < 0) continue;
        settle_dead(d, h, log, &d->shared->slots[i], status);
        d->shared->slots[i].pid = 0;
        if (replace) spawn(d, i);
    }
}

static int alive(daemon_ctx *d)
{
    int n = 0;
    for (int i = 0; i < d->shared->nworkers; i++)
        n += d->shared->slots[i].pid != 0;
    return n;
}

static void record_event(void *ud, const char *json)
{
    metrics_record(ud, json);
}

static void *follow_events(void *arg)
{
    daemon_ctx *d = arg;
    zg_follow_events(d->events, record_event, d);
    return NULL;
}

/* Drains inotify events; 1 when a script changed, appeared or went. */
static int scripts_changed(int fd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int changed = 0;
    ssize_t n;
    while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            size_t len = e->len ? strlen(e->name) : 0;
            if (len > 4 && strcmp(e->name + len - 4, ".lua") == 0) changed = 1;
            p += sizeof *e + e->len;
        }
    }
    return changed;
}

static void shutdown_workers(daemon_ctx *d, zg_host *h, log_target *log, double grace)
{
    for (int i = 0; i < d->shared->nworkers; i++)
        if (d->shared->slots[i].pid) kill(d->shared->slots[i].pid, SIGTERM);
    int64_t until = wall_ms() + (int64_t)(grace * 1000);
    while (alive(d) && wall_ms() < until) {
        reap(d, h, log, 0);
        usleep(50 * 1000);
    }
    for (int i = 0; i < d->shared->nworkers; i++) {
        worker_slot *s = &d->shared->slots[i];
        if (!s->pid) continue;
        kill(s->pid, SIGKILL); /* past its grace: what it holds goes back for another host */
        waitpid(s->pid, NULL, 0);
        if (s->busy) {
            zg_release(h, s->uuid, s->reservation, 0, ZG_RELEASE_STOPPING);
            char msg[256];
            snprintf(msg, sizeof msg, "grace over: job %s released for another host", s->uuid);
            log_line(log, ZG_LOG_WARNING, "", msg);
        }
        s->pid = 0;
    }
}

int cmd_serve(const cli_options *o, int argc, char **argv)
{
    const char *listen = "127.0.0.1:8888", *format = "text";
    double workers = (double)sysconf(_SC_NPROCESSORS_ONLN), grace = 30, max_body = 1 << 20;
    const char *token = getenv("ZEROG_AUTH_TOKEN");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return cli_usage();
        if (strcmp(a, "--listen") == 0)
            listen = v;
        else if (strcmp(a, "--auth-token") == 0)
            token = v;
        else if (strcmp(a, "--log-format") == 0)
            format = v;
        else if (strcmp(a, "--workers") == 0) {
            if (!cli_number(a, v, &workers) || workers > DAEMON_MAX_WORKERS) return cli_usage();
        } else if (strcmp(a, "--grace") == 0) {
            if (!cli_number(a, v, &grace)) return cli_usage();
        } else if (strcmp(a, "--max-body") == 0) {
            if (!cli_number(a, v, &max_body)) return cli_usage();
        } else
            return cli_usage();
        i++;
    }
    if (strcmp(o->store, "mem://") == 0 || strncmp(o->store, "mem:", 4) == 0) {
        fputs("zerog: serve runs worker processes, which need a shared store: give a Redis URL\n",
              stderr);
        return EXIT_BAD_INPUT;
    }
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) return cli_usage();

    daemon_ctx d = {.opts = o,
                    .auth_token = token && *token ? token : NULL,
                    .max_body = (size_t)max_body,
                    .json_logs = strcmp(format, "json") == 0};
    pthread_mutex_init(&d.api_lock, NULL);
    pthread_mutex_init(&d.metrics_lock, NULL);
    log_target log = {"supervisor", d.json_logs};
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = log_line;
    cfg.log_ud = &log;
    zg_host *h = cli_open_host(o, 1, &cfg); /* settles dead workers' jobs, reloads */
    if (!h) return EXIT_JOB_FAILED;
    d.shared =
        mmap(NULL, sizeof *d.shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (d.shared == MAP_FAILED) return EXIT_JOB_FAILED;
    memset(d.shared, 0, sizeof *d.shared);
    d.shared->nworkers = workers < 1 ? 1 : (int)workers;
    for (int i = 0; i < d.shared->nworkers; i++)
        spawn(&d, i);

    zg_config_init(&cfg);
    cfg.log = log_line;
    cfg.log_ud = &log;
    d.api = cli_open_host(o, 1, &cfg);
    char err[256];
    void *http = d.api ? http_start(&d, listen, err, sizeof err) : NULL;
    if (!http) {
        fprintf(stderr, "zerog: %s\n", d.api ? err : "cannot open the store");
        shutdown_workers(&d, h, &log, 0);
        return EXIT_JOB_FAILED;
    }
    pthread_t events;
    d.events = cli_open_host(o, 0, NULL);
    int following = d.events && pthread_create(&events, NULL, follow_events, &d) == 0;
    int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watch >= 0)
        inotify_add_watch(watch, o->jobs,
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE);
    struct sigaction sa = {0};
    sa.sa_handler = on_terminate;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    char msg[256];
    snprintf(msg, sizeof msg, "serving http://%s with %d workers", listen, d.shared->nworkers);
    log_line(&log, ZG_LOG_INFO, "", msg);

    while (!terminating && !d.retire) {
        reap(&d, h, &log, 1);
        if (scripts_changed(watch) || hangup) {
            hangup = 0;
            usleep(50 * 1000);
            scripts_changed(watch); /* an editor's burst of writes is one change */
            zg_reload(h, NULL);
            pthread_mutex_lock(&d.api_lock);
            zg_reload(d.api, NULL);
            pthread_mutex_unlock(&d.api_lock);
            d.shared->reload_generation++;
            log_line(&log, ZG_LOG_INFO, "", "job scripts reloaded");
        }
        usleep(50 * 1000);
    }
    log_line(&log, ZG_LOG_INFO, "", "stopping: running jobs get their grace period");
    shutdown_workers(&d, h, &log, grace);
    http_stop(http);
    zg_stop(d.api); /* not running: harmless */
    if (watch >= 0) close(watch);
    if (following) {
        zg_stop(d.events); /* zg_follow_events sees it within half a second */
        pthread_join(events, NULL);
    }
    zg_host_free(d.events);
    zg_host_free(d.api);
    zg_host_free(h);
    log_line(&log, ZG_LOG_INFO, "", "stopped");
    return EXIT_OK;
}
