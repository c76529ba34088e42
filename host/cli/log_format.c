/* log_format: the log lines of zerog serve and zerog worker, as text (time, level, worker, logId,
 * message) or, with --log-format json, one JSON object per line. A line is built whole in memory
 * and written with one call, so lines of several processes sharing stderr do not interleave, and
 * a long message is never cut (a cut JSON line would lose its closing quote and brace). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "json_out.h"

int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* s as a JSON string in a malloc'd buffer (NULL when out of memory). */
static char *quoted(const char *s)
{
    size_t need = json_quote(NULL, 0, s) + 1;
    char *q = malloc(need);
    if (q) json_quote(q, need, s);
    return q;
}

void log_line(void *ud, int level, const char *log_id, const char *msg)
{
    log_target *t = ud;
    if (!t->json) {
        cli_log_line((void *)t->worker, level, log_id, msg);
        return;
    }
    static const char *const names[] = {"info", "warning", "error"};
    char when[40];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char *qmsg = quoted(msg), *qid = quoted(log_id), *qworker = quoted(t->worker);
    char *line = NULL;
    size_t len = 0;
    FILE *b = qmsg && qid && qworker ? open_memstream(&line, &len) : NULL;
    if (b) {
        fprintf(b,
                "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"worker\":%s,\"logId\":%s,\"msg\":%s}\n",
                when, ts.tv_nsec / 1000000, names[level], qworker, qid, qmsg);
        fclose(b);
        fwrite(line, 1, len, stderr);
        fflush(stderr);
    }
    free(line);
    free(qmsg);
    free(qid);
    free(qworker);
}

void log_linef(log_target *t, int level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line(t, level, "", msg);
}
