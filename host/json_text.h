/* json_text: reading the few JSON values the C API hands over as C data (a document's fields are
 * stored as JSON text): a string's value, a member of an object. Not a general parser: enough to
 * walk well-formed JSON that the library itself wrote. */
#ifndef ZG_JSON_TEXT_H
#define ZG_JSON_TEXT_H

#include <stddef.h>

/* The value of the JSON string at text (leading blanks skipped), malloc'd, or NULL when text is
 * not a string (or out of memory). \u escapes become UTF-8. */
char *zg_json_string(const char *text);
/* Where the value of member `name` of the JSON object at text starts, or NULL. */
const char *zg_json_member(const char *text, const char *name);

#endif
