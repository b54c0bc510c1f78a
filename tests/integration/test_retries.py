"""Retries (pools[].retries) and upstream timeouts, end to end with one
worker: a dead or failing server is retried on another one for the
conditions in `on`, only for idempotent methods unless nothing was sent
(connect failure), at most `attempts` tries, each try on a different server
when one exists, never once the response has started; per_try_timeout
bounds each try; the budget caps retries in flight.  Without retries a
refused connect is a prompt 502 and a silent server a 504 after
timeouts.response."""

import collections
import os
import re
import tempfile
import time

import veertest
from veertest import (BlackholePort, Client, FlakyBackend, ProtocolError, dead_address,
                      make_config, parallel, pattern_bytes, run_veer, sha256, syn_sent_to)

TIMEOUTS = '{ connect: 1s, response: 2s }'
BACKOFF = '{ base: 10ms, max: 50ms }'


def retries(on, attempts=3, per_try_timeout=None, budget=None):
    parts = ['attempts: %d' % attempts, 'on: [%s]' % ', '.join(on), 'backoff: %s' % BACKOFF]
    if per_try_timeout:
        parts.append('per_try_timeout: %s' % per_try_timeout)
    if budget:
        parts.append('budget: %s' % budget)
    return '{ %s }' % ', '.join(parts)


class RetriesTest(veertest.TestCase):

    def flaky(self, name):
        b = FlakyBackend(name).start()
        self.addCleanup(b.stop)
        return b

    def start(self, servers, retry=None, timeouts=TIMEOUTS, **extra):
        opts = {'balance': 'round_robin', 'timeouts': timeouts}
        if retry:
            opts['retries'] = retry
        opts.update(extra)
        return self.veer(make_config(servers, workers=1, pool_opts=opts))

    # connect failures --------------------------------------------------------
    def test_dead_server_is_retried_on_the_live_one(self):
        live = self.backend('live')
        v = self.start([dead_address(), live.address], retries(['connect_failure']))
        statuses = collections.Counter()
        with Client(v.port()) as c:
            for i in range(20):
                r = c.get('/json?i=%d' % i)
                statuses[(r.status, r.header('X-Backend'))] += 1
        # a new client connection each time too
        for i in range(10):
            r = veertest.http(v.port(), 'GET', '/json?j=%d' % i)
            statuses[(r.status, r.header('X-Backend'))] += 1
        self.assertEqual(dict(statuses), {(200, 'live'): 30})
        self.assertEqual(len(live.received()), 30)

    def test_without_retries_about_half_fail(self):
        live = self.backend('live')
        v = self.start([dead_address(), live.address])
        statuses = collections.Counter()
        with Client(v.port()) as c:
            for i in range(20):
                statuses[c.get('/json?i=%d' % i).status] += 1
        self.assertEqual(set(statuses), {200, 502}, statuses)
        self.assertTrue(7 <= statuses[502] <= 13, statuses)
        self.assertEqual(len(live.received()), statuses[200])

    def test_post_to_dead_server_is_retried_intact(self):
        # connect_failure: nothing was sent, so even a POST is retried, and
        # its body reaches the live server whole.
        live = self.backend('live')
        v = self.start([dead_address(), live.address], retries(['connect_failure']))
        for size in (0, 1000, 200000):
            body = pattern_bytes(size)
            for i in range(4):
                r = veertest.http(v.port(), 'POST', '/sink?size=%d&i=%d' % (size, i),
                                  [('Content-Type', 'application/octet-stream')], body)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header('X-Backend'), 'live', r)
                self.assertEqual(r.json(), {'len': size, 'sha256': sha256(body)}, size)
        got = live.received('/sink')
        self.assertEqual(len(got), 12)
        self.assertTrue(all(g.method == 'POST' for g in got))

    # status retries ----------------------------------------------------------
    def test_get_503_is_retried_on_the_other_server(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always(503)
        v = self.start([bad.address, good.address], retries(['503']))
        with Client(v.port()) as c:
            for i in range(10):
                r = c.get('/json?i=%d' % i)
                self.assertEqual((r.status, r.header('X-Backend')), (200, 'good'), r)
        self.assertEqual(good.traffic(), 10)
        # round robin sent about half of the first tries to the bad one
        self.assertGreaterEqual(bad.traffic(), 3)
        # each request the bad one answered was retried exactly once
        self.assertEqual(sorted(r.target for r in bad.received()),
                         sorted(set(r.target for r in bad.received())))

    def test_put_503_is_retried(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always(503)
        v = self.start([bad.address, good.address], retries(['503']))
        with Client(v.port()) as c:
            for i in range(6):
                r = c.request('PUT', '/echo?i=%d' % i, body=b'put-%d' % i)
                self.assertEqual((r.status, r.body), (200, b'put-%d' % i), r)
        self.assertGreaterEqual(bad.traffic(), 2)
        self.assertEqual([g.body for g in bad.received()],
                         [b'put-%s' % g.query['i'].encode() for g in bad.received()])

    def test_post_503_is_not_retried(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always(503)
        v = self.start([bad.address, good.address], retries(['503', 'reset']))
        seen = collections.Counter()
        with Client(v.port()) as c:
            for i in range(10):
                r = c.request('POST', '/echo?i=%d' % i, body=b'post-%d' % i)
                seen[(r.status, r.header('X-Backend'))] += 1
                if r.status == 503:
                    # the server's own answer, passed on
                    self.assertEqual(r.body, b'status 503\n', r)
        self.assertEqual(seen[(503, 'bad')], bad.traffic(), seen)
        self.assertGreaterEqual(bad.traffic(), 3, seen)
        self.assertEqual(seen[(200, 'good')], good.traffic(), seen)
        # no POST reached two servers
        self.assertEqual(bad.traffic() + good.traffic(), 10)
        targets = [r.target for r in bad.received()] + [r.target for r in good.received()]
        self.assertEqual(len(set(targets)), 10)

    def test_status_not_in_on_is_not_retried(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always(502)
        v = self.start([bad.address, good.address], retries(['503']))
        seen = collections.Counter()
        with Client(v.port()) as c:
            for i in range(10):
                seen[c.get('/json?i=%d' % i).status] += 1
        self.assertEqual(seen[502], bad.traffic(), seen)
        self.assertEqual(bad.traffic() + good.traffic(), 10)

    def test_attempts_bound_the_tries(self):
        bs = [self.flaky('b%d' % i) for i in range(3)]
        for b in bs:
            b.fail_always(503)
        v = self.start([b.address for b in bs], retries(['503'], attempts=3))
        with Client(v.port()) as c:
            for i in range(4):
                r = c.get('/json?i=%d' % i)
                self.assertEqual(r.status, 503, r)
                # the last server's answer reaches the client
                self.assertEqual(r.body, b'status 503\n', r)
        per_target = collections.defaultdict(list)
        for b in bs:
            for req in b.received():
                per_target[req.target].append(b.name)
        self.assertEqual(sum(len(x) for x in per_target.values()), 12, dict(per_target))
        for target, names in per_target.items():
            # exactly `attempts` tries, each on a different server
            self.assertEqual(sorted(names), ['b0', 'b1', 'b2'], (target, names))

    def test_each_retry_prefers_a_different_server(self):
        bs = [self.flaky('b%d' % i) for i in range(3)]
        for b in bs:
            b.fail_always(503)
        v = self.start([b.address for b in bs], retries(['503'], attempts=2))
        with Client(v.port()) as c:
            for i in range(9):
                r = c.get('/json?i=%d' % i)
                self.assertEqual(r.status, 503, r)
        per_target = collections.defaultdict(list)
        for b in bs:
            for req in b.received():
                per_target[req.target].append(b.name)
        self.assertEqual(len(per_target), 9)
        for target, names in per_target.items():
            self.assertEqual(len(names), 2, (target, names))
            self.assertEqual(len(set(names)), 2, (target, names))

    def test_one_server_retries_on_itself(self):
        # with a single server the retry goes to the same one
        b = self.flaky('only')
        b.fail_next(2, 503)
        v = self.start([b.address], retries(['503'], attempts=3))
        r = veertest.http(v.port(), 'GET', '/json')
        self.assertEqual((r.status, r.header('X-Backend')), (200, 'only'), r)
        self.assertEqual(b.traffic(), 3)

    # resets -------------------------------------------------------------------
    def test_reset_before_the_response_is_retried(self):
        bad, good = self.flaky('bad'), self.flaky('good')
        bad.fail_always('reset')
        v = self.start([bad.address, good.address], retries(['reset']))
        with Client(v.port()) as c:
            for i in range(8):
                r = c.get('/json?i=%d' % i)
                self.assertEqual((r.status, r.header('X-Backend')), (200, 'good'), r)
        self.assertGreaterEqual(bad.traffic(), 2)
        self.assertEqual(good.traffic(), 8)

    def test_no_retry_once_the_response_started(self):
        b1, b2 = self.backend('b1'), self.backend('b2')
        v = self.start([b1.address, b2.address],
                       retries(['connect_failure', 'reset', 'timeout', '502', '503', '504']))
        with Client(v.port()) as c:
            c.send(veertest.build_request('GET', '/abort/body'))
            with self.assertRaises(ProtocolError) as cm:
                c.read_response()
            # the head (200, 100000 bytes announced) went through, the body
            # was cut short
            self.assertIn('EOF after', str(cm.exception))
        self.assertEqual(len(b1.received('/abort/body')) + len(b2.received('/abort/body')), 1)

    # timeouts -----------------------------------------------------------------
    def test_per_try_timeout_moves_on_to_the_next_server(self):
        slow, good = self.flaky('slow'), self.flaky('good')
        slow.fail_always('hang')
        v = self.start([slow.address, good.address],
                       retries(['timeout'], per_try_timeout='500ms'),
                       timeouts='{ connect: 1s, response: 3s }')
        durations = []
        with Client(v.port()) as c:
            for i in range(4):
                t0 = time.monotonic()
                r = c.get('/json?i=%d' % i)
                durations.append((time.monotonic() - t0, r.header('X-Backend')))
                self.assertEqual((r.status, r.header('X-Backend')), (200, 'good'), r)
        self.assertGreaterEqual(slow.traffic(), 1)
        slow_ones = sorted(d for d, _ in durations if d > 0.2)
        self.assertEqual(len(slow_ones), slow.traffic(), durations)
        for d in slow_ones:
            # one per-try timeout (plus at most the 50ms backoff), far from
            # the 3s response timeout
            self.assertGreaterEqual(d, 0.45, durations)
            self.assertLess(d, 1.2, durations)

    def test_post_that_timed_out_is_not_retried(self):
        slow, good = self.flaky('slow'), self.flaky('good')
        slow.fail_always('hang')
        v = self.start([slow.address, good.address],
                       retries(['timeout', 'reset', '503'], per_try_timeout='400ms'),
                       timeouts='{ connect: 1s, response: 3s }')
        seen = collections.Counter()
        for i in range(4):
            r = veertest.http(v.port(), 'POST', '/echo?i=%d' % i, body=b'p%d' % i)
            seen[(r.status, r.header('X-Backend'))] += 1
        self.assertEqual(seen[(504, None)], slow.traffic(), seen)
        self.assertGreaterEqual(slow.traffic(), 1, seen)
        self.assertEqual(slow.traffic() + good.traffic(), 4, seen)

    def test_gets_keep_succeeding_while_one_of_three_fails(self):
        # retries and breaker together: one server refuses, one answers
        # 503, one is fine; every GET succeeds
        refusing, failing, good = self.flaky('refusing'), self.flaky('failing'), self.flaky('good')
        refusing.outage()
        failing.fail_always(503)
        for bad in ('refusing', 'failing'):
            with self.subTest(bad):
                servers = [refusing.address if bad == 'refusing' else failing.address,
                           self.backend('ok1').address, self.backend('ok2').address]
                v = self.start(servers, retries(['connect_failure', '503']),
                               circuit_breaker='{ consecutive_failures: 3, open_for: 5s }')
                with Client(v.port()) as c:
                    for i in range(60):
                        r = c.get('/json?i=%d' % i)
                        self.assertEqual(r.status, 200, r)
                if bad == 'failing':
                    # and the breaker stopped sending it requests
                    self.assertEqual(failing.traffic(), 3)
                v.stop()

    def test_timeout_without_retry_is_504_after_response_timeout(self):
        slow = self.flaky('slow')
        slow.fail_always('hang')
        v = self.start([slow.address], timeouts='{ connect: 1s, response: 700ms }')
        t0 = time.monotonic()
        r = veertest.http(v.port(), 'GET', '/json')
        elapsed = time.monotonic() - t0
        self.assertVeerError(r, 504)
        self.assertGreaterEqual(elapsed, 0.65)
        self.assertLess(elapsed, 1.5)

    def test_refused_without_retry_is_502_promptly(self):
        v = self.start([dead_address()])
        t0 = time.monotonic()
        r = veertest.http(v.port(), 'GET', '/json')
        self.assertVeerError(r, 502)
        self.assertLess(time.monotonic() - t0, 0.5)

    def test_connect_timeout_is_502_or_a_retry(self):
        with BlackholePort() as hole:
            good = self.backend('good')
            # without retries: 502 after timeouts.connect
            v = self.start([hole.address], timeouts='{ connect: 400ms, response: 2s }')
            t0 = time.monotonic()
            r = veertest.http(v.port(), 'GET', '/json')
            elapsed = time.monotonic() - t0
            self.assertVeerError(r, 502)
            self.assertGreaterEqual(elapsed, 0.35)
            self.assertLess(elapsed, 1.5)
            # with connect_failure retries: the other server answers
            v2 = self.start([hole.address, good.address], retries(['connect_failure']),
                            timeouts='{ connect: 400ms, response: 2s }')
            with Client(v2.port()) as c:
                for i in range(4):
                    t0 = time.monotonic()
                    r = c.get('/json?i=%d' % i)
                    self.assertEqual((r.status, r.header('X-Backend')), (200, 'good'), r)
                    self.assertLess(time.monotonic() - t0, 1.5)
            self.assertEqual(len(good.received()), 4)
            self.assertEqual(syn_sent_to(hole.port), 0)

    # budget -------------------------------------------------------------------
    def test_budget_caps_retries_in_flight(self):
        # 10 requests at once, every server answers 503 after 300ms: with
        # budget 20% at most max(3, 20% of 10) = 3 retries are in flight,
        # far fewer than the 20 that attempts: 3 alone would allow.
        bs = [self.backend('b%d' % i) for i in range(3)]
        v = self.start([b.address for b in bs], retries(['503'], attempts=3, budget='20%'))
        results = parallel([lambda i=i: veertest.http(v.port(), 'GET',
                                                      '/json?status=503&delay=300&i=%d' % i)
                            for i in range(10)])
        for r in results:
            self.assertNotIsInstance(r, Exception)
            self.assertEqual(r.status, 503, r)
        tries = sum(len(b.received()) for b in bs)
        # 10 first tries; retries in flight at most max(3, 20% of 10) = 3 at
        # a time; every one of them ends after its 2 retries at most.
        self.assertGreaterEqual(tries, 13)
        self.assertLessEqual(tries, 16, tries)

    def test_budget_of_100_percent_never_refuses_a_retry(self):
        # retries in flight can never exceed 100% of requests in flight (a
        # retry is a request in flight), so budget: 100% must let every
        # request make all its attempts: 10 requests x 3 tries.
        bs = [self.backend('b%d' % i) for i in range(3)]
        v = self.start([b.address for b in bs], retries(['503'], attempts=3, budget='100%'))
        results = parallel([lambda i=i: veertest.http(v.port(), 'GET',
                                                      '/json?status=503&delay=300&i=%d' % i)
                            for i in range(10)])
        for r in results:
            self.assertNotIsInstance(r, Exception)
            self.assertEqual(r.status, 503, r)
        per_target = collections.Counter(r.target for b in bs for r in b.received())
        self.assertEqual(sum(per_target.values()), 30, dict(per_target))


class RetriesConfigTest(veertest.TestCase):

    def test_bad_retries_on_value_is_a_config_error(self):
        cfg = make_config(['127.0.0.1:9'], pool_opts={
            'retries': '{ attempts: 3, on: [connect_failure, 418] }'})
        with tempfile.TemporaryDirectory(prefix='veer-retries-') as d:
            path = os.path.join(d, 'veer.yaml')
            with open(path, 'w') as f:
                f.write(cfg)
            p = run_veer(['-t', '-c', path])
            out = (p.stdout + p.stderr).decode('utf-8', 'replace')
            self.assertEqual(p.returncode, 1, out)
            line = [i + 1 for i, ln in enumerate(cfg.splitlines()) if 'retries' in ln][0]
            errs = re.findall(r'^%s:(\d+):(\d+): (.+)$' % re.escape(path), out, re.M)
            self.assertEqual(len(errs), 1, out)
            self.assertEqual(int(errs[0][0]), line, out)
            self.assertIn('418', errs[0][2], out)


if __name__ == '__main__':
    veertest.main()
