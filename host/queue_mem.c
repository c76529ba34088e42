/* queue_mem: the in-process queue, the embedded default.
 *
 * Each named queue (a "tube" in beanstalkd's words) has a ready heap ordered by (priority, id)
 * and a delayed heap ordered by the time a message becomes ready; reserved messages of all tubes
 * sit in one heap ordered by deadline. Lapsed delays and deadlines are applied at the start of
 * every operation, so no timer thread is needed. One mutex guards the whole queue; a blocking
 * reserve waits on a condition variable (woken by put, release and kick) until the next message can
 * become ready or its timeout comes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "heap.h"
#include "map.h"
#include "queue.h"

typedef struct tube {
    char name[ZG_NAME_LEN];
    zg_heap ready;
    zg_heap delayed;
    zg_map messages; /* decimal id -> message */
    int64_t next_id;
} tube;

typedef struct message {
    int64_t id, priority, ttr_ms;
    int64_t due_ms; /* delayed: when it becomes ready; reserved: its deadline */
    int64_t reserves, timeouts, releases;
    int state; /* ZG_MSG_READY / DELAYED / RESERVED */
    size_t heap_index;
    tube *tube;
    char *body;
} message;

typedef struct mem_queue {
    zg_queue base;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a message may have become ready */
    zg_map tubes;           /* name -> tube */
    zg_heap reserved;
} mem_queue;

void zg_message_clear(zg_message *m)
{
    free(m->body);
    memset(m, 0, sizeof *m);
}

static int ready_less(const void *a, const void *b)
{
    const message *x = a, *y = b;
    return x->priority != y->priority ? x->priority < y->priority : x->id < y->id;
}

static int due_less(const void *a, const void *b)
{
    const message *x = a, *y = b;
    return x->due_ms != y->due_ms ? x->due_ms < y->due_ms : x->id < y->id;
}

static void set_index(void *item, size_t index)
{
    ((message *)item)->heap_index = index;
}

static void message_free(void *p)
{
    message *m = p;
    free(m->body);
    free(m);
}

static void tube_free(void *p)
{
    tube *t = p;
    zg_heap_free(&t->ready);
    zg_heap_free(&t->delayed);
    zg_map_free(&t->messages, message_free);
    free(t);
}

static tube *get_tube(mem_queue *q, const char *name, int create)
{
    tube *t = zg_map_get(&q->tubes, name);
    if (t || !create) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    snprintf(t->name, sizeof t->name, "%s", name);
    zg_heap_init(&t->ready, ready_less, set_index);
    zg_heap_init(&t->delayed, due_less, set_index);
    zg_map_init(&t->messages);
    if (zg_map_set(&q->tubes, name, t) != 0) {
        tube_free(t);
        return NULL;
    }
    return t;
}

static message *find(mem_queue *q, const char *queue, int64_t id)
{
    tube *t = get_tube(q, queue, 0);
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)id);
    return t ? zg_map_get(&t->messages, key) : NULL;
}

/* Removes m from its tube's table and frees it (it must be out of every heap). */
static void forget(message *m)
{
    char key[24];
    snprintf(key, sizeof key, "%lld", (long long)m->id);
    message_free(zg_map_remove(&m->tube->messages, key));
}

/* Takes m out of whichever heap holds it. */
static void detach(mem_queue *q, message *m)
{
    zg_heap *h = m->state == ZG_MSG_READY     ? &m->tube->ready
                 : m->state == ZG_MSG_DELAYED ? &m->tube->delayed
                                              : &q->reserved;
    zg_heap_remove(h, m->heap_index);
}

/* Puts m into the heap its state and delay call for; -1 when out of memory. */
static int attach(message *m, int64_t delay_ms)
{
    if (delay_ms > 0) {
        m->state = ZG_MSG_DELAYED;
        m->due_ms = zg_clock_monotonic_ms() + delay_ms;
        return zg_heap_push(&m->tube->delayed, m);
    }
    m->state = ZG_MSG_READY;
    return zg_heap_push(&m->tube->ready, m);
}

/* Applies lapsed deadlines (a timeout) and lapsed delays. */
static void advance(mem_queue *q)
{
    int64_t now = zg_clock_monotonic_ms();
    message *m;
    while ((m = zg_heap_peek(&q->reserved)) && m->due_ms <= now) {
        zg_heap_remove(&q->reserved, 0);
        m->timeouts++;
        attach(m, 0);
    }
    size_t pos = 0;
    zg_map_slot *s;
    while ((s = zg_map_next(&q->tubes, &pos))) {
        tube *t = s->value;
        while ((m = zg_heap_peek(&t->delayed)) && m->due_ms <= now) {
            zg_heap_remove(&t->delayed, 0);
            attach(m, 0);
        }
    }
}

static int mem_put(zg_queue *zq, const char *queue, const char *body, int64_t priority,
                   int64_t delay_ms, int64_t ttr_ms, int64_t *id, zg_error *err)
{
    mem_queue *q = (mem_queue *)zq;
    advance(q);
    message *m = calloc(1, sizeof *m);
    tube *t = get_tube(q, queue, 1);
    char key[24];
    if (!m || !t || !(m->body = strdup(body))) goto oom;
    m->id = ++t->next_id;
    m->priority = priority;
    m->ttr_ms = ttr_ms > 0 ? ttr_ms : 1000;
    m->tube = t;
    snprintf(key, sizeof key, "%lld", (long long)m->id);
    if (zg_map_set(&t->messages, key, m) != 0) goto oom;
    if (attach(m, delay_ms) != 0) {
        zg_map_remove(&t->messages, key);
        goto oom;
    }
    *id = m->id;
    pthread_cond_broadcast(&q->changed);
    return ZG_OK;
oom:
    if (m) message_free(m);
    return zg_fail(err, ZG_ENOMEM, "out of memory putting on %s", queue);
}

/* The most urgent ready message of the named tubes (lowest priority; on a tie, the earlier
 * tube's), or NULL. */
static message *best_ready(mem_queue *q, const char *const *queues, size_t n)
{
    message *best = NULL;
    for (size_t i = 0; i < n; i++) {
        tube *t = get_tube(q, queues[i], 0);
        message *m = t ? zg_heap_peek(&t->ready) : NULL;
        if (m && (!best || m->priority < best->priority)) best = m;
    }
    return best;
}

/* Waits (the lock released) until the monotonic time `until_ms` or a change, whichever first. */
static void wait_until(mem_queue *q, int64_t until_ms)
{
    int64_t ms = until_ms - zg_clock_monotonic_ms();
    if (ms <= 0) return;
    struct timespec at = zg_clock_deadline(ms > 60000 ? 60000 : ms);
    pthread_cond_timedwait(&q->changed, &q->lock, &at);
}

/* When the next message could become ready in the named tubes (INT64_MAX if never). */
static int64_t next_change(mem_queue *q, const char *const *queues, size_t n)
{
    int64_t next = INT64_MAX;
    message *m = zg_heap_peek(&q->reserved);
    if (m) next = m->due_ms;
    for (size_t i = 0; i < n; i++) {
        tube *t = get_tube(q, queues[i], 0);
        m = t ? zg_heap_peek(&t->delayed) : NULL;
        if (m && m->due_ms < next) next = m->due_ms;
    }
    return next;
}

static int mem_reserve(zg_queue *zq, const char *const *queues, size_t n, int64_t timeout_ms,
                       zg_message *out, zg_error *err)
{
    mem_queue *q = (mem_queue *)zq;
    int64_t give_up = zg_clock_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    message *m;
    for (;;) {
        advance(q);
        if ((m = best_ready(q, queues, n))) break;
        int64_t now = zg_clock_monotonic_ms();
        if (now >= give_up) return zg_fail(err, ZG_ETIMEDOUT, "no message ready");
        int64_t wake = next_change(q, queues, n);
        wait_until(q, wake < give_up ? wake : give_up);
    }
    char *body = strdup(m->body);
    if (!body) return zg_fail(err, ZG_ENOMEM, "out of memory reserving");
    detach(q, m);
    m->state = ZG_MSG_RESERVED;
    m->reserves++;
    m->due_ms = zg_clock_monotonic_ms() + m->ttr_ms;
    if (zg_heap_push(&q->reserved, m) != 0) {
        free(body);
        attach(m, 0);
        return zg_fail(err, ZG_ENOMEM, "out of memory reserving");
    }
    memset(out, 0, sizeof *out);
    out->id = m->id;
    out->reservation = m->reserves;
    out->priority = m->priority;
    out->ttr_ms = m->ttr_ms;
    out->reserves = m->reserves;
    out->timeouts = m->timeouts;
    out->releases = m->releases;
    snprintf(out->queue, sizeof out->queue, "%s", m->tube->name);
    out->body = body;
    return ZG_OK;
}

/* The message id under reservation `reservation`, or NULL with err set. */
static message *reserved_message(mem_queue *q, const char *queue, int64_t id, int64_t reservation,
                                 zg_error *err)
{
    advance(q);
    message *m = find(q, queue, id);
    if (!m) {
        zg_fail(err, ZG_ENOTFOUND, "no message %lld", (long long)id);
        return NULL;
    }
    if (m->state != ZG_MSG_RESERVED || m->reserves != reservation) {
        zg_fail(err, ZG_ESTALE, "reservation %lld of message %lld has lapsed",
                (long long)reservation, (long long)id);
        return NULL;
    }
    return m;
}

static int mem_release(zg_queue *zq, const char *queue, int64_t id, int64_t reservation,
                       int64_t delay_ms, zg_error *err)
{
    mem_queue *q = (mem_queue *)zq;
    message *m = reserved_message(q, queue, id, reservation, err);
    if (!m) return err->code;
    detach(q, m);
    m->releases++;
    if (attach(m, delay_ms) != 0) return zg_fail(err, ZG_ENOMEM, "out of memory releasing");
    pthread_cond_broadcast(&q->changed);
    return ZG_OK;
}

static int mem_remove(zg_queue *zq, const char *queue, int64_t id, int64_t reservation,
                      zg_error *err)
{
    mem_queue *q = (mem_queue *)zq;
    message *m = reserved_message(q, queue, id, reservation, err);
    if (!m) return err->code;
    detach(q, m);
    forget(m);
    return ZG_OK;
}

static int mem_discard(zg_queue *zq, const char *queue, int64_t id, zg_error *err)
{
    mem_queue *q = (mem_queue *)zq;
    advance(q);
    message *m = find(q, queue, id);
    if (!m) return zg_fail(err, ZG_ENOTFOUND, "no message %lld in %s", (long long)id, queue);
    detach(q, m);
    forget(m);
    return ZG_OK;
}

static int mem_touch(zg_queue *zq, const char *queue, int64_t id, int64_t reservation,
                     zg_error *err)
{
    mem_queue *q = (mem_queue *)zq;
    message *m = reserved_message(q, queue, id, reservation, err);
    if (!m) return err->code;
    detach(q, m);
    m->due_ms = zg_clock_monotonic_ms() + m->ttr_ms;
    if (zg_heap_push(&q->reserved, m) != 0) return zg_fail(err, ZG_ENOMEM, "out of memory");
    return ZG_OK;
}

static int mem_kick(zg_queue *zq, const char *queue, int64_t *count, zg_error *err)
{
    mem_queue *q = (mem_queue *)zq;
    advance(q);
    *count = 0;
    tube *t = get_tube(q, queue, 0);
    message *m;
    while (t && (m = zg_heap_peek(&t->delayed))) {
        zg_heap_remove(&t->delayed, 0);
        if (attach(m, 0) != 0) return zg_fail(err, ZG_ENOMEM, "out of memory kicking");
        (*count)++;
    }
    if (*count) pthread_cond_broadcast(&q->changed);
    return ZG_OK;
}

static int mem_counts(zg_queue *zq, const char *queue, zg_queue_counts *out, zg_error *err)
{
    (void)err;
    mem_queue *q = (mem_queue *)zq;
    advance(q);
    memset(out, 0, sizeof *out);
    tube *t = get_tube(q, queue, 0);
    if (!t) return ZG_OK;
    out->ready = (int64_t)t->ready.len;
    out->delayed = (int64_t)t->delayed.len;
    for (size_t i = 0; i < q->reserved.len; i++)
        if (((message *)q->reserved.items[i])->tube == t) out->reserved++;
    return ZG_OK;
}

static int mem_stats(zg_queue *zq, const char *queue, int64_t id, zg_message_stats *out,
                     zg_error *err)
{
    mem_queue *q = (mem_queue *)zq;
    advance(q);
    message *m = find(q, queue, id);
    if (!m) return zg_fail(err, ZG_ENOTFOUND, "no message %lld in %s", (long long)id, queue);
    out->state = m->state;
    out->priority = m->priority;
    out->reserves = m->reserves;
    out->timeouts = m->timeouts;
    out->releases = m->releases;
    int64_t left = m->state == ZG_MSG_READY ? 0 : m->due_ms - zg_clock_monotonic_ms();
    out->time_left_ms = left > 0 ? left : 0;
    return ZG_OK;
}

static void mem_close(zg_queue *zq)
{
    mem_queue *q = (mem_queue *)zq;
    zg_map_free(&q->tubes, tube_free);
    zg_heap_free(&q->reserved);
    pthread_cond_destroy(&q->changed);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* ---- the locked entry points: each operation runs whole under the queue's mutex ---- */

#define LOCKED(call)                                                                               \
    do {                                                                                           \
        mem_queue *q_ = (mem_queue *)zq;                                                           \
        pthread_mutex_lock(&q_->lock);                                                             \
        int rc_ = (call);                                                                          \
        pthread_mutex_unlock(&q_->lock);                                                           \
        return rc_;                                                                                \
    } while (0)

static int locked_put(zg_queue *zq, const char *queue, const char *body, int64_t priority,
                      int64_t delay_ms, int64_t ttr_ms, int64_t *id, zg_error *err)
{
    LOCKED(mem_put(zq, queue, body, priority, delay_ms, ttr_ms, id, err));
}

static int locked_put_many(zg_queue *zq, const char *queue, size_t n, const char *const *bodies,
                           int64_t priority, int64_t delay_ms, int64_t ttr_ms, int64_t *ids,
                           zg_error *err)
{
    mem_queue *q = (mem_queue *)zq;
    pthread_mutex_lock(&q->lock);
    int rc = ZG_OK;
    for (size_t i = 0; rc == ZG_OK && i < n; i++)
        rc = mem_put(zq, queue, bodies[i], priority, delay_ms, ttr_ms, &ids[i], err);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static int locked_reserve(zg_queue *zq, const char *const *queues, size_t n, int64_t timeout_ms,
                          zg_message *out, zg_error *err)
{
    LOCKED(mem_reserve(zq, queues, n, timeout_ms, out, err));
}

static int locked_release(zg_queue *zq, const char *queue, int64_t id, int64_t reservation,
                          int64_t delay_ms, zg_error *err)
{
    LOCKED(mem_release(zq, queue, id, reservation, delay_ms, err));
}

static int locked_remove(zg_queue *zq, const char *queue, int64_t id, int64_t reservation,
                         zg_error *err)
{
    LOCKED(mem_remove(zq, queue, id, reservation, err));
}

static int locked_touch(zg_queue *zq, const char *queue, int64_t id, int64_t reservation,
                        zg_error *err)
{
    LOCKED(mem_touch(zq, queue, id, reservation, err));
}

static int locked_discard(zg_queue *zq, const char *queue, int64_t id, zg_error *err)
{
    LOCKED(mem_discard(zq, queue, id, err));
}

static int locked_kick(zg_queue *zq, const char *queue, int64_t *count, zg_error *err)
{
    LOCKED(mem_kick(zq, queue, count, err));
}

static int locked_counts(zg_queue *zq, const char *queue, zg_queue_counts *out, zg_error *err)
{
    LOCKED(mem_counts(zq, queue, out, err));
}

static int locked_stats(zg_queue *zq, const char *queue, int64_t id, zg_message_stats *out,
                        zg_error *err)
{
    LOCKED(mem_stats(zq, queue, id, out, err));
}

static const zg_queue_ops mem_ops = {locked_put,    locked_put_many, locked_reserve, locked_release,
                                     locked_remove, locked_touch,    locked_discard, locked_kick,
                                     locked_counts, locked_stats,    mem_close};

zg_queue *zg_queue_mem_new(void)
{
    mem_queue *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->base.ops = &mem_ops;
    zg_map_init(&q->tubes);
    zg_heap_init(&q->reserved, due_less, set_index);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->changed, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&q->lock, NULL);
    return &q->base;
}
