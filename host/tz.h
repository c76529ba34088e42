/* tz: time zones read from the system's TZif files (/usr/share/zoneinfo, Debian's tzdata), for
 * the cron schedules' local times. A zone is loaded into a value the caller owns: no setenv("TZ")
 * or tzset(), whose state is the process's. */
#ifndef ZG_TZ_H
#define ZG_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct zg_tz {
    size_t n;        /* transitions */
    int64_t *at;     /* when each transition happens (Unix seconds), ascending */
    int32_t *offset; /* the UTC offset (seconds) from each transition on */
    int32_t first;   /* the offset before the first transition (or of a zone without any) */
} zg_tz;

/* Loads zone `name` ("Europe/Paris"; NULL, "" or "UTC": UTC without a file) from zoneinfo_dir
 * (NULL: /usr/share/zoneinfo). ZG_EINVAL naming the zone when it is not a zone name or its file
 * cannot be read as TZif. Free with zg_tz_free. */
int zg_tz_load(zg_tz *tz, const char *name, const char *zoneinfo_dir, zg_error *err);
void zg_tz_free(zg_tz *tz);

/* The UTC offset in seconds at Unix time t. */
int32_t zg_tz_offset(const zg_tz *tz, int64_t t);
/* The first transition strictly after t, or INT64_MAX when there is none. */
int64_t zg_tz_next_transition(const zg_tz *tz, int64_t t);

#endif
