/* limits: a job type's RATE, CONCURRENCY and GROUP as a claim carries them to the store (the
 * registry writes them as "concurrency,queue-wide,rate,rate ms,queue-wide,grouped"). */
#include <stdio.h>
#include <string.h>

#include "lifecycle.h"

int zg_type_limits_parse(const char *text, zg_type_limits *out)
{
    long long c, r, ms;
    int cq, rq, g, end = 0;
    memset(out, 0, sizeof *out);
    if (!text || sscanf(text, "%lld,%d,%lld,%lld,%d,%d%n", &c, &cq, &r, &ms, &rq, &g, &end) != 6 ||
        text[end] != '\0' || c < 0 || r < 0 || r > ZG_RATE_MAX || ms < 0 || (r > 0 && ms == 0))
        return -1;
    *out = (zg_type_limits){c, r, ms, cq == 1, rq == 1, g == 1};
    return 0;
}

int zg_type_limits_any(const zg_type_limits *l)
{
    return l && (l->concurrency > 0 || l->rate > 0 || l->grouped);
}
