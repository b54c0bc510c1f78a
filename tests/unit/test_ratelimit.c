/* Unit tests for src/ratelimit.c: the packed token bucket (burst, refill,
 * remaining / retry-after / reset, fractional and extreme rates, exact
 * refill under frequent calls) and the shared table (distinct keys, bounded
 * memory under a flood of keys, no lost updates between threads).  Time is
 * passed in: nothing sleeps. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "veer/ratelimit.h"

#define T0 1000u /* any start time */

/* Takes from a bucket kept in *STATE. */
static struct veer_bucket_result take(uint64_t *state, double rate, uint32_t burst, uint64_t now)
{
	uint64_t next;
	struct veer_bucket_result r = veer_bucket_take(*state, rate, burst, now, &next);

	cr_assert_neq(next, 0, "a used bucket packed as 0 (a fresh one)");
	*state = next;
	return r;
}

/* Takes at NOW until the first refusal; returns how many were allowed. */
static unsigned drain(uint64_t *state, double rate, uint32_t burst, uint64_t now)
{
	unsigned n = 0;

	while (take(state, rate, burst, now).allowed)
		n++;
	return n;
}

Test(ratelimit, burst_then_deny_with_retry_after)
{
	uint64_t st = 0;
	struct veer_bucket_result r;

	for (uint32_t i = 0; i < 5; i++) {
		r = take(&st, 10, 5, T0);
		cr_assert(r.allowed, "take %u of burst 5 refused", i);
		cr_assert_eq(r.remaining, 4 - i);
		cr_assert_eq(r.retry_after_ms, 0);
		/* 10/s: 100 ms a token to get back to full. */
		cr_assert_eq(r.reset_ms, 100 * (i + 1), "take %u: reset %llu", i,
			     (unsigned long long)r.reset_ms);
	}
	r = take(&st, 10, 5, T0);
	cr_assert_not(r.allowed, "a 6th immediate take with burst 5");
	cr_assert_eq(r.remaining, 0);
	cr_assert_eq(r.retry_after_ms, 100, "retry_after %llu, want 1000/rate = 100",
		     (unsigned long long)r.retry_after_ms);
	cr_assert_eq(r.reset_ms, 500);
	/* A refusal takes nothing. */
	r = take(&st, 10, 5, T0 + 99);
	cr_assert_not(r.allowed);
	cr_assert_eq(r.retry_after_ms, 1);
	r = take(&st, 10, 5, T0 + 100);
	cr_assert(r.allowed, "no token 100 ms after a refusal at 10/s");
	cr_assert_eq(r.remaining, 0);
}

Test(ratelimit, refill_over_time)
{
	uint64_t st = 0;
	struct veer_bucket_result r;

	cr_assert_eq(drain(&st, 10, 20, T0), 20);
	/* 10/s, 500 ms later: 5 more. */
	cr_assert_eq(drain(&st, 10, 20, T0 + 500), 5);
	/* 50 ms later: half a token, refused, 50 ms to wait. */
	r = take(&st, 10, 20, T0 + 550);
	cr_assert_not(r.allowed);
	cr_assert_eq(r.retry_after_ms, 50);
	/* Long idle: refills to burst, not beyond. */
	cr_assert_eq(drain(&st, 10, 20, T0 + 3600000), 20);
	/* Remaining and reset after partial use. */
	r = take(&st, 10, 20, T0 + 3600000 + 1000);
	cr_assert(r.allowed);
	cr_assert_eq(r.remaining, 9);
	cr_assert_eq(r.reset_ms, 1100, "reset %llu", (unsigned long long)r.reset_ms);
}

Test(ratelimit, fresh_state_is_full)
{
	uint64_t next;
	struct veer_bucket_result r = veer_bucket_take(0, 10, 5, 0, &next);

	cr_assert(r.allowed);
	cr_assert_eq(r.remaining, 4);
	cr_assert_eq(r.reset_ms, 100);
	cr_assert_neq(next, 0, "a bucket used at time 0 packs as fresh");
	/* Time 0 and empty must still not read as fresh. */
	uint64_t st = next;
	cr_assert_eq(drain(&st, 10, 5, 0), 4);
	r = take(&st, 10, 5, 0);
	cr_assert_not(r.allowed);
}

Test(ratelimit, fractional_rate_per_minute)
{
	uint64_t st = 0;
	struct veer_bucket_result r;

	/* 30/m = 0.5/s: a token every 2 s. */
	r = take(&st, 30.0 / 60.0, 1, T0);
	cr_assert(r.allowed);
	cr_assert_eq(r.reset_ms, 2000);
	r = take(&st, 0.5, 1, T0);
	cr_assert_not(r.allowed);
	cr_assert_eq(r.retry_after_ms, 2000);
	r = take(&st, 0.5, 1, T0 + 1999);
	cr_assert_not(r.allowed);
	cr_assert_eq(r.retry_after_ms, 1);
	cr_assert(take(&st, 0.5, 1, T0 + 2000).allowed);
	/* 7/m does not divide a second: 60/7 s = 8571.4 ms a token. */
	st = 0;
	cr_assert(take(&st, 7.0 / 60.0, 1, 0).allowed);
	r = take(&st, 7.0 / 60.0, 1, 0);
	cr_assert_not(r.allowed);
	cr_assert(r.retry_after_ms >= 8571 && r.retry_after_ms <= 8572, "retry_after %llu",
		  (unsigned long long)r.retry_after_ms);
	cr_assert_not(take(&st, 7.0 / 60.0, 1, 8570).allowed);
	cr_assert(take(&st, 7.0 / 60.0, 1, 8572).allowed);
}

/* A take every ms (the loaded case) must admit what the rate says: the
 * rounding of each small refill never adds up.  Burst 2 keeps the bucket
 * below full (a full bucket rightly drops what it cannot hold): the first
 * ms admits 2, then every whole token credited is admitted. */
static void steady_case(double rate, uint64_t span_ms, unsigned want)
{
	uint64_t st = 0;
	unsigned admitted = 0;

	for (uint64_t t = 0; t <= span_ms; t++)
		admitted += take(&st, rate, 2, t).allowed + take(&st, rate, 2, t).allowed;
	cr_log_info("rate %.4f/s over %llu ms, a take each ms: %u admitted (want %u)", rate,
		    (unsigned long long)span_ms, admitted, want);
	cr_assert_eq(admitted, want, "rate %.4f/s: %u admitted, want %u", rate, admitted, want);
}

Test(ratelimit, exact_refill_under_frequent_calls)
{
	steady_case(10, 10000, 2 + 100);
	steady_case(7.0 / 60.0, 600000, 2 + 70);
	steady_case(3, 10000, 2 + 30);
	steady_case(333, 3000, 2 + 999);
}

Test(ratelimit, exact_refill_at_high_rate)
{
	uint64_t st = 0;
	unsigned admitted = 0;

	/* 142857.14/s drained every ms for 1 s: burst + 142857 whole tokens. */
	for (uint64_t t = 0; t <= 1000; t++)
		admitted += drain(&st, 1e6 / 7.0, 65535, t);
	cr_assert_eq(admitted, 65535 + 142857, "admitted %u", admitted);
}

Test(ratelimit, earlier_time_credits_nothing)
{
	uint64_t st = 0;

	cr_assert_eq(drain(&st, 10, 5, T0), 5);
	/* Another worker's clock, read a little earlier. */
	cr_assert_not(take(&st, 10, 5, T0 - 300).allowed);
	cr_assert_eq((st >> 24) - 1, T0, "the bucket's time went back");
	cr_assert_not(take(&st, 10, 5, T0 + 99).allowed);
	cr_assert(take(&st, 10, 5, T0 + 100).allowed);
}

Test(ratelimit, burst_clamped_and_high_rates)
{
	uint64_t st = 0;
	struct veer_bucket_result r;

	/* Burst above 65535 is 65535. */
	r = take(&st, 1e6, 100000, 0);
	cr_assert_eq(r.remaining, 65534);
	cr_assert_eq(1 + drain(&st, 1e6, 100000, 0), 65535);
	/* 1e6/s: 1000 tokens a ms. */
	cr_assert_eq(drain(&st, 1e6, 65535, 1), 1000);
	r = take(&st, 1e6, 65535, 1);
	cr_assert_eq(r.retry_after_ms, 1);
	cr_assert_eq(r.reset_ms, 66, "reset %llu", (unsigned long long)r.reset_ms);
	/* Above 1e6/s counts as 1e6/s. */
	cr_assert_eq(drain(&st, 5e7, 65535, 2), 1000);
	/* Burst 0 is one second's worth (at least 1). */
	st = 0;
	cr_assert_eq(drain(&st, 10, 0, T0), 10);
	st = 0;
	cr_assert_eq(drain(&st, 0.5, 0, T0), 1);
	/* A burst lowered by a reload cuts the tokens held. */
	st = 0;
	take(&st, 10, 50, T0);
	cr_assert_eq(drain(&st, 10, 3, T0), 3);
}

Test(ratelimit, zero_rate_never_refills)
{
	uint64_t st = 0;
	struct veer_bucket_result r;

	cr_assert_eq(drain(&st, 0, 2, T0), 2);
	r = take(&st, 0, 2, T0 + 86400000);
	cr_assert_not(r.allowed);
	cr_assert_eq(r.retry_after_ms, UINT64_MAX);
	cr_assert_eq(r.reset_ms, UINT64_MAX);
}

Test(ratelimit, time_clamped_at_range_end)
{
	uint64_t st = 0;

	cr_assert_eq(drain(&st, 10, 2, VEER_BUCKET_TIME_MAX - 200), 2);
	cr_assert_eq(drain(&st, 10, 2, UINT64_MAX), 2);
	cr_assert_eq(drain(&st, 10, 2, UINT64_MAX), 0);
}

/* ---- veer_limiter ------------------------------------------------------- */

Test(ratelimit, limiter_distinct_keys_distinct_buckets)
{
	struct veer_limiter *l = veer_limiter_new(64, 1, 2);
	char key[16];

	cr_assert_eq(veer_limiter_slots(l), 64);
	cr_assert(veer_limiter_take(l, "a", 1, T0).allowed);
	cr_assert(veer_limiter_take(l, "a", 1, T0).allowed);
	cr_assert_not(veer_limiter_take(l, "a", 1, T0).allowed);
	cr_assert(veer_limiter_take(l, "b", 1, T0).allowed, "key b shares key a's bucket");
	cr_assert_eq(veer_limiter_take(l, "b", 1, T0).remaining, 0);
	cr_assert_eq(veer_limiter_used(l), 2);
	/* 60 more keys fit the 64 slots without evicting a or b. */
	for (int i = 0; i < 60; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert(veer_limiter_take(l, key, strlen(key), T0).allowed);
	}
	cr_assert_not(veer_limiter_take(l, "a", 1, T0).allowed, "key a forgot its bucket");
	cr_assert(veer_limiter_take(l, "a", 1, T0 + 1000).allowed);
	veer_limiter_free(l);
}

Test(ratelimit, limiter_slots_rounded_to_power_of_two)
{
	struct veer_limiter *l = veer_limiter_new(1000, 1, 1);

	cr_assert_eq(veer_limiter_slots(l), 1024);
	veer_limiter_free(l);
	l = veer_limiter_new(0, 1, 1);
	cr_assert_eq(veer_limiter_slots(l), 4);
	veer_limiter_free(l);
}

#define FLOOD_KEYS 1000000
#define FLOOD_PER_MS 1000

/* One key taken every ms while a million distinct keys (a thousand a ms)
 * go through a 4096-slot table: memory stays what it was, the table is
 * full but not larger, and the tested key is limited exactly as if it were
 * alone (it is never the idlest of its neighbours). */
Test(ratelimit, limiter_flood_of_keys_is_bounded)
{
	struct veer_limiter *l = veer_limiter_new(4096, 10, 5);
	const char *me = "198.51.100.7";
	struct mallinfo2 before, after;
	unsigned admitted = 0;
	uint64_t t = 0;
	char key[32];

	before = mallinfo2();
	for (uint32_t i = 0; i < FLOOD_KEYS; i++) {
		if (i % FLOOD_PER_MS == 0) {
			struct veer_bucket_result r = veer_limiter_take(l, me, strlen(me), t);

			if (r.remaining > 4 || (!r.allowed && r.retry_after_ms > 100))
				cr_assert_fail(
					"t %llu: insane verdict allowed %d remaining %u retry %llu",
					(unsigned long long)t, r.allowed, r.remaining,
					(unsigned long long)r.retry_after_ms);
			admitted += r.allowed;
		}
		int n = snprintf(key, sizeof(key), "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		veer_limiter_take(l, key, (size_t)n, t);
		if (i % FLOOD_PER_MS == FLOOD_PER_MS - 1)
			t++;
	}
	admitted += veer_limiter_take(l, me, strlen(me), t).allowed;
	after = mallinfo2();
	cr_log_info("flood: %u slots, %zu used, key admitted %u over %llu ms, heap %zu -> %zu",
		    (unsigned)veer_limiter_slots(l), veer_limiter_used(l), admitted,
		    (unsigned long long)t, before.uordblks, after.uordblks);
	cr_assert_eq(after.uordblks, before.uordblks, "the table allocated during the flood");
	cr_assert_eq(veer_limiter_slots(l), 4096);
	cr_assert_eq(veer_limiter_used(l), 4096);
	/* Burst 5 + 10/s over 1000 ms. */
	cr_assert_eq(admitted, 15, "tested key admitted %u, want 15", admitted);
	veer_limiter_free(l);
}

#define THREADS 4
#define STEPS 1001        /* ms 0 .. 1000: a 1 s span */
#define TRIES_PER_STEP 50 /* per thread and ms: far above 1000/s */

struct hammer {
	struct veer_limiter *l;
	pthread_barrier_t *barrier;
	const char *key;
	unsigned admitted;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;

	for (uint64_t t = 0; t < STEPS; t++) {
		/* Every thread is at the same simulated ms. */
		pthread_barrier_wait(h->barrier);
		for (int i = 0; i < TRIES_PER_STEP; i++)
			h->admitted += veer_limiter_take(h->l, h->key, strlen(h->key), t).allowed;
	}
	return NULL;
}

/* What one thread admits for the same takes at the same times. */
static unsigned single_thread_admitted(double rate, uint32_t burst, const char *key)
{
	struct veer_limiter *l = veer_limiter_new(64, rate, burst);
	unsigned admitted = 0;

	for (uint64_t t = 0; t < STEPS; t++)
		for (int i = 0; i < THREADS * TRIES_PER_STEP; i++)
			admitted += veer_limiter_take(l, key, strlen(key), t).allowed;
	veer_limiter_free(l);
	return admitted;
}

Test(ratelimit, limiter_threads_lose_no_update)
{
	struct veer_limiter *l = veer_limiter_new(64, 1000, 100);
	pthread_barrier_t barrier;
	pthread_t th[THREADS];
	struct hammer h[THREADS];
	unsigned total = 0, single, want = 1000 + 100;

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		h[i] = (struct hammer){ .l = l, .barrier = &barrier, .key = "route:api" };
		cr_assert_eq(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		total += h[i].admitted;
	}
	pthread_barrier_destroy(&barrier);
	single = single_thread_admitted(1000, 100, "route:api");
	cr_log_info("%d threads x %d takes/ms over %d ms: %u admitted (single thread %u, "
		    "rate*1s+burst %u); per thread %u %u %u %u",
		    THREADS, TRIES_PER_STEP, STEPS, total, single, want, h[0].admitted,
		    h[1].admitted, h[2].admitted, h[3].admitted);
	cr_assert_eq(total, single, "threads admitted %u, one thread %u: lost updates", total,
		     single);
	cr_assert(total >= want * 9 / 10 && total <= want * 11 / 10, "admitted %u, want %u +- 10%%",
		  total, want);
	cr_assert_eq(single, want);
	veer_limiter_free(l);
}

#define HOT_STEPS 3
#define HOT_TRIES 30000 /* per thread and ms */

struct hot {
	struct veer_limiter *l;
	pthread_barrier_t *barrier;
	unsigned admitted;
};

static void *hot_run(void *arg)
{
	struct hot *h = arg;

	for (uint64_t t = 0; t < HOT_STEPS; t++) {
		pthread_barrier_wait(h->barrier);
		for (int i = 0; i < HOT_TRIES; i++)
			h->admitted += veer_limiter_take(h->l, "k", 1, t).allowed;
	}
	return NULL;
}

/* The contended case: a full bucket of 65535 tokens, then 1000 a ms, taken
 * by 4 threads at 30000 takes each a ms, so the threads race for tokens
 * that are there for milliseconds on end.  A lost update would admit more
 * than the tokens; a spurious refusal, fewer. */
Test(ratelimit, limiter_threads_contended_tokens)
{
	struct veer_limiter *l = veer_limiter_new(4, 1e6, 65535);
	pthread_barrier_t barrier;
	pthread_t th[THREADS];
	struct hot h[THREADS];
	unsigned total = 0, want = 65535 + 1000 * (HOT_STEPS - 1);

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		h[i] = (struct hot){ .l = l, .barrier = &barrier };
		cr_assert_eq(pthread_create(&th[i], NULL, hot_run, &h[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		total += h[i].admitted;
	}
	pthread_barrier_destroy(&barrier);
	cr_log_info("contended: %u admitted, want %u", total, want);
	cr_assert_eq(total, want, "admitted %u of %u tokens", total, want);
	veer_limiter_free(l);
}

struct flooder {
	struct veer_limiter *l;
	pthread_barrier_t *barrier;
	unsigned id;
	unsigned shared_admitted;
};

static void *flooder_run(void *arg)
{
	struct flooder *f = arg;
	char key[32];

	for (uint64_t t = 0; t < STEPS; t++) {
		pthread_barrier_wait(f->barrier);
		for (unsigned i = 0; i < 64; i++) {
			int n = snprintf(key, sizeof(key), "t%u-%llu-%u", f->id,
					 (unsigned long long)t, i);

			veer_limiter_take(f->l, key, (size_t)n, t);
			f->shared_admitted += veer_limiter_take(f->l, "shared", 6, t).allowed;
		}
	}
	return NULL;
}

/* Threads inserting and evicting distinct keys in a small table while all
 * hammer one shared key: the table stays its size and the shared key keeps
 * its limit (an eviction race may cost it at most a token now and then). */
Test(ratelimit, limiter_threads_with_evictions)
{
	struct veer_limiter *l = veer_limiter_new(256, 1000, 100);
	pthread_barrier_t barrier;
	pthread_t th[THREADS];
	struct flooder f[THREADS];
	unsigned total = 0, want = 1000 + 100;

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (unsigned i = 0; i < THREADS; i++) {
		f[i] = (struct flooder){ .l = l, .barrier = &barrier, .id = i };
		cr_assert_eq(pthread_create(&th[i], NULL, flooder_run, &f[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		total += f[i].shared_admitted;
	}
	pthread_barrier_destroy(&barrier);
	cr_log_info("shared key admitted %u (want %u) among %d evicting threads, %zu/%zu used",
		    total, want, THREADS, veer_limiter_used(l), veer_limiter_slots(l));
	cr_assert_eq(veer_limiter_used(l), 256);
	cr_assert(total >= want && total <= want * 11 / 10, "shared key admitted %u, want %u",
		  total, want);
	veer_limiter_free(l);
}
