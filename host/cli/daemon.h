/* daemon: what the parts of `zerog serve` and a supervised `zerog worker` share.
 *
 * Processes: a supervisor starts each worker with posix_spawn of this very program
 * (`zerog worker --child NAME --parent PID`), with a clean descriptor set (everything but stdin,
 * stdout, stderr and two pipes is closed), so a worker holds nothing of the supervisor's: no
 * listening socket, no store connection. The worker asks for SIGKILL when its parent dies
 * (PR_SET_PDEATHSIG, checked against the parent's pid for the race at start) and also exits when
 * its command pipe reaches end of file. Worker state (the job it runs, jobs done, memory) reaches
 * the supervisor as lines on a report pipe, never through shared memory:
 *   worker -> supervisor (fd 3):  ready | begin SLOT UUID ID RESERVATION QUEUE |
 *                                 end SLOT JOBS RSS_KB | released SLOT | rss RSS_KB (each second) |
 *                                 ahead SLOT UUID ID RESERVATION QUEUE | ahead-gone SLOT |
 *                                 writer SLOT ID | drained GENERATION | reloaded FAILED
 * (SLOT: which of the worker's --threads ran it, from 0; "released SLOT": the worker put that run
 * back itself, as a graceful stop does, before it ends on an overrun; "ahead": a job its settle
 * claimed for the slot's next run, not started yet ("begin" of the same job starts it,
 * "ahead-gone" says it went back), which the supervisor puts back as a graceful stop would when
 * the worker dies; "writer": the slot's host's writer id, said before its first claim, so that
 * the supervisor of a worker that died with a claim on the way puts back what the store gave
 * it -- zg_put_back_claims)
 *   supervisor -> worker (fd 4):  drain GENERATION | undrain | reload
 * "drained G" is the acknowledgement of "drain G": the worker sends it only once it is not
 * waiting for a message, so no job starts on it after the supervisor has seen every
 * acknowledgement. */
#ifndef ZG_DAEMON_H
#define ZG_DAEMON_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "cli.h"

#define DAEMON_MAX_WORKERS 64
#define DAEMON_MAX_THREADS 64 /* a worker process's --threads */
#define CHILD_REPORT_FD    3
#define CHILD_COMMAND_FD   4

/* ---- logging (log_format.c): text lines, or one JSON object per line ---- */

typedef struct log_target {
    const char *worker; /* the name in each line: "supervisor", "w1", ... */
    int json;
} log_target;

/* A zg_log_fn: ud is a log_target. The whole line is written at once, never truncated. */
void log_line(void *ud, int level, const char *log_id, const char *msg);
void log_linef(log_target *t, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int64_t wall_ms(void);
int64_t monotonic_ms(void);

/* ---- the supervisor (supervisor.c) ---- */

/* A run in progress on one thread of a worker. */
typedef struct child_run {
    int busy; /* a run in progress: the fields below name it */
    char uuid[ZG_UUID_LEN];
    char queue[ZG_NAME_LEN];
    int64_t message_id, reservation, since_ms;
} child_run;

typedef struct child {
    char name[16];
    pid_t pid;             /* 0: none (not started yet, or finished) */
    int reports, commands; /* our ends of its pipes; -1 when closed */
    char line[1024];
    size_t len;
    child_run *runs;  /* one per thread of the worker (supervisor.threads) */
    child_run *ahead; /* one per thread: a job claimed ahead by a settle, not started */
    char (*writers)[ZG_WRITER_LEN]; /* one per thread: its host's writer id ("": not said yet) */
    long jobs_done, begun;          /* over every process of this slot */
    long rss_kb;
    int drain_ack;         /* the last drain generation it acknowledged */
    int finished;          /* exited 0 on its own (--until-idle, --max-jobs): not replaced */
    int64_t started_ms;    /* monotonic */
    int64_t restart_at_ms; /* a replacement due (monotonic), 0: none */
    int restarts;          /* replacements of this slot */
    int young_deaths;      /* in a row, each within a second of starting: slows restarts */
} child;

typedef struct supervisor {
    const cli_options *opts;
    log_target *log;
    zg_host *host;         /* releases what a dead worker held */
    char exe[4096];        /* the program workers run: this one */
    const char *args[136]; /* options every worker gets (--queue Q for up to 64 queues, ...) */
    int nargs;
    long max_jobs; /* over all workers; 0: no limit */
    int n;
    int threads; /* runs at once per worker (its --threads; 0 counts as 1) */
    child children[DAEMON_MAX_WORKERS];
    int replacing;           /* dead workers are replaced (not while stopping) */
    int exit_0_finishes;     /* a worker exiting 0 has finished (zerog worker); serve's never do */
    int draining, drain_gen; /* under lock */
    pthread_mutex_t lock;    /* guards children[] and draining against the HTTP threads */
    pthread_cond_t changed;  /* a report was read or a worker died */
    /* the store failed a release (main thread only): until store_failed_until_ms the releases
     * of the workers that die or are stopped next are not tried (each would wait out the store
     * timeout again, one worker after another); what they held waits out its TTR */
    int64_t store_failed_until_ms;
    char store_failure[160];
    int64_t store_timeout_ms; /* the timeout of host's store calls (0: the library's, 5 s) */
} supervisor;

/* Starts n workers (of s->threads runs each). Call from the main thread (a worker's parent-death
 * signal follows the thread that started it). Returns 0, or -1 with the reason logged. */
int supervisor_start(supervisor *s, int n);
/* Reads reports, reaps and replaces dead workers (releasing what they held), for up to
 * timeout_ms; returns 1 when extra_fd (may be -1) became readable. Main thread only. */
int supervisor_poll(supervisor *s, int extra_fd, int timeout_ms);
/* Drains (on = 1) or undrains every worker; a drain returns once every worker has acknowledged
 * it (a worker that does not within 2 s is killed and replaced drained). From any thread.
 * Returns 0, or -1 when the acknowledgements did not all come. */
int supervisor_drain(supervisor *s, int on);
/* Tells every worker to reload its job scripts. */
void supervisor_reload(supervisor *s);
/* Stops the workers: SIGTERM, grace_s seconds (< 0: as long as they take) to finish their runs,
 * then SIGKILL and what they held is released for another host. Main thread only. */
void supervisor_stop(supervisor *s, double grace_s);
/* Frees what supervisor_start allocated (after supervisor_stop). */
void supervisor_free(supervisor *s);
/* Workers alive (under lock or from the main thread). */
int supervisor_alive(supervisor *s);
/* Writes the workers as a JSON array: name, pid, state, job (the first run in progress, or
 * null), jobs (every run in progress), jobs done, memory. */
void supervisor_json(supervisor *s, FILE *out);
/* 1 when every worker has finished on its own (--until-idle, --max-jobs). */
int supervisor_done(supervisor *s);

/* ---- the daemon (serve.c, http_api.c) ---- */

/* Metrics from the job events: per type, counts and a run-time histogram. */
#define METRIC_TYPES   64
#define METRIC_RESULTS 16
#define METRIC_BUCKETS 9
typedef struct type_metrics {
    char type[ZG_NAME_LEN];
    long started, errors, retries;
    int results[METRIC_RESULTS];
    long finished[METRIC_RESULTS];
    long buckets[METRIC_BUCKETS]; /* cumulative at render time */
    double seconds_sum;
    long seconds_count;
} type_metrics;

#define API_HOSTS 4

/* activity.c: the per-minute counts and the latest events the dashboard shows, from the events
 * serve follows on zerog:events (every publishing host's, not only this daemon's). */
#define ACTIVITY_MINUTES 60
#define ACTIVITY_RECENT  100
typedef struct activity_minute {
    int64_t minute; /* minutes since the epoch this slot counts; another: counts nothing */
    long done, failed;
} activity_minute;
typedef struct activity_event {
    uint64_t seq;
    char *json; /* as the feed shows it */
} activity_event;
typedef struct activity {
    pthread_mutex_t lock;
    activity_minute minutes[ACTIVITY_MINUTES];
    activity_event recent[ACTIVITY_RECENT];
    uint64_t seq; /* of the latest event; 0: none yet */
} activity;
void activity_init(activity *a);
void activity_free(activity *a);
void activity_record(activity *a, const char *event_json, int64_t now_ms);
/* {"minutes": [{"at" (ms), "done", "failed"} x 60, oldest first], "seq", "events": [{"seq",
 * "event"}] (those after `after`, oldest first)} */
void activity_json(activity *a, uint64_t after, int64_t now_ms, FILE *out);

/* What the HTTP side knows of the store: kept by a monitor thread that pings it, and by every
 * request that saw it fail, so that during an outage requests answer at once. */
typedef struct store_health {
    pthread_mutex_t lock;
    int up;
    char reason[512];
} store_health;

#define HTTP_DEADLINE_TIMES 3

typedef struct http_limits {
    unsigned timeout_s;       /* an idle connection is closed after this; a request must
                                 arrive whole within HTTP_DEADLINE_TIMES times this */
    unsigned max_connections; /* in total */
    unsigned per_ip;          /* per client address */
} http_limits;

typedef struct daemon_ctx {
    const cli_options *opts;
    supervisor *sup;
    log_target *log;
    const char *auth_token;
    size_t max_body;
    http_limits limits;
    /* the HTTP handlers' hosts: a request borrows one (a host is used by one thread at a time) */
    zg_host *api[API_HOSTS];
    int api_busy[API_HOSTS];
    pthread_mutex_t api_lock;
    pthread_cond_t api_free;
    store_health store;
    zg_host *monitor; /* pings the store */
    zg_host *events;  /* follows zerog:events for the metrics */
    pthread_mutex_t metrics_lock;
    type_metrics metrics[METRIC_TYPES];
    int ntypes;
    activity activity; /* the dashboard's chart and live feed */
    atomic_int retire; /* POST /retire: stop as on SIGTERM (set and read by different threads) */
    atomic_int stopping;
} daemon_ctx;

extern const double metric_bounds[METRIC_BUCKETS];

/* http_listen.c: --listen HOST:PORT, [IPV6]:PORT or a host name. Parses it (0, or -1 with the
 * reason: a bad form or port is bad input), then opens the listening socket (0, or -1 with the
 * reason, e.g. "cannot listen on 127.0.0.1:8888: Address already in use"). */
typedef struct listen_addr {
    char host[256];
    int port;
} listen_addr;
int listen_parse(const char *text, listen_addr *out, char *err, size_t errlen);
int listen_open(const listen_addr *a, int *fd, int *ipv6, int *bad_input, char *err, size_t errlen);

/* http_deadline.c: a request (headers and body) must arrive whole within `seconds` of its
 * connection's opening or of the previous answer on it, else the connection is ended. */
typedef struct http_deadline http_deadline;
typedef struct http_watched http_watched;
http_deadline *http_deadline_start(double seconds); /* NULL when out of memory or threads */
void http_deadline_stop(http_deadline *dl);
http_watched *http_deadline_opened(http_deadline *dl, int fd); /* a connection opened */
void http_deadline_arrived(http_watched *w);  /* its request arrived whole: being handled */
void http_deadline_answered(http_watched *w); /* answered: its clock starts again */
void http_deadline_closed(http_watched *w);

/* http_api.c */
void *http_start(daemon_ctx *d, int listen_fd, int ipv6, char *err, size_t errlen);
void http_stop(void *server);
/* Borrows an API host, waiting up to wait_ms; NULL when none came free. */
zg_host *api_borrow(daemon_ctx *d, int wait_ms);
void api_return(daemon_ctx *d, zg_host *h);
/* The monitor thread's body: pings the store until d->stopping, logging outages once. */
void *store_monitor(void *arg);
/* metrics.c: one event from zerog:events; the Prometheus text (store_up: read queue depths) */
void metrics_record(daemon_ctx *d, const char *event_json);
void metrics_render(daemon_ctx *d, FILE *b, int store_up);
/* dashboard.c: GET / and /ui/<file>, the page compiled into the program (build/gen/web_assets.c):
 * 1 when url is one of its paths (*r then holds the answer), 0 when it is not. */
struct MHD_Connection;
int dashboard_serve(struct MHD_Connection *c, const char *url, const char *method, int *r);
/* Whether url is one of the dashboard's (/ and /ui/...), which need no token. */
int dashboard_path(const char *url);

#endif
