/* veer — TLS contexts with OpenSSL 3 (see tls.h for the contracts).
 *
 * Server: one SSL_CTX per certificate, all with the same settings (Mozilla
 * "intermediate": TLS 1.2 with the ECDHE/DHE AEAD suites and OpenSSL's
 * TLS 1.3 suites, the client's preference, no renegotiation; ALPN
 * http/1.1; session cache and tickets).  Every SSL starts on the first
 * context; the servername callback moves it to the context whose
 * certificate names the SNI host (exact names first, then "*.example.com"
 * for one more label), else it stays on the first.
 *
 * Lifetimes: a server is reference counted, the config holding one
 * reference and every SSL from veer_tls_accept() another (dropped by an
 * SSL ex_data free callback), because its callbacks read it during
 * handshakes that may outlive the config generation.
 *
 * Session tickets: veer_tls_tickets holds an atomic pointer to an immutable
 * key set (the current key and up to two previous ones).  Rotation builds a
 * new set and swaps the pointer; handshakes on the workers read whichever
 * set they loaded, never a half-written one, and take no lock.  Replaced
 * sets stay allocated until the object is freed (chained through ->prev),
 * so a reader never sees one freed under it.
 *
 * Every function that may leave entries in the thread's OpenSSL error queue
 * clears it before returning: a stale entry would make a later
 * SSL_get_error() on the same thread report a failure that did not happen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "veer/common.h"
#include "veer/config.h"
#include "veer/tls.h"

/* Mozilla "intermediate" (version 5.7) for TLS 1.2; TLS 1.3 keeps
 * OpenSSL's default suites, the same three as Mozilla's. */
#define INTERMEDIATE_CIPHERS                                         \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
#define INTERMEDIATE_GROUPS "X25519:prime256v1:secp384r1"

/* ALPN protocol list in wire format (RFC 7301 section 3.1). */
static const unsigned char alpn_http11[] = "\x08http/1.1";
#define ALPN_HTTP11_LEN (sizeof(alpn_http11) - 1)

/* Sessions of one listener resume on any of its contexts. */
static const unsigned char sid_ctx[] = "veer";

#define TICKET_KEYS 3 /* the current one and two previous */

struct ticket_key {
	unsigned char name[16];
	unsigned char aes[32];  /* AES-256-CBC */
	unsigned char hmac[32]; /* HMAC-SHA256 */
};

/* Immutable once published. */
struct ticket_set {
	struct ticket_key key[TICKET_KEYS]; /* key[0] encrypts */
	size_t n;
	struct ticket_set *prev; /* the set this one replaced; control thread only */
};

struct veer_tls_tickets {
	_Atomic(struct ticket_set *) cur;
	atomic_uint refs;
};

/* A name from a certificate, lower-case; a wildcard "*.example.com" is
 * stored as its suffix ".example.com". */
struct sni_name {
	char *name;
	bool wild;
	size_t ctx; /* index into veer_tls_server.ctx */
};

struct veer_tls_server {
	atomic_uint refs;
	SSL_CTX **ctx; /* one per certificate, ctx[0] the default */
	size_t nctx;
	struct sni_name *names; /* in certificate order: the first one wins */
	size_t nnames;
	struct veer_tls_tickets *tickets; /* NULL = OpenSSL's own keys */
	EVP_CIPHER *aes;                  /* AES-256-CBC, fetched once */
};

struct veer_tls_client {
	SSL_CTX *ctx;
	char *server_name; /* NULL = the host of each server's address */
};

/* ---- helpers -------------------------------------------------------------- */

static void fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));

static void fmt(char *buf, size_t n, const char *f, ...)
{
	va_list ap;

	if (n == 0)
		return;
	va_start(ap, f);
	vsnprintf(buf, n, f, ap);
	va_end(ap);
}

/* The reason of the oldest entry of the thread's OpenSSL error queue, or
 * DEF when there is none. */
static const char *ssl_reason(const char *def)
{
	unsigned long e = ERR_peek_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	return r != NULL ? r : def;
}

/* Never ask a terminal for a pass phrase: an encrypted key is an error. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* Why PATH cannot be read as a file, into WHY; false when it can. */
static bool unreadable(const char *path, char *why, size_t n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fmt(why, n, "cannot read %s: %s", path, strerror(errno));
		return true;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fmt(why, n, "cannot read %s: not a regular file", path);
		close(fd);
		return true;
	}
	close(fd);
	return false;
}

/* Does PEM file PATH hold an encrypted key?  (OpenSSL's decoders only say
 * "bad decrypt" or "unsupported" then.) */
static bool encrypted_pem(const char *path)
{
	char buf[8192];
	size_t n = 0;
	FILE *f = fopen(path, "rb");
	bool enc;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	enc = strstr(buf, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL ||
	      strstr(buf, "Proc-Type: 4,ENCRYPTED") != NULL;
	OPENSSL_cleanse(buf, sizeof(buf)); /* key material */
	return enc;
}

static bool is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* "2020-01-02 00:00:00 UTC" */
static const char *time_text(char *buf, size_t n, const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		fmt(buf, n, "an unreadable date");
	return buf;
}

/* Settings shared by every context, server and client. */
static int ctx_common(SSL_CTX *ctx)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_default_passwd_cb(ctx, no_password);
	return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 ? VEER_OK : VEER_ERR;
}

/* ---- session tickets ------------------------------------------------------ */

static int new_key(struct ticket_key *k)
{
	return RAND_bytes(k->name, sizeof(k->name)) == 1 &&
			       RAND_bytes(k->aes, sizeof(k->aes)) == 1 &&
			       RAND_bytes(k->hmac, sizeof(k->hmac)) == 1 ?
		       VEER_OK :
		       VEER_ERR;
}

/* A new set: a fresh key, then up to two keys of OLD. */
static struct ticket_set *new_set(const struct ticket_set *old)
{
	struct ticket_set *s = veer_xcalloc(1, sizeof(*s));

	if (new_key(&s->key[0]) != VEER_OK) {
		OPENSSL_cleanse(s, sizeof(*s));
		free(s);
		return NULL;
	}
	s->n = 1;
	for (size_t i = 0; old != NULL && i < old->n && s->n < TICKET_KEYS; i++)
		s->key[s->n++] = old->key[i];
	return s;
}

struct veer_tls_tickets *veer_tls_tickets_new(void)
{
	struct veer_tls_tickets *t;
	struct ticket_set *s = new_set(NULL);

	if (s == NULL)
		return NULL;
	t = veer_xcalloc(1, sizeof(*t));
	atomic_init(&t->cur, s);
	atomic_init(&t->refs, 1);
	return t;
}

static void tickets_ref(struct veer_tls_tickets *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void veer_tls_tickets_free(struct veer_tls_tickets *t)
{
	struct ticket_set *s, *prev;

	if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (s = atomic_load(&t->cur); s != NULL; s = prev) {
		prev = s->prev;
		OPENSSL_cleanse(s, sizeof(*s));
		free(s);
	}
	free(t);
}

void veer_tls_tickets_rotate(struct veer_tls_tickets *t)
{
	struct ticket_set *old = atomic_load_explicit(&t->cur, memory_order_relaxed);
	struct ticket_set *s = new_set(old);

	if (s == NULL)
		return; /* no randomness now: keep the current key */
	s->prev = old;
	/* release: a worker that loads S sees its keys written */
	atomic_store_explicit(&t->cur, s, memory_order_release);
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb(3): 1 = use the key, 2 = it
 * decrypted with an older key (renew the ticket), 0 = unknown key (full
 * handshake), -1 = failure. */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
		     EVP_MAC_CTX *hctx, int enc)
{
	struct veer_tls_server *s = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const struct ticket_set *set;
	const struct ticket_key *k = NULL;
	OSSL_PARAM params[2];
	size_t i;

	if (s == NULL || s->tickets == NULL)
		return -1;
	set = atomic_load_explicit(&s->tickets->cur, memory_order_acquire);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (enc) {
		k = &set->key[0];
		memcpy(name, k->name, sizeof(k->name));
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(s->aes)) != 1 ||
		    EVP_EncryptInit_ex(cctx, s->aes, NULL, k->aes, iv) != 1 ||
		    EVP_MAC_init(hctx, k->hmac, sizeof(k->hmac), params) != 1)
			return -1;
		return 1;
	}
	for (i = 0; i < set->n && k == NULL; i++)
		if (memcmp(name, set->key[i].name, sizeof(set->key[i].name)) == 0)
			k = &set->key[i];
	if (k == NULL)
		return 0;
	if (EVP_MAC_init(hctx, k->hmac, sizeof(k->hmac), params) != 1 ||
	    EVP_DecryptInit_ex(cctx, s->aes, NULL, k->aes, iv) != 1)
		return -1;
	return k == &set->key[0] ? 1 : 2;
}

/* ---- server ---------------------------------------------------------------- */

/* The SSL ex_data slot holding the server an SSL came from (a reference). */
static int ssl_server_idx = -1;
static pthread_once_t ssl_server_once = PTHREAD_ONCE_INIT;

static void server_unref(struct veer_tls_server *s);

static void ssl_server_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			    void *argp)
{
	if (ptr != NULL)
		server_unref(ptr);
}

static void ssl_server_init(void)
{
	ssl_server_idx =
		SSL_get_ex_new_index(0, (void *)"veer_tls_server", NULL, NULL, ssl_server_free);
}

/* Does lower-case HOST match name entry N? */
static bool name_match(const struct sni_name *n, const char *host)
{
	const char *dot;

	if (!n->wild)
		return strcasecmp(n->name, host) == 0;
	/* "*.example.com" covers exactly one label: "a.example.com", not
	 * "example.com" nor "a.b.example.com". */
	dot = strchr(host, '.');
	return dot != NULL && dot != host && strcasecmp(dot, n->name) == 0;
}

/* The context for SNI host HOST: an exact name first, then a wildcard; the
 * first certificate naming it wins.  0 (the default) when none does. */
static size_t ctx_for(const struct veer_tls_server *s, const char *host)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->nnames; i++)
			if (s->names[i].wild == (pass == 1) && name_match(&s->names[i], host))
				return s->names[i].ctx;
	return 0;
}

static int sni_cb(SSL *ssl, int *alert, void *arg)
{
	const struct veer_tls_server *s = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	SSL_CTX *ctx;

	if (host == NULL)
		return SSL_TLSEXT_ERR_OK;
	ctx = s->ctx[ctx_for(s, host)];
	if (ctx != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, ctx) == NULL) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/* http/1.1 when the client offers it; otherwise no ALPN at all (a client
 * offering only h2 carries on without, as with nginx without http2). */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, alpn_http11, ALPN_HTTP11_LEN, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void add_name(struct veer_tls_server *s, const unsigned char *p, size_t len, size_t ctx)
{
	struct sni_name n = { 0 };

	if (len == 0 || memchr(p, '\0', len) != NULL)
		return;
	if (len > 2 && p[0] == '*' && p[1] == '.') {
		n.wild = true;
		p++, len--; /* keep the dot */
	}
	if (memchr(p, '*', len) != NULL)
		return; /* partial wildcards ("f*.example.com") are not matched */
	n.name = veer_xstrndup((const char *)p, len);
	for (char *c = n.name; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	n.ctx = ctx;
	s->names = veer_xrealloc(s->names, (s->nnames + 1) * sizeof(*s->names));
	s->names[s->nnames++] = n;
}

/* The names of certificate X for SNI: its subjectAltName DNS entries, or
 * its common name when it has none (RFC 6125 section 6.4.4). */
static void add_names(struct veer_tls_server *s, X509 *x, size_t ctx)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj;
	unsigned char *cn = NULL;
	size_t before = s->nnames;
	int i, len;

	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS)
			add_name(s, ASN1_STRING_get0_data(g->d.dNSName),
				 (size_t)ASN1_STRING_length(g->d.dNSName), ctx);
	}
	GENERAL_NAMES_free(gens);
	if (s->nnames != before)
		return;
	subj = X509_get_subject_name(x);
	i = subj != NULL ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
	if (i < 0)
		return;
	len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
	if (len > 0)
		add_name(s, cn, (size_t)len, ctx);
	OPENSSL_free(cn);
}

/* Load certificate entry C into CTX and check it; on failure *KEY tells
 * whether the key file (else the certificate file) is at fault and WHY what
 * is wrong. */
static int load_cert(SSL_CTX *ctx, const struct veer_tls_cert_conf *c, bool *key, char *why,
		     size_t n)
{
	char date[64];
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;
	X509 *x;
	int rc = VEER_ERR;

	*key = false;
	if (unreadable(c->cert, why, n))
		goto out;
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1 ||
	    (x = SSL_CTX_get0_certificate(ctx)) == NULL) {
		fmt(why, n, "no PEM certificate in %s (%s)", c->cert, ssl_reason("unreadable"));
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		fmt(why, n, "certificate %s expired on %s", c->cert,
		    time_text(date, sizeof(date), X509_get0_notAfter(x)));
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		fmt(why, n, "certificate %s is not yet valid (from %s)", c->cert,
		    time_text(date, sizeof(date), X509_get0_notBefore(x)));
		goto out;
	}
	*key = true;
	if (unreadable(c->key, why, n))
		goto out;
	/* Read the key apart from the context: OpenSSL would otherwise file a
	 * key of another type than the certificate's in another slot, and
	 * report the mismatch only later, vaguely. */
	bio = BIO_new_file(c->key, "r");
	pk = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL) : NULL;
	if (pk == NULL) {
		if (encrypted_pem(c->key))
			fmt(why, n, "private key %s is encrypted (not supported)", c->key);
		else
			fmt(why, n, "no PEM private key in %s", c->key);
		goto out;
	}
	if (X509_check_private_key(x, pk) != 1) {
		fmt(why, n, "key does not match certificate %s", c->cert);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		fmt(why, n, "cannot use key %s with certificate %s (%s)", c->key, c->cert,
		    ssl_reason("unsupported"));
		goto out;
	}
	rc = VEER_OK;
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return rc;
}

/* A server context with the listener's settings (no certificate yet). */
static SSL_CTX *server_ctx(struct veer_tls_server *s, const struct veer_listener_tls *conf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NULL;
	if (ctx_common(ctx) != VEER_OK ||
	    (conf->min_version == 13 && SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) ||
	    SSL_CTX_set_cipher_list(ctx, INTERMEDIATE_CIPHERS) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, INTERMEDIATE_GROUPS) != 1 ||
	    SSL_CTX_set_dh_auto(ctx, 1) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* intermediate: the client picks (every suite on offer is strong) */
	SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	SSL_CTX_set_app_data(ctx, s);
	return ctx;
}

static void set_ticket_cb(struct veer_tls_server *s)
{
	for (size_t i = 0; i < s->nctx; i++)
		SSL_CTX_set_tlsext_ticket_key_evp_cb(s->ctx[i], ticket_cb);
}

struct veer_tls_server *veer_tls_server_build(const struct veer_listener_tls *conf,
					      struct veer_tls_tickets *tickets,
					      veer_tls_fault_fn *fault, void *arg, char *err,
					      size_t errlen)
{
	struct veer_tls_server *s = veer_xcalloc(1, sizeof(*s));
	char why[1024];
	bool key, failed = false;

	atomic_init(&s->refs, 1);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (conf->ncerts == 0) {
		fmt(err, errlen, "no certificates");
		goto fail;
	}
	s->aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	if (s->aes == NULL) {
		fmt(err, errlen, "AES-256-CBC is not available (%s)", ssl_reason("?"));
		goto fail;
	}
	s->ctx = veer_xcalloc(conf->ncerts, sizeof(*s->ctx));
	for (size_t i = 0; i < conf->ncerts; i++) {
		SSL_CTX *ctx = server_ctx(s, conf);
		if (ctx == NULL) {
			fmt(err, errlen, "cannot make a TLS context (%s)", ssl_reason("?"));
			goto fail;
		}
		s->ctx[s->nctx++] = ctx;
		if (load_cert(ctx, &conf->certs[i], &key, why, sizeof(why)) != VEER_OK) {
			if (!failed)
				fmt(err, errlen, "certificates[%zu].%s: %s", i,
				    key ? "key" : "cert", why);
			if (fault != NULL)
				fault(arg, i, key, why);
			failed = true;
			ERR_clear_error();
			continue;
		}
		add_names(s, SSL_CTX_get0_certificate(ctx), i);
	}
	if (failed)
		goto fail;
	SSL_CTX_set_tlsext_servername_callback(s->ctx[0], sni_cb);
	SSL_CTX_set_tlsext_servername_arg(s->ctx[0], s);
	veer_tls_server_set_tickets(s, tickets);
	ERR_clear_error();
	return s;
fail:
	ERR_clear_error();
	server_unref(s);
	return NULL;
}

struct veer_tls_server *veer_tls_server_new(const struct veer_listener_tls *conf,
					    struct veer_tls_tickets *tickets, char *err,
					    size_t errlen)
{
	return veer_tls_server_build(conf, tickets, NULL, NULL, err, errlen);
}

void veer_tls_server_set_tickets(struct veer_tls_server *s, struct veer_tls_tickets *tickets)
{
	if (tickets == NULL || tickets == s->tickets)
		return;
	tickets_ref(tickets);
	veer_tls_tickets_free(s->tickets);
	s->tickets = tickets;
	set_ticket_cb(s);
}

static void server_unref(struct veer_tls_server *s)
{
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < s->nctx; i++)
		SSL_CTX_free(s->ctx[i]);
	free(s->ctx);
	for (size_t i = 0; i < s->nnames; i++)
		free(s->names[i].name);
	free(s->names);
	veer_tls_tickets_free(s->tickets);
	EVP_CIPHER_free(s->aes);
	free(s);
}

void veer_tls_server_free(struct veer_tls_server *s)
{
	if (s != NULL)
		server_unref(s);
}

SSL *veer_tls_accept(struct veer_tls_server *s, int fd)
{
	SSL *ssl;

	pthread_once(&ssl_server_once, ssl_server_init);
	if (ssl_server_idx < 0)
		return NULL;
	ssl = SSL_new(s->ctx[0]);
	if (ssl == NULL)
		goto fail;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	if (SSL_set_ex_data(ssl, ssl_server_idx, s) != 1) {
		server_unref(s);
		goto fail;
	}
	if (SSL_set_fd(ssl, fd) != 1)
		goto fail;
	SSL_set_accept_state(ssl);
	return ssl;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

/* ---- client ---------------------------------------------------------------- */

struct veer_tls_client *veer_tls_client_new(const struct veer_pool_tls *conf, char *err,
					    size_t errlen)
{
	struct veer_tls_client *c = veer_xcalloc(1, sizeof(*c));

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL || ctx_common(c->ctx) != VEER_OK) {
		fmt(err, errlen, "cannot make a TLS context (%s)", ssl_reason("?"));
		goto fail;
	}
	if (conf->ca != NULL) {
		if (unreadable(conf->ca, err, errlen))
			goto fail;
		if (SSL_CTX_load_verify_locations(c->ctx, conf->ca, NULL) != 1) {
			fmt(err, errlen, "no PEM certificate in %s (%s)", conf->ca,
			    ssl_reason("unreadable"));
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		fmt(err, errlen, "cannot load the system CA store (%s)", ssl_reason("?"));
		goto fail;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	/* SSL_CTX_set_alpn_protos() returns 0 on success */
	if (SSL_CTX_set_alpn_protos(c->ctx, alpn_http11, ALPN_HTTP11_LEN) != 0) {
		fmt(err, errlen, "cannot set ALPN (%s)", ssl_reason("?"));
		goto fail;
	}
	/* The caller keeps sessions (per server) and offers them back. */
	SSL_CTX_set_session_cache_mode(c->ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	c->server_name = conf->server_name != NULL ? veer_xstrdup(conf->server_name) : NULL;
	ERR_clear_error();
	return c;
fail:
	ERR_clear_error();
	veer_tls_client_free(c);
	return NULL;
}

void veer_tls_client_free(struct veer_tls_client *c)
{
	if (c == NULL)
		return;
	SSL_CTX_free(c->ctx);
	free(c->server_name);
	free(c);
}

/* The host of ADDRESS ("host:port", "[v6]:port"), without an IPv6 zone,
 * into BUF; VEER_ERR when it does not fit or there is none. */
static int host_of(const char *address, char *buf, size_t n)
{
	const char *h = address, *end;
	size_t len;

	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = strrchr(h, ':');
		if (end == NULL)
			end = h + strlen(h);
	}
	if (end == NULL)
		return VEER_ERR;
	len = (size_t)(end - h);
	if (memchr(h, '%', len) != NULL)
		len = (size_t)((const char *)memchr(h, '%', len) - h);
	if (len == 0 || len >= n)
		return VEER_ERR;
	memcpy(buf, h, len);
	buf[len] = '\0';
	return VEER_OK;
}

SSL *veer_tls_connect(struct veer_tls_client *c, int fd, const char *address, SSL_SESSION *session)
{
	char host[256];
	const char *name = c->server_name;
	SSL *ssl = SSL_new(c->ctx);

	if (ssl == NULL)
		goto fail;
	if (name == NULL) {
		if (host_of(address, host, sizeof(host)) != VEER_OK)
			goto fail;
		name = host;
	}
	if (is_ip(name)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1)
			goto fail;
	} else if (SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1) {
		goto fail;
	}
	if (SSL_set_fd(ssl, fd) != 1)
		goto fail;
	SSL_set_connect_state(ssl);
	/* A session that cannot be offered only costs a full handshake. */
	if (session != NULL)
		SSL_set_session(ssl, session);
	ERR_clear_error();
	return ssl;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

/* ---- errors ---------------------------------------------------------------- */

const char *veer_tls_error(SSL *ssl, int rc, char *buf, size_t len)
{
	int saved = errno;
	int e = SSL_get_error(ssl, rc);
	unsigned long q = ERR_peek_error();
	long v;

	switch (e) {
	case SSL_ERROR_NONE:
		fmt(buf, len, "no error");
		break;
	case SSL_ERROR_ZERO_RETURN:
		fmt(buf, len, "closed by the peer");
		break;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		fmt(buf, len, "would block");
		break;
	case SSL_ERROR_SYSCALL:
		if (q != 0)
			fmt(buf, len, "%s", ssl_reason("?"));
		else if (saved != 0)
			fmt(buf, len, "%s", strerror(saved));
		else
			fmt(buf, len, "connection closed during the handshake");
		break;
	case SSL_ERROR_SSL:
		v = SSL_get_verify_result(ssl);
		if (!SSL_is_server(ssl) && v != X509_V_OK)
			fmt(buf, len, "certificate verify failed: %s",
			    X509_verify_cert_error_string(v));
		else
			fmt(buf, len, "%s", ssl_reason("TLS error"));
		break;
	default:
		fmt(buf, len, "TLS error %d", e);
		break;
	}
	ERR_clear_error();
	return buf;
}
