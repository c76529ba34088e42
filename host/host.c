/* host: the public API (zerog.h) over the host handle: creation, script loading, submitting,
 * stepping the engine, and reading jobs. The Lua side decides (zerog.api); this file moves
 * arguments and results across and carries out queue decisions. */
#include <dirent.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "clock.h"
#include "host_internal.h"

void zg_config_init(zg_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
}

void zg_free(void *p)
{
    free(p);
}

int zg_errcode(const zg_host *h)
{
    return h->err.code;
}

const char *zg_errstr(const zg_host *h)
{
    return h->err.msg;
}

void zg_host_log(zg_host *h, int level, const char *fmt, ...)
{
    if (!h->cfg.log) return;
    char msg[ZG_ERRSTR_LEN + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h->cfg.log(h->cfg.log_ud, level, "", msg);
}

static void clear_error(zg_host *h)
{
    h->err.code = ZG_OK;
    h->err.msg[0] = '\0';
}

/* Opens the store named by the URL. */
static int open_store(zg_host *h)
{
    const char *url = h->store_url;
    if (strcmp(url, "mem://") == 0 || strcmp(url, "mem:") == 0) {
        h->store = zg_store_mem_new();
        return h->store ? ZG_OK : zg_fail(&h->err, ZG_ENOMEM, "out of memory");
    }
    h->store = zg_store_redis_new(url, h->cfg.store_timeout_ms, &h->err);
    return h->store ? ZG_OK : h->err.code;
}

/* A writer id unique to this host (its writes are applied once each, across reconnects). */
static void make_writer_id(zg_host *h)
{
    uuid_t id;
    uuid_generate_random(id);
    for (int i = 0; i < 12; i++)
        snprintf(h->writer + 2 * i, 3, "%02x", id[i]);
}

zg_host *zg_host_new(const zg_config *cfg)
{
    zg_host *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    if (cfg)
        h->cfg = *cfg;
    else
        zg_config_init(&h->cfg);
    h->store_url = strdup(h->cfg.store && *h->cfg.store ? h->cfg.store : "mem://");
    if (!h->store_url) {
        free(h);
        return NULL;
    }
    h->cfg.store = h->store_url;
    if (h->cfg.jobs_dir && !(h->jobs_dir = strdup(h->cfg.jobs_dir))) {
        free(h->store_url);
        free(h);
        return NULL;
    }
    h->cfg.jobs_dir = h->jobs_dir;
    h->api_ref = LUA_NOREF;
    h->run.instance_ref = LUA_NOREF;
    make_writer_id(h);
    if (open_store(h) == ZG_OK && zg_runtime_open(h) == ZG_OK &&
        zg_heartbeat_init(&h->heartbeat, h->store) != ZG_OK)
        zg_fail(&h->err, ZG_ENOMEM, "cannot start the heartbeat thread");
    if (h->err.code == ZG_OK && h->jobs_dir && zg_load_dir(h, h->jobs_dir, NULL, NULL) != ZG_OK)
        zg_runtime_close(h); /* keeps the error; the host refuses every call */
    return h;
}

/* Puts back the job claimed with the last settle (cfg.prefetch), if any. */
static int release_held(zg_host *h, zg_error *err)
{
    if (!h->held.lease.token) return ZG_OK;
    int rc = h->store->ops->unclaim(h->store, &h->held.lease, err);
    if (rc == ZG_ESTALE) rc = ZG_OK; /* no longer ours anyway: it lapsed, or was killed */
    zg_claim_clear(&h->held);
    return rc;
}

void zg_host_free(zg_host *h)
{
    if (!h) return;
    if (h->store) {
        zg_error err = {0};
        if (release_held(h, &err) != ZG_OK)
            zg_host_log(h, ZG_LOG_WARNING,
                        "a claimed job was not put back (its lease will lapse): %s", err.msg);
    }
    zg_claim_clear(&h->held);
    zg_heartbeat_shutdown(&h->heartbeat);
    zg_runtime_close(h);
    if (h->store) h->store->ops->close(h->store);
    free(h->store_url);
    free(h->jobs_dir);
    free(h->fns);
    for (size_t i = 0; i < h->ndirs; i++)
        free(h->dirs[i]);
    free(h->dirs);
    free(h);
}

/* Refuses calls on a host whose creation failed, keeping its original error. */
static int usable(zg_host *h)
{
    if (!h->L || h->api_ref == LUA_NOREF || !h->heartbeat.started) {
        if (h->err.code == ZG_OK) zg_fail(&h->err, ZG_ESTORE, "the host failed to start");
        return 0;
    }
    clear_error(h);
    return 1;
}

static void copy_name(char *out, const char *name)
{
    if (out) snprintf(out, ZG_NAME_LEN, "%s", name ? name : "");
}

static int load_script(zg_host *h, const char *fn, const char *path, const char *source,
                       char type_out[ZG_NAME_LEN])
{
    if (!usable(h)) return h->err.code;
    lua_pushstring(h->L, path);
    if (source)
        lua_pushstring(h->L, source);
    else
        lua_pushnil(h->L);
    int rc = zg_runtime_call(h, fn, 2, 1);
    if (rc != ZG_OK) return rc;
    copy_name(type_out, lua_tostring(h->L, -1));
    lua_pop(h->L, 1);
    return ZG_OK;
}

int zg_load_file(zg_host *h, const char *path, char type_out[ZG_NAME_LEN])
{
    return load_script(h, "load", path, NULL, type_out);
}

int zg_load_string(zg_host *h, const char *path, const char *source, char type_out[ZG_NAME_LEN])
{
    return load_script(h, "load", path, source, type_out);
}

int zg_check_file(zg_host *h, const char *path, char type_out[ZG_NAME_LEN])
{
    return load_script(h, "check", path, NULL, type_out);
}

/* Pushes delay, ttr and priority (nil for the type's defaults). */
static void push_submit_opts(lua_State *L, const zg_submit_opts *opts)
{
    if (opts && opts->delay > 0)
        lua_pushnumber(L, opts->delay);
    else
        lua_pushnil(L);
    if (opts && opts->ttr > 0)
        lua_pushnumber(L, opts->ttr);
    else
        lua_pushnil(L);
    if (opts && opts->has_priority)
        lua_pushinteger(L, opts->priority);
    else
        lua_pushnil(L);
}

int zg_submit(zg_host *h, const char *job_type, const char *params_json, const zg_submit_opts *opts,
              char uuid_out[ZG_UUID_LEN])
{
    if (!usable(h)) return h->err.code;
    lua_State *L = h->L;
    if (job_type)
        lua_pushstring(L, job_type);
    else
        lua_pushnil(L);
    lua_pushstring(L, params_json ? params_json : "");
    push_submit_opts(L, opts);
    int rc = zg_runtime_call(h, "submit", 5, 1);
    if (rc != ZG_OK) return rc;
    snprintf(uuid_out, ZG_UUID_LEN, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return ZG_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.lua files of dir, sorted, as malloc'd paths in *paths; how many, or -1. */
static long list_scripts(const char *dir, char ***paths)
{
    DIR *d = opendir(dir);
    *paths = NULL;
    if (!d) return -1;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0 || e->d_name[0] == '.') continue;
        if (n == cap) {
            char **grown = realloc(*paths, (cap = cap ? cap * 2 : 16) * sizeof **paths);
            if (!grown) break;
            *paths = grown;
        }
        char *path = malloc(strlen(dir) + len + 2);
        if (!path) break;
        sprintf(path, "%s/%s", dir, e->d_name);
        (*paths)[n++] = path;
    }
    closedir(d);
    if (n) qsort(*paths, n, sizeof **paths, compare_names);
    return (long)n;
}

static void free_list(char **paths, long n)
{
    for (long i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

static void remember_dir(zg_host *h, const char *dir)
{
    for (size_t i = 0; i < h->ndirs; i++)
        if (strcmp(h->dirs[i], dir) == 0) return;
    char **grown = realloc(h->dirs, (h->ndirs + 1) * sizeof *grown);
    if (!grown) return;
    h->dirs = grown;
    if ((h->dirs[h->ndirs] = strdup(dir))) h->ndirs++;
}

int zg_load_dir(zg_host *h, const char *dir, int *loaded, int *failed)
{
    if (loaded) *loaded = 0;
    if (failed) *failed = 0;
    if (!usable(h)) return h->err.code;
    char **paths;
    long n = list_scripts(dir, &paths);
    if (n < 0) return zg_fail(&h->err, ZG_ESCRIPT, "cannot read the jobs directory %s", dir);
    remember_dir(h, dir);
    for (long i = 0; i < n; i++) {
        if (zg_load_file(h, paths[i], NULL) == ZG_OK) {
            if (loaded) (*loaded)++;
        } else {
            zg_host_log(h, ZG_LOG_ERROR, "%s", h->err.msg);
            if (failed) (*failed)++;
        }
    }
    free_list(paths, n);
    clear_error(h);
    return ZG_OK;
}

int zg_holding(const zg_host *h)
{
    return h->held.lease.token != 0;
}

int zg_release_held(zg_host *h)
{
    if (!usable(h)) return h->err.code;
    return release_held(h, &h->err);
}

int zg_reload(zg_host *h, int *failed)
{
    if (failed) *failed = 0;
    if (!usable(h)) return h->err.code;
    if (release_held(h, &h->err) != ZG_OK) return h->err.code; /* its type may go away */
    lua_State *L = h->L;
    lua_newtable(L); /* the scripts now in the loaded directories: new ones get loaded */
    lua_Integer k = 0;
    for (size_t d = 0; d < h->ndirs; d++) {
        char **paths;
        long n = list_scripts(h->dirs[d], &paths);
        for (long i = 0; i < n; i++) {
            lua_pushstring(L, paths[i]);
            lua_rawseti(L, -2, ++k);
        }
        free_list(paths, n > 0 ? n : 0);
    }
    int rc = zg_runtime_call(h, "reload", 1, 1);
    if (rc != ZG_OK) return rc;
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        zg_host_log(h, ZG_LOG_ERROR, "reload kept the previous version: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (failed) *failed = (int)n;
    return ZG_OK;
}

void zg_stop(zg_host *h)
{
    h->stopping = 1;
}

void zg_interrupt(zg_host *h)
{
    h->interrupted = 1;
    h->stopping = 1;
}

/* Says an outage once when it starts and once when it ends. */
static void note_store(zg_host *h, int rc)
{
    int down = rc == ZG_ESTORE;
    if (down && !h->outage) zg_host_log(h, ZG_LOG_ERROR, "store unavailable: %s", h->err.msg);
    if (!down && h->outage) zg_host_log(h, ZG_LOG_INFO, "store available again");
    h->outage = down;
}

int zg_run(zg_host *h, const char *const *queues, size_t n, int until_idle, long *ran)
{
    if (ran) *ran = 0;
    if (!usable(h)) return h->err.code;
    int prefetch = h->cfg.prefetch;
    h->cfg.prefetch = 1; /* the next step comes at once, and the held job goes back below */
    while (!h->stopping) {
        zg_step_result r;
        int rc = zg_step(h, queues, n, until_idle ? 0 : 200, &r);
        note_store(h, rc);
        if (rc == ZG_OK) {
            if (ran) (*ran)++;
        } else if (rc == ZG_ETIMEDOUT) {
            if (until_idle) break;
        } else if (rc == ZG_ESTORE) { /* an outage: try again shortly, until it passes */
            for (int i = 0; i < 5 && !h->stopping; i++)
                zg_clock_sleep_ms(100);
        } else if (rc != ZG_ESTALE) {
            zg_host_log(h, ZG_LOG_ERROR, "%s", h->err.msg);
        }
    }
    h->cfg.prefetch = prefetch;
    zg_error err = {0};
    if (release_held(h, &err) != ZG_OK)
        zg_host_log(h, ZG_LOG_WARNING, "a claimed job was not put back (its lease will lapse): %s",
                    err.msg);
    h->stopping = 0;
    h->interrupted = 0;
    clear_error(h);
    return ZG_OK;
}

int zg_register_module(zg_host *h, const char *module, const zg_function *fns, void *ctx)
{
    if (!usable(h)) return h->err.code;
    size_t count = 0;
    while (fns[count].name)
        count++;
    zg_registered_fn *grown = realloc(h->fns, (h->nfns + count) * sizeof *grown);
    if (!grown && count) return zg_fail(&h->err, ZG_ENOMEM, "out of memory");
    h->fns = grown;
    lua_State *L = h->L;
    lua_pushstring(L, module);
    lua_createtable(L, 0, (int)count);
    for (size_t i = 0; i < count; i++) {
        h->fns[h->nfns + i].fn = fns[i].fn;
        h->fns[h->nfns + i].ctx = ctx;
        lua_pushinteger(L, (lua_Integer)(h->nfns + i + 1)); /* the function's index, 1-based */
        lua_setfield(L, -2, fns[i].name);
    }
    int rc = zg_runtime_call(h, "c_module", 2, 0);
    if (rc == ZG_OK) h->nfns += count;
    return rc;
}

int zg_submit_batch(zg_host *h, const char *job_type, const char *const *params_json, size_t n,
                    const zg_submit_opts *opts, char (*uuids_out)[ZG_UUID_LEN])
{
    if (!usable(h)) return h->err.code;
    lua_State *L = h->L;
    lua_pushstring(L, job_type);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, params_json[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    push_submit_opts(L, opts);
    int rc = zg_runtime_call(h, "submit_batch", 5, 1);
    if (rc != ZG_OK) return rc;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        snprintf(uuids_out[i], ZG_UUID_LEN, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return ZG_OK;
}

int zg_kill(zg_host *h, const char *uuid)
{
    if (!usable(h)) return h->err.code;
    lua_pushstring(h->L, uuid);
    int rc = zg_runtime_call(h, "kill", 1, 1);
    if (rc == ZG_OK) lua_pop(h->L, 1);
    return rc;
}

/* The loaded types and their queues (or only the named queues), for a claim. The strings are
 * owned by a table left on the Lua stack until the caller pops it. */
typedef struct claim_names {
    const char **queues, **types;
    size_t nqueues, ntypes;
} claim_names;

static int collect_names(zg_host *h, const char *const *queues, size_t n, claim_names *out)
{
    lua_State *L = h->L;
    memset(out, 0, sizeof *out);
    if (zg_runtime_call(h, "claimable", 0, 2) != ZG_OK) {
        lua_pushnil(L);
        return h->err.code;
    }
    /* stack: types, queues */
    size_t ntypes = (size_t)lua_rawlen(L, -2), nq = (size_t)lua_rawlen(L, -1);
    out->types = lua_newuserdatauv(L, (ntypes + n + nq + 1) * sizeof(char *), 0);
    out->queues = out->types + ntypes;
    for (size_t i = 0; i < ntypes; i++) {
        lua_rawgeti(L, -3, (lua_Integer)i + 1);
        out->types[i] = lua_tostring(L, -1); /* kept alive by the table */
        lua_pop(L, 1);
    }
    out->ntypes = ntypes;
    if (n) {
        for (size_t i = 0; i < n; i++)
            out->queues[i] = queues[i];
        out->nqueues = n;
    } else {
        for (size_t i = 0; i < nq; i++) {
            lua_rawgeti(L, -2, (lua_Integer)i + 1);
            out->queues[i] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
            out->nqueues = nq;
    }
    return ZG_OK; /* the tables and the arrays stay on the stack until the caller pops them */
}

/* Pushes the claim for the engine: {uuid, queue, jobType, id, reserves, timeouts, releases,
 * prior, doc}. */
static void push_claim(lua_State *L, const zg_claim *c)
{
    lua_createtable(L, 0, 9);
    lua_pushstring(L, c->lease.uuid);
    lua_setfield(L, -2, "uuid");
    lua_pushstring(L, c->lease.queue);
    lua_setfield(L, -2, "queue");
    lua_pushstring(L, c->job_type);
    lua_setfield(L, -2, "jobType");
    lua_pushinteger(L, c->id);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, c->reserves);
    lua_setfield(L, -2, "reserves");
    lua_pushinteger(L, c->timeouts);
    lua_setfield(L, -2, "timeouts");
    lua_pushinteger(L, c->releases);
    lua_setfield(L, -2, "releases");
    lua_pushinteger(L, c->prior);
    lua_setfield(L, -2, "prior");
    lua_pushstring(L, c->doc ? c->doc : "{}");
    lua_setfield(L, -2, "doc");
}

/* Reads {name = json} at idx into arrays kept in a userdata left on the stack. */
static zg_fields fields_at(lua_State *L, int idx)
{
    zg_fields f = {0, NULL, NULL};
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) {
        lua_pushnil(L);
        return f;
    }
    size_t n = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1))
        n++;
    const char **arr = lua_newuserdatauv(L, 2 * (n ? n : 1) * sizeof(char *), 0);
    size_t i = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) continue;
        arr[i] = lua_tostring(L, -2);
        arr[n + i++] = lua_tostring(L, -1);
    }
    f.n = i;
    f.names = arr;
    f.values = arr + n;
    return f;
}

static const char *opt_string(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    const char *v = lua_tostring(L, -1); /* kept alive by the decision table */
    lua_pop(L, 1);
    return v;
}

static double opt_number(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v != v ? 0 : v; /* NaN: 0 */
}

/* Seconds (a double from job code: maybe huge, negative or NaN) as whole ms within a day's
 * thousand years; never undefined behaviour. */
static int64_t seconds_ms(double s)
{
    if (!(s > 0)) return 0;
    if (s > 3.15e10) s = 3.15e10;
    return (int64_t)(s * 1000.0 + 0.5);
}

/* Turns the engine's decision (the table on top) into a settle. Strings stay owned by the
 * table; the fields' arrays by a userdata pushed on the stack. */
static void settle_from_decision(lua_State *L, zg_settle *st, int *code)
{
    int d = lua_gettop(L);
    memset(st, 0, sizeof *st);
    const char *action = opt_string(L, d, "action");
    st->action = !action                           ? ZG_SETTLE_RELEASE
                 : strcmp(action, "finish") == 0   ? ZG_SETTLE_FINISH
                 : strcmp(action, "bury") == 0     ? ZG_SETTLE_BURY
                                                   : ZG_SETTLE_RELEASE;
    st->event = opt_string(L, d, "event");
    st->error = opt_string(L, d, "error");
    st->reason = opt_string(L, d, "reason");
    st->delay_ms = seconds_ms(opt_number(L, d, "delay"));
    double retention = opt_number(L, d, "retention");
    st->retention_s = retention > 0 ? (int64_t)(retention > 3.15e10 ? 3.15e10 : retention + 0.999) : 0;
    lua_getfield(L, d, "code");
    lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
    *code = v > INT_MAX || v < INT_MIN ? (v > 0 ? INT_MAX : INT_MIN) : (int)v;
    lua_pop(L, 1);
    lua_getfield(L, d, "fields");
    st->fields = fields_at(L, -1);
    lua_remove(L, -2); /* the fields table stays alive through the decision table */
}

/* Runs a claimed job and settles it; with next (cfg.prefetch, not stopping), the settle claims
 * the next job of the same queue too, into h->held. */
static int run_claim(zg_host *h, zg_claim *c, const zg_claim_req *next, zg_step_result *out)
{
    lua_State *L = h->L;
    int base = lua_gettop(L);
    zg_run_info info = {1, c->lease.uuid, c->lease.queue, c->id, c->lease.token};
    if (h->cfg.on_run) h->cfg.on_run(h->cfg.on_run_ud, &info);
    snprintf(out->uuid, sizeof out->uuid, "%s", c->lease.uuid);
    h->run.lease = c->lease;
    h->run.active = 1;
    h->run.job_done = 0;
    lua_newtable(L); /* the run's job instance: its identity is the run's */
    lua_pushvalue(L, -1);
    h->run.instance_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    zg_heartbeat_begin(&h->heartbeat, &c->lease);
    /* the run's count hook, for the whole of process(): a lost lease, an interrupt or a TIMEOUT
     * stops job code wherever it runs (init, migrate, continue_running, run), and coroutines it
     * creates inherit the hook */
    lua_sethook(L, zg_run_hook, LUA_MASKCOUNT, 1000);
    push_claim(L, c);
    lua_rotate(L, -2, 1); /* claim, instance */
    int rc = zg_runtime_call(h, "process", 2, 1);
    lua_sethook(L, NULL, 0, 0);
    int lost = zg_heartbeat_lost(&h->heartbeat);
    int top = lua_gettop(L);
    if (rc == ZG_OK && !lost && lua_istable(L, -1)) {
        zg_settle st;
        int code;
        settle_from_decision(L, &st, &code);
        zg_error err = {0};
        int64_t cas = 0, seq = zg_host_next_seq(h);
        int prefetch = next && h->cfg.prefetch && !h->stopping && !h->interrupted;
        int64_t claim_seq = 0;
        if (prefetch) {
            claim_seq = zg_host_next_seq(h);
            h->seq += ZG_CLAIM_SEQS;
        }
        /* a store blip must not cost the result: the settle is tried again while the lease
         * holds (the same sequence numbers: applied once, and the same job claimed) */
        for (int tries = 0;; tries++) {
            rc = prefetch
                     ? h->store->ops->settle_claim(h->store, &c->lease, &st, h->writer, seq, &cas,
                                                   next, claim_seq, &h->held, &err)
                     : h->store->ops->settle(h->store, &c->lease, &st, h->writer, seq, &cas, &err);
            if (rc != ZG_ESTORE || tries == 4 || zg_heartbeat_lost(&h->heartbeat)) break;
            zg_clock_sleep_ms(100 << tries);
        }
        if (rc != ZG_OK) h->err = err;
        out->outcome = st.action == ZG_SETTLE_FINISH    ? ZG_STEP_FINISHED
                       : st.action == ZG_SETTLE_BURY    ? ZG_STEP_BURIED
                                                        : ZG_STEP_REQUEUED;
        out->result_code = st.action == ZG_SETTLE_FINISH ? code : -1;
        out->delay = (double)st.delay_ms / 1000.0;
        if (rc == ZG_OK && h->cfg.progress) {
            const char *event = opt_string(L, top, "event_msg");
            h->cfg.progress(h->cfg.progress_ud, c->lease.uuid, opt_number(L, top, "completeness"),
                            event);
        }
        if (rc == ZG_OK && st.action == ZG_SETTLE_BURY)
            zg_host_log(h, ZG_LOG_ERROR, "job %s buried: %s", c->lease.uuid,
                        st.reason ? st.reason : "");
    } else if (rc == ZG_OK) {
        rc = zg_fail(&h->err, ZG_ESTALE, "the lease of job %s was lost: it was killed, or "
                     "another host took it over", c->lease.uuid);
    }
    lua_settop(L, base);
    zg_heartbeat_end(&h->heartbeat);
    luaL_unref(L, LUA_REGISTRYINDEX, h->run.instance_ref);
    h->run.instance_ref = LUA_NOREF;
    h->run.active = 0;
    h->interrupted = 0;
    info.begin = 0;
    if (h->cfg.on_run) h->cfg.on_run(h->cfg.on_run_ud, &info);
    if (rc == ZG_ESTALE)
        zg_host_log(h, ZG_LOG_WARNING, "job %s: lease lost, its late writes were refused: %s",
                    c->lease.uuid, h->err.msg);
    return rc;
}

int zg_step(zg_host *h, const char *const *queues, size_t n, int64_t timeout_ms,
            zg_step_result *out)
{
    if (!usable(h)) return h->err.code;
    memset(out, 0, sizeof *out);
    lua_State *L = h->L;
    int top = lua_gettop(L);
    claim_names names;
    if (collect_names(h, queues, n, &names) != ZG_OK) {
        lua_settop(L, top);
        return h->err.code;
    }
    zg_claim_req req = {names.queues, names.nqueues, names.types, names.ntypes};
    zg_claim c = {0};
    zg_error err = {0};
    int rc = ZG_OK;
    if (h->held.lease.token) { /* claimed with the last settle: run it if this step wants it */
        int wanted = 0;
        for (size_t i = 0; i < req.nqueues; i++)
            wanted = wanted || strcmp(req.queues[i], h->held.lease.queue) == 0;
        if (wanted) {
            c = h->held;
            memset(&h->held, 0, sizeof h->held);
        } else if ((rc = release_held(h, &err)) != ZG_OK) {
            lua_settop(L, top);
            h->err = err;
            return rc;
        }
    }
    if (!c.lease.token) {
        rc = req.ntypes && req.nqueues ? h->store->ops->claim(h->store, &req, timeout_ms, h->writer,
                                                              zg_host_next_seq(h), &c, &err)
                                       : zg_fail(&err, ZG_ETIMEDOUT, "no job types are loaded");
        h->seq += ZG_CLAIM_SEQS; /* a claim may use that many sequence numbers */
    }
    if (rc != ZG_OK) {
        lua_settop(L, top);
        h->err = err;
        return rc;
    }
    /* the names stay on the stack through the run: the settle may claim the next job with them */
    rc = run_claim(h, &c, req.ntypes ? &req : NULL, out);
    lua_settop(L, top);
    zg_claim_clear(&c);
    return rc;
}

/* Calls zerog.api[fn] with the nargs values on the stack and hands its string result to the
 * caller as a malloc'd copy. */
static int string_result(zg_host *h, const char *fn, int nargs, char **json)
{
    int rc = zg_runtime_call(h, fn, nargs, 1);
    if (rc != ZG_OK) return rc;
    *json = strdup(lua_tostring(h->L, -1));
    lua_pop(h->L, 1);
    return *json ? ZG_OK : zg_fail(&h->err, ZG_ENOMEM, "out of memory");
}

static const char *const view_names[] = {"progress", "info", "data", "dump", "status", "fields"};

int zg_read(zg_host *h, zg_view view, const char *uuid, char **json)
{
    *json = NULL;
    if (!usable(h)) return h->err.code;
    if ((unsigned)view > ZG_VIEW_FIELDS) return zg_fail(&h->err, ZG_EINVAL, "unknown view");
    lua_pushstring(h->L, view_names[view]);
    lua_pushstring(h->L, uuid);
    return string_result(h, "read", 2, json);
}

int zg_queues(zg_host *h, char **json)
{
    *json = NULL;
    if (!usable(h)) return h->err.code;
    return string_result(h, "queues_json", 0, json);
}

int zg_queue_counts_get(zg_host *h, const char *queue, zg_queue_counts *out)
{
    memset(out, 0, sizeof *out);
    if (!usable(h)) return h->err.code;
    zg_store_counts c;
    int rc = h->store->ops->counts(h->store, queue, &c, &h->err);
    if (rc != ZG_OK) return rc;
    out->ready = c.waiting;
    out->delayed = c.delayed;
    out->reserved = c.running;
    out->buried = c.buried;
    out->unclaimed = c.unclaimed;
    return ZG_OK;
}

int zg_job_stats(zg_host *h, const char *uuid, zg_message_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!usable(h)) return h->err.code;
    zg_job_state st;
    int rc = h->store->ops->job_state(h->store, uuid, &st, &h->err);
    if (rc != ZG_OK) return rc;
    out->state = st.state; /* ZG_STATE_* and ZG_MSG_* are the same numbers */
    out->priority = st.priority;
    out->reserves = st.reserves;
    out->timeouts = st.timeouts;
    out->releases = st.releases;
    out->time_left_ms = st.time_left_ms;
    out->id = st.id;
    out->lease = st.lease;
    return ZG_OK;
}

int zg_release(zg_host *h, const char *uuid, int64_t lease, int64_t delay_ms, int why)
{
    if (!usable(h)) return h->err.code;
    lua_pushstring(h->L, uuid);
    lua_pushinteger(h->L, lease);
    lua_pushnumber(h->L, (double)(delay_ms > 0 ? delay_ms : 0) / 1000.0);
    lua_pushboolean(h->L, why == ZG_RELEASE_STOPPING);
    int rc = zg_runtime_call(h, "release", 4, 1);
    if (rc == ZG_OK) lua_pop(h->L, 1);
    return rc;
}

int zg_ping(zg_host *h)
{
    if (!usable(h)) return h->err.code;
    return h->store->ops->ping(h->store, &h->err);
}

int zg_follow_events(zg_host *h, void (*fn)(void *ud, const char *json), void *ud)
{
    if (!usable(h)) return h->err.code;
    int rc = h->store->ops->follow(h->store, ZG_EVENTS_CHANNEL, fn, ud, &h->stopping, &h->err);
    h->stopping = 0;
    return rc;
}

int zg_scripts(zg_host *h, char **json)
{
    *json = NULL;
    if (!usable(h)) return h->err.code;
    return string_result(h, "scripts_json", 0, json);
}

int zg_kick(zg_host *h, const char *queue, int64_t max, int64_t *count)
{
    if (!usable(h)) return h->err.code;
    int64_t moved = 0;
    int rc = h->store->ops->kick(h->store, queue, max, &moved, &h->err);
    if (count) *count = moved;
    return rc;
}

int zg_buried(zg_host *h, const char *queue, char **json)
{
    *json = NULL;
    if (!usable(h)) return h->err.code;
    return h->store->ops->buried(h->store, queue, json, &h->err);
}
