/* zerog.h: the public C API of the ZeroG job host.
 *
 * A host (zg_host) loads job types written in Lua 5.4, stores job documents and queues their runs
 * on a backend (the in-process store "mem://" by default), and runs jobs with ZeroG's retry engine.
 * Every function takes the host handle; there is no global state, so several hosts may live in one
 * process. A host is not thread-safe: use each from one thread at a time.
 *
 * Errors: functions return ZG_OK (0) or a ZG_E* code; the message is then on the handle
 * (zg_errstr) until the next call. The library never exits, aborts or prints on its own: it logs
 * through the callback in zg_config, if any.
 *
 * Strings the library returns as `char **out` are malloc'd; free them with zg_free.
 *
 * Signals: like hiredis, the library writes to sockets; a program using a Redis store should
 * ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) so a connection broken by the server is an error the
 * library retries rather than the end of the process. The library's own heartbeat threads block
 * SIGPIPE. */
#ifndef ZEROG_H
#define ZEROG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZG_VERSION "0.1.0"

enum {
    ZG_OK = 0,
    ZG_EINVAL = 1,    /* bad input: invalid params or JSON, a bad argument */
    ZG_ESCRIPT = 2,   /* a job script failed to load (the message names file and line) */
    ZG_ENOTFOUND = 3, /* unknown job uuid, job type, queue message */
    ZG_ECAS = 4,      /* a compare-and-swap collision */
    ZG_ESTORE = 5,    /* the store or queue backend failed */
    ZG_ENOMEM = 6,
    ZG_ETIMEDOUT = 7, /* no message was ready in time */
    ZG_ESTALE = 8,    /* a queue reservation lapsed and may be someone else's now */
    ZG_EJOB = 9       /* job code failed outside a run (get_data, init, ...) */
};

#define ZG_ERRSTR_LEN 2048
#define ZG_NAME_LEN 128
#define ZG_UUID_LEN 37 /* 36 characters and the NUL */

typedef struct zg_host zg_host;

enum { ZG_LOG_INFO = 0, ZG_LOG_WARNING = 1, ZG_LOG_ERROR = 2 };

/* Called for each log line: job_log_* calls (log_id is the job's logId) and host messages
 * (log_id is ""). */
typedef void (*zg_log_fn)(void *ud, int level, const char *log_id, const char *msg);
/* Called when a job's completeness or result changes or it records an event (event is NULL
 * otherwise). Lets a front end draw progress while the job runs. */
typedef void (*zg_progress_fn)(void *ud, const char *uuid, double completeness, const char *event);

typedef struct zg_config {
    const char *store; /* backend URL: "mem://" (the default when NULL) */
    zg_log_fn log;
    void *log_ud;
    zg_progress_fn progress;
    void *progress_ud;
} zg_config;

/* Fills cfg with the defaults (in-memory store, no callbacks). */
void zg_config_init(zg_config *cfg);

/* Creates a host. Returns NULL only when out of memory; otherwise check zg_errcode(), as a host
 * whose backend could not be opened carries the error. Free it with zg_host_free. */
zg_host *zg_host_new(const zg_config *cfg);
void zg_host_free(zg_host *h);

/* The last call's error code and message ("" when none). The string belongs to the host. */
int zg_errcode(const zg_host *h);
const char *zg_errstr(const zg_host *h);

/* Loads (or reloads) a job type from a script file or from source text, whose errors are
 * reported as coming from `path`. On success writes the JOB_TYPE into type_out if not NULL. */
int zg_load_file(zg_host *h, const char *path, char type_out[ZG_NAME_LEN]);
int zg_load_string(zg_host *h, const char *path, const char *source, char type_out[ZG_NAME_LEN]);
/* Loads every *.lua script of a directory, in name order. A script that fails is logged (at
 * ZG_LOG_ERROR, with its file and line) and skipped; *loaded and *failed (may be NULL) count them.
 * Returns ZG_OK unless the directory cannot be read. */
int zg_load_dir(zg_host *h, const char *dir, int *loaded, int *failed);
/* Checks a script (syntax, JOB_TYPE, run, SCHEMA) without registering it. */
int zg_check_file(zg_host *h, const char *path, char type_out[ZG_NAME_LEN]);

typedef struct zg_submit_opts {
    double delay;     /* seconds before the first run; 0 = now */
    double ttr;       /* seconds a run may hold its reservation unrenewed; 0 = the type's TTR */
    int64_t priority; /* lower runs sooner */
    int has_priority; /* 0: the type's PRIORITY (default 1024) */
} zg_submit_opts;

/* Validates params (a JSON object; NULL or "" for none) against the type's SCHEMA, stores a new
 * job and queues it. Writes its uuid. Invalid params: ZG_EINVAL and nothing is stored; an unknown
 * type: ZG_ENOTFOUND. opts may be NULL. */
int zg_submit(zg_host *h, const char *job_type, const char *params_json,
              const zg_submit_opts *opts, char uuid_out[ZG_UUID_LEN]);

/* Submits n jobs of one type, their params in params_json[i], in a few batched round trips.
 * Every params is validated first: if one is invalid, ZG_EINVAL names its line (1-based) and
 * nothing is stored. Writes the uuids in order into uuids_out[0..n). */
int zg_submit_batch(zg_host *h, const char *job_type, const char *const *params_json, size_t n,
                    const zg_submit_opts *opts, char (*uuids_out)[ZG_UUID_LEN]);

/* ZeroG's killJob: records error 410 "Killed by user" and result 410 and deletes the job's queue
 * message; a host running it loses its reservation and stops it at its next binding call or
 * heartbeat. ZG_ENOTFOUND for an unknown uuid, ZG_EINVAL when the job has already finished. */
int zg_kill(zg_host *h, const char *uuid);

enum { ZG_STEP_FINISHED = 1, ZG_STEP_REQUEUED = 2, ZG_STEP_DROPPED = 3 };

typedef struct zg_step_result {
    int outcome;               /* ZG_STEP_*: finished, requeued with a delay, or dropped */
    int result_code;           /* when finished */
    double delay;              /* when requeued, in seconds */
    char uuid[ZG_UUID_LEN];
} zg_step_result;

/* Reserves one message from the named queues (all loaded types' queues when n is 0), waiting up
 * to timeout_ms, and runs its job to the end of one run. ZG_ETIMEDOUT when nothing was ready.
 * A job's own failure is not an error of this call: it is settled and reported in *out. */
int zg_step(zg_host *h, const char *const *queues, size_t n, int64_t timeout_ms,
            zg_step_result *out);

typedef enum zg_view {
    ZG_VIEW_PROGRESS,
    ZG_VIEW_INFO,
    ZG_VIEW_DATA,
    ZG_VIEW_DUMP,
    ZG_VIEW_STATUS
} zg_view;

/* Reads a job as JSON: progress() {completeness, result}, info() (adds events, errors, warnings),
 * get_data(), the whole document, or its status {completeness, result, running, errorCount,
 * events (a count), lastEvent}. ZG_ENOTFOUND for an unknown uuid. A job whose type is not loaded
 * can still be read, but for its data. Free *json with zg_free. */
int zg_read(zg_host *h, zg_view view, const char *uuid, char **json);

typedef struct zg_queue_counts {
    int64_t ready, delayed, reserved;
} zg_queue_counts;

enum { ZG_MSG_READY = 0, ZG_MSG_DELAYED = 1, ZG_MSG_RESERVED = 2 };

typedef struct zg_message_stats {
    int state; /* ZG_MSG_* */
    int64_t priority, reserves, timeouts, releases;
    int64_t time_left_ms; /* until a delayed message is ready or a reservation lapses */
} zg_message_stats;

int zg_queue_counts_get(zg_host *h, const char *queue, zg_queue_counts *out);
/* The stats of message id of a queue (a job's queueName and queueJobId). */
int zg_message_stats_get(zg_host *h, const char *queue, int64_t id, zg_message_stats *out);
/* Makes the delayed messages of a queue ready now (beanstalkd's kick); *count may be NULL. */
int zg_kick(zg_host *h, const char *queue, int64_t *count);

/* The queue names of the loaded job types, as a JSON array. Free with zg_free. */
int zg_queues(zg_host *h, char **json);

void zg_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
