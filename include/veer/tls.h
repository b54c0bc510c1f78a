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
struct veer_tls_tickets *veer_tls_tickets_new(void);
void veer_tls_tickets_free(struct veer_tls_tickets *t);
/* Make a new current key; the previous ones still decrypt for a while
 * (about two rotation periods).  Control thread. */
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
void veer_tls_server_free(struct veer_tls_server *s);
/* An SSL object for accepted socket FD, in accept state.  NULL on failure. */
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
 * SESSION (may be NULL) offered for resumption.  NULL on failure. */
SSL *veer_tls_connect(struct veer_tls_client *c, int fd, const char *address,
		      SSL_SESSION *session);

/* Why a handshake failed, for the log (verification errors named). */
const char *veer_tls_error(SSL *ssl, int rc, char *buf, size_t len);

#endif
