/* json_out: escaping for the strings the command writes, and field lookup in the host's events
 * (objects the host encodes itself: flat, compact, with sorted keys). */
#include "json_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t json_quote(char *out, size_t size, const char *s)
{
    size_t n = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 < size) out[n] = (c);                                                            \
        n++;                                                                                       \
    } while (0)
    PUT('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT((char)c);
        } else if (c == '\n') {
            PUT('\\');
            PUT('n');
        } else if (c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            for (char *e = esc; *e; e++)
                PUT(*e);
        } else
            PUT((char)c);
    }
    PUT('"');
#undef PUT
    if (size) out[n < size ? n : size - 1] = '\0';
    return n;
}

static const char *value_of(const char *json, const char *key)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(json, pattern);
    return p ? p + strlen(pattern) : NULL;
}

int json_string_field(const char *json, const char *key, char *out, size_t size)
{
    const char *v = value_of(json, key);
    if (!v || *v != '"') return 0;
    size_t n = 0;
    for (v++; *v && *v != '"' && n + 1 < size; v++) {
        if (*v == '\\' && v[1]) v++;
        out[n++] = *v;
    }
    out[n] = '\0';
    return 1;
}

int json_number_field(const char *json, const char *key, double *out)
{
    const char *v = value_of(json, key);
    if (!v) return 0;
    char *end;
    *out = strtod(v, &end);
    return end != v;
}
