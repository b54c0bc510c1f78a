/* veer — the request state machine: client connection, routing, pairing with
 * an upstream connection, moving bytes both ways with back-pressure.
 *
 * Bodies are never copied: they move between evbuffers by chunk
 * (evbuffer_remove_buffer) after llhttp has walked them to find where the
 * message ends.  The only exception is re-framing a chunked response for an
 * HTTP/1.0 client, which has to decode it.
 */
#include "veer/proxy.h"
#include "veer/common.h"
#include "veer/log.h"
#include "veer/accesslog.h"
#include "veer/ratelimit.h"
#include "veer/redis.h"
#include "veer/registry.h"
#include "veer/stats.h"
#include "veer/tls.h"
#include "veer/router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Upstream response heads larger than this are a 502. */
#define RESP_HEAD_MAX (64u * 1024u)
/* response_head(): an interim 1xx head went through, parse the next one. */
#define HEAD_INTERIM 1
/* response_head(): the response was dropped and the request retried. */
#define HEAD_RETRIED 2

static const char *const state_names[] = {
	[VEER_CS_IDLE] = "idle", [VEER_CS_HEAD] = "head", [VEER_CS_FORWARD] = "forward",
	[VEER_CS_TUNNEL] = "tunnel", [VEER_CS_CLOSING] = "closing", [VEER_CS_CLOSED] = "closed",
	[VEER_CS_TLS] = "tls", [VEER_CS_LIMIT] = "limit",
};

static void client_process(struct veer_client *c);
static void client_flush(struct veer_client *c);
static void response_process(struct veer_upstream *u);
static void finish_request(struct veer_client *c);
static void end_attempts(struct veer_client *c);
static void end_request(struct veer_client *c);
static void client_handshake(struct veer_client *c);
static void global_verdict(struct veer_client *c, const struct veer_bucket_result *res);
static uint64_t loop_us(const struct veer_worker *w);
static uint64_t request_us(const struct veer_client *c);

/* The one place client states change. */
static void set_state(struct veer_client *c, enum veer_client_state s)
{
	veer_debug("client fd %d: %s -> %s", c->fd, state_names[c->state], state_names[s]);
	c->state = s;
}

/* The listener config in force: the one the current request pinned, or
 * between requests the socket's current one. */
static struct veer_listener_conf *lconf(const struct veer_client *c)
{
	return c->gen != NULL ? c->lconf : c->lsock->conf;
}

/* A request block from the worker's spares, or a new one: either way all
 * zero past the parser and the message (request_put). */
static struct veer_request *request_get(struct veer_worker *w)
{
	struct veer_request *rq = w->spare_reqs;

	if (rq != NULL) {
		w->spare_reqs = rq->next;
		w->nspare_reqs--;
		rq->next = NULL;
		return rq;
	}
	rq = veer_xcalloc(1, sizeof(*rq));
	veer_msg_init(&rq->req, &rq->parser, HTTP_REQUEST, NULL, 0);
	return rq;
}

/* Back to the spares, reset for the next request (the retry buffers keep
 * their memory for it); beyond the spares of a busy moment, freed. */
static void request_put(struct veer_worker *w, struct veer_request *rq)
{
	struct evbuffer *replay = rq->replay, *resend = rq->resend;

	if (w->nspare_reqs >= 256) {
		veer_request_free(rq);
		return;
	}
	free(rq->logbuf);
	if (replay != NULL)
		evbuffer_drain(replay, evbuffer_get_length(replay));
	if (resend != NULL)
		evbuffer_drain(resend, evbuffer_get_length(resend));
	veer_msg_reset(&rq->req);
	rq->req.hdrs = NULL;
	rq->req.max_hdrs = 0;
	llhttp_reset(&rq->parser);
	/* Everything after the parser and the message starts at zero. */
	memset(rq->req_id, 0, sizeof(*rq) - offsetof(struct veer_request, req_id));
	rq->replay = replay;
	rq->resend = resend;
	rq->next = w->spare_reqs;
	w->spare_reqs = rq;
	w->nspare_reqs++;
}

void veer_request_free(struct veer_request *rq)
{
	if (rq->replay != NULL)
		evbuffer_free(rq->replay);
	if (rq->resend != NULL)
		evbuffer_free(rq->resend);
	free(rq->logbuf);
	free(rq);
}

/* A request begins: pin the generation its listener config belongs to, and
 * take a request block and a header table for the time of the request. */
static void pin_request(struct veer_client *c)
{
	struct veer_listener_conf *l = c->lsock->conf;

	c->gen = veer_gen_pin(c->lsock->gen);
	c->rq = request_get(c->w);
	c->lconf = l;
	c->rq->t_start = loop_us(c->w);
	/* The header table comes from the worker's spares for the time of
	 * the request: an idle connection holds none (memory per idle
	 * connection). */
	if (c->hdrs == NULL || l->max_headers > c->max_hdrs) {
		veer_worker_put_hdrs(c->w, c->hdrs, c->max_hdrs);
		c->hdrs = veer_worker_get_hdrs(c->w, (uint32_t)l->max_headers, &c->max_hdrs);
	}
	c->rq->req.hdrs = c->hdrs;
	c->rq->req.max_hdrs = (uint32_t)l->max_headers;
}

static void unpin_request(struct veer_client *c)
{
	veer_worker_put_hdrs(c->w, c->hdrs, c->max_hdrs);
	c->hdrs = NULL;
	c->max_hdrs = 0;
	if (c->rq != NULL) {
		request_put(c->w, c->rq);
		c->rq = NULL;
	}
	if (c->gen != NULL) {
		veer_gen_unpin(c->w, c->gen);
		c->gen = NULL;
		c->lconf = NULL;
	}
}

static void arm_timer(struct veer_client *c, veer_ms_t ms)
{
	veer_lazy_arm(c->w, &c->timer, &c->tl, ms);
}

static void pause_read(struct veer_client *c)
{
	if (!c->read_paused) {
		event_del(&c->rev);
		c->read_paused = true;
		/* A body we stop reading on purpose is not a stalled one. */
		if (c->state == VEER_CS_FORWARD)
			event_del(&c->timer);
	}
}

static void resume_read(struct veer_client *c)
{
	if (c->read_paused && c->state != VEER_CS_CLOSING && c->state != VEER_CS_CLOSED) {
		event_add(&c->rev, NULL);
		c->read_paused = false;
	}
}

static void up_pause_read(struct veer_upstream *u)
{
	if (!u->read_paused) {
		event_del(&u->rev);
		u->read_paused = true;
	}
}

static void up_resume_read(struct veer_upstream *u)
{
	if (u->read_paused) {
		u->read_paused = false;
		if (u->state == VEER_US_ACTIVE)
			event_add(&u->rev, NULL);
	}
}

/* Pair client and upstream; the server's in-flight count follows. */
/* The worker's in-flight count for U's server, published for the admin API
 * in this worker's own slot of the registry record (no shared write). */
static void publish_inflight(const struct veer_client *c, const struct veer_upstream *u)
{
	struct veer_server_health *h = u->wp->conf->servers[u->server].health;

	if (h != NULL && c->w->id < VEER_MAX_WORKERS)
		atomic_store_explicit(&h->inflight[c->w->id], u->wp->bal.servers[u->server].inflight,
				      memory_order_relaxed);
}

static void pair(struct veer_client *c, struct veer_upstream *u)
{
	c->up = u;
	u->client = c;
	u->wp->bal.servers[u->server].inflight++;
	publish_inflight(c, u);
	{
		/* For the access log; addr.text (80 bytes) fits, but bound it. */
		const char *t = u->wp->conf->servers[u->server].addr.text;
		size_t n = strnlen(t, sizeof(c->rq->server) - 1);
		memcpy(c->rq->server, t, n);
		c->rq->server[n] = '\0';
	}
}

/* Clear both back-pointers (before either side is torn down). */
static void unpair(struct veer_client *c)
{
	struct veer_upstream *u = c->up;

	if (u == NULL)
		return;
	u->wp->bal.servers[u->server].inflight--;
	publish_inflight(c, u);
	c->up = NULL;
	u->client = NULL;
}

void veer_client_close(struct veer_client *c)
{
	struct veer_worker *w = c->w;
	struct veer_upstream *u = c->up;

	if (c->state == VEER_CS_CLOSED)
		return;
	if (u != NULL) {
		unpair(c);
		veer_upstream_close(u);
	}
	if (c->rl_wait != NULL) {
		veer_redis_cancel(w->redis, c->rl_wait, false);
		c->rl_wait = NULL;
	}
	end_request(c);
	end_attempts(c);
	event_del(&c->rev);
	event_del(&c->wev);
	event_del(&c->timer);
	if (c->retry_ev != NULL)
		event_del(c->retry_ev);
	if (c->ssl != NULL) {
		/* One non-blocking close_notify keeps the session resumable. */
		if (SSL_is_init_finished(c->ssl))
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	unpin_request(c);
	set_state(c, VEER_CS_CLOSED);
	TAILQ_REMOVE(&w->clients, c, link);
	TAILQ_INSERT_TAIL(&w->to_free, c, link);
	veer_stats_connection(w->stats, c->lsock->name, -1);
	veer_worker_schedule_gc(w);
	veer_worker_client_closed(w, c->lsock);
}

void veer_client_free(struct veer_client *c)
{
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	if (c->retry_ev != NULL)
		event_free(c->retry_ev);
	c->magic = 0;
	free(c);
}

/* Stop reading, flush what is queued, then close. */
static void client_close_after_flush(struct veer_client *c)
{
	end_request(c);
	end_attempts(c);
	set_state(c, VEER_CS_CLOSING);
	pause_read(c);
	event_del(&c->timer);
	/* Bound the flush: a client that never reads does not keep us. */
	arm_timer(c, lconf(c)->idle_timeout);
	client_flush(c);
}

/* Microseconds on the worker loop's cached clock: when its current round
 * of events began (libevent reads the clock once per round), as nginx's
 * and HAProxy's request times are taken.  No clock read per request. */
static uint64_t loop_us(const struct veer_worker *w)
{
	struct timeval tv;

	event_base_gettimeofday_cached(w->base, &tv);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* Microseconds since the current request began (0 should the wall clock
 * the cache is expressed in have stepped back meanwhile). */
static uint64_t request_us(const struct veer_client *c)
{
	uint64_t now = loop_us(c->w);

	return now > c->rq->t_start ? now - c->rq->t_start : 0;
}

/* The request is over (answered, or cut short): count it and log it, once. */
static void end_request(struct veer_client *c)
{
	struct veer_access_entry e;
	const char *route, *pool;
	uint64_t dur;

	if (c->rq == NULL || c->rq->logged || c->nrequests == 0)
		return;
	c->rq->logged = true;
	dur = request_us(c);
	route = c->route != NULL ? c->route->name : NULL;
	pool = c->pool != NULL ? c->pool->name : NULL;
	veer_stats_request(c->w->stats, route, pool, c->rq->status, dur);
	if (c->w->alog == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.time_us = c->rq->t_start;
	e.client = c->ip;
	e.method = llhttp_method_name((llhttp_method_t)c->rq->parser.method);
	if (c->rq->target != NULL) {
		e.target = c->rq->target;
		e.target_len = c->rq->target_len;
	}
	e.http_minor = c->http_minor;
	e.status = c->rq->status;
	e.bytes_in = c->rq->bytes_in;
	e.bytes_out = c->rq->bytes_out;
	e.duration_us = dur;
	e.route = route;
	e.pool = pool;
	e.version = c->pool != NULL ? c->pool->version : NULL;
	e.server = c->rq->server[0] ? c->rq->server : NULL;
	e.retries = c->rq->tries > 1 ? c->rq->tries - 1 : 0;
	e.request_id = c->rq->req_id[0] ? c->rq->req_id : c->rq->log_req_id;
	e.trace_id = c->rq->trace_id[0] ? c->rq->trace_id : NULL;
	e.host = c->rq->log_host;
	e.host_len = c->rq->log_host_len;
	e.user_agent = c->rq->log_ua;
	e.user_agent_len = c->rq->log_ua_len;
	e.referer = c->rq->log_referer;
	e.referer_len = c->rq->log_referer_len;
	veer_accesslog_write(c->w->alog, &e);
}

/* The proxied request is over for its pool: retry and request counts. */
static void end_attempts(struct veer_client *c)
{
	struct veer_wpool *wp = c->rq != NULL ? c->rq->wp : NULL;

	if (wp == NULL)
		return;
	if (c->rq->retry_counted)
		wp->retries_inflight--;
	c->rq->retry_counted = false;
	wp->requests_inflight--;
	c->rq->wp = NULL;
	if (c->retry_ev != NULL)
		event_del(c->retry_ev);
	veer_wpool_unref(c->w, wp);
}

static void respond_with(struct veer_client *c, int status, const char *body, size_t len,
			 bool close_conn, const char *more)
{
	char extra[512];
	bool close_after = close_conn || !c->keep_alive || !c->req_done;
	int n = 0;

	if (c->rq->req_id[0] != '\0')
		n = snprintf(extra, sizeof(extra), "X-Request-Id: %s\r\n", c->rq->req_id);
	if (!close_after && c->http_minor == 0)
		n += snprintf(extra + n, sizeof(extra) - (size_t)n, "Connection: keep-alive\r\n");
	snprintf(extra + n, sizeof(extra) - (size_t)n, "%s", more != NULL ? more : "");
	/* HEAD: the head only, with the length the body would have. */
	{
		size_t before = evbuffer_get_length(c->out);
		veer_http1_write_simple(c->out, status, c->http_minor, close_after, extra, body, len,
					c->is_head);
		c->rq->bytes_out += evbuffer_get_length(c->out) - before;
	}
	c->rq->status = status;
	c->resp_started = true;
	if (close_after)
		client_close_after_flush(c);
	else
		finish_request(c);
}

static void respond(struct veer_client *c, int status, const char *body, size_t len, bool close_conn)
{
	respond_with(c, status, body, len, close_conn, NULL);
}

static void respond_error(struct veer_client *c, int status, bool close_conn)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, veer_http1_reason(status));

	respond(c, status, body, (size_t)n, close_conn);
}

/* The request and its response are over: go idle for the next request, or
 * close. */
static void finish_request(struct veer_client *c)
{
	if (!c->keep_alive || !c->req_done || c->w->stopping) {
		client_close_after_flush(c);
		return;
	}
	end_request(c);
	end_attempts(c);
	/* The next request picks up the generation current then, and a
	 * fresh request block. */
	unpin_request(c);
	set_state(c, VEER_CS_IDLE);
	arm_timer(c, lconf(c)->idle_timeout);
	resume_read(c);
	client_flush(c);
	/* Pipelined requests already buffered: run them from the loop, not
	 * from inside this call chain. */
	if (c->state == VEER_CS_IDLE && evbuffer_get_length(c->in) > 0)
		event_active(&c->rev, EV_READ, 1);
}

/* Tear down a request that cannot complete (the response already started,
 * or the peer vanished). */
static void abort_request(struct veer_client *c)
{
	veer_client_close(c);
}

static void client_flush(struct veer_client *c)
{
	int rc;

	if (c->state == VEER_CS_CLOSED)
		return;
	rc = veer_sock_write(c->fd, c->ssl, c->out);
	if (rc == VEER_ERR) {
		abort_request(c);
		return;
	}
	if (rc == VEER_AGAIN) {
		event_add(&c->wev, NULL);
		if (c->up != NULL && evbuffer_get_length(c->out) > VEER_HIGH_WATER)
			up_pause_read(c->up);
		return;
	}
	/* (the write event is only ever added after a short write) */
	if (event_pending(&c->wev, EV_WRITE, NULL))
		event_del(&c->wev);
	if (c->state == VEER_CS_CLOSING)
		veer_client_close(c);
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_client *c = arg;
	struct veer_upstream *u;

	VEER_CHECK_MAGIC(c, VEER_CLIENT_MAGIC);
	(void)fd;
	(void)what;
	if (c->state == VEER_CS_TLS) {
		client_handshake(c);
		return;
	}
	client_flush(c);
	if (c->state == VEER_CS_CLOSED)
		return;
	u = c->up;
	if (u != NULL && u->read_paused && evbuffer_get_length(c->out) < VEER_LOW_WATER) {
		up_resume_read(u);
		/* Bytes that arrived before the pause are still buffered. */
		if (evbuffer_get_length(u->in) > 0)
			response_process(u);
	}
}

static void client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_client *c = arg;

	VEER_CHECK_MAGIC(c, VEER_CLIENT_MAGIC);
	(void)fd;
	(void)what;
	if (!veer_lazy_fired(&c->timer, &c->tl))
		return;
	switch (c->state) {
	case VEER_CS_HEAD:
		c->keep_alive = false;
		respond_error(c, 408, true);
		break;
	case VEER_CS_LIMIT:
		/* Redis did not answer in time: on_error decides. */
		veer_redis_cancel(c->w->redis, c->rl_wait, true);
		c->rl_wait = NULL;
		global_verdict(c, NULL);
		break;
	case VEER_CS_FORWARD:
		/* With the request read in full nothing can stall on this side:
		 * an idle or header timer left pending (proxy_request). */
		if (c->req_done)
			break;
		/* The request body stalled. */
		c->keep_alive = false;
		if (c->up != NULL) {
			struct veer_upstream *u = c->up;
			unpair(c);
			veer_upstream_close(u);
		}
		if (c->resp_started)
			abort_request(c);
		else
			respond_error(c, 408, true);
		break;
	default:
		/* idle keep-alive, or a flush that never finished */
		veer_client_close(c);
		break;
	}
}

/* The current request has a body: chunked, or a Content-Length above 0. */
static bool request_has_body(const struct veer_client *c)
{
	return (c->rq->req.flags & VEER_H_CHUNKED) || c->rq->parser.content_length > 0;
}

/* Path of the request target: origin-form up to '?', or the path of an
 * absolute-form target (RFC 9112 §3.2.2). */
static void target_path(const struct veer_client *c, const char **path, size_t *len)
{
	const char *u = veer_span_ptr(&c->rq->req, c->rq->req.url);
	size_t n = c->rq->req.url.len, i = 0;

	if (n > 0 && u[0] != '/') {
		const char *sep = memchr(u, ':', n);
		if (sep != NULL && (size_t)(sep - u) + 3 <= n && sep[1] == '/' && sep[2] == '/') {
			i = (size_t)(sep - u) + 3;
			while (i < n && u[i] != '/' && u[i] != '?')
				i++;
		}
	}
	*path = u + i;
	*len = n - i;
	for (size_t k = i; k < n; k++) {
		if (u[k] == '?') {
			*len = k - i;
			break;
		}
	}
	if (*len == 0) {
		*path = "/";
		*len = 1;
	}
}

/* Hash key for balance: hash, per the pool's hash_on. */
static void hash_key(const struct veer_client *c, const struct veer_pool_conf *pool,
		     struct veer_pick_ctx *ctx)
{
	switch (pool->hash_on) {
	case VEER_HASH_CLIENT_IP:
		ctx->key = c->ip;
		ctx->key_len = strlen(c->ip);
		break;
	case VEER_HASH_PATH:
		target_path(c, &ctx->key, &ctx->key_len);
		break;
	case VEER_HASH_HEADER:
		ctx->key = veer_msg_header(&c->rq->req, pool->hash_key, &ctx->key_len);
		break;
	case VEER_HASH_COOKIE:
		ctx->key = veer_msg_cookie(&c->rq->req, pool->hash_key, &ctx->key_len);
		break;
	default:
		break;
	}
}

/* Keep a copy of the first N bytes of SRC in the replay copy, for a retry (a
 * pooled connection found dead, or retries:), while the request stays
 * within VEER_REPLAY_MAX; past that it is not replayable.  A head that fits
 * goes into the request block's kept[], with no evbuffer chunk. */
static void keep_copy(struct veer_client *c, struct evbuffer *src, size_t n)
{
	struct veer_request *rq = c->rq;
	struct evbuffer_iovec v[16];
	struct evbuffer_ptr ptr;
	size_t done = 0, spilled = rq->replay != NULL ? evbuffer_get_length(rq->replay) : 0;
	int nv, i;

	if (!rq->keep_replay || n == 0)
		return;
	if (rq->kept_len + spilled + n > VEER_REPLAY_MAX) {
		rq->keep_replay = false;
		rq->kept_len = 0;
		if (spilled > 0)
			evbuffer_drain(rq->replay, spilled);
		return;
	}
	if (spilled == 0 && rq->kept_len + n <= sizeof(rq->kept) &&
	    evbuffer_copyout(src, rq->kept + rq->kept_len, n) == (ev_ssize_t)n) {
		rq->kept_len += (uint32_t)n;
		return;
	}
	/* Made on first use: a connection that never needs it holds none. */
	if (rq->replay == NULL && (rq->replay = evbuffer_new()) == NULL)
		abort(); /* out-of-memory policy: see common.h */
	while (done < n) {
		evbuffer_ptr_set(src, &ptr, done, EVBUFFER_PTR_SET);
		nv = evbuffer_peek(src, (ssize_t)(n - done), &ptr, v, 16);
		if (nv <= 0)
			break;
		for (i = 0; i < nv && i < 16 && done < n; i++) {
			size_t take = v[i].iov_len < n - done ? v[i].iov_len : n - done;
			evbuffer_add(rq->replay, v[i].iov_base, take);
			done += take;
		}
	}
}

/* Write the upstream request head and start moving the body. */
static void send_request_head(struct veer_client *c, struct veer_upstream *u)
{
	struct veer_fwd fwd = {
		.client_ip = c->ip,
		.proto = c->ssl != NULL ? "https" : "http",
		.request_id = c->rq->req.req_id < 0 ? c->rq->req_id : NULL,
		.default_host = u->wp->conf->servers[u->server].addr.text,
		.upgrade = c->websocket,
		.route = c->route,
	};
	char trace[33], span[17];
	uint64_t r[3];

	for (int i = 0; i < 3; i++)
		r[i] = veer_rand_next(&c->w->rng);
	veer_hex64(trace, r[0]);
	veer_hex64(trace + 16, r[1]);
	veer_hex64(span, r[2] | 1u);
	trace[32] = span[16] = '\0';
	fwd.trace_id = trace;
	fwd.span_id = span;
	if (!veer_http1_client_trace(&c->rq->req, c->rq->trace_id))
		memcpy(c->rq->trace_id, trace, 33);

	u->resp.skip_body = c->is_head;
	if (c->rq->resend != NULL && evbuffer_get_length(c->rq->resend) > 0) {
		/* A retry: the request as first sent (head and body so far). */
		evbuffer_add_buffer(u->out, c->rq->resend);
		return;
	}
	veer_http1_write_request(u->out, &c->rq->req, &c->rq->parser, &fwd);
	c->rq->keep_replay = u->reused || u->wp->conf->retries.enabled;
	if (c->rq->keep_replay)
		keep_copy(c, u->out, evbuffer_get_length(u->out));
}

/* Arm the upstream's response timer once the request is out. */
static void arm_response_timer(struct veer_upstream *u)
{
	const struct veer_pool_conf *p = u->wp->conf;
	veer_ms_t ms = p->response_timeout;

	/* retries.per_try_timeout bounds each attempt when set. */
	if (p->retries.enabled && p->retries.per_try_timeout > 0 && p->retries.per_try_timeout < ms)
		ms = p->retries.per_try_timeout;
	veer_lazy_arm(u->w, &u->timer, &u->tl, ms);
}

static void up_flush(struct veer_client *c, struct veer_upstream *u)
{
	int rc = veer_upstream_flush(u);

	if (rc == VEER_ERR) {
		veer_proxy_upstream_error(u, 502, VEER_FAIL_RESET);
		return;
	}
	if (rc == VEER_AGAIN && evbuffer_get_length(u->out) > VEER_HIGH_WATER)
		pause_read(c);
	if (rc == VEER_OK && c->req_done && u->state == VEER_US_ACTIVE && !u->got_bytes)
		arm_response_timer(u);
}

/* Move request body bytes from the client to the upstream. */
static void forward_body(struct veer_client *c)
{
	struct veer_upstream *u = c->up;
	size_t n = 0;
	int rc;

	if (c->req_done || u == NULL)
		return;
	rc = veer_http1_parse_body(&c->rq->parser, &c->rq->req, c->in, &n);
	if (rc == VEER_ERR) {
		/* Bad chunk framing and the like (RFC 9112 §7.1). */
		c->keep_alive = false;
		unpair(c);
		veer_upstream_close(u);
		if (c->resp_started)
			abort_request(c);
		else
			respond_error(c, 400, true);
		return;
	}
	if (lconf(c)->body_bytes > 0 && c->rq->req.body_bytes > lconf(c)->body_bytes) {
		c->keep_alive = false;
		unpair(c);
		veer_upstream_close(u);
		if (c->resp_started)
			abort_request(c);
		else
			respond_error(c, 413, true);
		return;
	}
	if (n > 0) {
		keep_copy(c, c->in, n);
		evbuffer_remove_buffer(c->in, u->out, n);
		c->body_sent = true;
		c->rq->bytes_in += n;
	}
	if (rc == VEER_OK) {
		/* Whatever client timer is left is ignored from now on. */
		c->req_done = true;
	} else {
		arm_timer(c, lconf(c)->body_timeout);
	}
	up_flush(c, u);
}

/* Consume the head and a body already at hand before answering here; a
 * body not all there yet makes the answer close the connection. */
static void consume_request(struct veer_client *c)
{
	size_t n;

	evbuffer_drain(c->in, c->rq->req.head_len);
	if (veer_http1_parse_body(&c->rq->parser, &c->rq->req, c->in, &n) == VEER_OK) {
		evbuffer_drain(c->in, n);
		c->req_done = true;
	}
}

/* A 429 with Retry-After and the RateLimit-* fields (IETF draft
 * ratelimit-headers): the limit is the bucket size, the reset the time until
 * it is full again. */
static void respond_limited(struct veer_client *c, const struct veer_bucket_result *res,
			    uint32_t limit)
{
	char more[256];

	snprintf(more, sizeof(more),
		 "Retry-After: %llu\r\nRateLimit-Limit: %u\r\nRateLimit-Remaining: %u\r\n"
		 "RateLimit-Reset: %llu\r\n",
		 (unsigned long long)((res->retry_after_ms + 999) / 1000 ? (res->retry_after_ms + 999) / 1000 : 1),
		 limit, res->remaining, (unsigned long long)((res->reset_ms + 999) / 1000));
	veer_stats_rate_limited(c->w->stats, c->route != NULL ? c->route->name : NULL);
	consume_request(c);
	respond_with(c, 429, "429 Too Many Requests\n", 22, false, more);
}

/* A server of WP the request may go to now, or -1 when every one is out
 * (unhealthy, breaker open, half-open with its probes out).  The first
 * pass also passes over servers this request already tried and thins out
 * those in slow start; the second pass takes any server still in. */
static int pick_server(struct veer_client *c, struct veer_wpool *wp, struct veer_pick_ctx *ctx)
{
	struct veer_pool_conf *pool = wp->conf;
	size_t n = wp->nservers, i;
	uint8_t stack[256], *skip = n <= sizeof(stack) ? stack : veer_xcalloc(n, 1);
	uint64_t now = veer_coarse_ms();
	int idx = -1, pass;
	size_t guard;

	for (pass = 0; pass < 2 && idx < 0; pass++) {
		for (i = 0; i < n; i++) {
			uint32_t share = veer_server_share(&pool->servers[i], now);
			bool out = share == 0;
			if (!out && pool->breaker.enabled) {
				const struct veer_breaker *b = &wp->servers[i].breaker;
				enum veer_breaker_state st = veer_breaker_state_at(b, now);
				out = st == VEER_BREAKER_OPEN ||
				      (st == VEER_BREAKER_HALF_OPEN &&
				       b->probes_out >= pool->breaker.probe_requests);
			}
			if (!out && pass == 0) {
				if (i < 64 && (c->rq->tried & (1ull << i)))
					out = true;
				else if (share < 1000 && veer_rand_next(&c->w->rng) % 1000 >= share)
					out = true;
			}
			skip[i] = out;
		}
		ctx->skip = skip;
		for (guard = 0; guard <= n; guard++) {
			idx = pool->balancer->pick(pool, &wp->bal, ctx);
			if (idx < 0 || !pool->breaker.enabled ||
			    veer_breaker_allow(&wp->servers[idx].breaker, &pool->breaker, now))
				break;
			skip[idx] = 1;
			idx = -1;
		}
	}
	ctx->skip = NULL;
	if (skip != stack)
		free(skip);
	return idx;
}

/* The request cannot be sent anywhere: answer STATUS (or cut the response
 * short if one started). */
static void fail_request(struct veer_client *c, int status)
{
	if (c->up != NULL) {
		struct veer_upstream *u = c->up;
		unpair(c);
		veer_upstream_close(u);
	}
	if (c->resp_started || c->state == VEER_CS_CLOSED) {
		abort_request(c);
		return;
	}
	/* Refused before the head went anywhere: read the request off the
	 * connection so that it can carry the next one. */
	if (c->state == VEER_CS_HEAD)
		consume_request(c);
	respond_error(c, status, false);
}

/* Send the request (first try or a retry) to a server of c->rq->wp.  False when
 * it was answered instead (503 every server out, 502 no socket). */
static bool start_attempt(struct veer_client *c, bool fresh)
{
	struct veer_wpool *wp = c->rq->wp;
	struct veer_pool_conf *pool = wp->conf;
	struct veer_pick_ctx ctx = { 0 };
	struct veer_upstream *u;
	int idx;

	if (pool->breaker.enabled && pool->breaker.max_pending > 0 &&
	    wp->pending >= pool->breaker.max_pending) {
		/* circuit_breaker.max_pending: requests waiting for a
		 * connection to this pool (per worker). */
		fail_request(c, 503);
		return false;
	}
	if (pool->balance == VEER_BALANCE_HASH)
		hash_key(c, pool, &ctx);
	idx = pick_server(c, wp, &ctx);
	if (idx < 0) {
		/* Every server is out: at once, never after a timeout. */
		fail_request(c, 503);
		return false;
	}
	u = veer_upstream_get(c->w, wp, (uint32_t)idx, fresh);
	if (u == NULL) {
		fail_request(c, 502);
		return false;
	}
	c->rq->tries++;
	if (idx < 64)
		c->rq->tried |= 1ull << idx;
	c->pool = pool;
	pair(c, u);
	send_request_head(c, u);
	return true;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_client *c = arg;
	bool fresh = c->retried;

	VEER_CHECK_MAGIC(c, VEER_CLIENT_MAGIC);
	(void)fd;
	(void)what;
	if (c->state != VEER_CS_FORWARD || c->rq->wp == NULL || c->up != NULL)
		return;
	if (!start_attempt(c, fresh))
		return;
	resume_read(c);
	forward_body(c);
	if (c->state == VEER_CS_FORWARD && c->up != NULL)
		up_flush(c, c->up);
}

/* Try U's request again after failure F (STATUS for VEER_FAIL_STATUS):
 * only before any response byte reached the client, per retries: (or once,
 * on a new connection, when a pooled connection was found dead), with the
 * request bytes at hand.  True when a retry is under way. */
static bool retry_request(struct veer_client *c, struct veer_upstream *u, enum veer_failure f,
			  int status)
{
	struct veer_wpool *wp = u->wp;
	const struct veer_retry_conf *rc = &wp->conf->retries;
	bool nothing_sent = f == VEER_FAIL_CONNECT;
	bool dead_pooled = u->reused && !u->got_bytes && f == VEER_FAIL_RESET && !c->retried;
	uint64_t delay = 0;
	struct timeval tv;

	if (c->resp_started || c->rq->wp != wp || c->state != VEER_CS_FORWARD)
		return false;
	if (!dead_pooled) {
		/* The try that just failed, if it was a retry, is no longer in
		 * flight: the budget counts retries running, not requests that
		 * retried once. */
		if (c->rq->retry_counted) {
			wp->retries_inflight--;
			c->rq->retry_counted = false;
		}
		if (!rc->enabled || !veer_retry_should(rc, c->rq->tries, f, status, c->rq->idempotent, false) ||
		    !veer_retry_budget_allows(rc, wp->retries_inflight, wp->requests_inflight))
			return false;
	}
	/* The bytes to send again: all of them are still in u->out when the
	 * connection never came up; else the replay copy must hold the
	 * whole request so far. */
	if (c->rq->resend == NULL && (c->rq->resend = evbuffer_new()) == NULL)
		abort(); /* out-of-memory policy: see common.h */
	if (c->retry_ev == NULL && (c->retry_ev = event_new(c->w->base, -1, 0, retry_cb, c)) == NULL)
		abort();
	evbuffer_drain(c->rq->resend, evbuffer_get_length(c->rq->resend));
	if (nothing_sent) {
		evbuffer_add_buffer(c->rq->resend, u->out);
	} else if (c->rq->keep_replay && (c->rq->kept_len > 0 || c->rq->replay != NULL)) {
		struct evbuffer_iovec v[16];
		int nv = c->rq->replay != NULL ? evbuffer_peek(c->rq->replay, -1, NULL, v, 16) : 0, i;
		if (nv > 16)
			return false;
		evbuffer_add(c->rq->resend, c->rq->kept, c->rq->kept_len);
		for (i = 0; i < nv; i++)
			evbuffer_add(c->rq->resend, v[i].iov_base, v[i].iov_len);
	} else {
		return false;
	}
	unpair(c);
	veer_upstream_close(u);
	if (dead_pooled) {
		c->retried = true; /* once, on a new connection */
	} else {
		wp->retries_inflight++;
		c->rq->retry_counted = true;
		delay = veer_retry_backoff_ms(rc, c->rq->tries, veer_rand_next(&c->w->rng));
		veer_stats_retry(c->w->stats, wp->conf->name);
	}
	veer_debug("client %s: retry %u after %s (%llums)", c->ip, c->rq->tries,
		   dead_pooled ? "a dead pooled connection" : "a failure", (unsigned long long)delay);
	pause_read(c);
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
	event_add(c->retry_ev, &tv);
	return true;
}

/* Record U's outcome in its server's breaker. */
static void breaker_record(struct veer_upstream *u, bool success)
{
	const struct veer_pool_conf *pool = u->wp->conf;

	struct veer_server_health *h = pool->servers[u->server].health;
	uint64_t now;

	if (!pool->breaker.enabled)
		return;
	now = veer_coarse_ms();
	veer_breaker_record(&u->wp->servers[u->server].breaker, &pool->breaker, now, success);
	if (h != NULL && u->w->id < VEER_MAX_WORKERS)
		atomic_store_explicit(&h->breaker[u->w->id],
				      (uint8_t)veer_breaker_state_at(&u->wp->servers[u->server].breaker, now),
				      memory_order_relaxed);
}

static void proxy_request(struct veer_client *c, struct veer_pool_conf *route_pool)
{
	struct veer_worker *w = c->w;
	struct veer_wpool *wp = veer_worker_wpool(w, c->gen, route_pool);

	if (wp == NULL) {
		/* The pool went away in a reload since this request began. */
		respond_error(c, 503, false);
		return;
	}
	if (wp->conf->limiter != NULL) {
		struct veer_bucket_result res = veer_limiter_take(wp->conf->limiter, "", 0, veer_coarse_ms());
		if (!res.allowed) {
			respond_limited(c, &res, wp->conf->rate_limit.burst);
			return;
		}
	}
	if (c->rq->req.req_id < 0) {
		/* 16 hex of per-worker randomness, then a counter: unique
		 * without a syscall or a lock. */
		memcpy(c->rq->req_id, w->id_prefix, 16);
		veer_hex64(c->rq->req_id + 16, ++w->req_seq);
		c->rq->req_id[32] = '\0';
	}
	c->rq->wp = wp;
	veer_wpool_ref(wp);
	wp->requests_inflight++;
	c->rq->tries = 0;
	c->rq->tried = 0;
	c->rq->idempotent = veer_method_idempotent(llhttp_method_name((llhttp_method_t)c->rq->parser.method));
	if (!start_attempt(c, false))
		return;
	evbuffer_drain(c->in, c->rq->req.head_len);
	if ((c->rq->req.flags & VEER_H_EXPECT_100) && c->http_minor == 1 &&
	    request_has_body(c) &&
	    evbuffer_get_length(c->in) == 0) {
		/* veer reads the body itself, so it answers the expectation
		 * (RFC 9110 §10.1.1) as nginx does; Expect is not forwarded. */
		evbuffer_add(c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		client_flush(c);
		if (c->state == VEER_CS_CLOSED)
			return;
	}
	set_state(c, VEER_CS_FORWARD);
	/* The idle or header timer may still be pending.  A request with a
	 * body gets the body timer (forward_body); one without leaves it be:
	 * should it fire while the response is on its way, it is ignored
	 * (client_timer_cb), and finish_request re-arms the idle timer.  One
	 * timer operation per request instead of three. */
	if (request_has_body(c))
		event_del(&c->timer);
	forward_body(c);
	if (c->state == VEER_CS_FORWARD && c->up != NULL && c->req_done &&
	    evbuffer_get_length(c->in) > VEER_HIGH_WATER)
		pause_read(c); /* pipelined bytes wait; their buffer stays bounded */
}

/* A complete request head is in c->rq->req: route it. */
static void respond_limited(struct veer_client *c, const struct veer_bucket_result *res,
			    uint32_t limit);

/* The bucket key of this request for RL (*LEN bytes): the client address, a
 * header's value, or "" (the route as a whole). */
static const char *limit_key(const struct veer_client *c, const struct veer_ratelimit_conf *rl,
			     size_t *len)
{
	const char *key = "";

	*len = 0;
	switch (rl->key) {
	case VEER_RLKEY_HEADER:
		key = veer_msg_header(&c->rq->req, rl->key_header, len);
		if (key != NULL)
			break;
		/* Without the header, the client's address. */
		/* fall through */
	case VEER_RLKEY_CLIENT_IP:
		key = c->ip;
		*len = strlen(c->ip);
		break;
	default:
		break;
	}
	return key;
}

/* routes[].rate_limit (scope: local): one token from the bucket of this
 * request's key.  False when the request was answered 429. */
static bool route_admits(struct veer_client *c, const struct veer_route_conf *route)
{
	const struct veer_ratelimit_conf *rl = &route->rate_limit;
	struct veer_bucket_result res;
	size_t len;
	const char *key = limit_key(c, rl, &len);

	res = veer_limiter_take(route->limiter, key, len, veer_coarse_ms());
	if (res.allowed)
		return true;
	respond_limited(c, &res, rl->burst);
	return false;
}

/* Copy what the access log needs out of the head, which is drained once
 * forwarded: target, Host, User-Agent, Referer, a client X-Request-Id (each
 * truncated to its slot). */
static void capture_for_log(struct veer_client *c)
{
	static const struct { const char *name; size_t max; } fields[] = {
		{ "host", 256 }, { "user-agent", 512 }, { "referer", 512 }, { "x-request-id", 128 },
	};
	const char **ptrs[] = { &c->rq->log_host, &c->rq->log_ua, &c->rq->log_referer, &c->rq->log_req_id };
	size_t *lens[] = { &c->rq->log_host_len, &c->rq->log_ua_len, &c->rq->log_referer_len, NULL };
	size_t off = 0, n, len, i;
	const char *v;

	if (c->rq->logbuf == NULL)
		c->rq->logbuf = veer_xmalloc(4096);
	n = c->rq->req.url.len < 2048 ? c->rq->req.url.len : 2048;
	memcpy(c->rq->logbuf, veer_span_ptr(&c->rq->req, c->rq->req.url), n);
	c->rq->target = c->rq->logbuf;
	c->rq->target_len = n;
	off = n;
	for (i = 0; i < VEER_ARRAY_LEN(fields); i++) {
		*ptrs[i] = NULL;
		if (lens[i] != NULL)
			*lens[i] = 0;
		v = veer_msg_header(&c->rq->req, fields[i].name, &len);
		if (v == NULL)
			continue;
		n = len < fields[i].max ? len : fields[i].max;
		memcpy(c->rq->logbuf + off, v, n);
		*ptrs[i] = c->rq->logbuf + off;
		if (lens[i] != NULL) {
			*lens[i] = n;
			off += n;
		} else {
			c->rq->logbuf[off + n] = '\0'; /* the request id is a C string */
			off += n + 1;
		}
	}
}

/* Answer the request here (404, respond:, a version mismatch ...): consume
 * the head and a body already at hand, or close after answering.  BODY NULL
 * gives veer's standard short body for STATUS. */
static void answer_here(struct veer_client *c, int status, const char *body, size_t len)
{
	consume_request(c);
	if (body == NULL)
		respond_error(c, status, false);
	else
		respond(c, status, body, len, false);
}

/* The route's action for the request (its limits passed). */
static void route_continue(struct veer_client *c, struct veer_route_conf *route)
{
	struct veer_pool_conf *pool = NULL;
	char text[512];
	size_t n;

	switch (veer_route_pool(route, &c->rq->req, veer_rand_next(&c->w->rng), &pool)) {
	case VEER_ROUTE_POOL:
		proxy_request(c, pool);
		return;
	case VEER_ROUTE_RESPOND:
		answer_here(c, route->respond_status, route->respond_body, route->respond_body_len);
		return;
	case VEER_ROUTE_BAD_VERSION:
		n = (size_t)snprintf(text, sizeof(text), "bad version range in %s\n",
				     route->version_header);
		answer_here(c, 400, text, n < sizeof(text) ? n : sizeof(text) - 1);
		return;
	case VEER_ROUTE_NO_VERSION: {
		size_t len;
		const char *want = veer_msg_header(&c->rq->req, route->version_header, &len);
		/* Built before the head (which WANT points into) is drained. */
		n = veer_route_versions_text(route, want, len, text, sizeof(text));
		answer_here(c, 400, text, n);
		return;
	}
	default:
		answer_here(c, 503, NULL, 0);
		return;
	}
}

/* The global limit's verdict for the current request: RES from Redis, or
 * NULL when Redis did not give one (global.redis.on_error decides). */
static void global_verdict(struct veer_client *c, const struct veer_bucket_result *res)
{
	if (c->state == VEER_CS_LIMIT) {
		set_state(c, VEER_CS_HEAD);
		event_del(&c->timer);
		resume_read(c);
	}
	if (res == NULL) {
		if (c->gen->config->global.redis_deny) {
			answer_here(c, 503, NULL, 0);
			return;
		}
	} else if (!res->allowed) {
		respond_limited(c, res, c->route->rate_limit.burst);
		return;
	}
	route_continue(c, c->route);
}

static void redis_answered(void *arg, const struct veer_bucket_result *res)
{
	struct veer_client *c = arg;

	VEER_CHECK_MAGIC(c, VEER_CLIENT_MAGIC);
	c->rl_wait = NULL;
	global_verdict(c, res);
}

/* routes[].rate_limit with scope: global: one token from the bucket in
 * Redis.  The client waits (reading paused) at most global.redis.timeout;
 * when Redis is down the verdict comes at once. */
static void ask_redis(struct veer_client *c, struct veer_route_conf *route)
{
	const struct veer_ratelimit_conf *rl = &route->rate_limit;
	size_t len;
	const char *key = limit_key(c, rl, &len);

	if (c->w->redis != NULL)
		c->rl_wait = veer_redis_take(c->w->redis, route->name, key, len, rl->rate, rl->burst,
					     redis_answered, c);
	if (c->rl_wait == NULL) {
		global_verdict(c, NULL);
		return;
	}
	set_state(c, VEER_CS_LIMIT);
	/* The head stays where it is in c->in (c->rq->req points into it). */
	pause_read(c);
	arm_timer(c, c->gen->config->global.redis_timeout);
}

static void start_request(struct veer_client *c)
{
	struct veer_route_input in = { 0 };
	struct veer_route_conf *route;

	c->http_minor = c->rq->parser.http_minor;
	c->nrequests++;
	/* The rest of the request's figures start at zero (request_get). */
	c->rq->bytes_in = c->rq->req.head_len;
	if (c->w->alog != NULL)
		capture_for_log(c);
	c->is_head = c->rq->parser.method == HTTP_HEAD;
	c->keep_alive = llhttp_should_keep_alive(&c->rq->parser) && !c->w->stopping;
	c->req_done = false;
	c->retried = false;
	c->resp_started = false;
	c->body_sent = false;
	c->pool = NULL;
	/* Only WebSocket upgrades are tunnelled; other Upgrade offers (h2c
	 * ...) are dropped as hop-by-hop and the request goes on as HTTP/1.1. */
	c->websocket = c->rq->parser.upgrade && (c->rq->req.flags & VEER_H_WEBSOCKET);
	/* GET or HEAD with a body: the framing is plain, its meaning is not
	 * (RFC 9110 §9.3.1): forwarded, then neither connection is reused, so
	 * a server that ignores the body cannot take it for a request. */
	c->no_reuse = (c->rq->parser.method == HTTP_GET || c->rq->parser.method == HTTP_HEAD) &&
		      request_has_body(c);
	if (c->no_reuse)
		c->keep_alive = false;

	/* limits.body_bytes: 0 means no limit, as in nginx. */
	if (lconf(c)->body_bytes > 0 && (c->rq->parser.flags & F_CONTENT_LENGTH) &&
	    c->rq->parser.content_length > lconf(c)->body_bytes) {
		c->keep_alive = false;
		respond_error(c, 413, true);
		return;
	}
	if (c->rq->req.host >= 0) {
		in.host = veer_span_ptr(&c->rq->req, c->rq->req.hdrs[c->rq->req.host].value);
		in.host_len = c->rq->req.hdrs[c->rq->req.host].value.len;
	}
	target_path(c, &in.path, &in.path_len);
	in.method = llhttp_method_name((llhttp_method_t)c->rq->parser.method);
	in.msg = &c->rq->req;
	route = veer_route_find(c->lconf, &in);
	c->route = route;
	if (route == NULL) {
		answer_here(c, 404, NULL, 0);
		return;
	}
	if (route->limiter != NULL && !route_admits(c, route))
		return;
	if (route->rate_limit.enabled && route->rate_limit.global) {
		ask_redis(c, route);
		return;
	}
	route_continue(c, route);
}

static void parse_head(struct veer_client *c)
{
	size_t len = evbuffer_get_length(c->in);
	size_t want = len < lconf(c)->header_bytes ? len : lconf(c)->header_bytes;
	const char *buf;
	int status = 400;
	int rc;

	if (want == 0)
		return;
	buf = (const char *)evbuffer_pullup(c->in, (ssize_t)want);
	rc = veer_http1_parse_head(&c->rq->parser, &c->rq->req, buf, want, &status);
	if (rc == VEER_AGAIN) {
		uint64_t elapsed;
		if (want >= lconf(c)->header_bytes) {
			c->keep_alive = false;
			c->http_minor = 1;
			/* Still in the request line: the target is what is too
			 * long (RFC 9112 §3: 414). */
			respond_error(c, memchr(buf, '\n', want) == NULL ? 414 : 431, true);
			return;
		}
		/* Minimum receive rate: a head still arriving after
		 * VEER_HEAD_RATE_GRACE must have come at VEER_HEAD_MIN_RATE
		 * bytes/s on average, or it is a slowloris: 408 and close,
		 * without waiting for the whole header timeout. */
		elapsed = request_us(c);
		if (elapsed > VEER_HEAD_RATE_GRACE_US &&
		    (uint64_t)want * 1000000u < (uint64_t)VEER_HEAD_MIN_RATE * elapsed) {
			veer_debug("client %s: request head at %llu bytes in %llums: too slow", c->ip,
				   (unsigned long long)want, (unsigned long long)(elapsed / 1000));
			c->keep_alive = false;
			respond_error(c, 408, true);
		}
		return;
	}
	if (rc == VEER_ERR) {
		veer_debug("client %s: bad request: %s", c->ip, llhttp_get_error_reason(&c->rq->parser));
		c->keep_alive = false;
		c->http_minor = 1;
		/* No body in an answer to HEAD (RFC 9110 §9.3.2), even a 400. */
		c->is_head = c->rq->parser.method == HTTP_HEAD;
		respond_error(c, status, true);
		return;
	}
	start_request(c);
}

/* Move tunnelled bytes from the client to the upstream. */
static void tunnel_up(struct veer_client *c)
{
	struct veer_upstream *u = c->up;

	if (u == NULL)
		return;
	evbuffer_add_buffer(u->out, c->in);
	up_flush(c, u);
}

static void client_process(struct veer_client *c)
{
	switch (c->state) {
	case VEER_CS_IDLE:
		if (evbuffer_get_length(c->in) == 0)
			return;
		set_state(c, VEER_CS_HEAD);
		pin_request(c);
		parse_head(c);
		/* The header timeout is armed only for a head that did not
		 * come whole with its first read (the common case needs no
		 * timer: the idle timer still pending is replaced by what
		 * comes next). */
		if (c->state == VEER_CS_HEAD)
			arm_timer(c, lconf(c)->header_timeout);
		break;
	case VEER_CS_HEAD:
		parse_head(c);
		break;
	case VEER_CS_FORWARD:
		forward_body(c);
		break;
	case VEER_CS_TUNNEL:
		/* An idle tunnel lives as long as an idle keep-alive
		 * connection (listener timeouts.idle). */
		arm_timer(c, lconf(c)->idle_timeout);
		tunnel_up(c);
		break;
	case VEER_CS_CLOSING:
		/* Whatever comes now is not read. */
		evbuffer_drain(c->in, evbuffer_get_length(c->in));
		break;
	default:
		break;
	}
}

static void client_eof(struct veer_client *c)
{
	switch (c->state) {
	case VEER_CS_FORWARD:
		if (c->req_done) {
			/* Half-close after a complete request: answer it,
			 * then close. */
			c->keep_alive = false;
			pause_read(c);
			return;
		}
		abort_request(c);
		return;
	case VEER_CS_TUNNEL:
		/* Pass the half-close on once what the client sent is out. */
		c->shut_up = true;
		if (c->up != NULL && evbuffer_get_length(c->up->out) == 0)
			shutdown(c->up->fd, SHUT_WR);
		pause_read(c);
		return;
	default:
		veer_client_close(c);
		return;
	}
}

/* TLS with the client (listeners[].tls): the header timeout, armed at
 * accept, bounds the handshake. */
static void client_handshake(struct veer_client *c)
{
	bool want_write = false;
	/* A client's failed handshake (scanners, old clients) is routine. */
	int rc = veer_tls_handshake(c->ssl, &want_write, c->ip, VEER_LOG_DEBUG);

	if (rc == VEER_ERR) {
		veer_client_close(c);
		return;
	}
	if (rc == VEER_AGAIN) {
		if (want_write)
			event_add(&c->wev, NULL);
		else
			event_del(&c->wev);
		return;
	}
	event_del(&c->wev);
	set_state(c, VEER_CS_IDLE);
	/* The request may have come with the handshake's last flight. */
	event_active(&c->rev, EV_READ, 1);
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_client *c = arg;
	ssize_t n;

	VEER_CHECK_MAGIC(c, VEER_CLIENT_MAGIC);
	(void)what;
	if (c->state == VEER_CS_TLS) {
		client_handshake(c);
		return;
	}
	/* Heads are read in small pieces (a client trickling one holds
	 * little); a large body in large ones. */
	n = veer_sock_read(c->w, fd, c->ssl, c->in,
			   c->state == VEER_CS_FORWARD || c->state == VEER_CS_TUNNEL ? &c->read_big
										    : NULL);
	if (n == 0) {
		client_process(c);
		if (c->state != VEER_CS_CLOSED)
			client_eof(c);
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		abort_request(c);
		return;
	}
	client_process(c);
	/* Pipelined input piling up behind a request in progress. */
	if (c->state == VEER_CS_FORWARD && c->req_done &&
	    evbuffer_get_length(c->in) > VEER_HIGH_WATER)
		pause_read(c);
}

void veer_client_accept(struct veer_worker *w, struct veer_lsock *ls, int fd,
			const struct sockaddr *sa, int salen)
{
	struct veer_listener_conf *l = ls->conf;
	struct veer_client *c = veer_xcalloc(1, sizeof(*c));
	int one = 1;

	(void)salen;
	c->magic = VEER_CLIENT_MAGIC;
	c->fd = fd;
	c->w = w;
	c->lsock = ls;
	ls->nclients++;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->ip, sizeof(c->ip));
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], c->ip, sizeof(c->ip));
		else
			inet_ntop(AF_INET6, a, c->ip, sizeof(c->ip));
	} else {
		strcpy(c->ip, "unknown");
	}
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	if (c->in == NULL || c->out == NULL)
		abort(); /* out-of-memory policy: see common.h */
	event_assign(&c->rev, w->base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
	event_assign(&c->wev, w->base, fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
	event_assign(&c->timer, w->base, -1, 0, client_timer_cb, c);
	event_add(&c->rev, NULL);
	c->state = VEER_CS_IDLE;
	if (l->tls.enabled) {
		c->ssl = veer_tls_accept(l->tls.server, fd);
		if (c->ssl == NULL)
			abort(); /* out-of-memory policy: see common.h */
		SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
				     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
		c->state = VEER_CS_TLS;
	}
	/* A new connection gets the header timeout for its first byte. */
	arm_timer(c, l->header_timeout);
	TAILQ_INSERT_TAIL(&w->clients, c, link);
	w->nclients++;
	veer_stats_connection(w->stats, ls->name, 1);
}

void veer_client_shutdown(struct veer_client *c)
{
	c->keep_alive = false;
	if (c->state != VEER_CS_IDLE || evbuffer_get_length(c->in) > 0)
		return; /* closes after the current response */
	if (c->nrequests > 0) {
		/* An idle keep-alive connection: clients expect these to
		 * close at any time (RFC 9112 §9.5). */
		veer_client_close(c);
		return;
	}
	/* Accepted, but its first request has not arrived yet: closing it
	 * now would reset a request already on the wire.  It gets a short
	 * grace to send it, and is answered with Connection: close. */
	arm_timer(c, c->lsock->conf->header_timeout < 1000 ? c->lsock->conf->header_timeout : 1000);
}

/* ---- upstream side ---------------------------------------------------- */

void veer_proxy_upstream_connected(struct veer_upstream *u)
{
	struct veer_client *c = u->client;

	if (c == NULL) {
		veer_upstream_close(u);
		return;
	}
	up_flush(c, u);
}

void veer_proxy_upstream_drained(struct veer_upstream *u)
{
	struct veer_client *c = u->client;

	if (c == NULL)
		return;
	if (c->req_done && !u->got_bytes && c->state == VEER_CS_FORWARD)
		arm_response_timer(u);
	if (c->shut_up && c->state == VEER_CS_TUNNEL)
		shutdown(u->fd, SHUT_WR);
	if (c->read_paused && evbuffer_get_length(u->out) < VEER_LOW_WATER) {
		resume_read(c);
		if (evbuffer_get_length(c->in) > 0)
			client_process(c);
	}
}

void veer_proxy_upstream_error(struct veer_upstream *u, int status, enum veer_failure f)
{
	struct veer_client *c = u->client;

	if (c == NULL) {
		veer_upstream_close(u);
		return;
	}
	/* A pooled connection the server had closed is not the server
	 * failing. */
	if (!(u->reused && !u->got_bytes && f == VEER_FAIL_RESET))
		breaker_record(u, false);
	if (retry_request(c, u, f, status))
		return;
	if (c->up == u) {
		unpair(c);
		veer_upstream_close(u);
	}
	if (c->resp_started || c->state != VEER_CS_FORWARD) {
		abort_request(c);
		return;
	}
	respond_error(c, status, false);
}

/* The response ended: the upstream goes back to its pool or closes, and
 * the client goes on to its next request. */
static void response_done(struct veer_upstream *u)
{
	struct veer_client *c = u->client;

	u->keep_alive = llhttp_should_keep_alive(&u->parser) && c->req_done &&
			evbuffer_get_length(u->in) == 0 && !c->no_reuse;
	/* A 5xx from the server counts against it (RFC 9110 §15.6). */
	if (!u->breaker_done)
		breaker_record(u, u->parser.status_code < 500);
	/* The response timer stays pending: release re-arms it as the idle
	 * timer, or close deletes it. */
	unpair(c);
	veer_upstream_release(u);
	finish_request(c);
}

static void start_tunnel(struct veer_client *c, struct veer_upstream *u)
{
	set_state(c, VEER_CS_TUNNEL);
	arm_timer(c, lconf(c)->idle_timeout);
	event_del(&u->timer);
	c->req_done = true;
	evbuffer_add_buffer(c->out, u->in);
	if (evbuffer_get_length(c->in) > 0)
		tunnel_up(c);
}

/* Forward a response head to the client. */
static int response_head(struct veer_client *c, struct veer_upstream *u)
{
	size_t len = evbuffer_get_length(u->in);
	size_t want = len < RESP_HEAD_MAX ? len : RESP_HEAD_MAX;
	struct veer_resp r = { 0 };
	const char *buf;
	int status = 502, code;
	int rc;

	buf = (const char *)evbuffer_pullup(u->in, (ssize_t)want);
	rc = veer_http1_parse_head(&u->parser, &u->resp, buf, want, &status);
	if (rc == VEER_AGAIN)
		return want >= RESP_HEAD_MAX ? VEER_ERR : VEER_AGAIN;
	if (rc == VEER_ERR)
		return VEER_ERR;
	code = u->parser.status_code;
	if (code >= 502 && code <= 504 && u->wp->conf->retries.enabled) {
		/* retries.on 502/503/504: the answer is dropped, unread. */
		breaker_record(u, false);
		u->breaker_done = true; /* response_done must not count it again */
		if (retry_request(c, u, VEER_FAIL_STATUS, code))
			return HEAD_RETRIED;
	}
	r.http_minor = c->http_minor;
	r.request_id = c->rq->req_id[0] ? c->rq->req_id : NULL;
	if (code == 101 && c->websocket && u->parser.upgrade) {
		r.upgrade = true;
	} else if (code >= 100 && code < 200) {
		/* Interim responses (100 Continue ...) pass through; 1.0
		 * clients do not get them (RFC 9110 §15.2). */
		if (c->http_minor > 0)
			veer_http1_write_response(c->out, &u->resp, &u->parser, &r);
		evbuffer_drain(u->in, u->resp.head_len);
		llhttp_reset(&u->parser);
		veer_msg_reset(&u->resp);
		u->resp.skip_body = c->is_head;
		return HEAD_INTERIM;
	} else {
		bool needs_eof = llhttp_message_needs_eof(&u->parser);
		r.dechunk = c->http_minor == 0 && (u->resp.flags & VEER_H_CHUNKED) && !c->is_head;
		if (needs_eof || r.dechunk)
			c->keep_alive = false;
		if (c->w->stopping)
			c->keep_alive = false;
		r.close = !c->keep_alive;
		r.keep_alive_10 = c->keep_alive && c->http_minor == 0;
	}
	if (c->gen->config->global.expose_headers) {
		r.pool = c->pool->name;
		r.version = c->pool->version;
	}
	c->rq->bytes_out += veer_http1_write_response(c->out, &u->resp, &u->parser, &r);
	c->rq->status = code;
	evbuffer_drain(u->in, u->resp.head_len);
	if (r.dechunk)
		u->resp.body_sink = c->out;
	u->head_done = true;
	c->resp_started = true;
	if (r.upgrade)
		start_tunnel(c, u);
	return VEER_OK;
}

static void response_process(struct veer_upstream *u)
{
	struct veer_client *c = u->client;
	size_t n;
	int rc;

	if (c->state == VEER_CS_TUNNEL) {
		arm_timer(c, lconf(c)->idle_timeout);
		evbuffer_add_buffer(c->out, u->in);
		goto flush;
	}
	while (!u->head_done) {
		rc = response_head(c, u);
		if (rc == VEER_AGAIN || rc == HEAD_RETRIED)
			return;
		if (rc == VEER_ERR) {
			veer_debug("upstream %s: bad response head",
				   u->wp->conf->servers[u->server].addr.text);
			unpair(c);
			veer_upstream_close(u);
			respond_error(c, 502, false);
			return;
		}
		if (c->state == VEER_CS_TUNNEL)
			goto flush;
	}
	rc = veer_http1_parse_body(&u->parser, &u->resp, u->in, &n);
	if (rc == VEER_ERR) {
		/* Bad framing from the server: the client connection
		 * cannot be trusted any further. */
		client_flush(c);
		abort_request(c);
		return;
	}
	if (u->resp.body_sink != NULL) {
		evbuffer_drain(u->in, n);
	} else if (n > 0) {
		c->rq->bytes_out += n;
		evbuffer_remove_buffer(u->in, c->out, n);
	}
	if (rc == VEER_OK) {
		response_done(u);
		return;
	}
flush:
	client_flush(c);
}

void veer_proxy_upstream_readable(struct veer_upstream *u)
{
	struct veer_client *c = u->client;
	ssize_t n;

	if (c == NULL) {
		veer_upstream_close(u);
		return;
	}
	n = veer_sock_read(u->w, u->fd, u->ssl, u->in, &u->read_big);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		veer_proxy_upstream_error(u, 502, VEER_FAIL_RESET);
		return;
	}
	if (n == 0) {
		if (c->state == VEER_CS_TUNNEL) {
			unpair(c);
			veer_upstream_close(u);
			client_close_after_flush(c);
			return;
		}
		if (!u->head_done) {
			if (evbuffer_get_length(u->in) > 0)
				u->got_bytes = true;
			veer_proxy_upstream_error(u, 502, VEER_FAIL_RESET);
			return;
		}
		response_process(u);
		if (u->client != c)
			return;
		if (veer_http1_finish(&u->parser, &u->resp) == VEER_OK) {
			/* close-delimited body: the end of the connection is
			 * the end of the response */
			u->keep_alive = false;
			unpair(c);
			veer_upstream_close(u);
			finish_request(c);
		} else {
			abort_request(c);
		}
		return;
	}
	u->got_bytes = true;
	if (c->state == VEER_CS_TUNNEL) {
		arm_response_timer(u);
		response_process(u);
		return;
	}
	response_process(u);
	/* Still waiting for more of the response: its timeout starts again.
	 * A response that ended in this read needs no timer (the connection
	 * went back to the pool or was closed), nor a tunnel it started. */
	if (u->client == c && u->state == VEER_US_ACTIVE && c->state == VEER_CS_FORWARD &&
	    (!u->head_done || c->req_done))
		arm_response_timer(u);
}
