/* http_load: a small, bounded HTTP load generator for the daemon's tests, against 127.0.0.1 only.
 *
 *   http_load PORT MODE CLIENTS ADDRESSES SECONDS PATH [PROBE_LIMIT]
 *
 * MODE get: CLIENTS connections at once, each sending "GET PATH" and reading the answer, again
 * and again until SECONDS have passed. MODE slow (slowloris): CLIENTS connections that send a
 * request line and then one header line a second, never finishing. Clients come from ADDRESSES
 * source addresses 127.0.1.1, 127.0.1.2, ... (loopback; a server caps connections per address).
 * Meanwhile, every 250 ms from 0.5 s on, a probe from 127.0.0.2 sends a normal "GET /health" and
 * times its answer. Prints one line of counts:
 *   answered=A unanswered=U refused=R open=O probes=P probes_ok=Q probe_max_ms=M
 * (answered/unanswered: get requests with/without an HTTP answer; refused: connections the
 * server closed or refused without answering; open: slow connections still open at the end;
 * probes_ok: probes answered 200 within PROBE_LIMIT seconds, default 1). The load lasts SECONDS,
 * and longer (up to four times as long) until MIN_PROBES probes have been sent, so that how many
 * probes there are does not depend on how fast a loaded machine answers them. Exits 0 after that
 * (plus a second for the last probe), whatever happened. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { GET, SLOW, PROBE };

typedef struct conn {
    int fd, kind, addr;
    size_t sent, got;
    char head[16];
    double started, next_drip;
    int open;
} conn;

static int port;
static const char *path;
static char get_request[512];
static long answered, unanswered, refused, probes, probes_ok;
static double probe_limit = 1.0; /* s: a probe answered later is not ok */
static double probe_max;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_conn(int epfd, conn *c, int kind, int addr)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->addr = addr;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    struct sockaddr_in src = {0}, dst = {0};
    src.sin_family = dst.sin_family = AF_INET;
    src.sin_addr.s_addr =
        kind == PROBE ? htonl(0x7f000002) : htonl(0x7f000100 + 1 + (uint32_t)addr);
    bind(c->fd, (struct sockaddr *)&src, sizeof src);
    dst.sin_port = htons((uint16_t)port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->open = 1;
    c->started = now();
    c->next_drip = c->started + 1;
    struct epoll_event ev = {EPOLLIN | EPOLLOUT | EPOLLRDHUP, {.ptr = c}};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

static void close_conn(int epfd, conn *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->open = 0;
}

/* The connection ended (the server closed it, or the whole answer came). */
static void ended(int epfd, conn *c)
{
    int ok = c->got >= 12 && strncmp(c->head, "HTTP/1.1 2", 10) == 0;
    if (c->kind == PROBE) {
        double took = now() - c->started;
        if (took > probe_max) probe_max = took;
        if (ok && took < probe_limit) probes_ok++;
    } else if (c->kind == GET) {
        if (c->got)
            answered++;
        else if (c->sent)
            unanswered++;
        else
            refused++;
    } else {
        refused++;
    }
    close_conn(epfd, c);
}

static void step(int epfd, conn *c, unsigned events)
{
    const char *req = c->kind == SLOW ? "GET /health HTTP/1.1\r\nHost: loris\r\n"
                      : c->kind == PROBE
                          ? "GET /health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"
                          : get_request;
    if ((events & EPOLLOUT) && c->sent < strlen(req)) {
        ssize_t n = send(c->fd, req + c->sent, strlen(req) - c->sent, MSG_NOSIGNAL);
        if (n > 0) c->sent += (size_t)n;
        if (n < 0 && errno != EAGAIN) {
            ended(epfd, c);
            return;
        }
        if (c->sent == strlen(req)) {
            struct epoll_event ev = {EPOLLIN | EPOLLRDHUP, {.ptr = c}};
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        char buf[4096];
        for (;;) {
            ssize_t n = recv(c->fd, buf, sizeof buf, 0);
            if (n > 0) {
                size_t keep = c->got < sizeof c->head - 1 ? sizeof c->head - 1 - c->got : 0;
                memcpy(c->head + c->got, buf, (size_t)n < keep ? (size_t)n : keep);
                c->got += (size_t)n;
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) ended(epfd, c);
            break;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 8) {
        fputs("usage: http_load PORT get|slow CLIENTS ADDRESSES SECONDS PATH [PROBE_LIMIT]\n",
              stderr);
        return 2;
    }
    if (argc == 8 && (probe_limit = atof(argv[7])) <= 0) return 2;
    port = atoi(argv[1]);
    int kind = strcmp(argv[2], "slow") == 0 ? SLOW : GET;
    int clients = atoi(argv[3]), addresses = atoi(argv[4]);
    double seconds = atof(argv[5]);
    path = argv[6];
    if (clients < 0 || clients > 5000 || addresses < 1 || addresses > 250 || seconds > 60) return 2;
    snprintf(get_request, sizeof get_request,
             "GET %s HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n", path);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    conn *conns = calloc((size_t)clients + 8, sizeof *conns);
    if (!conns) return 1;
    conn *probe = &conns[clients];
    probe->fd = -1;
    enum { MIN_PROBES = 5 };
    double start = now(), end = start + seconds, next_probe = start + 0.5;
    double last_end = start + 4 * seconds; /* (the load's end when probes come slowly) */
    for (int i = 0; i < clients; i++)
        if (open_conn(epfd, &conns[i], kind, i % addresses) != 0) refused++;
    struct epoll_event evs[256];
    for (;;) {
        double t = now();
        if (probes >= MIN_PROBES || t >= last_end) {
            if (t >= end + (probe->open ? probe_limit : 0)) break;
        } else if (t >= end) /* too few probes yet: the load goes on */
            end = t + 0.05;
        if (t >= next_probe && t < end && !probe->open) {
            open_conn(epfd, probe, PROBE, 0);
            probes++;
            next_probe = t + 0.25;
        }
        if (probe->open && t - probe->started > probe_limit) { /* too late: not ok */
            if (t - probe->started > probe_max) probe_max = t - probe->started;
            close_conn(epfd, probe);
        }
        int n = epoll_wait(epfd, evs, 256, 20);
        for (int i = 0; i < n; i++)
            step(epfd, evs[i].data.ptr, evs[i].events);
        t = now();
        for (int i = 0; i < clients; i++) {
            conn *c = &conns[i];
            if (c->open && kind == SLOW && t >= c->next_drip && c->sent) {
                /* one more header line: the request never ends */
                if (send(c->fd, "X-Drip: 1\r\n", 11, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
                    ended(epfd, c);
                c->next_drip = t + 1;
            } else if (!c->open && kind == GET && t < end) {
                if (open_conn(epfd, c, GET, c->addr) != 0) refused++;
            }
        }
    }
    long still_open = 0;
    for (int i = 0; i < clients; i++)
        still_open += conns[i].open;
    printf("answered=%ld unanswered=%ld refused=%ld open=%ld probes=%ld probes_ok=%ld "
           "probe_max_ms=%.0f\n",
           answered, unanswered, refused, still_open, probes, probes_ok, probe_max * 1000);
    return 0;
}
