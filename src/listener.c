/* veer — listening sockets: one per listener per worker, all bound to the
 * same address with SO_REUSEPORT so the kernel spreads connections over the
 * workers without a shared accept lock. */
#include "veer/common.h"
#include "veer/log.h"
#include "veer/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096

static int bind_one(const struct sockaddr_storage *ss, socklen_t len, const char *name)
{
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	veer_err("listener %s: %s", name, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

int veer_listener_bind_all(const struct veer_listener_conf *l, unsigned nworkers, int *fds,
			   struct veer_sockets *inherited, struct veer_sockets *record)
{
	struct sockaddr_storage ss = l->addr.ss;
	socklen_t len = l->addr.len;
	char text[96];
	unsigned k;

	for (k = 0; k < nworkers; k++)
		fds[k] = -1;
	for (k = 0; k < nworkers; k++) {
		/* A socket handed over by the veer we replace (SIGUSR2) keeps
		 * its accept queue: take it rather than bind a new one. */
		if (inherited != NULL)
			fds[k] = veer_sockets_take(inherited, l->name, l->addr.text, k);
		if (fds[k] < 0)
			fds[k] = bind_one(&ss, len, l->name);
		if (fds[k] < 0)
			goto fail;
		if (k == 0) {
			/* Port 0: the OS picks one, and every other worker
			 * binds that same port. */
			len = sizeof(ss);
			getsockname(fds[k], (struct sockaddr *)&ss, &len);
		}
	}
	addr_text(&ss, text, sizeof(text));
	veer_info("listener %s on %s", l->name, text);
	for (k = 0; k < nworkers && record != NULL; k++)
		veer_sockets_record(record, l->name, l->addr.text, k, fds[k]);
	return VEER_OK;
fail:
	for (k = 0; k < nworkers; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	return VEER_ERR;
}

int veer_listeners_bind(struct veer_process *proc)
{
	struct veer_config *cfg = proc->config;
	int *fds = veer_xcalloc(proc->nworkers, sizeof(int));
	unsigned k;
	size_t i;
	int rc = VEER_OK;

	proc->listen_fds = veer_xcalloc(proc->nworkers, sizeof(int *));
	proc->nlisten_fds = cfg->nlisteners;
	for (k = 0; k < proc->nworkers; k++) {
		proc->listen_fds[k] = veer_xcalloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof(int));
		for (i = 0; i < cfg->nlisteners; i++)
			proc->listen_fds[k][i] = -1;
	}
	for (i = 0; i < cfg->nlisteners && rc == VEER_OK; i++) {
		rc = veer_listener_bind_all(&cfg->listeners[i], proc->nworkers, fds, &proc->inherited,
					    &proc->sockets);
		for (k = 0; k < proc->nworkers && rc == VEER_OK; k++)
			proc->listen_fds[k][i] = fds[k];
	}
	free(fds);
	/* Inherited sockets the new config has no use for. */
	veer_sockets_free(&proc->inherited);
	return rc;
}

void veer_listeners_close(struct veer_process *proc)
{
	unsigned k;
	size_t i;

	if (proc->listen_fds == NULL)
		return;
	for (k = 0; k < proc->nworkers; k++) {
		for (i = 0; i < proc->nlisten_fds; i++)
			if (proc->listen_fds[k][i] >= 0)
				close(proc->listen_fds[k][i]);
		free(proc->listen_fds[k]);
	}
	free(proc->listen_fds);
	proc->listen_fds = NULL;
}
