/* skiplist: an ordered set of string keys, intrusive (each node lives inside the item it orders,
 * so inserting never allocates and cannot fail), with O(log n) insert, remove and search and a
 * walk in either direction (Redis's sorted sets use the same structure). The in-process store
 * keeps its index of jobs by state in these. */
#ifndef ZG_SKIPLIST_H
#define ZG_SKIPLIST_H

#include <stddef.h>
#include <stdint.h>

#define ZG_SKIPLIST_LEVELS 16 /* enough for 4^16 keys at a branching factor of 4 */

typedef struct zg_skipnode {
    const char *key; /* owned by the item; must not change while the node is in a list */
    struct zg_skipnode *prev;
    struct zg_skipnode *next[ZG_SKIPLIST_LEVELS];
    int level;
} zg_skipnode;

typedef struct zg_skiplist {
    zg_skipnode head; /* a sentinel before every key */
    zg_skipnode *tail;
    size_t len;
    int level;
    uint64_t random; /* the state of its level generator */
} zg_skiplist;

void zg_skiplist_init(zg_skiplist *l, uint64_t seed);
/* Inserts n, whose key is not in l yet. */
void zg_skiplist_insert(zg_skiplist *l, zg_skipnode *n);
/* Removes n, which is in l. */
void zg_skiplist_remove(zg_skiplist *l, zg_skipnode *n);
/* The node with the greatest key below bound (NULL: the last node), or NULL. */
zg_skipnode *zg_skiplist_last_below(const zg_skiplist *l, const char *bound);
/* The node with the smallest key, or NULL. */
zg_skipnode *zg_skiplist_first(const zg_skiplist *l);
/* The node after n (towards greater keys), or NULL. */
zg_skipnode *zg_skiplist_next(const zg_skipnode *n);
/* The node before n, or NULL. */
zg_skipnode *zg_skiplist_prev(const zg_skipnode *n);

#endif
