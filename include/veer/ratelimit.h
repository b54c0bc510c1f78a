/* veer — token-bucket rate limiting (pools[].rate_limit, routes[].rate_limit).
 *
 * A bucket holds up to BURST tokens and refills at RATE tokens per second;
 * a request takes one token or is refused (429 with Retry-After).  The
 * bucket is packed in one 64-bit word so that every worker can update a
 * shared bucket with a compare-and-swap, without a lock:
 *
 *   bits 63..24  (40 bits)  last refill time in ms since an epoch the caller
 *                           picks, plus one (0 marks a fresh bucket; the
 *                           range is 2^40 - 2 ms, about 34.8 years)
 *   bits 23..0   (24 bits)  tokens in 1/256 units (up to 65535 tokens; the
 *                           fraction of a token keeps slow refills exact)
 *
 * The word 0 is a full bucket whose time is unknown: a fresh key.
 *
 * Refill is exact over time: the tokens credited between two calls are
 * floor(t1 * r) - floor(t0 * r) units with r the rate in units per ms
 * counted from the caller's epoch, so however often a bucket is taken the
 * rounding never adds up (at most one 1/256 token in all).  A call whose
 * time is earlier than the bucket's (another worker's clock read a little
 * later) credits nothing and keeps the later time.
 *
 * Limits: RATE above VEER_RATE_MAX is taken as VEER_RATE_MAX; RATE <= 0
 * (or NaN) never refills.  BURST above VEER_BURST_MAX is taken as
 * VEER_BURST_MAX; BURST 0 means max(1, floor(RATE)) (the config default:
 * one second's worth).  Times at or beyond VEER_BUCKET_TIME_MAX are taken
 * as VEER_BUCKET_TIME_MAX (the bucket stops refilling: pick an epoch near
 * the process start).
 */
#ifndef VEER_RATELIMIT_H
#define VEER_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VEER_BURST_MAX 65535u
#define VEER_RATE_MAX 1e6
#define VEER_BUCKET_TIME_MAX ((UINT64_C(1) << 40) - 2)

/* Times are whole ms, exact: the least wait after which the refill (as
 * computed by veer_bucket_take()) gives what is asked. */
struct veer_bucket_result {
	bool allowed;
	/* whole tokens left after this call (RateLimit-Remaining) */
	uint32_t remaining;
	/* 0 when allowed; else ms until a whole token is there (Retry-After;
	 * round up to seconds); UINT64_MAX when the bucket never refills */
	uint64_t retry_after_ms;
	/* ms until the bucket is full again (RateLimit-Reset); 0 when full;
	 * UINT64_MAX when it never refills and is not full */
	uint64_t reset_ms;
};

/* Pure: from STATE at NOW_MS, refill at RATE tokens/s up to BURST, and take
 * one token if a whole one is there.  Returns the verdict and stores the new
 * packed state in *NEXT (never 0; equal to STATE's meaning when nothing
 * changed).  A zero STATE is a full bucket (a fresh key).  A state holding
 * more than BURST (the burst was lowered by a reload) is cut to BURST. */
struct veer_bucket_result veer_bucket_take(uint64_t state, double rate, uint32_t burst,
					   uint64_t now_ms, uint64_t *next);

/* A bounded, lock-free table of buckets shared by all workers. */
struct veer_limiter;

/* A table of NSLOTS slots of {key hash, packed bucket}, all with RATE and
 * BURST (as for veer_bucket_take()).  NSLOTS is rounded up to a power of
 * two, at least 4.  Memory is fixed here, once: a key looks for its bucket
 * in its slot and the 3 next (linear probing); when all four are held by
 * other keys it evicts the one whose loss matters least: the bucket that
 * would hold the most tokens now (a bucket full again remembers nothing),
 * and among equals the one idle longest (oldest refill time).  A key kept
 * busy (its bucket drained) thus outlives a flood of one-off keys; an
 * evicted key comes back with a full bucket.  A flood of distinct keys thus never grows
 * memory; it only makes idle keys forget their state.  Never NULL (the
 * out-of-memory policy of common.h).  Free with veer_limiter_free(). */
struct veer_limiter *veer_limiter_new(size_t nslots, double rate, uint32_t burst);
void veer_limiter_free(struct veer_limiter *l);

/* Take one token for KEY (KEY_LEN bytes, hashed with veer_hash64 and
 * veer_hash_mix64) at NOW_MS: compare-and-swap loops on C11 atomics, safe
 * from any thread, never blocks.  Concurrent takes of one key are never
 * lost: N takes at the same times admit what N sequential takes admit.
 * Keys are told apart by their 64-bit hash only.  A take racing with the
 * eviction of its own key may be counted against the old bucket or the new
 * one (one token at most, rare). */
struct veer_bucket_result veer_limiter_take(struct veer_limiter *l, const void *key, size_t key_len,
					    uint64_t now_ms);

/* Slots in the table (NSLOTS as rounded by veer_limiter_new()). */
size_t veer_limiter_slots(const struct veer_limiter *l);

/* Slots holding a key now (for metrics and tests); at most
 * veer_limiter_slots().  Reads each slot once, without stopping writers. */
size_t veer_limiter_used(const struct veer_limiter *l);

#endif
