/* web_assets: the dashboard's files, compiled into the program by host/tools/embed.lua
 * (build/gen/web_assets.c) from host/cli/web. */
#ifndef ZG_WEB_ASSETS_H
#define ZG_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *path; /* "/ui/app.js" */
    const char *type; /* its Content-Type */
    const char *data;
    size_t len;
} web_asset;

/* Ends with an entry whose path is NULL. */
extern const web_asset web_assets[];

#endif
