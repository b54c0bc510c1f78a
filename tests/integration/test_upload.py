"""Request bodies: an 8 MiB Content-Length upload and chunked uploads
echoed back intact, and a large upload to a backend that stalls, during
which veer's memory stays bounded (back-pressure toward the client)."""

import os
import tempfile
import threading

import veertest
from veertest import (Client, RssMonitor, build_request, curl_request,
                      make_config, sha256)

MiB = 1024 * 1024


class UploadTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config([self.b.address],
                                       listener_opts={'limits': '{ body_bytes: 512m }'}),
                           env=veertest.rss_env())
        self.data = os.urandom(8 * MiB)
        f = tempfile.NamedTemporaryFile(prefix='veer-up-')
        f.write(self.data)
        f.flush()
        self.addCleanup(f.close)
        self.file = f.name

    def test_8mib_content_length_upload_with_curl(self):
        r = curl_request(self.v.url('/echo'), '-H', 'Expect:', '-H',
                         'Content-Type: application/octet-stream',
                         '--data-binary', '@' + self.file)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(len(r.body), len(self.data))
        self.assertEqual(sha256(r.body), sha256(self.data))
        req = self.b.received('/echo')[0]
        self.assertEqual(req.framing, 'length')
        self.assertEqual(req.body_sha256, sha256(self.data))

    def test_8mib_chunked_upload_with_curl(self):
        r = curl_request(self.v.url('/echo'), '-H', 'Expect:', '-H', 'Transfer-Encoding: chunked',
                         '--data-binary', '@' + self.file)
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(sha256(r.body), sha256(self.data))
        self.assertEqual(self.b.received('/echo')[0].body_sha256, sha256(self.data))

    def test_raw_chunked_odd_sizes_extensions_trailers(self):
        body = self.data[:1 * MiB + 3]
        pieces, off, size = [], 0, 1
        while off < len(body):
            piece = body[off:off + size]
            ext = ';name=val' if size % 3 == 0 else ''
            pieces.append(b'%x%s\r\n' % (len(piece), ext.encode()) + piece + b'\r\n')
            off += len(piece)
            size = size * 7 % 100003 + 1
        wire = b''.join(pieces) + b'0\r\nX-Checksum: abc\r\n\r\n'
        with Client(self.v.port()) as c:
            c.send(build_request('POST', '/echo', [('Transfer-Encoding', 'chunked')]) + wire)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(sha256(r.body), sha256(body))
            # framing stayed in step: the next request on the connection works
            self.assertEqual(c.get('/ping').body, b'pong\n')
        self.assertEqual(self.b.received('/echo')[0].body_sha256, sha256(body))

    def test_empty_chunked_and_zero_length_bodies(self):
        with Client(self.v.port()) as c:
            r = c.request('POST', '/echo', body=b'', chunked=True)
            self.assertEqual((r.status, r.body), (200, b''), r)
            r = c.request('POST', '/echo', body=b'')
            self.assertEqual((r.status, r.body), (200, b''), r)
            r = c.request('PUT', '/echo', body=b'put-body')
            self.assertEqual((r.status, r.body), (200, b'put-body'), r)

    def test_large_upload_to_stalled_backend_bounded_memory(self):
        n = 128 * MiB
        # warm up: one proxied request so buffers and threads exist
        self.assertEqual(veertest.http(self.v.port(), 'POST', '/sink', body=b'w' * 65536).status, 200)
        base = self.v.rss_kib()
        c = self.client(self.v.port(), timeout=60)
        sent = {'n': 0, 'err': None}

        def push():
            try:
                c.send(build_request('POST', '/sink?stall=1500', [('Content-Length', str(n))]))
                for p in veertest.pattern_pieces(n):
                    c.sock.sendall(p)
                    sent['n'] += len(p)
            except OSError as e:
                sent['err'] = e

        with RssMonitor(self.v) as mon:
            t = threading.Thread(target=push, daemon=True)
            t.start()
            r = c.read_response()
            t.join(30)
        self.assertIsNone(sent['err'])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {'len': n, 'sha256': veertest.pattern_sha256(n)})
        growth = (mon.peak - base) / 1024
        self.assertLess(growth, 64, 'veer RSS grew by %.1f MiB during a %d MiB upload to a '
                        'stalled backend (base %d KiB, peak %d KiB)'
                        % (growth, n // MiB, base, mon.peak))


if __name__ == '__main__':
    veertest.main()
