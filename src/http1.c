/* veer — HTTP/1.1 glue over llhttp (see http1.h). */
#include "veer/http1.h"
#include "veer/common.h"
#include "veer/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Character classes: TC, tchar of RFC 9110 §5.6.2 (what a field name may
 * hold; llhttp 8.1 lets a space through); AU, what a Host value may hold
 * (RFC 3986 §3.2: unreserved, pct-encoded, sub-delims, ':' and brackets). */
#define TC 1u
#define AU 2u
#define TA (TC | AU)
static const uint8_t chclass[256] = {
	['!'] = TA, ['#'] = TC, ['$'] = TA, ['%'] = TA, ['&'] = TA, ['\''] = TA, ['*'] = TA,
	['+'] = TA, ['-'] = TA, ['.'] = TA, ['^'] = TC, ['_'] = TA, ['`'] = TC, ['|'] = TC,
	['~'] = TA,
	['('] = AU, [')'] = AU, [','] = AU, [';'] = AU, ['='] = AU, [':'] = AU, ['['] = AU,
	[']'] = AU,
	['0'] = TA, ['1'] = TA, ['2'] = TA, ['3'] = TA, ['4'] = TA, ['5'] = TA, ['6'] = TA,
	['7'] = TA, ['8'] = TA, ['9'] = TA,
	['A'] = TA, ['B'] = TA, ['C'] = TA, ['D'] = TA, ['E'] = TA, ['F'] = TA, ['G'] = TA,
	['H'] = TA, ['I'] = TA, ['J'] = TA, ['K'] = TA, ['L'] = TA, ['M'] = TA, ['N'] = TA,
	['O'] = TA, ['P'] = TA, ['Q'] = TA, ['R'] = TA, ['S'] = TA, ['T'] = TA, ['U'] = TA,
	['V'] = TA, ['W'] = TA, ['X'] = TA, ['Y'] = TA, ['Z'] = TA,
	['a'] = TA, ['b'] = TA, ['c'] = TA, ['d'] = TA, ['e'] = TA, ['f'] = TA, ['g'] = TA,
	['h'] = TA, ['i'] = TA, ['j'] = TA, ['k'] = TA, ['l'] = TA, ['m'] = TA, ['n'] = TA,
	['o'] = TA, ['p'] = TA, ['q'] = TA, ['r'] = TA, ['s'] = TA, ['t'] = TA, ['u'] = TA,
	['v'] = TA, ['w'] = TA, ['x'] = TA, ['y'] = TA, ['z'] = TA,
};

static struct veer_msg *msg_of(llhttp_t *p)
{
	return p->data;
}

static uint32_t off_of(const struct veer_msg *m, const char *at)
{
	return (uint32_t)(at - m->base);
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct veer_msg *m = msg_of(p);

	if (m->url.len == 0)
		m->url.off = off_of(m, at);
	m->url.len += (uint32_t)len;
	return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t len)
{
	struct veer_msg *m = msg_of(p);

	if (m->reason.len == 0)
		m->reason.off = off_of(m, at);
	m->reason.len += (uint32_t)len;
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct veer_msg *m = msg_of(p);
	struct veer_hdr *h;

	if (m->in_body) {
		/* Trailer fields travel with the body, unparsed, but their
		 * names must be tokens as any field name (RFC 9112 §5.1,
		 * §7.1.2): no space before the colon, no CTL. */
		size_t i;
		for (i = 0; i < len; i++)
			if (!(chclass[(unsigned char)at[i]] & TC))
				return -1;
		return 0;
	}

	if (!m->field_open) {
		if (m->nhdrs >= m->max_hdrs) {
			m->too_many = true;
			return -1;
		}
		h = &m->hdrs[m->nhdrs];
		h->name.off = off_of(m, at);
		h->name.len = 0;
		/* An empty value gets no on_header_value call at all. */
		h->value.off = h->name.off;
		h->value.len = 0;
		m->field_open = true;
	}
	m->hdrs[m->nhdrs].name.len += (uint32_t)len;
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	if (msg_of(p)->in_body)
		return 0;
	msg_of(p)->field_open = false;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct veer_msg *m = msg_of(p);
	struct veer_hdr *h = &m->hdrs[m->nhdrs];

	if (m->in_body) {
		/* A trailer value folded over lines is refused (RFC 9112
		 * §5.2): llhttp hands the continuation over as a value piece
		 * starting right after the line break. */
		char prev = at > m->walk_start ? at[-1] : m->tail[3];
		if (prev == '\n' || memchr(at, '\n', len) != NULL || memchr(at, '\r', len) != NULL)
			return -1;
		return 0;
	}

	if (!m->value_open) {
		h->value.off = off_of(m, at);
		h->value.len = 0;
		m->value_open = true;
	}
	h->value.len += (uint32_t)len;
	return 0;
}

/* Does the comma-separated list V (LEN bytes) contain TOKEN? */
/* The next element of the comma-separated list V (LEN bytes) from *POS
 * (RFC 9110 §5.6.1: empty elements and OWS skipped): true with *ELEM and *ELEN,
 * or false at the end. */
static bool next_elem(const char *v, size_t len, size_t *pos, const char **elem, size_t *elen)
{
	size_t i = *pos, start, end;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end > start) {
			*pos = i;
			*elem = v + start;
			*elen = end - start;
			return true;
		}
	}
	*pos = i;
	return false;
}

static bool list_has(const char *v, size_t len, const char *token)
{
	const char *e;
	size_t pos = 0, n;

	while (next_elem(v, len, &pos, &e, &n))
		if (veer_token_eq(e, n, token))
			return true;
	return false;
}

static bool is_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!(chclass[(unsigned char)s[i]] & TC))
			return false;
	return true;
}

/* Host's value: host[:port], a reg-name, IPv4 or [IPv6] (RFC 3986 §3.2):
 * unreserved, pct-encoded, sub-delims, ':' and brackets; no spaces, no
 * slashes, no userinfo. */
static bool is_authority(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!(chclass[(unsigned char)v[i]] & AU))
			return false;
	return true;
}

/* Does a Connection value name a header other than the usual options
 * (close, keep-alive, upgrade)?  Only then must every header be checked
 * against it (RFC 9110 §7.6.1). */
static bool names_other_headers(const char *v, size_t len)
{
	const char *e;
	size_t pos = 0, n;

	while (next_elem(v, len, &pos, &e, &n))
		if (!veer_token_eq(e, n, "close") && !veer_token_eq(e, n, "keep-alive") &&
		    !veer_token_eq(e, n, "upgrade"))
			return true;
	return false;
}

/* A name that some servers would read as Content-Length or
 * Transfer-Encoding once '_' becomes '-' or repeated dashes collapse
 * ("Transfer_Encoding", "Content--Length"): a desync vector, refused. */
static bool framing_lookalike(const char *name, size_t len)
{
	char norm[24];
	size_t i, n = 0;

	if (len > 24 || len < 13)
		return false;
	/* Most names are told apart by their first character ('-' and '_'
	 * are skipped below, but no token starts a real name with them). */
	if ((name[0] | 0x20) != 'c' && (name[0] | 0x20) != 't' && name[0] != '-' && name[0] != '_')
		return false;
	for (i = 0; i < len; i++) {
		char ch = name[i];
		if (ch == '-' || ch == '_')
			continue;
		norm[n++] = (char)(ch | 0x20);
	}
	if (!((n == 13 && memcmp(norm, "contentlength", 13) == 0) ||
	      (n == 16 && memcmp(norm, "transferencoding", 16) == 0)))
		return false;
	/* The exact names are not lookalikes (the caller knows them). */
	return true;
}

/* Is token N (LEN bytes, LEN == strlen(LIT)) the lowercase name LIT?
 * Header names are tokens (is_token), and for a token ORing 0x20 into each
 * byte lowercases the letters and leaves '-' as it is (of the bytes that
 * OR to '-', only '-' is a token character): so whole words compare at
 * once, with overlapping loads for the tail. */
static inline uint64_t fold64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v | 0x2020202020202020ull;
}

static inline uint32_t fold32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v | 0x20202020u;
}

static inline uint16_t fold16(const char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return (uint16_t)(v | 0x2020u);
}

static inline bool name_is(const char *n, size_t len, const char *lit)
{
	size_t i;

	if (len >= 8) {
		for (i = 0; i + 8 < len; i += 8)
			if (fold64(n + i) != fold64(lit + i))
				return false;
		return fold64(n + len - 8) == fold64(lit + len - 8);
	}
	if (len >= 4)
		return fold32(n) == fold32(lit) && fold32(n + len - 4) == fold32(lit + len - 4);
	return fold16(n) == fold16(lit) && fold16(n + len - 2) == fold16(lit + len - 2);
}

/* The enum veer_hdr_id of token N (LEN bytes): its length picks the few
 * candidates, most names are told apart by that alone. */
static enum veer_hdr_id classify(const char *n, size_t len)
{
	switch (len) {
	case 2:
		return name_is(n, 2, "te") ? VEER_HID_TE : VEER_HID_OTHER;
	case 3:
		return name_is(n, 3, "via") ? VEER_HID_VIA : VEER_HID_OTHER;
	case 4:
		return name_is(n, 4, "host") ? VEER_HID_HOST : VEER_HID_OTHER;
	case 6:
		return name_is(n, 6, "expect") ? VEER_HID_EXPECT : VEER_HID_OTHER;
	case 7:
		if (name_is(n, 7, "upgrade"))
			return VEER_HID_UPGRADE;
		return name_is(n, 7, "trailer") ? VEER_HID_TRAILER : VEER_HID_OTHER;
	case 8:
		return name_is(n, 8, "trailers") ? VEER_HID_TRAILERS : VEER_HID_OTHER;
	case 10:
		if (name_is(n, 10, "connection"))
			return VEER_HID_CONNECTION;
		return name_is(n, 10, "keep-alive") ? VEER_HID_KEEP_ALIVE : VEER_HID_OTHER;
	case 11:
		return name_is(n, 11, "traceparent") ? VEER_HID_TRACEPARENT : VEER_HID_OTHER;
	case 12:
		return name_is(n, 12, "x-request-id") ? VEER_HID_X_REQUEST_ID : VEER_HID_OTHER;
	case 14:
		return name_is(n, 14, "content-length") ? VEER_HID_CONTENT_LENGTH : VEER_HID_OTHER;
	case 15:
		return name_is(n, 15, "x-forwarded-for") ? VEER_HID_X_FORWARDED_FOR : VEER_HID_OTHER;
	case 16:
		if (name_is(n, 16, "x-forwarded-host"))
			return VEER_HID_X_FORWARDED_HOST;
		return name_is(n, 16, "proxy-connection") ? VEER_HID_PROXY_CONNECTION : VEER_HID_OTHER;
	case 17:
		if (name_is(n, 17, "transfer-encoding"))
			return VEER_HID_TRANSFER_ENCODING;
		return name_is(n, 17, "x-forwarded-proto") ? VEER_HID_X_FORWARDED_PROTO : VEER_HID_OTHER;
	case 18:
		return name_is(n, 18, "proxy-authenticate") ? VEER_HID_PROXY_AUTHENTICATE : VEER_HID_OTHER;
	default:
		return VEER_HID_OTHER;
	}
}

#define HID_BIT(id) (1u << (id))
/* Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded as they came. */
#define HOP_BY_HOP                                                                       \
	(HID_BIT(VEER_HID_TE) | HID_BIT(VEER_HID_TRAILER) | HID_BIT(VEER_HID_TRAILERS) |   \
	 HID_BIT(VEER_HID_UPGRADE) | HID_BIT(VEER_HID_CONNECTION) |                         \
	 HID_BIT(VEER_HID_KEEP_ALIVE) | HID_BIT(VEER_HID_PROXY_CONNECTION) |                \
	 HID_BIT(VEER_HID_TRANSFER_ENCODING) | HID_BIT(VEER_HID_PROXY_AUTHENTICATE))
/* Request headers veer writes itself (request_head), or answers (Expect). */
#define REQUEST_OWN                                                                      \
	(HID_BIT(VEER_HID_X_FORWARDED_FOR) | HID_BIT(VEER_HID_VIA) |                       \
	 HID_BIT(VEER_HID_X_FORWARDED_PROTO) | HID_BIT(VEER_HID_X_FORWARDED_HOST) |         \
	 HID_BIT(VEER_HID_TRACEPARENT) | HID_BIT(VEER_HID_EXPECT))

static int on_header_value_complete(llhttp_t *p)
{
	struct veer_msg *m = msg_of(p);
	struct veer_hdr *h = &m->hdrs[m->nhdrs];
	const char *name, *val;
	bool framing = false; /* exactly Content-Length or Transfer-Encoding */

	if (m->in_body)
		return 0;
	name = m->base + h->name.off;
	val = m->base + h->value.off;

	/* Trailing whitespace is not part of a field value (RFC 9110 §5.5). */
	while (h->value.len > 0 && (val[h->value.len - 1] == ' ' || val[h->value.len - 1] == '\t'))
		h->value.len--;
	m->value_open = false;
	/* An obs-fold (a line starting with SP or HTAB continuing a value)
	 * reaches here as part of the value, as does a bare CR or LF:
	 * head_is_clean refuses all three (lines_clean) before the head is
	 * used. */
	if (!is_token(name, h->name.len))
		return -1;

	h->id = classify(name, h->name.len);
	switch (h->id) {
	case VEER_HID_HOST:
		/* A second Host, or one that is not an authority, is a 400
		 * (RFC 9112 §3.2, RFC 3986 §3.2). */
		if (p->type == HTTP_REQUEST && (m->host >= 0 || !is_authority(val, h->value.len)))
			return -1;
		m->host = (int32_t)m->nhdrs;
		m->flags |= VEER_H_HOST;
		break;
	case VEER_HID_EXPECT:
		if (veer_token_eq(val, h->value.len, "100-continue"))
			m->flags |= VEER_H_EXPECT_100;
		break;
	case VEER_HID_UPGRADE:
		m->flags |= VEER_H_UPGRADE;
		if (list_has(val, h->value.len, "websocket"))
			m->flags |= VEER_H_WEBSOCKET;
		break;
	case VEER_HID_CONNECTION:
		m->flags |= VEER_H_CONNECTION;
		if (names_other_headers(val, h->value.len))
			m->flags |= VEER_H_CONN_LISTS;
		break;
	case VEER_HID_X_REQUEST_ID:
		if (h->value.len > 0)
			m->req_id = (int32_t)m->nhdrs;
		break;
	case VEER_HID_CONTENT_LENGTH:
		m->flags |= VEER_H_CL;
		framing = true;
		break;
	case VEER_HID_TRANSFER_ENCODING:
		m->flags |= VEER_H_TRANSFER_ENCODING;
		framing = true;
		if (list_has(val, h->value.len, "chunked"))
			m->flags |= VEER_H_CHUNKED;
		break;
	default:
		break;
	}
	if (p->type == HTTP_REQUEST && !framing && framing_lookalike(name, h->name.len))
		return -1;
	m->nhdrs++;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct veer_msg *m = msg_of(p);

	/* No body follows the head of a response to HEAD, nor of a 1xx,
	 * 204 or 304 response, whatever its Content-Length says (RFC 9112
	 * §6.3): a 304 may carry the length of the representation it
	 * validates (RFC 9110 §8.6).  llhttp leaves that to this callback. */
	if (m->skip_body ||
	    (p->type == HTTP_RESPONSE &&
	     (p->status_code < 200 || p->status_code == 204 || p->status_code == 304)))
		p->flags |= F_SKIPBODY;
	m->in_body = true;
	/* Pause: the caller learns the exact head length and decides what
	 * to do before any body byte is walked. */
	return HPE_PAUSED;
}

/* Check the CRLF that must follow chunk data, from POS on; what lies past
 * the end of this read is checked at the start of the next one.  llhttp 8.1
 * skips those two bytes without looking at them (RFC 9112 §7.1). */
static int check_crlf(struct veer_msg *m, const char *pos)
{
	while (m->crlf_need > 0 && pos < m->walk_end) {
		if (*pos != (m->crlf_need == 2 ? '\r' : '\n'))
			return -1;
		m->crlf_need--;
		pos++;
	}
	return 0;
}

static int on_chunk_header(llhttp_t *p)
{
	msg_of(p)->chunk_left = p->content_length;
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct veer_msg *m = msg_of(p);

	m->body_bytes += len;
	if (m->body_sink != NULL)
		evbuffer_add(m->body_sink, at, len);
	if (p->flags & F_CHUNKED) {
		m->chunk_left -= len;
		if (m->chunk_left == 0) {
			m->crlf_need = 2;
			return check_crlf(m, at + len);
		}
	}
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	msg_of(p)->complete = true;
	return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
	.on_url = on_url,
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_chunk_header = on_chunk_header,
	.on_message_complete = on_message_complete,
};

void veer_msg_init(struct veer_msg *msg, llhttp_t *parser, llhttp_type_t type,
		   struct veer_hdr *hdrs, uint32_t max)
{
	memset(msg, 0, sizeof(*msg));
	msg->hdrs = hdrs;
	msg->max_hdrs = max;
	msg->host = -1;
	msg->req_id = -1;
	llhttp_init(parser, type, &settings);
	parser->data = msg;
}

void veer_msg_reset(struct veer_msg *msg)
{
	struct veer_hdr *hdrs = msg->hdrs;
	uint32_t max = msg->max_hdrs;
	struct evbuffer *sink = msg->body_sink;

	memset(msg, 0, sizeof(*msg));
	msg->hdrs = hdrs;
	msg->max_hdrs = max;
	msg->host = -1;
	msg->req_id = -1;
	msg->body_sink = sink;
}

static int error_status(llhttp_t *p, const struct veer_msg *m, const char *buf, size_t len)
{
	const char *eol, *v;

	if (m->too_many)
		return 431;
	/* llhttp 8.1 knows only some versions: a well-formed request line
	 * naming another major version ("HTTP/3.0") is a 505 (RFC 9110
	 * §15.6.6), anything else a 400. */
	if (llhttp_get_errno(p) == HPE_INVALID_VERSION && p->type == HTTP_REQUEST &&
	    (eol = memchr(buf, '\r', len)) != NULL && eol - buf >= 9) {
		v = eol - 9;
		if (memcmp(v, " HTTP/", 6) == 0 && v[6] >= '2' && v[6] <= '9' && v[7] == '.' &&
		    v[8] >= '0' && v[8] <= '9')
			return 505;
	}
	return 400;
}

/* Masks of the CR, LF, and SP or HTAB bytes among the 16 at P (bit i for
 * P[i]). */
static inline void scan16(const char *p, uint32_t *cr, uint32_t *lf, uint32_t *ws)
{
#if defined(__SSE2__)
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);

	*cr = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
	*lf = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
	*ws = (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
						       _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))));
#else
	*cr = *lf = *ws = 0;
	for (unsigned i = 0; i < 16; i++) {
		*cr |= (uint32_t)(p[i] == '\r') << i;
		*lf |= (uint32_t)(p[i] == '\n') << i;
		*ws |= (uint32_t)(p[i] == ' ' || p[i] == '\t') << i;
	}
#endif
}

/* The line structure of a head of LEN bytes, 16 bytes at a time:
 * - every CR ends a line, so an LF follows it (RFC 9112 §2.2): llhttp 8.1
 *   takes a bare CR as a line end (CVE-2023-30589);
 * - every LF ends a CRLF: llhttp 8.1 takes "\r\n\n" as the end of a head,
 *   and a bare LF after the request line;
 * - no line starts with SP or HTAB: that continues the previous line
 *   (obs-fold), refused wherever it is (RFC 9112 §5.2; llhttp unfolds some
 *   fields, Transfer-Encoding among them, silently).
 * The first two are one test: the LF positions are the CR positions moved
 * by one. */
static bool lines_clean(const char *buf, size_t len)
{
	uint32_t cr_in = 0, lf_in = 0; /* a CR, an LF at the previous block's last byte */
	char tail[16];

	for (size_t i = 0; i < len; i += 16) {
		const char *p = buf + i;
		uint32_t cr, lf, ws, valid = 0xffffu;

		if (len - i < 16) {
			memset(tail, 0, sizeof(tail));
			memcpy(tail, p, len - i);
			p = tail;
			valid = (1u << (len - i)) - 1;
		}
		scan16(p, &cr, &lf, &ws);
		cr &= valid;
		lf &= valid;
		ws &= valid;
		if (lf != (((cr << 1) | cr_in) & valid) || (((lf << 1) | lf_in) & ws) != 0)
			return false;
		cr_in = (cr & ~(valid >> 1)) != 0;
		lf_in = (lf & ~(valid >> 1)) != 0;
	}
	return cr_in == 0; /* a CR as the very last byte has no LF */
}

/* Checks llhttp 8.1 does not make (or makes leniently), on a complete
 * head.  Each rule is one of RFC 9112's; breaking any is a 400. */
static int head_is_clean(llhttp_t *p, struct veer_msg *m, const char *buf)
{
	const char *end = buf + m->head_len, *pos;
	uint32_t i;

	if (!lines_clean(buf, m->head_len))
		return 400;
	if (m->head_len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0)
		return 400;
	if (p->type != HTTP_REQUEST)
		return 0;
	/* The request-target is visible ASCII only (RFC 9112 §3.2, RFC 3986). */
	for (i = 0; i < m->url.len; i++) {
		unsigned char ch = (unsigned char)buf[m->url.off + i];
		if (ch <= 0x20 || ch >= 0x7f)
			return 400;
	}
	/* The protocol is HTTP: llhttp also takes RTSP/1.0 and ICE/1.0. */
	pos = buf + m->url.off + m->url.len;
	if (end - pos < 9 || memcmp(pos, " HTTP/", 6) != 0)
		return 400;
	/* Transfer-Encoding with Content-Length, even an empty one, is a
	 * smuggling vector (RFC 9112 §6.1): refused, not resolved. */
	if ((m->flags & VEER_H_TRANSFER_ENCODING) && ((m->flags & VEER_H_CL) || !(m->flags & VEER_H_CHUNKED)))
		return 400;
	/* Transfer-Encoding in an HTTP/1.0 request: faulty framing (RFC 9112
	 * §6.1). */
	if ((m->flags & VEER_H_TRANSFER_ENCODING) && p->http_major == 1 && p->http_minor == 0)
		return 400;
	return 0;
}

int veer_http1_parse_head(llhttp_t *p, struct veer_msg *m, const char *buf, size_t len,
			  int *status)
{
	llhttp_errno_t err;

	m->base = buf;
	for (;;) {
		err = llhttp_execute(p, buf + m->parsed, len - m->parsed);
		if (err == HPE_OK) {
			m->parsed = (uint32_t)len;
			return VEER_AGAIN;
		}
		if (err == HPE_PAUSED_UPGRADE) {
			/* The previous message asked for an upgrade that did
			 * not happen: go on parsing HTTP. */
			m->parsed = (uint32_t)(llhttp_get_error_pos(p) - buf);
			llhttp_resume_after_upgrade(p);
			continue;
		}
		break;
	}
	if (err == HPE_PAUSED && !m->complete) {
		m->head_len = (uint32_t)(llhttp_get_error_pos(p) - buf);
		m->parsed = m->head_len;
		llhttp_resume(p);
		*status = head_is_clean(p, m, buf);
		if (*status != 0)
			return VEER_ERR;
		if (p->http_major != 1) {
			/* HTTP/0.9 request lines are malformed here; another
			 * major version is well-formed but not ours (RFC 9110
			 * §15.6.6).  A higher 1.x minor is served as 1.1
			 * (RFC 9110 §2.5). */
			*status = p->http_major == 0 ? 400 : 505;
			return VEER_ERR;
		}
		if (p->http_minor > 1)
			p->http_minor = 1;
		if (p->type == HTTP_REQUEST && m->host < 0 && p->http_minor == 1) {
			/* RFC 9112 §3.2: a 1.1 request without Host is a 400. */
			*status = 400;
			return VEER_ERR;
		}
		return VEER_OK;
	}
	*status = error_status(p, m, buf, len);
	return VEER_ERR;
}

/* Remember the last 4 bytes of the body walked so far. */
static void keep_tail(struct veer_msg *m, const char *data, size_t n)
{
	if (n >= 4) {
		memcpy(m->tail, data + n - 4, 4);
		return;
	}
	memmove(m->tail, m->tail + n, 4 - n);
	memcpy(m->tail + 4 - n, data, n);
}

static int walk(llhttp_t *p, struct veer_msg *m, const char *data, size_t len, size_t *used)
{
	llhttp_errno_t err;

	m->walk_start = data;
	m->walk_end = data + len;
	if (m->crlf_need > 0 && check_crlf(m, data) != 0)
		return VEER_ERR;
	err = llhttp_execute(p, data, len);
	if (err == HPE_OK) {
		*used = len;
		keep_tail(m, data, len);
		return VEER_AGAIN;
	}
	if ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) && m->complete) {
		*used = (size_t)(llhttp_get_error_pos(p) - data);
		keep_tail(m, data, *used);
		/* A chunked message ends with the CRLF after the last chunk or
		 * its trailers (RFC 9112 §7.1): llhttp 8.1 also takes a bare
		 * LF there, where a strict server would wait for more. */
		if ((m->flags & VEER_H_CHUNKED) && p->type == HTTP_REQUEST &&
		    memcmp(m->tail, "\r\n\r\n", 4) != 0)
			return VEER_ERR;
		return VEER_OK;
	}
	return VEER_ERR;
}

/* The head says no body follows: the message is complete without asking
 * llhttp (one state machine run less per GET).  A request without
 * Content-Length or Transfer-Encoding has none (RFC 9112 §6.3), nor a
 * response to HEAD, a 1xx, 204 or 304 (on_headers_complete).  Upgrades and
 * CONNECT are left to llhttp. */
static bool bodiless(const llhttp_t *p)
{
	if (p->upgrade)
		return false;
	if (p->flags & F_SKIPBODY)
		return true;
	if (p->flags & (F_CHUNKED | F_TRANSFER_ENCODING))
		return false;
	if (p->flags & F_CONTENT_LENGTH)
		return p->content_length == 0;
	return p->type == HTTP_REQUEST;
}

/* A body of Content-Length bytes (above 0) is counted here, not walked
 * through llhttp: its whole work there is the same subtraction, through
 * the state machine and two callbacks per read.  The head gave llhttp all
 * it decides on, and the parser is reset before its next message.  Bodies
 * that need llhttp: chunked, close-delimited, a sink (re-framing), an
 * upgrade, or none (HEAD, 1xx, 204, 304: on_headers_complete). */
static bool length_framed(const llhttp_t *p, const struct veer_msg *m)
{
	return (p->flags & F_CONTENT_LENGTH) && p->content_length > 0 &&
	       !(p->flags & (F_SKIPBODY | F_CHUNKED | F_TRANSFER_ENCODING)) && !p->upgrade &&
	       m->body_sink == NULL;
}

int veer_http1_parse_body(llhttp_t *p, struct veer_msg *m, struct evbuffer *in, size_t *n)
{
	struct evbuffer_iovec v[16];
	struct evbuffer_ptr ptr;
	size_t total = 0, used = 0;
	int nv, i, rc;

	*n = 0;
	if (m->complete)
		return VEER_OK;
	if (bodiless(p)) {
		m->complete = true;
		return VEER_OK;
	}
	if (length_framed(p, m)) {
		size_t have = evbuffer_get_length(in);
		size_t take = have < p->content_length ? have : (size_t)p->content_length;

		p->content_length -= take;
		m->body_bytes += take;
		*n = take;
		if (p->content_length > 0)
			return VEER_AGAIN;
		m->complete = true;
		return VEER_OK;
	}
	if (evbuffer_get_length(in) == 0) {
		/* A message without body completes without any byte. */
		rc = walk(p, m, "", 0, &used);
		return rc;
	}
	for (;;) {
		evbuffer_ptr_set(in, &ptr, total, EVBUFFER_PTR_SET);
		nv = evbuffer_peek(in, -1, &ptr, v, (int)VEER_ARRAY_LEN(v));
		if (nv <= 0)
			break;
		if (nv > (int)VEER_ARRAY_LEN(v))
			nv = (int)VEER_ARRAY_LEN(v);
		for (i = 0; i < nv; i++) {
			rc = walk(p, m, v[i].iov_base, v[i].iov_len, &used);
			total += used;
			if (rc != VEER_AGAIN) {
				*n = total;
				return rc;
			}
		}
		if (total >= evbuffer_get_length(in))
			break;
	}
	*n = total;
	return VEER_AGAIN;
}

int veer_http1_finish(llhttp_t *p, struct veer_msg *m)
{
	llhttp_errno_t err;

	if (m->complete)
		return VEER_OK;
	if (llhttp_get_errno(p) != HPE_OK)
		return VEER_ERR;
	err = llhttp_finish(p);
	if (m->complete && (err == HPE_OK || err == HPE_PAUSED))
		return VEER_OK;
	return VEER_ERR;
}

bool veer_http1_hop_by_hop(const char *name, size_t len)
{
	return is_token(name, len) && (HOP_BY_HOP & HID_BIT(classify(name, len))) != 0;
}

bool veer_http1_connection_lists(const struct veer_msg *m, const char *name, size_t len)
{
	char tok[128];
	uint32_t i;

	if (!(m->flags & VEER_H_CONNECTION) || len >= sizeof(tok))
		return false;
	memcpy(tok, name, len);
	tok[len] = '\0';
	for (i = 0; i < m->nhdrs; i++) {
		const struct veer_hdr *h = &m->hdrs[i];
		if (h->id == VEER_HID_CONNECTION &&
		    list_has(veer_span_ptr(m, h->value), h->value.len, tok))
			return true;
	}
	return false;
}

/* Is header H of M one the proxy drops when forwarding? */
static bool dropped(const struct veer_msg *m, const struct veer_hdr *h)
{
	/* The body goes on byte for byte, chunked framing and any other
	 * coding included (gzip, chunked): its Transfer-Encoding lines go on
	 * as they came, so no coding is lost (RFC 9112 §6.1).  A response
	 * re-framed for an HTTP/1.0 client drops them (write_response). */
	if (h->id == VEER_HID_TRANSFER_ENCODING && (m->flags & VEER_H_CHUNKED))
		return false;
	return (HOP_BY_HOP & HID_BIT(h->id)) != 0 ||
	       ((m->flags & VEER_H_CONN_LISTS) &&
		veer_http1_connection_lists(m, veer_span_ptr(m, h->name), h->name.len));
}

static bool named(const struct veer_msg *m, const struct veer_hdr *h, const char *lit)
{
	/* Most names differ in length: no compare at all for those. */
	size_t n = strlen(lit);

	return h->name.len == n && strncasecmp(veer_span_ptr(m, h->name), lit, n) == 0;
}

/* Heads are written into one region reserved in the output buffer, sized
 * from the head being rewritten: one reservation and plain copies, not an
 * evbuffer_add per piece. */
struct obuf {
	char *p;
	char *end;
	bool overflow;
};

static void ob_add(struct obuf *o, const void *s, size_t n)
{
	if (VEER_UNLIKELY((size_t)(o->end - o->p) < n)) {
		o->overflow = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

#define OB_LIT(o, lit) ob_add((o), (lit), sizeof(lit) - 1)

/* Append a C string; no printf on the request path. */
static void put(struct obuf *out, const char *s)
{
	ob_add(out, s, strlen(s));
}

static void put_line(struct obuf *out, const char *name_colon_sp, const char *value)
{
	put(out, name_colon_sp);
	put(out, value);
	OB_LIT(out, "\r\n");
}

static void add_hdr(struct obuf *out, const struct veer_msg *m, const struct veer_hdr *h)
{
	ob_add(out, veer_span_ptr(m, h->name), h->name.len);
	OB_LIT(out, ": ");
	ob_add(out, veer_span_ptr(m, h->value), h->value.len);
	OB_LIT(out, "\r\n");
}

/* Offset just past the CRLF that ends header line I. */
static uint32_t line_end(const struct veer_msg *m, uint32_t i)
{
	return i + 1 < m->nhdrs ? m->hdrs[i + 1].name.off : m->head_len - 2;
}

/* Copy the header lines of M that KEEP accepts, as runs of consecutive raw
 * lines: most heads go out in one or two copies, not one per header. */
static void copy_kept(struct obuf *out, const struct veer_msg *m,
		      bool (*keep)(const struct veer_msg *, const struct veer_hdr *, void *), void *arg)
{
	uint32_t i, run = UINT32_MAX;

	for (i = 0; i < m->nhdrs; i++) {
		if (keep(m, &m->hdrs[i], arg)) {
			if (run == UINT32_MAX)
				run = m->hdrs[i].name.off;
			continue;
		}
		if (run != UINT32_MAX) {
			ob_add(out, m->base + run, m->hdrs[i].name.off - run);
			run = UINT32_MAX;
		}
	}
	if (run != UINT32_MAX)
		ob_add(out, m->base + run, line_end(m, m->nhdrs - 1) - run);
}

/* A header the route's request_headers removes or replaces. */
static bool route_overrides(const struct veer_route_conf *r, const struct veer_msg *m,
			    const struct veer_hdr *h)
{
	size_t i;

	for (i = 0; i < r->nremove_headers; i++)
		if (named(m, h, r->remove_headers[i]))
			return true;
	for (i = 0; i < r->nset_headers; i++)
		if (named(m, h, r->set_headers[i].name))
			return true;
	return false;
}

static bool keep_request_hdr(const struct veer_msg *m, const struct veer_hdr *h, void *arg)
{
	const struct veer_fwd *fwd = arg;

	/* Expect is answered by veer itself (see proxy.c). */
	if ((REQUEST_OWN & HID_BIT(h->id)) != 0 || dropped(m, h))
		return false;
	return fwd->route == NULL || !route_overrides(fwd->route, m, h);
}

static bool is_hex(const char *s, size_t n)
{
	size_t i;
	bool nonzero = false;

	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
		nonzero |= s[i] != '0';
	}
	return nonzero;
}

/* A W3C trace-context traceparent of version 00:
 * "00-" 32 hex trace-id "-" 16 hex parent-id "-" 2 hex flags. */
static bool valid_traceparent(const char *v, size_t n)
{
	return n == 55 && v[0] == '0' && v[1] == '0' && v[2] == '-' && is_hex(v + 3, 32) &&
	       v[35] == '-' && is_hex(v + 36, 16) && v[52] == '-' &&
	       (is_hex(v + 53, 2) || (v[53] == '0' && v[54] == '0'));
}

/* traceparent for the upstream: the client's trace continues with veer's
 * span as the parent; without a valid one, veer starts a trace. */
static void write_traceparent(struct obuf *out, const struct veer_msg *m,
			      const struct veer_fwd *fwd)
{
	uint32_t i;

	for (i = 0; i < m->nhdrs; i++) {
		const struct veer_hdr *h = &m->hdrs[i];
		const char *v = veer_span_ptr(m, h->value);
		if (h->id == VEER_HID_TRACEPARENT && valid_traceparent(v, h->value.len)) {
			ob_add(out, "traceparent: 00-", 16);
			ob_add(out, v + 3, 33);
			ob_add(out, fwd->span_id, 16);
			ob_add(out, v + 52, 3);
			ob_add(out, "\r\n", 2);
			return;
		}
	}
	ob_add(out, "traceparent: 00-", 16);
	ob_add(out, fwd->trace_id, 32);
	ob_add(out, "-", 1);
	ob_add(out, fwd->span_id, 16);
	ob_add(out, "-01\r\n", 5);
}

struct resp_keep {
	bool has_req_id;
	bool dechunk;
};

static bool keep_response_hdr(const struct veer_msg *m, const struct veer_hdr *h, void *arg)
{
	struct resp_keep *k = arg;
	bool *has_req_id = &k->has_req_id;

	if (dropped(m, h))
		return false;
	/* Re-framed for an HTTP/1.0 client: the chunked coding is gone. */
	if (k->dechunk && h->id == VEER_HID_TRANSFER_ENCODING)
		return false;
	if (h->id == VEER_HID_X_REQUEST_ID)
		*has_req_id = true;
	return true;
}

static void request_head(struct obuf *out, const struct veer_msg *m, llhttp_t *p,
			 const struct veer_fwd *fwd)
{
	const struct veer_hdr *xff = NULL, *via = NULL;
	uint32_t i;

	put(out, llhttp_method_name((llhttp_method_t)p->method));
	ob_add(out, " ", 1);
	ob_add(out, veer_span_ptr(m, m->url), m->url.len);
	ob_add(out, " HTTP/1.1\r\n", 11);
	copy_kept(out, m, keep_request_hdr, (void *)fwd);
	if (fwd->route != NULL) {
		/* request_headers.set: values were checked for CR/LF/NUL at
		 * load, so they cannot inject a header. */
		for (i = 0; i < fwd->route->nset_headers; i++) {
			put(out, fwd->route->set_headers[i].name);
			ob_add(out, ": ", 2);
			put(out, fwd->route->set_headers[i].value);
			ob_add(out, "\r\n", 2);
		}
	}
	for (i = 0; i < m->nhdrs; i++) {
		const struct veer_hdr *h = &m->hdrs[i];
		if (h->id == VEER_HID_X_FORWARDED_FOR && xff == NULL)
			xff = h;
		else if (h->id == VEER_HID_VIA)
			via = h;
	}
	if (m->host < 0 && fwd->default_host != NULL)
		put_line(out, "Host: ", fwd->default_host);
	/* The body travels with its original framing (RFC 9112 §6.1). */
	if (m->flags & VEER_H_CHUNKED)
		ob_add(out, "Transfer-Encoding: chunked\r\n", 28);
	if (fwd->upgrade) {
		ob_add(out, "Connection: upgrade\r\n", 21);
		for (i = 0; i < m->nhdrs; i++)
			if (m->hdrs[i].id == VEER_HID_UPGRADE)
				add_hdr(out, m, &m->hdrs[i]);
	}
	/* X-Forwarded-For: every earlier hop, then this client. */
	ob_add(out, "X-Forwarded-For: ", 17);
	for (i = 0; xff != NULL && i < m->nhdrs; i++) {
		const struct veer_hdr *h = &m->hdrs[i];
		if (h->id == VEER_HID_X_FORWARDED_FOR && h->value.len > 0) {
			ob_add(out, veer_span_ptr(m, h->value), h->value.len);
			ob_add(out, ", ", 2);
		}
	}
	ob_add(out, fwd->client_ip, strlen(fwd->client_ip));
	ob_add(out, "\r\n", 2);
	put_line(out, "X-Forwarded-Proto: ", fwd->proto);
	if (m->host >= 0) {
		ob_add(out, "X-Forwarded-Host: ", 18);
		ob_add(out, veer_span_ptr(m, m->hdrs[m->host].value), m->hdrs[m->host].value.len);
		ob_add(out, "\r\n", 2);
	}
	ob_add(out, "Via: ", 5);
	if (via != NULL && via->value.len > 0) {
		ob_add(out, veer_span_ptr(m, via->value), via->value.len);
		ob_add(out, ", ", 2);
	}
	put(out, p->http_minor == 0 ? "1.0 veer\r\n" : "1.1 veer\r\n");
	if (fwd->trace_id != NULL)
		write_traceparent(out, m, fwd);
	if (fwd->request_id != NULL)
		put_line(out, "X-Request-Id: ", fwd->request_id);
	OB_LIT(out, "\r\n");
}

static void response_head(struct obuf *out, const struct veer_msg *m, llhttp_t *p,
			  const struct veer_resp *r)
{
	struct resp_keep keep = { .dechunk = r->dechunk };
	uint32_t i;

	char status[5] = { (char)('0' + p->status_code / 100 % 10),
			   (char)('0' + p->status_code / 10 % 10), (char)('0' + p->status_code % 10),
			   ' ', '\0' };

	put(out, r->http_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
	ob_add(out, status, 4);
	ob_add(out, veer_span_ptr(m, m->reason), m->reason.len);
	ob_add(out, "\r\n", 2);
	copy_kept(out, m, keep_response_hdr, &keep);
	if ((m->flags & VEER_H_CHUNKED) && !r->dechunk)
		ob_add(out, "Transfer-Encoding: chunked\r\n", 28);
	if (r->upgrade) {
		ob_add(out, "Connection: upgrade\r\n", 21);
		for (i = 0; i < m->nhdrs; i++)
			if (m->hdrs[i].id == VEER_HID_UPGRADE)
				add_hdr(out, m, &m->hdrs[i]);
	} else if (r->close) {
		ob_add(out, "Connection: close\r\n", 19);
	} else if (r->keep_alive_10) {
		ob_add(out, "Connection: keep-alive\r\n", 24);
	}
	if (r->pool != NULL)
		put_line(out, "X-Veer-Pool: ", r->pool);
	if (r->version != NULL)
		put_line(out, "X-Veer-Version: ", r->version);
	if (!keep.has_req_id && r->request_id != NULL)
		put_line(out, "X-Request-Id: ", r->request_id);
	OB_LIT(out, "\r\n");
}

/* Reserve CAP bytes of OUT, let WRITE fill them, commit what it wrote;
 * again with more room in the (unexpected) case the estimate was short. */
#define WRITE_HEAD(out, cap, call)                                                   \
	do {                                                                         \
		size_t cap_ = (cap);                                                 \
		for (;;) {                                                           \
			struct evbuffer_iovec v_;                                    \
			struct obuf ob_;                                             \
			if (evbuffer_reserve_space((out), (ev_ssize_t)cap_, &v_, 1) < 1) \
				abort(); /* out-of-memory policy: see common.h */    \
			ob_.p = v_.iov_base;                                         \
			ob_.end = ob_.p + cap_;                                      \
			ob_.overflow = false;                                        \
			call;                                                        \
			if (!ob_.overflow) {                                         \
				v_.iov_len = (size_t)(ob_.p - (char *)v_.iov_base);   \
				evbuffer_commit_space((out), &v_, 1);                \
				written_ = v_.iov_len;                               \
				break;                                               \
			}                                                            \
			evbuffer_commit_space((out), &v_, 0);                        \
			cap_ *= 2;                                                   \
		}                                                                    \
	} while (0)

size_t veer_http1_write_request(struct evbuffer *out, const struct veer_msg *m, llhttp_t *p,
				const struct veer_fwd *fwd)
{
	size_t written_ = 0, extra = 1024 + (fwd->default_host ? strlen(fwd->default_host) : 0);
	size_t i;

	/* Every header is copied at most twice (X-Forwarded-For, Host), plus
	 * what veer adds. */
	if (fwd->route != NULL)
		for (i = 0; i < fwd->route->nset_headers; i++)
			extra += strlen(fwd->route->set_headers[i].name) +
				 strlen(fwd->route->set_headers[i].value) + 4;
	WRITE_HEAD(out, 2 * (size_t)m->head_len + extra, request_head(&ob_, m, p, fwd));
	return written_;
}

size_t veer_http1_write_response(struct evbuffer *out, const struct veer_msg *m, llhttp_t *p,
				 const struct veer_resp *r)
{
	size_t written_ = 0, extra = 512;

	if (r->pool != NULL)
		extra += strlen(r->pool);
	if (r->version != NULL)
		extra += strlen(r->version);
	if (r->request_id != NULL)
		extra += strlen(r->request_id);
	WRITE_HEAD(out, 2 * (size_t)m->head_len + extra, response_head(&ob_, m, p, r));
	return written_;
}

const char *veer_http1_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

void veer_http1_write_simple(struct evbuffer *out, int status, int http_minor, bool close,
			     const char *extra, const char *body, size_t body_len, bool head_only)
{
	evbuffer_add_printf(out,
			    "HTTP/1.%d %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s%s\r\n",
			    http_minor, status, veer_http1_reason(status), body_len,
			    close ? "Connection: close\r\n" : "", extra ? extra : "");
	if (body_len > 0 && !head_only)
		evbuffer_add(out, body, body_len);
}

const char *veer_msg_header(const struct veer_msg *m, const char *name, size_t *len)
{
	size_t n = strlen(name);
	uint32_t i;

	for (i = 0; i < m->nhdrs; i++) {
		const struct veer_hdr *h = &m->hdrs[i];
		if (h->name.len == n && veer_token_eq(veer_span_ptr(m, h->name), n, name)) {
			*len = h->value.len;
			return veer_span_ptr(m, h->value);
		}
	}
	return NULL;
}

const char *veer_msg_cookie(const struct veer_msg *m, const char *name, size_t *len)
{
	size_t kl = strlen(name);
	uint32_t i;

	for (i = 0; i < m->nhdrs; i++) {
		const char *v, *end;
		if (!veer_token_eq(veer_span_ptr(m, m->hdrs[i].name), m->hdrs[i].name.len, "cookie"))
			continue;
		v = veer_span_ptr(m, m->hdrs[i].value);
		end = v + m->hdrs[i].value.len;
		/* cookie-string = cookie-pair *( ";" SP cookie-pair ) (RFC 6265 §4.2.1) */
		while (v < end) {
			const char *semi = memchr(v, ';', (size_t)(end - v));
			const char *stop = semi ? semi : end;
			while (v < stop && (*v == ' ' || *v == '\t'))
				v++;
			if ((size_t)(stop - v) > kl && memcmp(v, name, kl) == 0 && v[kl] == '=') {
				*len = (size_t)(stop - v) - kl - 1;
				return v + kl + 1;
			}
			v = stop + 1;
		}
	}
	return NULL;
}

bool veer_http1_client_trace(const struct veer_msg *m, char out[33])
{
	size_t len;
	const char *v = veer_msg_header(m, "traceparent", &len);

	if (v == NULL || !valid_traceparent(v, len))
		return false;
	memcpy(out, v + 3, 32);
	out[32] = '\0';
	return true;
}
