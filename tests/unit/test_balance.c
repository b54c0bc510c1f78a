/* Unit tests for the balancers (src/balance*.c): exact sequences where the
 * algorithm is deterministic, measured shares where it is random. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "veer/balance.h"
#include "veer/common.h"

#define MAXS 16

struct fx {
	struct veer_pool_conf pool;
	struct veer_server_conf servers[MAXS];
	char addr[MAXS][48];
	struct veer_balance_state st;
};

/* A pool of N servers with weights W and addresses ADDRS (NULL: generated
 * "10.0.0.<i+1>:8080"), prepared for KIND, with state seeded by SEED. */
static void fx_init_addrs(struct fx *f, enum veer_balance_kind kind, const char *const *addrs,
			  const uint32_t *w, size_t n, uint64_t seed)
{
	cr_assert(n <= MAXS);
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < n; i++) {
		if (addrs)
			snprintf(f->addr[i], sizeof(f->addr[i]), "%s", addrs[i]);
		else
			snprintf(f->addr[i], sizeof(f->addr[i]), "10.0.0.%zu:8080", i + 1);
		f->servers[i].address = f->addr[i];
		f->servers[i].weight = w[i];
	}
	f->pool.name = "p";
	f->pool.balance = kind;
	f->pool.balancer = veer_balancer_for(kind);
	f->pool.servers = f->servers;
	f->pool.nservers = n;
	if (f->pool.balancer->prepare)
		cr_assert_eq(f->pool.balancer->prepare(&f->pool), VEER_OK);
	veer_balance_state_init(&f->st, &f->pool, seed);
}

static void fx_init(struct fx *f, enum veer_balance_kind kind, const uint32_t *w, size_t n,
		    uint64_t seed)
{
	fx_init_addrs(f, kind, NULL, w, n, seed);
}

static void fx_fini(struct fx *f)
{
	if (f->pool.balancer->release)
		f->pool.balancer->release(&f->pool);
	veer_balance_state_fini(&f->st);
}

static int pick(struct fx *f, const struct veer_pick_ctx *ctx)
{
	return f->pool.balancer->pick(&f->pool, &f->st, ctx);
}

static int pick_key(struct fx *f, const char *key)
{
	struct veer_pick_ctx ctx = {.key = key, .key_len = strlen(key), .skip = NULL};
	return pick(f, &ctx);
}

/* COUNTS[i] += how often server i is picked over N picks. */
static void count_picks(struct fx *f, const struct veer_pick_ctx *ctx, size_t n, size_t *counts)
{
	for (size_t k = 0; k < n; k++) {
		int i = pick(f, ctx);
		cr_assert(i >= 0 && (size_t)i < f->pool.nservers, "pick %d out of range", i);
		counts[i]++;
	}
}

/* Observed share of each server within REL (relative) of its weight share. */
static void assert_shares_rel(const size_t *counts, const uint32_t *w, size_t n, size_t picks,
			      double rel)
{
	double total = 0;
	for (size_t i = 0; i < n; i++)
		total += w[i];
	for (size_t i = 0; i < n; i++) {
		double want = w[i] / total, got = (double)counts[i] / (double)picks;
		if (w[i] == 0)
			cr_assert_eq(counts[i], 0, "weight-0 server %zu got %zu", i, counts[i]);
		else
			cr_assert(got > want * (1 - rel) && got < want * (1 + rel),
				  "server %zu: share %.4f, want %.4f +-%.0f%%", i, got, want,
				  rel * 100);
	}
}

/* ---- shared pieces ------------------------------------------------------ */

Test(balance, balancer_for_every_kind)
{
	cr_assert_str_eq(veer_balancer_for(VEER_BALANCE_ROUND_ROBIN)->name, "round_robin");
	cr_assert_str_eq(veer_balancer_for(VEER_BALANCE_LEAST_CONN)->name, "least_conn");
	cr_assert_str_eq(veer_balancer_for(VEER_BALANCE_P2C)->name, "p2c");
	cr_assert_str_eq(veer_balancer_for(VEER_BALANCE_RANDOM)->name, "random");
	cr_assert_str_eq(veer_balancer_for(VEER_BALANCE_HASH)->name, "hash");
	cr_assert_eq(veer_balancer_for(VEER_BALANCE_HASH), &veer_balance_hash);
	cr_assert_not_null(veer_balancer_for((enum veer_balance_kind)99));
	cr_assert_not_null(veer_balancer_for((enum veer_balance_kind)99)->pick);
}

Test(balance, hash64_is_fnv1a)
{
	/* Published FNV-1a 64 test vectors. */
	cr_assert_eq(veer_hash64("", 0), 0xcbf29ce484222325ull);
	cr_assert_eq(veer_hash64("a", 1), 0xaf63dc4c8601ec8cull);
	cr_assert_eq(veer_hash64("foobar", 6), 0x85944171f73967e8ull);
	/* The mix is a bijection-style finalizer: fixed, and 0 stays 0. */
	cr_assert_eq(veer_hash_mix64(0), 0);
	cr_assert_neq(veer_hash_mix64(1), veer_hash_mix64(2));
	cr_assert_eq(veer_hash_mix64(12345), veer_hash_mix64(12345));
}

Test(balance, rng_seeding_and_range)
{
	struct veer_pool_conf pool = {0};
	struct veer_server_conf servers[3] = {{.weight = 1}, {.weight = 1}, {.weight = 1}};
	struct veer_balance_state a, b, z;
	pool.servers = servers;
	pool.nservers = 3;
	veer_balance_state_init(&a, &pool, 7);
	veer_balance_state_init(&b, &pool, 7);
	veer_balance_state_init(&z, &pool, 0);
	cr_assert_eq(a.nservers, 3);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(a.servers[i].current_weight, 0);
		cr_assert_eq(a.servers[i].inflight, 0);
	}
	cr_assert_neq(z.rng, 0);
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(veer_rand_next(&a.rng), veer_rand_next(&b.rng));
		cr_assert_neq(z.rng, 0);
		veer_rand_next(&z.rng);
	}

	/* Seeds 1 and 2 start unrelated streams. */
	uint64_t s1, s2;
	veer_balance_state_fini(&b);
	veer_balance_state_init(&b, &pool, 1);
	s1 = veer_rand_next(&b.rng);
	veer_balance_state_fini(&b);
	veer_balance_state_init(&b, &pool, 2);
	s2 = veer_rand_next(&b.rng);
	cr_assert_neq(s1, s2);
	cr_assert_geq(__builtin_popcountll(s1 ^ s2), 16);

	size_t hist[10] = {0};
	for (int i = 0; i < 100000; i++) {
		uint64_t v = veer_rand_below(&a.rng, 10);
		cr_assert_lt(v, 10);
		hist[v]++;
	}
	for (int i = 0; i < 10; i++)
		cr_assert(hist[i] > 9700 && hist[i] < 10300, "bucket %d: %zu", i, hist[i]);
	cr_assert_eq(veer_rand_below(&a.rng, 0), 0);
	cr_assert_eq(veer_rand_below(&a.rng, 1), 0);
	cr_assert_lt(veer_rand_below(&a.rng, 1ull << 40), 1ull << 40);

	veer_balance_state_fini(&a);
	veer_balance_state_fini(&b);
	veer_balance_state_fini(&z);
	cr_assert_null(a.servers);
	cr_assert_eq(a.nservers, 0);
}

Test(balance, empty_pool_picks_none)
{
	static const enum veer_balance_kind kinds[] = {
		VEER_BALANCE_ROUND_ROBIN, VEER_BALANCE_LEAST_CONN, VEER_BALANCE_P2C,
		VEER_BALANCE_RANDOM, VEER_BALANCE_HASH,
	};
	for (size_t k = 0; k < VEER_ARRAY_LEN(kinds); k++) {
		struct fx f;
		fx_init(&f, kinds[k], NULL, 0, 1);
		cr_assert_eq(pick(&f, NULL), -1, "%s", f.pool.balancer->name);
		cr_assert_eq(pick_key(&f, "k"), -1, "%s", f.pool.balancer->name);
		fx_fini(&f);
	}
}

/* Every balancer: weight 0 never, skip honoured, all out gives -1. */
Test(balance, all_kinds_honour_weight0_and_skip)
{
	static const enum veer_balance_kind kinds[] = {
		VEER_BALANCE_ROUND_ROBIN, VEER_BALANCE_LEAST_CONN, VEER_BALANCE_P2C,
		VEER_BALANCE_RANDOM, VEER_BALANCE_HASH,
	};
	const uint32_t w[4] = {2, 0, 1, 3};
	for (size_t k = 0; k < VEER_ARRAY_LEN(kinds); k++) {
		struct fx f;
		uint8_t skip[4] = {0, 0, 0, 1};
		struct veer_pick_ctx ctx = {.skip = skip};
		char key[32];

		fx_init(&f, kinds[k], w, 4, 42);
		for (int n = 0; n < 2000; n++) {
			snprintf(key, sizeof(key), "user-%d", n);
			ctx.key = key;
			ctx.key_len = strlen(key);
			int i = pick(&f, &ctx);
			cr_assert(i == 0 || i == 2, "%s picked %d", f.pool.balancer->name, i);
		}
		memset(skip, 1, sizeof(skip));
		cr_assert_eq(pick(&f, &ctx), -1, "%s", f.pool.balancer->name);
		skip[1] = 0; /* only the weight-0 server left */
		cr_assert_eq(pick(&f, &ctx), -1, "%s", f.pool.balancer->name);
		skip[2] = 0;
		for (int n = 0; n < 100; n++)
			cr_assert_eq(pick(&f, &ctx), 2, "%s", f.pool.balancer->name);
		fx_fini(&f);

		const uint32_t zero[3] = {0, 0, 0};
		fx_init(&f, kinds[k], zero, 3, 42);
		cr_assert_eq(pick(&f, NULL), -1, "%s", f.pool.balancer->name);
		cr_assert_eq(pick_key(&f, "x"), -1, "%s", f.pool.balancer->name);
		fx_fini(&f);
	}
}

/* ---- round robin -------------------------------------------------------- */

static void rr_expect(const uint32_t *w, size_t n, const char *seq)
{
	struct fx f;
	fx_init(&f, VEER_BALANCE_ROUND_ROBIN, w, n, 1);
	for (size_t k = 0; seq[k]; k++) {
		int i = pick(&f, NULL);
		cr_assert_eq(i, seq[k] - 'a', "pick %zu: got %c, want %c (want %s)", k,
			     'a' + i, seq[k], seq);
	}
	fx_fini(&f);
}

Test(balance, rr_exact_sequences)
{
	rr_expect((const uint32_t[]){5, 1, 1}, 3, "aabacaa" "aabacaa" "aabacaa");
	rr_expect((const uint32_t[]){1, 1, 1}, 3, "abcabcabcabc");
	rr_expect((const uint32_t[]){2, 1}, 2, "aba" "aba" "aba");
	rr_expect((const uint32_t[]){1, 0, 2}, 3, "cac" "cac");
	rr_expect((const uint32_t[]){4, 2, 1}, 3, "abacaba" "abacaba");
}

Test(balance, rr_exact_counts)
{
	struct {
		uint32_t w[4];
		size_t n, picks;
		size_t want[4];
	} cases[] = {
		{{5, 1, 1}, 3, 7000, {5000, 1000, 1000}},
		{{1, 1, 1}, 3, 3000, {1000, 1000, 1000}},
		{{3, 2, 0, 1}, 4, 600, {300, 200, 0, 100}},
		{{1000, 1, 999}, 3, 2000 * 3, {3000, 3, 2997}},
	};
	for (size_t c = 0; c < VEER_ARRAY_LEN(cases); c++) {
		struct fx f;
		size_t counts[4] = {0};
		fx_init(&f, VEER_BALANCE_ROUND_ROBIN, cases[c].w, cases[c].n, 1);
		count_picks(&f, NULL, cases[c].picks, counts);
		for (size_t i = 0; i < cases[c].n; i++)
			cr_assert_eq(counts[i], cases[c].want[i], "case %zu server %zu: %zu != %zu",
				     c, i, counts[i], cases[c].want[i]);
		fx_fini(&f);
	}
}

Test(balance, rr_smooth_every_cycle)
{
	/* Each window of sum(weights) picks aligned on a cycle holds exactly
	 * each server's weight: no bursts across cycles. */
	const uint32_t w[4] = {7, 3, 2, 1};
	struct fx f;
	fx_init(&f, VEER_BALANCE_ROUND_ROBIN, w, 4, 1);
	for (int cycle = 0; cycle < 100; cycle++) {
		size_t counts[4] = {0};
		count_picks(&f, NULL, 13, counts);
		for (size_t i = 0; i < 4; i++)
			cr_assert_eq(counts[i], w[i]);
	}
	fx_fini(&f);
}

Test(balance, rr_skip)
{
	const uint32_t w[3] = {1, 1, 1};
	uint8_t skip[3] = {0, 1, 0};
	struct veer_pick_ctx ctx = {.skip = skip};
	struct fx f;
	size_t counts[3] = {0};

	fx_init(&f, VEER_BALANCE_ROUND_ROBIN, w, 3, 1);
	for (int k = 0; k < 10; k++)
		cr_assert_eq(pick(&f, &ctx), k % 2 ? 2 : 0);
	count_picks(&f, &ctx, 1000, counts);
	cr_assert_eq(counts[0], 500);
	cr_assert_eq(counts[1], 0);
	cr_assert_eq(counts[2], 500);

	/* A server back from a skip does not get a burst. */
	skip[1] = 0;
	memset(counts, 0, sizeof(counts));
	count_picks(&f, &ctx, 3, counts);
	cr_assert_eq(counts[0], 1);
	cr_assert_eq(counts[1], 1);
	cr_assert_eq(counts[2], 1);

	memset(skip, 1, sizeof(skip));
	cr_assert_eq(pick(&f, &ctx), -1);
	fx_fini(&f);
}

/* ---- least connections -------------------------------------------------- */

Test(balance, lc_prefers_lower_inflight)
{
	const uint32_t w[3] = {1, 1, 1};
	struct fx f;
	fx_init(&f, VEER_BALANCE_LEAST_CONN, w, 3, 1);
	f.st.servers[0].inflight = 3;
	f.st.servers[1].inflight = 1;
	f.st.servers[2].inflight = 2;
	for (int k = 0; k < 50; k++)
		cr_assert_eq(pick(&f, NULL), 1);

	/* Least loaded skipped: the next least. */
	uint8_t skip[3] = {0, 1, 0};
	struct veer_pick_ctx ctx = {.skip = skip};
	for (int k = 0; k < 50; k++)
		cr_assert_eq(pick(&f, &ctx), 2);
	fx_fini(&f);
}

Test(balance, lc_honours_weights)
{
	const uint32_t w[2] = {3, 1};
	struct fx f;
	fx_init(&f, VEER_BALANCE_LEAST_CONN, w, 2, 1);
	f.st.servers[0].inflight = 2; /* 2/3 < 1/1 */
	f.st.servers[1].inflight = 1;
	cr_assert_eq(pick(&f, NULL), 0);
	f.st.servers[0].inflight = 4; /* 4/3 > 1/1 */
	cr_assert_eq(pick(&f, NULL), 1);
	fx_fini(&f);

	/* Filling up without completions: in-flight ends in the weight ratio. */
	const uint32_t w4[4] = {3, 1, 0, 2};
	fx_init(&f, VEER_BALANCE_LEAST_CONN, w4, 4, 1);
	for (int k = 0; k < 600; k++) {
		int i = pick(&f, NULL);
		cr_assert(i >= 0 && i != 2);
		f.st.servers[i].inflight++;
	}
	cr_assert_eq(f.st.servers[0].inflight, 300);
	cr_assert_eq(f.st.servers[1].inflight, 100);
	cr_assert_eq(f.st.servers[2].inflight, 0);
	cr_assert_eq(f.st.servers[3].inflight, 200);
	fx_fini(&f);
}

Test(balance, lc_ties_spread)
{
	/* Nothing in flight: ties go round robin by weight, not to index 0. */
	const uint32_t w[4] = {1, 1, 1, 1};
	struct fx f;
	size_t counts[4] = {0};
	fx_init(&f, VEER_BALANCE_LEAST_CONN, w, 4, 1);
	for (int k = 0; k < 8; k++)
		cr_assert_eq(pick(&f, NULL), k % 4);
	count_picks(&f, NULL, 400, counts);
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(counts[i], 100);
	fx_fini(&f);

	/* Same sequence as round robin when nothing is in flight. */
	const uint32_t w511[3] = {5, 1, 1};
	fx_init(&f, VEER_BALANCE_LEAST_CONN, w511, 3, 1);
	const char *seq = "aabacaa";
	for (int k = 0; seq[k]; k++)
		cr_assert_eq(pick(&f, NULL), seq[k] - 'a');
	fx_fini(&f);

	/* Ties among the least loaded only: server 1 is busier. */
	const uint32_t w3[3] = {1, 1, 1};
	fx_init(&f, VEER_BALANCE_LEAST_CONN, w3, 3, 1);
	f.st.servers[1].inflight = 5;
	for (int k = 0; k < 10; k++)
		cr_assert_eq(pick(&f, NULL), k % 2 ? 2 : 0);
	fx_fini(&f);
}

Test(balance, lc_balances_under_churn)
{
	/* Requests start and end at random: with equal weights the in-flight
	 * counts never drift more than one apart. */
	const uint32_t w[5] = {1, 1, 1, 1, 1};
	struct fx f;
	uint64_t rng = 12345;
	fx_init(&f, VEER_BALANCE_LEAST_CONN, w, 5, 1);
	for (int k = 0; k < 20000; k++) {
		if (veer_rand_below(&rng, 2) == 0) {
			int i = pick(&f, NULL);
			f.st.servers[i].inflight++;
		} else {
			/* The one the test finishes is the busiest, as
			 * completions come from wherever work piled up. */
			size_t busiest = 0;
			for (size_t i = 1; i < 5; i++)
				if (f.st.servers[i].inflight > f.st.servers[busiest].inflight)
					busiest = i;
			if (f.st.servers[busiest].inflight)
				f.st.servers[busiest].inflight--;
		}
		uint32_t lo = UINT32_MAX, hi = 0;
		for (size_t i = 0; i < 5; i++) {
			lo = f.st.servers[i].inflight < lo ? f.st.servers[i].inflight : lo;
			hi = f.st.servers[i].inflight > hi ? f.st.servers[i].inflight : hi;
		}
		cr_assert_leq(hi - lo, 1, "step %d: spread %u..%u", k, lo, hi);
	}
	fx_fini(&f);
}

/* ---- power of two choices ----------------------------------------------- */

Test(balance, p2c_prefers_less_loaded)
{
	/* Fixed loads 0 < 5 < 10 < 20 with equal weights.  Each unordered pair
	 * is equally likely (1/6) and the lighter one wins it, so the expected
	 * shares are 3/6, 2/6, 1/6 and 0. */
	const uint32_t w[4] = {1, 1, 1, 1};
	const double want[4] = {3 / 6.0, 2 / 6.0, 1 / 6.0, 0};
	struct fx f;
	size_t counts[4] = {0};
	const size_t n = 100000;

	fx_init(&f, VEER_BALANCE_P2C, w, 4, 99);
	f.st.servers[0].inflight = 0;
	f.st.servers[1].inflight = 5;
	f.st.servers[2].inflight = 10;
	f.st.servers[3].inflight = 20;
	count_picks(&f, NULL, n, counts);
	cr_assert_eq(counts[3], 0, "the busiest server can never win a pair");
	for (size_t i = 0; i < 3; i++) {
		double got = (double)counts[i] / n;
		cr_assert(got > want[i] - 0.01 && got < want[i] + 0.01,
			  "server %zu: share %.4f, want %.4f", i, got, want[i]);
	}
	fx_fini(&f);
}

Test(balance, p2c_beats_random_under_load)
{
	/* Picks accumulate in flight, one random completion per pick: p2c keeps
	 * the busiest server far closer to the mean than random does. */
	const uint32_t w[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	uint32_t worst[2] = {0, 0};
	const enum veer_balance_kind kinds[2] = {VEER_BALANCE_P2C, VEER_BALANCE_RANDOM};

	for (int k = 0; k < 2; k++) {
		struct fx f;
		uint64_t rng = 777;
		fx_init(&f, kinds[k], w, 8, 5);
		for (int step = 0; step < 50000; step++) {
			int i = pick(&f, NULL);
			f.st.servers[i].inflight++;
			if (step >= 80) { /* keep ~80 in flight */
				size_t j;
				do
					j = veer_rand_below(&rng, 8);
				while (f.st.servers[j].inflight == 0);
				f.st.servers[j].inflight--;
			}
			for (size_t s = 0; s < 8; s++)
				if (f.st.servers[s].inflight > worst[k])
					worst[k] = f.st.servers[s].inflight;
		}
		fx_fini(&f);
	}
	/* Mean is 10 per server. */
	cr_assert_leq(worst[0], 16, "p2c worst %u", worst[0]);
	cr_assert_gt(worst[1], worst[0] + 5, "random worst %u vs p2c %u", worst[1], worst[0]);
}

Test(balance, p2c_weights_and_weight0)
{
	/* No load: the first draw wins every tie, so shares follow weights. */
	const uint32_t w[3] = {1, 0, 3};
	struct fx f;
	size_t counts[3] = {0};
	fx_init(&f, VEER_BALANCE_P2C, w, 3, 3);
	count_picks(&f, NULL, 100000, counts);
	assert_shares_rel(counts, w, 3, 100000, 0.02);

	/* The weight-0 server stays out even when it is the idle one. */
	f.st.servers[0].inflight = 100;
	f.st.servers[2].inflight = 100;
	memset(counts, 0, sizeof(counts));
	count_picks(&f, NULL, 10000, counts);
	cr_assert_eq(counts[1], 0);

	/* Load relative to weight: 3 in flight on weight 3 ties 1 on weight 1. */
	f.st.servers[0].inflight = 1;
	f.st.servers[2].inflight = 2;
	memset(counts, 0, sizeof(counts));
	count_picks(&f, NULL, 10000, counts);
	cr_assert_eq(counts[0], 0, "1/1 is busier than 2/3");
	fx_fini(&f);
}

/* ---- random ------------------------------------------------------------- */

Test(balance, random_follows_weights)
{
	const uint32_t w3[3] = {2, 3, 5};
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct fx f;
		size_t counts[3] = {0};
		fx_init(&f, VEER_BALANCE_RANDOM, w3, 3, seed);
		count_picks(&f, NULL, 100000, counts);
		assert_shares_rel(counts, w3, 3, 100000, 0.02);
		fx_fini(&f);
	}

	const uint32_t w5[5] = {1, 2, 0, 3, 4};
	struct fx f;
	size_t counts[5] = {0};
	fx_init(&f, VEER_BALANCE_RANDOM, w5, 5, 11);
	count_picks(&f, NULL, 1000000, counts);
	assert_shares_rel(counts, w5, 5, 1000000, 0.02);
	fx_fini(&f);
}

Test(balance, random_skip_and_seeds)
{
	const uint32_t w[3] = {1, 1, 1};
	uint8_t skip[3] = {1, 0, 0};
	struct veer_pick_ctx ctx = {.skip = skip};
	struct fx f, g;
	size_t counts[3] = {0};

	fx_init(&f, VEER_BALANCE_RANDOM, w, 3, 1);
	count_picks(&f, &ctx, 100000, counts);
	cr_assert_eq(counts[0], 0);
	cr_assert(counts[1] > 49000 && counts[1] < 51000, "%zu", counts[1]);

	/* Same seed, same sequence; another seed, another one. */
	fx_init(&g, VEER_BALANCE_RANDOM, w, 3, 1);
	veer_balance_state_fini(&f.st);
	veer_balance_state_init(&f.st, &f.pool, 1);
	int same = 0;
	for (int k = 0; k < 1000; k++)
		same += pick(&f, NULL) == pick(&g, NULL);
	cr_assert_eq(same, 1000);
	veer_balance_state_fini(&g.st);
	veer_balance_state_init(&g.st, &g.pool, 2);
	same = 0;
	for (int k = 0; k < 1000; k++)
		same += pick(&f, NULL) == pick(&g, NULL);
	cr_assert(same > 250 && same < 420, "agreement %d/1000, expected ~1/3", same);
	fx_fini(&f);
	fx_fini(&g);
}

/* ---- consistent hash ---------------------------------------------------- */

#define NKEYS 10000

static void key_name(char *buf, size_t len, int k)
{
	snprintf(buf, len, "user-%d", k);
}

/* OUT[k] = address chosen for key k (pointer into F). */
static void map_keys(struct fx *f, const struct veer_pick_ctx *base, const char **out)
{
	char key[32];
	for (int k = 0; k < NKEYS; k++) {
		struct veer_pick_ctx ctx = base ? *base : (struct veer_pick_ctx){0};
		key_name(key, sizeof(key), k);
		ctx.key = key;
		ctx.key_len = strlen(key);
		int i = pick(f, &ctx);
		cr_assert(i >= 0, "key %d unmapped", k);
		out[k] = f->pool.servers[i].address;
	}
}

static const char *const ADDRS[5] = {
	"10.1.0.1:80", "10.1.0.2:80", "10.1.0.3:80", "10.1.0.4:80", "backend-5.internal:8080",
};

Test(balance, hash_same_key_same_server)
{
	const uint32_t w[4] = {1, 1, 1, 1};
	struct fx f;
	char key[32];
	fx_init_addrs(&f, VEER_BALANCE_HASH, ADDRS, w, 4, 1);
	for (int k = 0; k < 1000; k++) {
		key_name(key, sizeof(key), k);
		int first = pick_key(&f, key);
		cr_assert(first >= 0);
		for (int r = 0; r < 5; r++)
			cr_assert_eq(pick_key(&f, key), first);
		/* Other worker state, other seed: same answer. */
		veer_balance_state_fini(&f.st);
		veer_balance_state_init(&f.st, &f.pool, (uint64_t)k + 100);
		cr_assert_eq(pick_key(&f, key), first);
	}
	/* Only the key's bytes count, not a terminating NUL or what follows. */
	struct veer_pick_ctx ctx = {.key = "user-7XYZ", .key_len = 6};
	cr_assert_eq(pick(&f, &ctx), pick_key(&f, "user-7"));
	fx_fini(&f);
}

Test(balance, hash_distribution_by_weight)
{
	const uint32_t ws[2][4] = {{1, 1, 1, 1}, {1, 2, 3, 4}};
	for (int c = 0; c < 2; c++) {
		struct fx f;
		size_t counts[4] = {0};
		char key[32];
		double total = 0;

		fx_init_addrs(&f, VEER_BALANCE_HASH, ADDRS, ws[c], 4, 1);
		for (int k = 0; k < NKEYS; k++) {
			key_name(key, sizeof(key), k);
			counts[pick_key(&f, key)]++;
		}
		for (int i = 0; i < 4; i++)
			total += ws[c][i];
		for (int i = 0; i < 4; i++) {
			double want = ws[c][i] / total, got = (double)counts[i] / NKEYS;
			cr_assert(got > want - 0.05 && got < want + 0.05,
				  "weights %d: server %d share %.4f, want %.4f", c, i, got, want);
		}
		fx_fini(&f);
	}
}

Test(balance, hash_add_server_moves_only_its_share)
{
	static const char *before[NKEYS], *after[NKEYS];
	const uint32_t w[5] = {1, 1, 1, 1, 1};
	struct fx f4, f5;
	size_t moved = 0;

	fx_init_addrs(&f4, VEER_BALANCE_HASH, ADDRS, w, 4, 1);
	fx_init_addrs(&f5, VEER_BALANCE_HASH, ADDRS, w, 5, 1);
	map_keys(&f4, NULL, before);
	map_keys(&f5, NULL, after);
	for (int k = 0; k < NKEYS; k++) {
		if (strcmp(before[k], after[k]) == 0)
			continue;
		moved++;
		cr_assert_str_eq(after[k], ADDRS[4], "key %d moved %s -> %s, not to the new server",
				 k, before[k], after[k]);
	}
	cr_assert(moved > NKEYS * 15 / 100 && moved < NKEYS * 25 / 100,
		  "%zu of %d keys moved, want about 20%%", moved, NKEYS);
	fx_fini(&f4);
	fx_fini(&f5);
}

Test(balance, hash_remove_server_moves_only_its_keys)
{
	static const char *before[NKEYS], *after[NKEYS];
	const uint32_t w[5] = {1, 1, 1, 1, 1};
	const char *rest[4] = {ADDRS[0], ADDRS[2], ADDRS[3], ADDRS[4]}; /* ADDRS[1] gone */
	struct fx f5, f4;
	size_t moved = 0, got[4] = {0};

	fx_init_addrs(&f5, VEER_BALANCE_HASH, ADDRS, w, 5, 1);
	fx_init_addrs(&f4, VEER_BALANCE_HASH, rest, w, 4, 1);
	map_keys(&f5, NULL, before);
	map_keys(&f4, NULL, after);
	for (int k = 0; k < NKEYS; k++) {
		if (strcmp(before[k], ADDRS[1]) != 0) {
			cr_assert_str_eq(before[k], after[k], "key %d moved off a kept server", k);
			continue;
		}
		moved++;
		for (int i = 0; i < 4; i++)
			got[i] += strcmp(after[k], rest[i]) == 0;
	}
	cr_assert(moved > NKEYS * 15 / 100 && moved < NKEYS * 25 / 100, "%zu moved", moved);
	/* The orphans spread over the survivors instead of landing on one. */
	for (int i = 0; i < 4; i++)
		cr_assert_gt(got[i], moved / 10, "survivor %d got %zu of %zu", i, got[i], moved);
	fx_fini(&f5);
	fx_fini(&f4);
}

Test(balance, hash_skip_equals_removal)
{
	static const char *skipped[NKEYS], *removed[NKEYS];
	const uint32_t w[5] = {2, 1, 1, 3, 1};
	const uint32_t wr[4] = {2, 1, 3, 1};
	const char *rest[4] = {ADDRS[0], ADDRS[1], ADDRS[3], ADDRS[4]};
	uint8_t skip[5] = {0, 0, 1, 0, 0};
	struct veer_pick_ctx ctx = {.skip = skip};
	struct fx f5, f4;

	fx_init_addrs(&f5, VEER_BALANCE_HASH, ADDRS, w, 5, 1);
	fx_init_addrs(&f4, VEER_BALANCE_HASH, rest, wr, 4, 1);
	map_keys(&f5, &ctx, skipped);
	map_keys(&f4, NULL, removed);
	for (int k = 0; k < NKEYS; k++)
		cr_assert_str_eq(skipped[k], removed[k], "key %d", k);
	fx_fini(&f5);
	fx_fini(&f4);
}

Test(balance, hash_raise_weight_only_gains)
{
	/* Raising one server's weight adds points to it alone: keys only move
	 * onto it. */
	static const char *before[NKEYS], *after[NKEYS];
	const uint32_t w1[4] = {1, 1, 1, 1}, w2[4] = {1, 1, 3, 1};
	struct fx a, b;
	size_t moved = 0;

	fx_init_addrs(&a, VEER_BALANCE_HASH, ADDRS, w1, 4, 1);
	fx_init_addrs(&b, VEER_BALANCE_HASH, ADDRS, w2, 4, 1);
	map_keys(&a, NULL, before);
	map_keys(&b, NULL, after);
	for (int k = 0; k < NKEYS; k++) {
		if (strcmp(before[k], after[k]) == 0)
			continue;
		moved++;
		cr_assert_str_eq(after[k], ADDRS[2], "key %d", k);
	}
	/* 25% -> 50%: about a quarter of all keys move. */
	cr_assert(moved > NKEYS * 18 / 100 && moved < NKEYS * 32 / 100, "%zu moved", moved);
	fx_fini(&a);
	fx_fini(&b);
}

Test(balance, hash_deterministic_across_prepares)
{
	/* Two independent prepares, servers listed in another order and with
	 * different worker seeds, map every key to the same address. */
	static const char *x[NKEYS], *y[NKEYS];
	const uint32_t w[5] = {1, 2, 3, 1, 2};
	const char *rev[5] = {ADDRS[4], ADDRS[3], ADDRS[2], ADDRS[1], ADDRS[0]};
	const uint32_t wrev[5] = {2, 1, 3, 2, 1};
	struct fx a, b;

	fx_init_addrs(&a, VEER_BALANCE_HASH, ADDRS, w, 5, 1);
	fx_init_addrs(&b, VEER_BALANCE_HASH, rev, wrev, 5, 999);
	map_keys(&a, NULL, x);
	map_keys(&b, NULL, y);
	for (int k = 0; k < NKEYS; k++)
		cr_assert_str_eq(x[k], y[k], "key %d", k);
	fx_fini(&a);
	fx_fini(&b);
}

Test(balance, hash_without_key_is_weighted_random)
{
	const uint32_t w[3] = {1, 0, 3};
	struct fx f;
	size_t counts[3] = {0};
	fx_init(&f, VEER_BALANCE_HASH, w, 3, 8);
	count_picks(&f, NULL, 100000, counts);
	assert_shares_rel(counts, w, 3, 100000, 0.02);
	memset(counts, 0, sizeof(counts));
	struct veer_pick_ctx ctx = {.key = NULL, .key_len = 5};
	count_picks(&f, &ctx, 100000, counts);
	assert_shares_rel(counts, w, 3, 100000, 0.02);
	fx_fini(&f);
	cr_assert_null(f.pool.balancer_data);
}

Test(balance, hash_big_weights_bounded)
{
	/* Weights summing past the ring bound are scaled, and still split
	 * keys by weight. */
	const uint32_t w[8] = {1000, 1000, 1000, 1000, 1000, 1000, 1000, 500};
	struct fx f;
	size_t counts[8] = {0};
	char key[32];
	fx_init(&f, VEER_BALANCE_HASH, w, 8, 1);
	for (int k = 0; k < NKEYS; k++) {
		key_name(key, sizeof(key), k);
		counts[pick_key(&f, key)]++;
	}
	for (int i = 0; i < 8; i++) {
		double want = w[i] / 7500.0, got = (double)counts[i] / NKEYS;
		cr_assert(got > want - 0.02 && got < want + 0.02, "server %d share %.4f", i, got);
	}
	fx_fini(&f);
}
