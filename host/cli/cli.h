/* cli: what the zerog command's subcommands share: global options, the command line of each
 * subcommand, opening a host, exit codes. Every subcommand is a client of the public API
 * (zerog.h) only. */
#ifndef ZG_CLI_H
#define ZG_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zerog.h"

/* Exit codes (README's table). */
enum {
    EXIT_OK = 0,
    EXIT_JOB_FAILED = 1, /* a job finished with a result other than 2xx; the store failed or
                            cannot be reached */
    EXIT_BAD_INPUT = 2,  /* usage, a bad option, a missing file or folder, a script error,
                            invalid params or JSON, a bad store URL */
    EXIT_NOT_FOUND = 3,  /* an unknown job uuid; a job type that is not found */
    EXIT_OVERRUN = 4     /* a worker (or run) whose job overran its TIMEOUT where the VM could
                            not stop it: ended by the watchdog (zg_config.on_overrun) */
};

typedef struct cli_options {
    const char *store; /* --store, ZEROG_STORE, or redis://127.0.0.1:6379/0 */
    const char *jobs;  /* --jobs, ZEROG_JOBS, or ./jobs */
    const char *sandbox_open; /* run/worker/serve --sandbox-open: zg_config.sandbox_open */
} cli_options;

/* ---- main.c: the commands, their usage, opening a host ---- */

/* Which job scripts a command loads when it opens its host. */
typedef enum cli_jobs {
    CLI_JOBS_NONE,       /* reads documents, not types: works from any directory */
    CLI_JOBS_IF_PRESENT, /* the jobs directory's scripts if the directory exists */
    CLI_JOBS_REQUIRED    /* the jobs directory must exist (a missing one is bad input) */
} cli_jobs;

/* Opens a host on the store, loading the scripts as `jobs` says (cfg NULL: log to stderr).
 * When it cannot, prints why and returns NULL with the exit code in *exit_code: 1 for a store
 * that cannot be reached, 2 for a bad store URL or a missing jobs directory. */
zg_host *cli_open(const cli_options *o, cli_jobs jobs, zg_config *cfg, int *exit_code);
/* cli_open with CLI_JOBS_REQUIRED (load_jobs) or CLI_JOBS_NONE; NULL on failure. */
zg_host *cli_open_host(const cli_options *o, int load_jobs, zg_config *cfg);
/* EXIT_OK when the jobs directory can be read; else prints "zerog: CMD: cannot read the jobs
 * directory PATH: why" and returns EXIT_BAD_INPUT. */
int cli_check_jobs_dir(const char *cmd, const cli_options *o);
/* Loads the jobs directory's scripts into h if the directory exists; 1 if it did. */
int cli_load_jobs_if_present(zg_host *h, const cli_options *o);
/* The exit code for a library error code. */
int cli_exit_code(int rc);
/* Prints "zerog: <the host's error>" and returns the exit code for a library error code. */
int cli_fail(zg_host *h, int rc);
/* Prints the whole usage on stderr; returns EXIT_BAD_INPUT. */
int cli_usage(void);
/* Prints "usage: zerog <synopsis of cmd>" on stderr; returns EXIT_BAD_INPUT. */
int cli_command_usage(const char *cmd);
/* Logs to stderr: time, level, the worker's name, logId, message. */
void cli_log_line(void *ud, int level, const char *log_id, const char *msg);

/* ---- options.c: every subcommand's command line ---- */

typedef enum cli_opt_kind {
    CLI_FLAG,  /* out: int *, set to 1 */
    CLI_TEXT,  /* out: const char ** */
    CLI_LIST,  /* out: cli_list *, one more item each time */
    CLI_NUMBER /* out: double *, checked by cli_number_option */
} cli_opt_kind;

#define CLI_LIST_MAX 64
typedef struct cli_list {
    const char *items[CLI_LIST_MAX];
    size_t n;
} cli_list;

typedef struct cli_opt {
    const char *name; /* "--ttr" */
    cli_opt_kind kind;
    void *out;
} cli_opt;

/* Parses a subcommand's arguments: options (from opts, ending with a {NULL} entry) anywhere
 * among the operands, their values as the next word or after '=', "--" ending the options.
 * The operands go to operands[0..max) and their count to *n. Returns EXIT_OK, or prints
 * "zerog: CMD: ..." naming the bad option (or the usage line for a wrong number of operands)
 * and returns EXIT_BAD_INPUT. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int min, int max,
              const char **operands, int *n);
/* Validates a numeric option's value by the option's rule (--ttr > 0, --delay >= 0, --priority
 * an integer >= 0, --concurrency an integer in 1..64, ...): refuses non-numbers, trailing junk,
 * and values out of range with "zerog: CMD: --OPT must be ..."; returns 1 when valid. */
int cli_number_option(const char *cmd, const char *opt, const char *text, double *out);
/* cli_number_option without a command name in the message. */
int cli_number(const char *opt, const char *text, double *out);
/* The same rule without a message: 1 (and *out) when text is valid for option opt. The HTTP API
 * checks its query numbers with it (?priority= by --priority's rule, ...). */
int cli_number_valid(const char *opt, const char *text, double *out);
/* A plain decimal number (digits, a point, an exponent: no hex, inf, nan, spaces or junk),
 * finite; 1 and *out when text is one. */
int cli_decimal(const char *text, double *out);

/* ---- run.c and jobs.c ---- */

/* Prints a finished job: the summary on a terminal (unless json), else {"uuid", "result",
 * "job", "data"}; returns its exit code (0 for a 2xx result). */
int cli_print_outcome(zg_host *h, const cli_options *o, const char *uuid, int result, int json);
/* Reads a job's data (jobs.c); when its type is not loaded, loads the jobs directory (if there is
 * one) and tries again. A type still not loaded is CLI_TYPE_MISSING, after a message naming it. */
#define CLI_TYPE_MISSING (-1)
int cli_read_data(zg_host *h, const cli_options *o, const char *uuid, char **json);

int cmd_run(const cli_options *o, int argc, char **argv);
int cmd_watch(const cli_options *o, int argc, char **argv);
int cmd_check(const cli_options *o, int argc, char **argv);
int cmd_submit(const cli_options *o, int argc, char **argv);
int cmd_progress(const cli_options *o, int argc, char **argv);
int cmd_info(const cli_options *o, int argc, char **argv);
int cmd_data(const cli_options *o, int argc, char **argv);
int cmd_dump(const cli_options *o, int argc, char **argv);
int cmd_kill(const cli_options *o, int argc, char **argv);
int cmd_stats(const cli_options *o, int argc, char **argv);
int cmd_worker(const cli_options *o, int argc, char **argv);
int cmd_serve(const cli_options *o, int argc, char **argv);
int cmd_events(const cli_options *o, int argc, char **argv);
int cmd_buried(const cli_options *o, int argc, char **argv);
int cmd_kick(const cli_options *o, int argc, char **argv);
int cmd_shards(const cli_options *o, int argc, char **argv);
/* schedule.c: repeatable jobs */
int cmd_schedule(const cli_options *o, int argc, char **argv);
int cmd_schedules(const cli_options *o, int argc, char **argv);
int cmd_unschedule(const cli_options *o, int argc, char **argv);
/* One schedule as a JSON object: id, jobType, queue, rule, tz, params, catchUp, nextRun,
 * lastRun (ISO 8601 or null), nextMs, lastMs. */
void cli_print_schedule(FILE *out, const zg_schedule *s);

/* ---- index.c: finding and steering jobs (list, retry, delete, purge, bulk kill) ---- */

int cmd_list(const cli_options *o, int argc, char **argv);
int cmd_retry(const cli_options *o, int argc, char **argv);
int cmd_delete(const cli_options *o, int argc, char **argv);
int cmd_purge(const cli_options *o, int argc, char **argv);
/* zerog kill --state waiting|delayed [--type T] [--queue Q]: prints {"killed":n}. */
int cli_kill_bulk(const cli_options *o, const cli_list *states, const char *type,
                  const char *queue);
/* zerog stats --by-type [--queue Q]...: prints {QUEUE:{TYPE:{STATE:n,...}}}. */
int cli_stats_by_type(const cli_options *o, const cli_list *queues);

/* The wall clock in Unix ms. */
int64_t cli_now_ms(void);
/* A DURATION: a plain decimal number >= 0 and a unit, s, m, h, d or w (30s, 1.5h, 7d); 1 and
 * *ms when text is one. */
int cli_parse_duration(const char *text, int64_t *ms);
/* A TIME: ISO 8601 (2026-11-29, 2026-11-29T20:00:00Z, with seconds' fractions or an offset
 * +01:00; no zone is UTC), or a DURATION ago from now_ms; 1 and *ms (Unix ms) when text is one. */
int cli_parse_time(const char *text, int64_t now_ms, int64_t *ms);
/* Adds the states of a name or a comma list of names ("failed", "waiting,delayed") to *mask;
 * 0 when one is not a state's name. */
int cli_states(const char *names, unsigned *mask);
/* One job of a listing as a JSON object: uuid, type, queue, state, completeness, resultCode
 * (null while it has none), createdAt, updatedAt, lastError (null when none), errorCount. */
void cli_job_json(FILE *out, const zg_job_summary *j);
/* Counts per type as {QUEUE:{TYPE:{"waiting":n,...,"buried":n}}}, sorted by queue and type (rows
 * is sorted in place). */
void cli_type_counts_json(FILE *out, zg_type_counts *rows, size_t n);

#endif
