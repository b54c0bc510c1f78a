"""Hostile and malformed requests: 400 and the connection closed, and
nothing of them reaches the backend (SPEC 3, RFC 9112 sections 2.2, 5,
6.3)."""

import veertest
from veertest import Client, make_config

CASES = {
    'cl_and_te': b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n'
                 b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'cl_and_te_get': b'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n'
                     b'Transfer-Encoding: chunked\r\n\r\n',
    'duplicate_differing_cl': b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n'
                              b'Content-Length: 2\r\n\r\nab',
    'bad_cl': b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\nab',
    'negative_cl': b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n',
    'te_not_chunked_final': b'POST /json HTTP/1.1\r\nHost: a\r\n'
                            b'Transfer-Encoding: chunked, gzip\r\n\r\n',
    'te_unknown': b'POST /json HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n',
    'obs_fold': b'GET /json HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n',
    'bare_lf': b'GET /json HTTP/1.1\nHost: a\n\n',
    'bare_lf_in_header': b'GET /json HTTP/1.1\r\nHost: a\nX-A: 1\r\n\r\n',
    'space_in_header_name': b'GET /json HTTP/1.1\r\nHost: a\r\nBad Name: 1\r\n\r\n',
    'space_before_colon': b'GET /json HTTP/1.1\r\nHost : a\r\n\r\n',
    'invalid_name_char': b'GET /json HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n',
    'bad_request_line': b'GET /json\r\nHost: a\r\n\r\n',
    'bad_version': b'GET /json HTTP/1.x\r\nHost: a\r\n\r\n',
    'control_in_target': b'GET /js\x01on HTTP/1.1\r\nHost: a\r\n\r\n',
    'nul_in_header_value': b'GET /json HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n',
    'http11_without_host': b'GET /json HTTP/1.1\r\nX-A: 1\r\n\r\n',
    'two_hosts': b'GET /json HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
}

# Errors found only in the body, after the head may already be on its way
# to the backend: still 400 and close, but the backend may have seen a head.
BODY_CASES = {
    'bad_chunk_size': b'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
                      b'zz\r\nhello\r\n0\r\n\r\n',
    'chunk_missing_crlf': b'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
                          b'5\r\nhelloXX0\r\n\r\n',
    'chunk_size_overflow': b'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
                           b'fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n',
}


class MalformedTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config([self.b.address]))

    def check(self, name, data):
        with Client(self.v.port(), timeout=5) as c:
            c.send(data)
            try:
                r = c.read_response()
            except (veertest.ProtocolError, OSError) as e:
                self.fail('%s: no 400 response: %r' % (name, e))
            self.assertVeerError(r, 400)
            self.assertTrue(c.wait_closed(3), '%s: connection not closed after 400' % name)

    def test_smuggling_and_syntax_in_head(self):
        for name, data in CASES.items():
            with self.subTest(name):
                self.check(name, data)
        self.assertEqual(self.b.received(), [], 'a malformed request reached the backend')

    def test_bad_chunked_body(self):
        for name, data in BODY_CASES.items():
            with self.subTest(name):
                self.check(name, data)
        self.assertEqual([r for r in self.b.received() if r.complete.is_set()], [],
                         'a malformed body reached the backend whole')

    def test_smuggled_second_request_not_served(self):
        # CL.TE desync attempt: the "body" holds a second request; veer must
        # refuse the whole thing, not forward either part.
        data = (b'POST /json HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\n'
                b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
                b'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n')
        self.check('cl_te_smuggle', data)
        self.assertEqual(self.b.received('/smuggled'), [])
        self.assertEqual(self.b.received(), [])

    def test_good_request_after_bad_connection(self):
        self.check('cl_and_te', CASES['cl_and_te'])
        r = veertest.http(self.v.port(), 'GET', '/json')
        self.assertEqual(r.status, 200, r)


if __name__ == '__main__':
    veertest.main()
