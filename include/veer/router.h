/* veer — route selection and the traffic policy of a route (version
 * header, split, sticky split, blue-green).  Pure functions over the config
 * and the parsed request: no state, no allocation. */
#ifndef VEER_ROUTER_H
#define VEER_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "veer/config.h"
#include "veer/http1.h"

/* What routing looks at in a request. */
struct veer_route_input {
	const char *host; /* Host header value (port included or not), NULL if absent */
	size_t host_len;
	const char *path; /* request target path, up to '?' */
	size_t path_len;
	const char *method;        /* method name, upper case */
	const struct veer_msg *msg; /* headers, for match.headers and the policy */
};

/* The first route of LISTENER whose match holds, or NULL (404). */
struct veer_route_conf *veer_route_find(const struct veer_listener_conf *listener,
					const struct veer_route_input *in);

enum veer_route_verdict {
	VEER_ROUTE_POOL = 0,     /* *pool is set */
	VEER_ROUTE_RESPOND,      /* the route answers directly */
	VEER_ROUTE_BAD_VERSION,  /* the version header is not a valid range: 400 */
	VEER_ROUTE_NO_VERSION,   /* no pool satisfies it (on_mismatch: reject): 400 */
	VEER_ROUTE_NO_POOL,      /* every split weight is 0: 503 */
};

/* The pool ROUTE sends the request to.  RND is a uniform random value for
 * a plain weighted split.  Versions: the highest pool version satisfying
 * the header's range wins; without the header, or on a mismatch with
 * on_mismatch: fallback, the route's action decides. */
enum veer_route_verdict veer_route_pool(const struct veer_route_conf *route,
					const struct veer_msg *msg, uint64_t rnd,
					struct veer_pool_conf **pool);

/* The body of the 400 for VEER_ROUTE_NO_VERSION: the versions on offer,
 * highest first ("no version satisfies ...; on offer: 2.0.0, 1.8.3\n").
 * Writes at most LEN bytes (NUL included) into BUF; returns the length. */
size_t veer_route_versions_text(const struct veer_route_conf *route, const char *want,
				size_t want_len, char *buf, size_t len);

#endif
