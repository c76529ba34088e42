/* cron rules and time zones (host/cron.c, host/tz.c): the 5 fields with lists, ranges, steps and
 * names, the @names, Vixie cron's day-of-month/day-of-week rule, @every anchored to the epoch,
 * the daylight-saving rule on Europe/Paris's 2026 changes (a skipped local time fires once at the
 * jump, a repeated one once at its first occurrence), no drift over a day of ticks fired late,
 * and bad rules or zones refused with a message naming what is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cron.h"

/* Unix ms of a UTC date and time. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    return ((days * 24 + h) * 60 + mi) * 60000;
}

static int64_t next_of(const char *rule, const char *tz, int64_t after)
{
    zg_cron c;
    zg_error err = {0};
    int rc = zg_cron_parse(&c, rule, tz, &err);
    if (rc != ZG_OK) printf("# %s: %s\n", rule, err.msg);
    int64_t n = rc == ZG_OK ? zg_cron_next(&c, after) : -2;
    zg_cron_free(&c);
    return n;
}

/* The message parsing rule gives (static buffer), "" when it parses. */
static const char *refusal(const char *rule, const char *tz)
{
    static zg_error err;
    memset(&err, 0, sizeof err);
    zg_cron c;
    zg_cron_parse(&c, rule, tz, &err);
    zg_cron_free(&c);
    return err.msg;
}

static void test_fields_lists_ranges_steps_and_names(void)
{
    int64_t t = utc(2026, 11, 29, 22, 31); /* a Sunday */
    CHECK_INT(next_of("*/5 * * * *", NULL, t), utc(2026, 11, 29, 22, 35));
    CHECK_INT(next_of("0,45 * * * *", NULL, t), utc(2026, 11, 29, 22, 45));
    CHECK_INT(next_of("10-20/5 3 * * *", NULL, t), utc(2026, 11, 30, 3, 10));
    CHECK_INT(next_of("0 9 * * mon-fri", NULL, t), utc(2026, 11, 30, 9, 0));
    CHECK_INT(next_of("0 0 1 jan *", NULL, t), utc(2027, 1, 1, 0, 0));
    CHECK_INT(next_of("0 0 * * 7", NULL, t), utc(2026, 12, 6, 0, 0)); /* 7 is Sunday too */
    CHECK_INT(next_of("5/20 * * * *", NULL, t), utc(2026, 11, 29, 22, 45));
    CHECK_INT(next_of("0 0 29 feb *", NULL, t), utc(2028, 2, 29, 0, 0));
    CHECK_INT(next_of("0 0 30 2 *", NULL, t), -1); /* never */
}

static void test_the_at_names(void)
{
    int64_t t = utc(2026, 11, 29, 22, 31);
    CHECK_INT(next_of("@hourly", NULL, t), utc(2026, 11, 29, 23, 0));
    CHECK_INT(next_of("@daily", NULL, t), utc(2026, 11, 30, 0, 0));
    CHECK_INT(next_of("@midnight", NULL, t), utc(2026, 11, 30, 0, 0));
    CHECK_INT(next_of("@weekly", NULL, t), utc(2026, 12, 6, 0, 0));
    CHECK_INT(next_of("@monthly", NULL, t), utc(2026, 12, 1, 0, 0));
    CHECK_INT(next_of("@yearly", NULL, t), utc(2027, 1, 1, 0, 0));
    CHECK_INT(next_of("@annually", NULL, t), utc(2027, 1, 1, 0, 0));
}

static void test_day_of_month_or_day_of_week_as_in_vixie_cron(void)
{
    int64_t t = utc(2026, 11, 1, 0, 0); /* Nov 2026: the 6th is a Friday, the 13th too */
    /* both restricted: either matches (the 3rd, a Tuesday; then Friday the 6th) */
    CHECK_INT(next_of("0 0 3 * 5", NULL, t), utc(2026, 11, 3, 0, 0));
    CHECK_INT(next_of("0 0 3 * 5", NULL, utc(2026, 11, 3, 0, 0)), utc(2026, 11, 6, 0, 0));
    /* one of them starts with '*': both must match (odd days that are Fridays) */
    CHECK_INT(next_of("0 0 */2 * 5", NULL, t), utc(2026, 11, 13, 0, 0));
    CHECK_INT(next_of("0 0 * * 5", NULL, t), utc(2026, 11, 6, 0, 0));
}

static void test_every_ticks_are_multiples_of_the_period_since_the_epoch(void)
{
    CHECK_INT(next_of("@every:5", NULL, 1234), 5000);
    CHECK_INT(next_of("@every:5s", NULL, 5000), 10000);
    CHECK_INT(next_of("@every:2m", NULL, 119999), 120000);
    CHECK_INT(next_of("@every:1h", NULL, 3600000), 7200000);
}

/* Europe/Paris, 2026-03-29: at 01:00 UTC the clock jumps from 02:00 CET to 03:00 CEST. */
static void test_a_tick_in_the_skipped_hour_fires_once_at_the_jump(void)
{
    int64_t jump = utc(2026, 3, 29, 1, 0);
    CHECK_INT(next_of("30 2 * * *", "Europe/Paris", utc(2026, 3, 28, 12, 0)), jump);
    CHECK_INT(next_of("30 2 * * *", "Europe/Paris", jump), utc(2026, 3, 30, 0, 30));
    /* every quarter: 02:00, 02:15, 02:30, 02:45 and 03:00 are one tick, at the jump */
    CHECK_INT(next_of("*/15 * * * *", "Europe/Paris", utc(2026, 3, 29, 0, 45)), jump);
    CHECK_INT(next_of("*/15 * * * *", "Europe/Paris", jump), utc(2026, 3, 29, 1, 15));
    /* the day before and after, 02:30 local is 01:30 UTC (CET) and 00:30 UTC (CEST) */
    CHECK_INT(next_of("30 2 * * *", "Europe/Paris", utc(2026, 3, 27, 12, 0)),
              utc(2026, 3, 28, 1, 30));
}

/* Europe/Paris, 2026-10-25: at 01:00 UTC the clock goes back from 03:00 CEST to 02:00 CET. */
static void test_a_tick_in_the_repeated_hour_fires_once_at_its_first_occurrence(void)
{
    CHECK_INT(next_of("30 2 * * *", "Europe/Paris", utc(2026, 10, 24, 12, 0)),
              utc(2026, 10, 25, 0, 30));
    CHECK_INT(next_of("30 2 * * *", "Europe/Paris", utc(2026, 10, 25, 0, 30)),
              utc(2026, 10, 26, 1, 30));
    /* hourly: 02:00 CEST (00:00 UTC), then 03:00 CET (02:00 UTC): not 02:00 CET again */
    CHECK_INT(next_of("0 * * * *", "Europe/Paris", utc(2026, 10, 24, 23, 0)),
              utc(2026, 10, 25, 0, 0));
    CHECK_INT(next_of("0 * * * *", "Europe/Paris", utc(2026, 10, 25, 0, 0)),
              utc(2026, 10, 25, 2, 0));
    /* a time after the first pass, inside the second: the next tick is past the repeat */
    CHECK_INT(next_of("*/30 * * * *", "Europe/Paris", utc(2026, 10, 25, 1, 10)),
              utc(2026, 10, 25, 2, 0));
}

/* How many ticks of rule fall in [from, to). */
static long ticks_between(const char *rule, const char *tz, int64_t from, int64_t to)
{
    zg_cron c;
    zg_error err = {0};
    if (zg_cron_parse(&c, rule, tz, &err) != ZG_OK) return -1;
    long n = 0;
    for (int64_t t = zg_cron_next(&c, from - 1); t >= 0 && t < to; t = zg_cron_next(&c, t))
        n++;
    zg_cron_free(&c);
    return n;
}

static void test_ticks_per_day_on_the_daylight_saving_days(void)
{
    /* local days of Europe/Paris: 23 h on March 29, 25 h on October 25 */
    CHECK_INT(ticks_between("*/5 * * * *", "Europe/Paris", utc(2026, 3, 28, 23, 0),
                            utc(2026, 3, 29, 22, 0)),
              276);
    CHECK_INT(ticks_between("*/5 * * * *", "Europe/Paris", utc(2026, 10, 24, 22, 0),
                            utc(2026, 10, 25, 23, 0)),
              288);
    CHECK_INT(ticks_between("@daily", "Europe/Paris", utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)),
              365);
    CHECK_INT(ticks_between("*/5 * * * *", NULL, utc(2026, 3, 29, 0, 0), utc(2026, 3, 30, 0, 0)),
              288);
}

/* A day of @every:1 ticks fired up to 0.9 s late each (the host's clock, as schedule.c does:
 * the next tick from the due tick, not from the time it fired): the 86,400th tick is exactly a
 * day after the first, each on a whole second. */
static void test_no_drift_over_a_day_of_late_fires(void)
{
    zg_cron c;
    zg_error err = {0};
    CHECK_INT(zg_cron_parse(&c, "@every:1", NULL, &err), ZG_OK);
    int64_t start = utc(2026, 11, 29, 0, 0), tick = zg_cron_next(&c, start - 1);
    unsigned seed = 12345;
    long off_grid = 0;
    for (int i = 0; i < 86400; i++) {
        seed = seed * 1103515245u + 12345u;
        int64_t fired_at = tick + (int64_t)(seed >> 16) % 900;
        int64_t next = zg_cron_next(&c, tick);
        if (next <= fired_at) next = zg_cron_next(&c, fired_at); /* (never here: < 1 s late) */
        if (next % 1000) off_grid++;
        tick = next;
    }
    CHECK_INT(tick, start + 86400 * 1000LL);
    CHECK_INT(off_grid, 0);
    zg_cron_free(&c);
    /* the same for a cron rule over a day in Paris */
    CHECK_INT(zg_cron_parse(&c, "* * * * *", "Europe/Paris", &err), ZG_OK);
    tick = zg_cron_next(&c, start - 1);
    for (int i = 0; i < 1440; i++)
        tick = zg_cron_next(&c, tick + 59999); /* fired 59.999 s late */
    CHECK_INT(tick, start + 86400 * 1000LL);
    zg_cron_free(&c);
}

static void test_bad_rules_and_zones_are_refused_naming_the_problem(void)
{
    CHECK(strstr(refusal("*/5 * * *", NULL), "4 fields") != NULL);
    CHECK(strstr(refusal("* * * * * *", NULL), "more than 5 fields") != NULL);
    CHECK(strstr(refusal("60 * * * *", NULL), "minute field") != NULL);
    CHECK(strstr(refusal("* 24 * * *", NULL), "hour field") != NULL);
    CHECK(strstr(refusal("* * 0 * *", NULL), "day of month field") != NULL);
    CHECK(strstr(refusal("* * * 13 *", NULL), "month field") != NULL);
    CHECK(strstr(refusal("* * * * 8", NULL), "day of week field") != NULL);
    CHECK(strstr(refusal("*/0 * * * *", NULL), "minute field") != NULL);
    CHECK(strstr(refusal("5-1 * * * *", NULL), "minute field") != NULL);
    CHECK(strstr(refusal("@fortnightly", NULL), "unknown rule") != NULL);
    CHECK(strstr(refusal("@every:0.5", NULL), "@every") != NULL);
    CHECK(strstr(refusal("@every:5x", NULL), "@every") != NULL);
    CHECK(strstr(refusal("@daily", "Mars/Olympus"), "unknown time zone Mars/Olympus") != NULL);
    CHECK(strstr(refusal("@daily", "../../etc/passwd"), "unknown time zone") != NULL);
    CHECK(strstr(refusal("@daily", "/etc/passwd"), "unknown time zone") != NULL);
    CHECK_STR(refusal("@daily", "UTC"), "");
    CHECK_STR(refusal("0 9 * * MON-FRI", "America/New_York"), "");
}

static void test_zone_offsets_from_the_tzif_file(void)
{
    zg_tz tz;
    zg_error err = {0};
    CHECK_INT(zg_tz_load(&tz, "Europe/Paris", NULL, &err), ZG_OK);
    CHECK_INT(zg_tz_offset(&tz, utc(2026, 1, 15, 12, 0) / 1000), 3600);
    CHECK_INT(zg_tz_offset(&tz, utc(2026, 7, 15, 12, 0) / 1000), 7200);
    CHECK_INT(zg_tz_next_transition(&tz, utc(2026, 1, 1, 0, 0) / 1000),
              utc(2026, 3, 29, 1, 0) / 1000);
    zg_tz_free(&tz);
    CHECK_INT(zg_tz_load(&tz, "", NULL, &err), ZG_OK); /* UTC, no file */
    CHECK_INT(zg_tz_offset(&tz, 0), 0);
    zg_tz_free(&tz);
}

int main(void)
{
    RUN(test_fields_lists_ranges_steps_and_names);
    RUN(test_the_at_names);
    RUN(test_day_of_month_or_day_of_week_as_in_vixie_cron);
    RUN(test_every_ticks_are_multiples_of_the_period_since_the_epoch);
    RUN(test_a_tick_in_the_skipped_hour_fires_once_at_the_jump);
    RUN(test_a_tick_in_the_repeated_hour_fires_once_at_its_first_occurrence);
    RUN(test_ticks_per_day_on_the_daylight_saving_days);
    RUN(test_no_drift_over_a_day_of_late_fires);
    RUN(test_bad_rules_and_zones_are_refused_naming_the_problem);
    RUN(test_zone_offsets_from_the_tzif_file);
    return check_done();
}
