/* host_internal: the host handle's layout, shared by the files that implement the public API. */
#ifndef ZG_HOST_INTERNAL_H
#define ZG_HOST_INTERNAL_H

#include <lua.h>

#include "error.h"
#include "queue.h"
#include "store.h"
#include "zerog.h"

/* The queue message the host is running, so keep_alive can renew it. */
typedef struct zg_current_run {
    int active;
    int64_t message_id, reservation;
    char uuid[ZG_UUID_LEN];
} zg_current_run;

struct zg_host {
    zg_config cfg;
    char *store_url;
    zg_store *store;
    zg_queue *queue;
    lua_State *L;
    int api_ref; /* registry reference to the zerog.api table */
    zg_current_run current;
    zg_error err;
};

/* runtime.c: the Lua VM of a host. */
int zg_runtime_open(zg_host *h);
void zg_runtime_close(zg_host *h);
/* Calls zerog.api[fn] with the nargs values on the stack. On success leaves nres results and
 * returns ZG_OK; on a returned (nil, kind, msg) or a raised error sets h->err and pops everything. */
int zg_runtime_call(zg_host *h, const char *fn, int nargs, int nres);

/* bindings.c: registers the zerog.core module (the C functions the Lua side calls). */
void zg_bindings_open(zg_host *h);

#endif
