/* Unit tests of src/registry.c: runtime state kept by name across config
 * generations, and freed with the last generation that uses it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veer/common.h"
#include "veer/config.h"
#include "veer/registry.h"

/* Pool api with servers A and B (ports), route r with a client_ip limit of
 * RATE per second. */
static struct veer_config *load2(unsigned a, unsigned b, unsigned rate)
{
	struct veer_errors errs = { 0 };
	char yaml[1024];
	struct veer_config *c;

	snprintf(yaml, sizeof(yaml),
		 "listeners: [ { name: web, listen: 127.0.0.1:0 } ]\n"
		 "pools:\n"
		 "  - name: api\n"
		 "    servers: [ { address: 127.0.0.1:%u }, { address: 127.0.0.1:%u } ]\n"
		 "routes:\n"
		 "  - { name: r, pool: api, rate_limit: { rate: %u/s, burst: 5 } }\n",
		 a, b, rate);
	c = veer_config_load_mem("t.yaml", yaml, strlen(yaml), &errs);
	cr_assert_not_null(c, "%s", errs.n ? errs.lines[0] : "?");
	veer_errors_free(&errs);
	return c;
}

static void expect_sizes(const struct veer_registry *r, size_t health, size_t limiters)
{
	size_t h, l;

	veer_registry_sizes(r, &h, &l);
	cr_assert_eq(h, health, "health records: %zu, want %zu", h, health);
	cr_assert_eq(l, limiters, "rate-limit tables: %zu, want %zu", l, limiters);
}

static void drop(struct veer_config *c)
{
	if (veer_config_unref(c))
		veer_config_free(c);
}

Test(registry, state_is_shared_by_name_and_freed_with_the_last_user)
{
	struct veer_registry *r = veer_registry_new();
	struct veer_config *g1 = load2(9001, 9002, 10), *g2 = load2(9002, 9003, 10), *g3;
	struct veer_server_health *h9002;

	veer_registry_bind(r, g1);
	veer_registry_bind(r, g1); /* twice is once */
	veer_registry_bind(r, g2);
	/* The server both generations have is one record; so is the bucket
	 * table of a limit whose parameters stayed. */
	h9002 = g1->pools[0].servers[1].health;
	cr_assert_eq(g2->pools[0].servers[0].health, h9002);
	cr_assert_eq(g1->routes[0].limiter, g2->routes[0].limiter);
	cr_assert_neq(g1->pools[0].servers[0].health, g2->pools[0].servers[1].health);
	expect_sizes(r, 3, 1);

	/* State of 9001 (only in g1) and of 9002 (in both) marked down. */
	atomic_store(&g1->pools[0].servers[0].health->healthy, 0);
	atomic_store(&h9002->healthy, 0);
	drop(g1);
	expect_sizes(r, 2, 1);

	/* 9002 lives on in g2; 9001 went with g1: a generation that brings
	 * it back starts from a fresh record (healthy). */
	g3 = load2(9001, 9002, 10);
	veer_registry_bind(r, g3);
	cr_assert_eq(g3->pools[0].servers[1].health, h9002);
	cr_assert_eq(atomic_load(&h9002->healthy), 0);
	cr_assert_eq(atomic_load(&g3->pools[0].servers[0].health->healthy), 1);
	cr_assert_eq(g3->routes[0].limiter, g2->routes[0].limiter);
	drop(g2);
	drop(g3);
	expect_sizes(r, 0, 0);
	/* Nothing left: whatever a new generation asks for is new. */
	g1 = load2(9002, 9003, 20);
	veer_registry_bind(r, g1);
	cr_assert_eq(atomic_load(&g1->pools[0].servers[0].health->healthy), 1);
	drop(g1);
	veer_registry_free(r);
}

Test(registry, changed_limit_parameters_free_the_old_table)
{
	struct veer_registry *r = veer_registry_new();

	/* 200 reloads each with another rate: each makes a new bucket table
	 * (256 KiB for a client_ip limit) and frees the one before. */
	struct veer_config *prev = NULL;
	for (unsigned i = 1; i <= 200; i++) {
		struct veer_config *c = load2(9001, 9002, i);
		veer_registry_bind(r, c);
		cr_assert_not_null(c->routes[0].limiter);
		if (prev != NULL) {
			cr_assert_neq(prev->routes[0].limiter, c->routes[0].limiter);
			expect_sizes(r, 2, 2);
			drop(prev);
		}
		expect_sizes(r, 2, 1);
		prev = c;
	}
	drop(prev);
	expect_sizes(r, 0, 0);
	veer_registry_free(r);
}
