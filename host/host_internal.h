/* host_internal: the host handle's layout, shared by the files that implement the public API. */
#ifndef ZG_HOST_INTERNAL_H
#define ZG_HOST_INTERNAL_H

#include <lua.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>

#include "error.h"
#include "heartbeat.h"
#include "lifecycle.h"
#include "run_writes.h"
#include "zerog.h"

/* A C function registered with zg_register_module. */
typedef struct zg_registered_fn {
    zg_cfunction fn;
    void *ctx;
} zg_registered_fn;

/* The run in progress: which job and lease it writes to. Held here, out of the job's reach:
 * nothing a job sets on `self` redirects the engine's writes. */
typedef struct zg_run_state {
    int active;
    int job_done; /* the job's run() has returned: the engine settles; an interrupt waits */
    zg_lease lease;
    int has_instance;     /* registry[&run] holds the run's job instance (the table the engine
                             fills); only writes through that very table are the run's */
    zg_run_writes writes; /* its acknowledged writes, for a store that loses them */
} zg_run_state;

/* put_back.c: what a claim whose reply never came may have taken in this host's name (the store
 * ran it, and then did not answer in time): looked for, and put back, before the host claims
 * again. */
typedef struct zg_lost_claim {
    int pending;
    int64_t seq;   /* its first sequence number (it used up to ZG_CLAIM_SEQS from there) */
    char **queues; /* the queues it may have claimed from */
    size_t nqueues;
    int64_t failed_ms; /* (monotonic) when the store last failed it (the claim, or a look) */
} zg_lost_claim;

struct zg_host {
    zg_config cfg;
    char *store_url;
    char *jobs_dir;
    size_t vm_bytes;         /* what the Lua VM holds now (for memory_limit) */
    size_t run_mem_cap;      /* vm_bytes a run may reach (MEMORY_LIMIT); 0: none */
    size_t run_mem_limit;    /* the MEMORY_LIMIT itself, for messages */
    void *refused_ptr;       /* the block whose growth the allocator refused last, */
    size_t refused_size;     /* and to what size (0: none): refused again after Lua's emergency
                                collection, the run is out of memory */
    size_t vm_after_gc;      /* vm_bytes after the last collection before a run */
    size_t refused_growth;   /* the growth refused, checked again after a collection */
    int64_t run_deadline_ms; /* when the run exceeds its TIMEOUT; 0: none */
    double run_timeout_s;
    int run_in_job; /* job code runs under core.run_protected: a tripped limit is sticky */
    int stop_kind;  /* ZG_STOP_*: the limit that tripped, sticky until run_protected returns */
    lua_State *chunk_thread; /* the coroutine running a script's main chunk (chunk_hook) */
    int chunk_line;          /* the line of its main return statement */
    jmp_buf *panic_jump;    /* where the last-resort panic handler returns to (zg_runtime_invoke) */
    atomic_int stopping;    /* zg_stop: return after the run in progress (signal-safe: lock-free) */
    atomic_int interrupted; /* zg_interrupt: release the run in progress now */
    zg_registered_fn *fns;
    size_t nfns;
    char **dirs; /* the directories scripts were loaded from, rescanned by zg_reload */
    size_t ndirs;
    zg_store *store;
    char writer[40];      /* this host's writer id: its writes are applied once each */
    int64_t seq;          /* the writer's sequence number */
    uint64_t claims;      /* claims asked for: where their tie-break starts (zg_claim_req) */
    int64_t announced_ms; /* when claims last announced this host's types */
    int outage;           /* the last store call failed: said once, and its end once */
    lua_State *L;
    int api_ref; /* registry reference to the zerog.api table */
    zg_run_state run;
    zg_claim held;      /* cfg.prefetch: a job claimed with the last settle, for the next zg_step
                           (held.lease.token 0: none) */
    int vm_broken;      /* the VM panicked: never used (nor closed) again */
    int64_t held_at_ms; /* when it was claimed (monotonic): an old one is renewed before it runs */
    int64_t looked_at_all_ms; /* (monotonic) the last claim from the store (not a settle's) */
    /* flows: when this host last re-sent the notices of children's ends a dead host left */
    int64_t flows_redelivered_ms;
    zg_lost_claim lost_claim; /* a claim whose reply was lost, to look for */
    zg_heartbeat heartbeat;   /* renews the running job's lease */
    zg_error err;
    /* repeatable jobs (schedule.c) */
    int64_t repeats_gen;         /* the registry's generation whose REPEATs were written */
    int64_t schedule_look_ms;    /* (monotonic) when to look for due schedules next */
    int64_t schedule_restore_ms; /* (monotonic) when to write missing REPEATs again next */
};

/* Writes a host message (not a job's) to the configured log, if any. */
/* Whether h can serve a call (its VM and heartbeat started): clears its error, or sets it. */
int zg_host_usable(zg_host *h);
void zg_host_log(zg_host *h, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* put_back.c: a claim of req's queues (alone, or with a settle) from sequence number seq failed
 * for the store: the store may have run it all the same. */
void zg_host_claim_unanswered(zg_host *h, const zg_claim_req *req, int64_t seq);
/* Puts back what such a claim took, if it took anything: ZG_OK when nothing is left to look
 * for (a failure other than the store's is logged, and given up), else the store's error.
 * Ending (zg_host_free), a host does not look while the store failed it less than a store
 * timeout ago (each of a process's hosts would wait that long in turn): it says the job, if
 * any, waits out its TTR. */
int zg_host_put_back_lost_claim(zg_host *h, int ending, zg_error *err);
void zg_lost_claim_clear(zg_lost_claim *l);

/* shards.c: the store queues a queue name covers -- Q~0 .. Q~(n-1) for a queue of n shards,
 * else the name itself -- malloc'd (free with zg_host_queue_names_free). */
int zg_host_queue_names(zg_host *h, const char *queue, char ***names, size_t *n);
void zg_host_queue_names_free(char **names, size_t n);
/* Checks a type's SHARDS n against the store's record of queue's shard count, recording it when
 * there is none: ZG_OK when the store records n (now or before); else ZG_EINVAL saying why. */
int zg_host_declare_shards(zg_host *h, const char *queue, int n);

/* How long after a claim that looked at every queue of a step the settles may claim the next job
 * of their own queue (cfg.prefetch): a store's sticky queue lasts as long (store_redis.c). */
#define PREFETCH_SAME_QUEUE_MS 100

/* After a run's call that the store answered with *rc: when that is ZG_ELOSTWRITES (the store
 * lacks writes of the run it had acknowledged: run_writes.h), writes them again and returns 1,
 * the call to be sent again (the attempt-th time: *attempt counts, given up after 3, and when
 * the writes cannot be given back), else 0 with *rc and *err what to end with (ZG_ESTALE: the
 * run is given up, its job runs again once its lease lapses). 0 for any other *rc. */
int zg_host_resend_after_giving_back(zg_host *h, int *rc, int *attempt, zg_error *err);

/* The next sequence number of this host's writes. */
static inline int64_t zg_host_next_seq(zg_host *h)
{
    return ++h->seq;
}

/* runtime.c: the Lua VM of a host. */
int zg_runtime_open(zg_host *h);
void zg_runtime_close(zg_host *h);

/* Pushes the arguments of an entry into Lua; returns how many. Runs inside the protected call:
 * it may raise (out of memory), which makes the entry fail with ZG_ENOMEM. */
typedef int (*zg_push_fn)(lua_State *L, void *ud);
/* Reads the nres results (the top of the stack) into C; returns ZG_OK or a code set with
 * zg_fail(&h->err, ...). Runs inside the protected call too (it may raise, and may call the
 * store: the Lua values it reads stay alive until it returns). */
typedef int (*zg_collect_fn)(lua_State *L, zg_host *h, void *ud);
/* The one entry from C into Lua: calls zerog.api[fn] with the arguments push pushes, then
 * collect, all inside one protected call. Returns ZG_OK, or the code and message (on h->err)
 * of a returned (nil, kind, msg), a raised error or a failed collect. Leaves the stack as it
 * found it. */
int zg_runtime_invoke(zg_host *h, const char *fn, zg_push_fn push, zg_collect_fn collect, void *ud,
                      int nres);

/* How many VM instructions pass between two calls of the run hook while nothing has tripped. */
#define ZG_HOOK_COUNT 1000

/* The limits that stop a run (h->stop_kind). */
enum {
    ZG_STOP_NONE = 0,
    ZG_STOP_TIMEOUT = 1,
    ZG_STOP_MEMORY = 2,      /* the job type's MEMORY_LIMIT */
    ZG_STOP_HOST_MEMORY = 3, /* the host's memory_limit */
    ZG_STOP_LOST = 4,        /* the lease is lost (killed, or taken over) */
    ZG_STOP_INTERRUPT = 5    /* zg_interrupt */
};
/* The message of a stop, written into buf. */
const char *zg_stop_message(zg_host *h, int kind, char *buf, size_t size);
/* core.run_protected (see runtime.c); its upvalue is the host. */
int zg_core_run_protected(lua_State *L);
int zg_core_run_engine(lua_State *L);
/* core.chunk_hook(co) and core.chunk_line() (see runtime.c). */
int zg_core_chunk_hook(lua_State *L);
int zg_core_chunk_line(lua_State *L);

#define ZG_EVENTS_CHANNEL "zerog:events"

/* The message of a run whose lease is lost (raised as a Lua error; maps to ZG_ESTALE). */
#define ZG_LOST_PREFIX "zerog: LeaseLost: "
/* The message of a store failure raised in Lua (maps to ZG_ESTORE, shown without traceback). */
#define ZG_STORE_PREFIX "zerog: StoreError: "

/* runtime.c: the count hook of a run, installed by the VM's own thread when a run starts: stops
 * a run whose lease is lost, whose TIMEOUT passed, or that is interrupted. */
void zg_run_hook(lua_State *L, lua_Debug *ar);
/* Raises the error of a run past its TIMEOUT. */
int zg_raise_timeout(lua_State *L, zg_host *h);
/* Why the run in progress is being stopped (a message), or NULL. */
const char *zg_run_stop_reason(zg_host *h, char *buf, size_t size);

/* schedule.c: fires the due ticks of the schedules of the queues a step claims from (all
 * loaded types' queues when n is 0), at most once a second or when a tick comes due. */
void zg_schedules_fire(zg_host *h, const char *const *queues, size_t n);
static inline int zg_schedules_due(const zg_host *h, int64_t now_ms)
{
    return now_ms >= h->schedule_look_ms;
}

/* bindings.c: registers the zerog.core module (the C functions the Lua side calls). */
void zg_bindings_open(zg_host *h);

#endif
