"""TLS to upstream servers (SPEC 2 pools[].tls; issue 7).

A pool with `tls` speaks HTTPS to its servers: the server's certificate is
verified against `ca` (default: the system store) and must carry
`server_name`, which is also sent as SNI; upstream TLS connections are kept
alive and reused, and sessions are resumed on new connections.  A failed
verification is a 502 (and a breaker failure); nothing reaches the server's
HTTP layer then.

The servers are veertest.TLSBackend (python's ssl, server side), which
records every handshake (SNI, version, resumed) and every failed one."""

import hashlib
import ssl
import time

import veertest
from veertest import (CertFactory, Client, SilentServer, TLSBackend, build_request, make_config,
                      pattern_pieces, pattern_sha256, tls_server_context, wait_until)

F = None
C = {}


def setUpModule():
    global F
    F = CertFactory()
    C['backend'] = F.leaf('backend', ['backend.test'])
    C['backend_ip'] = F.leaf('backend_ip', ['backend.test', 'IP:127.0.0.1'])
    C['selfsigned'] = F.self_signed('selfsigned', ['backend.test'])
    other = CertFactory(ca_name='another CA')
    C['other_ca'] = other.leaf('otherca', ['backend.test'])
    C['_other'] = other


def tearDownModule():
    F.close()
    C['_other'].close()


def pool_tls(ca=True, server_name='backend.test'):
    parts = []
    if ca:
        parts.append('ca: "%s"' % (F.ca_cert if ca is True else ca))
    if server_name:
        parts.append('server_name: %s' % server_name)
    return '{ %s }' % ', '.join(parts)


class UpstreamTLSTest(veertest.TestCase):

    def tls_backend(self, name='tb', cert=None, **kw):
        b = TLSBackend(name, cert=cert or C['backend'], **kw).start()
        self.addCleanup(b.stop)
        return b

    def start(self, servers, tls=None, workers=1, **pool_opts):
        opts = {'tls': tls or pool_tls()}
        opts.update(pool_opts)
        return self.veer(make_config(servers, workers=workers, pool_opts=opts))

    # ------------------------------------------------------------- success
    def test_verified_upstream(self):
        tb = self.tls_backend()
        v = self.start([tb.address])
        with Client(v.port()) as c:
            r = c.get('/json?x=1')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header('X-Backend'), 'tb')
            self.assertEqual(r.json()['target'], '/json?x=1')
            body = veertest.pattern_bytes(300000)
            r = c.request('POST', '/echo', body=body)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, body)
        self.assertEqual([q.target for q in tb.received()], ['/json?x=1', '/echo'])
        hs = tb.handshakes
        self.assertTrue(hs, tb.handshake_errors)
        self.assertEqual(hs[0]['sni'], 'backend.test', hs)
        self.assertIn(hs[0]['version'], ('TLSv1.2', 'TLSv1.3'))
        self.assertEqual(tb.handshake_errors, [])
        # the request says it came over plain HTTP to veer
        self.assertEqual(tb.received()[0].header_all('X-Forwarded-Proto'), ['http'])

    def test_big_bodies_through_upstream_tls(self):
        tb = self.tls_backend()
        v = self.start([tb.address])
        up, down = 8 << 20, 64 << 20
        with Client(v.port(), timeout=30) as c:
            c.send(build_request('POST', '/sink', [('Content-Length', str(up))]))
            for p in pattern_pieces(up):
                c.sock.sendall(p)
            r = c.read_response('POST')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {'len': up, 'sha256': pattern_sha256(up)})
            h = hashlib.sha256()
            c.send(build_request('GET', '/bytes/%d' % down))
            r = c.read_response('GET', sink=h.update)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body_len, down)
            self.assertEqual(h.hexdigest(), pattern_sha256(down))

    def test_backpressure_both_ways_through_upstream_tls(self):
        tb = self.tls_backend()
        v = self.start([tb.address])
        up, down = 16 << 20, 32 << 20
        with Client(v.port(), timeout=30) as c:
            # the server stalls before reading the body: veer's writes to
            # the TLS upstream block and resume
            c.send(build_request('POST', '/sink?stall=700', [('Content-Length', str(up))]))
            for p in pattern_pieces(up):
                c.sock.sendall(p)
            r = c.read_response('POST')
            self.assertEqual(r.json(), {'len': up, 'sha256': pattern_sha256(up)})
            # the client stalls: veer's reads from the TLS upstream pause
            c.send(build_request('GET', '/bytes/%d' % down))
            first, headers = c.stream.read_head()
            self.assertTrue(first.startswith('HTTP/1.1 200'), first)
            h = hashlib.sha256()
            got = len(c.stream.buf)
            h.update(bytes(c.stream.buf))
            c.stream.buf.clear()
            time.sleep(1.0)
            while got < down:
                d = c.sock.recv(min(65536, down - got))
                self.assertTrue(d, 'EOF after %d of %d bytes' % (got, down))
                got += len(d)
                h.update(d)
            self.assertEqual(h.hexdigest(), pattern_sha256(down))
            self.assertEqual(c.get('/json?after=1').status, 200)
        self.assertEqual(len(tb.handshakes), 1, tb.handshakes)

    def test_expect_100_continue_through_upstream_tls(self):
        tb = self.tls_backend()
        v = self.start([tb.address])
        with Client(v.port()) as c:
            c.send(build_request('POST', '/echo', [('Content-Length', '5'),
                                                   ('Expect', '100-continue')]))
            r = c.read_response('POST', keep_interim=True)
            self.assertEqual(r.status, 100, r)
            c.send(b'hello')
            r = c.read_response('POST')
            self.assertEqual((r.status, r.body), (200, b'hello'), r)

    def test_websocket_to_a_tls_upstream(self):
        tb = self.tls_backend()
        v = self.start([tb.address])
        with Client(v.port()) as c:
            r, key = veertest.ws_handshake(c, '/ws')
            self.assertEqual(r.status, 101, r)
            self.assertEqual(r.header('Sec-WebSocket-Accept'), veertest.ws_accept(key))
            c.send(veertest.ws_frame(1, 'to a tls upstream'))
            self.assertEqual(veertest.ws_read_frame(c.stream)[:3],
                             (True, 1, b'to a tls upstream'))
            big = veertest.pattern_bytes(250000)
            c.send(veertest.ws_frame(2, big))
            self.assertEqual(veertest.ws_read_frame(c.stream)[1:3], (2, big))
            c.send(veertest.ws_frame(8, b'\x03\xe8'))
            self.assertEqual(veertest.ws_read_frame(c.stream)[1], 8)
            self.assertTrue(c.wait_closed(3), 'tunnel not closed after the server closed')

    def test_default_ca_is_the_system_store(self):
        tb = self.tls_backend()
        # the test CA is in no system store: refused
        v = self.start([tb.address], tls=pool_tls(ca=False))
        r = veertest.http(v.port(), 'GET', '/json?sys=1')
        self.assertVeerError(r, 502)
        self.assertEqual(tb.received(), [])

    def test_default_ca_honours_ssl_cert_file(self):
        # OpenSSL's default verify paths (the system store) follow
        # SSL_CERT_FILE: pointing it at the test CA makes the server trusted
        tb = self.tls_backend()
        v = self.veer(make_config([tb.address], workers=1,
                                  pool_opts={'tls': pool_tls(ca=False)}),
                      env={'SSL_CERT_FILE': F.ca_cert})
        r = veertest.http(v.port(), 'GET', '/json?envca=1')
        self.assertEqual(r.status, 200, r)

    def test_no_server_name_verifies_the_address_host(self):
        # without server_name the host of the server's address is the name
        # checked: a certificate with IP:127.0.0.1 passes, one without fails
        good = self.tls_backend('ipcert', cert=C['backend_ip'])
        bad = self.tls_backend('dnsonly', cert=C['backend'])
        v = self.veer(make_config([good.address], workers=1,
                                  pool_opts={'tls': pool_tls(server_name=None)}))
        r = veertest.http(v.port(), 'GET', '/json?ip=1')
        self.assertEqual(r.status, 200, r)
        # an IP address is never sent as SNI (RFC 6066 3)
        self.assertIsNone(good.handshakes[0]['sni'], good.handshakes)
        v2 = self.veer(make_config([bad.address], workers=1,
                                   pool_opts={'tls': pool_tls(server_name=None)}))
        r = veertest.http(v2.port(), 'GET', '/json?ip=2')
        self.assertVeerError(r, 502)
        self.assertEqual(bad.received(), [])

    # ------------------------------------------------------------ failures
    def test_wrong_server_name_is_502(self):
        tb = self.tls_backend()
        # upstream failures are logged at debug level (like connect failures)
        v = self.veer(make_config([tb.address], workers=1, global_opts={'log': '{ level: debug }'},
                                  pool_opts={'tls': pool_tls(server_name='other.test')}))
        with Client(v.port()) as c:
            r = c.get('/json?wrong=1')
            self.assertVeerError(r, 502)
        self.assertEqual(tb.received(), [], 'a request reached an unverified server')
        wait_until(lambda: tb.handshake_errors or tb.handshakes, 5)
        self.assertEqual(tb.handshakes, [], 'the handshake completed on the server side: %r'
                         % tb.handshakes)
        # the name veer sent as SNI is the configured one
        self.assertEqual([e['sni'] for e in tb.handshake_errors], ['other.test'],
                         tb.handshake_errors)
        self.assertRegex(v.log(), r'(?i)TLS.*(verif|certificate|hostname|name mismatch)',
                         'the debug log does not say why the upstream TLS failed')

    def test_self_signed_server_is_502(self):
        tb = self.tls_backend('selfsigned', cert=C['selfsigned'])
        v = self.start([tb.address])
        r = veertest.http(v.port(), 'GET', '/json?self=1')
        self.assertVeerError(r, 502)
        self.assertEqual(tb.received(), [])

    def test_certificate_from_another_ca_is_502(self):
        tb = self.tls_backend('otherca', cert=C['other_ca'])
        v = self.start([tb.address])
        r = veertest.http(v.port(), 'GET', '/json?other=1')
        self.assertVeerError(r, 502)
        self.assertEqual(tb.received(), [])

    def test_plain_http_server_behind_a_tls_pool_is_502(self):
        plain = self.backend('plain')
        v = self.start([plain.address], timeouts='{ connect: 1s, response: 2s }')
        t0 = time.monotonic()
        r = veertest.http(v.port(), 'GET', '/json?plain=1')
        self.assertVeerError(r, 502)
        self.assertLess(time.monotonic() - t0, 3)

    def test_server_that_never_answers_the_handshake(self):
        with SilentServer() as s:
            v = self.start([s.address], timeouts='{ connect: 500ms, response: 1s }')
            t0 = time.monotonic()
            r = veertest.http(v.port(), 'GET', '/json?silent=1')
            took = time.monotonic() - t0
            self.assertIn(r.status, (502, 504), r)
            self.assertVeerError(r, r.status)
            self.assertLess(took, 3, 'a stalled upstream handshake held the request %.1fs' % took)
            self.assertGreaterEqual(s.accepted, 1)

    def test_verification_failure_counts_for_the_breaker(self):
        bad = self.tls_backend('bad', cert=C['selfsigned'])
        good = self.tls_backend('good')
        brk = ('{ consecutive_failures: 2, failure_rate: 50%, window: 10s, min_requests: 1000, '
               'open_for: 30s, probe_requests: 1 }')
        v = self.start([bad.address, good.address], balance='round_robin',
                       circuit_breaker=brk)
        statuses = []
        with Client(v.port()) as c:
            for i in range(12):
                statuses.append(c.get('/json?b=%d' % i).status)
        # the bad server is cut off after 2 failures: at most 2 x 502
        self.assertLessEqual(statuses.count(502), 2, statuses)
        self.assertGreaterEqual(statuses.count(200), 10, statuses)
        attempts = len(bad.handshake_errors) + len(bad.handshakes)
        self.assertLessEqual(attempts, 2, 'the bad server got %d handshakes after its '
                             'breaker should have opened' % attempts)

    # --------------------------------------------------------------- reuse
    def test_keepalive_reuses_one_tls_connection(self):
        tb = self.tls_backend()
        v = self.start([tb.address])
        with Client(v.port()) as c:
            for i in range(20):
                r = c.get('/json?k=%d' % i)
                self.assertEqual(r.status, 200, r)
        # separate client connections too
        for i in range(5):
            self.assertEqual(veertest.http(v.port(), 'GET', '/json?n=%d' % i).status, 200)
        self.assertEqual(len(tb.received()), 25)
        self.assertEqual(len(tb.connections), 1, 'upstream TCP connections: %r' % tb.connections)
        self.assertEqual(len(tb.handshakes), 1, tb.handshakes)

    def closing_handler(self, b, sock, stream, req):
        """Answer and close: veer has to open a new connection next time."""
        b._read_body(sock, stream, req)
        body = b'closing\n'
        sock.sendall(b'HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Length: %d\r\n'
                     b'Connection: close\r\n\r\n%s' % (b.name.encode(), len(body), body))
        return False

    def resumption(self, maximum):
        sctx = tls_server_context(C['backend'].cert, C['backend'].key, maximum=maximum)
        tb = TLSBackend('resume', ctx=sctx).start()
        self.addCleanup(tb.stop)
        tb.handlers['/close'] = self.closing_handler
        v = self.start([tb.address])
        for i in range(5):
            r = veertest.http(v.port(), 'GET', '/close?i=%d' % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, b'closing\n')
        wait_until(lambda: len(tb.handshakes) >= 5, 5, msg=lambda: repr(tb.handshakes))
        self.assertEqual(len(tb.handshakes), 5, tb.handshakes)
        resumed = [h['resumed'] for h in tb.handshakes]
        self.assertFalse(resumed[0])
        self.assertEqual(resumed[1:], [True] * 4,
                         'upstream sessions not resumed (%s): %r' % (maximum, tb.handshakes))

    def test_session_resumption_tls12(self):
        self.resumption(ssl.TLSVersion.TLSv1_2)

    def test_session_resumption_tls13(self):
        self.resumption(ssl.TLSVersion.TLSv1_3)


if __name__ == '__main__':
    veertest.main()
