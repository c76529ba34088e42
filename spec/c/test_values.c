/* Hostile values through the embedding API (README, "Limits on values"): zg_submit and
 * zg_submit_batch refuse each with ZG_EINVAL and a message that says what is wrong, and store
 * nothing; what JSON can carry (a NUL in a string, 0.1 + 0.2, 2^53 - 1) is stored exactly.
 * Runs on mem:// and, when ZEROG_SPEC_REDIS names a Redis, there too. */
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "zerog.h"

static const char *store = "mem://";
static char queue[64]; /* a queue of its own per run, so a shared Redis holds nothing else */

static zg_host *new_host(void)
{
    zg_host *h = check_new_host(store);
    char src[512], got[ZG_NAME_LEN];
    snprintf(src, sizeof src,
             "return { JOB_TYPE = 'values', QUEUE_NAME = '%s', SCHEMA = {\n"
             "  s = { type = 'string' }, i = { type = 'integer' }, n = { type = 'number' },\n"
             "  x = { type = 'any' } }, run = function() return 200 end }\n",
             queue);
    int rc = zg_load_string(h, "values.lua", src, got);
    if (rc != ZG_OK) printf("# %s\n", zg_errstr(h));
    CHECK_INT(rc, ZG_OK);
    return h;
}

static int64_t jobs_in_queue(zg_host *h)
{
    zg_queue_counts c;
    CHECK_INT(zg_queue_counts_get(h, queue, &c), ZG_OK);
    return c.ready + c.delayed + c.reserved + c.buried;
}

/* Whether s is valid UTF-8 (the messages of the API always are). */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80             ? 0
                : (*p & 0xE0) == 0xC0 ? 1
                : (*p & 0xF0) == 0xE0 ? 2
                : (*p & 0xF8) == 0xF0 ? 3
                                      : -1;
        if (n < 0) return 0;
        for (p++; n > 0; n--, p++)
            if ((*p & 0xC0) != 0x80) return 0;
    }
    return 1;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Submits params (and opts) and checks the refusal: ZG_EINVAL, a message saying `says`, no
 * stack trace, and no job stored. */
static void refused(zg_host *h, const char *params, const zg_submit_opts *opts, const char *says)
{
    char uuid[ZG_UUID_LEN];
    int64_t before = jobs_in_queue(h);
    int rc = zg_submit(h, "values", params, opts, uuid);
    if (rc != ZG_EINVAL || !strstr(zg_errstr(h), says))
        printf("# params %.60s: %d \"%.200s\", expected \"%s\"\n", params, rc, zg_errstr(h), says);
    CHECK_INT(rc, ZG_EINVAL);
    CHECK(strstr(zg_errstr(h), says) != NULL);
    CHECK(strstr(zg_errstr(h), "traceback") == NULL);
    CHECK(utf8_valid(zg_errstr(h)));
    CHECK_INT(jobs_in_queue(h), before);
}

static void zg_submit_refuses_hostile_params_and_stores_nothing(void)
{
    zg_host *h = new_host();
    static const char *const cases[][2] = {
        {"{\"n\": NaN}", "no NaN, Infinity or hex"},
        {"{\"n\": Infinity}", "no NaN, Infinity or hex"},
        {"{\"n\": -Infinity}", "no NaN, Infinity or hex"},
        {"{\"i\": 0x10}", "no NaN, Infinity or hex"},
        {"{\"n\": 1e999}", "params hold a number too large for a double"},
        {"{\"n\": 9007199254740993}", "params hold the integer 9007199254740993, beyond +-2^53"},
        {"{\"i\": 1e300}", "field i must be an integer between -2^53 and 2^53"},
        {"{\"i\": 1.5}", "field i must be an integer, got the number 1.5"},
        {"{\"s\": \"a\", \"s\": \"b\"}", "params have the key \"s\" twice in one object"},
        {"{\"s\": \"\xff\"}", "params are not valid UTF-8 (byte 8)"},
        {"{\"s\": \"\xed\xa0\x80\"}", "params are not valid UTF-8"}, /* an encoded surrogate */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(h, cases[i][0], NULL, cases[i][1]);
    char deep[200] = "{\"x\": ";
    for (int i = 0; i < 64; i++)
        strcat(deep, "[");
    for (int i = 0; i < 64; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    refused(h, deep, NULL, "params nest deeper than 64 levels");
    size_t big = 16 * 1024 * 1024 + 16;
    char *huge = malloc(big + 1);
    CHECK(huge != NULL);
    if (huge) {
        memset(huge, 'a', big);
        memcpy(huge, "{\"s\": \"", 7);
        memcpy(huge + big - 2, "\"}", 2);
        huge[big] = '\0';
        refused(h, huge, NULL, "over the limit of 16777216 bytes (16 MiB)");
        free(huge);
    }
    zg_host_free(h);
}

static void zg_submit_refuses_queue_options_beyond_their_ranges(void)
{
    zg_host *h = new_host();
    zg_submit_opts late = {.delay = 366 * 24 * 3600 + 1}, quick = {.ttr = 0.05},
                   low = {.priority = -1, .has_priority = 1},
                   high = {.priority = 4294967296LL, .has_priority = 1};
    zg_submit_opts negative = {.delay = -5}, nan_delay = {.delay = NAN}, nan_ttr = {.ttr = NAN},
                   negative_ttr = {.ttr = -1};
    refused(h, "{}", &late, "delay must be a number of seconds from 0 to 31622400");
    refused(h, "{}", &negative, "delay must be a number of seconds from 0 to 31622400");
    refused(h, "{}", &nan_delay, "delay must be a number of seconds from 0 to 31622400");
    refused(h, "{}", &nan_ttr, "ttr must be a number of seconds from 0.1 to 31622400");
    refused(h, "{}", &negative_ttr, "ttr must be a number of seconds from 0.1 to 31622400");
    refused(h, "{}", &quick, "ttr must be a number of seconds from 0.1 to 31622400");
    refused(h, "{}", &low, "priority must be a whole number from 0 to 4294967295");
    refused(h, "{}", &high, "priority must be a whole number from 0 to 4294967295");
    zg_host_free(h);
}

static void zg_submit_batch_refuses_every_line_for_one_hostile_line_naming_it(void)
{
    zg_host *h = new_host();
    const char *lines[] = {"{\"i\": 1}", "{\"i\": 2}", "{\"i\": 3, \"i\": 4}"};
    char uuids[3][ZG_UUID_LEN];
    int64_t before = jobs_in_queue(h);
    CHECK_INT(zg_submit_batch(h, "values", lines, 3, NULL, uuids), ZG_EINVAL);
    CHECK(starts_with(zg_errstr(h), "line 3: params have the key \"i\" twice"));
    CHECK_INT(jobs_in_queue(h), before);
    const char *nan_lines[] = {"{\"n\": NaN}", "{\"i\": 2}"};
    CHECK_INT(zg_submit_batch(h, "values", nan_lines, 2, NULL, uuids), ZG_EINVAL);
    CHECK(starts_with(zg_errstr(h), "line 1: params are not valid JSON"));
    CHECK_INT(jobs_in_queue(h), before);
    zg_host_free(h);
}

/* An empty or blank line is "no params", as "" is for zg_submit. */
static void zg_submit_batch_takes_an_empty_line_as_no_params(void)
{
    zg_host *h = new_host();
    const char *lines[] = {"{\"i\": 1}", "", " \t"};
    char uuids[3][ZG_UUID_LEN];
    memset(uuids, 0, sizeof uuids);
    int64_t before = jobs_in_queue(h);
    int rc = zg_submit_batch(h, "values", lines, 3, NULL, uuids);
    if (rc != ZG_OK) printf("# %s\n", zg_errstr(h));
    CHECK_INT(rc, ZG_OK);
    CHECK_INT(strlen(uuids[2]), 36);
    CHECK_INT(jobs_in_queue(h), before + 3);
    zg_host_free(h);
}

/* A NULL line is "no params", as NULL is for zg_submit: the batch stores every line, or none. */
static void zg_submit_batch_takes_a_null_line_as_no_params_and_stores_every_line(void)
{
    zg_host *h = new_host();
    const char *lines[] = {"{\"i\": 1}", NULL, "{\"i\": 3}"};
    char uuids[3][ZG_UUID_LEN];
    memset(uuids, 0, sizeof uuids);
    int64_t before = jobs_in_queue(h);
    int rc = zg_submit_batch(h, "values", lines, 3, NULL, uuids);
    if (rc != ZG_OK) printf("# %s\n", zg_errstr(h));
    CHECK_INT(rc, ZG_OK);
    for (int i = 0; i < 3; i++)
        CHECK_INT(strlen(uuids[i]), 36);
    CHECK_INT(jobs_in_queue(h), before + 3);
    zg_host_free(h);
}

static void zg_submit_stores_a_nul_and_doubles_exactly(void)
{
    zg_host *h = new_host();
    char uuid[ZG_UUID_LEN];
    CHECK_INT(
        zg_submit(h, "values",
                  "{\"s\": \"a\\u0000b\", \"n\": 0.30000000000000004, \"i\": 9007199254740991, "
                  "\"x\": [-9007199254740992, 1e-7]}",
                  NULL, uuid),
        ZG_OK);
    char *json = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, uuid, &json), ZG_OK);
    CHECK(json && strstr(json, "\"s\":\"a\\u0000b\""));
    CHECK(json && strstr(json, "\"n\":0.30000000000000004"));
    CHECK(json && strstr(json, "\"i\":9007199254740991"));
    CHECK(json && strstr(json, "\"x\":[-9007199254740992,1e-07]"));
    zg_free(json);
    zg_host_free(h);
}

static void zg_read_and_zg_kill_of_a_hostile_id_are_not_found_named_briefly(void)
{
    zg_host *h = new_host();
    char id[4096];
    memset(id, 'z', sizeof id - 1);
    id[0] = '\xff';
    id[sizeof id - 1] = '\0';
    char *json = NULL;
    CHECK_INT(zg_read(h, ZG_VIEW_DUMP, id, &json), ZG_ENOTFOUND);
    CHECK(utf8_valid(zg_errstr(h)) && strlen(zg_errstr(h)) < 100);
    CHECK_INT(zg_kill(h, id), ZG_ENOTFOUND);
    CHECK(utf8_valid(zg_errstr(h)) && strlen(zg_errstr(h)) < 100);
    zg_host_free(h);
}

/* A message longer than ZG_ERRSTR_LEN is cut after a whole character: still UTF-8. */
static void a_message_cut_to_zg_errstr_len_stays_valid_utf8(void)
{
    zg_host *h = new_host();
    /* a script whose loading raises 6,000 bytes of e-acute: the cut falls inside one */
    const char *src = "error(('\\xc3\\xa9'):rep(3000))";
    char got[ZG_NAME_LEN];
    CHECK_INT(zg_load_string(h, "long.lua", src, got), ZG_ESCRIPT);
    CHECK(strlen(zg_errstr(h)) > ZG_ERRSTR_LEN - 8 && strlen(zg_errstr(h)) < ZG_ERRSTR_LEN);
    CHECK(utf8_valid(zg_errstr(h)));
    char uuid[ZG_UUID_LEN], params[8000] = "{";
    for (int i = 0; i < 20; i++) {
        char field[400] = "";
        for (int j = 0; j < 100; j++)
            strcat(field, "\xc3\xa9");
        snprintf(params + strlen(params), sizeof params - strlen(params), "%s\"%d%s\": 1",
                 i ? ", " : "", i, field);
    }
    strcat(params, "}");
    CHECK_INT(zg_submit(h, "values", params, NULL, uuid), ZG_EINVAL);
    CHECK(strstr(zg_errstr(h), "and 10 more: not in the job type's SCHEMA") != NULL);
    CHECK(utf8_valid(zg_errstr(h)) && strlen(zg_errstr(h)) < 1000);
    zg_host_free(h);
}

static void run_all(const char *url, int n)
{
    store = url;
    snprintf(queue, sizeof queue, "values_q_%d_%ld", n, (long)getpid());
    RUN(zg_submit_refuses_hostile_params_and_stores_nothing);
    RUN(zg_submit_refuses_queue_options_beyond_their_ranges);
    RUN(zg_submit_batch_refuses_every_line_for_one_hostile_line_naming_it);
    RUN(zg_submit_batch_takes_an_empty_line_as_no_params);
    RUN(zg_submit_batch_takes_a_null_line_as_no_params_and_stores_every_line);
    RUN(zg_submit_stores_a_nul_and_doubles_exactly);
    RUN(zg_read_and_zg_kill_of_a_hostile_id_are_not_found_named_briefly);
    RUN(a_message_cut_to_zg_errstr_len_stays_valid_utf8);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    run_all("mem://", 0);
    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) run_all(url, 1);
    return check_done();
}
