/* veer — consistent hashing on a request key (ketama-style ring).
 *
 * prepare() puts POINTS_PER_WEIGHT * weight points per server on a 64-bit
 * ring; point i of a server sits at mix(FNV-1a(address "#" i)), so where a
 * server's points fall depends on nothing but its own address and weight.
 * A key goes to the owner of the first point at or after mix(FNV-1a(key)),
 * wrapping.  Hence adding a server moves only the keys that now land on its
 * points (about its share, all of them to it) and removing one moves only
 * its own keys; skipping a server (breaker, health) walks on to the next
 * eligible point, which is exactly what removing it would do.  Every
 * process built from the same server list agrees: nothing is seeded.
 *
 * Without a key the pick falls back to weighted random. */
#include <stdlib.h>
#include <string.h>

#include "veer/balance.h"
#include "veer/common.h"

/* 160 as in ketama: about 8% relative spread of a weight-1 server's share. */
#define POINTS_PER_WEIGHT 160u
/* Bound on the whole ring (16 bytes a point, so 16 MiB): only pools whose
 * weights sum above 6553 reach it, and are then scaled down evenly. */
#define RING_MAX_POINTS (1u << 20)

struct point {
	uint64_t hash;
	uint32_t server; /* index into pool->servers */
};

struct ring {
	size_t npoints;
	struct point points[];
};

static int cmp_point(const void *a, const void *b)
{
	const struct point *pa = a, *pb = b;

	if (pa->hash != pb->hash)
		return pa->hash < pb->hash ? -1 : 1;
	/* Equal 64-bit hashes are all but impossible; order them anyway. */
	return (pa->server > pb->server) - (pa->server < pb->server);
}

static uint64_t key_hash(const void *data, size_t len)
{
	return veer_hash_mix64(veer_hash64(data, len));
}

static size_t server_points(uint32_t weight, uint64_t total_weight)
{
	if (weight == 0)
		return 0;
	if (total_weight * POINTS_PER_WEIGHT <= RING_MAX_POINTS)
		return (size_t)weight * POINTS_PER_WEIGHT;
	size_t p = (size_t)((uint64_t)weight * RING_MAX_POINTS / total_weight);
	return p ? p : 1;
}

/* Builds the ring into pool->balancer_data (owned by the pool, freed by
 * hash_release).  Always VEER_OK: allocation failure aborts (common.h). */
static int hash_prepare(struct veer_pool_conf *pool)
{
	uint64_t total_weight = 0;
	size_t npoints = 0;

	for (size_t i = 0; i < pool->nservers; i++)
		total_weight += pool->servers[i].weight;
	for (size_t i = 0; i < pool->nservers; i++)
		npoints += server_points(pool->servers[i].weight, total_weight);

	struct ring *r = veer_xmalloc(sizeof(*r) + npoints * sizeof(r->points[0]));
	size_t k = 0;
	for (size_t i = 0; i < pool->nservers; i++) {
		const char *addr = pool->servers[i].address ? pool->servers[i].address : "";
		size_t alen = strlen(addr);
		size_t np = server_points(pool->servers[i].weight, total_weight);
		char *label = veer_xmalloc(alen + 24);

		memcpy(label, addr, alen);
		label[alen] = '#';
		for (size_t j = 0; j < np; j++) {
			/* "#" then the decimal replica number, no NUL hashed. */
			char digits[21];
			size_t nd = 0;
			size_t v = j;
			do {
				digits[nd++] = (char)('0' + v % 10);
				v /= 10;
			} while (v);
			for (size_t d = 0; d < nd; d++)
				label[alen + 1 + d] = digits[nd - 1 - d];
			r->points[k].hash = key_hash(label, alen + 1 + nd);
			r->points[k].server = (uint32_t)i;
			k++;
		}
		free(label);
	}
	r->npoints = k;
	qsort(r->points, r->npoints, sizeof(r->points[0]), cmp_point);

	pool->balancer_data = r;
	return VEER_OK;
}

static void hash_release(struct veer_pool_conf *pool)
{
	free(pool->balancer_data);
	pool->balancer_data = NULL;
}

/* Index of the first point whose hash is >= H, or npoints. */
static size_t lower_bound(const struct ring *r, uint64_t h)
{
	size_t lo = 0, hi = r->npoints;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->points[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int hash_pick(const struct veer_pool_conf *pool, struct veer_balance_state *st,
		     const struct veer_pick_ctx *ctx)
{
	const struct ring *r = pool->balancer_data;
	size_t n = veer_balance_nservers(pool, st);

	if (ctx == NULL || ctx->key == NULL || r == NULL)
		return veer_balance_draw(pool, st, ctx, -1);

	/* Make sure the walk below finds someone before walking at all. */
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = veer_balance_eligible(pool, ctx, i);
	if (!any || r->npoints == 0)
		return -1;

	size_t at = lower_bound(r, key_hash(ctx->key, ctx->key_len));
	for (size_t step = 0; step < r->npoints; step++, at++) {
		if (at == r->npoints)
			at = 0;
		size_t s = r->points[at].server;
		if (s < n && veer_balance_eligible(pool, ctx, s))
			return (int)s;
	}
	return -1; /* unreachable: an eligible server has weight > 0, so points */
}

const struct veer_balancer_ops veer_balance_hash = {
	.name = "hash",
	.prepare = hash_prepare,
	.release = hash_release,
	.pick = hash_pick,
};
