/* redis_cluster: the routing layer that lets a zg_redis talk to a Redis Cluster
 * (redis+cluster://host:port[,host:port...]). hiredis stays the protocol library; this file adds
 * what a cluster client needs on top of it, and nothing else:
 *  - the slot map, read with CLUSTER SLOTS from any node it can reach (the seeds first), kept as
 *    one owner per slot (masters only: every ZeroG call reads what it wrote);
 *  - one zg_redis connection per master, opened when first needed;
 *  - the slot of a call from its keys (CRC16 of the key's hash tag, as Redis computes it);
 *  - a pipeline split per owner and sent to each in turn, the replies put back in order;
 *  - MOVED (the map is read again and the call resent to the new owner), ASK (the call is sent
 *    once to the importing node after ASKING), TRYAGAIN and CLUSTERDOWN (sent again after a
 *    pause), and a broken connection (the map is read again: a failover moves the slots to the
 *    promoted replica), all within the call's timeout;
 *  - a multi-key command whose keys are in different slots (MSET, DEL) split per slot; a
 *    blocking pop over keys of several nodes polled node by node.
 * The caller holds the zg_redis's lock, as for a single server. */
#ifndef ZG_REDIS_CLUSTER_H
#define ZG_REDIS_CLUSTER_H

#include "redis_conn.h"

/* The hash slot of a key (0..16383): CRC16 of the part in the first {...}, if not empty. */
unsigned zg_cluster_key_slot(const char *key, size_t len);

/* Connects to a seed and reads the slot map. `seeds` is "host:port[,host:port...]". */
int zg_cluster_open(zg_cluster **out, const zg_redis_url *url, int64_t timeout_ms, zg_error *err);
void zg_cluster_close(zg_cluster *c);

/* As zg_redis_command, zg_redis_pipeline and zg_redis_send_later, routed by slot. */
redisReply *zg_cluster_command(zg_cluster *c, int argc, const char **argv, const size_t *lens,
                               int64_t read_timeout_ms, zg_error *err);
int zg_cluster_pipeline(zg_cluster *c, size_t n, const zg_redis_call *calls, redisReply **replies,
                        zg_error *err);
void zg_cluster_send_later(zg_cluster *c, int argc, const char **argv);

/* fn(ud, ms, why) is told, on the calling thread, when a call waited ms (ZG_REDIS_STALL_NOTE_MS or
 * more) for the cluster to serve it again (a node down, a failover, CLUSTERDOWN) and then went on;
 * why: the first failure it waited out. As a single server's on_recovered (redis_conn.h). */
void zg_cluster_on_recovered(zg_cluster *c, void (*fn)(void *ud, int64_t down_ms, const char *why),
                             void *ud);

/* A redis:// URL of a master that answers (for a connection of its own: SUBSCRIBE). */
int zg_cluster_any_node_url(zg_cluster *c, char *out, size_t size, zg_error *err);

#endif
