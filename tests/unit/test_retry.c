/* Unit tests for src/retry.c: the retry conditions of SPEC §3, full-jitter
 * backoff bounds and mean, and the retry budget. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdint.h>

#include "veer/balance.h"
#include "veer/retry.h"

#define RNG_SEED 0x9e3779b97f4a7c15ull
#define DRAWS 10000
#define ALL_ON                                                                                 \
	(VEER_RETRY_CONNECT_FAILURE | VEER_RETRY_RESET | VEER_RETRY_TIMEOUT | VEER_RETRY_502 | \
	 VEER_RETRY_503 | VEER_RETRY_504)

static struct veer_retry_conf conf(uint32_t on)
{
	struct veer_retry_conf c = {
		.enabled = true,
		.attempts = 3,
		.on = on,
		.per_try_timeout = 2000,
		.backoff_base = 25,
		.backoff_max = 250,
		.budget = 20,
	};
	return c;
}

/* Every failure kind, with the status that goes with it. */
static const struct {
	enum veer_failure f;
	int status;
	uint32_t bit;
} failures[] = {
	{ VEER_FAIL_CONNECT, 0, VEER_RETRY_CONNECT_FAILURE },
	{ VEER_FAIL_RESET, 0, VEER_RETRY_RESET },
	{ VEER_FAIL_TIMEOUT, 0, VEER_RETRY_TIMEOUT },
	{ VEER_FAIL_STATUS, 502, VEER_RETRY_502 },
	{ VEER_FAIL_STATUS, 503, VEER_RETRY_503 },
	{ VEER_FAIL_STATUS, 504, VEER_RETRY_504 },
};
#define NFAILURES (sizeof(failures) / sizeof(failures[0]))

Test(retry, never_after_response_started)
{
	struct veer_retry_conf c = conf(ALL_ON);

	for (size_t i = 0; i < NFAILURES; i++) {
		cr_assert(veer_retry_should(&c, 1, failures[i].f, failures[i].status, true, false),
			  "failure %zu not retried before the response", i);
		cr_assert_not(
			veer_retry_should(&c, 1, failures[i].f, failures[i].status, true, true),
			"failure %zu retried after a response byte reached the client", i);
	}
}

Test(retry, only_conditions_in_on)
{
	for (size_t b = 0; b < NFAILURES; b++) {
		struct veer_retry_conf c = conf(failures[b].bit);

		for (size_t i = 0; i < NFAILURES; i++) {
			bool got = veer_retry_should(&c, 1, failures[i].f, failures[i].status, true,
						     false);

			cr_assert_eq(got, i == b, "on = bit of failure %zu: failure %zu gave %d", b,
				     i, got);
		}
	}
	/* on: [] retries nothing. */
	struct veer_retry_conf none = conf(0);
	for (size_t i = 0; i < NFAILURES; i++)
		cr_assert_not(veer_retry_should(&none, 1, failures[i].f, failures[i].status, true,
						false));
}

Test(retry, status_bits)
{
	struct veer_retry_conf c = conf(VEER_RETRY_503);
	struct veer_retry_conf all = conf(ALL_ON);
	static const int never[] = { 200, 204, 301, 400, 404, 429, 500, 501, 505, 599, 0, -1 };

	cr_assert(veer_retry_should(&c, 1, VEER_FAIL_STATUS, 503, true, false));
	cr_assert_not(veer_retry_should(&c, 1, VEER_FAIL_STATUS, 502, true, false));
	cr_assert_not(veer_retry_should(&c, 1, VEER_FAIL_STATUS, 504, true, false));
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		cr_assert_not(veer_retry_should(&all, 1, VEER_FAIL_STATUS, never[i], true, false),
			      "status %d retried", never[i]);
	/* A status on a non-status failure is not looked at. */
	cr_assert_not(veer_retry_should(&c, 1, VEER_FAIL_RESET, 503, true, false));
	cr_assert_not(veer_retry_should(&all, 1, VEER_FAIL_NONE, 0, true, false));
	cr_assert_not(veer_retry_should(&all, 1, VEER_FAIL_NONE, 503, true, false));
}

Test(retry, non_idempotent_only_on_connect_failure)
{
	struct veer_retry_conf c = conf(ALL_ON);

	for (size_t i = 0; i < NFAILURES; i++) {
		bool got =
			veer_retry_should(&c, 1, failures[i].f, failures[i].status, false, false);

		cr_assert_eq(got, failures[i].f == VEER_FAIL_CONNECT,
			     "POST with failure %zu: retried %d", i, got);
	}
	/* Even a connect failure needs its condition in on. */
	c.on = VEER_RETRY_RESET;
	cr_assert_not(veer_retry_should(&c, 1, VEER_FAIL_CONNECT, 0, false, false));
}

Test(retry, attempts_bound_tries)
{
	struct veer_retry_conf c = conf(ALL_ON);

	cr_assert(veer_retry_should(&c, 1, VEER_FAIL_RESET, 0, true, false));
	cr_assert(veer_retry_should(&c, 2, VEER_FAIL_RESET, 0, true, false));
	cr_assert_not(veer_retry_should(&c, 3, VEER_FAIL_RESET, 0, true, false),
		      "a 4th try with attempts 3");
	cr_assert_not(veer_retry_should(&c, 4, VEER_FAIL_RESET, 0, true, false));
	c.attempts = 1;
	cr_assert_not(veer_retry_should(&c, 1, VEER_FAIL_CONNECT, 0, true, false),
		      "attempts 1 retried");
	c.attempts = 10;
	cr_assert(veer_retry_should(&c, 9, VEER_FAIL_CONNECT, 0, false, false));
	cr_assert_not(veer_retry_should(&c, 10, VEER_FAIL_CONNECT, 0, false, false));
}

Test(retry, disabled_never_retries)
{
	struct veer_retry_conf c = conf(ALL_ON);

	c.enabled = false;
	for (size_t i = 0; i < NFAILURES; i++)
		cr_assert_not(
			veer_retry_should(&c, 1, failures[i].f, failures[i].status, true, false));
}

Test(retry, idempotent_methods)
{
	static const char *const yes[] = { "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE" };
	static const char *const no[] = { "POST", "PATCH", "CONNECT", "get",
					  "Put",  "",      "GETX",    "PROPFIND" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_assert(veer_method_idempotent(yes[i]), "%s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_assert_not(veer_method_idempotent(no[i]), "%s", no[i]);
	cr_assert_not(veer_method_idempotent(NULL));
}

Test(retry, backoff_within_cap_and_mean_half_cap)
{
	struct veer_retry_conf c = conf(ALL_ON); /* base 25, max 250 */
	static const uint64_t cap[] = { 0, 25, 50, 100, 200, 250, 250, 250 };
	uint64_t rng = RNG_SEED;

	for (uint32_t n = 1; n < sizeof(cap) / sizeof(cap[0]); n++) {
		double sum = 0, mean, want = (double)cap[n] / 2.0;
		uint64_t lo = UINT64_MAX, hi = 0;

		for (int i = 0; i < DRAWS; i++) {
			uint64_t d = veer_retry_backoff_ms(&c, n, veer_rand_next(&rng));

			cr_assert_leq(d, cap[n], "retry %u: %llu > cap %llu", n,
				      (unsigned long long)d, (unsigned long long)cap[n]);
			sum += (double)d;
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		mean = sum / DRAWS;
		cr_log_info("retry %u: cap %llu, mean %.2f, min %llu, max %llu", n,
			    (unsigned long long)cap[n], mean, (unsigned long long)lo,
			    (unsigned long long)hi);
		cr_assert(fabs(mean - want) <= 0.05 * want, "retry %u: mean %.2f, want %.2f +- 5%%",
			  n, mean, want);
		/* Full jitter: both ends of the range are reached. */
		cr_assert_eq(lo, 0);
		cr_assert_eq(hi, cap[n]);
	}
}

Test(retry, backoff_edges)
{
	struct veer_retry_conf c = conf(ALL_ON);

	cr_assert_eq(veer_retry_backoff_ms(&c, 1, 0), 0);
	cr_assert_eq(veer_retry_backoff_ms(&c, 1, 25), 25, "the cap itself is in range");
	cr_assert_eq(veer_retry_backoff_ms(&c, 1, 26), 0);
	cr_assert_eq(veer_retry_backoff_ms(&c, 0, 25), 25, "n = 0 is taken as 1");
	/* Huge n or base never overflow the shift: the max applies. */
	for (uint32_t n = 60; n < 70; n++)
		cr_assert_leq(veer_retry_backoff_ms(&c, n, UINT64_MAX - 1), 250);
	cr_assert_leq(veer_retry_backoff_ms(&c, UINT32_MAX, UINT64_MAX), 250);
	c.backoff_base = UINT64_MAX / 3;
	cr_assert_leq(veer_retry_backoff_ms(&c, 3, UINT64_MAX), 250);
	c.backoff_max = 0;
	cr_assert_eq(veer_retry_backoff_ms(&c, 2, 12345), 0);
}

Test(retry, budget_min_three_and_share)
{
	struct veer_retry_conf c = conf(ALL_ON); /* budget 20% */

	/* Quiet pool: at least 3 retries in flight. */
	cr_assert(veer_retry_budget_allows(&c, 0, 0));
	cr_assert(veer_retry_budget_allows(&c, 2, 1));
	cr_assert_not(veer_retry_budget_allows(&c, 3, 1));
	cr_assert_not(veer_retry_budget_allows(&c, 3, 10)); /* 20% of 10 = 2 < 3 */
	/* 20% of 100 in flight = 20. */
	cr_assert(veer_retry_budget_allows(&c, 19, 100));
	cr_assert_not(veer_retry_budget_allows(&c, 20, 100));
	cr_assert(veer_retry_budget_allows(&c, 199, 1000));
	cr_assert_not(veer_retry_budget_allows(&c, 200, 1000));
	/* No overflow at the top. */
	cr_assert(veer_retry_budget_allows(&c, 800000000, UINT32_MAX));
	c.budget = 0;
	cr_assert(veer_retry_budget_allows(&c, 2, 1000));
	cr_assert_not(veer_retry_budget_allows(&c, 3, 1000));
	c.budget = 100;
	cr_assert(veer_retry_budget_allows(&c, 99, 100));
	cr_assert_not(veer_retry_budget_allows(&c, 100, 100));
}
