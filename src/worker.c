/* veer — one worker thread: its event loop, listeners, connections and
 * upstream pools (see worker.h). */
#include "veer/worker.h"
#include "veer/common.h"
#include "veer/log.h"
#include "veer/proxy.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

/* What an accept callback needs: the worker and the listener's config. */
struct listen_ctx {
	struct veer_worker *w;
	struct veer_listener_conf *lconf;
};

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct listen_ctx *ctx = arg;
	struct veer_worker *w = ctx->w;
	size_t i;

	(void)l;
	if (w->stopping || w->nclients >= w->max_clients) {
		close(fd);
		return;
	}
	veer_client_accept(w, ctx->lconf, fd, sa, salen);
	if (w->nclients >= w->max_clients && !w->accept_paused) {
		/* global.max_connections: leave further connections in the
		 * kernel's backlog until one of ours closes. */
		for (i = 0; i < w->nlisteners; i++)
			evconnlistener_disable(w->listeners[i]);
		w->accept_paused = true;
	}
}

void veer_worker_client_closed(struct veer_worker *w)
{
	size_t i;

	w->nclients--;
	if (w->accept_paused && !w->stopping && w->nclients < w->max_clients) {
		for (i = 0; i < w->nlisteners; i++)
			evconnlistener_enable(w->listeners[i]);
		w->accept_paused = false;
	}
	if (w->stopping && w->nclients == 0)
		event_base_loopexit(w->base, NULL);
}

static void gc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_worker *w = arg;
	struct veer_client *c;
	struct veer_upstream *u;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&w->to_free)) != NULL) {
		TAILQ_REMOVE(&w->to_free, c, link);
		veer_client_free(c);
	}
	while ((u = TAILQ_FIRST(&w->up_free)) != NULL) {
		TAILQ_REMOVE(&w->up_free, u, link);
		veer_upstream_free(u);
	}
}

void veer_worker_schedule_gc(struct veer_worker *w)
{
	if (!event_pending(w->gc_ev, EV_TIMEOUT, NULL))
		event_active(w->gc_ev, EV_TIMEOUT, 1);
}

const struct timeval *veer_worker_timeout(struct veer_worker *w, veer_ms_t ms)
{
	struct timeval tv;
	size_t i;

	for (i = 0; i < w->ntimeouts; i++)
		if (w->timeouts[i].ms == ms)
			return w->timeouts[i].tv;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	if (w->ntimeouts == VEER_ARRAY_LEN(w->timeouts)) {
		/* More distinct durations than slots: a plain timeval (heap
		 * timer); event_add copies it at once. */
		w->plain_tv = tv;
		return &w->plain_tv;
	}
	w->timeouts[w->ntimeouts].ms = ms;
	w->timeouts[w->ntimeouts].tv = event_base_init_common_timeout(w->base, &tv);
	return w->timeouts[w->ntimeouts++].tv;
}

static void cmd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_worker *w = arg;
	uint64_t v;
	unsigned cmd;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		veer_warn("worker %u: command read: %s", w->id, strerror(errno));
	cmd = atomic_exchange(&w->cmd, 0);
	if (cmd & VEER_WCMD_FORCE) {
		event_base_loopbreak(w->base);
		return;
	}
	if (cmd & VEER_WCMD_STOP)
		veer_worker_stop(w);
}

void veer_worker_post(struct veer_worker *w, unsigned cmd)
{
	uint64_t one = 1;

	atomic_fetch_or(&w->cmd, cmd);
	if (write(w->cmd_fd, &one, sizeof(one)) < 0)
		veer_warn("worker %u: command write: %s", w->id, strerror(errno));
}

int veer_worker_init(struct veer_worker *w, struct veer_process *proc, unsigned id, int *fds)
{
	struct veer_config *cfg = proc->config;
	struct event_config *ecfg = NULL;
	unsigned char rnd[16];
	size_t i;
	int rc = VEER_ERR;

	memset(w, 0, sizeof(*w));
	w->magic = VEER_WORKER_MAGIC;
	w->id = id;
	w->proc = proc;
	w->cmd_fd = -1;
	TAILQ_INIT(&w->clients);
	TAILQ_INIT(&w->to_free);
	TAILQ_INIT(&w->up_free);
	ecfg = event_config_new();
	if (ecfg == NULL)
		goto out;
	/* Only this worker's thread touches its base: no locks. */
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = event_base_new_with_config(ecfg);
	if (w->base == NULL)
		goto out;
	w->cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->cmd_fd < 0)
		goto out;
	w->cmd_ev = event_new(w->base, w->cmd_fd, EV_READ | EV_PERSIST, cmd_cb, w);
	w->gc_ev = event_new(w->base, -1, 0, gc_cb, w);
	if (w->cmd_ev == NULL || w->gc_ev == NULL)
		goto out;
	event_add(w->cmd_ev, NULL);

	veer_config_ref(cfg);
	w->config = cfg;
	w->max_clients = (cfg->global.max_connections + proc->nworkers - 1) / proc->nworkers;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, (int)id + 1, sizeof(rnd));
	memcpy(&w->rng, rnd, sizeof(w->rng));
	for (i = 0; i < 8; i++)
		snprintf(w->id_prefix + 2 * i, 3, "%02x", rnd[8 + i]);

	w->pools = veer_xcalloc(cfg->npools, sizeof(*w->pools));
	for (i = 0; i < cfg->npools; i++) {
		struct veer_pool_rt *rt = &w->pools[i];
		size_t k;
		veer_balance_state_init(&rt->bal, &cfg->pools[i], veer_rand_next(&w->rng));
		rt->servers = veer_xcalloc(cfg->pools[i].nservers, sizeof(*rt->servers));
		for (k = 0; k < cfg->pools[i].nservers; k++)
			TAILQ_INIT(&rt->servers[k].idle);
	}

	w->nlisteners = cfg->nlisteners;
	w->listeners = veer_xcalloc(cfg->nlisteners, sizeof(*w->listeners));
	w->listen_ctx = veer_xcalloc(cfg->nlisteners, sizeof(struct listen_ctx));
	for (i = 0; i < cfg->nlisteners; i++) {
		struct listen_ctx *ctx = &((struct listen_ctx *)w->listen_ctx)[i];
		ctx->w = w;
		ctx->lconf = &cfg->listeners[i];
		w->listeners[i] = evconnlistener_new(w->base, accept_cb, ctx, LEV_OPT_CLOSE_ON_FREE,
						     -1, fds[i]);
		if (w->listeners[i] == NULL)
			goto out;
		fds[i] = -1; /* owned by the listener now */
	}
	rc = VEER_OK;
out:
	if (ecfg != NULL)
		event_config_free(ecfg);
	return rc;
}

static void close_idle_upstreams(struct veer_worker *w)
{
	size_t i, k;

	if (w->pools == NULL)
		return;
	for (i = 0; i < w->config->npools; i++) {
		struct veer_pool_rt *rt = &w->pools[i];
		for (k = 0; k < w->config->pools[i].nservers; k++) {
			struct veer_upstream *u;
			while ((u = TAILQ_FIRST(&rt->servers[k].idle)) != NULL)
				veer_upstream_close(u);
		}
	}
}

void veer_worker_stop(struct veer_worker *w)
{
	struct veer_client *c, *next;
	size_t i;

	if (w->stopping)
		return;
	w->stopping = true;
	for (i = 0; i < w->nlisteners; i++) {
		if (w->listeners[i] != NULL) {
			evconnlistener_free(w->listeners[i]);
			w->listeners[i] = NULL;
		}
	}
	close_idle_upstreams(w);
	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		veer_client_shutdown(c);
	}
	if (w->nclients == 0)
		event_base_loopexit(w->base, NULL);
}

void veer_worker_fini(struct veer_worker *w)
{
	struct veer_client *c;
	size_t i;

	/* Whatever is still open after the loop ended is closed now. */
	while ((c = TAILQ_FIRST(&w->clients)) != NULL)
		veer_client_close(c);
	close_idle_upstreams(w);
	if (w->gc_ev != NULL)
		gc_cb(-1, 0, w);
	for (i = 0; i < w->nlisteners; i++)
		if (w->listeners != NULL && w->listeners[i] != NULL)
			evconnlistener_free(w->listeners[i]);
	free(w->listeners);
	free(w->listen_ctx);
	if (w->pools != NULL) {
		for (i = 0; i < w->config->npools; i++) {
			veer_balance_state_fini(&w->pools[i].bal);
			free(w->pools[i].servers);
		}
		free(w->pools);
	}
	if (w->cmd_ev != NULL)
		event_free(w->cmd_ev);
	if (w->gc_ev != NULL)
		event_free(w->gc_ev);
	if (w->cmd_fd >= 0)
		close(w->cmd_fd);
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->config != NULL && veer_config_unref(w->config))
		veer_config_free(w->config);
	w->magic = 0;
}

void *veer_worker_main(void *arg)
{
	struct veer_worker *w = arg;

	VEER_CHECK_MAGIC(w, VEER_WORKER_MAGIC);
	event_base_dispatch(w->base);
	veer_process_worker_done(w->proc);
	return NULL;
}
