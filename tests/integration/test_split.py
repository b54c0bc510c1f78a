"""Weighted canary split (SPEC 3, Routing): over many requests each pool gets
its weight's share (within 1% at 100k requests); a weight of 0 sends
nothing; weights are relative integers (a zero total is a config error).

The backends are one nginx with a server block per pool (Python backends
are too slow for 100k requests) and the load comes from wrk with a Lua
script counting responses by X-Veer-Pool and X-Backend.  nginx and wrk are
required (scripts/deps installs them): without them these tests fail."""

import collections
import os
import shutil
import tempfile
import time

import veertest
from veertest import Client, build_request

VERSIONS = {'api-v1': '1.8.3', 'api-v2': '2.0.0', 'api-v3': '3.0.0'}


def split_config(addresses, weights, workers=2):
    """veer config: pools for ADDRESSES (pool -> address), route 'api' on
    /api/ splitting by WEIGHTS ([(pool, weight)])."""
    pools = '\n'.join('  - { name: %s, version: %s, servers: [ { address: "%s" } ] }'
                      % (n, VERSIONS[n], a) for n, a in addresses.items())
    split = ', '.join('{ pool: %s, weight: %d }' % pw for pw in weights)
    return '''
global: { workers: %d, log: { access: "off" } }
listeners:
  - { name: web, listen: "127.0.0.1:0" }
pools:
%s
routes:
  - name: api
    match: { path_prefix: /api/ }
    split: [ %s ]
''' % (workers, pools, split)


class SplitTest(veertest.TestCase):

    def setUp(self):
        self.nginx = veertest.Nginx(['api-v1', 'api-v2', 'api-v3'])
        self.nginx.start()
        self.addCleanup(self.nginx.stop)

    def start(self, weights, pools=('api-v1', 'api-v2')):
        addrs = {p: self.nginx.address(p) for p in pools}
        return self.veer(split_config(addrs, weights))

    def load(self, v, at_least, run_seconds=3, budget=60.0):
        """wrk runs (-t1 -c32) against V until AT_LEAST responses were
        counted; fails when BUDGET seconds pass first."""
        total = None
        t0 = time.monotonic()
        while total is None or total.total < at_least:
            if time.monotonic() - t0 > budget:
                self.fail('only %d responses in %.0fs (wanted %d): veer too slow or stalled; %r'
                          % (total.total, budget, at_least, total))
            w = veertest.wrk_count(v.url('/api/x'), seconds=run_seconds, threads=1,
                                   connections=32)
            total = w if total is None else total.add(w)
        return total

    def assertClean(self, w, pools):
        """Every response a 200 from a known pool, whose backend is that pool,
        and no socket errors."""
        self.assertEqual(w.errors(), {}, w)
        bad = {k: n for k, n in w.counts.items()
               if k[0] != 200 or k[1] not in pools or k[1] != k[2]}
        self.assertEqual(bad, {}, 'responses that are not 200 from the pool named in '
                         'X-Veer-Pool: %r' % w)

    def assertShares(self, w, weights, tolerance):
        total = sum(wt for _, wt in weights)
        got = w.pools()
        n = sum(got.values())
        shares = {p: got.get(p, 0) / n for p, _ in weights}
        for p, wt in weights:
            self.assertLessEqual(abs(shares[p] - wt / total), tolerance,
                                 'pool %s got %.4f of %d requests, weight share %.4f; '
                                 'counts %r' % (p, shares[p], n, wt / total, dict(got)))

    def test_95_5_within_one_percent_over_100k(self):
        weights = [('api-v1', 95), ('api-v2', 5)]
        v = self.start(weights)
        w = self.load(v, 100000)
        self.assertGreaterEqual(w.total, 100000)
        self.assertClean(w, ('api-v1', 'api-v2'))
        self.assertShares(w, weights, 0.01)

    def test_three_pools_relative_weights(self):
        # weights are relative integers: 6/3/1 is 60/30/10
        weights = [('api-v1', 6), ('api-v2', 3), ('api-v3', 1)]
        v = self.start(weights, pools=('api-v1', 'api-v2', 'api-v3'))
        w = self.load(v, 20000, run_seconds=1)
        self.assertClean(w, ('api-v1', 'api-v2', 'api-v3'))
        # 20k requests: 2% is more than six standard deviations
        self.assertShares(w, weights, 0.02)

    def test_weight_zero_gets_nothing(self):
        v = self.start([('api-v1', 100), ('api-v2', 0)])
        w = self.load(v, 2000, run_seconds=1)
        self.assertClean(w, ('api-v1', 'api-v2'))
        self.assertEqual(w.pools(), {'api-v1': w.total}, w)

    def test_weight_zero_first(self):
        v = self.start([('api-v1', 0), ('api-v2', 1)])
        w = self.load(v, 2000, run_seconds=1)
        self.assertClean(w, ('api-v1', 'api-v2'))
        self.assertEqual(w.pools(), {'api-v2': w.total}, w)

    def test_per_request_not_per_connection(self):
        # one keep-alive connection, 50/50: the choice is made per request
        v = self.start([('api-v1', 1), ('api-v2', 1)])
        seen = collections.Counter()
        with Client(v.port()) as c:
            for batch in range(8):
                c.send(b''.join(build_request('GET', '/api/x?b=%d&i=%d' % (batch, i))
                                for i in range(50)))
                for r in c.read_responses(50):
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(r.header('X-Veer-Pool'), r.header('X-Backend'), r)
                    seen[r.header('X-Veer-Pool')] += 1
        self.assertEqual(set(seen), {'api-v1', 'api-v2'}, seen)
        for p in ('api-v1', 'api-v2'):
            # 400 requests at 50%: [140, 260] is six standard deviations
            self.assertTrue(140 <= seen[p] <= 260, seen)

    def test_response_headers_name_the_pool(self):
        v = self.start([('api-v1', 1), ('api-v2', 1)])
        with Client(v.port()) as c:
            for i in range(40):
                r = c.get('/api/x?i=%d' % i)
                self.assertEqual(r.status, 200, r)
                pool = r.header('X-Veer-Pool')
                self.assertIn(pool, ('api-v1', 'api-v2'), r)
                self.assertEqual(r.header('X-Backend'), pool, r)
                self.assertEqual(r.header('X-Veer-Version'), VERSIONS[pool], r)
                self.assertEqual(r.body, pool.encode() + b'\n', r)


class SplitConfigTest(veertest.TestCase):
    """Split weights are checked at load (veer -t)."""

    def check(self, split):
        d = tempfile.mkdtemp(prefix='veer-splitcfg-')
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, 'veer.yaml')
        with open(path, 'w') as f:
            f.write('listeners:\n'
                    '  - { name: web, listen: "127.0.0.1:0" }\n'
                    'pools:\n'
                    '  - { name: a, version: 1.0.0, servers: [ { address: "127.0.0.1:1" } ] }\n'
                    '  - { name: b, version: 2.0.0, servers: [ { address: "127.0.0.1:2" } ] }\n'
                    'routes:\n'
                    '  - name: r\n'
                    '    match: { path_prefix: / }\n'
                    '    split: %s\n' % split)
        p = veertest.run_veer(['-t', '-c', path])
        return path, p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')

    def test_valid_split(self):
        path, rc, out = self.check('[ { pool: a, weight: 95 }, { pool: b, weight: 5 } ]')
        self.assertEqual(rc, 0, out)
        path, rc, out = self.check('[ { pool: a, weight: 1 }, { pool: b, weight: 0 } ]')
        self.assertEqual(rc, 0, out)

    def test_invalid_splits(self):
        cases = [
            '[ { pool: a, weight: 0 }, { pool: b, weight: 0 } ]',    # zero total
            '[ { pool: a, weight: -1 }, { pool: b, weight: 5 } ]',   # negative
            '[ { pool: a, weight: 1.5 }, { pool: b, weight: 5 } ]',  # not an integer
            '[ { pool: a, weight: 95 }, { pool: nope, weight: 5 } ]',  # dangling pool
            '[]',                                                     # empty
        ]
        for split in cases:
            with self.subTest(split=split):
                path, rc, out = self.check(split)
                self.assertEqual(rc, 1, out)
                self.assertRegex(out, r'%s:\d+:\d+: ' % path.replace('.', r'\.'))


if __name__ == '__main__':
    veertest.main()
