/* veer — token buckets packed in one word, and a bounded lock-free table of
 * them.  See include/veer/ratelimit.h. */
#include <stdatomic.h>
#include <stdlib.h>

#include "veer/balance.h"
#include "veer/common.h"
#include "veer/ratelimit.h"

#define UNIT_BITS 24
#define UNIT_MASK ((UINT64_C(1) << UNIT_BITS) - 1)
#define UNITS_PER_TOKEN 256u
/* The rate is kept as units per SCALE ms: an integer fine enough that
 * rounding it is far below any rate's precision (1/m: 0.01%). */
#define SCALE UINT64_C(1000000)
/* A key's slot and the next ones looked at. */
#define PROBES 4u

struct slot {
	_Atomic uint64_t key;   /* mixed hash of the key; 0 = empty (never again once used) */
	_Atomic uint64_t state; /* packed bucket; 0 = fresh */
};

struct veer_limiter {
	size_t mask; /* slots - 1 */
	double rate;
	uint32_t burst;
	uint64_t k;   /* rate in units per SCALE ms */
	uint64_t cap; /* burst in units */
	struct slot *slots;
};

/* RATE in units per SCALE ms; 0 = never refills. */
static uint64_t rate_units(double rate)
{
	uint64_t k;

	if (!(rate > 0))
		return 0;
	if (rate > VEER_RATE_MAX)
		rate = VEER_RATE_MAX;
	k = (uint64_t)(rate * (double)UNITS_PER_TOKEN * ((double)SCALE / 1000.0) + 0.5);
	return k ? k : 1;
}

static uint64_t burst_units(double rate, uint32_t burst)
{
	if (burst == 0) {
		if (rate >= VEER_BURST_MAX)
			burst = VEER_BURST_MAX;
		else
			burst = rate >= 1 ? (uint32_t)rate : 1;
	}
	if (burst > VEER_BURST_MAX)
		burst = VEER_BURST_MAX;
	return (uint64_t)burst * UNITS_PER_TOKEN;
}

/* Units credited from the epoch to T: floor(T * K / SCALE), exactly, with
 * no overflow for T <= 2^40 and K <= 2^38. */
static uint64_t credit_at(uint64_t t, uint64_t k)
{
	return t / SCALE * k + t % SCALE * k / SCALE;
}

/* Ms from NOW until NEED more units are credited: the least D with
 * credit_at(NOW + D) - credit_at(NOW) >= NEED.  It lies between
 * floor((NEED - 1) * SCALE / K) and ceil(NEED * SCALE / K) (the floors of
 * credit_at gain at most one unit over the exact product): a binary search
 * over that span of about SCALE / K ms, a step or two for rates of a few per
 * second and up. */
static uint64_t ms_for(uint64_t now, uint64_t need, uint64_t k)
{
	uint64_t lo, hi, base;

	if (need == 0)
		return 0;
	if (k == 0)
		return UINT64_MAX;
	lo = (need - 1) * SCALE / k;
	hi = (need * SCALE + k - 1) / k;
	base = credit_at(now, k);
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (credit_at(now + mid, k) - base >= need)
			hi = mid;
		else
			lo = mid + 1;
	}
	return hi;
}

/* Units in the bucket packed in STATE at NOW (refilled at K up to CAP), and
 * the time the result stands for (the later of NOW and the bucket's own). */
static uint64_t units_at(uint64_t state, uint64_t k, uint64_t cap, uint64_t now, uint64_t *when)
{
	uint64_t stamp = state >> UNIT_BITS;
	uint64_t units, last;

	if (stamp == 0) {
		*when = now;
		return cap;
	}
	last = stamp - 1;
	units = state & UNIT_MASK;
	if (units > cap)
		units = cap;
	*when = last;
	/* Credit counted from the epoch telescopes: the sum over any series
	 * of calls is exact, whatever their spacing. */
	if (now > last) {
		uint64_t add = credit_at(now, k) - credit_at(last, k);

		units = add >= cap - units ? cap : units + add;
		*when = now;
	}
	return units;
}

struct veer_bucket_result veer_bucket_take(uint64_t state, double rate, uint32_t burst,
					   uint64_t now_ms, uint64_t *next)
{
	struct veer_bucket_result r = { 0 };
	uint64_t k = rate_units(rate);
	uint64_t cap = burst_units(rate, burst);
	uint64_t units, last;

	if (now_ms > VEER_BUCKET_TIME_MAX)
		now_ms = VEER_BUCKET_TIME_MAX;
	units = units_at(state, k, cap, now_ms, &last);
	r.allowed = units >= UNITS_PER_TOKEN;
	if (r.allowed)
		units -= UNITS_PER_TOKEN;
	r.remaining = (uint32_t)(units / UNITS_PER_TOKEN);
	/* From the bucket's time, which is NOW unless NOW was behind it. */
	r.retry_after_ms = r.allowed ? 0 : ms_for(last, UNITS_PER_TOKEN - units, k);
	r.reset_ms = ms_for(last, cap - units, k);
	if (last > now_ms && r.retry_after_ms != UINT64_MAX && r.retry_after_ms != 0)
		r.retry_after_ms += last - now_ms;
	if (last > now_ms && r.reset_ms != UINT64_MAX && r.reset_ms != 0)
		r.reset_ms += last - now_ms;
	*next = ((last + 1) << UNIT_BITS) | units;
	return r;
}

struct veer_limiter *veer_limiter_new(size_t nslots, double rate, uint32_t burst)
{
	struct veer_limiter *l = veer_xcalloc(1, sizeof(*l));
	size_t n = PROBES;

	while (n < nslots && n <= SIZE_MAX / 2)
		n <<= 1;
	l->mask = n - 1;
	l->rate = rate;
	l->burst = burst;
	l->k = rate_units(rate);
	l->cap = burst_units(rate, burst);
	l->slots = veer_xcalloc(n, sizeof(*l->slots));
	for (size_t i = 0; i < n; i++) {
		atomic_init(&l->slots[i].key, 0);
		atomic_init(&l->slots[i].state, 0);
	}
	return l;
}

void veer_limiter_free(struct veer_limiter *l)
{
	if (l == NULL)
		return;
	free(l->slots);
	free(l);
}

size_t veer_limiter_slots(const struct veer_limiter *l)
{
	return l->mask + 1;
}

size_t veer_limiter_used(const struct veer_limiter *l)
{
	size_t used = 0;

	for (size_t i = 0; i <= l->mask; i++)
		if (atomic_load_explicit(&l->slots[i].key, memory_order_relaxed) != 0)
			used++;
	return used;
}

/* Take from slot S on behalf of key H.  False when S no longer holds H (it
 * was evicted meanwhile): the caller looks again. */
static bool take_slot(struct veer_limiter *l, struct slot *s, uint64_t h, uint64_t now,
		      struct veer_bucket_result *r)
{
	uint64_t cur = atomic_load(&s->state);
	uint64_t next;

	for (;;) {
		/* The key is read after the state: if it still is H, a failed
		 * CAS below means someone else changed this bucket. */
		if (atomic_load(&s->key) != h)
			return false;
		*r = veer_bucket_take(cur, l->rate, l->burst, now, &next);
		if (atomic_compare_exchange_weak(&s->state, &cur, next))
			return true;
	}
}

/* How little is lost by evicting the bucket STATE at NOW: the tokens it
 * would hold now (a bucket full again remembers nothing), then how long it
 * has been idle.  A fresh (0) bucket was claimed just now: keep it. */
struct idleness {
	uint64_t units;
	uint64_t since;
};

static struct idleness idleness_of(const struct veer_limiter *l, uint64_t state, uint64_t now)
{
	struct idleness i = { 0, UINT64_MAX };

	if (state != 0)
		i.units = units_at(state, l->k, l->cap, now, &i.since);
	return i;
}

/* True when evicting A loses less than evicting B. */
static bool idler(struct idleness a, struct idleness b)
{
	if (a.units != b.units)
		return a.units > b.units;
	return a.since < b.since;
}

struct veer_bucket_result veer_limiter_take(struct veer_limiter *l, const void *key, size_t key_len,
					    uint64_t now_ms)
{
	struct veer_bucket_result r;
	uint64_t h = veer_hash_mix64(veer_hash64(key, key_len));
	size_t base;

	if (h == 0)
		h = 1;
	if (now_ms > VEER_BUCKET_TIME_MAX)
		now_ms = VEER_BUCKET_TIME_MAX;
	base = (size_t)h & l->mask;
	for (;;) {
		struct slot *victim = NULL;
		uint64_t victim_key = 0;
		struct idleness victim_idle = { 0, 0 };
		bool retry = false;

		for (size_t i = 0; i < PROBES; i++) {
			struct slot *s = &l->slots[(base + i) & l->mask];
			uint64_t k = atomic_load(&s->key);
			struct idleness idle;

			/* Slots never empty again, so an empty one means H
			 * is not further on: claim it. */
			if (k == 0 && atomic_compare_exchange_strong(&s->key, &k, h))
				k = h;
			if (k == h) {
				if (take_slot(l, s, h, now_ms, &r))
					return r;
				retry = true;
				break;
			}
			idle = idleness_of(l, atomic_load(&s->state), now_ms);
			if (victim == NULL || idler(idle, victim_idle)) {
				victim = s;
				victim_key = k;
				victim_idle = idle;
			}
		}
		if (retry)
			continue;
		/* Evict: the key CAS decides between racing inserters; the
		 * loser looks again and finds the winner's key if it was the
		 * same. */
		if (atomic_compare_exchange_strong(&victim->key, &victim_key, h)) {
			atomic_store(&victim->state, 0);
			if (take_slot(l, victim, h, now_ms, &r))
				return r;
		}
	}
}
