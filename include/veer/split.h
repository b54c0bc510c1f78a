/* veer — weighted splits between pools, plain and sticky.
 *
 * Pure functions over weights (relative integers; 0 = no traffic).  The
 * sticky choice is weighted rendezvous hashing (highest random weight): each
 * pool scores a key with a fixed hash of (key, pool name) scaled by its
 * weight, and the best score wins.  Hence:
 *  - one key always lands on the same pool while weights hold;
 *  - raising a pool's weight only ever moves keys TO it (never from it to
 *    another pool), so growing a canary never sends a canary user back to
 *    the baseline;
 *  - the hash has no per-process seed, so every veer instance with the same
 *    config assigns every key alike.
 */
#ifndef VEER_SPLIT_H
#define VEER_SPLIT_H

#include <stddef.h>
#include <stdint.h>

/* Index of the entry chosen by weight for R, a uniform 64-bit random value:
 * entry i is chosen with probability weights[i] / sum.  -1 when the sum is 0
 * (or N is 0). */
int veer_split_pick(const uint32_t *weights, size_t n, uint64_t r);

/* Sticky choice for KEY (KEY_LEN bytes) among N entries named NAMES (the pool
 * names: a pool's score depends on its name, not on its position in the
 * list).  -1 when every weight is 0. */
int veer_split_sticky(const uint32_t *weights, const char *const *names, size_t n,
		      const char *key, size_t key_len);

#endif
