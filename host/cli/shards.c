/* shards: `zerog shards QUEUE [N]` prints the shard count the store records for QUEUE or, with
 * N, changes it (README "Sharded queues"). A queue's count is fixed by the first host that uses
 * it; a host whose SHARDS differs is refused. Changing it is this command's alone, and only while
 * the queue holds no job: stop every host first (hosts keep the count they read), then start them
 * with the new SHARDS. Reads and writes the store only: no job scripts needed. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

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
    int shards = 1;
    int rc = n == 2 ? zg_queue_shards_set(h, operands[0], (int)count) : ZG_OK;
    if (rc == ZG_OK) rc = zg_queue_shards(h, operands[0], &shards);
    code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (rc == ZG_OK) printf("%d\n", shards);
    zg_host_free(h);
    return code;
}
