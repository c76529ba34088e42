/* run and watch: following one job to its result with a progress view, and printing its outcome.
 *   zerog run [--no-wait] [--json] FILE.lua [JSON]  runs the job in-process on the in-memory store
 *   zerog watch [--json] UUID                       follows a job that hosts elsewhere run
 *
 * Both show the same things on stderr: completeness, events, and the job's warnings and errors
 * (code and message, with the file:line of a Lua error), read from the document's lists so that
 * what is shown is what is stored. They end the same way: a short summary on a terminal, the
 * job as JSON otherwise (or with --json), exit 0 for a 2xx result and 1 for another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json_out.h"
#include "progress_view.h"

#define DATA_SUMMARY_MAX 1000
#define WATCH_HISTORY    10 /* events recorded before watch began that it shows */

/* ---- a job's warnings and errors (and, for watch, events), as they are recorded ---- */

typedef struct shown {
    size_t events, warnings, errors; /* entries of each list shown so far */
} shown;

/* at the same millisecond, a warning or an error comes before the event the engine records
 * after it ("Error - restarting") */
enum { ENTRY_ERROR, ENTRY_WARNING, ENTRY_EVENT };

typedef struct entry {
    char when[40];
    int kind;
    const char *item;
} entry;

static int compare_entries(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->when, y->when);
    if (c) return c;
    if (x->kind != y->kind) return x->kind - y->kind;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Adds the items of list past the first `*seen` to entries; counts them all in *seen. */
static size_t collect(const char *list, int kind, size_t *seen, entry *entries, size_t n,
                      size_t max)
{
    size_t i = 0;
    for (const char *item = zg_json_first(list); item; item = zg_json_next(item), i++) {
        if (i < *seen || n == max) continue;
        entries[n].kind = kind;
        entries[n].item = item;
        if (!zg_json_text(zg_json_member(item, "timeStamp"), entries[n].when,
                          sizeof entries[n].when))
            entries[n].when[0] = '\0';
        n++;
    }
    *seen = i;
    return n;
}

static void show_entry(progress_view *v, const entry *e)
{
    char *msg = zg_json_text_dup(zg_json_member(e->item, "msg"));
    if (!msg) return;
    progress_view_one_line(msg);
    double code = 0;
    if (e->kind == ENTRY_EVENT)
        progress_view_update(v, v->completeness, msg);
    else if (e->kind == ENTRY_WARNING)
        progress_view_line(v, "warning: %s", msg);
    else if (zg_json_number(zg_json_member(e->item, "errorCode"), &code))
        progress_view_line(v, "error %.0f: %s", code, msg);
    else
        progress_view_line(v, "error: %s", msg);
    free(msg);
}

/* Shows the entries of the job's info() not shown yet, in the order they were recorded. Events
 * are shown only with events (run gets them live from the progress callback). */
static void show_new_entries(progress_view *v, const char *info, shown *s, int events)
{
    size_t total = zg_json_count(zg_json_member(info, "events")) +
                   zg_json_count(zg_json_member(info, "warnings")) +
                   zg_json_count(zg_json_member(info, "errors"));
    entry *entries = calloc(total ? total : 1, sizeof *entries);
    size_t n = 0;
    if (!entries) return;
    if (events)
        n = collect(zg_json_member(info, "events"), ENTRY_EVENT, &s->events, entries, n, total);
    n = collect(zg_json_member(info, "warnings"), ENTRY_WARNING, &s->warnings, entries, n, total);
    n = collect(zg_json_member(info, "errors"), ENTRY_ERROR, &s->errors, entries, n, total);
    qsort(entries, n, sizeof *entries, compare_entries);
    for (size_t i = 0; i < n; i++)
        show_entry(v, &entries[i]);
    free(entries);
}

/* Reads the job's info() and shows what is new in it. */
static void show_news(zg_host *h, const char *uuid, progress_view *v, shown *s, int events)
{
    char *info = NULL;
    if (zg_read(h, ZG_VIEW_INFO, uuid, &info) == ZG_OK) show_new_entries(v, info, s, events);
    zg_free(info);
}

/* ---- the outcome ---- */

/* Seconds between two of the document's ISO-8601 UTC times ("2026-01-02T03:04:05.678Z"). */
static int iso_seconds(const char *iso, double *out)
{
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(iso, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) < 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (double)timegm(&tm) + ms / 1000.0;
    return 1;
}

/* How long the job took, from its creation to its last update: "0.42s", "3m05s", "2h10m". */
static void job_duration(const char *job, char *out, size_t size)
{
    char created[40], updated[40];
    double from, to;
    if (!zg_json_text(zg_json_member(job, "createdAt"), created, sizeof created) ||
        !zg_json_text(zg_json_member(job, "updatedAt"), updated, sizeof updated) ||
        !iso_seconds(created, &from) || !iso_seconds(updated, &to)) {
        snprintf(out, size, "?");
        return;
    }
    double s = to > from ? to - from : 0;
    if (s < 60)
        snprintf(out, size, "%.2fs", s);
    else if (s < 3600)
        snprintf(out, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, size, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

/* The summary a person reads at the end of an interactive run. */
static void print_summary(const char *uuid, int result, const char *job, const char *data)
{
    char type[ZG_NAME_LEN] = "job", took[32];
    double errors = 0;
    zg_json_text(zg_json_member(job, "jobType"), type, sizeof type);
    zg_json_number(zg_json_member(job, "errorCount"), &errors);
    job_duration(job, took, sizeof took);
    printf("%s %s: result %d in %s", type, uuid, result, took);
    if (errors > 0) printf(" (%.0f error%s)", errors, errors == 1 ? "" : "s");
    fputs("\ndata: ", stdout);
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (f) {
        json_write(f, data ? data : "null");
        fclose(f);
    }
    if (text && size > DATA_SUMMARY_MAX)
        printf("%.*s... (%zu bytes; --json prints it all)\n", DATA_SUMMARY_MAX, text, size);
    else
        printf("%s\n", text ? text : "null");
    free(text);
}

int cli_print_outcome(zg_host *h, const cli_options *o, const char *uuid, int result, int json)
{
    char *job = NULL, *data = NULL;
    int rc = zg_read(h, ZG_VIEW_DUMP, uuid, &job);
    if (rc != ZG_OK) return cli_fail(h, rc);
    rc = cli_read_data(h, o, uuid, &data);
    if (rc != ZG_OK && rc != CLI_TYPE_MISSING) fprintf(stderr, "zerog: %s\n", zg_errstr(h));
    if (!json && isatty(1)) {
        print_summary(uuid, result, job, data);
    } else {
        printf("{\"uuid\":\"%s\",\"result\":%d,\"job\":", uuid, result);
        json_write(stdout, job);
        fputs(",\"data\":", stdout);
        json_write(stdout, data ? data : "null");
        fputs("}\n", stdout);
    }
    zg_free(job);
    zg_free(data);
    return result >= 200 && result < 300 ? EXIT_OK : EXIT_JOB_FAILED;
}

/* ---- run ---- */

static void on_log(void *ud, int level, const char *log_id, const char *msg)
{
    static const char *const names[] = {"info", "warning", "error"};
    /* a job's own lines are its events, warnings and errors, which are shown from its document */
    if (*log_id) return;
    progress_view_line(ud, "%s: %s", names[level], msg);
}

static void on_progress(void *ud, const char *uuid, double completeness, const char *event)
{
    (void)uuid;
    progress_view_update(ud, completeness, event);
}

/* The name of the only queue of the loaded types (run loads one script). */
static void only_queue(zg_host *h, char name[ZG_NAME_LEN])
{
    char *queues = NULL;
    name[0] = '\0';
    if (zg_queues(h, &queues) == ZG_OK && !zg_json_text(zg_json_first(queues), name, ZG_NAME_LEN))
        name[0] = '\0';
    zg_free(queues);
}

/* Steps the engine until the job uuid finishes, waiting out requeue delays or kicking them. */
static int run_to_end(zg_host *h, const char *uuid, int no_wait, progress_view *view, int *result)
{
    char queue[ZG_NAME_LEN];
    shown seen = {0};
    only_queue(h, queue);
    for (;;) {
        zg_step_result step;
        int rc = zg_step(h, NULL, 0, no_wait ? 0 : 3600 * 1000, &step);
        if (rc == ZG_ETIMEDOUT) {
            if (no_wait) zg_kick(h, queue, 0, NULL);
            continue;
        }
        if (rc != ZG_OK) return cli_fail(h, rc);
        if (strcmp(step.uuid, uuid) != 0) continue;
        show_news(h, uuid, view, &seen, 0);
        if (step.outcome == ZG_STEP_REQUEUED) {
            progress_view_line(view, "requeued: next run in %gs%s", step.delay,
                               no_wait ? " (not waiting: --no-wait)" : "");
            continue;
        }
        *result = step.result_code;
        return EXIT_OK;
    }
}

/* The watchdog: the run is stuck where the VM cannot stop it. Nothing outlives this process
 * on mem://, so it ends here with its own exit code. */
static void on_overrun(void *ud, const char *uuid)
{
    (void)ud;
    fprintf(stderr,
            "\nzerog: run: job %s overran its TIMEOUT (or stopped responding) in "
            "something that cannot be interrupted: stopped (exit %d)\n",
            uuid, EXIT_OVERRUN);
    _exit(EXIT_OVERRUN);
}

int cmd_run(const cli_options *o, int argc, char **argv)
{
    int no_wait = 0, json = 0;
    const char *operands[2], *sandbox_open = NULL;
    const cli_opt opts[] = {{"--no-wait", CLI_FLAG, &no_wait},
                            {"--json", CLI_FLAG, &json},
                            {"--sandbox-open", CLI_TEXT, &sandbox_open},
                            {NULL, CLI_FLAG, NULL}};
    int n, code = cli_parse("run", argc, argv, opts, 1, 2, operands, &n);
    if (code != EXIT_OK) return code;
    const char *path = operands[0], *params = n == 2 ? operands[1] : "{}";

    progress_view view;
    progress_view_init(&view, stderr, isatty(2), path);
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = on_log;
    cfg.log_ud = &view;
    cfg.progress = on_progress;
    cfg.progress_ud = &view;
    cfg.on_overrun = on_overrun;
    /* run is in-process: always the in-memory store */
    cli_options mem = {"mem://", o->jobs, sandbox_open};
    zg_host *h = cli_open(&mem, CLI_JOBS_NONE, &cfg, &code);
    if (!h) return code;
    char type[ZG_NAME_LEN], uuid[ZG_UUID_LEN];
    int rc = zg_load_file(h, path, type);
    if (rc == ZG_OK) rc = zg_submit(h, type, params, NULL, uuid);
    if (rc != ZG_OK) {
        code = cli_fail(h, rc);
        if (code == EXIT_NOT_FOUND) code = EXIT_BAD_INPUT; /* a missing file is bad input */
    } else {
        snprintf(view.label, sizeof view.label, "%.100s", type);
        int result = -1;
        code = run_to_end(h, uuid, no_wait, &view, &result);
        progress_view_finish(&view);
        if (code == EXIT_OK) code = cli_print_outcome(h, o, uuid, result, json);
    }
    zg_host_free(h);
    return code;
}

/* ---- watch ---- */

int cmd_watch(const cli_options *o, int argc, char **argv)
{
    int json = 0;
    const char *uuid;
    const cli_opt opts[] = {{"--json", CLI_FLAG, &json}, {NULL, CLI_FLAG, NULL}};
    int n, code = cli_parse("watch", argc, argv, opts, 1, 1, &uuid, &n);
    if (code != EXIT_OK) return code;
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    progress_view view;
    progress_view_init(&view, stderr, isatty(2), uuid);
    shown seen = {0};
    char *last = NULL;
    int result = -1, first = 1;
    for (;;) {
        char *status = NULL;
        int rc = zg_read(h, ZG_VIEW_STATUS, uuid, &status);
        if (rc != ZG_OK) {
            code = cli_fail(h, rc);
            break;
        }
        double completeness = 0, res = -1, events = 0;
        zg_json_number(zg_json_member(status, "completeness"), &completeness);
        zg_json_number(zg_json_member(status, "result"), &res);
        result = (int)res;
        if (first) {
            /* what happened before: the latest events, and every warning and error */
            zg_json_number(zg_json_member(status, "events"), &events);
            seen.events = events > WATCH_HISTORY ? (size_t)events - WATCH_HISTORY : 0;
            first = 0;
        }
        view.completeness = completeness;
        if (!last || strcmp(last, status) != 0) show_news(h, uuid, &view, &seen, 1);
        progress_view_update(&view, completeness, NULL);
        zg_free(last);
        last = status;
        if (result != -1) break;
        usleep(200 * 1000);
    }
    zg_free(last);
    progress_view_finish(&view);
    if (code == EXIT_OK) code = cli_print_outcome(h, o, uuid, result, json);
    zg_host_free(h);
    return code;
}
