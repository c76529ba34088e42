/* schedule: repeatable jobs on the host. A schedule is a record in the store, in its queue
 * (next tick, last tick, type, rule, tz, params, catch-up). Between two claims, at most once a
 * second (or when the earliest tick of its queues comes due), a host lists the due schedules of
 * the queues it claims from and fires each: it computes the tick after the due one from the rule
 * (cron.c: the zone's rules are known here, not in the store) and makes the job in one atomic
 * step of the store that also moves the schedule's next tick, but only while it is still the tick
 * the host saw. Another host that fires the same tick finds it moved and makes nothing: one job
 * per tick, whatever the number of hosts. The ticks come from the rule alone (absolute times), so
 * they never drift.
 *
 * Catch-up: when the tick after the due one is due too (no host fired for a while), the
 * schedule's ZG_CATCH_UP_ONCE makes one job, for the first missed tick, and ZG_CATCH_UP_SKIP none;
 * either way the next tick is then the first one after the store's time.
 *
 * A loaded type's REPEAT is written (schedule_put) as schedule "type:<jobType>" whenever the
 * loaded types change (the registry's generation), and the schedule of a loaded type without
 * REPEAT is removed: so editing or removing a REPEAT takes effect with the first host that loads
 * the new script. Every RESTORE_EVERY_MS a host also writes again a loaded REPEAT that is missing
 * from the store (never one that differs: hosts of two versions of a script do not fight): in a
 * rolling deploy that adds a REPEAT, a host of the old version that starts removes it, and the
 * hosts of the new one put it back. */
#include "schedule.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "cron.h"
#include "host_internal.h"

enum { LOOK_EVERY_MS = 1000, RESTORE_EVERY_MS = 2000 };

int zg_schedule_copy(zg_schedule *dst, const zg_schedule *src)
{
    *dst = *src;
    dst->params = NULL;
    if (src->params && !(dst->params = strdup(src->params))) return -1;
    return 0;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int zg_schedule_same(const zg_schedule *a, const zg_schedule *b)
{
    return strcmp(a->job_type, b->job_type) == 0 && strcmp(a->rule, b->rule) == 0 &&
           strcmp(a->tz, b->tz) == 0 && strcmp(or_empty(a->params), or_empty(b->params)) == 0 &&
           a->catch_up == b->catch_up;
}

void zg_schedule_free_one(void *sc)
{
    zg_schedule *s = sc;
    if (!s) return;
    free(s->params);
    free(s);
}

void zg_schedules_free(zg_schedule *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i].params);
    free(s);
}

/* The first tick of sc's rule after after_ms, or -1 (err set). */
static int64_t tick_after(const zg_schedule *sc, int64_t after_ms, zg_error *err)
{
    zg_cron c;
    int rc = zg_cron_parse(&c, sc->rule, sc->tz, err);
    int64_t next = rc == ZG_OK ? zg_cron_next(&c, after_ms) : -1;
    zg_cron_free(&c);
    if (rc == ZG_OK && next < 0)
        zg_fail(err, ZG_EINVAL, "the rule \"%s\" has no tick within five years", sc->rule);
    return next;
}

/* ---- what the Lua side knows: the queues claimed from, the loaded types' REPEATs ---- */

typedef struct scope {
    int64_t gen; /* in: the generation known (-1: none, to get the REPEATs); out: the registry's */
    char **queues; /* the loaded types' queues */
    size_t nqueues;
    zg_schedule *repeats; /* when the generation changed: every loaded REPEAT */
    size_t nrepeats;
    zg_schedule *plain; /* and the loaded types without one (job_type, queue) */
    size_t nplain;
    int fetched; /* the REPEATs were read */
} scope;

static void scope_free(scope *s)
{
    for (size_t i = 0; i < s->nqueues; i++)
        free(s->queues[i]);
    free(s->queues);
    zg_schedules_free(s->repeats, s->nrepeats);
    zg_schedules_free(s->plain, s->nplain);
}

static int push_gen(lua_State *L, void *ud)
{
    lua_pushinteger(L, ((scope *)ud)->gen);
    return 1;
}

static void copy_field(lua_State *L, int idx, const char *name, char *out, size_t size)
{
    lua_getfield(L, idx, name);
    snprintf(out, size, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
}

/* Reads a list of {jobType, queue, rule, tz, params, catchUp} at idx into malloc'd records. */
static zg_schedule *records_at(lua_State *L, int idx, size_t *n)
{
    *n = lua_istable(L, idx) ? (size_t)lua_rawlen(L, idx) : 0;
    zg_schedule *out = calloc(*n ? *n : 1, sizeof *out);
    if (!out) {
        luaL_error(L, "out of memory");
        return NULL; /* (not reached: luaL_error does not return) */
    }
    for (size_t i = 0; i < *n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        int t = lua_gettop(L);
        zg_schedule *sc = &out[i];
        copy_field(L, t, "jobType", sc->job_type, sizeof sc->job_type);
        snprintf(sc->id, sizeof sc->id, "type:%s", sc->job_type);
        copy_field(L, t, "queue", sc->queue, sizeof sc->queue);
        copy_field(L, t, "rule", sc->rule, sizeof sc->rule);
        copy_field(L, t, "tz", sc->tz, sizeof sc->tz);
        lua_getfield(L, t, "params");
        if (lua_type(L, -1) == LUA_TSTRING) sc->params = strdup(lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_getfield(L, t, "catchUp");
        sc->catch_up = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "skip") == 0
                           ? ZG_CATCH_UP_SKIP
                           : ZG_CATCH_UP_ONCE;
        lua_pop(L, 2);
    }
    return out;
}

/* stack: queues, generation, repeats | nil, plain | nil */
static int collect_scope(lua_State *L, zg_host *h, void *ud)
{
    (void)h;
    scope *s = ud;
    int base = lua_gettop(L) - 3;
    size_t nq = lua_istable(L, base) ? (size_t)lua_rawlen(L, base) : 0;
    s->queues = calloc(nq ? nq : 1, sizeof *s->queues);
    if (!s->queues) return luaL_error(L, "out of memory");
    for (size_t i = 0; i < nq; i++) {
        lua_rawgeti(L, base, (lua_Integer)i + 1);
        if (lua_type(L, -1) == LUA_TSTRING && (s->queues[s->nqueues] = strdup(lua_tostring(L, -1))))
            s->nqueues++;
        lua_pop(L, 1);
    }
    s->fetched = lua_tointeger(L, base + 1) != s->gen;
    s->gen = lua_tointeger(L, base + 1);
    if (s->fetched) {
        s->repeats = records_at(L, base + 2, &s->nrepeats);
        s->plain = records_at(L, base + 3, &s->nplain);
    }
    return ZG_OK;
}

/* The store's time as the node of queue's schedules sees it (the clock that fires them: a host
 * whose own clock is off must not place a first tick in the store's past or far future), into
 * *now; ZG_OK or the store's error. */
static int store_now(zg_host *h, const char *queue, int64_t *now, zg_error *err)
{
    zg_schedule *rows = NULL;
    size_t nrows = 0;
    int64_t earliest = 0;
    int rc = h->store->ops->schedule_list(h->store, queue, 1, &rows, &nrows, now, &earliest, err);
    zg_schedules_free(rows, nrows);
    return rc;
}

/* Writes again the loaded REPEATs that are missing from the store (each kept as it is when
 * present, even if it differs): a host of an older version of the script, without REPEAT, that
 * started during a rolling deploy removed it, or it was removed by hand. */
static void restore_missing(zg_host *h, scope *s)
{
    for (size_t i = 0; i < s->nrepeats; i++) {
        zg_schedule *sc = &s->repeats[i], *rows = NULL;
        size_t nrows = 0;
        int64_t now = 0, earliest = 0;
        zg_error err = {0};
        if (h->store->ops->schedule_list(h->store, sc->queue, 0, &rows, &nrows, &now, &earliest,
                                         &err) != ZG_OK)
            return; /* (a store outage: the claim that follows reports it) */
        int present = 0;
        for (size_t k = 0; k < nrows && !present; k++)
            present = strcmp(rows[k].id, sc->id) == 0;
        zg_schedules_free(rows, nrows);
        int written = 0;
        if (present || (sc->next_ms = tick_after(sc, now, &err)) < 0 ||
            h->store->ops->schedule_put(h->store, sc, &written, &err) != ZG_OK)
            continue;
        zg_host_log(h, ZG_LOG_WARNING,
                    "the REPEAT of %s was missing from the store (removed by a host whose script "
                    "has none, or by hand): written again",
                    sc->job_type);
    }
}

/* Asks the Lua side for the scope, and writes the loaded REPEATs when they changed; with
 * restore, writes again those missing from the store. */
static int load_scope(zg_host *h, scope *s, int restore)
{
    memset(s, 0, sizeof *s);
    s->gen = restore ? -1 : h->repeats_gen;
    int rc = zg_runtime_invoke(h, "schedule_scope", push_gen, collect_scope, s, 4);
    if (rc != ZG_OK || !s->fetched) return rc;
    if (s->gen == h->repeats_gen) {
        restore_missing(h, s);
        return ZG_OK;
    }
    int failed = 0;
    for (size_t i = 0; i < s->nrepeats; i++) {
        zg_schedule *sc = &s->repeats[i];
        zg_error err = {0};
        int written = 0;
        int64_t now = 0;
        if (store_now(h, sc->queue, &now, &err) == ZG_OK) sc->next_ms = tick_after(sc, now, &err);
        if (err.code || sc->next_ms < 0 ||
            h->store->ops->schedule_put(h->store, sc, &written, &err) != ZG_OK) {
            zg_host_log(h, ZG_LOG_ERROR, "the REPEAT of %s was not written: %s", sc->job_type,
                        err.msg);
            failed = 1;
        }
    }
    for (size_t i = 0; i < s->nplain; i++) {
        zg_error err = {0};
        int rc2 = h->store->ops->schedule_remove(h->store, s->plain[i].queue, s->plain[i].id, &err);
        if (rc2 != ZG_OK && rc2 != ZG_ENOTFOUND) failed = 1;
    }
    if (!failed) h->repeats_gen = s->gen; /* (else tried again at the next look) */
    return ZG_OK;
}

/* ---- firing ---- */

typedef struct fire_args {
    const zg_schedule *sc;
    int64_t tick, next;
    char uuid[ZG_UUID_LEN];
    int stale;
} fire_args;

static int push_fire(lua_State *L, void *ud)
{
    fire_args *a = ud;
    lua_pushstring(L, a->sc->job_type);
    lua_pushstring(L, or_empty(a->sc->params));
    lua_pushstring(L, a->sc->queue);
    lua_pushstring(L, a->sc->id);
    lua_pushinteger(L, a->tick);
    lua_pushinteger(L, a->next);
    return 6;
}

static int collect_fire(lua_State *L, zg_host *h, void *ud)
{
    (void)h;
    fire_args *a = ud;
    const char *r = lua_tostring(L, -1);
    if (r && strcmp(r, "stale") == 0)
        a->stale = 1;
    else
        snprintf(a->uuid, sizeof a->uuid, "%s", r ? r : "");
    return ZG_OK;
}

/* Fires due schedule sc at the store's time now_ms; returns its next tick when this host moved
 * it (a job made, or ticks skipped), else 0. */
static int64_t fire_one(zg_host *h, const zg_schedule *sc, int64_t now_ms)
{
    zg_error err = {0};
    int64_t tick = sc->next_ms, after = tick_after(sc, tick, &err);
    if (after < 0) {
        zg_host_log(h, ZG_LOG_ERROR, "schedule %s: %s", sc->id, err.msg);
        return 0;
    }
    int behind = after <= now_ms; /* the tick after it is due too: ticks were missed */
    int64_t next = behind ? tick_after(sc, now_ms, &err) : after;
    if (next < 0) next = tick + 366LL * 86400 * 1000;
    if (behind && sc->catch_up == ZG_CATCH_UP_SKIP) {
        int rc = h->store->ops->schedule_advance(h->store, sc->queue, sc->id, tick, next, &err);
        if (rc != ZG_OK) return 0;
        zg_host_log(h, ZG_LOG_INFO, "schedule %s: missed ticks from %lld skipped", sc->id,
                    (long long)tick);
        return next;
    }
    fire_args a = {sc, tick, next, "", 0};
    int rc = zg_runtime_invoke(h, "fire_schedule", push_fire, collect_fire, &a, 1);
    if (rc == ZG_ENOTFOUND) return 0; /* a type this host has not loaded: another host's */
    if (rc == ZG_ESTORE)
        return 0; /* the store failed (the tick may be taken or not): the
                   * next look sees which, rather than skipping it */
    if (rc == ZG_ESTALE) {
        /* a type's REPEAT written by a host of another version of the script (a rolling
         * deploy), whose params do not fit this host's SCHEMA: the tick is left to those hosts
         * rather than passing without a job */
        zg_host_log(h, ZG_LOG_WARNING,
                    "schedule %s: no job for tick %lld made here, left to a host of the version "
                    "of the script that wrote it: %s",
                    sc->id, (long long)tick, h->err.msg);
        return 0;
    }
    if (rc != ZG_OK) {
        /* a job that cannot be made (an ad hoc schedule's params no longer fit the SCHEMA,
         * a UNIQUE key function that fails...): the tick passes without one, said in the log,
         * rather than failing again at every look */
        zg_host_log(h, ZG_LOG_ERROR, "schedule %s made no job for tick %lld: %s", sc->id,
                    (long long)tick, h->err.msg);
        h->store->ops->schedule_advance(h->store, sc->queue, sc->id, tick, next, &err);
        return 0;
    }
    return a.stale ? 0 : next;
}

void zg_schedules_fire(zg_host *h, const char *const *queues, size_t n)
{
    int64_t mono = zg_clock_monotonic_ms();
    h->schedule_look_ms = mono + LOOK_EVERY_MS;
    int restore = mono >= h->schedule_restore_ms;
    if (restore) h->schedule_restore_ms = mono + RESTORE_EVERY_MS;
    scope s;
    if (load_scope(h, &s, restore) != ZG_OK) {
        scope_free(&s);
        return;
    }
    int64_t wait = LOOK_EVERY_MS;
    size_t nq = n ? n : s.nqueues;
    for (size_t q = 0; q < nq; q++) {
        const char *queue = n ? queues[q] : s.queues[q];
        zg_schedule *rows = NULL;
        size_t nrows = 0;
        int64_t now = 0, earliest = 0;
        zg_error err = {0};
        if (h->store->ops->schedule_list(h->store, queue, 1, &rows, &nrows, &now, &earliest,
                                         &err) != ZG_OK)
            continue; /* (a store outage: the claim that follows reports it) */
        for (size_t i = 0; i < nrows; i++) {
            int64_t next = fire_one(h, &rows[i], now);
            if (next && (!earliest || next < earliest)) earliest = next;
        }
        zg_schedules_free(rows, nrows);
        if (earliest && earliest - now < wait) wait = earliest - now > 0 ? earliest - now : 0;
    }
    h->schedule_look_ms = mono + wait;
    scope_free(&s);
}

/* ---- the public calls ---- */

int zg_fire_schedules(zg_host *h)
{
    if (!zg_host_usable(h)) return h->err.code;
    if (zg_schedules_due(h, zg_clock_monotonic_ms())) zg_schedules_fire(h, NULL, 0);
    return ZG_OK;
}

typedef struct check_args {
    const zg_schedule *def;
    char queue[ZG_NAME_LEN];
} check_args;

static int push_check(lua_State *L, void *ud)
{
    check_args *a = ud;
    lua_pushstring(L, a->def->job_type);
    lua_pushstring(L, or_empty(a->def->params));
    lua_pushstring(L, a->def->queue);
    return 3;
}

static int collect_check(lua_State *L, zg_host *h, void *ud)
{
    (void)h;
    check_args *a = ud;
    snprintf(a->queue, sizeof a->queue, "%s", or_empty(lua_tostring(L, -1)));
    return ZG_OK;
}

int zg_schedule_add(zg_host *h, const zg_schedule *def, char id_out[ZG_NAME_LEN + 8])
{
    if (!zg_host_usable(h)) return h->err.code;
    if (!def) return zg_fail(&h->err, ZG_EINVAL, "no schedule");
    zg_schedule sc = *def;
    if (sc.catch_up != ZG_CATCH_UP_ONCE && sc.catch_up != ZG_CATCH_UP_SKIP)
        return zg_fail(&h->err, ZG_EINVAL, "catch_up must be ZG_CATCH_UP_ONCE or _SKIP");
    if (tick_after(&sc, zg_clock_wall_ms(), &h->err) < 0) return h->err.code; /* (the rule) */
    check_args a = {def, ""};
    int rc = zg_runtime_invoke(h, "schedule_check", push_check, collect_check, &a, 1);
    if (rc != ZG_OK) return rc;
    snprintf(sc.queue, sizeof sc.queue, "%s", a.queue);
    int64_t now = 0;
    if (store_now(h, sc.queue, &now, &h->err) != ZG_OK) return h->err.code;
    if ((sc.next_ms = tick_after(&sc, now, &h->err)) < 0) return h->err.code;
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, sc.id);
    sc.last_ms = 0;
    int written = 0;
    zg_error err = {0};
    if (h->store->ops->schedule_put(h->store, &sc, &written, &err) != ZG_OK) {
        h->err = err;
        return err.code;
    }
    if (id_out) snprintf(id_out, ZG_NAME_LEN + 8, "%s", sc.id);
    h->schedule_look_ms = 0; /* this host looks at it at its next step */
    return ZG_OK;
}

/* The queues schedules may be in: those the store knows and the loaded types' (malloc'd). */
static int all_queues(zg_host *h, scope *s, char ***names, size_t *n)
{
    zg_error err = {0};
    char **known = NULL;
    size_t nknown = 0;
    if (h->store->ops->known_queues(h->store, &known, &nknown, &err) != ZG_OK) {
        h->err = err;
        return err.code;
    }
    char **all = realloc(known, (nknown + s->nqueues + 1) * sizeof *all);
    if (!all) {
        for (size_t i = 0; i < nknown; i++)
            free(known[i]);
        free(known);
        return zg_fail(&h->err, ZG_ENOMEM, "out of memory");
    }
    size_t got = nknown;
    for (size_t i = 0; i < s->nqueues; i++) {
        int seen = 0;
        for (size_t k = 0; k < got && !seen; k++)
            seen = strcmp(all[k], s->queues[i]) == 0;
        if (!seen && (all[got] = strdup(s->queues[i]))) got++;
    }
    *names = all;
    *n = got;
    return ZG_OK;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int by_queue_and_id(const void *a, const void *b)
{
    const zg_schedule *x = a, *y = b;
    int c = strcmp(x->queue, y->queue);
    return c ? c : strcmp(x->id, y->id);
}

int zg_schedule_list(zg_host *h, zg_schedule **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!zg_host_usable(h)) return h->err.code;
    scope s;
    int rc = load_scope(h, &s, 0);
    char **queues = NULL;
    size_t nq = 0;
    if (rc == ZG_OK) rc = all_queues(h, &s, &queues, &nq);
    zg_schedule *all = NULL;
    size_t got = 0;
    for (size_t q = 0; rc == ZG_OK && q < nq; q++) {
        zg_schedule *rows = NULL;
        size_t nrows = 0;
        int64_t now, earliest;
        zg_error err = {0};
        if (h->store->ops->schedule_list(h->store, queues[q], 0, &rows, &nrows, &now, &earliest,
                                         &err) != ZG_OK) {
            h->err = err;
            rc = err.code;
            break;
        }
        zg_schedule *grown = nrows ? realloc(all, (got + nrows) * sizeof *all) : all;
        if (nrows && !grown) {
            zg_schedules_free(rows, nrows);
            rc = zg_fail(&h->err, ZG_ENOMEM, "out of memory");
            break;
        }
        all = grown;
        if (nrows) memcpy(all + got, rows, nrows * sizeof *rows); /* (the params move too) */
        got += nrows;
        free(rows);
    }
    free_names(queues, nq);
    scope_free(&s);
    if (rc != ZG_OK) {
        zg_schedules_free(all, got);
        return rc;
    }
    if (got) qsort(all, got, sizeof *all, by_queue_and_id);
    *out = all;
    *n = got;
    return ZG_OK;
}

int zg_schedule_remove(zg_host *h, const char *id)
{
    if (!zg_host_usable(h)) return h->err.code;
    if (!id || !*id) return zg_fail(&h->err, ZG_EINVAL, "no schedule id");
    scope s;
    int rc = load_scope(h, &s, 0);
    char **queues = NULL;
    size_t nq = 0;
    if (rc == ZG_OK) rc = all_queues(h, &s, &queues, &nq);
    int removed = 0;
    for (size_t q = 0; rc == ZG_OK && q < nq; q++) {
        zg_error err = {0};
        int r = h->store->ops->schedule_remove(h->store, queues[q], id, &err);
        if (r == ZG_OK)
            removed = 1;
        else if (r != ZG_ENOTFOUND) {
            h->err = err;
            rc = r;
        }
    }
    free_names(queues, nq);
    scope_free(&s);
    if (rc == ZG_OK && !removed) rc = zg_fail(&h->err, ZG_ENOTFOUND, "no schedule %s", id);
    return rc;
}
