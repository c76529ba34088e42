/* heartbeat: keeps the lease of the job a host is running alive, from a thread of its own, so a
 * job that computes for minutes without calling the host is never taken for stalled. When a
 * renewal is refused (the lease lapsed and another host took the job, or it was killed) the run
 * is marked lost. The heartbeat only sets an atomic flag: the VM's own thread reads it in the
 * run's count hook and stops the job (no other thread ever calls into the Lua state).
 *
 * It is also the run's watchdog, for what the hook cannot interrupt (a long pattern match, a
 * blocking C function, a finalizer that loops: no Lua instruction runs, so no hook): while the
 * VM thread is in Lua (not waiting for the store), it marks itself alive at every hook call.
 * When it has not been seen alive for ZG_OVERRUN_MARGIN_MS past the run's TIMEOUT (job code
 * with a TIMEOUT), or for the lease's TTR plus that margin (otherwise), the run has overrun:
 * the heartbeat stops renewing its lease, releases it on the store (its next claim records a
 * timeout) and calls on_overrun. */
#ifndef ZG_HEARTBEAT_H
#define ZG_HEARTBEAT_H

#include <pthread.h>
#include <stdatomic.h>

#include "lifecycle.h"
#include "zerog.h"

typedef struct zg_heartbeat {
    pthread_t thread;
    int started, stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int active; /* a run holds the lease below */
    zg_lease lease;
    int64_t renewed_at_ms;
    int64_t sleeping_until_ms; /* when the thread wakes by itself (INT64_MAX: only when woken) */
    int64_t resumed_at_ms;     /* when it last woke over a second late: the whole process had
                                  been stopped (SIGSTOP, a suspended machine), not the VM alone */
    atomic_int lost;           /* the active run's lease is lost: read lock-free by the run hook */
    atomic_llong held_ms;      /* when the store last acknowledged the lease (its claim, or a
                                  renewal that came through): it holds for a TTR from then */
    zg_store *store;
    /* the watchdog */
    atomic_llong alive_ms;    /* when the VM thread was last seen in Lua; 0: not in Lua */
    atomic_llong deadline_ms; /* the TIMEOUT of the job code running now; 0: none */
    int overrun;              /* the watchdog fired for the active run */
    void (*on_overrun)(void *ud, const zg_lease *lease, int rc, const char *msg);
    void *overrun_ud;
} zg_heartbeat;

/* ZG_OVERRUN_MARGIN_MS (zerog.h): how long past its TIMEOUT (or, without one, past its TTR) a
 * VM thread that does not answer is given before its run counts as overrun. */

/* on_overrun is called on the heartbeat thread when the watchdog releases an overrun run. */
int zg_heartbeat_init(zg_heartbeat *hb, zg_store *store,
                      void (*on_overrun)(void *ud, const zg_lease *lease, int rc, const char *msg),
                      void *ud);
void zg_heartbeat_shutdown(zg_heartbeat *hb);
/* The host starts running under lease / has settled it. */
void zg_heartbeat_begin(zg_heartbeat *hb, const zg_lease *lease);
void zg_heartbeat_end(zg_heartbeat *hb);
/* Renews now. ZG_OK, ZG_ENOTFOUND when nothing runs, ZG_ESTALE when the lease is lost, or the
 * store's error (a store outage is not a loss: the lease is kept). */
int zg_heartbeat_renew(zg_heartbeat *hb);
/* Marks the running lease lost (a write of the run was refused by the store). */
void zg_heartbeat_mark_lost(zg_heartbeat *hb);
/* The VM thread: it runs Lua now (in = 1; the hook marks it alive from then on), or leaves Lua
 * or starts waiting for the store (in = 0). Lock-free. */
void zg_heartbeat_entered(zg_heartbeat *hb, int in);
/* The VM thread is alive (the run hook). Lock-free. */
void zg_heartbeat_alive(zg_heartbeat *hb);
/* Job code starts with a TIMEOUT ending at deadline_ms (0: none), or ends (-1). */
void zg_heartbeat_job(zg_heartbeat *hb, int64_t deadline_ms);
/* When the store last acknowledged the running lease (ms, monotonic clock); lock-free. */
static inline int64_t zg_heartbeat_held_at(zg_heartbeat *hb)
{
    return atomic_load_explicit(&hb->held_ms, memory_order_relaxed);
}
/* Whether the running lease is lost; lock-free. */
static inline int zg_heartbeat_lost(zg_heartbeat *hb)
{
    return atomic_load_explicit(&hb->lost, memory_order_relaxed);
}

#endif
