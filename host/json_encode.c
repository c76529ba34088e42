/* json_encode: a fast path for the JSON text of a document field's value, the same text
 * zerog.codec's own encoder gives (lua-cjson's string escapes; a number as the shortest of
 * %.15g, %.16g and %.17g that reads back to it; an object's keys in sorted order; a table as an
 * array when it is marked so or is a sequence), for the plain values that make up almost every
 * field: ASCII strings, integers within +-2^53, finite floats, booleans, null, and tables of
 * those (nested at most FAST_DEPTH, at most FAST_KEYS keys each, string keys), whose text is at
 * most FAST_BYTES. Anything else (a string with bytes beyond ASCII, NaN, an integer a JSON
 * reader's double would round, a number key, a table with another metatable, whose metamethods
 * the Lua path would call, a larger value) is left to zerog.codec, which writes it or refuses it
 * with its message, so the two paths never differ.
 *
 * FAST_BYTES bounds the work too: C code runs past the count hook that enforces a run's
 * TIMEOUT, so a value whose text would be huge (a table whose 64 keys all hold the same table, a
 * few levels deep; an array marked as such with a length of 2^40) is given up after that many
 * bytes' worth of walking, and the codec, in Lua, writes it under the hook (or the run's limits
 * stop it).
 *
 * Why: a submit encodes every field of its document (about 20), and the Lua path's calls, its
 * string.format, its sort and the garbage they leave cost 133k of a bench submit's 326k
 * instructions (the three-key queueKwargs alone 52k).
 *
 * A table is written in two passes, the first measuring its text, the second writing it into a
 * buffer of that size: between the buffer's set-up and its result the stack is used only in a
 * balanced way, as luaL_Buffer requires, and nothing is allocated outside the VM, nor inside it
 * but the stack's own growth (lua_checkstack), which runs no collection step. */
#include "json_encode.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2^53: past it, a JSON reader's double cannot hold every integer (zerog.codec's MAX_SAFE_INTEGER)
 */
#define MAX_SAFE_INTEGER 9007199254740992LL

/* Nesting levels and keys of one object the fast path writes; more is zerog.codec's. */
#define FAST_DEPTH 16
#define FAST_KEYS  64
#define FAST_BYTES (256 * 1024)

/* Copies n bytes of text to out (no NUL: the text goes on); returns the end. */
static char *put(char *out, const char *text, size_t n)
{
    memcpy(out, text, n);
    return out + n;
}

/* The length of s as a JSON string, or 0 when it has a byte beyond ASCII (zerog.codec's). */
static size_t string_length(const char *s, size_t len)
{
    size_t n = 2;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) return 0;
        if (c == '"' || c == '\\' || c == '/' || c == '\b' || c == '\t' || c == '\n' || c == '\f' ||
            c == '\r')
            n += 2;
        else if (c < 0x20 || c == 0x7f)
            n += 6;
        else
            n += 1;
    }
    return n;
}

static char *write_string(char *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    *out++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *named = c == '\b'   ? "b"
                            : c == '\t' ? "t"
                            : c == '\n' ? "n"
                            : c == '\f' ? "f"
                            : c == '\r' ? "r"
                                        : NULL;
        if (c == '"' || c == '\\' || c == '/') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (named) {
            *out++ = '\\';
            *out++ = named[0];
        } else if (c < 0x20 || c == 0x7f) {
            out = put(out, "\\u00", 4);
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        } else {
            *out++ = (char)c;
        }
    }
    *out++ = '"';
    return out;
}

int zg_json_push_string(lua_State *L, const char *s, size_t len)
{
    size_t n = string_length(s, len);
    if (!n) return 0;
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, n);
    write_string(out, s, len);
    luaL_pushresultsize(&b, n);
    return 1;
}

/* The decimal digits of an integer of at most 2^53 into text; its length. (By hand: snprintf's
 * "%lld" cost ~1.5k instructions a number.) */
static size_t integer_text(long long n, char text[40])
{
    char digits[20];
    size_t k = 0, len = 0;
    unsigned long long u = n < 0 ? (unsigned long long)-n : (unsigned long long)n;
    do {
        digits[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (n < 0) text[len++] = '-';
    while (k)
        text[len++] = digits[--k];
    text[len] = '\0';
    return len;
}

/* The text of a number (integer or float) into text; its length, or 0 when it is beyond the
 * fast path (an integer past +-2^53, NaN, an infinity). */
static size_t number_text(lua_State *L, int idx, char text[40])
{
    if (lua_isinteger(L, idx)) {
        lua_Integer n = lua_tointeger(L, idx);
        if (n > MAX_SAFE_INTEGER || n < -MAX_SAFE_INTEGER) return 0;
        return integer_text((long long)n, text);
    }
    double v = (double)lua_tonumber(L, idx);
    if (!isfinite(v)) return 0;
    /* an integral float under 10^15 is its digits, as %.15g writes it (-0.0 is "-0" there) */
    if (v == floor(v) && fabs(v) < 1e15 && !(v == 0 && signbit(v)))
        return integer_text((long long)v, text);
    for (int digits = 15;; digits++) {
        int n = snprintf(text, 40, "%.*g", digits, v);
        if (digits == 17 || strtod(text, NULL) == v) return (size_t)n;
    }
}

typedef struct {
    lua_State *L;
    int array_mt, object_mt; /* stack indexes of zerog.codec's marks (nil when not given) */
    size_t spent;            /* the bytes of text measured so far, at most FAST_BYTES */
} encoder;

typedef struct {
    const char *s;
    size_t len;
    int value; /* the stack index of its value (while the object is written) */
} key_text;

static int key_order(const void *a, const void *b)
{
    /* as Lua compares strings (strcoll: these have no NUL inside, and Lua's end in one) */
    return strcoll(((const key_text *)a)->s, ((const key_text *)b)->s);
}

/* Whether the table at idx is written as an array (zerog.codec's test: marked so, or a
 * sequence: keys 1..#t and nothing else); -1 when it is beyond the fast path (a metatable other
 * than the two marks, or a length whose items alone pass FAST_BYTES: each is a byte and a comma
 * at least, and the keys of such a table are not walked). *n: its length. */
static int table_kind(encoder *e, int idx, size_t *n)
{
    lua_State *L = e->L;
    int marked = 0;
    if (lua_getmetatable(L, idx)) {
        marked = lua_rawequal(L, -1, e->array_mt) ? 1 : lua_rawequal(L, -1, e->object_mt) ? 0 : -1;
        lua_pop(L, 1);
        if (marked < 0) return -1;
    }
    *n = (size_t)lua_rawlen(L, idx);
    if (*n > FAST_BYTES / 2) return -1;
    if (marked) return 1;
    if (*n == 0) return 0;
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
            (lua_Unsigned)lua_tointeger(L, -1) > *n) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    return count == *n;
}

/* Counts n more bytes of text; 0 when that would pass FAST_BYTES. */
static int spend(encoder *e, size_t n)
{
    if (n > FAST_BYTES - e->spent) return 0;
    e->spent += n;
    return 1;
}

/* The length of the text of the value at idx (absolute), or 0 when it is beyond the fast path
 * (its text, with what was measured before it, past FAST_BYTES included). */
static size_t measure_value(encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    char text[40];
    size_t m = 0;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        m = len < FAST_BYTES ? string_length(s, len) : 0;
        return m && spend(e, m) ? m : 0;
    }
    case LUA_TNUMBER:
        m = number_text(L, idx, text);
        return m && spend(e, m) ? m : 0;
    case LUA_TBOOLEAN:
        m = lua_toboolean(L, idx) ? 4 : 5;
        return spend(e, m) ? m : 0;
    case LUA_TNIL:
        return spend(e, 4) ? 4 : 0;
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, idx) == NULL && spend(e, 4) ? 4 : 0;
    case LUA_TTABLE:
        break;
    default:
        return 0;
    }
    if (depth > FAST_DEPTH || !lua_checkstack(L, 4) || !spend(e, 2)) return 0;
    size_t n, total = 2, items = 0;
    int kind = table_kind(e, idx, &n);
    if (kind < 0) return 0;
    if (kind == 1) {
        for (size_t i = 1; i <= n; i++) {
            if (i > 1 && !spend(e, 1)) return 0;
            lua_rawgeti(L, idx, (lua_Integer)i);
            m = measure_value(e, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
            if (!m) return 0;
            total += m + (i > 1);
        }
        return total;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t klen, k = 0;
        m = 0;
        if (lua_type(L, -2) == LUA_TSTRING && ++items <= FAST_KEYS) {
            const char *key = lua_tolstring(L, -2, &klen);
            k = klen >= FAST_BYTES || memchr(key, 0, klen) ? 0 : string_length(key, klen);
            if (k && spend(e, k + 1 + (items > 1))) m = measure_value(e, lua_gettop(L), depth + 1);
        }
        lua_pop(L, 1);
        if (!k || !m) {
            lua_pop(L, 1);
            return 0;
        }
        total += k + 1 + m + (items > 1);
    }
    return total;
}

/* The length of the whole text of the value at idx, or 0 (measure_value). */
static size_t measure(encoder *e, int idx)
{
    e->spent = 0;
    return measure_value(e, idx, 1);
}

/* Writes the text of the value at idx, which measure() has just measured, at out; returns its
 * end, or NULL when the stack cannot hold what it needs (the text is then not written whole).
 * Allocates nothing but the stack's growth: no collection step, and so no finalizer, can change
 * the value under it. */
static char *write_value(encoder *e, int idx, char *out)
{
    lua_State *L = e->L;
    char text[40];
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return write_string(out, s, len);
    }
    case LUA_TNUMBER: {
        size_t len = number_text(L, idx, text);
        return put(out, text, len);
    }
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? put(out, "true", 4) : put(out, "false", 5);
    case LUA_TTABLE:
        break;
    default: /* nil, cjson.null */
        return put(out, "null", 4);
    }
    size_t n;
    if (table_kind(e, idx, &n) == 1) {
        if (!lua_checkstack(L, 4)) return NULL;
        *out++ = '[';
        for (size_t i = 1; i <= n; i++) {
            if (i > 1) *out++ = ',';
            lua_rawgeti(L, idx, (lua_Integer)i);
            out = write_value(e, lua_gettop(L), out);
            lua_pop(L, 1);
            if (!out) return NULL;
        }
        *out++ = ']';
        return out;
    }
    /* the keys and values stay on the stack while they are written in the keys' order (to push
     * a key again to look its value up would allocate, and an allocation may run a finalizer) */
    int base = lua_gettop(L);
    if (!lua_checkstack(L, 2 * FAST_KEYS + 4)) return NULL;
    key_text keys[FAST_KEYS];
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* ... key value: both kept, the walk goes on from a copy */
        if (count == FAST_KEYS || lua_type(L, -2) != LUA_TSTRING) {
            lua_settop(L, base);
            return NULL;
        }
        keys[count].s = lua_tolstring(L, -2, &keys[count].len);
        keys[count].value = lua_gettop(L);
        count++;
        lua_pushvalue(L, -2);
    }
    if (count > 1) qsort(keys, count, sizeof keys[0], key_order);
    *out++ = '{';
    for (size_t i = 0; i < count && out; i++) {
        if (i > 0) *out++ = ',';
        out = write_string(out, keys[i].s, keys[i].len);
        *out++ = ':';
        out = write_value(e, keys[i].value, out);
    }
    lua_settop(L, base);
    if (!out) return NULL;
    *out++ = '}';
    return out;
}

int zg_json_push_field(lua_State *L, int idx, int array_mt, int object_mt)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) { /* a scalar in one pass */
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return zg_json_push_string(L, s, len);
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        char text[40];
        size_t len = number_text(L, idx, text);
        if (len) lua_pushlstring(L, text, len);
        return len > 0;
    }
    encoder e = {L, lua_absindex(L, array_mt), lua_absindex(L, object_mt), 0};
    size_t len = measure(&e, idx);
    if (!len) return 0;
    int top = lua_gettop(L);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, len);
    /* the buffer's allocation may have run a collection step, and a finalizer in it may have
     * changed the value: it is written only when it measures the same now (neither measuring
     * nor writing allocates, but for the stack's growth, which runs no collection step) */
    char *end = measure(&e, idx) == len ? write_value(&e, idx, out) : NULL;
    if (!end || (size_t)(end - out) != len) {
        lua_settop(L, top);
        return 0;
    }
    luaL_pushresultsize(&b, len);
    return 1;
}
