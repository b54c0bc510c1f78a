/* veer — the config loader's checks across keys.
 *
 * The walk in config_yaml.c validates each key on its own.  What spans
 * several keys (names that must be unique, pool and route references, one
 * action per route, hash_on with balance: hash) is checked here, after the
 * walk, over the filled structs and the still-loaded YAML document, whose
 * nodes give the line and column of each error.  The same pass fills what
 * depends on other keys (indexes, listener route lists, route pools and
 * actions) and prepares the balancers of a config without errors.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "veer/balance.h"
#include "veer/common.h"
#include "veer/config.h"

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
		if (p->nservers == 0 && sv == NULL)
			veer_cfg_error(w, &m->start_mark, "pools[%zu]: pool \"%s\" has no servers",
				       i, label);
		else if (p->nservers == 0 &&
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

static void finish_routes(struct veer_cfg_walk *w, const yaml_node_t *root)
{
	struct veer_config *c = w->cfg;
	yaml_node_t *seq = top_list(w, root, "routes");
	char supported[128], label[160];

	supported[0] = '\0';
	for (size_t a = 0; a < VEER_ARRAY_LEN(route_actions); a++) {
		char kp[64];
		size_t o = strlen(supported);
		snprintf(kp, sizeof(kp), "routes[].%s", route_actions[a]);
		if (veer_cfg_key_supported(kp))
			snprintf(supported + o, sizeof(supported) - o, "%s%s", o ? " or " : "",
				 route_actions[a]);
	}
	check_unique_names(w, "routes", "route", seq, (const char *)c->routes, sizeof(*c->routes),
			   offsetof(struct veer_route_conf, name), c->nroutes);
	for (size_t i = 0; i < c->nroutes; i++) {
		struct veer_route_conf *r = &c->routes[i];
		yaml_node_t *m = elem(w, seq, i), *kn[VEER_ARRAY_LEN(route_actions)], *pn;
		size_t found = 0, first = 0;
		r->index = i;
		if (m == NULL)
			continue;
		if (r->name != NULL)
			snprintf(label, sizeof(label), "route \"%s\"", r->name);
		else
			snprintf(label, sizeof(label), "route");
		for (size_t a = 0; a < VEER_ARRAY_LEN(route_actions); a++) {
			kn[a] = NULL;
			if (map_get(w, m, route_actions[a], &kn[a]) == NULL)
				continue;
			if (found++ == 0) {
				first = a;
				continue;
			}
			veer_cfg_error(w, &kn[a]->start_mark,
				       "routes[%zu].%s: %s has more than one action (%s and %s)", i,
				       route_actions[a], label, route_actions[first],
				       route_actions[a]);
		}
		if (found == 0)
			veer_cfg_error(w, &m->start_mark, "routes[%zu]: %s has no action (%s)", i,
				       label, supported);
		pn = map_get(w, m, "pool", NULL);
		if (text_of(pn) != NULL) {
			r->pool = veer_config_pool(c, text_of(pn));
			if (r->pool == NULL)
				veer_cfg_error(w, &pn->start_mark,
					       "routes[%zu].pool: pool \"%s\" is not defined", i,
					       text_of(pn));
		}
		if (found == 1 && kn[0] != NULL)
			r->action = VEER_ACTION_POOL;
		else if (found == 1 && kn[1] != NULL)
			r->action = VEER_ACTION_RESPOND;
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
