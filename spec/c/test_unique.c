/* Unique jobs through the public API (zerog.h): a type's UNIQUE (a field, a list of fields, a
 * function of the params; ttl; how long a job holds its key), ZG_EEXIST with the holder's uuid,
 * batches, declarations refused at load, and on Redis 8 processes submitting 1,000 jobs each over
 * 100 keys at once: exactly 100 jobs. Runs on mem:// and, with ZEROG_SPEC_REDIS, on Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "zerog.h"

static const char *store = "mem://";
static char tag[32];

static zg_host *new_host(void)
{
    return check_new_host(store);
}

/* Loads type <tag><name> with the UNIQUE given and a SCHEMA of fields a (string), n (integer);
 * returns the load's code. */
static int define(zg_host *h, const char *name, const char *unique, char type[ZG_NAME_LEN])
{
    snprintf(type, ZG_NAME_LEN, "%s%s", tag, name);
    char src[1024];
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_q', UNIQUE = %s,\n"
             "  SCHEMA = { a = { type = 'string' }, n = { type = 'integer' } },\n"
             "  run = function(self) return 200 end }\n",
             type, type, unique);
    return zg_load_string(h, type, src, NULL);
}

static void test_a_field_key_returns_the_holder_with_zg_eexist_until_it_runs(void)
{
    zg_host *h = new_host();
    char type[ZG_NAME_LEN], u1[ZG_UUID_LEN], u2[ZG_UUID_LEN], u3[ZG_UUID_LEN];
    CHECK_INT(define(h, "field", "{ key = 'a' }", type), ZG_OK);
    CHECK_INT(zg_submit(h, type, "{\"a\": \"x\", \"n\": 1}", NULL, u1), ZG_OK);
    CHECK_INT(zg_submit(h, type, "{\"a\": \"x\", \"n\": 2}", NULL, u2), ZG_EEXIST);
    CHECK_STR(u2, u1);
    CHECK(strstr(zg_errstr(h), u1) != NULL);
    CHECK_INT(zg_submit(h, type, "{\"a\": \"y\"}", NULL, u3), ZG_OK); /* another key */
    long ran = 0;
    CHECK_INT(zg_run(h, NULL, 0, 1, &ran), ZG_OK);
    CHECK_INT(ran, 2);
    CHECK_INT(zg_submit(h, type, "{\"a\": \"x\"}", NULL, u2), ZG_OK); /* it ran: free again */
    CHECK(strcmp(u2, u1) != 0);
    zg_host_free(h);
}

static void test_a_list_or_function_key_and_the_hold_until_done(void)
{
    zg_host *h = new_host();
    char t1[ZG_NAME_LEN], t2[ZG_NAME_LEN], u1[ZG_UUID_LEN], u2[ZG_UUID_LEN];
    CHECK_INT(define(h, "list", "{ key = { 'a', 'n' }, ['while'] = 'until_done' }", t1), ZG_OK);
    CHECK_INT(zg_submit(h, t1, "{\"a\": \"x\", \"n\": 1}", NULL, u1), ZG_OK);
    CHECK_INT(zg_submit(h, t1, "{\"a\": \"x\", \"n\": 2}", NULL, u2), ZG_OK); /* n differs */
    long ran = 0;
    CHECK_INT(zg_run(h, NULL, 0, 1, &ran), ZG_OK);
    CHECK_INT(zg_submit(h, t1, "{\"a\": \"x\", \"n\": 1}", NULL, u2), ZG_EEXIST); /* succeeded */
    CHECK_STR(u2, u1);
    CHECK_INT(define(h, "fn", "{ key = function(p) return string.lower(p.a) end }", t2), ZG_OK);
    CHECK_INT(zg_submit(h, t2, "{\"a\": \"Case\"}", NULL, u1), ZG_OK);
    CHECK_INT(zg_submit(h, t2, "{\"a\": \"CASE\"}", NULL, u2), ZG_EEXIST);
    CHECK_STR(u2, u1);
    /* a batch: duplicates in it come back as the holder's uuid */
    const char *lines[] = {"{\"a\": \"b1\"}", "{\"a\": \"B1\"}", "{\"a\": \"case\"}"};
    char uuids[3][ZG_UUID_LEN];
    CHECK_INT(zg_submit_batch(h, t2, lines, 3, NULL, uuids), ZG_OK);
    CHECK_STR(uuids[1], uuids[0]);
    CHECK_STR(uuids[2], u1);
    zg_host_free(h);
}

static void test_a_key_function_that_fails_or_returns_no_string_fails_the_submit(void)
{
    zg_host *h = new_host();
    char t[ZG_NAME_LEN], u[ZG_UUID_LEN];
    CHECK_INT(define(h, "bad_fn", "{ key = function(p) return nil end }", t), ZG_OK);
    int rc = zg_submit(h, t, "{\"a\": \"x\"}", NULL, u);
    CHECK(rc != ZG_OK && rc != ZG_EEXIST);
    CHECK(strstr(zg_errstr(h), "UNIQUE.key") != NULL);
    zg_host_free(h);
}

static void test_bad_unique_declarations_are_refused_at_load(void)
{
    zg_host *h = new_host();
    char t[ZG_NAME_LEN];
    const char *bad[] = {"'a'", "{ }", "{ key = 3 }", "{ key = {} }", "{ key = 'a', ttl = -1 }",
                         "{ key = 'a', ['while'] = 'forever' }",
                         /* a field the SCHEMA lacks: always null, one job for every submit */
                         "{ key = 'order_id' }", "{ key = { 'a', 'N' } }"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = define(h, "bad", bad[i], t);
        if (rc == ZG_OK) printf("# accepted UNIQUE = %s\n", bad[i]);
        CHECK(rc != ZG_OK);
        CHECK(strstr(zg_errstr(h), "UNIQUE") != NULL);
    }
    zg_host_free(h);
}

/* A ttl under a millisecond is a ttl (rounded up to 1 ms), not "no limit": the key lapses. */
static void test_a_ttl_under_a_millisecond_still_lapses(void)
{
    zg_host *h = new_host();
    char t[ZG_NAME_LEN], u1[ZG_UUID_LEN], u2[ZG_UUID_LEN];
    CHECK_INT(define(h, "tiny_ttl", "{ key = 'a', ttl = 0.0004 }", t), ZG_OK);
    CHECK_INT(zg_submit(h, t, "{\"a\": \"x\"}", NULL, u1), ZG_OK);
    int rc = ZG_EEXIST;
    for (int i = 0; i < 200 && rc == ZG_EEXIST; i++) { /* within 2 s: the key lapsed */
        rc = zg_submit(h, t, "{\"a\": \"x\"}", NULL, u2);
        if (rc == ZG_EEXIST) nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    CHECK_INT(rc, ZG_OK);
    CHECK(strcmp(u1, u2) != 0);
    zg_host_free(h);
}

/* A failed job retried while another job holds its key would make two queued jobs of one key:
 * the retry is refused with ZG_EEXIST naming the holder; once the key is free the retried job
 * takes it again, so a submit of the key finds it. */
static void test_retrying_a_failed_job_keeps_one_job_per_key(void)
{
    zg_host *h = new_host();
    char t[ZG_NAME_LEN], u1[ZG_UUID_LEN], u2[ZG_UUID_LEN], u3[ZG_UUID_LEN];
    snprintf(t, sizeof t, "%sretry", tag);
    char src[512];
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_q', UNIQUE = { key = 'a' },\n"
             "  SCHEMA = { a = { type = 'string' } }, run = function(self) return 500 end }\n",
             t, t);
    CHECK_INT(zg_load_string(h, t, src, NULL), ZG_OK);
    CHECK_INT(zg_submit(h, t, "{\"a\": \"x\"}", NULL, u1), ZG_OK);
    long ran = 0;
    CHECK_INT(zg_run(h, NULL, 0, 1, &ran), ZG_OK); /* u1 failed: the key is free */
    CHECK_INT(zg_submit(h, t, "{\"a\": \"x\"}", NULL, u2), ZG_OK);
    CHECK_INT(zg_retry(h, u1), ZG_EEXIST);
    CHECK(strstr(zg_errstr(h), u2) != NULL);
    char queue[ZG_NAME_LEN + 2];
    snprintf(queue, sizeof queue, "%s_q", t);
    zg_queue_counts counts;
    CHECK_INT(zg_queue_counts_get(h, queue, &counts), ZG_OK);
    CHECK_INT(counts.ready, 1);                    /* u2 only */
    CHECK_INT(zg_run(h, NULL, 0, 1, &ran), ZG_OK); /* u2 failed too: the key is free */
    CHECK_INT(zg_retry(h, u1), ZG_OK);
    CHECK_INT(zg_submit(h, t, "{\"a\": \"x\"}", NULL, u3), ZG_EEXIST);
    CHECK_STR(u3, u1);
    zg_host_free(h);
}

/* 8 processes x 1,000 submits over 100 keys, at once: exactly 100 jobs (Redis). */
static void test_concurrent_processes_submitting_100_keys_create_exactly_100_jobs(void)
{
    zg_host *h = new_host();
    char type[ZG_NAME_LEN];
    CHECK_INT(define(h, "race", "{ key = 'n' }", type), ZG_OK);
    zg_host_free(h); /* no thread of ours while the submitters are forked */
    enum { PROCS = 8, EACH = 1000, KEYS = 100 };
    int fds[PROCS][2];
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        if (pipe(fds[p]) != 0) return;
        if ((pids[p] = fork()) == 0) {
            close(fds[p][0]);
            zg_host *c = new_host();
            define(c, "race", "{ key = 'n' }", type);
            int created = 0;
            for (int i = 0; i < EACH; i++) {
                char params[32], u[ZG_UUID_LEN];
                snprintf(params, sizeof params, "{\"n\": %d}", (i * 13 + p * 7) % KEYS);
                created += zg_submit(c, type, params, NULL, u) == ZG_OK;
            }
            zg_host_free(c);
            if (write(fds[p][1], &created, sizeof created) != (ssize_t)sizeof created) _exit(1);
            _exit(0);
        }
        close(fds[p][1]);
    }
    int total = 0;
    for (int p = 0; p < PROCS; p++) {
        int created = 0;
        CHECK_INT(read(fds[p][0], &created, sizeof created), (long)sizeof created);
        close(fds[p][0]);
        waitpid(pids[p], NULL, 0);
        total += created;
    }
    CHECK_INT(total, KEYS);
    h = new_host();
    char queue[ZG_NAME_LEN + 4];
    snprintf(queue, sizeof queue, "%s_q", type);
    zg_queue_counts counts;
    CHECK_INT(zg_queue_counts_get(h, queue, &counts), ZG_OK);
    CHECK_INT(counts.ready, KEYS);
    zg_host_free(h);
}

int main(void)
{
    snprintf(tag, sizeof tag, "uq%lx%x", (unsigned long)time(NULL) & 0xffffff, (unsigned)getpid());
    RUN(test_a_field_key_returns_the_holder_with_zg_eexist_until_it_runs);
    RUN(test_a_list_or_function_key_and_the_hold_until_done);
    RUN(test_a_key_function_that_fails_or_returns_no_string_fails_the_submit);
    RUN(test_bad_unique_declarations_are_refused_at_load);
    RUN(test_a_ttl_under_a_millisecond_still_lapses);
    RUN(test_retrying_a_failed_job_keeps_one_job_per_key);
    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) {
        store = url;
        snprintf(tag, sizeof tag, "uqr%lx%x", (unsigned long)time(NULL) & 0xffffff,
                 (unsigned)getpid());
        RUN(test_a_field_key_returns_the_holder_with_zg_eexist_until_it_runs);
        RUN(test_a_list_or_function_key_and_the_hold_until_done);
        RUN(test_a_key_function_that_fails_or_returns_no_string_fails_the_submit);
        RUN(test_a_ttl_under_a_millisecond_still_lapses);
        RUN(test_retrying_a_failed_job_keeps_one_job_per_key);
        RUN(test_concurrent_processes_submitting_100_keys_create_exactly_100_jobs);
    }
    return check_done();
}
