"""Admin API (SPEC 4; issue 6): status, runtime overrides, reload, metrics.

A real veer with global.admin.listen on 127.0.0.1:0 (the port is read from
the log line `admin on 127.0.0.1:PORT`) and a token_file, real backends, real
traffic.  Each mutating call is followed by settle(): the change is
published to the workers asynchronously, and "reload: generation N in force"
says every worker serves it.

Covered: the status JSON (shape and values, file values beside overrides);
a split override moves real traffic; a blue-green flip moves every new
request; a drained server gets no new requests and undrain brings it back;
overrides survive SIGHUP of an unchanged file and lose to a file that
changed the same field; bad JSON (400 with line and column), bad values
(400), unknown names (404), wrong methods (405), missing or wrong token
(401) all change nothing; POST /api/v1/reload with a broken file answers
the FILE:LINE:COL errors and the old config keeps serving; /metrics passes
`promtool check metrics` (Debian's prometheus package; required) and holds
the SPEC's families with the right labels."""

import collections
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
from urllib.parse import quote

import veertest
from veertest import Client

VERSIONS = {'api-v1': '1.8.3', 'api-v2': '2.0.0', 'web-blue': '3.4.0', 'web-green': '3.5.0'}
TOKEN = 'tok-3f9a1c'
ADMIN_RE = re.compile(r'admin on 127\.0\.0\.1:(\d+)')
GEN_RE = 'reload: generation %d in force'
PROMTOOL = '/usr/bin/promtool'


def config(addrs, token_file, split=(95, 5), active='blue', v1_weights=(1, 1), workers=2):
    """Pools api-v1 (servers a and b), api-v2, web-blue, web-green; routes
    /ping (respond), /api/ (split), /one/ (pool api-v1), / (blue_green)."""
    out = ['global:',
           '  workers: %d' % workers,
           '  admin: { listen: "127.0.0.1:0", token_file: "%s" }' % token_file,
           'listeners:',
           '  - { name: web, listen: "127.0.0.1:0" }',
           'pools:']
    for p in VERSIONS:
        out.append('  - name: %s' % p)
        out.append('    version: %s' % VERSIONS[p])
        out.append('    servers:')
        if p == 'api-v1':
            for name, w in zip(('api-v1-a', 'api-v1-b'), v1_weights):
                out.append('      - { address: "%s", weight: %d }' % (addrs[name], w))
        else:
            out.append('      - { address: "%s" }' % addrs[p])
    out += ['routes:',
            '  - { name: ping, match: { path_prefix: /ping }, '
            'respond: { status: 200, body: "pong\\n" } }',
            '  - name: api',
            '    match: { path_prefix: /api/ }',
            '    split: [ { pool: api-v1, weight: %d }, { pool: api-v2, weight: %d } ]' % split,
            '  - name: one',
            '    match: { path_prefix: /one/ }',
            '    pool: api-v1',
            '  - name: web',
            '    match: { path_prefix: / }',
            '    blue_green: { blue: web-blue, green: web-green, active: %s }' % active]
    return '\n'.join(out) + '\n'


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return '<Reply %d %r %r>' % (self.status, self.headers, self.body[:600])


class AdminTest(veertest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='veer-admin-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.token_file = os.path.join(self.tmp, 'admin.token')
        with open(self.token_file, 'w') as f:
            f.write('  %s\n' % TOKEN)
        names = ['api-v1-a', 'api-v1-b', 'api-v2', 'web-blue', 'web-green']
        self.bs = {n: self.backend(n) for n in names}
        self.addrs = {n: b.address for n, b in self.bs.items()}

    # helpers ---------------------------------------------------------------
    def start(self, **kw):
        v = self.veer(config(self.addrs, self.token_file, **kw))
        m = veertest.wait_until(lambda: ADMIN_RE.search(v.log()), 10,
                                msg=lambda: 'no "admin on" line\n' + v.log_tail())
        v.admin_port = int(m.group(1))
        v.wait_ready()
        return v

    def call(self, v, method, path, body=None, token=TOKEN, headers=None):
        """One admin request; BODY: bytes/str sent as is, else JSON-encoded."""
        conn = http.client.HTTPConnection('127.0.0.1', v.admin_port, timeout=veertest.IO_TIMEOUT)
        hdrs = dict(headers or {})
        if token is not None:
            hdrs['Authorization'] = 'Bearer %s' % token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs['Content-Type'] = 'application/json'
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Reply(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def status(self, v):
        r = self.call(v, 'GET', '/api/v1/status', token=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('Content-Type'), 'application/json', r)
        return r.json()

    def settle(self, v):
        """Wait until every worker serves the generation the status shows."""
        gen = self.status(v)['generation']
        if gen > 1:
            veertest.wait_until(lambda: GEN_RE % gen in v.error_log(), 10,
                                msg=lambda: 'generation %d never in force\n%s'
                                % (gen, v.log_tail()))
        return gen

    def change(self, v, method, path, body, want=200):
        r = self.call(v, method, path, body)
        self.assertEqual(r.status, want, r)
        self.settle(v)
        return r.json()

    def route(self, st, name):
        return next(r for r in st['routes'] if r['name'] == name)

    def pool(self, st, name):
        return next(p for p in st['pools'] if p['name'] == name)

    def server(self, st, pool, backend):
        addr = self.addrs[backend]
        return next(s for s in self.pool(st, pool)['servers'] if s['address'] == addr)

    def traffic(self, v, path, n, header='X-Veer-Pool', conns=4):
        """N GETs of PATH over CONNS keep-alive connections: a Counter of
        HEADER over the 200 answers (every answer must be 200)."""
        c = collections.Counter()
        per = [n // conns + (1 if i < n % conns else 0) for i in range(conns)]
        for k in per:
            with Client(v.port()) as cl:
                for i in range(k):
                    r = cl.get('%s?i=%d' % (path, i))
                    self.assertEqual(r.status, 200, r)
                    c[r.header(header)] += 1
        return c

    def assert_unchanged(self, v, before):
        """Status as BEFORE in everything a failed call could have changed."""
        after = self.status(v)
        for k in ('generation', 'reloads', 'last_reload'):
            self.assertEqual(after[k], before[k], k)
        strip = lambda st: [{k: x for k, x in r.items() if k not in ('requests', 'errors')}
                            for r in st['routes']]
        self.assertEqual(strip(after), strip(before))
        weights = lambda st: [[(s['address'], s['weight'], s['drain'], s['override'])
                               for s in p['servers']] for p in st['pools']]
        self.assertEqual(weights(after), weights(before))

    # status ----------------------------------------------------------------
    def test_status_shape_and_values(self):
        v = self.start()
        self.assertEqual(sum(self.traffic(v, '/api/x', 20).values()), 20)
        veertest.wait_until(lambda: self.route(self.status(v), 'api')['requests'] >= 20, 5)
        st = self.status(v)
        self.assertRegex(st['version'], r'^\d+\.\d+\.\d+')
        self.assertEqual(st['generation'], 1)
        self.assertEqual(st['pid'], v.pid)
        self.assertIsInstance(st['uptime_seconds'], int)
        self.assertEqual(st['reloads'], {'success': 0, 'failure': 0})
        self.assertIsNone(st['last_reload'])
        self.assertEqual(len(st['listeners']), 1)
        lst = st['listeners'][0]
        self.assertEqual(lst['name'], 'web')
        self.assertEqual(lst['listen'], '127.0.0.1:%d' % v.port())
        self.assertIsInstance(lst['connections_active'], int)

        self.assertEqual([r['name'] for r in st['routes']], ['ping', 'api', 'one', 'web'])
        ping = self.route(st, 'ping')
        self.assertEqual(ping['action'], 'respond')
        api = self.route(st, 'api')
        self.assertEqual(api['action'], 'split')
        self.assertEqual(api['match'], {'path_prefix': '/api/'})
        self.assertEqual(api['split'], [
            {'pool': 'api-v1', 'weight': 95, 'file_weight': 95, 'override': False},
            {'pool': 'api-v2', 'weight': 5, 'file_weight': 5, 'override': False}])
        self.assertIsNone(api['version'])
        self.assertEqual(api['requests'], 20)
        self.assertEqual(api['errors'], 0)
        one = self.route(st, 'one')
        self.assertEqual((one['action'], one['pool']), ('pool', 'api-v1'))
        web = self.route(st, 'web')
        self.assertEqual(web['action'], 'blue_green')
        self.assertEqual(web['blue_green'], {'blue': 'web-blue', 'green': 'web-green',
                                             'active': 'blue', 'file_active': 'blue',
                                             'override': False})

        self.assertEqual([p['name'] for p in st['pools']], list(VERSIONS))
        v1 = self.pool(st, 'api-v1')
        self.assertEqual(v1['version'], '1.8.3')
        self.assertEqual(v1['balance'], 'round_robin')
        self.assertGreaterEqual(v1['requests'], 1)
        self.assertEqual(v1['errors'], 0)
        self.assertEqual(len(v1['servers']), 2)
        for s in v1['servers']:
            self.assertEqual({k: s[k] for k in ('weight', 'file_weight', 'override', 'drain',
                                                 'healthy', 'breaker', 'inflight')},
                             {'weight': 1, 'file_weight': 1, 'override': False, 'drain': False,
                              'healthy': True, 'breaker': 'closed', 'inflight': 0}, s)
        self.assertEqual(self.server(st, 'api-v1', 'api-v1-a')['address'], self.addrs['api-v1-a'])
        # one route, one pool, GET only
        r = self.call(v, 'GET', '/api/v1/routes/api', token=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['split'], api['split'])
        r = self.call(v, 'GET', '/api/v1/pools/api-v2', token=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['name'], 'api-v2')

    def test_dashboard(self):
        v = self.start()
        r = self.call(v, 'GET', '/', token=None)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header('Content-Type').startswith('text/html'), r)
        self.assertIn(b'veer', r.body)

    # overrides and traffic -------------------------------------------------
    def test_split_override_moves_traffic(self):
        v = self.start()
        before = self.traffic(v, '/api/a', 100)
        self.assertGreaterEqual(before['api-v1'], 80, before)
        route = self.change(v, 'PUT', '/api/v1/routes/api/split', {'api-v1': 75, 'api-v2': 25})
        self.assertEqual(route['name'], 'api')
        self.assertEqual(route['split'], [
            {'pool': 'api-v1', 'weight': 75, 'file_weight': 95, 'override': True},
            {'pool': 'api-v2', 'weight': 25, 'file_weight': 5, 'override': True}])
        n = 800
        c = self.traffic(v, '/api/b', n)
        self.assertEqual(set(c), {'api-v1', 'api-v2'}, c)
        # 75/25 within 6 points (3.9 sigma at 800 requests)
        self.assertLess(abs(c['api-v2'] / n - 0.25), 0.06, c)
        # a weight of 0 sends nothing
        self.change(v, 'PUT', '/api/v1/routes/api/split', {'api-v1': 0, 'api-v2': 1})
        self.assertEqual(self.traffic(v, '/api/c', 40), {'api-v2': 40})
        # the file's weights again: no override any more
        route = self.change(v, 'PUT', '/api/v1/routes/api/split', {'api-v2': 5, 'api-v1': 95})
        self.assertEqual([e['override'] for e in route['split']], [False, False])

    def test_blue_green_flip(self):
        v = self.start()
        self.assertEqual(self.traffic(v, '/page', 30), {'web-blue': 30})
        route = self.change(v, 'PUT', '/api/v1/routes/web/blue_green', {'active': 'green'})
        self.assertEqual(route['blue_green'], {'blue': 'web-blue', 'green': 'web-green',
                                               'active': 'green', 'file_active': 'blue',
                                               'override': True})
        green_before = len(self.bs['web-green'].received())
        blue_before = len(self.bs['web-blue'].received())
        self.assertEqual(self.traffic(v, '/page', 50), {'web-green': 50})
        self.assertEqual(len(self.bs['web-blue'].received()), blue_before)
        self.assertEqual(len(self.bs['web-green'].received()), green_before + 50)
        # back to blue, by pool name this time: the file's value, no override
        route = self.change(v, 'PUT', '/api/v1/routes/web/blue_green', {'active': 'web-blue'})
        self.assertEqual(route['blue_green']['active'], 'blue')
        self.assertFalse(route['blue_green']['override'])
        self.assertEqual(self.traffic(v, '/page', 20), {'web-blue': 20})

    def test_server_drain_and_weight(self):
        v = self.start()
        c = self.traffic(v, '/one/x', 40, 'X-Backend')
        self.assertEqual(c, {'api-v1-a': 20, 'api-v1-b': 20})
        path = '/api/v1/pools/api-v1/servers/%s' % quote(self.addrs['api-v1-b'], safe='')
        pool = self.change(v, 'PUT', path, {'drain': True})
        b = next(s for s in pool['servers'] if s['address'] == self.addrs['api-v1-b'])
        self.assertEqual((b['weight'], b['file_weight'], b['drain'], b['override']),
                         (0, 1, True, True), b)
        got_b = len(self.bs['api-v1-b'].received())
        self.assertEqual(self.traffic(v, '/one/y', 40, 'X-Backend'), {'api-v1-a': 40})
        self.assertEqual(len(self.bs['api-v1-b'].received()), got_b)
        # undrain: the weight comes back
        pool = self.change(v, 'PUT', path, {'drain': False})
        b = next(s for s in pool['servers'] if s['address'] == self.addrs['api-v1-b'])
        self.assertEqual((b['weight'], b['drain'], b['override']), (1, False, False), b)
        c = self.traffic(v, '/one/z', 40, 'X-Backend')
        self.assertEqual(c, {'api-v1-a': 20, 'api-v1-b': 20})
        # weight 3 to b: 3 of every 4 requests (each worker balances on
        # its own, so within a request or two)
        self.change(v, 'PUT', path, {'weight': 3})
        c = self.traffic(v, '/one/w', 80, 'X-Backend')
        self.assertTrue(55 <= c['api-v1-b'] <= 65 and c['api-v1-a'] + c['api-v1-b'] == 80, c)
        st = self.status(v)
        b = self.server(st, 'api-v1', 'api-v1-b')
        self.assertEqual((b['weight'], b['file_weight'], b['override']), (3, 1, True), b)

    # reload ----------------------------------------------------------------
    def test_overrides_survive_reload_of_unchanged_file(self):
        v = self.start()
        self.change(v, 'PUT', '/api/v1/routes/api/split', {'api-v1': 75, 'api-v2': 25})
        self.change(v, 'PUT', '/api/v1/routes/web/blue_green', {'active': 'green'})
        path = '/api/v1/pools/api-v1/servers/%s' % quote(self.addrs['api-v1-b'], safe='')
        self.change(v, 'PUT', path, {'drain': True})
        gen = self.status(v)['generation']
        res = v.reload()
        self.assertTrue(res.ok, res)
        self.assertEqual(res.generation, gen + 1)
        st = self.status(v)
        self.assertEqual(st['generation'], gen + 1)
        self.assertEqual(st['reloads'], {'success': 1, 'failure': 0})
        self.assertEqual(st['last_reload'], 'ok')
        self.assertEqual(self.route(st, 'api')['split'], [
            {'pool': 'api-v1', 'weight': 75, 'file_weight': 95, 'override': True},
            {'pool': 'api-v2', 'weight': 25, 'file_weight': 5, 'override': True}])
        self.assertEqual(self.route(st, 'web')['blue_green']['active'], 'green')
        self.assertTrue(self.route(st, 'web')['blue_green']['override'])
        b = self.server(st, 'api-v1', 'api-v1-b')
        self.assertEqual((b['weight'], b['file_weight'], b['drain']), (0, 1, True), b)
        # and traffic still follows them
        self.assertEqual(self.traffic(v, '/page', 20), {'web-green': 20})
        self.assertEqual(self.traffic(v, '/one/x', 20, 'X-Backend'), {'api-v1-a': 20})

    def test_file_wins_when_it_changed_the_field(self):
        v = self.start()
        self.change(v, 'PUT', '/api/v1/routes/api/split', {'api-v1': 75, 'api-v2': 25})
        self.change(v, 'PUT', '/api/v1/routes/web/blue_green', {'active': 'green'})
        # the file changes the split's weights, not blue_green
        res = v.reload(config(self.addrs, self.token_file, split=(0, 100)))
        self.assertTrue(res.ok, res)
        st = self.status(v)
        self.assertEqual(self.route(st, 'api')['split'], [
            {'pool': 'api-v1', 'weight': 0, 'file_weight': 0, 'override': False},
            {'pool': 'api-v2', 'weight': 100, 'file_weight': 100, 'override': False}])
        self.assertTrue(self.route(st, 'web')['blue_green']['override'])
        self.assertEqual(self.traffic(v, '/api/x', 30), {'api-v2': 30})
        self.assertEqual(self.traffic(v, '/page', 10), {'web-green': 10})
        # now the file flips to green itself: the override goes, and a
        # later file flip back to blue is obeyed
        res = v.reload(config(self.addrs, self.token_file, split=(0, 100), active='green'))
        self.assertTrue(res.ok, res)
        self.assertFalse(self.route(self.status(v), 'web')['blue_green']['override'])
        res = v.reload(config(self.addrs, self.token_file, split=(0, 100), active='blue'))
        self.assertTrue(res.ok, res)
        self.assertEqual(self.traffic(v, '/page', 10), {'web-blue': 10})

    def test_post_reload(self):
        v = self.start()
        v.write_config(config(self.addrs, self.token_file, split=(0, 100)))
        r = self.call(v, 'POST', '/api/v1/reload')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {'result': 'ok', 'generation': 2})
        self.settle(v)
        self.assertEqual(self.traffic(v, '/api/x', 20), {'api-v2': 20})
        # a broken file: every error with FILE:LINE:COL, the old config serves
        broken = config(self.addrs, self.token_file, split=(50, 50)).replace(
            '    pool: api-v1\n', '    pool: api-v9\n    bogus: 1\n')
        v.write_config(broken)
        r = self.call(v, 'POST', '/api/v1/reload')
        self.assertEqual(r.status, 422, r)
        body = r.json()
        self.assertEqual(body['result'], 'failure')
        self.assertEqual(body['generation'], 2)
        self.assertGreaterEqual(len(body['errors']), 2, body)
        for e in body['errors']:
            self.assertRegex(e, r'^%s:\d+:\d+: ' % re.escape(v.config_path), body)
        self.assertTrue(any('bogus' in e for e in body['errors']), body)
        self.assertTrue(any('api-v9' in e for e in body['errors']), body)
        # logged as SIGHUP logs it
        log = v.error_log()
        for e in body['errors']:
            self.assertIn('error: ' + e, log)
        self.assertIn('reload failed: the running config (generation 2) stays', log)
        st = self.status(v)
        self.assertEqual(st['generation'], 2)
        self.assertEqual(st['reloads'], {'success': 1, 'failure': 1})
        self.assertEqual(st['last_reload'], 'failure')
        self.assertEqual(self.traffic(v, '/api/y', 20), {'api-v2': 20})

    # errors change nothing ---------------------------------------------------
    def test_bad_json(self):
        v = self.start()
        before = self.status(v)
        r = self.call(v, 'PUT', '/api/v1/routes/api/split', '{"api-v1": 75,\n  "api-v2" 25}')
        self.assertEqual(r.status, 400, r)
        body = r.json()
        self.assertEqual(body['line'], 2, body)
        self.assertGreater(body['column'], 0, body)
        self.assertIn('JSON', body['error'])
        for bad in ('', '[75, 25]', '{"api-v1": 75, "api-v1": 25}', '{"api-v1": 75} x'):
            r = self.call(v, 'PUT', '/api/v1/routes/api/split', bad)
            self.assertEqual(r.status, 400, (bad, r))
            self.assertIn('error', r.json())
        self.assert_unchanged(v, before)
        self.assertEqual(self.traffic(v, '/page', 10), {'web-blue': 10})

    def test_bad_values(self):
        v = self.start()
        before = self.status(v)
        server = '/api/v1/pools/api-v1/servers/%s' % quote(self.addrs['api-v1-a'], safe='')
        cases = [
            ('/api/v1/routes/api/split', {'api-v1': 10001, 'api-v2': 1}),
            ('/api/v1/routes/api/split', {'api-v1': -1, 'api-v2': 1}),
            ('/api/v1/routes/api/split', {'api-v1': '75', 'api-v2': 25}),
            ('/api/v1/routes/api/split', {'api-v1': 7.5, 'api-v2': 25}),
            ('/api/v1/routes/api/split', {'api-v1': 75}),
            ('/api/v1/routes/api/split', {'api-v1': 75, 'api-v2': 25, 'web-blue': 1}),
            ('/api/v1/routes/api/split', {'api-v1': 0, 'api-v2': 0}),
            ('/api/v1/routes/web/split', {'web-blue': 1, 'web-green': 1}),
            ('/api/v1/routes/web/blue_green', {'active': 'purple'}),
            ('/api/v1/routes/web/blue_green', {'active': True}),
            ('/api/v1/routes/web/blue_green', {'side': 'green'}),
            ('/api/v1/routes/api/blue_green', {'active': 'green'}),
            (server, {'weight': 1001}),
            (server, {'weight': -1}),
            (server, {'drain': 'yes'}),
            (server, {'weight': 1, 'colour': 'red'}),
            (server, {}),
        ]
        for path, body in cases:
            r = self.call(v, 'PUT', path, body)
            self.assertEqual(r.status, 400, (path, body, r))
            self.assertIsInstance(r.json()['error'], str)
        # a body over the 64k limit
        r = self.call(v, 'PUT', '/api/v1/routes/api/split', '{"api-v1": 1%s}' % (' ' * 70000))
        self.assertEqual(r.status, 413, r)
        self.assert_unchanged(v, before)

    def test_unknown_names_and_methods(self):
        v = self.start()
        before = self.status(v)
        for path, body in [('/api/v1/routes/nope/split', {'a': 1}),
                           ('/api/v1/routes/nope/blue_green', {'active': 'green'}),
                           ('/api/v1/pools/nope/servers/127.0.0.1%3A1', {'weight': 1}),
                           ('/api/v1/pools/api-v1/servers/127.0.0.1%3A1', {'weight': 1}),
                           ('/api/v1/nope', {})]:
            r = self.call(v, 'PUT', path, body)
            self.assertEqual(r.status, 404, (path, r))
            self.assertIn('error', r.json())
        for path in ('/api/v1/routes/nope', '/api/v1/pools/nope', '/nope'):
            self.assertEqual(self.call(v, 'GET', path).status, 404, path)
        for method, path, allow in [('GET', '/api/v1/reload', 'POST'),
                                    ('POST', '/api/v1/status', 'GET, HEAD'),
                                    ('GET', '/api/v1/routes/api/split', 'PUT'),
                                    ('DELETE', '/metrics', 'GET, HEAD')]:
            r = self.call(v, method, path)
            self.assertEqual(r.status, 405, (method, path, r))
            self.assertEqual(r.header('Allow'), allow, r)
        self.assert_unchanged(v, before)

    def test_token(self):
        v = self.start()
        before = self.status(v)
        path = '/api/v1/routes/api/split'
        body = {'api-v1': 50, 'api-v2': 50}
        for token, hdrs in [(None, None), ('wrong', None), (TOKEN + 'x', None), (TOKEN[:-1], None),
                            (None, {'Authorization': 'Basic ' + TOKEN}),
                            (None, {'Authorization': TOKEN})]:
            for method, p, b in [('PUT', path, body), ('POST', '/api/v1/reload', None)]:
                r = self.call(v, method, p, b, token=token, headers=hdrs)
                self.assertEqual(r.status, 401, (token, hdrs, p, r))
                self.assertTrue(r.header('WWW-Authenticate').startswith('Bearer'), r)
                self.assertIn('error', r.json())
        self.assert_unchanged(v, before)
        self.assertEqual(self.status(v)['reloads'], {'success': 0, 'failure': 0})
        # GETs need none; the scheme is case-insensitive
        self.assertEqual(self.call(v, 'GET', '/metrics', token=None).status, 200)
        r = self.call(v, 'PUT', path, body, token=None,
                      headers={'Authorization': 'bearer  %s' % TOKEN})
        self.assertEqual(r.status, 200, r)

    # metrics -----------------------------------------------------------------
    def test_metrics(self):
        promtool = veertest.require_tool(PROMTOOL, 'prometheus (promtool)')
        v = self.start()
        self.change(v, 'PUT', '/api/v1/routes/api/split', {'api-v1': 70, 'api-v2': 30})
        api = self.traffic(v, '/api/m', 60)
        self.traffic(v, '/page', 10)
        veertest.wait_until(lambda: self.route(self.status(v), 'api')['requests'] >= 60, 5)
        res = v.reload()
        self.assertTrue(res.ok, res)

        r = self.call(v, 'GET', '/metrics', token=None)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header('Content-Type').startswith('text/plain; version=0.0.4'), r)
        text = r.body.decode()
        check = subprocess.run([promtool, 'check', 'metrics'], input=r.body,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(check.returncode, 0, 'promtool check metrics:\n%s\n--- metrics\n%s'
                         % (check.stdout.decode(), text))

        samples = parse_metrics(text)
        for fam, typ in [('veer_requests_total', 'counter'),
                         ('veer_request_duration_seconds', 'histogram'),
                         ('veer_upstream_retries_total', 'counter'),
                         ('veer_circuit_state', 'gauge'), ('veer_server_healthy', 'gauge'),
                         ('veer_rate_limited_total', 'counter'), ('veer_route_weight', 'gauge'),
                         ('veer_connections_active', 'gauge'),
                         ('veer_config_reloads_total', 'counter'),
                         ('veer_config_generation', 'gauge')]:
            self.assertIn('# TYPE %s %s\n' % (fam, typ), text)
            self.assertIn('# HELP %s ' % fam, text)
        for pool in ('api-v1', 'api-v2'):
            self.assertEqual(
                samples[('veer_requests_total',
                         frozenset({'route': 'api', 'pool': pool, 'code': '200'}.items()))],
                api[pool], samples)
        self.assertEqual(samples[('veer_route_weight',
                                  frozenset({'route': 'api', 'pool': 'api-v2'}.items()))], 30)
        self.assertEqual(samples[('veer_route_weight',
                                  frozenset({'route': 'web', 'pool': 'web-blue'}.items()))], 1)
        self.assertEqual(samples[('veer_route_weight',
                                  frozenset({'route': 'web', 'pool': 'web-green'}.items()))], 0)
        self.assertEqual(samples[('veer_route_weight',
                                  frozenset({'route': 'one', 'pool': 'api-v1'}.items()))], 1)
        st = self.status(v)
        self.assertEqual(samples[('veer_config_generation', frozenset())], st['generation'])
        self.assertEqual(samples[('veer_config_reloads_total',
                                  frozenset({'result': 'success'}.items()))], 1)
        self.assertEqual(samples[('veer_config_reloads_total',
                                  frozenset({'result': 'failure'}.items()))], 0)
        for b in ('api-v1-a', 'api-v1-b'):
            key = frozenset({'pool': 'api-v1', 'server': self.addrs[b]}.items())
            self.assertEqual(samples[('veer_circuit_state', key)], 0)
            self.assertEqual(samples[('veer_server_healthy', key)], 1)


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{(name, frozenset of label pairs): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError('unparsable sample line: %r' % line)
        labels = frozenset(LABEL_RE.findall(m.group(2) or ''))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


if __name__ == '__main__':
    veertest.main()
