"""Sticky canary (SPEC 3, Routing and Fleet): with `sticky` on a split, one
key (a header or a cookie) always gets the same pool while the weights
hold; instances with the same config route every key alike; raising the
canary's weight never moves a key from the canary back to the baseline;
requests without the key get the plain weighted choice.

The backends are one nginx (fast enough for the thousands of requests
here; nginx is required, scripts/deps installs it); requests are pipelined
in batches on keep-alive connections."""

import collections
import random

import veertest
from veertest import Client, build_request

VERSIONS = {'api-v1': '1.8.3', 'api-v2': '2.0.0'}
BASE, CANARY = 'api-v1', 'api-v2'


def sticky_config(addresses, base_weight, canary_weight, sticky='{ header: X-User-Id }',
                  workers=2):
    pools = '\n'.join('  - { name: %s, version: %s, servers: [ { address: "%s" } ] }'
                      % (n, VERSIONS[n], addresses[n]) for n in VERSIONS)
    return '''
global: { workers: %d }
listeners:
  - { name: web, listen: "127.0.0.1:0" }
pools:
%s
routes:
  - name: api
    match: { path_prefix: /api/ }
    split: [ { pool: %s, weight: %d }, { pool: %s, weight: %d } ]
    sticky: %s
''' % (workers, pools, BASE, base_weight, CANARY, canary_weight, sticky)


def keys(n, prefix='user-'):
    return ['%s%d' % (prefix, i) for i in range(n)]


class StickyBase(veertest.TestCase):

    def setUp(self):
        self.nginx = veertest.Nginx(list(VERSIONS))
        self.nginx.start()
        self.addCleanup(self.nginx.stop)
        self.addrs = {n: self.nginx.address(n) for n in VERSIONS}

    def start(self, base_weight, canary_weight, **kw):
        return self.veer(sticky_config(self.addrs, base_weight, canary_weight, **kw))

    def send(self, v, header_lists, batch=100, connections=1):
        """Pipelined GETs of /api/x, one per header list in HEADER_LISTS,
        spread over CONNECTIONS connections; the pools that answered, in
        order."""
        out = [None] * len(header_lists)
        idx = list(range(len(header_lists)))
        per = (len(idx) + connections - 1) // connections
        for ci in range(connections):
            mine = idx[ci * per:(ci + 1) * per]
            with Client(v.port()) as c:
                for s in range(0, len(mine), batch):
                    chunk = mine[s:s + batch]
                    c.send(b''.join(build_request('GET', '/api/x?n=%d' % i, header_lists[i])
                                    for i in chunk))
                    for i, r in zip(chunk, c.read_responses(len(chunk))):
                        self.assertEqual(r.status, 200, r)
                        pool = r.header('X-Veer-Pool')
                        self.assertIn(pool, VERSIONS, r)
                        self.assertEqual(r.header('X-Backend'), pool, r)
                        self.assertEqual(r.header('X-Veer-Version'), VERSIONS[pool], r)
                        out[i] = pool
        return out


class StickyTest(StickyBase):

    def assign(self, v, ks, header='X-User-Id', connections=1, shuffle=None):
        """{key: pool} for KEYS sent in header HEADER (in the order SHUFFLE,
        a random.Random, gives)."""
        order = list(ks)
        if shuffle is not None:
            shuffle.shuffle(order)
        pools = self.send(v, [[(header, k)] for k in order], connections=connections)
        return dict(zip(order, pools))

    def assertShare(self, mapping, canary_share, tolerance=0.03):
        c = collections.Counter(mapping.values())
        got = c[CANARY] / len(mapping)
        self.assertLessEqual(abs(got - canary_share), tolerance,
                             'canary share %.4f over %d keys, want %.2f +- %.2f: %r'
                             % (got, len(mapping), canary_share, tolerance, dict(c)))

    def test_key_keeps_its_pool(self):
        v = self.start(90, 10)
        ks = keys(2000)
        first = self.assign(v, ks)
        # again, in another order, over several connections (and so, most
        # likely, both worker threads), and with the header name in lower case
        rng = random.Random(7)
        again = self.assign(v, ks, connections=4, shuffle=rng)
        lower = self.assign(v, ks, header='x-user-id', connections=3, shuffle=rng)
        moved = [k for k in ks if again[k] != first[k] or lower[k] != first[k]]
        self.assertEqual(len(moved), 0, '%d of %d keys changed pool, e.g. (key, first, again, '
                         'lower-case name) %r' % (len(moved), len(ks),
                                                  [(k, first[k], again[k], lower[k])
                                                   for k in moved[:5]]))
        self.assertShare(first, 0.10)

    def test_two_processes_agree(self):
        a = self.start(90, 10)
        b = self.start(90, 10)
        ks = keys(1000, 'fleet-')
        ma = self.assign(a, ks)
        mb = self.assign(b, ks, shuffle=random.Random(3))
        diff = [(k, ma[k], mb[k]) for k in ks if ma[k] != mb[k]]
        self.assertEqual(len(diff), 0, '%d of 1000 keys differ between two instances, e.g. %r'
                         % (len(diff), diff[:5]))
        self.assertEqual(set(ma.values()), set(VERSIONS), collections.Counter(ma.values()))

    def test_canary_growth_is_monotonic(self):
        ks = keys(2000, 'grow-')
        stages = [(95, 5), (75, 25), (50, 50)]
        maps = []
        for bw, cw in stages:
            maps.append(self.assign(self.start(bw, cw), ks))
        for (bw, cw), m in zip(stages, maps):
            with self.subTest(weights=(bw, cw)):
                self.assertShare(m, cw / 100.0)
        for (prev_w, prev), (cur_w, cur) in zip(zip(stages, maps), zip(stages[1:], maps[1:])):
            back = [k for k in ks if prev[k] == CANARY and cur[k] == BASE]
            self.assertEqual(len(back), 0, '%d keys moved from the canary back to the baseline '
                             'going from %r to %r, e.g. %r' % (len(back), prev_w, cur_w, back[:5]))
            forward = [k for k in ks if prev[k] == BASE and cur[k] == CANARY]
            self.assertGreater(len(forward), 0, 'no key moved to the canary going from %r to %r'
                               % (prev_w, cur_w))
        # and over the whole rollout
        back = [k for k in ks if maps[0][k] == CANARY and maps[-1][k] == BASE]
        self.assertEqual(len(back), 0, '%d keys went from the canary at 95/5 to the baseline '
                         'at 50/50, e.g. %r' % (len(back), back[:5]))

    def test_requests_without_key_are_weighted(self):
        v = self.start(50, 50)
        pools = collections.Counter(self.send(v, [[] for _ in range(400)]))
        self.assertEqual(set(pools), set(VERSIONS), pools)
        # 400 at 50%: [140, 260] is six standard deviations
        for p in VERSIONS:
            self.assertTrue(140 <= pools[p] <= 260, pools)
        # keyed requests in between do not disturb it
        self.assertEqual(set(self.send(v, [[('X-Other', str(i))] for i in range(200)])),
                         set(VERSIONS))

    def test_weight_zero_with_sticky(self):
        # a weight of 0 sends nothing, whatever the keys
        v = self.start(100, 0)
        m = self.assign(v, keys(500, 'zero-'))
        self.assertEqual(set(m.values()), {BASE}, collections.Counter(m.values()))
        m = self.assign(self.start(0, 100), keys(500, 'zero-'))
        self.assertEqual(set(m.values()), {CANARY}, collections.Counter(m.values()))


class StickyCookieTest(StickyBase):
    """sticky: { cookie: uid }"""

    def setUp(self):
        super().setUp()
        self.v = self.start(50, 50, sticky='{ cookie: uid }')

    def by_cookie(self, ks, fmt, connections=1):
        pools = self.send(self.v, [[('Cookie', fmt % k)] for k in ks], connections=connections)
        return dict(zip(ks, pools))

    def test_cookie_key_keeps_its_pool(self):
        ks = keys(500, 'c-')
        first = self.by_cookie(ks, 'a=1; uid=%s')
        self.assertEqual(set(first.values()), set(VERSIONS),
                         collections.Counter(first.values()))
        for fmt in ('a=1; uid=%s', 'uid=%s', 'uid=%s; a=1', 'session=xyz; uid=%s; theme=dark'):
            with self.subTest(cookie=fmt):
                again = self.by_cookie(ks, fmt, connections=2)
                moved = [(k, first[k], again[k]) for k in ks if again[k] != first[k]]
                self.assertEqual(len(moved), 0, '%d keys changed pool with Cookie: %s, e.g. %r'
                                 % (len(moved), fmt, moved[:5]))

    def test_other_cookie_names_are_not_the_key(self):
        # "xuid" and "uidx" are not "uid": the same value every time, yet the
        # requests are keyless, so both pools serve them
        for fmt in ('xuid=%s', 'uidx=%s', 'a=%s'):
            with self.subTest(cookie=fmt):
                pools = collections.Counter(self.send(self.v, [[('Cookie', fmt % 'same')]] * 300))
                self.assertEqual(set(pools), set(VERSIONS), pools)

    def test_no_cookie_is_weighted(self):
        pools = collections.Counter(self.send(self.v, [[] for _ in range(400)]))
        self.assertEqual(set(pools), set(VERSIONS), pools)
        for p in VERSIONS:
            self.assertTrue(140 <= pools[p] <= 260, pools)


if __name__ == '__main__':
    veertest.main()
