/* veer — a worker's Redis connection (global.redis), for rate limits shared
 * by a fleet (routes[].rate_limit.scope: global).
 *
 * Each worker owns one struct veer_redis: one hiredis async connection on
 * the worker's own event loop (hiredis's libevent adapter), so no lock and
 * no thread hop is ever needed.  Every take is one EVALSHA of a small Lua
 * token bucket that Redis runs atomically, with Redis's own clock (so
 * instances whose clocks differ still agree); takes issued together in one
 * loop turn leave in one write (hiredis pipelines them).
 *
 * Failure is the normal case to design for:
 *   - Not connected: a take fails at once (VEER_REDIS_DOWN); the connection
 *     is retried in the background with backoff (100 ms doubling to 2 s).
 *   - Slow: the caller bounds its own wait (global.redis.timeout) and
 *     cancels.  While the oldest take on the connection has waited past the
 *     timeout, new takes fail at once instead of queueing behind it; a
 *     connection without any reply for max(4 x timeout, 500 ms) is dropped
 *     and made again.
 *   - Too many takes in flight (VEER_REDIS_MAX_INFLIGHT): fail at once.
 * Failures are counted in veer_redis_errors_total{reason}; what a failed
 * take means for the request (global.redis.on_error) is the caller's call.
 *
 * Keys in Redis are "veer:rl:" ROUTE ":" KEY; they expire once their bucket
 * would be full again, so Redis memory follows the keys in use.
 */
#ifndef VEER_REDIS_H
#define VEER_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "veer/config.h"
#include "veer/ratelimit.h"

#define VEER_REDIS_MAX_INFLIGHT 65536u

struct veer_redis;
struct veer_redis_wait;
struct veer_stats;

/* Why a take failed (label reason of veer_redis_errors_total). */
enum veer_redis_error {
	VEER_REDIS_DOWN = 0, /* not connected, stalled or overloaded: failed at once */
	VEER_REDIS_TIMEOUT,  /* no answer within global.redis.timeout */
	VEER_REDIS_FAILED,   /* an error reply, or the connection dropped meanwhile */
};

/* The answer to a take: RES is the bucket's verdict, or NULL when the take
 * failed (already counted as VEER_REDIS_FAILED). */
typedef void veer_redis_cb(void *arg, const struct veer_bucket_result *res);

/* A client of the Redis server at ADDR on BASE (the caller's loop), counting
 * into STATS (the worker's shard).  It starts connecting at once.  TIMEOUT is
 * global.redis.timeout (it sets the stall checks).  Never NULL. */
struct veer_redis *veer_redis_new(struct event_base *base, const struct veer_addr *addr,
				  veer_ms_t timeout, struct veer_stats *stats);

/* Close the connection and free R.  Takes still waiting get their callback
 * with NULL (from inside this call). */
void veer_redis_free(struct veer_redis *r);

/* True when R talks to ADDR (a reload keeps R then). */
bool veer_redis_is_for(const struct veer_redis *r, const struct veer_addr *addr);
/* A reload changed global.redis.timeout. */
void veer_redis_set_timeout(struct veer_redis *r, veer_ms_t timeout);

/* Take one token from bucket ROUTE/KEY (KEY_LEN bytes, any bytes) of RATE
 * tokens/s and BURST tokens.  Returns a handle and calls CB(ARG, ...) once
 * later from the loop (never from inside this call), unless the handle is
 * cancelled first.  Returns NULL when the take failed at once (counted as
 * VEER_REDIS_DOWN); CB is then never called. */
struct veer_redis_wait *veer_redis_take(struct veer_redis *r, const char *route, const char *key,
					size_t key_len, double rate, uint32_t burst,
					veer_redis_cb *cb, void *arg);

/* The caller stops waiting for W (it timed out: TIMED_OUT, counted; or its
 * request went away).  CB is not called; W is recycled when Redis answers. */
void veer_redis_cancel(struct veer_redis *r, struct veer_redis_wait *w, bool timed_out);

#endif
