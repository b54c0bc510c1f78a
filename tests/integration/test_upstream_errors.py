"""Upstream failures become veer's own short answers: 502 when the server
refuses the connection or breaks the response head, 504 when it does not
answer within the pool's response timeout."""

import time

import veertest
from veertest import Client, dead_address, make_config


class UpstreamErrorsTest(veertest.TestCase):

    def test_dead_upstream_502_promptly(self):
        v = self.veer(make_config([dead_address()],
                                  pool_opts={'timeouts': '{ connect: 1s, response: 2s }'}))
        with Client(v.port()) as c:
            t0 = time.monotonic()
            r = c.get('/json')
            elapsed = time.monotonic() - t0
            self.assertVeerError(r, 502)
            self.assertLess(elapsed, 2.0)
            # veer's error does not cost the client its connection
            r = c.get('/ping')
            self.assertEqual((r.status, r.body), (200, b'pong\n'), r)

    def test_backend_closes_mid_headers_502(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address]))
        with Client(v.port()) as c:
            r = c.get('/abort/headers')
            self.assertVeerError(r, 502)
        self.assertEqual(len(b.received('/abort/headers')), 1)

    def test_backend_sends_garbage_502(self):
        b = self.backend('b1')

        def garbage(backend, sock, stream, req):
            sock.sendall(b'THIS IS NOT HTTP\r\n\r\n')
            return False
        b.handlers['/garbage'] = garbage
        v = self.veer(make_config([b.address]))
        r = veertest.http(v.port(), 'GET', '/garbage')
        self.assertVeerError(r, 502)

    def test_backend_closes_without_answer_502(self):
        b = self.backend('b1')
        b.handlers['/silent-close'] = lambda backend, sock, stream, req: False
        v = self.veer(make_config([b.address]))
        t0 = time.monotonic()
        r = veertest.http(v.port(), 'GET', '/silent-close')
        self.assertVeerError(r, 502)
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_response_timeout_504(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address],
                                  pool_opts={'timeouts': '{ connect: 1s, response: 500ms }'}))
        with Client(v.port()) as c:
            t0 = time.monotonic()
            r = c.get('/hang')
            elapsed = time.monotonic() - t0
            self.assertVeerError(r, 504)
            self.assertGreaterEqual(elapsed, 0.45)
            self.assertLess(elapsed, 3.0)

    def test_slow_but_in_time_is_not_a_timeout(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address],
                                  pool_opts={'timeouts': '{ connect: 1s, response: 1s }'}))
        r = veertest.http(v.port(), 'GET', '/json?delay=300')
        self.assertEqual(r.status, 200, r)


if __name__ == '__main__':
    veertest.main()
