/* heap: binary min-heap with position tracking. */
#include "heap.h"

#include <stdlib.h>

void zg_heap_init(zg_heap *h, int (*less)(const void *, const void *),
                  void (*set_index)(void *, size_t))
{
    h->items = NULL;
    h->len = h->cap = 0;
    h->less = less;
    h->set_index = set_index;
}

void zg_heap_free(zg_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->len = h->cap = 0;
}

static void place(zg_heap *h, size_t i, void *item)
{
    h->items[i] = item;
    h->set_index(item, i);
}

static void sift_up(zg_heap *h, size_t i)
{
    void *item = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!h->less(item, h->items[parent])) break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, item);
}

static void sift_down(zg_heap *h, size_t i)
{
    void *item = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len) break;
        if (child + 1 < h->len && h->less(h->items[child + 1], h->items[child])) child++;
        if (!h->less(h->items[child], item)) break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, item);
}

int zg_heap_push(zg_heap *h, void *item)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        void **items = realloc(h->items, cap * sizeof *items);
        if (!items) return -1;
        h->items = items;
        h->cap = cap;
    }
    h->items[h->len] = item;
    sift_up(h, h->len++);
    return 0;
}

void *zg_heap_peek(const zg_heap *h)
{
    return h->len ? h->items[0] : NULL;
}

void *zg_heap_remove(zg_heap *h, size_t index)
{
    if (index >= h->len) return NULL;
    void *item = h->items[index];
    h->len--;
    if (index < h->len) {
        h->items[index] = h->items[h->len];
        if (index > 0 && h->less(h->items[index], h->items[(index - 1) / 2]))
            sift_up(h, index);
        else
            sift_down(h, index);
    }
    return item;
}
