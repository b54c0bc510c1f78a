/* veer — client connections, upstream connections and the request state
 * machine that joins them.
 *
 * A client connection carries one request at a time (pipelined requests wait
 * in its input buffer).  For a proxied request it is paired with one
 * upstream connection; the pair holds pointers to each other, which are
 * cleared on both sides before either is torn down.  Objects are never freed
 * inside their own callbacks: closing marks them and the worker's gc event
 * frees them from the loop.
 */
#ifndef VEER_PROXY_H
#define VEER_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <llhttp.h>
#include <openssl/ssl.h>

#include "veer/common.h"

#include "veer/config.h"
#include "veer/http1.h"
#include "veer/retry.h"
#include "veer/worker.h"

struct veer_redis_wait;

#define VEER_CLIENT_MAGIC 0x56434c54u   /* "VCLT" */
#define VEER_UPSTREAM_MAGIC 0x56555053u /* "VUPS" */

/* Bytes buffered towards a peer above which the other side stops reading,
 * and below which it resumes (back-pressure). */
#define VEER_HIGH_WATER (256u * 1024u)
#define VEER_LOW_WATER (64u * 1024u)
/* Most bytes read from a socket in one go: VEER_READ_CHUNK at first, and
 * VEER_READ_MAX on a connection once a body or response read filled a whole
 * VEER_READ_CHUNK: a large body moves in 64 KiB reads, a quarter of the
 * syscalls (the 1 MiB bench cell measured some 30% more requests/s), while
 * small answers keep small buffers (cheaper to allocate) and a client that
 * trickles a head never holds more than VEER_READ_CHUNK.  TLS decrypts
 * VEER_READ_CHUNK (one record at most) per SSL_read. */
#define VEER_READ_CHUNK (16u * 1024u)
#define VEER_READ_MAX (64u * 1024u)
/* A request head still incomplete after the grace period must have come at
 * this many bytes per second on average (slowloris defence; the header
 * timeout still bounds the whole head). */
#define VEER_HEAD_RATE_GRACE_US 2000000u
#define VEER_HEAD_MIN_RATE 64u
/* Requests (head and body) up to this size are kept for retries; larger
 * ones are retried only when nothing was sent (a connect failure). */
#define VEER_REPLAY_MAX (64u * 1024u)

/* The client side of a request.  Transitions happen only in proxy.c's
 * set_state(). */
enum veer_client_state {
	VEER_CS_IDLE = 0,  /* keep-alive: waiting for the first byte of a request */
	VEER_CS_HEAD,      /* reading a request head (header timeout runs) */
	VEER_CS_FORWARD,   /* head done: body (if any) flows up, response flows down */
	VEER_CS_TUNNEL,    /* after 101 Switching Protocols: raw bytes both ways */
	VEER_CS_CLOSING,   /* flushing what is left of the output, then close */
	VEER_CS_CLOSED,    /* torn down, waiting for the gc pass */
	VEER_CS_TLS,       /* TLS handshake with the client (header timeout runs) */
	VEER_CS_LIMIT,     /* head done, waiting for Redis's rate-limit verdict
			    * (reading paused; global.redis.timeout runs) */
};

enum veer_upstream_state {
	VEER_US_CONNECTING = 0, /* non-blocking connect in progress */
	VEER_US_ACTIVE,         /* carrying a request/response */
	VEER_US_IDLE,           /* in its server's keep-alive pool */
	VEER_US_CLOSED,         /* torn down, waiting for the gc pass */
	VEER_US_TLS,            /* TLS handshake with the server (connect timeout runs) */
};

struct veer_upstream {
	uint32_t magic;
	enum veer_upstream_state state;
	int fd;
	SSL *ssl;                   /* TLS to the server (pools[].tls), else NULL */
	struct veer_worker *w;
	struct veer_client *client; /* paired client, NULL when idle */
	struct event rev, wev, timer;
	struct evbuffer *in, *out;
	llhttp_t parser;
	struct veer_msg resp;
	struct veer_hdr hdrs[128];
	struct veer_wpool *wp;       /* its pool (one reference); wp->conf is its config */
	uint32_t server;             /* index in wp->conf->servers */
	bool reused;        /* came from the keep-alive pool */
	bool head_done;     /* response head forwarded to the client */
	bool read_paused;   /* back-pressure: client output is full */
	bool keep_alive;    /* may go back to the pool after the response */
	bool got_bytes;     /* any response byte arrived */
	bool breaker_done;  /* this response's outcome is recorded already */
	bool read_big;      /* a read filled VEER_READ_CHUNK: read VEER_READ_MAX from now on */
	struct veer_lazy tl; /* timer's deadline (worker.h) */
	uint64_t requests;  /* served on this connection */
	TAILQ_ENTRY(veer_upstream) link; /* idle list or free list */
};

/* What one request of a client connection needs while it is in progress:
 * lent from the worker's spares when the request's first byte arrives
 * (pin) and given back when it ends, so an idle keep-alive connection holds
 * none of it (memory per idle connection). */
struct veer_request {
	llhttp_t parser;
	struct veer_msg req;
	/* The replay copy (request head and body kept for a retry, up to
	 * VEER_REPLAY_MAX): its first kept_len bytes here, which holds a
	 * forwarded head of most requests without an evbuffer chunk; the rest
	 * in replay.  (Before req_id: request_put does not clear it.) */
	char kept[1024];
	char req_id[40];     /* generated X-Request-Id for this request, or "" */
	struct evbuffer *replay; /* the replay copy past kept[], or NULL */
	struct evbuffer *resend; /* the bytes a retry sends first, or NULL */
	struct veer_wpool *wp;   /* pool of the proxied request (one reference), or NULL */
	uint64_t tried;          /* servers tried for this request (bit = index < 64) */
	uint32_t tries;          /* attempts made for this request */
	bool keep_replay;        /* kept[] and replay still hold the whole request so far */
	uint32_t kept_len;       /* bytes of the replay copy in kept[] */
	bool retry_counted;      /* an attempt counted in wp->retries_inflight */
	bool idempotent;
	bool logged;         /* counted and logged already */
	/* What the metrics and the access log say of the request. */
	int status;          /* status sent to the client, 0 = none yet */
	uint64_t t_start;    /* wall-clock µs at its first byte, on the loop's cached clock (loop_us) */
	uint64_t bytes_in, bytes_out;
	char server[80];     /* the upstream that took it */
	char trace_id[33];
	char *logbuf;        /* copies for the access log (when it is on) */
	const char *target, *log_host, *log_ua, *log_referer, *log_req_id;
	size_t target_len, log_host_len, log_ua_len, log_referer_len;
	struct veer_request *next; /* in the worker's spares */
};

struct veer_client {
	uint32_t magic;
	enum veer_client_state state;
	int fd;
	SSL *ssl;                   /* TLS (listeners[].tls), else NULL */
	struct veer_worker *w;
	struct veer_lsock *lsock;   /* the listening socket it came from */
	struct veer_listener_conf *lconf; /* lsock->conf when the request started */
	struct veer_gen *gen;       /* generation pinned by the current request, or NULL */
	struct veer_request *rq;    /* the current request (lent), NULL exactly when gen is */
	uint32_t max_hdrs;          /* entries in hdrs */
	struct event rev, wev, timer;
	struct evbuffer *in, *out;
	struct veer_hdr *hdrs; /* lconf->max_headers entries, lent with rq */
	struct veer_upstream *up;
	struct veer_route_conf *route;
	struct veer_pool_conf *pool;
	struct veer_redis_wait *rl_wait; /* VEER_CS_LIMIT: the take in flight on w->redis */
	struct event *retry_ev;  /* backoff before a retry (made on the first one) */
	char ip[48];
	int http_minor;
	uint32_t nrequests;  /* requests started on this connection */
	bool read_paused;    /* back-pressure: upstream output is full */
	bool req_done;       /* request fully passed upstream */
	bool keep_alive;     /* the connection may carry another request */
	bool retried;        /* the one retry on a fresh connection was used */
	bool resp_started;   /* a response byte was sent for this request */
	bool body_sent;      /* a request body byte went upstream */
	bool is_head;
	bool websocket;      /* a WebSocket upgrade was asked for */
	bool no_reuse;       /* neither connection is reused after this request */
	bool shut_up;        /* tunnel: client half-closed, pass it upstream */
	bool read_big;       /* a body read filled VEER_READ_CHUNK: read VEER_READ_MAX from now on */
	struct veer_lazy tl;  /* timer's deadline (worker.h) */
	TAILQ_ENTRY(veer_client) link;
};

/* Take over accepted socket FD from listening socket LS. */
void veer_client_accept(struct veer_worker *w, struct veer_lsock *ls, int fd,
			const struct sockaddr *sa, int salen);

/* Close a client connection now (marks it, frees later). */
void veer_client_close(struct veer_client *c);

/* During a graceful stop: close if idle, else close after the current
 * response. */
void veer_client_shutdown(struct veer_client *c);

/* Free what the gc pass collected. */
void veer_client_free(struct veer_client *c);
/* Free a request block of the worker's spares (veer_worker.spare_reqs). */
void veer_request_free(struct veer_request *rq);
void veer_upstream_free(struct veer_upstream *u);

/* Upstream side (upstream.c). */

/* A connection to server SIDX of WP: an idle pooled one (unless FRESH),
 * else a new non-blocking connect.  It holds a reference to WP.  NULL when
 * the socket cannot even be created. */
struct veer_upstream *veer_upstream_get(struct veer_worker *w, struct veer_wpool *wp,
					uint32_t sidx, bool fresh);
/* Return U to its server's idle pool (or close it when the pool is full). */
void veer_upstream_release(struct veer_upstream *u);
void veer_upstream_close(struct veer_upstream *u);
/* Try to write U's output now; arm the write event when some is left. */
int veer_upstream_flush(struct veer_upstream *u);

/* Shared socket helpers (conn.c). */

/* Read from FD (through SSL when not NULL) into IN: from a plain socket up to
 * VEER_READ_CHUNK bytes, or VEER_READ_MAX once *BIG is set (it is set when a
 * read fills VEER_READ_CHUNK; BIG NULL: always VEER_READ_CHUNK, for request
 * heads); through TLS what it has decrypted (bounded).  A VEER_READ_CHUNK
 * read into an empty IN goes into one of W's read blocks.  Returns bytes
 * read, 0 on EOF, -1 with errno (EAGAIN when nothing is there yet). */
ssize_t veer_sock_read(struct veer_worker *w, int fd, SSL *ssl, struct evbuffer *in, bool *big);
/* Free W's spare read blocks; blocks still lent are freed when given back. */
void veer_read_blocks_free(struct veer_worker *w);
/* Write as much of OUT as the socket takes: VEER_OK (all of it),
 * VEER_AGAIN, or VEER_ERR. */
int veer_sock_write(int fd, SSL *ssl, struct evbuffer *out);
/* Drive a TLS handshake: VEER_OK done, VEER_AGAIN (*want_write says which
 * event to wait for), VEER_ERR failed (the reason is logged at LEVEL, an
 * enum veer_log_level: debug for clients, warn for servers). */
int veer_tls_handshake(SSL *ssl, bool *want_write, const char *who, int level);

/* Callbacks from upstream.c into the state machine (proxy.c). */
void veer_proxy_upstream_connected(struct veer_upstream *u);
void veer_proxy_upstream_readable(struct veer_upstream *u);
/* U failed (STATUS is the answer veer gives when it does not retry). */
void veer_proxy_upstream_error(struct veer_upstream *u, int status, enum veer_failure f);
void veer_proxy_upstream_drained(struct veer_upstream *u);

#endif
