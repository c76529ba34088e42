/* put_back: jobs claimed in a host's name that no host knows it holds, given back to the queue.
 * A claim (or a settle that claims the next job) whose reply never came may have been run by the
 * store all the same: its job is leased to a writer that never learnt which job it took, and
 * would wait out its TTR and record a death it did not have. The store keeps each writer's last
 * claim of each queue (lifecycle.h: last_claims); whoever knows the claim went unanswered puts
 * that job back while the claim is still its current lease (unclaim: waiting again, its reserve
 * given back, no release or error counted). Two callers: a supervisor, for the hosts of a worker
 * process that died (zg_put_back_claims), and a live host for its own claim whose reply was lost
 * (a store that stalled past the store timeout after running it), before it claims again. The
 * live host closes its lost claims rather than only reading them (close_claims): one that has
 * not reached the store yet (held up on the way) then takes nothing when it comes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "host_internal.h"
#include "redis_conn.h"

/* A writer id as the hosts make them (make_writer_id), or longer: letters, digits, - and _. */
static int valid_writer(const char *w)
{
    size_t len = strlen(w);
    return len > 0 && len <= 64 &&
           strspn(w, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_") == len;
}

/* Which of the claims a host may have made to put back. */
typedef struct claims_wanted {
    int64_t from_seq, to_seq;   /* from_seq > 0: the lost claim's sequence numbers, from_seq ..
                                 * to_seq (to_seq: a memo its close left); 0: each writer's newest */
    const zg_run_info *started; /* NULL, or per writer the run it said it started */
} claims_wanted;

/* Puts back the claims last[0..nlast) (cell q * nwriters + w: writer w's last claim of queue q,
 * seqs[] their sequence numbers) while each is still its job's current lease: with from_seq, the
 * lost claim's; else each writer's newest claim (a dead host's: the only one that can have been
 * on the way), but for started[w] (its death counts). An older claim is a run its host began
 * and said it ended, whose settle may not have been applied: it lapses after its TTR, as a run
 * that happened. rc: how reading them went (ZG_ESTORE: nothing is tried). The first max jobs put
 * back go to uuids, how many in all to *n. Past a store failure nothing more is tried (each would
 * wait out the store timeout alike); the last failure is returned. */
static int put_back_last(zg_host *h, int rc, const zg_lease *last, const int64_t *seqs,
                         size_t nlast, size_t nwriters, const claims_wanted *want,
                         char (*uuids)[ZG_UUID_LEN], size_t max, size_t *n, zg_error *err)
{
    size_t put_back = 0;
    for (size_t i = 0; i < nlast && rc != ZG_ESTORE; i++) {
        const zg_run_info *said = want->started ? &want->started[i % nwriters] : NULL;
        if (!last[i].token) continue;
        if (want->from_seq > 0 && (seqs[i] < want->from_seq || seqs[i] > want->to_seq))
            continue; /* not the lost claim's */
        /* newest of its writer's (the cells q * nw + w), a memo a close emptied included: the
         * close was of a claim made after this one */
        int newest = 1;
        for (size_t j = i % nwriters; want->from_seq == 0 && j < nlast; j += nwriters)
            newest = newest && seqs[j] <= seqs[i];
        if (!newest) continue;
        if (said && said->uuid && strcmp(last[i].uuid, said->uuid) == 0 &&
            last[i].token == said->reservation)
            continue; /* a run it said it started: its death counts, whatever its release did */
        zg_error one = {0};
        int got = h->store->ops->unclaim(h->store, &last[i], &one);
        if (got == ZG_ESTALE || got == ZG_ENOTFOUND) continue; /* it went on since, or is gone */
        if (got != ZG_OK) {
            rc = got;
            *err = one;
            continue;
        }
        if (uuids && put_back < max) snprintf(uuids[put_back], ZG_UUID_LEN, "%s", last[i].uuid);
        put_back++;
    }
    *n = put_back;
    return rc;
}

int zg_put_back_claims(zg_host *h, const char *const *writers, const zg_run_info *started,
                       size_t nwriters, char (*uuids)[ZG_UUID_LEN], size_t max, size_t *n)
{
    if (n) *n = 0;
    if (!zg_host_usable(h)) return h->err.code;
    for (size_t w = 0; w < nwriters; w++)
        if (!writers || !writers[w] || !valid_writer(writers[w]))
            return zg_fail(&h->err, ZG_EINVAL, "bad writer id");
    if (!nwriters) return ZG_OK;
    char **queues = NULL;
    size_t nqueues = 0, put_back = 0, cells;
    if (h->store->ops->known_queues(h->store, &queues, &nqueues, &h->err) != ZG_OK)
        return h->err.code;
    cells = nqueues * nwriters;
    zg_lease *last = calloc(cells ? cells : 1, sizeof *last);
    int64_t *seqs = calloc(cells ? cells : 1, sizeof *seqs);
    int rc;
    if (!last || !seqs) {
        rc = zg_fail(&h->err, ZG_ENOMEM, "out of memory");
    } else {
        /* (when the claims cannot be read, every token is 0: nothing is tried) */
        rc = h->store->ops->last_claims(h->store, queues, nqueues, writers, nwriters, last, seqs,
                                        &h->err);
        claims_wanted want = {0, 0, started};
        rc = put_back_last(h, rc, last, seqs, cells, nwriters, &want, uuids, max, &put_back,
                           &h->err);
    }
    free(last);
    free(seqs);
    zg_host_queue_names_free(queues, nqueues);
    if (n) *n = put_back;
    return rc;
}

void zg_lost_claim_clear(zg_lost_claim *l)
{
    zg_host_queue_names_free(l->queues, l->nqueues);
    memset(l, 0, sizeof *l);
}

void zg_host_claim_unanswered(zg_host *h, const zg_claim_req *req, int64_t seq)
{
    zg_lost_claim *l = &h->lost_claim;
    if (l->pending) return; /* (the claim before it is still to be looked for: its queues stay) */
    l->seq = seq;
    l->failed_ms = zg_clock_monotonic_ms();
    l->queues = calloc(req->nqueues ? req->nqueues : 1, sizeof *l->queues);
    for (size_t i = 0; l->queues && i < req->nqueues; i++)
        if ((l->queues[l->nqueues] = strdup(req->queues[i]))) l->nqueues++;
    l->pending = 1;
    if (!l->queues || l->nqueues < req->nqueues)
        zg_host_log(h, ZG_LOG_WARNING,
                    "out of memory: a job an unanswered claim took may wait out its TTR");
}

int zg_host_put_back_lost_claim(zg_host *h, int ending, zg_error *err)
{
    zg_lost_claim *l = &h->lost_claim;
    if (!l->pending) return ZG_OK;
    int64_t timeout =
        h->cfg.store_timeout_ms > 0 ? h->cfg.store_timeout_ms : ZG_REDIS_DEFAULT_TIMEOUT_MS;
    if (ending && zg_clock_monotonic_ms() - l->failed_ms < timeout) {
        zg_host_log(h, ZG_LOG_WARNING,
                    "the store did not answer a claim lately: a job it may have taken waits out "
                    "its TTR");
        zg_lost_claim_clear(l);
        return ZG_OK;
    }
    /* the last run this host began is never put back, though its settle may have gone
     * unanswered too (it may not have been applied): a run that happened lapses after its TTR,
     * as one whose settle failed always does */
    zg_run_info run = {0};
    run.uuid = h->run.lease.token ? h->run.lease.uuid : NULL;
    run.reservation = h->run.lease.token;
    /* the lost claim used from seq to seq + ZG_CLAIM_SEQS - 1; the host's next claims use more */
    claims_wanted want = {l->seq > 0 ? l->seq : 1, (l->seq > 0 ? l->seq : 1) + ZG_CLAIM_SEQS, &run};
    char uuids[4][ZG_UUID_LEN];
    size_t n = 0, cells = l->nqueues ? l->nqueues : 1;
    zg_error failed = {0}; /* said to the caller only while the store does not answer */
    zg_lease *last = calloc(cells, sizeof *last);
    int64_t *seqs = calloc(cells, sizeof *seqs);
    int rc;
    if (!last || !seqs) {
        rc = zg_fail(&failed, ZG_ENOMEM, "out of memory");
    } else {
        /* closed, not only read: the claim may not have reached the store yet (held up on the
         * way, after a partition), and must then take nothing when it does, for nobody would
         * look for it again (when the claims cannot be closed, every token is 0) */
        rc = h->store->ops->close_claims(h->store, l->queues, l->nqueues, h->writer, want.from_seq,
                                         want.to_seq, last, seqs, &failed);
        rc = put_back_last(h, rc, last, seqs, l->nqueues, 1, &want, uuids, 4, &n, &failed);
    }
    free(last);
    free(seqs);
    for (size_t i = 0; i < n && i < 4; i++)
        zg_host_log(h, ZG_LOG_WARNING,
                    "job %s: taken by a claim whose reply was lost (the store did not answer "
                    "in time): put back, no error counted",
                    uuids[i]);
    if (rc == ZG_ESTORE) { /* still unreachable: looked for again at the next call */
        l->failed_ms = zg_clock_monotonic_ms();
        *err = failed;
        return rc;
    }
    if (rc != ZG_OK)
        zg_host_log(h, ZG_LOG_WARNING, "a job an unanswered claim took may wait out its TTR: %s",
                    failed.msg);
    zg_lost_claim_clear(l);
    return ZG_OK;
}
