/* redis_conn: connection, reconnection with exponential backoff (50 ms doubling to 1 s, within
 * the call's timeout), pipelines of scripts and commands. Only connection failures are retried; the
 * server's error replies are not. The writes that go through here carry tokens (zg_redis_token) so
 * that one sent twice across a reconnect is applied once. */
#include "redis_conn.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "redis_cluster.h"

#define CONNECT_TIMEOUT_MS 2000

static int parse_tcp(const char *rest, zg_redis_url *out, zg_error *err, const char *url)
{
    const char *at = strrchr(rest, '@');
    if (at) {
        const char *pw = rest;
        if (*pw == ':')
            pw++;
        else {
            const char *colon = memchr(rest, ':', (size_t)(at - rest));
            pw = colon ? colon + 1 : at; /* user:password@ (user@ alone: no credentials) */
            if (colon && (size_t)(colon - rest) >= sizeof out->user)
                return zg_fail(err, ZG_EINVAL, "bad store URL %s: user name too long", url);
            if (colon) snprintf(out->user, sizeof out->user, "%.*s", (int)(colon - rest), rest);
        }
        snprintf(out->password, sizeof out->password, "%.*s", (int)(at - pw), pw);
        rest = at + 1;
    }
    size_t hostlen = strcspn(rest, ":/");
    if (hostlen == 0 || hostlen >= sizeof out->host)
        return zg_fail(err, ZG_EINVAL, "bad store URL %s: no host", url);
    memcpy(out->host, rest, hostlen);
    out->host[hostlen] = '\0';
    rest += hostlen;
    if (*rest == ':') {
        char *end;
        long port = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || port <= 0 || port > 65535)
            return zg_fail(err, ZG_EINVAL, "bad store URL %s: bad port", url);
        out->port = (int)port;
        rest = end;
    }
    if (*rest == '/' && rest[1]) {
        char *end;
        long db = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || *end || db < 0 || db > INT_MAX)
            return zg_fail(err, ZG_EINVAL, "bad store URL %s: bad database number", url);
        out->db = (int)db;
    } else if (*rest && strcmp(rest, "/") != 0) {
        return zg_fail(err, ZG_EINVAL, "bad store URL %s", url);
    }
    return ZG_OK;
}

/* [:password@]host:port[,host:port...]: each seed is checked as redis://'s host and port. */
static int parse_cluster(const char *rest, zg_redis_url *out, zg_error *err, const char *url)
{
    const char *at = strrchr(rest, '@');
    const char *seeds = at ? at + 1 : rest;
    if (!*seeds || strlen(seeds) >= sizeof out->seeds)
        return zg_fail(err, ZG_EINVAL, "bad store URL %s: no seeds", url);
    for (const char *s = seeds; *s;) {
        size_t len = strcspn(s, ",");
        zg_redis_url seed;
        char one[600];
        memset(&seed, 0, sizeof seed);
        if (len == 0 || len >= 300)
            return zg_fail(err, ZG_EINVAL, "bad store URL %s: empty seed", url);
        snprintf(one, sizeof one, "%.*s", (int)len, s);
        if (!strchr(one, ':') || strchr(one, '/'))
            return zg_fail(err, ZG_EINVAL, "bad store URL %s: a seed is host:port", url);
        int rc = parse_tcp(one, &seed, err, url);
        if (rc != ZG_OK) return rc;
        if (s == seeds) {
            memcpy(out->host, seed.host, sizeof out->host);
            out->port = seed.port;
        }
        s += len;
        if (*s == ',' && !*++s) return zg_fail(err, ZG_EINVAL, "bad store URL %s: empty seed", url);
    }
    if (at) {
        char auth[300];
        snprintf(auth, sizeof auth, "%.*s@x", (int)(at - rest), rest);
        zg_redis_url pw;
        memset(&pw, 0, sizeof pw);
        int rc = parse_tcp(auth, &pw, err, url);
        if (rc != ZG_OK) return rc;
        memcpy(out->password, pw.password, sizeof out->password);
        memcpy(out->user, pw.user, sizeof out->user);
    }
    snprintf(out->seeds, sizeof out->seeds, "%s", seeds);
    out->cluster = 1;
    return ZG_OK;
}

int zg_redis_parse_url(const char *url, zg_redis_url *out, zg_error *err)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (strncmp(url, "redis://", 8) == 0) return parse_tcp(url + 8, out, err, url);
    if (strncmp(url, "redis+cluster://", 16) == 0) return parse_cluster(url + 16, out, err, url);
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        size_t len = strcspn(path, "?");
        if (len == 0 || len >= sizeof out->socket)
            return zg_fail(err, ZG_EINVAL, "bad store URL %s: no socket path", url);
        memcpy(out->socket, path, len);
        out->socket[len] = '\0';
        if (path[len] == '?') { /* strtol: sscanf's %d is undefined past INT_MAX (lint) */
            const char *num = path + len + 4;
            char *end = NULL;
            long db = strncmp(path + len, "?db=", 4) == 0 ? strtol(num, &end, 10) : -1;
            if (db < 0 || db > INT_MAX || end == num || (end && *end))
                return zg_fail(err, ZG_EINVAL, "bad store URL %s: expected ?db=N", url);
            out->db = (int)db;
        }
        return ZG_OK;
    }
    return zg_fail(err, ZG_EINVAL,
                   "bad store URL %s (expected redis://[:password@]host[:port][/db], "
                   "unix:///path/to/socket, redis+cluster://host:port[,host:port...] or mem://)",
                   url);
}

static const char *where(const zg_redis_url *u, char *buf, size_t size)
{
    if (u->socket[0])
        snprintf(buf, size, "unix:%s", u->socket);
    else
        snprintf(buf, size, "%s:%d", u->host, u->port);
    return buf;
}

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static int simple(redisContext *c, zg_error *err, const char *what, int argc, const char **argv)
{
    redisReply *reply = redisCommandArgv(c, argc, argv, NULL);
    if (!reply) return zg_fail(err, ZG_ESTORE, "%s: %s", what, c->errstr);
    int bad = reply->type == REDIS_REPLY_ERROR;
    if (bad) zg_fail(err, ZG_ESTORE, "%s: %s", what, reply->str);
    zg_redis_reply_free(reply);
    return bad ? ZG_ESTORE : ZG_OK;
}

/* A call whose connection broke is sent again on a new one at once, the first time (a server
 * restarted, or one that closed an idle connection); when that one breaks too, the call pauses
 * before each new attempt, RETRY_PAUSE_MS doubling to 500 ms (pause_before_retry), so that a
 * server that takes each connection and closes it (a proxy without its backend, a server at
 * maxclients or shutting down) is not met with a connection a few microseconds per thread. */
#define RETRY_PAUSE_MS 50
static int pause_before_retry(int64_t give_up_at, int64_t *backoff);
static int send_calls(zg_redis *r, size_t n, const zg_redis_call *calls, zg_error *err);

/* Opens a new connection (authenticated, on the right database) into r->ctx. */
static int connect_now(zg_redis *r, zg_error *err)
{
    char name[600];
    int64_t connect_ms = r->timeout_ms < CONNECT_TIMEOUT_MS ? r->timeout_ms : CONNECT_TIMEOUT_MS;
    struct timeval tv = tv_ms(connect_ms);
    redisContext *c = r->url.socket[0] ? redisConnectUnixWithTimeout(r->url.socket, tv)
                                       : redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!c) return zg_fail(err, ZG_ENOMEM, "out of memory connecting to redis");
    if (c->err) {
        zg_fail(err, ZG_ESTORE, "cannot connect to redis at %s: %s",
                where(&r->url, name, sizeof name), c->errstr);
        redisFree(c);
        return ZG_ESTORE;
    }
    redisSetTimeout(c, tv_ms(r->timeout_ms));
    zg_redis_reply_blocks(c->reader); /* (every reply below: zg_redis_reply_free) */
    int rc = ZG_OK;
    if (r->url.user[0]) { /* an ACL user (Redis 6 and later) */
        const char *argv[] = {"AUTH", r->url.user, r->url.password};
        rc = simple(c, err, "redis AUTH", 3, argv);
    } else if (r->url.password[0]) {
        const char *argv[] = {"AUTH", r->url.password};
        rc = simple(c, err, "redis AUTH", 2, argv);
    }
    if (rc == ZG_OK && r->url.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->url.db);
        const char *argv[] = {"SELECT", db};
        rc = simple(c, err, "redis SELECT", 2, argv);
    }
    if (rc != ZG_OK) {
        redisFree(c);
        return rc;
    }
    r->ctx = c;
    return ZG_OK;
}

int zg_redis_open(zg_redis *r, const char *url, int64_t timeout_ms, zg_error *err)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : ZG_REDIS_DEFAULT_TIMEOUT_MS;
    int rc = zg_redis_parse_url(url, &r->url, err);
    if (rc != ZG_OK) return rc;
    if (r->url.cluster) return zg_cluster_open(&r->cluster, &r->url, r->timeout_ms, err);
    return connect_now(r, err);
}

void zg_redis_close(zg_redis *r)
{
    if (r->cluster) zg_cluster_close(r->cluster);
    r->cluster = NULL;
    if (r->ctx) redisFree(r->ctx);
    r->ctx = NULL;
    free(r->wbuf);
    r->wbuf = NULL;
    r->wcap = 0;
    pthread_mutex_destroy(&r->lock);
}

/* Reconnects with backoff until it works or the time is up. */
static int reconnect(zg_redis *r, int64_t give_up_at, zg_error *err)
{
    int64_t backoff = 50, began = zg_clock_monotonic_ms();
    char why[200] = "";
    for (;;) {
        if (r->ctx) redisFree(r->ctx);
        r->ctx = NULL;
        if (connect_now(r, err) == ZG_OK) {
            int64_t down = zg_clock_monotonic_ms() - began;
            if (why[0] && !r->outage && down >= ZG_REDIS_STALL_NOTE_MS && r->on_recovered)
                r->on_recovered(r->on_recovered_ud, down, why);
            return ZG_OK;
        }
        if (!why[0]) snprintf(why, sizeof why, "%.*s", (int)sizeof why - 1, err->msg);
        int64_t left = give_up_at - zg_clock_monotonic_ms();
        if (left <= 0) return ZG_ESTORE;
        zg_clock_sleep_ms(backoff < left ? backoff : left);
        backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
    }
}

/* Drops a broken connection, keeping the reason in err. */
static void drop(zg_redis *r, zg_error *err)
{
    zg_fail(err, ZG_ESTORE, "redis connection lost: %s",
            r->ctx->errstr[0] ? r->ctx->errstr : "timeout");
    redisFree(r->ctx);
    r->ctx = NULL;
    r->deferred = 0;
}

/* Reads the next reply on r's connection into *reply, waiting at most the connection's timeout
 * for data. It waits in poll() for POLLIN, not in a blocking read(): a reader blocked in read() on
 * a unix socket is woken whenever the server consumes what it sent (the kernel's unix_write_space
 * wakes every sleeper on the socket, not only those waiting for data), so each round trip cost the
 * waiting thread a wake-up for nothing and the server an extra wake-up to hand out (measured at
 * C = 16: 6.2 context switches of the worker a job, 4.1 with poll(); 7% of redis-server's time
 * went to that wake-up). A poll() sleeper is woken only by data. REDIS_ERR: the connection broke or
 * timed out (errstr says which), as redisGetReply would. */
static int await_reply(zg_redis *r, int64_t timeout_ms, void **reply)
{
    redisContext *c = r->ctx;
    int64_t deadline = zg_clock_monotonic_ms() + timeout_ms;
    for (;;) {
        if (redisGetReplyFromReader(c, reply) != REDIS_OK) return REDIS_ERR;
        if (*reply) return REDIS_OK;
        int64_t left = deadline - zg_clock_monotonic_ms();
        struct pollfd want = {.fd = c->fd, .events = POLLIN};
        int ready = left > 0 ? poll(&want, 1, left > INT_MAX ? INT_MAX : (int)left) : 0;
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            c->err = REDIS_ERR_IO;
            snprintf(c->errstr, sizeof c->errstr, "%s", ready < 0 ? strerror(errno) : "timeout");
            return REDIS_ERR;
        }
        if (redisBufferRead(c) != REDIS_OK) return REDIS_ERR;
        deadline = zg_clock_monotonic_ms() + timeout_ms; /* (a large reply may take many reads) */
    }
}

/* Reads and drops the replies of commands sent with zg_redis_send_later, each waited for at most
 * timeout_ms (the call's own: a short one, such as a cluster map's read, stays short). */
static int drain_deferred(zg_redis *r, int64_t timeout_ms, zg_error *err)
{
    for (; r->ctx && r->deferred > 0; r->deferred--) {
        void *reply = NULL;
        if (await_reply(r, timeout_ms, &reply) != REDIS_OK) {
            drop(r, err);
            return ZG_ESTORE;
        }
        zg_redis_reply_free(reply);
    }
    return ZG_OK;
}

int zg_redis_reply_error(const redisReply *reply, zg_error *err)
{
    /* Redis appends where a script failed ("... script: <sha>, on @user_script:12."): the user
     * wants the server's reason, not our script's line */
    const char *msg = reply->str ? reply->str : "error";
    size_t len = reply->len;
    const char *tail = strstr(msg, " script: ");
    if (tail) len = (size_t)(tail - msg);
    while (len && (msg[len - 1] == '.' || msg[len - 1] == ' '))
        len--;
    if (strncmp(msg, "ERR Error running script", 24) == 0) {
        const char *colon = strstr(msg, "): ");
        if (colon) {
            msg = colon + 3;
            len = strcspn(msg, "\n");
        }
    }
    return zg_fail(err, ZG_ESTORE, "redis: %.*s", (int)len, msg);
}

/* How long a call keeps reconnecting. */
static int64_t retry_budget(const zg_redis *r)
{
    return r->retry_ms > 0 ? r->retry_ms : r->timeout_ms;
}

redisReply *zg_redis_command(zg_redis *r, int argc, const char **argv, const size_t *lens,
                             int64_t read_timeout_ms, zg_error *err)
{
    if (r->cluster) return zg_cluster_command(r->cluster, argc, argv, lens, read_timeout_ms, err);
    redisReply *reply = zg_redis_command_raw(r, argc, argv, lens, read_timeout_ms, err);
    if (!reply || reply->type != REDIS_REPLY_ERROR) return reply;
    zg_redis_reply_error(reply, err);
    zg_redis_reply_free(reply);
    return NULL;
}

redisReply *zg_redis_command_raw(zg_redis *r, int argc, const char **argv, const size_t *lens,
                                 int64_t read_timeout_ms, zg_error *err)
{
    int64_t give_up_at = zg_clock_monotonic_ms() + retry_budget(r), backoff = RETRY_PAUSE_MS;
    for (int broken = 0;; broken++) {
        if (!r->ctx && ((broken > 1 && !pause_before_retry(give_up_at, &backoff)) ||
                        reconnect(r, give_up_at, err) != ZG_OK)) {
            r->outage = 1;
            return NULL;
        }
        void *reply = NULL; /* (the replies of zg_redis_send_later's commands come first) */
        int64_t wait_ms = read_timeout_ms ? read_timeout_ms : r->timeout_ms;
        int sent = send_calls(r, 1, &(zg_redis_call){NULL, 0, argc, argv, lens}, err);
        if (sent == ZG_ENOMEM) return NULL;
        if (sent == ZG_OK && drain_deferred(r, wait_ms, err) == ZG_OK)
            await_reply(r, wait_ms, &reply);
        if (reply) {
            r->outage = 0;
            return reply;
        }
        /* the connection broke: the command may or may not have run; try again on a new one */
        if (r->ctx) drop(r, err);
        if (zg_clock_monotonic_ms() >= give_up_at) {
            r->outage = 1;
            return NULL;
        }
    }
}

/* Sleeps *backoff ms (at most until give_up_at) and doubles it up to 500 ms; 0 when the time
 * was up already. */
static int pause_before_retry(int64_t give_up_at, int64_t *backoff)
{
    int64_t left = give_up_at - zg_clock_monotonic_ms();
    if (left <= 0) return 0;
    zg_clock_sleep_ms(*backoff < left ? *backoff : left);
    *backoff = *backoff * 2 > 500 ? 500 : *backoff * 2;
    return 1;
}

/* Whether a reply is Redis's "LOADING": the server, just restarted, is still reading its data
 * (AOF, RDB) and refuses every command before it runs; it answers in a moment. */
static int server_loading(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR && reply->str &&
           strncmp(reply->str, "LOADING", 7) == 0;
}

/* Loads a script's library on the server; one already there (by a host of the same version,
 * since a library's name carries a hash of its source) is loaded. */
static int load_script(zg_redis *r, zg_redis_script *s, zg_error *err)
{
    const char *argv[] = {"FUNCTION", "LOAD", s->library};
    redisReply *reply = zg_redis_command_raw(r, 3, argv, NULL, 0, err);
    if (!reply) return err->code;
    int rc = ZG_OK;
    if (server_loading(reply)) {
        zg_redis_reply_error(reply, err);
        rc = ZG_ETIMEDOUT; /* no answer yet: asked again (zg_redis_pipeline) */
    } else if (reply->type == REDIS_REPLY_ERROR && !strstr(reply->str, "already exists")) {
        /* (the call that needed it may be a read, which a full server runs: say what was
         * refused, in Redis's words) */
        zg_redis_reply_error(reply, err);
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s",
                 strncmp(err->msg, "redis: ", 7) == 0 ? err->msg + 7 : err->msg);
        const char *name = s->library + 11; /* after "#!lua name=" */
        rc = zg_fail(err, ZG_ESTORE,
                     "redis: the server has no function library %.*s and refused to load it: %s",
                     (int)strcspn(name, "\n"), name, why);
    } else if (reply->type != REDIS_REPLY_ERROR && reply->type != REDIS_REPLY_STRING)
        rc = zg_fail(err, ZG_ESTORE, "redis: FUNCTION LOAD gave no library name");
    zg_redis_reply_free(reply);
    if (rc == ZG_OK) s->loaded = 1;
    return rc;
}

/* The length of the name of a library (its first line is "#!lua name=<name>"), which starts at
 * *name; *name is "?" when there is none */
static int library_name(const zg_redis_call *calls, size_t n, const char **name)
{
    static const char tag[] = "#!lua name=";
    for (size_t i = 0; i < n; i++)
        if (calls[i].script && strncmp(calls[i].script->library, tag, sizeof tag - 1) == 0) {
            *name = calls[i].script->library + sizeof tag - 1;
            return (int)strcspn(*name, "\n");
        }
    *name = "?";
    return 1;
}

/* Whether a reply says the server lacks the function called (FUNCTION FLUSH, a new node). */
static int function_missing(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR && reply->str &&
           strncmp(reply->str, "ERR Function not found", 22) == 0;
}

static void free_replies(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i]) zg_redis_reply_free(replies[i]);
        replies[i] = NULL;
    }
}

/* RESP, written by hand: hiredis's own formatting (sdscatfmt per argument) cost ~11k
 * instructions a command, a sixth of a worker's store calls. */
static char *resp_number(char *out, char kind, size_t v)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    *out++ = kind;
    while (n)
        *out++ = digits[--n];
    *out++ = '\r';
    *out++ = '\n';
    return out;
}

/* The arguments of call c: the FCALL head, then its own. */
static size_t call_argc(const zg_redis_call *c)
{
    return (size_t)c->argc + (c->script ? 3 : 0);
}
static const char *call_arg(const zg_redis_call *c, const char *const head[3], size_t i,
                            size_t *len)
{
    size_t extra = c->script ? 3 : 0;
    const char *a = i < extra ? head[i] : c->argv[i - extra];
    *len = i >= extra && c->lens ? c->lens[i - extra] : strlen(a);
    return a;
}

/* The largest pipeline buffer a connection keeps for its next call: a larger one (a batch, a
 * 16 MiB field) is freed once sent, or a worker or daemon would hold the largest pipeline it ever
 * sent, per connection, for the rest of its life. */
#define WBUF_KEEP ((size_t)1 << 20)

/* Room for more bytes past used in the connection's own buffer (grown by doubling). */
static int wbuf_reserve(zg_redis *r, size_t used, size_t more, zg_error *err)
{
    if (used + more <= r->wcap) return ZG_OK;
    size_t cap = r->wcap ? r->wcap : 256;
    while (cap < used + more)
        cap *= 2;
    char *grown = realloc(r->wbuf, cap);
    if (!grown) return zg_fail(err, ZG_ENOMEM, "out of memory building a redis call");
    r->wbuf = grown;
    r->wcap = cap;
    return ZG_OK;
}

/* Writes the n calls as RESP into the connection's own buffer (kept from call to call: a
 * buffer of each call's, then hiredis's copy of it into a fresh output buffer, cost a worker
 * about 5% of its instructions in malloc and free), each argument's length read once. */
static int format_calls(zg_redis *r, size_t n, const zg_redis_call *calls, size_t *len,
                        zg_error *err)
{
    size_t used = 0; /* (an offset: the buffer may move as it grows) */
    for (size_t k = 0; k < n; k++) {
        const zg_redis_call *c = &calls[k];
        char nk[24];
        char *nk_end = resp_number(nk, ' ', (size_t)c->nkeys); /* " <digits>\r\n" */
        nk_end[-2] = '\0';
        const char *head[3] = {"FCALL", c->script ? c->script->name : "", nk + 1};
        if (wbuf_reserve(r, used, 32, err) != ZG_OK) return ZG_ENOMEM;
        used = (size_t)(resp_number(r->wbuf + used, '*', call_argc(c)) - r->wbuf);
        for (size_t i = 0; i < call_argc(c); i++) {
            size_t alen;
            const char *a = call_arg(c, head, i, &alen);
            if (wbuf_reserve(r, used, alen + 32, err) != ZG_OK) return ZG_ENOMEM;
            char *w = resp_number(r->wbuf + used, '$', alen);
            memcpy(w, a, alen);
            w += alen;
            *w++ = '\r';
            *w++ = '\n';
            used = (size_t)(w - r->wbuf);
        }
    }
    *len = used;
    return ZG_OK;
}

/* Frees a write buffer grown past WBUF_KEEP, once sent. */
static void wbuf_trim(zg_redis *r)
{
    if (r->wcap <= WBUF_KEEP) return;
    free(r->wbuf);
    r->wbuf = NULL;
    r->wcap = 0;
}

/* Writes len bytes of r->wbuf to the socket, as hiredis would (its output buffer is empty here:
 * hiredis writes only at connect, AUTH and SELECT, flushed before they return), with MSG_NOSIGNAL
 * (those writes of hiredis can still raise SIGPIPE: a program embedding the library ignores it,
 * README "Embedding"). ZG_ESTORE: the connection broke,
 * or stayed full past the timeout (the socket's send timeout, set at connect), and is dropped. */
static int send_all(zg_redis *r, size_t len, zg_error *err)
{
    for (size_t off = 0; off < len;) {
        ssize_t k = send(r->ctx->fd, r->wbuf + off, len - off, MSG_NOSIGNAL);
        if (k > 0) {
            off += (size_t)k;
        } else if (k < 0 && errno == EINTR) {
            continue;
        } else {
            snprintf(r->ctx->errstr, sizeof r->ctx->errstr, "%s",
                     k < 0 && errno != EAGAIN ? strerror(errno) : "timeout");
            drop(r, err);
            return ZG_ESTORE;
        }
    }
    return ZG_OK;
}

/* Writes the n calls on r's connection in one send: ZG_OK, ZG_ENOMEM (nothing sent), or ZG_ESTORE
 * (the connection broke and was dropped). Every command the library sends after connecting goes
 * this way. */
static int send_calls(zg_redis *r, size_t n, const zg_redis_call *calls, zg_error *err)
{
    if (r->ctx->err) { /* hiredis marked it broken without closing it (a failed setsockopt): sent
                        * on it, the calls would run there with their replies unreadable, then
                        * run again on a new one */
        drop(r, err);
        return ZG_ESTORE;
    }
    size_t len = 0;
    if (format_calls(r, n, calls, &len, err) != ZG_OK) return ZG_ENOMEM;
    int sent = send_all(r, len, err);
    wbuf_trim(r);
    return sent;
}

/* A command whose reply no one waits for (an expiry, a delete of a pointer): written at once, its
 * reply read and dropped by the connection's next call after that call is sent (so the call does
 * not first wait for it), or here once DEFERRED_MAX of them are owed. A connection lost before
 * the command was written loses it. */
#define DEFERRED_MAX 64
void zg_redis_send_later(zg_redis *r, int argc, const char **argv)
{
    if (r->cluster) {
        zg_cluster_send_later(r->cluster, argc, argv);
        return;
    }
    zg_error err = {0};
    /* a broken connection is opened again here, once a second at most: on a cluster, the node of
     * a command sent later may see no other call from this host (a master holding only pointers
     * by uuid), and without this it would lose every later command once its connection broke */
    if (!r->ctx) {
        int64_t now = zg_clock_monotonic_ms();
        if (now - r->later_connect_ms < 1000) return;
        r->later_connect_ms = now;
        if (connect_now(r, &err) != ZG_OK) return;
    }
    if (r->deferred >= DEFERRED_MAX && drain_deferred(r, r->timeout_ms, &err) != ZG_OK) return;
    zg_redis_call call = {NULL, 0, argc, argv, NULL};
    if (send_calls(r, 1, &call, &err) == ZG_OK) r->deferred++; /* (out of memory: not sent) */
}

/* Sends the pipeline once: ZG_OK, ZG_ESTORE on a broken connection (replies freed),
 * ZG_ENOTFOUND when the server lacks a script's library (replies freed, to be loaded again), or
 * ZG_ETIMEDOUT when the server is still loading its data (replies freed, to be sent again). */
static int pipeline_once(zg_redis *r, size_t n, const zg_redis_call *calls, redisReply **replies,
                         zg_error *err)
{
    if (!r->ctx) return ZG_ESTORE;
    int sent = send_calls(r, n, calls, err);
    if (sent != ZG_OK) return sent;
    if (drain_deferred(r, r->timeout_ms, err) != ZG_OK) return ZG_ESTORE;
    int noscript = 0, loading = 0;
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        if (await_reply(r, r->timeout_ms, &reply) != REDIS_OK) {
            free_replies(replies, i);
            drop(r, err);
            return ZG_ESTORE;
        }
        replies[i] = reply;
        if (server_loading(replies[i])) loading = 1;
        if (calls[i].script && function_missing(replies[i])) {
            calls[i].script->loaded = 0;
            noscript = 1;
        }
    }
    if (loading) { /* (whatever ran, ran: every call of a pipeline may be sent again) */
        zg_redis_reply_error(replies[0] && server_loading(replies[0]) ? replies[0] : replies[n - 1],
                             err);
        free_replies(replies, n);
        return ZG_ETIMEDOUT;
    }
    if (noscript) {
        free_replies(replies, n);
        return ZG_ENOTFOUND;
    }
    return ZG_OK;
}

int zg_redis_pipeline(zg_redis *r, size_t n, const zg_redis_call *calls, redisReply **replies,
                      zg_error *err)
{
    return zg_redis_pipeline_first(r, 0, n, calls, replies, err);
}

int zg_redis_pipeline_first(zg_redis *r, size_t first_try_only, size_t n,
                            const zg_redis_call *calls, redisReply **replies, zg_error *err)
{
    if (r->cluster) return zg_cluster_pipeline(r->cluster, n, calls, replies, err);
    int64_t give_up_at = zg_clock_monotonic_ms() + retry_budget(r);
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    int64_t backoff = 20, reconnect_backoff = RETRY_PAUSE_MS;
    size_t skip = 0; /* the calls at the head sent on the first try only (their replies: NULL) */
    for (int attempts = 0, broken = 0;; attempts++) {
        if (attempts == 1) skip = first_try_only < n ? first_try_only : 0;
        int rc = ZG_OK;
        for (size_t i = skip; i < n && rc == ZG_OK; i++)
            if (calls[i].script && !calls[i].script->loaded)
                rc = load_script(r, calls[i].script, err);
        if (rc != ZG_OK && rc != ZG_ETIMEDOUT) return rc; /* refused: OOM, NOPERM, ... */
        if (rc == ZG_OK && !r->ctx &&
            ((broken > 1 && !pause_before_retry(give_up_at, &reconnect_backoff)) ||
             reconnect(r, give_up_at, err) != ZG_OK)) {
            r->outage = 1;
            return err->code ? err->code : zg_fail(err, ZG_ESTORE, "redis: no reply in time");
        }
        if (rc == ZG_OK) rc = pipeline_once(r, n - skip, calls + skip, replies + skip, err);
        if (rc == ZG_ETIMEDOUT) { /* LOADING: the server answers once its data is read */
            if (pause_before_retry(give_up_at, &backoff)) continue;
            r->outage = 1;
            return ZG_ESTORE;
        }
        if (rc == ZG_OK) {
            r->outage = 0;
            return ZG_OK;
        }
        if (rc == ZG_ENOMEM) return rc;
        if (rc == ZG_ENOTFOUND) {
            /* the library was flushed: load it again, for as long as a broken connection would
             * be retried (something flushing functions again and again, FUNCTION FLUSH, DELETE
             * or RESTORE in a loop, can remove it between the load and the call) */
            if (attempts < 3) continue;
            /* (not in a tight loop: a same-named library may lack it for good) */
            if (pause_before_retry(give_up_at, &backoff)) continue;
            const char *name;
            int len = library_name(calls, n, &name);
            return zg_fail(err, ZG_ESTORE,
                           "redis: the server lost the function library %.*s again after each "
                           "load for %lld ms (is FUNCTION FLUSH, DELETE or RESTORE running?)",
                           len, name, (long long)retry_budget(r));
        }
        broken++; /* (the connection broke: see RETRY_PAUSE_MS) */
        if (zg_clock_monotonic_ms() >= give_up_at) {
            r->outage = 1;
            return err->code ? err->code : zg_fail(err, ZG_ESTORE, "redis: no reply in time");
        }
    }
}

redisReply *zg_redis_script_run(zg_redis *r, zg_redis_script *s, int nkeys, int argc,
                                const char *const *argv, const size_t *lens, zg_error *err)
{
    zg_redis_call call = {s, nkeys, argc, argv, lens};
    redisReply *reply = NULL;
    if (zg_redis_pipeline(r, 1, &call, &reply, err) != ZG_OK || !reply) return NULL;
    if (reply->type == REDIS_REPLY_ERROR) {
        zg_redis_reply_error(reply, err);
        zg_redis_reply_free(reply);
        return NULL;
    }
    return reply;
}

void zg_redis_on_recovered(zg_redis *r, void (*fn)(void *ud, int64_t down_ms, const char *why),
                           void *ud)
{
    r->on_recovered = fn;
    r->on_recovered_ud = ud;
    if (r->cluster) zg_cluster_on_recovered(r->cluster, fn, ud);
}

void zg_redis_userinfo(const zg_redis_url *u, char *out, size_t size)
{
    if (u->password[0] || u->user[0])
        snprintf(out, size, "%s:%s@", u->user, u->password);
    else if (size)
        out[0] = '\0';
}

void zg_redis_url_string(const zg_redis_url *u, char *out, size_t size)
{
    char auth[400];
    zg_redis_userinfo(u, auth, sizeof auth);
    if (u->cluster)
        snprintf(out, size, "redis+cluster://%s%s", auth, u->seeds);
    else if (u->socket[0])
        snprintf(out, size, "unix://%s?db=%d", u->socket, u->db);
    else
        snprintf(out, size, "redis://%s%s:%d/%d", auth, u->host, u->port, u->db);
}

int zg_redis_subscriber_url(zg_redis *r, char *out, size_t size, zg_error *err)
{
    if (r->cluster) return zg_cluster_any_node_url(r->cluster, out, size, err);
    zg_redis_url_string(&r->url, out, size);
    return ZG_OK;
}

void zg_redis_token(char out[33])
{
    uuid_t id;
    uuid_generate_random(id);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}
