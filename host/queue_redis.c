/* queue_redis: the job queue in Redis, with the in-memory queue's (beanstalkd's) semantics.
 *
 * A queue named N lives under keys with the hash tag {zq:N}, so each script touches one slot:
 *   {zq:N}:ready     sorted set, score = priority, member = the id padded to 20 digits (so equal
 *                    priorities come out in id order: Redis orders equal scores by member)
 *   {zq:N}:delayed   sorted set, score = when it becomes ready (server ms)
 *   {zq:N}:reserved  sorted set, score = the reservation's deadline (server ms)
 *   {zq:N}:msg:<id>  hash: body, pri, ttr, reserves, timeouts, releases, res (the reservation)
 *   {zq:N}:seq       the id counter; {zq:N}:signal  a short list pushed when a message becomes
 *                    ready, which blocked reservers wait on with BLPOP (no polling)
 *   {zq:N}:op:<tok>  the result of a put / reserve / delete, kept 10 minutes, so one retried
 *                    across a reconnect is applied once
 * Time is the server's (TIME), so hosts with skewed clocks agree on delays and deadlines. Every
 * script first applies lapsed delays and deadlines (a lapsed reservation counts a timeout). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "queue.h"
#include "redis_conn.h"

#define PRELUDE                                                                                    \
    "local p = KEYS[1]\n"                                                                          \
    "local t = redis.call('TIME')\n"                                                               \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                      \
    "local function signal()\n"                                                                    \
    "  if redis.call('LLEN', p .. ':signal') < 16 then redis.call('RPUSH', p .. ':signal', 1) "    \
    "end\n"                                                                                        \
    "end\n"                                                                                        \
    "local function make_ready(m)\n"                                                               \
    "  redis.call('ZADD', p .. ':ready', redis.call('HGET', p .. ':msg:' .. m, 'pri'), m)\n"       \
    "end\n"                                                                                        \
    "local moved = 0\n"                                                                            \
    "for _, m in ipairs(redis.call('ZRANGEBYSCORE', p .. ':delayed', '-inf', now, 'LIMIT', 0, "    \
    "1000)) do\n"                                                                                  \
    "  redis.call('ZREM', p .. ':delayed', m); make_ready(m); moved = moved + 1\n"                 \
    "end\n"                                                                                        \
    "for _, m in ipairs(redis.call('ZRANGEBYSCORE', p .. ':reserved', '-inf', now, 'LIMIT', 0, "   \
    "1000)) do\n"                                                                                  \
    "  redis.call('ZREM', p .. ':reserved', m)\n"                                                  \
    "  redis.call('HINCRBY', p .. ':msg:' .. m, 'timeouts', 1); make_ready(m); moved = moved + "   \
    "1\n"                                                                                          \
    "end\n"                                                                                        \
    "if moved > 0 then signal() end\n"                                                             \
    "local function pad(id) return string.format('%020d', tonumber(id)) end\n"                     \
    "local function place(m, delay)\n"                                                             \
    "  if delay > 0 then redis.call('ZADD', p .. ':delayed', now + delay, m)\n"                    \
    "  else make_ready(m); signal() end\n"                                                         \
    "end\n"                                                                                        \
    "-- 1 when message m is reserved under reservation res; 0 stale; -1 no such message\n"         \
    "local function check(m, res)\n"                                                               \
    "  if redis.call('EXISTS', p .. ':msg:' .. m) == 0 then return -1 end\n"                       \
    "  if not redis.call('ZSCORE', p .. ':reserved', m) then return 0 end\n"                       \
    "  if redis.call('HGET', p .. ':msg:' .. m, 'res') ~= res then return 0 end\n"                 \
    "  return 1\n"                                                                                 \
    "end\n"

/* ARGV: body, priority, delay ms, ttr ms, token. Returns the id. */
static const char PUT_LUA[] = PRELUDE
    "local done = redis.call('GET', p .. ':op:' .. ARGV[5])\n"
    "if done then return tonumber(done) end\n"
    "local id = redis.call('INCR', p .. ':seq')\n"
    "local m = pad(id)\n"
    "redis.call('HSET', p .. ':msg:' .. m, 'body', ARGV[1], 'pri', ARGV[2], 'ttr', ARGV[4],\n"
    "           'reserves', 0, 'timeouts', 0, 'releases', 0, 'res', 0)\n"
    "place(m, tonumber(ARGV[3]))\n"
    "redis.call('SET', p .. ':op:' .. ARGV[5], id, 'EX', 600)\n"
    "return id\n";

/* ARGV: token. Returns {1, id, reservation, body, pri, ttr, timeouts, releases} or
 * {0, ms until the next message may become ready (-1: none pending)}. */
static const char RESERVE_LUA[] = PRELUDE
    "local function reply(m)\n"
    "  local h = redis.call('HMGET', p .. ':msg:' .. m, 'res', 'body', 'pri', 'ttr', 'timeouts', "
    "'releases')\n"
    "  return {1, tonumber(m), tonumber(h[1]), h[2], tonumber(h[3]), tonumber(h[4]), "
    "tonumber(h[5]), tonumber(h[6])}\n"
    "end\n"
    "local done = redis.call('GET', p .. ':op:' .. ARGV[1])\n"
    "if done then return reply(done) end\n"
    "local top = redis.call('ZRANGE', p .. ':ready', 0, 0)\n"
    "if #top == 0 then\n"
    "  local next = -1\n"
    "  for _, z in ipairs({':delayed', ':reserved'}) do\n"
    "    local first = redis.call('ZRANGE', p .. z, 0, 0, 'WITHSCORES')\n"
    "    if #first > 0 then\n"
    "      local wait = math.max(0, tonumber(first[2]) - now)\n"
    "      if next < 0 or wait < next then next = wait end\n"
    "    end\n"
    "  end\n"
    "  return {0, next}\n"
    "end\n"
    "local m = top[1]\n"
    "local k = p .. ':msg:' .. m\n"
    "redis.call('ZREM', p .. ':ready', m)\n"
    "local res = redis.call('HINCRBY', k, 'reserves', 1)\n"
    "redis.call('HSET', k, 'res', res)\n"
    "redis.call('ZADD', p .. ':reserved', now + tonumber(redis.call('HGET', k, 'ttr')), m)\n"
    "redis.call('SET', p .. ':op:' .. ARGV[1], m, 'EX', 600)\n"
    "return reply(m)\n";

/* Returns {1, priority of the most urgent ready message} or {0, ms until one may be ready}. */
static const char PEEK_LUA[] =
    PRELUDE "local top = redis.call('ZRANGE', p .. ':ready', 0, 0, 'WITHSCORES')\n"
            "if #top > 0 then return {1, tonumber(top[2])} end\n"
            "local next = -1\n"
            "for _, z in ipairs({':delayed', ':reserved'}) do\n"
            "  local first = redis.call('ZRANGE', p .. z, 0, 0, 'WITHSCORES')\n"
            "  if #first > 0 then\n"
            "    local wait = math.max(0, tonumber(first[2]) - now)\n"
            "    if next < 0 or wait < next then next = wait end\n"
            "  end\n"
            "end\n"
            "return {0, next}\n";

/* ARGV: id, reservation, delay ms. Returns 1, 0 (stale) or -1 (no such message). A release
 * retried after it was applied finds the message no longer reserved by us: 0, which the caller
 * accepts on a retry. */
static const char RELEASE_LUA[] =
    PRELUDE "local m = pad(ARGV[1])\n"
            "local ok = check(m, ARGV[2])\n"
            "if ok ~= 1 then return ok end\n"
            "redis.call('ZREM', p .. ':reserved', m)\n"
            "redis.call('HINCRBY', p .. ':msg:' .. m, 'releases', 1)\n"
            "place(m, tonumber(ARGV[3]))\n"
            "return 1\n";

/* ARGV: id, reservation. Returns 1, 0 (stale) or -1 (no such message). */
static const char REMOVE_LUA[] = PRELUDE "local m = pad(ARGV[1])\n"
                                         "local ok = check(m, ARGV[2])\n"
                                         "if ok ~= 1 then return ok end\n"
                                         "redis.call('ZREM', p .. ':reserved', m)\n"
                                         "redis.call('DEL', p .. ':msg:' .. m)\n"
                                         "return 1\n";

/* ARGV: id, reservation. Returns 1, 0 (stale) or -1. */
static const char TOUCH_LUA[] =
    PRELUDE "local m = pad(ARGV[1])\n"
            "local ok = check(m, ARGV[2])\n"
            "if ok ~= 1 then return ok end\n"
            "redis.call('ZADD', p .. ':reserved', now + tonumber(redis.call('HGET', p .. ':msg:' "
            ".. m, 'ttr')), m)\n"
            "return 1\n";

/* ARGV: id. Returns 1 or -1. */
static const char DISCARD_LUA[] = PRELUDE
    "local m = pad(ARGV[1])\n"
    "if redis.call('EXISTS', p .. ':msg:' .. m) == 0 then return -1 end\n"
    "for _, z in ipairs({':ready', ':delayed', ':reserved'}) do redis.call('ZREM', p .. z, m) end\n"
    "redis.call('DEL', p .. ':msg:' .. m)\n"
    "return 1\n";

/* Returns how many delayed messages were made ready. */
static const char KICK_LUA[] =
    PRELUDE "local all = redis.call('ZRANGE', p .. ':delayed', 0, -1)\n"
            "for _, m in ipairs(all) do redis.call('ZREM', p .. ':delayed', m); make_ready(m) end\n"
            "if #all > 0 then signal() end\n"
            "return #all\n";

/* Returns {ready, delayed, reserved}. */
static const char COUNTS_LUA[] =
    PRELUDE "return {redis.call('ZCARD', p .. ':ready'), redis.call('ZCARD', p .. ':delayed'),\n"
            "        redis.call('ZCARD', p .. ':reserved')}\n";

/* ARGV: id. Returns false or {state, pri, reserves, timeouts, releases, ms left}. */
static const char STATS_LUA[] =
    PRELUDE "local m = pad(ARGV[1])\n"
            "local k = p .. ':msg:' .. m\n"
            "if redis.call('EXISTS', k) == 0 then return false end\n"
            "local h = redis.call('HMGET', k, 'pri', 'reserves', 'timeouts', 'releases')\n"
            "local state, left = 0, 0\n"
            "local d = redis.call('ZSCORE', p .. ':delayed', m)\n"
            "local r = redis.call('ZSCORE', p .. ':reserved', m)\n"
            "if d then state, left = 1, tonumber(d) - now elseif r then state, left = 2, "
            "tonumber(r) - now end\n"
            "return {state, tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4]), "
            "math.max(0, left)}\n";

enum {
    S_PUT,
    S_RESERVE,
    S_PEEK,
    S_RELEASE,
    S_REMOVE,
    S_TOUCH,
    S_DISCARD,
    S_KICK,
    S_COUNTS,
    S_STATS,
    S_N
};

typedef struct redis_queue {
    zg_queue base;
    zg_redis conn;
    zg_redis_script scripts[S_N];
} redis_queue;

static int prefix(char *out, size_t size, const char *queue, zg_error *err)
{
    if ((size_t)snprintf(out, size, "{zq:%s}", queue) >= size)
        return zg_fail(err, ZG_EINVAL, "queue name too long: %s", queue);
    return ZG_OK;
}

/* Runs script `which` on a queue with string args; returns the reply or NULL (err set). */
static redisReply *run(redis_queue *q, int which, const char *queue, int argc, const char **args,
                       zg_error *err)
{
    char p[ZG_NAME_LEN + 8];
    if (prefix(p, sizeof p, queue, err) != ZG_OK) return NULL;
    const char *argv[16] = {p};
    for (int i = 0; i < argc; i++)
        argv[i + 1] = args[i];
    pthread_mutex_lock(&q->conn.lock);
    redisReply *reply =
        zg_redis_script_run(&q->conn, &q->scripts[which], 1, argc + 1, argv, NULL, err);
    pthread_mutex_unlock(&q->conn.lock);
    return reply;
}

/* For scripts that answer 1 / 0 (stale) / -1 (not found). */
static int status_of(redisReply *reply, const char *queue, int64_t id, zg_error *err)
{
    if (!reply) return err->code;
    long long v = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -2;
    freeReplyObject(reply);
    if (v == 1) return ZG_OK;
    if (v == 0)
        return zg_fail(err, ZG_ESTALE, "the reservation of message %lld in %s has lapsed",
                       (long long)id, queue);
    if (v == -1) return zg_fail(err, ZG_ENOTFOUND, "no message %lld in %s", (long long)id, queue);
    return zg_fail(err, ZG_ESTORE, "redis: unexpected reply");
}

static int rq_put(zg_queue *zq, const char *queue, const char *body, int64_t priority,
                  int64_t delay_ms, int64_t ttr_ms, int64_t *id, zg_error *err)
{
    char pri[24], delay[24], ttr[24], token[33];
    snprintf(pri, sizeof pri, "%lld", (long long)priority);
    snprintf(delay, sizeof delay, "%lld", (long long)(delay_ms > 0 ? delay_ms : 0));
    snprintf(ttr, sizeof ttr, "%lld", (long long)(ttr_ms > 0 ? ttr_ms : 1000));
    zg_redis_token(token);
    const char *args[] = {body, pri, delay, ttr, token};
    redisReply *reply = run((redis_queue *)zq, S_PUT, queue, 5, args, err);
    if (!reply) return err->code;
    *id = reply->integer;
    freeReplyObject(reply);
    return ZG_OK;
}

static int rq_put_many(zg_queue *zq, const char *queue, size_t n, const char *const *bodies,
                       int64_t priority, int64_t delay_ms, int64_t ttr_ms, int64_t *ids,
                       zg_error *err)
{
    redis_queue *q = (redis_queue *)zq;
    char p[ZG_NAME_LEN + 8], pri[24], delay[24], ttr[24];
    if (prefix(p, sizeof p, queue, err) != ZG_OK) return err->code;
    snprintf(pri, sizeof pri, "%lld", (long long)priority);
    snprintf(delay, sizeof delay, "%lld", (long long)(delay_ms > 0 ? delay_ms : 0));
    snprintf(ttr, sizeof ttr, "%lld", (long long)(ttr_ms > 0 ? ttr_ms : 1000));
    int rc = ZG_ENOMEM;
    int *argcs = calloc(n ? n : 1, sizeof *argcs);
    const char *(*argvs)[6] = calloc(n ? n : 1, sizeof *argvs);
    const char ***rows = calloc(n ? n : 1, sizeof *rows);
    char(*tokens)[33] = calloc(n ? n : 1, sizeof *tokens);
    redisReply **replies = calloc(n ? n : 1, sizeof *replies);
    if (!argcs || !argvs || !rows || !tokens || !replies) goto done;
    for (size_t i = 0; i < n; i++) {
        zg_redis_token(tokens[i]);
        const char *row[6] = {p, bodies[i], pri, delay, ttr, tokens[i]};
        memcpy(argvs[i], row, sizeof row);
        rows[i] = argvs[i];
        argcs[i] = 6;
    }
    pthread_mutex_lock(&q->conn.lock);
    rc = zg_redis_script_pipeline(&q->conn, &q->scripts[S_PUT], 1, n, argcs,
                                  (const char *const *const *)rows, replies, err);
    pthread_mutex_unlock(&q->conn.lock);
    for (size_t i = 0; rc == ZG_OK && i < n; i++) {
        if (replies[i]->type != REDIS_REPLY_INTEGER) {
            rc = zg_fail(err, ZG_ESTORE, "redis: unexpected reply putting on %s", queue);
            break;
        }
        ids[i] = replies[i]->integer;
    }
done:
    if (rc == ZG_ENOMEM && err->code != ZG_ENOMEM) zg_fail(err, ZG_ENOMEM, "out of memory");
    for (size_t i = 0; replies && i < n; i++)
        if (replies[i]) freeReplyObject(replies[i]);
    free(argcs);
    free(argvs);
    free(rows);
    free(tokens);
    free(replies);
    return rc;
}

/* One reserve attempt on one queue: ZG_OK with *out, or ZG_ETIMEDOUT with *wait_ms. */
static int reserve_once(redis_queue *q, const char *queue, zg_message *out, int64_t *wait_ms,
                        zg_error *err)
{
    char token[33];
    zg_redis_token(token);
    const char *args[] = {token};
    redisReply *r = run(q, S_RESERVE, queue, 1, args, err);
    if (!r) return err->code;
    int rc = ZG_ETIMEDOUT;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 8 && r->element[0]->integer == 1) {
        memset(out, 0, sizeof *out);
        out->id = r->element[1]->integer;
        out->reservation = r->element[2]->integer;
        out->body = strdup(r->element[3]->str);
        out->priority = r->element[4]->integer;
        out->ttr_ms = r->element[5]->integer;
        out->reserves = out->reservation;
        out->timeouts = r->element[6]->integer;
        out->releases = r->element[7]->integer;
        snprintf(out->queue, sizeof out->queue, "%s", queue);
        rc = out->body ? ZG_OK : zg_fail(err, ZG_ENOMEM, "out of memory");
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        *wait_ms = r->element[1]->integer;
    } else {
        rc = zg_fail(err, ZG_ESTORE, "redis: unexpected reserve reply");
    }
    freeReplyObject(r);
    return rc;
}

/* Waits on the queues' signal lists for up to ms (BLPOP: no polling). */
static void wait_for_signal(redis_queue *q, const char *const *queues, size_t n, int64_t ms)
{
    char keys[16][ZG_NAME_LEN + 16];
    const char *argv[18] = {"BLPOP"};
    size_t k = 0;
    for (size_t i = 0; i < n && i < 16; i++) {
        snprintf(keys[i], sizeof keys[i], "{zq:%s}:signal", queues[i]);
        argv[++k] = keys[i];
    }
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%.3f", (double)(ms < 1 ? 1 : ms) / 1000.0);
    argv[++k] = timeout;
    zg_error err = {0};
    pthread_mutex_lock(&q->conn.lock);
    redisReply *r = zg_redis_command(&q->conn, (int)k + 1, argv, NULL, ms + 5000, &err);
    pthread_mutex_unlock(&q->conn.lock);
    if (r)
        freeReplyObject(r);
    else
        zg_clock_sleep_ms(ms < 100 ? ms : 100); /* an outage: do not spin */
}

/* Which of several queues has the most urgent ready message (lowest priority; on a tie the
 * earlier queue): its index, or -1 with *wait_ms until one of them may have one. */
static int most_urgent(redis_queue *q, const char *const *queues, size_t n, int64_t *wait_ms,
                       zg_error *err)
{
    int best = -1;
    long long best_pri = 0;
    *wait_ms = -1;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = run(q, S_PEEK, queues[i], 0, NULL, err);
        if (!r) return -2;
        long long kind = r->element[0]->integer, v = r->element[1]->integer;
        freeReplyObject(r);
        if (kind == 1 && (best < 0 || v < best_pri)) best = (int)i, best_pri = v;
        if (kind == 0 && v >= 0 && (*wait_ms < 0 || v < *wait_ms)) *wait_ms = v;
    }
    return best;
}

static int rq_reserve(zg_queue *zq, const char *const *queues, size_t n, int64_t timeout_ms,
                      zg_message *out, zg_error *err)
{
    redis_queue *q = (redis_queue *)zq;
    int64_t give_up = zg_clock_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int64_t next = -1;
        int pick = n == 1 ? 0 : most_urgent(q, queues, n, &next, err);
        if (pick == -2) return err->code;
        if (pick >= 0) {
            int rc = reserve_once(q, queues[pick], out, &next, err);
            if (rc != ZG_ETIMEDOUT) return rc;
            if (n > 1) continue; /* another host took it first: look again */
        }
        int64_t left = give_up - zg_clock_monotonic_ms();
        if (left <= 0) return zg_fail(err, ZG_ETIMEDOUT, "no message ready");
        wait_for_signal(q, queues, n, next >= 0 && next < left ? next + 1 : left);
    }
}

static int rq_release(zg_queue *zq, const char *queue, int64_t id, int64_t reservation,
                      int64_t delay_ms, zg_error *err)
{
    char sid[24], res[24], delay[24];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    snprintf(res, sizeof res, "%lld", (long long)reservation);
    snprintf(delay, sizeof delay, "%lld", (long long)(delay_ms > 0 ? delay_ms : 0));
    const char *args[] = {sid, res, delay};
    return status_of(run((redis_queue *)zq, S_RELEASE, queue, 3, args, err), queue, id, err);
}

static int id_and_reservation(redis_queue *q, int which, const char *queue, int64_t id,
                              int64_t reservation, zg_error *err)
{
    char sid[24], res[24];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    snprintf(res, sizeof res, "%lld", (long long)reservation);
    const char *args[] = {sid, res};
    return status_of(run(q, which, queue, 2, args, err), queue, id, err);
}

static int rq_remove(zg_queue *zq, const char *queue, int64_t id, int64_t reservation,
                     zg_error *err)
{
    return id_and_reservation((redis_queue *)zq, S_REMOVE, queue, id, reservation, err);
}

static int rq_touch(zg_queue *zq, const char *queue, int64_t id, int64_t reservation, zg_error *err)
{
    return id_and_reservation((redis_queue *)zq, S_TOUCH, queue, id, reservation, err);
}

static int rq_discard(zg_queue *zq, const char *queue, int64_t id, zg_error *err)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    const char *args[] = {sid};
    return status_of(run((redis_queue *)zq, S_DISCARD, queue, 1, args, err), queue, id, err);
}

static int rq_kick(zg_queue *zq, const char *queue, int64_t *count, zg_error *err)
{
    redisReply *r = run((redis_queue *)zq, S_KICK, queue, 0, NULL, err);
    if (!r) return err->code;
    *count = r->integer;
    freeReplyObject(r);
    return ZG_OK;
}

static int rq_counts(zg_queue *zq, const char *queue, zg_queue_counts *out, zg_error *err)
{
    redisReply *r = run((redis_queue *)zq, S_COUNTS, queue, 0, NULL, err);
    if (!r) return err->code;
    out->ready = r->element[0]->integer;
    out->delayed = r->element[1]->integer;
    out->reserved = r->element[2]->integer;
    freeReplyObject(r);
    return ZG_OK;
}

static int rq_stats(zg_queue *zq, const char *queue, int64_t id, zg_message_stats *out,
                    zg_error *err)
{
    char sid[24];
    snprintf(sid, sizeof sid, "%lld", (long long)id);
    const char *args[] = {sid};
    redisReply *r = run((redis_queue *)zq, S_STATS, queue, 1, args, err);
    if (!r) return err->code;
    int rc = ZG_OK;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
        rc = zg_fail(err, ZG_ENOTFOUND, "no message %lld in %s", (long long)id, queue);
    } else {
        out->state = (int)r->element[0]->integer;
        out->priority = r->element[1]->integer;
        out->reserves = r->element[2]->integer;
        out->timeouts = r->element[3]->integer;
        out->releases = r->element[4]->integer;
        out->time_left_ms = r->element[5]->integer;
    }
    freeReplyObject(r);
    return rc;
}

static void rq_close(zg_queue *zq)
{
    redis_queue *q = (redis_queue *)zq;
    zg_redis_close(&q->conn);
    free(q);
}

static const zg_queue_ops redis_ops = {rq_put,    rq_put_many, rq_reserve, rq_release,
                                       rq_remove, rq_touch,    rq_discard, rq_kick,
                                       rq_counts, rq_stats,    rq_close};

zg_queue *zg_queue_redis_new(const char *url, zg_error *err)
{
    redis_queue *q = calloc(1, sizeof *q);
    if (!q) {
        zg_fail(err, ZG_ENOMEM, "out of memory");
        return NULL;
    }
    q->base.ops = &redis_ops;
    const char *sources[S_N] = {PUT_LUA,   RESERVE_LUA, PEEK_LUA, RELEASE_LUA, REMOVE_LUA,
                                TOUCH_LUA, DISCARD_LUA, KICK_LUA, COUNTS_LUA,  STATS_LUA};
    for (int i = 0; i < S_N; i++)
        q->scripts[i].source = sources[i];
    if (zg_redis_open(&q->conn, url, err) != ZG_OK) {
        zg_redis_close(&q->conn);
        free(q);
        return NULL;
    }
    return &q->base;
}
