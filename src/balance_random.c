/* veer — weighted random: each eligible server with probability
 * weight / sum(eligible weights), drawn from the worker's own PRNG. */
#include "veer/balance.h"
#include "veer/common.h"

static int random_pick(const struct veer_pool_conf *pool, struct veer_balance_state *st,
		       const struct veer_pick_ctx *ctx)
{
	return veer_balance_draw(pool, st, ctx, -1);
}

const struct veer_balancer_ops veer_balance_random = {
	.name = "random",
	.prepare = NULL,
	.release = NULL,
	.pick = random_pick,
};
