/* veer — TLS with OpenSSL 3, driven on the workers' own event loops.
 *
 * Contexts are built when a config is loaded (certificate and key files
 * read, checked and matched then, so a bad file is a config error with its
 * position), are immutable afterwards, and are shared by every worker of
 * that generation.  The data path wraps a socket in an SSL object from
 * veer_tls_accept()/veer_tls_connect() and reads and writes through
 * SSL_read/SSL_write (see conn.c); handshakes run non-blocking on the loop.
 */
#ifndef VEER_TLS_H
#define VEER_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "veer/config.h"

/* Session-ticket keys shared by all workers and carried over reloads (kept
 * in the registry by listener name), rotated by the control thread. */
struct veer_tls_tickets;
/* New keys (one current key); NULL when the system has no randomness.
 * The object is reference counted: veer_tls_tickets_free() drops the
 * caller's reference, and every server built with it holds its own, so the
 * registry may drop a listener's keys while an old generation drains. */
struct veer_tls_tickets *veer_tls_tickets_new(void);
void veer_tls_tickets_free(struct veer_tls_tickets *t);
/* Make a new current key; the two previous ones still decrypt (about two
 * rotation periods), and a ticket they decrypt is renewed with the current
 * key.  Control thread; workers keep handshaking meanwhile without a lock
 * (they read an immutable key set through an atomic pointer; replaced sets
 * are freed with the object, a few hundred bytes per rotation). */
void veer_tls_tickets_rotate(struct veer_tls_tickets *t);
/* Period the control thread rotates at. */
#define VEER_TLS_TICKET_ROTATE_MS (6u * 3600u * 1000u)

/* Build the server side of listener TLS CONF: one context per certificate,
 * SNI choosing by the names in each certificate (subjectAltName DNS names,
 * else CN; "*.example.com" matches one label), the first certificate for
 * clients without SNI or with an unknown name; RSA and ECDSA keys; minimum
 * version 1.2 or 1.3; Mozilla "intermediate" ciphers; ALPN http/1.1;
 * session tickets with TICKETS' keys (may be NULL: OpenSSL's own).
 * NULL with a message in ERR (which certificate, what is wrong: file
 * missing or unreadable, not PEM, key does not match, certificate expired or
 * not yet valid). */
struct veer_tls_server *veer_tls_server_new(const struct veer_listener_tls *conf,
					    struct veer_tls_tickets *tickets, char *err,
					    size_t errlen);
/* Called by veer_tls_server_build() for each certificate entry at fault:
 * INDEX into conf->certs, KEY true when the key file is at fault (else the
 * certificate file), MSG what is wrong, without position ("key does not
 * match certificate /etc/veer/a.crt", "cannot read /etc/veer/a.key: No such
 * file or directory", "certificate /etc/veer/a.crt expired on 2020-01-02
 * 00:00:00 UTC", "certificate /etc/veer/a.crt is not yet valid (from ...)",
 * "no PEM certificate in ... (OpenSSL's reason)", "no PEM private key in
 * ...", "private key ... is encrypted (not supported)"). */
typedef void veer_tls_fault_fn(void *arg, size_t index, bool key, const char *msg);
/* veer_tls_server_new() that checks every entry, reporting each one at
 * fault to FAULT (may be NULL) before it returns NULL; ERR receives the
 * first problem as "certificates[I].cert: MSG" (or ".key"), or a problem
 * with no entry to blame.  The config loader uses it to give each error
 * its position. */
struct veer_tls_server *veer_tls_server_build(const struct veer_listener_tls *conf,
					      struct veer_tls_tickets *tickets,
					      veer_tls_fault_fn *fault, void *arg, char *err,
					      size_t errlen);
/* Use TICKETS' keys (taking a reference) in a server built without them,
 * e.g. at load, before the registry binds the listener's keys.  Only before
 * the server is published to workers. */
void veer_tls_server_set_tickets(struct veer_tls_server *s, struct veer_tls_tickets *tickets);
/* Drop the config's reference: every SSL from veer_tls_accept() holds its
 * own until SSL_free(), so a generation may go while handshakes run. */
void veer_tls_server_free(struct veer_tls_server *s);
/* An SSL object for accepted socket FD, in accept state.  NULL on failure.
 * Any thread.  Modes set on every context (server and client):
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER (retry SSL_write with the same length
 * from another address, e.g. an evbuffer chunk) and
 * SSL_MODE_RELEASE_BUFFERS (idle keep-alive connections hold no buffers);
 * not SSL_MODE_ENABLE_PARTIAL_WRITE.  Close cleanly with SSL_shutdown()
 * (one non-blocking call sends close_notify) before SSL_free(), on both
 * sides: OpenSSL marks the session of an SSL freed without it as not
 * resumable, which is right only after an error. */
SSL *veer_tls_accept(struct veer_tls_server *s, int fd);

/* Build the client side for pool TLS CONF: verification against CONF->ca
 * (else the system store), hostname check of server_name (else the host
 * part of each server's address) sent as SNI too, ALPN http/1.1.  NULL with
 * a message in ERR (CA file missing or not PEM). */
struct veer_tls_client *veer_tls_client_new(const struct veer_pool_tls *conf, char *err,
					    size_t errlen);
void veer_tls_client_free(struct veer_tls_client *c);
/* An SSL object for connected socket FD to server ADDRESS ("host:port" as
 * configured), in connect state, with SNI and the name to verify set, and
 * SESSION (may be NULL) offered for resumption.  NULL on failure.  An IP
 * address (ADDRESS's host, or server_name) is verified against the
 * certificate's IP entries and never sent as SNI (RFC 6066 section 3).
 * With TLS 1.3 a session to reuse arrives after the handshake: take it with
 * SSL_get1_session() once response bytes were read (SSL_SESSION_is_resumable). */
SSL *veer_tls_connect(struct veer_tls_client *c, int fd, const char *address,
		      SSL_SESSION *session);

/* Why an SSL call on SSL that returned RC failed, for the log, into BUF
 * (LEN bytes); returns BUF.  "certificate verify failed: hostname
 * mismatch" for a verification failure (X509_verify_cert_error_string),
 * else OpenSSL's reason ("unsupported protocol", "unexpected eof while
 * reading" ...) or the system error.  Clears the thread's OpenSSL error
 * queue. */
const char *veer_tls_error(SSL *ssl, int rc, char *buf, size_t len);

#endif
