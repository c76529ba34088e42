/* redis_conn's pipelines on the private Redis of spec/run (ZEROG_SPEC_REDIS): what a pipeline
 * sends on its own (RESP written into the connection's buffer, send(2)) and what it keeps; and how
 * a call waits for its reply (poll(2) with the connection's timeout), against servers of the
 * test's own that answer late or never. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "redis_cluster.h"
#include "redis_conn.h"

static const char *redis_url;

/* A value of key as a number (-1: none, or the call failed). */
static long long get_number(zg_redis *r, const char *key)
{
    const char *argv[] = {"GET", key};
    zg_error err = {0};
    redisReply *reply = zg_redis_command(r, 2, argv, NULL, 0, &err);
    long long n = reply && reply->type == REDIS_REPLY_STRING ? atoll(reply->str) : -1;
    if (reply) zg_redis_reply_free(reply);
    return n;
}

/* The number of a reply (an integer reply, or -2 when the call failed). */
static long long command_number(zg_redis *r, int argc, const char **argv)
{
    zg_error err = {0};
    redisReply *reply = zg_redis_command(r, argc, argv, NULL, 0, &err);
    long long n = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -2;
    if (reply) zg_redis_reply_free(reply);
    return n;
}

static void del(zg_redis *r, const char *key)
{
    const char *argv[] = {"DEL", key};
    command_number(r, 2, argv);
}

/* A connection to the private Redis, checked. */
static void open_redis(zg_redis *r)
{
    zg_error err = {0};
    CHECK_INT(zg_redis_open(r, redis_url, 0, &err), ZG_OK);
}

/* hiredis marks a connection broken without closing it (a failed setsockopt in redisSetTimeout,
 * an append that ran out of memory); its replies can no longer be read. A pipeline must not be sent
 * on it (it would run there, its replies lost, and run again on the next connection): it goes on a
 * new connection, once. */
static void test_a_pipeline_is_not_sent_on_a_connection_hiredis_marked_broken(void)
{
    zg_redis r;
    zg_error err = {0};
    open_redis(&r);
    del(&r, "zg_test_conn_counter");
    r.ctx->err = REDIS_ERR_OOM;
    snprintf(r.ctx->errstr, sizeof r.ctx->errstr, "Out of memory");
    const char *incr[] = {"INCR", "zg_test_conn_counter"};
    zg_redis_call call = {NULL, 0, 2, incr, NULL};
    redisReply *reply = NULL;
    CHECK_INT(zg_redis_pipeline(&r, 1, &call, &reply, &err), ZG_OK);
    CHECK(reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1);
    if (reply) zg_redis_reply_free(reply);
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
    open_redis(&r);
    const char *small[] = {"SET", "zg_test_conn_value", "small"};
    zg_redis_call call = {NULL, 0, 3, small, NULL};
    redisReply *reply = NULL;
    CHECK_INT(zg_redis_pipeline(&r, 1, &call, &reply, &err), ZG_OK);
    if (reply) zg_redis_reply_free(reply);
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
    if (reply) zg_redis_reply_free(reply);
    CHECK(r.wcap <= (size_t)1 << 20);
    free(value);

    const char *strlen_argv[] = {"STRLEN", "zg_test_conn_value"};
    zg_redis_call len_call = {NULL, 0, 2, strlen_argv, NULL};
    reply = NULL;
    CHECK_INT(zg_redis_pipeline(&r, 1, &len_call, &reply, &err), ZG_OK);
    CHECK(reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == (long long)big);
    if (reply) zg_redis_reply_free(reply);
    del(&r, "zg_test_conn_value");
    zg_redis_close(&r);
}

/* A unix socket listening at a new path under /tmp (its folder in dir): the fd, -1 on failure
 * (a failed check). */
static int listen_unix(char *dir, size_t dir_size, char *url, size_t url_size)
{
    int fd = -1;
    snprintf(dir, dir_size, "/tmp/zg_conn_XXXXXX");
    if (mkdtemp(dir)) {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof addr.sun_path, "%s/s.sock", dir);
        snprintf(url, url_size, "unix://%s", addr.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 &&
            (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0)) {
            close(fd);
            fd = -1;
        }
    }
    CHECK(fd >= 0);
    return fd;
}

static void unlisten_unix(int fd, const char *dir)
{
    char path[300];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    close(fd);
    unlink(path);
    rmdir(dir);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A server that never answers (it never even accepts: the connection waits in the backlog, and
 * what the client sends waits in its buffer): a call gives up after the connection's timeout, as
 * a connection lost, both a pipeline and a single command; a command given a longer read timeout
 * (a blocking BLPOP) waits that long instead. */
static void test_a_call_to_a_server_that_never_answers_gives_up_after_its_timeout(void)
{
    char dir[64], url[128];
    int fd = listen_unix(dir, sizeof dir, url, sizeof url);
    if (fd < 0) return;
    zg_redis r;
    zg_error err = {0};
    CHECK_INT(zg_redis_open(&r, url, 300, &err), ZG_OK);
    const char *ping[] = {"PING"};
    zg_redis_call call = {NULL, 0, 1, ping, NULL};
    redisReply *reply = NULL;
    int64_t began = now_ms();
    CHECK_INT(zg_redis_pipeline(&r, 1, &call, &reply, &err), ZG_ESTORE);
    int64_t took = now_ms() - began;
    CHECK(reply == NULL);
    CHECK(took >= 300 && took < 3000);
    CHECK(strstr(err.msg, "redis connection lost: timeout") != NULL);

    began = now_ms();
    err = (zg_error){0};
    CHECK(zg_redis_command(&r, 1, ping, NULL, 0, &err) == NULL);
    took = now_ms() - began;
    CHECK(took >= 300 && took < 3000);
    CHECK(strstr(err.msg, "timeout") != NULL);

    began = now_ms();
    err = (zg_error){0};
    CHECK(zg_redis_command(&r, 1, ping, NULL, 900, &err) == NULL);
    took = now_ms() - began;
    CHECK(took >= 900 && took < 4000);
    zg_redis_close(&r);
    unlisten_unix(fd, dir);
}

/* Reads one PING ("*1\r\n$4\r\nPING\r\n") from fd: 0 when the client closed first. */
static int read_ping(int fd)
{
    char buf[14];
    for (size_t got = 0; got < sizeof buf;) {
        ssize_t k = read(fd, buf + got, sizeof buf - got);
        if (k <= 0) return 0;
        got += (size_t)k;
    }
    return 1;
}

/* The test's late server: it accepts one connection and, for each PING it reads, answers PONG
 * only after late_ms (until the client closes). */
struct late_server {
    int listen_fd;
    int late_ms;
};

static void *late_server_main(void *arg)
{
    struct late_server *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    while (read_ping(fd)) {
        struct timespec late = {0, (long)s->late_ms * 1000000L};
        nanosleep(&late, NULL);
        if (write(fd, "+PONG\r\n", 7) != 7) break;
    }
    close(fd);
    return NULL;
}

static long voluntary_switches_of_this_thread(void)
{
    struct rusage use;
    getrusage(RUSAGE_THREAD, &use);
    return use.ru_nvcsw;
}

/* A thread waiting for its reply sleeps once per round trip. In a blocking read(2) on a unix
 * socket it slept twice: the server's reading of the request woke it for nothing (the kernel
 * wakes a socket's every sleeper when its sent data is consumed), which cost the worker and
 * Redis a context switch a round trip. Here the server reads each request at once and answers
 * 30 ms later: a wait in poll(2) sleeps through the read. (Not under valgrind, whose scheduler
 * adds switches of its own: ZEROG_UNDER_VALGRIND.) */
static void test_a_reply_is_waited_for_in_one_sleep(void)
{
    const char *valgrind = getenv("ZEROG_UNDER_VALGRIND");
    if (valgrind && *valgrind) return;
    char dir[64], url[128];
    int fd = listen_unix(dir, sizeof dir, url, sizeof url);
    if (fd < 0) return;
    struct late_server server = {fd, 30};
    pthread_t thread;
    CHECK_INT(pthread_create(&thread, NULL, late_server_main, &server), 0);
    zg_redis r;
    zg_error err = {0};
    CHECK_INT(zg_redis_open(&r, url, 5000, &err), ZG_OK);
    const char *ping[] = {"PING"};
    zg_redis_call call = {NULL, 0, 1, ping, NULL};
    enum { CALLS = 10 };
    long before = voluntary_switches_of_this_thread();
    for (int i = 0; i < CALLS; i++) {
        redisReply *reply = NULL;
        CHECK_INT(zg_redis_pipeline(&r, 1, &call, &reply, &err), ZG_OK);
        CHECK(reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0);
        if (reply) zg_redis_reply_free(reply);
    }
    long slept = voluntary_switches_of_this_thread() - before;
    if (slept > CALLS + 2) printf("# %ld sleeps in %d round trips\n", slept, CALLS);
    CHECK(slept <= CALLS + 2);
    zg_redis_close(&r);
    pthread_join(thread, NULL);
    unlisten_unix(fd, dir);
}

/* The test's trickling server: it accepts one connection, reads one PING, and answers with a
 * bulk string of 5 pieces, 120 ms apart. */
static void *trickling_server_main(void *arg)
{
    int listen_fd = *(int *)arg;
    int fd = accept(listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    read_ping(fd);
    const char *pieces[] = {"$10\r\n", "ab", "cdef", "ghij", "\r\n"};
    for (size_t i = 0; i < 5; i++) {
        struct timespec gap = {0, 120 * 1000000L};
        nanosleep(&gap, NULL);
        if (write(fd, pieces[i], strlen(pieces[i])) < 0) break;
    }
    char rest[64]; /* (until the client closes) */
    while (read(fd, rest, sizeof rest) > 0) {
    }
    close(fd);
    return NULL;
}

/* The timeout bounds a wait for data, not the whole reply: a reply that keeps coming, a piece
 * every 120 ms, is read whole though it takes 600 ms against a 300 ms timeout. */
static void test_a_reply_that_keeps_coming_is_not_cut_by_the_timeout(void)
{
    char dir[64], url[128];
    int fd = listen_unix(dir, sizeof dir, url, sizeof url);
    if (fd < 0) return;
    pthread_t thread;
    CHECK_INT(pthread_create(&thread, NULL, trickling_server_main, &fd), 0);
    zg_redis r;
    zg_error err = {0};
    CHECK_INT(zg_redis_open(&r, url, 300, &err), ZG_OK);
    const char *ping[] = {"PING"};
    zg_redis_call call = {NULL, 0, 1, ping, NULL};
    redisReply *reply = NULL;
    CHECK_INT(zg_redis_pipeline(&r, 1, &call, &reply, &err), ZG_OK);
    CHECK(reply && reply->type == REDIS_REPLY_STRING && strcmp(reply->str, "abcdefghij") == 0);
    if (reply) zg_redis_reply_free(reply);
    zg_redis_close(&r);
    pthread_join(thread, NULL);
    unlisten_unix(fd, dir);
}

/* A reply larger than a socket's buffer arrives in many reads: it is read whole. */
static void test_a_reply_that_arrives_in_many_reads_is_read_whole(void)
{
    zg_redis r;
    zg_error err = {0};
    open_redis(&r);
    size_t big = 4u << 20;
    char *value = malloc(big);
    CHECK(value != NULL);
    if (!value) return;
    for (size_t i = 0; i < big; i++)
        value[i] = (char)('a' + i % 26);
    const char *set[] = {"SET", "zg_test_conn_big", value};
    const size_t set_lens[] = {3, 16, big};
    const char *get[] = {"GET", "zg_test_conn_big"};
    zg_redis_call calls[] = {{NULL, 0, 3, set, set_lens}, {NULL, 0, 2, get, NULL}};
    redisReply *replies[2] = {NULL, NULL};
    CHECK_INT(zg_redis_pipeline(&r, 2, calls, replies, &err), ZG_OK);
    CHECK(replies[1] && replies[1]->type == REDIS_REPLY_STRING && replies[1]->len == big &&
          memcmp(replies[1]->str, value, big) == 0);
    for (int i = 0; i < 2; i++)
        if (replies[i]) zg_redis_reply_free(replies[i]);
    redisReply *again = zg_redis_command(&r, 2, get, NULL, 0, &err);
    CHECK(again && again->type == REDIS_REPLY_STRING && again->len == big &&
          memcmp(again->str, value, big) == 0);
    if (again) zg_redis_reply_free(again);
    free(value);
    del(&r, "zg_test_conn_big");
    zg_redis_close(&r);
}

/* A command sent with zg_redis_send_later is run before the connection's next call, and its reply
 * is read and dropped, never taken for the call's (pipelines and single commands alike); past 64
 * owed replies they are read at once (every command is run, none is lost); one sent just before a
 * close is run too. */
static void test_commands_sent_later_go_out_in_order_with_the_next_call(void)
{
    zg_redis r, other;
    zg_error err = {0};
    open_redis(&r);
    open_redis(&other);
    del(&r, "zg_test_conn_later");
    const char *set[] = {"SET", "zg_test_conn_later", "7"};
    zg_redis_send_later(&r, 3, set);
    const char *incr[] = {"INCR", "zg_test_conn_later"};
    zg_redis_call call = {NULL, 0, 2, incr, NULL};
    redisReply *reply = NULL;
    CHECK_INT(zg_redis_pipeline(&r, 1, &call, &reply, &err), ZG_OK);
    CHECK(reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 8);
    if (reply) zg_redis_reply_free(reply);

    zg_redis_send_later(&r, 2, incr);
    CHECK_INT(get_number(&r, "zg_test_conn_later"), 9); /* (zg_redis_command, in order too) */

    for (int i = 0; i < 200; i++)
        zg_redis_send_later(&r, 2, incr);
    CHECK_INT(get_number(&r, "zg_test_conn_later"), 209);

    zg_redis_send_later(&r, 2, incr);
    zg_redis_close(&r);
    long long seen = -1;
    for (int i = 0; i < 500 && seen != 210; i++) /* (sent before the close, unanswered) */
        seen = get_number(&other, "zg_test_conn_later");
    CHECK_INT(seen, 210);
    del(&other, "zg_test_conn_later");
    zg_redis_close(&other);
}

/* A command of zg_redis_send_later reaches the server before any command another client sends
 * after it. The store's case: a worker finishes a failed job (its pointer's EXPIRE sent, its reply
 * not waited for; the worker's next call may be a whole job's run away), someone retries the job
 * at once (rs_retry: PERSIST of the pointer, on a connection of its own): the PERSIST must come
 * last, or the retried job's pointer expires under it (reads by uuid say "no such job"). (Held
 * for the next call, the EXPIRE came after it.) */
static void test_a_command_sent_later_is_not_overtaken_by_another_clients_later_command(void)
{
    zg_redis worker, retrier;
    open_redis(&worker);
    open_redis(&retrier);
    const char *set[] = {"SET", "zg_test_conn_pointer", "Q"};
    command_number(&worker, 3, set);
    const char *expire[] = {"EXPIRE", "zg_test_conn_pointer", "100"};
    zg_redis_send_later(&worker, 3, expire); /* (the finish's expiry) */
    const char *persist[] = {"PERSIST", "zg_test_conn_pointer"};
    command_number(&retrier, 2, persist); /* (the retry's, later) */
    const char *ttl[] = {"TTL", "zg_test_conn_pointer"};
    command_number(&worker, 2, ttl);                 /* (the worker's next call) */
    CHECK_INT(command_number(&retrier, 2, ttl), -1); /* (the last word was the PERSIST) */
    del(&retrier, "zg_test_conn_pointer");
    zg_redis_close(&worker);
    zg_redis_close(&retrier);
}

/* A command of zg_redis_send_later is written at once, not held for the connection's next call:
 * a connection lost before that call (a Redis restart, its `timeout` closing an idle client, a
 * proxy or NAT dropping it, CLIENT KILL here) does not lose it. (Held, it was lost.) */
static void test_a_command_sent_later_survives_a_connection_lost_before_the_next_call(void)
{
    zg_redis r, other;
    open_redis(&r);
    open_redis(&other);
    del(&other, "zg_test_conn_lost");
    const char *id_argv[] = {"CLIENT", "ID"};
    long long id = command_number(&r, 2, id_argv);
    const char *set[] = {"SET", "zg_test_conn_lost", "7"};
    zg_redis_send_later(&r, 3, set);
    usleep(100 * 1000); /* (the connection idle a while) */
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", id);
    const char *kill_argv[] = {"CLIENT", "KILL", "ID", idtext};
    CHECK_INT(command_number(&other, 4, kill_argv), 1);
    CHECK_INT(get_number(&r, "zg_test_conn_lost"), 7); /* (r's next call, on a new connection) */
    del(&other, "zg_test_conn_lost");
    zg_redis_close(&r);
    zg_redis_close(&other);
}

/* A command of zg_redis_send_later on a connection found broken (dropped by a failed call or
 * write) opens it again first: on a cluster, the node it goes to may see no other call from this
 * host (a master holding only pointers by uuid), which would otherwise lose every command sent
 * later from then on. One attempt a second at most, so a node that is down costs no more. */
static void test_a_command_sent_later_opens_a_broken_connection_again(void)
{
    zg_redis r, other;
    open_redis(&r);
    open_redis(&other);
    del(&other, "zg_test_conn_reopened");
    redisFree(r.ctx); /* (as drop() leaves it after a broken call) */
    r.ctx = NULL;
    r.later_connect_ms = now_ms(); /* an attempt just made: none again within the second */
    const char *early[] = {"SET", "zg_test_conn_reopened", "1"};
    zg_redis_send_later(&r, 3, early);
    CHECK(r.ctx == NULL);
    r.later_connect_ms = now_ms() - 1000;
    const char *set[] = {"SET", "zg_test_conn_reopened", "2"};
    zg_redis_send_later(&r, 3, set);
    CHECK(r.ctx != NULL);
    long long got = -1; /* (r makes no other call: the command was written by send_later) */
    for (int64_t until = now_ms() + 5000; got != 2 && now_ms() < until;) {
        got = get_number(&other, "zg_test_conn_reopened");
        if (got != 2) usleep(1000);
    }
    CHECK_INT(got, 2);
    del(&other, "zg_test_conn_reopened");
    zg_redis_close(&r);
    zg_redis_close(&other);
}

/* A process that ends without zg_redis_close (the worker's _exit on an overrun or when its
 * supervisor is gone, a crash, SIGKILL, the OOM killer) has its zg_redis_send_later commands run:
 * a finished job's pointer EXPIRE reaches the server (held for the next call, it did not, and the
 * pointer outlived the job for good). */
static void test_a_command_sent_later_is_not_lost_when_the_process_ends_without_a_close(void)
{
    const char *valgrind = getenv("ZEROG_UNDER_VALGRIND"); /* (the child ends holding its memory,
                                                            * on purpose: a leak to valgrind) */
    if (valgrind && *valgrind) return;
    zg_redis other;
    open_redis(&other);
    del(&other, "zg_test_conn_exit");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        zg_redis r;
        zg_error cerr = {0};
        if (zg_redis_open(&r, redis_url, 0, &cerr) != ZG_OK) _exit(2);
        const char *set[] = {"SET", "zg_test_conn_exit", "7"};
        zg_redis_send_later(&r, 3, set);
        _exit(0); /* (no close) */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    long long seen = -1;
    for (int i = 0; i < 50 && seen != 7; i++) {
        seen = get_number(&other, "zg_test_conn_exit");
        if (seen != 7) usleep(10 * 1000);
    }
    CHECK_INT(seen, 7);
    del(&other, "zg_test_conn_exit");
    zg_redis_close(&other);
}

/* A call's own read timeout bounds its whole wait, the replies of zg_redis_send_later's commands
 * it reads first included. The cluster's case: CLUSTER SLOTS is read with 500 ms of its own
 * (MAP_READ_TIMEOUT_MS, so that a stopped node does not hold every reading of the map for the
 * call timeout), on a node's connection that gives up reconnecting after 200 ms; a node that
 * stopped after a pointer's EXPIRE was sent to it (send_later: the pointer's slot is not the
 * queue's) held the map read for the whole connection timeout, 3 s here. */
static void test_a_short_read_timeout_bounds_the_replies_owed_to_send_later_too(void)
{
    char dir[64], url[128];
    int fd = listen_unix(dir, sizeof dir, url, sizeof url); /* (never answers) */
    if (fd < 0) return;
    const char *slots[] = {"CLUSTER", "SLOTS"};
    zg_redis alone, owing;
    zg_error err = {0};
    CHECK_INT(zg_redis_open(&alone, url, 3000, &err), ZG_OK);
    alone.retry_ms = 200; /* (a cluster node's, NODE_RETRY_MS) */
    int64_t began = now_ms();
    CHECK(zg_redis_command_raw(&alone, 2, slots, NULL, 500, &err) == NULL);
    int64_t took_alone = now_ms() - began;
    CHECK(took_alone >= 500 && took_alone < 1500);
    zg_redis_close(&alone);

    CHECK_INT(zg_redis_open(&owing, url, 3000, &err), ZG_OK);
    owing.retry_ms = 200;
    const char *expire[] = {"EXPIRE", "zerog:job:x", "100"};
    zg_redis_send_later(&owing, 3, expire); /* (a pointer's expiry, its reply owed) */
    CHECK_INT(owing.deferred, 1);
    began = now_ms();
    err = (zg_error){0};
    CHECK(zg_redis_command_raw(&owing, 2, slots, NULL, 500, &err) == NULL);
    int64_t took_owing = now_ms() - began;
    if (took_owing >= 1500)
        printf("# a 500 ms read: %lld ms with a reply owed, %lld ms without\n",
               (long long)took_owing, (long long)took_alone);
    CHECK(took_owing >= 500 && took_owing < 1500);
    zg_redis_close(&owing);
    unlisten_unix(fd, dir);
}

/* The test's cluster of one node (TCP, 127.0.0.1): CLUSTER SLOTS names itself for every slot,
 * DEL counts the keys it was given (and answers their number), anything else is +PONG. */
struct fake_node {
    int listen_fd;
    int port;
    atomic_int keys_deleted;
};

static void *fake_node_main(void *arg)
{
    struct fake_node *n = arg;
    int fd = accept(n->listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    FILE *in = fdopen(dup(fd), "r");
    char line[128], map[200];
    snprintf(map, sizeof map, "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:%d\r\n",
             n->port);
    while (in && fgets(line, sizeof line, in) && line[0] == '*') {
        int argc = atoi(line + 1);
        char name[32] = "";
        for (int i = 0; i < argc; i++) {
            if (!fgets(line, sizeof line, in)) goto done;
            long len = atol(line + 1);
            char *a = malloc((size_t)len + 3);
            if (!a || fread(a, 1, (size_t)len + 2, in) != (size_t)len + 2) {
                free(a);
                goto done;
            }
            if (i == 0) snprintf(name, sizeof name, "%.*s", (int)(len < 31 ? len : 31), a);
            free(a);
        }
        const char *reply = "+PONG\r\n";
        char count[32];
        if (strcasecmp(name, "CLUSTER") == 0) {
            reply = map;
        } else if (strcasecmp(name, "DEL") == 0) {
            atomic_fetch_add(&n->keys_deleted, argc - 1);
            snprintf(count, sizeof count, ":%d\r\n", argc - 1);
            reply = count;
        }
        if (write(fd, reply, strlen(reply)) < 0) break;
    }
done:
    if (in) fclose(in);
    close(fd);
    return NULL;
}

/* On a cluster, a command of zg_redis_send_later whose keys are in different slots is sent
 * (split per key, as zg_redis_command splits a DEL), not dropped. The store's case: rs_purge
 * deletes the pointers (zerog:job:<uuid>, no hash tag: each in a slot of its own) of every job
 * it purged in one DEL through send_later; zg_cluster_send_later drops a call whose slot is -2,
 * so on a cluster no purged job's pointer was ever deleted (kept for good when the job had no
 * retention). */
static void test_a_command_sent_later_over_keys_in_different_slots_is_not_dropped_on_a_cluster(void)
{
    struct fake_node node = {.listen_fd = socket(AF_INET, SOCK_STREAM, 0)};
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    CHECK(node.listen_fd >= 0 && bind(node.listen_fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
          listen(node.listen_fd, 4) == 0 &&
          getsockname(node.listen_fd, (struct sockaddr *)&addr, &alen) == 0);
    node.port = ntohs(addr.sin_port);
    atomic_init(&node.keys_deleted, 0);
    pthread_t thread;
    CHECK_INT(pthread_create(&thread, NULL, fake_node_main, &node), 0);
    char url[64];
    snprintf(url, sizeof url, "redis+cluster://127.0.0.1:%d", node.port);
    zg_redis r;
    zg_error err = {0};
    CHECK_INT(zg_redis_open(&r, url, 2000, &err), ZG_OK);
    const char *two[] = {"DEL", "zerog:job:6f1c2a", "zerog:job:9b7d4e"};
    CHECK(zg_cluster_key_slot(two[1], strlen(two[1])) !=
          zg_cluster_key_slot(two[2], strlen(two[2])));
    zg_redis_send_later(&r, 3, two); /* (rs_purge's pointers) */
    const char *one[] = {"DEL", "zerog:job:6f1c2a"};
    zg_redis_send_later(&r, 2, one); /* (rs_remove's pointer: one key) */
    const char *ping[] = {"PING"};
    redisReply *reply = zg_redis_command(&r, 1, ping, NULL, 0, &err); /* (reads what is owed) */
    CHECK(reply != NULL);
    if (reply) zg_redis_reply_free(reply);
    CHECK_INT(atomic_load(&node.keys_deleted), 3);
    zg_redis_close(&r);
    pthread_join(thread, NULL);
    close(node.listen_fd);
}

/* The test's server that accepts every connection and closes it at once (a proxy whose backend
 * is down, a server shutting down; Redis at maxclients writes its error first, which a single
 * command takes for its reply, but a pipeline of two calls then reads the close): it counts the
 * connections until stop. */
struct closing_server {
    int listen_fd;
    atomic_int accepted;
    atomic_int stop;
};

static void *closing_server_main(void *arg)
{
    struct closing_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        atomic_fetch_add(&s->accepted, 1);
        close(fd);
    }
    return NULL;
}

/* A call retried on a server that takes each connection and closes it backs off between its
 * attempts, as reconnect() does between failed connects (50 ms doubling to 1 s), rather than
 * reconnecting in a tight loop for the whole retry budget: each attempt connects (the server
 * accepts), the send or the read fails, the call drops the connection and connects again at once.
 * At most a few dozen connections in 1 s are expected; a tight loop makes thousands, per worker
 * thread, against a server that is already in trouble. */
static void test_a_call_on_a_server_that_closes_each_connection_backs_off(void)
{
    char dir[64], url[128];
    struct closing_server server = {.listen_fd = listen_unix(dir, sizeof dir, url, sizeof url)};
    if (server.listen_fd < 0) return;
    atomic_init(&server.accepted, 0);
    atomic_init(&server.stop, 0);
    pthread_t thread;
    CHECK_INT(pthread_create(&thread, NULL, closing_server_main, &server), 0);
    zg_redis r;
    zg_error err = {0};
    CHECK_INT(zg_redis_open(&r, url, 1000, &err), ZG_OK);
    const char *ping[] = {"PING"};
    zg_redis_call calls[2] = {{NULL, 0, 1, ping, NULL}, {NULL, 0, 1, ping, NULL}};
    redisReply *replies[2] = {NULL, NULL};
    int before = atomic_load(&server.accepted);
    CHECK_INT(zg_redis_pipeline(&r, 2, calls, replies, &err), ZG_ESTORE);
    int pipeline_connects = atomic_load(&server.accepted) - before;
    before = atomic_load(&server.accepted);
    CHECK(zg_redis_command(&r, 1, ping, NULL, 0, &err) == NULL);
    int command_connects = atomic_load(&server.accepted) - before;
    printf("# connections in 1 s: pipeline %d, command %d\n", pipeline_connects, command_connects);
    CHECK(pipeline_connects <= 40);
    CHECK(command_connects <= 40);
    zg_redis_close(&r);
    atomic_store(&server.stop, 1);
    pthread_join(thread, NULL);
    unlisten_unix(server.listen_fd, dir);
}

typedef struct blocked_pipeline {
    zg_redis *r;
    int rc;
    redisReply *replies[2];
} blocked_pipeline;

static void *send_blocked_pipeline(void *arg)
{
    blocked_pipeline *b = arg;
    const char *blpop[] = {"BLPOP", "zg_test_first_try", "5"}, *get[] = {"GET", "zg_test_none"};
    zg_redis_call calls[2] = {{NULL, 0, 3, blpop, NULL}, {NULL, 0, 2, get, NULL}};
    zg_error err = {0};
    b->rc = zg_redis_pipeline_first(b->r, 1, 2, calls, b->replies, &err);
    return NULL;
}

/* The number after "name:" in an INFO section's text (-1: none). */
static long long info_number(zg_redis *r, const char *section, const char *name)
{
    const char *argv[] = {"INFO", section};
    zg_error err = {0};
    redisReply *reply = zg_redis_command(r, 2, argv, NULL, 0, &err);
    long long n = -1;
    const char *at = reply && reply->type == REDIS_REPLY_STRING ? reply->str : NULL;
    if (at && (at = strstr(at, name)) && at[strlen(name)] == ':') n = atoll(at + strlen(name) + 1);
    if (reply) zg_redis_reply_free(reply);
    return n;
}

/* A call sent on the first try only, at the head of a pipeline (a claim's wait for a signal, BLPOP)
 * is not sent again when the pipeline is resent after its connection broke: the calls after it (the
 * claim, applied once by its sequence number) go alone, at once, instead of waiting again. Here the
 * connection is killed while the BLPOP blocks; an element pushed then stays (a BLPOP sent again
 * would take it). */
static void test_a_call_for_the_first_try_only_is_not_sent_again(void)
{
    zg_redis r, other;
    open_redis(&r);
    open_redis(&other);
    del(&other, "zg_test_first_try");
    const char *id_argv[] = {"CLIENT", "ID"};
    long long id = command_number(&r, 2, id_argv);
    long long blocked = info_number(&other, "clients", "blocked_clients");
    blocked_pipeline b = {&r, -1, {NULL, NULL}};
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, send_blocked_pipeline, &b), 0);
    for (int i = 0; i < 1000 && info_number(&other, "clients", "blocked_clients") <= blocked; i++)
        usleep(2 * 1000);
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", id);
    const char *kill_argv[] = {"CLIENT", "KILL", "ID", idtext};
    CHECK_INT(command_number(&other, 4, kill_argv), 1);
    const char *push[] = {"RPUSH", "zg_test_first_try", "x"};
    CHECK_INT(command_number(&other, 3, push), 1);
    pthread_join(t, NULL);
    CHECK_INT(b.rc, ZG_OK);
    CHECK(b.replies[0] == NULL); /* (not sent again: no reply) */
    CHECK(b.replies[1] && b.replies[1]->type == REDIS_REPLY_NIL);
    const char *llen[] = {"LLEN", "zg_test_first_try"};
    CHECK_INT(command_number(&other, 2, llen), 1);
    for (int i = 0; i < 2; i++)
        if (b.replies[i]) zg_redis_reply_free(b.replies[i]);
    del(&other, "zg_test_first_try");
    zg_redis_close(&r);
    zg_redis_close(&other);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* (the test's servers write to clients that may have gone) */
    redis_url = getenv("ZEROG_SPEC_REDIS");
    if (!redis_url || !*redis_url) {
        printf("1..0 # SKIP no Redis (ZEROG_SPEC_REDIS)\n");
        return 0;
    }
    RUN(test_a_pipeline_is_not_sent_on_a_connection_hiredis_marked_broken);
    RUN(test_a_connection_keeps_a_small_pipeline_buffer_but_not_a_large_one);
    RUN(test_a_call_to_a_server_that_never_answers_gives_up_after_its_timeout);
    RUN(test_a_reply_is_waited_for_in_one_sleep);
    RUN(test_a_reply_that_arrives_in_many_reads_is_read_whole);
    RUN(test_a_reply_that_keeps_coming_is_not_cut_by_the_timeout);
    RUN(test_commands_sent_later_go_out_in_order_with_the_next_call);
    RUN(test_a_command_sent_later_is_not_overtaken_by_another_clients_later_command);
    RUN(test_a_command_sent_later_survives_a_connection_lost_before_the_next_call);
    RUN(test_a_command_sent_later_opens_a_broken_connection_again);
    RUN(test_a_command_sent_later_is_not_lost_when_the_process_ends_without_a_close);
    RUN(test_a_short_read_timeout_bounds_the_replies_owed_to_send_later_too);
    RUN(test_a_command_sent_later_over_keys_in_different_slots_is_not_dropped_on_a_cluster);
    RUN(test_a_call_on_a_server_that_closes_each_connection_backs_off);
    RUN(test_a_call_for_the_first_try_only_is_not_sent_again);
    return check_done();
}
