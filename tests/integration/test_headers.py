"""Header rewriting on the way to the backend and back: X-Forwarded-*,
Via, X-Request-Id, traceparent, Host kept, hop-by-hop headers removed in
both directions (RFC 9110 section 7.6.1)."""


import veertest
from veertest import Client, HOP_BY_HOP, build_request, make_config


class HeadersTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config([self.b.address]))

    def one(self, headers, target='/json', host='example.test:8080', **kw):
        with Client(self.v.port()) as c:
            r = c.request('GET', target, headers, host=host, **kw)
        self.assertEqual(r.status, 200, r)
        reqs = [q for q in self.b.received() if q.target == target]
        self.assertEqual(len(reqs), 1, reqs)
        return r, reqs[0]

    def test_forwarded_headers_set(self):
        r, req = self.one([])
        self.assertEqual(req.header_all('X-Forwarded-For'), ['127.0.0.1'], req)
        self.assertEqual(req.header_all('X-Forwarded-Proto'), ['http'], req)
        self.assertEqual(req.header_all('X-Forwarded-Host'), ['example.test:8080'], req)
        self.assertEqual(req.header_all('Host'), ['example.test:8080'], req)
        via = ', '.join(req.header_all('Via'))
        self.assertIn('1.1 veer', via, req)

    def test_forwarded_for_appended(self):
        r, req = self.one([('X-Forwarded-For', '1.2.3.4')])
        self.assertEqual(', '.join(req.header_all('X-Forwarded-For')), '1.2.3.4, 127.0.0.1', req)

    def test_via_appended(self):
        r, req = self.one([('Via', '1.0 fred')])
        via = ', '.join(req.header_all('Via'))
        self.assertTrue(via.startswith('1.0 fred, '), req)
        self.assertIn('1.1 veer', via)

    def test_request_id_kept(self):
        r, req = self.one([('X-Request-Id', 'abc-123')])
        self.assertEqual(req.header_all('X-Request-Id'), ['abc-123'], req)

    def test_request_id_generated_and_returned(self):
        r, req = self.one([])
        ids = req.header_all('X-Request-Id')
        self.assertEqual(len(ids), 1, req)
        self.assertTrue(ids[0].strip(), req)
        self.assertEqual(r.header('X-Request-Id'), ids[0], r)
        # and unique per request
        r2, req2 = self.one([], target='/json?second')
        self.assertNotEqual(req2.header('X-Request-Id'), ids[0])

    def test_traceparent_started_and_propagated(self):
        # SPEC 3: a W3C traceparent is propagated, or started when absent.
        r, req = self.one([])
        tp = req.header('traceparent')
        self.assertIsNotNone(tp, req)
        self.assertRegex(tp, r'^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$')
        self.assertNotEqual(tp.split('-')[1], '0' * 32)
        sent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
        r, req = self.one([('traceparent', sent)], target='/json?tp')
        got = req.header_all('traceparent')
        self.assertEqual(len(got), 1, req)
        self.assertRegex(got[0], r'^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$')

    def test_hop_by_hop_request_headers_removed(self):
        r, req = self.one([
            ('Connection', 'keep-alive, X-Secret, HTTP2-Settings, Upgrade'),
            ('Keep-Alive', 'timeout=5'),
            ('Proxy-Connection', 'keep-alive'),
            ('TE', 'trailers'),
            ('Trailer', 'X-Checksum'),
            ('Upgrade', 'h2c'),
            ('HTTP2-Settings', 'AAMAAABkAAQAAP__'),
            ('X-Secret', 'do-not-forward'),
            ('X-Kept', 'yes'),
        ])
        names = req.names()
        for h in HOP_BY_HOP + ('x-secret', 'http2-settings'):
            if h != 'connection':
                self.assertNotIn(h, names, req)
        # veer may send its own Connection: keep-alive upstream, but never
        # the client's tokens
        for tok in veertest.header_tokens(req.headers, 'connection'):
            self.assertIn(tok, ('keep-alive', 'close'), req)
        self.assertEqual(req.header('X-Kept'), 'yes', req)
        self.assertNotEqual(r.status, 101)

    def test_connection_close_named_header_not_forwarded(self):
        with Client(self.v.port()) as c:
            r = c.request('GET', '/json', [('Connection', 'close, X-Secret'),
                                           ('X-Secret', 'hush'), ('X-Other', 'ok')])
            self.assertEqual(r.status, 200, r)
            # the client asked to close: veer closes after the response
            self.assertTrue(c.wait_closed(3), 'connection still open after Connection: close')
        req = self.b.received('/json')[0]
        self.assertNotIn('x-secret', req.names(), req)
        self.assertEqual(req.header('X-Other'), 'ok')

    def test_chunked_request_reframed(self):
        body = veertest.pattern_bytes(100000)
        with Client(self.v.port()) as c:
            c.send(build_request('POST', '/echo', [('TE', 'trailers')], body,
                                 chunked=True, chunk_size=7777))
            r = c.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, body)
        req = self.b.received('/echo')[0]
        self.assertEqual(req.body, body)
        # exactly one framing reached the backend, and no TE header
        te = veertest.header_tokens(req.headers, 'transfer-encoding')
        cl = req.header_all('Content-Length')
        self.assertFalse(te and cl, req)
        self.assertIn(req.framing, ('chunked', 'length'))
        self.assertNotIn('te', req.names())

    def test_hop_by_hop_response_headers_removed(self):
        with Client(self.v.port()) as c:
            r = c.get('/hop')
            self.assertEqual((r.status, r.body), (200, b'hop\n'), r)
            names = [k.lower() for k, _ in r.headers]
            for h in ('x-hop', 'keep-alive', 'proxy-connection', 'upgrade'):
                self.assertNotIn(h, names, r)
            for tok in veertest.header_tokens(r.headers, 'connection'):
                self.assertIn(tok, ('keep-alive', 'close'), r)
            self.assertEqual(r.header('X-End-To-End'), 'yes', r)
            # the backend's Connection: X-Hop did not close our connection
            r2 = c.get('/json')
            self.assertEqual(r2.status, 200, r2)

    def test_duplicate_end_to_end_headers_kept_in_order(self):
        r, req = self.one([('X-Multi', 'one'), ('X-Multi', 'two'), ('Cookie', 'a=1')])
        self.assertEqual(req.header_all('X-Multi'), ['one', 'two'], req)
        self.assertEqual(req.header('Cookie'), 'a=1')


if __name__ == '__main__':
    veertest.main()
