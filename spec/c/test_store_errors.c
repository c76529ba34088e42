/* Store errors: which of Redis's refusals pass (the server gives them while a state lasts: past
 * maxmemory, a failover, loading) and which the same call gets again, since a refused settle is
 * retried for as long as its lease holds only for the first kind (host.c, collect_process); and
 * that "as long as its lease holds" is the store's word, not the host's last renewal: a host
 * whose heartbeat is held up (a renewal waiting on a stalled server) does not give up a refused
 * settle while the store still holds its lease. The store is mem:// with its ops wrapped: settles
 * refused as Redis past maxmemory refuses them, the heartbeat thread's renewals applied but their
 * replies lost. */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "clock.h"
#include "error.h"
#include "host_internal.h"
#include "lifecycle.h"

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

static const zg_store_ops *real_ops;
static zg_store_ops wrapped_ops;
static atomic_int refusing, beats_held;
static pthread_t vm_thread;

static int refusal(zg_error *err)
{
    return zg_fail(err, ZG_ESTORE,
                   "redis: OOM command not allowed when used memory > 'maxmemory'.");
}

static int refused_settle(zg_store *s, const zg_lease *lease, const zg_settle *st,
                          const char *writer, int64_t seq, int64_t *cas, zg_error *err)
{
    if (atomic_load(&refusing)) return refusal(err);
    return real_ops->settle(s, lease, st, writer, seq, cas, err);
}

static int refused_settle_claim(zg_store *s, const zg_lease *lease, const zg_settle *st,
                                const char *writer, int64_t seq, int64_t *cas,
                                const zg_claim_req *req, int64_t claim_seq, zg_claim *out,
                                zg_error *err)
{
    if (atomic_load(&refusing)) return refusal(err);
    return real_ops->settle_claim(s, lease, st, writer, seq, cas, req, claim_seq, out, err);
}

/* while beats_held, the heartbeat thread's renewals are applied but their replies lost (as when
 * they wait on a stalled server that gives the lease its time back once it resumes); the VM's
 * own thread's go through */
static int lost_reply_touch(zg_store *s, const zg_lease *lease, zg_error *err)
{
    int rc = real_ops->touch(s, lease, err);
    if (rc == ZG_OK && atomic_load(&beats_held) && !pthread_equal(pthread_self(), vm_thread))
        return zg_fail(err, ZG_ESTORE, "redis connection lost: timeout");
    return rc;
}

static void *fault_ends_later(void *ms)
{
    zg_clock_sleep_ms(*(int64_t *)ms); /* (the fault's length, not a wait for a condition) */
    atomic_store(&refusing, 0);
    atomic_store(&beats_held, 0);
    return NULL;
}

/* A 1 s TTR job whose settle is refused for 3 s while the heartbeat's renewals go unanswered:
 * the host's last acknowledged renewal is 3 s old, the store's lease is not, and the run ends
 * with its result, no error counted. It gave up after 1.5 s of tries and left the job to lapse
 * ("lease expired"; chaos soak seed 709, where a Redis stall held the renewal's reply). */
static void test_a_refused_settle_asks_the_store_before_giving_up(void)
{
    zg_host *h = check_new_host("mem://");
    if (!h) return;
    char got[ZG_NAME_LEN], uuid[ZG_UUID_LEN];
    CHECK_INT(zg_load_string(h, "held",
                             "return { JOB_TYPE = 'held', QUEUE_NAME = 'held_q', TTR = 1,\n"
                             "  run = function(self) return 200 end }\n",
                             got),
              ZG_OK);
    CHECK_INT(zg_submit(h, "held", "{}", NULL, uuid), ZG_OK);
    vm_thread = pthread_self();
    real_ops = h->store->ops;
    wrapped_ops = *real_ops;
    wrapped_ops.settle = refused_settle;
    wrapped_ops.settle_claim = refused_settle_claim;
    wrapped_ops.touch = lost_reply_touch;
    h->store->ops = &wrapped_ops;
    atomic_store(&refusing, 1);
    atomic_store(&beats_held, 1);
    int64_t fault_ms = 3000;
    pthread_t fault;
    CHECK_INT(pthread_create(&fault, NULL, fault_ends_later, &fault_ms), 0);
    const char *queues[] = {"held_q"};
    zg_step_result r;
    int rc = zg_step(h, queues, 1, 1000, &r);
    pthread_join(fault, NULL);
    CHECK_INT(rc, ZG_OK);
    h->store->ops = real_ops;
    char *info = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, uuid, &info), ZG_OK);
    CHECK(info && strstr(info, "\"resultCode\":200"));
    CHECK(info && strstr(info, "\"errorCount\":0"));
    CHECK(info && strstr(info, "\"running\":false"));
    if (info && !strstr(info, "\"resultCode\":200")) printf("# %s\n", info);
    free(info);
    zg_host_free(h);
}

int main(void)
{
    RUN(test_a_refusal_while_a_state_lasts_passes);
    RUN(test_a_refusal_the_same_call_gets_again_does_not);
    RUN(test_a_refused_settle_asks_the_store_before_giving_up);
    return check_done();
}
