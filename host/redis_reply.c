/* redis_reply.c: hiredis reply objects built in one block per reply (redis_reply.h).
 *
 * A reply's first block holds its top-level redisReply, then as many of the objects below it as
 * fit (their redisReply structs, element arrays and text, one after the other); what does not
 * fit goes into further blocks chained to the first. The first block is sized from what the
 * top-level object announces (a string's length, an array's count), so a claim's document
 * usually lives in one malloc. hiredis hands each object's parent task to the functions below;
 * the top-level task (the one without a parent) holds the reply, and so its first block. */
#include "redis_reply.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct reply_block {
    struct reply_block *next; /* the first block: the further blocks, newest first */
    struct reply_block *fill; /* the first block: the block being filled */
    size_t used, cap;         /* bytes of space[] taken, and its size */
    _Alignas(max_align_t) unsigned char space[];
} reply_block;

#define ALIGN_TO   ((size_t) _Alignof(max_align_t))
#define ROUNDED(n) (((n) + ALIGN_TO - 1) & ~(ALIGN_TO - 1))
#define REPLY_SIZE ROUNDED(sizeof(redisReply))
/* What an array's element is guessed to take in its first block: its struct and a short text */
#define ELEMENT_GUESS (sizeof(redisReply *) + REPLY_SIZE + 32)
#define FIRST_MAX     ((size_t)64 * 1024) /* a first block sized from a guess is no larger */
#define MORE_MIN      ((size_t)1024)
#define MORE_MAX      ((size_t)1024 * 1024)

static reply_block *block_of(const redisReply *top)
{
    return (reply_block *)(void *)((unsigned char *)top - offsetof(reply_block, space));
}

/* n bytes (aligned) in the blocks of the reply whose first block is first, or NULL. */
static void *take(reply_block *first, size_t n)
{
    if (n > SIZE_MAX - ALIGN_TO) return NULL;
    n = ROUNDED(n);
    reply_block *b = first->fill;
    if (b->cap - b->used < n) {
        size_t cap = b->cap < MORE_MAX / 2 ? b->cap * 2 : MORE_MAX;
        if (cap < MORE_MIN) cap = MORE_MIN;
        if (cap < n) cap = n;
        if (cap > SIZE_MAX - sizeof(reply_block)) return NULL;
        reply_block *more = malloc(sizeof(reply_block) + cap);
        if (!more) return NULL;
        more->next = first->next;
        more->fill = NULL;
        more->used = 0;
        more->cap = cap;
        first->next = more;
        first->fill = b = more;
    }
    void *at = b->space + b->used;
    b->used += n;
    return at;
}

/* A new redisReply of the given type for task, with room for `extra` more bytes when it is the
 * top-level one; linked into its parent's element array otherwise. NULL when out of memory. */
static redisReply *new_object(const redisReadTask *task, int type, size_t extra)
{
    redisReply *r;
    if (!task->parent) {
        if (extra > FIRST_MAX && type == REDIS_REPLY_ARRAY) extra = FIRST_MAX;
        if (extra > SIZE_MAX - sizeof(reply_block) - REPLY_SIZE - ALIGN_TO) return NULL;
        size_t cap = REPLY_SIZE + ROUNDED(extra);
        reply_block *first = malloc(sizeof(reply_block) + cap);
        if (!first) return NULL;
        first->next = NULL;
        first->fill = first;
        first->used = REPLY_SIZE;
        first->cap = cap;
        r = (redisReply *)(void *)first->space;
    } else {
        const redisReadTask *top = task->parent;
        while (top->parent)
            top = top->parent;
        r = take(block_of(top->obj), sizeof(redisReply));
        if (!r) return NULL;
    }
    memset(r, 0, sizeof *r);
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}

/* Space for n bytes for the object r of task (its first block when it is the top-level one). */
static void *space_for(const redisReadTask *task, redisReply *r, size_t n)
{
    const redisReadTask *top = task;
    while (top->parent)
        top = top->parent;
    return take(block_of(task->parent ? top->obj : r), n);
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    if (len == SIZE_MAX) return NULL;
    redisReply *r = new_object(task, task->type, len + 1);
    if (!r) return NULL;
    char *text = space_for(task, r, len + 1);
    if (!text) {
        if (!task->parent) zg_redis_reply_free(r);
        return NULL;
    }
    memcpy(text, str, len);
    text[len] = '\0';
    r->str = text;
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = new_object(task, REDIS_REPLY_ARRAY,
                               n > FIRST_MAX / ELEMENT_GUESS ? FIRST_MAX : n * ELEMENT_GUESS);
    if (!r) return NULL;
    if (n > 0) {
        if (n > SIZE_MAX / sizeof(redisReply *)) return NULL;
        r->element = space_for(task, r, n * sizeof(redisReply *));
        if (!r->element) {
            if (!task->parent) zg_redis_reply_free(r);
            return NULL;
        }
        memset(r->element, 0, n * sizeof(redisReply *));
    }
    r->elements = n;
    return r;
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *r = new_object(task, REDIS_REPLY_INTEGER, 0);
    if (r) r->integer = value;
    return r;
}

static void *create_nil(const redisReadTask *task)
{
    return new_object(task, REDIS_REPLY_NIL, 0);
}

void zg_redis_reply_free(void *reply)
{
    if (!reply) return;
    reply_block *first = block_of(reply);
    for (reply_block *b = first->next, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(first);
}

static const redisReplyObjectFunctions blocks = {create_string, create_array, create_integer,
                                                 create_nil, zg_redis_reply_free};

void zg_redis_reply_blocks(redisReader *reader)
{
    reader->fn = (redisReplyObjectFunctions *)&blocks; /* (hiredis only reads it) */
}
