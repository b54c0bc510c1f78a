/* veer — zero-downtime binary upgrade (see upgrade.h). */
#include "veer/upgrade.h"
#include "veer/common.h"
#include "veer/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define INHERIT_ENV "VEER_INHERIT_FDS"

extern char **environ;

static bool is_listening(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return fcntl(fd, F_GETFD) >= 0 &&
	       getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v != 0;
}

static void add(struct veer_sockets *s, const char *name, const char *addr, unsigned worker, int fd)
{
	struct veer_socket_rec *r;

	s->v = veer_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	r = &s->v[s->n++];
	r->name = veer_xstrdup(name);
	r->addr = veer_xstrdup(addr);
	r->worker = worker;
	r->fd = fd;
	r->used = false;
}

/* Format, one entry per socket: NAME|ADDR|WORKER|FD, separated by ';'.
 * Listener names are [A-Za-z0-9._-] and addresses hold no '|' or ';'. */
void veer_sockets_import(struct veer_sockets *s)
{
	const char *env = getenv(INHERIT_ENV);
	char *copy, *entry, *save = NULL;

	if (env == NULL)
		return;
	copy = veer_xstrdup(env);
	unsetenv(INHERIT_ENV);
	for (entry = strtok_r(copy, ";", &save); entry != NULL; entry = strtok_r(NULL, ";", &save)) {
		char *f[4], *p = entry, *fsave = NULL;
		int i, fd;
		for (i = 0; i < 4; i++, p = NULL)
			f[i] = strtok_r(p, "|", &fsave);
		if (f[3] == NULL)
			continue;
		fd = atoi(f[3]);
		if (fd < 3 || !is_listening(fd)) {
			veer_warn("upgrade: inherited fd %s (%s) is not a listening socket", f[3], f[0]);
			continue;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		add(s, f[0], f[1], (unsigned)atoi(f[2]), fd);
	}
	free(copy);
}

int veer_sockets_take(struct veer_sockets *s, const char *name, const char *addr, unsigned worker)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct veer_socket_rec *r = &s->v[i];
		if (!r->used && r->worker == worker && strcmp(r->name, name) == 0 &&
		    strcmp(r->addr, addr) == 0) {
			r->used = true;
			return r->fd;
		}
	}
	return -1;
}

void veer_sockets_record(struct veer_sockets *s, const char *name, const char *addr,
			 unsigned worker, int fd)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (dup_fd < 0) {
		veer_warn("listener %s: cannot keep a copy for upgrades: %s", name, strerror(errno));
		return;
	}
	add(s, name, addr, worker, dup_fd);
}

void veer_sockets_prune(struct veer_sockets *s, bool (*keep)(const struct veer_socket_rec *, void *),
			void *arg)
{
	size_t i, j = 0;

	for (i = 0; i < s->n; i++) {
		struct veer_socket_rec *r = &s->v[i];
		if (keep(r, arg)) {
			s->v[j++] = *r;
			continue;
		}
		if (!r->used)
			close(r->fd);
		free(r->name);
		free(r->addr);
	}
	s->n = j;
}

void veer_sockets_free(struct veer_sockets *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (!s->v[i].used)
			close(s->v[i].fd);
		free(s->v[i].name);
		free(s->v[i].addr);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

pid_t veer_upgrade_exec(const char *exe, char *const argv[], const struct veer_sockets *s)
{
	size_t len = sizeof(INHERIT_ENV) + 1, i, nenv = 0, k;
	char *value, **envp, parent[48];
	pid_t pid;

	for (i = 0; i < s->n; i++)
		len += strlen(s->v[i].name) + strlen(s->v[i].addr) + 32;
	value = veer_xmalloc(len);
	strcpy(value, INHERIT_ENV "=");
	for (i = 0; i < s->n; i++)
		sprintf(value + strlen(value), "%s%s|%s|%u|%d", i ? ";" : "", s->v[i].name,
			s->v[i].addr, s->v[i].worker, s->v[i].fd);
	snprintf(parent, sizeof(parent), "VEER_UPGRADE_PARENT=%d", (int)getpid());
	while (environ[nenv] != NULL)
		nenv++;
	envp = veer_xcalloc(nenv + 3, sizeof(*envp));
	for (i = 0, k = 0; i < nenv; i++)
		if (strncmp(environ[i], INHERIT_ENV "=", sizeof(INHERIT_ENV)) != 0 &&
		    strncmp(environ[i], "VEER_UPGRADE_PARENT=", 20) != 0)
			envp[k++] = environ[i];
	envp[k++] = value;
	envp[k++] = parent;

	pid = fork();
	if (pid == 0) {
		/* The child: only async-signal-safe calls until execve. */
		for (i = 0; i < s->n; i++)
			fcntl(s->v[i].fd, F_SETFD, 0);
		execve(exe, argv, envp);
		_exit(127);
	}
	free(envp);
	free(value);
	return pid;
}
