/* buried: `zerog buried [QUEUE]` lists the jobs set aside because they could not be loaded
 * (one JSON object per line: uuid, jobType, reason, buriedAt), and `zerog kick QUEUE [N]` puts
 * up to N of them (all by default) back to waiting; with none buried, kick makes the queue's
 * delayed jobs ready now (beanstalkd's kick). `zerog shards QUEUE [N]` prints (or, while the
 * queue is empty, changes) the shard count the store records for a sharded queue. They read the
 * store only: no job scripts needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"

int cmd_buried(const cli_options *o, int argc, char **argv)
{
    const char *queue = "zerog_jobs"; /* the default queue of job types */
    int n, code = cli_parse("buried", argc, argv, NULL, 0, 1, &queue, &n);
    if (code != EXIT_OK) return code;
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    char *json = NULL;
    int rc = zg_buried(h, queue, &json);
    code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
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
                    if (*p == '\\' && p[1])
                        p++;
                    else if (*p == '"')
                        in_string = 0;
                } else if (*p == '"')
                    in_string = 1;
                else if (*p == '{')
                    depth++;
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
    const char *operands[2] = {NULL, NULL};
    int n, code = cli_parse("kick", argc, argv, NULL, 1, 2, operands, &n);
    if (code != EXIT_OK) return code;
    double max = 0;
    if (n == 2 && !cli_number_option("kick", "N", operands[1], &max)) return EXIT_BAD_INPUT;
    if (n == 2 && (max < 1 || max != (double)(int64_t)max)) {
        fprintf(stderr, "zerog: kick: N must be a whole number > 0\n");
        return EXIT_BAD_INPUT;
    }
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    int64_t moved = 0;
    int rc = zg_kick(h, operands[0], (int64_t)max, &moved);
    code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (rc == ZG_OK)
        printf("kicked %lld job%s on %s\n", (long long)moved, moved == 1 ? "" : "s", operands[0]);
    zg_host_free(h);
    return code;
}

int cmd_shards(const cli_options *o, int argc, char **argv)
{
    const char *operands[2] = {NULL, NULL};
    int n, code = cli_parse("shards", argc, argv, NULL, 1, 2, operands, &n);
    if (code != EXIT_OK) return code;
    double count = 0;
    if (n == 2 && !cli_number_option("shards", "N", operands[1], &count)) return EXIT_BAD_INPUT;
    if (n == 2 && (count < 1 || count > 64 || count != (double)(int)count)) {
        fprintf(stderr, "zerog: shards: N must be a whole number from 1 to 64\n");
        return EXIT_BAD_INPUT;
    }
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    int shards = 0;
    int rc = n == 2 ? zg_queue_shards_set(h, operands[0], (int)count) : ZG_OK;
    if (rc == ZG_OK) rc = zg_queue_shards(h, operands[0], &shards);
    code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (rc == ZG_OK) {
        char quoted[ZG_NAME_LEN * 6 + 3];
        json_quote(quoted, sizeof quoted, operands[0]);
        printf("{\"queue\":%s,\"shards\":%d}\n", quoted, shards);
    }
    zg_host_free(h);
    return code;
}
