/* veer — the admin API (see admin.h): evhttp on the control loop, JSON
 * with jansson, metrics from the workers' shards and the registry.
 *
 * Everything here runs on the control thread, which owns proc->config,
 * proc->file_config, proc->overrides and the registry: no lock is taken.
 * What workers publish (health, breaker state, in-flight counts, metrics)
 * is read with atomic loads.
 *
 * A mutating call is: authorise, parse and check the body, record the
 * override (validated against the file's config), then publish a new
 * generation.  Any failure before the publish leaves the overrides as they
 * were; a failed publish puts the copy taken before back.
 */
#include "veer/admin.h"
#include "dashboard_html.h"
#include "veer/breaker.h"
#include "veer/common.h"
#include "veer/config.h"
#include "veer/discovery.h"
#include "veer/log.h"
#include "veer/overrides.h"
#include "veer/registry.h"
#include "veer/stats.h"
#include "veer/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/crypto.h>

/* Bounds on what a client may send the admin API. */
#define BODY_MAX (64 * 1024)
#define HEADERS_MAX (16 * 1024)
#define IO_TIMEOUT_S 30
#define MAX_SEGMENTS 8

struct veer_admin {
	struct veer_process *proc;
	struct evhttp *http;
	uint64_t started_ms;
};

/* ---- replies ------------------------------------------------------------ */

static const char *reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 422:
		return "Unprocessable Content";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	}
	return "Status";
}

static void reply_text(struct evhttp_request *req, int code, const char *type, const char *body,
		       size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (out == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason(code), out);
	evbuffer_free(out);
}

/* Send J (its reference is taken over) with CODE. */
static void reply_json(struct evhttp_request *req, int code, json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	json_decref(j);
	if (s == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	/* A final newline, as curl users expect. */
	{
		size_t n = strlen(s);
		char *t = veer_xmalloc(n + 2);
		memcpy(t, s, n);
		t[n] = '\n';
		t[n + 1] = '\0';
		reply_text(req, code, "application/json", t, n + 1);
		free(t);
	}
	free(s);
}

static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(req, code, json_pack("{s:s}", "error", msg));
}

/* 405 with the methods PATH takes (RFC 9110 section 15.5.6: Allow). */
static void reply_405(struct evhttp_request *req, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	reply_error(req, 405, "method not allowed here (allowed: %s)", allow);
}

static json_t *errors_json(const struct veer_errors *errs)
{
	json_t *a = json_array();

	for (size_t i = 0; i < errs->n; i++)
		json_array_append_new(a, json_string(errs->lines[i]));
	return a;
}

/* ---- process state as JSON ---------------------------------------------- */

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

static const char *balance_name(const struct veer_pool_conf *p)
{
	static const char *const names[] = {
		[VEER_BALANCE_ROUND_ROBIN] = "round_robin", [VEER_BALANCE_LEAST_CONN] = "least_conn",
		[VEER_BALANCE_P2C] = "p2c",		    [VEER_BALANCE_RANDOM] = "random",
		[VEER_BALANCE_HASH] = "hash",
	};

	if (p->balancer != NULL)
		return p->balancer->name;
	return (size_t)p->balance < VEER_ARRAY_LEN(names) ? names[p->balance] : "?";
}

/* The worst breaker state of S over the workers: open, then half-open,
 * then closed. */
static enum veer_breaker_state server_breaker(const struct veer_process *proc,
					      const struct veer_server_conf *s)
{
	enum veer_breaker_state worst = VEER_BREAKER_CLOSED;

	if (s->health == NULL)
		return worst;
	for (unsigned k = 0; k < proc->nworkers && k < VEER_MAX_WORKERS; k++) {
		unsigned st = atomic_load_explicit(&s->health->breaker[k], memory_order_relaxed);
		if (st == VEER_BREAKER_OPEN)
			return VEER_BREAKER_OPEN;
		if (st == VEER_BREAKER_HALF_OPEN)
			worst = VEER_BREAKER_HALF_OPEN;
	}
	return worst;
}

static uint64_t server_inflight(const struct veer_process *proc, const struct veer_server_conf *s)
{
	uint64_t n = 0;

	if (s->health == NULL)
		return 0;
	for (unsigned k = 0; k < proc->nworkers && k < VEER_MAX_WORKERS; k++)
		n += atomic_load_explicit(&s->health->inflight[k], memory_order_relaxed);
	return n;
}

static bool server_healthy(const struct veer_server_conf *s)
{
	return s->health == NULL ||
	       atomic_load_explicit(&s->health->healthy, memory_order_relaxed) != 0;
}

static const char *breaker_text(enum veer_breaker_state st)
{
	return st == VEER_BREAKER_OPEN ? "open" : st == VEER_BREAKER_HALF_OPEN ? "half_open" :
										    "closed";
}

/* The address listener L really listens on (port 0 resolved), from the
 * socket copies the control loop keeps; else the configured text. */
static void listen_text(const struct veer_process *proc, const struct veer_listener_conf *l,
			char *buf, size_t n)
{
	snprintf(buf, n, "%s", l->addr.text);
	for (size_t i = 0; i < proc->sockets.n; i++) {
		const struct veer_socket_rec *r = &proc->sockets.v[i];
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char host[INET6_ADDRSTRLEN];
		if (strcmp(r->name, l->name) != 0 || strcmp(r->addr, l->addr.text) != 0 ||
		    getsockname(r->fd, (struct sockaddr *)&ss, &len) != 0)
			continue;
		if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
			snprintf(buf, n, "[%s]:%u", host, ntohs(s6->sin6_port));
		} else if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
			snprintf(buf, n, "%s:%u", host, ntohs(s4->sin_port));
		}
		return;
	}
}

static json_t *match_json(const struct veer_route_conf *r)
{
	json_t *m = json_object();

	if (r->match_host != NULL) {
		char *h = veer_xmalloc(strlen(r->match_host) + 2);
		sprintf(h, "%s%s", r->match_host_wildcard ? "*" : "", r->match_host);
		json_object_set_new(m, "host", json_string(h));
		free(h);
	}
	if (r->match_path_prefix != NULL)
		json_object_set_new(m, "path_prefix", json_string(r->match_path_prefix));
	if (r->nmatch_methods != 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->nmatch_methods; i++)
			json_array_append_new(a, json_string(r->match_methods[i]));
		json_object_set_new(m, "methods", a);
	}
	if (r->nmatch_headers != 0) {
		json_t *h = json_object();
		for (size_t i = 0; i < r->nmatch_headers; i++)
			json_object_set_new(h, r->match_headers[i].name,
					    json_string(r->match_headers[i].value));
		json_object_set_new(m, "headers", h);
	}
	return m;
}

static json_t *route_json(const struct veer_admin *a, const struct veer_route_conf *r)
{
	const struct veer_process *proc = a->proc;
	const struct veer_route_conf *fr = veer_config_route(proc->file_config, r->name);
	struct veer_stats_totals t = veer_stats_route_totals(proc->stats,
							     proc->stats ? proc->nworkers : 0, r->name);
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(r->name));
	json_object_set_new(o, "action", json_string(action_name(r->action)));
	json_object_set_new(o, "match", match_json(r));
	switch (r->action) {
	case VEER_ACTION_POOL:
		json_object_set_new(o, "pool", json_string(r->pool->name));
		break;
	case VEER_ACTION_SPLIT: {
		json_t *s = json_array();
		for (size_t i = 0; i < r->nsplit; i++) {
			const char *pool = r->split[i].pool->name;
			uint32_t fw = r->split[i].weight, ow;
			for (size_t k = 0; fr != NULL && k < fr->nsplit; k++)
				if (strcmp(fr->split[k].pool->name, pool) == 0)
					fw = fr->split[k].weight;
			json_array_append_new(
				s, json_pack("{s:s, s:I, s:I, s:b}", "pool", pool, "weight",
					     (json_int_t)r->split[i].weight, "file_weight", (json_int_t)fw,
					     "override",
					     veer_overrides_split_weight(proc->overrides, r->name, pool,
									 &ow)));
		}
		json_object_set_new(o, "split", s);
		if (r->sticky != VEER_STICKY_NONE)
			json_object_set_new(o, "sticky",
					    json_pack("{s:s}",
						      r->sticky == VEER_STICKY_COOKIE ? "cookie" :
											"header",
						      r->sticky_name));
		break;
	}
	case VEER_ACTION_BLUE_GREEN: {
		bool fg = fr != NULL ? fr->green_active : r->green_active, og;
		json_object_set_new(
			o, "blue_green",
			json_pack("{s:s, s:s, s:s, s:s, s:b}", "blue", r->blue->name, "green",
				  r->green->name, "active", r->green_active ? "green" : "blue",
				  "file_active", fg ? "green" : "blue", "override",
				  veer_overrides_active(proc->overrides, r->name, &og)));
		break;
	}
	case VEER_ACTION_RESPOND:
		json_object_set_new(o, "respond", json_pack("{s:i}", "status", r->respond_status));
		break;
	case VEER_ACTION_NONE:
		break;
	}
	if (r->version_header != NULL) {
		json_t *pools = json_array();
		for (size_t i = 0; i < r->nversion_pools; i++)
			json_array_append_new(pools, json_string(r->version_pools[i]->name));
		json_object_set_new(o, "version",
				    json_pack("{s:s, s:o, s:s}", "header", r->version_header, "pools",
					      pools, "on_mismatch",
					      r->on_mismatch == VEER_MISMATCH_FALLBACK ? "fallback" :
											 "reject"));
	} else {
		json_object_set_new(o, "version", json_null());
	}
	json_object_set_new(o, "requests", json_integer((json_int_t)t.requests));
	json_object_set_new(o, "errors", json_integer((json_int_t)t.errors));
	return o;
}

static json_t *pool_json(const struct veer_admin *a, const struct veer_pool_conf *p)
{
	const struct veer_process *proc = a->proc;
	const struct veer_pool_conf *fp = veer_config_pool(proc->file_config, p->name);
	struct veer_stats_totals t = veer_stats_pool_totals(proc->stats,
							    proc->stats ? proc->nworkers : 0, p->name);
	json_t *servers = json_array();

	for (size_t i = 0; i < p->nservers; i++) {
		const struct veer_server_conf *s = &p->servers[i];
		uint32_t fw = s->weight;
		int ow = -1, od = 0;
		bool ov = veer_overrides_server(proc->overrides, p->name, s->address, &ow, &od);
		for (size_t k = 0; fp != NULL && k < fp->nservers; k++)
			if (strcmp(fp->servers[k].address, s->address) == 0)
				fw = fp->servers[k].weight;
		json_array_append_new(
			servers,
			json_pack("{s:s, s:I, s:I, s:b, s:b, s:b, s:s, s:I}", "address", s->address,
				  "weight", (json_int_t)s->weight, "file_weight", (json_int_t)fw,
				  "override", ov, "drain", ov && od, "healthy", server_healthy(s),
				  "breaker", breaker_text(server_breaker(proc, s)), "inflight",
				  (json_int_t)server_inflight(proc, s)));
	}
	return json_pack("{s:s, s:s?, s:s, s:b, s:I, s:I, s:o}", "name", p->name, "version",
			 p->version, "balance", balance_name(p), "health_check", p->health.enabled,
			 "requests", (json_int_t)t.requests, "errors", (json_int_t)t.errors,
			 "servers", servers);
}

static json_t *status_json(const struct veer_admin *a)
{
	const struct veer_process *proc = a->proc;
	const struct veer_config *cfg = proc->config;
	json_t *listeners = json_array(), *routes = json_array(), *pools = json_array(), *o;
	char addr[128];

	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct veer_listener_conf *l = &cfg->listeners[i];
		listen_text(proc, l, addr, sizeof(addr));
		json_array_append_new(
			listeners,
			json_pack("{s:s, s:s, s:I}", "name", l->name, "listen", addr,
				  "connections_active",
				  (json_int_t)veer_stats_connections(
					  proc->stats, proc->stats ? proc->nworkers : 0, l->name)));
	}
	for (size_t i = 0; i < cfg->nroutes; i++)
		json_array_append_new(routes, route_json(a, &cfg->routes[i]));
	for (size_t i = 0; i < cfg->npools; i++)
		json_array_append_new(pools, pool_json(a, &cfg->pools[i]));
	o = json_object();
	json_object_set_new(o, "version", json_string(VEER_VERSION));
	json_object_set_new(o, "generation", json_integer((json_int_t)cfg->generation));
	json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
	json_object_set_new(o, "uptime_seconds",
			    json_integer((json_int_t)((veer_now_ms() - a->started_ms) / 1000)));
	json_object_set_new(o, "reloads",
			    json_pack("{s:I, s:I}", "success", (json_int_t)proc->reloads_ok,
				      "failure", (json_int_t)proc->reloads_failed));
	if (proc->reloads_ok + proc->reloads_failed == 0)
		json_object_set_new(o, "last_reload", json_null());
	else
		json_object_set_new(o, "last_reload",
				    json_string(proc->last_reload_ok ? "ok" : "failure"));
	json_object_set_new(o, "listeners", listeners);
	json_object_set_new(o, "routes", routes);
	json_object_set_new(o, "pools", pools);
	return o;
}

/* ---- metrics ------------------------------------------------------------ */

/* A label value (Prometheus text format: \\, \" and \n escaped). */
static void label(struct evbuffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

static void family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void route_weight(struct evbuffer *out, const char *route, const char *pool, uint32_t w)
{
	evbuffer_add(out, "veer_route_weight{route=\"", 25);
	label(out, route);
	evbuffer_add(out, "\",pool=\"", 8);
	label(out, pool);
	evbuffer_add_printf(out, "\"} %u\n", w);
}

/* The families the control loop knows (the request metrics come from
 * veer_stats_render). */
static void render_process(struct evbuffer *out, const struct veer_process *proc)
{
	const struct veer_config *cfg = proc->config;
	size_t i, k;

	family(out, "veer_circuit_state", "gauge",
	       "Circuit breaker state of a server: 0 closed, 1 open, 2 half-open (the worst "
	       "over the workers).");
	for (i = 0; i < cfg->npools; i++) {
		const struct veer_pool_conf *p = &cfg->pools[i];
		for (k = 0; k < p->nservers; k++) {
			enum veer_breaker_state st = server_breaker(proc, &p->servers[k]);
			evbuffer_add_printf(out, "veer_circuit_state{pool=\"");
			label(out, p->name);
			evbuffer_add(out, "\",server=\"", 10);
			label(out, p->servers[k].address);
			evbuffer_add_printf(out, "\"} %d\n",
					    st == VEER_BREAKER_OPEN ? 1 : st == VEER_BREAKER_HALF_OPEN ? 2 : 0);
		}
	}
	family(out, "veer_server_healthy", "gauge",
	       "1 when a server passes its health checks (or has none), else 0.");
	for (i = 0; i < cfg->npools; i++) {
		const struct veer_pool_conf *p = &cfg->pools[i];
		for (k = 0; k < p->nservers; k++) {
			evbuffer_add_printf(out, "veer_server_healthy{pool=\"");
			label(out, p->name);
			evbuffer_add(out, "\",server=\"", 10);
			label(out, p->servers[k].address);
			evbuffer_add_printf(out, "\"} %d\n", server_healthy(&p->servers[k]) ? 1 : 0);
		}
	}
	family(out, "veer_route_weight", "gauge",
	       "Weight of a pool in a route now (admin overrides included): the split weight; "
	       "1 for the active side of a blue-green switch and 0 for the other; 1 for a "
	       "route's single pool.");
	for (i = 0; i < cfg->nroutes; i++) {
		const struct veer_route_conf *r = &cfg->routes[i];
		switch (r->action) {
		case VEER_ACTION_POOL:
			route_weight(out, r->name, r->pool->name, 1);
			break;
		case VEER_ACTION_SPLIT:
			for (k = 0; k < r->nsplit; k++)
				route_weight(out, r->name, r->split[k].pool->name, r->split[k].weight);
			break;
		case VEER_ACTION_BLUE_GREEN:
			route_weight(out, r->name, r->blue->name, r->green_active ? 0 : 1);
			route_weight(out, r->name, r->green->name, r->green_active ? 1 : 0);
			break;
		case VEER_ACTION_RESPOND:
		case VEER_ACTION_NONE:
			break;
		}
	}
	family(out, "veer_config_reloads_total", "counter", "Config reloads, by result.");
	evbuffer_add_printf(out, "veer_config_reloads_total{result=\"success\"} %llu\n",
			    (unsigned long long)proc->reloads_ok);
	evbuffer_add_printf(out, "veer_config_reloads_total{result=\"failure\"} %llu\n",
			    (unsigned long long)proc->reloads_failed);
	family(out, "veer_config_generation", "gauge", "Generation of the config in force.");
	evbuffer_add_printf(out, "veer_config_generation %llu\n",
			    (unsigned long long)cfg->generation);
	family(out, "veer_discovery_errors_total", "counter",
	       "Failed lookups, empty answers and broken endpoint files of a pool's discovery "
	       "(its last good endpoints stay).");
	for (i = 0; i < cfg->npools; i++) {
		if (!cfg->pools[i].discovery.enabled)
			continue;
		evbuffer_add_printf(out, "veer_discovery_errors_total{pool=\"");
		label(out, cfg->pools[i].name);
		evbuffer_add_printf(out, "\"} %llu\n",
				    (unsigned long long)veer_discovery_errors(proc->discovery,
									      cfg->pools[i].name));
	}
}

/* ---- request helpers ---------------------------------------------------- */

static bool is_get(struct evhttp_request *req)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	return m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
}

/* Does REQ carry the admin token (when one is configured)?  The compare
 * takes the same time whatever the bytes; only the length may show. */
static bool authorized(const struct veer_admin *a, struct evhttp_request *req)
{
	const struct veer_global_conf *g = &a->proc->config->global;
	const char *h, *e;
	size_t n;

	if (g->admin_token_file == NULL)
		return true;
	if (g->admin_token == NULL)
		return false;
	h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	/* RFC 6750 section 2.1: "Bearer" (case-insensitive), spaces, token. */
	if (h == NULL || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return false;
	for (h += 6; *h == ' ' || *h == '\t'; h++)
		;
	for (e = h + strlen(h); e > h && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	n = (size_t)(e - h);
	return n == strlen(g->admin_token) && CRYPTO_memcmp(h, g->admin_token, n) == 0;
}

/* Gate of every mutating call: false after answering 401 or 503. */
static bool may_change(const struct veer_admin *a, struct evhttp_request *req)
{
	if (!authorized(a, req)) {
		bool sent = evhttp_find_header(evhttp_request_get_input_headers(req),
					       "Authorization") != NULL;
		/* RFC 6750 section 3: the challenge, with invalid_token when
		 * a token came and was wrong. */
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  sent ? "Bearer realm=\"veer\", error=\"invalid_token\"" :
					 "Bearer realm=\"veer\"");
		reply_error(req, 401, sent ? "wrong bearer token" :
					     "this call needs \"Authorization: Bearer <token>\"");
		return false;
	}
	if (a->proc->stop_requests > 0) {
		reply_error(req, 503, "veer is stopping");
		return false;
	}
	return true;
}

/* After the overrides changed: publish a new generation.  On failure the
 * overrides go back to BACKUP and 500 is answered.  BACKUP is consumed. */
static bool publish(struct veer_admin *a, struct evhttp_request *req,
		    struct veer_overrides *backup, const char *what)
{
	struct veer_process *proc = a->proc;
	struct veer_errors errs = { 0 };

	if (veer_process_republish(proc, &errs) == VEER_OK) {
		veer_overrides_free(backup);
		veer_info("admin: %s (generation %llu)", what,
			  (unsigned long long)proc->config->generation);
		return true;
	}
	veer_overrides_free(proc->overrides);
	proc->overrides = backup;
	for (size_t i = 0; i < errs.n; i++)
		veer_err("%s", errs.lines[i]);
	veer_err("admin: %s failed: the running config (generation %llu) stays", what,
		 (unsigned long long)proc->config->generation);
	reply_json(req, 500, json_pack("{s:s, s:o}", "error", "could not publish the change",
				       "errors", errors_json(&errs)));
	veer_errors_free(&errs);
	return false;
}

/* ---- endpoints ---------------------------------------------------------- */

/* GET /: the dashboard. */
/* GET /: the dashboard, embedded at build time from src/dashboard.html
 * (scripts/embed.py).  It talks only to this server's API. */
static void dashboard_cb(struct evhttp_request *req, struct veer_admin *a)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	(void)a;
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
			  "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
			  "frame-ancestors 'none'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	reply_text(req, 200, "text/html; charset=utf-8", veer_dashboard_html, veer_dashboard_html_len);
}

static void metrics_cb(struct evhttp_request *req, struct veer_admin *a)
{
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (out == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (a->proc->stats != NULL)
		veer_stats_render(out, a->proc->stats, a->proc->nworkers);
	render_process(out, a->proc);
	evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* ---- PUT bodies: parse and check, then record the override ------------- */

static int refuse(struct veer_admin_change *out, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct veer_admin_change *out, int status, const char *fmt, ...)
{
	va_list ap;

	out->status = status;
	va_start(ap, fmt);
	vsnprintf(out->text, sizeof(out->text), fmt, ap);
	va_end(ap);
	return VEER_ERR;
}

/* The overrides' own refusal (ERRS is consumed). */
static int refuse_errs(struct veer_admin_change *out, struct veer_errors *errs)
{
	refuse(out, 400, "%s", errs->n ? errs->lines[0] : "rejected");
	veer_errors_free(errs);
	return VEER_ERR;
}

/* {"pool": weight, ...} for route NAME. */
static int parse_split(json_t *body, const char *route, const struct veer_config *file_cfg,
		       struct veer_overrides *o, struct veer_admin_change *out)
{
	const char *pools[VEER_ROUTE_POOLS_MAX];
	uint32_t weights[VEER_ROUTE_POOLS_MAX];
	struct veer_errors errs = { 0 };
	size_t n = 0, w;
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v) {
		if (n == VEER_ROUTE_POOLS_MAX)
			return refuse(out, 400, "too many pools (at most %d)",
				      VEER_ROUTE_POOLS_MAX);
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 10000)
			return refuse(out, 400, "weight of pool \"%s\" must be an integer 0..10000",
				      key);
		pools[n] = key;
		weights[n] = (uint32_t)json_integer_value(v);
		n++;
	}
	if (veer_override_split(o, file_cfg, route, pools, weights, n, &errs) != VEER_OK)
		return refuse_errs(out, &errs);
	w = (size_t)snprintf(out->text, sizeof(out->text), "route %s split", route);
	for (size_t i = 0; i < n && w < sizeof(out->text); i++)
		w += (size_t)snprintf(out->text + w, sizeof(out->text) - w, " %s=%u", pools[i],
				      weights[i]);
	return VEER_OK;
}

/* {"active": "blue"|"green"|POOL} for route R. */
static int parse_blue_green(json_t *body, const struct veer_route_conf *r,
			    const struct veer_config *file_cfg, struct veer_overrides *o,
			    struct veer_admin_change *out)
{
	struct veer_errors errs = { 0 };
	const char *key, *active = NULL;
	json_t *v;
	bool green;

	json_object_foreach(body, key, v) {
		if (strcmp(key, "active") != 0)
			return refuse(out, 400, "unknown key \"%s\" (expected \"active\")", key);
		active = json_string_value(v);
	}
	if (active == NULL)
		return refuse(out, 400, "expected {\"active\": \"blue\" or \"green\"}");
	if (r->action != VEER_ACTION_BLUE_GREEN) {
		/* The overrides say why. */
		green = false;
	} else if (strcmp(active, "green") == 0 || strcmp(active, r->green->name) == 0) {
		green = true;
	} else if (strcmp(active, "blue") == 0 || strcmp(active, r->blue->name) == 0) {
		green = false;
	} else {
		return refuse(out, 400, "active: \"%s\" is neither blue (%s) nor green (%s)",
			      active, r->blue->name, r->green->name);
	}
	if (veer_override_blue_green(o, file_cfg, r->name, green, &errs) != VEER_OK)
		return refuse_errs(out, &errs);
	snprintf(out->text, sizeof(out->text), "route %s blue_green active %s", r->name,
		 green ? "green" : "blue");
	return VEER_OK;
}

/* {"weight": N} and/or {"drain": bool} for server S of pool P. */
static int parse_server(json_t *body, const struct veer_pool_conf *p,
			const struct veer_server_conf *s, const struct veer_config *file_cfg,
			struct veer_overrides *o, struct veer_admin_change *out)
{
	struct veer_errors errs = { 0 };
	int weight = -1, drain = -1;
	const char *key;
	json_t *v;
	size_t w;

	json_object_foreach(body, key, v) {
		if (strcmp(key, "weight") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 1000)
				return refuse(out, 400, "weight must be an integer 0..1000");
			weight = (int)json_integer_value(v);
		} else if (strcmp(key, "drain") == 0) {
			if (!json_is_boolean(v))
				return refuse(out, 400, "drain must be true or false");
			drain = json_is_true(v) ? 1 : 0;
		} else {
			return refuse(out, 400,
				      "unknown key \"%s\" (expected \"weight\" or \"drain\")", key);
		}
	}
	if (veer_override_server(o, file_cfg, p->name, s->address, weight, drain, &errs) !=
	    VEER_OK)
		return refuse_errs(out, &errs);
	w = (size_t)snprintf(out->text, sizeof(out->text), "pool %s server %s", p->name,
			     s->address);
	if (weight >= 0 && w < sizeof(out->text))
		w += (size_t)snprintf(out->text + w, sizeof(out->text) - w, " weight %d", weight);
	if (drain >= 0 && w < sizeof(out->text))
		snprintf(out->text + w, sizeof(out->text) - w, drain ? " drain" : " undrain");
	return VEER_OK;
}

int veer_admin_parse_body(const char *kind, const char *name, const char *address,
			  const char *body, size_t len, const struct veer_config *file_cfg,
			  struct veer_overrides *o, struct veer_admin_change *out)
{
	const struct veer_route_conf *r = NULL;
	const struct veer_pool_conf *p = NULL;
	const struct veer_server_conf *s = NULL;
	json_error_t e;
	json_t *j = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strcmp(kind, "split") == 0 || strcmp(kind, "blue_green") == 0) {
		if ((r = veer_config_route(file_cfg, name)) == NULL)
			return refuse(out, 404, "unknown route \"%s\"", name);
	} else if (strcmp(kind, "server") == 0 && address != NULL) {
		if ((p = veer_config_pool(file_cfg, name)) == NULL)
			return refuse(out, 404, "unknown pool \"%s\"", name);
		for (size_t i = 0; i < p->nservers && s == NULL; i++)
			if (strcmp(p->servers[i].address, address) == 0 ||
			    strcmp(p->servers[i].addr.text, address) == 0)
				s = &p->servers[i];
		if (s == NULL)
			return refuse(out, 404, "pool \"%s\" has no server \"%s\"", name, address);
	} else {
		return refuse(out, 404, "no such setting \"%s\"", kind);
	}
	j = json_loadb(len != 0 ? body : "", len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		out->bad_json = true;
		out->line = e.line;
		out->column = e.column;
		return refuse(out, 400, "bad JSON: %s", e.text);
	}
	if (!json_is_object(j))
		rc = refuse(out, 400, "the body must be a JSON object");
	else if (p != NULL)
		rc = parse_server(j, p, s, file_cfg, o, out);
	else if (strcmp(kind, "split") == 0)
		rc = parse_split(j, name, file_cfg, o, out);
	else
		rc = parse_blue_green(j, r, file_cfg, o, out);
	json_decref(j);
	if (rc == VEER_OK)
		out->status = 200;
	return rc;
}

/* PUT of KIND (see veer_admin_parse_body) on NAME (and ADDRESS): record
 * the override, publish, answer with the route or pool as it now is. */
static void put_override(struct evhttp_request *req, struct veer_admin *a, const char *kind,
			 const char *name, const char *address)
{
	struct veer_process *proc = a->proc;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *body = len != 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	struct veer_overrides *backup = veer_overrides_copy(proc->overrides);
	struct veer_admin_change ch;

	if (veer_admin_parse_body(kind, name, address, body, len, proc->file_config,
				  proc->overrides, &ch) != VEER_OK) {
		veer_overrides_free(backup);
		if (ch.bad_json)
			reply_json(req, ch.status,
				   json_pack("{s:s, s:i, s:i}", "error", ch.text, "line", ch.line,
					     "column", ch.column));
		else
			reply_error(req, ch.status, "%s", ch.text);
		return;
	}
	if (!publish(a, req, backup, ch.text))
		return;
	if (address != NULL)
		reply_json(req, 200, pool_json(a, veer_config_pool(proc->config, name)));
	else
		reply_json(req, 200, route_json(a, veer_config_route(proc->config, name)));
}

static void post_reload(struct evhttp_request *req, struct veer_admin *a)
{
	struct veer_process *proc = a->proc;
	struct veer_errors errs = { 0 };

	veer_info("admin: reload requested");
	if (veer_process_reload_logged(proc, &errs) == VEER_OK)
		reply_json(req, 200, json_pack("{s:s, s:I}", "result", "ok", "generation",
					       (json_int_t)proc->config->generation));
	else
		reply_json(req, 422, json_pack("{s:s, s:I, s:o}", "result", "failure", "generation",
					       (json_int_t)proc->config->generation, "errors",
					       errors_json(&errs)));
	veer_errors_free(&errs);
}

/* ---- dispatch ----------------------------------------------------------- */

/* Split PATH into at most MAX_SEGMENTS percent-decoded segments (empty
 * ones skipped).  Returns the count, or -1 when there are too many or one
 * decodes to a NUL byte. */
static int split_path(const char *path, char **seg)
{
	int n = 0;

	while (*path != '\0') {
		size_t len = strcspn(path, "/"), dlen = 0;
		if (len != 0) {
			char *raw, *dec;
			if (n == MAX_SEGMENTS)
				goto fail;
			raw = veer_xstrndup(path, len);
			dec = evhttp_uridecode(raw, 0, &dlen);
			free(raw);
			if (dec == NULL || strlen(dec) != dlen) {
				free(dec);
				goto fail;
			}
			seg[n++] = dec;
		}
		path += len;
		if (*path == '/')
			path++;
	}
	return n;
fail:
	while (n > 0)
		free(seg[--n]);
	return -1;
}

static bool is(char **seg, int i, const char *s)
{
	return strcmp(seg[i], s) == 0;
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct veer_admin *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	char *seg[MAX_SEGMENTS];
	int n;
	bool api;

	if (path == NULL || path[0] != '/' || (n = split_path(path, seg)) < 0) {
		reply_error(req, 404, "no such endpoint");
		return;
	}
	api = n >= 3 && is(seg, 0, "api") && is(seg, 1, "v1");
	if (n == 0) {
		if (is_get(req))
			dashboard_cb(req, a);
		else
			reply_405(req, "GET, HEAD");
	} else if (n == 1 && is(seg, 0, "metrics")) {
		if (is_get(req))
			metrics_cb(req, a);
		else
			reply_405(req, "GET, HEAD");
	} else if (api && n == 3 && is(seg, 2, "status")) {
		if (is_get(req))
			reply_json(req, 200, status_json(a));
		else
			reply_405(req, "GET, HEAD");
	} else if (api && n == 3 && is(seg, 2, "reload")) {
		if (m != EVHTTP_REQ_POST)
			reply_405(req, "POST");
		else if (may_change(a, req))
			post_reload(req, a);
	} else if (api && n == 4 && is(seg, 2, "routes")) {
		const struct veer_route_conf *r = veer_config_route(a->proc->config, seg[3]);
		if (!is_get(req))
			reply_405(req, "GET, HEAD");
		else if (r == NULL)
			reply_error(req, 404, "unknown route \"%s\"", seg[3]);
		else
			reply_json(req, 200, route_json(a, r));
	} else if (api && n == 5 && is(seg, 2, "routes") &&
		   (is(seg, 4, "split") || is(seg, 4, "blue_green"))) {
		if (m != EVHTTP_REQ_PUT)
			reply_405(req, "PUT");
		else if (!may_change(a, req))
			;
		else if (is(seg, 4, "split"))
			put_override(req, a, "split", seg[3], NULL);
		else
			put_override(req, a, "blue_green", seg[3], NULL);
	} else if (api && n == 4 && is(seg, 2, "pools")) {
		const struct veer_pool_conf *p = veer_config_pool(a->proc->config, seg[3]);
		if (!is_get(req))
			reply_405(req, "GET, HEAD");
		else if (p == NULL)
			reply_error(req, 404, "unknown pool \"%s\"", seg[3]);
		else
			reply_json(req, 200, pool_json(a, p));
	} else if (api && n == 6 && is(seg, 2, "pools") && is(seg, 4, "servers")) {
		if (m != EVHTTP_REQ_PUT)
			reply_405(req, "PUT");
		else if (may_change(a, req))
			put_override(req, a, "server", seg[3], seg[5]);
	} else {
		reply_error(req, 404, "no such endpoint: %s", path);
	}
	while (n > 0)
		free(seg[--n]);
}

/* ---- start and stop ----------------------------------------------------- */

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, n, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, n, "%s:%u", host, ntohs(s4->sin_port));
	}
}

struct veer_admin *veer_admin_start(struct veer_process *proc)
{
	const struct veer_addr *addr = &proc->config->global.admin_addr;
	struct veer_admin *a = veer_xcalloc(1, sizeof(*a));
	struct evconnlistener *lev = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char text[128];

	a->proc = proc;
	a->started_ms = veer_now_ms();
	a->http = evhttp_new(proc->base);
	if (a->http == NULL)
		goto fail;
	evhttp_set_max_body_size(a->http, BODY_MAX);
	evhttp_set_max_headers_size(a->http, HEADERS_MAX);
	evhttp_set_timeout(a->http, IO_TIMEOUT_S);
	/* Every usual method reaches request_cb, which answers 405 with
	 * Allow where one does not fit the path. */
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(a->http, request_cb, a);
	/* SO_REUSEPORT as the listeners have it: a new binary started by
	 * SIGUSR2 binds the admin address while this one drains. */
	lev = evconnlistener_new_bind(proc->base, NULL, NULL,
				      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
					      LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT,
				      128, (const struct sockaddr *)&addr->ss, (int)addr->len);
	if (lev == NULL) {
		veer_err("admin: cannot listen on %s: %s", addr->text, strerror(errno));
		goto fail;
	}
	if (evhttp_bind_listener(a->http, lev) == NULL) {
		evconnlistener_free(lev);
		veer_err("admin: cannot serve on %s", addr->text);
		goto fail;
	}
	if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss, &len) == 0)
		addr_text(&ss, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s", addr->text);
	veer_info("admin on %s", text);
	return a;
fail:
	if (a->http != NULL)
		evhttp_free(a->http);
	free(a);
	return NULL;
}

void veer_admin_stop(struct veer_admin *a)
{
	if (a == NULL)
		return;
	evhttp_free(a->http);
	free(a);
}
