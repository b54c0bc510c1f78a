"""Expect: 100-continue uploads (RFC 9110 section 10.1.1)."""

import os
import tempfile
import time

import veertest
from veertest import Client, build_request, curl_request, make_config, sha256


class ExpectContinueTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config([self.b.address],
                                       listener_opts={'limits': '{ body_bytes: 4m }'}))

    def test_curl_expect_upload(self):
        data = os.urandom(3 * 1024 * 1024 + 17)
        with tempfile.NamedTemporaryFile(prefix='veer-up-') as f:
            f.write(data)
            f.flush()
            t0 = time.monotonic()
            r = curl_request(self.v.url('/echo'), '-H', 'Expect: 100-continue',
                             '--expect100-timeout', '5', '--data-binary', '@' + f.name)
            elapsed = time.monotonic() - t0
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(sha256(r.body), sha256(data))
        # curl saw a 100 Continue, so it did not sit out its 5 s timeout
        self.assertIn(100, [s for s, _ in r.blocks], r.blocks)
        self.assertLess(elapsed, 4.5, 'curl sat out its 5 s --expect100-timeout: no 100 '
                        'Continue reached it while it held the body back')
        self.assertEqual(self.b.received('/echo')[0].body_sha256, sha256(data))

    def test_raw_expect_waits_for_100(self):
        body = b'y' * 50000
        with Client(self.v.port()) as c:
            c.send(build_request('POST', '/echo', [('Expect', '100-continue'),
                                                   ('Content-Length', str(len(body)))]))
            c.settimeout(3)
            try:
                interim = c.read_response(keep_interim=True)
            except TimeoutError:
                self.fail('no 100 Continue within 3 s of a head with Expect: 100-continue '
                          '(backend got: %r)' % self.b.received())
            c.settimeout(veertest.IO_TIMEOUT)
            self.assertEqual(interim.status, 100, interim)
            c.send(body)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, body)
            # the connection goes on
            self.assertEqual(c.get('/ping').body, b'pong\n')

    def test_expect_too_large_refused_without_body(self):
        with Client(self.v.port()) as c:
            c.send(build_request('POST', '/echo', [('Expect', '100-continue'),
                                                   ('Content-Length', str(5 * 1024 * 1024))]))
            r = c.read_response()
            self.assertVeerError(r, 413)
            self.assertEqual(r.interim, [], 'sent 100 Continue for a body it refuses')
        self.assertEqual(self.b.received(), [])


if __name__ == '__main__':
    veertest.main()
