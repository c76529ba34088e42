/* daemon: what the parts of `zerog serve` share. The supervisor process forks worker processes;
 * they share one table in shared memory (each worker's pid and the job it holds, the drain flag,
 * the reload generation). The supervisor serves HTTP, replaces dead workers, settles what they
 * held, watches the jobs directory and aggregates the job events into metrics. */
#ifndef ZG_DAEMON_H
#define ZG_DAEMON_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"

#define DAEMON_MAX_WORKERS 64

typedef struct worker_slot {
    volatile pid_t pid;
    volatile int busy; /* a run in progress: the fields below name it */
    char uuid[ZG_UUID_LEN];
    char queue[ZG_NAME_LEN];
    int64_t message_id, reservation;
    int64_t since_ms; /* wall clock, when the run began */
} worker_slot;

typedef struct shared_state {
    volatile int draining;
    volatile int reload_generation;
    int nworkers;
    worker_slot slots[DAEMON_MAX_WORKERS];
} shared_state;

/* Metrics from the job events: per type, counts and a run-time histogram. */
#define METRIC_TYPES 64
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

typedef struct daemon_ctx {
    const cli_options *opts;
    shared_state *shared;
    const char *auth_token;
    size_t max_body;
    int json_logs;
    zg_host *api;    /* the HTTP handlers' host (one thread: MHD's) */
    zg_host *events; /* follows zerog:events for the metrics */
    pthread_mutex_t api_lock;
    pthread_mutex_t metrics_lock;
    type_metrics metrics[METRIC_TYPES];
    int ntypes;
    volatile sig_atomic_t retire; /* POST /retire: stop as on SIGTERM */
} daemon_ctx;

extern const double metric_bounds[METRIC_BUCKETS];

/* http_api.c */
void *http_start(daemon_ctx *d, const char *listen, char *err, size_t errlen);
void http_stop(void *server);
/* metrics: one event from zerog:events */
void metrics_record(daemon_ctx *d, const char *event_json);

#endif
