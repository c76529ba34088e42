/* http_submit: the options of POST /job/{jobType}. The queue options come from the query string
 * (?priority=N&delay=S&ttr=S), or, with ?envelope=true, from a body of the form
 *   {"params": {...the job's params...}, "options": {"priority": N, "delay": S, "ttr": S}}
 * which cannot collide with a SCHEMA field whatever the type's fields are called. An unknown
 * query parameter or envelope field is refused by name; priority is a whole number from 0 to
 * 4294967295, delay a number of seconds >= 0, ttr a number of seconds > 0, each a plain decimal
 * number (no hex, inf or nan), checked by the command's rules for --priority, --delay and --ttr
 * (options.c); the library bounds delay and ttr above. Giving an option both ways is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http_submit.h"

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* p at '"': the character after the closing quote, or NULL. */
static const char *skip_string(const char *p)
{
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1]) p++;
    return *p == '"' ? p + 1 : NULL;
}

/* The end of the JSON value at p (already past whitespace), or NULL. Checks nesting and strings
 * only: the library validates the params themselves. */
static const char *skip_value(const char *p)
{
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '"') {
                if (!(p = skip_string(p))) return NULL;
                p--;
            } else if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
        }
        return NULL;
    }
    const char *start = p;
    while (*p && !strchr(",}] \t\r\n", *p))
        p++;
    return p > start ? p : NULL;
}

typedef struct span {
    const char *at;
    size_t len;
} span;

/* Walks a JSON object, calling field() with each key (without quotes; escapes are not decoded)
 * and value; returns 0, or -1 with err set. */
static int each_field(const char *json, int (*field)(void *ud, span key, span value), void *ud,
                      const char *what, char *err, size_t errlen)
{
    const char *p = skip_ws(json);
    if (*p != '{') goto bad;
    p = skip_ws(p + 1);
    while (*p != '}') {
        if (*p != '"') goto bad;
        const char *kend = skip_string(p);
        if (!kend) goto bad;
        span key = {p + 1, (size_t)(kend - p - 2)};
        p = skip_ws(kend);
        if (*p != ':') goto bad;
        p = skip_ws(p + 1);
        const char *vend = skip_value(p);
        if (!vend) goto bad;
        span value = {p, (size_t)(vend - p)};
        if (field(ud, key, value) != 0) return -1;
        p = skip_ws(vend);
        if (*p == ',') {
            p = skip_ws(p + 1);
            if (*p == '}') goto bad;
        } else if (*p != '}')
            goto bad;
    }
    if (*skip_ws(p + 1)) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "%s is not a valid JSON object", what);
    return -1;
}

typedef struct submit_parse {
    zg_submit_opts *opts;
    const char *given[3]; /* priority, delay, ttr: where each was given, once given */
    span params, options;
    char *err;
    size_t errlen;
} submit_parse;

static const char *const option_names[] = {"priority", "delay", "ttr"};

/* The length of text's first characters up to max bytes, not cutting a UTF-8 sequence. */
static size_t utf8_prefix(const char *text, size_t max)
{
    size_t n = strnlen(text, max);
    if (!text[n]) return n;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Sets option `name` from its text; 0, or -1 with err set. */
static int set_option(submit_parse *sp, const char *name, const char *text, size_t len,
                      const char *where)
{
    const char *where_given = strcmp(where, "option") == 0 ? "envelope's options" : "query string";
    int which = -1;
    for (int i = 0; i < 3; i++)
        if (strlen(option_names[i]) == len && strncmp(name, option_names[i], len) == 0) which = i;
    if (which < 0) {
        snprintf(sp->err, sp->errlen, "unknown %s %.*s (expected priority, delay or ttr)", where,
                 (int)len, name);
        return -1;
    }
    if (sp->given[which]) {
        if (sp->given[which] == where_given)
            snprintf(sp->err, sp->errlen, "%s is given twice in the %s", option_names[which],
                     where_given);
        else
            snprintf(sp->err, sp->errlen, "%s is given twice (in the %s and in the %s)",
                     option_names[which], sp->given[which], where_given);
        return -1;
    }
    sp->given[which] = where_given;
    static const char *const rule_of[] = {"--priority", "--delay", "--ttr"};
    static const char *const wanted[] = {"a whole number from 0 to 4294967295",
                                         "a number of seconds >= 0", "a number of seconds > 0"};
    double v;
    if (!cli_number_valid(rule_of[which], text, &v)) {
        size_t shown = utf8_prefix(text, 40); /* not echoed whole */
        snprintf(sp->err, sp->errlen, "%s must be %s, got %.*s%s", option_names[which],
                 wanted[which], (int)shown, text, text[shown] ? "..." : "");
        return -1;
    }
    if (which == 0) {
        sp->opts->priority = (int64_t)v;
        sp->opts->has_priority = 1;
    } else if (which == 1)
        sp->opts->delay = v;
    else
        sp->opts->ttr = v;
    return 0;
}

static int option_field(void *ud, span key, span value)
{
    submit_parse *sp = ud;
    char *text = strndup(value.at, value.len);
    if (!text) {
        snprintf(sp->err, sp->errlen, "out of memory");
        return -1;
    }
    int rc = set_option(sp, key.at, text, key.len, "option");
    free(text);
    return rc;
}

static int envelope_field(void *ud, span key, span value)
{
    submit_parse *sp = ud;
    span *field = key.len == 6 && strncmp(key.at, "params", 6) == 0    ? &sp->params
                  : key.len == 7 && strncmp(key.at, "options", 7) == 0 ? &sp->options
                                                                       : NULL;
    if (field && field->at) { /* a key twice: refused, as in params */
        snprintf(sp->err, sp->errlen, "the envelope has the key %.*s twice", (int)key.len, key.at);
        return -1;
    }
    if (field)
        *field = value;
    else {
        snprintf(sp->err, sp->errlen,
                 "unknown field %.*s in the envelope (expected params and "
                 "options)",
                 (int)key.len, key.at);
        return -1;
    }
    return 0;
}

typedef struct query_walk {
    submit_parse *sp;
    int envelope, envelope_given;
    int failed;
} query_walk;

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    query_walk *q = cls;
    if (q->failed) return MHD_NO;
    if (strcmp(key, "envelope") == 0) {
        q->envelope = value && strcmp(value, "true") == 0;
        if (q->envelope_given || !value || (!q->envelope && strcmp(value, "false") != 0)) {
            snprintf(q->sp->err, q->sp->errlen, "envelope must be given once, true or false");
            q->failed = 1;
        }
        q->envelope_given = 1;
        return q->failed ? MHD_NO : MHD_YES;
    }
    if (set_option(q->sp, key, value ? value : "", strlen(key), "query parameter") != 0)
        q->failed = 1;
    return q->failed ? MHD_NO : MHD_YES;
}

int submit_request(struct MHD_Connection *c, const char *body, char **params, zg_submit_opts *opts,
                   char *err, size_t errlen)
{
    memset(opts, 0, sizeof *opts);
    *params = NULL;
    submit_parse sp = {.opts = opts, .err = err, .errlen = errlen};
    query_walk q = {&sp, 0, 0, 0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_arg, &q);
    if (q.failed) return -1;
    if (!q.envelope) {
        *params = strdup(body);
        return *params ? 0 : -1;
    }
    if (each_field(body, envelope_field, &sp, "the envelope", err, errlen) != 0) return -1;
    if (sp.options.at) {
        char *text = strndup(sp.options.at, sp.options.len);
        int rc = text ? each_field(text, option_field, &sp, "options", err, errlen) : -1;
        free(text);
        if (rc != 0) return -1;
    }
    int null_params = sp.params.len == 4 && strncmp(sp.params.at, "null", 4) == 0;
    if (sp.params.at && *sp.params.at != '{' && !null_params) {
        snprintf(err, errlen, "params must be a JSON object");
        return -1;
    }
    *params =
        sp.params.at && *sp.params.at == '{' ? strndup(sp.params.at, sp.params.len) : strdup("");
    return *params ? 0 : -1;
}
