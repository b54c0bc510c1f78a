/* veer — the YAML config loader.
 *
 * One table of keys (keys[] below) drives everything: the walk over the
 * libyaml document, type and range validation, defaults, the "not supported
 * yet" errors and the reference printed by veer_config_reference().
 *
 * How the table works:
 *  - A key's path names its place in the schema: "global.workers",
 *    "listeners[].timeouts.header", "pools[].servers[].address".  "[]" marks
 *    a list of mappings; the keys under it live in one element of the list.
 *  - The storage of a key (.off/.width) is relative to its owner: the
 *    innermost list element it lives in (struct veer_listener_conf for
 *    "listeners[].timeouts.header"), or struct veer_config for keys outside
 *    any list.  A key without storage is validated only.
 *  - .supported = false makes the key an error ("not supported yet") when
 *    present; its sub-keys are never looked at.  Sub-keys carry their own
 *    types and ranges already, so supporting a feature means flipping its
 *    row to YES and giving the rows a field (AT(...)) to store into.
 *  - Defaults (.def) are parsed by the same code as the file's values and
 *    applied when the owner is created, before the file's values.
 *  - An optional feature (health_check, circuit_breaker ...) is a T_MAP
 *    with F_SECTION whose storage is its "enabled" bool: the bool is set
 *    and the defaults of the keys inside are applied when the mapping is
 *    present; when it is absent, all of them stay zero.
 *  - T_FLAGS keys take a list of .choices and store one bit per choice.
 *  - T_STRLIST and T_STRMAP keys with storage fill an array and its count
 *    (LIST(...)); each item of a T_STRLIST goes through the key's setter as
 *    a T_STRING whose owner is its slot of the array.
 *
 * Checks that span several keys (names that must be unique, pool and route
 * references, one action per route, hash_on with balance: hash, split
 * weights, sticky with split) run after the walk, in config_check.c, over
 * the filled structs and the still-loaded YAML document, whose nodes give
 * the line and column of each error.  config.c parses the file into that
 * document; config_int.h holds what the three files share.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "veer/common.h"
#include "veer/config.h"
#include "veer/semver.h"

#include "config_int.h"

enum ktype {
	T_MAP = 0, /* a mapping of further keys */
	T_LIST,    /* a list of mappings ("x[]" keys live in each element) */
	T_STRLIST, /* a list of strings; stored as char ** (off) and a count */
	T_STRMAP,  /* a mapping of header names to values; stored as struct
		    * veer_header_kv * (off) and a count */
	T_STRING,
	T_INT,
	T_BOOL,
	T_ENUM,  /* one of .choices; stored as the index */
	T_FLAGS, /* a list of .choices; stored as a uint32_t with bit I set for
		  * choice I (a scalar sets one bit: the default, or an item) */
	T_DURATION,
	T_SIZE,
	T_PERCENT,
	T_RATE,
	T_ADDR,
};

enum {
	F_REQ = 1 << 0,     /* must be present when its mapping is */
	F_AUTO = 1 << 1,    /* T_INT that also takes "auto" */
	F_DOCDEF = 1 << 2,  /* .def only describes the default; nothing to parse */
	F_EMPTY = 1 << 3,   /* T_STRING that may be "" */
	F_MANAGED = 1 << 4, /* header names: refuse the ones veer manages */
	F_SECTION = 1 << 5, /* T_MAP of an optional feature: its storage is a bool
			     * set when the mapping is present, and the defaults
			     * of the keys inside apply only then */
};

struct key;

/* One scalar value to set: from the file (MARK set) or a default (NULL). */
struct scalar {
	const char *text; /* NUL-terminated; LEN may be larger if it holds NULs */
	size_t len;
	const yaml_mark_t *mark;
	const char *cpath; /* concrete path for messages: "listeners[0].listen" */
};

/* A custom setter: validates V and stores it into BASE (the owner); or,
 * for keys without storage, validates only.  VEER_OK or VEER_ERR (after
 * reporting the error). */
typedef int (*set_fn)(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		      void *base);

struct key {
	const char *path;
	enum ktype type;
	bool supported;
	unsigned flags;
	uint64_t min, max;           /* T_INT T_DURATION (ms) T_SIZE T_PERCENT */
	const char *def;             /* default as written in a file; NULL = none */
	const char *choices;         /* T_ENUM T_FLAGS: "a|b|c" */
	const char *what;            /* T_FLAGS: an item, in messages ("condition") */
	size_t off, width;           /* storage in the owner; width 0 = not stored */
	size_t count_off, elem_size; /* T_LIST: element count and size */
	set_fn set;                  /* NULL = the generic setter for .type */
	const char *doc;
};

#define QBUF 96
#define Q(buf, v) veer_cfg_quote((buf), sizeof(buf), (v)->text, (v)->len)

/* ---- values ------------------------------------------------------------ */

static int choice_index(const struct key *k, const char *s)
{
	const char *c = k->choices;
	size_t n = strlen(s);

	for (int i = 0; c != NULL && *c != '\0'; i++) {
		size_t l = strcspn(c, "|");
		if (l == n && memcmp(c, s, n) == 0)
			return i;
		c += l;
		if (*c == '|')
			c++;
	}
	return -1;
}

/* "a|b|c" as "a, b, c". */
static const char *choices_text(char *buf, size_t n, const struct key *k)
{
	size_t o = 0;

	for (const char *c = k->choices; *c != '\0' && o + 3 < n; c++)
		o += (size_t)snprintf(buf + o, n - o, *c == '|' ? ", " : "%c", *c);
	return buf;
}

static const char *fmt_value(char *buf, size_t n, const struct key *k, uint64_t v)
{
	if (k->type == T_DURATION)
		return veer_format_duration(buf, n, v);
	if (k->type == T_SIZE)
		return veer_format_size(buf, n, v);
	snprintf(buf, n, k->type == T_PERCENT ? "%llu%%" : "%llu", (unsigned long long)v);
	return buf;
}

/* "an integer", "a duration" ... for "expected ..." messages. */
static const char *type_name(char *buf, size_t n, const struct key *k)
{
	char c[128];

	switch (k->type) {
	case T_MAP:
		return "a mapping";
	case T_LIST:
		return "a list";
	case T_STRLIST:
		return "a list of strings";
	case T_STRMAP:
		return "a mapping of header names to values";
	case T_STRING:
		return "a string";
	case T_INT:
		return (k->flags & F_AUTO) ? "an integer or \"auto\"" : "an integer";
	case T_BOOL:
		return "true or false";
	case T_ENUM:
		snprintf(buf, n, "one of %s", choices_text(c, sizeof(c), k));
		return buf;
	case T_FLAGS:
		snprintf(buf, n, "a list of %s", choices_text(c, sizeof(c), k));
		return buf;
	case T_DURATION:
		return "a duration (250ms, 2s, 1m, 1h)";
	case T_SIZE:
		return "a size (512, 16k, 1m, 1g)";
	case T_PERCENT:
		return "a percentage (20%)";
	case T_RATE:
		return "a rate (500/s, 30/m)";
	case T_ADDR:
		return "an address (host:port)";
	}
	return "?";
}

/* ---- storing ----------------------------------------------------------- */

static void *slot(const struct key *k, void *base)
{
	return base != NULL && k->width != 0 ? (char *)base + k->off : NULL;
}

static void store_uint(const struct key *k, void *base, uint64_t v)
{
	void *p = slot(k, base);

	if (p == NULL)
		return;
	switch (k->width) {
	case 1: {
		uint8_t x = (uint8_t)v;
		memcpy(p, &x, 1);
		break;
	}
	case 2: {
		uint16_t x = (uint16_t)v;
		memcpy(p, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, 4);
		break;
	}
	case 8:
		memcpy(p, &v, 8);
		break;
	default:
		assert(!"bad width in the key table");
	}
}

static void store_str(const struct key *k, void *base, const char *s, size_t len)
{
	char **p = slot(k, base);

	if (p == NULL)
		return;
	assert(k->width == sizeof(char *));
	free(*p);
	*p = veer_xstrndup(s, len);
}

/* ---- setters ----------------------------------------------------------- */

static int check_text(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v)
{
	if (strlen(v->text) != v->len) {
		veer_cfg_error(w, v->mark, "%s: must not contain a NUL byte", v->cpath);
		return VEER_ERR;
	}
	if (v->len == 0 && !(k->flags & F_EMPTY)) {
		veer_cfg_error(w, v->mark, "%s: must not be empty", v->cpath);
		return VEER_ERR;
	}
	return VEER_OK;
}

static int check_range(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		       uint64_t n, bool neg)
{
	char lo[32], hi[32];

	if (!neg && n >= k->min && n <= k->max)
		return VEER_OK;
	veer_cfg_error(w, v->mark, "%s: %s is out of range %s..%s", v->cpath, v->text,
		       fmt_value(lo, sizeof(lo), k, k->min), fmt_value(hi, sizeof(hi), k, k->max));
	return VEER_ERR;
}

/* Parse V as an address into *A (when A is not NULL). */
static int parse_addr_value(struct veer_cfg_walk *w, const struct scalar *v, struct veer_addr *a)
{
	char why[320], q[QBUF];
	struct veer_addr tmp;

	if (strlen(v->text) != v->len) {
		snprintf(why, sizeof(why), "contains a NUL byte");
	} else if (veer_parse_addr_why(v->text, &tmp, true, why, sizeof(why)) == VEER_OK) {
		if (a != NULL)
			*a = tmp;
		return VEER_OK;
	}
	veer_cfg_error(w, v->mark, "%s: bad address %s: %s", v->cpath, Q(q, v), why);
	return VEER_ERR;
}

/* The setter for plain keys: parse V as K's type, check the range, store. */
static int set_generic(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		       void *base)
{
	char q[QBUF], t[160];
	const char *what = NULL, *hint = NULL; /* set when V does not parse */
	void *p = slot(k, base);
	uint64_t n = 0;
	bool neg = false, b;
	uint32_t pc = 0;
	double r;
	int i;

	switch (k->type) {
	case T_STRING:
		if (check_text(w, k, v) != VEER_OK)
			return VEER_ERR;
		store_str(k, base, v->text, v->len);
		return VEER_OK;
	case T_INT:
		if (veer_cfg_parse_int(v->text, &n, &neg) != VEER_OK)
			goto bad_type;
		break;
	case T_BOOL:
		/* YAML 1.2 core schema booleans; not 1.1's yes/no/on/off */
		if (strcasecmp(v->text, "true") != 0 && strcasecmp(v->text, "false") != 0)
			goto bad_type;
		b = v->text[0] == 't' || v->text[0] == 'T';
		if (p != NULL)
			memcpy(p, &b, sizeof(b));
		return VEER_OK;
	case T_ENUM:
		i = choice_index(k, v->text);
		if (i < 0) {
			veer_cfg_error(w, v->mark, "%s: unknown value %s (expected one of %s)",
				       v->cpath, Q(q, v), choices_text(t, sizeof(t), k));
			return VEER_ERR;
		}
		store_uint(k, base, (uint64_t)i);
		return VEER_OK;
	case T_FLAGS:
		i = choice_index(k, v->text);
		if (i < 0) {
			veer_cfg_error(w, v->mark, "%s: unknown %s %s (expected %s)", v->cpath,
				       k->what != NULL ? k->what : "value", Q(q, v),
				       choices_text(t, sizeof(t), k));
			return VEER_ERR;
		}
		if (p != NULL) {
			uint32_t bits;
			assert(k->width == sizeof(bits) && i < 32);
			memcpy(&bits, p, sizeof(bits));
			bits |= 1u << i;
			memcpy(p, &bits, sizeof(bits));
		}
		return VEER_OK;
	case T_DURATION:
		if (veer_parse_duration(v->text, &n) != VEER_OK)
			what = "duration", hint = "use an integer and a unit: 250ms, 2s, 1m, 1h";
		break;
	case T_SIZE:
		if (veer_parse_size(v->text, &n) != VEER_OK)
			what = "size",
			hint = "use an integer and an optional unit: 512, 16k, 1m, 1g";
		break;
	case T_PERCENT:
		if (veer_parse_percent(v->text, &pc) != VEER_OK)
			what = "percentage", hint = "use 0%..100%";
		n = pc;
		break;
	case T_RATE:
		if (veer_parse_rate(v->text, &r) != VEER_OK) {
			what = "rate", hint = "use N/s, N/m or N/h, N >= 1";
			break;
		}
		if (p != NULL)
			memcpy(p, &r, sizeof(r));
		return VEER_OK;
	case T_ADDR:
		assert(p == NULL || k->width == sizeof(struct veer_addr));
		return parse_addr_value(w, v, p);
	case T_MAP:
	case T_LIST:
	case T_STRLIST:
	case T_STRMAP:
		assert(!"not a scalar key");
		return VEER_ERR;
	}
	if (what != NULL) {
		veer_cfg_error(w, v->mark, "%s: bad %s %s (%s)", v->cpath, what, Q(q, v), hint);
		return VEER_ERR;
	}
	if (check_range(w, k, v, n, neg) != VEER_OK)
		return VEER_ERR;
	store_uint(k, base, n);
	return VEER_OK;
bad_type:
	veer_cfg_error(w, v->mark, "%s: expected %s, got %s", v->cpath, type_name(t, sizeof(t), k),
		       Q(q, v));
	return VEER_ERR;
}

static int set_value(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		     void *base)
{
	return k->set != NULL ? k->set(w, k, v, base) : set_generic(w, k, v, base);
}

static int set_workers(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		       void *base)
{
	long n;

	if (strcmp(v->text, "auto") != 0)
		return set_generic(w, k, v, base);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < (long)k->min)
		n = (long)k->min;
	if ((uint64_t)n > k->max)
		n = (long)k->max;
	store_uint(k, base, (uint64_t)n);
	return VEER_OK;
}

/* Names appear in metrics labels and admin API paths: keep them plain. */
static int set_name(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		    void *base)
{
	char q[QBUF];

	if (check_text(w, k, v) != VEER_OK)
		return VEER_ERR;
	if (v->len > 128 ||
	    strspn(v->text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		    v->len) {
		veer_cfg_error(w, v->mark,
			       "%s: bad name %s (use up to 128 letters, digits, \".\", \"_\" "
			       "and \"-\")",
			       v->cpath, Q(q, v));
		return VEER_ERR;
	}
	store_str(k, base, v->text, v->len);
	return VEER_OK;
}

/* off, stdout or a path.  "stderr" would otherwise name a file in the
 * working directory, which is never what was meant. */
static int set_log_access(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			  void *base)
{
	char q[QBUF];

	if (strcmp(v->text, "stderr") == 0) {
		veer_cfg_error(w, v->mark,
			       "%s: %s: expected off, stdout or a file path (/dev/stderr for "
			       "stderr)",
			       v->cpath, Q(q, v));
		return VEER_ERR;
	}
	return set_generic(w, k, v, base);
}

static int set_hash_on(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		       void *base)
{
	struct veer_pool_conf *p = base;
	enum veer_hash_on on = VEER_HASH_NONE;
	const char *name = NULL;
	char q[QBUF];

	if (strcmp(v->text, "client_ip") == 0)
		on = VEER_HASH_CLIENT_IP;
	else if (strcmp(v->text, "path") == 0)
		on = VEER_HASH_PATH;
	else if (strncmp(v->text, "header:", 7) == 0)
		on = VEER_HASH_HEADER, name = v->text + 7;
	else if (strncmp(v->text, "cookie:", 7) == 0)
		on = VEER_HASH_COOKIE, name = v->text + 7;
	if (on == VEER_HASH_NONE || (name != NULL && !veer_cfg_is_token(name, v->len - 7))) {
		veer_cfg_error(w, v->mark,
			       "%s: bad value %s (expected header:NAME, cookie:NAME, "
			       "client_ip or path)",
			       v->cpath, Q(q, v));
		return VEER_ERR;
	}
	p->hash_on = on;
	free(p->hash_key);
	p->hash_key = name != NULL ? veer_xstrdup(name) : NULL;
	return VEER_OK;
}

static int set_server_address(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			      void *base)
{
	struct veer_server_conf *s = base;
	struct veer_addr a;

	if (parse_addr_value(w, v, &a) != VEER_OK)
		return VEER_ERR;
	s->addr = a;
	free(s->address);
	s->address = veer_xstrdup(v->text);
	return VEER_OK;
}

/* V must be a non-empty token; WHAT names it in the error ("header name"). */
static int check_token(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		       const char *what)
{
	char q[QBUF];

	if (check_text(w, k, v) != VEER_OK)
		return VEER_ERR;
	if (veer_cfg_is_token(v->text, v->len))
		return VEER_OK;
	veer_cfg_error(w, v->mark, "%s: bad %s %s (%s)", v->cpath, what, Q(q, v),
		       VEER_CFG_TOKEN_HINT);
	return VEER_ERR;
}

/* A header name (version.header, request_headers.remove[]): a token; with
 * F_MANAGED, none of the headers veer manages. */
static int set_header_name(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			   void *base)
{
	char q[QBUF];

	if (check_token(w, k, v, "header name") != VEER_OK)
		return VEER_ERR;
	if ((k->flags & F_MANAGED) && veer_cfg_is_managed_header(v->text)) {
		veer_cfg_error(w, v->mark, "%s: %s cannot be removed (veer manages %s)", v->cpath,
			       Q(q, v), VEER_CFG_MANAGED_TEXT);
		return VEER_ERR;
	}
	store_str(k, base, v->text, v->len);
	return VEER_OK;
}

/* RFC 9110 section 9.1: a method is a token.  Stored upper-case, as
 * clients send the standard ones. */
static int set_method(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		      void *base)
{
	char **p = slot(k, base);

	if (check_token(w, k, v, "method") != VEER_OK)
		return VEER_ERR;
	if (p != NULL) {
		free(*p);
		*p = veer_cfg_case_dup(v->text, v->len, true);
	}
	return VEER_OK;
}

/* "api.example.com" (exact) or "*.example.com" (any name below
 * example.com, stored as ".example.com" with match_host_wildcard set);
 * stored lower-case, as host names compare case-insensitively. */
static int set_match_host(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			  void *base)
{
	struct veer_route_conf *r = base;
	const char *h = v->text;
	size_t len = v->len;
	bool wild = false;
	char q[QBUF];

	if (check_text(w, k, v) != VEER_OK)
		return VEER_ERR;
	if (strncmp(h, "*.", 2) == 0)
		wild = true, h++, len--; /* keep the dot: ".example.com" */
	if (strchr(h, '*') != NULL || (wild && (len < 2 || h[1] == '.'))) {
		veer_cfg_error(w, v->mark,
			       "%s: bad wildcard host %s (only a leading \"*.\" is allowed, "
			       "like *.example.com)",
			       v->cpath, Q(q, v));
		return VEER_ERR;
	}
	if (strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]") !=
	    len) {
		veer_cfg_error(w, v->mark, "%s: bad host %s", v->cpath, Q(q, v));
		return VEER_ERR;
	}
	if (r != NULL) {
		free(r->match_host);
		r->match_host = veer_cfg_case_dup(h, len, false);
		r->match_host_wildcard = wild;
	}
	return VEER_OK;
}

/* pools[].version: a full semantic version, parsed once at load.  The
 * parsed form points into the copy the pool owns. */
static int set_version(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		       void *base)
{
	struct veer_pool_conf *p = base;
	struct veer_semver sv;
	char q[QBUF];

	if (check_text(w, k, v) != VEER_OK)
		return VEER_ERR;
	if (veer_semver_parse(v->text, v->len, &sv) != VEER_OK) {
		veer_cfg_error(w, v->mark, "%s: bad semantic version %s", v->cpath, Q(q, v));
		return VEER_ERR;
	}
	if (p == NULL)
		return VEER_OK;
	free(p->version);
	p->version = veer_xstrndup(v->text, v->len);
	if (veer_semver_parse(p->version, v->len, &p->semver) != VEER_OK)
		assert(!"a version parsed once parses again");
	return VEER_OK;
}

/* routes[].sticky.header and routes[].sticky.cookie: a header name or a
 * cookie name (RFC 6265 section 4.1.1: a token too).  That both are given
 * is reported by the checks across keys. */
static int set_sticky(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		      void *base)
{
	struct veer_route_conf *r = base;
	bool cookie = strcmp(strrchr(k->path, '.'), ".cookie") == 0;

	if (check_token(w, k, v, cookie ? "cookie name" : "header name") != VEER_OK)
		return VEER_ERR;
	if (r != NULL) {
		r->sticky = cookie ? VEER_STICKY_COOKIE : VEER_STICKY_HEADER;
		free(r->sticky_name);
		r->sticky_name = veer_xstrndup(v->text, v->len);
	}
	return VEER_OK;
}

/* A path that goes into a request line or is compared with one
 * (match.path_prefix, health_check.path): "/" first, then visible ASCII
 * only (RFC 9112 section 3.2: no spaces or controls in a request target). */
static int set_path(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		    void *base)
{
	char q[QBUF];

	if (check_text(w, k, v) != VEER_OK)
		return VEER_ERR;
	if (v->text[0] != '/') {
		veer_cfg_error(w, v->mark, "%s: must start with \"/\", got %s", v->cpath, Q(q, v));
		return VEER_ERR;
	}
	for (size_t i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->text[i];
		if (c <= 0x20 || c >= 0x7f) {
			veer_cfg_error(w, v->mark,
				       "%s: bad path %s (no spaces or control characters; "
				       "percent-encode the rest)",
				       v->cpath, Q(q, v));
			return VEER_ERR;
		}
	}
	return set_generic(w, k, v, base);
}

/* routes[].rate_limit.key: client_ip, route or header:NAME (a token). */
static int set_rl_key(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
		      void *base)
{
	struct veer_ratelimit_conf *rl = slot(k, base);
	enum veer_ratelimit_key key;
	const char *name = NULL;
	char q[QBUF];

	if (strcmp(v->text, "client_ip") == 0) {
		key = VEER_RLKEY_CLIENT_IP;
	} else if (strcmp(v->text, "route") == 0) {
		key = VEER_RLKEY_ROUTE;
	} else if (strncmp(v->text, "header:", 7) == 0 &&
		   veer_cfg_is_token(v->text + 7, v->len - 7)) {
		key = VEER_RLKEY_HEADER;
		name = v->text + 7;
	} else {
		veer_cfg_error(w, v->mark,
			       "%s: bad value %s (expected client_ip, header:NAME or route)",
			       v->cpath, Q(q, v));
		return VEER_ERR;
	}
	if (rl != NULL) {
		rl->key = key;
		free(rl->key_header);
		rl->key_header = name != NULL ? veer_xstrdup(name) : NULL;
	}
	return VEER_OK;
}

static int set_respond_body(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			    void *base)
{
	struct veer_route_conf *r = base;

	/* The body may hold any bytes, NUL included: keep the length. */
	free(r->respond_body);
	r->respond_body = veer_xmalloc(v->len + 1);
	memcpy(r->respond_body, v->text, v->len);
	r->respond_body[v->len] = '\0';
	r->respond_body_len = v->len;
	return VEER_OK;
}

/* Largest admin token file read. */
#define TOKEN_FILE_MAX 4096

/* global.admin.token_file: read the token now, so that a missing or empty
 * file is an error at its line, not a surprise at the first admin call.
 * The token is stored trimmed of surrounding whitespace; it must be one
 * run of visible characters (it travels in an Authorization header). */
static int set_token_file(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			  void *base)
{
	struct veer_config *c = base;
	char buf[TOKEN_FILE_MAX + 1], q[QBUF];
	const char *why = NULL;
	size_t n = 0, a, b;
	FILE *f;
	int rc = VEER_ERR;

	if (check_text(w, k, v) != VEER_OK)
		return VEER_ERR;
	f = fopen(v->text, "rb");
	if (f == NULL) {
		veer_cfg_error(w, v->mark, "%s: cannot read %s: %s", v->cpath, Q(q, v),
			       strerror(errno));
		return VEER_ERR;
	}
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f))
		why = strerror(errno);
	fclose(f);
	for (a = 0; a < n && isspace((unsigned char)buf[a]); a++)
		;
	for (b = n; b > a && isspace((unsigned char)buf[b - 1]); b--)
		;
	if (why == NULL && n > TOKEN_FILE_MAX)
		why = "too large (a token is at most 4096 bytes)";
	else if (why == NULL && a == b)
		why = "the file is empty";
	for (size_t i = a; why == NULL && i < b; i++)
		if (buf[i] <= 0x20 || buf[i] == 0x7f)
			why = "the token must be one word of visible characters";
	if (why != NULL) {
		veer_cfg_error(w, v->mark, "%s: %s: %s", v->cpath, Q(q, v), why);
		goto out;
	}
	if (c != NULL) {
		store_str(k, base, v->text, v->len);
		veer_cfg_free_secret(&c->global.admin_token);
		c->global.admin_token = veer_xstrndup(buf + a, b - a);
	}
	rc = VEER_OK;
out:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* listeners[].tls.min_version: "1.2" or "1.3", stored as 12 or 13. */
static int set_tls_version(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			   void *base)
{
	int *p = slot(k, base);
	int i = choice_index(k, v->text);

	if (i < 0)
		return set_generic(w, k, v, NULL); /* reports the error */
	assert(p == NULL || k->width == sizeof(*p));
	if (p != NULL)
		*p = 12 + i;
	return VEER_OK;
}

/* pools[].tls.server_name: a DNS name (letters, digits, "-", "_" and
 * dots) or an IP address, as sent in SNI and checked in certificates. */
static int set_server_name(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			   void *base)
{
	unsigned char ip[16];
	char q[QBUF];

	if (check_text(w, k, v) != VEER_OK)
		return VEER_ERR;
	if (inet_pton(AF_INET, v->text, ip) != 1 && inet_pton(AF_INET6, v->text, ip) != 1 &&
	    (v->len > 253 || v->text[0] == '.' || v->text[0] == '-' ||
	     strstr(v->text, "..") != NULL ||
	     strspn(v->text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
		     v->len)) {
		veer_cfg_error(w, v->mark, "%s: bad server name %s (a host name or an IP address)",
			       v->cpath, Q(q, v));
		return VEER_ERR;
	}
	store_str(k, base, v->text, v->len);
	return VEER_OK;
}

/* pools[].discovery.dns.name: a DNS name, labels of letters, digits, "-"
 * and "_" (SRV names start with "_service._proto"), 1..63 bytes each, at
 * most 253 in all; one trailing dot allowed. */
static int set_dns_name(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			void *base)
{
	size_t len = v->len, label = 0;
	bool ok;
	char q[QBUF];

	if (check_text(w, k, v) != VEER_OK)
		return VEER_ERR;
	if (len > 1 && v->text[len - 1] == '.')
		len--;
	ok = len <= 253 && v->text[0] != '.';
	for (size_t i = 0; ok && i < len; i++) {
		char c = v->text[i];
		if (c == '.') {
			ok = label > 0;
			label = 0;
			continue;
		}
		ok = ++label <= 63 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				       (c >= '0' && c <= '9') || c == '-' || c == '_');
	}
	if (!ok || label == 0) {
		veer_cfg_error(w, v->mark,
			       "%s: bad DNS name %s (labels of letters, digits, \"-\" and \"_\", "
			       "separated by dots)",
			       v->cpath, Q(q, v));
		return VEER_ERR;
	}
	store_str(k, base, v->text, v->len);
	return VEER_OK;
}

/* pools[].discovery.dns.resolvers[]: IP:PORT, [IPv6]:PORT or a bare IP. */
static int set_resolver(struct veer_cfg_walk *w, const struct key *k, const struct scalar *v,
			void *base)
{
	struct veer_addr a;
	char why[160], q[QBUF];

	if (check_text(w, k, v) != VEER_OK)
		return VEER_ERR;
	if (veer_parse_resolver(v->text, &a, why, sizeof(why)) != VEER_OK) {
		veer_cfg_error(w, v->mark, "%s: bad resolver %s: %s", v->cpath, Q(q, v), why);
		return VEER_ERR;
	}
	store_str(k, base, v->text, v->len);
	return VEER_OK;
}

/* ---- the table --------------------------------------------------------- */

#define YES true
#define NOT_YET false
#define K(p, t, sup, ...)                                                 \
	{                                                                 \
		.path = (p), .type = (t), .supported = (sup), __VA_ARGS__ \
	}
#define AT(T, m) .off = offsetof(T, m), .width = sizeof(((T *)0)->m)
#define LIST(T, arr, cnt, E) AT(T, arr), .count_off = offsetof(T, cnt), .elem_size = sizeof(E)
#define CFG(m) AT(struct veer_config, m)
#define LIS(m) AT(struct veer_listener_conf, m)
#define POOL(m) AT(struct veer_pool_conf, m)
#define SRV(m) AT(struct veer_server_conf, m)
#define RT(m) AT(struct veer_route_conf, m)
#define SPL(m) AT(struct veer_split_entry, m)
#define TLSC(m) AT(struct veer_tls_cert_conf, m)
#define RANGE(a, b) .min = (a), .max = (b)
#define SEC 1000u
#define DAY (86400u * SEC)
#define NOLIMIT UINT64_MAX

static const struct key keys[] = {
	K("global", T_MAP, YES, .doc = "process-wide settings"),
	K("global.workers", T_INT, YES, .flags = F_AUTO, RANGE(1, 256), .def = "auto",
	  CFG(global.workers), .set = set_workers,
	  .doc = "event-loop threads; auto = one per online CPU"),
	K("global.max_connections", T_INT, YES, RANGE(1, 1000000), .def = "20000",
	  CFG(global.max_connections), .doc = "client connections, whole process"),
	K("global.drain_timeout", T_DURATION, YES, RANGE(0, DAY), .def = "30s",
	  CFG(global.drain_timeout), .doc = "graceful stop and old-generation drain bound"),
	K("global.expose_headers", T_BOOL, YES, .def = "true", CFG(global.expose_headers),
	  .doc = "add X-Veer-Pool and X-Veer-Version to proxied responses"),
	K("global.user", T_STRING, YES, CFG(global.user),
	  .doc = "drop root to this user after binding; absent = stay"),
	K("global.log", T_MAP, YES, .doc = "logging"),
	K("global.log.level", T_ENUM, YES, .choices = "error|warn|info|debug", .def = "info",
	  CFG(global.log_level), .doc = "error log verbosity"),
	K("global.log.error", T_STRING, YES, .def = "stderr", CFG(global.log_error),
	  .doc = "error log: a file path or stderr"),
	K("global.log.access", T_STRING, YES, .def = "off", CFG(global.log_access),
	  .set = set_log_access,
	  .doc = "access log: off, stdout or a file path (opened for append; SIGUSR1 "
		 "reopens it)"),
	/* Ordered so that the index is the value of access_json. */
	K("global.log.access_format", T_ENUM, YES, .choices = "combined|json", .def = "json",
	  CFG(global.access_json), .doc = "access log line format"),
	K("global.redis", T_MAP, YES, .flags = F_SECTION, CFG(global.redis_enabled),
	  .doc = "shared state for a fleet of veer instances (rate_limit.scope: global); "
		 "one connection per worker"),
	K("global.redis.address", T_ADDR, YES, .flags = F_REQ, CFG(global.redis_addr),
	  .doc = "Redis host:port (a name is resolved at load)"),
	K("global.redis.timeout", T_DURATION, YES, RANGE(1, 60000), .def = "50ms",
	  CFG(global.redis_timeout), .doc = "longest wait for Redis on a request"),
	/* Ordered so that the index is the value of redis_deny. */
	K("global.redis.on_error", T_ENUM, YES, .choices = "allow|deny", .def = "allow",
	  CFG(global.redis_deny),
	  .doc = "when Redis is down, slow or fails: allow (fail open) or deny (fail closed, "
		 "503)"),
	K("global.admin", T_MAP, YES, .flags = F_SECTION, CFG(global.admin_enabled),
	  .doc = "admin API, /metrics and dashboard, served by the control loop; absent = "
		 "none"),
	K("global.admin.listen", T_ADDR, YES, .flags = F_REQ, CFG(global.admin_addr),
	  .doc = "admin host:port; port 0 = any free port (logged as \"admin on ADDR:PORT\"); "
		 "a change takes a restart"),
	K("global.admin.token_file", T_STRING, YES, CFG(global.admin_token_file),
	  .set = set_token_file,
	  .doc = "file holding the bearer token that mutating calls (PUT, POST) need, read at "
		 "load and on each reload (whitespace around it is ignored); absent = no token"),

	K("listeners", T_LIST, YES,
	  LIST(struct veer_config, listeners, nlisteners, struct veer_listener_conf),
	  .doc = "where clients connect; at least one"),
	K("listeners[].name", T_STRING, YES, .flags = F_REQ, LIS(name), .set = set_name,
	  .doc = "unique listener name"),
	K("listeners[].listen", T_ADDR, YES, .flags = F_REQ, LIS(addr),
	  .doc = "host:port, [v6]:port or *:port; port 0 = any free port"),
	K("listeners[].tls", T_MAP, YES, .flags = F_SECTION, LIS(tls.enabled),
	  .doc = "present = HTTPS on this listener: Mozilla intermediate ciphers, ALPN "
		 "http/1.1, session resumption (cache and tickets); absent = plain HTTP"),
	K("listeners[].tls.certificates", T_LIST, YES, .flags = F_REQ,
	  LIST(struct veer_listener_conf, tls.certs, tls.ncerts, struct veer_tls_cert_conf),
	  .doc = "at least one; read and checked at load and on each reload (a missing file, a "
		 "key that does not match, an expired certificate are errors); SNI picks the "
		 "first whose subjectAltName DNS names (else CN) match, exact before "
		 "*.example.com (one label); the first serves clients without SNI or with an "
		 "unknown name"),
	K("listeners[].tls.certificates[].cert", T_STRING, YES, .flags = F_REQ, TLSC(cert),
	  .doc = "PEM certificate file: the certificate, then its intermediates"),
	K("listeners[].tls.certificates[].key", T_STRING, YES, .flags = F_REQ, TLSC(key),
	  .doc = "PEM private key file (RSA or ECDSA; not encrypted)"),
	K("listeners[].tls.min_version", T_ENUM, YES, .choices = "1.2|1.3", .def = "1.2",
	  LIS(tls.min_version), .set = set_tls_version, .doc = "oldest TLS version accepted"),
	K("listeners[].timeouts", T_MAP, YES, .doc = "client-side timeouts"),
	K("listeners[].timeouts.header", T_DURATION, YES, RANGE(1, DAY), .def = "10s",
	  LIS(header_timeout), .doc = "first byte to end of the request headers (then 408)"),
	K("listeners[].timeouts.idle", T_DURATION, YES, RANGE(1, DAY), .def = "75s",
	  LIS(idle_timeout), .doc = "keep-alive wait for the next request"),
	K("listeners[].timeouts.body", T_DURATION, YES, RANGE(1, DAY), .def = "60s",
	  LIS(body_timeout), .doc = "longest wait between two reads of a request body"),
	K("listeners[].limits", T_MAP, YES, .doc = "request size limits"),
	K("listeners[].limits.header_bytes", T_SIZE, YES, RANGE(1024, 1024 * 1024), .def = "32k",
	  LIS(header_bytes), .doc = "request line and headers (then 431)"),
	K("listeners[].limits.headers", T_INT, YES, RANGE(1, 1000), .def = "100", LIS(max_headers),
	  .doc = "number of request headers (then 431)"),
	K("listeners[].limits.body_bytes", T_SIZE, YES, RANGE(0, NOLIMIT), .def = "100m",
	  LIS(body_bytes), .doc = "request body (then 413); 0 = no limit"),
	K("listeners[].routes", T_STRLIST, YES, .flags = F_DOCDEF,
	  .def = "all routes, in file order", .set = set_name,
	  .doc = "names of the routes tried on this listener, in this order"),

	K("pools", T_LIST, YES, LIST(struct veer_config, pools, npools, struct veer_pool_conf),
	  .doc = "groups of upstream servers"),
	K("pools[].name", T_STRING, YES, .flags = F_REQ, POOL(name), .set = set_name,
	  .doc = "unique pool name"),
	K("pools[].version", T_STRING, YES, POOL(version), .set = set_version,
	  .doc = "semantic version (semver.org 2.0, e.g. 1.8.3 or 2.0.0-rc.1) of what this pool "
		 "runs; needed by routes[].version"),
	K("pools[].balance", T_ENUM, YES, .choices = "round_robin|least_conn|p2c|random|hash",
	  .def = "round_robin", POOL(balance), .doc = "round_robin is smooth weighted round robin"),
	K("pools[].hash_on", T_STRING, YES, .set = set_hash_on,
	  .doc = "with balance: hash; header:NAME, cookie:NAME, client_ip or path"),
	K("pools[].servers", T_LIST, YES,
	  LIST(struct veer_pool_conf, servers, nservers, struct veer_server_conf),
	  .doc = "upstream servers; at least one"),
	K("pools[].servers[].address", T_ADDR, YES, .flags = F_REQ, .set = set_server_address,
	  .doc = "host:port; a host name is resolved at load (first address)"),
	K("pools[].servers[].weight", T_INT, YES, RANGE(0, 1000), .def = "1", SRV(weight),
	  .doc = "relative share of requests; 0 = none"),
	K("pools[].tls", T_MAP, YES, .flags = F_SECTION, POOL(tls.enabled),
	  .doc = "TLS to the servers, TLS 1.2 or later, ALPN http/1.1, certificates verified "
		 "(a failure is a 502 and a breaker failure); absent = plain HTTP"),
	K("pools[].tls.ca", T_STRING, YES, .flags = F_DOCDEF, .def = "system store", POOL(tls.ca),
	  .doc = "PEM file of the CA certificates the servers are verified against"),
	K("pools[].tls.server_name", T_STRING, YES, .flags = F_DOCDEF, .def = "each server's host",
	  POOL(tls.server_name), .set = set_server_name,
	  .doc = "name sent as SNI and checked against the servers' certificates; an IP "
		 "address (also an address's host) is checked and not sent"),
	K("pools[].discovery", T_MAP, YES, .flags = F_SECTION, POOL(discovery.enabled),
	  .doc = "endpoints found at runtime, added to servers (which may then be empty or "
		 "absent); one of dns or file. A failed lookup, an empty answer or a broken file "
		 "keeps the last good set"),
	K("pools[].discovery.dns", T_MAP, YES, .flags = F_SECTION, POOL(discovery.dns),
	  .doc = "DNS discovery, re-resolved in the background"),
	K("pools[].discovery.dns.name", T_STRING, YES, .flags = F_REQ, POOL(discovery.dns_name),
	  .set = set_dns_name, .doc = "name to resolve (_http._tcp.api.service.consul)"),
	K("pools[].discovery.dns.type", T_ENUM, YES, .choices = "SRV|A|AAAA", .def = "SRV",
	  POOL(discovery.dns_type),
	  .doc = "SRV gives port and weight (lowest priority only); A and AAAA need port"),
	K("pools[].discovery.dns.port", T_INT, YES, RANGE(1, 65535), POOL(discovery.dns_port),
	  .doc = "server port for A and AAAA answers (required there)"),
	K("pools[].discovery.dns.resolvers", T_STRLIST, YES, .flags = F_DOCDEF,
	  .def = "the nameservers of /etc/resolv.conf",
	  LIST(struct veer_pool_conf, discovery.dns_resolvers, discovery.ndns_resolvers, char *),
	  .set = set_resolver, .doc = "DNS servers, IP:PORT (or IP for port 53)"),
	K("pools[].discovery.dns.refresh", T_DURATION, YES, RANGE(SEC, DAY), .def = "5s",
	  POOL(discovery.dns_refresh),
	  .doc = "re-resolve interval; sooner when the records' TTL is shorter (at least 1s "
		 "apart)"),
	K("pools[].discovery.file", T_STRING, YES, POOL(discovery.file),
	  .doc = "YAML list of {address, weight}, checked every second and re-read when it "
		 "changes (atomic rename works); a relative path is relative to the config file"),
	K("pools[].keepalive", T_MAP, YES, .doc = "upstream connection reuse"),
	K("pools[].keepalive.max_idle", T_INT, YES, RANGE(0, 100000), .def = "64",
	  POOL(keepalive_max_idle), .doc = "idle upstream connections kept; 0 = no reuse"),
	K("pools[].keepalive.idle_timeout", T_DURATION, YES, RANGE(1, DAY), .def = "60s",
	  POOL(keepalive_idle_timeout), .doc = "close an idle upstream connection after this"),
	K("pools[].timeouts", T_MAP, YES, .doc = "upstream timeouts"),
	K("pools[].timeouts.connect", T_DURATION, YES, RANGE(1, DAY), .def = "5s",
	  POOL(connect_timeout), .doc = "TCP connect to a server"),
	K("pools[].timeouts.response", T_DURATION, YES, RANGE(1, DAY), .def = "60s",
	  POOL(response_timeout), .doc = "request sent to response headers received (then 504)"),
	K("pools[].health_check", T_MAP, YES, .flags = F_SECTION, POOL(health.enabled),
	  .doc = "active HTTP health checks of each server, from the control loop; absent = "
		 "none"),
	K("pools[].health_check.path", T_STRING, YES, .def = "/healthz", POOL(health.path),
	  .set = set_path,
	  .doc = "request target probed with GET; starts with /, no spaces or control "
		 "characters"),
	K("pools[].health_check.interval", T_DURATION, YES, RANGE(100, DAY), .def = "2s",
	  POOL(health.interval), .doc = "time between two probes of a server"),
	K("pools[].health_check.timeout", T_DURATION, YES, RANGE(1, DAY), .def = "1s",
	  POOL(health.timeout), .doc = "probe timeout (a failure); not above interval"),
	K("pools[].health_check.rise", T_INT, YES, RANGE(1, 100), .def = "2", POOL(health.rise),
	  .doc = "passes in a row that make an unhealthy server healthy"),
	K("pools[].health_check.fall", T_INT, YES, RANGE(1, 100), .def = "3", POOL(health.fall),
	  .doc = "failures in a row that make a healthy server unhealthy"),
	K("pools[].circuit_breaker", T_MAP, YES, .flags = F_SECTION, POOL(breaker.enabled),
	  .doc = "per-server circuit breaker: an open server gets no requests; failures are "
		 "connect errors, resets, timeouts and 5xx responses; absent = none"),
	K("pools[].circuit_breaker.consecutive_failures", T_INT, YES, RANGE(0, 1000000), .def = "5",
	  POOL(breaker.consecutive_failures),
	  .doc = "open after this many failures in a row; 0 = rule off"),
	K("pools[].circuit_breaker.failure_rate", T_PERCENT, YES, RANGE(0, 100), .def = "50%",
	  POOL(breaker.failure_rate),
	  .doc = "or open when failures/requests in the window reach this; 0% = rule off (not "
		 "both rules off)"),
	K("pools[].circuit_breaker.window", T_DURATION, YES, RANGE(SEC, DAY), .def = "10s",
	  POOL(breaker.window), .doc = "sliding window of the failure rate"),
	K("pools[].circuit_breaker.min_requests", T_INT, YES, RANGE(1, 1000000), .def = "20",
	  POOL(breaker.min_requests), .doc = "requests in the window the rate rule needs"),
	K("pools[].circuit_breaker.open_for", T_DURATION, YES, RANGE(1, DAY), .def = "30s",
	  POOL(breaker.open_for), .doc = "time open before half-open (longer on repeated trips)"),
	K("pools[].circuit_breaker.probe_requests", T_INT, YES, RANGE(1, 1000), .def = "3",
	  POOL(breaker.probe_requests),
	  .doc = "requests let through when half-open; success closes, failure reopens"),
	K("pools[].circuit_breaker.max_pending", T_INT, YES, RANGE(0, 1000000), .def = "1024",
	  POOL(breaker.max_pending),
	  .doc = "whole-pool bound on requests waiting for a connection (then 503); 0 = no "
		 "bound"),
	K("pools[].retries", T_MAP, YES, .flags = F_SECTION, POOL(retries.enabled),
	  .doc = "retries of failed upstream requests, only before any response byte reached "
		 "the client, only idempotent methods unless the connect failed; absent = none"),
	K("pools[].retries.attempts", T_INT, YES, RANGE(1, 10), .def = "3", POOL(retries.attempts),
	  .doc = "tries in all, the first included"),
	K("pools[].retries.on", T_FLAGS, YES, .def = "connect_failure",
	  .choices = "connect_failure|reset|timeout|502|503|504", .what = "condition",
	  POOL(retries.on), .doc = "failures that are retried; at least one"),
	K("pools[].retries.per_try_timeout", T_DURATION, YES, RANGE(1, DAY), .flags = F_DOCDEF,
	  .def = "timeouts.response", POOL(retries.per_try_timeout),
	  .doc = "response timeout of each try"),
	K("pools[].retries.backoff", T_MAP, YES,
	  .doc = "wait before a retry: exponential, with full jitter"),
	K("pools[].retries.backoff.base", T_DURATION, YES, RANGE(1, DAY), .def = "25ms",
	  POOL(retries.backoff_base), .doc = "first backoff"),
	K("pools[].retries.backoff.max", T_DURATION, YES, RANGE(1, DAY), .def = "250ms",
	  POOL(retries.backoff_max), .doc = "largest backoff; not below base"),
	K("pools[].retries.budget", T_PERCENT, YES, RANGE(0, 100), .def = "20%",
	  POOL(retries.budget),
	  .doc = "retries in flight never exceed this share of requests in flight (min 3)"),
	K("pools[].rate_limit", T_MAP, YES, .flags = F_SECTION, POOL(rate_limit.enabled),
	  .doc = "one token bucket for the whole pool (then 429); absent = no limit"),
	K("pools[].rate_limit.rate", T_RATE, YES, .flags = F_REQ, POOL(rate_limit.rate),
	  .doc = "refill rate: N/s, N/m or N/h"),
	K("pools[].rate_limit.burst", T_INT, YES, RANGE(0, 1000000), .def = "0",
	  POOL(rate_limit.burst),
	  .doc = "bucket size: requests admitted at once; 0 = the rate per second rounded up "
		 "(at least 1)"),

	K("routes", T_LIST, YES, LIST(struct veer_config, routes, nroutes, struct veer_route_conf),
	  .doc = "tried in order; the first that matches wins (else 404)"),
	K("routes[].name", T_STRING, YES, .flags = F_REQ, RT(name), .set = set_name,
	  .doc = "unique route name"),
	K("routes[].match", T_MAP, YES,
	  .doc = "conditions that must all hold; absent = every request"),
	K("routes[].match.host", T_STRING, YES, RT(match_host), .set = set_match_host,
	  .doc = "request host, exact (api.example.com) or a leading wildcard (*.example.com: any "
		 "name below example.com); case-insensitive"),
	K("routes[].match.path_prefix", T_STRING, YES, RT(match_path_prefix), .set = set_path,
	  .doc = "path starts with this; must begin with /"),
	K("routes[].match.methods", T_STRLIST, YES,
	  LIST(struct veer_route_conf, match_methods, nmatch_methods, char *), .set = set_method,
	  .doc = "request method is one of these (tokens, upper-cased at load)"),
	K("routes[].match.headers", T_STRMAP, YES,
	  LIST(struct veer_route_conf, match_headers, nmatch_headers, struct veer_header_kv),
	  .doc = "request has each of these headers with exactly this value (names "
		 "case-insensitive)"),
	K("routes[].version", T_MAP, YES,
	  .doc = "choose a pool by a version header, before the action; no header = the action"),
	K("routes[].version.header", T_STRING, YES, .flags = F_REQ, RT(version_header),
	  .set = set_header_name, .doc = "header holding a version or a node-semver range"),
	K("routes[].version.pools", T_STRLIST, YES, .flags = F_REQ, .set = set_name,
	  .doc = "1 to 64 pools on offer, each with a version (all different); the highest "
		 "version that satisfies wins"),
	K("routes[].version.on_mismatch", T_ENUM, YES, .choices = "reject|fallback",
	  .def = "reject", RT(on_mismatch),
	  .doc = "no pool satisfies: 400 listing the versions, or the route's action"),
	K("routes[].pool", T_STRING, YES, .set = set_name, .doc = "action: proxy to this pool"),
	K("routes[].split", T_LIST, YES,
	  LIST(struct veer_route_conf, split, nsplit, struct veer_split_entry),
	  .doc = "action: weighted canary split between pools; 1 to 64 entries, each pool once"),
	K("routes[].split[].pool", T_STRING, YES, .flags = F_REQ, .set = set_name,
	  .doc = "pool name"),
	K("routes[].split[].weight", T_INT, YES, .flags = F_REQ, RANGE(0, 10000), SPL(weight),
	  .doc = "relative weight; 0 sends nothing; the weights must not all be 0"),
	K("routes[].blue_green", T_MAP, YES, .doc = "action: all traffic to the active pool"),
	K("routes[].blue_green.blue", T_STRING, YES, .flags = F_REQ, .set = set_name,
	  .doc = "pool name"),
	K("routes[].blue_green.green", T_STRING, YES, .flags = F_REQ, .set = set_name,
	  .doc = "pool name, not the blue one"),
	K("routes[].blue_green.active", T_ENUM, YES, .flags = F_REQ, .choices = "blue|green",
	  RT(green_active), .doc = "which one gets the traffic"),
	K("routes[].sticky", T_MAP, YES,
	  .doc = "with split: keep each key on one pool; exactly one of header or cookie "
		 "(requests without the key get the plain weighted choice)"),
	K("routes[].sticky.header", T_STRING, YES, .set = set_sticky,
	  .doc = "key from this request header"),
	K("routes[].sticky.cookie", T_STRING, YES, .set = set_sticky,
	  .doc = "key from this cookie"),
	K("routes[].rate_limit", T_MAP, YES, .flags = F_SECTION, RT(rate_limit.enabled),
	  .doc = "token buckets for this route (then 429), one per key; absent = no limit"),
	K("routes[].rate_limit.rate", T_RATE, YES, .flags = F_REQ, RT(rate_limit.rate),
	  .doc = "refill rate: N/s, N/m or N/h"),
	K("routes[].rate_limit.burst", T_INT, YES, RANGE(0, 1000000), .def = "0",
	  RT(rate_limit.burst),
	  .doc = "bucket size: requests admitted at once; 0 = the rate per second rounded up "
		 "(at least 1)"),
	K("routes[].rate_limit.key", T_STRING, YES, .def = "client_ip", RT(rate_limit),
	  .set = set_rl_key,
	  .doc = "a bucket per client address (client_ip), per value of a request header "
		 "(header:NAME), or one for the route (route)"),
	K("routes[].rate_limit.scope", T_ENUM, YES, .choices = "local|global", .def = "local",
	  RT(rate_limit.global),
	  .doc = "local: this instance's buckets; global: one bucket per key for all "
		 "instances, kept in Redis (needs global.redis)"),
	K("routes[].request_headers", T_MAP, YES,
	  .doc = "rewrite request headers sent upstream; Host, Content-Length, "
		 "Transfer-Encoding and Connection are veer's and can be neither set nor removed"),
	K("routes[].request_headers.set", T_STRMAP, YES, .flags = F_MANAGED,
	  LIST(struct veer_route_conf, set_headers, nset_headers, struct veer_header_kv),
	  .doc = "headers to set, replacing any the client sent (values without CR, LF or NUL)"),
	K("routes[].request_headers.remove", T_STRLIST, YES, .flags = F_MANAGED,
	  LIST(struct veer_route_conf, remove_headers, nremove_headers, char *),
	  .set = set_header_name, .doc = "headers to remove"),
	K("routes[].respond", T_MAP, YES, .doc = "action: answer directly, no upstream"),
	K("routes[].respond.status", T_INT, YES, .flags = F_REQ, RANGE(100, 599),
	  RT(respond_status), .doc = "status code"),
	K("routes[].respond.body", T_STRING, YES, .flags = F_EMPTY, .def = "",
	  .set = set_respond_body, .doc = "response body"),
};

#define NKEYS VEER_ARRAY_LEN(keys)

static const struct key *key_find(const char *path)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	return NULL;
}

static const char *last_part(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot != NULL ? dot + 1 : path;
}

/* True when PATH is directly inside the mapping at PARENT ("" = top). */
static bool is_child(const char *path, const char *parent)
{
	size_t pl = strlen(parent);

	if (pl == 0)
		return strchr(path, '.') == NULL;
	return strncmp(path, parent, pl) == 0 && path[pl] == '.' &&
	       strchr(path + pl + 1, '.') == NULL;
}

/* The owner of PATH: the path of the innermost list element holding it
 * ("pools[].servers[]"), or "" for the config itself. */
static void owner_of(const char *path, char *buf, size_t n)
{
	const char *p = path, *last = NULL;

	while ((p = strstr(p, "[]")) != NULL)
		last = p += 2;
	snprintf(buf, n, "%.*s", last != NULL ? (int)(last - path) : 0, path);
}

/* A key is in effect when it and every enclosing key are supported. */
static bool key_in_effect(const struct key *k)
{
	char p[128];
	const struct key *a;
	char *cut;
	size_t len;

	snprintf(p, sizeof(p), "%s", k->path);
	for (;;) {
		a = key_find(p);
		if (a != NULL && !a->supported)
			return false;
		len = strlen(p);
		if (len > 2 && strcmp(p + len - 2, "[]") == 0) {
			p[len - 2] = '\0';
			continue;
		}
		cut = strrchr(p, '.');
		if (cut == NULL)
			return true;
		*cut = '\0';
	}
}

int veer_cfg_choice_index(const char *path, const char *s)
{
	const struct key *k = key_find(path);

	assert(k != NULL);
	return choice_index(k, s);
}

bool veer_cfg_key_supported(const char *path)
{
	const struct key *k = key_find(path);

	return k != NULL && k->supported;
}

/* ---- the walk ---------------------------------------------------------- */

/* snprintf for paths; a path too long for its buffer is only clipped. */
static void pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void pathf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

static void type_error(struct veer_cfg_walk *w, const struct key *k, const yaml_node_t *n,
		       const char *cpath)
{
	char t[160], g[QBUF];

	veer_cfg_error(w, &n->start_mark, "%s: expected %s, got %s", cpath,
		       type_name(t, sizeof(t), k), veer_cfg_kind(g, sizeof(g), n));
}

/* The innermost F_SECTION key enclosing K within its owner, or NULL. */
static const struct key *section_of(const struct key *k)
{
	char p[128];
	const struct key *a;
	char *cut;

	snprintf(p, sizeof(p), "%s", k->path);
	while ((cut = strrchr(p, '.')) != NULL) {
		*cut = '\0';
		if (cut - p >= 2 && strcmp(cut - 2, "[]") == 0)
			return NULL;
		a = key_find(p);
		if (a != NULL && (a->flags & F_SECTION))
			return a;
	}
	return NULL;
}

/* Apply the defaults of every key in effect whose owner is OWNER and that
 * lies in no optional section (SEC NULL), or else of every key in effect
 * inside section SEC (OWNER unused).  BASE is their owner. */
static void apply_defaults(struct veer_cfg_walk *w, const char *owner, const struct key *sec,
			   void *base)
{
	char o[128];

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		struct scalar v;
		if (k->def == NULL || (k->flags & F_DOCDEF) || (k->width == 0 && k->set == NULL))
			continue;
		owner_of(k->path, o, sizeof(o));
		if ((sec == NULL && strcmp(o, owner) != 0) || section_of(k) != sec ||
		    !key_in_effect(k))
			continue;
		v.text = k->def;
		v.len = strlen(k->def);
		v.mark = NULL;
		v.cpath = k->path;
		set_value(w, k, &v, base);
	}
}

static void walk_map(struct veer_cfg_walk *w, const yaml_node_t *node, const char *spath,
		     const char *cpath, void *base);

static void walk_list(struct veer_cfg_walk *w, const struct key *k, const yaml_node_t *node,
		      const char *cpath, void *base)
{
	char spath[128], ci[256], g[QBUF];
	size_t n = 0;
	char *arr = NULL;

	if (!veer_cfg_is_null(node)) {
		if (node->type != YAML_SEQUENCE_NODE) {
			type_error(w, k, node, cpath);
			return;
		}
		n = veer_cfg_seq_len(node);
	}
	if (base != NULL && k->width != 0) {
		arr = n != 0 ? veer_xcalloc(n, k->elem_size) : NULL;
		memcpy((char *)base + k->off, &arr, sizeof(arr));
		memcpy((char *)base + k->count_off, &n, sizeof(n));
	}
	pathf(spath, sizeof(spath), "%s[]", k->path);
	for (size_t i = 0; i < n; i++) {
		void *el = arr != NULL ? arr + i * k->elem_size : NULL;
		const yaml_node_t *item = veer_cfg_seq_item(w, node, i);
		if (el != NULL)
			apply_defaults(w, spath, NULL, el);
		pathf(ci, sizeof(ci), "%s[%zu]", cpath, i);
		if (item->type != YAML_MAPPING_NODE)
			veer_cfg_error(w, &item->start_mark, "%s: expected a mapping, got %s", ci,
				       veer_cfg_kind(g, sizeof(g), item));
		else
			walk_map(w, item, spath, ci, el);
	}
}

/* A T_STRLIST (each item a T_STRING whose owner is its slot of the array)
 * or a T_FLAGS (the list replaces the default, each item sets its bit). */
static void walk_strlist(struct veer_cfg_walk *w, const struct key *k, const yaml_node_t *node,
			 const char *cpath, void *base)
{
	char ci[256], g[QBUF];
	struct key item = *k;
	bool flags = k->type == T_FLAGS;
	uint32_t none = 0;
	char **arr = NULL;
	size_t n, cnt = 0;

	if (veer_cfg_is_null(node))
		return;
	if (node->type != YAML_SEQUENCE_NODE) {
		type_error(w, k, node, cpath);
		return;
	}
	n = veer_cfg_seq_len(node);
	if (flags && n == 0) {
		veer_cfg_error(w, &node->start_mark, "%s: at least one %s is needed", cpath,
			       k->what != NULL ? k->what : "value");
		return;
	}
	if (flags && slot(k, base) != NULL)
		memcpy(slot(k, base), &none, sizeof(none));
	if (!flags && base != NULL && k->width != 0 && n != 0) {
		assert(k->width == sizeof(arr));
		arr = veer_xcalloc(n, sizeof(*arr));
		memcpy((char *)base + k->off, &arr, sizeof(arr));
	}
	if (!flags) {
		item.type = T_STRING;
		item.off = 0;
		item.width = arr != NULL ? sizeof(char *) : 0;
	}
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *it = veer_cfg_seq_item(w, node, i);
		struct scalar v;
		void *owner;
		pathf(ci, sizeof(ci), "%s[%zu]", cpath, i);
		if (it->type != YAML_SCALAR_NODE || veer_cfg_is_null(it)) {
			veer_cfg_error(w, &it->start_mark, "%s: expected a string, got %s", ci,
				       veer_cfg_kind(g, sizeof(g), it));
			continue;
		}
		v.text = (const char *)it->data.scalar.value;
		v.len = it->data.scalar.length;
		v.mark = &it->start_mark;
		v.cpath = ci;
		/* a flag sets its bit in the owner; a string fills its slot */
		owner = flags ? base : arr != NULL ? &arr[cnt] : NULL;
		if (set_value(w, &item, &v, owner) == VEER_OK && arr != NULL)
			cnt++;
	}
	if (arr != NULL)
		memcpy((char *)base + k->count_off, &cnt, sizeof(cnt));
}

/* A mapping of header names to values (veer_cfg_header_map()). */
static void walk_strmap(struct veer_cfg_walk *w, const struct key *k, const yaml_node_t *node,
			const char *cpath, void *base)
{
	struct veer_header_kv **kv = slot(k, base);
	size_t n;

	if (veer_cfg_is_null(node))
		return;
	if (node->type != YAML_MAPPING_NODE) {
		type_error(w, k, node, cpath);
		return;
	}
	assert(kv == NULL || k->width == sizeof(*kv));
	n = veer_cfg_header_map(w, node, cpath, (k->flags & F_MANAGED) != 0, kv);
	if (kv != NULL)
		memcpy((char *)base + k->count_off, &n, sizeof(n));
}

static void walk_value(struct veer_cfg_walk *w, const struct key *k, const yaml_node_t *node,
		       const char *cpath, void *base)
{
	struct scalar v;
	bool on = true;

	switch (k->type) {
	case T_MAP:
		if ((k->flags & F_SECTION) && slot(k, base) != NULL) {
			assert(k->width == sizeof(on));
			memcpy(slot(k, base), &on, sizeof(on));
			apply_defaults(w, NULL, k, base);
		}
		walk_map(w, node, k->path, cpath, base);
		return;
	case T_LIST:
		walk_list(w, k, node, cpath, base);
		return;
	case T_STRLIST:
	case T_FLAGS:
		walk_strlist(w, k, node, cpath, base);
		return;
	case T_STRMAP:
		walk_strmap(w, k, node, cpath, base);
		return;
	default:
		break;
	}
	if (node->type != YAML_SCALAR_NODE || veer_cfg_is_null(node)) {
		type_error(w, k, node, cpath);
		return;
	}
	v.text = (const char *)node->data.scalar.value;
	v.len = node->data.scalar.length;
	v.mark = &node->start_mark;
	v.cpath = cpath;
	set_value(w, k, &v, base);
}

/* "in listeners[0].timeouts" / "at the top level" */
static const char *section(char *buf, size_t n, const char *cpath)
{
	if (cpath[0] == '\0')
		return "at the top level";
	snprintf(buf, n, "in %s", cpath);
	return buf;
}

static void unknown_key(struct veer_cfg_walk *w, const yaml_node_t *kn, const char *spath,
			const char *cpath)
{
	char known[512], sec[280], q[QBUF];
	size_t o = 0;

	known[0] = '\0';
	for (size_t i = 0; i < NKEYS && o < sizeof(known); i++)
		if (is_child(keys[i].path, spath))
			o += (size_t)snprintf(known + o, sizeof(known) - o, "%s%s",
					      o != 0 ? ", " : "", last_part(keys[i].path));
	veer_cfg_error(w, &kn->start_mark, "unknown key %s %s (known keys: %s)",
		       veer_cfg_quote(q, sizeof(q), (const char *)kn->data.scalar.value,
				      kn->data.scalar.length),
		       section(sec, sizeof(sec), cpath), known);
}

static bool same_scalar(const yaml_node_t *a, const yaml_node_t *b)
{
	return a->type == YAML_SCALAR_NODE && b->type == YAML_SCALAR_NODE &&
	       a->data.scalar.length == b->data.scalar.length &&
	       memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length) == 0;
}

/* Walk the mapping NODE whose schema path is SPATH ("" = the document)
 * and concrete path CPATH; BASE is the owner of the keys inside. */
static void walk_map(struct veer_cfg_walk *w, const yaml_node_t *node, const char *spath,
		     const char *cpath, void *base)
{
	bool seen[NKEYS];
	char kpath[160], cchild[320], sec[280], q[QBUF], g[QBUF];
	static const yaml_mark_t start = { 0, 0, 0 };
	const yaml_mark_t *mark = node != NULL ? &node->start_mark : &start;

	memset(seen, 0, sizeof(seen));
	if (veer_cfg_is_null(node))
		goto required;
	if (node->type != YAML_MAPPING_NODE) {
		if (cpath[0] == '\0')
			veer_cfg_error(w, mark, "the document must be a mapping, got %s",
				       veer_cfg_kind(g, sizeof(g), node));
		else
			veer_cfg_error(w, mark, "%s: expected a mapping, got %s", cpath,
				       veer_cfg_kind(g, sizeof(g), node));
		return;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *kn = veer_cfg_node(w, p->key), *vn = veer_cfg_node(w, p->value);
		const char *name;
		const struct key *k;
		bool dup = false;

		if (kn->type != YAML_SCALAR_NODE) {
			veer_cfg_error(w, &kn->start_mark, "keys must be strings, got %s %s",
				       veer_cfg_kind(g, sizeof(g), kn),
				       section(sec, sizeof(sec), cpath));
			continue;
		}
		name = (const char *)kn->data.scalar.value;
		for (yaml_node_pair_t *e = node->data.mapping.pairs.start; e < p && !dup; e++) {
			const yaml_node_t *ek = veer_cfg_node(w, e->key);
			if (same_scalar(ek, kn)) {
				veer_cfg_error(
					w, &kn->start_mark,
					"duplicate key %s %s (first at %zu:%zu)",
					veer_cfg_quote(q, sizeof(q), name, kn->data.scalar.length),
					section(sec, sizeof(sec), cpath), ek->start_mark.line + 1,
					ek->start_mark.column + 1);
				dup = true;
			}
		}
		if (dup)
			continue;
		/* Only plain key names can match: a key "a.b" must not reach a
		 * deeper row of the table. */
		k = NULL;
		if (kn->data.scalar.length ==
			    strspn(name, "abcdefghijklmnopqrstuvwxyz_0123456789") &&
		    kn->data.scalar.length < 64) {
			pathf(kpath, sizeof(kpath), "%s%s%s", spath, spath[0] ? "." : "", name);
			k = key_find(kpath);
		}
		if (k == NULL) {
			unknown_key(w, kn, spath, cpath);
			continue;
		}
		pathf(cchild, sizeof(cchild), "%s%s%s", cpath, cpath[0] ? "." : "", name);
		if (!k->supported) {
			veer_cfg_error(w, &kn->start_mark, "%s: not supported yet", cchild);
			continue;
		}
		seen[k - keys] = true;
		walk_value(w, k, vn, cchild, base);
	}
required:
	for (size_t i = 0; i < NKEYS; i++)
		if ((keys[i].flags & F_REQ) && keys[i].supported && !seen[i] &&
		    is_child(keys[i].path, spath))
			veer_cfg_error(w, mark, "%s: missing required key \"%s\"",
				       cpath[0] ? cpath : "top level", last_part(keys[i].path));
}

/* ---- entry points ------------------------------------------------------ */

void veer_cfg_defaults(struct veer_cfg_walk *w)
{
	apply_defaults(w, "", NULL, w->cfg);
}

void veer_cfg_walk_root(struct veer_cfg_walk *w, const yaml_node_t *root)
{
	walk_map(w, root, "", "", w->cfg);
	veer_cfg_finish(w, root);
}

/* How the reference names each type; ranges are added to the numeric ones. */
static const char *const ref_types[] = {
	[T_MAP] = "mapping",
	[T_LIST] = "list of mappings",
	[T_STRLIST] = "list of strings",
	[T_STRMAP] = "mapping of header names to values",
	[T_STRING] = "string",
	[T_INT] = "integer",
	[T_BOOL] = "`true` or `false`",
	[T_ENUM] = "enum",
	[T_FLAGS] = "list",
	[T_DURATION] = "duration",
	[T_SIZE] = "size",
	[T_PERCENT] = "percentage",
	[T_RATE] = "rate (`500/s`, `30/m`)",
	[T_ADDR] = "address (`host:port`)",
};

void veer_config_reference(FILE *f)
{
	char t[160], lo[32], hi[32], c[128];

	fputs("| key | type | default | description |\n", f);
	fputs("|---|---|---|---|\n", f);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const char *type = ref_types[k->type];
		switch (k->type) {
		case T_ENUM:
			snprintf(t, sizeof(t), "one of %s", choices_text(c, sizeof(c), k));
			type = t;
			break;
		case T_FLAGS:
			snprintf(t, sizeof(t), "list of %s", choices_text(c, sizeof(c), k));
			type = t;
			break;
		case T_INT:
		case T_DURATION:
		case T_SIZE:
		case T_PERCENT:
			if (k->max == NOLIMIT)
				break;
			snprintf(t, sizeof(t), "%s %s..%s%s", type,
				 fmt_value(lo, sizeof(lo), k, k->min),
				 fmt_value(hi, sizeof(hi), k, k->max),
				 (k->flags & F_AUTO) ? " or `auto`" : "");
			type = t;
			break;
		default:
			break;
		}
		fprintf(f, "| `%s` | %s | ", k->path, type);
		if (k->def != NULL && (k->flags & F_DOCDEF))
			fputs(k->def, f);
		else if (k->def != NULL && k->def[0] != '\0')
			fprintf(f, "`%s`", k->def);
		else if (k->def != NULL)
			fputs("`\"\"`", f);
		fprintf(f, " | %s%s%s |\n", k->doc, (k->flags & F_REQ) ? " (required)" : "",
			key_in_effect(k) ? "" : " (not supported yet)");
	}
}
