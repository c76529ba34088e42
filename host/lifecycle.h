/* lifecycle: the one interface of a job's life, which both stores implement (store_mem.c for
 * mem://, store_redis.c for Redis).
 *
 *  submit ──► waiting ──claim──► running ──settle──► finished (kept for its retention, then gone)
 *    │          ▲  ▲               │   │
 *    │ delay    │  └──release──────┘   └─ lease lapsed ─► waiting
 *    └──► delayed ──(time)──┘                     running ──bury──► buried ──kick──► waiting
 *
 * Each arrow is one atomic step in the store: a Redis script touching one hash slot, or one
 * critical section on mem://. A job is one record holding its document (named fields of JSON
 * text, a cas counter and three append-only lists) and its queue state (priority, ttr, the
 * reservation counters, the current lease), so no step can change one without the other.
 *
 * Fencing: `claim` hands out a lease whose token is stored with the job. Every write of a run
 * names its lease (zg_target.lease); the store refuses it with ZG_ESTALE when the lease is no
 * longer current (the job was killed, its reservation lapsed, another host claimed it) and
 * changes nothing. Writes from outside a run (no lease) keep compare-and-swap semantics: `save`
 * is strict CAS, `update` and `append` are last-writer-wins and report a collision by handing
 * back the fresh document.
 *
 * Ready jobs wait per (queue, job type): a claim names the types its host has loaded, so a job
 * whose type no host has loaded waits untouched without holding up other types.
 *
 * The index: every job is listed under its queue, job type and state (ZG_JOBS_*: waiting,
 * delayed, running, succeeded, failed, buried) by a key "<ms it entered the state, 15 digits>:
 * <uuid>", changed in the same step as the job; a finished job with a retention is deleted with
 * its index entry when the retention ends (by the steps that follow: no timer).
 *
 * Idempotency: the Redis connection resends a command after a reconnect; every write carries
 * the host's writer id and a sequence number, and the store applies a write of a writer once
 * (sequence 0: no token, every call is applied). A run's calls also name its last acknowledged
 * write (zg_lease.write_chain), so that a store which lost writes it had acknowledged (Redis
 * replicates asynchronously: a promoted replica) refuses them rather than going on, or
 * finishing the job, without them (run_writes.h). */
#ifndef ZG_LIFECYCLE_H
#define ZG_LIFECYCLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct zg_store zg_store;

#define ZG_SHARDS_MAX 64 /* the most shards a queue may have (a type's SHARDS) */

/* The lists every document has, in the order a loaded document writes them. */
enum { ZG_LIST_EVENTS = 0, ZG_LIST_WARNINGS = 1, ZG_LIST_ERRORS = 2 };
extern const char *const zg_store_lists[3];
/* The shard counts 0 .. ZG_SHARDS_MAX, for the maps that hold a queue's count by pointer:
 * &zg_shard_counts[n], read back as *(const int *)p. */
extern const int zg_shard_counts[ZG_SHARDS_MAX + 1];
/* &zg_shard_counts[n], n held to 1 .. ZG_SHARDS_MAX. */
static inline void *zg_shard_count_ref(int n)
{
    return (void *)&zg_shard_counts[n < 1 ? 1 : n > ZG_SHARDS_MAX ? ZG_SHARDS_MAX : n];
}

/* Named fields, each value JSON text. Names starting with '_' are the store's own. */
typedef struct zg_fields {
    size_t n;
    const char *const *names;
    const char *const *values;
} zg_fields;

/* How long a unique job's key keeps others of the same key from being submitted: while the job
 * holding it waits (waiting, delayed, buried), also while it runs, or also once it succeeded
 * (a failed job lets the key go) -- and never past the key's ttl. */
enum { ZG_UNIQUE_QUEUED = 1, ZG_UNIQUE_RUNNING = 2, ZG_UNIQUE_UNTIL_DONE = 3 };

#define ZG_GROUP_MAX 256 /* [limits] the longest group name */

/* A job to create (submit). The store adds queueJobId (its id in the queue) and cas. */
typedef struct zg_new_job {
    const char *uuid, *job_type, *queue;
    zg_fields fields; /* every scalar field of the document */
    int64_t priority, delay_ms, ttr_ms;
    const char *unique_key;     /* NULL: none; else the job is created only if no job holds it */
    int64_t unique_ttl_ms;      /* the longest the key holds (0: as long as its job does) */
    int unique_hold;            /* ZG_UNIQUE_* */
    int64_t id;                 /* out: queueJobId */
    int64_t cas;                /* out */
    char existing[ZG_UUID_LEN]; /* out: the job that holds the key ("" when this one was made) */
    /* repeatable jobs: a job made for tick scheduled_ms of schedule schedule_id (of its queue)
     * is created only while the schedule's next tick is scheduled_ms, which becomes
     * schedule_next_ms in the same step; else schedule_stale is set and nothing changes */
    const char *schedule_id;
    int64_t scheduled_ms, schedule_next_ms;
    int schedule_stale; /* out */
    int created;        /* out (Redis): its step was applied (made, or found made, or its unique
                         * key's holder named), set also when the call failed for other jobs of
                         * it: a store that refused one step of a batch of several keeps the
                         * others' outcomes */
    const char *group;  /* [limits] NULL: its type has no GROUP; else its group ("": default),
                         * at most ZG_GROUP_MAX bytes */
    /* flows: the children a batch's callback is made with (parked), registered in its own
     * step (as adopt would), so that no failover keeps the callback without them */
    const struct zg_child *kids;
    size_t nkids;
} zg_new_job;

/* What a run holds: the job it claimed and the fencing token its writes carry. */
typedef struct zg_lease {
    char uuid[ZG_UUID_LEN];
    char queue[ZG_NAME_LEN];
    int64_t token;
    int64_t ttr_ms;
    int64_t cas; /* the job's cas right after the claim that handed the lease out (0: unknown) */
    /* a run's writes, adopts and settle: the sequence number of the run's last write the store
     * acknowledged (0: none yet). A store that does not hold it refuses the call with
     * ZG_ELOSTWRITES and changes nothing (run_writes.h: a promoted replica that never had it).
     * mem:// never loses a write. */
    int64_t write_chain;
} zg_lease;

/* A store's refusal of a run's call: it does not hold the run's write named by
 * zg_lease.write_chain, which it had acknowledged. Never returned by the public API: the host
 * writes the run's writes again and sends the call again, or gives the run up (ZG_ESTALE). */
#define ZG_ELOSTWRITES 64

/* How the previous run of a claimed job ended, when it did not settle. */
enum {
    ZG_PRIOR_CLEAN = 0,  /* it settled (or there was none) */
    ZG_PRIOR_LAPSED = 1, /* its lease lapsed: its host stopped renewing for longer than the TTR */
    ZG_PRIOR_DIED = 2,   /* its host died (released by a supervisor), or found running */
    ZG_PRIOR_OVERRUN = 3 /* it overran its TIMEOUT (or stopped responding) in something the run
                            hook cannot stop, and its host's watchdog released it */
};

/* [limits] What a claim must respect of one job type (its RATE, CONCURRENCY and GROUP): at most
 * `concurrency` of its jobs running at once (0: no limit), at most `rate` starts in any
 * `rate_ms` (0: no limit); each limit is the type's own, or with *_queue_wide shared by every type
 * of the queue that says so. `grouped`: its jobs carry a group (zg_new_job.group), each group has
 * the limits to itself, and the groups with ready jobs take turns (round robin). */
#define ZG_RATE_MAX 100000 /* the highest rate limit (a rate keeps its last starts' times) */
typedef struct zg_type_limits {
    int64_t concurrency, rate, rate_ms;
    int concurrency_queue_wide, rate_queue_wide, grouped;
} zg_type_limits;

/* Parses "concurrency,queue-wide,rate,rate ms,queue-wide,grouped" (what a type's claimable
 * limits say) into *out; 0, or -1 when text is not that. */
int zg_type_limits_parse(const char *text, zg_type_limits *out);
/* Whether l limits anything or groups (a type claimed exactly as without limits when not). */
int zg_type_limits_any(const zg_type_limits *l);

typedef struct zg_claim_req {
    const char *const *queues;
    size_t nqueues;
    const char *const *types; /* the job types this host has loaded */
    size_t ntypes;
    const zg_type_limits *limits; /* [limits] NULL, or one per type */
    /* Equally urgent heads of several queues: the one found first from queue tie_start % nqueues
     * on wins. The host moves it on at every claim, so ties go to each queue in turn (a sharded
     * queue's shards: workers spread over them, none starves); the stores keep no count of
     * their own. */
    uint64_t tie_start;
} zg_claim_req;

typedef struct zg_claim {
    zg_lease lease;
    char job_type[ZG_NAME_LEN];
    int64_t id, priority, reserves, timeouts, releases;
    int prior; /* ZG_PRIOR_* */
    char *doc; /* the whole document after the claim (running = true), malloc'd */
} zg_claim;

void zg_claim_clear(zg_claim *c);

/* How many sequence numbers one claim may use (each try after a lost race is a new claim). */
#define ZG_CLAIM_SEQS 64

/* Where a write goes: a run's lease (fenced), or a job named by queue and uuid. */
typedef struct zg_target {
    const zg_lease *lease;
    const char *queue, *uuid; /* used when lease is NULL */
} zg_target;

/* A write's outcome: the cas after it, and the whole document when the stored cas was not the
 * one the caller knew (someone else wrote in between), so the caller can catch up. */
typedef struct zg_written {
    int64_t cas;
    char *doc; /* malloc'd or NULL */
} zg_written;

enum { ZG_SETTLE_FINISH = 1, ZG_SETTLE_RELEASE = 2, ZG_SETTLE_BURY = 3 };

/* The end of a run (or a kill, or a release of a dead host's run): everything it writes. */
typedef struct zg_settle {
    int action;
    zg_fields fields;    /* written with it: resultCode, completeness, updatedAt, ... */
    const char *event;   /* an entry appended to events, or NULL */
    const char *error;   /* an entry appended to errors (errorCount + 1), or NULL */
    const char *reason;  /* bury: why (kept with the buried job) */
    int64_t delay_ms;    /* release: when the job is ready again */
    int64_t retention_s; /* finish: the job is deleted that long after (0: kept) */
    int prior;           /* release from outside a run: what the next claim reports */
    int failed;          /* finish: the job failed (listed as failed, not succeeded) */
    int has_parent;      /* flows: finish of a child: Redis leaves a notice for its parent */
} zg_settle;

enum {
    ZG_STATE_WAITING = 0,
    ZG_STATE_DELAYED = 1,
    ZG_STATE_RUNNING = 2,
    ZG_STATE_BURIED = 3,
    ZG_STATE_FINISHED = 4
};

typedef struct zg_job_state {
    int state; /* ZG_STATE_* */
    int64_t id, priority, reserves, timeouts, releases, lease;
    int64_t time_left_ms; /* until a delayed job is ready or a lease lapses */
} zg_job_state;

typedef struct zg_store_counts {
    int64_t waiting, delayed, running, buried;
    int64_t unclaimed; /* waiting jobs whose type no live host has asked for lately */
} zg_store_counts;

/* The index's key of a job: "<ms, 15 digits>:<uuid>". */
#define ZG_IX_KEY_LEN (16 + ZG_UUID_LEN)

/* One page of one queue's index (list). */
typedef struct zg_index_req {
    const char *queue;
    unsigned states;      /* bits 1u << ZG_JOBS_*, not 0 */
    const char *job_type; /* NULL: every type of the queue */
    const char *before;   /* only keys below this one (a cursor), or NULL */
    int64_t since_ms;     /* only keys of this ms or later; 0: any */
    size_t limit;
} zg_index_req;

/* The document fields a listed row carries, as JSON text (NULL when absent). */
enum {
    ZG_ROW_COMPLETENESS,
    ZG_ROW_RESULT,
    ZG_ROW_ERRORS,
    ZG_ROW_CREATED,
    ZG_ROW_UPDATED,
    ZG_ROW_NVALUES
};

typedef struct zg_index_row {
    char key[ZG_IX_KEY_LEN];
    char job_type[ZG_NAME_LEN];
    int state; /* ZG_JOBS_* */
    char *values[ZG_ROW_NVALUES];
    char *last_error; /* the last entry of its errors list (JSON), or NULL */
} zg_index_row;

void zg_index_rows_free(zg_index_row *rows, size_t n);

/* ---- flows ---- A job submitted with delay_ms ZG_DELAY_PARKED (a batch's callback), or a run
 * settled with ZG_SETTLE_PARK, is parked (ZG_STATE_PARKED, listed as ZG_JOBS_PARKED): not
 * claimable and holding no worker until each of its registered children has finished, or one
 * registered with fail_parent has failed; then it is waiting again (at once, if so already).
 * A child carries its parent in its document fields parentUuid and parentQueue (JSON strings);
 * its finish records {resultCode, failed, result, lastError} for the parent. */
#define ZG_DELAY_PARKED (-1)
enum { ZG_SETTLE_PARK = 4 };
enum { ZG_STATE_PARKED = 5 };
typedef struct zg_child {
    const char *uuid;
    const char *info; /* JSON object kept for children(): {uuid, jobType, queue, onFailure, n} */
    int fail_parent;  /* its failure makes the parent ready at once */
} zg_child;
/* ---- end of flows ---- */

/* Flows: the end a parent gets for a child deleted before it ended (printf format; the
 * argument is the ISO 8601 time of the delete): failed, 410 as for a kill. */
#define ZG_FLOW_DELETED_END                                                                        \
    "{\"resultCode\":410,\"failed\":true,\"result\":null,\"lastError\":{\"timeStamp\":\"%s\","     \
    "\"errorCode\":410,\"msg\":\"deleted before it ended\"}}"

typedef struct zg_store_ops {
    /* Creates n jobs with their queue entries, atomically each (Redis: a few round trips for
     * the whole batch). A uuid that exists already is not created again (a resent submit). */
    int (*submit)(zg_store *s, zg_new_job *jobs, size_t n, const char *writer, zg_error *err);
    /* Takes the most urgent waiting job of the named queues whose type is one of req->types,
     * waiting up to timeout_ms; ZG_ETIMEDOUT when none came. Lapsed leases and delays are
     * applied first. Uses the sequence numbers seq .. seq + ZG_CLAIM_SEQS - 1 at most. */
    int (*claim)(zg_store *s, const zg_claim_req *req, int64_t timeout_ms, const char *writer,
                 int64_t seq, zg_claim *out, zg_error *err);
    /* Renews a lease for its TTR; ZG_ESTALE when it is no longer current. */
    int (*touch)(zg_store *s, const zg_lease *lease, zg_error *err);
    /* Sets fields (last writer wins) and bumps the cas. ZG_ENOTFOUND: no such job. */
    int (*update)(zg_store *s, const zg_target *t, zg_fields f, int64_t known_cas,
                  const char *writer, int64_t seq, zg_written *out, zg_error *err);
    /* Sets fields when the stored cas is `expected`; else ZG_ECAS with out->cas the stored one. */
    int (*save)(zg_store *s, const zg_target *t, zg_fields f, int64_t expected, const char *writer,
                int64_t seq, zg_written *out, zg_error *err);
    /* Appends entry to a list, sets fields (the stamp), adds 1 to count_field when not NULL. */
    int (*append)(zg_store *s, const zg_target *t, int list, const char *entry, zg_fields f,
                  const char *count_field, int64_t known_cas, const char *writer, int64_t seq,
                  zg_written *out, zg_error *err);
    /* Ends a run: finish, release or bury, with its fields and entries; running = false. */
    int (*settle)(zg_store *s, const zg_lease *lease, const zg_settle *st, const char *writer,
                  int64_t seq, int64_t *cas, zg_error *err);
    /* settle, and when it succeeds, a claim without waiting (req, seq as for claim) in the same
     * step: one round trip and one script on Redis. out->lease.token is 0 when no job was
     * claimed (or the settle failed). A host that claims this way and then does not start the
     * job puts it back with unclaim. */
    int (*settle_claim)(zg_store *s, const zg_lease *lease, const zg_settle *st, const char *writer,
                        int64_t seq, int64_t *cas, const zg_claim_req *req, int64_t claim_seq,
                        zg_claim *out, zg_error *err);
    /* Puts back a job claimed and not started: waiting again in its place, its running flag
     * and the outcome of its previous run as before the claim, its reserve taken back, no
     * release counted. ZG_ESTALE when the lease is no longer current. */
    int (*unclaim)(zg_store *s, const zg_lease *lease, zg_error *err);
    /* The leases of the last claims that each of nw writers made on each of nq queues (within
     * the last minute, or the job's TTR if longer), whatever became of the jobs since:
     * out[q * nw + w] for queues[q] and writers[w], its token 0 when none (Redis: one round
     * trip for all). A host killed while its claim was on the way never learnt which job it
     * took; whoever releases what that host held puts such a job back with unclaim (ZG_ESTALE
     * there: it was settled, released or lapsed since). seqs (NULL: not wanted) gets each
     * claim's sequence number the same way (0 with no claim; a record a close emptied gives
     * its sequence number with token 0: its writer claimed there after its older claims), which
     * tells a live host's lost claim from its earlier ones, and a dead host's newest claim. */
    int (*last_claims)(zg_store *s, char *const *queues, size_t nq, const char *const *writers,
                       size_t nw, zg_lease *out, int64_t *seqs, zg_error *err);
    /* A live writer's claim that went unanswered, of sequence numbers from_seq .. to_seq - 1
     * (its later claims use higher ones), closed on each of queues[0..nq): the writer's last
     * claim of each queue into out[q] and its sequence number into seqs[q] (as last_claims reads
     * them: a claim that ran names the job it took, to be put back with unclaim), and in the
     * same atomic step that claim, if the store has not run it yet (held up on the way: data of
     * a socket the writer closed, sent again by the kernel after a partition heals), made void:
     * it takes nothing when it comes. The record then says to_seq, naming the job only when it
     * was that claim's, so closing again finds the same. (mem://: claims are never on the way;
     * only read.) */
    int (*close_claims)(zg_store *s, char *const *queues, size_t nq, const char *writer,
                        int64_t from_seq, int64_t to_seq, zg_lease *out, int64_t *seqs,
                        zg_error *err);
    /* Settles a job from outside its run (kill: st->action FINISH, whatever the job's state
     * but finished; a supervisor's release of a dead worker's run: RELEASE with the token it
     * held, or 0 for whatever run holds it). ZG_EINVAL when the job has finished already,
     * ZG_ESTALE when token is not the current lease. */
    int (*settle_from_outside)(zg_store *s, const char *queue, const char *uuid, int64_t token,
                               const zg_settle *st, const char *writer, int64_t seq, zg_error *err);
    /* Releases a run that overran (the watchdog, on the heartbeat's thread and connection):
     * ready again at once, still marked running, and its next claim reports
     * ZG_PRIOR_OVERRUN. ZG_ESTALE when the lease is no longer current, ZG_EINVAL when the job
     * has finished. */
    int (*release_overrun)(zg_store *s, const zg_lease *lease, zg_error *err);
    /* The whole document by uuid alone; ZG_ENOTFOUND. *queue (may be NULL) gets its queue. */
    int (*load)(zg_store *s, const char *uuid, char **json, char queue[ZG_NAME_LEN], zg_error *err);
    /* Buried jobs of a queue back to waiting (up to max, 0: all); when none is buried, delayed
     * ones are made ready now instead (beanstalkd's kick). */
    int (*kick)(zg_store *s, const char *queue, int64_t max, int64_t *count, zg_error *err);
    int (*counts)(zg_store *s, const char *queue, zg_store_counts *out, zg_error *err);
    int (*job_state)(zg_store *s, const char *uuid, zg_job_state *out, zg_error *err);
    /* The buried jobs of a queue as a JSON array of {uuid, jobType, reason, buriedAt}. */
    int (*buried)(zg_store *s, const char *queue, char **json, zg_error *err);
    /* The index: the newest req->limit jobs of one queue that match req, newest first, into a
     * malloc'd array (free with zg_index_rows_free). */
    int (*list)(zg_store *s, const zg_index_req *req, zg_index_row **rows, size_t *n,
                zg_error *err);
    /* A failed job back to waiting, with fields set and event appended; its retention lifted.
     * ZG_ENOTFOUND: no such job; ZG_EINVAL: it is not failed; ZG_EEXIST: another job holds its
     * unique key (the message names it; nothing changed). Retried, it takes its key again. */
    int (*retry)(zg_store *s, const char *uuid, zg_fields f, const char *event, const char *writer,
                 int64_t seq, zg_error *err);
    /* Deletes a job whatever its state (a run of it loses its lease). ZG_ENOTFOUND. A child
     * deleted before it ended (flows) ends for its parent as failed, ZG_FLOW_DELETED_END (its
     * parent would otherwise wait for it forever). */
    int (*remove)(zg_store *s, const char *uuid, zg_error *err);
    /* Deletes at most max jobs of one queue in the states of mask `states` (succeeded, failed
     * only) that finished at least older_than_ms ago (0: any time), oldest first, in one step;
     * *deleted says how many (fewer than max: nothing more matches). The age is measured on the
     * store's clock, the one that stamped the jobs' ends (the server's, on Redis): a host whose
     * own clock is off deletes no younger job. */
    int (*purge)(zg_store *s, const char *queue, unsigned states, const char *job_type,
                 int64_t older_than_ms, size_t max, int64_t *deleted, zg_error *err);
    /* Counts per job type and state of one queue (queue and job_type set in each row),
     * malloc'd. */
    int (*type_counts)(zg_store *s, const char *queue, zg_type_counts **rows, size_t *n,
                       zg_error *err);
    /* The names of every queue a job was ever submitted to, malloc'd (each, and the array). */
    int (*known_queues)(zg_store *s, char ***names, size_t *n, zg_error *err);
    /* ---- flows (a parent waiting for its children; a batch's callback) ---- */
    /* Registers children of the parent (queue, uuid) before they are submitted, so each of
     * their ends counts for it; with lease (the parent's run), fenced and chained like a run's
     * writes (ZG_ESTALE, ZG_ELOSTWRITES) and applied once by writer and seq; without,
     * ZG_ENOTFOUND when there is no such parent. A child registered again is left as it is (a
     * resent or rerun spawn). */
    int (*adopt)(zg_store *s, const zg_lease *lease, const char *queue, const char *uuid,
                 const zg_child *kids, size_t n, const char *writer, int64_t seq, zg_error *err);
    /* The parent's children as a JSON array of [info, result or null], info and result as
     * adopt and the child's finish wrote them (malloc'd), its length in *len (len may be NULL).
     * A text longer than max_bytes (0: no bound) is not read: ZG_ENOMEM, with the length it
     * would have in *len. Redis reads the ends a few MiB per call, so each call stays within
     * the store timeout however large they are together. */
    int (*children)(zg_store *s, const char *queue, const char *uuid, size_t max_bytes, char **json,
                    size_t *len, zg_error *err);
    /* Hands the notices "child C of parent P ended" that finishes of queue's jobs left to their
     * parents (Redis: an outbox in the child's slot, delivered by a second script on the
     * parent's slot, idempotent, and removed once a later delivery finds the parent had it,
     * so an end a failover of the parent's slot lost is delivered again; mem://: done in the
     * finish itself, so nothing to do). Only notices older than older_than_ms (0: every one,
     * and none of those waiting for their confirmation: a re-send, > 0, confirms them).
     * *delivered counts those that were new to their parents. */
    int (*deliver)(zg_store *s, const char *queue, int64_t older_than_ms, int64_t *delivered,
                   zg_error *err);
    /* ---- end of flows ---- */
    /* Publishes message on channel (no-op where nobody can listen: mem://). */
    int (*publish)(zg_store *s, const char *channel, const char *message, zg_error *err);
    /* Calls fn with each message of channel until *stop is set, on a connection of its own.
     * ZG_EINVAL where there is no such thing (mem://). */
    int (*follow)(zg_store *s, const char *channel, void (*fn)(void *ud, const char *msg), void *ud,
                  atomic_int *stop, zg_error *err);
    /* One round trip to the store within its timeout (health checks). */
    int (*ping)(zg_store *s, zg_error *err);
    /* ---- repeatable jobs (schedules; zg_schedule in zerog.h) ---- */
    /* Writes sc into its queue unless a schedule of that id holds the same type, rule, tz,
     * params and catch-up (then it stays as it is, its next tick too); *written says which. */
    int (*schedule_put)(zg_store *s, const zg_schedule *sc, int *written, zg_error *err);
    /* The schedules of a queue (due_only: those whose next tick is not after the store's time),
     * malloc'd; *now_ms gets the store's time and *earliest_ms the earliest next tick after it
     * (0: none). */
    int (*schedule_list)(zg_store *s, const char *queue, int due_only, zg_schedule **rows,
                         size_t *n, int64_t *now_ms, int64_t *earliest_ms, zg_error *err);
    /* Removes schedule id of a queue; ZG_ENOTFOUND. */
    int (*schedule_remove)(zg_store *s, const char *queue, const char *id, zg_error *err);
    /* Moves a schedule's next tick from expected_ms to next_ms without a job (skipped ticks);
     * ZG_ESTALE when its next tick is no longer expected_ms. */
    int (*schedule_advance)(zg_store *s, const char *queue, const char *id, int64_t expected_ms,
                            int64_t next_ms, zg_error *err);
    /* ---- sharded queues (README "Sharded queues"): a queue Q of n shards is the queues
     * Q~0 .. Q~(n-1); the store records n, and Redis places each shard's slot (store_redis.c) */
    /* The shard count recorded for queue (1 when none: an unsharded queue). */
    int (*shard_count)(zg_store *s, const char *queue, int *n, zg_error *err);
    /* Records n (1 to ZG_SHARDS_MAX) for queue, atomically: with replace 0 only when the store
     * has no record for it (the first host to declare a count wins a race), with replace 1 over
     * any record (`zerog shards`: the caller checked that the queue holds no job). *recorded
     * gets the count the store records after the call (n, or the record that was there). */
    int (*shard_record)(zg_store *s, const char *queue, int n, int replace, int *recorded,
                        zg_error *err);
    void (*close)(zg_store *s);
} zg_store_ops;

struct zg_store {
    const zg_store_ops *ops;
};

zg_store *zg_store_mem_new(void);
/* Connects to the Redis at url (redis:// or unix://); NULL with err set when it cannot.
 * timeout_ms bounds every call, reconnects included (0: the default). */
zg_store *zg_store_redis_new(const char *url, int64_t timeout_ms, zg_error *err);
/* fn(ud, ms, why) is told when a store call of the host's own thread waited ms for Redis to come
 * back and then went on (redis_conn.h, on_recovered; on a cluster, redis_cluster.h). */
void zg_store_redis_on_recovered(zg_store *s,
                                 void (*fn)(void *ud, int64_t down_ms, const char *why), void *ud);

#endif
