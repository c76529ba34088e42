/* json_check: a strict validator of JSON text (RFC 8259) for the fuzz targets, independent of
 * the JSON library the host uses, so that a document or reply the host hands out can be checked
 * by another reader: one value, nothing after it but white space, strings of valid UTF-8 (no
 * surrogates, no overlong forms) with escapes that exist, numbers of JSON's grammar, nesting
 * bounded by JSON_CHECK_DEPTH. Returns NULL when the text is valid, else what is wrong.
 * json_check_lenient_utf8 (set from ZEROG_FUZZ_LENIENT_UTF8=1 by the targets) lets bytes that are
 * not UTF-8 through, to look past that finding while it is open; CI never sets it. */
#ifndef ZG_FUZZ_JSON_CHECK_H
#define ZG_FUZZ_JSON_CHECK_H

#include <stddef.h>

#define JSON_CHECK_DEPTH 10000

static int json_check_lenient_utf8;

typedef struct json_cursor {
    const unsigned char *p, *end;
    const char *why;
} json_cursor;

static int json_fail(json_cursor *c, const char *why)
{
    if (!c->why) c->why = why;
    return 0;
}

static void json_space(json_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int json_literal(json_cursor *c, const char *word)
{
    for (; *word; word++, c->p++)
        if (c->p >= c->end || *c->p != (unsigned char)*word) return json_fail(c, "bad literal");
    return 1;
}

/* One UTF-8 character of a string (the lead byte at c->p, not a control or ASCII). */
static int json_utf8(json_cursor *c)
{
    unsigned char b = *c->p;
    int n;
    unsigned cp, min;
    if (b >= 0xc2 && b <= 0xdf)
        n = 1, cp = b & 0x1f, min = 0x80;
    else if (b >= 0xe0 && b <= 0xef)
        n = 2, cp = b & 0x0f, min = 0x800;
    else if (b >= 0xf0 && b <= 0xf4)
        n = 3, cp = b & 0x07, min = 0x10000;
    else
        return json_fail(c, "invalid UTF-8 in a string");
    if (c->end - c->p <= n) return json_fail(c, "truncated UTF-8 in a string");
    for (int i = 1; i <= n; i++) {
        if ((c->p[i] & 0xc0) != 0x80) return json_fail(c, "invalid UTF-8 in a string");
        cp = (cp << 6) | (c->p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return json_fail(c, "invalid UTF-8 in a string");
    c->p += n + 1;
    return 1;
}

static int json_string(json_cursor *c)
{
    c->p++; /* the opening quote */
    while (c->p < c->end) {
        unsigned char b = *c->p;
        if (b == '"') {
            c->p++;
            return 1;
        }
        if (b < 0x20) return json_fail(c, "a control character in a string");
        if (b == '\\') {
            if (++c->p >= c->end) break;
            unsigned char e = *c->p++;
            if (e == 'u') {
                for (int i = 0; i < 4; i++, c->p++) {
                    if (c->p >= c->end) return json_fail(c, "truncated \\u escape");
                    unsigned char h = *c->p;
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                          (h >= 'A' && h <= 'F')))
                        return json_fail(c, "bad \\u escape");
                }
            } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                       e != 'r' && e != 't')
                return json_fail(c, "bad escape in a string");
        } else if (b < 0x80)
            c->p++;
        else if (json_check_lenient_utf8)
            c->p++;
        else if (!json_utf8(c))
            return 0;
    }
    return json_fail(c, "unterminated string");
}

static int json_digits(json_cursor *c)
{
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start ? 1 : json_fail(c, "bad number");
}

static int zg_json_number(json_cursor *c)
{
    if (*c->p == '-') c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (!json_digits(c))
        return 0;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!json_digits(c)) return 0;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (!json_digits(c)) return 0;
    }
    return 1;
}

static int json_value(json_cursor *c, int depth)
{
    json_space(c);
    if (c->p >= c->end) return json_fail(c, "a value is missing");
    if (depth > JSON_CHECK_DEPTH) return json_fail(c, "nested too deep");
    unsigned char b = *c->p;
    if (b == '"') return json_string(c);
    if (b == 't') return json_literal(c, "true");
    if (b == 'f') return json_literal(c, "false");
    if (b == 'n') return json_literal(c, "null");
    if (b == '-' || (b >= '0' && b <= '9')) return zg_json_number(c);
    if (b != '[' && b != '{') return json_fail(c, "not a JSON value");
    unsigned char close = b == '[' ? ']' : '}';
    c->p++;
    json_space(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 1;
    }
    for (;;) {
        if (close == '}') {
            json_space(c);
            if (c->p >= c->end || *c->p != '"') return json_fail(c, "an object key is missing");
            if (!json_string(c)) return 0;
            json_space(c);
            if (c->p >= c->end || *c->p != ':') return json_fail(c, "':' is missing");
            c->p++;
        }
        if (!json_value(c, depth + 1)) return 0;
        json_space(c);
        if (c->p >= c->end) return json_fail(c, "unterminated array or object");
        if (*c->p == close) {
            c->p++;
            return 1;
        }
        if (*c->p != ',') return json_fail(c, "',' is missing");
        c->p++;
    }
}

/* NULL when text[0..len) is one valid JSON value, else the reason. */
static inline const char *json_check(const char *text, size_t len)
{
    json_cursor c = {(const unsigned char *)text, (const unsigned char *)text + len, NULL};
    if (json_value(&c, 0)) {
        json_space(&c);
        if (c.p != c.end) json_fail(&c, "text after the value");
    }
    return c.why;
}

#endif
