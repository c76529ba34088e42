/* store_mem: the in-process document store, the embedded default.
 *
 * Documents live in a hash map keyed by store key. A document is a small array of (name, JSON)
 * fields kept in first-written order, a cas counter, and three lists of JSON entries. Expiry is
 * checked lazily on access against the monotonic clock. Nothing here is shared between stores. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "map.h"
#include "store.h"
#include "strbuf.h"

const char *const zg_store_lists[3] = {"events", "warnings", "errors"};

typedef struct field {
    char *name;
    char *value;
} field;

typedef struct entry_list {
    char **items;
    size_t len, cap;
} entry_list;

typedef struct document {
    field *fields;
    size_t nfields, cap;
    int64_t cas;
    int64_t expires_at_ms; /* 0: never */
    entry_list lists[3];
} document;

typedef struct mem_store {
    zg_store base;
    zg_map docs;
} mem_store;

static void document_free(void *p)
{
    document *d = p;
    if (!d) return;
    for (size_t i = 0; i < d->nfields; i++) {
        free(d->fields[i].name);
        free(d->fields[i].value);
    }
    free(d->fields);
    for (int l = 0; l < 3; l++) {
        for (size_t i = 0; i < d->lists[l].len; i++)
            free(d->lists[l].items[i]);
        free(d->lists[l].items);
    }
    free(d);
}

static int list_index(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(zg_store_lists[i], name) == 0) return i;
    return -1;
}

/* Returns the live document at key, dropping it first if it has expired. */
static document *lookup(mem_store *m, const char *key)
{
    document *d = zg_map_get(&m->docs, key);
    if (d && d->expires_at_ms && zg_clock_monotonic_ms() >= d->expires_at_ms) {
        document_free(zg_map_remove(&m->docs, key));
        return NULL;
    }
    return d;
}

static field *find_field(document *d, const char *name)
{
    for (size_t i = 0; i < d->nfields; i++)
        if (strcmp(d->fields[i].name, name) == 0) return &d->fields[i];
    return NULL;
}

static int set_field(document *d, const char *name, const char *value)
{
    char *copy = strdup(value);
    if (!copy) return -1;
    field *f = find_field(d, name);
    if (f) {
        free(f->value);
        f->value = copy;
        return 0;
    }
    if (d->nfields == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 32;
        field *fields = realloc(d->fields, cap * sizeof *fields);
        if (!fields) goto fail;
        d->fields = fields;
        d->cap = cap;
    }
    d->fields[d->nfields].name = strdup(name);
    if (!d->fields[d->nfields].name) goto fail;
    d->fields[d->nfields++].value = copy;
    return 0;
fail:
    free(copy);
    return -1;
}

static int mem_load(zg_store *s, const char *key, char **json, zg_error *err)
{
    document *d = lookup((mem_store *)s, key);
    if (!d) return zg_fail(err, ZG_ENOTFOUND, "no document %s", key);
    zg_strbuf b;
    zg_strbuf_init(&b);
    zg_strbuf_printf(&b, "{\"cas\":%lld", (long long)d->cas);
    for (size_t i = 0; i < d->nfields; i++)
        zg_strbuf_printf(&b, ",\"%s\":%s", d->fields[i].name, d->fields[i].value);
    for (int l = 0; l < 3; l++) {
        zg_strbuf_printf(&b, ",\"%s\":[", zg_store_lists[l]);
        for (size_t i = 0; i < d->lists[l].len; i++) {
            if (i) zg_strbuf_puts(&b, ",");
            zg_strbuf_puts(&b, d->lists[l].items[i]);
        }
        zg_strbuf_puts(&b, "]");
    }
    zg_strbuf_puts(&b, "}");
    *json = zg_strbuf_take(&b);
    return *json ? ZG_OK : zg_fail(err, ZG_ENOMEM, "out of memory loading %s", key);
}

static int mem_save(zg_store *s, const char *key, size_t n, const char *const *names,
                    const char *const *values, int64_t expected, int64_t expire_seconds,
                    int64_t *cas, zg_error *err)
{
    mem_store *m = (mem_store *)s;
    document *d = lookup(m, key);
    int64_t stored = d ? d->cas : 0;
    if (stored != expected) {
        *cas = stored;
        return zg_fail(err, ZG_ECAS, "cas mismatch on %s: stored %lld, expected %lld", key,
                       (long long)stored, (long long)expected);
    }
    int created = 0;
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d || zg_map_set(&m->docs, key, d) != 0) {
            free(d);
            return zg_fail(err, ZG_ENOMEM, "out of memory creating %s", key);
        }
        created = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (set_field(d, names[i], values[i]) != 0) {
            if (created) document_free(zg_map_remove(&m->docs, key));
            return zg_fail(err, ZG_ENOMEM, "out of memory saving %s", key);
        }
    }
    if (expire_seconds > 0) d->expires_at_ms = zg_clock_monotonic_ms() + expire_seconds * 1000;
    *cas = ++d->cas;
    return ZG_OK;
}

static int mem_save_many(zg_store *s, zg_save_req *reqs, size_t n, zg_error *err)
{
    for (size_t i = 0; i < n; i++) {
        zg_save_req *r = &reqs[i];
        zg_error one = {0};
        r->rc = mem_save(s, r->key, r->n, r->names, r->values, r->expected, 0, &r->cas, &one);
        if (r->rc != ZG_OK && r->rc != ZG_ECAS) return zg_fail(err, r->rc, "%s", one.msg);
    }
    return ZG_OK;
}

static int add_one(document *d, const char *count_field)
{
    field *f = find_field(d, count_field);
    long long v = f ? strtoll(f->value, NULL, 10) : 0;
    char text[32];
    snprintf(text, sizeof text, "%lld", v + 1);
    return set_field(d, count_field, text);
}

static int mem_append(zg_store *s, const char *key, const char *list, const char *entry,
                      const char *stamp_field, const char *stamp, const char *count_field,
                      int64_t *prev_cas, int64_t *cas, zg_error *err)
{
    document *d = lookup((mem_store *)s, key);
    if (!d) return zg_fail(err, ZG_ENOTFOUND, "no document %s", key);
    int l = list_index(list);
    if (l < 0) return zg_fail(err, ZG_EINVAL, "no list named %s", list);
    entry_list *el = &d->lists[l];
    if (el->len == el->cap) {
        size_t cap = el->cap ? el->cap * 2 : 8;
        char **items = realloc(el->items, cap * sizeof *items);
        if (!items) return zg_fail(err, ZG_ENOMEM, "out of memory appending to %s", key);
        el->items = items;
        el->cap = cap;
    }
    char *copy = strdup(entry);
    if (!copy || set_field(d, stamp_field, stamp) != 0 ||
        (count_field && add_one(d, count_field) != 0)) {
        free(copy);
        return zg_fail(err, ZG_ENOMEM, "out of memory appending to %s", key);
    }
    el->items[el->len++] = copy;
    *prev_cas = d->cas;
    *cas = ++d->cas;
    return ZG_OK;
}

static int mem_expire(zg_store *s, const char *key, int64_t seconds, zg_error *err)
{
    document *d = lookup((mem_store *)s, key);
    if (!d) return zg_fail(err, ZG_ENOTFOUND, "no document %s", key);
    d->expires_at_ms = seconds > 0 ? zg_clock_monotonic_ms() + seconds * 1000 : 0;
    return ZG_OK;
}

static int mem_publish(zg_store *s, const char *channel, const char *message, zg_error *err)
{
    (void)s, (void)channel, (void)message, (void)err; /* no other process can listen */
    return ZG_OK;
}

static int mem_follow(zg_store *s, const char *channel, void (*fn)(void *, const char *), void *ud,
                      volatile sig_atomic_t *stop, zg_error *err)
{
    (void)s, (void)fn, (void)ud, (void)stop;
    return zg_fail(err, ZG_EINVAL, "following %s needs a Redis store", channel);
}

static void mem_close(zg_store *s)
{
    mem_store *m = (mem_store *)s;
    zg_map_free(&m->docs, document_free);
    free(m);
}

static const zg_store_ops mem_ops = {mem_load,    mem_save,   mem_save_many, mem_append,
                                     mem_publish, mem_follow, mem_expire,    mem_close};

zg_store *zg_store_mem_new(void)
{
    mem_store *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->base.ops = &mem_ops;
    zg_map_init(&m->docs);
    return &m->base;
}
