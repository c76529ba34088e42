/* heartbeat: keeps the reservation of the job a host is running alive, from a thread of its own,
 * so a job that computes for minutes without calling the host is never taken for stalled. When a
 * renewal is refused (the reservation lapsed and another host took it, or the job was killed) the
 * run is marked lost: the host refuses its later writes, and a Lua count hook stops the job. */
#ifndef ZG_HEARTBEAT_H
#define ZG_HEARTBEAT_H

#include <lua.h>
#include <pthread.h>

#include "queue.h"

typedef struct zg_run_lease {
    int active;
    int lost;
    char queue[ZG_NAME_LEN];
    char uuid[ZG_UUID_LEN];
    int64_t message_id, reservation, ttr_ms;
    int64_t renewed_at_ms;
} zg_run_lease;

typedef struct zg_heartbeat {
    pthread_t thread;
    int started, stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    zg_run_lease lease;
    zg_queue *queue;
    lua_State *L;
    lua_Hook hook; /* installed on L when the lease is lost: it stops the job */
} zg_heartbeat;

int zg_heartbeat_init(zg_heartbeat *hb, zg_queue *queue, lua_State *L, lua_Hook hook);
void zg_heartbeat_shutdown(zg_heartbeat *hb);
/* The host starts running the job of message m / has settled it. */
void zg_heartbeat_begin(zg_heartbeat *hb, const zg_message *m);
void zg_heartbeat_end(zg_heartbeat *hb);
/* Renews now (uuid NULL: whatever runs; else only if that job runs). Returns ZG_OK when renewed,
 * ZG_ENOTFOUND when nothing (or another job) is running, ZG_ESTALE when the lease is lost, or the
 * backend's error (the lease is kept: a store outage is not a loss). */
int zg_heartbeat_renew(zg_heartbeat *hb, const char *uuid);
/* Proves the lease before a settle: free while the last renewal is younger than half the TTR
 * (the reservation cannot have lapsed: it runs a full TTR from that renewal), else renews now.
 * Returns as zg_heartbeat_renew. */
int zg_heartbeat_fence(zg_heartbeat *hb);
/* Marks the lease lost when uuid is the running job (its document shows another host ended
 * it); returns whether it was the running job. */
int zg_heartbeat_lose(zg_heartbeat *hb, const char *uuid);
/* Whether the running job's lease is lost (0 when nothing runs). */
int zg_heartbeat_lost(zg_heartbeat *hb);

#endif
