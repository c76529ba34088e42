/* cron: the rules of repeatable jobs, and their ticks. A rule is a 5-field cron expression
 * (minute hour day-of-month month day-of-week: lists, ranges, steps, month and day names, Vixie
 * cron's day rule), an @name (@yearly @annually @monthly @weekly @daily @midnight @hourly), or
 * "@every:N" with N seconds (or Ns, Nm, Nh). Ticks are absolute times: a cron rule's are the
 * minutes whose local time in the rule's zone matches; @every:N's are the multiples of N seconds
 * since the Unix epoch. The next tick is computed from the rule and a time, never as "now plus an
 * interval", so the ticks never drift.
 *
 * Daylight saving (the local times the zone's clock skips or repeats): a tick whose local time
 * falls in a skipped hour happens once, at the first valid time after it (the moment the clock
 * jumps); a tick whose local time happens twice happens once, at its first occurrence. */
#ifndef ZG_CRON_H
#define ZG_CRON_H

#include <stdint.h>

#include "error.h"
#include "tz.h"

typedef struct zg_cron {
    int64_t every_ms;             /* > 0: an @every rule, the fields below unused */
    uint64_t minutes;             /* bit m: minute m matches */
    uint32_t hours, days, months; /* bits 0-23, 1-31, 1-12 */
    uint8_t weekdays;             /* bits 0-6, Sunday 0 */
    int days_star, weekdays_star; /* the field starts with '*' (Vixie cron's day rule) */
    zg_tz tz;
} zg_cron;

/* Parses rule (and loads zone tz: NULL or "" for UTC). ZG_EINVAL with a message naming what is
 * wrong. Free with zg_cron_free (also after a failure). */
int zg_cron_parse(zg_cron *c, const char *rule, const char *tz, zg_error *err);
void zg_cron_free(zg_cron *c);
/* The first tick strictly after after_ms (Unix ms), or -1 when there is none within five years
 * (a rule like "0 0 30 2 *"). */
int64_t zg_cron_next(const zg_cron *c, int64_t after_ms);

#endif
