/* runtime: a host's Lua VM. It opens the standard libraries, makes the embedded Lua runtime
 * (lua/) and the C bindings requirable, loads zerog.api, and calls into it with errors turned
 * into ZG_E* codes on the host handle. */
#include <lauxlib.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "host_internal.h"
#include "lua_modules.h"

static int load_embedded(lua_State *L)
{
    const zg_lua_module *m = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbufferx(L, m->source, m->size, m->chunkname, "b") != LUA_OK) return lua_error(L);
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

/* The VM's allocator: the embedder's (or realloc), with the memory limits applied to growth. A
 * refusal inside job code is made sticky (the run's hook raises it at every instruction) once
 * a collection could not make room either: Lua asks again for the very block it was refused
 * (same pointer and size) after its emergency collection and is refused again; or, for what
 * is refused without that retry (lauxlib's buffers), the next hook call collects and checks
 * whether the growth would fit now (memory_recheck). */
static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    zg_host *h = ud;
    size_t old = ptr ? osize : 0;
    if (nsize > old) {
        int over_host = h->cfg.memory_limit && h->vm_bytes + (nsize - old) > h->cfg.memory_limit;
        int over_run = h->run_mem_cap && h->vm_bytes + (nsize - old) > h->run_mem_cap;
        int retry = h->refused_size == nsize && h->refused_ptr == ptr;
        if (over_host || over_run) {
            if (h->run_in_job && retry && !h->stop_kind)
                h->stop_kind = over_run ? ZG_STOP_MEMORY : ZG_STOP_HOST_MEMORY;
            h->refused_ptr = ptr;
            h->refused_size = nsize;
            h->refused_growth = nsize - old;
            return NULL; /* Lua collects and retries, then raises "not enough memory" */
        }
        if (retry) h->refused_size = 0; /* the collection made room */
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

/* After a refusal: whether the growth refused would still break a limit once the garbage is
 * collected (the run is then out of memory: sticky). Runs on the VM's thread, in a hook or in
 * run_protected. */
static void memory_recheck(lua_State *L, zg_host *h)
{
    if (!h->refused_growth || h->stop_kind) return;
    size_t growth = h->refused_growth;
    h->refused_growth = 0;
    lua_gc(L, LUA_GCCOLLECT, 0);
    if (h->run_mem_cap && h->vm_bytes + growth > h->run_mem_cap)
        h->stop_kind = ZG_STOP_MEMORY;
    else if (h->cfg.memory_limit && h->vm_bytes + growth > h->cfg.memory_limit)
        h->stop_kind = ZG_STOP_HOST_MEMORY;
}

int zg_raise_timeout(lua_State *L, zg_host *h)
{
    char buf[256];
    return luaL_error(L, "%s", zg_stop_message(h, ZG_STOP_TIMEOUT, buf, sizeof buf));
}

const char *zg_stop_message(zg_host *h, int kind, char *buf, size_t size)
{
    switch (kind) {
    case ZG_STOP_TIMEOUT:
        snprintf(buf, size, "the run exceeded the job type's TIMEOUT of %g s", h->run_timeout_s);
        break;
    case ZG_STOP_MEMORY:
        snprintf(buf, size, "the run exceeded the job type's MEMORY_LIMIT of %zu bytes",
                 h->run_mem_limit);
        break;
    case ZG_STOP_HOST_MEMORY:
        snprintf(buf, size,
                 "not enough memory: the run reached the host's memory_limit of %zu "
                 "bytes",
                 h->cfg.memory_limit);
        break;
    case ZG_STOP_LOST:
        snprintf(buf, size,
                 ZG_LOST_PREFIX "lease %lld of job %s is no longer current (the job "
                                "was killed, or its lease lapsed and another host took it)",
                 (long long)h->run.lease.token, h->run.lease.uuid);
        break;
    case ZG_STOP_INTERRUPT:
        snprintf(buf, size, "zerog: Released: the host is stopping");
        break;
    default:
        return NULL;
    }
    return buf;
}

/* Which limit the run in progress has tripped now (ZG_STOP_*), or 0. */
static int tripped(zg_host *h)
{
    if (h->run.active) {
        if (zg_heartbeat_lost(&h->heartbeat)) return ZG_STOP_LOST;
        if (h->interrupted && !h->run.job_done) return ZG_STOP_INTERRUPT;
    }
    /* (a deadline is set only inside run_protected: in a run, or in job code a submit or a
     * read runs, such as init() and get_data()) */
    if (h->run_deadline_ms && zg_clock_monotonic_ms() > h->run_deadline_ms) return ZG_STOP_TIMEOUT;
    return 0;
}

const char *zg_run_stop_reason(zg_host *h, char *buf, size_t size)
{
    if (h->stop_kind) return zg_stop_message(h, h->stop_kind, buf, size);
    int kind = tripped(h);
    if (kind && h->run_in_job) h->stop_kind = kind;
    return kind ? zg_stop_message(h, kind, buf, size) : NULL;
}

/* The count hook, installed on the main thread while job code may run (zg_runtime_invoke), so
 * every coroutine job code creates inherits it (those a script's main chunk creates get
 * chunk_hook, which becomes this one). It runs on the VM's own thread and reads only flags
 * other threads set atomically. Outside job code it stops a run only on a lost lease or an
 * interrupt; inside it (core.run_protected) a limit, once tripped, is sticky: the hook raises
 * it at every following instruction, in every coroutine, in message handlers and __close
 * handlers, until the trusted C code that called the job clears it. */
void zg_run_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    zg_host *h = *(zg_host **)lua_getextraspace(L);
    zg_heartbeat_alive(&h->heartbeat);
    if (!h->run.active && !h->run_in_job) return;
    if (h->run_in_job) memory_recheck(L, h);
    char buf[512];
    const char *why = zg_run_stop_reason(h, buf, sizeof buf);
    if (why && h->run_in_job) {
        if (lua_gethookcount(L) != 1) lua_sethook(L, zg_run_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "%s", why);
    }
    if (lua_gethookcount(L) != ZG_HOOK_COUNT)
        lua_sethook(L, zg_run_hook, LUA_MASKCOUNT, ZG_HOOK_COUNT); /* a coroutine made sticky */
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

/* The hook of a coroutine running a job script's main chunk: the run hook's checks on counts,
 * and the line of the chunk's main return statement on returns (for messages about the type
 * it returned). A coroutine the chunk creates inherits this hook; it is made the plain run hook
 * at its first return. */
static void chunk_hook(lua_State *L, lua_Debug *ar)
{
    zg_host *h = *(zg_host **)lua_getextraspace(L);
    if (ar->event == LUA_HOOKCOUNT) {
        zg_run_hook(L, ar);
        return;
    }
    if (L != h->chunk_thread) {
        lua_sethook(L, zg_run_hook, LUA_MASKCOUNT, ZG_HOOK_COUNT);
        return;
    }
    if (lua_getinfo(L, "Sl", ar) && strcmp(ar->what, "main") == 0) h->chunk_line = ar->currentline;
}

/* chunk_hook(co): co runs a script's main chunk; chunk_line() -> the line of its main return
 * statement, or nil. */
int zg_core_chunk_hook(lua_State *L)
{
    zg_host *h = lua_touserdata(L, lua_upvalueindex(1));
    lua_State *co = lua_tothread(L, 1);
    luaL_argcheck(L, co != NULL, 1, "a coroutine");
    h->chunk_thread = co;
    h->chunk_line = 0;
    lua_sethook(co, chunk_hook, LUA_MASKRET | LUA_MASKCOUNT, ZG_HOOK_COUNT);
    return 0;
}

int zg_core_chunk_line(lua_State *L)
{
    zg_host *h = lua_touserdata(L, lua_upvalueindex(1));
    h->chunk_thread = NULL;
    if (h->chunk_line > 0)
        lua_pushinteger(L, h->chunk_line);
    else
        lua_pushnil(L);
    return 1;
}

/* run_protected's results, from the status of its lua_pcall (2 results on the stack, or the
 * error): stopped (the message of the limit that ended it, kind), ok, results... */
static int protected_results(lua_State *L, zg_host *h, int kind, int status)
{
    if (kind) {
        char buf[512];
        lua_settop(L, 0);
        lua_pushstring(L, zg_stop_message(h, kind, buf, sizeof buf));
        lua_pushboolean(L, 0);
        lua_pushvalue(L, 1);
        return 3;
    }
    int nres = status == LUA_OK ? 2 : 1;
    lua_pushnil(L);
    lua_pushboolean(L, status == LUA_OK);
    lua_rotate(L, -(nres + 2), 2); /* stopped, ok, results */
    return nres + 2;
}

/* run_protected(memory_bytes, timeout_seconds, handler, f, ...) -> stopped, ok, results...:
 * calls job code f(...) under the run's limits (0: none) with handler as its message handler.
 * stopped is the message of the limit that ended it (the call's error is then that message,
 * whatever the job's code made of it), or nil. The limits end, and a sticky stop is cleared,
 * here in C, before any Lua instruction of the caller runs. */
static int run_protected(lua_State *L, int engine_code);

int zg_core_run_protected(lua_State *L)
{
    return run_protected(L, 0);
}

/* run_engine(memory, timeout, handler, f, ...): run_protected for the engine's own code that
 * touches the instance (preparing a run, settling it): under the type's TIMEOUT and
 * MEMORY_LIMIT, but not broken into by an interrupt (a graceful stop must not turn a finished
 * run into a failure); the engine looks at interrupted() after it. */
int zg_core_run_engine(lua_State *L)
{
    return run_protected(L, 1);
}

static int run_protected(lua_State *L, int engine_code)
{
    zg_host *h = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer memory = luaL_checkinteger(L, 1);
    lua_Number timeout = luaL_checknumber(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 4;
    if (h->run_in_job) {
        /* job code calling the runtime that calls job code again (a get_job() in a run, the
         * engine settling under the run's limits): it stays under the limits in force, and a
         * stop stays sticky, so the outer call ends too */
        int nested = lua_pcall(L, nargs, 2, 3);
        return protected_results(L, h, h->stop_kind, nested);
    }
    /* an entry without the run hook (a submit running init()) gets it for the call only */
    int had_hook = lua_gethook(L) != NULL;
    if (!had_hook) lua_sethook(L, zg_run_hook, LUA_MASKCOUNT, ZG_HOOK_COUNT);
    h->stop_kind = 0;
    h->refused_size = h->refused_growth = 0;
    h->run.job_done = engine_code;
    h->run_mem_limit = memory > 0 ? (size_t)memory : 0;
    /* the limit is what the run adds: the garbage of earlier runs is not the run's, so a VM
     * that holds much of it (more than half the limit since the last collection here) is
     * collected first, else each run could grow the process by the garbage it inherited */
    if (memory > 0 && h->vm_bytes > h->vm_after_gc + (size_t)memory / 2) {
        lua_gc(L, LUA_GCCOLLECT, 0);
        h->vm_after_gc = h->vm_bytes;
    }
    h->run_mem_cap = memory > 0 ? h->vm_bytes + (size_t)memory : 0;
    h->run_timeout_s = timeout > 0 && timeout < 1e9 ? timeout : 0;
    h->run_deadline_ms =
        h->run_timeout_s > 0 ? zg_clock_monotonic_ms() + (int64_t)(timeout * 1000) : 0;
    zg_heartbeat_job(&h->heartbeat, h->run_deadline_ms);
    h->run_in_job = 1;
    int status = lua_pcall(L, nargs, 2, 3);
    if (h->refused_growth && !h->stop_kind) /* refused, caught, and returned before a hook */
        h->stop_kind = h->run_mem_cap ? ZG_STOP_MEMORY : ZG_STOP_HOST_MEMORY;
    h->run_in_job = 0;
    zg_heartbeat_job(&h->heartbeat, -1);
    int kind = h->stop_kind ? h->stop_kind : status == LUA_OK ? 0 : tripped(h);
    h->stop_kind = 0;
    h->refused_size = h->refused_growth = 0;
    h->run_mem_cap = 0;
    h->run_deadline_ms = 0;
    h->run.job_done = 1;
    if (had_hook)
        lua_sethook(L, zg_run_hook, LUA_MASKCOUNT, ZG_HOOK_COUNT);
    else
        lua_sethook(L, NULL, 0, 0);
    if (kind == ZG_STOP_INTERRUPT && status == LUA_OK) kind = 0;
    return protected_results(L, h, kind, status);
}

/* Opens the libraries, the embedded runtime and the bindings, and keeps a reference to
 * zerog.api. Runs in protected mode, so even running out of memory here is an error, not a
 * panic. The runtime keeps the whole standard library for itself; job scripts get the sandbox
 * (zerog.sandbox), with what the operator opened in sandbox_open. */
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
    h->api_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* The last resort: a panic cannot happen by construction (every entry into Lua is protected),
 * and if one did, returning would let Lua abort the process. Jumping back to the entry that
 * was running ends it with an error instead; with no entry running, the process is stopped in
 * the least harmful way left (an infinite wait would hang the embedder; abort is what Lua does
 * anyway). */
static int at_panic(lua_State *L)
{
    zg_host *h = *(zg_host **)lua_getextraspace(L);
    if (h->panic_jump) longjmp(*h->panic_jump, 1);
    return 0;
}

int zg_runtime_open(zg_host *h)
{
    int rc = check_sandbox_open(h, h->cfg.sandbox_open);
    if (rc != ZG_OK) return rc;
    lua_State *L = lua_newstate(vm_alloc, h);
    if (!L) return zg_fail(&h->err, ZG_ENOMEM, "out of memory creating the Lua VM");
    h->L = L;
    *(zg_host **)lua_getextraspace(L) = h;
    lua_atpanic(L, at_panic);
    lua_pushcfunction(L, open_all);
    lua_pushlightuserdata(L, h);
    int status = lua_pcall(L, 1, 0, 0);
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        int oom = status == LUA_ERRMEM || (msg && strstr(msg, "not enough memory"));
        zg_fail(&h->err, oom ? ZG_ENOMEM : ZG_ESCRIPT, "loading the Lua runtime: %s",
                msg ? msg : "(no message)");
        h->api_ref = LUA_NOREF;
        lua_close(L);
        h->L = NULL;
        return h->err.code;
    }
    h->cfg.sandbox_open = NULL; /* read once, above: the caller's string need not outlive it */
    return ZG_OK;
}

void zg_runtime_close(zg_host *h)
{
    if (h->L && !h->vm_broken) lua_close(h->L);
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

/* What the trampoline carries across lua_pcall. */
typedef struct invocation {
    zg_host *h;
    const char *fn;
    zg_push_fn push;
    zg_collect_fn collect;
    void *ud;
    int nres;
    int rc;
} invocation;

/* Sets the host's error from a raised value at idx (a string; anything else has no message). */
static int fail_with_raised(zg_host *h, lua_State *L, int idx, int status)
{
    const char *msg = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    int code = status == LUA_ERRMEM           ? ZG_ENOMEM
               : !msg                         ? ZG_EJOB
               : strstr(msg, ZG_LOST_PREFIX)  ? ZG_ESTALE
               : strstr(msg, ZG_STORE_PREFIX) ? ZG_ESTORE
                                              : ZG_EJOB;
    if (code == ZG_ESTALE || code == ZG_ESTORE) {
        /* a lost lease is an outcome and a store failure the store's: their message alone, in
         * the store's words, never a traceback */
        const char *prefix = code == ZG_ESTALE ? ZG_LOST_PREFIX : ZG_STORE_PREFIX;
        msg = strstr(msg, prefix) + strlen(prefix);
        return zg_fail(&h->err, code, "%.*s", (int)strcspn(msg, "\n"), msg);
    }
    if (code == ZG_ENOMEM)
        return zg_fail(&h->err, code, "out of memory in the Lua VM%s%s", msg ? ": " : "",
                       msg ? msg : "");
    return zg_fail(&h->err, code, "%s", msg ? msg : "(no message)");
}

/* The protected trampoline: everything an entry does on the Lua stack (its arguments, the call,
 * reading its results) happens here, inside lua_pcall, so an error at any point (out of memory
 * included) is an error code, never a panic. */
static int trampoline(lua_State *L)
{
    invocation *inv = lua_touserdata(L, 1);
    zg_host *h = inv->h;
    lua_settop(L, 0);
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->api_ref);
    lua_getfield(L, -1, inv->fn);
    lua_remove(L, -2);
    int nargs = inv->push ? inv->push(L, inv->ud) : 0;
    int want = inv->nres < 3 ? 3 : inv->nres;
    int status = lua_pcall(L, nargs, want, 1);
    if (status != LUA_OK) {
        inv->rc = fail_with_raised(h, L, -1, status);
        return 0;
    }
    if (lua_isnil(L, 2)) {
        const char *kind = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : NULL;
        const char *msg = lua_type(L, 4) == LUA_TSTRING ? lua_tostring(L, 4) : NULL;
        inv->rc = zg_fail(&h->err, code_of_kind(kind), "%s", msg ? msg : "(no message)");
        return 0;
    }
    lua_settop(L, 1 + inv->nres);
    inv->rc = inv->collect ? inv->collect(L, h, inv->ud) : ZG_OK;
    return 0;
}

/* Whether zerog.api[fn] may run job code outside core.run_protected (a view a job type may
 * override, a script's chunk). A run ("process") is not one: the engine calls every piece of
 * job code through run_protected/run_engine, which hook the VM for the call, and a count hook
 * makes the VM trap every instruction, so the engine's own code between them runs without it
 * (it asks core.lost() and core.interrupted() itself): 605k -> 582k instructions a bench job. */
static int runs_job_code(const char *fn)
{
    static const char *const names[] = {"read", "load", "check", "reload", NULL};
    for (const char *const *n = names; *n; n++)
        if (strcmp(*n, fn) == 0) return 1;
    return 0;
}

int zg_runtime_invoke(zg_host *h, const char *fn, zg_push_fn push, zg_collect_fn collect, void *ud,
                      int nres)
{
    lua_State *L = h->L;
    int base = lua_gettop(L);
    invocation inv = {h, fn, push, collect, ud, nres, ZG_OK};
    jmp_buf jump, *outer = h->panic_jump;
    if (!lua_checkstack(L, 2)) return zg_fail(&h->err, ZG_ENOMEM, "out of memory in the Lua VM");
    zg_heartbeat_entered(&h->heartbeat, 1);
    /* the run hook, where job code may run: a count hook makes the VM trap every instruction
     * (about 30 machine instructions each), so the engine's own entries (submit, claims, kill)
     * go without it */
    int hooked = !outer && runs_job_code(fn);
    if (hooked) lua_sethook(L, zg_run_hook, LUA_MASKCOUNT, ZG_HOOK_COUNT);
    h->panic_jump = &jump;
    if (setjmp(jump) == 0) {
        lua_pushcfunction(L, trampoline); /* a light C function and a light userdata: */
        lua_pushlightuserdata(L, &inv);   /* no allocation, cannot fail */
        int status = lua_pcall(L, 1, 0, 0);
        if (status != LUA_OK) {
            inv.rc = fail_with_raised(h, L, -1, status);
            if (inv.rc == ZG_EJOB && status == LUA_ERRERR) inv.rc = ZG_ENOMEM;
        }
    } else {
        /* after a panic the state may be inconsistent (Lua's manual): it is not touched again,
         * and the host refuses every later call (usable(): no api_ref); zg_host_free leaks the
         * VM rather than close it */
        h->panic_jump = outer;
        h->api_ref = LUA_NOREF;
        h->vm_broken = 1;
        zg_heartbeat_entered(&h->heartbeat, outer != NULL);
        return zg_fail(&h->err, ZG_ENOMEM, "the Lua VM failed (panic) in %s: the host is unusable",
                       fn);
    }
    h->panic_jump = outer;
    if (hooked) lua_sethook(L, NULL, 0, 0);
    zg_heartbeat_entered(&h->heartbeat, outer != NULL);
    lua_settop(L, base);
    return inv.rc;
}
