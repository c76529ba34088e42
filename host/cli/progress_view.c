/* progress_view: a one-line bar redrawn in place, with lines printed above it as they come. */
#include "progress_view.h"

#include <stdarg.h>
#include <string.h>

#define BAR_WIDTH 30

void progress_view_init(progress_view *v, FILE *out, int live, const char *label)
{
    memset(v, 0, sizeof *v);
    v->out = out;
    v->live = live;
    v->last_percent = -1;
    snprintf(v->label, sizeof v->label, "%s", label);
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
    fprintf(v->out, "\r\033[K[%s] %3d%%  %s  %.60s", bar, (int)(v->completeness * 100 + 0.5),
            v->label, v->event);
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

void progress_view_update(progress_view *v, double completeness, const char *event)
{
    v->completeness = completeness;
    int percent = (int)(completeness * 100 + 0.5);
    if (event) {
        snprintf(v->event, sizeof v->event, "%s", event);
        progress_view_line(v, "[%3d%%] %s", percent, event);
        v->last_percent = percent;
        return;
    }
    if (v->live)
        draw_bar(v);
    else if (percent / 10 != v->last_percent / 10) {
        fprintf(v->out, "[%3d%%]\n", percent);
        v->last_percent = percent;
    }
}

void progress_view_finish(progress_view *v)
{
    if (v->live) {
        draw_bar(v);
        fputc('\n', v->out);
    }
    v->bar_drawn = 0;
    fflush(v->out);
}
