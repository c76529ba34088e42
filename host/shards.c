/* shards: sharded queues above the stores (README "Sharded queues"). A queue Q whose job types
 * declare SHARDS = n is the n store queues Q~0 .. Q~(n-1); the store records n (shard_count,
 * shard_record), so any client -- one that has not loaded the type too -- finds the shards of
 * Q, and every call naming Q (counts, kick, buried, list, purge, stats) acts on all of them,
 * while "Q~i" names one shard. Both stores just see more queues; only Redis places them
 * (store_redis.c). The first host that declares a count records it; `zerog shards Q N`
 * (zg_queue_shards_set) changes it while Q is empty. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_internal.h"

/* Whether queue names one shard ("Q~i"): then it is acted on alone. */
static int is_shard_name(const char *queue)
{
    const char *tilde = strrchr(queue, '~');
    return tilde && tilde != queue && tilde[1] &&
           strspn(tilde + 1, "0123456789") == strlen(tilde + 1);
}

int zg_host_queue_names(zg_host *h, const char *queue, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    if (!queue || !*queue || strlen(queue) >= ZG_NAME_LEN)
        return zg_fail(&h->err, ZG_EINVAL, "bad queue name");
    int count = 1;
    if (!is_shard_name(queue) &&
        h->store->ops->shard_count(h->store, queue, &count, &h->err) != ZG_OK)
        return h->err.code;
    char **out = calloc((size_t)count, sizeof *out);
    if (!out) return zg_fail(&h->err, ZG_ENOMEM, "out of memory");
    for (int i = 0; i < count; i++) {
        char name[ZG_NAME_LEN + 8];
        if (count == 1)
            snprintf(name, sizeof name, "%s", queue);
        else
            snprintf(name, sizeof name, "%s~%d", queue, i);
        if (!(out[i] = strdup(name))) {
            for (int k = 0; k < i; k++)
                free(out[k]);
            free(out);
            return zg_fail(&h->err, ZG_ENOMEM, "out of memory");
        }
    }
    *names = out;
    *n = (size_t)count;
    return ZG_OK;
}

void zg_host_queue_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int zg_queue_shards(zg_host *h, const char *queue, int *n)
{
    *n = 1;
    if (!zg_host_usable(h)) return h->err.code;
    if (!queue || !*queue || strlen(queue) >= ZG_NAME_LEN)
        return zg_fail(&h->err, ZG_EINVAL, "bad queue name");
    if (is_shard_name(queue)) return ZG_OK;
    return h->store->ops->shard_count(h->store, queue, n, &h->err);
}

/* How many jobs (in any state) the queues hold. */
static int jobs_in(zg_host *h, char **names, size_t n, int64_t *total)
{
    *total = 0;
    for (size_t q = 0; q < n; q++) {
        zg_type_counts *rows = NULL;
        size_t k = 0;
        if (h->store->ops->type_counts(h->store, names[q], &rows, &k, &h->err) != ZG_OK)
            return h->err.code;
        for (size_t r = 0; r < k; r++)
            for (int s = 0; s < ZG_JOBS_NSTATES; s++)
                *total += rows[r].count[s];
        free(rows);
    }
    return ZG_OK;
}

int zg_host_declare_shards(zg_host *h, const char *queue, int n)
{
    if (n < 1 || n > ZG_SHARDS_MAX)
        return zg_fail(&h->err, ZG_EINVAL, "SHARDS is an integer from 1 to %d", ZG_SHARDS_MAX);
    if (is_shard_name(queue))
        return zg_fail(&h->err, ZG_EINVAL, "queue %s names a shard: a type's queue cannot", queue);
    /* The first host to declare a count records it (atomically: of two hosts that start at
     * once with different counts, one is refused); after that a host never changes it, even
     * for an empty queue: a host that cached the old count would go on putting jobs where no
     * other finds them. `zerog shards Q N` (zg_queue_shards_set) changes it. */
    int recorded = 1;
    if (n > 1) {
        /* jobs on the plain queue Q with no count recorded (made by a version without sharded
         * queues) would be left where no worker of n shards looks */
        if (h->store->ops->shard_count(h->store, queue, &recorded, &h->err) != ZG_OK)
            return h->err.code;
        char *plain[] = {(char *)queue};
        int64_t total = 0;
        if (recorded == 1 && jobs_in(h, plain, 1, &total) != ZG_OK) return h->err.code;
        if (total > 0)
            return zg_fail(&h->err, ZG_EINVAL,
                           "queue %s holds %lld jobs unsharded, and a type declares SHARDS = %d: "
                           "let the queue empty first (README \"Sharded queues\")",
                           queue, (long long)total, n);
    }
    if (h->store->ops->shard_record(h->store, queue, n, 0, &recorded, &h->err) != ZG_OK)
        return h->err.code;
    if (recorded == n) return ZG_OK;
    return zg_fail(&h->err, ZG_EINVAL,
                   "queue %s has %d shard%s in the store, not the SHARDS = %d declared: every "
                   "host of a queue declares the same SHARDS; to change it, stop every host, "
                   "let the queue empty, run `zerog shards %s %d`, then start the hosts "
                   "(README \"Sharded queues\")",
                   queue, recorded, recorded == 1 ? "" : "s", n, queue, n);
}

int zg_queue_shards_set(zg_host *h, const char *queue, int n)
{
    if (!zg_host_usable(h)) return h->err.code;
    if (!queue || !*queue || strlen(queue) >= ZG_NAME_LEN)
        return zg_fail(&h->err, ZG_EINVAL, "bad queue name");
    if (n < 1 || n > ZG_SHARDS_MAX)
        return zg_fail(&h->err, ZG_EINVAL, "a queue has 1 to %d shards", ZG_SHARDS_MAX);
    if (is_shard_name(queue))
        return zg_fail(&h->err, ZG_EINVAL, "queue %s names a shard, not a queue", queue);
    char **names = NULL;
    size_t nnames = 0;
    int64_t total = 0;
    if (zg_host_queue_names(h, queue, &names, &nnames) != ZG_OK) return h->err.code;
    int rc = jobs_in(h, names, nnames, &total);
    zg_host_queue_names_free(names, nnames);
    if (rc != ZG_OK) return rc;
    if (total > 0)
        return zg_fail(&h->err, ZG_EINVAL,
                       "queue %s holds %lld job%s: its shard count changes only while it is "
                       "empty (stop submitting, let the workers drain it, purge its finished "
                       "jobs, delete the buried ones; README \"Sharded queues\")",
                       queue, (long long)total, total == 1 ? "" : "s");
    int recorded = 0;
    return h->store->ops->shard_record(h->store, queue, n, 1, &recorded, &h->err);
}
