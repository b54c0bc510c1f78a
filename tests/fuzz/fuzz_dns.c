/* libFuzzer target: the DNS codec of service discovery (src/dns.c).
 *
 * The input is parsed as a response, as any resolver or forger could send
 * it; when it parses, the SRV rules and the glue lookups run over it with
 * their invariants checked.  The input is also taken as a name: a query
 * built from it must read back, once marked as a response, as a question
 * for that same name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veer/common.h"
#include "veer/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
}

static void exercise(const struct veer_dns_msg *m)
{
	struct veer_dns_target t[64];
	struct veer_addr a[8];
	uint32_t ttl = UINT32_MAX;
	size_t n = veer_dns_srv_targets(m, t, 64, &ttl), k;

	if (n > 64 || n > m->nan)
		abort();
	for (size_t i = 0; i < n; i++) {
		check_text(t[i].name, sizeof(t[i].name));
		if (t[i].weight > 1000 || t[i].name[0] == '\0')
			abort();
		k = veer_dns_addresses(m, t[i].name, t[i].port, a, 8, &ttl);
		if (k > 8)
			abort();
		for (size_t j = 0; j < k; j++)
			check_text(a[j].text, sizeof(a[j].text));
	}
	for (size_t i = 0; i < m->nan + m->nar; i++) {
		const struct veer_dns_rr *r = i < m->nan ? &m->an[i] : &m->ar[i - m->nan];
		check_text(r->name, sizeof(r->name));
		if (r->ttl & 0x80000000u)
			abort();
	}
}

/* DATA as a name: a query for it reads back as a question for it. */
static void round_trip(const uint8_t *data, size_t size)
{
	char name[300], back[300];
	uint8_t q[600];
	struct veer_dns_msg m;
	size_t len;

	if (size >= sizeof(name) || memchr(data, '\0', size) != NULL)
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	len = veer_dns_build_query(q, sizeof(q), 0x4242, name, VEER_DNS_TYPE_SRV);
	if (len == 0)
		return;
	if (veer_dns_parse(q, len, &m, NULL, 0) == VEER_OK)
		abort(); /* a query is not a response */
	q[2] |= 0x80;
	if (veer_dns_parse(q, len, &m, NULL, 0) != VEER_OK || m.id != 0x4242 ||
	    m.qtype != VEER_DNS_TYPE_SRV || m.nan != 0 || m.nar != 0)
		abort();
	memcpy(back, name, size + 1);
	if (size > 0 && back[size - 1] == '.')
		back[size - 1] = '\0';
	if (strcmp(m.qname, back) != 0)
		abort();
	veer_dns_msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct veer_dns_msg m;
	char why[96];

	if (veer_dns_parse(data, size, &m, why, sizeof(why)) == VEER_OK) {
		check_text(m.qname, sizeof(m.qname));
		exercise(&m);
	} else if (m.an != NULL || m.ar != NULL || m.nan != 0 || m.nar != 0) {
		abort(); /* a failed parse leaves nothing behind */
	}
	veer_dns_msg_free(&m);
	round_trip(data, size);
	return 0;
}
