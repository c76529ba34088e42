/* progress_view: a one-line bar redrawn in place, with lines printed above it as they come; or,
 * without a terminal, plain lines that a log keeps readably: one per event, warning or error. */
#include "progress_view.h"

#include <stdarg.h>
#include <string.h>

#define BAR_WIDTH 30

void progress_view_init(progress_view *v, FILE *out, int live, const char *label)
{
    memset(v, 0, sizeof *v);
    v->out = out;
    v->live = live;
    v->printed_percent = -1;
    v->pending_percent = -1;
    snprintf(v->label, sizeof v->label, "%s", label);
}

char *progress_view_one_line(char *text)
{
    char *trace = strstr(text, "\nstack traceback:");
    if (trace) *trace = '\0';
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    for (char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    return text;
}

static int percent_of(double completeness)
{
    return (int)(completeness * 100 + 0.5);
}

static void clear_bar(progress_view *v)
{
    if (v->live && v->bar_drawn) fputs("\r\033[K", v->out);
    v->bar_drawn = 0;
}

static void draw_bar(progress_view *v)
{
    if (!v->live) return;
    int filled = (int)(v->completeness * BAR_WIDTH + 0.5);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[BAR_WIDTH] = '\0';
    fprintf(v->out, "\r\033[K[%s] %3d%%  %s  %.60s", bar, percent_of(v->completeness), v->label,
            v->event);
    fflush(v->out);
    v->bar_drawn = 1;
}

void progress_view_line(progress_view *v, const char *fmt, ...)
{
    clear_bar(v);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(v->out, fmt, ap);
    va_end(ap);
    fputc('\n', v->out);
    draw_bar(v);
    fflush(v->out);
}

/* Plain mode: prints the completeness held back, if it is news. */
static void flush_pending(progress_view *v)
{
    if (v->pending_percent >= 0 && v->pending_percent != v->printed_percent) {
        fprintf(v->out, "[%3d%%]\n", v->pending_percent);
        v->printed_percent = v->pending_percent;
    }
    v->pending_percent = -1;
}

void progress_view_update(progress_view *v, double completeness, const char *event)
{
    v->completeness = completeness;
    int percent = percent_of(completeness);
    if (event) {
        snprintf(v->event, sizeof v->event, "%s", event);
        progress_view_one_line(v->event);
        v->pending_percent = -1; /* the event's line shows it */
        progress_view_line(v, "[%3d%%] %s", percent, v->event);
        v->printed_percent = percent;
    } else if (v->live) {
        draw_bar(v);
    } else {
        /* a step that advances is often followed by its event: hold the bare line back
         * until the next change shows there is none (tens of percent only) */
        if (v->pending_percent >= 0 && v->pending_percent / 10 != v->printed_percent / 10)
            flush_pending(v);
        v->pending_percent = percent;
    }
    fflush(v->out);
}

void progress_view_finish(progress_view *v)
{
    if (v->live) {
        draw_bar(v);
        fputc('\n', v->out);
    } else {
        flush_pending(v);
    }
    v->bar_drawn = 0;
    fflush(v->out);
}
