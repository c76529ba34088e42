/* buried: `zerog buried [QUEUE]` lists the jobs set aside because they could not be loaded
 * (one JSON object per line: uuid, jobType, reason, buriedAt), and `zerog kick QUEUE [N]` puts
 * up to N of them (all by default) back to waiting; with none buried, kick makes the queue's
 * delayed jobs ready now (beanstalkd's kick). Both read the store only: no job scripts needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The queue named on the line, or the default queue of job types. */
static const char *queue_arg(int argc, char **argv)
{
    return argc > 0 ? argv[0] : "zerog_jobs";
}

int cmd_buried(const cli_options *o, int argc, char **argv)
{
    if (argc > 1) return cli_usage();
    zg_host *h = cli_open_host(o, 0, NULL);
    if (!h) return EXIT_JOB_FAILED;
    char *json = NULL;
    int rc = zg_buried(h, queue_arg(argc, argv), &json);
    int code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (json) {
        /* one object per line: split the array at its top-level "},{" */
        const char *p = json + 1;
        size_t len = strlen(json);
        if (len > 2) {
            json[len - 1] = '\0';
            const char *start = p;
            int depth = 0, in_string = 0;
            for (; *p; p++) {
                if (in_string) {
                    if (*p == '\\' && p[1]) p++;
                    else if (*p == '"') in_string = 0;
                } else if (*p == '"') in_string = 1;
                else if (*p == '{') depth++;
                else if (*p == '}' && --depth == 0) {
                    printf("%.*s\n", (int)(p - start + 1), start);
                    start = p + 2;
                }
            }
        }
    }
    zg_free(json);
    zg_host_free(h);
    return code;
}

int cmd_kick(const cli_options *o, int argc, char **argv)
{
    if (argc < 1 || argc > 2) return cli_usage();
    double max = 0;
    if (argc == 2 && (!cli_number("N", argv[1], &max) || max < 1)) return EXIT_BAD_INPUT;
    zg_host *h = cli_open_host(o, 0, NULL);
    if (!h) return EXIT_JOB_FAILED;
    int64_t moved = 0;
    int rc = zg_kick(h, argv[0], (int64_t)max, &moved);
    int code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (rc == ZG_OK) printf("kicked %lld job%s on %s\n", (long long)moved, moved == 1 ? "" : "s", argv[0]);
    zg_host_free(h);
    return code;
}
