/* veer — per-server circuit breaker (pools[].circuit_breaker).
 *
 * Pure functions over a plain struct: the caller passes the time (ms on any
 * monotonic clock, the same one for every call on a breaker) and keeps the
 * struct wherever its runtime state lives (the registry, keyed by pool and
 * server address, so that it survives reload).  Nothing here locks: one
 * struct veer_breaker is owned by one thread at a time, or the caller
 * serialises access.
 *
 * States:
 *   CLOSED     all requests pass.  Outcomes are counted: the breaker opens
 *              after conf.consecutive_failures failures in a row (rule off
 *              when 0), or when failures/requests over the sliding window
 *              reach conf.failure_rate percent once at least
 *              conf.min_requests requests were seen in it (rule off when 0).
 *   OPEN       no request passes until open_until.  The open period is
 *              open_for on the first trip and doubles on each reopen from
 *              HALF_OPEN: min(open_for << min(trips, 4),
 *              max(open_for, VEER_BREAKER_OPEN_CAP_MS)).
 *   HALF_OPEN  at most conf.probe_requests requests (probes) in flight,
 *              and no more than can still close it (in flight + succeeded
 *              <= probe_requests).  A probe failure reopens (with the
 *              longer period); once probe_requests probes succeeded the
 *              breaker closes, the window is cleared and the trip count
 *              goes back to 0.
 *
 * Failures are connect errors, resets, timeouts and 5xx answers from the
 * server; everything else (including 4xx) is a success.
 *
 * Every request that veer_breaker_allow() admitted must be followed by
 * exactly one veer_breaker_record().  Should a caller lose a probe anyway
 * (never record it), the probe slots free themselves after
 * VEER_BREAKER_PROBE_STALE_MS without an outcome.
 */
#ifndef VEER_BREAKER_H
#define VEER_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "veer/config.h"

enum veer_breaker_state {
	VEER_BREAKER_CLOSED = 0,    /* traffic flows; outcomes are counted */
	VEER_BREAKER_OPEN = 1,      /* no traffic until open_until */
	VEER_BREAKER_HALF_OPEN = 2, /* a few probes decide */
};

/* Slices of the sliding window: each covers window / VEER_BREAKER_BUCKETS
 * ms (at least 1 ms), so the window is counted to within one slice. */
#define VEER_BREAKER_BUCKETS 10

/* The longest open period reached by doubling (10 minutes), unless open_for
 * itself is longer. */
#define VEER_BREAKER_OPEN_CAP_MS 600000u

/* Probe slots held this long without an outcome are presumed lost. */
#define VEER_BREAKER_PROBE_STALE_MS 60000u

/* Plain struct; zero-initialised = closed with nothing counted. */
struct veer_breaker {
	enum veer_breaker_state state;
	uint32_t consecutive;                        /* failures in a row */
	uint64_t bucket_start[VEER_BREAKER_BUCKETS]; /* ms; sliding window of window/10 slices */
	uint32_t req[VEER_BREAKER_BUCKETS], fail[VEER_BREAKER_BUCKETS];
	/* ms; OPEN: end of the open period; HALF_OPEN: last probe admitted */
	uint64_t open_until;
	uint32_t trips;      /* opens in a row without a full close: grows the open period */
	uint32_t probes_out; /* half-open requests admitted and not yet recorded */
	uint32_t probes_ok;  /* half-open successes so far */
};

/* May a request go to this server at NOW_MS?  true = send it, and record
 * its outcome later.  Moves OPEN to HALF_OPEN once open_until has passed;
 * in HALF_OPEN admits while probes_out + probes_ok < max(1,
 * C->probe_requests), counting admitted probes in probes_out.  A disabled breaker (C->enabled false) always
 * answers true and changes nothing.  Touches only *B. */
bool veer_breaker_allow(struct veer_breaker *b, const struct veer_breaker_conf *c, uint64_t now_ms);

/* Record the outcome of a request admitted by veer_breaker_allow():
 * SUCCESS is false for a failure (see above).  CLOSED: counts it and opens
 * when a rule says so (checked on every outcome).  HALF_OPEN: a failure
 * reopens with a longer period, the probe_requests-th success closes; an
 * outcome arriving while no probe is out belongs to a request admitted
 * before the breaker opened and is ignored.  OPEN: ignored (late outcomes
 * of requests admitted before opening).  Disabled breaker: no-op. */
void veer_breaker_record(struct veer_breaker *b, const struct veer_breaker_conf *c, uint64_t now_ms,
			 bool success);

/* State as seen at NOW_MS (an OPEN breaker whose period has passed reads as
 * HALF_OPEN) without changing anything: for metrics, the admin API and a
 * pool's "every server is out" check. */
enum veer_breaker_state veer_breaker_state_at(const struct veer_breaker *b, uint64_t now_ms);

/* "closed", "open" or "half_open". */
const char *veer_breaker_state_name(enum veer_breaker_state s);

#endif
