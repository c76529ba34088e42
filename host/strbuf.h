/* strbuf: a growable byte buffer, used wherever the host assembles JSON text. */
#ifndef ZG_STRBUF_H
#define ZG_STRBUF_H

#include <stddef.h>

typedef struct zg_strbuf {
    char *data; /* always NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    int oom; /* set once an allocation failed; later appends are no-ops */
} zg_strbuf;

void zg_strbuf_init(zg_strbuf *b);
void zg_strbuf_free(zg_strbuf *b);
void zg_strbuf_append(zg_strbuf *b, const char *s, size_t n);
/* Makes room for extra more bytes at once (a caller that knows about how much it will append). */
void zg_strbuf_reserve(zg_strbuf *b, size_t extra);
void zg_strbuf_puts(zg_strbuf *b, const char *s);
void zg_strbuf_printf(zg_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string (quoted, with quotes, backslashes and control characters escaped). */
void zg_strbuf_json_string(zg_strbuf *b, const char *s);
/* Hands the text to the caller (who frees it with free()); the buffer is empty again. */
char *zg_strbuf_take(zg_strbuf *b);

#endif
