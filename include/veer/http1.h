/* veer — HTTP/1.1 glue over llhttp.
 *
 * Heads are parsed in place: the caller makes the head contiguous
 * (evbuffer_pullup) and llhttp's callbacks record offsets into it, so no
 * header is copied while parsing.  Parsing pauses at the end of the head and
 * at the end of each message, which gives the exact byte length of both
 * without a second scan.  Bodies are not parsed into copies either: the
 * parser only walks them to find where the message ends, and the bytes move
 * between buffers untouched (chunked framing included).
 */
#ifndef VEER_HTTP1_H
#define VEER_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <llhttp.h>

struct veer_route_conf; /* config.h */

struct veer_span {
	uint32_t off;
	uint32_t len;
};

/* Header names the proxy treats specially, classified once per header while
 * parsing (on_header_value_complete): the head writers then test a number
 * instead of comparing names again for every rule. */
enum veer_hdr_id {
	VEER_HID_OTHER = 0,
	VEER_HID_HOST,
	VEER_HID_EXPECT,
	VEER_HID_UPGRADE,
	VEER_HID_CONNECTION,
	VEER_HID_KEEP_ALIVE,
	VEER_HID_PROXY_CONNECTION,
	VEER_HID_TE,
	VEER_HID_TRAILER,
	VEER_HID_TRAILERS,
	VEER_HID_TRANSFER_ENCODING,
	VEER_HID_PROXY_AUTHENTICATE,
	VEER_HID_CONTENT_LENGTH,
	VEER_HID_X_REQUEST_ID,
	VEER_HID_X_FORWARDED_FOR,
	VEER_HID_X_FORWARDED_PROTO,
	VEER_HID_X_FORWARDED_HOST,
	VEER_HID_VIA,
	VEER_HID_TRACEPARENT,
};

struct veer_hdr {
	struct veer_span name;
	struct veer_span value;
	uint32_t id; /* enum veer_hdr_id */
};

/* Flags for the headers a proxy must treat specially. */
enum veer_hdr_flag {
	VEER_H_CONNECTION = 1u << 0,
	VEER_H_UPGRADE = 1u << 1,
	VEER_H_CHUNKED = 1u << 3,   /* Transfer-Encoding: chunked seen */
	VEER_H_EXPECT_100 = 1u << 4,
	VEER_H_HOST = 1u << 5,
	VEER_H_WEBSOCKET = 1u << 6, /* Upgrade: websocket */
	VEER_H_CL = 1u << 7,        /* Content-Length present */
	VEER_H_TRANSFER_ENCODING = 1u << 8, /* Transfer-Encoding present (any value) */
	VEER_H_CONN_LISTS = 1u << 9, /* Connection names headers beyond close/keep-alive/upgrade */
};

/* One message head being parsed, and what the body walk needs. */
struct veer_msg {
	const char *base;  /* start of the contiguous head while parsing */
	uint32_t parsed;   /* head bytes already given to llhttp */
	uint32_t head_len; /* length of the complete head, else 0 */
	struct veer_span url;    /* request target */
	struct veer_span reason; /* response reason phrase */
	struct veer_hdr *hdrs;
	uint32_t nhdrs;
	uint32_t max_hdrs;
	uint32_t flags;   /* enum veer_hdr_flag */
	int32_t host;     /* index of Host in hdrs, -1 when absent */
	int32_t req_id;   /* index of X-Request-Id, -1 when absent */
	bool field_open;  /* a header name is being received */
	bool value_open;  /* a header value is being received */
	bool too_many;    /* more than max_hdrs headers */
	bool skip_body;   /* response to HEAD: no body whatever the headers say */
	bool in_body;     /* head done: header callbacks now are trailers */
	bool complete;    /* the whole message (head and body) was seen */
	uint64_t body_bytes;         /* decoded body bytes seen so far */
	uint64_t chunk_left;         /* data bytes left in the current chunk */
	const char *walk_start;      /* the bytes being walked */
	const char *walk_end;
	uint8_t crlf_need;           /* CRLF bytes after chunk data still unchecked */
	char tail[4];                /* the last 4 body bytes walked */
	struct evbuffer *body_sink;  /* when set, decoded body bytes go here */
};

/* Bind PARSER (type HTTP_REQUEST or HTTP_RESPONSE) to MSG with our callbacks
 * and strict settings (no lenient flag).  HDRS (MAX entries) is owned by the
 * caller and must outlive the use. */
void veer_msg_init(struct veer_msg *msg, llhttp_t *parser, llhttp_type_t type,
		   struct veer_hdr *hdrs, uint32_t max);

/* Forget the previous head before parsing the next message. */
void veer_msg_reset(struct veer_msg *msg);

/* Feed the contiguous head BUF (LEN bytes, of which msg->parsed were given
 * before) to the parser.  Returns VEER_OK when the head is complete
 * (msg->head_len set), VEER_AGAIN when more bytes are needed, VEER_ERR on a
 * malformed head (*status gets 400, 431, 505 ...). */
int veer_http1_parse_head(llhttp_t *parser, struct veer_msg *msg, const char *buf,
			  size_t len, int *status);

/* Walk body bytes at the front of IN.  *N gets how many bytes belong to the
 * current message.  VEER_OK: the message ended (msg->complete); VEER_AGAIN:
 * all of IN belongs to it and more is expected; VEER_ERR: bad framing. */
int veer_http1_parse_body(llhttp_t *parser, struct veer_msg *msg, struct evbuffer *in,
			  size_t *n);

/* Tell a response parser that the connection closed: VEER_OK if that ends
 * the message (close-delimited body), VEER_ERR if it was cut short. */
int veer_http1_finish(llhttp_t *parser, struct veer_msg *msg);

/* A span of the head as pointer and length. */
static inline const char *veer_span_ptr(const struct veer_msg *m, struct veer_span s)
{
	return m->base + s.off;
}

/* Value of the first header NAME (case-insensitive) of M, or NULL; *LEN
 * gets its length.  Points into the head. */
const char *veer_msg_header(const struct veer_msg *m, const char *name, size_t *len);

/* The trace id of M's traceparent when it is a valid W3C one: true and the
 * 32 hex digits in OUT. */
bool veer_http1_client_trace(const struct veer_msg *m, char out[33]);

/* Value of cookie NAME (case-sensitive, RFC 6265) in M's Cookie headers, or
 * NULL; *LEN gets its length.  Points into the head. */
const char *veer_msg_cookie(const struct veer_msg *m, const char *name, size_t *len);

/* True when header NAME (a token of the head) is hop-by-hop for a proxy:
 * RFC 9110 §7.6.1 and the historic list of RFC 2616 §13.5.1. */
bool veer_http1_hop_by_hop(const char *name, size_t len);

/* True when the header at index I is named in a Connection header of M
 * (RFC 9110 §7.6.1: such headers are hop-by-hop too). */
bool veer_http1_connection_lists(const struct veer_msg *m, const char *name, size_t len);

/* The reason phrase veer uses for STATUS. */
const char *veer_http1_reason(int status);

/* What the upstream request head needs beyond the client's head. */
struct veer_fwd {
	const char *client_ip;   /* for X-Forwarded-For */
	const char *proto;       /* "http" or "https" */
	const char *request_id;  /* generated id when the client sent none, else NULL */
	const char *default_host; /* Host to send when the client sent none */
	bool upgrade;            /* keep Upgrade/Connection: upgrade (WebSocket) */
	const char *trace_id;    /* 32 hex: a new trace when the client sent none; NULL = no traceparent */
	const char *span_id;     /* 16 hex: veer's span, the upstream's parent */
	const struct veer_route_conf *route; /* request_headers set/remove, or NULL */
};

/* Write the upstream request head for the client head M into OUT.
 * Returns bytes added. */
size_t veer_http1_write_request(struct evbuffer *out, const struct veer_msg *m,
				llhttp_t *parser, const struct veer_fwd *fwd);

/* What the client response head needs beyond the upstream's head. */
struct veer_resp {
	int http_minor;          /* client's HTTP/1.x minor version */
	bool close;              /* veer closes the client connection after it */
	bool keep_alive_10;      /* HTTP/1.0 client asked for keep-alive, granted */
	bool dechunk;            /* body is re-framed (chunked to close-delimited) */
	bool upgrade;            /* 101: keep Upgrade/Connection */
	const char *pool;        /* X-Veer-Pool, NULL = none */
	const char *version;     /* X-Veer-Version, NULL = none */
	const char *request_id;  /* X-Request-Id to add when the upstream sent none */
};

size_t veer_http1_write_response(struct evbuffer *out, const struct veer_msg *m,
				 llhttp_t *parser, const struct veer_resp *r);

/* Write a complete veer-made response (status line, Content-Type text/plain,
 * Content-Length, optional Connection: close, body) into OUT. EXTRA is
 * additional header lines ("Name: v\r\n"...), or NULL.  HEAD_ONLY leaves
 * the body out but keeps its Content-Length (an answer to HEAD). */
void veer_http1_write_simple(struct evbuffer *out, int status, int http_minor, bool close,
			     const char *extra, const char *body, size_t body_len, bool head_only);

#endif
