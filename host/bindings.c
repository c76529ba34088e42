/* bindings: the zerog.core module, the thin C functions through which the Lua runtime reaches
 * the host: the store's lifecycle steps, time, ids, logging and progress. Each is a closure whose
 * upvalue is the host, so two hosts never share anything.
 *
 * Which job a write goes to is decided here, not by the job: a write through the run's own job
 * instance (the very table the engine filled for this run) goes to the run's lease, whatever the
 * job has set on `self`; any other instance (zerog.get_job) writes outside a run, by its uuid.
 * A write the store refuses because the lease is no longer current raises LeaseLost and marks
 * the run lost, so its hook stops it. Store failures raise StoreError with the store's words.
 * Buffers the store hands back are held in a box with a finalizer until they are on the Lua
 * stack, so an error (out of memory) at any point leaks nothing. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "cron.h"
#include "host_internal.h"
#include "json_decode.h"
#include "json_encode.h"

/* A store call from Lua: bounded by the store's own timeout, so the watchdog does not take the
 * time it waits for the store for a stuck VM (STORE(h)->op(...) marks the call's start; the
 * binding marks the VM back in Lua when it returns). */
static zg_store *store_call(zg_host *h)
{
    zg_heartbeat_entered(&h->heartbeat, 0);
    return h->store;
}
#define STORE(h) (store_call(h)->ops)

static zg_host *host_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static int raise_store(lua_State *L, const zg_error *err)
{
    return luaL_error(L, ZG_STORE_PREFIX "%s", err->msg);
}

/* A malloc'd buffer owned by the Lua stack: freed by its finalizer if an error unwinds first. */
static int box_gc(lua_State *L)
{
    char **p = lua_touserdata(L, 1);
    free(*p);
    *p = NULL;
    return 0;
}

static char **new_box(lua_State *L)
{
    char **p = lua_newuserdatauv(L, sizeof *p, 0);
    *p = NULL;
    if (luaL_newmetatable(L, "zerog.box")) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return p;
}

/* Ends the run out of memory (kind: ZG_STOP_MEMORY or ZG_STOP_HOST_MEMORY; the stop is sticky). */
static int raise_out_of_room(lua_State *L, zg_host *h, int kind)
{
    if (!h->stop_kind) h->stop_kind = kind;
    char buf[512];
    return luaL_error(L, "%s", zg_stop_message(h, h->stop_kind, buf, sizeof buf));
}

/* A document handed to job code is decoded by lua-cjson, which leaks its parse buffer (the
 * size of the text) when the VM runs out of memory while it decodes. So inside job code, a
 * text that would not fit four times over in what the run (or the host) has left is refused
 * here, before anything is allocated: the run is out of memory (the stop is sticky). */
static void check_room(lua_State *L, size_t len)
{
    zg_host *h = *(zg_host **)lua_getextraspace(L);
    if (!h->run_in_job) return;
    size_t need = h->vm_bytes + 4 * len + 65536;
    int kind = h->run_mem_cap && need > h->run_mem_cap             ? ZG_STOP_MEMORY
               : h->cfg.memory_limit && need > h->cfg.memory_limit ? ZG_STOP_HOST_MEMORY
                                                                   : 0;
    if (!kind) return;
    lua_gc(L, LUA_GCCOLLECT, 0); /* garbage is room */
    need = h->vm_bytes + 4 * len + 65536;
    if (kind == ZG_STOP_MEMORY ? need <= h->run_mem_cap : need <= h->cfg.memory_limit) return;
    raise_out_of_room(L, h, kind);
}

/* Pushes the boxed text (or nil) and frees it. */
static void push_boxed(lua_State *L, char **box)
{
    if (*box) check_room(L, strlen(*box));
    if (*box)
        lua_pushstring(L, *box);
    else
        lua_pushnil(L);
    free(*box);
    *box = NULL;
}

/* Reads {name = json} at idx into arrays held by a userdata it leaves on the stack. */
static zg_fields fields_arg(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t n = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
        n++;
    const char **arr = lua_newuserdatauv(L, 2 * (n ? n : 1) * sizeof(char *), 0);
    size_t i = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "fields must map names to JSON text");
        const char *name = lua_tostring(L, -2); /* alive through the argument table */
        if (name[0] == '_' || strcmp(name, "cas") == 0)
            luaL_error(L, "%s is the store's own field", name); /* never a document field */
        arr[i] = name;
        arr[n + i++] = lua_tostring(L, -1);
    }
    zg_fields f = {n, arr, arr + n};
    return f;
}

/* Where a write through the job instance at idx goes: the run's lease when it is the run's own
 * instance or names the running job (zerog.get_job of it), else the job named by its uuid,
 * found by the store (the instance's queueName is not trusted). The uuid string is kept alive
 * by a stack slot it leaves on the stack. */
static zg_target target_of(lua_State *L, zg_host *h, int idx)
{
    zg_target t = {NULL, NULL, NULL};
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    if (h->run.active && h->run.has_instance) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &h->run);
        int ours = lua_rawequal(L, -1, idx);
        lua_pop(L, 1);
        if (ours) {
            t.lease = &h->run.lease;
            lua_pushnil(L);
            return t;
        }
    }
    if (lua_getfield(L, idx, "uuid") != LUA_TSTRING) luaL_error(L, "the job has no uuid");
    t.uuid = lua_tostring(L, -1); /* a string, kept on the stack: alive until the call returns */
    if (h->run.active && strcmp(t.uuid, h->run.lease.uuid) == 0) t.lease = &h->run.lease;
    return t;
}

/* Raises the outcome of a write that failed. */
static int raise_write(lua_State *L, zg_host *h, const zg_target *t, int rc, const zg_error *err)
{
    if (rc == ZG_ESTALE && t->lease) {
        zg_heartbeat_mark_lost(&h->heartbeat);
        return luaL_error(L, ZG_LOST_PREFIX "%s", err->msg);
    }
    if (rc == ZG_ENOTFOUND)
        return luaL_error(L, "job %s is not in the store", t->lease ? t->lease->uuid : t->uuid);
    return raise_store(L, err);
}

/* read(uuid) -> JSON text | nil: a job by uuid alone. */
static int core_read(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *uuid = luaL_checkstring(L, 1);
    char **box = new_box(L);
    zg_error err = {0};
    char queue[ZG_NAME_LEN] = "";
    int rc = STORE(h)->load(h->store, uuid, box, queue, &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc == ZG_ENOTFOUND) return lua_pushnil(L), 1;
    if (rc != ZG_OK) return raise_store(L, &err);
    push_boxed(L, box);
    return 1;
}

/* reload(job) -> JSON text: the document of an instance (the run's: by its lease). */
static int core_reload(lua_State *L)
{
    zg_host *h = host_of(L);
    zg_target t = target_of(L, h, 1);
    char queue[ZG_NAME_LEN];
    snprintf(queue, sizeof queue, "%s", t.lease ? t.lease->queue : "");
    const char *uuid = t.lease ? t.lease->uuid : t.uuid;
    char **box = new_box(L);
    zg_error err = {0};
    int rc = STORE(h)->load(h->store, uuid, box, queue, &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc == ZG_ENOTFOUND) return luaL_error(L, "job %s is not in the store", uuid);
    if (rc != ZG_OK) return raise_store(L, &err);
    push_boxed(L, box);
    return 1;
}

/* The run's next call names its last acknowledged write (zg_lease.write_chain). */
static void chain_to_last_write(zg_host *h)
{
    h->run.lease.write_chain = h->run.writes.last_seq;
}

/* A write the store acknowledged, kept when it is the run's own (under its lease): given again
 * to a store that loses it before the run settles (run_writes.h). */
static void kept_by_run(zg_host *h, const zg_target *t, int64_t seq, zg_fields f, int list,
                        const char *entry, const char *count_field)
{
    if (t->lease != &h->run.lease) return;
    zg_run_writes_keep(&h->run.writes, seq, f, list, entry, count_field);
    chain_to_last_write(h);
}

/* Pushes a write's outcome: cas, and the fresh document (or nil). */
static int push_written(lua_State *L, char **box, int64_t cas)
{
    lua_pushinteger(L, cas);
    push_boxed(L, box);
    return 2;
}

/* update(job, {name = json}, known_cas) -> cas, fresh document | nil */
static int core_update(lua_State *L)
{
    zg_host *h = host_of(L);
    zg_target t = target_of(L, h, 1);
    lua_Integer known = luaL_checkinteger(L, 3);
    zg_fields f = fields_arg(L, 2);
    char **box = new_box(L);
    zg_written w = {0};
    zg_error err = {0};
    int64_t seq = zg_host_next_seq(h);
    int rc, attempt = 0;
    do
        rc = STORE(h)->update(h->store, &t, f, known, h->writer, seq, &w, &err);
    while (zg_host_resend_after_giving_back(h, &rc, &attempt, &err));
    zg_heartbeat_entered(&h->heartbeat, 1);
    *box = w.doc;
    if (rc != ZG_OK) return raise_write(L, h, &t, rc, &err);
    kept_by_run(h, &t, seq, f, -1, NULL, NULL);
    return push_written(L, box, w.cas);
}

/* save(job, {name = json}, expected_cas) -> cas | nil, stored_cas */
static int core_save(lua_State *L)
{
    zg_host *h = host_of(L);
    zg_target t = target_of(L, h, 1);
    lua_Integer expected = luaL_checkinteger(L, 3);
    zg_fields f = fields_arg(L, 2);
    zg_written w = {0};
    zg_error err = {0};
    int64_t seq = zg_host_next_seq(h);
    int rc, attempt = 0;
    do
        rc = STORE(h)->save(h->store, &t, f, expected, h->writer, seq, &w, &err);
    while (zg_host_resend_after_giving_back(h, &rc, &attempt, &err));
    zg_heartbeat_entered(&h->heartbeat, 1);
    free(w.doc);
    if (rc == ZG_ECAS) {
        lua_pushnil(L);
        lua_pushinteger(L, w.cas);
        return 2;
    }
    if (rc != ZG_OK) return raise_write(L, h, &t, rc, &err);
    kept_by_run(h, &t, seq, f, -1, NULL, NULL);
    lua_pushinteger(L, w.cas);
    return 1;
}

/* append(job, list, entry_json, {name = json}, count_field | nil, known_cas)
 *   -> cas, fresh document | nil */
static int core_append(lua_State *L)
{
    zg_host *h = host_of(L);
    zg_target t = target_of(L, h, 1);
    static const char *const lists[] = {"events", "warnings", "errors", NULL};
    int list = luaL_checkoption(L, 2, NULL, lists);
    const char *entry = luaL_checkstring(L, 3);
    const char *count_field = luaL_optstring(L, 5, NULL);
    lua_Integer known = luaL_checkinteger(L, 6);
    zg_fields f = fields_arg(L, 4);
    char **box = new_box(L);
    zg_written w = {0};
    zg_error err = {0};
    int64_t seq = zg_host_next_seq(h);
    int rc, attempt = 0;
    do
        rc = STORE(h)->append(h->store, &t, list, entry, f, count_field, known, h->writer, seq, &w,
                              &err);
    while (zg_host_resend_after_giving_back(h, &rc, &attempt, &err));
    zg_heartbeat_entered(&h->heartbeat, 1);
    *box = w.doc;
    if (rc != ZG_OK) return raise_write(L, h, &t, rc, &err);
    kept_by_run(h, &t, seq, f, list, entry, count_field);
    return push_written(L, box, w.cas);
}

static int64_t seconds_to_ms(lua_State *L, int arg)
{
    lua_Number s = luaL_checknumber(L, arg);
    luaL_argcheck(L, s >= 0 && s < 1e12, arg, "seconds out of range");
    return (int64_t)llround(s * 1000.0);
}

static int64_t int_field(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    int64_t v = (int64_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

static int64_t ms_field(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    lua_Number s = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(s >= 0 && s < 1e12)) luaL_error(L, "%s must be a number of seconds >= 0", name);
    return (int64_t)llround(s * 1000.0);
}

static const char *string_field(lua_State *L, int idx, const char *name)
{
    if (lua_getfield(L, idx, name) != LUA_TSTRING)
        luaL_error(L, "submit: %s must be a string", name);
    const char *v = lua_tostring(L, -1); /* a string of the table at idx: alive through it */
    lua_pop(L, 1);
    return v;
}

/* The children {{uuid, info, fail_parent}, ...} at stack index idx as an array (a userdata
 * pushed on the stack; its strings are the table's, alive while it is). */
static const zg_child *kids_arg(lua_State *L, int idx, size_t *n)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    *n = (size_t)lua_rawlen(L, idx);
    zg_child *kids = lua_newuserdatauv(L, (*n ? *n : 1) * sizeof *kids, 0);
    for (size_t i = 0; i < *n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        luaL_checktype(L, -1, LUA_TTABLE);
        kids[i].uuid = string_field(L, -1, "uuid");
        kids[i].info = string_field(L, -1, "info");
        lua_getfield(L, -1, "fail_parent");
        kids[i].fail_parent = lua_toboolean(L, -1);
        lua_pop(L, 2);
    }
    return kids;
}

/* submit({{uuid, jobType, queue, fields = {name = json}, priority, delay, ttr}, ...}[, partial])
 *   -> {{id, cas}, ...}: creates the jobs and their queue entries (a batch in few round trips).
 * With partial, a store failure after some of the jobs were made returns {{id, cas} or false,
 * ...} and the store's words instead of raising, so the caller can say which were made. */
static int core_submit(lua_State *L)
{
    zg_host *h = host_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t n = (size_t)lua_rawlen(L, 1);
    zg_new_job *jobs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *jobs, 0);
    memset(jobs, 0, (n ? n : 1) * sizeof *jobs);
    lua_createtable(L, (int)n, 0); /* anchors the field arrays */
    int anchors = lua_gettop(L);
    lua_createtable(L, 0, 0); /* and the children arrays */
    int kid_anchors = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        int j = lua_gettop(L);
        luaL_checktype(L, j, LUA_TTABLE);
        jobs[i].uuid = string_field(L, j, "uuid");
        jobs[i].job_type = string_field(L, j, "jobType");
        jobs[i].queue = string_field(L, j, "queue");
        jobs[i].priority = int_field(L, j, "priority");
        jobs[i].delay_ms = ms_field(L, j, "delay");
        jobs[i].ttr_ms = ms_field(L, j, "ttr");
        if (lua_getfield(L, j, "parked") == LUA_TBOOLEAN && lua_toboolean(L, -1))
            jobs[i].delay_ms = ZG_DELAY_PARKED; /* (flows: a batch's callback) */
        lua_pop(L, 1);
        if (lua_getfield(L, j, "unique") == LUA_TTABLE) { /* {key, ttl (s), hold} */
            jobs[i].unique_key = string_field(L, -1, "key");
            jobs[i].unique_ttl_ms = ms_field(L, -1, "ttl");
            lua_getfield(L, -1, "hold");
            const char *hold = lua_tostring(L, -1);
            jobs[i].unique_hold = hold && strcmp(hold, "running") == 0      ? ZG_UNIQUE_RUNNING
                                  : hold && strcmp(hold, "until_done") == 0 ? ZG_UNIQUE_UNTIL_DONE
                                                                            : ZG_UNIQUE_QUEUED;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (lua_getfield(L, j, "schedule") == LUA_TTABLE) { /* {id, tick, next}: repeatable jobs */
            jobs[i].schedule_id = string_field(L, -1, "id");
            jobs[i].scheduled_ms = int_field(L, -1, "tick");
            jobs[i].schedule_next_ms = int_field(L, -1, "next");
        }
        lua_pop(L, 1);
        if (lua_getfield(L, j, "group") == LUA_TSTRING) /* [limits] its GROUP's value */
            jobs[i].group = lua_tostring(L, -1);        /* (kept alive by the job's table) */
        lua_pop(L, 1);
        if (lua_getfield(L, j, "kids") == LUA_TTABLE) { /* flows: a batch's callback */
            jobs[i].kids = kids_arg(L, -1, &jobs[i].nkids);
            lua_rawseti(L, kid_anchors, (lua_Integer)i + 1); /* (the array, kept alive) */
        }
        lua_pop(L, 1);
        lua_getfield(L, j, "fields");
        jobs[i].fields = fields_arg(L, -1);
        lua_rawseti(L, anchors, (lua_Integer)i + 1);
        lua_pop(L, 2);
    }
    zg_error err = {0};
    int partial = lua_toboolean(L, 2);
    int rc = STORE(h)->submit(h->store, jobs, n, h->writer, &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    size_t made = 0;
    for (size_t i = 0; rc != ZG_OK && i < n; i++)
        made += jobs[i].created != 0;
    if (rc != ZG_OK && (!partial || made == 0 || rc == ZG_ENOMEM)) return raise_store(L, &err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) { /* {id, cas}, or {0, 0, the uuid holding its unique key} */
        if (rc != ZG_OK && !jobs[i].created) { /* (partial: this one was not made) */
            lua_pushboolean(L, 0);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
            continue;
        }
        lua_createtable(L, 3, 0);
        lua_pushinteger(L, jobs[i].id);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, jobs[i].cas);
        lua_rawseti(L, -2, 2);
        if (jobs[i].existing[0]) {
            lua_pushstring(L, jobs[i].existing);
            lua_rawseti(L, -2, 3);
        }
        if (jobs[i].schedule_stale) { /* its tick was taken: not created */
            lua_pushboolean(L, 1);
            lua_rawseti(L, -2, 4);
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    if (rc == ZG_OK) return 1;
    lua_pushstring(L, err.msg);
    return 2;
}

/* settle_outside(queue | nil, uuid, lease, {action, fields, event, error, delay, retention,
 * prior}) -> true | nil, why ("finished" | "stale" | "not_found"): kill, or the release of a
 * dead or stopped worker's run. */
static int core_settle_outside(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *queue = luaL_optstring(L, 1, NULL);
    const char *uuid = luaL_checkstring(L, 2);
    lua_Integer token = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    zg_settle st;
    memset(&st, 0, sizeof st);
    lua_getfield(L, 4, "action");
    const char *action = luaL_checkstring(L, -1);
    st.action = strcmp(action, "finish") == 0 ? ZG_SETTLE_FINISH : ZG_SETTLE_RELEASE;
    st.failed = st.action == ZG_SETTLE_FINISH; /* a finish from outside is a kill */
    lua_getfield(L, 4, "event");
    st.event = lua_tostring(L, -1);
    lua_getfield(L, 4, "error");
    st.error = lua_tostring(L, -1);
    st.delay_ms = ms_field(L, 4, "delay");
    lua_getfield(L, 4, "retention");
    st.retention_s = (int64_t)lua_tointeger(L, -1);
    st.prior = (int)int_field(L, 4, "prior");
    lua_getfield(L, 4, "has_parent"); /* flows: a killed child's end goes to its parent */
    st.has_parent = lua_toboolean(L, -1);
    lua_getfield(L, 4, "fields");
    st.fields = fields_arg(L, -1);
    zg_error err = {0};
    int rc = STORE(h)->settle_from_outside(h->store, queue, uuid, token, &st, h->writer,
                                           zg_host_next_seq(h), &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc == ZG_OK) return lua_pushboolean(L, 1), 1;
    const char *why = rc == ZG_EINVAL      ? "finished"
                      : rc == ZG_ESTALE    ? "stale"
                      : rc == ZG_ENOTFOUND ? "not_found"
                                           : NULL;
    if (!why) return raise_store(L, &err);
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
}

/* ---- flows ---- */

/* flow_adopt(queue | nil, uuid | nil, {{uuid, info, fail_parent}, ...}): registers children of
 * the run's job (queue and uuid nil: under the run's lease) or of the named job. */
static int core_flow_adopt(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *queue = luaL_optstring(L, 1, NULL), *uuid = luaL_optstring(L, 2, NULL);
    size_t n;
    const zg_child *kids = kids_arg(L, 3, &n);
    const zg_lease *lease = NULL;
    if (!uuid) {
        if (!h->run.active) return luaL_error(L, "spawn: only a running job has children");
        lease = &h->run.lease;
    }
    zg_error err = {0};
    int64_t seq = zg_host_next_seq(h);
    int rc, attempt = 0;
    do
        rc = STORE(h)->adopt(h->store, lease, queue, uuid, kids, n, h->writer, seq, &err);
    while (lease && zg_host_resend_after_giving_back(h, &rc, &attempt, &err));
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc == ZG_ESTALE && lease) {
        zg_heartbeat_mark_lost(&h->heartbeat);
        return luaL_error(L, ZG_LOST_PREFIX "%s", err.msg);
    }
    if (rc != ZG_OK) return raise_store(L, &err);
    if (lease) { /* the run's: kept, and named by its next call */
        zg_run_writes_keep_adopt(&h->run.writes, seq, kids, n);
        chain_to_last_write(h);
    }
    return 0;
}

/* The longest text check_room lets job code take now (0: no bound). */
static size_t text_room(const zg_host *h)
{
    if (!h->run_in_job) return 0;
    size_t cap = h->run_mem_cap;
    if (h->cfg.memory_limit && (!cap || h->cfg.memory_limit < cap)) cap = h->cfg.memory_limit;
    if (!cap) return 0;
    size_t used = h->vm_bytes + 65536, room = used < cap ? (cap - used) / 4 : 0;
    return room ? room : 1; /* (0 would be no bound) */
}

/* children(queue | nil, uuid) -> JSON text [[info, result | null], ...]. Ends that would not fit
 * in what the run has left are not read at all: the run is out of memory (a sticky stop, as for
 * any text too large), counted as an error, rather than read whole for nothing. */
static int core_children(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *queue = luaL_optstring(L, 1, NULL), *uuid = luaL_checkstring(L, 2);
    char **box = new_box(L);
    zg_error err = {0};
    size_t len = 0;
    int rc = STORE(h)->children(h->store, queue, uuid, text_room(h), box, &len, &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc == ZG_ENOMEM && len) {
        check_room(L, len); /* raises the stop, unless a collection made room */
        rc = STORE(h)->children(h->store, queue, uuid, text_room(h), box, &len, &err);
        zg_heartbeat_entered(&h->heartbeat, 1);
        /* still no room (or a child ended meanwhile): out of memory, never a store failure,
         * which would count nothing */
        if (rc == ZG_ENOMEM && len)
            return raise_out_of_room(L, h, h->run_mem_cap ? ZG_STOP_MEMORY : ZG_STOP_HOST_MEMORY);
    }
    if (rc == ZG_ENOTFOUND) return lua_pushnil(L), 1;
    if (rc != ZG_OK) return raise_store(L, &err);
    push_boxed(L, box);
    return 1;
}

/* remove(uuid) -> true, or false when there is no such job: deletes a job whatever its state
 * (flows: a batch's callback whose batch was not made whole). */
static int core_remove(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *uuid = luaL_checkstring(L, 1);
    zg_error err = {0};
    int rc = STORE(h)->remove(h->store, uuid, &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc != ZG_OK && rc != ZG_ENOTFOUND) return raise_store(L, &err);
    lua_pushboolean(L, rc == ZG_OK);
    return 1;
}

/* flow_deliver(queue, older_than_ms) -> count: hands the queue's notices of children's ends to
 * their parents (see lifecycle.h deliver). */
static int core_flow_deliver(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *queue = luaL_checkstring(L, 1);
    lua_Integer age = luaL_optinteger(L, 2, 0);
    int64_t n = 0;
    zg_error err = {0};
    int rc = STORE(h)->deliver(h->store, queue, age, &n, &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc != ZG_OK) return raise_store(L, &err);
    lua_pushinteger(L, n);
    return 1;
}

/* uuid_for(name) -> the uuid (version 5, SHA-1) of name: a child's uuid made from its parent's,
 * its round and its place in the run, so a spawn made again creates no second child. */
static int core_uuid_for(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    static const uuid_t flows_namespace = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                           0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    uuid_t id;
    char text[ZG_UUID_LEN];
    uuid_generate_sha1(id, flows_namespace, name, len);
    uuid_unparse_lower(id, text);
    lua_pushstring(L, text);
    return 1;
}
/* ---- end of flows ---- */

/* touch(job) -> renewed?: renews the run's lease now when job is the run's instance. */
static int core_touch(lua_State *L)
{
    zg_host *h = host_of(L);
    zg_target t = target_of(L, h, 1);
    if (!t.lease) return lua_pushboolean(L, 0), 1;
    int rc = zg_heartbeat_renew(&h->heartbeat);
    if (rc == ZG_ESTALE)
        return luaL_error(L, ZG_LOST_PREFIX "lease %lld of job %s is no longer current",
                          (long long)t.lease->token, t.lease->uuid);
    lua_pushboolean(L, rc == ZG_OK);
    return 1;
}

/* ccall(index, args_json) -> result_json: calls a function of zg_register_module. The result
 * is boxed before anything that can raise. */
static int core_ccall(lua_State *L)
{
    zg_host *h = host_of(L);
    lua_Integer i = luaL_checkinteger(L, 1);
    const char *args = luaL_checkstring(L, 2);
    luaL_argcheck(L, i >= 1 && (size_t)i <= h->nfns, 1, "no such C function");
    zg_registered_fn *f = &h->fns[i - 1];
    char **box = new_box(L);
    char errbuf[512] = "";
    int rc = f->fn(f->ctx, args, box, errbuf, sizeof errbuf);
    if (rc != ZG_OK) {
        free(*box);
        *box = NULL;
        lua_pushstring(L, errbuf[0] ? errbuf : "the C function failed");
        return lua_error(L); /* the Lua wrapper adds the job script's position */
    }
    if (!*box) return lua_pushliteral(L, "null"), 1;
    push_boxed(L, box);
    return 1;
}

/* stopping() -> why | nil: whether the run in progress is being stopped. */
static int core_stopping(lua_State *L)
{
    char buf[256];
    const char *why = zg_run_stop_reason(host_of(L), buf, sizeof buf);
    if (why)
        lua_pushstring(L, why);
    else
        lua_pushnil(L);
    return 1;
}

/* lost() -> whether the run's lease is lost; interrupted() -> whether it is being released. */
static int core_lost(lua_State *L)
{
    lua_pushboolean(L, zg_heartbeat_lost(&host_of(L)->heartbeat));
    return 1;
}

/* settling(): run() is over or has not begun: what runs now is the engine's code (building the
 * run's instance, settling), which an interrupt must not break into (it is seen by interrupted()).
 */
static int core_settling(lua_State *L)
{
    host_of(L)->run.job_done = 1;
    return 0;
}

static int core_interrupted(lua_State *L)
{
    lua_pushboolean(L, host_of(L)->interrupted);
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
    int rc = STORE(h)->publish(h->store, ZG_EVENTS_CHANNEL, msg, &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc != ZG_OK) zg_host_log(h, ZG_LOG_WARNING, "an event was not published: %s", err.msg);
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

/* sleep(seconds): the heartbeat keeps the lease meanwhile; a stopped run stops sleeping. */
static int core_sleep(lua_State *L)
{
    zg_host *h = host_of(L);
    int64_t left = seconds_to_ms(L, 1);
    char buf[256];
    while (left > 0 && !zg_run_stop_reason(h, buf, sizeof buf)) {
        if (h->run_deadline_ms && zg_clock_monotonic_ms() > h->run_deadline_ms) {
            if (h->run_in_job) h->stop_kind = ZG_STOP_TIMEOUT;
            return zg_raise_timeout(L, h);
        }
        int64_t chunk = left < 50 ? left : 50;
        zg_clock_sleep_ms(chunk);
        zg_heartbeat_alive(&h->heartbeat); /* sleeping on purpose is not being stuck */
        left -= chunk;
    }
    const char *why = zg_run_stop_reason(h, buf, sizeof buf);
    if (why) return luaL_error(L, "%s", why);
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

/* json_text(s) -> s as a JSON string, exactly as lua-cjson writes it (", \\ and / escaped,
 * control characters and DEL as \\uXXXX but \\b \\t \\n \\f \\r), or nil when s has a byte beyond
 * ASCII (zerog.codec then checks its UTF-8 and asks cjson). cjson's encoder sets up a buffer
 * per call (~3k instructions a string); this is a few hundred. */
static int core_json_text(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (!zg_json_push_string(L, s, len)) lua_pushnil(L);
    return 1;
}

/* json_field(v, array_mt, object_mt) -> the JSON text of a plain field value (json_encode.c),
 * or nil for anything zerog.codec encodes (or refuses) itself. */
static int core_json_field(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 3);
    if (!zg_json_push_field(L, 1, 2, 3)) lua_pushnil(L);
    return 1;
}

/* json_decode(text) -> the value, as lua-cjson decodes it, or nil when the text is beyond the
 * fast path (zerog.codec then asks cjson). */
static int core_json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    if (!zg_json_decode(L, text, len)) lua_pushnil(L);
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

/* cron_check(rule, tz) -> nil | why: whether a schedule's rule and zone are valid (REPEAT). */
static int core_cron_check(lua_State *L)
{
    zg_cron c;
    zg_error err = {0};
    int rc = zg_cron_parse(&c, luaL_checkstring(L, 1), luaL_optstring(L, 2, NULL), &err);
    zg_cron_free(&c);
    if (rc == ZG_OK) return 0;
    lua_pushstring(L, err.msg);
    return 1;
}

/* core.shards_declare(queue, n): true when the store records n shards for queue (recorded now
 * when it records none), else nil and why; a store failure raises. */
static int core_shards_declare(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *queue = luaL_checkstring(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    store_call(h);
    int rc = zg_host_declare_shards(h, queue, n < 1 || n > ZG_SHARDS_MAX ? 0 : (int)n);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc == ZG_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (rc != ZG_EINVAL) return raise_store(L, &h->err);
    lua_pushnil(L);
    lua_pushstring(L, h->err.msg);
    return 2;
}

/* core.shard_count(queue): the shard count the store records for queue (1: none). */
static int core_shard_count(lua_State *L)
{
    zg_host *h = host_of(L);
    const char *queue = luaL_checkstring(L, 1);
    int n = 1;
    zg_error err = {0};
    int rc = STORE(h)->shard_count(h->store, queue, &n, &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc != ZG_OK) return raise_store(L, &err);
    lua_pushinteger(L, n);
    return 1;
}

/* store_refused(words) -> whether a store error's words are the server's refusal of the call
 * (zg_store_refused) */
static int core_store_refused(lua_State *L)
{
    lua_pushboolean(L, zg_store_refused(luaL_checkstring(L, 1)));
    return 1;
}

static const luaL_Reg core_functions[] = {{"shards_declare", core_shards_declare},
                                          {"shard_count", core_shard_count},
                                          {"cron_check", core_cron_check},
                                          {"read", core_read},
                                          {"reload", core_reload},
                                          {"update", core_update},
                                          {"save", core_save},
                                          {"append", core_append},
                                          {"submit", core_submit},
                                          {"store_refused", core_store_refused},
                                          {"settle_outside", core_settle_outside},
                                          {"touch", core_touch},
                                          {"flow_adopt", core_flow_adopt}, /* flows */
                                          {"children", core_children},
                                          {"flow_deliver", core_flow_deliver},
                                          {"remove", core_remove},
                                          {"uuid_for", core_uuid_for},
                                          {"ccall", core_ccall},
                                          {"run_protected", zg_core_run_protected},
                                          {"run_engine", zg_core_run_engine},
                                          {"chunk_hook", zg_core_chunk_hook},
                                          {"chunk_line", zg_core_chunk_line},
                                          {"stopping", core_stopping},
                                          {"lost", core_lost},
                                          {"interrupted", core_interrupted},
                                          {"settling", core_settling},
                                          {"publish", core_publish},
                                          {"publishing", core_publishing},
                                          {"clock", core_clock},
                                          {"host_id", core_host_id},
                                          {"sleep", core_sleep},
                                          {"uuid4", core_uuid4},
                                          {"now", core_now},
                                          {"json_text", core_json_text},
                                          {"json_field", core_json_field},
                                          {"json_decode", core_json_decode},
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
