/* check.h: a minimal TAP test harness for the C tests. A test is a function; CHECK records a
 * failure with file, line and the expression, and the test goes on; run_test prints ok/not ok.
 * Also the one helper every test of the public API uses: a host on a store, checked. */
#ifndef ZG_CHECK_H
#define ZG_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zerog.h"

static int check_failures_in_test;
static int check_test_number;
static int check_failed_tests;

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            printf("# %s:%d: expected %s\n", __FILE__, __LINE__, #expr);                           \
            check_failures_in_test++;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ != w_) {                                                                            \
            printf("# %s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__, #got, g_, w_);      \
            check_failures_in_test++;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (!g_ || strcmp(g_, w_) != 0) {                                                          \
            printf("# %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #got,           \
                   g_ ? g_ : "(null)", w_);                                                        \
            check_failures_in_test++;                                                              \
        }                                                                                          \
    } while (0)

/* CHECK_ONLY=part runs only the tests whose names contain it (the others are not counted) */
static inline void run_test(const char *name, void (*fn)(void))
{
    const char *only = getenv("CHECK_ONLY");
    if (only && *only && !strstr(name, only)) return;
    check_failures_in_test = 0;
    fn();
    check_test_number++;
    if (check_failures_in_test) check_failed_tests++;
    printf("%s %d - %s\n", check_failures_in_test ? "not ok" : "ok", check_test_number, name);
    fflush(stdout);
}

static inline int check_done(void)
{
    printf("1..%d\n", check_test_number);
    return check_failed_tests ? 1 : 0;
}

#define RUN(fn) run_test(#fn, fn)

/* A host of configuration cfg; checked to have started. */
static inline zg_host *check_host_of(const zg_config *cfg)
{
    zg_host *h = zg_host_new(cfg);
    CHECK(h && zg_errcode(h) == ZG_OK);
    return h;
}

/* A host on store (a URL) with the default configuration; checked to have started. */
static inline zg_host *check_new_host(const char *store)
{
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = store;
    return check_host_of(&cfg);
}

#endif
