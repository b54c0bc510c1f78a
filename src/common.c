/* veer — allocation wrappers and small shared helpers (see common.h). */
#include "veer/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static void oom(size_t n)
{
	/* The out-of-memory policy of common.h: log and abort. */
	fprintf(stderr, "veer: out of memory allocating %zu bytes\n", n);
	abort();
}

void *veer_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (VEER_UNLIKELY(p == NULL))
		oom(n);
	return p;
}

void *veer_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (VEER_UNLIKELY(p == NULL))
		oom(nmemb * size);
	return p;
}

void *veer_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (VEER_UNLIKELY(q == NULL))
		oom(n);
	return q;
}

char *veer_xstrdup(const char *s)
{
	return veer_xstrndup(s, strlen(s));
}

char *veer_xstrndup(const char *s, size_t n)
{
	char *p = veer_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

uint64_t veer_coarse_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t veer_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The 8 nibbles of X, one per byte, the lowest nibble in the lowest byte. */
static uint64_t nibbles32(uint32_t x)
{
	uint64_t n = x;

	n = ((n & 0xffff0000u) << 16) | (n & 0x0000ffffu);
	n = ((n & 0x0000ff000000ff00ull) << 8) | (n & 0x000000ff000000ffull);
	n = ((n & 0x00f000f000f000f0ull) << 4) | (n & 0x000f000f000f000full);
	return n;
}

/* Eight hex digits of X, most significant first, eight bytes at once: each
 * nibble byte gets '0', plus 'a' - '0' - 10 where it is 10 or more. */
static void hex32(char out[8], uint32_t x)
{
	uint64_t n = nibbles32(x);
	uint64_t ten = ((n + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;

	n += 0x3030303030303030ull + ten * (uint64_t)('a' - '0' - 10);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	n = __builtin_bswap64(n);
	memcpy(out, &n, 8);
#else
	for (int i = 7; i >= 0; i--, n >>= 8)
		out[i] = (char)(n & 0xff);
#endif
}

void veer_hex64(char out[16], uint64_t v)
{
	hex32(out, (uint32_t)(v >> 32));
	hex32(out + 8, (uint32_t)v);
}
