/* bench_append: the cost of appending an event (record_event, the job API's whole path) to a job
 * that has 10 entries and to one that has 100,000, on each store, so `make bench` shows that an
 * append does not grow with the list. A client of the public API only: the jobs time their own
 * appends with a clock this program registers as a C module (bench_clock.now(), microseconds,
 * CLOCK_MONOTONIC) and report each round through bench_clock.report(size, us_per_append).
 *
 * The big job appends 100,000 events in its first run and requeues itself with no delay; each of
 * its next runs times ROUND appends and requeues, ROUNDS times. Between two of them a fresh small
 * job (10 events) times ROUND appends, so both sizes see the same machine noise; each figure is
 * the median of ROUNDS rounds. Prints one JSON line per store: microseconds per append at both
 * sizes. Redis runs when ZEROG_SPEC_REDIS is set. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zerog.h"

#define ROUND  2000
#define ROUNDS 7
#define BIG    100000

typedef struct timings {
    double small[ROUNDS], big[ROUNDS];
    int nsmall, nbig;
} timings;

static int clock_now(void *ctx, const char *args_json, char **result_json, char *err, size_t errlen)
{
    (void)ctx, (void)args_json, (void)err, (void)errlen;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *result_json = malloc(48);
    if (!*result_json) return ZG_ENOMEM;
    snprintf(*result_json, 48, "%.3f", (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3);
    return ZG_OK;
}

/* report("small" | "big", us_per_append) */
static int clock_report(void *ctx, const char *args_json, char **result_json, char *err,
                        size_t errlen)
{
    timings *t = ctx;
    char size[8];
    double us;
    *result_json = NULL;
    if (sscanf(args_json, "[\"%7[a-z]\",%lf]", size, &us) != 2) {
        snprintf(err, errlen, "report expects (size, us), got %s", args_json);
        return ZG_EINVAL;
    }
    if (strcmp(size, "big") == 0 && t->nbig < ROUNDS)
        t->big[t->nbig++] = us;
    else if (strcmp(size, "small") == 0 && t->nsmall < ROUNDS)
        t->small[t->nsmall++] = us;
    return ZG_OK;
}

static const char job_source[] =
    "local clock = require 'bench_clock'\n"
    "local function timed(self, size)\n"
    "  local t0 = clock.now()\n"
    "  for _ = 1, self.round do self:record_event('event') end\n"
    "  clock.report(size, (clock.now() - t0) / self.round)\n"
    "end\n"
    "return {\n"
    "  JOB_TYPE = 'bench_append',\n"
    "  SCHEMA = { entries = { type = 'integer', required = true },\n"
    "             round = { type = 'integer', required = true },\n"
    "             rounds = { type = 'integer', default = 0 },\n"
    "             done = { type = 'integer', default = -1 } },\n"
    "  TTR = 600,\n"
    "  run = function(self)\n"
    "    if self.done < 0 then\n"
    "      for _ = 1, self.entries do self:record_event('event') end\n"
    "      if self.rounds == 0 then timed(self, 'small'); return 200 end\n"
    "      self:update_attrs { done = 0 }\n"
    "      return -1, 0\n"
    "    end\n"
    "    timed(self, 'big')\n"
    "    local done = self.done + 1\n"
    "    self:update_attrs { done = done }\n"
    "    if done < self.rounds then return -1, 0 end\n"
    "    return 200\n"
    "  end,\n"
    "}\n";

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One step: runs the most urgent job's next run. */
static int step(zg_host *h)
{
    zg_step_result r;
    int rc = zg_step(h, NULL, 0, 10000, &r);
    if (rc == ZG_OK && r.outcome == ZG_STEP_FINISHED && r.result_code != 200) {
        fprintf(stderr, "bench_append: job %s finished with %d\n", r.uuid, r.result_code);
        return ZG_EJOB;
    }
    return rc;
}

static int bench(const char *name, const char *store)
{
    timings t = {0};
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.memory_limit = (size_t)1 << 30;
    zg_host *h = zg_host_new(&cfg);
    if (!h) return 1;
    static const zg_function fns[] = {{"now", clock_now}, {"report", clock_report}, {NULL, NULL}};
    char type[ZG_NAME_LEN], uuid[ZG_UUID_LEN], params[128];
    int rc = zg_errcode(h);
    if (rc == ZG_OK) rc = zg_register_module(h, "bench_clock", fns, &t);
    if (rc == ZG_OK) rc = zg_load_string(h, "bench_append.lua", job_source, type);
    zg_submit_opts big = {.priority = 2, .has_priority = 1},
                   small = {.priority = 1, .has_priority = 1};
    snprintf(params, sizeof params, "{\"entries\": %d, \"round\": %d, \"rounds\": %d}", BIG, ROUND,
             ROUNDS);
    if (rc == ZG_OK) rc = zg_submit(h, type, params, &big, uuid);
    if (rc == ZG_OK) rc = step(h); /* the big job's 100,000 entries */
    snprintf(params, sizeof params, "{\"entries\": 10, \"round\": %d}", ROUND);
    for (int r = 0; rc == ZG_OK && r < ROUNDS; r++) {
        rc = zg_submit(h, type, params, &small, uuid);
        if (rc == ZG_OK) rc = step(h); /* a fresh small job */
        if (rc == ZG_OK) rc = step(h); /* the big job's next round */
    }
    if (rc != ZG_OK || t.nsmall != ROUNDS || t.nbig != ROUNDS) {
        fprintf(stderr, "bench_append (%s): %s\n", name,
                rc != ZG_OK ? zg_errstr(h) : "the jobs did not report every round");
        zg_host_free(h);
        return 1;
    }
    zg_host_free(h);
    qsort(t.small, ROUNDS, sizeof t.small[0], cmp);
    qsort(t.big, ROUNDS, sizeof t.big[0], cmp);
    double at_small = t.small[ROUNDS / 2], at_big = t.big[ROUNDS / 2];
    printf("{\"kind\": \"append\", \"store\": \"%s\", \"us_per_append_at_10\": %.3f, "
           "\"us_per_append_at_100000\": %.3f, \"ratio\": %.2f}\n",
           name, at_small, at_big, at_big / at_small);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (bench("mem", "mem://") != 0) return 1;
    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url && bench("redis", url) != 0) return 1;
    return 0;
}
