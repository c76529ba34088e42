/* redis_conn: connection, reconnection with exponential backoff (50 ms doubling to 2 s), and
 * scripts. Only connection failures are retried; the server's error replies are not. The writes
 * that go through here carry tokens (zg_redis_token) so that one sent twice across a reconnect is
 * applied once. */
#include "redis_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "clock.h"

#define DEFAULT_READ_TIMEOUT_MS 15000
#define CONNECT_TIMEOUT_MS      2000
#define RETRY_WINDOW_MS         60000
#define TIMEOUT_SUFFIX          "#timeout_ms="

static int parse_tcp(const char *rest, zg_redis_url *out, zg_error *err, const char *url)
{
    const char *at = strrchr(rest, '@');
    if (at) {
        const char *pw = rest;
        if (*pw == ':')
            pw++;
        else {
            const char *colon = memchr(rest, ':', (size_t)(at - rest));
            pw = colon ? colon + 1 : at; /* user:password@ — the user is ignored */
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
        if (end == rest + 1 || *end || db < 0)
            return zg_fail(err, ZG_EINVAL, "bad store URL %s: bad database number", url);
        out->db = (int)db;
    } else if (*rest && strcmp(rest, "/") != 0) {
        return zg_fail(err, ZG_EINVAL, "bad store URL %s", url);
    }
    return ZG_OK;
}

int zg_redis_parse_url(const char *url, zg_redis_url *out, zg_error *err)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (strncmp(url, "redis://", 8) == 0) return parse_tcp(url + 8, out, err, url);
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        size_t len = strcspn(path, "?");
        if (len == 0 || len >= sizeof out->socket)
            return zg_fail(err, ZG_EINVAL, "bad store URL %s: no socket path", url);
        memcpy(out->socket, path, len);
        out->socket[len] = '\0';
        if (path[len] == '?') {
            if (sscanf(path + len, "?db=%d", &out->db) != 1 || out->db < 0)
                return zg_fail(err, ZG_EINVAL, "bad store URL %s: expected ?db=N", url);
        }
        return ZG_OK;
    }
    return zg_fail(err, ZG_EINVAL,
                   "bad store URL %s (expected redis://[:password@]host[:port][/db], "
                   "unix:///path/to/socket or mem://)",
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
    freeReplyObject(reply);
    return bad ? ZG_ESTORE : ZG_OK;
}

/* What is left of a bounded call's time (at least 1 ms), capped at `cap`; `cap` when unbounded. */
static int64_t bounded(const zg_redis *r, int64_t give_up_at, int64_t cap)
{
    if (!r->url.timeout_ms) return cap;
    int64_t left = give_up_at - zg_clock_monotonic_ms();
    if (left < 1) left = 1;
    return left < cap ? left : cap;
}

/* Opens a new connection (authenticated, on the right database) into r->ctx. */
static int connect_now(zg_redis *r, int64_t give_up_at, zg_error *err)
{
    char name[600];
    struct timeval tv = tv_ms(bounded(r, give_up_at, CONNECT_TIMEOUT_MS));
    redisContext *c = r->url.socket[0] ? redisConnectUnixWithTimeout(r->url.socket, tv)
                                       : redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!c) return zg_fail(err, ZG_ENOMEM, "out of memory connecting to redis");
    if (c->err) {
        zg_fail(err, ZG_ESTORE, "cannot connect to redis at %s: %s",
                where(&r->url, name, sizeof name), c->errstr);
        redisFree(c);
        return ZG_ESTORE;
    }
    redisSetTimeout(c, tv_ms(bounded(r, give_up_at, DEFAULT_READ_TIMEOUT_MS)));
    int rc = ZG_OK;
    if (r->url.password[0]) {
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

int zg_redis_open(zg_redis *r, const char *url, zg_error *err)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->retry_window_ms = RETRY_WINDOW_MS;
    char plain[2048];
    int64_t timeout_ms = 0;
    const char *suffix = strstr(url, TIMEOUT_SUFFIX);
    if (suffix) {
        timeout_ms = strtoll(suffix + strlen(TIMEOUT_SUFFIX), NULL, 10);
        snprintf(plain, sizeof plain, "%.*s", (int)(suffix - url), url);
        url = plain;
    }
    int rc = zg_redis_parse_url(url, &r->url, err);
    if (rc != ZG_OK) return rc;
    if (timeout_ms > 0) r->url.timeout_ms = r->retry_window_ms = timeout_ms;
    return connect_now(r, zg_clock_monotonic_ms() + r->retry_window_ms, err);
}

void zg_redis_close(zg_redis *r)
{
    if (r->ctx) redisFree(r->ctx);
    r->ctx = NULL;
    pthread_mutex_destroy(&r->lock);
}

/* Reconnects with backoff until it works or the retry window closes. */
static int reconnect(zg_redis *r, int64_t give_up_at, zg_error *err)
{
    int64_t backoff = 50;
    for (;;) {
        if (r->ctx) redisFree(r->ctx);
        r->ctx = NULL;
        if (connect_now(r, give_up_at, err) == ZG_OK) return ZG_OK;
        if (zg_clock_monotonic_ms() + backoff > give_up_at) return ZG_ESTORE;
        zg_clock_sleep_ms(backoff);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
}

redisReply *zg_redis_command(zg_redis *r, int argc, const char **argv, const size_t *lens,
                             int64_t read_timeout_ms, zg_error *err)
{
    /* a bounded connection gives a blocking command its own wait on top of the bound */
    int64_t give_up_at =
        zg_clock_monotonic_ms() + r->retry_window_ms + (r->url.timeout_ms ? read_timeout_ms : 0);
    for (;;) {
        if (!r->ctx && reconnect(r, give_up_at, err) != ZG_OK) return NULL;
        int64_t wait_ms = read_timeout_ms ? read_timeout_ms : DEFAULT_READ_TIMEOUT_MS;
        int set = read_timeout_ms || r->url.timeout_ms;
        if (set) redisSetTimeout(r->ctx, tv_ms(bounded(r, give_up_at, wait_ms)));
        redisReply *reply = redisCommandArgv(r->ctx, argc, argv, lens);
        if (read_timeout_ms && !r->url.timeout_ms)
            redisSetTimeout(r->ctx, tv_ms(DEFAULT_READ_TIMEOUT_MS));
        if (reply) {
            if (reply->type != REDIS_REPLY_ERROR) return reply;
            zg_fail(err, ZG_ESTORE, "redis: %s", reply->str);
            freeReplyObject(reply);
            return NULL;
        }
        /* the connection broke: the command may or may not have run; try again on a new one */
        zg_fail(err, ZG_ESTORE, "redis connection lost: %s", r->ctx->errstr);
        redisFree(r->ctx);
        r->ctx = NULL;
        if (zg_clock_monotonic_ms() >= give_up_at) return NULL;
    }
}

static int load_script(zg_redis *r, zg_redis_script *s, zg_error *err)
{
    const char *argv[] = {"SCRIPT", "LOAD", s->source};
    redisReply *reply = zg_redis_command(r, 3, argv, NULL, 0, err);
    if (!reply) return err->code;
    int ok = reply->type == REDIS_REPLY_STRING && reply->len == 40;
    if (ok) memcpy(s->sha, reply->str, 41);
    freeReplyObject(reply);
    return ok ? ZG_OK : zg_fail(err, ZG_ESTORE, "redis: SCRIPT LOAD gave no sha");
}

redisReply *zg_redis_script_run(zg_redis *r, zg_redis_script *s, int nkeys, int argc,
                                const char **argv, const size_t *lens, zg_error *err)
{
    const char *full[64];
    size_t full_lens[64];
    char nk[16];
    if (argc + 3 > 64) {
        zg_fail(err, ZG_EINVAL, "too many script arguments");
        return NULL;
    }
    snprintf(nk, sizeof nk, "%d", nkeys);
    full[0] = "EVALSHA";
    full[2] = nk;
    full_lens[0] = 7;
    full_lens[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        full[i + 3] = argv[i];
        full_lens[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!s->sha[0] && load_script(r, s, err) != ZG_OK) return NULL;
        full[1] = s->sha;
        full_lens[1] = 40;
        redisReply *reply = zg_redis_command(r, argc + 3, full, full_lens, 0, err);
        if (reply || strstr(err->msg, "NOSCRIPT") == NULL) return reply;
        s->sha[0] = '\0'; /* the server restarted or was flushed: load it again */
    }
    return NULL;
}

static void free_replies(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i]) freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

/* Sends the pipeline once: ZG_OK, ZG_ESTORE on a broken connection (replies freed), or
 * ZG_ENOTFOUND when the server lost the script (NOSCRIPT). */
static int pipeline_once(zg_redis *r, zg_redis_script *s, int nkeys, size_t n, const int *argcs,
                         const char *const *const *argvs, redisReply **replies, zg_error *err)
{
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    for (size_t i = 0; i < n; i++) {
        const char *full[64] = {"EVALSHA", s->sha, nk};
        for (int a = 0; a < argcs[i] && a < 61; a++)
            full[a + 3] = argvs[i][a];
        if (redisAppendCommandArgv(r->ctx, argcs[i] + 3, full, NULL) != REDIS_OK)
            return zg_fail(err, ZG_ENOMEM, "out of memory building a pipeline");
    }
    int noscript = 0;
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        if (redisGetReply(r->ctx, &reply) != REDIS_OK) {
            zg_fail(err, ZG_ESTORE, "redis connection lost: %s", r->ctx->errstr);
            free_replies(replies, i);
            redisFree(r->ctx);
            r->ctx = NULL;
            return ZG_ESTORE;
        }
        replies[i] = reply;
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            if (strstr(replies[i]->str, "NOSCRIPT"))
                noscript = 1;
            else
                zg_fail(err, ZG_ESTORE, "redis: %s", replies[i]->str);
        }
    }
    if (noscript) {
        free_replies(replies, n);
        s->sha[0] = '\0';
        return ZG_ENOTFOUND;
    }
    return ZG_OK;
}

int zg_redis_script_pipeline(zg_redis *r, zg_redis_script *s, int nkeys, size_t n, const int *argcs,
                             const char *const *const *argvs, redisReply **replies, zg_error *err)
{
    int64_t give_up_at = zg_clock_monotonic_ms() + r->retry_window_ms;
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    for (;;) {
        if (!s->sha[0] && load_script(r, s, err) != ZG_OK) return err->code;
        if (!r->ctx && reconnect(r, give_up_at, err) != ZG_OK) return err->code;
        if (r->url.timeout_ms)
            redisSetTimeout(r->ctx, tv_ms(bounded(r, give_up_at, DEFAULT_READ_TIMEOUT_MS)));
        int rc = pipeline_once(r, s, nkeys, n, argcs, argvs, replies, err);
        if (rc == ZG_OK || rc == ZG_ENOMEM) return rc;
        if (zg_clock_monotonic_ms() >= give_up_at) return ZG_ESTORE;
    }
}

void zg_redis_url_string(const zg_redis_url *u, char *out, size_t size)
{
    int n;
    if (u->socket[0])
        n = snprintf(out, size, "unix://%s?db=%d", u->socket, u->db);
    else if (u->password[0])
        n = snprintf(out, size, "redis://:%s@%s:%d/%d", u->password, u->host, u->port, u->db);
    else
        n = snprintf(out, size, "redis://%s:%d/%d", u->host, u->port, u->db);
    if (u->timeout_ms && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, TIMEOUT_SUFFIX "%lld", (long long)u->timeout_ms);
}

void zg_redis_token(char out[33])
{
    uuid_t id;
    uuid_generate_random(id);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}
