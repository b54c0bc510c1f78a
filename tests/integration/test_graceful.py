"""Graceful stop (SIGTERM/SIGINT): stop accepting at once, close idle
keep-alive connections, let in-flight requests finish (up to
global.drain_timeout), exit 0."""

import signal
import socket
import threading
import time

import veertest
from veertest import Client, make_config


def connect_refused(port):
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=0.2)
    except ConnectionRefusedError:
        return True
    except (ConnectionResetError, TimeoutError):
        # caught in the backlog as the listener closed (reset, or the SYN
        # dropped by the closing socket): try again
        return False
    s.close()
    return False


class GracefulStopTest(veertest.TestCase):

    def test_sigterm_lets_in_flight_finish(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address], global_opts={'drain_timeout': '10s'}))
        port = v.port()
        idle = self.client(port)
        self.assertEqual(idle.get('/json?idle').status, 200)
        result = {}

        def slow():
            try:
                with Client(port) as c:
                    result['resp'] = c.get('/json?delay=1000')
            except Exception as e:  # reported by the main thread
                result['err'] = e
            result['t'] = time.monotonic()

        t = threading.Thread(target=slow, daemon=True)
        t.start()
        veertest.wait_until(lambda: [q for q in b.received('/json') if 'delay' in q.target], 3)
        t_sig = time.monotonic()
        v.signal(signal.SIGTERM)
        # new connections are refused while the slow request is still running
        veertest.wait_until(lambda: connect_refused(port), 0.8,
                            msg='veer still accepts connections 0.8 s after SIGTERM')
        self.assertNotIn('t', result, 'in-flight request ended before the listener closed')
        # the idle keep-alive connection is closed without waiting for the drain
        self.assertTrue(idle.wait_closed(2), 'idle keep-alive connection not closed on SIGTERM')
        t.join(5)
        self.assertNotIn('err', result, result.get('err'))
        r = result['resp']
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['target'], '/json?delay=1000')
        rc = v.wait_exit(5)
        self.assertEqual(rc, 0, v.log_tail())
        self.assertGreaterEqual(result['t'] - t_sig, 0.5)

    def test_sigint_idle_exits_promptly(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address]))
        self.assertEqual(veertest.http(v.port(), 'GET', '/json').status, 200)
        t0 = time.monotonic()
        v.signal(signal.SIGINT)
        rc = v.wait_exit(5)
        self.assertEqual(rc, 0, v.log_tail())
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_drain_timeout_bounds_the_wait(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address], global_opts={'drain_timeout': '1s'},
                                  pool_opts={'timeouts': '{ connect: 1s, response: 60s }'}))
        c = self.client(v.port())
        c.send(veertest.build_request('GET', '/hang'))
        b.wait_requests(1, '/hang', timeout=3)
        t0 = time.monotonic()
        v.signal(signal.SIGTERM)
        rc = v.wait_exit(6)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, v.log_tail())
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 4.0)


if __name__ == '__main__':
    veertest.main()
