/* test_redis_reply: replies built in blocks (host/redis_reply.c) are the same replies hiredis's own
 * reader builds, whatever their shape and however the bytes arrive (whole, or in small pieces), take
 * no more memory than hiredis's objects, and a reply cut off by a protocol error or by any one of
 * its allocations failing is freed whole (the SAN run and valgrind see any leak or stray write).
 * The allocator is compiled in here, its malloc made to fail on demand. */
#include <hiredis/hiredis.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static long fail_at = -1; /* the allocator's malloc number fail_at fails (counted from 0) */
static long mallocs;      /* its mallocs since the count was reset */
static void *failing_malloc(size_t n)
{
    if (mallocs++ == fail_at) return NULL;
    return malloc(n);
}
#define malloc failing_malloc
#include "redis_reply.c"
#undef malloc

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

static int reader_error; /* the reader's err after a read_all that failed */

/* The replies of resp read by a reader (in blocks or not), fed step bytes at a time (0: whole);
 * how many were read (at most max), or -1 on a reader error (reader_error). */
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
                reader_error = r->err;
                redisReaderFree(r);
                for (int i = 0; i < n; i++)
                    in_blocks ? zg_redis_reply_free(out[i]) : freeReplyObject(out[i]);
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
    /* whole, then a byte at a time (a large reply: 4,093 bytes at a time, every object still
     * cut somewhere at some point; a byte at a time it took valgrind seconds per megabyte) */
    size_t piece = len < 65536 ? 1 : 4093;
    for (size_t step = 0; step <= piece; step += piece) {
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
    if (!big) return;
    int head = snprintf(big, 32, "$%zu\r\n", size);
    if (head < 0 || head >= 32) return;
    memset(big + head, 'x', size);
    memcpy(big + head + size, "\r\n", 2);
    check_same(big, (size_t)head + size + 2, 1);
    free(big);
}

#if !defined(__SANITIZE_ADDRESS__)
/* The heap in use, in bytes (mmap'd chunks included). */
static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

/* What holding the one reply of resp costs the heap, read in blocks or not. */
static size_t held_by(const char *resp, size_t len, int in_blocks)
{
    redisReply *out[1] = {0};
    size_t before = heap_in_use();
    if (read_all(resp, len, 0, in_blocks, out, 1) != 1) return SIZE_MAX;
    size_t held = heap_in_use() - before;
    in_blocks ? zg_redis_reply_free(out[0]) : freeReplyObject(out[0]);
    return held;
}
#endif

/* A reply in blocks takes no more memory than hiredis's own objects would (within 5% and 64 KiB):
 * large strings get blocks of their own size, not a doubled block each, and a long array's
 * first block is not left unused. (Not under ASan: there every piece is its own allocation.) */
static void test_blocks_take_no_more_memory_than_objects(void)
{
#if defined(__SANITIZE_ADDRESS__)
    printf("# skipped under AddressSanitizer\n");
#else
    size_t shapes[][2] = {{20, 1024 * 1024}, {20, 600 * 1024}, {20000, 10}, {80, 20}, {3, 5000}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        size_t len;
        char *resp = array_of(shapes[i][0], shapes[i][1], &len);
        size_t plain = held_by(resp, len, 0), blocks = held_by(resp, len, 1);
        if (!(blocks <= plain + plain / 20 + 65536))
            printf("# %zu x %zu bytes: %zu in blocks, %zu as objects\n", shapes[i][0], shapes[i][1],
                   blocks, plain);
        CHECK(blocks <= plain + plain / 20 + 65536);
        free(resp);
    }
#endif
}

/* Each allocation of a reply failing in turn, at every level (a top-level object, a nested
 * array's elements, a text in a block of its own): the read fails as out of memory, and what
 * was built is freed whole. (It caught a top-level array whose element array could not be had
 * written into after its block was freed.) */
static void test_every_allocation_failing_in_turn(void)
{
    const char *cases[] = {"+OK\r\n",
                           "$5\r\nhello\r\n",
                           ":3\r\n",
                           "*0\r\n",
                           "*3\r\n$3\r\nfoo\r\n:7\r\n$-1\r\n",
                           "*2\r\n*2\r\n:1\r\n*1\r\n+deep\r\n*0\r\n"};
    size_t n = sizeof cases / sizeof *cases, big_len;
    /* and a large one: 3,000 elements nested, a 512 KiB string (a block of its own), more blocks */
    char *nested = array_of(3000, 20, &big_len), *big = malloc(big_len + (1 << 19) + 64);
    int head = sprintf(big, "*3\r\n");
    memcpy(big + head, nested, big_len);
    size_t at = (size_t)head + big_len;
    at += (size_t)sprintf(big + at, "$%d\r\n", 1 << 19);
    memset(big + at, 'z', 1 << 19);
    at += 1 << 19;
    at += (size_t)sprintf(big + at, "\r\n*1\r\n$5\r\nhello\r\n");
    free(nested);
    for (size_t c = 0; c <= n; c++) {
        const char *resp = c < n ? cases[c] : big;
        size_t len = c < n ? strlen(resp) : at;
        redisReply *one[1] = {0};
        fail_at = -1, mallocs = 0;
        CHECK_INT(read_all(resp, len, 0, 1, one, 1), 1);
        zg_redis_reply_free(one[0]);
        long total = mallocs;
        CHECK(total >= 1);
        /* every allocation of the small replies, fed whole and 7 bytes at a time; of the large
         * one (about 6,000 allocations under ASan, where each piece is one), the first and
         * last 64 and 64 between, fed whole */
        for (long k = 0; k < total; k++) {
            if (c == n && k >= 64 && k < total - 64 && k % (total / 64 + 1) != 0) continue;
            for (size_t step = 0; step <= (c < n ? 7 : 0); step += 7) {
                fail_at = k, mallocs = 0, reader_error = 0;
                CHECK_INT(read_all(resp, len, step, 1, one, 1), -1);
                CHECK_INT(reader_error, REDIS_ERR_OOM);
            }
        }
    }
    fail_at = -1;
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
    RUN(test_blocks_take_no_more_memory_than_objects);
    RUN(test_every_allocation_failing_in_turn);
    RUN(test_a_broken_reply_is_freed_whole);
    return check_done();
}
