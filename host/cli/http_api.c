/* http_api: the HTTP API of zerog serve, on libmicrohttpd (one internal thread, so the handlers
 * share one host under a lock). Every response is JSON (but /metrics) and carries ZeroG's CORS
 * headers; OPTIONS is answered 204. With an auth token, every route but /health wants
 * "Authorization: Bearer <token>" (401). A body over the limit is 413; a wrong method, 405.
 *   POST /job/{jobType} (or the body's jobType)   201 {"uuid"} | 400 {"error"}
 *   GET  /progress|info|data|dump/{uuid}          200 | 404 (dump: ?showLogs=true adds the lists)
 *   POST /kill/{uuid}   GET /workers   POST /drain /undrain /retire   GET /health   GET /metrics
 *   POST /kick/{queue}[?n=N]   GET /buried/{queue} */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "json_out.h"

const double metric_bounds[METRIC_BUCKETS] = {0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600};

typedef struct request {
    char *body; /* the request body, written through `in` */
    size_t len;
    FILE *in;
    int too_large;
} request;

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *body, const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Allow-Headers", "Content-Type, Authorization");
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    if (allow) MHD_add_response_header(r, "Allow", allow);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const char *json)
{
    return send_text(c, status, "application/json", json, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char body[4096], quoted[4000];
    json_quote(quoted, sizeof quoted, msg);
    snprintf(body, sizeof body, "{\"error\": %s}", quoted);
    return send_json(c, status, body);
}

static unsigned status_for(int rc)
{
    return rc == ZG_ENOTFOUND ? 404 : rc == ZG_EINVAL || rc == ZG_ESCRIPT ? 400 : 500;
}

/* ---- routes ---- */

static enum MHD_Result submit(daemon_ctx *d, struct MHD_Connection *c, const char *type,
                              const char *body)
{
    char uuid[ZG_UUID_LEN], reply[80];
    pthread_mutex_lock(&d->api_lock);
    int rc = zg_submit(d->api, *type ? type : NULL, body, NULL, uuid);
    enum MHD_Result r;
    if (rc == ZG_OK) {
        snprintf(reply, sizeof reply, "{\"uuid\": \"%s\"}", uuid);
        r = send_json(c, 201, reply);
    } else
        r = send_error(c, rc == ZG_ESTORE ? 500 : 400, zg_errstr(d->api));
    pthread_mutex_unlock(&d->api_lock);
    return r;
}

static enum MHD_Result read_job(daemon_ctx *d, struct MHD_Connection *c, zg_view view,
                                const char *uuid)
{
    char *json = NULL;
    pthread_mutex_lock(&d->api_lock);
    int rc = zg_read(d->api, view, uuid, &json);
    enum MHD_Result r =
        rc == ZG_OK ? send_json(c, 200, json) : send_error(c, status_for(rc), zg_errstr(d->api));
    pthread_mutex_unlock(&d->api_lock);
    zg_free(json);
    return r;
}

static enum MHD_Result kill_job(daemon_ctx *d, struct MHD_Connection *c, const char *uuid)
{
    char reply[96];
    pthread_mutex_lock(&d->api_lock);
    int rc = zg_kill(d->api, uuid);
    enum MHD_Result r;
    if (rc == ZG_OK) {
        snprintf(reply, sizeof reply, "{\"uuid\": \"%s\", \"result\": 410}", uuid);
        r = send_json(c, 200, reply);
    } else
        r = send_error(c, rc == ZG_EINVAL ? 409 : status_for(rc), zg_errstr(d->api));
    pthread_mutex_unlock(&d->api_lock);
    return r;
}

/* POST /kick/<queue>[?n=N]: buried jobs back to waiting ({"kicked": n}); GET /buried/<queue>:
 * the buried jobs as a JSON array. */
static enum MHD_Result buried(daemon_ctx *d, struct MHD_Connection *c, const char *name,
                              const char *queue)
{
    pthread_mutex_lock(&d->api_lock);
    enum MHD_Result r;
    if (strcmp(name, "kick") == 0) {
        const char *n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n");
        int64_t moved = 0;
        int rc = zg_kick(d->api, queue, n ? atoll(n) : 0, &moved);
        char reply[64];
        snprintf(reply, sizeof reply, "{\"kicked\": %lld}", (long long)moved);
        r = rc == ZG_OK ? send_json(c, 200, reply) : send_error(c, status_for(rc), zg_errstr(d->api));
    } else {
        char *json = NULL;
        int rc = zg_buried(d->api, queue, &json);
        r = rc == ZG_OK ? send_json(c, 200, json) : send_error(c, status_for(rc), zg_errstr(d->api));
        zg_free(json);
    }
    pthread_mutex_unlock(&d->api_lock);
    return r;
}

static enum MHD_Result workers(daemon_ctx *d, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (!b) return send_error(c, 500, "out of memory");
    fputs("[", b);
    for (int i = 0; i < d->shared->nworkers; i++) {
        worker_slot *s = &d->shared->slots[i];
        const char *state = !s->pid               ? "starting"
                            : s->busy             ? "running"
                            : d->shared->draining ? "drained"
                                                  : "idle";
        fprintf(b,
                "%s{\"worker\": \"w%d\", \"pid\": %d, \"state\": \"%s\", \"job\": ", i ? ", " : "",
                i + 1, (int)s->pid, state);
        if (s->busy)
            fprintf(b, "{\"uuid\": \"%s\", \"queue\": \"%s\", \"since_ms\": %lld}", s->uuid,
                    s->queue, (long long)s->since_ms);
        else
            fputs("null", b);
        fputs("}", b);
    }
    fputs("]", b);
    fclose(b);
    char *json = text;
    enum MHD_Result r = send_json(c, 200, json ? json : "[]");
    free(json);
    return r;
}

static enum MHD_Result health(daemon_ctx *d, struct MHD_Connection *c)
{
    char *scripts = NULL;
    zg_queue_counts counts;
    pthread_mutex_lock(&d->api_lock);
    int store_ok = zg_queue_counts_get(d->api, "zerog_health", &counts) == ZG_OK;
    char store_err[512];
    snprintf(store_err, sizeof store_err, "%s", store_ok ? "ok" : zg_errstr(d->api));
    zg_scripts(d->api, &scripts);
    pthread_mutex_unlock(&d->api_lock);
    int failed = scripts && !strstr(scripts, "\"failed\":[]");
    char quoted[600];
    json_quote(quoted, sizeof quoted, store_err);
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (!b) {
        zg_free(scripts);
        return send_error(c, 500, "out of memory");
    }
    fprintf(b, "{\"status\": \"%s\", \"store\": %s, \"draining\": %s, \"scripts\": %s}",
            store_ok && !failed ? "ok" : "degraded", quoted, d->shared->draining ? "true" : "false",
            scripts ? scripts : "null");
    zg_free(scripts);
    fclose(b);
    char *json = text;
    enum MHD_Result r = send_json(c, store_ok ? 200 : 503, json ? json : "{}");
    free(json);
    return r;
}

/* ---- metrics ---- */

static type_metrics *metrics_for(daemon_ctx *d, const char *type)
{
    for (int i = 0; i < d->ntypes; i++)
        if (strcmp(d->metrics[i].type, type) == 0) return &d->metrics[i];
    if (d->ntypes == METRIC_TYPES) return NULL;
    type_metrics *m = &d->metrics[d->ntypes++];
    memset(m, 0, sizeof *m);
    snprintf(m->type, sizeof m->type, "%s", type);
    return m;
}

void metrics_record(daemon_ctx *d, const char *event)
{
    char kind[16], type[ZG_NAME_LEN], outcome[16];
    double result = -1, seconds = 0, error = 0;
    if (!json_string_field(event, "event", kind, sizeof kind) ||
        !json_string_field(event, "jobType", type, sizeof type))
        return;
    pthread_mutex_lock(&d->metrics_lock);
    type_metrics *m = metrics_for(d, type);
    if (m && strcmp(kind, "start") == 0) m->started++;
    if (m && strcmp(kind, "end") == 0) {
        json_number_field(event, "result", &result);
        json_number_field(event, "seconds", &seconds);
        error = strstr(event, "\"error\":true") != NULL;
        if (error) m->errors++;
        if (json_string_field(event, "outcome", outcome, sizeof outcome) &&
            strcmp(outcome, "requeued") == 0)
            m->retries++;
        else {
            int i;
            for (i = 0; i < METRIC_RESULTS && m->results[i] && m->results[i] != (int)result; i++) {
            }
            if (i < METRIC_RESULTS) {
                m->results[i] = (int)result;
                m->finished[i]++;
            }
        }
        for (int b = 0; b < METRIC_BUCKETS; b++)
            if (seconds <= metric_bounds[b]) m->buckets[b]++;
        m->seconds_sum += seconds;
        m->seconds_count++;
    }
    pthread_mutex_unlock(&d->metrics_lock);
}

static void render_queue_depths(daemon_ctx *d, FILE *b)
{
    char *queues = NULL;
    fputs("# HELP zerog_queue_messages Messages per queue and state.\n"
          "# TYPE zerog_queue_messages gauge\n",
          b);
    pthread_mutex_lock(&d->api_lock);
    if (zg_queues(d->api, &queues) == ZG_OK) {
        for (char *q = strchr(queues, '"'); q; q = strchr(q + 1, '"')) {
            char *end = strchr(q + 1, '"');
            if (!end) break;
            *end = '\0';
            zg_queue_counts c;
            if (zg_queue_counts_get(d->api, q + 1, &c) == ZG_OK)
                fprintf(b,
                        "zerog_queue_messages{queue=\"%s\",state=\"ready\"} %lld\n"
                        "zerog_queue_messages{queue=\"%s\",state=\"delayed\"} %lld\n"
                        "zerog_queue_messages{queue=\"%s\",state=\"reserved\"} %lld\n",
                        q + 1, (long long)c.ready, q + 1, (long long)c.delayed, q + 1,
                        (long long)c.reserved);
            q = end;
        }
    }
    pthread_mutex_unlock(&d->api_lock);
    zg_free(queues);
}

static enum MHD_Result metrics(daemon_ctx *d, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (!b) return send_error(c, 500, "out of memory");
    pthread_mutex_lock(&d->metrics_lock);
    fputs(
        "# HELP zerog_jobs_started_total Runs started.\n# TYPE zerog_jobs_started_total counter\n",
        b);
    for (int i = 0; i < d->ntypes; i++)
        fprintf(b, "zerog_jobs_started_total{type=\"%s\"} %ld\n", d->metrics[i].type,
                d->metrics[i].started);
    fputs("# HELP zerog_jobs_finished_total Jobs finished, by result code.\n# TYPE "
          "zerog_jobs_finished_total counter\n",
          b);
    for (int i = 0; i < d->ntypes; i++)
        for (int r = 0; r < METRIC_RESULTS && d->metrics[i].results[r]; r++)
            fprintf(b, "zerog_jobs_finished_total{type=\"%s\",result=\"%d\"} %ld\n",
                    d->metrics[i].type, d->metrics[i].results[r], d->metrics[i].finished[r]);
    fputs("# HELP zerog_job_errors_total Runs that raised an error.\n# TYPE zerog_job_errors_total "
          "counter\n",
          b);
    for (int i = 0; i < d->ntypes; i++)
        fprintf(b, "zerog_job_errors_total{type=\"%s\"} %ld\n", d->metrics[i].type,
                d->metrics[i].errors);
    fputs("# HELP zerog_job_retries_total Runs that ended requeued.\n# TYPE "
          "zerog_job_retries_total counter\n",
          b);
    for (int i = 0; i < d->ntypes; i++)
        fprintf(b, "zerog_job_retries_total{type=\"%s\"} %ld\n", d->metrics[i].type,
                d->metrics[i].retries);
    fputs("# HELP zerog_job_run_seconds Run time.\n# TYPE zerog_job_run_seconds histogram\n", b);
    for (int i = 0; i < d->ntypes; i++) {
        type_metrics *m = &d->metrics[i];
        for (int k = 0; k < METRIC_BUCKETS; k++)
            fprintf(b, "zerog_job_run_seconds_bucket{type=\"%s\",le=\"%g\"} %ld\n", m->type,
                    metric_bounds[k], m->buckets[k]);
        fprintf(b, "zerog_job_run_seconds_bucket{type=\"%s\",le=\"+Inf\"} %ld\n", m->type,
                m->seconds_count);
        fprintf(b, "zerog_job_run_seconds_sum{type=\"%s\"} %g\n", m->type, m->seconds_sum);
        fprintf(b, "zerog_job_run_seconds_count{type=\"%s\"} %ld\n", m->type, m->seconds_count);
    }
    pthread_mutex_unlock(&d->metrics_lock);
    render_queue_depths(d, b);
    int alive = 0;
    for (int i = 0; i < d->shared->nworkers; i++)
        alive += d->shared->slots[i].pid != 0;
    fprintf(b,
            "# HELP zerog_workers Worker processes alive.\n# TYPE zerog_workers "
            "gauge\nzerog_workers %d\n",
            alive);
    fclose(b);
    enum MHD_Result r = send_text(c, 200, "text/plain; version=0.0.4", text ? text : "", NULL);
    free(text);
    return r;
}

/* ---- dispatch ---- */

static int authorized(daemon_ctx *d, struct MHD_Connection *c)
{
    if (!d->auth_token) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    return h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, d->auth_token) == 0;
}

/* The route's name and the rest of the path after it ("/info/<uuid>" -> "info", "<uuid>"). */
static void split(const char *url, char *route, size_t size, const char **rest)
{
    const char *p = url[0] == '/' ? url + 1 : url;
    size_t n = strcspn(p, "/");
    snprintf(route, size, "%.*s", (int)(n < size ? n : size - 1), p);
    *rest = p[n] == '/' ? p + n + 1 : "";
}

static enum MHD_Result route(daemon_ctx *d, struct MHD_Connection *c, const char *url,
                             const char *method, const char *body)
{
    static const struct {
        const char *name;
        const char *method;
        int takes_id;
    } routes[] = {{"job", "POST", 0},    {"progress", "GET", 1}, {"info", "GET", 1},
                  {"data", "GET", 1},    {"dump", "GET", 1},     {"kill", "POST", 1},
                  {"workers", "GET", 0}, {"drain", "POST", 0},   {"undrain", "POST", 0},
                  {"retire", "POST", 0}, {"health", "GET", 0},   {"metrics", "GET", 0},
                  {"kick", "POST", 1},   {"buried", "GET", 1}};
    char name[32];
    const char *rest;
    split(url, name, sizeof name, &rest);
    size_t i;
    for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(routes[i].name, name) == 0) break;
    if (i == sizeof routes / sizeof routes[0] || (routes[i].takes_id && !*rest) ||
        (!routes[i].takes_id && *rest && strcmp(name, "job") != 0))
        return send_error(c, 404, "no such route");
    if (strcmp(method, routes[i].method) != 0)
        return send_text(c, 405, "application/json", "{\"error\": \"method not allowed\"}",
                         routes[i].method);
    if (strcmp(name, "health") != 0 && !authorized(d, c))
        return send_error(c, 401, "missing or wrong bearer token");
    if (strcmp(name, "job") == 0) return submit(d, c, rest, body);
    if (strcmp(name, "kill") == 0) return kill_job(d, c, rest);
    if (strcmp(name, "kick") == 0 || strcmp(name, "buried") == 0) return buried(d, c, name, rest);
    if (strcmp(name, "workers") == 0) return workers(d, c);
    if (strcmp(name, "health") == 0) return health(d, c);
    if (strcmp(name, "metrics") == 0) return metrics(d, c);
    if (strcmp(name, "drain") == 0 || strcmp(name, "undrain") == 0) {
        d->shared->draining = strcmp(name, "drain") == 0;
        return send_json(c, 200,
                         d->shared->draining ? "{\"draining\": true}" : "{\"draining\": false}");
    }
    if (strcmp(name, "retire") == 0) {
        d->retire = 1;
        return send_json(c, 200, "{\"retiring\": true}");
    }
    zg_view view = strcmp(name, "progress") == 0 ? ZG_VIEW_PROGRESS
                   : strcmp(name, "info") == 0   ? ZG_VIEW_INFO
                   : strcmp(name, "data") == 0   ? ZG_VIEW_DATA
                                                 : ZG_VIEW_FIELDS;
    const char *logs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "showLogs");
    if (view == ZG_VIEW_FIELDS && logs && strcmp(logs, "true") == 0) view = ZG_VIEW_DUMP;
    return read_job(d, c, view, rest);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    daemon_ctx *d = cls;
    request *req = *state;
    if (!req) { /* headers only: the body (if any) comes next */
        req = calloc(1, sizeof *req);
        if (!req || !(req->in = open_memstream(&req->body, &req->len))) {
            free(req);
            return MHD_NO;
        }
        *state = req;
        return MHD_YES;
    }
    if (*upload_size) {
        fflush(req->in);
        if (req->len + *upload_size > d->max_body)
            req->too_large = 1;
        else
            fwrite(upload, 1, *upload_size, req->in);
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "OPTIONS") == 0) return send_text(c, 204, "application/json", "", NULL);
    if (req->too_large) return send_error(c, 413, "the body is over the size limit");
    fflush(req->in);
    return route(d, c, url, method, req->body ? req->body : "");
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)c, (void)code;
    request *req = *state;
    if (req) {
        fclose(req->in);
        free(req->body);
        free(req);
    }
    *state = NULL;
}

void *http_start(daemon_ctx *d, const char *listen, char *err, size_t errlen)
{
    char host[256];
    int port;
    if (sscanf(listen, "%255[^:]:%d", host, &port) != 2 || port <= 0 || port > 65535) {
        snprintf(err, errlen, "--listen wants HOST:PORT, got %s", listen);
        return NULL;
    }
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "--listen wants an IPv4 address, got %s", host);
        return NULL;
    }
    struct MHD_Daemon *m =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, handle, d,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_NOTIFY_COMPLETED, completed, d, MHD_OPTION_END);
    if (!m) snprintf(err, errlen, "cannot listen on %s", listen);
    return m;
}

void http_stop(void *server)
{
    MHD_stop_daemon(server);
}
