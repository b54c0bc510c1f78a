/* veer — the process: starts the workers, runs the control loop (signals),
 * stops gracefully. */
#include "veer/common.h"
#include "veer/accesslog.h"
#include "veer/admin.h"
#include "veer/discovery.h"
#include "veer/health.h"
#include "veer/log.h"
#include "veer/registry.h"
#include "veer/stats.h"
#include "veer/tls.h"
#include "veer/notify.h"
#include "veer/overrides.h"
#include "veer/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void post_all(struct veer_process *proc, unsigned cmd)
{
	unsigned k;

	for (k = 0; k < proc->nworkers; k++)
		veer_worker_post(&proc->workers[k], cmd);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_process *proc = arg;

	(void)fd;
	(void)what;
	veer_warn("drain_timeout reached: closing the connections left");
	post_all(proc, VEER_WCMD_FORCE);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct veer_process *proc = arg;
	struct timeval tv;

	(void)what;
	if (proc->stop_requests++ > 0) {
		veer_warn("signal %d again: stopping now", (int)sig);
		post_all(proc, VEER_WCMD_FORCE);
		return;
	}
	veer_info("signal %d: graceful stop (drain_timeout %llums)", (int)sig,
		  (unsigned long long)proc->config->global.drain_timeout);
	veer_notify_stopping();
	/* The copies kept for SIGUSR2 must not keep the sockets open: once
	 * the workers close theirs, new connections are refused (a new
	 * process after an upgrade holds its own). */
	veer_sockets_free(&proc->sockets);
	post_all(proc, VEER_WCMD_STOP);
	tv.tv_sec = (time_t)(proc->config->global.drain_timeout / 1000);
	tv.tv_usec = (suseconds_t)(proc->config->global.drain_timeout % 1000) * 1000;
	event_add(proc->drain_ev, &tv);
}

/* The listener of the running config that NEW keeps (same name and
 * address), or NULL. */
static const struct veer_listener_conf *kept_listener(const struct veer_config *old,
						      const struct veer_listener_conf *l)
{
	size_t i;

	for (i = 0; i < old->nlisteners; i++)
		if (strcmp(old->listeners[i].name, l->name) == 0 &&
		    strcmp(old->listeners[i].addr.text, l->addr.text) == 0)
			return &old->listeners[i];
	return NULL;
}

/* Keep the socket copies of listeners the new config still has. */
static bool still_listening(const struct veer_socket_rec *r, void *arg)
{
	const struct veer_config *nc = arg;
	size_t i;

	for (i = 0; i < nc->nlisteners; i++)
		if (strcmp(nc->listeners[i].name, r->name) == 0 &&
		    strcmp(nc->listeners[i].addr.text, r->addr) == 0)
			return true;
	return false;
}

/* SIGUSR2: start the binary again (the new version once the file was
 * replaced), handing it the listening sockets (see upgrade.h). */
static void usr2_cb(evutil_socket_t sig, short what, void *arg)
{
	struct veer_process *proc = arg;
	pid_t pid;

	(void)sig;
	(void)what;
	if (proc->stop_requests > 0 || proc->exe == NULL)
		return;
	pid = veer_upgrade_exec(proc->exe, proc->argv, &proc->sockets);
	if (pid < 0)
		veer_err("upgrade: cannot start %s: %s", proc->exe, strerror(errno));
	else
		veer_info("upgrade: started %s as pid %d; this process stops once it serves",
			  proc->exe, (int)pid);
}

/* Session-ticket keys rotate on the control thread; workers only read them. */
static void tickets_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_process *proc = arg;

	(void)fd;
	(void)what;
	veer_registry_rotate_tickets(proc->registry);
	veer_debug("TLS session-ticket keys rotated");
}

static void chld_cb(evutil_socket_t sig, short what, void *arg)
{
	pid_t pid;
	int status;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		veer_warn("upgrade: new process %d ended (%s %d) before taking over; this one keeps "
			  "serving", (int)pid, WIFEXITED(status) ? "exit status" : "signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* Log the awaited generation as in force once every worker serves it. */
static void check_applied(struct veer_process *proc)
{
	unsigned k;

	if (proc->awaiting_gen == 0)
		return;
	for (k = 0; k < proc->nworkers; k++)
		if (atomic_load(&proc->workers[k].applied_gen) < proc->awaiting_gen)
			return;
	veer_info("reload: generation %llu in force", (unsigned long long)proc->awaiting_gen);
	veer_notify_ready(proc->awaiting_gen);
	proc->awaiting_gen = 0;
}

void veer_process_worker_applied(struct veer_process *proc)
{
	uint64_t one = 1;

	if (write(proc->done_fd, &one, sizeof(one)) < 0)
		veer_warn("reload notification: %s", strerror(errno));
}

/* global.log.access of CONFIG: open its destination unless it is the one
 * open already.  A sink the workers may still write to is kept open until
 * the process ends (reloads that move the access log are rare). */
static int update_access_sink(struct veer_process *proc, const struct veer_config *config,
			      struct veer_errors *errs)
{
	const char *dest = config->global.log_access;
	struct veer_access_sink *sink;

	if (dest == NULL || strcmp(dest, "off") == 0) {
		if (proc->access_sink != NULL) {
			proc->old_sinks = veer_xrealloc(proc->old_sinks,
							(proc->nold_sinks + 1) * sizeof(*proc->old_sinks));
			proc->old_sinks[proc->nold_sinks++] = proc->access_sink;
		}
		proc->access_sink = NULL;
		free(proc->access_dest);
		proc->access_dest = NULL;
		return VEER_OK;
	}
	if (proc->access_dest != NULL && strcmp(proc->access_dest, dest) == 0)
		return VEER_OK;
	sink = veer_access_sink_open(dest);
	if (sink == NULL) {
		veer_errors_add(errs, "%s: global.log.access %s: %s", proc->config_path, dest,
				strerror(errno));
		return VEER_ERR;
	}
	if (proc->access_sink != NULL) {
		proc->old_sinks = veer_xrealloc(proc->old_sinks,
						(proc->nold_sinks + 1) * sizeof(*proc->old_sinks));
		proc->old_sinks[proc->nold_sinks++] = proc->access_sink;
	}
	proc->access_sink = sink;
	free(proc->access_dest);
	proc->access_dest = veer_xstrdup(dest);
	return VEER_OK;
}

/* Publish NC (one reference, taken over) as the next generation: bind its
 * new listeners, hand it to every worker.  On failure nothing changes. */
static int publish(struct veer_process *proc, struct veer_config *nc, struct veer_errors *errs)
{
	int *fds = NULL; /* [listener][worker] */
	unsigned k;
	size_t i, nl = nc->nlisteners;

	veer_registry_bind(proc->registry, nc);
	if (nc->global.workers != proc->nworkers)
		veer_warn("reload: global.workers %u -> %u takes a restart; keeping %u workers",
			  proc->nworkers, nc->global.workers, proc->nworkers);
	/* New listeners are bound here, before any worker sees the new
	 * generation: a bind failure fails the whole reload. */
	fds = veer_xcalloc(nl * proc->nworkers + 1, sizeof(int));
	for (i = 0; i < nl * proc->nworkers; i++)
		fds[i] = -1;
	for (i = 0; i < nl; i++) {
		if (kept_listener(proc->config, &nc->listeners[i]) != NULL)
			continue;
		if (veer_listener_bind_all(&nc->listeners[i], proc->nworkers,
					   fds + i * proc->nworkers, NULL, &proc->sockets) != VEER_OK) {
			veer_errors_add(errs, "%s: listener %s: cannot listen on %s", proc->config_path,
					nc->listeners[i].name, nc->listeners[i].addr.text);
			goto fail;
		}
	}
	if (update_access_sink(proc, nc, errs) != VEER_OK)
		goto fail;
	nc->generation = ++proc->generation;
	for (k = 0; k < proc->nworkers; k++) {
		struct veer_reload_msg *msg = veer_xcalloc(1, sizeof(*msg)), *prev;
		msg->fds = veer_xmalloc((nl ? nl : 1) * sizeof(int));
		for (i = 0; i < nl; i++)
			msg->fds[i] = fds[i * proc->nworkers + k];
		veer_config_ref(nc);
		msg->config = nc;
		msg->access_sink = proc->access_sink;
		/* A message the worker has not taken yet is superseded. */
		prev = atomic_exchange(&proc->workers[k].pending, msg);
		if (prev != NULL) {
			for (i = 0; i < prev->config->nlisteners; i++)
				if (prev->fds[i] >= 0)
					close(prev->fds[i]);
			if (veer_config_unref(prev->config))
				veer_config_free(prev->config);
			free(prev->fds);
			free(prev);
		}
		veer_worker_post(&proc->workers[k], VEER_WCMD_RELOAD);
	}
	free(fds);
	veer_sockets_prune(&proc->sockets, still_listening, nc);
	/* Health checks follow the new pools; their verdicts live in the
	 * registry and carry over. */
	veer_health_stop(proc->health);
	proc->health = veer_health_start(proc->base, nc);
	if (veer_config_unref(proc->config))
		veer_config_free(proc->config);
	proc->config = nc;
	veer_log_set_level(nc->global.log_level);
	/* "in force" (and READY=1) once every worker has taken it. */
	proc->awaiting_gen = nc->generation;
	check_applied(proc);
	return VEER_OK;
fail:
	if (fds != NULL) {
		for (i = 0; i < nl * proc->nworkers; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		free(fds);
	}
	if (veer_config_unref(nc))
		veer_config_free(nc);
	return VEER_ERR;
}

/* Read PATH whole (bounded), NUL-terminated; NULL with an error in ERRS. */
static char *read_file(const char *path, size_t *len, struct veer_errors *errs)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL) {
		veer_errors_add(errs, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > (64u << 20)) {
				veer_errors_add(errs, "%s: file too large", path);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = veer_xrealloc(buf, cap);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

int veer_process_load(struct veer_process *proc, struct veer_errors *errs)
{
	size_t len = 0;
	char *text = read_file(proc->config_path, &len, errs);
	struct veer_config *fc = NULL, *nc = NULL;

	if (text == NULL)
		return VEER_ERR;
	/* Two parses of the same text: FC is the file as written (what the
	 * admin API shows as the file's values), NC gets the overrides and
	 * becomes the generation. */
	fc = veer_config_load_mem(proc->config_path, text, len, errs);
	if (fc == NULL)
		goto fail;
	nc = veer_config_load_mem(proc->config_path, text, len, errs);
	if (nc == NULL)
		goto fail;
	free(proc->config_text);
	proc->config_text = text;
	proc->config_len = len;
	if (proc->file_config != NULL) {
		veer_overrides_reconcile(proc->overrides, proc->file_config, fc);
		if (veer_config_unref(proc->file_config))
			veer_config_free(proc->file_config);
	}
	proc->file_config = fc;
	veer_overrides_apply(proc->overrides, nc);
	veer_discovery_apply(proc->discovery, nc);
	veer_registry_bind(proc->registry, nc);
	nc->generation = ++proc->generation;
	proc->config = nc;
	return VEER_OK;
fail:
	if (fc != NULL && veer_config_unref(fc))
		veer_config_free(fc);
	free(text);
	return VEER_ERR;
}

int veer_process_reload(struct veer_process *proc, struct veer_errors *errs)
{
	size_t len = 0;
	char *text = read_file(proc->config_path, &len, errs);
	struct veer_config *fc = NULL, *nc = NULL;
	struct veer_overrides *saved;

	if (text == NULL)
		goto fail;
	fc = veer_config_load_mem(proc->config_path, text, len, errs);
	if (fc == NULL)
		goto fail;
	nc = veer_config_load_mem(proc->config_path, text, len, errs);
	if (nc == NULL)
		goto fail;
	/* The file wins where it changed a field an override holds; the
	 * overrides as they were come back if the new generation fails. */
	saved = veer_overrides_copy(proc->overrides);
	veer_overrides_reconcile(proc->overrides, proc->file_config, fc);
	veer_overrides_apply(proc->overrides, nc);
	veer_discovery_apply(proc->discovery, nc);
	if (publish(proc, nc, errs) != VEER_OK) {
		nc = NULL; /* publish released it */
		veer_overrides_free(proc->overrides);
		proc->overrides = saved;
		goto fail;
	}
	veer_overrides_free(saved);
	/* Sources follow the new file; a changed one answers later. */
	if (proc->discovery != NULL)
		veer_discovery_update(proc->discovery, proc->config);
	if (veer_config_unref(proc->file_config))
		veer_config_free(proc->file_config);
	proc->file_config = fc;
	free(proc->config_text);
	proc->config_text = text;
	proc->config_len = len;
	proc->reloads_ok++;
	proc->last_reload_ok = true;
	return VEER_OK;
fail:
	if (fc != NULL && veer_config_unref(fc))
		veer_config_free(fc);
	free(text);
	proc->reloads_failed++;
	proc->last_reload_ok = false;
	return VEER_ERR;
}

int veer_process_republish(struct veer_process *proc, struct veer_errors *errs)
{
	struct veer_config *nc;

	/* The text last loaded, not the file: an admin change must not pick
	 * up edits nobody reloaded yet. */
	nc = veer_config_load_mem(proc->config_path, proc->config_text, proc->config_len, errs);
	if (nc == NULL)
		return VEER_ERR;
	veer_overrides_apply(proc->overrides, nc);
	veer_discovery_apply(proc->discovery, nc);
	return publish(proc, nc, errs);
}

int veer_process_reload_logged(struct veer_process *proc, struct veer_errors *errs)
{
	size_t i;

	veer_notify_reloading();
	if (veer_process_reload(proc, errs) == VEER_OK)
		return VEER_OK;
	for (i = 0; i < errs->n; i++)
		veer_err("%s", errs->lines[i]);
	veer_err("reload failed: the running config (generation %llu) stays",
		 (unsigned long long)proc->generation);
	veer_notify_ready(proc->generation);
	return VEER_ERR;
}

/* A pool's discovered endpoints changed: a new generation gets them. */
static void discovery_cb(void *arg)
{
	struct veer_process *proc = arg;
	struct veer_errors errs = { 0 };

	if (proc->stop_requests == 0 && veer_process_republish(proc, &errs) != VEER_OK)
		for (size_t i = 0; i < errs.n; i++)
			veer_err("discovery: %s", errs.lines[i]);
	veer_errors_free(&errs);
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct veer_process *proc = arg;
	struct veer_errors errs = { 0 };

	(void)sig;
	(void)what;
	if (proc->stop_requests > 0)
		return;
	veer_process_reload_logged(proc, &errs);
	veer_errors_free(&errs);
}

void veer_process_free_config(struct veer_process *proc, struct veer_config *config)
{
	uint64_t one = 1;

	/* Reload path only, never per request: a plain mutex is fine. */
	pthread_mutex_lock(&proc->free_lock);
	proc->to_free = veer_xrealloc(proc->to_free, (proc->nto_free + 1) * sizeof(*proc->to_free));
	proc->to_free[proc->nto_free++] = config;
	pthread_mutex_unlock(&proc->free_lock);
	if (write(proc->done_fd, &one, sizeof(one)) < 0)
		veer_warn("config free notification: %s", strerror(errno));
}

static void free_queued(struct veer_process *proc)
{
	size_t i, n;
	struct veer_config **list;

	pthread_mutex_lock(&proc->free_lock);
	list = proc->to_free;
	n = proc->nto_free;
	proc->to_free = NULL;
	proc->nto_free = 0;
	pthread_mutex_unlock(&proc->free_lock);
	for (i = 0; i < n; i++) {
		veer_debug("generation %llu freed", (unsigned long long)list[i]->generation);
		veer_config_free(list[i]);
	}
	free(list);
}

static void usr1_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct veer_process *proc = arg;

	if (veer_log_reopen() != VEER_OK)
		veer_err("SIGUSR1: reopening the log failed: %s", strerror(errno));
	else if (proc->access_sink != NULL && veer_access_sink_reopen(proc->access_sink) != VEER_OK)
		veer_err("SIGUSR1: reopening the access log failed: %s", strerror(errno));
	else
		veer_info("SIGUSR1: log files reopened");
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct veer_process *proc = arg;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	free_queued(proc);
	check_applied(proc);
	if (atomic_load(&proc->workers_done) == proc->nworkers)
		event_base_loopexit(proc->base, NULL);
}

/* Started by an older veer's SIGUSR2: now that this one serves, the old one
 * drains and stops. */
static void take_over(struct veer_process *proc)
{
	const char *parent = getenv("VEER_UPGRADE_PARENT");
	pid_t pid;

	(void)proc;
	if (parent == NULL)
		return;
	pid = (pid_t)atoi(parent);
	unsetenv("VEER_UPGRADE_PARENT");
	veer_notify_mainpid();
	if (pid > 1 && pid == getppid() && kill(pid, SIGTERM) == 0)
		veer_info("upgrade: took over from pid %d, which now drains and stops", (int)pid);
}

void veer_process_worker_done(struct veer_process *proc)
{
	uint64_t one = 1;

	atomic_fetch_add(&proc->workers_done, 1);
	if (write(proc->done_fd, &one, sizeof(one)) < 0)
		veer_warn("worker done notification: %s", strerror(errno));
}

int veer_process_run(struct veer_process *proc)
{
	sigset_t all, old;
	unsigned k, started = 0;
	int rc = 1;

	proc->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	proc->base = event_base_new();
	if (proc->base == NULL || proc->done_fd < 0)
		goto out;
	/* Discovery starts first: the first answers (bounded wait) go into
	 * generation 1, before any worker or signal handler exists. */
	proc->discovery = veer_discovery_new(proc->base, discovery_cb, proc);
	veer_discovery_update(proc->discovery, proc->config);
	veer_discovery_wait(proc->discovery, VEER_DISCOVERY_START_WAIT_MS);
	veer_discovery_apply(proc->discovery, proc->config);
	veer_registry_bind(proc->registry, proc->config);
	proc->sig_term = evsignal_new(proc->base, SIGTERM, stop_cb, proc);
	proc->sig_int = evsignal_new(proc->base, SIGINT, stop_cb, proc);
	proc->sig_hup = evsignal_new(proc->base, SIGHUP, hup_cb, proc);
	proc->sig_usr1 = evsignal_new(proc->base, SIGUSR1, usr1_cb, proc);
	proc->drain_ev = evtimer_new(proc->base, drain_cb, proc);
	proc->sig_usr2 = evsignal_new(proc->base, SIGUSR2, usr2_cb, proc);
	proc->sig_chld = evsignal_new(proc->base, SIGCHLD, chld_cb, proc);
	proc->tickets_ev = event_new(proc->base, -1, EV_PERSIST, tickets_cb, proc);
	proc->done_ev = event_new(proc->base, proc->done_fd, EV_READ | EV_PERSIST, done_cb, proc);
	if (!proc->sig_term || !proc->sig_int || !proc->sig_hup || !proc->sig_usr1 ||
	    !proc->drain_ev || !proc->done_ev || !proc->sig_usr2 || !proc->sig_chld)
		goto out;
	event_add(proc->sig_usr2, NULL);
	event_add(proc->sig_chld, NULL);
	if (proc->tickets_ev != NULL) {
		struct timeval tv = { .tv_sec = VEER_TLS_TICKET_ROTATE_MS / 1000 };
		event_add(proc->tickets_ev, &tv);
	}
	event_add(proc->sig_term, NULL);
	event_add(proc->sig_int, NULL);
	event_add(proc->sig_hup, NULL);
	event_add(proc->sig_usr1, NULL);
	event_add(proc->done_ev, NULL);

	proc->stats = veer_xcalloc(proc->nworkers, sizeof(*proc->stats));
	for (k = 0; k < proc->nworkers; k++)
		proc->stats[k] = veer_stats_new();
	{
		struct veer_errors errs = { 0 };
		if (update_access_sink(proc, proc->config, &errs) != VEER_OK) {
			veer_err("%s", errs.lines[0]);
			veer_errors_free(&errs);
			goto out;
		}
	}
	proc->workers = veer_xcalloc(proc->nworkers, sizeof(*proc->workers));
	for (k = 0; k < proc->nworkers; k++) {
		if (veer_worker_init(&proc->workers[k], proc, k, proc->listen_fds[k]) != VEER_OK) {
			veer_err("worker %u: setup failed", k);
			goto out;
		}
	}
	/* The admin API serves from the control loop once it runs. */
	if (proc->config->global.admin_enabled && (proc->admin = veer_admin_start(proc)) == NULL)
		goto out;
	/* Signals are the control loop's: workers block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (k = 0; k < proc->nworkers; k++) {
		if (pthread_create(&proc->workers[k].thread, NULL, veer_worker_main,
				   &proc->workers[k]) != 0) {
			veer_err("worker %u: thread: %s", k, strerror(errno));
			break;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started == proc->nworkers) {
		veer_info("veer %s ready: %u worker%s, pid %d", VEER_VERSION, proc->nworkers,
			  proc->nworkers == 1 ? "" : "s", (int)getpid());
		veer_notify_ready(proc->generation);
		take_over(proc);
		proc->health = veer_health_start(proc->base, proc->config);
		event_base_dispatch(proc->base);
		rc = 0;
	} else {
		post_all(proc, VEER_WCMD_FORCE);
	}
	veer_admin_stop(proc->admin);
	proc->admin = NULL;
	for (k = 0; k < started; k++)
		pthread_join(proc->workers[k].thread, NULL);
	free_queued(proc);
	if (rc == 0)
		veer_info("stopped");
out:
	if (proc->workers != NULL) {
		for (k = 0; k < proc->nworkers; k++)
			if (proc->workers[k].magic == VEER_WORKER_MAGIC)
				veer_worker_fini(&proc->workers[k]);
		free(proc->workers);
		proc->workers = NULL;
	}
	veer_listeners_close(proc);
	free_queued(proc);
	veer_health_stop(proc->health);
	proc->health = NULL;
	veer_discovery_free(proc->discovery);
	proc->discovery = NULL;
	if (proc->stats != NULL) {
		for (k = 0; k < proc->nworkers; k++)
			veer_stats_free(proc->stats[k]);
		free(proc->stats);
		proc->stats = NULL;
	}
	veer_access_sink_close(proc->access_sink);
	proc->access_sink = NULL;
	for (size_t i = 0; i < proc->nold_sinks; i++)
		veer_access_sink_close(proc->old_sinks[i]);
	free(proc->old_sinks);
	free(proc->access_dest);
	veer_sockets_free(&proc->sockets);
	veer_sockets_free(&proc->inherited);
	if (proc->tickets_ev) event_free(proc->tickets_ev);
	if (proc->sig_usr2) event_free(proc->sig_usr2);
	if (proc->sig_chld) event_free(proc->sig_chld);
	if (proc->sig_term) event_free(proc->sig_term);
	if (proc->sig_int) event_free(proc->sig_int);
	if (proc->sig_hup) event_free(proc->sig_hup);
	if (proc->sig_usr1) event_free(proc->sig_usr1);
	if (proc->drain_ev) event_free(proc->drain_ev);
	if (proc->done_ev) event_free(proc->done_ev);
	if (proc->base != NULL)
		event_base_free(proc->base);
	if (proc->done_fd >= 0)
		close(proc->done_fd);
	return rc;
}
