/* test_skiplist: the in-process store's ordered index (host/skiplist.c) checked against a plain
 * sorted array after every one of many random inserts and removes: order both ways, the tail,
 * the length, first, and last_below for bounds that are keys, between keys, before and after all
 * of them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "skiplist.h"

#define POOL 600 /* distinct keys an item can hold */

typedef struct item {
    zg_skipnode node;
    char key[32];
    int in;
} item;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of the items in the list, sorted: the reference. */
static size_t reference(item *items, const char **sorted)
{
    size_t n = 0;
    for (int i = 0; i < POOL; i++)
        if (items[i].in) sorted[n++] = items[i].key;
    qsort(sorted, n, sizeof *sorted, by_key);
    return n;
}

/* The greatest key of sorted[0..n) below bound (NULL bound: the last), or NULL. */
static const char *reference_below(const char **sorted, size_t n, const char *bound)
{
    if (!bound) return n ? sorted[n - 1] : NULL;
    const char *found = NULL;
    for (size_t i = 0; i < n && strcmp(sorted[i], bound) < 0; i++)
        found = sorted[i];
    return found;
}

static int matches(const zg_skiplist *l, const char **sorted, size_t n)
{
    int ok = l->len == n;
    size_t i = 0;
    for (const zg_skipnode *x = zg_skiplist_first(l); ok && x; x = zg_skiplist_next(x), i++)
        ok = i < n && strcmp(x->key, sorted[i]) == 0;
    ok = ok && i == n;
    i = n;
    for (const zg_skipnode *x = zg_skiplist_last_below(l, NULL); ok && x; x = zg_skiplist_prev(x))
        ok = i > 0 && strcmp(x->key, sorted[--i]) == 0;
    ok = ok && i == 0;
    ok = ok && (n ? l->tail && strcmp(l->tail->key, sorted[n - 1]) == 0 : !l->tail);
    return ok;
}

static void skiplist_keeps_the_order_of_a_sorted_array_through_random_inserts_and_removes(void)
{
    static item items[POOL];
    static const char *sorted[POOL];
    /* keys shaped like the index's ("<ms, 15 digits>:<uuid>"), many in the same ms */
    for (int i = 0; i < POOL; i++)
        snprintf(items[i].key, sizeof items[i].key, "%015d:%08x", (int)(next_random() % 40),
                 (unsigned)i * 2654435761u);
    zg_skiplist l;
    zg_skiplist_init(&l, 7);
    int mismatches = 0, bound_mismatches = 0;
    for (int step = 0; step < 20000; step++) {
        item *it = &items[next_random() % POOL];
        it->node.key = it->key;
        if (it->in)
            zg_skiplist_remove(&l, &it->node);
        else
            zg_skiplist_insert(&l, &it->node);
        it->in = !it->in;
        if (step % 7) continue;
        size_t n = reference(items, sorted);
        if (!matches(&l, sorted, n)) mismatches++;
        for (int b = 0; b < 4; b++) {
            char between[40];
            const char *bound = NULL;
            switch (b) {
            case 0:
                bound = items[next_random() % POOL].key;
                break; /* a key, in or out */
            case 1:
                snprintf(between, sizeof between, "%015d:", (int)(next_random() % 42));
                bound = between; /* before every key of one ms */
                break;
            case 2:
                bound = "";
                break; /* before everything */
            case 3:
                bound = "~";
                break; /* after everything */
            }
            const zg_skipnode *got = zg_skiplist_last_below(&l, bound);
            const char *want = reference_below(sorted, n, bound);
            if ((got == NULL) != (want == NULL) || (got && strcmp(got->key, want) != 0))
                bound_mismatches++;
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK_INT(bound_mismatches, 0);
    /* emptied, it is an empty list again */
    for (int i = 0; i < POOL; i++)
        if (items[i].in) zg_skiplist_remove(&l, &items[i].node), items[i].in = 0;
    CHECK_INT(l.len, 0);
    CHECK(zg_skiplist_first(&l) == NULL);
    CHECK(zg_skiplist_last_below(&l, NULL) == NULL);
    CHECK_INT(l.level, 1);
}

int main(void)
{
    RUN(skiplist_keeps_the_order_of_a_sorted_array_through_random_inserts_and_removes);
    return check_done();
}
