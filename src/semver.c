/* veer — semantic versions (semver.org 2.0) and npm node-semver ranges.
 *
 * Versions are plain semver 2.0.  Ranges are node-semver's (v7.8, non-loose,
 * includePrerelease off).  node-semver defines its range grammar by what its
 * code does rather than by a grammar: each ||-set goes through a chain of
 * textual rewrites (build metadata stripped, a hyphen range expanded, the
 * space after an operator, "~" or "^" removed) before it is cut at spaces and
 * each piece is desugared (caret, tilde, x-range, stray "*") into primitive
 * comparators.  Odd inputs ("> =1.2.3", "~ >1.2", "1.2.3 - v 2") are accepted
 * or refused by the detail of that chain, so this file replays the chain on a
 * bounded copy of each set (struct work) that remembers, for every byte, where
 * it came from in the caller's text: pre-release identifiers can then still
 * point there.  The desugaring itself works on values, not text.
 *
 * Known differences from node-semver, all on input nobody writes:
 *  - whitespace is ASCII only (node also takes U+00A0, U+FEFF, ...);
 *  - numeric pre-release identifiers compare exactly (node compares those
 *    past 2^53 as rounded doubles);
 *  - a stray "*" that node cuts out of the middle of a pre-release
 *    ("1.2.3-a*b" means 1.2.3-ab there) is refused here;
 *  - a ||-set longer than WORK_MAX bytes once its whitespace is collapsed,
 *    or whose raw text reaches 64 KiB, is refused;
 *  - veer_semver_parse() also takes a leading "=" (node only "v" there).
 */
#include "veer/semver.h"

#include <string.h>

#include "veer/common.h"

#define MAX_SAFE 9007199254740991ULL /* 2^53 - 1: node's Number.MAX_SAFE_INTEGER */
#define TOO_BIG (MAX_SAFE + 1)       /* what any larger number saturates to */
#define MAX_LENGTH 256               /* node's longest version string */
#define MAX_NUM_DIGITS 257           /* node's safe regexes: [1-9]\d{0,256} */
#define MAX_ID_TAIL 250              /* ... and [a-zA-Z0-9-]{0,250} */
#define WORK_MAX 1024                /* longest ||-set, whitespace collapsed */
#define GEN UINT16_MAX               /* map[] of a byte written by us */

/* The pre-release of node's "-0" bounds (<2.0.0-0): static, so that it
 * outlives any range. */
static const char zero[] = "0";

/* One ||-set being rewritten: B[0..N) with MAP[i] the offset in SRC that
 * B[i] was copied from, or GEN. */
struct work {
	const char *src;
	size_t n;
	char b[WORK_MAX];
	uint16_t map[WORK_MAX];
};

/* node's XRANGEPLAIN after its [v=\s]* prefix: up to three parts, each a
 * number or x, X, "*"; a full triple may carry -pre and +build.  Missing
 * parts count as x (node's isX(undefined)).  Offsets index the parsed text. */
struct xrp {
	int nparts;
	bool x[3];
	uint64_t num[3]; /* saturated at TOO_BIG */
	size_t off[3], len[3];
	size_t pre, pre_len; /* pre_len 0: none */
};

/* The set being built into a range. */
struct setctx {
	struct veer_range *r;
	uint8_t first; /* r->cmp index of this set's first comparator */
	bool null;     /* holds node's null set <0.0.0-0, which is all it keeps */
	bool overflow; /* more comparators than r has room for */
};

static bool is_ws(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_idc(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* First character of a version or x-range part. */
static bool is_vstart(char c)
{
	return is_digit(c) || c == 'x' || c == 'X' || c == '*';
}

/* node's historical version prefix [v=\s]. */
static bool is_vpfx(char c)
{
	return c == 'v' || c == '=' || is_ws(c);
}

/* Characters a version's text is made of, past its prefix. */
static bool is_body(char c)
{
	return is_idc(c) || c == '.' || c == '+' || c == '*';
}

/* Digits S[0..N) as a number, saturated at TOO_BIG. */
static uint64_t num_of(const char *s, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && v != TOO_BIG; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > MAX_SAFE)
			v = TOO_BIG;
	}
	return v;
}

static size_t ndigits(uint64_t v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* One pre-release (BUILD false) or build identifier, with node's length
 * caps.  Numeric pre-release identifiers have no leading zero. */
static bool id_ok(const char *s, size_t n, bool build)
{
	size_t d = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_idc(s[i]))
			return false;
	if (build)
		return n <= MAX_ID_TAIL;
	while (d < n && is_digit(s[d]))
		d++;
	if (d == n)
		return n <= MAX_NUM_DIGITS && (n == 1 || s[0] != '0');
	return d <= MAX_LENGTH && n - d - 1 <= MAX_ID_TAIL;
}

/* A dot-separated list of identifiers, none empty. */
static bool ids_ok(const char *s, size_t n, bool build)
{
	size_t i = 0;

	for (;;) {
		size_t j = i;

		while (j < n && s[j] != '.')
			j++;
		if (!id_ok(s + i, j - i, build))
			return false;
		if (j == n)
			return true;
		i = j + 1;
	}
}

/* Part K of an x-range at B[*I]: "x", "X", "*", "0" or [1-9][0-9]*. */
static bool xid(const char *b, size_t n, size_t *i, struct xrp *x, int k)
{
	size_t s = *i, e = s + 1;

	if (s >= n)
		return false;
	x->off[k] = s;
	if (b[s] == 'x' || b[s] == 'X' || b[s] == '*') {
		x->x[k] = true;
		x->len[k] = 1;
		*i = e;
		return true;
	}
	if (!is_digit(b[s]))
		return false;
	if (b[s] != '0')
		while (e < n && is_digit(b[e]))
			e++;
	if (e - s > MAX_NUM_DIGITS)
		return false;
	x->x[k] = false;
	x->num[k] = num_of(b + s, e - s);
	x->len[k] = e - s;
	*i = e;
	return true;
}

/* B[i..n) is exactly one XRANGEPLAIN body (no prefix). */
static bool parse_xrp(const char *b, size_t i, size_t n, struct xrp *x)
{
	memset(x, 0, sizeof(*x));
	x->x[0] = x->x[1] = x->x[2] = true;
	if (!xid(b, n, &i, x, 0))
		return false;
	x->nparts = 1;
	if (i < n && b[i] == '.') {
		i++;
		if (!xid(b, n, &i, x, 1))
			return false;
		x->nparts = 2;
		if (i < n && b[i] == '.') {
			i++;
			if (!xid(b, n, &i, x, 2))
				return false;
			x->nparts = 3;
			if (i < n && b[i] == '-') {
				size_t s = ++i;

				while (i < n && b[i] != '+')
					i++;
				if (!ids_ok(b + s, i - s, false))
					return false;
				x->pre = s;
				x->pre_len = i - s;
			}
			if (i < n && b[i] == '+') {
				if (!ids_ok(b + i + 1, n - i - 1, true))
					return false;
				i = n;
			}
		}
	}
	return i == n;
}

/* A plain version: three numbers, none x, none past 2^53 - 1. */
static bool xrp_full(const struct xrp *x)
{
	for (int k = 0; k < 3; k++)
		if (x->x[k] || x->num[k] > MAX_SAFE)
			return false;
	return x->nparts == 3;
}

int veer_semver_parse(const char *s, size_t len, struct veer_semver *out)
{
	struct xrp x;
	size_t i = 0, n = len;

	/* node measures the string before trimming it */
	if (len > MAX_LENGTH)
		return VEER_ERR;
	while (i < n && is_ws(s[i]))
		i++;
	while (n > i && is_ws(s[n - 1]))
		n--;
	if (i < n && (s[i] == 'v' || s[i] == '='))
		i++;
	if (!parse_xrp(s, i, n, &x) || !xrp_full(&x))
		return VEER_ERR;
	out->major = x.num[0];
	out->minor = x.num[1];
	out->patch = x.num[2];
	out->pre = x.pre_len ? s + x.pre : NULL;
	out->pre_len = x.pre_len;
	return VEER_OK;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

/* semver 2.0 §11.4: numeric identifiers compare as numbers and below
 * alphanumeric ones, which compare in ASCII order. */
static int cmp_id(const char *a, size_t an, const char *b, size_t bn)
{
	bool anum = all_digits(a, an), bnum = all_digits(b, bn);
	int r;

	if (anum && bnum) {
		while (an > 1 && *a == '0')
			a++, an--;
		while (bn > 1 && *b == '0')
			b++, bn--;
		if (an != bn)
			return an < bn ? -1 : 1;
		return sign(memcmp(a, b, an));
	}
	if (anum != bnum)
		return anum ? -1 : 1;
	r = memcmp(a, b, an < bn ? an : bn);
	if (r)
		return sign(r);
	return (an > bn) - (an < bn);
}

static bool has_pre(const struct veer_semver *v)
{
	return v->pre != NULL && v->pre_len > 0;
}

int veer_semver_cmp(const struct veer_semver *a, const struct veer_semver *b)
{
	size_t i = 0, j = 0;

	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	/* §11.3: a pre-release is below its release */
	if (!has_pre(a) || !has_pre(b))
		return has_pre(b) - has_pre(a);
	for (;;) {
		size_t ie = i, je = j;
		int r;

		while (ie < a->pre_len && a->pre[ie] != '.')
			ie++;
		while (je < b->pre_len && b->pre[je] != '.')
			je++;
		r = cmp_id(a->pre + i, ie - i, b->pre + j, je - j);
		if (r)
			return r;
		/* §11.4.4: a longer list of equal identifiers is higher */
		if (ie == a->pre_len || je == b->pre_len)
			return (je == b->pre_len) - (ie == a->pre_len);
		i = ie + 1;
		j = je + 1;
	}
}

/* Where the pre-release W->b[off..off+len) lives in the caller's text, or
 * the static "0" of a bound we wrote.  A pre-release split by a cut "*" has
 * no home there: refused. */
static int home_pre(const struct work *w, size_t off, size_t len, const char **out)
{
	if (len == 0) {
		*out = NULL;
		return VEER_OK;
	}
	if (w->map[off] == GEN) {
		if (len != 1 || w->b[off] != '0')
			return VEER_ERR;
		*out = zero;
		return VEER_OK;
	}
	for (size_t k = 1; k < len; k++)
		if (w->map[off + k] != w->map[off] + k)
			return VEER_ERR;
	*out = w->src + w->map[off];
	return VEER_OK;
}

/* Add "OP M.m.p[-pre]" to the set: node's Comparator constructor (numbers and
 * length checked) and the dedup and null-set rules of its parseRange. */
static int store(struct setctx *sc, enum veer_cmp_op op, uint64_t M, uint64_t m, uint64_t p,
		 const char *pre, size_t pre_len)
{
	struct veer_range *r = sc->r;
	struct veer_comparator *c;

	if (M > MAX_SAFE || m > MAX_SAFE || p > MAX_SAFE)
		return VEER_ERR;
	if (ndigits(M) + ndigits(m) + ndigits(p) + 2 + (pre_len ? pre_len + 1 : 0) > MAX_LENGTH)
		return VEER_ERR;
	if (sc->null)
		return VEER_OK;
	if (op == VEER_OP_LT && !M && !m && !p && pre_len == 1 && pre[0] == '0') {
		sc->null = true;
		r->ncmp = sc->first;
		return VEER_OK;
	}
	for (size_t i = sc->first; i < r->ncmp; i++) {
		c = &r->cmp[i];
		if (c->op == op && c->v.major == M && c->v.minor == m && c->v.patch == p &&
		    c->v.pre_len == pre_len && (!pre_len || !memcmp(c->v.pre, pre, pre_len)))
			return VEER_OK;
	}
	if (r->ncmp == VEER_RANGE_MAX_CMP) {
		sc->overflow = true;
		return VEER_OK;
	}
	c = &r->cmp[r->ncmp++];
	c->op = op;
	c->v.major = M;
	c->v.minor = m;
	c->v.patch = p;
	c->v.pre = pre_len ? pre : NULL;
	c->v.pre_len = pre_len;
	return VEER_OK;
}

/* store() for a comparator we desugared: node turns the text ">=0.0.0" into
 * its ANY comparator (replaceGTE0), which a set drops. */
static int emit(struct setctx *sc, enum veer_cmp_op op, uint64_t M, uint64_t m, uint64_t p,
		const char *pre, size_t pre_len)
{
	if (op == VEER_OP_GE && !M && !m && !p && !pre_len)
		return VEER_OK;
	return store(sc, op, M, m, p, pre, pre_len);
}

/* Length of node's GTLT, ((?:<|>)?=?), at B[i]. */
static size_t gtlt_len(const char *b, size_t i, size_t n)
{
	size_t k = i;

	if (k < n && (b[k] == '<' || b[k] == '>'))
		k++;
	if (k < n && b[k] == '=')
		k++;
	return k - i;
}

static enum veer_cmp_op op_of(const char *op, size_t n)
{
	if (n == 0 || (n == 1 && op[0] == '='))
		return VEER_OP_EQ;
	if (op[0] == '<')
		return n == 2 ? VEER_OP_LE : VEER_OP_LT;
	return n == 2 ? VEER_OP_GE : VEER_OP_GT;
}

static size_t skip_vpfx(const char *b, size_t i, size_t n)
{
	while (i < n && is_vpfx(b[i]))
		i++;
	return i;
}

/* ^M.m.p (replaceCaret): up to the next non-zero part's increment. */
static int caret(struct setctx *sc, const struct work *w, const struct xrp *x)
{
	uint64_t M = x->num[0], m = x->num[1], p = x->num[2];
	const char *pre;
	int rc;

	if (x->x[0])
		return VEER_OK; /* "^*" is any */
	if (x->x[1]) {
		if ((rc = emit(sc, VEER_OP_GE, M, 0, 0, NULL, 0)))
			return rc;
		return emit(sc, VEER_OP_LT, M + 1, 0, 0, zero, 1);
	}
	if (x->x[2]) {
		if ((rc = emit(sc, VEER_OP_GE, M, m, 0, NULL, 0)))
			return rc;
		if (M == 0)
			return emit(sc, VEER_OP_LT, 0, m + 1, 0, zero, 1);
		return emit(sc, VEER_OP_LT, M + 1, 0, 0, zero, 1);
	}
	if ((rc = home_pre(w, x->pre, x->pre_len, &pre)))
		return rc;
	if ((rc = emit(sc, VEER_OP_GE, M, m, p, pre, x->pre_len)))
		return rc;
	if (M == 0 && m == 0)
		return emit(sc, VEER_OP_LT, 0, 0, p + 1, zero, 1);
	if (M == 0)
		return emit(sc, VEER_OP_LT, 0, m + 1, 0, zero, 1);
	return emit(sc, VEER_OP_LT, M + 1, 0, 0, zero, 1);
}

/* ~M.m.p (replaceTilde): patch-level changes if a minor is given, else
 * minor-level. */
static int tilde(struct setctx *sc, const struct work *w, const struct xrp *x)
{
	uint64_t M = x->num[0], m = x->num[1], p = x->num[2];
	const char *pre;
	int rc;

	if (x->x[0])
		return VEER_OK;
	if (x->x[1]) {
		if ((rc = emit(sc, VEER_OP_GE, M, 0, 0, NULL, 0)))
			return rc;
		return emit(sc, VEER_OP_LT, M + 1, 0, 0, zero, 1);
	}
	if (x->x[2]) {
		if ((rc = emit(sc, VEER_OP_GE, M, m, 0, NULL, 0)))
			return rc;
	} else {
		if ((rc = home_pre(w, x->pre, x->pre_len, &pre)))
			return rc;
		if ((rc = emit(sc, VEER_OP_GE, M, m, p, pre, x->pre_len)))
			return rc;
	}
	return emit(sc, VEER_OP_LT, M, m + 1, 0, zero, 1);
}

/* An x-range with operator OP (replaceXRange); some part of X is x. */
static int xrange(struct setctx *sc, const char *op, size_t oplen, const struct xrp *x)
{
	bool xM = x->x[0], xm = xM || x->x[1];
	uint64_t M = x->num[0], m = xm ? 0 : x->num[1];
	enum veer_cmp_op o;
	int rc;

	if (oplen == 1 && op[0] == '=')
		oplen = 0;
	if (xM) {
		/* ">*" and "<*" admit nothing, anything else everything */
		if (oplen == 1)
			return store(sc, VEER_OP_LT, 0, 0, 0, zero, 1);
		return VEER_OK;
	}
	if (oplen) {
		o = op_of(op, oplen);
		if (o == VEER_OP_GT) {
			/* >1 := >=2.0.0, >1.2 := >=1.3.0 */
			o = VEER_OP_GE;
			if (xm)
				M++;
			else
				m++;
		} else if (o == VEER_OP_LE) {
			/* <=1 := <2.0.0-0, <=1.2 := <1.3.0-0 */
			o = VEER_OP_LT;
			if (xm)
				M++;
			else
				m++;
		}
		if (o == VEER_OP_LT)
			return emit(sc, o, M, m, 0, zero, 1);
		return emit(sc, o, M, m, 0, NULL, 0);
	}
	if ((rc = emit(sc, VEER_OP_GE, M, m, 0, NULL, 0)))
		return rc;
	if (xm)
		return emit(sc, VEER_OP_LT, M + 1, 0, 0, zero, 1);
	return emit(sc, VEER_OP_LT, M, m + 1, 0, zero, 1);
}

/* W->b[s..e) must be node's COMPARATOR: GTLT, "v"?, a full version. */
static int primitive(struct setctx *sc, const struct work *w, size_t s, size_t e)
{
	size_t oplen = gtlt_len(w->b, s, e), vs = s + oplen, i = vs;
	const char *pre;
	struct xrp x;
	int rc;

	if (i < e && w->b[i] == 'v')
		i++;
	if (!parse_xrp(w->b, i, e, &x) || x.nparts != 3 || x.x[0] || x.x[1] || x.x[2])
		return VEER_ERR;
	if (e - vs > MAX_LENGTH)
		return VEER_ERR;
	if ((rc = home_pre(w, x.pre, x.pre_len, &pre)))
		return rc;
	if (e - s == 7 && !memcmp(w->b + s, ">=0.0.0", 7))
		return VEER_OK;
	return store(sc, op_of(w->b + s, oplen), x.num[0], x.num[1], x.num[2], pre, x.pre_len);
}

/* node's replaceStars on a piece no other rule took: the first
 * (<|>)?=?\* is cut out and what is left must be a comparator. */
static int star(struct setctx *sc, struct work *w, size_t s, size_t e)
{
	for (size_t q = s; q < e; q++) {
		size_t k = q + gtlt_len(w->b, q, e), cut;

		if (k >= e || w->b[k] != '*')
			continue;
		cut = k + 1 - q;
		memmove(w->b + q, w->b + k + 1, e - k - 1);
		memmove(w->map + q, w->map + k + 1, (e - k - 1) * sizeof(w->map[0]));
		e -= cut;
		return s == e ? VEER_OK : primitive(sc, w, s, e);
	}
	return VEER_ERR;
}

/* One space-separated piece W->b[s..e) of a rewritten set: node's
 * parseComparator, replaceGTE0 and Comparator. */
static int piece(struct setctx *sc, struct work *w, size_t s, size_t e)
{
	const char *b = w->b;
	struct xrp x;
	size_t i;

	if (s == e)
		return VEER_OK; /* "" is node's ANY */
	if (b[s] == '^') {
		if (parse_xrp(b, skip_vpfx(b, s + 1, e), e, &x))
			return caret(sc, w, &x);
	} else if (b[s] == '~') {
		i = s + 1;
		if (i < e && b[i] == '>')
			i++;
		if (parse_xrp(b, skip_vpfx(b, i, e), e, &x))
			return tilde(sc, w, &x);
	} else {
		i = s + gtlt_len(b, s, e);
		/* an x before a number ("x.1", "1.x.3") is not an x-range */
		if (parse_xrp(b, skip_vpfx(b, i, e), e, &x) && !(x.x[0] && !x.x[1]) &&
		    !(x.x[1] && x.nparts == 3 && !x.x[2])) {
			if (x.nparts == 3 && !x.x[0] && !x.x[1] && !x.x[2])
				return primitive(sc, w, s, e);
			return xrange(sc, b + s, i - s, &x);
		}
	}
	return star(sc, w, s, e);
}

/* Copy S[0..len) with whitespace trimmed and each run collapsed to one
 * space (node's range.trim().replace(/\s+/g, ' ') and r.trim()). */
static int load(struct work *w, const char *s, size_t len)
{
	size_t i = 0, n = 0;

	if (len >= GEN)
		return VEER_ERR;
	w->src = s;
	while (i < len && is_ws(s[i]))
		i++;
	while (i < len) {
		size_t at = i;
		char c = s[i++];

		if (is_ws(c)) {
			while (i < len && is_ws(s[i]))
				i++;
			if (i == len)
				break;
			c = ' ';
		}
		if (n == WORK_MAX)
			return VEER_ERR;
		w->b[n] = c;
		w->map[n++] = (uint16_t)at;
	}
	w->n = n;
	return VEER_OK;
}

/* node's BUILDSTRIPRE: every \+id(\.id)* goes, wherever it stands. */
static void strip_builds(struct work *w)
{
	size_t r = 0, o = 0, n = w->n;

	while (r < n) {
		if (w->b[r] == '+' && r + 1 < n && is_idc(w->b[r + 1])) {
			r++;
			while (r < n && is_idc(w->b[r]))
				r++;
			while (r + 1 < n && w->b[r] == '.' && is_idc(w->b[r + 1])) {
				r++;
				while (r < n && is_idc(w->b[r]))
					r++;
			}
			continue;
		}
		w->b[o] = w->b[r];
		w->map[o++] = w->map[r++];
	}
	w->n = o;
}

static int put(struct work *t, const char *s, size_t n)
{
	if (t->n + n > WORK_MAX)
		return VEER_ERR;
	memcpy(t->b + t->n, s, n);
	for (size_t i = 0; i < n; i++)
		t->map[t->n + i] = GEN;
	t->n += n;
	return VEER_OK;
}

static int copy(struct work *t, const struct work *w, size_t off, size_t n)
{
	if (t->n + n > WORK_MAX)
		return VEER_ERR;
	memcpy(t->b + t->n, w->b + off, n);
	memcpy(t->map + t->n, w->map + off, n * sizeof(w->map[0]));
	t->n += n;
	return VEER_OK;
}

/* V + 1 in decimal, refused past 2^53 - 1 as node's SemVer does. */
static int put_inc(struct work *t, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	if (v >= MAX_SAFE)
		return VEER_ERR;
	v++;
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return put(t, d + i, sizeof(d) - i);
}

#define PUT(t, lit) put(t, lit, sizeof(lit) - 1)

/* hyphenReplace's lower bound for A, W->b[a0..a1) (XA its body), appended
 * to T; nonzero when T is full. */
static int hyphen_from(struct work *t, const struct work *w, const struct xrp *xa, size_t a0,
		       size_t a1)
{
	if (xa->x[0])
		return VEER_OK; /* "*": none */
	if (xa->x[1])
		return PUT(t, ">=") || copy(t, w, xa->off[0], xa->len[0]) || PUT(t, ".0.0");
	if (xa->x[2])
		return PUT(t, ">=") || copy(t, w, xa->off[0], xa->len[0]) || PUT(t, ".") ||
		       copy(t, w, xa->off[1], xa->len[1]) || PUT(t, ".0");
	/* the whole text, prefix included: ">=v1.2.3" parses, ">==1.2.3" not */
	return PUT(t, ">=") || copy(t, w, a0, a1 - a0);
}

/* hyphenReplace's upper bound for B, W->b[b0..b1) (XB its body), appended
 * to T; nonzero when T is full or a bound passes 2^53 - 1. */
static int hyphen_to(struct work *t, const struct work *w, const struct xrp *xb, size_t b0,
		     size_t b1)
{
	if (xb->x[0])
		return VEER_OK;
	if (xb->x[1]) /* 1.2.3 - 2 := >=1.2.3 <3.0.0-0 */
		return PUT(t, "<") || put_inc(t, xb->num[0]) || PUT(t, ".0.0-0");
	if (xb->x[2]) /* 1.2.3 - 2.3 := >=1.2.3 <2.4.0-0 */
		return PUT(t, "<") || copy(t, w, xb->off[0], xb->len[0]) || PUT(t, ".") ||
		       put_inc(t, xb->num[1]) || PUT(t, ".0-0");
	if (xb->pre_len) /* rebuilt without its prefix */
		return PUT(t, "<=") || copy(t, w, xb->off[0], xb->len[0]) || PUT(t, ".") ||
		       copy(t, w, xb->off[1], xb->len[1]) || PUT(t, ".") ||
		       copy(t, w, xb->off[2], xb->len[2]) || PUT(t, "-") ||
		       copy(t, w, xb->pre, xb->pre_len);
	return PUT(t, "<=") || copy(t, w, b0, b1 - b0);
}

/* node's HYPHENRANGE on the whole set, "A - B", rewritten as its
 * hyphenReplace does: 1 if it did, 0 if the set is no hyphen range, or
 * VEER_ERR. */
static int hyphen(struct work *w)
{
	const char *b = w->b;
	size_t n = w->n, i = 0, a0, a1, b0, b1;
	struct xrp xa, xb;
	struct work t;

	/* ^\s{0,1}([v=\s]*XRP)\s-\s([v=\s]*XRP)\s{0,1}$ (node's safe regex) */
	if (i < n && b[i] == ' ')
		i++;
	a0 = i;
	i = skip_vpfx(b, i, n);
	a1 = i;
	while (a1 < n && b[a1] != ' ')
		a1++;
	if (!parse_xrp(b, i, a1, &xa))
		return 0;
	if (a1 + 2 >= n || b[a1 + 1] != '-' || b[a1 + 2] != ' ')
		return 0;
	b0 = a1 + 3;
	i = skip_vpfx(b, b0, n);
	b1 = i;
	while (b1 < n && b[b1] != ' ')
		b1++;
	if (!parse_xrp(b, i, b1, &xb))
		return 0;
	if (b1 < n && b1 + 1 != n)
		return 0;

	t.src = w->src;
	t.n = 0;
	if (hyphen_from(&t, w, &xa, a0, a1) || PUT(&t, " ") || hyphen_to(&t, w, &xb, b0, b1))
		return VEER_ERR;
	/* `${from} ${to}`.trim() */
	i = 0;
	while (i < t.n && t.b[i] == ' ')
		i++;
	while (t.n > i && t.b[t.n - 1] == ' ')
		t.n--;
	w->n = t.n - i;
	memcpy(w->b, t.b + i, w->n);
	memcpy(w->map, t.map + i, w->n * sizeof(w->map[0]));
	return 1;
}

/* Drop the bytes of W marked in DEL. */
static void drop(struct work *w, const uint8_t *del)
{
	size_t o = 0;

	for (size_t r = 0; r < w->n; r++) {
		if (del[r / 8] & (1u << (r % 8)))
			continue;
		w->b[o] = w->b[r];
		w->map[o++] = w->map[r];
	}
	w->n = o;
}

/* node's trimComparatorWhitespace (once the COMPARATORTRIM regex): the space
 * between an operator and its version goes, "> 1.2.3" is ">1.2.3".  The scan
 * is node's; where a version ends is approximated by a run of version
 * characters, which moves no decision on input that can parse. */
static void trim_cmp_ws(struct work *w)
{
	uint8_t del[WORK_MAX / 8] = { 0 };
	const char *b = w->b;
	size_t n = w->n, c = 0;

	while (c < n) {
		size_t ms = c, p;

		if (b[c] == '<' || b[c] == '>') {
			c++;
		} else if (!is_vpfx(b[c]) && !is_vstart(b[c])) {
			c++;
			continue;
		}
		while (c < n && is_vpfx(b[c]))
			c++;
		if (c >= n || !is_vstart(b[c]))
			continue;
		p = ms;
		if (b[p] == ' ')
			p++;
		if (p < n && (b[p] == '<' || b[p] == '>'))
			p++;
		if (p < n && b[p] == '=')
			p++;
		if (p < n && b[p] == ' ')
			del[p / 8] |= (uint8_t)(1u << (p % 8));
		while (c < n && is_body(b[c]))
			c++;
	}
	drop(w, del);
}

/* node's TILDETRIM then CARETTRIM: "~ 1", "~> 1" become "~1", "^ 1" "^1". */
static void trim_tilde_caret(struct work *w)
{
	uint8_t del[WORK_MAX / 8] = { 0 };
	const char *b = w->b;
	size_t n = w->n;

	for (size_t i = 0; i + 1 < n; i++) {
		if (b[i] != '~')
			continue;
		if (b[i + 1] == '>' && i + 2 < n && b[i + 2] == ' ') {
			del[(i + 1) / 8] |= (uint8_t)(1u << ((i + 1) % 8));
			del[(i + 2) / 8] |= (uint8_t)(1u << ((i + 2) % 8));
			i += 2;
		} else if (b[i + 1] == ' ') {
			del[(i + 1) / 8] |= (uint8_t)(1u << ((i + 1) % 8));
			i++;
		}
	}
	drop(w, del);
	memset(del, 0, sizeof(del));
	n = w->n;
	for (size_t i = 0; i + 1 < n; i++) {
		if (b[i] == '^' && b[i + 1] == ' ') {
			del[(i + 1) / 8] |= (uint8_t)(1u << ((i + 1) % 8));
			i++;
		}
	}
	drop(w, del);
}

/* One ||-set S[0..len) into SC (node's parseRange). */
static int parse_set(struct setctx *sc, const char *s, size_t len)
{
	struct work w;
	size_t t0 = 0;
	int rc;

	if ((rc = load(&w, s, len)))
		return rc;
	strip_builds(&w);
	if ((rc = hyphen(&w)) < 0)
		return rc;
	trim_cmp_ws(&w);
	trim_tilde_caret(&w);
	for (size_t i = 0; i <= w.n; i++) {
		if (i < w.n && w.b[i] != ' ')
			continue;
		if ((rc = piece(sc, &w, t0, i)))
			return rc;
		t0 = i + 1;
	}
	return VEER_OK;
}

int veer_range_parse(const char *s, size_t len, struct veer_range *out)
{
	bool any = false, overflow = false;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		struct setctx sc = { .r = out, .first = out->ncmp };
		size_t end = pos;

		while (end < len && !(s[end] == '|' && end + 1 < len && s[end + 1] == '|'))
			end++;
		if (parse_set(&sc, s + pos, end - pos))
			goto fail;
		/* node drops null sets when there are others, and a set of
		 * nothing but ANY makes the whole range ANY */
		if (sc.null) {
			out->ncmp = sc.first;
		} else if (out->ncmp == sc.first) {
			any = true;
		} else if (sc.overflow || out->nsets == VEER_RANGE_MAX_SETS) {
			overflow = true;
			out->ncmp = sc.first;
		} else {
			out->set_start[out->nsets++] = sc.first;
		}
		if (end == len)
			break;
		pos = end + 2;
	}
	if (any) {
		out->nsets = 1;
		out->ncmp = 0;
		out->set_start[0] = out->set_start[1] = 0;
		return VEER_OK;
	}
	if (overflow)
		goto fail;
	if (out->nsets == 0) {
		/* every set was <0.0.0-0: node keeps the first */
		out->cmp[0].op = VEER_OP_LT;
		out->cmp[0].v = (struct veer_semver){ .pre = zero, .pre_len = 1 };
		out->ncmp = 1;
		out->nsets = 1;
	}
	out->set_start[out->nsets] = out->ncmp;
	return VEER_OK;
fail:
	memset(out, 0, sizeof(*out));
	return VEER_ERR;
}

static bool cmp_test(const struct veer_comparator *c, const struct veer_semver *v)
{
	int r = veer_semver_cmp(v, &c->v);

	switch (c->op) {
	case VEER_OP_LT:
		return r < 0;
	case VEER_OP_LE:
		return r <= 0;
	case VEER_OP_GT:
		return r > 0;
	case VEER_OP_GE:
		return r >= 0;
	case VEER_OP_EQ:
	default:
		return r == 0;
	}
}

/* node's testSet: every comparator holds, and a pre-release version also
 * needs a comparator naming a pre-release of its own major.minor.patch. */
static bool set_test(const struct veer_comparator *c, size_t n, const struct veer_semver *v)
{
	for (size_t i = 0; i < n; i++)
		if (!cmp_test(&c[i], v))
			return false;
	if (!has_pre(v))
		return true;
	for (size_t i = 0; i < n; i++)
		if (has_pre(&c[i].v) && c[i].v.major == v->major && c[i].v.minor == v->minor &&
		    c[i].v.patch == v->patch)
			return true;
	return false;
}

bool veer_range_satisfies(const struct veer_range *r, const struct veer_semver *v)
{
	for (size_t i = 0; i < r->nsets; i++) {
		size_t a = r->set_start[i], z = r->set_start[i + 1];

		if (set_test(r->cmp + a, z - a, v))
			return true;
	}
	return false;
}
