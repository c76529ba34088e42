/* progress_view: how the command shows a running job: a live bar with the latest event on a
 * terminal, plain lines otherwise. Everything goes to stderr; stdout is kept for results. */
#ifndef ZG_PROGRESS_VIEW_H
#define ZG_PROGRESS_VIEW_H

#include <stdio.h>

#define ZG_LABEL_LEN 160

typedef struct progress_view {
    FILE *out;
    int live;              /* draw a bar (stdout and stderr are terminals) */
    int bar_drawn;
    int last_percent;      /* last percentage printed in plain mode */
    double completeness;
    char label[ZG_LABEL_LEN];
    char event[160];
} progress_view;

void progress_view_init(progress_view *v, FILE *out, int live, const char *label);
void progress_view_update(progress_view *v, double completeness, const char *event);
void progress_view_line(progress_view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_view_finish(progress_view *v);

#endif
