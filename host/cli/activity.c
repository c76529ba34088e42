/* activity: what the dashboard shows of the job events serve follows on zerog:events (published
 * by every host that publishes, not only this daemon's workers): per minute over the last hour,
 * the runs that finished their job without an error ("done") and the runs that ended in an error
 * ("failed", retried or not), in a ring of ACTIVITY_MINUTES slots; and the latest ACTIVITY_RECENT
 * events, numbered, for the page's live feed (GET /activity?after=SEQ gives those after SEQ).
 * An event is kept as the fields read from it and written again with json_quote, so whatever is
 * published on the channel, the answer is valid JSON. */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "json_out.h"

#define MINUTE_MS 60000

void activity_init(activity *a)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->lock, NULL);
}

void activity_free(activity *a)
{
    for (int i = 0; i < ACTIVITY_RECENT; i++)
        free(a->recent[i].json);
    pthread_mutex_destroy(&a->lock);
}

/* Appends `"key":"value",` for a string field of the event, when it has one. */
static void quoted_field(FILE *b, const char *event, const char *key)
{
    char text[256], quoted[600];
    if (!zg_json_string_field(event, key, text, sizeof text)) return;
    json_quote(quoted, sizeof quoted, text);
    fprintf(b, "\"%s\":%s,", key, quoted);
}

/* The event as the feed shows it: event, uuid, jobType, queue, host, outcome, result, error,
 * seconds, at (ms). NULL when it is not a job event. */
static char *feed_entry(const char *event, int64_t now_ms)
{
    char kind[16];
    if (!zg_json_string_field(event, "event", kind, sizeof kind) ||
        (strcmp(kind, "start") != 0 && strcmp(kind, "end") != 0))
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&text, &len);
    if (!b) return NULL;
    fprintf(b, "{\"event\":\"%s\",", kind);
    quoted_field(b, event, "uuid");
    quoted_field(b, event, "jobType");
    quoted_field(b, event, "queue");
    quoted_field(b, event, "host");
    quoted_field(b, event, "outcome");
    double result, seconds;
    if (zg_json_number_field(event, "result", &result)) fprintf(b, "\"result\":%.0f,", result);
    if (zg_json_number_field(event, "seconds", &seconds)) {
        fputs("\"seconds\":", b);
        json_write_fraction(b, seconds);
        fputc(',', b);
    }
    if (strcmp(kind, "end") == 0)
        fprintf(b, "\"error\":%s,", strstr(event, "\"error\":true") ? "true" : "false");
    fprintf(b, "\"at\":%lld}", (long long)now_ms);
    fclose(b);
    return text;
}

void activity_record(activity *a, const char *event, int64_t now_ms)
{
    char *entry = feed_entry(event, now_ms);
    if (!entry) return;
    char kind[16], outcome[16] = "";
    zg_json_string_field(event, "event", kind, sizeof kind);
    zg_json_string_field(event, "outcome", outcome, sizeof outcome);
    int error = strstr(event, "\"error\":true") != NULL;
    int64_t minute = now_ms / MINUTE_MS;
    pthread_mutex_lock(&a->lock);
    if (strcmp(kind, "end") == 0) {
        activity_minute *m = &a->minutes[minute % ACTIVITY_MINUTES];
        if (m->minute != minute) { /* a slot of an hour ago: starts again */
            m->minute = minute;
            m->done = m->failed = 0;
        }
        if (error)
            m->failed++;
        else if (strcmp(outcome, "finished") == 0)
            m->done++;
    }
    activity_event *slot = &a->recent[a->seq % ACTIVITY_RECENT];
    free(slot->json);
    slot->json = entry;
    slot->seq = ++a->seq;
    pthread_mutex_unlock(&a->lock);
}

void activity_json(activity *a, uint64_t after, int64_t now_ms, FILE *out)
{
    int64_t minute = now_ms / MINUTE_MS;
    pthread_mutex_lock(&a->lock);
    fputs("{\"minutes\":[", out);
    for (int64_t i = minute - ACTIVITY_MINUTES + 1; i <= minute; i++) {
        const activity_minute *m = &a->minutes[i % ACTIVITY_MINUTES];
        int here = m->minute == i;
        fprintf(out, "%s{\"at\":%lld,\"done\":%ld,\"failed\":%ld}",
                i > minute - ACTIVITY_MINUTES + 1 ? "," : "", (long long)(i * MINUTE_MS),
                here ? m->done : 0, here ? m->failed : 0);
    }
    fprintf(out, "],\"seq\":%llu,\"events\":[", (unsigned long long)a->seq);
    uint64_t first = a->seq > ACTIVITY_RECENT ? a->seq - ACTIVITY_RECENT + 1 : 1;
    if (after + 1 > first) first = after + 1;
    for (uint64_t s = first; s <= a->seq; s++) {
        const activity_event *e = &a->recent[(s - 1) % ACTIVITY_RECENT];
        fprintf(out, "%s{\"seq\":%llu,\"event\":%s}", s > first ? "," : "", (unsigned long long)s,
                e->json);
    }
    fputs("]}", out);
    pthread_mutex_unlock(&a->lock);
}
