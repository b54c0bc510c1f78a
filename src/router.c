/* veer — route selection (see router.h). */
#include "veer/router.h"
#include "veer/common.h"

#include <string.h>
#include <strings.h>

/* Host without its port: "a.example:8080" → "a.example", "[::1]:80" → "[::1]". */
static size_t host_name_len(const char *host, size_t len)
{
	size_t i;

	if (len > 0 && host[0] == '[') {
		for (i = 0; i < len; i++)
			if (host[i] == ']')
				return i + 1;
		return len;
	}
	for (i = 0; i < len; i++)
		if (host[i] == ':')
			return i;
	return len;
}

static bool route_matches(const struct veer_route_conf *r, const char *host, size_t host_len,
			  const char *path, size_t path_len)
{
	if (r->match_host != NULL) {
		size_t n = host == NULL ? 0 : host_name_len(host, host_len);
		/* Host names compare case-insensitively (RFC 9110 §4.2.3). */
		if (host == NULL || !veer_token_eq(host, n, r->match_host))
			return false;
	}
	if (r->match_path_prefix != NULL) {
		size_t n = strlen(r->match_path_prefix);
		if (path_len < n || memcmp(path, r->match_path_prefix, n) != 0)
			return false;
	}
	return true;
}

struct veer_route_conf *veer_route_find(const struct veer_listener_conf *listener,
					const char *host, size_t host_len, const char *path,
					size_t path_len)
{
	size_t i;

	for (i = 0; i < listener->nroutes; i++)
		if (route_matches(listener->routes[i], host, host_len, path, path_len))
			return listener->routes[i];
	return NULL;
}
