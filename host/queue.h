/* queue: the interface every job queue implements (in-memory now, Redis next), with beanstalkd's
 * semantics. A message carries a body (a job uuid), lives in a named queue and is in one of three
 * states: ready (ordered by priority, lower first, then by id), delayed (until its time comes) or
 * reserved (by one consumer, for ttr; unless touched, it then becomes ready again and counts a
 * timeout). Each reservation has a number (the message's reserve count when it was taken);
 * release, delete and touch name it, so a consumer whose reservation has lapsed and been taken by
 * another is refused (ZG_ESTALE) instead of settling the message twice.
 *
 * Message ids are per queue (a message is named by queue and id), so every operation touches the
 * keys of one queue only: one hash slot in Redis. Queue handles are thread-safe: a host's
 * heartbeat thread renews reservations while its main thread runs a job. */
#ifndef ZG_QUEUE_H
#define ZG_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct zg_queue zg_queue;

typedef struct zg_message {
    int64_t id;
    int64_t reservation; /* pass back to release / delete / touch */
    int64_t priority;
    int64_t ttr_ms;
    int64_t reserves, timeouts, releases;
    char queue[ZG_NAME_LEN];
    char *body; /* malloc'd; zg_message_clear frees it */
} zg_message;

void zg_message_clear(zg_message *m);

typedef struct zg_queue_ops {
    int (*put)(zg_queue *q, const char *queue, const char *body, int64_t priority, int64_t delay_ms,
               int64_t ttr_ms, int64_t *id, zg_error *err);
    /* Puts n messages on one queue in one go (Redis: one round trip); ids[i] gets each id. */
    int (*put_many)(zg_queue *q, const char *queue, size_t n, const char *const *bodies,
                    int64_t priority, int64_t delay_ms, int64_t ttr_ms, int64_t *ids,
                    zg_error *err);
    /* Takes the most urgent ready message of any of the n queues, waiting up to timeout_ms for
     * one; ZG_ETIMEDOUT when none came. */
    int (*reserve)(zg_queue *q, const char *const *queues, size_t n, int64_t timeout_ms,
                   zg_message *out, zg_error *err);
    int (*release)(zg_queue *q, const char *queue, int64_t id, int64_t reservation,
                   int64_t delay_ms, zg_error *err);
    int (*remove)(zg_queue *q, const char *queue, int64_t id, int64_t reservation, zg_error *err);
    int (*touch)(zg_queue *q, const char *queue, int64_t id, int64_t reservation, zg_error *err);
    /* Deletes a message whatever its state (a killed job's); ZG_ENOTFOUND if there is none. */
    int (*discard)(zg_queue *q, const char *queue, int64_t id, zg_error *err);
    /* Makes every delayed message of the queue ready now; *count says how many moved. */
    int (*kick)(zg_queue *q, const char *queue, int64_t *count, zg_error *err);
    int (*counts)(zg_queue *q, const char *queue, zg_queue_counts *out, zg_error *err);
    int (*stats)(zg_queue *q, const char *queue, int64_t id, zg_message_stats *out, zg_error *err);
    void (*close)(zg_queue *q);
} zg_queue_ops;

struct zg_queue {
    const zg_queue_ops *ops;
};

zg_queue *zg_queue_mem_new(void);
/* Connects to the Redis at url (redis:// or unix://); NULL with err set when it cannot. */
zg_queue *zg_queue_redis_new(const char *url, zg_error *err);

#endif
