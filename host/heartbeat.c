/* heartbeat: the renewal thread. It sleeps on a condition variable, waking every ttr/3 (at most
 * a second) while a run holds a lease, and renews it on the store's own renewal connection. */
#include "heartbeat.h"

#include <signal.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/* A third of the TTR, so two renewals may fail before the lease lapses; at most a second, so a
 * killed job is noticed within one. */
static int64_t interval_ms(const zg_lease *lease)
{
    int64_t ms = lease->ttr_ms / 3;
    return ms < 20 ? 20 : ms > 1000 ? 1000 : ms;
}

/* Renews the lease; called and returns with hb->lock held. */
static int renew_locked(zg_heartbeat *hb)
{
    zg_lease lease = hb->lease;
    pthread_mutex_unlock(&hb->lock);
    zg_error err = {0};
    int rc = hb->store->ops->touch(hb->store, &lease, &err);
    pthread_mutex_lock(&hb->lock);
    int same_run =
        hb->active && hb->lease.token == lease.token && strcmp(hb->lease.uuid, lease.uuid) == 0;
    if (!same_run) return ZG_ENOTFOUND;
    if (rc == ZG_OK) {
        hb->renewed_at_ms = zg_clock_monotonic_ms();
        atomic_store_explicit(&hb->held_ms, hb->renewed_at_ms, memory_order_relaxed);
    }
    /* the store failed (an outage, OOM, READONLY): the next try comes after a short backoff,
     * not at once (the lease is kept: a failure of the store is not a loss) */
    if (rc != ZG_OK && rc != ZG_ESTALE && rc != ZG_ENOTFOUND)
        hb->renewed_at_ms = zg_clock_monotonic_ms() - interval_ms(&hb->lease) + 100;
    if (rc == ZG_ESTALE || rc == ZG_ENOTFOUND) {
        atomic_store(&hb->lost, 1);
        return ZG_ESTALE;
    }
    return rc;
}

/* When the watchdog must look next (ms on the monotonic clock): the time the run overruns if
 * the VM is not seen alive before. */
static int64_t overrun_at(zg_heartbeat *hb, int64_t now)
{
    int64_t alive = atomic_load_explicit(&hb->alive_ms, memory_order_relaxed);
    int64_t deadline = atomic_load_explicit(&hb->deadline_ms, memory_order_relaxed);
    if (!alive) return now + 1000; /* not in Lua (waiting for the store): looked at again */
    if (deadline) return (deadline > alive ? deadline : alive) + ZG_OVERRUN_MARGIN_MS;
    return alive + hb->lease.ttr_ms + ZG_OVERRUN_MARGIN_MS;
}

/* The run has overrun: no more renewals, the lease is released on the store (on the
 * heartbeat's own connection) so the job runs again and its next claim records a timeout, and
 * the host is told. Called and returns with hb->lock held. */
static void overrun_locked(zg_heartbeat *hb)
{
    hb->overrun = 1;
    atomic_store(&hb->lost, 1);
    zg_lease lease = hb->lease;
    pthread_mutex_unlock(&hb->lock);
    zg_error err = {0};
    int rc = hb->store->ops->release_overrun(hb->store, &lease, &err);
    if (hb->on_overrun) hb->on_overrun(hb->overrun_ud, &lease, rc, err.msg);
    pthread_mutex_lock(&hb->lock);
}

static void *heartbeat_main(void *arg)
{
    zg_heartbeat *hb = arg;
    sigset_t all;
    sigfillset(&all); /* signals are the embedding program's business, not this thread's */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&hb->lock);
    while (!hb->stop) {
        if (!hb->active || hb->overrun) {
            hb->sleeping_until_ms = INT64_MAX;
            pthread_cond_wait(&hb->wake, &hb->lock);
            continue;
        }
        int64_t now = zg_clock_monotonic_ms();
        if (hb->sleeping_until_ms != INT64_MAX && now - hb->sleeping_until_ms > 1000)
            hb->resumed_at_ms = now;
        /* after the process was stopped, the VM thread gets a margin to show it is alive (its
         * hook then stops a run that is past its TIMEOUT, or whose lease was lost meanwhile)
         * before a run counts as overrun: a worker resumed after SIGSTOP is not ended */
        int64_t wake = overrun_at(hb, now);
        if (hb->resumed_at_ms && wake < hb->resumed_at_ms + ZG_OVERRUN_MARGIN_MS)
            wake = hb->resumed_at_ms + ZG_OVERRUN_MARGIN_MS;
        if (now >= wake) {
            overrun_locked(hb);
            continue;
        }
        if (!atomic_load(&hb->lost)) {
            int64_t due = hb->renewed_at_ms + interval_ms(&hb->lease);
            if (now >= due) {
                renew_locked(hb);
                continue;
            }
            if (due < wake) wake = due;
        }
        struct timespec at = zg_clock_deadline(wake - now);
        hb->sleeping_until_ms = wake;
        pthread_cond_timedwait(&hb->wake, &hb->lock, &at);
    }
    pthread_mutex_unlock(&hb->lock);
    return NULL;
}

void zg_heartbeat_entered(zg_heartbeat *hb, int in)
{
    atomic_store_explicit(&hb->alive_ms, in ? zg_clock_monotonic_ms() : 0, memory_order_relaxed);
}

void zg_heartbeat_alive(zg_heartbeat *hb)
{
    atomic_store_explicit(&hb->alive_ms, zg_clock_monotonic_ms(), memory_order_relaxed);
}

void zg_heartbeat_job(zg_heartbeat *hb, int64_t deadline_ms)
{
    atomic_store_explicit(&hb->deadline_ms, deadline_ms > 0 ? deadline_ms : 0,
                          memory_order_relaxed);
    if (deadline_ms > 0) {
        /* the thread may sleep past it: it looks again now. It looks at a deadline only while
         * a run holds a lease (the watchdog), so job code outside a run (a submit's init(), one
         * window per job of a batch) does not wake it each time */
        pthread_mutex_lock(&hb->lock);
        if (hb->active && !hb->overrun && hb->sleeping_until_ms > deadline_ms)
            pthread_cond_broadcast(&hb->wake);
        pthread_mutex_unlock(&hb->lock);
    }
}

int zg_heartbeat_init(zg_heartbeat *hb, zg_store *store,
                      void (*on_overrun)(void *ud, const zg_lease *lease, int rc, const char *msg),
                      void *ud)
{
    memset(hb, 0, sizeof *hb);
    hb->store = store;
    hb->on_overrun = on_overrun;
    hb->overrun_ud = ud;
    atomic_init(&hb->lost, 0);
    atomic_init(&hb->held_ms, 0);
    atomic_init(&hb->alive_ms, 0);
    atomic_init(&hb->deadline_ms, 0);
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

void zg_heartbeat_begin(zg_heartbeat *hb, const zg_lease *lease)
{
    pthread_mutex_lock(&hb->lock);
    hb->lease = *lease;
    hb->active = 1;
    hb->overrun = 0;
    atomic_store(&hb->lost, 0);
    hb->renewed_at_ms = zg_clock_monotonic_ms();
    atomic_store_explicit(&hb->held_ms, hb->renewed_at_ms, memory_order_relaxed);
    /* a thread that wakes by itself before this run's first renewal is due sees the new run
     * then: runs that follow each other closely wake it once a renewal interval, not once each
     * (a wake is a futex call and a context switch a job) */
    if (hb->sleeping_until_ms > hb->renewed_at_ms + interval_ms(lease))
        pthread_cond_broadcast(&hb->wake);
    pthread_mutex_unlock(&hb->lock);
}

void zg_heartbeat_end(zg_heartbeat *hb)
{
    pthread_mutex_lock(&hb->lock);
    hb->active = 0;
    hb->overrun = 0;
    atomic_store(&hb->lost, 0);
    pthread_mutex_unlock(&hb->lock);
}

int zg_heartbeat_renew(zg_heartbeat *hb)
{
    pthread_mutex_lock(&hb->lock);
    int rc;
    if (!hb->active)
        rc = ZG_ENOTFOUND;
    else if (atomic_load(&hb->lost))
        rc = ZG_ESTALE;
    else
        rc = renew_locked(hb);
    pthread_mutex_unlock(&hb->lock);
    return rc;
}

void zg_heartbeat_mark_lost(zg_heartbeat *hb)
{
    atomic_store(&hb->lost, 1);
}
