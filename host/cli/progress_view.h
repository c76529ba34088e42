/* progress_view: how the command shows a running job: a live bar with the latest event on a
 * terminal, plain lines otherwise (one per event, warning or error). Everything goes to stderr;
 * stdout is kept for results. */
#ifndef ZG_PROGRESS_VIEW_H
#define ZG_PROGRESS_VIEW_H

#include <stdio.h>

#define ZG_LABEL_LEN 160

typedef struct progress_view {
    FILE *out;
    int live; /* draw a bar (stderr is a terminal) */
    int bar_drawn;
    int printed_percent; /* the percentage of the last line printed in plain mode */
    int pending_percent; /* plain mode: a completeness not printed yet (-1: none) */
    double completeness;
    char label[ZG_LABEL_LEN];
    char event[160];
} progress_view;

void progress_view_init(progress_view *v, FILE *out, int live, const char *label);
/* The job's completeness changed, or it recorded an event (event not NULL). In plain mode an
 * event is one line "[ 50%] text"; a change without an event is printed only when the next one
 * comes without an event too (or at the end), so a step that advances and then records an event
 * is one line, not two. */
void progress_view_update(progress_view *v, double completeness, const char *event);
/* A line above the bar (warnings, errors, notes). */
void progress_view_line(progress_view *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void progress_view_finish(progress_view *v);
/* Makes text one line in place: cuts a Lua traceback ("\nstack traceback:...") and turns the
 * remaining control characters (newlines, tabs) into spaces. Returns text. */
char *progress_view_one_line(char *text);

#endif
