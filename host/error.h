/* error: the error record every internal layer fills in, copied onto the host handle for callers.
 */
#ifndef ZG_ERROR_H
#define ZG_ERROR_H

#include "zerog.h"

typedef struct zg_error {
    int code; /* one of the ZG_E* codes in zerog.h; ZG_OK when none */
    char msg[ZG_ERRSTR_LEN];
} zg_error;

/* Sets code and a printf-style message; returns code so callers can `return zg_fail(...)`. */
int zg_fail(zg_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
