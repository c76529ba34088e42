/* store_redis: job documents in Redis.
 *
 * A document is a hash under its key (`zerog_job_<uuid>`): one field per document field holding
 * its JSON text, `cas`, and `_op` (the token of the last write, so a write retried across a
 * reconnect is applied once). Its lists are Redis lists under `{zerog_job_<uuid>}:events` (and
 * :warnings, :errors): the hash tag puts them in the document key's hash slot, so every script
 * below touches one slot and a Redis Cluster could serve them. Appending is RPUSH: the same cost
 * for the 10th and the 100,000th entry. Each state change is one script, atomic on the server. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "redis_conn.h"
#include "store.h"
#include "strbuf.h"

typedef struct redis_store {
    zg_store base;
    zg_redis conn;
    zg_redis_script load, save, append, expire;
} redis_store;

/* KEYS: doc, events, warnings, errors. Returns false, or {hash pairs, events, warnings, errors}. */
static const char LOAD_LUA[] =
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "if #h == 0 then return false end\n"
    "return {h, redis.call('LRANGE', KEYS[2], 0, -1), redis.call('LRANGE', KEYS[3], 0, -1),\n"
    "        redis.call('LRANGE', KEYS[4], 0, -1)}\n";

/* KEYS: doc, events, warnings, errors. ARGV: expected cas, token, expire seconds (0: leave),
 * name, value, ... Returns {1, cas} or {0, stored cas}. */
static const char SAVE_LUA[] =
    "local cur = tonumber(redis.call('HGET', KEYS[1], 'cas') or '0')\n"
    "if cur > 0 and redis.call('HGET', KEYS[1], '_op') == ARGV[2] then return {1, cur} end\n"
    "if cur ~= tonumber(ARGV[1]) then return {0, cur} end\n"
    "redis.call('HSET', KEYS[1], '_op', ARGV[2], unpack(ARGV, 4))\n"
    "local new = redis.call('HINCRBY', KEYS[1], 'cas', 1)\n"
    "if tonumber(ARGV[3]) > 0 then\n"
    "  for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end\n"
    "end\n"
    "return {1, new}\n";

/* KEYS: doc, list. ARGV: entry, stamp field, stamp, count field or '', token.
 * Returns false (no document) or {cas before, cas after}. */
static const char APPEND_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return false end\n"
    "local cur = tonumber(redis.call('HGET', KEYS[1], 'cas') or '0')\n"
    "if redis.call('HGET', KEYS[1], '_op') == ARGV[5] then return {cur - 1, cur} end\n"
    "redis.call('RPUSH', KEYS[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[1], ARGV[2], ARGV[3], '_op', ARGV[5])\n"
    "if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[1], ARGV[4], 1) end\n"
    "local ttl = redis.call('PTTL', KEYS[1])\n"
    "if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end\n"
    "return {cur, redis.call('HINCRBY', KEYS[1], 'cas', 1)}\n";

/* KEYS: doc, events, warnings, errors. ARGV: seconds (0: persist). Returns 0 if no document. */
static const char EXPIRE_LUA[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "for i = 1, 4 do\n"
    "  if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[i], ARGV[1])\n"
    "  else redis.call('PERSIST', KEYS[i]) end\n"
    "end\n"
    "return 1\n";

typedef struct doc_keys {
    char doc[200], lists[3][220];
    const char *argv[4];
} doc_keys;

static int make_keys(doc_keys *k, const char *key, zg_error *err)
{
    if (strlen(key) >= sizeof k->doc) return zg_fail(err, ZG_EINVAL, "key too long: %s", key);
    snprintf(k->doc, sizeof k->doc, "%s", key);
    k->argv[0] = k->doc;
    for (int i = 0; i < 3; i++) {
        snprintf(k->lists[i], sizeof k->lists[i], "{%s}:%s", key, zg_store_lists[i]);
        k->argv[i + 1] = k->lists[i];
    }
    return ZG_OK;
}

static void append_list(zg_strbuf *b, const char *name, const redisReply *list)
{
    zg_strbuf_printf(b, ",\"%s\":[", name);
    for (size_t i = 0; i < list->elements; i++) {
        if (i) zg_strbuf_puts(b, ",");
        zg_strbuf_append(b, list->element[i]->str, list->element[i]->len);
    }
    zg_strbuf_puts(b, "]");
}

static int redis_load(zg_store *s, const char *key, char **json, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    doc_keys k;
    if (make_keys(&k, key, err) != ZG_OK) return err->code;
    pthread_mutex_lock(&r->conn.lock);
    redisReply *reply = zg_redis_script_run(&r->conn, &r->load, 4, 4, k.argv, NULL, err);
    pthread_mutex_unlock(&r->conn.lock);
    if (!reply) return err->code;
    int rc = ZG_OK;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
        rc = zg_fail(err, ZG_ENOTFOUND, "no document %s", key);
    } else {
        zg_strbuf b;
        zg_strbuf_init(&b);
        const redisReply *h = reply->element[0];
        const char *cas = "0";
        for (size_t i = 0; i + 1 < h->elements; i += 2)
            if (strcmp(h->element[i]->str, "cas") == 0) cas = h->element[i + 1]->str;
        zg_strbuf_printf(&b, "{\"cas\":%s", cas);
        for (size_t i = 0; i + 1 < h->elements; i += 2) {
            const char *name = h->element[i]->str;
            if (name[0] == '_' || strcmp(name, "cas") == 0) continue;
            zg_strbuf_printf(&b, ",\"%s\":", name);
            zg_strbuf_append(&b, h->element[i + 1]->str, h->element[i + 1]->len);
        }
        for (int l = 0; l < 3; l++)
            append_list(&b, zg_store_lists[l], reply->element[l + 1]);
        zg_strbuf_puts(&b, "}");
        *json = zg_strbuf_take(&b);
        if (!*json) rc = zg_fail(err, ZG_ENOMEM, "out of memory loading %s", key);
    }
    freeReplyObject(reply);
    return rc;
}

static int redis_save(zg_store *s, const char *key, size_t n, const char *const *names,
                      const char *const *values, int64_t expected, int64_t expire_seconds,
                      int64_t *cas, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    doc_keys k;
    if (make_keys(&k, key, err) != ZG_OK) return err->code;
    if (n > 26) return zg_fail(err, ZG_EINVAL, "too many fields in one save (%zu)", n);
    char exp[24], ttl[24], token[33];
    snprintf(exp, sizeof exp, "%lld", (long long)expected);
    snprintf(ttl, sizeof ttl, "%lld", (long long)(expire_seconds > 0 ? expire_seconds : 0));
    zg_redis_token(token);
    const char *argv[64] = {k.argv[0], k.argv[1], k.argv[2], k.argv[3], exp, token, ttl};
    int argc = 7;
    for (size_t i = 0; i < n; i++) {
        argv[argc++] = names[i];
        argv[argc++] = values[i];
    }
    pthread_mutex_lock(&r->conn.lock);
    redisReply *reply = zg_redis_script_run(&r->conn, &r->save, 4, argc, argv, NULL, err);
    pthread_mutex_unlock(&r->conn.lock);
    if (!reply) return err->code;
    int rc = ZG_OK;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        rc = zg_fail(err, ZG_ESTORE, "redis: unexpected reply saving %s", key);
    } else {
        *cas = reply->element[1]->integer;
        if (reply->element[0]->integer != 1)
            rc = zg_fail(err, ZG_ECAS, "cas mismatch on %s: stored %lld, expected %lld", key,
                         (long long)*cas, (long long)expected);
    }
    freeReplyObject(reply);
    return rc;
}

static int redis_save_many(zg_store *s, zg_save_req *reqs, size_t n, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    int rc = ZG_ENOMEM;
    int *argcs = calloc(n ? n : 1, sizeof *argcs);
    const char ***argvs = calloc(n ? n : 1, sizeof *argvs);
    char(*nums)[2][40] = calloc(n ? n : 1, sizeof *nums); /* expected cas and token */
    redisReply **replies = calloc(n ? n : 1, sizeof *replies);
    doc_keys *keys = calloc(n ? n : 1, sizeof *keys);
    if (!argcs || !argvs || !nums || !replies || !keys) goto done;
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].n > 26 || make_keys(&keys[i], reqs[i].key, err) != ZG_OK) {
            rc = zg_fail(err, ZG_EINVAL, "bad save in a batch: %s", reqs[i].key);
            goto done;
        }
        argvs[i] = calloc(7 + 2 * reqs[i].n, sizeof(char *));
        if (!argvs[i]) goto done;
        snprintf(nums[i][0], sizeof nums[i][0], "%lld", (long long)reqs[i].expected);
        zg_redis_token(nums[i][1]);
        for (int k = 0; k < 4; k++)
            argvs[i][k] = keys[i].argv[k];
        argvs[i][4] = nums[i][0];
        argvs[i][5] = nums[i][1];
        argvs[i][6] = "0";
        for (size_t f = 0; f < reqs[i].n; f++) {
            argvs[i][7 + 2 * f] = reqs[i].names[f];
            argvs[i][8 + 2 * f] = reqs[i].values[f];
        }
        argcs[i] = (int)(7 + 2 * reqs[i].n);
    }
    pthread_mutex_lock(&r->conn.lock);
    rc = zg_redis_script_pipeline(&r->conn, &r->save, 4, n, argcs,
                                  (const char *const *const *)argvs, replies, err);
    pthread_mutex_unlock(&r->conn.lock);
    for (size_t i = 0; rc == ZG_OK && i < n; i++) {
        redisReply *rep = replies[i];
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            rc = zg_fail(err, ZG_ESTORE, "redis: unexpected reply saving %s", reqs[i].key);
            break;
        }
        reqs[i].cas = rep->element[1]->integer;
        reqs[i].rc = rep->element[0]->integer == 1 ? ZG_OK : ZG_ECAS;
    }
done:
    if (rc == ZG_ENOMEM && err->code != ZG_ENOMEM) zg_fail(err, ZG_ENOMEM, "out of memory");
    for (size_t i = 0; replies && i < n; i++)
        if (replies[i]) freeReplyObject(replies[i]);
    for (size_t i = 0; argvs && i < n; i++)
        free(argvs[i]);
    free(argcs);
    free(argvs);
    free(nums);
    free(replies);
    free(keys);
    return rc;
}

static int redis_append(zg_store *s, const char *key, const char *list, const char *entry,
                        const char *stamp_field, const char *stamp, const char *count_field,
                        int64_t *prev_cas, int64_t *cas, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    doc_keys k;
    if (make_keys(&k, key, err) != ZG_OK) return err->code;
    int l;
    for (l = 0; l < 3 && strcmp(zg_store_lists[l], list) != 0; l++) {
    }
    if (l == 3) return zg_fail(err, ZG_EINVAL, "no list named %s", list);
    char token[33];
    zg_redis_token(token);
    const char *argv[] = {
        k.doc, k.lists[l], entry, stamp_field, stamp, count_field ? count_field : "", token};
    pthread_mutex_lock(&r->conn.lock);
    redisReply *reply = zg_redis_script_run(&r->conn, &r->append, 2, 7, argv, NULL, err);
    pthread_mutex_unlock(&r->conn.lock);
    if (!reply) return err->code;
    int rc = ZG_OK;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        rc = zg_fail(err, ZG_ENOTFOUND, "no document %s", key);
    } else {
        *prev_cas = reply->element[0]->integer;
        *cas = reply->element[1]->integer;
    }
    freeReplyObject(reply);
    return rc;
}

static int redis_expire(zg_store *s, const char *key, int64_t seconds, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    doc_keys k;
    if (make_keys(&k, key, err) != ZG_OK) return err->code;
    char secs[24];
    snprintf(secs, sizeof secs, "%lld", (long long)seconds);
    const char *argv[] = {k.argv[0], k.argv[1], k.argv[2], k.argv[3], secs};
    pthread_mutex_lock(&r->conn.lock);
    redisReply *reply = zg_redis_script_run(&r->conn, &r->expire, 4, 5, argv, NULL, err);
    pthread_mutex_unlock(&r->conn.lock);
    if (!reply) return err->code;
    int found = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    freeReplyObject(reply);
    return found ? ZG_OK : zg_fail(err, ZG_ENOTFOUND, "no document %s", key);
}

static int redis_publish(zg_store *s, const char *channel, const char *message, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    const char *argv[] = {"PUBLISH", channel, message};
    pthread_mutex_lock(&r->conn.lock);
    redisReply *reply = zg_redis_command(&r->conn, 3, argv, NULL, 0, err);
    pthread_mutex_unlock(&r->conn.lock);
    if (!reply) return err->code;
    freeReplyObject(reply);
    return ZG_OK;
}

/* Subscribes on a connection of its own and reads with poll(), so the stop flag is seen twice a
 * second without breaking the connection with a read timeout. A lost connection resubscribes. */
static int redis_follow(zg_store *s, const char *channel, void (*fn)(void *, const char *),
                        void *ud, volatile sig_atomic_t *stop, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    char url[1024];
    zg_redis_url_string(&r->conn.url, url, sizeof url);
    while (!*stop) {
        zg_redis sub;
        if (zg_redis_open(&sub, url, err) != ZG_OK) {
            zg_redis_close(&sub);
            for (int i = 0; i < 10 && !*stop; i++)
                zg_clock_sleep_ms(100);
            continue;
        }
        const char *argv[] = {"SUBSCRIBE", channel};
        redisReply *reply = zg_redis_command(&sub, 2, argv, NULL, 0, err);
        if (reply) freeReplyObject(reply);
        while (reply && !*stop) {
            void *msg = NULL;
            if (redisGetReplyFromReader(sub.ctx, &msg) != REDIS_OK) break;
            if (!msg) {
                struct pollfd p = {sub.ctx->fd, POLLIN, 0};
                if (poll(&p, 1, 500) > 0 && redisBufferRead(sub.ctx) != REDIS_OK) break;
                continue;
            }
            redisReply *m = msg;
            if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 && m->element[2]->str)
                fn(ud, m->element[2]->str);
            freeReplyObject(m);
        }
        zg_redis_close(&sub);
    }
    return ZG_OK;
}

static void redis_close(zg_store *s)
{
    redis_store *r = (redis_store *)s;
    zg_redis_close(&r->conn);
    free(r);
}

static const zg_store_ops redis_ops = {redis_load,    redis_save,   redis_save_many, redis_append,
                                       redis_publish, redis_follow, redis_expire,    redis_close};

zg_store *zg_store_redis_new(const char *url, zg_error *err)
{
    redis_store *r = calloc(1, sizeof *r);
    if (!r) {
        zg_fail(err, ZG_ENOMEM, "out of memory");
        return NULL;
    }
    r->base.ops = &redis_ops;
    r->load.source = LOAD_LUA;
    r->save.source = SAVE_LUA;
    r->append.source = APPEND_LUA;
    r->expire.source = EXPIRE_LUA;
    if (zg_redis_open(&r->conn, url, err) != ZG_OK) {
        zg_redis_close(&r->conn);
        free(r);
        return NULL;
    }
    return &r->base;
}
