/* bench_append: the cost of appending an event to a job that has 10 entries and to one that has
 * 100,000, on each backend, so `make bench` shows that an append does not grow with the list.
 * Prints one JSON line per backend: microseconds per append at both sizes (median of 5 rounds). */
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

/* Median microseconds per append over 5 rounds of ROUND appends, starting at `size` entries. */
static double measure(zg_store *s, const char *key)
{
    double us[5];
    for (int r = 0; r < 5; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        append_n(s, key, ROUND);
        clock_gettime(CLOCK_MONOTONIC, &b);
        us[r] = ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / ROUND;
    }
    qsort(us, 5, sizeof us[0], cmp);
    return us[2];
}

static void bench(const char *name, zg_store *s)
{
    char key[64], token[33];
    zg_redis_token(token);
    snprintf(key, sizeof key, "zerog_job_bench_%.8s", token);
    const char *names[] = {"updatedAt"}, *values[] = {"\"t\""};
    int64_t cas;
    zg_error err = {0};
    s->ops->save(s, key, 1, names, values, 0, 0, &cas, &err);
    append_n(s, key, 10);
    double small = measure(s, key);
    append_n(s, key, 100000 - 10 - 5 * ROUND);
    double large = measure(s, key);
    printf("{\"bench\": \"append\", \"store\": \"%s\", \"us_per_append_at_10\": %.3f, "
           "\"us_per_append_at_100000\": %.3f, \"ratio\": %.2f}\n",
           name, small, large, large / small);
    s->ops->expire(s, key, 1, &err);
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
