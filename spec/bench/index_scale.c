/* index_scale: what finding jobs costs as the store grows (issue 11's scale figures), through the
 * public API, on the Redis of ZEROG_STORE:
 *   - a page of 50 (zg_list: the newest, and one from a cursor deep in the set) among SMALL and
 *     among BIG stored jobs of one queue: the median and p99 of PAGES calls each;
 *   - the Redis memory a stored waiting job takes, and the index's share of it (MEMORY USAGE of
 *     the index's set per entry);
 *   - zg_purge of PURGE finished jobs: how long Redis spent in each of its steps (p50, p99) and
 *     in the longest command while it ran (Redis's SLOWLOG, threshold 0, read after: wall time
 *     of the server's thread, so a loaded machine that preempts redis-server shows here), and
 *     the purge's jobs per second.
 * Jobs are submitted with zg_submit_batch (the bench type "indexed", a script written to a
 * folder of our own) and finished by running them on a host until idle. Prints one JSON line
 * {"kind": "index", ...}. Environment: ZEROG_STORE, SMALL (1000), BIG (1000000), PURGE (100000),
 * PAGES (50). */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "zerog.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : dflt;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(zg_host *h, const char *what)
{
    fprintf(stderr, "index_scale: %s: %s\n", what, h ? zg_errstr(h) : "");
    exit(1);
}

/* Submits n jobs of type in batches of 1,000 (their params empty). */
static void fill(zg_host *h, const char *type, long n)
{
    enum { BATCH = 1000 };
    static const char *params[BATCH];
    static char uuids[BATCH][ZG_UUID_LEN];
    for (int i = 0; i < BATCH; i++)
        params[i] = "{}";
    for (long done = 0; done < n;) {
        size_t k = (size_t)(n - done < BATCH ? n - done : BATCH);
        if (zg_submit_batch(h, type, params, k, NULL, uuids) != ZG_OK) die(h, "submit");
        done += (long)k;
    }
}

/* Median and p99 (ms) of `pages` listings of 50 of the queue: the first page, then one from a
 * cursor found `deep` pages down. */
static void time_pages(zg_host *h, const char *queue, long pages, double out[4])
{
    double *first = calloc((size_t)pages, sizeof *first), *deep = calloc((size_t)pages, sizeof *deep);
    char cursor[128] = "";
    zg_list_filter f = {.queue = queue, .limit = 50};
    zg_job_page page;
    for (int i = 0; i < 10; i++) { /* a cursor 10 pages down */
        f.cursor = cursor[0] ? cursor : NULL;
        if (zg_list(h, &f, &page) != ZG_OK) die(h, "list");
        if (page.next) snprintf(cursor, sizeof cursor, "%s", page.next);
        zg_job_page_free(&page);
    }
    for (long i = 0; i < pages; i++) {
        f.cursor = NULL;
        double t = now_ms();
        if (zg_list(h, &f, &page) != ZG_OK) die(h, "list");
        first[i] = now_ms() - t;
        zg_job_page_free(&page);
        f.cursor = cursor;
        t = now_ms();
        if (zg_list(h, &f, &page) != ZG_OK) die(h, "list");
        deep[i] = now_ms() - t;
        zg_job_page_free(&page);
    }
    qsort(first, (size_t)pages, sizeof *first, by_value);
    qsort(deep, (size_t)pages, sizeof *deep, by_value);
    out[0] = first[pages / 2], out[1] = first[pages * 99 / 100];
    out[2] = deep[pages / 2], out[3] = deep[pages * 99 / 100];
    free(first);
    free(deep);
}

static redisContext *redis_of(const char *url)
{
    redisContext *r = strncmp(url, "unix://", 7) == 0 ? redisConnectUnix(url + 7)
                                                       : redisConnect("127.0.0.1", 6379);
    if (!r || r->err) {
        fprintf(stderr, "index_scale: cannot reach %s\n", url);
        exit(1);
    }
    return r;
}

static long long info_number(redisContext *r, const char *section, const char *field)
{
    redisReply *reply = redisCommand(r, "INFO %s", section);
    long long v = -1;
    const char *at = reply && reply->str ? strstr(reply->str, field) : NULL;
    if (at) v = atoll(at + strlen(field) + 1);
    freeReplyObject(reply);
    return v;
}

static long long reply_int(redisContext *r, const char *fmt, const char *arg)
{
    redisReply *reply = redisCommand(r, fmt, arg);
    long long v = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    freeReplyObject(reply);
    return v;
}

int main(void)
{
    const char *url = getenv("ZEROG_STORE");
    if (!url) url = "unix:///tmp/redis.sock";
    long small = env_long("SMALL", 1000), big = env_long("BIG", 1000000);
    long purge = env_long("PURGE", 100000), pages = env_long("PAGES", 50);
    char dir[] = "/tmp/zerog_index_XXXXXX", path[128];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/indexed.lua", dir);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fputs("return { JOB_TYPE = 'indexed', QUEUE_NAME = 'index_bench', RETENTION = 0,\n"
          "  run = function(self) return 200 end }\n",
          f);
    fclose(f);
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = url;
    zg_host *h = zg_host_new(&cfg);
    if (!h || zg_errcode(h) != ZG_OK) die(h, "host");
    if (zg_load_file(h, path, NULL) != ZG_OK) die(h, "load");
    redisContext *r = redis_of(url);

    /* pages among SMALL, then among BIG (the same queue, grown) */
    long long mem0 = info_number(r, "memory", "used_memory");
    fill(h, "indexed", small);
    double at_small[4], at_big[4];
    time_pages(h, "index_bench", pages, at_small);
    fill(h, "indexed", big - small);
    time_pages(h, "index_bench", pages, at_big);
    long long mem1 = info_number(r, "memory", "used_memory");
    long long ix_bytes = reply_int(r, "MEMORY USAGE %s SAMPLES 0", "{zq:index_bench}:ix:waiting:indexed");
    long long ix_entries = reply_int(r, "ZCARD %s", "{zq:index_bench}:ix:waiting:indexed");
    /* empty the queue: the BIG waiting jobs go (delete by kill + purge would take long: flush) */
    freeReplyObject(redisCommand(r, "FLUSHALL"));

    /* PURGE finished jobs, then zg_purge of them all while Redis's slowlog records every command */
    fill(h, "indexed", purge);
    const char *queues[] = {"index_bench"};
    long ran = 0;
    if (zg_run(h, queues, 1, 1, &ran) != ZG_OK) die(h, "run");
    freeReplyObject(redisCommand(r, "CONFIG SET slowlog-log-slower-than 0"));
    freeReplyObject(redisCommand(r, "CONFIG SET slowlog-max-len 100000"));
    freeReplyObject(redisCommand(r, "SLOWLOG RESET"));
    int64_t deleted = 0;
    zg_list_filter all = {.queue = "index_bench"};
    double t = now_ms();
    if (zg_purge(h, &all, 0, &deleted) != ZG_OK) die(h, "purge");
    double purge_ms = now_ms() - t;
    redisReply *log = redisCommand(r, "SLOWLOG GET -1");
    long long longest_us = 0;
    char longest[64] = "";
    size_t nsteps = 0;
    double *steps = calloc(log && log->type == REDIS_REPLY_ARRAY ? log->elements + 1 : 1,
                           sizeof *steps); /* the purge's own steps (its scripts), in ms */
    for (size_t i = 0; log && log->type == REDIS_REPLY_ARRAY && i < log->elements; i++) {
        redisReply *e = log->element[i];
        if (steps && e->type == REDIS_REPLY_ARRAY && e->elements > 3 &&
            e->element[3]->type == REDIS_REPLY_ARRAY && e->element[3]->elements &&
            (strcasecmp(e->element[3]->element[0]->str, "FCALL") == 0 ||
             strcasecmp(e->element[3]->element[0]->str, "EVALSHA") == 0))
            steps[nsteps++] = (double)e->element[2]->integer / 1000.0;
        if (e->type == REDIS_REPLY_ARRAY && e->elements > 3 && e->element[2]->integer > longest_us) {
            longest_us = e->element[2]->integer;
            redisReply *args = e->element[3];
            snprintf(longest, sizeof longest, "%s",
                     args->type == REDIS_REPLY_ARRAY && args->elements ? args->element[0]->str : "?");
        }
    }
    freeReplyObject(log);
    double step_p50 = 0, step_p99 = 0;
    if (steps && nsteps) {
        qsort(steps, nsteps, sizeof *steps, by_value);
        step_p50 = steps[nsteps / 2];
        step_p99 = steps[nsteps * 99 / 100];
    }
    free(steps);
    freeReplyObject(redisCommand(r, "CONFIG SET slowlog-log-slower-than 10000"));
    printf("{\"kind\":\"index\",\"small\":%ld,\"big\":%ld,"
           "\"page_ms_small\":{\"first_p50\":%.3f,\"first_p99\":%.3f,\"deep_p50\":%.3f,"
           "\"deep_p99\":%.3f},"
           "\"page_ms_big\":{\"first_p50\":%.3f,\"first_p99\":%.3f,\"deep_p50\":%.3f,"
           "\"deep_p99\":%.3f},"
           "\"bytes_per_job\":%.0f,\"index_bytes_per_job\":%.0f,"
           "\"purged\":%lld,\"ran\":%ld,\"purge_jobs_per_s\":%.0f,\"purge_longest_command_ms\":%.3f,"
           "\"purge_longest_command\":\"%s\",\"purge_steps\":%zu,\"purge_step_ms_p50\":%.3f,"
           "\"purge_step_ms_p99\":%.3f}\n",
           small, big, at_small[0], at_small[1], at_small[2], at_small[3], at_big[0], at_big[1],
           at_big[2], at_big[3], big > 0 ? (double)(mem1 - mem0) / (double)big : 0,
           ix_entries > 0 ? (double)ix_bytes / (double)ix_entries : 0, (long long)deleted, ran,
           purge_ms > 0 ? (double)deleted * 1000.0 / purge_ms : 0, (double)longest_us / 1000.0,
           longest, nsteps, step_p50, step_p99);
    redisFree(r);
    zg_host_free(h);
    unlink(path);
    rmdir(dir);
    return 0;
}
