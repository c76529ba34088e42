/* runtime: a host's Lua VM. It opens the standard libraries, makes the embedded Lua runtime
 * (lua/) and the C bindings requirable, loads zerog.api, and calls into it with errors turned
 * into ZG_E* codes on the host handle. */
#include <lauxlib.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "host_internal.h"
#include "lua_modules.h"

static int load_embedded(lua_State *L)
{
    const zg_lua_module *m = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbuffer(L, m->source, m->size, m->chunkname) != LUA_OK) return lua_error(L);
    lua_pushstring(L, m->name);
    lua_call(L, 1, 1);
    return 1;
}

static void preload_embedded(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const zg_lua_module *m = zg_lua_modules; m->name; m++) {
        if (strncmp(m->name, "redis.", 6) == 0) continue; /* the store's scripts, not modules */
        lua_pushlightuserdata(L, (void *)m);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, m->name);
    }
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pop(L, 1);
}

/* The VM's allocator: the embedder's (or realloc), with the memory limit applied to growth. */
static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    zg_host *h = ud;
    size_t old = ptr ? osize : 0;
    if (nsize > old && h->cfg.memory_limit && h->vm_bytes + (nsize - old) > h->cfg.memory_limit)
        return NULL; /* Lua collects and retries, then raises "not enough memory" */
    if (nsize > old && h->run_mem_cap && h->vm_bytes + (nsize - old) > h->run_mem_cap) {
        h->run_mem_exceeded = 1;
        return NULL;
    }
    void *p;
    if (h->cfg.alloc)
        p = h->cfg.alloc(h->cfg.alloc_ud, ptr, osize, nsize);
    else if (nsize == 0) {
        free(ptr);
        p = NULL;
    } else
        p = realloc(ptr, nsize);
    if (nsize == 0)
        h->vm_bytes -= old;
    else if (p)
        h->vm_bytes += nsize - old;
    return p;
}

int zg_raise_timeout(lua_State *L, zg_host *h)
{
    char secs[32];
    snprintf(secs, sizeof secs, "%g", h->run_timeout_s); /* lua_pushfstring has no %g */
    return luaL_error(L, "the run exceeded the job type's TIMEOUT of %s s", secs);
}

const char *zg_run_stop_reason(zg_host *h, char *buf, size_t size)
{
    if (!h->run.active) return NULL;
    if (zg_heartbeat_lost(&h->heartbeat)) {
        snprintf(buf, size, ZG_LOST_PREFIX "lease %lld of job %s is no longer current (the job "
                 "was killed, or its lease lapsed and another host took it)",
                 (long long)h->run.lease.token, h->run.lease.uuid);
        return buf;
    }
    if (h->interrupted && !h->run.job_done) {
        snprintf(buf, size, "zerog: Released: the host is stopping");
        return buf;
    }
    if (h->run_timed_out) {
        snprintf(buf, size, "the run exceeded the job type's TIMEOUT of %g s", h->run_timeout_s);
        return buf;
    }
    return NULL;
}

/* The count hook of a run. It runs on the VM's own thread (installed by run_limits there) and
 * reads only flags other threads set atomically. */
void zg_run_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    zg_host *h = *(zg_host **)lua_getextraspace(L);
    if (h->run_deadline_ms && zg_clock_monotonic_ms() > h->run_deadline_ms) {
        h->run_timed_out = 1;
        h->run_deadline_ms = zg_clock_monotonic_ms() + 100; /* raised again if the job catches it */
    }
    char buf[512];
    const char *why = zg_run_stop_reason(h, buf, sizeof buf);
    if (why) luaL_error(L, "%s", why);
}

/* What zg_config.sandbox_open may name (zerog.sandbox opens each for job scripts). */
static const char *const sandbox_libraries[] = {"io",       "os", "debug", "package",
                                                "bytecode", "gc", NULL};

/* Checks a sandbox_open list (names separated by commas or spaces); ZG_EINVAL naming the first
 * unknown one. */
static int check_sandbox_open(zg_host *h, const char *list)
{
    const char *sep = ", \t";
    for (const char *p = list ? list + strspn(list, sep) : ""; *p; p += strspn(p, sep)) {
        size_t len = strcspn(p, sep);
        int known = 0;
        for (const char *const *name = sandbox_libraries; *name && !known; name++)
            known = strlen(*name) == len && strncmp(*name, p, len) == 0;
        if (!known)
            return zg_fail(&h->err, ZG_EINVAL,
                           "sandbox_open: unknown library \"%.*s\" (io, os, debug, package, "
                           "bytecode, gc)",
                           (int)(len > 64 ? 64 : len), p);
        p += len;
    }
    return ZG_OK;
}

/* Opens the libraries, the embedded runtime and the bindings, and returns zerog.api. Runs in
 * protected mode, so even running out of memory here is an error, not a panic. The runtime
 * keeps the whole standard library for itself; job scripts get the sandbox (zerog.sandbox),
 * with what the operator opened in sandbox_open. */
static int open_all(lua_State *L)
{
    zg_host *h = lua_touserdata(L, 1);
    luaL_openlibs(L);
    preload_embedded(L);
    zg_bindings_open(h);
    lua_pushstring(L, h->cfg.sandbox_open ? h->cfg.sandbox_open : "");
    lua_setfield(L, LUA_REGISTRYINDEX, "zerog.sandbox_open");
    lua_getglobal(L, "require");
    lua_pushstring(L, "zerog.api");
    lua_call(L, 1, 1);
    return 1;
}

int zg_runtime_open(zg_host *h)
{
    int rc = check_sandbox_open(h, h->cfg.sandbox_open);
    if (rc != ZG_OK) return rc;
    lua_State *L = lua_newstate(vm_alloc, h);
    if (!L) return zg_fail(&h->err, ZG_ENOMEM, "out of memory creating the Lua VM");
    h->L = L;
    *(zg_host **)lua_getextraspace(L) = h;
    lua_pushcfunction(L, open_all);
    lua_pushlightuserdata(L, h);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        zg_fail(&h->err, ZG_ESCRIPT, "loading the Lua runtime: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return h->err.code;
    }
    h->api_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    h->cfg.sandbox_open = NULL; /* read once, above: the caller's string need not outlive it */
    return ZG_OK;
}

void zg_runtime_close(zg_host *h)
{
    if (h->L) lua_close(h->L);
    h->L = NULL;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int code_of_kind(const char *kind)
{
    static const struct {
        const char *kind;
        int code;
    } kinds[] = {{"invalid", ZG_EINVAL}, {"script", ZG_ESCRIPT}, {"not_found", ZG_ENOTFOUND},
                 {"store", ZG_ESTORE},   {"cas", ZG_ECAS},       {"unknown_type", ZG_ENOTFOUND},
                 {"job", ZG_EJOB},       {"stale", ZG_ESTALE}};
    for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0) return kinds[i].code;
    return ZG_EJOB;
}

int zg_runtime_call(zg_host *h, const char *fn, int nargs, int nres)
{
    lua_State *L = h->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->api_ref);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    lua_rotate(L, base + 1, 2); /* traceback and fn below the arguments */
    int want = nres < 3 ? 3 : nres;
    if (lua_pcall(L, nargs, want, base + 1) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        int code = !msg                           ? ZG_EJOB
                   : strstr(msg, ZG_LOST_PREFIX)  ? ZG_ESTALE
                   : strstr(msg, ZG_STORE_PREFIX) ? ZG_ESTORE
                                                  : ZG_EJOB;
        if (code != ZG_EJOB) {
            /* a lost lease is an outcome and a store failure the store's: their message alone,
             * in the store's words, never a traceback */
            const char *prefix = code == ZG_ESTALE ? ZG_LOST_PREFIX : ZG_STORE_PREFIX;
            msg = strstr(msg, prefix) + strlen(prefix);
            zg_fail(&h->err, code, "%.*s", (int)strcspn(msg, "\n"), msg);
        } else {
            zg_fail(&h->err, code, "%s", msg ? msg : "(no message)");
        }
        lua_settop(L, base);
        return code;
    }
    if (lua_isnil(L, base + 2)) {
        const char *msg = lua_tostring(L, base + 4);
        zg_fail(&h->err, code_of_kind(lua_tostring(L, base + 3)), "%s", msg ? msg : "(no message)");
        lua_settop(L, base);
        return h->err.code;
    }
    lua_settop(L, base + 1 + want);
    lua_remove(L, base + 1); /* the traceback handler */
    lua_settop(L, base + nres);
    return ZG_OK;
}
