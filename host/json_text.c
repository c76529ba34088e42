/* json_text: see json_text.h. */
#include "json_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200 /* containers nested deeper are not read (the stack stays bounded) */

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Past a string at p (at its opening quote); NULL when unterminated. */
static const char *skip_string(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\') {
            if (!p[1]) return NULL;
            p++;
        } else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

static const char *skip_number(const char *p)
{
    const char *start = p;
    p += strspn(p, "-+0123456789.eE");
    return p > start ? p : NULL;
}

static const char *skip_value(const char *p, int depth);

/* Past an object or array at p; members are "key": value when object. */
static const char *skip_container(const char *p, int object, int depth)
{
    char close = object ? '}' : ']';
    p = ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
        if (object) {
            if (*p != '"' || !(p = skip_string(p))) return NULL;
            p = ws(p);
            if (*p != ':') return NULL;
            p = ws(p + 1);
        }
        if (!(p = skip_value(p, depth + 1))) return NULL;
        p = ws(p);
        if (*p == close) return p + 1;
        if (*p != ',') return NULL;
        p = ws(p + 1);
    }
}

static const char *skip_value(const char *p, int depth)
{
    if (depth > MAX_DEPTH) return NULL;
    p = ws(p);
    switch (*p) {
    case '"':
        return skip_string(p);
    case '{':
        return skip_container(p, 1, depth);
    case '[':
        return skip_container(p, 0, depth);
    case 't':
        return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default:
        return skip_number(p);
    }
}

const char *zg_json_blanks(const char *p)
{
    return ws(p);
}

const char *zg_json_value_end(const char *p)
{
    return skip_value(p, 0);
}

const char *zg_json_skip(const char *p)
{
    p = skip_value(p, 0);
    return p ? ws(p) : NULL;
}

/* Decodes four hex digits; -1 when they are not. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decodes the string at p into out[0..size) when out is not NULL; returns the decoded length
 * (what it needs), or -1 when p is not a string. */
static long decode_string(const char *p, char *out, size_t size)
{
    p = ws(p);
    if (*p != '"' || !skip_string(p)) return -1;
    size_t n = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (out && n + 1 < size) out[n] = (char)(c);                                               \
        n++;                                                                                       \
    } while (0)
    for (p++; *p != '"'; p++) {
        if (*p != '\\') {
            PUT(*p);
            continue;
        }
        p++;
        long cp;
        switch (*p) {
        case 'b':
            PUT('\b');
            break;
        case 'f':
            PUT('\f');
            break;
        case 'n':
            PUT('\n');
            break;
        case 'r':
            PUT('\r');
            break;
        case 't':
            PUT('\t');
            break;
        case 'u':
            if ((cp = hex4(p + 1)) < 0) return -1;
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
                long low = hex4(p + 3);
                if (low >= 0xDC00 && low < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    p += 6;
                }
            }
            if (cp < 0x80) {
                PUT(cp);
            } else if (cp < 0x800) {
                PUT(0xC0 | (cp >> 6));
                PUT(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                PUT(0xE0 | (cp >> 12));
                PUT(0x80 | ((cp >> 6) & 0x3F));
                PUT(0x80 | (cp & 0x3F));
            } else {
                PUT(0xF0 | (cp >> 18));
                PUT(0x80 | ((cp >> 12) & 0x3F));
                PUT(0x80 | ((cp >> 6) & 0x3F));
                PUT(0x80 | (cp & 0x3F));
            }
            break;
        default: /* \" \\ \/ */
            PUT(*p);
        }
    }
#undef PUT
    if (out && size) out[n < size ? n : size - 1] = '\0';
    return (long)n;
}

int zg_json_text(const char *value, char *out, size_t size)
{
    return value && decode_string(value, out, size) >= 0;
}

char *zg_json_text_dup(const char *value)
{
    long n = value ? decode_string(value, NULL, 0) : -1;
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    if (out) decode_string(value, out, (size_t)n + 1);
    return out;
}

int zg_json_number(const char *value, double *out)
{
    if (!value) return 0;
    value = ws(value);
    if (*value != '-' && (*value < '0' || *value > '9')) return 0;
    char *end;
    *out = strtod(value, &end);
    return end != value;
}

const char *zg_json_member(const char *object, const char *key)
{
    if (!object) return NULL;
    const char *p = ws(object);
    if (*p != '{') return NULL;
    p = ws(p + 1);
    size_t keylen = strlen(key);
    while (*p == '"') {
        const char *end = skip_string(p);
        if (!end) return NULL;
        /* keys the host writes have no escapes: compare the raw text */
        int match = (size_t)(end - p - 2) == keylen && strncmp(p + 1, key, keylen) == 0;
        p = ws(end);
        if (*p != ':') return NULL;
        p = ws(p + 1);
        if (match) return p;
        if (!(p = skip_value(p, 0))) return NULL;
        p = ws(p);
        if (*p != ',') return NULL;
        p = ws(p + 1);
    }
    return NULL;
}

const char *zg_json_first(const char *array)
{
    if (!array) return NULL;
    const char *p = ws(array);
    if (*p != '[') return NULL;
    p = ws(p + 1);
    return *p == ']' || !*p ? NULL : p;
}

const char *zg_json_next(const char *item)
{
    const char *p = item ? skip_value(item, 0) : NULL;
    if (!p) return NULL;
    p = ws(p);
    return *p == ',' ? ws(p + 1) : NULL;
}

size_t zg_json_count(const char *array)
{
    size_t n = 0;
    for (const char *p = zg_json_first(array); p; p = zg_json_next(p))
        n++;
    return n;
}

int zg_json_string_field(const char *json, const char *key, char *out, size_t size)
{
    return zg_json_text(zg_json_member(json, key), out, size);
}

int zg_json_number_field(const char *json, const char *key, double *out)
{
    return zg_json_number(zg_json_member(json, key), out);
}

/* ---- writing ---- */
