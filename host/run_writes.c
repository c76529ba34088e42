/* run_writes: the writes a run had acknowledged, kept to give a store that lost them
 * (run_writes.h says when). Each write is one allocation: the record, its pointer arrays (field
 * names and values, or the children), then its text. */
#include "run_writes.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_FIELDS, KIND_APPEND, KIND_ADOPT };

struct zg_run_write {
    int64_t seq;
    int kind;
    int list;                        /* KIND_APPEND: the list */
    const char *entry, *count_field; /* KIND_APPEND */
    zg_fields fields;                /* KIND_FIELDS, KIND_APPEND */
    const zg_child *kids;            /* KIND_ADOPT */
    size_t nkids;
    size_t size; /* the allocation's */
};

void zg_run_writes_clear(zg_run_writes *w)
{
    for (size_t i = w->head; i < w->n; i++)
        free(w->at[i]);
    free(w->at);
    memset(w, 0, sizeof *w);
}

/* Copies s to *cursor and moves it past the copy; NULL stays NULL. */
static const char *copy_text(char **cursor, const char *s)
{
    if (!s) return NULL;
    size_t len = strlen(s) + 1;
    memcpy(*cursor, s, len);
    const char *copy = *cursor;
    *cursor += len;
    return copy;
}

static size_t text_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* The record and its arrays, laid out for the text that follows them (NULL: out of memory). */
static zg_run_write *new_record(size_t arrays, size_t text)
{
    _Static_assert(sizeof(zg_run_write) % alignof(zg_child) == 0, "children follow the record");
    _Static_assert(sizeof(zg_run_write) % alignof(char *) == 0, "pointers follow the record");
    size_t size = sizeof(zg_run_write) + arrays + text;
    zg_run_write *rw = malloc(size);
    if (rw) *rw = (zg_run_write){.size = size};
    return rw;
}

static zg_run_write *fields_record(int64_t seq, zg_fields f, int list, const char *entry,
                                   const char *count_field)
{
    size_t text = text_size(entry) + text_size(count_field);
    for (size_t i = 0; i < f.n; i++)
        text += text_size(f.names[i]) + text_size(f.values[i]);
    zg_run_write *rw = new_record(2 * f.n * sizeof(char *), text);
    if (!rw) return NULL;
    const char **names = (const char **)(rw + 1), **values = names + f.n;
    char *cursor = (char *)(values + f.n);
    rw->seq = seq;
    rw->kind = list >= 0 ? KIND_APPEND : KIND_FIELDS;
    rw->list = list;
    rw->entry = copy_text(&cursor, entry);
    rw->count_field = copy_text(&cursor, count_field);
    for (size_t i = 0; i < f.n; i++) {
        names[i] = copy_text(&cursor, f.names[i]);
        values[i] = copy_text(&cursor, f.values[i]);
    }
    rw->fields = (zg_fields){f.n, names, values};
    return rw;
}

static zg_run_write *adopt_record(int64_t seq, const zg_child *kids, size_t n)
{
    size_t text = 0;
    for (size_t i = 0; i < n; i++)
        text += text_size(kids[i].uuid) + text_size(kids[i].info);
    zg_run_write *rw = new_record(n * sizeof(zg_child), text);
    if (!rw) return NULL;
    zg_child *copies = (zg_child *)(rw + 1);
    char *cursor = (char *)(copies + n);
    for (size_t i = 0; i < n; i++)
        copies[i] = (zg_child){copy_text(&cursor, kids[i].uuid), copy_text(&cursor, kids[i].info),
                               kids[i].fail_parent};
    rw->seq = seq;
    rw->kind = KIND_ADOPT;
    rw->kids = copies;
    rw->nkids = n;
    return rw;
}

/* Lets the oldest kept write go. */
static void drop_oldest(zg_run_writes *w)
{
    zg_run_write *rw = w->at[w->head++];
    w->dropped_seq = rw->seq;
    w->bytes -= rw->size + sizeof rw;
    free(rw);
}

/* Keeps rw (NULL: a write that could not be copied, so none before it can be given back). */
static void keep(zg_run_writes *w, int64_t seq, zg_run_write *rw)
{
    if (seq > w->last_seq) w->last_seq = seq;
    if (w->n == w->cap && w->head > 0) { /* the dropped ones' room first */
        memmove(w->at, w->at + w->head, (w->n - w->head) * sizeof *w->at);
        w->n -= w->head;
        w->head = 0;
    }
    if (rw && w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 8;
        zg_run_write **at = realloc(w->at, cap * sizeof *at);
        if (!at) {
            free(rw);
            rw = NULL;
        } else {
            w->at = at;
            w->cap = cap;
        }
    }
    if (!rw) {
        while (w->head < w->n)
            drop_oldest(w);
        w->dropped_seq = seq;
        return;
    }
    w->at[w->n++] = rw;
    w->bytes += rw->size + sizeof rw;
    while (w->bytes > ZG_RUN_WRITES_MAX_BYTES && w->head < w->n)
        drop_oldest(w);
}

void zg_run_writes_keep(zg_run_writes *w, int64_t seq, zg_fields f, int list, const char *entry,
                        const char *count_field)
{
    keep(w, seq, fields_record(seq, f, list, entry, count_field));
}

void zg_run_writes_keep_adopt(zg_run_writes *w, int64_t seq, const zg_child *kids, size_t n)
{
    w->spawned = 1;
    keep(w, seq, adopt_record(seq, kids, n));
}

int zg_run_writes_replay(const zg_run_writes *w, zg_store *s, const zg_lease *lease,
                         const char *writer, zg_error *err)
{
    zg_lease chained = *lease;
    chained.write_chain = w->dropped_seq;
    if (w->head == w->n && w->dropped_seq > 0) /* nothing kept to send: the store is not asked */
        return zg_fail(err, ZG_ELOSTWRITES,
                       "the store lacks write %lld of the run of job %s, which the host no "
                       "longer keeps (%zu bytes at most)",
                       (long long)w->dropped_seq, lease->uuid, (size_t)ZG_RUN_WRITES_MAX_BYTES);
    zg_target t = {&chained, lease->queue, lease->uuid};
    for (size_t i = w->head; i < w->n; i++) {
        const zg_run_write *rw = w->at[i];
        zg_written out = {0};
        int rc = rw->kind == KIND_ADOPT ? s->ops->adopt(s, &chained, NULL, NULL, rw->kids,
                                                        rw->nkids, writer, rw->seq, err)
                 : rw->kind == KIND_APPEND
                     ? s->ops->append(s, &t, rw->list, rw->entry, rw->fields, rw->count_field,
                                      lease->cas, writer, rw->seq, &out, err)
                     : s->ops->update(s, &t, rw->fields, lease->cas, writer, rw->seq, &out, err);
        free(out.doc);
        if (rc == ZG_ELOSTWRITES)
            return zg_fail(err, ZG_ELOSTWRITES,
                           "the store lacks write %lld of the run of job %s, %s",
                           (long long)chained.write_chain, lease->uuid,
                           i == w->head ? "older than the writes the host keeps"
                                        : "though it was just written again");
        if (rc != ZG_OK) return rc;
        chained.write_chain = rw->seq;
    }
    return ZG_OK;
}
