"""Listener limits and timeouts: 431 for a head over limits.header_bytes or
with more than limits.headers fields, 413 for a body over
limits.body_bytes, 408 when the head does not arrive within
timeouts.header; idle keep-alive connections closed after timeouts.idle."""

import time

import veertest
from veertest import Client, build_request, make_config


class LimitsTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config(
            [self.b.address],
            listener_opts={'timeouts': '{ header: 500ms, idle: 1s, body: 500ms }',
                           'limits': '{ header_bytes: 8k, headers: 20, body_bytes: 1m }'}))

    def test_header_too_large_431(self):
        with Client(self.v.port()) as c:
            r = c.request('GET', '/json', [('X-Big', 'a' * 10000)])
            self.assertVeerError(r, 431)
        # just under the limit is fine
        r = veertest.http(self.v.port(), 'GET', '/json', [('X-Big', 'a' * 6000)])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.b.received()), 1)

    def test_many_small_headers_over_byte_limit_431(self):
        hdrs = [('X-H%d' % (i % 10), 'v' * 900) for i in range(10)]
        r = veertest.http(self.v.port(), 'GET', '/json', hdrs)
        self.assertVeerError(r, 431)
        self.assertEqual(self.b.received(), [])

    def test_too_many_headers_431(self):
        hdrs = [('X-N%d' % i, 'v') for i in range(30)]
        r = veertest.http(self.v.port(), 'GET', '/json', hdrs)
        self.assertVeerError(r, 431)
        self.assertEqual(self.b.received(), [])
        hdrs = [('X-N%d' % i, 'v') for i in range(10)]
        self.assertEqual(veertest.http(self.v.port(), 'GET', '/json', hdrs).status, 200)

    def test_body_too_large_content_length_413(self):
        with Client(self.v.port()) as c:
            c.send(build_request('POST', '/echo', [('Content-Length', str(2 * 1024 * 1024))]))
            c.send(b'x' * 65536)
            r = c.read_response()
            self.assertVeerError(r, 413)
        self.assertEqual(self.b.received(), [])
        # exactly the limit passes
        body = b'z' * (1024 * 1024)
        r = veertest.http(self.v.port(), 'POST', '/echo', body=body)
        self.assertEqual((r.status, len(r.body)), (200, len(body)), r)

    def test_body_too_large_chunked_413(self):
        with Client(self.v.port()) as c:
            c.send(build_request('POST', '/echo', [('Transfer-Encoding', 'chunked')]))
            piece = b'%x\r\n' % 65536 + b'c' * 65536 + b'\r\n'
            try:
                for _ in range(20):
                    c.send(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass  # veer may stop reading once it has answered
            r = c.read_response()
            self.assertVeerError(r, 413)
        done = [q for q in self.b.received() if q.complete.is_set()]
        self.assertEqual(done, [], 'an oversized chunked body reached the backend whole')

    def test_header_timeout_408(self):
        with Client(self.v.port()) as c:
            t0 = time.monotonic()
            c.send(b'GET /json HTTP/1.1\r\nHost: a\r\n')
            r = c.read_response()
            elapsed = time.monotonic() - t0
            self.assertVeerError(r, 408)
            self.assertGreaterEqual(elapsed, 0.4)
            self.assertLess(elapsed, 3.0)
            self.assertTrue(c.wait_closed(3), 'connection not closed after 408')
        self.assertEqual(self.b.received(), [])

    def test_header_timeout_not_reset_by_trickling(self):
        # a slowloris client sending a byte at a time does not extend the
        # header deadline (first byte to end of head)
        with Client(self.v.port()) as c:
            t0 = time.monotonic()
            c.send(b'GET /json HTTP/1.1\r\n')
            deadline = t0 + 3.0
            while time.monotonic() < deadline and not c.readable_within(0.1):
                try:
                    c.send(b'X')
                except OSError:
                    break
            self.assertTrue(c.readable_within(0.5), 'no answer while trickling header bytes')
            self.assertLess(time.monotonic() - t0, 3.0)
            r = c.read_response()
            self.assertVeerError(r, 408)

    def test_slow_head_rate_408_before_the_header_timeout(self):
        # With a long header timeout, a head trickling in at a few bytes per
        # second is cut off by the minimum receive rate (64 B/s once the
        # head has taken 2 s), long before the timeout.
        b = self.backend('b2')
        v = self.veer(make_config(
            [b.address], listener_opts={'timeouts': '{ header: 30s }'}))
        with Client(v.port()) as c:
            t0 = time.monotonic()
            c.send(b'GET /json HTTP/1.1\r\n')
            got = False
            while time.monotonic() - t0 < 10 and not got:
                got = c.readable_within(0.5)
                if not got:
                    try:
                        c.send(b'X')  # about 2 bytes per second
                    except OSError:
                        break
            elapsed = time.monotonic() - t0
            self.assertTrue(got, 'no answer to a head at ~2 bytes/s within 10 s')
            self.assertGreaterEqual(elapsed, 1.9)
            self.assertLess(elapsed, 6.0)
            r = c.read_response()
            self.assertVeerError(r, 408)
            self.assertTrue(c.wait_closed(3))
        self.assertEqual(b.received(), [])

    def test_fast_enough_slow_head_is_served(self):
        # A slow but steady client (a head over ~2.5 s at well above 64 B/s)
        # is served.
        b = self.backend('b3')
        v = self.veer(make_config(
            [b.address], listener_opts={'timeouts': '{ header: 30s }'}))
        head = b'GET /json HTTP/1.1\r\nHost: a\r\n' + b'X-Pad: ' + b'p' * 400 + b'\r\n\r\n'
        with Client(v.port()) as c:
            for i in range(0, len(head), 50):
                c.send(head[i:i + 50])
                time.sleep(0.25)  # pacing the client itself, not waiting for veer
            r = c.read_response()
            self.assertEqual(r.status, 200)

    def test_idle_keepalive_closed(self):
        with Client(self.v.port()) as c:
            self.assertEqual(c.get('/json').status, 200)
            t0 = time.monotonic()
            self.assertTrue(c.readable_within(4.0),
                            'idle keep-alive connection still open after 4 s (idle: 1s)')
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)
            # closed silently, or after a 408
            try:
                r = c.read_response()
            except (veertest.ProtocolError, ConnectionResetError):
                return
            self.assertEqual(r.status, 408, r)
            self.assertTrue(c.wait_closed(1))

    def test_slow_response_outlives_the_client_timeouts(self):
        # A request without a body leaves the client's idle timer pending
        # while its response is on the way (proxy.c: one timer operation per
        # request).  A response slower than the idle and header timeouts
        # still arrives, the connection carries the next request, and the
        # idle timeout then closes it as usual.
        with Client(self.v.port()) as c:
            self.assertEqual(c.get('/json?first').status, 200)
            time.sleep(0.6)  # most of the idle second gone
            t0 = time.monotonic()
            r = c.get('/json?delay=1500')
            self.assertGreaterEqual(time.monotonic() - t0, 1.4)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()['target'], '/json?delay=1500')
            r = c.get('/json?after')
            self.assertEqual(r.status, 200, r)
            t0 = time.monotonic()
            self.assertTrue(c.readable_within(4.0), 'not closed after the idle timeout')
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_body_timeout(self):
        # the body stops arriving: veer ends the exchange within the body
        # timeout (a 408 if nothing was answered yet, else a close)
        with Client(self.v.port()) as c:
            c.send(build_request('POST', '/echo', [('Content-Length', '100')]) + b'only-some')
            t0 = time.monotonic()
            self.assertTrue(c.readable_within(3.0), 'nothing happened 3 s into a stalled body')
            self.assertGreaterEqual(time.monotonic() - t0, 0.4)
            try:
                r = c.read_response()
                self.assertEqual(r.status, 408, r)
            except (veertest.ProtocolError, ConnectionResetError):
                pass  # closed without an answer
            self.assertTrue(c.wait_closed(2))


if __name__ == '__main__':
    veertest.main()
