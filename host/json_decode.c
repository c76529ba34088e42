/* json_decode: a fast path for decoding the JSON the store hands back (a job's document, a
 * fresh copy after a write). It builds the same Lua value lua-cjson's decoder does (numbers as
 * floats, null as cjson.null, arrays as plain tables) for the plain JSON this runtime writes, and
 * gives up (pushing nothing) on anything else: a \u escape, a control character in a string, a
 * number outside JSON's strict grammar, nesting over 100 levels, bad syntax. zerog.codec then
 * asks lua-cjson, which decides, so the result never differs from cjson's.
 *
 * Why: cjson grows every table key by key (a 25-field document is rehashed 6 times) and sets up
 * a buffer per call: 48k instructions for a claimed document, the largest single cost of a run's
 * Lua side. This presizes the document's table and reads strings in place. */
#include "json_decode.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 100

typedef struct {
    lua_State *L;
    const char *p, *end;
    char *scratch; /* for strings with escapes: as long as the text (a userdata), made once */
    size_t scratch_len;
    int scratch_index;
} reader;

static void skip_space(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

/* A string at r->p (its opening quote), pushed; 0 (nothing pushed) when it is not one this
 * reader takes. */
static int read_string(reader *r)
{
    const char *start = ++r->p, *q = start;
    while (q < r->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
        q++;
    if (q >= r->end || (unsigned char)*q < 0x20) return 0;
    if (*q == '"') {
        lua_pushlstring(r->L, start, (size_t)(q - start));
        r->p = q + 1;
        return 1;
    }
    if (!r->scratch) {
        r->scratch = lua_newuserdatauv(r->L, r->scratch_len, 0);
        lua_replace(r->L, r->scratch_index); /* kept in the slot reserved for it */
    }
    size_t n = (size_t)(q - start);
    memcpy(r->scratch, start, n);
    while (q < r->end && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20) return 0;
        if (c != '\\') {
            r->scratch[n++] = (char)c;
            q++;
            continue;
        }
        if (q + 1 >= r->end) return 0;
        char e = q[1], out;
        switch (e) {
        case '"':
            out = '"';
            break;
        case '\\':
            out = '\\';
            break;
        case '/':
            out = '/';
            break;
        case 'b':
            out = '\b';
            break;
        case 'f':
            out = '\f';
            break;
        case 'n':
            out = '\n';
            break;
        case 'r':
            out = '\r';
            break;
        case 't':
            out = '\t';
            break;
        default:
            return 0; /* \u (and anything else): cjson's */
        }
        r->scratch[n++] = out;
        q += 2;
    }
    if (q >= r->end) return 0;
    lua_pushlstring(r->L, r->scratch, n);
    r->p = q + 1;
    return 1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number in JSON's strict grammar, pushed as a float (as cjson does); 0 otherwise. */
static int read_number(reader *r)
{
    const char *q = r->p;
    if (q < r->end && *q == '-') q++;
    if (q >= r->end || !is_digit(*q)) return 0;
    if (*q == '0')
        q++;
    else
        while (q < r->end && is_digit(*q))
            q++;
    if (q < r->end && *q == '.') {
        q++;
        if (q >= r->end || !is_digit(*q)) return 0;
        while (q < r->end && is_digit(*q))
            q++;
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < r->end && (*q == '+' || *q == '-')) q++;
        if (q >= r->end || !is_digit(*q)) return 0;
        while (q < r->end && is_digit(*q))
            q++;
    }
    char text[64];
    size_t len = (size_t)(q - r->p);
    if (len >= sizeof text) return 0;
    memcpy(text, r->p, len);
    text[len] = 0;
    char *stop;
    double v = strtod(text, &stop);
    if (stop != text + len || isinf(v)) return 0; /* (beyond a double: cjson's to decide) */
    lua_pushnumber(r->L, v);
    r->p = q;
    return 1;
}

static int literal(reader *r, const char *word, size_t len)
{
    if ((size_t)(r->end - r->p) < len || memcmp(r->p, word, len) != 0) return 0;
    r->p += len;
    return 1;
}

static int read_value(reader *r, int depth, int top);

/* An object or array at r->p, pushed; 0 (with the stack as it was) otherwise. */
static int read_container(reader *r, int depth, int top)
{
    lua_State *L = r->L;
    if (depth > MAX_DEPTH || !lua_checkstack(L, 4)) return 0;
    int object = *r->p == '{';
    char close = object ? '}' : ']';
    r->p++;
    lua_createtable(L, 0, object && top ? 32 : 0);
    skip_space(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 1;
    }
    for (lua_Integer i = 1;; i++) {
        skip_space(r);
        if (object) {
            if (r->p >= r->end || *r->p != '"' || !read_string(r)) goto fail;
            skip_space(r);
            if (r->p >= r->end || *r->p != ':') goto fail_key;
            r->p++;
            skip_space(r);
            if (!read_value(r, depth + 1, 0)) goto fail_key;
            lua_rawset(L, -3);
        } else {
            if (!read_value(r, depth + 1, 0)) goto fail;
            lua_rawseti(L, -2, i);
        }
        skip_space(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 1;
        }
        goto fail;
    }
fail_key:
    lua_pop(L, 1);
fail:
    lua_pop(L, 1);
    return 0;
}

static int read_value(reader *r, int depth, int top)
{
    if (r->p >= r->end) return 0;
    switch (*r->p) {
    case '{':
    case '[':
        return read_container(r, depth, top);
    case '"':
        return read_string(r);
    case 't':
        if (!literal(r, "true", 4)) return 0;
        lua_pushboolean(r->L, 1);
        return 1;
    case 'f':
        if (!literal(r, "false", 5)) return 0;
        lua_pushboolean(r->L, 0);
        return 1;
    case 'n':
        if (!literal(r, "null", 4)) return 0;
        lua_pushlightuserdata(r->L, NULL); /* cjson.null */
        return 1;
    default:
        return read_number(r);
    }
}

int zg_json_decode(lua_State *L, const char *text, size_t len)
{
    reader r = {L, text, text + len, NULL, len + 1, 0};
    lua_pushnil(L); /* the slot for the scratch buffer, if a string needs one */
    r.scratch_index = lua_gettop(L);
    skip_space(&r);
    int ok = read_value(&r, 1, 1);
    if (ok) {
        skip_space(&r);
        if (r.p != r.end) {
            lua_pop(L, 1);
            ok = 0;
        }
    }
    if (ok)
        lua_remove(L, r.scratch_index);
    else
        lua_pop(L, 1);
    return ok;
}
