/* redis_conn's pipelines on the private Redis of spec/run (ZEROG_SPEC_REDIS): what a pipeline
 * sends on its own (RESP written into the connection's buffer, send(2)) and what it keeps. */
#include <hiredis/hiredis.h>

#include "check.h"
#include "redis_conn.h"

static const char *redis_url;

/* A value of key as a number (-1: none, or the call failed). */
static long long get_number(zg_redis *r, const char *key)
{
    const char *argv[] = {"GET", key};
    zg_error err = {0};
    redisReply *reply = zg_redis_command(r, 2, argv, NULL, 0, &err);
    long long n = reply && reply->type == REDIS_REPLY_STRING ? atoll(reply->str) : -1;
    if (reply) freeReplyObject(reply);
    return n;
}

static void del(zg_redis *r, const char *key)
{
    const char *argv[] = {"DEL", key};
    zg_error err = {0};
    redisReply *reply = zg_redis_command(r, 2, argv, NULL, 0, &err);
    if (reply) freeReplyObject(reply);
}

/* hiredis marks a connection broken without closing it (an append that ran out of memory in
 * zg_redis_send_later, a failed setsockopt in redisSetTimeout); its replies can no longer be
 * read. A pipeline must not be sent on it (it would run there, its replies lost, and run again
 * on the next connection): it goes on a new connection, once. */
static void test_a_pipeline_is_not_sent_on_a_connection_hiredis_marked_broken(void)
{
    zg_redis r;
    zg_error err = {0};
    CHECK_INT(zg_redis_open(&r, redis_url, 0, &err), ZG_OK);
    del(&r, "zg_test_conn_counter");
    r.ctx->err = REDIS_ERR_OOM;
    snprintf(r.ctx->errstr, sizeof r.ctx->errstr, "Out of memory");
    const char *incr[] = {"INCR", "zg_test_conn_counter"};
    zg_redis_call call = {NULL, 0, 2, incr, NULL};
    redisReply *reply = NULL;
    CHECK_INT(zg_redis_pipeline(&r, 1, &call, &reply, &err), ZG_OK);
    CHECK(reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1);
    if (reply) freeReplyObject(reply);
    CHECK_INT(get_number(&r, "zg_test_conn_counter"), 1);
    del(&r, "zg_test_conn_counter");
    zg_redis_close(&r);
}

/* The connection keeps its pipeline buffer from call to call (no malloc a call), but not the
 * buffer of a large pipeline (a batch, a 16 MiB field): a worker or daemon would hold the largest
 * it ever sent for the rest of its life, per connection. */
static void test_a_connection_keeps_a_small_pipeline_buffer_but_not_a_large_one(void)
{
    zg_redis r;
    zg_error err = {0};
    CHECK_INT(zg_redis_open(&r, redis_url, 0, &err), ZG_OK);
    const char *small[] = {"SET", "zg_test_conn_value", "small"};
    zg_redis_call call = {NULL, 0, 3, small, NULL};
    redisReply *reply = NULL;
    CHECK_INT(zg_redis_pipeline(&r, 1, &call, &reply, &err), ZG_OK);
    if (reply) freeReplyObject(reply);
    CHECK(r.wbuf != NULL && r.wcap > 0 && r.wcap < 4096);

    size_t big = 8u << 20;
    char *value = malloc(big);
    CHECK(value != NULL);
    if (!value) return;
    memset(value, 'x', big);
    const char *large[] = {"SET", "zg_test_conn_value", value};
    const size_t lens[] = {3, 18, big};
    zg_redis_call large_call = {NULL, 0, 3, large, lens};
    reply = NULL;
    CHECK_INT(zg_redis_pipeline(&r, 1, &large_call, &reply, &err), ZG_OK);
    CHECK(reply && reply->type == REDIS_REPLY_STATUS);
    if (reply) freeReplyObject(reply);
    CHECK(r.wcap <= (size_t)1 << 20);
    free(value);

    const char *strlen_argv[] = {"STRLEN", "zg_test_conn_value"};
    zg_redis_call len_call = {NULL, 0, 2, strlen_argv, NULL};
    reply = NULL;
    CHECK_INT(zg_redis_pipeline(&r, 1, &len_call, &reply, &err), ZG_OK);
    CHECK(reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == (long long)big);
    if (reply) freeReplyObject(reply);
    del(&r, "zg_test_conn_value");
    zg_redis_close(&r);
}

int main(void)
{
    redis_url = getenv("ZEROG_SPEC_REDIS");
    if (!redis_url || !*redis_url) {
        printf("1..0 # SKIP no Redis (ZEROG_SPEC_REDIS)\n");
        return 0;
    }
    RUN(test_a_pipeline_is_not_sent_on_a_connection_hiredis_marked_broken);
    RUN(test_a_connection_keeps_a_small_pipeline_buffer_but_not_a_large_one);
    return check_done();
}
