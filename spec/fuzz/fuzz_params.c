/* fuzz_params: the fuzz input is the params of a job (JSON text, or one params per line for a
 * batch), submitted through the public API to a host on mem:// whose job type has a SCHEMA of
 * every field type, with defaults. What must hold, whatever the bytes: every call returns a code
 * (nothing aborts, leaks or reads out of bounds), invalid params are refused with ZG_EINVAL and a
 * message, and accepted params give a job whose every view (zg_read) is valid JSON (json_check.h:
 * strict RFC 8259, UTF-8 included) and whose stored document decodes again when the job runs
 * (zg_step: the engine reads it back into a job instance). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "zerog.h"

static const char job_source[] =
    "return {\n"
    "  JOB_TYPE = 'fuzz_params',\n"
    "  SCHEMA = {\n"
    "    name = { type = 'string', default = 'unnamed' },\n"
    "    count = { type = 'integer', default = 3 },\n"
    "    ratio = { type = 'number' },\n"
    "    flag = { type = 'boolean', default = false },\n"
    "    meta = { type = 'object', default = { a = 1 } },\n"
    "    items = { type = 'array' },\n"
    "    extra = { type = 'any' },\n"
    "    label = { type = 'string', required = true },\n"
    "  },\n"
    "  run = function(self)\n"
    "    self:update_attrs { count = self.count }\n"
    "    return 200\n"
    "  end,\n"
    "  get_data = function(self)\n"
    "    return { name = self.name, count = self.count, ratio = self.ratio, flag = self.flag,\n"
    "             meta = self.meta, items = self.items, extra = self.extra, label = self.label }\n"
    "  end,\n"
    "}\n";

#define RECREATE_AFTER 2000 /* accepted jobs, so the in-memory store does not grow for ever */
#define MAX_BATCH      64

static zg_host *host;
static long accepted;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_params: %s: %s\n", what, detail);
    abort();
}

static void open_host(void)
{
    if (host) zg_host_free(host);
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.memory_limit = 64u << 20;
    host = zg_host_new(&cfg);
    if (!host || zg_errcode(host) != ZG_OK) fail("zg_host_new", host ? zg_errstr(host) : "NULL");
    char type[ZG_NAME_LEN];
    if (zg_load_string(host, "fuzz_params.lua", job_source, type) != ZG_OK)
        fail("zg_load_string", zg_errstr(host));
    accepted = 0;
}

/* A refused call must say why; an accepted one leaves "" or anything. */
static void expect_code(int rc, const char *call)
{
    if (rc != ZG_OK && !*zg_errstr(host)) fail(call, "an error without a message");
    if (rc == ZG_ENOMEM || rc == ZG_ESTORE) fail(call, zg_errstr(host)); /* mem://, 64 MiB */
}

static void check_views(const char *uuid)
{
    static const zg_view views[] = {ZG_VIEW_PROGRESS, ZG_VIEW_INFO,   ZG_VIEW_DATA,
                                    ZG_VIEW_DUMP,     ZG_VIEW_STATUS, ZG_VIEW_FIELDS};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        char *json = NULL;
        int rc = zg_read(host, views[i], uuid, &json);
        if (rc != ZG_OK) fail("zg_read of an accepted job", zg_errstr(host));
        const char *why = json_check(json, strlen(json));
        if (why) {
            fprintf(stderr, "view %d: %s\n", (int)views[i], json);
            fail("zg_read gave invalid JSON", why);
        }
        zg_free(json);
    }
}

static void run_once(const char *uuid)
{
    zg_step_result out;
    int rc = zg_step(host, NULL, 0, 0, &out);
    if (rc != ZG_OK) fail("zg_step of an accepted job", zg_errstr(host));
    if (strcmp(out.uuid, uuid) != 0) fail("zg_step ran another job", out.uuid);
    check_views(uuid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!host || accepted >= RECREATE_AFTER) {
        json_check_lenient_utf8 = getenv("ZEROG_FUZZ_LENIENT_UTF8") != NULL;
        open_host();
    }
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char uuid[ZG_UUID_LEN];

    /* one job of the named type, then of the type the params name ("jobType") */
    int rc = zg_submit(host, "fuzz_params", text, NULL, uuid);
    expect_code(rc, "zg_submit");
    if (rc == ZG_OK) {
        accepted++;
        check_views(uuid);
        run_once(uuid);
    }
    rc = zg_submit(host, NULL, text, NULL, uuid);
    expect_code(rc, "zg_submit without a type");
    if (rc == ZG_OK) {
        accepted++;
        check_views(uuid);
        run_once(uuid);
    }

    /* a batch: one params per line */
    const char *lines[MAX_BATCH];
    size_t n = 0;
    for (char *p = text; p && n < MAX_BATCH; n++) {
        lines[n] = p;
        p = strchr(p, '\n');
        if (p) *p++ = '\0';
    }
    char(*uuids)[ZG_UUID_LEN] = calloc(n, sizeof *uuids);
    rc = zg_submit_batch(host, "fuzz_params", lines, n, NULL, uuids);
    expect_code(rc, "zg_submit_batch");
    if (rc == ZG_OK) {
        accepted += (long)n;
        for (size_t i = 0; i < n; i++)
            check_views(uuids[i]);
        long ran = 0;
        if (zg_run(host, NULL, 0, 1, &ran) != ZG_OK) fail("zg_run", zg_errstr(host));
        if (ran != (long)n) fail("zg_run", "did not run every job of the batch");
    }
    free(uuids);
    free(text);
    return 0;
}
