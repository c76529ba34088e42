/* index: the commands that find and steer jobs through the store's index (zerog.h, "Finding and
 * steering jobs"), and what the HTTP API shares with them (times, states, a job's JSON line).
 *   zerog list [--state S]... [--type T] [--queue Q] [--limit N] [--cursor C] [--since TIME]
 *   zerog retry UUID | retry --state failed [--type T] [--queue Q]
 *   zerog delete UUID...
 *   zerog purge --state succeeded|failed [--type T] [--queue Q] [--older-than DURATION]
 *   zerog kill --state waiting|delayed [--type T] [--queue Q]   (bulk; jobs.c kills one)
 *   zerog stats --by-type [--queue Q]...                          (jobs.c counts the queues)
 * Bulk steps go page by page with the index's cursor, so a job that changes state meanwhile is
 * neither seen twice nor waited for; one that left the state before its turn is skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json_out.h"

#define BULK_PAGE 200 /* jobs per listing in a bulk step */

/* ---- times: TIME is ISO 8601 or a duration ago; DURATION is a number and a unit ---- */

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_parse_duration(const char *text, int64_t *ms)
{
    size_t len = text ? strlen(text) : 0;
    if (len < 2 || len > 30) return 0;
    static const struct {
        char unit;
        double ms;
    } units[] = {{'s', 1e3}, {'m', 60e3}, {'h', 3600e3}, {'d', 86400e3}, {'w', 7 * 86400e3}};
    char number[32];
    memcpy(number, text, len - 1);
    number[len - 1] = '\0';
    double v;
    if (!cli_decimal(number, &v) || v < 0 || strchr(number, '-') || strchr(number, '+')) return 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (text[len - 1] == units[i].unit) {
            double total = v * units[i].ms;
            if (total > 1e15) return 0; /* ~31,000 years: surely a typo */
            *ms = (int64_t)total;
            return 1;
        }
    return 0;
}

/* Reads exactly n digits at *p into *out; advances *p. */
static int digits(const char **p, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9') return 0;
        *out = *out * 10 + (**p - '0');
    }
    return 1;
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[:MM]]; no zone means UTC. */
static int parse_iso8601(const char *s, int64_t *ms)
{
    int year, month, day, hour = 0, minute = 0, second = 0, frac_ms = 0;
    if (!digits(&s, 4, &year) || *s++ != '-' || !digits(&s, 2, &month) || *s++ != '-' ||
        !digits(&s, 2, &day))
        return 0;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (!digits(&s, 2, &hour) || *s++ != ':' || !digits(&s, 2, &minute)) return 0;
        if (*s == ':') {
            s++;
            if (!digits(&s, 2, &second)) return 0;
            if (*s == '.' || *s == ',') {
                s++;
                int scale = 100, n = 0;
                for (; *s >= '0' && *s <= '9'; s++, n++) {
                    frac_ms += (*s - '0') * scale;
                    scale /= 10;
                }
                if (n == 0) return 0;
            }
        }
    }
    int offset_min = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1, oh, om = 0;
        if (!digits(&s, 2, &oh)) return 0;
        if (*s == ':') s++;
        if (*s && !digits(&s, 2, &om)) return 0;
        if (oh > 23 || om > 59) return 0;
        offset_min = sign * (oh * 60 + om);
    }
    if (*s) return 0;
    static const int days_in[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in[month - 1] ||
        hour > 23 || minute > 59 || second > 60)
        return 0;
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != day) return 0; /* Feb 30, or 29 in a common year */
    *ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac_ms;
    return *ms >= 0;
}

int cli_parse_time(const char *text, int64_t now_ms, int64_t *ms)
{
    int64_t ago;
    if (!text) return 0;
    if (cli_parse_duration(text, &ago)) {
        *ms = now_ms - ago > 0 ? now_ms - ago : 1;
        return 1;
    }
    return parse_iso8601(text, ms);
}

int cli_states(const char *names, unsigned *mask)
{
    char one[16];
    const char *p = names;
    if (!*p) return 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof one) return 0;
        memcpy(one, p, n);
        one[n] = '\0';
        int state = zg_jobs_state_parse(one);
        if (state < 0) return 0;
        *mask |= 1u << state;
        if (!p[n]) return 1;
        p += n + 1;
    }
}

/* ---- output ---- */

static void put_string(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    size_t need = json_quote(NULL, 0, s) + 1;
    char stack[256], *q = need <= sizeof stack ? stack : malloc(need);
    if (!q) {
        fputs("null", out);
        return;
    }
    json_quote(q, need, s);
    fputs(q, out);
    if (q != stack) free(q);
}

void cli_job_json(FILE *out, const zg_job_summary *j)
{
    fputs("{\"uuid\":", out);
    put_string(out, j->uuid);
    fputs(",\"type\":", out);
    put_string(out, j->job_type);
    fputs(",\"queue\":", out);
    put_string(out, j->queue);
    fprintf(out, ",\"state\":\"%s\",\"completeness\":", zg_jobs_state_name(j->state));
    json_write_fraction(out, j->completeness);
    if (j->result_code >= 0)
        fprintf(out, ",\"resultCode\":%lld", (long long)j->result_code);
    else
        fputs(",\"resultCode\":null", out);
    fputs(",\"createdAt\":", out);
    put_string(out, j->created_at);
    fputs(",\"updatedAt\":", out);
    put_string(out, j->updated_at);
    fputs(",\"lastError\":", out);
    put_string(out, j->last_error);
    fprintf(out, ",\"errorCount\":%lld}", (long long)j->error_count);
}

static int by_queue_then_type(const void *a, const void *b)
{
    const zg_type_counts *x = a, *y = b;
    int c = strcmp(x->queue, y->queue);
    return c ? c : strcmp(x->job_type, y->job_type);
}

void cli_type_counts_json(FILE *out, zg_type_counts *rows, size_t n)
{
    if (n) qsort(rows, n, sizeof *rows, by_queue_then_type);
    fputc('{', out);
    for (size_t i = 0; i < n; i++) {
        int new_queue = i == 0 || strcmp(rows[i].queue, rows[i - 1].queue) != 0;
        if (new_queue) {
            if (i) fputs("},", out);
            put_string(out, rows[i].queue);
            fputs(":{", out);
        } else
            fputc(',', out);
        put_string(out, rows[i].job_type);
        for (int s = 0; s < ZG_JOBS_NSTATES; s++)
            fprintf(out, "%s\"%s\":%lld", s ? "," : ":{", zg_jobs_state_name(s),
                    (long long)rows[i].count[s]);
        fputc('}', out);
    }
    fputs(n ? "}}" : "}", out);
}

/* The first line of s, cut to max bytes (on a whole character), control characters as spaces
 * (a job's error message cannot move the cursor or recolour the terminal), padded with spaces to
 * width bytes. */
static void put_cell(const char *s, size_t max, size_t width)
{
    if (!s) s = "";
    size_t n = strcspn(s, "\r\n");
    if (n > max) n = utf8_cut(s, max);
    for (size_t i = 0; i < n; i++)
        putchar((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i]);
    for (size_t i = n; i < width; i++)
        putchar(' ');
}

static void table_row(const zg_job_summary *j)
{
    char result[24] = "-";
    if (j->result_code >= 0) snprintf(result, sizeof result, "%lld", (long long)j->result_code);
    printf("%-36s  ", j->uuid);
    put_cell(j->job_type, 16, 18);
    put_cell(j->queue, 16, 18);
    printf("%-9s  %3.0f%%  %6s  %6lld  ", zg_jobs_state_name(j->state), j->completeness * 100,
           result, (long long)j->error_count);
    put_cell(j->updated_at, 24, 0);
    if (j->last_error) {
        fputs("  ", stdout);
        put_cell(j->last_error, 60, 0);
    }
    putchar('\n');
}

/* ---- the filter options every command here shares ---- */

typedef struct filter_options {
    cli_list states;
    const char *type, *queue;
} filter_options;

/* The states of --state options into *mask (0 when none); 0 after a message naming a bad one. */
static int states_of(const char *cmd, const cli_list *states, unsigned *mask)
{
    *mask = 0;
    for (size_t i = 0; i < states->n; i++)
        if (!cli_states(states->items[i], mask)) {
            fprintf(stderr,
                    "zerog: %s: unknown state %s (waiting, delayed, running, succeeded, failed, "
                    "buried, parked)\n",
                    cmd, states->items[i]);
            return 0;
        }
    return 1;
}

/* Refuses states outside allowed (a mask), naming them. */
static int only_states(const char *cmd, unsigned mask, unsigned allowed, const char *what)
{
    if (mask & ~allowed) {
        fprintf(stderr, "zerog: %s: %s\n", cmd, what);
        return 0;
    }
    return 1;
}

/* Runs step on every job that matches f, page by page; counts the ones it did in *done. A job
 * that left the state or was deleted before its turn (ZG_EINVAL, ZG_ENOTFOUND) is skipped. */
static int each_job(zg_host *h, zg_list_filter f, int (*step)(zg_host *h, const char *uuid),
                    int64_t *done)
{
    char *cursor = NULL;
    int rc;
    *done = 0;
    f.limit = BULK_PAGE;
    for (;;) {
        zg_job_page page;
        f.cursor = cursor;
        rc = zg_list(h, &f, &page);
        if (rc != ZG_OK) break;
        for (size_t i = 0; i < page.n && rc == ZG_OK; i++) {
            int r = step(h, page.jobs[i].uuid);
            if (r == ZG_OK)
                (*done)++;
            else if (r != ZG_EINVAL && r != ZG_ENOTFOUND && r != ZG_EEXIST)
                rc = r; /* (else skipped: gone, in another state, or its unique key held) */
        }
        free(cursor);
        cursor = page.next; /* taken over from the page */
        page.next = NULL;
        zg_job_page_free(&page);
        if (rc != ZG_OK || !cursor) break;
    }
    free(cursor);
    return rc;
}

/* Opens a host, runs each_job and prints {"<what>":n}. */
static int bulk(const cli_options *o, const char *what, const zg_list_filter *f,
                int (*step)(zg_host *h, const char *uuid))
{
    int code;
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    int64_t done = 0;
    int rc = each_job(h, *f, step, &done);
    if (rc == ZG_OK)
        printf("{\"%s\":%lld}\n", what, (long long)done);
    else
        fprintf(stderr, "zerog: %s (after %lld jobs)\n", zg_errstr(h), (long long)done);
    code = cli_exit_code(rc);
    zg_host_free(h);
    return code;
}

/* ---- the commands ---- */

int cmd_list(const cli_options *o, int argc, char **argv)
{
    filter_options fo = {0};
    const char *cursor = NULL, *since = NULL, *operands[1];
    double limit = 0;
    int json = 0;
    const cli_opt opts[] = {{"--state", CLI_LIST, &fo.states}, {"--type", CLI_TEXT, &fo.type},
                            {"--queue", CLI_TEXT, &fo.queue},  {"--limit", CLI_NUMBER, &limit},
                            {"--cursor", CLI_TEXT, &cursor},   {"--since", CLI_TEXT, &since},
                            {"--json", CLI_FLAG, &json},       {NULL, CLI_FLAG, NULL}};
    int n, code = cli_parse("list", argc, argv, opts, 0, 0, operands, &n);
    if (code != EXIT_OK) return code;
    zg_list_filter f = {0};
    if (!states_of("list", &fo.states, &f.states)) return EXIT_BAD_INPUT;
    if (since && !cli_parse_time(since, cli_now_ms(), &f.since_ms)) {
        fprintf(stderr,
                "zerog: list: --since takes ISO 8601 (2026-11-29T20:00:00Z) or a duration ago "
                "(30s, 10m, 2h, 7d), not \"%.100s\"\n",
                since);
        return EXIT_BAD_INPUT;
    }
    f.job_type = fo.type;
    f.queue = fo.queue;
    f.cursor = cursor;
    f.limit = (size_t)limit;
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    zg_job_page page;
    int rc = zg_list(h, &f, &page);
    if (rc != ZG_OK) {
        code = cli_fail(h, rc);
        zg_host_free(h);
        return code;
    }
    int table = !json && isatty(STDOUT_FILENO);
    if (table)
        printf("%-36s  %-16s  %-16s  %-9s  %4s  %6s  %6s  %s\n", "UUID", "TYPE", "QUEUE", "STATE",
               "DONE", "RESULT", "ERRORS", "UPDATED / LAST ERROR");
    for (size_t i = 0; i < page.n; i++) {
        if (table) {
            table_row(&page.jobs[i]);
        } else {
            cli_job_json(stdout, &page.jobs[i]);
            putchar('\n');
        }
    }
    if (page.next && table)
        fprintf(stderr, "next page: --cursor %s\n", page.next);
    else if (page.next)
        printf("{\"next\":\"%s\"}\n", page.next); /* a cursor is digits, ':', hex and '-' */
    zg_job_page_free(&page);
    zg_host_free(h);
    return EXIT_OK;
}

static int retry_one(zg_host *h, const char *uuid)
{
    return zg_retry(h, uuid);
}

int cmd_retry(const cli_options *o, int argc, char **argv)
{
    filter_options fo = {0};
    const char *uuid = NULL;
    int json = 0;
    const cli_opt opts[] = {{"--state", CLI_LIST, &fo.states},
                            {"--type", CLI_TEXT, &fo.type},
                            {"--queue", CLI_TEXT, &fo.queue},
                            {"--json", CLI_FLAG, &json},
                            {NULL, CLI_FLAG, NULL}};
    int n, code = cli_parse("retry", argc, argv, opts, 0, 1, &uuid, &n);
    if (code != EXIT_OK) return code;
    zg_list_filter f = {0};
    if (!states_of("retry", &fo.states, &f.states)) return EXIT_BAD_INPUT;
    if ((n == 1) == (fo.states.n > 0) || (n == 1 && (fo.type || fo.queue))) {
        fputs("zerog: retry: give a job's UUID, or --state failed with its filters\n", stderr);
        return cli_command_usage("retry");
    }
    if (n == 0) {
        if (!only_states("retry", f.states, 1u << ZG_JOBS_FAILED,
                         "only failed jobs are retried (--state failed)"))
            return EXIT_BAD_INPUT;
        f.job_type = fo.type;
        f.queue = fo.queue;
        return bulk(o, "retried", &f, retry_one);
    }
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    int rc = zg_retry(h, uuid);
    if (rc == ZG_OK && json) {
        fputs("{\"retried\":true,\"uuid\":", stdout);
        put_string(stdout, uuid);
        puts("}");
    } else if (rc == ZG_OK) {
        printf("retried job %s\n", uuid);
    }
    code = rc != ZG_OK ? cli_fail(h, rc) : EXIT_OK;
    zg_host_free(h);
    return code;
}

int cmd_delete(const cli_options *o, int argc, char **argv)
{
    const char *uuids[CLI_LIST_MAX];
    int json = 0;
    const cli_opt opts[] = {{"--json", CLI_FLAG, &json}, {NULL, CLI_FLAG, NULL}};
    int n, code = cli_parse("delete", argc, argv, opts, 1, CLI_LIST_MAX, uuids, &n);
    if (code != EXIT_OK) return code;
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    for (int i = 0; i < n; i++) {
        int rc = zg_delete(h, uuids[i]);
        if (rc == ZG_OK && json) {
            fputs("{\"deleted\":true,\"uuid\":", stdout);
            put_string(stdout, uuids[i]);
            puts("}");
        } else if (rc == ZG_OK) {
            printf("deleted job %s\n", uuids[i]);
        } else {
            int c = cli_fail(h, rc);
            if (c != EXIT_NOT_FOUND && c != EXIT_BAD_INPUT) { /* the store failed: stop */
                code = c;
                break;
            }
            if (code == EXIT_OK) code = c; /* an unknown one: try the others first */
        }
        fflush(stdout);
    }
    zg_host_free(h);
    return code;
}

int cmd_purge(const cli_options *o, int argc, char **argv)
{
    filter_options fo = {0};
    const char *older = NULL, *operands[1];
    const cli_opt opts[] = {{"--state", CLI_LIST, &fo.states},
                            {"--type", CLI_TEXT, &fo.type},
                            {"--queue", CLI_TEXT, &fo.queue},
                            {"--older-than", CLI_TEXT, &older},
                            {NULL, CLI_FLAG, NULL}};
    int n, code = cli_parse("purge", argc, argv, opts, 0, 0, operands, &n);
    if (code != EXIT_OK) return code;
    zg_list_filter f = {0};
    if (!states_of("purge", &fo.states, &f.states)) return EXIT_BAD_INPUT;
    unsigned finished = (1u << ZG_JOBS_SUCCEEDED) | (1u << ZG_JOBS_FAILED);
    if (!f.states || !only_states("purge", f.states, finished,
                                  "--state succeeded or --state failed (or both): only finished "
                                  "jobs are purged")) {
        if (!f.states)
            fputs("zerog: purge: --state succeeded or --state failed (or both) is needed\n",
                  stderr);
        return EXIT_BAD_INPUT;
    }
    int64_t older_ms = 0;
    if (older && !cli_parse_duration(older, &older_ms)) {
        fprintf(stderr,
                "zerog: purge: --older-than takes a duration (30s, 10m, 2h, 7d), not \"%.100s\"\n",
                older);
        return EXIT_BAD_INPUT;
    }
    f.job_type = fo.type;
    f.queue = fo.queue;
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    int64_t deleted = 0;
    int rc = zg_purge(h, &f, older_ms, &deleted);
    if (rc == ZG_OK)
        printf("{\"deleted\":%lld}\n", (long long)deleted);
    else
        fprintf(stderr, "zerog: %s (after %lld jobs)\n", zg_errstr(h), (long long)deleted);
    code = cli_exit_code(rc);
    zg_host_free(h);
    return code;
}

static int kill_one(zg_host *h, const char *uuid)
{
    return zg_kill(h, uuid);
}

int cli_kill_bulk(const cli_options *o, const cli_list *states, const char *type, const char *queue)
{
    zg_list_filter f = {0};
    if (!states_of("kill", states, &f.states)) return EXIT_BAD_INPUT;
    if (!only_states("kill", f.states, (1u << ZG_JOBS_WAITING) | (1u << ZG_JOBS_DELAYED),
                     "bulk kill takes --state waiting and/or --state delayed (kill a running "
                     "job by its UUID)"))
        return EXIT_BAD_INPUT;
    f.job_type = type;
    f.queue = queue;
    return bulk(o, "killed", &f, kill_one);
}

int cli_stats_by_type(const cli_options *o, const cli_list *queues)
{
    int code;
    zg_host *h = cli_open(o, CLI_JOBS_NONE, NULL, &code);
    if (!h) return code;
    zg_type_counts *rows = NULL; /* the library's (one call) or ours (one call per queue) */
    size_t n = 0;
    int rc = ZG_OK;
    if (queues->n == 0) rc = zg_stats_by_type(h, NULL, &rows, &n);
    for (size_t i = 0; i < queues->n && rc == ZG_OK; i++) {
        zg_type_counts *got = NULL;
        size_t k = 0;
        rc = zg_stats_by_type(h, queues->items[i], &got, &k);
        zg_type_counts *grown = k ? realloc(rows, (n + k) * sizeof *rows) : rows;
        if (k && grown) {
            rows = grown;
            memcpy(rows + n, got, k * sizeof *rows);
            n += k;
        }
        zg_free(got);
        if (k && !grown) {
            fputs("zerog: out of memory\n", stderr);
            free(rows);
            zg_host_free(h);
            return EXIT_JOB_FAILED;
        }
    }
    if (rc == ZG_OK) {
        cli_type_counts_json(stdout, rows, n);
        putchar('\n');
    }
    code = rc == ZG_OK ? EXIT_OK : cli_fail(h, rc);
    if (queues->n == 0)
        zg_free(rows);
    else
        free(rows);
    zg_host_free(h);
    return code;
}
