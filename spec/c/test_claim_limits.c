/* Rate limits, concurrency limits and groups in the store's claim step (lifecycle.h,
 * zg_type_limits): concurrent claimers (threads with a store handle each: the one mem:// store,
 * a connection each on Redis) never run more than CONCURRENCY at once nor start more than RATE
 * in any window; a claim at a limit waits until the window frees, not longer; every way a run
 * ends frees its slot once; groups take turns and have their limits each; a queue-wide limit is
 * shared by the types that declare it; and through a host (zerog.h), a type's RATE and GROUP
 * reach the claim. Runs on mem:// and, with ZEROG_SPEC_REDIS, on Redis. */
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
#include "zerog.h"

static zg_store *S;
static const char *backend;
static const char *redis_url;
static char run_tag[48];
static unsigned long uuid_stamp, uuid_counter;
static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *Q(const char *name)
{
    static char bufs[4][ZG_NAME_LEN];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, ZG_NAME_LEN, "%s_%s_%s", run_tag, backend, name);
    return b;
}

static void new_uuid(char out[ZG_UUID_LEN])
{
    pthread_mutex_lock(&uuid_lock);
    unsigned long n = ++uuid_counter;
    pthread_mutex_unlock(&uuid_lock);
    snprintf(out, ZG_UUID_LEN, "%08lx-%04x-4000-8000-%012lx", uuid_stamp & 0xffffffffUL,
             (unsigned)getpid() & 0xffffu, n);
}

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

/* Submits a job of type to queue (group: NULL for a type without GROUP). */
static void submit(const char *queue, const char *type, const char *group, int64_t priority,
                   int64_t ttr_ms, char uuid[ZG_UUID_LEN])
{
    new_uuid(uuid);
    static const char *const names[] = {"a"}, *const values[] = {"1"};
    zg_new_job j = {.uuid = uuid,
                    .job_type = type,
                    .queue = queue,
                    .fields = {1, names, values},
                    .priority = priority,
                    .ttr_ms = ttr_ms,
                    .group = group};
    zg_error err = {0};
    int rc = S->ops->submit(S, &j, 1, "spec", &err);
    if (rc != ZG_OK) printf("# submit: %s\n", err.msg);
    CHECK_INT(rc, ZG_OK);
}

/* A claim of one type of one queue under limits l. */
static int claim_as(zg_store *s, const char *writer, const char *queue, const char *type,
                    const zg_type_limits *l, int64_t timeout_ms, zg_claim *c)
{
    const char *queues[] = {queue}, *types[] = {type};
    zg_claim_req req = {queues, 1, types, 1, l, 0};
    zg_error err = {0};
    int rc = s->ops->claim(s, &req, timeout_ms, writer, 0, c, &err);
    if (rc != ZG_OK && rc != ZG_ETIMEDOUT) printf("# claim: %s\n", err.msg);
    return rc;
}

static int claim_with(zg_store *s, const char *queue, const char *type, const zg_type_limits *l,
                      int64_t timeout_ms, zg_claim *c)
{
    return claim_as(s, "spec", queue, type, l, timeout_ms, c);
}

static int finish(zg_store *s, zg_claim *c)
{
    static const char *const names[] = {"resultCode"}, *const values[] = {"200"};
    zg_settle st = {.action = ZG_SETTLE_FINISH, .fields = {1, names, values}};
    zg_error err = {0};
    int rc = s->ops->settle(s, &c->lease, &st, "spec", 0, NULL, &err);
    zg_claim_clear(c);
    return rc;
}

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* ---- concurrent claimers ---- */

typedef struct claimers {
    const char *queue, *type;
    const zg_type_limits *limits;
    int total;   /* jobs to run in all */
    long run_ms; /* how long each run lasts */
    atomic_int done, running, most_running;
    int64_t starts[64]; /* monotonic ms of each claim */
    atomic_int nstarts;
} claimers;

static void *claimer(void *arg)
{
    claimers *c = arg;
    zg_store *s = open_peer();
    char writer[ZG_UUID_LEN]; /* each claimer is a host of its own */
    new_uuid(writer);
    int64_t give_up = zg_clock_monotonic_ms() + 20000;
    while (s && atomic_load(&c->done) < c->total && zg_clock_monotonic_ms() < give_up) {
        zg_claim cl = {0};
        if (claim_as(s, writer, c->queue, c->type, c->limits, 300, &cl) != ZG_OK) continue;
        int64_t at = zg_clock_monotonic_ms();
        int n = atomic_fetch_add(&c->nstarts, 1);
        if (n < 64) c->starts[n] = at;
        int now_running = atomic_fetch_add(&c->running, 1) + 1;
        int most = atomic_load(&c->most_running);
        while (now_running > most &&
               !atomic_compare_exchange_weak(&c->most_running, &most, now_running)) {
        }
        if (c->run_ms) sleep_ms(c->run_ms);
        atomic_fetch_sub(&c->running, 1); /* before the settle frees the slot */
        if (finish(s, &cl) == ZG_OK) atomic_fetch_add(&c->done, 1);
    }
    close_peer(s);
    return NULL;
}

static void run_claimers(claimers *c, int nthreads)
{
    pthread_t t[8];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, claimer, c);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
}

static void concurrency_2_with_4_claimers_never_runs_more_than_2_at_once(void)
{
    zg_type_limits l = {.concurrency = 2};
    const char *q = Q("conc");
    char u[ZG_UUID_LEN];
    for (int i = 0; i < 20; i++)
        submit(q, "T", NULL, 0, 5000, u);
    claimers c = {.queue = q, .type = "T", .limits = &l, .total = 20, .run_ms = 20};
    run_claimers(&c, 4);
    CHECK_INT(atomic_load(&c.done), 20);
    CHECK_INT(atomic_load(&c.most_running), 2);
}

/* The most starts in any window of ms (starts sorted). */
static int most_in_window(int64_t *starts, int n, int64_t ms)
{
    int most = 0;
    for (int i = 0, j = 0; i < n; i++) {
        while (starts[i] - starts[j] >= ms)
            j++;
        if (i - j + 1 > most) most = i - j + 1;
    }
    return most;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void rate_5_per_500_ms_with_3_claimers_never_starts_more_than_5_in_a_window(void)
{
    zg_type_limits l = {.rate = 5, .rate_ms = 500};
    const char *q = Q("rate");
    char u[ZG_UUID_LEN];
    for (int i = 0; i < 15; i++)
        submit(q, "T", NULL, 0, 5000, u);
    claimers c = {.queue = q, .type = "T", .limits = &l, .total = 15};
    int64_t began = zg_clock_monotonic_ms();
    run_claimers(&c, 3);
    int64_t took = zg_clock_monotonic_ms() - began;
    CHECK_INT(atomic_load(&c.done), 15);
    int n = atomic_load(&c.nstarts);
    qsort(c.starts, (size_t)n, sizeof *c.starts, cmp_i64);
    /* (less than the window: the claimers stamp the starts after their claims, on a loaded
     * machine sometimes tens of ms late) */
    int most = most_in_window(c.starts, n, 400);
    if (most > 5) printf("# %d starts in a window of 400 ms\n", most);
    CHECK(most <= 5);
    CHECK(took >= 950); /* 15 starts at 5 per 500 ms: the third five not before 1 s */
    CHECK(took < 3000); /* and the claimers did not sleep past the windows */
}

static void a_claim_at_the_rate_limit_gets_the_job_when_the_window_frees(void)
{
    zg_type_limits l = {.rate = 1, .rate_ms = 300};
    const char *q = Q("wake");
    char u[ZG_UUID_LEN];
    submit(q, "T", NULL, 0, 5000, u);
    submit(q, "T", NULL, 0, 5000, u);
    zg_claim c = {0};
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c), ZG_OK);
    CHECK_INT(finish(S, &c), ZG_OK);
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c), ZG_ETIMEDOUT); /* at its limit */
    int64_t began = zg_clock_monotonic_ms();
    CHECK_INT(claim_with(S, q, "T", &l, 2000, &c), ZG_OK);
    int64_t waited = zg_clock_monotonic_ms() - began;
    if (waited < 200 || waited > 800) printf("# waited %lld ms\n", (long long)waited);
    CHECK(waited >= 200 && waited <= 800);
    finish(S, &c);
}

/* ---- slots ---- */

typedef int (*ender)(zg_claim *c);

static int end_by_finish(zg_claim *c)
{
    return finish(S, c);
}

static int end_by_release(zg_claim *c)
{
    zg_settle st = {.action = ZG_SETTLE_RELEASE, .delay_ms = 60000};
    zg_error err = {0};
    return S->ops->settle(S, &c->lease, &st, "spec", 0, NULL, &err);
}

static int end_by_bury(zg_claim *c)
{
    zg_settle st = {.action = ZG_SETTLE_BURY, .reason = "spec"};
    zg_error err = {0};
    return S->ops->settle(S, &c->lease, &st, "spec", 0, NULL, &err);
}

static int end_by_unclaim(zg_claim *c)
{
    zg_error err = {0};
    int rc = S->ops->unclaim(S, &c->lease, &err);
    /* it is waiting again: out of the way (deleted), so only the next job is left */
    if (rc == ZG_OK) rc = S->ops->remove(S, c->lease.uuid, &err);
    return rc;
}

static int end_by_kill(zg_claim *c)
{
    zg_settle st = {.action = ZG_SETTLE_FINISH};
    zg_error err = {0};
    return S->ops->settle_from_outside(S, c->lease.queue, c->lease.uuid, 0, &st, "spec", 0, &err);
}

static int end_by_dead_worker_release(zg_claim *c)
{
    zg_settle st = {.action = ZG_SETTLE_RELEASE, .prior = ZG_PRIOR_DIED, .delay_ms = 60000};
    zg_error err = {0};
    return S->ops->settle_from_outside(S, c->lease.queue, c->lease.uuid, c->lease.token, &st,
                                       "spec", 0, &err);
}

static int end_by_overrun_release(zg_claim *c)
{
    zg_error err = {0};
    int rc = S->ops->release_overrun(S, &c->lease, &err);
    if (rc == ZG_OK) rc = S->ops->remove(S, c->lease.uuid, &err); /* ready again: out of the way */
    return rc;
}

static int end_by_delete(zg_claim *c)
{
    zg_error err = {0};
    return S->ops->remove(S, c->lease.uuid, &err);
}

static int end_by_lapse(zg_claim *c)
{
    (void)c;
    sleep_ms(250); /* its TTR (150 ms) runs out; the next claim applies the lapse */
    return ZG_OK;
}

/* CONCURRENCY = 1: a run that ends by `end` frees the slot (the next job starts), and only once
 * (the job after that does not start while the next runs). */
static void check_slot_freed_once(const char *name, ender end, int64_t ttr_ms)
{
    zg_type_limits l = {.concurrency = 1};
    const char *q = Q(name);
    char u1[ZG_UUID_LEN], u2[ZG_UUID_LEN], u3[ZG_UUID_LEN];
    submit(q, "T", NULL, 0, ttr_ms, u1);
    submit(q, "T", NULL, 1, 5000, u2);
    submit(q, "T", NULL, 2, 5000, u3);
    zg_claim c1 = {0}, c2 = {0}, c3 = {0};
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c1), ZG_OK);
    CHECK_STR(c1.lease.uuid, u1);
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c2), ZG_ETIMEDOUT); /* the slot is taken */
    CHECK_INT(end(&c1), ZG_OK);
    zg_error err = {0};
    zg_settle kill = {.action = ZG_SETTLE_FINISH};
    (void)S->ops->settle_from_outside(S, q, u1, 0, &kill, "spec", 0, &err); /* ends it again */
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c2), ZG_OK);                    /* freed */
    if (c2.lease.token) CHECK_STR(c2.lease.uuid, u2);
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c3), ZG_ETIMEDOUT); /* once */
    zg_claim_clear(&c1);
    zg_claim_clear(&c2);
    zg_claim_clear(&c3);
}

static void a_finished_run_frees_its_slot_once(void)
{
    check_slot_freed_once("finish", end_by_finish, 5000);
}
static void a_released_run_frees_its_slot_once(void)
{
    check_slot_freed_once("release", end_by_release, 5000);
}
static void a_buried_run_frees_its_slot_once(void)
{
    check_slot_freed_once("bury", end_by_bury, 5000);
}
static void an_unclaimed_run_frees_its_slot_once(void)
{
    check_slot_freed_once("unclaim", end_by_unclaim, 5000);
}
static void a_killed_run_frees_its_slot_once(void)
{
    check_slot_freed_once("kill", end_by_kill, 5000);
}
static void a_dead_workers_released_run_frees_its_slot_once(void)
{
    check_slot_freed_once("died", end_by_dead_worker_release, 5000);
}
static void an_overrun_release_frees_its_slot_once(void)
{
    check_slot_freed_once("overrun", end_by_overrun_release, 5000);
}
static void a_deleted_running_job_frees_its_slot_once(void)
{
    check_slot_freed_once("delete", end_by_delete, 5000);
}
static void a_lapsed_lease_frees_its_slot_once(void)
{
    check_slot_freed_once("lapse", end_by_lapse, 150);
}

/* ---- groups ---- */

static void a_lone_job_of_group_b_behind_1000_of_group_a_starts_among_the_first_2(void)
{
    zg_type_limits l = {.grouped = 1};
    const char *q = Q("fair");
    char u[ZG_UUID_LEN], b[ZG_UUID_LEN];
    for (int i = 0; i < 1000; i++)
        submit(q, "T", "A", 0, 5000, u);
    submit(q, "T", "B", 0, 5000, b);
    zg_claim c1 = {0}, c2 = {0};
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c1), ZG_OK);
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c2), ZG_OK);
    CHECK(strcmp(c1.lease.uuid, b) == 0 || strcmp(c2.lease.uuid, b) == 0);
    zg_claim_clear(&c1);
    zg_claim_clear(&c2);
    zg_store_counts counts = {0};
    zg_error err = {0};
    CHECK_INT(S->ops->counts(S, q, &counts, &err), ZG_OK);
    CHECK_INT(counts.waiting, 999); /* a type with GROUP counts its waiting jobs all the same */
}

static void groups_take_turns_and_priority_holds_within_a_group(void)
{
    zg_type_limits l = {.grouped = 1};
    const char *q = Q("turns");
    char a_late[ZG_UUID_LEN], a_urgent[ZG_UUID_LEN], b1[ZG_UUID_LEN], c1[ZG_UUID_LEN];
    submit(q, "T", "A", 5, 5000, a_late);
    submit(q, "T", "B", 5, 5000, b1);
    submit(q, "T", "A", 1, 5000, a_urgent);
    submit(q, "T", "", 5, 5000, c1); /* the default group */
    const char *want[] = {a_urgent, b1, c1, a_late};
    for (int i = 0; i < 4; i++) {
        zg_claim c = {0};
        CHECK_INT(claim_with(S, q, "T", &l, 0, &c), ZG_OK);
        CHECK_STR(c.lease.uuid, want[i]);
        zg_claim_clear(&c);
    }
}

static void each_group_has_its_own_concurrency_limit(void)
{
    zg_type_limits l = {.concurrency = 1, .grouped = 1};
    const char *q = Q("gconc");
    char a1[ZG_UUID_LEN], a2[ZG_UUID_LEN], b1[ZG_UUID_LEN];
    submit(q, "T", "A", 0, 5000, a1);
    submit(q, "T", "A", 0, 5000, a2);
    submit(q, "T", "B", 0, 5000, b1);
    zg_claim c1 = {0}, c2 = {0}, c3 = {0};
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c1), ZG_OK);
    CHECK_STR(c1.lease.uuid, a1);
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c2), ZG_OK); /* B's slot is its own */
    CHECK_STR(c2.lease.uuid, b1);
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c3), ZG_ETIMEDOUT); /* A is at its limit */
    CHECK_INT(finish(S, &c1), ZG_OK);
    CHECK_INT(claim_with(S, q, "T", &l, 0, &c3), ZG_OK);
    CHECK_STR(c3.lease.uuid, a2);
    zg_claim_clear(&c2);
    zg_claim_clear(&c3);
}

static void a_queue_wide_limit_is_shared_by_the_types_that_declare_it(void)
{
    zg_type_limits l = {.concurrency = 1, .concurrency_queue_wide = 1};
    const char *q = Q("wide");
    char u1[ZG_UUID_LEN], u2[ZG_UUID_LEN];
    submit(q, "T1", NULL, 0, 5000, u1);
    submit(q, "T2", NULL, 0, 5000, u2);
    zg_claim c1 = {0}, c2 = {0};
    CHECK_INT(claim_with(S, q, "T1", &l, 0, &c1), ZG_OK);
    CHECK_INT(claim_with(S, q, "T2", &l, 0, &c2), ZG_ETIMEDOUT);
    zg_type_limits own = {.concurrency = 1}; /* a type-wide limit of T2 is T2's own */
    CHECK_INT(claim_with(S, q, "T2", &own, 0, &c2), ZG_OK);
    zg_claim_clear(&c1);
    zg_claim_clear(&c2);
}

/* ---- through a host: the declarations in a job type reach the store's claim ---- */

static zg_host *host_with(const char *decl, const char *name, char type[ZG_NAME_LEN])
{
    zg_host *h = check_new_host(redis_url ? redis_url : "mem://");
    snprintf(type, ZG_NAME_LEN, "%s_%s", run_tag, name);
    char src[512];
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s', %s,\n"
             "  SCHEMA = { c = { type = 'string' } }, run = function(self) return 200 end }\n",
             type, type, decl);
    CHECK_INT(zg_load_string(h, "limits.lua", src, NULL), ZG_OK);
    return h;
}

static void a_hosts_rate_declaration_spaces_its_runs(void)
{
    char type[ZG_NAME_LEN], u[ZG_UUID_LEN];
    zg_host *h = host_with("RATE = { limit = 2, per = 0.4 }", "host_rate", type);
    for (int i = 0; i < 3; i++)
        CHECK_INT(zg_submit(h, type, "{}", NULL, u), ZG_OK);
    int64_t began = zg_clock_monotonic_ms();
    for (int i = 0; i < 3; i++) {
        zg_step_result r;
        CHECK_INT(zg_step(h, NULL, 0, 2000, &r), ZG_OK);
    }
    int64_t took = zg_clock_monotonic_ms() - began;
    if (took < 350) printf("# 3 runs at 2 per 400 ms took %lld ms\n", (long long)took);
    CHECK(took >= 350 && took < 1500);
    zg_host_free(h);
}

static void a_hosts_group_declaration_serves_a_lone_group_next(void)
{
    char type[ZG_NAME_LEN], u[ZG_UUID_LEN], b[ZG_UUID_LEN];
    zg_host *h = host_with("GROUP = 'c'", "host_group", type);
    const char *lines[50];
    char uuids[50][ZG_UUID_LEN];
    for (int i = 0; i < 50; i++)
        lines[i] = "{\"c\": \"A\"}";
    CHECK_INT(zg_submit_batch(h, type, lines, 50, NULL, uuids), ZG_OK);
    CHECK_INT(zg_submit(h, type, "{}", NULL, b), ZG_OK); /* no customer: the default group */
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        zg_step_result r;
        CHECK_INT(zg_step(h, NULL, 0, 1000, &r), ZG_OK);
        seen += strcmp(r.uuid, b) == 0;
    }
    CHECK_INT(seen, 1);
    (void)u;
    zg_host_free(h);
}

static void limits_text_parses_and_refuses_garbage(void)
{
    zg_type_limits l;
    CHECK_INT(zg_type_limits_parse("2,1,5,1000,0,1", &l), 0);
    CHECK(l.concurrency == 2 && l.concurrency_queue_wide && l.rate == 5 && l.rate_ms == 1000 &&
          !l.rate_queue_wide && l.grouped);
    CHECK_INT(zg_type_limits_parse("2,1,5,1000,0", &l), -1);
    CHECK_INT(zg_type_limits_parse("2,1,5,0,0,0", &l), -1); /* a rate needs its window */
    CHECK_INT(zg_type_limits_parse("-1,0,0,0,0,0", &l), -1);
    CHECK_INT(zg_type_limits_parse("0,0,0,0,0,0x", &l), -1);
    CHECK(!zg_type_limits_any(NULL));
}

static void run_named(const char *name, void (*fn)(void))
{
    char full[200];
    snprintf(full, sizeof full, "%s: %s", backend, name);
    run_test(full, fn);
}
#define T(fn) run_named(#fn, fn)

static void run_all(void)
{
    T(concurrency_2_with_4_claimers_never_runs_more_than_2_at_once);
    T(rate_5_per_500_ms_with_3_claimers_never_starts_more_than_5_in_a_window);
    T(a_claim_at_the_rate_limit_gets_the_job_when_the_window_frees);
    T(a_finished_run_frees_its_slot_once);
    T(a_released_run_frees_its_slot_once);
    T(a_buried_run_frees_its_slot_once);
    T(an_unclaimed_run_frees_its_slot_once);
    T(a_killed_run_frees_its_slot_once);
    T(a_dead_workers_released_run_frees_its_slot_once);
    T(an_overrun_release_frees_its_slot_once);
    T(a_deleted_running_job_frees_its_slot_once);
    T(a_lapsed_lease_frees_its_slot_once);
    T(a_lone_job_of_group_b_behind_1000_of_group_a_starts_among_the_first_2);
    T(groups_take_turns_and_priority_holds_within_a_group);
    T(each_group_has_its_own_concurrency_limit);
    T(a_queue_wide_limit_is_shared_by_the_types_that_declare_it);
    T(a_hosts_rate_declaration_spaces_its_runs);
    T(a_hosts_group_declaration_serves_a_lone_group_next);
}

int main(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uuid_stamp = (unsigned long)now.tv_sec ^ ((unsigned long)now.tv_nsec << 4);
    snprintf(run_tag, sizeof run_tag, "cl%lx_%x", uuid_stamp & 0xffffffffUL, (unsigned)getpid());
    backend = "mem";
    RUN(limits_text_parses_and_refuses_garbage);
    S = zg_store_mem_new();
    if (!S) return 1;
    run_all();
    S->ops->close(S);
    redis_url = getenv("ZEROG_SPEC_REDIS");
    if (redis_url && *redis_url) {
        backend = "redis";
        zg_error err = {0};
        S = zg_store_redis_new(redis_url, 0, &err);
        if (!S) {
            printf("# connecting to %s: %s\n", redis_url, err.msg);
            return 1;
        }
        run_all();
        S->ops->close(S);
    }
    return check_done();
}
