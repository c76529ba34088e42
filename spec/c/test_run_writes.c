/* run_writes: the log of a run's acknowledged writes, given again to a store that lost them.
 * On mem:// (the store the writes go back to; the chain itself is Redis's to check, in
 * test_lifecycle and test_store_errors): kept writes replayed in order under the run's lease;
 * past the cap the oldest go; adopts given again as adopts; clear forgets. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lifecycle.h"
#include "run_writes.h"

#define FIELDS1(n1, v1) ((zg_fields){1, (const char *const[]){n1}, (const char *const[]){v1}})
#define FIELDS0         ((zg_fields){0, NULL, NULL})

static zg_store *S;

/* A job of queue q claimed: its claim in *c. */
static void claimed_job(const char *q, zg_claim *c)
{
    zg_new_job j = {.uuid = "6f1c1e0a-0000-4000-8000-000000000001",
                    .job_type = "T",
                    .queue = q,
                    .fields = FIELDS1("a", "0"),
                    .ttr_ms = 5000};
    zg_error err = {0};
    CHECK_INT(S->ops->submit(S, &j, 1, "spec", &err), ZG_OK);
    const char *queues[] = {q}, *types[] = {"T"};
    zg_claim_req req = {queues, 1, types, 1, NULL, 0};
    CHECK_INT(S->ops->claim(S, &req, 0, "spec", 0, c, &err), ZG_OK);
}

static char *doc_of(const char *uuid)
{
    char *json = NULL;
    zg_error err = {0};
    return S->ops->load(S, uuid, &json, NULL, &err) == ZG_OK ? json : NULL;
}

static void kept_writes_are_written_again_in_order(void)
{
    S = zg_store_mem_new();
    zg_claim c;
    claimed_job("replay", &c);
    zg_run_writes w = {0};
    zg_run_writes_keep(&w, 5, FIELDS1("a", "1"), -1, NULL, NULL);
    zg_run_writes_keep(&w, 6, FIELDS0, ZG_LIST_EVENTS, "{\"msg\":\"done\"}", NULL);
    zg_run_writes_keep(&w, 7, FIELDS1("a", "2"), ZG_LIST_ERRORS, "{\"msg\":\"oops\"}",
                       "errorCount");
    CHECK_INT(w.last_seq, 7);
    CHECK_INT(w.n, 3);
    zg_error err = {0};
    CHECK_INT(zg_run_writes_replay(&w, S, &c.lease, "host", &err), ZG_OK);
    char *doc = doc_of(c.lease.uuid);
    CHECK(doc && strstr(doc, "\"a\":2"));
    CHECK(doc && strstr(doc, "\"events\":[{\"msg\":\"done\"}]"));
    CHECK(doc && strstr(doc, "\"errorCount\":1"));
    free(doc);
    zg_run_writes_clear(&w);
    CHECK_INT(w.n + (size_t)w.last_seq + w.bytes, 0);
    zg_claim_clear(&c);
    S->ops->close(S);
}

/* Past its cap the log lets its oldest writes go (a failover loses the newest): the newest are
 * kept, the newest let go is named (a replay starts its chain there), and every write still
 * counts for the run's chain. */
static void past_its_cap_the_oldest_writes_go(void)
{
    S = zg_store_mem_new();
    zg_claim c;
    claimed_job("capped", &c);
    zg_run_writes w = {0};
    size_t big = ZG_RUN_WRITES_MAX_BYTES / 8;
    char *entry = malloc(big + 1); /* {"msg":"xx...x"} */
    memset(entry, 'x', big);
    memcpy(entry, "{\"msg\":\"", 8);
    memcpy(entry + big - 2, "\"}", 3);
    for (int64_t seq = 1; seq <= 12; seq++)
        zg_run_writes_keep(&w, seq, FIELDS0, ZG_LIST_EVENTS, entry, NULL);
    zg_run_writes_keep(&w, 13, FIELDS1("a", "13"), -1, NULL, NULL);
    CHECK(w.bytes <= ZG_RUN_WRITES_MAX_BYTES);
    CHECK_INT(w.last_seq, 13);
    CHECK_INT(w.n - w.head, 8); /* 7 entries of an eighth of the cap, and the last write */
    CHECK_INT(w.dropped_seq, 5);
    zg_error err = {0};
    CHECK_INT(zg_run_writes_replay(&w, S, &c.lease, "host", &err), ZG_OK);
    char *doc = doc_of(c.lease.uuid);
    CHECK(doc && strstr(doc, "\"a\":13"));
    size_t entries = 0;
    for (const char *at = doc; at && (at = strstr(at, "xxxxxxxx\"}")); at++)
        entries++;
    CHECK_INT(entries, 7);
    free(doc);
    /* a write larger than the cap is not kept, and named as let go */
    char *huge = malloc(ZG_RUN_WRITES_MAX_BYTES + 1);
    memset(huge, 'y', ZG_RUN_WRITES_MAX_BYTES);
    huge[ZG_RUN_WRITES_MAX_BYTES] = '\0';
    zg_run_writes_keep(&w, 14, FIELDS0, ZG_LIST_EVENTS, huge, NULL);
    CHECK_INT(w.n - w.head, 0);
    CHECK_INT(w.dropped_seq, 14);
    CHECK_INT(w.last_seq, 14);
    CHECK_INT(w.bytes, 0);
    /* and the log goes on keeping what comes after it, in a compacted array */
    for (int64_t seq = 15; seq <= 40; seq++)
        zg_run_writes_keep(&w, seq, FIELDS1("a", "1"), -1, NULL, NULL);
    CHECK_INT(w.n - w.head, 26);
    free(huge);
    free(entry);
    zg_run_writes_clear(&w);
    CHECK_INT(w.n + w.head + (size_t)w.dropped_seq + (size_t)w.last_seq, 0);
    zg_claim_clear(&c);
    S->ops->close(S);
}

/* An adopt kept is given again as an adopt: the children registered once. */
static void an_adopt_is_written_again_as_an_adopt(void)
{
    S = zg_store_mem_new();
    zg_claim c;
    claimed_job("adopt", &c);
    zg_run_writes w = {0};
    zg_child kids[2] = {{"00000000-0000-4000-8000-0000000000k1", "{\"n\":1}", 0},
                        {"00000000-0000-4000-8000-0000000000k2", "{\"n\":2}", 1}};
    zg_run_writes_keep_adopt(&w, 3, kids, 2);
    zg_error err = {0};
    CHECK_INT(zg_run_writes_replay(&w, S, &c.lease, "host", &err), ZG_OK);
    CHECK_INT(zg_run_writes_replay(&w, S, &c.lease, "host", &err), ZG_OK);
    char *json = NULL;
    CHECK_INT(S->ops->children(S, "adopt", c.lease.uuid, 0, &json, NULL, &err), ZG_OK);
    CHECK(json && strstr(json, "{\"n\":1}") && strstr(json, "{\"n\":2}"));
    CHECK(json && strstr(strstr(json, "{\"n\":1}") + 1, "{\"n\":1}") == NULL); /* once */
    free(json);
    zg_run_writes_clear(&w);
    zg_claim_clear(&c);
    S->ops->close(S);
}

static void a_replay_under_a_lost_lease_is_refused(void)
{
    S = zg_store_mem_new();
    zg_claim c;
    claimed_job("stale", &c);
    zg_run_writes w = {0};
    zg_run_writes_keep(&w, 3, FIELDS1("a", "1"), -1, NULL, NULL);
    zg_lease other = c.lease;
    other.token += 1000;
    zg_error err = {0};
    CHECK_INT(zg_run_writes_replay(&w, S, &other, "host", &err), ZG_ESTALE);
    char *doc = doc_of(c.lease.uuid);
    CHECK(doc && strstr(doc, "\"a\":0"));
    free(doc);
    zg_run_writes_clear(&w);
    zg_claim_clear(&c);
    S->ops->close(S);
}

int main(void)
{
    RUN(kept_writes_are_written_again_in_order);
    RUN(past_its_cap_the_oldest_writes_go);
    RUN(an_adopt_is_written_again_as_an_adopt);
    RUN(a_replay_under_a_lost_lease_is_refused);
    return check_done();
}
