/* bindings: the zerog.core module, the thin C functions through which the Lua runtime reaches
 * the host: the store, the queue, time, ids, logging and progress. Each is a closure whose
 * upvalue is the host, so two hosts never share anything. Backend failures are raised as Lua
 * errors starting with "store: "; the expected outcomes (absent, cas mismatch) are return values.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "host_internal.h"

static zg_host *host_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static int raise_store(lua_State *L, const zg_error *err)
{
    return luaL_error(L, "store: %s", err->msg);
}

/* Refuses a write on behalf of a run whose reservation is lost (fencing). */
static void check_lease(lua_State *L, zg_host *h)
{
    if (zg_heartbeat_lost(&h->heartbeat))
        luaL_error(L, ZG_LOST_PREFIX "the job was killed, or another host took it");
}

/* load(key) -> JSON text | nil */
static int core_load(lua_State *L)
{
    zg_host *h = host_of(L);
    char *json = NULL;
    zg_error err = {0};
    int rc = h->store->ops->load(h->store, luaL_checkstring(L, 1), &json, &err);
    if (rc == ZG_ENOTFOUND) return lua_pushnil(L), 1;
    if (rc != ZG_OK) return raise_store(L, &err);
    lua_pushstring(L, json);
    free(json);
    return 1;
}

/* save(key, {name = json, ...}, expected_cas [, expire_seconds]) -> cas | nil, stored_cas */
static int core_save(lua_State *L)
{
    zg_host *h = host_of(L);
    check_lease(L, h);
    const char *key = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer expected = luaL_checkinteger(L, 3);
    int64_t expire = (int64_t)luaL_optinteger(L, 4, 0);
    lua_settop(L, 4);
    size_t n = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1))
        n++;
    /* the arrays live in a userdata so a Lua error cannot leak them */
    const char **names = lua_newuserdatauv(L, 2 * (n ? n : 1) * sizeof(char *), 0);
    const char **values = names + n;
    size_t i = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "save: fields must map names to JSON text");
        names[i] = lua_tostring(L, -2);
        values[i++] = lua_tostring(L, -1);
    }
    int64_t cas = 0;
    zg_error err = {0};
    int rc = h->store->ops->save(h->store, key, n, names, values, expected, expire, &cas, &err);
    if (rc == ZG_ECAS) {
        lua_pushnil(L);
        lua_pushinteger(L, cas);
        return 2;
    }
    if (rc != ZG_OK) return raise_store(L, &err);
    lua_pushinteger(L, cas);
    return 1;
}

/* Reads a {name = json} table at idx into arrays held by a userdata it leaves on the stack. */
static size_t field_arrays(lua_State *L, int idx, const char ***names, const char ***values)
{
    idx = lua_absindex(L, idx);
    size_t n = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
        n++;
    const char **arr = lua_newuserdatauv(L, 2 * (n ? n : 1) * sizeof(char *), 0);
    size_t i = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "save: fields must map names to JSON text");
        arr[i] = lua_tostring(L, -2);
        arr[n + i++] = lua_tostring(L, -1);
    }
    *names = arr;
    *values = arr + n;
    return n;
}

/* save_many({{key, fields, expected}, ...}) -> {cas or false (a cas mismatch), ...}
 * The strings stay alive through the argument table; the arrays through `anchors`. */
static int core_save_many(lua_State *L)
{
    zg_host *h = host_of(L);
    check_lease(L, h);
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = (size_t)lua_rawlen(L, 1);
    zg_save_req *reqs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *reqs, 0);
    memset(reqs, 0, (n ? n : 1) * sizeof *reqs);
    lua_createtable(L, (int)n, 0);
    int anchors = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        lua_rawgeti(L, -1, 1);
        reqs[i].key = luaL_checkstring(L, -1);
        lua_rawgeti(L, -2, 3);
        reqs[i].expected = luaL_checkinteger(L, -1);
        lua_rawgeti(L, -3, 2);
        const char **names, **values;
        reqs[i].n = field_arrays(L, -1, &names, &values);
        reqs[i].names = names;
        reqs[i].values = values;
        lua_rawseti(L, anchors, (lua_Integer)i + 1);
        lua_pop(L, 4);
    }
    zg_error err = {0};
    if (h->store->ops->save_many(h->store, reqs, n, &err) != ZG_OK) return raise_store(L, &err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].rc == ZG_OK)
            lua_pushinteger(L, reqs[i].cas);
        else
            lua_pushboolean(L, 0);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* append(key, list, entry, stamp_field, stamp, count_field?) -> prev_cas, cas | nil */
static int core_append(lua_State *L)
{
    zg_host *h = host_of(L);
    check_lease(L, h);
    int64_t prev = 0, cas = 0;
    zg_error err = {0};
    int rc = h->store->ops->append(h->store, luaL_checkstring(L, 1), luaL_checkstring(L, 2),
                                   luaL_checkstring(L, 3), luaL_checkstring(L, 4),
                                   luaL_checkstring(L, 5), luaL_optstring(L, 6, NULL), &prev, &cas,
                                   &err);
    if (rc == ZG_ENOTFOUND) return lua_pushnil(L), 1;
    if (rc != ZG_OK) return raise_store(L, &err);
    lua_pushinteger(L, prev);
    lua_pushinteger(L, cas);
    return 2;
}

static int64_t seconds_to_ms(lua_State *L, int arg)
{
    lua_Number s = luaL_checknumber(L, arg);
    luaL_argcheck(L, s >= 0 && s < 1e12, arg, "seconds out of range");
    return (int64_t)llround(s * 1000.0);
}

/* put(queue, body, priority, delay_seconds, ttr_seconds) -> id */
static int core_put(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *queue = luaL_checkstring(L, 1);
    luaL_argcheck(L, strlen(queue) < ZG_NAME_LEN, 1, "queue name too long");
    int64_t id = 0;
    zg_error err = {0};
    int rc = h->queue->ops->put(h->queue, queue, luaL_checkstring(L, 2), luaL_checkinteger(L, 3),
                                seconds_to_ms(L, 4), seconds_to_ms(L, 5), &id, &err);
    if (rc != ZG_OK) return raise_store(L, &err);
    lua_pushinteger(L, id);
    return 1;
}

/* touch(uuid) -> renewed? Renews now if that job is the one running; raises once it is lost. */
/* put_many(queue, {body, ...}, priority, delay_seconds, ttr_seconds) -> {id, ...} */
static int core_put_many(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *queue = luaL_checkstring(L, 1);
    luaL_argcheck(L, strlen(queue) < ZG_NAME_LEN, 1, "queue name too long");
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t n = (size_t)lua_rawlen(L, 2);
    const char **bodies = lua_newuserdatauv(L, (n ? n : 1) * sizeof(char *), 0);
    int64_t *ids = lua_newuserdatauv(L, (n ? n : 1) * sizeof(int64_t), 0);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1);
        bodies[i] = luaL_checkstring(L, -1); /* alive through the argument table */
        lua_pop(L, 1);
    }
    zg_error err = {0};
    int rc = h->queue->ops->put_many(h->queue, queue, n, bodies, luaL_checkinteger(L, 3),
                                     seconds_to_ms(L, 4), seconds_to_ms(L, 5), ids, &err);
    if (rc != ZG_OK) return raise_store(L, &err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushinteger(L, ids[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* discard(queue, id) -> true | false (no such message) */
static int core_discard(lua_State *L)
{
    zg_host *h = host_of(L);
    zg_error err = {0};
    int rc =
        h->queue->ops->discard(h->queue, luaL_checkstring(L, 1), luaL_checkinteger(L, 2), &err);
    if (rc != ZG_OK && rc != ZG_ENOTFOUND) return raise_store(L, &err);
    lua_pushboolean(L, rc == ZG_OK);
    return 1;
}

static int core_touch(lua_State *L)
{
    zg_host *h = host_of(L);
    int rc = zg_heartbeat_renew(&h->heartbeat, luaL_checkstring(L, 1));
    check_lease(L, h);
    lua_pushboolean(L, rc == ZG_OK);
    return 1;
}

/* fence(): before the engine settles a run, proves the reservation is still this host's. */
static int core_fence(lua_State *L)
{
    zg_host *h = host_of(L);
    int rc = zg_heartbeat_fence(&h->heartbeat);
    check_lease(L, h);
    if (rc != ZG_OK && rc != ZG_ENOTFOUND)
        return luaL_error(L, "store: cannot renew the reservation before settling");
    return 0;
}

/* ended_elsewhere(uuid): a reload found the job not running any more while this host runs it
 * (killed, or settled by a host that took it over): the run is lost from now on. */
static int core_ended_elsewhere(lua_State *L)
{
    zg_host *h = host_of(L);
    if (zg_heartbeat_lose(&h->heartbeat, luaL_checkstring(L, 1))) check_lease(L, h);
    return 0;
}

/* ccall(index, args_json) -> result_json: calls a function of zg_register_module. */
static int core_ccall(lua_State *L)
{
    zg_host *h = host_of(L);
    lua_Integer i = luaL_checkinteger(L, 1);
    const char *args = luaL_checkstring(L, 2);
    luaL_argcheck(L, i >= 1 && (size_t)i <= h->nfns, 1, "no such C function");
    zg_registered_fn *f = &h->fns[i - 1];
    char *result = NULL, errbuf[512] = "";
    int rc = f->fn(f->ctx, args, &result, errbuf, sizeof errbuf);
    if (rc != ZG_OK) {
        free(result);
        lua_pushstring(L, errbuf[0] ? errbuf : "the C function failed");
        return lua_error(L); /* the Lua wrapper adds the job script's position */
    }
    lua_pushstring(L, result ? result : "null");
    free(result);
    return 1;
}

/* run_limits(memory_bytes, timeout_seconds): limits for the run that starts now (0: none);
 * run_limits(0, 0) after it ends returns "memory" or "timeout" when the run exceeded one. */
static int core_run_limits(lua_State *L)
{
    zg_host *h = host_of(L);
    lua_Integer memory = luaL_checkinteger(L, 1);
    lua_Number timeout = luaL_checknumber(L, 2);
    const char *exceeded = h->run_mem_exceeded ? "memory" : h->run_timed_out ? "timeout" : NULL;
    h->run_mem_exceeded = h->run_timed_out = 0;
    h->run_mem_cap = memory > 0 ? h->vm_bytes + (size_t)memory : 0;
    h->run_timeout_s = timeout;
    h->run_deadline_ms = timeout > 0 ? zg_clock_monotonic_ms() + (int64_t)(timeout * 1000) : 0;
    if (h->run_deadline_ms)
        lua_sethook(L, zg_run_hook, LUA_MASKCOUNT, 1000);
    else if (!zg_heartbeat_lost(&h->heartbeat))
        lua_sethook(L, NULL, 0, 0);
    if (exceeded)
        lua_pushstring(L, exceeded);
    else
        lua_pushnil(L);
    return 1;
}

/* stopping() -> why | nil: whether the run in progress is being stopped (TIMEOUT or lost lease). */
static int core_stopping(lua_State *L)
{
    zg_host *h = host_of(L);
    if (zg_heartbeat_lost(&h->heartbeat))
        lua_pushstring(L, ZG_LOST_PREFIX "the job was killed, or another host took it");
    else if (h->run_timed_out) {
        char secs[32];
        snprintf(secs, sizeof secs, "%g", h->run_timeout_s);
        lua_pushfstring(L, "the run exceeded the job type's TIMEOUT of %s s", secs);
    } else
        lua_pushnil(L);
    return 1;
}

/* publish(json): a run's start or end on "zerog:events", when the host publishes events. An
 * outage does not fail the run: the event is lost and logged. */
static int core_publish(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *msg = luaL_checkstring(L, 1);
    if (!h->cfg.publish_events) return 0;
    zg_error err = {0};
    if (h->store->ops->publish(h->store, ZG_EVENTS_CHANNEL, msg, &err) != ZG_OK)
        zg_host_log(h, ZG_LOG_WARNING, "an event was not published: %s", err.msg);
    return 0;
}

/* publishing() -> whether this host publishes run events (so the engine builds them only then). */
static int core_publishing(lua_State *L)
{
    lua_pushboolean(L, host_of(L)->cfg.publish_events);
    return 1;
}

/* clock() -> monotonic seconds, for run times. */
static int core_clock(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)zg_clock_monotonic_ms() / 1000.0);
    return 1;
}

/* host_id() -> "hostname:pid", naming this process in events. */
static int core_host_id(lua_State *L)
{
    char name[256] = "?";
    gethostname(name, sizeof name - 1);
    lua_pushfstring(L, "%s:%d", name, (int)getpid());
    return 1;
}

/* sleep(seconds): the heartbeat keeps the reservation meanwhile; a lost run stops at the end. */
static int core_sleep(lua_State *L)
{
    zg_host *h = host_of(L);
    int64_t left = seconds_to_ms(L, 1);
    while (left > 0 && !zg_heartbeat_lost(&h->heartbeat)) {
        if (h->run_deadline_ms && zg_clock_monotonic_ms() > h->run_deadline_ms) {
            h->run_timed_out = 1;
            return zg_raise_timeout(L, h);
        }
        int64_t chunk = left < 200 ? left : 200;
        zg_clock_sleep_ms(chunk);
        left -= chunk;
    }
    check_lease(L, h);
    return 0;
}

static int core_uuid4(lua_State *L)
{
    uuid_t id;
    char text[ZG_UUID_LEN];
    uuid_generate_random(id);
    uuid_unparse_lower(id, text);
    lua_pushstring(L, text);
    return 1;
}

static int core_now(lua_State *L)
{
    char text[40];
    zg_clock_iso8601(text, sizeof text);
    lua_pushstring(L, text);
    return 1;
}

/* log(level, logId, msg) */
static int core_log(lua_State *L)
{
    zg_host *h = host_of(L);
    static const char *const levels[] = {"info", "warning", "error", NULL};
    int level = luaL_checkoption(L, 1, "info", levels);
    if (h->cfg.log)
        h->cfg.log(h->cfg.log_ud, level, luaL_checkstring(L, 2), luaL_checkstring(L, 3));
    return 0;
}

/* progress(uuid, completeness, event?) */
static int core_progress(lua_State *L)
{
    zg_host *h = host_of(L);
    if (h->cfg.progress)
        h->cfg.progress(h->cfg.progress_ud, luaL_checkstring(L, 1), luaL_checknumber(L, 2),
                        luaL_optstring(L, 3, NULL));
    return 0;
}

static const luaL_Reg core_functions[] = {{"load", core_load},
                                          {"save", core_save},
                                          {"append", core_append},
                                          {"put", core_put},
                                          {"touch", core_touch},
                                          {"fence", core_fence},
                                          {"ended_elsewhere", core_ended_elsewhere},
                                          {"ccall", core_ccall},
                                          {"run_limits", core_run_limits},
                                          {"stopping", core_stopping},
                                          {"publish", core_publish}, {"publishing", core_publishing},
                                          {"clock", core_clock},
                                          {"host_id", core_host_id},
                                          {"save_many", core_save_many},
                                          {"put_many", core_put_many},
                                          {"discard", core_discard},
                                          {"sleep", core_sleep},
                                          {"uuid4", core_uuid4},
                                          {"now", core_now},
                                          {"log", core_log},
                                          {"progress", core_progress},
                                          {NULL, NULL}};

static int open_core(lua_State *L)
{
    lua_newtable(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, core_functions, 1);
    return 1;
}

void zg_bindings_open(zg_host *h)
{
    lua_State *L = h->L;
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushlightuserdata(L, h);
    lua_pushcclosure(L, open_core, 1);
    lua_setfield(L, -2, "zerog.core");
    lua_pop(L, 1);
}
