/* json_out: the JSON the command writes (one compact style for every output) and reads back
 * from the API's answers (documents, events, status). A small scanner over JSON text: no tree
 * is built; a value is a pointer to its first character. */
#ifndef ZG_JSON_OUT_H
#define ZG_JSON_OUT_H

#include <stddef.h>
#include <stdio.h>

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

/* Past one JSON value and the whitespace after it; NULL when p is not a valid value. */
const char *json_skip(const char *p);
/* The value of key in the object at p (its own members only), or NULL. */
const char *json_member(const char *object, const char *key);
/* The first item of the array at p, or NULL (empty, or not an array). */
const char *json_first(const char *array);
/* The item after this one in its array, or NULL at the end. */
const char *json_next(const char *item);
/* Decodes the string value at p into out (UTF-8, escapes resolved, truncated to fit); 0 when p
 * is not a string. */
int json_text(const char *value, char *out, size_t size);
/* The string value at p decoded into a malloc'd string; NULL when p is not a string. */
char *json_text_dup(const char *value);
/* The number at p; 0 when p is not a number. */
int json_number(const char *value, double *out);
/* Counts the items of the array at p (0 when it is not an array). */
size_t json_count(const char *array);

/* In a JSON object, the string value of key (into out) or the number; 0 when the key is
 * missing or of another kind. */
int json_string_field(const char *json, const char *key, char *out, size_t size);
int json_number_field(const char *json, const char *key, double *out);

#endif
