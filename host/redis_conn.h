/* redis_conn: one hiredis connection, opened from a store URL, that survives outages. A command
 * that fails on a broken connection is sent again on a new one, with backoff, for up to
 * `retry_window_ms`; scripts are run by SHA and loaded again when the server lost them. A
 * connection is used by one thread at a time (its owner keeps the lock). */
#ifndef ZG_REDIS_CONN_H
#define ZG_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdint.h>

#include "error.h"

typedef struct zg_redis_url {
    char host[256];
    int port;
    char socket[512]; /* unix socket path, or "" */
    char password[256];
    int db;
    int64_t timeout_ms; /* bounds each call, reconnects included; 0: retry for a minute */
} zg_redis_url;

/* Parses redis://[:password@]host[:port][/db] or unix:///path/to/socket[?db=N]. */
int zg_redis_parse_url(const char *url, zg_redis_url *out, zg_error *err);

typedef struct zg_redis_script {
    const char *source;
    char sha[41]; /* "" until loaded on this connection's server */
} zg_redis_script;

typedef struct zg_redis {
    zg_redis_url url;
    redisContext *ctx;
    pthread_mutex_t lock;
    int64_t retry_window_ms;
} zg_redis;

/* Connects; a server that cannot be reached is an error (ZG_ESTORE) naming it. A URL may end with
 * "#timeout_ms=N": every call on the connection then gives up after N ms, reconnects included
 * (the host passes zg_config.store_timeout_ms this way, so the backends need no new argument). */
int zg_redis_open(zg_redis *r, const char *url, zg_error *err);
void zg_redis_close(zg_redis *r);

/* Sends a command (argv form); returns the reply (freeReplyObject it) or NULL with err set.
 * An error reply from the server is returned as NULL with ZG_ESTORE. `read_timeout_ms` bounds
 * the wait for the reply (0: the default); blocking commands pass their own timeout plus slack. */
redisReply *zg_redis_command(zg_redis *r, int argc, const char **argv, const size_t *lens,
                             int64_t read_timeout_ms, zg_error *err);
/* Runs a script with EVALSHA (loading it first when needed): nkeys keys, then args. */
redisReply *zg_redis_script_run(zg_redis *r, zg_redis_script *s, int nkeys, int argc,
                                const char **argv, const size_t *lens, zg_error *err);

/* Runs n calls of one script in a pipeline (one round trip): call i has nkeys keys then its
 * args in argvs[i][0..argcs[i]). Fills replies[i] (free each with freeReplyObject). A broken
 * connection resends the whole pipeline, so each call must be idempotent (carry a token). */
int zg_redis_script_pipeline(zg_redis *r, zg_redis_script *s, int nkeys, size_t n, const int *argcs,
                             const char *const *const *argvs, redisReply **replies, zg_error *err);

/* Writes url back as a string zg_redis_open accepts. */
void zg_redis_url_string(const zg_redis_url *u, char *out, size_t size);

/* A fresh random token (32 hex characters) that makes a retried write idempotent. */
void zg_redis_token(char out[33]);

#endif
