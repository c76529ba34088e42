/* zerog: the command. This file parses the global options and dispatches; each subcommand lives
 * in a file of its own (run.c, jobs.c, worker.c, check.c) and uses only the public API. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage_text[] =
    "usage: zerog [--store URL] [--jobs DIR] COMMAND ...\n"
    "  run [--no-wait] FILE.lua [JSON]       run one job to its end, in-process, in memory\n"
    "  check FILE.lua|DIR                    load and validate job scripts\n"
    "  submit TYPE [JSON] [--ttr S] [--delay S] [--priority N]   queue a job, print its uuid\n"
    "  submit TYPE --batch FILE|-            one JSON object of params per line\n"
    "  progress|info|data|dump UUID          print a job as JSON\n"
    "  watch UUID                            follow a job until it has a result\n"
    "  kill UUID                             stop a job: error and result 410\n"
    "  worker [--queue NAME]... [--concurrency N] [--until-idle] [--max-jobs N]\n"
    "  stats [--queue NAME]...               ready, delayed, reserved, buried and unclaimed counts\n"
    "  buried [QUEUE]                        jobs set aside as unloadable, one JSON line each\n"
    "  kick QUEUE [N]                        put buried jobs back (or delayed ones ready now)\n"
    "  serve [--listen HOST:PORT] [--workers N] [--auth-token T] [--grace S]\n"
    "        [--log-format text|json] [--max-body BYTES]   the daemon: HTTP API and workers\n"
    "  events                                follow job starts and ends as JSON lines\n"
    "  version\n"
    "The store is --store, else $ZEROG_STORE, else redis://127.0.0.1:6379/0 (mem:// is the\n"
    "in-process store); job scripts come from --jobs, else $ZEROG_JOBS, else ./jobs.\n";

int cli_usage(void)
{
    fputs(usage_text, stderr);
    return EXIT_BAD_INPUT;
}

int cli_fail(zg_host *h, int rc)
{
    fprintf(stderr, "zerog: %s\n", zg_errstr(h));
    switch (rc) {
    case ZG_ENOTFOUND:
        return EXIT_NOT_FOUND;
    case ZG_ESTORE:
    case ZG_ENOMEM:
    case ZG_ESTALE:
        return EXIT_JOB_FAILED;
    default:
        return EXIT_BAD_INPUT;
    }
}

int cli_number(const char *opt, const char *text, double *out)
{
    char *end;
    *out = text ? strtod(text, &end) : 0;
    if (!text || end == text || *end || *out < 0) {
        fprintf(stderr, "zerog: %s takes a number >= 0\n", opt);
        return 0;
    }
    return 1;
}

void cli_log_line(void *ud, int level, const char *log_id, const char *msg)
{
    static const char *const names[] = {"info", "warning", "error"};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-7s %s %s%s%s\n", when, ts.tv_nsec / 1000000, names[level],
            ud ? (const char *)ud : "-", log_id, *log_id ? ": " : "", msg);
}

zg_host *cli_open_host(const cli_options *o, int load_jobs, zg_config *cfg)
{
    zg_config defaults;
    if (!cfg) {
        zg_config_init(&defaults);
        defaults.log = cli_log_line;
        cfg = &defaults;
    }
    cfg->store = o->store;
    zg_host *h = zg_host_new(cfg);
    if (!h) {
        fputs("zerog: out of memory\n", stderr);
        return NULL;
    }
    if (zg_errcode(h) != ZG_OK) {
        fprintf(stderr, "zerog: %s\n", zg_errstr(h));
        zg_host_free(h);
        return NULL;
    }
    if (load_jobs && zg_load_dir(h, o->jobs, NULL, NULL) != ZG_OK) {
        fprintf(stderr, "zerog: %s\n", zg_errstr(h));
        zg_host_free(h);
        return NULL;
    }
    return h;
}

/* Takes the global options out of argv (anywhere on the line); returns the new argc. */
static int global_options(cli_options *o, int argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--store") == 0  ? &o->store
                            : strcmp(argv[i], "--jobs") == 0 ? &o->jobs
                                                             : NULL;
        if (slot && i + 1 < argc) {
            *slot = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--store=", 8) == 0)
            o->store = argv[i] + 8;
        else if (strncmp(argv[i], "--jobs=", 7) == 0)
            o->jobs = argv[i] + 7;
        else
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    /* a Redis connection that breaks must be an error to retry, not a fatal SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    cli_options o = {getenv("ZEROG_STORE"), getenv("ZEROG_JOBS")};
    argc = global_options(&o, argc, argv);
    if (!o.store || !*o.store) o.store = "redis://127.0.0.1:6379/0";
    if (!o.jobs || !*o.jobs) o.jobs = "jobs";
    if (argc < 2) return cli_usage();
    const char *cmd = argv[1];
    int n = argc - 2;
    char **args = argv + 2;
    static const struct {
        const char *name;
        zg_view view;
    } views[] = {{"progress", ZG_VIEW_PROGRESS},
                 {"info", ZG_VIEW_INFO},
                 {"data", ZG_VIEW_DATA},
                 {"dump", ZG_VIEW_DUMP}};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
        if (strcmp(cmd, views[i].name) == 0) return cmd_read(&o, views[i].view, n, args);
    if (strcmp(cmd, "run") == 0) return cmd_run(&o, n, args);
    if (strcmp(cmd, "watch") == 0) return cmd_watch(&o, n, args);
    if (strcmp(cmd, "check") == 0) return cmd_check(&o, n, args);
    if (strcmp(cmd, "submit") == 0) return cmd_submit(&o, n, args);
    if (strcmp(cmd, "kill") == 0) return cmd_kill(&o, n, args);
    if (strcmp(cmd, "stats") == 0) return cmd_stats(&o, n, args);
    if (strcmp(cmd, "worker") == 0) return cmd_worker(&o, n, args);
    if (strcmp(cmd, "serve") == 0) return cmd_serve(&o, n, args);
    if (strcmp(cmd, "events") == 0) return cmd_events(&o, n, args);
    if (strcmp(cmd, "buried") == 0) return cmd_buried(&o, n, args);
    if (strcmp(cmd, "kick") == 0) return cmd_kick(&o, n, args);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("zerog %s\n", ZG_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    fprintf(stderr, "zerog: unknown command %s\n", cmd);
    return cli_usage();
}
