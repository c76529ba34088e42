/* fuzz_http: the fuzz input is the raw bytes a client sends to `zerog serve`'s HTTP API: method,
 * path, query, headers, body, possibly several requests in a row. The API runs in-process as serve
 * starts it (http_start of host/cli/http_api.c on a listening socket of our own, loopback, a port
 * the kernel picks), with an auth token, one API host on mem:// that has a job type with a SCHEMA
 * (a real store is not needed to walk the request path) and a supervisor without workers. Each
 * input is sent on a new connection, whose write side is then shut, and the replies are read to
 * the end of the connection. What must hold: the server neither crashes nor leaks, answers within
 * REPLY_MS, every reply is an HTTP response whose status is not 500 (mem:// never fails), and
 * every JSON body is valid JSON (json_check.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "json_check.h"

/* The server closes an idle connection after 2 s (limits below). A 5 s wait, then this one, "ran
 * out" once in CI and never again: the mark of libFuzzer's SIGALRM interrupting poll(), which the
 * old wait took for a timeout (wait_ready). */
#define REPLY_MS 15000
#define TOKEN    "fuzz-token"

static const char job_source[] =
    "return {\n"
    "  JOB_TYPE = 'fuzz_http',\n"
    "  SCHEMA = { name = { type = 'string', default = 'x' }, n = { type = 'integer' },\n"
    "             tags = { type = 'array' }, meta = { type = 'object' } },\n"
    "  run = function(self) return 200 end,\n"
    "  get_data = function(self) return { name = self.name, n = self.n } end,\n"
    "}\n";

static struct sockaddr_in server_addr;
static daemon_ctx ctx;
static supervisor sup;
static log_target log_to = {"fuzz", 0};
static cli_options opts = {"mem://", "jobs", NULL};
static void *server; /* the running HTTP server, for the process's life (kept reachable) */

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_http: %s: %s\n", what, detail);
    abort();
}

static void start_server(void)
{
    signal(SIGPIPE, SIG_IGN);
    json_check_lenient_utf8 = getenv("ZEROG_FUZZ_LENIENT_UTF8") != NULL;
    pthread_mutex_init(&sup.lock, NULL);
    pthread_cond_init(&sup.changed, NULL);
    sup.opts = &opts;
    sup.log = &log_to;
    ctx.opts = &opts;
    ctx.sup = &sup;
    ctx.log = &log_to;
    ctx.auth_token = TOKEN;
    ctx.max_body = 64 * 1024;
    ctx.limits = (http_limits){2, 64, 64};
    pthread_mutex_init(&ctx.api_lock, NULL);
    pthread_cond_init(&ctx.api_free, NULL);
    pthread_mutex_init(&ctx.metrics_lock, NULL);
    activity_init(&ctx.activity);
    pthread_mutex_init(&ctx.store.lock, NULL);
    ctx.store.up = 1;
    snprintf(ctx.store.reason, sizeof ctx.store.reason, "ok");
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.memory_limit = 64u << 20;
    ctx.api[0] = zg_host_new(&cfg);
    if (!ctx.api[0] || zg_errcode(ctx.api[0]) != ZG_OK) fail("zg_host_new", "no host");
    char type[ZG_NAME_LEN];
    if (zg_load_string(ctx.api[0], "fuzz_http.lua", job_source, type) != ZG_OK)
        fail("zg_load_string", zg_errstr(ctx.api[0]));

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    server_addr.sin_port = 0;
    socklen_t len = sizeof server_addr;
    if (fd < 0 || bind(fd, (struct sockaddr *)&server_addr, sizeof server_addr) != 0 ||
        listen(fd, SOMAXCONN) != 0 || getsockname(fd, (struct sockaddr *)&server_addr, &len) != 0)
        fail("listen", strerror(errno));
    char err[256];
    server = http_start(&ctx, fd, 0, err, sizeof err);
    if (!server) fail("http_start", err);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until fd is ready for events: 1, or 0 once the clock passes until (ms). A signal is no
 * answer: libFuzzer's own -timeout watchdog is a SIGALRM every timeout/2 + 1 s without SA_RESTART,
 * which interrupts whatever this thread waits in (poll, connect). Taking that EINTR for a
 * timeout failed CI at random with "no end of reply" when the server had not been slow at all. */
static int wait_ready(int fd, short events, int64_t until)
{
    for (;;) {
        int64_t left = until - now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, (int)left);
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) fail("poll", strerror(errno));
    }
}

/* A new connection to the server. An interrupted connect() goes on in the background
 * (connect(2), EINTR): it is waited for, not taken for a failure. */
static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket", strerror(errno));
    if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) == 0) return fd;
    if (errno != EINTR) fail("connect", strerror(errno));
    if (!wait_ready(fd, POLLOUT, now_ms() + REPLY_MS)) fail("connect", "not connected in time");
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err) fail("connect", strerror(err));
    return fd;
}

/* Reads everything the server sends until it closes the connection; NULL when it does not
 * within REPLY_MS. */
static char *read_all(int fd, size_t *len)
{
    size_t cap = 4096;
    char *buf = malloc(cap);
    *len = 0;
    int64_t until = now_ms() + REPLY_MS;
    for (;;) {
        if (!wait_ready(fd, POLLIN, until)) {
            free(buf);
            return NULL;
        }
        if (*len + 1 >= cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) fail("read", "out of memory");
            buf = grown;
        }
        ssize_t n = read(fd, buf + *len, cap - *len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* closed (a reset too: the server may refuse the rest) */
        *len += (size_t)n;
    }
    buf[*len] = '\0';
    return buf;
}

/* Checks one response at p; returns where the next one starts, or NULL at the end. The answers
 * libmicrohttpd gives on its own to requests it cannot parse (HTML, no CORS headers, the
 * connection closed after them; 0.9.75 may even send their headers twice) are not ours to check:
 * checking stops there. */
static const char *check_response(const char *p, const char *end)
{
    if (end - p < 12 || strncmp(p, "HTTP/1.", 7) != 0) fail("not an HTTP response", p);
    int status = atoi(p + 9);
    if (status < 100 || status > 599) fail("bad status", p);
    const char *head_end = strstr(p, "\r\n\r\n");
    if (!head_end) fail("response headers do not end", p);
    size_t body_len = 0;
    int json = 0, ours = 0;
    for (const char *line = strstr(p, "\r\n") + 2; line < head_end;
         line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0) body_len = strtoul(line + 15, NULL, 10);
        if (strncasecmp(line, "Content-Type: application/json", 30) == 0) json = 1;
        if (strncasecmp(line, "Access-Control-Allow-Origin:", 28) == 0) ours = 1;
    }
    if (!ours) return NULL;
    if (status == 500) fail("status 500 (mem:// does not fail)", p);
    const char *body = head_end + 4;
    if ((size_t)(end - body) < body_len) fail("short body", p);
    if (json && status != 204) {
        const char *why = json_check(body, body_len);
        if (why) {
            fprintf(stderr, "body: %.*s\n", (int)body_len, body);
            fail("invalid JSON body", why);
        }
    }
    return body + body_len < end ? body + body_len : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx.api[0]) start_server();
    int fd = connect_server();
    for (size_t sent = 0; sent < size;) {
        ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* the server closed early (a bad request): what it said is read */
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    size_t len;
    char *reply = read_all(fd, &len);
    close(fd);
    if (!reply) fail("no end of reply", "the server did not close the connection within REPLY_MS");
    if (len && strlen(reply) != len) fail("a NUL byte in the reply", reply);
    if (getenv("ZEROG_FUZZ_SHOW")) fprintf(stderr, "reply:\n%s\n", reply);
    for (const char *p = len ? reply : NULL; p;)
        p = check_response(p, reply + len);
    free(reply);
    return 0;
}
