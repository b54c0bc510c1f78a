/* veer — a minimal DNS message codec (see dns.h).
 *
 * Every read is checked against the message length before it happens.
 * Names follow RFC 1035 section 4.1.4 compression, with one rule that makes
 * loops impossible: a pointer must point before the start of the run of
 * labels it ends, so the runs of one name start at strictly decreasing
 * offsets.  Real encoders only ever point backwards to names written
 * earlier, which this rule accepts.
 */
#include "veer/dns.h"
#include "veer/common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEADER_LEN 12
#define RR_MIN_LEN 11     /* a root owner (1) + type, class, ttl, rdlength (10) */
#define NAME_WIRE_MAX 255 /* RFC 1035 section 2.3.4 */
#define CLASS_IN 1

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t veer_dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype)
{
	size_t nlen = strlen(name), o = HEADER_LEN, wire = 1;
	const char *p = name, *end;

	if (nlen > 0 && name[nlen - 1] == '.')
		nlen--;
	if (nlen == 0)
		return 0;
	end = name + nlen;
	/* name + qtype/qclass + OPT record */
	if (cap < HEADER_LEN + nlen + 2 + 4 + RR_MIN_LEN)
		return 0;
	memset(buf, 0, HEADER_LEN);
	put16(buf, id);
	buf[2] = 0x01;      /* RD: recursion desired */
	put16(buf + 4, 1);  /* QDCOUNT */
	put16(buf + 10, 1); /* ARCOUNT: the OPT record */
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t l = (size_t)((dot != NULL ? dot : end) - p);
		if (l == 0 || l > 63)
			return 0;
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
				return 0;
		wire += l + 1;
		if (wire > NAME_WIRE_MAX)
			return 0;
		buf[o++] = (uint8_t)l;
		memcpy(buf + o, p, l);
		o += l;
		p += l + (dot != NULL);
	}
	if (end > name && end[-1] == '.')
		return 0; /* "a..": an empty last label */
	buf[o++] = 0;
	put16(buf + o, qtype);
	put16(buf + o + 2, CLASS_IN);
	o += 4;
	/* RFC 6891 section 6.1.2: root owner, type OPT, class = UDP payload
	 * size, TTL = extended rcode, version and flags (all 0), no options. */
	buf[o++] = 0;
	put16(buf + o, VEER_DNS_TYPE_OPT);
	put16(buf + o + 2, VEER_DNS_UDP_PAYLOAD);
	memset(buf + o + 4, 0, 6);
	o += 10;
	return o;
}

/* Read the name at *POS of M (LEN bytes) as text into OUT
 * (VEER_DNS_NAME_MAX bytes; the root is ""); *POS moves past the name as
 * it is stored there.  VEER_OK, or VEER_ERR with *WHY set. */
static int read_name(const uint8_t *m, size_t len, size_t *pos, char *out, const char **why)
{
	size_t p = *pos, run = *pos, end = 0, o = 0, wire = 1;
	bool jumped = false;

	for (;;) {
		uint8_t c;
		if (p >= len) {
			*why = "truncated name";
			return VEER_ERR;
		}
		c = m[p];
		if ((c & 0xc0) == 0xc0) {
			size_t target;
			if (p + 1 >= len) {
				*why = "truncated name";
				return VEER_ERR;
			}
			target = ((size_t)(c & 0x3f) << 8) | m[p + 1];
			if (target >= run) {
				*why = "bad compression pointer";
				return VEER_ERR;
			}
			if (!jumped)
				end = p + 2;
			jumped = true;
			p = run = target;
			continue;
		}
		if (c & 0xc0) {
			*why = "unknown label type"; /* RFC 6891 section 5 */
			return VEER_ERR;
		}
		if (c == 0)
			break;
		if (p + 1 + c > len) {
			*why = "truncated name";
			return VEER_ERR;
		}
		wire += (size_t)c + 1;
		if (wire > NAME_WIRE_MAX) {
			*why = "name too long";
			return VEER_ERR;
		}
		/* wire <= 255 bounds the text to 254 bytes and a NUL */
		if (o > 0)
			out[o++] = '.';
		for (size_t i = 0; i < c; i++) {
			uint8_t b = m[p + 1 + i];
			if (b <= 0x20 || b >= 0x7f || b == '.') {
				*why = "bad character in a name";
				return VEER_ERR;
			}
			out[o++] = (char)b;
		}
		p += 1 + (size_t)c;
	}
	out[o] = '\0';
	*pos = jumped ? end : p + 1;
	return VEER_OK;
}

/* Append a copy of RR to *ARR (*N entries). */
static void push_rr(struct veer_dns_rr **arr, size_t *n, const struct veer_dns_rr *rr)
{
	/* capacity 4, then doubled whenever full (a power of two) */
	if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0))
		*arr = veer_xrealloc(*arr, (*n ? *n * 2 : 4) * sizeof(**arr));
	(*arr)[(*n)++] = *rr;
}

/* Parse the record at *POS; keep it in *ARR when KEEP and it is one veer
 * reads.  *KEPT counts the records kept over the message. */
static int parse_rr(const uint8_t *m, size_t len, size_t *pos, bool keep, struct veer_dns_rr **arr,
		    size_t *n, size_t *kept, const char **why)
{
	struct veer_dns_rr rr;
	uint16_t cls, rdlen;
	size_t rd, p;

	memset(&rr, 0, sizeof(rr));
	if (read_name(m, len, pos, rr.name, why) != VEER_OK)
		return VEER_ERR;
	if (len - *pos < 10) {
		*why = "truncated record";
		return VEER_ERR;
	}
	rr.type = get16(m + *pos);
	cls = get16(m + *pos + 2);
	rr.ttl = get32(m + *pos + 4);
	/* RFC 2181 section 8: a TTL with the top bit set is read as 0 */
	if (rr.ttl & 0x80000000u)
		rr.ttl = 0;
	rdlen = get16(m + *pos + 8);
	rd = *pos + 10;
	if (len - rd < rdlen) {
		*why = "truncated record data";
		return VEER_ERR;
	}
	*pos = rd + rdlen;
	if (!keep || cls != CLASS_IN)
		return VEER_OK;
	switch (rr.type) {
	case VEER_DNS_TYPE_A:
		if (rdlen != 4) {
			*why = "bad A record";
			return VEER_ERR;
		}
		memcpy(rr.u.a, m + rd, 4);
		break;
	case VEER_DNS_TYPE_AAAA:
		if (rdlen != 16) {
			*why = "bad AAAA record";
			return VEER_ERR;
		}
		memcpy(rr.u.aaaa, m + rd, 16);
		break;
	case VEER_DNS_TYPE_SRV:
		if (rdlen < 7) {
			*why = "bad SRV record";
			return VEER_ERR;
		}
		rr.u.srv.priority = get16(m + rd);
		rr.u.srv.weight = get16(m + rd + 2);
		rr.u.srv.port = get16(m + rd + 4);
		p = rd + 6;
		/* RFC 2782 forbids compressing the target; tolerate it, but the
		 * name must start and end within the record data. */
		if (read_name(m, len, &p, rr.u.srv.target, why) != VEER_OK)
			return VEER_ERR;
		if (p != rd + rdlen) {
			*why = "bad SRV record";
			return VEER_ERR;
		}
		break;
	default:
		return VEER_OK; /* CNAME, OPT, ...: checked, not kept */
	}
	if (++*kept > VEER_DNS_MAX_RRS) {
		*why = "too many records";
		return VEER_ERR;
	}
	push_rr(arr, n, &rr);
	return VEER_OK;
}

int veer_dns_parse(const uint8_t *msg, size_t len, struct veer_dns_msg *out, char *why,
		   size_t whylen)
{
	const char *reason = NULL;
	uint16_t flags, qd, an, ns, ar;
	size_t pos = HEADER_LEN, kept = 0, i;

	memset(out, 0, sizeof(*out));
	if (len < HEADER_LEN) {
		reason = "truncated header";
		goto fail;
	}
	out->id = get16(msg);
	flags = get16(msg + 2);
	qd = get16(msg + 4);
	an = get16(msg + 6);
	ns = get16(msg + 8);
	ar = get16(msg + 10);
	if (!(flags & 0x8000)) {
		reason = "not a response";
		goto fail;
	}
	if (((flags >> 11) & 0xf) != 0) {
		reason = "not a standard query response";
		goto fail;
	}
	out->tc = (flags & 0x0200) != 0;
	out->rcode = (uint8_t)(flags & 0xf);
	if (qd != 1) {
		reason = "not one question";
		goto fail;
	}
	if (read_name(msg, len, &pos, out->qname, &reason) != VEER_OK)
		goto fail;
	if (len - pos < 4) {
		reason = "truncated question";
		goto fail;
	}
	out->qtype = get16(msg + pos);
	pos += 4;
	/* A truncated message is asked again over TCP: its records are not
	 * worth reading (the last one may be cut). */
	if (out->tc)
		return VEER_OK;
	/* Every record takes at least RR_MIN_LEN bytes: counts that cannot
	 * fit are refused before any work. */
	if (((size_t)an + ns + ar) * RR_MIN_LEN > len - pos) {
		reason = "record counts larger than the message";
		goto fail;
	}
	for (i = 0; i < an; i++)
		if (parse_rr(msg, len, &pos, true, &out->an, &out->nan, &kept, &reason) != VEER_OK)
			goto fail;
	for (i = 0; i < ns; i++)
		if (parse_rr(msg, len, &pos, false, NULL, NULL, &kept, &reason) != VEER_OK)
			goto fail;
	for (i = 0; i < ar; i++)
		if (parse_rr(msg, len, &pos, true, &out->ar, &out->nar, &kept, &reason) != VEER_OK)
			goto fail;
	return VEER_OK;
fail:
	veer_dns_msg_free(out);
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", reason);
	return VEER_ERR;
}

void veer_dns_msg_free(struct veer_dns_msg *m)
{
	free(m->an);
	free(m->ar);
	m->an = m->ar = NULL;
	m->nan = m->nar = 0;
}

bool veer_dns_name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

size_t veer_dns_srv_targets(const struct veer_dns_msg *m, struct veer_dns_target *out, size_t max,
			    uint32_t *ttl)
{
	uint32_t best = UINT32_MAX, maxw = 0;
	size_t i, n = 0;

	for (i = 0; i < m->nan; i++) {
		const struct veer_dns_rr *r = &m->an[i];
		if (r->type == VEER_DNS_TYPE_SRV && r->u.srv.target[0] != '\0' &&
		    r->u.srv.priority < best)
			best = r->u.srv.priority;
	}
	for (i = 0; i < m->nan; i++) {
		const struct veer_dns_rr *r = &m->an[i];
		if (r->type == VEER_DNS_TYPE_SRV && r->u.srv.target[0] != '\0' &&
		    r->u.srv.priority == best && r->u.srv.weight > maxw)
			maxw = r->u.srv.weight;
	}
	for (i = 0; i < m->nan && n < max; i++) {
		const struct veer_dns_rr *r = &m->an[i];
		struct veer_dns_target *t = &out[n];
		uint32_t w = r->u.srv.weight;
		if (r->type != VEER_DNS_TYPE_SRV || r->u.srv.target[0] == '\0' ||
		    r->u.srv.priority != best)
			continue;
		if (maxw == 0)
			w = 1;
		else if (maxw > 1000 && w > 0)
			w = (uint32_t)(((uint64_t)w * 1000 + maxw / 2) / maxw);
		t->weight = w == 0 && r->u.srv.weight > 0 ? 1 : w;
		t->port = r->u.srv.port;
		snprintf(t->name, sizeof(t->name), "%s", r->u.srv.target);
		if (r->ttl < *ttl)
			*ttl = r->ttl;
		n++;
	}
	return n;
}

void veer_dns_make_addr(struct veer_addr *out, const uint8_t *a, size_t len, uint16_t port)
{
	char num[INET6_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	if (len == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a, 4);
		out->len = sizeof(*sin);
		inet_ntop(AF_INET, a, num, sizeof(num));
		snprintf(out->text, sizeof(out->text), "%s:%u", num, (unsigned)port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a, 16);
		out->len = sizeof(*sin6);
		inet_ntop(AF_INET6, a, num, sizeof(num));
		snprintf(out->text, sizeof(out->text), "[%s]:%u", num, (unsigned)port);
	}
}

/* Addresses for NAME among the N records of RRS. */
static size_t addresses_in(const struct veer_dns_rr *rrs, size_t n, const char *name, uint16_t port,
			   struct veer_addr *out, size_t max, uint32_t *ttl)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < max; i++) {
		const struct veer_dns_rr *r = &rrs[i];
		if ((r->type != VEER_DNS_TYPE_A && r->type != VEER_DNS_TYPE_AAAA) ||
		    !veer_dns_name_eq(r->name, name))
			continue;
		if (r->type == VEER_DNS_TYPE_A)
			veer_dns_make_addr(&out[k++], r->u.a, 4, port);
		else
			veer_dns_make_addr(&out[k++], r->u.aaaa, 16, port);
		if (r->ttl < *ttl)
			*ttl = r->ttl;
	}
	return k;
}

size_t veer_dns_addresses(const struct veer_dns_msg *m, const char *name, uint16_t port,
			  struct veer_addr *out, size_t max, uint32_t *ttl)
{
	size_t k = addresses_in(m->an, m->nan, name, port, out, max, ttl);

	return k + addresses_in(m->ar, m->nar, name, port, out + k, max - k, ttl);
}
