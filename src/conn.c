/* veer — socket I/O shared by client and upstream connections.
 *
 * Reads go straight into space reserved in the evbuffer (no FIONREAD probe
 * per read, as evbuffer_read does; no copy); writes are one sendmsg of the
 * buffer's chunks.  Sockets are driven with recv/recvmsg and send/sendmsg
 * rather than readv/writev: the socket calls skip the VFS layer (fdget_pos,
 * rw_verify_area, the iov_iter setup of vfs_writev), a few percent of the
 * CPU a proxied request costs (perf, bench/RESULTS.md).
 */
#include "veer/proxy.h"
#include "veer/common.h"
#include "veer/log.h"
#include "veer/tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Most chunks of an output buffer sent in one call. */
#define WRITE_IOV 16
/* Chunks adding up to no more than this are copied into one stack buffer
 * and sent with send(): a small response is a head chunk and a body chunk,
 * and for those the copy costs less than sendmsg's iovec import and its
 * segment-by-segment copy in the kernel (bench/RESULTS.md).  Larger
 * outputs go out as they are, one sendmsg of their chunks. */
#define WRITE_COALESCE 4096

/* TLS reads: SSL_read into reserved space until nothing more is decrypted
 * (what OpenSSL holds would not wake epoll again), bounded per call. */
static ssize_t tls_read(SSL *ssl, struct evbuffer *in)
{
	struct evbuffer_iovec v[1];
	ssize_t total = 0;
	int n, err;

	while (total < (ssize_t)(4 * VEER_READ_CHUNK)) {
		if (evbuffer_reserve_space(in, VEER_READ_CHUNK, v, 1) < 1)
			return -1;
		ERR_clear_error();
		n = SSL_read(ssl, v[0].iov_base, (int)v[0].iov_len);
		if (n > 0) {
			v[0].iov_len = (size_t)n;
			evbuffer_commit_space(in, v, 1);
			total += n;
			if (SSL_pending(ssl) == 0 && (size_t)n < VEER_READ_CHUNK)
				break;
			continue;
		}
		evbuffer_commit_space(in, v, 0);
		err = SSL_get_error(ssl, n);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			if (total > 0)
				break;
			errno = EAGAIN;
			return -1;
		}
		if (total > 0)
			break; /* the EOF or error shows at the next read */
		if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0))
			return 0;
		if (errno == 0 || errno == EAGAIN)
			errno = ECONNRESET;
		return -1;
	}
	return total;
}

/* TLS writes: whole records of up to 16 KiB from the buffer's front. */
static int tls_write(SSL *ssl, struct evbuffer *out)
{
	while (evbuffer_get_length(out) > 0) {
		size_t len = evbuffer_get_length(out);
		unsigned char *p;
		int n, err;

		if (len > 16384)
			len = 16384;
		p = evbuffer_pullup(out, (ssize_t)len);
		ERR_clear_error();
		n = SSL_write(ssl, p, (int)len);
		if (n > 0) {
			evbuffer_drain(out, (size_t)n);
			continue;
		}
		err = SSL_get_error(ssl, n);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
			return VEER_AGAIN;
		return VEER_ERR;
	}
	return VEER_OK;
}

int veer_tls_handshake(SSL *ssl, bool *want_write, const char *who, int level)
{
	char why[256];
	int rc, err;

	ERR_clear_error();
	rc = SSL_do_handshake(ssl);
	if (rc == 1)
		return VEER_OK;
	err = SSL_get_error(ssl, rc);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		*want_write = err == SSL_ERROR_WANT_WRITE;
		return VEER_AGAIN;
	}
	if (veer_log_enabled((enum veer_log_level)level))
		veer_log((enum veer_log_level)level, "%s: TLS handshake failed: %s", who,
			 veer_tls_error(ssl, rc, why, sizeof(why)));
	return VEER_ERR;
}

/* A read block: VEER_READ_CHUNK bytes a plain read into an empty buffer
 * lands in, lent to the buffer as a reference chunk (evbuffer_add_reference)
 * and given back to its worker's spares when that chunk is drained, wherever
 * it moved by then (a response body goes from u->in to c->out whole).  It
 * saves the 16 KiB malloc and free libevent makes for a chunk of its own on
 * each such read, a request's largest allocations (bench/RESULTS.md).  A
 * buffer gets a block only when empty: a client trickling a head holds one
 * block at most, the rest goes into libevent's chunks as before. */
struct veer_read_block {
	struct veer_read_block *next; /* in w->spare_blocks */
	struct veer_worker *w;
	char data[VEER_READ_CHUNK];
};

/* Spare blocks a worker keeps (512 KiB); more are freed on return. */
#define SPARE_BLOCKS 32

static void block_return(const void *data, size_t len, void *arg)
{
	struct veer_read_block *b = arg;
	struct veer_worker *w = b->w;

	(void)data;
	(void)len;
	if (w->blocks_closed || w->nspare_blocks >= SPARE_BLOCKS) {
		free(b);
		return;
	}
	b->next = w->spare_blocks;
	w->spare_blocks = b;
	w->nspare_blocks++;
}

void veer_read_blocks_free(struct veer_worker *w)
{
	struct veer_read_block *b;

	while ((b = w->spare_blocks) != NULL) {
		w->spare_blocks = b->next;
		free(b);
	}
	w->nspare_blocks = 0;
	w->blocks_closed = true;
}

static ssize_t block_read(struct veer_worker *w, int fd, struct evbuffer *in, bool *big)
{
	struct veer_read_block *b = w->spare_blocks;
	ssize_t n;

	if (b != NULL) {
		w->spare_blocks = b->next;
		w->nspare_blocks--;
	} else {
		b = veer_xmalloc(sizeof(*b));
		b->w = w;
	}
	do
		n = recv(fd, b->data, sizeof(b->data), 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || evbuffer_add_reference(in, b->data, (size_t)n, block_return, b) < 0) {
		int saved = errno;
		block_return(b->data, 0, b);
		errno = saved;
		return n > 0 ? -1 : n;
	}
	if (big != NULL && (size_t)n >= VEER_READ_CHUNK)
		*big = true;
	return n;
}

ssize_t veer_sock_read(struct veer_worker *w, int fd, SSL *ssl, struct evbuffer *in, bool *big)
{
	struct evbuffer_iovec v[2];
	size_t max = big != NULL && *big ? VEER_READ_MAX : VEER_READ_CHUNK;
	int nv;
	ssize_t n, got;

	if (ssl != NULL)
		return tls_read(ssl, in);
	if (max == VEER_READ_CHUNK && evbuffer_get_length(in) == 0)
		return block_read(w, fd, in, big);
	nv = evbuffer_reserve_space(in, (ev_ssize_t)max, v, 2);
	if (nv <= 0)
		return -1;
	do {
		if (nv == 1) {
			n = recv(fd, v[0].iov_base, v[0].iov_len, 0);
		} else {
			struct msghdr mh = { .msg_iov = (struct iovec *)v, .msg_iovlen = (size_t)nv };
			n = recvmsg(fd, &mh, 0);
		}
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* Commit nothing: the reservation is simply dropped. */
		evbuffer_commit_space(in, v, 0);
		return n;
	}
	got = n;
	if (big != NULL && (size_t)got >= VEER_READ_CHUNK)
		*big = true;
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

int veer_sock_write(int fd, SSL *ssl, struct evbuffer *out)
{
	if (ssl != NULL)
		return tls_write(ssl, out);
	for (;;) {
		struct evbuffer_iovec v[WRITE_IOV];
		size_t want = 0;
		ssize_t n;
		int nv = evbuffer_peek(out, -1, NULL, v, WRITE_IOV);

		if (nv <= 0)
			return VEER_OK;
		if (nv > WRITE_IOV)
			nv = WRITE_IOV;
		for (int i = 0; i < nv; i++)
			want += v[i].iov_len;
		if (nv == 1) {
			n = send(fd, v[0].iov_base, v[0].iov_len, MSG_NOSIGNAL);
		} else if (want <= WRITE_COALESCE) {
			char flat[WRITE_COALESCE];
			size_t off = 0;

			for (int i = 0; i < nv; i++) {
				memcpy(flat + off, v[i].iov_base, v[i].iov_len);
				off += v[i].iov_len;
			}
			n = send(fd, flat, want, MSG_NOSIGNAL);
		} else {
			struct msghdr mh = { .msg_iov = (struct iovec *)v, .msg_iovlen = (size_t)nv };
			n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return VEER_AGAIN;
			return VEER_ERR;
		}
		evbuffer_drain(out, (size_t)n);
		/* A short send: the socket buffer is full; asking again now
		 * would only be told EAGAIN. */
		if ((size_t)n < want)
			return evbuffer_get_length(out) > 0 ? VEER_AGAIN : VEER_OK;
	}
}
