"""Active health checks (pools[].health_check): veer GETs `path` on every
server each `interval` (User-Agent veer-health); after `fall` failures in a
row (an error status, no answer within `timeout`, a refused connect) the
server gets no requests and the log says so; after `rise` successes it is
back (with a slow start, so at first it may get a reduced share).  When
every server of a pool is unhealthy a request gets 503 at once.  Health is
shared by all workers and survives a reload."""

import collections
import re
import time

import veertest
from veertest import Client, FlakyBackend, make_config, wait_until

INTERVAL = 0.2
HEALTH = '{ path: %s, interval: 200ms, timeout: 100ms, rise: 2, fall: 2 }'
# fall (or rise) intervals, plus one interval of phase, plus scheduling slack
VERDICT_WITHIN = 2 * INTERVAL + INTERVAL + 0.4


class HealthTest(veertest.TestCase):

    def flaky(self, name, **kw):
        b = FlakyBackend(name, **kw).start()
        self.addCleanup(b.stop)
        return b

    def start(self, servers, path='/healthz', workers=1, **extra):
        opts = {'balance': 'round_robin', 'timeouts': '{ connect: 1s, response: 2s }',
                'health_check': HEALTH % path}
        opts.update(extra)
        return self.veer(make_config(servers, workers=workers, pool_opts=opts))

    def wait_log(self, v, pattern, timeout):
        """Seconds until PATTERN (a regex) appears in veer's log."""
        t0 = time.monotonic()
        wait_until(lambda: re.search(pattern, v.log()), timeout, 0.01,
                   msg=lambda: 'no log line /%s/ within %.1fs\n%s' % (pattern, timeout,
                                                                     v.log_tail()))
        return time.monotonic() - t0

    def unhealthy_re(self, b):
        return r'health: pool api server %s is unhealthy' % re.escape(b.address)

    def healthy_re(self, b):
        return r'health: pool api server %s is healthy again' % re.escape(b.address)

    def spread(self, v, n, new_conn=False):
        out = collections.Counter()
        with Client(v.port()) as c:
            for i in range(n):
                r = veertest.http(v.port(), 'GET', '/json?i=%d' % i) if new_conn \
                    else c.get('/json?i=%d' % i)
                out[(r.status, r.header('X-Backend'))] += 1
        return out

    def wait_checked(self, *bs):
        for b in bs:
            wait_until(lambda: len(b.health_checks()) >= 2, 2,
                       msg='backend %s got no health checks' % b.name)

    # ----------------------------------------------------------------------
    def test_checks_are_gets_of_the_path_from_veer_health(self):
        a = self.flaky('a', health_path='/custom/health')
        v = self.start([a.address], path='/custom/health')
        wait_until(lambda: len(a.health_checks()) >= 3, 2)
        t0 = time.monotonic()
        n0 = len(a.health_checks())
        time.sleep(1.0)  # the rate of checks over one second is the point
        n1 = len(a.health_checks())
        elapsed = time.monotonic() - t0
        per_interval = (n1 - n0) / (elapsed / INTERVAL)
        self.assertTrue(0.6 <= per_interval <= 1.4, '%d checks in %.2fs' % (n1 - n0, elapsed))
        for req in a.health_checks():
            self.assertEqual((req.method, req.target), ('GET', '/custom/health'), req)
            self.assertEqual(req.header('User-Agent'), 'veer-health', req)
        # checks are not traffic; traffic works
        self.assertEqual(a.traffic(), 0)
        self.assertEqual(veertest.http(v.port(), 'GET', '/json').status, 200)
        self.assertNotRegex(v.log(), 'is unhealthy')

    def test_failing_check_takes_a_server_out_and_brings_it_back(self):
        a, b = self.flaky('a'), self.flaky('b')
        v = self.start([a.address, b.address])
        self.wait_checked(a, b)
        out = self.spread(v, 10)
        self.assertEqual(out, {(200, 'a'): 5, (200, 'b'): 5})
        a.health_status = 503
        took = self.wait_log(v, self.unhealthy_re(a), 3)
        self.assertLess(took, VERDICT_WITHIN)
        before = a.traffic()
        out = self.spread(v, 20)
        self.assertEqual(dict(out), {(200, 'b'): 20})
        self.assertEqual(a.traffic(), before)
        # back: rise checks later it is in again
        a.health_status = 200
        took = self.wait_log(v, self.healthy_re(a), 3)
        self.assertLess(took, VERDICT_WITHIN)
        # slow start: a reduced share at first, but some requests within a
        # few seconds
        deadline = time.monotonic() + 4
        sent = 0
        with Client(v.port()) as c:
            while a.traffic() == before:
                self.assertLess(time.monotonic(), deadline,
                                'no request reached a within 4s of its recovery (%d sent)' % sent)
                r = c.get('/json?back=%d' % sent)
                self.assertEqual(r.status, 200, r)
                sent += 1
                time.sleep(0.01)
        self.assertEqual(v.log().count('is unhealthy'), 1, v.log_tail())

    def test_check_timeout_is_a_failure(self):
        a, b = self.flaky('a'), self.flaky('b')
        v = self.start([a.address, b.address])
        self.wait_checked(a, b)
        a.health_delay = 400  # beyond the 100ms check timeout
        took = self.wait_log(v, self.unhealthy_re(a), 3)
        self.assertLess(took, VERDICT_WITHIN + 0.3)
        before = a.traffic()
        self.assertEqual(dict(self.spread(v, 10)), {(200, 'b'): 10})
        self.assertEqual(a.traffic(), before)
        a.health_delay = 0
        self.wait_log(v, self.healthy_re(a), 3)

    def test_refused_check_takes_a_server_out(self):
        a, b = self.flaky('a'), self.flaky('b')
        v = self.start([a.address, b.address])
        self.wait_checked(a, b)
        a.outage()
        took = self.wait_log(v, self.unhealthy_re(a), 3)
        self.assertLess(took, VERDICT_WITHIN)
        # no 502s: the server is out
        self.assertEqual(dict(self.spread(v, 10)), {(200, 'b'): 10})
        a.recover()
        took = self.wait_log(v, self.healthy_re(a), 3)
        self.assertLess(took, VERDICT_WITHIN)

    def test_all_unhealthy_is_503_at_once(self):
        a, b = self.flaky('a'), self.flaky('b')
        v = self.start([a.address, b.address])
        self.wait_checked(a, b)
        a.health_status = 500
        b.health_status = 500
        self.wait_log(v, self.unhealthy_re(a), 3)
        self.wait_log(v, self.unhealthy_re(b), 3)
        for i in range(5):
            t0 = time.monotonic()
            r = veertest.http(v.port(), 'GET', '/json?i=%d' % i)
            self.assertLess(time.monotonic() - t0, 0.2)
            self.assertVeerError(r, 503)
        self.assertEqual((a.traffic(), b.traffic()), (0, 0))
        # one coming back is enough
        b.health_status = 200
        self.wait_log(v, self.healthy_re(b), 3)
        r = veertest.http(v.port(), 'GET', '/json')
        self.assertEqual((r.status, r.header('X-Backend')), (200, 'b'), r)

    def test_health_is_shared_by_all_workers(self):
        a, b = self.flaky('a'), self.flaky('b')
        v = self.start([a.address, b.address], workers=3)
        self.wait_checked(a, b)
        # one checker for the process, not one per worker
        n0 = len(a.health_checks())
        time.sleep(0.6)  # three intervals
        self.assertLessEqual(len(a.health_checks()) - n0, 5)
        a.health_status = 503
        self.wait_log(v, self.unhealthy_re(a), 3)
        before = a.traffic()
        out = self.spread(v, 30, new_conn=True)
        self.assertEqual(dict(out), {(200, 'b'): 30})
        self.assertEqual(a.traffic(), before)

    def test_unhealthy_stays_out_across_a_reload(self):
        a, b = self.flaky('a'), self.flaky('b')
        v = self.start([a.address, b.address])
        self.wait_checked(a, b)
        a.health_status = 503
        self.wait_log(v, self.unhealthy_re(a), 3)
        before = a.traffic()
        res = v.reload(v.config)
        self.assertTrue(res.ok, res)
        # at once after the reload, before any new check could decide
        out = self.spread(v, 20)
        self.assertEqual(dict(out), {(200, 'b'): 20})
        self.assertEqual(a.traffic(), before)
        self.assertEqual(v.log().count('is unhealthy'), 1, v.log_tail())


if __name__ == '__main__':
    veertest.main()
