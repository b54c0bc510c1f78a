/* veer — a minimal DNS message codec for service discovery (RFC 1035,
 * RFC 2782 SRV, RFC 6891 EDNS0).
 *
 * libevent 2.1's evdns resolves A and AAAA but has no SRV, so discovery
 * (discovery.c) sends its SRV questions itself and reads the answers with
 * this codec: a query builder and a bounds-checked parser for hostile input
 * (truncated messages, compression loops, counts larger than the message),
 * plus the pure SRV rules (lowest priority group, weight scaling, glue).
 * Nothing here does I/O or allocates beyond the parsed message.
 */
#ifndef VEER_DNS_H
#define VEER_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "veer/config.h"

#define VEER_DNS_TYPE_A 1
#define VEER_DNS_TYPE_AAAA 28
#define VEER_DNS_TYPE_SRV 33
#define VEER_DNS_TYPE_OPT 41

#define VEER_DNS_RCODE_NXDOMAIN 3

/* A name as text ("_http._tcp.api.test", no trailing dot) fits in this. */
#define VEER_DNS_NAME_MAX 256
/* The largest message read (UDP with EDNS0, or TCP). */
#define VEER_DNS_MSG_MAX 65535
/* The EDNS0 UDP payload size veer advertises (RFC 6891 section 6.2.5). */
#define VEER_DNS_UDP_PAYLOAD 4096
/* Records kept from one message; a message with more is refused. */
#define VEER_DNS_MAX_RRS 4096

struct veer_dns_rr {
	char name[VEER_DNS_NAME_MAX]; /* owner, as sent (compare case-insensitively) */
	uint16_t type;                /* VEER_DNS_TYPE_A, _AAAA or _SRV */
	uint32_t ttl;                 /* seconds; a TTL with the top bit set reads 0 */
	union {
		uint8_t a[4];
		uint8_t aaaa[16];
		struct {
			uint16_t priority, weight, port;
			char target[VEER_DNS_NAME_MAX]; /* "" for the root (".") */
		} srv;
	} u;
};

/* A parsed response.  Only class IN records of types A, AAAA and SRV are
 * kept (others, CNAMEs included, are checked and skipped); answer and
 * additional sections apart, authority skipped. */
struct veer_dns_msg {
	uint16_t id;
	bool tc;       /* truncated: ask again over TCP */
	uint8_t rcode; /* 0 = no error, 3 = no such name ... */
	char qname[VEER_DNS_NAME_MAX];
	uint16_t qtype;
	struct veer_dns_rr *an; /* answer section */
	size_t nan;
	struct veer_dns_rr *ar; /* additional section */
	size_t nar;
};

/* Write a recursive query for NAME (text, an optional trailing dot) and
 * QTYPE with id ID and an EDNS0 OPT record into BUF (CAP bytes).  Returns
 * its length, or 0 when NAME is not a valid name or BUF is too small. */
size_t veer_dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name,
			    uint16_t qtype);

/* Parse the response MSG (LEN bytes) into *OUT (zeroed first).  VEER_OK, or
 * VEER_ERR with a short reason in WHY (WHYLEN bytes) and *OUT empty.  A
 * message that is a response with one question is accepted whatever its
 * rcode; the caller checks id, question and rcode.  Free with
 * veer_dns_msg_free() (also after VEER_ERR: a no-op then). */
int veer_dns_parse(const uint8_t *msg, size_t len, struct veer_dns_msg *out, char *why,
		   size_t whylen);
void veer_dns_msg_free(struct veer_dns_msg *m);

/* True when names A and B are the same (ASCII case-insensitive, a trailing
 * dot ignored). */
bool veer_dns_name_eq(const char *a, const char *b);

/* One server an SRV answer names. */
struct veer_dns_target {
	char name[VEER_DNS_NAME_MAX];
	uint16_t port;
	uint32_t weight; /* scaled to veer's 0..1000 */
};

/* The targets of M's SRV answers: only the lowest priority group (RFC 2782:
 * a client must try lower priorities first; veer balances over that group
 * alone), without "." targets (service not available there).  Weights keep
 * their proportions in 0..1000 (scaled down by the group's largest when it
 * exceeds 1000, a weight above 0 never below 1); a group whose weights are
 * all 0 gets 1 each (RFC 2782: then every target is equally likely).
 * Writes at most MAX into OUT; returns how many; *TTL becomes the smallest
 * TTL of the records used (unchanged when none). */
size_t veer_dns_srv_targets(const struct veer_dns_msg *m, struct veer_dns_target *out, size_t max,
			    uint32_t *ttl);

/* The addresses M gives for NAME in A and AAAA records of its answer and
 * additional sections (glue), with PORT: at most MAX into OUT; returns how
 * many.  *TTL becomes the smallest TTL of the records used. */
size_t veer_dns_addresses(const struct veer_dns_msg *m, const char *name, uint16_t port,
			  struct veer_addr *out, size_t max, uint32_t *ttl);

/* A, an IPv4 or IPv6 address in network order (LEN 4 or 16), and PORT as a
 * veer_addr with its canonical text. */
void veer_dns_make_addr(struct veer_addr *out, const uint8_t *a, size_t len, uint16_t port);

#endif
