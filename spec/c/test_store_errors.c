/* Store errors: which of Redis's refusals pass (the server gives them while a state lasts: past
 * maxmemory, a failover, loading) and which the same call gets again, since a refused settle is
 * retried for as long as its lease holds only for the first kind (host.c, collect_process). */
#include "check.h"
#include "error.h"

static void test_a_refusal_while_a_state_lasts_passes(void)
{
    CHECK_INT(
        zg_store_refusal_passes("redis: OOM command not allowed when used memory > 'maxmemory'."),
        1);
    CHECK_INT(
        zg_store_refusal_passes("redis: READONLY You can't write against a read only replica."), 1);
    CHECK_INT(zg_store_refusal_passes("redis: LOADING Redis is loading the dataset in memory"), 1);
    CHECK_INT(zg_store_refusal_passes("redis: MASTERDOWN Link with MASTER is down"), 1);
    CHECK_INT(zg_store_refusal_passes("redis: CLUSTERDOWN The cluster is down"), 1);
    CHECK_INT(zg_store_refusal_passes("redis: TRYAGAIN Multiple keys request during rehashing"), 1);
    CHECK_INT(zg_store_refusal_passes("redis: BUSY Redis is busy running a script."), 1);
    CHECK_INT(zg_store_refusal_passes("redis: MISCONF Redis is configured to save RDB snapshots"),
              1);
}

static void test_a_refusal_the_same_call_gets_again_does_not(void)
{
    CHECK_INT(zg_store_refusal_passes("redis: ERR Error running script"), 0);
    CHECK_INT(zg_store_refusal_passes("redis: NOPERM this user has no permissions"), 0);
    CHECK_INT(zg_store_refusal_passes("redis: WRONGTYPE Operation against a key"), 0);
    CHECK_INT(zg_store_refusal_passes("redis: OOMX not a word Redis uses"), 0);
    CHECK_INT(zg_store_refusal_passes("redis: no reply in time"), 0); /* not a refusal at all */
    CHECK_INT(zg_store_refusal_passes("cannot connect to redis at /tmp/x.sock"), 0);
    CHECK_INT(zg_store_refusal_passes(NULL), 0);
}

int main(void)
{
    RUN(test_a_refusal_while_a_state_lasts_passes);
    RUN(test_a_refusal_the_same_call_gets_again_does_not);
    return check_done();
}
