/* json_decode: the fast path for decoding the JSON the store hands back (see json_decode.c). */
#ifndef ZG_JSON_DECODE_H
#define ZG_JSON_DECODE_H

#include <lua.h>
#include <stddef.h>

/* Pushes the value of JSON text as lua-cjson would decode it and returns 1, or pushes nothing
 * and returns 0 when the text holds anything beyond the plain JSON this fast path reads (then
 * lua-cjson decides). May raise a Lua memory error. */
int zg_json_decode(lua_State *L, const char *text, size_t len);

#endif
