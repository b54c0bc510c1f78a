"""Hot reload on SIGHUP (SPEC 1 signals, SPEC 3 Reload; issue 5).

SIGHUP re-reads the -c file.  A valid file is logged as
`reload: generation N in force` (N = 2, 3, ... after the first config) and
takes effect for new requests at once; an invalid one is logged with
`FILE:LINE:COL` at error level, then `reload failed: the running config
(generation N) stays`, and the running config keeps serving unchanged.
Listeners that stay are never closed; added ones start accepting, removed
ones stop accepting and drain.  Requests in flight finish on the generation
they started with; a keep-alive connection picks up the new generation at
its next request; idle upstream connections to servers that stay are
reused.  global.workers is not changed by a reload (a warning says so).

Every test here runs the real binary with real backends; the reload
helper is Veer.reload() in veertest."""

import os
import re
import socket
import threading

import veertest
from veertest import Client, IO_TIMEOUT

VERSIONS = {'web-blue': '3.4.0', 'web-green': '3.5.0', 'api-v1': '1.8.3', 'api-v2': '2.0.0'}


def config(addrs, active='blue', split=(100, 0), env='one', remove=('X-Internal',),
           extra_set=None, workers=2, listeners=('web',), server_weight=1,
           extra_servers=None, pools=None, extra='', web_action=None):
    """The test config.  Routes: /ping (respond), /api/ (split api-v1/api-v2
    by SPLIT, request_headers set X-Env: ENV (+EXTRA_SET), remove REMOVE),
    / (blue_green web-blue/web-green, ACTIVE).  LISTENERS: names, each on
    127.0.0.1:0 (or (name, address) pairs).  EXTRA_SERVERS: pool -> further
    server addresses.  POOLS: the pool names to declare (default all).
    WEB_ACTION replaces the blue_green action of route web."""
    out = ['global: { workers: %d }' % workers, 'listeners:']
    for l in listeners:
        name, addr = (l, '127.0.0.1:0') if isinstance(l, str) else l
        out.append('  - { name: %s, listen: "%s" }' % (name, addr))
    out.append('pools:')
    for p in pools or VERSIONS:
        servers = [addrs[p]] + list((extra_servers or {}).get(p, ()))
        out.append('  - name: %s' % p)
        out.append('    version: %s' % VERSIONS[p])
        out.append('    servers:')
        for s in servers:
            out.append('      - { address: "%s", weight: %d }' % (s, server_weight))
    sets = {'X-Env': env}
    sets.update(extra_set or {})
    out += ['routes:',
            '  - { name: ping, match: { path_prefix: /ping }, '
            'respond: { status: 200, body: "pong\\n" } }',
            '  - name: api',
            '    match: { path_prefix: /api/ }',
            '    split: [ { pool: api-v1, weight: %d }, { pool: api-v2, weight: %d } ]' % split,
            '    request_headers:',
            '      set: { %s }' % ', '.join('%s: %s' % kv for kv in sets.items()),
            '      remove: [ %s ]' % ', '.join(remove)]
    out.append(extra.rstrip('\n')) if extra else None
    out += ['  - name: web',
            '    match: { path_prefix: / }',
            '    ' + (web_action or 'blue_green: { blue: web-blue, green: web-green, '
                         'active: %s }' % active)]
    return '\n'.join(out) + '\n'


def gated(gate, name):
    """A backend handler that answers only once GATE is set (a request held
    in flight for as long as the test wants)."""
    def handler(b, sock, stream, req):
        b._read_body(sock, stream, req)
        gate.wait(IO_TIMEOUT)
        return b.respond(sock, req, 200, [('Content-Type', 'text/plain')],
                         'held by %s\n' % name)
    return handler


class ReloadTest(veertest.TestCase):

    def setUp(self):
        self.bs = {n: self.backend(n) for n in VERSIONS}
        self.addrs = {n: b.address for n, b in self.bs.items()}
        self.gate = threading.Event()
        self.addCleanup(self.gate.set)  # never leave a backend thread waiting
        for n, b in self.bs.items():
            b.handlers['/held'] = gated(self.gate, n)

    # helpers -------------------------------------------------------------
    def start(self, listeners=('web',), **kw):
        v = self.veer(config(self.addrs, listeners=listeners, **kw),
                      listeners=tuple(l if isinstance(l, str) else l[0] for l in listeners))
        v.wait_ready()
        return v

    def reload_ok(self, v, generation, **kw):
        res = v.reload(config(self.addrs, **kw))
        self.assertTrue(res.ok, 'valid config refused: %r' % res)
        self.assertEqual(res.generation, generation, res)
        self.assertEqual(res.lines('error'), [], res)
        return res

    def check(self, r, pool):
        """R is a 200 from POOL, whose backend really is that pool."""
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('X-Veer-Pool'), pool, r)
        self.assertEqual(r.header('X-Backend'), pool, r)
        self.assertEqual(r.header('X-Veer-Version'), VERSIONS[pool], r)

    def pools(self, v, target='/page', n=10, name='web'):
        """Pools that answered N requests: half on one keep-alive connection,
        half each on its own."""
        out = []
        with Client(v.port(name)) as c:
            for i in range(n // 2):
                out.append(c.get('%s?k=%d' % (target, i)))
        for i in range(n - n // 2):
            out.append(veertest.http(v.port(name), 'GET', '%s?n=%d' % (target, i)))
        got = []
        for r in out:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header('X-Backend'), r.header('X-Veer-Pool'), r)
            got.append(r.header('X-Veer-Pool'))
        return got

    def hold(self, port, backend, target='/held'):
        """A client whose request TARGET is in flight at BACKEND (received,
        not answered until self.gate is set)."""
        c = self.client(port)
        n = len(backend.received(target))
        c.send(veertest.build_request('GET', target))
        backend.wait_requests(n + 1, target)
        return c

    def assertRefuses(self, port, host='127.0.0.1'):
        """Connections to HOST:PORT are refused within a second.  Not at the
        very instant of the 'in force' line: the control thread logs it when
        it has handed the generation to the workers, and each worker closes
        a removed listener's socket when it takes the generation, a few
        milliseconds later at most when it is busy.  A connect that races
        the close may lose its SYN (the kernel retries after 1s), hence the
        short connect timeout and the retries."""
        def refused():
            try:
                socket.create_connection((host, port), timeout=0.3).close()
            except ConnectionRefusedError:
                return True
            except OSError:
                pass  # reset in the closing accept queue, or SYN lost
            return False
        veertest.wait_until(refused, 1.0, msg='%s:%d still accepts connections after the '
                            'reload that removed its listener' % (host, port))

    # blue-green -----------------------------------------------------------
    def test_blue_green_flip_live(self):
        v = self.start(active='blue')
        blue, green = self.bs['web-blue'], self.bs['web-green']
        self.assertEqual(set(self.pools(v)), {'web-blue'})
        ka = self.client(v.port())
        self.check(ka.get('/before'), 'web-blue')
        held = self.hold(v.port(), blue)
        blue_before = len(blue.received())

        self.reload_ok(v, 2, active='green')
        # the request in flight is still in flight: the reload waited for
        # nothing and cut nothing
        self.assertFalse(held.readable_within(0), 'in-flight request answered early')
        # every new request goes to green at once: new connections, and the
        # keep-alive connection opened before the reload
        self.assertEqual(self.pools(v, n=20), ['web-green'] * 20)
        self.check(ka.get('/after'), 'web-green')
        # the request in flight finishes on blue, where it started
        self.gate.set()
        r = held.read_response()
        self.check(r, 'web-blue')
        self.assertEqual(r.body, b'held by web-blue\n')
        # and its connection's next request is routed by the new generation
        self.check(held.get('/next'), 'web-green')
        self.assertEqual(len(blue.received()), blue_before, 'blue got requests after the flip')

        # and back: generation 3 sends everything to blue again
        green_before = len(green.received())
        self.reload_ok(v, 3, active='blue')
        self.assertEqual(self.pools(v, n=10), ['web-blue'] * 10)
        self.check(ka.get('/again'), 'web-blue')
        self.assertEqual(len(green.received()), green_before)

    def test_in_flight_on_pool_the_reload_removes(self):
        # requests in flight to a pool the new config no longer has finish
        # from it: one waiting for its response head, one mid-body
        v = self.start(active='blue')
        held = self.hold(v.port(), self.bs['web-blue'])
        streaming = self.client(v.port())
        n = 400000
        streaming.send(veertest.build_request('GET', '/bytes/%d?slow=100&piece=40000' % n))
        first = streaming.stream.read_head()
        self.assertTrue(first[0].startswith('HTTP/1.1 200'), first)

        # the new config drops web-blue altogether
        self.reload_ok(v, 2, pools=('web-green', 'api-v1', 'api-v2'),
                       web_action='pool: web-green')
        self.assertNotIn('web-blue', v.config)

        self.assertEqual(self.pools(v, n=6), ['web-green'] * 6)
        self.gate.set()
        self.check(held.read_response(), 'web-blue')
        # the streamed body arrives whole
        head_headers = first[1]
        self.assertEqual(veertest.header_get(head_headers, 'X-Veer-Pool'), 'web-blue')
        framing, length = veertest.body_framing(head_headers, is_request=False)
        body = bytearray()
        if framing == 'chunked':
            streaming.stream.stream_chunked(body.extend)
        else:
            self.assertEqual(framing, 'length', head_headers)
            streaming.stream.stream(length, body.extend)
        self.assertEqual(len(body), n)
        self.assertEqual(veertest.sha256(bytes(body)), veertest.pattern_sha256(n))
        # both connections carry on with the new generation
        self.check(held.get('/x'), 'web-green')
        self.check(streaming.get('/y'), 'web-green')

    # split -----------------------------------------------------------------
    def test_split_weights_change(self):
        v = self.start(split=(100, 0))
        self.assertEqual(self.pools(v, '/api/x', 20), ['api-v1'] * 20)
        self.reload_ok(v, 2, split=(0, 100))
        self.assertEqual(self.pools(v, '/api/x', 20), ['api-v2'] * 20)
        self.reload_ok(v, 3, split=(100, 0))
        self.assertEqual(self.pools(v, '/api/x', 20), ['api-v1'] * 20)
        self.reload_ok(v, 4, split=(1, 1))
        self.assertEqual(set(self.pools(v, '/api/x', 40)), {'api-v1', 'api-v2'})

    # invalid files ----------------------------------------------------------
    def test_invalid_config_keeps_the_running_one(self):
        v = self.start(active='blue', split=(100, 0))
        ka = self.client(v.port())
        self.check(ka.get('/api/a'), 'api-v1')
        good = config(self.addrs, active='green', split=(0, 100))

        def at(text, marker):
            """1-based line of the first line of TEXT containing MARKER."""
            for i, ln in enumerate(text.splitlines()):
                if marker in ln:
                    return i + 1
            raise AssertionError('%r not in config' % marker)

        unknown = good.replace('    match: { path_prefix: /api/ }\n',
                               '    match: { path_prefix: /api/ }\n    bogus_key: 1\n')
        dangling = good.replace('active: green }', 'active: green }\n'
                                '  - { name: gone, match: { path_prefix: /gone/ }, '
                                'pool: no-such-pool }')
        syntax = good.replace('  - name: web\n', '  - name: web\n    match: { path_prefix: /\n')
        cases = [
            ('syntax error', syntax, None),
            ('unknown key', unknown, at(unknown, 'bogus_key')),
            ('dangling pool', dangling, at(dangling, 'no-such-pool')),
            ('out of range', good.replace('workers: 2', 'workers: 0'), 1),
            ('wrong type', good.replace('weight: 100 }', 'weight: lots }'),
             at(good, 'weight: 100 }')),
        ]
        path = re.escape(v.config_path)
        for what, text, line in cases:
            with self.subTest(what):
                self.assertNotEqual(text, good, 'test bug: %s changed nothing' % what)
                res = v.reload(text)
                self.assertFalse(res.ok, 'invalid config (%s) accepted: %r' % (what, res))
                self.assertEqual(res.generation, 1, res)
                errors = res.lines('error')
                located = [e for e in errors if re.match(r'error: %s:\d+:\d+: \S' % path, e)]
                self.assertTrue(located, 'no error-level FILE:LINE:COL line: %r' % res)
                if line is not None:
                    self.assertIn(line, [int(re.match(r'error: %s:(\d+):' % path, e).group(1))
                                         for e in located], res)
                self.assertEqual(errors[-1], 'error: reload failed: the running config '
                                 '(generation 1) stays', res)
                # the same lines as `veer -t` gives for the file
                p = veertest.run_veer(['-t', '-c', v.config_path])
                self.assertEqual(p.returncode, 1, p)
                check = [ln for ln in p.stdout.decode().splitlines() +
                         p.stderr.decode().splitlines() if ln.strip()]
                self.assertEqual(['error: ' + ln for ln in check], located, res)
                # the old config still serves, unchanged, on old and new
                # connections
                self.check(ka.get('/api/b'), 'api-v1')
                self.assertEqual(set(self.pools(v, '/api/x', 6)), {'api-v1'})
                self.assertEqual(set(self.pools(v, '/', 6)), {'web-blue'})

        with self.subTest('missing file'):
            os.remove(v.config_path)
            res = v.reload()
            self.assertFalse(res.ok, res)
            self.assertEqual(res.generation, 1, res)
            self.assertTrue(any(v.config_path in e for e in res.lines('error')), res)
            self.check(ka.get('/api/c'), 'api-v1')

        with self.subTest('listen address in use'):
            busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.addCleanup(busy.close)
            busy.bind(('127.0.0.1', 0))
            busy.listen(1)
            taken = '127.0.0.1:%d' % busy.getsockname()[1]
            res = v.reload(config(self.addrs, active='green', split=(0, 100),
                                  listeners=('web', ('extra', taken))))
            self.assertFalse(res.ok, res)
            self.assertEqual(res.generation, 1, res)
            self.assertTrue(any(taken in e for e in res.lines('error')), res)
            self.check(ka.get('/api/d'), 'api-v1')
            self.assertEqual(set(self.pools(v, '/', 4)), {'web-blue'})

        # a valid file after all that: generation 2, in force at once
        res = v.reload(good)
        self.assertTrue(res.ok, res)
        self.assertEqual(res.generation, 2, res)
        self.check(ka.get('/api/e'), 'api-v2')
        self.assertEqual(set(self.pools(v, '/api/x', 6)), {'api-v2'})
        self.assertEqual(set(self.pools(v, '/', 6)), {'web-green'})

    # client connections -----------------------------------------------------
    def test_keepalive_connections_take_the_new_generation(self):
        v = self.start(split=(100, 0))
        # idle keep-alive connections, enough to land on both workers
        conns = [self.client(v.port()) for _ in range(8)]
        for c in conns:
            self.check(c.get('/api/before'), 'api-v1')
        self.reload_ok(v, 2, split=(0, 100))
        for c in conns:
            self.check(c.get('/api/after'), 'api-v2')
            self.check(c.get('/api/again'), 'api-v2')
        self.reload_ok(v, 3, split=(100, 0))
        for c in conns:
            self.check(c.get('/api/third'), 'api-v1')
        # not one of them was closed and reopened: each request came on
        # the socket opened first (a closed one would have raised)
        self.assertEqual(len(self.bs['api-v2'].received()), 16)

    # listeners ----------------------------------------------------------------
    def test_listener_added_and_removed(self):
        v = self.start(listeners=('web', 'old'))
        web_port, old_port = v.port('web'), v.port('old')
        web_idle = self.client(web_port)
        self.check(web_idle.get('/a'), 'web-blue')
        old_idle = self.client(old_port)
        self.check(old_idle.get('/b'), 'web-blue')
        old_busy = self.hold(old_port, self.bs['web-blue'])

        res = self.reload_ok(v, 2, listeners=('web', 'new'), active='green')
        # the added listener is logged with its real port and accepts
        self.assertIn('new', res.listeners, res)
        new_port = res.listeners['new']
        self.assertNotIn(new_port, (0, web_port, old_port))
        self.assertRegex(res.log, r'info: listener new on 127\.0\.0\.1:%d\n' % new_port)
        self.assertNotIn('listener web on', res.log)  # kept, not re-bound
        self.assertEqual(set(self.pools(v, '/', 6, name='new')), {'web-green'})
        # the kept listener: same port, old connections work, new ones too
        self.check(web_idle.get('/c'), 'web-green')
        self.assertEqual(set(self.pools(v, '/', 6)), {'web-green'})
        # the removed one: refuses connections, closes its idle ones
        self.assertRefuses(old_port)
        self.assertTrue(old_idle.wait_closed(5.0), 'idle connection of a removed listener '
                        'still open')
        # and drains: the request in flight on it is answered, then it closes
        self.gate.set()
        r = old_busy.read_response()
        self.check(r, 'web-blue')
        self.assertTrue(old_busy.wait_closed(5.0), 'connection of a removed listener still '
                        'open after its last response')

        # a listener that moves to another address is a new listener
        res = self.reload_ok(v, 3, listeners=(('web', '127.0.0.2:0'), 'new'))
        self.assertIn('web', res.listeners, res)
        self.assertNotIn('new', res.listeners, res)
        self.assertEqual(v.port('new'), new_port)
        self.assertRefuses(web_port)
        with Client(v.port('web'), host='127.0.0.2') as c:
            self.check(c.get('/d'), 'web-blue')
        self.check(veertest.http(new_port, 'GET', '/e'), 'web-blue')

    # upstream connections -----------------------------------------------------
    def test_upstream_connections_reused(self):
        # one worker, so one upstream connection per server serves all
        v = self.start(workers=1, split=(100, 0))
        b = self.bs['api-v1']

        def run(n, pool='api-v1'):
            with Client(v.port()) as c:
                for i in range(n):
                    self.check(c.get('/api/r?i=%d' % i), pool)
            for i in range(n):
                self.check(veertest.http(v.port(), 'GET', '/api/s?i=%d' % i), pool)

        run(4)
        conns = list(b.connections)
        self.assertEqual(len(conns), 1, 'sequential requests opened %r' % conns)
        # weights only: route split weights, then server weights
        self.reload_ok(v, 2, workers=1, split=(100, 0), server_weight=5)
        run(4)
        self.reload_ok(v, 3, workers=1, split=(50, 0), server_weight=5)
        run(4)
        self.assertEqual(b.connections, conns, 'weights-only reloads: api-v1 saw new '
                         'connections')
        # a server added to the pool: the one that stays keeps its
        # connection
        extra = self.backend('api-v1-b')
        res = self.reload_ok(v, 4, workers=1, split=(50, 0),
                             extra_servers={'api-v1': [extra.address]})
        self.assertTrue(res.ok)
        with Client(v.port()) as c:
            backends = [c.get('/api/t?i=%d' % i).header('X-Backend') for i in range(8)]
        self.assertEqual(set(backends), {'api-v1', 'api-v1-b'}, backends)
        self.assertEqual(b.connections, conns, 'server list changed: api-v1 (kept) saw new '
                         'connections')

    # request_headers -------------------------------------------------------------
    def test_request_headers_change(self):
        v = self.start(split=(100, 0), env='one', remove=('X-Internal',))
        b = self.bs['api-v1']
        sent = [('X-Internal', 'secret'), ('X-Other', 'o'), ('X-Env', 'client')]
        ka = self.client(v.port())

        def last(target):
            return [q for q in b.received() if q.target == target][-1]

        self.check(ka.get('/api/h1', sent), 'api-v1')
        q = last('/api/h1')
        self.assertEqual(q.header_all('X-Env'), ['one'], q)
        self.assertEqual(q.header_all('X-Internal'), [], q)
        self.assertEqual(q.header_all('X-Other'), ['o'], q)

        self.reload_ok(v, 2, split=(100, 0), env='two', extra_set={'X-Added': 'yes'},
                       remove=('X-Other',))
        for target, c in (('/api/h2', ka), ('/api/h3', None)):
            r = c.get(target, sent) if c else veertest.http(v.port(), 'GET', target, sent)
            self.check(r, 'api-v1')
            q = last(target)
            self.assertEqual(q.header_all('X-Env'), ['two'], q)
            self.assertEqual(q.header_all('X-Added'), ['yes'], q)
            self.assertEqual(q.header_all('X-Internal'), ['secret'], q)
            self.assertEqual(q.header_all('X-Other'), [], q)

    # workers ---------------------------------------------------------------------
    def test_workers_change_not_applied(self):
        v = self.start(workers=2)
        threads = len(os.listdir('/proc/%d/task' % v.pid))
        res = v.reload(config(self.addrs, workers=3, active='green'))
        self.assertTrue(res.ok, res)
        self.assertEqual(res.generation, 2, res)
        self.assertTrue(any('global.workers' in w for w in res.lines('warn')),
                        'no warning that workers stays: %r' % res)
        self.assertEqual(len(os.listdir('/proc/%d/task' % v.pid)), threads)
        # the rest of the file is in force
        self.assertEqual(set(self.pools(v, '/', 8)), {'web-green'})


if __name__ == '__main__':
    veertest.main()
