/* json_text: a small scanner over JSON text, for the few JSON values read as C data: the
 * library's summaries of stored documents (their fields are JSON text), and the command's
 * reading of the API's answers. No tree is built; a value is a pointer to its first character.
 */
#ifndef ZG_JSON_TEXT_H
#define ZG_JSON_TEXT_H

#include <stddef.h>

/* p past blanks (spaces, tabs, line ends). */
const char *zg_json_blanks(const char *p);
/* Just past the one JSON value at p (blanks before it skipped); NULL when it is not valid. */
const char *zg_json_value_end(const char *p);
/* Past one JSON value and the whitespace after it; NULL when p is not a valid value. */
const char *zg_json_skip(const char *p);
/* The value of key in the object at p (its own members only), or NULL. */
const char *zg_json_member(const char *object, const char *key);
/* The first item of the array at p, or NULL (empty, or not an array). */
const char *zg_json_first(const char *array);
/* The item after this one in its array, or NULL at the end. */
const char *zg_json_next(const char *item);
/* Decodes the string value at p into out (UTF-8, escapes resolved, truncated to fit); 0 when p
 * is not a string. */
int zg_json_text(const char *value, char *out, size_t size);
/* The string value at p decoded into a malloc'd string; NULL when p is not a string. */
char *zg_json_text_dup(const char *value);
/* The number at p; 0 when p is not a number. */
int zg_json_number(const char *value, double *out);
/* Counts the items of the array at p (0 when it is not an array). */
size_t zg_json_count(const char *array);

/* In a JSON object, the string value of key (into out) or the number; 0 when the key is
 * missing or of another kind. */
int zg_json_string_field(const char *json, const char *key, char *out, size_t size);
int zg_json_number_field(const char *json, const char *key, double *out);

#endif
