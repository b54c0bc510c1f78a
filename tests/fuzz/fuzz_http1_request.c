/* libFuzzer target: request heads and bodies through the llhttp glue and
 * the upstream head writer, as the proxy drives them. */
#include <stdint.h>
#include <string.h>

#include "veer/common.h"
#include "veer/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct veer_hdr hdrs[64];
	struct veer_msg m;
	llhttp_t p;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct veer_fwd fwd = { .client_ip = "127.0.0.1", .proto = "http", .request_id = "id",
				.default_host = "h:1" };
	size_t split = size > 0 ? data[0] % (size + 1) : 0;
	int status = 0, rc;
	size_t n;

	veer_msg_init(&m, &p, HTTP_REQUEST, hdrs, 64);
	/* Feed the head in two parts, as two reads would. */
	rc = veer_http1_parse_head(&p, &m, (const char *)data, split, &status);
	if (rc == VEER_AGAIN)
		rc = veer_http1_parse_head(&p, &m, (const char *)data, size, &status);
	if (rc == VEER_OK) {
		veer_http1_write_request(out, &m, &p, &fwd);
		evbuffer_add(in, data + m.head_len, size - m.head_len);
		while (veer_http1_parse_body(&p, &m, in, &n) == VEER_OK && !m.complete)
			evbuffer_drain(in, n);
	}
	evbuffer_free(in);
	evbuffer_free(out);
	return 0;
}
