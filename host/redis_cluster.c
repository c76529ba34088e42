/* redis_cluster: slot map, routing and redirections for a Redis Cluster (see redis_cluster.h).
 * Every ZeroG script touches one slot (the keys of a queue share the hash tag {zq:Q}), so a call
 * goes whole to one master; only a pipeline of several queues' calls, the pointer keys of a
 * batch (MSET) and a claimer's wait over several queues span nodes. */
#include "redis_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"

#define SLOTS   16384
#define NO_NODE 0xffff
/* How long a node's connection keeps reconnecting before the map is read again. */
#define NODE_RETRY_MS 200
/* The longest slice of a wait for a blocking pop over keys on several nodes. */
#define POLL_SLICE_MS 50
/* How long CLUSTER SLOTS may take on one node before the next is asked: a node that is stopped
 * (SIGSTOP, a hung machine) accepts connections and never answers, so without a bound of its
 * own every reading of the map would wait the whole call timeout on it. */
#define MAP_READ_TIMEOUT_MS 500

typedef struct cluster_node {
    char host[256];
    int port;
    zg_redis conn;
    int opened;
    int failing; /* its last call got no reply: asked last when the map is read */
} cluster_node;

struct zg_cluster {
    zg_redis_url url; /* the seeds and the password */
    int64_t timeout_ms;
    cluster_node **nodes; /* each allocated once: a connection never moves */
    size_t nnodes;
    unsigned short owner[SLOTS]; /* index in nodes, or NO_NODE */
    int64_t map_read_at;         /* monotonic ms of the last CLUSTER SLOTS read */
    int map_stale; /* a node did not answer: read the map before the next call is routed */
    /* The outage the current call rode through (the reason its first retry after a failure
     * waited for, "" when none), whether the last call failed, and who is told of a long
     * one: as a single server's on_recovered (redis_conn.h) */
    char trouble[200];
    int outage;
    void (*on_recovered)(void *ud, int64_t down_ms, const char *why);
    void *on_recovered_ud;
};

/* The first failure the current call waits out (zg_cluster_on_recovered says it). */
static void note_trouble(zg_cluster *c, const char *why)
{
    if (!c->trouble[0])
        snprintf(c->trouble, sizeof c->trouble, "%.*s", (int)sizeof c->trouble - 1, why);
}

/* CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
static unsigned crc16(const char *buf, size_t len)
{
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)buf[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
}

unsigned zg_cluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(open + 1, '}', len - from);
        if (close && close > open + 1) return crc16(open + 1, (size_t)(close - open - 1)) % SLOTS;
    }
    return crc16(key, len) % SLOTS;
}

/* ---- nodes and the slot map ---- */

static int node_index(zg_cluster *c, const char *host, int port)
{
    for (size_t i = 0; i < c->nnodes; i++)
        if (c->nodes[i]->port == port && strcmp(c->nodes[i]->host, host) == 0) return (int)i;
    if (c->nnodes >= NO_NODE || strlen(host) >= sizeof c->nodes[0]->host) return -1;
    cluster_node **grown = realloc(c->nodes, (c->nnodes + 1) * sizeof *grown);
    if (!grown) return -1;
    c->nodes = grown;
    cluster_node *n = calloc(1, sizeof *n);
    if (!n) return -1;
    c->nodes[c->nnodes] = n;
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    return (int)c->nnodes++;
}

/* The node's connection, opened on first use (a node that is down opens without a socket and
 * connects on its first call). */
static zg_redis *node_conn(zg_cluster *c, int i)
{
    cluster_node *n = c->nodes[i];
    if (!n->opened) {
        char url[800], auth[400];
        zg_redis_userinfo(&c->url, auth, sizeof auth);
        snprintf(url, sizeof url, "redis://%s%s:%d", auth, n->host, n->port);
        zg_error ignored = {0};
        zg_redis_open(&n->conn, url, c->timeout_ms, &ignored);
        n->conn.retry_ms = NODE_RETRY_MS;
        n->opened = 1;
    }
    return &n->conn;
}

/* Reads the map from node i: CLUSTER SLOTS, [start, end, [host, port, id], replicas...]... */
static int read_map_from(zg_cluster *c, int i, zg_error *err)
{
    const char *argv[] = {"CLUSTER", "SLOTS"};
    redisReply *reply =
        zg_redis_command_raw(node_conn(c, i), 2, argv, NULL, MAP_READ_TIMEOUT_MS, err);
    c->nodes[i]->failing = reply == NULL;
    if (!reply) return err->code;
    int rc = ZG_OK;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        rc = zg_fail(err, ZG_ESTORE, "redis cluster: no slot map from %s:%d%s%s", c->nodes[i]->host,
                     c->nodes[i]->port, reply->str ? ": " : "", reply->str ? reply->str : "");
        zg_redis_reply_free(reply);
        return rc;
    }
    unsigned short owner[SLOTS];
    for (size_t s = 0; s < SLOTS; s++)
        owner[s] = NO_NODE;
    char from_host[256];
    snprintf(from_host, sizeof from_host, "%s", c->nodes[i]->host);
    for (size_t k = 0; k < reply->elements; k++) {
        const redisReply *range = reply->element[k];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
        const redisReply *master = range->element[2];
        if (range->element[0]->type != REDIS_REPLY_INTEGER ||
            range->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        if (master->type != REDIS_REPLY_ARRAY || master->elements < 2 ||
            master->element[0]->type != REDIS_REPLY_STRING ||
            master->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        const char *host = master->element[0]->len ? master->element[0]->str : from_host;
        int node = node_index(c, host, (int)master->element[1]->integer);
        long long lo = range->element[0]->integer, hi = range->element[1]->integer;
        if (node < 0 || lo < 0 || hi >= SLOTS || lo > hi) continue;
        for (long long s = lo; s <= hi; s++)
            owner[s] = (unsigned short)node;
    }
    zg_redis_reply_free(reply);
    memcpy(c->owner, owner, sizeof owner);
    c->map_read_at = zg_clock_monotonic_ms();
    c->map_stale = 0;
    return ZG_OK;
}

/* Reads the map again from the first node that answers, in the order the nodes became known
 * (the seeds, then the masters the maps named), those whose last call got no reply last. */
static int read_map(zg_cluster *c, zg_error *err)
{
    zg_error last = {0};
    for (int failing = 0; failing <= 1; failing++)
        for (size_t i = 0; i < c->nnodes; i++)
            if (c->nodes[i]->failing == failing && read_map_from(c, (int)i, &last) == ZG_OK)
                return ZG_OK;
    return zg_fail(err, last.code ? last.code : ZG_ESTORE, "%s",
                   last.msg[0] ? last.msg : "redis cluster: no node answers");
}

int zg_cluster_open(zg_cluster **out, const zg_redis_url *url, int64_t timeout_ms, zg_error *err)
{
    *out = NULL;
    zg_cluster *c = calloc(1, sizeof *c);
    if (!c) return zg_fail(err, ZG_ENOMEM, "out of memory opening a redis cluster");
    c->url = *url;
    c->timeout_ms = timeout_ms;
    for (size_t s = 0; s < SLOTS; s++)
        c->owner[s] = NO_NODE;
    for (const char *s = url->seeds; *s;) {
        size_t len = strcspn(s, ",");
        char one[300];
        snprintf(one, sizeof one, "%.*s", (int)len, s);
        char *colon = strrchr(one, ':');
        if (colon) {
            *colon = '\0';
            if (node_index(c, one, atoi(colon + 1)) < 0) {
                zg_cluster_close(c);
                return zg_fail(err, ZG_ENOMEM, "out of memory opening a redis cluster");
            }
        }
        s += len;
        if (*s == ',') s++;
    }
    int64_t give_up_at = zg_clock_monotonic_ms() + timeout_ms;
    while (read_map(c, err) != ZG_OK) {
        if (zg_clock_monotonic_ms() >= give_up_at) {
            zg_cluster_close(c);
            return err->code;
        }
        zg_clock_sleep_ms(100);
    }
    *out = c;
    return ZG_OK;
}

void zg_cluster_close(zg_cluster *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nnodes; i++) {
        if (c->nodes[i]->opened) zg_redis_close(&c->nodes[i]->conn);
        free(c->nodes[i]);
    }
    free(c->nodes);
    free(c);
}

/* ---- the keys of a call ---- */

/* Where the keys of a plain command are: argv[first], argv[first + step], ... up to argv[last];
 * none (first 0) for a command without keys, which goes to any master. */
static void key_positions(int argc, const char *const *argv, int *first, int *last, int *step)
{
    const char *cmd = argv[0];
    *first = 0, *last = -1, *step = 1;
    if (argc < 2) return;
    static const char *const keyless[] = {"PING",    "SCRIPT",  "INFO",     "PUBLISH", "SUBSCRIBE",
                                          "TIME",    "CLUSTER", "CONFIG",   "DBSIZE",  "FLUSHALL",
                                          "FLUSHDB", "CLIENT",  "DEBUG",    "ASKING",  "FUNCTION",
                                          "MEMORY",  "COMMAND", "READONLY", "KEYS",    "SCAN"};
    for (size_t i = 0; i < sizeof keyless / sizeof *keyless; i++)
        if (strcasecmp(cmd, keyless[i]) == 0) return;
    if (strcasecmp(cmd, "EVALSHA") == 0 || strcasecmp(cmd, "EVAL") == 0 ||
        strcasecmp(cmd, "FCALL") == 0 || strcasecmp(cmd, "FCALL_RO") == 0) {
        int nk = argc > 2 ? atoi(argv[2]) : 0;
        if (nk > 0 && 3 + nk <= argc) *first = 3, *last = 2 + nk;
    } else if (strcasecmp(cmd, "MSET") == 0 || strcasecmp(cmd, "MSETNX") == 0) {
        *first = 1, *last = argc - 2, *step = 2;
    } else if (strcasecmp(cmd, "DEL") == 0 || strcasecmp(cmd, "UNLINK") == 0 ||
               strcasecmp(cmd, "MGET") == 0 || strcasecmp(cmd, "EXISTS") == 0 ||
               strcasecmp(cmd, "TOUCH") == 0) {
        *first = 1, *last = argc - 1;
    } else if (strcasecmp(cmd, "BLPOP") == 0 || strcasecmp(cmd, "BRPOP") == 0) {
        *first = 1, *last = argc - 2;
    } else if (strcasecmp(cmd, "LMPOP") == 0) {
        int nk = atoi(argv[1]);
        if (nk > 0 && 2 + nk <= argc) *first = 2, *last = 1 + nk;
    } else {
        *first = 1, *last = 1;
    }
}

static unsigned arg_slot(const char *const *argv, const size_t *lens, int i)
{
    return zg_cluster_key_slot(argv[i], lens ? lens[i] : strlen(argv[i]));
}

/* The slot of a call, or -1 when it has no key; -2 when its keys are in different slots. */
static int call_slot(const zg_redis_call *call)
{
    if (call->script) {
        if (call->nkeys <= 0) return -1;
        unsigned slot = arg_slot(call->argv, call->lens, 0);
        for (int i = 1; i < call->nkeys; i++)
            if (arg_slot(call->argv, call->lens, i) != slot) return -2;
        return (int)slot;
    }
    int first, last, step;
    key_positions(call->argc, call->argv, &first, &last, &step);
    if (first == 0 || last < first) return -1;
    unsigned slot = arg_slot(call->argv, call->lens, first);
    for (int i = first + step; i <= last; i += step)
        if (arg_slot(call->argv, call->lens, i) != slot) return -2;
    return (int)slot;
}

/* ---- one call, with its redirections ---- */

/* The master of a slot (-1: a keyless call goes to the first master the map knows). */
static int owner_of(zg_cluster *c, int slot)
{
    if (slot >= 0) return c->owner[slot] == NO_NODE ? -1 : c->owner[slot];
    for (size_t s = 0; s < SLOTS; s++)
        if (c->owner[s] != NO_NODE) return c->owner[s];
    return c->nnodes ? 0 : -1;
}

/* "MOVED 3999 127.0.0.1:6381" / "ASK ...": the node it names (added if new), or -1. The port is
 * after the last colon, so that an IPv6 address ("MOVED 3999 ::1:6381") parses too. */
static int redirect_target(zg_cluster *c, const redisReply *reply, int *slot)
{
    char host[256];
    int port = 0, end = 0;
    if (sscanf(reply->str, "%*s %d %n", slot, &end) != 1 || end == 0) return -1;
    if (*slot < 0 || *slot >= SLOTS) return -1;
    const char *addr = reply->str + end, *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host) return -1;
    port = atoi(colon + 1);
    if (port <= 0 || port > 65535) return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    return node_index(c, host, port);
}

static int is_error(const redisReply *reply, const char *prefix)
{
    size_t n = strlen(prefix);
    return reply && reply->type == REDIS_REPLY_ERROR && reply->str && reply->len > n &&
           strncmp(reply->str, prefix, n) == 0 && reply->str[n] == ' ';
}

/* A reply that means "send it again": to another node, or after a pause. */
static int is_redirection(const redisReply *reply)
{
    return is_error(reply, "MOVED") || is_error(reply, "ASK") || is_error(reply, "TRYAGAIN") ||
           is_error(reply, "CLUSTERDOWN");
}

/* Sends one call to a node: a plain command with its read timeout, a script through the
 * pipeline (which loads it on that node when the node lacks it); after ASKING when asking. */
static redisReply *send_to(zg_cluster *c, int node, const zg_redis_call *call, int asking,
                           int64_t read_timeout_ms, zg_error *err)
{
    zg_redis *conn = node_conn(c, node);
    const char *ask[] = {"ASKING"};
    if (!call->script) {
        if (asking) {
            redisReply *ok = zg_redis_command_raw(conn, 1, ask, NULL, 0, err);
            if (!ok) return NULL;
            zg_redis_reply_free(ok);
        }
        return zg_redis_command_raw(conn, call->argc, (const char **)call->argv, call->lens,
                                    read_timeout_ms, err);
    }
    /* a script goes in a pipeline behind its ASKING: when the node lacks the script, the
     * pipeline loads it and sends both again (ASKING holds for the next command only) */
    zg_redis_call calls[2] = {{NULL, 0, 1, ask, NULL}, *call};
    redisReply *replies[2] = {NULL, NULL};
    if (zg_redis_pipeline(conn, asking ? 2 : 1, asking ? calls : calls + 1, replies, err) != ZG_OK)
        return NULL;
    if (asking) zg_redis_reply_free(replies[0]);
    return asking ? replies[1] : replies[0];
}

/* One call to the owner of its slot, following MOVED and ASK, waiting out TRYAGAIN and
 * CLUSTERDOWN, and reading the map again when a node cannot be reached, until give_up_at. The
 * reply may be an error reply of the server (not a redirection). */
static redisReply *call_one(zg_cluster *c, int slot, const zg_redis_call *call,
                            int64_t read_timeout_ms, int64_t give_up_at, zg_error *err)
{
    int ask_node = -1;
    int64_t pause = 20;
    for (;;) {
        if (c->map_stale) {
            zg_error ignored = {0};
            read_map(c, &ignored);
        }
        int node = ask_node >= 0 ? ask_node : owner_of(c, slot);
        redisReply *reply = NULL;
        if (node >= 0) {
            reply = send_to(c, node, call, ask_node >= 0, read_timeout_ms, err);
            /* no reply (a node down, or stopped past the read timeout): its replica may have
             * taken over, so the map is read again before the next call, even when this one
             * has no time left (else a stopped master would fail every call, each waiting out
             * its timeout on it, and the map never be read) */
            c->nodes[node]->failing = reply == NULL;
            if (!reply) c->map_stale = 1;
        }
        ask_node = -1;
        if (reply && !is_redirection(reply)) return reply;
        int target = -1, moved_slot = 0;
        if (reply && is_error(reply, "ASK")) {
            ask_node = redirect_target(c, reply, &moved_slot);
        } else if (reply && is_error(reply, "MOVED")) {
            target = redirect_target(c, reply, &moved_slot);
            if (target >= 0) c->owner[moved_slot] = (unsigned short)target;
        }
        if (reply) {
            zg_fail(err, ZG_ESTORE, "redis: %s", reply->str);
            zg_redis_reply_free(reply);
        } else if (node < 0) {
            zg_fail(err, ZG_ESTORE, "redis cluster: no master serves slot %d", slot);
        }
        if (zg_clock_monotonic_ms() >= give_up_at) return NULL;
        if (ask_node >= 0 || target >= 0) {
            /* a resharding moves many slots: read the whole map again (at most every 100 ms) */
            if (target >= 0 && zg_clock_monotonic_ms() - c->map_read_at > 100) {
                zg_error ignored = {0};
                read_map(c, &ignored);
            }
            continue;
        }
        /* a node down, a failover, TRYAGAIN or CLUSTERDOWN: pause, then read the map again */
        note_trouble(c, err->msg);
        int64_t left = give_up_at - zg_clock_monotonic_ms();
        zg_clock_sleep_ms(pause < left ? pause : left);
        pause = pause * 2 > 250 ? 250 : pause * 2;
        c->map_stale = 1;
    }
}

/* ---- commands whose keys span slots ---- */

/* MSET or DEL over several slots: one command per key (per pair), the replies summed up into
 * the first (DEL's count; MSET's OK). */
static redisReply *split_per_key(zg_cluster *c, const zg_redis_call *call, int first, int last,
                                 int step, int64_t give_up_at, zg_error *err)
{
    redisReply *total = NULL;
    for (int i = first; i <= last; i += step) {
        const char *argv[3] = {call->argv[0], call->argv[i], step == 2 ? call->argv[i + 1] : ""};
        size_t lens[3] = {strlen(call->argv[0]), call->lens ? call->lens[i] : strlen(argv[1]),
                          step == 2 ? (call->lens ? call->lens[i + 1] : strlen(argv[2])) : 0};
        zg_redis_call one = {NULL, 0, step == 2 ? 3 : 2, argv, lens};
        redisReply *reply = call_one(c, (int)arg_slot(argv, lens, 1), &one, 0, give_up_at, err);
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
            if (total) zg_redis_reply_free(total);
            return reply;
        }
        if (!total)
            total = reply;
        else {
            if (total->type == REDIS_REPLY_INTEGER) total->integer += reply->integer;
            zg_redis_reply_free(reply);
        }
    }
    return total;
}

/* A pop over keys on several nodes: each node's keys are asked in turn without blocking (LMPOP
 * ... LEFT), then BLPOP waits on one node's keys for a short slice, in turn, until the timeout.
 * The reply is an array when something was popped (BLPOP's or LMPOP's form), else nil. */
static redisReply *pop_across(zg_cluster *c, const zg_redis_call *call, int first, int last,
                              int64_t give_up_at, zg_error *err)
{
    int blocking = strcasecmp(call->argv[0], "BLPOP") == 0;
    double timeout_s = blocking ? atof(call->argv[call->argc - 1]) : 0;
    int64_t wait_until = zg_clock_monotonic_ms() + (int64_t)(timeout_s * 1000);
    int nkeys = last - first + 1;
    for (int round = 0;; round++) {
        for (int k = 0; k < nkeys; k++) {
            const char *key = call->argv[first + k];
            const char *lmpop[] = {"LMPOP", "1", key, "LEFT"};
            const char *blpop[] = {"BLPOP", key, "0"};
            char slice[32];
            int64_t left = wait_until - zg_clock_monotonic_ms();
            int block = blocking && round > 0 && left > 0;
            if (block) {
                int64_t ms = left < POLL_SLICE_MS ? left : POLL_SLICE_MS;
                snprintf(slice, sizeof slice, "%.3f", (double)ms / 1000.0);
                blpop[2] = slice;
            }
            zg_redis_call one = block ? (zg_redis_call){NULL, 0, 3, blpop, NULL}
                                      : (zg_redis_call){NULL, 0, 4, lmpop, NULL};
            int64_t deadline = block ? give_up_at + POLL_SLICE_MS : give_up_at;
            redisReply *reply = call_one(c, (int)zg_cluster_key_slot(key, strlen(key)), &one,
                                         block ? POLL_SLICE_MS + 1000 : 0, deadline, err);
            if (!reply || reply->type != REDIS_REPLY_NIL) return reply;
            zg_redis_reply_free(reply);
        }
        if (!blocking || zg_clock_monotonic_ms() >= wait_until) {
            const char *none[] = {"LMPOP", "1", call->argv[first], "LEFT"};
            /* nothing anywhere: the nil reply of one more (empty) pop stands for all */
            zg_redis_call one = {NULL, 0, 4, none, NULL};
            return call_one(c, (int)arg_slot(call->argv, call->lens, first), &one, 0, give_up_at,
                            err);
        }
    }
}

/* A plain command or a script, by its slot; keys across slots as above. */
static redisReply *route(zg_cluster *c, const zg_redis_call *call, int64_t read_timeout_ms,
                         int64_t give_up_at, zg_error *err)
{
    int slot = call_slot(call);
    if (slot != -2) return call_one(c, slot, call, read_timeout_ms, give_up_at, err);
    if (call->script) {
        zg_fail(err, ZG_EINVAL, "redis cluster: a script's keys are in different slots");
        return NULL;
    }
    int first, last, step;
    key_positions(call->argc, call->argv, &first, &last, &step);
    if (strcasecmp(call->argv[0], "BLPOP") == 0 || strcasecmp(call->argv[0], "LMPOP") == 0)
        return pop_across(c, call, first, last, give_up_at + read_timeout_ms, err);
    if (strcasecmp(call->argv[0], "MSET") == 0 || strcasecmp(call->argv[0], "DEL") == 0 ||
        strcasecmp(call->argv[0], "UNLINK") == 0 || strcasecmp(call->argv[0], "EXISTS") == 0)
        return split_per_key(c, call, first, last, step, give_up_at, err);
    zg_fail(err, ZG_EINVAL, "redis cluster: %s over keys in different slots", call->argv[0]);
    return NULL;
}

void zg_cluster_on_recovered(zg_cluster *c, void (*fn)(void *ud, int64_t down_ms, const char *why),
                             void *ud)
{
    c->on_recovered = fn;
    c->on_recovered_ud = ud;
}

/* The start of a call (returns its monotonic ms), and its end: a call that rode through an
 * outage of ZG_REDIS_STALL_NOTE_MS or more is told, unless the call before it failed. */
static int64_t call_began(zg_cluster *c)
{
    c->trouble[0] = '\0';
    return zg_clock_monotonic_ms();
}
static void call_ended(zg_cluster *c, int64_t began, int ok)
{
    int64_t took = zg_clock_monotonic_ms() - began;
    if (ok && c->trouble[0] && !c->outage && took >= ZG_REDIS_STALL_NOTE_MS && c->on_recovered)
        c->on_recovered(c->on_recovered_ud, took, c->trouble);
    c->outage = !ok;
}

redisReply *zg_cluster_command(zg_cluster *c, int argc, const char **argv, const size_t *lens,
                               int64_t read_timeout_ms, zg_error *err)
{
    zg_redis_call call = {NULL, 0, argc, argv, lens};
    int64_t began = call_began(c), give_up_at = began + c->timeout_ms;
    redisReply *reply = route(c, &call, read_timeout_ms, give_up_at, err);
    call_ended(c, began, reply != NULL);
    if (!reply || reply->type != REDIS_REPLY_ERROR) return reply;
    zg_redis_reply_error(reply, err);
    zg_redis_reply_free(reply);
    return NULL;
}

/* ---- pipelines ---- */

int zg_cluster_pipeline(zg_cluster *c, size_t n, const zg_redis_call *calls, redisReply **replies,
                        zg_error *err)
{
    int64_t began = call_began(c), give_up_at = began + c->timeout_ms;
    int *node = malloc((n ? n : 1) * sizeof *node);
    size_t *pick = malloc((n ? n : 1) * sizeof *pick);
    zg_redis_call *group = malloc((n ? n : 1) * sizeof *group);
    int rc = ZG_OK;
    if (!node || !pick || !group) {
        rc = zg_fail(err, ZG_ENOMEM, "out of memory routing a redis pipeline");
        goto done;
    }
    if (c->map_stale) {
        zg_error ignored = {0};
        read_map(c, &ignored);
    }
    for (size_t i = 0; i < n; i++) {
        replies[i] = NULL;
        int slot = call_slot(&calls[i]);
        node[i] = slot == -2 ? -2 : owner_of(c, slot);
    }
    /* each master's calls in one round trip, in the order of their first call */
    for (size_t i = 0; i < n; i++) {
        int target = node[i];
        if (target < 0) continue; /* no owner known, or keys across slots: sent alone below */
        size_t k = 0;
        for (size_t j = i; j < n; j++)
            if (node[j] == target) {
                pick[k] = j;
                group[k++] = calls[j];
                node[j] = -3; /* sent */
            }
        redisReply **got = calloc(k, sizeof *got);
        if (!got) {
            rc = zg_fail(err, ZG_ENOMEM, "out of memory routing a redis pipeline");
            goto done;
        }
        zg_error ignored = {0};
        int answered = zg_redis_pipeline(node_conn(c, target), k, group, got, &ignored) == ZG_OK;
        if (answered)
            for (size_t m = 0; m < k; m++)
                replies[pick[m]] = got[m];
        else if (ignored.code != ZG_ENOMEM) {
            c->nodes[target]->failing = 1; /* see call_one */
            c->map_stale = 1;
            note_trouble(c, ignored.msg);
        }
        free(got);
    }
    /* the rest, alone: no owner known, keys across slots, a node that did not answer, or a
     * redirection */
    for (size_t i = 0; i < n; i++) {
        if (replies[i] && !is_redirection(replies[i])) continue;
        if (replies[i]) zg_redis_reply_free(replies[i]);
        replies[i] = route(c, &calls[i], 0, give_up_at, err);
        if (!replies[i]) {
            rc = err->code ? err->code : ZG_ESTORE;
            break;
        }
    }
done:
    call_ended(c, began, rc == ZG_OK);
    if (rc != ZG_OK)
        for (size_t i = 0; i < n; i++) {
            if (replies[i]) zg_redis_reply_free(replies[i]);
            replies[i] = NULL;
        }
    free(node);
    free(pick);
    free(group);
    return rc;
}

/* A command no one waits for, to its slot's owner; a DEL or UNLINK over keys in several slots
 * (a purge's pointers) as one per key, each to its own (any other such command is not sent). */
void zg_cluster_send_later(zg_cluster *c, int argc, const char **argv)
{
    zg_redis_call call = {NULL, 0, argc, argv, NULL};
    int slot = call_slot(&call);
    if (slot != -2) {
        int node = owner_of(c, slot);
        if (node >= 0) zg_redis_send_later(node_conn(c, node), argc, argv);
        return;
    }
    if (strcasecmp(argv[0], "DEL") != 0 && strcasecmp(argv[0], "UNLINK") != 0) return;
    for (int i = 1; i < argc; i++) {
        const char *one[] = {argv[0], argv[i]};
        int node = owner_of(c, (int)zg_cluster_key_slot(argv[i], strlen(argv[i])));
        if (node >= 0) zg_redis_send_later(node_conn(c, node), 2, one);
    }
}

int zg_cluster_any_node_url(zg_cluster *c, char *out, size_t size, zg_error *err)
{
    if (read_map(c, err) != ZG_OK) return err->code;
    int node = owner_of(c, -1);
    if (node < 0) return zg_fail(err, ZG_ESTORE, "redis cluster: no master");
    cluster_node *n = c->nodes[node];
    char auth[400];
    zg_redis_userinfo(&c->url, auth, sizeof auth);
    snprintf(out, size, "redis://%s%s:%d", auth, n->host, n->port);
    return ZG_OK;
}
