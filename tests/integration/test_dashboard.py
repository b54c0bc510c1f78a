"""The dashboard (SPEC 4, GET / of the admin listener) in a real browser.

Debian's chromium, driven by playwright-core (tests/browser/dashboard.mjs),
loads the page from a running veer, checks that it shows the routes with the
config's split weights, changes the canary weight to 50/50 and flips a
blue-green route from the page, the way an operator would.  Then real
traffic through veer proves that the page's changes took: X-Veer-Pool moves
from ~90/10 to ~50/50 and the blue-green route answers from the other pool.

chromium (Debian package) and tests/browser/node_modules (npm ci) are
installed by scripts/deps; without them these tests fail, they never skip."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading

import veertest
from veertest import Client

BROWSER_DIR = os.path.join(veertest.REPO, 'tests', 'browser')
DRIVER = os.path.join(BROWSER_DIR, 'dashboard.mjs')
PAGE = os.path.join(veertest.REPO, 'src', 'dashboard.html')
CHROMIUM = os.environ.get('CHROMIUM_BIN', '/usr/bin/chromium')
ADMIN_RE = re.compile(r'admin on (\S+):(\d+)')
TOKEN = 'dash-token-0123456789abcdef'

VERSIONS = {'api-v1': '1.8.3', 'api-v2': '2.0.0', 'web-blue': '3.4.0', 'web-green': '3.5.0'}
# Shares are checked within TOLERANCE of the weights: with 1,600 requests a
# 50/50 split's standard deviation is 1.25%, so 5% is four of them (400
# requests and 8% failed once in CI: 3.2 deviations, about 1 run in 700).
REQUESTS = 1600
TOLERANCE = 0.05


def require_browser():
    """node, Debian's chromium and playwright-core, or AssertionError naming
    scripts/deps."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append('%s (Debian package chromium)' % CHROMIUM)
    node = shutil.which('node')
    if not node:
        missing.append('node (Node.js)')
    if not os.path.exists(os.path.join(BROWSER_DIR, 'node_modules', 'playwright-core',
                                       'package.json')):
        missing.append('tests/browser/node_modules/playwright-core (npm ci --prefix tests/browser)')
    if missing:
        raise AssertionError('the dashboard browser test needs: %s; run scripts/deps, '
                             'which installs them' % '; '.join(missing))
    return node


def config(addresses, token_file):
    pools = '\n'.join('  - { name: %s, version: %s, servers: [ { address: "%s" } ] }'
                      % (n, VERSIONS[n], addresses[n]) for n in VERSIONS)
    return '''
global:
  workers: 2
  admin: { listen: "127.0.0.1:0", token_file: "%s" }
listeners:
  - { name: web, listen: "127.0.0.1:0" }
pools:
%s
routes:
  - name: api
    match: { path_prefix: /api/ }
    split: [ { pool: api-v1, weight: 90 }, { pool: api-v2, weight: 10 } ]
  - name: web
    match: { path_prefix: / }
    blue_green: { blue: web-blue, green: web-green, active: blue }
''' % (token_file, pools)


class DashboardTest(veertest.TestCase):

    def start(self):
        self.bs = {n: self.backend(n) for n in VERSIONS}
        d = tempfile.mkdtemp(prefix='veer-dash-')
        self.addCleanup(shutil.rmtree, d, True)
        self.tmp = d
        token_file = os.path.join(d, 'token')
        with open(token_file, 'w') as f:
            f.write(TOKEN + '\n')
        v = self.veer(config({n: b.address for n, b in self.bs.items()}, token_file))
        m = veertest.wait_until(lambda: ADMIN_RE.search(v.log()), 5.0,
                                msg=lambda: 'no "admin on HOST:PORT" in the log:\n' + v.log_tail())
        self.admin_port = int(m.group(2))
        return v

    def status(self):
        r = veertest.http(self.admin_port, 'GET', '/api/v1/status')
        self.assertEqual(r.status, 200, r)
        return r.json()

    def route(self, name):
        for r in self.status()['routes']:
            if r['name'] == name:
                return r
        self.fail('route %s not in /api/v1/status' % name)

    def pools(self, v, target, n):
        """N requests for TARGET on one keep-alive connection: X-Veer-Pool counts."""
        counts = {}
        with Client(v.port()) as c:
            for i in range(n):
                r = c.get('%s?i=%d' % (target, i))
                self.assertEqual(r.status, 200, r)
                pool = r.header('X-Veer-Pool')
                self.assertEqual(r.header('X-Backend'), pool, r)
                counts[pool] = counts.get(pool, 0) + 1
        return counts

    def assertShares(self, counts, want):
        n = sum(counts.values())
        total = sum(want.values())
        for pool, weight in want.items():
            share = counts.get(pool, 0) / n
            self.assertLess(abs(share - weight / total), TOLERANCE,
                            '%s got %.1f%% of %d requests, want %.0f%% (+-%.0f%%): %r'
                            % (pool, share * 100, n, weight * 100 / total, TOLERANCE * 100,
                               counts))
        self.assertEqual(set(counts) - set(want), set(), counts)

    def test_page_is_self_contained(self):
        # one file: no script, style sheet, font or image from anywhere else
        with open(PAGE, encoding='utf-8') as f:
            html = f.read()
        for m in re.finditer(r'\b(?:src|href)\s*=\s*["\']([^"\']*)', html, re.I):
            self.assertTrue(m.group(1).startswith('data:'), 'external reference: %s' % m.group(0))
        self.assertNotIn('@import', html)
        self.assertNotRegex(html, r'url\(\s*["\']?(?!data:)', 'CSS url() to a resource')
        urls = set(re.findall(r'https?://[^\s"\'<>)]+', html))
        self.assertLessEqual(urls, {'http://www.w3.org/2000/svg'}, urls)

    def test_served_at_root(self):
        self.start()
        r = veertest.http(self.admin_port, 'GET', '/')
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.header('Content-Type', ''), r'^text/html;\s*charset=utf-8$', r)
        self.assertRegex(r.header('Cache-Control', ''), r'no-cache|no-store', r)
        with open(PAGE, 'rb') as f:
            self.assertEqual(r.body, f.read(), 'GET / is not src/dashboard.html')

    def test_operator_moves_traffic_from_the_page(self):
        node = require_browser()
        v = self.start()
        self.assertShares(self.pools(v, '/api/x', REQUESTS), {'api-v1': 90, 'api-v2': 10})
        self.assertEqual(self.pools(v, '/page', 20), {'web-blue': 20})

        # some live traffic while the page is open, so that it has rates
        stop = threading.Event()

        def traffic():
            try:
                with Client(v.port()) as c:
                    i = 0
                    while not stop.wait(0.02):
                        c.get('/api/bg?i=%d' % i)
                        c.get('/bg?i=%d' % i)
                        i += 1
            except (OSError, veertest.ProtocolError):
                pass

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        self.addCleanup(t.join, 5)
        self.addCleanup(stop.set)

        expect = {
            'split': {'route': 'api', 'before': {'api-v1': 90, 'api-v2': 10},
                      'after': {'api-v1': 50, 'api-v2': 50}},
            'blue_green': {'route': 'web', 'before': 'blue', 'after': 'green'},
            'pools': sorted(VERSIONS),
            'generation': self.status()['generation'],
        }
        shot = os.environ.get('VEER_DASHBOARD_SCREENSHOT') or os.path.join(self.tmp, 'dashboard.png')
        try:
            p = subprocess.run([node, DRIVER, 'http://127.0.0.1:%d/' % self.admin_port, TOKEN,
                                json.dumps(expect), shot],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, cwd=BROWSER_DIR,
                               env=veertest.clean_env(), timeout=150)
        finally:
            stop.set()
            t.join(5)
        out = p.stdout.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, 'browser driver failed:\n' + out)
        with open(shot, 'rb') as f:
            png = f.read()
        self.assertTrue(png.startswith(b'\x89PNG') and len(png) > 10000,
                        'screenshot %s is not a picture' % shot)

        # the page's changes are the API's state ...
        api = self.route('api')
        self.assertEqual({s['pool']: (s['weight'], s['override']) for s in api['split']},
                         {'api-v1': (50, True), 'api-v2': (50, True)}, api)
        web = self.route('web')
        self.assertEqual((web['blue_green']['active'], web['blue_green']['override']),
                         ('green', True), web)
        # ... and they moved real traffic
        self.assertShares(self.pools(v, '/api/x', REQUESTS), {'api-v1': 50, 'api-v2': 50})
        green_before = len(self.bs['web-green'].received())
        self.assertEqual(self.pools(v, '/page', 20), {'web-green': 20})
        self.assertEqual(len(self.bs['web-green'].received()), green_before + 20)


if __name__ == '__main__':
    veertest.main()
