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

/* An outage a store call's retries hid (Redis gone for a second or more, then back): said, since
 * the runs and submits of that moment took that much longer. */
static void store_recovered(void *ud, int64_t down_ms, const char *why)
{
    zg_host *h = ud;
    zg_host_log(h, ZG_LOG_WARNING,
                "the store was unreachable for %.1f s (%s); the calls waited for it and went on",
                (double)down_ms / 1000.0, why);
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
    if (h->store) zg_store_redis_on_recovered(h->store, store_recovered, h);
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

/* The watchdog found the run overrun (on the heartbeat thread; rc: how the store took the
 * release). */
static void host_overrun(void *ud, const zg_lease *lease, int rc, const char *msg)
{
    zg_host *h = ud;
    zg_host_log(h, ZG_LOG_ERROR,
                "job %s overran (the VM did not answer past its TIMEOUT, or TTR, plus %d ms): "
                "%s; its lease is no longer renewed%s",
                lease->uuid, ZG_OVERRUN_MARGIN_MS,
                rc == ZG_OK ? "released to run again, recorded as timed out" : msg,
                h->cfg.on_overrun ? "" : ", and this host's VM is stuck in it");
    if (h->cfg.on_overrun) h->cfg.on_overrun(h->cfg.on_overrun_ud, lease->uuid);
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
    h->claims = (uint64_t)zg_clock_monotonic_ms(); /* (hosts start their tie-breaks apart) */
    make_writer_id(h);
    if (open_store(h) == ZG_OK && zg_runtime_open(h) == ZG_OK &&
        zg_heartbeat_init(&h->heartbeat, h->store, host_overrun, h) != ZG_OK)
        zg_fail(&h->err, ZG_ENOMEM, "cannot start the heartbeat thread");
    if (h->err.code == ZG_OK && h->jobs_dir && zg_load_dir(h, h->jobs_dir, NULL, NULL) != ZG_OK)
        zg_runtime_close(h); /* keeps the error; the host refuses every call */
    return h;
}

/* Tells the embedder (cfg.on_hold) that the job claimed with the last settle is now held
 * (holding = 1) or no longer held, having gone back or been dropped (0). */
static void tell_hold(zg_host *h, int holding)
{
    if (!h->cfg.on_hold || !h->held.lease.token) return;
    zg_run_info info = {holding, h->held.lease.uuid, h->held.lease.queue, h->held.id,
                        h->held.lease.token};
    h->cfg.on_hold(h->cfg.on_hold_ud, &info);
}

/* Puts back the job claimed with the last settle (cfg.prefetch), if any. */
static int release_held(zg_host *h, zg_error *err)
{
    if (!h->held.lease.token) return ZG_OK;
    /* a store blip must not leave the job running on the store until its lease lapses (which
     * would count an error it did not earn): the unclaim is tried again, as a settle is */
    int rc;
    for (int tries = 0;; tries++) {
        rc = h->store->ops->unclaim(h->store, &h->held.lease, err);
        if (rc != ZG_ESTORE || tries == 3) break;
        zg_clock_sleep_ms(50 << tries);
    }
    if (rc == ZG_ESTALE) rc = ZG_OK; /* no longer ours anyway: it lapsed, or was killed */
    if (rc != ZG_OK)
        zg_host_log(h, ZG_LOG_WARNING,
                    "job %s could not be put back (%s): it runs again once its "
                    "lease lapses",
                    h->held.lease.uuid, err->msg);
    tell_hold(h, 0);
    zg_claim_clear(&h->held);
    return rc;
}

/* Everything this host holds and runs not: the held job, and what a claim whose reply was lost
 * took (not looked for when the store just failed: that wait is not made twice; nor, ending,
 * while the store failed it lately). */
static int give_back(zg_host *h, int ending, zg_error *err)
{
    int rc = release_held(h, err);
    if (rc == ZG_ESTORE) return rc;
    zg_error look = {0}; /* (the first failure is said: its code and its words) */
    int lost = zg_host_put_back_lost_claim(h, ending, &look);
    if (rc != ZG_OK) return rc;
    if (lost != ZG_OK) *err = look;
    return lost;
}

/* The held job, made ready to run: one held for over a third of its TTR (the embedder's next
 * zg_step came late) has its lease renewed first, so a lease that lapsed meanwhile (and may be
 * another host's now, or killed) is never run. ZG_OK when *out holds it; else it is dropped. */
static int take_held(zg_host *h, zg_claim *out, zg_error *err)
{
    int64_t age = zg_clock_monotonic_ms() - h->held_at_ms;
    int rc = ZG_OK;
    if (age > h->held.lease.ttr_ms / 3) rc = h->store->ops->touch(h->store, &h->held.lease, err);
    if (rc == ZG_OK) {
        *out = h->held;
        memset(&h->held, 0, sizeof h->held);
        return ZG_OK;
    }
    if (rc != ZG_ESTALE) release_held(h, err);
    tell_hold(h, 0); /* (lapsed or killed meanwhile: dropped) */
    zg_claim_clear(&h->held);
    return rc;
}

void zg_host_free(zg_host *h)
{
    if (!h) return;
    if (h->store) {
        zg_error err = {0};
        if (give_back(h, 1, &err) != ZG_OK)
            zg_host_log(h, ZG_LOG_WARNING,
                        "a claimed job was not put back (its lease will lapse): %s", err.msg);
    }
    zg_claim_clear(&h->held);
    zg_run_writes_clear(&h->run.writes);
    zg_lost_claim_clear(&h->lost_claim);
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

int zg_host_usable(zg_host *h)
{
    return usable(h);
}

/* Whether h may start running jobs: not from inside one of its runs (a C function a job called),
 * which would replace the run's lease and heartbeat under it. */
static int not_running(zg_host *h)
{
    if (!h->run.active) return 1;
    zg_fail(&h->err, ZG_EINVAL, "a host cannot run or reload jobs from inside one of its runs");
    return 0;
}

static void copy_name(char *out, const char *name)
{
    if (out) snprintf(out, ZG_NAME_LEN, "%s", name ? name : "");
}

/* Pushes a nullable string. */
static void push_opt_string(lua_State *L, const char *s)
{
    if (s)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

/* The arguments of most entries: up to four strings (NULL: nil). */
typedef struct strings_args {
    int n;
    const char *s[4];
    char *name_out; /* collect_name: where the string result goes (ZG_NAME_LEN), or NULL */
} strings_args;

static int push_strings(lua_State *L, void *ud)
{
    strings_args *a = ud;
    for (int i = 0; i < a->n; i++)
        push_opt_string(L, a->s[i]);
    return a->n;
}

static int collect_name(lua_State *L, zg_host *h, void *ud)
{
    (void)h;
    strings_args *a = ud;
    copy_name(a->name_out, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL);
    return ZG_OK;
}

static int load_script(zg_host *h, const char *fn, const char *path, const char *source,
                       char type_out[ZG_NAME_LEN])
{
    if (!usable(h)) return h->err.code;
    strings_args a = {2, {path, source}, type_out};
    return zg_runtime_invoke(h, fn, push_strings, collect_name, &a, 1);
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
    /* 0 is "none"; anything else (negative, NaN, beyond the maximum) reaches the one check in
     * job.lua, which refuses it with ZG_EINVAL */
    if (opts && opts->delay != 0)
        lua_pushnumber(L, opts->delay);
    else
        lua_pushnil(L);
    if (opts && opts->ttr != 0)
        lua_pushnumber(L, opts->ttr);
    else
        lua_pushnil(L);
    if (opts && opts->has_priority)
        lua_pushinteger(L, opts->priority);
    else
        lua_pushnil(L);
}

typedef struct submit_args {
    const char *job_type, *params;
    const char *const *batch; /* submit_batch: n params */
    size_t n;
    const zg_submit_opts *opts;
    char *uuid_out;
    char (*uuids_out)[ZG_UUID_LEN];
} submit_args;

static int push_submit(lua_State *L, void *ud)
{
    submit_args *a = ud;
    push_opt_string(L, a->job_type);
    lua_pushstring(L, a->params ? a->params : "");
    push_submit_opts(L, a->opts);
    return 5;
}

/* uuid, and "exists" when that is the job holding the same unique key (nothing created) */
static int collect_uuid(lua_State *L, zg_host *h, void *ud)
{
    submit_args *a = ud;
    if (lua_type(L, -2) != LUA_TSTRING) return zg_fail(&h->err, ZG_EJOB, "submit returned no uuid");
    snprintf(a->uuid_out, ZG_UUID_LEN, "%s", lua_tostring(L, -2));
    if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "exists") == 0)
        return zg_fail(&h->err, ZG_EEXIST, "job %s holds the same unique key: no job was created",
                       a->uuid_out);
    return ZG_OK;
}

int zg_submit(zg_host *h, const char *job_type, const char *params_json, const zg_submit_opts *opts,
              char uuid_out[ZG_UUID_LEN])
{
    if (!usable(h)) return h->err.code;
    submit_args a = {job_type, params_json, NULL, 0, opts, uuid_out, NULL};
    return zg_runtime_invoke(h, "submit", push_submit, collect_uuid, &a, 2);
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

typedef struct reload_args {
    zg_host *h;
    char ***lists; /* per directory, its scripts (owned here, freed by zg_reload) */
    long *counts;
    int failed;
} reload_args;

static int push_reload(lua_State *L, void *ud)
{
    reload_args *a = ud;
    lua_newtable(L); /* the scripts now in the loaded directories: new ones get loaded */
    lua_Integer k = 0;
    for (size_t d = 0; d < a->h->ndirs; d++)
        for (long i = 0; i < a->counts[d]; i++) {
            lua_pushstring(L, a->lists[d][i]);
            lua_rawseti(L, -2, ++k);
        }
    return 1;
}

static int collect_reload(lua_State *L, zg_host *h, void *ud)
{
    reload_args *a = ud;
    if (!lua_istable(L, -1)) return ZG_OK;
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
        zg_host_log(h, ZG_LOG_ERROR, "reload kept the previous version: %s", msg);
        lua_pop(L, 1);
    }
    a->failed = (int)n;
    return ZG_OK;
}

int zg_holding(const zg_host *h)
{
    return h->held.lease.token != 0;
}

int zg_release_held(zg_host *h)
{
    if (!usable(h)) return h->err.code;
    return give_back(h, 0, &h->err);
}

int zg_reload(zg_host *h, int *failed)
{
    if (failed) *failed = 0;
    if (!usable(h)) return h->err.code;
    if (!not_running(h)) return h->err.code;
    if (release_held(h, &h->err) != ZG_OK) return h->err.code; /* its type may go away */
    size_t nd = h->ndirs;
    reload_args a = {h, calloc(nd ? nd : 1, sizeof(char **)), calloc(nd ? nd : 1, sizeof(long)), 0};
    int rc;
    if (!a.lists || !a.counts) {
        rc = zg_fail(&h->err, ZG_ENOMEM, "out of memory");
    } else {
        for (size_t d = 0; d < nd; d++) {
            a.counts[d] = list_scripts(h->dirs[d], &a.lists[d]);
            if (a.counts[d] < 0) a.counts[d] = 0;
        }
        rc = zg_runtime_invoke(h, "reload", push_reload, collect_reload, &a, 1);
    }
    for (size_t d = 0; a.lists && a.counts && d < nd; d++)
        free_list(a.lists[d], a.counts[d]);
    free(a.lists);
    free(a.counts);
    if (rc == ZG_OK && failed) *failed = a.failed;
    return rc;
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
    if (!not_running(h)) return h->err.code;
    /* sharded queues: a type's SHARDS that the store's record contradicts stops a worker at
     * its start, with the reason (README "Sharded queues") */
    if (zg_runtime_invoke(h, "check_shards", NULL, NULL, NULL, 1) == ZG_EINVAL) return h->err.code;
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
    if (give_back(h, 0, &err) != ZG_OK)
        zg_host_log(h, ZG_LOG_WARNING, "a claimed job was not put back (its lease will lapse): %s",
                    err.msg);
    h->stopping = 0;
    h->interrupted = 0;
    clear_error(h);
    return ZG_OK;
}

typedef struct module_args {
    zg_host *h;
    const char *module;
    const zg_function *fns;
    size_t count;
} module_args;

static int push_module(lua_State *L, void *ud)
{
    module_args *a = ud;
    lua_pushstring(L, a->module);
    lua_createtable(L, 0, (int)a->count);
    for (size_t i = 0; i < a->count; i++) {
        lua_pushinteger(L, (lua_Integer)(a->h->nfns + i + 1)); /* the function's index, 1-based */
        lua_setfield(L, -2, a->fns[i].name);
    }
    return 2;
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
    for (size_t i = 0; i < count; i++) {
        h->fns[h->nfns + i].fn = fns[i].fn;
        h->fns[h->nfns + i].ctx = ctx;
    }
    module_args a = {h, module, fns, count};
    int rc = zg_runtime_invoke(h, "c_module", push_module, NULL, &a, 0);
    if (rc == ZG_OK) h->nfns += count;
    return rc;
}

static int push_batch(lua_State *L, void *ud)
{
    submit_args *a = ud;
    lua_pushstring(L, a->job_type);
    lua_createtable(L, a->n > INT_MAX ? INT_MAX : (int)a->n, 0);
    for (size_t i = 0; i < a->n; i++) {
        lua_pushstring(L, a->batch[i] ? a->batch[i] : ""); /* NULL: no params, like "" */
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    push_submit_opts(L, a->opts);
    return 5;
}

/* The uuids of a batch (uuids, then nil or, when the store made only part of it, a kind and
 * the message saying which: the uuids of the jobs not made are empty) */
static int collect_uuids(lua_State *L, zg_host *h, void *ud)
{
    submit_args *a = ud;
    if (!lua_istable(L, -3)) return zg_fail(&h->err, ZG_EJOB, "submit returned no uuids");
    for (size_t i = 0; i < a->n; i++) {
        lua_rawgeti(L, -3, (lua_Integer)i + 1);
        const char *uuid = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        snprintf(a->uuids_out[i], ZG_UUID_LEN, "%s", uuid);
        lua_pop(L, 1);
    }
    if (lua_type(L, -1) == LUA_TSTRING)
        return zg_fail(&h->err, ZG_ESTORE, "%s", lua_tostring(L, -1));
    return ZG_OK;
}

int zg_submit_batch(zg_host *h, const char *job_type, const char *const *params_json, size_t n,
                    const zg_submit_opts *opts, char (*uuids_out)[ZG_UUID_LEN])
{
    if (!usable(h)) return h->err.code;
    submit_args a = {job_type, NULL, params_json, n, opts, NULL, uuids_out};
    return zg_runtime_invoke(h, "submit_batch", push_batch, collect_uuids, &a, 3);
}

/* ---- flows: a batch with a callback ---- */
typedef struct batch_then_args {
    submit_args base;
    const char *then_type, *then_params;
    char *then_out;
} batch_then_args;

static int push_batch_then(lua_State *L, void *ud)
{
    batch_then_args *a = ud;
    push_batch(L, &a->base);
    lua_pushstring(L, a->then_type);
    push_opt_string(L, a->then_params);
    return 7;
}

static int collect_batch_then(lua_State *L, zg_host *h, void *ud)
{
    batch_then_args *a = ud;
    int rc = collect_uuids(L, h, &a->base);
    if (rc != ZG_OK) return rc;
    lua_rawgeti(L, -3, (lua_Integer)a->base.n + 1);
    const char *uuid = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    snprintf(a->then_out, ZG_UUID_LEN, "%s", uuid);
    lua_pop(L, 1);
    return ZG_OK;
}

int zg_submit_batch_then(zg_host *h, const char *job_type, const char *const *params_json, size_t n,
                         const zg_submit_opts *opts, const char *then_type, const char *then_params,
                         char (*uuids_out)[ZG_UUID_LEN], char then_uuid_out[ZG_UUID_LEN])
{
    if (!usable(h)) return h->err.code;
    if (!then_type) return zg_submit_batch(h, job_type, params_json, n, opts, uuids_out);
    batch_then_args a = {{job_type, NULL, params_json, n, opts, NULL, uuids_out},
                         then_type,
                         then_params,
                         then_uuid_out};
    return zg_runtime_invoke(h, "submit_batch", push_batch_then, collect_batch_then, &a, 3);
}
/* ---- end of flows ---- */

int zg_kill(zg_host *h, const char *uuid)
{
    if (!usable(h)) return h->err.code;
    strings_args a = {1, {uuid}, NULL};
    return zg_runtime_invoke(h, "kill", push_strings, NULL, &a, 1);
}

/* A claim: the names of the loaded types and their queues (or only the named queues) are
 * read inside the protected call of "claimable", and the store's claim is made there, while
 * the tables that own the strings are alive. */
typedef struct claim_args {
    const char *const *queues;
    size_t n;
    int64_t timeout_ms;
    zg_claim *claim;
    int claim_rc;
    zg_error err;
    zg_claim_req req; /* the names claimed with, in names: they outlive the protected call */
    void *names;      /* one malloc'd block: the pointer arrays, then the strings */
} claim_args;

/* Copies types[0..nt), their limits (NULL: none has any) and queues[0..nq) into one block the
 * host owns (a->names, a->req). */
static int keep_names(claim_args *a, const char **types, const zg_type_limits *limits, size_t nt,
                      const char **queues, size_t nq)
{
    size_t head = limits ? nt * sizeof(zg_type_limits) : 0; /* [limits] first: aligned */
    size_t bytes = head + (nt + nq) * sizeof(char *);
    for (size_t i = 0; i < nt; i++)
        bytes += strlen(types[i]) + 1;
    for (size_t i = 0; i < nq; i++)
        bytes += strlen(queues[i]) + 1;
    char *block = malloc(bytes ? bytes : 1);
    if (!block) return ZG_ENOMEM;
    if (head) memcpy(block, limits, head);
    char **ptrs = (char **)(void *)(block + head);
    char *text = (char *)(ptrs + nt + nq);
    for (size_t i = 0; i < nt + nq; i++) {
        const char *name = i < nt ? types[i] : queues[i - nt];
        size_t len = strlen(name) + 1;
        memcpy(text, name, len);
        ptrs[i] = text;
        text += len;
    }
    a->names = block;
    a->req = (zg_claim_req){(const char *const *)(ptrs + nt),
                            nq,
                            (const char *const *)ptrs,
                            nt,
                            head ? (const zg_type_limits *)(void *)block : NULL,
                            0};
    return ZG_OK;
}

/* claimable's arguments: the queues named (none: the loaded types'). */
static int push_claim_queues(lua_State *L, void *ud)
{
    const claim_args *a = ud;
    luaL_checkstack(L, (int)a->n + 1, "too many queues");
    for (size_t i = 0; i < a->n; i++)
        lua_pushstring(L, a->queues[i]);
    return (int)a->n;
}

/* A claim: the job held from the last settle when this step's queues want it (cfg.prefetch),
 * else one from the store. Runs in the protected call of "claimable" (its results on the stack:
 * types, queues); the store's outcome goes to a->claim_rc. */
static int collect_claim(lua_State *L, zg_host *h, void *ud)
{
    claim_args *a = ud;
    /* stack: types, queues, limits ([limits]: per type, its spec text or false) */
    size_t ntypes = lua_istable(L, -3) ? (size_t)lua_rawlen(L, -3) : 0;
    size_t nq = lua_istable(L, -2) ? (size_t)lua_rawlen(L, -2) : 0;
    int has_limits = lua_istable(L, -1);
    const char **types = lua_newuserdatauv(L, (ntypes + 1) * sizeof(char *), 0);
    zg_type_limits *limits = lua_newuserdatauv(L, (ntypes + 1) * sizeof *limits, 0);
    size_t nt = 0, nqueues = 0, nlimited = 0;
    for (size_t i = 0; i < ntypes; i++) { /* stack: types, queues, limits, ud, ud */
        if (lua_rawgeti(L, -5, (lua_Integer)i + 1) == LUA_TSTRING) {
            types[nt] = lua_tostring(L, -1); /* kept alive by the table */
            if (!has_limits || lua_rawgeti(L, -4, (lua_Integer)i + 1) != LUA_TSTRING ||
                zg_type_limits_parse(lua_tostring(L, -1), &limits[nt]) != 0)
                memset(&limits[nt], 0, sizeof limits[nt]);
            if (has_limits) lua_pop(L, 1);
            nlimited += zg_type_limits_any(&limits[nt]) ? 1 : 0;
            nt++;
        }
        lua_pop(L, 1);
    }
    /* the store queues claimable() answered: the named ones (else the loaded types'), each
     * sharded one as its shards */
    const char **queues = lua_newuserdatauv(L, (nq + 1) * sizeof *queues, 0);
    /* stack: types, queues, limits, ud, ud, ud */
    for (size_t i = 0; i < nq; i++) {
        if (lua_rawgeti(L, -5, (lua_Integer)i + 1) == LUA_TSTRING)
            queues[nqueues++] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    if (keep_names(a, types, nlimited ? limits : NULL, nt, queues, nqueues) != ZG_OK) {
        a->claim_rc = zg_fail(&a->err, ZG_ENOMEM, "out of memory claiming a job");
        return ZG_OK;
    }
    const zg_claim_req *req = &a->req;
    zg_heartbeat_entered(&h->heartbeat, 0); /* waiting for the store */
    a->claim_rc = ZG_OK;
    if (h->held.lease.token) { /* claimed with the last settle: run it if this step wants it */
        int wanted = 0;
        for (size_t i = 0; i < req->nqueues; i++)
            wanted = wanted || strcmp(req->queues[i], h->held.lease.queue) == 0;
        zg_error held_err = {0};
        /* a held job that cannot run (its lease lapsed) or cannot go back is not this step's
         * failure: it claims afresh (what could not go back is logged, and lapses) */
        if (!wanted || take_held(h, a->claim, &held_err) != ZG_OK) release_held(h, &held_err);
    }
    if (a->claim_rc == ZG_OK && !a->claim->lease.token) {
        h->looked_at_all_ms = zg_clock_monotonic_ms();
        a->req.tie_start = h->claims++; /* ties between queues go to each in turn */
        int64_t seq = zg_host_next_seq(h);
        a->claim_rc = req->ntypes && req->nqueues
                          ? h->store->ops->claim(h->store, req, a->timeout_ms, h->writer, seq,
                                                 a->claim, &a->err)
                          : zg_fail(&a->err, ZG_ETIMEDOUT, "no job types are loaded");
        h->seq += ZG_CLAIM_SEQS; /* a claim may use that many sequence numbers */
        if (a->claim_rc == ZG_ESTORE) zg_host_claim_unanswered(h, req, seq);
    }
    zg_heartbeat_entered(&h->heartbeat, 1);
    return ZG_OK;
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
    st->action = !action                         ? ZG_SETTLE_RELEASE
                 : strcmp(action, "finish") == 0 ? ZG_SETTLE_FINISH
                 : strcmp(action, "bury") == 0   ? ZG_SETTLE_BURY
                 : strcmp(action, "park") == 0   ? ZG_SETTLE_PARK /* flows */
                                                 : ZG_SETTLE_RELEASE;
    st->event = opt_string(L, d, "event");
    st->error = opt_string(L, d, "error");
    st->reason = opt_string(L, d, "reason");
    st->delay_ms = seconds_ms(opt_number(L, d, "delay"));
    double retention = opt_number(L, d, "retention");
    st->retention_s =
        retention > 0 ? (int64_t)(retention > 3.15e10 ? 3.15e10 : retention + 0.999) : 0;
    lua_getfield(L, d, "code");
    lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
    *code = v > INT_MAX || v < INT_MIN ? (v > 0 ? INT_MAX : INT_MIN) : (int)v;
    st->failed = st->action == ZG_SETTLE_FINISH && !(*code >= 200 && *code < 300);
    lua_pop(L, 1);
    lua_getfield(L, d, "fields");
    st->fields = fields_at(L, -1);
    lua_remove(L, -2); /* the fields table stays alive through the decision table */
}

/* ---- flows ----
 * A child's finish leaves a notice for its parent in the child's queue (Redis); the host hands
 * it over right after the settle, and every host re-sends, at most every FLOWS_REDELIVER_MS,
 * the notices of its queues older than FLOWS_STRANDED_MS: those of a host that died between the
 * two steps. */
#define FLOWS_REDELIVER_MS 2000
#define FLOWS_STRANDED_MS  3000

static void flows_deliver(zg_host *h, const char *queue, int64_t older_than_ms)
{
    zg_error err = {0};
    int64_t n = 0;
    zg_heartbeat_entered(&h->heartbeat, 0); /* waiting for the store, not running job code */
    int rc = h->store->ops->deliver(h->store, queue, older_than_ms, &n, &err);
    zg_heartbeat_entered(&h->heartbeat, 1);
    if (rc != ZG_OK)
        zg_host_log(h, ZG_LOG_WARNING, "handing children's ends of queue %s to their parents: %s",
                    queue, err.msg);
}

static void flows_redeliver(zg_host *h, const zg_claim_req *req)
{
    int64_t now = zg_clock_monotonic_ms();
    if (now - h->flows_redelivered_ms < FLOWS_REDELIVER_MS) return;
    h->flows_redelivered_ms = now;
    for (size_t i = 0; i < req->nqueues; i++)
        flows_deliver(h, req->queues[i], FLOWS_STRANDED_MS);
}
/* ---- end of flows ---- */

/* Runs a claimed job and settles it: everything on the Lua stack happens in the protected call
 * of "process" (the claim pushed, the engine's decision read and carried out on the store).
 * With next (cfg.prefetch, not stopping), the settle claims the next job of the same queue too,
 * into h->held. */
typedef struct process_args {
    zg_claim *claim;
    const zg_claim_req *next; /* cfg.prefetch: the settle claims the next job with these names */
    zg_step_result *out;
    int settled; /* the decision was carried out (or refused by the store) */
} process_args;

static int push_process(lua_State *L, void *ud)
{
    process_args *a = ud;
    zg_host *h = *(zg_host **)lua_getextraspace(L);
    push_claim(L, a->claim);
    /* the run's job instance: its identity is the run's (sized for a document's ~25 fields,
     * which would otherwise grow it five times) */
    lua_createtable(L, 0, 32);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &h->run);
    h->run.has_instance = 1;
    return 2;
}

int zg_host_resend_after_giving_back(zg_host *h, int *rc, int *attempt, zg_error *err)
{
    if (*rc != ZG_ELOSTWRITES) return 0;
    zg_error lost = *err;
    if (h->run.writes.spawned) { /* its children's submits are not in the chain: run it again */
        *rc = zg_fail(err, ZG_ESTALE,
                      "%s; given up, as the run spawned children whose submits the store may "
                      "have lost with it (the job runs again once its lease lapses, and spawns "
                      "the same children)",
                      lost.msg);
        return 0;
    }
    if ((*attempt)++ >= 3) {
        *rc = zg_fail(err, ZG_ESTALE, "%s, after its writes were written again 3 times; given up",
                      lost.msg);
        return 0;
    }
    zg_host_log(h, ZG_LOG_WARNING, "job %s: %s: writing the run's writes again", h->run.lease.uuid,
                lost.msg);
    *rc = zg_run_writes_replay(&h->run.writes, h->store, &h->run.lease, h->writer, err);
    if (*rc == ZG_ELOSTWRITES) {
        lost = *err;
        *rc = zg_fail(err, ZG_ESTALE, "%s; given up", lost.msg);
    }
    return *rc == ZG_OK;
}

static int collect_process(lua_State *L, zg_host *h, void *ud)
{
    process_args *a = ud;
    zg_claim *c = a->claim;
    zg_step_result *out = a->out;
    if (zg_heartbeat_lost(&h->heartbeat) || !lua_istable(L, -1))
        return zg_fail(&h->err, ZG_ESTALE,
                       "the lease of job %s was lost: it was killed, or "
                       "another host took it over",
                       c->lease.uuid);
    int top = lua_gettop(L);
    zg_settle st;
    int code;
    settle_from_decision(L, &st, &code);
    lua_getfield(L, top, "deliver"); /* flows: a child's end goes to its parent */
    st.has_parent = lua_toboolean(L, -1);
    lua_pop(L, 1);
    zg_error err = {0};
    int64_t cas = 0, seq = zg_host_next_seq(h);
    /* claiming from several queues (a sharded queue's shards), the settle claims the next job
     * of its own queue only within PREFETCH_SAME_QUEUE_MS of a claim that looked at all of
     * them: a busy queue (shard) cannot keep a worker from the others' equally urgent jobs */
    int prefetch = a->next && h->cfg.prefetch && !h->stopping && !h->interrupted &&
                   (a->next->nqueues <= 1 ||
                    zg_clock_monotonic_ms() - h->looked_at_all_ms < PREFETCH_SAME_QUEUE_MS);
    int64_t claim_seq = 0;
    if (prefetch) {
        claim_seq = zg_host_next_seq(h);
        h->seq += ZG_CLAIM_SEQS;
    }
    int rc;
    zg_heartbeat_entered(&h->heartbeat, 0); /* waiting for the store */
    /* a store blip must not cost the result: the settle is tried again while the lease holds
     * (the same sequence numbers: applied once, and the same job claimed). A store that does
     * not answer gets 5 tries (each waits out the store timeout); one that answers with a
     * refusal that passes (Redis past maxmemory, READONLY in a failover: at once) gets tries for
     * as long as the lease holds: while the heartbeat's renewals come through (a renewal runs
     * even past maxmemory), and for one TTR after the last that did. Given up after 1.5 s of
     * tries, and later after one TTR of them, such a settle left the job to lapse in a longer
     * refusal, counting a "lease expired" error for a run that was healthy. Another refusal
     * (ERR, NOPERM: the same each time) gets one TTR of tries. A stop (zg_interrupt) ends the
     * tries: the job then waits out its TTR.
     * The last renewal is the host's own view: after a stall of the store longer than the TTR
     * the heartbeat's renewal may not have come back yet when the settle's refusal does (both
     * waited on the stalled server), while the server, which gives a stall's time back to the
     * leases renewed before it, still holds the lease. So before giving up for want of a recent
     * renewal the settle asks the store itself (a renewal, on this thread): given up only when
     * the store says the lease is gone, or cannot be reached (chaos soak, seed 709). */
    /* A store that answers ZG_ELOSTWRITES lacks writes of this run it had acknowledged (a Redis
     * replica promoted before it had them): they are written again and the settle sent again
     * (zg_host_resend_after_giving_back), not counted as a try. */
    c->lease.write_chain = h->run.writes.last_seq;
    int64_t settle_from = zg_clock_monotonic_ms();
    for (int tries = 0;; tries++) {
        int attempt = 0;
        do {
            rc = prefetch
                     ? h->store->ops->settle_claim(h->store, &c->lease, &st, h->writer, seq, &cas,
                                                   a->next, claim_seq, &h->held, &err)
                     : h->store->ops->settle(h->store, &c->lease, &st, h->writer, seq, &cas, &err);
        } while (zg_host_resend_after_giving_back(h, &rc, &attempt, &err));
        if (rc != ZG_ESTORE || zg_heartbeat_lost(&h->heartbeat) || h->interrupted) break;
        int passes = zg_store_refusal_passes(err.msg);
        int64_t held = passes ? zg_heartbeat_held_at(&h->heartbeat) : settle_from;
        int64_t pause = tries < 4 ? 100 << tries : 1000,
                left = held + c->lease.ttr_ms - zg_clock_monotonic_ms();
        if (tries >= 4 && passes && left <= 0 && zg_heartbeat_renew(&h->heartbeat) == ZG_OK)
            left = zg_heartbeat_held_at(&h->heartbeat) + c->lease.ttr_ms - zg_clock_monotonic_ms();
        if (tries >= 4 && (left <= 0 || !zg_store_refused(err.msg))) {
            zg_host_log(h, ZG_LOG_ERROR,
                        "job %s: the store refused its end for %lld ms (%s); given up: the job "
                        "runs again once its lease lapses",
                        c->lease.uuid, (long long)(zg_clock_monotonic_ms() - settle_from), err.msg);
            break;
        }
        zg_clock_sleep_ms(left > 0 && pause > left ? left : pause);
    }
    if (prefetch && rc == ZG_ESTORE) zg_host_claim_unanswered(h, a->next, claim_seq);
    if (h->held.lease.token) {
        h->held_at_ms = zg_clock_monotonic_ms();
        tell_hold(h, 1);
    }
    zg_heartbeat_entered(&h->heartbeat, 1);
    a->settled = 1;
    if (rc != ZG_OK) h->err = err;
    out->outcome = st.action == ZG_SETTLE_FINISH ? ZG_STEP_FINISHED
                   : st.action == ZG_SETTLE_BURY ? ZG_STEP_BURIED
                                                 : ZG_STEP_REQUEUED;
    out->result_code = st.action == ZG_SETTLE_FINISH ? code : -1;
    out->delay = (double)st.delay_ms / 1000.0;
    if (rc == ZG_OK && h->cfg.progress) {
        const char *event = opt_string(L, top, "event_msg");
        h->cfg.progress(h->cfg.progress_ud, c->lease.uuid, opt_number(L, top, "completeness"),
                        event);
    }
    if (rc == ZG_OK && st.action == ZG_SETTLE_FINISH && st.has_parent)
        flows_deliver(h, c->lease.queue, 0); /* (flows: a child's end, to its parent) */
    if (rc == ZG_OK && st.action == ZG_SETTLE_BURY)
        zg_host_log(h, ZG_LOG_ERROR, "job %s buried: %s", c->lease.uuid,
                    st.reason ? st.reason : "");
    return rc;
}

static int run_claim(zg_host *h, zg_claim *c, const zg_claim_req *next, zg_step_result *out)
{
    lua_State *L = h->L;
    zg_run_info info = {1, c->lease.uuid, c->lease.queue, c->id, c->lease.token};
    if (h->cfg.on_run) h->cfg.on_run(h->cfg.on_run_ud, &info);
    snprintf(out->uuid, sizeof out->uuid, "%s", c->lease.uuid);
    h->run.lease = c->lease;
    zg_run_writes_clear(&h->run.writes);
    h->run.active = 1;
    h->run.job_done = 0;
    zg_heartbeat_begin(&h->heartbeat, &c->lease);
    /* the run's count hook (installed for the VM's life) stops job code wherever it runs
     * (init, migrate, continue_running, run) on a lost lease or an interrupt, and enforces
     * TIMEOUT and MEMORY_LIMIT in run() (core.run_protected) */
    process_args a = {c, next, out, 0};
    int rc = zg_runtime_invoke(h, "process", push_process, collect_process, &a, 1);
    if (rc != ZG_OK && !a.settled && zg_heartbeat_lost(&h->heartbeat) && rc != ZG_ENOMEM)
        rc = zg_fail(&h->err, ZG_ESTALE,
                     "the lease of job %s was lost: it was killed, or "
                     "another host took it over",
                     c->lease.uuid);
    zg_heartbeat_end(&h->heartbeat);
    if (h->run.has_instance) {
        lua_pushnil(L); /* no allocation: a nil stored over an existing key */
        lua_rawsetp(L, LUA_REGISTRYINDEX, &h->run);
        h->run.has_instance = 0;
    }
    h->run.active = 0;
    zg_run_writes_clear(&h->run.writes);
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
    if (!not_running(h)) return h->err.code;
    memset(out, 0, sizeof *out);
    /* what a claim whose reply was lost took goes back before this host claims again (else it
     * waits out its TTR): the store answering again, its claim memos say */
    if (zg_host_put_back_lost_claim(h, 0, &h->err) != ZG_OK) return h->err.code;
    if (zg_schedules_due(h, zg_clock_monotonic_ms())) /* repeatable jobs: one clock read a step */
        zg_schedules_fire(h, queues, n);
    zg_claim c = {0};
    claim_args a = {queues, n, timeout_ms, &c, ZG_OK, {0}, {0}, NULL};
    int rc = zg_runtime_invoke(h, "claimable", push_claim_queues, collect_claim, &a, 3);
    /* (flows: notices a dead host left; not while the store fails: each call would wait) */
    if (a.names && a.claim_rc != ZG_ESTORE) flows_redeliver(h, &a.req);
    if (rc == ZG_OK && a.claim_rc != ZG_OK) {
        h->err = a.err;
        rc = a.claim_rc;
    }
    if (rc != ZG_OK) {
        zg_claim_clear(&c); /* a claim made before a failure is released by its lease lapsing */
        free(a.names);
        return rc;
    }
    /* the names (a copy the host owns) stay through the run: the settle may claim the next job
     * with them */
    rc = run_claim(h, &c, a.req.ntypes ? &a.req : NULL, out);
    zg_claim_clear(&c);
    free(a.names);
    return rc;
}

typedef struct string_out {
    strings_args args;
    char **json;
} string_out;

static int collect_string(lua_State *L, zg_host *h, void *ud)
{
    string_out *o = ud;
    if (lua_type(L, -1) != LUA_TSTRING) return zg_fail(&h->err, ZG_EJOB, "no text was returned");
    *o->json = strdup(lua_tostring(L, -1)); /* strdup cannot raise: nothing to leak */
    return *o->json ? ZG_OK : zg_fail(&h->err, ZG_ENOMEM, "out of memory");
}

static int push_string_out(lua_State *L, void *ud)
{
    return push_strings(L, &((string_out *)ud)->args);
}

/* Calls zerog.api[fn] with up to 2 strings and hands its string result to the caller as a
 * malloc'd copy. */
static int string_result(zg_host *h, const char *fn, int nargs, const char *a1, const char *a2,
                         char **json)
{
    string_out o = {{nargs, {a1, a2}, NULL}, json};
    return zg_runtime_invoke(h, fn, push_string_out, collect_string, &o, 1);
}

static const char *const view_names[] = {"progress", "info", "data", "dump", "status", "fields"};

int zg_read(zg_host *h, zg_view view, const char *uuid, char **json)
{
    *json = NULL;
    if (!usable(h)) return h->err.code;
    if ((unsigned)view > ZG_VIEW_FIELDS) return zg_fail(&h->err, ZG_EINVAL, "unknown view");
    return string_result(h, "read", 2, view_names[view], uuid, json);
}

int zg_queues(zg_host *h, char **json)
{
    *json = NULL;
    if (!usable(h)) return h->err.code;
    return string_result(h, "queues_json", 0, NULL, NULL, json);
}

int zg_queue_counts_get(zg_host *h, const char *queue, zg_queue_counts *out)
{
    memset(out, 0, sizeof *out);
    if (!usable(h)) return h->err.code;
    char **names = NULL;
    size_t n = 0;
    if (zg_host_queue_names(h, queue, &names, &n) != ZG_OK) return h->err.code;
    int rc = ZG_OK;
    for (size_t i = 0; i < n && rc == ZG_OK; i++) { /* (a sharded queue: the sum of its shards) */
        zg_store_counts c;
        rc = h->store->ops->counts(h->store, names[i], &c, &h->err);
        if (rc != ZG_OK) break;
        out->ready += c.waiting;
        out->delayed += c.delayed;
        out->reserved += c.running;
        out->buried += c.buried;
        out->unclaimed += c.unclaimed;
    }
    zg_host_queue_names_free(names, n);
    if (rc != ZG_OK) memset(out, 0, sizeof *out);
    return rc;
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

typedef struct release_args {
    const char *uuid;
    int64_t lease, delay_ms;
    int why;
} release_args;

static int push_release(lua_State *L, void *ud)
{
    release_args *a = ud;
    lua_pushstring(L, a->uuid);
    lua_pushinteger(L, a->lease);
    lua_pushnumber(L, (double)(a->delay_ms > 0 ? a->delay_ms : 0) / 1000.0);
    lua_pushboolean(L, a->why == ZG_RELEASE_STOPPING);
    return 4;
}

int zg_release(zg_host *h, const char *uuid, int64_t lease, int64_t delay_ms, int why)
{
    if (!usable(h)) return h->err.code;
    release_args a = {uuid, lease, delay_ms, why};
    return zg_runtime_invoke(h, "release", push_release, NULL, &a, 1);
}

const char *zg_writer(const zg_host *h)
{
    return h->writer;
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
    return string_result(h, "scripts_json", 0, NULL, NULL, json);
}

int zg_types(zg_host *h, char **json)
{
    *json = NULL;
    if (!usable(h)) return h->err.code;
    return string_result(h, "types_json", 0, NULL, NULL, json);
}

int zg_kick(zg_host *h, const char *queue, int64_t max, int64_t *count)
{
    if (count) *count = 0;
    if (!usable(h)) return h->err.code;
    char **names = NULL;
    size_t n = 0;
    if (zg_host_queue_names(h, queue, &names, &n) != ZG_OK) return h->err.code;
    /* a sharded queue kicks as one queue: its buried jobs when any shard has some (a shard
     * without is skipped: it would make its delayed ones ready), else the delayed ones */
    int any_buried = 0, rc = ZG_OK;
    int64_t moved = 0;
    int *buried = calloc(n, sizeof *buried);
    if (!buried) {
        zg_host_queue_names_free(names, n);
        return zg_fail(&h->err, ZG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; n > 1 && rc == ZG_OK && i < n; i++) {
        zg_store_counts c;
        rc = h->store->ops->counts(h->store, names[i], &c, &h->err);
        buried[i] = rc == ZG_OK && c.buried > 0;
        any_buried = any_buried || buried[i];
    }
    for (size_t i = 0; rc == ZG_OK && i < n && (max <= 0 || moved < max); i++) {
        if (n > 1 && any_buried && !buried[i]) continue;
        int64_t got = 0;
        rc = h->store->ops->kick(h->store, names[i], max > 0 ? max - moved : 0, &got, &h->err);
        moved += got;
    }
    free(buried);
    zg_host_queue_names_free(names, n);
    if (count) *count = moved;
    return rc;
}

int zg_buried(zg_host *h, const char *queue, char **json)
{
    *json = NULL;
    if (!usable(h)) return h->err.code;
    char **names = NULL;
    size_t n = 0;
    if (zg_host_queue_names(h, queue, &names, &n) != ZG_OK) return h->err.code;
    int rc = ZG_OK;
    size_t len = 1, cap = 0;
    char *all = NULL; /* the shards' arrays joined, in shard order */
    for (size_t i = 0; i < n && rc == ZG_OK; i++) {
        char *part = NULL;
        rc = h->store->ops->buried(h->store, names[i], &part, &h->err);
        if (rc != ZG_OK) break;
        if (n == 1) {
            all = part;
            break;
        }
        size_t plen = part ? strlen(part) : 0; /* "[...]": its inside goes in */
        const char *inner = plen >= 2 ? part + 1 : "";
        size_t ilen = plen >= 2 ? plen - 2 : 0;
        while (ilen && (*inner == ' ' || *inner == '\n'))
            inner++, ilen--;
        if (ilen && cap < len + ilen + 4) {
            cap = 2 * (len + ilen + 4);
            char *grown = realloc(all, cap);
            if (!grown) {
                free(part);
                rc = zg_fail(&h->err, ZG_ENOMEM, "out of memory");
                break;
            }
            if (!all) grown[0] = '[', grown[1] = '\0';
            all = grown;
        }
        if (ilen) {
            if (len > 1) all[len++] = ',';
            memcpy(all + len, inner, ilen);
            len += ilen;
            all[len] = '\0';
        }
        free(part);
    }
    zg_host_queue_names_free(names, n);
    if (rc != ZG_OK) {
        free(all);
        return rc;
    }
    if (n > 1 && !all)
        all = strdup("[]");
    else if (n > 1) {
        all[len++] = ']';
        all[len] = '\0';
    }
    if (!all) return zg_fail(&h->err, ZG_ENOMEM, "out of memory");
    *json = all;
    return ZG_OK;
}
