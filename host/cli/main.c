/* zerog: the command. Each subcommand is a client of the public API (zerog.h).
 *   zerog run [--no-wait] FILE.lua [JSON]   run one job to its end in-process
 *   zerog check FILE.lua|DIR                 load and validate job scripts
 * Exit codes: 0 success (a 2xx result), 1 a job that finished with another result, 2 bad input
 * (usage, missing file, script error, invalid params or JSON), 3 an unknown job, 4 a store error. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress_view.h"
#include "zerog.h"

enum { EXIT_JOB_FAILED = 1, EXIT_BAD_INPUT = 2, EXIT_NOT_FOUND = 3, EXIT_STORE = 4 };

static const char usage_text[] =
    "usage: zerog run [--no-wait] FILE.lua [JSON]   run one job to its end on the in-memory store\n"
    "       zerog check FILE.lua|DIR                 load and validate job scripts\n"
    "       zerog version\n";

static int usage(void)
{
    fputs(usage_text, stderr);
    return EXIT_BAD_INPUT;
}

/* The exit code for a library error code. */
static int exit_code_for(int rc)
{
    switch (rc) {
    case ZG_ENOTFOUND: return EXIT_NOT_FOUND;
    case ZG_ESTORE: return EXIT_STORE;
    default: return EXIT_BAD_INPUT;
    }
}

static int fail(zg_host *h, int rc)
{
    fprintf(stderr, "zerog: %s\n", zg_errstr(h));
    return exit_code_for(rc);
}

/* ---- zerog run ---- */

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

/* Prints {"uuid", "result", "job", "data"} for a finished job. */
static int print_outcome(zg_host *h, const char *uuid, int result)
{
    char *job = NULL, *data = NULL;
    int rc = zg_read(h, ZG_VIEW_DUMP, uuid, &job);
    if (rc != ZG_OK) return fail(h, rc);
    rc = zg_read(h, ZG_VIEW_DATA, uuid, &data);
    if (rc != ZG_OK) {
        fprintf(stderr, "zerog: get_data failed: %s\n", zg_errstr(h));
        data = strdup("null");
    }
    printf("{\"uuid\": \"%s\", \"result\": %d, \"job\": %s, \"data\": %s}\n", uuid, result, job,
           data ? data : "null");
    zg_free(job);
    zg_free(data);
    return result >= 200 && result < 300 ? 0 : EXIT_JOB_FAILED;
}

/* Steps the engine until the job uuid finishes, waiting out requeue delays or kicking them. */
static int run_to_end(zg_host *h, const char *uuid, int no_wait, progress_view *view, int *result)
{
    for (;;) {
        zg_step_result step;
        int rc = zg_step(h, NULL, 0, no_wait ? 0 : 3600 * 1000, &step);
        if (rc == ZG_ETIMEDOUT) {
            char *queues = NULL;
            if (!no_wait) continue;
            if (zg_queues(h, &queues) != ZG_OK) return fail(h, zg_errcode(h));
            /* the type's queue: one name, as run loads one script */
            char name[ZG_NAME_LEN];
            if (sscanf(queues, "[\"%127[^\"]\"]", name) == 1) zg_kick(h, name, NULL);
            zg_free(queues);
            continue;
        }
        if (rc != ZG_OK) return fail(h, rc);
        if (strcmp(step.uuid, uuid) != 0) continue;
        if (step.outcome == ZG_STEP_REQUEUED) {
            progress_view_line(view, "requeued: next run in %gs%s", step.delay,
                               no_wait ? " (not waiting: --no-wait)" : "");
            continue;
        }
        *result = step.result_code;
        return 0;
    }
}

static int cmd_run(int argc, char **argv)
{
    int no_wait = 0, i = 0;
    if (i < argc && strcmp(argv[i], "--no-wait") == 0) no_wait = 1, i++;
    if (argc - i < 1 || argc - i > 2) return usage();
    const char *path = argv[i], *params = argc - i == 2 ? argv[i + 1] : "{}";

    progress_view view;
    progress_view_init(&view, stderr, isatty(1) && isatty(2), path);
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.log = on_log;
    cfg.log_ud = &view;
    cfg.progress = on_progress;
    cfg.progress_ud = &view;
    zg_host *h = zg_host_new(&cfg);
    if (!h) return fputs("zerog: out of memory\n", stderr), EXIT_STORE;
    int code;
    char type[ZG_NAME_LEN], uuid[ZG_UUID_LEN];
    int rc = zg_errcode(h);
    if (rc == ZG_OK) rc = zg_load_file(h, path, type);
    if (rc == ZG_OK) rc = zg_submit(h, type, params, NULL, uuid);
    if (rc != ZG_OK) {
        code = fail(h, rc);
    } else {
        snprintf(view.label, sizeof view.label, "%.100s", type);
        int result = -1;
        code = run_to_end(h, uuid, no_wait, &view, &result);
        progress_view_finish(&view);
        if (code == 0) code = print_outcome(h, uuid, result);
    }
    zg_host_free(h);
    return code;
}

/* ---- zerog check ---- */

static int check_one(zg_host *h, const char *path)
{
    char type[ZG_NAME_LEN];
    if (zg_check_file(h, path, type) != ZG_OK) {
        fprintf(stderr, "%s\n", zg_errstr(h));
        return 1;
    }
    printf("ok %s (%s)\n", path, type);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks every *.lua file of dir, in name order; returns how many failed. */
static int check_dir(zg_host *h, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "zerog: cannot open %s\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0) continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown) break;
        names = grown;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        failed += check_one(h, path);
        free(names[i]);
    }
    free(names);
    return failed;
}

static int cmd_check(int argc, char **argv)
{
    if (argc < 1) return usage();
    zg_host *h = zg_host_new(NULL);
    if (!h) return EXIT_STORE;
    int failed = 0;
    for (int i = 0; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) failed += check_dir(h, argv[i]);
        else failed += check_one(h, argv[i]);
    }
    zg_host_free(h);
    return failed ? EXIT_BAD_INPUT : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "check") == 0) return cmd_check(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("zerog %s\n", ZG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    fprintf(stderr, "zerog: unknown command %s\n", cmd);
    return usage();
}
