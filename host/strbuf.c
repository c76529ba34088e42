/* strbuf: growable byte buffer with sticky out-of-memory state, so callers check once at the end.
 */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zg_strbuf_init(zg_strbuf *b)
{
    memset(b, 0, sizeof *b);
}

void zg_strbuf_free(zg_strbuf *b)
{
    free(b->data);
    zg_strbuf_init(b);
}

static int reserve(zg_strbuf *b, size_t extra)
{
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void zg_strbuf_reserve(zg_strbuf *b, size_t extra)
{
    reserve(b, extra);
}

void zg_strbuf_append(zg_strbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void zg_strbuf_puts(zg_strbuf *b, const char *s)
{
    zg_strbuf_append(b, s, strlen(s));
}

void zg_strbuf_printf(zg_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *zg_strbuf_take(zg_strbuf *b)
{
    char *s = b->oom ? NULL : b->data;
    if (b->oom)
        free(b->data);
    else if (!s)
        s = calloc(1, 1);
    zg_strbuf_init(b);
    return s;
}

void zg_strbuf_json_string(zg_strbuf *b, const char *s)
{
    zg_strbuf_append(b, "\"", 1);
    for (;;) {
        const char *run = s; /* the characters written as they are, appended in one piece */
        while (*s && *s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
            s++;
        if (s > run) zg_strbuf_append(b, run, (size_t)(s - run));
        if (!*s) break;
        unsigned char c = (unsigned char)*s++;
        if (c == '"' || c == '\\')
            zg_strbuf_printf(b, "\\%c", c);
        else
            zg_strbuf_printf(b, "\\u%04x", c);
    }
    zg_strbuf_append(b, "\"", 1);
}
