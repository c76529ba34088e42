/* Repeatable jobs through the public API (zerog.h): a type's REPEAT written as schedule
 * "type:<jobType>" (replaced when it changes, removed with it), ad hoc schedules checked and
 * removed, each tick's job carrying scheduledFor, the catch-up rule (once: one job for the ticks
 * missed while no host fired; skip: none), and on Redis, processes firing one @every:1 schedule
 * together -- also killed -9 and started again -- making exactly one job per tick, no tick
 * twice, none missing. Runs on mem:// and, with ZEROG_SPEC_REDIS, on Redis. */
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
static char tag[32];

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Loads type <tag><name> (queue <type>_q) with the REPEAT given ("nil": none). */
static int define(zg_host *h, const char *name, const char *repeat, char type[ZG_NAME_LEN])
{
    snprintf(type, ZG_NAME_LEN, "%s%s", tag, name);
    char src[1024];
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_q', REPEAT = %s,\n"
             "  SCHEMA = { n = { type = 'integer' } },\n"
             "  run = function(self) return 200 end }\n",
             type, type, repeat);
    return zg_load_string(h, type, src, NULL);
}

/* The schedule of id, copied into out; 1 when found. */
static int find_schedule(zg_host *h, const char *id, zg_schedule *out)
{
    zg_schedule *rows = NULL;
    size_t n = 0;
    int found = 0;
    CHECK_INT(zg_schedule_list(h, &rows, &n), ZG_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].id, id) == 0) {
            *out = rows[i];
            out->params = NULL;
            found = 1;
        }
    zg_schedules_free(rows, n);
    return found;
}

static int by_value(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The scheduledFor of every job of type (sorted) into ticks; returns how many jobs. */
static size_t job_ticks(zg_host *h, const char *type, long long *ticks, size_t max)
{
    zg_list_filter f = {0};
    f.job_type = type;
    f.limit = ZG_LIST_MAX_LIMIT;
    zg_job_page page = {0};
    CHECK_INT(zg_list(h, &f, &page), ZG_OK);
    size_t n = 0;
    for (size_t i = 0; i < page.n && n < max; i++) {
        char *json = NULL;
        if (zg_read(h, ZG_VIEW_DUMP, page.jobs[i].uuid, &json) != ZG_OK) continue;
        const char *at = strstr(json, "\"scheduledFor\":");
        ticks[n++] = at ? atoll(at + strlen("\"scheduledFor\":")) : -1;
        zg_free(json);
    }
    zg_job_page_free(&page);
    qsort(ticks, n, sizeof *ticks, by_value);
    return n;
}

static void step_for(zg_host *h, long ms)
{
    long long until = wall_ms() + ms;
    while (wall_ms() < until) {
        zg_step_result r;
        zg_step(h, NULL, 0, 100, &r);
    }
}

static void test_a_types_repeat_is_schedule_type_id_replaced_when_changed_removed_with_it(void)
{
    zg_host *h = check_new_host(store);
    char t[ZG_NAME_LEN], id[ZG_NAME_LEN + 8];
    zg_schedule s;
    CHECK_INT(define(h, "typed", "{ every = 60, params = { n = 7 } }", t), ZG_OK);
    snprintf(id, sizeof id, "type:%s", t);
    CHECK(find_schedule(h, id, &s));
    CHECK_STR(s.rule, "@every:60");
    CHECK_STR(s.queue, strcat(strcpy((char[ZG_NAME_LEN + 4]){0}, t), "_q"));
    CHECK(s.next_ms > wall_ms() && s.next_ms <= wall_ms() + 60000 && s.next_ms % 60000 == 0);
    CHECK_INT(define(h, "typed", "{ cron = '0 3 * * *', tz = 'Europe/Paris' }", t), ZG_OK);
    CHECK(find_schedule(h, id, &s));
    CHECK_STR(s.rule, "0 3 * * *");
    CHECK_STR(s.tz, "Europe/Paris");
    CHECK_INT(define(h, "typed", "nil", t), ZG_OK); /* REPEAT removed from the script */
    CHECK(!find_schedule(h, id, &s));
    zg_host_free(h);
}

/* A rolling deploy that adds a REPEAT: a host of the old script (no REPEAT) that starts removes
 * the schedule; the hosts of the new one write it again within seconds (mem://: removed by hand,
 * the same removal). A host of a third version with another rule keeps its rule: no fight. */
static void test_a_repeat_removed_by_an_old_host_comes_back_and_versions_do_not_fight(void)
{
    zg_host *h = check_new_host(store);
    char t[ZG_NAME_LEN], id[ZG_NAME_LEN + 8];
    zg_schedule s;
    CHECK_INT(define(h, "deploy", "{ every = 60 }", t), ZG_OK);
    snprintf(id, sizeof id, "type:%s", t);
    CHECK(find_schedule(h, id, &s));
    int shared = strcmp(store, "mem://") != 0;
    zg_host *old = shared ? check_new_host(store) : NULL;
    if (old) {
        CHECK_INT(define(old, "deploy", "nil", t), ZG_OK); /* its start removes it */
    } else
        CHECK_INT(zg_schedule_remove(h, id), ZG_OK);
    CHECK(!find_schedule(old ? old : h, id, &s)); /* (old's first look removes it) */
    long long until = wall_ms() + 6000;
    while (!find_schedule(h, id, &s) && wall_ms() < until)
        step_for(h, 100);
    CHECK(find_schedule(h, id, &s)); /* written again by the host whose script has it */
    CHECK_STR(s.rule, "@every:60");
    if (old) {
        CHECK_INT(define(old, "deploy", "{ every = 120 }", t), ZG_OK); /* another version */
        CHECK(find_schedule(old, id, &s));
        CHECK_STR(s.rule, "@every:120");
        step_for(h, 2500); /* past a restore of h's: it keeps the other version's rule */
        CHECK(find_schedule(h, id, &s));
        CHECK_STR(s.rule, "@every:120");
        zg_host_free(old);
    }
    zg_host_free(h);
}

/* In a rolling deploy, a host of the old script that finds the new version's REPEAT due cannot
 * make its job (the new params do not fit its SCHEMA): it leaves the tick to a host of the new
 * version rather than letting it pass without a job. Two hosts on one store (Redis). */
static void test_a_host_of_another_version_leaves_a_tick_it_cannot_make_to_the_others(void)
{
    zg_host *old = check_new_host(store), *h = check_new_host(store);
    char t[ZG_NAME_LEN], id[ZG_NAME_LEN + 8], src[1024];
    snprintf(t, sizeof t, "%sversions", tag);
    snprintf(id, sizeof id, "type:%s", t);
    snprintf(src, sizeof src,
             "return { JOB_TYPE = '%s', QUEUE_NAME = '%s_q', REPEAT = { every = 1 },\n"
             "  run = function(self) return 200 end }\n",
             t, t);
    CHECK_INT(zg_load_string(old, t, src, NULL), ZG_OK);
    zg_schedule s;
    CHECK(find_schedule(old, id, &s)); /* the old version's, written at its start */
    CHECK_INT(define(h, "versions", "{ every = 1, params = { n = 7 } }", t), ZG_OK);
    CHECK(find_schedule(h, id, &s)); /* the new version's, with params the old SCHEMA refuses */
    long long first = (long long)s.next_ms;
    step_for(old, 2200); /* the old host looks at it over two ticks */
    step_for(h, 1200);
    long long ticks[64];
    size_t n = job_ticks(h, t, ticks, 64);
    CHECK(n >= 1);
    if (n) CHECK_INT(ticks[0], first); /* the first tick made its job, late, not lost */
    zg_host_free(old);
    zg_host_free(h);
}

static void test_bad_repeat_declarations_fail_to_load_naming_the_field(void)
{
    zg_host *h = check_new_host(store);
    char t[ZG_NAME_LEN];
    const char *bad[][2] = {
        {"{ cron = '*/5 * * *' }", "REPEAT.cron"},
        {"{ every = 0 }", "REPEAT.every"},
        {"{ cron = '@daily', every = 5 }", "REPEAT needs one of"},
        {"{ cron = '@daily', tz = 'Nowhere/Land' }", "REPEAT.tz: unknown time zone Nowhere/Land"},
        {"{ every = 5, catch_up = 'all' }", "REPEAT.catch_up"},
        {"{ every = 5, params = { n = 'x' } }", "REPEAT.params"},
        {"{ every = 5, each = 3 }", "unknown field each"},
        {"'hourly'", "REPEAT must be"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = define(h, "bad", bad[i][0], t);
        CHECK(rc == ZG_ESCRIPT);
        if (!strstr(zg_errstr(h), bad[i][1]))
            printf("# REPEAT = %s: %s (expected %s)\n", bad[i][0], zg_errstr(h), bad[i][1]);
        CHECK(strstr(zg_errstr(h), bad[i][1]) != NULL);
    }
    zg_host_free(h);
}

static void test_ad_hoc_schedules_are_checked_listed_and_removed(void)
{
    zg_host *h = check_new_host(store);
    char t[ZG_NAME_LEN], id[ZG_NAME_LEN + 8];
    CHECK_INT(define(h, "adhoc", "nil", t), ZG_OK);
    zg_schedule def;
    memset(&def, 0, sizeof def);
    snprintf(def.job_type, sizeof def.job_type, "%s", t);
    snprintf(def.rule, sizeof def.rule, "*/5 * * * *");
    snprintf(def.tz, sizeof def.tz, "Europe/Paris");
    def.params = "{\"n\": 3}";
    CHECK_INT(zg_schedule_add(h, &def, id), ZG_OK);
    zg_schedule s;
    CHECK(find_schedule(h, id, &s));
    CHECK_STR(s.job_type, t);
    CHECK(s.next_ms % 300000 == 0 && s.last_ms == 0);
    def.params = "{\"n\": \"x\"}";
    CHECK_INT(zg_schedule_add(h, &def, id), ZG_EINVAL);
    def.params = NULL;
    snprintf(def.rule, sizeof def.rule, "61 * * * *");
    CHECK_INT(zg_schedule_add(h, &def, id), ZG_EINVAL);
    snprintf(def.rule, sizeof def.rule, "@hourly");
    snprintf(def.tz, sizeof def.tz, "Atlantis/Capital");
    CHECK_INT(zg_schedule_add(h, &def, id), ZG_EINVAL);
    snprintf(def.tz, sizeof def.tz, "UTC");
    snprintf(def.job_type, sizeof def.job_type, "%sno_such_type", tag);
    CHECK_INT(zg_schedule_add(h, &def, id), ZG_ENOTFOUND);
    CHECK_INT(zg_schedule_remove(h, s.id), ZG_OK);
    CHECK(!find_schedule(h, s.id, &s));
    CHECK_INT(zg_schedule_remove(h, s.id), ZG_ENOTFOUND);
    zg_host_free(h);
}

/* An @every:1 REPEAT fired by one host stepping for 3.5 s: one job a second, each with the
 * tick it was made for, consecutive whole seconds; lastRun is the newest. */
static void test_each_tick_makes_one_job_carrying_scheduled_for(void)
{
    zg_host *h = check_new_host(store);
    char t[ZG_NAME_LEN], id[ZG_NAME_LEN + 8];
    CHECK_INT(define(h, "every", "{ every = 1 }", t), ZG_OK);
    step_for(h, 3500);
    long long ticks[64];
    size_t n = job_ticks(h, t, ticks, 64);
    CHECK(n >= 3 && n <= 5);
    for (size_t i = 0; i < n; i++) {
        CHECK(ticks[i] % 1000 == 0);
        if (i) CHECK_INT(ticks[i] - ticks[i - 1], 1000);
    }
    zg_schedule s;
    snprintf(id, sizeof id, "type:%s", t);
    CHECK(find_schedule(h, id, &s));
    CHECK(n && s.last_ms == ticks[n - 1] && s.next_ms == s.last_ms + 1000);
    zg_host_free(h);
}

/* Ticks missed while no host fired (the host does not step for 3.3 s): with catch-up once,
 * the next look makes one job, for the first missed tick, and moves the schedule past now;
 * with skip, no job. */
static void test_missed_ticks_make_one_job_with_catch_up_once_and_none_with_skip(void)
{
    zg_host *h = check_new_host(store);
    char t1[ZG_NAME_LEN], t2[ZG_NAME_LEN];
    CHECK_INT(define(h, "once", "{ every = 1 }", t1), ZG_OK);
    CHECK_INT(define(h, "skip", "{ every = 1, catch_up = 'skip' }", t2), ZG_OK);
    zg_schedule s1, s2;
    char id1[ZG_NAME_LEN + 8], id2[ZG_NAME_LEN + 8];
    snprintf(id1, sizeof id1, "type:%s", t1);
    snprintf(id2, sizeof id2, "type:%s", t2);
    CHECK(find_schedule(h, id1, &s1) && find_schedule(h, id2, &s2));
    sleep_ms(3300); /* "every host down" */
    zg_step_result r;
    zg_step(h, NULL, 0, 0, &r); /* one look: fires each due schedule once */
    long long ticks[16];
    CHECK_INT(job_ticks(h, t1, ticks, 16), 1);
    CHECK_INT(ticks[0], s1.next_ms);
    CHECK_INT(job_ticks(h, t2, ticks, 16), 0);
    long long now = wall_ms();
    zg_schedule a1, a2;
    CHECK(find_schedule(h, id1, &a1) && find_schedule(h, id2, &a2));
    CHECK(a1.next_ms > now - 1000 && a2.next_ms > now - 1000);
    CHECK(a1.next_ms >= s1.next_ms + 3000 && a2.next_ms >= s2.next_ms + 3000);
    CHECK_INT(a1.last_ms, s1.next_ms);
    zg_host_free(h);
}

/* Checks ticks (sorted): no tick twice, consecutive seconds; prints what is wrong. */
static void check_one_job_per_tick(const long long *ticks, size_t n)
{
    size_t dups = 0, gaps = 0;
    for (size_t i = 1; i < n; i++) {
        if (ticks[i] == ticks[i - 1]) dups++;
        if (ticks[i] - ticks[i - 1] > 1000) gaps++;
    }
    printf("# %zu jobs over %lld s of ticks, %zu duplicates, %zu gaps\n", n,
           n ? (ticks[n - 1] - ticks[0]) / 1000 + 1 : 0, dups, gaps);
    CHECK_INT(dups, 0);
    CHECK_INT(gaps, 0);
}

/* A child process: a host of its own stepping (claiming and firing) for ms. */
static pid_t spawn_stepper(const char *type_src_name, long ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        zg_config cfg;
        zg_config_init(&cfg);
        cfg.store = store;
        zg_host *h = zg_host_new(&cfg);
        char t[ZG_NAME_LEN];
        if (!h || zg_errcode(h) != ZG_OK || define(h, type_src_name, "{ every = 1 }", t) != ZG_OK)
            _exit(2);
        step_for(h, ms);
        zg_host_free(h);
        _exit(0);
    }
    return pid;
}

static void test_four_processes_firing_an_every_1_schedule_make_one_job_per_tick(void)
{
    char t[ZG_NAME_LEN];
    pid_t pids[4];
    for (int p = 0; p < 4; p++)
        pids[p] = spawn_stepper("four", 6000);
    for (int p = 0; p < 4; p++) {
        int status = 0;
        waitpid(pids[p], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    zg_host *h = check_new_host(store);
    CHECK_INT(define(h, "four", "{ every = 1 }", t), ZG_OK);
    long long ticks[64];
    size_t n = job_ticks(h, t, ticks, 64);
    CHECK(n >= 5 && n <= 9); /* (6 s from each process's start: their starts spread a little) */
    check_one_job_per_tick(ticks, n);
    zg_host_free(h);
}

/* Two processes firing, each killed -9 at random moments and started again at once, for 6 s:
 * still one job per tick, none twice, none missing. */
static void test_processes_killed_mid_fire_lose_no_tick_and_double_none(void)
{
    char t[ZG_NAME_LEN];
    pid_t pids[2] = {spawn_stepper("killed", 60000), spawn_stepper("killed", 60000)};
    unsigned seed = (unsigned)getpid();
    long long until = wall_ms() + 6000;
    int kills = 0;
    while (wall_ms() < until) {
        seed = seed * 1103515245u + 12345u;
        sleep_ms(100 + (long)((seed >> 16) % 400));
        int p = (int)((seed >> 8) & 1);
        kill(pids[p], SIGKILL);
        waitpid(pids[p], NULL, 0);
        pids[p] = spawn_stepper("killed", 60000);
        kills++;
    }
    sleep_ms(1500);
    for (int p = 0; p < 2; p++) {
        kill(pids[p], SIGKILL);
        waitpid(pids[p], NULL, 0);
    }
    printf("# %d kills\n", kills);
    zg_host *h = check_new_host(store);
    CHECK_INT(define(h, "killed", "{ every = 1 }", t), ZG_OK);
    long long ticks[64];
    size_t n = job_ticks(h, t, ticks, 64);
    CHECK(n >= 6);
    check_one_job_per_tick(ticks, n);
    zg_host_free(h);
}

int main(void)
{
    snprintf(tag, sizeof tag, "sc%lx%x", (unsigned long)time(NULL) & 0xffffff, (unsigned)getpid());
    RUN(test_a_types_repeat_is_schedule_type_id_replaced_when_changed_removed_with_it);
    RUN(test_bad_repeat_declarations_fail_to_load_naming_the_field);
    RUN(test_a_repeat_removed_by_an_old_host_comes_back_and_versions_do_not_fight);
    RUN(test_ad_hoc_schedules_are_checked_listed_and_removed);
    RUN(test_each_tick_makes_one_job_carrying_scheduled_for);
    RUN(test_missed_ticks_make_one_job_with_catch_up_once_and_none_with_skip);
    const char *url = getenv("ZEROG_SPEC_REDIS");
    if (url && *url) {
        store = url;
        snprintf(tag, sizeof tag, "scr%lx%x", (unsigned long)time(NULL) & 0xffffff,
                 (unsigned)getpid());
        RUN(test_a_types_repeat_is_schedule_type_id_replaced_when_changed_removed_with_it);
        RUN(test_a_repeat_removed_by_an_old_host_comes_back_and_versions_do_not_fight);
        RUN(test_a_host_of_another_version_leaves_a_tick_it_cannot_make_to_the_others);
        RUN(test_ad_hoc_schedules_are_checked_listed_and_removed);
        RUN(test_each_tick_makes_one_job_carrying_scheduled_for);
        RUN(test_missed_ticks_make_one_job_with_catch_up_once_and_none_with_skip);
        RUN(test_four_processes_firing_an_every_1_schedule_make_one_job_per_tick);
        RUN(test_processes_killed_mid_fire_lose_no_tick_and_double_none);
    }
    return check_done();
}
