/* lua_modules: the Lua side of the runtime (lua/), compiled into the library by the build. */
#ifndef ZG_LUA_MODULES_H
#define ZG_LUA_MODULES_H

#include <stddef.h>

typedef struct zg_lua_module {
    const char *name;      /* module name for require, e.g. "zerog.job" */
    const char *chunkname; /* "@lua/zerog/job.lua", so tracebacks name the source file */
    const char *source;    /* the runtime's modules: their bytecode (host/tools/embed.lua); the
                            * store's scripts (redis.*): their text */
    size_t size;
} zg_lua_module;

extern const zg_lua_module zg_lua_modules[]; /* ends with an entry whose name is NULL */

#endif
