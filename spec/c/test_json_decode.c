/* The runtime's fast JSON decoder (host/json_decode.c) against lua-cjson, the decoder it stands
 * in for: whatever it decodes is exactly what cjson gives (floats, cjson.null, nesting, escapes,
 * duplicate keys), what it gives up on it leaves to cjson with the stack as it was, and the
 * documents the store hands back take the fast path. Also thousands of random mutations of a
 * document: the fast path never answers where cjson refuses, nor differently. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_decode.h"

int luaopen_cjson(lua_State *L);

/* same(a, b): deep equality that tells floats from integers and compares NaN-free numbers */
static const char *const same_src =
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then return math.type(a) == math.type(b) and a == b end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "return same";

static lua_State *L;
static int same_ref, decode_ref;

static void setup(void)
{
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
    lua_getfield(L, -1, "new");
    lua_call(L, 0, 1); /* an instance like zerog.codec's `stored` */
    lua_getfield(L, -1, "decode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode");
    decode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 2);
    if (luaL_dostring(L, same_src) != LUA_OK) abort();
    same_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* 1: the fast path decoded text as cjson does; 0: it gave up (the stack as it was); -1: it
 * answered where cjson refuses, or differently */
static int compare(const char *text, size_t len)
{
    int top = lua_gettop(L);
    int fast = zg_json_decode(L, text, len);
    if (!fast) return lua_gettop(L) == top ? 0 : -1;
    if (lua_gettop(L) != top + 1) return -1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, decode_ref);
    lua_pushlstring(L, text, len);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_settop(L, top);
        return -1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, same_ref);
    lua_insert(L, -3);
    lua_call(L, 2, 1);
    int equal = lua_toboolean(L, -1);
    lua_settop(L, top);
    return equal ? 1 : -1;
}

static const char *const doc =
    "{\"schemaVersion\":\"1.0\",\"updatedAt\":\"2026-11-29T19:53:05.575Z\","
    "\"queueKwargs\":{\"delay\":0,\"priority\":1024,\"ttr\":60},\"tickcount\":0,"
    "\"running\":false,\"tickval\":0.001,\"errorCount\":0,\"i\":1,\"resultCode\":-1,"
    "\"logId\":\"bench_f12ed5fb\",\"x\":null,\"done\":true,\"completeness\":0.5,"
    "\"events\":[{\"msg\":\"a\\/b \\\"q\\\" \\\\ \\t\\n\\r\\b\\f\",\"timeStamp\":\"t\"}],"
    "\"warnings\":[],\"errors\":[],\"o\":{},\"n\":[1,-0,2.5e-3,1E+5,-7.25,[[[]]],"
    "\"\xc3\xa9\xe2\x82\xac\"],"
    "\"big\":9007199254740993,\"cas\":2, \"dup\" : 1 ,\"dup\":2 }";

static void test_documents_the_store_hands_back_decode_on_the_fast_path_as_cjson_does(void)
{
    CHECK_INT(compare(doc, strlen(doc)), 1);
    const char *plain[] = {"{}",     "[]",   " [ 1 , 2 ] ",
                           "\"s\"",  "0",    "-0.5",
                           "true",   "null", "{\"a\":{\"b\":{\"c\":[null,false]}}}",
                           "[\"\"]", "1e308"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        int r = compare(plain[i], strlen(plain[i]));
        if (r != 1) printf("# %s: %d\n", plain[i], r);
        CHECK_INT(r, 1);
    }
}

static void test_what_the_fast_path_does_not_read_is_left_to_cjson_with_the_stack_untouched(void)
{
    const char *beyond[] = {"\"\\u00e9\"",
                            "\"a\x01\"",
                            "1e400",
                            "-1e400",
                            "0x10",
                            "NaN",
                            "Infinity",
                            "01",
                            "1.",
                            ".5",
                            "+1",
                            "{\"a\" 1}",
                            "[1,]",
                            "{,}",
                            "[1 2]",
                            "{\"a\":1}x",
                            "",
                            "tru",
                            "\"open",
                            "{\"a\":1",
                            "\"bad \\x esc\"",
                            "[\"a\\",
                            "\xef\xbb\xbf{}"};
    for (size_t i = 0; i < sizeof beyond / sizeof *beyond; i++) {
        int r = compare(beyond[i], strlen(beyond[i]));
        if (r != 0) printf("# %s: %d\n", beyond[i], r);
        CHECK_INT(r, 0);
    }
    char deep[512] = "";
    for (int i = 0; i < 101; i++)
        strcat(deep, "[");
    for (int i = 0; i < 101; i++)
        strcat(deep, "]");
    CHECK_INT(compare(deep, strlen(deep)), 0); /* over 100 levels */
    char ok[256] = "";
    for (int i = 0; i < 100; i++)
        strcat(ok, "[");
    for (int i = 0; i < 100; i++)
        strcat(ok, "]");
    CHECK_INT(compare(ok, strlen(ok)), 1);
    CHECK_INT(compare("\"a\0b\"", 5), 0); /* a NUL in the text */
}

static void test_random_mutations_of_a_document_never_decode_otherwise_than_cjson(void)
{
    size_t len = strlen(doc);
    char *buf = malloc(len + 8);
    const char alphabet[] = "{}[]\",:\\/ 0123456789.eE+-truefalsnul\x01\xc3";
    srand(7);
    int fast = 0, wrong = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(buf, doc, len + 1);
        size_t n = len;
        for (int k = 1 + rand() % 3; k > 0; k--) {
            size_t at = (size_t)rand() % n;
            int op = rand() % 3;
            char c = alphabet[rand() % (sizeof alphabet - 1)];
            if (op == 0)
                buf[at] = c; /* replace */
            else if (op == 1 && n > 1)
                memmove(buf + at, buf + at + 1, n-- - at); /* delete */
            else if (n < len + 6) {                        /* insert */
                memmove(buf + at + 1, buf + at, n++ - at + 1);
                buf[at] = c;
            }
        }
        int r = compare(buf, n);
        if (r < 0 && wrong++ < 5) printf("# differs from cjson: %.*s\n", (int)n, buf);
        fast += r == 1;
    }
    free(buf);
    CHECK_INT(wrong, 0);
    CHECK(fast > 1000); /* (many mutations stay valid: the comparison did run) */
}

int main(void)
{
    setup();
    RUN(test_documents_the_store_hands_back_decode_on_the_fast_path_as_cjson_does);
    RUN(test_what_the_fast_path_does_not_read_is_left_to_cjson_with_the_stack_untouched);
    RUN(test_random_mutations_of_a_document_never_decode_otherwise_than_cjson);
    lua_close(L);
    return check_done();
}
