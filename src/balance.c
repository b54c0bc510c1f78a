/* veer — balancer registry, per-worker state, PRNG and hashing shared by the
 * balancers (src/balance_*.c). */
#include <stdlib.h>

#include "veer/balance.h"
#include "veer/common.h"

/* Any nonzero constant: xorshift's state must never be 0 (it would stay 0). */
#define RNG_ZERO_SEED 0x9e3779b97f4a7c15ull

const struct veer_balancer_ops *veer_balancer_for(enum veer_balance_kind kind)
{
	switch (kind) {
	case VEER_BALANCE_ROUND_ROBIN:
		return &veer_balance_round_robin;
	case VEER_BALANCE_LEAST_CONN:
		return &veer_balance_least_conn;
	case VEER_BALANCE_P2C:
		return &veer_balance_p2c;
	case VEER_BALANCE_RANDOM:
		return &veer_balance_random;
	case VEER_BALANCE_HASH:
		return &veer_balance_hash;
	}
	/* An out-of-range kind is a bug elsewhere; the contract is "never NULL". */
	return &veer_balance_round_robin;
}

/* splitmix64: turns nearby seeds (worker 0, 1, 2 ...) into unrelated
 * xorshift states, whose first outputs would otherwise be alike. */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* ST gets one zeroed entry per server of POOL (at least one allocated, so
 * servers is never NULL) and a PRNG state derived from SEED.  The caller
 * owns ST's contents and frees them with veer_balance_state_fini(). */
void veer_balance_state_init(struct veer_balance_state *st,
			     const struct veer_pool_conf *pool, uint64_t seed)
{
	size_t n = pool->nservers;

	st->servers = veer_xcalloc(n ? n : 1, sizeof(*st->servers));
	st->nservers = n;
	st->rng = splitmix64(seed);
	if (st->rng == 0)
		st->rng = RNG_ZERO_SEED;
}

/* Frees what veer_balance_state_init() allocated and zeroes ST; safe to call
 * twice. */
void veer_balance_state_fini(struct veer_balance_state *st)
{
	free(st->servers);
	st->servers = NULL;
	st->nservers = 0;
	st->rng = 0;
}

/* xorshift64* (Vigna 2014, shifts 12/25/27).  *STATE must be nonzero; it
 * stays nonzero. */
uint64_t veer_rand_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t veer_rand_below(uint64_t *state, uint64_t bound)
{
	if (bound <= 1)
		return 0;
	if (bound > UINT32_MAX)
		return veer_rand_next(state) % bound;

	/* Lemire's multiply-shift with rejection, on the high 32 bits (the
	 * best-mixed ones of xorshift64*): unbiased. */
	uint64_t m = (veer_rand_next(state) >> 32) * bound;
	uint32_t low = (uint32_t)m;
	if (low < bound) {
		uint32_t threshold = (uint32_t)(-(uint32_t)bound) % (uint32_t)bound;
		while (low < threshold) {
			m = (veer_rand_next(state) >> 32) * bound;
			low = (uint32_t)m;
		}
	}
	return m >> 32;
}

/* FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3). */
uint64_t veer_hash64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t veer_hash_mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

int veer_balance_draw(const struct veer_pool_conf *pool, struct veer_balance_state *st,
		      const struct veer_pick_ctx *ctx, int exclude)
{
	size_t n = veer_balance_nservers(pool, st);
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++)
		if ((int)i != exclude && veer_balance_eligible(pool, ctx, i))
			total += pool->servers[i].weight;
	if (total == 0)
		return -1;

	uint64_t r = veer_rand_below(&st->rng, total);
	for (size_t i = 0; i < n; i++) {
		if ((int)i == exclude || !veer_balance_eligible(pool, ctx, i))
			continue;
		if (r < pool->servers[i].weight)
			return (int)i;
		r -= pool->servers[i].weight;
	}
	return -1; /* unreachable: r < total */
}
