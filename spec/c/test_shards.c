/* Sharded queues through the public API (zerog.h): a type's SHARDS = n puts its jobs on the
 * queues Q~0 .. Q~(n-1); the shard a submit picks (SHARD_BY's value by a stable hash, a unique
 * key, a group, else round robin); a batch makes one store call per shard; claims take every
 * job once, ties between shards in turn (a flooded shard does not starve the others), priority
 * order within a shard; counts, kick, list over all shards; the SHARDS the store records (set by
 * the first host, changed by zg_queue_shards_set only); a REPEAT's and a spawn's shard. Runs
 * on mem:// and, with ZEROG_SPEC_REDIS, on Redis (a single server: the batch's calls counted
 * with INFO commandstats) or a Redis Cluster (the shards' slots on 3 different masters). */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "zerog.h"

static const char *store = "mem://";
static char tag[32];

/* The hash a submit picks a shard with (FNV-1a, 32 bits) of SHARD_BY's value as JSON text:
 * pinned here, since the shard of a value must stay the same across versions. */
static unsigned fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Loads type <tag><name> on queue <tag><name>_q with the settings given (Lua table fields, may
 * be ""), a SCHEMA of k (integer), a (string), g (string); writes its queue. */
static int define(zg_host *h, const char *name, const char *settings, char type[ZG_NAME_LEN],
                  char queue[ZG_NAME_LEN])
{
    snprintf(type, ZG_NAME_LEN, "%s%s", tag, name);
    snprintf(queue, ZG_NAME_LEN, "%s_q", type);
    char src[1024];
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s', %s\n"
             "  SCHEMA = { k = { type = 'integer' }, a = { type = 'string' }, g = { type = "
             "'string' } },\n"
             "  run = function(self) return 200 end }\n",
             type, queue, settings);
    return zg_load_string(h, type, src, NULL);
}

static int64_t ready_in(zg_host *h, const char *queue)
{
    zg_queue_counts c;
    CHECK_INT(zg_queue_counts_get(h, queue, &c), ZG_OK);
    return c.ready;
}

static int64_t ready_in_shard(zg_host *h, const char *queue, int i)
{
    char name[ZG_NAME_LEN + 8];
    snprintf(name, sizeof name, "%s~%d", queue, i);
    return ready_in(h, name);
}

/* The queue a job is on (its document's queueName), into out. */
static void queue_of(zg_host *h, const char *uuid, char out[ZG_NAME_LEN])
{
    char *doc = NULL;
    out[0] = '\0';
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, uuid, &doc), ZG_OK);
    const char *at = doc ? strstr(doc, "\"queueName\":\"") : NULL;
    if (at) {
        at += strlen("\"queueName\":\"");
        size_t len = strcspn(at, "\"");
        snprintf(out, ZG_NAME_LEN, "%.*s", (int)len, at);
    }
    zg_free(doc);
}

static void test_shard_by_picks_the_shard_by_a_stable_hash_of_the_value_and_spreads(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u1[ZG_UUID_LEN], u2[ZG_UUID_LEN];
    CHECK_INT(define(h, "by", "SHARDS = 3, SHARD_BY = 'k',", type, queue), ZG_OK);
    CHECK_INT(zg_submit(h, type, "{\"k\": 7}", NULL, u1), ZG_OK);
    CHECK_INT(zg_submit(h, type, "{\"k\": 7}", NULL, u2), ZG_OK);
    char q1[ZG_NAME_LEN], q2[ZG_NAME_LEN], want[ZG_NAME_LEN + 8];
    queue_of(h, u1, q1);
    queue_of(h, u2, q2);
    snprintf(want, sizeof want, "%s~%u", queue, fnv1a("7") % 3);
    CHECK_STR(q1, want);
    CHECK_STR(q2, want);
    for (int k = 0; k < 60; k++) {
        char params[32];
        snprintf(params, sizeof params, "{\"k\": %d}", k);
        CHECK_INT(zg_submit(h, type, params, NULL, u1), ZG_OK);
    }
    int64_t per[3];
    for (int i = 0; i < 3; i++) {
        per[i] = ready_in_shard(h, queue, i);
        CHECK(per[i] >= 5); /* (60 values: 20 each on average) */
    }
    CHECK_INT(per[0] + per[1] + per[2], 62);
    CHECK_INT(ready_in(h, queue), 62); /* the queue's counts: the sum of its shards */
    int n = 0;
    CHECK_INT(zg_queue_shards(h, queue, &n), ZG_OK);
    CHECK_INT(n, 3);
    zg_host_free(h);
}

static void test_round_robin_spreads_jobs_evenly_over_the_shards(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "rr", "SHARDS = 3,", type, queue), ZG_OK);
    for (int k = 0; k < 30; k++)
        CHECK_INT(zg_submit(h, type, "{}", NULL, u), ZG_OK);
    for (int i = 0; i < 3; i++)
        CHECK_INT(ready_in_shard(h, queue, i), 10);
    zg_host_free(h);
}

static void test_a_unique_key_holds_across_shards(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], first[ZG_UUID_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "uniq", "SHARDS = 3, UNIQUE = { key = 'a' },", type, queue), ZG_OK);
    CHECK_INT(zg_submit(h, type, "{\"a\": \"x\"}", NULL, first), ZG_OK);
    for (int k = 0; k < 6; k++) { /* (round robin would put them on every shard) */
        CHECK_INT(zg_submit(h, type, "{\"a\": \"x\"}", NULL, u), ZG_EEXIST);
        CHECK_STR(u, first);
    }
    CHECK_INT(ready_in(h, queue), 1);
    zg_host_free(h);
}

static void test_a_group_stays_on_one_shard(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "grp", "SHARDS = 3, GROUP = 'g', CONCURRENCY = 2,", type, queue), ZG_OK);
    for (int k = 0; k < 12; k++)
        CHECK_INT(zg_submit(h, type, "{\"g\": \"tenant-1\"}", NULL, u), ZG_OK);
    int shards_with_jobs = 0;
    for (int i = 0; i < 3; i++)
        shards_with_jobs += ready_in_shard(h, queue, i) > 0;
    CHECK_INT(shards_with_jobs, 1);
    CHECK_INT(ready_in(h, queue), 12);
    zg_host_free(h);
}

/* The scripts Redis ran so far (FCALL calls of the function library, and EVAL/EVALSHA ones), or
 * -1 on a cluster or mem://. */
static long long scripts_run(void)
{
    if (strncmp(store, "unix://", 7) != 0) return -1;
    redisContext *c = redisConnectUnix(store + 7);
    if (!c || c->err) {
        if (c) redisFree(c);
        return -1;
    }
    redisReply *r = redisCommand(c, "INFO commandstats");
    long long total = 0;
    const char *names[] = {"cmdstat_fcall:calls=", "cmdstat_fcall_ro:calls=", "cmdstat_eval:calls=",
                           "cmdstat_evalsha:calls="};
    for (int i = 0; r && r->type == REDIS_REPLY_STRING && i < 4; i++) {
        const char *at = strstr(r->str, names[i]);
        if (at) total += atoll(at + strlen(names[i]));
    }
    if (r) freeReplyObject(r);
    redisFree(c);
    return total;
}

static void test_a_batch_submit_makes_one_store_call_per_shard(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "batch", "SHARDS = 3,", type, queue), ZG_OK);
    CHECK_INT(zg_submit(h, type, "{}", NULL, u), ZG_OK); /* (the shard count checked once) */
    const char *lines[30];
    for (int k = 0; k < 30; k++)
        lines[k] = "{}";
    char uuids[30][ZG_UUID_LEN];
    long long before = scripts_run();
    CHECK_INT(zg_submit_batch(h, type, lines, 30, NULL, uuids), ZG_OK);
    long long after = scripts_run();
    if (before >= 0) CHECK_INT(after - before, 3); /* round robin touches 3 shards: 3 calls */
    for (int i = 0; i < 3; i++) /* (and the uuids come back in the lines' order) */
        CHECK(ready_in_shard(h, queue, i) >= 10);
    CHECK_INT(ready_in(h, queue), 31);
    for (int k = 0; k < 30; k++) {
        zg_message_stats st;
        CHECK_INT(zg_job_stats(h, uuids[k], &st), ZG_OK);
        CHECK_INT(st.state, ZG_MSG_READY);
    }
    zg_host_free(h);
}

static void test_every_job_of_a_3_shard_queue_runs_once_with_several_claimers(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "once", "SHARDS = 3,", type, queue), ZG_OK);
    enum { JOBS = 90, CLAIMERS = 3 };
    for (int k = 0; k < JOBS; k++)
        CHECK_INT(zg_submit(h, type, "{}", NULL, u), ZG_OK);
    long ran = 0;
    if (strncmp(store, "mem://", 6) == 0) { /* one process: its claims */
        CHECK_INT(zg_run(h, NULL, 0, 1, &ran), ZG_OK);
    } else { /* processes claiming at once, each counting its runs */
        char path[64];
        snprintf(path, sizeof path, "/tmp/zerog-shards-%d.lua", (int)getpid());
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        if (!f) return;
        fprintf(f,
                "return { JOB_TYPE = '%s', QUEUE_NAME = '%s', SHARDS = 3,\n"
                "  SCHEMA = { k = { type = 'integer' }, a = { type = 'string' }, g = { type = "
                "'string' } },\n"
                "  run = function(self) return 200 end }\n",
                type, queue);
        fclose(f);
        zg_host_free(h); /* no thread of ours while the claimers are forked (nor a host of the
                          * parent's left in each child) */
        pid_t kids[CLAIMERS];
        for (int c = 0; c < CLAIMERS; c++) {
            if ((kids[c] = fork()) == 0) {
                zg_config cfg;
                zg_config_init(&cfg);
                cfg.store = store;
                zg_host *w = zg_host_new(&cfg);
                long mine = 0;
                if (!w || zg_load_file(w, path, NULL) != ZG_OK ||
                    zg_run(w, NULL, 0, 1, &mine) != ZG_OK)
                    _exit(255);
                zg_host_free(w);
                _exit((int)mine);
            }
        }
        for (int c = 0; c < CLAIMERS; c++) {
            int status = 0;
            waitpid(kids[c], &status, 0);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 255);
            if (WIFEXITED(status) && WEXITSTATUS(status) != 255) ran += WEXITSTATUS(status);
        }
        unlink(path);
        h = check_new_host(store);
        CHECK_INT(define(h, "once", "SHARDS = 3,", type, queue), ZG_OK);
    }
    CHECK_INT(ran, JOBS); /* a job run twice would count twice */
    zg_type_counts *rows = NULL;
    size_t n = 0;
    CHECK_INT(zg_stats_by_type(h, queue, &rows, &n), ZG_OK);
    CHECK_INT(n, 1); /* the shards' rows merged into the queue's */
    if (n == 1) {
        CHECK_STR(rows[0].queue, queue);
        CHECK_INT(rows[0].count[ZG_JOBS_SUCCEEDED], JOBS);
        CHECK_INT(rows[0].count[ZG_JOBS_WAITING], 0);
    }
    zg_free(rows);
    zg_host_free(h);
}

/* Submits a job whose k lands on shard `shard` of 3 (k from *next on), writing its uuid. */
static void submit_on_shard(zg_host *h, const char *type, int shard, int *next, int64_t priority,
                            char uuid[ZG_UUID_LEN])
{
    char text[16];
    for (;; (*next)++) {
        snprintf(text, sizeof text, "%d", *next);
        if ((int)(fnv1a(text) % 3) == shard) break;
    }
    char params[32];
    snprintf(params, sizeof params, "{\"k\": %d}", (*next)++);
    zg_submit_opts o = {0, 0, priority, 1};
    CHECK_INT(zg_submit(h, type, params, &o, uuid), ZG_OK);
}

static void test_ties_between_shards_take_turns_so_a_flooded_shard_starves_none(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "flood", "SHARDS = 3, SHARD_BY = 'k',", type, queue), ZG_OK);
    int next = 0;
    for (int k = 0; k < 200; k++) /* shard 0 flooded, all equally urgent */
        submit_on_shard(h, type, 0, &next, 10, u);
    for (int k = 0; k < 3; k++) {
        submit_on_shard(h, type, 1, &next, 10, u);
        submit_on_shard(h, type, 2, &next, 10, u);
    }
    int steps = 0;
    while (steps < 60 && (ready_in_shard(h, queue, 1) || ready_in_shard(h, queue, 2))) {
        zg_step_result r;
        CHECK_INT(zg_step(h, NULL, 0, 1000, &r), ZG_OK);
        steps++;
    }
    CHECK_INT(ready_in_shard(h, queue, 1), 0);
    CHECK_INT(ready_in_shard(h, queue, 2), 0);
    CHECK(steps <= 20);                             /* the small shards were served in turn, */
    CHECK(ready_in_shard(h, queue, 0) >= 200 - 20); /* not after the flooded one */
    zg_host_free(h);
}

/* Steps h three times, checking that the claims take the jobs in order. */
static void check_claim_order(zg_host *h, const char *const order[3])
{
    for (int k = 0; k < 3; k++) {
        zg_step_result r;
        CHECK_INT(zg_step(h, NULL, 0, 1000, &r), ZG_OK);
        CHECK_STR(r.uuid, order[k]);
    }
}

static void test_priority_order_holds_within_a_shard(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[3][ZG_UUID_LEN];
    CHECK_INT(define(h, "prio", "SHARDS = 3, SHARD_BY = 'k',", type, queue), ZG_OK);
    int64_t priorities[3] = {500, 5, 50};
    for (int k = 0; k < 3; k++) {
        int next = 0; /* the same k each time: one shard */
        submit_on_shard(h, type, 2, &next, priorities[k], u[k]);
    }
    const char *const order[3] = {u[1], u[2], u[0]};
    check_claim_order(h, order);
    zg_host_free(h);
}

/* README "What order holds": across shards, each claim takes the most urgent head of the shards
 * it looked at (not the shard it looked at first, nor the one it claimed from last). */
static void test_a_claim_takes_the_most_urgent_head_across_shards(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[3][ZG_UUID_LEN];
    CHECK_INT(define(h, "xprio", "SHARDS = 3, SHARD_BY = 'k',", type, queue), ZG_OK);
    int64_t priorities[3] = {500, 5, 50}; /* shard i gets the job of priority priorities[i] */
    int next = 0;
    for (int i = 0; i < 3; i++)
        submit_on_shard(h, type, i, &next, priorities[i], u[i]);
    const char *const order[3] = {u[1], u[2], u[0]};
    check_claim_order(h, order);
    zg_host_free(h);
}

static void test_kick_and_list_act_on_every_shard(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "kick", "SHARDS = 3,", type, queue), ZG_OK);
    zg_submit_opts later = {3600, 0, 0, 0};
    for (int k = 0; k < 6; k++)
        CHECK_INT(zg_submit(h, type, "{}", &later, u), ZG_OK);
    zg_queue_counts c;
    CHECK_INT(zg_queue_counts_get(h, queue, &c), ZG_OK);
    CHECK_INT(c.delayed, 6);
    zg_list_filter f = {0};
    f.queue = queue;
    zg_job_page page;
    CHECK_INT(zg_list(h, &f, &page), ZG_OK);
    CHECK_INT(page.n, 6); /* the shards' rows merged */
    zg_job_page_free(&page);
    int64_t moved = 0;
    CHECK_INT(zg_kick(h, queue, 0, &moved), ZG_OK); /* none buried: the delayed made ready */
    CHECK_INT(moved, 6);
    CHECK_INT(ready_in(h, queue), 6);
    char one[ZG_NAME_LEN + 8];
    snprintf(one, sizeof one, "%s~1", queue); /* Q~i names one shard */
    CHECK_INT(ready_in(h, one), 2);
    zg_host_free(h);
}

static void test_a_shards_mismatch_with_a_non_empty_queue_is_refused(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "mis", "SHARDS = 3,", type, queue), ZG_OK);
    CHECK_INT(zg_submit(h, type, "{}", NULL, u), ZG_OK);
    zg_host_free(h);
    h = check_new_host(store); /* another host, with the type at SHARDS = 2 */
    CHECK_INT(define(h, "mis", "SHARDS = 2,", type, queue), ZG_OK);
    if (strncmp(store, "mem://", 6) != 0) { /* (mem://: every host has its own store) */
        CHECK(zg_submit(h, type, "{}", NULL, u) != ZG_OK);
        CHECK(strstr(zg_errstr(h), "shard") != NULL);
        zg_step_result r;
        CHECK(zg_step(h, NULL, 0, 0, &r) != ZG_OK);
        CHECK(strstr(zg_errstr(h), "SHARDS = 2") != NULL);
        int n = 0;
        CHECK_INT(zg_queue_shards(h, queue, &n), ZG_OK);
        CHECK_INT(n, 3);
    }
    /* two types of one queue must agree */
    char other[ZG_NAME_LEN];
    char src[512];
    snprintf(other, sizeof other, "%smis2", tag);
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s', SHARDS = 4, run = function() end }",
             other, queue);
    CHECK(zg_load_string(h, other, src, NULL) != ZG_OK);
    CHECK(strstr(zg_errstr(h), "SHARDS") != NULL);
    zg_host_free(h);
}

static void test_the_shard_count_changes_only_by_zg_queue_shards_set_on_an_empty_queue(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "set", "SHARDS = 3,", type, queue), ZG_OK);
    zg_step_result r;
    CHECK_INT(zg_step(h, NULL, 0, 0, &r), ZG_ETIMEDOUT); /* (the first host records its count) */
    int n = 0;
    CHECK_INT(zg_queue_shards(h, queue, &n), ZG_OK);
    CHECK_INT(n, 3);
    /* the type edited to SHARDS = 2: refused though the queue is empty (a host that still has 3
     * would put jobs on shards this one does not look at) */
    CHECK_INT(define(h, "set", "SHARDS = 2,", type, queue), ZG_OK);
    CHECK_INT(zg_step(h, NULL, 0, 0, &r), ZG_EINVAL);
    CHECK(strstr(zg_errstr(h), "zerog shards") != NULL);
    CHECK_INT(zg_queue_shards(h, queue, &n), ZG_OK);
    CHECK_INT(n, 3);
    CHECK_INT(zg_queue_shards_set(h, queue, 2), ZG_OK); /* the operator's change */
    CHECK_INT(zg_queue_shards(h, queue, &n), ZG_OK);
    CHECK_INT(n, 2);
    CHECK_INT(zg_step(h, NULL, 0, 0, &r), ZG_ETIMEDOUT);
    CHECK_INT(zg_submit(h, type, "{}", NULL, u), ZG_OK);
    CHECK_INT(zg_queue_shards_set(h, queue, 4), ZG_EINVAL); /* not while it holds a job */
    CHECK(strstr(zg_errstr(h), "holds 1 job") != NULL);
    char shard[ZG_NAME_LEN + 8];
    snprintf(shard, sizeof shard, "%s~1", queue);
    CHECK_INT(zg_queue_shards_set(h, shard, 4), ZG_EINVAL); /* a shard's name is no queue */
    CHECK_INT(zg_queue_shards_set(h, queue, 65), ZG_EINVAL);
    CHECK_INT(zg_queue_shards(h, queue, &n), ZG_OK);
    CHECK_INT(n, 2);
    zg_host_free(h);
}

/* The schedule of id's queue into out; 1 when found. */
static int schedule_queue(zg_host *h, const char *id, char out[ZG_NAME_LEN])
{
    zg_schedule *rows = NULL;
    size_t n = 0;
    int found = 0;
    CHECK_INT(zg_schedule_list(h, &rows, &n), ZG_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].id, id) == 0) {
            snprintf(out, ZG_NAME_LEN, "%s", rows[i].queue);
            found = 1;
        }
    zg_schedules_free(rows, n);
    return found;
}

/* Loads a sharded type with a REPEAT of params {a = 'x', g = 'x', k = 1} and the setting given,
 * named so that the hash of its REPEAT's id ("type:<jobType>", where a REPEAT without a key goes)
 * picks another shard than its params do: the type's shard rule must win. Writes the type, its
 * queue, and the shard its params' jobs go to. */
static void define_keyed_repeat(zg_host *h, const char *name, const char *setting,
                                char type[ZG_NAME_LEN], char queue[ZG_NAME_LEN],
                                char shard[ZG_NAME_LEN])
{
    char settings[256], variant[64], u[ZG_UUID_LEN];
    snprintf(settings, sizeof settings,
             "SHARDS = 3, %s REPEAT = { every = 3600, params = { a = 'x', g = 'x', k = 1 } },",
             setting);
    for (int v = 0; v < 64; v++) {
        snprintf(variant, sizeof variant, "%s%d", name, v);
        CHECK_INT(define(h, variant, settings, type, queue), ZG_OK);
        zg_submit_opts later = {3600, 0, 0, 0};
        int rc = zg_submit(h, type, "{\"a\": \"x\", \"g\": \"x\", \"k\": 1}", &later, u);
        CHECK(rc == ZG_OK || rc == ZG_EEXIST);
        queue_of(h, u, shard);
        char id[ZG_NAME_LEN + 8], hashed[ZG_NAME_LEN + 16];
        snprintf(id, sizeof id, "type:%s", type);
        snprintf(hashed, sizeof hashed, "%s~%u", queue, fnv1a(id) % 3);
        if (strcmp(hashed, shard) != 0) return; /* (else the same shard either way: another name) */
    }
    CHECK(0);
}

static void test_a_repeat_lives_in_the_shard_its_jobs_key_picks_unique_group_shard_by(void)
{
    zg_host *h = check_new_host(store);
    const char *settings[][2] = {{"ru", "UNIQUE = { key = 'a' },"},
                                 {"rg", "GROUP = 'g', CONCURRENCY = 1,"},
                                 {"rb", "SHARD_BY = 'k',"}};
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
        char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], shard[ZG_NAME_LEN], id[ZG_NAME_LEN + 8];
        char at[ZG_NAME_LEN];
        define_keyed_repeat(h, settings[i][0], settings[i][1], type, queue, shard);
        snprintf(id, sizeof id, "type:%s", type);
        CHECK(schedule_queue(h, id, at));
        /* (else a tick's job would hold its unique key, or run its group, in another shard than
         * a submit's: two jobs of one key, two runs of one group at once) */
        CHECK_STR(at, shard);
    }
    zg_host_free(h);
}

/* How many schedules have id (one per shard it is in). */
static int schedules_of(zg_host *h, const char *id)
{
    zg_schedule *rows = NULL;
    size_t n = 0;
    int found = 0;
    CHECK_INT(zg_schedule_list(h, &rows, &n), ZG_OK);
    for (size_t i = 0; i < n; i++)
        found += strcmp(rows[i].id, id) == 0;
    zg_schedules_free(rows, n);
    return found;
}

static void test_a_repeat_that_moves_shard_or_goes_is_left_in_no_other_shard(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], shard[ZG_NAME_LEN], id[ZG_NAME_LEN + 8];
    define_keyed_repeat(h, "mv", "UNIQUE = { key = 'a' },", type, queue, shard);
    snprintf(id, sizeof id, "type:%s", type);
    CHECK_INT(schedules_of(h, id), 1);
    char src[1024], at[ZG_NAME_LEN];
    int moved = 0;
    for (int v = 0; v < 32 && !moved; v++) { /* params whose key lands on another shard */
        snprintf(src, sizeof src,
                 "return { JOB_TYPE = '%s', QUEUE_NAME = '%s', SHARDS = 3, UNIQUE = { key = 'a' "
                 "},\n"
                 "  REPEAT = { every = 3600, params = { a = 'y%d' } },\n"
                 "  SCHEMA = { a = { type = 'string' } }, run = function(self) return 200 end }\n",
                 type, queue, v);
        CHECK_INT(zg_load_string(h, type, src, NULL), ZG_OK);
        CHECK(schedule_queue(h, id, at));
        moved = strcmp(at, shard) != 0;
    }
    CHECK(moved);
    CHECK_INT(schedules_of(h, id), 1); /* (two would both tick) */
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s', SHARDS = 3, UNIQUE = { key = 'a' },\n"
             "  SCHEMA = { a = { type = 'string' } }, run = function(self) return 200 end }\n",
             type, queue);
    CHECK_INT(zg_load_string(h, type, src, NULL), ZG_OK); /* REPEAT removed from the script */
    CHECK_INT(schedules_of(h, id), 0);
    zg_host_free(h);
}

static void test_a_spawn_onto_another_queue_uses_that_queues_shards_and_changes_none(void)
{
    zg_host *h = check_new_host(store);
    char sharded[ZG_NAME_LEN], squeue[ZG_NAME_LEN], plain[ZG_NAME_LEN], pqueue[ZG_NAME_LEN];
    char parent[ZG_NAME_LEN], parq[ZG_NAME_LEN], u[ZG_UUID_LEN], other[ZG_NAME_LEN];
    CHECK_INT(define(h, "sp3", "SHARDS = 3,", sharded, squeue), ZG_OK);
    CHECK_INT(define(h, "sp1", "", plain, pqueue), ZG_OK);
    snprintf(other, sizeof other, "%.100s_other", pqueue); /* a queue no type names: unsharded */
    zg_submit_opts later = {3600, 0, 0, 0};
    CHECK_INT(zg_submit(h, sharded, "{}", &later, u), ZG_OK); /* (squeue: 3 shards, a job) */
    /* a parent spawns a job of the plain type onto the sharded queue, and one of the sharded
     * type onto a queue that is not sharded */
    snprintf(parent, sizeof parent, "%.60sspp", tag);
    snprintf(parq, sizeof parq, "%.100s_q", parent);
    char src[1024];
    snprintf(src, sizeof src,
             "local zerog = require 'zerog'\n"
             "return { JOB_TYPE = '%.100s', QUEUE_NAME = '%.100s',\n"
             "  run = function(self)\n"
             "    if self.flowRound > 0 then return 200 end\n"
             "    self:spawn('%.100s', {}, { queue = '%.100s', delay = 3600 })\n"
             "    self:spawn('%.100s', {}, { queue = '%.100s', delay = 3600 })\n"
             "    return zerog.WAIT_CHILDREN end }\n",
             parent, parq, plain, squeue, sharded, other);
    CHECK_INT(zg_load_string(h, parent, src, NULL), ZG_OK);
    CHECK_INT(zg_submit(h, parent, "{}", NULL, u), ZG_OK);
    const char *only[] = {parq};
    zg_step_result r;
    CHECK_INT(zg_step(h, only, 1, 1000, &r), ZG_OK);
    CHECK_STR(r.uuid, u);
    CHECK_INT(r.outcome, ZG_STEP_REQUEUED); /* (parked for its children) */
    int n = 0;
    CHECK_INT(zg_queue_shards(h, squeue, &n), ZG_OK);
    CHECK_INT(n, 3); /* (a spawn of a type without SHARDS once recorded it as 1) */
    CHECK_INT(zg_queue_shards(h, other, &n), ZG_OK);
    CHECK_INT(n, 1); /* (a spawn of a type with SHARDS = 3 once recorded it as 3) */
    zg_queue_counts c;
    CHECK_INT(zg_queue_counts_get(h, squeue, &c), ZG_OK);
    CHECK_INT(c.delayed, 2); /* the child is on one of its shards, where claims find it */
    CHECK_INT(zg_queue_counts_get(h, other, &c), ZG_OK);
    CHECK_INT(c.delayed, 1);
    zg_host_free(h);
}

static void test_a_repeats_tick_does_not_duplicate_a_unique_job_held_on_another_shard(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], shard[ZG_NAME_LEN], id[ZG_NAME_LEN + 8];
    define_keyed_repeat(h, "rt", "UNIQUE = { key = 'a' },", type, queue, shard);
    /* the REPEAT ticks each second from now: the submitted job (delayed an hour) holds the key */
    char src[1024];
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s', SHARDS = 3, UNIQUE = { key = 'a' },\n"
             "  REPEAT = { every = 1, params = { a = 'x', g = 'x', k = 1 } },\n"
             "  SCHEMA = { k = { type = 'integer' }, a = { type = 'string' }, g = { type = "
             "'string' } },\n"
             "  run = function(self) return 200 end }\n",
             type, queue);
    CHECK_INT(zg_load_string(h, type, src, NULL), ZG_OK);
    snprintf(id, sizeof id, "type:%s", type);
    zg_schedule *rows = NULL;
    size_t n = 0;
    int64_t first = -1, fired = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) { /* until two ticks were taken (or 6 s) */
        CHECK_INT(zg_fire_schedules(h), ZG_OK);
        CHECK_INT(zg_schedule_list(h, &rows, &n), ZG_OK);
        for (size_t i = 0; i < n; i++)
            if (strcmp(rows[i].id, id) == 0) {
                if (first < 0) first = rows[i].next_ms;
                if (rows[i].last_ms > 0 || rows[i].next_ms > first + 1000) fired = 1;
            }
        zg_schedules_free(rows, n);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (fired || now.tv_sec - t0.tv_sec > 6) break;
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    CHECK(fired);
    zg_queue_counts c;
    CHECK_INT(zg_queue_counts_get(h, queue, &c), ZG_OK);
    CHECK_INT(c.ready + c.delayed, 1); /* the submitted job alone: its key was held */
    zg_host_free(h);
}

/* A queue with jobs but no recorded count (made by a version without sharded queues): a host
 * declaring SHARDS = 3 is refused, not left to record 3 and strand those jobs on the plain queue.
 */
static void test_unsharded_jobs_without_a_record_keep_a_sharded_type_out(void)
{
    if (strncmp(store, "unix://", 7) != 0) return; /* (needs the record deleted by hand) */
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "legacy", "", type, queue), ZG_OK);
    CHECK_INT(zg_submit(h, type, "{}", NULL, u), ZG_OK);
    zg_host_free(h);
    redisContext *c = redisConnectUnix(store + 7);
    CHECK(c && !c->err);
    redisReply *r = redisCommand(c, "HDEL zerog:shards %s", queue); /* as before sharded queues */
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    h = check_new_host(store);
    CHECK_INT(define(h, "legacy", "SHARDS = 3,", type, queue), ZG_OK);
    CHECK(zg_submit(h, type, "{}", NULL, u) != ZG_OK);
    CHECK(strstr(zg_errstr(h), "unsharded") != NULL);
    int n = 0;
    CHECK_INT(zg_queue_shards(h, queue, &n), ZG_OK);
    CHECK_INT(n, 1);
    CHECK_INT(ready_in(h, queue), 1);
    zg_host_free(h);
    r = redisCommand(c, "HEXISTS zerog:shards %s", queue); /* nothing recorded */
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    redisFree(c);
}

/* On a Redis Cluster: the masters' ports, from CLUSTER SLOTS of the first seed. */
static int cluster_masters(int ports[8], redisContext **seed)
{
    const char *hosts = store + strlen("redis+cluster://");
    char host[64];
    int port = 0;
    if (sscanf(hosts, "%63[^:]:%d", host, &port) != 2) return 0;
    *seed = redisConnect(host, port);
    if (!*seed || (*seed)->err) return 0;
    redisReply *r = redisCommand(*seed, "CLUSTER SLOTS");
    int n = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && n < 8; i++) {
        redisReply *range = r->element[i];
        if (range->elements < 3) continue;
        int p = (int)range->element[2]->element[1]->integer, seen = 0;
        for (int k = 0; k < n; k++)
            seen = seen || ports[k] == p;
        if (!seen) ports[n++] = p;
    }
    if (r) freeReplyObject(r);
    return n;
}

static void test_on_a_cluster_the_3_shards_live_on_3_different_masters(void)
{
    zg_host *h = check_new_host(store);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "placed", "SHARDS = 3,", type, queue), ZG_OK);
    for (int k = 0; k < 9; k++)
        CHECK_INT(zg_submit(h, type, "{}", NULL, u), ZG_OK);
    int ports[8];
    redisContext *seed = NULL;
    int n = cluster_masters(ports, &seed);
    CHECK(n >= 3);
    int owner[3] = {-1, -1, -1};
    for (int m = 0; m < n; m++) {
        redisContext *c = redisConnect("127.0.0.1", ports[m]);
        for (int i = 0; c && !c->err && i < 3; i++) {
            char pattern[ZG_NAME_LEN + 32];
            snprintf(pattern, sizeof pattern, "{zq:%s~%d*:ready:*", queue, i);
            redisReply *r = redisCommand(c, "KEYS %s", pattern);
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
                CHECK_INT(owner[i], -1); /* (one master per shard) */
                owner[i] = m;
            }
            if (r) freeReplyObject(r);
        }
        if (c) redisFree(c);
    }
    if (seed) redisFree(seed);
    for (int i = 0; i < 3; i++)
        CHECK(owner[i] >= 0);
    CHECK(owner[0] != owner[1] && owner[1] != owner[2] && owner[0] != owner[2]);
    long ran = 0;
    CHECK_INT(zg_run(h, NULL, 0, 1, &ran), ZG_OK);
    CHECK_INT(ran, 9);
    zg_host_free(h);
}

/* redis-cli to one node, a reply freed; 1 when it is not an error. */
static int node_command(int port, const char *fmt, const char *a, const char *b)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        if (c) redisFree(c);
        return 0;
    }
    redisReply *r = redisCommand(c, fmt, a, b);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* The node id of the node at port into out (64 bytes). */
static void node_id(int port, char out[64])
{
    out[0] = '\0';
    redisContext *c = redisConnect("127.0.0.1", port);
    redisReply *r = c && !c->err ? redisCommand(c, "CLUSTER MYID") : NULL;
    if (r && r->type == REDIS_REPLY_STRING) snprintf(out, 64, "%s", r->str);
    if (r) freeReplyObject(r);
    if (c) redisFree(c);
}

static void test_on_a_cluster_a_claim_on_a_shard_whose_slot_is_moving_is_whole_or_not_at_all(void)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.store_timeout_ms = 1000; /* (the claim is refused with TRYAGAIN until it gives up) */
    zg_host *h = zg_host_new(&cfg);
    CHECK(h && zg_errcode(h) == ZG_OK);
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "moving", "SHARDS = 3, SHARD_BY = 'k',", type, queue), ZG_OK);
    int next = 0;
    char first[ZG_UUID_LEN];
    submit_on_shard(h, type, 0, &next, 10, first);
    submit_on_shard(h, type, 0, &next, 20, u);
    const char *shard0[1];
    char name[ZG_NAME_LEN + 8];
    snprintf(name, sizeof name, "%s~0", queue);
    shard0[0] = name;
    zg_step_result r;
    CHECK_INT(zg_step(h, shard0, 1, 1000, &r), ZG_OK); /* (the host's claim memo now exists) */
    CHECK_STR(r.uuid, first);
    /* the master of shard 0's slot, and another one to move it to */
    int ports[8], owner = -1, other = -1;
    redisContext *seed = NULL;
    int n = cluster_masters(ports, &seed);
    long long slot = -1;
    for (int m = 0; m < n; m++) {
        redisContext *c = redisConnect("127.0.0.1", ports[m]);
        char pattern[ZG_NAME_LEN + ZG_UUID_LEN + 32];
        snprintf(pattern, sizeof pattern, "{zq:%s~0*:job:%s", queue, u);
        redisReply *keys = c && !c->err ? redisCommand(c, "KEYS %s", pattern) : NULL;
        if (keys && keys->type == REDIS_REPLY_ARRAY && keys->elements == 1) {
            owner = ports[m];
            redisReply *k = redisCommand(c, "CLUSTER KEYSLOT %s", keys->element[0]->str);
            if (k && k->type == REDIS_REPLY_INTEGER) slot = k->integer;
            if (k) freeReplyObject(k);
        } else if (other < 0) {
            other = ports[m];
        }
        if (keys) freeReplyObject(keys);
        if (c) redisFree(c);
    }
    if (seed) redisFree(seed);
    CHECK(owner > 0 && other > 0 && slot >= 0);
    if (owner < 0 || other < 0 || slot < 0) return;
    char owner_id[64], other_id[64], slot_text[16];
    node_id(owner, owner_id);
    node_id(other, other_id);
    snprintf(slot_text, sizeof slot_text, "%lld", slot);
    /* the slot half-way to the other master, its keys not moved yet (as `redis-cli --cluster
     * reshard` leaves it between SETSLOT MIGRATING and MIGRATE) */
    CHECK(node_command(other, "CLUSTER SETSLOT %s IMPORTING %s", slot_text, owner_id));
    CHECK(node_command(owner, "CLUSTER SETSLOT %s MIGRATING %s", slot_text, other_id));
    int rc =
        zg_step(h, shard0, 1, 0, &r); /* (a claim that makes its keys: refused before it runs) */
    CHECK(node_command(owner, "CLUSTER SETSLOT %s STABLE%s", slot_text, ""));
    CHECK(node_command(other, "CLUSTER SETSLOT %s STABLE%s", slot_text, ""));
    zg_message_stats st;
    CHECK_INT(zg_job_stats(h, u, &st), ZG_OK);
    if (rc == ZG_OK) { /* whole: it ran */
        CHECK_STR(r.uuid, u);
    } else { /* not at all: still waiting, not running under a lease no host holds */
        CHECK_INT(st.state, ZG_MSG_READY);
        CHECK_INT(st.reserves, 0);
        CHECK_INT(zg_step(h, shard0, 1, 1000, &r), ZG_OK);
        CHECK_STR(r.uuid, u);
    }
    zg_host_free(h);
}

static void run_all(void)
{
    RUN(test_shard_by_picks_the_shard_by_a_stable_hash_of_the_value_and_spreads);
    RUN(test_round_robin_spreads_jobs_evenly_over_the_shards);
    RUN(test_a_unique_key_holds_across_shards);
    RUN(test_a_group_stays_on_one_shard);
    RUN(test_a_batch_submit_makes_one_store_call_per_shard);
    RUN(test_every_job_of_a_3_shard_queue_runs_once_with_several_claimers);
    RUN(test_ties_between_shards_take_turns_so_a_flooded_shard_starves_none);
    RUN(test_priority_order_holds_within_a_shard);
    RUN(test_a_claim_takes_the_most_urgent_head_across_shards);
    RUN(test_kick_and_list_act_on_every_shard);
    RUN(test_a_shards_mismatch_with_a_non_empty_queue_is_refused);
    RUN(test_unsharded_jobs_without_a_record_keep_a_sharded_type_out);
    RUN(test_the_shard_count_changes_only_by_zg_queue_shards_set_on_an_empty_queue);
    RUN(test_a_repeat_lives_in_the_shard_its_jobs_key_picks_unique_group_shard_by);
    RUN(test_a_repeats_tick_does_not_duplicate_a_unique_job_held_on_another_shard);
    RUN(test_a_repeat_that_moves_shard_or_goes_is_left_in_no_other_shard);
    RUN(test_a_spawn_onto_another_queue_uses_that_queues_shards_and_changes_none);
}

int main(void)
{
    snprintf(tag, sizeof tag, "sh%lx%x", (unsigned long)time(NULL) & 0xffffff, (unsigned)getpid());
    run_all();
    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) {
        store = url;
        snprintf(tag, sizeof tag, "shr%lx%x", (unsigned long)time(NULL) & 0xffffff,
                 (unsigned)getpid());
        run_all();
        if (strncmp(url, "redis+cluster://", 16) == 0) {
            RUN(test_on_a_cluster_the_3_shards_live_on_3_different_masters);
            RUN(test_on_a_cluster_a_claim_on_a_shard_whose_slot_is_moving_is_whole_or_not_at_all);
        }
    }
    return check_done();
}
