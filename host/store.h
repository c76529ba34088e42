/* store: the interface every document store implements (in-memory now, Redis next).
 *
 * A job document is kept as named fields, each holding JSON text, plus a cas counter and
 * append-only lists (events, warnings, errors). Keeping the lists apart means appending an entry
 * costs the same however long the list is, and a save never rewrites them. `load` returns the
 * whole document assembled as one JSON object: its fields, "cas", and every list. Every operation
 * is atomic with respect to every other on the same key. */
#ifndef ZG_STORE_H
#define ZG_STORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct zg_store zg_store;

/* The lists every document has, in the order load writes them. */
extern const char *const zg_store_lists[3];

/* One save of a batch: the arguments of `save`, and its outcome. */
typedef struct zg_save_req {
    const char *key;
    size_t n;
    const char *const *names;
    const char *const *values;
    int64_t expected;
    int rc;      /* out: ZG_OK or ZG_ECAS */
    int64_t cas; /* out: as save's *cas */
} zg_save_req;

typedef struct zg_store_ops {
    /* *json receives the document (malloc'd, the caller frees it); ZG_ENOTFOUND if absent. */
    int (*load)(zg_store *s, const char *key, char **json, zg_error *err);
    /* Writes n fields when the stored cas equals `expected` (0: the key must not exist, and the
     * document is created with empty lists). Success bumps the cas into *cas, and when
     * expire_seconds > 0 the document expires that long after (a finished job's retention).
     * On a mismatch returns ZG_ECAS with *cas set to the stored cas (0 when there is none). */
    int (*save)(zg_store *s, const char *key, size_t n, const char *const *names,
                const char *const *values, int64_t expected, int64_t expire_seconds, int64_t *cas,
                zg_error *err);
    /* Many saves in one go (Redis: one round trip). Returns an error only when the batch as a
     * whole failed; each request's own outcome is in its rc and cas. */
    int (*save_many)(zg_store *s, zg_save_req *reqs, size_t n, zg_error *err);
    /* Appends `entry` (JSON text) to list `list`, sets field `stamp_field` to `stamp` (JSON),
     * adds 1 to the integer field `count_field` when it is not NULL, and bumps the cas.
     * *prev_cas is the cas before, *cas after: a caller whose copy had prev_cas is current.
     * ZG_ENOTFOUND when the document does not exist. */
    int (*append)(zg_store *s, const char *key, const char *list, const char *entry,
                  const char *stamp_field, const char *stamp, const char *count_field,
                  int64_t *prev_cas, int64_t *cas, zg_error *err);
    /* Publishes message on channel (no-op where nobody can listen: mem://). */
    int (*publish)(zg_store *s, const char *channel, const char *message, zg_error *err);
    /* Calls fn with each message of channel until *stop is set (checked twice a second), on a
     * connection of its own. ZG_EINVAL where there is no such thing (mem://). */
    int (*follow)(zg_store *s, const char *channel, void (*fn)(void *ud, const char *msg), void *ud,
                  volatile sig_atomic_t *stop, zg_error *err);
    /* Deletes the document after `seconds` (0: keeps it forever again). */
    int (*expire)(zg_store *s, const char *key, int64_t seconds, zg_error *err);
    void (*close)(zg_store *s);
} zg_store_ops;

struct zg_store {
    const zg_store_ops *ops;
};

zg_store *zg_store_mem_new(void);
/* Connects to the Redis at url (redis:// or unix://); NULL with err set when it cannot. */
zg_store *zg_store_redis_new(const char *url, zg_error *err);

#endif
