/* veer — configuration generations: loading a file or a buffer (libyaml
 * parses it here; config_yaml.c walks the document against its key table,
 * config_check.c checks across keys), error lists, reference counting,
 * freeing, lookups, the value parsers shared by the YAML loader and its
 * tests, and the loader's helpers for messages and text (config_int.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "veer/balance.h"
#include "veer/common.h"
#include "veer/config.h"
#include "veer/registry.h"
#include "veer/tls.h"

#include "config_int.h"

/* A config file larger than this is a mistake, not a config. */
#define MAX_CONFIG_BYTES (16u * 1024 * 1024)

void veer_errors_add(struct veer_errors *e, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;
	char *line;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(small)) {
		line = veer_xstrndup(small, (size_t)n);
	} else {
		line = veer_xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(line, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	e->lines = veer_xrealloc(e->lines, (e->n + 1) * sizeof(*e->lines));
	e->lines[e->n++] = line;
}

void veer_errors_free(struct veer_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->lines[i]);
	free(e->lines);
	e->lines = NULL;
	e->n = 0;
}

/* ---- helpers of the YAML loader (config_int.h) ----------------------- */

/* Past this many errors the rest are counted, not listed. */
#define MAX_ERRORS 100

void veer_cfg_error(struct veer_cfg_walk *w, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	w->nerr++;
	if (w->nerr > MAX_ERRORS) {
		if (w->nerr == MAX_ERRORS + 1)
			veer_errors_add(w->errs, "%s: too many errors, only the first %d are shown",
					w->name, MAX_ERRORS);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m != NULL)
		veer_errors_add(w->errs, "%s:%zu:%zu: %s", w->name, m->line + 1, m->column + 1,
				msg);
	else
		veer_errors_add(w->errs, "%s: %s", w->name, msg);
}

const char *veer_cfg_quote(char *buf, size_t n, const char *s, size_t len)
{
	size_t o = 0, i;

	buf[o++] = '"';
	for (i = 0; i < len && o + 8 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, n - o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (i < len)
		o += (size_t)snprintf(buf + o, n - o, "...");
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

const char *veer_cfg_kind(char *buf, size_t n, const yaml_node_t *node)
{
	if (node->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (node->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (veer_cfg_is_null(node))
		return "nothing";
	return veer_cfg_quote(buf, n, (const char *)node->data.scalar.value,
			      node->data.scalar.length);
}

int veer_cfg_parse_int(const char *s, uint64_t *n, bool *neg)
{
	*neg = s[0] == '-';
	s += *neg;
	if (*s < '0' || *s > '9')
		return VEER_ERR;
	*n = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (*n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return VEER_ERR;
		*n = *n * 10 + (uint64_t)(*s - '0');
	}
	return *s == '\0' ? VEER_OK : VEER_ERR;
}

bool veer_cfg_is_token(const char *s, size_t len)
{
	/* RFC 9110 section 5.6.2 */
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
				    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	return len > 0 && strspn(s, tchar) == len;
}

char *veer_cfg_case_dup(const char *s, size_t len, bool upper)
{
	char *d = veer_xstrndup(s, len);

	for (char *c = d; *c != '\0'; c++)
		if (upper ? (*c >= 'a' && *c <= 'z') : (*c >= 'A' && *c <= 'Z'))
			*c = (char)(*c ^ 0x20);
	return d;
}

bool veer_cfg_has_crlfnul(const char *s, size_t len)
{
	return memchr(s, '\r', len) != NULL || memchr(s, '\n', len) != NULL ||
	       memchr(s, '\0', len) != NULL;
}

/* The headers veer itself manages on the way upstream: Host (RFC 9110
 * section 7.2) and the framing and connection headers (RFC 9112 sections 6
 * and 9.6). */
static const char *const managed_headers[] = { "Host", "Content-Length", "Transfer-Encoding",
					       "Connection" };

bool veer_cfg_is_managed_header(const char *name)
{
	for (size_t i = 0; i < VEER_ARRAY_LEN(managed_headers); i++)
		if (strcasecmp(name, managed_headers[i]) == 0)
			return true;
	return false;
}

size_t veer_cfg_header_map(struct veer_cfg_walk *w, const yaml_node_t *node, const char *cpath,
			   bool managed, struct veer_header_kv **out)
{
	char g[96], q[96], ci[320];
	struct veer_header_kv *kv = NULL;
	const yaml_node_pair_t *start = node->data.mapping.pairs.start;
	size_t n = (size_t)(node->data.mapping.pairs.top - start), cnt = 0;

	if (out != NULL && n != 0) {
		kv = veer_xcalloc(n, sizeof(*kv));
		*out = kv;
	}
	for (const yaml_node_pair_t *p = start; p < node->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = veer_cfg_node(w, p->key), *vn = veer_cfg_node(w, p->value);
		const yaml_node_t *first = NULL;
		const char *name;
		if (kn->type != YAML_SCALAR_NODE || veer_cfg_is_null(kn)) {
			veer_cfg_error(w, &kn->start_mark, "%s: expected a header name, got %s",
				       cpath, veer_cfg_kind(g, sizeof(g), kn));
			continue;
		}
		name = (const char *)kn->data.scalar.value;
		if (!veer_cfg_is_token(name, kn->data.scalar.length)) {
			veer_cfg_error(w, &kn->start_mark, "%s: bad header name %s (%s)", cpath,
				       veer_cfg_quote(q, sizeof(q), name, kn->data.scalar.length),
				       VEER_CFG_TOKEN_HINT);
			continue;
		}
		snprintf(ci, sizeof(ci), "%s.%s", cpath, name);
		for (const yaml_node_pair_t *e = start; e < p && first == NULL; e++) {
			const yaml_node_t *ek = veer_cfg_node(w, e->key);
			if (ek->type == YAML_SCALAR_NODE &&
			    strcasecmp((const char *)ek->data.scalar.value, name) == 0)
				first = ek;
		}
		if (first != NULL) {
			veer_cfg_error(w, &kn->start_mark,
				       "%s: duplicate header (first at %zu:%zu)", ci,
				       first->start_mark.line + 1, first->start_mark.column + 1);
			continue;
		}
		if (managed && veer_cfg_is_managed_header(name)) {
			veer_cfg_error(w, &kn->start_mark, "%s: cannot be set (veer manages %s)",
				       ci, VEER_CFG_MANAGED_TEXT);
			continue;
		}
		if (vn->type != YAML_SCALAR_NODE || veer_cfg_is_null(vn)) {
			veer_cfg_error(w, &vn->start_mark, "%s: expected a string, got %s", ci,
				       veer_cfg_kind(g, sizeof(g), vn));
			continue;
		}
		if (veer_cfg_has_crlfnul((const char *)vn->data.scalar.value,
					 vn->data.scalar.length)) {
			veer_cfg_error(w, &vn->start_mark,
				       "%s: value must not contain CR, LF or NUL", ci);
			continue;
		}
		if (kv == NULL)
			continue;
		kv[cnt].name = veer_xstrdup(name);
		kv[cnt].value =
			veer_xstrndup((const char *)vn->data.scalar.value, vn->data.scalar.length);
		cnt++;
	}
	return cnt;
}

void veer_cfg_syntax_error(struct veer_cfg_walk *w, const yaml_parser_t *ps, const char *data,
			   size_t len)
{
	yaml_mark_t m = ps->problem_mark;
	const char *problem = ps->problem != NULL ? ps->problem : "unknown error";

	switch (ps->error) {
	case YAML_MEMORY_ERROR:
		veer_cfg_error(w, NULL, "out of memory while parsing YAML");
		return;
	case YAML_READER_ERROR:
		/* Reader errors (bad encoding) carry a byte offset, not a mark. */
		memset(&m, 0, sizeof(m));
		for (size_t i = 0; i < ps->problem_offset && i < len; i++) {
			if (data[i] == '\n')
				m.line++, m.column = 0;
			else
				m.column++;
		}
		veer_cfg_error(w, &m, "YAML syntax error: %s", problem);
		return;
	default:
		break;
	}
	if (ps->context != NULL)
		veer_cfg_error(w, &m, "YAML syntax error: %s (%s at %zu:%zu)", problem, ps->context,
			       ps->context_mark.line + 1, ps->context_mark.column + 1);
	else
		veer_cfg_error(w, &m, "YAML syntax error: %s", problem);
}

/* libyaml parses DATA into a document; config_yaml.c walks it against the
 * key table and config_check.c checks across keys, all errors collected. */
struct veer_config *veer_config_load_mem(const char *name, const char *data, size_t len,
					 struct veer_errors *errs)
{
	struct veer_config *c = veer_xcalloc(1, sizeof(*c));
	struct veer_cfg_walk w = { .name = name, .errs = errs, .cfg = c };
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	bool parser_ok = false, doc_ok = false, extra_ok = false;
	yaml_node_t *root, *next;

	c->magic = VEER_CONFIG_MAGIC;
	atomic_init(&c->refs, 1);
	c->path = veer_xstrdup(name);
	veer_cfg_defaults(&w);

	if (!yaml_parser_initialize(&parser)) {
		veer_cfg_error(&w, NULL, "out of memory while parsing YAML");
		goto out;
	}
	parser_ok = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		veer_cfg_syntax_error(&w, &parser, data, len);
		goto out;
	}
	doc_ok = true;
	w.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL) {
		if (!yaml_parser_load(&parser, &extra)) {
			veer_cfg_syntax_error(&w, &parser, data, len);
			goto out;
		}
		extra_ok = true;
		next = yaml_document_get_root_node(&extra);
		if (next != NULL) {
			veer_cfg_error(&w, &next->start_mark, "only one YAML document is allowed");
			goto out;
		}
	}

	veer_cfg_walk_root(&w, root);
out:
	if (extra_ok)
		yaml_document_delete(&extra);
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	if (w.nerr != 0) {
		veer_config_free(c);
		c = NULL;
	}
	return c;
}

struct veer_config *veer_config_load(const char *path, struct veer_errors *errs)
{
	struct veer_config *c = NULL;
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	FILE *f;

	f = fopen(path, "rb");
	if (f == NULL) {
		veer_errors_add(errs, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		veer_errors_add(errs, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > MAX_CONFIG_BYTES) {
		veer_errors_add(errs, "%s: file too large (over %u bytes)", path, MAX_CONFIG_BYTES);
		goto out;
	}
	/* Read until EOF rather than trusting st_size: the file may change. */
	buf = veer_xmalloc(MAX_CONFIG_BYTES + 1);
	len = fread(buf, 1, MAX_CONFIG_BYTES + 1, f);
	if (ferror(f)) {
		veer_errors_add(errs, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	if (len > MAX_CONFIG_BYTES) {
		veer_errors_add(errs, "%s: file too large (over %u bytes)", path, MAX_CONFIG_BYTES);
		goto out;
	}
	c = veer_config_load_mem(path, buf, len, errs);
out:
	free(buf);
	if (f != NULL)
		fclose(f);
	return c;
}

void veer_config_ref(struct veer_config *c)
{
	VEER_CHECK_MAGIC(c, VEER_CONFIG_MAGIC);
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

bool veer_config_unref(struct veer_config *c)
{
	VEER_CHECK_MAGIC(c, VEER_CONFIG_MAGIC);
	/* acq_rel: whoever drops the last reference must see every write made
	 * by the other holders before it frees. */
	return atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1;
}

static void pool_fini(struct veer_pool_conf *p)
{
	veer_tls_client_free(p->tls.client);
	free(p->tls.ca);
	free(p->tls.server_name);
	if (p->balancer != NULL && p->balancer->release != NULL)
		p->balancer->release(p);
	for (size_t i = 0; i < p->nservers; i++)
		free(p->servers[i].address);
	free(p->servers);
	for (size_t i = 0; i < p->discovery.ndns_resolvers; i++)
		free(p->discovery.dns_resolvers[i]);
	free(p->discovery.dns_resolvers);
	free(p->discovery.dns_name);
	free(p->discovery.file);
	free(p->rate_limit.key_header);
	free(p->health.path);
	free(p->hash_key);
	free(p->version);
	free(p->name);
}

static void headers_free(struct veer_header_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].name);
		free(kv[i].value);
	}
	free(kv);
}

static void route_fini(struct veer_route_conf *r)
{
	headers_free(r->set_headers, r->nset_headers);
	for (size_t i = 0; i < r->nremove_headers; i++)
		free(r->remove_headers[i]);
	free(r->remove_headers);
	free(r->rate_limit.key_header);
	free(r->sticky_name);
	free(r->split); /* the pools it points to belong to the config */
	free(r->version_pools);
	free(r->version_header);
	headers_free(r->match_headers, r->nmatch_headers);
	for (size_t i = 0; i < r->nmatch_methods; i++)
		free(r->match_methods[i]);
	free(r->match_methods);
	free(r->respond_body);
	free(r->match_path_prefix);
	free(r->match_host);
	free(r->name);
}

void veer_cfg_free_secret(char **s)
{
	if (*s != NULL)
		explicit_bzero(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

/* Frees a config whether it is complete or was abandoned half-built by the
 * loader: every pointer is either NULL or owned. */
void veer_config_free(struct veer_config *c)
{
	if (c == NULL)
		return;
	if (c->registry != NULL)
		veer_registry_unbind(c->registry, c);
	for (size_t i = 0; i < c->nlisteners; i++) {
		struct veer_listener_tls *t = &c->listeners[i].tls;
		veer_tls_server_free(t->server);
		for (size_t j = 0; j < t->ncerts; j++) {
			free(t->certs[j].cert);
			free(t->certs[j].key);
		}
		free(t->certs);
		free(c->listeners[i].routes);
		free(c->listeners[i].name);
	}
	free(c->listeners);
	for (size_t i = 0; i < c->npools; i++)
		pool_fini(&c->pools[i]);
	free(c->pools);
	for (size_t i = 0; i < c->nroutes; i++)
		route_fini(&c->routes[i]);
	free(c->routes);
	free(c->global.user);
	free(c->global.admin_token_file);
	veer_cfg_free_secret(&c->global.admin_token);
	free(c->global.log_error);
	free(c->global.log_access);
	free(c->path);
	c->magic = 0;
	free(c);
}

struct veer_pool_conf *veer_config_pool(const struct veer_config *c, const char *name)
{
	for (size_t i = 0; i < c->npools; i++)
		if (c->pools[i].name != NULL && strcmp(c->pools[i].name, name) == 0)
			return &c->pools[i];
	return NULL;
}

struct veer_route_conf *veer_config_route(const struct veer_config *c, const char *name)
{
	for (size_t i = 0; i < c->nroutes; i++)
		if (c->routes[i].name != NULL && strcmp(c->routes[i].name, name) == 0)
			return &c->routes[i];
	return NULL;
}

/* Leading decimal digits of S into *N (at least one digit, no sign, no
 * overflow); *END is set past them. */
static int parse_digits(const char *s, uint64_t *n, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return VEER_ERR;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return VEER_ERR;
		v = v * 10 + d;
	}
	*n = v;
	*end = p;
	return VEER_OK;
}

int veer_parse_duration(const char *s, veer_ms_t *out)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	uint64_t n;
	const char *p;

	if (parse_digits(s, &n, &p) != VEER_OK)
		return VEER_ERR;
	for (size_t i = 0; i < VEER_ARRAY_LEN(units); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (n > UINT64_MAX / units[i].ms)
			return VEER_ERR;
		*out = n * units[i].ms;
		return VEER_OK;
	}
	return VEER_ERR; /* a bare number is ambiguous: seconds or ms? */
}

int veer_parse_size(const char *s, uint64_t *out)
{
	uint64_t n, mult;
	const char *p;

	if (parse_digits(s, &n, &p) != VEER_OK)
		return VEER_ERR;
	switch (*p) {
	case '\0':
		mult = 1;
		break;
	case 'k':
	case 'K':
		mult = 1024;
		break;
	case 'm':
	case 'M':
		mult = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		return VEER_ERR;
	}
	if (*p != '\0' && p[1] != '\0')
		return VEER_ERR;
	if (n > UINT64_MAX / mult)
		return VEER_ERR;
	*out = n * mult;
	return VEER_OK;
}

int veer_parse_percent(const char *s, uint32_t *out)
{
	uint64_t n;
	const char *p;

	if (parse_digits(s, &n, &p) != VEER_OK || strcmp(p, "%") != 0 || n > 100)
		return VEER_ERR;
	*out = (uint32_t)n;
	return VEER_OK;
}

int veer_parse_rate(const char *s, double *out)
{
	uint64_t n;
	const char *p;

	if (parse_digits(s, &n, &p) != VEER_OK || n == 0 || n > UINT32_MAX)
		return VEER_ERR;
	if (strcmp(p, "/s") == 0)
		*out = (double)n;
	else if (strcmp(p, "/m") == 0)
		*out = (double)n / 60.0;
	else if (strcmp(p, "/h") == 0)
		*out = (double)n / 3600.0;
	else
		return VEER_ERR;
	return VEER_OK;
}

const char *veer_format_duration(char *buf, size_t n, veer_ms_t ms)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, n, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, n, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, n, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, n, "%llums", (unsigned long long)ms);
	return buf;
}

const char *veer_format_size(char *buf, size_t n, uint64_t bytes)
{
	static const char units[] = "gmk";

	for (int i = 0; i < 3; i++) {
		uint64_t m = 1ull << (10 * (3 - i));
		if (bytes != 0 && bytes % m == 0) {
			snprintf(buf, n, "%llu%c", (unsigned long long)(bytes / m), units[i]);
			return buf;
		}
	}
	snprintf(buf, n, "%llu", (unsigned long long)bytes);
	return buf;
}

static void why_set(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static bool hostname_ok(const char *h)
{
	for (; *h != '\0'; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '-' || *h == '.' || *h == '_'))
			return false;
	return true;
}

/* Fill A from the first result of getaddrinfo(HOST) with FAMILY and FLAGS;
 * returns 0 or a getaddrinfo error code. */
static int lookup(const char *host, int family, int flags, struct veer_addr *a)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = flags;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0)
		goto out;
	if (res->ai_addrlen > sizeof(a->ss)) {
		rc = EAI_FAMILY;
		goto out;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return rc;
}

int veer_parse_addr_why(const char *s, struct veer_addr *out, bool resolve_names, char *why,
			size_t whylen)
{
	struct veer_addr a;
	char host[256], num[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *hs, *he, *ps, *pe;
	bool bracketed = false;
	uint64_t port;
	int rc = VEER_ERR, gai;

	memset(&a, 0, sizeof(a));
	if (s[0] == '[') {
		bracketed = true;
		hs = s + 1;
		he = strchr(hs, ']');
		if (he == NULL) {
			why_set(why, whylen, "missing \"]\" after the IPv6 address");
			goto out;
		}
		if (he[1] != ':') {
			why_set(why, whylen, "missing :PORT");
			goto out;
		}
		ps = he + 2;
	} else {
		he = strrchr(s, ':');
		if (he == NULL) {
			why_set(why, whylen, "missing :PORT");
			goto out;
		}
		hs = s;
		if (memchr(hs, ':', (size_t)(he - hs)) != NULL) {
			why_set(why, whylen, "write IPv6 addresses in brackets: [::1]:PORT");
			goto out;
		}
		ps = he + 1;
	}
	if (he == hs) {
		why_set(why, whylen, "missing host (use *:PORT for every address)");
		goto out;
	}
	if ((size_t)(he - hs) >= sizeof(host)) {
		why_set(why, whylen, "host too long");
		goto out;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (parse_digits(ps, &port, &pe) != VEER_OK || *pe != '\0' || pe - ps > 5) {
		why_set(why, whylen, "bad port");
		goto out;
	}
	if (port > 65535) {
		why_set(why, whylen, "port out of range 0..65535");
		goto out;
	}

	if (bracketed) {
		if (lookup(host, AF_INET6, AI_NUMERICHOST, &a) != 0) {
			why_set(why, whylen, "bad IPv6 address");
			goto out;
		}
	} else if (strcmp(host, "*") == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		a.len = sizeof(*sin);
	} else if (lookup(host, AF_INET, AI_NUMERICHOST, &a) == 0) {
		/* an IPv4 literal */
	} else if (!hostname_ok(host)) {
		why_set(why, whylen, "bad host \"%s\"", host);
		goto out;
	} else if (!resolve_names) {
		why_set(why, whylen, "a numeric address is required here");
		goto out;
	} else if ((gai = lookup(host, AF_UNSPEC, AI_ADDRCONFIG, &a)) != 0) {
		why_set(why, whylen, "cannot resolve \"%s\": %s", host, gai_strerror(gai));
		goto out;
	}

	if (a.ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a.ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&a.ss)->sin6_port = htons((uint16_t)port);
	if (getnameinfo((struct sockaddr *)&a.ss, a.len, num, sizeof(num), NULL, 0,
			NI_NUMERICHOST) != 0) {
		why_set(why, whylen, "cannot format the address");
		goto out;
	}
	snprintf(a.text, sizeof(a.text), a.ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", num,
		 (unsigned)port);
	*out = a;
	rc = VEER_OK;
out:
	return rc;
}

int veer_parse_addr(const char *s, struct veer_addr *out, bool resolve_names)
{
	return veer_parse_addr_why(s, out, resolve_names, NULL, 0);
}

int veer_parse_resolver(const char *s, struct veer_addr *out, char *why, size_t whylen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned char ip[16];
	struct veer_addr a;
	int rc;

	if (s[0] == '*') {
		why_set(why, whylen, "a resolver needs an address, not *");
		return VEER_ERR;
	}
	/* A bare address gets the DNS port (RFC 1035 section 4.2). */
	if (inet_pton(AF_INET, s, ip) == 1) {
		snprintf(buf, sizeof(buf), "%s:53", s);
		s = buf;
	} else if (strlen(s) < INET6_ADDRSTRLEN && inet_pton(AF_INET6, s, ip) == 1) {
		snprintf(buf, sizeof(buf), "[%s]:53", s);
		s = buf;
	}
	rc = veer_parse_addr_why(s, &a, false, why, whylen);
	if (rc == VEER_OK && (a.ss.ss_family == AF_INET ?
				      ((struct sockaddr_in *)&a.ss)->sin_port :
				      ((struct sockaddr_in6 *)&a.ss)->sin6_port) == 0) {
		why_set(why, whylen, "port 0");
		return VEER_ERR;
	}
	if (rc == VEER_OK)
		*out = a;
	return rc;
}
