/* veer — zero-downtime upgrade of the binary itself (SIGUSR2).
 *
 * The control thread keeps a duplicate of every listening socket, keyed by
 * listener name, configured address and worker index.  On SIGUSR2 it starts
 * the binary found at veer's own path again (the new version, once the file
 * was replaced) with the same arguments, handing it those sockets in
 * VEER_INHERIT_FDS.  The new process takes the sockets that match its config
 * instead of binding them (so the kernel's accept queues are shared and no
 * connection is refused), binds the others, and once it serves, sends
 * SIGTERM to the old process, which drains as on any graceful stop.  If the
 * new process fails (bad binary, bad config) the old one never hears of it
 * and goes on serving.  This is nginx's SIGUSR2 dance without the manual
 * SIGQUIT step, and HAProxy's -x without a stats socket.
 */
#ifndef VEER_UPGRADE_H
#define VEER_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct veer_socket_rec {
	char *name;     /* listener name */
	char *addr;     /* configured address text */
	unsigned worker;
	int fd;
	bool used;
};

/* A table of listening sockets (owned fds). */
struct veer_sockets {
	struct veer_socket_rec *v;
	size_t n;
};

/* Read and clear VEER_INHERIT_FDS into S (sockets handed over by an older
 * veer).  Entries whose fd is not a listening socket are dropped. */
void veer_sockets_import(struct veer_sockets *s);

/* Take the inherited socket for (NAME, ADDR, WORKER): the fd, now owned by
 * the caller, or -1. */
int veer_sockets_take(struct veer_sockets *s, const char *name, const char *addr, unsigned worker);

/* Record a duplicate of FD for (NAME, ADDR, WORKER). */
void veer_sockets_record(struct veer_sockets *s, const char *name, const char *addr,
			 unsigned worker, int fd);

/* Close and drop the entries for which KEEP returns false (and, with
 * UNUSED_ONLY, only those never taken). */
void veer_sockets_prune(struct veer_sockets *s, bool (*keep)(const struct veer_socket_rec *, void *),
			void *arg);

void veer_sockets_free(struct veer_sockets *s);

/* Start EXE with ARGV and the sockets of S inherited.  Returns the child's
 * pid, or -1. */
pid_t veer_upgrade_exec(const char *exe, char *const argv[], const struct veer_sockets *s);

#endif
