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

/* Whether a store error's message is the server's own refusal of the call, which it did not run
 * ("redis: OOM command not allowed ...", "redis: READONLY ...": Redis's error replies, as
 * zg_redis_reply_error words them), not a call that got no answer (a lost connection, a
 * timeout), which the server may still run. */
int zg_store_refused(const char *msg);
/* Whether such a refusal is one the server gives while a state passes (OOM: past maxmemory;
 * READONLY, MASTERDOWN, CLUSTERDOWN, TRYAGAIN: a failover or a reshard; LOADING; BUSY: a
 * long script; MISCONF: a failed save), not one that the same call gets again (ERR, NOPERM). */
int zg_store_refusal_passes(const char *msg);

#endif
