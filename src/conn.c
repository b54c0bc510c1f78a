/* veer — socket I/O shared by client and upstream connections.
 *
 * Reads go straight into space reserved in the evbuffer (no FIONREAD probe
 * per read, as evbuffer_read does; no copy); writes are one writev of the
 * buffer's chunks.
 */
#include "veer/proxy.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

ssize_t veer_sock_read(int fd, struct evbuffer *in)
{
	struct evbuffer_iovec v[2];
	int nv;
	ssize_t n, got;

	nv = evbuffer_reserve_space(in, VEER_READ_CHUNK, v, 2);
	if (nv <= 0)
		return -1;
	do
		n = readv(fd, (struct iovec *)v, nv);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* Commit nothing: the reservation is simply dropped. */
		evbuffer_commit_space(in, v, 0);
		return n;
	}
	got = n;
	for (int i = 0; i < nv; i++) {
		size_t take = (size_t)n < v[i].iov_len ? (size_t)n : v[i].iov_len;
		v[i].iov_len = take;
		n -= (ssize_t)take;
		if (n == 0) {
			nv = i + 1;
			break;
		}
	}
	if (evbuffer_commit_space(in, v, nv) < 0)
		return -1;
	return got;
}

int veer_sock_write(int fd, struct evbuffer *out)
{
	while (evbuffer_get_length(out) > 0) {
		int n = evbuffer_write(out, fd);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return VEER_AGAIN;
			return VEER_ERR;
		}
		if (n == 0)
			return VEER_AGAIN;
	}
	return VEER_OK;
}
