/* json_encode: the fast path for writing a document field's value as JSON (see json_encode.c). */
#ifndef ZG_JSON_ENCODE_H
#define ZG_JSON_ENCODE_H

#include <lua.h>
#include <stddef.h>

/* Pushes s as a JSON string, exactly as lua-cjson writes it, and returns 1; pushes nothing and
 * returns 0 when s has a byte beyond ASCII (zerog.codec then checks its UTF-8). */
int zg_json_push_string(lua_State *L, const char *s, size_t len);

/* Pushes the JSON text of the value at idx and returns 1 when it is a plain one: a string of
 * ASCII, an integer within +-2^53, a finite float, a boolean, nil or cjson.null, or a table of
 * such values with string keys (zerog.codec's array_mt and object_mt marks at the given stack
 * indexes; a table with any other metatable is the codec's); else pushes nothing and returns 0
 * (zerog.codec encodes, or refuses, the rest itself). */
int zg_json_push_field(lua_State *L, int idx, int array_mt, int object_mt);

#endif
