/* veer — the config loader's checks across keys.
 *
 * The walk in config_yaml.c validates each key on its own.  What spans
 * several keys (names that must be unique, pool and route references, one
 * action per route, hash_on with balance: hash, the pools of version, split
 * and blue_green, sticky only with split, health check timeout within its
 * interval, a breaker with a rule, retry backoff max not below base) is
 * checked here, after the walk, over the filled structs and the still-loaded
 * YAML document, whose nodes give the line and column of each error.  The
 * same pass fills what depends on other keys (indexes, listener route lists,
 * route pools and actions, rate limit bursts left at 0), builds the TLS
 * contexts of listeners and pools (reading certificate, key and CA files,
 * whose problems are errors at the line of their path) and prepares the
 * balancers of a config without errors.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "veer/balance.h"
#include "veer/common.h"
#include "veer/config.h"
#include "veer/semver.h"
#include "veer/tls.h"

#include "config_int.h"

/* Actions of a route: exactly one must be present. */
static const char *const route_actions[] = { "pool", "respond", "split", "blue_green" };

/* The value of KEY in mapping MAP (the first one if repeated), or NULL;
 * *KN receives the key node when KN is not NULL. */
static yaml_node_t *map_get(struct veer_cfg_walk *w, const yaml_node_t *map, const char *key,
			    yaml_node_t **kn)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = veer_cfg_node(w, p->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0 &&
		    k->data.scalar.length == strlen(key)) {
			if (kn != NULL)
				*kn = k;
			return veer_cfg_node(w, p->value);
		}
	}
	return NULL;
}

/* The text of scalar N, or NULL when N is absent, null or not a scalar. */
static const char *text_of(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE && !veer_cfg_is_null(n) ?
		       (const char *)n->data.scalar.value :
		       NULL;
}

/* The value of top-level key NAME when it is a list, else NULL. */
static yaml_node_t *top_list(struct veer_cfg_walk *w, const yaml_node_t *root, const char *name)
{
	yaml_node_t *n = map_get(w, root, name, NULL);

	return n != NULL && n->type == YAML_SEQUENCE_NODE ? n : NULL;
}

/* The mapping of element I of list SEQ, or NULL. */
static yaml_node_t *elem(struct veer_cfg_walk *w, const yaml_node_t *seq, size_t i)
{
	yaml_node_t *n;

	if (seq == NULL || i >= veer_cfg_seq_len(seq))
		return NULL;
	n = veer_cfg_seq_item(w, seq, i);
	return n->type == YAML_MAPPING_NODE ? n : NULL;
}

/* Names must be unique within listeners, pools and routes: they key the
 * runtime state, metrics and the admin API. */
static void check_unique_names(struct veer_cfg_walk *w, const char *list, const char *what,
			       const yaml_node_t *seq, const char *arr, size_t size,
			       size_t name_off, size_t n)
{
	for (size_t j = 1; j < n; j++) {
		const char *nj = *(char *const *)(arr + j * size + name_off);
		if (nj == NULL)
			continue;
		for (size_t i = 0; i < j; i++) {
			const char *ni = *(char *const *)(arr + i * size + name_off);
			yaml_node_t *a, *b;
			if (ni == NULL || strcmp(ni, nj) != 0)
				continue;
			a = map_get(w, elem(w, seq, i), "name", NULL);
			b = map_get(w, elem(w, seq, j), "name", NULL);
			veer_cfg_error(w, &b->start_mark,
				       "%s[%zu].name: duplicate %s name \"%s\" (first at %zu:%zu)",
				       list, j, what, nj, a->start_mark.line + 1,
				       a->start_mark.column + 1);
			break;
		}
	}
}

/* Where veer_tls_server_build() reports a certificate entry at fault:
 * listener I, whose certificates list is SEQ; N counts the reports. */
struct tls_fault_at {
	struct veer_cfg_walk *w;
	const yaml_node_t *seq;
	size_t i, n;
};

static void tls_fault(void *arg, size_t j, bool key, const char *msg)
{
	struct tls_fault_at *at = arg;
	const char *what = key ? "key" : "cert";
	yaml_node_t *n = map_get(at->w, elem(at->w, at->seq, j), what, NULL);

	at->n++;
	veer_cfg_error(at->w, n != NULL ? &n->start_mark : &at->seq->start_mark,
		       "listeners[%zu].tls.certificates[%zu].%s: %s", at->i, j, what, msg);
}

/* listeners[I] (mapping M) with tls: at least one certificate, each read
 * and checked now and the contexts built, so that a bad file is an error at
 * its line.  When the walk refused an entry (reported already) nothing is
 * built. */
static void finish_listener_tls(struct veer_cfg_walk *w, struct veer_listener_conf *l, size_t i,
				const yaml_node_t *m)
{
	yaml_node_t *tk = NULL, *tn = map_get(w, m, "tls", &tk);
	yaml_node_t *cn = map_get(w, tn, "certificates", NULL);
	struct tls_fault_at at = { .w = w, .seq = cn, .i = i };
	char err[1024];

	if (!l->tls.enabled || cn == NULL)
		return; /* no certificates key: reported by the walk */
	if (veer_cfg_is_null(cn) || (cn->type == YAML_SEQUENCE_NODE && veer_cfg_seq_len(cn) == 0)) {
		veer_cfg_error(w, &cn->start_mark,
			       "listeners[%zu].tls.certificates: at least one certificate is "
			       "needed",
			       i);
		return;
	}
	if (cn->type != YAML_SEQUENCE_NODE || l->tls.ncerts != veer_cfg_seq_len(cn))
		return;
	for (size_t j = 0; j < l->tls.ncerts; j++)
		if (l->tls.certs[j].cert == NULL || l->tls.certs[j].key == NULL)
			return;
	/* The ticket keys live in the registry (by listener name) and are
	 * bound with veer_tls_server_set_tickets() before publication. */
	l->tls.server = veer_tls_server_build(&l->tls, NULL, tls_fault, &at, err, sizeof(err));
	if (l->tls.server == NULL && at.n == 0)
		veer_cfg_error(w, &tk->start_mark, "listeners[%zu].tls: %s", i, err);
}

/* pools[I] (mapping M) with tls: the client context, built now so that a
 * missing or bad CA file is an error at its line. */
static void finish_pool_tls(struct veer_cfg_walk *w, struct veer_pool_conf *p, size_t i,
			    const yaml_node_t *m)
{
	yaml_node_t *tk = NULL, *tn = map_get(w, m, "tls", &tk);
	yaml_node_t *ca = map_get(w, tn, "ca", NULL);
	char err[1024];

	if (!p->tls.enabled || tk == NULL || (ca != NULL && p->tls.ca == NULL))
		return; /* a CA the walk refused was reported */
	p->tls.client = veer_tls_client_new(&p->tls, err, sizeof(err));
	if (p->tls.client != NULL)
		return;
	if (ca != NULL)
		veer_cfg_error(w, &ca->start_mark, "pools[%zu].tls.ca: %s", i, err);
	else
		veer_cfg_error(w, &tk->start_mark, "pools[%zu].tls: %s", i, err);
}

static void finish_listeners(struct veer_cfg_walk *w, const yaml_node_t *root)
{
	struct veer_config *c = w->cfg;
	yaml_node_t *seq = top_list(w, root, "listeners");
	static const yaml_mark_t start = { 0, 0, 0 };
	yaml_node_t *given = map_get(w, root, "listeners", NULL);

	if (c->nlisteners == 0 && (root == NULL || root->type == YAML_MAPPING_NODE) &&
	    (given == NULL || veer_cfg_is_null(given) || seq != NULL))
		veer_cfg_error(w,
			       given != NULL ? &given->start_mark :
			       root != NULL  ? &root->start_mark :
					       &start,
			       "no listeners defined (at least one is needed)");
	check_unique_names(w, "listeners", "listener", seq, (const char *)c->listeners,
			   sizeof(*c->listeners), offsetof(struct veer_listener_conf, name),
			   c->nlisteners);
	for (size_t i = 0; i < c->nlisteners; i++) {
		struct veer_listener_conf *l = &c->listeners[i];
		yaml_node_t *m = elem(w, seq, i), *rs;
		if (m == NULL)
			continue;
		finish_listener_tls(w, l, i, m);
		/* Two listeners on one address would share it through
		 * SO_REUSEPORT and split its connections at random. */
		for (size_t j = 0; j < i; j++) {
			yaml_node_t *ln = map_get(w, m, "listen", NULL);
			const struct veer_listener_conf *o = &c->listeners[j];
			if (ln == NULL || l->addr.len == 0 ||
			    strcmp(l->addr.text, o->addr.text) != 0)
				continue;
			if (l->addr.ss.ss_family == AF_INET ?
				    ((struct sockaddr_in *)&l->addr.ss)->sin_port == 0 :
				    ((struct sockaddr_in6 *)&l->addr.ss)->sin6_port == 0)
				continue;
			veer_cfg_error(
				w, &ln->start_mark,
				"listeners[%zu].listen: %s is already used by listener \"%s\"", i,
				l->addr.text, o->name != NULL ? o->name : "?");
			break;
		}
		rs = map_get(w, m, "routes", NULL);
		if (rs == NULL || veer_cfg_is_null(rs)) {
			/* default: every route, in file order */
			l->routes = veer_xcalloc(c->nroutes + 1, sizeof(*l->routes));
			for (size_t r = 0; r < c->nroutes; r++)
				l->routes[l->nroutes++] = &c->routes[r];
			continue;
		}
		if (rs->type != YAML_SEQUENCE_NODE)
			continue; /* reported by the walk */
		l->routes = veer_xcalloc(veer_cfg_seq_len(rs) + 1, sizeof(*l->routes));
		for (size_t j = 0; j < veer_cfg_seq_len(rs); j++) {
			yaml_node_t *rn = veer_cfg_seq_item(w, rs, j);
			const char *name = text_of(rn);
			struct veer_route_conf *r;
			bool twice = false;
			if (name == NULL)
				continue; /* reported by the walk */
			r = veer_config_route(c, name);
			if (r == NULL) {
				veer_cfg_error(
					w, &rn->start_mark,
					"listeners[%zu].routes[%zu]: route \"%s\" is not defined",
					i, j, name);
				continue;
			}
			for (size_t x = 0; x < l->nroutes; x++)
				twice |= l->routes[x] == r;
			if (twice) {
				veer_cfg_error(
					w, &rn->start_mark,
					"listeners[%zu].routes[%zu]: route \"%s\" is listed twice",
					i, j, name);
				continue;
			}
			l->routes[l->nroutes++] = r;
		}
	}
}

/* True when node N is absent or holds the duration STORED: a value the
 * walk refused (reported already) left the default in place, which must not
 * be checked against other keys. */
static bool gave_duration(const yaml_node_t *n, veer_ms_t stored)
{
	const char *s = text_of(n);
	veer_ms_t v;

	return n == NULL || (s != NULL && veer_parse_duration(s, &v) == VEER_OK && v == stored);
}

/* Of nodes A and B, the one later in the file; FALLBACK when both are
 * NULL. */
static const yaml_node_t *later(const yaml_node_t *a, const yaml_node_t *b,
				const yaml_node_t *fallback)
{
	if (a == NULL && b == NULL)
		return fallback;
	if (a == NULL || (b != NULL && b->start_mark.index > a->start_mark.index))
		return b;
	return a;
}

/* A burst of 0 is the rate per second rounded up, at least 1: computed
 * here so that the runtime never sees 0. */
static void default_burst(struct veer_ratelimit_conf *rl)
{
	uint64_t b;

	if (!rl->enabled || rl->burst != 0)
		return;
	b = (uint64_t)rl->rate; /* rate <= UINT32_MAX per second (veer_parse_rate) */
	if ((double)b < rl->rate)
		b++;
	rl->burst = b < 1 ? 1 : b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

/* pools[I] (mapping M): what spans the keys of health_check, circuit_breaker,
 * retries and rate_limit. */
static void finish_resilience(struct veer_cfg_walk *w, struct veer_pool_conf *p, size_t i,
			      const yaml_node_t *m)
{
	yaml_node_t *hc = map_get(w, m, "health_check", NULL);
	yaml_node_t *cb = map_get(w, m, "circuit_breaker", NULL);
	yaml_node_t *rt = map_get(w, m, "retries", NULL);
	char a[32], b[32];

	if (p->health.enabled && p->health.timeout > p->health.interval) {
		yaml_node_t *tn = map_get(w, hc, "timeout", NULL);
		yaml_node_t *in = map_get(w, hc, "interval", NULL);
		if (gave_duration(tn, p->health.timeout) && gave_duration(in, p->health.interval))
			veer_cfg_error(w, &(tn != NULL ? tn : in)->start_mark,
				       "pools[%zu].health_check.timeout: must not exceed interval "
				       "(%s > %s)",
				       i, veer_format_duration(a, sizeof(a), p->health.timeout),
				       veer_format_duration(b, sizeof(b), p->health.interval));
	}
	/* Both defaults are above 0: both keys were written as 0. */
	if (p->breaker.enabled && p->breaker.consecutive_failures == 0 &&
	    p->breaker.failure_rate == 0)
		veer_cfg_error(w,
			       &later(map_get(w, cb, "consecutive_failures", NULL),
				      map_get(w, cb, "failure_rate", NULL), m)
					->start_mark,
			       "pools[%zu].circuit_breaker: consecutive_failures and failure_rate "
			       "cannot both be 0",
			       i);
	if (p->retries.enabled && p->retries.backoff_max < p->retries.backoff_base) {
		yaml_node_t *bo = map_get(w, rt, "backoff", NULL);
		yaml_node_t *bn = map_get(w, bo, "base", NULL), *mn = map_get(w, bo, "max", NULL);
		if (gave_duration(bn, p->retries.backoff_base) &&
		    gave_duration(mn, p->retries.backoff_max))
			veer_cfg_error(w, &(mn != NULL ? mn : bn)->start_mark,
				       "pools[%zu].retries.backoff.max: must not be below base "
				       "(%s < %s)",
				       i,
				       veer_format_duration(a, sizeof(a), p->retries.backoff_max),
				       veer_format_duration(b, sizeof(b), p->retries.backoff_base));
	}
	/* A pool's rate limit is one bucket for the whole pool. */
	if (p->rate_limit.enabled)
		p->rate_limit.key = VEER_RLKEY_ROUTE;
	default_burst(&p->rate_limit);
}

/* pools[I] (mapping M) with discovery: one source (dns or file); port
 * exactly with types A and AAAA; a relative file path made relative to the
 * config file's directory (veer usually runs with / as its directory). */
static void finish_discovery(struct veer_cfg_walk *w, struct veer_pool_conf *p, size_t i,
			     const yaml_node_t *m)
{
	yaml_node_t *dk = NULL, *dn = map_get(w, m, "discovery", &dk);
	yaml_node_t *nk = NULL, *fk = NULL, *pk = NULL, *dns, *tn;
	struct veer_discovery_conf *d = &p->discovery;
	const char *type, *slash;

	if (!d->enabled || dn == NULL || dn->type != YAML_MAPPING_NODE) {
		if (d->enabled && dk != NULL && veer_cfg_is_null(dn))
			veer_cfg_error(w, &dk->start_mark,
				       "pools[%zu].discovery: needs dns or file", i);
		return;
	}
	dns = map_get(w, dn, "dns", &nk);
	map_get(w, dn, "file", &fk);
	if (nk != NULL && fk != NULL) {
		const yaml_node_t *second = nk->start_mark.index > fk->start_mark.index ? nk : fk;
		veer_cfg_error(w, &second->start_mark,
			       "pools[%zu].discovery: give dns or file, not both", i);
	} else if (nk == NULL && fk == NULL) {
		veer_cfg_error(w, &dk->start_mark, "pools[%zu].discovery: needs dns or file", i);
	}
	if (d->dns && dns != NULL && dns->type == YAML_MAPPING_NODE) {
		tn = map_get(w, dns, "type", NULL);
		map_get(w, dns, "port", &pk);
		type = tn != NULL ? text_of(tn) : "SRV";
		if (type != NULL && veer_cfg_choice_index("pools[].discovery.dns.type", type) >= 0) {
			if (d->dns_type != VEER_DNS_SRV && pk == NULL)
				veer_cfg_error(w, &(tn != NULL ? tn : dns)->start_mark,
					       "pools[%zu].discovery.dns.port: type %s needs port "
					       "(the records carry addresses only)",
					       i, type);
			else if (d->dns_type == VEER_DNS_SRV && pk != NULL)
				veer_cfg_error(w, &pk->start_mark,
					       "pools[%zu].discovery.dns.port: only for types A and "
					       "AAAA (SRV records carry the port)",
					       i);
		}
	}
	if (d->file != NULL && d->file[0] != '/' && (slash = strrchr(w->name, '/')) != NULL) {
		char *full = NULL;
		size_t dl = (size_t)(slash - w->name) + 1;
		full = veer_xmalloc(dl + strlen(d->file) + 1);
		memcpy(full, w->name, dl);
		strcpy(full + dl, d->file);
		free(d->file);
		d->file = full;
	}
}

static void finish_pools(struct veer_cfg_walk *w, const yaml_node_t *root)
{
	struct veer_config *c = w->cfg;
	yaml_node_t *seq = top_list(w, root, "pools");

	check_unique_names(w, "pools", "pool", seq, (const char *)c->pools, sizeof(*c->pools),
			   offsetof(struct veer_pool_conf, name), c->npools);
	for (size_t i = 0; i < c->npools; i++) {
		struct veer_pool_conf *p = &c->pools[i];
		yaml_node_t *m = elem(w, seq, i), *sv, *hn, *hk = NULL, *bn, *bk = NULL;
		const char *label = p->name != NULL ? p->name : "?";
		p->index = i;
		if (m == NULL)
			continue;
		sv = map_get(w, m, "servers", NULL);
		finish_discovery(w, p, i, m);
		/* With discovery, servers may be empty: discovery brings them. */
		if (!p->discovery.enabled && p->nservers == 0 && sv == NULL)
			veer_cfg_error(w, &m->start_mark, "pools[%zu]: pool \"%s\" has no servers",
				       i, label);
		else if (!p->discovery.enabled && p->nservers == 0 &&
			 (veer_cfg_is_null(sv) || sv->type == YAML_SEQUENCE_NODE))
			veer_cfg_error(w, &sv->start_mark,
				       "pools[%zu].servers: pool \"%s\" has no servers", i, label);
		hn = map_get(w, m, "hash_on", &hk);
		bn = map_get(w, m, "balance", &bk);
		if (bn == NULL || (text_of(bn) != NULL &&
				   veer_cfg_choice_index("pools[].balance", text_of(bn)) >= 0)) {
			if (p->balance == VEER_BALANCE_HASH && hn == NULL)
				veer_cfg_error(w, bk != NULL ? &bk->start_mark : &m->start_mark,
					       "pools[%zu].balance: balance hash needs hash_on "
					       "(header:NAME, cookie:NAME, client_ip or path)",
					       i);
			else if (p->balance != VEER_BALANCE_HASH && hn != NULL)
				veer_cfg_error(w, &hk->start_mark,
					       "pools[%zu].hash_on: only valid with balance: hash",
					       i);
		}
		finish_resilience(w, p, i, m);
		finish_pool_tls(w, p, i, m);
		sv = sv != NULL && sv->type == YAML_SEQUENCE_NODE ? sv : NULL;
		for (size_t j = 1; j < p->nservers; j++) {
			for (size_t x = 0; x < j; x++) {
				yaml_node_t *an;
				if (p->servers[j].addr.len == 0 ||
				    strcmp(p->servers[j].addr.text, p->servers[x].addr.text) != 0)
					continue;
				an = map_get(w, elem(w, sv, j), "address", NULL);
				if (an != NULL)
					veer_cfg_error(w, &an->start_mark,
						       "pools[%zu].servers[%zu].address: duplicate "
						       "server %s in pool \"%s\"",
						       i, j, p->servers[j].addr.text, label);
				break;
			}
		}
	}
}

/* The pool named by scalar N, or NULL.  A name that is not defined is
 * reported as "CPATH: pool "x" is not defined"; a node that is no name at
 * all was reported by the walk. */
static struct veer_pool_conf *pool_ref(struct veer_cfg_walk *w, const yaml_node_t *n,
				       const char *cpath)
{
	const char *name = text_of(n);
	struct veer_pool_conf *p;

	if (name == NULL)
		return NULL;
	p = veer_config_pool(w->cfg, name);
	if (p == NULL)
		veer_cfg_error(w, &n->start_mark, "%s: pool \"%s\" is not defined", cpath, name);
	return p;
}

/* True when the YAML of pool P has a version key (valid or not: a bad one
 * was reported by the walk already). */
static bool pool_has_version_key(struct veer_cfg_walk *w, const yaml_node_t *root,
				 const struct veer_pool_conf *p)
{
	return map_get(w, elem(w, top_list(w, root, "pools"), p->index), "version", NULL) != NULL;
}

/* routes[I].version.pools: at least one defined pool, each with a version,
 * each listed once, no two with the same version (the highest that
 * satisfies must be one pool). */
static void finish_version(struct veer_cfg_walk *w, const yaml_node_t *root,
			   struct veer_route_conf *r, size_t i, const yaml_node_t *m)
{
	yaml_node_t *vn = map_get(w, m, "version", NULL), *ps;
	char cp[96];
	size_t n;

	ps = vn != NULL ? map_get(w, vn, "pools", NULL) : NULL;
	if (ps == NULL || ps->type != YAML_SEQUENCE_NODE)
		return; /* absent, or reported by the walk */
	n = veer_cfg_seq_len(ps);
	if (n == 0) {
		veer_cfg_error(w, &ps->start_mark,
			       "routes[%zu].version.pools: at least one pool is needed", i);
		return;
	}
	if (n > VEER_ROUTE_POOLS_MAX) {
		veer_cfg_error(w, &ps->start_mark, "routes[%zu].version.pools: at most %d pools", i,
			       VEER_ROUTE_POOLS_MAX);
		return;
	}
	r->version_pools = veer_xcalloc(n, sizeof(*r->version_pools));
	for (size_t j = 0; j < n; j++) {
		yaml_node_t *pn = veer_cfg_seq_item(w, ps, j);
		struct veer_pool_conf *p;
		bool bad = false;
		snprintf(cp, sizeof(cp), "routes[%zu].version.pools[%zu]", i, j);
		p = pool_ref(w, pn, cp);
		if (p == NULL)
			continue;
		if (p->version == NULL) {
			if (!pool_has_version_key(w, root, p))
				veer_cfg_error(w, &pn->start_mark,
					       "%s: pool \"%s\" has no version (version routing "
					       "needs one)",
					       cp, p->name);
			continue;
		}
		for (size_t x = 0; x < r->nversion_pools && !bad; x++) {
			const struct veer_pool_conf *o = r->version_pools[x];
			bad = o == p || veer_semver_cmp(&o->semver, &p->semver) == 0;
			if (o == p)
				veer_cfg_error(w, &pn->start_mark,
					       "%s: pool \"%s\" is listed twice", cp, p->name);
			else if (bad)
				veer_cfg_error(
					w, &pn->start_mark,
					"%s: pool \"%s\" has the same version as pool \"%s\" "
					"(%s and %s)",
					cp, p->name, o->name, p->version, o->version);
		}
		if (!bad)
			r->version_pools[r->nversion_pools++] = p;
	}
}

/* True when weight node N is written as zero: a weight the walk refused
 * is stored as 0 too, and must not also count as "sum to 0". */
static bool written_zero(const yaml_node_t *n)
{
	const char *s = text_of(n);

	return s != NULL && s[0] != '\0' && strspn(s, "0") == strlen(s);
}

/* routes[I].split (key node SK, value SN): at least one entry, each a
 * defined pool listed once, weights not all 0. */
static void finish_split(struct veer_cfg_walk *w, struct veer_route_conf *r, size_t i,
			 const yaml_node_t *sk, const yaml_node_t *sn)
{
	char cp[96];
	bool all_zero = true;

	if (sn->type != YAML_SEQUENCE_NODE && !veer_cfg_is_null(sn))
		return; /* reported by the walk */
	if (r->nsplit == 0) {
		veer_cfg_error(w, &sn->start_mark,
			       "routes[%zu].split: at least one entry is needed", i);
		return;
	}
	if (r->nsplit > VEER_ROUTE_POOLS_MAX) {
		veer_cfg_error(w, &sn->start_mark, "routes[%zu].split: at most %d entries", i,
			       VEER_ROUTE_POOLS_MAX);
		return;
	}
	for (size_t j = 0; j < r->nsplit; j++) {
		yaml_node_t *em = elem(w, sn, j), *pn;
		struct veer_pool_conf *p;
		all_zero &= written_zero(map_get(w, em, "weight", NULL));
		pn = map_get(w, em, "pool", NULL);
		snprintf(cp, sizeof(cp), "routes[%zu].split[%zu].pool", i, j);
		p = pool_ref(w, pn, cp);
		for (size_t x = 0; p != NULL && x < j; x++) {
			if (r->split[x].pool != p)
				continue;
			veer_cfg_error(w, &pn->start_mark, "%s: pool \"%s\" is listed twice", cp,
				       p->name);
			p = NULL;
		}
		r->split[j].pool = p;
	}
	if (all_zero)
		veer_cfg_error(w, &sk->start_mark, "routes[%zu].split: split weights sum to 0", i);
}

/* routes[I].sticky (key node STK, value STN): one of header or cookie, and
 * only with split (SPLIT: the route has a split key). */
static void finish_sticky(struct veer_cfg_walk *w, size_t i, const yaml_node_t *stk,
			  const yaml_node_t *stn, bool split)
{
	yaml_node_t *hk = NULL, *ck = NULL;

	if (!split)
		veer_cfg_error(w, &stk->start_mark, "routes[%zu].sticky: only valid with split", i);
	if (stn->type != YAML_MAPPING_NODE && !veer_cfg_is_null(stn))
		return; /* reported by the walk */
	map_get(w, stn, "header", &hk);
	map_get(w, stn, "cookie", &ck);
	if (hk != NULL && ck != NULL) {
		const yaml_node_t *second = hk->start_mark.index > ck->start_mark.index ? hk : ck;
		veer_cfg_error(w, &second->start_mark,
			       "routes[%zu].sticky: give header or cookie, not both", i);
	} else if (hk == NULL && ck == NULL) {
		veer_cfg_error(w, &stn->start_mark, "routes[%zu].sticky: needs header or cookie",
			       i);
	}
}

/* routes[I].blue_green (value BG): two different defined pools. */
static void finish_blue_green(struct veer_cfg_walk *w, struct veer_route_conf *r, size_t i,
			      const yaml_node_t *bg)
{
	yaml_node_t *bn = map_get(w, bg, "blue", NULL), *gn = map_get(w, bg, "green", NULL);
	char cp[96];

	snprintf(cp, sizeof(cp), "routes[%zu].blue_green.blue", i);
	r->blue = pool_ref(w, bn, cp);
	snprintf(cp, sizeof(cp), "routes[%zu].blue_green.green", i);
	r->green = pool_ref(w, gn, cp);
	if (r->blue != NULL && r->blue == r->green)
		veer_cfg_error(w, &gn->start_mark,
			       "%s: blue and green must be different pools (both \"%s\")", cp,
			       r->blue->name);
}

static void finish_routes(struct veer_cfg_walk *w, const yaml_node_t *root)
{
	static const enum veer_route_action action_of[] = { VEER_ACTION_POOL, VEER_ACTION_RESPOND,
							    VEER_ACTION_SPLIT,
							    VEER_ACTION_BLUE_GREEN };
	struct veer_config *c = w->cfg;
	yaml_node_t *seq = top_list(w, root, "routes");
	const char *sup[VEER_ARRAY_LEN(route_actions)];
	char supported[128], label[160];
	size_t nsup = 0;

	_Static_assert(VEER_ARRAY_LEN(action_of) == VEER_ARRAY_LEN(route_actions),
		       "one action per key");
	for (size_t a = 0; a < VEER_ARRAY_LEN(route_actions); a++) {
		char kp[64];
		snprintf(kp, sizeof(kp), "routes[].%s", route_actions[a]);
		if (veer_cfg_key_supported(kp))
			sup[nsup++] = route_actions[a];
	}
	/* "pool, respond, split or blue_green" */
	supported[0] = '\0';
	for (size_t k = 0; k < nsup; k++) {
		size_t o = strlen(supported);
		snprintf(supported + o, sizeof(supported) - o, "%s%s",
			 k == 0        ? "" :
			 k + 1 == nsup ? " or " :
					 ", ",
			 sup[k]);
	}
	check_unique_names(w, "routes", "route", seq, (const char *)c->routes, sizeof(*c->routes),
			   offsetof(struct veer_route_conf, name), c->nroutes);
	for (size_t i = 0; i < c->nroutes; i++) {
		struct veer_route_conf *r = &c->routes[i];
		yaml_node_t *m = elem(w, seq, i), *pn, *sn, *sk = NULL, *stn, *stk = NULL, *bg;
		bool seen[VEER_ARRAY_LEN(route_actions)] = { false };
		size_t found = 0, first = 0;
		char cp[64];
		r->index = i;
		default_burst(&r->rate_limit);
		if (m == NULL)
			continue;
		if (r->name != NULL)
			snprintf(label, sizeof(label), "route \"%s\"", r->name);
		else
			snprintf(label, sizeof(label), "route");
		/* in file order: the second action is the one at fault */
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
		     p < m->data.mapping.pairs.top; p++) {
			yaml_node_t *k = veer_cfg_node(w, p->key);
			const char *name = text_of(k);
			size_t a = 0;
			while (name != NULL && a < VEER_ARRAY_LEN(route_actions) &&
			       strcmp(name, route_actions[a]) != 0)
				a++;
			if (name == NULL || a == VEER_ARRAY_LEN(route_actions) || seen[a])
				continue; /* not an action, or a duplicate key the walk reported */
			seen[a] = true;
			if (found++ == 0) {
				first = a;
				continue;
			}
			veer_cfg_error(w, &k->start_mark,
				       "routes[%zu].%s: %s has more than one action (%s and %s)", i,
				       name, label, route_actions[first], name);
		}
		if (found == 0)
			veer_cfg_error(w, &m->start_mark, "routes[%zu]: %s has no action (%s)", i,
				       label, supported);
		else if (found == 1)
			r->action = action_of[first];
		pn = map_get(w, m, "pool", NULL);
		snprintf(cp, sizeof(cp), "routes[%zu].pool", i);
		r->pool = pool_ref(w, pn, cp);
		finish_version(w, root, r, i, m);
		sn = map_get(w, m, "split", &sk);
		if (sn != NULL)
			finish_split(w, r, i, sk, sn);
		stn = map_get(w, m, "sticky", &stk);
		if (stn != NULL)
			finish_sticky(w, i, stk, stn, sn != NULL);
		bg = map_get(w, m, "blue_green", NULL);
		if (bg != NULL && bg->type == YAML_MAPPING_NODE)
			finish_blue_green(w, r, i, bg);
		if (r->rate_limit.enabled && r->rate_limit.global && !c->global.redis_enabled) {
			yaml_node_t *rl = map_get(w, m, "rate_limit", NULL);
			yaml_node_t *sc = rl != NULL ? map_get(w, rl, "scope", NULL) : NULL;
			veer_cfg_error(w, &(sc != NULL ? sc : m)->start_mark,
				       "routes[%zu].rate_limit.scope: global needs global.redis (the "
				       "Redis server that holds the shared buckets)",
				       i);
		}
	}
}

static void prepare_balancers(struct veer_cfg_walk *w, const yaml_node_t *root)
{
	struct veer_config *c = w->cfg;
	yaml_node_t *seq = top_list(w, root, "pools");

	for (size_t i = 0; i < c->npools; i++) {
		struct veer_pool_conf *p = &c->pools[i];
		const struct veer_balancer_ops *b = veer_balancer_for(p->balance);
		if (b->prepare != NULL && b->prepare(p) != VEER_OK) {
			yaml_node_t *m = elem(w, seq, i);
			static const yaml_mark_t start = { 0, 0, 0 };
			veer_cfg_error(w, m != NULL ? &m->start_mark : &start,
				       "pools[%zu]: balancer %s cannot prepare pool \"%s\"", i,
				       b->name, p->name);
			continue;
		}
		p->balancer = b;
	}
}

void veer_cfg_finish(struct veer_cfg_walk *w, const yaml_node_t *root)
{
	finish_pools(w, root);
	finish_routes(w, root);
	finish_listeners(w, root);
	if (w->nerr == 0)
		prepare_balancers(w, root);
}
