/* veer — smooth weighted round robin, as nginx does it
 * (ngx_http_upstream_get_peer): every eligible server's current weight grows
 * by its weight, the largest wins and gives back the total.  Weights 5,1,1
 * give a a b a c a a: each server gets exactly its share over every cycle of
 * sum(weights) picks, interleaved rather than in bursts. */
#include "veer/balance.h"
#include "veer/common.h"

/* Ties go to the lowest index, which makes the sequence deterministic.
 * Skipped and weight-0 servers neither win nor accumulate weight, so a
 * server coming back from a skip does not burst. */
static int rr_pick(const struct veer_pool_conf *pool, struct veer_balance_state *st,
		   const struct veer_pick_ctx *ctx)
{
	size_t n = veer_balance_nservers(pool, st);
	int64_t total = 0;
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		if (!veer_balance_eligible(pool, ctx, i))
			continue;
		struct veer_server_state *s = &st->servers[i];
		s->current_weight += pool->servers[i].weight;
		total += pool->servers[i].weight;
		if (best < 0 || s->current_weight > st->servers[best].current_weight)
			best = (int)i;
	}
	if (best >= 0)
		st->servers[best].current_weight -= total;
	return best;
}

const struct veer_balancer_ops veer_balance_round_robin = {
	.name = "round_robin",
	.prepare = NULL,
	.release = NULL,
	.pick = rr_pick,
};
