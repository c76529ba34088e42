/* metrics: the daemon's Prometheus metrics, aggregated from the job events workers publish on
 * zerog:events (runs started, finished by result, errors, retries, a run-time histogram per job
 * type) and read at render time (queue depths, workers alive, whether the store answers). */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "json_out.h"

const double metric_bounds[METRIC_BUCKETS] = {0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600};

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
    if (!zg_json_string_field(event, "event", kind, sizeof kind) ||
        !zg_json_string_field(event, "jobType", type, sizeof type))
        return;
    pthread_mutex_lock(&d->metrics_lock);
    type_metrics *m = metrics_for(d, type);
    if (m && strcmp(kind, "start") == 0) m->started++;
    if (m && strcmp(kind, "end") == 0) {
        zg_json_number_field(event, "result", &result);
        zg_json_number_field(event, "seconds", &seconds);
        error = strstr(event, "\"error\":true") != NULL;
        if (error) m->errors++;
        if (zg_json_string_field(event, "outcome", outcome, sizeof outcome) &&
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

static void render_queue_depths(daemon_ctx *d, FILE *b, int store_up)
{
    char *queues = NULL;
    fputs("# HELP zerog_queue_messages Messages per queue and state.\n"
          "# TYPE zerog_queue_messages gauge\n",
          b);
    zg_host *h = store_up ? api_borrow(d, 500) : NULL;
    if (h && zg_queues(h, &queues) == ZG_OK) {
        for (char *q = strchr(queues, '"'); q; q = strchr(q + 1, '"')) {
            char *end = strchr(q + 1, '"');
            if (!end) break;
            *end = '\0';
            zg_queue_counts c;
            if (zg_queue_counts_get(h, q + 1, &c) == ZG_OK)
                fprintf(b,
                        "zerog_queue_messages{queue=\"%s\",state=\"ready\"} %lld\n"
                        "zerog_queue_messages{queue=\"%s\",state=\"delayed\"} %lld\n"
                        "zerog_queue_messages{queue=\"%s\",state=\"reserved\"} %lld\n",
                        q + 1, (long long)c.ready, q + 1, (long long)c.delayed, q + 1,
                        (long long)c.reserved);
            q = end;
        }
    }
    if (h) api_return(d, h);
    zg_free(queues);
}

/* The Prometheus text of /metrics into b; store_up: whether to read the queue depths. */
void metrics_render(daemon_ctx *d, FILE *b, int store_up)
{
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
    render_queue_depths(d, b, store_up);
    pthread_mutex_lock(&d->sup->lock);
    int alive = supervisor_alive(d->sup);
    pthread_mutex_unlock(&d->sup->lock);
    fprintf(b,
            "# HELP zerog_workers Worker processes alive.\n# TYPE zerog_workers "
            "gauge\nzerog_workers %d\n"
            "# HELP zerog_store_up Whether the store answers.\n# TYPE zerog_store_up gauge\n"
            "zerog_store_up %d\n",
            alive, store_up);
}
