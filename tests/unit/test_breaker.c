/* Unit tests for src/breaker.c: every transition of the circuit breaker,
 * driven by times passed in (no sockets, no sleeping). */
#include <criterion/criterion.h>
#include <string.h>

#include "veer/breaker.h"

#define T0 1000000u /* any start time */

static struct veer_breaker_conf conf(void)
{
	struct veer_breaker_conf c = {
		.enabled = true,
		.consecutive_failures = 5,
		.failure_rate = 50,
		.window = 10000,
		.min_requests = 20,
		.open_for = 30000,
		.probe_requests = 3,
		.max_pending = 1024,
	};
	return c;
}

/* N outcomes at NOW, each allowed first (as a caller would). */
static void record_n(struct veer_breaker *b, const struct veer_breaker_conf *c, uint64_t now,
		     unsigned n, bool success)
{
	for (unsigned i = 0; i < n; i++) {
		cr_assert(veer_breaker_allow(b, c, now), "closed breaker refused request %u", i);
		veer_breaker_record(b, c, now, success);
	}
}

/* Open B (closed, trips 0) at NOW with consecutive failures. */
static void trip_now(struct veer_breaker *b, const struct veer_breaker_conf *c, uint64_t now)
{
	record_n(b, c, now, c->consecutive_failures, false);
	cr_assert_eq(b->state, VEER_BREAKER_OPEN);
}

/* At B's open_until, admit one probe and fail it at the same time. */
static void fail_probe(struct veer_breaker *b, const struct veer_breaker_conf *c)
{
	uint64_t now = b->open_until;

	cr_assert(veer_breaker_allow(b, c, now));
	cr_assert_eq(b->state, VEER_BREAKER_HALF_OPEN);
	veer_breaker_record(b, c, now, false);
	cr_assert_eq(b->state, VEER_BREAKER_OPEN);
}

Test(breaker, zero_struct_is_closed)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	cr_assert_eq(veer_breaker_state_at(&b, T0), VEER_BREAKER_CLOSED);
	cr_assert(veer_breaker_allow(&b, &c, T0));
	cr_assert_str_eq(veer_breaker_state_name(VEER_BREAKER_HALF_OPEN), "half_open");
}

Test(breaker, opens_after_exactly_n_consecutive_failures)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	c.failure_rate = 0; /* only the consecutive rule */
	record_n(&b, &c, T0, 4, false);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED, "opened after 4 of 5 failures");
	cr_assert_eq(b.consecutive, 4);
	cr_assert(veer_breaker_allow(&b, &c, T0));
	veer_breaker_record(&b, &c, T0 + 7, false);
	cr_assert_eq(b.state, VEER_BREAKER_OPEN, "still closed after 5 failures");
	cr_assert_eq(b.open_until, T0 + 7 + 30000);
	cr_assert_eq(b.trips, 1);
	cr_assert_not(veer_breaker_allow(&b, &c, T0 + 8));
}

Test(breaker, success_resets_consecutive_count)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	c.failure_rate = 0;
	record_n(&b, &c, T0, 4, false);
	record_n(&b, &c, T0, 1, true);
	cr_assert_eq(b.consecutive, 0);
	record_n(&b, &c, T0, 4, false);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED, "8 failures split by a success opened it");
	record_n(&b, &c, T0, 1, false);
	cr_assert_eq(b.state, VEER_BREAKER_OPEN);
}

Test(breaker, consecutive_rule_off_when_zero)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	c.consecutive_failures = 0;
	c.failure_rate = 0;
	record_n(&b, &c, T0, 1000, false);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED);
}

Test(breaker, rate_rule_opens_at_threshold_with_min_requests)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	c.consecutive_failures = 0; /* only the rate rule */
	/* 10 failures and 9 successes: 52.6%, but 19 < min_requests. */
	for (int i = 0; i < 19; i++)
		record_n(&b, &c, T0 + (uint64_t)i, 1, i % 2 == 0 ? false : true);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED, "opened below min_requests");
	/* The 20th request makes 10/20 = 50% >= 50%. */
	record_n(&b, &c, T0 + 19, 1, true);
	cr_assert_eq(b.state, VEER_BREAKER_OPEN, "10/20 failures did not open");
	cr_assert_eq(b.open_until, T0 + 19 + 30000);
}

Test(breaker, rate_rule_stays_closed_below_threshold)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	c.consecutive_failures = 0;
	/* 9 failures, 11 successes: 45%. */
	record_n(&b, &c, T0, 9, false);
	record_n(&b, &c, T0, 11, true);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED, "45%% opened a 50%% breaker");
	/* One more failure: 10/21 = 47.6%, still below. */
	record_n(&b, &c, T0, 1, false);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED);
	/* Another: 11/22 = 50%. */
	record_n(&b, &c, T0, 1, false);
	cr_assert_eq(b.state, VEER_BREAKER_OPEN);
}

Test(breaker, rate_rule_needs_min_requests_even_at_100_percent)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	c.consecutive_failures = 0;
	record_n(&b, &c, T0, 19, false);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED, "19 failures < min_requests 20 opened it");
	record_n(&b, &c, T0, 1, false);
	cr_assert_eq(b.state, VEER_BREAKER_OPEN);
}

Test(breaker, old_window_slices_expire)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	c.consecutive_failures = 0;
	/* 10 failures 11 s ago, then 5 failures and 5 successes now: only
	 * the 10 recent requests are in the 10 s window, below min_requests.
	 * Were the old ones counted, 15/20 = 75% would open it. */
	record_n(&b, &c, T0, 10, false);
	record_n(&b, &c, T0 + 11000, 5, false);
	record_n(&b, &c, T0 + 11000, 5, true);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED, "failures 11 s old were counted");
	/* Exactly 10 s later the old slice is out too. */
	record_n(&b, &c, T0 + 21000, 10, false);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED, "failures 10 s old were counted");
}

Test(breaker, window_slices_inside_window_count)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	c.consecutive_failures = 0;
	/* 10 failures 9 s ago still count: 15/20 = 75%. */
	record_n(&b, &c, T0, 10, false);
	record_n(&b, &c, T0 + 9000, 5, true);
	record_n(&b, &c, T0 + 9000, 4, false);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED, "opened at 19 requests");
	record_n(&b, &c, T0 + 9000, 1, false);
	cr_assert_eq(b.state, VEER_BREAKER_OPEN, "failures 9 s old were not counted");
}

Test(breaker, open_denies_until_open_for_then_admits_probe_requests)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();
	uint64_t until;

	trip_now(&b, &c, T0);
	until = T0 + 30000;
	cr_assert_eq(b.open_until, until);
	cr_assert_not(veer_breaker_allow(&b, &c, T0 + 1));
	cr_assert_not(veer_breaker_allow(&b, &c, until - 1));
	cr_assert_eq(veer_breaker_state_at(&b, until - 1), VEER_BREAKER_OPEN);
	cr_assert_eq(veer_breaker_state_at(&b, until), VEER_BREAKER_HALF_OPEN);
	/* Half-open: exactly probe_requests (3) concurrent probes. */
	for (int i = 0; i < 3; i++)
		cr_assert(veer_breaker_allow(&b, &c, until), "probe %d refused", i);
	cr_assert_eq(b.state, VEER_BREAKER_HALF_OPEN);
	cr_assert_eq(b.probes_out, 3);
	cr_assert_not(veer_breaker_allow(&b, &c, until), "a 4th probe was admitted");
	cr_assert_not(veer_breaker_allow(&b, &c, until + 5000));
	cr_assert_eq(b.probes_out, 3);
}

Test(breaker, probe_successes_close)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();
	uint64_t until;

	trip_now(&b, &c, T0);
	until = b.open_until;
	for (int i = 0; i < 3; i++)
		cr_assert(veer_breaker_allow(&b, &c, until));
	veer_breaker_record(&b, &c, until + 10, true);
	veer_breaker_record(&b, &c, until + 11, true);
	cr_assert_eq(b.state, VEER_BREAKER_HALF_OPEN, "closed after 2 of 3 probes");
	/* No extra probe while the last one can still decide. */
	cr_assert_not(veer_breaker_allow(&b, &c, until + 12));
	veer_breaker_record(&b, &c, until + 13, true);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED);
	cr_assert_eq(b.trips, 0);
	cr_assert_eq(b.consecutive, 0);
	for (int i = 0; i < VEER_BREAKER_BUCKETS; i++)
		cr_assert(b.req[i] == 0 && b.fail[i] == 0, "window slice %d not cleared", i);
	cr_assert(veer_breaker_allow(&b, &c, until + 14));
	/* Closed again: the full thresholds apply afresh. */
	c.failure_rate = 0;
	record_n(&b, &c, until + 20, 4, false);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED);
}

Test(breaker, probes_admitted_one_by_one_close)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();
	uint64_t now;

	trip_now(&b, &c, T0);
	now = b.open_until;
	for (int i = 0; i < 3; i++) {
		cr_assert(veer_breaker_allow(&b, &c, now + (uint64_t)i));
		veer_breaker_record(&b, &c, now + (uint64_t)i, true);
	}
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED);
}

Test(breaker, probe_failure_reopens_with_doubled_period)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf(); /* open_for 30 s */
	uint64_t at;

	trip_now(&b, &c, T0);
	cr_assert_eq(b.open_until, T0 + 30000);
	cr_assert_eq(b.trips, 1);

	at = b.open_until;
	fail_probe(&b, &c);
	cr_assert_eq(b.open_until, at + 60000, "2nd trip: %llu, want %llu",
		     (unsigned long long)b.open_until, (unsigned long long)(at + 60000));
	cr_assert_eq(b.trips, 2);
	cr_assert_not(veer_breaker_allow(&b, &c, at + 59999));

	at = b.open_until;
	fail_probe(&b, &c);
	cr_assert_eq(b.open_until, at + 120000);
	cr_assert_eq(b.trips, 3);

	at = b.open_until;
	fail_probe(&b, &c);
	cr_assert_eq(b.open_until, at + 240000);
	cr_assert_eq(b.trips, 4);

	/* Closing resets the growth: the next trip is open_for again. */
	at = b.open_until;
	for (int i = 0; i < 3; i++)
		cr_assert(veer_breaker_allow(&b, &c, at));
	for (int i = 0; i < 3; i++)
		veer_breaker_record(&b, &c, at, true);
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED);
	trip_now(&b, &c, at + 1);
	cr_assert_eq(b.open_until, at + 1 + 30000);
}

Test(breaker, open_period_is_capped)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();
	/* open_for 60 s: 60, 120, 240, 480, then 960 capped at 600, 600. */
	static const uint64_t want[] = { 60000, 120000, 240000, 480000, 600000, 600000, 600000 };
	uint64_t at = T0;

	c.open_for = 60000;
	trip_now(&b, &c, at);
	cr_assert_eq(b.open_until - at, want[0]);
	for (size_t i = 1; i < sizeof(want) / sizeof(want[0]); i++) {
		at = b.open_until;
		fail_probe(&b, &c);
		cr_assert_eq(b.open_until - at, want[i], "trip %zu: period %llu, want %llu", i + 1,
			     (unsigned long long)(b.open_until - at), (unsigned long long)want[i]);
	}
}

Test(breaker, open_for_longer_than_cap_never_grows_nor_shrinks)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();
	uint64_t at = T0;

	c.open_for = 900000; /* 15 min > 10 min cap */
	trip_now(&b, &c, at);
	cr_assert_eq(b.open_until - at, 900000);
	for (int i = 0; i < 5; i++) {
		at = b.open_until;
		fail_probe(&b, &c);
		cr_assert_eq(b.open_until - at, 900000);
	}
}

Test(breaker, state_at_has_no_side_effects)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();
	struct veer_breaker copy;

	trip_now(&b, &c, T0);
	memcpy(&copy, &b, sizeof(b));
	cr_assert_eq(veer_breaker_state_at(&b, T0), VEER_BREAKER_OPEN);
	cr_assert_eq(veer_breaker_state_at(&b, T0 + 29999), VEER_BREAKER_OPEN);
	cr_assert_eq(veer_breaker_state_at(&b, T0 + 30000), VEER_BREAKER_HALF_OPEN);
	cr_assert_eq(veer_breaker_state_at(&b, T0 + 999999), VEER_BREAKER_HALF_OPEN);
	cr_assert_eq(memcmp(&copy, &b, sizeof(b)), 0, "state_at changed the breaker");
	cr_assert_eq(b.state, VEER_BREAKER_OPEN);
}

Test(breaker, late_outcomes_ignored_while_open)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();
	struct veer_breaker copy;

	/* Two requests admitted before the trip finish after it. */
	trip_now(&b, &c, T0);
	memcpy(&copy, &b, sizeof(b));
	veer_breaker_record(&b, &c, T0 + 100, true);
	veer_breaker_record(&b, &c, T0 + 200, false);
	cr_assert_eq(memcmp(&copy, &b, sizeof(b)), 0, "a late outcome changed an open breaker");
	/* Half-open with no probe out: an outcome is a late one too. */
	veer_breaker_record(&b, &c, T0 + 30000, true);
	cr_assert(veer_breaker_allow(&b, &c, T0 + 30000));
	cr_assert_eq(b.probes_out, 1);
	veer_breaker_record(&b, &c, T0 + 30001, true);
	cr_assert_eq(b.probes_ok, 1);
	veer_breaker_record(&b, &c, T0 + 30002, false);
	cr_assert_eq(b.state, VEER_BREAKER_HALF_OPEN, "an unadmitted outcome reopened it");
	cr_assert_eq(b.probes_ok, 1);
}

Test(breaker, lost_probes_free_after_stale_period)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();
	uint64_t at;

	trip_now(&b, &c, T0);
	at = b.open_until;
	for (int i = 0; i < 3; i++)
		cr_assert(veer_breaker_allow(&b, &c, at));
	cr_assert_not(veer_breaker_allow(&b, &c, at + VEER_BREAKER_PROBE_STALE_MS - 1));
	cr_assert(veer_breaker_allow(&b, &c, at + VEER_BREAKER_PROBE_STALE_MS),
		  "probes never recorded kept the server out");
	cr_assert_eq(b.probes_out, 1);
}

Test(breaker, disabled_breaker_always_allows)
{
	struct veer_breaker b = { 0 };
	struct veer_breaker_conf c = conf();

	c.enabled = false;
	for (int i = 0; i < 100; i++) {
		cr_assert(veer_breaker_allow(&b, &c, T0));
		veer_breaker_record(&b, &c, T0, false);
	}
	cr_assert_eq(b.state, VEER_BREAKER_CLOSED);
	cr_assert_eq(b.consecutive, 0);
}
