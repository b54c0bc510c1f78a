/* veer — safe retries of failed upstream requests (pools[].retries).
 *
 * Pure functions: the caller tracks tries, in-flight counts and response
 * progress and passes them in; random values come from the caller's PRNG.
 * The rules (SPEC §3 Resilience): a retry happens only before any byte of
 * the response reached the client, only for the conditions listed in
 * retries.on, only for idempotent methods unless the failure was a connect
 * failure (nothing was sent), at most retries.attempts tries in all, with
 * exponential backoff and full jitter, and never beyond the retry budget.
 */
#ifndef VEER_RETRY_H
#define VEER_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "veer/config.h"

/* Why a try failed. */
enum veer_failure {
	VEER_FAIL_NONE = 0, /* it did not */
	VEER_FAIL_CONNECT,  /* connect refused / unreachable / connect timeout: nothing sent */
	VEER_FAIL_RESET,    /* the server reset or closed the connection early */
	VEER_FAIL_TIMEOUT,  /* response (or per-try) timeout */
	VEER_FAIL_STATUS,   /* the server answered with a status (see STATUS) */
};

/* Retry this failure?  TRIES_DONE >= 1 tries have been made (the failed one
 * included).  True only when all hold:
 *  - C->enabled (a pool without retries never retries);
 *  - !RESPONSE_STARTED: no response byte reached the client;
 *  - F is one of C->on: VEER_FAIL_CONNECT / RESET / TIMEOUT against the
 *    VEER_RETRY_CONNECT_FAILURE / RESET / TIMEOUT bits, VEER_FAIL_STATUS
 *    with STATUS 502, 503 or 504 against the VEER_RETRY_502/503/504 bits
 *    (any other status is never retried);
 *  - IDEMPOTENT (see veer_method_idempotent()) or F == VEER_FAIL_CONNECT;
 *  - TRIES_DONE < C->attempts.
 * The budget is a separate check: veer_retry_budget_allows(). */
bool veer_retry_should(const struct veer_retry_conf *c, uint32_t tries_done, enum veer_failure f,
		       int status, bool idempotent, bool response_started);

/* Full-jitter backoff before retry number N (N = 1 for the first retry;
 * 0 is taken as 1): uniform in [0, min(C->backoff_max, C->backoff_base *
 * 2^(N-1))] ms, both ends included, drawn from RND (a uniform 64-bit
 * value).  No overflow for any N. */
uint64_t veer_retry_backoff_ms(const struct veer_retry_conf *c, uint32_t n, uint64_t rnd);

/* May one more retry start when RETRIES_INFLIGHT retries and
 * REQUESTS_INFLIGHT requests (of the pool) are in flight?  True when
 * retries_inflight < max(3, floor(C->budget% * requests_inflight)). */
bool veer_retry_budget_allows(const struct veer_retry_conf *c, uint32_t retries_inflight,
			      uint32_t requests_inflight);

/* RFC 9110 §9.2.2 idempotent methods: GET HEAD OPTIONS PUT DELETE TRACE.
 * Method names are case-sensitive (RFC 9110 §9.1); NULL is not
 * idempotent. */
bool veer_method_idempotent(const char *method);

#endif
