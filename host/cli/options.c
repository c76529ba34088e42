/* options: the command line of every subcommand. Options may come anywhere among the operands
 * (`zerog run FILE --no-wait` is `zerog run --no-wait FILE`), take their value as the next word or
 * after '=', and "--" ends them. Every numeric option is checked here, by one rule per option
 * name, so `--ttr 0` is refused the same way wherever it appears. Every error names the command
 * and the option and is exit 2; it never prints the whole usage. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* What a numeric option accepts. Options without a rule take any number >= 0. */
typedef struct number_rule {
    const char *opt;
    double min, max; /* max 0: no maximum */
    int above_min;   /* > min rather than >= min */
    int whole;       /* an integer */
} number_rule;

static const number_rule rules[] = {
    {"--ttr", 0, 0, 1, 0},               /* seconds; 0 would mean "the type's TTR" */
    {"--delay", 0, 0, 0, 0},             /* seconds */
    {"--priority", 0, 4294967295, 0, 1}, /* lower runs sooner; beanstalkd's range */
    {"--concurrency", 1, 64, 0, 1},      /* DAEMON_MAX_WORKERS */
    {"--max-jobs", 0, 0, 1, 1},
    {"--workers", 1, 64, 0, 1},
    {"--threads", 1, 64, 0, 1},        /* DAEMON_MAX_THREADS */
    {"--grace", 0, 0, 0, 0},           /* seconds */
    {"--max-body", 1, 1 << 25, 0, 1},  /* 32 MiB: params over 16 MiB are refused anyway */
    {"--http-timeout", 1, 3600, 0, 1}, /* seconds */
    {"--max-connections", 1, 1 << 20, 0, 1},
    {"--max-connections-per-ip", 1, 1 << 20, 0, 1},
    {"--limit", 1, ZG_LIST_MAX_LIMIT, 0, 1}, /* jobs per page of a listing */
};

static const number_rule default_rule = {NULL, 0, 0, 0, 0};

static const number_rule *rule_for(const char *opt)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].opt, opt) == 0) return &rules[i];
    return &default_rule;
}

/* A plain decimal number: digits, a point, an exponent; no hex, inf, nan or spaces. */
int cli_decimal(const char *text, double *out)
{
    if (!*text || strspn(text, "0123456789.eE+-") != strlen(text) || !strpbrk(text, "0123456789"))
        return 0;
    char *end;
    *out = strtod(text, &end);
    return *end == '\0' && isfinite(*out);
}

/* Prints "zerog: CMD: OPT WHAT" (without "CMD: " when cmd is NULL). */
static void complain(const char *cmd, const char *opt, const char *what)
{
    fprintf(stderr, "zerog: %s%s%s %s\n", cmd ? cmd : "", cmd ? ": " : "", opt, what);
}

int cli_number_option(const char *cmd, const char *opt, const char *text, double *out)
{
    const number_rule *r = rule_for(opt);
    char what[160];
    double v;
    if (!text) {
        complain(cmd, opt, "needs a value");
        return 0;
    }
    if (!cli_decimal(text, &v) || (r->whole && v != floor(v))) {
        snprintf(what, sizeof what, "takes a %s, not \"%.100s\"",
                 r->whole ? "whole number" : "number", text);
        complain(cmd, opt, what);
        return 0;
    }
    int too_low = r->above_min ? v <= r->min : v < r->min;
    if (r->max > 0 && (too_low || v > r->max)) {
        snprintf(what, sizeof what, "must be between %.15g and %.15g", r->min, r->max);
        complain(cmd, opt, what);
        return 0;
    }
    if (too_low) {
        snprintf(what, sizeof what, "must be %s %.15g", r->above_min ? ">" : ">=", r->min);
        complain(cmd, opt, what);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_number(const char *opt, const char *text, double *out)
{
    return cli_number_option(NULL, opt, text, out);
}

int cli_number_valid(const char *opt, const char *text, double *out)
{
    const number_rule *r = rule_for(opt);
    double v;
    if (!cli_decimal(text, &v) || (r->whole && v != floor(v))) return 0;
    if (r->above_min ? v <= r->min : v < r->min) return 0;
    if (r->max > 0 && v > r->max) return 0;
    *out = v;
    return 1;
}

/* A word that is an option: "-x", "--name", "--name=value" (but not "-" or "--"). */
static int is_option(const char *word)
{
    return word[0] == '-' && word[1] != '\0' && strcmp(word, "--") != 0;
}

static const cli_opt *find_option(const cli_opt *opts, const char *word, size_t len)
{
    for (const cli_opt *p = opts; p && p->name; p++)
        if (strlen(p->name) == len && strncmp(p->name, word, len) == 0) return p;
    return NULL;
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int min, int max,
              const char **operands, int *n)
{
    int options_ended = 0;
    *n = 0;
    for (int i = 0; i < argc; i++) {
        const char *word = argv[i];
        if (!options_ended && strcmp(word, "--") == 0) {
            options_ended = 1;
            continue;
        }
        if (options_ended || !is_option(word)) {
            if (*n >= max) {
                fprintf(stderr, "zerog: %s: unexpected argument %s\n", cmd, word);
                return cli_command_usage(cmd);
            }
            operands[(*n)++] = word;
            continue;
        }
        const char *eq = strchr(word, '=');
        size_t len = eq ? (size_t)(eq - word) : strlen(word);
        const cli_opt *opt = find_option(opts, word, len);
        if (!opt) {
            fprintf(stderr, "zerog: %s: unknown option %.*s\n", cmd, (int)len, word);
            return EXIT_BAD_INPUT;
        }
        if (opt->kind == CLI_FLAG) {
            if (eq) {
                fprintf(stderr, "zerog: %s: %s takes no value\n", cmd, opt->name);
                return EXIT_BAD_INPUT;
            }
            *(int *)opt->out = 1;
            continue;
        }
        /* the value: after '=', or the next word unless that is another option */
        const char *value = eq ? eq + 1 : NULL;
        if (!eq && i + 1 < argc && !(is_option(argv[i + 1]) && argv[i + 1][1] == '-'))
            value = argv[++i];
        if (!value) {
            fprintf(stderr, "zerog: %s: %s needs a value\n", cmd, opt->name);
            return EXIT_BAD_INPUT;
        }
        if (opt->kind == CLI_TEXT) {
            *(const char **)opt->out = value;
        } else if (opt->kind == CLI_LIST) {
            cli_list *list = opt->out;
            if (list->n == CLI_LIST_MAX) {
                fprintf(stderr, "zerog: %s: at most %d %s options\n", cmd, CLI_LIST_MAX, opt->name);
                return EXIT_BAD_INPUT;
            }
            list->items[list->n++] = value;
        } else if (!cli_number_option(cmd, opt->name, value, opt->out)) {
            return EXIT_BAD_INPUT;
        }
    }
    if (*n < min) {
        fprintf(stderr, "zerog: %s: missing arguments\n", cmd);
        return cli_command_usage(cmd);
    }
    return EXIT_OK;
}
