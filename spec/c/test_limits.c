/* The library never aborts and never leaks, whatever the memory limit and whatever a job does:
 * every zg_* call under a tiny memory_limit returns ZG_OK or an error code (never SIGABRT from a
 * Lua panic); failed C<->Lua hand-overs free their buffers; run() results that are no valid
 * code or delay are refused or clamped without undefined behaviour; the watchdog releases a run
 * stuck where the hook cannot reach and tells the embedder (or logs, without a callback). */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "zerog.h"

static const char *store = "mem://";

static zg_host *host_with(size_t memory_limit)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.memory_limit = memory_limit;
    return zg_host_new(&cfg);
}

static int load(zg_host *h, const char *type, const char *body)
{
    char src[4096];
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_q', MAX_ERRORS = 1,\n"
             "  SCHEMA = { s = { type = 'string' } },\n"
             "  run = function(self) %s end }\n",
             type, type, body);
    return zg_load_string(h, type, src, NULL);
}

static int known_code(int rc)
{
    return rc >= ZG_OK && rc <= ZG_EJOB;
}

static void test_zg_submit_of_8_mib_params_on_a_4_mib_host_is_enomem_not_an_abort(void)
{
    zg_host *h = host_with(4 << 20);
    CHECK(h && zg_errcode(h) == ZG_OK);
    CHECK_INT(load(h, "big", "return 200"), ZG_OK);
    size_t n = 8 << 20;
    char *params = malloc(n + 16);
    strcpy(params, "{\"s\": \"");
    memset(params + 7, 'x', n);
    strcpy(params + 7 + n, "\"}");
    char uuid[ZG_UUID_LEN];
    int rc = zg_submit(h, "big", params, NULL, uuid);
    CHECK_INT(rc, ZG_ENOMEM);
    CHECK(strlen(zg_errstr(h)) > 0);
    const char *batch[] = {params, params};
    char uuids[2][ZG_UUID_LEN];
    CHECK_INT(zg_submit_batch(h, "big", batch, 2, NULL, uuids), ZG_ENOMEM);
    /* and the host still works */
    CHECK_INT(zg_submit(h, "big", "{}", NULL, uuid), ZG_OK);
    free(params);
    zg_host_free(h);
}

/* A batch is many jobs, each under its type's limits on its own, as one submit is: 3,000 jobs of
 * a type with a 1 MiB MEMORY_LIMIT and a 0.1 s TIMEOUT go in one batch, though together they take
 * more memory and time than one job may (under one window for the whole batch this failed past a
 * few hundred jobs); a line whose init() goes past a limit still fails the batch, naming the line
 * and the limit, and then nothing of the batch is stored. */
static void test_a_batch_gives_each_job_its_limits_not_one_for_the_whole_batch(void)
{
    zg_host *h = host_with(0);
    CHECK(h && zg_errcode(h) == ZG_OK);
    const char *src =
        "return { JOB_TYPE = 'each', QUEUE_NAME = 'each_q', MEMORY_LIMIT = 1024 * 1024,\n"
        "  TIMEOUT = 0.1, SCHEMA = { s = { type = 'string' } },\n"
        "  init = function(self)\n"
        "    if self.s == 'hog' then self.big = ('x'):rep(4 * 1024 * 1024) end\n"
        "    if self.s == 'spin' then while true do end end\n"
        "    if self.s == 'log' then self:job_log_info('made at submit') end\n"
        "  end,\n"
        "  run = function(self) return 200 end }\n";
    CHECK_INT(zg_load_string(h, "each", src, NULL), ZG_OK);
    enum { N = 3000 };
    const char **lines = calloc(N, sizeof *lines);
    char(*uuids)[ZG_UUID_LEN] = calloc(N, sizeof *uuids);
    for (int i = 0; i < N; i++)
        lines[i] = "{\"s\": \"padding to make each job's document a few hundred bytes long\"}";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(zg_submit_batch(h, "each", lines, N, NULL, uuids), ZG_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    zg_queue_counts qc;
    CHECK_INT(zg_queue_counts_get(h, "each_q", &qc), ZG_OK);
    CHECK_INT(qc.ready, N);
    CHECK(uuids[N - 1][0] != '\0');
    /* an entry init() recorded before its job was stored is stored with it (the batch's jobs
     * without any are not flushed one by one) */
    const char *logged[] = {"{}", "{\"s\": \"log\"}"};
    char two[2][ZG_UUID_LEN];
    CHECK_INT(zg_submit_batch(h, "each", logged, 2, NULL, two), ZG_OK);
    char *info = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_INFO, two[1], &info), ZG_OK);
    CHECK(info && strstr(info, "made at submit") != NULL);
    zg_free(info);
    CHECK_INT(zg_read(h, ZG_VIEW_INFO, two[0], &info), ZG_OK);
    CHECK(info && strstr(info, "made at submit") == NULL);
    zg_free(info);
    /* (the premise: the batch as a whole took longer than one job's TIMEOUT) */
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "# the batch took %.3f s against a TIMEOUT of 0.1 s\n", took);
    const char *bad[][2] = {{"hog", "MEMORY_LIMIT"}, {"spin", "TIMEOUT"}};
    for (int b = 0; b < 2; b++) {
        lines[1] = b == 0 ? "{\"s\": \"hog\"}" : "{\"s\": \"spin\"}";
        CHECK_INT(zg_submit_batch(h, "each", lines, 5, NULL, uuids), ZG_EJOB);
        CHECK(strstr(zg_errstr(h), "line 2") != NULL);
        CHECK(strstr(zg_errstr(h), bad[b][1]) != NULL);
        CHECK_INT(zg_queue_counts_get(h, "each_q", &qc), ZG_OK);
        CHECK_INT(qc.ready, N + 2); /* none of the five */
    }
    free(lines);
    free(uuids);
    zg_host_free(h);
}

/* Every call of the API on a host that may or may not have come up under the limit. */
static int every_call(zg_host *h)
{
    int bad = 0;
#define TRY(call)                                                                                  \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (!known_code(rc_)) bad++;                                                               \
    } while (0)
    char uuid[ZG_UUID_LEN] = "", type[ZG_NAME_LEN], *json = NULL;
    TRY(load(h, "tiny", "local t = {} for i = 1, 100 do t[i] = ('x'):rep(i) end return 200"));
    TRY(zg_load_string(h, "broken.lua", "return {", type));
    TRY(zg_submit(h, "tiny", "{\"s\": \"hello\"}", NULL, uuid));
    const char *batch[] = {"{}", "{\"s\": \"a\"}"};
    char uuids[2][ZG_UUID_LEN];
    TRY(zg_submit_batch(h, "tiny", batch, 2, NULL, uuids));
    for (int v = ZG_VIEW_PROGRESS; v <= ZG_VIEW_FIELDS; v++) {
        TRY(zg_read(h, (zg_view)v, uuid[0] ? uuid : "00000000-0000-0000-0000-000000000000", &json));
        zg_free(json);
        json = NULL;
    }
    zg_step_result r;
    TRY(zg_step(h, NULL, 0, 0, &r));
    long ran = 0;
    TRY(zg_run(h, NULL, 0, 1, &ran));
    zg_queue_counts qc;
    TRY(zg_queue_counts_get(h, "tiny_q", &qc));
    zg_message_stats ms;
    TRY(zg_job_stats(h, uuid, &ms));
    TRY(zg_kill(h, uuid));
    TRY(zg_release(h, uuid, 0, 0, ZG_RELEASE_DIED));
    TRY(zg_scripts(h, &json));
    zg_free(json);
    json = NULL;
    TRY(zg_queues(h, &json));
    zg_free(json);
    json = NULL;
    TRY(zg_buried(h, "tiny_q", &json));
    zg_free(json);
    json = NULL;
    int64_t moved;
    TRY(zg_kick(h, "tiny_q", 0, &moved));
    int failed;
    TRY(zg_reload(h, &failed));
    TRY(zg_ping(h));
    zg_function fns[] = {{"f", NULL}, {NULL, NULL}};
    TRY(zg_register_module(h, "m", fns, NULL));
    TRY(zg_check_file(h, "/nonexistent.lua", type));
    return bad;
#undef TRY
}

static void test_every_call_under_a_tiny_memory_limit_returns_a_code_never_aborts(void)
{
    /* from too small for the VM to start, through too small for the runtime to load, to just
     * enough: each host either fails cleanly at creation or answers every call with a code */
    int refused = 0, started = 0, bad = 0;
    for (size_t limit = 1024; limit <= (6u << 20); limit = limit * 5 / 4 + 4096) {
        zg_host *h = host_with(limit);
        CHECK(h != NULL);
        if (!h) continue;
        if (zg_errcode(h) != ZG_OK) {
            refused++;
            if (zg_errcode(h) != ZG_ENOMEM) printf("# limit %zu: %s\n", limit, zg_errstr(h));
            CHECK_INT(zg_errcode(h), ZG_ENOMEM);
            CHECK(every_call(h) == 0); /* a host that failed to start refuses every call */
        } else {
            started++;
            bad += every_call(h);
        }
        zg_host_free(h);
    }
    CHECK(refused > 0);
    CHECK(started > 0);
    CHECK_INT(bad, 0);
}

static zg_host *redis_or_mem_host(void)
{
    zg_host *h = host_with(0);
    CHECK(h && zg_errcode(h) == ZG_OK);
    return h;
}

static int step_one(zg_host *h, const char *type, const char *params, zg_step_result *r,
                    char uuid[ZG_UUID_LEN])
{
    char queue[ZG_NAME_LEN + 4];
    snprintf(queue, sizeof queue, "%s_q", type);
    const char *queues[] = {queue};
    int rc = zg_submit(h, type, params, NULL, uuid);
    if (rc != ZG_OK) return rc;
    return zg_step(h, queues, 1, 1000, r);
}

static char *first_error(zg_host *h, const char *uuid)
{
    char *json = NULL;
    if (zg_read(h, ZG_VIEW_INFO, uuid, &json) != ZG_OK) return NULL;
    return json;
}

static void test_a_requeue_delay_beyond_the_maximum_is_clamped_nan_is_an_error(void)
{
    zg_host *h = redis_or_mem_host();
    zg_step_result r;
    char uuid[ZG_UUID_LEN];
    CHECK_INT(load(h, "far", "return -1, 1e300"), ZG_OK);
    CHECK_INT(step_one(h, "far", "{}", &r, uuid), ZG_OK);
    CHECK_INT(r.outcome, ZG_STEP_REQUEUED);
    CHECK(r.delay == 366.0 * 24 * 3600); /* MAX_DELAY */
    CHECK_INT(load(h, "inf", "return {-1, math.huge}"), ZG_OK);
    CHECK_INT(step_one(h, "inf", "{}", &r, uuid), ZG_OK);
    CHECK(r.delay == 366.0 * 24 * 3600);
    CHECK_INT(load(h, "nan", "return -1, 0/0"), ZG_OK);
    CHECK_INT(step_one(h, "nan", "{}", &r, uuid), ZG_OK);
    CHECK_INT(r.outcome, ZG_STEP_FINISHED); /* MAX_ERRORS 1: the invalid delay is its error */
    CHECK_INT(r.result_code, 500);
    char *info = first_error(h, uuid);
    CHECK(info && strstr(info, "invalid requeue delay"));
    zg_free(info);
    CHECK_INT(load(h, "text", "return 'abc'"), ZG_OK); /* documented: not a number, 200 */
    CHECK_INT(step_one(h, "text", "{}", &r, uuid), ZG_OK);
    CHECK_INT(r.result_code, 200);
    CHECK_INT(load(h, "empty", "return {}"), ZG_OK);
    CHECK_INT(step_one(h, "empty", "{}", &r, uuid), ZG_OK);
    CHECK_INT(r.result_code, 200);
    CHECK_INT(load(h, "toobig", "return 2^31"), ZG_OK);
    CHECK_INT(step_one(h, "toobig", "{}", &r, uuid), ZG_OK);
    CHECK_INT(r.result_code, 500);
    zg_host_free(h);
}

/* The allocated bytes of the C heap (not the Lua VM's: the embedder's allocator is not set, so
 * the VM's blocks are counted too; a leak grows it by the size of what leaked). */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks;
}

#ifndef STEPS
#define STEPS 120
#endif
static void test_reloads_failing_at_the_memory_limit_run_after_run_keep_the_heap_flat(void)
{
    zg_host *h = redis_or_mem_host();
    /* each run fills its MEMORY_LIMIT nearly, then reloads its (large) document until a
     * reload fails for want of memory: the store's buffer must be freed on that path */
    char src[2048];
    snprintf(src, sizeof src,
             "return { JOB_TYPE = 'reloader', QUEUE_NAME = 'reloader_q', MAX_ERRORS = 1000000,\n"
             "  MEMORY_LIMIT = 8 * 1024 * 1024, RETRY_DELAY = 0,\n"
             "  SCHEMA = { s = { type = 'string' } },\n"
             "  run = function(self)\n"
             "    local hold = {}\n"
             "    for i = 1, 1e9 do\n"
             "      local ok = pcall(self.reload, self)\n"
             "      if not ok then break end\n"
             "      hold[#hold + 1] = self.s .. i\n"
             "    end\n"
             "    return 200\n"
             "  end }\n");
    CHECK_INT(zg_load_string(h, "reloader", src, NULL), ZG_OK);
    char params[300 * 1024];
    strcpy(params, "{\"s\": \"");
    memset(params + 7, 'y', sizeof params - 16);
    strcpy(params + sizeof params - 9, "\"}");
    char uuid[ZG_UUID_LEN];
    CHECK_INT(zg_submit(h, "reloader", params, NULL, uuid), ZG_OK);
    const char *queues[] = {"reloader_q"};
    zg_step_result r;
    size_t before = 0;
    int failures = 0;
    for (int i = 0; i < STEPS; i++) {
        if (i == STEPS / 6) before = heap_in_use(); /* after the VM and the store have settled */
        CHECK_INT(zg_step(h, queues, 1, 1000, &r), ZG_OK);
        failures += r.outcome == ZG_STEP_REQUEUED;
    }
    size_t after = heap_in_use();
    CHECK_INT(failures, STEPS); /* each run ended at its MEMORY_LIMIT in a reload */
    /* 100 failed reloads of a 300 KiB document would leak 30 MB */
    printf("# heap before %zu, after %zu\n", before, after);
    CHECK(after < before + (4u << 20));
    zg_host_free(h);
}

/* ---- the watchdog ---- */

static int blocker_calls;
static int block(void *ctx, const char *args, char **result, char *err, size_t errlen)
{
    (void)ctx, (void)args, (void)err, (void)errlen;
    blocker_calls++;
    struct timespec ts = {3, 0}; /* a C function of the embedder that blocks for 3 s */
    nanosleep(&ts, NULL);
    *result = NULL;
    return ZG_OK;
}

static char overrun_uuid[ZG_UUID_LEN];
static void on_overrun(void *ud, const char *uuid)
{
    (void)ud;
    snprintf(overrun_uuid, sizeof overrun_uuid, "%s", uuid);
}

static char logged[4096];
static void log_errors(void *ud, int level, const char *log_id, const char *msg)
{
    (void)ud, (void)log_id;
    if (level == ZG_LOG_ERROR && strstr(msg, "overran")) snprintf(logged, sizeof logged, "%s", msg);
}

static void watchdog_case(int with_callback)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.log = log_errors;
    if (with_callback) cfg.on_overrun = on_overrun;
    zg_host *h = check_host_of(&cfg);
    zg_function fns[] = {{"block", block}, {NULL, NULL}};
    CHECK_INT(zg_register_module(h, "slowlib", fns, NULL), ZG_OK);
    CHECK_INT(zg_load_string(h, "stuck",
                             "return { JOB_TYPE = 'stuck', QUEUE_NAME = 'stuck_q', TIMEOUT = 0.2,\n"
                             "  MAX_ERRORS = 1,\n"
                             "  run = function() require('slowlib').block() return 200 end }",
                             NULL),
              ZG_OK);
    overrun_uuid[0] = logged[0] = '\0';
    char uuid[ZG_UUID_LEN];
    CHECK_INT(zg_submit(h, "stuck", "{}", NULL, uuid), ZG_OK);
    const char *queues[] = {"stuck_q"};
    zg_step_result r;
    time_t t0 = time(NULL);
    /* the stuck call returns once the C function does; its lease was taken by the watchdog */
    CHECK_INT(zg_step(h, queues, 1, 1000, &r), ZG_ESTALE);
    CHECK(time(NULL) - t0 <= 5);
    if (with_callback) CHECK_STR(overrun_uuid, uuid);
    CHECK(strstr(logged, uuid) != NULL);
    /* the job was released to run again; that run records the timeout and, MAX_ERRORS 1,
     * finishes with 500 without running */
    CHECK_INT(zg_step(h, queues, 1, 1000, &r), ZG_OK);
    CHECK_INT(r.outcome, ZG_STEP_FINISHED);
    CHECK_INT(r.result_code, 500);
    CHECK_INT(blocker_calls, with_callback ? 1 : 2);
    char *info = first_error(h, uuid);
    CHECK(info && strstr(info, "TIMEOUT of 0.2 s and did not stop"));
    CHECK(info && !strstr(info, "killed"));
    zg_free(info);
    zg_host_free(h);
}

static void test_a_blocking_c_function_past_timeout_is_released_by_the_watchdog_and_reported(void)
{
    blocker_calls = 0;
    watchdog_case(1);
}

static void test_without_on_overrun_the_watchdog_logs_the_job_and_the_call_ends_estale(void)
{
    blocker_calls = 1;
    watchdog_case(0);
}

/* ---- zg_interrupt ---- */

static volatile int interrupt_began;
static void note_begin(void *ud, const zg_run_info *run)
{
    (void)ud;
    if (run->begin) interrupt_began = 1;
}

static void *interrupt_soon(void *p)
{
    while (!interrupt_began)
        usleep(1000);
    usleep(200 * 1000); /* well inside its loops */
    zg_interrupt(p);
    return NULL;
}

static void test_zg_interrupt_ends_a_run_that_catches_everything_in_pcall_loops_and_coroutines(void)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.on_run = note_begin;
    zg_host *h = zg_host_new(&cfg);
    CHECK(h && zg_errcode(h) == ZG_OK);
    CHECK_INT(load(h, "stubborn",
                   "local co = coroutine.wrap(function() while true do pcall(function() while "
                   "true do end end) end end)\n"
                   "    while true do pcall(co) pcall(function() while true do end end) end"),
              ZG_OK);
    char uuid[ZG_UUID_LEN];
    CHECK_INT(zg_submit(h, "stubborn", "{}", NULL, uuid), ZG_OK);
    interrupt_began = 0;
    pthread_t t;
    pthread_create(&t, NULL, interrupt_soon, h);
    const char *queues[] = {"stubborn_q"};
    time_t t0 = time(NULL);
    long ran = 0;
    CHECK_INT(zg_run(h, queues, 1, 0, &ran), ZG_OK);
    pthread_join(t, NULL);
    CHECK(time(NULL) - t0 <= 20); /* a few ms; generous for valgrind */
    char *info = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_INFO, uuid, &info), ZG_OK);
    CHECK(info && strstr(info, "Released - host stopping") && strstr(info, "\"errors\":[]"));
    if (check_failures_in_test)
        printf("# took %ld s, info %s\n", (long)(time(NULL) - t0), info ? info : "(null)");
    zg_free(info);
    zg_host_free(h);
}

int main(void)
{
    RUN(test_zg_submit_of_8_mib_params_on_a_4_mib_host_is_enomem_not_an_abort);
    RUN(test_a_batch_gives_each_job_its_limits_not_one_for_the_whole_batch);
    RUN(test_every_call_under_a_tiny_memory_limit_returns_a_code_never_aborts);
    RUN(test_a_requeue_delay_beyond_the_maximum_is_clamped_nan_is_an_error);
    RUN(test_reloads_failing_at_the_memory_limit_run_after_run_keep_the_heap_flat);
    RUN(test_a_blocking_c_function_past_timeout_is_released_by_the_watchdog_and_reported);
    RUN(test_without_on_overrun_the_watchdog_logs_the_job_and_the_call_ends_estale);
    RUN(test_zg_interrupt_ends_a_run_that_catches_everything_in_pcall_loops_and_coroutines);
    return check_done();
}
