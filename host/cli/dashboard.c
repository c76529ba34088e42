/* dashboard: serves the web page of zerog serve, GET / (index.html) and GET /ui/<file>, from the
 * files compiled into the program (web_assets.h). These need no token: the page holds no data;
 * the API calls it makes carry the token the user types (the API routes stay closed without it).
 * Each answer forbids what the page does not need (Content-Security-Policy: its own scripts,
 * styles and API only, no inline script, no frames), so a job's text that ever reached the page
 * as markup could not run. */
#include <microhttpd.h>
#include <string.h>

#include "daemon.h"
#include "web_assets.h"

static const web_asset *find_asset(const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/ui/") == 0) url = "/ui/index.html";
    for (const web_asset *a = web_assets; a->path; a++)
        if (strcmp(a->path, url) == 0) return a;
    return NULL;
}

int dashboard_path(const char *url)
{
    return strcmp(url, "/") == 0 || strncmp(url, "/ui/", 4) == 0;
}

int dashboard_serve(struct MHD_Connection *c, const char *url, const char *method, int *r)
{
    if (!dashboard_path(url)) return 0;
    const web_asset *a = find_asset(url);
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    unsigned status = !a ? 404 : !get ? 405 : 200;
    const char *data = status == 404   ? "{\"error\":\"no such file\"}\n"
                       : status == 405 ? "{\"error\":\"method not allowed\"}\n"
                                       : a->data;
    size_t len = status == 200 ? a->len : strlen(data);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        *r = MHD_NO;
        return 1;
    }
    MHD_add_response_header(resp, "Content-Type", status == 200 ? a->type : "application/json");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*"); /* as every response */
    MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Content-Type, Authorization");
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    if (status == 200) {
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
    }
    if (status == 405) MHD_add_response_header(resp, "Allow", "GET, HEAD");
    *r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return 1;
}
