"""Route matching (SPEC 2 routes[].match, SPEC 3 Routing): every condition
given must hold -- host (exact or "*.example.com", case-insensitive, port
ignored), path_prefix, methods, headers; a request that fails one falls
through to the next route, and past the last to a 404 from veer."""

import veertest
from veertest import Client


class RouteMatchTest(veertest.TestCase):

    def setUp(self):
        self.hit = self.backend('hit')
        self.next = self.backend('next')
        cfg = '''
global: { workers: 1 }
listeners:
  - { name: web, listen: "127.0.0.1:0" }
pools:
  - { name: hit, version: 1.0.0, servers: [ { address: "%s" } ] }
  - { name: next, version: 2.0.0, servers: [ { address: "%s" } ] }
routes:
  - { name: wild, match: { host: "*.example.com", path_prefix: /wild/ }, pool: hit }
  - { name: exact, match: { host: "API.Example.org", path_prefix: /exact/ }, pool: hit }
  - { name: methods, match: { path_prefix: /m/, methods: [GET, POST] }, pool: hit }
  - { name: hdr, match: { path_prefix: /h/, headers: { X-Beta: "1" } }, pool: hit }
  - name: all
    match:
      host: "*.example.com"
      path_prefix: /api/
      methods: [GET, POST]
      headers: { X-Beta: "1", X-Tier: gold }
    pool: hit
  - { name: fallthrough, match: { path_prefix: /fall/ }, pool: next }
  - { name: rest-m, match: { path_prefix: /m/ }, pool: next }
  - { name: rest-h, match: { path_prefix: /h/ }, pool: next }
  - { name: rest-api, match: { path_prefix: /api/ }, pool: next }
''' % (self.hit.address, self.next.address)
        self.v = self.veer(cfg)

    def req(self, method='GET', target='/', host='test', headers=None, version='HTTP/1.1',
            body=None):
        with Client(self.v.port()) as c:
            return c.request(method, target, headers, body, host=host, version=version)

    def assertHit(self, r, pool='hit'):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('X-Backend'), pool, r)
        self.assertEqual(r.header('X-Veer-Pool'), pool, r)

    # -- host --------------------------------------------------------------

    def test_wildcard_host_matches_subdomains(self):
        for host in ('a.example.com', 'a.b.example.com', 'www.example.com',
                     'A.EXAMPLE.COM', 'Api.Example.Com', 'a.example.com:8080',
                     'x-y.example.com:1'):
            with self.subTest(host=host):
                self.assertHit(self.req(target='/wild/x', host=host))

    def test_wildcard_host_not_the_apex_nor_lookalikes(self):
        for host in ('example.com', 'example.com:80', 'badexample.com', 'a.example.com.evil',
                     'a.example.org', 'example.com.a', 'a.examplexcom'):
            with self.subTest(host=host):
                r = self.req(target='/wild/x', host=host)
                self.assertVeerError(r, 404)
        self.assertEqual(self.hit.received(), [])

    def test_wildcard_falls_through_to_next_route(self):
        # same path on a route without host: a non-matching host goes there
        r = self.req(target='/api/x', host='example.com', headers=[('X-Beta', '1'),
                                                                  ('X-Tier', 'gold')])
        self.assertHit(r, 'next')

    def test_exact_host_case_insensitive_port_ignored(self):
        for host in ('api.example.org', 'API.EXAMPLE.ORG', 'Api.Example.Org:8443',
                     'api.example.org:80'):
            with self.subTest(host=host):
                self.assertHit(self.req(target='/exact/x', host=host))
        for host in ('www.api.example.org', 'api.example.org.uk', 'pi.example.org',
                     'api.example.or'):
            with self.subTest(host=host):
                self.assertVeerError(self.req(target='/exact/x', host=host), 404)

    def test_host_route_needs_a_host(self):
        # HTTP/1.0 may omit Host: a host condition then does not hold
        r = self.req(target='/wild/x', host=None, version='HTTP/1.0')
        self.assertVeerError(r, 404)

    # -- methods -----------------------------------------------------------

    def test_methods_listed_match(self):
        self.assertHit(self.req('GET', '/m/x'))
        self.assertHit(self.req('POST', '/m/x', body=b'abc'))

    def test_methods_not_listed_fall_through(self):
        for method in ('DELETE', 'PUT', 'PATCH', 'OPTIONS'):
            with self.subTest(method=method):
                self.assertHit(self.req(method, '/m/x'), 'next')
        self.assertEqual(self.hit.received(), [])

    def test_methods_on_one_connection(self):
        with Client(self.v.port()) as c:
            self.assertHit(c.get('/m/1'))
            self.assertHit(c.request('DELETE', '/m/2'), 'next')
            self.assertHit(c.request('POST', '/m/3', body=b'x'))
            self.assertHit(c.request('PUT', '/m/4', body=b'y'), 'next')

    # -- headers -----------------------------------------------------------

    def test_header_condition(self):
        self.assertHit(self.req(target='/h/x', headers=[('X-Beta', '1')]))
        # header names are case-insensitive; optional whitespace is not part
        # of the value
        self.assertHit(self.req(target='/h/x', headers=[('x-beta', '1')]))
        self.assertHit(self.req(target='/h/x', headers=[('X-BETA', '  1  ')]))

    def test_header_missing_or_different_falls_through(self):
        for hdrs in ([], [('X-Beta', '0')], [('X-Beta', '10')], [('X-Beta', '')],
                     [('X-Beta', '11')], [('X-Betas', '1')], [('X-Bet', '1')]):
            with self.subTest(headers=hdrs):
                self.assertHit(self.req(target='/h/x', headers=hdrs), 'next')
        self.assertEqual(self.hit.received(), [])

    # -- all conditions together -------------------------------------------

    def test_all_conditions_hold(self):
        good = [('X-Beta', '1'), ('X-Tier', 'gold')]
        self.assertHit(self.req('GET', '/api/v', 'a.example.com', good))
        self.assertHit(self.req('POST', '/api/v', 'A.b.Example.com:9', good, body=b'1'))

    def test_each_condition_failing_falls_through(self):
        good = [('X-Beta', '1'), ('X-Tier', 'gold')]
        cases = [
            ('GET', '/api/v', 'example.com', good),              # host
            ('GET', '/apiv', 'a.example.com', good),             # path -> 404
            ('DELETE', '/api/v', 'a.example.com', good),         # method
            ('GET', '/api/v', 'a.example.com', good[:1]),        # one header missing
            ('GET', '/api/v', 'a.example.com', [('X-Beta', '1'), ('X-Tier', 'silver')]),
        ]
        for method, target, host, hdrs in cases:
            with self.subTest(method=method, target=target, host=host, headers=hdrs):
                r = self.req(method, target, host, hdrs)
                if target == '/apiv':
                    self.assertVeerError(r, 404)
                else:
                    self.assertHit(r, 'next')
        self.assertEqual(self.hit.received(), [])

    def test_no_route_404(self):
        r = self.req(target='/nowhere', host='a.example.com')
        self.assertVeerError(r, 404)
        self.assertEqual(self.hit.received() + self.next.received(), [])


if __name__ == '__main__':
    veertest.main()
