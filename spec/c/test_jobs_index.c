/* Finding and steering jobs through the public API (zerog.h): zg_list with its filters and
 * cursor across queues, the summaries as C data, zg_retry of a job that failed for real and its
 * rerun, zg_delete, zg_purge, zg_stats_by_type, and their refusals of bad input. Runs on mem://
 * and, when ZEROG_SPEC_REDIS names a Redis, there too; on Redis also the index against the
 * documents after worker processes were killed with SIGKILL at random moments. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "zerog.h"

static const char *store = "mem://";
static char tag[32]; /* job types and queues are unique per run and store */

static zg_host *new_host(void)
{
    return check_new_host(store);
}

/* Defines job type <tag><name> on queue <tag><queue> with the class fields and run body given. */
static const char *define(zg_host *h, const char *name, const char *queue, const char *fields,
                          const char *run_body)
{
    static char types[8][ZG_NAME_LEN];
    static int next;
    char *type = types[next++ % 8];
    snprintf(type, ZG_NAME_LEN, "%s%s", tag, name);
    char src[2048];
    snprintf(src, sizeof src,
             "local zerog = require 'zerog'\n"
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s%s', %s\n"
             "  run = function(self) %s end }\n",
             type, tag, queue, fields, run_body);
    char got[ZG_NAME_LEN];
    int rc = zg_load_string(h, type, src, got);
    if (rc != ZG_OK) printf("# %s\n", zg_errstr(h));
    CHECK_INT(rc, ZG_OK);
    return type;
}

static const char *queue_name(const char *queue)
{
    static char names[4][ZG_NAME_LEN];
    static int next;
    char *q = names[next++ % 4];
    snprintf(q, ZG_NAME_LEN, "%s%s", tag, queue);
    return q;
}

static void run_until_idle(zg_host *h)
{
    long ran = 0;
    CHECK_INT(zg_run(h, NULL, 0, 1, &ran), ZG_OK);
}

/* Pages through every job the filter matches; returns how many, counting each uuid of want[] in
 * seen[] (no repeats: a repeated uuid counts twice). */
static size_t list_all(zg_host *h, zg_list_filter f, char (*want)[ZG_UUID_LEN], int *seen,
                       size_t nwant)
{
    size_t total = 0;
    char cursor[128] = "";
    for (int pages = 0; pages < 100; pages++) {
        f.cursor = cursor[0] ? cursor : NULL;
        zg_job_page page;
        int rc = zg_list(h, &f, &page);
        if (rc != ZG_OK) printf("# zg_list: %s\n", zg_errstr(h));
        CHECK_INT(rc, ZG_OK);
        for (size_t i = 0; i < page.n; i++)
            for (size_t k = 0; k < nwant; k++)
                if (strcmp(page.jobs[i].uuid, want[k]) == 0) seen[k]++;
        total += page.n;
        int more = page.next != NULL;
        if (more) snprintf(cursor, sizeof cursor, "%s", page.next);
        zg_job_page_free(&page);
        if (!more) break;
    }
    return total;
}

static void test_zg_list_pages_across_queues_newest_first_with_summaries_as_c_data(void)
{
    zg_host *h = new_host();
    const char *ok = define(h, "ok", "qa", "", "self:add_to_completeness(0.5) return 200");
    const char *bad = define(h, "bad", "qb", "MAX_ERRORS = 1,", "error('disk full')");
    enum { N = 7 };
    char u[2 * N][ZG_UUID_LEN];
    for (int i = 0; i < N; i++) {
        CHECK_INT(zg_submit(h, ok, "{}", NULL, u[i]), ZG_OK);
        CHECK_INT(zg_submit(h, bad, "{}", NULL, u[N + i]), ZG_OK);
    }
    int seen[2 * N] = {0};
    zg_list_filter f = {.limit = 3};
    f.job_type = ok;
    CHECK_INT(list_all(h, f, u, seen, 2 * N), N);
    run_until_idle(h);
    /* both queues, one cursor: every job once, newest first within each page */
    memset(seen, 0, sizeof seen);
    zg_list_filter both = {.states = 1u << ZG_JOBS_SUCCEEDED | 1u << ZG_JOBS_FAILED, .limit = 4};
    size_t total = 0;
    for (int t = 0; t < 2; t++) {
        both.job_type = t ? bad : ok;
        total += list_all(h, both, u, seen, 2 * N);
    }
    CHECK_INT(total, 2 * N);
    for (int i = 0; i < 2 * N; i++)
        CHECK_INT(seen[i], 1);
    zg_list_filter failed = {.states = 1u << ZG_JOBS_FAILED, .job_type = bad, .limit = 1};
    zg_job_page page;
    CHECK_INT(zg_list(h, &failed, &page), ZG_OK);
    CHECK_INT(page.n, 1);
    CHECK(page.next != NULL);
    if (page.n == 1) {
        zg_job_summary *s = &page.jobs[0];
        CHECK_INT(s->state, ZG_JOBS_FAILED);
        CHECK_STR(s->job_type, bad);
        CHECK_STR(s->queue, queue_name("qb"));
        CHECK_INT(s->result_code, 500);
        CHECK_INT(s->error_count, 1);
        CHECK(s->last_error && strstr(s->last_error, "disk full"));
        CHECK(s->created_at && strlen(s->created_at) == 24 && s->created_at[23] == 'Z');
        CHECK(s->updated_at != NULL);
        CHECK(s->state_since_ms > 1700000000000LL);
    }
    zg_job_page_free(&page);
    zg_list_filter good = {.states = 1u << ZG_JOBS_SUCCEEDED, .job_type = ok, .limit = 50};
    CHECK_INT(zg_list(h, &good, &page), ZG_OK);
    CHECK_INT(page.n, N);
    CHECK(page.next == NULL); /* a short page is the last */
    for (size_t i = 0; i < page.n; i++) {
        CHECK(page.jobs[i].completeness > 0.99); /* set to 1 at the finish */
        CHECK_INT(page.jobs[i].result_code, 200);
        CHECK(page.jobs[i].last_error == NULL);
        if (i) CHECK(page.jobs[i - 1].state_since_ms >= page.jobs[i].state_since_ms);
    }
    zg_job_page_free(&page);
    /* the queue filter */
    zg_list_filter in_qa = {.queue = queue_name("qa"), .limit = 50};
    CHECK_INT(zg_list(h, &in_qa, &page), ZG_OK);
    CHECK_INT(page.n, N);
    zg_job_page_free(&page);
    zg_host_free(h);
}

static void test_zg_retry_reruns_a_failed_job_keeping_its_error_count(void)
{
    zg_host *h = new_host();
    /* fails on its first run, succeeds on the next */
    const char *type = define(h, "flaky", "qr", "MAX_ERRORS = 1,",
                              "if self.errorCount == 0 then error('first time') end return 200");
    char u[ZG_UUID_LEN], ok[ZG_UUID_LEN];
    CHECK_INT(zg_submit(h, type, "{}", NULL, u), ZG_OK);
    run_until_idle(h);
    zg_job_page page;
    zg_list_filter f = {.states = 1u << ZG_JOBS_FAILED, .job_type = type};
    CHECK_INT(zg_list(h, &f, &page), ZG_OK);
    CHECK_INT(page.n, 1);
    zg_job_page_free(&page);
    CHECK_INT(zg_retry(h, u), ZG_OK);
    CHECK_INT(zg_retry(h, u), ZG_EINVAL); /* waiting now, not failed */
    CHECK_INT(zg_retry(h, "00000000-0000-4000-8000-000000000000"), ZG_ENOTFOUND);
    f.states = 1u << ZG_JOBS_WAITING;
    CHECK_INT(zg_list(h, &f, &page), ZG_OK);
    CHECK_INT(page.n, 1);
    zg_job_page_free(&page);
    run_until_idle(h);
    char *info = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_INFO, u, &info), ZG_OK);
    CHECK(info && strstr(info, "\"result\":200") && strstr(info, "Retried by hand"));
    zg_free(info);
    char *doc = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, u, &doc), ZG_OK);
    CHECK(doc && strstr(doc, "\"errorCount\":1"));
    zg_free(doc);
    CHECK_INT(zg_retry(h, u), ZG_EINVAL); /* succeeded */
    CHECK_INT(zg_submit(h, type, "{}", NULL, ok), ZG_OK);
    zg_host_free(h);
}

static void test_zg_delete_and_zg_purge_remove_jobs_with_their_entries(void)
{
    zg_host *h = new_host();
    const char *type =
        define(h, "purged", "qp", "MAX_ERRORS = 1, SCHEMA = { fail = { type = 'boolean' } },",
               "if self.fail then error('no') end return 200");
    enum { N = 5 };
    char u[2 * N][ZG_UUID_LEN];
    for (int i = 0; i < 2 * N; i++)
        CHECK_INT(zg_submit(h, type, i % 2 ? "{\"fail\": true}" : "{}", NULL, u[i]), ZG_OK);
    run_until_idle(h);
    CHECK_INT(zg_delete(h, u[0]), ZG_OK);
    CHECK_INT(zg_delete(h, u[0]), ZG_ENOTFOUND);
    char *json = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_PROGRESS, u[0], &json), ZG_ENOTFOUND);
    int64_t deleted = -1;
    zg_list_filter f = {.states = 1u << ZG_JOBS_FAILED, .job_type = type};
    CHECK_INT(zg_purge(h, &f, 3600 * 1000, &deleted), ZG_OK); /* none is an hour old */
    CHECK_INT(deleted, 0);
    CHECK_INT(zg_purge(h, &f, 0, &deleted), ZG_OK);
    CHECK_INT(deleted, N);
    for (int i = 1; i < 2 * N; i += 2)
        CHECK_INT(zg_read(h, ZG_VIEW_PROGRESS, u[i], &json), ZG_ENOTFOUND);
    zg_type_counts *rows = NULL;
    size_t n = 0;
    CHECK_INT(zg_stats_by_type(h, queue_name("qp"), &rows, &n), ZG_OK);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(rows[0].job_type, type);
        CHECK_INT(rows[0].count[ZG_JOBS_SUCCEEDED], N - 1);
        CHECK_INT(rows[0].count[ZG_JOBS_FAILED], 0);
    }
    zg_free(rows);
    zg_list_filter waiting = {.states = 1u << ZG_JOBS_WAITING};
    CHECK_INT(zg_purge(h, &waiting, 0, &deleted), ZG_EINVAL);
    f.states = 0; /* both finished states */
    CHECK_INT(zg_purge(h, &f, 0, &deleted), ZG_OK);
    CHECK_INT(deleted, N - 1);
    zg_host_free(h);
}

static void test_bad_filters_are_einval(void)
{
    zg_host *h = new_host();
    zg_job_page page;
    zg_list_filter f = {.limit = ZG_LIST_MAX_LIMIT + 1};
    CHECK_INT(zg_list(h, &f, &page), ZG_EINVAL);
    f = (zg_list_filter){.cursor = "not a cursor"};
    CHECK_INT(zg_list(h, &f, &page), ZG_EINVAL);
    f = (zg_list_filter){.cursor = "000000000000001:../../etc"};
    CHECK_INT(zg_list(h, &f, &page), ZG_EINVAL);
    f = (zg_list_filter){.states = 1u << ZG_JOBS_NSTATES};
    CHECK_INT(zg_list(h, &f, &page), ZG_EINVAL);
    f = (zg_list_filter){.queue = ""};
    CHECK_INT(zg_list(h, &f, &page), ZG_EINVAL);
    CHECK_INT(zg_list(h, NULL, &page), ZG_EINVAL);
    CHECK_STR(zg_jobs_state_name(ZG_JOBS_SUCCEEDED), "succeeded");
    CHECK(zg_jobs_state_name(ZG_JOBS_NSTATES) == NULL);
    CHECK_INT(zg_jobs_state_parse("buried"), ZG_JOBS_BURIED);
    CHECK_INT(zg_jobs_state_parse("finished"), -1);
    zg_host_free(h);
}

/* A listing shows only jobs that still exist: once their retention has ended, finished jobs are
 * not listed, even on a queue no host claims from (which deletes them a few at a time), just as
 * reading one of them answers "not found". */
static void test_zg_list_leaves_out_jobs_whose_retention_has_ended(void)
{
    zg_host *h = new_host();
    const char *type = define(h, "brief", "qe", "RETENTION = 1,", "return 200");
    enum { N = 30 };
    char u[N][ZG_UUID_LEN];
    for (int i = 0; i < N; i++)
        CHECK_INT(zg_submit(h, type, "{}", NULL, u[i]), ZG_OK);
    run_until_idle(h);
    /* the last to finish is the last to expire: wait until reading it says it is gone */
    char *json = NULL;
    int rc = ZG_OK;
    for (int tries = 0; tries < 100 && rc == ZG_OK; tries++) {
        rc = zg_read(h, ZG_VIEW_PROGRESS, u[N - 1], &json);
        zg_free(json);
        json = NULL;
        if (rc == ZG_OK) usleep(50 * 1000);
    }
    CHECK_INT(rc, ZG_ENOTFOUND);
    zg_list_filter f = {.job_type = type, .limit = 10};
    int seen[N] = {0};
    CHECK_INT(list_all(h, f, u, seen, N), 0);
    zg_host_free(h);
}

/* ---- SIGKILL of workers (Redis) ---- */

/* A worker process: runs jobs of the type until killed. */
static void worker_process(const char *type_fields, const char *body)
{
    zg_host *h = new_host();
    define(h, "chaos", "qc", type_fields, body);
    long ran = 0;
    (void)zg_run(h, NULL, 0, 0, &ran);
    _exit(0);
}

static void test_the_index_agrees_with_the_documents_after_workers_are_killed(void)
{
    const char *fields = "MAX_ERRORS = 2, RETRY_DELAY = 0.05, TTR = 0.4,";
    const char *body = "zerog.sleep(0.06) local r = math.random(6) "
                       "if r == 1 then error('unlucky') end "
                       "if r == 2 then zerog.sleep(0.05) end "
                       "if r == 3 then return -1, 0.02 end "
                       "self:add_to_completeness(0.3) return 200";
    zg_host *h = new_host();
    const char *type = define(h, "chaos", "qc", fields, body);
    enum { N = 60, WORKERS = 3 };
    static char u[N][ZG_UUID_LEN];
    for (int i = 0; i < N; i++)
        CHECK_INT(zg_submit(h, type, "{}", NULL, u[i]), ZG_OK);
    zg_host_free(h); /* no thread of ours while workers are forked (a fork copies one thread) */
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++)
        if ((pids[w] = fork()) == 0) worker_process(fields, body);
    /* SIGKILL a worker at random moments and start another in its place, for a while (the
     * jobs take 60 ms and more: there is always work left, and runs are cut short) */
    unsigned seed = (unsigned)time(NULL);
    for (int round = 0; round < 8; round++) {
        usleep((useconds_t)(30000 + rand_r(&seed) % 70000)); /* random moments, not a sync */
        int w = (int)(rand_r(&seed) % WORKERS);
        kill(pids[w], SIGKILL);
        waitpid(pids[w], NULL, 0);
        if ((pids[w] = fork()) == 0) worker_process(fields, body);
    }
    for (int w = 0; w < WORKERS; w++) {
        kill(pids[w], SIGKILL);
        waitpid(pids[w], NULL, 0);
    }
    h = new_host();
    /* what the killed workers held lapses after the TTR (applied by the queue's next steps,
     * a listing's among them): then no job is listed as running, and every job is listed once
     * under the state of its queue entry */
    zg_list_filter running = {.states = 1u << ZG_JOBS_RUNNING, .job_type = type};
    size_t still_running = 1;
    for (int i = 0; i < 100 && still_running; i++) {
        zg_job_page page;
        CHECK_INT(zg_list(h, &running, &page), ZG_OK);
        still_running = page.n;
        zg_job_page_free(&page);
        if (still_running) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    CHECK_INT(still_running, 0);
    for (int st = 0; st < ZG_JOBS_NSTATES; st++) {
        zg_list_filter in_state = {.states = 1u << st, .job_type = type, .limit = 1000};
        zg_job_page page;
        CHECK_INT(zg_list(h, &in_state, &page), ZG_OK);
        for (size_t i = 0; i < page.n; i++) {
            zg_message_stats ms;
            CHECK_INT(zg_job_stats(h, page.jobs[i].uuid, &ms), ZG_OK);
            int want = ms.state == ZG_MSG_READY          ? ZG_JOBS_WAITING
                       : ms.state == ZG_MSG_DELAYED      ? ZG_JOBS_DELAYED
                       : ms.state == ZG_MSG_RESERVED     ? ZG_JOBS_RUNNING
                       : ms.state == ZG_MSG_BURIED       ? ZG_JOBS_BURIED
                       : page.jobs[i].result_code == 200 ? ZG_JOBS_SUCCEEDED
                                                         : ZG_JOBS_FAILED;
            if (want != st) printf("# job %s listed as %d, is %d\n", page.jobs[i].uuid, st, want);
            CHECK_INT(st, want);
        }
        zg_job_page_free(&page);
    }
    /* one host finishes everything */
    zg_host *last = new_host();
    define(last, "chaos", "qc", fields, body);
    zg_list_filter live = {.states = 1u << ZG_JOBS_WAITING | 1u << ZG_JOBS_DELAYED |
                                     1u << ZG_JOBS_RUNNING,
                           .job_type = type};
    for (int i = 0; i < 200; i++) {
        run_until_idle(last);
        zg_job_page page;
        CHECK_INT(zg_list(last, &live, &page), ZG_OK);
        size_t n = page.n;
        zg_job_page_free(&page);
        if (!n) break;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL); /* delayed ones and lapsing leases are due soon */
    }
    /* every job listed once, under the state its document says */
    static int seen[N];
    memset(seen, 0, sizeof seen);
    zg_list_filter all = {.job_type = type, .limit = 100};
    CHECK_INT(list_all(last, all, u, seen, N), N);
    for (int i = 0; i < N; i++) {
        CHECK_INT(seen[i], 1);
        char *progress = NULL;
        CHECK_INT(zg_read(last, ZG_VIEW_PROGRESS, u[i], &progress), ZG_OK);
        int result = progress && strstr(progress, "\"result\":")
                         ? atoi(strstr(progress, "\"result\":") + 9)
                         : -999;
        zg_free(progress);
        zg_list_filter one = {.job_type = type,
                              .states = 1u << (result == 200 ? ZG_JOBS_SUCCEEDED : ZG_JOBS_FAILED),
                              .limit = 1000};
        int found[1] = {0};
        list_all(last, one, &u[i], found, 1);
        if (found[0] != 1) printf("# job %s result %d not listed as finished\n", u[i], result);
        CHECK_INT(found[0], 1);
    }
    zg_host_free(last);
    zg_host_free(h);
}

int main(void)
{
    srand((unsigned)time(NULL));
    snprintf(tag, sizeof tag, "ix%lx%x", (unsigned long)time(NULL) & 0xffffff, (unsigned)getpid());
    RUN(test_zg_list_pages_across_queues_newest_first_with_summaries_as_c_data);
    RUN(test_zg_retry_reruns_a_failed_job_keeping_its_error_count);
    RUN(test_zg_delete_and_zg_purge_remove_jobs_with_their_entries);
    RUN(test_bad_filters_are_einval);
    RUN(test_zg_list_leaves_out_jobs_whose_retention_has_ended);
    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) {
        store = url;
        snprintf(tag, sizeof tag, "ixr%lx%x", (unsigned long)time(NULL) & 0xffffff,
                 (unsigned)getpid());
        RUN(test_zg_list_pages_across_queues_newest_first_with_summaries_as_c_data);
        RUN(test_zg_retry_reruns_a_failed_job_keeping_its_error_count);
        RUN(test_zg_delete_and_zg_purge_remove_jobs_with_their_entries);
        RUN(test_bad_filters_are_einval);
        RUN(test_zg_list_leaves_out_jobs_whose_retention_has_ended);
        RUN(test_the_index_agrees_with_the_documents_after_workers_are_killed);
    }
    return check_done();
}
