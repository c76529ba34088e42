/* tz: a TZif (RFC 8536) reader. Version 2+ files carry 64-bit transition times after the
 * version 1 block; both are read the same way, with the width of the block. The transitions of
 * Debian's files ("fat" files) reach 2037; past the last one the last offset holds (the file's
 * footer rule, which would continue the daylight-saving pattern, is not read). */
#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TZ_MAX_FILE = 1 << 20 };

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* A zone name is letters, digits and _-+/ in parts that are not "." or "..". */
static int valid_name(const char *name)
{
    if (!*name || name[0] == '/' || strlen(name) > 100) return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '+' || *c == '/'))
            return 0;
    return strstr(name, "//") == NULL;
}

static int bad_file(zg_error *err, const char *name)
{
    return zg_fail(err, ZG_EINVAL, "unknown time zone %s (no TZif file of that name)", name);
}

/* Parses one data block (width 4 or 8 bytes per time) at p of `left` bytes. */
static int parse_block(zg_tz *tz, const unsigned char *p, size_t left, int width, size_t *used)
{
    if (left < 44 || memcmp(p, "TZif", 4) != 0) return -1;
    uint32_t isut = be32(p + 20), isstd = be32(p + 24), leap = be32(p + 28), timecnt = be32(p + 32),
             typecnt = be32(p + 36), charcnt = be32(p + 40);
    if (typecnt == 0 || typecnt > 256 || timecnt > 100000) return -1;
    size_t size = (size_t)timecnt * (size_t)width + timecnt + typecnt * 6u + charcnt +
                  (size_t)leap * ((size_t)width + 4) + isstd + isut;
    if (left - 44 < size) return -1;
    const unsigned char *times = p + 44, *idx = times + (size_t)timecnt * width,
                        *types = idx + timecnt;
    tz->at = malloc((timecnt ? timecnt : 1) * sizeof *tz->at);
    tz->offset = malloc((timecnt ? timecnt : 1) * sizeof *tz->offset);
    if (!tz->at || !tz->offset) return -2;
    tz->n = timecnt;
    for (uint32_t i = 0; i < timecnt; i++) {
        tz->at[i] = width == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        if (idx[i] >= typecnt) return -1;
        tz->offset[i] = (int32_t)be32(types + 6 * idx[i]);
    }
    tz->first = (int32_t)be32(types); /* type 0: the offset before the first transition */
    *used = 44 + size;
    return 0;
}

int zg_tz_load(zg_tz *tz, const char *name, const char *zoneinfo_dir, zg_error *err)
{
    memset(tz, 0, sizeof *tz);
    if (!name || !*name || strcmp(name, "UTC") == 0) return ZG_OK;
    if (!valid_name(name) || strstr(name, "..")) return bad_file(err, name);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", zoneinfo_dir ? zoneinfo_dir : "/usr/share/zoneinfo", name);
    FILE *f = fopen(path, "rb");
    if (!f) return bad_file(err, name);
    unsigned char *buf = malloc(TZ_MAX_FILE);
    if (!buf) {
        fclose(f);
        return zg_fail(err, ZG_ENOMEM, "out of memory reading time zone %s", name);
    }
    size_t len = fread(buf, 1, TZ_MAX_FILE, f);
    fclose(f);
    size_t used = 0;
    int rc = parse_block(tz, buf, len, 4, &used);
    if (rc == 0 && buf[4] >= '2') { /* the 64-bit block follows the first one */
        zg_tz_free(tz);
        rc = parse_block(tz, buf + used, len - used, 8, &used);
    }
    free(buf);
    if (rc != 0) {
        zg_tz_free(tz);
        return rc == -2 ? zg_fail(err, ZG_ENOMEM, "out of memory reading time zone %s", name)
                        : bad_file(err, name);
    }
    return ZG_OK;
}

void zg_tz_free(zg_tz *tz)
{
    free(tz->at);
    free(tz->offset);
    memset(tz, 0, sizeof *tz);
}

/* The number of transitions at or before t. */
static size_t passed(const zg_tz *tz, int64_t t)
{
    size_t lo = 0, hi = tz->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int32_t zg_tz_offset(const zg_tz *tz, int64_t t)
{
    size_t k = passed(tz, t);
    return k == 0 ? tz->first : tz->offset[k - 1];
}

int64_t zg_tz_next_transition(const zg_tz *tz, int64_t t)
{
    size_t k = passed(tz, t);
    return k < tz->n ? tz->at[k] : INT64_MAX;
}
