/* redis_reply.h: hiredis reply objects built in one block per reply, freed in one go.
 *
 * hiredis's own reader mallocs every object of a reply (and its text) apart, and frees them one
 * by one: a claim's document (an HGETALL of ~80 strings) cost a worker ~45k instructions a run in
 * malloc and free alone. A reader given these functions puts a whole reply, its nested arrays
 * and strings included, in blocks that belong to its top-level object. Such a reply is the same
 * redisReply to read, but is freed with zg_redis_reply_free, never freeReplyObject. */
#ifndef ZG_REDIS_REPLY_H
#define ZG_REDIS_REPLY_H

#include <hiredis/hiredis.h>

/* Makes reader build its replies in blocks (each connection of redis_conn.c is so
 * made: every reply a zg_redis call hands out is freed with zg_redis_reply_free). */
void zg_redis_reply_blocks(redisReader *reader);

/* Frees a reply built in blocks, with everything in it; NULL is ignored. */
void zg_redis_reply_free(void *reply);

#endif
