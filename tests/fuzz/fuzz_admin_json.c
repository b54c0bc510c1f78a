/* libFuzzer target: the admin API's PUT bodies (veer_admin_parse_body in
 * src/admin.c, which is the handlers' whole parse, check and record path)
 * against a small fixed config.
 *
 * The input is up to MAX_CALLS calls separated by NUL bytes.  The first
 * byte of each call picks its target (modulo the TARGETS table: the three
 * kinds on known and unknown routes, pools and servers; '0'..'7' keep the
 * seeds readable); the rest is the body.  The calls share one overrides
 * object, as successive PUTs do.  After the calls the overrides are copied,
 * applied to a fresh config (as a publish does), reconciled with a file
 * whose weights changed (as a reload does) and freed; the checks abort on
 * an outcome the API could not answer coherently, or on a failed call that
 * changed the overrides. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veer/admin.h"
#include "veer/common.h"
#include "veer/config.h"
#include "veer/overrides.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CALLS 8

/* Pools api-v1 (two servers, hash balance: applying server weights rebuilds
 * its ring), api-v2, web-blue, web-green; routes api (split), one (a pool),
 * web (blue_green).  load(W) gives api-v1's first server weight W and the
 * split 100-5W:5, so that load(2), the second file, changes fields an
 * override made against load(1) may hold. */
static const char CONFIG[] =
	"global: { workers: 1 }\n"
	"listeners:\n"
	"  - { name: web, listen: \"127.0.0.1:0\" }\n"
	"pools:\n"
	"  - name: api-v1\n"
	"    version: 1.0.0\n"
	"    balance: hash\n"
	"    hash_on: path\n"
	"    servers:\n"
	"      - { address: \"127.0.0.1:8001\", weight: %d }\n"
	"      - { address: \"127.0.0.1:8002\" }\n"
	"  - { name: api-v2, version: 2.0.0, servers: [ { address: \"127.0.0.1:8003\" } ] }\n"
	"  - { name: web-blue, servers: [ { address: \"127.0.0.1:8004\" } ] }\n"
	"  - { name: web-green, servers: [ { address: \"127.0.0.1:8005\" } ] }\n"
	"routes:\n"
	"  - name: api\n"
	"    match: { path_prefix: /api/ }\n"
	"    split: [ { pool: api-v1, weight: %d }, { pool: api-v2, weight: 5 } ]\n"
	"  - { name: one, match: { path_prefix: /one/ }, pool: api-v1 }\n"
	"  - name: web\n"
	"    match: { path_prefix: / }\n"
	"    blue_green: { blue: web-blue, green: web-green, active: blue }\n";

static const struct {
	const char *kind, *name, *address;
} TARGETS[] = {
	{ "split", "api", NULL },
	{ "blue_green", "web", NULL },
	{ "server", "api-v1", "127.0.0.1:8001" },
	{ "split", "one", NULL },             /* not a split: the overrides refuse */
	{ "blue_green", "api", NULL },        /* not a blue-green switch */
	{ "server", "api-v1", "10.0.0.1:1" }, /* no such server: 404 */
	{ "split", "nosuch", NULL },          /* no such route: 404 */
	{ "server", "api-v2", "127.0.0.1:8003" },
};

static struct veer_config *load(int weight)
{
	char text[sizeof(CONFIG) + 32];
	struct veer_errors errs = { 0 };
	struct veer_config *c;
	int n = snprintf(text, sizeof(text), CONFIG, weight, 100 - 5 * weight);

	c = veer_config_load_mem("fuzz.yaml", text, (size_t)n, &errs);
	if (c == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
		abort();
	}
	veer_errors_free(&errs);
	return c;
}

static void drop(struct veer_config *c)
{
	if (veer_config_unref(c))
		veer_config_free(c);
}

static void check_outcome(int rc, const struct veer_admin_change *ch)
{
	if (memchr(ch->text, '\0', sizeof(ch->text)) == NULL)
		abort();
	if (rc == VEER_OK ? ch->status != 200 || ch->bad_json :
			    (ch->status != 400 && ch->status != 404) || ch->text[0] == '\0')
		abort();
}

/* What the status API can see of O, for the fixed names: a failed call
 * must leave it as it was. */
static void fingerprint(const struct veer_overrides *o, int out[12])
{
	static const char *const servers[][2] = {
		{ "api-v1", "127.0.0.1:8001" },
		{ "api-v1", "127.0.0.1:8002" },
		{ "api-v2", "127.0.0.1:8003" },
	};
	uint32_t w;
	bool g;
	int k = 0;

	out[k++] = veer_overrides_split_weight(o, "api", "api-v1", &w) ? (int)w : -1;
	out[k++] = veer_overrides_split_weight(o, "api", "api-v2", &w) ? (int)w : -1;
	out[k++] = veer_overrides_active(o, "web", &g) ? g : -1;
	out[k++] = veer_overrides_active(o, "api", &g) ? g : -1;
	for (size_t i = 0; i < VEER_ARRAY_LEN(servers); i++) {
		int sw = -2, sd = -2;
		out[k++] = veer_overrides_server(o, servers[i][0], servers[i][1], &sw, &sd);
		out[k++] = sw * 2 + sd;
	}
	while (k < 12)
		out[k++] = 0;
}

/* A publish writes the overrides into the config it builds: every split
 * weight the overrides hold must then be the route's. */
static void check_applied(const struct veer_overrides *o, const struct veer_config *c)
{
	const struct veer_route_conf *r = veer_config_route(c, "api");
	uint32_t w;

	for (size_t i = 0; i < r->nsplit; i++)
		if (veer_overrides_split_weight(o, "api", r->split[i].pool->name, &w) &&
		    w != r->split[i].weight)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct veer_config *file, *file2;
	struct veer_overrides *o, *copy;
	struct veer_config *live;
	size_t calls = 0;
	bool changed = false;

	if (file == NULL) {
		file = load(1);
		file2 = load(2);
	}
	o = veer_overrides_new();
	while (size > 0 && calls++ < MAX_CALLS) {
		const uint8_t *end = memchr(data, 0, size);
		size_t len = end != NULL ? (size_t)(end - data) : size;
		struct veer_admin_change ch;
		int before[12], after[12];
		int rc;

		if (len > 0) {
			unsigned t = data[0] % VEER_ARRAY_LEN(TARGETS);
			fingerprint(o, before);
			rc = veer_admin_parse_body(TARGETS[t].kind, TARGETS[t].name,
						   TARGETS[t].address, (const char *)data + 1,
						   len - 1, file, o, &ch);
			check_outcome(rc, &ch);
			fingerprint(o, after);
			if (rc != VEER_OK && memcmp(before, after, sizeof(before)) != 0)
				abort(); /* a failed call changes nothing */
			changed |= rc == VEER_OK;
		}
		if (end == NULL)
			break;
		data += len + 1;
		size -= len + 1;
	}
	if (changed) {
		copy = veer_overrides_copy(o);
		live = load(1);
		veer_overrides_apply(copy, live);
		check_applied(copy, live);
		drop(live);
		veer_overrides_reconcile(copy, file, file2);
		live = load(2);
		veer_overrides_apply(copy, live);
		check_applied(copy, live);
		drop(live);
		veer_overrides_free(copy);
	}
	veer_overrides_free(o);
	return 0;
}
