/* heartbeat: keeps the lease of the job a host is running alive, from a thread of its own, so a
 * job that computes for minutes without calling the host is never taken for stalled. When a
 * renewal is refused (the lease lapsed and another host took the job, or it was killed) the run
 * is marked lost. The heartbeat only sets an atomic flag: the VM's own thread reads it in the
 * run's count hook and stops the job (no other thread ever calls into the Lua state). */
#ifndef ZG_HEARTBEAT_H
#define ZG_HEARTBEAT_H

#include <pthread.h>
#include <stdatomic.h>

#include "lifecycle.h"

typedef struct zg_heartbeat {
    pthread_t thread;
    int started, stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int active;           /* a run holds the lease below */
    zg_lease lease;
    int64_t renewed_at_ms;
    int64_t sleeping_until_ms; /* when the thread wakes by itself (INT64_MAX: only when woken) */
    atomic_int lost;      /* the active run's lease is lost: read lock-free by the run hook */
    zg_store *store;
} zg_heartbeat;

int zg_heartbeat_init(zg_heartbeat *hb, zg_store *store);
void zg_heartbeat_shutdown(zg_heartbeat *hb);
/* The host starts running under lease / has settled it. */
void zg_heartbeat_begin(zg_heartbeat *hb, const zg_lease *lease);
void zg_heartbeat_end(zg_heartbeat *hb);
/* Renews now. ZG_OK, ZG_ENOTFOUND when nothing runs, ZG_ESTALE when the lease is lost, or the
 * store's error (a store outage is not a loss: the lease is kept). */
int zg_heartbeat_renew(zg_heartbeat *hb);
/* Marks the running lease lost (a write of the run was refused by the store). */
void zg_heartbeat_mark_lost(zg_heartbeat *hb);
/* Whether the running lease is lost; lock-free. */
static inline int zg_heartbeat_lost(zg_heartbeat *hb)
{
    return atomic_load_explicit(&hb->lost, memory_order_relaxed);
}

#endif
