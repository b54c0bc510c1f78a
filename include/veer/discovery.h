/* veer — service discovery: pool endpoints found at runtime.
 *
 * pools[].discovery names one source per pool: DNS (SRV records, how Consul
 * and Kubernetes headless services publish instances, or A/AAAA with a
 * configured port) or an endpoint file (a YAML list of {address, weight}).
 * The control thread keeps the last good endpoint set of each source, by
 * pool name.  Discovered endpoints are applied like admin overrides: every
 * generation the control thread builds (load, reload, republish) gets them
 * appended to its pool's servers before publication, and when a set
 * changes the process republishes.  Workers keep runtime state by pool name
 * and server address, so endpoints that stay keep their breaker, health and
 * idle connections; removed ones drain (in-flight requests finish, idle
 * pooled connections close); new ones get traffic without a reload.
 *
 * A failed lookup, an empty answer or a broken file never empties a pool:
 * the last good set stays, the problem is logged and counted
 * (veer_discovery_errors_total{pool}).
 *
 * Everything here runs on the control thread.
 */
#ifndef VEER_DISCOVERY_H
#define VEER_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "veer/config.h"

/* Most endpoints one source gives a pool; more are refused (file) or
 * left out (DNS, logged). */
#define VEER_DISCOVERY_MAX_ENDPOINTS 1024
/* How often an endpoint file is checked for a change (stat). */
#define VEER_DISCOVERY_FILE_POLL_MS 1000
/* Shortest interval between two DNS resolutions, whatever the TTL. */
#define VEER_DISCOVERY_MIN_REFRESH_MS 1000
/* Interval before the next try after a failure (at most refresh). */
#define VEER_DISCOVERY_RETRY_MS 5000
/* At start, how long veer waits for the first answer of every DNS source
 * before it serves (without the endpoints still missing). */
#define VEER_DISCOVERY_START_WAIT_MS 2000

struct veer_endpoint {
	struct veer_addr addr; /* addr.text is the canonical key */
	uint32_t weight;       /* 0..1000 */
};

struct veer_discovery;

/* Called on the control loop (from a zero-timeout event, coalesced) after
 * one or more pools' endpoint sets changed. */
typedef void (*veer_discovery_changed_fn)(void *arg);

/* A discovery with no source yet, on the control loop BASE.  CHANGED(ARG)
 * is called once veer_discovery_wait() has returned; before that, the
 * caller applies the sets itself. */
struct veer_discovery *veer_discovery_new(struct event_base *base,
					  veer_discovery_changed_fn changed, void *arg);

/* Stop every source and free D (NULL: nothing).  Runs BASE's loop once,
 * without blocking, to collect cancelled lookups: call it when the loop is
 * not running. */
void veer_discovery_free(struct veer_discovery *d);

/* Follow CFG (the generation now published): start a source for each pool
 * with discovery, keep a running one whose settings did not change, stop
 * the others.  A pool whose source changed keeps the previous source's
 * last set until the new source first succeeds (never an empty pool by
 * accident).  Endpoint files are read at once; DNS answers come later. */
void veer_discovery_update(struct veer_discovery *d, const struct veer_config *cfg);

/* Run the loop until every DNS source has had its first answer or failed,
 * at most MAX_MS; from then on changes are reported through CHANGED. */
void veer_discovery_wait(struct veer_discovery *d, veer_ms_t max_ms);

/* Append the last good set of each pool's source to the servers of CFG's
 * pools that have discovery (CFG is being built, not published).  D may be
 * NULL (nothing). */
void veer_discovery_apply(const struct veer_discovery *d, struct veer_config *cfg);

/* Failed lookups, empty answers and broken files of POOL since start. */
uint64_t veer_discovery_errors(const struct veer_discovery *d, const char *pool);

/* ---- pure helpers (also for tests) ------------------------------------- */

/* Sort E (*N entries) by address text and merge duplicates (weights added,
 * at most 1000). */
void veer_endpoints_normalize(struct veer_endpoint *e, size_t *n);

/* True when the normalized sets A and B hold the same addresses and
 * weights. */
bool veer_endpoints_equal(const struct veer_endpoint *a, size_t na, const struct veer_endpoint *b,
			  size_t nb);

/* Parse an endpoint file: DATA (LEN bytes) named NAME in messages, a YAML
 * list of {address: host:port, weight: 0..1000 (default 1)}.  VEER_OK with
 * *OUT (malloc'd, the caller frees; NULL when empty) and *N, normalized; or
 * VEER_ERR with every problem in ERRS as "NAME:LINE:COL: message". */
int veer_endpoints_parse(const char *name, const char *data, size_t len, struct veer_endpoint **out,
			 size_t *n, struct veer_errors *errs);

/* Append the N endpoints E to POOL's servers (skipping addresses the pool
 * lists already) and rebuild the balancer's data (the hash ring). */
void veer_discovery_add_endpoints(struct veer_pool_conf *pool, const struct veer_endpoint *e,
				  size_t n);

#endif
