"""request_headers (SPEC 2 routes[].request_headers): `set` puts a header on
the request to the backend, replacing whatever the client sent under that
name; `remove` drops the named headers.  Only the route that names them
rewrites.  And every proxied response names its pool: X-Veer-Pool and
X-Veer-Version (off with global.expose_headers: false)."""

import veertest
from veertest import Client


def config(a, b, expose=None):
    g = 'global: { workers: 1%s }' % ('' if expose is None else
                                        ', expose_headers: %s' % expose)
    return '''
%s
listeners:
  - { name: web, listen: "127.0.0.1:0" }
pools:
  - { name: api-v1, version: 1.8.3, servers: [ { address: "%s" } ] }
  - { name: plain, version: 0.1.0-rc.2+b7, servers: [ { address: "%s" } ] }
routes:
  - { name: ping, match: { path_prefix: /ping }, respond: { status: 200, body: "pong\\n" } }
  - name: api
    match: { path_prefix: /api/ }
    pool: api-v1
    request_headers:
      set: { X-Env: prod, X-Route: api }
      remove: [X-Internal, X-Debug-Token]
  - { name: plain, match: { path_prefix: / }, pool: plain }
''' % (g, a, b)


class RequestHeadersTest(veertest.TestCase):

    def setUp(self):
        self.a = self.backend('api-v1')
        self.b = self.backend('plain')
        self.v = self.veer(config(self.a.address, self.b.address))

    def one(self, backend, target, headers, method='GET', body=None):
        with Client(self.v.port()) as c:
            r = c.request(method, target, headers, body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('X-Backend'), backend.name, r)
        reqs = [q for q in backend.received() if q.target == target]
        self.assertEqual(len(reqs), 1, reqs)
        return r, reqs[0]

    def test_set_adds_header(self):
        r, req = self.one(self.a, '/api/1', [('X-Kept', 'yes')])
        self.assertEqual(req.header_all('X-Env'), ['prod'], req)
        self.assertEqual(req.header_all('X-Route'), ['api'], req)
        self.assertEqual(req.header_all('X-Kept'), ['yes'], req)

    def test_set_replaces_client_value(self):
        r, req = self.one(self.a, '/api/2', [('X-Env', 'dev'), ('x-env', 'staging'),
                                             ('X-ROUTE', 'evil')])
        self.assertEqual(req.header_all('X-Env'), ['prod'], req)
        self.assertEqual(req.header_all('X-Route'), ['api'], req)

    def test_remove_drops_header(self):
        r, req = self.one(self.a, '/api/3', [('X-Internal', 'secret'), ('X-Kept', 'yes'),
                                             ('x-internal', 'second'),
                                             ('X-DEBUG-TOKEN', 't0k3n'),
                                             ('X-Internal-Not', 'kept')])
        self.assertNotIn('x-internal', req.names(), req)
        self.assertNotIn('x-debug-token', req.names(), req)
        self.assertEqual(req.header_all('X-Kept'), ['yes'], req)
        # a header whose name only starts with a removed one stays
        self.assertEqual(req.header_all('X-Internal-Not'), ['kept'], req)

    def test_rewrite_with_body_and_keep_alive(self):
        with Client(self.v.port()) as c:
            for i in range(3):
                r = c.request('POST', '/api/post%d' % i, [('X-Internal', 's'), ('X-Env', 'qa'),
                                                          ('Content-Type', 'text/plain')],
                              b'hello %d' % i)
                self.assertEqual(r.status, 200, r)
        reqs = [q for q in self.a.received() if q.path.startswith('/api/post')]
        self.assertEqual(len(reqs), 3)
        for i, req in enumerate(reqs):
            self.assertEqual(req.header_all('X-Env'), ['prod'], req)
            self.assertNotIn('x-internal', req.names(), req)
            self.assertEqual(req.body, b'hello %d' % i)

    def test_other_routes_untouched(self):
        r, req = self.one(self.b, '/other', [('X-Internal', 'secret'), ('X-Env', 'dev')])
        self.assertEqual(req.header_all('X-Internal'), ['secret'], req)
        self.assertEqual(req.header_all('X-Env'), ['dev'], req)
        self.assertNotIn('x-route', req.names(), req)

    def test_response_names_pool_and_version(self):
        r, req = self.one(self.a, '/api/v', [])
        self.assertEqual(r.header_all('X-Veer-Pool'), ['api-v1'], r)
        self.assertEqual(r.header_all('X-Veer-Version'), ['1.8.3'], r)
        r, req = self.one(self.b, '/v', [])
        self.assertEqual(r.header_all('X-Veer-Pool'), ['plain'], r)
        # X.Y.Z of the pool: pre-release (and build) as configured
        self.assertIn(r.header('X-Veer-Version'), ('0.1.0-rc.2+b7', '0.1.0-rc.2'), r)

    def test_respond_route_names_no_pool(self):
        r = veertest.http(self.v.port(), 'GET', '/ping')
        self.assertEqual((r.status, r.body), (200, b'pong\n'))
        self.assertIsNone(r.header('X-Veer-Pool'), r)


class ExposeHeadersOffTest(veertest.TestCase):

    def test_expose_headers_false(self):
        a = self.backend('api-v1')
        b = self.backend('plain')
        v = self.veer(config(a.address, b.address, expose='false'))
        for target in ('/api/x', '/x'):
            r = veertest.http(v.port(), 'GET', target)
            self.assertEqual(r.status, 200, r)
            self.assertFalse(r.has('X-Veer-Pool'), r)
            self.assertFalse(r.has('X-Veer-Version'), r)
        # the request rewrite does not depend on it
        self.assertEqual(a.received()[0].header_all('X-Env'), ['prod'])


if __name__ == '__main__':
    veertest.main()
