/* veer — request metrics: per-worker shards, summed when read.
 *
 * Each worker owns one struct veer_stats and is the only writer of it; the
 * request path only adds to counters it owns (no lock, no shared cache line
 * with another worker).  Readers (the admin API on the control thread) walk
 * all shards without a lock: entries are published with release/acquire
 * ordering and counters are read with relaxed atomic loads, so a scrape sees
 * each counter at some recent value.  Series are keyed by name (route, pool,
 * listener), so they carry over config reloads.
 */
#ifndef VEER_STATS_H
#define VEER_STATS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

struct veer_stats;

/* A shard for one worker (owned by the caller). */
struct veer_stats *veer_stats_new(void);
void veer_stats_free(struct veer_stats *s);

/* Writer side (the owning worker only). */

/* A request ended with CODE after DURATION_US microseconds.  POOL is NULL
 * (label pool="") for answers veer gave itself (404, 429, respond: ...);
 * ROUTE is NULL (route="") when no route matched. */
void veer_stats_request(struct veer_stats *s, const char *route, const char *pool, int code,
			uint64_t duration_us);
/* A retry was started for POOL. */
void veer_stats_retry(struct veer_stats *s, const char *pool);
/* A request of ROUTE was refused by a rate limit (route or pool limit). */
void veer_stats_rate_limited(struct veer_stats *s, const char *route);
/* A take from global.redis failed for REASON (down, timeout, failed). */
void veer_stats_redis_error(struct veer_stats *s, const char *reason);
/* This worker's connection to Redis at ADDRESS came up (+1) or went down (-1). */
void veer_stats_redis_connected(struct veer_stats *s, const char *address, int delta);
/* A client connection of LISTENER opened (+1) or closed (-1). */
void veer_stats_connection(struct veer_stats *s, const char *listener, int delta);

/* Reader side (any thread). */

struct veer_stats_totals {
	uint64_t requests;
	uint64_t errors; /* 5xx */
};

struct veer_stats_totals veer_stats_route_totals(struct veer_stats *const *shards, size_t n,
						 const char *route);
struct veer_stats_totals veer_stats_pool_totals(struct veer_stats *const *shards, size_t n,
						const char *pool);
int64_t veer_stats_connections(struct veer_stats *const *shards, size_t n, const char *listener);

/* Append the Prometheus text exposition (format 0.0.4) of the summed shards
 * to OUT: veer_requests_total{route,pool,code} (counter),
 * veer_request_duration_seconds{route,pool} (histogram),
 * veer_upstream_retries_total{pool}, veer_rate_limited_total{route},
 * veer_connections_active{listener} (gauge), veer_redis_errors_total{reason},
 * veer_redis_connections{address} (gauge), each with # HELP and # TYPE. */
void veer_stats_render(struct evbuffer *out, struct veer_stats *const *shards, size_t n);

#endif
