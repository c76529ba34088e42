/* check: zerog check FILE.lua|DIR... loads and validates job scripts without running them: each
 * script on its own (syntax, JOB_TYPE, run, SCHEMA), and all of them together (no JOB_TYPE
 * defined twice, which loading a folder would refuse). */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* The scripts checked so far and their types, to find a JOB_TYPE defined twice. */
typedef struct checked {
    char **paths, **types;
    size_t n;
} checked;

static void remember(checked *c, const char *path, const char *type)
{
    char **paths = realloc(c->paths, (c->n + 1) * sizeof *paths);
    if (paths) c->paths = paths;
    char **types = realloc(c->types, (c->n + 1) * sizeof *types);
    if (types) c->types = types;
    if (!paths || !types) return;
    c->paths[c->n] = strdup(path);
    c->types[c->n] = strdup(type);
    if (c->paths[c->n] && c->types[c->n]) c->n++;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int check_one(zg_host *h, checked *c, const char *path)
{
    char type[ZG_NAME_LEN];
    if (zg_check_file(h, path, type) != ZG_OK) {
        fprintf(stderr, "%s\n", zg_errstr(h));
        return 1;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->types[i], type) != 0) continue;
        if (same_file(c->paths[i], path)) return 0; /* named twice: checked already */
        fprintf(stderr, "%s: job type %s is defined twice: in %s and in %s\n", path, type,
                c->paths[i], path);
        return 1;
    }
    remember(c, path, type);
    printf("ok %s (%s)\n", path, type);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks every *.lua file of dir, in name order; returns how many failed. */
static int check_dir(zg_host *h, checked *c, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "zerog: check: cannot open %s\n", dir);
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
        if ((names[n] = strdup(e->d_name))) n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, compare_names);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        failed += check_one(h, c, path);
        free(names[i]);
    }
    free(names);
    return failed;
}

int cmd_check(const cli_options *o, int argc, char **argv)
{
    const char *operands[CLI_LIST_MAX];
    int n, code = cli_parse("check", argc, argv, NULL, 1, CLI_LIST_MAX, operands, &n);
    if (code != EXIT_OK) return code;
    cli_options mem = {"mem://", o->jobs, NULL};
    zg_host *h = cli_open(&mem, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    checked c = {0};
    int failed = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(operands[i], &st) == 0 && S_ISDIR(st.st_mode))
            failed += check_dir(h, &c, operands[i]);
        else
            failed += check_one(h, &c, operands[i]);
    }
    for (size_t i = 0; i < c.n; i++) {
        free(c.paths[i]);
        free(c.types[i]);
    }
    free(c.paths);
    free(c.types);
    zg_host_free(h);
    return failed ? EXIT_BAD_INPUT : EXIT_OK;
}
