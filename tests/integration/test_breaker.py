"""Circuit breakers (pools[].circuit_breaker), end to end with one worker
(breakers are per worker): a failing server (5xx, refused, timing out) is
taken out after consecutive_failures (or failure_rate over the window), gets
nothing while open, gets exactly probe_requests probes once open_for has
passed, comes back when a probe succeeds and stays out (longer) when it
fails.  When every server of the pool is out the request gets 503 at once.
max_pending bounds the connects in progress."""

import collections
import time

import veertest
from veertest import (BlackholePort, Client, FlakyBackend, build_request, make_config,
                      syn_sent_to, wait_until)

BREAKER = ('{ consecutive_failures: 3, failure_rate: 50%%, window: 10s, min_requests: 1000, '
           'open_for: %s, probe_requests: %d }')


def breaker(open_for='1s', probes=1, **over):
    if not over:
        return BREAKER % (open_for, probes)
    parts = {'consecutive_failures': 3, 'failure_rate': '50%', 'window': '10s',
             'min_requests': 1000, 'open_for': open_for, 'probe_requests': probes}
    parts.update(over)
    return '{ %s }' % ', '.join('%s: %s' % kv for kv in parts.items())


class BreakerTest(veertest.TestCase):

    def flaky(self, name):
        b = FlakyBackend(name).start()
        self.addCleanup(b.stop)
        return b

    def start(self, servers, brk, timeouts='{ connect: 1s, response: 2s }', **extra):
        opts = {'balance': 'round_robin', 'timeouts': timeouts, 'circuit_breaker': brk}
        opts.update(extra)
        return self.veer(make_config(servers, workers=1, pool_opts=opts))

    def until_traffic(self, c, backend, n, limit=20):
        """Send requests on C until BACKEND has received N; their
        (status, X-Backend) in order."""
        seen = []
        while backend.traffic() < n:
            self.assertLess(len(seen), limit, 'backend %s got %d requests of %d wanted: %r'
                            % (backend.name, backend.traffic(), n, seen))
            r = c.get('/json?n=%d' % len(seen))
            seen.append((r.status, r.header('X-Backend')))
        return seen

    def burst(self, c, n):
        out = collections.Counter()
        for i in range(n):
            r = c.get('/json?b=%d' % i)
            out[(r.status, r.header('X-Backend'))] += 1
        return out

    def poll_until_traffic(self, c, backend, n, timeout, interval=0.02):
        """Send a request every INTERVAL until BACKEND has N requests; the
        time it reached N and the statuses seen meanwhile."""
        seen = collections.Counter()
        deadline = time.monotonic() + timeout
        while backend.traffic() < n:
            if time.monotonic() > deadline:
                self.fail('backend %s: %d requests after %.1fs, wanted %d (saw %r)'
                          % (backend.name, backend.traffic(), timeout, n, dict(seen)))
            r = c.get('/json?p=%d' % sum(seen.values()))
            seen[(r.status, r.header('X-Backend'))] += 1
            time.sleep(interval)
        return time.monotonic(), seen

    # --------------------------------------------------------------------
    def test_failing_server_is_cut_off_probed_reopened_and_closed(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always(500)
        v = self.start([bad.address, good.address], breaker('1s', 1))
        with Client(v.port()) as c:
            seen = self.until_traffic(c, bad, 3)
            t_open = time.monotonic()
            self.assertEqual(seen.count((500, 'bad')), 3, seen)
            # open: the next requests all go to the good server
            out = self.burst(c, 20)
            self.assertEqual(dict(out), {(200, 'good'): 20})
            self.assertEqual(bad.traffic(), 3)
            self.assertLess(time.monotonic() - t_open, 0.8, 'burst too slow for open_for 1s')
            # half-open after open_for: exactly one probe; it fails
            t_probe, seen = self.poll_until_traffic(c, bad, 4, timeout=3)
            self.assertGreaterEqual(t_probe - t_open, 0.95, 'probe came before open_for')
            self.assertLess(t_probe - t_open, 1.6, 'no probe soon after open_for')
            self.assertEqual(set(seen) - {(200, 'good'), (500, 'bad')}, set(), seen)
            # reopened: nothing for a while (a longer period on a repeated trip)
            out = self.burst(c, 20)
            self.assertEqual(dict(out), {(200, 'good'): 20})
            self.assertEqual(bad.traffic(), 4)
            # fixed: the next probe succeeds and closes the breaker
            bad.heal()
            t_probe2, _ = self.poll_until_traffic(c, bad, 5, timeout=5)
            self.assertGreaterEqual(t_probe2 - t_probe, 1.5,
                                    'the open period did not grow on the repeated trip')
            self.assertLess(t_probe2 - t_probe, 2.8)
            out = self.burst(c, 20)
        self.assertGreaterEqual(out[(200, 'bad')], 7, out)
        self.assertEqual(out[(200, 'bad')] + out[(200, 'good')], 20, out)

    def test_refusing_server_is_cut_off_and_comes_back(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.outage()
        v = self.start([bad.address, good.address], breaker('1s', 1))
        with Client(v.port()) as c:
            t0 = time.monotonic()
            out = self.burst(c, 30)
            self.assertLess(time.monotonic() - t0, 0.8)
            # exactly consecutive_failures refused tries reached the client
            self.assertEqual(out[(502, None)], 3, out)
            self.assertEqual(out[(200, 'good')], 27, out)
            bad.recover()
            t_back, _ = self.poll_until_traffic(c, bad, 1, timeout=3)
            self.assertGreaterEqual(t_back - t0, 0.95)
            out = self.burst(c, 20)
        self.assertGreaterEqual(out[(200, 'bad')], 7, out)

    def test_only_probe_requests_go_through_half_open(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always(500)
        v = self.start([bad.address, good.address], breaker('500ms', 1),
                       timeouts='{ connect: 1s, response: 3s }')
        with Client(v.port()) as c:
            self.until_traffic(c, bad, 3)
            # the probe will hang: while it is out, nothing else may go there
            bad.fail_always('hang')
            probe = Client(v.port())
            self.addCleanup(probe.close)
            deadline = time.monotonic() + 2
            while bad.traffic() < 4:
                self.assertLess(time.monotonic(), deadline, 'no probe within 2s')
                probe.send(build_request('GET', '/json?probe=1'))
                # the probe goes to bad (hangs) or to good (answered)
                if probe.readable_within(0.05):
                    r = probe.read_response()
                    self.assertEqual((r.status, r.header('X-Backend')), (200, 'good'), r)
            out = self.burst(c, 30)
        self.assertEqual(dict(out), {(200, 'good'): 30})
        self.assertEqual(bad.traffic(), 4)

    def test_two_probes_with_probe_requests_2(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always(500)
        v = self.start([bad.address, good.address], breaker('500ms', 2))
        with Client(v.port()) as c:
            self.until_traffic(c, bad, 3)
            bad.heal()
            # half-open: the first successful probe does not close it yet;
            # the second does
            self.poll_until_traffic(c, bad, 5, timeout=3)
            out = self.burst(c, 20)
        self.assertGreaterEqual(out[(200, 'bad')], 7, out)

    def test_all_servers_open_is_503_at_once(self):
        b1, b2 = self.flaky('b1'), self.flaky('b2')
        b1.fail_always(500)
        b2.fail_always(500)
        v = self.start([b1.address, b2.address], breaker('5s', 1))
        with Client(v.port()) as c:
            out = self.burst(c, 6)
            self.assertEqual(out[(500, 'b1')] + out[(500, 'b2')], 6, out)
        for i in range(5):
            t0 = time.monotonic()
            r = veertest.http(v.port(), 'GET', '/json?open=%d' % i)
            self.assertLess(time.monotonic() - t0, 0.2)
            self.assertVeerError(r, 503)
        self.assertEqual((b1.traffic(), b2.traffic()), (3, 3))

    def test_503_all_out_keeps_the_client_connection(self):
        # like veer's 502 for a dead server: a bodiless GET answered 503
        # because every server is out need not cost the client its
        # keep-alive connection
        b1 = self.flaky('b1')
        b1.fail_always(500)
        v = self.start([b1.address], breaker('5s', 1))
        with Client(v.port()) as c:
            for i in range(3):
                self.assertEqual(c.get('/json?i=%d' % i).status, 500)
            r = c.get('/json?open=1')
            self.assertVeerError(r, 503)
            self.assertNotIn('close', r.header('Connection', '').lower(), r)
            r = c.get('/ping')
            self.assertEqual((r.status, r.body), (200, b'pong\n'), r)

    def test_timing_out_server_opens_then_503_without_waiting(self):
        slow = self.flaky('slow')
        slow.fail_always('hang')
        v = self.start([slow.address], breaker('5s', 1),
                       timeouts='{ connect: 1s, response: 300ms }')
        with Client(v.port()) as c:
            for i in range(3):
                r = c.get('/json?t=%d' % i)
                self.assertVeerError(r, 504)
            t0 = time.monotonic()
            r = c.get('/json?t=open')
            self.assertLess(time.monotonic() - t0, 0.2)
            self.assertVeerError(r, 503)
        self.assertEqual(slow.traffic(), 3)

    def test_failure_rate_rule(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always(500)
        v = self.start([bad.address, good.address],
                       breaker('5s', 1, consecutive_failures=0, failure_rate='50%',
                               min_requests=6))
        with Client(v.port()) as c:
            out = self.burst(c, 40)
        # the rate rule waits for min_requests outcomes of that server
        self.assertEqual(bad.traffic(), 6, out)
        self.assertEqual(out[(200, 'good')], 34, out)

    def test_4xx_is_not_a_failure(self):
        notfound, good = self.flaky('nf'), self.flaky('good')
        notfound.fail_always(404)
        v = self.start([notfound.address, good.address], breaker('5s', 1))
        with Client(v.port()) as c:
            out = self.burst(c, 30)
        self.assertEqual(out[(404, 'nf')], 15, out)
        self.assertEqual(out[(200, 'good')], 15, out)

    def test_a_failed_request_counts_once(self):
        # retries are on for 503 but a POST is not retried: its one 503
        # must count as one failure, so it takes 4 of them to open with
        # consecutive_failures: 4 (the same for GETs, retried elsewhere).
        for method in ('POST', 'GET'):
            with self.subTest(method):
                bad, good = self.flaky('bad-' + method), self.flaky('good-' + method)
                bad.fail_always(503)
                v = self.start([bad.address, good.address],
                               breaker('5s', 1, consecutive_failures=4),
                               retries='{ attempts: 2, on: [503], '
                                       'backoff: { base: 1ms, max: 2ms } }')
                with Client(v.port()) as c:
                    for i in range(30):
                        body = b'x%d' % i if method == 'POST' else None
                        r = c.request(method, '/echo?i=%d' % i, body=body)
                        self.assertIn(r.status, (200, 503), r)
                self.assertEqual(bad.traffic(), 4, 'failures before the breaker opened')
                self.assertEqual(bad.traffic() + good.traffic(), 30 + (4 if method == 'GET' else 0))
                v.stop()

    def test_open_breaker_stays_open_across_a_reload(self):
        # SPEC: breaker state carries over a reload by name
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always(500)
        v = self.start([bad.address, good.address], breaker('5s', 1))
        with Client(v.port()) as c:
            self.until_traffic(c, bad, 3)
        res = v.reload(v.config)
        self.assertTrue(res.ok, res)
        with Client(v.port()) as c:
            out = self.burst(c, 20)
        self.assertEqual(dict(out), {(200, 'good'): 20})
        self.assertEqual(bad.traffic(), 3)

    def test_max_pending_bounds_connects_in_progress(self):
        with BlackholePort() as hole:
            v = self.start([hole.address],
                           breaker('5s', 1, consecutive_failures=100, max_pending=2),
                           timeouts='{ connect: 1500ms, response: 2s }')
            waiting = []
            for i in range(2):
                c = Client(v.port())
                self.addCleanup(c.close)
                c.send(build_request('GET', '/json?w=%d' % i))
                waiting.append(c)
            wait_until(lambda: syn_sent_to(hole.port) >= 2, 2,
                       msg=lambda: 'veer has %d connects in progress, wanted 2'
                       % syn_sent_to(hole.port))
            t0 = time.monotonic()
            r = veertest.http(v.port(), 'GET', '/json?third=1')
            self.assertLess(time.monotonic() - t0, 0.2)
            self.assertVeerError(r, 503)
            for c in waiting:
                self.assertVeerError(c.read_response(), 502)
            self.assertGreaterEqual(time.monotonic() - t0, 1.0)
            # the slots are free again
            wait_until(lambda: syn_sent_to(hole.port) == 0, 2)
            c = Client(v.port())
            self.addCleanup(c.close)
            c.send(build_request('GET', '/json?again=1'))
            wait_until(lambda: syn_sent_to(hole.port) >= 1, 2)
            self.assertFalse(c.readable_within(0.3), 'answered although a slot was free')


if __name__ == '__main__':
    veertest.main()
