/* serve: zerog serve [--listen HOST:PORT] [--workers N] [--threads T] [--auth-token T] [--grace S]
 *                    [--log-format text|json] [--max-body BYTES] [--http-timeout S]
 *                    [--max-connections N] [--max-connections-per-ip N]
 *
 * The daemon. One supervisor process serves the HTTP API (http_api.c) and runs N worker
 * processes (supervisor.c): each is this program started again, holding nothing of the
 * supervisor's (no listening socket, no connection) and dying with it; one that dies is replaced
 * at once and the job it held released so its next run records the kill. The supervisor watches
 * the jobs directory (inotify; SIGHUP forces it) and tells the workers to reload, and aggregates
 * the events workers publish into metrics. On SIGTERM or SIGINT (or POST /retire) workers stop
 * taking jobs; running ones get --grace seconds, then what is left is released for another host,
 * and it exits 0. Signals are handled by the main thread alone (blocked in every other). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon.h"

#define API_STORE_TIMEOUT_MS        500
#define SUPERVISOR_STORE_TIMEOUT_MS 2000

static volatile sig_atomic_t terminating, hangup;

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

static void record_event(void *ud, const char *json)
{
    daemon_ctx *d = ud;
    metrics_record(d, json);
    activity_record(&d->activity, json, wall_ms());
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

/* Reloads the scripts of every API host (each when no request holds it), then the workers'. */
static void reload_all(daemon_ctx *d)
{
    int failed = 0;
    for (int i = 0; i < API_HOSTS; i++) {
        pthread_mutex_lock(&d->api_lock);
        while (d->api_busy[i])
            pthread_cond_wait(&d->api_free, &d->api_lock);
        d->api_busy[i] = 1;
        pthread_mutex_unlock(&d->api_lock);
        int f = 0;
        zg_reload(d->api[i], &f);
        if (i == 0) failed = f;
        api_return(d, d->api[i]);
    }
    supervisor_reload(d->sup);
    if (failed)
        log_linef(d->log, ZG_LOG_WARNING,
                  "job scripts reloaded; %d failed to load and keep their previous version "
                  "(see /health)",
                  failed);
    else
        log_line(d->log, ZG_LOG_INFO, "", "job scripts reloaded");
}

static zg_host *open_host(const cli_options *o, log_target *log, int load_jobs, int timeout_ms)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = log_line;
    cfg.log_ud = log;
    cfg.store_timeout_ms = timeout_ms;
    return cli_open_host(o, load_jobs, &cfg);
}

/* Raises the open-files limit as far as allowed; returns it. */
static long open_files_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
}

typedef struct serve_options {
    const char *listen, *format, *token, *sandbox_open;
    int token_from_env;
    double workers, threads, grace, max_body, timeout, max_conn, per_ip;
} serve_options;

/* The options, by the rules of every command (options.c); EXIT_OK or the exit code. */
static int parse_options(serve_options *so, int argc, char **argv)
{
    const char *token = NULL;
    const cli_opt opts[] = {{"--listen", CLI_TEXT, &so->listen},
                            {"--workers", CLI_NUMBER, &so->workers},
                            {"--threads", CLI_NUMBER, &so->threads},
                            {"--auth-token", CLI_TEXT, &token},
                            {"--grace", CLI_NUMBER, &so->grace},
                            {"--log-format", CLI_TEXT, &so->format},
                            {"--max-body", CLI_NUMBER, &so->max_body},
                            {"--http-timeout", CLI_NUMBER, &so->timeout},
                            {"--max-connections", CLI_NUMBER, &so->max_conn},
                            {"--max-connections-per-ip", CLI_NUMBER, &so->per_ip},
                            {"--sandbox-open", CLI_TEXT, &so->sandbox_open},
                            {NULL, 0, NULL}};
    int n, rc = cli_parse("serve", argc, argv, opts, 0, 0, NULL, &n);
    if (rc != EXIT_OK) return rc;
    if (strcmp(so->format, "text") != 0 && strcmp(so->format, "json") != 0) {
        fputs("zerog: serve: --log-format is text or json\n", stderr);
        return EXIT_BAD_INPUT;
    }
    if (token) {
        so->token = token;
        so->token_from_env = 0;
    }
    return EXIT_OK;
}

int cmd_serve(const cli_options *o, int argc, char **argv)
{
    serve_options so = {.listen = "127.0.0.1:8888",
                        .format = "text",
                        .token = getenv("ZEROG_AUTH_TOKEN"),
                        .token_from_env = 1,
                        .workers = (double)sysconf(_SC_NPROCESSORS_ONLN),
                        .threads = 1,
                        .grace = 30,
                        .max_body = 1 << 20,
                        .timeout = 10,
                        .max_conn = 4096,
                        .per_ip = 128};
    if (so.workers > DAEMON_MAX_WORKERS) so.workers = DAEMON_MAX_WORKERS;
    int rc = parse_options(&so, argc, argv);
    if (rc != EXIT_OK) return rc;
    if (so.token && !*so.token) { /* an unset variable, say: never a silent "no auth" */
        fprintf(stderr, "zerog: serve: %s is empty: give a token, or none to serve without auth\n",
                so.token_from_env ? "ZEROG_AUTH_TOKEN" : "--auth-token");
        return EXIT_BAD_INPUT;
    }
    cli_options mine = *o; /* with what the operator opened for job scripts */
    mine.sandbox_open = so.sandbox_open;
    o = &mine;
    if (strncmp(o->store, "mem:", 4) == 0) {
        fputs("zerog: serve runs worker processes, which need a shared store: give a Redis URL\n",
              stderr);
        return EXIT_BAD_INPUT;
    }
    /* checked before anything starts: workers that cannot load scripts would die over and over */
    if ((rc = cli_check_jobs_dir("serve", o)) != EXIT_OK) return rc;
    char err[512];
    listen_addr where;
    if (listen_parse(so.listen, &where, err, sizeof err) != 0) {
        fprintf(stderr, "zerog: serve: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    /* every thread created from here on has these blocked: the main thread alone handles them */
    sigset_t handled, previous;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &handled, &previous);

    log_target log = {"supervisor", strcmp(so.format, "json") == 0};
    supervisor sup;
    memset(&sup, 0, sizeof sup);
    sup.opts = o;
    sup.log = &log;
    if (log.json) {
        sup.args[sup.nargs++] = "--log-format";
        sup.args[sup.nargs++] = "json";
    }
    sup.args[sup.nargs++] = "--events"; /* serve's metrics follow the runs workers publish */
    char threads[16];
    snprintf(threads, sizeof threads, "%d", (int)so.threads);
    sup.threads = (int)so.threads;
    if (sup.threads > 1) {
        sup.args[sup.nargs++] = "--threads";
        sup.args[sup.nargs++] = threads;
    }
    if (o->sandbox_open) {
        sup.args[sup.nargs++] = "--sandbox-open";
        sup.args[sup.nargs++] = o->sandbox_open;
    }
    /* the supervisor's host releases dead workers' jobs; it also checks the store first */
    if (!(sup.host = open_host(o, &log, 0, SUPERVISOR_STORE_TIMEOUT_MS))) return EXIT_JOB_FAILED;
    sup.store_timeout_ms = SUPERVISOR_STORE_TIMEOUT_MS;
    long files = open_files_limit();
    int listen_fd, ipv6 = 0, bad_input;
    if (listen_open(&where, &listen_fd, &ipv6, &bad_input, err, sizeof err) != 0) {
        fprintf(stderr, "zerog: %s\n", err);
        zg_host_free(sup.host);
        return bad_input ? EXIT_BAD_INPUT : EXIT_JOB_FAILED;
    }
    if (supervisor_start(&sup, (int)so.workers) != 0) {
        close(listen_fd);
        supervisor_stop(&sup, 0);
        supervisor_free(&sup);
        zg_host_free(sup.host);
        return EXIT_JOB_FAILED;
    }

    daemon_ctx d = {.opts = o,
                    .sup = &sup,
                    .log = &log,
                    .auth_token = so.token,
                    .max_body = (size_t)so.max_body,
                    .limits = {(unsigned)so.timeout, (unsigned)so.max_conn, (unsigned)so.per_ip}};
    if (d.limits.max_connections > files - 256)
        d.limits.max_connections = files > 512 ? (unsigned)(files - 256) : 256;
    pthread_mutex_init(&d.api_lock, NULL);
    pthread_cond_init(&d.api_free, NULL);
    pthread_mutex_init(&d.metrics_lock, NULL);
    activity_init(&d.activity);
    pthread_mutex_init(&d.store.lock, NULL);
    d.store.up = 1;
    snprintf(d.store.reason, sizeof d.store.reason, "ok");
    int opened = 1;
    for (int i = 0; i < API_HOSTS && opened; i++)
        opened = (d.api[i] = open_host(o, &log, 1, API_STORE_TIMEOUT_MS)) != NULL;
    if (opened) opened = (d.monitor = open_host(o, &log, 0, API_STORE_TIMEOUT_MS)) != NULL;
    void *http = opened ? http_start(&d, listen_fd, ipv6, err, sizeof err) : NULL;
    pthread_t monitor, events;
    int monitoring = http && pthread_create(&monitor, NULL, store_monitor, &d) == 0;
    d.events = http ? cli_open_host(o, 0, NULL) : NULL;
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
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    int code = EXIT_OK;
    if (!http) {
        fprintf(stderr, "zerog: %s\n", opened ? err : "cannot open the store");
        close(listen_fd);
        code = EXIT_JOB_FAILED;
    } else {
        log_linef(&log, ZG_LOG_INFO, "serving http://%s with %d workers", so.listen, sup.n);
        while (!terminating && !d.retire) {
            int readable = supervisor_poll(&sup, watch, 100);
            if ((readable && scripts_changed(watch)) || hangup) {
                hangup = 0;
                usleep(50 * 1000);
                scripts_changed(watch); /* an editor's burst of writes is one change */
                reload_all(&d);
            }
        }
        log_line(&log, ZG_LOG_INFO, "", "stopping: running jobs get their grace period");
    }
    supervisor_stop(&sup, code == EXIT_OK ? so.grace : 0);
    d.stopping = 1;
    if (http) http_stop(http); /* closes the listening socket */
    if (monitoring) pthread_join(monitor, NULL);
    if (watch >= 0) close(watch);
    if (following) {
        zg_stop(d.events); /* zg_follow_events sees it within half a second */
        pthread_join(events, NULL);
    }
    zg_host_free(d.events);
    activity_free(&d.activity);
    zg_host_free(d.monitor);
    for (int i = 0; i < API_HOSTS; i++)
        zg_host_free(d.api[i]);
    supervisor_free(&sup);
    zg_host_free(sup.host);
    if (code == EXIT_OK) log_line(&log, ZG_LOG_INFO, "", "stopped");
    return code;
}
