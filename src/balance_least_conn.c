/* veer — least connections, weighted (nginx's least_conn): the server with
 * the fewest in-flight requests per unit of weight wins; servers tied on
 * that ratio share the pick by smooth weighted round robin, so an idle pool
 * spreads by weight instead of piling onto index 0.
 *
 * The pick does not touch inflight: the caller counts a request in when it
 * dispatches it to the chosen server and out when it ends. */
#include "veer/balance.h"
#include "veer/common.h"

/* Sign of inflight_a/weight_a - inflight_b/weight_b, by cross-multiplying
 * (both weights are above 0; the products fit in 64 bits). */
static int cmp_load(const struct veer_pool_conf *pool, const struct veer_balance_state *st,
		    size_t a, size_t b)
{
	uint64_t la = (uint64_t)st->servers[a].inflight * pool->servers[b].weight;
	uint64_t lb = (uint64_t)st->servers[b].inflight * pool->servers[a].weight;

	return (la > lb) - (la < lb);
}

static int lc_pick(const struct veer_pool_conf *pool, struct veer_balance_state *st,
		   const struct veer_pick_ctx *ctx)
{
	size_t n = veer_balance_nservers(pool, st);
	int best = -1;
	size_t ties = 0;

	for (size_t i = 0; i < n; i++) {
		if (!veer_balance_eligible(pool, ctx, i))
			continue;
		int c = best < 0 ? -1 : cmp_load(pool, st, i, (size_t)best);
		if (c < 0) {
			best = (int)i;
			ties = 1;
		} else if (c == 0) {
			ties++;
		}
	}
	if (ties <= 1)
		return best;

	/* Smooth weighted round robin among the tied servers only. */
	size_t first = (size_t)best;
	int64_t total = 0;
	best = -1;
	for (size_t i = first; i < n; i++) {
		if (!veer_balance_eligible(pool, ctx, i) || cmp_load(pool, st, i, first) != 0)
			continue;
		struct veer_server_state *s = &st->servers[i];
		s->current_weight += pool->servers[i].weight;
		total += pool->servers[i].weight;
		if (best < 0 || s->current_weight > st->servers[best].current_weight)
			best = (int)i;
	}
	st->servers[best].current_weight -= total;
	return best;
}

const struct veer_balancer_ops veer_balance_least_conn = {
	.name = "least_conn",
	.prepare = NULL,
	.release = NULL,
	.pick = lc_pick,
};
