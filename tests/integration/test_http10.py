"""HTTP/1.0 clients: answered with HTTP/1.x, the connection closes after
the response unless the client asked for keep-alive; never chunked
(RFC 9112 section 6.1); veer still speaks HTTP/1.1 to the backend."""

import veertest
from veertest import Client, make_config


class Http10Test(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config([self.b.address]))

    def test_http10_closes_after_response(self):
        with Client(self.v.port()) as c:
            r = c.request('GET', '/json', version='HTTP/1.0')
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.version.startswith('HTTP/1.'), r)
            self.assertEqual(r.json()['target'], '/json')
            if r.framing != 'close':
                self.assertTrue(c.wait_closed(3), 'HTTP/1.0 connection left open')
        req = self.b.received('/json')[0]
        self.assertEqual(req.version, 'HTTP/1.1', req)

    def test_http10_without_host(self):
        with Client(self.v.port()) as c:
            r = c.request('GET', '/json', version='HTTP/1.0', host=None)
            self.assertEqual(r.status, 200, r)

    def test_http10_keep_alive(self):
        with Client(self.v.port()) as c:
            r = c.request('GET', '/json?a', [('Connection', 'keep-alive')], version='HTTP/1.0')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.framing, 'length', r)
            self.assertIn('keep-alive', veertest.header_tokens(r.headers, 'connection'), r)
            r = c.request('GET', '/json?b', [('Connection', 'keep-alive')], version='HTTP/1.0')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()['target'], '/json?b')

    def test_http10_never_gets_chunked(self):
        with Client(self.v.port()) as c:
            r = c.request('GET', '/bytes/100000?chunked=1', version='HTTP/1.0')
            self.assertEqual(r.status, 200, r)
            self.assertIsNone(r.header('Transfer-Encoding'), r)
            self.assertEqual(r.body, veertest.pattern_bytes(100000))

    def test_http10_post(self):
        with Client(self.v.port()) as c:
            r = c.request('POST', '/echo', body=b'ten bytes!', version='HTTP/1.0')
            self.assertEqual((r.status, r.body), (200, b'ten bytes!'), r)

    def test_http10_direct_answer(self):
        with Client(self.v.port()) as c:
            r = c.request('GET', '/ping', version='HTTP/1.0')
            self.assertEqual((r.status, r.body), (200, b'pong\n'), r)
            if r.framing != 'close':
                self.assertTrue(c.wait_closed(3))


if __name__ == '__main__':
    veertest.main()
