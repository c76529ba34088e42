/* heap: a binary min-heap of pointers that records each item's position, so any item can be
 * removed in O(log n) (beanstalkd's ready and delay queues work the same way). */
#ifndef ZG_HEAP_H
#define ZG_HEAP_H

#include <stddef.h>

typedef struct zg_heap {
    void **items;
    size_t len, cap;
    int (*less)(const void *a, const void *b);
    void (*set_index)(void *item, size_t index); /* told each item's new position */
} zg_heap;

void zg_heap_init(zg_heap *h, int (*less)(const void *, const void *),
                  void (*set_index)(void *, size_t));
void zg_heap_free(zg_heap *h);
int zg_heap_push(zg_heap *h, void *item); /* 0, or -1 when out of memory */
void *zg_heap_peek(const zg_heap *h);
void *zg_heap_remove(zg_heap *h, size_t index);

#endif
