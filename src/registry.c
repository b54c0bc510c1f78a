/* veer — runtime state by name (see registry.h). */
#include "veer/registry.h"
#include "veer/common.h"
#include "veer/ratelimit.h"
#include "veer/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slots of a keyed (client_ip, header) bucket table: 16 bytes each, fixed. */
#define KEYED_SLOTS 16384u
/* A bucket for a whole pool or route needs no table. */
#define SINGLE_SLOTS 4u

struct limiter_rec {
	char *name; /* "pool:NAME" / "route:NAME" with its parameters */
	struct veer_limiter *limiter;
	uint32_t refs; /* configs bound to it */
};

struct tickets_rec {
	char *listener;
	struct veer_tls_tickets *tickets;
};

struct veer_registry {
	struct veer_server_health **health;
	size_t nhealth;
	struct tickets_rec *tickets;
	size_t ntickets;
	struct limiter_rec *limiters;
	size_t nlimiters;
};

struct veer_registry *veer_registry_new(void)
{
	return veer_xcalloc(1, sizeof(struct veer_registry));
}

void veer_registry_free(struct veer_registry *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nhealth; i++) {
		free(r->health[i]->pool);
		free(r->health[i]->address);
		free(r->health[i]);
	}
	free(r->health);
	for (i = 0; i < r->nlimiters; i++) {
		free(r->limiters[i].name);
		veer_limiter_free(r->limiters[i].limiter);
	}
	free(r->limiters);
	for (i = 0; i < r->ntickets; i++) {
		free(r->tickets[i].listener);
		veer_tls_tickets_free(r->tickets[i].tickets);
	}
	free(r->tickets);
	free(r);
}

struct veer_server_health *veer_registry_health(struct veer_registry *r, const char *pool,
						const char *address)
{
	struct veer_server_health *h;
	size_t i;

	for (i = 0; i < r->nhealth; i++)
		if (strcmp(r->health[i]->pool, pool) == 0 && strcmp(r->health[i]->address, address) == 0)
			return r->health[i];
	h = veer_xcalloc(1, sizeof(*h));
	h->pool = veer_xstrdup(pool);
	h->address = veer_xstrdup(address);
	atomic_init(&h->healthy, 1);
	atomic_init(&h->since_ms, 0);
	r->health = veer_xrealloc(r->health, (r->nhealth + 1) * sizeof(*r->health));
	r->health[r->nhealth++] = h;
	return h;
}

/* The bucket table for KIND:NAME with these parameters: a changed rate,
 * burst or key starts a fresh table, an unchanged one keeps its buckets. */
static struct veer_limiter *limiter_for(struct veer_registry *r, const char *kind,
					const char *name, const struct veer_ratelimit_conf *c)
{
	char key[512];
	size_t i;

	snprintf(key, sizeof(key), "%s:%s:%.6f:%u:%d:%s", kind, name, c->rate, c->burst, (int)c->key,
		 c->key_header ? c->key_header : "");
	for (i = 0; i < r->nlimiters; i++) {
		if (strcmp(r->limiters[i].name, key) == 0) {
			r->limiters[i].refs++;
			return r->limiters[i].limiter;
		}
	}
	r->limiters = veer_xrealloc(r->limiters, (r->nlimiters + 1) * sizeof(*r->limiters));
	r->limiters[r->nlimiters].name = veer_xstrdup(key);
	r->limiters[r->nlimiters].limiter =
		veer_limiter_new(c->key == VEER_RLKEY_ROUTE || strcmp(kind, "pool") == 0 ? SINGLE_SLOTS
											 : KEYED_SLOTS,
				 c->rate, c->burst);
	r->limiters[r->nlimiters].refs = 1;
	return r->limiters[r->nlimiters++].limiter;
}

/* One config less uses limiter L: freed with the last. */
static void limiter_put(struct veer_registry *r, struct veer_limiter *l)
{
	for (size_t i = 0; i < r->nlimiters; i++) {
		if (r->limiters[i].limiter != l)
			continue;
		if (--r->limiters[i].refs > 0)
			return;
		free(r->limiters[i].name);
		veer_limiter_free(l);
		r->limiters[i] = r->limiters[--r->nlimiters];
		return;
	}
}

/* One config less uses health record H: freed with the last. */
static void health_put(struct veer_registry *r, struct veer_server_health *h)
{
	for (size_t i = 0; i < r->nhealth; i++) {
		if (r->health[i] != h)
			continue;
		if (--h->refs > 0)
			return;
		free(h->pool);
		free(h->address);
		free(h);
		r->health[i] = r->health[--r->nhealth];
		return;
	}
}

/* Session-ticket keys of listener NAME: kept across reloads, so a
 * resumed session survives them. */
static struct veer_tls_tickets *tickets_for(struct veer_registry *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->ntickets; i++)
		if (strcmp(r->tickets[i].listener, name) == 0)
			return r->tickets[i].tickets;
	r->tickets = veer_xrealloc(r->tickets, (r->ntickets + 1) * sizeof(*r->tickets));
	r->tickets[r->ntickets].listener = veer_xstrdup(name);
	r->tickets[r->ntickets].tickets = veer_tls_tickets_new();
	return r->tickets[r->ntickets++].tickets;
}

void veer_registry_rotate_tickets(struct veer_registry *r)
{
	size_t i;

	for (i = 0; i < r->ntickets; i++)
		veer_tls_tickets_rotate(r->tickets[i].tickets);
}

void veer_registry_bind(struct veer_registry *r, struct veer_config *config)
{
	size_t i, k;

	if (config->registry != NULL)
		return; /* bound already: its references are counted */
	config->registry = r;

	for (i = 0; i < config->nlisteners; i++) {
		struct veer_listener_conf *l = &config->listeners[i];
		if (l->tls.enabled && l->tls.server != NULL)
			veer_tls_server_set_tickets(l->tls.server, tickets_for(r, l->name));
	}
	for (i = 0; i < config->npools; i++) {
		struct veer_pool_conf *p = &config->pools[i];
		for (k = 0; k < p->nservers; k++) {
			p->servers[k].health = veer_registry_health(r, p->name, p->servers[k].address);
			p->servers[k].health->refs++;
		}
		if (p->rate_limit.enabled)
			p->limiter = limiter_for(r, "pool", p->name, &p->rate_limit);
	}
	for (i = 0; i < config->nroutes; i++) {
		struct veer_route_conf *rt = &config->routes[i];
		/* scope: global keeps its buckets in Redis (redis.h). */
		if (rt->rate_limit.enabled && !rt->rate_limit.global)
			rt->limiter = limiter_for(r, "route", rt->name, &rt->rate_limit);
	}
}

void veer_registry_sizes(const struct veer_registry *r, size_t *health, size_t *limiters)
{
	*health = r->nhealth;
	*limiters = r->nlimiters;
}

void veer_registry_unbind(struct veer_registry *r, struct veer_config *config)
{
	size_t i, k;

	if (config->registry != r)
		return;
	for (i = 0; i < config->npools; i++) {
		struct veer_pool_conf *p = &config->pools[i];
		for (k = 0; k < p->nservers; k++) {
			if (p->servers[k].health != NULL)
				health_put(r, p->servers[k].health);
			p->servers[k].health = NULL;
		}
		if (p->limiter != NULL)
			limiter_put(r, p->limiter);
		p->limiter = NULL;
	}
	for (i = 0; i < config->nroutes; i++) {
		struct veer_route_conf *rt = &config->routes[i];
		if (rt->limiter != NULL)
			limiter_put(r, rt->limiter);
		rt->limiter = NULL;
	}
	config->registry = NULL;
}

uint32_t veer_server_share(const struct veer_server_conf *s, uint64_t now_ms)
{
	uint64_t since;

	if (s->health == NULL)
		return 1000;
	if (!atomic_load_explicit(&s->health->healthy, memory_order_relaxed))
		return 0;
	since = atomic_load_explicit(&s->health->since_ms, memory_order_relaxed);
	if (since == 0 || now_ms >= since + VEER_SLOW_START_MS)
		return 1000;
	/* Slow start: the share grows linearly from 1/10 to all of it. */
	return 100 + (uint32_t)((now_ms - since) * 900 / VEER_SLOW_START_MS);
}
