/* check: zerog check FILE.lua|DIR... loads and validates job scripts without running them. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

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
    if (n) qsort(names, n, sizeof *names, compare_names);
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

int cmd_check(const cli_options *o, int argc, char **argv)
{
    if (argc < 1) return cli_usage();
    cli_options mem = {"mem://", o->jobs};
    zg_host *h = cli_open_host(&mem, 0, NULL);
    if (!h) return EXIT_JOB_FAILED;
    int failed = 0;
    for (int i = 0; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            failed += check_dir(h, argv[i]);
        else
            failed += check_one(h, argv[i]);
    }
    zg_host_free(h);
    return failed ? EXIT_BAD_INPUT : EXIT_OK;
}
