/* jobs: the commands that act on jobs in the store.
 *   zerog submit TYPE [JSON|--batch FILE|-] [--ttr S] [--delay S] [--priority N]
 *   zerog progress|info|data|dump UUID
 *   zerog kill [--json] UUID   (kill --state ...: index.c)
 *   zerog stats [--queue NAME]...   (stats --by-type: index.c)
 * Only submit needs the job scripts (it validates params against the type's SCHEMA). The others
 * read or change stored documents and work from any folder; data and kill fall back on the jobs
 * folder when the library needs the job's type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"

/* Reads the non-blank lines of a file ("-": stdin) into *lines and the number of each line in the
 * file (from 1, blank ones counted) into *numbers; returns how many, -1 when the file cannot be
 * read or memory runs out (never a partial batch), or -2 when a line holds a NUL byte (its number
 * in *bad). */
static long read_lines(const char *path, char ***lines, long **numbers, long *bad)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0, n = 0, size = 0;
    long physical = 0;
    int failed = 0;
    ssize_t len;
    *lines = NULL;
    *numbers = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        physical++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (strlen(line) != (size_t)len) { /* JSON text never holds a NUL byte */
            *bad = physical;
            break;
        }
        if (strspn(line, " \t") == (size_t)len) continue;
        if (n == size) {
            size = size ? size * 2 : 256;
            char **grown = realloc(*lines, size * sizeof **lines);
            if (grown) *lines = grown;
            long *grown_numbers = grown ? realloc(*numbers, size * sizeof **numbers) : NULL;
            if (grown_numbers) *numbers = grown_numbers;
            if (!grown || !grown_numbers) {
                failed = 1;
                break;
            }
        }
        if (!((*lines)[n] = strdup(line))) {
            failed = 1;
            break;
        }
        (*numbers)[n++] = physical;
    }
    if (ferror(f)) failed = 1;
    free(line);
    if (f != stdin) fclose(f);
    if (*bad || failed) {
        for (size_t i = 0; i < n; i++)
            free((*lines)[i]);
        free(*lines);
        free(*numbers);
        *lines = NULL;
        *numbers = NULL;
        return *bad ? -2 : -1;
    }
    return (long)n;
}

/* The library names a bad line of a batch "line N: ..." with N counting the lines it was given
 * (the non-blank ones): prints the message with N as the line's number in the file. */
static int batch_fail(zg_host *h, int rc, const long *numbers, long n)
{
    const char *msg = zg_errstr(h);
    long index;
    int skip = 0;
    if (rc == ZG_EINVAL && sscanf(msg, "line %ld: %n", &index, &skip) == 1 && skip > 0 &&
        index >= 1 && index <= n) {
        fprintf(stderr, "zerog: line %ld: %s\n", numbers[index - 1], msg + skip);
        return cli_exit_code(rc);
    }
    return cli_fail(h, rc);
}

static int submit_batch(zg_host *h, const char *type, const char *path, const zg_submit_opts *opts,
                        const char *then_type, const char *then_params)
{
    char **lines;
    long *numbers, bad = 0, n = read_lines(path, &lines, &numbers, &bad);
    if (n == -2) {
        fprintf(stderr,
                "zerog: line %ld: params hold a NUL byte, which JSON text cannot (write "
                "\\u0000 in a string)\n",
                bad);
        return EXIT_BAD_INPUT;
    }
    if (n < 0) {
        fprintf(stderr, "zerog: cannot read %s (or out of memory)\n", path);
        return EXIT_BAD_INPUT;
    }
    char(*uuids)[ZG_UUID_LEN] = calloc(n ? (size_t)n : 1, sizeof *uuids);
    char then_uuid[ZG_UUID_LEN] = "";
    int rc = uuids ? zg_submit_batch_then(h, type, (const char *const *)lines, (size_t)n, opts,
                                          then_type, then_params, uuids, then_uuid)
                   : ZG_ENOMEM;
    int code = rc == ZG_OK ? EXIT_OK : uuids ? batch_fail(h, rc, numbers, n) : cli_fail(h, rc);
    /* made in part (the store refused some of it): the uuids of the jobs made, an empty line
     * for each one not made, so that the lines still match the batch's */
    int some = 0;
    for (long i = 0; rc == ZG_ESTORE && uuids && i < n; i++)
        some |= uuids[i][0] != '\0';
    for (long i = 0; (rc == ZG_OK || some) && i < n; i++)
        printf("%s\n", uuids[i]);
    if (rc == ZG_OK && then_type) printf("%s\n", then_uuid); /* (flows: the callback, last) */
    for (long i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    free(numbers);
    free(uuids);
    return code;
}

int cmd_submit(const cli_options *o, int argc, char **argv)
{
    double ttr = 0, delay = 0, priority = -1;
    const char *batch = NULL, *operands[2], *then_type = NULL, *then_params = NULL;
    const cli_opt opts[] = {{"--ttr", CLI_NUMBER, &ttr},
                            {"--delay", CLI_NUMBER, &delay},
                            {"--priority", CLI_NUMBER, &priority},
                            {"--batch", CLI_TEXT, &batch},
                            {"--then", CLI_TEXT, &then_type}, /* flows: a batch's callback */
                            {"--then-params", CLI_TEXT, &then_params},
                            {NULL, CLI_FLAG, NULL}};
    int n, code = cli_parse("submit", argc, argv, opts, 1, 2, operands, &n);
    if (code != EXIT_OK) return code;
    if (batch && n == 2) {
        fputs("zerog: submit: give params as JSON or with --batch, not both\n", stderr);
        return EXIT_BAD_INPUT;
    }
    if ((then_type || then_params) && (!batch || !then_type)) {
        fputs("zerog: submit: --then TYPE [--then-params JSON] goes with --batch\n", stderr);
        return EXIT_BAD_INPUT;
    }
    zg_submit_opts sopts = {.delay = delay, .ttr = ttr};
    if (priority >= 0) sopts.priority = (int64_t)priority, sopts.has_priority = 1;
    zg_host *h = cli_open(o, CLI_JOBS_REQUIRED, NULL, &code);
    if (!h) return code;
    if (batch) {
        code = submit_batch(h, operands[0], batch, &sopts, then_type, then_params);
    } else {
        char uuid[ZG_UUID_LEN];
        int rc = zg_submit(h, operands[0], n == 2 ? operands[1] : NULL, &sopts, uuid);
        if (rc == ZG_EEXIST) { /* a unique job: the one that holds the key is the answer */
            fprintf(stderr, "zerog: %s\n", zg_errstr(h));
            rc = ZG_OK;
        }
        code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
        if (rc == ZG_OK) printf("%s\n", uuid);
    }
    zg_host_free(h);
    return code;
}

/* Whether the job type is among the scripts h has loaded. */
static int type_loaded(zg_host *h, const char *type)
{
    char *scripts = NULL, name[ZG_NAME_LEN];
    int found = 0;
    if (zg_scripts(h, &scripts) != ZG_OK) return 0;
    for (const char *s = zg_json_first(zg_json_member(scripts, "loaded")); s && !found;
         s = zg_json_next(s))
        found = zg_json_text(zg_json_member(s, "jobType"), name, sizeof name) &&
                strcmp(name, type) == 0;
    zg_free(scripts);
    return found;
}

/* When a call failed on the job uuid, its type if that type is not loaded (into type). */
static int missing_type(zg_host *h, const char *uuid, char type[ZG_NAME_LEN])
{
    char *fields = NULL;
    if (zg_read(h, ZG_VIEW_FIELDS, uuid, &fields) != ZG_OK) return 0;
    int missing =
        zg_json_text(zg_json_member(fields, "jobType"), type, ZG_NAME_LEN) && !type_loaded(h, type);
    zg_free(fields);
    return missing;
}

/* Runs call(h, uuid) and, when it failed because the job's type is not loaded, loads the jobs
 * folder (if there is one) and runs it again. A type still missing is CLI_TYPE_MISSING, said
 * here. */
static int with_type(zg_host *h, const cli_options *o, const char *uuid, const char *what,
                     int (*call)(zg_host *h, const char *uuid, void *ud), void *ud)
{
    int rc = call(h, uuid, ud);
    if (rc == ZG_OK || rc == ZG_ENOTFOUND || rc == ZG_ESTORE) return rc;
    char type[ZG_NAME_LEN];
    if (!missing_type(h, uuid, type)) return rc;
    if (cli_load_jobs_if_present(h, o) && type_loaded(h, type)) return call(h, uuid, ud);
    fprintf(stderr,
            "zerog: %s of job %s needs its job type %s, whose script is not in the jobs folder "
            "%s (--jobs, ZEROG_JOBS)\n",
            what, uuid, type, o->jobs);
    return CLI_TYPE_MISSING;
}

static int read_data(zg_host *h, const char *uuid, void *out)
{
    return zg_read(h, ZG_VIEW_DATA, uuid, out);
}

int cli_read_data(zg_host *h, const cli_options *o, const char *uuid, char **json)
{
    *json = NULL;
    return with_type(h, o, uuid, "the data", read_data, json);
}

static int read_view(const cli_options *o, const char *cmd, zg_view view, int argc, char **argv)
{
    const char *uuid;
    int n, code = cli_parse(cmd, argc, argv, NULL, 1, 1, &uuid, &n);
    if (code != EXIT_OK) return code;
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    char *json = NULL;
    int rc =
        view == ZG_VIEW_DATA ? cli_read_data(h, o, uuid, &json) : zg_read(h, view, uuid, &json);
    if (rc == ZG_OK) {
        json_write(stdout, json);
        putchar('\n');
    }
    code = rc == CLI_TYPE_MISSING ? EXIT_NOT_FOUND : rc != ZG_OK ? cli_fail(h, rc) : EXIT_OK;
    zg_free(json);
    zg_host_free(h);
    return code;
}

int cmd_progress(const cli_options *o, int argc, char **argv)
{
    return read_view(o, "progress", ZG_VIEW_PROGRESS, argc, argv);
}

int cmd_info(const cli_options *o, int argc, char **argv)
{
    return read_view(o, "info", ZG_VIEW_INFO, argc, argv);
}

int cmd_data(const cli_options *o, int argc, char **argv)
{
    return read_view(o, "data", ZG_VIEW_DATA, argc, argv);
}

int cmd_dump(const cli_options *o, int argc, char **argv)
{
    return read_view(o, "dump", ZG_VIEW_DUMP, argc, argv);
}

int cmd_kill(const cli_options *o, int argc, char **argv)
{
    const char *uuid, *type = NULL, *queue = NULL;
    int json = 0;
    cli_list states = {0};
    const cli_opt opts[] = {{"--json", CLI_FLAG, &json},
                            {"--state", CLI_LIST, &states},
                            {"--type", CLI_TEXT, &type},
                            {"--queue", CLI_TEXT, &queue},
                            {NULL, CLI_FLAG, NULL}};
    int n, code = cli_parse("kill", argc, argv, opts, 0, 1, &uuid, &n);
    if (code != EXIT_OK) return code;
    if (n == 0 && states.n) return cli_kill_bulk(o, &states, type, queue);
    if (n == 0 || states.n || type || queue) {
        fputs("zerog: kill: give a job's UUID, or --state waiting|delayed with its filters\n",
              stderr);
        return cli_command_usage("kill");
    }
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    int rc = zg_kill(h, uuid); /* one step on the stored job: no job script needed */
    if (rc == ZG_OK && json) {
        char quoted[ZG_UUID_LEN * 2 + 8];
        json_quote(quoted, sizeof quoted, uuid);
        printf("{\"killed\":true,\"uuid\":%s}\n", quoted);
    } else if (rc == ZG_OK) {
        printf("killed job %s\n", uuid);
    }
    code = rc != ZG_OK ? cli_fail(h, rc) : EXIT_OK;
    zg_host_free(h);
    return code;
}

/* Adds name to the list unless it is there already. */
static void add_queue(cli_list *queues, const char *name)
{
    for (size_t i = 0; i < queues->n; i++)
        if (strcmp(queues->items[i], name) == 0) return;
    if (queues->n < CLI_LIST_MAX) queues->items[queues->n++] = name;
}

int cmd_stats(const cli_options *o, int argc, char **argv)
{
    cli_list asked = {0}, queues = {0};
    int by_type = 0;
    const cli_opt opts[] = {
        {"--queue", CLI_LIST, &asked}, {"--by-type", CLI_FLAG, &by_type}, {NULL, CLI_FLAG, NULL}};
    const char *operands[1];
    int n, code = cli_parse("stats", argc, argv, opts, 0, 0, operands, &n);
    if (code != EXIT_OK) return code;
    if (by_type) {
        for (size_t i = 0; i < asked.n; i++)
            add_queue(&queues, asked.items[i]);
        return cli_stats_by_type(o, &queues);
    }
    for (size_t i = 0; i < asked.n; i++)
        add_queue(&queues, asked.items[i]);
    /* without --queue, the queues of the job types in the jobs folder, if there is one */
    zg_host *h = cli_open(o, queues.n ? CLI_JOBS_NONE : CLI_JOBS_IF_PRESENT, NULL, &code);
    if (!h) return code;
    char *loaded = NULL;
    if (queues.n == 0 && zg_queues(h, &loaded) == ZG_OK) {
        for (const char *q = zg_json_first(loaded); q; q = zg_json_next(q)) {
            char *name = zg_json_text_dup(q);
            if (name) add_queue(&queues, name); /* freed below, with the list */
        }
    }
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    if (!f) code = EXIT_JOB_FAILED;
    for (size_t i = 0; f && i < queues.n; i++) {
        zg_queue_counts c;
        int rc = zg_queue_counts_get(h, queues.items[i], &c);
        if (rc != ZG_OK) {
            code = cli_fail(h, rc);
            break;
        }
        char quoted[ZG_NAME_LEN * 2 + 8];
        json_quote(quoted, sizeof quoted, queues.items[i]);
        fprintf(f,
                "%s%s:{\"ready\":%lld,\"delayed\":%lld,\"reserved\":%lld,\"buried\":%lld,"
                "\"unclaimed\":%lld}",
                i ? "," : "{", quoted, (long long)c.ready, (long long)c.delayed,
                (long long)c.reserved, (long long)c.buried, (long long)c.unclaimed);
    }
    if (f) fclose(f);
    if (code == EXIT_OK) printf("%s}\n", queues.n ? out : "{");
    free(out);
    if (loaded)
        for (size_t i = 0; i < queues.n; i++)
            free((char *)queues.items[i]);
    zg_free(loaded);
    zg_host_free(h);
    return code;
}
