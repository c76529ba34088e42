/* store_mem: the in-process store (mem://), the embedded default, behind the lifecycle interface.
 *
 * One job record holds both halves of a job: its document (named fields of JSON text in
 * first-written order, a cas counter, the events/warnings/errors lists) and its queue state (id,
 * priority, TTR, state, counters, the current lease). Every step of a job's life changes both in
 * one critical section under the store's one mutex. Jobs are found by uuid in a hash map.
 *
 * Jobs wait in position-tracking heaps (beanstalkd's design), so any job can leave any of them in
 * O(log n): per queue, one ready heap per job type ordered by (priority, id), so a claim looks only
 * at the types it names; a delayed heap by due time; the buried jobs in the order they were
 * buried. Running jobs of every queue share one heap by lease deadline, and finished jobs with a
 * retention one heap by expiry.
 *
 * Time-based transitions (lapsed leases, due delays, expired jobs) are applied lazily at the start
 * of every operation ("advance"), so there is no timer thread. A blocked claim sleeps on a
 * condition variable (monotonic clock), woken by submit, release and kick, or by the next due
 * delay or lease deadline.
 *
 * Writes are staged before they are applied: every copy made, every array and heap grown. An
 * allocation failure therefore returns ZG_ENOMEM having changed nothing; a write that answers
 * with the document is undone when rendering that document runs out of memory. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "heap.h"
#include "lifecycle.h"
#include "map.h"
#include "schedule.h"
#include "skiplist.h"
#include "strbuf.h"

const char *const zg_store_lists[3] = {"events", "warnings", "errors"};
const int zg_shard_counts[ZG_SHARDS_MAX + 1] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64};

enum {
    UNCLAIMED_AFTER_MS = 15000, /* a type nobody claimed this long counts as unclaimed */
    LONGEST_WAIT_MS = 5000,     /* a blocked claim re-marks its types at least this often */
    DEFAULT_TTR_MS = 1000,      /* for a job submitted without a TTR */
    CLAIM_KEPT_MS = 60000       /* a writer's last claim is known this long at least */
};

typedef struct field {
    char *name, *value;
} field;

typedef struct entry_list {
    char **items;
    size_t len, cap;
} entry_list;

/* The waiting jobs of one job type in one queue, when a claim last asked for that type, and the
 * index of its jobs by state (ZG_JOBS_*), ordered by key "<ms it entered the state>:<uuid>". */
/* [limits] The ready jobs of one group of a type with GROUP, and its place in the type's turns
 * (a list of the groups with ready jobs: the first is served next, a group served or joining goes
 * last; linked without allocation, so a job becoming ready cannot fail on it). */
typedef struct group_ready {
    zg_heap ready;
    struct group_ready *prev, *next;
    int in_turns;
    char name[]; /* the group */
} group_ready;

/* [limits] What a limit counts, per scope (job type or queue, and group): its running jobs, and
 * the times of its last `cap` starts (a ring: bounded, whatever the traffic). */
typedef struct limiter {
    int64_t running;
    int64_t *starts;
    size_t cap, n, head; /* head: where the next start goes */
} limiter;

typedef struct type_ready {
    zg_heap ready;
    int asked;
    int64_t asked_ms;
    zg_skiplist index[ZG_JOBS_NSTATES];
    zg_map groups;                       /* [limits] group -> group_ready */
    group_ready *first_turn, *last_turn; /* [limits] */
} type_ready;

/* A unique key taken: the job that took it, and when the key lapses (0: never). */
typedef struct unique_key {
    char uuid[ZG_UUID_LEN];
    int64_t until_ms;
} unique_key;

/* A writer's last claim on a queue (last_claims). */
typedef struct last_claim {
    char uuid[ZG_UUID_LEN];
    int64_t token, until_ms; /* known until: a minute, or the job's TTR if longer */
    int64_t seq;             /* the claim's sequence number */
} last_claim;

typedef struct job_queue {
    char name[ZG_NAME_LEN];
    zg_map types;            /* job type -> type_ready */
    zg_map unique;           /* unique key -> unique_key */
    zg_map limiters;         /* [limits] "conc:"|"rate:" scope -> limiter */
    zg_map claims;           /* writer -> last_claim: its last claim here, until its until_ms */
    size_t claims_pruned_at; /* claims.count when stale ones were last dropped */
    zg_heap delayed;
    zg_heap buried;
    int64_t next_id;
    int64_t running;
} job_queue;

/* flows: a parent's registered children, each with its info and, once it ended, its result */
typedef struct flow_kid {
    char *uuid, *info, *result;
    int fail_parent;
    int failed; /* (an end kept before its registration: whether it failed) */
} flow_kid;
typedef struct flow_kids {
    flow_kid **items; /* in the order they were registered */
    zg_map by_uuid;   /* child uuid -> its flow_kid */
    zg_map early;     /* child uuid -> the end (result, failed) of a child not registered yet */
    size_t len, cap, done;
    char failed[ZG_UUID_LEN]; /* the last fail_parent child that failed, or "" */
} flow_kids;

typedef struct job {
    char uuid[ZG_UUID_LEN];
    char job_type[ZG_NAME_LEN];
    job_queue *queue;
    type_ready *ready;  /* where it waits when it is ready */
    group_ready *group; /* [limits] its group (a type with GROUP), where it waits instead */
    limiter *slot;      /* [limits] the concurrency limit counting it while it runs */
    /* the document */
    field *fields;
    size_t nfields, fields_cap;
    int64_t cas;
    entry_list lists[3];
    /* the queue state */
    int state; /* ZG_STATE_* */
    int64_t id, priority, ttr_ms;
    /* delayed: when it is ready; running: the lease deadline; finished: its expiry (0: none) */
    int64_t due_ms;
    int64_t reserves, timeouts, releases;
    int64_t lease;      /* the current lease token; 0 when not running */
    int64_t last_lease; /* the last lease handed out (leases never repeat, reserves can drop) */
    int prior;          /* ZG_PRIOR_*: how the last run ended when it did not settle */
    int claimed_prior;  /* the prior the current claim reported (an unclaim restores it) */
    char *reason;       /* buried: why (may be NULL) */
    char *unique_key;   /* the unique key it took, or NULL */
    int unique_hold;    /* ZG_UNIQUE_*: how long it holds it (a retry takes it again) */
    int64_t unique_ttl_ms;
    int64_t buried_at_ms, buried_seq;
    zg_heap *home; /* the heap holding it, or NULL */
    size_t heap_index;
    /* its entry in its type's index: the set of its state (index_state, ZG_JOBS_*) */
    int index_state;
    char index_key[ZG_IX_KEY_LEN];
    zg_skipnode index_node;
    flow_kids *kids; /* flows: its children, or NULL */
} job;

typedef struct mem_store {
    zg_store base;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a job may have become claimable */
    zg_map jobs;            /* uuid -> job */
    zg_map queues;          /* name -> job_queue */
    zg_heap running;        /* every queue's running jobs, by lease deadline */
    zg_heap expiring;       /* finished jobs with a retention, by expiry */
    int64_t bury_seq;
    zg_map schedules; /* "<queue>\n<id>" -> zg_schedule (repeatable jobs) */
    zg_map shards;    /* sharded queues: name -> its shard count (as a pointer) */
} mem_store;

void zg_claim_clear(zg_claim *c)
{
    free(c->doc);
    memset(c, 0, sizeof *c);
}

void zg_index_rows_free(zg_index_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        for (int v = 0; v < ZG_ROW_NVALUES; v++)
            free(rows[i].values[v]);
        free(rows[i].last_error);
    }
    free(rows);
}

/* ---- time ---- */

/* now + ms without overflowing (a huge delay is "never"). */
static int64_t later(int64_t now, int64_t ms)
{
    return ms > INT64_MAX - now ? INT64_MAX : now + ms;
}

/* ---- heaps ---- */

static int ready_less(const void *a, const void *b)
{
    const job *x = a, *y = b;
    return x->priority != y->priority ? x->priority < y->priority : x->id < y->id;
}

static int due_less(const void *a, const void *b)
{
    const job *x = a, *y = b;
    return x->due_ms != y->due_ms ? x->due_ms < y->due_ms : x->id < y->id;
}

static int buried_less(const void *a, const void *b)
{
    return ((const job *)a)->buried_seq < ((const job *)b)->buried_seq;
}

static void set_index(void *item, size_t index)
{
    ((job *)item)->heap_index = index;
}

/* Grows h so that the next push cannot fail; -1 when out of memory. */
static int make_room(zg_heap *h)
{
    if (h->len < h->cap) return 0;
    size_t cap = h->cap ? h->cap * 2 : 16;
    void **items = realloc(h->items, cap * sizeof *items);
    if (!items) return -1;
    h->items = items;
    h->cap = cap;
    return 0;
}

/* [limits] The group g of type t leaves its turns, or goes last. */
static void turn_unlink(type_ready *t, group_ready *g)
{
    if (!g->in_turns) return;
    if (g->prev)
        g->prev->next = g->next;
    else
        t->first_turn = g->next;
    if (g->next)
        g->next->prev = g->prev;
    else
        t->last_turn = g->prev;
    g->prev = g->next = NULL;
    g->in_turns = 0;
}

static void turn_last(type_ready *t, group_ready *g)
{
    turn_unlink(t, g);
    g->prev = t->last_turn;
    if (t->last_turn)
        t->last_turn->next = g;
    else
        t->first_turn = g;
    t->last_turn = g;
    g->in_turns = 1;
}

/* Where j waits when it is ready: its group's heap, or its type's. */
static zg_heap *ready_heap(job *j)
{
    return j->group ? &j->group->ready : &j->ready->ready;
}

/* Puts j into h, which has room (make_room); a group that gets its first ready job joins the
 * turns, last. */
static void put_in(job *j, zg_heap *h)
{
    (void)zg_heap_push(h, j);
    j->home = h;
    if (j->group && h == &j->group->ready && !j->group->in_turns) turn_last(j->ready, j->group);
}

static void take_out(job *j)
{
    if (j->home) zg_heap_remove(j->home, j->heap_index);
    if (j->group && j->home == &j->group->ready && !j->group->ready.len)
        turn_unlink(j->ready, j->group);
    j->home = NULL;
}

/* ---- records ---- */

/* Frees one of a parent's children records (a void * for zg_map_free; NULL: nothing). */
static void flow_kid_free(void *p)
{
    flow_kid *kid = p;
    if (!kid) return;
    free(kid->uuid);
    free(kid->info);
    free(kid->result);
    free(kid);
}

static void job_free(void *p)
{
    job *j = p;
    for (size_t i = 0; i < j->nfields; i++) {
        free(j->fields[i].name);
        free(j->fields[i].value);
    }
    free(j->fields);
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < j->lists[l].len; i++)
            free(j->lists[l].items[i]);
        free(j->lists[l].items);
    }
    free(j->reason);
    free(j->unique_key);
    if (j->kids) {
        for (size_t i = 0; i < j->kids->len; i++)
            flow_kid_free(j->kids->items[i]);
        free(j->kids->items);
        zg_map_free(&j->kids->by_uuid, NULL);
        zg_map_free(&j->kids->early, flow_kid_free);
        free(j->kids);
    }
    free(j);
}

/* ---- flows (a parent waiting for its children) ----
 * On mem:// a child's finish hands its result to its parent in the same critical section (no
 * outbox: nothing can die between the two). A parent's children live on the parent's record. */

static flow_kid *flow_find(flow_kids *k, const char *uuid)
{
    return k ? zg_map_get(&k->by_uuid, uuid) : NULL;
}

/* The text of a field that is a JSON string, unquoted into out ("" when absent or not one). */
static void json_string_field(const char *v, char *out, size_t size)
{
    out[0] = '\0';
    size_t len = v ? strlen(v) : 0;
    if (len < 2 || v[0] != '"' || v[len - 1] != '"' || len - 2 >= size) return;
    memcpy(out, v + 1, len - 2);
    out[len - 2] = '\0';
}
static field *find_field(const job *j, const char *name);

/* Whether the parked parent j may run again. */
static int flow_ready(const job *j)
{
    if (!j->kids || j->kids->done >= j->kids->len) return 1;
    if (!j->kids->failed[0]) return 0;
    /* a failure the job has ended with 424 already (and was then retried) does not count */
    char seen[ZG_UUID_LEN];
    field *f = find_field(j, "flowFailedSeen");
    json_string_field(f ? f->value : NULL, seen, sizeof seen);
    return strcmp(seen, j->kids->failed) != 0;
}
static int make_waiting(job *j);
static void flow_child_finished(struct mem_store *s, job *j, int failed);
static void flow_child_ended(struct mem_store *s, job *j, char *end, int failed);
static void flow_child_deleted(struct mem_store *s, job *j);
/* ---- end of flows (continued below mem_settle_from_outside) ---- */

static void group_free(void *p)
{
    group_ready *g = p;
    zg_heap_free(&g->ready);
    free(g);
}

static void limiter_free(void *p)
{
    limiter *l = p;
    free(l->starts);
    free(l);
}

static void type_free(void *p)
{
    type_ready *t = p;
    zg_heap_free(&t->ready);
    zg_map_free(&t->groups, group_free);
    free(t);
}

static void queue_free(void *p)
{
    job_queue *q = p;
    zg_map_free(&q->types, type_free);
    zg_map_free(&q->unique, free);
    zg_map_free(&q->limiters, limiter_free);
    zg_map_free(&q->claims, free);
    zg_heap_free(&q->delayed);
    zg_heap_free(&q->buried);
    free(q);
}

static job_queue *find_queue(mem_store *s, const char *name)
{
    return zg_map_get(&s->queues, name);
}

/* The queue called name, created when absent (name fits ZG_NAME_LEN); NULL when out of memory. */
static job_queue *make_queue(mem_store *s, const char *name)
{
    job_queue *q = find_queue(s, name);
    if (q) return q;
    if (!(q = calloc(1, sizeof *q))) return NULL;
    snprintf(q->name, sizeof q->name, "%s", name);
    zg_map_init(&q->types);
    zg_map_init(&q->unique);
    zg_map_init(&q->limiters);
    zg_map_init(&q->claims);
    zg_heap_init(&q->delayed, due_less, set_index);
    zg_heap_init(&q->buried, buried_less, set_index);
    if (zg_map_set(&s->queues, name, q) != 0) {
        queue_free(q);
        return NULL;
    }
    return q;
}

static type_ready *make_type(job_queue *q, const char *type)
{
    type_ready *t = zg_map_get(&q->types, type);
    if (t) return t;
    if (!(t = calloc(1, sizeof *t))) return NULL;
    zg_heap_init(&t->ready, ready_less, set_index);
    zg_map_init(&t->groups);
    for (int i = 0; i < ZG_JOBS_NSTATES; i++)
        zg_skiplist_init(&t->index[i], (uint64_t)(uintptr_t)t + (uint64_t)i);
    if (zg_map_set(&q->types, type, t) != 0) {
        type_free(t);
        return NULL;
    }
    return t;
}

/* ---- the index ---- */

/* Moves j into the index set of state (ZG_JOBS_*), out of the one it was in: cannot fail. */
static void index_move(job *j, int state)
{
    zg_skiplist *sets = j->ready->index;
    if (j->index_node.key) zg_skiplist_remove(&sets[j->index_state], &j->index_node);
    snprintf(j->index_key, sizeof j->index_key, "%015lld:%s", (long long)zg_clock_wall_ms(),
             j->uuid);
    j->index_node.key = j->index_key;
    j->index_state = state;
    zg_skiplist_insert(&sets[state], &j->index_node);
}

static void index_leave(job *j)
{
    if (j->index_node.key) zg_skiplist_remove(&j->ready->index[j->index_state], &j->index_node);
    j->index_node.key = NULL;
}

/* [limits] j leaves running (any way): the concurrency slot it held is free, once. */
static void free_slot(mem_store *s, job *j)
{
    if (!j->slot) return;
    j->slot->running--;
    j->slot = NULL;
    pthread_cond_broadcast(&s->changed);
}

/* Drops j for good: out of its heap and its index set, its running count given back, its unique
 * key (while it still names j) released. */
static void forget(mem_store *s, job *j)
{
    if (j->unique_key) {
        unique_key *u = zg_map_get(&j->queue->unique, j->unique_key);
        if (u && strcmp(u->uuid, j->uuid) == 0)
            free(zg_map_remove(&j->queue->unique, j->unique_key));
    }
    if (j->state == ZG_STATE_RUNNING) j->queue->running--;
    free_slot(s, j);
    take_out(j);
    index_leave(j);
    zg_map_remove(&s->jobs, j->uuid);
    job_free(j);
}

static field *find_field(const job *j, const char *name)
{
    for (size_t i = 0; i < j->nfields; i++)
        if (strcmp(j->fields[i].name, name) == 0) return &j->fields[i];
    return NULL;
}

/* ---- staged writes to a document ----
 * An edit holds copies of everything a write sets or appends. edit_make_room grows the job's
 * arrays; edit_apply then cannot fail. After apply, the edit holds the values it replaced, so
 * edit_undo can put them back and edit_free frees whichever side is left over. */

typedef struct edit {
    size_t n, cap;
    char **names, **values;
    char *entries[3]; /* one entry per list, or NULL */
    int pushed[3];
    size_t nfields_before;
} edit;

static void edit_free(edit *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->names[i]);
        free(e->values[i]);
    }
    free(e->names);
    free(e->values);
    for (int l = 0; l < 3; l++)
        if (!e->pushed[l]) free(e->entries[l]);
    memset(e, 0, sizeof *e);
}

static int edit_set(edit *e, const char *name, const char *value)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        char **names = realloc(e->names, cap * sizeof *names);
        if (!names) return -1;
        e->names = names;
        char **values = realloc(e->values, cap * sizeof *values);
        if (!values) return -1;
        e->values = values;
        e->cap = cap;
    }
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    e->names[e->n] = n;
    e->values[e->n++] = v;
    return 0;
}

static int edit_set_fields(edit *e, zg_fields f)
{
    for (size_t i = 0; i < f.n; i++)
        if (edit_set(e, f.names[i], f.values[i]) != 0) return -1;
    return 0;
}

static int edit_entry(edit *e, int list, const char *entry)
{
    free(e->entries[list]);
    return (e->entries[list] = strdup(entry)) ? 0 : -1;
}

/* Stages count_field = its value (as the edit leaves it; missing = 0) + 1. */
static int edit_add_one(edit *e, const job *j, const char *count_field)
{
    const char *value = NULL;
    for (size_t i = e->n; i-- > 0 && !value;)
        if (strcmp(e->names[i], count_field) == 0) value = e->values[i];
    if (!value) {
        const field *f = find_field(j, count_field);
        value = f ? f->value : NULL;
    }
    char text[24];
    snprintf(text, sizeof text, "%lld", (value ? strtoll(value, NULL, 10) : 0) + 1);
    return edit_set(e, count_field, text);
}

static int edit_make_room(job *j, const edit *e)
{
    size_t need = j->nfields + e->n;
    if (need > j->fields_cap) {
        size_t cap = j->fields_cap ? j->fields_cap : 8;
        while (cap < need)
            cap *= 2;
        field *fields = realloc(j->fields, cap * sizeof *fields);
        if (!fields) return -1;
        j->fields = fields;
        j->fields_cap = cap;
    }
    for (int l = 0; l < 3; l++) {
        entry_list *el = &j->lists[l];
        if (!e->entries[l] || el->len < el->cap) continue;
        size_t cap = el->cap ? el->cap * 2 : 8;
        char **items = realloc(el->items, cap * sizeof *items);
        if (!items) return -1;
        el->items = items;
        el->cap = cap;
    }
    return 0;
}

static void edit_apply(job *j, edit *e)
{
    e->nfields_before = j->nfields;
    for (size_t i = 0; i < e->n; i++) {
        field *f = find_field(j, e->names[i]);
        if (f) {
            char *old = f->value;
            f->value = e->values[i];
            e->values[i] = old;
        } else {
            j->fields[j->nfields].name = e->names[i];
            j->fields[j->nfields++].value = e->values[i];
            e->names[i] = e->values[i] = NULL; /* the job owns them now */
        }
    }
    for (int l = 0; l < 3; l++) {
        if (!e->entries[l]) continue;
        j->lists[l].items[j->lists[l].len++] = e->entries[l];
        e->pushed[l] = 1;
    }
}

static void edit_undo(job *j, edit *e)
{
    for (int l = 0; l < 3; l++) {
        if (!e->pushed[l]) continue;
        j->lists[l].len--;
        e->pushed[l] = 0;
    }
    for (size_t i = e->n; i-- > 0;) {
        if (!e->names[i]) continue; /* it added a field: dropped below */
        field *f = find_field(j, e->names[i]);
        char *staged = f->value;
        f->value = e->values[i];
        e->values[i] = staged;
    }
    while (j->nfields > e->nfields_before) {
        j->nfields--;
        free(j->fields[j->nfields].name);
        free(j->fields[j->nfields].value);
    }
}

/* ---- JSON ---- */

/* The document as one JSON object: cas, the fields (not the store's own '_' ones), the lists.
 * NULL when out of memory. */
static char *render(const job *j)
{
    zg_strbuf b;
    zg_strbuf_init(&b);
    zg_strbuf_printf(&b, "{\"cas\":%lld", (long long)j->cas);
    for (size_t i = 0; i < j->nfields; i++) {
        if (j->fields[i].name[0] == '_') continue;
        zg_strbuf_puts(&b, ",");
        zg_strbuf_json_string(&b, j->fields[i].name);
        zg_strbuf_puts(&b, ":");
        zg_strbuf_puts(&b, j->fields[i].value);
    }
    for (int l = 0; l < 3; l++) {
        zg_strbuf_printf(&b, ",\"%s\":[", zg_store_lists[l]);
        for (size_t i = 0; i < j->lists[l].len; i++) {
            if (i) zg_strbuf_puts(&b, ",");
            zg_strbuf_puts(&b, j->lists[l].items[i]);
        }
        zg_strbuf_puts(&b, "]");
    }
    zg_strbuf_puts(&b, "}");
    return zg_strbuf_take(&b);
}

/* ---- transitions ---- */

/* A ready job to its type's ready heap (from wherever it is); -1 when out of memory. */
static int make_waiting(job *j)
{
    if (make_room(ready_heap(j)) != 0) return -1;
    take_out(j);
    j->state = ZG_STATE_WAITING;
    put_in(j, ready_heap(j));
    index_move(j, ZG_JOBS_WAITING);
    return 0;
}

/* A running job whose lease deadline passed goes back to waiting, its doc field running as it
 * was, so the next claim reports ZG_PRIOR_LAPSED. */
static int lapse(mem_store *s, job *j)
{
    if (make_waiting(j) != 0) return -1;
    j->queue->running--;
    free_slot(s, j);
    j->timeouts++;
    j->prior = ZG_PRIOR_LAPSED;
    j->lease = 0;
    return 0;
}

/* Applies what time has done: lapsed leases, due delays, expired finished jobs. */
static int advance(mem_store *s)
{
    int64_t now = zg_clock_monotonic_ms();
    int rc = 0, woke = 0;
    job *j;
    while ((j = zg_heap_peek(&s->running)) && j->due_ms <= now) {
        if (lapse(s, j) != 0) {
            rc = -1;
            break;
        }
        woke = 1;
    }
    size_t pos = 0;
    zg_map_slot *slot;
    while ((slot = zg_map_next(&s->queues, &pos))) {
        job_queue *q = slot->value;
        while ((j = zg_heap_peek(&q->delayed)) && j->due_ms <= now) {
            if (make_waiting(j) != 0) {
                rc = -1;
                break;
            }
            woke = 1;
        }
    }
    while ((j = zg_heap_peek(&s->expiring)) && j->due_ms <= now)
        forget(s, j);
    if (woke) pthread_cond_broadcast(&s->changed);
    return rc;
}

#define ADVANCE(s, err)                                                                            \
    do {                                                                                           \
        if (advance(s) != 0)                                                                       \
            return zg_fail(err, ZG_ENOMEM, "out of memory applying lapsed leases and delays");     \
    } while (0)

/* The job a lease names when that lease is current; else NULL with ZG_ESTALE. A running job whose
 * deadline has passed lapses here, as advance would. */
static job *leased_job(mem_store *s, const zg_lease *lease, zg_error *err)
{
    int64_t now = zg_clock_monotonic_ms();
    job *j = NULL;
    if (memchr(lease->uuid, '\0', sizeof lease->uuid) &&
        memchr(lease->queue, '\0', sizeof lease->queue)) {
        j = zg_map_get(&s->jobs, lease->uuid);
        if (j && j->state == ZG_STATE_RUNNING && j->due_ms <= now && lapse(s, j) == 0)
            pthread_cond_broadcast(&s->changed);
    }
    /* (a lapse that ran out of memory leaves it running past its deadline: refused all the same) */
    if (!j || j->state != ZG_STATE_RUNNING || j->lease != lease->token || j->due_ms <= now ||
        strcmp(j->queue->name, lease->queue) != 0) {
        zg_fail(err, ZG_ESTALE, "lease %lld of job %.*s is no longer current",
                (long long)lease->token, (int)strnlen(lease->uuid, sizeof lease->uuid),
                lease->uuid);
        return NULL;
    }
    return j;
}

/* The job a write goes to: by its lease (fenced) or by uuid (and queue, when named). */
static job *target_job(mem_store *s, const zg_target *t, zg_error *err)
{
    if (t->lease) return leased_job(s, t->lease, err);
    job *j = t->uuid ? zg_map_get(&s->jobs, t->uuid) : NULL;
    if (!j || (t->queue && *t->queue && strcmp(t->queue, j->queue->name) != 0)) {
        zg_fail(err, ZG_ENOTFOUND, "no job %s%s%s", t->uuid ? t->uuid : "(null)",
                t->queue && *t->queue ? " in queue " : "", t->queue ? t->queue : "");
        return NULL;
    }
    return j;
}

static int check_fields(zg_fields f, zg_error *err)
{
    if (f.n && (!f.names || !f.values)) return zg_fail(err, ZG_EINVAL, "fields without names");
    for (size_t i = 0; i < f.n; i++)
        if (!f.names[i] || !f.values[i])
            return zg_fail(err, ZG_EINVAL, "field %zu has no name or no value", i + 1);
    return ZG_OK;
}

static int check_name(const char *what, const char *name, size_t size, zg_error *err)
{
    if (!name || !*name) return zg_fail(err, ZG_EINVAL, "a job needs a %s", what);
    if (strlen(name) >= size)
        return zg_fail(err, ZG_EINVAL, "%s %.40s... is longer than %zu bytes", what, name,
                       size - 1);
    return ZG_OK;
}

/* Applies a staged edit, bumping the cas; out->doc gets the document when the cas before the
 * write was not known_cas (and want_doc). */
static int write_edit(job *j, edit *e, int want_doc, int64_t known_cas, zg_written *out,
                      zg_error *err)
{
    if (edit_make_room(j, e) != 0)
        return zg_fail(err, ZG_ENOMEM, "out of memory writing job %s", j->uuid);
    int64_t before = j->cas;
    edit_apply(j, e);
    j->cas++;
    if (want_doc && before != known_cas && !(out->doc = render(j))) {
        j->cas--;
        edit_undo(j, e);
        return zg_fail(err, ZG_ENOMEM, "out of memory writing job %s", j->uuid);
    }
    out->cas = j->cas;
    return ZG_OK;
}

/* ---- operations (each runs whole under the store's lock: see the locked_* entry points) ---- */

/* The job that holds unique key k of queue q under hold (ZG_UNIQUE_*), or NULL: the key is free
 * when it lapsed, or its job is gone or has left the states the hold covers. */
static job *unique_holder(mem_store *s, job_queue *q, const char *k, int hold)
{
    unique_key *u = zg_map_get(&q->unique, k);
    if (!u || (u->until_ms && u->until_ms <= zg_clock_monotonic_ms())) return NULL;
    job *j = zg_map_get(&s->jobs, u->uuid);
    if (!j) return NULL;
    switch (j->index_state) {
    case ZG_JOBS_WAITING:
    case ZG_JOBS_DELAYED:
    case ZG_JOBS_BURIED:
        return j;
    case ZG_JOBS_RUNNING:
        return hold >= ZG_UNIQUE_RUNNING ? j : NULL;
    case ZG_JOBS_SUCCEEDED:
        return hold == ZG_UNIQUE_UNTIL_DONE ? j : NULL;
    default:
        return NULL;
    }
}

/* Takes unique key k of queue q for job uuid (before the job is created: -1 when out of memory,
 * nothing changed). */
static int take_unique(job_queue *q, const char *k, const char *uuid, int64_t ttl_ms)
{
    unique_key *u = zg_map_get(&q->unique, k);
    if (!u) {
        if (!(u = calloc(1, sizeof *u))) return -1;
        if (zg_map_set(&q->unique, k, u) != 0) {
            free(u);
            return -1;
        }
    }
    snprintf(u->uuid, sizeof u->uuid, "%s", uuid);
    u->until_ms = ttl_ms > 0 ? later(zg_clock_monotonic_ms(), ttl_ms) : 0;
    return 0;
}

/* [limits] The group called name of type t, created when absent; NULL when out of memory. */
static group_ready *make_group(type_ready *t, const char *name)
{
    group_ready *g = zg_map_get(&t->groups, name);
    if (g) return g;
    size_t len = strlen(name) + 1;
    if (!(g = calloc(1, sizeof *g + len))) return NULL;
    memcpy(g->name, name, len);
    zg_heap_init(&g->ready, ready_less, set_index);
    if (zg_map_set(&t->groups, name, g) != 0) {
        group_free(g);
        return NULL;
    }
    return g;
}

static int create_job(mem_store *s, zg_new_job *nj, zg_error *err)
{
    job_queue *q = make_queue(s, nj->queue);
    nj->existing[0] = '\0';
    if (q && nj->unique_key) {
        const job *holder = unique_holder(s, q, nj->unique_key, nj->unique_hold);
        if (holder) { /* not created: another job holds its unique key */
            snprintf(nj->existing, sizeof nj->existing, "%s", holder->uuid);
            nj->id = 0;
            nj->cas = 0;
            return ZG_OK;
        }
    }
    if (nj->group && strlen(nj->group) > ZG_GROUP_MAX)
        return zg_fail(err, ZG_EINVAL, "a group is at most %d bytes", ZG_GROUP_MAX);
    type_ready *t = q ? make_type(q, nj->job_type) : NULL;
    group_ready *g = t && nj->group ? make_group(t, nj->group) : NULL;
    job *j = t && (g || !nj->group) ? calloc(1, sizeof *j) : NULL;
    if (!j) return zg_fail(err, ZG_ENOMEM, "out of memory submitting job %s", nj->uuid);
    int64_t id = q->next_id + 1;
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%lld", (long long)id);
    int parked = nj->delay_ms == ZG_DELAY_PARKED; /* (flows: a batch's callback) */
    zg_heap *home = parked ? NULL : nj->delay_ms > 0 ? &q->delayed : g ? &g->ready : &t->ready;
    edit e = {0};
    if (edit_set_fields(&e, nj->fields) != 0 || edit_set(&e, "queueJobId", id_text) != 0 ||
        edit_make_room(j, &e) != 0 || (home && make_room(home) != 0) ||
        zg_map_set(&s->jobs, nj->uuid, j) != 0) {
        edit_free(&e);
        job_free(j);
        return zg_fail(err, ZG_ENOMEM, "out of memory submitting job %s", nj->uuid);
    }
    if (nj->unique_key && (!(j->unique_key = strdup(nj->unique_key)) ||
                           take_unique(q, nj->unique_key, nj->uuid, nj->unique_ttl_ms) != 0)) {
        zg_map_remove(&s->jobs, nj->uuid);
        edit_free(&e);
        job_free(j);
        return zg_fail(err, ZG_ENOMEM, "out of memory submitting job %s", nj->uuid);
    }
    j->unique_hold = nj->unique_hold;
    j->unique_ttl_ms = nj->unique_ttl_ms;
    edit_apply(j, &e);
    edit_free(&e);
    snprintf(j->uuid, sizeof j->uuid, "%s", nj->uuid);
    snprintf(j->job_type, sizeof j->job_type, "%s", nj->job_type);
    j->queue = q;
    j->ready = t;
    j->group = g;
    j->id = q->next_id = id;
    j->priority = nj->priority;
    j->ttr_ms = nj->ttr_ms > 0 ? nj->ttr_ms : DEFAULT_TTR_MS;
    j->cas = 1;
    j->state = parked ? ZG_STATE_PARKED : nj->delay_ms > 0 ? ZG_STATE_DELAYED : ZG_STATE_WAITING;
    if (nj->delay_ms > 0) j->due_ms = later(zg_clock_monotonic_ms(), nj->delay_ms);
    if (home) put_in(j, home);
    index_move(j, parked ? ZG_JOBS_PARKED : nj->delay_ms > 0 ? ZG_JOBS_DELAYED : ZG_JOBS_WAITING);
    nj->id = j->id;
    nj->cas = j->cas;
    return ZG_OK;
}

static zg_schedule *mem_schedule_of_tick(mem_store *s, zg_new_job *nj);

static int flow_register(job *j, const zg_child *kids, size_t n, zg_error *err);

static int mem_submit(zg_store *zs, zg_new_job *jobs, size_t n, const char *writer, zg_error *err)
{
    (void)writer; /* nothing is resent in-process */
    mem_store *s = (mem_store *)zs;
    if (n && !jobs) return zg_fail(err, ZG_EINVAL, "no jobs to submit");
    for (size_t i = 0; i < n; i++) {
        int rc = check_name("uuid", jobs[i].uuid, ZG_UUID_LEN, err);
        if (rc == ZG_OK) rc = check_name("queue", jobs[i].queue, ZG_NAME_LEN, err);
        if (rc == ZG_OK) rc = check_name("job type", jobs[i].job_type, ZG_NAME_LEN, err);
        if (rc == ZG_OK) rc = check_fields(jobs[i].fields, err);
        if (rc != ZG_OK) return rc;
    }
    ADVANCE(s, err);
    int rc = ZG_OK, created = 0;
    for (size_t i = 0; rc == ZG_OK && i < n; i++) {
        job *j = zg_map_get(&s->jobs, jobs[i].uuid);
        if (j) { /* a resent submit */
            jobs[i].id = j->id;
            jobs[i].cas = j->cas;
            continue;
        }
        zg_schedule *sc = NULL; /* a schedule's job: made only while its tick is not taken */
        if (jobs[i].schedule_id && !(sc = mem_schedule_of_tick(s, &jobs[i]))) continue;
        rc = create_job(s, &jobs[i], err);
        if (rc == ZG_OK && jobs[i].nkids) /* (flows: a batch's callback) */
            rc =
                flow_register(zg_map_get(&s->jobs, jobs[i].uuid), jobs[i].kids, jobs[i].nkids, err);
        if (rc == ZG_OK) created = 1;
        if (rc == ZG_OK && sc) { /* the tick taken, in the same critical section */
            sc->next_ms = jobs[i].schedule_next_ms;
            sc->last_ms = jobs[i].scheduled_ms;
        }
    }
    if (created) pthread_cond_broadcast(&s->changed);
    return rc;
}

/* Marks the requested types of the requested queues as asked for now (counts.unclaimed). */
static int note_asked(mem_store *s, const zg_claim_req *req, int64_t now)
{
    for (size_t qi = 0; qi < req->nqueues; qi++) {
        job_queue *q = make_queue(s, req->queues[qi]);
        if (!q) return -1;
        for (size_t ti = 0; ti < req->ntypes; ti++) {
            type_ready *t = make_type(q, req->types[ti]);
            if (!t) return -1;
            t->asked = 1;
            t->asked_ms = now;
        }
    }
    return 0;
}

/* ---- [limits] RATE, CONCURRENCY and GROUP ---- */

/* How many groups a claim looks at, in turn (those at their limits go last, so the next claim
 * sees the next ones), and how soon it looks again when all it saw were at their limits. */
enum { GROUP_SCAN = 32, GROUP_SCAN_WAIT_MS = 100 };

/* The limiter of kind ("conc" | "rate") counting jobs of type (group g) under a limit of the
 * type or the whole queue; created when absent and create is set (NULL: out of memory). */
static limiter *find_limiter(job_queue *q, const char *kind, const char *type, int queue_wide,
                             const group_ready *g, int create)
{
    char key[8 + ZG_NAME_LEN + ZG_GROUP_MAX + 4];
    snprintf(key, sizeof key, "%s:%s%s%s", kind, queue_wide ? "*" : type, g ? ":" : "",
             g ? g->name : "");
    limiter *l = zg_map_get(&q->limiters, key);
    if (l || !create) return l;
    if (!(l = calloc(1, sizeof *l))) return NULL;
    if (zg_map_set(&q->limiters, key, l) != 0) {
        free(l);
        return NULL;
    }
    return l;
}

/* ms until a job of type (group g) may start under l: 0 now, -1 when a running one must end. */
static int64_t limit_wait(job_queue *q, const char *type, const zg_type_limits *l,
                          const group_ready *g, int64_t now)
{
    if (l->concurrency > 0) {
        const limiter *c = find_limiter(q, "conc", type, l->concurrency_queue_wide, g, 0);
        if (c && c->running >= l->concurrency) return -1;
    }
    if (l->rate > 0) {
        const limiter *r = find_limiter(q, "rate", type, l->rate_queue_wide, g, 0);
        if (r && r->cap == (size_t)l->rate && r->n == r->cap) { /* full: head is the oldest */
            int64_t wait = r->starts[r->head] + l->rate_ms - now;
            if (wait > 0) return wait;
        }
    }
    return 0;
}

/* j, about to start, counts against l: in its concurrency limit while it runs, in its rate's
 * last starts. -1 (nothing changed) when out of memory. */
static int limits_take(job *j, const zg_type_limits *l, int64_t now)
{
    job_queue *q = j->queue;
    limiter *c = l->concurrency > 0
                     ? find_limiter(q, "conc", j->job_type, l->concurrency_queue_wide, j->group, 1)
                     : NULL;
    limiter *r =
        l->rate > 0 ? find_limiter(q, "rate", j->job_type, l->rate_queue_wide, j->group, 1) : NULL;
    if ((l->concurrency > 0 && !c) || (l->rate > 0 && !r)) return -1;
    if (r && r->cap != (size_t)l->rate) { /* new, or its limit changed: a ring of that size */
        size_t cap = l->rate <= ZG_RATE_MAX ? (size_t)l->rate : 0;
        int64_t *ring = cap ? calloc(cap, sizeof *ring) : NULL;
        if (!ring) return -1;
        free(r->starts);
        r->starts = ring;
        r->cap = (size_t)l->rate;
        r->n = r->head = 0;
    }
    if (c) {
        c->running++;
        j->slot = c;
    }
    if (r) {
        r->starts[r->head] = now;
        r->head = (r->head + 1) % r->cap;
        if (r->n < r->cap) r->n++;
    }
    return 0;
}

static void note_wake(int64_t *wake, int64_t ms)
{
    if (ms >= 0 && (*wake < 0 || ms < *wake)) *wake = ms;
}

/* The ready job of limited type t a claim may start now (its group's turn first), or NULL with
 * *wake lowered to when one may (untouched when only a running job's end can tell). */
static job *limited_head(job_queue *q, type_ready *t, const char *type, const zg_type_limits *l,
                         int64_t now, int64_t *wake)
{
    if (!l->grouped) {
        job *j = zg_heap_peek(&t->ready);
        int64_t w = j ? limit_wait(q, type, l, NULL, now) : 0;
        if (w == 0) return j;
        note_wake(wake, w);
        return NULL;
    }
    group_ready *skipped[GROUP_SCAN], *g = t->first_turn;
    size_t nskipped = 0;
    job *found = NULL;
    for (int seen = 0; g && seen < GROUP_SCAN && !found; seen++, g = g->next) {
        job *j = zg_heap_peek(&g->ready);
        int64_t w = j && (l->concurrency || l->rate) ? limit_wait(q, type, l, g, now) : 0;
        if (j && w == 0)
            found = j;
        else if (j) {
            note_wake(wake, w);
            skipped[nskipped++] = g;
        }
    }
    for (size_t i = 0; i < nskipped; i++)
        turn_last(t, skipped[i]);
    if (!found && g) note_wake(wake, GROUP_SCAN_WAIT_MS);
    return found;
}

/* The most urgent job of the request a claim may start now: lowest priority, then lowest id; on
 * a full tie the earlier queue's. *limits: the limits it starts under (NULL: none); *wake: ms
 * until a job held back by its limits may start (-1: none known). */
static job *best_ready(mem_store *s, const zg_claim_req *req, const zg_type_limits **limits,
                       int64_t *wake)
{
    job *best = NULL;
    int64_t now = zg_clock_monotonic_ms();
    *limits = NULL;
    *wake = -1;
    /* equally urgent heads of several queues: the first from the place the host moves on at
     * every claim (zg_claim_req.tie_start: a sharded queue's shards take turns) */
    size_t start = req->nqueues ? (size_t)(req->tie_start % req->nqueues) : 0;
    for (size_t k = 0; k < req->nqueues; k++) {
        job_queue *q = find_queue(s, req->queues[(start + k) % req->nqueues]);
        for (size_t ti = 0; q && ti < req->ntypes; ti++) {
            type_ready *t = zg_map_get(&q->types, req->types[ti]);
            const zg_type_limits *l = req->limits ? &req->limits[ti] : NULL;
            if (!zg_type_limits_any(l)) l = NULL;
            job *j = !t  ? NULL
                     : l ? limited_head(q, t, req->types[ti], l, now, wake)
                         : zg_heap_peek(&t->ready);
            if (j && (!best || (j->queue == best->queue ? ready_less(j, best)
                                                        : j->priority < best->priority))) {
                best = j;
                *limits = l;
            }
        }
    }
    return best;
}

/* When a job of the request could next become claimable (a due delay, a lapsing lease). */
static int64_t next_change(mem_store *s, const zg_claim_req *req)
{
    int64_t next = INT64_MAX;
    job *j = zg_heap_peek(&s->running);
    if (j) next = j->due_ms;
    for (size_t qi = 0; qi < req->nqueues; qi++) {
        job_queue *q = find_queue(s, req->queues[qi]);
        j = q ? zg_heap_peek(&q->delayed) : NULL;
        if (j && j->due_ms < next) next = j->due_ms;
    }
    return next;
}

/* Waits (the lock released) until the monotonic time until_ms or a change, whichever is first. */
static void wait_until(mem_store *s, int64_t until_ms)
{
    int64_t ms = until_ms - zg_clock_monotonic_ms();
    if (ms <= 0) return;
    struct timespec at = zg_clock_deadline(ms);
    pthread_cond_timedwait(&s->changed, &s->lock, &at);
}

/* Hands j to a run: running = true in its document, a new lease, running until now + TTR. */
static int take(mem_store *s, job *j, zg_claim *out, zg_error *err)
{
    const field *running = find_field(j, "running");
    int was_running = running && strcmp(running->value, "true") == 0;
    edit e = {0};
    if (edit_set(&e, "running", "true") != 0 || edit_make_room(j, &e) != 0 ||
        make_room(&s->running) != 0) {
        edit_free(&e);
        return zg_fail(err, ZG_ENOMEM, "out of memory claiming job %s", j->uuid);
    }
    edit_apply(j, &e);
    j->cas++;
    char *doc = render(j);
    if (!doc) {
        j->cas--;
        edit_undo(j, &e);
        edit_free(&e);
        return zg_fail(err, ZG_ENOMEM, "out of memory claiming job %s", j->uuid);
    }
    edit_free(&e);
    take_out(j);
    j->state = ZG_STATE_RUNNING;
    j->reserves++;
    j->lease = ++j->last_lease;
    j->due_ms = later(zg_clock_monotonic_ms(), j->ttr_ms);
    put_in(j, &s->running);
    index_move(j, ZG_JOBS_RUNNING);
    j->queue->running++;
    out->prior = !was_running                 ? ZG_PRIOR_CLEAN
                 : j->prior != ZG_PRIOR_CLEAN ? j->prior
                                              : ZG_PRIOR_DIED;
    j->claimed_prior = out->prior;
    j->prior = ZG_PRIOR_CLEAN;
    snprintf(out->lease.uuid, sizeof out->lease.uuid, "%s", j->uuid);
    snprintf(out->lease.queue, sizeof out->lease.queue, "%s", j->queue->name);
    out->lease.token = j->lease;
    out->lease.ttr_ms = j->ttr_ms;
    snprintf(out->job_type, sizeof out->job_type, "%s", j->job_type);
    out->id = j->id;
    out->priority = j->priority;
    out->reserves = j->reserves;
    out->timeouts = j->timeouts;
    out->releases = j->releases;
    out->doc = doc;
    return ZG_OK;
}

/* The record of writer's last claim on q, made when absent (NULL: out of memory). Records past
 * their time are dropped whenever the writers seen since the last time doubled. */
static last_claim *claim_record(job_queue *q, const char *writer, int64_t now)
{
    last_claim *c = zg_map_get(&q->claims, writer);
    if (c) return c;
    if (q->claims.count >= 2 * q->claims_pruned_at + 16) {
        size_t pos = 0;
        zg_map_slot *slot;
        while ((slot = zg_map_next(&q->claims, &pos))) {
            last_claim *old = slot->value;
            if (now > old->until_ms) free(zg_map_remove(&q->claims, slot->key));
        }
        q->claims_pruned_at = q->claims.count;
    }
    if (!(c = calloc(1, sizeof *c))) return NULL;
    if (zg_map_set(&q->claims, writer, c) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

static int mem_claim(zg_store *zs, const zg_claim_req *req, int64_t timeout_ms, const char *writer,
                     int64_t seq, zg_claim *out, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    memset(out, 0, sizeof *out);
    if (!req || (req->nqueues && !req->queues) || (req->ntypes && !req->types))
        return zg_fail(err, ZG_EINVAL, "a claim needs queues and job types");
    for (size_t i = 0; i < req->nqueues; i++)
        if (check_name("queue", req->queues[i], ZG_NAME_LEN, err) != ZG_OK) return err->code;
    for (size_t i = 0; i < req->ntypes; i++)
        if (check_name("job type", req->types[i], ZG_NAME_LEN, err) != ZG_OK) return err->code;
    int64_t give_up = later(zg_clock_monotonic_ms(), timeout_ms > 0 ? timeout_ms : 0);
    job *j;
    const zg_type_limits *limits;
    for (;;) {
        ADVANCE(s, err);
        int64_t now = zg_clock_monotonic_ms(), limit_wake;
        if (note_asked(s, req, now) != 0) return zg_fail(err, ZG_ENOMEM, "out of memory claiming");
        if ((j = best_ready(s, req, &limits, &limit_wake))) break;
        if (now >= give_up) return zg_fail(err, ZG_ETIMEDOUT, "no job was ready in time");
        int64_t wake = next_change(s, req);
        if (limit_wake >= 0 && now + limit_wake < wake) wake = now + limit_wake;
        if (wake > give_up) wake = give_up;
        if (wake > now + LONGEST_WAIT_MS) wake = now + LONGEST_WAIT_MS;
        wait_until(s, wake);
    }
    int64_t now = zg_clock_monotonic_ms();
    last_claim *memo = writer && *writer ? claim_record(j->queue, writer, now) : NULL;
    if (writer && *writer && !memo)
        return zg_fail(err, ZG_ENOMEM, "out of memory claiming job %s", j->uuid);
    if (limits && limits_take(j, limits, now) != 0)
        return zg_fail(err, ZG_ENOMEM, "out of memory claiming job %s", j->uuid);
    group_ready *g = j->group;
    int rc = take(s, j, out, err);
    if (rc != ZG_OK) {
        free_slot(s, j);
        return rc;
    }
    if (memo) {
        snprintf(memo->uuid, sizeof memo->uuid, "%s", j->uuid);
        memo->token = j->lease;
        memo->seq = seq;
        memo->until_ms = now + (j->ttr_ms > CLAIM_KEPT_MS ? j->ttr_ms : CLAIM_KEPT_MS);
    }
    if (g && g->in_turns) turn_last(j->ready, g); /* served: its group goes last in turn */
    return ZG_OK;
}

static int mem_last_claims(zg_store *zs, char *const *queues, size_t nq, const char *const *writers,
                           size_t nw, zg_lease *out, int64_t *seqs, zg_error *err)
{
    (void)err;
    mem_store *s = (mem_store *)zs;
    memset(out, 0, nq * nw * sizeof *out);
    if (seqs) memset(seqs, 0, nq * nw * sizeof *seqs);
    int64_t now = zg_clock_monotonic_ms();
    for (size_t q = 0; q < nq; q++) {
        job_queue *jq = find_queue(s, queues[q]);
        for (size_t w = 0; jq && w < nw; w++) {
            last_claim *c = zg_map_get(&jq->claims, writers[w]);
            if (!c || !c->token || now > c->until_ms) continue;
            zg_lease *l = &out[q * nw + w];
            snprintf(l->uuid, sizeof l->uuid, "%s", c->uuid);
            snprintf(l->queue, sizeof l->queue, "%s", jq->name);
            l->token = c->token;
            if (seqs) seqs[q * nw + w] = c->seq;
        }
    }
    return ZG_OK;
}

/* In process, a claim is never on the way when its caller gives up on it: nothing to void. */
static int mem_close_claims(zg_store *zs, char *const *queues, size_t nq, const char *writer,
                            int64_t from_seq, int64_t to_seq, zg_lease *out, int64_t *seqs,
                            zg_error *err)
{
    (void)from_seq, (void)to_seq;
    const char *writers[] = {writer};
    return mem_last_claims(zs, queues, nq, writers, 1, out, seqs, err);
}

static int mem_touch(zg_store *zs, const zg_lease *lease, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    if (!lease) return zg_fail(err, ZG_EINVAL, "touch needs a lease");
    ADVANCE(s, err);
    job *j = leased_job(s, lease, err);
    if (!j) return err->code;
    take_out(j); /* and back in at its new deadline: the room it left is there */
    j->due_ms = later(zg_clock_monotonic_ms(), j->ttr_ms);
    put_in(j, &s->running);
    return ZG_OK;
}

/* What every write does first: checks its fields, applies lapsed leases and delays, and finds
 * its job (the run's, by a current lease; else by uuid). NULL with err set when it cannot. */
static job *write_target(mem_store *s, const zg_target *t, zg_fields f, zg_written *out,
                         zg_error *err)
{
    memset(out, 0, sizeof *out);
    if (check_fields(f, err) != ZG_OK) return NULL;
    if (advance(s) != 0) {
        zg_fail(err, ZG_ENOMEM, "out of memory applying lapsed leases and delays");
        return NULL;
    }
    return target_job(s, t, err);
}

static int mem_update(zg_store *zs, const zg_target *t, zg_fields f, int64_t known_cas,
                      const char *writer, int64_t seq, zg_written *out, zg_error *err)
{
    (void)writer, (void)seq;
    job *j = write_target((mem_store *)zs, t, f, out, err);
    if (!j) return err->code;
    edit e = {0};
    int rc = edit_set_fields(&e, f) != 0
                 ? zg_fail(err, ZG_ENOMEM, "out of memory updating job %s", j->uuid)
                 : write_edit(j, &e, 1, known_cas, out, err);
    edit_free(&e);
    return rc;
}

static int mem_save(zg_store *zs, const zg_target *t, zg_fields f, int64_t expected,
                    const char *writer, int64_t seq, zg_written *out, zg_error *err)
{
    (void)writer, (void)seq;
    job *j = write_target((mem_store *)zs, t, f, out, err);
    if (!j) return err->code;
    if (j->cas != expected) {
        out->cas = j->cas;
        return zg_fail(err, ZG_ECAS, "cas mismatch on job %s: stored %lld, expected %lld", j->uuid,
                       (long long)j->cas, (long long)expected);
    }
    edit e = {0};
    int rc = edit_set_fields(&e, f) != 0
                 ? zg_fail(err, ZG_ENOMEM, "out of memory saving job %s", j->uuid)
                 : write_edit(j, &e, 0, expected, out, err);
    edit_free(&e);
    return rc;
}

static int mem_append(zg_store *zs, const zg_target *t, int list, const char *entry, zg_fields f,
                      const char *count_field, int64_t known_cas, const char *writer, int64_t seq,
                      zg_written *out, zg_error *err)
{
    (void)writer, (void)seq;
    memset(out, 0, sizeof *out);
    if (list < 0 || list > 2) return zg_fail(err, ZG_EINVAL, "no list number %d", list);
    if (!entry) return zg_fail(err, ZG_EINVAL, "nothing to append to %s", zg_store_lists[list]);
    job *j = write_target((mem_store *)zs, t, f, out, err);
    if (!j) return err->code;
    edit e = {0};
    int rc = edit_entry(&e, list, entry) != 0 || edit_set_fields(&e, f) != 0 ||
                     (count_field && edit_add_one(&e, j, count_field) != 0)
                 ? zg_fail(err, ZG_ENOMEM, "out of memory appending to job %s", j->uuid)
                 : write_edit(j, &e, 1, known_cas, out, err);
    edit_free(&e);
    return rc;
}

static int check_settle(const zg_settle *st, zg_error *err)
{
    if (!st) return zg_fail(err, ZG_EINVAL, "nothing to settle with");
    if (st->action != ZG_SETTLE_FINISH && st->action != ZG_SETTLE_RELEASE &&
        st->action != ZG_SETTLE_BURY && st->action != ZG_SETTLE_PARK)
        return zg_fail(err, ZG_EINVAL, "unknown settle action %d", st->action);
    return check_fields(st->fields, err);
}

/* Ends j's run (or whatever state it is in) as st says; keep_running leaves the doc field running
 * as it is (a dead worker's run released from outside). */
static int apply_settle(mem_store *s, job *j, const zg_settle *st, int keep_running, zg_error *err)
{
    job_queue *q = j->queue;
    if (!q) /* never: every job has its queue (said for the analyzer) */
        return zg_fail(err, ZG_ENOTFOUND, "job %s is in no queue", j->uuid);
    zg_heap *home = NULL; /* where the job goes: a finished job kept forever goes nowhere */
    if (st->action == ZG_SETTLE_BURY)
        home = &q->buried;
    else if (st->action == ZG_SETTLE_RELEASE)
        home = st->delay_ms > 0 ? &q->delayed : ready_heap(j);
    else if (st->action ==
             ZG_SETTLE_PARK) /* (flows: parked, or waiting when its children are done) */
        home = flow_ready(j) ? ready_heap(j) : NULL;
    else if (st->retention_s > 0)
        home = &s->expiring;
    char *reason = NULL;
    edit e = {0};
    if (edit_set_fields(&e, st->fields) != 0 ||
        (!keep_running && edit_set(&e, "running", "false") != 0) ||
        (st->event && edit_entry(&e, ZG_LIST_EVENTS, st->event) != 0) ||
        (st->error && (edit_entry(&e, ZG_LIST_ERRORS, st->error) != 0 ||
                       edit_add_one(&e, j, "errorCount") != 0)) ||
        (st->action == ZG_SETTLE_BURY && st->reason && !(reason = strdup(st->reason))) ||
        edit_make_room(j, &e) != 0 || (home && make_room(home) != 0)) {
        free(reason);
        edit_free(&e);
        return zg_fail(err, ZG_ENOMEM, "out of memory settling job %s", j->uuid);
    }
    edit_apply(j, &e);
    edit_free(&e);
    j->cas++;
    if (j->state == ZG_STATE_RUNNING) q->running--;
    free_slot(s, j);
    take_out(j);
    j->lease = 0;
    int64_t now = zg_clock_monotonic_ms();
    switch (st->action) {
    case ZG_SETTLE_FINISH:
        j->state = ZG_STATE_FINISHED;
        index_move(j, st->failed ? ZG_JOBS_FAILED : ZG_JOBS_SUCCEEDED);
        j->due_ms = 0;
        if (home) {
            int64_t keep_ms =
                st->retention_s > INT64_MAX / 1000 ? INT64_MAX : st->retention_s * 1000;
            j->due_ms = later(now, keep_ms);
        }
        flow_child_finished(s, j, st->failed); /* (flows: a child's end, for its parent) */
        break;
    case ZG_SETTLE_PARK: /* (flows) */
        j->state = home ? ZG_STATE_WAITING : ZG_STATE_PARKED;
        index_move(j, home ? ZG_JOBS_WAITING : ZG_JOBS_PARKED);
        if (home) pthread_cond_broadcast(&s->changed);
        break;
    case ZG_SETTLE_RELEASE:
        j->releases++;
        j->state = st->delay_ms > 0 ? ZG_STATE_DELAYED : ZG_STATE_WAITING;
        index_move(j, st->delay_ms > 0 ? ZG_JOBS_DELAYED : ZG_JOBS_WAITING);
        if (st->delay_ms > 0) j->due_ms = later(now, st->delay_ms);
        pthread_cond_broadcast(&s->changed);
        break;
    default: /* bury */
        j->state = ZG_STATE_BURIED;
        index_move(j, ZG_JOBS_BURIED);
        free(j->reason);
        j->reason = reason;
        j->buried_at_ms = zg_clock_wall_ms();
        j->buried_seq = ++s->bury_seq;
        break;
    }
    if (home) put_in(j, home);
    return ZG_OK;
}

static int mem_settle(zg_store *zs, const zg_lease *lease, const zg_settle *st, const char *writer,
                      int64_t seq, int64_t *cas, zg_error *err)
{
    (void)writer, (void)seq;
    mem_store *s = (mem_store *)zs;
    if (!lease) return zg_fail(err, ZG_EINVAL, "settle needs a lease");
    if (check_settle(st, err) != ZG_OK) return err->code;
    ADVANCE(s, err);
    job *j = leased_job(s, lease, err);
    if (!j) return err->code;
    int rc = apply_settle(s, j, st, 0, err);
    if (rc == ZG_OK && cas) *cas = j->cas;
    return rc;
}

static int mem_settle_claim(zg_store *zs, const zg_lease *lease, const zg_settle *st,
                            const char *writer, int64_t seq, int64_t *cas, const zg_claim_req *req,
                            int64_t claim_seq, zg_claim *out, zg_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = mem_settle(zs, lease, st, writer, seq, cas, err);
    if (rc != ZG_OK || !req) return rc;
    zg_error claim_err = {0};
    if (mem_claim(zs, req, 0, writer, claim_seq, out, &claim_err) != ZG_OK)
        memset(out, 0, sizeof *out); /* nothing ready (or no memory for it): the settle stands */
    return ZG_OK;
}

/* A job claimed and not started goes back to waiting as it was before the claim. */
static int mem_unclaim(zg_store *zs, const zg_lease *lease, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    if (!lease) return zg_fail(err, ZG_EINVAL, "unclaim needs a lease");
    ADVANCE(s, err);
    job *j = leased_job(s, lease, err);
    if (!j) return err->code;
    const char *running = j->claimed_prior != ZG_PRIOR_CLEAN ? "true" : "false";
    edit e = {0};
    if (edit_set(&e, "running", running) != 0 || edit_make_room(j, &e) != 0 ||
        make_room(ready_heap(j)) != 0) {
        edit_free(&e);
        return zg_fail(err, ZG_ENOMEM, "out of memory putting back job %s", j->uuid);
    }
    edit_apply(j, &e);
    edit_free(&e);
    j->cas++;
    j->queue->running--;
    free_slot(s, j);
    take_out(j);
    j->lease = 0;
    j->reserves--;
    j->prior = j->claimed_prior;
    j->state = ZG_STATE_WAITING;
    put_in(j, ready_heap(j));
    index_move(j, ZG_JOBS_WAITING);
    pthread_cond_broadcast(&s->changed);
    return ZG_OK;
}

static int mem_settle_from_outside(zg_store *zs, const char *queue, const char *uuid, int64_t token,
                                   const zg_settle *st, const char *writer, int64_t seq,
                                   zg_error *err)
{
    (void)writer, (void)seq;
    mem_store *s = (mem_store *)zs;
    if (check_settle(st, err) != ZG_OK) return err->code;
    ADVANCE(s, err);
    zg_target t = {NULL, queue, uuid};
    job *j = target_job(s, &t, err);
    if (!j) return err->code;
    if (j->state == ZG_STATE_FINISHED)
        return zg_fail(err, ZG_EINVAL, "job %s has finished already", j->uuid);
    if (token != 0 && (j->state != ZG_STATE_RUNNING || j->lease != token))
        return zg_fail(err, ZG_ESTALE, "lease %lld of job %s is no longer current",
                       (long long)token, j->uuid);
    int release = st->action == ZG_SETTLE_RELEASE;
    int rc = apply_settle(s, j, st, release && st->prior != ZG_PRIOR_CLEAN, err);
    if (rc == ZG_OK && release) j->prior = st->prior;
    return rc;
}

/* ---- flows (continued) ---- */

/* j finished: when it is a registered child of a job, its result goes to that parent, which is
 * waiting again when this was the last child it waited for (or a fail_parent child failed). */
static void flow_child_finished(mem_store *s, job *j, int failed)
{
    field *code = find_field(j, "resultCode"), *result = find_field(j, "result");
    const entry_list *errors = &j->lists[ZG_LIST_ERRORS];
    zg_strbuf b;
    zg_strbuf_init(&b);
    zg_strbuf_printf(&b, "{\"resultCode\":%s,\"failed\":%s,\"result\":%s,\"lastError\":%s}",
                     code ? code->value : "null", failed ? "true" : "false",
                     result ? result->value : "null",
                     errors->len ? errors->items[errors->len - 1] : "null");
    flow_child_ended(s, j, zg_strbuf_take(&b), failed);
}

/* j is about to be deleted: when it is a child that has not ended, its parent gets it as ended
 * (failed), rather than waiting for it forever. */
static void flow_child_deleted(mem_store *s, job *j)
{
    if (j->state == ZG_STATE_FINISHED) return; /* (its end was handed over by its finish) */
    char now[40], *end = malloc(sizeof ZG_FLOW_DELETED_END + sizeof now);
    zg_clock_iso8601(now, sizeof now);
    if (end) snprintf(end, sizeof ZG_FLOW_DELETED_END + sizeof now, ZG_FLOW_DELETED_END, now);
    flow_child_ended(s, j, end, 1);
}

/* The children record of parent j, made when it has none (NULL: out of memory). */
static flow_kids *flow_kids_of(job *j)
{
    if (!j->kids && (j->kids = calloc(1, sizeof *j->kids)) != NULL) {
        zg_map_init(&j->kids->by_uuid);
        zg_map_init(&j->kids->early);
    }
    return j->kids;
}

/* Counts child kid's end (taken) for its parent's record k. */
static void flow_record(flow_kids *k, flow_kid *kid, char *end, int failed)
{
    kid->result = end;
    k->done++;
    if (failed && kid->fail_parent) snprintf(k->failed, sizeof k->failed, "%s", kid->uuid);
}

/* Registers children kids of parent j (a child registered already is left as it is; one whose
 * end came first has it counted now). */
static int flow_register(job *j, const zg_child *kids, size_t n, zg_error *err)
{
    flow_kids *k = flow_kids_of(j);
    if (!k) return zg_fail(err, ZG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (flow_find(k, kids[i].uuid)) continue;
        if (k->len == k->cap) {
            size_t cap = k->cap ? 2 * k->cap : 8;
            flow_kid **grown = realloc(k->items, cap * sizeof *grown);
            if (!grown) return zg_fail(err, ZG_ENOMEM, "out of memory");
            k->items = grown;
            k->cap = cap;
        }
        flow_kid *kid = calloc(1, sizeof *kid);
        if (kid) {
            kid->uuid = strdup(kids[i].uuid);
            kid->info = strdup(kids[i].info ? kids[i].info : "null");
            kid->fail_parent = kids[i].fail_parent;
        }
        if (!kid || !kid->uuid || !kid->info || zg_map_set(&k->by_uuid, kid->uuid, kid) != 0) {
            if (kid) free(kid->uuid), free(kid->info);
            free(kid);
            return zg_fail(err, ZG_ENOMEM, "out of memory");
        }
        k->items[k->len++] = kid;
        flow_kid *ended = zg_map_remove(&k->early, kid->uuid); /* (its end came first) */
        if (ended) {
            flow_record(k, kid, ended->result, ended->failed);
            ended->result = NULL;
            flow_kid_free(ended);
        }
    }
    return ZG_OK;
}

/* Hands child j's end (result: JSON text, malloc'd, taken) to its parent, if it has one that
 * has not had its end already. A parent that has not registered the child keeps the end for
 * its registration (mem_adopt), as Redis does (deliver.lua: there, the registration may have
 * been lost in a failover while the child ran). */
static void flow_child_ended(mem_store *s, job *j, char *end, int failed)
{
    char pu[ZG_UUID_LEN];
    field *f = find_field(j, "parentUuid");
    json_string_field(f ? f->value : NULL, pu, sizeof pu);
    job *parent = pu[0] ? zg_map_get(&s->jobs, pu) : NULL;
    flow_kids *k = parent && end ? flow_kids_of(parent) : NULL;
    flow_kid *kid = k ? flow_find(k, j->uuid) : NULL;
    if (k && !kid && !zg_map_get(&k->early, j->uuid)) {
        flow_kid *kept = calloc(1, sizeof *kept);
        if (kept) kept->uuid = strdup(j->uuid), kept->result = end, kept->failed = failed;
        if (kept && kept->uuid && zg_map_set(&k->early, j->uuid, kept) == 0) return;
        if (kept) kept->result = NULL; /* (out of memory: the end is let go) */
        flow_kid_free(kept);
    }
    if (!kid || kid->result) { /* (out of memory: the parent waits on) */
        free(end);
        return;
    }
    flow_record(k, kid, end, failed);
    if (parent->state == ZG_STATE_PARKED && flow_ready(parent) && make_waiting(parent) == 0)
        pthread_cond_broadcast(&s->changed);
}

static int mem_adopt(zg_store *zs, const zg_lease *lease, const char *queue, const char *uuid,
                     const zg_child *kids, size_t n, const char *writer, int64_t seq, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    (void)queue, (void)writer, (void)seq;
    ADVANCE(s, err);
    job *j;
    if (lease) {
        if (!(j = leased_job(s, lease, err))) return err->code;
    } else if (!(j = zg_map_get(&s->jobs, uuid)))
        /* (from outside a run: the parent must exist, as on Redis) */
        return zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid);
    return flow_register(j, kids, n, err);
}

static int mem_children(zg_store *zs, const char *queue, const char *uuid, size_t max_bytes,
                        char **json, size_t *len, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    (void)queue;
    *json = NULL;
    if (len) *len = 0;
    ADVANCE(s, err);
    job *j = uuid ? zg_map_get(&s->jobs, uuid) : NULL;
    if (!j) return zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid ? uuid : "(null)");
    /* the text's length first (one that would not fit is not made): [ ], the commas between the
     * children's [info,end] */
    size_t n = j->kids ? j->kids->len : 0, total = n ? 1 + n : 2;
    for (size_t i = 0; i < n; i++) {
        const flow_kid *kid = j->kids->items[i];
        total += strlen(kid->info) + (kid->result ? strlen(kid->result) : 4) + 3;
    }
    if (len) *len = total;
    if (max_bytes && total > max_bytes)
        return zg_fail(err, ZG_ENOMEM, "the children's ends of job %s are %zu bytes of text", uuid,
                       total);
    zg_strbuf b;
    zg_strbuf_init(&b);
    zg_strbuf_reserve(&b, total + 1);
    zg_strbuf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        const flow_kid *kid = j->kids->items[i];
        zg_strbuf_printf(&b, "%s[%s,%s]", i ? "," : "", kid->info,
                         kid->result ? kid->result : "null");
    }
    zg_strbuf_puts(&b, "]");
    *json = zg_strbuf_take(&b);
    return *json ? ZG_OK : zg_fail(err, ZG_ENOMEM, "out of memory");
}

static int mem_deliver(zg_store *zs, const char *queue, int64_t older_than_ms, int64_t *delivered,
                       zg_error *err)
{
    (void)zs, (void)queue, (void)older_than_ms, (void)err; /* delivered by the finish itself */
    if (delivered) *delivered = 0;
    return ZG_OK;
}
/* ---- end of flows ---- */

static int mem_load(zg_store *zs, const char *uuid, char **json, char queue[ZG_NAME_LEN],
                    zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    *json = NULL;
    ADVANCE(s, err);
    job *j = uuid ? zg_map_get(&s->jobs, uuid) : NULL;
    if (!j) return zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid ? uuid : "(null)");
    if (!(*json = render(j))) return zg_fail(err, ZG_ENOMEM, "out of memory loading job %s", uuid);
    if (queue) snprintf(queue, ZG_NAME_LEN, "%s", j->queue->name);
    return ZG_OK;
}

static int mem_kick(zg_store *zs, const char *queue, int64_t max, int64_t *count, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    *count = 0;
    ADVANCE(s, err);
    job_queue *q = queue ? find_queue(s, queue) : NULL;
    if (!q) return ZG_OK;
    zg_heap *from = q->buried.len ? &q->buried : &q->delayed;
    size_t n = from->len;
    if (max > 0 && (uint64_t)max < n) n = (size_t)max;
    if (!n) return ZG_OK;
    /* Oldest first out of their heap; if a ready heap cannot grow, everything goes back. */
    job **moving = malloc(n * sizeof(job *));
    if (!moving) return zg_fail(err, ZG_ENOMEM, "out of memory kicking %s", queue);
    for (size_t i = 0; i < n; i++) {
        moving[i] = zg_heap_peek(from);
        take_out(moving[i]);
    }
    size_t placed = 0;
    while (placed < n && make_room(ready_heap(moving[placed])) == 0) {
        put_in(moving[placed], ready_heap(moving[placed]));
        placed++;
    }
    if (placed < n) {
        for (size_t i = 0; i < n; i++) {
            take_out(moving[i]);
            put_in(moving[i], from); /* they were there a moment ago: the room is there */
        }
        free(moving);
        return zg_fail(err, ZG_ENOMEM, "out of memory kicking %s", queue);
    }
    for (size_t i = 0; i < n; i++) {
        moving[i]->state = ZG_STATE_WAITING;
        index_move(moving[i], ZG_JOBS_WAITING);
    }
    free(moving);
    *count = (int64_t)n;
    pthread_cond_broadcast(&s->changed);
    return ZG_OK;
}

static int mem_counts(zg_store *zs, const char *queue, zg_store_counts *out, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    memset(out, 0, sizeof *out);
    ADVANCE(s, err);
    job_queue *q = queue ? find_queue(s, queue) : NULL;
    if (!q) return ZG_OK;
    int64_t now = zg_clock_monotonic_ms();
    size_t pos = 0;
    zg_map_slot *slot;
    while ((slot = zg_map_next(&q->types, &pos))) {
        type_ready *t = slot->value;
        int64_t waiting = (int64_t)t->index[ZG_JOBS_WAITING].len; /* (a type with GROUP waits in
                                                                     several heaps) */
        out->waiting += waiting;
        if (!t->asked || now - t->asked_ms > UNCLAIMED_AFTER_MS) out->unclaimed += waiting;
    }
    out->delayed = (int64_t)q->delayed.len;
    out->running = q->running;
    out->buried = (int64_t)q->buried.len;
    return ZG_OK;
}

static int mem_job_state(zg_store *zs, const char *uuid, zg_job_state *out, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    memset(out, 0, sizeof *out);
    ADVANCE(s, err);
    job *j = uuid ? zg_map_get(&s->jobs, uuid) : NULL;
    if (!j) return zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid ? uuid : "(null)");
    out->state = j->state;
    out->id = j->id;
    out->priority = j->priority;
    out->reserves = j->reserves;
    out->timeouts = j->timeouts;
    out->releases = j->releases;
    out->lease = j->lease;
    if (j->state == ZG_STATE_DELAYED || j->state == ZG_STATE_RUNNING) {
        int64_t left = j->due_ms - zg_clock_monotonic_ms();
        out->time_left_ms = left > 0 ? left : 0;
    }
    return ZG_OK;
}

static int by_buried_seq(const void *a, const void *b)
{
    const job *x = *(job *const *)a, *y = *(job *const *)b;
    return (x->buried_seq > y->buried_seq) - (x->buried_seq < y->buried_seq);
}

static int mem_buried(zg_store *zs, const char *queue, char **json, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    *json = NULL;
    ADVANCE(s, err);
    job_queue *q = queue ? find_queue(s, queue) : NULL;
    size_t n = q ? q->buried.len : 0;
    job **sorted = n ? malloc(n * sizeof(job *)) : NULL;
    if (n && !sorted) return zg_fail(err, ZG_ENOMEM, "out of memory listing buried jobs");
    if (n) {
        memcpy(sorted, q->buried.items, n * sizeof(job *));
        qsort(sorted, n, sizeof(job *), by_buried_seq);
    }
    zg_strbuf b;
    zg_strbuf_init(&b);
    zg_strbuf_puts(&b, "[");
    for (size_t i = 0; i < n; i++) {
        job *j = sorted[i];
        zg_strbuf_puts(&b, i ? ",{\"uuid\":" : "{\"uuid\":");
        zg_strbuf_json_string(&b, j->uuid);
        zg_strbuf_puts(&b, ",\"jobType\":");
        zg_strbuf_json_string(&b, j->job_type);
        zg_strbuf_puts(&b, ",\"reason\":");
        if (j->reason)
            zg_strbuf_json_string(&b, j->reason);
        else
            zg_strbuf_puts(&b, "null");
        zg_strbuf_printf(&b, ",\"buriedAt\":%lld}", (long long)j->buried_at_ms);
    }
    zg_strbuf_puts(&b, "]");
    free(sorted);
    if (!(*json = zg_strbuf_take(&b)))
        return zg_fail(err, ZG_ENOMEM, "out of memory listing buried jobs");
    return ZG_OK;
}

/* ---- finding and steering jobs (the index) ---- */

/* A row of a listing being gathered: the job and its index node. */
typedef struct listed {
    job *j;
} listed;

static int newest_first(const void *a, const void *b)
{
    return strcmp(((const listed *)b)->j->index_key, ((const listed *)a)->j->index_key);
}

static char *value_copy(const job *j, const char *name, int *oom)
{
    const field *f = find_field(j, name);
    if (!f) return NULL;
    char *v = strdup(f->value);
    if (!v) *oom = 1;
    return v;
}

static int mem_list(zg_store *zs, const zg_index_req *req, zg_index_row **rows, size_t *n,
                    zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    *rows = NULL;
    *n = 0;
    ADVANCE(s, err);
    job_queue *q = req->queue ? find_queue(s, req->queue) : NULL;
    if (!q || !req->limit) return ZG_OK;
    char since[24] = "";
    if (req->since_ms > 0) snprintf(since, sizeof since, "%015lld", (long long)req->since_ms);
    /* up to limit from each set, newest first, then the newest limit of them all */
    listed *all = NULL;
    size_t len = 0, cap = 0;
    size_t pos = 0;
    zg_map_slot *slot;
    while ((slot = zg_map_next(&q->types, &pos))) {
        if (req->job_type && strcmp(slot->key, req->job_type) != 0) continue;
        type_ready *t = slot->value;
        for (int st = 0; st < ZG_JOBS_NSTATES; st++) {
            if (!(req->states & (1u << st))) continue;
            size_t taken = 0;
            for (zg_skipnode *x = zg_skiplist_last_below(&t->index[st], req->before);
                 x && taken < req->limit && strcmp(x->key, since) >= 0;
                 x = zg_skiplist_prev(x), taken++) {
                if (len == cap) {
                    size_t grown_cap = cap ? cap * 2 : 64;
                    listed *grown = realloc(all, grown_cap * sizeof *grown);
                    if (!grown) {
                        free(all);
                        return zg_fail(err, ZG_ENOMEM, "out of memory listing jobs");
                    }
                    all = grown;
                    cap = grown_cap;
                }
                all[len++].j = (job *)((char *)x - offsetof(job, index_node));
            }
        }
    }
    if (!len) return ZG_OK;
    qsort(all, len, sizeof *all, newest_first);
    if (len > req->limit) len = req->limit;
    zg_index_row *out = calloc(len, sizeof *out);
    int oom = !out;
    static const char *const names[ZG_ROW_NVALUES] = {"completeness", "resultCode", "errorCount",
                                                      "createdAt", "updatedAt"};
    for (size_t i = 0; !oom && i < len; i++) {
        const job *j = all[i].j;
        zg_index_row *row = &out[i];
        snprintf(row->key, sizeof row->key, "%s", j->index_key);
        snprintf(row->job_type, sizeof row->job_type, "%s", j->job_type);
        row->state = j->index_state;
        for (int v = 0; v < ZG_ROW_NVALUES; v++)
            row->values[v] = value_copy(j, names[v], &oom);
        const entry_list *errors = &j->lists[ZG_LIST_ERRORS];
        if (errors->len && !(row->last_error = strdup(errors->items[errors->len - 1]))) oom = 1;
    }
    free(all);
    if (oom) {
        zg_index_rows_free(out, len);
        return zg_fail(err, ZG_ENOMEM, "out of memory listing jobs");
    }
    *rows = out;
    *n = len;
    return ZG_OK;
}

static int mem_retry(zg_store *zs, const char *uuid, zg_fields f, const char *event,
                     const char *writer, int64_t seq, zg_error *err)
{
    (void)writer, (void)seq;
    mem_store *s = (mem_store *)zs;
    if (check_fields(f, err) != ZG_OK) return err->code;
    ADVANCE(s, err);
    job *j = uuid ? zg_map_get(&s->jobs, uuid) : NULL;
    if (!j) return zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid ? uuid : "(null)");
    if (j->state != ZG_STATE_FINISHED || j->index_state != ZG_JOBS_FAILED)
        return zg_fail(err, ZG_EINVAL, "job %s has not failed", uuid);
    if (j->unique_key) { /* back to waiting, it holds its key again: unless another job does */
        const job *holder = unique_holder(s, j->queue, j->unique_key, j->unique_hold);
        if (holder && holder != j)
            return zg_fail(err, ZG_EEXIST,
                           "job %s holds the same unique key: job %s was not retried", holder->uuid,
                           uuid);
    }
    edit e = {0};
    if (edit_set_fields(&e, f) != 0 || edit_set(&e, "running", "false") != 0 ||
        (event && edit_entry(&e, ZG_LIST_EVENTS, event) != 0) || edit_make_room(j, &e) != 0 ||
        make_room(ready_heap(j)) != 0 ||
        (j->unique_key && take_unique(j->queue, j->unique_key, j->uuid, j->unique_ttl_ms) != 0)) {
        edit_free(&e);
        return zg_fail(err, ZG_ENOMEM, "out of memory retrying job %s", uuid);
    }
    edit_apply(j, &e);
    edit_free(&e);
    j->cas++;
    take_out(j); /* out of the expiring heap: its retention is lifted */
    j->lease = 0;
    j->prior = ZG_PRIOR_CLEAN;
    j->state = ZG_STATE_WAITING;
    put_in(j, ready_heap(j));
    index_move(j, ZG_JOBS_WAITING);
    pthread_cond_broadcast(&s->changed);
    return ZG_OK;
}

static int mem_remove(zg_store *zs, const char *uuid, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    ADVANCE(s, err);
    job *j = uuid ? zg_map_get(&s->jobs, uuid) : NULL;
    if (!j) return zg_fail(err, ZG_ENOTFOUND, "no job %s", uuid ? uuid : "(null)");
    flow_child_deleted(s, j); /* (flows: its parent does not wait for it forever) */
    forget(s, j);
    return ZG_OK;
}

static int mem_purge(zg_store *zs, const char *queue, unsigned states, const char *job_type,
                     int64_t older_than_ms, size_t max, int64_t *deleted, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    *deleted = 0;
    unsigned finished = (1u << ZG_JOBS_SUCCEEDED) | (1u << ZG_JOBS_FAILED);
    if (!states || (states & ~finished))
        return zg_fail(err, ZG_EINVAL, "purge: only succeeded and failed jobs are purged");
    ADVANCE(s, err);
    job_queue *q = queue ? find_queue(s, queue) : NULL;
    if (!q) return ZG_OK;
    char bound[24] = "";
    if (older_than_ms > 0) /* (the clock that stamped the ends: index_key) */
        snprintf(bound, sizeof bound, "%015lld", (long long)(zg_clock_wall_ms() - older_than_ms));
    size_t pos = 0;
    zg_map_slot *slot;
    while ((slot = zg_map_next(&q->types, &pos)) && (size_t)*deleted < max) {
        if (job_type && strcmp(slot->key, job_type) != 0) continue;
        type_ready *t = slot->value;
        for (int st = ZG_JOBS_SUCCEEDED; st <= ZG_JOBS_FAILED; st++) {
            if (!(states & (1u << st))) continue;
            zg_skipnode *x;
            while ((size_t)*deleted < max && (x = zg_skiplist_first(&t->index[st])) &&
                   (!bound[0] || strcmp(x->key, bound) < 0)) {
                forget(s, (job *)((char *)x - offsetof(job, index_node)));
                (*deleted)++;
            }
        }
    }
    return ZG_OK;
}

static int mem_type_counts(zg_store *zs, const char *queue, zg_type_counts **rows, size_t *n,
                           zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    *rows = NULL;
    *n = 0;
    ADVANCE(s, err);
    job_queue *q = queue ? find_queue(s, queue) : NULL;
    if (!q || !q->types.count) return ZG_OK;
    zg_type_counts *out = calloc(q->types.count, sizeof *out);
    if (!out) return zg_fail(err, ZG_ENOMEM, "out of memory counting jobs");
    size_t got = 0, pos = 0;
    zg_map_slot *slot;
    while ((slot = zg_map_next(&q->types, &pos))) {
        type_ready *t = slot->value;
        zg_type_counts *row = &out[got];
        int64_t any = 0;
        for (int st = 0; st < ZG_JOBS_NSTATES; st++)
            any += row->count[st] = (int64_t)t->index[st].len;
        if (!any) continue; /* a type claims asked for, never submitted here */
        snprintf(row->queue, sizeof row->queue, "%s", q->name);
        snprintf(row->job_type, sizeof row->job_type, "%s", slot->key);
        got++;
    }
    *rows = out;
    *n = got;
    return ZG_OK;
}

static int mem_known_queues(zg_store *zs, char ***names, size_t *n, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    *names = NULL;
    *n = 0;
    if (!s->queues.count) return ZG_OK;
    char **out = calloc(s->queues.count, sizeof *out);
    if (!out) return zg_fail(err, ZG_ENOMEM, "out of memory");
    size_t got = 0, pos = 0;
    zg_map_slot *slot;
    while ((slot = zg_map_next(&s->queues, &pos))) {
        if (!(out[got] = strdup(slot->key))) {
            for (size_t i = 0; i < got; i++)
                free(out[i]);
            free(out);
            return zg_fail(err, ZG_ENOMEM, "out of memory");
        }
        got++;
    }
    *names = out;
    *n = got;
    return ZG_OK;
}

static int mem_publish(zg_store *zs, const char *channel, const char *message, zg_error *err)
{
    (void)zs, (void)channel, (void)message, (void)err; /* no other process can listen */
    return ZG_OK;
}

static int mem_follow(zg_store *zs, const char *channel, void (*fn)(void *, const char *), void *ud,
                      atomic_int *stop, zg_error *err)
{
    (void)zs, (void)fn, (void)ud, (void)stop;
    return zg_fail(err, ZG_EINVAL, "following %s needs a Redis store", channel ? channel : "");
}

static int mem_ping(zg_store *zs, zg_error *err)
{
    (void)zs, (void)err;
    return ZG_OK;
}

static void mem_close(zg_store *zs)
{
    mem_store *s = (mem_store *)zs;
    if (!s) return;
    zg_map_free(&s->jobs, job_free);
    zg_map_free(&s->queues, queue_free);
    zg_map_free(&s->schedules, zg_schedule_free_one);
    zg_map_free(&s->shards, NULL);
    zg_heap_free(&s->running);
    zg_heap_free(&s->expiring);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- the locked entry points: each operation runs whole under the store's mutex ---- */

#define LOCKED(call)                                                                               \
    do {                                                                                           \
        mem_store *s_ = (mem_store *)zs;                                                           \
        pthread_mutex_lock(&s_->lock);                                                             \
        int rc_ = (call);                                                                          \
        pthread_mutex_unlock(&s_->lock);                                                           \
        return rc_;                                                                                \
    } while (0)

static int locked_submit(zg_store *zs, zg_new_job *jobs, size_t n, const char *writer,
                         zg_error *err)
{
    LOCKED(mem_submit(zs, jobs, n, writer, err));
}

static int locked_claim(zg_store *zs, const zg_claim_req *req, int64_t timeout_ms,
                        const char *writer, int64_t seq, zg_claim *out, zg_error *err)
{
    LOCKED(mem_claim(zs, req, timeout_ms, writer, seq, out, err));
}

static int locked_touch(zg_store *zs, const zg_lease *lease, zg_error *err)
{
    LOCKED(mem_touch(zs, lease, err));
}

static int locked_update(zg_store *zs, const zg_target *t, zg_fields f, int64_t known_cas,
                         const char *writer, int64_t seq, zg_written *out, zg_error *err)
{
    LOCKED(mem_update(zs, t, f, known_cas, writer, seq, out, err));
}

static int locked_save(zg_store *zs, const zg_target *t, zg_fields f, int64_t expected,
                       const char *writer, int64_t seq, zg_written *out, zg_error *err)
{
    LOCKED(mem_save(zs, t, f, expected, writer, seq, out, err));
}

static int locked_append(zg_store *zs, const zg_target *t, int list, const char *entry, zg_fields f,
                         const char *count_field, int64_t known_cas, const char *writer,
                         int64_t seq, zg_written *out, zg_error *err)
{
    LOCKED(mem_append(zs, t, list, entry, f, count_field, known_cas, writer, seq, out, err));
}

static int locked_settle(zg_store *zs, const zg_lease *lease, const zg_settle *st,
                         const char *writer, int64_t seq, int64_t *cas, zg_error *err)
{
    LOCKED(mem_settle(zs, lease, st, writer, seq, cas, err));
}

static int locked_settle_from_outside(zg_store *zs, const char *queue, const char *uuid,
                                      int64_t token, const zg_settle *st, const char *writer,
                                      int64_t seq, zg_error *err)
{
    LOCKED(mem_settle_from_outside(zs, queue, uuid, token, st, writer, seq, err));
}

static int locked_release_overrun(zg_store *zs, const zg_lease *lease, zg_error *err)
{
    zg_settle st = {.action = ZG_SETTLE_RELEASE, .prior = ZG_PRIOR_OVERRUN};
    LOCKED(mem_settle_from_outside(zs, lease->queue, lease->uuid, lease->token, &st, "", 0, err));
}

static int locked_load(zg_store *zs, const char *uuid, char **json, char queue[ZG_NAME_LEN],
                       zg_error *err)
{
    LOCKED(mem_load(zs, uuid, json, queue, err));
}

static int locked_kick(zg_store *zs, const char *queue, int64_t max, int64_t *count, zg_error *err)
{
    LOCKED(mem_kick(zs, queue, max, count, err));
}

static int locked_counts(zg_store *zs, const char *queue, zg_store_counts *out, zg_error *err)
{
    LOCKED(mem_counts(zs, queue, out, err));
}

static int locked_job_state(zg_store *zs, const char *uuid, zg_job_state *out, zg_error *err)
{
    LOCKED(mem_job_state(zs, uuid, out, err));
}

static int locked_buried(zg_store *zs, const char *queue, char **json, zg_error *err)
{
    LOCKED(mem_buried(zs, queue, json, err));
}

static int locked_settle_claim(zg_store *zs, const zg_lease *lease, const zg_settle *st,
                               const char *writer, int64_t seq, int64_t *cas,
                               const zg_claim_req *req, int64_t claim_seq, zg_claim *out,
                               zg_error *err)
{
    LOCKED(mem_settle_claim(zs, lease, st, writer, seq, cas, req, claim_seq, out, err));
}
static int locked_unclaim(zg_store *zs, const zg_lease *lease, zg_error *err)
{
    LOCKED(mem_unclaim(zs, lease, err));
}
static int locked_last_claims(zg_store *zs, char *const *queues, size_t nq,
                              const char *const *writers, size_t nw, zg_lease *out, int64_t *seqs,
                              zg_error *err)
{
    LOCKED(mem_last_claims(zs, queues, nq, writers, nw, out, seqs, err));
}

static int locked_close_claims(zg_store *zs, char *const *queues, size_t nq, const char *writer,
                               int64_t from_seq, int64_t to_seq, zg_lease *out, int64_t *seqs,
                               zg_error *err)
{
    LOCKED(mem_close_claims(zs, queues, nq, writer, from_seq, to_seq, out, seqs, err));
}
static int locked_list(zg_store *zs, const zg_index_req *req, zg_index_row **rows, size_t *n,
                       zg_error *err)
{
    LOCKED(mem_list(zs, req, rows, n, err));
}
static int locked_retry(zg_store *zs, const char *uuid, zg_fields f, const char *event,
                        const char *writer, int64_t seq, zg_error *err)
{
    LOCKED(mem_retry(zs, uuid, f, event, writer, seq, err));
}
static int locked_remove(zg_store *zs, const char *uuid, zg_error *err)
{
    LOCKED(mem_remove(zs, uuid, err));
}
static int locked_purge(zg_store *zs, const char *queue, unsigned states, const char *job_type,
                        int64_t older_than_ms, size_t max, int64_t *deleted, zg_error *err)
{
    LOCKED(mem_purge(zs, queue, states, job_type, older_than_ms, max, deleted, err));
}
static int locked_type_counts(zg_store *zs, const char *queue, zg_type_counts **rows, size_t *n,
                              zg_error *err)
{
    LOCKED(mem_type_counts(zs, queue, rows, n, err));
}
static int locked_known_queues(zg_store *zs, char ***names, size_t *n, zg_error *err)
{
    LOCKED(mem_known_queues(zs, names, n, err));
}
/* ---- repeatable jobs (schedules): records by "<queue>\n<id>"; the store's time is the wall
 * clock ---- */

static void schedule_key(char *out, size_t size, const char *queue, const char *id)
{
    snprintf(out, size, "%s\n%s", queue, id);
}

/* The schedule of a job made for one of its ticks, while its next tick is still the job's; else
 * NULL with schedule_stale set (another host took the tick, or the schedule is gone). */
static zg_schedule *mem_schedule_of_tick(mem_store *s, zg_new_job *nj)
{
    char key[2 * ZG_NAME_LEN + 16];
    schedule_key(key, sizeof key, nj->queue, nj->schedule_id);
    zg_schedule *sc = zg_map_get(&s->schedules, key);
    nj->schedule_stale = !sc || sc->next_ms != nj->scheduled_ms;
    return nj->schedule_stale ? NULL : sc;
}

static int mem_schedule_put(zg_store *zs, const zg_schedule *sc, int *written, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    char key[2 * ZG_NAME_LEN + 16];
    schedule_key(key, sizeof key, sc->queue, sc->id);
    zg_schedule *old = zg_map_get(&s->schedules, key);
    *written = 0;
    if (old && zg_schedule_same(old, sc)) return ZG_OK;
    zg_schedule *copy = malloc(sizeof *copy);
    if (!copy || zg_schedule_copy(copy, sc) != 0 || !make_queue(s, sc->queue) ||
        zg_map_set(&s->schedules, key, copy) != 0) {
        if (copy && copy->params) free(copy->params);
        free(copy);
        return zg_fail(err, ZG_ENOMEM, "out of memory writing schedule %s", sc->id);
    }
    if (old) {
        copy->last_ms = old->last_ms;
        zg_schedule_free_one(old);
    }
    *written = 1;
    return ZG_OK;
}

static int mem_schedule_list(zg_store *zs, const char *queue, int due_only, zg_schedule **rows,
                             size_t *n, int64_t *now_ms, int64_t *earliest_ms, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    int64_t now = zg_clock_wall_ms();
    *rows = NULL;
    *n = 0;
    *now_ms = now;
    *earliest_ms = 0;
    zg_schedule *out = calloc(s->schedules.count ? s->schedules.count : 1, sizeof *out);
    if (!out) return zg_fail(err, ZG_ENOMEM, "out of memory listing schedules");
    size_t got = 0, pos = 0;
    zg_map_slot *slot;
    while ((slot = zg_map_next(&s->schedules, &pos))) {
        const zg_schedule *sc = slot->value;
        if (strcmp(sc->queue, queue) != 0) continue;
        if (sc->next_ms > now && (!*earliest_ms || sc->next_ms < *earliest_ms))
            *earliest_ms = sc->next_ms;
        if (due_only && sc->next_ms > now) continue;
        if (zg_schedule_copy(&out[got], sc) != 0) {
            zg_schedules_free(out, got);
            return zg_fail(err, ZG_ENOMEM, "out of memory listing schedules");
        }
        got++;
    }
    *rows = out;
    *n = got;
    return ZG_OK;
}

static int mem_schedule_remove(zg_store *zs, const char *queue, const char *id, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    char key[2 * ZG_NAME_LEN + 16];
    schedule_key(key, sizeof key, queue, id);
    zg_schedule *sc = zg_map_remove(&s->schedules, key);
    if (!sc) return zg_fail(err, ZG_ENOTFOUND, "no schedule %s", id);
    zg_schedule_free_one(sc);
    return ZG_OK;
}

static int mem_schedule_advance(zg_store *zs, const char *queue, const char *id,
                                int64_t expected_ms, int64_t next_ms, zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    char key[2 * ZG_NAME_LEN + 16];
    schedule_key(key, sizeof key, queue, id);
    zg_schedule *sc = zg_map_get(&s->schedules, key);
    if (!sc || sc->next_ms != expected_ms)
        return zg_fail(err, ZG_ESTALE, "schedule %s: its tick was taken", id);
    sc->next_ms = next_ms;
    return ZG_OK;
}

static int locked_schedule_put(zg_store *zs, const zg_schedule *sc, int *written, zg_error *err)
{
    LOCKED(mem_schedule_put(zs, sc, written, err));
}
static int locked_schedule_list(zg_store *zs, const char *queue, int due_only, zg_schedule **rows,
                                size_t *n, int64_t *now_ms, int64_t *earliest_ms, zg_error *err)
{
    LOCKED(mem_schedule_list(zs, queue, due_only, rows, n, now_ms, earliest_ms, err));
}
static int locked_schedule_remove(zg_store *zs, const char *queue, const char *id, zg_error *err)
{
    LOCKED(mem_schedule_remove(zs, queue, id, err));
}
static int locked_schedule_advance(zg_store *zs, const char *queue, const char *id,
                                   int64_t expected_ms, int64_t next_ms, zg_error *err)
{
    LOCKED(mem_schedule_advance(zs, queue, id, expected_ms, next_ms, err));
}

/* sharded queues: the record only (mem:// has no placement) */
static int mem_shard_count(zg_store *zs, const char *queue, int *n, zg_error *err)
{
    (void)err;
    void *v = zg_map_get(&((mem_store *)zs)->shards, queue);
    *n = v ? *(const int *)v : 1;
    return ZG_OK;
}
static int mem_shard_record(zg_store *zs, const char *queue, int n, int replace, int *recorded,
                            zg_error *err)
{
    mem_store *s = (mem_store *)zs;
    if (n < 1 || n > ZG_SHARDS_MAX)
        return zg_fail(err, ZG_EINVAL, "a queue has 1 to %d shards", ZG_SHARDS_MAX);
    void *known = zg_map_get(&s->shards, queue);
    if (known && !replace) {
        *recorded = *(const int *)known;
        return ZG_OK;
    }
    if (zg_map_set(&s->shards, queue, zg_shard_count_ref(n)) != 0)
        return zg_fail(err, ZG_ENOMEM, "out of memory");
    *recorded = n;
    return ZG_OK;
}
static int locked_shard_count(zg_store *zs, const char *queue, int *n, zg_error *err)
{
    LOCKED(mem_shard_count(zs, queue, n, err));
}
static int locked_shard_record(zg_store *zs, const char *queue, int n, int replace, int *recorded,
                               zg_error *err)
{
    LOCKED(mem_shard_record(zs, queue, n, replace, recorded, err));
}

/* flows */
static int locked_adopt(zg_store *zs, const zg_lease *lease, const char *queue, const char *uuid,
                        const zg_child *kids, size_t n, const char *writer, int64_t seq,
                        zg_error *err)
{
    LOCKED(mem_adopt(zs, lease, queue, uuid, kids, n, writer, seq, err));
}
static int locked_children(zg_store *zs, const char *queue, const char *uuid, size_t max_bytes,
                           char **json, size_t *len, zg_error *err)
{
    LOCKED(mem_children(zs, queue, uuid, max_bytes, json, len, err));
}
static const zg_store_ops mem_ops = {
    .submit = locked_submit,
    .claim = locked_claim,
    .touch = locked_touch,
    .update = locked_update,
    .save = locked_save,
    .append = locked_append,
    .settle = locked_settle,
    .settle_claim = locked_settle_claim,
    .unclaim = locked_unclaim,
    .last_claims = locked_last_claims,
    .close_claims = locked_close_claims,
    .settle_from_outside = locked_settle_from_outside,
    .release_overrun = locked_release_overrun,
    .load = locked_load,
    .kick = locked_kick,
    .counts = locked_counts,
    .job_state = locked_job_state,
    .buried = locked_buried,
    .list = locked_list,
    .retry = locked_retry,
    .remove = locked_remove,
    .purge = locked_purge,
    .type_counts = locked_type_counts,
    .known_queues = locked_known_queues,
    .adopt = locked_adopt, /* flows */
    .children = locked_children,
    .deliver = mem_deliver,
    .publish = mem_publish,
    .follow = mem_follow,
    .ping = mem_ping,
    .close = mem_close,
    /* repeatable jobs */
    .schedule_put = locked_schedule_put,
    .schedule_list = locked_schedule_list,
    .schedule_remove = locked_schedule_remove,
    .schedule_advance = locked_schedule_advance,
    /* sharded queues */
    .shard_count = locked_shard_count,
    .shard_record = locked_shard_record,
};

zg_store *zg_store_mem_new(void)
{
    mem_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = &mem_ops;
    zg_map_init(&s->jobs);
    zg_map_init(&s->queues);
    zg_map_init(&s->schedules);
    zg_map_init(&s->shards);
    zg_heap_init(&s->running, due_less, set_index);
    zg_heap_init(&s->expiring, due_less, set_index);
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(s);
        return NULL;
    }
    int bad = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
              pthread_cond_init(&s->changed, &attr) != 0;
    pthread_condattr_destroy(&attr);
    if (bad) {
        free(s);
        return NULL;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        pthread_cond_destroy(&s->changed);
        free(s);
        return NULL;
    }
    return &s->base;
}
