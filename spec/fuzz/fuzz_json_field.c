/* fuzz_json_field: the fuzz input is JSON text, read as submit reads params (zerog.codec's
 * decode_input: its arrays and objects marked, integers as integers), then written as a field
 * both by the C fast path (host/json_encode.c) and by zerog.codec's own Lua encoder, loaded here
 * without the C core. What must hold, whatever the bytes: the fast path never reads or writes
 * out of bounds (ASan), and whenever it writes a text, the codec wrote the same one (it gives up
 * on what it does not write; the codec then decides). Each value is also tried inside a table
 * whose keys come from the input, and with one of its numbers as a float, so that key order,
 * number keys and floats are reached too; twice in one table (shared), beside -0.0, and in an
 * array marked as one with a hole. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_encode.h"
#include "lua_modules.h"

int luaopen_cjson(lua_State *L);

static lua_State *L;
static int codec_ref;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_json_field: %s: %s\n", what, detail);
    abort();
}

/* The runtime's zerog.codec, from the library's embedded modules (no zerog.core: the Lua path). */
static void open_state(void)
{
    L = luaL_newstate();
    if (!L) fail("luaL_newstate", "out of memory");
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pop(L, 1);
    const zg_lua_module *m = zg_lua_modules;
    while (m->name && strcmp(m->name, "zerog.codec") != 0)
        m++;
    if (!m->name) fail("zerog.codec", "not among the embedded modules");
    if (luaL_loadbufferx(L, m->source, m->size, m->chunkname, NULL) != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK)
        fail("zerog.codec", lua_tostring(L, -1));
    codec_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Both encoders on the value at the top of the stack (left there). */
static void compare(void)
{
    int value = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, codec_ref);
    int codec = lua_gettop(L);
    lua_getfield(L, codec, "array_mt");
    lua_getfield(L, codec, "object_mt");
    int fast = zg_json_push_field(L, value, codec + 1, codec + 2);
    lua_getfield(L, codec, "encode_field");
    lua_pushvalue(L, value);
    int ok = lua_pcall(L, 1, 1, 0) == LUA_OK;
    if (fast) {
        if (!ok) fail("the fast path wrote a value the codec refuses", lua_tostring(L, -1));
        size_t a, b;
        const char *mine = lua_tolstring(L, -2, &a), *theirs = lua_tolstring(L, -1, &b);
        if (a != b || memcmp(mine, theirs, a) != 0) {
            fprintf(stderr, "fast path: %.*s\ncodec:     %.*s\n", (int)a, mine, (int)b, theirs);
            fail("the two texts differ", "see above");
        }
    }
    lua_settop(L, value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) open_state();
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, codec_ref);
    lua_getfield(L, -1, "decode_input");
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_isnil(L, -1)) {
        lua_settop(L, 0);
        return 0;
    }
    compare();
    /* inside an object keyed by the input's first bytes, and beside a float and a number key */
    lua_newtable(L);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, size > 0 && data[0] < 0x80 ? (const char[]){(char)data[0], 0} : "k");
    lua_pushnumber(L, (lua_Number)size / 7.0);
    lua_setfield(L, -2, "f");
    compare();
    lua_pushinteger(L, (lua_Integer)size % 3 + 1);
    lua_setfield(L, -2, "n");
    compare();
    if (size % 2) {
        lua_pushboolean(L, 1);
        lua_rawseti(L, -2, (lua_Integer)size % 5 + 1);
        compare();
    }
    /* the value twice in one table (a shared subtable), -0.0, and in an array marked as one with
     * a hole (its length is Lua's border, as for the codec's #) */
    int value = 2, wrapper = lua_gettop(L); /* (1: the codec) */
    lua_newtable(L);
    lua_pushvalue(L, value);
    lua_setfield(L, -2, "a");
    lua_pushvalue(L, value);
    lua_setfield(L, -2, "b");
    lua_pushnumber(L, -0.0);
    lua_setfield(L, -2, "z");
    compare();
    lua_rawgeti(L, LUA_REGISTRYINDEX, codec_ref);
    lua_getfield(L, -1, "array_mt");
    lua_remove(L, -2);
    lua_createtable(L, 4, 0);
    lua_pushvalue(L, value);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, wrapper);
    lua_rawseti(L, -2, size % 2 ? 3 : 4);
    lua_pushvalue(L, -2);
    lua_setmetatable(L, -2);
    compare();
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
