"""Rate limiting (routes[].rate_limit, pools[].rate_limit): token buckets of
`burst` tokens refilled at `rate`.  A refused request gets veer's own 429
with Retry-After and the RateLimit-Limit / -Remaining / -Reset fields, never
reaches a server, and does not cost a token; buckets are keyed by client
address, a header or the route as a whole; a pool's bucket is shared by
every route to it; and the limit holds for the whole process whatever the
number of workers."""

import time

import veertest
from veertest import Client, client_from, make_config, wait_until, wrk_count

ROUTE = '{ name: r, match: { path_prefix: / }, pool: api, rate_limit: %s }'


def route_limit(rate, burst, key=None):
    parts = ['rate: %s' % rate, 'burst: %d' % burst]
    if key:
        parts.append('key: "%s"' % key)
    return ROUTE % ('{ %s }' % ', '.join(parts))


class RateLimitTest(veertest.TestCase):

    def start(self, routes, workers=1, pool_opts=None):
        self.b = self.backend('b1')
        return self.veer(make_config([self.b.address], workers=workers, routes=routes,
                                     pool_opts=pool_opts))

    def burst(self, c, n, target='/json', headers=None):
        return [c.get('%s?n=%d' % (target, i), headers) for i in range(n)]

    def assert429(self, r, limit):
        self.assertVeerError(r, 429)
        self.assertEqual(r.body, b'429 Too Many Requests\n', r)
        ra = r.header('Retry-After')
        self.assertIsNotNone(ra, r)
        self.assertRegex(ra, r'^[0-9]+$', r)
        self.assertGreaterEqual(int(ra), 1, r)
        self.assertEqual(r.header('RateLimit-Limit'), str(limit), r)
        self.assertRegex(r.header('RateLimit-Remaining', ''), r'^[0-9]+$', r)
        self.assertEqual(r.header('RateLimit-Remaining'), '0', r)
        self.assertRegex(r.header('RateLimit-Reset', ''), r'^[0-9]+$', r)
        self.assertGreaterEqual(int(r.header('RateLimit-Reset')), 1, r)

    def test_burst_then_429_then_refill(self):
        v = self.start([route_limit('10/s', 3, 'client_ip')])
        with Client(v.port()) as c:
            t0 = time.monotonic()
            rs = self.burst(c, 10)
            elapsed = time.monotonic() - t0
            codes = [r.status for r in rs]
            self.assertLess(elapsed, 0.1, 'burst too slow to test: %.3fs' % elapsed)
            ok = codes.count(200)
            # the burst, plus at most one token refilled while it ran
            self.assertIn(ok, (3, 4), codes)
            self.assertEqual(codes[:3], [200, 200, 200], codes)
            self.assertEqual(codes.count(429), 10 - ok, codes)
            for r in rs:
                if r.status == 429:
                    self.assert429(r, 3)
            # the 429s never reached the server
            self.assertEqual(len(self.b.received()), ok)
            # a token comes back after 1/rate = 100ms: poll for it (refused
            # polls cost nothing)
            t_refused = time.monotonic()
            n = 0
            while True:
                r = c.get('/json?poll=%d' % n)
                n += 1
                if r.status == 200:
                    break
                self.assert429(r, 3)
                self.assertLess(time.monotonic() - t_refused, 0.5, 'no token after 500ms')
                time.sleep(0.01)
            # and it is one token: the next request is refused again
            r = c.get('/json?after=1')
            self.assertEqual(r.status, 429, r)
        self.assertEqual(len(self.b.received()), ok + 1)

    def test_429_keeps_the_connection_and_consumes_the_body(self):
        v = self.start([route_limit('1/s', 1, 'client_ip')])
        with Client(v.port()) as c:
            r = c.request('POST', '/echo', body=b'a' * 1000)
            self.assertEqual((r.status, r.body), (200, b'a' * 1000), r)
            r = c.request('POST', '/echo', body=b'b' * 1000)
            self.assert429(r, 1)
            # the refused body was consumed, the connection still works
            r = c.get('/ping')
            self.assertEqual(r.status, 429, r)  # the catch-all route: still limited
        self.assertEqual(len(self.b.received()), 1)

    def test_retry_after_counts_whole_seconds(self):
        # 30/m: a token every 2 s
        v = self.start([route_limit('30/m', 1, 'client_ip')])
        with Client(v.port()) as c:
            self.assertEqual(c.get('/json').status, 200)
            r = c.get('/json')
            self.assert429(r, 1)
            self.assertIn(int(r.header('Retry-After')), (1, 2), r)
            self.assertIn(int(r.header('RateLimit-Reset')), (1, 2), r)

    def test_client_ip_keys_are_separate(self):
        v = self.start([route_limit('1/s', 2, 'client_ip')])
        with client_from(v.port(), '127.0.0.1') as a, client_from(v.port(), '127.0.0.2') as b:
            self.assertEqual([r.status for r in self.burst(a, 3)], [200, 200, 429])
            self.assertEqual([r.status for r in self.burst(b, 3)], [200, 200, 429])
            # X-Forwarded-For sent by a client is not its address
            r = a.get('/json', [('X-Forwarded-For', '10.9.9.9')])
            self.assertEqual(r.status, 429, r)

    def test_header_keys_are_separate(self):
        v = self.start([route_limit('1/s', 3, 'header:X-Api-Key')])
        with Client(v.port()) as c:
            k1 = [r.status for r in self.burst(c, 5, headers=[('X-Api-Key', 'one')])]
            k2 = [r.status for r in self.burst(c, 5, headers=[('X-Api-Key', 'two')])]
            k1b = c.get('/json', [('X-Api-Key', 'one')]).status
        self.assertEqual(k1, [200, 200, 200, 429, 429])
        self.assertEqual(k2, [200, 200, 200, 429, 429])
        self.assertEqual(k1b, 429)
        self.assertEqual(len(self.b.received()), 6)

    def test_route_key_is_one_bucket_for_everyone(self):
        v = self.start([route_limit('1/s', 3, 'route')])
        with client_from(v.port(), '127.0.0.1') as a, client_from(v.port(), '127.0.0.3') as b:
            codes = [a.get('/json?a=1').status, b.get('/json?b=1').status,
                     a.get('/json', [('X-Api-Key', 'x')]).status, b.get('/json?b=2').status,
                     a.get('/json?a=3').status]
        self.assertEqual(codes, [200, 200, 200, 429, 429])
        self.assertEqual(len(self.b.received()), 3)

    def test_routes_have_their_own_buckets(self):
        routes = [
            '{ name: ra, match: { path_prefix: /a }, pool: api, '
            'rate_limit: { rate: 1/s, burst: 2, key: route } }',
            '{ name: rb, match: { path_prefix: /b }, pool: api, '
            'rate_limit: { rate: 1/s, burst: 2, key: route } }',
            '{ name: free, match: { path_prefix: / }, pool: api }',
        ]
        v = self.start(routes)
        with Client(v.port()) as c:
            a = [r.status for r in self.burst(c, 3, '/a')]
            b = [r.status for r in self.burst(c, 3, '/b')]
            free = [r.status for r in self.burst(c, 10, '/json')]
        self.assertEqual(a, [200, 200, 429])
        self.assertEqual(b, [200, 200, 429])
        self.assertEqual(free, [200] * 10)

    def test_pool_limit_is_the_pool_total(self):
        routes = ['{ name: ra, match: { path_prefix: /a }, pool: api }',
                  '{ name: rb, match: { path_prefix: /b }, pool: api }']
        v = self.start(routes, pool_opts={'rate_limit': '{ rate: 1/s, burst: 4 }'})
        codes = []
        with client_from(v.port(), '127.0.0.1') as c1, client_from(v.port(), '127.0.0.4') as c2:
            for i in range(4):
                for c, path in ((c1, '/a'), (c2, '/b')):
                    r = c.get('%s?i=%d' % (path, i))
                    codes.append(r.status)
                    if r.status == 429:
                        self.assert429(r, 4)
        self.assertEqual(codes.count(200), 4, codes)
        self.assertEqual(codes[:4], [200] * 4, codes)
        self.assertEqual(len(self.b.received()), 4)

    def test_route_and_pool_limits_both_apply(self):
        # the route's bucket (3) is spent first; a refused request takes no
        # token of the pool's
        routes = [route_limit('1/s', 3, 'client_ip')]
        v = self.start(routes, pool_opts={'rate_limit': '{ rate: 1/s, burst: 5 }'})
        with client_from(v.port(), '127.0.0.1') as a, client_from(v.port(), '127.0.0.5') as b:
            ca = [r.status for r in self.burst(a, 5)]
            cb = [r.status for r in self.burst(b, 5)]
        self.assertEqual(ca, [200, 200, 200, 429, 429])
        # b has its own route bucket (3) but the pool has only 2 left
        self.assertEqual(cb, [200, 200, 429, 429, 429])
        self.assertEqual(len(self.b.received()), 5)

    def test_limit_holds_across_workers(self):
        # key: route, rate 50/s, burst 10, 2 workers, 8 keep-alive
        # connections for 2 s: about 50 * 2 + 10 admitted in all, not twice
        # that.
        v = self.start([route_limit('50/s', 10, 'route')], workers=2)
        t0 = time.monotonic()
        res = wrk_count(v.url('/json'), seconds=2, threads=2, connections=8)
        elapsed = time.monotonic() - t0
        ok = sum(n for (s, _, _), n in res.counts.items() if s == 200)
        limited = sum(n for (s, _, _), n in res.counts.items() if s == 429)
        other = {k: n for k, n in res.counts.items() if k[0] not in (200, 429)}
        self.assertEqual(other, {}, res)
        self.assertEqual(res.errors(), {}, res)
        self.assertGreater(limited, 100, res)  # it was hammered well over the rate
        want = 50 * 2 + 10
        self.assertTrue(want * 0.9 <= ok <= want * 1.1,
                        'admitted %d in %.2fs, want %d within 10%%: %r' % (ok, elapsed, want, res))
        # What veer admitted is what the backend got: wrk's count, plus at
        # most one request per connection that was on its way when wrk
        # stopped at its deadline and closed the connections.
        wait_until(lambda: ok <= len(self.b.received()) <= ok + 8, 2,
                   msg=lambda: 'backend got %d, wrk saw %d' % (len(self.b.received()), ok))
        self.assertTrue(len(self.b.received()) <= want * 1.1 + 8)


if __name__ == '__main__':
    veertest.main()
