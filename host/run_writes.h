/* run_writes: the writes a run had acknowledged, kept until it settles, so that a store which
 * lost some of them can be given them again.
 *
 * Redis replicates asynchronously: a master may acknowledge a run's write (update_attrs, a log
 * line, a spawn's children) and stop before its replica has it; the replica, promoted, holds
 * the job's lease (replicated earlier) without the write, and the run would go on, and settle,
 * on a document that never saw it (cluster trial: result 200, the run's `runs = 1` gone).
 *
 * So the run's calls form a chain: each write, adopt and the settle names the sequence number of
 * the run's last acknowledged write (zg_lease.write_chain), and a store that does not hold that
 * write refuses the call (ZG_ELOSTWRITES) and changes nothing. A loss is found at the run's next
 * call, wherever it happened in the run, and never hidden by a later write. The host then writes
 * again, from this log, what the store lacks (each with its own sequence number and its place in
 * the chain: a store that has one skips it) and sends the call again.
 *
 * The log keeps the newest writes, up to ZG_RUN_WRITES_MAX_BYTES (a failover loses the newest:
 * those the replica had not had yet, a moment's worth; the cap is per host, so per worker thread);
 * a store that lacks one older than those kept refuses the replay too, and the run is given up
 * (its job lapses and runs again from what the store holds). */
#ifndef ZG_RUN_WRITES_H
#define ZG_RUN_WRITES_H

#include <stddef.h>
#include <stdint.h>

#include "lifecycle.h"

#define ZG_RUN_WRITES_MAX_BYTES ((size_t)1 << 20)

typedef struct zg_run_write zg_run_write;

typedef struct zg_run_writes {
    zg_run_write **at; /* kept: at[head .. n), oldest first */
    size_t head, n, cap;
    size_t bytes;        /* what the kept writes hold */
    int64_t last_seq;    /* the sequence number of the run's last acknowledged write (0: none) */
    int64_t dropped_seq; /* the newest acknowledged write no longer kept (0: none) */
    int spawned;         /* an adopt was kept: the run spawned children */
} zg_run_writes;

/* Forgets every write: the log of a run that begins (or of a host that goes). */
void zg_run_writes_clear(zg_run_writes *w);

/* Keeps a write the store acknowledged with sequence number seq: fields f (an update or a
 * save), and with list >= 0 the entry appended to that list, count_field (or NULL) counted. */
void zg_run_writes_keep(zg_run_writes *w, int64_t seq, zg_fields f, int list, const char *entry,
                        const char *count_field);
/* Keeps an adopt of children the store acknowledged with sequence number seq. The children's
 * submits are not writes of the run (other jobs, maybe other servers), so a store that lost
 * writes of a run that spawned cannot be made whole from this log: the host gives such a run up
 * (its rerun spawns the same children: adopt and submit by uuid are applied once). */
void zg_run_writes_keep_adopt(zg_run_writes *w, int64_t seq, const zg_child *kids, size_t n);

/* Writes the kept writes again, in order, under lease (the run's: queue, uuid, token), each as
 * an update, append or adopt with its own sequence number and chained to the one before it
 * (the first to the newest write no longer kept). The store skips those it holds.
 * ZG_ELOSTWRITES when the store lacks a write older than those kept (or none is kept and one was
 * let go); else the first failing call's code. */
int zg_run_writes_replay(const zg_run_writes *w, zg_store *s, const zg_lease *lease,
                         const char *writer, zg_error *err);

#endif
