"""Every way a backend can frame a response reaches the client intact and
leaves the client connection in step: Content-Length, chunked,
close-delimited, 204, 304, HEAD, a slow body; and a backend that dies in
the middle of a body makes veer close the client connection instead of
leaving it hanging."""

import veertest
from veertest import make_config, pattern_bytes


class ResponseFramingTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config([self.b.address]))
        self.c = self.client(self.v.port())

    def assertNextWorks(self):
        r = self.c.get('/ping')
        self.assertEqual((r.status, r.body), (200, b'pong\n'), r)

    def test_chunked(self):
        r = self.c.get('/bytes/300000?chunked=1&piece=7001')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, pattern_bytes(300000))
        self.assertNextWorks()

    def test_close_delimited(self):
        r = self.c.get('/bytes/300000?close=1')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, pattern_bytes(300000))
        if r.framing != 'close':
            # veer re-framed it (chunked): the client connection may go on
            self.assertNextWorks()

    def test_204_and_304(self):
        r = self.c.get('/status/204')
        self.assertEqual((r.status, r.body), (204, b''), r)
        self.assertNextWorks()
        r = self.c.get('/status/304')
        self.assertEqual((r.status, r.body), (304, b''), r)
        self.assertNextWorks()

    def test_304_with_content_length_has_no_body(self):
        # A 304 may announce the length of the representation; no body
        # follows (RFC 9112 §6.3), so the next request on the connection
        # is answered at once, not after the response timeout.
        for status in (304, 204):
            self.c.settimeout(2)
            r = self.c.get('/status/%d?length=100' % status)
            self.assertEqual((r.status, r.header('Content-Length'), r.body),
                             (status, '100', b''), r)
            self.assertEqual(r.header('X-Backend'), 'b1', r)
            self.assertNextWorks()
        # both answers came over one backend connection, kept alive
        conns = {q.conn for q in self.b.requests}
        self.assertEqual(len(conns), 1, self.b.requests)

    def test_head(self):
        r = self.c.request('HEAD', '/bytes/5000')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('Content-Length'), '5000', r)
        self.assertNextWorks()
        r = self.c.request('HEAD', '/json?chunked=1')
        self.assertEqual(r.status, 200, r)
        self.assertNextWorks()

    def test_error_statuses_pass_through(self):
        for status in (400, 404, 500, 503):
            r = self.c.get('/status/%d' % status)
            self.assertEqual(r.status, status, r)
            self.assertEqual(r.header('X-Backend'), 'b1', r)
            self.assertEqual(r.body, b'status %d\n' % status)

    def test_slow_body(self):
        r = self.c.get('/bytes/100000?slow=30&piece=10000')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, pattern_bytes(100000))
        self.assertNextWorks()

    def test_slow_chunked_body(self):
        r = self.c.get('/bytes/50000?slow=30&piece=5000&chunked=1')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, pattern_bytes(50000))
        self.assertNextWorks()

    def test_backend_dies_mid_body(self):
        self.c.send(veertest.build_request('GET', '/abort/body'))
        first, headers = self.c.stream.read_head()
        self.assertTrue(first.startswith('HTTP/1.1 200'), first)
        got = len(self.c.stream.buf)
        self.c.stream.buf.clear()
        self.c.settimeout(5)
        # veer cannot fix a response it has started: the client connection
        # must end (EOF or reset) before the announced length
        try:
            while True:
                d = self.c.sock.recv(65536)
                if not d:
                    break
                got += len(d)
        except ConnectionResetError:
            pass
        except OSError as e:
            self.fail('client connection not closed after the backend died: %r' % e)
        self.assertLess(got, 100000)


if __name__ == '__main__':
    veertest.main()
