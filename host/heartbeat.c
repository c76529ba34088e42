/* heartbeat: the renewal thread. It sleeps on a condition variable, waking every ttr/3 while a job
 * runs. Renewals take the queue's own lock, so the main thread's queue calls never interleave.
 *
 * Stopping a lost job: lua_sethook is the one Lua call meant to be made asynchronously (lua.c does
 * it from a signal handler); the host's run hook it installs raises an error in the job within
 * its next 1000 instructions. A job running inside a coroutine of its own is stopped when it
 * returns to the main thread of the VM (hooks are per Lua thread). */
#include "heartbeat.h"

#include <lauxlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/* A third of the TTR, so two renewals may fail before the reservation lapses; at most a second,
 * so a killed job is noticed within one. */
static int64_t interval_ms(const zg_run_lease *lease)
{
    int64_t ms = lease->ttr_ms / 3;
    return ms < 20 ? 20 : ms > 1000 ? 1000 : ms;
}

static void timed_wait(zg_heartbeat *hb, int64_t ms)
{
    struct timespec at = zg_clock_deadline(ms);
    pthread_cond_timedwait(&hb->wake, &hb->lock, &at);
}

/* Renews the lease; called and returns with hb->lock held. */
static int renew_locked(zg_heartbeat *hb)
{
    zg_run_lease lease = hb->lease;
    pthread_mutex_unlock(&hb->lock);
    zg_error err = {0};
    int rc =
        hb->queue->ops->touch(hb->queue, lease.queue, lease.message_id, lease.reservation, &err);
    pthread_mutex_lock(&hb->lock);
    int same_run = hb->lease.active && hb->lease.message_id == lease.message_id &&
                   hb->lease.reservation == lease.reservation &&
                   strcmp(hb->lease.queue, lease.queue) == 0;
    if (!same_run) return ZG_ENOTFOUND;
    if (rc == ZG_OK) hb->lease.renewed_at_ms = zg_clock_monotonic_ms();
    if (rc == ZG_ESTALE || rc == ZG_ENOTFOUND) {
        if (!hb->lease.lost) lua_sethook(hb->L, hb->hook, LUA_MASKCOUNT, 1000);
        hb->lease.lost = 1;
        return ZG_ESTALE;
    }
    return rc;
}

static void *heartbeat_main(void *arg)
{
    zg_heartbeat *hb = arg;
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    pthread_mutex_lock(&hb->lock);
    while (!hb->stop) {
        if (!hb->lease.active || hb->lease.lost) {
            pthread_cond_wait(&hb->wake, &hb->lock);
            continue;
        }
        int64_t due = hb->lease.renewed_at_ms + interval_ms(&hb->lease);
        int64_t now = zg_clock_monotonic_ms();
        if (now < due) {
            timed_wait(hb, due - now);
            continue;
        }
        renew_locked(hb);
    }
    pthread_mutex_unlock(&hb->lock);
    return NULL;
}

int zg_heartbeat_init(zg_heartbeat *hb, zg_queue *queue, lua_State *L, lua_Hook hook)
{
    memset(hb, 0, sizeof *hb);
    hb->queue = queue;
    hb->L = L;
    hb->hook = hook;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hb->wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&hb->lock, NULL);
    if (pthread_create(&hb->thread, NULL, heartbeat_main, hb) != 0) return ZG_ENOMEM;
    hb->started = 1;
    return ZG_OK;
}

void zg_heartbeat_shutdown(zg_heartbeat *hb)
{
    if (!hb->started) return;
    pthread_mutex_lock(&hb->lock);
    hb->stop = 1;
    pthread_cond_broadcast(&hb->wake);
    pthread_mutex_unlock(&hb->lock);
    pthread_join(hb->thread, NULL);
    pthread_cond_destroy(&hb->wake);
    pthread_mutex_destroy(&hb->lock);
    hb->started = 0;
}

void zg_heartbeat_begin(zg_heartbeat *hb, const zg_message *m)
{
    pthread_mutex_lock(&hb->lock);
    memset(&hb->lease, 0, sizeof hb->lease);
    hb->lease.active = 1;
    snprintf(hb->lease.queue, sizeof hb->lease.queue, "%s", m->queue);
    snprintf(hb->lease.uuid, sizeof hb->lease.uuid, "%s", m->body);
    hb->lease.message_id = m->id;
    hb->lease.reservation = m->reservation;
    hb->lease.ttr_ms = m->ttr_ms;
    hb->lease.renewed_at_ms = zg_clock_monotonic_ms();
    pthread_cond_broadcast(&hb->wake);
    pthread_mutex_unlock(&hb->lock);
}

void zg_heartbeat_end(zg_heartbeat *hb)
{
    pthread_mutex_lock(&hb->lock);
    hb->lease.active = 0;
    pthread_mutex_unlock(&hb->lock);
}

int zg_heartbeat_renew(zg_heartbeat *hb, const char *uuid)
{
    pthread_mutex_lock(&hb->lock);
    int rc;
    if (!hb->lease.active || (uuid && strcmp(uuid, hb->lease.uuid) != 0))
        rc = ZG_ENOTFOUND;
    else if (hb->lease.lost)
        rc = ZG_ESTALE;
    else
        rc = renew_locked(hb);
    pthread_mutex_unlock(&hb->lock);
    return rc;
}

int zg_heartbeat_fence(zg_heartbeat *hb)
{
    pthread_mutex_lock(&hb->lock);
    int rc;
    if (!hb->lease.active)
        rc = ZG_ENOTFOUND;
    else if (hb->lease.lost)
        rc = ZG_ESTALE;
    else if (zg_clock_monotonic_ms() - hb->lease.renewed_at_ms < hb->lease.ttr_ms / 2)
        rc = ZG_OK;
    else
        rc = renew_locked(hb);
    pthread_mutex_unlock(&hb->lock);
    return rc;
}

int zg_heartbeat_lose(zg_heartbeat *hb, const char *uuid)
{
    pthread_mutex_lock(&hb->lock);
    int ours = hb->lease.active && strcmp(uuid, hb->lease.uuid) == 0;
    if (ours && !hb->lease.lost) {
        hb->lease.lost = 1;
        lua_sethook(hb->L, hb->hook, LUA_MASKCOUNT, 1000);
    }
    pthread_mutex_unlock(&hb->lock);
    return ours;
}

int zg_heartbeat_lost(zg_heartbeat *hb)
{
    pthread_mutex_lock(&hb->lock);
    int lost = hb->lease.active && hb->lease.lost;
    pthread_mutex_unlock(&hb->lock);
    return lost;
}
