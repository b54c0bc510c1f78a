/* Unit tests of src/tls.c: contexts built from certificates the test makes
 * itself with the openssl CLI, and real handshakes between a veer server
 * and a test client (or a veer client and a veer server) over a socketpair,
 * both sides non-blocking and driven in turn in one process.
 *
 * The certificates are made once per run, before any test (a criterion
 * PRE_ALL hook in the runner process), into a temporary directory whose
 * path travels to the tests in VEER_TEST_CERTS; test_config.c uses them
 * too.  In that directory:
 *   ca.crt/key   RSA test CA
 *   a.crt/key    RSA, SAN a.example.com, alt.example.org, IP 127.0.0.1
 *   b.crt/key    ECDSA P-256, SAN b.example.com, *.b.example.com
 *   c.crt/key    ECDSA, no SAN, CN c.example.net
 *   d.crt/key    ECDSA, SAN exact.b.example.com
 *   expired.crt/key   valid 2020-01-01 .. 2020-01-02 (openssl ca -enddate)
 *   future.crt/key    valid from 2099-01-01
 *   enc.key      b.key encrypted with a pass phrase
 *   junk.pem     not PEM at all
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "veer/common.h"
#include "veer/config.h"
#include "veer/tls.h"

/* ---- certificates ---------------------------------------------------------- */

static char cert_dir[64];

static const char gen_script[] =
	"set -e\n"
	"cd \"$1\"\n"
	"q() { \"$@\" >/dev/null 2>&1 || { echo \"failed: $*\" >&2; exit 1; }; }\n"
	"ec() { q openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	"-keyout \"$1.key\" -out \"$1.csr\" -subj \"/CN=$2\"; }\n"
	"sign() { q openssl x509 -req -in \"$1.csr\" -CA ca.crt -CAkey ca.key -CAcreateserial "
	"-days 30 -out \"$1.crt\" $2; }\n"
	"q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 "
	"-subj \"/CN=veer test CA\" -addext basicConstraints=critical,CA:TRUE "
	"-addext keyUsage=critical,keyCertSign,cRLSign\n"
	"q openssl req -newkey rsa:2048 -nodes -keyout a.key -out a.csr -subj /CN=a.example.com\n"
	"echo subjectAltName=DNS:a.example.com,DNS:alt.example.org,IP:127.0.0.1 > a.ext\n"
	"sign a '-extfile a.ext'\n"
	"ec b b.example.com\n"
	"echo 'subjectAltName=DNS:b.example.com,DNS:*.b.example.com' > b.ext\n"
	"sign b '-extfile b.ext'\n"
	"ec c c.example.net\n"
	"sign c ''\n"
	"ec d d.example.com\n"
	"echo subjectAltName=DNS:exact.b.example.com > d.ext\n"
	"sign d '-extfile d.ext'\n"
	/* openssl 3.0's x509 and req take no dates in the past: ca does */
	"mkdir newcerts && : > index.txt && echo 01 > serial\n"
	"printf '[ca]\\ndefault_ca = d\\n[d]\\ndatabase = index.txt\\nnew_certs_dir = newcerts\\n"
	"serial = serial\\ndefault_md = sha256\\npolicy = p\\nunique_subject = no\\n"
	"[p]\\ncommonName = supplied\\n' > ca.cnf\n"
	"ec expired expired.example.com\n"
	"q openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr "
	"-out expired.crt -notext -startdate 20200101000000Z -enddate 20200102000000Z\n"
	"ec future future.example.com\n"
	"q openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in future.csr "
	"-out future.crt -notext -startdate 20990101000000Z -enddate 20991231000000Z\n"
	"q openssl pkey -in b.key -aes256 -passout pass:secret -out enc.key\n"
	"echo 'not a PEM file' > junk.pem\n";

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char cmd[sizeof(gen_script) + 256];
	FILE *f;

	snprintf(cert_dir, sizeof(cert_dir), "/tmp/veer-tls-XXXXXX");
	if (mkdtemp(cert_dir) == NULL) {
		perror("mkdtemp");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s/gen.sh", cert_dir);
	f = fopen(cmd, "w");
	if (f == NULL)
		return;
	fputs(gen_script, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "sh %s/gen.sh %s", cert_dir, cert_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_tls: making test certificates failed\n");
		return;
	}
	setenv("VEER_TEST_CERTS", cert_dir, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	char cmd[128];

	if (cert_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cert_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_tls: cannot remove %s\n", cert_dir);
}

/* The path of file NAME in the certificate directory (a few kept at once). */
static const char *path(const char *name)
{
	static char buf[16][512];
	static unsigned next;
	const char *dir = getenv("VEER_TEST_CERTS");
	char *p = buf[next++ % 16];

	cr_assert_not_null(dir, "no test certificates (see the PRE_ALL hook)");
	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

/* ---- building servers -------------------------------------------------- */

/* A listener TLS conf from SPEC: certificate entries separated by spaces,
 * each "x" (x.crt with x.key) or "x.crt:y.key". */
struct lconf {
	struct veer_listener_tls tls;
	struct veer_tls_cert_conf certs[8];
	char files[16][512];
};

static void lconf_init(struct lconf *l, int min_version, const char *spec)
{
	char buf[256], *save = NULL;
	size_t n = 0;

	memset(l, 0, sizeof(*l));
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *e = strtok_r(buf, " ", &save); e != NULL; e = strtok_r(NULL, " ", &save)) {
		char *colon = strchr(e, ':');
		char cert[128], key[128];
		if (colon != NULL) {
			*colon = '\0';
			snprintf(cert, sizeof(cert), "%s", e);
			snprintf(key, sizeof(key), "%s", colon + 1);
		} else {
			snprintf(cert, sizeof(cert), "%s.crt", e);
			snprintf(key, sizeof(key), "%s.key", e);
		}
		snprintf(l->files[2 * n], sizeof(l->files[0]), "%s", path(cert));
		snprintf(l->files[2 * n + 1], sizeof(l->files[0]), "%s", path(key));
		l->certs[n].cert = l->files[2 * n];
		l->certs[n].key = l->files[2 * n + 1];
		n++;
	}
	l->tls.enabled = true;
	l->tls.certs = l->certs;
	l->tls.ncerts = n;
	l->tls.min_version = min_version;
}

static struct veer_tls_server *server_t(int min_version, const char *spec,
					struct veer_tls_tickets *t)
{
	struct lconf l;
	char err[512];
	struct veer_tls_server *s;

	lconf_init(&l, min_version, spec);
	s = veer_tls_server_new(&l.tls, t, err, sizeof(err));
	cr_assert_not_null(s, "server %s: %s", spec, err);
	return s;
}

static struct veer_tls_server *server(int min_version, const char *spec)
{
	return server_t(min_version, spec, NULL);
}

/* ---- handshakes ------------------------------------------------------------ */

struct hs {
	int fds[2];
	SSL *srv, *cli;
	bool srv_done, cli_done, srv_failed, cli_failed;
	char srv_err[256], cli_err[256];
};

static void nonblocking(int fd)
{
	cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static void hs_open(struct hs *h)
{
	memset(h, 0, sizeof(*h));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, h->fds), 0, "%s", strerror(errno));
	nonblocking(h->fds[0]);
	nonblocking(h->fds[1]);
}

/* Close both ends as the proxy must: a clean close (close_notify) after a
 * handshake, or OpenSSL marks the session as not resumable on SSL_free(). */
static void hs_close(struct hs *h)
{
	if (h->srv_done)
		SSL_shutdown(h->srv);
	if (h->cli_done)
		SSL_shutdown(h->cli);
	ERR_clear_error();
	SSL_free(h->srv);
	SSL_free(h->cli);
	close(h->fds[0]);
	close(h->fds[1]);
}

/* A test client (no verification) on CTX, sending SNI (NULL = none) and
 * offering SESSION (may be NULL). */
static SSL *test_client(struct hs *h, SSL_CTX *ctx, const char *sni, SSL_SESSION *session)
{
	SSL *ssl = SSL_new(ctx);

	cr_assert_not_null(ssl);
	cr_assert_eq(SSL_set_fd(ssl, h->fds[1]), 1);
	if (sni != NULL)
		cr_assert_eq(SSL_set_tlsext_host_name(ssl, sni), 1);
	if (session != NULL)
		cr_assert_eq(SSL_set_session(ssl, session), 1);
	SSL_set_connect_state(ssl);
	return ssl;
}

/* A test client context: no verification, versions up to MAX (0 = any). */
static SSL_CTX *client_ctx(int max)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	cr_assert_not_null(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (max != 0)
		cr_assert_eq(SSL_CTX_set_max_proto_version(ctx, max), 1);
	SSL_CTX_set_session_cache_mode(ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	return ctx;
}

static void step(SSL *ssl, bool *done, bool *failed, char *err, size_t n)
{
	int rc, e;

	if (*done || *failed)
		return;
	rc = SSL_do_handshake(ssl);
	if (rc == 1) {
		*done = true;
		return;
	}
	e = SSL_get_error(ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	veer_tls_error(ssl, rc, err, n);
	*failed = true;
}

/* Drive both sides until both are done or one failed (then a few more
 * turns so that the other one reads the alert).  True when both are done. */
static bool drive(struct hs *h)
{
	for (int i = 0;
	     i < 200 && !(h->srv_done && h->cli_done) && !h->srv_failed && !h->cli_failed; i++) {
		step(h->cli, &h->cli_done, &h->cli_failed, h->cli_err, sizeof(h->cli_err));
		step(h->srv, &h->srv_done, &h->srv_failed, h->srv_err, sizeof(h->srv_err));
	}
	for (int i = 0; i < 4; i++) {
		step(h->cli, &h->cli_done, &h->cli_failed, h->cli_err, sizeof(h->cli_err));
		step(h->srv, &h->srv_done, &h->srv_failed, h->srv_err, sizeof(h->srv_err));
	}
	return h->srv_done && h->cli_done;
}

/* Handshake with server S from a test client on CTX. */
static bool shake(struct hs *h, struct veer_tls_server *s, SSL_CTX *ctx, const char *sni,
		  SSL_SESSION *session)
{
	hs_open(h);
	h->srv = veer_tls_accept(s, h->fds[0]);
	cr_assert_not_null(h->srv);
	h->cli = test_client(h, ctx, sni, session);
	return drive(h);
}

/* The common name of the certificate the client got. */
static const char *peer_cn(SSL *cli)
{
	static char cn[256];
	X509 *x = SSL_get0_peer_certificate(cli);

	cr_assert_not_null(x, "no peer certificate");
	cn[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	return cn;
}

/* The CN the server presents for SNI (NULL = none). */
static const char *cn_for(struct veer_tls_server *s, const char *sni)
{
	static char cn[256];
	SSL_CTX *ctx = client_ctx(0);
	struct hs h;

	cr_assert(shake(&h, s, ctx, sni, NULL), "handshake for %s: server: %s; client: %s",
		  sni != NULL ? sni : "(no SNI)", h.srv_err, h.cli_err);
	snprintf(cn, sizeof(cn), "%s", peer_cn(h.cli));
	hs_close(&h);
	SSL_CTX_free(ctx);
	return cn;
}

/* After a handshake: let the client read what follows it (TLS 1.3 sends
 * session tickets then), and take its session. */
static SSL_SESSION *take_session(struct hs *h)
{
	char b[16];

	for (int i = 0; i < 4; i++) {
		SSL_read(h->cli, b, sizeof(b));
		SSL_read(h->srv, b, sizeof(b));
	}
	ERR_clear_error();
	return SSL_get1_session(h->cli);
}

/* ---- SNI ------------------------------------------------------------------- */

TestSuite(tls);

Test(tls, sni_exact_names)
{
	struct veer_tls_server *s = server(12, "a b c");

	cr_assert_str_eq(cn_for(s, "a.example.com"), "a.example.com");
	cr_assert_str_eq(cn_for(s, "alt.example.org"), "a.example.com");
	cr_assert_str_eq(cn_for(s, "b.example.com"), "b.example.com");
	cr_assert_str_eq(cn_for(s, "B.Example.COM"), "b.example.com", "case-insensitive");
	/* no subjectAltName: the common name */
	cr_assert_str_eq(cn_for(s, "c.example.net"), "c.example.net");
	veer_tls_server_free(s);
}

Test(tls, sni_wildcard_one_label)
{
	struct veer_tls_server *s = server(12, "a b d");

	cr_assert_str_eq(cn_for(s, "x.b.example.com"), "b.example.com");
	cr_assert_str_eq(cn_for(s, "X-1.B.example.com"), "b.example.com");
	/* one label only: deeper names and the bare domain fall to the default
	 * (b.example.com itself is an exact name of b) */
	cr_assert_str_eq(cn_for(s, "y.x.b.example.com"), "a.example.com");
	cr_assert_str_eq(cn_for(s, "xb.example.com"), "a.example.com");
	/* an exact name wins over a wildcard of an earlier certificate */
	cr_assert_str_eq(cn_for(s, "exact.b.example.com"), "d.example.com");
	veer_tls_server_free(s);
}

Test(tls, no_sni_or_unknown_name_gets_the_first)
{
	struct veer_tls_server *s = server(12, "a b");
	struct veer_tls_server *r = server(12, "b a");

	cr_assert_str_eq(cn_for(s, NULL), "a.example.com");
	cr_assert_str_eq(cn_for(s, "unknown.example.com"), "a.example.com");
	cr_assert_str_eq(cn_for(r, NULL), "b.example.com");
	cr_assert_str_eq(cn_for(r, "nothing.test"), "b.example.com");
	veer_tls_server_free(s);
	veer_tls_server_free(r);
}

Test(tls, rsa_and_ecdsa_with_intermediate_ciphers)
{
	struct veer_tls_server *s = server(12, "a b");
	SSL_CTX *ctx = client_ctx(TLS1_2_VERSION);
	struct hs h;

	cr_assert(shake(&h, s, ctx, "a.example.com", NULL), "%s / %s", h.srv_err, h.cli_err);
	cr_assert_str_eq(SSL_get_version(h.cli), "TLSv1.2");
	cr_assert_not_null(strstr(SSL_get_cipher_name(h.cli), "ECDHE-RSA-"), "%s",
			   SSL_get_cipher_name(h.cli));
	hs_close(&h);
	cr_assert(shake(&h, s, ctx, "b.example.com", NULL), "%s / %s", h.srv_err, h.cli_err);
	cr_assert_not_null(strstr(SSL_get_cipher_name(h.cli), "ECDHE-ECDSA-"), "%s",
			   SSL_get_cipher_name(h.cli));
	hs_close(&h);
	/* no forward secrecy, CBC: not on offer */
	cr_assert_eq(SSL_CTX_set_cipher_list(ctx, "AES128-SHA:ECDHE-RSA-AES128-SHA"), 1);
	cr_assert_not(shake(&h, s, ctx, "a.example.com", NULL));
	cr_assert_str_eq(h.srv_err, "no shared cipher");
	hs_close(&h);
	SSL_CTX_free(ctx);
	veer_tls_server_free(s);
}

/* ---- versions -------------------------------------------------------------- */

Test(tls, tls11_and_tls10_refused)
{
	struct veer_tls_server *s = server(12, "a");
	SSL_CTX *ctx = client_ctx(TLS1_1_VERSION);
	struct hs h;

	/* OpenSSL 3 itself offers TLS 1.1 only at security level 0 */
	cr_assert_eq(SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0"), 1);
	cr_assert_eq(SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION), 1);
	cr_assert_not(shake(&h, s, ctx, "a.example.com", NULL));
	cr_assert_str_eq(h.srv_err, "unsupported protocol");
	cr_assert(h.cli_failed);
	hs_close(&h);
	cr_assert_eq(SSL_CTX_set_max_proto_version(ctx, TLS1_VERSION), 1);
	cr_assert_not(shake(&h, s, ctx, "a.example.com", NULL));
	cr_assert_str_eq(h.srv_err, "unsupported protocol");
	hs_close(&h);
	SSL_CTX_free(ctx);
	veer_tls_server_free(s);
}

Test(tls, min_version_13_refuses_a_12_client)
{
	struct veer_tls_server *s = server(13, "a");
	SSL_CTX *c12 = client_ctx(TLS1_2_VERSION), *c13 = client_ctx(0);
	struct hs h;

	cr_assert_not(shake(&h, s, c12, "a.example.com", NULL));
	cr_assert_str_eq(h.srv_err, "unsupported protocol");
	hs_close(&h);
	cr_assert(shake(&h, s, c13, "a.example.com", NULL), "%s / %s", h.srv_err, h.cli_err);
	cr_assert_str_eq(SSL_get_version(h.srv), "TLSv1.3");
	hs_close(&h);
	SSL_CTX_free(c12);
	SSL_CTX_free(c13);
	veer_tls_server_free(s);
}

Test(tls, min_version_12_takes_12_and_13)
{
	struct veer_tls_server *s = server(12, "a");
	SSL_CTX *c12 = client_ctx(TLS1_2_VERSION), *c13 = client_ctx(0);
	struct hs h;

	cr_assert(shake(&h, s, c12, "a.example.com", NULL), "%s / %s", h.srv_err, h.cli_err);
	cr_assert_str_eq(SSL_get_version(h.srv), "TLSv1.2");
	hs_close(&h);
	cr_assert(shake(&h, s, c13, "a.example.com", NULL), "%s / %s", h.srv_err, h.cli_err);
	cr_assert_str_eq(SSL_get_version(h.srv), "TLSv1.3");
	hs_close(&h);
	SSL_CTX_free(c12);
	SSL_CTX_free(c13);
	veer_tls_server_free(s);
}

/* ---- ALPN ------------------------------------------------------------------ */

static const char *alpn_with(struct veer_tls_server *s, const unsigned char *offer, size_t len)
{
	static char got[32];
	SSL_CTX *ctx = client_ctx(0);
	const unsigned char *p = NULL;
	unsigned int n = 0;
	struct hs h;

	if (offer != NULL)
		cr_assert_eq(SSL_CTX_set_alpn_protos(ctx, offer, (unsigned)len), 0);
	cr_assert(shake(&h, s, ctx, "a.example.com", NULL), "%s / %s", h.srv_err, h.cli_err);
	SSL_get0_alpn_selected(h.cli, &p, &n);
	snprintf(got, sizeof(got), "%.*s", (int)n, p != NULL ? (const char *)p : "");
	hs_close(&h);
	SSL_CTX_free(ctx);
	return got;
}

Test(tls, alpn_http11_only)
{
	struct veer_tls_server *s = server(12, "a");
	static const unsigned char h2_h1[] = "\x02h2\x08http/1.1";
	static const unsigned char h2[] = "\x02h2";

	cr_assert_str_eq(alpn_with(s, h2_h1, sizeof(h2_h1) - 1), "http/1.1");
	/* a client that offers only h2 goes on without ALPN */
	cr_assert_str_eq(alpn_with(s, h2, sizeof(h2) - 1), "");
	cr_assert_str_eq(alpn_with(s, NULL, 0), "");
	veer_tls_server_free(s);
}

/* ---- server build errors --------------------------------------------------- */

struct fault {
	size_t index;
	bool key;
	char msg[512];
	int n;
};

static void on_fault(void *arg, size_t index, bool key, const char *msg)
{
	struct fault *f = arg;

	if (f->n++ == 0) {
		f->index = index;
		f->key = key;
		snprintf(f->msg, sizeof(f->msg), "%s", msg);
	}
}

/* Building SPEC must fail: the first fault is entry INDEX (its key when
 * KEY) with message WANT, and ERR says the same with the entry. */
static void expect_fault(const char *spec, size_t index, bool key, const char *want)
{
	struct lconf l;
	struct fault f = { 0 };
	char err[1024], werr[1024];

	lconf_init(&l, 12, spec);
	cr_assert_null(veer_tls_server_build(&l.tls, NULL, on_fault, &f, err, sizeof(err)),
		       "%s built", spec);
	cr_assert_eq(f.n, 1, "%s: %d faults", spec, f.n);
	cr_assert_eq(f.index, index, "%s", spec);
	cr_assert_eq(f.key, key, "%s", spec);
	cr_assert_str_eq(f.msg, want);
	snprintf(werr, sizeof(werr), "certificates[%zu].%s: %s", index, key ? "key" : "cert", want);
	cr_assert_str_eq(err, werr);
	cr_assert_eq(ERR_peek_error(), 0, "error queue left behind");
}

Test(tls, server_build_errors)
{
	char want[1024];

	snprintf(want, sizeof(want), "key does not match certificate %s", path("a.crt"));
	expect_fault("b a.crt:b.key", 1, true, want); /* RSA certificate, ECDSA key */
	expect_fault("a.crt:ca.key", 0, true, want);  /* two RSA keys */
	snprintf(want, sizeof(want), "key does not match certificate %s", path("b.crt"));
	expect_fault("b.crt:c.key", 0, true, want); /* two ECDSA keys */
	snprintf(want, sizeof(want), "cannot read %s: No such file or directory", path("none.crt"));
	expect_fault("a none.crt:a.key", 1, false, want);
	snprintf(want, sizeof(want), "cannot read %s: No such file or directory", path("none.key"));
	expect_fault("a.crt:none.key", 0, true, want);
	snprintf(want, sizeof(want), "certificate %s expired on 2020-01-02 00:00:00 UTC",
		 path("expired.crt"));
	expect_fault("expired", 0, false, want);
	snprintf(want, sizeof(want),
		 "certificate %s is not yet valid (from 2099-01-01 00:00:00 UTC)",
		 path("future.crt"));
	expect_fault("a future", 1, false, want);
	snprintf(want, sizeof(want), "no PEM certificate in %s (no start line)", path("junk.pem"));
	expect_fault("junk.pem:a.key", 0, false, want);
	snprintf(want, sizeof(want), "no PEM private key in %s", path("junk.pem"));
	expect_fault("a.crt:junk.pem", 0, true, want);
	snprintf(want, sizeof(want), "private key %s is encrypted (not supported)",
		 path("enc.key"));
	expect_fault("b.crt:enc.key", 0, true, want);
	snprintf(want, sizeof(want), "cannot read %s: not a regular file", path("newcerts"));
	expect_fault("newcerts:a.key", 0, false, want);
}

Test(tls, server_build_reports_every_entry)
{
	struct lconf l;
	struct fault f = { 0 };
	char err[512];

	lconf_init(&l, 12, "expired a a.crt:b.key none.crt:x.key");
	cr_assert_null(veer_tls_server_build(&l.tls, NULL, on_fault, &f, err, sizeof(err)));
	cr_assert_eq(f.n, 3);
	cr_assert_eq(f.index, 0);
	cr_assert_eq(strncmp(err, "certificates[0].cert: certificate ", 34), 0, "%s", err);
	/* without a fault function, the first problem */
	cr_assert_null(veer_tls_server_new(&l.tls, NULL, err, sizeof(err)));
	cr_assert_eq(strncmp(err, "certificates[0].cert: ", 22), 0, "%s", err);
	l.tls.ncerts = 0;
	cr_assert_null(veer_tls_server_new(&l.tls, NULL, err, sizeof(err)));
	cr_assert_str_eq(err, "no certificates");
}

/* ---- upstream (client) side ------------------------------------------------ */

/* A veer client for CA (NULL = system store) and SERVER_NAME connecting to
 * ADDRESS, against server S. */
static bool client_shake(struct hs *h, struct veer_tls_server *s, const char *ca,
			 const char *server_name, const char *address)
{
	struct veer_pool_tls conf = { .enabled = true,
				      .ca = (char *)ca,
				      .server_name = (char *)server_name };
	char err[256];
	struct veer_tls_client *c = veer_tls_client_new(&conf, err, sizeof(err));
	bool ok;

	cr_assert_not_null(c, "%s", err);
	hs_open(h);
	h->srv = veer_tls_accept(s, h->fds[0]);
	h->cli = veer_tls_connect(c, h->fds[1], address, NULL);
	cr_assert_not_null(h->srv);
	cr_assert_not_null(h->cli);
	/* the SSL keeps what it needs of the client */
	veer_tls_client_free(c);
	ok = drive(h);
	return ok;
}

Test(tls, client_verifies_name_and_ca)
{
	struct veer_tls_server *s = server(12, "a b");
	const unsigned char *p = NULL;
	unsigned int n = 0;
	struct hs h;

	cr_assert(client_shake(&h, s, path("ca.crt"), "a.example.com", "10.0.0.1:443"), "%s / %s",
		  h.srv_err, h.cli_err);
	cr_assert_eq(SSL_get_verify_result(h.cli), X509_V_OK);
	cr_assert_str_eq(peer_cn(h.cli), "a.example.com");
	cr_assert_str_eq(SSL_get_servername(h.srv, TLSEXT_NAMETYPE_host_name), "a.example.com");
	SSL_get0_alpn_selected(h.cli, &p, &n);
	cr_assert_eq(n, 8);
	cr_assert_eq(memcmp(p, "http/1.1", 8), 0);
	hs_close(&h);

	/* the SNI name picks b, whose wildcard covers it */
	cr_assert(client_shake(&h, s, path("ca.crt"), "api.b.example.com", "10.0.0.1:443"),
		  "%s / %s", h.srv_err, h.cli_err);
	cr_assert_str_eq(peer_cn(h.cli), "b.example.com");
	hs_close(&h);

	/* wrong name: the server answers with its default, which does not
	 * carry it */
	cr_assert_not(client_shake(&h, s, path("ca.crt"), "wrong.example.com", "10.0.0.1:443"));
	cr_assert(h.cli_failed);
	cr_assert_str_eq(h.cli_err, "certificate verify failed: hostname mismatch");
	cr_assert_eq(SSL_get_verify_result(h.cli), X509_V_ERR_HOSTNAME_MISMATCH);
	hs_close(&h);

	/* the system store does not know the test CA */
	cr_assert_not(client_shake(&h, s, NULL, "a.example.com", "10.0.0.1:443"));
	cr_assert_str_eq(h.cli_err, "certificate verify failed: unable to get local issuer "
				    "certificate");
	hs_close(&h);
	veer_tls_server_free(s);
}

Test(tls, client_name_from_address)
{
	struct veer_tls_server *s = server(12, "a b");
	struct hs h;

	/* no server_name: the host of the address, sent and verified */
	cr_assert(client_shake(&h, s, path("ca.crt"), NULL, "b.example.com:8443"), "%s / %s",
		  h.srv_err, h.cli_err);
	cr_assert_str_eq(SSL_get_servername(h.srv, TLSEXT_NAMETYPE_host_name), "b.example.com");
	cr_assert_str_eq(peer_cn(h.cli), "b.example.com");
	hs_close(&h);

	/* an IP address: no SNI (RFC 6066), verified against the IP entries */
	cr_assert(client_shake(&h, s, path("ca.crt"), NULL, "127.0.0.1:8443"), "%s / %s", h.srv_err,
		  h.cli_err);
	cr_assert_null(SSL_get_servername(h.srv, TLSEXT_NAMETYPE_host_name));
	cr_assert_str_eq(peer_cn(h.cli), "a.example.com");
	hs_close(&h);

	cr_assert_not(client_shake(&h, s, path("ca.crt"), NULL, "[::1]:8443"));
	cr_assert_str_eq(h.cli_err, "certificate verify failed: IP address mismatch");
	hs_close(&h);

	/* server_name as an IP address works the same */
	cr_assert(client_shake(&h, s, path("ca.crt"), "127.0.0.1", "a.example.com:1"), "%s / %s",
		  h.srv_err, h.cli_err);
	cr_assert_null(SSL_get_servername(h.srv, TLSEXT_NAMETYPE_host_name));
	hs_close(&h);
	veer_tls_server_free(s);
}

Test(tls, client_build_errors)
{
	struct veer_pool_tls conf = { .enabled = true };
	char err[512], want[512];

	conf.ca = (char *)path("none.pem");
	cr_assert_null(veer_tls_client_new(&conf, err, sizeof(err)));
	snprintf(want, sizeof(want), "cannot read %s: No such file or directory", conf.ca);
	cr_assert_str_eq(err, want);
	conf.ca = (char *)path("junk.pem");
	cr_assert_null(veer_tls_client_new(&conf, err, sizeof(err)));
	snprintf(want, sizeof(want), "no PEM certificate in %s (no certificate or crl found)",
		 conf.ca);
	cr_assert_str_eq(err, want);
	cr_assert_eq(ERR_peek_error(), 0, "error queue left behind");
}

/* ---- resumption ------------------------------------------------------------ */

/* Two handshakes from one client context, the second offering the first's
 * session: was it resumed?  S1 serves the first, S2 the second. */
static bool resumes(struct veer_tls_server *s1, struct veer_tls_server *s2, int max)
{
	SSL_CTX *ctx = client_ctx(max);
	SSL_SESSION *sess;
	struct hs h;
	bool reused;

	cr_assert(shake(&h, s1, ctx, "a.example.com", NULL), "%s / %s", h.srv_err, h.cli_err);
	cr_assert_not(SSL_session_reused(h.cli));
	sess = take_session(&h);
	cr_assert_not_null(sess);
	cr_assert(SSL_SESSION_is_resumable(sess));
	hs_close(&h);
	cr_assert(shake(&h, s2, ctx, "a.example.com", sess), "%s / %s", h.srv_err, h.cli_err);
	reused = SSL_session_reused(h.cli);
	cr_assert_eq(reused, SSL_session_reused(h.srv) != 0);
	hs_close(&h);
	SSL_SESSION_free(sess);
	SSL_CTX_free(ctx);
	return reused;
}

Test(tls, resumption_same_server)
{
	struct veer_tls_server *s = server(12, "a b");
	struct veer_tls_tickets *t = veer_tls_tickets_new();
	struct veer_tls_server *st = server_t(12, "a b", t);

	cr_assert(resumes(s, s, 0), "TLS 1.3, OpenSSL's ticket keys");
	cr_assert(resumes(s, s, TLS1_2_VERSION), "TLS 1.2, OpenSSL's ticket keys");
	cr_assert(resumes(st, st, 0), "TLS 1.3, veer's ticket keys");
	cr_assert(resumes(st, st, TLS1_2_VERSION), "TLS 1.2, veer's ticket keys");
	veer_tls_server_free(s);
	veer_tls_server_free(st);
	veer_tls_tickets_free(t);
}

Test(tls, resumption_across_builds_with_shared_tickets)
{
	struct veer_tls_tickets *t = veer_tls_tickets_new();
	struct veer_tls_server *s1 = server_t(12, "a b", t);
	struct veer_tls_server *s2 = server_t(12, "b a", t);
	struct veer_tls_server *n1 = server(12, "a b"), *n2 = server(12, "a b");

	cr_assert_not_null(t);
	/* a reload builds new contexts: the registry's keys carry over */
	cr_assert(resumes(s1, s2, 0));
	cr_assert(resumes(s1, s2, TLS1_2_VERSION));
	/* without shared keys each build has its own: no resumption */
	cr_assert_not(resumes(n1, n2, 0));
	cr_assert_not(resumes(n1, n2, TLS1_2_VERSION));
	/* the keys bound after the build (the registry's way) work the same */
	veer_tls_server_set_tickets(n1, t);
	veer_tls_server_set_tickets(n2, t);
	cr_assert(resumes(n1, n2, 0));
	veer_tls_tickets_free(t); /* the servers hold their own references */
	cr_assert(resumes(s2, n1, TLS1_2_VERSION));
	veer_tls_server_free(s1);
	veer_tls_server_free(s2);
	veer_tls_server_free(n1);
	veer_tls_server_free(n2);
}

/* A session from S, then K rotations of T: does S still resume it? */
static bool resumes_after_rotations(struct veer_tls_server *s, struct veer_tls_tickets *t, int k,
				    int max, bool *renewed)
{
	SSL_CTX *ctx = client_ctx(max);
	SSL_SESSION *sess, *next;
	struct hs h;
	bool reused;

	cr_assert(shake(&h, s, ctx, "a.example.com", NULL), "%s / %s", h.srv_err, h.cli_err);
	sess = take_session(&h);
	hs_close(&h);
	for (int i = 0; i < k; i++)
		veer_tls_tickets_rotate(t);
	cr_assert(shake(&h, s, ctx, "a.example.com", sess), "%s / %s", h.srv_err, h.cli_err);
	reused = SSL_session_reused(h.cli);
	next = take_session(&h);
	{
		size_t l1 = 0, l2 = 0;
		const unsigned char *t1 = NULL, *t2 = NULL;
		SSL_SESSION_get0_ticket(sess, &t1, &l1);
		SSL_SESSION_get0_ticket(next, &t2, &l2);
		/* a ticket starts with its key name */
		*renewed =
			t1 != NULL && t2 != NULL && l1 >= 16 && l2 >= 16 && memcmp(t1, t2, 16) != 0;
	}
	hs_close(&h);
	SSL_SESSION_free(sess);
	SSL_SESSION_free(next);
	SSL_CTX_free(ctx);
	return reused;
}

Test(tls, ticket_rotation)
{
	struct veer_tls_tickets *t = veer_tls_tickets_new();
	struct veer_tls_server *s = server_t(12, "a", t);
	bool renewed;

	static const int maxes[] = { 0, TLS1_2_VERSION };

	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		int max = maxes[i];
		cr_assert(resumes_after_rotations(s, t, 0, max, &renewed));
		cr_assert_not(renewed, "a ticket of the current key is kept");
		cr_assert(resumes_after_rotations(s, t, 1, max, &renewed));
		cr_assert(renewed, "a ticket of an older key is renewed with the current one");
		cr_assert(resumes_after_rotations(s, t, 2, max, &renewed));
		cr_assert_not(resumes_after_rotations(s, t, 3, max, &renewed),
			      "three rotations later the key is gone");
	}
	veer_tls_server_free(s);
	veer_tls_tickets_free(t);
}

/* ---- lifetimes and errors -------------------------------------------------- */

Test(tls, ssl_outlives_its_server)
{
	struct veer_tls_server *s = server(12, "a b");
	SSL_CTX *ctx = client_ctx(0);
	struct hs h;

	hs_open(&h);
	h.srv = veer_tls_accept(s, h.fds[0]);
	cr_assert_not_null(h.srv);
	veer_tls_server_free(s); /* the generation goes; the handshake goes on */
	h.cli = test_client(&h, ctx, "x.b.example.com", NULL);
	cr_assert(drive(&h), "%s / %s", h.srv_err, h.cli_err);
	cr_assert_str_eq(peer_cn(h.cli), "b.example.com");
	hs_close(&h);
	SSL_CTX_free(ctx);
}

Test(tls, error_texts)
{
	struct veer_tls_server *s = server(12, "a");
	SSL_CTX *ctx = client_ctx(0);
	char buf[128];
	struct hs h;

	/* the client goes away in the middle of the handshake */
	hs_open(&h);
	h.srv = veer_tls_accept(s, h.fds[0]);
	h.cli = test_client(&h, ctx, NULL, NULL);
	step(h.cli, &h.cli_done, &h.cli_failed, h.cli_err, sizeof(h.cli_err));
	shutdown(h.fds[1], SHUT_WR);
	step(h.srv, &h.srv_done, &h.srv_failed, h.srv_err, sizeof(h.srv_err));
	for (int i = 0; i < 4 && !h.srv_failed; i++)
		step(h.srv, &h.srv_done, &h.srv_failed, h.srv_err, sizeof(h.srv_err));
	cr_assert(h.srv_failed);
	cr_assert_str_eq(h.srv_err, "unexpected eof while reading");
	cr_assert_str_eq(veer_tls_error(h.srv, -1, buf, sizeof(buf)), buf);
	hs_close(&h);

	/* nothing to read yet */
	hs_open(&h);
	h.srv = veer_tls_accept(s, h.fds[0]);
	cr_assert_eq(SSL_do_handshake(h.srv), -1);
	cr_assert_str_eq(veer_tls_error(h.srv, -1, buf, sizeof(buf)), "would block");
	hs_close(&h);
	SSL_CTX_free(ctx);
	veer_tls_server_free(s);
}
