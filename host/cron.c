/* cron: parsing rules and finding their next tick. A cron rule's next tick is searched in local
 * (wall-clock) time, a month, day, hour or minute at a time, and each matching local time is
 * turned into an instant with the zone's offsets: see cron.h for the daylight-saving rule. */
#include "cron.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct {
    const char *name, *rule;
} macros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
              {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
              {"@hourly", "0 * * * *"}};

typedef struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names; /* names of lo, lo + 1, ... or NULL */
    int nnames;
} field_def;

static const field_def field_defs[5] = {{"minute", 0, 59, NULL, 0},
                                        {"hour", 0, 23, NULL, 0},
                                        {"day of month", 1, 31, NULL, 0},
                                        {"month", 1, 12, month_names, 12},
                                        {"day of week", 0, 7, day_names, 7}};

/* A number or a name of field f at *p; -1 when there is none. */
static int value_at(const field_def *f, const char **p)
{
    if (isdigit((unsigned char)**p)) {
        long v = 0;
        while (isdigit((unsigned char)**p) && v < 1000)
            v = v * 10 + (*(*p)++ - '0');
        return (int)v;
    }
    for (int i = 0; i < f->nnames; i++)
        if (strncasecmp(*p, f->names[i], 3) == 0) {
            *p += 3;
            return f->names == month_names ? i + 1 : i;
        }
    return -1;
}

/* Parses one field (text of len bytes) into bits; returns 0 or -1 with err set. */
static int parse_field(const field_def *f, const char *text, size_t len, uint64_t *bits,
                       zg_error *err)
{
    char buf[128];
    if (len >= sizeof buf) return zg_fail(err, ZG_EINVAL, "the %s field is too long", f->name), -1;
    memcpy(buf, text, len);
    buf[len] = 0;
    *bits = 0;
    for (char *item = buf, *next; item; item = next) {
        next = strchr(item, ',');
        if (next) *next++ = 0;
        const char *p = item;
        int lo, hi, step = 1;
        if (*p == '*') {
            lo = f->lo, hi = f->hi == 7 ? 6 : f->hi;
            p++;
        } else {
            lo = hi = value_at(f, &p);
            if (lo < 0) goto bad;
            if (*p == '-') {
                p++;
                if ((hi = value_at(f, &p)) < 0) goto bad;
            } else if (*p == '/') {
                hi = f->hi == 7 ? 6 : f->hi; /* "a/n": from a to the end */
            }
        }
        if (*p == '/') {
            p++;
            const char *start = p;
            step = value_at(&field_defs[0], &p);
            if (p == start || step <= 0) goto bad;
        }
        if (*p || lo < 0 || lo < f->lo || hi > f->hi || lo > hi) goto bad;
        for (int v = lo; v <= hi; v += step) {
            int bit = f->hi == 7 && v == 7 ? 0 : v; /* day 7 is Sunday too */
            if (bit >= 0 && bit < 64) *bits |= 1ull << bit;
        }
        continue;
    bad:
        return zg_fail(err, ZG_EINVAL,
                       "the %s field \"%s\" is not a value, range (a-b), list or step (*/n) of "
                       "%d to %d",
                       f->name, item, f->lo, f->hi),
               -1;
    }
    return 0;
}

/* "@every:N", N seconds (or Ns, Nm, Nh), at least 1 s; -1 when not such a rule. */
static int64_t every_ms(const char *rule, zg_error *err)
{
    const char *p = rule + strlen("@every:");
    errno = 0;
    char *end;
    double v = strtod(p, &end);
    double unit = *end == 'm' ? 60 : *end == 'h' ? 3600 : 1;
    if (*end == 's' || *end == 'm' || *end == 'h') end++;
    v *= unit;
    if (end == p || *end || errno || !(v >= 1 && v <= 31622400)) {
        zg_fail(err, ZG_EINVAL, "\"%s\": @every takes seconds from 1 to 31622400 (Ns, Nm, Nh)",
                rule);
        return -1;
    }
    return llround(v * 1000);
}

int zg_cron_parse(zg_cron *c, const char *rule, const char *tz, zg_error *err)
{
    memset(c, 0, sizeof *c);
    if (!rule) return zg_fail(err, ZG_EINVAL, "no rule (a cron expression or @every:N)");
    while (isspace((unsigned char)*rule))
        rule++;
    if (strncmp(rule, "@every:", 7) == 0) {
        if ((c->every_ms = every_ms(rule, err)) < 0) return ZG_EINVAL;
        return zg_tz_load(&c->tz, tz, NULL, err);
    }
    if (*rule == '@') {
        const char *found = NULL;
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strcasecmp(rule, macros[i].name) == 0) found = macros[i].rule;
        if (!found)
            return zg_fail(err, ZG_EINVAL,
                           "unknown rule %s (the @names are @yearly @annually @monthly @weekly "
                           "@daily @midnight @hourly, and @every:N)",
                           rule);
        rule = found;
    }
    uint64_t bits[5];
    const char *p = rule;
    for (int i = 0; i < 5; i++) {
        while (isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (p == start)
            return zg_fail(err, ZG_EINVAL,
                           "\"%s\" has %d fields, a cron rule has 5 (minute hour day-of-month "
                           "month day-of-week)",
                           rule, i);
        if (i == 2) c->days_star = *start == '*';
        if (i == 4) c->weekdays_star = *start == '*';
        if (parse_field(&field_defs[i], start, (size_t)(p - start), &bits[i], err) != 0)
            return ZG_EINVAL;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return zg_fail(err, ZG_EINVAL,
                       "\"%s\" has more than 5 fields (minute hour day-of-month month "
                       "day-of-week)",
                       rule);
    c->minutes = bits[0];
    c->hours = (uint32_t)bits[1];
    c->days = (uint32_t)bits[2];
    c->months = (uint32_t)bits[3];
    c->weekdays = (uint8_t)bits[4];
    return zg_tz_load(&c->tz, tz, NULL, err);
}

void zg_cron_free(zg_cron *c)
{
    zg_tz_free(&c->tz);
}

/* Days since 1970-01-01 of a civil date, and back (Howard Hinnant's algorithms). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The instant (Unix s) of local time wall (seconds since the epoch, as if UTC): its first
 * occurrence when the clock passes it twice, the end of the gap when the clock skips it. */
static int64_t instant_of(const zg_tz *tz, int64_t wall)
{
    int32_t before = zg_tz_offset(tz, wall - 2 * 86400), after = zg_tz_offset(tz, wall + 2 * 86400);
    int64_t best = INT64_MAX;
    int32_t tries[3] = {before, after, zg_tz_offset(tz, wall)};
    for (int i = 0; i < 3; i++) {
        int64_t u = wall - tries[i];
        if (zg_tz_offset(tz, u) == tries[i] && u < best) best = u;
    }
    if (best != INT64_MAX) return best;
    /* skipped: the transition between wall - after and wall - before */
    int64_t t = zg_tz_next_transition(tz, wall - (before > after ? before : after));
    return t == INT64_MAX ? wall - after : t;
}

static int day_matches(const zg_cron *c, int64_t days, int mday)
{
    int wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    int dom = (c->days >> mday) & 1, dow = (c->weekdays >> wday) & 1;
    return c->days_star || c->weekdays_star ? dom && dow : dom || dow;
}

int64_t zg_cron_next(const zg_cron *c, int64_t after_ms)
{
    if (c->every_ms > 0) return (floor_div(after_ms, c->every_ms) + 1) * c->every_ms;
    int64_t after_s = floor_div(after_ms, 1000);
    int64_t wall = floor_div(after_s + zg_tz_offset(&c->tz, after_s), 60) * 60 + 60;
    int64_t start_day = floor_div(wall, 86400);
    while (floor_div(wall, 86400) - start_day < 5 * 366 + 2) {
        int64_t days = floor_div(wall, 86400), y;
        int m, d;
        civil_from_days(days, &y, &m, &d);
        int64_t sec = wall - days * 86400;
        int hour = (int)(sec / 3600), minute = (int)(sec % 3600 / 60);
        if (!((c->months >> m) & 1)) {
            wall = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400;
        } else if (!day_matches(c, days, d)) {
            wall = (days + 1) * 86400;
        } else if (!((c->hours >> hour) & 1)) {
            wall = days * 86400 + (hour + 1) * 3600;
        } else if (!((c->minutes >> minute) & 1)) {
            wall += 60;
        } else {
            int64_t u = instant_of(&c->tz, wall);
            if (u * 1000 > after_ms) return u * 1000;
            wall += 60; /* its instant is not after: the clock went back over it */
        }
    }
    return -1;
}
