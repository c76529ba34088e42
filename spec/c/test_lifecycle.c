/* Lifecycle tests: a job's life through the one store interface (lifecycle.h): submit, claim,
 * leases and fencing, touch, update/save/append, settle (finish, release, bury), kills and
 * supervisor releases from outside a run, kick, counts, job state, buried jobs, retention, no
 * fixed caps, and concurrent claimers. One suite runs on mem:// and, when ZEROG_SPEC_REDIS names
 * a Redis (a store URL), on Redis too; every test's name starts with its backend.
 *
 * Timing: TTRs and delays are short (100-300 ms). Where a test waits for something the store
 * does, it waits for the condition (a blocking claim, or polling with a deadline); the few
 * sleeps let time pass for what is being tested (a TTR running out, a touch renewing it). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "lifecycle.h"
#include "redis_conn.h"

static zg_store *S;
static const char *backend;   /* "mem" or "redis": the prefix of every test name */
static const char *redis_url; /* NULL on mem:// */
static char run_tag[48];      /* queue names are unique per run and backend */
static unsigned long uuid_stamp;
/* atomic: racing threads make uuids (two threads with one uuid would make a submit of one read
 * as a resend of the other's job, "created" though refused) */
static atomic_ulong uuid_counter;

#define TYPE "T" /* the job type of most tests */

/* got must be the same text as want, which must be there. */
#define CHECK_SAME_TEXT(got, want)                                                                 \
    do {                                                                                           \
        const char *want_ = (want);                                                                \
        CHECK(want_ != NULL);                                                                      \
        if (want_) CHECK_STR(got, want_);                                                          \
    } while (0)

#define FIELDS0         ((zg_fields){0, NULL, NULL})
#define FIELDS1(n1, v1) ((zg_fields){1, (const char *const[]){n1}, (const char *const[]){v1}})
#define FIELDS2(n1, v1, n2, v2)                                                                    \
    ((zg_fields){2, (const char *const[]){n1, n2}, (const char *const[]){v1, v2}})

/* ---- helpers ---- */

/* The queue name for a test's short name (a few buffers, so several can be used at once). */
static const char *Q(const char *name)
{
    static char bufs[8][ZG_NAME_LEN];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, ZG_NAME_LEN, "%s_%s_%s", run_tag, backend, name);
    return b;
}

static void new_uuid(char out[ZG_UUID_LEN])
{
    snprintf(out, ZG_UUID_LEN, "%08lx-%04x-4000-8000-%012lx", uuid_stamp & 0xffffffffUL,
             (unsigned)getpid() & 0xffffu, atomic_fetch_add(&uuid_counter, 1) + 1);
}

/* Another handle on the store under test, for another thread: the same store on mem://, a
 * connection of its own on Redis. */
static zg_store *open_peer(void)
{
    if (!redis_url) return S;
    zg_error err = {0};
    zg_store *peer = zg_store_redis_new(redis_url, 0, &err);
    if (!peer) printf("# connecting to %s: %s\n", redis_url, err.msg);
    return peer;
}

static void close_peer(zg_store *peer)
{
    if (peer && peer != S) peer->ops->close(peer);
}

static int64_t submit_to(zg_store *s, const char *queue, const char *type, zg_fields f,
                         int64_t priority, int64_t delay_ms, int64_t ttr_ms, char uuid[ZG_UUID_LEN])
{
    new_uuid(uuid);
    zg_new_job j = {.uuid = uuid,
                    .job_type = type,
                    .queue = queue,
                    .fields = f,
                    .priority = priority,
                    .delay_ms = delay_ms,
                    .ttr_ms = ttr_ms};
    zg_error err = {0};
    int rc = s->ops->submit(s, &j, 1, "spec", &err);
    if (rc != ZG_OK) printf("# submit: %s\n", err.msg);
    CHECK_INT(rc, ZG_OK);
    return j.id;
}

/* Submits a job of type T with the field a = 1. */
static int64_t submit(const char *queue, int64_t priority, int64_t delay_ms, int64_t ttr_ms,
                      char uuid[ZG_UUID_LEN])
{
    return submit_to(S, queue, TYPE, FIELDS1("a", "1"), priority, delay_ms, ttr_ms, uuid);
}

static int claim_from(zg_store *s, const char *queue, const char *type, int64_t timeout_ms,
                      zg_claim *c)
{
    const char *queues[] = {queue}, *types[] = {type};
    zg_claim_req req = {queues, 1, types, 1, NULL, 0};
    zg_error err = {0};
    return s->ops->claim(s, &req, timeout_ms, "spec", 0, c, &err);
}

static int claim(const char *queue, int64_t timeout_ms, zg_claim *c)
{
    return claim_from(S, queue, TYPE, timeout_ms, c);
}

static char *load(const char *uuid)
{
    char *json = NULL;
    zg_error err = {0};
    return S->ops->load(S, uuid, &json, NULL, &err) == ZG_OK ? json : NULL;
}

static int64_t cas_of(const char *doc)
{
    long long cas = -1;
    if (!doc || sscanf(doc, "{\"cas\":%lld", &cas) != 1) return -1;
    return cas;
}

static zg_job_state state_of(const char *uuid)
{
    zg_job_state st;
    zg_error err = {0};
    if (S->ops->job_state(S, uuid, &st, &err) != ZG_OK) st.state = -1;
    return st;
}

static zg_store_counts counts_of(const char *queue)
{
    zg_store_counts c;
    zg_error err = {0};
    CHECK_INT(S->ops->counts(S, queue, &c, &err), ZG_OK);
    return c;
}

static int settle_with(zg_store *s, const zg_lease *lease, zg_settle st)
{
    int64_t cas = 0;
    zg_error err = {0};
    return s->ops->settle(s, lease, &st, "spec", 0, &cas, &err);
}

static int update(const zg_lease *lease, const char *uuid, zg_fields f, int64_t known_cas,
                  zg_written *out)
{
    zg_target t = {lease, NULL, uuid};
    zg_error err = {0};
    return S->ops->update(S, &t, f, known_cas, "spec", 0, out, &err);
}

static zg_settle finish(void)
{
    /* static: a compound literal here would die with the call */
    static const char *const names[] = {"resultCode"}, *const values[] = {"200"};
    return (zg_settle){.action = ZG_SETTLE_FINISH, .fields = {1, names, values}};
}

static zg_settle release(int64_t delay_ms)
{
    return (zg_settle){.action = ZG_SETTLE_RELEASE, .delay_ms = delay_ms};
}

static zg_settle bury(const char *reason)
{
    return (zg_settle){.action = ZG_SETTLE_BURY, .reason = reason};
}

static int outside(const char *uuid, int64_t token, zg_settle st)
{
    zg_error err = {0};
    return S->ops->settle_from_outside(S, NULL, uuid, token, &st, "spec", 0, &err);
}

/* Claims the job just submitted to queue (it must be the only one ready). */
static void claim_now(const char *queue, zg_claim *c)
{
    CHECK_INT(claim(queue, 0, c), ZG_OK);
}

/* ---- submit ---- */

static void submit_creates_the_document_and_the_queue_entry_together(void)
{
    char u[ZG_UUID_LEN];
    new_uuid(u);
    zg_new_job j = {.uuid = u,
                    .job_type = "T",
                    .queue = Q("submit"),
                    .fields = FIELDS2("jobType", "\"T\"", "params", "{\"x\":1}"),
                    .priority = 10,
                    .ttr_ms = 1000};
    zg_error err = {0};
    CHECK_INT(S->ops->submit(S, &j, 1, "spec", &err), ZG_OK);
    CHECK_INT(j.id, 1);
    CHECK_INT(j.cas, 1);
    char *doc = NULL, queue[ZG_NAME_LEN] = "";
    CHECK_INT(S->ops->load(S, u, &doc, queue, &err), ZG_OK);
    CHECK_STR(doc, "{\"cas\":1,\"jobType\":\"T\",\"params\":{\"x\":1},\"queueJobId\":1,"
                   "\"events\":[],\"warnings\":[],\"errors\":[]}");
    CHECK_STR(queue, Q("submit"));
    free(doc);
    zg_store_counts c = counts_of(Q("submit"));
    CHECK_INT(c.waiting, 1);
    CHECK_INT(c.delayed + c.running + c.buried, 0);
    zg_job_state st = state_of(u);
    CHECK_INT(st.state, ZG_STATE_WAITING);
    CHECK_INT(st.id, 1);
    CHECK_INT(st.priority, 10);
    CHECK_INT(st.reserves + st.timeouts + st.releases + st.lease, 0);
}

static void submit_numbers_jobs_per_queue_from_1(void)
{
    char u[3][ZG_UUID_LEN];
    zg_new_job jobs[3];
    for (int i = 0; i < 3; i++) {
        new_uuid(u[i]);
        jobs[i] = (zg_new_job){.uuid = u[i], .job_type = "T", .queue = Q("ids_a"), .ttr_ms = 1000};
    }
    zg_error err = {0};
    CHECK_INT(S->ops->submit(S, jobs, 3, "spec", &err), ZG_OK); /* one batch */
    CHECK_INT(jobs[0].id, 1);
    CHECK_INT(jobs[1].id, 2);
    CHECK_INT(jobs[2].id, 3);
    char v[ZG_UUID_LEN];
    CHECK_INT(submit(Q("ids_a"), 0, 0, 1000, v), 4);
    CHECK_INT(submit(Q("ids_b"), 0, 0, 1000, v), 1);
}

static void submit_overwrites_a_given_queueJobId(void)
{
    char u[ZG_UUID_LEN];
    submit_to(S, Q("qjid"), "T", FIELDS2("queueJobId", "77", "b", "2"), 0, 0, 1000, u);
    char *doc = load(u);
    CHECK_STR(doc, "{\"cas\":1,\"queueJobId\":1,\"b\":2,\"events\":[],\"warnings\":[],"
                   "\"errors\":[]}");
    free(doc);
}

static void resubmit_of_the_same_uuid_creates_nothing_new(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("resubmit"), 5, 0, 1000, u);
    zg_new_job again = {.uuid = u,
                        .job_type = "T",
                        .queue = Q("resubmit"),
                        .fields = FIELDS1("a", "2"),
                        .priority = 1,
                        .ttr_ms = 1000};
    zg_error err = {0};
    CHECK_INT(S->ops->submit(S, &again, 1, "spec", &err), ZG_OK);
    CHECK_INT(again.id, 1);
    CHECK_INT(again.cas, 1);
    CHECK_INT(counts_of(Q("resubmit")).waiting, 1);
    CHECK_INT(state_of(u).priority, 5);
    char *doc = load(u);
    CHECK_STR(doc, "{\"cas\":1,\"a\":1,\"queueJobId\":1,\"events\":[],\"warnings\":[],"
                   "\"errors\":[]}");
    free(doc);
}

static void names_starting_with_an_underscore_are_not_written_out(void)
{
    char u[ZG_UUID_LEN];
    submit_to(S, Q("underscore"), "T", FIELDS2("_own", "1", "a", "2"), 0, 0, 1000, u);
    char *doc = load(u);
    CHECK_STR(doc, "{\"cas\":1,\"a\":2,\"queueJobId\":1,\"events\":[],\"warnings\":[],"
                   "\"errors\":[]}");
    free(doc);
}

/* ---- claim ---- */

static void claim_takes_lowest_priority_then_oldest(void)
{
    char b[ZG_UUID_LEN], a[ZG_UUID_LEN], c[ZG_UUID_LEN];
    submit(Q("order"), 5, 0, 1000, b);
    submit(Q("order"), 1, 0, 1000, a);
    submit(Q("order"), 5, 0, 1000, c);
    const char *want[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        zg_claim cl;
        CHECK_INT(claim(Q("order"), 0, &cl), ZG_OK);
        CHECK_STR(cl.lease.uuid, want[i]);
        zg_claim_clear(&cl);
    }
}

static void claim_prefers_the_more_urgent_queue_then_the_earlier_one(void)
{
    char low[ZG_UUID_LEN], high[ZG_UUID_LEN];
    submit(Q("qa"), 9, 0, 1000, low);
    submit(Q("qb"), 2, 0, 1000, high);
    const char *queues[] = {Q("qa"), Q("qb")}, *types[] = {"T"};
    zg_claim_req req = {queues, 2, types, 1, NULL, 0};
    zg_claim cl;
    zg_error err = {0};
    CHECK_INT(S->ops->claim(S, &req, 0, "spec", 0, &cl, &err), ZG_OK);
    CHECK_STR(cl.lease.uuid, high);
    CHECK_STR(cl.lease.queue, Q("qb"));
    zg_claim_clear(&cl);
    /* equal priority in two queues: the tie goes to the first from req.tie_start on, which
     * the host moves on at every claim (sharded queues rely on it): two claims whose tie_start
     * differs by one take one job of each queue */
    char c1[ZG_UUID_LEN], c2[ZG_UUID_LEN], d1[ZG_UUID_LEN], d2[ZG_UUID_LEN];
    submit(Q("qc"), 5, 0, 1000, c1);
    submit(Q("qc"), 5, 0, 1000, c2);
    submit(Q("qd"), 5, 0, 1000, d1);
    submit(Q("qd"), 5, 0, 1000, d2);
    const char *tie[] = {Q("qd"), Q("qc")};
    req.queues = tie;
    char first[ZG_NAME_LEN] = "";
    CHECK_INT(S->ops->claim(S, &req, 0, "spec", 0, &cl, &err), ZG_OK);
    snprintf(first, sizeof first, "%s", cl.lease.queue);
    zg_claim_clear(&cl);
    req.tie_start++;
    CHECK_INT(S->ops->claim(S, &req, 0, "spec", 0, &cl, &err), ZG_OK);
    CHECK(strcmp(cl.lease.queue, first) != 0);
    zg_claim_clear(&cl);
}

static void claim_takes_only_the_requested_types(void)
{
    char other[ZG_UUID_LEN], mine[ZG_UUID_LEN];
    submit_to(S, Q("types"), "NotLoaded", FIELDS0, 0, 0, 1000, other); /* most urgent, first */
    submit_to(S, Q("types"), "T", FIELDS0, 5, 0, 1000, mine);
    zg_claim cl;
    CHECK_INT(claim(Q("types"), 0, &cl), ZG_OK);
    CHECK_STR(cl.lease.uuid, mine);
    CHECK_STR(cl.job_type, "T");
    zg_claim_clear(&cl);
    CHECK_INT(claim(Q("types"), 0, &cl), ZG_ETIMEDOUT);
    zg_job_state st = state_of(other);
    CHECK_INT(st.state, ZG_STATE_WAITING);
    CHECK_INT(st.reserves, 0);
    CHECK_INT(counts_of(Q("types")).waiting, 1);
    CHECK_INT(claim_from(S, Q("types"), "NotLoaded", 0, &cl), ZG_OK);
    CHECK_STR(cl.lease.uuid, other);
    zg_claim_clear(&cl);
}

static void claim_on_an_empty_queue_times_out_within_its_timeout(void)
{
    zg_claim cl = {0};
    int64_t start = zg_clock_monotonic_ms();
    CHECK_INT(claim(Q("empty"), 0, &cl), ZG_ETIMEDOUT);
    CHECK(zg_clock_monotonic_ms() - start < 1000);
    CHECK(cl.doc == NULL);
    start = zg_clock_monotonic_ms();
    CHECK_INT(claim(Q("empty"), 200, &cl), ZG_ETIMEDOUT);
    int64_t waited = zg_clock_monotonic_ms() - start;
    CHECK(waited >= 150);
    CHECK(waited < 2000);
}

typedef struct submitter_arg {
    const char *queue;
    char uuid[ZG_UUID_LEN];
} submitter_arg;

static void *submit_later(void *p)
{
    submitter_arg *a = p;
    zg_store *peer = open_peer();
    /* not a synchronisation: the claim must have started waiting, which nothing can observe */
    zg_clock_sleep_ms(150);
    if (peer) submit_to(peer, a->queue, "T", FIELDS0, 0, 0, 1000, a->uuid);
    close_peer(peer);
    return NULL;
}

static void a_blocked_claim_is_woken_by_a_submit_from_another_thread(void)
{
    submitter_arg a = {Q("wake"), ""};
    pthread_t t;
    pthread_create(&t, NULL, submit_later, &a);
    zg_claim cl;
    int64_t start = zg_clock_monotonic_ms();
    CHECK_INT(claim(Q("wake"), 10000, &cl), ZG_OK);
    int64_t waited = zg_clock_monotonic_ms() - start;
    pthread_join(t, NULL);
    CHECK_STR(cl.lease.uuid, a.uuid);
    CHECK(waited < 3000); /* woken by the submit at ~150 ms, long before the 10 s timeout */
    zg_claim_clear(&cl);
}

static void a_delayed_job_is_claimable_only_after_its_delay(void)
{
    char u[ZG_UUID_LEN];
    int64_t start = zg_clock_monotonic_ms();
    submit(Q("delayed"), 1, 200, 1000, u);
    zg_claim cl;
    CHECK_INT(claim(Q("delayed"), 0, &cl), ZG_ETIMEDOUT);
    CHECK_INT(counts_of(Q("delayed")).delayed, 1);
    CHECK_INT(counts_of(Q("delayed")).waiting, 0);
    zg_job_state st = state_of(u);
    CHECK_INT(st.state, ZG_STATE_DELAYED);
    CHECK(st.time_left_ms > 0 && st.time_left_ms <= 200);
    CHECK_INT(claim(Q("delayed"), 3000, &cl), ZG_OK); /* a blocking claim waits for it */
    CHECK(zg_clock_monotonic_ms() - start >= 190);
    CHECK_STR(cl.lease.uuid, u);
    zg_claim_clear(&cl);
}

static void claim_returns_the_document_with_running_true_and_the_cas_bumped(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("claimdoc"), 7, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("claimdoc"), &cl);
    CHECK_STR(cl.doc, "{\"cas\":2,\"a\":1,\"queueJobId\":1,\"running\":true,\"events\":[],"
                      "\"warnings\":[],\"errors\":[]}");
    CHECK_STR(cl.lease.uuid, u);
    CHECK_STR(cl.lease.queue, Q("claimdoc"));
    CHECK_INT(cl.lease.ttr_ms, 1000);
    CHECK(cl.lease.token != 0);
    CHECK_STR(cl.job_type, "T");
    CHECK_INT(cl.id, 1);
    CHECK_INT(cl.priority, 7);
    CHECK_INT(cl.reserves, 1);
    CHECK_INT(cl.timeouts + cl.releases, 0);
    CHECK_INT(cl.prior, ZG_PRIOR_CLEAN);
    char *doc = load(u);
    CHECK_SAME_TEXT(doc, cl.doc);
    free(doc);
    zg_job_state st = state_of(u);
    CHECK_INT(st.state, ZG_STATE_RUNNING);
    CHECK_INT(st.lease, cl.lease.token);
    CHECK_INT(st.reserves, 1);
    CHECK(st.time_left_ms > 0 && st.time_left_ms <= 1000);
    zg_store_counts c = counts_of(Q("claimdoc"));
    CHECK_INT(c.running, 1);
    CHECK_INT(c.waiting, 0);
    zg_claim_clear(&cl);
    CHECK(cl.doc == NULL);
}

static void lease_tokens_differ_between_claims_of_the_same_job(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("tokens"), 0, 0, 1000, u);
    zg_claim first, second;
    claim_now(Q("tokens"), &first);
    CHECK_INT(settle_with(S, &first.lease, release(0)), ZG_OK);
    claim_now(Q("tokens"), &second); /* released without a delay: claimable at once */
    CHECK_STR(second.lease.uuid, u);
    CHECK(second.lease.token != first.lease.token);
    CHECK_INT(second.reserves, 2);
    CHECK_INT(second.releases, 1);
    zg_error err = {0};
    CHECK_INT(S->ops->touch(S, &first.lease, &err), ZG_ESTALE);
    CHECK_INT(S->ops->touch(S, &second.lease, &err), ZG_OK);
    zg_claim_clear(&first);
    zg_claim_clear(&second);
}

static void a_lapsed_lease_returns_the_job_with_a_timeout_and_prior_lapsed(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("lapse"), 0, 0, 100, u);
    zg_claim first, again;
    claim_now(Q("lapse"), &first);
    CHECK_INT(claim(Q("lapse"), 3000, &again), ZG_OK); /* waits for the TTR to run out */
    CHECK_STR(again.lease.uuid, u);
    CHECK_INT(again.timeouts, 1);
    CHECK_INT(again.reserves, 2);
    CHECK_INT(again.prior, ZG_PRIOR_LAPSED);
    CHECK(strstr(again.doc ? again.doc : "", "\"running\":true") != NULL);
    CHECK_INT(settle_with(S, &again.lease, release(0)), ZG_OK);
    zg_claim third;
    claim_now(Q("lapse"), &third); /* it settled: the next claim is clean */
    CHECK_INT(third.prior, ZG_PRIOR_CLEAN);
    zg_claim_clear(&first);
    zg_claim_clear(&again);
    zg_claim_clear(&third);
}

static void a_write_after_the_ttr_is_refused_even_before_another_claim(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("late"), 0, 0, 100, u);
    zg_claim cl;
    claim_now(Q("late"), &cl);
    char *before = load(u);
    zg_clock_sleep_ms(150); /* the TTR runs out: nothing to wait for but time */
    zg_written w;
    CHECK_INT(update(&cl.lease, NULL, FIELDS1("late", "true"), cas_of(before), &w), ZG_ESTALE);
    char *after = load(u);
    CHECK_SAME_TEXT(after, before);
    zg_claim again; /* the lease lapsed: the job is claimable again at once */
    CHECK_INT(claim(Q("late"), 0, &again), ZG_OK);
    CHECK_STR(again.lease.uuid, u);
    CHECK_INT(again.timeouts, 1);
    CHECK_INT(again.prior, ZG_PRIOR_LAPSED);
    free(before);
    free(after);
    zg_claim_clear(&cl);
    zg_claim_clear(&again);
}

/* The stalled-host reproduction: host A's run stalls past its TTR, host B claims the job; A's
 * late writes must all be refused and change nothing, so exactly one result is written. */
static void stalled_host_writes_are_refused_after_another_claim(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("stalled"), 0, 0, 100, u);
    zg_claim a, b;
    claim_now(Q("stalled"), &a);
    CHECK_INT(claim(Q("stalled"), 3000, &b), ZG_OK);
    CHECK_STR(b.lease.uuid, u);
    char *doc_b = load(u);
    int64_t cas = cas_of(doc_b);
    zg_written w;
    zg_error err = {0};
    zg_target ta = {&a.lease, NULL, NULL};
    CHECK_INT(update(&a.lease, NULL, FIELDS1("x", "\"A\""), cas, &w), ZG_ESTALE);
    CHECK_INT(S->ops->append(S, &ta, ZG_LIST_EVENTS, "{\"by\":\"A\"}", FIELDS0, NULL, cas, "spec",
                             0, &w, &err),
              ZG_ESTALE);
    CHECK_INT(S->ops->save(S, &ta, FIELDS1("x", "\"A\""), cas, "spec", 0, &w, &err), ZG_ESTALE);
    CHECK_INT(S->ops->touch(S, &a.lease, &err), ZG_ESTALE);
    zg_settle by_a = {.action = ZG_SETTLE_FINISH,
                      .fields = FIELDS1("resultCode", "\"A\""),
                      .event = "{\"by\":\"A\"}"};
    CHECK_INT(settle_with(S, &a.lease, by_a), ZG_ESTALE);
    char *doc = load(u);
    CHECK_SAME_TEXT(doc, doc_b);
    free(doc);
    zg_settle by_b = {.action = ZG_SETTLE_FINISH,
                      .fields = FIELDS1("resultCode", "\"B\""),
                      .event = "{\"by\":\"B\"}"};
    CHECK_INT(settle_with(S, &b.lease, by_b), ZG_OK);
    CHECK_INT(settle_with(S, &a.lease, by_a), ZG_ESTALE);
    doc = load(u);
    CHECK(doc && strstr(doc, "\"resultCode\":\"B\""));
    CHECK(doc && !strstr(doc, "\"A\""));
    CHECK(doc && strstr(doc, "\"events\":[{\"by\":\"B\"}]"));
    CHECK_INT(state_of(u).state, ZG_STATE_FINISHED);
    free(doc);
    free(doc_b);
    zg_claim_clear(&a);
    zg_claim_clear(&b);
}

static void writes_with_a_lease_on_an_unknown_job_are_refused_as_stale(void)
{
    zg_lease lease = {.token = 1, .ttr_ms = 1000};
    new_uuid(lease.uuid);
    snprintf(lease.queue, sizeof lease.queue, "%s", Q("nojob"));
    zg_written w;
    zg_error err = {0};
    CHECK_INT(update(&lease, NULL, FIELDS1("a", "1"), 0, &w), ZG_ESTALE);
    CHECK_INT(S->ops->touch(S, &lease, &err), ZG_ESTALE);
    CHECK_INT(settle_with(S, &lease, finish()), ZG_ESTALE);
}

static void writes_without_a_lease_to_an_unknown_job_are_not_found(void)
{
    char u[ZG_UUID_LEN];
    new_uuid(u);
    zg_written w;
    zg_error err = {0};
    zg_target t = {NULL, NULL, u};
    CHECK_INT(update(NULL, u, FIELDS1("a", "1"), 0, &w), ZG_ENOTFOUND);
    CHECK_INT(S->ops->save(S, &t, FIELDS1("a", "1"), 1, "spec", 0, &w, &err), ZG_ENOTFOUND);
    CHECK_INT(S->ops->append(S, &t, ZG_LIST_EVENTS, "{}", FIELDS0, NULL, 1, "spec", 0, &w, &err),
              ZG_ENOTFOUND);
    CHECK_INT(outside(u, 0, finish()), ZG_ENOTFOUND);
    char *json = NULL;
    CHECK_INT(S->ops->load(S, u, &json, NULL, &err), ZG_ENOTFOUND);
    CHECK(json == NULL);
    zg_job_state st;
    CHECK_INT(S->ops->job_state(S, u, &st, &err), ZG_ENOTFOUND);
}

/* ---- touch ---- */

static void touch_keeps_a_lease_alive_past_its_ttr(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("touch"), 0, 0, 200, u);
    zg_claim cl;
    claim_now(Q("touch"), &cl);
    zg_error err = {0};
    for (int i = 0; i < 5; i++) { /* 500 ms in all, well past the 200 ms TTR */
        zg_clock_sleep_ms(100);
        CHECK_INT(S->ops->touch(S, &cl.lease, &err), ZG_OK);
    }
    zg_job_state st = state_of(u);
    CHECK_INT(st.state, ZG_STATE_RUNNING);
    CHECK_INT(st.timeouts, 0);
    CHECK(st.time_left_ms > 100);
    zg_written w;
    CHECK_INT(update(&cl.lease, NULL, FIELDS1("alive", "true"), cas_of(cl.doc), &w), ZG_OK);
    free(w.doc);
    CHECK_INT(settle_with(S, &cl.lease, finish()), ZG_OK);
    zg_claim_clear(&cl);
}

static void touch_of_a_settled_lease_is_refused(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("touch_stale"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("touch_stale"), &cl);
    CHECK_INT(settle_with(S, &cl.lease, finish()), ZG_OK);
    zg_error err = {0};
    CHECK_INT(S->ops->touch(S, &cl.lease, &err), ZG_ESTALE);
    zg_claim_clear(&cl);
}

/* ---- update, save, append ---- */

static void update_is_last_writer_wins_and_hands_back_the_doc_when_known_cas_was_stale(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("update"), 0, 0, 1000, u);
    zg_written w;
    CHECK_INT(update(NULL, u, FIELDS2("a", "2", "b", "\"new\""), 1, &w), ZG_OK);
    CHECK_INT(w.cas, 2);
    CHECK(w.doc == NULL); /* the caller knew cas 1: nothing to catch up on */
    CHECK_INT(update(NULL, u, FIELDS1("a", "3"), 1, &w), ZG_OK); /* a writer behind by one */
    CHECK_INT(w.cas, 3);
    CHECK_STR(w.doc, "{\"cas\":3,\"a\":3,\"queueJobId\":1,\"b\":\"new\",\"events\":[],"
                     "\"warnings\":[],\"errors\":[]}");
    char *doc = load(u);
    CHECK_SAME_TEXT(doc, w.doc);
    free(doc);
    free(w.doc);
}

static void update_from_a_run_is_fenced_by_its_lease_not_by_cas(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("update_run"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("update_run"), &cl);
    zg_written w;
    CHECK_INT(update(&cl.lease, NULL, FIELDS1("progress", "50"), cas_of(cl.doc), &w), ZG_OK);
    CHECK_INT(w.cas, 3);
    CHECK(w.doc == NULL);
    CHECK_INT(update(NULL, u, FIELDS1("note", "1"), w.cas, &w), ZG_OK); /* someone else */
    CHECK_INT(update(&cl.lease, NULL, FIELDS1("progress", "60"), 3, &w), ZG_OK);
    CHECK_INT(w.cas, 5);
    CHECK(w.doc && strstr(w.doc, "\"progress\":60,\"note\":1"));
    free(w.doc);
    zg_claim_clear(&cl);
}

static void save_is_strict_compare_and_swap(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("save"), 0, 0, 1000, u);
    zg_written w;
    zg_error err = {0};
    zg_target t = {NULL, NULL, u};
    CHECK_INT(S->ops->save(S, &t, FIELDS1("a", "2"), 1, "spec", 0, &w, &err), ZG_OK);
    CHECK_INT(w.cas, 2);
    CHECK(w.doc == NULL);
    CHECK_INT(S->ops->save(S, &t, FIELDS1("a", "3"), 1, "spec", 0, &w, &err), ZG_ECAS);
    CHECK_INT(w.cas, 2); /* the stored cas is reported */
    char *doc = load(u);
    CHECK_STR(doc, "{\"cas\":2,\"a\":2,\"queueJobId\":1,\"events\":[],\"warnings\":[],"
                   "\"errors\":[]}");
    free(doc);
}

static void append_adds_an_entry_sets_fields_and_counts(void)
{
    char u[ZG_UUID_LEN];
    submit_to(S, Q("append"), "T", FIELDS1("updatedAt", "\"t0\""), 0, 0, 1000, u);
    zg_written w;
    zg_error err = {0};
    zg_target t = {NULL, NULL, u};
    CHECK_INT(S->ops->append(S, &t, ZG_LIST_EVENTS, "{\"msg\":\"e1\"}",
                             FIELDS1("updatedAt", "\"t1\""), NULL, 1, "spec", 0, &w, &err),
              ZG_OK);
    CHECK_INT(w.cas, 2);
    CHECK(w.doc == NULL);
    S->ops->append(S, &t, ZG_LIST_ERRORS, "{\"msg\":\"x\"}", FIELDS1("updatedAt", "\"t2\""),
                   "errorCount", 2, "spec", 0, &w, &err);
    S->ops->append(S, &t, ZG_LIST_WARNINGS, "{\"msg\":\"w\"}", FIELDS0, NULL, 3, "spec", 0, &w,
                   &err);
    CHECK_INT(S->ops->append(S, &t, ZG_LIST_ERRORS, "{\"msg\":\"y\"}",
                             FIELDS1("updatedAt", "\"t3\""), "errorCount", 1, "spec", 0, &w, &err),
              ZG_OK);
    CHECK_INT(w.cas, 5);
    const char *want = "{\"cas\":5,\"updatedAt\":\"t3\",\"queueJobId\":1,\"errorCount\":2,"
                       "\"events\":[{\"msg\":\"e1\"}],\"warnings\":[{\"msg\":\"w\"}],"
                       "\"errors\":[{\"msg\":\"x\"},{\"msg\":\"y\"}]}";
    CHECK_STR(w.doc, want); /* it knew cas 1: the document came back */
    free(w.doc);
    char *doc = load(u);
    CHECK_STR(doc, want);
    free(doc);
}

static void append_to_an_unknown_list_is_invalid_and_changes_nothing(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("append_bad"), 0, 0, 1000, u);
    zg_written w;
    zg_error err = {0};
    zg_target t = {NULL, NULL, u};
    CHECK_INT(S->ops->append(S, &t, 3, "{}", FIELDS1("a", "2"), NULL, 1, "spec", 0, &w, &err),
              ZG_EINVAL);
    char *doc = load(u);
    CHECK_INT(cas_of(doc), 1);
    free(doc);
}

static int long_list_length = 100000;

static void a_long_list_keeps_every_entry(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("longlist"), 0, 0, 1000, u);
    zg_written w = {.cas = 1};
    zg_error err = {0};
    zg_target t = {NULL, NULL, u};
    for (int i = 0; i < long_list_length; i++)
        S->ops->append(S, &t, ZG_LIST_EVENTS, "{\"e\":1}", FIELDS0, NULL, w.cas, "spec", 0, &w,
                       &err);
    CHECK_INT(w.cas, long_list_length + 1);
    char *doc = load(u);
    CHECK(doc && strlen(doc) > (size_t)long_list_length * 8);
    free(doc);
}

/* ---- settle ---- */

static void settle_finish_writes_the_result_and_clears_running(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("finish"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("finish"), &cl);
    zg_settle st = {.action = ZG_SETTLE_FINISH,
                    .fields = FIELDS2("resultCode", "200", "result", "{\"ok\":true}"),
                    .event = "{\"msg\":\"done\"}"};
    int64_t cas = 0;
    zg_error err = {0};
    CHECK_INT(S->ops->settle(S, &cl.lease, &st, "spec", 0, &cas, &err), ZG_OK);
    CHECK_INT(cas, 3);
    char *doc = load(u);
    CHECK_STR(doc, "{\"cas\":3,\"a\":1,\"queueJobId\":1,\"running\":false,\"resultCode\":200,"
                   "\"result\":{\"ok\":true},\"events\":[{\"msg\":\"done\"}],\"warnings\":[],"
                   "\"errors\":[]}");
    free(doc);
    zg_job_state js = state_of(u);
    CHECK_INT(js.state, ZG_STATE_FINISHED);
    CHECK_INT(js.lease, 0);
    zg_store_counts c = counts_of(Q("finish"));
    CHECK_INT(c.waiting + c.delayed + c.running + c.buried, 0);
    zg_claim again;
    CHECK_INT(claim(Q("finish"), 0, &again), ZG_ETIMEDOUT);
    zg_claim_clear(&cl);
}

static void settle_with_an_error_appends_it_and_counts_it(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("settle_err"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("settle_err"), &cl);
    zg_settle st = {.action = ZG_SETTLE_FINISH, .error = "{\"msg\":\"boom\"}"};
    CHECK_INT(settle_with(S, &cl.lease, st), ZG_OK);
    char *doc = load(u);
    CHECK(doc && strstr(doc, "\"errorCount\":1"));
    CHECK(doc && strstr(doc, "\"errors\":[{\"msg\":\"boom\"}]"));
    CHECK(doc && strstr(doc, "\"events\":[]"));
    free(doc);
    zg_claim_clear(&cl);
}

static void settle_finish_with_retention_deletes_the_job_after_it(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("retention"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("retention"), &cl);
    zg_settle st = finish();
    st.retention_s = 1;
    int64_t settled = zg_clock_monotonic_ms();
    CHECK_INT(settle_with(S, &cl.lease, st), ZG_OK);
    char *doc = load(u);
    CHECK(doc != NULL); /* kept for its retention */
    free(doc);
    int64_t gone_at = 0;
    while (!gone_at && zg_clock_monotonic_ms() - settled < 3000) {
        if (!(doc = load(u)))
            gone_at = zg_clock_monotonic_ms();
        else
            zg_clock_sleep_ms(20);
        free(doc);
    }
    CHECK(gone_at != 0);
    CHECK(gone_at - settled >= 900);
    zg_job_state js;
    zg_error err = {0};
    CHECK_INT(S->ops->job_state(S, u, &js, &err), ZG_ENOTFOUND);
    zg_claim_clear(&cl);
}

static void settle_release_with_a_delay_makes_the_job_wait_that_long(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("release"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("release"), &cl);
    int64_t released = zg_clock_monotonic_ms();
    CHECK_INT(settle_with(S, &cl.lease, release(200)), ZG_OK);
    zg_job_state js = state_of(u);
    CHECK_INT(js.state, ZG_STATE_DELAYED);
    CHECK_INT(js.releases, 1);
    CHECK_INT(js.lease, 0);
    CHECK(js.time_left_ms > 0 && js.time_left_ms <= 200);
    CHECK_INT(counts_of(Q("release")).delayed, 1);
    zg_claim again;
    CHECK_INT(claim(Q("release"), 0, &again), ZG_ETIMEDOUT);
    CHECK_INT(claim(Q("release"), 3000, &again), ZG_OK);
    CHECK(zg_clock_monotonic_ms() - released >= 190);
    CHECK_INT(again.releases, 1);
    CHECK_INT(again.prior, ZG_PRIOR_CLEAN);
    CHECK(again.doc && strstr(again.doc, "\"running\":true"));
    zg_claim_clear(&cl);
    zg_claim_clear(&again);
}

static void settle_bury_then_kick_brings_the_job_back(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("bury"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("bury"), &cl);
    CHECK_INT(settle_with(S, &cl.lease, bury("it broke")), ZG_OK);
    CHECK_INT(state_of(u).state, ZG_STATE_BURIED);
    zg_store_counts c = counts_of(Q("bury"));
    CHECK_INT(c.buried, 1);
    CHECK_INT(c.waiting + c.running, 0);
    zg_claim again;
    CHECK_INT(claim(Q("bury"), 0, &again), ZG_ETIMEDOUT);
    int64_t kicked = 0;
    zg_error err = {0};
    CHECK_INT(S->ops->kick(S, Q("bury"), 0, &kicked, &err), ZG_OK);
    CHECK_INT(kicked, 1);
    CHECK_INT(counts_of(Q("bury")).waiting, 1);
    CHECK_INT(counts_of(Q("bury")).buried, 0);
    CHECK_INT(claim(Q("bury"), 0, &again), ZG_OK);
    CHECK_STR(again.lease.uuid, u);
    CHECK_INT(again.reserves, 2);
    zg_claim_clear(&cl);
    zg_claim_clear(&again);
}

static void settle_with_an_unknown_action_is_invalid(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("badaction"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("badaction"), &cl);
    zg_settle st = {.action = 99};
    CHECK_INT(settle_with(S, &cl.lease, st), ZG_EINVAL);
    CHECK_INT(state_of(u).state, ZG_STATE_RUNNING);
    zg_claim_clear(&cl);
}

/* ---- buried jobs and kick ---- */

static void bury_from_outside(const char *queue, const char *reason, char uuid[ZG_UUID_LEN])
{
    submit(queue, 0, 0, 1000, uuid);
    CHECK_INT(outside(uuid, 0, bury(reason)), ZG_OK);
}

static void buried_lists_the_jobs_oldest_first_as_json(void)
{
    zg_error err = {0};
    char *json = NULL;
    CHECK_INT(S->ops->buried(S, Q("buried"), &json, &err), ZG_OK);
    CHECK_STR(json, "[]");
    free(json);
    char first[ZG_UUID_LEN], second[ZG_UUID_LEN];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long before = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    bury_from_outside(Q("buried"), "said \"no\"", first);
    bury_from_outside(Q("buried"), "again", second);
    clock_gettime(CLOCK_REALTIME, &now);
    long long after = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    CHECK_INT(S->ops->buried(S, Q("buried"), &json, &err), ZG_OK);
    char want[256];
    const char *reason_json = "\"said \\\"no\\\"\"";
    snprintf(want, sizeof want,
             "[{\"uuid\":\"%s\",\"jobType\":\"T\",\"reason\":%s,\"buriedAt\":", first, reason_json);
    CHECK(json && strncmp(json, want, strlen(want)) == 0);
    long long at = 0;
    CHECK(json && sscanf(json + strlen(want), "%lld", &at) == 1);
    CHECK(at >= before && at <= after);
    snprintf(want, sizeof want, "},{\"uuid\":\"%s\",\"jobType\":\"T\",\"reason\":\"again\"",
             second);
    CHECK(json && strstr(json, want));
    CHECK(json && json[strlen(json) - 1] == ']');
    free(json);
}

static void kick_moves_buried_jobs_oldest_first_up_to_max(void)
{
    char u[3][ZG_UUID_LEN];
    for (int i = 0; i < 3; i++)
        bury_from_outside(Q("kick_max"), "x", u[i]);
    int64_t kicked = 0;
    zg_error err = {0};
    CHECK_INT(S->ops->kick(S, Q("kick_max"), 2, &kicked, &err), ZG_OK);
    CHECK_INT(kicked, 2);
    CHECK_INT(state_of(u[0]).state, ZG_STATE_WAITING);
    CHECK_INT(state_of(u[1]).state, ZG_STATE_WAITING);
    CHECK_INT(state_of(u[2]).state, ZG_STATE_BURIED);
    zg_store_counts c = counts_of(Q("kick_max"));
    CHECK_INT(c.waiting, 2);
    CHECK_INT(c.buried, 1);
}

static void kick_makes_delayed_jobs_ready_when_none_is_buried(void)
{
    char u[2][ZG_UUID_LEN];
    submit(Q("kick_delayed"), 0, 60000, 1000, u[0]);
    submit(Q("kick_delayed"), 0, 60000, 1000, u[1]);
    int64_t kicked = 0;
    zg_error err = {0};
    CHECK_INT(S->ops->kick(S, Q("kick_delayed"), 1, &kicked, &err), ZG_OK);
    CHECK_INT(kicked, 1);
    zg_store_counts c = counts_of(Q("kick_delayed"));
    CHECK_INT(c.waiting, 1);
    CHECK_INT(c.delayed, 1);
    CHECK_INT(S->ops->kick(S, Q("kick_delayed"), 0, &kicked, &err), ZG_OK);
    CHECK_INT(kicked, 1);
    CHECK_INT(counts_of(Q("kick_delayed")).waiting, 2);
    zg_claim cl;
    CHECK_INT(claim(Q("kick_delayed"), 0, &cl), ZG_OK);
    zg_claim_clear(&cl);
}

static void kick_takes_buried_jobs_before_delayed_ones(void)
{
    char delayed[ZG_UUID_LEN], buried[ZG_UUID_LEN];
    submit(Q("kick_both"), 0, 60000, 1000, delayed);
    bury_from_outside(Q("kick_both"), "x", buried);
    int64_t kicked = 0;
    zg_error err = {0};
    CHECK_INT(S->ops->kick(S, Q("kick_both"), 0, &kicked, &err), ZG_OK);
    CHECK_INT(kicked, 1);
    CHECK_INT(state_of(buried).state, ZG_STATE_WAITING);
    CHECK_INT(state_of(delayed).state, ZG_STATE_DELAYED);
}

static void kick_of_an_unknown_queue_moves_nothing(void)
{
    int64_t kicked = 5;
    zg_error err = {0};
    CHECK_INT(S->ops->kick(S, Q("kick_none"), 0, &kicked, &err), ZG_OK);
    CHECK_INT(kicked, 0);
}

/* ---- settling from outside a run: kills and supervisors' releases ---- */

static void a_kill_of_a_waiting_job_takes_it_off_the_queue_and_records_why(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("kill_waiting"), 0, 0, 1000, u);
    zg_settle kill = {.action = ZG_SETTLE_FINISH,
                      .fields = FIELDS1("resultCode", "499"),
                      .error = "{\"msg\":\"killed\"}"};
    CHECK_INT(outside(u, 0, kill), ZG_OK);
    zg_store_counts c = counts_of(Q("kill_waiting"));
    CHECK_INT(c.waiting + c.delayed + c.running + c.buried, 0);
    CHECK_INT(state_of(u).state, ZG_STATE_FINISHED);
    char *doc = load(u);
    CHECK_STR(doc, "{\"cas\":2,\"a\":1,\"queueJobId\":1,\"resultCode\":499,\"running\":false,"
                   "\"errorCount\":1,\"events\":[],\"warnings\":[],"
                   "\"errors\":[{\"msg\":\"killed\"}]}");
    free(doc);
    zg_claim cl;
    CHECK_INT(claim(Q("kill_waiting"), 0, &cl), ZG_ETIMEDOUT);
}

static void a_kill_of_a_running_job_fences_its_runner(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("kill_running"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("kill_running"), &cl);
    zg_settle kill = {.action = ZG_SETTLE_FINISH, .error = "{\"msg\":\"killed\"}"};
    CHECK_INT(outside(u, 0, kill), ZG_OK);
    char *killed = load(u);
    zg_written w;
    zg_error err = {0};
    CHECK_INT(update(&cl.lease, NULL, FIELDS1("late", "1"), cas_of(killed), &w), ZG_ESTALE);
    CHECK_INT(settle_with(S, &cl.lease, finish()), ZG_ESTALE);
    CHECK_INT(S->ops->touch(S, &cl.lease, &err), ZG_ESTALE);
    char *doc = load(u);
    CHECK_SAME_TEXT(doc, killed);
    free(doc);
    free(killed);
    CHECK_INT(counts_of(Q("kill_running")).running, 0);
    zg_claim_clear(&cl);
}

static void settling_a_finished_job_from_outside_is_invalid(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("kill_finished"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("kill_finished"), &cl);
    CHECK_INT(settle_with(S, &cl.lease, finish()), ZG_OK);
    char *before = load(u);
    CHECK_INT(outside(u, 0, finish()), ZG_EINVAL);
    char *after = load(u);
    CHECK_SAME_TEXT(after, before);
    free(before);
    free(after);
    zg_claim_clear(&cl);
}

static void settling_from_outside_with_a_token_not_current_is_refused(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("outside_token"), 0, 0, 1000, u);
    CHECK_INT(outside(u, 1, release(0)), ZG_ESTALE); /* not running: no lease is current */
    zg_claim cl;
    claim_now(Q("outside_token"), &cl);
    CHECK_INT(outside(u, cl.lease.token + 1, release(0)), ZG_ESTALE);
    CHECK_INT(state_of(u).state, ZG_STATE_RUNNING);
    CHECK_INT(outside(u, cl.lease.token, release(0)), ZG_OK);
    CHECK_INT(state_of(u).state, ZG_STATE_WAITING);
    zg_claim_clear(&cl);
}

static void an_outside_release_with_prior_died_is_reported_by_the_next_claim(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("died"), 0, 0, 1000, u);
    zg_claim cl, next, after;
    claim_now(Q("died"), &cl);
    zg_settle st = release(0);
    st.prior = ZG_PRIOR_DIED;
    CHECK_INT(outside(u, cl.lease.token, st), ZG_OK);
    zg_job_state js = state_of(u);
    CHECK_INT(js.state, ZG_STATE_WAITING);
    CHECK_INT(js.releases, 1);
    claim_now(Q("died"), &next);
    CHECK_INT(next.prior, ZG_PRIOR_DIED);
    CHECK_INT(settle_with(S, &next.lease, release(0)), ZG_OK);
    claim_now(Q("died"), &after);
    CHECK_INT(after.prior, ZG_PRIOR_CLEAN);
    zg_claim_clear(&cl);
    zg_claim_clear(&next);
    zg_claim_clear(&after);
}

static void a_job_found_running_is_claimed_as_died(void)
{
    char u[ZG_UUID_LEN];
    submit_to(S, Q("found_running"), "T", FIELDS1("running", "true"), 0, 0, 1000, u);
    zg_claim cl;
    claim_now(Q("found_running"), &cl);
    CHECK_INT(cl.prior, ZG_PRIOR_DIED);
    zg_claim_clear(&cl);
}

/* ---- settle and claim the next in one step; unclaim ---- */

static int settle_claim(const zg_lease *lease, zg_settle st, const char *queue, zg_claim *next)
{
    const char *queues[] = {queue}, *types[] = {TYPE};
    zg_claim_req req = {queues, 1, types, 1, NULL, 0};
    int64_t cas = 0;
    zg_error err = {0};
    return S->ops->settle_claim(S, lease, &st, "spec", 0, &cas, &req, 0, next, &err);
}

static void settle_claim_settles_and_claims_the_next_job_in_one_step(void)
{
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN];
    const char *q = Q("settle_claim");
    submit(q, 0, 0, 1000, a);
    submit(q, 0, 0, 1000, b);
    zg_claim first, next, none;
    claim_now(q, &first);
    CHECK_STR(first.lease.uuid, a);
    CHECK_INT(settle_claim(&first.lease, finish(), q, &next), ZG_OK);
    CHECK_INT(state_of(a).state, ZG_STATE_FINISHED);
    CHECK_STR(next.lease.uuid, b); /* the next job, claimed as a claim would */
    CHECK(next.lease.token != 0);
    CHECK(next.doc && strstr(next.doc, "\"running\":true"));
    CHECK_INT(state_of(b).state, ZG_STATE_RUNNING);
    /* with nothing left to claim, the settle alone */
    CHECK_INT(settle_claim(&next.lease, finish(), q, &none), ZG_OK);
    CHECK_INT(state_of(b).state, ZG_STATE_FINISHED);
    CHECK(none.lease.token == 0 && none.doc == NULL);
    zg_claim_clear(&first);
    zg_claim_clear(&next);
}

static void settle_claim_with_a_stale_lease_settles_nothing_and_claims_nothing(void)
{
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN];
    const char *q = Q("settle_claim_stale");
    submit(q, 0, 0, 1000, a);
    zg_claim first, next;
    claim_now(q, &first);
    zg_lease stale = first.lease;
    stale.token += 1000;
    submit(q, 0, 0, 1000, b);
    CHECK_INT(settle_claim(&stale, finish(), q, &next), ZG_ESTALE);
    CHECK(next.lease.token == 0);
    CHECK_INT(state_of(a).state, ZG_STATE_RUNNING);
    CHECK_INT(state_of(b).state, ZG_STATE_WAITING);
    zg_claim_clear(&first);
}

static void unclaim_puts_a_job_back_as_it_was_before_the_claim(void)
{
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN];
    const char *q = Q("unclaim");
    submit(q, 0, 0, 1000, a);
    submit(q, 5, 0, 1000, b);
    zg_claim first, held, again;
    claim_now(q, &first);
    CHECK_INT(settle_claim(&first.lease, finish(), q, &held), ZG_OK);
    CHECK_STR(held.lease.uuid, b);
    int64_t cas_held = cas_of(held.doc);
    zg_error err = {0};
    CHECK_INT(S->ops->unclaim(S, &held.lease, &err), ZG_OK);
    zg_job_state js = state_of(b);
    CHECK_INT(js.state, ZG_STATE_WAITING);
    CHECK_INT(js.reserves, 0); /* the reserve is taken back */
    CHECK_INT(js.releases, 0); /* and no release counted */
    char *doc = load(b);
    CHECK(doc && strstr(doc, "\"running\":false"));
    CHECK(cas_of(doc) == cas_held + 1);
    free(doc);
    /* the lease it held is gone: its writes are refused; a new claim gets a new lease */
    CHECK_INT(S->ops->touch(S, &held.lease, &err), ZG_ESTALE);
    CHECK_INT(S->ops->unclaim(S, &held.lease, &err), ZG_ESTALE);
    claim_now(q, &again);
    CHECK_STR(again.lease.uuid, b);
    CHECK(again.lease.token != held.lease.token);
    CHECK_INT(again.prior, ZG_PRIOR_CLEAN); /* nothing ran: not a died or lapsed run */
    zg_claim_clear(&first);
    zg_claim_clear(&held);
    zg_claim_clear(&again);
}

static void unclaim_keeps_the_prior_runs_outcome_for_the_next_claim(void)
{
    char u[ZG_UUID_LEN];
    const char *q = Q("unclaim_prior");
    submit(q, 0, 0, 1000, u);
    zg_claim cl, held, next;
    claim_now(q, &cl);
    zg_settle st = release(0);
    st.prior = ZG_PRIOR_DIED; /* a supervisor's release of a dead worker's run */
    CHECK_INT(outside(u, cl.lease.token, st), ZG_OK);
    claim_now(q, &held);
    CHECK_INT(held.prior, ZG_PRIOR_DIED);
    zg_error err = {0};
    CHECK_INT(S->ops->unclaim(S, &held.lease, &err), ZG_OK);
    claim_now(q, &next);
    CHECK_INT(next.prior, ZG_PRIOR_DIED); /* still to be recorded by the run that starts */
    zg_claim_clear(&cl);
    zg_claim_clear(&held);
    zg_claim_clear(&next);
}

/* ---- job state and counts ---- */

static void job_state_reports_each_state(void)
{
    char waiting[ZG_UUID_LEN], delayed[ZG_UUID_LEN], running[ZG_UUID_LEN];
    submit(Q("states"), 0, 60000, 1000, delayed);
    submit(Q("states"), 0, 0, 1000, running);
    submit(Q("states"), 5, 0, 1000, waiting);
    zg_claim cl;
    claim_now(Q("states"), &cl);
    CHECK_STR(cl.lease.uuid, running);
    zg_job_state js = state_of(waiting);
    CHECK_INT(js.state, ZG_STATE_WAITING);
    CHECK_INT(js.time_left_ms, 0);
    CHECK_INT(js.id, 3);
    js = state_of(delayed);
    CHECK_INT(js.state, ZG_STATE_DELAYED);
    CHECK(js.time_left_ms > 50000 && js.time_left_ms <= 60000);
    js = state_of(running);
    CHECK_INT(js.state, ZG_STATE_RUNNING);
    CHECK(js.time_left_ms > 0 && js.time_left_ms <= 1000);
    CHECK_INT(js.lease, cl.lease.token);
    CHECK_INT(settle_with(S, &cl.lease, bury("x")), ZG_OK);
    js = state_of(running);
    CHECK_INT(js.state, ZG_STATE_BURIED);
    CHECK_INT(js.lease, 0);
    CHECK_INT(js.time_left_ms, 0);
    CHECK_INT(outside(running, 0, finish()), ZG_OK);
    js = state_of(running);
    CHECK_INT(js.state, ZG_STATE_FINISHED);
    CHECK_INT(js.reserves, 1);
    zg_claim_clear(&cl);
}

static void counts_of_a_queue_add_up_its_jobs_by_state(void)
{
    char u[5][ZG_UUID_LEN];
    submit(Q("counts"), 0, 0, 1000, u[0]);
    submit(Q("counts"), 1, 0, 1000, u[1]);
    submit(Q("counts"), 2, 0, 1000, u[2]);
    submit(Q("counts"), 0, 60000, 1000, u[3]);
    bury_from_outside(Q("counts"), "x", u[4]);
    zg_claim cl;
    claim_now(Q("counts"), &cl);
    zg_store_counts c = counts_of(Q("counts"));
    CHECK_INT(c.waiting, 2);
    CHECK_INT(c.delayed, 1);
    CHECK_INT(c.running, 1);
    CHECK_INT(c.buried, 1);
    c = counts_of(Q("no_such_queue"));
    CHECK_INT(c.waiting + c.delayed + c.running + c.buried + c.unclaimed, 0);
    zg_claim_clear(&cl);
}

static void counts_report_waiting_jobs_of_types_nobody_asks_for_as_unclaimed(void)
{
    char u[3][ZG_UUID_LEN];
    submit_to(S, Q("unclaimed"), "Nobody", FIELDS0, 0, 0, 1000, u[0]);
    submit_to(S, Q("unclaimed"), "T", FIELDS0, 0, 0, 1000, u[1]);
    submit_to(S, Q("unclaimed"), "T", FIELDS0, 0, 0, 1000, u[2]);
    CHECK_INT(counts_of(Q("unclaimed")).unclaimed, 3); /* nobody asked yet */
    zg_claim cl;
    claim_now(Q("unclaimed"), &cl);
    zg_store_counts c = counts_of(Q("unclaimed"));
    CHECK_INT(c.waiting, 2);
    CHECK_INT(c.unclaimed, 1);
    zg_claim_clear(&cl);
}

/* ---- no fixed caps ---- */

static void submit_and_update_take_200_fields(void)
{
    enum { N = 200 };
    char names[2 * N][8], values[2 * N][16];
    const char *np[2 * N], *vp[2 * N];
    for (int i = 0; i < 2 * N; i++) {
        snprintf(names[i], sizeof names[i], "%c%03d", i < N ? 'f' : 'g', i % N);
        snprintf(values[i], sizeof values[i], "%d", i);
        np[i] = names[i];
        vp[i] = values[i];
    }
    char u[ZG_UUID_LEN];
    submit_to(S, Q("fields"), "T", (zg_fields){N, np, vp}, 0, 0, 1000, u);
    zg_written w;
    CHECK_INT(update(NULL, u, (zg_fields){N, np + N, vp + N}, 1, &w), ZG_OK);
    CHECK_INT(w.cas, 2);
    char *doc = load(u);
    size_t cap = 2 * N * 24 + 256;
    char *want = malloc(cap);
    size_t len = (size_t)snprintf(want, cap, "{\"cas\":2");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(want + len, cap - len, ",\"%s\":%s", np[i], vp[i]);
    len += (size_t)snprintf(want + len, cap - len, ",\"queueJobId\":1");
    for (int i = N; i < 2 * N; i++)
        len += (size_t)snprintf(want + len, cap - len, ",\"%s\":%s", np[i], vp[i]);
    snprintf(want + len, cap - len, ",\"events\":[],\"warnings\":[],\"errors\":[]}");
    CHECK_STR(doc, want);
    free(want);
    free(doc);
}

static void a_1_mib_field_value_round_trips(void)
{
    size_t n = (size_t)1024 * 1024;
    char *big = malloc(n + 3);
    big[0] = '"';
    for (size_t i = 1; i <= n; i++)
        big[i] = (char)('a' + i % 26);
    big[n + 1] = '"';
    big[n + 2] = '\0';
    char u[ZG_UUID_LEN];
    submit_to(S, Q("big"), "T", FIELDS1("big", big), 0, 0, 1000, u);
    char *doc = load(u);
    CHECK(doc && strlen(doc) > n);
    CHECK(doc && strstr(doc, big) != NULL);
    free(doc);
    big[1] = 'Z'; /* and through an update and a claim */
    zg_written w;
    CHECK_INT(update(NULL, u, FIELDS1("big", big), 1, &w), ZG_OK);
    zg_claim cl;
    claim_now(Q("big"), &cl);
    CHECK(cl.doc && strstr(cl.doc, big) != NULL);
    zg_claim_clear(&cl);
    free(big);
}

static int many_jobs = 2000;

static void many_jobs_keep_their_order(void)
{
    char u[ZG_UUID_LEN];
    for (int i = 0; i < many_jobs; i++)
        submit(Q("many"), i % 7, 0, 10000, u);
    int64_t last_pri = -1, last_id = 0, n = 0;
    zg_claim cl;
    while (claim(Q("many"), 0, &cl) == ZG_OK) {
        CHECK(cl.priority > last_pri || (cl.priority == last_pri && cl.id > last_id));
        last_pri = cl.priority;
        last_id = cl.id;
        n++;
        CHECK_INT(settle_with(S, &cl.lease, finish()), ZG_OK);
        zg_claim_clear(&cl);
    }
    CHECK_INT(n, many_jobs);
}

/* ---- concurrency ---- */

enum { CLAIMERS = 4, SHARED_JOBS = 400 };

typedef struct claimer_shared {
    pthread_mutex_t lock;
    const char *queue;
    int settled[SHARED_JOBS + 1]; /* by queueJobId */
    int failures, reclaims;
} claimer_shared;

static void *claim_and_settle(void *p)
{
    claimer_shared *sh = p;
    zg_store *peer = open_peer();
    if (!peer) {
        pthread_mutex_lock(&sh->lock);
        sh->failures++;
        pthread_mutex_unlock(&sh->lock);
        return NULL;
    }
    for (;;) {
        zg_claim cl;
        int rc = claim_from(peer, sh->queue, "T", 300, &cl);
        if (rc == ZG_ETIMEDOUT) break;
        int settled = rc == ZG_OK && settle_with(peer, &cl.lease, finish()) == ZG_OK;
        pthread_mutex_lock(&sh->lock);
        if (!settled) sh->failures++;
        if (settled && cl.id >= 1 && cl.id <= SHARED_JOBS) sh->settled[cl.id]++;
        if (rc == ZG_OK && cl.reserves != 1) sh->reclaims++;
        pthread_mutex_unlock(&sh->lock);
        if (rc != ZG_OK) break;
        zg_claim_clear(&cl);
    }
    close_peer(peer);
    return NULL;
}

static void concurrent_claimers_settle_each_job_exactly_once(void)
{
    static claimer_shared sh;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.lock, NULL);
    sh.queue = Q("threads");
    char u[ZG_UUID_LEN];
    for (int i = 0; i < SHARED_JOBS; i++)
        submit(sh.queue, 0, 0, 10000, u);
    pthread_t t[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++)
        pthread_create(&t[i], NULL, claim_and_settle, &sh);
    for (int i = 0; i < CLAIMERS; i++)
        pthread_join(t[i], NULL);
    int once = 0;
    for (int id = 1; id <= SHARED_JOBS; id++)
        once += sh.settled[id] == 1;
    CHECK_INT(once, SHARED_JOBS);
    CHECK_INT(sh.failures, 0);
    CHECK_INT(sh.reclaims, 0);
    zg_store_counts c = counts_of(sh.queue);
    CHECK_INT(c.waiting + c.running, 0);
    pthread_mutex_destroy(&sh.lock);
}

/* ---- the rest of the interface ---- */

static void ping_answers(void)
{
    zg_error err = {0};
    CHECK_INT(S->ops->ping(S, &err), ZG_OK);
}

static void follow_needs_a_redis_store_and_publish_goes_nowhere(void)
{
    zg_error err = {0};
    CHECK_INT(S->ops->publish(S, "zerog:events", "{}", &err), ZG_OK);
    atomic_int stop = 1;
    CHECK_INT(S->ops->follow(S, "zerog:events", NULL, NULL, &stop, &err), ZG_EINVAL);
    CHECK(strstr(err.msg, "Redis") != NULL);
}

static void two_mem_stores_do_not_share_jobs(void)
{
    char u[ZG_UUID_LEN];
    submit(Q("isolation"), 0, 0, 1000, u);
    zg_store *other = zg_store_mem_new();
    char *json = NULL;
    zg_error err = {0};
    CHECK_INT(other->ops->load(other, u, &json, NULL, &err), ZG_ENOTFOUND);
    zg_claim cl;
    CHECK_INT(claim_from(other, Q("isolation"), "T", 0, &cl), ZG_ETIMEDOUT);
    other->ops->close(other);
}

/* ---- running ---- */

/* ---- the index (finding jobs by state, type and time) ---- */

/* Every row of a queue's index (all states, types), newest first, paged through by cursor. */
typedef struct listing {
    char uuid[200][ZG_UUID_LEN];
    int state[200];
    size_t n;
} listing;

static void list_all(const char *queue, unsigned states, const char *type, listing *out)
{
    memset(out, 0, sizeof *out);
    char cursor[ZG_IX_KEY_LEN] = "";
    for (;;) {
        zg_index_req req = {queue, states ? states : 0x3f, type, cursor[0] ? cursor : NULL, 0, 7};
        zg_index_row *rows = NULL;
        size_t n = 0;
        zg_error err = {0};
        int rc = S->ops->list(S, &req, &rows, &n, &err);
        if (rc != ZG_OK) printf("# list: %s\n", err.msg);
        CHECK_INT(rc, ZG_OK);
        for (size_t i = 0; i < n && out->n < 200; i++) {
            if (cursor[0]) CHECK(strcmp(rows[i].key, cursor) < 0); /* newest first, no repeats */
            snprintf(out->uuid[out->n], ZG_UUID_LEN, "%s", rows[i].key + 16);
            out->state[out->n++] = rows[i].state;
            snprintf(cursor, sizeof cursor, "%s", rows[i].key);
        }
        zg_index_rows_free(rows, n);
        if (n < 7) break;
    }
}

/* The state the index lists job u under (-1: not listed; -2: listed twice). */
static int listed_state(const listing *l, const char *u)
{
    int state = -1;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->uuid[i], u) == 0) state = state == -1 ? l->state[i] : -2;
    return state;
}

/* The index state a job must be listed under, from its queue state and its document. */
static int expected_state(const char *u)
{
    zg_job_state js = state_of(u);
    switch (js.state) {
    case ZG_STATE_WAITING:
        return ZG_JOBS_WAITING;
    case ZG_STATE_DELAYED:
        return ZG_JOBS_DELAYED;
    case ZG_STATE_RUNNING:
        return ZG_JOBS_RUNNING;
    case ZG_STATE_BURIED:
        return ZG_JOBS_BURIED;
    case ZG_STATE_FINISHED: {
        char *doc = load(u);
        int ok = doc && strstr(doc, "\"resultCode\":200");
        free(doc);
        return ok ? ZG_JOBS_SUCCEEDED : ZG_JOBS_FAILED;
    }
    default:
        return -1; /* gone */
    }
}

static zg_settle finish_with(const char *code)
{
    static const char *const names[] = {"resultCode"};
    static const char *values[1];
    values[0] = code;
    return (zg_settle){.action = ZG_SETTLE_FINISH,
                       .fields = {1, names, values},
                       .failed = strcmp(code, "200") != 0};
}

static void the_index_lists_a_job_under_its_state_through_every_transition(void)
{
    const char *q = Q("ix_states");
    char u[ZG_UUID_LEN], d[ZG_UUID_LEN];
    listing l;
    submit(q, 0, 0, 1000, u);
    submit(q, 0, 60000, 1000, d);
    list_all(q, 0, NULL, &l);
    CHECK_INT(l.n, 2);
    CHECK_INT(listed_state(&l, u), ZG_JOBS_WAITING);
    CHECK_INT(listed_state(&l, d), ZG_JOBS_DELAYED);
    zg_claim cl;
    claim_now(q, &cl);
    list_all(q, 1u << ZG_JOBS_RUNNING, NULL, &l);
    CHECK_INT(l.n, 1);
    CHECK_INT(listed_state(&l, u), ZG_JOBS_RUNNING);
    CHECK_INT(settle_with(S, &cl.lease, release(60000)), ZG_OK);
    list_all(q, 0, NULL, &l);
    CHECK_INT(listed_state(&l, u), ZG_JOBS_DELAYED);
    int64_t kicked = 0;
    zg_error err = {0};
    CHECK_INT(S->ops->kick(S, q, 0, &kicked, &err), ZG_OK);
    list_all(q, 0, NULL, &l);
    CHECK_INT(listed_state(&l, u), ZG_JOBS_WAITING);
    CHECK_INT(listed_state(&l, d), ZG_JOBS_WAITING);
    zg_claim_clear(&cl);
    claim_now(q, &cl);
    CHECK_INT(settle_with(S, &cl.lease, bury("no script")), ZG_OK);
    list_all(q, 0, NULL, &l);
    CHECK_INT(listed_state(&l, cl.lease.uuid), ZG_JOBS_BURIED);
    zg_claim_clear(&cl);
    claim_now(q, &cl);
    CHECK_INT(S->ops->unclaim(S, &cl.lease, &err), ZG_OK);
    list_all(q, 0, NULL, &l);
    CHECK_INT(listed_state(&l, cl.lease.uuid), ZG_JOBS_WAITING);
    zg_claim_clear(&cl);
    claim_now(q, &cl);
    CHECK_INT(settle_with(S, &cl.lease, finish_with("200")), ZG_OK);
    list_all(q, 0, NULL, &l);
    CHECK_INT(listed_state(&l, cl.lease.uuid), ZG_JOBS_SUCCEEDED);
    CHECK_INT(l.n, 2);
    /* the buried one kicked and failed; a kill lists as failed */
    CHECK_INT(S->ops->kick(S, q, 0, &kicked, &err), ZG_OK);
    zg_claim_clear(&cl);
    claim_now(q, &cl);
    CHECK_INT(settle_with(S, &cl.lease, finish_with("500")), ZG_OK);
    list_all(q, 1u << ZG_JOBS_FAILED, NULL, &l);
    CHECK_INT(l.n, 1);
    CHECK_INT(listed_state(&l, cl.lease.uuid), ZG_JOBS_FAILED);
    zg_claim_clear(&cl);
    char k[ZG_UUID_LEN];
    submit(q, 0, 0, 1000, k);
    zg_settle kill = finish_with("410");
    CHECK_INT(outside(k, 0, kill), ZG_OK);
    list_all(q, 1u << ZG_JOBS_FAILED, NULL, &l);
    CHECK_INT(l.n, 2);
    CHECK_INT(listed_state(&l, k), ZG_JOBS_FAILED);
}

static void a_lapsed_lease_lists_the_job_as_waiting_again(void)
{
    const char *q = Q("ix_lapse");
    char u[ZG_UUID_LEN];
    submit(q, 0, 0, 100, u);
    zg_claim cl;
    claim_now(q, &cl);
    zg_claim_clear(&cl);
    listing l;
    int64_t until = zg_clock_monotonic_ms() + 3000;
    do { /* the lease lapses after its 100 ms TTR: the next step of the queue applies it */
        zg_clock_sleep_ms(20);
        list_all(q, 0, NULL, &l);
    } while (listed_state(&l, u) != ZG_JOBS_WAITING && zg_clock_monotonic_ms() < until);
    CHECK_INT(listed_state(&l, u), ZG_JOBS_WAITING);
}

static void the_index_filters_by_type_and_time_and_carries_the_summary_fields(void)
{
    const char *q = Q("ix_filter");
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN];
    submit_to(S, q, "A",
              FIELDS2("createdAt", "\"2026-01-01T00:00:00.000Z\"", "completeness", "0.5"), 0, 0,
              1000, a);
    submit_to(S, q, "B", FIELDS0, 0, 0, 1000, b);
    listing l;
    list_all(q, 0, "A", &l);
    CHECK_INT(l.n, 1);
    CHECK_INT(listed_state(&l, a), ZG_JOBS_WAITING);
    zg_index_req req = {q, 0x3f, "A", NULL, 0, 10};
    zg_index_row *rows = NULL;
    size_t n = 0;
    zg_error err = {0};
    CHECK_INT(S->ops->list(S, &req, &rows, &n, &err), ZG_OK);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(rows[0].job_type, "A");
        CHECK_STR(rows[0].values[ZG_ROW_COMPLETENESS], "0.5");
        CHECK_STR(rows[0].values[ZG_ROW_CREATED], "\"2026-01-01T00:00:00.000Z\"");
        CHECK(rows[0].values[ZG_ROW_RESULT] == NULL);
        CHECK(rows[0].last_error == NULL);
    }
    zg_index_rows_free(rows, n);
    /* since: a bound after both entered their state lists nothing */
    req = (zg_index_req){q, 0x3f, NULL, NULL, zg_clock_wall_ms() + 60000, 10};
    CHECK_INT(S->ops->list(S, &req, &rows, &n, &err), ZG_OK);
    CHECK_INT(n, 0);
    zg_index_rows_free(rows, n);
    req.since_ms = zg_clock_wall_ms() - 60000;
    CHECK_INT(S->ops->list(S, &req, &rows, &n, &err), ZG_OK);
    CHECK_INT(n, 2);
    zg_index_rows_free(rows, n);
    /* the last error's entry comes with a failed job */
    zg_claim cl;
    CHECK_INT(claim_from(S, q, "B", 0, &cl), ZG_OK);
    zg_settle st = finish_with("500");
    st.error = "{\"msg\":\"boom\",\"errorCode\":500}";
    CHECK_INT(settle_with(S, &cl.lease, st), ZG_OK);
    zg_claim_clear(&cl);
    req = (zg_index_req){q, 1u << ZG_JOBS_FAILED, NULL, NULL, 0, 10};
    CHECK_INT(S->ops->list(S, &req, &rows, &n, &err), ZG_OK);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(rows[0].last_error, "{\"msg\":\"boom\",\"errorCode\":500}");
        CHECK_STR(rows[0].values[ZG_ROW_RESULT], "500");
        CHECK_STR(rows[0].values[ZG_ROW_ERRORS], "1");
    }
    zg_index_rows_free(rows, n);
}

static void paging_lists_every_job_once_while_others_are_submitted(void)
{
    const char *q = Q("ix_paging");
    enum { N = 60 };
    char u[N][ZG_UUID_LEN], extra[ZG_UUID_LEN];
    for (int i = 0; i < N; i++)
        submit(q, 0, 0, 1000, u[i]);
    int seen[N] = {0};
    char cursor[ZG_IX_KEY_LEN] = "";
    int pages = 0, others = 0;
    for (;;) {
        zg_index_req req = {q, 0x3f, NULL, cursor[0] ? cursor : NULL, 0, 8};
        zg_index_row *rows = NULL;
        size_t n = 0;
        zg_error err = {0};
        CHECK_INT(S->ops->list(S, &req, &rows, &n, &err), ZG_OK);
        for (size_t i = 0; i < n; i++) {
            int found = 0;
            for (int k = 0; k < N; k++)
                if (strcmp(rows[i].key + 16, u[k]) == 0) seen[k]++, found = 1;
            others += !found;
            snprintf(cursor, sizeof cursor, "%s", rows[i].key);
        }
        zg_index_rows_free(rows, n);
        submit(q, 0, 0, 1000, extra); /* newer than every cursor: never on a later page */
        pages++;
        if (n < 8 || pages > 50) break;
    }
    for (int k = 0; k < N; k++)
        CHECK_INT(seen[k], 1);
    CHECK_INT(others, 0);
}

static void retry_puts_a_failed_job_back_to_waiting_and_nothing_else(void)
{
    const char *q = Q("ix_retry");
    char u[ZG_UUID_LEN], ok[ZG_UUID_LEN];
    submit(q, 0, 0, 1000, u);
    zg_claim cl;
    claim_now(q, &cl);
    zg_settle st = finish_with("500");
    st.error = "{\"msg\":\"boom\"}";
    st.retention_s = 1;
    CHECK_INT(settle_with(S, &cl.lease, st), ZG_OK);
    zg_claim_clear(&cl);
    zg_error err = {0};
    const char *names[] = {"resultCode"}, *values[] = {"-1"};
    zg_fields f = {1, names, values};
    CHECK_INT(S->ops->retry(S, u, f, "{\"msg\":\"Retried by hand\"}", "spec", 0, &err), ZG_OK);
    CHECK_INT(S->ops->retry(S, u, f, "{}", "spec", 0, &err), ZG_EINVAL); /* waiting now */
    listing l;
    list_all(q, 0, NULL, &l);
    CHECK_INT(l.n, 1);
    CHECK_INT(listed_state(&l, u), ZG_JOBS_WAITING);
    char *doc = load(u);
    CHECK(doc && strstr(doc, "\"errorCount\":1") && strstr(doc, "\"resultCode\":-1") &&
          strstr(doc, "Retried by hand") && strstr(doc, "\"running\":false"));
    free(doc);
    claim_now(q, &cl);
    CHECK_STR(cl.lease.uuid, u);
    CHECK_INT(cl.prior, ZG_PRIOR_CLEAN);
    CHECK_INT(settle_with(S, &cl.lease, finish_with("200")), ZG_OK);
    zg_claim_clear(&cl);
    CHECK_INT(S->ops->retry(S, u, f, "{}", "spec", 0, &err), ZG_EINVAL); /* succeeded */
    CHECK_INT(S->ops->retry(S, "00000000-0000-4000-8000-000000000000", f, "{}", "spec", 0, &err),
              ZG_ENOTFOUND);
    /* its retention was lifted: the earlier 1 s does not delete it */
    submit(q, 0, 0, 1000, ok);
    zg_clock_sleep_ms(1200); /* past the first retention (what is tested is that it is gone) */
    list_all(q, 0, NULL, &l);
    CHECK_INT(listed_state(&l, u), ZG_JOBS_SUCCEEDED);
    doc = load(u);
    CHECK(doc != NULL);
    free(doc);
}

static void remove_deletes_a_job_in_any_state_and_its_run_loses_its_lease(void)
{
    const char *q = Q("ix_remove");
    char w[ZG_UUID_LEN], r[ZG_UUID_LEN], d[ZG_UUID_LEN];
    submit(q, 0, 0, 1000, r);
    zg_claim cl;
    claim_now(q, &cl);
    submit(q, 0, 0, 1000, w);
    submit(q, 0, 60000, 1000, d);
    zg_error err = {0};
    CHECK_INT(S->ops->remove(S, w, &err), ZG_OK);
    CHECK_INT(S->ops->remove(S, d, &err), ZG_OK);
    CHECK_INT(S->ops->remove(S, r, &err), ZG_OK);
    CHECK_INT(S->ops->remove(S, r, &err), ZG_ENOTFOUND);
    CHECK(load(w) == NULL && load(d) == NULL && load(r) == NULL);
    int rc = settle_with(S, &cl.lease, finish_with("200"));
    CHECK(rc == ZG_ESTALE || rc == ZG_ENOTFOUND);
    zg_claim_clear(&cl);
    listing l;
    list_all(q, 0, NULL, &l);
    CHECK_INT(l.n, 0);
    zg_store_counts c = counts_of(q);
    CHECK_INT(c.waiting + c.delayed + c.running + c.buried, 0);
    CHECK_INT(claim(q, 0, &cl), ZG_ETIMEDOUT);
}

static void purge_deletes_finished_jobs_by_state_type_and_age_in_bounded_steps(void)
{
    const char *q = Q("ix_purge");
    enum { N = 9 };
    char u[N][ZG_UUID_LEN], live[ZG_UUID_LEN];
    for (int i = 0; i < N; i++) {
        submit_to(S, q, i < 6 ? "A" : "B", FIELDS0, 0, 0, 1000, u[i]);
        zg_claim cl;
        CHECK_INT(claim_from(S, q, i < 6 ? "A" : "B", 0, &cl), ZG_OK);
        CHECK_INT(settle_with(S, &cl.lease, finish_with(i % 2 ? "500" : "200")), ZG_OK);
        zg_claim_clear(&cl);
    }
    submit(q, 0, 0, 1000, live);
    zg_error err = {0};
    int64_t deleted = -1;
    /* nothing finished an hour ago */
    CHECK_INT(S->ops->purge(S, q, 1u << ZG_JOBS_SUCCEEDED, NULL, 3600000, 100, &deleted, &err),
              ZG_OK);
    CHECK_INT(deleted, 0);
    CHECK_INT(S->ops->purge(S, q, 1u << ZG_JOBS_WAITING, NULL, 0, 100, &deleted, &err), ZG_EINVAL);
    /* A's failed ones: u[1], u[3], u[5], two per step */
    CHECK_INT(S->ops->purge(S, q, 1u << ZG_JOBS_FAILED, "A", 0, 2, &deleted, &err), ZG_OK);
    CHECK_INT(deleted, 2);
    CHECK_INT(S->ops->purge(S, q, 1u << ZG_JOBS_FAILED, "A", 0, 2, &deleted, &err), ZG_OK);
    CHECK_INT(deleted, 1);
    CHECK(load(u[1]) == NULL && load(u[3]) == NULL && load(u[5]) == NULL);
    char *doc = load(u[7]);
    CHECK(doc != NULL); /* B's */
    free(doc);
    /* every finished one of every type */
    CHECK_INT(S->ops->purge(S, q, (1u << ZG_JOBS_SUCCEEDED) | (1u << ZG_JOBS_FAILED), NULL, 0, 100,
                            &deleted, &err),
              ZG_OK);
    CHECK_INT(deleted, N - 3);
    listing l;
    list_all(q, 0, NULL, &l);
    CHECK_INT(l.n, 1);
    CHECK_INT(listed_state(&l, live), ZG_JOBS_WAITING);
    doc = load(live);
    CHECK(doc != NULL);
    free(doc);
}

static void a_finished_jobs_index_entry_leaves_with_its_retention(void)
{
    const char *q = Q("ix_expiry");
    char u[ZG_UUID_LEN];
    submit(q, 0, 0, 1000, u);
    zg_claim cl;
    claim_now(q, &cl);
    zg_settle st = finish_with("200");
    st.retention_s = 1;
    CHECK_INT(settle_with(S, &cl.lease, st), ZG_OK);
    zg_claim_clear(&cl);
    listing l;
    list_all(q, 0, NULL, &l);
    CHECK_INT(listed_state(&l, u), ZG_JOBS_SUCCEEDED);
    int64_t until = zg_clock_monotonic_ms() + 4000;
    do {
        zg_clock_sleep_ms(50);
        list_all(q, 0, NULL, &l);
    } while (l.n && zg_clock_monotonic_ms() < until);
    CHECK_INT(l.n, 0);
    CHECK(load(u) == NULL);
}

static void type_counts_and_known_queues_come_from_the_index(void)
{
    const char *q = Q("ix_counts");
    char u[ZG_UUID_LEN];
    submit_to(S, q, "A", FIELDS0, 0, 0, 1000, u);
    submit_to(S, q, "A", FIELDS0, 0, 60000, 1000, u);
    submit_to(S, q, "B", FIELDS0, 0, 0, 1000, u);
    zg_claim cl;
    CHECK_INT(claim_from(S, q, "B", 0, &cl), ZG_OK);
    CHECK_INT(settle_with(S, &cl.lease, finish_with("500")), ZG_OK);
    zg_claim_clear(&cl);
    zg_type_counts *rows = NULL;
    size_t n = 0;
    zg_error err = {0};
    CHECK_INT(S->ops->type_counts(S, q, &rows, &n, &err), ZG_OK);
    CHECK_INT(n, 2);
    for (size_t i = 0; i < n; i++) {
        CHECK_STR(rows[i].queue, q);
        int a = strcmp(rows[i].job_type, "A") == 0;
        CHECK_INT(rows[i].count[ZG_JOBS_WAITING], a ? 1 : 0);
        CHECK_INT(rows[i].count[ZG_JOBS_DELAYED], a ? 1 : 0);
        CHECK_INT(rows[i].count[ZG_JOBS_FAILED], a ? 0 : 1);
    }
    free(rows);
    char **names = NULL;
    CHECK_INT(S->ops->known_queues(S, &names, &n, &err), ZG_OK);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        found += strcmp(names[i], q) == 0;
        free(names[i]);
    }
    free(names);
    CHECK_INT(found, 1);
}

/* Random transitions on a set of jobs (claims, finishes, failures, releases with and without a
 * delay, buries, kicks, kills, unclaims, retries, deletes, abandoned runs whose lease lapses),
 * then the index checked against every job's queue state and document: each job listed once,
 * under its state, and nothing else listed. */
static void the_index_agrees_with_the_documents_after_random_transitions(void)
{
    const char *q = Q("ix_random");
    enum { JOBS = 40, STEPS = 1500 };
    char u[JOBS][ZG_UUID_LEN];
    int gone[JOBS] = {0};
    unsigned seed = (unsigned)uuid_stamp;
    for (int i = 0; i < JOBS; i++)
        submit(q, i % 3, (i % 5 == 0) ? 50 : 0, 60, u[i]);
    zg_error err = {0};
    for (int step = 0; step < STEPS; step++) {
        int op = (int)(rand_r(&seed) % 10), i = (int)(rand_r(&seed) % JOBS);
        zg_claim cl;
        int64_t moved;
        switch (op) {
        case 0:
        case 1:
        case 2:
        case 3: /* a run, settled one way or another */
            if (claim(q, 0, &cl) != ZG_OK) break;
            switch (rand_r(&seed) % 7) {
            case 0:
                (void)settle_with(S, &cl.lease, finish_with("200"));
                break;
            case 1:
                (void)settle_with(S, &cl.lease, finish_with("500"));
                break;
            case 2:
                (void)settle_with(S, &cl.lease, release(0));
                break;
            case 3:
                (void)settle_with(S, &cl.lease, release(30));
                break;
            case 4:
                (void)settle_with(S, &cl.lease, bury("x"));
                break;
            case 5:
                (void)S->ops->unclaim(S, &cl.lease, &err);
                break;
            default:
                break; /* abandoned: its lease lapses after 60 ms */
            }
            zg_claim_clear(&cl);
            break;
        case 4:
            (void)S->ops->kick(S, q, 2, &moved, &err);
            break;
        case 5:
            if (!gone[i]) (void)outside(u[i], 0, finish_with("410"));
            break;
        case 6: {
            const char *names[] = {"resultCode"}, *values[] = {"-1"};
            zg_fields f = {1, names, values};
            if (!gone[i]) (void)S->ops->retry(S, u[i], f, "{}", "spec", 0, &err);
            break;
        }
        case 7:
            if (!gone[i] && rand_r(&seed) % 4 == 0)
                gone[i] = S->ops->remove(S, u[i], &err) == ZG_OK;
            break;
        default:
            if (step % 50 == 0) zg_clock_sleep_ms(40); /* delays come due, leases lapse */
            break;
        }
    }
    /* the check compares a listing with each job's state read after it: first let every
     * abandoned lease lapse and every delay come due (60 ms TTRs, 30-50 ms delays), so nothing
     * moves between the two reads however slow the machine (valgrind) */
    listing l;
    int64_t until = zg_clock_monotonic_ms() + 10000;
    do {
        zg_clock_sleep_ms(20);
        list_all(q, (1u << ZG_JOBS_RUNNING) | (1u << ZG_JOBS_DELAYED), NULL, &l);
    } while (l.n && zg_clock_monotonic_ms() < until);
    CHECK_INT(l.n, 0);
    list_all(q, 0, NULL, &l);
    size_t live = 0;
    for (int i = 0; i < JOBS; i++) {
        int want = gone[i] ? -1 : expected_state(u[i]);
        int got = listed_state(&l, u[i]);
        if (got != want) printf("# job %d: listed as %d, is %d\n", i, got, want);
        CHECK_INT(got, want);
        live += want >= 0;
    }
    CHECK_INT(l.n, live);
    /* and the per-type counts say the same */
    zg_type_counts *rows = NULL;
    size_t n = 0;
    CHECK_INT(S->ops->type_counts(S, q, &rows, &n, &err), ZG_OK);
    int64_t counted = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < ZG_JOBS_NSTATES; k++)
            counted += rows[i].count[k];
    free(rows);
    CHECK_INT(counted, (int64_t)live);
}

/* ---- unique jobs ---- */

/* Submits a job of type T with unique key k held as hold (ttl_ms): its uuid into u, and the
 * uuid of the job holding the key into existing ("" when this one was created). */
static void submit_unique_to(zg_store *s, const char *queue, const char *k, int hold,
                             int64_t ttl_ms, char u[ZG_UUID_LEN], char existing[ZG_UUID_LEN])
{
    new_uuid(u);
    zg_new_job j = {.uuid = u,
                    .job_type = TYPE,
                    .queue = queue,
                    .ttr_ms = 1000,
                    .unique_key = k,
                    .unique_ttl_ms = ttl_ms,
                    .unique_hold = hold};
    zg_error err = {0};
    int rc = s->ops->submit(s, &j, 1, "spec", &err);
    if (rc != ZG_OK) printf("# submit: %s\n", err.msg);
    CHECK_INT(rc, ZG_OK);
    snprintf(existing, ZG_UUID_LEN, "%s", j.existing);
}

static void submit_unique(const char *queue, const char *k, int hold, int64_t ttl_ms,
                          char u[ZG_UUID_LEN], char existing[ZG_UUID_LEN])
{
    submit_unique_to(S, queue, k, hold, ttl_ms, u, existing);
}

static void a_unique_key_held_while_queued_refuses_a_second_job_until_the_first_runs(void)
{
    const char *q = Q("uq_queued");
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN], c[ZG_UUID_LEN], ex[ZG_UUID_LEN];
    submit_unique(q, "k", ZG_UNIQUE_QUEUED, 0, a, ex);
    CHECK_STR(ex, "");
    submit_unique(q, "k", ZG_UNIQUE_QUEUED, 0, b, ex);
    CHECK_STR(ex, a);
    CHECK(load(b) == NULL); /* not created */
    submit_unique(q, "other", ZG_UNIQUE_QUEUED, 0, c, ex);
    CHECK_STR(ex, ""); /* another key */
    zg_store_counts n = counts_of(q);
    CHECK_INT(n.waiting, 2);
    zg_claim cl;
    claim_now(q, &cl);
    CHECK_STR(cl.lease.uuid, a);
    submit_unique(q, "k", ZG_UNIQUE_QUEUED, 0, b, ex); /* a runs: the key is free again */
    CHECK_STR(ex, "");
    zg_claim_clear(&cl);
}

static void a_unique_key_held_while_running_goes_when_the_job_finishes(void)
{
    const char *q = Q("uq_running");
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN], ex[ZG_UUID_LEN];
    submit_unique(q, "k", ZG_UNIQUE_RUNNING, 0, a, ex);
    zg_claim cl;
    claim_now(q, &cl);
    submit_unique(q, "k", ZG_UNIQUE_RUNNING, 0, b, ex);
    CHECK_STR(ex, a);
    CHECK_INT(settle_with(S, &cl.lease, release(60000)), ZG_OK); /* waits again: still held */
    submit_unique(q, "k", ZG_UNIQUE_RUNNING, 0, b, ex);
    CHECK_STR(ex, a);
    zg_claim_clear(&cl);
    CHECK_INT(outside(a, 0, finish()), ZG_OK);
    submit_unique(q, "k", ZG_UNIQUE_RUNNING, 0, b, ex);
    CHECK_STR(ex, "");
}

static void a_unique_key_held_until_done_outlives_a_success_not_a_failure(void)
{
    const char *q = Q("uq_done");
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN], c[ZG_UUID_LEN], ex[ZG_UUID_LEN];
    submit_unique(q, "k", ZG_UNIQUE_UNTIL_DONE, 0, a, ex);
    zg_claim cl;
    claim_now(q, &cl);
    CHECK_INT(settle_with(S, &cl.lease, finish()), ZG_OK); /* 200 */
    zg_claim_clear(&cl);
    submit_unique(q, "k", ZG_UNIQUE_UNTIL_DONE, 0, b, ex);
    CHECK_STR(ex, a);
    submit_unique(q, "f", ZG_UNIQUE_UNTIL_DONE, 0, b, ex);
    claim_now(q, &cl);
    zg_settle failed = finish();
    failed.failed = 1;
    CHECK_INT(settle_with(S, &cl.lease, failed), ZG_OK);
    zg_claim_clear(&cl);
    submit_unique(q, "f", ZG_UNIQUE_UNTIL_DONE, 0, c, ex);
    CHECK_STR(ex, "");
    /* a deleted holder frees its key */
    zg_error err = {0};
    CHECK_INT(S->ops->remove(S, a, &err), ZG_OK);
    submit_unique(q, "k", ZG_UNIQUE_UNTIL_DONE, 0, b, ex);
    CHECK_STR(ex, "");
}

static void a_unique_key_lapses_after_its_ttl(void)
{
    const char *q = Q("uq_ttl");
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN], ex[ZG_UUID_LEN];
    submit_unique(q, "k", ZG_UNIQUE_QUEUED, 150, a, ex);
    submit_unique(q, "k", ZG_UNIQUE_QUEUED, 150, b, ex);
    CHECK_STR(ex, a);
    int64_t until = zg_clock_monotonic_ms() + 3000;
    do { /* what is tested is the lapse itself: time has to pass */
        zg_clock_sleep_ms(50);
        submit_unique(q, "k", ZG_UNIQUE_QUEUED, 150, b, ex);
    } while (ex[0] && zg_clock_monotonic_ms() < until);
    CHECK_STR(ex, "");
    CHECK_INT(counts_of(q).waiting, 2);
}

/* The race below counts on uuids that differ across threads: a submit of a uuid that names a
 * job is a resend of it, reported as that job ("created"). */
enum { UUID_MAKERS = 8, UUIDS_EACH = 20000 };

typedef struct uuid_maker {
    pthread_barrier_t *start; /* all at once: the makers' calls overlap */
    char (*out)[ZG_UUID_LEN];
} uuid_maker;

static void *make_uuids(void *p)
{
    uuid_maker *m = p;
    char(*out)[ZG_UUID_LEN] = m->out;
    pthread_barrier_wait(m->start);
    for (int i = 0; i < UUIDS_EACH; i++)
        new_uuid(out[i]);
    return NULL;
}

static int uuid_order(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void uuids_made_by_racing_threads_are_all_distinct(void)
{
    char(*u)[ZG_UUID_LEN] = calloc((size_t)UUID_MAKERS * UUIDS_EACH, ZG_UUID_LEN);
    pthread_t t[UUID_MAKERS];
    uuid_maker m[UUID_MAKERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, UUID_MAKERS);
    for (int i = 0; i < UUID_MAKERS; i++) {
        m[i] = (uuid_maker){&start, u + (size_t)i * UUIDS_EACH};
        pthread_create(&t[i], NULL, make_uuids, &m[i]);
    }
    for (int i = 0; i < UUID_MAKERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    qsort(u, (size_t)UUID_MAKERS * UUIDS_EACH, ZG_UUID_LEN, uuid_order);
    int repeated = 0;
    for (size_t i = 1; i < (size_t)UUID_MAKERS * UUIDS_EACH; i++)
        repeated += strcmp(u[i - 1], u[i]) == 0;
    CHECK_INT(repeated, 0);
    free(u);
}

typedef struct unique_racer {
    const char *queue;
    int index, created;
} unique_racer;

static void *race_unique(void *p)
{
    unique_racer *r = p;
    zg_store *s = open_peer();
    if (!s) return NULL;
    for (int i = 0; i < 200; i++) {
        char key[16], u[ZG_UUID_LEN], ex[ZG_UUID_LEN];
        snprintf(key, sizeof key, "k%d", (i * 7 + r->index) % 20);
        submit_unique_to(s, r->queue, key, ZG_UNIQUE_QUEUED, 0, u, ex);
        r->created += ex[0] == '\0';
    }
    close_peer(s);
    return NULL;
}

static void concurrent_submits_of_20_keys_create_exactly_20_jobs(void)
{
    const char *q = Q("uq_race");
    enum { THREADS = 8 };
    pthread_t t[THREADS];
    unique_racer r[THREADS];
    for (int i = 0; i < THREADS; i++) {
        r[i] = (unique_racer){q, i, 0};
        pthread_create(&t[i], NULL, race_unique, &r[i]);
    }
    int created = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        created += r[i].created;
    }
    CHECK_INT(created, 20);
    CHECK_INT(counts_of(q).waiting, 20);
}

/* Redis: a unique key goes with the job that holds it (else a type with ttl 0 would keep one
 * key per distinct value ever submitted). */
static void a_deleted_or_expired_holders_unique_key_is_gone_from_redis(void)
{
    const char *q = Q("uq_keys");
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN], ex[ZG_UUID_LEN], key[ZG_NAME_LEN * 2];
    submit_unique(q, "gone", ZG_UNIQUE_QUEUED, 0, a, ex);
    submit_unique(q, "kept", ZG_UNIQUE_QUEUED, 0, b, ex);
    zg_error err = {0};
    zg_redis r;
    CHECK_INT(zg_redis_open(&r, redis_url, 0, &err), ZG_OK);
    snprintf(key, sizeof key, "{zq:%s}:unique:gone", q);
    const char *exists[] = {"EXISTS", key};
    redisReply *reply = zg_redis_command(&r, 2, exists, NULL, 0, &err);
    CHECK(reply && reply->integer == 1);
    if (reply) zg_redis_reply_free(reply);
    CHECK_INT(S->ops->remove(S, a, &err), ZG_OK);
    reply = zg_redis_command(&r, 2, exists, NULL, 0, &err);
    CHECK(reply && reply->integer == 0);
    if (reply) zg_redis_reply_free(reply);
    zg_redis_close(&r);
}

static void run_named(const char *name, void (*fn)(void))
{
    char full[200];
    snprintf(full, sizeof full, "%s: %s", backend, name);
    run_test(full, fn);
}

#define T(fn) run_named(#fn, fn)

/* A parent submitted on pq and claimed (its run in *parent), and a child of it submitted on cq
 * that the parent has not registered (adopt) yet. */
static void running_parent_with_an_unregistered_child(const char *pq, const char *cq,
                                                      char p[ZG_UUID_LEN], zg_claim *parent,
                                                      char c[ZG_UUID_LEN])
{
    char pv[ZG_UUID_LEN + 2], qv[ZG_NAME_LEN + 2];
    submit(pq, 1, 0, 5000, p);
    claim_now(pq, parent);
    snprintf(pv, sizeof pv, "\"%s\"", p);
    snprintf(qv, sizeof qv, "\"%s\"", pq);
    submit_to(S, cq, TYPE, FIELDS2("parentUuid", pv, "parentQueue", qv), 1, 0, 5000, c);
}

/* A child's end that reaches its parent before the parent registered the child is kept for that
 * registration (Redis: the parent's adopt was acknowledged and then lost in a failover of its
 * slot while the child ran; the parent's next run registers it again): the parent counts the
 * end, a fail_parent child's failure too, and does not wait for a child that has ended (before,
 * the end was dropped and the parent stayed parked forever). */
static void a_childs_end_before_its_registration_counts_when_it_is_registered(void)
{
    char p[ZG_UUID_LEN], early[ZG_UUID_LEN], later[ZG_UUID_LEN];
    const char *pq = Q("early_p"), *cq = Q("early_c");
    zg_claim parent, child;
    running_parent_with_an_unregistered_child(pq, cq, p, &parent, early);
    claim_now(cq, &child);
    static const char *const names[] = {"resultCode"}, *const values[] = {"500"};
    zg_settle failed = {
        .action = ZG_SETTLE_FINISH, .fields = {1, names, values}, .failed = 1, .has_parent = 1};
    CHECK_INT(settle_with(S, &child.lease, failed), ZG_OK);
    zg_error err = {0};
    int64_t delivered = 0;
    CHECK_INT(S->ops->deliver(S, cq, 0, &delivered, &err), ZG_OK);
    new_uuid(later);
    zg_child kids[] = {{early, "{\"onFailure\":\"fail_parent\"}", 1},
                       {later, "{\"onFailure\":\"ignore\"}", 0}};
    CHECK_INT(S->ops->adopt(S, &parent.lease, NULL, NULL, kids, 2, "spec", 0, &err), ZG_OK);
    char *json = NULL;
    size_t len = 0;
    CHECK_INT(S->ops->children(S, pq, p, 0, &json, &len, &err), ZG_OK);
    CHECK(json && strstr(json, "\"resultCode\":500") && strstr(json, "\"failed\":true"));
    /* each end beside its own child's info, the one not ended null */
    CHECK(json && strstr(json, "[{\"onFailure\":\"ignore\"},null]"));
    CHECK(json && strstr(json, "[{\"onFailure\":\"fail_parent\"},{"));
    CHECK(json && strlen(json) == len);
    free(json);
    /* the other child has not ended, but the fail_parent one failed: the parent runs again */
    CHECK_INT(settle_with(S, &parent.lease, (zg_settle){.action = ZG_SETTLE_PARK}), ZG_OK);
    CHECK_INT(state_of(p).state, ZG_STATE_WAITING);
    zg_claim_clear(&parent);
    zg_claim_clear(&child);
}

/* An unregistered child's ends: its first one is kept, as for a registered child (a failed child
 * retried by hand and then succeeding does not turn its parent's fail_parent into a success on
 * one store and not on the other; before, Redis kept the last early end and mem:// the first). */
static void an_early_end_is_the_childs_first_end_on_both_stores(void)
{
    char p[ZG_UUID_LEN], c[ZG_UUID_LEN];
    const char *pq = Q("first_p"), *cq = Q("first_c");
    zg_claim parent, child;
    running_parent_with_an_unregistered_child(pq, cq, p, &parent, c);
    zg_error err = {0};
    int64_t delivered = 0;
    static const char *const names[] = {"resultCode"}, *const failed_code[] = {"500"},
                             *const ok_code[] = {"200"}, *const again[] = {"-1"};
    claim_now(cq, &child);
    zg_settle failed = {.action = ZG_SETTLE_FINISH,
                        .fields = {1, names, failed_code},
                        .failed = 1,
                        .has_parent = 1};
    CHECK_INT(settle_with(S, &child.lease, failed), ZG_OK);
    zg_claim_clear(&child);
    CHECK_INT(S->ops->deliver(S, cq, 0, &delivered, &err), ZG_OK);
    CHECK_INT(S->ops->retry(S, c, (zg_fields){1, names, again}, "{}", "spec", 0, &err), ZG_OK);
    claim_now(cq, &child);
    zg_settle ok = {.action = ZG_SETTLE_FINISH, .fields = {1, names, ok_code}, .has_parent = 1};
    CHECK_INT(settle_with(S, &child.lease, ok), ZG_OK);
    zg_claim_clear(&child);
    CHECK_INT(S->ops->deliver(S, cq, 0, &delivered, &err), ZG_OK);
    zg_child kids[] = {{c, "{\"onFailure\":\"fail_parent\"}", 1}};
    CHECK_INT(S->ops->adopt(S, &parent.lease, NULL, NULL, kids, 1, "spec", 0, &err), ZG_OK);
    char *json = NULL;
    CHECK_INT(S->ops->children(S, pq, p, 0, &json, NULL, &err), ZG_OK);
    CHECK(json && strstr(json, "\"resultCode\":500") && strstr(json, "\"failed\":true"));
    CHECK(json && !strstr(json, "\"resultCode\":200"));
    free(json);
    zg_claim_clear(&parent);
}

/* A job submitted with children (a batch's callback, parked) has them registered by its submit,
 * with no adopt after it; a submit of the same uuid again (resent) registers nothing new. */
static void a_submit_with_children_registers_them_in_the_same_step(void)
{
    char p[ZG_UUID_LEN], a[ZG_UUID_LEN], b[ZG_UUID_LEN];
    new_uuid(p);
    new_uuid(a);
    new_uuid(b);
    zg_child kids[] = {{a, "{\"n\":1}", 0}, {b, "{\"n\":2}", 0}};
    const char *q = Q("withkids");
    zg_new_job j = {.uuid = p,
                    .job_type = TYPE,
                    .queue = q,
                    .delay_ms = ZG_DELAY_PARKED,
                    .kids = kids,
                    .nkids = 2};
    zg_error err = {0};
    CHECK_INT(S->ops->submit(S, &j, 1, "spec", &err), ZG_OK);
    j.nkids = 1; /* (resent with fewer: nothing changes) */
    CHECK_INT(S->ops->submit(S, &j, 1, "spec", &err), ZG_OK);
    char *json = NULL;
    CHECK_INT(S->ops->children(S, q, p, 0, &json, NULL, &err), ZG_OK);
    CHECK(json && strstr(json, "[{\"n\":1},null]") && strstr(json, "[{\"n\":2},null]"));
    free(json);
    CHECK_INT(state_of(p).state, ZG_STATE_PARKED);
}

static void run_all(void)
{
    T(submit_creates_the_document_and_the_queue_entry_together);
    T(a_childs_end_before_its_registration_counts_when_it_is_registered);
    T(an_early_end_is_the_childs_first_end_on_both_stores);
    T(a_submit_with_children_registers_them_in_the_same_step);
    T(submit_numbers_jobs_per_queue_from_1);
    T(submit_overwrites_a_given_queueJobId);
    T(resubmit_of_the_same_uuid_creates_nothing_new);
    T(names_starting_with_an_underscore_are_not_written_out);
    T(claim_takes_lowest_priority_then_oldest);
    T(claim_prefers_the_more_urgent_queue_then_the_earlier_one);
    T(claim_takes_only_the_requested_types);
    T(claim_on_an_empty_queue_times_out_within_its_timeout);
    T(a_blocked_claim_is_woken_by_a_submit_from_another_thread);
    T(a_delayed_job_is_claimable_only_after_its_delay);
    T(claim_returns_the_document_with_running_true_and_the_cas_bumped);
    T(lease_tokens_differ_between_claims_of_the_same_job);
    T(a_lapsed_lease_returns_the_job_with_a_timeout_and_prior_lapsed);
    T(a_write_after_the_ttr_is_refused_even_before_another_claim);
    T(stalled_host_writes_are_refused_after_another_claim);
    T(writes_with_a_lease_on_an_unknown_job_are_refused_as_stale);
    T(writes_without_a_lease_to_an_unknown_job_are_not_found);
    T(touch_keeps_a_lease_alive_past_its_ttr);
    T(touch_of_a_settled_lease_is_refused);
    T(update_is_last_writer_wins_and_hands_back_the_doc_when_known_cas_was_stale);
    T(update_from_a_run_is_fenced_by_its_lease_not_by_cas);
    T(save_is_strict_compare_and_swap);
    T(append_adds_an_entry_sets_fields_and_counts);
    T(append_to_an_unknown_list_is_invalid_and_changes_nothing);
    T(a_long_list_keeps_every_entry);
    T(settle_finish_writes_the_result_and_clears_running);
    T(settle_with_an_error_appends_it_and_counts_it);
    T(settle_finish_with_retention_deletes_the_job_after_it);
    T(the_index_lists_a_job_under_its_state_through_every_transition);
    T(a_lapsed_lease_lists_the_job_as_waiting_again);
    T(the_index_filters_by_type_and_time_and_carries_the_summary_fields);
    T(paging_lists_every_job_once_while_others_are_submitted);
    T(retry_puts_a_failed_job_back_to_waiting_and_nothing_else);
    T(remove_deletes_a_job_in_any_state_and_its_run_loses_its_lease);
    T(purge_deletes_finished_jobs_by_state_type_and_age_in_bounded_steps);
    T(a_finished_jobs_index_entry_leaves_with_its_retention);
    T(type_counts_and_known_queues_come_from_the_index);
    T(the_index_agrees_with_the_documents_after_random_transitions);
    T(a_unique_key_held_while_queued_refuses_a_second_job_until_the_first_runs);
    T(a_unique_key_held_while_running_goes_when_the_job_finishes);
    T(a_unique_key_held_until_done_outlives_a_success_not_a_failure);
    T(a_unique_key_lapses_after_its_ttl);
    T(uuids_made_by_racing_threads_are_all_distinct);
    T(concurrent_submits_of_20_keys_create_exactly_20_jobs);
    T(settle_release_with_a_delay_makes_the_job_wait_that_long);
    T(settle_bury_then_kick_brings_the_job_back);
    T(settle_with_an_unknown_action_is_invalid);
    T(buried_lists_the_jobs_oldest_first_as_json);
    T(kick_moves_buried_jobs_oldest_first_up_to_max);
    T(kick_makes_delayed_jobs_ready_when_none_is_buried);
    T(kick_takes_buried_jobs_before_delayed_ones);
    T(kick_of_an_unknown_queue_moves_nothing);
    T(a_kill_of_a_waiting_job_takes_it_off_the_queue_and_records_why);
    T(a_kill_of_a_running_job_fences_its_runner);
    T(settling_a_finished_job_from_outside_is_invalid);
    T(settling_from_outside_with_a_token_not_current_is_refused);
    T(an_outside_release_with_prior_died_is_reported_by_the_next_claim);
    T(a_job_found_running_is_claimed_as_died);
    T(settle_claim_settles_and_claims_the_next_job_in_one_step);
    T(settle_claim_with_a_stale_lease_settles_nothing_and_claims_nothing);
    T(unclaim_puts_a_job_back_as_it_was_before_the_claim);
    T(unclaim_keeps_the_prior_runs_outcome_for_the_next_claim);
    T(job_state_reports_each_state);
    T(counts_of_a_queue_add_up_its_jobs_by_state);
    T(submit_and_update_take_200_fields);
    T(a_1_mib_field_value_round_trips);
    T(many_jobs_keep_their_order);
    T(concurrent_claimers_settle_each_job_exactly_once);
    T(ping_answers);
}

/* ---- idempotency across reconnects (Redis: a command resent on a new connection) ---- */

/* A run's calls name the sequence number of its last acknowledged write (zg_lease.write_chain):
 * a store that does not hold that write (a replica promoted before it reached it) refuses a
 * write, an adopt and the settle with ZG_ELOSTWRITES and changes nothing; once the write is
 * there, each is applied. (mem:// never loses a write: Redis only.) */
static void a_call_naming_a_write_the_store_lacks_is_refused(void)
{
    char u[ZG_UUID_LEN];
    const char *q = Q("lostwrite");
    submit(q, 1, 0, 5000, u);
    zg_claim c;
    claim_now(q, &c);
    zg_target t = {&c.lease, NULL, NULL};
    zg_written w = {0};
    zg_error err = {0};
    CHECK_INT(S->ops->update(S, &t, FIELDS1("a", "1"), cas_of(c.doc), "w1", 41, &w, &err), ZG_OK);
    free(w.doc);
    c.lease.write_chain = 42; /* a write this store never had */
    int64_t after = 0;
    zg_settle st = finish();
    CHECK_INT(S->ops->settle(S, &c.lease, &st, "w1", 45, &after, &err), ZG_ELOSTWRITES);
    CHECK_INT(S->ops->update(S, &t, FIELDS1("a", "9"), w.cas, "w1", 43, &w, &err), ZG_ELOSTWRITES);
    CHECK_INT(S->ops->append(S, &t, ZG_LIST_EVENTS, "{\"msg\":\"x\"}", FIELDS0, NULL, w.cas, "w1",
                             43, &w, &err),
              ZG_ELOSTWRITES);
    zg_child kid = {"00000000-0000-4000-8000-00000000c41d", "{}", 0};
    CHECK_INT(S->ops->adopt(S, &c.lease, NULL, NULL, &kid, 1, "w1", 44, &err), ZG_ELOSTWRITES);
    CHECK_INT(state_of(u).state, ZG_STATE_RUNNING);
    char *doc = load(u);
    CHECK(doc && strstr(doc, "\"a\":1") && strstr(doc, "\"events\":[]"));
    free(doc);
    /* the write it names, given again in its place in the chain (after 41), then the rest */
    c.lease.write_chain = 41;
    CHECK_INT(S->ops->update(S, &t, FIELDS1("a", "2"), w.cas, "w1", 42, &w, &err), ZG_OK);
    free(w.doc);
    c.lease.write_chain = 42;
    CHECK_INT(S->ops->adopt(S, &c.lease, NULL, NULL, &kid, 1, "w1", 44, &err), ZG_OK);
    c.lease.write_chain = 44;
    CHECK_INT(S->ops->settle(S, &c.lease, &st, "w1", 45, &after, &err), ZG_OK);
    CHECK_INT(state_of(u).state, ZG_STATE_FINISHED);
    doc = load(u);
    CHECK(doc && strstr(doc, "\"a\":2"));
    free(doc);
    zg_claim_clear(&c);
}

static void a_write_resent_with_the_same_token_is_applied_once(void)
{
    char u[ZG_UUID_LEN];
    const char *q = Q("resend");
    submit(q, 1, 0, 5000, u);
    zg_claim c;
    claim_now(q, &c);
    zg_target t = {&c.lease, NULL, NULL};
    zg_written w = {0};
    zg_error err = {0};
    int64_t cas = cas_of(c.doc);
    /* the same append twice, as a reconnect resends it: one entry */
    for (int i = 0; i < 2; i++) {
        CHECK_INT(S->ops->append(S, &t, ZG_LIST_EVENTS, "{\"msg\":\"once\"}", FIELDS0, NULL, cas,
                                 "w1", 41, &w, &err),
                  ZG_OK);
        free(w.doc);
    }
    /* the same update twice after another writer's: applied once, the other's stays */
    zg_target other = {NULL, q, u};
    CHECK_INT(S->ops->update(S, &other, FIELDS1("b", "\"other\""), 0, "w2", 7, &w, &err), ZG_OK);
    free(w.doc);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(S->ops->update(S, &t, FIELDS1("a", "2"), cas, "w1", 42, &w, &err), ZG_OK);
        free(w.doc);
    }
    CHECK_INT(S->ops->update(S, &other, FIELDS1("a", "3"), 0, "w2", 8, &w, &err), ZG_OK);
    free(w.doc);
    CHECK_INT(S->ops->update(S, &t, FIELDS1("a", "2"), cas, "w1", 42, &w, &err), ZG_OK); /* late */
    free(w.doc);
    char *doc = load(u);
    CHECK(doc && strstr(doc, "\"events\":[{\"msg\":\"once\"}]"));
    CHECK(doc && strstr(doc, "\"a\":3")); /* the resent update did not overwrite w2's later one */
    free(doc);
    /* the same settle twice: applied once (the second is no stale-lease error either) */
    int64_t after = 0;
    zg_settle st = finish();
    CHECK_INT(S->ops->settle(S, &c.lease, &st, "w1", 43, &after, &err), ZG_OK);
    CHECK_INT(S->ops->settle(S, &c.lease, &st, "w1", 43, &after, &err), ZG_OK);
    CHECK_INT(state_of(u).state, ZG_STATE_FINISHED);
    zg_claim_clear(&c);
}

static void a_claim_resent_with_the_same_token_returns_the_same_job(void)
{
    char u1[ZG_UUID_LEN], u2[ZG_UUID_LEN];
    const char *q = Q("reclaim");
    submit(q, 1, 0, 5000, u1);
    submit(q, 1, 0, 5000, u2);
    const char *queues[] = {q}, *types[] = {TYPE};
    zg_claim_req req = {queues, 1, types, 1, NULL, 0};
    zg_claim a, b;
    zg_error err = {0};
    CHECK_INT(S->ops->claim(S, &req, 0, "w3", 100, &a, &err), ZG_OK);
    CHECK_INT(S->ops->claim(S, &req, 0, "w3", 100, &b, &err), ZG_OK);
    CHECK_STR(b.lease.uuid, a.lease.uuid);
    CHECK_INT(b.lease.token, a.lease.token);
    CHECK_INT(state_of(u2).state, ZG_STATE_WAITING); /* the other job was not taken */
    CHECK_INT(state_of(u2).reserves, 0);
    zg_claim_clear(&a);
    zg_claim_clear(&b);
}

static void a_refused_late_finish_leaves_the_job_readable_by_uuid(void)
{
    /* host A stalls past its TTR, B claims; A's late finish (retention 1 s) is refused, and
     * must not shorten the job's pointer by uuid while B runs it */
    char u[ZG_UUID_LEN];
    const char *q = Q("late_finish");
    submit(q, 1, 0, 1000, u); /* (a TTR that a busy machine's late 50 ms sleeps cannot lapse) */
    zg_claim a, b;
    claim_now(q, &a);
    int rc = ZG_ETIMEDOUT;
    for (int i = 0; i < 100 && rc != ZG_OK; i++) /* A's lease lapses: B gets the job */
        rc = claim(q, 50, &b);
    CHECK_INT(rc, ZG_OK);
    zg_settle late = finish();
    late.retention_s = 1;
    CHECK_INT(settle_with(S, &a.lease, late), ZG_ESTALE);
    zg_error err = {0};
    zg_job_state st;
    for (int i = 0; i < 30; i++) { /* 1.5 s: past what A's retention would have given */
        zg_clock_sleep_ms(50);
        CHECK_INT(S->ops->touch(S, &b.lease, &err), ZG_OK);
    }
    char *doc = load(u);
    CHECK(doc != NULL);
    free(doc);
    CHECK_INT(S->ops->job_state(S, u, &st, &err), ZG_OK);
    CHECK_INT(st.state, ZG_STATE_RUNNING);
    zg_claim_clear(&a);
    zg_claim_clear(&b);
}

static void a_claim_resent_after_a_takeover_gets_nothing(void)
{
    /* A's claim reply was lost and A stalled past the TTR; B took the job. A's resent claim
     * must not hand A the lease B holds now */
    char u[ZG_UUID_LEN];
    const char *q = Q("reclaim_takeover");
    submit(q, 1, 0, 200, u);
    const char *queues[] = {q}, *types[] = {TYPE};
    zg_claim_req req = {queues, 1, types, 1, NULL, 0};
    zg_claim a, b, again;
    zg_error err = {0};
    CHECK_INT(S->ops->claim(S, &req, 0, "wA", 500, &a, &err), ZG_OK);
    int rc = ZG_ETIMEDOUT;
    for (int i = 0; i < 100 && rc != ZG_OK; i++)
        rc = S->ops->claim(S, &req, 50, "wB", 900 + i, &b, &err);
    CHECK_INT(rc, ZG_OK);
    CHECK(b.lease.token != a.lease.token);
    CHECK_INT(S->ops->claim(S, &req, 0, "wA", 500, &again, &err), ZG_ETIMEDOUT);
    CHECK(again.lease.token != b.lease.token);
    CHECK_INT(S->ops->touch(S, &b.lease, &err), ZG_OK); /* B's lease is untouched */
    zg_claim_clear(&a);
    zg_claim_clear(&b);
    zg_claim_clear(&again);
}

static void a_claim_older_than_its_writers_last_takes_nothing(void)
{
    /* a claim held up on the way (a partition's orphaned socket) arrives after a later claim of
     * its writer, which gave up on it: it is from the past and takes nothing */
    char u1[ZG_UUID_LEN], u2[ZG_UUID_LEN];
    const char *q = Q("past_claim");
    submit(q, 1, 0, 5000, u1);
    submit(q, 1, 0, 5000, u2);
    const char *queues[] = {q}, *types[] = {TYPE};
    zg_claim_req req = {queues, 1, types, 1, NULL, 0};
    zg_claim a, late, next;
    zg_error err = {0};
    CHECK_INT(S->ops->claim(S, &req, 0, "wP", 300, &a, &err), ZG_OK);
    CHECK_STR(a.lease.uuid, u1);
    CHECK_INT(S->ops->claim(S, &req, 0, "wP", 200, &late, &err), ZG_ETIMEDOUT);
    CHECK_INT(state_of(u2).state, ZG_STATE_WAITING);
    CHECK_INT(state_of(u2).reserves, 0);
    CHECK_INT(S->ops->claim(S, &req, 0, "wP", 400, &next, &err), ZG_OK); /* its next one works */
    CHECK_STR(next.lease.uuid, u2);
    zg_claim_clear(&a);
    zg_claim_clear(&late);
    zg_claim_clear(&next);
}

static void closing_claims_names_the_job_one_took_and_voids_one_still_on_the_way(void)
{
    char u1[ZG_UUID_LEN], u2[ZG_UUID_LEN];
    const char *q = Q("close_claims");
    submit(q, 1, 0, 5000, u1);
    submit(q, 1, 0, 5000, u2);
    const char *types[] = {TYPE};
    char *queues[] = {(char *)q};
    zg_claim_req req = {(const char *const *)queues, 1, types, 1, NULL, 0};
    zg_claim a, late, next;
    zg_error err = {0};
    zg_lease out[1];
    int64_t seqs[1];
    /* a claim that ran before the close (its reply lost, sequence numbers 100 .. 163): named,
     * and again by a second close */
    CHECK_INT(S->ops->claim(S, &req, 0, "wC", 100, &a, &err), ZG_OK);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(S->ops->close_claims(S, queues, 1, "wC", 100, 164, out, seqs, &err), ZG_OK);
        CHECK_STR(out[0].uuid, a.lease.uuid);
        CHECK(out[0].token == a.lease.token);
        CHECK(seqs[0] >= 100 && seqs[0] <= 164);
    }
    CHECK_INT(S->ops->unclaim(S, &out[0], &err), ZG_OK);
    /* a claim still on the way at the close (sent below its sequence number) takes nothing */
    CHECK_INT(S->ops->claim(S, &req, 0, "wC", 130, &late, &err), ZG_ETIMEDOUT);
    CHECK_INT(state_of(u1).state, ZG_STATE_WAITING);
    CHECK_INT(state_of(u2).state, ZG_STATE_WAITING);
    /* the writer's next claim, above it, takes the first job */
    CHECK_INT(S->ops->claim(S, &req, 0, "wC", 165, &next, &err), ZG_OK);
    CHECK_STR(next.lease.uuid, u1);
    /* a writer with no claim there: nothing named */
    CHECK_INT(S->ops->close_claims(S, queues, 1, "wNone", 10, 74, out, seqs, &err), ZG_OK);
    CHECK(out[0].token == 0);
    zg_claim_clear(&a);
    zg_claim_clear(&late);
    zg_claim_clear(&next);
    /* an older claim of the writer (a run it began: below the lost claim's numbers) is read as
     * it is, and a second close names it no more: only what the lost claim took is kept */
    CHECK_INT(S->ops->claim(S, &req, 0, "wO", 40, &a, &err), ZG_OK);
    CHECK_INT(S->ops->close_claims(S, queues, 1, "wO", 100, 164, out, seqs, &err), ZG_OK);
    CHECK_STR(out[0].uuid, a.lease.uuid);
    CHECK(seqs[0] == 40);
    CHECK_INT(S->ops->close_claims(S, queues, 1, "wO", 100, 164, out, seqs, &err), ZG_OK);
    CHECK(out[0].token == 0 || seqs[0] == 40); /* (mem:// only reads: its memo stays as it was) */
    zg_claim_clear(&a);
}

static void a_dead_hosts_lease_lapses_though_the_queue_was_idle(void)
{
    /* no script runs on the queue for longer than the stall rule's gap while a host that died
     * holds a lease: idleness is not a store stall, the lease still lapses */
    char u[ZG_UUID_LEN];
    const char *q = Q("idle_dead");
    submit(q, 1, 0, 300, u);
    zg_claim dead;
    claim_now(q, &dead);
    zg_clock_sleep_ms(1600); /* the fault: nobody at all for 1.6 s (dead host, idle queue) */
    zg_claim next;
    int rc = ZG_ETIMEDOUT;
    for (int i = 0; i < 40 && rc != ZG_OK; i++)
        rc = claim(q, 50, &next);
    CHECK_INT(rc, ZG_OK);
    CHECK_STR(next.lease.uuid, u);
    CHECK_INT(next.prior, ZG_PRIOR_LAPSED);
    zg_claim_clear(&dead);
    if (rc == ZG_OK) zg_claim_clear(&next);
}

/* A job of a TTR of 0.9 s submitted to q and claimed into *held, then the fault: 0.95 s without
 * a script on the queue, as Redis sees a stall (its lease's deadline passes meanwhile). */
static void held_through_a_short_stall(const char *q, char u[ZG_UUID_LEN], zg_claim *held)
{
    submit(q, 0, 0, 900, u);
    claim_now(q, held);
    zg_clock_sleep_ms(950);
}

static void a_store_stall_shorter_than_a_second_keeps_a_short_ttr_lease(void)
{
    /* A lease of a TTR of 0.9 s, renewed every 300 ms, and a stall of 0.95 s: what Redis sees
     * of it is the same as here, no script on the queue for 0.95 s, the host's renewal sent
     * meanwhile waiting in the stall. The lease is past its deadline when Redis goes on, but its
     * host was alive: the claim of another host takes nothing, and the host's late writes and
     * renewal go through (a stall of more than half a lease's TTR gives that lease the time
     * back, not only one of more than 1.2 s: that let a healthy run with a TTR under 1.8 s lapse
     * and count an error in a Redis stall of 0.7 to 1.2 s) */
    char u[ZG_UUID_LEN];
    const char *q = Q("short_stall");
    zg_claim held;
    held_through_a_short_stall(q, u, &held);
    zg_claim other;
    CHECK_INT(claim(q, 0, &other), ZG_ETIMEDOUT);
    zg_written w;
    CHECK_INT(update(&held.lease, NULL, FIELDS1("alive", "true"), cas_of(held.doc), &w), ZG_OK);
    free(w.doc);
    zg_error err = {0};
    CHECK_INT(S->ops->touch(S, &held.lease, &err), ZG_OK);
    zg_job_state st = state_of(u);
    CHECK_INT(st.state, ZG_STATE_RUNNING);
    CHECK_INT(st.timeouts, 0);
    CHECK_INT(settle_with(S, &held.lease, finish()), ZG_OK);
    zg_claim_clear(&held);
}

static void a_stall_of_the_write_alone_keeps_a_short_ttr_lease(void)
{
    /* as above, but the first script after the stall is a write of the run (no look at the
     * queue's leases first): it is not refused as late */
    char u[ZG_UUID_LEN];
    const char *q = Q("short_stall_write");
    zg_claim held;
    held_through_a_short_stall(q, u, &held);
    zg_written w;
    CHECK_INT(update(&held.lease, NULL, FIELDS1("alive", "true"), cas_of(held.doc), &w), ZG_OK);
    free(w.doc);
    CHECK_INT(state_of(u).timeouts, 0);
    CHECK_INT(settle_with(S, &held.lease, finish()), ZG_OK);
    zg_claim_clear(&held);
}

/* Sends a CONFIG command to the Redis of the suite: to every node of a cluster (CLUSTER_PORTS,
 * set by spec/support/cluster.sh), whose keys are on any of them. */
static void config_everywhere(const char **argv)
{
    zg_error err = {0};
    const char *ports = getenv("CLUSTER_PORTS");
    int cluster = strncmp(redis_url, "redis+cluster://", 16) == 0 && ports;
    char url[64];
    for (const char *p = ports; !cluster || *p;) {
        if (cluster) snprintf(url, sizeof url, "redis://127.0.0.1:%d", atoi(p));
        zg_redis r;
        if (zg_redis_open(&r, cluster ? url : redis_url, 0, &err) == ZG_OK) {
            redisReply *reply = zg_redis_command(&r, 4, argv, NULL, 0, &err);
            if (reply) zg_redis_reply_free(reply);
        }
        zg_redis_close(&r);
        if (!cluster) break;
        p += strcspn(p, " ");
        p += strspn(p, " ");
    }
}

/* Sets Redis's maxmemory (on every node): "1" makes it refuse writes, "0" lifts the limit. */
static void set_maxmemory(const char *bytes)
{
    const char *argv[] = {"CONFIG", "SET", "maxmemory", bytes};
    config_everywhere(argv);
}

static void a_store_failure_leaves_no_half_submitted_job(void)
{
    /* Redis refuses writes past maxmemory: the submit fails with Redis's own words, and
     * neither a document without its queue entry nor an entry without its document remains */
    zg_error err = {0};
    set_maxmemory("1");
    char u[ZG_UUID_LEN];
    new_uuid(u);
    const char *q = Q("oom");
    zg_new_job j = {.uuid = u,
                    .job_type = TYPE,
                    .queue = q,
                    .fields = FIELDS1("a", "1"),
                    .priority = 1,
                    .ttr_ms = 1000};
    int rc = S->ops->submit(S, &j, 1, "spec", &err);
    set_maxmemory("0");
    CHECK_INT(rc, ZG_ESTORE);
    CHECK(strstr(err.msg, "OOM command not allowed") != NULL);
    CHECK(strstr(err.msg, "stack traceback") == NULL && strstr(err.msg, "user_script") == NULL);
    char *doc = load(u);
    CHECK(doc == NULL);
    free(doc);
    zg_store_counts c = counts_of(q);
    CHECK_INT(c.waiting + c.delayed, 0);
}

/* The TTL of job uuid's pointer by uuid (zerog:job:<uuid>), read on a connection of its own. */
static long long pointer_ttl(const char *uuid)
{
    zg_error err = {0};
    zg_redis r;
    if (zg_redis_open(&r, redis_url, 0, &err) != ZG_OK) return -100;
    char key[ZG_UUID_LEN + 16];
    snprintf(key, sizeof key, "zerog:job:%s", uuid);
    const char *ttl[] = {"TTL", key};
    redisReply *reply = zg_redis_command(&r, 2, ttl, NULL, 0, &err);
    long long t = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -100;
    if (reply) zg_redis_reply_free(reply);
    zg_redis_close(&r);
    return t;
}

static void a_finish_refused_when_full_then_retried_keeps_its_pointers_expiry(void)
{
    /* Redis past maxmemory refuses the settle, not the pointer's expiry sent ahead of it (which
     * may run then): the expiry is taken back; the host tries the settle again once memory
     * frees (the same sequence, as collect_process does), and the finished job's pointer must
     * expire with it (it kept no expiry: the retry's expiry ahead was not above the one taken
     * back, and nothing else was sent) */
    char u[ZG_UUID_LEN];
    const char *q = Q("oom_finish");
    submit(q, 1, 0, 60000, u);
    zg_claim c;
    claim_now(q, &c);
    zg_settle st = finish();
    st.retention_s = 3600;
    int64_t cas = 0;
    zg_error err = {0};
    set_maxmemory("1");
    int refused = S->ops->settle(S, &c.lease, &st, "spec", 4242, &cas, &err);
    set_maxmemory("0");
    CHECK_INT(refused, ZG_ESTORE);
    CHECK(strstr(err.msg, "OOM") != NULL);
    CHECK_INT(S->ops->settle(S, &c.lease, &st, "spec", 4242, &cas, &err), ZG_OK);
    CHECK_INT(state_of(u).state, ZG_STATE_FINISHED);
    long long ttl = -1; /* (the expiry is not waited for by the settle: it is on its way) */
    for (int64_t until = zg_clock_monotonic_ms() + 5000;
         ttl <= 0 && zg_clock_monotonic_ms() < until;) {
        ttl = pointer_ttl(u);
        if (ttl <= 0) zg_clock_sleep_ms(5);
    }
    CHECK(ttl > 3500 && ttl <= 3600);
    zg_claim_clear(&c);
}

int main(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uuid_stamp = (unsigned long)now.tv_sec ^ ((unsigned long)now.tv_nsec << 4);
    snprintf(run_tag, sizeof run_tag, "lc%lx_%x", uuid_stamp & 0xffffffffUL, (unsigned)getpid());

    backend = "mem";
    S = zg_store_mem_new();
    if (!S) {
        printf("not ok 1 - mem: create the store\n");
        return 1;
    }
    run_all();
    T(counts_report_waiting_jobs_of_types_nobody_asks_for_as_unclaimed);
    T(follow_needs_a_redis_store_and_publish_goes_nowhere);
    T(two_mem_stores_do_not_share_jobs);
    S->ops->close(S);

    redis_url = getenv("ZEROG_SPEC_REDIS");
    if (redis_url && *redis_url) {
        backend = "redis";
        zg_error err = {0};
        S = zg_store_redis_new(redis_url, 0, &err);
        if (!S) {
            printf("not ok %d - redis: connect to %s: %s\n", check_test_number + 1, redis_url,
                   err.msg);
            check_test_number++;
            check_failed_tests++;
            return check_done();
        }
        long_list_length = 10000; /* one round trip each */
        many_jobs = 500;
        run_all();
        T(a_write_resent_with_the_same_token_is_applied_once);
        T(a_call_naming_a_write_the_store_lacks_is_refused);
        T(a_claim_resent_with_the_same_token_returns_the_same_job);
        T(a_store_failure_leaves_no_half_submitted_job);
        T(a_refused_late_finish_leaves_the_job_readable_by_uuid);
        T(a_finish_refused_when_full_then_retried_keeps_its_pointers_expiry);
        T(a_claim_resent_after_a_takeover_gets_nothing);
        T(a_deleted_or_expired_holders_unique_key_is_gone_from_redis);
        T(a_dead_hosts_lease_lapses_though_the_queue_was_idle);
        T(a_store_stall_shorter_than_a_second_keeps_a_short_ttr_lease);
        T(a_stall_of_the_write_alone_keeps_a_short_ttr_lease);
        T(a_claim_older_than_its_writers_last_takes_nothing);
        T(closing_claims_names_the_job_one_took_and_voids_one_still_on_the_way);
        S->ops->close(S);
    } else {
        redis_url = NULL;
    }
    return check_done();
}
