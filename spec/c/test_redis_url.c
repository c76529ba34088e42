/* Store URLs: redis://[[user]:password@]host[:port][/db] and unix:///path/to/socket[?db=N]. */
#include "check.h"
#include "redis_conn.h"
#include "redis_cluster.h"

static zg_redis_url parse_ok(const char *url)
{
    zg_redis_url u;
    zg_error err = {0};
    int rc = zg_redis_parse_url(url, &u, &err);
    if (rc != ZG_OK) printf("# %s: %s\n", url, err.msg);
    CHECK_INT(rc, ZG_OK);
    return u;
}

static void test_host_alone_takes_the_default_port_and_db_0(void)
{
    zg_redis_url u = parse_ok("redis://cache.local");
    CHECK_STR(u.host, "cache.local");
    CHECK_INT(u.port, 6379);
    CHECK_INT(u.db, 0);
    CHECK_STR(u.password, "");
    CHECK_STR(u.socket, "");
}

static void test_port_and_db(void)
{
    zg_redis_url u = parse_ok("redis://127.0.0.1:6380/3");
    CHECK_STR(u.host, "127.0.0.1");
    CHECK_INT(u.port, 6380);
    CHECK_INT(u.db, 3);
}

static void test_password(void)
{
    zg_redis_url u = parse_ok("redis://:s3cret@h:7000/1");
    CHECK_STR(u.password, "s3cret");
    CHECK_STR(u.host, "h");
    CHECK_INT(u.port, 7000);
    CHECK_STR(u.user, "");
    zg_redis_url v = parse_ok("redis://user:pw@h");
    CHECK_STR(v.password, "pw");
    CHECK_STR(v.user, "user"); /* an ACL user: AUTH user pw */
    char back[1400];
    zg_redis_url_string(&v, back, sizeof back);
    CHECK_STR(back, "redis://user:pw@h:6379/0");
    zg_redis_url w = parse_ok("redis+cluster://zg:pw@h:7000,h:7001");
    CHECK_STR(w.user, "zg");
    CHECK_STR(w.password, "pw");
    zg_redis_url_string(&w, back, sizeof back);
    CHECK_STR(back, "redis+cluster://zg:pw@h:7000,h:7001");
}

static void test_unix_socket_with_and_without_db(void)
{
    zg_redis_url u = parse_ok("unix:///run/redis/redis.sock");
    CHECK_STR(u.socket, "/run/redis/redis.sock");
    CHECK_INT(u.db, 0);
    zg_redis_url v = parse_ok("unix:///tmp/r.sock?db=5");
    CHECK_STR(v.socket, "/tmp/r.sock");
    CHECK_INT(v.db, 5);
}

static void test_bad_urls_are_refused_with_a_reason(void)
{
    const char *bad[] = {"http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h/x",
                         "redis://h:12ab", "unix://", "unix:///s?db=x", "mem",
                         /* a db past INT_MAX, or junk after it (sscanf took both) */
                         "unix:///s?db=99999999999", "unix:///s?db=2x", "redis://h/99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zg_redis_url u;
        zg_error err = {0};
        int rc = zg_redis_parse_url(bad[i], &u, &err);
        if (rc != ZG_EINVAL) printf("# accepted %s\n", bad[i]);
        CHECK_INT(rc, ZG_EINVAL);
        CHECK(strstr(err.msg, bad[i]) != NULL);
    }
}

static void test_a_cluster_url_lists_its_seeds_and_password(void)
{
    zg_redis_url u = parse_ok("redis+cluster://127.0.0.1:7000,127.0.0.1:7001");
    CHECK_INT(u.cluster, 1);
    CHECK_STR(u.seeds, "127.0.0.1:7000,127.0.0.1:7001");
    CHECK_STR(u.host, "127.0.0.1");
    CHECK_INT(u.port, 7000);
    zg_redis_url v = parse_ok("redis+cluster://:pw@h:7000");
    CHECK_STR(v.password, "pw");
    CHECK_STR(v.seeds, "h:7000");
    char back[1400];
    zg_redis_url_string(&v, back, sizeof back);
    CHECK_STR(back, "redis+cluster://:pw@h:7000");
    const char *bad[] = {"redis+cluster://", "redis+cluster://h", "redis+cluster://h:7000,",
                         "redis+cluster://h:7000/1", "redis+cluster://h:0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zg_redis_url w;
        zg_error err = {0};
        int rc = zg_redis_parse_url(bad[i], &w, &err);
        if (rc != ZG_EINVAL) printf("# accepted %s\n", bad[i]);
        CHECK_INT(rc, ZG_EINVAL);
    }
}

/* The slots Redis computes (CLUSTER KEYSLOT): CRC16-XMODEM of the key, or of its hash tag. */
static void test_key_slots_match_redis_cluster(void)
{
    CHECK_INT((int)zg_cluster_key_slot("123456789", 9), 12739);
    CHECK_INT((int)zg_cluster_key_slot("foo", 3), 12182);
    CHECK_INT((int)zg_cluster_key_slot("{user1000}.following", 20),
              (int)zg_cluster_key_slot("{user1000}.followers", 20));
    CHECK_INT((int)zg_cluster_key_slot("{zq:busy}:job:x", 15),
              (int)zg_cluster_key_slot("zq:busy", 7));
    CHECK_INT((int)zg_cluster_key_slot("{zq:busy}", 9), 2213);
    /* an empty tag is no tag: the whole key is hashed */
    CHECK_INT((int)zg_cluster_key_slot("{}foo", 5) == (int)zg_cluster_key_slot("foo", 3), 0);
}

static void test_an_unreachable_server_is_an_error_naming_it(void)
{
    zg_redis r;
    zg_error err = {0};
    CHECK_INT(zg_redis_open(&r, "redis://127.0.0.1:1", 500, &err), ZG_ESTORE);
    CHECK(strstr(err.msg, "cannot connect to redis at 127.0.0.1:1") != NULL);
    zg_redis_close(&r);
}

int main(void)
{
    RUN(test_a_cluster_url_lists_its_seeds_and_password);
    RUN(test_key_slots_match_redis_cluster);
    RUN(test_host_alone_takes_the_default_port_and_db_0);
    RUN(test_port_and_db);
    RUN(test_password);
    RUN(test_unix_socket_with_and_without_db);
    RUN(test_bad_urls_are_refused_with_a_reason);
    RUN(test_an_unreachable_server_is_an_error_naming_it);
    return check_done();
}
