/* redis_conn: one hiredis connection, opened from a store URL, that survives outages. A command
 * that fails on a broken connection is sent again on a new one, with backoff, for up to
 * `timeout_ms` (every call is bounded by it, the wait for a reply included); scripts are run by
 * SHA and loaded again when the server lost them. A connection is used by one thread at a time
 * (its owner keeps the lock). Error replies keep the server's own words (OOM, MISCONF, READONLY).
 */
#ifndef ZG_REDIS_CONN_H
#define ZG_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdint.h>

#include "error.h"
#include "redis_reply.h"

typedef struct zg_redis_url {
    char host[256];
    int port;
    char socket[512]; /* unix socket path, or "" */
    char user[128];   /* the ACL user of redis://user:password@ ("": the default user) */
    char password[256];
    int db;
    int cluster;      /* redis+cluster://: host and port are the first seed */
    char seeds[1024]; /* cluster: "host:port[,host:port...]" */
} zg_redis_url;

/* Parses redis://[[user]:password@]host[:port][/db], unix:///path/to/socket[?db=N] or
 * redis+cluster://[[user]:password@]host:port[,host:port...] (a cluster has database 0 only). */
int zg_redis_parse_url(const char *url, zg_redis_url *out, zg_error *err);

/* A function of a Redis function library (FUNCTION LOAD, run by FCALL): the library's source
 * (whose first line names it, "#!lua name=..."), the function's name, and whether the library
 * is taken to be on the server (cleared when the server says it is not: then the library is
 * loaded and the call sent again). */
typedef struct zg_redis_script {
    const char *library;
    const char *name;
    int loaded;
} zg_redis_script;

typedef struct zg_cluster zg_cluster;

typedef struct zg_redis {
    zg_redis_url url;
    zg_cluster *cluster; /* redis+cluster://: every call is routed (redis_cluster.c); else NULL */
    redisContext *ctx;
    pthread_mutex_t lock;
    int64_t timeout_ms; /* bounds every call, reconnects included */
    int64_t retry_ms;   /* how long a call keeps reconnecting (0: timeout_ms); a cluster's node
                           connections give up sooner, so the map can be read again */
    int deferred;       /* replies of zg_redis_send_later still to read (and drop) */
    int64_t later_connect_ms; /* when zg_redis_send_later last opened a broken connection */
    int outage;               /* the last call failed on the connection (for logging once) */
    char *wbuf;               /* the RESP of the pipeline being sent (kept if at most 1 MiB) */
    size_t wcap;
    /* Told, on the calling thread, when a call got a connection back after failing to connect
     * for ZG_REDIS_STALL_NOTE_MS or more (an outage its retries hid): for how long, and why it
     * could not. Not told when the call before it failed (that outage was an error already).
     * NULL: nobody */
    void (*on_recovered)(void *ud, int64_t down_ms, const char *why);
    void *on_recovered_ud;
} zg_redis;

#define ZG_REDIS_STALL_NOTE_MS 1000

/* Sets on_recovered (on a cluster, its routing layer's: redis_cluster.h). */
void zg_redis_on_recovered(zg_redis *r, void (*fn)(void *ud, int64_t down_ms, const char *why),
                           void *ud);

#define ZG_REDIS_DEFAULT_TIMEOUT_MS 5000

/* Connects; a server that cannot be reached is an error (ZG_ESTORE) naming it. timeout_ms 0:
 * ZG_REDIS_DEFAULT_TIMEOUT_MS. */
int zg_redis_open(zg_redis *r, const char *url, int64_t timeout_ms, zg_error *err);
void zg_redis_close(zg_redis *r);

/* Sends a command (argv form); returns the reply (free it with zg_redis_reply_free) or NULL
 * with err set.
 * An error reply from the server is returned as NULL with ZG_ESTORE. `read_timeout_ms` bounds
 * the wait for the reply (0: the default); blocking commands pass their own timeout plus slack. */
redisReply *zg_redis_command(zg_redis *r, int argc, const char **argv, const size_t *lens,
                             int64_t read_timeout_ms, zg_error *err);
/* As zg_redis_command, but an error reply of the server is returned as a reply (MOVED, ASK). */
redisReply *zg_redis_command_raw(zg_redis *r, int argc, const char **argv, const size_t *lens,
                                 int64_t read_timeout_ms, zg_error *err);
/* One call of a pipeline: a script (FCALL with nkeys keys, then the rest of argv as args) or,
 * when script is NULL, a plain command. Any number of arguments. */
typedef struct zg_redis_call {
    zg_redis_script *script;
    int nkeys;
    int argc;
    const char *const *argv;
    const size_t *lens; /* NULL: each argument is a C string */
} zg_redis_call;

/* Sends n calls in one round trip and fills replies[i] (free each with zg_redis_reply_free); an
 * error reply of one call is its reply (REDIS_REPLY_ERROR), not a failure of the whole. A broken
 * connection resends the whole pipeline, so each call must be idempotent (writes carry tokens).
 * Fails (replies all NULL) only when the connection cannot be had within the timeout. */
int zg_redis_pipeline(zg_redis *r, size_t n, const zg_redis_call *calls, redisReply **replies,
                      zg_error *err);
/* zg_redis_pipeline whose first first_try_only calls are sent on the first try only: sent again
 * (a broken connection, a flushed function library, LOADING), the pipeline leaves them out and
 * their replies stay NULL. For a wait in front of a call (BLPOP before a claim: sent again, it
 * would wait again before the claim's resend is answered). */
int zg_redis_pipeline_first(zg_redis *r, size_t first_try_only, size_t n,
                            const zg_redis_call *calls, redisReply **replies, zg_error *err);
/* Runs one script; its error reply is returned as NULL with ZG_ESTORE and the server's words. */
redisReply *zg_redis_script_run(zg_redis *r, zg_redis_script *s, int nkeys, int argc,
                                const char *const *argv, const size_t *lens, zg_error *err);
/* The message of an error reply, without the script's position Redis appends to it. */
int zg_redis_reply_error(const redisReply *reply, zg_error *err);

/* Sends a command whose reply no one waits for: it is written now, and its reply read (and
 * dropped) by the connection's next call once that call is sent, before the call's own. Best
 * effort: lost with the connection if it breaks before the command is written; a connection
 * found broken is opened again first (one attempt, once a second at most). */
void zg_redis_send_later(zg_redis *r, int argc, const char **argv);

/* "user:password@", ":password@" or "": how a URL of u's credentials starts its authority. */
void zg_redis_userinfo(const zg_redis_url *u, char *out, size_t size);
/* Writes url back as a string zg_redis_open accepts. */
void zg_redis_url_string(const zg_redis_url *u, char *out, size_t size);
/* A URL for a connection of its own that reads what this one's server publishes: its own URL,
 * or on a cluster a master that answers. */
int zg_redis_subscriber_url(zg_redis *r, char *out, size_t size, zg_error *err);

/* A fresh random token (32 hex characters) that makes a retried write idempotent. */
void zg_redis_token(char out[33]);

#endif
