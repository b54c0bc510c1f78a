/* veer — safe retries.  See include/veer/retry.h. */
#include <string.h>

#include "veer/common.h"
#include "veer/retry.h"

/* Smallest budget in retries in flight, whatever the traffic: a quiet pool
 * may still retry a few requests. */
#define BUDGET_MIN 3u

/* The retries.on bit of a failure; 0 when no bit can match. */
static uint32_t failure_bit(enum veer_failure f, int status)
{
	switch (f) {
	case VEER_FAIL_CONNECT:
		return VEER_RETRY_CONNECT_FAILURE;
	case VEER_FAIL_RESET:
		return VEER_RETRY_RESET;
	case VEER_FAIL_TIMEOUT:
		return VEER_RETRY_TIMEOUT;
	case VEER_FAIL_STATUS:
		switch (status) {
		case 502:
			return VEER_RETRY_502;
		case 503:
			return VEER_RETRY_503;
		case 504:
			return VEER_RETRY_504;
		}
		return 0;
	case VEER_FAIL_NONE:
		break;
	}
	return 0;
}

bool veer_retry_should(const struct veer_retry_conf *c, uint32_t tries_done, enum veer_failure f,
		       int status, bool idempotent, bool response_started)
{
	uint32_t bit = failure_bit(f, status);

	if (!c->enabled || response_started)
		return false;
	if (bit == 0 || (c->on & bit) == 0)
		return false;
	/* RFC 9110 §9.2.2: only an idempotent request may be sent twice; a
	 * connect failure sent nothing. */
	if (!idempotent && f != VEER_FAIL_CONNECT)
		return false;
	return tries_done < c->attempts;
}

uint64_t veer_retry_backoff_ms(const struct veer_retry_conf *c, uint32_t n, uint64_t rnd)
{
	uint32_t shift = n > 1 ? n - 1 : 0;
	uint64_t cap = c->backoff_max;

	if (shift < 64 && c->backoff_base <= (UINT64_MAX >> shift) &&
	    (c->backoff_base << shift) < cap)
		cap = c->backoff_base << shift;
	if (cap == UINT64_MAX)
		return rnd;
	return rnd % (cap + 1);
}

bool veer_retry_budget_allows(const struct veer_retry_conf *c, uint32_t retries_inflight,
			      uint32_t requests_inflight)
{
	uint64_t budget = (uint64_t)c->budget * requests_inflight / 100;

	if (budget < BUDGET_MIN)
		budget = BUDGET_MIN;
	return retries_inflight < budget;
}

bool veer_method_idempotent(const char *method)
{
	static const char *const methods[] = { "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE" };

	if (method == NULL)
		return false;
	for (size_t i = 0; i < VEER_ARRAY_LEN(methods); i++)
		if (strcmp(method, methods[i]) == 0)
			return true;
	return false;
}
