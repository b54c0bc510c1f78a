/* veer — runtime changes made through the admin API (see overrides.h).
 *
 * Each override remembers the file's value of its field when it was made
 * (or last confirmed by a reload).  A reload keeps it while the new file
 * still has that value and drops it as soon as the file says something
 * else: the file wins where it changed the same field.  Setting a field back
 * to the file's value removes the override, which is how an operator
 * clears one.
 *
 * The fields:
 *  - a split's weights, as one field (the whole weight vector): a file that
 *    changes any weight of the split, or its pools, wins;
 *  - a blue-green switch's active side (the file wins when it changes
 *    active, blue or green);
 *  - a server's weight;
 *  - a server's drain, which the file has no field for: it stays until
 *    {"drain": false} or until the server leaves the pool.
 * Everything here runs on the control thread only.
 */
#include "veer/overrides.h"
#include "veer/balance.h"
#include "veer/common.h"

#include <stdlib.h>
#include <string.h>

#define SPLIT_WEIGHT_MAX 10000u  /* routes[].split[].weight's range */
#define SERVER_WEIGHT_MAX 1000u  /* pools[].servers[].weight's range */

struct split_ov {
	char *route;
	size_t n;
	char **pools;            /* the split's pools, in file order */
	uint32_t *weights;       /* the override */
	uint32_t *file_weights;  /* the file's weights it was made against */
};

struct bg_ov {
	char *route;
	char *blue, *green;      /* the file's pools it was made against */
	bool green_active;       /* the override */
	bool file_green;         /* the file's value */
};

struct server_ov {
	char *pool;
	char *address;           /* as written in the file */
	bool has_weight;
	uint32_t weight;         /* the override, when has_weight */
	uint32_t file_weight;    /* the file's weight it was made against */
	bool drain;
};

struct veer_overrides {
	struct split_ov *splits;
	size_t nsplits;
	struct bg_ov *bgs;
	size_t nbgs;
	struct server_ov *servers;
	size_t nservers;
};

struct veer_overrides *veer_overrides_new(void)
{
	return veer_xcalloc(1, sizeof(struct veer_overrides));
}

static void split_fini(struct split_ov *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->pools[i]);
	free(s->pools);
	free(s->weights);
	free(s->file_weights);
	free(s->route);
}

static void bg_fini(struct bg_ov *b)
{
	free(b->route);
	free(b->blue);
	free(b->green);
}

static void server_fini(struct server_ov *s)
{
	free(s->pool);
	free(s->address);
}

void veer_overrides_free(struct veer_overrides *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->nsplits; i++)
		split_fini(&o->splits[i]);
	free(o->splits);
	for (size_t i = 0; i < o->nbgs; i++)
		bg_fini(&o->bgs[i]);
	free(o->bgs);
	for (size_t i = 0; i < o->nservers; i++)
		server_fini(&o->servers[i]);
	free(o->servers);
	free(o);
}

struct veer_overrides *veer_overrides_copy(const struct veer_overrides *o)
{
	struct veer_overrides *c = veer_overrides_new();

	c->nsplits = o->nsplits;
	c->splits = veer_xcalloc(o->nsplits ? o->nsplits : 1, sizeof(*c->splits));
	for (size_t i = 0; i < o->nsplits; i++) {
		const struct split_ov *s = &o->splits[i];
		struct split_ov *d = &c->splits[i];
		d->route = veer_xstrdup(s->route);
		d->n = s->n;
		d->pools = veer_xcalloc(s->n, sizeof(*d->pools));
		d->weights = veer_xcalloc(s->n, sizeof(*d->weights));
		d->file_weights = veer_xcalloc(s->n, sizeof(*d->file_weights));
		for (size_t k = 0; k < s->n; k++) {
			d->pools[k] = veer_xstrdup(s->pools[k]);
			d->weights[k] = s->weights[k];
			d->file_weights[k] = s->file_weights[k];
		}
	}
	c->nbgs = o->nbgs;
	c->bgs = veer_xcalloc(o->nbgs ? o->nbgs : 1, sizeof(*c->bgs));
	for (size_t i = 0; i < o->nbgs; i++) {
		c->bgs[i] = o->bgs[i];
		c->bgs[i].route = veer_xstrdup(o->bgs[i].route);
		c->bgs[i].blue = veer_xstrdup(o->bgs[i].blue);
		c->bgs[i].green = veer_xstrdup(o->bgs[i].green);
	}
	c->nservers = o->nservers;
	c->servers = veer_xcalloc(o->nservers ? o->nservers : 1, sizeof(*c->servers));
	for (size_t i = 0; i < o->nservers; i++) {
		c->servers[i] = o->servers[i];
		c->servers[i].pool = veer_xstrdup(o->servers[i].pool);
		c->servers[i].address = veer_xstrdup(o->servers[i].address);
	}
	return c;
}

/* ---- lookups ------------------------------------------------------------ */

static struct split_ov *find_split(const struct veer_overrides *o, const char *route)
{
	for (size_t i = 0; i < o->nsplits; i++)
		if (strcmp(o->splits[i].route, route) == 0)
			return &o->splits[i];
	return NULL;
}

static struct bg_ov *find_bg(const struct veer_overrides *o, const char *route)
{
	for (size_t i = 0; i < o->nbgs; i++)
		if (strcmp(o->bgs[i].route, route) == 0)
			return &o->bgs[i];
	return NULL;
}

static struct server_ov *find_server(const struct veer_overrides *o, const char *pool,
				     const char *address)
{
	for (size_t i = 0; i < o->nservers; i++)
		if (strcmp(o->servers[i].pool, pool) == 0 &&
		    strcmp(o->servers[i].address, address) == 0)
			return &o->servers[i];
	return NULL;
}

/* The server of POOL named ADDRESS: as written in the file, or else its
 * canonical resolved text ("127.0.0.1:80"). */
static struct veer_server_conf *conf_server(const struct veer_pool_conf *pool,
					    const char *address)
{
	for (size_t i = 0; i < pool->nservers; i++)
		if (strcmp(pool->servers[i].address, address) == 0)
			return &pool->servers[i];
	for (size_t i = 0; i < pool->nservers; i++)
		if (strcmp(pool->servers[i].addr.text, address) == 0)
			return &pool->servers[i];
	return NULL;
}

/* Index of POOL's entry in route R's split, or -1. */
static int split_index(const struct veer_route_conf *r, const char *pool)
{
	for (size_t i = 0; i < r->nsplit; i++)
		if (strcmp(r->split[i].pool->name, pool) == 0)
			return (int)i;
	return -1;
}

static const char *action_name(enum veer_route_action a)
{
	switch (a) {
	case VEER_ACTION_POOL:
		return "pool";
	case VEER_ACTION_RESPOND:
		return "respond";
	case VEER_ACTION_SPLIT:
		return "split";
	case VEER_ACTION_BLUE_GREEN:
		return "blue_green";
	case VEER_ACTION_NONE:
		break;
	}
	return "none";
}

/* ---- removal ------------------------------------------------------------ */

static void drop_split(struct veer_overrides *o, struct split_ov *s)
{
	size_t i = (size_t)(s - o->splits);

	split_fini(s);
	memmove(&o->splits[i], &o->splits[i + 1], (o->nsplits - i - 1) * sizeof(*s));
	o->nsplits--;
}

static void drop_bg(struct veer_overrides *o, struct bg_ov *b)
{
	size_t i = (size_t)(b - o->bgs);

	bg_fini(b);
	memmove(&o->bgs[i], &o->bgs[i + 1], (o->nbgs - i - 1) * sizeof(*b));
	o->nbgs--;
}

static void drop_server(struct veer_overrides *o, struct server_ov *s)
{
	size_t i = (size_t)(s - o->servers);

	server_fini(s);
	memmove(&o->servers[i], &o->servers[i + 1], (o->nservers - i - 1) * sizeof(*s));
	o->nservers--;
}

/* ---- recording ---------------------------------------------------------- */

int veer_override_split(struct veer_overrides *o, const struct veer_config *file_cfg,
			const char *route, const char *const *pools, const uint32_t *weights,
			size_t n, struct veer_errors *errs)
{
	const struct veer_route_conf *r = veer_config_route(file_cfg, route);
	uint32_t w[VEER_ROUTE_POOLS_MAX];
	bool seen[VEER_ROUTE_POOLS_MAX] = { false };
	struct split_ov *s;
	uint64_t total = 0;
	bool same = true;
	size_t i;

	if (r == NULL) {
		veer_errors_add(errs, "unknown route \"%s\"", route);
		return VEER_ERR;
	}
	if (r->action != VEER_ACTION_SPLIT) {
		veer_errors_add(errs, "route \"%s\" has no split (its action is %s)", route,
				action_name(r->action));
		return VEER_ERR;
	}
	for (i = 0; i < n; i++) {
		int k = split_index(r, pools[i]);
		if (k < 0) {
			veer_errors_add(errs, "pool \"%s\" is not in the split of route \"%s\"",
					pools[i], route);
			return VEER_ERR;
		}
		if (seen[k]) {
			veer_errors_add(errs, "pool \"%s\" is named twice", pools[i]);
			return VEER_ERR;
		}
		if (weights[i] > SPLIT_WEIGHT_MAX) {
			veer_errors_add(errs, "weight of pool \"%s\": %u is out of range 0..%u",
					pools[i], weights[i], SPLIT_WEIGHT_MAX);
			return VEER_ERR;
		}
		seen[k] = true;
		w[k] = weights[i];
		total += weights[i];
	}
	for (i = 0; i < r->nsplit; i++) {
		if (!seen[i]) {
			veer_errors_add(errs, "pool \"%s\" of the split of route \"%s\" has no weight "
					"(name every pool of the split)", r->split[i].pool->name, route);
			return VEER_ERR;
		}
	}
	if (total == 0) {
		veer_errors_add(errs, "the weights must not all be 0");
		return VEER_ERR;
	}
	for (i = 0; i < r->nsplit; i++)
		if (w[i] != r->split[i].weight)
			same = false;
	s = find_split(o, route);
	if (same) {
		/* The file's own weights: no override any more. */
		if (s != NULL)
			drop_split(o, s);
		return VEER_OK;
	}
	if (s != NULL) {
		split_fini(s);
	} else {
		o->splits = veer_xrealloc(o->splits, (o->nsplits + 1) * sizeof(*o->splits));
		s = &o->splits[o->nsplits++];
	}
	memset(s, 0, sizeof(*s));
	s->route = veer_xstrdup(route);
	s->n = r->nsplit;
	s->pools = veer_xcalloc(r->nsplit, sizeof(*s->pools));
	s->weights = veer_xcalloc(r->nsplit, sizeof(*s->weights));
	s->file_weights = veer_xcalloc(r->nsplit, sizeof(*s->file_weights));
	for (i = 0; i < r->nsplit; i++) {
		s->pools[i] = veer_xstrdup(r->split[i].pool->name);
		s->weights[i] = w[i];
		s->file_weights[i] = r->split[i].weight;
	}
	return VEER_OK;
}

int veer_override_blue_green(struct veer_overrides *o, const struct veer_config *file_cfg,
			     const char *route, bool green, struct veer_errors *errs)
{
	const struct veer_route_conf *r = veer_config_route(file_cfg, route);
	struct bg_ov *b;

	if (r == NULL) {
		veer_errors_add(errs, "unknown route \"%s\"", route);
		return VEER_ERR;
	}
	if (r->action != VEER_ACTION_BLUE_GREEN) {
		veer_errors_add(errs, "route \"%s\" has no blue_green (its action is %s)", route,
				action_name(r->action));
		return VEER_ERR;
	}
	b = find_bg(o, route);
	if (green == r->green_active) {
		if (b != NULL)
			drop_bg(o, b);
		return VEER_OK;
	}
	if (b == NULL) {
		o->bgs = veer_xrealloc(o->bgs, (o->nbgs + 1) * sizeof(*o->bgs));
		b = &o->bgs[o->nbgs++];
		memset(b, 0, sizeof(*b));
		b->route = veer_xstrdup(route);
		b->blue = veer_xstrdup(r->blue->name);
		b->green = veer_xstrdup(r->green->name);
	}
	b->green_active = green;
	b->file_green = r->green_active;
	return VEER_OK;
}

int veer_override_server(struct veer_overrides *o, const struct veer_config *file_cfg,
			 const char *pool, const char *address, int weight, int drain,
			 struct veer_errors *errs)
{
	const struct veer_pool_conf *p = veer_config_pool(file_cfg, pool);
	const struct veer_server_conf *sc;
	struct server_ov *s, next;

	if (p == NULL) {
		veer_errors_add(errs, "unknown pool \"%s\"", pool);
		return VEER_ERR;
	}
	sc = conf_server(p, address);
	if (sc == NULL) {
		veer_errors_add(errs, "pool \"%s\" has no server \"%s\"", pool, address);
		return VEER_ERR;
	}
	if (weight < 0 && drain < 0) {
		veer_errors_add(errs, "nothing to change: give \"weight\" or \"drain\"");
		return VEER_ERR;
	}
	if (weight > (int)SERVER_WEIGHT_MAX) {
		veer_errors_add(errs, "weight: %d is out of range 0..%u", weight, SERVER_WEIGHT_MAX);
		return VEER_ERR;
	}
	s = find_server(o, pool, sc->address);
	memset(&next, 0, sizeof(next));
	if (s != NULL)
		next = *s;
	if (weight >= 0) {
		/* The file's own weight clears the override. */
		next.has_weight = (uint32_t)weight != sc->weight;
		next.weight = (uint32_t)weight;
		next.file_weight = sc->weight;
	}
	if (drain >= 0)
		next.drain = drain != 0;
	if (!next.has_weight && !next.drain) {
		if (s != NULL)
			drop_server(o, s);
		return VEER_OK;
	}
	if (s == NULL) {
		o->servers = veer_xrealloc(o->servers, (o->nservers + 1) * sizeof(*o->servers));
		s = &o->servers[o->nservers++];
		next.pool = veer_xstrdup(pool);
		next.address = veer_xstrdup(sc->address);
	}
	*s = next;
	return VEER_OK;
}

/* ---- reload ------------------------------------------------------------- */

void veer_overrides_reconcile(struct veer_overrides *o, const struct veer_config *old_file,
			      const struct veer_config *new_file)
{
	size_t i, k;

	/* Each override carries the file value it was made against, which is
	 * OLD_FILE's value unless a reload was lost in between: comparing
	 * with that is the same rule, and keeps to it even then. */
	(void)old_file;
	for (i = 0; i < o->nsplits;) {
		struct split_ov *s = &o->splits[i];
		const struct veer_route_conf *r = veer_config_route(new_file, s->route);
		bool keep = r != NULL && r->action == VEER_ACTION_SPLIT && r->nsplit == s->n;
		for (k = 0; keep && k < s->n; k++)
			keep = strcmp(r->split[k].pool->name, s->pools[k]) == 0 &&
			       r->split[k].weight == s->file_weights[k];
		if (keep)
			i++;
		else
			drop_split(o, s);
	}
	for (i = 0; i < o->nbgs;) {
		struct bg_ov *b = &o->bgs[i];
		const struct veer_route_conf *r = veer_config_route(new_file, b->route);
		if (r != NULL && r->action == VEER_ACTION_BLUE_GREEN &&
		    strcmp(r->blue->name, b->blue) == 0 && strcmp(r->green->name, b->green) == 0 &&
		    r->green_active == b->file_green)
			i++;
		else
			drop_bg(o, b);
	}
	for (i = 0; i < o->nservers;) {
		struct server_ov *s = &o->servers[i];
		const struct veer_pool_conf *p = veer_config_pool(new_file, s->pool);
		const struct veer_server_conf *sc = p != NULL ? conf_server(p, s->address) : NULL;
		if (sc != NULL && s->has_weight && sc->weight != s->file_weight)
			s->has_weight = false; /* the file changed the weight: it wins */
		if (sc == NULL || (!s->has_weight && !s->drain))
			drop_server(o, s);
		else
			i++;
	}
}

void veer_overrides_apply(const struct veer_overrides *o, struct veer_config *cfg)
{
	size_t i, k;

	for (i = 0; i < o->nsplits; i++) {
		const struct split_ov *s = &o->splits[i];
		struct veer_route_conf *r = veer_config_route(cfg, s->route);
		if (r == NULL || r->action != VEER_ACTION_SPLIT || r->nsplit != s->n)
			continue;
		for (k = 0; k < s->n; k++) {
			int x = split_index(r, s->pools[k]);
			if (x >= 0)
				r->split[x].weight = s->weights[k];
		}
	}
	for (i = 0; i < o->nbgs; i++) {
		struct veer_route_conf *r = veer_config_route(cfg, o->bgs[i].route);
		if (r != NULL && r->action == VEER_ACTION_BLUE_GREEN)
			r->green_active = o->bgs[i].green_active;
	}
	for (i = 0; i < cfg->npools; i++) {
		struct veer_pool_conf *p = &cfg->pools[i];
		bool changed = false;
		for (k = 0; k < p->nservers; k++) {
			const struct server_ov *s = find_server(o, p->name, p->servers[k].address);
			uint32_t w;
			if (s == NULL)
				continue;
			w = s->drain ? 0 : s->has_weight ? s->weight : p->servers[k].weight;
			if (w != p->servers[k].weight) {
				p->servers[k].weight = w;
				changed = true;
			}
		}
		/* Balancers that built data from the weights (the hash ring)
		 * build it again. */
		if (changed && p->balancer != NULL && p->balancer->prepare != NULL) {
			if (p->balancer->release != NULL)
				p->balancer->release(p);
			p->balancer_data = NULL;
			p->balancer->prepare(p);
		}
	}
}

/* ---- status ------------------------------------------------------------- */

bool veer_overrides_split_weight(const struct veer_overrides *o, const char *route,
				 const char *pool, uint32_t *weight)
{
	const struct split_ov *s = find_split(o, route);

	if (s == NULL)
		return false;
	for (size_t k = 0; k < s->n; k++) {
		if (strcmp(s->pools[k], pool) == 0) {
			*weight = s->weights[k];
			return true;
		}
	}
	return false;
}

bool veer_overrides_active(const struct veer_overrides *o, const char *route, bool *green)
{
	const struct bg_ov *b = find_bg(o, route);

	if (b == NULL)
		return false;
	*green = b->green_active;
	return true;
}

bool veer_overrides_server(const struct veer_overrides *o, const char *pool, const char *address,
			   int *weight, int *drain)
{
	const struct server_ov *s = find_server(o, pool, address);

	if (s == NULL)
		return false;
	*weight = s->has_weight ? (int)s->weight : -1;
	*drain = s->drain ? 1 : 0;
	return true;
}
