/* libFuzzer target: semver versions and node-semver ranges (src/semver.c).
 * The input is parsed whole as a range and as a version; when it holds a
 * newline, the part before is also a range and the part after a version to
 * test against it.  Cheap invariants of the precedence order are checked
 * on the way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veer/common.h"
#include "veer/semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* cmp must be antisymmetric and reflexive */
static void check_cmp(const struct veer_semver *a, const struct veer_semver *b)
{
	if (veer_semver_cmp(a, b) != -veer_semver_cmp(b, a) || veer_semver_cmp(a, a) != 0)
		abort();
}

static void exercise(const struct veer_range *r, const struct veer_semver *v)
{
	bool sat = veer_range_satisfies(r, v);

	for (size_t i = 0; i < r->ncmp; i++)
		check_cmp(v, &r->cmp[i].v);
	/* "*" takes every release and no pre-release */
	if (r->nsets == 1 && r->ncmp == 0 && sat != (v->pre == NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size);
	struct veer_range r;
	struct veer_semver v, w;
	bool have_r = veer_range_parse(s, size, &r) == VEER_OK;
	bool have_v = veer_semver_parse(s, size, &v) == VEER_OK;

	if (have_v)
		check_cmp(&v, &v);
	if (have_r && have_v)
		exercise(&r, &v);
	if (nl && veer_range_parse(s, (size_t)(nl - s), &r) == VEER_OK &&
	    veer_semver_parse(nl + 1, size - (size_t)(nl + 1 - s), &w) == VEER_OK) {
		exercise(&r, &w);
		if (have_v)
			check_cmp(&v, &w);
	}
	return 0;
}
