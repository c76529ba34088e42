/* example: a program that embeds ZeroG. It gives its job scripts a C function (geometry.area),
 * loads a job type that calls it, runs one job and prints the job's data.
 *   cc example.c $(pkg-config --cflags --libs zerog) -o example && ./example [STORE_URL]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <zerog.h>

/* geometry.area({w = ..., h = ...}) -> w * h. Arguments arrive as a JSON array. */
static int area(void *ctx, const char *args_json, char **result_json, char *err, size_t errlen)
{
    double w, h;
    if (sscanf(args_json, "[{\"h\":%lf,\"w\":%lf}]", &h, &w) != 2) {
        snprintf(err, errlen, "area expects {w = number, h = number}, got %s", args_json);
        return ZG_EINVAL;
    }
    const char *unit = ctx;
    *result_json = malloc(96);
    snprintf(*result_json, 96, "{\"area\":%g,\"unit\":\"%s\"}", w * h, unit);
    return ZG_OK;
}

static const char job_source[] =
    "local geometry = require 'geometry'\n"
    "return {\n"
    "  JOB_TYPE = 'room',\n"
    "  SCHEMA = { w = { type = 'number', required = true }, h = { type = 'number', required = true },\n"
    "             result = { type = 'object' } },\n"
    "  run = function(self)\n"
    "    self:update_attrs { result = geometry.area { w = self.w, h = self.h } }\n"
    "    self:job_log_info('measured')\n"
    "    return 200\n"
    "  end,\n"
    "  get_data = function(self) return self.result end,\n"
    "}\n";

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = argc > 1 ? argv[1] : "mem://";
    zg_host *h = zg_host_new(&cfg);
    if (!h || zg_errcode(h) != ZG_OK) {
        fprintf(stderr, "example: %s\n", h ? zg_errstr(h) : "out of memory");
        return 1;
    }
    static const zg_function geometry[] = {{"area", area}, {NULL, NULL}};
    char type[ZG_NAME_LEN], uuid[ZG_UUID_LEN];
    char *data = NULL;
    long ran = 0;
    int rc = zg_register_module(h, "geometry", geometry, "m2");
    if (rc == ZG_OK) rc = zg_load_string(h, "room.lua", job_source, type);
    if (rc == ZG_OK) rc = zg_submit(h, type, "{\"w\": 3, \"h\": 4.5}", NULL, uuid);
    if (rc == ZG_OK) rc = zg_run(h, NULL, 0, 1, &ran); /* until idle */
    if (rc == ZG_OK) rc = zg_read(h, ZG_VIEW_DATA, uuid, &data);
    if (rc != ZG_OK) {
        fprintf(stderr, "example: %s\n", zg_errstr(h));
        zg_host_free(h);
        return 1;
    }
    printf("%s\n", data);
    zg_free(data);
    zg_host_free(h);
    return 0;
}
