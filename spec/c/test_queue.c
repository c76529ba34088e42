/* Queue backend tests: beanstalkd's semantics of put, reserve, release, delete, touch, kick,
 * delays, TTR timeouts, priorities, per-message stats and per-queue counts. Written against the
 * queue interface (queue.h), they run on the in-memory backend and, when ZEROG_SPEC_REDIS names a
 * Redis, on the Redis backend. */
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "clock.h"
#include "queue.h"
#include "redis_conn.h"

static zg_queue *q;
static char run_tag[40]; /* queue names are unique per run and backend */

/* The queue name for a test's short name (a few buffers, so several can be used at once). */
static const char *Q(const char *name)
{
    static char bufs[4][128];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, 128, "%s_%s", run_tag, name);
    return b;
}

static int64_t put(const char *queue, const char *body, int64_t pri, int64_t delay_ms,
                   int64_t ttr_ms)
{
    int64_t id = 0;
    zg_error err = {0};
    CHECK_INT(q->ops->put(q, queue, body, pri, delay_ms, ttr_ms, &id, &err), ZG_OK);
    return id;
}

static int reserve(const char *queue, int64_t timeout_ms, zg_message *m)
{
    zg_error err = {0};
    const char *names[] = {queue};
    return q->ops->reserve(q, names, 1, timeout_ms, m, &err);
}

static zg_queue_counts counts(const char *queue)
{
    zg_queue_counts c;
    zg_error err = {0};
    q->ops->counts(q, queue, &c, &err);
    return c;
}

static void drain(const char *queue)
{
    zg_message m;
    zg_error err = {0};
    while (reserve(queue, 0, &m) == ZG_OK) {
        q->ops->remove(q, m.queue, m.id, m.reservation, &err);
        zg_message_clear(&m);
    }
}

static void test_reserve_on_an_empty_queue_times_out(void)
{
    zg_message m;
    CHECK_INT(reserve(Q("empty"), 0, &m), ZG_ETIMEDOUT);
}

static void test_put_then_reserve_gives_the_body_and_counts(void)
{
    int64_t id = put(Q("q1"), "uuid-1", 10, 0, 1000);
    CHECK(id > 0);
    CHECK_INT(counts(Q("q1")).ready, 1);
    zg_message m;
    CHECK_INT(reserve(Q("q1"), 0, &m), ZG_OK);
    CHECK_STR(m.body, "uuid-1");
    CHECK_STR(m.queue, Q("q1"));
    CHECK_INT(m.id, id);
    CHECK_INT(m.reserves, 1);
    CHECK_INT(counts(Q("q1")).ready, 0);
    CHECK_INT(counts(Q("q1")).reserved, 1);
    zg_error err = {0};
    CHECK_INT(q->ops->remove(q, m.queue, m.id, m.reservation, &err), ZG_OK);
    CHECK_INT(counts(Q("q1")).reserved, 0);
    zg_message_clear(&m);
}

static void test_lower_priority_first_then_fifo(void)
{
    put(Q("q2"), "b", 5, 0, 1000);
    put(Q("q2"), "a", 1, 0, 1000);
    put(Q("q2"), "c", 5, 0, 1000);
    const char *want[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        zg_message m;
        reserve(Q("q2"), 0, &m);
        CHECK_STR(m.body, want[i]);
        zg_error err = {0};
        q->ops->remove(q, m.queue, m.id, m.reservation, &err);
        zg_message_clear(&m);
    }
}

static void test_reserve_from_several_queues_takes_the_most_urgent(void)
{
    put(Q("qa"), "low", 9, 0, 1000);
    put(Q("qb"), "high", 2, 0, 1000);
    zg_message m;
    zg_error err = {0};
    const char *names[] = {Q("qa"), Q("qb")};
    CHECK_INT(q->ops->reserve(q, names, 2, 0, &m, &err), ZG_OK);
    CHECK_STR(m.body, "high");
    CHECK_STR(m.queue, Q("qb"));
    q->ops->remove(q, m.queue, m.id, m.reservation, &err);
    zg_message_clear(&m);
    drain(Q("qa"));
}

static void test_a_delayed_message_is_ready_after_its_delay(void)
{
    int64_t id = put(Q("q3"), "later", 1, 150, 1000);
    zg_message m;
    CHECK_INT(reserve(Q("q3"), 0, &m), ZG_ETIMEDOUT);
    CHECK_INT(counts(Q("q3")).delayed, 1);
    zg_message_stats st;
    zg_error err = {0};
    q->ops->stats(q, Q("q3"), id, &st, &err);
    CHECK_INT(st.state, ZG_MSG_DELAYED);
    CHECK(st.time_left_ms > 0 && st.time_left_ms <= 150);
    CHECK_INT(reserve(Q("q3"), 2000, &m), ZG_OK); /* a blocking reserve waits for it */
    CHECK_STR(m.body, "later");
    q->ops->remove(q, m.queue, m.id, m.reservation, &err);
    zg_message_clear(&m);
}

static void test_release_with_a_delay_counts_a_release(void)
{
    int64_t id = put(Q("q4"), "r", 1, 0, 1000);
    zg_message m;
    zg_error err = {0};
    reserve(Q("q4"), 0, &m);
    CHECK_INT(q->ops->release(q, m.queue, m.id, m.reservation, 5000, &err), ZG_OK);
    zg_message_stats st;
    q->ops->stats(q, Q("q4"), id, &st, &err);
    CHECK_INT(st.state, ZG_MSG_DELAYED);
    CHECK_INT(st.releases, 1);
    CHECK_INT(counts(Q("q4")).delayed, 1);
    zg_message_clear(&m);
    int64_t kicked = 0;
    CHECK_INT(q->ops->kick(q, Q("q4"), &kicked, &err), ZG_OK);
    CHECK_INT(kicked, 1);
    CHECK_INT(counts(Q("q4")).ready, 1);
    drain(Q("q4"));
}

static void test_a_lapsed_ttr_makes_it_ready_with_a_timeout(void)
{
    int64_t id = put(Q("q5"), "slow", 1, 0, 100);
    zg_message m;
    zg_error err = {0};
    reserve(Q("q5"), 0, &m);
    zg_clock_sleep_ms(150);
    zg_message_stats st;
    q->ops->stats(q, Q("q5"), id, &st, &err);
    CHECK_INT(st.state, ZG_MSG_READY);
    CHECK_INT(st.timeouts, 1);
    /* the old reservation can no longer settle it */
    CHECK_INT(q->ops->remove(q, m.queue, m.id, m.reservation, &err), ZG_ESTALE);
    CHECK_INT(q->ops->release(q, m.queue, m.id, m.reservation, 0, &err), ZG_ESTALE);
    CHECK_INT(q->ops->touch(q, m.queue, m.id, m.reservation, &err), ZG_ESTALE);
    zg_message again;
    CHECK_INT(reserve(Q("q5"), 0, &again), ZG_OK);
    CHECK_INT(again.reserves, 2);
    CHECK_INT(again.timeouts, 1);
    CHECK(again.reservation != m.reservation);
    CHECK_INT(q->ops->remove(q, again.queue, again.id, again.reservation, &err), ZG_OK);
    zg_message_clear(&m);
    zg_message_clear(&again);
}

static void test_touch_renews_the_reservation(void)
{
    int64_t id = put(Q("q6"), "busy", 1, 0, 200);
    zg_message m;
    zg_error err = {0};
    reserve(Q("q6"), 0, &m);
    for (int i = 0; i < 4; i++) {
        zg_clock_sleep_ms(100);
        CHECK_INT(q->ops->touch(q, m.queue, m.id, m.reservation, &err), ZG_OK);
    }
    zg_message_stats st;
    q->ops->stats(q, Q("q6"), id, &st, &err);
    CHECK_INT(st.state, ZG_MSG_RESERVED);
    CHECK_INT(st.timeouts, 0);
    CHECK_INT(q->ops->remove(q, m.queue, m.id, m.reservation, &err), ZG_OK);
    zg_message_clear(&m);
}

static void test_blocking_reserve_waits_for_a_lapsed_reservation(void)
{
    put(Q("q7"), "retry", 1, 0, 100);
    zg_message m, again;
    zg_error err = {0};
    reserve(Q("q7"), 0, &m);
    CHECK_INT(reserve(Q("q7"), 2000, &again), ZG_OK);
    CHECK_INT(again.timeouts, 1);
    q->ops->remove(q, again.queue, again.id, again.reservation, &err);
    zg_message_clear(&m);
    zg_message_clear(&again);
}

static void test_operations_on_unknown_ids_are_not_found(void)
{
    zg_error err = {0};
    zg_message_stats st;
    CHECK_INT(q->ops->stats(q, Q("q1"), 999999, &st, &err), ZG_ENOTFOUND);
    CHECK_INT(q->ops->stats(q, Q("no_such_queue"), 1, &st, &err), ZG_ENOTFOUND);
    CHECK_INT(q->ops->remove(q, Q("q1"), 999999, 1, &err), ZG_ENOTFOUND);
    CHECK_INT(q->ops->discard(q, Q("q1"), 999999, &err), ZG_ENOTFOUND);
}

static void test_discard_deletes_in_any_state(void)
{
    int64_t ready = put(Q("q9"), "a", 1, 0, 1000), delayed = put(Q("q9"), "b", 1, 60000, 1000);
    zg_error err = {0};
    CHECK_INT(q->ops->discard(q, Q("q9"), ready, &err), ZG_OK);
    CHECK_INT(q->ops->discard(q, Q("q9"), delayed, &err), ZG_OK);
    int64_t reserved = put(Q("q9"), "c", 1, 0, 1000);
    zg_message m;
    reserve(Q("q9"), 0, &m);
    CHECK_INT(q->ops->discard(q, Q("q9"), reserved, &err), ZG_OK);
    /* the consumer that held it finds it gone */
    CHECK_INT(q->ops->touch(q, m.queue, m.id, m.reservation, &err), ZG_ENOTFOUND);
    zg_queue_counts c = counts(Q("q9"));
    CHECK_INT(c.ready + c.delayed + c.reserved, 0);
    zg_message_clear(&m);
}

/* A put on an idle queue wakes a blocked reserve within milliseconds (no polling). */
typedef struct putter_arg {
    const char *url, *queue;
} putter_arg;

static void *putter(void *p)
{
    putter_arg *a = p;
    zg_error err = {0};
    zg_queue *other = zg_queue_redis_new(a->url, &err);
    zg_clock_sleep_ms(300);
    int64_t id;
    other->ops->put(other, a->queue, "woken", 1, 0, 1000, &id, &err);
    other->ops->close(other);
    return NULL;
}

static void test_reserve_wakes_up_on_put_from_another_connection(void)
{
    putter_arg a = {getenv("ZEROG_SPEC_REDIS"), Q("wake")};
    pthread_t t;
    pthread_create(&t, NULL, putter, &a);
    zg_message m;
    int64_t start = zg_clock_monotonic_ms();
    CHECK_INT(reserve(Q("wake"), 10000, &m), ZG_OK);
    int64_t waited = zg_clock_monotonic_ms() - start;
    pthread_join(t, NULL);
    CHECK_STR(m.body, "woken");
    /* woken by the put at ~300 ms, long before the 10 s timeout */
    CHECK(waited < 3000);
    zg_error err = {0};
    q->ops->remove(q, m.queue, m.id, m.reservation, &err);
    zg_message_clear(&m);
}

static void test_many_messages_keep_their_order(void)
{
    for (int i = 0; i < 5000; i++) {
        char body[16];
        snprintf(body, sizeof body, "%d", i);
        put(Q("q8"), body, (i % 7), 0, 1000);
    }
    int64_t last_pri = -1, last_id = 0, n = 0;
    zg_message m;
    zg_error err = {0};
    while (reserve(Q("q8"), 0, &m) == ZG_OK) {
        CHECK(m.priority > last_pri || (m.priority == last_pri && m.id > last_id));
        last_pri = m.priority;
        last_id = m.id;
        n++;
        q->ops->remove(q, m.queue, m.id, m.reservation, &err);
        zg_message_clear(&m);
    }
    CHECK_INT(n, 5000);
}

static void run_all(const char *backend)
{
    printf("# backend %s\n", backend);
    RUN(test_reserve_on_an_empty_queue_times_out);
    RUN(test_put_then_reserve_gives_the_body_and_counts);
    RUN(test_lower_priority_first_then_fifo);
    RUN(test_reserve_from_several_queues_takes_the_most_urgent);
    RUN(test_a_delayed_message_is_ready_after_its_delay);
    RUN(test_release_with_a_delay_counts_a_release);
    RUN(test_a_lapsed_ttr_makes_it_ready_with_a_timeout);
    RUN(test_touch_renews_the_reservation);
    RUN(test_blocking_reserve_waits_for_a_lapsed_reservation);
    RUN(test_operations_on_unknown_ids_are_not_found);
    RUN(test_discard_deletes_in_any_state);
    RUN(test_many_messages_keep_their_order);
}

int main(void)
{
    char token[33];
    zg_redis_token(token);
    snprintf(run_tag, sizeof run_tag, "mem_%.8s", token);
    q = zg_queue_mem_new();
    run_all("mem://");
    q->ops->close(q);

    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) {
        zg_error err = {0};
        snprintf(run_tag, sizeof run_tag, "redis_%.8s", token);
        q = zg_queue_redis_new(url, &err);
        if (!q) {
            printf("not ok - connect to %s: %s\n", url, err.msg);
            return 1;
        }
        run_all(url);
        RUN(test_reserve_wakes_up_on_put_from_another_connection);
        q->ops->close(q);
    }
    return check_done();
}
