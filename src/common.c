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

void veer_hex64(char out[16], uint64_t v)
{
	/* Two digits per byte, from a table of the 256 pairs. */
	static const char pairs[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
		"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
		"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
		"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
		"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

	for (int i = 14; i >= 0; i -= 2) {
		memcpy(out + i, pairs + 2 * (v & 0xff), 2);
		v >>= 8;
	}
}
