/* fuzz_redis: the fuzz input is what a Redis server answers. A fake server (a thread of this
 * program, on a unix socket) answers each command the real Redis store (host/store_redis.c over
 * host/redis_conn.c) sends with the next reply of the input: the input's first byte picks the
 * public call to make (zg_read in each view, zg_step, zg_queue_counts_get, zg_buried,
 * zg_job_stats, zg_submit, zg_submit_batch, zg_kick, zg_kill, zg_release, zg_ping), the rest is
 * RESP, cut into replies by hiredis's own reader (a piece it cannot read whole is sent as it is,
 * and the connection closed after it: a broken reply). FUNCTION LOAD is answered by the fake server
 * itself (a name), so the input holds only the replies the store must interpret; once the input is
 * used up, scripts get {1, 1} (what a settle that applied says, so a run's end is not retried
 * for seconds) and other commands +OK. What must hold: every call returns ZG_OK with valid
 * data (JSON that parses, per json_check.h) or an error code with a message, within the store
 * timeout; nothing crashes, leaks or reads out of bounds.
 *
 * The host's heartbeat thread renews leases on a connection of its own, answered from the same
 * input: when a fuzzed claim gives a tiny TTR its renewals take replies too, so an input may not
 * replay the same way every time.
 *
 * Built with -DFUZZ_CAPTURE (make build/fuzz/capture_redis: not a fuzz target) the same program is
 * a proxy to a real Redis that records the replies of each call into a seed file
 * (spec/fuzz/redis/<call>.resp): `build/fuzz/capture_redis unix:///path/redis.sock DIR`. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "json_check.h"
#include "zerog.h"

#define STORE_TIMEOUT_MS 300
#define MAX_CLIENTS      16
#define JOB_UUID         "5f0c8a52-6d2e-4d8b-9a41-2b7c5e9d1f30"

static const char job_source[] =
    "return {\n"
    "  JOB_TYPE = 'fuzz_redis', QUEUE_NAME = 'fuzz_q', RETENTION = 60,\n"
    "  SCHEMA = { n = { type = 'integer', default = 1 }, note = { type = 'string' } },\n"
    "  run = function(self)\n"
    "    self:record_event('ran')\n"
    "    self:set_completeness(0.5)\n"
    "    self:job_log_info('half')\n"
    "    self:update_attrs { note = 'done' }\n"
    "    return 200\n"
    "  end,\n"
    "  get_data = function(self) return { n = self.n, note = self.note } end,\n"
    "}\n";

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_redis: %s: %s\n", what, detail);
    abort();
}

/* ---- the fake server ---- */

typedef struct client {
    int fd;
    redisReader *reader;
    redisContext *upstream; /* capture mode: the real Redis */
} client;

static struct {
    pthread_mutex_t lock;
    const uint8_t *data; /* the replies not yet given */
    size_t left;
    char path[108];
    int listen_fd;
    client clients[MAX_CLIENTS];
    const char *upstream_url; /* capture mode */
    FILE *record;             /* capture mode: where the replies go */
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER, .listen_fd = -1};

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

#define send_literal(fd, text) send_all(fd, text, sizeof(text) - 1)

static void drop_client(client *c)
{
    close(c->fd);
    redisReaderFree(c->reader);
    if (c->upstream) redisFree(c->upstream);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* The next reply of the input: its length, and whether it is whole. */
__attribute__((unused)) static size_t next_reply(int *whole)
{
    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    *whole = 0;
    size_t n = fake.left;
    if (r && redisReaderFeed(r, (const char *)fake.data, fake.left) == REDIS_OK &&
        redisReaderGetReply(r, &reply) == REDIS_OK && reply) {
        *whole = 1;
        n = fake.left - (r->len - r->pos);
    }
    if (reply) freeReplyObject(reply);
    redisReaderFree(r);
    return n;
}

#ifdef FUZZ_CAPTURE
/* Writes a parsed reply back as RESP 2. */
static void write_resp(FILE *f, const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_STRING:
        fprintf(f, "$%zu\r\n", r->len);
        fwrite(r->str, 1, r->len, f);
        fputs("\r\n", f);
        break;
    case REDIS_REPLY_STATUS:
        fprintf(f, "+%s\r\n", r->str);
        break;
    case REDIS_REPLY_ERROR:
        fprintf(f, "-%s\r\n", r->str);
        break;
    case REDIS_REPLY_INTEGER:
        fprintf(f, ":%lld\r\n", r->integer);
        break;
    case REDIS_REPLY_NIL:
        fputs("$-1\r\n", f);
        break;
    case REDIS_REPLY_ARRAY:
        fprintf(f, "*%zu\r\n", r->elements);
        for (size_t i = 0; i < r->elements; i++)
            write_resp(f, r->element[i]);
        break;
    default:
        fail("capture", "a RESP 3 reply");
    }
}

/* Capture mode: the command goes to the real Redis; its reply comes back and is recorded
 * (but FUNCTION LOAD's, which the fuzz target answers itself). */
static void answer_from_upstream(client *c, const redisReply *cmd)
{
    if (!c->upstream) {
        char path[256];
        if (sscanf(fake.upstream_url, "unix://%255[^?]", path) != 1)
            fail("capture", "unix:// only");
        c->upstream = redisConnectUnix(path);
        if (!c->upstream || c->upstream->err) fail("capture", "cannot reach the real Redis");
    }
    const char *argv[256];
    size_t lens[256];
    for (size_t i = 0; i < cmd->elements && i < 256; i++)
        argv[i] = cmd->element[i]->str, lens[i] = cmd->element[i]->len;
    redisReply *reply = redisCommandArgv(c->upstream, (int)cmd->elements, argv, lens);
    if (!reply) fail("capture", c->upstream->errstr);
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    write_resp(m, reply);
    fclose(m);
    int script_load = cmd->elements >= 2 && strcasecmp(argv[0], "FUNCTION") == 0 &&
                      strcasecmp(argv[1], "LOAD") == 0;
    pthread_mutex_lock(&fake.lock);
    if (!script_load && fake.record) fwrite(text, 1, len, fake.record);
    pthread_mutex_unlock(&fake.lock);
    send_all(c->fd, text, len);
    free(text);
    freeReplyObject(reply);
}
#endif

/* Answers one command; 0, or -1 when the connection is to be closed. */
static int answer(client *c, const redisReply *cmd)
{
    if (cmd->type != REDIS_REPLY_ARRAY || cmd->elements == 0) return -1;
    for (size_t i = 0; i < cmd->elements; i++)
        if (cmd->element[i]->type != REDIS_REPLY_STRING) return -1;
#ifdef FUZZ_CAPTURE
    answer_from_upstream(c, cmd);
    return 0;
#else
    const char *name = cmd->element[0]->str;
    if (cmd->elements >= 2 && strcasecmp(name, "FUNCTION") == 0 &&
        strcasecmp(cmd->element[1]->str, "LOAD") == 0) {
        send_literal(c->fd, "$5\r\nzerog\r\n");
        return 0;
    }
    pthread_mutex_lock(&fake.lock);
    int whole = 1;
    size_t n = fake.left ? next_reply(&whole) : 0;
    if (n) {
        send_all(c->fd, (const char *)fake.data, n);
        fake.data += n;
        fake.left -= n;
    } else if (strcasecmp(name, "FCALL") == 0)
        send_literal(c->fd, "*2\r\n:1\r\n:1\r\n"); /* a settle's "applied" */
    else
        send_literal(c->fd, "+OK\r\n");
    pthread_mutex_unlock(&fake.lock);
    return whole ? 0 : -1;
#endif
}

static void serve_client(client *c)
{
    char buf[16384];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n <= 0 || redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
        drop_client(c);
        return;
    }
    for (;;) {
        void *cmd = NULL;
        if (redisReaderGetReply(c->reader, &cmd) != REDIS_OK) {
            drop_client(c);
            return;
        }
        if (!cmd) return;
        int rc = answer(c, cmd);
        freeReplyObject(cmd);
        if (rc != 0) {
            drop_client(c);
            return;
        }
    }
}

static void *fake_server(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[MAX_CLIENTS + 1];
        p[0] = (struct pollfd){fake.listen_fd, POLLIN, 0};
        for (int i = 0; i < MAX_CLIENTS; i++)
            p[i + 1] = (struct pollfd){fake.clients[i].fd, POLLIN, 0};
        if (poll(p, MAX_CLIENTS + 1, -1) < 0) continue;
        if (p[0].revents & POLLIN) {
            int fd = accept(fake.listen_fd, NULL, NULL);
            int slot = -1;
            for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
                if (fake.clients[i].fd < 0) slot = i;
            if (fd >= 0 && slot < 0) close(fd);
            if (fd >= 0 && slot >= 0) {
                fake.clients[slot].fd = fd;
                fake.clients[slot].reader = redisReaderCreate();
                fake.clients[slot].upstream = NULL;
            }
        }
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (fake.clients[i].fd >= 0 && (p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                serve_client(&fake.clients[i]);
    }
    return NULL;
}

static void start_fake_server(void)
{
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < MAX_CLIENTS; i++)
        fake.clients[i].fd = -1;
    char dir[] = "/tmp/zerog-fuzz-redis-XXXXXX";
    if (!mkdtemp(dir)) fail("mkdtemp", strerror(errno));
    snprintf(fake.path, sizeof fake.path, "%s/redis.sock", dir);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", fake.path);
    fake.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fake.listen_fd < 0 || bind(fake.listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(fake.listen_fd, 16) != 0)
        fail("listen", strerror(errno));
    pthread_t t;
    pthread_create(&t, NULL, fake_server, NULL);
    pthread_detach(t);
}

/* ---- the calls ---- */

static void expect_message(zg_host *h, int rc, const char *call)
{
    if (rc != ZG_OK && !*zg_errstr(h)) fail(call, "an error without a message");
}

static void expect_json(zg_host *h, int rc, char *json, const char *call)
{
    expect_message(h, rc, call);
    if (rc == ZG_OK) {
        if (!json) fail(call, "ZG_OK without JSON");
        const char *why = json_check(json, strlen(json));
        if (why) {
            fprintf(stderr, "%s gave: %s\n", call, json);
            fail("invalid JSON", why);
        }
    }
    zg_free(json);
}

enum { CALLS = 16 };
static const char *const call_names[CALLS] = {
    "read_dump", "read_info", "read_progress", "read_data", "read_status", "read_fields",
    "step",      "counts",    "buried",        "job_stats", "submit",      "submit_batch",
    "kick",      "kill",      "release",       "ping"};

static void make_call(zg_host *h, int which, const char *uuid)
{
    static const zg_view views[] = {ZG_VIEW_DUMP, ZG_VIEW_INFO,   ZG_VIEW_PROGRESS,
                                    ZG_VIEW_DATA, ZG_VIEW_STATUS, ZG_VIEW_FIELDS};
    char *json = NULL, out_uuid[ZG_UUID_LEN];
    int rc;
    if (which < 6) {
        rc = zg_read(h, views[which], uuid, &json);
        expect_json(h, rc, json, call_names[which]);
        return;
    }
    switch (which) {
    case 6: {
        zg_step_result out;
        rc = zg_step(h, NULL, 0, 0, &out);
        expect_message(h, rc, "zg_step");
        if (rc == ZG_OK && out.outcome != ZG_STEP_FINISHED && out.outcome != ZG_STEP_REQUEUED &&
            out.outcome != ZG_STEP_BURIED)
            fail("zg_step", "an outcome that is none of finished, requeued, buried");
        break;
    }
    case 7: {
        zg_queue_counts c;
        rc = zg_queue_counts_get(h, "fuzz_q", &c);
        expect_message(h, rc, "zg_queue_counts_get");
        break;
    }
    case 8:
        rc = zg_buried(h, "fuzz_q", &json);
        expect_json(h, rc, json, "zg_buried");
        break;
    case 9: {
        zg_message_stats st;
        rc = zg_job_stats(h, uuid, &st);
        expect_message(h, rc, "zg_job_stats");
        break;
    }
    case 10:
        rc = zg_submit(h, "fuzz_redis", "{\"n\": 2}", NULL, out_uuid);
        expect_message(h, rc, "zg_submit");
        break;
    case 11: {
        const char *params[] = {"{\"n\": 1}", "{}", "{\"note\": \"x\"}"};
        char uuids[3][ZG_UUID_LEN];
        rc = zg_submit_batch(h, "fuzz_redis", params, 3, NULL, uuids);
        expect_message(h, rc, "zg_submit_batch");
        break;
    }
    case 12: {
        int64_t moved = 0;
        rc = zg_kick(h, "fuzz_q", 0, &moved);
        expect_message(h, rc, "zg_kick");
        break;
    }
    case 13:
        rc = zg_kill(h, uuid);
        expect_message(h, rc, "zg_kill");
        break;
    case 14:
        rc = zg_release(h, uuid, 0, 0, ZG_RELEASE_DIED);
        expect_message(h, rc, "zg_release");
        break;
    default:
        rc = zg_ping(h);
        expect_message(h, rc, "zg_ping");
    }
}

static zg_host *open_host(const char *url)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = url;
    cfg.store_timeout_ms = STORE_TIMEOUT_MS;
    cfg.memory_limit = 64u << 20;
    zg_host *h = zg_host_new(&cfg);
    if (!h) fail("zg_host_new", "NULL");
    if (zg_errcode(h) != ZG_OK) fail("zg_host_new", zg_errstr(h));
    char type[ZG_NAME_LEN];
    if (zg_load_string(h, "fuzz_redis.lua", job_source, type) != ZG_OK)
        fail("zg_load_string", zg_errstr(h));
    return h;
}

#ifndef FUZZ_CAPTURE
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fake.listen_fd < 0) {
        json_check_lenient_utf8 = getenv("ZEROG_FUZZ_LENIENT_UTF8") != NULL;
        start_fake_server();
    }
    if (size < 1) return 0;
    char url[160];
    snprintf(url, sizeof url, "unix://%s", fake.path);
    zg_host *h = open_host(url);
    pthread_mutex_lock(&fake.lock);
    fake.data = data + 1;
    fake.left = size - 1;
    pthread_mutex_unlock(&fake.lock);
    make_call(h, data[0] % CALLS, JOB_UUID);
    zg_host_free(h);
    pthread_mutex_lock(&fake.lock);
    fake.data = NULL;
    fake.left = 0;
    pthread_mutex_unlock(&fake.lock);
    return 0;
}
#else
/* capture_redis REDIS_URL DIR: one seed file per call, recorded from the real Redis, on a job
 * that exists (submitted first through a host of the real store), with a ready job for step. */
int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: capture_redis unix:///path/to/redis.sock DIR\n");
        return 2;
    }
    fake.upstream_url = argv[1];
    start_fake_server();
    zg_host *real = open_host(argv[1]);
    char url[160];
    snprintf(url, sizeof url, "unix://%s", fake.path);
    for (int which = 0; which < CALLS; which++) {
        char uuid[ZG_UUID_LEN], path[512];
        /* a job to read (and, for step, to claim), then one that is buried for buried/kick */
        if (zg_submit(real, "fuzz_redis", "{\"n\": 3}", NULL, uuid) != ZG_OK)
            fail("submit", zg_errstr(real));
        if (which == 0 || which == 1) { /* a job with history: run once, then read */
            zg_step_result out;
            if (zg_step(real, NULL, 0, 1000, &out) != ZG_OK) fail("step", zg_errstr(real));
            snprintf(uuid, sizeof uuid, "%s", out.uuid);
        }
        zg_host *h = open_host(url);
        snprintf(path, sizeof path, "%s/%s.resp", argv[2], call_names[which]);
        pthread_mutex_lock(&fake.lock);
        fake.record = fopen(path, "wb");
        if (!fake.record) fail(path, strerror(errno));
        unsigned char op = (unsigned char)which;
        fwrite(&op, 1, 1, fake.record);
        pthread_mutex_unlock(&fake.lock);
        make_call(h, which, uuid);
        zg_host_free(h);
        pthread_mutex_lock(&fake.lock);
        fclose(fake.record);
        fake.record = NULL;
        pthread_mutex_unlock(&fake.lock);
        /* what is left ready is claimed and finished, so each step claims the job it expects */
        long ran = 0;
        zg_run(real, NULL, 0, 1, &ran);
    }
    zg_host_free(real);
    return 0;
}
#endif
