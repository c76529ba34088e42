/* map: open addressing with linear probing (FNV-1a hash), grown at 70% load including tombstones.
 */
#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void zg_map_init(zg_map *m)
{
    memset(m, 0, sizeof *m);
}

void zg_map_free(zg_map *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        char *k = m->slots[i].key;
        if (!k || k == TOMBSTONE) continue;
        if (free_value) free_value(m->slots[i].value);
        free(k);
    }
    free(m->slots);
    zg_map_init(m);
}

static zg_map_slot *find(const zg_map *m, const char *key)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
        zg_map_slot *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->key != TOMBSTONE && strcmp(s->key, key) == 0) return s;
    }
}

void *zg_map_get(const zg_map *m, const char *key)
{
    zg_map_slot *s = find(m, key);
    return s ? s->value : NULL;
}

static int grow(zg_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    while (m->count * 10 >= cap * 5)
        cap *= 2;
    zg_map_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        zg_map_slot *s = &m->slots[i];
        if (!s->key || s->key == TOMBSTONE) continue;
        size_t j = hash(s->key) & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->count;
    return 0;
}

int zg_map_set(zg_map *m, const char *key, void *value)
{
    zg_map_slot *s = find(m, key);
    if (s) {
        s->value = value;
        return 0;
    }
    if ((m->used + 1) * 10 >= m->cap * 7 && grow(m) != 0) return -1;
    char *copy = strdup(key);
    if (!copy) return -1;
    size_t mask = m->cap - 1;
    size_t i = hash(key) & mask;
    while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (!m->slots[i].key) m->used++;
    m->slots[i].key = copy;
    m->slots[i].value = value;
    m->count++;
    return 0;
}

void *zg_map_remove(zg_map *m, const char *key)
{
    zg_map_slot *s = find(m, key);
    if (!s) return NULL;
    void *v = s->value;
    free(s->key);
    s->key = TOMBSTONE;
    s->value = NULL;
    m->count--;
    return v;
}

zg_map_slot *zg_map_next(const zg_map *m, size_t *pos)
{
    for (; *pos < m->cap; (*pos)++) {
        zg_map_slot *s = &m->slots[*pos];
        if (s->key && s->key != TOMBSTONE) {
            (*pos)++;
            return s;
        }
    }
    return NULL;
}
