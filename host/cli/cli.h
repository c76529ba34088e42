/* cli: what the zerog command's subcommands share: global options, opening a host, exit codes.
 * Every subcommand is a client of the public API (zerog.h) only. */
#ifndef ZG_CLI_H
#define ZG_CLI_H

#include "zerog.h"

/* Exit codes. 1 is also a store that cannot be reached. */
enum {
    EXIT_OK = 0,
    EXIT_JOB_FAILED = 1, /* a job finished with a result other than 2xx; a store error */
    EXIT_BAD_INPUT = 2,  /* usage, missing file, script error, invalid params or JSON */
    EXIT_NOT_FOUND = 3   /* an unknown job uuid */
};

typedef struct cli_options {
    const char *store; /* --store, ZEROG_STORE, or redis://127.0.0.1:6379/0 */
    const char *jobs;  /* --jobs, ZEROG_JOBS, or ./jobs */
} cli_options;

/* Opens a host on the store, loading the jobs directory when load_jobs; prints the reason and
 * returns NULL when it cannot (the store unreachable: exit 1). */
zg_host *cli_open_host(const cli_options *o, int load_jobs, zg_config *cfg);
/* Prints the host's error and returns the exit code for a library error code. */
int cli_fail(zg_host *h, int rc);
int cli_usage(void);
/* Logs to stderr: time, level, the worker's name, logId, message. */
void cli_log_line(void *ud, int level, const char *log_id, const char *msg);
/* Prints {"uuid", "result", "job", "data"} for a finished job; returns its exit code. */
int cli_print_outcome(zg_host *h, const char *uuid, int result);
/* Parses a number option value; returns 0 and prints an error when it is not one. */
int cli_number(const char *opt, const char *text, double *out);

int cmd_run(const cli_options *o, int argc, char **argv);
int cmd_watch(const cli_options *o, int argc, char **argv);
int cmd_check(const cli_options *o, int argc, char **argv);
int cmd_submit(const cli_options *o, int argc, char **argv);
int cmd_read(const cli_options *o, zg_view view, int argc, char **argv);
int cmd_kill(const cli_options *o, int argc, char **argv);
int cmd_stats(const cli_options *o, int argc, char **argv);
int cmd_worker(const cli_options *o, int argc, char **argv);
int cmd_serve(const cli_options *o, int argc, char **argv);
int cmd_events(const cli_options *o, int argc, char **argv);
int cmd_buried(const cli_options *o, int argc, char **argv);
int cmd_kick(const cli_options *o, int argc, char **argv);

#endif
