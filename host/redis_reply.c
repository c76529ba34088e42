/* redis_reply.c: hiredis reply objects built in one block per reply (redis_reply.h).
 *
 * A reply's first block holds its top-level redisReply, then as many of the objects below it as
 * fit (their redisReply structs, element arrays and text, one after the other); what does not
 * fit goes into further blocks chained to the first, and a large piece gets a block of its own.
 * The first block is sized from what the top-level object announces (a string's length, an
 * array's count), so a claim's document usually lives in one malloc. hiredis hands each object's
 * parent task to the functions below; the top-level task (the one without a parent) holds the
 * reply, and so its first block.
 *
 * Under AddressSanitizer every piece is a block of its own, of its exact size: packed pieces
 * would let a read past one land in the next, unseen (the SAN suite and the fuzzers rely on
 * seeing it). Written for hiredis 0.14's reply functions (Debian 12). */
#include "redis_reply.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if HIREDIS_MAJOR != 0
#error "redis_reply.c is written for hiredis 0.14's redisReplyObjectFunctions"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define EACH_ITS_OWN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EACH_ITS_OWN 1
#endif
#endif
#ifndef EACH_ITS_OWN
#define EACH_ITS_OWN 0
#endif

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
#define ELEMENT_GUESS (REPLY_SIZE + 32)
#define GUESS_MAX     ((size_t)64 * 1024) /* the guessed part of a first block is no larger */
#define MORE_MIN      ((size_t)1024)
#define MORE_MAX      ((size_t)1024 * 1024)
#define OWN_BLOCK     ((size_t)256 * 1024) /* a piece this large gets a block of its own */

static reply_block *block_of(const redisReply *top)
{
    return (reply_block *)(void *)((unsigned char *)top - offsetof(reply_block, space));
}

/* A block of cap bytes linked into the chain of first; NULL when out of memory. */
static reply_block *new_block(reply_block *first, size_t cap)
{
    if (cap > SIZE_MAX - sizeof(reply_block)) return NULL;
    reply_block *b = malloc(sizeof(reply_block) + cap);
    if (!b) return NULL;
    b->next = first->next;
    b->fill = NULL;
    b->used = 0;
    b->cap = cap;
    first->next = b;
    return b;
}

/* n bytes (aligned) in the blocks of the reply whose first block is first, or NULL: in the block
 * being filled when they fit, else in a block of their own when large, else in a new block to
 * fill (the one before is left with its tail unused). */
static void *take(reply_block *first, size_t n)
{
    if (n > SIZE_MAX - ALIGN_TO) return NULL;
    reply_block *b = first->fill;
    if (!EACH_ITS_OWN && b->cap - b->used >= ROUNDED(n)) {
        void *at = b->space + b->used;
        b->used += ROUNDED(n);
        return at;
    }
    if (EACH_ITS_OWN || n >= OWN_BLOCK) { /* (the block being filled goes on being filled) */
        reply_block *own = new_block(first, n);
        if (own) own->used = n;
        return own ? own->space : NULL;
    }
    size_t cap = b->cap < MORE_MAX / 2 ? b->cap * 2 : MORE_MAX;
    if (cap < MORE_MIN) cap = MORE_MIN;
    if (cap < ROUNDED(n)) cap = ROUNDED(n);
    if (!(b = new_block(first, cap))) return NULL;
    first->fill = b;
    b->used = ROUNDED(n);
    return b->space;
}

/* The first block of the reply task belongs to: its top-level task's object. */
static reply_block *first_of(const redisReadTask *task)
{
    while (task->parent)
        task = task->parent;
    return block_of(task->obj);
}

/* A new redisReply of the given type for task, linked into its parent's element array. A
 * top-level one starts its reply's first block, with room for `extra` more bytes (already
 * checked not to overflow). NULL when out of memory. */
static redisReply *new_object(const redisReadTask *task, int type, size_t extra)
{
    redisReply *r;
    if (!task->parent) {
        size_t cap = EACH_ITS_OWN ? sizeof(redisReply) : REPLY_SIZE + ROUNDED(extra);
        reply_block *first = malloc(sizeof(reply_block) + cap);
        if (!first) return NULL;
        first->next = NULL;
        first->fill = first;
        first->used = EACH_ITS_OWN ? cap : REPLY_SIZE;
        first->cap = cap;
        r = (redisReply *)(void *)first->space;
    } else {
        r = take(first_of(task), sizeof(redisReply));
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

/* Space for n bytes of object r of task; a top-level r that cannot have it is freed. */
static void *space_for(const redisReadTask *task, redisReply *r, size_t n)
{
    void *at = take(task->parent ? first_of(task) : block_of(r), n);
    if (!at && !task->parent) zg_redis_reply_free(r);
    return at;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    if (len > SIZE_MAX / 2) return NULL;
    redisReply *r = new_object(task, task->type, len + 1);
    if (!r) return NULL;
    char *text = space_for(task, r, len + 1);
    if (!text) return NULL;
    memcpy(text, str, len);
    text[len] = '\0';
    r->str = text;
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
    size_t n = elements > 0 ? (size_t)elements : 0;
    if (n > SIZE_MAX / 4 / sizeof(redisReply *)) return NULL;
    size_t pointers = n * sizeof(redisReply *);
    /* a first block holds the element array whole, and the elements as far as guessed */
    size_t guess = n > GUESS_MAX / ELEMENT_GUESS ? GUESS_MAX : n * ELEMENT_GUESS;
    redisReply *r = new_object(task, REDIS_REPLY_ARRAY, pointers + guess);
    if (!r) return NULL;
    if (n > 0) {
        /* (not zeroed: hiredis sets every element before the reply is handed out, and on an
         * error the reply is freed by its blocks, its elements never read) */
        redisReply **element = space_for(task, r, pointers);
        if (!element) return NULL; /* (r, when top-level, is gone with its block) */
        r->element = element;
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

static const redisReplyObjectFunctions in_blocks_fns = {.createString = create_string,
                                                        .createArray = create_array,
                                                        .createInteger = create_integer,
                                                        .createNil = create_nil,
                                                        .freeObject = zg_redis_reply_free};

void zg_redis_reply_blocks(redisReader *reader)
{
    reader->fn = (redisReplyObjectFunctions *)&in_blocks_fns; /* (hiredis only reads it) */
}
