/* json_out: writing the command's JSON in one style, and reading the API's JSON answers.
 *
 * The library hands out JSON text (lua-cjson's, which escapes '/' as "\/"); the command adds a
 * few objects of its own around it. Everything the command prints goes through json_write, so
 * every output has the same compact style whoever wrote its parts. Reading is a scanner over the
 * text (skip a value, find a member, walk an array), enough for the flat answers the command
 * looks into, and strict enough that a key inside a string value is never taken for a member. */
#include "json_out.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200

/* The length of the valid UTF-8 sequence at s (at most len bytes), or 0 when the bytes there are
 * not one (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_sequence(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t need;
    unsigned long cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (len < need) return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return need;
}

size_t json_quote_len(char *out, size_t size, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 1, written = 1; /* n: the length needed; written: what fits in out */
    int cut = 0;
    if (out && size > 1) out[0] = '"';
    for (size_t i = 0; i < len;) {
        char unit[8]; /* one character as JSON text: an escape or its UTF-8 bytes */
        size_t ulen, step = utf8_sequence(s + i, len - i);
        if (step == 0) {
            memcpy(unit, "\\ufffd", ulen = 6); /* not UTF-8: the replacement character */
            step = 1;
        } else if (s[i] == '"' || s[i] == '\\') {
            unit[0] = '\\';
            unit[1] = (char)s[i];
            ulen = 2;
        } else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
            unit[0] = '\\';
            unit[1] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 't';
            ulen = 2;
        } else if (s[i] < 0x20) {
            snprintf(unit, sizeof unit, "\\u%04x", s[i]);
            ulen = 6;
        } else {
            memcpy(unit, s + i, step);
            ulen = step;
        }
        i += step;
        n += ulen;
        /* a character goes in whole, and only with room left for the closing quote and NUL */
        if (!cut && out && written + ulen + 2 <= size) {
            memcpy(out + written, unit, ulen);
            written += ulen;
        } else
            cut = 1;
    }
    n++;
    if (out && size >= 3) {
        out[written++] = '"';
        out[written] = '\0';
    } else if (out && size)
        out[0] = '\0'; /* no room for even "" */
    return n;
}

size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    if (n < max || !s[n]) return n; /* all of it fits */
    size_t back = 0;                /* step back over at most 3 continuation bytes */
    while (back < 3 && back < n && ((unsigned char)s[n - back] & 0xC0) == 0x80)
        back++;
    return n - back;
}

size_t json_quote(char *out, size_t size, const char *s)
{
    return json_quote_len(out, size, s, strlen(s));
}

/* ---- scanning ---- */

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

const char *json_skip(const char *p)
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

int json_text(const char *value, char *out, size_t size)
{
    return value && decode_string(value, out, size) >= 0;
}

char *json_text_dup(const char *value)
{
    long n = value ? decode_string(value, NULL, 0) : -1;
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    if (out) decode_string(value, out, (size_t)n + 1);
    return out;
}

int json_number(const char *value, double *out)
{
    if (!value) return 0;
    value = ws(value);
    if (*value != '-' && (*value < '0' || *value > '9')) return 0;
    char *end;
    *out = strtod(value, &end);
    return end != value;
}

const char *json_member(const char *object, const char *key)
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

const char *json_first(const char *array)
{
    if (!array) return NULL;
    const char *p = ws(array);
    if (*p != '[') return NULL;
    p = ws(p + 1);
    return *p == ']' || !*p ? NULL : p;
}

const char *json_next(const char *item)
{
    const char *p = item ? skip_value(item, 0) : NULL;
    if (!p) return NULL;
    p = ws(p);
    return *p == ',' ? ws(p + 1) : NULL;
}

size_t json_count(const char *array)
{
    size_t n = 0;
    for (const char *p = json_first(array); p; p = json_next(p))
        n++;
    return n;
}

int json_string_field(const char *json, const char *key, char *out, size_t size)
{
    return json_text(json_member(json, key), out, size);
}

int json_number_field(const char *json, const char *key, double *out)
{
    return json_number(json_member(json, key), out);
}

/* ---- writing ---- */

void json_write_fraction(FILE *out, double value)
{
    char text[64];
    snprintf(text, sizeof text, "%.6f", value);
    char *end = text + strlen(text);
    while (end > text && end[-1] == '0')
        *--end = '\0';
    if (end > text && end[-1] == '.') *--end = '\0';
    fputs(strcmp(text, "-0") == 0 ? "0" : text, out);
}

/* Writes the string at p as it is but for "\/", which becomes '/'; returns the end. */
static const char *write_string(FILE *out, const char *p)
{
    const char *end = skip_string(p);
    for (; p < end; p++) {
        if (*p == '\\' && p[1] == '/') continue;
        if (*p == '\\') fputc(*p++, out);
        fputc(*p, out);
    }
    return end;
}

/* Writes the value at p compactly; `key` is the member name it belongs to (or NULL). Returns
 * the end of the value. */
static const char *write_value(FILE *out, const char *p, const char *key, size_t keylen, int depth)
{
    p = ws(p);
    if (*p == '"') return write_string(out, p);
    if (*p == '{' || *p == '[') {
        int object = *p == '{';
        char close = object ? '}' : ']';
        fputc(*p, out);
        p = ws(p + 1);
        for (int first = 1; *p != close; first = 0) {
            if (!first) {
                fputc(',', out);
                p = ws(p + 1);
            }
            const char *name = NULL;
            size_t namelen = 0;
            if (object) {
                name = p + 1;
                p = write_string(out, p);
                namelen = (size_t)(p - name - 1);
                p = ws(p);
                fputc(':', out);
                p = ws(p + 1);
            }
            p = ws(write_value(out, p, name, namelen, depth + 1));
        }
        fputc(close, out);
        return p + 1;
    }
    const char *end = skip_value(p, depth);
    double v;
    if (key && keylen == 12 && strncmp(key, "completeness", 12) == 0 && json_number(p, &v))
        json_write_fraction(out, v);
    else
        fwrite(p, 1, (size_t)(end - p), out);
    return end;
}

void json_write(FILE *out, const char *json)
{
    const char *end = skip_value(json, 0);
    if (!end || *ws(end)) { /* not one valid value: as it is */
        fputs(json, out);
        return;
    }
    write_value(out, json, NULL, 0, 0);
}
