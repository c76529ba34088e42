/* jobs: the commands that act on jobs in the store.
 *   zerog submit TYPE [JSON] [--ttr S] [--delay S] [--priority N] [--batch FILE|-]
 *   zerog progress|info|data|dump UUID
 *   zerog kill UUID
 *   zerog stats [--queue NAME]... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Reads the non-blank lines of a file ("-": stdin) into *lines; returns how many, or -1. */
static long read_lines(const char *path, char ***lines)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0, n = 0, size = 0;
    ssize_t len;
    *lines = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (strspn(line, " \t") == (size_t)len) continue;
        if (n == size) {
            char **grown = realloc(*lines, (size = size ? size * 2 : 256) * sizeof **lines);
            if (!grown) break;
            *lines = grown;
        }
        (*lines)[n++] = strdup(line);
    }
    free(line);
    if (f != stdin) fclose(f);
    return (long)n;
}

static int submit_batch(zg_host *h, const char *type, const char *path, const zg_submit_opts *opts)
{
    char **lines;
    long n = read_lines(path, &lines);
    if (n < 0) {
        fprintf(stderr, "zerog: cannot read %s\n", path);
        return EXIT_BAD_INPUT;
    }
    char(*uuids)[ZG_UUID_LEN] = calloc(n ? (size_t)n : 1, sizeof *uuids);
    int rc = uuids ? zg_submit_batch(h, type, (const char *const *)lines, (size_t)n, opts, uuids)
                   : ZG_ENOMEM;
    int code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (code == EXIT_NOT_FOUND) code = EXIT_BAD_INPUT; /* an unknown type is bad input */
    for (long i = 0; rc == ZG_OK && i < n; i++)
        printf("%s\n", uuids[i]);
    for (long i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    free(uuids);
    return code;
}

int cmd_submit(const cli_options *o, int argc, char **argv)
{
    zg_submit_opts opts = {0};
    const char *type = NULL, *params = NULL, *batch = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double num;
        if (strcmp(a, "--ttr") == 0 || strcmp(a, "--delay") == 0 || strcmp(a, "--priority") == 0) {
            if (!cli_number(a, v, &num)) return EXIT_BAD_INPUT;
            if (a[2] == 't')
                opts.ttr = num;
            else if (a[2] == 'd')
                opts.delay = num;
            else
                opts.priority = (int64_t)num, opts.has_priority = 1;
            i++;
        } else if (strcmp(a, "--batch") == 0 && v) {
            batch = v;
            i++;
        } else if (!type)
            type = a;
        else if (!params)
            params = a;
        else
            return cli_usage();
    }
    if (!type || (batch && params)) return cli_usage();
    zg_host *h = cli_open_host(o, 1, NULL);
    if (!h) return EXIT_JOB_FAILED;
    int code;
    if (batch) {
        code = submit_batch(h, type, batch, &opts);
    } else {
        char uuid[ZG_UUID_LEN];
        int rc = zg_submit(h, type, params, &opts, uuid);
        code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
        if (code == EXIT_NOT_FOUND) code = EXIT_BAD_INPUT; /* an unknown type is bad input */
        if (rc == ZG_OK) printf("%s\n", uuid);
    }
    zg_host_free(h);
    return code;
}

int cmd_read(const cli_options *o, zg_view view, int argc, char **argv)
{
    if (argc != 1) return cli_usage();
    zg_host *h = cli_open_host(o, 1, NULL);
    if (!h) return EXIT_JOB_FAILED;
    char *json = NULL;
    int rc = zg_read(h, view, argv[0], &json);
    int code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (json) printf("%s\n", json);
    zg_free(json);
    zg_host_free(h);
    return code;
}

int cmd_kill(const cli_options *o, int argc, char **argv)
{
    if (argc != 1) return cli_usage();
    zg_host *h = cli_open_host(o, 1, NULL);
    if (!h) return EXIT_JOB_FAILED;
    int rc = zg_kill(h, argv[0]);
    int code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    zg_host_free(h);
    return code;
}

/* Adds name to the list unless it is there already. */
static void add_queue(const char **names, size_t *n, size_t max, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(names[i], name) == 0) return;
    if (*n < max) names[(*n)++] = name;
}

int cmd_stats(const cli_options *o, int argc, char **argv)
{
    const char *names[64];
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--queue") != 0 || i + 1 >= argc) return cli_usage();
        add_queue(names, &n, 64, argv[++i]);
    }
    zg_host *h = cli_open_host(o, 1, NULL);
    if (!h) return EXIT_JOB_FAILED;
    char *loaded = NULL, *cursor, *q;
    if (n == 0 && zg_queues(h, &loaded) == ZG_OK) {
        /* the loaded types' queues: a JSON array of plain names */
        for (cursor = loaded; (q = strchr(cursor, '"')); cursor = q + 1) {
            char *end = strchr(q + 1, '"');
            if (!end) break;
            *end = '\0';
            add_queue(names, &n, 64, q + 1);
            q = end;
        }
    }
    int code = EXIT_OK;
    printf("{");
    for (size_t i = 0; i < n; i++) {
        zg_queue_counts c;
        int rc = zg_queue_counts_get(h, names[i], &c);
        if (rc != ZG_OK) {
            code = cli_fail(h, rc);
            break;
        }
        printf("%s\"%s\": {\"ready\": %lld, \"delayed\": %lld, \"reserved\": %lld, "
               "\"buried\": %lld, \"unclaimed\": %lld}",
               i ? ", " : "", names[i], (long long)c.ready, (long long)c.delayed,
               (long long)c.reserved, (long long)c.buried, (long long)c.unclaimed);
    }
    printf("}\n");
    zg_free(loaded);
    zg_host_free(h);
    return code;
}
