/* host: the public API (zerog.h) over the host handle: creation, script loading, submitting,
 * stepping the engine, and reading jobs. The Lua side decides (zerog.api); this file moves
 * arguments and results across and carries out queue decisions. */
#include <dirent.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Seconds before a message is tried again after the engine itself failed on it. */
#define ZG_ENGINE_RETRY_DELAY 30

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

/* Opens the backends named by the store URL. */
static int open_backends(zg_host *h)
{
    const char *url = h->store_url;
    if (strcmp(url, "mem://") == 0 || strcmp(url, "mem:") == 0) {
        h->store = zg_store_mem_new();
        h->queue = zg_queue_mem_new();
        if (!h->store || !h->queue) return zg_fail(&h->err, ZG_ENOMEM, "out of memory");
        return ZG_OK;
    }
    /* the store and the queue get a connection each: the heartbeat thread renews reservations
     * on the queue's while the job's writes go through the store's */
    char bounded[2048];
    if (h->cfg.store_timeout_ms > 0) { /* redis_conn reads the bound from the URL's end */
        snprintf(bounded, sizeof bounded, "%s#timeout_ms=%d", url, h->cfg.store_timeout_ms);
        url = bounded;
    }
    h->store = zg_store_redis_new(url, &h->err);
    if (h->store) h->queue = zg_queue_redis_new(url, &h->err);
    return h->store && h->queue ? ZG_OK : h->err.code;
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
    if (open_backends(h) == ZG_OK && zg_runtime_open(h) == ZG_OK &&
        zg_heartbeat_init(&h->heartbeat, h->queue, h->L, zg_run_hook) != ZG_OK)
        zg_fail(&h->err, ZG_ENOMEM, "cannot start the heartbeat thread");
    if (h->err.code == ZG_OK && h->jobs_dir && zg_load_dir(h, h->jobs_dir, NULL, NULL) != ZG_OK)
        zg_runtime_close(h); /* keeps the error; the host refuses every call */
    return h;
}

void zg_host_free(zg_host *h)
{
    if (!h) return;
    zg_heartbeat_shutdown(&h->heartbeat);
    zg_runtime_close(h);
    if (h->store) h->store->ops->close(h->store);
    if (h->queue) h->queue->ops->close(h->queue);
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

int zg_reload(zg_host *h, int *failed)
{
    if (failed) *failed = 0;
    if (!usable(h)) return h->err.code;
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

int zg_run(zg_host *h, const char *const *queues, size_t n, int until_idle, long *ran)
{
    if (ran) *ran = 0;
    if (!usable(h)) return h->err.code;
    while (!h->stopping) {
        zg_step_result r;
        int rc = zg_step(h, queues, n, until_idle ? 0 : 200, &r);
        if (rc == ZG_OK) {
            if (ran) (*ran)++;
        } else if (rc == ZG_ETIMEDOUT) {
            if (until_idle) break;
        } else if (rc != ZG_ESTALE) { /* an outage: said once a second until it passes */
            zg_host_log(h, ZG_LOG_ERROR, "%s", h->err.msg);
            for (int i = 0; i < 10 && !h->stopping; i++)
                zg_clock_sleep_ms(100);
        }
    }
    h->stopping = 0;
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

/* Pushes the loaded types' queue names into names[] (strings owned by the Lua stack entry left
 * on top); returns how many. */
static size_t loaded_queues(zg_host *h, const char **names, size_t max)
{
    if (zg_runtime_call(h, "queues", 0, 1) != ZG_OK) {
        lua_pushnil(h->L);
        return 0;
    }
    size_t n = 0;
    for (lua_Integer i = 1; n < max && lua_rawgeti(h->L, -1, i) == LUA_TSTRING; i++) {
        names[n++] = lua_tostring(h->L, -1);
        lua_pop(h->L, 1);
    }
    lua_pop(h->L, 1); /* the nil or non-string that ended the loop */
    return n;
}

static void push_message(lua_State *L, const zg_message *m)
{
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, m->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, m->body);
    lua_setfield(L, -2, "body");
    lua_pushstring(L, m->queue);
    lua_setfield(L, -2, "queue");
    lua_pushinteger(L, m->reserves);
    lua_setfield(L, -2, "reserves");
    lua_pushinteger(L, m->timeouts);
    lua_setfield(L, -2, "timeouts");
    lua_pushinteger(L, m->releases);
    lua_setfield(L, -2, "releases");
}

/* Carries out the engine's decision on the message; a lapsed reservation is reported. */
static int apply_decision(zg_host *h, const zg_message *m, const char *action, double delay)
{
    zg_error err = {0};
    int rc;
    if (strcmp(action, "release") == 0)
        rc = h->queue->ops->release(h->queue, m->queue, m->id, m->reservation,
                                    (int64_t)(delay * 1000), &err);
    else
        rc = h->queue->ops->remove(h->queue, m->queue, m->id, m->reservation, &err);
    if (rc != ZG_OK) return zg_fail(&h->err, rc, "settling job %s: %s", m->body, err.msg);
    return ZG_OK;
}

static int run_message(zg_host *h, zg_message *m, zg_step_result *out)
{
    lua_State *L = h->L;
    zg_run_info info = {1, m->body, m->queue, m->id, m->reservation};
    if (h->cfg.on_run) h->cfg.on_run(h->cfg.on_run_ud, &info);
    zg_heartbeat_begin(&h->heartbeat, m);
    push_message(L, m);
    int rc = zg_runtime_call(h, "process", 1, 3);
    zg_heartbeat_end(&h->heartbeat);
    info.begin = 0;
    if (h->cfg.on_run) h->cfg.on_run(h->cfg.on_run_ud, &info);
    snprintf(out->uuid, sizeof out->uuid, "%s", m->body);
    if (rc == ZG_ESTALE) {
        /* another host owns the job now (or it was killed): its outcome is not ours to settle */
        zg_host_log(h, ZG_LOG_WARNING, "late settle of job %s refused: %s", m->body, h->err.msg);
        return rc;
    }
    if (rc != ZG_OK) {
        /* the engine itself failed (e.g. the store): keep the message for a later try */
        zg_error keep = h->err;
        apply_decision(h, m, "release", ZG_ENGINE_RETRY_DELAY);
        h->err = keep;
        return rc;
    }
    const char *action = lua_tostring(L, -3);
    double delay = lua_tonumber(L, -2);
    int finished = lua_isinteger(L, -1);
    out->result_code = finished ? (int)lua_tointeger(L, -1) : -1;
    out->delay = delay;
    out->outcome = strcmp(action, "release") == 0 ? ZG_STEP_REQUEUED
                   : finished                     ? ZG_STEP_FINISHED
                                                  : ZG_STEP_DROPPED;
    rc = apply_decision(h, m, action, delay);
    lua_pop(L, 3);
    return rc;
}

int zg_step(zg_host *h, const char *const *queues, size_t n, int64_t timeout_ms,
            zg_step_result *out)
{
    if (!usable(h)) return h->err.code;
    memset(out, 0, sizeof *out);
    const char *names[64];
    if (n == 0) {
        n = loaded_queues(h, names, 64);
        queues = names;
    } else
        lua_pushnil(h->L); /* keeps the stack shape the same on both paths */
    zg_message m = {0};
    zg_error err = {0};
    int rc = n ? h->queue->ops->reserve(h->queue, queues, n, timeout_ms, &m, &err)
               : zg_fail(&err, ZG_ETIMEDOUT, "no job types are loaded");
    lua_pop(h->L, 1);
    if (rc != ZG_OK) {
        h->err = err;
        return rc;
    }
    rc = run_message(h, &m, out);
    zg_message_clear(&m);
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
    if (!usable(h)) return h->err.code;
    return h->queue->ops->counts(h->queue, queue, out, &h->err);
}

int zg_message_stats_get(zg_host *h, const char *queue, int64_t id, zg_message_stats *out)
{
    if (!usable(h)) return h->err.code;
    return h->queue->ops->stats(h->queue, queue, id, out, &h->err);
}

int zg_release(zg_host *h, const char *queue, int64_t id, int64_t reservation, int64_t delay_ms)
{
    if (!usable(h)) return h->err.code;
    return h->queue->ops->release(h->queue, queue, id, reservation, delay_ms, &h->err);
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

int zg_ping(zg_host *h)
{
    if (!usable(h)) return h->err.code;
    zg_queue_counts counts; /* one read-only round trip on the queue's connection */
    zg_error err = {0};
    if (h->queue->ops->counts(h->queue, "zerog:ping", &counts, &err) != ZG_OK)
        return zg_fail(&h->err, ZG_ESTORE, "%s", err.msg);
    return ZG_OK;
}

int zg_kick(zg_host *h, const char *queue, int64_t *count)
{
    if (!usable(h)) return h->err.code;
    int64_t moved = 0;
    int rc = h->queue->ops->kick(h->queue, queue, &moved, &h->err);
    if (count) *count = moved;
    return rc;
}
