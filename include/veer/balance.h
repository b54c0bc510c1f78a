/* veer — load balancers behind one small ops table.
 *
 * Each balancer is one file (src/balance_NAME.c) exporting a
 * `const struct veer_balancer_ops`.  The core calls only ->pick.  Immutable
 * per-pool data (a hash ring) is built once at config load by ->prepare and
 * lives in the config generation; mutable per-worker state (smooth round
 * robin's current weights, in-flight counts) lives in a
 * struct veer_balance_state owned by the worker, so no pick takes a lock.
 */
#ifndef VEER_BALANCE_H
#define VEER_BALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "veer/config.h"

/* Per-worker, per-server mutable balancing state. */
struct veer_server_state {
	int64_t current_weight; /* smooth weighted round robin */
	uint32_t inflight;      /* requests in flight from this worker */
};

/* Per-worker, per-pool state: one entry per server of the pool, same order
 * as veer_pool_conf.servers. */
struct veer_balance_state {
	struct veer_server_state *servers;
	size_t nservers;
	uint64_t rng; /* xorshift64* state; never 0 */
};

/* What a pick may look at besides the state. */
struct veer_pick_ctx {
	const char *key;   /* hash key bytes (balance: hash); NULL = none */
	size_t key_len;
	const uint8_t *skip; /* optional, nservers bytes: nonzero = do not pick */
};

struct veer_balancer_ops {
	const char *name; /* as written in the config: "round_robin" ... */
	/* Build immutable per-pool data into pool->balancer_data; VEER_OK or
	 * VEER_ERR.  May be NULL. */
	int (*prepare)(struct veer_pool_conf *pool);
	/* Free what prepare built.  May be NULL. */
	void (*release)(struct veer_pool_conf *pool);
	/* Index of the chosen server, or -1 when none is eligible (every
	 * server skipped or of weight 0). */
	int (*pick)(const struct veer_pool_conf *pool, struct veer_balance_state *st,
		    const struct veer_pick_ctx *ctx);
};

extern const struct veer_balancer_ops veer_balance_round_robin;
extern const struct veer_balancer_ops veer_balance_least_conn;
extern const struct veer_balancer_ops veer_balance_p2c;
extern const struct veer_balancer_ops veer_balance_random;
extern const struct veer_balancer_ops veer_balance_hash;

/* The ops for a kind; never NULL. */
const struct veer_balancer_ops *veer_balancer_for(enum veer_balance_kind kind);

/* Allocate/free per-worker state for POOL; SEED makes the PRNG start
 * differently per worker (any value; 0 is remapped). */
void veer_balance_state_init(struct veer_balance_state *st,
			     const struct veer_pool_conf *pool, uint64_t seed);
void veer_balance_state_fini(struct veer_balance_state *st);

/* xorshift64* step; returns the next pseudo-random value. */
uint64_t veer_rand_next(uint64_t *state);

/* 64-bit FNV-1a, fixed (no per-process seed) so every instance agrees. */
uint64_t veer_hash64(const void *data, size_t len);

/* Additions shared by the balancer files. */

/* Uniform value in [0, BOUND) drawn from *STATE (exactly uniform for bounds
 * up to 2^32, modulo-reduced above); 0 when BOUND is 0 or 1. */
uint64_t veer_rand_below(uint64_t *state, uint64_t bound);

/* Murmur3's 64-bit finalizer: a fixed bijective mix that spreads every input
 * bit over every output bit.  veer_hash_mix64(veer_hash64(...)) is what
 * wants uniform high bits (hash rings); veer_hash64 alone stays plain FNV-1a. */
uint64_t veer_hash_mix64(uint64_t h);

/* Servers a pick may consider: those present both in POOL and in ST (the two
 * agree unless the caller sized ST for another pool). */
static inline size_t veer_balance_nservers(const struct veer_pool_conf *pool,
					   const struct veer_balance_state *st)
{
	return pool->nservers < st->nservers ? pool->nservers : st->nservers;
}

/* True when server I of POOL may take traffic: weight above 0 and not
 * marked in CTX->skip.  CTX may be NULL. */
static inline bool veer_balance_eligible(const struct veer_pool_conf *pool,
					 const struct veer_pick_ctx *ctx, size_t i)
{
	if (pool->servers[i].weight == 0)
		return false;
	return ctx == NULL || ctx->skip == NULL || ctx->skip[i] == 0;
}

/* Weighted random draw among the eligible servers of POOL other than
 * EXCLUDE (-1 = exclude none), using ST->rng.  Returns the index or -1 when
 * none is left.  Shared by random, p2c and hash's keyless fallback. */
int veer_balance_draw(const struct veer_pool_conf *pool, struct veer_balance_state *st,
		      const struct veer_pick_ctx *ctx, int exclude);

#endif
