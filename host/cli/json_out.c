/* json_out: writing the command's JSON in one style, and reading the API's JSON answers.
 *
 * The library hands out JSON text (lua-cjson's, which escapes '/' as "\/"); the command adds a
 * few objects of its own around it. Everything the command prints goes through json_write, so
 * every output has the same compact style whoever wrote its parts. Reading is the library's
 * scanner (json_text.h: skip a value, find a member, walk an array), strict enough that a key
 * inside a string value is never taken for a member. */
#include "json_out.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    const char *end = zg_json_value_end(p);
    for (; p < end; p++) {
        if (*p == '\\' && p[1] == '/') continue;
        if (*p == '\\') fputc(*p++, out);
        fputc(*p, out);
    }
    return end;
}

/* Writes the value at p compactly; `key` is the member name it belongs to (or NULL). Returns
 * the end of the value. */
static const char *write_value(FILE *out, const char *p, const char *key, size_t keylen)
{
    p = zg_json_blanks(p);
    if (*p == '"') return write_string(out, p);
    if (*p == '{' || *p == '[') {
        int object = *p == '{';
        char close = object ? '}' : ']';
        fputc(*p, out);
        p = zg_json_blanks(p + 1);
        for (int first = 1; *p != close; first = 0) {
            if (!first) {
                fputc(',', out);
                p = zg_json_blanks(p + 1);
            }
            const char *name = NULL;
            size_t namelen = 0;
            if (object) {
                name = p + 1;
                p = write_string(out, p);
                namelen = (size_t)(p - name - 1);
                p = zg_json_blanks(p);
                fputc(':', out);
                p = zg_json_blanks(p + 1);
            }
            p = zg_json_blanks(write_value(out, p, name, namelen));
        }
        fputc(close, out);
        return p + 1;
    }
    const char *end = zg_json_value_end(p);
    double v;
    if (key && keylen == 12 && strncmp(key, "completeness", 12) == 0 && zg_json_number(p, &v))
        json_write_fraction(out, v);
    else
        fwrite(p, 1, (size_t)(end - p), out);
    return end;
}

void json_write(FILE *out, const char *json)
{
    const char *end = zg_json_value_end(json);
    if (!end || *zg_json_blanks(end)) { /* not one valid value: as it is */
        fputs(json, out);
        return;
    }
    write_value(out, json, NULL, 0);
}
