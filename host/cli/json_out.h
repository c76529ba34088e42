/* json_out: the little JSON the command writes itself (log lines, HTTP bodies), and reading the
 * flat events the host publishes. */
#ifndef ZG_JSON_OUT_H
#define ZG_JSON_OUT_H

#include <stddef.h>

/* Writes s as a JSON string (with quotes) into out; returns the length it needed. */
size_t json_quote(char *out, size_t size, const char *s);
/* In a flat JSON object written by the host, the string value of key (into out) or the number;
 * 0 when the key is missing. */
int json_string_field(const char *json, const char *key, char *out, size_t size);
int json_number_field(const char *json, const char *key, double *out);

#endif
