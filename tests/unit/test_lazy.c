/* Unit tests of the lazy connection timers (veer_lazy_*, src/worker.c), on a
 * real event base: a deadline pushed later fires at the later time, one
 * pulled earlier at the earlier time, an "off" timer fires for nothing. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "veer/common.h"
#include "veer/worker.h"

struct fixture {
	struct veer_worker *w;
	struct event ev;
	struct veer_lazy t;
	unsigned calls;   /* callback runs */
	unsigned fired;   /* of which veer_lazy_fired said the deadline came */
	uint64_t start, at; /* veer_now_ms at arming, at the firing */
};

static void cb(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;

	(void)fd;
	(void)what;
	f->calls++;
	if (veer_lazy_fired(&f->ev, &f->t)) {
		f->fired++;
		f->at = veer_now_ms();
		event_base_loopbreak(f->w->base);
	}
}

/* Only what veer_worker_timeout uses: the base and its timeout slots. */
static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->w = calloc(1, sizeof(*f->w));
	cr_assert_not_null(f->w);
	f->w->base = event_base_new();
	cr_assert_not_null(f->w->base);
	cr_assert_eq(event_assign(&f->ev, f->w->base, -1, 0, cb, f), 0);
	f->start = veer_now_ms();
}

/* Run the loop until the deadline fired, or GUARD_MS passed. */
static void run(struct fixture *f, unsigned guard_ms)
{
	struct timeval tv = { guard_ms / 1000, (guard_ms % 1000) * 1000 };

	event_base_loopexit(f->w->base, &tv);
	event_base_dispatch(f->w->base);
}

static void teardown(struct fixture *f)
{
	event_del(&f->ev);
	event_base_free(f->w->base);
	free(f->w);
}

Test(lazy, a_later_deadline_costs_no_event_add_and_fires_at_the_later_time)
{
	struct fixture f;

	setup(&f);
	veer_lazy_arm(f.w, &f.ev, &f.t, 40);
	veer_lazy_arm(f.w, &f.ev, &f.t, 250); /* only noted: 40 ms fires first */
	cr_assert(veer_ms_before(f.t.armed, f.t.due), "the 40 ms timer stays pending, not re-added");
	run(&f, 5000);
	cr_assert_eq(f.fired, 1);
	/* at 40 ms for nothing, re-armed for the rest (and maybe once more
	 * for a coarse clock tick) */
	cr_assert_geq(f.calls, 2);
	/* a coarse clock tick of slack below the deadline */
	cr_assert_geq(f.at - f.start, 240, "fired after %llu ms", (unsigned long long)(f.at - f.start));
	teardown(&f);
}

Test(lazy, an_earlier_deadline_is_armed_at_once)
{
	struct fixture f;

	setup(&f);
	veer_lazy_arm(f.w, &f.ev, &f.t, 3000);
	veer_lazy_arm(f.w, &f.ev, &f.t, 30);
	run(&f, 10000);
	cr_assert_eq(f.fired, 1);
	cr_assert_lt(f.at - f.start, 2000, "fired after %llu ms, at the old deadline",
		     (unsigned long long)(f.at - f.start));
	teardown(&f);
}

Test(lazy, an_off_timer_fires_for_nothing_and_stays_unarmed)
{
	struct fixture f;

	setup(&f);
	veer_lazy_arm(f.w, &f.ev, &f.t, 20);
	veer_lazy_off(&f.t);
	run(&f, 300);
	cr_assert_eq(f.calls, 1);
	cr_assert_eq(f.fired, 0);
	cr_assert_not(event_pending(&f.ev, EV_TIMEOUT, NULL));
	/* armed again after off: a real deadline */
	f.start = veer_now_ms();
	veer_lazy_arm(f.w, &f.ev, &f.t, 20);
	run(&f, 5000);
	cr_assert_eq(f.fired, 1);
	teardown(&f);
}

Test(lazy, a_huge_timeout_is_armed_exactly_and_then_replaced)
{
	struct fixture f;

	setup(&f);
	veer_lazy_arm(f.w, &f.ev, &f.t, (veer_ms_t)30 * 24 * 3600 * 1000); /* 30 days */
	cr_assert(f.t.exact);
	cr_assert(event_pending(&f.ev, EV_TIMEOUT, NULL));
	veer_lazy_arm(f.w, &f.ev, &f.t, 30);
	cr_assert_not(f.t.exact);
	run(&f, 10000);
	cr_assert_eq(f.fired, 1);
	cr_assert_lt(f.at - f.start, 5000);
	teardown(&f);
}
