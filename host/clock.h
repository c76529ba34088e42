/* clock: wall-clock timestamps for documents and the monotonic clock for delays and deadlines. */
#ifndef ZG_CLOCK_H
#define ZG_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

int64_t zg_clock_monotonic_ms(void);
/* Unix time in milliseconds. */
int64_t zg_clock_wall_ms(void);
/* Writes the current UTC time as ISO-8601 with milliseconds ("2026-11-29T01:46:40.123Z"). */
void zg_clock_iso8601(char *out, size_t size);
/* The CLOCK_MONOTONIC time ms milliseconds from now, for pthread_cond_timedwait on a condition
 * variable set to that clock. */
struct timespec zg_clock_deadline(int64_t ms);
/* Sleeps for ms milliseconds (resuming after signals until the time is up). */
void zg_clock_sleep_ms(int64_t ms);

#endif
