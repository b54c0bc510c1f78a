"""Blue-green (SPEC 3, Routing): all traffic goes to the `active` pool.

Flipping `active` on a running veer needs config reload (SIGHUP, admin
`POST /api/v1/reload`: issue 5) or the admin call
`PUT /api/v1/routes/{route}/blue_green` (issue 6); the live-flip tests
(new requests move at once, requests in flight finish on the pool they
started on) belong with those follow-ups.  Here each state is its own veer
process."""

import os
import shutil
import tempfile

import veertest
from veertest import Client

VERSIONS = {'web-blue': '3.4.0', 'web-green': '3.5.0'}


def bg_config(addresses, active, extra=''):
    pools = '\n'.join('  - { name: %s, version: %s, servers: [ { address: "%s" } ] }'
                      % (n, VERSIONS[n], addresses[n]) for n in VERSIONS)
    return '''
global: { workers: 2 }
listeners:
  - { name: web, listen: "127.0.0.1:0" }
pools:
%s
routes:
%s  - name: web
    match: { path_prefix: / }
    blue_green: { blue: web-blue, green: web-green, active: %s }
''' % (pools, extra, active)


class BlueGreenTest(veertest.TestCase):

    def setUp(self):
        self.bs = {n: self.backend(n) for n in VERSIONS}
        self.addrs = {n: b.address for n, b in self.bs.items()}

    def requests(self, v, n=50):
        """N requests: half on one keep-alive connection, half each on its
        own; the pools that answered."""
        out = []
        with Client(v.port()) as c:
            for i in range(n // 2):
                out.append(c.get('/page?i=%d' % i))
        for i in range(n - n // 2):
            out.append(veertest.http(v.port(), 'GET', '/page?j=%d' % i))
        pools = []
        for r in out:
            self.assertEqual(r.status, 200, r)
            pool = r.header('X-Veer-Pool')
            self.assertEqual(r.header('X-Backend'), pool, r)
            self.assertIn(pool, VERSIONS, r)
            self.assertEqual(r.header('X-Veer-Version'), VERSIONS[pool], r)
            pools.append(pool)
        return pools

    def test_active_blue(self):
        v = self.veer(bg_config(self.addrs, 'blue'))
        self.assertEqual(self.requests(v), ['web-blue'] * 50)
        self.assertEqual(len(self.bs['web-blue'].received()), 50)
        self.assertEqual(self.bs['web-green'].received(), [])

    def test_active_green(self):
        v = self.veer(bg_config(self.addrs, 'green'))
        self.assertEqual(self.requests(v), ['web-green'] * 50)
        self.assertEqual(len(self.bs['web-green'].received()), 50)
        self.assertEqual(self.bs['web-blue'].received(), [])

    def test_flip_by_restart(self):
        # blue, then a new veer with green: every request of the second goes
        # to green, none to blue
        with veertest.Veer(bg_config(self.addrs, 'blue')) as v:
            self.assertEqual(set(self.requests(v, 20)), {'web-blue'})
        blue_before = len(self.bs['web-blue'].received())
        with veertest.Veer(bg_config(self.addrs, 'green')) as v:
            self.assertEqual(set(self.requests(v, 20)), {'web-green'})
        self.assertEqual(len(self.bs['web-blue'].received()), blue_before)

    def test_blue_green_beside_other_routes(self):
        # a version-routed route before the blue-green catch-all: each keeps
        # its own traffic
        extra = ('  - name: api\n'
                 '    match: { path_prefix: /api/ }\n'
                 '    version: { header: X-Api-Version, pools: [web-blue, web-green], '
                 'on_mismatch: reject }\n'
                 '    pool: web-blue\n')
        v = self.veer(bg_config(self.addrs, 'green', extra))
        r = veertest.http(v.port(), 'GET', '/api/x', [('X-Api-Version', '~3.4')])
        self.assertEqual((r.status, r.header('X-Veer-Pool')), (200, 'web-blue'), r)
        self.assertEqual(set(self.requests(v, 10)), {'web-green'})


class BlueGreenConfigTest(veertest.TestCase):

    def check(self, blue_green):
        d = tempfile.mkdtemp(prefix='veer-bgcfg-')
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
                    '    blue_green: %s\n' % blue_green)
        p = veertest.run_veer(['-t', '-c', path])
        return path, p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')

    def test_valid(self):
        path, rc, out = self.check('{ blue: a, green: b, active: green }')
        self.assertEqual(rc, 0, out)

    def test_invalid(self):
        for bg in ('{ blue: a, green: b, active: purple }',
                   '{ blue: a, green: b }',
                   '{ blue: a, green: nope, active: blue }',
                   '{ blue: a, active: blue }'):
            with self.subTest(blue_green=bg):
                path, rc, out = self.check(bg)
                self.assertEqual(rc, 1, out)
                self.assertRegex(out, r'%s:\d+:\d+: ' % path.replace('.', r'\.'))


if __name__ == '__main__':
    veertest.main()
