/* veer — power of two choices (Mitzenmacher): draw two distinct eligible
 * servers at random, each draw weighted by weight, and keep the less loaded.
 * Load is in-flight requests per unit of weight, so with equal weights it is
 * plainly "fewer in flight"; with unequal ones a heavier server is not
 * penalised for carrying the larger share its weight asks for.  A tie keeps
 * the first draw.  O(n) per pick, no shared state besides the PRNG. */
#include "veer/balance.h"
#include "veer/common.h"

static int p2c_pick(const struct veer_pool_conf *pool, struct veer_balance_state *st,
		    const struct veer_pick_ctx *ctx)
{
	int a = veer_balance_draw(pool, st, ctx, -1);
	if (a < 0)
		return -1;
	int b = veer_balance_draw(pool, st, ctx, a);
	if (b < 0)
		return a; /* the only eligible server */

	uint64_t la = (uint64_t)st->servers[a].inflight * pool->servers[b].weight;
	uint64_t lb = (uint64_t)st->servers[b].inflight * pool->servers[a].weight;
	return lb < la ? b : a;
}

const struct veer_balancer_ops veer_balance_p2c = {
	.name = "p2c",
	.prepare = NULL,
	.release = NULL,
	.pick = p2c_pick,
};
