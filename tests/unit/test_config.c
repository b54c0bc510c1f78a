/* Unit tests of the config loader (src/config.c, src/config_yaml.c): values
 * and defaults, every error with its line and column, the value parsers. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "veer/balance.h"
#include "veer/common.h"
#include "veer/config.h"

static struct veer_config *load(const char *yaml, struct veer_errors *e)
{
	return veer_config_load_mem("t.yaml", yaml, strlen(yaml), e);
}

static char *joined(const struct veer_errors *e)
{
	static char buf[8192];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < e->n && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "  [%zu] %s\n", i, e->lines[i]);
	return buf;
}

/* YAML must fail with exactly the error lines WANT (in order). */
static void expect_errors(const char *yaml, const char *const *want, size_t n)
{
	struct veer_errors e = { 0 };
	struct veer_config *c = load(yaml, &e);

	cr_assert_null(c, "loaded, but expected errors:\n%s", want[0]);
	cr_assert_eq(e.n, n, "expected %zu errors, got %zu:\n%s", n, e.n, joined(&e));
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(e.lines[i], want[i], "error %zu:\n got: %s\nwant: %s\nall:\n%s", i,
				 e.lines[i], want[i], joined(&e));
	veer_errors_free(&e);
}

#define EXPECT_ERRORS(yaml, ...)                                                \
	do {                                                                    \
		static const char *const want_[] = { __VA_ARGS__ };             \
		expect_errors((yaml), want_, sizeof(want_) / sizeof(want_[0])); \
	} while (0)

static struct veer_config *load_ok(const char *yaml)
{
	struct veer_errors e = { 0 };
	struct veer_config *c = load(yaml, &e);

	cr_assert_not_null(c, "load failed:\n%s", joined(&e));
	cr_assert_eq(e.n, 0);
	veer_errors_free(&e);
	return c;
}

/* The smallest valid config, reused by tests that add one thing. */
#define MIN_LISTENERS "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
#define MIN_POOLS "pools:\n  - name: p\n    servers:\n      - address: 127.0.0.1:9001\n"
#define MIN_ROUTES "routes:\n  - name: r\n    pool: p\n"
#define MINIMAL MIN_LISTENERS MIN_POOLS MIN_ROUTES

static const char full_yaml[] = "global:\n"
				"  workers: 3\n"
				"  max_connections: 500\n"
				"  drain_timeout: 2m\n"
				"  expose_headers: false\n"
				"  user: veer\n"
				"  log:\n"
				"    level: debug\n"
				"    error: /var/log/veer/error.log\n"
				"    access: off\n"
				"    access_format: combined\n"
				"listeners:\n"
				"  - name: web\n"
				"    listen: 0.0.0.0:8080\n"
				"    timeouts: { header: 5s, idle: 1m, body: 250ms }\n"
				"    limits: { header_bytes: 16k, headers: 50, body_bytes: 1g }\n"
				"    routes: [health, api]\n"
				"  - name: v6\n"
				"    listen: \"[::1]:8443\"\n"
				"pools:\n"
				"  - name: api-v1\n"
				"    version: 1.8.3\n"
				"    balance: hash\n"
				"    hash_on: header:X-User-Id\n"
				"    servers:\n"
				"      - { address: 127.0.0.1:9001, weight: 1 }\n"
				"      - { address: 127.0.0.1:9002, weight: 2 }\n"
				"      - { address: \"[::1]:9003\", weight: 0 }\n"
				"    keepalive: { max_idle: 8, idle_timeout: 30s }\n"
				"    timeouts: { connect: 1s, response: 30s }\n"
				"  - name: web-blue\n"
				"    balance: least_conn\n"
				"    servers:\n"
				"      - address: localhost:9100\n"
				"routes:\n"
				"  - name: api\n"
				"    match:\n"
				"      host: api.example.com\n"
				"      path_prefix: /api/\n"
				"    pool: api-v1\n"
				"  - name: web\n"
				"    match: { path_prefix: / }\n"
				"    pool: web-blue\n"
				"  - name: health\n"
				"    match: { path_prefix: /ping }\n"
				"    respond: { status: 200, body: \"pong\\n\" }\n";

Test(config, full_config_round_trips)
{
	struct veer_config *c = load_ok(full_yaml);
	const struct veer_listener_conf *l;
	const struct veer_pool_conf *p;
	const struct veer_route_conf *r;

	cr_assert_eq(c->magic, VEER_CONFIG_MAGIC);
	cr_assert_eq(atomic_load(&c->refs), 1);
	cr_assert_eq(c->generation, 0);
	cr_assert_str_eq(c->path, "t.yaml");

	cr_assert_eq(c->global.workers, 3);
	cr_assert_eq(c->global.max_connections, 500);
	cr_assert_eq(c->global.drain_timeout, 120000);
	cr_assert_eq(c->global.expose_headers, false);
	cr_assert_str_eq(c->global.user, "veer");
	cr_assert_eq(c->global.log_level, VEER_LOG_DEBUG);
	cr_assert_str_eq(c->global.log_error, "/var/log/veer/error.log");
	cr_assert_str_eq(c->global.log_access, "off");
	cr_assert_eq(c->global.access_json, false);

	cr_assert_eq(c->nlisteners, 2);
	l = &c->listeners[0];
	cr_assert_str_eq(l->name, "web");
	cr_assert_str_eq(l->addr.text, "0.0.0.0:8080");
	cr_assert_eq(l->addr.ss.ss_family, AF_INET);
	cr_assert_eq(ntohs(((struct sockaddr_in *)&l->addr.ss)->sin_port), 8080);
	cr_assert_eq(l->addr.len, sizeof(struct sockaddr_in));
	cr_assert_eq(l->header_timeout, 5000);
	cr_assert_eq(l->idle_timeout, 60000);
	cr_assert_eq(l->body_timeout, 250);
	cr_assert_eq(l->header_bytes, 16384);
	cr_assert_eq(l->max_headers, 50);
	cr_assert_eq(l->body_bytes, 1024ull * 1024 * 1024);
	cr_assert_eq(l->nroutes, 2);
	cr_assert_eq(l->routes[0], &c->routes[2]);
	cr_assert_eq(l->routes[1], &c->routes[0]);
	l = &c->listeners[1];
	cr_assert_str_eq(l->name, "v6");
	cr_assert_str_eq(l->addr.text, "[::1]:8443");
	cr_assert_eq(l->addr.ss.ss_family, AF_INET6);
	cr_assert_eq(l->addr.len, sizeof(struct sockaddr_in6));
	cr_assert_eq(l->nroutes, 3, "default: every route");
	cr_assert_eq(l->routes[0], &c->routes[0]);
	cr_assert_eq(l->routes[1], &c->routes[1]);
	cr_assert_eq(l->routes[2], &c->routes[2]);

	cr_assert_eq(c->npools, 2);
	p = &c->pools[0];
	cr_assert_str_eq(p->name, "api-v1");
	cr_assert_str_eq(p->version, "1.8.3");
	cr_assert_eq(p->semver.major, 1);
	cr_assert_eq(p->semver.minor, 8);
	cr_assert_eq(p->semver.patch, 3);
	cr_assert_null(p->semver.pre);
	cr_assert_eq(p->balance, VEER_BALANCE_HASH);
	cr_assert_eq(p->balancer, &veer_balance_hash);
	cr_assert_eq(p->hash_on, VEER_HASH_HEADER);
	cr_assert_str_eq(p->hash_key, "X-User-Id");
	cr_assert_eq(p->nservers, 3);
	cr_assert_str_eq(p->servers[0].address, "127.0.0.1:9001");
	cr_assert_str_eq(p->servers[0].addr.text, "127.0.0.1:9001");
	cr_assert_eq(p->servers[0].weight, 1);
	cr_assert_str_eq(p->servers[1].addr.text, "127.0.0.1:9002");
	cr_assert_eq(p->servers[1].weight, 2);
	cr_assert_str_eq(p->servers[2].address, "[::1]:9003");
	cr_assert_str_eq(p->servers[2].addr.text, "[::1]:9003");
	cr_assert_eq(p->servers[2].weight, 0);
	cr_assert_eq(p->keepalive_max_idle, 8);
	cr_assert_eq(p->keepalive_idle_timeout, 30000);
	cr_assert_eq(p->connect_timeout, 1000);
	cr_assert_eq(p->response_timeout, 30000);
	cr_assert_eq(p->index, 0);
	p = &c->pools[1];
	cr_assert_str_eq(p->name, "web-blue");
	cr_assert_null(p->version);
	cr_assert_eq(p->semver.major + p->semver.minor + p->semver.patch, 0);
	cr_assert_null(p->semver.pre);
	cr_assert_eq(p->balance, VEER_BALANCE_LEAST_CONN);
	cr_assert_eq(p->balancer, &veer_balance_least_conn);
	cr_assert_eq(p->hash_on, VEER_HASH_NONE);
	cr_assert_null(p->hash_key);
	cr_assert_str_eq(p->servers[0].address, "localhost:9100");
	cr_assert(strcmp(p->servers[0].addr.text, "127.0.0.1:9100") == 0 ||
			  strcmp(p->servers[0].addr.text, "[::1]:9100") == 0,
		  "%s", p->servers[0].addr.text);
	cr_assert_eq(p->index, 1);

	cr_assert_eq(c->nroutes, 3);
	r = &c->routes[0];
	cr_assert_str_eq(r->name, "api");
	cr_assert_str_eq(r->match_host, "api.example.com");
	cr_assert_str_eq(r->match_path_prefix, "/api/");
	cr_assert_eq(r->action, VEER_ACTION_POOL);
	cr_assert_eq(r->pool, &c->pools[0]);
	cr_assert_eq(r->index, 0);
	r = &c->routes[1];
	cr_assert_null(r->match_host);
	cr_assert_str_eq(r->match_path_prefix, "/");
	cr_assert_eq(r->pool, &c->pools[1]);
	r = &c->routes[2];
	cr_assert_eq(r->action, VEER_ACTION_RESPOND);
	cr_assert_null(r->pool);
	cr_assert_eq(r->respond_status, 200);
	cr_assert_str_eq(r->respond_body, "pong\n");
	cr_assert_eq(r->respond_body_len, 5);
	cr_assert_eq(r->index, 2);

	cr_assert_eq(veer_config_pool(c, "web-blue"), &c->pools[1]);
	cr_assert_null(veer_config_pool(c, "nope"));
	cr_assert_eq(veer_config_route(c, "health"), &c->routes[2]);
	cr_assert_null(veer_config_route(c, "nope"));

	cr_assert_eq(veer_config_unref(c), true);
	veer_config_free(c);
}

Test(config, defaults)
{
	struct veer_config *c = load_ok(MINIMAL);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	cr_assert_eq(c->global.workers, cpus < 1 ? 1 : cpus > 256 ? 256 : (unsigned)cpus);
	cr_assert_eq(c->global.max_connections, 20000);
	cr_assert_eq(c->global.drain_timeout, 30000);
	cr_assert_eq(c->global.expose_headers, true);
	cr_assert_null(c->global.user);
	cr_assert_eq(c->global.log_level, VEER_LOG_INFO);
	cr_assert_str_eq(c->global.log_error, "stderr");
	cr_assert_str_eq(c->global.log_access, "off");
	cr_assert_eq(c->global.access_json, true);

	cr_assert_eq(c->listeners[0].header_timeout, 10000);
	cr_assert_eq(c->listeners[0].idle_timeout, 75000);
	cr_assert_eq(c->listeners[0].body_timeout, 60000);
	cr_assert_eq(c->listeners[0].header_bytes, 32 * 1024);
	cr_assert_eq(c->listeners[0].max_headers, 100);
	cr_assert_eq(c->listeners[0].body_bytes, 100ull * 1024 * 1024);
	cr_assert_str_eq(c->listeners[0].addr.text, "127.0.0.1:0");
	cr_assert_eq(c->listeners[0].nroutes, 1);
	cr_assert_eq(c->listeners[0].routes[0], &c->routes[0]);

	cr_assert_eq(c->pools[0].balance, VEER_BALANCE_ROUND_ROBIN);
	cr_assert_eq(c->pools[0].balancer, &veer_balance_round_robin);
	cr_assert_eq(c->pools[0].servers[0].weight, 1);
	cr_assert_eq(c->pools[0].keepalive_max_idle, 64);
	cr_assert_eq(c->pools[0].keepalive_idle_timeout, 60000);
	cr_assert_eq(c->pools[0].connect_timeout, 5000);
	cr_assert_eq(c->pools[0].response_timeout, 60000);

	cr_assert_null(c->routes[0].match_host);
	cr_assert_null(c->routes[0].match_path_prefix);
	cr_assert_eq(c->routes[0].action, VEER_ACTION_POOL);
	cr_assert_eq(c->routes[0].pool, &c->pools[0]);
	veer_config_free(c);
}

Test(config, workers_auto_and_number)
{
	struct veer_config *c = load_ok("global: { workers: auto }\n" MINIMAL);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	cr_assert_gt(c->global.workers, 0);
	cr_assert_eq(c->global.workers, cpus > 256 ? 256 : (unsigned)cpus);
	veer_config_free(c);
	c = load_ok("global: { workers: 256 }\n" MINIMAL);
	cr_assert_eq(c->global.workers, 256);
	veer_config_free(c);
	EXPECT_ERRORS("global: { workers: 0 }\n" MINIMAL,
		      "t.yaml:1:20: global.workers: 0 is out of range 1..256");
	EXPECT_ERRORS("global: { workers: many }\n" MINIMAL,
		      "t.yaml:1:20: global.workers: expected an integer or \"auto\", got \"many\"");
}

Test(config, respond_body_keeps_nul_and_default_empty)
{
	struct veer_config *c =
		load_ok(MIN_LISTENERS "routes:\n"
				      "  - name: a\n"
				      "    respond: { status: 204 }\n"
				      "  - name: b\n"
				      "    respond: { status: 503, body: \"x\\0y\" }\n");

	cr_assert_eq(c->npools, 0);
	cr_assert_eq(c->routes[0].respond_status, 204);
	cr_assert_str_eq(c->routes[0].respond_body, "");
	cr_assert_eq(c->routes[0].respond_body_len, 0);
	cr_assert_eq(c->routes[1].respond_body_len, 3);
	cr_assert_eq(memcmp(c->routes[1].respond_body, "x\0y", 3), 0);
	veer_config_free(c);
}

Test(config, hash_on_forms)
{
	static const struct {
		const char *text;
		enum veer_hash_on on;
		const char *key;
	} cases[] = {
		{ "header:X-User-Id", VEER_HASH_HEADER, "X-User-Id" },
		{ "cookie:session", VEER_HASH_COOKIE, "session" },
		{ "client_ip", VEER_HASH_CLIENT_IP, NULL },
		{ "path", VEER_HASH_PATH, NULL },
	};
	char yaml[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct veer_config *c;
		snprintf(yaml, sizeof(yaml),
			 MIN_LISTENERS "pools:\n  - name: p\n    balance: hash\n    hash_on: %s\n"
				       "    servers: [{address: 127.0.0.1:1}]\n",
			 cases[i].text);
		c = load_ok(yaml);
		cr_assert_eq(c->pools[0].hash_on, cases[i].on, "%s", cases[i].text);
		if (cases[i].key != NULL)
			cr_assert_str_eq(c->pools[0].hash_key, cases[i].key);
		else
			cr_assert_null(c->pools[0].hash_key);
		veer_config_free(c);
	}
}

Test(config, refcount)
{
	struct veer_config *c = load_ok(MINIMAL);

	veer_config_ref(c);
	veer_config_ref(c);
	cr_assert_eq(veer_config_unref(c), false);
	cr_assert_eq(veer_config_unref(c), false);
	cr_assert_eq(veer_config_unref(c), true);
	veer_config_free(c);
	veer_config_free(NULL);
}

Test(config, load_from_file)
{
	char path[] = "/tmp/veer-test-config-XXXXXX";
	int fd = mkstemp(path);
	struct veer_errors e = { 0 };
	struct veer_config *c;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, MINIMAL, strlen(MINIMAL)), (ssize_t)strlen(MINIMAL));
	close(fd);
	c = veer_config_load(path, &e);
	cr_assert_not_null(c, "%s", joined(&e));
	cr_assert_str_eq(c->path, path);
	veer_config_free(c);

	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_eq(write(fd, "oops: 1\n", 8), 8);
	close(fd);
	c = veer_config_load(path, &e);
	cr_assert_null(c);
	cr_assert_eq(e.n, 1);
	cr_assert(strncmp(e.lines[0], path, strlen(path)) == 0);
	cr_assert(strstr(e.lines[0], ":11:1: unknown key \"oops\" at the top level") != NULL, "%s",
		  e.lines[0]);
	veer_errors_free(&e);
	unlink(path);

	c = veer_config_load("/nonexistent/veer.yaml", &e);
	cr_assert_null(c);
	cr_assert_eq(e.n, 1);
	cr_assert_str_eq(e.lines[0],
			 "/nonexistent/veer.yaml: cannot open: No such file or directory");
	veer_errors_free(&e);
}

Test(config, errors_list)
{
	struct veer_errors e = { 0 };

	veer_errors_add(&e, "a %d", 1);
	veer_errors_add(&e, "%s", "b");
	cr_assert_eq(e.n, 2);
	cr_assert_str_eq(e.lines[0], "a 1");
	cr_assert_str_eq(e.lines[1], "b");
	veer_errors_free(&e);
	cr_assert_eq(e.n, 0);
	cr_assert_null(e.lines);
}

/* ---- errors, each with its line and column ---------------------------- */

Test(config, error_yaml_syntax)
{
	EXPECT_ERRORS("listeners:\n  - name: web\n    listen: [1\n",
		      "t.yaml:4:1: YAML syntax error: did not find expected ',' or ']' "
		      "(while parsing a flow sequence at 3:13)");
	EXPECT_ERRORS(
		"a: b: c\n",
		"t.yaml:1:5: YAML syntax error: mapping values are not allowed in this context");
	EXPECT_ERRORS("a: *nope\n", "t.yaml:1:4: YAML syntax error: found undefined alias");
	EXPECT_ERRORS("x: 1\n---\ny: 2\n", "t.yaml:3:1: only one YAML document is allowed");
	EXPECT_ERRORS("x: \"\xff\"\n",
		      "t.yaml:1:5: YAML syntax error: invalid leading UTF-8 octet");
}

Test(config, error_unknown_key)
{
	EXPECT_ERRORS("colour: red\n" MINIMAL,
		      "t.yaml:1:1: unknown key \"colour\" at the top level "
		      "(known keys: global, listeners, pools, routes)");
	EXPECT_ERRORS("listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
		      "    timeouts: { header: 1s, read: 2s }\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:4:29: unknown key \"read\" in listeners[0].timeouts "
		      "(known keys: header, idle, body)");
	EXPECT_ERRORS("global:\n  log:\n    lvl: info\n" MINIMAL,
		      "t.yaml:3:5: unknown key \"lvl\" in global.log "
		      "(known keys: level, error, access, access_format)");
	/* a dotted key must not reach a deeper row of the table */
	EXPECT_ERRORS("global.workers: 2\n" MINIMAL,
		      "t.yaml:1:1: unknown key \"global.workers\" at the top level "
		      "(known keys: global, listeners, pools, routes)");
}

Test(config, error_wrong_type)
{
	EXPECT_ERRORS("global: [1, 2]\n" MINIMAL,
		      "t.yaml:1:9: global: expected a mapping, got a list");
	EXPECT_ERRORS("listeners: { name: web }\n",
		      "t.yaml:1:12: listeners: expected a list, got a mapping");
	EXPECT_ERRORS("listeners:\n  - web\n",
		      "t.yaml:2:5: listeners[0]: expected a mapping, got \"web\"");
	EXPECT_ERRORS("global: { max_connections: lots }\n" MINIMAL,
		      "t.yaml:1:28: global.max_connections: expected an integer, got \"lots\"");
	EXPECT_ERRORS("global: { max_connections: 1.5 }\n" MINIMAL,
		      "t.yaml:1:28: global.max_connections: expected an integer, got \"1.5\"");
	EXPECT_ERRORS("global: { drain_timeout: { a: 1 } }\n" MINIMAL,
		      "t.yaml:1:26: global.drain_timeout: expected a duration (250ms, 2s, 1m, 1h), "
		      "got a mapping");
	EXPECT_ERRORS("global: { user: }\n" MINIMAL,
		      "t.yaml:1:17: global.user: expected a string, got nothing");
	EXPECT_ERRORS("global: { expose_headers: yes }\n" MINIMAL,
		      "t.yaml:1:27: global.expose_headers: expected true or false, got \"yes\"");
	EXPECT_ERRORS("global: { log: { level: loud } }\n" MINIMAL,
		      "t.yaml:1:25: global.log.level: unknown value \"loud\" "
		      "(expected one of error, warn, info, debug)");
	EXPECT_ERRORS(MIN_LISTENERS MIN_POOLS "routes:\n  - name: r\n    pool: [p]\n",
		      "t.yaml:10:11: routes[0].pool: expected a string, got a list");
	EXPECT_ERRORS(
		"listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    routes: r\n" MIN_POOLS
			MIN_ROUTES,
		"t.yaml:4:13: listeners[0].routes: expected a list of strings, got \"r\"");
	EXPECT_ERRORS(
		"listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    routes: [[r]]\n" MIN_POOLS
			MIN_ROUTES,
		"t.yaml:4:14: listeners[0].routes[0]: expected a string, got a list");
	EXPECT_ERRORS("- a\n", "t.yaml:1:1: the document must be a mapping, got a list");
	EXPECT_ERRORS("? [a]\n: 1\n" MINIMAL,
		      "t.yaml:1:3: keys must be strings, got a list at the top level");
}

Test(config, error_bad_values)
{
	EXPECT_ERRORS("global: { drain_timeout: 30 }\n" MINIMAL,
		      "t.yaml:1:26: global.drain_timeout: bad duration \"30\" "
		      "(use an integer and a unit: 250ms, 2s, 1m, 1h)");
	EXPECT_ERRORS("global: { drain_timeout: 1.5s }\n" MINIMAL,
		      "t.yaml:1:26: global.drain_timeout: bad duration \"1.5s\" "
		      "(use an integer and a unit: 250ms, 2s, 1m, 1h)");
	EXPECT_ERRORS("listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
		      "    limits: { body_bytes: 10kb }\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:4:27: listeners[0].limits.body_bytes: bad size \"10kb\" "
		      "(use an integer and an optional unit: 512, 16k, 1m, 1g)");
	EXPECT_ERRORS("listeners:\n  - name: web\n    listen: 127.0.0.1\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:3:13: listeners[0].listen: bad address \"127.0.0.1\": missing :PORT");
	EXPECT_ERRORS(
		"listeners:\n  - name: web\n    listen: 127.0.0.1:65536\n" MIN_POOLS MIN_ROUTES,
		"t.yaml:3:13: listeners[0].listen: bad address \"127.0.0.1:65536\": "
		"port out of range 0..65535");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    servers:\n"
				    "      - address: no-such-host.invalid:80\n" MIN_ROUTES,
		      "t.yaml:7:18: pools[0].servers[0].address: bad address "
		      "\"no-such-host.invalid:80\": cannot resolve \"no-such-host.invalid\": "
		      "Name or service not known");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    servers:\n"
				    "      - address: \"bad host:80\"\n" MIN_ROUTES,
		      "t.yaml:7:18: pools[0].servers[0].address: bad address \"bad host:80\": "
		      "bad host \"bad host\"");
	EXPECT_ERRORS(
		MIN_LISTENERS MIN_POOLS "routes:\n  - name: r\n    match: { path_prefix: api }\n"
					"    pool: p\n",
		"t.yaml:10:27: routes[0].match.path_prefix: must start with \"/\", got \"api\"");
	EXPECT_ERRORS(
		"listeners:\n  - name: \"we b\"\n    listen: 127.0.0.1:0\n" MIN_POOLS MIN_ROUTES,
		"t.yaml:2:11: listeners[0].name: bad name \"we b\" "
		"(use up to 128 letters, digits, \".\", \"_\" and \"-\")");
	EXPECT_ERRORS("listeners:\n  - name: \"\"\n    listen: 127.0.0.1:0\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:2:11: listeners[0].name: must not be empty");
	EXPECT_ERRORS("global: { user: \"a\\0b\" }\n" MINIMAL,
		      "t.yaml:1:17: global.user: must not contain a NUL byte");
}

Test(config, error_out_of_range)
{
	EXPECT_ERRORS("global: { max_connections: 1000001 }\n" MINIMAL,
		      "t.yaml:1:28: global.max_connections: 1000001 is out of range 1..1000000");
	EXPECT_ERRORS("global: { max_connections: -5 }\n" MINIMAL,
		      "t.yaml:1:28: global.max_connections: -5 is out of range 1..1000000");
	EXPECT_ERRORS("global: { max_connections: 99999999999999999999999 }\n" MINIMAL,
		      "t.yaml:1:28: global.max_connections: expected an integer, "
		      "got \"99999999999999999999999\"");
	EXPECT_ERRORS("listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
		      "    limits: { header_bytes: 512, headers: 1001 }\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:4:29: listeners[0].limits.header_bytes: 512 is out of range 1k..1m",
		      "t.yaml:4:43: listeners[0].limits.headers: 1001 is out of range 1..1000");
	EXPECT_ERRORS("listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
		      "    timeouts: { idle: 0ms, header: 25h }\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:4:23: listeners[0].timeouts.idle: 0ms is out of range 1ms..24h",
		      "t.yaml:4:36: listeners[0].timeouts.header: 25h is out of range 1ms..24h");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    servers:\n"
				    "      - { address: 127.0.0.1:1, weight: 1001 }\n" MIN_ROUTES,
		      "t.yaml:7:41: pools[0].servers[0].weight: 1001 is out of range 0..1000");
	EXPECT_ERRORS(MIN_LISTENERS MIN_POOLS
		      "routes:\n  - name: r\n    respond: { status: 600 }\n",
		      "t.yaml:10:24: routes[0].respond.status: 600 is out of range 100..599");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    keepalive: { max_idle: 100001 }\n"
				    "    servers: [{address: 127.0.0.1:1}]\n" MIN_ROUTES,
		      "t.yaml:6:28: pools[0].keepalive.max_idle: 100001 is out of range 0..100000");
}

Test(config, error_duplicate_names)
{
	EXPECT_ERRORS(
		"listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
		"  - name: web\n    listen: 127.0.0.1:0\n" MIN_POOLS MIN_ROUTES,
		"t.yaml:4:11: listeners[1].name: duplicate listener name \"web\" (first at 2:11)");
	EXPECT_ERRORS(MIN_LISTENERS
		      "pools:\n  - name: p\n    servers: [{address: 127.0.0.1:1}]\n"
		      "  - name: p\n    servers: [{address: 127.0.0.1:2}]\n" MIN_ROUTES,
		      "t.yaml:7:11: pools[1].name: duplicate pool name \"p\" (first at 5:11)");
	EXPECT_ERRORS(MIN_LISTENERS MIN_POOLS "routes:\n  - name: r\n    pool: p\n"
					      "  - name: r\n    pool: p\n",
		      "t.yaml:11:11: routes[1].name: duplicate route name \"r\" (first at 9:11)");
	EXPECT_ERRORS(MIN_LISTENERS
		      "pools:\n  - name: p\n    servers:\n"
		      "      - address: 127.0.0.1:1\n      - address: 127.0.0.1:1\n" MIN_ROUTES,
		      "t.yaml:8:18: pools[0].servers[1].address: duplicate server 127.0.0.1:1 "
		      "in pool \"p\"");
	EXPECT_ERRORS("listeners:\n  - name: a\n    listen: 127.0.0.1:8080\n"
		      "  - name: b\n    listen: 127.0.0.1:8080\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:5:13: listeners[1].listen: 127.0.0.1:8080 is already used by "
		      "listener \"a\"");
}

Test(config, error_duplicate_key)
{
	EXPECT_ERRORS(
		"listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    name: web2\n" MIN_POOLS
			MIN_ROUTES,
		"t.yaml:4:5: duplicate key \"name\" in listeners[0] (first at 2:5)");
	EXPECT_ERRORS("global: {}\nglobal: {}\n" MINIMAL,
		      "t.yaml:2:1: duplicate key \"global\" at the top level (first at 1:1)");
}

Test(config, error_dangling_names)
{
	EXPECT_ERRORS(MIN_LISTENERS MIN_POOLS "routes:\n  - name: r\n    pool: nope\n",
		      "t.yaml:10:11: routes[0].pool: pool \"nope\" is not defined");
	EXPECT_ERRORS(
		"listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    routes: [r, x]\n" MIN_POOLS
			MIN_ROUTES,
		"t.yaml:4:17: listeners[0].routes[1]: route \"x\" is not defined");
	EXPECT_ERRORS(
		"listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    routes: [r, r]\n" MIN_POOLS
			MIN_ROUTES,
		"t.yaml:4:17: listeners[0].routes[1]: route \"r\" is listed twice");
}

Test(config, error_servers)
{
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    servers: []\n" MIN_ROUTES,
		      "t.yaml:6:14: pools[0].servers: pool \"p\" has no servers");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n" MIN_ROUTES,
		      "t.yaml:5:5: pools[0]: pool \"p\" has no servers");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    servers:\n" MIN_ROUTES,
		      "t.yaml:6:13: pools[0].servers: pool \"p\" has no servers");
}

Test(config, error_route_actions)
{
	EXPECT_ERRORS(MIN_LISTENERS MIN_POOLS
		      "routes:\n  - name: r\n    match: { path_prefix: / }\n",
		      "t.yaml:9:5: routes[0]: route \"r\" has no action "
		      "(pool, respond, split or blue_green)");
	EXPECT_ERRORS(MIN_LISTENERS MIN_POOLS "routes:\n  - name: r\n    pool: p\n"
					      "    respond: { status: 200 }\n",
		      "t.yaml:11:5: routes[0].respond: route \"r\" has more than one action "
		      "(pool and respond)");
}

Test(config, error_missing_required)
{
	EXPECT_ERRORS("listeners:\n  - listen: 127.0.0.1:0\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:2:5: listeners[0]: missing required key \"name\"");
	EXPECT_ERRORS("listeners:\n  - name: web\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:2:5: listeners[0]: missing required key \"listen\"");
	EXPECT_ERRORS(MIN_LISTENERS
		      "pools:\n  - name: p\n    servers:\n      - weight: 1\n" MIN_ROUTES,
		      "t.yaml:7:9: pools[0].servers[0]: missing required key \"address\"");
	EXPECT_ERRORS(MIN_LISTENERS MIN_POOLS "routes:\n  - name: r\n    respond: {}\n",
		      "t.yaml:10:14: routes[0].respond: missing required key \"status\"");
	EXPECT_ERRORS(MIN_LISTENERS MIN_POOLS "routes:\n  - pool: p\n",
		      "t.yaml:9:5: routes[0]: missing required key \"name\"");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - servers: [{address: 127.0.0.1:1}]\n" MIN_ROUTES,
		      "t.yaml:5:5: pools[0]: missing required key \"name\"",
		      "t.yaml:8:11: routes[0].pool: pool \"p\" is not defined");
}

Test(config, error_no_listeners)
{
	EXPECT_ERRORS(MIN_POOLS MIN_ROUTES,
		      "t.yaml:1:1: no listeners defined (at least one is needed)");
	EXPECT_ERRORS("listeners: []\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:1:12: no listeners defined (at least one is needed)");
	EXPECT_ERRORS("", "t.yaml:1:1: no listeners defined (at least one is needed)");
	EXPECT_ERRORS("# only a comment\n",
		      "t.yaml:1:1: no listeners defined (at least one is needed)");
}

Test(config, error_hash_on)
{
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    balance: hash\n"
				    "    servers: [{address: 127.0.0.1:1}]\n" MIN_ROUTES,
		      "t.yaml:6:5: pools[0].balance: balance hash needs hash_on "
		      "(header:NAME, cookie:NAME, client_ip or path)");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    hash_on: path\n"
				    "    servers: [{address: 127.0.0.1:1}]\n" MIN_ROUTES,
		      "t.yaml:6:5: pools[0].hash_on: only valid with balance: hash");
	EXPECT_ERRORS(MIN_LISTENERS
		      "pools:\n  - name: p\n    balance: hash\n    hash_on: \"header:X Y\"\n"
		      "    servers: [{address: 127.0.0.1:1}]\n" MIN_ROUTES,
		      "t.yaml:7:14: pools[0].hash_on: bad value \"header:X Y\" "
		      "(expected header:NAME, cookie:NAME, client_ip or path)");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    balance: fastest\n"
				    "    servers: [{address: 127.0.0.1:1}]\n" MIN_ROUTES,
		      "t.yaml:6:14: pools[0].balance: unknown value \"fastest\" "
		      "(expected one of round_robin, least_conn, p2c, random, hash)");
}

/* global.redis and rate_limit.scope: global (issue 10). */
Test(config, redis)
{
	struct veer_config *c = load_ok(
		"global:\n  redis: { address: 127.0.0.1:6390, timeout: 20ms, on_error: deny }\n" MIN_LISTENERS
			MIN_POOLS "routes:\n  - name: r\n    pool: p\n"
			"    rate_limit: { rate: 50/s, burst: 10, key: route, scope: global }\n");

	cr_assert(c->global.redis_enabled);
	cr_assert_str_eq(c->global.redis_addr.text, "127.0.0.1:6390");
	cr_assert_eq(c->global.redis_timeout, 20);
	cr_assert(c->global.redis_deny);
	cr_assert(c->routes[0].rate_limit.global);
	cr_assert_eq(c->routes[0].rate_limit.burst, 10);
	veer_config_unref(c);
	veer_config_free(c);

	/* defaults: 50ms, allow; scope local */
	c = load_ok("global:\n  redis: { address: 127.0.0.1:6379 }\n" MIN_LISTENERS MIN_POOLS
		    "routes:\n  - name: r\n    pool: p\n    rate_limit: { rate: 5/s }\n");
	cr_assert_eq(c->global.redis_timeout, 50);
	cr_assert_not(c->global.redis_deny);
	cr_assert_not(c->routes[0].rate_limit.global);
	veer_config_unref(c);
	veer_config_free(c);
	c = load_ok(MINIMAL);
	cr_assert_not(c->global.redis_enabled);
	veer_config_unref(c);
	veer_config_free(c);

	EXPECT_ERRORS(MIN_LISTENERS MIN_POOLS "routes:\n  - name: r\n    pool: p\n"
					      "    rate_limit: { rate: 5/s, scope: global }\n",
		      "t.yaml:11:37: routes[0].rate_limit.scope: global needs global.redis (the "
		      "Redis server that holds the shared buckets)");
	EXPECT_ERRORS("global:\n  redis: { timeout: 10ms }\n" MINIMAL,
		      "t.yaml:2:10: global.redis: missing required key \"address\"");
	EXPECT_ERRORS("global:\n  redis: { address: 127.0.0.1:6379, on_error: retry }\n" MINIMAL,
		      "t.yaml:2:47: global.redis.on_error: unknown value \"retry\" (expected one "
		      "of allow, deny)");
	EXPECT_ERRORS("global:\n  redis: { address: 127.0.0.1:6379, timeout: 0ms }\n" MINIMAL,
		      "t.yaml:2:46: global.redis.timeout: 0ms is out of range 1ms..1m");
	EXPECT_ERRORS("global:\n  redis: { address: \"127.0.0.1\" }\n" MINIMAL,
		      "t.yaml:2:21: global.redis.address: bad address \"127.0.0.1\": missing :PORT");
}

/* ---- TLS ------------------------------------------------------------------ */

/* TMPL with every "$D" replaced by the directory of the test certificates
 * (made by the PRE_ALL hook of test_tls.c), into BUF (N bytes). */
static const char *subst_certs(char *buf, size_t n, const char *tmpl)
{
	const char *dir = getenv("VEER_TEST_CERTS");
	size_t o = 0;

	cr_assert_not_null(dir, "no test certificates (see test_tls.c)");
	for (const char *p = tmpl; *p != '\0' && o + 512 < n; p++) {
		if (p[0] == '$' && p[1] == 'D') {
			o += (size_t)snprintf(buf + o, n - o, "%s", dir);
			p++;
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* For YAML. */
static const char *with_certs(const char *tmpl)
{
	static char buf[8192];

	return subst_certs(buf, sizeof(buf), tmpl);
}

/* For an expected error line. */
static const char *with_certs2(const char *tmpl)
{
	static char buf[1024];

	return subst_certs(buf, sizeof(buf), tmpl);
}

Test(config, tls_fields)
{
	struct veer_config *c =
		load_ok(with_certs("listeners:\n"
				   "  - name: web\n"
				   "    listen: 127.0.0.1:0\n"
				   "    tls:\n"
				   "      certificates:\n"
				   "        - cert: $D/a.crt\n"
				   "          key: $D/a.key\n"
				   "        - { cert: $D/b.crt, key: $D/b.key }\n"
				   "      min_version: \"1.3\"\n"
				   "  - name: plain\n"
				   "    listen: 127.0.0.1:0\n"
				   "  - name: web2\n"
				   "    listen: 127.0.0.1:0\n"
				   "    tls: { certificates: [{ cert: $D/c.crt, key: "
				   "$D/c.key }] }\n"
				   "pools:\n"
				   "  - name: p\n"
				   "    servers: [{address: 127.0.0.1:9001}]\n"
				   "    tls: { ca: $D/ca.crt, server_name: api.internal }\n"
				   "  - name: q\n"
				   "    servers: [{address: 127.0.0.1:9002}]\n"
				   "    tls: {}\n"
				   "  - name: r\n"
				   "    servers: [{address: 127.0.0.1:9003}]\n"
				   "    tls: { server_name: \"::1\" }\n"
				   "  - name: plain\n"
				   "    servers: [{address: 127.0.0.1:9004}]\n"
				   "routes: [{ name: r, pool: p }]\n"));
	const struct veer_listener_conf *l = &c->listeners[0];
	const struct veer_pool_conf *p = &c->pools[0];
	char want[512];

	cr_assert(l->tls.enabled);
	cr_assert_eq(l->tls.ncerts, 2);
	snprintf(want, sizeof(want), "%s/a.crt", getenv("VEER_TEST_CERTS"));
	cr_assert_str_eq(l->tls.certs[0].cert, want);
	snprintf(want, sizeof(want), "%s/b.key", getenv("VEER_TEST_CERTS"));
	cr_assert_str_eq(l->tls.certs[1].key, want);
	cr_assert_eq(l->tls.min_version, 13);
	cr_assert_not_null(l->tls.server, "built at load");
	l = &c->listeners[1];
	cr_assert_not(l->tls.enabled);
	cr_assert_eq(l->tls.ncerts, 0);
	cr_assert_null(l->tls.server);
	l = &c->listeners[2];
	cr_assert(l->tls.enabled);
	cr_assert_eq(l->tls.min_version, 12, "default 1.2");
	cr_assert_not_null(l->tls.server);

	cr_assert(p->tls.enabled);
	snprintf(want, sizeof(want), "%s/ca.crt", getenv("VEER_TEST_CERTS"));
	cr_assert_str_eq(p->tls.ca, want);
	cr_assert_str_eq(p->tls.server_name, "api.internal");
	cr_assert_not_null(p->tls.client, "built at load");
	p = &c->pools[1];
	cr_assert(p->tls.enabled, "tls: {} = TLS, verified against the system store");
	cr_assert_null(p->tls.ca);
	cr_assert_null(p->tls.server_name);
	cr_assert_not_null(p->tls.client);
	cr_assert_str_eq(c->pools[2].tls.server_name, "::1");
	p = &c->pools[3];
	cr_assert_not(p->tls.enabled);
	cr_assert_null(p->tls.client);
	veer_config_free(c);
}

Test(config, error_tls_files)
{
	const char *yaml = with_certs("listeners:\n"
				      "  - name: web\n"
				      "    listen: 127.0.0.1:0\n"
				      "    tls:\n"
				      "      certificates:\n"
				      "        - cert: $D/a.crt\n"
				      "          key: $D/a.key\n"
				      "        - cert: $D/a.crt\n"
				      "          key: $D/b.key\n"
				      "        - cert: $D/none.crt\n"
				      "          key: $D/a.key\n"
				      "        - cert: $D/expired.crt\n"
				      "          key: $D/expired.key\n"
				      "        - cert: $D/future.crt\n"
				      "          key: $D/future.key\n"
				      "        - cert: $D/b.crt\n"
				      "          key: $D/none.key\n" MIN_POOLS MIN_ROUTES);
	const char *want[6];
	char w[6][1024];

	snprintf(w[0], sizeof(w[0]), "%s",
		 with_certs2("t.yaml:9:16: listeners[0].tls.certificates[1].key: key does not "
			     "match certificate $D/a.crt"));
	snprintf(w[1], sizeof(w[1]), "%s",
		 with_certs2("t.yaml:10:17: listeners[0].tls.certificates[2].cert: cannot read "
			     "$D/none.crt: No such file or directory"));
	snprintf(w[2], sizeof(w[2]), "%s",
		 with_certs2("t.yaml:12:17: listeners[0].tls.certificates[3].cert: certificate "
			     "$D/expired.crt expired on 2020-01-02 00:00:00 UTC"));
	snprintf(w[3], sizeof(w[3]), "%s",
		 with_certs2("t.yaml:14:17: listeners[0].tls.certificates[4].cert: certificate "
			     "$D/future.crt is not yet valid (from 2099-01-01 00:00:00 UTC)"));
	snprintf(w[4], sizeof(w[4]), "%s",
		 with_certs2("t.yaml:17:16: listeners[0].tls.certificates[5].key: cannot read "
			     "$D/none.key: No such file or directory"));
	for (size_t i = 0; i < 5; i++)
		want[i] = w[i];
	expect_errors(yaml, want, 5);

	/* file errors are reported beside the other errors of the file */
	yaml = with_certs("listeners:\n"
			  "  - name: web\n"
			  "    listen: 127.0.0.1:0\n"
			  "    tls:\n"
			  "      certificates:\n"
			  "        - cert: $D/junk.pem\n"
			  "          key: $D/a.key\n"
			  "pools:\n"
			  "  - name: p\n"
			  "    servers: [{address: 127.0.0.1:9001}]\n"
			  "    tls:\n"
			  "      ca: $D/none.pem\n"
			  "routes: [{ name: r, pool: nope }]\n");
	snprintf(w[0], sizeof(w[0]), "%s",
		 with_certs2("t.yaml:12:11: pools[0].tls.ca: cannot read $D/none.pem: No such "
			     "file or directory"));
	snprintf(w[1], sizeof(w[1]), "t.yaml:13:27: routes[0].pool: pool \"nope\" is not defined");
	snprintf(w[2], sizeof(w[2]), "%s",
		 with_certs2("t.yaml:6:17: listeners[0].tls.certificates[0].cert: no PEM "
			     "certificate in $D/junk.pem (no start line)"));
	for (size_t i = 0; i < 3; i++)
		want[i] = w[i];
	expect_errors(yaml, want, 3);
}

Test(config, error_tls_keys)
{
	EXPECT_ERRORS("listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    tls: {}\n" MIN_POOLS
			      MIN_ROUTES,
		      "t.yaml:4:10: listeners[0].tls: missing required key \"certificates\"");
	EXPECT_ERRORS("listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
		      "    tls: { certificates: [] }\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:4:26: listeners[0].tls.certificates: at least one certificate is "
		      "needed");
	EXPECT_ERRORS(
		"listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
		"    tls:\n      certificates:\n        - { cert: /x.crt }\n" MIN_POOLS MIN_ROUTES,
		"t.yaml:6:11: listeners[0].tls.certificates[0]: missing required key "
		"\"key\"");
	EXPECT_ERRORS("listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
		      "    tls:\n      certificates:\n        - { cert: /x.crt, key: \"\" }\n"
		      "      min_version: 1.1\n" MIN_POOLS MIN_ROUTES,
		      "t.yaml:6:32: listeners[0].tls.certificates[0].key: must not be empty",
		      "t.yaml:7:20: listeners[0].tls.min_version: unknown value \"1.1\" "
		      "(expected one of 1.2, 1.3)");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    servers: [{address: 127.0.0.1:1}]\n"
				    "    tls: { server_name: \"bad name\", verify: false }\n"
				    "  - name: q\n    servers: [{address: 127.0.0.1:2}]\n"
				    "    tls: { server_name: \"*.example.com\" }\n"
				    "  - name: r\n    servers: [{address: 127.0.0.1:3}]\n"
				    "    tls: { ca: 5 }\n" MIN_ROUTES,
		      "t.yaml:7:25: pools[0].tls.server_name: bad server name \"bad name\" (a "
		      "host name or an IP address)",
		      "t.yaml:7:37: unknown key \"verify\" in pools[0].tls (known keys: ca, "
		      "server_name)",
		      "t.yaml:10:25: pools[1].tls.server_name: bad server name \"*.example.com\" "
		      "(a host name or an IP address)",
		      "t.yaml:13:16: pools[2].tls.ca: cannot read 5: No such file or directory");
}

Test(config, collects_all_errors)
{
	EXPECT_ERRORS("global:\n"
		      "  workers: 0\n"
		      "  drain_timeout: 5\n"
		      "  bogus: 1\n"
		      "listeners:\n"
		      "  - name: web\n"
		      "    listen: nowhere\n"
		      "pools:\n"
		      "  - name: p\n"
		      "    servers: []\n"
		      "routes:\n"
		      "  - name: r\n"
		      "    pool: q\n",
		      "t.yaml:2:12: global.workers: 0 is out of range 1..256",
		      "t.yaml:3:18: global.drain_timeout: bad duration \"5\" "
		      "(use an integer and a unit: 250ms, 2s, 1m, 1h)",
		      "t.yaml:4:3: unknown key \"bogus\" in global "
		      "(known keys: workers, max_connections, drain_timeout, expose_headers, user, "
		      "log, redis, admin)",
		      "t.yaml:7:13: listeners[0].listen: bad address \"nowhere\": missing :PORT",
		      "t.yaml:10:14: pools[0].servers: pool \"p\" has no servers",
		      "t.yaml:13:11: routes[0].pool: pool \"q\" is not defined");
}

Test(config, too_many_errors_are_capped)
{
	char *yaml = malloc(200 * 32 + 64), *p = yaml;
	struct veer_errors e = { 0 };

	p += sprintf(p, "global:\n");
	for (int i = 0; i < 150; i++)
		p += sprintf(p, "  k%d: 1\n", i);
	cr_assert_null(load(yaml, &e));
	cr_assert_eq(e.n, 101);
	cr_assert_str_eq(e.lines[100], "t.yaml: too many errors, only the first 100 are shown");
	veer_errors_free(&e);
	free(yaml);
}

Test(config, aliases_cannot_loop)
{
	/* An anchor inside itself: the walk follows the schema, so it ends. */
	struct veer_errors e = { 0 };

	cr_assert_null(load("global: &g { log: *g }\n" MINIMAL, &e));
	cr_assert_geq(e.n, 1);
	cr_assert_str_eq(e.lines[0],
			 "t.yaml:1:14: unknown key \"log\" in global.log "
			 "(known keys: level, error, access, access_format)",
			 "%s", joined(&e));
	veer_errors_free(&e);
}

/* ---- traffic policy: version, split, sticky, blue_green, headers ------- */

Test(config, traffic_policy_fields)
{
	struct veer_config *c =
		load_ok(MIN_LISTENERS "pools:\n"
				      "  - name: v1\n"
				      "    version: 1.8.3\n"
				      "    servers: [{address: 127.0.0.1:9001}]\n"
				      "  - name: v2\n"
				      "    version: v2.1.0-rc.1+build.5\n"
				      "    servers: [{address: 127.0.0.1:9002}]\n"
				      "  - name: plain\n"
				      "    servers: [{address: 127.0.0.1:9003}]\n"
				      "routes:\n"
				      "  - name: api\n"
				      "    match:\n"
				      "      host: \"*.Example.COM\"\n"
				      "      path_prefix: /api/\n"
				      "      methods: [get, Post, PURGE]\n"
				      "      headers: { X-Beta: 1, x-flag: true, X-Empty: \"\" }\n"
				      "    version:\n"
				      "      header: X-Api-Version\n"
				      "      pools: [v2, v1]\n"
				      "      on_mismatch: fallback\n"
				      "    split:\n"
				      "      - { pool: v1, weight: 95 }\n"
				      "      - { pool: v2, weight: 5 }\n"
				      "      - { pool: plain, weight: 0 }\n"
				      "    sticky: { cookie: uid }\n"
				      "    request_headers:\n"
				      "      set: { X-Env: prod, X-Colon: \"a: b\" }\n"
				      "      remove: [X-Internal, x-debug]\n"
				      "  - name: web\n"
				      "    match: { host: API.Example.com }\n"
				      "    blue_green: { blue: v1, green: plain, active: green }\n"
				      "  - name: bg\n"
				      "    version: { header: X-V, pools: [v1] }\n"
				      "    blue_green: { green: v1, blue: plain, active: blue }\n"
				      "  - name: hdr\n"
				      "    split: [{ pool: plain, weight: 10000 }]\n"
				      "    sticky: { header: X-User-Id }\n");
	const struct veer_pool_conf *v1 = &c->pools[0], *v2 = &c->pools[1], *plain = &c->pools[2];
	const struct veer_route_conf *r;

	cr_assert_str_eq(v1->version, "1.8.3");
	cr_assert_eq(v1->semver.major, 1);
	cr_assert_eq(v1->semver.minor, 8);
	cr_assert_eq(v1->semver.patch, 3);
	cr_assert_null(v1->semver.pre);
	cr_assert_str_eq(v2->version, "v2.1.0-rc.1+build.5");
	cr_assert_eq(v2->semver.major, 2);
	cr_assert_eq(v2->semver.minor, 1);
	cr_assert_eq(v2->semver.patch, 0);
	cr_assert_eq(v2->semver.pre, v2->version + 7, "points into the config's copy");
	cr_assert_eq(v2->semver.pre_len, 4);
	cr_assert_null(plain->version);
	cr_assert_eq(plain->semver.major + plain->semver.minor + plain->semver.patch, 0);
	cr_assert_null(plain->semver.pre);

	r = &c->routes[0];
	cr_assert_str_eq(r->match_host, ".example.com");
	cr_assert_eq(r->match_host_wildcard, true);
	cr_assert_str_eq(r->match_path_prefix, "/api/");
	cr_assert_eq(r->nmatch_methods, 3);
	cr_assert_str_eq(r->match_methods[0], "GET");
	cr_assert_str_eq(r->match_methods[1], "POST");
	cr_assert_str_eq(r->match_methods[2], "PURGE");
	cr_assert_eq(r->nmatch_headers, 3);
	cr_assert_str_eq(r->match_headers[0].name, "X-Beta");
	cr_assert_str_eq(r->match_headers[0].value, "1");
	cr_assert_str_eq(r->match_headers[1].name, "x-flag");
	cr_assert_str_eq(r->match_headers[1].value, "true");
	cr_assert_str_eq(r->match_headers[2].name, "X-Empty");
	cr_assert_str_eq(r->match_headers[2].value, "");
	cr_assert_str_eq(r->version_header, "X-Api-Version");
	cr_assert_eq(r->nversion_pools, 2);
	cr_assert_eq(r->version_pools[0], v2);
	cr_assert_eq(r->version_pools[1], v1);
	cr_assert_eq(r->on_mismatch, VEER_MISMATCH_FALLBACK);
	cr_assert_eq(r->action, VEER_ACTION_SPLIT);
	cr_assert_null(r->pool);
	cr_assert_eq(r->nsplit, 3);
	cr_assert_eq(r->split[0].pool, v1);
	cr_assert_eq(r->split[0].weight, 95);
	cr_assert_eq(r->split[1].pool, v2);
	cr_assert_eq(r->split[1].weight, 5);
	cr_assert_eq(r->split[2].pool, plain);
	cr_assert_eq(r->split[2].weight, 0);
	cr_assert_eq(r->sticky, VEER_STICKY_COOKIE);
	cr_assert_str_eq(r->sticky_name, "uid");
	cr_assert_null(r->blue);
	cr_assert_null(r->green);
	cr_assert_eq(r->nset_headers, 2);
	cr_assert_str_eq(r->set_headers[0].name, "X-Env");
	cr_assert_str_eq(r->set_headers[0].value, "prod");
	cr_assert_str_eq(r->set_headers[1].name, "X-Colon");
	cr_assert_str_eq(r->set_headers[1].value, "a: b");
	cr_assert_eq(r->nremove_headers, 2);
	cr_assert_str_eq(r->remove_headers[0], "X-Internal");
	cr_assert_str_eq(r->remove_headers[1], "x-debug");

	r = &c->routes[1];
	cr_assert_str_eq(r->match_host, "api.example.com", "lower-cased");
	cr_assert_eq(r->match_host_wildcard, false);
	cr_assert_eq(r->action, VEER_ACTION_BLUE_GREEN);
	cr_assert_eq(r->blue, v1);
	cr_assert_eq(r->green, plain);
	cr_assert_eq(r->green_active, true);
	cr_assert_null(r->version_header);
	cr_assert_eq(r->nversion_pools, 0);
	cr_assert_eq(r->on_mismatch, VEER_MISMATCH_REJECT, "default");
	cr_assert_eq(r->sticky, VEER_STICKY_NONE);
	cr_assert_eq(r->nsplit, 0);

	r = &c->routes[2];
	cr_assert_eq(r->action, VEER_ACTION_BLUE_GREEN);
	cr_assert_eq(r->blue, plain);
	cr_assert_eq(r->green, v1);
	cr_assert_eq(r->green_active, false);
	cr_assert_str_eq(r->version_header, "X-V");
	cr_assert_eq(r->nversion_pools, 1);
	cr_assert_eq(r->version_pools[0], v1);
	cr_assert_eq(r->on_mismatch, VEER_MISMATCH_REJECT);

	r = &c->routes[3];
	cr_assert_eq(r->action, VEER_ACTION_SPLIT);
	cr_assert_eq(r->nsplit, 1);
	cr_assert_eq(r->split[0].pool, plain);
	cr_assert_eq(r->split[0].weight, 10000);
	cr_assert_eq(r->sticky, VEER_STICKY_HEADER);
	cr_assert_str_eq(r->sticky_name, "X-User-Id");
	cr_assert_null(r->match_host);
	cr_assert_null(r->match_methods);
	cr_assert_eq(r->nmatch_methods, 0);
	cr_assert_null(r->match_headers);
	cr_assert_eq(r->nmatch_headers, 0);
	cr_assert_null(r->set_headers);
	cr_assert_null(r->remove_headers);
	veer_config_free(c);
}

Test(config, traffic_policy_defaults)
{
	struct veer_config *c = load_ok(MINIMAL);
	const struct veer_route_conf *r = &c->routes[0];

	cr_assert_null(c->pools[0].version);
	cr_assert_null(c->pools[0].semver.pre);
	cr_assert_eq(r->match_host_wildcard, false);
	cr_assert_eq(r->nmatch_methods, 0);
	cr_assert_eq(r->nmatch_headers, 0);
	cr_assert_null(r->version_header);
	cr_assert_null(r->version_pools);
	cr_assert_eq(r->on_mismatch, VEER_MISMATCH_REJECT);
	cr_assert_null(r->split);
	cr_assert_eq(r->sticky, VEER_STICKY_NONE);
	cr_assert_null(r->sticky_name);
	cr_assert_null(r->blue);
	cr_assert_null(r->green);
	cr_assert_eq(r->green_active, false);
	cr_assert_eq(r->nset_headers, 0);
	cr_assert_eq(r->nremove_headers, 0);
	veer_config_free(c);
}

/* Pools a and b have versions, u has none; routes start at line 14 and
 * their keys at line 15. */
#define VPOOLS                                                  \
	MIN_LISTENERS "pools:\n"                                \
		      "  - name: a\n"                           \
		      "    version: 1.0.0\n"                    \
		      "    servers: [{address: 127.0.0.1:1}]\n" \
		      "  - name: b\n"                           \
		      "    version: 2.0.0\n"                    \
		      "    servers: [{address: 127.0.0.1:2}]\n" \
		      "  - name: u\n"                           \
		      "    servers: [{address: 127.0.0.1:3}]\n" \
		      "routes:\n"                               \
		      "  - name: r\n"

Test(config, error_pool_version)
{
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    version: 1.2\n"
				    "    servers: [{address: 127.0.0.1:1}]\n" MIN_ROUTES,
		      "t.yaml:6:14: pools[0].version: bad semantic version \"1.2\"");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    version: latest\n"
				    "    servers: [{address: 127.0.0.1:1}]\n" MIN_ROUTES,
		      "t.yaml:6:14: pools[0].version: bad semantic version \"latest\"");
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    version: \"\"\n"
				    "    servers: [{address: 127.0.0.1:1}]\n" MIN_ROUTES,
		      "t.yaml:6:14: pools[0].version: must not be empty");
	/* a bad version is reported once, not again where a route lists it */
	EXPECT_ERRORS(MIN_LISTENERS "pools:\n  - name: p\n    version: 1.x\n"
				    "    servers: [{address: 127.0.0.1:1}]\n"
				    "routes:\n  - name: r\n    pool: p\n"
				    "    version: { header: X-V, pools: [p] }\n",
		      "t.yaml:6:14: pools[0].version: bad semantic version \"1.x\"");
}

Test(config, error_route_version)
{
	EXPECT_ERRORS(VPOOLS "    pool: a\n    version: { header: X-V, pools: [a, u] }\n",
		      "t.yaml:16:40: routes[0].version.pools[1]: pool \"u\" has no version "
		      "(version routing needs one)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    version: { header: X-V, pools: [zz] }\n",
		      "t.yaml:16:37: routes[0].version.pools[0]: pool \"zz\" is not defined");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    version: { header: X-V, pools: [] }\n",
		      "t.yaml:16:36: routes[0].version.pools: at least one pool is needed");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    version: { header: X-V, pools: [a, b, a] }\n",
		      "t.yaml:16:43: routes[0].version.pools[2]: pool \"a\" is listed twice");
	EXPECT_ERRORS(
		MIN_LISTENERS
		"pools:\n"
		"  - { name: a, version: 1.0.0, servers: [{address: 127.0.0.1:1}] }\n"
		"  - { name: b, version: 1.0.0+x, servers: [{address: 127.0.0.1:2}] }\n"
		"routes:\n  - name: r\n    pool: a\n"
		"    version: { header: X-V, pools: [a, b] }\n",
		"t.yaml:10:40: routes[0].version.pools[1]: pool \"b\" has the same version as "
		"pool \"a\" (1.0.0+x and 1.0.0)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    version: { pools: [a] }\n",
		      "t.yaml:16:14: routes[0].version: missing required key \"header\"");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    version: { header: X-V }\n",
		      "t.yaml:16:14: routes[0].version: missing required key \"pools\"");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    version: { header: \"X V\", pools: [a] }\n",
		      "t.yaml:16:24: routes[0].version.header: bad header name \"X V\" (a token: "
		      "letters, digits and !#$%&'*+-.^_`|~)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n"
			     "    version: { header: X-V, pools: [a], on_mismatch: ignore }\n",
		      "t.yaml:16:54: routes[0].version.on_mismatch: unknown value \"ignore\" "
		      "(expected one of reject, fallback)");
	/* version is no action: the route still needs exactly one */
	EXPECT_ERRORS(VPOOLS "    version: { header: X-V, pools: [a] }\n",
		      "t.yaml:14:5: routes[0]: route \"r\" has no action "
		      "(pool, respond, split or blue_green)");
}

Test(config, error_split)
{
	EXPECT_ERRORS(VPOOLS "    split:\n      - { pool: a, weight: 1 }\n"
			     "      - { pool: zz, weight: 1 }\n",
		      "t.yaml:17:17: routes[0].split[1].pool: pool \"zz\" is not defined");
	EXPECT_ERRORS(VPOOLS "    split:\n      - { pool: a, weight: 0 }\n"
			     "      - { pool: b, weight: 0 }\n",
		      "t.yaml:15:5: routes[0].split: split weights sum to 0");
	EXPECT_ERRORS(VPOOLS "    split:\n      - { pool: a, weight: 1 }\n"
			     "      - { pool: a, weight: 2 }\n",
		      "t.yaml:17:17: routes[0].split[1].pool: pool \"a\" is listed twice");
	EXPECT_ERRORS(VPOOLS "    split: []\n",
		      "t.yaml:15:12: routes[0].split: at least one entry is needed");
	EXPECT_ERRORS(VPOOLS "    split:\n",
		      "t.yaml:15:11: routes[0].split: at least one entry is needed");
	/* a refused weight is not also "sum to 0" */
	EXPECT_ERRORS(VPOOLS "    split:\n      - { pool: a, weight: 10001 }\n",
		      "t.yaml:16:28: routes[0].split[0].weight: 10001 is out of range 0..10000");
	EXPECT_ERRORS(VPOOLS "    split:\n      - { pool: a }\n",
		      "t.yaml:16:9: routes[0].split[0]: missing required key \"weight\"");
	EXPECT_ERRORS(VPOOLS "    split:\n      - { pool: a, weight: -1 }\n",
		      "t.yaml:16:28: routes[0].split[0].weight: -1 is out of range 0..10000");
}

/* 64 pools (each with a version) and a route over the first N of them, by
 * split (SPLIT, at line 72) or by version (line 73). */
static const char *many_pools_yaml(char *yaml, size_t n, bool split)
{
	char *p = yaml;

	p += sprintf(p, MIN_LISTENERS "pools:\n");
	for (size_t i = 0; i < 65; i++)
		p += sprintf(
			p,
			"  - { name: p%zu, version: 1.0.%zu, servers: [{address: 127.0.0.1:1}] }\n",
			i, i);
	p += sprintf(p, "routes:\n  - name: r\n");
	if (split)
		p += sprintf(p, "    split: [");
	else
		p += sprintf(p, "    pool: p0\n    version: { header: X, pools: [");
	for (size_t i = 0; i < n; i++) {
		if (split)
			p += sprintf(p, "%s{pool: p%zu, weight: 1}", i ? ", " : "", i);
		else
			p += sprintf(p, "%sp%zu", i ? ", " : "", i);
	}
	sprintf(p, split ? "]\n" : "] }\n");
	return yaml;
}

Test(config, route_pools_limit)
{
	static char yaml[16384];
	struct veer_config *c;

	cr_assert_eq(VEER_ROUTE_POOLS_MAX, 64);
	c = load_ok(many_pools_yaml(yaml, 64, true));
	cr_assert_eq(c->routes[0].nsplit, 64);
	cr_assert_eq(c->routes[0].split[63].pool, &c->pools[63]);
	veer_config_free(c);
	c = load_ok(many_pools_yaml(yaml, 64, false));
	cr_assert_eq(c->routes[0].nversion_pools, 64);
	veer_config_free(c);
	EXPECT_ERRORS(many_pools_yaml(yaml, 65, true),
		      "t.yaml:72:12: routes[0].split: at most 64 entries");
	EXPECT_ERRORS(many_pools_yaml(yaml, 65, false),
		      "t.yaml:73:34: routes[0].version.pools: at most 64 pools");
}

Test(config, error_sticky)
{
	EXPECT_ERRORS(VPOOLS "    pool: a\n    sticky: { header: X-U }\n",
		      "t.yaml:16:5: routes[0].sticky: only valid with split");
	EXPECT_ERRORS(VPOOLS "    split: [{ pool: a, weight: 1 }]\n"
			     "    sticky: { header: X-U, cookie: uid }\n",
		      "t.yaml:16:28: routes[0].sticky: give header or cookie, not both");
	EXPECT_ERRORS(VPOOLS "    split: [{ pool: a, weight: 1 }]\n    sticky: {}\n",
		      "t.yaml:16:13: routes[0].sticky: needs header or cookie");
	EXPECT_ERRORS(VPOOLS "    split: [{ pool: a, weight: 1 }]\n"
			     "    sticky: { cookie: \"a=b\" }\n",
		      "t.yaml:16:23: routes[0].sticky.cookie: bad cookie name \"a=b\" (a token: "
		      "letters, digits and !#$%&'*+-.^_`|~)");
}

Test(config, error_blue_green)
{
	EXPECT_ERRORS(VPOOLS "    blue_green: { blue: a, green: zz, active: blue }\n",
		      "t.yaml:15:35: routes[0].blue_green.green: pool \"zz\" is not defined");
	EXPECT_ERRORS(VPOOLS "    blue_green: { blue: zz, green: a, active: blue }\n",
		      "t.yaml:15:25: routes[0].blue_green.blue: pool \"zz\" is not defined");
	EXPECT_ERRORS(VPOOLS "    blue_green: { blue: a, green: a, active: blue }\n",
		      "t.yaml:15:35: routes[0].blue_green.green: blue and green must be different "
		      "pools (both \"a\")");
	EXPECT_ERRORS(VPOOLS "    blue_green: { blue: a, green: b }\n",
		      "t.yaml:15:17: routes[0].blue_green: missing required key \"active\"");
	EXPECT_ERRORS(VPOOLS "    blue_green: { blue: a, green: b, active: red }\n",
		      "t.yaml:15:46: routes[0].blue_green.active: unknown value \"red\" "
		      "(expected one of blue, green)");
}

Test(config, error_two_actions)
{
	EXPECT_ERRORS(VPOOLS "    split: [{pool: a, weight: 1}]\n"
			     "    blue_green: {blue: a, green: b, active: blue}\n",
		      "t.yaml:16:5: routes[0].blue_green: route \"r\" has more than one action "
		      "(split and blue_green)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    split: [{pool: a, weight: 1}]\n",
		      "t.yaml:16:5: routes[0].split: route \"r\" has more than one action "
		      "(pool and split)");
	EXPECT_ERRORS(VPOOLS "    blue_green: {blue: a, green: b, active: blue}\n"
			     "    respond: { status: 200 }\n",
		      "t.yaml:16:5: routes[0].respond: route \"r\" has more than one action "
		      "(blue_green and respond)");
}

Test(config, error_match)
{
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { host: \"a.*.com\" }\n",
		      "t.yaml:16:20: routes[0].match.host: bad wildcard host \"a.*.com\" (only a "
		      "leading \"*.\" is allowed, like *.example.com)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { host: \"*example.com\" }\n",
		      "t.yaml:16:20: routes[0].match.host: bad wildcard host \"*example.com\" "
		      "(only a leading \"*.\" is allowed, like *.example.com)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { host: \"*.\" }\n",
		      "t.yaml:16:20: routes[0].match.host: bad wildcard host \"*.\" (only a "
		      "leading \"*.\" is allowed, like *.example.com)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { host: \"*.*.com\" }\n",
		      "t.yaml:16:20: routes[0].match.host: bad wildcard host \"*.*.com\" (only a "
		      "leading \"*.\" is allowed, like *.example.com)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { host: \"*.a b\" }\n",
		      "t.yaml:16:20: routes[0].match.host: bad host \"*.a b\"");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { methods: [GET, \"G T\"] }\n",
		      "t.yaml:16:29: routes[0].match.methods[1]: bad method \"G T\" (a token: "
		      "letters, digits and !#$%&'*+-.^_`|~)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { methods: GET }\n",
		      "t.yaml:16:23: routes[0].match.methods: expected a list of strings, got "
		      "\"GET\"");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { headers: { X-A: \"x\\ny\" } }\n",
		      "t.yaml:16:30: routes[0].match.headers.X-A: value must not contain CR, LF or "
		      "NUL");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { headers: { \"X A\": y } }\n",
		      "t.yaml:16:25: routes[0].match.headers: bad header name \"X A\" (a token: "
		      "letters, digits and !#$%&'*+-.^_`|~)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { headers: { X-A: 1, x-a: 2 } }\n",
		      "t.yaml:16:33: routes[0].match.headers.x-a: duplicate header (first at "
		      "16:25)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { headers: { X-A: [1] } }\n",
		      "t.yaml:16:30: routes[0].match.headers.X-A: expected a string, got a list");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    match: { headers: [X-A] }\n",
		      "t.yaml:16:23: routes[0].match.headers: expected a mapping of header names "
		      "to values, got a list");
}

Test(config, error_request_headers)
{
	EXPECT_ERRORS(VPOOLS "    pool: a\n    request_headers: { set: { X-A: \"x\\ry\" } }\n",
		      "t.yaml:16:36: routes[0].request_headers.set.X-A: value must not contain CR, "
		      "LF or NUL");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    request_headers: { set: { X-A: \"x\\0y\" } }\n",
		      "t.yaml:16:36: routes[0].request_headers.set.X-A: value must not contain CR, "
		      "LF or NUL");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    request_headers: { set: { host: x } }\n",
		      "t.yaml:16:31: routes[0].request_headers.set.host: cannot be set (veer "
		      "manages Host, Content-Length, Transfer-Encoding and Connection)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n"
			     "    request_headers: { remove: [X-A, Transfer-Encoding] }\n",
		      "t.yaml:16:38: routes[0].request_headers.remove[1]: \"Transfer-Encoding\" "
		      "cannot be removed (veer manages Host, Content-Length, Transfer-Encoding and "
		      "Connection)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    request_headers: { remove: [\"X:A\"] }\n",
		      "t.yaml:16:33: routes[0].request_headers.remove[0]: bad header name \"X:A\" "
		      "(a token: letters, digits and !#$%&'*+-.^_`|~)");
	EXPECT_ERRORS(VPOOLS "    pool: a\n    request_headers: { add: { X-A: b } }\n",
		      "t.yaml:16:24: unknown key \"add\" in routes[0].request_headers "
		      "(known keys: set, remove)");
}

/* ---- parsers ------------------------------------------------------------ */

/* ---- resilience: health_check, circuit_breaker, retries, rate_limit ---- */

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

Test(config, resilience_fields)
{
	struct veer_config *c = load_ok(
		MIN_LISTENERS
		"pools:\n"
		"  - name: full\n"
		"    servers: [{address: 127.0.0.1:9001}]\n"
		"    health_check: { path: \"/status?full=1\", interval: 500ms, timeout: 500ms,"
		" rise: 1, fall: 100 }\n"
		"    circuit_breaker:\n"
		"      consecutive_failures: 0\n"
		"      failure_rate: 25%\n"
		"      window: 1m\n"
		"      min_requests: 1\n"
		"      open_for: 5s\n"
		"      probe_requests: 1\n"
		"      max_pending: 0\n"
		"    retries:\n"
		"      attempts: 10\n"
		"      on: [connect_failure, reset, timeout, 502, \"503\", 504]\n"
		"      per_try_timeout: 2s\n"
		"      backoff: { base: 10ms, max: 10ms }\n"
		"      budget: 0%\n"
		"    rate_limit: { rate: 500/s, burst: 100 }\n"
		"  - name: some\n"
		"    servers: [{address: 127.0.0.1:9002}]\n"
		"    health_check: {}\n"
		"    circuit_breaker: { failure_rate: 0% }\n"
		"    retries: { on: [503, reset], backoff: { max: 1s } }\n"
		"    rate_limit: { rate: 500/s }\n"
		"  - name: bare\n"
		"    servers: [{address: 127.0.0.1:9003}]\n"
		"    health_check:\n"
		"    circuit_breaker: { consecutive_failures: 1000000 }\n"
		"    retries: {}\n"
		"    rate_limit: { rate: 30/m }\n"
		"routes:\n"
		"  - name: a\n"
		"    pool: full\n"
		"    rate_limit: { rate: 100/s, burst: 50, key: client_ip, scope: local }\n"
		"  - name: b\n"
		"    pool: full\n"
		"    rate_limit: { rate: 30/m, key: \"header:X-Api-Key\" }\n"
		"  - name: c\n"
		"    pool: full\n"
		"    rate_limit: { rate: 90/m, key: route, burst: 1000000 }\n"
		"  - name: d\n"
		"    pool: full\n"
		"    rate_limit: { rate: 4294967295/s }\n");
	const struct veer_pool_conf *p = &c->pools[0];
	const struct veer_route_conf *r;

	cr_assert_eq(p->health.enabled, true);
	cr_assert_str_eq(p->health.path, "/status?full=1");
	cr_assert_eq(p->health.interval, 500);
	cr_assert_eq(p->health.timeout, 500);
	cr_assert_eq(p->health.rise, 1);
	cr_assert_eq(p->health.fall, 100);
	cr_assert_eq(p->breaker.enabled, true);
	cr_assert_eq(p->breaker.consecutive_failures, 0);
	cr_assert_eq(p->breaker.failure_rate, 25);
	cr_assert_eq(p->breaker.window, 60000);
	cr_assert_eq(p->breaker.min_requests, 1);
	cr_assert_eq(p->breaker.open_for, 5000);
	cr_assert_eq(p->breaker.probe_requests, 1);
	cr_assert_eq(p->breaker.max_pending, 0);
	cr_assert_eq(p->retries.enabled, true);
	cr_assert_eq(p->retries.attempts, 10);
	cr_assert_eq(p->retries.on, VEER_RETRY_CONNECT_FAILURE | VEER_RETRY_RESET |
					    VEER_RETRY_TIMEOUT | VEER_RETRY_502 | VEER_RETRY_503 |
					    VEER_RETRY_504);
	cr_assert_eq(p->retries.per_try_timeout, 2000);
	cr_assert_eq(p->retries.backoff_base, 10);
	cr_assert_eq(p->retries.backoff_max, 10);
	cr_assert_eq(p->retries.budget, 0);
	cr_assert_eq(p->rate_limit.enabled, true);
	cr_assert_eq(p->rate_limit.rate, 500.0);
	cr_assert_eq(p->rate_limit.burst, 100);
	cr_assert_eq(p->rate_limit.key, VEER_RLKEY_ROUTE, "a pool is one bucket");
	cr_assert_null(p->rate_limit.key_header);
	cr_assert_eq(p->rate_limit.global, false);

	/* present mappings with only some keys: the defaults fill the rest */
	p = &c->pools[1];
	cr_assert_eq(p->health.enabled, true);
	cr_assert_str_eq(p->health.path, "/healthz");
	cr_assert_eq(p->health.interval, 2000);
	cr_assert_eq(p->health.timeout, 1000);
	cr_assert_eq(p->health.rise, 2);
	cr_assert_eq(p->health.fall, 3);
	cr_assert_eq(p->breaker.enabled, true);
	cr_assert_eq(p->breaker.consecutive_failures, 5);
	cr_assert_eq(p->breaker.failure_rate, 0);
	cr_assert_eq(p->breaker.window, 10000);
	cr_assert_eq(p->breaker.min_requests, 20);
	cr_assert_eq(p->breaker.open_for, 30000);
	cr_assert_eq(p->breaker.probe_requests, 3);
	cr_assert_eq(p->breaker.max_pending, 1024);
	cr_assert_eq(p->retries.enabled, true);
	cr_assert_eq(p->retries.attempts, 3);
	cr_assert_eq(p->retries.on, VEER_RETRY_503 | VEER_RETRY_RESET, "replaces the default");
	cr_assert_eq(p->retries.per_try_timeout, 0, "0: timeouts.response");
	cr_assert_eq(p->retries.backoff_base, 25);
	cr_assert_eq(p->retries.backoff_max, 1000);
	cr_assert_eq(p->retries.budget, 20);
	cr_assert_eq(p->rate_limit.rate, 500.0);
	cr_assert_eq(p->rate_limit.burst, 500, "burst 0: the rate per second");

	p = &c->pools[2];
	cr_assert_eq(p->health.enabled, true, "an empty value is an empty mapping");
	cr_assert_str_eq(p->health.path, "/healthz");
	cr_assert_eq(p->health.interval, 2000);
	cr_assert_eq(p->breaker.consecutive_failures, 1000000);
	cr_assert_eq(p->breaker.failure_rate, 50);
	cr_assert_eq(p->retries.enabled, true);
	cr_assert_eq(p->retries.on, VEER_RETRY_CONNECT_FAILURE, "default");
	cr_assert_eq(p->retries.attempts, 3);
	cr_assert_eq(p->retries.backoff_base, 25);
	cr_assert_eq(p->retries.backoff_max, 250);
	cr_assert_eq(p->rate_limit.rate, 0.5);
	cr_assert_eq(p->rate_limit.burst, 1, "0.5/s rounds up to 1");

	r = &c->routes[0];
	cr_assert_eq(r->rate_limit.enabled, true);
	cr_assert_eq(r->rate_limit.rate, 100.0);
	cr_assert_eq(r->rate_limit.burst, 50);
	cr_assert_eq(r->rate_limit.key, VEER_RLKEY_CLIENT_IP);
	cr_assert_null(r->rate_limit.key_header);
	cr_assert_eq(r->rate_limit.global, false);
	r = &c->routes[1];
	cr_assert_eq(r->rate_limit.rate, 0.5);
	cr_assert_eq(r->rate_limit.burst, 1);
	cr_assert_eq(r->rate_limit.key, VEER_RLKEY_HEADER);
	cr_assert_str_eq(r->rate_limit.key_header, "X-Api-Key");
	r = &c->routes[2];
	cr_assert_eq(r->rate_limit.rate, 1.5);
	cr_assert_eq(r->rate_limit.burst, 1000000);
	cr_assert_eq(r->rate_limit.key, VEER_RLKEY_ROUTE);
	cr_assert_null(r->rate_limit.key_header);
	r = &c->routes[3];
	cr_assert_eq(r->rate_limit.key, VEER_RLKEY_CLIENT_IP, "default");
	cr_assert_eq(r->rate_limit.rate, 4294967295.0);
	cr_assert_eq(r->rate_limit.burst, 4294967295u);
	veer_config_free(c);

	c = load_ok(MIN_LISTENERS MIN_POOLS "routes:\n  - name: r\n    pool: p\n"
					    "    rate_limit: { rate: 90/m }\n");
	cr_assert_eq(c->routes[0].rate_limit.burst, 2, "1.5/s rounds up to 2");
	veer_config_free(c);
}

Test(config, resilience_absent_is_off_and_zero)
{
	struct veer_config *c = load_ok(MINIMAL);
	const struct veer_pool_conf *p = &c->pools[0];

	cr_assert_eq(p->health.enabled, false);
	cr_assert(all_zero(&p->health, sizeof(p->health)));
	cr_assert(all_zero(&p->breaker, sizeof(p->breaker)));
	cr_assert(all_zero(&p->retries, sizeof(p->retries)));
	cr_assert(all_zero(&p->rate_limit, sizeof(p->rate_limit)));
	cr_assert(all_zero(&c->routes[0].rate_limit, sizeof(c->routes[0].rate_limit)));
	veer_config_free(c);
}

/* A pool p whose next line (7) is the resilience key under test. */
#define RPOOL MIN_LISTENERS "pools:\n  - name: p\n    servers: [{address: 127.0.0.1:1}]\n"
/* A route r whose next line (11) is its rate_limit. */
#define RROUTE MIN_LISTENERS MIN_POOLS "routes:\n  - name: r\n    pool: p\n"

Test(config, error_retries)
{
	EXPECT_ERRORS(RPOOL "    retries: { on: [connect_failure, 502, x] }\n" MIN_ROUTES,
		      "t.yaml:7:43: pools[0].retries.on[2]: unknown condition \"x\" (expected "
		      "connect_failure, reset, timeout, 502, 503, 504)");
	EXPECT_ERRORS(RPOOL "    retries: { on: [500, reset, ~] }\n" MIN_ROUTES,
		      "t.yaml:7:21: pools[0].retries.on[0]: unknown condition \"500\" (expected "
		      "connect_failure, reset, timeout, 502, 503, 504)",
		      "t.yaml:7:33: pools[0].retries.on[2]: expected a string, got nothing");
	EXPECT_ERRORS(RPOOL "    retries: { on: [] }\n" MIN_ROUTES,
		      "t.yaml:7:20: pools[0].retries.on: at least one condition is needed");
	EXPECT_ERRORS(RPOOL "    retries: { on: reset }\n" MIN_ROUTES,
		      "t.yaml:7:20: pools[0].retries.on: expected a list of connect_failure, "
		      "reset, timeout, 502, 503, 504, got \"reset\"");
	EXPECT_ERRORS(RPOOL "    retries: { attempts: 0 }\n" MIN_ROUTES,
		      "t.yaml:7:26: pools[0].retries.attempts: 0 is out of range 1..10");
	EXPECT_ERRORS(RPOOL "    retries: { attempts: 11 }\n" MIN_ROUTES,
		      "t.yaml:7:26: pools[0].retries.attempts: 11 is out of range 1..10");
	EXPECT_ERRORS(RPOOL "    retries: { per_try_timeout: 0ms }\n" MIN_ROUTES,
		      "t.yaml:7:33: pools[0].retries.per_try_timeout: 0ms is out of range "
		      "1ms..24h");
	EXPECT_ERRORS(RPOOL "    retries: { budget: 120% }\n" MIN_ROUTES,
		      "t.yaml:7:24: pools[0].retries.budget: bad percentage \"120%\" "
		      "(use 0%..100%)");
	EXPECT_ERRORS(RPOOL "    retries: { backoff: { base: 100ms, max: 50ms } }\n" MIN_ROUTES,
		      "t.yaml:7:45: pools[0].retries.backoff.max: must not be below base "
		      "(50ms < 100ms)");
	/* against the default max (250ms): reported at base */
	EXPECT_ERRORS(RPOOL "    retries: { backoff: { base: 1s } }\n" MIN_ROUTES,
		      "t.yaml:7:33: pools[0].retries.backoff.max: must not be below base "
		      "(250ms < 1s)");
	/* a refused value is not checked again */
	EXPECT_ERRORS(RPOOL "    retries: { backoff: { base: 1s, max: 0ms } }\n" MIN_ROUTES,
		      "t.yaml:7:42: pools[0].retries.backoff.max: 0ms is out of range 1ms..24h");
	EXPECT_ERRORS(RPOOL "    retries: { tries: 3 }\n" MIN_ROUTES,
		      "t.yaml:7:16: unknown key \"tries\" in pools[0].retries (known keys: "
		      "attempts, on, per_try_timeout, backoff, budget)");
}

Test(config, error_circuit_breaker)
{
	EXPECT_ERRORS(
		RPOOL
		"    circuit_breaker: { consecutive_failures: 0, failure_rate: 0% }\n" MIN_ROUTES,
		"t.yaml:7:63: pools[0].circuit_breaker: consecutive_failures and "
		"failure_rate cannot both be 0");
	EXPECT_ERRORS(
		RPOOL
		"    circuit_breaker: { failure_rate: 0%, consecutive_failures: 0 }\n" MIN_ROUTES,
		"t.yaml:7:64: pools[0].circuit_breaker: consecutive_failures and "
		"failure_rate cannot both be 0");
	EXPECT_ERRORS(RPOOL "    circuit_breaker: { consecutive_failures: 1000001 }\n" MIN_ROUTES,
		      "t.yaml:7:46: pools[0].circuit_breaker.consecutive_failures: 1000001 is out "
		      "of range 0..1000000");
	EXPECT_ERRORS(RPOOL "    circuit_breaker: { failure_rate: 101% }\n" MIN_ROUTES,
		      "t.yaml:7:38: pools[0].circuit_breaker.failure_rate: bad percentage "
		      "\"101%\" (use 0%..100%)");
	EXPECT_ERRORS(RPOOL "    circuit_breaker: { window: 999ms, min_requests: 0 }\n" MIN_ROUTES,
		      "t.yaml:7:32: pools[0].circuit_breaker.window: 999ms is out of range 1s..24h",
		      "t.yaml:7:53: pools[0].circuit_breaker.min_requests: 0 is out of range "
		      "1..1000000");
	EXPECT_ERRORS(
		RPOOL
		"    circuit_breaker: { probe_requests: 0, max_pending: 1000001 }\n" MIN_ROUTES,
		"t.yaml:7:40: pools[0].circuit_breaker.probe_requests: 0 is out of range "
		"1..1000",
		"t.yaml:7:56: pools[0].circuit_breaker.max_pending: 1000001 is out of range "
		"0..1000000");
	EXPECT_ERRORS(RPOOL "    circuit_breaker: { open_for: 0ms }\n" MIN_ROUTES,
		      "t.yaml:7:34: pools[0].circuit_breaker.open_for: 0ms is out of range "
		      "1ms..24h");
	EXPECT_ERRORS(RPOOL "    circuit_breaker: 5\n" MIN_ROUTES,
		      "t.yaml:7:22: pools[0].circuit_breaker: expected a mapping, got \"5\"");
}

Test(config, error_health_check)
{
	EXPECT_ERRORS(RPOOL "    health_check: { path: healthz }\n" MIN_ROUTES,
		      "t.yaml:7:27: pools[0].health_check.path: must start with \"/\", "
		      "got \"healthz\"");
	EXPECT_ERRORS(RPOOL "    health_check: { path: \"/a b\" }\n" MIN_ROUTES,
		      "t.yaml:7:27: pools[0].health_check.path: bad path \"/a b\" (no spaces or "
		      "control characters; percent-encode the rest)");
	EXPECT_ERRORS(RPOOL "    health_check: { path: \"/\\u00e9\" }\n" MIN_ROUTES,
		      "t.yaml:7:27: pools[0].health_check.path: bad path \"/\xc3\xa9\" (no spaces "
		      "or control characters; percent-encode the rest)");
	EXPECT_ERRORS(RPOOL "    health_check: { interval: 99ms }\n" MIN_ROUTES,
		      "t.yaml:7:31: pools[0].health_check.interval: 99ms is out of range "
		      "100ms..24h");
	EXPECT_ERRORS(RPOOL "    health_check: { interval: 1s, timeout: 1001ms }\n" MIN_ROUTES,
		      "t.yaml:7:44: pools[0].health_check.timeout: must not exceed interval "
		      "(1001ms > 1s)");
	/* against the default timeout (1s): reported at interval */
	EXPECT_ERRORS(RPOOL "    health_check: { interval: 500ms }\n" MIN_ROUTES,
		      "t.yaml:7:31: pools[0].health_check.timeout: must not exceed interval "
		      "(1s > 500ms)");
	EXPECT_ERRORS(RPOOL "    health_check: { rise: 0, fall: 101 }\n" MIN_ROUTES,
		      "t.yaml:7:27: pools[0].health_check.rise: 0 is out of range 1..100",
		      "t.yaml:7:36: pools[0].health_check.fall: 101 is out of range 1..100");
	EXPECT_ERRORS(RPOOL "    health_check: { url: /x }\n" MIN_ROUTES,
		      "t.yaml:7:21: unknown key \"url\" in pools[0].health_check (known keys: "
		      "path, interval, timeout, rise, fall)");
}

Test(config, error_rate_limit)
{
	EXPECT_ERRORS(RPOOL "    rate_limit: { burst: 10 }\n" MIN_ROUTES,
		      "t.yaml:7:17: pools[0].rate_limit: missing required key \"rate\"");
	EXPECT_ERRORS(RPOOL "    rate_limit:\n" MIN_ROUTES,
		      "t.yaml:7:16: pools[0].rate_limit: missing required key \"rate\"");
	EXPECT_ERRORS(RPOOL "    rate_limit: { rate: 0/s }\n" MIN_ROUTES,
		      "t.yaml:7:25: pools[0].rate_limit.rate: bad rate \"0/s\" "
		      "(use N/s, N/m or N/h, N >= 1)");
	EXPECT_ERRORS(RPOOL "    rate_limit: { rate: 5/d }\n" MIN_ROUTES,
		      "t.yaml:7:25: pools[0].rate_limit.rate: bad rate \"5/d\" "
		      "(use N/s, N/m or N/h, N >= 1)");
	EXPECT_ERRORS(RPOOL "    rate_limit: { rate: 5/s, burst: 1000001 }\n" MIN_ROUTES,
		      "t.yaml:7:37: pools[0].rate_limit.burst: 1000001 is out of range "
		      "0..1000000");
	EXPECT_ERRORS(RPOOL "    rate_limit: { rate: 5/s, key: client_ip }\n" MIN_ROUTES,
		      "t.yaml:7:30: unknown key \"key\" in pools[0].rate_limit "
		      "(known keys: rate, burst)");
	EXPECT_ERRORS(RROUTE "    rate_limit: { rate: 5/s, key: ip }\n",
		      "t.yaml:11:35: routes[0].rate_limit.key: bad value \"ip\" "
		      "(expected client_ip, header:NAME or route)");
	EXPECT_ERRORS(RROUTE "    rate_limit: { rate: 5/s, key: \"header:\" }\n",
		      "t.yaml:11:35: routes[0].rate_limit.key: bad value \"header:\" "
		      "(expected client_ip, header:NAME or route)");
	EXPECT_ERRORS(RROUTE "    rate_limit: { rate: 5/s, key: \"header:X Y\" }\n",
		      "t.yaml:11:35: routes[0].rate_limit.key: bad value \"header:X Y\" "
		      "(expected client_ip, header:NAME or route)");
	EXPECT_ERRORS(RROUTE "    rate_limit: { rate: 5/s, scope: world }\n",
		      "t.yaml:11:37: routes[0].rate_limit.scope: unknown value \"world\" "
		      "(expected one of local, global)");
	EXPECT_ERRORS(RROUTE "    rate_limit: { key: route }\n",
		      "t.yaml:11:17: routes[0].rate_limit: missing required key \"rate\"");
}

Test(config, parse_duration)
{
	veer_ms_t v = 7;

	cr_assert_eq(veer_parse_duration("250ms", &v), VEER_OK);
	cr_assert_eq(v, 250);
	cr_assert_eq(veer_parse_duration("2s", &v), VEER_OK);
	cr_assert_eq(v, 2000);
	cr_assert_eq(veer_parse_duration("1m", &v), VEER_OK);
	cr_assert_eq(v, 60000);
	cr_assert_eq(veer_parse_duration("1h", &v), VEER_OK);
	cr_assert_eq(v, 3600000);
	cr_assert_eq(veer_parse_duration("0s", &v), VEER_OK);
	cr_assert_eq(v, 0);
	v = 7;
	static const char *const bad[] = { "",
					   "10",
					   "s",
					   "1.5s",
					   "-1s",
					   "1 s",
					   "1S",
					   "1d",
					   "2ss",
					   "1ms2",
					   "99999999999999999999h",
					   "18446744073709551615s" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(veer_parse_duration(bad[i], &v), VEER_ERR, "%s", bad[i]);
		cr_assert_eq(v, 7, "untouched on error");
	}
}

Test(config, parse_size)
{
	uint64_t v = 7;

	cr_assert_eq(veer_parse_size("512", &v), VEER_OK);
	cr_assert_eq(v, 512);
	cr_assert_eq(veer_parse_size("16k", &v), VEER_OK);
	cr_assert_eq(v, 16384);
	cr_assert_eq(veer_parse_size("1m", &v), VEER_OK);
	cr_assert_eq(v, 1048576);
	cr_assert_eq(veer_parse_size("1g", &v), VEER_OK);
	cr_assert_eq(v, 1073741824);
	cr_assert_eq(veer_parse_size("2K", &v), VEER_OK);
	cr_assert_eq(v, 2048);
	cr_assert_eq(veer_parse_size("0", &v), VEER_OK);
	cr_assert_eq(v, 0);
	v = 7;
	static const char *const bad[] = { "",
					   "k",
					   "1kb",
					   "1.5k",
					   "-1",
					   "1t",
					   " 1",
					   "1k ",
					   "18446744073709551616",
					   "17179869184g" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(veer_parse_size(bad[i], &v), VEER_ERR, "%s", bad[i]);
		cr_assert_eq(v, 7);
	}
}

Test(config, parse_percent_and_rate)
{
	uint32_t pc = 7;
	double r = 0;

	cr_assert_eq(veer_parse_percent("20%", &pc), VEER_OK);
	cr_assert_eq(pc, 20);
	cr_assert_eq(veer_parse_percent("100%", &pc), VEER_OK);
	cr_assert_eq(pc, 100);
	cr_assert_eq(veer_parse_percent("0%", &pc), VEER_OK);
	cr_assert_eq(pc, 0);
	cr_assert_eq(veer_parse_percent("101%", &pc), VEER_ERR);
	cr_assert_eq(veer_parse_percent("20", &pc), VEER_ERR);
	cr_assert_eq(veer_parse_percent("2.5%", &pc), VEER_ERR);
	cr_assert_eq(pc, 0);

	cr_assert_eq(veer_parse_rate("500/s", &r), VEER_OK);
	cr_assert_float_eq(r, 500.0, 1e-9);
	cr_assert_eq(veer_parse_rate("30/m", &r), VEER_OK);
	cr_assert_float_eq(r, 0.5, 1e-9);
	cr_assert_eq(veer_parse_rate("0/s", &r), VEER_ERR);
	cr_assert_eq(veer_parse_rate("5", &r), VEER_ERR);
	cr_assert_eq(veer_parse_rate("5/d", &r), VEER_ERR);
	cr_assert_float_eq(r, 0.5, 1e-9);
}

static void addr_ok(const char *s, bool resolve, const char *text, int family, unsigned port)
{
	struct veer_addr a;
	char why[256] = "";

	cr_assert_eq(veer_parse_addr_why(s, &a, resolve, why, sizeof(why)), VEER_OK, "%s: %s", s,
		     why);
	cr_assert_str_eq(a.text, text);
	cr_assert_eq(a.ss.ss_family, family);
	if (family == AF_INET) {
		cr_assert_eq(a.len, sizeof(struct sockaddr_in));
		cr_assert_eq(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), port);
	} else {
		cr_assert_eq(a.len, sizeof(struct sockaddr_in6));
		cr_assert_eq(ntohs(((struct sockaddr_in6 *)&a.ss)->sin6_port), port);
	}
}

static void addr_bad(const char *s, bool resolve, const char *reason)
{
	struct veer_addr a;
	char why[256] = "";

	memset(&a, 0x5a, sizeof(a));
	cr_assert_eq(veer_parse_addr_why(s, &a, resolve, why, sizeof(why)), VEER_ERR, "%s", s);
	cr_assert_str_eq(why, reason, "%s", s);
	cr_assert_eq(a.text[0], 0x5a, "untouched on error");
	cr_assert_eq(veer_parse_addr(s, &a, resolve), VEER_ERR);
}

Test(config, parse_addr)
{
	struct veer_addr a;

	addr_ok("127.0.0.1:8080", false, "127.0.0.1:8080", AF_INET, 8080);
	addr_ok("0.0.0.0:0", false, "0.0.0.0:0", AF_INET, 0);
	addr_ok("*:80", false, "0.0.0.0:80", AF_INET, 80);
	addr_ok("[::1]:8080", false, "[::1]:8080", AF_INET6, 8080);
	addr_ok("[::]:443", false, "[::]:443", AF_INET6, 443);
	addr_ok("[2001:DB8::1]:65535", false, "[2001:db8::1]:65535", AF_INET6, 65535);
	cr_assert_eq(veer_parse_addr("localhost:9000", &a, true), VEER_OK);
	cr_assert(strcmp(a.text, "127.0.0.1:9000") == 0 || strcmp(a.text, "[::1]:9000") == 0, "%s",
		  a.text);

	addr_bad("127.0.0.1", false, "missing :PORT");
	addr_bad("127.0.0.1:", false, "bad port");
	addr_bad("127.0.0.1:x", false, "bad port");
	addr_bad("127.0.0.1:-1", false, "bad port");
	addr_bad("127.0.0.1:000080", false, "bad port");
	addr_bad("127.0.0.1:65536", false, "port out of range 0..65535");
	addr_bad(":80", false, "missing host (use *:PORT for every address)");
	addr_bad("::1:80", false, "write IPv6 addresses in brackets: [::1]:PORT");
	addr_bad("[::1:80", false, "missing \"]\" after the IPv6 address");
	addr_bad("[::1]80", false, "missing :PORT");
	addr_bad("[127.0.0.1]:80", false, "bad IPv6 address");
	addr_bad("[zz::1]:80", false, "bad IPv6 address");
	addr_bad("bad host:80", true, "bad host \"bad host\"");
	addr_bad("localhost:80", false, "a numeric address is required here");
	addr_bad("no-such-host.invalid:80", true,
		 "cannot resolve \"no-such-host.invalid\": Name or service not known");
}

/* ---- the reference ------------------------------------------------------ */

Test(config, reference_table)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	size_t rows = 0;

	veer_config_reference(f);
	fclose(f);
	cr_assert(strncmp(buf, "| key | type | default | description |\n|---|---|---|---|\n", 56) ==
		  0);
	for (char *line = buf, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		size_t pipes = 0;
		for (char *p = line; p < nl; p++)
			pipes += *p == '|' && (p == line || p[-1] != '\\');
		cr_assert_eq(pipes, 5, "%.*s", (int)(nl - line), line);
		rows++;
	}
	cr_assert_gt(rows, 100);
	cr_assert_not_null(strstr(buf, "| `global.workers` | integer 1..256 or `auto` | `auto` | "
				       "event-loop threads; auto = one per online CPU |\n"),
			   "%s", buf);
	cr_assert_not_null(
		strstr(buf, "| `listeners[].limits.header_bytes` | size 1k..1m | `32k` |"));
	cr_assert_not_null(
		strstr(buf, "| `listeners[].timeouts.header` | duration 1ms..24h | `10s` |"));
	cr_assert_not_null(
		strstr(buf, "| `global.log.level` | one of error, warn, info, debug | `info` |"));
	cr_assert_not_null(strstr(buf, "| `routes[].respond.body` | string | `\"\"` |"));
	cr_assert_not_null(strstr(
		buf, "| `listeners[].name` | string |  | unique listener name (required) |"));
	cr_assert_not_null(strstr(buf, "| `global.redis.timeout` | duration 1ms..1m | `50ms` | "
				       "longest wait for Redis on a request |"));
	/* the whole SPEC schema is built: nothing is marked not supported */
	cr_assert_null(strstr(buf, "not supported yet"));
	cr_assert_not_null(strstr(buf,
				  "| `pools[].retries.budget` | percentage 0%..100% | `20%` | "
				  "retries in flight never exceed this share of requests in flight "
				  "(min 3) |"));
	cr_assert_not_null(strstr(buf, "| `pools[].retries.on` | list of connect_failure, reset, "
				       "timeout, 502, 503, 504 | `connect_failure` | "));
	cr_assert_not_null(strstr(buf, "| `pools[].retries.per_try_timeout` | duration 1ms..24h | "
				       "timeouts.response | "));
	cr_assert_not_null(strstr(buf, "| `pools[].rate_limit.rate` | rate (`500/s`, `30/m`) |  | "
				       "refill rate: N/s, N/m or N/h (required) |"));
	cr_assert_not_null(strstr(buf, "| `routes[].match.methods` | list of strings |  | "
				       "request method is one of these (tokens, upper-cased at "
				       "load) |"));
	cr_assert_not_null(strstr(buf, "| `routes[].request_headers.set` | mapping of header names "
				       "to values |  | "));
	cr_assert_not_null(strstr(buf, "| `routes[].split[].weight` | integer 0..10000 |  | "));
	cr_assert_not_null(strstr(buf, "| `routes[].rate_limit` | mapping |  | token buckets for "
				       "this route (then 429), one per key; absent = no limit |"));
	cr_assert_not_null(strstr(buf,
				  "| `listeners[].tls.min_version` | one of 1.2, 1.3 | `1.2` | "
				  "oldest TLS version accepted |"));
	cr_assert_not_null(strstr(buf, "| `pools[].tls.ca` | string | system store | "));
	cr_assert_null(strstr(buf, "| `listeners[].tls` | mapping |  | present = HTTPS on this "
				   "listener (not supported yet)"));
	cr_assert_null(strstr(buf,
			      "`global.workers` | integer 1..256 or `auto` | `auto` | event-loop "
			      "threads; auto = one per online CPU (not supported yet)"));
	free(buf);
}
