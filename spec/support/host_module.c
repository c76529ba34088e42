/* zerog_spec: a Lua module over the public C API (zerog.h), so the busted specs drive real hosts
 * exactly as an embedding program would. Only test code uses it.
 *
 *   local zs = require "zerog_spec"
 *   local h = zs.new{ store = "mem://" }         -- h.logs collects {level, logId, msg}
 *     (also jobs_dir = DIR, sandbox_open = "io,os,...": zg_config's fields)
 *   h:load_string(path, source) / h:load_file(path) / h:check_file(path) -> type
 *   h:submit(type, params_json, {delay=, ttr=, priority=}) -> uuid
 *   h:step(timeout_ms [, {queue, ...}]) -> {outcome=, result=, delay=, uuid=}
 *   h:read(view, uuid) -> JSON text; h:counts(queue); h:stats(queue, id); h:kick(queue); h:queues()
 * Failures return nil, an error name ("invalid", "script", "not_found", ...) and the message. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "zerog.h"

#define HOST_MT "zerog_spec.host"

typedef struct spec_host {
    zg_host *h;
    lua_State *L; /* the state of the call in progress, for the callbacks */
    int logs_ref;
    int progress_ref;
} spec_host;

static const char *const error_names[] = {"ok",    "invalid", "script",  "not_found", "cas",
                                          "store", "nomem",   "timeout", "stale",     "job"};

static spec_host *check_host(lua_State *L)
{
    spec_host *s = luaL_checkudata(L, 1, HOST_MT);
    if (!s->h) luaL_error(L, "host is closed");
    s->L = L;
    return s;
}

static int push_error(lua_State *L, spec_host *s, int rc)
{
    lua_pushnil(L);
    lua_pushstring(L, rc >= 0 && rc <= ZG_EJOB ? error_names[rc] : "unknown");
    lua_pushstring(L, zg_errstr(s->h));
    return 3;
}

/* Pops the top n values into a new list and appends that list to the table at ref. */
static void append_to(lua_State *L, int ref, int n)
{
    lua_createtable(L, n, 0);
    for (int i = n; i >= 1; i--) {
        lua_insert(L, -2);
        lua_rawseti(L, -2, i);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_insert(L, -2);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}

static void on_log(void *ud, int level, const char *log_id, const char *msg)
{
    spec_host *s = ud;
    static const char *const levels[] = {"info", "warning", "error"};
    lua_pushstring(s->L, levels[level]);
    lua_pushstring(s->L, log_id);
    lua_pushstring(s->L, msg);
    append_to(s->L, s->logs_ref, 3);
}

static void on_progress(void *ud, const char *uuid, double completeness, const char *event)
{
    spec_host *s = ud;
    lua_pushstring(s->L, uuid);
    lua_pushnumber(s->L, completeness);
    if (event)
        lua_pushstring(s->L, event);
    else
        lua_pushboolean(s->L, 0);
    append_to(s->L, s->progress_ref, 3);
}

static int spec_new(lua_State *L)
{
    zg_config cfg;
    zg_config_init(&cfg);
    if (lua_istable(L, 1)) {
        lua_getfield(L, 1, "store");
        cfg.store = lua_tostring(L, -1);
        lua_getfield(L, 1, "jobs_dir");
        cfg.jobs_dir = lua_tostring(L, -1);
        lua_getfield(L, 1, "sandbox_open");
        cfg.sandbox_open = lua_tostring(L, -1);
    }
    spec_host *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    s->L = L;
    luaL_setmetatable(L, HOST_MT);
    lua_newtable(L);
    s->logs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    s->progress_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    cfg.log = on_log;
    cfg.log_ud = s;
    cfg.progress = on_progress;
    cfg.progress_ud = s;
    s->h = zg_host_new(&cfg);
    if (!s->h) return luaL_error(L, "out of memory");
    if (zg_errcode(s->h) != ZG_OK) return push_error(L, s, zg_errcode(s->h));
    return 1;
}

static int spec_close(lua_State *L)
{
    spec_host *s = luaL_checkudata(L, 1, HOST_MT);
    if (s->h) {
        s->L = L;
        zg_host_free(s->h);
        s->h = NULL;
        luaL_unref(L, LUA_REGISTRYINDEX, s->logs_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, s->progress_ref);
    }
    return 0;
}

static int spec_index(lua_State *L)
{
    spec_host *s = luaL_checkudata(L, 1, HOST_MT);
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "logs") == 0) return lua_rawgeti(L, LUA_REGISTRYINDEX, s->logs_ref), 1;
    if (strcmp(key, "progress") == 0) return lua_rawgeti(L, LUA_REGISTRYINDEX, s->progress_ref), 1;
    luaL_getmetatable(L, HOST_MT);
    lua_getfield(L, -1, key);
    return 1;
}

static int push_type(lua_State *L, spec_host *s, int rc, const char *type)
{
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_pushstring(L, type);
    return 1;
}

static int spec_load_string(lua_State *L)
{
    spec_host *s = check_host(L);
    char type[ZG_NAME_LEN];
    int rc = zg_load_string(s->h, luaL_checkstring(L, 2), luaL_checkstring(L, 3), type);
    return push_type(L, s, rc, type);
}

static int spec_load_file(lua_State *L)
{
    spec_host *s = check_host(L);
    char type[ZG_NAME_LEN];
    return push_type(L, s, zg_load_file(s->h, luaL_checkstring(L, 2), type), type);
}

static int spec_check_file(lua_State *L)
{
    spec_host *s = check_host(L);
    char type[ZG_NAME_LEN];
    return push_type(L, s, zg_check_file(s->h, luaL_checkstring(L, 2), type), type);
}

static int spec_submit(lua_State *L)
{
    spec_host *s = check_host(L);
    zg_submit_opts opts = {0};
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "delay");
        opts.delay = luaL_optnumber(L, -1, 0);
        lua_getfield(L, 4, "ttr");
        opts.ttr = luaL_optnumber(L, -1, 0);
        lua_getfield(L, 4, "priority");
        opts.has_priority = !lua_isnil(L, -1);
        opts.priority = luaL_optinteger(L, -1, 0);
        lua_pop(L, 3);
    }
    char uuid[ZG_UUID_LEN];
    int rc = zg_submit(s->h, luaL_checkstring(L, 2), luaL_optstring(L, 3, NULL), &opts, uuid);
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_pushstring(L, uuid);
    return 1;
}

static int spec_step(lua_State *L)
{
    spec_host *s = check_host(L);
    lua_Integer timeout = luaL_optinteger(L, 2, 0);
    const char *queues[16];
    size_t n = 0;
    if (lua_istable(L, 3))
        for (; n < 16 && lua_rawgeti(L, 3, (lua_Integer)n + 1) == LUA_TSTRING; n++)
            queues[n] = lua_tostring(L, -1); /* kept alive by the table */
    zg_step_result r;
    int rc = zg_step(s->h, queues, n, timeout, &r);
    if (rc != ZG_OK) return push_error(L, s, rc);
    static const char *const outcomes[] = {"?", "finished", "requeued", "buried"};
    lua_createtable(L, 0, 4);
    lua_pushstring(L, outcomes[r.outcome]);
    lua_setfield(L, -2, "outcome");
    lua_pushinteger(L, r.result_code);
    lua_setfield(L, -2, "result");
    lua_pushnumber(L, r.delay);
    lua_setfield(L, -2, "delay");
    lua_pushstring(L, r.uuid);
    lua_setfield(L, -2, "uuid");
    return 1;
}

static int spec_read(lua_State *L)
{
    spec_host *s = check_host(L);
    static const char *const views[] = {"progress", "info", "data", "dump", NULL};
    int view = luaL_checkoption(L, 2, NULL, views);
    char *json = NULL;
    int rc = zg_read(s->h, (zg_view)view, luaL_checkstring(L, 3), &json);
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_pushstring(L, json);
    zg_free(json);
    return 1;
}

static int spec_queues(lua_State *L)
{
    spec_host *s = check_host(L);
    char *json = NULL;
    int rc = zg_queues(s->h, &json);
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_pushstring(L, json);
    zg_free(json);
    return 1;
}

static int spec_counts(lua_State *L)
{
    spec_host *s = check_host(L);
    zg_queue_counts c;
    int rc = zg_queue_counts_get(s->h, luaL_checkstring(L, 2), &c);
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, c.ready);
    lua_setfield(L, -2, "ready");
    lua_pushinteger(L, c.delayed);
    lua_setfield(L, -2, "delayed");
    lua_pushinteger(L, c.reserved);
    lua_setfield(L, -2, "reserved");
    lua_pushinteger(L, c.buried);
    lua_setfield(L, -2, "buried");
    return 1;
}

/* h:unclaimed(queue) -> ready jobs of types no host has asked for lately */
static int spec_unclaimed(lua_State *L)
{
    spec_host *s = check_host(L);
    zg_queue_counts c;
    int rc = zg_queue_counts_get(s->h, luaL_checkstring(L, 2), &c);
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_pushinteger(L, c.unclaimed);
    return 1;
}

/* h:stats(uuid) -> {state, reserves, timeouts, releases, priority, time_left_ms, id, lease} */
static int spec_stats(lua_State *L)
{
    spec_host *s = check_host(L);
    zg_message_stats st;
    int rc = zg_job_stats(s->h, luaL_checkstring(L, 2), &st);
    if (rc != ZG_OK) return push_error(L, s, rc);
    static const char *const states[] = {"ready", "delayed", "reserved", "buried", "finished"};
    lua_createtable(L, 0, 8);
    lua_pushstring(L, states[st.state]);
    lua_setfield(L, -2, "state");
    lua_pushinteger(L, st.reserves);
    lua_setfield(L, -2, "reserves");
    lua_pushinteger(L, st.timeouts);
    lua_setfield(L, -2, "timeouts");
    lua_pushinteger(L, st.releases);
    lua_setfield(L, -2, "releases");
    lua_pushinteger(L, st.priority);
    lua_setfield(L, -2, "priority");
    lua_pushinteger(L, st.time_left_ms);
    lua_setfield(L, -2, "time_left_ms");
    lua_pushinteger(L, st.id);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, st.lease);
    lua_setfield(L, -2, "lease");
    return 1;
}

/* h:kick(queue [, max]) -> how many moved */
static int spec_kick(lua_State *L)
{
    spec_host *s = check_host(L);
    int64_t n = 0;
    int rc = zg_kick(s->h, luaL_checkstring(L, 2), luaL_optinteger(L, 3, 0), &n);
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_pushinteger(L, n);
    return 1;
}

/* h:buried(queue) -> JSON text */
static int spec_buried(lua_State *L)
{
    spec_host *s = check_host(L);
    char *json = NULL;
    int rc = zg_buried(s->h, luaL_checkstring(L, 2), &json);
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_pushstring(L, json);
    zg_free(json);
    return 1;
}

/* h:release(uuid, lease, delay_ms, graceful) -> true */
static int spec_release(lua_State *L)
{
    spec_host *s = check_host(L);
    int rc =
        zg_release(s->h, luaL_checkstring(L, 2), luaL_optinteger(L, 3, 0), luaL_optinteger(L, 4, 0),
                   lua_toboolean(L, 5) ? ZG_RELEASE_STOPPING : ZG_RELEASE_DIED);
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* h:kill(uuid) -> true */
static int spec_kill(lua_State *L)
{
    spec_host *s = check_host(L);
    int rc = zg_kill(s->h, luaL_checkstring(L, 2));
    if (rc != ZG_OK) return push_error(L, s, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg host_methods[] = {{"load_string", spec_load_string},
                                        {"load_file", spec_load_file},
                                        {"check_file", spec_check_file},
                                        {"submit", spec_submit},
                                        {"step", spec_step},
                                        {"read", spec_read},
                                        {"queues", spec_queues},
                                        {"counts", spec_counts},
                                        {"stats", spec_stats},
                                        {"kick", spec_kick},
                                        {"unclaimed", spec_unclaimed},
                                        {"buried", spec_buried},
                                        {"release", spec_release},
                                        {"kill", spec_kill},
                                        {"close", spec_close},
                                        {"__gc", spec_close},
                                        {"__index", spec_index},
                                        {NULL, NULL}};

__attribute__((visibility("default"))) int luaopen_zerog_spec(lua_State *L);

int luaopen_zerog_spec(lua_State *L)
{
    luaL_newmetatable(L, HOST_MT);
    luaL_setfuncs(L, host_methods, 0);
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, spec_new);
    lua_setfield(L, -2, "new");
    return 1;
}
