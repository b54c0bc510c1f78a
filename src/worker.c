/* veer — one worker thread: its event loop, listening sockets, connections,
 * upstream pools, and how it moves to a new config generation (see
 * worker.h). */
#include "veer/worker.h"
#include "veer/redis.h"
#include "veer/common.h"
#include "veer/log.h"
#include "veer/accesslog.h"
#include "veer/proxy.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- generations -------------------------------------------------------- */

static struct veer_gen *gen_new(struct veer_worker *w, struct veer_config *config)
{
	struct veer_gen *g = veer_xcalloc(1, sizeof(*g));

	g->config = config; /* the caller's reference passes to g */
	TAILQ_INSERT_TAIL(&w->gens, g, link);
	return g;
}

struct veer_gen *veer_gen_pin(struct veer_gen *g)
{
	g->users++;
	return g;
}

void veer_gen_unpin(struct veer_worker *w, struct veer_gen *g)
{
	if (--g->users > 0)
		return;
	TAILQ_REMOVE(&w->gens, g, link);
	if (veer_config_unref(g->config))
		veer_process_free_config(w->proc, g->config);
	free(g);
}

/* ---- listening sockets -------------------------------------------------- */

static void pause_accepting(struct veer_worker *w, bool pause)
{
	struct veer_lsock *ls;

	TAILQ_FOREACH(ls, &w->lsocks, link) {
		if (ls->ev == NULL)
			continue;
		if (pause)
			evconnlistener_disable(ls->ev);
		else
			evconnlistener_enable(ls->ev);
	}
	w->accept_paused = pause;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct veer_lsock *ls = arg;
	struct veer_worker *w = ls->w;

	(void)l;
	if (w->stopping || ls->retired || w->nclients >= w->max_clients) {
		close(fd);
		return;
	}
	veer_client_accept(w, ls, fd, sa, salen);
	/* global.max_connections: leave further connections in the kernel's
	 * backlog until one of ours closes. */
	if (w->nclients >= w->max_clients && !w->accept_paused)
		pause_accepting(w, true);
}

static struct veer_lsock *lsock_new(struct veer_worker *w, struct veer_gen *g,
				    struct veer_listener_conf *conf, int fd)
{
	struct veer_lsock *ls = veer_xcalloc(1, sizeof(*ls));

	ls->w = w;
	ls->name = veer_xstrdup(conf->name);
	snprintf(ls->addr, sizeof(ls->addr), "%s", conf->addr.text);
	ls->conf = conf;
	ls->gen = veer_gen_pin(g);
	ls->ev = evconnlistener_new(w->base, accept_cb, ls, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (ls->ev == NULL) {
		veer_err("worker %u: listener %s: %s", w->id, conf->name, strerror(errno));
		close(fd);
	} else if (w->accept_paused || w->stopping) {
		evconnlistener_disable(ls->ev);
	}
	TAILQ_INSERT_TAIL(&w->lsocks, ls, link);
	return ls;
}

static void lsock_free(struct veer_worker *w, struct veer_lsock *ls)
{
	TAILQ_REMOVE(&w->lsocks, ls, link);
	if (ls->ev != NULL)
		evconnlistener_free(ls->ev);
	veer_gen_unpin(w, ls->gen);
	free(ls->name);
	free(ls);
}

/* Stop accepting on LS; it goes away with its last connection. */
static void lsock_retire(struct veer_worker *w, struct veer_lsock *ls)
{
	struct veer_client *c, *next;

	ls->retired = true;
	if (ls->ev != NULL) {
		evconnlistener_free(ls->ev);
		ls->ev = NULL;
	}
	ls->nclients++; /* the loop below must not free LS under it */
	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->lsock == ls)
			veer_client_shutdown(c);
	}
	if (--ls->nclients == 0)
		lsock_free(w, ls);
}

void veer_worker_client_closed(struct veer_worker *w, struct veer_lsock *ls)
{
	w->nclients--;
	if (--ls->nclients == 0 && ls->retired)
		lsock_free(w, ls);
	if (w->accept_paused && !w->stopping && w->nclients < w->max_clients)
		pause_accepting(w, false);
	if (w->stopping && w->nclients == 0)
		event_base_loopexit(w->base, NULL);
}

/* ---- upstream pools ----------------------------------------------------- */

static struct veer_wpool *wpool_new(struct veer_worker *w, struct veer_gen *g,
				    struct veer_pool_conf *conf)
{
	struct veer_wpool *wp = veer_xcalloc(1, sizeof(*wp));
	size_t k;

	wp->conf = conf;
	wp->gen = veer_gen_pin(g);
	wp->refs = 1; /* current */
	wp->nservers = conf->nservers;
	veer_balance_state_init(&wp->bal, conf, veer_rand_next(&w->rng));
	wp->servers = veer_xcalloc(conf->nservers ? conf->nservers : 1, sizeof(*wp->servers));
	for (k = 0; k < conf->nservers; k++)
		TAILQ_INIT(&wp->servers[k].idle);
	TAILQ_INSERT_TAIL(&w->wpools, wp, link);
	return wp;
}

void veer_wpool_ref(struct veer_wpool *wp)
{
	wp->refs++;
}

void veer_wpool_unref(struct veer_worker *w, struct veer_wpool *wp)
{
	if (--wp->refs > 0)
		return;
	TAILQ_REMOVE(&w->wpools, wp, link);
	veer_balance_state_fini(&wp->bal);
	for (size_t k = 0; k < wp->nservers; k++)
		SSL_SESSION_free(wp->servers[k].session);
	free(wp->servers);
	veer_gen_unpin(w, wp->gen);
	free(wp);
}

static void close_idle(struct veer_wpool *wp)
{
	size_t k;

	for (k = 0; k < wp->nservers; k++) {
		struct veer_upstream *u;
		while ((u = TAILQ_FIRST(&wp->servers[k].idle)) != NULL)
			veer_upstream_close(u);
	}
}

static bool same_servers(const struct veer_pool_conf *a, const struct veer_pool_conf *b)
{
	size_t k;

	if (a->nservers != b->nservers)
		return false;
	for (k = 0; k < a->nservers; k++)
		if (strcmp(a->servers[k].addr.text, b->servers[k].addr.text) != 0)
			return false;
	return true;
}

struct veer_wpool *veer_worker_wpool(struct veer_worker *w, struct veer_gen *g,
				     const struct veer_pool_conf *pool)
{
	size_t i;

	if (VEER_LIKELY(g == w->cur))
		return w->pool_map[pool->index];
	/* A request of an older generation (rare: it started just before a
	 * reload): the pool of the same name now. */
	for (i = 0; i < w->cur->config->npools; i++)
		if (strcmp(w->cur->config->pools[i].name, pool->name) == 0)
			return w->pool_map[i];
	return NULL;
}

/* The pool map for W's current generation: keep each wpool whose name and
 * server list stay, build the others (moving idle connections to servers
 * that stay), retire the rest. */
static void build_pools(struct veer_worker *w, struct veer_wpool **old_map, size_t nold)
{
	struct veer_config *cfg = w->cur->config;
	struct veer_wpool **map = veer_xcalloc(cfg->npools ? cfg->npools : 1, sizeof(*map));
	bool *kept = veer_xcalloc(nold ? nold : 1, sizeof(*kept));
	size_t i, j, k;

	for (i = 0; i < cfg->npools; i++) {
		struct veer_pool_conf *pc = &cfg->pools[i];
		struct veer_wpool *old = NULL;
		for (j = 0; j < nold; j++) {
			if (!kept[j] && strcmp(old_map[j]->conf->name, pc->name) == 0) {
				old = old_map[j];
				break;
			}
		}
		if (old != NULL && same_servers(old->conf, pc)) {
			/* Same servers: same balancer state and pools. */
			kept[j] = true;
			veer_gen_unpin(w, old->gen);
			old->gen = veer_gen_pin(w->cur);
			old->conf = pc;
			map[i] = old;
			continue;
		}
		map[i] = wpool_new(w, w->cur, pc);
		if (old == NULL)
			continue;
		/* Idle connections to servers that stay carry over. */
		for (k = 0; k < pc->nservers; k++) {
			size_t s;
			for (s = 0; s < old->nservers; s++) {
				struct veer_upstream *u;
				if (strcmp(old->conf->servers[s].addr.text, pc->servers[k].addr.text) != 0)
					continue;
				/* Its breaker state and TLS session carry over too. */
				map[i]->servers[k].breaker = old->servers[s].breaker;
				if (pc->tls.enabled && old->conf->tls.enabled) {
					map[i]->servers[k].session = old->servers[s].session;
					old->servers[s].session = NULL;
				}
				while ((u = TAILQ_LAST(&old->servers[s].idle, veer_upstream_list)) != NULL) {
					TAILQ_REMOVE(&old->servers[s].idle, u, link);
					old->servers[s].nidle--;
					TAILQ_INSERT_HEAD(&map[i]->servers[k].idle, u, link);
					map[i]->servers[k].nidle++;
					u->wp = map[i];
					u->server = (uint32_t)k;
					veer_wpool_ref(map[i]);
					veer_wpool_unref(w, old);
				}
			}
		}
	}
	for (j = 0; j < nold; j++) {
		if (kept[j])
			continue;
		old_map[j]->retired = true;
		close_idle(old_map[j]);
		veer_wpool_unref(w, old_map[j]); /* no longer current */
	}
	free(kept);
	free(old_map);
	w->pool_map = map;
}

/* ---- spare header tables ------------------------------------------------ */

/* A spare header table; the entries follow. */
struct hdr_block {
	struct hdr_block *next;
	uint32_t cap;
};

struct veer_hdr *veer_worker_get_hdrs(struct veer_worker *w, uint32_t want, uint32_t *cap)
{
	struct hdr_block **pp, *b;

	for (pp = &w->spare_hdrs; (b = *pp) != NULL; pp = &b->next) {
		if (b->cap >= want) {
			*pp = b->next;
			w->nspare_hdrs--;
			*cap = b->cap;
			return (struct veer_hdr *)(b + 1);
		}
	}
	b = veer_xmalloc(sizeof(*b) + (size_t)want * sizeof(struct veer_hdr));
	b->cap = want;
	*cap = want;
	return (struct veer_hdr *)(b + 1);
}

void veer_worker_put_hdrs(struct veer_worker *w, struct veer_hdr *hdrs, uint32_t cap)
{
	struct hdr_block *b;

	if (hdrs == NULL)
		return;
	b = (struct hdr_block *)hdrs - 1;
	b->cap = cap;
	/* Spares for the requests in flight at a busy moment; beyond that,
	 * the memory goes back. */
	if (w->nspare_hdrs >= 256) {
		free(b);
		return;
	}
	b->next = w->spare_hdrs;
	w->spare_hdrs = b;
	w->nspare_hdrs++;
}

/* ---- loop plumbing ------------------------------------------------------ */

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

/* Deadlines this far away or further are armed exactly (veer_ms_before
 * compares coarse times less than 2^31 ms apart). */
#define LAZY_MAX_MS (1u << 30)

void veer_lazy_arm(struct veer_worker *w, struct event *ev, struct veer_lazy *t, veer_ms_t ms)
{
	t->off = false;
	if (ms >= LAZY_MAX_MS) {
		event_add(ev, veer_worker_timeout(w, ms));
		t->exact = true;
		return;
	}
	t->due = (uint32_t)veer_coarse_ms() + (uint32_t)ms;
	if (!t->exact && !veer_ms_before(t->due, t->armed) && event_pending(ev, EV_TIMEOUT, NULL))
		return;
	event_add(ev, veer_worker_timeout(w, ms));
	t->armed = t->due;
	t->exact = false;
}

bool veer_lazy_fired(struct event *ev, struct veer_lazy *t)
{
	uint32_t now;
	struct timeval tv;

	if (t->off)
		return false;
	if (t->exact)
		return true;
	now = (uint32_t)veer_coarse_ms();
	if (!veer_ms_before(now, t->due))
		return true;
	/* The rest: a plain (heap) timer, as the durations vary. */
	tv.tv_sec = (time_t)((t->due - now) / 1000u);
	tv.tv_usec = (suseconds_t)((t->due - now) % 1000u * 1000u);
	event_add(ev, &tv);
	t->armed = t->due;
	return false;
}

static uint32_t share_of(const struct veer_config *cfg, unsigned nworkers)
{
	return (cfg->global.max_connections + nworkers - 1) / nworkers;
}

/* drain_timeout after a reload: requests still on an older generation
 * (long downloads, WebSocket tunnels) are closed, so old generations are
 * freed within a bound. */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_worker *w = arg;
	struct veer_client *c, *next;
	unsigned n = 0;

	(void)fd;
	(void)what;
	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->gen != NULL && c->gen != w->cur) {
			veer_client_close(c);
			n++;
		}
	}
	if (n > 0)
		veer_warn("worker %u: drain_timeout: closed %u connection%s still on an older config",
			  w->id, n, n == 1 ? "" : "s");
}

/* Move to the generation in MSG (run in the worker's thread). */
/* Close the worker's Redis connection, if any.  w->redis is cleared first:
 * the takes it answers (with NULL) from inside veer_redis_free() then find
 * none to take from again. */
static void close_redis(struct veer_worker *w)
{
	struct veer_redis *r = w->redis;

	w->redis = NULL;
	veer_redis_free(r);
}

/* global.redis of CFG: keep the connection when the address stays (takes
 * in flight go on), else close it (its waiting takes get their answer
 * now: on_error) and open the new one. */
static void sync_redis(struct veer_worker *w, const struct veer_config *cfg)
{
	const struct veer_global_conf *g = &cfg->global;

	if (w->redis != NULL && g->redis_enabled && veer_redis_is_for(w->redis, &g->redis_addr)) {
		veer_redis_set_timeout(w->redis, g->redis_timeout);
		return;
	}
	close_redis(w);
	if (g->redis_enabled)
		w->redis = veer_redis_new(w->base, &g->redis_addr, g->redis_timeout, w->stats);
}

static void apply_reload(struct veer_worker *w, struct veer_reload_msg *msg)
{
	struct veer_config *cfg = msg->config;
	struct veer_gen *old = w->cur;
	struct veer_lsock *ls, *next;
	struct timeval tv;
	bool *seen;
	size_t i;

	w->cur = veer_gen_pin(gen_new(w, cfg));
	/* Listening sockets that stay are never closed or re-bound. */
	seen = veer_xcalloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof(*seen));
	for (ls = TAILQ_FIRST(&w->lsocks); ls != NULL; ls = next) {
		next = TAILQ_NEXT(ls, link);
		if (ls->retired)
			continue;
		for (i = 0; i < cfg->nlisteners; i++) {
			if (!seen[i] && msg->fds[i] < 0 && strcmp(cfg->listeners[i].name, ls->name) == 0 &&
			    strcmp(cfg->listeners[i].addr.text, ls->addr) == 0)
				break;
		}
		if (i == cfg->nlisteners) {
			lsock_retire(w, ls);
			continue;
		}
		seen[i] = true;
		ls->conf = &cfg->listeners[i];
		veer_gen_unpin(w, ls->gen);
		ls->gen = veer_gen_pin(w->cur);
	}
	for (i = 0; i < cfg->nlisteners; i++) {
		if (msg->fds[i] >= 0) {
			lsock_new(w, w->cur, &cfg->listeners[i], msg->fds[i]);
			msg->fds[i] = -1;
		}
	}
	free(seen);
	build_pools(w, w->pool_map, old->config->npools);
	w->max_clients = share_of(cfg, w->proc->nworkers);
	/* The access log follows the new generation's settings. */
	if (msg->access_sink == NULL && w->alog != NULL) {
		veer_accesslog_free(w->alog);
		w->alog = NULL;
	} else if (msg->access_sink != NULL && w->alog == NULL) {
		w->alog = veer_accesslog_new(w->base, msg->access_sink, cfg->global.access_json);
	} else if (msg->access_sink != NULL) {
		veer_accesslog_configure(w->alog, msg->access_sink, cfg->global.access_json);
	}
	if (w->accept_paused && w->nclients < w->max_clients)
		pause_accepting(w, false);
	veer_gen_unpin(w, old); /* no longer current */
	sync_redis(w, cfg);
	tv.tv_sec = (time_t)(cfg->global.drain_timeout / 1000);
	tv.tv_usec = (suseconds_t)(cfg->global.drain_timeout % 1000) * 1000;
	event_add(w->drain_ev, &tv);
	/* Tell the control loop this worker serves the new generation. */
	atomic_store(&w->applied_gen, cfg->generation);
	veer_process_worker_applied(w->proc);
	veer_debug("worker %u: generation %llu", w->id, (unsigned long long)cfg->generation);
}

static void free_msg(struct veer_reload_msg *msg, struct veer_process *proc, size_t nfds)
{
	size_t i;

	if (msg == NULL)
		return;
	for (i = 0; i < nfds; i++)
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
	if (msg->config != NULL && veer_config_unref(msg->config))
		veer_process_free_config(proc, msg->config);
	free(msg->fds);
	free(msg);
}

static void cmd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_worker *w = arg;
	struct veer_reload_msg *msg;
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
	if ((cmd & VEER_WCMD_RELOAD) && (msg = atomic_exchange(&w->pending, NULL)) != NULL) {
		size_t n = msg->config->nlisteners;
		if (!w->stopping) {
			apply_reload(w, msg);
			msg->config = NULL; /* its reference went to the new generation */
		}
		free_msg(msg, w->proc, n);
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
	TAILQ_INIT(&w->gens);
	TAILQ_INIT(&w->lsocks);
	TAILQ_INIT(&w->wpools);
	TAILQ_INIT(&w->clients);
	TAILQ_INIT(&w->to_free);
	TAILQ_INIT(&w->up_free);
	ecfg = event_config_new();
	if (ecfg == NULL)
		goto out;
	/* Only this worker's thread touches its base: no locks. */
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	/* The loop's cached clock times requests (proxy.c, loop_us): read
	 * from CLOCK_MONOTONIC once per round, not from the coarse clock
	 * libevent picks by default (a 4 ms tick here, which would round
	 * every duration to it). */
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	w->base = event_base_new_with_config(ecfg);
	if (w->base == NULL)
		goto out;
	w->cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->cmd_fd < 0)
		goto out;
	w->cmd_ev = event_new(w->base, w->cmd_fd, EV_READ | EV_PERSIST, cmd_cb, w);
	w->gc_ev = event_new(w->base, -1, 0, gc_cb, w);
	w->drain_ev = evtimer_new(w->base, drain_cb, w);
	if (w->cmd_ev == NULL || w->gc_ev == NULL || w->drain_ev == NULL)
		goto out;
	event_add(w->cmd_ev, NULL);

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, (int)id + 1, sizeof(rnd));
	memcpy(&w->rng, rnd, sizeof(w->rng));
	w->rng |= 1;
	for (i = 0; i < 8; i++)
		snprintf(w->id_prefix + 2 * i, 3, "%02x", rnd[8 + i]);

	veer_config_ref(cfg);
	w->cur = veer_gen_pin(gen_new(w, cfg));
	atomic_store(&w->applied_gen, cfg->generation);
	w->stats = proc->stats[id];
	if (proc->access_sink != NULL)
		w->alog = veer_accesslog_new(w->base, proc->access_sink, cfg->global.access_json);
	w->max_clients = share_of(cfg, proc->nworkers);
	sync_redis(w, cfg);
	build_pools(w, NULL, 0);
	for (i = 0; i < cfg->nlisteners; i++) {
		lsock_new(w, w->cur, &cfg->listeners[i], fds[i]);
		fds[i] = -1; /* owned by the listener now */
	}
	rc = VEER_OK;
out:
	if (ecfg != NULL)
		event_config_free(ecfg);
	return rc;
}

void veer_worker_stop(struct veer_worker *w)
{
	struct veer_client *c, *next;
	struct veer_lsock *ls;
	size_t i;

	if (w->stopping)
		return;
	w->stopping = true;
	TAILQ_FOREACH(ls, &w->lsocks, link) {
		if (ls->ev != NULL) {
			evconnlistener_free(ls->ev);
			ls->ev = NULL;
		}
	}
	for (i = 0; i < w->cur->config->npools; i++)
		close_idle(w->pool_map[i]);
	for (c = TAILQ_FIRST(&w->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		veer_client_shutdown(c);
	}
	if (w->nclients == 0)
		event_base_loopexit(w->base, NULL);
}

void veer_worker_fini(struct veer_worker *w)
{
	struct veer_reload_msg *msg;
	struct veer_client *c;
	struct veer_lsock *ls;
	struct veer_wpool *wp;
	size_t i;

	/* Whatever is still open after the loop ended is closed now. */
	while ((c = TAILQ_FIRST(&w->clients)) != NULL)
		veer_client_close(c);
	if ((msg = atomic_exchange(&w->pending, NULL)) != NULL)
		free_msg(msg, w->proc, msg->config->nlisteners);
	TAILQ_FOREACH(wp, &w->wpools, link)
		close_idle(wp);
	if (w->gc_ev != NULL)
		gc_cb(-1, 0, w);
	if (w->cur != NULL) {
		for (i = 0; i < w->cur->config->npools; i++)
			veer_wpool_unref(w, w->pool_map[i]);
		free(w->pool_map);
		w->pool_map = NULL;
	}
	while ((ls = TAILQ_FIRST(&w->lsocks)) != NULL)
		lsock_free(w, ls);
	if (w->cur != NULL)
		veer_gen_unpin(w, w->cur);
	w->cur = NULL;
	close_redis(w);
	while (w->spare_reqs != NULL) {
		struct veer_request *rq = w->spare_reqs;
		w->spare_reqs = rq->next;
		veer_request_free(rq);
	}
	w->nspare_reqs = 0;
	while (w->spare_hdrs != NULL) {
		struct hdr_block *b = w->spare_hdrs;
		w->spare_hdrs = b->next;
		free(b);
	}
	veer_read_blocks_free(w);
	if (w->alog != NULL)
		veer_accesslog_free(w->alog); /* flushes */
	w->alog = NULL;
	if (w->cmd_ev != NULL)
		event_free(w->cmd_ev);
	if (w->gc_ev != NULL)
		event_free(w->gc_ev);
	if (w->drain_ev != NULL)
		event_free(w->drain_ev);
	if (w->cmd_fd >= 0)
		close(w->cmd_fd);
	if (w->base != NULL)
		event_base_free(w->base);
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
