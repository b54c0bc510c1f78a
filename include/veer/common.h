/* veer — shared vocabulary: error codes, memory policy, small helpers.
 *
 * Out-of-memory policy (written once, followed everywhere): veer does not try
 * to limp on after malloc fails.  Every allocation goes through veer_xmalloc()
 * and friends, which log and abort().  A proxy that cannot allocate a few
 * hundred bytes cannot serve anything; dying loudly lets the supervisor
 * (systemd) restart it, and keeps every caller free of untestable branches.
 */
#ifndef VEER_COMMON_H
#define VEER_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define VEER_VERSION "0.1.0"

/* The one error vocabulary.  Functions that can fail return one of these;
 * details travel separately (an error list, a log line). */
enum veer_status {
	VEER_OK = 0,     /* done */
	VEER_ERR = -1,   /* failed; the caller cleans up */
	VEER_AGAIN = -2, /* not yet: more input or a writable socket is needed */
	VEER_CLOSE = -3, /* the peer or the protocol wants the connection closed */
};

#define VEER_LIKELY(x) __builtin_expect(!!(x), 1)
#define VEER_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VEER_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VEER_UNUSED(x) ((void)(x))

/* Magic numbers in long-lived structs: checked at callback entry in debug
 * builds to catch use-after-free cheaply (Varnish's CHECK_OBJ). */
#ifndef NDEBUG
#include <assert.h>
#define VEER_CHECK_MAGIC(p, m) assert((p) != NULL && (p)->magic == (m))
#else
#define VEER_CHECK_MAGIC(p, m) ((void)0)
/* V as 16 lowercase hex digits (no terminator). */
void veer_hex64(char out[16], uint64_t v);

#endif

/* Allocation wrappers: never return NULL (see the policy above). */
void *veer_xmalloc(size_t n);
void *veer_xcalloc(size_t nmemb, size_t size);
void *veer_xrealloc(void *p, size_t n);
char *veer_xstrdup(const char *s);
char *veer_xstrndup(const char *s, size_t n);

/* Monotonic clock in milliseconds. */
uint64_t veer_now_ms(void);
/* veer_now_ms's clock at a tick's resolution (CLOCK_MONOTONIC_COARSE: 1 to
 * 10 ms, no TSC read): for what a request asks on the data path (breaker
 * windows, slow start, token buckets) and for lazy deadlines (veer_lazy),
 * which keep its low 32 bits and compare them with veer_ms_before(). */
uint64_t veer_coarse_ms(void);
static inline bool veer_ms_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* ASCII case-insensitive compare of a length-delimited token with a C
 * string; true when equal.  Inline: with a literal LIT the length is known
 * at compile time and most calls end at the length test (header names are
 * classified on every request). */
static inline bool veer_token_eq(const char *a, size_t alen, const char *lit)
{
	size_t n = __builtin_strlen(lit);

	if (alen != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)lit[i];
		if ((unsigned)(x - 'A') < 26u)
			x |= 0x20;
		if ((unsigned)(y - 'A') < 26u)
			y |= 0x20;
		if (x != y)
			return false;
	}
	return true;
}

/* V as 16 lowercase hex digits (no terminator). */
void veer_hex64(char out[16], uint64_t v);

#endif
