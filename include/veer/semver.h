/* veer — semantic versions (semver.org 2.0) and npm node-semver ranges.
 *
 * Everything here is pure: no allocation, no global state.  Parsed values
 * point into the text they were parsed from (pre-release identifiers), so
 * that text must outlive them.  Request-time use parses the X-Api-Version
 * header value straight from the request buffer into a stack struct.
 */
#ifndef VEER_SEMVER_H
#define VEER_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct veer_semver {
	uint64_t major, minor, patch;
	const char *pre; /* pre-release identifiers without the '-', or NULL */
	size_t pre_len;
};

/* Parse a full version "1.2.3", "1.2.3-rc.1", "1.2.3+build.5" (build metadata
 * is accepted and ignored), with an optional leading "v" or "=" as
 * node-semver's parse() takes.  Strict semver 2.0 otherwise: no leading zeros
 * in numeric parts or numeric pre-release identifiers, no empty identifiers,
 * identifiers of [0-9A-Za-z-].  Components must fit in 53 bits (node's
 * MAX_SAFE_INTEGER).  VEER_OK or VEER_ERR. */
int veer_semver_parse(const char *s, size_t len, struct veer_semver *out);

/* Precedence (semver 2.0 §11): <0, 0, >0.  Build metadata plays no part. */
int veer_semver_cmp(const struct veer_semver *a, const struct veer_semver *b);

/* Most comparators in one range, and most ||-separated sets. */
#define VEER_RANGE_MAX_CMP 32
#define VEER_RANGE_MAX_SETS 8

enum veer_cmp_op { VEER_OP_EQ = 0, VEER_OP_LT, VEER_OP_LE, VEER_OP_GT, VEER_OP_GE };

struct veer_comparator {
	enum veer_cmp_op op;
	struct veer_semver v;
};

/* A parsed range: sets[i] holds comparators [set_start[i], set_start[i+1])
 * of cmp, all of which must hold (AND); the sets are OR-ed. */
struct veer_range {
	struct veer_comparator cmp[VEER_RANGE_MAX_CMP];
	uint8_t set_start[VEER_RANGE_MAX_SETS + 1];
	uint8_t nsets;
	uint8_t ncmp;
};

/* Parse a node-semver range: exact ("2.1.0", "=2.1.0", "v2.1.0"), partial
 * and x-ranges ("2", "2.x", "2.*", "2.1.x", "*", "" = any), tilde ("~1.8",
 * "~1.8.3", "~1"), caret ("^2", "^0.2.3", "^0.0.3", "^1.2.3-beta.2"),
 * primitive comparators and their space-separated conjunctions
 * (">=1.5.0 <2.0.0"), hyphen ranges ("1.2.3 - 2.3.4", partial ends as
 * node-semver expands them), and unions with "||".  Desugared exactly as
 * node-semver does (its documented rules, non-loose mode).  VEER_OK, or
 * VEER_ERR for anything else (including too many comparators/sets). */
int veer_range_parse(const char *s, size_t len, struct veer_range *out);

/* node-semver satisfies(): V is in R.  A pre-release version satisfies a
 * comparator set only when some comparator of that set names a pre-release
 * of the same major.minor.patch (node's includePrerelease = false). */
bool veer_range_satisfies(const struct veer_range *r, const struct veer_semver *v);

#endif
