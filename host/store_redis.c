/* store_redis: the lifecycle (lifecycle.h) on Redis.
 *
 * Every transition is one Lua script run on the server (the files of lua/redis, embedded in the
 * library; prelude.lua describes the key layout), all of them one Redis function library loaded
 * once and called with FCALL (script_library). Everything of a queue Q carries the hash tag
 * {zq:Q}, so each script touches one hash slot: the job's document and its place in the queue
 * change together or not at all. Reading a job by uuid alone goes through a small pointer key
 * `zerog:job:<uuid>` holding its queue name (two reads); the pointer is written in the same round
 * trip as the submit and expires with the job's retention.
 *
 * A store holds two connections: one for the host's own calls, one for the heartbeat thread's
 * renewals, so a renewal never waits behind a claim blocked on BLPOP. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lifecycle.h"
#include "lua_modules.h"
#include "map.h"
#include "redis_cluster.h"
#include "redis_conn.h"
#include "schedule.h"
#include "strbuf.h"

enum {
    S_SUBMIT,
    S_CLAIM,
    S_PEEK,
    S_TOUCH,
    S_WRITE,
    S_SETTLE,
    S_READ,
    S_KICK,
    S_COUNTS,
    S_STATE,
    S_BURIED,
    S_UNCLAIM,
    S_LIST,
    S_RETRY,
    S_REMOVE,
    S_PURGE,
    S_TYPES,
    /* repeatable jobs */
    S_SCHEDULE_PUT,
    S_SCHEDULE_LIST,
    S_SCHEDULE_REMOVE,
    S_SCHEDULE_ADVANCE,
    S_SCHEDULE_FIRE, /* schedule_fire.lua, then submit.lua */
    S_ADOPT,         /* flows */
    S_CHILDREN,
    S_DELIVER,
    S_OUTBOX,
    S_CLOSE_CLAIMS, /* a live host's unanswered claims (put_back.c) */
    S_POINTER,      /* pointer.lua as a function too: the expiry a run's finish sends ahead */
    S_N
};
static const char *const script_names[S_N] = {
    "submit", "claim", "peek", "touch", "write", "settle", "read", "kick", "counts", "state",
    "buried", "unclaim", "list", "retry", "remove", "purge", "types",
    /* repeatable jobs */
    "schedule_put", "schedule_list", "schedule_remove", "schedule_advance", "schedule_fire",
    /* flows */
    "adopt", "children", "deliver", "outbox", "close_claims", "pointer"};

/* The set of every queue's name (outside any queue's slot). */
#define QUEUES_KEY "zerog:queues"
/* Sharded queues: hash queue name -> its number of shards (absent: 1, an unsharded queue). */
#define SHARDS_KEY "zerog:shards"
/* A queue's key prefix, "{zq:<name>}" or, for a shard, "{zq:<name>~k}" (placement below). */
#define PREFIX_LEN (ZG_NAME_LEN + 24)

typedef struct redis_store {
    zg_store base;
    zg_redis conn; /* the host's calls */
    zg_redis beat; /* the heartbeat's renewals */
    zg_redis_script scripts[S_N];
    zg_redis_script beat_touch;   /* the same script, loaded through the other connection */
    zg_redis_script beat_settle;  /* the watchdog's release, on the heartbeat's connection */
    char *library;                /* every script, as one function library (script_library) */
    char *pointer_script;         /* pointer.lua, sent by EVAL (pointer_script) where the
                                     pointer's node may lack the library */
    char function_names[S_N][48]; /* zerog_<hash>_<script> */
    int64_t announced_ms;         /* when a claim last recorded the types this host asks for */
    /* Serving several queues: the queue the last look found most urgent is claimed from
     * directly for up to STICKY_MS while it yields jobs, instead of asking every queue before
     * every claim (n + 1 scripts). So across queues, priority order holds to within STICKY_MS;
     * within a queue it always holds. A queue is not stuck to when another one's head was as
     * urgent: ties take turns (most_urgent). */
    char sticky[ZG_NAME_LEN];
    int64_t sticky_until_ms;
    zg_map registered; /* queues this store has added to QUEUES_KEY */
    /* sharded queues: the shard counts read or written (queue -> n, as a pointer) and the
     * prefix of each shard "Q~i" (-> a malloc'd string), under placement_lock: the heartbeat
     * thread reads them too */
    pthread_mutex_t placement_lock;
    zg_map shard_counts;
    zg_map shard_prefixes;
} redis_store;

#define STICKY_MS 100

/* Key names of one job. */
typedef struct job_keys {
    char prefix[PREFIX_LEN];
    char job[PREFIX_LEN + ZG_UUID_LEN + 16];
    char lists[3][PREFIX_LEN + ZG_UUID_LEN + 32];
    char pointer[ZG_UUID_LEN + 16]; /* POINTER_KEY_LEN */
} job_keys;

/* ---- placement of sharded queues ----
 * Shard i of a queue Q of n shards is the queue "Q~i" ('~' is outside the names a job type may
 * give a queue). Its hash tag is chosen so that its slot lies in [i*16384/n, (i+1)*16384/n):
 * on a cluster made by `redis-cli --cluster create` (equal contiguous ranges per master) the
 * shards of a queue land on different masters. The tag is {zq:Q~i} when its CRC16 already
 * lands in the range, else {zq:Q~i~k} with the smallest k that does: deterministic, so every
 * process finds the same keys. n comes from SHARDS_KEY (cached: a change of n needs the
 * queue drained and the hosts restarted, README "Sharded queues"). */

/* Splits "Q~i" into Q (base, ZG_NAME_LEN) and i; 0 when queue is not a shard's name. */
static int shard_name(const char *queue, char base[ZG_NAME_LEN], int *i)
{
    const char *tilde = strrchr(queue, '~');
    if (!tilde || tilde == queue || (size_t)(tilde - queue) >= ZG_NAME_LEN) return 0;
    const char *d = tilde + 1;
    if (!*d || strlen(d) > 2 || (d[0] == '0' && d[1]) || strspn(d, "0123456789") != strlen(d))
        return 0;
    *i = atoi(d);
    if (*i >= ZG_SHARDS_MAX) return 0;
    memcpy(base, queue, (size_t)(tilde - queue));
    base[tilde - queue] = '\0';
    return 1;
}

/* The prefix of shard i of n of a queue named `shard` ("Q~i"), into out (PREFIX_LEN). */
static void shard_prefix(char *out, const char *shard, int i, int n)
{
    unsigned lo = (unsigned)i * 16384u / (unsigned)n, hi = (unsigned)(i + 1) * 16384u / (unsigned)n;
    for (long k = -1;; k++) {
        if (k < 0)
            snprintf(out, PREFIX_LEN, "{zq:%s}", shard);
        else
            snprintf(out, PREFIX_LEN, "{zq:%s~%ld}", shard, k);
        unsigned slot = zg_cluster_key_slot(out, strlen(out));
        if (slot >= lo && slot < hi) return; /* (found within a few n tries: CRC16 spreads) */
    }
}

/* A plain command on the host's connection (its lock held for the call); NULL with err set on
 * a failure or an error reply. */
static redisReply *command(redis_store *r, int argc, const char **argv, const size_t *lens,
                           zg_error *err)
{
    pthread_mutex_lock(&r->conn.lock);
    redisReply *reply = zg_redis_command(&r->conn, argc, argv, lens, 0, err);
    pthread_mutex_unlock(&r->conn.lock);
    return reply;
}

/* The shard count the store records for queue, read once (cached after). */
static int shard_count_of(redis_store *r, const char *queue, int *n, zg_error *err)
{
    pthread_mutex_lock(&r->placement_lock);
    void *known = zg_map_get(&r->shard_counts, queue);
    pthread_mutex_unlock(&r->placement_lock);
    if (known) {
        *n = *(const int *)known;
        return ZG_OK;
    }
    const char *argv[] = {"HGET", SHARDS_KEY, queue};
    redisReply *reply = command(r, 3, argv, NULL, err);
    if (!reply) return err->code;
    int recorded = reply->type == REDIS_REPLY_STRING;
    *n = recorded ? atoi(reply->str) : 1;
    zg_redis_reply_free(reply);
    if (*n < 1 || *n > ZG_SHARDS_MAX) *n = 1;
    if (recorded) { /* (fixed until `zerog shards` changes it, after which hosts restart; a
                     * queue with no record yet is asked again: its first host records it) */
        pthread_mutex_lock(&r->placement_lock);
        zg_map_set(&r->shard_counts, queue, zg_shard_count_ref(*n));
        pthread_mutex_unlock(&r->placement_lock);
    }
    return ZG_OK;
}

static int bad_queue(zg_error *err, const char *queue)
{
    return zg_fail(err, ZG_EINVAL, "bad queue name: %.200s", queue ? queue : "(none)");
}

/* "{zq:Q}" into out, of at least PREFIX_LEN bytes (queue shorter than ZG_NAME_LEN) */
static void plain_prefix(char *out, const char *queue)
{
    size_t n = strlen(queue);
    memcpy(out, "{zq:", 4);
    memcpy(out + 4, queue, n + 1);
    out[4 + n] = '}';
    out[5 + n] = '\0';
}

/* The key prefix of a queue ({zq:Q}; a shard's is placed, above) into out (PREFIX_LEN). */
static int queue_prefix(redis_store *r, char *out, size_t size, const char *queue, zg_error *err)
{
    if (!queue || !*queue || strchr(queue, '}') || strlen(queue) >= ZG_NAME_LEN ||
        size < PREFIX_LEN)
        return bad_queue(err, queue);
    char base[ZG_NAME_LEN];
    int i = 0, n = 1;
    if (!shard_name(queue, base, &i)) {
        plain_prefix(out, queue);
        return ZG_OK;
    }
    pthread_mutex_lock(&r->placement_lock);
    const char *known = zg_map_get(&r->shard_prefixes, queue);
    if (known) snprintf(out, size, "%s", known);
    pthread_mutex_unlock(&r->placement_lock);
    if (known) return ZG_OK;
    if (shard_count_of(r, base, &n, err) != ZG_OK) return err->code;
    if (i >= n) { /* not a shard of a sharded queue: a queue like any other */
        plain_prefix(out, queue);
        return ZG_OK;
    }
    shard_prefix(out, queue, i, n);
    char *copy = strdup(out);
    pthread_mutex_lock(&r->placement_lock);
    if (!copy || zg_map_get(&r->shard_prefixes, queue) ||
        zg_map_set(&r->shard_prefixes, queue, copy))
        free(copy);
    pthread_mutex_unlock(&r->placement_lock);
    return ZG_OK;
}

/* The key holding a job's queue name, by which a job is found from its uuid alone. */
#define POINTER_KEY_LEN (ZG_UUID_LEN + 16)
static void pointer_key(char out[POINTER_KEY_LEN], const char *uuid)
{
    snprintf(out, POINTER_KEY_LEN, "zerog:job:%s", uuid);
}

/* Copies the strings of the NULL-terminated list to out, one after the other (sizes checked by
 * the callers' buffers: every key part is bounded by ZG_NAME_LEN or ZG_UUID_LEN). Every write of
 * a run names its keys, so they are put together by hand rather than by snprintf. */
static void concat(char *out, const char *const *parts)
{
    for (; *parts; parts++) {
        size_t len = strlen(*parts);
        memcpy(out, *parts, len);
        out += len;
    }
    *out = '\0';
}

static int make_keys(redis_store *r, job_keys *k, const char *queue, const char *uuid,
                     zg_error *err)
{
    if (strlen(uuid) >= ZG_UUID_LEN) return zg_fail(err, ZG_EINVAL, "bad job uuid: %.60s", uuid);
    if (queue_prefix(r, k->prefix, sizeof k->prefix, queue, err) != ZG_OK) return err->code;
    concat(k->job, (const char *const[]){k->prefix, ":job:", uuid, NULL});
    for (int i = 0; i < 3; i++)
        concat(k->lists[i], (const char *const[]){k->job, ":", zg_store_lists[i], NULL});
    concat(k->pointer, (const char *const[]){"zerog:job:", uuid, NULL});
    return ZG_OK;
}

/* A growable argument vector; strings it formats itself are kept until it is freed. */
typedef struct argvec {
    const char **argv;
    size_t n, cap;
    char **owned;
    size_t nowned;
    int oom;
    char nums[16][24]; /* the first numbers it formats (no allocation for them) */
    size_t nnums;
} argvec;

static void av_push(argvec *a, const char *s)
{
    if (a->oom) return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        const char **grown = realloc(a->argv, cap * sizeof *grown);
        if (!grown) {
            a->oom = 1;
            return;
        }
        a->argv = grown;
        a->cap = cap;
    }
    a->argv[a->n++] = s;
}

/* v in decimal into buf (24 bytes) */
static void format_int(char *buf, long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[n++] = '-';
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
}

/* Pushes a copy of text, owned by a. */
static void av_copy(argvec *a, const char *text)
{
    char *copy = strdup(text);
    char **grown = copy ? realloc(a->owned, (a->nowned + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy);
        a->oom = 1;
        return;
    }
    a->owned = grown;
    a->owned[a->nowned++] = copy;
    av_push(a, copy);
}

static void av_int(argvec *a, long long v)
{
    if (a->nnums < sizeof a->nums / sizeof a->nums[0]) {
        char *slot = a->nums[a->nnums++];
        format_int(slot, v);
        av_push(a, slot);
        return;
    }
    char buf[24];
    format_int(buf, v);
    av_copy(a, buf);
}

/* [limits] A claimed job type as the scripts take it: its name, or "name\tspec" when it has
 * limits or a GROUP (spec: "concurrency,queue-wide,rate,rate ms,queue-wide,grouped"). */
static void av_type(argvec *a, const zg_claim_req *req, size_t i)
{
    if (!req->limits || !zg_type_limits_any(&req->limits[i])) {
        av_push(a, req->types[i]);
        return;
    }
    const zg_type_limits *l = &req->limits[i];
    char buf[ZG_NAME_LEN + 128];
    snprintf(buf, sizeof buf, "%s\t%lld,%d,%lld,%lld,%d,%d", req->types[i],
             (long long)l->concurrency, l->concurrency_queue_wide ? 1 : 0, (long long)l->rate,
             (long long)l->rate_ms, l->rate_queue_wide ? 1 : 0, l->grouped ? 1 : 0);
    av_copy(a, buf);
}

static void av_fields(argvec *a, zg_fields f)
{
    for (size_t i = 0; i < f.n; i++) {
        av_push(a, f.names[i]);
        av_push(a, f.values[i]);
    }
}

static void av_free(argvec *a)
{
    for (size_t i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    free(a->owned);
    free(a->argv);
    memset(a, 0, sizeof *a);
}

/* Runs a script with the arguments of a; returns the reply or NULL (err set). */
static redisReply *run(redis_store *r, int which, int nkeys, argvec *a, zg_error *err)
{
    if (a->oom) {
        zg_fail(err, ZG_ENOMEM, "out of memory building a redis call");
        return NULL;
    }
    pthread_mutex_lock(&r->conn.lock);
    redisReply *reply =
        zg_redis_script_run(&r->conn, &r->scripts[which], nkeys, (int)a->n, a->argv, NULL, err);
    pthread_mutex_unlock(&r->conn.lock);
    return reply;
}

/* Runs a script on one job (its queue's prefix and its hash as keys) with an optional string
 * arg; the reply or NULL. */
static redisReply *run_on_job(redis_store *r, int which, const job_keys *k, const char *arg,
                              zg_error *err)
{
    argvec a = {0};
    av_push(&a, k->prefix);
    av_push(&a, k->job);
    if (arg) av_push(&a, arg);
    redisReply *reply = run(r, which, 2, &a, err);
    av_free(&a);
    return reply;
}

static long long int_at(const redisReply *reply, size_t i)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || i >= reply->elements) return 0;
    const redisReply *e = reply->element[i];
    if (e->type == REDIS_REPLY_INTEGER) return e->integer;
    if (e->type == REDIS_REPLY_STRING) return strtoll(e->str, NULL, 10);
    return 0;
}

static int unexpected(zg_error *err, const char *what)
{
    return zg_fail(err, ZG_ESTORE, "redis: unexpected reply to %s", what);
}

/* The value of field `name` in an HGETALL reply, or NULL. */
static const char *hash_get(const redisReply *h, const char *name)
{
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && strcmp(h->element[i]->str, name) == 0)
            return h->element[i + 1]->type == REDIS_REPLY_STRING ? h->element[i + 1]->str : NULL;
    return NULL;
}

static int64_t hash_int(const redisReply *h, const char *name)
{
    const char *v = hash_get(h, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* Assembles {hash pairs, events, warnings, errors} into the document's JSON text. */
static int doc_json(const redisReply *d, char **json, zg_error *err)
{
    if (d->type != REDIS_REPLY_ARRAY || d->elements != 4 ||
        d->element[0]->type != REDIS_REPLY_ARRAY)
        return unexpected(err, "a document read");
    const redisReply *h = d->element[0];
    zg_strbuf b;
    zg_strbuf_init(&b);
    size_t size = 128; /* (about the text's size: one allocation, not one per doubling) */
    for (size_t i = 0; i < h->elements; i++)
        size += h->element[i]->len + 4;
    for (int l = 1; l < 4; l++)
        for (size_t i = 0; d->element[l]->type == REDIS_REPLY_ARRAY && i < d->element[l]->elements;
             i++)
            size += d->element[l]->element[i]->len + 1;
    zg_strbuf_reserve(&b, size);
    const char *cas = hash_get(h, "cas");
    char cas_text[24];
    format_int(cas_text, cas ? strtoll(cas, NULL, 10) : 0LL);
    zg_strbuf_append(&b, "{\"cas\":", 7);
    zg_strbuf_puts(&b, cas_text);
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *name = h->element[i], *value = h->element[i + 1];
        if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING) continue;
        if (name->str[0] == '_' || strcmp(name->str, "cas") == 0) continue;
        zg_strbuf_append(&b, ",", 1);
        zg_strbuf_json_string(&b, name->str);
        zg_strbuf_append(&b, ":", 1);
        zg_strbuf_append(&b, value->str, value->len);
    }
    for (int l = 0; l < 3; l++) {
        const redisReply *list = d->element[l + 1];
        zg_strbuf_append(&b, ",\"", 2);
        zg_strbuf_puts(&b, zg_store_lists[l]);
        zg_strbuf_append(&b, "\":[", 3);
        int first = 1;
        for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; i++) {
            if (list->element[i]->type != REDIS_REPLY_STRING) continue;
            if (!first) zg_strbuf_puts(&b, ",");
            first = 0;
            zg_strbuf_append(&b, list->element[i]->str, list->element[i]->len);
        }
        zg_strbuf_puts(&b, "]");
    }
    zg_strbuf_puts(&b, "}");
    *json = zg_strbuf_take(&b);
    return *json ? ZG_OK : zg_fail(err, ZG_ENOMEM, "out of memory reading a document");
}

static const char *unique_hold_name(int hold)
{
    return hold == ZG_UNIQUE_RUNNING      ? "running"
           : hold == ZG_UNIQUE_UNTIL_DONE ? "until_done"
                                          : "queued";
}

static int rs_submit(zg_store *s, zg_new_job *jobs, size_t n, const char *writer, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    (void)writer;
    /* one script call per run of jobs on the same queue (at most 256 jobs each), each after
     * the pointers by uuid of its jobs, all in one pipeline */
    size_t ncalls = 0;
    zg_redis_call *calls = calloc(2 * (n ? n : 1) + 1, sizeof *calls);
    argvec *args = calloc(2 * (n ? n : 1) + 1, sizeof *args);
    size_t *first = calloc(n ? n : 1, sizeof *first), *count = calloc(n ? n : 1, sizeof *count);
    char(*prefixes)[PREFIX_LEN] = calloc(n ? n : 1, sizeof *prefixes);
    redisReply **replies = NULL;
    int rc = ZG_ENOMEM;
    size_t nbatches = 0;
    if (!calls || !args || !first || !count || !prefixes) goto done;
    /* the queues this store has not yet added to the set of queue names: added first */
    argvec *names = &args[2 * (n ? n : 1)];
    for (size_t i = 0; i < n; i++) /* (a queue named twice is harmless: it is a set) */
        if (!zg_map_get(&r->registered, jobs[i].queue) &&
            (i == 0 || strcmp(jobs[i - 1].queue, jobs[i].queue) != 0)) {
            if (!names->n) {
                av_push(names, "SADD");
                av_push(names, QUEUES_KEY);
            }
            av_push(names, jobs[i].queue);
        }
    if (names->oom) goto done;
    size_t base = names->n ? 1 : 0; /* the first call is that SADD */
    if (base) calls[ncalls++] = (zg_redis_call){NULL, 0, (int)names->n, names->argv, NULL};
    for (size_t i = 0; i < n;) {
        size_t b = nbatches++, j = i;
        if (queue_prefix(r, prefixes[b], sizeof prefixes[b], jobs[i].queue, err) != ZG_OK) {
            rc = err->code;
            goto done;
        }
        argvec *a = &args[ncalls - base];
        av_push(a, prefixes[b]);
        const char *sched = jobs[i].schedule_id; /* a schedule's job: alone, in schedule_fire */
        if (sched) {
            av_push(a, sched);
            av_int(a, jobs[i].scheduled_ms);
            av_int(a, jobs[i].schedule_next_ms);
        }
        size_t count_at = a->n;
        av_push(a, ""); /* the count, set below */
        for (; j < n && j - i < 256 && strcmp(jobs[j].queue, jobs[i].queue) == 0 &&
               (j == i || (!sched && !jobs[j].schedule_id));
             j++) {
            if (strlen(jobs[j].uuid) >= ZG_UUID_LEN) {
                rc = zg_fail(err, ZG_EINVAL, "bad job uuid: %.60s", jobs[j].uuid);
                goto done;
            }
            av_push(a, jobs[j].uuid);
            av_push(a, jobs[j].job_type);
            av_int(a, jobs[j].priority);
            av_int(a, jobs[j].delay_ms == ZG_DELAY_PARKED ? -1
                      : jobs[j].delay_ms > 0              ? jobs[j].delay_ms
                                                          : 0);
            av_int(a, jobs[j].ttr_ms > 0 ? jobs[j].ttr_ms : 1000);
            av_push(a, jobs[j].unique_key ? jobs[j].unique_key : "");
            av_int(a, jobs[j].unique_ttl_ms > 0 ? jobs[j].unique_ttl_ms : 0);
            av_push(a, unique_hold_name(jobs[j].unique_hold));
            if (jobs[j].group) { /* [limits] '=' and its group ("": none, not grouped) */
                if (strlen(jobs[j].group) > ZG_GROUP_MAX) {
                    rc = zg_fail(err, ZG_EINVAL, "a group is at most %d bytes", ZG_GROUP_MAX);
                    goto done;
                }
                char group[ZG_GROUP_MAX + 2];
                snprintf(group, sizeof group, "=%s", jobs[j].group);
                av_copy(a, group);
            } else
                av_push(a, "");
            av_int(a, (long long)jobs[j].fields.n);
            av_fields(a, jobs[j].fields);
            av_int(a, (long long)jobs[j].nkids);
            for (size_t c = 0; c < jobs[j].nkids; c++) {
                av_push(a, jobs[j].kids[c].uuid);
                av_push(a, jobs[j].kids[c].info ? jobs[j].kids[c].info : "null");
            }
        }
        first[b] = i;
        count[b] = j - i;
        av_int(a, (long long)(j - i));
        if (a->oom) goto done;
        a->argv[count_at] = a->argv[a->n - 1];
        a->n--;
        /* MSET zerog:job:<uuid> Q ... for the batch (the pointers to the jobs' queue) goes
         * first: if the submit then fails, a pointer to nothing reads as "no such job" */
        argvec *m = &args[ncalls - base + 1];
        av_push(m, "MSET");
        for (size_t k = i; k < j; k++) {
            char key[POINTER_KEY_LEN];
            pointer_key(key, jobs[k].uuid);
            char *copy = strdup(key);
            char **grown = copy ? realloc(m->owned, (m->nowned + 1) * sizeof *grown) : NULL;
            if (!grown) {
                free(copy);
                goto done;
            }
            m->owned = grown;
            m->owned[m->nowned++] = copy;
            av_push(m, copy);
            av_push(m, jobs[k].queue);
        }
        if (m->oom) goto done;
        calls[ncalls] = (zg_redis_call){NULL, 0, (int)m->n, m->argv, NULL};
        calls[ncalls + 1] = (zg_redis_call){&r->scripts[sched ? S_SCHEDULE_FIRE : S_SUBMIT], 1,
                                            (int)a->n, a->argv, NULL};
        ncalls += 2;
        i = j;
    }
    replies = calloc(ncalls ? ncalls : 1, sizeof *replies);
    if (!replies) goto done;
    pthread_mutex_lock(&r->conn.lock); /* (held while the replies are read: see below) */
    rc = zg_redis_pipeline(&r->conn, ncalls, calls, replies, err);
    int piped = rc == ZG_OK; /* every reply came */
    if (rc == ZG_OK && base && replies[0]->type == REDIS_REPLY_ERROR)
        rc = zg_redis_reply_error(replies[0], err);
    /* every batch's reply is read: one Redis refused (OOM between two of them) leaves the
     * others applied, and their outcomes are kept (created) for the caller to say which jobs
     * were made; the first refusal is the call's error */
    for (size_t b = 0; piped && b < nbatches; b++) {
        int brc = ZG_OK;
        zg_error berr = {0};
        for (size_t k = 0; k < 2 && brc == ZG_OK; k++)
            if (replies[base + 2 * b + k]->type == REDIS_REPLY_ERROR)
                brc = zg_redis_reply_error(replies[base + 2 * b + k], &berr);
        const redisReply *ids = replies[base + 2 * b + 1];
        if (brc == ZG_OK && (ids->type != REDIS_REPLY_ARRAY || ids->elements != count[b]))
            brc = unexpected(&berr, "a submit");
        if (brc != ZG_OK) {
            if (rc == ZG_OK) {
                rc = brc;
                *err = berr;
            }
            continue;
        }
        for (size_t k = 0; k < count[b]; k++) {
            zg_new_job *job = &jobs[first[b] + k];
            const redisReply *e = ids->element[k];
            job->created = 1;
            job->id = int_at(e, 0);
            job->cas = int_at(e, 1);
            job->existing[0] = '\0';
            job->schedule_stale = job->schedule_id && job->id == -1; /* its tick was taken */
            if (job->schedule_stale) {
                job->id = 0;
                char key[POINTER_KEY_LEN];
                pointer_key(key, job->uuid);
                const char *del[] = {"DEL", key};
                zg_redis_send_later(&r->conn, 2, del);
            } else if (e->type == REDIS_REPLY_ARRAY && e->elements == 3 &&
                       e->element[2]->type == REDIS_REPLY_STRING &&
                       e->element[2]->len < ZG_UUID_LEN) {
                /* not created: another job holds its unique key; its pointer goes */
                snprintf(job->existing, sizeof job->existing, "%s", e->element[2]->str);
                char key[POINTER_KEY_LEN];
                pointer_key(key, job->uuid);
                const char *del[] = {"DEL", key};
                zg_redis_send_later(&r->conn, 2, del);
            }
        }
    }
    pthread_mutex_unlock(&r->conn.lock);
    for (size_t i = 2; rc == ZG_OK && base && i < args[2 * (n ? n : 1)].n; i++)
        if (zg_map_set(&r->registered, args[2 * (n ? n : 1)].argv[i], (void *)1) != 0) break;
done:
    if (rc == ZG_ENOMEM && err->code != ZG_ENOMEM) zg_fail(err, ZG_ENOMEM, "out of memory");
    for (size_t i = 0; replies && i < ncalls; i++)
        if (replies[i]) zg_redis_reply_free(replies[i]);
    for (size_t i = 0; args && i < 2 * (n ? n : 1) + 1; i++)
        av_free(&args[i]);
    free(replies);
    free(calls);
    free(args);
    free(first);
    free(count);
    free(prefixes);
    return rc;
}

/* A writer's own key of a queue: {zq:Q}:doc:<writer> (the copy of the document it last
 * claimed) or {zq:Q}:claim:<writer> (its last claim), kind ":doc:" or ":claim:", into out
 * (WRITER_KEY_LEN bytes); a writer id longer than 64 bytes is refused. */
#define WRITER_KEY_LEN (PREFIX_LEN + 16 + 64) /* (kinds of up to 15 characters) */
static int writer_key(char *out, const char *prefix, const char *kind, const char *writer,
                      zg_error *err)
{
    if (strlen(writer) > 64) return zg_fail(err, ZG_EINVAL, "writer id longer than 64 bytes");
    concat(out, (const char *const[]){prefix, kind, writer, NULL});
    return ZG_OK;
}

/* Whether the types this host asks for are due to be recorded again (every 5 s, for counts'
 * unclaimed). */
static int announce_now(redis_store *r)
{
    int64_t now = zg_clock_monotonic_ms();
    if (now - r->announced_ms < 5000) return 0;
    r->announced_ms = now;
    return 1;
}

/* Fills a claim from the script's {1, uuid, prior, document}; a document whose hash is nil has
 * it in copy (the reply of the HGETALL of the writer's copy, sent in the same round trip). */
static int take_claim(const redisReply *reply, const redisReply *copy, const char *queue,
                      zg_claim *out, zg_error *err)
{
    if (reply->elements != 4 || reply->element[1]->type != REDIS_REPLY_STRING)
        return unexpected(err, "a claim");
    const redisReply *d = reply->element[3];
    if (d->type != REDIS_REPLY_ARRAY || d->elements != 4) return unexpected(err, "a claim");
    redisReply *parts[4] = {d->element[0], d->element[1], d->element[2], d->element[3]};
    if (parts[0]->type != REDIS_REPLY_ARRAY) {
        if (!copy || copy->type != REDIS_REPLY_ARRAY || copy->elements == 0)
            return unexpected(err, "a claim (its document's copy)");
        parts[0] = (redisReply *)copy;
    }
    redisReply whole = {.type = REDIS_REPLY_ARRAY, .elements = 4, .element = parts};
    d = &whole;
    const redisReply *h = parts[0];
    memset(out, 0, sizeof *out);
    snprintf(out->lease.uuid, sizeof out->lease.uuid, "%s", reply->element[1]->str);
    snprintf(out->lease.queue, sizeof out->lease.queue, "%s", queue);
    out->lease.token = hash_int(h, "_lease");
    out->lease.ttr_ms = hash_int(h, "_ttr");
    out->lease.cas = hash_int(h, "cas");
    const char *type = hash_get(h, "_type");
    snprintf(out->job_type, sizeof out->job_type, "%s", type ? type : "");
    out->id = hash_int(h, "_id");
    out->priority = hash_int(h, "_pri");
    out->reserves = hash_int(h, "_reserves");
    out->timeouts = hash_int(h, "_timeouts");
    out->releases = hash_int(h, "_releases");
    out->prior = (int)int_at(reply, 2);
    return doc_json(d, &out->doc, err);
}

/* The timeout of a BLPOP of ms milliseconds, as its text in seconds: at least 2 ms (Redis before
 * 7.0.8 read "0.001" as 0, which is no timeout at all). */
static void blpop_timeout(char out[32], int64_t ms)
{
    snprintf(out, 32, "%.3f", (double)(ms < 2 ? 2 : ms) / 1000.0);
}

/* One claim of a queue (claim.lua), its document read back in the same round trip. With
 * block_ms > 0 the claim waits first, in the same write, for a signal that a job became ready
 * (BLPOP on the queue's signal list, at most block_ms): the server runs the claim as soon as the
 * BLPOP is served or times out, without the round trip from the host back to it, so an idle
 * host takes a job submitted meanwhile one round trip sooner, and waits and claims in one. */
static int claim_once(redis_store *r, const char *queue, const zg_claim_req *req,
                      const char *writer, int64_t seq, int announce, int64_t block_ms,
                      zg_claim *out, int64_t *wait_ms, zg_error *err)
{
    char prefix[PREFIX_LEN];
    if (queue_prefix(r, prefix, sizeof prefix, queue, err) != ZG_OK) return err->code;
    char copy_key[WRITER_KEY_LEN], claim_key[WRITER_KEY_LEN], reserved_key[PREFIX_LEN + 16];
    char signal_key[PREFIX_LEN + 8], block[32];
    if (writer_key(copy_key, prefix, ":doc:", writer, err) != ZG_OK ||
        writer_key(claim_key, prefix, ":claim:", writer, err) != ZG_OK)
        return err->code;
    concat(reserved_key, (const char *const[]){prefix, ":reserved", NULL});
    concat(signal_key, (const char *const[]){prefix, ":signal", NULL});
    blpop_timeout(block, block_ms);
    /* The keys a claim may create are declared with its queue's: while a Redis Cluster moves
     * the slot, a node answers a call that declares a missing key with ASK or TRYAGAIN before
     * running it, but a script that creates an undeclared key there stops at that key with its
     * earlier writes made: a claim half made (the job running under a lease no host holds,
     * until it lapses and counts an error). The copy of the document is always missing. */
    argvec a = {0};
    av_push(&a, prefix);
    av_push(&a, copy_key);
    av_push(&a, claim_key);
    av_push(&a, reserved_key);
    av_push(&a, writer);
    av_int(&a, seq);
    av_push(&a, announce ? "1" : "0");
    for (size_t i = 0; i < req->ntypes; i++)
        av_type(&a, req, i);
    if (a.oom) {
        av_free(&a);
        return zg_fail(err, ZG_ENOMEM, "out of memory building a claim");
    }
    const char *blpop[] = {"BLPOP", signal_key, block};
    const char *hgetall[] = {"HGETALL", copy_key}, *del[] = {"DEL", copy_key};
    zg_redis_call calls[4] = {{NULL, 0, 3, blpop, NULL},
                              {&r->scripts[S_CLAIM], 4, (int)a.n, a.argv, NULL},
                              {NULL, 0, 2, hgetall, NULL},
                              {NULL, 0, 2, del, NULL}};
    redisReply *sent[4] = {NULL, NULL, NULL, NULL};
    redisReply **replies = sent + 1; /* the claim's, then the copy's (BLPOP's is not read) */
    int waits = block_ms > 0;
    pthread_mutex_lock(&r->conn.lock);
    int rc = zg_redis_pipeline_first(&r->conn, (size_t)waits, 3 + (size_t)waits, calls + !waits,
                                     sent + !waits, err);
    pthread_mutex_unlock(&r->conn.lock);
    av_free(&a);
    if (rc != ZG_OK) return rc;
    redisReply *reply = replies[0];
    if (reply->type == REDIS_REPLY_ERROR)
        rc = zg_redis_reply_error(reply, err);
    else if (reply->type == REDIS_REPLY_ARRAY && int_at(reply, 0) == 1)
        rc = take_claim(reply, replies[1], queue, out, err);
    else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        *wait_ms = int_at(reply, 1);
        rc = ZG_ETIMEDOUT;
    } else
        rc = unexpected(err, "a claim");
    /* the wait refused at once (an error reply: NOPERM, WRONGTYPE): the next claim not at once,
     * as wait_for_signal does after a failed wait (the caller's loop would spin otherwise) */
    int wait_failed = waits && sent[0] && sent[0]->type == REDIS_REPLY_ERROR;
    for (int i = 0; i < 4; i++)
        if (sent[i]) zg_redis_reply_free(sent[i]);
    if (wait_failed && rc == ZG_ETIMEDOUT) zg_clock_sleep_ms(block_ms < 100 ? block_ms : 100);
    return rc;
}

/* Which of several queues has the most urgent ready job: its index, or -1 with *wait_ms. The
 * queues are asked in one round trip. *tied: another queue's head is as urgent. */
static int most_urgent(redis_store *r, const zg_claim_req *req, int64_t *wait_ms, int *tied,
                       zg_error *err)
{
    *tied = 0;
    size_t n = req->nqueues;
    int best = -2;
    char(*prefixes)[PREFIX_LEN] = calloc(n, sizeof *prefixes);
    const char **argv = calloc(n * (req->ntypes + 1), sizeof *argv);
    zg_redis_call *calls = calloc(n, sizeof *calls);
    redisReply **replies = calloc(n, sizeof *replies);
    argvec type_args = {0}; /* [limits] each type as the scripts take it */
    for (size_t t = 0; t < req->ntypes; t++)
        av_type(&type_args, req, t);
    if (!prefixes || !argv || !calls || !replies || type_args.oom) {
        zg_fail(err, ZG_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (queue_prefix(r, prefixes[i], sizeof prefixes[i], req->queues[i], err) != ZG_OK)
            goto done;
        const char **row = argv + i * (req->ntypes + 1);
        row[0] = prefixes[i];
        for (size_t t = 0; t < req->ntypes; t++)
            row[t + 1] = type_args.argv[t];
        calls[i] = (zg_redis_call){&r->scripts[S_PEEK], 1, (int)req->ntypes + 1, row, NULL};
    }
    pthread_mutex_lock(&r->conn.lock);
    int rc = zg_redis_pipeline(&r->conn, n, calls, replies, err);
    pthread_mutex_unlock(&r->conn.lock);
    if (rc != ZG_OK) goto done;
    best = -1;
    long long best_pri = 0;
    *wait_ms = -1;
    /* equally urgent heads: the first from the place the host moves on at every claim
     * (zg_claim_req.tie_start), so that ties go to each queue in turn */
    size_t start = n ? (size_t)(req->tie_start % n) : 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            zg_redis_reply_error(replies[i], err);
            best = -2;
            break;
        }
        long long kind = int_at(replies[i], 0), v = int_at(replies[i], 1);
        if (kind == 1 && best >= 0 && v == best_pri) *tied = 1;
        if (kind == 1 && (best < 0 || v < best_pri)) best = (int)i, best_pri = v, *tied = 0;
        if (kind == 0 && v >= 0 && (*wait_ms < 0 || v < *wait_ms)) *wait_ms = v;
    }
done:
    for (size_t i = 0; replies && i < n; i++)
        if (replies[i]) zg_redis_reply_free(replies[i]);
    av_free(&type_args);
    free(prefixes);
    free(argv);
    free(calls);
    free(replies);
    return best;
}

/* Runs BLPOP (block_ms > 0) or, without blocking, LMPOP on the queues' signal lists: 1 when a
 * signal came, 0 when none did, -1 on an outage. */
static int take_signal(redis_store *r, const zg_claim_req *req, int64_t block_ms)
{
    size_t n = req->nqueues;
    char(*keys)[PREFIX_LEN + 8] = calloc(n, sizeof *keys);
    const char **argv = calloc(n + 4, sizeof *argv);
    if (!keys || !argv) {
        free(keys);
        free(argv);
        return -1;
    }
    int argc = 0;
    char count[24], timeout[32];
    if (block_ms > 0) {
        argv[argc++] = "BLPOP";
    } else {
        snprintf(count, sizeof count, "%zu", n);
        argv[argc++] = "LMPOP";
        argv[argc++] = count;
    }
    for (size_t i = 0; i < n; i++) {
        zg_error ignored = {0};
        if (queue_prefix(r, keys[i], PREFIX_LEN, req->queues[i], &ignored) != ZG_OK) {
            free(keys);
            free(argv);
            return -1;
        }
        size_t at = strlen(keys[i]);
        snprintf(keys[i] + at, sizeof keys[i] - at, ":signal");
        argv[argc++] = keys[i];
    }
    if (block_ms > 0) {
        blpop_timeout(timeout, block_ms);
        argv[argc++] = timeout;
    } else {
        argv[argc++] = "LEFT";
    }
    zg_error err = {0};
    pthread_mutex_lock(&r->conn.lock);
    redisReply *reply =
        zg_redis_command(&r->conn, argc, argv, NULL, block_ms > 0 ? block_ms + 2000 : 0, &err);
    pthread_mutex_unlock(&r->conn.lock);
    free(keys);
    free(argv);
    if (!reply) return -1;
    int got = reply->type == REDIS_REPLY_ARRAY;
    zg_redis_reply_free(reply);
    return got;
}

/* Waits up to ms for a signal that a job became ready (BLPOP: no polling). When ms is the time
 * a delayed job becomes ready (precise), the end of the wait cannot rest on BLPOP's timeout,
 * which Redis applies only at its next cron tick (up to 100 ms late at the default hz): the last
 * stretch is slept here, asking for a signal every 2 ms. */
static void wait_for_signal(redis_store *r, const zg_claim_req *req, int64_t ms, int precise)
{
    if (ms <= 0) return;
    int64_t until = zg_clock_monotonic_ms() + ms;
    int64_t block = precise ? ms - 120 : ms;
    if (block > 1000)
        block = 1000; /* a claim runs at least every second: the queue's clock stays
                          fresh, so its stall rule (prelude.lua) never fires */
    if (block > 0) {
        int got = take_signal(r, req, block);
        if (got != 0) {
            if (got < 0) zg_clock_sleep_ms(ms < 100 ? ms : 100); /* an outage: do not spin */
            return;
        }
    }
    for (int64_t left; (left = until - zg_clock_monotonic_ms()) > 0;) {
        zg_clock_sleep_ms(left < 2 ? left : 2);
        if (take_signal(r, req, 0) != 0) return;
    }
}

static int rs_claim(zg_store *s, const zg_claim_req *req, int64_t timeout_ms, const char *writer,
                    int64_t seq, zg_claim *out, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    memset(out, 0, sizeof *out);
    if (req->nqueues == 0 || req->ntypes == 0)
        return zg_fail(err, ZG_ETIMEDOUT, "no job types to claim");
    int64_t give_up = zg_clock_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int64_t block_ms = 0; /* the next claim waits this long for a signal first, in its write */
    for (int attempt = 0;; attempt++) {
        if (attempt >= ZG_CLAIM_SEQS) return zg_fail(err, ZG_ETIMEDOUT, "no job claimed");
        int64_t next = -1;
        int pick = req->nqueues == 1 ? 0 : -1;
        if (pick < 0 && r->sticky[0] && zg_clock_monotonic_ms() < r->sticky_until_ms)
            for (size_t i = 0; i < req->nqueues; i++)
                if (strcmp(req->queues[i], r->sticky) == 0) pick = (int)i;
        if (pick < 0) {
            int tied = 0;
            pick = most_urgent(r, req, &next, &tied, err);
            /* (a tie: the next claim looks again, and the tie goes to the next queue in turn) */
            if (pick >= 0 && req->nqueues > 1 && !tied) {
                snprintf(r->sticky, sizeof r->sticky, "%s", req->queues[pick]);
                r->sticky_until_ms = zg_clock_monotonic_ms() + STICKY_MS;
            }
        }
        if (pick == -2) return err->code;
        if (pick >= 0) {
            /* a retry of the loop is a new claim: a new sequence number */
            int rc = claim_once(r, req->queues[pick], req, writer, seq + attempt, announce_now(r),
                                block_ms, out, &next, err);
            block_ms = 0;
            if (rc != ZG_ETIMEDOUT) return rc;
            r->sticky[0] = '\0';
            if (req->nqueues > 1) continue; /* another host took it first: look at all again */
        }
        int64_t left = give_up - zg_clock_monotonic_ms();
        if (left <= 0) return zg_fail(err, ZG_ETIMEDOUT, "no job ready");
        int precise = next >= 0 && next < left;
        /* one queue on one server, nothing due at a known time: the next claim waits in its own
         * write (claim_once), for at most a second (as wait_for_signal), 2 s within the
         * connection's reply timeout (Redis may end a BLPOP late, at its timer's tick), and
         * not for a mere few ms (the step ends then: a plain claim is all it needs) */
        int64_t most = r->conn.timeout_ms - 2000 < 1000 ? r->conn.timeout_ms - 2000 : 1000;
        if (req->nqueues == 1 && !precise && !r->conn.cluster && most >= 100 && left >= 10) {
            block_ms = left < most ? left : most;
            continue;
        }
        wait_for_signal(r, req, precise ? next : left, precise);
    }
}

/* What a script that acts on a lease answered (1: done, 0: the lease is no longer current), as
 * a code; frees the reply (NULL: the call failed, err says why). */
static int lease_outcome(redisReply *reply, const zg_lease *lease, const char *what, zg_error *err)
{
    if (!reply) return err->code;
    long long v = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    zg_redis_reply_free(reply);
    if (v == 1) return ZG_OK;
    if (v == 0)
        return zg_fail(err, ZG_ESTALE, "lease %lld of job %s is no longer current",
                       (long long)lease->token, lease->uuid);
    return unexpected(err, what);
}

static int rs_touch(zg_store *s, const zg_lease *lease, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    job_keys k;
    if (make_keys(r, &k, lease->queue, lease->uuid, err) != ZG_OK) return err->code;
    char token[24];
    snprintf(token, sizeof token, "%lld", (long long)lease->token);
    const char *argv[] = {k.prefix, k.job, token};
    pthread_mutex_lock(&r->beat.lock);
    redisReply *reply = zg_redis_script_run(&r->beat, &r->beat_touch, 2, 3, argv, NULL, err);
    pthread_mutex_unlock(&r->beat.lock);
    return lease_outcome(reply, lease, "a touch", err);
}

static int find_queue(redis_store *r, const char *uuid, char queue[ZG_NAME_LEN], zg_error *err);

/* The queue and uuid a write goes to (a job named by uuid alone is found by its pointer). */
static int target_keys(redis_store *r, const zg_target *t, job_keys *k, char token[24],
                       zg_error *err)
{
    if (t->lease) {
        snprintf(token, 24, "%lld", (long long)t->lease->token);
        return make_keys(r, k, t->lease->queue, t->lease->uuid, err);
    }
    token[0] = '\0';
    if (!t->uuid) return zg_fail(err, ZG_EINVAL, "a write names no job");
    if (t->queue && *t->queue) return make_keys(r, k, t->queue, t->uuid, err);
    char queue[ZG_NAME_LEN];
    if (find_queue(r, t->uuid, queue, err) != ZG_OK) return err->code;
    return make_keys(r, k, queue, t->uuid, err);
}

static int stale(zg_error *err, const zg_target *t)
{
    return zg_fail(err, ZG_ESTALE, "lease %lld of job %s is no longer current",
                   (long long)t->lease->token, t->lease->uuid);
}

/* A run's call refused for want of the run's last acknowledged write (zg_lease.write_chain). */
static int lost_writes(zg_error *err, const zg_lease *lease)
{
    return zg_fail(err, ZG_ELOSTWRITES,
                   "the store does not hold write %lld of the run of job %s, which it had "
                   "acknowledged (a replica promoted before it had it)",
                   (long long)lease->write_chain, lease->uuid);
}

static int write_op(redis_store *r, const char *kind, const zg_target *t, zg_fields f,
                    int64_t known, int list, const char *entry, const char *count_field,
                    const char *writer, int64_t seq, zg_written *out, zg_error *err)
{
    job_keys k;
    char token[24];
    memset(out, 0, sizeof *out);
    if (target_keys(r, t, &k, token, err) != ZG_OK) return err->code;
    argvec a = {0};
    av_push(&a, k.prefix);
    av_push(&a, k.job);
    av_push(&a, list >= 0 ? k.lists[list] : k.lists[0]);
    av_push(&a, kind);
    av_push(&a, token);
    av_push(&a, writer);
    av_int(&a, seq);
    av_int(&a, known);
    av_push(&a, entry ? entry : "");
    av_push(&a, count_field ? count_field : "");
    av_push(&a, list >= 0 ? zg_store_lists[list] : "");
    av_int(&a, t->lease ? t->lease->write_chain : 0);
    av_fields(&a, f);
    redisReply *reply = run(r, S_WRITE, 3, &a, err);
    av_free(&a);
    if (!reply) return err->code;
    int rc = ZG_OK;
    long long v = int_at(reply, 0);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
        rc = unexpected(err, "a write");
    else if (v == -1)
        rc = zg_fail(err, ZG_ENOTFOUND, "no job %s", t->lease ? t->lease->uuid : t->uuid);
    else if (v == -2)
        rc = stale(err, t);
    else if (v == -4)
        rc = lost_writes(err, t->lease);
    else if (v == 0) {
        out->cas = int_at(reply, 1);
        rc = zg_fail(err, ZG_ECAS, "job %s changed in the store (cas %lld, expected %lld)",
                     t->lease ? t->lease->uuid : t->uuid, (long long)out->cas, (long long)known);
    } else {
        out->cas = int_at(reply, 1);
        if (reply->elements == 3) rc = doc_json(reply->element[2], &out->doc, err);
    }
    zg_redis_reply_free(reply);
    return rc;
}

static int rs_update(zg_store *s, const zg_target *t, zg_fields f, int64_t known_cas,
                     const char *writer, int64_t seq, zg_written *out, zg_error *err)
{
    return write_op((redis_store *)s, "update", t, f, known_cas, -1, NULL, NULL, writer, seq, out,
                    err);
}

static int rs_save(zg_store *s, const zg_target *t, zg_fields f, int64_t expected,
                   const char *writer, int64_t seq, zg_written *out, zg_error *err)
{
    return write_op((redis_store *)s, "save", t, f, expected, -1, NULL, NULL, writer, seq, out,
                    err);
}

static int rs_append(zg_store *s, const zg_target *t, int list, const char *entry, zg_fields f,
                     const char *count_field, int64_t known_cas, const char *writer, int64_t seq,
                     zg_written *out, zg_error *err)
{
    if (list < 0 || list > 2) return zg_fail(err, ZG_EINVAL, "no such list");
    return write_op((redis_store *)s, "append", t, f, known_cas, list, entry, count_field, writer,
                    seq, out, err);
}

static const char *action_name(int action)
{
    return action == ZG_SETTLE_FINISH    ? "finish"
           : action == ZG_SETTLE_RELEASE ? "release"
           : action == ZG_SETTLE_BURY    ? "bury"
           : action == ZG_SETTLE_PARK    ? "park"
                                         : NULL;
}

/* The EVAL of pointer.lua for a job's pointer: its expiry in secs, or for good when secs is 0, as
 * of the job's cas; undo: the expiry it set as of cas taken back. Fills argv (7) from the two
 * number buffers; returns argc. pc->argv + 3 are the key and arguments of the same call made as
 * the library's function (S_POINTER), argc - 3 of them. */
typedef struct pointer_call {
    const char *argv[7];
    char cas[24], secs[24];
} pointer_call;

static int pointer_args(redis_store *r, pointer_call *pc, const char *pointer, long long cas,
                        int64_t secs, int undo)
{
    format_int(pc->cas, cas);
    format_int(pc->secs, secs > 0 ? secs : 0);
    const char *argv[] = {"EVAL", r->pointer_script, "1", pointer, pc->cas, pc->secs, "undo"};
    memcpy(pc->argv, argv, sizeof argv);
    return undo ? 7 : 6;
}

/* Sends pointer_args's EVAL without waiting for its reply; conn's lock held. Best effort, as its
 * EXPIRE was: lost with a connection that breaks before it is written (or one that cannot be
 * opened again at once). A lost expiry leaves a pointer that outlives its job; a lost undo, one
 * that expires with the retention of a finish that was refused, unless a later finish or retry
 * of the job sets it again. */
static void pointer_later(redis_store *r, zg_redis *conn, const char *pointer, long long cas,
                          int64_t secs, int undo)
{
    pointer_call pc;
    int argc = pointer_args(r, &pc, pointer, cas, secs, undo);
    zg_redis_send_later(conn, argc, pc.argv);
}

/* Runs the settle script (and, for a finish with retention, expires the pointer after it), on
 * conn (the store's, or the heartbeat's for a release by the watchdog). A run's settle names its
 * lease (run: its cas and write chain); from outside (run NULL), token "0" accepts whatever run
 * holds the job. With req, the same script then claims the next job of
 * the queue for req's types (into *next; its token is 0 when none was ready). */
static int settle_op(redis_store *r, zg_redis *conn, zg_redis_script *script, const char *queue,
                     const char *uuid, const char *token, const zg_lease *run, int outside,
                     const zg_settle *st, const char *writer, int64_t seq, int64_t *cas,
                     const zg_claim_req *req, int64_t claim_seq, zg_claim *next, zg_error *err)
{
    int64_t lease_cas = run ? run->cas : 0;
    job_keys k;
    if (make_keys(r, &k, queue, uuid, err) != ZG_OK) return err->code;
    const char *action = action_name(st->action);
    if (!action) return zg_fail(err, ZG_EINVAL, "unknown settle action %d", st->action);
    char copy_key[WRITER_KEY_LEN] = "", claim_key[WRITER_KEY_LEN] = "",
         reserved_key[PREFIX_LEN + 16] = "";
    if (req && (writer_key(copy_key, k.prefix, ":doc:", writer, err) != ZG_OK ||
                writer_key(claim_key, k.prefix, ":claim:", writer, err) != ZG_OK))
        return err->code;
    argvec a = {0};
    av_push(&a, k.prefix);
    av_push(&a, k.job);
    for (int i = 0; i < 3; i++)
        av_push(&a, k.lists[i]);
    if (req) { /* the keys its claim may create, declared (claim_once says why) */
        concat(reserved_key, (const char *const[]){k.prefix, ":reserved", NULL});
        av_push(&a, copy_key);
        av_push(&a, claim_key);
        av_push(&a, reserved_key);
    }
    av_push(&a, token);
    av_push(&a, writer);
    av_int(&a, seq);
    av_push(&a, action);
    av_int(&a, st->delay_ms > 0 ? st->delay_ms : 0);
    av_int(&a, st->retention_s > 0 ? st->retention_s : 0);
    av_push(&a, st->event ? st->event : "");
    av_push(&a, st->error ? st->error : "");
    av_push(&a, st->reason ? st->reason : "");
    av_int(&a, st->prior);
    av_push(&a, outside ? "1" : "0");
    av_int(&a, req ? (long long)req->ntypes : 0);
    av_int(&a, req ? claim_seq : 0);
    av_push(&a, req && announce_now(r) ? "1" : "0");
    for (size_t i = 0; req && i < req->ntypes; i++)
        av_type(&a, req, i);
    av_int(&a, run ? run->write_chain : 0);
    av_push(&a, st->has_parent ? (st->failed ? "1p" : "0p") : st->failed ? "1" : "0"); /* flows */
    av_fields(&a, st->fields);
    if (a.oom) {
        av_free(&a);
        return zg_fail(err, ZG_ENOMEM, "out of memory building a settle");
    }
    /* A finish with a retention expires the pointer by uuid (pointer.lua, ordered by the job's
     * cas). A run's finish on one server sends it in the same write, ahead of the script, as of
     * the cas its claim left (a lower bound of the finish's: above any retry before the claim,
     * below any after the finish), and takes it back if the settle is refused; otherwise (from
     * outside, or on a cluster, where the pointer's node must not hold up the settle) it is sent
     * once the settle was applied, as of the cas the settle answers. */
    int expire = st->action == ZG_SETTLE_FINISH && st->retention_s > 0;
    int ahead = expire && !outside && lease_cas > 0 && !conn->cluster;
    pointer_call pc;
    int pointer_argc = pointer_args(r, &pc, k.pointer, lease_cas, st->retention_s, 0);
    const char *hgetall[] = {"HGETALL", copy_key}, *del[] = {"DEL", copy_key};
    /* (sent ahead on one server, whose library holds pointer.lua as a function: an FCALL costs
     * the server less than the EVAL, which hashes the script's text at every call) */
    zg_redis_call calls[4] = {{&r->scripts[S_POINTER], 1, pointer_argc - 3, pc.argv + 3, NULL},
                              {script, req ? 8 : 5, (int)a.n, a.argv, NULL},
                              {NULL, 0, 2, hgetall, NULL},
                              {NULL, 0, 2, del, NULL}};
    redisReply *sent[4] = {NULL, NULL, NULL, NULL};
    redisReply **replies = sent + 1; /* the script's, then the copy's (the EVAL's is not read) */
    pthread_mutex_lock(&conn->lock);
    int rc = zg_redis_pipeline(conn, (size_t)(req ? 3 : 1) + (size_t)ahead, calls + !ahead,
                               sent + !ahead, err);
    av_free(&a);
    if (rc != ZG_OK) { /* the settle's fate unknown: the expiry taken back (best effort) */
        if (ahead) pointer_later(r, conn, k.pointer, lease_cas, 0, 1);
        pthread_mutex_unlock(&conn->lock);
        return rc;
    }
    /* the expiry sent ahead did not apply (the pointer holds that cas already: taken back after
     * an earlier try of this settle was refused): sent after it, as of the settle's cas */
    int ahead_applied =
        ahead && sent[0] && sent[0]->type == REDIS_REPLY_INTEGER && sent[0]->integer == 1;
    redisReply *reply = replies[0];
    long long v = int_at(reply, 0);
    if (reply->type == REDIS_REPLY_ERROR)
        rc = zg_redis_reply_error(reply, err);
    else if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
        rc = unexpected(err, "a settle");
    else if (v == -1)
        rc = zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid);
    else if (v == -2)
        rc = zg_fail(err, ZG_ESTALE, "lease %s of job %s is no longer current", token, uuid);
    else if (v == -3)
        rc = zg_fail(err, ZG_EINVAL, "job %s has finished already", uuid);
    else if (v == -4 && run)
        rc = lost_writes(err, run);
    else if (v != 1 && v != 2) /* 2: applied before (a resend whose first reply was lost) */
        rc = unexpected(err, "a settle");
    else {
        if (cas) *cas = int_at(reply, 1);
        /* a finish with a retention not expired ahead: the pointer by uuid expires with the job,
         * sent now that the settle was applied, its reply not waited for. Ordered by the
         * finish's cas against a retry's (pointer.lua), whichever comes first. A resend (2)
         * whose first reply was lost sends nothing: its cas is the job's now, which may be a
         * retry's (the pointer then outlives the job, a key that reads as "no job", rather than
         * risk expiring a retried job's). */
        if (v == 1 && expire && !ahead_applied)
            pointer_later(r, conn, k.pointer, int_at(reply, 1), st->retention_s, 0);
        /* the claim that came with it: a failure to read it leaves the job to lapse (its lease
         * runs out after the TTR), not the settle undone */
        const redisReply *c = reply->elements == 3 ? reply->element[2] : NULL;
        if (next && c && c->type == REDIS_REPLY_ARRAY && int_at(c, 0) == 1) {
            zg_error claim_err = {0};
            if (take_claim(c, replies[1], queue, next, &claim_err) != ZG_OK) zg_claim_clear(next);
        }
    }
    if (rc != ZG_OK && ahead) /* refused: the expiry set ahead of it is taken back */
        pointer_later(r, conn, k.pointer, lease_cas, 0, 1);
    for (int i = 0; i < 4; i++)
        if (sent[i]) zg_redis_reply_free(sent[i]);
    pthread_mutex_unlock(&conn->lock);
    return rc;
}

/* The watchdog's release, on the heartbeat's connection (the host's may be in use by the
 * stuck thread). */
static int rs_release_overrun(zg_store *s, const zg_lease *lease, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    char token[24];
    snprintf(token, sizeof token, "%lld", (long long)lease->token);
    zg_settle st = {.action = ZG_SETTLE_RELEASE, .prior = ZG_PRIOR_OVERRUN};
    return settle_op(r, &r->beat, &r->beat_settle, lease->queue, lease->uuid, token, NULL, 1, &st,
                     "", 0, NULL, NULL, 0, NULL, err);
}

static int rs_settle(zg_store *s, const zg_lease *lease, const zg_settle *st, const char *writer,
                     int64_t seq, int64_t *cas, zg_error *err)
{
    char token[24];
    snprintf(token, sizeof token, "%lld", (long long)lease->token);
    redis_store *r = (redis_store *)s;
    return settle_op(r, &r->conn, &r->scripts[S_SETTLE], lease->queue, lease->uuid, token, lease, 0,
                     st, writer, seq, cas, NULL, 0, NULL, err);
}

/* The settle and a claim of the next job of the same queue in one script (another queue of the
 * request is not looked at: that is the next claim's business). */
static int rs_settle_claim(zg_store *s, const zg_lease *lease, const zg_settle *st,
                           const char *writer, int64_t seq, int64_t *cas, const zg_claim_req *req,
                           int64_t claim_seq, zg_claim *out, zg_error *err)
{
    memset(out, 0, sizeof *out);
    int same_queue = 0;
    for (size_t i = 0; req && i < req->nqueues; i++)
        same_queue = same_queue || strcmp(req->queues[i], lease->queue) == 0;
    if (!same_queue || !req->ntypes) req = NULL;
    char token[24];
    snprintf(token, sizeof token, "%lld", (long long)lease->token);
    redis_store *r = (redis_store *)s;
    return settle_op(r, &r->conn, &r->scripts[S_SETTLE], lease->queue, lease->uuid, token, lease, 0,
                     st, writer, seq, cas, req, claim_seq, out, err);
}

static int rs_unclaim(zg_store *s, const zg_lease *lease, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    job_keys k;
    if (make_keys(r, &k, lease->queue, lease->uuid, err) != ZG_OK) return err->code;
    char token[24];
    format_int(token, lease->token);
    return lease_outcome(run_on_job(r, S_UNCLAIM, &k, token, err), lease, "an unclaim", err);
}

/* A claim memo ("seq lease uuid") as a lease of queue into *l and its sequence number into *seq
 * (seq may be NULL); *l left alone when e names no job (nil: no claim; "seq 0 -": one a close
 * emptied, whose seq still counts: its writer claimed there after its older claims). */
static void read_claim_memo(const redisReply *e, const char *queue, zg_lease *l, int64_t *seq)
{
    long long memo_seq = 0, token = 0;
    char uuid[ZG_UUID_LEN] = "";
    if (e->type != REDIS_REPLY_STRING) return;
    int got = sscanf(e->str, "%lld %lld %36s", &memo_seq, &token, uuid);
    if (got >= 1 && seq) *seq = memo_seq;
    if (got != 3 || token <= 0) return;
    snprintf(l->uuid, sizeof l->uuid, "%s", uuid);
    snprintf(l->queue, sizeof l->queue, "%s", queue);
    l->token = token;
}

/* What closing a live writer's unanswered claim says: its sequence numbers, from .. to - 1. */
typedef struct claim_close {
    int64_t from_seq, to_seq;
} claim_close;

/* The claim memos ({zq:Q}:claim:<writer>, "seq lease uuid", kept by the claim) of nw writers on
 * each queue into out[q * nw + w] and seqs (may be NULL): read with one MGET a queue or, with
 * close (one writer), closed by close_claims.lua a queue; all in one pipeline. A name the store
 * cannot place (not one a host made) is skipped, not the whole call; an error reply for one
 * queue is said (the last one) once the others are read. */
static int claim_memos(redis_store *r, char *const *queues, size_t nq, const char *const *writers,
                       size_t nw, const claim_close *close, zg_lease *out, int64_t *seqs,
                       zg_error *err)
{
    memset(out, 0, nq * nw * sizeof *out);
    if (seqs) memset(seqs, 0, nq * nw * sizeof *seqs);
    if (!nq || !nw) return ZG_OK;
    size_t width = close ? 4 : nw + 1; /* a call's arguments */
    char(*prefixes)[PREFIX_LEN] = calloc(nq, sizeof *prefixes);
    char(*keys)[WRITER_KEY_LEN] = calloc(nq * nw, sizeof *keys);
    const char **argv = calloc(nq * width, sizeof *argv);
    zg_redis_call *calls = calloc(nq, sizeof *calls);
    redisReply **replies = calloc(nq, sizeof *replies);
    size_t *asked = calloc(nq, sizeof *asked), k = 0; /* calls[j] is of queues[asked[j]] */
    char from_text[24], to_text[24];
    snprintf(from_text, sizeof from_text, "%lld", close ? (long long)close->from_seq : 0LL);
    snprintf(to_text, sizeof to_text, "%lld", close ? (long long)close->to_seq : 0LL);
    int rc = ZG_OK;
    if (!prefixes || !keys || !argv || !calls || !replies || !asked) {
        rc = zg_fail(err, ZG_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t q = 0; q < nq; q++) {
        zg_error bad = {0};
        if (queue_prefix(r, prefixes[k], sizeof prefixes[k], queues[q], &bad) != ZG_OK) continue;
        const char **row = argv + k * width;
        for (size_t w = 0; w < nw; w++) {
            if (writer_key(keys[k * nw + w], prefixes[k], ":claim:", writers[w], err) != ZG_OK) {
                rc = err->code;
                goto done;
            }
            row[w + 1] = keys[k * nw + w];
        }
        if (close) {
            row[0] = prefixes[k], row[2] = from_text, row[3] = to_text;
            calls[k] = (zg_redis_call){&r->scripts[S_CLOSE_CLAIMS], 2, 4, row, NULL};
        } else {
            row[0] = "MGET";
            calls[k] = (zg_redis_call){NULL, 0, (int)nw + 1, row, NULL};
        }
        asked[k++] = q;
    }
    if (!k) goto done;
    pthread_mutex_lock(&r->conn.lock);
    rc = zg_redis_pipeline(&r->conn, k, calls, replies, err);
    pthread_mutex_unlock(&r->conn.lock);
    int failed = ZG_OK;
    for (size_t j = 0; rc == ZG_OK && j < k; j++) {
        const redisReply *e = replies[j];
        if (e->type == REDIS_REPLY_ERROR) {
            failed = zg_redis_reply_error(e, err);
            continue;
        }
        if (!close && (e->type != REDIS_REPLY_ARRAY || e->elements != nw)) {
            failed = unexpected(err, "the last claims");
            continue;
        }
        for (size_t w = 0; w < nw; w++) /* (a close answers its one memo, not a list) */
            read_claim_memo(close ? e : e->element[w], queues[asked[j]], &out[asked[j] * nw + w],
                            seqs ? &seqs[asked[j] * nw + w] : NULL);
    }
    if (rc == ZG_OK) rc = failed;
done:
    for (size_t j = 0; replies && j < k; j++)
        if (replies[j]) zg_redis_reply_free(replies[j]);
    free(prefixes);
    free(keys);
    free(argv);
    free(calls);
    free(replies);
    free(asked);
    return rc;
}

static int rs_last_claims(zg_store *s, char *const *queues, size_t nq, const char *const *writers,
                          size_t nw, zg_lease *out, int64_t *seqs, zg_error *err)
{
    return claim_memos((redis_store *)s, queues, nq, writers, nw, NULL, out, seqs, err);
}

/* A live writer's unanswered claim closed on each queue (close_claims.lua). */
static int rs_close_claims(zg_store *s, char *const *queues, size_t nq, const char *writer,
                           int64_t from_seq, int64_t to_seq, zg_lease *out, int64_t *seqs,
                           zg_error *err)
{
    const char *writers[] = {writer};
    claim_close close = {from_seq, to_seq};
    return claim_memos((redis_store *)s, queues, nq, writers, 1, &close, out, seqs, err);
}

/* The queue of a job by its uuid (the pointer), into queue; ZG_ENOTFOUND. */
static int find_queue(redis_store *r, const char *uuid, char queue[ZG_NAME_LEN], zg_error *err)
{
    queue[0] = '\0'; /* set whatever happens (the analyzer cannot see zg_fail's result) */
    if (strlen(uuid) >= ZG_UUID_LEN) return zg_fail(err, ZG_ENOTFOUND, "no job %.60s", uuid);
    char key[POINTER_KEY_LEN];
    pointer_key(key, uuid);
    const char *argv[] = {"GET", key};
    redisReply *reply = command(r, 2, argv, NULL, err);
    if (!reply) return err->code;
    /* "<queue>" or "<queue>}<cas>" (pointer.lua) */
    size_t len = reply->type == REDIS_REPLY_STRING ? strcspn(reply->str, "}") : ZG_NAME_LEN;
    int found = len > 0 && len < ZG_NAME_LEN;
    if (found) snprintf(queue, ZG_NAME_LEN, "%.*s", (int)len, reply->str);
    zg_redis_reply_free(reply);
    return found ? ZG_OK : zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid);
}

static int rs_settle_from_outside(zg_store *s, const char *queue, const char *uuid, int64_t token,
                                  const zg_settle *st, const char *writer, int64_t seq,
                                  zg_error *err)
{
    redis_store *r = (redis_store *)s;
    char found[ZG_NAME_LEN];
    if (!queue || !*queue) {
        if (find_queue(r, uuid, found, err) != ZG_OK) return err->code;
        queue = found;
    }
    char tok[24];
    snprintf(tok, sizeof tok, "%lld", (long long)token);
    return settle_op(r, &r->conn, &r->scripts[S_SETTLE], queue, uuid, tok, NULL, 1, st, writer, seq,
                     NULL, NULL, 0, NULL, err);
}

/* Reads a document written before the lifecycle layout (zerog_job_<uuid>); read-only. */
static int load_legacy(redis_store *r, const char *uuid, char **json, zg_error *err)
{
    char doc[ZG_UUID_LEN + 16], lists[3][ZG_UUID_LEN + 32];
    snprintf(doc, sizeof doc, "zerog_job_%s", uuid);
    const char *hgetall[] = {"HGETALL", doc};
    const char *lrange[3][4];
    zg_redis_call calls[4] = {{NULL, 0, 2, hgetall, NULL}};
    for (int i = 0; i < 3; i++) {
        snprintf(lists[i], sizeof lists[i], "{%s}:%s", doc, zg_store_lists[i]);
        lrange[i][0] = "LRANGE", lrange[i][1] = lists[i], lrange[i][2] = "0", lrange[i][3] = "-1";
        calls[i + 1] = (zg_redis_call){NULL, 0, 4, lrange[i], NULL};
    }
    redisReply *replies[4] = {0};
    pthread_mutex_lock(&r->conn.lock);
    int rc = zg_redis_pipeline(&r->conn, 4, calls, replies, err);
    pthread_mutex_unlock(&r->conn.lock);
    if (rc != ZG_OK) return rc;
    if (replies[0]->type != REDIS_REPLY_ARRAY || replies[0]->elements == 0)
        rc = zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid);
    else {
        redisReply fake = {.type = REDIS_REPLY_ARRAY, .elements = 4, .element = replies};
        rc = doc_json(&fake, json, err);
    }
    for (int i = 0; i < 4; i++)
        zg_redis_reply_free(replies[i]);
    return rc;
}

static int rs_load(zg_store *s, const char *uuid, char **json, char queue[ZG_NAME_LEN],
                   zg_error *err)
{
    redis_store *r = (redis_store *)s;
    *json = NULL;
    char q[ZG_NAME_LEN] = "";
    if (queue && queue[0])
        snprintf(q, sizeof q, "%s", queue);
    else {
        int rc = find_queue(r, uuid, q, err);
        if (rc == ZG_ENOTFOUND) return load_legacy(r, uuid, json, err);
        if (rc != ZG_OK) return rc;
    }
    job_keys k;
    if (make_keys(r, &k, q, uuid, err) != ZG_OK) return err->code;
    redisReply *reply = run_on_job(r, S_READ, &k, NULL, err);
    if (!reply) return err->code;
    int rc = reply->type == REDIS_REPLY_ARRAY ? doc_json(reply, json, err)
                                              : zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid);
    zg_redis_reply_free(reply);
    if (rc == ZG_OK && queue) snprintf(queue, ZG_NAME_LEN, "%s", q);
    return rc;
}

/* Runs a script on a queue with integer/string args; the reply or NULL. */
static redisReply *run_on_queue(redis_store *r, int which, const char *queue, const char *arg,
                                zg_error *err)
{
    char prefix[PREFIX_LEN];
    if (queue_prefix(r, prefix, sizeof prefix, queue, err) != ZG_OK) return NULL;
    argvec a = {0};
    av_push(&a, prefix);
    if (arg) av_push(&a, arg);
    redisReply *reply = run(r, which, 1, &a, err);
    av_free(&a);
    return reply;
}

static int rs_kick(zg_store *s, const char *queue, int64_t max, int64_t *count, zg_error *err)
{
    char n[24];
    snprintf(n, sizeof n, "%lld", (long long)(max > 0 ? max : 0));
    redisReply *reply = run_on_queue((redis_store *)s, S_KICK, queue, n, err);
    if (!reply) return err->code;
    *count = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    zg_redis_reply_free(reply);
    return ZG_OK;
}

static int rs_counts(zg_store *s, const char *queue, zg_store_counts *out, zg_error *err)
{
    memset(out, 0, sizeof *out);
    redisReply *reply = run_on_queue((redis_store *)s, S_COUNTS, queue, NULL, err);
    if (!reply) return err->code;
    int rc = ZG_OK;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5)
        rc = unexpected(err, "counts");
    else {
        out->waiting = int_at(reply, 0);
        out->delayed = int_at(reply, 1);
        out->running = int_at(reply, 2);
        out->buried = int_at(reply, 3);
        out->unclaimed = int_at(reply, 4);
    }
    zg_redis_reply_free(reply);
    return rc;
}

static int rs_job_state(zg_store *s, const char *uuid, zg_job_state *out, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    memset(out, 0, sizeof *out);
    char queue[ZG_NAME_LEN];
    if (find_queue(r, uuid, queue, err) != ZG_OK) return err->code;
    job_keys k;
    if (make_keys(r, &k, queue, uuid, err) != ZG_OK) return err->code;
    redisReply *reply = run_on_job(r, S_STATE, &k, NULL, err);
    if (!reply) return err->code;
    int rc = ZG_OK;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 8)
        rc = zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid);
    else {
        static const char *const states[] = {"waiting", "delayed",  "running",
                                             "buried",  "finished", "parked"};
        const char *st = reply->element[0]->str ? reply->element[0]->str : "";
        out->state = ZG_STATE_WAITING;
        for (int i = 0; i < 6; i++)
            if (strcmp(st, states[i]) == 0) out->state = i;
        out->id = int_at(reply, 1);
        out->priority = int_at(reply, 2);
        out->reserves = int_at(reply, 3);
        out->timeouts = int_at(reply, 4);
        out->releases = int_at(reply, 5);
        out->lease = int_at(reply, 6);
        out->time_left_ms = int_at(reply, 7);
    }
    zg_redis_reply_free(reply);
    return rc;
}

static int rs_buried(zg_store *s, const char *queue, char **json, zg_error *err)
{
    *json = NULL;
    redisReply *reply = run_on_queue((redis_store *)s, S_BURIED, queue, NULL, err);
    if (!reply) return err->code;
    zg_strbuf b;
    zg_strbuf_init(&b);
    zg_strbuf_puts(&b, "[");
    int first = 1;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 4) continue;
        int strings = 1;
        for (int k = 0; k < 4; k++)
            strings = strings && e->element[k]->type == REDIS_REPLY_STRING;
        if (!strings) continue;
        if (!first) zg_strbuf_puts(&b, ",");
        first = 0;
        zg_strbuf_puts(&b, "{\"uuid\":");
        zg_strbuf_json_string(&b, e->element[0]->str);
        zg_strbuf_puts(&b, ",\"jobType\":");
        zg_strbuf_json_string(&b, e->element[1]->str);
        zg_strbuf_puts(&b, ",\"reason\":");
        zg_strbuf_json_string(&b, e->element[2]->str);
        zg_strbuf_printf(&b, ",\"buriedAt\":%lld}", strtoll(e->element[3]->str, NULL, 10));
    }
    zg_strbuf_puts(&b, "]");
    zg_redis_reply_free(reply);
    *json = zg_strbuf_take(&b);
    return *json ? ZG_OK : zg_fail(err, ZG_ENOMEM, "out of memory");
}

/* ---- the index ---- */

static const char *const index_states[ZG_JOBS_NSTATES] = {
    "waiting", "delayed", "running", "succeeded", "failed", "buried", "parked"};

/* The names of the states of mask, separated by spaces, into out. */
static void state_names(char *out, size_t size, unsigned mask)
{
    out[0] = '\0';
    for (int i = 0; i < ZG_JOBS_NSTATES; i++)
        if (mask & (1u << i)) {
            size_t len = strlen(out);
            snprintf(out + len, size - len, "%s%s", len ? " " : "", index_states[i]);
        }
}

static int state_index(const char *name)
{
    for (int i = 0; i < ZG_JOBS_NSTATES; i++)
        if (strcmp(name, index_states[i]) == 0) return i;
    return -1;
}

/* For an array reply: room for one row (of `size` bytes) per element, zeroed, malloc'd. Else
 * NULL, with the reply freed and *rc the error it is (or an unexpected reply to `what`, or no
 * memory). */
static void *rows_for(redisReply *reply, size_t size, const char *what, int *rc, zg_error *err)
{
    void *rows = NULL;
    if (reply->type == REDIS_REPLY_ERROR)
        *rc = zg_redis_reply_error(reply, err);
    else if (reply->type != REDIS_REPLY_ARRAY)
        *rc = unexpected(err, what);
    else if (!(rows = calloc(reply->elements + 1, size)))
        *rc = zg_fail(err, ZG_ENOMEM, "out of memory");
    if (!rows) zg_redis_reply_free(reply);
    return rows;
}

static char *reply_strdup(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_STRING ? strndup(e->str, e->len) : NULL;
}

static int rs_list(zg_store *s, const zg_index_req *req, zg_index_row **rows, size_t *n,
                   zg_error *err)
{
    redis_store *r = (redis_store *)s;
    *rows = NULL;
    *n = 0;
    char states[80], limit[24], since[24] = "";
    state_names(states, sizeof states, req->states);
    snprintf(limit, sizeof limit, "%zu", req->limit);
    if (req->since_ms > 0) snprintf(since, sizeof since, "%015lld", (long long)req->since_ms);
    char prefix[PREFIX_LEN];
    if (queue_prefix(r, prefix, sizeof prefix, req->queue, err) != ZG_OK) return err->code;
    argvec a = {0};
    av_push(&a, prefix);
    av_push(&a, states);
    av_push(&a, req->job_type ? req->job_type : "");
    av_push(&a, req->before ? req->before : "");
    av_push(&a, since);
    av_push(&a, limit);
    redisReply *reply = run((redis_store *)s, S_LIST, 1, &a, err);
    av_free(&a);
    if (!reply) return err->code;
    int rc = ZG_OK;
    zg_index_row *out = rows_for(reply, sizeof *out, "a list", &rc, err);
    if (!out) return rc;
    size_t got = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 9 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_STRING ||
            e->element[2]->type != REDIS_REPLY_STRING || e->element[0]->len >= ZG_IX_KEY_LEN ||
            e->element[2]->len >= ZG_NAME_LEN)
            continue;
        zg_index_row *row = &out[got++];
        snprintf(row->key, sizeof row->key, "%s", e->element[0]->str);
        snprintf(row->job_type, sizeof row->job_type, "%s", e->element[2]->str);
        row->state = state_index(e->element[1]->str);
        for (int v = 0; v < ZG_ROW_NVALUES; v++)
            row->values[v] = reply_strdup(e->element[3 + v]);
        row->last_error = reply_strdup(e->element[8]);
    }
    zg_redis_reply_free(reply);
    *rows = out;
    *n = got;
    return ZG_OK;
}

/* Sends commands on keys outside any queue's slot (pointers, the queue set) without waiting
 * for their replies. */
static void send_later(redis_store *r, int argc, const char **argv)
{
    pthread_mutex_lock(&r->conn.lock);
    zg_redis_send_later(&r->conn, argc, argv);
    pthread_mutex_unlock(&r->conn.lock);
}

/* The keys of a job known by its uuid alone (its queue read from the pointer); ZG_ENOTFOUND. */
static int keys_by_uuid(redis_store *r, const char *uuid, job_keys *k, zg_error *err)
{
    char queue[ZG_NAME_LEN];
    if (find_queue(r, uuid, queue, err) != ZG_OK) return err->code;
    return make_keys(r, k, queue, uuid, err);
}

static int rs_retry(zg_store *s, const char *uuid, zg_fields f, const char *event,
                    const char *writer, int64_t seq, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    job_keys k;
    if (keys_by_uuid(r, uuid, &k, err) != ZG_OK) return err->code;
    argvec a = {0};
    av_push(&a, k.prefix);
    av_push(&a, k.job);
    av_push(&a, k.lists[ZG_LIST_EVENTS]);
    av_push(&a, writer);
    av_int(&a, seq);
    av_push(&a, event);
    av_fields(&a, f);
    redisReply *reply = run(r, S_RETRY, 3, &a, err);
    av_free(&a);
    if (!reply) return err->code;
    int rc =
        reply->type == REDIS_REPLY_ERROR ? zg_redis_reply_error(reply, err)
        : reply->type == REDIS_REPLY_STRING /* the job holding its unique key */
            ? zg_fail(err, ZG_EEXIST, "job %s holds the same unique key: job %s was not retried",
                      reply->str, uuid)
            : reply->type != REDIS_REPLY_INTEGER ? unexpected(err, "a retry")
              : reply->integer == -1             ? zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid)
              : reply->integer == -3 ? zg_fail(err, ZG_EINVAL, "job %s has not failed", uuid)
                                     : ZG_OK;
    long long cas = rc == ZG_OK ? reply->integer : 0;
    zg_redis_reply_free(reply);
    if (rc == ZG_OK && cas > 0) { /* its retention is lifted: the pointer by uuid's too */
        pthread_mutex_lock(&r->conn.lock);
        pointer_later(r, &r->conn, k.pointer, cas, 0, 0);
        pthread_mutex_unlock(&r->conn.lock);
    }
    return rc;
}

static int rs_deliver(zg_store *s, const char *queue, int64_t older_than_ms, int64_t *delivered,
                      zg_error *err);

static int rs_remove(zg_store *s, const char *uuid, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    job_keys k;
    if (keys_by_uuid(r, uuid, &k, err) != ZG_OK) return err->code;
    char now[40], end[sizeof ZG_FLOW_DELETED_END + sizeof now];
    zg_clock_iso8601(now, sizeof now);
    snprintf(end, sizeof end, ZG_FLOW_DELETED_END, now);
    redisReply *reply = run_on_job(r, S_REMOVE, &k, end, err);
    if (!reply) return err->code;
    int rc = reply->type == REDIS_REPLY_ERROR     ? zg_redis_reply_error(reply, err)
             : reply->type != REDIS_REPLY_INTEGER ? unexpected(err, "a delete")
                                                  : ZG_OK;
    long long outcome = rc == ZG_OK ? reply->integer : 0;
    zg_redis_reply_free(reply);
    if (rc != ZG_OK) return rc;
    const char *del[] = {"DEL", k.pointer};
    send_later(r, 2, del);
    if (outcome == 2) { /* flows: a child deleted before it ended, handed to its parent now
                         * (else any host serving its queue re-sends it within seconds) */
        char queue[ZG_NAME_LEN];
        snprintf(queue, sizeof queue, "%.*s", (int)strlen(k.prefix) - 5, k.prefix + 4);
        zg_error ignored = {0};
        rs_deliver(s, queue, 0, NULL, &ignored);
    }
    int existed = outcome != 0;
    return existed ? ZG_OK : zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid);
}

static int rs_purge(zg_store *s, const char *queue, unsigned states, const char *job_type,
                    int64_t older_than_ms, size_t max, int64_t *deleted, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    *deleted = 0;
    unsigned finished = (1u << ZG_JOBS_SUCCEEDED) | (1u << ZG_JOBS_FAILED);
    if (!states || (states & ~finished))
        return zg_fail(err, ZG_EINVAL, "purge: only succeeded and failed jobs are purged");
    char names[40], age[24] = "", limit[24];
    state_names(names, sizeof names, states);
    if (older_than_ms > 0) snprintf(age, sizeof age, "%lld", (long long)older_than_ms);
    snprintf(limit, sizeof limit, "%zu", max);
    char prefix[PREFIX_LEN];
    if (queue_prefix(r, prefix, sizeof prefix, queue, err) != ZG_OK) return err->code;
    argvec a = {0};
    av_push(&a, prefix);
    av_push(&a, names);
    av_push(&a, job_type ? job_type : "");
    av_push(&a, age);
    av_push(&a, limit);
    redisReply *reply = run(r, S_PURGE, 1, &a, err);
    av_free(&a);
    if (!reply) return err->code;
    int rc = reply->type == REDIS_REPLY_ERROR   ? zg_redis_reply_error(reply, err)
             : reply->type != REDIS_REPLY_ARRAY ? unexpected(err, "a purge")
                                                : ZG_OK;
    if (rc == ZG_OK && reply->elements) { /* their pointers by uuid, in one command */
        argvec d = {0};
        av_push(&d, "DEL");
        char(*keys)[POINTER_KEY_LEN] = calloc(reply->elements, sizeof *keys);
        for (size_t i = 0; keys && i < reply->elements; i++)
            if (reply->element[i]->type == REDIS_REPLY_STRING &&
                reply->element[i]->len < ZG_UUID_LEN) {
                pointer_key(keys[i], reply->element[i]->str);
                av_push(&d, keys[i]);
            }
        if (keys && !d.oom && d.n > 1) send_later(r, (int)d.n, d.argv);
        free(keys);
        av_free(&d);
        *deleted = (int64_t)reply->elements;
    }
    zg_redis_reply_free(reply);
    return rc;
}

static int rs_type_counts(zg_store *s, const char *queue, zg_type_counts **rows, size_t *n,
                          zg_error *err)
{
    *rows = NULL;
    *n = 0;
    redisReply *reply = run_on_queue((redis_store *)s, S_TYPES, queue, NULL, err);
    if (!reply) return err->code;
    int rc = ZG_OK;
    zg_type_counts *out = rows_for(reply, sizeof *out, "type counts", &rc, err);
    if (!out) return rc;
    size_t got = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 1 + ZG_JOBS_NSTATES ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= ZG_NAME_LEN)
            continue;
        zg_type_counts *row = &out[got++];
        snprintf(row->queue, sizeof row->queue, "%s", queue);
        snprintf(row->job_type, sizeof row->job_type, "%s", e->element[0]->str);
        for (int k = 0; k < ZG_JOBS_NSTATES; k++)
            row->count[k] = int_at(e, (size_t)k + 1);
    }
    zg_redis_reply_free(reply);
    *rows = out;
    *n = got;
    return ZG_OK;
}

static int rs_known_queues(zg_store *s, char ***names, size_t *n, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    *names = NULL;
    *n = 0;
    const char *argv[] = {"SMEMBERS", QUEUES_KEY};
    redisReply *reply = command(r, 2, argv, NULL, err);
    if (!reply) return err->code;
    int rc = ZG_OK;
    char **out = rows_for(reply, sizeof *out, "the queue names", &rc, err);
    if (!out) return rc;
    size_t got = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len >= ZG_NAME_LEN) continue;
        char *name = strdup(e->str);
        if (!name) {
            zg_redis_reply_free(reply);
            for (size_t k = 0; k < got; k++)
                free(out[k]);
            free(out);
            return zg_fail(err, ZG_ENOMEM, "out of memory");
        }
        out[got++] = name;
    }
    zg_redis_reply_free(reply);
    *names = out;
    *n = got;
    return ZG_OK;
}

static int rs_publish(zg_store *s, const char *channel, const char *message, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    const char *argv[] = {"PUBLISH", channel, message};
    redisReply *reply = command(r, 3, argv, NULL, err);
    if (!reply) return err->code;
    zg_redis_reply_free(reply);
    return ZG_OK;
}

/* Subscribes on a connection of its own and reads with poll(), so the stop flag is seen twice a
 * second without breaking the connection with a read timeout. A lost connection resubscribes. */
static int rs_follow(zg_store *s, const char *channel, void (*fn)(void *, const char *), void *ud,
                     atomic_int *stop, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    char url[1400];
    while (!*stop) {
        zg_redis sub;
        pthread_mutex_lock(&r->conn.lock);
        int found = zg_redis_subscriber_url(&r->conn, url, sizeof url, err);
        pthread_mutex_unlock(&r->conn.lock);
        int opened = found == ZG_OK && zg_redis_open(&sub, url, r->conn.timeout_ms, err) == ZG_OK;
        if (!opened) {
            if (found == ZG_OK) zg_redis_close(&sub);
            for (int i = 0; i < 10 && !*stop; i++)
                zg_clock_sleep_ms(100);
            continue;
        }
        const char *argv[] = {"SUBSCRIBE", channel};
        redisReply *reply = zg_redis_command(&sub, 2, argv, NULL, 0, err);
        if (reply) zg_redis_reply_free(reply);
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
            zg_redis_reply_free(m);
        }
        zg_redis_close(&sub);
    }
    return ZG_OK;
}

static int rs_ping(zg_store *s, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    const char *argv[] = {"PING"};
    redisReply *reply = command(r, 1, argv, NULL, err);
    if (!reply) return err->code;
    zg_redis_reply_free(reply);
    return ZG_OK;
}

static int rs_shard_count(zg_store *s, const char *queue, int *n, zg_error *err)
{
    return shard_count_of((redis_store *)s, queue, n, err);
}

static int rs_shard_record(zg_store *s, const char *queue, int n, int replace, int *recorded,
                           zg_error *err)
{
    redis_store *r = (redis_store *)s;
    if (n < 1 || n > ZG_SHARDS_MAX)
        return zg_fail(err, ZG_EINVAL, "a queue has 1 to %d shards", ZG_SHARDS_MAX);
    char count[8];
    snprintf(count, sizeof count, "%d", n);
    /* (HSETNX: of two hosts that find no record and declare different counts at once, one
     * records its count and the other finds it, instead of both going on with their own) */
    const char *set[] = {replace ? "HSET" : "HSETNX", SHARDS_KEY, queue, count};
    redisReply *reply = command(r, 4, set, NULL, err);
    if (!reply) return err->code;
    int rc = reply->type == REDIS_REPLY_ERROR ? zg_redis_reply_error(reply, err) : ZG_OK;
    int written = replace || (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1);
    zg_redis_reply_free(reply);
    if (rc != ZG_OK) return rc;
    *recorded = n;
    if (!written) { /* another host's record: read it */
        pthread_mutex_lock(&r->placement_lock);
        zg_map_remove(&r->shard_counts, queue);
        pthread_mutex_unlock(&r->placement_lock);
        return shard_count_of(r, queue, recorded, err);
    }
    /* the placement of its shards follows the new count (this process's cache) */
    pthread_mutex_lock(&r->placement_lock);
    zg_map_set(&r->shard_counts, queue, zg_shard_count_ref(n));
    for (int i = 0; i < ZG_SHARDS_MAX; i++) {
        char name[ZG_NAME_LEN + 8];
        snprintf(name, sizeof name, "%s~%d", queue, i);
        free(zg_map_remove(&r->shard_prefixes, name));
    }
    pthread_mutex_unlock(&r->placement_lock);
    return ZG_OK;
}

static void rs_close(zg_store *s)
{
    redis_store *r = (redis_store *)s;
    zg_map_free(&r->shard_counts, NULL);
    zg_map_free(&r->shard_prefixes, free);
    pthread_mutex_destroy(&r->placement_lock);
    zg_redis_close(&r->conn);
    zg_redis_close(&r->beat);
    free(r->library);
    free(r->pointer_script);
    zg_map_free(&r->registered, NULL);
    free(r);
}

/* ---- repeatable jobs (schedules): the scripts schedule_*.lua; their jobs are made by
 * rs_submit through schedule_fire ---- */

static int rs_schedule_put(zg_store *s, const zg_schedule *sc, int *written, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    char prefix[PREFIX_LEN];
    if (queue_prefix(r, prefix, sizeof prefix, sc->queue, err) != ZG_OK) return err->code;
    argvec a = {0};
    av_push(&a, prefix);
    av_push(&a, sc->id);
    av_push(&a, sc->job_type);
    av_push(&a, sc->rule);
    av_push(&a, sc->tz);
    av_push(&a, sc->params ? sc->params : "");
    av_push(&a, sc->catch_up == ZG_CATCH_UP_SKIP ? "skip" : "once");
    av_int(&a, sc->next_ms);
    redisReply *reply = run(r, S_SCHEDULE_PUT, 1, &a, err);
    av_free(&a);
    if (!reply) return err->code;
    *written = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    zg_redis_reply_free(reply);
    /* the queue is named in the set of queues (listings find the schedule through it) */
    const char *sadd[] = {"SADD", QUEUES_KEY, sc->queue};
    reply = command(r, 3, sadd, NULL, err);
    if (!reply) return err->code;
    zg_redis_reply_free(reply);
    return ZG_OK;
}

static const char *reply_str(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_STRING ? e->str : "";
}

static int rs_schedule_list(zg_store *s, const char *queue, int due_only, zg_schedule **rows,
                            size_t *n, int64_t *now_ms, int64_t *earliest_ms, zg_error *err)
{
    *rows = NULL;
    *n = 0;
    redisReply *reply =
        run_on_queue((redis_store *)s, S_SCHEDULE_LIST, queue, due_only ? "1" : "0", err);
    if (!reply) return err->code;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        zg_redis_reply_free(reply);
        return unexpected(err, "a schedule listing");
    }
    *now_ms = int_at(reply, 0);
    *earliest_ms = int_at(reply, 1);
    size_t count = reply->elements - 2;
    zg_schedule *out = calloc(count ? count : 1, sizeof *out);
    if (!out) {
        zg_redis_reply_free(reply);
        return zg_fail(err, ZG_ENOMEM, "out of memory listing schedules");
    }
    size_t got = 0;
    for (size_t i = 0; i < count; i++) {
        const redisReply *e = reply->element[i + 2];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 8) continue;
        zg_schedule *sc = &out[got];
        snprintf(sc->id, sizeof sc->id, "%s", reply_str(e->element[0]));
        snprintf(sc->job_type, sizeof sc->job_type, "%s", reply_str(e->element[1]));
        snprintf(sc->queue, sizeof sc->queue, "%s", queue);
        snprintf(sc->rule, sizeof sc->rule, "%s", reply_str(e->element[2]));
        snprintf(sc->tz, sizeof sc->tz, "%s", reply_str(e->element[3]));
        const char *params = reply_str(e->element[4]);
        if (*params && !(sc->params = strdup(params))) {
            zg_schedules_free(out, got);
            zg_redis_reply_free(reply);
            return zg_fail(err, ZG_ENOMEM, "out of memory listing schedules");
        }
        sc->catch_up =
            strcmp(reply_str(e->element[5]), "skip") == 0 ? ZG_CATCH_UP_SKIP : ZG_CATCH_UP_ONCE;
        sc->next_ms = int_at(e, 6);
        sc->last_ms = int_at(e, 7);
        got++;
    }
    zg_redis_reply_free(reply);
    *rows = out;
    *n = got;
    return ZG_OK;
}

static int rs_schedule_remove(zg_store *s, const char *queue, const char *id, zg_error *err)
{
    redisReply *reply = run_on_queue((redis_store *)s, S_SCHEDULE_REMOVE, queue, id, err);
    if (!reply) return err->code;
    int gone = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    zg_redis_reply_free(reply);
    return gone ? ZG_OK : zg_fail(err, ZG_ENOTFOUND, "no schedule %s", id);
}

static int rs_schedule_advance(zg_store *s, const char *queue, const char *id, int64_t expected_ms,
                               int64_t next_ms, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    char prefix[PREFIX_LEN];
    if (queue_prefix(r, prefix, sizeof prefix, queue, err) != ZG_OK) return err->code;
    argvec a = {0};
    av_push(&a, prefix);
    av_push(&a, id);
    av_int(&a, expected_ms);
    av_int(&a, next_ms);
    redisReply *reply = run(r, S_SCHEDULE_ADVANCE, 1, &a, err);
    av_free(&a);
    if (!reply) return err->code;
    int moved = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    zg_redis_reply_free(reply);
    return moved ? ZG_OK : zg_fail(err, ZG_ESTALE, "schedule %s: its tick was taken", id);
}
/* ---- flows (a parent waiting for its children) ----
 * The child's finish leaves a notice in its own queue's outbox (settle.lua); deliver() reads
 * them and hands each to the parent's slot (deliver.lua, idempotent), so a host that dies in
 * between leaves the notice for the next deliver (hosts call it with an age while idle). A
 * notice handed over once waits NOTICE_CONFIRM_MS in the outbox's second set for a hand-over
 * that finds the parent had it (outbox.lua): where a failover of the parent's slot lost the
 * acknowledged end, that one delivers it again. */
#define NOTICE_CONFIRM_MS 30000

/* The keys of a parent's children hashes: <job>:kids, <job>:kres and (early may be NULL)
 * <job>:kearly, the ends of children it has not registered (yet). */
static void flow_keys(const job_keys *k, char kids[sizeof k->lists[0]],
                      char kres[sizeof k->lists[0]], char early[sizeof k->lists[0]])
{
    concat(kids, (const char *const[]){k->job, ":kids", NULL});
    concat(kres, (const char *const[]){k->job, ":kres", NULL});
    if (early) concat(early, (const char *const[]){k->job, ":kearly", NULL});
}

/* Pushes the five keys of adopt.lua and deliver.lua: the queue, the parent's hash and its
 * :kids, :kres and :kearly hashes (copies, owned by a). */
static void av_flow_keys(argvec *a, const job_keys *k)
{
    char kids[sizeof k->lists[0]], kres[sizeof k->lists[0]], early[sizeof k->lists[0]];
    flow_keys(k, kids, kres, early);
    av_push(a, k->prefix);
    av_push(a, k->job);
    av_copy(a, kids);
    av_copy(a, kres);
    av_copy(a, early);
}

static int rs_adopt(zg_store *s, const zg_lease *lease, const char *queue, const char *uuid,
                    const zg_child *kids, size_t n, const char *writer, int64_t seq, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    job_keys k;
    if (lease) queue = lease->queue, uuid = lease->uuid;
    if (make_keys(r, &k, queue, uuid, err) != ZG_OK) return err->code;
    argvec a = {0};
    av_flow_keys(&a, &k);
    av_int(&a, lease ? lease->token : 0);
    av_push(&a, lease && writer ? writer : "");
    av_int(&a, lease ? seq : 0);
    av_int(&a, lease ? lease->write_chain : 0);
    av_int(&a, (long long)n);
    for (size_t i = 0; i < n; i++) {
        av_push(&a, kids[i].uuid);
        av_push(&a, kids[i].info);
    }
    redisReply *reply = run(r, S_ADOPT, 5, &a, err);
    av_free(&a);
    if (!reply) return err->code;
    if (lease && reply->type == REDIS_REPLY_INTEGER && reply->integer == -4) {
        zg_redis_reply_free(reply);
        return lost_writes(err, lease);
    }
    if (lease) return lease_outcome(reply, lease, "adopting children", err);
    int done = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    int gone = reply->type == REDIS_REPLY_INTEGER && reply->integer == -1;
    int rc = done                               ? ZG_OK
             : gone                             ? zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid)
             : reply->type == REDIS_REPLY_ERROR ? zg_redis_reply_error(reply, err)
                                                : unexpected(err, "adopting children");
    zg_redis_reply_free(reply);
    return rc;
}

/* How many bytes of children's ends one read asks for (at least one end): a reply this size comes
 * well within the store timeout, where 60 ends of 8 MB in one reply did not (the callback was
 * released again and again, counting nothing). */
enum { CHILDREN_READ_BYTES = 4 << 20 };

/* Reads the ends of the children at list[from, to) (a 'list' reply's triples) into ends[]. */
static int children_ends(redis_store *r, const job_keys *k, const char *kids_key,
                         const char *kres_key, const redisReply *list, size_t from, size_t to,
                         redisReply **ends, zg_error *err)
{
    argvec a = {0};
    av_push(&a, k->prefix);
    av_push(&a, kids_key);
    av_push(&a, kres_key);
    av_push(&a, "ends");
    for (size_t i = from; i < to; i++)
        if (int_at(list, 3 * i + 2) > 0) av_push(&a, list->element[3 * i]->str);
    *ends = run(r, S_CHILDREN, 3, &a, err);
    av_free(&a);
    if (!*ends) return err->code;
    if ((*ends)->type == REDIS_REPLY_ARRAY) return ZG_OK;
    int rc = (*ends)->type == REDIS_REPLY_ERROR ? zg_redis_reply_error(*ends, err)
                                                : unexpected(err, "children");
    zg_redis_reply_free(*ends);
    *ends = NULL;
    return rc;
}

static int rs_children(zg_store *s, const char *queue, const char *uuid, size_t max_bytes,
                       char **json, size_t *len, zg_error *err)
{
    redis_store *r = (redis_store *)s;
    *json = NULL;
    if (len) *len = 0;
    char found[ZG_NAME_LEN];
    if (!queue || !*queue) {
        if (find_queue(r, uuid, found, err) != ZG_OK) return err->code;
        queue = found;
    }
    job_keys k;
    if (make_keys(r, &k, queue, uuid, err) != ZG_OK) return err->code;
    char kids_key[sizeof k.lists[0]], kres_key[sizeof k.lists[0]];
    flow_keys(&k, kids_key, kres_key, NULL);
    argvec a = {0};
    av_push(&a, k.prefix);
    av_push(&a, kids_key);
    av_push(&a, kres_key);
    av_push(&a, "list");
    redisReply *list = run(r, S_CHILDREN, 3, &a, err);
    av_free(&a);
    if (!list) return err->code;
    int rc = ZG_OK;
    size_t n = list->type == REDIS_REPLY_ARRAY ? list->elements / 3 : 0;
    if (list->type != REDIS_REPLY_ARRAY) {
        rc = list->type == REDIS_REPLY_ERROR ? zg_redis_reply_error(list, err)
                                             : unexpected(err, "children");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (list->element[3 * i]->type != REDIS_REPLY_STRING ||
            list->element[3 * i + 1]->type != REDIS_REPLY_STRING ||
            list->element[3 * i + 2]->type != REDIS_REPLY_INTEGER) {
            rc = unexpected(err, "children");
            goto out;
        }
    /* the text's length, known before any end is read: one that would not fit is not read */
    size_t total = n ? 1 + n : 2; /* [ ] and the commas between the children's [info,end] */
    for (size_t i = 0; i < n; i++) {
        long long end_len = int_at(list, 3 * i + 2);
        total += list->element[3 * i + 1]->len + (end_len > 0 ? (size_t)end_len : 4) + 3;
    }
    if (len) *len = total;
    if (max_bytes && total > max_bytes) {
        rc = zg_fail(err, ZG_ENOMEM, "the children's ends of job %s are %zu bytes of text", uuid,
                     total);
        goto out;
    }
    zg_strbuf b;
    zg_strbuf_init(&b);
    zg_strbuf_reserve(&b, total + 1);
    zg_strbuf_puts(&b, "[");
    for (size_t from = 0; from < n && rc == ZG_OK;) {
        size_t to = from, bytes = 0;
        while (to < n && (to == from || bytes < CHILDREN_READ_BYTES)) {
            long long end_len = int_at(list, 3 * to++ + 2);
            if (end_len > 0) bytes += (size_t)end_len;
        }
        redisReply *ends = NULL;
        if (bytes && (rc = children_ends(r, &k, kids_key, kres_key, list, from, to, &ends, err)))
            break;
        for (size_t i = from, e = 0; i < to && rc == ZG_OK; i++) {
            const redisReply *end = NULL;
            if (int_at(list, 3 * i + 2) > 0) {
                if (!ends || e >= ends->elements) {
                    rc = unexpected(err, "children");
                    break;
                }
                end = ends->element[e++];
            }
            zg_strbuf_puts(&b, i ? ",[" : "[");
            zg_strbuf_puts(&b, list->element[3 * i + 1]->str);
            zg_strbuf_puts(&b, ",");
            if (end && end->type == REDIS_REPLY_STRING && end->len)
                zg_strbuf_append(&b, end->str, end->len);
            else
                zg_strbuf_puts(&b, "null");
            zg_strbuf_puts(&b, "]");
        }
        zg_redis_reply_free(ends);
        from = to;
    }
    zg_strbuf_puts(&b, "]");
    if (rc == ZG_OK && !(*json = zg_strbuf_take(&b))) rc = zg_fail(err, ZG_ENOMEM, "out of memory");
    if (rc != ZG_OK) zg_strbuf_free(&b);
out:
    zg_redis_reply_free(list);
    return rc;
}

/* Whether text[0..len) is a uuid as the store writes them (36 of [0-9a-f-]). */
static int uuid_shaped(const char *text, size_t len)
{
    if (len != ZG_UUID_LEN - 1) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f') ||
              text[i] == '-'))
            return 0;
    return 1;
}

/* Whether the end of a notice written before the failed flag travelled in it ("<parent>
 * <child> {"resultCode":<integer or null>,"failed":true,...}") is a failure: the flag is the
 * first field after the result code, which holds no comma. */
static int old_end_failed(const char *end)
{
    static const char head[] = "{\"resultCode\":", flag[] = ",\"failed\":true";
    if (strncmp(end, head, sizeof head - 1) != 0) return 0;
    const char *comma = strchr(end, ',');
    return comma && strncmp(comma, flag, sizeof flag - 1) == 0;
}

/* Hands one notice "<parent uuid> <child uuid> <failed: 1 | 0><end>\n<parent queue>" (or, as
 * written before the flag, "<parent uuid> <child uuid> <end>\n<parent queue>") to its parent;
 * *fresh is 1 when the parent's slot did not have the end yet (deliver.lua's answer). A notice
 * that is not one of ours, or names a queue no job can be on, is ZG_OK, not fresh (nothing to
 * deliver it to); a store error (finding a sharded queue's count) is returned, with *refused set
 * when it was the parent's slot's answer (an error reply: that parent's alone, not the
 * connection's). */
static int deliver_one(redis_store *r, const char *notice, int *fresh, int *refused, zg_error *err)
{
    *fresh = *refused = 0;
    const char *nl = strrchr(notice, '\n');
    const char *sp1 = strchr(notice, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!nl || !sp1 || !sp2 || sp2 + 2 >= nl || !uuid_shaped(notice, (size_t)(sp1 - notice)) ||
        !uuid_shaped(sp1 + 1, (size_t)(sp2 - sp1 - 1)) || strlen(nl + 1) >= ZG_NAME_LEN)
        return ZG_OK;
    const char *end = sp2 + 1;
    char failed[2] = "0";
    if ((end[0] == '0' || end[0] == '1') && end[1] == '{')
        failed[0] = *end++;
    else if (end[0] == '{')
        failed[0] = old_end_failed(end) ? '1' : '0';
    else
        return ZG_OK;
    char pu[ZG_UUID_LEN], cu[ZG_UUID_LEN], pq[ZG_NAME_LEN];
    snprintf(pu, sizeof pu, "%.*s", (int)(sp1 - notice), notice);
    snprintf(cu, sizeof cu, "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
    snprintf(pq, sizeof pq, "%s", nl + 1);
    job_keys k;
    int rc = make_keys(r, &k, pq, pu, err);
    if (rc == ZG_EINVAL) return ZG_OK; /* a queue name no job can have */
    if (rc != ZG_OK) return rc;
    argvec a = {0};
    av_flow_keys(&a, &k);
    av_push(&a, cu);
    char *copy = strndup(end, (size_t)(nl - end));
    if (!copy) {
        av_free(&a);
        return zg_fail(err, ZG_ENOMEM, "out of memory");
    }
    av_push(&a, copy);
    av_push(&a, failed);
    redisReply *reply = NULL;
    if (a.oom)
        zg_fail(err, ZG_ENOMEM, "out of memory building a redis call");
    else { /* (as run(), and whether the failure was the server's answer: an error reply) */
        pthread_mutex_lock(&r->conn.lock);
        reply =
            zg_redis_script_run(&r->conn, &r->scripts[S_DELIVER], 5, (int)a.n, a.argv, NULL, err);
        *refused = !reply && !r->conn.outage;
        pthread_mutex_unlock(&r->conn.lock);
    }
    av_free(&a);
    free(copy);
    if (!reply) return err->code;
    *fresh = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    zg_redis_reply_free(reply);
    return rc;
}

/* Hands over the notices of one of the outbox's sets (from: "outbox" or "sent") of the queue
 * whose key prefix is prefix, and tells the outbox how each went (outbox.lua "handed"). A notice
 * whose parent's slot refuses it stays for the next pass, and the others go on (one parent's
 * node down in a cluster does not hold up the ends for every other parent); the first such
 * refusal is the pass's error (in *refusal, once). Any other error ends the pass. */
static int deliver_set(redis_store *r, const char *prefix, const redisReply *notices,
                       const char *from, int64_t *delivered, zg_error *refusal, zg_error *err)
{
    char confirm[24];
    snprintf(confirm, sizeof confirm, "%d", NOTICE_CONFIRM_MS);
    for (size_t i = 0; notices->type == REDIS_REPLY_ARRAY && i < notices->elements; i++) {
        const redisReply *e = notices->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        int fresh, refused;
        if (deliver_one(r, e->str, &fresh, &refused, err) != ZG_OK) {
            if (!refused) return err->code;
            if (refusal->code == ZG_OK) *refusal = *err;
            continue;
        }
        argvec a = {0};
        av_push(&a, prefix);
        av_push(&a, "handed");
        av_push(&a, from);
        av_push(&a, e->str);
        av_push(&a, fresh ? "1" : "0");
        av_push(&a, confirm);
        redisReply *reply = run(r, S_OUTBOX, 1, &a, err);
        av_free(&a);
        if (!reply) return err->code;
        int rc = reply->type == REDIS_REPLY_ERROR ? zg_redis_reply_error(reply, err) : ZG_OK;
        zg_redis_reply_free(reply);
        if (rc != ZG_OK) return rc;
        if (delivered && fresh) (*delivered)++;
    }
    return ZG_OK;
}

/* A re-send (older_than_ms > 0, a host's idle step) also confirms the notices handed over once;
 * the hand-over right after a child's settle (0) leaves that to them, off the settle's path. */
static int rs_deliver(zg_store *s, const char *queue, int64_t older_than_ms, int64_t *delivered,
                      zg_error *err)
{
    redis_store *r = (redis_store *)s;
    if (delivered) *delivered = 0;
    char prefix[PREFIX_LEN], age[24];
    if (queue_prefix(r, prefix, sizeof prefix, queue, err) != ZG_OK) return err->code;
    snprintf(age, sizeof age, "%lld", (long long)(older_than_ms > 0 ? older_than_ms : 0));
    argvec a = {0};
    av_push(&a, prefix);
    av_push(&a, older_than_ms > 0 ? "read" : "read new");
    av_push(&a, age);
    redisReply *reply = run(r, S_OUTBOX, 1, &a, err);
    av_free(&a);
    if (!reply) return err->code;
    int rc;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
        rc = reply->type == REDIS_REPLY_ERROR ? zg_redis_reply_error(reply, err)
                                              : unexpected(err, "outbox");
    else {
        zg_error refusal = {0};
        rc = deliver_set(r, prefix, reply->element[0], "outbox", delivered, &refusal, err);
        if (rc == ZG_OK)
            rc = deliver_set(r, prefix, reply->element[1], "sent", delivered, &refusal, err);
        if (rc == ZG_OK && refusal.code != ZG_OK) {
            *err = refusal;
            rc = err->code;
        }
    }
    zg_redis_reply_free(reply);
    return rc;
}
/* ---- end of flows ---- */

static const zg_store_ops redis_ops = {
    .submit = rs_submit,
    .claim = rs_claim,
    .touch = rs_touch,
    .update = rs_update,
    .save = rs_save,
    .append = rs_append,
    .settle = rs_settle,
    .settle_claim = rs_settle_claim,
    .unclaim = rs_unclaim,
    .last_claims = rs_last_claims,
    .close_claims = rs_close_claims,
    .settle_from_outside = rs_settle_from_outside,
    .release_overrun = rs_release_overrun,
    .load = rs_load,
    .kick = rs_kick,
    .counts = rs_counts,
    .job_state = rs_job_state,
    .buried = rs_buried,
    .publish = rs_publish,
    .follow = rs_follow,
    .ping = rs_ping,
    .list = rs_list,
    .retry = rs_retry,
    .remove = rs_remove,
    .purge = rs_purge,
    .type_counts = rs_type_counts,
    .known_queues = rs_known_queues,
    .adopt = rs_adopt, /* flows */
    .children = rs_children,
    .deliver = rs_deliver,
    .close = rs_close,
    /* repeatable jobs */
    .schedule_put = rs_schedule_put,
    .schedule_list = rs_schedule_list,
    .schedule_remove = rs_schedule_remove,
    .schedule_advance = rs_schedule_advance,
    /* sharded queues */
    .shard_count = rs_shard_count,
    .shard_record = rs_shard_record,
};

static const zg_lua_module *find_module(const char *name)
{
    for (const zg_lua_module *m = zg_lua_modules; m->name; m++)
        if (strcmp(m->name, name) == 0) return m;
    return NULL;
}

/* The scripts that may run when Redis is out of memory (maxmemory): those that read, and the
 * reads' own tidying (a due delayed job made ready, a finished job past its retention deleted),
 * those that free memory, and the outbox's (a hand-over moves a notice from one set to the
 * other, needing no more memory). The others are refused as a whole, before they start, with
 * Redis's "OOM command not allowed" (a function without flags is), so none is left half done. */
static int runs_when_full(int script)
{
    switch (script) {
    case S_PEEK:
    case S_READ:
    case S_COUNTS:
    case S_STATE:
    case S_BURIED:
    case S_LIST:
    case S_TYPES:
    case S_CHILDREN:
    case S_SCHEDULE_LIST:
    case S_OUTBOX:
    case S_REMOVE:
    case S_PURGE:
    case S_TOUCH: /* a renewal changes two fields in place: refused, a healthy run's lease lapsed
                   * while reads (which run when full, and apply due leases) kept the clock */
        return 1;
    case S_POINTER: /* an expiry, which frees memory in time (as its EVAL's shebang lets it) */
        return 1;
    default:
        return 0;
    }
}

/* FNV-1a, 64 bits: names the library after its text, so hosts of different versions on one
 * Redis each find their own functions. */
static uint64_t text_hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* pointer.lua as the text of an EVAL (pointer_later): its comment lines left out, under a
 * shebang that lets it run past maxmemory (as the EXPIRE and PERSIST it replaces did). */
static int pointer_script(redis_store *r, zg_error *err)
{
    const zg_lua_module *m = find_module("redis.pointer");
    if (!m) return zg_fail(err, ZG_EINVAL, "the store's script pointer is missing");
    zg_strbuf text = {0};
    zg_strbuf_puts(&text, "#!lua flags=allow-oom\n");
    for (const char *line = m->source, *end = m->source + m->size; line < end;) {
        const char *next = memchr(line, '\n', (size_t)(end - line));
        next = next ? next + 1 : end;
        if (!(next - line >= 2 && line[0] == '-' && line[1] == '-'))
            zg_strbuf_append(&text, line, (size_t)(next - line));
        line = next;
    }
    if (text.oom) {
        zg_strbuf_free(&text);
        return zg_fail(err, ZG_ENOMEM, "out of memory loading the store's scripts");
    }
    r->pointer_script = zg_strbuf_take(&text);
    return ZG_OK;
}

/* The function library of every script: the prelude (its functions made once, when the library
 * loads), then each script as a function "zerog_<hash>_<name>" whose call begins with begin()
 * (prelude.lua). schedule_fire is the head of a submit: submit.lua follows it in its function. */
static int script_library(redis_store *r, zg_error *err)
{
    const zg_lua_module *prelude = find_module("redis.prelude");
    if (!prelude) return zg_fail(err, ZG_EINVAL, "the store's scripts are missing");
    zg_strbuf body;
    zg_strbuf_init(&body);
    zg_strbuf_append(&body, prelude->source, prelude->size);
    for (int i = 0; i < S_N; i++) {
        char full[64];
        snprintf(full, sizeof full, "redis.%s", script_names[i]);
        const zg_lua_module *m = find_module(full);
        if (!m) {
            zg_strbuf_free(&body);
            return zg_fail(err, ZG_EINVAL, "the store's script %s is missing", script_names[i]);
        }
        zg_strbuf_printf(&body,
                         "\nredis.register_function{function_name = '%%s_%s', flags = { %s },\n"
                         "callback = function(keys, argv) begin(keys, argv)\n",
                         script_names[i], runs_when_full(i) ? "'allow-oom'" : "");
        zg_strbuf_append(&body, m->source, m->size);
        if (i == S_SCHEDULE_FIRE) {
            const zg_lua_module *tail = find_module("redis.submit");
            if (tail) {
                zg_strbuf_puts(&body, "\n");
                zg_strbuf_append(&body, tail->source, tail->size);
            }
        }
        zg_strbuf_puts(&body, "\nend}\n");
    }
    if (body.oom) {
        zg_strbuf_free(&body);
        return zg_fail(err, ZG_ENOMEM, "out of memory loading the store's scripts");
    }
    char name[32];
    snprintf(name, sizeof name, "zerog_%016llx",
             (unsigned long long)text_hash(body.data, body.len));
    /* the functions' names: each '%s_ left in the text above gets the library's name */
    zg_strbuf lib;
    zg_strbuf_init(&lib);
    zg_strbuf_printf(&lib, "#!lua name=%s\n", name);
    for (const char *at = body.data, *hole; at; at = hole ? hole + 3 : NULL) {
        hole = strstr(at, "'%s_");
        size_t n = hole ? (size_t)(hole - at) + 1 : strlen(at);
        zg_strbuf_append(&lib, at, n);
        if (hole) zg_strbuf_puts(&lib, name);
    }
    zg_strbuf_free(&body);
    if (lib.oom) {
        zg_strbuf_free(&lib);
        return zg_fail(err, ZG_ENOMEM, "out of memory loading the store's scripts");
    }
    r->library = zg_strbuf_take(&lib);
    for (int i = 0; i < S_N; i++) {
        snprintf(r->function_names[i], sizeof r->function_names[i], "%s_%s", name, script_names[i]);
        /* taken as loaded: the first call says when it is not (then the library is loaded and
         * the call sent again), so a host does not load it at every start, and a server past
         * maxmemory, which refuses FUNCTION LOAD, still serves the calls that may run then */
        r->scripts[i] = (zg_redis_script){r->library, r->function_names[i], 1};
    }
    r->beat_touch = r->scripts[S_TOUCH];
    r->beat_settle = r->scripts[S_SETTLE];
    return pointer_script(r, err);
}

void zg_store_redis_on_recovered(zg_store *s,
                                 void (*fn)(void *ud, int64_t down_ms, const char *why), void *ud)
{
    zg_redis_on_recovered(&((redis_store *)s)->conn, fn, ud);
}

zg_store *zg_store_redis_new(const char *url, int64_t timeout_ms, zg_error *err)
{
    redis_store *r = calloc(1, sizeof *r);
    if (!r) {
        zg_fail(err, ZG_ENOMEM, "out of memory");
        return NULL;
    }
    r->base.ops = &redis_ops;
    zg_map_init(&r->registered);
    zg_map_init(&r->shard_counts);
    zg_map_init(&r->shard_prefixes);
    pthread_mutex_init(&r->placement_lock, NULL);
    if (script_library(r, err) != ZG_OK) goto fail;
    if (zg_redis_open(&r->conn, url, timeout_ms, err) != ZG_OK) goto fail;
    if (zg_redis_open(&r->beat, url, timeout_ms, err) != ZG_OK) goto fail;
    return &r->base;
fail:
    zg_redis_close(&r->conn);
    zg_redis_close(&r->beat);
    free(r->library);
    free(r->pointer_script);
    zg_map_free(&r->registered, NULL);
    zg_map_free(&r->shard_counts, NULL);
    zg_map_free(&r->shard_prefixes, free);
    pthread_mutex_destroy(&r->placement_lock);
    free(r);
    return NULL;
}
