/* json_out: the JSON the command writes (one compact style for every output). It reads the
 * API's answers (documents, events, status) with the library's scanner (json_text.h). */
#ifndef ZG_JSON_OUT_H
#define ZG_JSON_OUT_H

#include <stddef.h>
#include <stdio.h>

#include "json_text.h"

/* Writes s as a JSON string (with quotes) into out; returns the length it needs whole (without
 * the NUL). Bytes that are not UTF-8 become \ufffd, control characters \u00XX (\n \r \t). A
 * string that does not fit is cut after a whole character and still closed, so out always holds
 * valid JSON when size >= 3. out may be NULL (size 0) to measure. */
size_t json_quote(char *out, size_t size, const char *s);
/* json_quote of the len bytes at s, NULs included (written as \u0000). */
size_t json_quote_len(char *out, size_t size, const char *s, size_t len);
/* The length of s cut to at most max bytes without splitting a UTF-8 character. */
size_t utf8_cut(const char *s, size_t max);
/* Writes a JSON value compactly (no spaces between tokens), with '/' written plainly (not the
 * "\/" lua-cjson writes) and every "completeness" member rounded to 6 decimals. Text that is not
 * valid JSON is written as it is. */
void json_write(FILE *out, const char *json);
/* Writes a number with at most 6 decimals, without trailing zeros (0.22, 1, 0.333333). */
void json_write_fraction(FILE *out, double value);


#endif
