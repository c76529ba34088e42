/* skiplist: see skiplist.h. */
#include "skiplist.h"

#include <string.h>

void zg_skiplist_init(zg_skiplist *l, uint64_t seed)
{
    memset(l, 0, sizeof *l);
    l->level = 1;
    l->random = seed ? seed : 0x9e3779b97f4a7c15ull;
}

/* A level from 1 to ZG_SKIPLIST_LEVELS, each one a quarter as likely as the one below. */
static int random_level(zg_skiplist *l)
{
    l->random ^= l->random << 13; /* xorshift64 */
    l->random ^= l->random >> 7;
    l->random ^= l->random << 17;
    uint64_t bits = l->random;
    int level = 1;
    while (level < ZG_SKIPLIST_LEVELS && (bits & 3) == 0) {
        level++;
        bits >>= 2;
    }
    return level;
}

/* For each level, the last node whose key is below key, into before[]. */
static void find_before(const zg_skiplist *l, const char *key, zg_skipnode **before)
{
    zg_skipnode *x = (zg_skipnode *)&l->head;
    for (int i = l->level - 1; i >= 0; i--) {
        while (x->next[i] && strcmp(x->next[i]->key, key) < 0)
            x = x->next[i];
        before[i] = x;
    }
}

void zg_skiplist_insert(zg_skiplist *l, zg_skipnode *n)
{
    zg_skipnode *before[ZG_SKIPLIST_LEVELS] = {0};
    find_before(l, n->key, before);
    int level = random_level(l);
    for (int i = l->level; i < level; i++)
        before[i] = &l->head;
    if (level > l->level) l->level = level;
    n->level = level;
    for (int i = 0; i < ZG_SKIPLIST_LEVELS; i++)
        n->next[i] = NULL;
    for (int i = 0; i < level; i++) {
        n->next[i] = before[i]->next[i];
        before[i]->next[i] = n;
    }
    n->prev = before[0] == &l->head ? NULL : before[0];
    if (n->next[0])
        n->next[0]->prev = n;
    else
        l->tail = n;
    l->len++;
}

void zg_skiplist_remove(zg_skiplist *l, zg_skipnode *n)
{
    zg_skipnode *before[ZG_SKIPLIST_LEVELS] = {0};
    find_before(l, n->key, before);
    for (int i = 0; i < l->level; i++)
        if (before[i]->next[i] == n) before[i]->next[i] = n->next[i];
    if (n->next[0])
        n->next[0]->prev = n->prev;
    else
        l->tail = n->prev;
    while (l->level > 1 && !l->head.next[l->level - 1])
        l->level--;
    l->len--;
    n->prev = NULL;
    n->level = 0;
}

zg_skipnode *zg_skiplist_last_below(const zg_skiplist *l, const char *bound)
{
    if (!bound) return l->tail;
    zg_skipnode *before[ZG_SKIPLIST_LEVELS] = {0};
    find_before(l, bound, before);
    return before[0] == &l->head ? NULL : before[0];
}

zg_skipnode *zg_skiplist_first(const zg_skiplist *l)
{
    return l->head.next[0];
}

zg_skipnode *zg_skiplist_next(const zg_skipnode *n)
{
    return n->next[0];
}

zg_skipnode *zg_skiplist_prev(const zg_skipnode *n)
{
    return n->prev;
}
