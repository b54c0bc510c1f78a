/* Unit tests of service discovery: the DNS codec (src/dns.c: queries,
 * responses, hostile messages, the SRV rules), endpoint sets and files and
 * their application to a config (src/discovery.c), and the
 * pools[].discovery keys of the config loader. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "veer/balance.h"
#include "veer/common.h"
#include "veer/config.h"
#include "veer/discovery.h"
#include "veer/dns.h"

/* ---- a DNS message writer for the tests ------------------------------- */

struct mb {
	uint8_t b[70000];
	size_t n;
};

static void u8(struct mb *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)v;
}

static void u16(struct mb *m, unsigned v)
{
	u8(m, v >> 8);
	u8(m, v & 0xff);
}

static void u32(struct mb *m, uint32_t v)
{
	u16(m, v >> 16);
	u16(m, v & 0xffff);
}

/* NAME uncompressed ("" = the root). */
static void wname(struct mb *m, const char *name)
{
	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t l = dot != NULL ? (size_t)(dot - name) : strlen(name);
		u8(m, (unsigned)l);
		memcpy(m->b + m->n, name, l);
		m->n += l;
		name += l + (dot != NULL);
	}
	u8(m, 0);
}

static void wptr(struct mb *m, unsigned off)
{
	u16(m, 0xc000 | off);
}

static void header(struct mb *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns,
		   unsigned ar)
{
	m->n = 0;
	u16(m, id);
	u16(m, flags);
	u16(m, qd);
	u16(m, an);
	u16(m, ns);
	u16(m, ar);
}

static void question(struct mb *m, const char *name, unsigned type)
{
	wname(m, name);
	u16(m, type);
	u16(m, 1);
}

/* An SRV record owned by the question's name (pointer to offset 12);
 * returns the offset of its target name. */
static size_t srv_rr(struct mb *m, uint32_t ttl, unsigned prio, unsigned weight, unsigned port,
		     const char *target)
{
	size_t at, len_at;

	wptr(m, 12);
	u16(m, VEER_DNS_TYPE_SRV);
	u16(m, 1);
	u32(m, ttl);
	len_at = m->n;
	u16(m, 0);
	u16(m, prio);
	u16(m, weight);
	u16(m, port);
	at = m->n;
	wname(m, target);
	m->b[len_at] = (uint8_t)((m->n - len_at - 2) >> 8);
	m->b[len_at + 1] = (uint8_t)(m->n - len_at - 2);
	return at;
}

/* An A record whose owner is the name at offset OWNER. */
static void a_rr(struct mb *m, size_t owner, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c,
		 uint8_t d)
{
	wptr(m, (unsigned)owner);
	u16(m, VEER_DNS_TYPE_A);
	u16(m, 1);
	u32(m, ttl);
	u16(m, 4);
	u8(m, a);
	u8(m, b);
	u8(m, c);
	u8(m, d);
}

#define SRV_NAME "_http._tcp.api.test"

/* What dnsmasq answers for two srv-host records with host-record glue. */
static void two_srv_answer(struct mb *m)
{
	size_t t1, t2;

	header(m, 0x1234, 0x8580, 1, 2, 0, 2);
	question(m, SRV_NAME, VEER_DNS_TYPE_SRV);
	t1 = srv_rr(m, 30, 0, 10, 9001, "b1.api.test");
	t2 = srv_rr(m, 20, 0, 20, 9002, "B2.api.test");
	a_rr(m, t1, 60, 127, 0, 0, 1);
	a_rr(m, t2, 10, 127, 0, 0, 2);
}

static int parse(const struct mb *m, struct veer_dns_msg *out, char *why)
{
	return veer_dns_parse(m->b, m->n, out, why, 96);
}

/* ---- queries ------------------------------------------------------------ */

Test(dns, build_query_bytes)
{
	uint8_t buf[512], dot[512];
	size_t n = veer_dns_build_query(buf, sizeof(buf), 0xbeef, SRV_NAME, VEER_DNS_TYPE_SRV);
	static const uint8_t want[] = {
		0xbe, 0xef, 0x01, 0x00, 0,    1,   0,   0,   0,   0,   0,   1, /* header: RD, 1 question, 1 OPT */
		5,    '_',  'h',  't',  't',  'p', 4,   '_', 't', 'c', 'p', 3, 'a',
		'p',  'i',  4,    't',  'e',  's', 't', 0,   0,   33,  0,   1, /* question */
		0,    0,    41,   0x10, 0x00, 0,   0,   0,   0,   0,   0,      /* OPT: 4096 bytes */
	};

	cr_assert_eq(n, sizeof(want));
	cr_assert(memcmp(buf, want, n) == 0);
	/* a trailing dot names the same */
	cr_assert_eq(
		veer_dns_build_query(dot, sizeof(dot), 0xbeef, SRV_NAME ".", VEER_DNS_TYPE_SRV), n);
	cr_assert(memcmp(buf, dot, n) == 0);
}

Test(dns, build_query_refuses_bad_names)
{
	uint8_t buf[1024];
	char long_label[80], long_name[300];

	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	for (size_t i = 0; i < 299; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	long_name[299] = '\0';
	cr_assert_eq(veer_dns_build_query(buf, sizeof(buf), 1, "", 1), 0);
	cr_assert_eq(veer_dns_build_query(buf, sizeof(buf), 1, ".", 1), 0);
	cr_assert_eq(veer_dns_build_query(buf, sizeof(buf), 1, "a..b", 1), 0);
	cr_assert_eq(veer_dns_build_query(buf, sizeof(buf), 1, ".a", 1), 0);
	cr_assert_eq(veer_dns_build_query(buf, sizeof(buf), 1, "a..", 1), 0);
	cr_assert_eq(veer_dns_build_query(buf, sizeof(buf), 1, "a b.c", 1), 0);
	cr_assert_eq(veer_dns_build_query(buf, sizeof(buf), 1, long_label, 1), 0);
	cr_assert_eq(veer_dns_build_query(buf, sizeof(buf), 1, long_name, 1), 0);
	cr_assert_eq(veer_dns_build_query(buf, 20, 1, SRV_NAME, 33), 0, "too small a buffer");
	long_label[63] = '\0';
	cr_assert_gt(veer_dns_build_query(buf, sizeof(buf), 1, long_label, 1), 0, "63 is fine");
}

/* ---- responses ---------------------------------------------------------- */

Test(dns, parse_srv_answer_with_glue)
{
	struct mb m;
	struct veer_dns_msg msg;
	char why[96];

	two_srv_answer(&m);
	cr_assert_eq(parse(&m, &msg, why), VEER_OK, "%s", why);
	cr_assert_eq(msg.id, 0x1234);
	cr_assert_not(msg.tc);
	cr_assert_eq(msg.rcode, 0);
	cr_assert_str_eq(msg.qname, SRV_NAME);
	cr_assert_eq(msg.qtype, VEER_DNS_TYPE_SRV);
	cr_assert_eq(msg.nan, 2);
	cr_assert_eq(msg.nar, 2);
	cr_assert_str_eq(msg.an[0].name, SRV_NAME);
	cr_assert_eq(msg.an[0].type, VEER_DNS_TYPE_SRV);
	cr_assert_eq(msg.an[0].ttl, 30);
	cr_assert_eq(msg.an[0].u.srv.weight, 10);
	cr_assert_eq(msg.an[0].u.srv.port, 9001);
	cr_assert_str_eq(msg.an[0].u.srv.target, "b1.api.test");
	cr_assert_str_eq(msg.ar[1].name, "B2.api.test");
	cr_assert_eq(msg.ar[1].u.a[3], 2);
	veer_dns_msg_free(&msg);
}

Test(dns, parse_skips_other_types_and_classes)
{
	struct mb m;
	struct veer_dns_msg msg;
	char why[96];

	header(&m, 7, 0x8180, 1, 3, 1, 1);
	question(&m, "x.test", VEER_DNS_TYPE_A);
	/* CNAME */
	wptr(&m, 12);
	u16(&m, 5);
	u16(&m, 1);
	u32(&m, 5);
	u16(&m, 3);
	u8(&m, 1);
	u8(&m, 'y');
	u8(&m, 0);
	/* an A record of class CH */
	a_rr(&m, 12, 5, 1, 2, 3, 4);
	m.b[m.n - 4 - 2 - 4 - 2] = 3;
	/* an A record, TTL with the top bit set: read as 0 */
	a_rr(&m, 12, 0x80000005u, 10, 0, 0, 1);
	/* authority: SOA-ish junk, skipped */
	wptr(&m, 12);
	u16(&m, 6);
	u16(&m, 1);
	u32(&m, 5);
	u16(&m, 2);
	u16(&m, 0xffff);
	/* additional: OPT */
	u8(&m, 0);
	u16(&m, VEER_DNS_TYPE_OPT);
	u16(&m, 4096);
	u32(&m, 0);
	u16(&m, 0);
	cr_assert_eq(parse(&m, &msg, why), VEER_OK, "%s", why);
	cr_assert_eq(msg.nan, 1);
	cr_assert_eq(msg.an[0].ttl, 0);
	cr_assert_eq(msg.an[0].u.a[0], 10);
	cr_assert_eq(msg.nar, 0);
	veer_dns_msg_free(&msg);
}

Test(dns, parse_truncated_flag_skips_records)
{
	struct mb m;
	struct veer_dns_msg msg;
	char why[96];

	header(&m, 9, 0x8380, 1, 40, 0, 0); /* TC set, records cut away */
	question(&m, SRV_NAME, VEER_DNS_TYPE_SRV);
	cr_assert_eq(parse(&m, &msg, why), VEER_OK, "%s", why);
	cr_assert(msg.tc);
	cr_assert_eq(msg.nan, 0);
	veer_dns_msg_free(&msg);
}

Test(dns, parse_every_truncation_fails_cleanly)
{
	struct mb m;
	struct veer_dns_msg msg;
	char why[96];

	two_srv_answer(&m);
	for (size_t len = 0; len < m.n; len++) {
		int rc = veer_dns_parse(m.b, len, &msg, why, sizeof(why));
		cr_assert_eq(rc, VEER_ERR, "a message cut at %zu bytes of %zu parsed", len, m.n);
		cr_assert_null(msg.an);
		veer_dns_msg_free(&msg);
	}
}

static void expect_bad(const struct mb *m, const char *reason)
{
	struct veer_dns_msg msg;
	char why[96];

	cr_assert_eq(parse(m, &msg, why), VEER_ERR, "parsed, expected \"%s\"", reason);
	cr_assert_str_eq(why, reason);
	cr_assert_null(msg.an);
	cr_assert_null(msg.ar);
}

Test(dns, parse_hostile_messages)
{
	struct mb m;

	/* a pointer to itself */
	header(&m, 1, 0x8180, 1, 0, 0, 0);
	wptr(&m, 12);
	u16(&m, 1);
	u16(&m, 1);
	expect_bad(&m, "bad compression pointer");
	/* two pointers that point at each other: 14 -> 12 is backwards, but
	 * 12 -> 14 points past the start of its run */
	header(&m, 1, 0x8180, 1, 0, 0, 0);
	wptr(&m, 14);
	wptr(&m, 12);
	expect_bad(&m, "bad compression pointer");
	/* a label, then a pointer back into that same label */
	header(&m, 1, 0x8180, 1, 0, 0, 0);
	u8(&m, 1);
	u8(&m, 'a');
	wptr(&m, 12);
	expect_bad(&m, "bad compression pointer");
	/* a forward pointer */
	header(&m, 1, 0x8180, 1, 0, 0, 0);
	wptr(&m, 200);
	expect_bad(&m, "bad compression pointer");
	/* counts far beyond the message */
	header(&m, 1, 0x8180, 1, 65535, 65535, 65535);
	question(&m, "a.test", 1);
	expect_bad(&m, "record counts larger than the message");
	/* a name longer than 255 bytes on the wire */
	header(&m, 1, 0x8180, 1, 0, 0, 0);
	for (int i = 0; i < 130; i++) {
		u8(&m, 1);
		u8(&m, 'a');
	}
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	expect_bad(&m, "name too long");
	/* extended label types (RFC 6891 section 5) */
	header(&m, 1, 0x8180, 1, 0, 0, 0);
	u8(&m, 0x41);
	u8(&m, 0);
	expect_bad(&m, "unknown label type");
	/* a dot or a control byte inside a label */
	header(&m, 1, 0x8180, 1, 0, 0, 0);
	u8(&m, 3);
	u8(&m, 'a');
	u8(&m, '.');
	u8(&m, 'b');
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	expect_bad(&m, "bad character in a name");
	/* a query, not a response */
	header(&m, 1, 0x0100, 1, 0, 0, 0);
	question(&m, "a.test", 1);
	expect_bad(&m, "not a response");
	/* no question */
	header(&m, 1, 0x8180, 0, 0, 0, 0);
	expect_bad(&m, "not one question");
	/* an A record of 5 bytes */
	header(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, "a.test", 1);
	a_rr(&m, 12, 1, 1, 2, 3, 4);
	m.b[m.n - 5] = 5;
	u8(&m, 5);
	expect_bad(&m, "bad A record");
	/* record data longer than the message */
	header(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, "a.test", 1);
	a_rr(&m, 12, 1, 1, 2, 3, 4);
	m.b[m.n - 5] = 50;
	expect_bad(&m, "truncated record data");
	/* an SRV target that runs past its record data */
	header(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, SRV_NAME, VEER_DNS_TYPE_SRV);
	srv_rr(&m, 1, 0, 1, 80, "b1.api.test");
	m.b[m.n - 13 - 6 - 1] = 8; /* rdlength 8: target cut inside its labels */
	expect_bad(&m, "bad SRV record");
}

Test(dns, parse_too_many_records)
{
	static struct mb m;
	struct veer_dns_msg msg;
	char why[96];

	header(&m, 1, 0x8180, 1, 4097, 0, 0);
	question(&m, "a.test", 1);
	for (int i = 0; i < 4097; i++)
		a_rr(&m, 12, 1, 10, 0, (uint8_t)(i >> 8), (uint8_t)i);
	cr_assert_eq(veer_dns_parse(m.b, m.n, &msg, why, sizeof(why)), VEER_ERR);
	cr_assert_str_eq(why, "too many records");
	m.b[7] = 0; /* 4096 answers */
	m.b[6] = 0x10;
	cr_assert_eq(veer_dns_parse(m.b, m.n, &msg, why, sizeof(why)), VEER_OK, "%s", why);
	cr_assert_eq(msg.nan, 4096);
	veer_dns_msg_free(&msg);
}

Test(dns, names_compare_without_case_and_final_dot)
{
	cr_assert(veer_dns_name_eq("B1.Api.Test", "b1.api.test."));
	cr_assert(veer_dns_name_eq("a.", "A"));
	cr_assert_not(veer_dns_name_eq("a.b", "a.c"));
	cr_assert_not(veer_dns_name_eq("a.b", "a.bb"));
}

/* ---- SRV rules ---------------------------------------------------------- */

static struct veer_dns_msg srv_msg(const unsigned (*recs)[3], size_t n)
{
	struct veer_dns_msg m;

	memset(&m, 0, sizeof(m));
	m.an = calloc(n, sizeof(*m.an));
	m.nan = n;
	for (size_t i = 0; i < n; i++) {
		m.an[i].type = VEER_DNS_TYPE_SRV;
		m.an[i].ttl = 100 + (uint32_t)i;
		m.an[i].u.srv.priority = (uint16_t)recs[i][0];
		m.an[i].u.srv.weight = (uint16_t)recs[i][1];
		m.an[i].u.srv.port = (uint16_t)(9000 + i);
		snprintf(m.an[i].u.srv.target, sizeof(m.an[i].u.srv.target), "t%zu.test", i);
	}
	return m;
}

Test(dns, srv_lowest_priority_group_only)
{
	static const unsigned recs[][3] = { { 20, 5 }, { 10, 10 }, { 10, 20 }, { 5, 1 } };
	struct veer_dns_msg m = srv_msg(recs, 4);
	struct veer_dns_target t[8];
	uint32_t ttl = UINT32_MAX;
	size_t n;

	/* record 3 (priority 5) has the root as target: service not there */
	m.an[3].u.srv.target[0] = '\0';
	n = veer_dns_srv_targets(&m, t, 8, &ttl);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(t[0].name, "t1.test");
	cr_assert_eq(t[0].port, 9001);
	cr_assert_eq(t[0].weight, 10);
	cr_assert_eq(t[1].weight, 20);
	cr_assert_eq(ttl, 101, "the smallest TTL of the records used");
	veer_dns_msg_free(&m);
}

Test(dns, srv_weights_scale_into_0_1000)
{
	static const unsigned big[][3] = { { 0, 65535 }, { 0, 30000 }, { 0, 1 }, { 0, 0 } };
	static const unsigned zeros[][3] = { { 0, 0 }, { 0, 0 } };
	struct veer_dns_target t[8];
	uint32_t ttl = UINT32_MAX;
	struct veer_dns_msg m = srv_msg(big, 4);
	size_t n = veer_dns_srv_targets(&m, t, 8, &ttl);

	cr_assert_eq(n, 4);
	cr_assert_eq(t[0].weight, 1000);
	cr_assert_eq(t[1].weight, 458); /* 30000/65535 of 1000, rounded */
	cr_assert_eq(t[2].weight, 1, "a weight above 0 stays above 0");
	cr_assert_eq(t[3].weight, 0, "0 beside others stays 0 (RFC 2782: next to no share)");
	veer_dns_msg_free(&m);
	/* all 0: equally likely */
	m = srv_msg(zeros, 2);
	n = veer_dns_srv_targets(&m, t, 8, &ttl);
	cr_assert_eq(n, 2);
	cr_assert_eq(t[0].weight, 1);
	cr_assert_eq(t[1].weight, 1);
	/* MAX bounds the output */
	cr_assert_eq(veer_dns_srv_targets(&m, t, 1, &ttl), 1);
	veer_dns_msg_free(&m);
}

Test(dns, srv_targets_and_glue_to_endpoints)
{
	struct mb mb;
	struct veer_dns_msg m;
	struct veer_dns_target t[4];
	struct veer_addr a[4];
	uint32_t ttl = UINT32_MAX;
	char why[96];

	two_srv_answer(&mb);
	cr_assert_eq(parse(&mb, &m, why), VEER_OK, "%s", why);
	cr_assert_eq(veer_dns_srv_targets(&m, t, 4, &ttl), 2);
	cr_assert_eq(ttl, 20);
	cr_assert_eq(veer_dns_addresses(&m, t[0].name, t[0].port, a, 4, &ttl), 1);
	cr_assert_str_eq(a[0].text, "127.0.0.1:9001");
	cr_assert_eq(ttl, 20);
	/* owner "B2.api.test", target "B2.api.test": same name */
	cr_assert_eq(veer_dns_addresses(&m, "b2.API.test", 80, a, 4, &ttl), 1);
	cr_assert_str_eq(a[0].text, "127.0.0.2:80");
	cr_assert_eq(ttl, 10);
	cr_assert_eq(veer_dns_addresses(&m, "b3.api.test", 80, a, 4, &ttl), 0);
	veer_dns_msg_free(&m);
}

Test(dns, make_addr_canonical_text)
{
	struct veer_addr a, b;
	uint8_t v6[16] = { 0 };

	v6[15] = 1;
	veer_dns_make_addr(&a, v6, 16, 8080);
	cr_assert_str_eq(a.text, "[::1]:8080");
	cr_assert_eq(veer_parse_addr("[::1]:8080", &b, false), VEER_OK);
	cr_assert_eq(a.len, b.len);
	cr_assert(memcmp(&a.ss, &b.ss, a.len) == 0, "the same sockaddr as the config parser's");
}

/* ---- endpoint sets and files ------------------------------------------ */

static struct veer_endpoint ep(const char *addr, uint32_t w)
{
	struct veer_endpoint e;

	cr_assert_eq(veer_parse_addr(addr, &e.addr, false), VEER_OK);
	e.weight = w;
	return e;
}

Test(endpoints, normalize_sorts_and_merges)
{
	struct veer_endpoint e[] = { ep("127.0.0.1:9002", 1), ep("127.0.0.1:9001", 600),
				     ep("127.0.0.1:9002", 2), ep("127.0.0.1:9001", 600) };
	struct veer_endpoint want[] = { ep("127.0.0.1:9001", 1000), ep("127.0.0.1:9002", 3) };
	size_t n = 4;

	veer_endpoints_normalize(e, &n);
	cr_assert_eq(n, 2);
	cr_assert(veer_endpoints_equal(e, n, want, 2));
	want[1].weight = 4;
	cr_assert_not(veer_endpoints_equal(e, n, want, 2), "a weight differs");
	cr_assert_not(veer_endpoints_equal(e, n, want, 1));
}

static int parse_eps(const char *text, struct veer_endpoint **e, size_t *n,
		     struct veer_errors *errs)
{
	return veer_endpoints_parse("eps.yaml", text, strlen(text), e, n, errs);
}

Test(endpoints, file_parses)
{
	struct veer_errors errs = { 0 };
	struct veer_endpoint *e = NULL;
	size_t n = 0;

	cr_assert_eq(parse_eps("# from consul-template\n"
			       "- { address: 127.0.0.1:9002, weight: 5 }\n"
			       "- address: \"[::1]:9003\"\n"
			       "- { address: 127.0.0.1:9001, weight: 0 }\n",
			       &e, &n, &errs),
		     VEER_OK, "%s", errs.n ? errs.lines[0] : "");
	cr_assert_eq(n, 3);
	cr_assert_str_eq(e[0].addr.text, "127.0.0.1:9001");
	cr_assert_eq(e[0].weight, 0);
	cr_assert_str_eq(e[1].addr.text, "127.0.0.1:9002");
	cr_assert_eq(e[1].weight, 5);
	cr_assert_str_eq(e[2].addr.text, "[::1]:9003");
	cr_assert_eq(e[2].weight, 1, "weight defaults to 1");
	free(e);
	/* empty files are no endpoints, not errors (the caller keeps the last
	 * set all the same) */
	cr_assert_eq(parse_eps("", &e, &n, &errs), VEER_OK);
	cr_assert_eq(n, 0);
	cr_assert_eq(parse_eps("[]\n", &e, &n, &errs), VEER_OK);
	cr_assert_eq(n, 0);
	cr_assert_null(e);
}

static void expect_file_errors(const char *text, const char *const *want, size_t nwant)
{
	struct veer_errors errs = { 0 };
	struct veer_endpoint *e = (struct veer_endpoint *)1;
	size_t n = 7;

	cr_assert_eq(parse_eps(text, &e, &n, &errs), VEER_ERR, "parsed: %s", text);
	cr_assert_null(e);
	cr_assert_eq(n, 0);
	cr_assert_eq(errs.n, nwant, "%zu errors, first: %s", errs.n, errs.n ? errs.lines[0] : "");
	for (size_t i = 0; i < nwant; i++)
		cr_assert_str_eq(errs.lines[i], want[i]);
	veer_errors_free(&errs);
}

#define FILE_ERR(text, ...)                                               \
	do {                                                              \
		static const char *const w_[] = { __VA_ARGS__ };          \
		expect_file_errors(text, w_, sizeof(w_) / sizeof(w_[0])); \
	} while (0)

Test(endpoints, file_errors_have_line_and_column)
{
	FILE_ERR("address: 127.0.0.1:1\n",
		 "eps.yaml:1:1: expected a list of {address, weight}, got a mapping");
	FILE_ERR("- 127.0.0.1:1\n",
		 "eps.yaml:1:3: [0]: expected a mapping {address, weight}, got \"127.0.0.1:1\"");
	FILE_ERR("- { address: 127.0.0.1:1 }\n- { address: 127.0.0.1:2, wieght: 2 }\n",
		 "eps.yaml:2:27: [1]: unknown key \"wieght\" (known keys: address, weight)");
	FILE_ERR("- { weight: 2 }\n", "eps.yaml:1:3: [0]: missing required key \"address\"");
	FILE_ERR("- { address: \"127.0.0.1\" }\n",
		 "eps.yaml:1:14: [0].address: bad address \"127.0.0.1\": missing :PORT");
	FILE_ERR("- address: 127.0.0.1:1\n  weight: 1001\n",
		 "eps.yaml:2:11: [0].weight: 1001 is out of range 0..1000");
	FILE_ERR("- address: 127.0.0.1:1\n  weight: heavy\n",
		 "eps.yaml:2:11: [0].weight: expected an integer, got \"heavy\"");
	FILE_ERR("- address: 127.0.0.1:1\n  weight: [1]\n",
		 "eps.yaml:2:11: [0].weight: expected an integer, got a list");
	FILE_ERR("- { address: 127.0.0.1:1 }\n- { address: 127.0.0.1:1 }\n",
		 "eps.yaml:2:3: [1].address: duplicate endpoint 127.0.0.1:1 (first at [0])");
	FILE_ERR("- { address: 127.0.0.1:1\n- { address: 127.0.0.1:2 }\n",
		 "eps.yaml:2:3: YAML syntax error: did not find expected ',' or '}' (while "
		 "parsing a flow mapping at 1:3)");
	/* every error, not only the first */
	FILE_ERR("- { address: x:y }\n- { weight: -1, address: 127.0.0.1:1 }\n",
		 "eps.yaml:1:14: [0].address: bad address \"x:y\": bad port",
		 "eps.yaml:2:13: [1].weight: -1 is out of range 0..1000");
}

/* ---- the config keys and applying endpoints ---------------------------- */

#define LISTENERS "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
#define ROUTES "routes:\n  - name: r\n    pool: p\n"

static struct veer_config *load_named(const char *name, const char *yaml, struct veer_errors *e)
{
	return veer_config_load_mem(name, yaml, strlen(yaml), e);
}

Test(discovery_config, dns_srv_defaults)
{
	struct veer_errors e = { 0 };
	struct veer_config *c = load_named(
		"t.yaml",
		LISTENERS "pools:\n  - name: p\n    discovery:\n"
			  "      dns: { name: _http._tcp.v2.api.service.consul., resolvers: "
			  "[127.0.0.1:8600, \"::1\", 10.0.0.2] }\n" ROUTES,
		&e);
	const struct veer_discovery_conf *d;

	cr_assert_not_null(c, "%s", e.n ? e.lines[0] : "");
	d = &c->pools[0].discovery;
	cr_assert(d->enabled && d->dns);
	cr_assert_eq(c->pools[0].nservers, 0, "servers may be absent");
	cr_assert_str_eq(d->dns_name, "_http._tcp.v2.api.service.consul.");
	cr_assert_eq(d->dns_type, VEER_DNS_SRV);
	cr_assert_eq(d->dns_port, 0);
	cr_assert_eq(d->dns_refresh, 5000);
	cr_assert_eq(d->ndns_resolvers, 3);
	cr_assert_str_eq(d->dns_resolvers[1], "::1");
	cr_assert_null(d->file);
	veer_config_unref(c);
	veer_config_free(c);
}

Test(discovery_config, dns_a_and_file)
{
	struct veer_errors e = { 0 };
	struct veer_config *c = load_named(
		"/etc/veer/veer.yaml",
		LISTENERS "pools:\n"
			  "  - name: p\n    servers: []\n"
			  "    discovery: { dns: { name: api.ns.svc.cluster.local, type: A, port: "
			  "8080, refresh: 2s } }\n"
			  "  - name: q\n    discovery: { file: endpoints/q.yaml }\n"
			  "  - name: r\n    discovery: { file: /srv/r.yaml }\n"
			  "    servers: [ { address: 127.0.0.1:1 } ]\n" ROUTES,
		&e);

	cr_assert_not_null(c, "%s", e.n ? e.lines[0] : "");
	cr_assert_eq(c->pools[0].discovery.dns_type, VEER_DNS_A);
	cr_assert_eq(c->pools[0].discovery.dns_port, 8080);
	cr_assert_eq(c->pools[0].discovery.dns_refresh, 2000);
	cr_assert_not(c->pools[1].discovery.dns);
	cr_assert_str_eq(c->pools[1].discovery.file, "/etc/veer/endpoints/q.yaml",
			 "relative to the config file");
	cr_assert_str_eq(c->pools[2].discovery.file, "/srv/r.yaml");
	cr_assert_eq(c->pools[2].nservers, 1);
	veer_config_unref(c);
	veer_config_free(c);
}

static void expect_config_error(const char *pools, const char *want)
{
	struct veer_errors e = { 0 };
	char yaml[1024];
	struct veer_config *c;

	snprintf(yaml, sizeof(yaml), LISTENERS "pools:\n  - name: p\n%s" ROUTES, pools);
	c = load_named("t.yaml", yaml, &e);
	cr_assert_null(c, "loaded; expected %s", want);
	cr_assert_eq(e.n, 1, "%zu errors, first: %s", e.n, e.n ? e.lines[0] : "");
	cr_assert_str_eq(e.lines[0], want);
	veer_errors_free(&e);
}

Test(discovery_config, errors)
{
	expect_config_error("    discovery: { file: /a, dns: { name: a.test } }\n",
			    "t.yaml:6:28: pools[0].discovery: give dns or file, not both");
	expect_config_error("    discovery: {}\n",
			    "t.yaml:6:5: pools[0].discovery: needs dns or file");
	expect_config_error("    discovery:\n",
			    "t.yaml:6:5: pools[0].discovery: needs dns or file");
	expect_config_error("    discovery: { dns: { name: a.test, type: AAAA } }\n",
			    "t.yaml:6:45: pools[0].discovery.dns.port: type AAAA needs port (the "
			    "records carry addresses only)");
	expect_config_error("    discovery: { dns: { name: a.test, port: 80 } }\n",
			    "t.yaml:6:39: pools[0].discovery.dns.port: only for types A and AAAA "
			    "(SRV records carry the port)");
	expect_config_error("    discovery: { dns: { name: \"a..test\" } }\n",
			    "t.yaml:6:31: pools[0].discovery.dns.name: bad DNS name \"a..test\" "
			    "(labels of letters, digits, \"-\" and \"_\", separated by dots)");
	expect_config_error("    discovery: { dns: { type: A, port: 80 } }\n",
			    "t.yaml:6:23: pools[0].discovery.dns: missing required key \"name\"");
	expect_config_error("    discovery: { dns: { name: a.test, resolvers: [dns.local:53] } }\n",
			    "t.yaml:6:51: pools[0].discovery.dns.resolvers[0]: bad resolver "
			    "\"dns.local:53\": a numeric address is required here");
	expect_config_error("    discovery: { dns: { name: a.test, resolvers: [\"*:53\"] } }\n",
			    "t.yaml:6:51: pools[0].discovery.dns.resolvers[0]: bad resolver "
			    "\"*:53\": a resolver needs an address, not *");
	expect_config_error("    discovery: { dns: { name: a.test, refresh: 500ms } }\n",
			    "t.yaml:6:48: pools[0].discovery.dns.refresh: 500ms is out of range "
			    "1s..24h");
	expect_config_error("    discovery: { dns: { name: a.test, type: MX } }\n",
			    "t.yaml:6:45: pools[0].discovery.dns.type: unknown value \"MX\" "
			    "(expected one of SRV, A, AAAA)");
	/* without discovery, a pool still needs servers */
	expect_config_error("    servers: []\n",
			    "t.yaml:6:14: pools[0].servers: pool \"p\" has no servers");
}

Test(discovery_apply, endpoints_join_the_pool_and_the_ring)
{
	struct veer_errors e = { 0 };
	static const char yaml[] =
		LISTENERS "pools:\n  - name: p\n    balance: hash\n    hash_on: path\n"
			  "    servers: [ { address: 127.0.0.1:9001, weight: 3 } ]\n"
			  "    discovery: { file: /nonexistent }\n" ROUTES;
	struct veer_config *c = load_named("t.yaml", yaml, &e);
	struct veer_endpoint eps[] = { ep("127.0.0.1:9001", 1), ep("127.0.0.1:9002", 2),
				       ep("[::1]:9003", 1) };
	struct veer_pool_conf *p;
	struct veer_balance_state st;
	struct veer_pick_ctx ctx = { .key = "/a", .key_len = 2 };
	bool seen[3] = { false };
	char key[32];

	cr_assert_not_null(c, "%s", e.n ? e.lines[0] : "");
	p = &c->pools[0];
	veer_discovery_add_endpoints(p, eps, 3);
	cr_assert_eq(p->nservers, 3, "the file's server is not added twice");
	cr_assert_eq(p->servers[0].weight, 3, "and keeps its settings");
	cr_assert_not(p->servers[0].discovered);
	cr_assert_str_eq(p->servers[1].address, "127.0.0.1:9002");
	cr_assert(p->servers[1].discovered);
	cr_assert_eq(p->servers[1].weight, 2);
	cr_assert_str_eq(p->servers[2].address, "[::1]:9003");
	/* the ring was rebuilt: keys reach the new servers */
	veer_balance_state_init(&st, p, 1);
	for (int i = 0; i < 300; i++) {
		int k;
		snprintf(key, sizeof(key), "/k%d", i);
		ctx.key = key;
		ctx.key_len = strlen(key);
		k = p->balancer->pick(p, &st, &ctx);
		cr_assert(k >= 0 && k < 3);
		seen[k] = true;
	}
	cr_assert(seen[0] && seen[1] && seen[2]);
	veer_balance_state_fini(&st);
	veer_config_unref(c);
	veer_config_free(c);
}

static void never_called(void *arg)
{
	(void)arg;
	cr_assert_fail("no change is reported before veer_discovery_wait()");
}

Test(discovery_apply, file_source_read_at_update)
{
	char dir[] = "/tmp/veer-disc-XXXXXX", path[96], bad[96], yaml[1024];
	struct veer_errors e = { 0 };
	struct event_base *base = event_base_new();
	struct veer_discovery *d;
	struct veer_config *c;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/good.yaml", dir);
	snprintf(bad, sizeof(bad), "%s/bad.yaml", dir);
	f = fopen(path, "w");
	fputs("- { address: 127.0.0.1:9002 }\n- { address: 127.0.0.1:9001, weight: 4 }\n", f);
	fclose(f);
	f = fopen(bad, "w");
	fputs("- { address: 127.0.0.1:9002 \n", f);
	fclose(f);
	snprintf(yaml, sizeof(yaml),
		 LISTENERS "pools:\n  - name: p\n    discovery: { file: %s }\n"
			   "  - name: q\n    discovery: { file: %s }\n" ROUTES,
		 path, bad);
	c = load_named("t.yaml", yaml, &e);
	cr_assert_not_null(c, "%s", e.n ? e.lines[0] : "");
	d = veer_discovery_new(base, never_called, NULL);
	veer_discovery_update(d, c);
	veer_discovery_apply(d, c);
	cr_assert_eq(c->pools[0].nservers, 2);
	cr_assert_str_eq(c->pools[0].servers[0].address, "127.0.0.1:9001", "sorted");
	cr_assert_eq(c->pools[0].servers[0].weight, 4);
	cr_assert_eq(c->pools[1].nservers, 0, "a broken file gives nothing");
	cr_assert_eq(veer_discovery_errors(d, "p"), 0);
	cr_assert_eq(veer_discovery_errors(d, "q"), 1);
	veer_discovery_free(d);
	veer_config_unref(c);
	veer_config_free(c);
	event_base_free(base);
	unlink(path);
	unlink(bad);
	rmdir(dir);
}
