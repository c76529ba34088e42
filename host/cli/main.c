/* zerog: the command. This file holds the table of subcommands with their usage, parses the
 * global options and dispatches; each subcommand lives in a file of its own (run.c, jobs.c,
 * check.c, events.c, worker.c, serve.c) and uses only the public API. `zerog help CMD` and
 * `zerog CMD --help` are answered here, before the command runs: they never touch a store or a
 * job script. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static int cmd_version(const cli_options *o, int argc, char **argv);
static int cmd_help(const cli_options *o, int argc, char **argv);

typedef struct command {
    const char *name;
    const char *synopsis; /* after "zerog " */
    const char *summary;  /* one line, for the overview */
    const char *details;  /* the rest of `zerog help CMD` */
    int (*run)(const cli_options *o, int argc, char **argv);
} command;

static const command commands[] = {
    {"run", "run [--no-wait] [--json] [--sandbox-open LIBS] FILE.lua [JSON]",
     "run one job to its end, in-process, on the in-memory store",
     "Loads the script, submits a job with the JSON params and runs it through its requeues,\n"
     "showing its progress, events, warnings and errors on stderr (a live bar on a terminal).\n"
     "On a terminal it ends with a summary (result, time, data); otherwise, or with --json, it\n"
     "prints {\"uuid\",\"result\",\"job\",\"data\"} on stdout. Exit 0 for a 2xx result, 1 for\n"
     "another.\n"
     "  --no-wait   do not wait out requeue delays: run the next try at once\n"
     "  --json      print the job as JSON even on a terminal\n"
     "  --sandbox-open LIBS  give the job script more than its sandbox: a comma list of io,\n"
     "              os, debug, package, bytecode, gc (README: Security model)\n",
     cmd_run},
    {"check", "check FILE.lua|DIR...", "load and validate job scripts without running them",
     "Checks each script (syntax, JOB_TYPE, run, SCHEMA) and every *.lua of each folder, and that\n"
     "no two scripts define the same JOB_TYPE. Prints \"ok FILE (TYPE)\" per good script; each\n"
     "problem goes to stderr with its file and line. Exit 2 when any script is bad.\n",
     cmd_check},
    {"submit", "submit TYPE [JSON|--batch FILE|-] [--ttr S] [--delay S] [--priority N]",
     "queue a job (or one per line of a file); prints its uuid",
     "Validates the params against the type's SCHEMA (its script must be in the jobs folder),\n"
     "stores the job and queues it; prints its uuid. Nothing is stored when the params are bad.\n"
     "  --batch FILE|-  one JSON object of params per line (- is stdin): every line is checked\n"
     "                  first, then all are stored; one uuid per line, in order\n"
     "  --then TYPE     with --batch: a callback job of TYPE, parked until every job of the\n"
     "                  batch has ended, then run; its uuid is printed last (flows)\n"
     "  --then-params JSON  the callback's params\n"
     "  --ttr S         seconds a run may hold its reservation unrenewed (> 0; default: the\n"
     "                  type's TTR)\n"
     "  --delay S       seconds before the first run (>= 0)\n"
     "  --priority N    a whole number >= 0; lower runs sooner (default: the type's PRIORITY)\n",
     cmd_submit},
    {"progress", "progress UUID", "print a job's {completeness, result}",
     "Reads the stored document; works from any folder (no job scripts needed).\n", cmd_progress},
    {"info", "info UUID", "print a job's completeness, result, events, warnings, errors",
     "Reads the stored document; works from any folder (no job scripts needed).\n", cmd_info},
    {"data", "data UUID", "print a job's data (its type's get_data())",
     "get_data() is the type's code: the job's script must be in the jobs folder. A type whose\n"
     "script is not there is exit 3, with a message naming it.\n",
     cmd_data},
    {"dump", "dump UUID", "print a job's whole document",
     "Reads the stored document; works from any folder (no job scripts needed).\n", cmd_dump},
    {"watch", "watch [--json] UUID", "follow a job that workers run until it has a result",
     "Shows the job's progress, events, warnings and errors as `run` does, then its outcome\n"
     "(a summary on a terminal, JSON otherwise or with --json). Exit 0 for a 2xx result, 1 for\n"
     "another. Works from any folder; the data needs the type's script in the jobs folder.\n",
     cmd_watch},
    {"kill", "kill [--json] UUID | kill --state waiting|delayed [--type T] [--queue Q]",
     "stop a job: error and result 410, off its queue",
     "ZeroG's killJob: records error 410 \"Killed by user\" and result 410 and deletes the job's\n"
     "queue message; a host running it stops it within a second. Prints \"killed job UUID\"\n"
     "(with --json: {\"killed\":true,\"uuid\":...}). A finished job is exit 2.\n"
     "With --state instead of a UUID, kills every waiting (and/or delayed) job that matches,\n"
     "page by page, and prints {\"killed\":N}; a job that a worker claims meanwhile is killed\n"
     "too, one that finished first is skipped. Running jobs are killed one by one, by UUID.\n"
     "  --state S   waiting or delayed (repeatable, or a comma list)\n"
     "  --type T    only jobs of this type     --queue Q   only jobs on this queue\n",
     cmd_kill},
    {"list",
     "list [--state S]... [--type T] [--queue Q] [--limit N] [--cursor C]\n"
     "        [--since TIME] [--json]",
     "find jobs by state, type and queue, newest first, a page at a time",
     "Prints one JSON object per job (a table when stdout is a terminal, unless --json):\n"
     "uuid, type, queue, state, completeness, resultCode (null while none), createdAt,\n"
     "updatedAt, lastError (null when none), errorCount. Jobs come newest first by when they\n"
     "entered their state. When more jobs match than the page holds, the last line is\n"
     "{\"next\":\"C\"} (on a terminal, \"next page: --cursor C\" on stderr): run the same list "
     "with\n"
     "--cursor C for the next page; paging lists no job twice and skips none that stayed put.\n"
     "  --state S   waiting, delayed, running, succeeded, failed, buried, parked (repeatable,\n"
     "              or a comma list; default: all)\n"
     "  --type T    only jobs of this type     --queue Q   only jobs on this queue\n"
     "  --limit N   jobs per page, 1..1000 (default 50)\n"
     "  --since TIME  only jobs that entered their state since TIME: ISO 8601\n"
     "              (2026-11-29T20:00:00Z; no zone is UTC) or a duration ago (30s, 10m, 2h, 7d)\n",
     cmd_list},
    {"retry", "retry [--json] UUID | retry --state failed [--type T] [--queue Q]",
     "run a failed job again (or every failed job that matches)",
     "Puts a failed job back to waiting: its errorCount is kept, its result cleared, an event\n"
     "\"Retried by hand\" recorded. Prints \"retried job UUID\" (--json: {\"retried\":true,...}).\n"
     "A job that is not failed is exit 2; an unknown uuid exit 3. With --state failed instead\n"
     "of a UUID, retries every failed job that matches and prints {\"retried\":N}.\n",
     cmd_retry},
    {"delete", "delete [--json] UUID...", "remove jobs, their documents and queue messages",
     "Deletes each job whatever its state (a run in progress loses its lease). Prints\n"
     "\"deleted job UUID\" for each (--json: {\"deleted\":true,\"uuid\":...}); an unknown uuid is\n"
     "named on stderr and, after the others are tried, exit 3.\n",
     cmd_delete},
    {"purge", "purge --state succeeded|failed [--type T] [--queue Q] [--older-than DURATION]",
     "delete finished jobs in bulk; prints {\"deleted\":N}",
     "Deletes the succeeded and/or failed jobs that match, in small batches of one atomic step\n"
     "each, so the store stays responsive.\n"
     "  --state S   succeeded or failed (repeatable, or a comma list; one is needed)\n"
     "  --type T    only jobs of this type     --queue Q   only jobs on this queue\n"
     "  --older-than DURATION   only jobs that finished more than DURATION ago (30s, 10m, 2h,\n"
     "              7d, 2w)\n",
     cmd_purge},
    {"worker",
     "worker [--queue NAME]... [--concurrency N] [--threads T] [--until-idle] [--max-jobs N]\n"
     "        [--log-format text|json] [--sandbox-open LIBS]",
     "run jobs from queues",
     "Runs jobs from the named queues, or from the queues of every job type in the jobs folder.\n"
     "  --queue NAME       a queue to serve (repeatable)\n"
     "  --concurrency N    worker processes under a supervisor that replaces any that dies\n"
     "                     (1..64)\n"
     "  --threads T        runs at once in each worker process, one thread each (1..64):\n"
     "                     less CPU per job than as many processes; a crash ends all T\n"
     "  --until-idle       exit 0 once nothing is ready and nothing is held\n"
     "  --max-jobs N       stop after N runs (> 0)\n"
     "  --log-format F     text or json (one JSON object per line)\n"
     "  --sandbox-open LIBS  give job scripts more than their sandbox: a comma list of io,\n"
     "                     os, debug, package, bytecode, gc (README: Security model)\n",
     cmd_worker},
    {"stats", "stats [--by-type] [--queue NAME]...",
     "counts per queue as JSON (--by-type: jobs per type and state)",
     "Ready, delayed, reserved, buried and unclaimed messages per queue. Without --queue: the\n"
     "queues of the job types in the jobs folder, if there is one.\n"
     "unclaimed: ready jobs of a type no live host has asked for in the last 15 s (a worker\n"
     "without that job type's script, say).\n"
     "  --by-type   instead: how many jobs of each type are in each state, per queue\n"
     "              ({QUEUE:{TYPE:{\"waiting\":n,\"delayed\":n,\"running\":n,\"succeeded\":n,\n"
     "              \"failed\":n,\"buried\":n}}}; without --queue, every queue the store knows)\n",
     cmd_stats},
    {"buried", "buried [QUEUE]", "jobs set aside as unloadable, one JSON object per line",
     "Each line: uuid, jobType, reason, buriedAt (ms). QUEUE defaults to zerog_jobs.\n",
     cmd_buried},
    {"kick", "kick QUEUE [N]", "put buried jobs back to waiting (or delayed ones ready now)",
     "Puts up to N (default: all) buried jobs of QUEUE back to waiting; when none is buried,\n"
     "makes its delayed jobs ready now.\n",
     cmd_kick},
    {"shards", "shards QUEUE [N]", "the shard count of a sharded queue (N: change it)",
     "Prints {\"queue\":QUEUE,\"shards\":n}: how many shards (SHARDS) the store records for\n"
     "QUEUE (1: not sharded). The first host that loads a type of QUEUE records its SHARDS;\n"
     "a host whose SHARDS differs is refused. With N (1..64), changes the record, only while\n"
     "QUEUE holds no job (exit 2 otherwise): stop every host first, and start them with\n"
     "SHARDS = N after.\n",
     cmd_shards},
    /* repeatable jobs */
    {"schedule", "schedule TYPE RULE [JSON] [--tz Z] [--queue Q] [--catch-up once|skip]",
     "make jobs of TYPE at each tick of RULE; prints the schedule id",
     "RULE: a cron expression in quotes (minute hour day-of-month month day-of-week), an @name\n"
     "(@yearly @annually @monthly @weekly @daily @midnight @hourly), or @every:N (N seconds,\n"
     "or Ns, Nm, Nh). JSON: the jobs' params.\n"
     "  --tz Z        the time zone of a cron rule (default UTC), e.g. Europe/Paris\n"
     "  --queue Q     the queue of its jobs (default: the type's QUEUE_NAME)\n"
     "  --catch-up C  once (default): one job for the ticks missed while no host ran; skip: none\n",
     cmd_schedule},
    {"schedules", "schedules", "list the schedules, one JSON object per line",
     "Each line: id, jobType, queue, rule, tz, params, catchUp, nextRun, lastRun (ISO 8601),\n"
     "nextMs, lastMs. A loaded type's REPEAT is schedule type:<jobType>.\n",
     cmd_schedules},
    {"unschedule", "unschedule ID", "remove a schedule",
     "Removes schedule ID. A type's REPEAT (type:<jobType>) comes back when a host loads the\n"
     "type again: remove it from the script instead.\n",
     cmd_unschedule},
    {"serve",
     "serve [--listen HOST:PORT] [--workers N] [--threads T] [--auth-token T] [--grace S]\n"
     "        [--log-format text|json] [--max-body BYTES] [--http-timeout S]\n"
     "        [--max-connections N] [--max-connections-per-ip N] [--sandbox-open LIBS]",
     "the daemon: HTTP API and supervised worker processes",
     "  --listen HOST:PORT   where the HTTP API listens (a host name, or [IPv6]:port)\n"
     "  --workers N          worker processes (default: the number of cores)\n"
     "  --threads T          runs at once in each worker process (1..64, default 1)\n"
     "  --auth-token T       a bearer token every request must carry ($ZEROG_AUTH_TOKEN)\n"
     "  --grace S            seconds running jobs get to finish on SIGTERM (default 30)\n"
     "  --log-format F       text or json\n"
     "  --max-body BYTES     the largest request body\n"
     "  --http-timeout S     an idle or slow connection is closed after S seconds (default 10)\n"
     "  --max-connections N  connections in all (default 4096)\n"
     "  --max-connections-per-ip N   connections per client address (default 128)\n"
     "  --sandbox-open LIBS  give job scripts more than their sandbox: a comma list of io,\n"
     "                       os, debug, package, bytecode, gc (README: Security model)\n",
     cmd_serve},
    {"events", "events", "follow job starts and ends as JSON lines",
     "Prints each job start and end that hosts publish on the Redis channel zerog:events, one\n"
     "JSON object per line, until SIGINT or SIGTERM.\n",
     cmd_events},
    {"version", "version", "print the version", "", cmd_version},
    {"help", "help [COMMAND]", "this overview, or a command's usage", "", cmd_help},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char global_usage[] = "usage: zerog [--store URL] [--jobs DIR] COMMAND ...\n";
static const char global_notes[] =
    "The store is --store, else $ZEROG_STORE, else redis://127.0.0.1:6379/0 (mem:// is the\n"
    "in-process store); job scripts come from --jobs, else $ZEROG_JOBS, else ./jobs.\n"
    "Options may come anywhere on the line. `zerog help COMMAND` or `zerog COMMAND --help`\n"
    "describes one command. Exit codes: 0 ok; 1 a job ended without a 2xx result, or the store\n"
    "failed; 2 bad input; 3 an unknown job uuid or job type.\n";

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static void print_overview(FILE *out)
{
    fputs(global_usage, out);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command *c = &commands[i];
        if (strlen(c->synopsis) <= 36)
            fprintf(out, "  %-36s  %s\n", c->synopsis, c->summary);
        else
            fprintf(out, "  %s\n  %-36s  %s\n", c->synopsis, "", c->summary);
    }
    fputs(global_notes, out);
}

static void print_command_usage(FILE *out, const command *c)
{
    fprintf(out, "usage: zerog %s\n%s.\n%s", c->synopsis, c->summary, c->details);
}

int cli_usage(void)
{
    print_overview(stderr);
    return EXIT_BAD_INPUT;
}

int cli_command_usage(const char *cmd)
{
    const command *c = find_command(cmd);
    if (c) fprintf(stderr, "usage: zerog %s\n", c->synopsis);
    return EXIT_BAD_INPUT;
}

static int cmd_version(const cli_options *o, int argc, char **argv)
{
    (void)o;
    const char *operands[1];
    int n, code = cli_parse("version", argc, argv, NULL, 0, 0, operands, &n);
    if (code != EXIT_OK) return code;
    printf("zerog %s\n", ZG_VERSION);
    return EXIT_OK;
}

static int cmd_help(const cli_options *o, int argc, char **argv)
{
    (void)o;
    const char *operands[1];
    int n, code = cli_parse("help", argc, argv, NULL, 0, 1, operands, &n);
    if (code != EXIT_OK) return code;
    if (n == 0) {
        print_overview(stdout);
        return EXIT_OK;
    }
    const command *c = find_command(operands[0]);
    if (!c) {
        fprintf(stderr, "zerog: help: unknown command %s\n", operands[0]);
        return EXIT_BAD_INPUT;
    }
    print_command_usage(stdout, c);
    return EXIT_OK;
}

int cli_exit_code(int rc)
{
    switch (rc) {
    case ZG_OK:
        return EXIT_OK;
    case ZG_ENOTFOUND:
        return EXIT_NOT_FOUND;
    case ZG_EINVAL:
    case ZG_ESCRIPT:
    case ZG_EJOB:
        return EXIT_BAD_INPUT;
    default: /* the store failed, out of memory, a lapsed reservation, a collision */
        return EXIT_JOB_FAILED;
    }
}

int cli_fail(zg_host *h, int rc)
{
    fprintf(stderr, "zerog: %s\n", zg_errstr(h));
    return cli_exit_code(rc);
}

/* How many bytes put_escaped writes for s. */
static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        n += c == '\n' || c == '\r' || c == '\t' ? 2 : c < 0x20 || c == 0x7f ? 4 : 1;
    }
    return n;
}

/* Writes s at out with CR, LF, tab and every other control character escaped (\r \n \t \xNN),
 * so a message cannot end its line early or forge another one; returns the end. */
static char *put_escaped(char *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n' || c == '\r' || c == '\t') {
            *out++ = '\\';
            *out++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20 || c == 0x7f) {
            *out++ = '\\';
            *out++ = 'x';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        } else {
            *out++ = (char)c;
        }
    }
    return out;
}

/* A log line, built whole (on the stack when it fits: this runs for every line a job logs) and
 * written with one call, so lines of processes sharing stderr do not mix. */
void cli_log_line(void *ud, int level, const char *log_id, const char *msg)
{
    static const char *const names[] = {"info", "warning", "error"};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32], head[64];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    int head_len =
        snprintf(head, sizeof head, "%s.%03ldZ %-7s ", when, ts.tv_nsec / 1000000, names[level]);
    if (head_len < 0 || (size_t)head_len >= sizeof head) return;
    const char *worker = ud ? (const char *)ud : "-";
    size_t need =
        (size_t)head_len + escaped_len(worker) + 1 + escaped_len(log_id) + 2 + escaped_len(msg) + 1;
    char stack[1024];
    char *line = need <= sizeof stack ? stack : malloc(need);
    if (!line) return;
    char *p = line;
    memcpy(p, head, (size_t)head_len);
    p += head_len;
    p = put_escaped(p, worker);
    *p++ = ' ';
    p = put_escaped(p, log_id);
    if (*log_id) {
        *p++ = ':';
        *p++ = ' ';
    }
    p = put_escaped(p, msg);
    *p++ = '\n';
    fwrite(line, 1, (size_t)(p - line), stderr);
    fflush(stderr);
    if (line != stack) free(line);
}

static int is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cli_check_jobs_dir(const char *cmd, const cli_options *o)
{
    DIR *dir = opendir(o->jobs);
    if (dir) {
        closedir(dir);
        return EXIT_OK;
    }
    fprintf(stderr, "zerog: %s: cannot read the jobs directory %s: %s\n", cmd, o->jobs,
            strerror(errno));
    return EXIT_BAD_INPUT;
}

int cli_load_jobs_if_present(zg_host *h, const cli_options *o)
{
    return is_directory(o->jobs) && zg_load_dir(h, o->jobs, NULL, NULL) == ZG_OK;
}

zg_host *cli_open(const cli_options *o, cli_jobs jobs, zg_config *cfg, int *exit_code)
{
    zg_config defaults;
    if (!cfg) {
        zg_config_init(&defaults);
        defaults.log = cli_log_line;
        cfg = &defaults;
    }
    cfg->store = o->store;
    cfg->sandbox_open = o->sandbox_open;
    *exit_code = EXIT_OK;
    zg_host *h = zg_host_new(cfg);
    if (!h) {
        fputs("zerog: out of memory\n", stderr);
        *exit_code = EXIT_JOB_FAILED;
        return NULL;
    }
    int rc = zg_errcode(h);
    if (rc == ZG_OK && jobs == CLI_JOBS_REQUIRED) rc = zg_load_dir(h, o->jobs, NULL, NULL);
    if (rc == ZG_OK && jobs == CLI_JOBS_IF_PRESENT) cli_load_jobs_if_present(h, o);
    if (rc != ZG_OK) {
        *exit_code = cli_fail(h, rc);
        zg_host_free(h);
        return NULL;
    }
    return h;
}

zg_host *cli_open_host(const cli_options *o, int load_jobs, zg_config *cfg)
{
    int code;
    return cli_open(o, load_jobs ? CLI_JOBS_REQUIRED : CLI_JOBS_NONE, cfg, &code);
}

/* Takes the global options out of argv (anywhere before a "--"); returns the new argc, or -1
 * after saying which option lacks its value. */
static int global_options(cli_options *o, int argc, char **argv)
{
    int out = 1, i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char **slot = strcmp(argv[i], "--store") == 0  ? &o->store
                            : strcmp(argv[i], "--jobs") == 0 ? &o->jobs
                                                             : NULL;
        if (slot) {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                fprintf(stderr, "zerog: %s needs a value\n", argv[i]);
                return -1;
            }
            *slot = argv[++i];
        } else if (strncmp(argv[i], "--store=", 8) == 0) {
            o->store = argv[i] + 8;
        } else if (strncmp(argv[i], "--jobs=", 7) == 0) {
            o->jobs = argv[i] + 7;
        } else {
            argv[out++] = argv[i];
        }
    }
    for (; i < argc; i++)
        argv[out++] = argv[i];
    argv[out] = NULL;
    return out;
}

/* Whether a command's arguments ask for its usage (-h or --help before any "--"). */
static int asks_for_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    /* a Redis connection that breaks must be an error to retry, not a fatal SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    cli_options o = {getenv("ZEROG_STORE"), getenv("ZEROG_JOBS"), NULL};
    argc = global_options(&o, argc, argv);
    if (argc < 0) return EXIT_BAD_INPUT;
    if (!o.store || !*o.store) o.store = "redis://127.0.0.1:6379/0";
    if (!o.jobs || !*o.jobs) o.jobs = "jobs";
    if (argc < 2) return cli_usage();
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) name = "help";
    if (strcmp(name, "--version") == 0) name = "version";
    const command *c = find_command(name);
    if (!c) {
        fprintf(stderr, "zerog: unknown command %s (zerog help lists them)\n", name);
        return EXIT_BAD_INPUT;
    }
    if (asks_for_help(argc - 2, argv + 2)) {
        print_command_usage(stdout, c);
        return EXIT_OK;
    }
    return c->run(&o, argc - 2, argv + 2);
}
