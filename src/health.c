/* veer — active health checks on the control loop (see health.h).  The HTTP
 * client is libevent's evhttp. */
#include "veer/health.h"
#include "veer/common.h"
#include "veer/log.h"
#include "veer/registry.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

struct check {
	struct veer_health *h;
	struct veer_pool_conf *pool;
	struct veer_server_conf *server;
	struct event *timer;
	struct evhttp_connection *conn; /* while a check runs */
	struct evhttp_connection *dead; /* the last one, freed at the next tick */
	char host[64];
	uint16_t port;
};

struct veer_health {
	struct event_base *base;
	struct check *checks;
	size_t n;
};

static void record(struct check *ck, bool ok, const char *why)
{
	struct veer_server_health *rec = ck->server->health;
	const struct veer_health_conf *c = &ck->pool->health;
	bool healthy = atomic_load(&rec->healthy) != 0;

	if (ok) {
		rec->fail_in_row = 0;
		rec->ok_in_row++;
		if (!healthy && rec->ok_in_row >= c->rise) {
			atomic_store(&rec->since_ms, veer_now_ms());
			atomic_store(&rec->healthy, 1);
			veer_info("health: pool %s server %s is healthy again (%u checks passed)",
				  ck->pool->name, ck->server->address, rec->ok_in_row);
		}
	} else {
		rec->ok_in_row = 0;
		rec->fail_in_row++;
		if (healthy && rec->fail_in_row >= c->fall) {
			atomic_store(&rec->healthy, 0);
			veer_warn("health: pool %s server %s is unhealthy (%u checks failed, last: %s)",
				  ck->pool->name, ck->server->address, rec->fail_in_row, why);
		}
	}
}

static void done_cb(struct evhttp_request *req, void *arg)
{
	struct check *ck = arg;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	char why[32];

	if (ck->conn == NULL)
		return; /* cancelled by veer_health_stop */
	snprintf(why, sizeof(why), code ? "status %d" : "no answer", code);
	record(ck, code >= 200 && code < 400, why);
	/* evhttp must not free a connection from inside its own callback:
	 * the next tick (or veer_health_stop) does. */
	ck->dead = ck->conn;
	ck->conn = NULL;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct check *ck = arg;
	const struct veer_health_conf *c = &ck->pool->health;
	struct evhttp_request *req;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (ck->conn != NULL)
		return; /* the previous check is still running: its timeout decides */
	if (ck->dead != NULL) {
		evhttp_connection_free(ck->dead);
		ck->dead = NULL;
	}
	ck->conn = evhttp_connection_base_new(ck->h->base, NULL, ck->host, ck->port);
	if (ck->conn == NULL) {
		record(ck, false, "no connection");
		return;
	}
	tv.tv_sec = (time_t)(c->timeout / 1000);
	tv.tv_usec = (suseconds_t)(c->timeout % 1000) * 1000;
	evhttp_connection_set_timeout_tv(ck->conn, &tv);
	evhttp_connection_set_retries(ck->conn, 0);
	req = evhttp_request_new(done_cb, ck);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", ck->server->address);
	evhttp_add_header(evhttp_request_get_output_headers(req), "User-Agent", "veer-health");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	if (evhttp_make_request(ck->conn, req, EVHTTP_REQ_GET, c->path) != 0) {
		evhttp_connection_free(ck->conn);
		ck->conn = NULL;
		record(ck, false, "request failed");
	}
}

struct veer_health *veer_health_start(struct event_base *base, struct veer_config *config)
{
	struct veer_health *h;
	size_t i, k, n = 0;

	for (i = 0; i < config->npools; i++)
		if (config->pools[i].health.enabled)
			n += config->pools[i].nservers;
	if (n == 0)
		return NULL;
	h = veer_xcalloc(1, sizeof(*h));
	h->base = base;
	h->checks = veer_xcalloc(n, sizeof(*h->checks));
	for (i = 0; i < config->npools; i++) {
		struct veer_pool_conf *p = &config->pools[i];
		struct timeval tv;
		if (!p->health.enabled)
			continue;
		tv.tv_sec = (time_t)(p->health.interval / 1000);
		tv.tv_usec = (suseconds_t)(p->health.interval % 1000) * 1000;
		for (k = 0; k < p->nservers; k++) {
			struct check *ck = &h->checks[h->n++];
			const struct sockaddr_storage *ss = &p->servers[k].addr.ss;
			ck->h = h;
			ck->pool = p;
			ck->server = &p->servers[k];
			if (ss->ss_family == AF_INET6) {
				const struct sockaddr_in6 *s6 = (const void *)ss;
				inet_ntop(AF_INET6, &s6->sin6_addr, ck->host, sizeof(ck->host));
				ck->port = ntohs(s6->sin6_port);
			} else {
				const struct sockaddr_in *s4 = (const void *)ss;
				inet_ntop(AF_INET, &s4->sin_addr, ck->host, sizeof(ck->host));
				ck->port = ntohs(s4->sin_port);
			}
			ck->timer = event_new(base, -1, EV_PERSIST, tick, ck);
			event_add(ck->timer, &tv);
			/* The first check runs at once. */
			event_active(ck->timer, EV_TIMEOUT, 1);
		}
	}
	return h;
}

void veer_health_stop(struct veer_health *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++) {
		struct check *ck = &h->checks[i];
		struct evhttp_connection *c = ck->conn;
		event_free(ck->timer);
		ck->conn = NULL;
		if (c != NULL)
			evhttp_connection_free(c);
		if (ck->dead != NULL)
			evhttp_connection_free(ck->dead);
	}
	free(h->checks);
	free(h);
}
