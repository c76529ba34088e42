/* fuzz_scripts: the fuzz input is the source of a job script. It is loaded with zg_load_string
 * into a fresh host on mem:// (fresh each time, so what one script does to its Lua state cannot
 * make another's result depend on the order of inputs); a script that loads gets one job
 * submitted (with no params) and run once (zg_step), and every view of the job is read. What
 * must hold: every call returns a code with a message when it fails (nothing aborts, leaks or
 * crashes the process, whatever the script does), a load ends within the loader's bound on
 * top-level code, and every view of the job is valid JSON. A run that takes longer than RUN_MS
 * is stopped with zg_interrupt from a watchdog thread, as `zerog kill` would (the script's own
 * TIMEOUT may be anything). Run it in a folder of its own: scripts can reach the file system as
 * long as the sandbox allows it. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_check.h"
#include "zerog.h"

#define RUN_MS 300

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_scripts: %s: %s\n", what, detail);
    abort();
}

/* ---- the watchdog: interrupts the run in progress after RUN_MS ---- */

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_changed = PTHREAD_COND_INITIALIZER;
static zg_host *watched; /* under watch_lock: the host whose run is timed, or NULL */
static struct timespec watch_until;

static void *watchdog(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&watch_lock);
    for (;;) {
        if (!watched) {
            pthread_cond_wait(&watch_changed, &watch_lock);
            continue;
        }
        if (pthread_cond_timedwait(&watch_changed, &watch_lock, &watch_until) != 0 && watched)
            zg_interrupt(watched); /* signal-safe: sets flags only */
    }
    return NULL;
}

static void watch(zg_host *h)
{
    pthread_mutex_lock(&watch_lock);
    watched = h;
    if (h) {
        clock_gettime(CLOCK_REALTIME, &watch_until);
        watch_until.tv_nsec += RUN_MS * 1000000L;
        watch_until.tv_sec += watch_until.tv_nsec / 1000000000L;
        watch_until.tv_nsec %= 1000000000L;
    }
    pthread_cond_signal(&watch_changed);
    pthread_mutex_unlock(&watch_lock);
}

/* ---- one input ---- */

static void expect_message(zg_host *h, int rc, const char *call)
{
    if (rc != ZG_OK && !*zg_errstr(h)) fail(call, "an error without a message");
    if (rc == ZG_ESTORE) fail(call, zg_errstr(h)); /* mem:// never fails */
}

static void check_views(zg_host *h, const char *uuid)
{
    static const zg_view views[] = {ZG_VIEW_PROGRESS, ZG_VIEW_INFO,   ZG_VIEW_DATA,
                                    ZG_VIEW_DUMP,     ZG_VIEW_STATUS, ZG_VIEW_FIELDS};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        char *json = NULL;
        int rc = zg_read(h, views[i], uuid, &json);
        expect_message(h, rc, "zg_read");
        if (rc == ZG_ENOTFOUND && views[i] != ZG_VIEW_DATA) fail("zg_read", zg_errstr(h));
        if (rc != ZG_OK) continue; /* get_data may fail: ZG_EJOB */
        const char *why = json_check(json, strlen(json));
        if (why) {
            fprintf(stderr, "view %d: %s\n", (int)views[i], json);
            fail("zg_read gave invalid JSON", why);
        }
        zg_free(json);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pthread_t watchdog_thread;
    if (!watchdog_thread) {
        json_check_lenient_utf8 = getenv("ZEROG_FUZZ_LENIENT_UTF8") != NULL;
        pthread_create(&watchdog_thread, NULL, watchdog, NULL);
    }
    char *source = malloc(size + 1);
    if (!source) return 0;
    memcpy(source, data, size);
    source[size] = '\0';

    zg_config cfg;
    zg_config_init(&cfg);
    cfg.memory_limit = 64u << 20;
    zg_host *h = zg_host_new(&cfg);
    if (!h || zg_errcode(h) != ZG_OK) fail("zg_host_new", h ? zg_errstr(h) : "NULL");
    char type[ZG_NAME_LEN], uuid[ZG_UUID_LEN];
    int rc = zg_load_string(h, "fuzz.lua", source, type);
    expect_message(h, rc, "zg_load_string");
    if (rc == ZG_OK) rc = zg_submit(h, type, NULL, NULL, uuid);
    expect_message(h, rc, "zg_submit");
    if (rc == ZG_OK) {
        zg_step_result out;
        watch(h);
        rc = zg_step(h, NULL, 0, 0, &out);
        watch(NULL);
        expect_message(h, rc, "zg_step");
        check_views(h, uuid);
    }
    zg_host_free(h);
    free(source);
    return 0;
}
