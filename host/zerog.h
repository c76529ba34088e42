/* zerog.h: the public C API of the ZeroG job host.
 *
 * A host (zg_host) loads job types written in Lua 5.4, stores job documents and queues their runs
 * on a backend (the in-process store "mem://" by default), and runs jobs with ZeroG's retry engine.
 * Every function takes the host handle; there is no global state, so several hosts may live in one
 * process, in different threads, side by side.
 *
 * Threads: a host is used from one thread at a time (any thread); zg_stop alone may be called
 * from any thread or a signal handler. Callbacks (log, progress, C functions) run on the thread
 * that called into the host, with one exception: when the watchdog fires (see on_overrun), log
 * and on_overrun are called on the host's heartbeat thread, while the calling thread is stuck in
 * job code. Each host also runs a heartbeat thread of its own. A C function a job calls may use
 * the host (zg_submit, zg_read, ...) but not run jobs on it: zg_step, zg_run and zg_reload
 * during a run of the same host are ZG_EINVAL.
 *
 * Errors: functions return ZG_OK (0) or a ZG_E* code; the message is then on the handle
 * (zg_errstr) until the next call. The library never exits, aborts or prints on its own: it logs
 * through the callback in zg_config, if any. Every call that enters the Lua VM does so through one
 * protected call, its arguments pushed inside it: running out of memory (memory_limit, or the
 * allocator) at any point is ZG_ENOMEM with a message, and nothing handed across leaks.
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

/* What the shared library exports: the functions declared here, and nothing else. */
#if defined(__GNUC__)
#define ZG_API __attribute__((visibility("default")))
#else
#define ZG_API
#endif

enum {
    ZG_OK = 0,
    ZG_EINVAL = 1,    /* bad input: invalid params or JSON, a bad argument */
    ZG_ESCRIPT = 2,   /* a job script failed to load (the message names file and line) */
    ZG_ENOTFOUND = 3, /* unknown job uuid, job type, queue message */
    ZG_ECAS = 4,      /* a compare-and-swap collision */
    ZG_ESTORE = 5,    /* the store or queue backend failed */
    ZG_ENOMEM = 6,
    ZG_ETIMEDOUT = 7, /* no message was ready in time */
    ZG_ESTALE = 8,    /* a run's lease is no longer current (lapsed, taken over, killed) */
    ZG_EJOB = 9,      /* job code failed outside a run (get_data, init, ...) */
    ZG_EEXIST = 10    /* a job of a UNIQUE type holds the same key: it was not created */
};

#define ZG_ERRSTR_LEN 2048
#define ZG_NAME_LEN   128
#define ZG_UUID_LEN   37 /* 36 characters and the NUL */
#define ZG_WRITER_LEN 65 /* a writer id (zg_writer): at most 64 characters and the NUL */

typedef struct zg_host zg_host;

enum { ZG_LOG_INFO = 0, ZG_LOG_WARNING = 1, ZG_LOG_ERROR = 2 };

/* Called for each log line: job_log_* calls (log_id is the job's logId) and host messages
 * (log_id is ""). */
typedef void (*zg_log_fn)(void *ud, int level, const char *log_id, const char *msg);
/* Called when a job's completeness or result changes or it records an event (event is NULL
 * otherwise). Lets a front end draw progress while the job runs. */
typedef void (*zg_progress_fn)(void *ud, const char *uuid, double completeness, const char *event);

/* The allocator of a host's Lua VM, with lua_Alloc's contract: nsize 0 frees ptr and returns
 * NULL; otherwise it returns a block of nsize bytes (keeping the first min(osize, nsize) bytes of
 * ptr) or NULL when it cannot. */
typedef void *(*zg_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

/* A run begins (begin = 1) or has been settled (begin = 0): which job, on which queue, under
 * which lease (message_id is the job's queueJobId, reservation its lease token). A supervisor
 * uses it to know what each worker holds, to release it with zg_release if the worker dies. */
typedef struct zg_run_info {
    int begin;
    const char *uuid;
    const char *queue;
    int64_t message_id, reservation;
} zg_run_info;
typedef void (*zg_run_fn)(void *ud, const zg_run_info *run);

typedef struct zg_config {
    const char *store;    /* backend URL: "mem://" (the default when NULL), redis://[[user]:pw@]host
                             [:port][/db] or unix:///path/to/socket[?db=N] */
    const char *jobs_dir; /* if not NULL, every *.lua script in it is loaded at creation */
    size_t memory_limit;  /* bytes the Lua VM may hold (jobs and runtime); 0: no limit. A job
                             that needs more fails its run with "not enough memory" */
    zg_alloc_fn alloc;    /* the Lua VM's allocator; NULL: realloc/free. The library's own
                             small structures and hiredis use malloc */
    void *alloc_ud;
    zg_log_fn log; /* NULL: the library logs nothing */
    void *log_ud;
    zg_progress_fn progress;
    void *progress_ud;
    zg_run_fn on_run; /* NULL: none */
    void *on_run_ud;
    int publish_events;       /* publish each run's start and end on the store's "zerog:events"
                                 channel (Redis only; see zg_follow_events) */
    int64_t store_timeout_ms; /* bounds every store call, reconnects included (Redis); 0: 5000 */
    const char *sandbox_open; /* what job scripts may reach beyond the sandbox, NULL or "" for
                                 nothing (the default): names separated by commas, of "io" (io,
                                 dofile, loadfile), "os" (all of os but exit), "debug",
                                 "package" (package, and require of any module), "bytecode"
                                 (load and string.dump of binary chunks), "gc" (every
                                 collectgarbage option). An unknown name: ZG_EINVAL. Read at
                                 zg_host_new only. Opening any of them gives job scripts ways
                                 around the sandbox (README, "Security model") */
    /* The watchdog. A run is bounded by its TIMEOUT through the VM's count hook, which nothing
     * a job does can switch off or catch. What the hook cannot interrupt (a long pattern match,
     * a C function that blocks, a finalizer that loops: no Lua instruction runs) is bounded by
     * the heartbeat thread: when the VM thread has not answered for ZG_OVERRUN_MARGIN_MS past
     * the run's TIMEOUT (or, for a type without TIMEOUT, for the lease's TTR plus that margin;
     * time spent waiting for the store does not count), the run has overrun. The heartbeat then
     * stops renewing its lease and releases the job on the store, on its own connection (it
     * runs again at once, and that run records error 500 "the run exceeded the job type's
     * TIMEOUT ..." and lets continue_running() decide, as for any timeout), and calls
     * on_overrun(ud, uuid) on the heartbeat thread. The VM thread is still stuck: a program
     * that can should end the process there (zerog's workers _exit(4) and are replaced). Without
     * on_overrun the library logs an error naming the job, and the stuck call returns
     * ZG_ESTALE if it ever ends. */
    void (*on_overrun)(void *ud, const char *uuid);
    void *on_overrun_ud;
    int prefetch; /* zg_step settles a run and claims the next job in one store step (one round
                     trip) and holds that job for the next zg_step, which must come at once:
                     a held job's lease is not renewed until it starts. zg_release_held puts
                     it back (zg_reload and zg_host_free do too); zg_run always prefetches */
    /* With prefetch: a job claimed ahead by a settle is held (on_hold with begin = 1) until the
     * next zg_step starts it (on_run with begin = 1 names the same job) or it goes back
     * (on_hold with begin = 0). A held job has not started: a supervisor that puts back what a
     * dead worker held releases it with ZG_RELEASE_STOPPING (no error counted), not as a
     * death. Called on the thread of the zg_step (or zg_release_held, zg_reload, zg_host_free).
     * NULL: none */
    zg_run_fn on_hold;
    void *on_hold_ud;
} zg_config;

/* How long past its TIMEOUT (or TTR) a run that does not answer is given before it counts as
 * overrun (see zg_config.on_overrun). */
#define ZG_OVERRUN_MARGIN_MS 2000

/* Fills cfg with the defaults (in-memory store, no limits, no callbacks). */
ZG_API void zg_config_init(zg_config *cfg);

/* Creates a host; cfg is copied (its strings too), and may be NULL for the defaults. Returns NULL
 * only when out of memory; otherwise check zg_errcode(): a host whose store cannot be reached, or
 * whose jobs_dir cannot be read, or whose VM cannot start or load its runtime under memory_limit
 * (ZG_ENOMEM), carries that error and refuses every call. A script of jobs_dir
 * that fails to load is logged and skipped. Free the host with zg_host_free. */
ZG_API zg_host *zg_host_new(const zg_config *cfg);
/* Frees the host: its VM, connections and heartbeat thread. Not while zg_run runs on it. */
ZG_API void zg_host_free(zg_host *h);

/* The last call's error code and message ("" when none). The string belongs to the host and
 * stays valid until its next call. */
ZG_API int zg_errcode(const zg_host *h);
ZG_API const char *zg_errstr(const zg_host *h);

/* Loads (or reloads) a job type from a script file or from source text, whose errors are
 * reported as coming from `path`. On success writes the JOB_TYPE into type_out if not NULL. */
ZG_API int zg_load_file(zg_host *h, const char *path, char type_out[ZG_NAME_LEN]);
ZG_API int zg_load_string(zg_host *h, const char *path, const char *source,
                          char type_out[ZG_NAME_LEN]);
/* Loads every *.lua script of a directory, in name order. A script that fails is logged (at
 * ZG_LOG_ERROR, with its file and line) and skipped; *loaded and *failed (may be NULL) count them.
 * Returns ZG_OK unless the directory cannot be read. */
ZG_API int zg_load_dir(zg_host *h, const char *dir, int *loaded, int *failed);
/* Loads every script loaded from a file (zg_load_file, zg_load_dir, jobs_dir) again, so edited
 * definitions take effect for the next run of their type. A script that now fails is logged and
 * its previous version stays in use; *failed (may be NULL) counts those. */
ZG_API int zg_reload(zg_host *h, int *failed);
/* Checks a script (syntax, JOB_TYPE, run, SCHEMA) without registering it. */
ZG_API int zg_check_file(zg_host *h, const char *path, char type_out[ZG_NAME_LEN]);

typedef struct zg_submit_opts {
    double delay;     /* seconds before the first run; 0 = now; 0 to 31,622,400 (a year), else
                         ZG_EINVAL (negative, NaN, larger) */
    double ttr;       /* seconds a run may hold its reservation unrenewed; 0 = the type's TTR;
                         else 0.1 to 31,622,400, or ZG_EINVAL */
    int64_t priority; /* lower runs sooner */
    int has_priority; /* 0: the type's PRIORITY (default 1024) */
} zg_submit_opts;

/* Validates params (a JSON object; NULL or "" for none) against the type's SCHEMA, stores a new
 * job and queues it. Writes its uuid. Invalid params: ZG_EINVAL and nothing is stored; an unknown
 * type: ZG_ENOTFOUND. job_type NULL: the params' "jobType" field names it (and is not a param).
 * opts may be NULL. A type with UNIQUE whose key a job holds: ZG_EEXIST, nothing is stored, and
 * uuid_out is that job's uuid (atomic: of concurrent submits of one key, one creates the job). */
ZG_API int zg_submit(zg_host *h, const char *job_type, const char *params_json,
                     const zg_submit_opts *opts, char uuid_out[ZG_UUID_LEN]);

/* Submits n jobs of one type, their params in params_json[i] (NULL or "" for none), in a few
 * batched round trips. Every params is validated first: if one is invalid, ZG_EINVAL names its line
 * (1-based) and nothing is stored. Writes the uuids in order into uuids_out[0..n) (for a job of
 * a UNIQUE type whose key a job held, that job's uuid: it was not created). A store that made
 * some of the jobs and refused others (Redis reaching maxmemory in the middle of a batch):
 * ZG_ESTORE saying which were not made, whose uuids_out are empty; the others' are written. */
ZG_API int zg_submit_batch(zg_host *h, const char *job_type, const char *const *params_json,
                           size_t n, const zg_submit_opts *opts, char (*uuids_out)[ZG_UUID_LEN]);

/* ---- flows ---- zg_submit_batch, plus a callback: a job of then_type (params then_params JSON,
 * NULL for none) submitted parked, which runs once every job of the batch has finished
 * (succeeded, failed or killed); its self:children() gives each one's end. The batch's jobs take
 * no UNIQUE key. then_uuid_out gets the callback's uuid. ZG_EINVAL for an empty batch. */
ZG_API int zg_submit_batch_then(zg_host *h, const char *job_type, const char *const *params_json,
                                size_t n, const zg_submit_opts *opts, const char *then_type,
                                const char *then_params, char (*uuids_out)[ZG_UUID_LEN],
                                char then_uuid_out[ZG_UUID_LEN]);
/* ---- end of flows ---- */

/* ZeroG's killJob: records error 410 "Killed by user" and result 410 and deletes the job's queue
 * message; a host running it loses its reservation and stops it at its next binding call or
 * heartbeat. A parent's unfinished children (flows) are killed with it, and a killed child
 * counts as failed for its parent. ZG_ENOTFOUND for an unknown uuid, ZG_EINVAL when the job has
 * already finished. */
ZG_API int zg_kill(zg_host *h, const char *uuid);

enum { ZG_STEP_FINISHED = 1, ZG_STEP_REQUEUED = 2, ZG_STEP_BURIED = 3 };

typedef struct zg_step_result {
    int outcome;     /* ZG_STEP_*: finished, requeued with a delay, or buried (unloadable) */
    int result_code; /* when finished */
    double delay;    /* when requeued, in seconds */
    char uuid[ZG_UUID_LEN];
} zg_step_result;

/* Claims one job of a loaded type from the named queues (all loaded types' queues when n is 0),
 * waiting up to timeout_ms, and runs it to the end of one run. ZG_ETIMEDOUT when nothing was
 * ready; ZG_ESTALE when the run's lease was lost (the job was killed or taken over: its outcome
 * is not this host's to record). A job's own failure is not an error of this call: it is
 * settled and reported in *out. A claim that failed for the store (no reply in time) may have
 * been run by it all the same: the next zg_step (or zg_release_held, zg_host_free, the end of
 * zg_run) first puts back the job it took, if any, while that claim is still its lease (no error
 * counted; logged), and fails with the store's error while the store does not answer
 * (zg_host_free does not wait for that once more when the store failed it less than a store
 * timeout ago: the job, if any, lapses after its TTR). A claim that reaches the store only after
 * that look (held up on the way) takes nothing. */
ZG_API int zg_step(zg_host *h, const char *const *queues, size_t n, int64_t timeout_ms,
                   zg_step_result *out);

/* With cfg.prefetch: whether a job claimed with the last settle waits for the next zg_step, and
 * putting it back, waiting as before its claim (a host that will not call zg_step at once: it
 * drains, reloads or stops). zg_release_held returns ZG_OK when nothing is held. It also puts
 * back what a claim whose reply was lost took (see zg_step; prefetch or not), which no zg_step
 * will look for while the host steps no more: a host that pauses calls it whatever zg_holding
 * says (no store call when there is nothing to put back; the store's error while the store does
 * not answer, and it looks again at the next call). */
ZG_API int zg_holding(const zg_host *h);
ZG_API int zg_release_held(zg_host *h);

/* Runs jobs from the named queues (all loaded types' queues when n is 0) until zg_stop is called
 * or, with until_idle, until no message is ready (delayed ones do not count). *ran (may be NULL)
 * counts the runs. A job's failure is settled and does not end the loop; a store outage is logged
 * and waited out. Returns ZG_OK when stopped or idle. */
ZG_API int zg_run(zg_host *h, const char *const *queues, size_t n, int until_idle, long *ran);
/* Asks zg_run (or the next one) to return after the run in progress. Safe to call from another
 * thread or from a signal handler: it only sets a flag. */
ZG_API void zg_stop(zg_host *h);
/* Stops the run in progress now (within a few thousand Lua instructions) and releases its job
 * to run again, with an event "Released - host stopping" and no error counted; then zg_run
 * returns as after zg_stop. Signal-safe like zg_stop. */
ZG_API void zg_interrupt(zg_host *h);

/* A C function job scripts can call. It receives the call's arguments as a JSON array and
 * returns ZG_OK with *result_json set to a JSON value in a malloc'd string (the library frees it;
 * NULL means null), or another code with a message in errbuf (raised as a Lua error in the job). */
typedef int (*zg_cfunction)(void *ctx, const char *args_json, char **result_json, char *errbuf,
                            size_t errlen);

typedef struct zg_function {
    const char *name;
    zg_cfunction fn;
} zg_function;

/* Makes `require "<module>"` give job scripts a table of the functions (the array ends with a
 * {NULL, NULL} entry), each called with ctx. Values cross as JSON: `m.area({w = 2, h = 3})`
 * calls fn with "[{\"h\":3,\"w\":2}]" and returns its decoded result. Register before loading
 * scripts that require the module at load time. The names and the array are copied. */
ZG_API int zg_register_module(zg_host *h, const char *module, const zg_function *fns, void *ctx);

typedef enum zg_view {
    ZG_VIEW_PROGRESS,
    ZG_VIEW_INFO,
    ZG_VIEW_DATA,
    ZG_VIEW_DUMP,
    ZG_VIEW_STATUS,
    ZG_VIEW_FIELDS /* the document without its events, warnings and errors */
} zg_view;

/* Reads a job as JSON: progress() {completeness, result}, info() (adds events, errors, warnings),
 * get_data(), the whole document, or its status {completeness, result, running, errorCount,
 * events (a count), lastEvent}. ZG_ENOTFOUND for an unknown uuid. A job whose type is not loaded
 * can still be read, but for its data. Free *json with zg_free. */
ZG_API int zg_read(zg_host *h, zg_view view, const char *uuid, char **json);

typedef struct zg_queue_counts {
    int64_t ready;     /* waiting to run */
    int64_t delayed;   /* waiting for their time */
    int64_t reserved;  /* running */
    int64_t buried;    /* set aside after failing to load (zg_kick puts them back) */
    int64_t unclaimed; /* ready, of a job type no live host has asked for lately */
} zg_queue_counts;

enum {
    ZG_MSG_READY = 0,
    ZG_MSG_DELAYED = 1,
    ZG_MSG_RESERVED = 2,
    ZG_MSG_BURIED = 3,
    ZG_MSG_FINISHED = 4,
    ZG_MSG_PARKED = 5 /* flows: a parent waiting for its children */
};

typedef struct zg_message_stats {
    int state; /* ZG_MSG_* */
    int64_t priority, reserves, timeouts, releases;
    int64_t time_left_ms; /* until a delayed job is ready or a running one's lease lapses */
    int64_t id, lease;    /* queueJobId, and the current lease token (0: none) */
} zg_message_stats;

/* How many jobs of a queue are in each state (all 0 for an unknown queue). */
ZG_API int zg_queue_counts_get(zg_host *h, const char *queue, zg_queue_counts *out);
/* The queue state of a job; ZG_ENOTFOUND when there is no such job. */
ZG_API int zg_job_stats(zg_host *h, const char *uuid, zg_message_stats *out);

enum {
    ZG_RELEASE_DIED = 0,    /* the worker died: the next run records the kill (an error) */
    ZG_RELEASE_STOPPING = 1 /* a graceful stop: event "Released - host stopping", no error */
};
/* Releases the run of another process (a worker that died, or was stopped past its grace) so
 * the job is ready again after delay_ms. lease: the token the run held (zg_run_info's
 * reservation), or 0 for whatever run holds it. ZG_ESTALE when that lease is no longer
 * current, ZG_EINVAL when the job has finished. */
ZG_API int zg_release(zg_host *h, const char *uuid, int64_t lease, int64_t delay_ms, int why);
/* This host's writer id (at most 64 letters, digits, '-' and '_'; valid while the host is):
 * the store keeps its last claim of each queue under it, for a minute or the job's TTR if
 * longer. */
ZG_API const char *zg_writer(const zg_host *h);
/* For a supervisor of hosts in other processes, once such hosts are dead (never for a live one:
 * the job it runs or holds would run twice). A host killed while its claim was on the way (a
 * settle claims the next job in its round trip; or a plain claim) never learnt which job the
 * store gave it: that job would wait out its TTR and record a death. Puts back the job that each
 * host of writer ids writers[0..nwriters) (their zg_writer: the hosts of one dead process at
 * once, one round trip for them all) claimed last (its newest claim of every queue's: an older
 * one is a run it began, whose settle may have failed; that lapses after its TTR), while that
 * claim is still the job's current lease: waiting again, its reserve given back, no release or
 * error counted (as zg_release_held). Release the runs the dead hosts reported first (zg_release);
 * started (may be NULL) holds nwriters entries, started[w] the run host w said it started (on_run's
 * begin: uuid, reservation; uuid NULL: none), which is never put back, even when its release
 * failed: its death must count. uuids (may be NULL) gets the first max jobs put back; *n (may be
 * NULL) how many went back in all (it may exceed max). ZG_EINVAL: a bad writer id; a store error:
 * the last one met (past a store that did not answer, nothing more is tried; *n counts what went
 * back). */
ZG_API int zg_put_back_claims(zg_host *h, const char *const *writers, const zg_run_info *started,
                              size_t nwriters, char (*uuids)[ZG_UUID_LEN], size_t max, size_t *n);
/* Whether the store answers, within store_timeout_ms: ZG_OK or ZG_ESTORE with the reason. */
ZG_API int zg_ping(zg_host *h);
/* Calls fn with each event published on "zerog:events" (JSON: {"event": "start"|"end", "uuid",
 * "jobType", "queue", "host", and at the end "outcome", "result", "seconds"}) until zg_stop.
 * Redis only (ZG_EINVAL on mem://). Uses a connection of its own. */
ZG_API int zg_follow_events(zg_host *h, void (*fn)(void *ud, const char *json), void *ud);
/* The scripts: {"loaded": [{"jobType", "path"}], "failed": [{"path", "error"}]} (a script whose
 * last load failed, the previous version of it still in use if there was one). Free with zg_free.
 */
ZG_API int zg_scripts(zg_host *h, char **json);
/* The loaded job types with their SCHEMA, sorted by type: [{"jobType", "queue", "fields":
 * [{"name", "type", "required", "default" (absent when none)}]}]. Free with zg_free. */
ZG_API int zg_types(zg_host *h, char **json);

/* Puts up to max (0: all) buried jobs of a queue back to waiting; when none is buried, makes
 * delayed ones ready now (beanstalkd's kick). *count (may be NULL) says how many moved. */
ZG_API int zg_kick(zg_host *h, const char *queue, int64_t max, int64_t *count);
/* The buried jobs of a queue as JSON: [{"uuid", "jobType", "reason", "buriedAt" (ms)}]. Free
 * with zg_free. */
ZG_API int zg_buried(zg_host *h, const char *queue, char **json);

/* ---- Finding and steering jobs ----
 * Every job is in an index by queue, job type and state, kept by the same atomic step of the
 * store that changes the job (submit, claim, settle, kill, bury, retry, delete, retention), so
 * the index never disagrees with the documents. Entries leave with their job. */

/* The states a job is found by. A finished job is succeeded (result 2xx) or failed (any other
 * result, a kill included). */
enum {
    ZG_JOBS_WAITING = 0,
    ZG_JOBS_DELAYED = 1,
    ZG_JOBS_RUNNING = 2,
    ZG_JOBS_SUCCEEDED = 3,
    ZG_JOBS_FAILED = 4,
    ZG_JOBS_BURIED = 5,
    ZG_JOBS_PARKED = 6, /* a parent waiting for its children (flows) */
    ZG_JOBS_NSTATES = 7
};
/* "waiting", "delayed", "running", "succeeded", "failed", "buried"; NULL out of range. */
ZG_API const char *zg_jobs_state_name(int state);
/* The ZG_JOBS_* of a name, or -1. */
ZG_API int zg_jobs_state_parse(const char *name);

#define ZG_LIST_DEFAULT_LIMIT 50
#define ZG_LIST_MAX_LIMIT     1000

typedef struct zg_list_filter {
    unsigned states;      /* bits 1u << ZG_JOBS_*; 0: every state */
    const char *job_type; /* NULL: every type */
    const char *queue;    /* NULL: every queue the store knows */
    int64_t since_ms;     /* only jobs that entered their state at or after this (Unix ms); 0 */
    const char *cursor;   /* NULL: from the newest; else the `next` of the previous page */
    size_t limit;         /* 0: ZG_LIST_DEFAULT_LIMIT; more than ZG_LIST_MAX_LIMIT: ZG_EINVAL */
} zg_list_filter;

typedef struct zg_job_summary {
    char uuid[ZG_UUID_LEN];
    char job_type[ZG_NAME_LEN];
    char queue[ZG_NAME_LEN];
    int state;              /* ZG_JOBS_* */
    int64_t state_since_ms; /* when it entered its state (Unix ms) */
    double completeness;
    int64_t result_code; /* -1 while it has none */
    int64_t error_count;
    char *created_at, *updated_at; /* ISO 8601 text, or NULL */
    char *last_error;              /* the message of the last error recorded, or NULL */
} zg_job_summary;

typedef struct zg_job_page {
    zg_job_summary *jobs;
    size_t n;
    char *next; /* the cursor of the next page; NULL when this one is the last */
} zg_job_page;

/* One page of the jobs that match, newest first (by when they entered their state). Paging with
 * `next` lists no job twice and skips none that stayed in its state, whatever is submitted in
 * between. Free the page with zg_job_page_free. */
ZG_API int zg_list(zg_host *h, const zg_list_filter *f, zg_job_page *out);
ZG_API void zg_job_page_free(zg_job_page *page);

/* Puts a failed job back to waiting, to run again: its errorCount is kept, its result cleared,
 * an event "Retried by hand" recorded, its retention lifted. ZG_ENOTFOUND for an unknown uuid,
 * ZG_EINVAL when it is not failed, ZG_EEXIST (nothing changed) when its type is UNIQUE and
 * another job holds its key (zg_errstr names it); retried, the job holds its key again. */
ZG_API int zg_retry(zg_host *h, const char *uuid);
/* Deletes a job, its document and its queue message, whatever its state (a run in progress
 * loses its lease: its writes are refused). ZG_ENOTFOUND for an unknown uuid. */
ZG_API int zg_delete(zg_host *h, const char *uuid);
/* Deletes the finished jobs that match: f->states only ZG_JOBS_SUCCEEDED and/or
 * ZG_JOBS_FAILED (0: both), f->job_type and f->queue as for zg_list, finished more than
 * older_than_ms ago (0: any). Works in batches of at most 100 jobs per atomic step, so the
 * store stays responsive. *deleted (may be NULL) counts them. */
ZG_API int zg_purge(zg_host *h, const zg_list_filter *f, int64_t older_than_ms, int64_t *deleted);

typedef struct zg_type_counts {
    char queue[ZG_NAME_LEN];
    char job_type[ZG_NAME_LEN];
    int64_t count[ZG_JOBS_NSTATES]; /* by ZG_JOBS_* */
} zg_type_counts;

/* How many jobs of each type are in each state, per queue (queue NULL: every queue the store
 * knows). Free *rows with zg_free. */
ZG_API int zg_stats_by_type(zg_host *h, const char *queue, zg_type_counts **rows, size_t *n);

/* Sharded queues (a job type's SHARDS = n): the number of shards the store records for queue (1:
 * not sharded; a shard's own name "Q~i" also answers 1). Calls that name a queue Q (counts,
 * kick, buried, list, purge, stats) act on all its shards Q~0 .. Q~(n-1). */
ZG_API int zg_queue_shards(zg_host *h, const char *queue, int *n);
/* Changes the shard count the store records for queue to n (1 to 64), while the queue holds no
 * job (else ZG_EINVAL, saying how many it holds). The first host that declares a SHARDS records
 * it; after that a host whose SHARDS differs is refused, even for an empty queue: this is how
 * the count changes. Hosts cache the count: restart every host after it. */
ZG_API int zg_queue_shards_set(zg_host *h, const char *queue, int n);

/* The queue names of the loaded job types, as a JSON array. Free with zg_free. */
ZG_API int zg_queues(zg_host *h, char **json);

/* ---- Repeatable jobs (schedules) ----
 * A schedule makes a job of its type at every tick of its rule: a 5-field cron expression, an
 * @name (@yearly @annually @monthly @weekly @daily @midnight @hourly) or "@every:N" (N seconds,
 * or Ns, Nm, Nh), in a time zone (cron rules only; "" is UTC). A type's REPEAT is a schedule with
 * id "type:<jobType>", written by every host that loads the type; others are added here (ad hoc).
 * Schedules live in the store with their queue; every host that claims jobs of that queue fires
 * them between jobs, and each tick is taken in one atomic step of the store: one job per tick
 * whatever the number of hosts. The job carries the tick as its field scheduledFor (Unix ms). */
enum {
    ZG_CATCH_UP_ONCE = 0, /* ticks missed while no host fired: one job, then on schedule */
    ZG_CATCH_UP_SKIP = 1  /* ticks missed: no job, the schedule goes on from the next tick */
};

#define ZG_RULE_LEN 128

typedef struct zg_schedule {
    char id[ZG_NAME_LEN + 8]; /* "type:<jobType>" for a REPEAT; a uuid for one added here */
    char job_type[ZG_NAME_LEN];
    char queue[ZG_NAME_LEN]; /* where its jobs go ("": the type's QUEUE_NAME, when adding) */
    char rule[ZG_RULE_LEN];
    char tz[ZG_NAME_LEN]; /* "" for UTC */
    char *params;         /* the jobs' params (a JSON object), or NULL for none */
    int catch_up;         /* ZG_CATCH_UP_* */
    int64_t next_ms;      /* the next tick (Unix ms) */
    int64_t last_ms;      /* the last tick that made a job, or 0 */
} zg_schedule;

/* Adds a schedule of a loaded type (def->id ignored; the rule, tz and params are checked: the
 * params against the type's SCHEMA) and writes its id. ZG_EINVAL (a bad rule, zone or params),
 * ZG_ENOTFOUND (the type is not loaded). */
ZG_API int zg_schedule_add(zg_host *h, const zg_schedule *def, char id_out[ZG_NAME_LEN + 8]);
/* Every schedule of the queues the store knows (and of the loaded types' queues), in a malloc'd
 * array sorted by queue and id; free it with zg_schedules_free. */
ZG_API int zg_schedule_list(zg_host *h, zg_schedule **out, size_t *n);
ZG_API void zg_schedules_free(zg_schedule *s, size_t n);
/* Removes a schedule by id; ZG_ENOTFOUND when there is none. A type's REPEAT removed this way is
 * written again within seconds by a host that loads the type. */
ZG_API int zg_schedule_remove(zg_host *h, const char *id);
/* Fires the due ticks of the schedules of the loaded types' queues, as zg_step does between two
 * claims (at most once a second, sooner when a tick is due; a call before that does nothing):
 * for a thread that runs no jobs, so that ticks are made on time while every worker is busy with
 * long jobs (zerog serve's supervisor calls it). */
ZG_API int zg_fire_schedules(zg_host *h);

/* Frees a string the library returned. */
ZG_API void zg_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
