/* test_strbuf: the buffer the host writes JSON text with (host/strbuf.c): a string written as JSON
 * (plain runs copied in one piece, quotes, backslashes and control characters escaped) reads back
 * as the same string through lua-cjson, for every byte; and a reserve makes room without changing
 * the text. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "strbuf.h"

int luaopen_cjson(lua_State *L);

/* s written by zg_strbuf_json_string, as text (the caller frees it) */
static char *as_json(const char *s)
{
    zg_strbuf b;
    zg_strbuf_init(&b);
    zg_strbuf_json_string(&b, s);
    return zg_strbuf_take(&b);
}

static void test_a_string_written_as_json_reads_back_the_same(void)
{
    char *t = as_json("");
    CHECK_STR(t, "\"\"");
    free(t);
    t = as_json("plain text");
    CHECK_STR(t, "\"plain text\"");
    free(t);
    t = as_json("a\"b\\c\n\x01z");
    CHECK_STR(t, "\"a\\\"b\\\\c\\u000a\\u0001z\"");
    free(t);

    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
    char all[256];
    for (int i = 1; i < 256; i++) /* every byte but NUL, with runs of plain ones between */
        all[i - 1] = (char)i;
    all[255] = 0;
    const char *cases[] = {all, "\"", "\\\\", "x\x1f", "\x7f\xc3\xa9 ok", "quote at the end\""};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *json = as_json(cases[k]);
        CHECK(json != NULL);
        lua_getfield(L, -1, "decode");
        lua_pushstring(L, json ? json : "");
        int ok = lua_pcall(L, 1, 1, 0) == LUA_OK;
        CHECK(ok);
        if (ok) CHECK_STR(lua_tostring(L, -1), cases[k]);
        lua_pop(L, 1);
        free(json);
    }
    lua_close(L);
}

static void test_a_reserve_keeps_the_text(void)
{
    zg_strbuf b;
    zg_strbuf_init(&b);
    zg_strbuf_append(&b, "abc", 3);
    zg_strbuf_reserve(&b, 10000);
    CHECK(b.cap >= 10004);
    CHECK_INT(b.len, 3);
    zg_strbuf_append(&b, "def", 3);
    CHECK_STR(b.data, "abcdef");
    zg_strbuf_free(&b);
}

int main(void)
{
    RUN(test_a_string_written_as_json_reads_back_the_same);
    RUN(test_a_reserve_keeps_the_text);
    return check_done();
}
