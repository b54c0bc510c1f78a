"""Version routing (SPEC 3, Routing): a route's `version` header holds a
node-semver range; veer sends the request to the pool with the highest
`version` that satisfies it.  A syntactically bad value gets 400; a value no
pool satisfies gets 400 listing the versions on offer (on_mismatch: reject)
or the route's action (on_mismatch: fallback); no header, the action.  The
400s come from veer: no backend sees the request."""

import os
import shutil
import tempfile

import veertest
from veertest import Client

VERSIONS = {'api-v1': '1.8.3', 'api-v2': '2.0.0', 'api-v21b': '2.1.0-beta.1',
            'default': '1.0.0'}


class VersionRoutingTest(veertest.TestCase):

    def setUp(self):
        self.backends = {n: self.backend(n) for n in VERSIONS}
        pools = '\n'.join(
            '  - { name: %s, version: %s, servers: [ { address: "%s" } ] }'
            % (n, VERSIONS[n], self.backends[n].address) for n in VERSIONS)
        cfg = '''
global: { workers: 2 }
listeners:
  - { name: web, listen: "127.0.0.1:0" }
pools:
%s
routes:
  - name: api
    match: { path_prefix: /api/ }
    version: { header: X-Api-Version, pools: [api-v1, api-v2, api-v21b], on_mismatch: reject }
    pool: default
  - name: fb
    match: { path_prefix: /fb/ }
    version: { header: X-Api-Version, pools: [api-v1, api-v2, api-v21b], on_mismatch: fallback }
    pool: default
  - name: canary
    match: { path_prefix: /split/ }
    version: { header: X-Api-Version, pools: [api-v1, api-v2], on_mismatch: fallback }
    split: [ { pool: api-v21b, weight: 1 }, { pool: default, weight: 0 } ]
''' % pools
        self.v = self.veer(cfg)
        self.before = {n: 0 for n in VERSIONS}

    def new_requests(self):
        return {n: len(b.received()) - self.before[n] for n, b in self.backends.items()}

    def get(self, path, version=None, name='X-Api-Version'):
        hdrs = [] if version is None else [(name, version)]
        with Client(self.v.port()) as c:
            return c.get(path, hdrs)

    def assertPool(self, resp, pool):
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header('X-Backend'), pool, resp)
        self.assertEqual(resp.header('X-Veer-Pool'), pool, resp)
        self.assertEqual(resp.header('X-Veer-Version'), VERSIONS[pool], resp)

    def assertRejected(self, resp):
        self.assertVeerError(resp, 400)
        self.assertIsNone(resp.header('X-Backend'), resp)
        self.assertEqual(self.new_requests(), dict.fromkeys(VERSIONS, 0),
                         'a rejected request reached a backend')

    # -- ranges pick the highest satisfying pool ---------------------------

    def test_ranges_pick_highest_satisfying(self):
        cases = [
            ('^2', 'api-v2'),                   # 2.1.0-beta.1 does not satisfy ^2
            ('2.1.0-beta.1', 'api-v21b'),       # an exact pre-release
            ('>=2.1.0-beta.0', 'api-v21b'),     # pre-release of the same X.Y.Z named
            ('~1.8', 'api-v1'),
            ('1.x', 'api-v1'),
            ('*', 'api-v2'),                    # highest non-prerelease
            ('^1 || ^2', 'api-v2'),
            ('2.0.0', 'api-v2'),
            ('=2.0.0', 'api-v2'),
            ('1.8.3', 'api-v1'),
            ('2', 'api-v2'),
            ('2.x', 'api-v2'),
            ('2.*', 'api-v2'),
            ('1', 'api-v1'),
            ('>=1.5.0 <2.0.0', 'api-v1'),
            ('<2.0.0', 'api-v1'),
            ('<=2.0.0', 'api-v2'),
            ('>1.8.3', 'api-v2'),
            ('1.2.3 - 2.0.0', 'api-v2'),        # hyphen range, inclusive
            ('1.2.3 - 1.9', 'api-v1'),
            ('1.2.3 - 2', 'api-v2'),            # <3.0.0-0: the beta's X.Y.Z is not named
            ('~2.1.0-beta.0', 'api-v21b'),
            ('^2.1.0-beta.0', 'api-v21b'),
            ('^2.0.0-alpha', 'api-v2'),         # 2.0.0 > 2.0.0-alpha; 2.1.0-beta.1 not named
            ('1.8.3 || 2.1.0-beta.1', 'api-v21b'),
            ('~1.8.0 || >=3', 'api-v1'),
            ('2.1.0-beta.1+build.7', 'api-v21b'),  # build metadata is ignored
            ('  ^2  ', 'api-v2'),               # surrounding blanks are not part of it
        ]
        for rng, pool in cases:
            with self.subTest(range=rng):
                self.assertPool(self.get('/api/x', rng), pool)

    def test_header_name_case_insensitive(self):
        self.assertPool(self.get('/api/x', '^2', name='x-api-version'), 'api-v2')
        self.assertPool(self.get('/api/x', '~1.8', name='X-API-VERSION'), 'api-v1')

    def test_same_range_same_pool_on_keep_alive(self):
        with Client(self.v.port()) as c:
            for i in range(20):
                rng = ('^2', '~1.8', '2.1.0-beta.1')[i % 3]
                pool = ('api-v2', 'api-v1', 'api-v21b')[i % 3]
                self.assertPool(c.get('/api/x?i=%d' % i, [('X-Api-Version', rng)]), pool)

    def test_backend_gets_the_request(self):
        r = self.get('/api/users?id=3', '^1')
        self.assertPool(r, 'api-v1')
        req = r.json()
        self.assertEqual(req['target'], '/api/users?id=3')
        # the version header itself reaches the backend unchanged
        self.assertIn(['X-Api-Version', '^1'], req['headers'])

    # -- no header: the route's action -------------------------------------

    def test_no_header_uses_action(self):
        self.assertPool(self.get('/api/x'), 'default')
        self.assertPool(self.get('/fb/x'), 'default')

    def test_no_header_split_action(self):
        # the action is a split (all weight on api-v21b)
        for _ in range(5):
            self.assertPool(self.get('/split/x'), 'api-v21b')
        # with the header the version wins over the split
        self.assertPool(self.get('/split/x', '^2'), 'api-v2')
        # no match among [api-v1, api-v2], fallback: the split
        self.assertPool(self.get('/split/x', '2.1.0-beta.1'), 'api-v21b')

    # -- bad values: 400 from veer -----------------------------------------

    def test_bad_value_400(self):
        for bad in ('^^2', 'abc', '>=', '1.2.3.4', '~>>1', '2.0.0-', '^2 ||| ^1', '>=a.b.c',
                    '1.2.3 -', '01.2.3'):
            with self.subTest(value=bad):
                self.assertRejected(self.get('/api/x', bad))

    def test_bad_value_400_even_with_fallback(self):
        # SPEC: a syntactically bad value gets 400 whatever on_mismatch says
        for bad in ('^^2', 'abc'):
            with self.subTest(value=bad):
                self.assertRejected(self.get('/fb/x', bad))

    # -- no satisfying pool ------------------------------------------------

    def test_mismatch_reject_lists_versions(self):
        for rng in ('3', '^4', '>2.0.0', '2.1.0-beta.2', '<1.0.0', '1.0.0'):
            with self.subTest(range=rng):
                r = self.get('/api/x', rng)
                self.assertRejected(r)
                body = r.body.decode('utf-8', 'replace')
                for v in ('2.0.0', '1.8.3', '2.1.0-beta.1'):
                    self.assertIn(v, body, r)

    def test_mismatch_fallback_uses_action(self):
        for rng in ('3', '^4', '>2.0.0', '2.1.0-beta.2'):
            with self.subTest(range=rng):
                self.assertPool(self.get('/fb/x', rng), 'default')

    def test_reject_keeps_connection_usable_or_closes_cleanly(self):
        # a 400 for a well-framed request: the answer is complete; the next
        # request on the connection (if veer keeps it) is served normally
        with Client(self.v.port()) as c:
            r = c.get('/api/x', [('X-Api-Version', '^9')])
            self.assertVeerError(r, 400)
            if 'close' not in (r.header('Connection') or '').lower():
                self.assertPool(c.get('/api/x', [('X-Api-Version', '^2')]), 'api-v2')


class VersionConfigTest(veertest.TestCase):
    """Pool versions are semantic versions, validated at load."""

    def check(self, version):
        d = tempfile.mkdtemp(prefix='veer-vcfg-')
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, 'veer.yaml')
        with open(path, 'w') as f:
            f.write('listeners:\n'
                    '  - { name: web, listen: "127.0.0.1:0" }\n'
                    'pools:\n'
                    '  - name: a\n'
                    '    version: "%s"\n'
                    '    servers: [ { address: "127.0.0.1:1" } ]\n'
                    'routes:\n'
                    '  - { name: r, match: { path_prefix: / }, pool: a }\n' % version)
        return path, veertest.run_veer(['-t', '-c', path])

    def test_valid_versions_accepted(self):
        for v in ('1.8.3', '2.1.0-beta.1', '1.0.0+build.5', '0.0.0', '10.20.30-rc.1+sha.abc'):
            with self.subTest(version=v):
                path, p = self.check(v)
                self.assertEqual(p.returncode, 0, (p.stdout, p.stderr))

    def test_invalid_versions_rejected_with_position(self):
        for v in ('1.2', '^1.2.3', '1.2.x', 'abc', '01.2.3', '1.2.3-', '1.2.3.4'):
            with self.subTest(version=v):
                path, p = self.check(v)
                self.assertEqual(p.returncode, 1, (p.stdout, p.stderr))
                err = (p.stdout + p.stderr).decode('utf-8', 'replace')
                # FILE:LINE:COL pointing at the version (line 5)
                self.assertRegex(err, r'%s:5:\d+: ' % path.replace('.', r'\.'))


if __name__ == '__main__':
    veertest.main()
