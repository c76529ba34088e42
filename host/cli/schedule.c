/* schedule: repeatable jobs from the command line. `zerog schedule TYPE RULE [JSON] [--tz Z]
 * [--queue Q] [--catch-up once|skip]` adds a schedule and prints its id; `zerog schedules` lists
 * every schedule (the loaded types' REPEATs included), one JSON object per line; `zerog
 * unschedule ID` removes one. RULE is a cron expression (quoted: 5 fields), an @name, or
 * "@every:N" (seconds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json_out.h"

int cmd_schedule(const cli_options *o, int argc, char **argv)
{
    const char *operands[3] = {NULL, NULL, NULL}, *tz = NULL, *queue = NULL, *catch_up = NULL;
    const cli_opt opts[] = {{"--tz", CLI_TEXT, &tz},
                            {"--queue", CLI_TEXT, &queue},
                            {"--catch-up", CLI_TEXT, &catch_up},
                            {NULL, CLI_FLAG, NULL}};
    int n, code = cli_parse("schedule", argc, argv, opts, 2, 3, operands, &n);
    if (code != EXIT_OK) return code;
    if (catch_up && strcmp(catch_up, "once") != 0 && strcmp(catch_up, "skip") != 0) {
        fprintf(stderr, "zerog: schedule: --catch-up must be once or skip\n");
        return EXIT_BAD_INPUT;
    }
    zg_schedule def;
    memset(&def, 0, sizeof def);
    if (strlen(operands[0]) >= sizeof def.job_type || strlen(operands[1]) >= sizeof def.rule ||
        (tz && strlen(tz) >= sizeof def.tz) || (queue && strlen(queue) >= sizeof def.queue)) {
        fprintf(stderr, "zerog: schedule: a name or rule is too long\n");
        return EXIT_BAD_INPUT;
    }
    snprintf(def.job_type, sizeof def.job_type, "%s", operands[0]);
    snprintf(def.rule, sizeof def.rule, "%s", operands[1]);
    snprintf(def.tz, sizeof def.tz, "%s", tz ? tz : "");
    snprintf(def.queue, sizeof def.queue, "%s", queue ? queue : "");
    def.params = (char *)(n == 3 ? operands[2] : NULL);
    def.catch_up = catch_up && strcmp(catch_up, "skip") == 0 ? ZG_CATCH_UP_SKIP : ZG_CATCH_UP_ONCE;
    zg_host *h = cli_open(o, CLI_JOBS_REQUIRED, NULL, &code);
    if (!h) return code;
    char id[ZG_NAME_LEN + 8];
    int rc = zg_schedule_add(h, &def, id);
    code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (rc == ZG_OK) printf("%s\n", id);
    zg_host_free(h);
    return code;
}

static void cli_json_string(FILE *out, const char *s)
{
    char small[256];
    size_t need = json_quote(small, sizeof small, s);
    if (need < sizeof small) {
        fputs(small, out);
        return;
    }
    char *buf = malloc(need + 1);
    if (buf) json_quote(buf, need + 1, s);
    fputs(buf ? buf : "\"\"", out);
    free(buf);
}

/* Unix ms as ISO 8601 UTC, or null when 0. */
static void put_time(FILE *out, int64_t ms)
{
    if (!ms) {
        fputs("null", out);
        return;
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[40];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(out, "\"%s.%03dZ\"", buf, (int)(ms % 1000));
}

/* One schedule as a JSON object (also the HTTP API's rows). */
void cli_print_schedule(FILE *out, const zg_schedule *s)
{
    fputs("{\"id\":", out);
    cli_json_string(out, s->id);
    fputs(",\"jobType\":", out);
    cli_json_string(out, s->job_type);
    fputs(",\"queue\":", out);
    cli_json_string(out, s->queue);
    fputs(",\"rule\":", out);
    cli_json_string(out, s->rule);
    fputs(",\"tz\":", out);
    cli_json_string(out, *s->tz ? s->tz : "UTC");
    fputs(",\"params\":", out);
    json_write(out, s->params && *s->params ? s->params : "{}");
    fprintf(out,
            ",\"catchUp\":\"%s\",\"nextRun\":", s->catch_up == ZG_CATCH_UP_SKIP ? "skip" : "once");
    put_time(out, s->next_ms);
    fputs(",\"lastRun\":", out);
    put_time(out, s->last_ms);
    fprintf(out, ",\"nextMs\":%lld,\"lastMs\":%lld}", (long long)s->next_ms, (long long)s->last_ms);
}

int cmd_schedules(const cli_options *o, int argc, char **argv)
{
    int n, code = cli_parse("schedules", argc, argv, NULL, 0, 0, NULL, &n);
    if (code != EXIT_OK) return code;
    zg_host *h = cli_open(o, CLI_JOBS_IF_PRESENT, NULL, &code);
    if (!h) return code;
    zg_schedule *rows = NULL;
    size_t count = 0;
    int rc = zg_schedule_list(h, &rows, &count);
    code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    for (size_t i = 0; i < count; i++) {
        cli_print_schedule(stdout, &rows[i]);
        putchar('\n');
    }
    zg_schedules_free(rows, count);
    zg_host_free(h);
    return code;
}

int cmd_unschedule(const cli_options *o, int argc, char **argv)
{
    const char *id = NULL;
    int n, code = cli_parse("unschedule", argc, argv, NULL, 1, 1, &id, &n);
    if (code != EXIT_OK) return code;
    zg_host *h = cli_open(o, CLI_JOBS_IF_PRESENT, NULL, &code);
    if (!h) return code;
    int rc = zg_schedule_remove(h, id);
    code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (rc == ZG_OK) printf("removed %s\n", id);
    zg_host_free(h);
    return code;
}
