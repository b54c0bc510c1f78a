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

uint64_t veer_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool veer_token_eq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);
	return alen == n && strncasecmp(a, lit, n) == 0;
}

void veer_hex64(char out[16], uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	int i;

	/* Two digits per byte. */
	for (i = 14; i >= 0; i -= 2) {
		out[i] = digits[(v >> 4) & 0xf];
		out[i + 1] = digits[v & 0xf];
		v >>= 8;
	}
}
