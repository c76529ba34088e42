/* test_redis_reply: replies built in blocks (host/redis_reply.c) are the same replies hiredis's own
 * reader builds, whatever their shape and however the bytes arrive (whole, or one at a time), and
 * a reply cut off by a protocol error is freed whole (the SAN run and valgrind see any leak). */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "redis_reply.h"

/* Whether two replies are equal, nested arrays included. */
static int same(const redisReply *a, const redisReply *b)
{
    if (!a || !b) return a == b;
    if (a->type != b->type || a->integer != b->integer || a->len != b->len ||
        a->elements != b->elements)
        return 0;
    if ((a->str == NULL) != (b->str == NULL)) return 0;
    if (a->str && memcmp(a->str, b->str, a->len + 1) != 0) return 0; /* (the NUL too) */
    for (size_t i = 0; i < a->elements; i++)
        if (!same(a->element[i], b->element[i])) return 0;
    return 1;
}

/* The replies of resp read by a reader (in blocks or not), fed step bytes at a time (0: whole);
 * how many were read (at most max), or -1 on a reader error. */
static int read_all(const char *resp, size_t len, size_t step, int in_blocks, redisReply **out,
                    int max)
{
    redisReader *r = redisReaderCreate();
    if (in_blocks) zg_redis_reply_blocks(r);
    int n = 0;
    for (size_t at = 0; at < len;) {
        size_t piece = step && len - at > step ? step : len - at;
        if (redisReaderFeed(r, resp + at, piece) != REDIS_OK) break;
        at += piece;
        for (;;) {
            void *reply = NULL;
            if (redisReaderGetReply(r, &reply) != REDIS_OK) {
                redisReaderFree(r);
                return -1;
            }
            if (!reply) break;
            if (n < max)
                out[n++] = reply;
            else if (in_blocks)
                zg_redis_reply_free(reply);
            else
                freeReplyObject(reply);
        }
    }
    redisReaderFree(r);
    return n;
}

/* resp read in blocks, whole and a byte at a time, gives what hiredis's reader gives. */
static void check_same(const char *resp, size_t len, int want)
{
    redisReply *plain[8] = {0}, *blocks[8] = {0};
    int n = read_all(resp, len, 0, 0, plain, 8);
    CHECK_INT(n, want);
    for (size_t step = 0; step <= 1; step++) {
        int m = read_all(resp, len, step, 1, blocks, 8);
        CHECK_INT(m, n);
        for (int i = 0; i < m && i < n; i++) {
            CHECK(same(plain[i], blocks[i]));
            zg_redis_reply_free(blocks[i]);
        }
    }
    for (int i = 0; i < n; i++)
        freeReplyObject(plain[i]);
}

static void test_replies_of_every_kind_read_the_same(void)
{
    const char *cases[] = {
        "+OK\r\n",
        "-ERR no such thing\r\n",
        ":-42\r\n",
        "$0\r\n\r\n",
        "$-1\r\n",
        "*-1\r\n",
        "*0\r\n",
        "$5\r\nhe\0lo\r\n",
        "*3\r\n$3\r\nfoo\r\n:7\r\n$-1\r\n",
        "*2\r\n*2\r\n:1\r\n*1\r\n+deep\r\n*0\r\n",
        "*4\r\n:1\r\n$36\r\n09e22dbc-2696-42ee-b03b-1d6d05022819\r\n:0\r\n*4\r\n*0\r\n*1\r\n$"
        "2\r\n{}\r\n*0\r\n*0\r\n",
    };
    size_t lens[] = {0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0}; /* 0: strlen (11: a NUL inside) */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_same(cases[i], lens[i] ? lens[i] : strlen(cases[i]), 1);
    /* several replies back to back (a pipeline's) */
    const char *three = "+OK\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n:3\r\n";
    check_same(three, strlen(three), 3);
}

/* RESP of an array of n strings of size bytes each (the caller frees it), its length in *len */
static char *array_of(size_t n, size_t size, size_t *len)
{
    size_t cap = 32 + n * (size + 32);
    char *out = malloc(cap), *w = out;
    w += sprintf(w, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++) {
        w += sprintf(w, "$%zu\r\n", size);
        for (size_t k = 0; k < size; k++)
            *w++ = (char)('a' + (i + k) % 26);
        w += sprintf(w, "\r\n");
    }
    *len = (size_t)(w - out);
    return out;
}

/* More than a first block holds: further blocks are chained, and the reply reads the same. */
static void test_large_replies_take_further_blocks(void)
{
    size_t shapes[][2] = {{80, 20}, {5000, 10}, {3, 200000}, {2000, 3000}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        size_t len;
        char *resp = array_of(shapes[i][0], shapes[i][1], &len);
        check_same(resp, len, 1);
        free(resp);
    }
    /* one string larger than any block */
    size_t size = 3 * 1024 * 1024;
    char *big = malloc(size + 32);
    int head = sprintf(big, "$%zu\r\n", size);
    memset(big + head, 'x', size);
    memcpy(big + head + size, "\r\n", 2);
    check_same(big, (size_t)head + size + 2, 1);
    free(big);
}

/* A protocol error in the middle of an array: the reader frees what it built (no leak). */
static void test_a_broken_reply_is_freed_whole(void)
{
    const char *broken = "*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n?oops\r\n";
    redisReply *out[2] = {0};
    CHECK_INT(read_all(broken, strlen(broken), 0, 1, out, 2), -1);
    CHECK_INT(read_all(broken, strlen(broken), 1, 1, out, 2), -1);
    /* and a reader freed with half a reply in it */
    redisReader *r = redisReaderCreate();
    zg_redis_reply_blocks(r);
    const char *half = "*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n";
    void *reply = NULL;
    CHECK_INT(redisReaderFeed(r, half, strlen(half)), REDIS_OK);
    CHECK_INT(redisReaderGetReply(r, &reply), REDIS_OK);
    CHECK(reply == NULL);
    redisReaderFree(r);
    zg_redis_reply_free(NULL); /* (ignored) */
}

int main(void)
{
    RUN(test_replies_of_every_kind_read_the_same);
    RUN(test_large_replies_take_further_blocks);
    RUN(test_a_broken_reply_is_freed_whole);
    return check_done();
}
