/* http_submit: the queue options and params of POST /job/{jobType} (see http_submit.c). */
#ifndef ZG_HTTP_SUBMIT_H
#define ZG_HTTP_SUBMIT_H

#include <microhttpd.h>
#include <stddef.h>

#include "zerog.h"

/* Reads the request's options into *opts and its params (a malloc'd JSON text, "" for none)
 * into *params; returns 0, or -1 with the reason in err (a 400). */
int submit_request(struct MHD_Connection *c, const char *body, char **params, zg_submit_opts *opts,
                   char *err, size_t errlen);

#endif
