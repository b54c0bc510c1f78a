/* veer — route selection. */
#ifndef VEER_ROUTER_H
#define VEER_ROUTER_H

#include <stddef.h>

#include "veer/config.h"

/* The first route of LISTENER whose match holds for HOST (the Host header
 * value, port included or not; NULL when absent) and PATH (the request
 * target up to '?'), or NULL (404).  Pure: no state, no allocation. */
struct veer_route_conf *veer_route_find(const struct veer_listener_conf *listener,
					const char *host, size_t host_len, const char *path,
					size_t path_len);

#endif
