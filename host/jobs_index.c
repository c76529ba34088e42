/* jobs_index: finding and steering jobs through the stores' index (zg_list, zg_retry,
 * zg_delete, zg_purge, zg_stats_by_type). One code path above both stores: each call asks the
 * store of one queue at a time (on Redis, one queue is one hash slot) and merges the answers, so
 * a listing across queues pages with the same cursor as within one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "host_internal.h"
#include "json_text.h"
#include "lifecycle.h"

#define PURGE_BATCH 100

static const char *const state_names[ZG_JOBS_NSTATES] = {
    "waiting", "delayed", "running", "succeeded", "failed", "buried", "parked"};

const char *zg_jobs_state_name(int state)
{
    return state >= 0 && state < ZG_JOBS_NSTATES ? state_names[state] : NULL;
}

int zg_jobs_state_parse(const char *name)
{
    for (int i = 0; name && i < ZG_JOBS_NSTATES; i++)
        if (strcmp(name, state_names[i]) == 0) return i;
    return -1;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The queues a call covers: the one named (all its shards, for a sharded queue: shards.c), or
 * every queue the store knows (free them with free_names). */
static int queues_of(zg_host *h, const char *queue, char ***names, size_t *n)
{
    if (queue) return zg_host_queue_names(h, queue, names, n);
    return h->store->ops->known_queues(h->store, names, n, &h->err);
}

/* The cursor of a page: the index key of its last row ("<ms>:<uuid>"). Checked so that any
 * text a client sends back is a bound the stores accept. */
static int valid_cursor(const char *c)
{
    size_t len = strlen(c);
    if (len < 17 || len >= ZG_IX_KEY_LEN || c[15] != ':') return 0;
    for (size_t i = 0; i < 15; i++)
        if (c[i] < '0' || c[i] > '9') return 0;
    for (size_t i = 16; i < len; i++)
        if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f') || c[i] == '-'))
            return 0;
    return 1;
}

/* A row gathered from one queue's index, with the queue it came from. */
typedef struct gathered {
    zg_index_row row;
    size_t queue;
} gathered;

static int newest_first(const void *a, const void *b)
{
    return strcmp(((const gathered *)b)->row.key, ((const gathered *)a)->row.key);
}

static void gathered_free(gathered *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (int v = 0; v < ZG_ROW_NVALUES; v++)
            free(g[i].row.values[v]);
        free(g[i].row.last_error);
    }
    free(g);
}

void zg_job_page_free(zg_job_page *page)
{
    if (!page) return;
    for (size_t i = 0; i < page->n; i++) {
        free(page->jobs[i].created_at);
        free(page->jobs[i].updated_at);
        free(page->jobs[i].last_error);
    }
    free(page->jobs);
    free(page->next);
    memset(page, 0, sizeof *page);
}

/* A row of the index as C data. */
static void summarize(const zg_index_row *row, const char *queue, zg_job_summary *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->uuid, sizeof out->uuid, "%s", row->key + 16);
    snprintf(out->job_type, sizeof out->job_type, "%s", row->job_type);
    snprintf(out->queue, sizeof out->queue, "%s", queue);
    out->state = row->state;
    out->state_since_ms = strtoll(row->key, NULL, 10);
    const char *const *v = (const char *const *)row->values;
    out->completeness = v[ZG_ROW_COMPLETENESS] ? strtod(v[ZG_ROW_COMPLETENESS], NULL) : 0;
    out->result_code = v[ZG_ROW_RESULT] ? strtoll(v[ZG_ROW_RESULT], NULL, 10) : -1;
    out->error_count = v[ZG_ROW_ERRORS] ? strtoll(v[ZG_ROW_ERRORS], NULL, 10) : 0;
    /* (a value that is not a JSON string, or that memory cannot hold, reads as absent) */
    if (v[ZG_ROW_CREATED]) out->created_at = zg_json_text_dup(v[ZG_ROW_CREATED]);
    if (v[ZG_ROW_UPDATED]) out->updated_at = zg_json_text_dup(v[ZG_ROW_UPDATED]);
    const char *msg = row->last_error ? zg_json_member(row->last_error, "msg") : NULL;
    if (msg) out->last_error = zg_json_text_dup(msg);
}

int zg_list(zg_host *h, const zg_list_filter *f, zg_job_page *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!zg_host_usable(h)) return h->err.code;
    if (!f || !out) return zg_fail(&h->err, ZG_EINVAL, "zg_list needs a filter and a page");
    size_t limit = f->limit ? f->limit : ZG_LIST_DEFAULT_LIMIT;
    if (limit > ZG_LIST_MAX_LIMIT)
        return zg_fail(&h->err, ZG_EINVAL, "a page holds at most %d jobs", ZG_LIST_MAX_LIMIT);
    unsigned all = (1u << ZG_JOBS_NSTATES) - 1;
    if (f->states & ~all) return zg_fail(&h->err, ZG_EINVAL, "unknown job state");
    if (f->cursor && !valid_cursor(f->cursor))
        return zg_fail(&h->err, ZG_EINVAL, "bad cursor: %.60s", f->cursor);
    if (f->job_type && (!*f->job_type || strlen(f->job_type) >= ZG_NAME_LEN))
        return zg_fail(&h->err, ZG_EINVAL, "bad job type");
    char **queues = NULL;
    size_t nq = 0;
    if (queues_of(h, f->queue, &queues, &nq) != ZG_OK) return h->err.code;
    /* the newest `limit` rows of each queue, then the newest `limit` of them all */
    gathered *rows = NULL;
    size_t nrows = 0;
    int rc = ZG_OK;
    for (size_t q = 0; q < nq && rc == ZG_OK; q++) {
        zg_index_req req = {
            queues[q], f->states ? f->states : all, f->job_type, f->cursor, f->since_ms, limit};
        zg_index_row *got = NULL;
        size_t n = 0;
        rc = h->store->ops->list(h->store, &req, &got, &n, &h->err);
        if (rc != ZG_OK || !n) {
            zg_index_rows_free(got, n); /* (an empty page may still be an allocation) */
            continue;
        }
        gathered *grown = realloc(rows, (nrows + n) * sizeof *rows);
        if (!grown) {
            zg_index_rows_free(got, n);
            rc = zg_fail(&h->err, ZG_ENOMEM, "out of memory listing jobs");
            break;
        }
        rows = grown;
        for (size_t i = 0; i < n; i++) /* the rows' strings move over */
            rows[nrows + i] = (gathered){got[i], q};
        nrows += n;
        free(got);
    }
    if (rc == ZG_OK && nrows) {
        qsort(rows, nrows, sizeof *rows, newest_first);
        size_t n = nrows < limit ? nrows : limit;
        zg_job_summary *jobs = calloc(n, sizeof *jobs);
        if (!jobs) {
            rc = zg_fail(&h->err, ZG_ENOMEM, "out of memory listing jobs");
        } else {
            out->jobs = jobs;
            for (size_t i = 0; i < n; i++)
                summarize(&rows[i].row, queues[rows[i].queue], &jobs[i]);
            out->n = n;
        }
        /* a full page may have more after it; a short one is the last */
        if (rc == ZG_OK && nrows >= limit && !(out->next = strdup(rows[n - 1].row.key)))
            rc = zg_fail(&h->err, ZG_ENOMEM, "out of memory listing jobs");
    }
    gathered_free(rows, nrows);
    free_names(queues, nq);
    if (rc != ZG_OK) zg_job_page_free(out);
    return rc;
}

int zg_retry(zg_host *h, const char *uuid)
{
    if (!zg_host_usable(h)) return h->err.code;
    if (!uuid || !*uuid) return zg_fail(&h->err, ZG_EINVAL, "retry: no uuid");
    char now[40], stamp[48], event[120];
    zg_clock_iso8601(now, sizeof now);
    snprintf(stamp, sizeof stamp, "\"%s\"", now);
    snprintf(event, sizeof event, "{\"msg\":\"Retried by hand\",\"timeStamp\":\"%s\"}", now);
    const char *names[] = {"resultCode", "updatedAt"}, *values[] = {"-1", stamp};
    zg_fields fields = {2, names, values};
    return h->store->ops->retry(h->store, uuid, fields, event, h->writer, zg_host_next_seq(h),
                                &h->err);
}

int zg_delete(zg_host *h, const char *uuid)
{
    if (!zg_host_usable(h)) return h->err.code;
    if (!uuid || !*uuid) return zg_fail(&h->err, ZG_EINVAL, "delete: no uuid");
    return h->store->ops->remove(h->store, uuid, &h->err);
}

int zg_purge(zg_host *h, const zg_list_filter *f, int64_t older_than_ms, int64_t *deleted)
{
    if (deleted) *deleted = 0;
    if (!zg_host_usable(h)) return h->err.code;
    unsigned finished = (1u << ZG_JOBS_SUCCEEDED) | (1u << ZG_JOBS_FAILED);
    unsigned states = f && f->states ? f->states : finished;
    if (states & ~finished)
        return zg_fail(&h->err, ZG_EINVAL, "purge: only succeeded and failed jobs are purged");
    if (older_than_ms < 0) return zg_fail(&h->err, ZG_EINVAL, "purge: a negative age");
    const char *job_type = f ? f->job_type : NULL;
    char **queues = NULL;
    size_t nq = 0;
    if (queues_of(h, f ? f->queue : NULL, &queues, &nq) != ZG_OK) return h->err.code;
    int rc = ZG_OK;
    for (size_t q = 0; q < nq && rc == ZG_OK; q++) {
        int64_t batch;
        do { /* one bounded step at a time: the store serves others in between */
            batch = 0;
            rc = h->store->ops->purge(h->store, queues[q], states, job_type, older_than_ms,
                                      PURGE_BATCH, &batch, &h->err);
            if (deleted) *deleted += batch;
        } while (rc == ZG_OK && batch == PURGE_BATCH);
    }
    free_names(queues, nq);
    return rc;
}

int zg_stats_by_type(zg_host *h, const char *queue, zg_type_counts **rows, size_t *n)
{
    if (rows) *rows = NULL;
    if (n) *n = 0;
    if (!zg_host_usable(h)) return h->err.code;
    if (!rows || !n) return zg_fail(&h->err, ZG_EINVAL, "zg_stats_by_type needs rows and n");
    char **queues = NULL;
    size_t nq = 0;
    if (queues_of(h, queue, &queues, &nq) != ZG_OK) return h->err.code;
    int rc = ZG_OK;
    for (size_t q = 0; q < nq && rc == ZG_OK; q++) {
        zg_type_counts *got = NULL;
        size_t k = 0;
        rc = h->store->ops->type_counts(h->store, queues[q], &got, &k, &h->err);
        if (rc != ZG_OK || !k) {
            free(got);
            continue;
        }
        if (queue && nq > 1) { /* a sharded queue named: its shards' rows merged per type */
            size_t kept = 0;
            for (size_t r = 0; r < k; r++) {
                snprintf(got[r].queue, sizeof got[r].queue, "%s", queue);
                size_t m = 0;
                while (m < *n && strcmp((*rows)[m].job_type, got[r].job_type) != 0)
                    m++;
                if (m == *n) {
                    got[kept++] = got[r];
                    continue;
                }
                for (int st = 0; st < ZG_JOBS_NSTATES; st++)
                    (*rows)[m].count[st] += got[r].count[st];
            }
            k = kept;
            if (!k) {
                free(got);
                continue;
            }
        }
        zg_type_counts *grown = realloc(*rows, (*n + k) * sizeof **rows);
        if (!grown) {
            free(got);
            rc = zg_fail(&h->err, ZG_ENOMEM, "out of memory counting jobs");
            break;
        }
        *rows = grown;
        memcpy(*rows + *n, got, k * sizeof **rows);
        *n += k;
        free(got);
    }
    free_names(queues, nq);
    if (rc != ZG_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}
