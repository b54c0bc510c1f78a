/* veer — weighted splits between pools: a plain weighted choice and a sticky
 * one (weighted rendezvous hashing).  See include/veer/split.h. */
#include <math.h>
#include <string.h>

#include "veer/balance.h"
#include "veer/split.h"

/* FNV-1a 64 prime, as in veer_hash64(): the sticky hash continues that
 * function's state over the separator and the pool name. */
#define FNV64_PRIME 0x100000001b3ull

/* Between the key and the pool name in the hashed bytes, so that the pair
 * (key, name) and not just their concatenation is what is hashed. */
#define STICKY_SEP 0x00

/* 2^-53: turns a 53-bit integer into a double exactly. */
#define TWO_POW_M53 (1.0 / 9007199254740992.0)

/* High 64 bits of the 128-bit product A * B: floor(A * B / 2^64).  Exact on
 * both paths. */
static uint64_t mulhi64(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
#else
	uint64_t a_lo = (uint32_t)a, a_hi = a >> 32;
	uint64_t b_lo = (uint32_t)b, b_hi = b >> 32;
	uint64_t lo_lo = a_lo * b_lo;
	uint64_t hi_lo = a_hi * b_lo;
	uint64_t lo_hi = a_lo * b_hi;
	uint64_t cross = (lo_lo >> 32) + (uint32_t)hi_lo + lo_hi;

	return a_hi * b_hi + (hi_lo >> 32) + (cross >> 32);
#endif
}

/* Entry i owns the integers [sum of weights before i, that sum + weights[i])
 * of [0, total); R is scaled onto [0, total) by a multiply-high, not a
 * modulo, so every value of r maps to a valid index and the bias is at most
 * total / 2^64 (nil for 32-bit weights).  Weight 0 owns an empty range and
 * is never chosen. */
int veer_split_pick(const uint32_t *weights, size_t n, uint64_t r)
{
	uint64_t total = 0, x, acc = 0;

	for (size_t i = 0; i < n; i++)
		total += weights[i];
	if (total == 0)
		return -1;

	x = mulhi64(r, total); /* in [0, total) */
	for (size_t i = 0; i < n; i++) {
		acc += weights[i];
		if (x < acc)
			return (int)i;
	}
	/* Unreachable: x < total == acc after the loop. */
	return -1;
}

/* FNV-1a 64 over LEN more bytes from state H: veer_hash64(a ++ b) equals
 * fnv1a_more(veer_hash64(a), b), FNV-1a having no finalisation step. */
static uint64_t fnv1a_more(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

/* Score of the pool NAME of weight W (> 0) for the key whose veer_hash64()
 * is KEY_HASH; lower wins.  With u uniform in (0, 1], -ln(u) is exponential
 * of rate 1 and -ln(u) / w exponential of rate w, so the lowest of the
 * scores is pool i's with probability w_i / sum(w) (an exponential race). */
static double sticky_score(uint64_t key_hash, const char *name, uint32_t w)
{
	const unsigned char sep = STICKY_SEP;
	uint64_t h = key_hash;
	double u;

	h = fnv1a_more(h, &sep, 1);
	h = fnv1a_more(h, name, strlen(name));
	h = veer_hash_mix64(h);

	/* The top 53 bits, plus one, fit a double exactly: u in (0, 1], so
	 * log(u) is finite and never positive. */
	u = (double)((h >> 11) + 1) * TWO_POW_M53;
	return -log(u) / (double)w;
}

/* Weighted rendezvous hashing.  Pool i's score for KEY is
 *
 *	h = veer_hash_mix64(veer_hash64(KEY ++ "\0" ++ NAMES[i]))
 *	u = ((h >> 11) + 1) / 2^53                 in (0, 1]
 *	score = -ln(u) / WEIGHTS[i]
 *
 * and the lowest score wins (equivalently the highest u^(1/w)); entries of
 * weight 0 take no part; on an exact tie the lower index wins.
 *
 * Consequences the callers rely on:
 *  - a pool's score depends on KEY, its name and its weight only, so the
 *    choice does not depend on the order of the entries (up to exact ties,
 *    whose odds are about 2^-53 per key);
 *  - raising one weight lowers only that pool's score (IEEE division is
 *    monotonic), so keys can only move TO that pool; lowering one only moves
 *    keys away from it;
 *  - no seed: every process computes the same scores.  The hash is pure
 *    integer arithmetic, identical everywhere; the score uses libm's log()
 *    and one division, which are bit-identical between processes of the same
 *    build on the same platform (what a fleet running one veer release
 *    has).  Across different libm implementations log() may differ in the
 *    last bit, which can only swap a key whose two best scores are within
 *    one ulp of each other: odds of about 1e-16 per key.
 *
 * Costs O(N * (KEY_LEN + name length)); KEY is read, not kept. */
int veer_split_sticky(const uint32_t *weights, const char *const *names, size_t n, const char *key,
		      size_t key_len)
{
	uint64_t key_hash = veer_hash64(key, key_len);
	int best = -1;
	double best_score = 0.0;

	for (size_t i = 0; i < n; i++) {
		double s;

		if (weights[i] == 0)
			continue;
		s = sticky_score(key_hash, names[i], weights[i]);
		/* Strictly lower: an exact tie keeps the lower index. */
		if (best < 0 || s < best_score) {
			best = (int)i;
			best_score = s;
		}
	}
	return best;
}
