/* error: formatting of error records. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int zg_fail(zg_error *err, int code, const char *fmt, ...)
{
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}
