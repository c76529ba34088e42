/* The embedding API (zerog.h) as a C program uses it: hosts in threads side by side, zg_run
 * stopped from another thread and from a signal handler, C functions for job scripts, the
 * allocator hook and the memory limit, jobs_dir and reload. Runs on mem:// and, when
 * ZEROG_SPEC_REDIS names a Redis, there too. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "check.h"
#include "zerog.h"

static const char *store = "mem://";
static char tmpdir[256];

static zg_host *new_host(void)
{
    return check_new_host(store);
}

/* A job type on its own queue (so hosts sharing a Redis do not take each other's jobs). */
static void define(zg_host *h, const char *type, const char *run_body)
{
    char src[2048];
    snprintf(
        src, sizeof src,
        "local zerog = require 'zerog'\n"
        "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_q', SCHEMA = { n = { type = 'integer' } },\n"
        "  run = function(self) %s end }\n",
        type, type, run_body);
    char got[ZG_NAME_LEN];
    int rc = zg_load_string(h, type, src, got);
    if (rc != ZG_OK) printf("# %s\n", zg_errstr(h));
    CHECK_INT(rc, ZG_OK);
}

/* A job type name of its own for this run (name_<pid>_<time>, on the queue <type>_q), so runs
 * sharing a Redis do not meet. */
static void fresh_type(const char *name, char type[64], char queue[80])
{
    snprintf(type, 64, "%s_%ld_%ld", name, (long)getpid(), (long)time(NULL) % 100000);
    snprintf(queue, 80, "%s_q", type);
}

/* The integer after "key": in a job's view, or missing when there is no such job or key. */
static int number_in_view(zg_host *h, int view, const char *uuid, const char *key, int missing)
{
    char *json = NULL, quoted[64];
    if (zg_read(h, view, uuid, &json) != ZG_OK) return missing;
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    const char *at = strstr(json, quoted);
    int n = at ? atoi(at + strlen(quoted)) : missing;
    zg_free(json);
    return n;
}

static int result_of(zg_host *h, const char *uuid)
{
    return number_in_view(h, ZG_VIEW_PROGRESS, uuid, "result", -999);
}

/* ---- hosts in threads ---- */

typedef struct thread_job {
    int index;
    int finished;
} thread_job;

static void *host_thread(void *p)
{
    thread_job *t = p;
    zg_host *h = new_host();
    char type[32], uuids[20][ZG_UUID_LEN];
    snprintf(type, sizeof type, "threaded_%d", t->index);
    define(h, type, "self:record_event('ran'); return 200");
    for (int i = 0; i < 20; i++)
        zg_submit(h, type, "{\"n\": 1}", NULL, uuids[i]);
    long ran = 0;
    zg_run(h, NULL, 0, 1, &ran);
    for (int i = 0; i < 20; i++)
        t->finished += result_of(h, uuids[i]) == 200;
    zg_host_free(h);
    return NULL;
}

static void test_hosts_in_threads_work_side_by_side(void)
{
    pthread_t threads[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){i, 0};
        pthread_create(&threads[i], NULL, host_thread, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT(jobs[i].finished, 20);
    }
}

/* ---- zg_run and zg_stop ---- */

static void *stop_later(void *p)
{
    usleep(300 * 1000);
    zg_stop(p);
    return NULL;
}

static void test_zg_stop_from_another_thread_ends_zg_run(void)
{
    zg_host *h = new_host();
    define(h, "idle_forever", "return 200");
    pthread_t t;
    pthread_create(&t, NULL, stop_later, h);
    long ran = -1;
    CHECK_INT(zg_run(h, NULL, 0, 0, &ran), ZG_OK); /* not until_idle: only zg_stop ends it */
    pthread_join(t, NULL);
    CHECK_INT(ran, 0);
    zg_host_free(h);
}

static zg_host *signalled_host;

static void on_alarm(int sig)
{
    (void)sig;
    zg_stop(signalled_host);
}

static void test_zg_stop_from_a_signal_handler_ends_zg_run(void)
{
    signalled_host = new_host();
    define(signalled_host, "until_signal", "return 200");
    char uuid[ZG_UUID_LEN];
    zg_submit(signalled_host, "until_signal", "{}", NULL, uuid);
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    long ran = 0;
    CHECK_INT(zg_run(signalled_host, NULL, 0, 0, &ran), ZG_OK);
    CHECK_INT(ran, 1);
    CHECK_INT(result_of(signalled_host, uuid), 200);
    zg_host_free(signalled_host);
}

/* ---- C functions ---- */

static int add(void *ctx, const char *args, char **result, char *err, size_t errlen)
{
    int a, b;
    (*(int *)ctx)++;
    if (sscanf(args, "[%d,%d]", &a, &b) != 2) {
        snprintf(err, errlen, "add wants two integers, got %s", args);
        return ZG_EINVAL;
    }
    *result = malloc(32);
    snprintf(*result, 32, "%d", a + b);
    return ZG_OK;
}

static int nothing(void *ctx, const char *args, char **result, char *err, size_t errlen)
{
    (void)ctx, (void)args, (void)err, (void)errlen;
    *result = NULL;
    return ZG_OK;
}

static int garbage(void *ctx, const char *args, char **result, char *err, size_t errlen)
{
    (void)ctx, (void)args, (void)err, (void)errlen;
    *result = strdup("{not json");
    return ZG_OK;
}

static void test_job_scripts_call_registered_c_functions(void)
{
    zg_host *h = new_host();
    int calls = 0;
    const zg_function fns[] = {
        {"add", add}, {"nothing", nothing}, {"garbage", garbage}, {NULL, NULL}};
    CHECK_INT(zg_register_module(h, "mathx", fns, &calls), ZG_OK);
    define(h, "calls_c",
           "local m = require 'mathx'\n"
           "local ok, err = pcall(m.add, 'x')\n"
           "local ok2, err2 = pcall(m.garbage)\n"
           "self:record_event(tostring(m.add(2, 40)) .. ' ' .. tostring(m.nothing()) .. ' ' .. "
           "tostring(ok)\n"
           "  .. ' ' .. err .. ' | ' .. err2)\n"
           "return 200");
    char uuid[ZG_UUID_LEN], *info = NULL;
    zg_submit(h, "calls_c", "{}", NULL, uuid);
    zg_run(h, NULL, 0, 1, NULL);
    CHECK_INT(zg_read(h, ZG_VIEW_INFO, uuid, &info), ZG_OK);
    CHECK(info && strstr(info, "42 nil false add wants two integers, got [\\\"x\\\"]") != NULL);
    CHECK(info && strstr(info, "mathx.garbage returned invalid JSON") != NULL);
    if (info && !strstr(info, "42 nil")) printf("# %s\n", info);
    CHECK_INT(calls, 2);
    zg_free(info);
    zg_host_free(h);
}

/* ---- allocator and memory limit ---- */

typedef struct counting_alloc {
    long calls;
    size_t live;
} counting_alloc;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    counting_alloc *c = ud;
    c->calls++;
    if (ptr) c->live -= osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        c->live += nsize;
    else if (ptr)
        c->live += osize;
    return p;
}

static void test_the_vm_uses_the_embedders_allocator(void)
{
    counting_alloc c = {0, 0};
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.alloc = count_alloc;
    cfg.alloc_ud = &c;
    zg_host *h = zg_host_new(&cfg);
    CHECK(zg_errcode(h) == ZG_OK);
    CHECK(c.calls > 100);
    CHECK(c.live > 10000);
    zg_host_free(h);
    CHECK_INT(c.live, 0); /* everything given back */
}

static void test_a_job_over_the_memory_limit_fails_and_the_host_lives_on(void)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.memory_limit = 8 << 20;
    zg_host *h = zg_host_new(&cfg);
    CHECK_INT(zg_errcode(h), ZG_OK);
    define(h, "hog", "local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end return 200");
    define(h, "modest", "local t = {} for i = 1, 1000 do t[i] = i end return 200");
    char hog[ZG_UUID_LEN], modest[ZG_UUID_LEN], *info = NULL;
    CHECK_INT(zg_submit(h, "hog", "{}", NULL, hog), ZG_OK);
    CHECK_INT(zg_submit(h, "modest", "{}", NULL, modest), ZG_OK);
    const char *hog_q[] = {"hog_q"};
    zg_step_result r;
    CHECK_INT(zg_step(h, hog_q, 1, 0, &r), ZG_OK);
    CHECK_INT(r.outcome, ZG_STEP_REQUEUED); /* an error: retried after RETRY_DELAY */
    CHECK_INT(zg_read(h, ZG_VIEW_INFO, hog, &info), ZG_OK);
    CHECK(info && strstr(info, "not enough memory") != NULL);
    zg_free(info);
    zg_run(h, NULL, 0, 1, NULL);
    CHECK_INT(result_of(h, modest), 200);
    zg_host_free(h);
}

/* ---- jobs_dir and reload ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_jobs_dir_is_loaded_and_reload_takes_edits(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/versioned.lua", tmpdir);
    write_file(path, "return { JOB_TYPE = 'versioned', QUEUE_NAME = 'versioned_q', run = "
                     "function() return 201 end }");
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.jobs_dir = tmpdir;
    zg_host *h = zg_host_new(&cfg);
    CHECK_INT(zg_errcode(h), ZG_OK);
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN], c[ZG_UUID_LEN];
    CHECK_INT(zg_submit(h, "versioned", "{}", NULL, a), ZG_OK);
    zg_run(h, NULL, 0, 1, NULL);
    CHECK_INT(result_of(h, a), 201);

    write_file(path, "return { JOB_TYPE = 'versioned', QUEUE_NAME = 'versioned_q', run = "
                     "function() return 202 end }");
    int failed = -1;
    CHECK_INT(zg_reload(h, &failed), ZG_OK);
    CHECK_INT(failed, 0);
    zg_submit(h, "versioned", "{}", NULL, b);
    zg_run(h, NULL, 0, 1, NULL);
    CHECK_INT(result_of(h, b), 202);

    write_file(path, "return { JOB_TYPE = 'versioned', run = function( end }"); /* broken */
    CHECK_INT(zg_reload(h, &failed), ZG_OK);
    CHECK_INT(failed, 1);
    zg_submit(h, "versioned", "{}", NULL, c);
    zg_run(h, NULL, 0, 1, NULL);
    CHECK_INT(result_of(h, c), 202); /* the previous version stays in use */

    /* a script that never loaded, once deleted, is no longer reported as failing */
    char broken[512];
    snprintf(broken, sizeof broken, "%s/never_loads.lua", tmpdir);
    write_file(broken, "return { JOB_TYPE = 'never', run = function( end }");
    CHECK_INT(zg_reload(h, &failed), ZG_OK);
    char *scripts = NULL;
    CHECK_INT(zg_scripts(h, &scripts), ZG_OK);
    CHECK(scripts && strstr(scripts, "never_loads.lua") != NULL);
    zg_free(scripts);
    remove(broken);
    CHECK_INT(zg_reload(h, &failed), ZG_OK);
    CHECK_INT(zg_scripts(h, &scripts), ZG_OK);
    CHECK(scripts && strstr(scripts, "never_loads.lua") == NULL);
    zg_free(scripts);
    remove(path);
    zg_host_free(h);
}

static void test_a_missing_jobs_dir_is_an_error_of_the_host(void)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.jobs_dir = "/nonexistent/jobs";
    zg_host *h = zg_host_new(&cfg);
    CHECK(h != NULL);
    CHECK_INT(zg_errcode(h), ZG_ESCRIPT);
    CHECK(strstr(zg_errstr(h), "/nonexistent/jobs") != NULL);
    char uuid[ZG_UUID_LEN];
    CHECK(zg_submit(h, "x", "{}", NULL, uuid) != ZG_OK); /* refuses every call */
    zg_host_free(h);
}

/* zg_interrupt from another thread once the run has begun (on_run says so). */
static volatile int run_began;

static void note_run(void *ud, const zg_run_info *run)
{
    (void)ud;
    if (run->begin) run_began = 1;
}

static void *interrupt_when_running(void *p)
{
    for (int i = 0; i < 500 && !run_began; i++)
        usleep(10 * 1000);
    zg_interrupt(p);
    return NULL;
}

static void test_zg_interrupt_releases_a_run_looping_in_a_coroutine_without_an_error(void)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.on_run = note_run;
    zg_host *h = zg_host_new(&cfg);
    CHECK(h && zg_errcode(h) == ZG_OK);
    /* the loop runs in a coroutine the job made: the run's count hook reaches it too (a type
     * of this run's own: one left requeued on a Redis by an earlier run is not taken first) */
    char type[64], queue[80];
    fresh_type("spinner", type, queue);
    define(h, type, "local co = coroutine.wrap(function() while true do end end); co()");
    char uuid[ZG_UUID_LEN];
    CHECK_INT(zg_submit(h, type, "{}", NULL, uuid), ZG_OK);
    run_began = 0;
    pthread_t t;
    pthread_create(&t, NULL, interrupt_when_running, h);
    zg_step_result r;
    const char *queues[] = {queue};
    int rc = zg_step(h, queues, 1, 1000, &r);
    if (rc != ZG_OK) printf("# %s\n", zg_errstr(h));
    CHECK_INT(rc, ZG_OK);
    pthread_join(t, NULL);
    CHECK_INT(r.outcome, ZG_STEP_REQUEUED);
    char *doc = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, uuid, &doc), ZG_OK);
    CHECK(doc && strstr(doc, "\"msg\":\"Released - host stopping\""));
    CHECK(doc && strstr(doc, "\"errorCount\":0"));
    CHECK(doc && strstr(doc, "\"running\":false"));
    zg_free(doc);
    zg_message_stats st;
    CHECK_INT(zg_job_stats(h, uuid, &st), ZG_OK);
    CHECK_INT(st.state, ZG_MSG_READY);
    zg_host_free(h);
}

/* The log callback receives each failed run: the job's logId, the code and file:line. */
static char failed_line[1024];
static char failed_log_id[256];

static void capture_errors(void *ud, int level, const char *log_id, const char *msg)
{
    (void)ud;
    if (level != ZG_LOG_ERROR || !*log_id) return;
    snprintf(failed_line, sizeof failed_line, "%s", msg);
    snprintf(failed_log_id, sizeof failed_log_id, "%s", log_id);
}

static void test_a_failed_run_is_logged_with_its_log_id_code_and_file_line(void)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.log = capture_errors;
    zg_host *h = zg_host_new(&cfg);
    CHECK(h && zg_errcode(h) == ZG_OK);
    failed_line[0] = failed_log_id[0] = '\0';
    define(h, "failing", "local t = nil; return t.field");
    char uuid[ZG_UUID_LEN];
    CHECK_INT(zg_submit(h, "failing", "{}", NULL, uuid), ZG_OK);
    zg_step_result r;
    CHECK_INT(zg_step(h, NULL, 0, 1000, &r), ZG_OK);
    char want_id[256];
    snprintf(want_id, sizeof want_id, "failing_%s", uuid);
    CHECK_STR(failed_log_id, want_id);
    CHECK(strncmp(failed_line, "500 ", 4) == 0);
    CHECK(strstr(failed_line, "failing:3:") != NULL); /* the script's name and line */
    CHECK(strstr(failed_line, "attempt to index a nil value") != NULL);
    CHECK(strstr(failed_line, "traceback") == NULL);
    zg_host_free(h);
}

/* ---- prefetch: the settle claims the next job; a host that will not run it puts it back ---- */

static zg_message_stats stats_of(zg_host *h, const char *uuid)
{
    zg_message_stats st;
    CHECK_INT(zg_job_stats(h, uuid, &st), ZG_OK);
    return st;
}

/* A host whose settles claim the next job (cfg.prefetch). */
static zg_host *prefetching_host(void)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.prefetch = 1;
    zg_host *h = zg_host_new(&cfg);
    CHECK(h && zg_errcode(h) == ZG_OK);
    return h;
}

static void test_a_job_claimed_with_a_settle_goes_back_when_the_host_will_not_run_it(void)
{
    zg_host *h = prefetching_host();
    char type[64], queue[80];
    fresh_type("held", type, queue);
    define(h, type, "return 200");
    char u[4][ZG_UUID_LEN];
    for (int i = 0; i < 4; i++)
        CHECK_INT(zg_submit(h, type, "{\"n\": 1}", NULL, u[i]), ZG_OK);
    const char *queues[] = {queue};
    zg_step_result r;
    /* the first step runs u0 and, settling it, claims u1 for the next step */
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK_STR(r.uuid, u[0]);
    CHECK(zg_holding(h));
    CHECK_INT(stats_of(h, u[1]).state, ZG_MSG_RESERVED);
    /* put back on request: waiting as before, no reserve or release counted */
    CHECK_INT(zg_release_held(h), ZG_OK);
    CHECK(!zg_holding(h));
    zg_message_stats st = stats_of(h, u[1]);
    CHECK_INT(st.state, ZG_MSG_READY);
    CHECK_INT((int)st.reserves, 0);
    CHECK_INT((int)st.releases, 0);
    /* a reload puts it back too (the job's type may be gone after it) */
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK_STR(r.uuid, u[1]);
    CHECK(zg_holding(h));
    CHECK_INT(zg_reload(h, NULL), ZG_OK);
    CHECK(!zg_holding(h));
    CHECK_INT(stats_of(h, u[2]).state, ZG_MSG_READY);
    /* and so does freeing the host: another host then runs it as a first run */
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK_STR(r.uuid, u[2]);
    CHECK(zg_holding(h));
    zg_host_free(h);
    if (strcmp(store, "mem://") == 0) return; /* a mem:// store lives and dies with its host */
    zg_host *other = new_host();
    define(other, type, "return 200");
    CHECK_INT(stats_of(other, u[3]).state, ZG_MSG_READY);
    long ran = 0;
    CHECK_INT(zg_run(other, queues, 1, 1, &ran), ZG_OK);
    CHECK_INT((int)ran, 1);
    CHECK_INT(result_of(other, u[3]), 200);
    char *json = NULL;
    CHECK_INT(zg_read(other, ZG_VIEW_DUMP, u[3], &json), ZG_OK);
    CHECK(json && strstr(json, "\"errorCount\":0")); /* not counted as a killed run */
    zg_free(json);
    zg_host_free(other);
}

/* What cfg.on_hold was told, in order: "+uuid" held, "-uuid" gone back. */
typedef struct hold_log {
    char said[8][ZG_UUID_LEN + 1];
    int n;
} hold_log;

static void record_hold(void *ud, const zg_run_info *run)
{
    hold_log *l = ud;
    if (l->n < 8)
        snprintf(l->said[l->n++], sizeof l->said[0], "%c%s", run->begin ? '+' : '-', run->uuid);
}

static void test_on_hold_names_the_job_claimed_ahead_and_its_return(void)
{
    hold_log l = {0};
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.prefetch = 1;
    cfg.on_hold = record_hold;
    cfg.on_hold_ud = &l;
    zg_host *h = zg_host_new(&cfg);
    CHECK(h && zg_errcode(h) == ZG_OK);
    char type[64], queue[80], want[ZG_UUID_LEN + 1];
    fresh_type("hold", type, queue);
    define(h, type, "return 200");
    char u[3][ZG_UUID_LEN];
    for (int i = 0; i < 3; i++)
        CHECK_INT(zg_submit(h, type, "{\"n\": 1}", NULL, u[i]), ZG_OK);
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK); /* runs u0, claims u1 ahead */
    CHECK_INT(l.n, 1);
    snprintf(want, sizeof want, "+%s", u[1]);
    CHECK_STR(l.said[0], want);
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK); /* runs u1 (no word: it started), claims u2 */
    CHECK_STR(r.uuid, u[1]);
    CHECK_INT(l.n, 2);
    snprintf(want, sizeof want, "+%s", u[2]);
    CHECK_STR(l.said[1], want);
    CHECK_INT(zg_release_held(h), ZG_OK); /* u2 goes back */
    CHECK_INT(l.n, 3);
    snprintf(want, sizeof want, "-%s", u[2]);
    CHECK_STR(l.said[2], want);
    zg_host_free(h);
    CHECK_INT(l.n, 3); /* nothing held any more: nothing to say */
}

/* zg_put_back_claims for one writer (started: its run, or NULL). */
static int put_back_one(zg_host *h, const char *writer, const zg_run_info *started,
                        char (*uuids)[ZG_UUID_LEN], size_t max, size_t *n)
{
    const char *writers[] = {writer};
    return zg_put_back_claims(h, writers, started, 1, uuids, max, n);
}

/* zg_put_back_claims: what a host's last claim took, while that claim is still its current
 * lease, goes back to waiting as if never claimed (the host died before it said it held it) --
 * and nothing else: not a job whose run settled, nor one put back already. */
static void test_put_back_claims_returns_a_dead_hosts_last_claim(void)
{
    zg_host *h = prefetching_host();
    char type[64], queue[80];
    fresh_type("back", type, queue);
    define(h, type, "return 200");
    char u[2][ZG_UUID_LEN], back[4][ZG_UUID_LEN];
    for (int i = 0; i < 2; i++)
        CHECK_INT(zg_submit(h, type, "{\"n\": 1}", NULL, u[i]), ZG_OK);
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK); /* runs u0, its settle claims u1 */
    CHECK_INT(stats_of(h, u[1]).state, ZG_MSG_RESERVED);
    size_t n = 9;
    CHECK_INT(put_back_one(h, zg_writer(h), NULL, back, 4, &n), ZG_OK);
    CHECK_INT((int)n, 1);
    CHECK_STR(back[0], u[1]);
    zg_message_stats st = stats_of(h, u[1]);
    CHECK_INT(st.state, ZG_MSG_READY);
    CHECK_INT((int)st.reserves, 0);
    CHECK_INT((int)st.releases, 0);
    CHECK_INT(put_back_one(h, zg_writer(h), NULL, back, 4, &n), ZG_OK); /* once only */
    CHECK_INT((int)n, 0);
    /* (this host is alive: its hold, stale now, is dropped) it claims u1 afresh and runs it
     * as a first run */
    CHECK_INT(zg_release_held(h), ZG_OK);
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK_STR(r.uuid, u[1]);
    CHECK_INT(result_of(h, u[1]), 200);
    char *json = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, u[1], &json), ZG_OK);
    CHECK(json && strstr(json, "\"errorCount\":0"));
    zg_free(json);
    /* its last claim (u1) settled: nothing to put back */
    CHECK_INT(put_back_one(h, zg_writer(h), NULL, NULL, 0, &n), ZG_OK);
    CHECK_INT((int)n, 0);
    CHECK_INT(put_back_one(h, "no such writer", NULL, NULL, 0, &n), ZG_EINVAL);
    CHECK_INT(put_back_one(h, "0123456789abcdef01234567", NULL, NULL, 0, &n), ZG_OK);
    CHECK_INT((int)n, 0);
    zg_host_free(h);
}

/* ---- a host killed with a claim on the way (Redis: the host is a forked process) ---- */

/* What a forked host says on its pipe, as a supervised worker does: "writer W", "job U" for each
 * job it submitted, "begin U TOKEN" for each run it starts. Then it dies where `die` says: in
 * on_hold (its settle's claim of the next job done, not said: a claim on the way) or in on_run's
 * begin, after saying it. */
enum { DIE_IN_HOLD, DIE_AT_BEGIN };
typedef struct doomed {
    int fd, die;
} doomed;

static void doomed_on_run(void *ud, const zg_run_info *run)
{
    doomed *d = ud;
    if (!run->begin) return;
    dprintf(d->fd, "begin %s %lld\n", run->uuid, (long long)run->reservation);
    if (d->die == DIE_AT_BEGIN) raise(SIGKILL); /* (a kill -9: no exit handler, no leak check) */
}

static void doomed_on_hold(void *ud, const zg_run_info *run)
{
    doomed *d = ud;
    if (run->begin && d->die == DIE_IN_HOLD) raise(SIGKILL); /* the store gave it the job: unsaid */
}

typedef struct doomed_said {
    char writer[ZG_WRITER_LEN], jobs[2][ZG_UUID_LEN], begun[ZG_UUID_LEN];
    long long token;
} doomed_said;

/* Forks a host of type `type` that submits two jobs, steps once and dies where die says;
 * returns what it said. Call with no host of this process alive (no other threads at fork). */
static doomed_said run_doomed_host(const char *type, int die)
{
    doomed_said said = {0};
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        doomed d = {fds[1], die};
        zg_config cfg;
        zg_config_init(&cfg);
        cfg.store = store;
        cfg.prefetch = 1;
        cfg.on_run = doomed_on_run;
        cfg.on_run_ud = &d;
        cfg.on_hold = doomed_on_hold;
        cfg.on_hold_ud = &d;
        zg_host *h = zg_host_new(&cfg);
        if (!h || zg_errcode(h) != ZG_OK) _exit(2);
        define(h, type, "return 200");
        dprintf(d.fd, "writer %s\n", zg_writer(h));
        char queue[80], u[ZG_UUID_LEN];
        snprintf(queue, sizeof queue, "%s_q", type);
        for (int i = 0; i < 2; i++) {
            if (zg_submit(h, type, "{\"n\": 1}", NULL, u) != ZG_OK) _exit(3);
            dprintf(d.fd, "job %s\n", u);
        }
        const char *queues[] = {queue};
        zg_step_result r;
        zg_step(h, queues, 1, 0, &r);
        _exit(4); /* (never reached: it dies in the step) */
    }
    close(fds[1]);
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    FILE *in = fdopen(fds[0], "r");
    char line[256];
    int njobs = 0;
    while (in && fgets(line, sizeof line, in)) {
        if (sscanf(line, "writer %64s", said.writer) == 1) continue;
        if (njobs < 2 && sscanf(line, "job %36s", said.jobs[njobs]) == 1) njobs++;
        sscanf(line, "begin %36s %lld", said.begun, &said.token);
    }
    if (in) fclose(in);
    CHECK_INT(njobs, 2);
    CHECK_STR(said.begun, said.jobs[0]);
    return said;
}

static int error_count_of(zg_host *h, const char *uuid)
{
    return number_in_view(h, ZG_VIEW_DUMP, uuid, "errorCount", -1);
}

/* A host killed right after its settle's claim gave it the next job, before it said so: once
 * the run it reported is released (it had finished: nothing to release), zg_put_back_claims
 * puts that job back at once, as never claimed, and its run counts no error. Deterministic:
 * the host dies in on_hold. */
static void test_a_claim_on_the_way_of_a_killed_host_goes_back_with_no_error(void)
{
    char type[64], queue[80];
    fresh_type("onway", type, queue);
    doomed_said said = run_doomed_host(type, DIE_IN_HOLD);
    zg_host *h = prefetching_host();
    define(h, type, "return 200");
    /* what a supervisor does: the run it was told of first (finished: EINVAL), then the rest */
    CHECK_INT(zg_release(h, said.begun, said.token, 0, ZG_RELEASE_DIED), ZG_EINVAL);
    CHECK_INT(stats_of(h, said.jobs[1]).state, ZG_MSG_RESERVED);
    char back[2][ZG_UUID_LEN];
    size_t n = 0;
    CHECK_INT(put_back_one(h, said.writer, NULL, back, 2, &n), ZG_OK);
    CHECK_INT((int)n, 1);
    CHECK_STR(back[0], said.jobs[1]);
    zg_message_stats st = stats_of(h, said.jobs[1]);
    CHECK_INT(st.state, ZG_MSG_READY);
    CHECK_INT((int)st.reserves, 0);
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK_STR(r.uuid, said.jobs[1]);
    CHECK_INT(result_of(h, said.jobs[1]), 200);
    CHECK_INT(error_count_of(h, said.jobs[1]), 0);
    zg_host_free(h);
}

/* A host killed in a run it reported: released as a death first, the put-back finds that
 * claim no longer current, and the run's next run records the kill (one error) -- the put-back
 * never erases a death its supervisor was told of. */
static void test_put_back_claims_leaves_a_reported_and_released_run_recorded_as_killed(void)
{
    char type[64], queue[80];
    fresh_type("killed", type, queue);
    doomed_said said = run_doomed_host(type, DIE_AT_BEGIN);
    zg_host *h = prefetching_host();
    define(h, type, "return 200");
    /* the run it said it started is never put back, not even while its release has not
     * happened (or failed): its death must count */
    zg_run_info started = {1, said.begun, NULL, 0, said.token};
    size_t n = 9;
    CHECK_INT(put_back_one(h, said.writer, &started, NULL, 0, &n), ZG_OK);
    CHECK_INT((int)n, 0);
    CHECK_INT(stats_of(h, said.begun).state, ZG_MSG_RESERVED);
    CHECK_INT(zg_release(h, said.begun, said.token, 0, ZG_RELEASE_DIED), ZG_OK);
    CHECK_INT(put_back_one(h, said.writer, NULL, NULL, 0, &n), ZG_OK);
    CHECK_INT((int)n, 0);
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK_STR(r.uuid, said.begun);
    CHECK_INT(error_count_of(h, said.begun), 1);
    zg_host_free(h);
}

/* Sends one command to the Redis at store (a unix socket) on a connection of its own: its reply
 * (NULL when none; free with freeReplyObject). */
static redisReply *redis_run(const char *command)
{
    redisContext *c = redisConnectUnix(store + strlen("unix://"));
    redisReply *reply = c && !c->err ? redisCommand(c, command) : NULL;
    if (c) redisFree(c);
    return reply;
}

/* The process id of the Redis at store: INFO's process_id, or 0. */
static pid_t redis_pid(void)
{
    redisReply *info = redis_run("INFO server");
    const char *at =
        info && info->type == REDIS_REPLY_STRING ? strstr(info->str, "process_id:") : NULL;
    pid_t pid = at ? (pid_t)atol(at + strlen("process_id:")) : 0;
    if (info) freeReplyObject(info);
    return pid;
}

/* 1 when the Redis at store answers command with OK. */
static int redis_says_ok(const char *command)
{
    redisReply *reply = redis_run(command);
    int ok = reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "OK") == 0;
    if (reply) freeReplyObject(reply);
    return ok;
}

/* The integer the Redis at store answers command with (-100: none). */
static long long redis_integer(const char *command)
{
    redisReply *reply = redis_run(command);
    long long v = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -100;
    if (reply) freeReplyObject(reply);
    return v;
}

static char lost_line[1024];

static void capture_lost_claim(void *ud, int level, const char *log_id, const char *msg)
{
    (void)ud, (void)level, (void)log_id;
    if (strstr(msg, "claim whose reply was lost")) snprintf(lost_line, sizeof lost_line, "%s", msg);
}

/* A host on store with a short store timeout (an outage reached quickly) and log as its log;
 * prefetching or not. */
static zg_host *outage_host(int64_t store_timeout_ms, int prefetch,
                            void (*log)(void *, int, const char *, const char *))
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    cfg.prefetch = prefetch;
    cfg.store_timeout_ms = store_timeout_ms;
    cfg.log = log;
    zg_host *h = zg_host_new(&cfg);
    CHECK(h && zg_errcode(h) == ZG_OK);
    return h;
}

/* Waits (for the condition, up to 5 s) until job u is reserved, as other sees it. */
static int reserved_soon(zg_host *other, const char *u)
{
    int reserved = 0;
    for (int i = 0; i < 500 && !reserved; i++) {
        reserved = stats_of(other, u).state == ZG_MSG_RESERVED;
        if (!reserved) usleep(10 * 1000);
    }
    return reserved;
}

/* A host (store timeout 300 ms, logging lost claims; prefetching or not) whose claim of job u,
 * submitted to a queue of its own (queue[0]), went unanswered: Redis stopped with the claim in
 * its socket past the timeout, then went on (and ran it: u is reserved in the host's name). */
static zg_host *host_with_a_lost_claim(const char *name, int prefetch, char u[ZG_UUID_LEN],
                                       char queue[80], zg_host **other)
{
    *other = NULL;
    pid_t pid = redis_pid();
    CHECK(pid > 0);
    if (pid <= 0) return NULL;
    zg_host *h = outage_host(300, prefetch, capture_lost_claim);
    char type[64];
    fresh_type(name, type, queue);
    define(h, type, "return 200");
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_ETIMEDOUT); /* (what a first step sets up, done) */
    CHECK_INT(zg_submit(h, type, "{\"n\": 1}", NULL, u), ZG_OK);
    CHECK(!zg_holding(h));
    lost_line[0] = '\0';
    kill(pid, SIGSTOP);
    int rc = zg_step(h, queues, 1, 0, &r);
    kill(pid, SIGCONT);
    CHECK_INT(rc, ZG_ESTORE);
    /* the claim Redis found in its socket ran once it went on */
    *other = new_host();
    CHECK(reserved_soon(*other, u));
    return h;
}

/* A claim whose reply never came: Redis stopped (a stall) with the claim in its socket, past the
 * host's store timeout; once Redis goes on it runs the claim, and the job is leased to a host
 * that never learnt which job it took. The host's next step puts that job back first (through
 * its claim memo) and then claims it for real: it runs at once with no error and one reserve,
 * not after its TTR with a death recorded. */
static void test_a_job_a_claim_with_a_lost_reply_took_goes_back_at_the_next_step(void)
{
    char u[ZG_UUID_LEN], queue[80];
    zg_host *other, *h = host_with_a_lost_claim("lostreply", 1, u, queue, &other);
    if (!h) return;
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK_STR(r.uuid, u);
    CHECK_INT(result_of(h, u), 200);
    CHECK_INT(error_count_of(h, u), 0);
    CHECK(strstr(lost_line, u) != NULL);
    /* nothing else was put back: the next step finds nothing */
    lost_line[0] = '\0';
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_ETIMEDOUT);
    CHECK_STR(lost_line, "");
    zg_host_free(other);
    zg_host_free(h);
}

static char ending_line[1024];

static void capture_ending(void *ud, int level, const char *log_id, const char *msg)
{
    (void)ud, (void)level, (void)log_id;
    if (strstr(msg, "waits out its TTR")) snprintf(ending_line, sizeof ending_line, "%s", msg);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A host ending during an outage, its claim unanswered a moment ago, does not wait out the store
 * timeout once more to look for what that claim took (a worker ends its hosts one after another:
 * 8 threads took 8 store timeouts, past serve's grace); it says the job, if any, waits out its
 * TTR. */
static void test_a_host_ending_in_an_outage_does_not_wait_for_the_store_again(void)
{
    pid_t pid = redis_pid();
    CHECK(pid > 0);
    if (pid <= 0) return;
    zg_host *h = outage_host(2000, 0, capture_ending);
    char type[64], queue[80];
    fresh_type("ending", type, queue);
    define(h, type, "return 200");
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_ETIMEDOUT);
    ending_line[0] = '\0';
    kill(pid, SIGSTOP);
    int rc = zg_step(h, queues, 1, 0, &r);
    int64_t began = now_ms();
    zg_host_free(h);
    int64_t took = now_ms() - began;
    kill(pid, SIGCONT);
    CHECK_INT(rc, ZG_ESTORE);
    if (took >= 1000) printf("# zg_host_free took %lld ms\n", (long long)took);
    CHECK(took < 1000);
    CHECK(strstr(ending_line, "waits out its TTR") != NULL);
}

/* zg_release_held puts back what a claim whose reply was lost took, prefetch or not, though
 * nothing is held (zg_holding 0): a worker that drains or stops steps no more, and gives the job
 * back this way. */
static void test_zg_release_held_puts_back_what_a_lost_claim_took(void)
{
    char u[ZG_UUID_LEN], queue[80];
    zg_host *other, *h = host_with_a_lost_claim("lostheld", 0, u, queue, &other);
    if (!h) return;
    CHECK(!zg_holding(h));
    lost_line[0] = '\0';
    CHECK_INT(zg_release_held(h), ZG_OK);
    CHECK(strstr(lost_line, u) != NULL);
    zg_message_stats st = stats_of(other, u);
    CHECK_INT(st.state, ZG_MSG_READY);
    CHECK_INT((int)st.reserves, 0);
    zg_host_free(other);
    zg_host_free(h);
}

/* A C function for job code: stops the Redis of ctx (a pid) the first time it is called. */
static int stop_redis_once(void *ctx, const char *args, char **result, char *err, size_t errlen)
{
    (void)args, (void)err, (void)errlen;
    pid_t *pid = ctx;
    if (*pid > 0) kill(*pid, SIGSTOP);
    *pid = 0;
    *result = NULL;
    return ZG_OK;
}

/* The same with the settle that claims the next job: Redis stops in the run, its settle (tried
 * five times) goes unanswered, and Redis then runs it: the run's result is recorded and the
 * next job claimed in the host's name. The next step puts that job back and runs it, no error. */
static void test_a_job_a_settle_with_a_lost_reply_claimed_goes_back_at_the_next_step(void)
{
    pid_t pid = redis_pid(), stop = pid;
    CHECK(pid > 0);
    if (pid <= 0) return;
    zg_host *h = outage_host(300, 1, capture_lost_claim);
    const zg_function fns[] = {{"stop", stop_redis_once}, {NULL, NULL}};
    CHECK_INT(zg_register_module(h, "redisctl", fns, &stop), ZG_OK);
    char type[64], queue[80];
    fresh_type("lostsettle", type, queue);
    define(h, type, "require('redisctl').stop() return 200");
    char u[2][ZG_UUID_LEN];
    for (int i = 0; i < 2; i++)
        CHECK_INT(zg_submit(h, type, "{\"n\": 1}", NULL, u[i]), ZG_OK);
    lost_line[0] = '\0';
    const char *queues[] = {queue};
    zg_step_result r;
    int rc = zg_step(h, queues, 1, 0, &r);
    kill(pid, SIGCONT);
    CHECK_INT(rc, ZG_ESTORE);
    CHECK_INT(stop, 0);
    zg_host *other = new_host();
    CHECK(reserved_soon(other, u[1]));
    CHECK_INT(result_of(other, u[0]), 200);
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK_STR(r.uuid, u[1]);
    CHECK_INT(result_of(h, u[1]), 200);
    CHECK_INT(error_count_of(h, u[1]), 0);
    CHECK(strstr(lost_line, u[1]) != NULL);
    zg_host_free(other);
    zg_host_free(h);
}

/* A lost claim's close keeps its writer's memo of the queue 15 minutes (a claim still on the way
 * can come that late: TCP resends an orphaned socket's data that long), and the writer's next
 * claim there does not cut that back to a minute: else, the queue idle past that minute, the
 * memo gone, the late claim would take a job in the name of a writer that never looks for it. */
static void test_a_claim_after_a_close_keeps_the_closes_guard_against_a_late_claim(void)
{
    char u[ZG_UUID_LEN], queue[80];
    zg_host *other, *h = host_with_a_lost_claim("keepguard", 0, u, queue, &other);
    if (!h) return;
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK); /* closes, puts u back, claims it again */
    CHECK_STR(r.uuid, u);
    char pttl[256];
    snprintf(pttl, sizeof pttl, "PTTL {zq:%s}:claim:%s", queue, zg_writer(h));
    long long left = redis_integer(pttl);
    if (left <= 10 * 60 * 1000) printf("# the memo is kept %lld ms more\n", left);
    CHECK(left > 10 * 60 * 1000);
    zg_host_free(other);
    zg_host_free(h);
}

/* A C function for job code: the first time (*ctx, an int, set), makes Redis hold every write
 * (CLIENT PAUSE WRITE) until the test lifts it; a write whose client gave up meanwhile is never
 * applied. */
static int pause_redis_writes_once(void *ctx, const char *args, char **result, char *err,
                                   size_t errlen)
{
    (void)args, (void)err, (void)errlen;
    int *armed = ctx;
    *result = NULL;
    if (!*armed) return ZG_OK;
    *armed = 0;
    return redis_says_ok("CLIENT PAUSE 20000 WRITE") ? ZG_OK : ZG_EJOB;
}

/* A host (store timeout 200 ms, logging lost claims) that ran job a on one queue, whose settle
 * Redis never applied (it held writes past every retry: a is still leased to the host, to lapse
 * after its TTR as a run that happened), then ran job b on another queue. */
static zg_host *host_with_an_unsettled_run(const char *name, char a[ZG_UUID_LEN],
                                           char b[ZG_UUID_LEN], char queue_a[80], char queue_b[80])
{
    static int armed;
    armed = 1;
    zg_host *h = outage_host(200, 0, capture_lost_claim);
    const zg_function fns[] = {{"pause", pause_redis_writes_once}, {NULL, NULL}};
    CHECK_INT(zg_register_module(h, "redisctl", fns, &armed), ZG_OK);
    char type_a[64], type_b[64], name_a[24], name_b[24];
    snprintf(name_a, sizeof name_a, "%s_a", name);
    snprintf(name_b, sizeof name_b, "%s_b", name);
    fresh_type(name_a, type_a, queue_a);
    fresh_type(name_b, type_b, queue_b);
    define(h, type_a, "require('redisctl').pause() return 200");
    define(h, type_b, "return 200");
    CHECK_INT(zg_submit(h, type_a, "{\"n\": 1}", NULL, a), ZG_OK);
    CHECK_INT(zg_submit(h, type_b, "{\"n\": 1}", NULL, b), ZG_OK);
    const char *only_a[] = {queue_a}, *only_b[] = {queue_b};
    zg_step_result r;
    int rc = zg_step(h, only_a, 1, 0, &r); /* a runs; its settle is held, resent, dropped */
    CHECK(redis_says_ok("CLIENT UNPAUSE"));
    CHECK_INT(rc, ZG_ESTORE);
    CHECK_INT(armed, 0);
    CHECK_INT(zg_step(h, only_b, 1, 0, &r), ZG_OK); /* b runs and settles */
    CHECK_STR(r.uuid, b);
    return h;
}

/* A step of h while Redis holds every write (CLIENT PAUSE WRITE) past h's store timeout: its
 * claim is never applied. Its return code. */
static int step_unanswered(zg_host *h, const char *const *queues, size_t n)
{
    zg_step_result r;
    CHECK(redis_says_ok("CLIENT PAUSE 20000 WRITE"));
    int rc = zg_step(h, queues, n, 0, &r);
    CHECK(redis_says_ok("CLIENT UNPAUSE"));
    return rc;
}

/* h "dies" (its supervisor puts back its claims; it was told of no run in progress): nothing is
 * put back, and job a (a run that happened) stays leased, to wait out its TTR. */
static void check_a_dead_hosts_put_back_leaves(zg_host *h, const char *a)
{
    zg_host *supervisor = new_host();
    const char *writers[] = {zg_writer(h)};
    size_t n = 9;
    CHECK_INT(zg_put_back_claims(supervisor, writers, NULL, 1, NULL, 0, &n), ZG_OK);
    CHECK_INT((int)n, 0);
    CHECK_INT(stats_of(supervisor, a).state, ZG_MSG_RESERVED); /* a waits out its TTR */
    CHECK_INT(stats_of(supervisor, a).reserves, 1);
    zg_host_free(supervisor);
}

/* Only what the lost claim took goes back, not an older claim of the host still leased on
 * another of the queues it asked: job a ran, its settle was never applied (Redis held writes
 * past every retry: a is still leased to the host, to lapse after its TTR as a run that
 * happened), then b ran on another queue, then a claim of both queues got no reply. The next
 * step must leave a leased (its run happened), not put it back as never claimed. */
static void test_a_lost_claim_puts_back_no_older_run_whose_settle_failed(void)
{
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN], queue_a[80], queue_b[80];
    zg_host *h = host_with_an_unsettled_run("unsettled", a, b, queue_a, queue_b);
    const char *both[] = {queue_a, queue_b};
    zg_step_result r;
    /* a claim of both queues: no reply, never applied */
    CHECK_INT(step_unanswered(h, both, 2), ZG_ESTORE);
    lost_line[0] = '\0';
    CHECK_INT(zg_step(h, both, 2, 0, &r), ZG_ETIMEDOUT); /* nothing to put back, nothing ready */
    CHECK_STR(lost_line, "");
    zg_host *other = new_host();
    CHECK_INT(stats_of(other, a).state, ZG_MSG_RESERVED); /* a still waits out its TTR */
    CHECK_INT(stats_of(other, a).reserves, 1);
    zg_host_free(other);
    zg_host_free(h);
}

/* A dead host's older claim is not put back: job a ran, its settle was never applied (a still
 * leased to the host, to lapse after its TTR), its host said it ended (a worker reports a run's
 * end whatever its settle did), then b ran on another queue and the host died. Only the host's
 * newest claim can have been on the way: zg_put_back_claims leaves a leased, not put back as
 * never claimed (it would run again with no error and its reserve given back). */
static void test_put_back_claims_leaves_a_dead_hosts_older_unsettled_run(void)
{
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN], queue_a[80], queue_b[80];
    zg_host *h = host_with_an_unsettled_run("deadold", a, b, queue_a, queue_b);
    check_a_dead_hosts_put_back_leaves(h, a);
    zg_host_free(h);
}

/* A close that found nothing its lost claim took still counts as its writer's newest claim:
 * job a ran, its settle was never applied (a still leased to the host, to lapse after its TTR),
 * b ran on another queue, then a claim of b's queue got no reply and the next step closed it
 * (the memo there, b's, now names no job), and the host died. zg_put_back_claims leaves a
 * leased: the claim made after it, not a, is the one that can have been on the way. */
static void test_put_back_claims_leaves_an_older_unsettled_run_behind_a_closed_claim(void)
{
    char a[ZG_UUID_LEN], b[ZG_UUID_LEN], queue_a[80], queue_b[80];
    zg_host *h = host_with_an_unsettled_run("deadclosed", a, b, queue_a, queue_b);
    const char *only_b[] = {queue_b};
    zg_step_result r;
    /* a claim of b's queue: no reply, never applied */
    CHECK_INT(step_unanswered(h, only_b, 1), ZG_ESTORE);
    lost_line[0] = '\0';
    CHECK_INT(zg_step(h, only_b, 1, 0, &r), ZG_ETIMEDOUT); /* closed: it took nothing */
    CHECK_STR(lost_line, "");
    check_a_dead_hosts_put_back_leaves(h, a);
    zg_host_free(h);
}

/* ---- a claim held up on the way ----
 * A proxy between a host and the Redis at store (a unix socket) that holds what hosts send while
 * `hold` is set, as a network partition does: data a connection sent meanwhile flows once the
 * hold ends, but that of a connection its host closed meanwhile (an orphaned socket, which the
 * kernel sends again only at its next backoff) reaches Redis only once `release` is set; its
 * replies are read and counted (`answered`). */
typedef struct holdup_conn {
    int client, upstream; /* -1: closed */
    char *held;
    size_t nheld;
    int orphan; /* its host closed it with data held */
} holdup_conn;

typedef struct holdup {
    char path[300];
    int listener;
    pthread_t thread;
    atomic_int hold, release, stop, answered;
    /* the writes hosts sent on at once that carry a BLPOP: with a claim in them, and without */
    atomic_int blpop_with_claim, blpop_alone;
    holdup_conn conns[16];
    int nconns;
} holdup;

static int unix_listen(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) path = "";
    memcpy(a.sun_path, path, strlen(path) + 1);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static int unix_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) path = "";
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void write_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w <= 0) return;
        b += w, n -= (size_t)w;
    }
}

static void holdup_close(holdup_conn *c)
{
    if (c->client >= 0) close(c->client);
    if (c->upstream >= 0) close(c->upstream);
    free(c->held);
    memset(c, 0, sizeof *c);
    c->client = c->upstream = -1;
}

/* Whether the n bytes at b hold the text needle. */
static int has_bytes(const char *b, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(b + i, needle, k) == 0) return 1;
    return 0;
}

static void *holdup_loop(void *arg)
{
    holdup *p = arg;
    char buf[65536];
    while (!atomic_load(&p->stop)) {
        struct pollfd fds[1 + 2 * 16];
        int n = 0;
        fds[n++] = (struct pollfd){p->listener, POLLIN, 0};
        for (int i = 0; i < p->nconns; i++) {
            fds[n++] = (struct pollfd){p->conns[i].client, POLLIN, 0};
            fds[n++] = (struct pollfd){p->conns[i].upstream, POLLIN, 0};
        }
        poll(fds, (nfds_t)n, 10);
        int polled = p->nconns; /* (one accepted now was not polled: nothing to read yet) */
        if ((fds[0].revents & POLLIN) && p->nconns < 16) {
            int client = accept(p->listener, NULL, NULL);
            int upstream = client >= 0 ? unix_connect(store + strlen("unix://")) : -1;
            if (upstream >= 0)
                p->conns[p->nconns++] = (holdup_conn){client, upstream, NULL, 0, 0};
            else if (client >= 0)
                close(client);
        }
        for (int i = 0; i < p->nconns; i++) {
            holdup_conn *c = &p->conns[i];
            short in = i < polled ? fds[1 + 2 * i].revents : 0;
            short up = i < polled ? fds[2 + 2 * i].revents : 0;
            if (c->client >= 0 && (in & (POLLIN | POLLHUP))) {
                ssize_t got = read(c->client, buf, sizeof buf);
                if (got <= 0) {
                    close(c->client);
                    c->client = -1;
                    c->orphan = c->nheld > 0;
                    if (!c->orphan) holdup_close(c);
                } else if (atomic_load(&p->hold) || c->nheld) {
                    char *more = realloc(c->held, c->nheld + (size_t)got);
                    if (more) {
                        memcpy(more + c->nheld, buf, (size_t)got);
                        c->held = more;
                        c->nheld += (size_t)got;
                    }
                } else {
                    if (has_bytes(buf, (size_t)got, "$5\r\nBLPOP\r\n"))
                        atomic_fetch_add(has_bytes(buf, (size_t)got, "_claim\r\n")
                                             ? &p->blpop_with_claim
                                             : &p->blpop_alone,
                                         1);
                    write_all(c->upstream, buf, (size_t)got);
                }
            }
            if (c->upstream >= 0 && (up & (POLLIN | POLLHUP))) {
                ssize_t got = read(c->upstream, buf, sizeof buf);
                if (got <= 0)
                    holdup_close(c);
                else if (c->client >= 0)
                    write_all(c->client, buf, (size_t)got);
                else if (c->orphan == 2) {
                    atomic_fetch_add(&p->answered, 1);
                    holdup_close(c);
                }
            }
            /* a host closes a connection it gave up on before its call returns, so before the
             * hold ends: a close not polled yet is seen now (else that orphan's data would flow
             * as a live connection's) */
            if (c->client >= 0 && c->nheld && !atomic_load(&p->hold)) {
                char peek;
                ssize_t k = recv(c->client, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
                if (k == 0) {
                    close(c->client);
                    c->client = -1;
                    c->orphan = 1;
                } else if (k > 0) {
                    continue; /* more of its data first (read at the next poll) */
                }
            }
            if (c->upstream >= 0 && c->nheld && !atomic_load(&p->hold) &&
                (!c->orphan || atomic_load(&p->release))) {
                write_all(c->upstream, c->held, c->nheld);
                c->nheld = 0;
                if (c->orphan) c->orphan = 2; /* its reply is awaited, then it closes */
            }
        }
        int kept = 0; /* closed ones dropped */
        for (int i = 0; i < p->nconns; i++)
            if (p->conns[i].upstream >= 0) p->conns[kept++] = p->conns[i];
        p->nconns = kept;
    }
    for (int i = 0; i < p->nconns; i++)
        holdup_close(&p->conns[i]);
    return NULL;
}

static int holdup_start(holdup *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s/holdup.sock", tmpdir);
    p->listener = unix_listen(p->path);
    if (p->listener < 0) return -1;
    if (pthread_create(&p->thread, NULL, holdup_loop, p) != 0) {
        close(p->listener);
        return -1;
    }
    return 0;
}

static void holdup_stop(holdup *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    close(p->listener);
    unlink(p->path);
}

/* A host whose store is the Redis at store through a holdup proxy p (started here); prefetch
 * and the store timeout (0: the default) as given. */
static zg_host *host_through(holdup *p, int prefetch, int64_t store_timeout_ms)
{
    CHECK_INT(holdup_start(p), 0);
    char url[320];
    snprintf(url, sizeof url, "unix://%s", p->path);
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = url;
    cfg.prefetch = prefetch;
    if (store_timeout_ms) cfg.store_timeout_ms = store_timeout_ms;
    return check_host_of(&cfg);
}

static int answered_at_least(holdup *p, int n)
{
    for (int i = 0; i < 500; i++) {
        if (atomic_load(&p->answered) >= n) return 1;
        usleep(10 * 1000);
    }
    return 0;
}

/* A claim held up on the way while the host goes on: its connection timed out and was closed,
 * the host's next calls go through on a new one, and the claim reaches Redis only after them
 * (a partition healing: the orphaned socket's data comes at the kernel's next backoff). It must
 * take nothing then: the host's put-back, which looked before it arrived, found nothing to put
 * back, and a job it took would be leased to a host that runs it not, until its TTR (one
 * error counted, a death that never was). Every job runs once, at once, with no error. */
static void test_a_lost_claim_that_arrives_after_the_put_back_looked_takes_nothing(void)
{
    holdup p;
    zg_host *h = host_through(&p, 1, 300);
    char type[64], queue[80];
    fresh_type("heldup", type, queue);
    define(h, type, "return 200");
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_ETIMEDOUT); /* (what a first step sets up, done) */
    char u[3][ZG_UUID_LEN];
    for (int i = 0; i < 3; i++)
        CHECK_INT(zg_submit(h, type, "{\"n\": 1}", NULL, u[i]), ZG_OK);
    atomic_store(&p.hold, 1);
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_ESTORE); /* its claim is held */
    atomic_store(&p.hold, 0);
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK); /* runs one, and holds the next */
    atomic_store(&p.release, 1);                    /* the held claim arrives */
    CHECK(answered_at_least(&p, 1));
    int ran = 1;
    for (int i = 0; i < 4 && zg_step(h, queues, 1, 0, &r) == ZG_OK; i++)
        ran++;
    CHECK_INT(ran, 3);
    zg_host *other = new_host();
    for (int i = 0; i < 3; i++) {
        CHECK_INT(result_of(other, u[i]), 200);
        CHECK_INT(error_count_of(other, u[i]), 0);
        CHECK_INT((int)stats_of(other, u[i]).reserves, 1);
    }
    zg_host_free(other);
    zg_host_free(h);
    holdup_stop(&p);
}

typedef struct waiting_step {
    zg_host *h;
    const char *queue;
    int rc;
    zg_step_result r;
} waiting_step;

static void *step_waiting(void *arg)
{
    waiting_step *w = arg;
    const char *queues[] = {w->queue};
    w->rc = zg_step(w->h, queues, 1, 10000, &w->r);
    return NULL;
}

/* An idle host waits for a signal on the server and claims in the same write (BLPOP, then the
 * claim, pipelined): the server runs the claim as soon as a submit serves the BLPOP, without the
 * round trip back to the host and on to the server again. So no write of the host carries a
 * BLPOP without its claim, and the job submitted while it waits is the one its step runs. */
static void test_an_idle_host_waits_and_claims_in_one_write(void)
{
    holdup p;
    zg_host *h = host_through(&p, 0, 0);
    char type[64], queue[80];
    fresh_type("waiter", type, queue);
    define(h, type, "return 200");
    waiting_step w = {h, queue, -1, {0}};
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, step_waiting, &w), 0);
    /* (waits for the condition: the host's wait reached the server) */
    for (int i = 0; i < 1000 && atomic_load(&p.blpop_with_claim) + atomic_load(&p.blpop_alone) == 0;
         i++)
        usleep(5 * 1000);
    zg_host *other = new_host();
    define(other, type, "return 200");
    char u[ZG_UUID_LEN];
    CHECK_INT(zg_submit(other, type, "{\"n\": 1}", NULL, u), ZG_OK);
    pthread_join(t, NULL);
    CHECK_INT(w.rc, ZG_OK);
    CHECK_STR(w.r.uuid, u);
    CHECK_INT(result_of(other, u), 200);
    CHECK(atomic_load(&p.blpop_with_claim) >= 1);
    CHECK_INT(atomic_load(&p.blpop_alone), 0);
    zg_host_free(other);
    zg_host_free(h);
    holdup_stop(&p);
}

static int count_in(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* A held job whose next zg_step comes after its lease lapsed is not run on that stale lease (its
 * side effects would happen twice: once refused at the settle, once for real): the step renews
 * an old held lease first and, refused, claims the job afresh. */
static void test_a_held_job_whose_lease_lapsed_runs_once(void)
{
    zg_host *h = prefetching_host();
    char type[64], queue[80], src[512], got[ZG_NAME_LEN];
    fresh_type("lapse", type, queue);
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s', TTR = 0.2,\n"
             "  run = function(self) self:job_log_info('ran') return 200 end }\n",
             type, queue);
    CHECK_INT(zg_load_string(h, type, src, got), ZG_OK);
    char u[2][ZG_UUID_LEN];
    for (int i = 0; i < 2; i++)
        CHECK_INT(zg_submit(h, type, "{}", NULL, u[i]), ZG_OK);
    const char *queues[] = {queue};
    zg_step_result r;
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK(zg_holding(h));
    /* wait (for the condition, not a fixed time) until the held lease has lapsed */
    for (int i = 0; i < 500 && stats_of(h, u[1]).time_left_ms > 0; i++)
        usleep(10 * 1000);
    CHECK(stats_of(h, u[1]).time_left_ms <= 0);
    usleep(20 * 1000); /* past the deadline, not at it (the store compares in ms) */
    CHECK_INT(zg_step(h, queues, 1, 0, &r), ZG_OK);
    CHECK_STR(r.uuid, u[1]);
    CHECK_INT(result_of(h, u[1]), 200);
    char *json = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, u[1], &json), ZG_OK);
    CHECK(json && count_in(json, "\"ran\"") == 1);
    if (json && count_in(json, "\"ran\"") != 1) printf("# %s\n", json);
    zg_free(json);
    zg_host_free(h);
}

/* A C function a job calls may use its host, but not run jobs on it (that would replace the
 * running job's lease and heartbeat under it). */
static int step_inside(void *ctx, const char *args, char **result, char *err, size_t errlen)
{
    (void)args, (void)err, (void)errlen;
    zg_host *h = ctx;
    zg_step_result r;
    int step = zg_step(h, NULL, 0, 0, &r), run = zg_run(h, NULL, 0, 1, NULL),
        reload = zg_reload(h, NULL);
    *result = malloc(64);
    snprintf(*result, 64, "[%d,%d,%d]", step, run, reload);
    return ZG_OK;
}

static void test_a_job_cannot_make_its_host_run_jobs_inside_its_run(void)
{
    zg_host *h = new_host();
    const zg_function fns[] = {{"step", step_inside}, {NULL, NULL}};
    CHECK_INT(zg_register_module(h, "inner", fns, h), ZG_OK);
    define(h, "reenter",
           "local codes = require('inner').step()\n"
           "self:record_event(table.concat(codes, ','))\n"
           "return 200");
    char uuid[ZG_UUID_LEN], *info = NULL;
    CHECK_INT(zg_submit(h, "reenter", "{}", NULL, uuid), ZG_OK);
    CHECK_INT(zg_run(h, NULL, 0, 1, NULL), ZG_OK);
    CHECK_INT(result_of(h, uuid), 200);
    CHECK_INT(zg_read(h, ZG_VIEW_INFO, uuid, &info), ZG_OK);
    char expected[32];
    snprintf(expected, sizeof expected, "%d,%d,%d", ZG_EINVAL, ZG_EINVAL, ZG_EINVAL);
    CHECK(info && strstr(info, expected) != NULL);
    if (info && !strstr(info, expected)) printf("# %s\n", info);
    zg_free(info);
    zg_host_free(h);
}

/* A read writes nothing: the views load the job (its init() runs), and what that code records
 * or saves stays off the store. An init() that logged added an event and bumped cas at every
 * `zerog info`, so a running job's save() failed with CasError because someone looked at it. The
 * entry the job's init() recorded at its submit is stored once. */
static void test_reading_a_job_writes_nothing_whatever_its_code_does(void)
{
    zg_host *h = new_host();
    const char *src =
        "local zerog = require 'zerog'\n"
        "return { JOB_TYPE = 'looked_at', QUEUE_NAME = 'looked_at_q',\n"
        "  SCHEMA = { s = { type = 'string' } },\n"
        "  init = function(self) self:job_log_info('init of ' .. self.s) end,\n"
        "  get_data = function(self)\n"
        "    self:update_attrs { s = 'changed' }; self:save(); self:record_warning('seen by a "
        "read')\n"
        "    zerog.get_job(self.uuid):record_event('through get_job')\n"
        "    local made = zerog.make_job('looked_at', { s = 'made by a read' })\n"
        "    assert(not made:enqueue(), 'a read submitted a job')\n"
        "    assert(zerog.BaseJob._load_read_only == nil and self._load_read_only == nil)\n"
        "    return { s = self.s }\n"
        "  end,\n"
        "  run = function(self) return 200 end }\n";
    CHECK_INT(zg_load_string(h, "looked_at", src, NULL), ZG_OK);
    char uuid[ZG_UUID_LEN];
    CHECK_INT(zg_submit(h, "looked_at", "{\"s\": \"x\"}", NULL, uuid), ZG_OK);
    char *before = NULL, *after = NULL, *view = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, uuid, &before), ZG_OK);
    for (int v = ZG_VIEW_PROGRESS; v <= ZG_VIEW_FIELDS; v++) {
        CHECK_INT(zg_read(h, (zg_view)v, uuid, &view), ZG_OK);
        if (v == ZG_VIEW_DATA) CHECK_STR(view, "{\"s\":\"changed\"}"); /* (its own copy) */
        zg_free(view);
        view = NULL;
    }
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, uuid, &after), ZG_OK);
    CHECK_STR(after, before); /* the same cas, fields and lists */
    CHECK(before && strstr(before, "\"s\":\"x\"") != NULL);
    const char *first = before ? strstr(before, "init of x") : NULL;
    CHECK(first != NULL && strstr(first + 1, "init of x") == NULL); /* one entry: the submit's */
    CHECK(before && strstr(before, "seen by a read") == NULL);
    CHECK(before && strstr(before, "through get_job") == NULL);
    zg_queue_counts qc;
    CHECK_INT(zg_queue_counts_get(h, "looked_at_q", &qc), ZG_OK);
    CHECK_INT(qc.ready, 1); /* the one submitted, none made by a read */
    zg_free(before);
    zg_free(after);
    CHECK_INT(zg_kill(h, uuid), ZG_OK); /* (not left waiting on a shared Redis) */
    zg_host_free(h);
}

static void run_all(const char *backend)
{
    printf("# backend %s\n", backend);
    RUN(test_reading_a_job_writes_nothing_whatever_its_code_does);
    RUN(test_hosts_in_threads_work_side_by_side);
    RUN(test_zg_stop_from_another_thread_ends_zg_run);
    RUN(test_zg_stop_from_a_signal_handler_ends_zg_run);
    RUN(test_job_scripts_call_registered_c_functions);
    RUN(test_the_vm_uses_the_embedders_allocator);
    RUN(test_a_job_over_the_memory_limit_fails_and_the_host_lives_on);
    RUN(test_jobs_dir_is_loaded_and_reload_takes_edits);
    RUN(test_a_missing_jobs_dir_is_an_error_of_the_host);
    RUN(test_zg_interrupt_releases_a_run_looping_in_a_coroutine_without_an_error);
    RUN(test_a_failed_run_is_logged_with_its_log_id_code_and_file_line);
    RUN(test_a_job_claimed_with_a_settle_goes_back_when_the_host_will_not_run_it);
    RUN(test_a_held_job_whose_lease_lapsed_runs_once);
    RUN(test_on_hold_names_the_job_claimed_ahead_and_its_return);
    RUN(test_put_back_claims_returns_a_dead_hosts_last_claim);
    if (strcmp(backend, "mem://") != 0) { /* (a forked host shares only Redis) */
        RUN(test_a_claim_on_the_way_of_a_killed_host_goes_back_with_no_error);
        RUN(test_put_back_claims_leaves_a_reported_and_released_run_recorded_as_killed);
    }
    if (strncmp(backend, "unix://", 7) == 0) /* (a stopped master of a cluster fails over) */
    {
        RUN(test_a_job_a_claim_with_a_lost_reply_took_goes_back_at_the_next_step);
        RUN(test_zg_release_held_puts_back_what_a_lost_claim_took);
        RUN(test_a_job_a_settle_with_a_lost_reply_claimed_goes_back_at_the_next_step);
        RUN(test_a_lost_claim_puts_back_no_older_run_whose_settle_failed);
        RUN(test_a_host_ending_in_an_outage_does_not_wait_for_the_store_again);
        RUN(test_put_back_claims_leaves_a_dead_hosts_older_unsettled_run);
        RUN(test_put_back_claims_leaves_an_older_unsettled_run_behind_a_closed_claim);
        RUN(test_a_lost_claim_that_arrives_after_the_put_back_looked_takes_nothing);
        RUN(test_a_claim_after_a_close_keeps_the_closes_guard_against_a_late_claim);
        RUN(test_an_idle_host_waits_and_claims_in_one_write);
    }
    RUN(test_a_job_cannot_make_its_host_run_jobs_inside_its_run);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zerog_embed_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    run_all("mem://");
    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) {
        store = url;
        run_all(url);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) return 1;
    return check_done();
}
