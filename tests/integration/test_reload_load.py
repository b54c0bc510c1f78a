"""Hot reload under load, and memory across many reloads (SPEC 3 Reload;
issue 5: measured like HAProxy's seamless reload).

- wrk keeps 64 keep-alive connections busy on veer (2 workers) in front of
  nginx while 20 SIGHUPs alternate a split route between 100/0 and 0/100,
  each sent once the previous one is logged in force: wrk must see no socket
  error (connect, read, write, timeout) and no non-2xx answer, and both pools
  must have answered (so the reloads took effect under load).  A connection
  veer closed would show as a read error: wrk counts EOF on a keep-alive
  connection as one.
- 100 reloads of a config with a few hundred routes, with light traffic
  going on: RSS after them stays within 8 MiB of RSS after the first 10, and
  veer still routes by the last file.  Under ASan (CI's build-asan) the
  exit-status check at stop catches leaks too (LeakSanitizer makes it
  nonzero).

nginx and wrk are required (scripts/deps installs them): without them these
tests fail."""

import threading
import time

import veertest
from veertest import Client

VERSIONS = {'api-v1': '1.8.3', 'api-v2': '2.0.0'}
RELOADS_UNDER_LOAD = 20
CONNECTIONS = 64
WRK_SECONDS = 7
RELOAD_GAP = 0.2     # pacing between reloads, to spread them over the run
RSS_SLACK_KIB = 8 * 1024


def config(addrs, weights, workers=2, filler=0):
    """Split route /api/ over api-v1/api-v2 with WEIGHTS; FILLER extra
    routes (and a pool per ten of them) to give a generation some size."""
    out = ['global: { workers: %d, log: { access: "off" } }' % workers,
           'listeners:',
           '  - { name: web, listen: "127.0.0.1:0" }',
           'pools:']
    for n, a in addrs.items():
        out.append('  - { name: %s, version: %s, servers: [ { address: "%s" } ] }'
                   % (n, VERSIONS[n], a))
    pools = list(addrs)
    for i in range(filler // 10):
        name = 'filler-%d' % i
        out.append('  - { name: %s, version: 0.%d.0, balance: least_conn, servers: '
                   '[ { address: "%s", weight: 3 }, { address: "%s", weight: 1 } ] }'
                   % (name, i, addrs['api-v1'], addrs['api-v2']))
        pools.append(name)
    out.append('routes:')
    for i in range(filler):
        out.append('  - name: filler-route-%d\n'
                   '    match: { host: "*.f%d.example", path_prefix: /filler/%d/, '
                   'methods: [GET, POST], headers: { X-Filler: "%d" } }\n'
                   '    request_headers: { set: { X-Filler-Route: "%d" }, remove: [X-Drop-%d] }\n'
                   '    split: [ { pool: %s, weight: %d }, { pool: %s, weight: 1 } ]'
                   % (i, i, i, i, i, i, pools[i % len(pools)], i + 1,
                      pools[(i + 1) % len(pools)]))
    out += ['  - name: api',
            '    match: { path_prefix: /api/ }',
            '    split: [ { pool: api-v1, weight: %d }, { pool: api-v2, weight: %d } ]'
            % tuple(weights)]
    return '\n'.join(out) + '\n'


def established(port):
    """TCP connections in state ESTABLISHED whose local port is PORT (veer's
    side of its client connections), from /proc/net/tcp."""
    n = 0
    for path in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == '01' and int(parts[1].rsplit(':', 1)[1], 16) == port:
                        n += 1
        except FileNotFoundError:
            pass
    return n


def weights_for(generation):
    """Generation 1 (the first file) and every odd one: all to api-v1; even
    ones: all to api-v2."""
    return (100, 0) if generation % 2 else (0, 100)


class ReloadLoadTest(veertest.TestCase):

    def setUp(self):
        self.nginx = veertest.Nginx(list(VERSIONS))
        self.nginx.start()
        self.addCleanup(self.nginx.stop)
        self.addrs = {n: self.nginx.address(n) for n in VERSIONS}

    def test_reloads_under_wrk_lose_nothing(self):
        v = self.veer(config(self.addrs, weights_for(1)))
        v.wait_ready()
        out = {}

        def load():
            try:
                out['wrk'] = veertest.wrk_count(v.url('/api/x'), seconds=WRK_SECONDS,
                                                threads=2, connections=CONNECTIONS)
            except BaseException as e:  # reported by the main thread
                out['error'] = e

        t = threading.Thread(target=load, daemon=True)
        t.start()
        # every wrk connection is up before the first reload
        veertest.wait_until(lambda: established(v.port()) >= CONNECTIONS or not t.is_alive(),
                            5.0, msg=lambda: 'wrk connections up: %d of %d'
                            % (established(v.port()), CONNECTIONS))
        t0 = time.monotonic()
        pace = threading.Event()
        for i in range(RELOADS_UNDER_LOAD):
            gen = i + 2
            res = v.reload(config(self.addrs, weights_for(gen)))
            self.assertTrue(res.ok, res)
            self.assertEqual(res.generation, gen, res)
            self.assertEqual(res.lines('error'), [], res)
            self.assertTrue(t.is_alive(), 'wrk ended before reload %d of %d (%.1fs in): the '
                            'reloads were not all under load' % (i + 1, RELOADS_UNDER_LOAD,
                                                                  time.monotonic() - t0))
            pace.wait(RELOAD_GAP)
        reload_secs = time.monotonic() - t0
        t.join(WRK_SECONDS + 30)
        self.assertFalse(t.is_alive(), 'wrk did not finish')
        if 'error' in out:
            raise out['error']
        w = out['wrk']
        sys_msg = ('%d reloads in %.1fs under wrk -c%d -d%ds: %r'
                   % (RELOADS_UNDER_LOAD, reload_secs, CONNECTIONS, WRK_SECONDS, w))
        self.assertEqual(w.errors(), {}, 'socket errors: ' + sys_msg)
        self.assertEqual(w.summary['status'], 0, 'non-2xx/3xx answers: ' + sys_msg)
        bad = {k: n for k, n in w.counts.items()
               if k[0] != 200 or k[1] not in VERSIONS or k[1] != k[2]}
        self.assertEqual(bad, {}, 'answers that are not 200 from the pool in X-Veer-Pool: '
                         + sys_msg)
        pools = w.pools()
        self.assertGreater(pools['api-v1'], 0, sys_msg)
        self.assertGreater(pools['api-v2'], 0, sys_msg)
        self.assertEqual(w.total, w.summary['requests'], sys_msg)
        # nothing at error level in the whole run
        self.assertNotIn(' error: ', v.log(), v.log_tail())
        # the last file is in force: generation 21 is odd, all to api-v1
        with Client(v.port()) as c:
            for i in range(10):
                r = c.get('/api/last?i=%d' % i)
                self.assertEqual((r.status, r.header('X-Veer-Pool')), (200, 'api-v1'), r)
        sys_stderr_note(sys_msg)

    def test_100_reloads_memory_stays_flat(self):
        v = self.veer(config(self.addrs, weights_for(1), filler=200), env=veertest.rss_env())
        v.wait_ready()
        stop = threading.Event()
        failures = []
        served = [0]

        def traffic():
            # light traffic all along: requests that start on one generation
            # and end on another, connections that outlive many
            try:
                with Client(v.port()) as c1, Client(v.port()) as c2:
                    while not stop.is_set():
                        for c in (c1, c2):
                            r = c.get('/api/t')
                            if r.status != 200 or r.header('X-Veer-Pool') not in VERSIONS:
                                failures.append(r)
                            served[0] += 1
                        r = veertest.http(v.port(), 'GET', '/filler/7/x',
                                          [('Host', 'a.f7.example'), ('X-Filler', '7')])
                        if r.status != 200:
                            failures.append(r)
                        stop.wait(0.002)
            except Exception as e:  # reported by the main thread
                failures.append(e)

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        self.addCleanup(stop.set)
        base = None
        t0 = time.monotonic()
        for i in range(100):
            gen = i + 2
            res = v.reload(config(self.addrs, weights_for(gen), filler=200))
            self.assertTrue(res.ok, res)
            self.assertEqual(res.generation, gen, res)
            if gen % 10 == 1:
                # routing follows the file
                want = 'api-v1' if weights_for(gen)[0] else 'api-v2'
                r = veertest.http(v.port(), 'GET', '/api/check')
                self.assertEqual((r.status, r.header('X-Veer-Pool')), (200, want), r)
            if i + 1 == 10:
                base = v.rss_kib()
        elapsed = time.monotonic() - t0
        stop.set()
        t.join(10)
        final = v.rss_kib()
        self.assertEqual(failures, [], failures[:5])
        self.assertGreater(served[0], 0)
        self.assertLessEqual(final, base + RSS_SLACK_KIB,
                             'RSS %d KiB after 100 reloads, %d KiB after the first 10 '
                             '(+%d KiB; bound +%d KiB)' % (final, base, final - base,
                                                         RSS_SLACK_KIB))
        # generation 101 is odd: all to api-v1, on a new and an old connection
        self.assertEqual(veertest.http(v.port(), 'GET', '/api/end').header('X-Veer-Pool'),
                         'api-v1')
        sys_stderr_note('100 reloads in %.1fs with %d requests alongside; RSS %d KiB after '
                        '10, %d KiB after 100' % (elapsed, served[0], base, final))


def sys_stderr_note(msg):
    """A line of numbers for whoever reads the test log."""
    import sys
    sys.stderr.write('\n  [%s] ' % msg)


if __name__ == '__main__':
    veertest.main()
