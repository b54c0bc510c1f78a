/* veer — per-server circuit breaker.  See include/veer/breaker.h. */
#include <string.h>

#include "veer/breaker.h"

/* Width of one window slice in ms (at least 1). */
static uint64_t slice_ms(const struct veer_breaker_conf *c)
{
	uint64_t w = c->window / VEER_BREAKER_BUCKETS;

	return w ? w : 1;
}

static uint32_t probe_limit(const struct veer_breaker_conf *c)
{
	return c->probe_requests ? c->probe_requests : 1;
}

static void window_clear(struct veer_breaker *b)
{
	memset(b->bucket_start, 0, sizeof(b->bucket_start));
	memset(b->req, 0, sizeof(b->req));
	memset(b->fail, 0, sizeof(b->fail));
}

static void window_add(struct veer_breaker *b, const struct veer_breaker_conf *c, uint64_t now,
		       bool success)
{
	uint64_t w = slice_ms(c);
	uint64_t start = now - now % w;
	size_t i = (size_t)((now / w) % VEER_BREAKER_BUCKETS);

	/* The slot last held a slice VEER_BREAKER_BUCKETS slices ago (or
	 * longer): start it afresh. */
	if (b->bucket_start[i] != start) {
		b->bucket_start[i] = start;
		b->req[i] = 0;
		b->fail[i] = 0;
	}
	b->req[i]++;
	if (!success)
		b->fail[i]++;
}

/* Requests and failures in the slices that overlap the window ending at
 * NOW. */
static void window_sum(const struct veer_breaker *b, const struct veer_breaker_conf *c,
		       uint64_t now, uint64_t *req, uint64_t *fail)
{
	uint64_t span = slice_ms(c) * VEER_BREAKER_BUCKETS;

	*req = 0;
	*fail = 0;
	for (size_t i = 0; i < VEER_BREAKER_BUCKETS; i++) {
		if (b->req[i] == 0 || b->bucket_start[i] + span <= now)
			continue;
		*req += b->req[i];
		*fail += b->fail[i];
	}
}

static bool should_open(const struct veer_breaker *b, const struct veer_breaker_conf *c,
			uint64_t now)
{
	uint64_t req, fail;

	if (c->consecutive_failures > 0 && b->consecutive >= c->consecutive_failures)
		return true;
	if (c->failure_rate == 0)
		return false;
	window_sum(b, c, now, &req, &fail);
	if (req == 0 || req < c->min_requests)
		return false;
	return fail * 100 >= (uint64_t)c->failure_rate * req;
}

/* The open period of trip number TRIPS (0 for the first). */
static uint64_t open_period(const struct veer_breaker_conf *c, uint32_t trips)
{
	uint32_t shift = trips < 4 ? trips : 4;
	uint64_t cap =
		c->open_for > VEER_BREAKER_OPEN_CAP_MS ? c->open_for : VEER_BREAKER_OPEN_CAP_MS;

	if (c->open_for > (cap >> shift))
		return cap;
	return c->open_for << shift;
}

static void trip(struct veer_breaker *b, const struct veer_breaker_conf *c, uint64_t now)
{
	b->state = VEER_BREAKER_OPEN;
	b->open_until = now + open_period(c, b->trips);
	if (b->trips < UINT32_MAX)
		b->trips++;
	b->consecutive = 0;
	b->probes_out = 0;
	b->probes_ok = 0;
}

static void close_breaker(struct veer_breaker *b)
{
	b->state = VEER_BREAKER_CLOSED;
	b->consecutive = 0;
	b->trips = 0;
	b->probes_out = 0;
	b->probes_ok = 0;
	b->open_until = 0;
	window_clear(b);
}

bool veer_breaker_allow(struct veer_breaker *b, const struct veer_breaker_conf *c, uint64_t now_ms)
{
	if (!c->enabled)
		return true;
	switch (b->state) {
	case VEER_BREAKER_CLOSED:
		return true;
	case VEER_BREAKER_OPEN:
		if (now_ms < b->open_until)
			return false;
		b->state = VEER_BREAKER_HALF_OPEN;
		b->probes_out = 0;
		b->probes_ok = 0;
		break;
	case VEER_BREAKER_HALF_OPEN:
		break;
	}
	/* A probe whose outcome never came (a caller that lost it) must not
	 * keep the server out for good. */
	if (b->probes_out > 0 && now_ms >= b->open_until &&
	    now_ms - b->open_until >= VEER_BREAKER_PROBE_STALE_MS)
		b->probes_out = 0;
	/* No more probes than can still close the breaker. */
	if (b->probes_out + b->probes_ok >= probe_limit(c))
		return false;
	b->probes_out++;
	b->open_until = now_ms;
	return true;
}

void veer_breaker_record(struct veer_breaker *b, const struct veer_breaker_conf *c, uint64_t now_ms,
			 bool success)
{
	if (!c->enabled)
		return;
	switch (b->state) {
	case VEER_BREAKER_CLOSED:
		window_add(b, c, now_ms, success);
		if (success)
			b->consecutive = 0;
		else if (b->consecutive < UINT32_MAX)
			b->consecutive++;
		if (should_open(b, c, now_ms))
			trip(b, c, now_ms);
		break;
	case VEER_BREAKER_OPEN:
		break;
	case VEER_BREAKER_HALF_OPEN:
		/* No probe out: this outcome is a request admitted before the
		 * breaker opened. */
		if (b->probes_out == 0)
			break;
		b->probes_out--;
		if (!success)
			trip(b, c, now_ms);
		else if (++b->probes_ok >= probe_limit(c))
			close_breaker(b);
		break;
	}
}

enum veer_breaker_state veer_breaker_state_at(const struct veer_breaker *b, uint64_t now_ms)
{
	if (b->state == VEER_BREAKER_OPEN && now_ms >= b->open_until)
		return VEER_BREAKER_HALF_OPEN;
	return b->state;
}

const char *veer_breaker_state_name(enum veer_breaker_state s)
{
	switch (s) {
	case VEER_BREAKER_CLOSED:
		return "closed";
	case VEER_BREAKER_OPEN:
		return "open";
	case VEER_BREAKER_HALF_OPEN:
		return "half_open";
	}
	return "unknown";
}
