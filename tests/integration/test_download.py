"""Large responses stream through veer intact and with bounded memory,
also when the client reads slowly (back-pressure toward the backend)."""

import hashlib
import time

import veertest
from veertest import Client, RssMonitor, build_request, make_config

MiB = 1024 * 1024
N = 256 * MiB


class DownloadTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config([self.b.address]), env=veertest.rss_env())
        # warm up, then take the baseline
        r = veertest.http(self.v.port(), 'GET', '/bytes/1048576')
        self.assertEqual(r.status, 200)
        self.base = self.v.rss_kib()

    def check_growth(self, mon, what):
        growth = (mon.peak - self.base) / 1024
        self.assertLess(growth, 64, 'veer RSS grew by %.1f MiB during %s (base %d KiB, '
                        'peak %d KiB)' % (growth, what, self.base, mon.peak))

    def test_large_download_intact(self):
        h = hashlib.sha256()
        with RssMonitor(self.v) as mon, Client(self.v.port(), timeout=60) as c:
            c.send(build_request('GET', '/bytes/%d' % N))
            r = c.read_response(sink=h.update)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body_len, N)
        self.assertEqual(h.hexdigest(), veertest.pattern_sha256(N))
        self.check_growth(mon, 'a 256 MiB download')

    def test_large_chunked_download_intact(self):
        n = 32 * MiB + 12345
        h = hashlib.sha256()
        with Client(self.v.port(), timeout=60) as c:
            c.send(build_request('GET', '/bytes/%d?chunked=1&piece=50000' % n))
            r = c.read_response(sink=h.update)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body_len, n)
            self.assertEqual(h.hexdigest(), veertest.pattern_sha256(n))
            self.assertEqual(c.get('/ping').body, b'pong\n')

    def test_slow_reader_bounded_memory(self):
        h = hashlib.sha256()
        got = 0
        with RssMonitor(self.v) as mon, Client(self.v.port(), timeout=60) as c:
            c.send(build_request('GET', '/bytes/%d' % N))
            first, headers = c.stream.read_head()
            self.assertTrue(first.startswith('HTTP/1.1 200'), first)
            self.assertEqual(veertest.header_get(headers, 'Content-Length'), str(N))
            if c.stream.buf:
                got += len(c.stream.buf)
                h.update(bytes(c.stream.buf))
                c.stream.buf.clear()
            # 1: a client that reads nothing for a second
            stalled_until = time.monotonic() + 1.0
            while time.monotonic() < stalled_until:
                time.sleep(0.05)
            # 2: then reads 4 KiB at a time with pauses for a second
            slow_until = time.monotonic() + 1.0
            while time.monotonic() < slow_until:
                d = c.sock.recv(4096)
                self.assertTrue(d, 'EOF after %d bytes' % got)
                got += len(d)
                h.update(d)
                time.sleep(0.002)
            slow_peak = mon.peak
            # 3: then the rest at full speed
            while got < N:
                d = c.sock.recv(min(1 << 20, N - got))
                self.assertTrue(d, 'EOF after %d of %d bytes' % (got, N))
                got += len(d)
                h.update(d)
        self.assertEqual(got, N)
        self.assertEqual(h.hexdigest(), veertest.pattern_sha256(N))
        growth = (slow_peak - self.base) / 1024
        self.assertLess(growth, 64, 'veer RSS grew by %.1f MiB while the client read slowly'
                        % growth)
        self.check_growth(mon, 'a slowly read 256 MiB download')


if __name__ == '__main__':
    veertest.main()
