/* veer — service discovery (see discovery.h).
 *
 * One source per pool with discovery, owned by the control thread:
 *
 *  - DNS SRV: libevent 2.1's evdns has no SRV lookup, so the question goes
 *    out over UDP from here (dns.c builds and parses the messages), again
 *    over TCP when the answer is truncated (RFC 7766), to each resolver in
 *    turn.  Targets the answer gives no address for (no glue) are resolved
 *    with evdns A lookups (AAAA when there is no A).
 *  - DNS A / AAAA: one evdns lookup, every address with the configured port.
 *  - File: stat() every second; a change of inode, size, mtime or ctime
 *    (an atomic rename changes the inode) means the file is read again.
 *
 * A resolution runs again at min(refresh, smallest TTL of what it used),
 * never sooner than 1 s after the last.  A failure or an empty result keeps
 * the set as it was, counts an error, logs (a warning for the first failure
 * in a row, debug for the next ones, and info when it recovers), and tries
 * again after min(refresh, 5 s).
 *
 * Lifetimes: a source is freed by veer_discovery_update() or
 * veer_discovery_free(), never from its own callbacks.  Each evdns request
 * has a small record (struct lookup) that outlives its source when the
 * source stops first: evdns calls back exactly once per request (with
 * DNS_ERR_CANCEL after evdns_cancel_request), and the record then frees
 * itself.
 */
#include "veer/discovery.h"
#include "veer/balance.h"
#include "veer/common.h"
#include "veer/dns.h"
#include "veer/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/util.h>

#include "config_int.h"

/* Each try of a DNS question waits this long for its answer. */
#define TRY_MS 1500
/* Resolvers read from /etc/resolv.conf (glibc reads three). */
#define MAX_RESOLVERS 3
/* Resolvers taken from the config. */
#define MAX_CONF_RESOLVERS 16
/* Bound on an endpoint file. */
#define FILE_MAX_BYTES (4u << 20)
#define RESOLV_CONF "/etc/resolv.conf"

struct source;

/* One evdns request in flight. */
struct lookup {
	struct source *src; /* NULL once the source stopped */
	struct evdns_request *req;
	struct lookup *next;
	uint16_t port;
	uint32_t weight;
	bool v6;
	bool then_v6; /* no A address: try AAAA */
	char name[VEER_DNS_NAME_MAX];
};

struct counter {
	char *pool;
	uint64_t errors;
};

struct veer_discovery {
	struct event_base *base;
	veer_discovery_changed_fn changed;
	void *arg;
	struct source **srcs;
	size_t nsrcs;
	struct counter *counters; /* by pool name, kept for the process' life */
	size_t ncounters;
	struct event *notify_ev;
	size_t first_pending; /* DNS sources without a first result */
	bool live;            /* veer_discovery_wait() returned */
};

struct source {
	struct veer_discovery *d;
	char *pool;
	char *key;                 /* the settings, as text: equal keys, same source */
	char *label;               /* "DNS SRV name" or "file PATH", for logs */
	struct veer_endpoint *set; /* the last good set, normalized */
	size_t nset;
	struct event *timer;
	bool first_done;
	unsigned fail_streak;
	char last_why[400]; /* the reason of the last failure logged */
	bool is_file;

	/* file */
	char *path;
	struct stat st; /* when last read */
	bool stat_ok;
	bool missing; /* the last stat failed (logged once) */

	/* DNS */
	enum veer_dns_type type;
	char name[VEER_DNS_NAME_MAX];
	uint16_t port;
	veer_ms_t refresh;
	struct veer_addr resolvers[MAX_CONF_RESOLVERS];
	size_t nresolvers;
	struct evdns_base *evdns;
	int udp_fd;
	struct event *udp_ev;
	uint64_t udp_deadline;
	struct bufferevent *tcp;
	uint8_t query[VEER_DNS_NAME_MAX + 64];
	size_t qlen;
	uint16_t qid;
	unsigned tries;
	/* the resolution in progress */
	bool busy;
	struct veer_endpoint *found;
	size_t nfound;
	uint32_t ttl;
	unsigned pending; /* evdns lookups in flight */
	bool failed;
	char why[400];
	struct lookup *lookups;
};

/* ---- endpoint sets ------------------------------------------------------ */

static int cmp_endpoint(const void *a, const void *b)
{
	return strcmp(((const struct veer_endpoint *)a)->addr.text,
		      ((const struct veer_endpoint *)b)->addr.text);
}

void veer_endpoints_normalize(struct veer_endpoint *e, size_t *n)
{
	size_t i, o = 0;

	if (*n == 0)
		return;
	qsort(e, *n, sizeof(*e), cmp_endpoint);
	for (i = 1; i < *n; i++) {
		if (strcmp(e[i].addr.text, e[o].addr.text) == 0) {
			e[o].weight += e[i].weight;
			if (e[o].weight > 1000)
				e[o].weight = 1000;
			continue;
		}
		e[++o] = e[i];
	}
	*n = o + 1;
}

bool veer_endpoints_equal(const struct veer_endpoint *a, size_t na, const struct veer_endpoint *b,
			  size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].weight != b[i].weight || strcmp(a[i].addr.text, b[i].addr.text) != 0)
			return false;
	return true;
}

void veer_discovery_add_endpoints(struct veer_pool_conf *pool, const struct veer_endpoint *e,
				  size_t n)
{
	size_t i, k, first = pool->nservers;

	if (n == 0)
		return;
	pool->servers = veer_xrealloc(pool->servers, (first + n) * sizeof(*pool->servers));
	for (i = 0; i < n; i++) {
		struct veer_server_conf *s;
		bool listed = false;
		/* A server the file lists keeps its settings. */
		for (k = 0; k < first && !listed; k++)
			listed = strcmp(pool->servers[k].addr.text, e[i].addr.text) == 0;
		if (listed)
			continue;
		s = &pool->servers[pool->nservers++];
		memset(s, 0, sizeof(*s));
		s->address = veer_xstrdup(e[i].addr.text);
		s->addr = e[i].addr;
		s->weight = e[i].weight;
		s->discovered = true;
	}
	/* Balancers that built data from the servers (the hash ring) build it
	 * again, as overrides.c does for weights. */
	if (pool->nservers != first && pool->balancer != NULL && pool->balancer->prepare != NULL) {
		if (pool->balancer->release != NULL)
			pool->balancer->release(pool);
		pool->balancer_data = NULL;
		pool->balancer->prepare(pool);
	}
}

/* ---- endpoint files ----------------------------------------------------- */

/* One item of the list: {address, weight}. */
static void parse_item(struct veer_cfg_walk *w, const yaml_node_t *item, size_t i,
		       struct veer_endpoint *out, bool *ok)
{
	const yaml_node_t *an = NULL;
	char g[96], why[320], ci[64];
	uint64_t v;
	bool neg;

	snprintf(ci, sizeof(ci), "[%zu]", i);
	if (item->type != YAML_MAPPING_NODE) {
		veer_cfg_error(w, &item->start_mark,
			       "%s: expected a mapping {address, weight}, got %s", ci,
			       veer_cfg_kind(g, sizeof(g), item));
		*ok = false;
		return;
	}
	out->weight = 1;
	for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *kn = veer_cfg_node(w, p->key), *vn = veer_cfg_node(w, p->value);
		const char *k =
			kn->type == YAML_SCALAR_NODE ? (const char *)kn->data.scalar.value : "";
		bool is_addr = strcmp(k, "address") == 0, is_weight = strcmp(k, "weight") == 0;
		if (!is_addr && !is_weight) {
			veer_cfg_error(w, &kn->start_mark,
				       "%s: unknown key %s (known keys: address, weight)", ci,
				       veer_cfg_kind(g, sizeof(g), kn));
			*ok = false;
			continue;
		}
		if (vn->type != YAML_SCALAR_NODE || veer_cfg_is_null(vn) ||
		    strlen((const char *)vn->data.scalar.value) != vn->data.scalar.length) {
			veer_cfg_error(w, &vn->start_mark, "%s.%s: expected %s, got %s", ci, k,
				       is_addr ? "an address (host:port)" : "an integer",
				       veer_cfg_kind(g, sizeof(g), vn));
			*ok = false;
			continue;
		}
		if (is_addr) {
			an = vn;
			if (veer_parse_addr_why((const char *)vn->data.scalar.value, &out->addr,
						true, why, sizeof(why)) != VEER_OK) {
				veer_cfg_error(w, &vn->start_mark, "%s.address: bad address %s: %s",
					       ci, veer_cfg_kind(g, sizeof(g), vn), why);
				*ok = false;
			}
		} else if (veer_cfg_parse_int((const char *)vn->data.scalar.value, &v, &neg) !=
			   VEER_OK) {
			veer_cfg_error(w, &vn->start_mark, "%s.weight: expected an integer, got %s",
				       ci, veer_cfg_kind(g, sizeof(g), vn));
			*ok = false;
		} else if (neg || v > 1000) {
			veer_cfg_error(w, &vn->start_mark, "%s.weight: %s is out of range 0..1000",
				       ci, (const char *)vn->data.scalar.value);
			*ok = false;
		} else {
			out->weight = (uint32_t)v;
		}
	}
	if (an == NULL) {
		veer_cfg_error(w, &item->start_mark, "%s: missing required key \"address\"", ci);
		*ok = false;
	}
}

int veer_endpoints_parse(const char *name, const char *data, size_t len, struct veer_endpoint **out,
			 size_t *n, struct veer_errors *errs)
{
	struct veer_cfg_walk w = { .name = name, .errs = errs };
	struct veer_endpoint *e = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	bool parser_ok = false, doc_ok = false, ok = true;
	yaml_node_t *root;
	size_t cnt = 0, i;
	char g[96];

	*out = NULL;
	*n = 0;
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
	if (root == NULL || veer_cfg_is_null(root))
		goto out; /* empty: no endpoints */
	if (root->type != YAML_SEQUENCE_NODE) {
		veer_cfg_error(&w, &root->start_mark,
			       "expected a list of {address, weight}, got %s",
			       veer_cfg_kind(g, sizeof(g), root));
		goto out;
	}
	cnt = veer_cfg_seq_len(root);
	if (cnt > VEER_DISCOVERY_MAX_ENDPOINTS) {
		veer_cfg_error(&w, &root->start_mark, "%zu endpoints: at most %d are allowed", cnt,
			       VEER_DISCOVERY_MAX_ENDPOINTS);
		goto out;
	}
	e = veer_xcalloc(cnt ? cnt : 1, sizeof(*e));
	for (i = 0; i < cnt; i++) {
		const yaml_node_t *item = veer_cfg_seq_item(&w, root, i);
		bool item_ok = true;
		parse_item(&w, item, i, &e[i], &item_ok);
		ok &= item_ok;
		for (size_t j = 0; item_ok && j < i; j++) {
			if (strcmp(e[j].addr.text, e[i].addr.text) != 0)
				continue;
			veer_cfg_error(&w, &item->start_mark,
				       "[%zu].address: duplicate endpoint %s (first at [%zu])", i,
				       e[i].addr.text, j);
			ok = false;
			break;
		}
	}
out:
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	if (w.nerr != 0 || !ok) {
		free(e);
		return VEER_ERR;
	}
	if (cnt == 0) {
		free(e);
		return VEER_OK;
	}
	veer_endpoints_normalize(e, &cnt);
	*out = e;
	*n = cnt;
	return VEER_OK;
}

/* ---- counters, logs, results ------------------------------------------- */

static struct counter *counter_for(struct veer_discovery *d, const char *pool)
{
	for (size_t i = 0; i < d->ncounters; i++)
		if (strcmp(d->counters[i].pool, pool) == 0)
			return &d->counters[i];
	d->counters = veer_xrealloc(d->counters, (d->ncounters + 1) * sizeof(*d->counters));
	d->counters[d->ncounters].pool = veer_xstrdup(pool);
	d->counters[d->ncounters].errors = 0;
	return &d->counters[d->ncounters++];
}

uint64_t veer_discovery_errors(const struct veer_discovery *d, const char *pool)
{
	if (d == NULL)
		return 0;
	for (size_t i = 0; i < d->ncounters; i++)
		if (strcmp(d->counters[i].pool, pool) == 0)
			return d->counters[i].errors;
	return 0;
}

static void notify(struct veer_discovery *d)
{
	static const struct timeval zero = { 0, 0 };

	if (d->live)
		evtimer_add(d->notify_ev, &zero);
}

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_discovery *d = arg;

	(void)fd;
	(void)what;
	d->changed(d->arg);
}

/* "a, b, c (and N more)" of the addresses of A not in B, into BUF. */
static const char *diff_text(char *buf, size_t n, const struct veer_endpoint *a, size_t na,
			     const struct veer_endpoint *b, size_t nb)
{
	size_t o = 0, shown = 0, more = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < na; i++) {
		bool in_b = false;
		for (size_t j = 0; j < nb && !in_b; j++)
			in_b = strcmp(a[i].addr.text, b[j].addr.text) == 0;
		if (in_b)
			continue;
		if (shown == 8 || o + 90 >= n) {
			more++;
			continue;
		}
		o += (size_t)snprintf(buf + o, n - o, "%s%s", shown ? " " : "", a[i].addr.text);
		shown++;
	}
	if (more)
		snprintf(buf + o, n - o, " and %zu more", more);
	return shown ? buf : "none";
}

/* The source has a new good set FOUND (normalized; taken over). */
static void set_result(struct source *s, struct veer_endpoint *found, size_t n)
{
	char added[800], removed[800];

	if (s->fail_streak > 0)
		veer_info("discovery: pool %s: %s answers again", s->pool, s->label);
	s->fail_streak = 0;
	if (veer_endpoints_equal(found, n, s->set, s->nset)) {
		free(found);
		return;
	}
	veer_info("discovery: pool %s: %zu endpoint%s from %s (added: %s; removed: %s)", s->pool, n,
		  n == 1 ? "" : "s", s->label,
		  diff_text(added, sizeof(added), found, n, s->set, s->nset),
		  diff_text(removed, sizeof(removed), s->set, s->nset, found, n));
	free(s->set);
	s->set = found;
	s->nset = n;
	notify(s->d);
}

/* The source failed (WHY); the set stays.  A warning for the first
 * failure in a row and whenever the reason changes, debug otherwise. */
static void set_failure(struct source *s, const char *why)
{
	bool news = s->fail_streak++ == 0 || strcmp(why, s->last_why) != 0;

	counter_for(s->d, s->pool)->errors++;
	if (s->nset > 0 && (news || veer_log_enabled(VEER_LOG_DEBUG)))
		veer_log(news ? VEER_LOG_WARN : VEER_LOG_DEBUG,
			 "discovery: pool %s: %s: %s; keeping the last %zu endpoint%s", s->pool,
			 s->label, why, s->nset, s->nset == 1 ? "" : "s");
	else if (news || veer_log_enabled(VEER_LOG_DEBUG))
		veer_log(news ? VEER_LOG_WARN : VEER_LOG_DEBUG,
			 "discovery: pool %s: %s: %s; no endpoints yet", s->pool, s->label, why);
	snprintf(s->last_why, sizeof(s->last_why), "%s", why);
}

/* ---- DNS ---------------------------------------------------------------- */

static void dns_start(struct source *s);
static void udp_send(struct source *s);

static void timer_in(struct source *s, veer_ms_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(s->timer, &tv);
}

static void close_query(struct source *s)
{
	if (s->udp_fd >= 0) {
		event_del(s->udp_ev);
		close(s->udp_fd);
		s->udp_fd = -1;
	}
	if (s->tcp != NULL) {
		bufferevent_free(s->tcp);
		s->tcp = NULL;
	}
}

/* The resolution in progress ends: FOUND becomes the set, or it failed. */
static void dns_finish(struct source *s)
{
	veer_ms_t next = s->refresh;

	close_query(s);
	s->busy = false;
	if (!s->failed) {
		veer_endpoints_normalize(s->found, &s->nfound);
		if (s->nfound == 0) {
			s->failed = true;
			snprintf(s->why, sizeof(s->why), "empty answer (no usable records)");
		}
	}
	if (s->failed) {
		free(s->found);
		set_failure(s, s->why);
		if (next > VEER_DISCOVERY_RETRY_MS)
			next = VEER_DISCOVERY_RETRY_MS;
	} else {
		set_result(s, s->found, s->nfound);
		/* never slower than the records' TTL allows */
		if ((uint64_t)s->ttl * 1000 < next)
			next = (veer_ms_t)s->ttl * 1000;
	}
	s->found = NULL;
	s->nfound = 0;
	if (next < VEER_DISCOVERY_MIN_REFRESH_MS)
		next = VEER_DISCOVERY_MIN_REFRESH_MS;
	timer_in(s, next);
	if (!s->first_done) {
		s->first_done = true;
		s->d->first_pending--;
	}
}

static void fail(struct source *s, const char *fmt, const char *arg)
{
	if (!s->failed)
		snprintf(s->why, sizeof(s->why), fmt, arg);
	s->failed = true;
}

static void add_found(struct source *s, const struct veer_addr *a, uint32_t weight)
{
	if (s->nfound >= VEER_DISCOVERY_MAX_ENDPOINTS) {
		veer_debug("discovery: pool %s: more than %d endpoints; %s left out", s->pool,
			   VEER_DISCOVERY_MAX_ENDPOINTS, a->text);
		return;
	}
	if (s->found == NULL)
		s->found = veer_xcalloc(VEER_DISCOVERY_MAX_ENDPOINTS, sizeof(*s->found));
	s->found[s->nfound].addr = *a;
	s->found[s->nfound].weight = weight;
	s->nfound++;
}

static void lookup_cb(int result, char type, int count, int ttl, void *addresses, void *arg);

/* Ask evdns for NAME's addresses (A, or AAAA when V6). */
static void lookup_start(struct source *s, const char *name, uint16_t port, uint32_t weight,
			 bool v6, bool then_v6)
{
	struct lookup *l = veer_xcalloc(1, sizeof(*l));

	l->src = s;
	l->port = port;
	l->weight = weight;
	l->v6 = v6;
	l->then_v6 = then_v6;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->next = s->lookups;
	s->lookups = l;
	s->pending++;
	/* evdns always calls back later (deferred), never from in here */
	l->req = v6 ? evdns_base_resolve_ipv6(s->evdns, name, DNS_QUERY_NO_SEARCH, lookup_cb, l) :
		      evdns_base_resolve_ipv4(s->evdns, name, DNS_QUERY_NO_SEARCH, lookup_cb, l);
	if (l->req == NULL) {
		s->lookups = l->next;
		s->pending--;
		free(l);
		fail(s, "cannot look up %s", name);
	}
}

static void lookup_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct lookup *l = arg, **pp;
	struct source *s = l->src;
	struct veer_addr a;

	if (s == NULL) { /* the source stopped */
		free(l);
		return;
	}
	for (pp = &s->lookups; *pp != l; pp = &(*pp)->next)
		;
	*pp = l->next;
	s->pending--;
	if (result == DNS_ERR_NONE && count > 0 && (type == DNS_IPv4_A || type == DNS_IPv6_AAAA)) {
		for (int i = 0; i < count; i++) {
			veer_dns_make_addr(
				&a, (const uint8_t *)addresses + i * (type == DNS_IPv4_A ? 4 : 16),
				type == DNS_IPv4_A ? 4 : 16, l->port);
			add_found(s, &a, l->weight);
		}
		if (ttl >= 0 && (uint32_t)ttl < s->ttl)
			s->ttl = (uint32_t)ttl;
	} else if (result == DNS_ERR_NONE || result == DNS_ERR_NOTEXIST ||
		   result == DNS_ERR_NODATA) {
		/* no address of this family */
		if (l->then_v6)
			lookup_start(s, l->name, l->port, l->weight, true, false);
		else if (s->type != VEER_DNS_SRV)
			fail(s, "no %s records", s->type == VEER_DNS_AAAA ? "AAAA" : "A");
		else
			veer_debug("discovery: pool %s: SRV target %s has no address", s->pool,
				   l->name);
	} else {
		char what[VEER_DNS_NAME_MAX + 64];
		snprintf(what, sizeof(what), "%s: %s", l->name, evdns_err_to_string(result));
		fail(s, "looking up %s", what);
	}
	free(l);
	if (s->pending == 0 && s->busy)
		dns_finish(s);
}

/* True when NAME is an IP literal: some registries put one as the SRV
 * target; take it as the address. */
static bool literal_target(const char *name, uint16_t port, struct veer_addr *a)
{
	uint8_t ip[16];

	if (inet_pton(AF_INET, name, ip) == 1)
		veer_dns_make_addr(a, ip, 4, port);
	else if (inet_pton(AF_INET6, name, ip) == 1)
		veer_dns_make_addr(a, ip, 16, port);
	else
		return false;
	return true;
}

/* The SRV answer M to our question. */
static void srv_answer(struct source *s, const struct veer_dns_msg *m)
{
	struct veer_dns_target *t = NULL;
	struct veer_addr glue[16];
	size_t nt, i, k, ng;
	char rc[16];

	close_query(s);
	if (m->rcode == VEER_DNS_RCODE_NXDOMAIN) {
		fail(s, "%s", "no such name");
		goto out;
	}
	if (m->rcode != 0) {
		snprintf(rc, sizeof(rc), "%u", m->rcode);
		fail(s, "the resolver answered rcode %s", rc);
		goto out;
	}
	t = veer_xcalloc(VEER_DISCOVERY_MAX_ENDPOINTS, sizeof(*t));
	nt = veer_dns_srv_targets(m, t, VEER_DISCOVERY_MAX_ENDPOINTS, &s->ttl);
	for (i = 0; i < nt; i++) {
		struct veer_addr a;
		if (literal_target(t[i].name, t[i].port, &a)) {
			add_found(s, &a, t[i].weight);
			continue;
		}
		ng = veer_dns_addresses(m, t[i].name, t[i].port, glue, VEER_ARRAY_LEN(glue),
					&s->ttl);
		for (k = 0; k < ng; k++)
			add_found(s, &glue[k], t[i].weight);
		if (ng == 0)
			lookup_start(s, t[i].name, t[i].port, t[i].weight, false, true);
	}
out:
	free(t);
	if (s->pending == 0)
		dns_finish(s);
}

/* Take the message BUF (LEN bytes) read for the question in flight.
 * Returns false when it is not the answer to it (ignored: a late answer to
 * an older question, or a forgery). */
static bool take_message(struct source *s, const uint8_t *buf, size_t len, bool tcp)
{
	struct veer_dns_msg m;
	char why[96];

	if (veer_dns_parse(buf, len, &m, why, sizeof(why)) != VEER_OK) {
		veer_debug("discovery: pool %s: bad DNS message: %s", s->pool, why);
		return false;
	}
	if (m.id != s->qid || m.qtype != VEER_DNS_TYPE_SRV || !veer_dns_name_eq(m.qname, s->name)) {
		veer_dns_msg_free(&m);
		return false;
	}
	if (m.tc && !tcp) {
		/* RFC 7766 section 5: ask again over TCP */
		veer_dns_msg_free(&m);
		close_query(s);
		s->tcp = bufferevent_socket_new(s->d->base, -1, BEV_OPT_CLOSE_ON_FREE);
		return true;
	}
	srv_answer(s, &m);
	veer_dns_msg_free(&m);
	return true;
}

static void tcp_read_cb(struct bufferevent *bev, void *arg);
static void tcp_event_cb(struct bufferevent *bev, short what, void *arg);

/* Try the next resolver (or the same again), or give up: WHY. */
static void next_try(struct source *s, const char *why)
{
	close_query(s);
	if (++s->tries >= 2 * s->nresolvers || s->tries >= 6) {
		fail(s, "%s", why);
		if (s->pending == 0)
			dns_finish(s);
		return;
	}
	udp_send(s);
}

static void tcp_send(struct source *s)
{
	const struct veer_addr *r = &s->resolvers[s->tries % s->nresolvers];
	struct timeval tv = { .tv_sec = TRY_MS / 1000, .tv_usec = (TRY_MS % 1000) * 1000 };
	uint8_t len[2] = { (uint8_t)(s->qlen >> 8), (uint8_t)s->qlen };

	bufferevent_setcb(s->tcp, tcp_read_cb, NULL, tcp_event_cb, s);
	bufferevent_set_timeouts(s->tcp, &tv, &tv);
	bufferevent_enable(s->tcp, EV_READ | EV_WRITE);
	bufferevent_write(s->tcp, len, 2);
	bufferevent_write(s->tcp, s->query, s->qlen);
	if (bufferevent_socket_connect(s->tcp, (const struct sockaddr *)&r->ss, (int)r->len) != 0)
		next_try(s, "TCP connection failed");
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct source *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2], *buf;
	size_t n;

	if (evbuffer_copyout(in, hdr, 2) < 2)
		return;
	n = ((size_t)hdr[0] << 8) | hdr[1];
	if (evbuffer_get_length(in) < n + 2)
		return;
	buf = veer_xmalloc(n + 2);
	evbuffer_remove(in, buf, n + 2);
	if (!take_message(s, buf + 2, n, true))
		next_try(s, "bad answer over TCP");
	free(buf);
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct source *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	next_try(s, what & BEV_EVENT_TIMEOUT ? "timed out (TCP)" : "TCP connection failed");
}

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct source *s = arg;
	uint8_t buf[VEER_DNS_MSG_MAX];
	uint64_t now;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		next_try(s, "timed out");
		return;
	}
	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			next_try(s, errno == ECONNREFUSED ? "connection refused" : strerror(errno));
			return;
		}
		if (take_message(s, buf, (size_t)n, false)) {
			if (s->tcp != NULL)
				tcp_send(s);
			return;
		}
	}
	/* Not our answer: keep waiting until the try's deadline. */
	now = veer_now_ms();
	if (now >= s->udp_deadline) {
		next_try(s, "timed out");
	} else {
		struct timeval tv = { .tv_sec = (time_t)((s->udp_deadline - now) / 1000),
				      .tv_usec = (suseconds_t)((s->udp_deadline - now) % 1000) *
						 1000 };
		event_add(s->udp_ev, &tv);
	}
}

static void udp_send(struct source *s)
{
	const struct veer_addr *r = &s->resolvers[s->tries % s->nresolvers];
	struct timeval tv = { .tv_sec = TRY_MS / 1000, .tv_usec = (TRY_MS % 1000) * 1000 };
	int fd;

	/* A new socket per question: a fresh random source port (RFC 5452). */
	fd = socket(r->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		next_try(s, strerror(errno));
		return;
	}
	/* connect(): only the resolver's datagrams are read, and a closed port
	 * is reported (ECONNREFUSED) instead of a timeout. */
	if (connect(fd, (const struct sockaddr *)&r->ss, r->len) != 0 ||
	    send(fd, s->query, s->qlen, 0) < 0) {
		const char *why = errno == ECONNREFUSED ? "connection refused" : strerror(errno);
		close(fd);
		next_try(s, why);
		return;
	}
	s->udp_fd = fd;
	s->udp_deadline = veer_now_ms() + TRY_MS;
	event_assign(s->udp_ev, s->d->base, fd, EV_READ, udp_cb, s);
	event_add(s->udp_ev, &tv);
}

/* Start a resolution (the source is idle). */
static void dns_start(struct source *s)
{
	s->busy = true;
	s->failed = false;
	s->why[0] = '\0';
	s->ttl = UINT32_MAX;
	s->tries = 0;
	if (s->type == VEER_DNS_SRV) {
		evutil_secure_rng_get_bytes(&s->qid, sizeof(s->qid));
		s->qlen = veer_dns_build_query(s->query, sizeof(s->query), s->qid, s->name,
					       VEER_DNS_TYPE_SRV);
		if (s->qlen == 0) {
			fail(s, "%s", "the name cannot be sent");
			dns_finish(s);
			return;
		}
		udp_send(s);
		return;
	}
	lookup_start(s, s->name, s->port, 1, s->type == VEER_DNS_AAAA, false);
	if (s->pending == 0)
		dns_finish(s);
}

static void dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct source *s = arg;

	(void)fd;
	(void)what;
	if (!s->busy)
		dns_start(s);
}

/* The nameservers of /etc/resolv.conf into S, or 127.0.0.1:53 (what the C
 * library uses when it lists none). */
static void system_resolvers(struct source *s)
{
	FILE *f = fopen(RESOLV_CONF, "r");
	char line[512], addr[256];
	char why[64];

	while (f != NULL && s->nresolvers < MAX_RESOLVERS && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " nameserver %255s", addr) == 1 &&
		    veer_parse_resolver(addr, &s->resolvers[s->nresolvers], why, sizeof(why)) ==
			    VEER_OK)
			s->nresolvers++;
	if (f != NULL)
		fclose(f);
	if (s->nresolvers == 0 && veer_parse_resolver("127.0.0.1", &s->resolvers[s->nresolvers],
						      why, sizeof(why)) == VEER_OK)
		s->nresolvers++;
}

static void dns_setup(struct source *s, const struct veer_discovery_conf *c)
{
	char why[64];

	s->type = c->dns_type;
	snprintf(s->name, sizeof(s->name), "%s", c->dns_name);
	s->port = c->dns_port;
	s->refresh = c->dns_refresh;
	for (size_t i = 0; i < c->ndns_resolvers && s->nresolvers < VEER_ARRAY_LEN(s->resolvers);
	     i++)
		if (veer_parse_resolver(c->dns_resolvers[i], &s->resolvers[s->nresolvers], why,
					sizeof(why)) == VEER_OK)
			s->nresolvers++;
	if (s->nresolvers == 0)
		system_resolvers(s);
	s->evdns = evdns_base_new(s->d->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	for (size_t i = 0; i < s->nresolvers; i++)
		evdns_base_nameserver_sockaddr_add(s->evdns,
						   (const struct sockaddr *)&s->resolvers[i].ss,
						   s->resolvers[i].len, 0);
	/* One try every resolver, then once more; no 0x20 case games, which
	 * some registries' DNS servers do not echo. */
	evdns_base_set_option(s->evdns, "timeout:", "1.5");
	evdns_base_set_option(s->evdns, "attempts:", "2");
	evdns_base_set_option(s->evdns, "randomize-case:", "0");
	s->udp_ev = event_new(s->d->base, -1, 0, udp_cb, s);
	s->timer = evtimer_new(s->d->base, dns_timer_cb, s);
}

/* ---- files -------------------------------------------------------------- */

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Read S's file again when it changed. */
static void file_check(struct source *s)
{
	struct veer_errors errs = { 0 };
	struct veer_endpoint *e = NULL;
	struct stat st;
	char *buf = NULL;
	size_t n = 0, len;
	FILE *f = NULL;

	if (stat(s->path, &st) != 0) {
		if (!s->missing)
			set_failure(s, strerror(errno));
		s->missing = true;
		s->stat_ok = false;
		return;
	}
	s->missing = false;
	if (s->stat_ok && same_stat(&st, &s->st))
		return;
	s->st = st;
	s->stat_ok = true;
	f = fopen(s->path, "rb");
	if (f == NULL) {
		set_failure(s, strerror(errno));
		goto out;
	}
	buf = veer_xmalloc(FILE_MAX_BYTES + 1);
	len = fread(buf, 1, FILE_MAX_BYTES + 1, f);
	if (ferror(f) || len > FILE_MAX_BYTES) {
		set_failure(s, ferror(f) ? strerror(errno) : "file too large");
		goto out;
	}
	if (veer_endpoints_parse(s->path, buf, len, &e, &n, &errs) != VEER_OK) {
		for (size_t i = 0; i < errs.n; i++)
			veer_err("discovery: pool %s: %s", s->pool, errs.lines[i]);
		set_failure(s, "broken file");
		goto out;
	}
	if (n == 0) {
		set_failure(s, "no endpoints in the file");
		goto out;
	}
	set_result(s, e, n);
	e = NULL;
out:
	free(e);
	free(buf);
	if (f != NULL)
		fclose(f);
	veer_errors_free(&errs);
}

static void file_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	file_check(arg);
}

/* ---- sources ------------------------------------------------------------ */

/* The settings of P's discovery as one text: equal texts, same source. */
static char *key_of(const struct veer_pool_conf *p)
{
	const struct veer_discovery_conf *c = &p->discovery;
	size_t cap =
		512 + (c->dns_name ? strlen(c->dns_name) : 0) + (c->file ? strlen(c->file) : 0);
	char *k;
	size_t o;

	for (size_t i = 0; i < c->ndns_resolvers; i++)
		cap += strlen(c->dns_resolvers[i]) + 1;
	k = veer_xmalloc(cap);
	if (!c->dns) {
		snprintf(k, cap, "file\n%s", c->file ? c->file : "");
		return k;
	}
	o = (size_t)snprintf(k, cap, "dns\n%d\n%s\n%u\n%llu\n", (int)c->dns_type, c->dns_name,
			     (unsigned)c->dns_port, (unsigned long long)c->dns_refresh);
	for (size_t i = 0; i < c->ndns_resolvers; i++)
		o += (size_t)snprintf(k + o, cap - o, "%s ", c->dns_resolvers[i]);
	return k;
}

static void source_free(struct source *s)
{
	struct lookup *l, *next;

	if (s == NULL)
		return;
	if (s->timer != NULL)
		event_free(s->timer);
	close_query(s);
	if (s->udp_ev != NULL)
		event_free(s->udp_ev);
	for (l = s->lookups; l != NULL; l = next) {
		next = l->next;
		l->src = NULL; /* frees itself when evdns calls back */
		evdns_cancel_request(s->evdns, l->req);
	}
	if (s->evdns != NULL)
		evdns_base_free(s->evdns, 0);
	if (!s->first_done && !s->is_file)
		s->d->first_pending--;
	free(s->found);
	free(s->set);
	free(s->path);
	free(s->label);
	free(s->key);
	free(s->pool);
	free(s);
}

static struct source *source_new(struct veer_discovery *d, const struct veer_pool_conf *p,
				 char *key)
{
	const struct veer_discovery_conf *c = &p->discovery;
	static const char *const types[] = { "SRV", "A", "AAAA" };
	struct source *s = veer_xcalloc(1, sizeof(*s));
	size_t n;

	s->d = d;
	s->pool = veer_xstrdup(p->name);
	s->key = key;
	s->udp_fd = -1;
	s->is_file = !c->dns;
	counter_for(d, p->name); /* the metric exists from the start, at 0 */
	if (s->is_file) {
		s->path = veer_xstrdup(c->file);
		n = strlen(s->path) + 8;
		s->label = veer_xmalloc(n);
		snprintf(s->label, n, "file %s", s->path);
		s->timer = event_new(d->base, -1, EV_PERSIST, file_timer_cb, s);
		s->first_done = true;
	} else {
		n = strlen(c->dns_name) + 16;
		s->label = veer_xmalloc(n);
		snprintf(s->label, n, "DNS %s %s", types[c->dns_type], c->dns_name);
		dns_setup(s, c);
		d->first_pending++;
	}
	return s;
}

static void source_start(struct source *s)
{
	if (s->is_file) {
		file_check(s);
		timer_in(s, VEER_DISCOVERY_FILE_POLL_MS);
	} else {
		dns_start(s);
	}
}

struct veer_discovery *veer_discovery_new(struct event_base *base,
					  veer_discovery_changed_fn changed, void *arg)
{
	struct veer_discovery *d = veer_xcalloc(1, sizeof(*d));

	d->base = base;
	d->changed = changed;
	d->arg = arg;
	d->notify_ev = evtimer_new(base, notify_cb, d);
	return d;
}

void veer_discovery_free(struct veer_discovery *d)
{
	bool lookups = false;

	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nsrcs; i++) {
		lookups |= d->srcs[i]->lookups != NULL;
		source_free(d->srcs[i]);
	}
	free(d->srcs);
	/* Cancelled lookups call back (deferred) with DNS_ERR_CANCEL and free
	 * their records then. */
	if (lookups)
		event_base_loop(d->base, EVLOOP_NONBLOCK);
	event_free(d->notify_ev);
	for (size_t i = 0; i < d->ncounters; i++)
		free(d->counters[i].pool);
	free(d->counters);
	free(d);
}

static struct source *find_source(const struct veer_discovery *d, const char *pool)
{
	for (size_t i = 0; i < d->nsrcs; i++)
		if (strcmp(d->srcs[i]->pool, pool) == 0)
			return d->srcs[i];
	return NULL;
}

void veer_discovery_update(struct veer_discovery *d, const struct veer_config *cfg)
{
	struct source **next = veer_xcalloc(cfg->npools ? cfg->npools : 1, sizeof(*next));
	struct source **fresh = veer_xcalloc(cfg->npools ? cfg->npools : 1, sizeof(*fresh));
	size_t n = 0, nfresh = 0, i, k;

	for (i = 0; i < cfg->npools; i++) {
		const struct veer_pool_conf *p = &cfg->pools[i];
		struct source *old, *s;
		char *key;
		if (!p->discovery.enabled)
			continue;
		key = key_of(p);
		old = find_source(d, p->name);
		if (old != NULL && strcmp(old->key, key) == 0) {
			free(key);
			next[n++] = old;
			continue;
		}
		s = source_new(d, p, key);
		if (old != NULL) {
			/* The previous source's set serves until this one has its
			 * own: never an empty pool by accident. */
			s->set = old->set;
			s->nset = old->nset;
			old->set = NULL;
			old->nset = 0;
			veer_info("discovery: pool %s: now from %s", p->name, s->label);
		}
		next[n++] = s;
		fresh[nfresh++] = s;
	}
	/* Stop the sources that are neither kept nor replaced... */
	for (i = 0; i < d->nsrcs; i++) {
		bool kept = false;
		for (k = 0; k < n && !kept; k++)
			kept = next[k] == d->srcs[i];
		if (!kept)
			source_free(d->srcs[i]);
	}
	free(d->srcs);
	d->srcs = next;
	d->nsrcs = n;
	/* ... then start the new ones (a file is read at once). */
	for (i = 0; i < nfresh; i++)
		source_start(fresh[i]);
	free(fresh);
}

static void wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

void veer_discovery_wait(struct veer_discovery *d, veer_ms_t max_ms)
{
	struct timeval tv = { .tv_sec = (time_t)(max_ms / 1000),
			      .tv_usec = (suseconds_t)(max_ms % 1000) * 1000 };
	bool expired = false;
	struct event *t;

	if (d->first_pending > 0) {
		t = evtimer_new(d->base, wait_cb, &expired);
		evtimer_add(t, &tv);
		while (d->first_pending > 0 && !expired)
			if (event_base_loop(d->base, EVLOOP_ONCE) < 0)
				break;
		event_free(t);
	}
	for (size_t i = 0; i < d->nsrcs; i++)
		if (d->srcs[i]->nset == 0)
			veer_warn("discovery: pool %s: no endpoints from %s yet; serving without "
				  "them until it answers",
				  d->srcs[i]->pool, d->srcs[i]->label);
	d->live = true;
}

void veer_discovery_apply(const struct veer_discovery *d, struct veer_config *cfg)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < cfg->npools; i++) {
		struct veer_pool_conf *p = &cfg->pools[i];
		const struct source *s;
		if (!p->discovery.enabled || (s = find_source(d, p->name)) == NULL)
			continue;
		veer_discovery_add_endpoints(p, s->set, s->nset);
	}
}
