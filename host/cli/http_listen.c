/* http_listen: the daemon's listening socket. --listen takes HOST:PORT with an IPv4 address or a
 * host name (localhost:8888, resolved, the first address that binds wins) or [IPV6]:PORT
 * ([::1]:8888). The socket is opened here rather than by libmicrohttpd so that a failure says
 * why ("cannot listen on 127.0.0.1:8888: Address already in use"). It is close-on-exec and has
 * SO_REUSEADDR, so a daemon restarted after a crash binds the port at once. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"

int listen_parse(const char *text, listen_addr *out, char *err, size_t errlen)
{
    const char *port;
    size_t hostlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') goto bad;
        hostlen = (size_t)(close - text - 1);
        memcpy(out->host, text + 1, hostlen < sizeof out->host ? hostlen : 0);
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || memchr(text, ':', (size_t)(colon - text))) goto bad; /* IPv6 wants [] */
        hostlen = (size_t)(colon - text);
        memcpy(out->host, text, hostlen < sizeof out->host ? hostlen : 0);
        port = colon + 1;
    }
    if (hostlen == 0 || hostlen >= sizeof out->host) goto bad;
    out->host[hostlen] = '\0';
    char *end;
    long p = strtol(port, &end, 10);
    if (end == port || *end || p < 1 || p > 65535) {
        snprintf(err, errlen, "--listen: the port must be a number from 1 to 65535, got %s", text);
        return -1;
    }
    out->port = (int)p;
    return 0;
bad:
    snprintf(err, errlen, "--listen wants HOST:PORT or [IPV6]:PORT, got %s", text);
    return -1;
}

int listen_open(const listen_addr *a, int *fd, int *ipv6, int *bad_input, char *err, size_t errlen)
{
    char port[16];
    snprintf(port, sizeof port, "%d", a->port);
    struct addrinfo hints = {0}, *found = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    *bad_input = 0;
    int rc = getaddrinfo(a->host, port, &hints, &found);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", a->host, a->port, gai_strerror(rc));
        *bad_input = rc == EAI_NONAME;
        return -1;
    }
    int saved = 0;
    *fd = -1;
    for (struct addrinfo *ai = found; ai && *fd < 0; ai = ai->ai_next) {
        int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (s < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(s, ai->ai_addr, ai->ai_addrlen) != 0 || listen(s, SOMAXCONN) != 0) {
            saved = errno;
            close(s);
            continue;
        }
        *fd = s;
        *ipv6 = ai->ai_family == AF_INET6;
    }
    freeaddrinfo(found);
    if (*fd >= 0) return 0;
    const char *open = strchr(a->host, ':') ? "[" : "", *close = *open ? "]" : "";
    snprintf(err, errlen, "cannot listen on %s%s%s:%d: %s", open, a->host, close, a->port,
             strerror(saved));
    return -1;
}
