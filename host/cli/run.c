/* run and watch: following one job to its result with a progress view, and printing its outcome.
 *   zerog run [--no-wait] FILE.lua [JSON]  runs the job in-process on the in-memory store
 *   zerog watch UUID                       follows a job that hosts elsewhere run */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "progress_view.h"

int cli_print_outcome(zg_host *h, const char *uuid, int result)
{
    char *job = NULL, *data = NULL;
    int rc = zg_read(h, ZG_VIEW_DUMP, uuid, &job);
    if (rc != ZG_OK) return cli_fail(h, rc);
    if (zg_read(h, ZG_VIEW_DATA, uuid, &data) != ZG_OK) {
        fprintf(stderr, "zerog: get_data failed: %s\n", zg_errstr(h));
        data = NULL;
    }
    printf("{\"uuid\": \"%s\", \"result\": %d, \"job\": %s, \"data\": %s}\n", uuid, result, job,
           data ? data : "null");
    zg_free(job);
    zg_free(data);
    return result >= 200 && result < 300 ? EXIT_OK : EXIT_JOB_FAILED;
}

static void on_log(void *ud, int level, const char *log_id, const char *msg)
{
    static const char *const names[] = {"info", "warning", "error"};
    /* job_log_info lines are also events, which the progress view shows already */
    if (level == ZG_LOG_INFO && *log_id) return;
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
    if (zg_queues(h, &queues) == ZG_OK && sscanf(queues, "[\"%127[^\"]\"]", name) != 1)
        name[0] = '\0';
    zg_free(queues);
}

/* Steps the engine until the job uuid finishes, waiting out requeue delays or kicking them. */
static int run_to_end(zg_host *h, const char *uuid, int no_wait, progress_view *view, int *result)
{
    char queue[ZG_NAME_LEN];
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
        if (step.outcome == ZG_STEP_REQUEUED) {
            progress_view_line(view, "requeued: next run in %gs%s", step.delay,
                               no_wait ? " (not waiting: --no-wait)" : "");
            continue;
        }
        *result = step.result_code;
        return EXIT_OK;
    }
}

int cmd_run(const cli_options *o, int argc, char **argv)
{
    (void)o; /* run is in-process: always the in-memory store */
    int no_wait = 0, i = 0;
    if (i < argc && strcmp(argv[i], "--no-wait") == 0) no_wait = 1, i++;
    if (argc - i < 1 || argc - i > 2) return cli_usage();
    const char *path = argv[i], *params = argc - i == 2 ? argv[i + 1] : "{}";

    progress_view view;
    progress_view_init(&view, stderr, isatty(1) && isatty(2), path);
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = on_log;
    cfg.log_ud = &view;
    cfg.progress = on_progress;
    cfg.progress_ud = &view;
    cli_options mem = {"mem://", o->jobs};
    zg_host *h = cli_open_host(&mem, 0, &cfg);
    if (!h) return EXIT_JOB_FAILED;
    int code;
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
        if (code == EXIT_OK) code = cli_print_outcome(h, uuid, result);
    }
    zg_host_free(h);
    return code;
}

/* Reads the job's status: its completeness and result, and its latest event (into event). */
static int read_status(zg_host *h, const char *uuid, double *completeness, int *result, char *event,
                       size_t size)
{
    char *json = NULL;
    int rc = zg_read(h, ZG_VIEW_STATUS, uuid, &json);
    if (rc != ZG_OK) return rc;
    const char *c = strstr(json, "\"completeness\":");
    const char *r = strstr(json, "\"result\":");
    const char *e = strstr(json, "\"lastEvent\":\"");
    *completeness = c ? strtod(c + 15, NULL) : 0;
    *result = r ? atoi(r + 9) : -1;
    event[0] = '\0';
    if (e) {
        e += 13;
        size_t n = 0;
        while (e[n] && !(e[n] == '"' && e[n - 1] != '\\') && n + 1 < size)
            n++;
        memcpy(event, e, n);
        event[n] = '\0';
    }
    zg_free(json);
    return ZG_OK;
}

int cmd_watch(const cli_options *o, int argc, char **argv)
{
    if (argc != 1) return cli_usage();
    zg_host *h = cli_open_host(o, 1, NULL);
    if (!h) return EXIT_JOB_FAILED;
    progress_view view;
    progress_view_init(&view, stderr, isatty(1) && isatty(2), argv[0]);
    char last[160] = "";
    int result = -1, code = EXIT_OK;
    for (;;) {
        double completeness;
        char event[160];
        int rc = read_status(h, argv[0], &completeness, &result, event, sizeof event);
        if (rc != ZG_OK) {
            code = cli_fail(h, rc);
            break;
        }
        int new_event = strcmp(event, last) != 0;
        progress_view_update(&view, completeness, new_event ? event : NULL);
        snprintf(last, sizeof last, "%s", event);
        if (result != -1) break;
        usleep(200 * 1000);
    }
    progress_view_finish(&view);
    if (code == EXIT_OK) code = cli_print_outcome(h, argv[0], result);
    zg_host_free(h);
    return code;
}
