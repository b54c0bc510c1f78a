"""TLS termination (SPEC 2 listeners[].tls; issue 7).

A listener with `tls` speaks HTTPS: its certificates are chosen by SNI from
the names in each certificate (subjectAltName DNS names, else the CN;
`*.example.com` covers one label), the first one for clients without SNI or
with a name no certificate carries; RSA and ECDSA keys; TLS 1.2 and 1.3
only (`min_version: "1.3"` drops 1.2); Mozilla "intermediate" ciphers;
ALPN http/1.1; session resumption shared by all workers; X-Forwarded-Proto
https.  Certificate problems (missing file, key not matching, expired) are
config errors at FILE:LINE:COL, and SIGHUP picks up renewed files without
dropping a connection.

Every certificate is made here with the openssl CLI (veertest.CertFactory);
clients are curl, `openssl s_client`, python's ssl module and sslscan."""

import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import types

import veertest
from veertest import (CertFactory, Client, TLSBackend, TLSClient, build_request, curl_request,
                      der_key_type, https_get, install_file, pattern_pieces, pattern_sha256,
                      run_veer, s_client, tls_client_context, tls_server_context, wait_until)

TLS12 = ssl.TLSVersion.TLSv1_2
TLS13 = ssl.TLSVersion.TLSv1_3
TLS11 = ssl.TLSVersion.TLSv1_1
TLS10 = ssl.TLSVersion.TLSv1

# Mozilla "intermediate" (v5.7) TLS 1.2 suites, OpenSSL names.
MOZILLA_INTERMEDIATE_12 = {
    'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
    'DHE-RSA-AES128-GCM-SHA256', 'DHE-RSA-AES256-GCM-SHA384', 'DHE-RSA-CHACHA20-POLY1305',
}
WEAK_CIPHER_RE = re.compile(r'RC4|DES|NULL|EXP|anon|ADH|AECDH|MD5', re.I)

F = None      # the CertFactory of this file
C = {}        # name -> Cert


def setUpModule():
    global F
    F = CertFactory()
    C['a'] = F.leaf('a', ['a.example.com'])
    C['b'] = F.leaf('b', ['b.example.com', 'b2.example.com'])
    C['wild'] = F.leaf('wild', ['*.wild.example.com'])
    C['cn'] = F.leaf('cn', [], cn='cn-only.example.com', san=False)
    C['ec'] = F.leaf('ec', ['e.example.com'], key='ec')


def tearDownModule():
    F.close()


def tls_config(backend, certs, min_version=None, workers=2, plain=True, timeouts=None):
    """A config with TLS listener 'web' (CERTS in order), a plain listener
    'plain' (when PLAIN), pool api with BACKEND, a /ping respond route and
    a catch-all route."""
    out = ['global: { workers: %d }' % workers, 'listeners:',
           '  - name: web', '    listen: "127.0.0.1:0"', '    tls:', '      certificates:']
    for c in certs:
        out.append('        - { cert: "%s", key: "%s" }' % (c.cert, c.key))
    if min_version:
        out.append('      min_version: "%s"' % min_version)
    if timeouts:
        out.append('    timeouts: %s' % timeouts)
    if plain:
        out += ['  - name: plain', '    listen: "127.0.0.1:0"']
    out += ['pools:', '  - name: api', '    version: 1.0.0', '    servers:',
            '      - { address: "%s" }' % backend.address,
            'routes:',
            '  - { name: ping, match: { path_prefix: /ping }, '
            'respond: { status: 200, body: "pong\\n" } }',
            '  - { name: main, match: { path_prefix: / }, pool: api }']
    return '\n'.join(out) + '\n'


def ctx(**kw):
    kw.setdefault('ca', F.ca_cert)
    return tls_client_context(**kw)


class TLSTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')

    def start(self, certs=None, **kw):
        certs = certs if certs is not None else [C['a'], C['b'], C['wild'], C['cn']]
        listeners = ('web', 'plain') if kw.get('plain', True) else ('web',)
        self.v = self.veer(tls_config(self.b, certs, **kw), listeners=listeners)
        return self.v

    def served(self, sni, **kw):
        """DER of the certificate served for SNI (None: no SNI)."""
        r, facts = https_get(self.v.port(), '/ping', ctx(**kw), sni=sni)
        self.assertEqual(r.status, 200, r)
        return facts

    # ------------------------------------------------------------------ basics
    def test_curl_https_and_forwarded_proto(self):
        v = self.start()
        port = v.port()
        r = curl_request('https://a.example.com:%d/json' % port, '--cacert', F.ca_cert,
                         '--resolve', 'a.example.com:%d:127.0.0.1' % port,
                         '-H', 'X-Forwarded-Proto: http')
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('X-Veer-Pool'), 'api', r)
        body = json.loads(r.body)
        self.assertEqual(body['backend'], 'b1')
        req = self.b.received('/json')[-1]
        # the client's own X-Forwarded-Proto is replaced, never passed on
        self.assertEqual(req.header_all('X-Forwarded-Proto'), ['https'], req)
        self.assertEqual(req.header_all('Host'), ['a.example.com:%d' % port], req)
        # the plain listener of the same veer still says http
        r2 = veertest.http(v.port('plain'), 'GET', '/plain')
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(self.b.received('/plain')[-1].header_all('X-Forwarded-Proto'), ['http'])
        # curl verified the chain and the name against the test CA; a curl
        # without the CA refuses the certificate (it is the test CA's)
        bad = curl_request('https://a.example.com:%d/json' % port,
                           '--resolve', 'a.example.com:%d:127.0.0.1' % port)
        self.assertNotEqual(bad.rc, 0, bad)

    def test_sni_picks_the_certificate_by_its_names(self):
        self.start()
        cases = [
            ('a.example.com', 'a'),
            ('b.example.com', 'b'),
            ('b2.example.com', 'b'),           # second SAN of b
            ('x.wild.example.com', 'wild'),
            ('other.wild.example.com', 'wild'),
            ('cn-only.example.com', 'cn'),     # no SAN: the CN
            (None, 'a'),                        # no SNI: the first certificate
            ('unknown.example.org', 'a'),       # a name nobody has: the first
            ('wild.example.com', 'a'),          # *.wild.example.com needs a label
            ('a.b.wild.example.com', 'a'),      # ... exactly one label
        ]
        for sni, want in cases:
            with self.subTest(sni=sni):
                facts = self.served(sni)
                self.assertEqual(facts['der'], C[want].der(),
                                 'SNI %r got %r, want certificate %s'
                                 % (sni, veertest.cert_names(facts['cert']), want))

    def test_sni_with_openssl_s_client_and_default_without_servername(self):
        self.start()
        port = self.v.port()
        rc, out, err = s_client(port, '-brief', '-servername', 'b.example.com',
                                '-CAfile', F.ca_cert)
        self.assertIn('Peer certificate: CN = b.example.com', err + out, err + out)
        rc, out, err = s_client(port, '-brief', '-servername', 'x.wild.example.com',
                                '-CAfile', F.ca_cert)
        self.assertIn('Peer certificate: CN = *.wild.example.com', err + out, err + out)
        rc, out, err = s_client(port, '-brief', '-noservername', '-CAfile', F.ca_cert)
        self.assertIn('Peer certificate: CN = a.example.com', err + out, err + out)
        # host names are case-insensitive (RFC 6066 3, RFC 4343)
        rc, out, err = s_client(port, '-brief', '-servername', 'B.EXAMPLE.COM',
                                '-CAfile', F.ca_cert)
        self.assertIn('Peer certificate: CN = b.example.com', err + out, err + out)

    def test_default_is_the_first_certificate_listed(self):
        self.start([C['b'], C['a']])
        self.assertEqual(self.served(None)['der'], C['b'].der())
        self.assertEqual(self.served('nobody.example.net')['der'], C['b'].der())
        self.assertEqual(self.served('a.example.com')['der'], C['a'].der())

    # ------------------------------------------------------------- key types
    def test_rsa_and_ecdsa_certificates(self):
        self.start([C['a'], C['ec']])
        # TLS 1.2: the suite names the authentication
        f = self.served('a.example.com', maximum=TLS12)
        self.assertEqual(der_key_type(f['der']), 'rsa')
        self.assertTrue(f['cipher'].startswith('ECDHE-RSA-'), f['cipher'])
        f = self.served('e.example.com', maximum=TLS12)
        self.assertEqual(f['der'], C['ec'].der())
        self.assertEqual(der_key_type(f['der']), 'ec')
        self.assertTrue(f['cipher'].startswith('ECDHE-ECDSA-'), f['cipher'])
        # TLS 1.3 with both
        for sni, kind in (('a.example.com', 'rsa'), ('e.example.com', 'ec')):
            f = self.served(sni, minimum=TLS13)
            self.assertEqual(f['version'], 'TLSv1.3')
            self.assertEqual(der_key_type(f['der']), kind)
        rc, out, err = s_client(self.v.port(), '-brief', '-servername', 'e.example.com',
                                '-CAfile', F.ca_cert, '-tls1_2')
        self.assertIn('Peer certificate: CN = e.example.com', err + out, err + out)
        self.assertRegex(err + out, r'Signature type: ECDSA', err + out)

    def test_listener_with_only_an_ecdsa_certificate(self):
        self.start([C['ec']])
        for kw in ({'maximum': TLS12}, {'minimum': TLS13}):
            f = self.served(None, **kw)
            self.assertEqual(f['der'], C['ec'].der())
            self.assertEqual(der_key_type(f['der']), 'ec')
        self.assertTrue(self.served(None, maximum=TLS12)['cipher'].startswith('ECDHE-ECDSA-'))

    # -------------------------------------------------------------- versions
    def legacy_control(self):
        """A python TLS server that speaks TLS 1.0 and 1.1: the clients
        below can do old versions, so a refusal by veer is veer's."""
        sctx = tls_server_context(C['a'].cert, C['a'].key, minimum=TLS10,
                                  ciphers='DEFAULT:@SECLEVEL=0')
        tb = TLSBackend('legacy', ctx=sctx).start()
        self.addCleanup(tb.stop)
        return tb

    def test_tls10_and_tls11_refused(self):
        self.start()
        legacy = self.legacy_control()
        for flag, name, ver in (('-tls1', 'TLSv1', TLS10), ('-tls1_1', 'TLSv1.1', TLS11)):
            with self.subTest(version=name):
                args = ('-brief', flag, '-cipher', 'DEFAULT:@SECLEVEL=0', '-noservername')
                rc, out, err = s_client(legacy.port, *args)
                self.assertIn('Protocol version: %s' % name, out + err,
                              'control: s_client could not speak %s at all\n%s' % (name, err))
                rc, out, err = s_client(self.v.port(), *args)
                self.assertNotIn('Protocol version:', out + err,
                                 'veer accepted %s\n%s%s' % (name, out, err))
                self.assertNotIn('CONNECTION ESTABLISHED', out + err)
                # python ssl, the same
                c = ctx(verify=False, minimum=TLS10, maximum=ver,
                        ciphers='DEFAULT:@SECLEVEL=0')
                with TLSClient(legacy.port, c) as t:
                    self.assertEqual(t.version(), name)
                with self.assertRaises((ssl.SSLError, ConnectionError)):
                    TLSClient(self.v.port(), c).close()
        # and veer still serves
        self.assertEqual(self.served('a.example.com')['version'], 'TLSv1.3')

    def test_min_version_12_accepts_12_and_13(self):
        self.start()
        self.assertEqual(self.served('a.example.com', maximum=TLS12)['version'], 'TLSv1.2')
        self.assertEqual(self.served('a.example.com', minimum=TLS13)['version'], 'TLSv1.3')

    def test_min_version_13_refuses_tls12(self):
        self.start(min_version='1.3')
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            https_get(self.v.port(), '/ping', ctx(maximum=TLS12), sni='a.example.com')
        rc, out, err = s_client(self.v.port(), '-brief', '-tls1_2', '-servername',
                                'a.example.com')
        self.assertNotIn('Protocol version:', out + err, out + err)
        self.assertEqual(self.served('a.example.com')['version'], 'TLSv1.3')
        rc, out, err = s_client(self.v.port(), '-brief', '-tls1_3', '-servername',
                                'a.example.com', '-CAfile', F.ca_cert)
        self.assertIn('Protocol version: TLSv1.3', out + err, out + err)

    # ------------------------------------------------------------------ ALPN
    def test_alpn_http11(self):
        self.start()
        rc, out, err = s_client(self.v.port(), '-alpn', 'http/1.1', '-servername',
                                'a.example.com', '-CAfile', F.ca_cert)
        self.assertIn('ALPN protocol: http/1.1', out, out + err)
        rc, out, err = s_client(self.v.port(), '-alpn', 'h2,http/1.1', '-servername',
                                'a.example.com', '-CAfile', F.ca_cert)
        self.assertIn('ALPN protocol: http/1.1', out, out + err)
        f = self.served('a.example.com', alpn=['h2', 'http/1.1'])
        self.assertEqual(f['alpn'], 'http/1.1')
        f = self.served('a.example.com')  # no ALPN offered: none chosen, HTTP/1.1 works
        self.assertIsNone(f['alpn'])

    def test_alpn_h2_only_client_gets_no_alpn_and_speaks_http11(self):
        # veer (like nginx without http2) answers a client that offers only
        # h2 without ALPN; the client can still speak HTTP/1.1.
        self.start()
        f = self.served('a.example.com', alpn=['h2'])
        self.assertIsNone(f['alpn'])
        rc, out, err = s_client(self.v.port(), '-alpn', 'h2', '-servername',
                                'a.example.com', '-CAfile', F.ca_cert)
        self.assertIn('No ALPN negotiated', out, out + err)

    # ------------------------------------------------------- HTTP over TLS
    def test_keepalive_over_tls(self):
        self.start()
        with TLSClient(self.v.port(), ctx(), sni='a.example.com') as c:
            for i in range(10):
                r = c.get('/json?i=%d' % i)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()['target'], '/json?i=%d' % i)
            r = c.request('POST', '/echo', body=b'x' * 100000)
            self.assertEqual(r.body, b'x' * 100000)
            r = c.get('/ping')
            self.assertEqual(r.body, b'pong\n')
        self.assertEqual(len(self.b.received('/json')), 10)

    def test_pipelining_over_tls(self):
        self.start()
        with TLSClient(self.v.port(), ctx(), sni='a.example.com') as c:
            reqs = [build_request('GET', '/json?p=0'),
                    build_request('GET', '/bytes/300000'),
                    build_request('POST', '/echo', body=b'pipelined body'),
                    build_request('GET', '/ping'),
                    build_request('GET', '/json?p=4')]
            c.send(b''.join(reqs))
            rs = c.read_responses(5, ['GET', 'GET', 'POST', 'GET', 'GET'])
        self.assertEqual([r.status for r in rs], [200] * 5, rs)
        self.assertEqual(rs[0].json()['target'], '/json?p=0')
        self.assertEqual(hashlib.sha256(rs[1].body).hexdigest(), pattern_sha256(300000))
        self.assertEqual(rs[2].body, b'pipelined body')
        self.assertEqual(rs[3].body, b'pong\n')
        self.assertEqual(rs[4].json()['target'], '/json?p=4')

    def test_8mib_upload_and_64mib_download_intact(self):
        self.start()
        up = 8 << 20
        with TLSClient(self.v.port(), ctx(), sni='a.example.com', timeout=30) as c:
            c.send(build_request('POST', '/sink', [('Content-Length', str(up))]))
            for p in pattern_pieces(up):
                c.sock.sendall(p)
            r = c.read_response('POST')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {'len': up, 'sha256': pattern_sha256(up)})
            down = 64 << 20
            h = hashlib.sha256()
            c.send(build_request('GET', '/bytes/%d' % down))
            r = c.read_response('GET', sink=h.update)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body_len, down)
            self.assertEqual(h.hexdigest(), pattern_sha256(down))
            # the connection is still good after both
            self.assertEqual(c.get('/ping').body, b'pong\n')

    def test_slow_reader_download_over_tls(self):
        # back-pressure through TLS: the client stalls, then reads 4 KiB at
        # a time; the body arrives intact and veer's memory stays bounded
        self.v = self.veer(tls_config(self.b, [C['a']]), listeners=('web', 'plain'),
                           env=veertest.rss_env())
        n = 64 << 20
        warm, _ = https_get(self.v.port(), '/bytes/1048576', ctx(), sni='a.example.com')
        self.assertEqual(warm.status, 200)
        base = self.v.rss_kib()
        h = hashlib.sha256()
        got = 0
        with veertest.RssMonitor(self.v) as mon, \
                TLSClient(self.v.port(), ctx(), sni='a.example.com', timeout=30) as c:
            c.send(build_request('GET', '/bytes/%d' % n))
            first, headers = c.stream.read_head()
            self.assertTrue(first.startswith('HTTP/1.1 200'), first)
            if c.stream.buf:
                got += len(c.stream.buf)
                h.update(bytes(c.stream.buf))
                c.stream.buf.clear()
            time.sleep(1.0)
            slow_until = time.monotonic() + 0.5
            while time.monotonic() < slow_until:
                d = c.sock.recv(4096)
                self.assertTrue(d, 'EOF after %d bytes' % got)
                got += len(d)
                h.update(d)
                time.sleep(0.002)
            while got < n:
                d = c.sock.recv(min(1 << 20, n - got))
                self.assertTrue(d, 'EOF after %d of %d bytes' % (got, n))
                got += len(d)
                h.update(d)
            self.assertEqual(c.get('/ping').body, b'pong\n')
        self.assertEqual(h.hexdigest(), pattern_sha256(n))
        growth = (mon.peak - base) / 1024
        self.assertLess(growth, 64, 'veer RSS grew by %.1f MiB during a slowly read TLS '
                        'download' % growth)

    def test_expect_100_continue_over_tls(self):
        self.start()
        with TLSClient(self.v.port(), ctx(), sni='a.example.com') as c:
            c.send(build_request('POST', '/echo', [('Content-Length', '5'),
                                                   ('Expect', '100-continue')]))
            r = c.read_response('POST', keep_interim=True)
            self.assertEqual(r.status, 100, r)
            c.send(b'hello')
            r = c.read_response('POST')
            self.assertEqual((r.status, r.body), (200, b'hello'), r)

    def test_websocket_over_tls(self):
        self.start()
        with TLSClient(self.v.port(), ctx(), sni='a.example.com') as c:
            r, key = veertest.ws_handshake(c, '/ws')
            self.assertEqual(r.status, 101, r)
            self.assertEqual(r.header('Sec-WebSocket-Accept'), veertest.ws_accept(key))
            c.send(veertest.ws_frame(1, 'hello over tls'))
            self.assertEqual(veertest.ws_read_frame(c.stream)[:3], (True, 1, b'hello over tls'))
            big = os.urandom(300000)
            frame = veertest.ws_frame(2, big)
            for i in range(0, len(frame), 7000):
                c.send(frame[i:i + 7000])
            self.assertEqual(veertest.ws_read_frame(c.stream)[1:3], (2, big))
            c.send(veertest.ws_frame(9, 'p'))
            self.assertEqual(veertest.ws_read_frame(c.stream)[1:3], (10, b'p'))
            c.send(veertest.ws_frame(8, b'\x03\xe8'))
            self.assertEqual(veertest.ws_read_frame(c.stream)[1], 8)
            self.assertTrue(c.wait_closed(3), 'TLS tunnel not closed after the backend closed')
        self.assertTrue(all(m for _, _, m in self.b.ws_frames), self.b.ws_frames)

    def test_many_handshakes_at_once(self):
        self.start(workers=2)
        port = self.v.port()
        names = ['a.example.com', 'b.example.com', 'x.wild.example.com', None]

        def one(i):
            sni = names[i % len(names)]
            r, f = https_get(port, '/json?c=%d' % i, ctx(), sni=sni)
            return r.status, r.json()['target'], f['der']
        res = veertest.parallel([lambda i=i: one(i) for i in range(60)], timeout=30)
        want_der = {'a.example.com': C['a'].der(), 'b.example.com': C['b'].der(),
                    'x.wild.example.com': C['wild'].der(), None: C['a'].der()}
        for i, r in enumerate(res):
            self.assertNotIsInstance(r, Exception, 'connection %d: %r' % (i, r))
            self.assertEqual(r[:2], (200, '/json?c=%d' % i))
            self.assertEqual(r[2], want_der[names[i % len(names)]])

    def test_idle_tls_connection_closed_after_idle_timeout(self):
        self.start(timeouts='{ idle: 1s }')
        with TLSClient(self.v.port(), ctx(), sni='a.example.com') as c:
            self.assertEqual(c.get('/ping').status, 200)
            t0 = time.monotonic()
            self.assertTrue(c.wait_closed(5), 'idle TLS connection still open after 5 s')
            self.assertGreater(time.monotonic() - t0, 0.8)

    # ---------------------------------------------------------- resumption
    def test_session_resumption_tls12_across_workers(self):
        self.start(workers=4)
        c = ctx(maximum=TLS12)
        r, first = https_get(self.v.port(), '/ping', c, sni='a.example.com')
        self.assertFalse(first['reused'])
        self.assertTrue(first['session'].has_ticket or first['session'].id,
                        'no session id nor ticket from veer')
        # several connections with the first one's session: whichever
        # worker accepts them resumes it
        for i in range(8):
            r, f = https_get(self.v.port(), '/ping', c, sni='a.example.com',
                             session=first['session'])
            self.assertEqual(r.status, 200, r)
            self.assertTrue(f['reused'], 'connection %d did not resume' % i)

    def test_session_resumption_tls13_across_workers(self):
        self.start(workers=4)
        c = ctx(minimum=TLS13)
        r, prev = https_get(self.v.port(), '/ping', c, sni='a.example.com')
        self.assertFalse(prev['reused'])
        self.assertTrue(prev['session'].has_ticket, 'no TLS 1.3 ticket from veer')
        for i in range(8):
            r, f = https_get(self.v.port(), '/ping', c, sni='a.example.com',
                             session=prev['session'])
            self.assertEqual(r.status, 200, r)
            self.assertTrue(f['reused'], 'connection %d did not resume' % i)
            prev = f

    def test_session_resumption_with_a_non_default_certificate(self):
        self.start()
        for maxv in (TLS12, None):
            c = ctx(maximum=maxv) if maxv else ctx()
            r, first = https_get(self.v.port(), '/ping', c, sni='b.example.com')
            self.assertEqual(first['der'], C['b'].der())
            r, f = https_get(self.v.port(), '/ping', c, sni='b.example.com',
                             session=first['session'])
            self.assertTrue(f['reused'], 'no resumption for SNI b.example.com (%s)'
                            % first['version'])

    def test_sessions_resume_across_a_reload(self):
        # the ticket keys belong to the listener, not to one generation
        v = self.start()
        c = ctx()
        r, first = https_get(v.port(), '/ping', c, sni='a.example.com')
        res = v.reload()
        self.assertTrue(res.ok, res)
        r, f = https_get(v.port(), '/ping', c, sni='a.example.com', session=first['session'])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(f['reused'], 'a session from before the reload did not resume')

    # --------------------------------------------------- misbehaving clients
    def test_plain_http_on_the_tls_port_is_closed(self):
        self.start(timeouts='{ header: 1s }')
        with Client(self.v.port(), timeout=5) as c:
            c.send(build_request('GET', '/ping'))
            got = b''
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                try:
                    d = c.sock.recv(65536)
                except (ConnectionError, socket.timeout):
                    break
                if not d:
                    break
                got += d
            else:
                self.fail('veer kept a plain-HTTP connection on its TLS port open')
            # a TLS alert record, or nginx's style of HTTP 400
            self.assertTrue(got == b'' or got[:1] == b'\x15' or got.startswith(b'HTTP/1.1 400'),
                            got[:200])
        self.assertEqual(self.served('a.example.com')['version'], 'TLSv1.3')

    def test_silent_and_stalled_handshakes_time_out(self):
        # nothing sent after connect, and half a ClientHello: both are
        # closed by the header timeout, not held for ever
        self.start(timeouts='{ header: 1s }')
        silent = Client(self.v.port(), timeout=10)
        half = Client(self.v.port(), timeout=10)
        self.addCleanup(silent.close)
        self.addCleanup(half.close)
        half.send(b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + b'\x00' * 20)
        t0 = time.monotonic()
        self.assertTrue(silent.wait_closed(6), 'a silent client was not closed')
        try:
            closed = half.wait_closed(6)
        except AssertionError:
            closed = True  # an alert record, then the close
        self.assertTrue(closed, 'a half ClientHello was not closed')
        self.assertLess(time.monotonic() - t0, 6)

    # ------------------------------------------------------- config errors
    def check(self, certs_yaml, tmp):
        """veer -t on a config whose certificate list is CERTS_YAML (lines);
        (returncode, output, config path, line number of the first entry)."""
        conf = os.path.join(tmp, 'veer.yaml')
        lines = ['listeners:', '  - name: web', '    listen: "127.0.0.1:0"', '    tls:',
                 '      certificates:']
        first = len(lines) + 1
        lines += ['        ' + y for y in certs_yaml]
        lines += ['pools:', '  - name: api', '    servers: [ { address: "127.0.0.1:9" } ]',
                  'routes:', '  - { name: main, match: { path_prefix: / }, pool: api }']
        with open(conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        p = run_veer(['-t', '-c', conf])
        return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace'), conf, first

    def entry(self, cert, key):
        return '- { cert: "%s", key: "%s" }' % (cert, key)

    def assertConfigError(self, rc, out, conf, line, *words):
        self.assertEqual(rc, 1, out)
        errs = [ln for ln in out.splitlines() if ln.startswith(conf + ':')]
        self.assertTrue(errs, 'no FILE:LINE:COL line in\n' + out)
        pat = re.compile(r'^%s:(\d+):(\d+): (.*)$' % re.escape(conf))
        hits = []
        for ln in errs:
            m = pat.match(ln)
            self.assertIsNotNone(m, 'not FILE:LINE:COL: %r' % ln)
            if int(m.group(1)) == line and all(w.lower() in m.group(3).lower() for w in words):
                hits.append(ln)
        self.assertTrue(hits, 'no error at line %d naming %r in\n%s' % (line, words, out))

    def test_config_errors_for_certificates(self):
        tmp = tempfile.mkdtemp(prefix='veer-tls-t-', dir=F.dir)
        a, b = C['a'], C['b']
        # control: a good pair checks ok
        rc, out, conf, line = self.check([self.entry(a.cert, a.key)], tmp)
        self.assertEqual(rc, 0, out)
        self.assertIn('%s: ok' % conf, out)

        missing = os.path.join(tmp, 'nope.crt')
        rc, out, conf, line = self.check([self.entry(missing, a.key)], tmp)
        self.assertConfigError(rc, out, conf, line, missing)

        missing_key = os.path.join(tmp, 'nope.key')
        rc, out, conf, line = self.check([self.entry(a.cert, missing_key)], tmp)
        self.assertConfigError(rc, out, conf, line, missing_key)

        # the key of another certificate: named as a mismatch
        rc, out, conf, line = self.check([self.entry(a.cert, b.key)], tmp)
        self.assertConfigError(rc, out, conf, line, 'match')

        # the second entry is the bad one: its own line
        rc, out, conf, line = self.check([self.entry(a.cert, a.key),
                                          self.entry(b.cert, a.key)], tmp)
        self.assertConfigError(rc, out, conf, line + 1, 'match')

        expired = F.leaf('expired', ['old.example.com'], not_before=time.time() - 40 * 86400,
                         not_after=time.time() - 86400)
        rc, out, conf, line = self.check([self.entry(expired.cert, expired.key)], tmp)
        self.assertConfigError(rc, out, conf, line, 'expired')

        future = F.leaf('future', ['new.example.com'], not_before=time.time() + 86400,
                        not_after=time.time() + 40 * 86400)
        rc, out, conf, line = self.check([self.entry(future.cert, future.key)], tmp)
        self.assertConfigError(rc, out, conf, line, 'not yet valid')

        junk = os.path.join(tmp, 'junk.crt')
        with open(junk, 'w') as f:
            f.write('this is not a certificate\n')
        rc, out, conf, line = self.check([self.entry(junk, a.key)], tmp)
        self.assertConfigError(rc, out, conf, line, junk)

        # starting (not -t) with a bad certificate fails too, with the position
        rc, out, conf, line = self.check([self.entry(a.cert, b.key)], tmp)
        p = run_veer(['-c', conf])
        self.assertEqual(p.returncode, 1, p)
        self.assertIn('%s:%d:' % (conf, line), (p.stdout + p.stderr).decode())

    # -------------------------------------------------------- file formats
    def test_full_chain_file_sends_the_intermediate(self):
        # Let's Encrypt style: cert is fullchain.pem (leaf, then the
        # intermediate); clients trust only the root
        inter = F.intermediate()
        self.addCleanup(inter.close)
        leaf = inter.leaf('chain', ['chain.example.com'])
        chained = types.SimpleNamespace(cert=leaf.fullchain, key=leaf.key)
        self.start([C['a'], chained])
        r, f = https_get(self.v.port(), '/ping', ctx(), sni='chain.example.com')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(f['der'], leaf.der())
        rc, out, err = s_client(self.v.port(), '-servername', 'chain.example.com',
                                '-CAfile', F.ca_cert, '-showcerts')
        self.assertIn('Verify return code: 0 (ok)', out, out + err)
        self.assertIn(' 1 s:CN = veer test intermediate CA', out, out)

    def test_key_and_certificate_formats(self):
        d = tempfile.mkdtemp(prefix='formats-', dir=F.dir)
        # PKCS#1 RSA and SEC1 EC keys ("traditional" PEM), and a single
        # file holding both the certificate and the key (as nginx allows)
        rsa_trad = os.path.join(d, 'a.rsa.key')
        veertest.openssl('pkey', '-in', C['a'].key, '-traditional', '-out', rsa_trad)
        ec_trad = os.path.join(d, 'e.ec.key')
        veertest.openssl('pkey', '-in', C['ec'].key, '-traditional', '-out', ec_trad)
        with open(rsa_trad) as f1, open(ec_trad) as f2:
            self.assertIn('BEGIN RSA PRIVATE KEY', f1.read())
            self.assertIn('BEGIN EC PRIVATE KEY', f2.read())
        certs = [types.SimpleNamespace(cert=C['a'].cert, key=rsa_trad),
                 types.SimpleNamespace(cert=C['ec'].cert, key=ec_trad),
                 types.SimpleNamespace(cert=C['b'].combined, key=C['b'].combined)]
        self.start(certs)
        self.assertEqual(self.served('a.example.com')['der'], C['a'].der())
        self.assertEqual(self.served('e.example.com')['der'], C['ec'].der())
        self.assertEqual(self.served('b.example.com')['der'], C['b'].der())

    def test_encrypted_key_is_a_config_error_not_a_prompt(self):
        # veer has no passphrase: an encrypted key is an error at its
        # position, never a prompt on the terminal
        tmp = tempfile.mkdtemp(prefix='veer-tls-enc-', dir=F.dir)
        enc = os.path.join(tmp, 'enc.key')
        veertest.openssl('pkey', '-in', C['a'].key, '-aes256', '-passout', 'pass:secret',
                         '-out', enc)
        rc, out, conf, line = self.check([self.entry(C['a'].cert, enc)], tmp)
        self.assertConfigError(rc, out, conf, line, enc)

    # ------------------------------------------------------------- renewal
    def test_renewal_on_sighup(self):
        d = tempfile.mkdtemp(prefix='live-', dir=F.dir)
        live = types.SimpleNamespace(cert=os.path.join(d, 'live.crt'),
                                     key=os.path.join(d, 'live.key'))
        old = F.leaf('renew1', ['a.example.com'], not_after=time.time() + 20 * 86400)
        new = F.leaf('renew2', ['a.example.com'], not_after=time.time() + 90 * 86400)
        self.assertNotEqual(old.serial, new.serial)
        install_file(old.key, live.key)
        install_file(old.cert, live.cert)
        v = self.start([live])
        c = ctx()
        # a keep-alive connection opened before the renewal
        ka = TLSClient(v.port(), c, sni='a.example.com')
        self.addCleanup(ka.close)
        self.assertEqual(ka.get('/json?ka=1').status, 200)
        self.assertEqual(ka.peer_serial(), old.serial)

        # new connections all along, every one must succeed
        stop = threading.Event()
        seen, failures = [], []

        def load():
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    r, f = https_get(v.port(), '/ping?l=%d' % i, c, sni='a.example.com')
                    if r.status != 200:
                        failures.append(r)
                    seen.append(int(f['cert']['serialNumber'], 16))
                except Exception as e:  # noqa: BLE001 - counted as a failure
                    failures.append(repr(e))
        t = threading.Thread(target=load, daemon=True)
        t.start()
        self.addCleanup(stop.set)
        wait_until(lambda: len(seen) >= 20, 10, msg='the load thread made no connections')

        # certbot-style: new files renamed over the old ones, then SIGHUP
        install_file(new.key, live.key)
        install_file(new.cert, live.cert)
        res = v.reload()
        self.assertTrue(res.ok, res)
        n_at_reload = len(seen)
        for i in range(5):
            f = self.served('a.example.com')
            self.assertEqual(int(f['cert']['serialNumber'], 16), new.serial,
                             'a new connection after the reload got the old certificate')
        wait_until(lambda: len(seen) >= n_at_reload + 20, 10)
        stop.set()
        t.join(15)
        self.assertEqual(failures, [], 'connections failed around the renewal')
        self.assertIn(old.serial, seen)
        self.assertIn(new.serial, seen)
        # the connection from before goes on
        r = ka.get('/json?ka=2')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['target'], '/json?ka=2')

        # a broken renewal (key of another certificate) is refused: the
        # renewed certificate stays in force
        install_file(C['b'].key, live.key)
        res = v.reload()
        self.assertFalse(res.ok, res)
        self.assertTrue(any(v.config_path + ':' in ln for ln in res.lines('error')), res)
        f = self.served('a.example.com')
        self.assertEqual(int(f['cert']['serialNumber'], 16), new.serial)

    def test_renewal_through_symlinks(self):
        # certbot's layout: live/NAME/*.pem are symlinks into archive/,
        # repointed at each renewal
        d = tempfile.mkdtemp(prefix='certbot-', dir=F.dir)
        os.makedirs(os.path.join(d, 'archive'))
        os.makedirs(os.path.join(d, 'live'))
        old = F.leaf('sym1', ['a.example.com'])
        new = F.leaf('sym2', ['a.example.com'])
        for i, c in ((1, old), (2, new)):
            shutil.copyfile(c.cert, os.path.join(d, 'archive', 'fullchain%d.pem' % i))
            shutil.copyfile(c.key, os.path.join(d, 'archive', 'privkey%d.pem' % i))

        def point(i):
            for kind in ('fullchain', 'privkey'):
                link = os.path.join(d, 'live', kind + '.pem')
                tmp = link + '.new'
                os.symlink('../archive/%s%d.pem' % (kind, i), tmp)
                os.replace(tmp, link)
        point(1)
        live = types.SimpleNamespace(cert=os.path.join(d, 'live', 'fullchain.pem'),
                                     key=os.path.join(d, 'live', 'privkey.pem'))
        v = self.start([live])
        self.assertEqual(int(self.served('a.example.com')['cert']['serialNumber'], 16),
                         old.serial)
        point(2)
        res = v.reload()
        self.assertTrue(res.ok, res)
        self.assertEqual(int(self.served('a.example.com')['cert']['serialNumber'], 16),
                         new.serial)

    # -------------------------------------------------------------- sslscan
    def parse_sslscan(self, out):
        protocols = dict(re.findall(r'^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)\s*$',
                                    out, re.M))
        ciphers = re.findall(r'^(?:Preferred|Accepted)\s+(\S+)\s+\d+ bits\s+(\S+)', out, re.M)
        return protocols, ciphers

    def test_sslscan(self):
        # control: sslscan sees old protocols and weak suites where they are
        legacy = self.legacy_control()
        legacy.ctx.set_ciphers('ALL:@SECLEVEL=0')
        protocols, ciphers = self.parse_sslscan(veertest.sslscan(legacy.port))
        self.assertEqual(protocols.get('TLSv1.0'), 'enabled', 'control scan: %r' % protocols)
        self.assertTrue(any(WEAK_CIPHER_RE.search(c) for _, c in ciphers),
                        'control scan found no weak suite: %r' % ciphers)

        self.start([C['a'], C['ec']])
        out = veertest.sslscan(self.v.port())
        protocols, ciphers = self.parse_sslscan(out)
        want = {'SSLv2': 'disabled', 'SSLv3': 'disabled', 'TLSv1.0': 'disabled',
                'TLSv1.1': 'disabled', 'TLSv1.2': 'enabled', 'TLSv1.3': 'enabled'}
        self.assertEqual(protocols, want, out)
        self.assertTrue(ciphers, 'no accepted cipher parsed from\n' + out)
        weak = [c for c in ciphers if WEAK_CIPHER_RE.search(c[1])]
        self.assertEqual(weak, [], out)
        tls12 = {c for v, c in ciphers if v == 'TLSv1.2'}
        self.assertTrue(tls12, out)
        self.assertLessEqual(tls12, MOZILLA_INTERMEDIATE_12,
                             'TLS 1.2 suites beyond Mozilla intermediate: %r\n%s'
                             % (sorted(tls12 - MOZILLA_INTERMEDIATE_12), out))
        self.assertNotIn('Insecure session renegotiation supported', out)
        for ln in out.splitlines():
            if 'heartbleed' in ln:
                self.assertIn('not vulnerable', ln)
        # the ECDSA certificate's suites are on offer by SNI
        out = veertest.sslscan(self.v.port(), '--sni-name=e.example.com')
        protocols, ciphers = self.parse_sslscan(out)
        self.assertEqual(protocols, want, out)
        tls12 = {c for v, c in ciphers if v == 'TLSv1.2'}
        self.assertTrue(any('ECDSA' in c for c in tls12), out)
        self.assertLessEqual(tls12, MOZILLA_INTERMEDIATE_12, out)


if __name__ == '__main__':
    veertest.main()
