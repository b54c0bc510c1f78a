"""WebSocket: the Upgrade handshake passes through veer (101) and frames
are tunnelled both ways (RFC 6455)."""

import os

import veertest
from veertest import Client, make_config, ws_accept, ws_frame, ws_handshake, ws_read_frame


class WebSocketTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('ws')
        self.v = self.veer(make_config([self.b.address]))

    def test_handshake_and_echo(self):
        with Client(self.v.port()) as c:
            r, key = ws_handshake(c, '/ws')
            self.assertEqual(r.status, 101, r)
            self.assertEqual(r.header('Sec-WebSocket-Accept'), ws_accept(key), r)
            self.assertIn('upgrade', veertest.header_tokens(r.headers, 'connection'), r)
            self.assertEqual(r.header('Upgrade', '').lower(), 'websocket', r)
            c.send(ws_frame(1, 'hello through veer'))
            fin, op, payload, masked = ws_read_frame(c.stream)
            self.assertEqual((fin, op, payload, masked), (True, 1, b'hello through veer', False))
            # a bigger binary frame, written in small pieces
            big = os.urandom(200000)
            frame = ws_frame(2, big)
            for i in range(0, len(frame), 7000):
                c.send(frame[i:i + 7000])
            fin, op, payload, _ = ws_read_frame(c.stream)
            self.assertEqual((op, payload), (2, big))
            # ping / pong, then the close handshake
            c.send(ws_frame(9, 'p'))
            self.assertEqual(ws_read_frame(c.stream)[1:3], (10, b'p'))
            c.send(ws_frame(8, b'\x03\xe8'))
            self.assertEqual(ws_read_frame(c.stream)[1], 8)
            self.assertTrue(c.wait_closed(3), 'tunnel not closed after the backend closed')
        req = self.b.received('/ws')[0]
        self.assertEqual(req.header('Upgrade', '').lower(), 'websocket', req)
        self.assertIn('upgrade', veertest.header_tokens(req.headers, 'connection'), req)
        self.assertEqual(req.header('Sec-WebSocket-Key'), key)
        self.assertEqual(req.header('Sec-WebSocket-Version'), '13')
        # frames reach the backend as the client masked them
        self.assertTrue(all(m for _, _, m in self.b.ws_frames), self.b.ws_frames)

    def test_two_tunnels_at_once(self):
        with Client(self.v.port()) as a, Client(self.v.port()) as b:
            self.assertEqual(ws_handshake(a)[0].status, 101)
            self.assertEqual(ws_handshake(b)[0].status, 101)
            for i in range(20):
                a.send(ws_frame(1, 'a%d' % i))
                b.send(ws_frame(1, 'b%d' % i))
                self.assertEqual(ws_read_frame(a.stream)[2], b'a%d' % i)
                self.assertEqual(ws_read_frame(b.stream)[2], b'b%d' % i)


if __name__ == '__main__':
    veertest.main()
