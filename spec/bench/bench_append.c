/* bench_append: the cost of appending an event to a job that has 10 entries and to one that has
 * 100,000, on each backend, so `make bench` shows that an append does not grow with the list.
 * Prints one JSON line per backend: microseconds per append at both sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "clock.h"
#include "redis_conn.h"
#include "store.h"

#define ROUND 2000

static void append_n(zg_store *s, const char *key, int n)
{
    int64_t prev, cas;
    zg_error err = {0};
    for (int i = 0; i < n; i++)
        s->ops->append(s, key, "events", "{\"msg\":\"event\",\"timeStamp\":\"2026-01-01T00:00:00.000Z\"}",
                       "updatedAt", "\"2026-01-01T00:00:00.000Z\"", NULL, &prev, &cas, &err);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Microseconds per append over one round of ROUND appends. */
static double round_us(zg_store *s, const char *key)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    append_n(s, key, ROUND);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / ROUND;
}

/* A new document with `entries` events; its key is written into key. */
static void make_doc(zg_store *s, char *key, size_t size, int entries)
{
    char token[33];
    zg_redis_token(token);
    snprintf(key, size, "zerog_job_bench_%.12s", token);
    const char *names[] = {"updatedAt"}, *values[] = {"\"t\""};
    int64_t cas;
    zg_error err = {0};
    s->ops->save(s, key, 1, names, values, 0, 0, &cas, &err);
    append_n(s, key, entries);
    s->ops->expire(s, key, 60, &err);
}

/* Rounds alternate between a job with 10 entries (a fresh one each round) and one with 100,000,
 * so both sizes see the same machine noise; each figure is the median of 7 rounds. */
static void bench(const char *name, zg_store *s)
{
    char big[64], small[64];
    make_doc(s, big, sizeof big, 100000);
    double at_small[7], at_big[7];
    for (int r = 0; r < 7; r++) {
        make_doc(s, small, sizeof small, 10);
        at_small[r] = round_us(s, small);
        at_big[r] = round_us(s, big);
    }
    qsort(at_small, 7, sizeof at_small[0], cmp);
    qsort(at_big, 7, sizeof at_big[0], cmp);
    printf("{\"kind\": \"append\", \"store\": \"%s\", \"us_per_append_at_10\": %.3f, "
           "\"us_per_append_at_100000\": %.3f, \"ratio\": %.2f}\n",
           name, at_small[3], at_big[3], at_big[3] / at_small[3]);
}

int main(void)
{
    zg_store *mem = zg_store_mem_new();
    bench("mem", mem);
    mem->ops->close(mem);
    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) {
        zg_error err = {0};
        zg_store *redis = zg_store_redis_new(url, &err);
        if (!redis) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        bench("redis", redis);
        redis->ops->close(redis);
    }
    return 0;
}
