/* host_internal: the host handle's layout, shared by the files that implement the public API. */
#ifndef ZG_HOST_INTERNAL_H
#define ZG_HOST_INTERNAL_H

#include <lua.h>
#include <signal.h>

#include "error.h"
#include "heartbeat.h"
#include "queue.h"
#include "store.h"
#include "zerog.h"

/* A C function registered with zg_register_module. */
typedef struct zg_registered_fn {
    zg_cfunction fn;
    void *ctx;
} zg_registered_fn;

struct zg_host {
    zg_config cfg;
    char *store_url;
    char *jobs_dir;
    size_t vm_bytes;    /* what the Lua VM holds now (for memory_limit) */
    size_t run_mem_cap; /* vm_bytes a run may reach (MEMORY_LIMIT); 0: none */
    int run_mem_exceeded;
    int64_t run_deadline_ms; /* when the run exceeds its TIMEOUT; 0: none */
    double run_timeout_s;
    int run_timed_out;
    volatile sig_atomic_t stopping; /* zg_stop */
    zg_registered_fn *fns;
    size_t nfns;
    char **dirs; /* the directories scripts were loaded from, rescanned by zg_reload */
    size_t ndirs;
    zg_store *store;
    zg_queue *queue;
    lua_State *L;
    int api_ref;            /* registry reference to the zerog.api table */
    zg_heartbeat heartbeat; /* renews the running job's reservation */
    zg_error err;
};

/* Writes a host message (not a job's) to the configured log, if any. */
void zg_host_log(zg_host *h, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* runtime.c: the Lua VM of a host. */
int zg_runtime_open(zg_host *h);
void zg_runtime_close(zg_host *h);
/* Calls zerog.api[fn] with the nargs values on the stack. On success leaves nres results and
 * returns ZG_OK; on a returned (nil, kind, msg) or a raised error sets h->err and pops everything.
 */
int zg_runtime_call(zg_host *h, const char *fn, int nargs, int nres);

#define ZG_EVENTS_CHANNEL "zerog:events"

/* Raised (as a Lua error message) when a run has lost its reservation; maps to ZG_ESTALE. */
#define ZG_LOST_PREFIX "zerog: lost reservation: "

/* runtime.c: the count hook of a run: stops a run whose lease is lost or whose TIMEOUT passed. */
void zg_run_hook(lua_State *L, lua_Debug *ar);
/* Raises the error of a run past its TIMEOUT. */
int zg_raise_timeout(lua_State *L, zg_host *h);

/* bindings.c: registers the zerog.core module (the C functions the Lua side calls). */
void zg_bindings_open(zg_host *h);

#endif
