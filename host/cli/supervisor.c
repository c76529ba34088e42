/* supervisor: runs worker processes for zerog serve and zerog worker --concurrency N.
 *
 * Each worker is this program started again with posix_spawn (`zerog worker --child NAME
 * --parent PID ...`), so it begins with nothing of the supervisor's but stdin, stdout, stderr and
 * its two pipes (see daemon.h for the protocol): no threads, no listening socket, no store
 * connection. A worker runs --threads runs at once. A worker that dies is reaped as soon as its
 * report pipe closes; the jobs it held are released at once (each one's next run records the
 * kill) and a replacement is started, at once the first time and with a growing delay when it
 * keeps dying young. A worker that exits 0 on its own (--until-idle, --max-jobs) has finished and
 * is not replaced. The main thread alone starts, reaps and reads; the HTTP threads read the state
 * and send drain commands under `lock`. */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "json_out.h"

extern char **environ;

/* How long a worker has to acknowledge a drain: more than a store call may take (its 5 s
 * timeout), so a worker waiting on a store that is down is not taken for hung and killed */
#define DRAIN_ACK_MS 7000

/* The environment of a worker: ours, with the store and jobs directory the supervisor uses
 * (in the environment, not on the command line, where `ps` would show a store password) and
 * without the daemon's token. */
static char **child_environment(const cli_options *o)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "ZEROG_STORE=", 12) != 0 &&
            strncmp(environ[i], "ZEROG_JOBS=", 11) != 0 &&
            strncmp(environ[i], "ZEROG_AUTH_TOKEN=", 17) != 0)
            env[k++] = environ[i];
    size_t ls = strlen(o->store) + 13, lj = strlen(o->jobs) + 12;
    env[k] = malloc(ls);
    env[k + 1] = malloc(lj);
    if (env[k]) snprintf(env[k], ls, "ZEROG_STORE=%s", o->store);
    if (env[k + 1]) snprintf(env[k + 1], lj, "ZEROG_JOBS=%s", o->jobs);
    return env;
}

static void free_environment(char **env)
{
    size_t n = 0;
    while (env[n])
        n++;
    if (n >= 2) {
        free(env[n - 1]);
        free(env[n - 2]);
    }
    free(env);
}

/* A pipe whose ends are close-on-exec and numbered above the worker's fixed descriptors. */
static int high_pipe(int fds[2])
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fds[i] = fcntl(p[i], F_DUPFD_CLOEXEC, 10);
        close(p[i]);
    }
    if (fds[0] >= 0 && fds[1] >= 0) return 0;
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    return -1;
}

static int spawn_child(supervisor *s, int i)
{
    child *c = &s->children[i];
    int reports[2], commands[2];
    if (high_pipe(reports) != 0) return -1;
    if (high_pipe(commands) != 0) {
        close(reports[0]);
        close(reports[1]);
        return -1;
    }
    char parent[24], quota[24];
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    const char *argv[sizeof s->args / sizeof s->args[0] + 12];
    int k = 0;
    argv[k++] = "zerog";
    argv[k++] = "worker";
    argv[k++] = "--child";
    argv[k++] = c->name;
    argv[k++] = "--parent";
    argv[k++] = parent;
    for (int a = 0; a < s->nargs; a++)
        argv[k++] = s->args[a];
    if (s->max_jobs) {
        /* the slots share the limit; a replacement gets what its slot has not begun */
        long share = s->max_jobs / s->n + (i < s->max_jobs % s->n);
        if (share - c->begun <= 0) {
            close(reports[0]);
            close(reports[1]);
            close(commands[0]);
            close(commands[1]);
            c->finished = 1;
            return 0;
        }
        snprintf(quota, sizeof quota, "%ld", share - c->begun);
        argv[k++] = "--max-jobs";
        argv[k++] = quota;
    }
    /* under the lock from here: a drain decided meanwhile reaches this worker or its flag */
    pthread_mutex_lock(&s->lock);
    int drained = s->draining, gen = s->drain_gen;
    if (drained) argv[k++] = "--drained";
    argv[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, reports[1], CHILD_REPORT_FD);
    posix_spawn_file_actions_adddup2(&fa, commands[0], CHILD_COMMAND_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, CHILD_COMMAND_FD + 1);
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char **env = child_environment(s->opts);
    pid_t pid = 0;
    fflush(NULL);
    int rc = env ? posix_spawn(&pid, s->exe, &fa, &attr, (char *const *)argv, env) : ENOMEM;
    if (env) free_environment(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(reports[1]);
    close(commands[0]);
    if (rc != 0) {
        pthread_mutex_unlock(&s->lock);
        close(reports[0]);
        close(commands[1]);
        log_linef(s->log, ZG_LOG_ERROR, "cannot start worker %s: %s", c->name, strerror(rc));
        return -1;
    }
    fcntl(reports[0], F_SETFL, O_NONBLOCK);
    fcntl(commands[1], F_SETFL, O_NONBLOCK); /* a worker that stops reading cannot block us */
    c->pid = pid;
    c->reports = reports[0];
    c->commands = commands[1];
    c->len = 0;
    memset(c->runs, 0, 2 * (size_t)s->threads * sizeof *c->runs); /* and c->ahead */
    c->rss_kb = 0;
    c->drain_ack = drained ? gen : 0; /* it starts drained: nothing to acknowledge */
    c->started_ms = monotonic_ms();
    c->restart_at_ms = 0;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    log_linef(s->log, ZG_LOG_INFO, "started worker %s (pid %d)", c->name, (int)pid);
    return 0;
}

int supervisor_start(supervisor *s, int n)
{
    /* this program by its path (so workers are named zerog in ps), unless it was replaced */
    ssize_t len = readlink("/proc/self/exe", s->exe, sizeof s->exe - 1);
    s->exe[len > 0 ? len : 0] = '\0';
    if (len <= 0 || strstr(s->exe, " (deleted)") || access(s->exe, X_OK) != 0)
        snprintf(s->exe, sizeof s->exe, "/proc/self/exe");
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->n = n;
    if (s->threads < 1) s->threads = 1;
    s->replacing = 1;
    for (int i = 0; i < n; i++) {
        child *c = &s->children[i];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "w%d", i + 1);
        c->reports = c->commands = -1;
        if (!(c->runs = calloc(2 * (size_t)s->threads, sizeof *c->runs)) ||
            !(c->writers = calloc((size_t)s->threads, sizeof *c->writers))) {
            log_line(s->log, ZG_LOG_ERROR, "", "cannot start workers: out of memory");
            return -1;
        }
        c->ahead = c->runs + s->threads;
    }
    for (int i = 0; i < n; i++)
        if (spawn_child(s, i) != 0) return -1;
    return 0;
}

/* Sends a command line to a worker (under lock); 0 when it went. */
static int command(child *c, const char *line)
{
    if (!c->pid || c->commands < 0) return -1;
    size_t len = strlen(line);
    return write(c->commands, line, len) == (ssize_t)len ? 0 : -1;
}

/* A run (or a job claimed ahead) a worker's report named, from now on. */
static void record_run(child_run *r, const char *uuid, const char *queue, long long id,
                       long long reservation)
{
    snprintf(r->uuid, sizeof r->uuid, "%s", uuid);
    snprintf(r->queue, sizeof r->queue, "%s", queue);
    r->message_id = id;
    r->reservation = reservation;
    r->since_ms = wall_ms();
    r->busy = 1;
}

static void handle_report(supervisor *s, child *c, char *line)
{
    char uuid[ZG_UUID_LEN], queue[ZG_NAME_LEN], writer[ZG_WRITER_LEN];
    long long id, reservation;
    long jobs, rss;
    int gen, failed, slot;
    pthread_mutex_lock(&s->lock);
    if (sscanf(line, "begin %d %36s %lld %lld %127s", &slot, uuid, &id, &reservation, queue) == 5 &&
        slot >= 0 && slot < s->threads) {
        record_run(&c->runs[slot], uuid, queue, id, reservation);
        c->begun++;
        if (c->ahead[slot].busy && strcmp(c->ahead[slot].uuid, uuid) == 0) c->ahead[slot].busy = 0;
    } else if (sscanf(line, "ahead %d %36s %lld %lld %127s", &slot, uuid, &id, &reservation,
                      queue) == 5 &&
               slot >= 0 && slot < s->threads) {
        record_run(&c->ahead[slot], uuid, queue, id, reservation);
    } else if (sscanf(line, "writer %d %64s", &slot, writer) == 2 && slot >= 0 &&
               slot < s->threads) {
        snprintf(c->writers[slot], sizeof c->writers[slot], "%s", writer);
    } else if (sscanf(line, "ahead-gone %d", &slot) == 1 && slot >= 0 && slot < s->threads) {
        c->ahead[slot].busy = 0;
    } else if (sscanf(line, "end %d %ld %ld", &slot, &jobs, &rss) == 3 && slot >= 0 &&
               slot < s->threads) {
        c->runs[slot].busy = 0;
        c->jobs_done++;
        c->rss_kb = rss;
    } else if (sscanf(line, "released %d", &slot) == 1 && slot >= 0 && slot < s->threads) {
        c->runs[slot].busy = 0;
    } else if (sscanf(line, "drained %d", &gen) == 1) {
        c->drain_ack = gen;
    } else if (sscanf(line, "reloaded %d", &failed) == 1 && failed) {
        log_linef(s->log, ZG_LOG_WARNING,
                  "worker %s: %d job script(s) failed to load; their previous versions stay "
                  "in use",
                  c->name, failed);
    } else if (sscanf(line, "rss %ld", &rss) == 1) {
        c->rss_kb = rss;
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

/* Reads what a worker wrote; returns -1 at end of file (it exited). */
static int read_reports(supervisor *s, child *c)
{
    for (;;) {
        ssize_t n = read(c->reports, c->line + c->len, sizeof c->line - 1 - c->len);
        if (n == 0) return -1;
        if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->len += (size_t)n;
        c->line[c->len] = '\0';
        char *start = c->line, *nl;
        while ((nl = strchr(start, '\n'))) {
            *nl = '\0';
            handle_report(s, c, start);
            start = nl + 1;
        }
        c->len = strlen(start);
        memmove(c->line, start, c->len + 1);
        if (c->len == sizeof c->line - 1) c->len = 0; /* a line too long: not ours, dropped */
    }
}

/* What a dead worker's hosts had claimed with a claim on the way when it died (a settle claims
 * the next job in its round trip): the store gave them jobs they never said they held. */
typedef struct claims_back {
    char uuids[2 * DAEMON_MAX_THREADS][ZG_UUID_LEN];
    size_t n;
    int rc;
    char err[160];
} claims_back;

/* A dead worker's host: its writer id, and the run it said it had started (if any). */
typedef struct dead_host {
    char writer[ZG_WRITER_LEN];
    child_run started;
} dead_host;

/* Under lock, before c's runs are cleared: the hosts of c that said their writer ids, into dead
 * (c's ids cleared for its next process); returns how many. */
static int take_writers(supervisor *s, child *c, dead_host *dead)
{
    int n = 0;
    for (int t = 0; t < s->threads; t++) {
        if (!c->writers[t][0]) continue;
        memcpy(dead[n].writer, c->writers[t], ZG_WRITER_LEN);
        dead[n++].started = c->runs[t];
        c->writers[t][0] = '\0';
    }
    return n;
}

/* The store failure a release of a dead or stopped worker should not try past (into failed):
 * one seen within the store timeout before. "" when the store may be tried. */
static void recent_store_failure(const supervisor *s, char failed[160])
{
    if (s->store_failure[0] && monotonic_ms() < s->store_failed_until_ms)
        snprintf(failed, 160, "%s", s->store_failure);
}

/* The store failed a release: the workers handled next do not try it for a store timeout */
static void remember_store_failure(supervisor *s, const char *failed)
{
    snprintf(s->store_failure, sizeof s->store_failure, "%s", failed);
    s->store_failed_until_ms = monotonic_ms() + (s->store_timeout_ms ? s->store_timeout_ms : 5000);
}

/* Whether a release's rc says the store failed (not that the job went on without the worker):
 * whatever the supervisor tries next would wait out the store timeout alike. */
static int store_failed(int rc)
{
    return rc != ZG_OK && rc != ZG_ESTALE && rc != ZG_EINVAL && rc != ZG_ENOTFOUND;
}

/* Puts back the last claims of the dead hosts (in one call: one round trip for them all),
 * after their reported runs and jobs claimed ahead were released: only a claim nobody reported
 * goes back (a run a host reported never does, even when its release failed). failed: the
 * store's failure while releasing those ("": none); then nothing is tried (it would wait out the
 * store timeout again), and that is said. */
static void put_back_claims(supervisor *s, const dead_host *dead, int n, const char *failed,
                            claims_back *out)
{
    out->n = 0;
    out->rc = ZG_OK;
    out->err[0] = '\0';
    if (!n) return;
    if (failed[0]) {
        out->rc = ZG_ESTORE;
        snprintf(out->err, sizeof out->err, "not tried after the store failed: %.110s", failed);
        return;
    }
    const char *writers[DAEMON_MAX_THREADS];
    zg_run_info started[DAEMON_MAX_THREADS];
    for (int t = 0; t < n; t++) {
        const child_run *r = &dead[t].started;
        writers[t] = dead[t].writer;
        started[t] =
            (zg_run_info){1, r->busy ? r->uuid : NULL, r->queue, r->message_id, r->reservation};
    }
    size_t room = sizeof out->uuids / sizeof out->uuids[0], got = 0;
    out->rc = zg_put_back_claims(s->host, writers, started, (size_t)n, out->uuids, room, &got);
    out->n = got < room ? got : room;
    if (out->rc != ZG_OK) snprintf(out->err, sizeof out->err, "%.110s", zg_errstr(s->host));
}

static void say_claims_back(supervisor *s, const child *c, pid_t pid, const claims_back *back)
{
    for (size_t k = 0; k < back->n; k++)
        log_linef(s->log, ZG_LOG_INFO,
                  "worker %s (pid %d) died with a claim on the way for job %s: put back, no "
                  "error counted",
                  c->name, (int)pid, back->uuids[k]);
    if (back->rc != ZG_OK)
        log_linef(s->log, ZG_LOG_WARNING,
                  "worker %s (pid %d): what its last claims took could not be put back (%s); "
                  "such a job waits out its TTR",
                  c->name, (int)pid, back->err);
}

/* A worker is gone: release what it held, and start a replacement unless it finished. */
static void settle(supervisor *s, int i, int status)
{
    child *c = &s->children[i];
    if (c->reports >= 0) read_reports(s, c); /* what it said before it went */
    pthread_mutex_lock(&s->lock);
    pid_t pid = c->pid;
    child_run held[DAEMON_MAX_THREADS], ahead[DAEMON_MAX_THREADS];
    dead_host dead[DAEMON_MAX_THREADS];
    int nheld = 0, nahead = 0, ndead = take_writers(s, c, dead);
    for (int t = 0; t < s->threads; t++) {
        if (c->runs[t].busy) {
            held[nheld++] = c->runs[t];
            c->runs[t].busy = 0;
        }
        if (c->ahead[t].busy) {
            ahead[nahead++] = c->ahead[t];
            c->ahead[t].busy = 0;
        }
    }
    c->pid = 0;
    if (c->reports >= 0) close(c->reports);
    if (c->commands >= 0) close(c->commands);
    c->reports = c->commands = -1;
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    int quota_spent = s->max_jobs && c->begun >= s->max_jobs / s->n + (i < s->max_jobs % s->n);
    c->finished = (clean && s->exit_0_finishes) || quota_spent;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);

    char how[48];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof how, "exit %d", WEXITSTATUS(status));
    /* Every release first, then the lines about them: a log line can block (stderr a full pipe),
     * and what the worker held must not wait for it. Not under the lock: the store may be slow,
     * and the HTTP threads read the state. */
    int overrun = WIFEXITED(status) && WEXITSTATUS(status) == EXIT_OVERRUN;
    int rcs[2 * DAEMON_MAX_THREADS] = {0};
    char errs[2 * DAEMON_MAX_THREADS][160], failed[160] = "";
    recent_store_failure(s, failed);
    for (int k = 0; k < nheld + nahead; k++) {
        if (failed[0]) { /* the store failed: the others would each wait out its timeout too */
            rcs[k] = ZG_ESTORE;
            snprintf(errs[k], sizeof errs[k], "not tried after the store failed (%.110s)", failed);
            continue;
        }
        /* a run: released as a kill. An overrun was released by the worker's watchdog already:
         * this release then finds the lease gone, and its next run records the timeout. The
         * overrun's neighbours were put back by the worker, which said "released"; one it could
         * not put back is released here, as a kill. A job claimed for a next run that never
         * started: back to waiting as a graceful stop puts it (no error counted), not left to
         * lapse and record a death it did not have; a worker that exited 0 put those back itself
         * (and said so) */
        const child_run *r = k < nheld ? &held[k] : &ahead[k - nheld];
        rcs[k] = k >= nheld && clean
                     ? ZG_EINVAL
                     : zg_release(s->host, r->uuid, r->reservation, 0,
                                  k < nheld ? ZG_RELEASE_DIED : ZG_RELEASE_STOPPING);
        snprintf(errs[k], sizeof errs[k], "%s", rcs[k] == ZG_OK ? "" : zg_errstr(s->host));
        if (store_failed(rcs[k])) {
            snprintf(failed, sizeof failed, "%s", errs[k]);
            remember_store_failure(s, failed);
        }
    }
    /* a worker that exited 0 had no claim on the way (it put back what it held) */
    claims_back back = {.n = 0};
    if (!clean) put_back_claims(s, dead, ndead, failed, &back);
    for (int k = 0; k < nheld; k++)
        log_linef(s->log, ZG_LOG_WARNING, "worker %s (pid %d) %s (%s) running job %s: %s", c->name,
                  (int)pid, overrun ? "was ended by its watchdog" : "died", how, held[k].uuid,
                  rcs[k] == ZG_OK ? "released, its next run records the kill"
                  : overrun       ? "its next run records the timeout"
                                  : errs[k]);
    for (int k = 0; k < nahead; k++)
        if (!clean)
            log_linef(s->log, rcs[nheld + k] == ZG_OK ? ZG_LOG_INFO : ZG_LOG_WARNING,
                      "worker %s (pid %d) had claimed job %s for its next run: %s", c->name,
                      (int)pid, ahead[k].uuid,
                      rcs[nheld + k] == ZG_OK ? "put back, no error counted" : errs[nheld + k]);
    say_claims_back(s, c, pid, &back);
    if (!nheld && !c->finished) {
        log_linef(s->log, ZG_LOG_WARNING, "worker %s (pid %d) ended (%s)%s", c->name, (int)pid, how,
                  s->replacing ? ": replaced" : "");
    }
    if (!s->replacing || c->finished) return;
    /* a worker that keeps dying young (a store it cannot reach) is restarted ever more slowly */
    int64_t lived = monotonic_ms() - c->started_ms;
    c->young_deaths = lived < 1000 ? c->young_deaths + 1 : 0;
    c->restarts++;
    int64_t delay = c->young_deaths ? 250LL << (c->young_deaths < 6 ? c->young_deaths : 6) : 0;
    c->restart_at_ms = monotonic_ms() + (delay > 10000 ? 10000 : delay);
}

static void reap(supervisor *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < s->n; i++)
            if (s->children[i].pid == pid) settle(s, i, status);
    }
}

int supervisor_poll(supervisor *s, int extra_fd, int timeout_ms)
{
    struct pollfd p[DAEMON_MAX_WORKERS + 1];
    int who[DAEMON_MAX_WORKERS + 1];
    int n = 0;
    int64_t now = monotonic_ms();
    for (int i = 0; i < s->n; i++) {
        child *c = &s->children[i];
        if (!c->pid && c->restart_at_ms && c->restart_at_ms <= now && s->replacing)
            spawn_child(s, i);
        if (!c->pid && c->restart_at_ms > now && c->restart_at_ms - now < timeout_ms)
            timeout_ms = (int)(c->restart_at_ms - now);
        if (c->pid && c->reports >= 0) {
            p[n] = (struct pollfd){c->reports, POLLIN, 0};
            who[n++] = i;
        }
    }
    int extra = -1;
    if (extra_fd >= 0) {
        p[n] = (struct pollfd){extra_fd, POLLIN, 0};
        extra = n++;
    }
    int ready = poll(p, (nfds_t)n, timeout_ms);
    int extra_ready = 0;
    for (int k = 0; ready > 0 && k < n; k++) {
        if (!p[k].revents) continue;
        if (k == extra) {
            extra_ready = 1;
            continue;
        }
        child *c = &s->children[who[k]];
        if (read_reports(s, c) < 0) {
            /* end of file: the worker has exited (only it held the pipe's other end) */
            int status = 0;
            pid_t pid = c->pid;
            if (waitpid(pid, &status, 0) == pid) settle(s, who[k], status);
        }
    }
    reap(s); /* anything that exited without us seeing its pipe close */
    return extra_ready;
}

static int all_acknowledged(supervisor *s, int gen)
{
    for (int i = 0; i < s->n; i++) {
        child *c = &s->children[i];
        if (c->pid && c->drain_ack < gen) return 0; /* a replacement starts drained */
    }
    return 1;
}

int supervisor_drain(supervisor *s, int on)
{
    char line[48];
    pthread_mutex_lock(&s->lock);
    s->draining = on;
    if (!on) {
        for (int i = 0; i < s->n; i++)
            command(&s->children[i], "undrain\n");
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    int gen = ++s->drain_gen;
    snprintf(line, sizeof line, "drain %d\n", gen);
    for (int i = 0; i < s->n; i++)
        if (command(&s->children[i], line) != 0 && s->children[i].pid)
            kill(s->children[i].pid,
                 SIGKILL); /* it cannot hear us: its replacement starts drained */
    int rc = 0;
    for (int round = 0; round < 2 && !all_acknowledged(s, gen); round++) {
        int64_t until = monotonic_ms() + DRAIN_ACK_MS;
        while (!all_acknowledged(s, gen)) {
            int64_t left = until - monotonic_ms();
            if (left <= 0) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += left / 1000;
            ts.tv_nsec += (long)(left % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->changed, &s->lock, &ts);
        }
        if (round == 0)
            for (int i = 0; i < s->n; i++) {
                child *c = &s->children[i];
                if (c->pid && c->drain_ack < gen) {
                    log_linef(s->log, ZG_LOG_WARNING,
                              "worker %s did not acknowledge the drain: killed, its replacement "
                              "starts drained",
                              c->name);
                    kill(c->pid, SIGKILL);
                }
            }
    }
    if (!all_acknowledged(s, gen)) rc = -1;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void supervisor_reload(supervisor *s)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n; i++)
        command(&s->children[i], "reload\n");
    pthread_mutex_unlock(&s->lock);
}

int supervisor_alive(supervisor *s)
{
    int n = 0;
    for (int i = 0; i < s->n; i++)
        n += s->children[i].pid != 0;
    return n;
}

int supervisor_done(supervisor *s)
{
    for (int i = 0; i < s->n; i++)
        if (!s->children[i].finished) return 0;
    return 1;
}

void supervisor_stop(supervisor *s, double grace_s)
{
    s->replacing = 0;
    for (int i = 0; i < s->n; i++)
        if (s->children[i].pid) kill(s->children[i].pid, SIGTERM);
    int64_t until = grace_s < 0 ? INT64_MAX : monotonic_ms() + (int64_t)(grace_s * 1000);
    while (supervisor_alive(s) && monotonic_ms() < until)
        supervisor_poll(s, -1, 50);
    for (int i = 0; i < s->n; i++) {
        child *c = &s->children[i];
        if (!c->pid) continue;
        kill(c->pid, SIGKILL); /* past its grace: what it holds goes back for another host */
        waitpid(c->pid, NULL, 0);
        if (c->reports >= 0) read_reports(s, c);
        dead_host dead[DAEMON_MAX_THREADS];
        pthread_mutex_lock(&s->lock);
        int ndead = take_writers(s, c, dead);
        pthread_mutex_unlock(&s->lock);
        char failed[160] = "";
        recent_store_failure(s, failed); /* (one store timeout in all, not one per worker) */
        for (int t = 0; t < 2 * s->threads; t++) { /* its runs, then its jobs claimed ahead */
            if (!c->runs[t].busy) continue;
            int rc = failed[0] ? ZG_ESTORE
                               : zg_release(s->host, c->runs[t].uuid, c->runs[t].reservation, 0,
                                            ZG_RELEASE_STOPPING);
            if (store_failed(rc) && !failed[0]) {
                snprintf(failed, sizeof failed, "%s", zg_errstr(s->host));
                remember_store_failure(s, failed);
            }
            if (!store_failed(rc))
                log_linef(s->log, ZG_LOG_WARNING, "grace over: job %s released for another host",
                          c->runs[t].uuid);
            else
                log_linef(s->log, ZG_LOG_WARNING,
                          "grace over: job %s could not be released (%s); it waits out its TTR",
                          c->runs[t].uuid, failed);
        }
        claims_back back;
        put_back_claims(s, dead, ndead, failed, &back);
        say_claims_back(s, c, c->pid, &back);
        pthread_mutex_lock(&s->lock);
        c->pid = 0;
        memset(c->runs, 0, 2 * (size_t)s->threads * sizeof *c->runs); /* and c->ahead */
        if (c->reports >= 0) close(c->reports);
        if (c->commands >= 0) close(c->commands);
        c->reports = c->commands = -1;
        pthread_mutex_unlock(&s->lock);
    }
}

void supervisor_free(supervisor *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->children[i].runs); /* (c->ahead is its second half) */
        free(s->children[i].writers);
        s->children[i].runs = s->children[i].ahead = NULL;
        s->children[i].writers = NULL;
    }
}

/* One run as the JSON /workers shows. */
static void run_json(const child_run *r, FILE *b)
{
    fprintf(b, "{\"uuid\":\"%s\",\"queue\":\"%s\",\"since_ms\":%lld}", r->uuid, r->queue,
            (long long)r->since_ms);
}

void supervisor_json(supervisor *s, FILE *b)
{
    char name[256] = "", host[600];
    gethostname(name, sizeof name - 1);
    json_quote(host, sizeof host, name);
    pthread_mutex_lock(&s->lock);
    fputs("[", b);
    for (int i = 0; i < s->n; i++) {
        child *c = &s->children[i];
        const child_run *first = NULL;
        for (int t = 0; t < s->threads && !first; t++)
            if (c->runs[t].busy) first = &c->runs[t];
        const char *state = !c->pid       ? (c->finished ? "finished" : "starting")
                            : first       ? "running"
                            : s->draining ? "drained"
                                          : "idle";
        fprintf(b,
                "%s{\"worker\":\"%s\",\"host\":%s,\"pid\":%d,\"state\":\"%s\","
                "\"jobsDone\":%ld,\"rssBytes\":%ld,\"restarts\":%d,\"job\":",
                i ? "," : "", c->name, host, (int)c->pid, state, c->jobs_done, c->rss_kb * 1024,
                c->restarts);
        if (first)
            run_json(first, b);
        else
            fputs("null", b);
        fprintf(b, ",\"threads\":%d,\"jobs\":[", s->threads);
        int k = 0;
        for (int t = 0; t < s->threads; t++)
            if (c->runs[t].busy) {
                if (k++) fputs(",", b);
                run_json(&c->runs[t], b);
            }
        fputs("]}", b);
    }
    fputs("]", b);
    pthread_mutex_unlock(&s->lock);
}
