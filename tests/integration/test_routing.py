"""Routing: routes are tried in order, respond: answers directly, a route
with pool: proxies, and a request no route matches gets 404."""

import veertest
from veertest import Client


class RoutingTest(veertest.TestCase):

    def setUp(self):
        self.api = self.backend('api')
        self.other = self.backend('other')
        cfg = '''
        global: { workers: 1 }
        listeners:
          - { name: web, listen: "127.0.0.1:0" }
        pools:
          - { name: api, version: 1.2.3, servers: [ { address: "%s", weight: 1 } ] }
          - { name: other, version: 2.0.0, servers: [ { address: "%s", weight: 1 } ] }
        routes:
          - { name: ping, match: { path_prefix: /ping }, respond: { status: 200, body: "pong\\n" } }
          - { name: teapot, match: { path_prefix: /tea }, respond: { status: 418, body: "short and stout" } }
          - { name: api, match: { path_prefix: /api/ }, pool: api }
          - { name: api-shadowed, match: { path_prefix: /api/never }, pool: other }
          - { name: other, match: { path_prefix: /other }, pool: other }
        ''' % (self.api.address, self.other.address)
        self.v = self.veer(cfg)

    def test_respond_route_exact(self):
        with Client(self.v.port()) as c:
            r = c.get('/ping')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b'pong\n')
            self.assertEqual(r.header('Content-Length'), '5', r)
            self.assertEqual(r.framing, 'length')
            # keep-alive after a direct answer: the same connection serves on
            r2 = c.get('/ping/deeper')
            self.assertEqual((r2.status, r2.body), (200, b'pong\n'))
        self.assertEqual(self.api.received() + self.other.received(), [])

    def test_respond_route_other_status(self):
        r = veertest.http(self.v.port(), 'GET', '/teapot')
        self.assertEqual(r.status, 418, r)
        self.assertEqual(r.body, b'short and stout')
        self.assertEqual(r.header('Content-Length'), '15')

    def test_respond_route_head(self):
        with Client(self.v.port()) as c:
            r = c.request('HEAD', '/ping')
            self.assertEqual(r.status, 200, r)
            # HEAD: no body on the wire; the next response parses cleanly
            r2 = c.get('/ping')
            self.assertEqual((r2.status, r2.body), (200, b'pong\n'))

    def test_path_prefix_to_pool(self):
        r = veertest.http(self.v.port(), 'GET', '/api/users?id=7')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('X-Backend'), 'api')
        self.assertEqual(r.json()['target'], '/api/users?id=7')
        r = veertest.http(self.v.port(), 'GET', '/other/thing')
        self.assertEqual(r.header('X-Backend'), 'other', r)

    def test_first_match_wins(self):
        r = veertest.http(self.v.port(), 'GET', '/api/never')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('X-Backend'), 'api', r)
        self.assertEqual(self.other.received(), [])

    def test_prefix_is_a_prefix_not_a_substring(self):
        # /api (no trailing slash) does not match path_prefix /api/
        r = veertest.http(self.v.port(), 'GET', '/api')
        self.assertVeerError(r, 404)
        r = veertest.http(self.v.port(), 'GET', '/x/api/y')
        self.assertVeerError(r, 404)

    def test_no_route_404(self):
        with Client(self.v.port()) as c:
            r = c.get('/nowhere')
            self.assertVeerError(r, 404)
            # a 404 does not cost the connection
            r2 = c.get('/ping')
            self.assertEqual((r2.status, r2.body), (200, b'pong\n'))
        self.assertEqual(self.api.received() + self.other.received(), [])


if __name__ == '__main__':
    veertest.main()
