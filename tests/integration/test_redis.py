"""Global rate limits through a real Redis (global.redis,
routes[].rate_limit.scope: global).

Each test starts its own redis-server (Debian's redis-server package,
installed by scripts/deps) on a loopback port, without persistence.  The
buckets live in Redis, so two veer instances share one limit; when Redis is
down, stalled or restarted, veer keeps answering as global.redis.on_error
says, never waits past global.redis.timeout, and reconnects by itself."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import veertest
from veertest import wait_until, wrk_count

ADMIN_RE = re.compile(r'admin on 127\.0\.0\.1:(\d+)')


def find_redis():
    for path in (shutil.which('redis-server'), '/usr/bin/redis-server'):
        if path and os.access(path, os.X_OK):
            return path
    return None


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def resp_command(*args):
    out = b'*%d\r\n' % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b'$%d\r\n%s\r\n' % (len(a), a)
    return out


def resp_read(f):
    line = f.readline()
    if not line:
        raise ConnectionError('redis closed the connection')
    kind, rest = line[:1], line[1:-2]
    if kind == b'+':
        return rest.decode()
    if kind == b'-':
        raise RuntimeError(rest.decode())
    if kind == b':':
        return int(rest)
    if kind == b'$':
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data
    if kind == b'*':
        n = int(rest)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise RuntimeError('bad reply %r' % line)


class Redis:
    """redis-server on 127.0.0.1:PORT: no persistence, no protected mode."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_port()
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        self.logpath = os.path.join(self.tmp, 'redis-%d-%d.log' % (self.port, self.starts))
        log = open(self.logpath, 'wb')
        self.proc = subprocess.Popen(
            [find_redis(), '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
             '--appendonly', 'no', '--daemonize', 'no', '--dir', self.tmp],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(self.ping, 10, 0.02,
                   msg=lambda: 'redis-server did not answer on %d: %s' % (self.port, self.log()))
        return self

    def log(self):
        with open(self.logpath, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def ping(self):
        if self.proc.poll() is not None:
            raise AssertionError('redis-server exited: %s' % self.log())
        try:
            return self.command('PING') == 'PONG'
        except OSError:
            return False

    def command(self, *args):
        with socket.create_connection(('127.0.0.1', self.port), timeout=2) as s:
            s.sendall(resp_command(*args))
            with s.makefile('rb') as f:
                return resp_read(f)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)


def config(redis_port, limit, workers=2, backend=None, on_error='allow', timeout='50ms'):
    return ('global:\n'
            '  workers: %d\n'
            '  admin: { listen: "127.0.0.1:0" }\n'
            '  redis: { address: "127.0.0.1:%d", timeout: %s, on_error: %s }\n'
            'listeners: [ { name: web, listen: "127.0.0.1:0" } ]\n'
            'pools: [ { name: api, servers: [ { address: "%s" } ] } ]\n'
            'routes:\n'
            '  - name: r\n'
            '    match: { path_prefix: / }\n'
            '    pool: api\n'
            '    rate_limit: %s\n'
            % (workers, redis_port, timeout, on_error, backend, limit))


def codes(port, n, path='/json', headers=None):
    """Status codes of N requests on one keep-alive connection, and the
    slowest one's time."""
    out, slowest = [], 0.0
    headers = list((headers or {}).items())
    with veertest.Client(port) as c:
        for i in range(n):
            t0 = time.monotonic()
            r = c.get('%s?i=%d' % (path, i), headers)
            slowest = max(slowest, time.monotonic() - t0)
            out.append(r.status)
            if r.header('Connection', '').lower() == 'close':
                c.close()
                c.connect()
    return out, slowest


class RedisLimitTest(veertest.TestCase):

    def setUp(self):
        if find_redis() is None:
            self.fail('redis-server not found: run scripts/deps (it installs redis-server)')
        self.tmp = tempfile.mkdtemp(prefix='veer-redis-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.b = self.backend('b1')

    def redis(self):
        r = Redis(self.tmp).start()
        self.addCleanup(r.stop)
        return r

    def start(self, redis, limit, **kw):
        self.redis_port = redis.port
        v = self.veer(config(redis.port, limit, backend=self.b.address, **kw))
        m = wait_until(lambda: ADMIN_RE.search(v.log()), 10,
                       msg=lambda: 'no "admin on" line\n' + v.log_tail())
        v.admin_port = int(m.group(1))
        v.wait_ready()
        workers = kw.get('workers', 2)
        wait_until(lambda: self.connections(v) == workers, 5, 0.02,
                   msg=lambda: 'workers never connected to redis\n' + v.log_tail())
        return v

    def metrics(self, v):
        return veertest.http(v.admin_port, 'GET', '/metrics').body.decode()

    def metric(self, v, series):
        m = re.search(r'^%s (-?\d+)$' % re.escape(series), self.metrics(v), re.M)
        return int(m.group(1)) if m else 0

    def connections(self, v, redis=None):
        port = redis.port if redis else self.redis_port
        return self.metric(v, 'veer_redis_connections{address="127.0.0.1:%d"}' % port)

    # -----------------------------------------------------------------------

    def test_bucket_lives_in_redis(self):
        r = self.redis()
        v = self.start(r, '{ rate: 1/m, burst: 3, key: "header:X-User", scope: global }')
        alice, _ = codes(v.port(), 5, headers={'X-User': 'alice'})
        self.assertEqual(alice, [200, 200, 200, 429, 429])
        # another key has its own bucket
        bob, _ = codes(v.port(), 2, headers={'X-User': 'bob'})
        self.assertEqual(bob, [200, 200])
        self.assertEqual(len(self.b.received()), 5)
        # the bucket is Redis's: its key holds the tokens left
        fields = r.command('HGETALL', 'veer:rl:r:alice')
        state = dict(zip(fields[::2], fields[1::2]))
        self.assertEqual(set(state), {b't', b'n'}, fields)
        self.assertLess(float(state[b'n']), 1.0, state)
        ttl = r.command('PTTL', 'veer:rl:r:alice')
        self.assertTrue(0 < ttl <= 180000, ttl)  # expires once it would be full again
        # the 429 is the same as a local limit's
        with veertest.Client(v.port()) as c:
            resp = c.get('/json', [('X-User', 'alice')])
        self.assertVeerError(resp, 429)
        self.assertEqual(resp.header('RateLimit-Limit'), '3', resp)
        self.assertEqual(resp.header('RateLimit-Remaining'), '0', resp)
        self.assertGreaterEqual(int(resp.header('Retry-After')), 1, resp)
        self.assertGreaterEqual(int(resp.header('RateLimit-Reset')), 1, resp)
        # a bucket emptied by hand in Redis is empty for veer too
        r.command('DEL', 'veer:rl:r:bob')
        again, _ = codes(v.port(), 3, headers={'X-User': 'bob'})
        self.assertEqual(again, [200, 200, 200])
        self.assertEqual(self.metric(v, 'veer_rate_limited_total{route="r"}'), 3)
        self.assertEqual(self.metric(v, 'veer_redis_errors_total{reason="down"}'), 0)

    def test_two_instances_share_one_limit(self):
        # rate 50/s, burst 10, key route: two veer processes (2 workers
        # each) hammered at once for 3 s admit about 10 + 50 * 3 in all;
        # with scope: local they would admit twice that.
        r = self.redis()
        limit = '{ rate: 50/s, burst: 10, key: route, scope: global }'
        v1 = self.start(r, limit)
        v2 = self.start(r, limit)
        results, errors = {}, []

        def hammer(name, v):
            try:
                results[name] = wrk_count(v.url('/json'), seconds=3, threads=2, connections=8)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=hammer, args=(n, v)) for n, v in
                   (('v1', v1), ('v2', v2))]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        self.assertEqual(errors, [])
        ok = limited = 0
        for res in results.values():
            self.assertEqual(res.errors(), {}, res)
            for (status, _, _), n in res.counts.items():
                self.assertIn(status, (200, 429), res)
                ok += n if status == 200 else 0
                limited += n if status == 429 else 0
        self.assertGreater(limited, 300, results)  # hammered well over the rate
        # wrk runs 3 s; ELAPSED adds its start and exit, so the most the
        # limit allows is 10 + 50 * ELAPSED and the least 10 + 50 * 3.
        low, high = (10 + 50 * 3) * 0.9, (10 + 50 * elapsed) * 1.1
        self.assertTrue(low <= ok <= high,
                        'admitted %d in %.2fs together, want %d..%d' % (ok, elapsed, low, high))
        # both instances took a share (one bucket, two takers)
        for name, res in results.items():
            self.assertGreater(sum(n for (s, _, _), n in res.counts.items() if s == 200), 20,
                               (name, res))
        # what was admitted is what the backend got (plus at most one
        # request per connection on its way when wrk stopped)
        wait_until(lambda: ok <= len(self.b.received()) <= ok + 16, 3,
                   msg=lambda: 'backend got %d, wrk saw %d' % (len(self.b.received()), ok))

    def test_redis_down_allow_then_reconnect(self):
        r = self.redis()
        v = self.start(r, '{ rate: 1/m, burst: 2, key: route, scope: global }')
        self.assertEqual(codes(v.port(), 3)[0], [200, 200, 429])
        r.stop()
        wait_until(lambda: self.connections(v) == 0, 5, 0.02,
                   msg=lambda: 'veer did not notice redis went away\n' + v.log_tail())
        # fail open: every request goes through, at once
        got, slowest = codes(v.port(), 20)
        self.assertEqual(got, [200] * 20)
        self.assertLess(slowest, 1.0)
        self.assertGreaterEqual(self.metric(v, 'veer_redis_errors_total{reason="down"}'), 20)
        self.assertTrue(re.search(r'warn: redis 127\.0\.0\.1:%d: connection lost' % r.port,
                                  v.log()), v.log_tail())
        # Redis back (empty: it kept nothing): veer reconnects by itself
        # and the limit holds again
        r.start()
        wait_until(lambda: self.connections(v) == 2, 5, 0.05,
                   msg=lambda: 'veer did not reconnect\n' + v.log_tail())
        self.assertEqual(codes(v.port(), 3)[0], [200, 200, 429])
        wait_until(lambda: re.search(r'info: redis 127\.0\.0\.1:%d: answering again' % r.port,
                                     v.log()), 3, 0.05,
                   msg=lambda: 'no "answering again" line\n' + v.log_tail())
        self.assertTrue(v.alive())

    def test_redis_down_deny(self):
        r = self.redis()
        v = self.start(r, '{ rate: 100/s, burst: 100, scope: global }', on_error='deny')
        self.assertEqual(codes(v.port(), 2)[0], [200, 200])
        r.stop()
        wait_until(lambda: self.connections(v) == 0, 5, 0.02)
        with veertest.Client(v.port()) as c:
            for i in range(5):
                resp = c.get('/json?down=%d' % i)
                self.assertVeerError(resp, 503)
        self.assertEqual(len(self.b.received('/json?down=0')), 0)
        self.assertEqual(len(self.b.received()), 2)

    def test_stalled_redis_costs_at_most_the_timeout(self):
        # Redis stopped with SIGSTOP: connected, silent.  A request waits
        # at most timeout (100ms) and then goes on (allow); the next ones
        # do not queue behind the stalled connection.  After SIGCONT the
        # limit holds again.
        r = self.redis()
        v = self.start(r, '{ rate: 1/m, burst: 2, key: route, scope: global }',
                       timeout='100ms', workers=1)
        self.assertEqual(codes(v.port(), 3)[0], [200, 200, 429])
        r.pause()
        t0 = time.monotonic()
        got, slowest = codes(v.port(), 10)
        elapsed = time.monotonic() - t0
        self.assertEqual(got, [200] * 10)
        self.assertGreaterEqual(slowest, 0.09)   # the first one waited for Redis
        self.assertLess(slowest, 1.0)            # ... but not past the timeout
        self.assertLess(elapsed, 2.0)            # and the rest did not wait each
        self.assertGreaterEqual(self.metric(v, 'veer_redis_errors_total{reason="timeout"}'), 1)
        r.resume()
        wait_until(lambda: codes(v.port(), 1)[0] == [429], 5, 0.1,
                   msg=lambda: 'the limit did not hold again after SIGCONT\n' + v.log_tail())

    def test_restart_under_load(self):
        # wrk keeps 16 connections busy for 5 s; Redis is killed after 1 s
        # and started again after 2.5 s.  No request fails (on_error:
        # allow), and once Redis is back 429s come again.
        r = self.redis()
        v = self.start(r, '{ rate: 200/s, burst: 20, key: route, scope: global }')
        box = {}
        t = threading.Thread(target=lambda: box.setdefault(
            'res', wrk_count(v.url('/json'), seconds=5, threads=2, connections=16)))
        t.start()
        time.sleep(1)
        r.stop()
        wait_until(lambda: self.connections(v) == 0, 3, 0.02,
                   msg=lambda: 'veer did not notice redis went away\n' + v.log_tail())
        time.sleep(0.5)
        r.start()
        wait_until(lambda: self.connections(v) == 2, 5, 0.05,
                   msg=lambda: 'veer did not reconnect\n' + v.log_tail())
        limited_before = self.metric(v, 'veer_rate_limited_total{route="r"}')
        wait_until(lambda: self.metric(v, 'veer_rate_limited_total{route="r"}') > limited_before,
                   3, 0.05, msg=lambda: 'no 429 after redis came back')
        t.join()
        res = box['res']
        self.assertEqual(res.errors(), {}, res)
        statuses = {s for (s, _, _) in res.counts}
        self.assertEqual(statuses, {200, 429}, res)
        self.assertGreater(self.metric(v, 'veer_redis_errors_total{reason="down"}'), 0)
        self.assertTrue(v.alive())

    def test_reload_moves_to_another_redis(self):
        r1, r2 = self.redis(), self.redis()
        limit = '{ rate: 1/m, burst: 2, key: route, scope: global }'
        v = self.start(r1, limit)
        self.assertEqual(codes(v.port(), 3)[0], [200, 200, 429])
        self.assertIsNotNone(r1.command('HGET', 'veer:rl:r:', 'n'))
        res = v.reload(config(r2.port, limit, backend=self.b.address))
        self.assertTrue(res.ok, res)
        self.redis_port = r2.port
        wait_until(lambda: self.connections(v, r2) == 2, 5, 0.02,
                   msg=lambda: 'workers did not connect to the new redis\n' + v.log_tail())
        self.assertEqual(self.connections(v, r1), 0)
        # a fresh bucket in the new Redis
        self.assertEqual(codes(v.port(), 3)[0], [200, 200, 429])
        self.assertIsNotNone(r2.command('HGET', 'veer:rl:r:', 'n'))

    def test_scope_global_needs_redis(self):
        path = os.path.join(self.tmp, 'bad.yaml')
        with open(path, 'w') as f:
            f.write('listeners: [ { name: web, listen: "127.0.0.1:0" } ]\n'
                    'pools: [ { name: api, servers: [ { address: "127.0.0.1:1" } ] } ]\n'
                    'routes:\n'
                    '  - name: r\n'
                    '    pool: api\n'
                    '    rate_limit: { rate: 5/s, scope: global }\n')
        p = veertest.run_veer(['-t', '-c', path])
        self.assertEqual(p.returncode, 1, p)
        self.assertIn('%s:6:37: routes[0].rate_limit.scope: global needs global.redis' % path,
                      p.stdout.decode(), p)


if __name__ == '__main__':
    veertest.main()
