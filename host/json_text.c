/* json_text: see json_text.h. */
#include "json_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *blanks(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16;
        if (d == 16) return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The end of the string starting at p (its opening quote), just past its closing quote; NULL. */
static const char *string_end(const char *p)
{
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && !*++p) return NULL;
    return *p == '"' ? p + 1 : NULL;
}

char *zg_json_string(const char *text)
{
    if (!text) return NULL;
    const char *p = blanks(text);
    const char *end = *p == '"' ? string_end(p) : NULL;
    if (!end) return NULL;
    char *out = malloc((size_t)(end - p)); /* the value is never longer than its text */
    if (!out) return NULL;
    size_t n = 0;
    for (p++; p < end - 1; p++) {
        if (*p != '\\') {
            out[n++] = *p;
            continue;
        }
        char c = *++p;
        unsigned cp, low;
        switch (c) {
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u':
            if (hex4(p + 1, &cp) != 0) goto bad;
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u' &&
                hex4(p + 3, &low) == 0 && low >= 0xDC00 && low < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            }
            n += put_utf8(out + n, cp); /* 6 or 12 bytes of text give at most 4 */
            break;
        default:
            out[n++] = c; /* \" \\ \/ */
        }
    }
    out[n] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* Past the value starting at p (blanks skipped), or NULL. */
static const char *skip_value(const char *p)
{
    p = blanks(p);
    if (*p == '"') return string_end(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p) {
            if (*p == '"') {
                if (!(p = string_end(p))) return NULL;
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
            p++;
        }
        return NULL;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']')
        p++;
    return p;
}

const char *zg_json_member(const char *text, const char *name)
{
    if (!text) return NULL;
    const char *p = blanks(text);
    if (*p != '{') return NULL;
    p = blanks(p + 1);
    size_t len = strlen(name);
    while (*p == '"') {
        const char *key_end = string_end(p);
        if (!key_end) return NULL;
        int match = (size_t)(key_end - p) == len + 2 && strncmp(p + 1, name, len) == 0;
        p = blanks(key_end);
        if (*p != ':') return NULL;
        p = blanks(p + 1);
        if (match) return p;
        if (!(p = skip_value(p))) return NULL;
        p = blanks(p);
        if (*p != ',') return NULL;
        p = blanks(p + 1);
    }
    return NULL;
}
