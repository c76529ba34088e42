/* Queue backend tests: beanstalkd's semantics of put, reserve, release, delete, touch, kick,
 * delays, TTR timeouts, priorities, per-message stats and per-queue counts. Written against the
 * queue interface (queue.h); run here on the in-memory backend. */
#include <stdlib.h>

#include "check.h"
#include "clock.h"
#include "queue.h"

static zg_queue *q;

static int64_t put(const char *queue, const char *body, int64_t pri, int64_t delay_ms, int64_t ttr_ms)
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
    CHECK_INT(reserve("empty", 0, &m), ZG_ETIMEDOUT);
}

static void test_put_then_reserve_gives_the_body_and_counts(void)
{
    int64_t id = put("q1", "uuid-1", 10, 0, 1000);
    CHECK(id > 0);
    CHECK_INT(counts("q1").ready, 1);
    zg_message m;
    CHECK_INT(reserve("q1", 0, &m), ZG_OK);
    CHECK_STR(m.body, "uuid-1");
    CHECK_STR(m.queue, "q1");
    CHECK_INT(m.id, id);
    CHECK_INT(m.reserves, 1);
    CHECK_INT(counts("q1").ready, 0);
    CHECK_INT(counts("q1").reserved, 1);
    zg_error err = {0};
    CHECK_INT(q->ops->remove(q, m.queue, m.id, m.reservation, &err), ZG_OK);
    CHECK_INT(counts("q1").reserved, 0);
    zg_message_clear(&m);
}

static void test_lower_priority_first_then_fifo(void)
{
    put("q2", "b", 5, 0, 1000);
    put("q2", "a", 1, 0, 1000);
    put("q2", "c", 5, 0, 1000);
    const char *want[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        zg_message m;
        reserve("q2", 0, &m);
        CHECK_STR(m.body, want[i]);
        zg_error err = {0};
        q->ops->remove(q, m.queue, m.id, m.reservation, &err);
        zg_message_clear(&m);
    }
}

static void test_reserve_from_several_queues_takes_the_most_urgent(void)
{
    put("qa", "low", 9, 0, 1000);
    put("qb", "high", 2, 0, 1000);
    zg_message m;
    zg_error err = {0};
    const char *names[] = {"qa", "qb"};
    CHECK_INT(q->ops->reserve(q, names, 2, 0, &m, &err), ZG_OK);
    CHECK_STR(m.body, "high");
    CHECK_STR(m.queue, "qb");
    q->ops->remove(q, m.queue, m.id, m.reservation, &err);
    zg_message_clear(&m);
    drain("qa");
}

static void test_a_delayed_message_is_ready_after_its_delay(void)
{
    int64_t id = put("q3", "later", 1, 150, 1000);
    zg_message m;
    CHECK_INT(reserve("q3", 0, &m), ZG_ETIMEDOUT);
    CHECK_INT(counts("q3").delayed, 1);
    zg_message_stats st;
    zg_error err = {0};
    q->ops->stats(q, "q3", id, &st, &err);
    CHECK_INT(st.state, ZG_MSG_DELAYED);
    CHECK(st.time_left_ms > 0 && st.time_left_ms <= 150);
    CHECK_INT(reserve("q3", 2000, &m), ZG_OK); /* a blocking reserve waits for it */
    CHECK_STR(m.body, "later");
    q->ops->remove(q, m.queue, m.id, m.reservation, &err);
    zg_message_clear(&m);
}

static void test_release_with_a_delay_counts_a_release(void)
{
    int64_t id = put("q4", "r", 1, 0, 1000);
    zg_message m;
    zg_error err = {0};
    reserve("q4", 0, &m);
    CHECK_INT(q->ops->release(q, m.queue, m.id, m.reservation, 5000, &err), ZG_OK);
    zg_message_stats st;
    q->ops->stats(q, "q4", id, &st, &err);
    CHECK_INT(st.state, ZG_MSG_DELAYED);
    CHECK_INT(st.releases, 1);
    CHECK_INT(counts("q4").delayed, 1);
    zg_message_clear(&m);
    int64_t kicked = 0;
    CHECK_INT(q->ops->kick(q, "q4", &kicked, &err), ZG_OK);
    CHECK_INT(kicked, 1);
    CHECK_INT(counts("q4").ready, 1);
    drain("q4");
}

static void test_a_lapsed_ttr_makes_it_ready_with_a_timeout(void)
{
    int64_t id = put("q5", "slow", 1, 0, 100);
    zg_message m;
    zg_error err = {0};
    reserve("q5", 0, &m);
    zg_clock_sleep_ms(150);
    zg_message_stats st;
    q->ops->stats(q, "q5", id, &st, &err);
    CHECK_INT(st.state, ZG_MSG_READY);
    CHECK_INT(st.timeouts, 1);
    /* the old reservation can no longer settle it */
    CHECK_INT(q->ops->remove(q, m.queue, m.id, m.reservation, &err), ZG_ESTALE);
    CHECK_INT(q->ops->release(q, m.queue, m.id, m.reservation, 0, &err), ZG_ESTALE);
    CHECK_INT(q->ops->touch(q, m.queue, m.id, m.reservation, &err), ZG_ESTALE);
    zg_message again;
    CHECK_INT(reserve("q5", 0, &again), ZG_OK);
    CHECK_INT(again.reserves, 2);
    CHECK_INT(again.timeouts, 1);
    CHECK(again.reservation != m.reservation);
    CHECK_INT(q->ops->remove(q, again.queue, again.id, again.reservation, &err), ZG_OK);
    zg_message_clear(&m);
    zg_message_clear(&again);
}

static void test_touch_renews_the_reservation(void)
{
    int64_t id = put("q6", "busy", 1, 0, 200);
    zg_message m;
    zg_error err = {0};
    reserve("q6", 0, &m);
    for (int i = 0; i < 4; i++) {
        zg_clock_sleep_ms(100);
        CHECK_INT(q->ops->touch(q, m.queue, m.id, m.reservation, &err), ZG_OK);
    }
    zg_message_stats st;
    q->ops->stats(q, "q6", id, &st, &err);
    CHECK_INT(st.state, ZG_MSG_RESERVED);
    CHECK_INT(st.timeouts, 0);
    CHECK_INT(q->ops->remove(q, m.queue, m.id, m.reservation, &err), ZG_OK);
    zg_message_clear(&m);
}

static void test_blocking_reserve_waits_for_a_lapsed_reservation(void)
{
    put("q7", "retry", 1, 0, 100);
    zg_message m, again;
    zg_error err = {0};
    reserve("q7", 0, &m);
    CHECK_INT(reserve("q7", 2000, &again), ZG_OK);
    CHECK_INT(again.timeouts, 1);
    q->ops->remove(q, again.queue, again.id, again.reservation, &err);
    zg_message_clear(&m);
    zg_message_clear(&again);
}

static void test_operations_on_unknown_ids_are_not_found(void)
{
    zg_error err = {0};
    zg_message_stats st;
    CHECK_INT(q->ops->stats(q, "q1", 999999, &st, &err), ZG_ENOTFOUND);
    CHECK_INT(q->ops->stats(q, "no_such_queue", 1, &st, &err), ZG_ENOTFOUND);
    CHECK_INT(q->ops->remove(q, "q1", 999999, 1, &err), ZG_ENOTFOUND);
    CHECK_INT(q->ops->discard(q, "q1", 999999, &err), ZG_ENOTFOUND);
}

static void test_many_messages_keep_their_order(void)
{
    for (int i = 0; i < 5000; i++) {
        char body[16];
        snprintf(body, sizeof body, "%d", i);
        put("q8", body, (i % 7), 0, 1000);
    }
    int64_t last_pri = -1, last_id = 0, n = 0;
    zg_message m;
    zg_error err = {0};
    while (reserve("q8", 0, &m) == ZG_OK) {
        CHECK(m.priority > last_pri || (m.priority == last_pri && m.id > last_id));
        last_pri = m.priority;
        last_id = m.id;
        n++;
        q->ops->remove(q, m.queue, m.id, m.reservation, &err);
        zg_message_clear(&m);
    }
    CHECK_INT(n, 5000);
}

int main(void)
{
    q = zg_queue_mem_new();
    printf("# backend mem://\n");
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
    RUN(test_many_messages_keep_their_order);
    q->ops->close(q);
    return check_done();
}
