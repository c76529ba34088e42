/* Flows (issue 12 points 5 and 6) through the public API and, for the step between a child's
 * settle and its parent, through the store's interface: a parent parked until its children on
 * other queues have ended, then run again with their ends; fail_parent and ignore; no duplicate
 * children when a run is made again; a batch's callback; cancel of its own children only; kill of
 * a parent kills its children; and on Redis a child's end left undelivered (its host killed
 * between the two steps) handed over by another host, the parent resumed exactly once. Runs on
 * mem:// and, with ZEROG_SPEC_REDIS, on Redis. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lifecycle.h"
#include "redis_conn.h"
#include "zerog.h"

static const char *store = "mem://";
static char tag[32];

/* Loads the job type `type` from src, saying why where it fails. */
static void load_type(zg_host *h, const char *type, const char *src)
{
    int rc = zg_load_string(h, type, src, NULL);
    if (rc != ZG_OK) printf("# %s\n", zg_errstr(h));
    CHECK_INT(rc, ZG_OK);
}

/* Loads the test's job types: <tag>child (queue <tag>_cq; n = 2 fails with 422, others succeed
 * with result "r<n>") and a parent type <tag><name> on queue <tag>_pq whose run is `body`. */
static zg_host *host_with(const char *name, const char *body)
{
    zg_host *h = check_new_host(store);
    char src[4096], type[ZG_NAME_LEN];
    snprintf(type, sizeof type, "%schild", tag);
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_cq', MAX_ERRORS = 1,\n"
             "  SCHEMA = { n = { type = 'integer' }, result = { type = 'string' } },\n"
             "  run = function(self)\n"
             "    if self.n == 2 then self:raise_error_finish(422, 'two fails') end\n"
             "    self:update_attrs { result = 'r' .. self.n }; return 200 end }\n",
             type, tag);
    load_type(h, type, src);
    snprintf(type, sizeof type, "%s%s", tag, name);
    snprintf(src, sizeof src,
             "local zerog = require 'zerog'\n"
             "local C, CQ, OQ = '%schild', '%s_cq', '%s_oq'\n"
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_pq', RETRY_DELAY = 0,\n"
             "  SCHEMA = { mode = { type = 'string' }, seen = { type = 'string' } },\n"
             "  run = function(self)\n%s\n  end }\n",
             tag, tag, tag, type, tag, body);
    load_type(h, type, src);
    return h;
}

static const char *queue(const char *name)
{
    static char bufs[4][ZG_NAME_LEN];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, ZG_NAME_LEN, "%s_%s", tag, name);
    return b;
}

/* Runs one job of queue q; returns its result code (-1: requeued or parked; -2: none ran). */
static int step(zg_host *h, const char *q)
{
    const char *queues[] = {q};
    zg_step_result out;
    int rc = zg_step(h, queues, 1, 0, &out);
    if (rc != ZG_OK) return -2;
    return out.outcome == ZG_STEP_FINISHED ? out.result_code : -1;
}

static int state_of(zg_host *h, const char *uuid)
{
    zg_message_stats st;
    if (zg_job_stats(h, uuid, &st) != ZG_OK) return -1;
    return st.state;
}

/* The document field `name` of a job (JSON text of the dump, from the name on), malloc'd. */
static int dump_has(zg_host *h, const char *uuid, const char *text)
{
    char *json = NULL;
    int found = zg_read(h, ZG_VIEW_DUMP, uuid, &json) == ZG_OK && strstr(json, text);
    if (!found) printf("# %s lacks %s\n", json ? json : "(no document)", text);
    zg_free(json);
    return found;
}

#define SPAWN_TWO                                                                                  \
    "    if self.flowRound == 0 then\n"                                                            \
    "      self:spawn(C, { n = 1 }, { on_failure = 'ignore' })\n"                                  \
    "      self:spawn(C, { n = 2 }, { queue = OQ, on_failure = self.mode or 'ignore' })\n"         \
    "      return zerog.WAIT_CHILDREN\n"                                                           \
    "    end\n"

#define SEEN                                                                                       \
    "    local parts = {}\n"                                                                       \
    "    for _, c in ipairs(self:children()) do\n"                                                 \
    "      parts[#parts + 1] = c.queue:sub(-2) .. ':' .. tostring(c.resultCode) .. ':' ..\n"       \
    "        tostring(c.result) .. ':' .. tostring(c.failed)\n"                                    \
    "    end\n"

static void test_a_parent_parks_until_its_children_on_two_queues_end_then_reads_their_ends(void)
{
    zg_host *h = host_with("parent", SPAWN_TWO SEEN
                           "    self:update_attrs { seen = self.flowRound .. ' ' ..\n"
                           "      table.concat(parts, ',') }\n"
                           "    return 200");
    char type[ZG_NAME_LEN], p[ZG_UUID_LEN];
    snprintf(type, sizeof type, "%sparent", tag);
    CHECK_INT(zg_submit(h, type, "{}", NULL, p), ZG_OK);
    CHECK_INT(step(h, queue("pq")), -1);
    CHECK_INT(state_of(h, p), ZG_MSG_PARKED);
    CHECK_INT(step(h, queue("pq")), -2); /* parked: nothing to claim, no worker held */
    zg_list_filter f = {.states = 1u << ZG_JOBS_PARKED, .queue = queue("pq")};
    zg_job_page page;
    CHECK_INT(zg_list(h, &f, &page), ZG_OK);
    CHECK_INT(page.n, 1);
    if (page.n) CHECK_STR(page.jobs[0].uuid, p);
    zg_job_page_free(&page);
    CHECK_INT(step(h, queue("cq")), 200);
    CHECK_INT(state_of(h, p), ZG_MSG_PARKED); /* one child of two has ended */
    CHECK_INT(step(h, queue("oq")), 422);
    CHECK_INT(state_of(h, p), ZG_MSG_READY);
    CHECK_INT(step(h, queue("pq")), 200);
    CHECK(dump_has(h, p, "\"seen\":\"1 cq:200:r1:false,oq:422:nil:true\""));
    zg_host_free(h);
}

static void test_a_fail_parent_child_that_fails_ends_the_parent_with_424_and_kills_the_rest(void)
{
    zg_host *h = host_with("strict", SPAWN_TWO
                           "    if self.flowRound == 1 then -- (retried by hand after its 424)\n"
                           "      self:spawn(C, { n = 5 }); return zerog.WAIT_CHILDREN\n"
                           "    end\n"
                           "    return 200");
    char type[ZG_NAME_LEN], p[ZG_UUID_LEN];
    snprintf(type, sizeof type, "%sstrict", tag);
    CHECK_INT(zg_submit(h, type, "{\"mode\": \"fail_parent\"}", NULL, p), ZG_OK);
    CHECK_INT(step(h, queue("pq")), -1);
    CHECK_INT(step(h, queue("oq")), 422);
    CHECK_INT(state_of(h, p), ZG_MSG_READY); /* at once, its other child still waiting */
    CHECK_INT(step(h, queue("pq")), 424);
    CHECK(dump_has(h, p, "failed with 422: two fails"));
    CHECK_INT(step(h, queue("cq")), -2); /* the other child was killed with it */
    zg_job_page page;
    zg_list_filter f = {.states = 1u << ZG_JOBS_FAILED, .queue = queue("cq")};
    CHECK_INT(zg_list(h, &f, &page), ZG_OK);
    CHECK_INT(page.n, 1);
    if (page.n) CHECK_INT(page.jobs[0].result_code, 410);
    zg_job_page_free(&page);
    /* retried by hand: its run decides (no 424 again), and the failure it ended with does not
     * wake it from its next wait */
    CHECK_INT(zg_retry(h, p), ZG_OK);
    CHECK_INT(step(h, queue("pq")), -1);
    CHECK_INT(state_of(h, p), ZG_MSG_PARKED);
    CHECK_INT(step(h, queue("cq")), 200);
    CHECK_INT(step(h, queue("pq")), 200);
    zg_host_free(h);
}

static void test_a_run_made_again_after_a_crash_spawns_the_same_children_not_new_ones(void)
{
    zg_host *h =
        host_with("rerun", "    if self.flowRound == 1 then\n"
                           "      self:update_attrs { seen = tostring(#self:children()) }\n"
                           "      return 200\n"
                           "    end\n"
                           "    self:spawn(C, { n = 1 }); self:spawn(C, { n = 3 })\n"
                           "    if self.errorCount == 0 then\n"
                           "      self:raise_error_continue(503, 'crash after spawning')\n"
                           "    end\n"
                           "    return zerog.WAIT_CHILDREN");
    char type[ZG_NAME_LEN], p[ZG_UUID_LEN];
    snprintf(type, sizeof type, "%srerun", tag);
    CHECK_INT(zg_submit(h, type, "{}", NULL, p), ZG_OK);
    CHECK_INT(step(h, queue("pq")), -1); /* spawned two, then failed: runs again */
    CHECK_INT(step(h, queue("pq")), -1); /* spawned the same two, parked */
    CHECK_INT(state_of(h, p), ZG_MSG_PARKED);
    zg_queue_counts counts;
    CHECK_INT(zg_queue_counts_get(h, queue("cq"), &counts), ZG_OK);
    CHECK_INT(counts.ready, 2);
    CHECK_INT(step(h, queue("cq")), 200);
    CHECK_INT(step(h, queue("cq")), 200);
    CHECK_INT(step(h, queue("pq")), 200);
    CHECK(dump_has(h, p, "\"seen\":\"2\""));
    zg_host_free(h);
}

static void test_a_batch_callback_runs_once_after_every_job_of_the_batch_has_ended(void)
{
    zg_host *h =
        host_with("callback", SEEN "    self:update_attrs { seen = self.flowRound .. ' ' ..\n"
                                   "      table.concat(parts, ',') }\n"
                                   "    return 200");
    char child[ZG_NAME_LEN], cb_type[ZG_NAME_LEN], cb[ZG_UUID_LEN], uuids[3][ZG_UUID_LEN];
    snprintf(child, sizeof child, "%schild", tag);
    snprintf(cb_type, sizeof cb_type, "%scallback", tag);
    const char *lines[] = {"{\"n\": 1}", "{\"n\": 2}", "{\"n\": 4}"};
    CHECK_INT(zg_submit_batch_then(h, child, lines, 3, NULL, cb_type, "{}", uuids, cb), ZG_OK);
    CHECK_INT(state_of(h, cb), ZG_MSG_PARKED);
    CHECK_INT(step(h, queue("pq")), -2);
    CHECK_INT(step(h, queue("cq")), 200);
    CHECK_INT(step(h, queue("cq")), 422); /* a failure does not end the callback: it waits on */
    CHECK_INT(state_of(h, cb), ZG_MSG_PARKED);
    CHECK_INT(step(h, queue("cq")), 200);
    CHECK_INT(step(h, queue("pq")), 200);
    CHECK(dump_has(h, cb, "\"seen\":\"1 cq:200:r1:false,cq:422:nil:true,cq:200:r4:false\""));
    CHECK_INT(step(h, queue("pq")), -2); /* once */
    char none[1][ZG_UUID_LEN];
    CHECK_INT(zg_submit_batch_then(h, child, lines, 0, NULL, cb_type, NULL, none, cb), ZG_EINVAL);
    zg_host_free(h);
}

static void test_a_job_cancels_its_own_children_only_and_killed_ones_count_as_failed(void)
{
    zg_host *h = host_with(
        "cancel",
        "    if self.flowRound == 0 then\n"
        "      local a = self:spawn(C, { n = 1 }, { delay = 60, on_failure = 'ignore' })\n"
        "      self:spawn(C, { n = 3 }, { delay = 60, on_failure = 'ignore' })\n"
        "      local one = self:cancel(a)\n"
        "      local ok, e = pcall(self.cancel, self, self.uuid)\n"
        "      local refused = not ok and tostring(e):find('not a child') ~= nil\n"
        "      local n = self:cancel_children()\n"
        "      self:update_attrs { seen = tostring(one) .. ' ' .. tostring(refused) ..\n"
        "        ' ' .. n }\n"
        "      return zerog.WAIT_CHILDREN\n"
        "    end\n" SEEN "    self:update_attrs { seen = self.seen .. '|' ..\n"
        "      table.concat(parts, ',') }\n"
        "    return 200");
    char type[ZG_NAME_LEN], p[ZG_UUID_LEN];
    snprintf(type, sizeof type, "%scancel", tag);
    CHECK_INT(zg_submit(h, type, "{}", NULL, p), ZG_OK);
    CHECK_INT(step(h, queue("pq")), -1);
    CHECK_INT(state_of(h, p), ZG_MSG_READY); /* both children ended (killed) before it parked */
    CHECK_INT(step(h, queue("pq")), 200);
    CHECK(dump_has(h, p, "\"seen\":\"true true 1|cq:410:nil:true,cq:410:nil:true\""));
    zg_host_free(h);
}

static void test_killing_a_parked_parent_kills_its_unfinished_children(void)
{
    zg_host *h =
        host_with("killed", "    self:spawn(C, { n = 1 }, { delay = 60, queue = OQ .. 'k' })\n"
                            "    self:spawn(C, { n = 5 }, { queue = OQ .. 'k' })\n"
                            "    return zerog.WAIT_CHILDREN");
    char type[ZG_NAME_LEN], p[ZG_UUID_LEN];
    snprintf(type, sizeof type, "%skilled", tag);
    CHECK_INT(zg_submit(h, type, "{}", NULL, p), ZG_OK);
    CHECK_INT(step(h, queue("pq")), -1);
    CHECK_INT(step(h, queue("oqk")), 200); /* the one without a delay */
    CHECK_INT(zg_kill(h, p), ZG_OK);
    CHECK_INT(state_of(h, p), ZG_MSG_FINISHED);
    zg_list_filter f = {.states = (1u << ZG_JOBS_FAILED) | (1u << ZG_JOBS_DELAYED),
                        .queue = queue("oqk")};
    zg_job_page page;
    CHECK_INT(zg_list(h, &f, &page), ZG_OK);
    CHECK_INT(page.n, 1); /* the delayed child, killed: failed with 410 */
    if (page.n) {
        CHECK_INT(page.jobs[0].state, ZG_JOBS_FAILED);
        CHECK_INT(page.jobs[0].result_code, 410);
    }
    zg_job_page_free(&page);
    zg_host_free(h);
}

static void test_a_child_deleted_before_it_ends_counts_as_failed_and_its_parent_resumes(void)
{
    zg_host *h = host_with(
        "orphan", "    if self.flowRound == 0 then\n"
                  "      self:spawn(C, { n = 1 }, { delay = 60, queue = CQ .. 'd',\n"
                  "        on_failure = 'ignore' })\n"
                  "      self:spawn(C, { n = 3 }, { queue = CQ .. 'd' })\n"
                  "      return zerog.WAIT_CHILDREN\n"
                  "    end\n" SEEN "    self:update_attrs { seen = table.concat(parts, ',') }\n"
                  "    return 200");
    char type[ZG_NAME_LEN], p[ZG_UUID_LEN];
    snprintf(type, sizeof type, "%sorphan", tag);
    CHECK_INT(zg_submit(h, type, "{}", NULL, p), ZG_OK);
    CHECK_INT(step(h, queue("pq")), -1);
    zg_list_filter f = {.states = 1u << ZG_JOBS_DELAYED, .queue = queue("cqd")};
    zg_job_page page;
    CHECK_INT(zg_list(h, &f, &page), ZG_OK);
    CHECK_INT(page.n, 1);
    if (page.n) CHECK_INT(zg_delete(h, page.jobs[0].uuid), ZG_OK); /* before it ran */
    zg_job_page_free(&page);
    CHECK_INT(step(h, queue("cqd")), 200);
    CHECK_INT(state_of(h, p), ZG_MSG_READY); /* not parked forever for a child that is gone */
    CHECK_INT(step(h, queue("pq")), 200);
    CHECK(dump_has(h, p, "\"seen\":\"qd:410:nil:true,qd:200:r3:false\""));
    zg_host_free(h);
}

static void test_misuse_is_refused_and_waiting_for_nothing_fails_with_500(void)
{
    zg_host *h = host_with(
        "misuse",
        "    local function why(f, ...) local ok, e = pcall(f, ...)\n"
        "      return ok and 'accepted' or (tostring(e):match('spawn: [^(]*') or tostring(e)) end\n"
        "    local other = zerog.get_job(self.uuid)\n"
        "    self:update_attrs { seen = why(self.spawn, self, C, { n = 1 }, { on_failure = 'maybe' "
        "})\n"
        "      .. '|' .. why(self.spawn, self, 'nope', {})\n"
        "      .. '|' .. why(self.spawn, self, C, { n = 1 }, { queue = 'a}b' })\n"
        "      .. '|' .. why(other.spawn, other, C, { n = 1 }) }\n"
        "    return zerog.WAIT_CHILDREN");
    char type[ZG_NAME_LEN], p[ZG_UUID_LEN];
    snprintf(type, sizeof type, "%smisuse", tag);
    CHECK_INT(zg_submit(h, type, "{}", NULL, p), ZG_OK);
    CHECK_INT(step(h, queue("pq")), 500);
    CHECK(dump_has(h, p, "on_failure must be \\\"fail_parent\\\" or \\\"ignore\\\", got maybe"));
    CHECK(dump_has(h, p, "|spawn: unknown job type nope|spawn: queue must be a name of letters"));
    CHECK(dump_has(h, p, "|spawn: only the running job itself can spawn"));
    CHECK(dump_has(h, p, "spawned no child in this run"));
    zg_queue_counts counts;
    CHECK_INT(zg_queue_counts_get(h, queue("cq"), &counts), ZG_OK);
    CHECK_INT(counts.ready, 0); /* nothing was spawned by the refused calls */
    zg_host_free(h);
}

/* ---- the step between a child's settle and its parent, through the store's interface ---- */

static int64_t seq_counter = 1000;

/* Submits parent P parked on qp with one registered child C on qc, and settles C (claimed and
 * finished with 200) without handing its end over: what a host killed -9 right after the
 * settle leaves. */
static void strand_a_child_end(zg_store *s, const char *qp, const char *qc, const char *tc,
                               char p[ZG_UUID_LEN], char c[ZG_UUID_LEN])
{
    zg_error err = {0};
    snprintf(p, ZG_UUID_LEN, "%08x-0000-4000-8000-%012lx", (unsigned)getpid(), seq_counter++);
    snprintf(c, ZG_UUID_LEN, "%08x-0000-4000-8000-%012lx", (unsigned)getpid(), seq_counter++);
    zg_new_job parent = {.uuid = p, .job_type = "P", .queue = qp, .delay_ms = ZG_DELAY_PARKED};
    CHECK_INT(s->ops->submit(s, &parent, 1, "w", &err), ZG_OK);
    char info[256];
    snprintf(info, sizeof info, "{\"uuid\":\"%s\",\"onFailure\":\"ignore\"}", c);
    zg_child kid = {c, info, 0};
    CHECK_INT(s->ops->adopt(s, NULL, qp, p, &kid, 1, "spec", 0, &err), ZG_OK);
    char pu[ZG_UUID_LEN + 2], pq[ZG_NAME_LEN + 2];
    snprintf(pu, sizeof pu, "\"%s\"", p);
    snprintf(pq, sizeof pq, "\"%s\"", qp);
    zg_new_job child = {.uuid = c,
                        .job_type = tc,
                        .queue = qc,
                        .fields = {2, (const char *const[]){"parentUuid", "parentQueue"},
                                   (const char *const[]){pu, pq}}};
    CHECK_INT(s->ops->submit(s, &child, 1, "w", &err), ZG_OK);
    zg_claim cl = {0};
    const char *queues[] = {qc}, *types[] = {tc};
    zg_claim_req req = {queues, 1, types, 1, NULL, 0};
    CHECK_INT(s->ops->claim(s, &req, 0, "w", seq_counter += 100, &cl, &err), ZG_OK);
    zg_settle st = {
        .has_parent = 1,
        .action = ZG_SETTLE_FINISH,
        .fields = {1, (const char *const[]){"resultCode"}, (const char *const[]){"200"}}};
    int64_t cas = 0;
    CHECK_INT(s->ops->settle(s, &cl.lease, &st, "w", seq_counter++, &cas, &err), ZG_OK);
    zg_claim_clear(&cl);
}

static int store_state(zg_store *s, const char *uuid)
{
    zg_job_state st;
    zg_error err = {0};
    return s->ops->job_state(s, uuid, &st, &err) == ZG_OK ? st.state : -1;
}

static void test_mem_a_child_end_reaches_its_parent_in_the_settle_itself(void)
{
    zg_store *s = zg_store_mem_new();
    char p[ZG_UUID_LEN], c[ZG_UUID_LEN];
    strand_a_child_end(s, "fqp", "fqc", "C", p, c);
    CHECK_INT(store_state(s, p), ZG_STATE_WAITING);
    char *json = NULL;
    zg_error err = {0};
    CHECK_INT(s->ops->children(s, "fqp", p, 0, &json, NULL, &err), ZG_OK);
    CHECK(json && strstr(json, "\"resultCode\":200,\"failed\":false"));
    free(json);
    s->ops->close(s);
}

/* A host killed -9 between a child's settle and the delivery to its parent: the notice stays;
 * a delivery hands it over once (a notice delivered again changes nothing), and a live host's
 * idle steps hand over the ones older than a few seconds. */
static void test_redis_a_child_end_left_undelivered_resumes_its_parent_exactly_once(void)
{
    zg_error err = {0};
    zg_store *s = zg_store_redis_new(store, 0, &err);
    CHECK(s != NULL);
    if (!s) return;
    char qp[ZG_NAME_LEN], qc[ZG_NAME_LEN], p[ZG_UUID_LEN], c[ZG_UUID_LEN];
    snprintf(qp, sizeof qp, "%s_sp", tag);
    snprintf(qc, sizeof qc, "%s_sc", tag);
    strand_a_child_end(s, qp, qc, "C", p, c);
    CHECK_INT(store_state(s, p), ZG_STATE_PARKED);
    int64_t n = -1;
    CHECK_INT(s->ops->deliver(s, qc, 60000, &n, &err), ZG_OK); /* too fresh for a re-send */
    CHECK_INT(n, 0);
    CHECK_INT(store_state(s, p), ZG_STATE_PARKED);
    /* the notice as it is, to put it back after its delivery (as if that host died before
     * removing it) */
    zg_redis r; /* (a connection of the store's kind: one Redis or a cluster) */
    CHECK_INT(zg_redis_open(&r, store, 0, &err), ZG_OK);
    char outbox[ZG_NAME_LEN + 16];
    snprintf(outbox, sizeof outbox, "{zq:%s}:outbox", qc);
    const char *zrange[] = {"ZRANGE", outbox, "0", "-1"};
    redisReply *saved = zg_redis_command(&r, 4, zrange, NULL, 0, &err);
    CHECK(saved && saved->elements == 1);
    CHECK_INT(s->ops->deliver(s, qc, 0, &n, &err), ZG_OK);
    CHECK_INT(n, 1);
    CHECK_INT(store_state(s, p), ZG_STATE_WAITING);
    if (saved && saved->elements == 1) {
        const char *zadd[] = {"ZADD", outbox, "1", saved->element[0]->str};
        const size_t lens[] = {3, strlen(outbox), 1, saved->element[0]->len};
        redisReply *added = zg_redis_command(&r, 4, zadd, lens, 0, &err);
        if (added) zg_redis_reply_free(added);
    }
    CHECK_INT(s->ops->deliver(s, qc, 0, &n, &err), ZG_OK);
    CHECK_INT(store_state(s, p), ZG_STATE_WAITING);
    zg_claim cl = {0};
    const char *queues[] = {qp}, *types[] = {"P"};
    zg_claim_req req = {queues, 1, types, 1, NULL, 0};
    CHECK_INT(s->ops->claim(s, &req, 0, "w", seq_counter += 100, &cl, &err), ZG_OK);
    CHECK_STR(cl.lease.uuid, p);
    zg_claim_clear(&cl);
    CHECK_INT(s->ops->claim(s, &req, 0, "w", seq_counter += 100, &cl, &err), ZG_ETIMEDOUT);
    zg_claim_clear(&cl);
    zg_redis_reply_free(saved);
    /* another stranded end: a host's idle steps on the child's queue hand it over */
    strand_a_child_end(s, qp, qc, "C", p, c);
    zg_host *h = check_new_host(store);
    char src[256];
    snprintf(src, sizeof src, "return { JOB_TYPE = 'C', QUEUE_NAME = '%s', run = function() end }",
             qc);
    CHECK_INT(zg_load_string(h, "C", src, NULL), ZG_OK);
    int64_t deadline = (int64_t)time(NULL) + 15;
    while (store_state(s, p) == ZG_STATE_PARKED && (int64_t)time(NULL) < deadline) {
        const char *q[] = {qc};
        zg_step_result out;
        zg_step(h, q, 1, 200, &out);
    }
    CHECK_INT(store_state(s, p), ZG_STATE_WAITING);
    zg_host_free(h);
    zg_redis_close(&r);
    s->ops->close(s);
}

/* A child that succeeded with a result of its own saying "failed": true has not failed for its
 * parent: the parent of two fail_parent children stays parked until the other one ends (on
 * Redis the failure was read off the notice's text, the child's result included, so the parent
 * ran again with a child unfinished, and every later wait of it was ready at once). */
static void test_a_childs_own_result_saying_failed_does_not_fail_it_for_its_parent(void)
{
    zg_host *h = check_new_host(store);
    char src[1024], child[ZG_NAME_LEN], parent[ZG_NAME_LEN], p[ZG_UUID_LEN];
    snprintf(child, sizeof child, "%sliar", tag);
    snprintf(parent, sizeof parent, "%sliarp", tag);
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s',\n"
             "  SCHEMA = { result = { type = 'object' } },\n"
             "  run = function(self) self:update_attrs { result = { failed = true } }\n"
             "    return 200 end }\n",
             child, queue("lc"));
    load_type(h, child, src);
    snprintf(src, sizeof src,
             "local zerog = require 'zerog'\n"
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s',\n"
             "  run = function(self)\n"
             "    if self.flowRound == 0 then\n"
             "      self:spawn('%s', {})\n"
             "      self:spawn('%s', {}, { queue = '%s' })\n"
             "      return zerog.WAIT_CHILDREN\n"
             "    end\n"
             "    return 200 end }\n",
             parent, queue("lp"), child, child, queue("nobody"));
    load_type(h, parent, src);
    CHECK_INT(zg_submit(h, parent, "{}", NULL, p), ZG_OK);
    CHECK_INT(step(h, queue("lp")), -1);
    CHECK_INT(step(h, queue("lc")), 200);
    CHECK_INT(state_of(h, p), ZG_MSG_PARKED);
    CHECK_INT(step(h, queue("lp")), -2);
    CHECK_INT(step(h, queue("nobody")), 200);
    CHECK_INT(state_of(h, p), ZG_MSG_READY);
    CHECK_INT(step(h, queue("lp")), 200);
    zg_host_free(h);
}

/* The fields flows keep on a job are not a SCHEMA's to declare: with parentUuid a submitter's
 * params named any job as a child's parent (and, with a space in it, any child of any parent as
 * ended). */
static void test_a_schema_cannot_declare_the_fields_flows_keep(void)
{
    zg_host *h = check_new_host(store);
    static const char *const names[] = {"parentUuid", "parentQueue", "flowRound", "flowFailedSeen"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char src[256];
        snprintf(src, sizeof src,
                 "return { JOB_TYPE = 'forger', SCHEMA = { %s = { type = 'string' } },\n"
                 "  run = function() return 200 end }\n",
                 names[i]);
        CHECK_INT(zg_load_string(h, "forger", src, NULL), ZG_ESCRIPT);
        CHECK(strstr(zg_errstr(h), names[i]) && strstr(zg_errstr(h), "flows keep"));
    }
    zg_host_free(h);
}

/* A batch's callback deleted before its children were registered: the registration is refused
 * (no such job), and a registered child's end for a parent deleted since writes nothing (on
 * Redis both made keys for the missing parent that nothing ever deleted). */
static void test_children_of_a_parent_that_is_gone_leave_nothing_behind(void)
{
    zg_error err = {0};
    zg_store *s = strcmp(store, "mem://") ? zg_store_redis_new(store, 0, &err) : zg_store_mem_new();
    CHECK(s != NULL);
    if (!s) return;
    char qp[ZG_NAME_LEN], qc[ZG_NAME_LEN], p[ZG_UUID_LEN], c[ZG_UUID_LEN], gone[ZG_UUID_LEN];
    snprintf(qp, sizeof qp, "%s_gp", tag);
    snprintf(qc, sizeof qc, "%s_gc", tag);
    snprintf(gone, sizeof gone, "%08x-0000-4000-8000-%012lx", (unsigned)getpid(), seq_counter++);
    zg_new_job parent = {.uuid = gone, .job_type = "P", .queue = qp, .delay_ms = ZG_DELAY_PARKED};
    CHECK_INT(s->ops->submit(s, &parent, 1, "w", &err), ZG_OK);
    CHECK_INT(s->ops->remove(s, gone, &err), ZG_OK);
    zg_child kid = {gone, "{\"onFailure\":\"ignore\"}", 0};
    CHECK_INT(s->ops->adopt(s, NULL, qp, gone, &kid, 1, "spec", 0, &err), ZG_ENOTFOUND);
    strand_a_child_end(s, qp, qc, "C", p, c); /* registered, then its parent deleted */
    CHECK_INT(s->ops->remove(s, p, &err), ZG_OK);
    int64_t n = -1;
    CHECK_INT(s->ops->deliver(s, qc, 0, &n, &err), ZG_OK);
    CHECK_INT(n, 0);
    if (strcmp(store, "mem://")) {
        zg_redis r;
        CHECK_INT(zg_redis_open(&r, store, 0, &err), ZG_OK);
        static const char *const suffixes[] = {"", ":kids", ":kres", ":kearly"};
        for (int i = 0; i < 8; i++) {
            char key[ZG_NAME_LEN + ZG_UUID_LEN + 24];
            snprintf(key, sizeof key, "{zq:%s}:job:%s%s", qp, i < 4 ? p : gone, suffixes[i % 4]);
            const char *exists[] = {"EXISTS", key};
            redisReply *left = zg_redis_command(&r, 2, exists, NULL, 0, &err);
            CHECK(left && left->type == REDIS_REPLY_INTEGER && left->integer == 0);
            if (left) zg_redis_reply_free(left);
        }
        zg_redis_close(&r);
    }
    s->ops->close(s);
}

/* A Redis store on the spec's server and a second connection to it (r), as an operator or an
 * outage would drive it; NULL (nothing open) if either fails. */
static zg_store *redis_store_and_a_second_connection(zg_redis *r)
{
    zg_error err = {0};
    zg_store *s = zg_store_redis_new(store, 0, &err);
    CHECK(s != NULL);
    if (!s) return NULL;
    int rc = zg_redis_open(r, store, 0, &err);
    CHECK_INT(rc, ZG_OK);
    if (rc == ZG_OK) return s;
    s->ops->close(s);
    return NULL;
}

/* A store error while finding a sharded parent's queue (its shard count, read from the store by
 * a host that has not read it yet) leaves the child's end for the next hand-over (it was taken
 * for a bad queue name and deleted: the parent waited forever). The failed read is made
 * deterministic: zerog:shards is of the wrong type for a moment. */
static void test_redis_a_store_error_finding_a_sharded_parent_keeps_the_childs_end(void)
{
    zg_error err = {0};
    zg_redis r;
    zg_store *s = redis_store_and_a_second_connection(&r);
    if (!s) return;
    char base[ZG_NAME_LEN], qp[ZG_NAME_LEN + 4], qc[ZG_NAME_LEN], p[ZG_UUID_LEN], c[ZG_UUID_LEN];
    snprintf(base, sizeof base, "%s_shp", tag);
    snprintf(qp, sizeof qp, "%s~1", base);
    snprintf(qc, sizeof qc, "%s_shc", tag);
    const char *record[] = {"HSET", "zerog:shards", base, "2"};
    zg_redis_reply_free(zg_redis_command(&r, 4, record, NULL, 0, &err));
    strand_a_child_end(s, qp, qc, "C", p, c);
    s->ops->close(s);
    zg_store *fresh = zg_store_redis_new(store, 0, &err); /* nothing read yet */
    CHECK(fresh != NULL);
    if (!fresh) return;
    /* (one key at a time: on a cluster the record and any other key may be on two slots) */
    const char *dump[] = {"DUMP", "zerog:shards"}, *broken[] = {"SET", "zerog:shards", "broken"};
    redisReply *saved = zg_redis_command(&r, 2, dump, NULL, 0, &err);
    CHECK(saved && saved->type == REDIS_REPLY_STRING);
    if (!saved || saved->type != REDIS_REPLY_STRING) return;
    zg_redis_reply_free(zg_redis_command(&r, 3, broken, NULL, 0, &err));
    int64_t n = 0;
    CHECK(fresh->ops->deliver(fresh, qc, 0, &n, &err) != ZG_OK);
    const char *restore[] = {"RESTORE", "zerog:shards", "0", saved->str, "REPLACE"};
    const size_t lens[] = {7, 12, 1, saved->len, 7};
    zg_redis_reply_free(zg_redis_command(&r, 5, restore, lens, 0, &err));
    zg_redis_reply_free(saved);
    CHECK_INT(fresh->ops->deliver(fresh, qc, 0, &n, &err), ZG_OK);
    CHECK_INT(n, 1);
    CHECK_INT(store_state(fresh, p), ZG_STATE_WAITING);
    fresh->ops->close(fresh);
    zg_redis_close(&r);
}

/* A notice handed over waits for its confirming hand-over in the outbox's second set, which
 * expires as a whole: a queue no host serves any more (a child killed from the command line on
 * it) does not keep its notices for good. */
static void test_redis_a_handed_notice_waits_in_a_set_that_expires(void)
{
    zg_error err = {0};
    zg_redis r;
    zg_store *s = redis_store_and_a_second_connection(&r);
    if (!s) return;
    char qp[ZG_NAME_LEN], qc[ZG_NAME_LEN], p[ZG_UUID_LEN], c[ZG_UUID_LEN];
    char outbox[ZG_NAME_LEN + 16], sent[ZG_NAME_LEN + 24];
    snprintf(qp, sizeof qp, "%s_xp", tag);
    snprintf(qc, sizeof qc, "%s_xc", tag);
    snprintf(outbox, sizeof outbox, "{zq:%s}:outbox", qc);
    snprintf(sent, sizeof sent, "{zq:%s}:outbox:sent", qc);
    strand_a_child_end(s, qp, qc, "C", p, c);
    int64_t n = 0;
    CHECK_INT(s->ops->deliver(s, qc, 0, &n, &err), ZG_OK);
    CHECK_INT(n, 1);
    const char *card[] = {"ZCARD", outbox}, *ttl[] = {"PTTL", sent};
    redisReply *left = zg_redis_command(&r, 2, card, NULL, 0, &err);
    CHECK(left && left->type == REDIS_REPLY_INTEGER && left->integer == 0);
    if (left) zg_redis_reply_free(left);
    redisReply *kept = zg_redis_command(&r, 2, ttl, NULL, 0, &err);
    CHECK(kept && kept->type == REDIS_REPLY_INTEGER && kept->integer > 0 &&
          kept->integer <= 600000);
    if (kept) zg_redis_reply_free(kept);
    /* its confirmation due: the hand-over after a settle (age 0) leaves it to a re-send, which
     * finds the parent had the end and removes it */
    const char *members[] = {"ZRANGE", sent, "0", "-1"}, *sent_card[] = {"ZCARD", sent};
    redisReply *m = zg_redis_command(&r, 4, members, NULL, 0, &err);
    CHECK(m && m->type == REDIS_REPLY_ARRAY && m->elements == 1);
    if (m && m->type == REDIS_REPLY_ARRAY && m->elements == 1) {
        const char *due[] = {"ZADD", sent, "XX", "1", m->element[0]->str};
        const size_t lens[] = {4, strlen(sent), 2, 1, m->element[0]->len};
        zg_redis_reply_free(zg_redis_command(&r, 5, due, lens, 0, &err));
    }
    if (m) zg_redis_reply_free(m);
    CHECK_INT(s->ops->deliver(s, qc, 0, &n, &err), ZG_OK);
    left = zg_redis_command(&r, 2, sent_card, NULL, 0, &err);
    CHECK(left && left->type == REDIS_REPLY_INTEGER && left->integer == 1);
    if (left) zg_redis_reply_free(left);
    CHECK_INT(s->ops->deliver(s, qc, 3000, &n, &err), ZG_OK);
    CHECK_INT(n, 0);
    left = zg_redis_command(&r, 2, sent_card, NULL, 0, &err);
    CHECK(left && left->type == REDIS_REPLY_INTEGER && left->integer == 0);
    if (left) zg_redis_reply_free(left);
    zg_redis_close(&r);
    s->ops->close(s);
}

/* A notice an earlier version left in an outbox ("<parent> <child> <end>", before the failed
 * flag travelled in it: a host killed between the settle and the hand-over, across an upgrade)
 * is still handed over (it was taken for not one of ours and dropped: its parent waited
 * forever). */
static void test_redis_a_notice_written_before_the_failed_flag_is_handed_over(void)
{
    zg_error err = {0};
    zg_redis r;
    zg_store *s = redis_store_and_a_second_connection(&r);
    if (!s) return;
    char qp[ZG_NAME_LEN], qc[ZG_NAME_LEN], p[ZG_UUID_LEN], c[ZG_UUID_LEN];
    char outbox[ZG_NAME_LEN + 16];
    snprintf(qp, sizeof qp, "%s_op", tag);
    snprintf(qc, sizeof qc, "%s_oc", tag);
    snprintf(outbox, sizeof outbox, "{zq:%s}:outbox", qc);
    strand_a_child_end(s, qp, qc, "C", p, c);
    const char *members[] = {"ZRANGE", outbox, "0", "-1"};
    redisReply *m = zg_redis_command(&r, 4, members, NULL, 0, &err);
    CHECK(m && m->type == REDIS_REPLY_ARRAY && m->elements == 1);
    if (m && m->type == REDIS_REPLY_ARRAY && m->elements == 1) {
        const char *notice = m->element[0]->str;
        const char *flag = strchr(strchr(notice, ' ') + 1, ' ') + 1;
        CHECK(*flag == '0');
        char old[2048];
        snprintf(old, sizeof old, "%.*s%s", (int)(flag - notice), notice, flag + 1);
        const char *rem[] = {"ZREM", outbox, notice}, *add[] = {"ZADD", outbox, "1", old};
        zg_redis_reply_free(zg_redis_command(&r, 3, rem, NULL, 0, &err));
        zg_redis_reply_free(zg_redis_command(&r, 4, add, NULL, 0, &err));
    }
    if (m) zg_redis_reply_free(m);
    int64_t n = 0;
    CHECK_INT(s->ops->deliver(s, qc, 0, &n, &err), ZG_OK);
    CHECK_INT(n, 1);
    CHECK_INT(store_state(s, p), ZG_STATE_WAITING);
    char *json = NULL;
    CHECK_INT(s->ops->children(s, qp, p, 0, &json, NULL, &err), ZG_OK);
    CHECK(json && strstr(json, "\"resultCode\":200,\"failed\":false"));
    free(json);
    zg_redis_close(&r);
    s->ops->close(s);
}

/* A parent whose slot refuses its child's end (its node down, or out of memory) holds up only
 * that end: another parent's end from the same child queue is handed over, and the refused one
 * is once the slot answers again (the first refusal stopped the whole pass, so every flow fed
 * from that queue waited). The refusal is made deterministic: the parent's :kres of the wrong
 * type for a moment. */
static void test_redis_a_parent_whose_slot_refuses_holds_up_only_its_own_end(void)
{
    zg_error err = {0};
    zg_redis r;
    zg_store *s = redis_store_and_a_second_connection(&r);
    if (!s) return;
    char qa[ZG_NAME_LEN], qb[ZG_NAME_LEN], qc[ZG_NAME_LEN], a[ZG_UUID_LEN], b[ZG_UUID_LEN],
        c[ZG_UUID_LEN], kres[ZG_NAME_LEN + ZG_UUID_LEN + 16];
    snprintf(qa, sizeof qa, "%s_hla", tag);
    snprintf(qb, sizeof qb, "%s_hlb", tag);
    snprintf(qc, sizeof qc, "%s_hlc", tag);
    strand_a_child_end(s, qa, qc, "C", a, c); /* (the older notice: handed over first) */
    strand_a_child_end(s, qb, qc, "C", b, c);
    snprintf(kres, sizeof kres, "{zq:%s}:job:%s:kres", qa, a);
    const char *broken[] = {"SET", kres, "broken"}, *mended[] = {"DEL", kres};
    zg_redis_reply_free(zg_redis_command(&r, 3, broken, NULL, 0, &err));
    int64_t n = 0;
    CHECK(s->ops->deliver(s, qc, 0, &n, &err) != ZG_OK);
    CHECK(strstr(err.msg, "WRONGTYPE") != NULL);
    CHECK_INT(n, 1);
    CHECK_INT(store_state(s, a), ZG_STATE_PARKED);
    CHECK_INT(store_state(s, b), ZG_STATE_WAITING);
    zg_redis_reply_free(zg_redis_command(&r, 2, mended, NULL, 0, &err));
    CHECK_INT(s->ops->deliver(s, qc, 0, &n, &err), ZG_OK);
    CHECK_INT(n, 1);
    CHECK_INT(store_state(s, a), ZG_STATE_WAITING);
    zg_redis_close(&r);
    s->ops->close(s);
}

/* A parent on <tag>_pq (MEMORY_LIMIT memory) that spawns `kids` children on
 * <tag>_bq, each ending with a result of `size` bytes, and, woken, reads their ends: "seen" says
 * how many it read whole, in spawn order. Its uuid in p. */
static zg_host *big_ends_flow(const char *name, int kids, int size, long memory,
                              char p[ZG_UUID_LEN])
{
    zg_host *h = check_new_host(store);
    char src[2048], child[ZG_NAME_LEN], parent[ZG_NAME_LEN];
    snprintf(child, sizeof child, "%sbig", tag);
    snprintf(
        src, sizeof src,
        "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_bq', SCHEMA = { n = { type = 'integer' },\n"
        "  result = { type = 'string' } },\n"
        "  run = function(self) self:update_attrs { result = self.n .. string.rep('x', %d) }\n"
        "    return 200 end }\n",
        child, tag, size);
    load_type(h, child, src);
    snprintf(parent, sizeof parent, "%s%s", tag, name);
    snprintf(src, sizeof src,
             "local zerog = require 'zerog'\n"
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_pq', MAX_ERRORS = 1, MEMORY_LIMIT = %ld,\n"
             "  SCHEMA = { seen = { type = 'integer' } },\n"
             "  run = function(self)\n"
             "    if self.flowRound == 0 then\n"
             "      for n = 1, %d do self:spawn('%s', { n = n }, { on_failure = 'ignore' }) end\n"
             "      return zerog.WAIT_CHILDREN\n"
             "    end\n"
             "    local whole = 0\n"
             "    for i, c in ipairs(self:children()) do\n"
             "      if c.result == i .. string.rep('x', %d) then whole = whole + 1 end\n"
             "    end\n"
             "    self:update_attrs { seen = whole }\n"
             "    return 200\n"
             "  end }\n",
             parent, tag, memory, kids, child, size);
    load_type(h, parent, src);
    CHECK_INT(zg_submit(h, parent, "{}", NULL, p), ZG_OK);
    CHECK_INT(step(h, queue("pq")), -1);
    for (int i = 0; i < kids; i++)
        CHECK_INT(step(h, queue("bq")), 200);
    CHECK_INT(state_of(h, p), ZG_MSG_READY);
    return h;
}

/* What Redis has sent its clients so far (INFO's total_net_output_bytes); -1 on a cluster (its
 * nodes count apart) or on mem://. */
static long long redis_bytes_sent(void)
{
    if (!strncmp(store, "mem://", 6) || !strncmp(store, "redis+cluster://", 16)) return -1;
    zg_redis r;
    zg_error err = {0};
    if (zg_redis_open(&r, store, 0, &err) != ZG_OK) return -1;
    const char *info[] = {"INFO", "stats"};
    redisReply *reply = zg_redis_command(&r, 2, info, NULL, 0, &err);
    const char *at = reply && reply->str ? strstr(reply->str, "total_net_output_bytes:") : NULL;
    long long sent = at ? atoll(at + strlen("total_net_output_bytes:")) : -1;
    zg_redis_reply_free(reply);
    zg_redis_close(&r);
    return sent;
}

static void test_childrens_ends_larger_than_one_read_come_whole_in_spawn_order(void)
{
    char p[ZG_UUID_LEN];
    zg_host *h =
        big_ends_flow("bigread", 12, 1000000, 256L << 20, p); /* 12 MB: several reads on Redis */
    CHECK_INT(step(h, queue("pq")), 200);
    CHECK(dump_has(h, p, "\"seen\":12"));
    zg_host_free(h);
}

static void test_childrens_ends_that_cannot_fit_in_the_run_are_not_read_and_fail_it_counted(void)
{
    char p[ZG_UUID_LEN];
    /* 12 ends of 300 kB, a run's MEMORY_LIMIT of 2 MiB: they could never fit. Before, the ends
     * were read whole first (60 of 8 MB took past the store timeout: the callback was released
     * again and again, counting nothing); now the run is out of memory, counted, at once */
    zg_host *h = big_ends_flow("bigfail", 12, 300000, 2 << 20, p);
    long long before = redis_bytes_sent();
    CHECK_INT(step(h, queue("pq")), 500);
    long long after = redis_bytes_sent();
    CHECK(dump_has(h, p, "MEMORY_LIMIT"));
    CHECK(dump_has(h, p, "\"errorCount\":1"));
    if (before >= 0) {
        printf("# the refused read cost %lld bytes from Redis\n", after - before);
        CHECK(after - before < 1000000);
    }
    zg_host_free(h);
}

/* The cases that run on each store. */
static void run_all(void)
{
    RUN(test_a_parent_parks_until_its_children_on_two_queues_end_then_reads_their_ends);
    RUN(test_a_fail_parent_child_that_fails_ends_the_parent_with_424_and_kills_the_rest);
    RUN(test_a_run_made_again_after_a_crash_spawns_the_same_children_not_new_ones);
    RUN(test_a_batch_callback_runs_once_after_every_job_of_the_batch_has_ended);
    RUN(test_a_job_cancels_its_own_children_only_and_killed_ones_count_as_failed);
    RUN(test_killing_a_parked_parent_kills_its_unfinished_children);
    RUN(test_a_child_deleted_before_it_ends_counts_as_failed_and_its_parent_resumes);
    RUN(test_misuse_is_refused_and_waiting_for_nothing_fails_with_500);
    RUN(test_a_childs_own_result_saying_failed_does_not_fail_it_for_its_parent);
    RUN(test_a_schema_cannot_declare_the_fields_flows_keep);
    RUN(test_children_of_a_parent_that_is_gone_leave_nothing_behind);
    RUN(test_childrens_ends_larger_than_one_read_come_whole_in_spawn_order);
    RUN(test_childrens_ends_that_cannot_fit_in_the_run_are_not_read_and_fail_it_counted);
}

int main(void)
{
    snprintf(tag, sizeof tag, "fl%lx%x", (unsigned long)time(NULL) & 0xffffff, (unsigned)getpid());
    run_all();
    RUN(test_mem_a_child_end_reaches_its_parent_in_the_settle_itself);
    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) {
        store = url;
        snprintf(tag, sizeof tag, "flr%lx%x", (unsigned long)time(NULL) & 0xffffff,
                 (unsigned)getpid());
        run_all();
        RUN(test_redis_a_child_end_left_undelivered_resumes_its_parent_exactly_once);
        RUN(test_redis_a_store_error_finding_a_sharded_parent_keeps_the_childs_end);
        RUN(test_redis_a_handed_notice_waits_in_a_set_that_expires);
        RUN(test_redis_a_notice_written_before_the_failed_flag_is_handed_over);
        RUN(test_redis_a_parent_whose_slot_refuses_holds_up_only_its_own_end);
    }
    return check_done();
}
