/* map: an open-addressing hash table from C strings to pointers (keys are copied, values are not).
 */
#ifndef ZG_MAP_H
#define ZG_MAP_H

#include <stddef.h>

typedef struct zg_map_slot {
    char *key; /* NULL = empty; ZG_MAP_TOMBSTONE = deleted */
    void *value;
} zg_map_slot;

typedef struct zg_map {
    zg_map_slot *slots;
    size_t cap;   /* power of two */
    size_t used;  /* live + tombstones */
    size_t count; /* live */
} zg_map;

void zg_map_init(zg_map *m);
/* Frees the table and its key copies; free_value (may be NULL) is called on each value. */
void zg_map_free(zg_map *m, void (*free_value)(void *));
void *zg_map_get(const zg_map *m, const char *key);
/* Inserts or replaces; returns 0 on success, -1 when out of memory. */
int zg_map_set(zg_map *m, const char *key, void *value);
/* Removes the key and returns its value (NULL if absent). */
void *zg_map_remove(zg_map *m, const char *key);
/* Iteration: start with *pos = 0; returns the next live slot or NULL at the end. */
zg_map_slot *zg_map_next(const zg_map *m, size_t *pos);

#endif
