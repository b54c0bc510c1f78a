/* Unit tests of src/overrides.c (admin API runtime changes: recording with
 * validation, applying to a config being built, reconciling with a reloaded
 * file) and of the global.admin keys of the config loader. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "veer/common.h"
#include "veer/config.h"
#include "veer/overrides.h"

/* Pools api-v1 (two servers, weights 1 and 3, balance BALANCE), api-v2 and
 * web-blue/web-green; route api splits api-v1 SPLIT1 / api-v2 SPLIT2, route
 * web is blue-green with ACTIVE, route one proxies to api-v1. */
static char *yaml_of(unsigned split1, unsigned split2, const char *active, unsigned w2,
		     const char *balance)
{
	char *s = NULL;
	int n = asprintf(&s,
			 "listeners:\n"
			 "  - { name: web, listen: 127.0.0.1:0 }\n"
			 "pools:\n"
			 "  - name: api-v1\n"
			 "    balance: %s\n"
			 "%s"
			 "    servers:\n"
			 "      - { address: 127.0.0.1:9001, weight: 1 }\n"
			 "      - { address: 127.0.0.1:9002, weight: %u }\n"
			 "  - { name: api-v2, servers: [ { address: 127.0.0.1:9003 } ] }\n"
			 "  - { name: web-blue, servers: [ { address: 127.0.0.1:9004 } ] }\n"
			 "  - { name: web-green, servers: [ { address: 127.0.0.1:9005 } ] }\n"
			 "routes:\n"
			 "  - name: api\n"
			 "    match: { path_prefix: /api/ }\n"
			 "    split: [ { pool: api-v1, weight: %u }, { pool: api-v2, weight: %u } ]\n"
			 "  - name: one\n"
			 "    match: { path_prefix: /one/ }\n"
			 "    pool: api-v1\n"
			 "  - name: web\n"
			 "    blue_green: { blue: web-blue, green: web-green, active: %s }\n",
			 balance, strcmp(balance, "hash") == 0 ? "    hash_on: path\n" : "", w2, split1,
			 split2, active);

	cr_assert_geq(n, 0);
	return s;
}

static struct veer_config *load_with(unsigned split1, unsigned split2, const char *active,
				     unsigned w2, const char *balance)
{
	struct veer_errors e = { 0 };
	char *y = yaml_of(split1, split2, active, w2, balance);
	struct veer_config *c = veer_config_load_mem("t.yaml", y, strlen(y), &e);

	cr_assert_not_null(c, "load failed: %s", e.n ? e.lines[0] : "?");
	free(y);
	veer_errors_free(&e);
	return c;
}

static struct veer_config *load_default(void)
{
	return load_with(90, 10, "blue", 3, "round_robin");
}

static void unload(struct veer_config *c)
{
	if (veer_config_unref(c))
		veer_config_free(c);
}

static uint32_t split_weight(const struct veer_config *c, const char *route, const char *pool)
{
	const struct veer_route_conf *r = veer_config_route(c, route);

	for (size_t i = 0; i < r->nsplit; i++)
		if (strcmp(r->split[i].pool->name, pool) == 0)
			return r->split[i].weight;
	cr_assert_fail("no pool %s in the split of %s", pool, route);
	return 0;
}

static uint32_t server_weight(const struct veer_config *c, const char *pool, const char *addr)
{
	const struct veer_pool_conf *p = veer_config_pool(c, pool);

	for (size_t i = 0; i < p->nservers; i++)
		if (strcmp(p->servers[i].address, addr) == 0)
			return p->servers[i].weight;
	cr_assert_fail("no server %s in %s", addr, pool);
	return 0;
}

static const char *const V1V2[] = { "api-v1", "api-v2" };

/* The one error line of a rejected call; nothing may have changed. */
static void expect_rejected(int rc, struct veer_errors *e, const char *want)
{
	cr_assert_eq(rc, VEER_ERR, "accepted, expected: %s", want);
	cr_assert_eq(e->n, 1, "%zu error lines", e->n);
	cr_assert_str_eq(e->lines[0], want);
	veer_errors_free(e);
}

/* ---- split -------------------------------------------------------------- */

Test(overrides, split_set_and_apply)
{
	struct veer_config *file = load_default(), *built = load_default();
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	const uint32_t w[] = { 75, 25 };
	uint32_t got;

	cr_assert_eq(veer_override_split(o, file, "api", V1V2, w, 2, &e), VEER_OK);
	cr_assert_eq(e.n, 0);
	cr_assert(veer_overrides_split_weight(o, "api", "api-v2", &got));
	cr_assert_eq(got, 25);
	cr_assert_not(veer_overrides_split_weight(o, "web", "api-v2", &got));
	veer_overrides_apply(o, built);
	cr_assert_eq(split_weight(built, "api", "api-v1"), 75);
	cr_assert_eq(split_weight(built, "api", "api-v2"), 25);
	/* the file's config is left alone */
	cr_assert_eq(split_weight(file, "api", "api-v1"), 90);
	unload(built);
	unload(file);
	veer_overrides_free(o);
}

Test(overrides, split_any_order_and_zero)
{
	struct veer_config *file = load_default(), *built = load_default();
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	const char *const pools[] = { "api-v2", "api-v1" };
	const uint32_t w[] = { 100, 0 };

	cr_assert_eq(veer_override_split(o, file, "api", pools, w, 2, &e), VEER_OK);
	veer_overrides_apply(o, built);
	cr_assert_eq(split_weight(built, "api", "api-v1"), 0);
	cr_assert_eq(split_weight(built, "api", "api-v2"), 100);
	unload(built);
	unload(file);
	veer_overrides_free(o);
}

Test(overrides, split_back_to_file_value_clears)
{
	struct veer_config *file = load_default();
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	const uint32_t w[] = { 75, 25 }, back[] = { 90, 10 };
	uint32_t got;

	cr_assert_eq(veer_override_split(o, file, "api", V1V2, w, 2, &e), VEER_OK);
	cr_assert_eq(veer_override_split(o, file, "api", V1V2, back, 2, &e), VEER_OK);
	cr_assert_not(veer_overrides_split_weight(o, "api", "api-v1", &got));
	unload(file);
	veer_overrides_free(o);
}

Test(overrides, split_validation)
{
	struct veer_config *file = load_default(), *built = load_default();
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	const char *const one[] = { "api-v1" };
	const char *const other[] = { "api-v1", "web-blue" };
	const char *const twice[] = { "api-v1", "api-v1" };
	const uint32_t w[] = { 75, 25 }, big[] = { 10001, 1 }, zero[] = { 0, 0 };
	uint32_t got;

	expect_rejected(veer_override_split(o, file, "nope", V1V2, w, 2, &e), &e,
			"unknown route \"nope\"");
	expect_rejected(veer_override_split(o, file, "web", V1V2, w, 2, &e), &e,
			"route \"web\" has no split (its action is blue_green)");
	expect_rejected(veer_override_split(o, file, "one", V1V2, w, 2, &e), &e,
			"route \"one\" has no split (its action is pool)");
	expect_rejected(veer_override_split(o, file, "api", one, w, 1, &e), &e,
			"pool \"api-v2\" of the split of route \"api\" has no weight (name every "
			"pool of the split)");
	expect_rejected(veer_override_split(o, file, "api", other, w, 2, &e), &e,
			"pool \"web-blue\" is not in the split of route \"api\"");
	expect_rejected(veer_override_split(o, file, "api", twice, w, 2, &e), &e,
			"pool \"api-v1\" is named twice");
	expect_rejected(veer_override_split(o, file, "api", V1V2, big, 2, &e), &e,
			"weight of pool \"api-v1\": 10001 is out of range 0..10000");
	expect_rejected(veer_override_split(o, file, "api", V1V2, zero, 2, &e), &e,
			"the weights must not all be 0");
	/* nothing was recorded */
	cr_assert_not(veer_overrides_split_weight(o, "api", "api-v1", &got));
	veer_overrides_apply(o, built);
	cr_assert_eq(split_weight(built, "api", "api-v1"), 90);
	unload(built);
	unload(file);
	veer_overrides_free(o);
}

Test(overrides, failed_change_keeps_previous_override)
{
	struct veer_config *file = load_default();
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	const uint32_t w[] = { 75, 25 }, zero[] = { 0, 0 };
	uint32_t got;

	cr_assert_eq(veer_override_split(o, file, "api", V1V2, w, 2, &e), VEER_OK);
	cr_assert_eq(veer_override_split(o, file, "api", V1V2, zero, 2, &e), VEER_ERR);
	veer_errors_free(&e);
	cr_assert(veer_overrides_split_weight(o, "api", "api-v1", &got));
	cr_assert_eq(got, 75);
	unload(file);
	veer_overrides_free(o);
}

/* ---- blue-green --------------------------------------------------------- */

Test(overrides, blue_green_flip)
{
	struct veer_config *file = load_default(), *built = load_default();
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	bool green = false;

	cr_assert_not(veer_overrides_active(o, "web", &green));
	cr_assert_eq(veer_override_blue_green(o, file, "web", true, &e), VEER_OK);
	cr_assert(veer_overrides_active(o, "web", &green));
	cr_assert(green);
	veer_overrides_apply(o, built);
	cr_assert(veer_config_route(built, "web")->green_active);
	cr_assert_not(veer_config_route(file, "web")->green_active);
	/* back to the file's side: no override */
	cr_assert_eq(veer_override_blue_green(o, file, "web", false, &e), VEER_OK);
	cr_assert_not(veer_overrides_active(o, "web", &green));
	expect_rejected(veer_override_blue_green(o, file, "api", true, &e), &e,
			"route \"api\" has no blue_green (its action is split)");
	expect_rejected(veer_override_blue_green(o, file, "nope", true, &e), &e,
			"unknown route \"nope\"");
	unload(built);
	unload(file);
	veer_overrides_free(o);
}

/* ---- servers ------------------------------------------------------------ */

Test(overrides, server_weight_and_drain)
{
	struct veer_config *file = load_default();
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	struct veer_config *built;
	int w, d;

	cr_assert_eq(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", 7, -1, &e), VEER_OK);
	cr_assert(veer_overrides_server(o, "api-v1", "127.0.0.1:9002", &w, &d));
	cr_assert_eq(w, 7);
	cr_assert_eq(d, 0);
	built = load_default();
	veer_overrides_apply(o, built);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9002"), 7);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9001"), 1);
	unload(built);

	/* drain: weight 0 while drained, whatever the weight override */
	cr_assert_eq(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", -1, 1, &e), VEER_OK);
	built = load_default();
	veer_overrides_apply(o, built);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9002"), 0);
	unload(built);

	/* undrain: the weight comes back (the override's) */
	cr_assert_eq(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", -1, 0, &e), VEER_OK);
	built = load_default();
	veer_overrides_apply(o, built);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9002"), 7);
	unload(built);

	/* the file's weight again: no override left */
	cr_assert_eq(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", 3, -1, &e), VEER_OK);
	cr_assert_not(veer_overrides_server(o, "api-v1", "127.0.0.1:9002", &w, &d));
	unload(file);
	veer_overrides_free(o);
}

Test(overrides, drain_alone_restores_file_weight)
{
	struct veer_config *file = load_default(), *built;
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	int w, d;

	cr_assert_eq(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", -1, 1, &e), VEER_OK);
	cr_assert(veer_overrides_server(o, "api-v1", "127.0.0.1:9002", &w, &d));
	cr_assert_eq(w, -1);
	cr_assert_eq(d, 1);
	built = load_default();
	veer_overrides_apply(o, built);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9002"), 0);
	unload(built);
	cr_assert_eq(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", -1, 0, &e), VEER_OK);
	cr_assert_not(veer_overrides_server(o, "api-v1", "127.0.0.1:9002", &w, &d));
	built = load_default();
	veer_overrides_apply(o, built);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9002"), 3);
	unload(built);
	unload(file);
	veer_overrides_free(o);
}

Test(overrides, server_validation)
{
	struct veer_config *file = load_default();
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	int w, d;

	expect_rejected(veer_override_server(o, file, "nope", "127.0.0.1:9002", 1, -1, &e), &e,
			"unknown pool \"nope\"");
	expect_rejected(veer_override_server(o, file, "api-v1", "127.0.0.1:9", 1, -1, &e), &e,
			"pool \"api-v1\" has no server \"127.0.0.1:9\"");
	expect_rejected(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", 1001, -1, &e), &e,
			"weight: 1001 is out of range 0..1000");
	expect_rejected(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", -1, -1, &e), &e,
			"nothing to change: give \"weight\" or \"drain\"");
	cr_assert_not(veer_overrides_server(o, "api-v1", "127.0.0.1:9002", &w, &d));
	unload(file);
	veer_overrides_free(o);
}

Test(overrides, hash_ring_follows_weights)
{
	struct veer_config *file = load_with(90, 10, "blue", 3, "hash");
	struct veer_config *built = load_with(90, 10, "blue", 3, "hash");
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	void *before = veer_config_pool(built, "api-v1")->balancer_data;

	cr_assert_not_null(before);
	cr_assert_eq(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", -1, 1, &e), VEER_OK);
	veer_overrides_apply(o, built);
	/* the ring was built again from the new weights (the old one freed) */
	cr_assert_not_null(veer_config_pool(built, "api-v1")->balancer_data);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9002"), 0);
	unload(built);
	unload(file);
	veer_overrides_free(o);
}

/* ---- reload ------------------------------------------------------------- */

/* Every kind of override, made against FILE. */
static struct veer_overrides *all_kinds(const struct veer_config *file)
{
	struct veer_overrides *o = veer_overrides_new();
	struct veer_errors e = { 0 };
	const uint32_t w[] = { 75, 25 };

	cr_assert_eq(veer_override_split(o, file, "api", V1V2, w, 2, &e), VEER_OK);
	cr_assert_eq(veer_override_blue_green(o, file, "web", true, &e), VEER_OK);
	cr_assert_eq(veer_override_server(o, file, "api-v1", "127.0.0.1:9002", 7, -1, &e), VEER_OK);
	cr_assert_eq(veer_override_server(o, file, "api-v1", "127.0.0.1:9001", -1, 1, &e), VEER_OK);
	return o;
}

Test(overrides, survive_reload_of_unchanged_file)
{
	struct veer_config *old = load_default(), *new = load_default(), *built = load_default();
	struct veer_overrides *o = all_kinds(old);
	uint32_t sw;
	bool green;
	int w, d;

	veer_overrides_reconcile(o, old, new);
	cr_assert(veer_overrides_split_weight(o, "api", "api-v1", &sw));
	cr_assert(veer_overrides_active(o, "web", &green));
	cr_assert(veer_overrides_server(o, "api-v1", "127.0.0.1:9002", &w, &d));
	cr_assert_eq(w, 7);
	veer_overrides_apply(o, built);
	cr_assert_eq(split_weight(built, "api", "api-v1"), 75);
	cr_assert(veer_config_route(built, "web")->green_active);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9002"), 7);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9001"), 0);
	unload(built);
	unload(new);
	unload(old);
	veer_overrides_free(o);
}

Test(overrides, file_wins_when_it_changed_the_split)
{
	struct veer_config *old = load_default(), *new = load_with(80, 20, "blue", 3, "round_robin");
	struct veer_overrides *o = all_kinds(old);
	uint32_t sw;
	bool green;
	int w, d;

	veer_overrides_reconcile(o, old, new);
	cr_assert_not(veer_overrides_split_weight(o, "api", "api-v1", &sw));
	/* the others stay: the file did not touch their fields */
	cr_assert(veer_overrides_active(o, "web", &green));
	cr_assert(veer_overrides_server(o, "api-v1", "127.0.0.1:9002", &w, &d));
	unload(new);
	unload(old);
	veer_overrides_free(o);
}

Test(overrides, file_wins_when_it_changed_active)
{
	/* the file flips to green itself: the override (green) is dropped, and
	 * a later file flip back to blue is not overridden */
	struct veer_config *old = load_default(), *new = load_with(90, 10, "green", 3, "round_robin");
	struct veer_overrides *o = all_kinds(old);
	uint32_t sw;
	bool green;

	veer_overrides_reconcile(o, old, new);
	cr_assert_not(veer_overrides_active(o, "web", &green));
	cr_assert(veer_overrides_split_weight(o, "api", "api-v1", &sw));
	unload(new);
	unload(old);
	veer_overrides_free(o);
}

Test(overrides, file_wins_when_it_changed_server_weight)
{
	struct veer_config *old = load_default(), *new = load_with(90, 10, "blue", 5, "round_robin");
	struct veer_config *built = load_with(90, 10, "blue", 5, "round_robin");
	struct veer_overrides *o = all_kinds(old);
	int w, d;

	veer_overrides_reconcile(o, old, new);
	cr_assert_not(veer_overrides_server(o, "api-v1", "127.0.0.1:9002", &w, &d));
	/* drain has no field in the file: it stays */
	cr_assert(veer_overrides_server(o, "api-v1", "127.0.0.1:9001", &w, &d));
	cr_assert_eq(d, 1);
	veer_overrides_apply(o, built);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9002"), 5);
	cr_assert_eq(server_weight(built, "api-v1", "127.0.0.1:9001"), 0);
	unload(built);
	unload(new);
	unload(old);
	veer_overrides_free(o);
}

Test(overrides, dropped_when_names_go_away)
{
	static const char *const y = "listeners:\n"
				     "  - { name: web, listen: 127.0.0.1:0 }\n"
				     "pools:\n"
				     "  - { name: api-v1, servers: [ { address: 127.0.0.1:9002 } ] }\n"
				     "routes:\n"
				     "  - { name: web, pool: api-v1 }\n";
	struct veer_errors e = { 0 };
	struct veer_config *old = load_default();
	struct veer_config *new = veer_config_load_mem("t.yaml", y, strlen(y), &e);
	struct veer_overrides *o = all_kinds(old);
	uint32_t sw;
	bool green;
	int w, d;

	cr_assert_not_null(new);
	veer_overrides_reconcile(o, old, new);
	cr_assert_not(veer_overrides_split_weight(o, "api", "api-v1", &sw));
	cr_assert_not(veer_overrides_active(o, "web", &green)); /* web is no switch now */
	cr_assert_not(veer_overrides_server(o, "api-v1", "127.0.0.1:9001", &w, &d));
	/* 127.0.0.1:9002 stays, but the file changed its weight (3 -> 1) */
	cr_assert_not(veer_overrides_server(o, "api-v1", "127.0.0.1:9002", &w, &d));
	unload(new);
	unload(old);
	veer_overrides_free(o);
}

Test(overrides, copy_is_independent)
{
	struct veer_config *file = load_default();
	struct veer_overrides *o = all_kinds(file), *c = veer_overrides_copy(o);
	struct veer_errors e = { 0 };
	const uint32_t back[] = { 90, 10 };
	uint32_t sw;

	cr_assert_eq(veer_override_split(o, file, "api", V1V2, back, 2, &e), VEER_OK);
	cr_assert_not(veer_overrides_split_weight(o, "api", "api-v1", &sw));
	cr_assert(veer_overrides_split_weight(c, "api", "api-v1", &sw));
	cr_assert_eq(sw, 75);
	veer_overrides_free(o);
	veer_overrides_free(c);
	unload(file);
}

/* ---- global.admin in the config ---------------------------------------- */

#define ADMIN_REST                               \
	"listeners:\n"                           \
	"  - { name: web, listen: 127.0.0.1:0 }\n" \
	"pools:\n"                               \
	"  - { name: p, servers: [ { address: 127.0.0.1:1 } ] }\n" \
	"routes:\n"                              \
	"  - { name: r, pool: p }\n"

static struct veer_config *load_text(const char *y, struct veer_errors *e)
{
	return veer_config_load_mem("t.yaml", y, strlen(y), e);
}

Test(admin_config, absent_is_off)
{
	struct veer_errors e = { 0 };
	struct veer_config *c = load_text(ADMIN_REST, &e);

	cr_assert_not_null(c);
	cr_assert_not(c->global.admin_enabled);
	cr_assert_null(c->global.admin_token_file);
	cr_assert_null(c->global.admin_token);
	unload(c);
}

Test(admin_config, listen_and_token)
{
	char path[] = "/tmp/veer-token-XXXXXX", *y = NULL;
	int fd = mkstemp(path);
	struct veer_errors e = { 0 };
	struct veer_config *c;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "\n  s3cr3t-token \r\n\n", 19), 19);
	close(fd);
	cr_assert_geq(asprintf(&y, "global:\n  admin: { listen: \"127.0.0.1:0\", token_file: %s }\n"
				   ADMIN_REST, path), 0);
	c = load_text(y, &e);
	cr_assert_not_null(c, "%s", e.n ? e.lines[0] : "");
	cr_assert(c->global.admin_enabled);
	cr_assert_str_eq(c->global.admin_addr.text, "127.0.0.1:0");
	cr_assert_str_eq(c->global.admin_token_file, path);
	cr_assert_str_eq(c->global.admin_token, "s3cr3t-token");
	unload(c);
	unlink(path);
	free(y);
}

Test(admin_config, listen_without_token)
{
	struct veer_errors e = { 0 };
	struct veer_config *c =
		load_text("global:\n  admin: { listen: \"127.0.0.1:9901\" }\n" ADMIN_REST, &e);

	cr_assert_not_null(c);
	cr_assert(c->global.admin_enabled);
	cr_assert_null(c->global.admin_token);
	unload(c);
}

static void expect_one_error(const char *y, const char *want)
{
	struct veer_errors e = { 0 };
	struct veer_config *c = load_text(y, &e);

	cr_assert_null(c);
	cr_assert_eq(e.n, 1, "%zu errors; first: %s", e.n, e.n ? e.lines[0] : "");
	cr_assert_str_eq(e.lines[0], want);
	veer_errors_free(&e);
}

Test(admin_config, errors)
{
	char path[] = "/tmp/veer-token-XXXXXX", *y = NULL, want[256];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, " \n\t\n", 4), 4);
	close(fd);
	expect_one_error("global:\n  admin: {}\n" ADMIN_REST,
			 "t.yaml:2:10: global.admin: missing required key \"listen\"");
	expect_one_error("global:\n  admin:\n    listen: 127.0.0.1:1\n"
			 "    token_file: /nonexistent/veer-token\n" ADMIN_REST,
			 "t.yaml:4:17: global.admin.token_file: cannot read "
			 "\"/nonexistent/veer-token\": No such file or directory");
	cr_assert_geq(asprintf(&y, "global:\n  admin:\n    listen: 127.0.0.1:1\n"
				   "    token_file: %s\n" ADMIN_REST, path), 0);
	snprintf(want, sizeof(want), "t.yaml:4:17: global.admin.token_file: \"%s\": the file is empty",
		 path);
	expect_one_error(y, want);
	free(y);
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "two words\n", 10), 10);
	close(fd);
	cr_assert_geq(asprintf(&y, "global:\n  admin:\n    listen: 127.0.0.1:1\n"
				   "    token_file: %s\n" ADMIN_REST, path), 0);
	snprintf(want, sizeof(want),
		 "t.yaml:4:17: global.admin.token_file: \"%s\": the token must be one word of "
		 "visible characters", path);
	expect_one_error(y, want);
	free(y);
	unlink(path);
}
