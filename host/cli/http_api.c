/* http_api: the HTTP API of zerog serve, on libmicrohttpd with a thread per connection, so no
 * request waits behind another: a request that needs the store borrows one of API_HOSTS hosts
 * (a host is used by one thread at a time), each bounded by a store timeout. A monitor thread
 * pings the store; while it is down, every route that needs it answers 503 at once with a JSON
 * error (never a stack trace), /health says what is wrong within a second, and all recover by
 * themselves when it is back. Routes that need no store (/workers, /drain, /undrain, /retire,
 * /metrics without queue depths) keep working.
 *
 * Every response of ours is JSON (but /metrics) ending with a newline, with ZeroG's CORS headers
 * (libmicrohttpd answers the requests it cannot parse itself, in HTML);
 * OPTIONS is answered 204. With an auth token, every route but /health wants
 * "Authorization: Bearer <token>" (the scheme in any case; compared in constant time), else 401
 * with "WWW-Authenticate: Bearer". A body over the limit is 413; a wrong method, 405.
 *   POST /job/{jobType} (or the body's jobType)   201 {"uuid"} | 400 {"error"} (http_submit.c)
 *   GET  /progress|info|data|dump/{uuid}          200 | 404 (dump: ?showLogs=true adds the lists)
 *   POST /kill/{uuid}   GET /state/{uuid}   GET /workers   POST /drain /undrain /retire   GET
 * /health   GET /metrics POST /kick/{queue}[?n=N]   GET /buried/{queue} GET
 * /jobs?state=&type=&queue=&limit=&cursor=&since=   {"jobs":[...],"next":C|null} POST /retry/{uuid}
 * 200 | 404 | 409 (not failed)      DELETE /job/{uuid}   200 | 404 POST /purge (state, type, queue,
 * olderThan: query or JSON body)   {"deleted":n} GET /stats[?queue=Q]   {QUEUE:{TYPE:{STATE:n}}}
 * Connections: idle ones are closed after limits.timeout_s, and one whose request has not arrived
 * whole within HTTP_DEADLINE_TIMES times that (http_deadline.c); at most max_connections in all
 * and per_ip per client address (libmicrohttpd refuses the others at once). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon.h"
#include "http_submit.h"
#include "json_out.h"
#include "json_text.h"

#define STORE_PING_MS  250
#define BORROW_WAIT_MS 2000

typedef struct request {
    char *body; /* the request body, written through `in` (NULL: its route reads none) */
    size_t len;
    FILE *in;
    size_t seen; /* the body's bytes so far, kept or not */
    int too_large;
} request;

/* ---- responses ---- */

static enum MHD_Result send_full(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *body, const char *header, const char *value)
{
    size_t len = strlen(body);
    int newline = strcmp(type, "application/json") == 0 && len && body[len - 1] != '\n';
    char *copy = malloc(len + 2);
    if (!copy) return MHD_NO;
    memcpy(copy, body, len);
    if (newline) copy[len++] = '\n'; /* every JSON body ends with a newline */
    copy[len] = '\0';
    struct MHD_Response *r = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(copy);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Allow-Headers", "Content-Type, Authorization");
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    if (header) MHD_add_response_header(r, header, value);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const char *json)
{
    return send_full(c, status, "application/json", json, NULL, NULL);
}

/* {"error": msg}: a message from job code loses its traceback (callers see what went wrong, not
 * the runtime's stack); one over ERROR_MAX bytes is cut after a whole character. The body is
 * valid JSON whatever the message holds (json_quote). */
#define ERROR_MAX 4096
static enum MHD_Result send_error_with(struct MHD_Connection *c, unsigned status, const char *msg,
                                       const char *header, const char *value)
{
    const char *trace = strstr(msg, "stack traceback:");
    size_t n = trace ? (size_t)(trace - msg) : strlen(msg);
    if (n > ERROR_MAX) n = utf8_cut(msg, ERROR_MAX);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ' || msg[n - 1] == '\t'))
        n--;
    size_t need = json_quote_len(NULL, 0, msg, n) + sizeof "{\"error\":}";
    char *body = malloc(need);
    if (!body) return MHD_NO;
    memcpy(body, "{\"error\":", 9); // NOLINT(bugprone-not-null-terminated-result): ends below
    size_t q = json_quote_len(body + 9, need - 9, msg, n);
    memcpy(body + 9 + q, "}", 2);
    enum MHD_Result r = send_full(c, status, "application/json", body, header, value);
    free(body);
    return r;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return send_error_with(c, status, msg, NULL, NULL);
}

/* ---- the store's health ---- */

static int store_up(daemon_ctx *d, char *reason, size_t size)
{
    pthread_mutex_lock(&d->store.lock);
    int up = d->store.up;
    if (reason) snprintf(reason, size, "%s", d->store.reason);
    pthread_mutex_unlock(&d->store.lock);
    return up;
}

/* Records what a ping or a request found; logs when the state changes (once each way). */
static void store_seen(daemon_ctx *d, int up, const char *reason)
{
    pthread_mutex_lock(&d->store.lock);
    int was = d->store.up;
    d->store.up = up;
    snprintf(d->store.reason, sizeof d->store.reason, "%s", up ? "ok" : reason);
    pthread_mutex_unlock(&d->store.lock);
    if (was && !up) log_linef(d->log, ZG_LOG_ERROR, "the store is unreachable: %s", reason);
    if (!was && up) log_line(d->log, ZG_LOG_INFO, "", "the store is reachable again");
}

/* Fires due schedule ticks on the first API host when no request holds it: workers fire them
 * only between two jobs, so ticks would be missed while every worker runs a long job. */
static void fire_schedules(daemon_ctx *d)
{
    pthread_mutex_lock(&d->api_lock);
    int idle = d->api[0] && !d->api_busy[0];
    if (idle) d->api_busy[0] = 1;
    pthread_mutex_unlock(&d->api_lock);
    if (!idle) return;
    zg_fire_schedules(d->api[0]);
    api_return(d, d->api[0]);
}

void *store_monitor(void *arg)
{
    daemon_ctx *d = arg;
    while (!d->stopping) {
        int rc = zg_ping(d->monitor);
        store_seen(d, rc == ZG_OK, zg_errstr(d->monitor));
        for (int i = 0; i < STORE_PING_MS / 50 && !d->stopping; i++) {
            if (rc == ZG_OK)
                fire_schedules(d); /* (repeatable jobs: made on time even while
                                    * every worker is busy) */
            usleep(50 * 1000);
        }
    }
    return NULL;
}

static enum MHD_Result send_unavailable(struct MHD_Connection *c, const char *reason)
{
    char msg[ZG_ERRSTR_LEN + 32];
    snprintf(msg, sizeof msg, "the store is unavailable: %s", reason);
    return send_error_with(c, 503, msg, "Retry-After", "1");
}

zg_host *api_borrow(daemon_ctx *d, int wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&d->api_lock);
    for (;;) {
        for (int i = 0; i < API_HOSTS; i++)
            if (d->api[i] && !d->api_busy[i]) {
                d->api_busy[i] = 1;
                pthread_mutex_unlock(&d->api_lock);
                return d->api[i];
            }
        if (pthread_cond_timedwait(&d->api_free, &d->api_lock, &until) != 0) break;
    }
    pthread_mutex_unlock(&d->api_lock);
    return NULL;
}

void api_return(daemon_ctx *d, zg_host *h)
{
    pthread_mutex_lock(&d->api_lock);
    for (int i = 0; i < API_HOSTS; i++)
        if (d->api[i] == h) d->api_busy[i] = 0;
    pthread_cond_signal(&d->api_free);
    pthread_mutex_unlock(&d->api_lock);
}

/* A host for a request that needs the store, or NULL with the 503 already queued in *r. */
static zg_host *borrow_for(daemon_ctx *d, struct MHD_Connection *c, enum MHD_Result *r)
{
    char reason[512];
    if (!store_up(d, reason, sizeof reason)) {
        *r = send_unavailable(c, reason);
        return NULL;
    }
    zg_host *h = api_borrow(d, BORROW_WAIT_MS);
    if (!h) *r = send_error_with(c, 503, "busy: try again", "Retry-After", "1");
    if (h && !store_up(d, reason, sizeof reason)) { /* it went down while this one waited */
        api_return(d, h);
        *r = send_unavailable(c, reason);
        return NULL;
    }
    return h;
}

/* The answer to a failed call: the user's mistakes as 400/404, the store's failure (checked
 * with a ping when the code alone does not say) as 503, anything else 500. */
static enum MHD_Result send_failure(daemon_ctx *d, struct MHD_Connection *c, zg_host *h, int rc,
                                    unsigned bad_input_status, unsigned not_found_status)
{
    char msg[ZG_ERRSTR_LEN];
    snprintf(msg, sizeof msg, "%s", zg_errstr(h));
    if (rc == ZG_ENOTFOUND) return send_error(c, not_found_status, msg);
    if (rc == ZG_EINVAL || rc == ZG_ESCRIPT) return send_error(c, bad_input_status, msg);
    if (rc == ZG_ESTORE || zg_ping(h) != ZG_OK) {
        store_seen(d, 0, rc == ZG_ESTORE ? msg : zg_errstr(h));
        if (rc == ZG_ESTORE) {
            /* this request is answered with its own words (a submit's name its job); the
             * others meanwhile not with this request's, but with the store's, which the
             * monitor's next ping says */
            pthread_mutex_lock(&d->store.lock);
            if (!d->store.up)
                snprintf(d->store.reason, sizeof d->store.reason, "a call to the store failed");
            pthread_mutex_unlock(&d->store.lock);
            return send_unavailable(c, msg);
        }
        char reason[512];
        store_up(d, reason, sizeof reason);
        return send_unavailable(c, reason);
    }
    return send_error(c, 500, msg);
}

/* ---- routes ---- */

/* The SCHEMA field a validation error names (schema.lua's messages "field F is required",
 * "field F must be ...", "unknown field F: not in the job type's SCHEMA"), for the form to show
 * the error next to it; 0 when the message names no single field. */
static int field_of(const char *msg, char *field, size_t size)
{
    const char *p = strstr(msg, "unknown field ");
    int unknown = p != NULL;
    if (p)
        p += strlen("unknown field ");
    else if ((p = strstr(msg, "field ")) != NULL)
        p += strlen("field ");
    if (!p) return 0;
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    if (n == 0 || n >= size) return 0;
    if (unknown ? strncmp(p + n, ": not in", 8) != 0
                : strncmp(p + n, " is required", 12) != 0 && strncmp(p + n, " must be ", 9) != 0)
        return 0;
    memcpy(field, p, n);
    field[n] = '\0';
    return 1;
}

/* 400 {"error": msg, "field": field}. */
static enum MHD_Result send_field_error(struct MHD_Connection *c, const char *msg,
                                        const char *field)
{
    size_t n = strlen(msg);
    if (n > ERROR_MAX) n = utf8_cut(msg, ERROR_MAX);
    size_t need = json_quote_len(NULL, 0, msg, n) + json_quote(NULL, 0, field) + 32;
    char *body = malloc(need);
    if (!body) return MHD_NO;
    size_t at = (size_t)snprintf(body, need, "{\"error\":");
    at += json_quote_len(body + at, need - at, msg, n);
    at += (size_t)snprintf(body + at, need - at, ",\"field\":");
    at += json_quote(body + at, need - at, field);
    snprintf(body + at, need - at, "}");
    enum MHD_Result r = send_json(c, 400, body);
    free(body);
    return r;
}

static enum MHD_Result submit(daemon_ctx *d, struct MHD_Connection *c, const char *type,
                              const char *body, size_t body_len)
{
    char err[512], *params = NULL;
    zg_submit_opts opts;
    if (strlen(body) != body_len) /* JSON text never holds one: a string writes it as \u0000 */
        return send_error(c, 400,
                          "the body holds a NUL byte, which JSON text cannot (write \\u0000 "
                          "in a string)");
    if (submit_request(c, body, &params, &opts, err, sizeof err) != 0) {
        free(params);
        return send_error(c, 400, err);
    }
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) {
        free(params);
        return r;
    }
    char uuid[ZG_UUID_LEN], reply[80], field[ZG_NAME_LEN];
    int rc = zg_submit(h, *type ? type : NULL, params, &opts, uuid);
    if (rc == ZG_OK || rc == ZG_EEXIST) { /* 200: a unique job's key was held by that job */
        snprintf(reply, sizeof reply, "{\"uuid\":\"%s\"%s}", uuid,
                 rc == ZG_EEXIST ? ",\"existing\":true" : "");
        r = send_json(c, rc == ZG_OK ? 201 : 200, reply);
    } else if (rc == ZG_EINVAL && field_of(zg_errstr(h), field, sizeof field))
        r = send_field_error(c, zg_errstr(h), field);
    else
        r = send_failure(d, c, h, rc, 400, 400); /* an unknown type is bad input */
    api_return(d, h);
    free(params);
    return r;
}

static enum MHD_Result read_job(daemon_ctx *d, struct MHD_Connection *c, zg_view view,
                                const char *uuid)
{
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    char *json = NULL;
    int rc = zg_read(h, view, uuid, &json);
    r = rc == ZG_OK ? send_json(c, 200, json) : send_failure(d, c, h, rc, 400, 404);
    api_return(d, h);
    zg_free(json);
    return r;
}

/* GET /state/{uuid}: where the job is in its queue (beanstalkd's stats-job). */
static enum MHD_Result job_state(daemon_ctx *d, struct MHD_Connection *c, const char *uuid)
{
    static const char *const names[] = {"waiting", "delayed",  "running",
                                        "buried",  "finished", "parked"};
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    zg_message_stats st;
    int rc = zg_job_stats(h, uuid, &st);
    if (rc == ZG_OK) {
        char reply[400];
        snprintf(reply, sizeof reply,
                 "{\"uuid\":\"%s\",\"state\":\"%s\",\"priority\":%lld,\"reserves\":%lld,"
                 "\"timeouts\":%lld,\"releases\":%lld,\"timeLeftMs\":%lld,\"queueJobId\":%lld,"
                 "\"lease\":%lld}",
                 uuid, st.state >= 0 && st.state <= ZG_MSG_PARKED ? names[st.state] : "unknown",
                 (long long)st.priority, (long long)st.reserves, (long long)st.timeouts,
                 (long long)st.releases, (long long)st.time_left_ms, (long long)st.id,
                 (long long)st.lease);
        r = send_json(c, 200, reply);
    } else
        r = send_failure(d, c, h, rc, 400, 404);
    api_return(d, h);
    return r;
}

static enum MHD_Result kill_job(daemon_ctx *d, struct MHD_Connection *c, const char *uuid)
{
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    char reply[96];
    int rc = zg_kill(h, uuid);
    if (rc == ZG_OK) {
        snprintf(reply, sizeof reply, "{\"uuid\":\"%s\",\"result\":410}", uuid);
        r = send_json(c, 200, reply);
    } else
        r = send_failure(d, c, h, rc, 409, 404);
    api_return(d, h);
    return r;
}

/* Sends what b collected (an open_memstream) as the body. */
static enum MHD_Result send_stream(struct MHD_Connection *c, unsigned status, const char *type,
                                   FILE *b, char **text)
{
    fclose(b); /* sets *text */
    enum MHD_Result r = send_full(c, status, type, *text ? *text : "", NULL, NULL);
    free(*text);
    return r;
}

/* POST /kick/<queue>[?n=N]: buried jobs back to waiting ({"kicked":n}); GET /buried/<queue>:
 * the buried jobs as a JSON array. */
static enum MHD_Result buried(daemon_ctx *d, struct MHD_Connection *c, const char *name,
                              const char *queue)
{
    const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
    long long count = 0;                  /* 0: all */
    if (strcmp(name, "kick") == 0 && n) { /* as `zerog kick QUEUE N`: a whole number >= 1 */
        char *end;
        errno = 0;
        count = strtoll(n, &end, 10);
        if (!*n || strspn(n, "0123456789") != strlen(n) || *end || errno || count < 1)
            return send_error(c, 400, "n must be a whole number > 0");
    }
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    if (strcmp(name, "kick") == 0) {
        int64_t moved = 0;
        int rc = zg_kick(h, queue, count, &moved);
        char reply[64];
        snprintf(reply, sizeof reply, "{\"kicked\":%lld}", (long long)moved);
        r = rc == ZG_OK ? send_json(c, 200, reply) : send_failure(d, c, h, rc, 400, 404);
    } else {
        char *json = NULL;
        int rc = zg_buried(h, queue, &json);
        r = rc == ZG_OK ? send_json(c, 200, json) : send_failure(d, c, h, rc, 400, 404);
        zg_free(json);
    }
    api_return(d, h);
    return r;
}

/* ---- finding and steering jobs (GET /jobs, POST /retry, DELETE /job, POST /purge, GET /stats)
 * The filters are the commands' (index.c): state (repeatable, or a comma list), type, queue, and
 * limit, cursor, since for a listing, olderThan for a purge. An unknown or repeated parameter or a
 * bad value is 400 naming it. */

typedef enum filter_use { FILTER_LIST, FILTER_PURGE, FILTER_STATS } filter_use;

typedef struct job_filter {
    filter_use use;
    zg_list_filter f;
    int64_t older_than_ms;
    const char *limit, *since, *older; /* as given, checked by check_filter */
    char type[ZG_NAME_LEN], queue[ZG_NAME_LEN], cursor[96], older_text[40];
    int given; /* how many parameters */
    char error[200];
} job_filter;

/* Takes one parameter (name = text); 0 after writing why not into fl->error. */
static int filter_param(job_filter *fl, const char *name, const char *text)
{
    fl->given++;
    if (strcmp(name, "state") == 0 && fl->use != FILTER_STATS) {
        if (!cli_states(text, &fl->f.states)) {
            snprintf(fl->error, sizeof fl->error,
                     "unknown state \"%.40s\" (waiting, delayed, running, succeeded, failed, "
                     "buried, parked)",
                     text);
            return 0;
        }
        return 1;
    }
    struct {
        const char *name;
        char *buf;
        size_t size;
        int allowed;
    } texts[] = {{"type", fl->type, sizeof fl->type, fl->use != FILTER_STATS},
                 {"queue", fl->queue, sizeof fl->queue, 1},
                 {"cursor", fl->cursor, sizeof fl->cursor, fl->use == FILTER_LIST},
                 {"olderThan", fl->older_text, sizeof fl->older_text, fl->use == FILTER_PURGE}};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (strcmp(name, texts[i].name) != 0 || !texts[i].allowed) continue;
        if (texts[i].buf[0]) {
            snprintf(fl->error, sizeof fl->error, "%s is given twice", name);
            return 0;
        }
        if (!*text || strlen(text) >= texts[i].size) {
            snprintf(fl->error, sizeof fl->error, "%s must be 1 to %zu bytes", name,
                     texts[i].size - 1);
            return 0;
        }
        memcpy(texts[i].buf, text, strlen(text) + 1);
        return 1;
    }
    const char **raw = fl->use != FILTER_LIST       ? NULL
                       : strcmp(name, "limit") == 0 ? &fl->limit
                       : strcmp(name, "since") == 0 ? &fl->since
                                                    : NULL;
    if (raw && *raw) {
        snprintf(fl->error, sizeof fl->error, "%s is given twice", name);
        return 0;
    }
    if (raw) {
        *raw = text;
        return 1;
    }
    snprintf(fl->error, sizeof fl->error, "unknown parameter %.60s", name);
    return 0;
}

static enum MHD_Result query_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    job_filter *fl = cls;
    return filter_param(fl, key, value ? value : "") ? MHD_YES : MHD_NO;
}

/* The filter of a JSON body: {"state": "failed"|["failed", ...], "type", "queue", "olderThan"},
 * every value a string. */
static int body_filter(job_filter *fl, const char *body)
{
    const char *end = zg_json_value_end(body);
    const char *p = zg_json_blanks(body);
    if (!end || *zg_json_blanks(end) || *p != '{') {
        snprintf(fl->error, sizeof fl->error, "the body is not a JSON object");
        return 0;
    }
    p = zg_json_blanks(p + 1);
    while (*p != '}') {
        char key[32], text[ZG_NAME_LEN];
        if (!zg_json_text(p, key, sizeof key)) {
            snprintf(fl->error, sizeof fl->error, "the body is not a JSON object");
            return 0;
        }
        const char *value = zg_json_blanks(zg_json_value_end(p));
        value = zg_json_blanks(value + 1); /* past ':' */
        int ok = 1;
        if (strcmp(key, "state") == 0 && *value == '[') {
            for (const char *item = zg_json_first(value); item && ok; item = zg_json_next(item))
                ok = zg_json_text(item, text, sizeof text) && filter_param(fl, key, text);
        } else {
            ok = zg_json_text(value, text, sizeof text) && filter_param(fl, key, text);
        }
        if (!ok) {
            if (!fl->error[0])
                snprintf(fl->error, sizeof fl->error,
                         "%.30s must be a string (of at most %d bytes)", key, ZG_NAME_LEN - 1);
            return 0;
        }
        p = zg_json_skip(value);
        if (*p == ',') p = zg_json_blanks(p + 1);
    }
    return 1;
}

/* Reads the query (and for a purge, the body: one or the other) and checks every value. */
static int read_filter(job_filter *fl, struct MHD_Connection *c, const char *body)
{
    if (MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_param, fl) < 0 || fl->error[0])
        return 0;
    if (fl->use == FILTER_PURGE && *zg_json_blanks(body)) {
        if (fl->given) {
            snprintf(fl->error, sizeof fl->error,
                     "give the filters in the query or in the body, not both");
            return 0;
        }
        if (!body_filter(fl, body)) return 0;
    }
    double limit = 0;
    if (fl->limit && !cli_number_valid("--limit", fl->limit, &limit)) {
        snprintf(fl->error, sizeof fl->error, "limit must be a whole number from 1 to %d",
                 ZG_LIST_MAX_LIMIT);
        return 0;
    }
    fl->f.limit = (size_t)limit;
    if (fl->since && !cli_parse_time(fl->since, cli_now_ms(), &fl->f.since_ms)) {
        snprintf(fl->error, sizeof fl->error,
                 "since takes ISO 8601 (2026-11-29T20:00:00Z) or a duration ago (30s, 10m, 2h, "
                 "7d)");
        return 0;
    }
    if (fl->older_text[0] && !cli_parse_duration(fl->older_text, &fl->older_than_ms)) {
        snprintf(fl->error, sizeof fl->error, "olderThan takes a duration (30s, 10m, 2h, 7d)");
        return 0;
    }
    unsigned finished = (1u << ZG_JOBS_SUCCEEDED) | (1u << ZG_JOBS_FAILED);
    if (fl->use == FILTER_PURGE && (!fl->f.states || (fl->f.states & ~finished))) {
        snprintf(fl->error, sizeof fl->error,
                 "a purge takes state succeeded and/or failed: only finished jobs are purged");
        return 0;
    }
    fl->f.job_type = fl->type[0] ? fl->type : NULL;
    fl->f.queue = fl->queue[0] ? fl->queue : NULL;
    fl->f.cursor = fl->cursor[0] ? fl->cursor : NULL;
    return 1;
}

static enum MHD_Result list_jobs(daemon_ctx *d, struct MHD_Connection *c)
{
    job_filter fl = {.use = FILTER_LIST};
    if (!read_filter(&fl, c, "")) return send_error(c, 400, fl.error);
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    zg_job_page page;
    int rc = zg_list(h, &fl.f, &page);
    if (rc != ZG_OK) {
        r = send_failure(d, c, h, rc, 400, 404);
        api_return(d, h);
        return r;
    }
    api_return(d, h);
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (!b) {
        zg_job_page_free(&page);
        return send_error(c, 500, "out of memory");
    }
    fputs("{\"jobs\":[", b);
    for (size_t i = 0; i < page.n; i++) {
        if (i) fputc(',', b);
        cli_job_json(b, &page.jobs[i]);
    }
    if (page.next) /* a cursor is digits, ':', hex digits and '-' */
        fprintf(b, "],\"next\":\"%s\"}", page.next);
    else
        fputs("],\"next\":null}", b);
    zg_job_page_free(&page);
    return send_stream(c, 200, "application/json", b, &text);
}

/* POST /retry/<uuid> and DELETE /job/<uuid>. */
static enum MHD_Result steer_job(daemon_ctx *d, struct MHD_Connection *c, const char *uuid,
                                 int retry)
{
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    int rc = retry ? zg_retry(h, uuid) : zg_delete(h, uuid);
    if (rc == ZG_OK) {
        char reply[96];
        snprintf(reply, sizeof reply, "{\"%s\":true,\"uuid\":\"%s\"}",
                 retry ? "retried" : "deleted", uuid); /* of a uuid's form */
        r = send_json(c, 200, reply);
    } else if (rc == ZG_EEXIST) /* a retry of a job whose unique key another job holds */
        r = send_error(c, 409, zg_errstr(h));
    else
        r = send_failure(d, c, h, rc, 409, 404); /* a retry of a job not failed: 409 */
    api_return(d, h);
    return r;
}

static enum MHD_Result purge(daemon_ctx *d, struct MHD_Connection *c, const char *body,
                             size_t body_len)
{
    job_filter fl = {.use = FILTER_PURGE};
    if (strlen(body) != body_len) return send_error(c, 400, "the body holds a NUL byte");
    if (!read_filter(&fl, c, body)) return send_error(c, 400, fl.error);
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    int64_t deleted = 0;
    int rc = zg_purge(h, &fl.f, fl.older_than_ms, &deleted);
    if (rc == ZG_OK) {
        char reply[64];
        snprintf(reply, sizeof reply, "{\"deleted\":%lld}", (long long)deleted);
        r = send_json(c, 200, reply);
    } else
        r = send_failure(d, c, h, rc, 400, 404);
    api_return(d, h);
    return r;
}

static enum MHD_Result stats(daemon_ctx *d, struct MHD_Connection *c)
{
    job_filter fl = {.use = FILTER_STATS};
    if (!read_filter(&fl, c, "")) return send_error(c, 400, fl.error);
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    zg_type_counts *rows = NULL;
    size_t n = 0;
    int rc = zg_stats_by_type(h, fl.f.queue, &rows, &n);
    if (rc != ZG_OK) {
        r = send_failure(d, c, h, rc, 400, 404);
        api_return(d, h);
        return r;
    }
    api_return(d, h);
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (b) cli_type_counts_json(b, rows, n);
    zg_free(rows);
    return b ? send_stream(c, 200, "application/json", b, &text)
             : send_error(c, 500, "out of memory");
}

/* GET /types: the loaded job types with their SCHEMA (the dashboard's submit form). */
static enum MHD_Result types(daemon_ctx *d, struct MHD_Connection *c)
{
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    char *json = NULL;
    int rc = zg_types(h, &json);
    r = rc == ZG_OK ? send_json(c, 200, json) : send_failure(d, c, h, rc, 400, 404);
    api_return(d, h);
    zg_free(json);
    return r;
}

/* GET /activity[?after=SEQ]: finished and failed runs per minute over the last hour and the
 * events after SEQ (activity.c); no store needed. */
static enum MHD_Result activity_route(daemon_ctx *d, struct MHD_Connection *c)
{
    const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    unsigned long long seq = 0;
    if (after) {
        char *end;
        errno = 0;
        seq = strtoull(after, &end, 10);
        if (!*after || strspn(after, "0123456789") != strlen(after) || *end || errno)
            return send_error(c, 400, "after must be a whole number >= 0");
    }
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (!b) return send_error(c, 500, "out of memory");
    activity_json(&d->activity, seq, wall_ms(), b);
    return send_stream(c, 200, "application/json", b, &text);
}

static enum MHD_Result workers(daemon_ctx *d, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (!b) return send_error(c, 500, "out of memory");
    supervisor_json(d->sup, b);
    return send_stream(c, 200, "application/json", b, &text);
}

/* /health: a fresh ping on a free API host (bounded by the store timeout), or the monitor's
 * latest finding when every host is busy; 503 while the store is down or no worker is alive,
 * "degraded" while a script failed to load or fewer workers live than wanted. */
static enum MHD_Result health(daemon_ctx *d, struct MHD_Connection *c)
{
    char reason[512], *scripts = NULL;
    zg_host *h = api_borrow(d, 200);
    if (h) {
        int rc = zg_ping(h);
        store_seen(d, rc == ZG_OK, zg_errstr(h));
        zg_scripts(h, &scripts);
        api_return(d, h);
    }
    int up = store_up(d, reason, sizeof reason);
    int failed = scripts && !strstr(scripts, "\"failed\":[]");
    char quoted[600];
    json_quote(quoted, sizeof quoted, reason);
    pthread_mutex_lock(&d->sup->lock);
    int alive = supervisor_alive(d->sup), draining = d->sup->draining, n = d->sup->n;
    pthread_mutex_unlock(&d->sup->lock);
    /* no worker alive (each dies as it starts, say): nothing runs, whatever the store says */
    int no_workers = n > 0 && alive == 0 && !d->retire;
    int serving = up && !no_workers;
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (!b) {
        zg_free(scripts);
        return send_error(c, 500, "out of memory");
    }
    fprintf(b,
            "{\"status\":\"%s\",\"store\":%s,\"draining\":%s,\"workers\":{\"alive\":%d,"
            "\"wanted\":%d},\"scripts\":%s}",
            !serving              ? "unavailable"
            : failed || alive < n ? "degraded"
                                  : "ok",
            quoted, draining ? "true" : "false", alive, n, scripts ? scripts : "null");
    zg_free(scripts);
    return send_stream(c, serving ? 200 : 503, "application/json", b, &text);
}

static enum MHD_Result metrics(daemon_ctx *d, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (!b) return send_error(c, 500, "out of memory");
    metrics_render(d, b, store_up(d, NULL, 0));
    return send_stream(c, 200, "text/plain; version=0.0.4", b, &text);
}

static enum MHD_Result drain(daemon_ctx *d, struct MHD_Connection *c, int on)
{
    if (supervisor_drain(d->sup, on) != 0)
        return send_error(c, 503, "not every worker acknowledged the drain");
    return send_json(c, 200, on ? "{\"draining\":true}" : "{\"draining\":false}");
}

/* ---- dispatch ---- */

/* Compares in time that depends on the given token's length only, not on where it differs. */
static int same_secret(const char *given, const char *want)
{
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char diff = gl != wl;
    for (size_t i = 0; i < gl; i++)
        diff |= (unsigned char)(given[i] ^ want[i % wl]);
    return diff == 0;
}

/* ---- repeatable jobs: POST /schedule/<type> (body {"cron" | "every", "tz", "params",
 * "queue", "catch_up"}) -> 201 {"id"}; GET /schedules -> a JSON array (as `zerog schedules`);
 * DELETE /schedule/<id> -> 200 {"id", "removed": true} ---- */

static enum MHD_Result add_schedule(daemon_ctx *d, struct MHD_Connection *c, const char *type,
                                    const char *body, size_t body_len)
{
    zg_schedule def;
    memset(&def, 0, sizeof def);
    const char *blank = zg_json_blanks(body);
    if (strlen(body) != body_len || *blank != '{' || !zg_json_value_end(blank) ||
        *zg_json_blanks(zg_json_value_end(blank)))
        return send_error(c, 400, "the body must be a JSON object {\"cron\" | \"every\", ...}");
    double every = 0;
    char catch_up[16] = "once";
    int has_cron = zg_json_member(body, "cron") != NULL;
    int has_every = zg_json_member(body, "every") != NULL;
    if (has_cron == has_every)
        return send_error(c, 400, "give one of cron (a cron rule) and every (seconds)");
    if (has_cron && !zg_json_string_field(body, "cron", def.rule, sizeof def.rule))
        return send_error(c, 400, "cron must be a string (a cron rule)");
    if (has_every && (!zg_json_number_field(body, "every", &every) || !(every >= 1)))
        return send_error(c, 400, "every must be a number of seconds >= 1");
    if (has_every) snprintf(def.rule, sizeof def.rule, "@every:%.17g", every);
    if (zg_json_member(body, "tz") && !zg_json_string_field(body, "tz", def.tz, sizeof def.tz))
        return send_error(c, 400, "tz must be a zone name such as \"Europe/Paris\"");
    if (zg_json_member(body, "queue") &&
        !zg_json_string_field(body, "queue", def.queue, sizeof def.queue))
        return send_error(c, 400, "queue must be a string");
    if (zg_json_member(body, "catch_up") &&
        (!zg_json_string_field(body, "catch_up", catch_up, sizeof catch_up) ||
         (strcmp(catch_up, "once") != 0 && strcmp(catch_up, "skip") != 0)))
        return send_error(c, 400, "catch_up must be \"once\" or \"skip\"");
    def.catch_up = strcmp(catch_up, "skip") == 0 ? ZG_CATCH_UP_SKIP : ZG_CATCH_UP_ONCE;
    if (strlen(type) >= sizeof def.job_type) return send_error(c, 404, "no such job type");
    snprintf(def.job_type, sizeof def.job_type, "%s", type);
    const char *params = zg_json_member(body, "params");
    char *copy = NULL;
    if (params) {
        const char *end = zg_json_value_end(params);
        if (*params != '{' || !end) return send_error(c, 400, "params must be a JSON object");
        copy = strndup(params, (size_t)(end - params));
        if (!copy) return send_error(c, 500, "out of memory");
    }
    def.params = copy;
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) {
        free(copy);
        return r;
    }
    char id[ZG_NAME_LEN + 8], reply[ZG_NAME_LEN + 32];
    int rc = zg_schedule_add(h, &def, id);
    if (rc == ZG_OK) {
        snprintf(reply, sizeof reply, "{\"id\":\"%s\"}", id);
        r = send_json(c, 201, reply);
    } else
        r = send_failure(d, c, h, rc, 400, 404);
    api_return(d, h);
    free(copy);
    return r;
}

static enum MHD_Result list_schedules(daemon_ctx *d, struct MHD_Connection *c)
{
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    zg_schedule *rows = NULL;
    size_t n = 0;
    int rc = zg_schedule_list(h, &rows, &n);
    if (rc == ZG_OK) {
        char *text = NULL;
        size_t len = 0;
        FILE *b = open_memstream(&text, &len);
        if (!b) {
            r = send_error(c, 500, "out of memory");
        } else {
            fputc('[', b);
            for (size_t i = 0; i < n; i++) {
                if (i) fputc(',', b);
                cli_print_schedule(b, &rows[i]);
            }
            fputc(']', b);
            r = send_stream(c, 200, "application/json", b, &text);
        }
    } else
        r = send_failure(d, c, h, rc, 400, 404);
    zg_schedules_free(rows, n);
    api_return(d, h);
    return r;
}

static enum MHD_Result remove_schedule(daemon_ctx *d, struct MHD_Connection *c, const char *id)
{
    enum MHD_Result r;
    zg_host *h = borrow_for(d, c, &r);
    if (!h) return r;
    int rc = zg_schedule_remove(h, id);
    if (rc == ZG_OK) {
        char reply[ZG_NAME_LEN + 48];
        snprintf(reply, sizeof reply, "{\"id\":\"%.*s\",\"removed\":true}",
                 (int)utf8_cut(id, ZG_NAME_LEN), id);
        r = send_json(c, 200, reply);
    } else
        r = send_failure(d, c, h, rc, 400, 404);
    api_return(d, h);
    return r;
}

static int authorized(daemon_ctx *d, struct MHD_Connection *c)
{
    if (!d->auth_token) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return same_secret(h, d->auth_token);
}

/* Whether a browser sent the request from a page of another origin: its Origin header is not
 * "http://" or "https://" (a proxy in front that ends TLS) followed by the request's Host ("null",
 * from a sandboxed frame or a file, is another origin too). Browsers send Origin with every POST
 * and DELETE and with cross-origin reads, so without a token this refuses what any web page the
 * operator visits could otherwise send to a daemon on localhost (a form or a no-cors fetch needs no
 * CORS preflight): submit, purge, drain. Requests without Origin (curl, the CLI, other programs)
 * are not browsers' and pass. */
static int cross_origin(struct MHD_Connection *c)
{
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin) return 0;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    size_t scheme = strncasecmp(origin, "http://", 7) == 0    ? 7
                    : strncasecmp(origin, "https://", 8) == 0 ? 8
                                                              : 0;
    return !host || !scheme || strcasecmp(origin + scheme, host) != 0;
}

/* Without a token: whether the request names the daemon by a DNS name (its Host header is not
 * an IP address or localhost, with or without a port). A web page that rebinds its own name to
 * 127.0.0.1 (DNS rebinding) is of the same origin as the daemon, so the Origin check lets it
 * through; but the browser still sends the page's name as Host, and that is refused here. A
 * request without Host (HTTP/1.0, not a browser's) passes. */
static int named_host(struct MHD_Connection *c)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!host || host[0] == '[') return 0; /* [IPv6]:port */
    char name[256];
    size_t n = strcspn(host, ":");
    if (n >= sizeof name) return 1;
    memcpy(name, host, n);
    name[n] = '\0';
    struct in_addr v4;
    return strcasecmp(name, "localhost") != 0 && inet_pton(AF_INET, name, &v4) != 1;
}

/* The route's name and the rest of the path after it ("/info/<uuid>" -> "info", "<uuid>"). */
static void split(const char *url, char *route, size_t size, const char **rest)
{
    const char *p = url[0] == '/' ? url + 1 : url;
    size_t n = strcspn(p, "/");
    snprintf(route, size, "%.*s", (int)(n < size ? n : size - 1), p);
    *rest = p[n] == '/' ? p + n + 1 : "";
}

/* The form of a job's uuid: 36 characters, hex digits and dashes. */
static int uuid_form(const char *s)
{
    return strlen(s) == 36 && strspn(s, "0123456789abcdefABCDEF-") == 36;
}

/* Whether method is one of the route's methods ("POST" or "POST, DELETE"). */
static int allows(const char *methods, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = methods; (p = strstr(p, method)) != NULL; p += n)
        if ((p == methods || p[-1] == ' ') && (p[n] == '\0' || p[n] == ',')) return 1;
    return 0;
}

/* The API's routes: name (the path's first part), methods, whether a job's uuid (or another
 * name) follows, and whether the route reads the request's body (only those keep one). */
static const struct {
    const char *name;
    const char *method; /* or two: "POST, DELETE" */
    int takes_id;
    int takes_body;
} routes[] = {{"job", "POST, DELETE", 0, 1},
              {"progress", "GET", 1, 0},
              {"info", "GET", 1, 0},
              {"state", "GET", 1, 0},
              {"data", "GET", 1, 0},
              {"dump", "GET", 1, 0},
              {"kill", "POST", 1, 0},
              {"workers", "GET", 0, 0},
              {"drain", "POST", 0, 0},
              {"undrain", "POST", 0, 0},
              {"retire", "POST", 0, 0},
              {"health", "GET", 0, 0},
              {"metrics", "GET", 0, 0},
              {"kick", "POST", 1, 0},
              {"buried", "GET", 1, 0},
              {"jobs", "GET", 0, 0},
              {"retry", "POST", 1, 0},
              {"purge", "POST", 0, 1},
              {"stats", "GET", 0, 0},
              {"types", "GET", 0, 0},
              {"activity", "GET", 0, 0},
              /* repeatable jobs */
              {"schedule", "POST, DELETE", 1, 1},
              {"schedules", "GET", 0, 0}};

/* What a request must pass before anything of its body is kept: a route and a method it has,
 * the bearer token, the origin rules. Returns the route's index (*rest: the path after the
 * route's name), or -1 with the refusal queued in *answer. handle() asks at the headers, so a
 * client without the token is answered at once and cannot make the daemon hold --max-body
 * bytes per connection (a body was read whole before the token was looked at). */
static int admitted(daemon_ctx *d, struct MHD_Connection *c, const char *url, const char *method,
                    const char **rest, enum MHD_Result *answer)
{
    char name[32];
    split(url, name, sizeof name, rest);
    size_t i;
    for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(routes[i].name, name) == 0) break;
    if (i == sizeof routes / sizeof routes[0] || (routes[i].takes_id && !**rest) ||
        (!routes[i].takes_id && **rest && strcmp(name, "job") != 0)) {
        *answer = send_error(c, 404, "no such route");
        return -1;
    }
    if (!allows(routes[i].method, method)) {
        *answer = send_full(c, 405, "application/json", "{\"error\":\"method not allowed\"}",
                            "Allow", routes[i].method);
        return -1;
    }
    int open = strcmp(name, "health") == 0; /* the one route without the token */
    if (!open && !authorized(d, c)) {
        *answer = send_error_with(c, 401, "missing or wrong bearer token", "WWW-Authenticate",
                                  "Bearer realm=\"zerog\"");
        return -1;
    }
    if (!open && !d->auth_token && cross_origin(c)) {
        *answer = send_error(c, 403,
                             "a request from a web page of another origin needs --auth-token "
                             "(without a token, only the dashboard of this address may call the "
                             "API)");
        return -1;
    }
    if (!open && !d->auth_token && named_host(c)) {
        *answer =
            send_error(c, 403,
                       "without --auth-token the daemon answers only requests that name it "
                       "by IP address or localhost (a DNS name could be a rebinding web page)");
        return -1;
    }
    return (int)i;
}

static enum MHD_Result route(daemon_ctx *d, struct MHD_Connection *c, const char *url,
                             const char *method, const char *body, size_t body_len)
{
    int page;
    if (dashboard_serve(c, url, method, &page)) return (enum MHD_Result)page; /* no token */
    const char *rest;
    enum MHD_Result answer;
    int i = admitted(d, c, url, method, &rest, &answer);
    if (i < 0) return answer;
    const char *name = routes[i].name;
    int deletes = strcmp(method, "DELETE") == 0; /* DELETE /job/<uuid> */
    if (deletes && !*rest) return send_error(c, 404, "no such route");
    if (strcmp(name, "job") == 0 && !deletes) return submit(d, c, rest, body, body_len);
    if (strcmp(name, "schedule") == 0) /* repeatable jobs: a type or a schedule id, not a uuid */
        return deletes ? remove_schedule(d, c, rest) : add_schedule(d, c, rest, body, body_len);
    if (strcmp(name, "schedules") == 0) return list_schedules(d, c);
    if ((routes[i].takes_id || deletes) && strcmp(name, "kick") != 0 &&
        strcmp(name, "buried") != 0 &&
        !uuid_form(rest)) { /* not a job's uuid: named by its start only, not echoed whole */
        char msg[80];
        snprintf(msg, sizeof msg, "no job %.*s", (int)utf8_cut(rest, 64), rest);
        return send_error(c, 404, msg);
    }
    if (deletes) return steer_job(d, c, rest, 0);
    if (strcmp(name, "retry") == 0) return steer_job(d, c, rest, 1);
    if (strcmp(name, "jobs") == 0) return list_jobs(d, c);
    if (strcmp(name, "purge") == 0) return purge(d, c, body, body_len);
    if (strcmp(name, "stats") == 0) return stats(d, c);
    if (strcmp(name, "types") == 0) return types(d, c);
    if (strcmp(name, "activity") == 0) return activity_route(d, c);
    if (strcmp(name, "kill") == 0) return kill_job(d, c, rest);
    if (strcmp(name, "state") == 0) return job_state(d, c, rest);
    if (strcmp(name, "kick") == 0 || strcmp(name, "buried") == 0) return buried(d, c, name, rest);
    if (strcmp(name, "workers") == 0) return workers(d, c);
    if (strcmp(name, "health") == 0) return health(d, c);
    if (strcmp(name, "metrics") == 0) return metrics(d, c);
    if (strcmp(name, "drain") == 0) return drain(d, c, 1);
    if (strcmp(name, "undrain") == 0) return drain(d, c, 0);
    if (strcmp(name, "retire") == 0) {
        d->retire = 1;
        return send_json(c, 200, "{\"retiring\":true}");
    }
    zg_view view = strcmp(name, "progress") == 0 ? ZG_VIEW_PROGRESS
                   : strcmp(name, "info") == 0   ? ZG_VIEW_INFO
                   : strcmp(name, "data") == 0   ? ZG_VIEW_DATA
                                                 : ZG_VIEW_FIELDS;
    const char *logs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "showLogs");
    if (view == ZG_VIEW_FIELDS && logs && strcmp(logs, "true") == 0) view = ZG_VIEW_DUMP;
    return read_job(d, c, view, rest);
}

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind, (void)value;
    int *n = cls;
    if (strcasecmp(key, "Content-Length") == 0 || strcasecmp(key, "Transfer-Encoding") == 0) (*n)++;
    return MHD_YES;
}

/* Whether the body's length is said more than once (two Content-Length headers, or one with
 * Transfer-Encoding): a proxy in front may read the body's end elsewhere than libmicrohttpd does,
 * so one request could hide another; refused. */
static int ambiguous_length(struct MHD_Connection *c)
{
    int n = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &n);
    return n > 1;
}

static http_watched *watched_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    daemon_ctx *d = cls;
    request *req = *state;
    if (!req) { /* headers only: the body (if any) comes next */
        if (ambiguous_length(c)) {
            http_deadline_arrived(watched_of(c));
            return send_full(c, 400, "application/json",
                             "{\"error\":\"the body's length is given twice (Content-Length, "
                             "Transfer-Encoding)\"}",
                             "Connection", "close");
        }
        /* a request with a body is refused before its body is read (the dashboard's files and
         * a preflight need no token, and keep no body); one without is refused by route(), as
         * an answer queued here closes the connection (a kept-alive client's next requests with
         * it) */
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        int has_body =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") != NULL ||
            (length && strspn(length, "0") != strlen(length));
        int keeps_body = 0;
        if (has_body && strcmp(method, "OPTIONS") != 0 && !dashboard_path(url)) {
            const char *rest;
            enum MHD_Result answer;
            int i = admitted(d, c, url, method, &rest, &answer);
            if (i < 0) {
                http_deadline_arrived(watched_of(c));
                return answer;
            }
            keeps_body = routes[i].takes_body;
        }
        req = calloc(1, sizeof *req);
        if (!req || (keeps_body && !(req->in = open_memstream(&req->body, &req->len)))) {
            free(req);
            return MHD_NO;
        }
        *state = req;
        return MHD_YES;
    }
    if (*upload_size) { /* (a route that reads no body: counted, not kept) */
        req->seen += *upload_size;
        if (req->seen > d->max_body)
            req->too_large = 1;
        else if (req->in)
            fwrite(upload, 1, *upload_size, req->in);
        *upload_size = 0;
        return MHD_YES;
    }
    http_deadline_arrived(watched_of(c)); /* handled and answered without a deadline */
    if (strcmp(method, "OPTIONS") == 0) return send_full(c, 204, "text/plain", "", NULL, NULL);
    if (req->too_large) return send_error(c, 413, "the body is over the size limit");
    if (req->in) fflush(req->in);
    return route(d, c, url, method, req->body ? req->body : "", req->body ? req->len : 0);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)code;
    http_deadline_answered(watched_of(c)); /* the next request on it has the deadline again */
    request *req = *state;
    if (req) {
        if (req->in) fclose(req->in);
        free(req->body);
        free(req);
    }
    *state = NULL;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes %XX in the path and the query string in place, as libmicrohttpd does, but leaves
 * "%00" as it is: a decoded NUL would end the C string there, so "/job/v%00x" would submit to
 * "v" and "?delay=1%00x" take delay 1. Kept, such a name or value is refused like any other. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *text)
{
    (void)cls, (void)c;
    char *out = text;
    for (const char *in = text; *in; in++) {
        int hi = in[0] == '%' ? hex_digit(in[1]) : -1, lo = hi >= 0 ? hex_digit(in[2]) : -1;
        if (lo >= 0 && (hi || lo)) {
            *out++ = (char)(hi * 16 + lo);
            in += 2;
        } else
            *out++ = *in;
    }
    *out = '\0';
    return (size_t)(out - text);
}

static void connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode code)
{
    http_deadline *dl = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? http_deadline_opened(dl, info->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        http_deadline_closed(*socket_context);
        *socket_context = NULL;
    }
}

typedef struct http_server {
    struct MHD_Daemon *mhd;
    http_deadline *deadline;
} http_server;

void *http_start(daemon_ctx *d, int listen_fd, int ipv6, char *err, size_t errlen)
{
    http_server *server = calloc(1, sizeof *server);
    if (server) server->deadline = http_deadline_start(HTTP_DEADLINE_TIMES * d->limits.timeout_s);
    if (!server || !server->deadline) {
        free(server);
        snprintf(err, errlen, "cannot start the HTTP server: out of memory or threads");
        return NULL;
    }
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | (ipv6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *m = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, d, MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_CONNECTION_TIMEOUT, d->limits.timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        d->limits.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, d->limits.per_ip,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1 << 20), MHD_OPTION_NOTIFY_COMPLETED, completed, d,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_NOTIFY_CONNECTION,
        connection_event, server->deadline, MHD_OPTION_END);
    if (!m) {
        snprintf(err, errlen, "cannot start the HTTP server");
        http_deadline_stop(server->deadline);
        free(server);
        return NULL;
    }
    server->mhd = m;
    return server;
}

void http_stop(void *server)
{
    http_server *s = server;
    MHD_stop_daemon(s->mhd); /* closes every connection first */
    http_deadline_stop(s->deadline);
    free(s);
}
