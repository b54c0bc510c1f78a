/* libFuzzer target: upstream response heads and bodies through the llhttp
 * glue and the client head writer, including close-delimited endings. */
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
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new(), *sink = evbuffer_new();
	struct veer_resp r = { .http_minor = 1, .pool = "p", .version = "1.0.0", .request_id = "i" };
	int status = 0;
	size_t n = 0;

	veer_msg_init(&m, &p, HTTP_RESPONSE, hdrs, 64);
	m.skip_body = size > 0 && (data[0] & 1);
	if (veer_http1_parse_head(&p, &m, (const char *)data, size, &status) == VEER_OK) {
		r.dechunk = size > 1 && (data[1] & 1);
		veer_http1_write_response(out, &m, &p, &r);
		if (r.dechunk)
			m.body_sink = sink;
		evbuffer_add(in, data + m.head_len, size - m.head_len);
		if (veer_http1_parse_body(&p, &m, in, &n) == VEER_AGAIN)
			(void)veer_http1_finish(&p, &m);
	}
	evbuffer_free(in);
	evbuffer_free(out);
	evbuffer_free(sink);
	return 0;
}
