/* Store backend tests: CAS saves, appends, the assembled document, expiry, isolation. Written
 * against the store interface (store.h), they run on the in-memory backend and, when
 * ZEROG_SPEC_REDIS names a Redis, on the Redis backend: one suite for both. */
#include <stdlib.h>

#include "check.h"
#include "clock.h"
#include "redis_conn.h"
#include "store.h"

static zg_store *store;
static char run_tag[40]; /* keys are unique per run and backend */

/* The store key for a test's short name (a few buffers, so several can be used at once). */
static const char *K(const char *name)
{
    static char bufs[4][128];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, 128, "zerog_job_%s_%s", run_tag, name);
    return b;
}

static int save1(const char *key, const char *name, const char *value, int64_t expected,
                 int64_t *cas)
{
    zg_error err = {0};
    const char *names[] = {name}, *values[] = {value};
    return store->ops->save(store, key, 1, names, values, expected, 0, cas, &err);
}

static char *load(const char *key)
{
    char *json = NULL;
    zg_error err = {0};
    return store->ops->load(store, key, &json, &err) == ZG_OK ? json : NULL;
}

static void test_load_of_a_missing_key_is_not_found(void)
{
    char *json = NULL;
    zg_error err = {0};
    CHECK_INT(store->ops->load(store, K("missing"), &json, &err), ZG_ENOTFOUND);
    CHECK(json == NULL);
}

static void test_create_with_cas_0_then_load_assembles_the_document(void)
{
    int64_t cas = 0;
    CHECK_INT(save1(K("k1"), "a", "\"x\"", 0, &cas), ZG_OK);
    CHECK_INT(cas, 1);
    char *json = load(K("k1"));
    CHECK_STR(json, "{\"cas\":1,\"a\":\"x\",\"events\":[],\"warnings\":[],\"errors\":[]}");
    free(json);
}

static void test_create_of_an_existing_key_is_a_cas_error(void)
{
    int64_t cas = 0;
    save1(K("k2"), "a", "1", 0, &cas);
    CHECK_INT(save1(K("k2"), "a", "2", 0, &cas), ZG_ECAS);
    CHECK_INT(cas, 1); /* the stored cas is reported */
}

static void test_save_with_a_stale_cas_fails_and_changes_nothing(void)
{
    int64_t cas = 0;
    save1(K("k3"), "a", "1", 0, &cas);
    save1(K("k3"), "a", "2", 1, &cas);
    CHECK_INT(cas, 2);
    CHECK_INT(save1(K("k3"), "a", "3", 1, &cas), ZG_ECAS);
    CHECK_INT(cas, 2);
    char *json = load(K("k3"));
    CHECK_STR(json, "{\"cas\":2,\"a\":2,\"events\":[],\"warnings\":[],\"errors\":[]}");
    free(json);
}

static void test_save_writes_only_the_named_fields(void)
{
    int64_t cas = 0;
    zg_error err = {0};
    const char *names[] = {"a", "b"}, *values[] = {"1", "2"};
    store->ops->save(store, K("k4"), 2, names, values, 0, 0, &cas, &err);
    save1(K("k4"), "b", "3", cas, &cas);
    char *json = load(K("k4"));
    CHECK_STR(json, "{\"cas\":2,\"a\":1,\"b\":3,\"events\":[],\"warnings\":[],\"errors\":[]}");
    free(json);
}

static void test_append_adds_an_entry_stamps_and_bumps_the_cas(void)
{
    int64_t cas = 0, prev = 0;
    zg_error err = {0};
    save1(K("k5"), "updatedAt", "\"t0\"", 0, &cas);
    CHECK_INT(store->ops->append(store, K("k5"), "events", "{\"msg\":\"e1\"}", "updatedAt",
                                 "\"t1\"", NULL, &prev, &cas, &err),
              ZG_OK);
    CHECK_INT(prev, 1);
    CHECK_INT(cas, 2);
    store->ops->append(store, K("k5"), "errors", "{\"msg\":\"x\"}", "updatedAt", "\"t2\"",
                       "errorCount", &prev, &cas, &err);
    store->ops->append(store, K("k5"), "errors", "{\"msg\":\"y\"}", "updatedAt", "\"t3\"",
                       "errorCount", &prev, &cas, &err);
    char *json = load(K("k5"));
    CHECK_STR(json,
              "{\"cas\":4,\"updatedAt\":\"t3\",\"errorCount\":2,\"events\":[{\"msg\":\"e1\"}],"
              "\"warnings\":[],\"errors\":[{\"msg\":\"x\"},{\"msg\":\"y\"}]}");
    free(json);
}

static void test_append_to_a_missing_document_is_not_found(void)
{
    int64_t cas = 0, prev = 0;
    zg_error err = {0};
    CHECK_INT(store->ops->append(store, K("nope"), "events", "{}", "updatedAt", "\"t\"", NULL,
                                 &prev, &cas, &err),
              ZG_ENOTFOUND);
}

static int many_appends = 100000;

static void test_a_long_list_keeps_every_entry(void)
{
    /* appends do not rewrite the document: this many stay cheap (the cost per append at 10 and at
     * 100,000 entries is measured by `make bench`) */
    int64_t cas = 0, prev = 0;
    zg_error err = {0};
    save1(K("k6"), "updatedAt", "\"t\"", 0, &cas);
    for (int i = 0; i < many_appends; i++)
        store->ops->append(store, K("k6"), "events", "{\"msg\":\"e\"}", "updatedAt", "\"t\"", NULL,
                           &prev, &cas, &err);
    CHECK_INT(cas, many_appends + 1);
    char *json = load(K("k6"));
    CHECK(json && strlen(json) > (size_t)many_appends * 12);
    free(json);
}

static void test_expire_deletes_the_document_after_its_time(void)
{
    int64_t cas = 0;
    zg_error err = {0};
    save1(K("k7"), "a", "1", 0, &cas);
    CHECK_INT(store->ops->expire(store, K("k7"), 1, &err), ZG_OK);
    char *json = load(K("k7"));
    CHECK(json != NULL);
    free(json);
    zg_clock_sleep_ms(1100);
    CHECK(load(K("k7")) == NULL);
}

static void test_expire_0_keeps_it_forever(void)
{
    int64_t cas = 0;
    zg_error err = {0};
    save1(K("k8"), "a", "1", 0, &cas);
    store->ops->expire(store, K("k8"), 1, &err);
    store->ops->expire(store, K("k8"), 0, &err);
    zg_clock_sleep_ms(1100);
    char *json = load(K("k8"));
    CHECK(json != NULL);
    free(json);
}

static void test_a_save_can_start_the_documents_expiry(void)
{
    int64_t cas = 0, prev = 0;
    zg_error err = {0};
    const char *names[] = {"resultCode"}, *values[] = {"200"};
    save1(K("k9"), "a", "1", 0, &cas);
    store->ops->append(store, K("k9"), "events", "{}", "updatedAt", "\"t\"", NULL, &prev, &cas,
                       &err);
    CHECK_INT(store->ops->save(store, K("k9"), 1, names, values, cas, 1, &cas, &err), ZG_OK);
    char *json = load(K("k9"));
    CHECK(json != NULL);
    free(json);
    zg_clock_sleep_ms(2100);
    CHECK(load(K("k9")) == NULL);
}

static void test_two_stores_do_not_share_documents(void)
{
    zg_store *other = zg_store_mem_new();
    int64_t cas = 0;
    save1(K("shared_key"), "a", "1", 0, &cas);
    char *json = NULL;
    zg_error err = {0};
    CHECK_INT(other->ops->load(other, K("shared_key"), &json, &err), ZG_ENOTFOUND);
    other->ops->close(other);
}

static void run_all(const char *backend)
{
    printf("# backend %s\n", backend);
    RUN(test_load_of_a_missing_key_is_not_found);
    RUN(test_create_with_cas_0_then_load_assembles_the_document);
    RUN(test_create_of_an_existing_key_is_a_cas_error);
    RUN(test_save_with_a_stale_cas_fails_and_changes_nothing);
    RUN(test_save_writes_only_the_named_fields);
    RUN(test_append_adds_an_entry_stamps_and_bumps_the_cas);
    RUN(test_append_to_a_missing_document_is_not_found);
    RUN(test_a_long_list_keeps_every_entry);
    RUN(test_expire_deletes_the_document_after_its_time);
    RUN(test_expire_0_keeps_it_forever);
    RUN(test_a_save_can_start_the_documents_expiry);
}

int main(void)
{
    char token[33];
    zg_redis_token(token);
    snprintf(run_tag, sizeof run_tag, "mem_%.8s", token);
    store = zg_store_mem_new();
    run_all("mem://");
    RUN(test_two_stores_do_not_share_documents);
    store->ops->close(store);

    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) {
        zg_error err = {0};
        snprintf(run_tag, sizeof run_tag, "redis_%.8s", token);
        many_appends = 20000; /* one round trip each */
        store = zg_store_redis_new(url, &err);
        if (!store) {
            printf("not ok - connect to %s: %s\n", url, err.msg);
            return 1;
        }
        run_all(url);
        store->ops->close(store);
    }
    return check_done();
}
