/* verify: the bench's exactly-once check. Reads the uuids `zerog submit --batch` printed (one a
 * line) and, through the public API only (zg_read of each job's document; no Redis keys, whose
 * layout is the library's business), checks that every job ended once: resultCode 200,
 * errorCount 0, no errors, not running, and exactly one event "ran" (the bench job logs it once
 * per run, so a job run twice has two, one never run has none). Then that no queue of the loaded
 * job types still holds a message. Also checks the count: `verify UUIDS_FILE N`.
 *
 * The document is decoded with lua-cjson in a Lua state of our own, so the check does not depend
 * on how the library lays out its JSON. Environment: ZEROG_STORE, ZEROG_JOBS (as the command).
 * Prints one JSON line {"kind": "verify", ...}; exits 1 when any job is wrong, listing the first
 * ten. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "zerog.h"

int luaopen_cjson(lua_State *L);

#define SHOWN 10

/* Returns "" when the document is a job that ran once to 200, else what is wrong with it. */
static const char JUDGE[] =
    "local cjson, text = ...\n"
    "local ok, doc = pcall(cjson.decode, text)\n"
    "if not ok or type(doc) ~= 'table' then return 'not a JSON document' end\n"
    "local ran = 0\n"
    "for _, e in ipairs(type(doc.events) == 'table' and doc.events or {}) do\n"
    "  if type(e) == 'table' and e.msg == 'ran' then ran = ran + 1 end\n"
    "end\n"
    "local problems = {}\n"
    "if doc.resultCode ~= 200 then problems[#problems + 1] = 'resultCode ' .. "
    "tostring(doc.resultCode) end\n"
    "if doc.errorCount ~= 0 then problems[#problems + 1] = 'errorCount ' .. "
    "tostring(doc.errorCount) end\n"
    "if type(doc.errors) == 'table' and #doc.errors > 0 then problems[#problems + 1] = #doc.errors "
    ".. ' errors' end\n"
    "if doc.running ~= false then problems[#problems + 1] = 'running ' .. tostring(doc.running) "
    "end\n"
    "if ran ~= 1 then problems[#problems + 1] = ran .. ' events \"ran\" (expected exactly 1)' end\n"
    "return table.concat(problems, ', ')\n";

static lua_State *judge_open(void)
{
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    luaL_openlibs(L);
    if (luaL_loadstring(L, JUDGE) != LUA_OK) {
        fprintf(stderr, "verify: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    lua_setglobal(L, "judge");
    luaopen_cjson(L);
    lua_setglobal(L, "cjson");
    return L;
}

/* What is wrong with the document (a string on the Lua stack; "" when nothing). */
static const char *judge(lua_State *L, const char *doc)
{
    lua_settop(L, 0);
    lua_getglobal(L, "judge");
    lua_getglobal(L, "cjson");
    lua_pushstring(L, doc);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) return lua_tostring(L, -1);
    return lua_tostring(L, -1);
}

/* Counts the messages left in the loaded types' queues; -1 when they cannot be read. */
static long long messages_left(zg_host *h)
{
    char *queues = NULL;
    if (zg_queues(h, &queues) != ZG_OK) return -1;
    long long left = 0;
    for (char *q = queues; (q = strchr(q, '"'));) {
        char *end = strchr(q + 1, '"');
        if (!end) break;
        *end = '\0';
        zg_queue_counts c;
        if (zg_queue_counts_get(h, q + 1, &c) != ZG_OK) left = -1;
        if (left >= 0) left += c.ready + c.delayed + c.reserved;
        q = end + 1;
    }
    zg_free(queues);
    return left;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: verify UUIDS_FILE N\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    long expected = strtol(argv[2], NULL, 10);
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "verify: cannot read %s\n", argv[1]);
        return 2;
    }
    zg_config cfg;
    zg_config_init(&cfg);
    cfg.store = getenv("ZEROG_STORE");
    cfg.jobs_dir = getenv("ZEROG_JOBS");
    zg_host *h = zg_host_new(&cfg);
    lua_State *L = judge_open();
    if (!h || zg_errcode(h) != ZG_OK || !L) {
        fprintf(stderr, "verify: %s\n", h ? zg_errstr(h) : "out of memory");
        return 1;
    }
    long jobs = 0, wrong = 0;
    char line[128];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line) continue;
        jobs++;
        char *doc = NULL;
        const char *problem;
        if (zg_read(h, ZG_VIEW_DUMP, line, &doc) != ZG_OK)
            problem = zg_errstr(h);
        else
            problem = judge(L, doc);
        if (problem && *problem && ++wrong <= SHOWN)
            fprintf(stderr, "verify: job %s: %s\n", line, problem);
        zg_free(doc);
    }
    fclose(f);
    long long left = messages_left(h);
    int ok = wrong == 0 && jobs == expected && left == 0;
    if (jobs != expected) fprintf(stderr, "verify: %ld uuids, expected %ld\n", jobs, expected);
    if (left != 0) fprintf(stderr, "verify: %lld messages left in the queues\n", left);
    printf("{\"kind\": \"verify\", \"jobs\": %ld, \"wrong\": %ld, \"messages_left\": %lld, "
           "\"ok\": %s}\n",
           jobs, wrong, left, ok ? "true" : "false");
    lua_close(L);
    zg_host_free(h);
    return ok ? 0 : 1;
}
