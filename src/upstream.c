/* veer — upstream connections and the per-worker keep-alive pools.
 *
 * Every upstream connection belongs to one worker.  An idle one waits in its
 * server's list (most recently used first, so the pool shrinks naturally
 * under lighter load) with its read event armed: if the server closes it or
 * sends anything, the connection is dropped at once instead of being found
 * dead by the next request.
 */
#include "veer/proxy.h"
#include "veer/common.h"
#include "veer/log.h"
#include "veer/tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The connection is up (TCP, and TLS when configured): it can carry the
 * request. */
static void become_active(struct veer_upstream *u)
{
	u->state = VEER_US_ACTIVE;
	u->wp->pending--;
	event_del(&u->timer);
	event_add(&u->rev, NULL);
	veer_proxy_upstream_connected(u);
}

static void up_handshake(struct veer_upstream *u)
{
	struct veer_server_rt *srt = &u->wp->servers[u->server];
	bool want_write = false;
	int rc;

	/* A server failing verification is an operator's problem: warn. */
	rc = veer_tls_handshake(u->ssl, &want_write, u->wp->conf->servers[u->server].addr.text,
				VEER_LOG_WARN);
	if (rc == VEER_ERR) {
		/* A verification failure is the server failing (a breaker
		 * failure, and a 502 unless retried elsewhere). */
		veer_proxy_upstream_error(u, 502, VEER_FAIL_CONNECT);
		return;
	}
	if (rc == VEER_AGAIN) {
		if (want_write)
			event_add(&u->wev, NULL);
		else
			event_del(&u->wev);
		return;
	}
	event_del(&u->wev);
	(void)srt;
	become_active(u);
}

static void up_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_upstream *u = arg;

	VEER_CHECK_MAGIC(u, VEER_UPSTREAM_MAGIC);
	(void)fd;
	(void)what;
	if (u->state == VEER_US_TLS) {
		up_handshake(u);
		return;
	}
	if (u->state == VEER_US_IDLE) {
		/* Idle connections carry nothing: EOF or stray bytes mean
		 * the server gave up on it.  Over TLS, a session ticket
		 * arriving after the handshake is not that. */
		if (u->ssl != NULL && veer_sock_read(u->w, u->fd, u->ssl, u->in, NULL) < 0 && errno == EAGAIN &&
		    evbuffer_get_length(u->in) == 0)
			return;
		veer_upstream_close(u);
		return;
	}
	veer_proxy_upstream_readable(u);
}

static void up_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_upstream *u = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	VEER_CHECK_MAGIC(u, VEER_UPSTREAM_MAGIC);
	(void)what;
	if (u->state == VEER_US_CONNECTING) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			veer_debug("upstream %s: connect failed: %s",
				   u->wp->conf->servers[u->server].addr.text, strerror(err));
			veer_proxy_upstream_error(u, 502, VEER_FAIL_CONNECT);
			return;
		}
		if (u->wp->conf->tls.enabled) {
			/* TLS to the server; the connect timeout covers the
			 * handshake too. */
			u->ssl = veer_tls_connect(u->wp->conf->tls.client, fd,
						  u->wp->conf->servers[u->server].address,
						  u->wp->servers[u->server].session);
			if (u->ssl == NULL) {
				veer_proxy_upstream_error(u, 502, VEER_FAIL_CONNECT);
				return;
			}
			SSL_set_mode(u->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
					     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
					     SSL_MODE_RELEASE_BUFFERS);
			u->state = VEER_US_TLS;
			event_add(&u->rev, NULL);
			up_handshake(u);
			return;
		}
		become_active(u);
		return;
	}
	if (u->state == VEER_US_TLS) {
		up_handshake(u);
		return;
	}
	switch (veer_sock_write(u->fd, u->ssl, u->out)) {
	case VEER_OK:
		event_del(&u->wev);
		veer_proxy_upstream_drained(u);
		break;
	case VEER_AGAIN:
		break;
	default:
		veer_proxy_upstream_error(u, 502, VEER_FAIL_RESET);
		break;
	}
}

static void up_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_upstream *u = arg;

	VEER_CHECK_MAGIC(u, VEER_UPSTREAM_MAGIC);
	(void)fd;
	(void)what;
	if (!veer_lazy_fired(&u->timer, &u->tl))
		return;
	switch (u->state) {
	case VEER_US_IDLE:
		veer_upstream_close(u);
		break;
	case VEER_US_CONNECTING:
	case VEER_US_TLS:
		veer_debug("upstream %s: connect timeout", u->wp->conf->servers[u->server].addr.text);
		veer_proxy_upstream_error(u, 502, VEER_FAIL_CONNECT);
		break;
	case VEER_US_ACTIVE:
		veer_proxy_upstream_error(u, 504, VEER_FAIL_TIMEOUT);
		break;
	default:
		break;
	}
}

static struct veer_upstream *up_new(struct veer_worker *w, struct veer_wpool *wp, uint32_t sidx)
{
	const struct veer_pool_conf *pool = wp->conf;
	const struct veer_addr *a = &pool->servers[sidx].addr;
	struct veer_upstream *u = NULL;
	int fd, one = 1;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		veer_warn("upstream %s: socket: %s", a->text, strerror(errno));
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	u = veer_xcalloc(1, sizeof(*u));
	u->magic = VEER_UPSTREAM_MAGIC;
	u->fd = fd;
	u->w = w;
	u->wp = wp;
	veer_wpool_ref(wp);
	u->server = sidx;
	u->in = evbuffer_new();
	u->out = evbuffer_new();
	if (u->in == NULL || u->out == NULL)
		abort(); /* out-of-memory policy: see common.h */
	event_assign(&u->rev, w->base, fd, EV_READ | EV_PERSIST, up_read_cb, u);
	event_assign(&u->wev, w->base, fd, EV_WRITE | EV_PERSIST, up_write_cb, u);
	event_assign(&u->timer, w->base, -1, 0, up_timer_cb, u);
	veer_msg_init(&u->resp, &u->parser, HTTP_RESPONSE, u->hdrs, VEER_ARRAY_LEN(u->hdrs));
	u->state = VEER_US_CONNECTING;
	wp->pending++; /* circuit_breaker.max_pending counts these */
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 || errno == EINPROGRESS) {
		/* Completion (or failure) is reported by the write event. */
		event_add(&u->wev, NULL);
	} else {
		/* Report the failure from the loop, as an asynchronous one
		 * would be: callers never see a callback re-enter them. */
		veer_debug("upstream %s: connect: %s", a->text, strerror(errno));
		event_active(&u->wev, EV_WRITE, 1);
	}
	veer_lazy_arm(w, &u->timer, &u->tl, pool->connect_timeout);
	return u;
}

struct veer_upstream *veer_upstream_get(struct veer_worker *w, struct veer_wpool *wp,
					uint32_t sidx, bool fresh)
{
	struct veer_server_rt *srt = &wp->servers[sidx];
	struct veer_upstream *u;

	if (!fresh && (u = TAILQ_FIRST(&srt->idle)) != NULL) {
		TAILQ_REMOVE(&srt->idle, u, link);
		srt->nidle--;
		/* No timeout until the request is out (arm_response_timer):
		 * the idle timer may stay pending, ignored. */
		veer_lazy_off(&u->tl);
		u->state = VEER_US_ACTIVE;
		u->reused = true;
	} else {
		u = up_new(w, wp, sidx);
		if (u == NULL)
			return NULL;
	}
	u->head_done = false;
	u->got_bytes = false;
	u->breaker_done = false;
	u->keep_alive = false;
	u->read_paused = false;
	llhttp_reset(&u->parser);
	veer_msg_reset(&u->resp);
	u->resp.body_sink = NULL;
	return u;
}

/* Keep U's TLS session for the next connection to its server.  Under TLS
 * 1.3 the session arrives after the handshake, with the first response
 * bytes: it is taken once it can be resumed. */
static void keep_session(struct veer_upstream *u)
{
	struct veer_server_rt *srt = &u->wp->servers[u->server];
	SSL_SESSION *sess;

	if (u->ssl == NULL || (sess = SSL_get1_session(u->ssl)) == NULL)
		return;
	if (!SSL_SESSION_is_resumable(sess) || sess == srt->session) {
		SSL_SESSION_free(sess);
		return;
	}
	SSL_SESSION_free(srt->session);
	srt->session = sess;
}

void veer_upstream_release(struct veer_upstream *u)
{
	struct veer_server_rt *srt = &u->wp->servers[u->server];

	keep_session(u);
	u->client = NULL;
	u->requests++;
	/* A pool retired by a reload takes no idle connections (those to
	 * servers that stay were moved to the new pool at reload). */
	if (!u->keep_alive || u->w->stopping || u->wp->retired ||
	    srt->nidle >= u->wp->conf->keepalive_max_idle ||
	    evbuffer_get_length(u->in) > 0 || evbuffer_get_length(u->out) > 0) {
		veer_upstream_close(u);
		return;
	}
	u->state = VEER_US_IDLE;
	if (u->read_paused) {
		event_add(&u->rev, NULL);
		u->read_paused = false;
	}
	if (event_pending(&u->wev, EV_WRITE, NULL))
		event_del(&u->wev);
	TAILQ_INSERT_HEAD(&srt->idle, u, link);
	srt->nidle++;
	veer_lazy_arm(u->w, &u->timer, &u->tl, u->wp->conf->keepalive_idle_timeout);
}

void veer_upstream_close(struct veer_upstream *u)
{
	if (u->state == VEER_US_CLOSED)
		return;
	if (u->state == VEER_US_IDLE) {
		struct veer_server_rt *srt = &u->wp->servers[u->server];
		TAILQ_REMOVE(&srt->idle, u, link);
		srt->nidle--;
	} else if (u->state == VEER_US_CONNECTING || u->state == VEER_US_TLS) {
		u->wp->pending--;
	}
	event_del(&u->rev);
	event_del(&u->wev);
	event_del(&u->timer);
	if (u->ssl != NULL) {
		/* One non-blocking close_notify: without it OpenSSL marks the
		 * session not resumable. */
		if (SSL_is_init_finished(u->ssl)) {
			keep_session(u);
			SSL_shutdown(u->ssl);
		}
		SSL_free(u->ssl);
		u->ssl = NULL;
	}
	close(u->fd);
	u->fd = -1;
	u->client = NULL;
	u->state = VEER_US_CLOSED;
	veer_wpool_unref(u->w, u->wp);
	u->wp = NULL;
	TAILQ_INSERT_TAIL(&u->w->up_free, u, link);
	veer_worker_schedule_gc(u->w);
}

void veer_upstream_free(struct veer_upstream *u)
{
	evbuffer_free(u->in);
	evbuffer_free(u->out);
	u->magic = 0;
	free(u);
}

int veer_upstream_flush(struct veer_upstream *u)
{
	int rc;

	if (u->state != VEER_US_ACTIVE)
		return VEER_OK;
	rc = veer_sock_write(u->fd, u->ssl, u->out);
	if (rc == VEER_AGAIN)
		event_add(&u->wev, NULL);
	return rc;
}
