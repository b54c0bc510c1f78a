/* Unit tests for src/split.c: measured shares of the weighted choice, and
 * the properties the sticky choice promises (stable per key, weighted
 * shares, monotonic canary growth, order independence, no per-process
 * state), checked over every one of 100k keys. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veer/balance.h"
#include "veer/common.h"
#include "veer/split.h"

#define DRAWS 100000
#define NKEYS 100000
#define MAXP 8
#define TOLERANCE 0.01                 /* absolute share */
#define RNG_SEED 0x243f6a8885a308d3ull /* any nonzero constant */

static uint32_t weight_sum(const uint32_t *w, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

/* Each of COUNTS[0..N) (out of TOTAL) within TOLERANCE of its weight share;
 * weight 0 exactly 0.  WHAT names the case in messages. */
static void assert_shares(const char *what, const size_t *counts, size_t total, const uint32_t *w,
			  size_t n)
{
	uint32_t sum = weight_sum(w, n);

	for (size_t i = 0; i < n; i++) {
		double got = (double)counts[i] / (double)total;
		double want = (double)w[i] / (double)sum;

		cr_log_info("%s: entry %zu weight %u: share %.4f (want %.4f)", what, i, w[i], got,
			    want);
		if (w[i] == 0)
			cr_assert_eq(counts[i], 0, "%s: entry %zu of weight 0 got %zu", what, i,
				     counts[i]);
		else
			cr_assert(fabs(got - want) <= TOLERANCE,
				  "%s: entry %zu share %.4f, want %.4f +- %.2f", what, i, got, want,
				  TOLERANCE);
	}
}

/* ---- veer_split_pick ---------------------------------------------------- */

static void pick_case(const char *what, const uint32_t *w, size_t n)
{
	size_t counts[MAXP] = { 0 };
	uint64_t rng = RNG_SEED;

	cr_assert(n <= MAXP);
	for (size_t k = 0; k < DRAWS; k++) {
		int i = veer_split_pick(w, n, veer_rand_next(&rng));

		cr_assert(i >= 0 && (size_t)i < n, "%s: index %d", what, i);
		counts[i]++;
	}
	assert_shares(what, counts, DRAWS, w, n);
}

Test(split, pick_shares)
{
	pick_case("pick 95/5", (const uint32_t[]){ 95, 5 }, 2);
	pick_case("pick 75/25", (const uint32_t[]){ 75, 25 }, 2);
	pick_case("pick 1/1/1", (const uint32_t[]){ 1, 1, 1 }, 3);
	pick_case("pick 0/10", (const uint32_t[]){ 0, 10 }, 2);
	pick_case("pick 3/0/1/0", (const uint32_t[]){ 3, 0, 1, 0 }, 4);
}

Test(split, pick_zero_sum)
{
	const uint32_t zero[] = { 0, 0, 0 };

	cr_assert_eq(veer_split_pick(zero, 3, 0), -1);
	cr_assert_eq(veer_split_pick(zero, 3, UINT64_MAX), -1);
	cr_assert_eq(veer_split_pick(zero, 0, 12345), -1);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 7 }, 0, 12345), -1);
}

Test(split, pick_boundaries)
{
	/* r = 0 lands on the first entry of nonzero weight, r = UINT64_MAX on
	 * the last one. */
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 95, 5 }, 2, 0), 0);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 95, 5 }, 2, UINT64_MAX), 1);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 0, 10 }, 2, 0), 1);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 0, 10 }, 2, UINT64_MAX), 1);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 5, 0 }, 2, UINT64_MAX), 0);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 0, 0, 7, 0 }, 4, 0), 2);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 0, 0, 7, 0 }, 4, UINT64_MAX), 2);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 1 }, 1, UINT64_MAX), 0);

	/* Exact cut points: entry 0 of (1, 1) owns r < 2^63; entry 0 of
	 * (1, 2) owns 3r < 2^64, i.e. r <= 0x5555555555555555. */
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 1, 1 }, 2, (1ull << 63) - 1), 0);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 1, 1 }, 2, 1ull << 63), 1);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 1, 2 }, 2, 0x5555555555555555ull), 0);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ 1, 2 }, 2, 0x5555555555555556ull), 1);

	/* The largest weights do not overflow the total. */
	cr_assert_eq(veer_split_pick((const uint32_t[]){ UINT32_MAX, UINT32_MAX }, 2, 0), 0);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ UINT32_MAX, UINT32_MAX }, 2, UINT64_MAX),
		     1);
	cr_assert_eq(veer_split_pick((const uint32_t[]){ UINT32_MAX, 1 }, 2, UINT64_MAX), 1);
	cr_assert_eq(
		veer_split_pick((const uint32_t[]){ UINT32_MAX, 1 }, 2, UINT64_MAX - (1ull << 32)),
		0);
}

/* ---- veer_split_sticky -------------------------------------------------- */

static const char *const TWO[] = { "baseline", "canary" };
static const char *const THREE[] = { "stable", "canary", "beta" };

/* The key of user K, written to BUF; its length. */
static size_t key_of(char *buf, size_t size, size_t k)
{
	return (size_t)snprintf(buf, size, "user-%zu", k);
}

/* Sticky choice of every key 0 .. NKEYS-1; the caller frees the array. */
static int *sticky_all(const uint32_t *w, const char *const *names, size_t n)
{
	int *out = veer_xmalloc(NKEYS * sizeof(*out));
	char key[32];

	for (size_t k = 0; k < NKEYS; k++) {
		size_t len = key_of(key, sizeof(key), k);

		out[k] = veer_split_sticky(w, names, n, key, len);
	}
	return out;
}

static void count_choices(const int *choice, size_t n, size_t *counts)
{
	memset(counts, 0, n * sizeof(*counts));
	for (size_t k = 0; k < NKEYS; k++) {
		cr_assert(choice[k] >= 0 && (size_t)choice[k] < n, "key %zu: index %d", k,
			  choice[k]);
		counts[choice[k]]++;
	}
}

static void sticky_case(const char *what, const uint32_t *w, const char *const *names, size_t n)
{
	size_t counts[MAXP];
	int *choice = sticky_all(w, names, n);

	count_choices(choice, n, counts);
	assert_shares(what, counts, NKEYS, w, n);
	free(choice);
}

Test(split, sticky_same_key_same_pool)
{
	const uint32_t w[] = { 70, 20, 10 };
	char key[32], copy[40];

	for (size_t k = 0; k < 1000; k++) {
		size_t len = key_of(key, sizeof(key), k);
		int first = veer_split_sticky(w, THREE, 3, key, len);

		cr_assert(first >= 0 && first < 3);
		/* Same bytes at another address, with trailing bytes that are
		 * not part of the key. */
		memcpy(copy + 1, key, len);
		copy[1 + len] = 'x';
		for (int rep = 0; rep < 3; rep++) {
			cr_assert_eq(veer_split_sticky(w, THREE, 3, key, len), first);
			cr_assert_eq(veer_split_sticky(w, THREE, 3, copy + 1, len), first);
		}
	}
}

Test(split, sticky_shares)
{
	sticky_case("sticky 95/5", (const uint32_t[]){ 95, 5 }, TWO, 2);
	sticky_case("sticky 50/50", (const uint32_t[]){ 50, 50 }, TWO, 2);
	sticky_case("sticky 70/20/10", (const uint32_t[]){ 70, 20, 10 }, THREE, 3);
	sticky_case("sticky 0/10", (const uint32_t[]){ 0, 10 }, TWO, 2);
	sticky_case("sticky 10/0/5", (const uint32_t[]){ 10, 0, 5 }, THREE, 3);
}

Test(split, sticky_no_weight)
{
	cr_assert_eq(veer_split_sticky((const uint32_t[]){ 0, 0 }, TWO, 2, "k", 1), -1);
	cr_assert_eq(veer_split_sticky((const uint32_t[]){ 5 }, TWO, 0, "k", 1), -1);
	/* One pool of nonzero weight takes every key, the empty one too. */
	cr_assert_eq(veer_split_sticky((const uint32_t[]){ 0, 1 }, TWO, 2, "k", 1), 1);
	cr_assert_eq(veer_split_sticky((const uint32_t[]){ 3, 0 }, TWO, 2, "", 0), 0);
}

/* Canary growth as a deploy pipeline does it: no key ever goes back from
 * the canary to the baseline, and the keys that move are about as many as
 * the share moved (rendezvous moves only what it must). */
Test(split, sticky_monotonic_canary_growth)
{
	static const uint32_t steps[][2] = {
		{ 95, 5 }, { 90, 10 }, { 75, 25 }, { 50, 50 }, { 0, 100 }
	};
	int *prev = sticky_all(steps[0], TWO, 2);

	for (size_t s = 1; s < VEER_ARRAY_LEN(steps); s++) {
		int *cur = sticky_all(steps[s], TWO, 2);
		size_t moved = 0, counts[2];
		double want_moved = (double)steps[s][1] / 100.0 - (double)steps[s - 1][1] / 100.0;
		double got_moved;

		for (size_t k = 0; k < NKEYS; k++) {
			if (prev[k] == 1)
				cr_assert_eq(cur[k], 1, "step %zu: key %zu went canary -> baseline",
					     s, k);
			if (cur[k] != prev[k]) {
				cr_assert(prev[k] == 0 && cur[k] == 1);
				moved++;
			}
		}
		got_moved = (double)moved / NKEYS;
		cr_log_info("canary %u -> %u: %.4f of keys moved (share moved %.4f)",
			    steps[s - 1][1], steps[s][1], got_moved, want_moved);
		cr_assert(fabs(got_moved - want_moved) <= TOLERANCE,
			  "step %zu: %.4f of keys moved, share moved %.4f", s, got_moved,
			  want_moved);
		count_choices(cur, 2, counts);
		assert_shares("growth step", counts, NKEYS, steps[s], 2);
		free(prev);
		prev = cur;
	}
	free(prev);
}

/* Raising pool RAISE from FROM to TO: every key that moves, moves to it. */
static void raise_case(const uint32_t *from, size_t raise, uint32_t to)
{
	uint32_t w[3];
	int *before, *after;
	size_t moved = 0;

	memcpy(w, from, sizeof(w));
	before = sticky_all(w, THREE, 3);
	w[raise] = to;
	after = sticky_all(w, THREE, 3);
	for (size_t k = 0; k < NKEYS; k++) {
		if (after[k] != before[k]) {
			cr_assert_eq(after[k], (int)raise, "key %zu moved %d -> %d, not to %zu", k,
				     before[k], after[k], raise);
			moved++;
		}
	}
	cr_log_info("raise pool %zu %u -> %u: %zu keys moved", raise, from[raise], to, moved);
	cr_assert_gt(moved, 0);
	free(before);
	free(after);
}

Test(split, sticky_raise_one_of_three)
{
	raise_case((const uint32_t[]){ 70, 20, 10 }, 2, 40);
	raise_case((const uint32_t[]){ 70, 20, 10 }, 1, 50);
	raise_case((const uint32_t[]){ 70, 20, 10 }, 0, 80);
	raise_case((const uint32_t[]){ 70, 0, 10 }, 1, 5);
}

/* The entries listed in any order, names kept with their weights: every key
 * lands on the same named pool. */
Test(split, sticky_order_independent)
{
	static const size_t perms[][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
					   { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
	const uint32_t w[] = { 70, 20, 10 };
	int *ref = sticky_all(w, THREE, 3);

	for (size_t p = 1; p < VEER_ARRAY_LEN(perms); p++) {
		uint32_t pw[3];
		const char *pn[3];
		int *got;

		for (size_t i = 0; i < 3; i++) {
			pw[i] = w[perms[p][i]];
			pn[i] = THREE[perms[p][i]];
		}
		got = sticky_all(pw, pn, 3);
		for (size_t k = 0; k < NKEYS; k++)
			cr_assert_str_eq(pn[got[k]], THREE[ref[k]], "perm %zu key %zu", p, k);
		free(got);
	}
	free(ref);
}

/* What a second veer process does: its own copies of the names, weights
 * and keys, built from scratch.  Every key agrees. */
Test(split, sticky_two_processes_agree)
{
	const uint32_t w_a[] = { 75, 25 };
	uint32_t *w_b = veer_xmalloc(sizeof(w_a));
	char *names_b[2];
	char key_a[32];

	memcpy(w_b, w_a, sizeof(w_a));
	names_b[0] = veer_xstrdup("baseline");
	names_b[1] = veer_xstrdup("canary");
	for (size_t k = 0; k < NKEYS; k++) {
		size_t len = key_of(key_a, sizeof(key_a), k);
		char *key_b = veer_xstrndup(key_a, len);

		cr_assert_eq(veer_split_sticky(w_a, TWO, 2, key_a, len),
			     veer_split_sticky(w_b, (const char *const *)names_b, 2, key_b, len),
			     "key %zu", k);
		free(key_b);
	}
	free(names_b[0]);
	free(names_b[1]);
	free(w_b);
}

/* The documented formula, computed here independently of src/split.c from
 * the concatenated bytes: this is the contract between veer processes. */
static int sticky_reference(const uint32_t *w, const char *const *names, size_t n, const char *key,
			    size_t key_len)
{
	int best = -1;
	double best_score = 0.0;

	for (size_t i = 0; i < n; i++) {
		size_t name_len = strlen(names[i]);
		char *buf = veer_xmalloc(key_len + 1 + name_len);
		uint64_t h;
		double u, score;

		memcpy(buf, key, key_len);
		buf[key_len] = '\0';
		memcpy(buf + key_len + 1, names[i], name_len);
		h = veer_hash_mix64(veer_hash64(buf, key_len + 1 + name_len));
		free(buf);
		if (w[i] == 0)
			continue;
		u = ldexp((double)((h >> 11) + 1), -53);
		score = -log(u) / w[i];
		if (best < 0 || score < best_score) {
			best = (int)i;
			best_score = score;
		}
	}
	return best;
}

Test(split, sticky_matches_reference_formula)
{
	const uint32_t w[] = { 70, 20, 10 };
	char key[32];

	for (size_t k = 0; k < NKEYS; k += 7) {
		size_t len = key_of(key, sizeof(key), k);

		cr_assert_eq(veer_split_sticky(w, THREE, 3, key, len),
			     sticky_reference(w, THREE, 3, key, len), "key %s", key);
	}
	/* Keys with NUL bytes and the empty key follow the same formula. */
	cr_assert_eq(veer_split_sticky(w, THREE, 3, "a\0b", 3),
		     sticky_reference(w, THREE, 3, "a\0b", 3));
	cr_assert_eq(veer_split_sticky(w, THREE, 3, "", 0), sticky_reference(w, THREE, 3, "", 0));
}

/* Regression guard on top of the properties above: choices computed once
 * with this implementation and frozen, so that a change of hash, separator
 * or scoring (which would reshuffle every live sticky user on upgrade) fails
 * loudly. */
Test(split, sticky_frozen_assignments)
{
	static const struct {
		const char *key;
		int two;   /* weights 50/50, TWO */
		int three; /* weights 70/20/10, THREE */
	} table[] = {
		{ "user-1", 1, 1 },     { "user-2", 1, 1 }, { "user-42", 1, 2 },
		{ "alice", 0, 0 },      { "bob", 0, 0 },    { "carol", 1, 0 },
		{ "dave", 0, 0 },       { "eve", 1, 0 },    { "session=9f8e7d6c", 0, 1 },
		{ "0", 0, 0 },          { "", 1, 0 },       { "x-canary-tester", 0, 0 },
		{ "1234567890", 0, 0 }, { "a/b/c", 0, 0 },  { "user-99999", 1, 2 },
	};
	const uint32_t w2[] = { 50, 50 }, w3[] = { 70, 20, 10 };

	for (size_t i = 0; i < VEER_ARRAY_LEN(table); i++) {
		size_t len = strlen(table[i].key);

		cr_assert_eq(veer_split_sticky(w2, TWO, 2, table[i].key, len), table[i].two,
			     "key %s", table[i].key);
		cr_assert_eq(veer_split_sticky(w3, THREE, 3, table[i].key, len), table[i].three,
			     "key %s", table[i].key);
	}
}
