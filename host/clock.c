/* clock: time sources. The monotonic clock never jumps, so delays survive wall-clock changes. */
#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t zg_clock_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes n decimal digits of v (zero-padded) at out. */
static char *put_digits(char *out, long v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
    return out + n;
}

/* The civil date (proleptic Gregorian) of a day count since 1970-01-01: Howard Hinnant's
 * days_from_civil inverse, in integer arithmetic. */
static void civil_from_days(long days, long *year, int *month, int *day)
{
    days += 719468;
    long era = (days >= 0 ? days : days - 146096) / 146097;
    long doe = days - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

/* (formatted by hand: snprintf with gmtime_r cost ~4k instructions, and a run asks 4 times) */
void zg_clock_iso8601(char *out, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long secs = (long)ts.tv_sec;
    long days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    long rem = secs - days * 86400;
    long year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    char text[32], *p = text;
    if (year < 0 || year > 9999) { /* (not in this machine's lifetime) */
        snprintf(out, size, "%04ld-%02d-%02dT%02ld:%02ld:%02ld.%03ldZ", year, month, day,
                 rem / 3600, rem / 60 % 60, rem % 60, ts.tv_nsec / 1000000);
        return;
    }
    p = put_digits(p, year, 4);
    *p++ = '-';
    p = put_digits(p, month, 2);
    *p++ = '-';
    p = put_digits(p, day, 2);
    *p++ = 'T';
    p = put_digits(p, rem / 3600, 2);
    *p++ = ':';
    p = put_digits(p, rem / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, rem % 60, 2);
    *p++ = '.';
    p = put_digits(p, ts.tv_nsec / 1000000, 3);
    *p++ = 'Z';
    if (size == 0) return;
    size_t n = (size_t)(p - text) < size ? (size_t)(p - text) : size - 1;
    memcpy(out, text, n);
    out[n] = 0;
}

struct timespec zg_clock_deadline(int64_t ms)
{
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += (time_t)(ms / 1000);
    at.tv_nsec += (long)(ms % 1000) * 1000000;
    if (at.tv_nsec >= 1000000000) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000;
    }
    return at;
}

void zg_clock_sleep_ms(int64_t ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int64_t zg_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
