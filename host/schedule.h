/* schedule: what the stores and the host share about schedules (repeatable jobs): copying and
 * comparing records. The host's side (writing the loaded types' REPEATs, firing due ticks, the
 * zg_schedule_* calls) is in schedule.c too. */
#ifndef ZG_SCHEDULE_H
#define ZG_SCHEDULE_H

#include "zerog.h"

/* A deep copy (params duplicated); 0, or -1 when out of memory (dst->params NULL then). */
int zg_schedule_copy(zg_schedule *dst, const zg_schedule *src);
/* Whether two schedules define the same thing (type, rule, tz, params, catch-up). */
int zg_schedule_same(const zg_schedule *a, const zg_schedule *b);
/* Frees one malloc'd record and its params (a zg_map value). */
void zg_schedule_free_one(void *sc);

#endif
