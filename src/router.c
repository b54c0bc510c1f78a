/* veer — route selection and traffic policy (see router.h). */
#include "veer/router.h"
#include "veer/common.h"
#include "veer/semver.h"
#include "veer/split.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Splits and version lists are at most this long (refused at load). */
#define SPLIT_MAX VEER_ROUTE_POOLS_MAX

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

static bool host_matches(const struct veer_route_conf *r, const char *host, size_t host_len)
{
	size_t n, suffix;

	if (host == NULL)
		return false;
	n = host_name_len(host, host_len);
	/* A fully qualified name may end in a dot. */
	if (n > 0 && host[n - 1] == '.')
		n--;
	if (!r->match_host_wildcard)
		return veer_token_eq(host, n, r->match_host); /* RFC 9110 §4.2.3 */
	/* "*.example.com" (stored as ".example.com") matches every name
	 * below example.com, not example.com itself (nginx's rule). */
	suffix = strlen(r->match_host);
	return n > suffix && veer_token_eq(host + n - suffix, suffix, r->match_host);
}

static bool headers_match(const struct veer_route_conf *r, const struct veer_msg *m)
{
	size_t i, len;

	for (i = 0; i < r->nmatch_headers; i++) {
		const char *v = veer_msg_header(m, r->match_headers[i].name, &len);
		if (v == NULL || len != strlen(r->match_headers[i].value) ||
		    memcmp(v, r->match_headers[i].value, len) != 0)
			return false;
	}
	return true;
}

static bool method_matches(const struct veer_route_conf *r, const char *method)
{
	size_t i;

	if (r->nmatch_methods == 0)
		return true;
	for (i = 0; i < r->nmatch_methods; i++)
		if (strcmp(r->match_methods[i], method) == 0)
			return true;
	return false;
}

static bool route_matches(const struct veer_route_conf *r, const struct veer_route_input *in)
{
	if (r->match_host != NULL && !host_matches(r, in->host, in->host_len))
		return false;
	if (r->match_path_prefix != NULL) {
		size_t n = strlen(r->match_path_prefix);
		if (in->path_len < n || memcmp(in->path, r->match_path_prefix, n) != 0)
			return false;
	}
	if (!method_matches(r, in->method))
		return false;
	return r->nmatch_headers == 0 || headers_match(r, in->msg);
}

struct veer_route_conf *veer_route_find(const struct veer_listener_conf *listener,
					const struct veer_route_input *in)
{
	size_t i;

	for (i = 0; i < listener->nroutes; i++)
		if (route_matches(listener->routes[i], in))
			return listener->routes[i];
	return NULL;
}

static enum veer_route_verdict split_pool(const struct veer_route_conf *r,
					  const struct veer_msg *m, uint64_t rnd,
					  struct veer_pool_conf **pool)
{
	uint32_t weights[SPLIT_MAX];
	const char *names[SPLIT_MAX];
	const char *key = NULL;
	size_t i, n = r->nsplit < SPLIT_MAX ? r->nsplit : SPLIT_MAX, key_len = 0;
	int idx;

	for (i = 0; i < n; i++) {
		weights[i] = r->split[i].weight;
		names[i] = r->split[i].pool->name;
	}
	if (r->sticky == VEER_STICKY_HEADER)
		key = veer_msg_header(m, r->sticky_name, &key_len);
	else if (r->sticky == VEER_STICKY_COOKIE)
		key = veer_msg_cookie(m, r->sticky_name, &key_len);
	/* Without the key, the plain weighted choice. */
	if (key != NULL && key_len > 0)
		idx = veer_split_sticky(weights, names, n, key, key_len);
	else
		idx = veer_split_pick(weights, n, rnd);
	if (idx < 0)
		return VEER_ROUTE_NO_POOL;
	*pool = r->split[idx].pool;
	return VEER_ROUTE_POOL;
}

static enum veer_route_verdict action_pool(const struct veer_route_conf *r,
					   const struct veer_msg *m, uint64_t rnd,
					   struct veer_pool_conf **pool)
{
	switch (r->action) {
	case VEER_ACTION_POOL:
		*pool = r->pool;
		return VEER_ROUTE_POOL;
	case VEER_ACTION_SPLIT:
		return split_pool(r, m, rnd, pool);
	case VEER_ACTION_BLUE_GREEN:
		*pool = r->green_active ? r->green : r->blue;
		return VEER_ROUTE_POOL;
	default:
		return VEER_ROUTE_RESPOND;
	}
}

enum veer_route_verdict veer_route_pool(const struct veer_route_conf *r,
					const struct veer_msg *m, uint64_t rnd,
					struct veer_pool_conf **pool)
{
	struct veer_range range;
	struct veer_pool_conf *best = NULL;
	const char *want;
	size_t len, i;

	if (r->version_header == NULL ||
	    (want = veer_msg_header(m, r->version_header, &len)) == NULL)
		return action_pool(r, m, rnd, pool);
	if (veer_range_parse(want, len, &range) != VEER_OK)
		return VEER_ROUTE_BAD_VERSION;
	for (i = 0; i < r->nversion_pools; i++) {
		struct veer_pool_conf *p = r->version_pools[i];
		if (veer_range_satisfies(&range, &p->semver) &&
		    (best == NULL || veer_semver_cmp(&p->semver, &best->semver) > 0))
			best = p;
	}
	if (best != NULL) {
		*pool = best;
		return VEER_ROUTE_POOL;
	}
	if (r->on_mismatch == VEER_MISMATCH_FALLBACK)
		return action_pool(r, m, rnd, pool);
	return VEER_ROUTE_NO_VERSION;
}

size_t veer_route_versions_text(const struct veer_route_conf *r, const char *want,
				size_t want_len, char *buf, size_t len)
{
	const struct veer_pool_conf *sorted[SPLIT_MAX];
	size_t i, j, n = 0, off;
	int w;

	for (i = 0; i < r->nversion_pools && n < SPLIT_MAX; i++) {
		const struct veer_pool_conf *p = r->version_pools[i];
		/* insertion sort, highest version first */
		for (j = n; j > 0 && veer_semver_cmp(&p->semver, &sorted[j - 1]->semver) > 0; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = p;
		n++;
	}
	/* The header value is echoed only as far as it is printable. */
	for (i = 0; i < want_len && want[i] >= 0x20 && want[i] < 0x7f; i++)
		;
	w = snprintf(buf, len, "no version satisfies \"%.*s\"; versions on offer:", (int)(i > 64 ? 64 : i), want);
	off = w < 0 ? 0 : (size_t)w < len ? (size_t)w : len - 1;
	for (i = 0; i < n && off < len; i++) {
		w = snprintf(buf + off, len - off, "%s %s", i == 0 ? "" : ",", sorted[i]->version);
		if (w < 0)
			break;
		off += (size_t)w < len - off ? (size_t)w : len - off - 1;
	}
	if (off + 1 < len) {
		buf[off++] = '\n';
		buf[off] = '\0';
	}
	return off;
}
