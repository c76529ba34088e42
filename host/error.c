/* error: formatting of error records. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int zg_fail(zg_error *err, int code, const char *fmt, ...)
{
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof err->msg) { /* cut: not inside a UTF-8 character */
        size_t len = sizeof err->msg - 1, lead = len;
        while (lead > 0 && ((unsigned char)err->msg[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead > 0 && (unsigned char)err->msg[lead - 1] >= 0xC0) {
            unsigned char c = (unsigned char)err->msg[lead - 1];
            size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (len - (lead - 1) < need) err->msg[lead - 1] = '\0';
        }
    }
    return code;
}

int zg_store_refused(const char *msg)
{
    if (!msg || strncmp(msg, "redis: ", 7) != 0) return 0;
    msg += 7;
    size_t n = strspn(msg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    return n >= 2 && msg[n] == ' ';
}

int zg_store_refusal_passes(const char *msg)
{
    static const char *const passing[] = {"OOM",         "READONLY", "MASTERDOWN",
                                          "CLUSTERDOWN", "TRYAGAIN", "LOADING",
                                          "BUSY",        "MISCONF",  NULL};
    if (!zg_store_refused(msg)) return 0;
    const char *word = msg + 7;
    size_t n = strspn(word, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    for (const char *const *p = passing; *p; p++)
        if (strlen(*p) == n && strncmp(word, *p, n) == 0) return 1;
    return 0;
}
