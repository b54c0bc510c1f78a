"""global.max_connections: with two client connections open and a limit of
2, a third one gets no response while the two are held (veer either closes
it at once or leaves it in the accept queue: both are accepted here); once
one of the two closes, a connection is served again."""


import veertest
from veertest import Client, build_request, make_config


class MaxConnectionsTest(veertest.TestCase):

    def test_limit_two(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address], workers=1, global_opts={'max_connections': 2}))
        c1 = self.client(v.port())
        c2 = self.client(v.port())
        self.assertEqual(c1.get('/json?c1').status, 200)
        self.assertEqual(c2.get('/json?c2').status, 200)

        # third connection: the TCP handshake may complete (kernel backlog)
        # but no HTTP response may come while c1 and c2 are open
        c3 = self.client(v.port())
        third_served_early = False
        try:
            c3.send(build_request('GET', '/json?c3'))
        except OSError:
            pass
        closed = False
        if c3.readable_within(1.0):
            try:
                r = c3.read_response()
                third_served_early = True
            except (veertest.ProtocolError, OSError):
                closed = True  # refused by veer: closed or reset
        self.assertFalse(third_served_early, 'third connection served over max_connections: 2')
        if not third_served_early:
            self.assertEqual([q for q in b.received() if q.target == '/json?c3'], [])

        # the held ones still work
        self.assertEqual(c1.get('/json?c1-again').status, 200)

        # free a slot: a connection is served again
        c1.close()
        if not closed:
            # c3 was waiting in the queue: it is served now
            c3.settimeout(3)
            r = c3.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()['target'], '/json?c3')
            c3.close()

        def fresh_served():
            try:
                with Client(v.port(), timeout=1) as c4:
                    return c4.get('/json?c4').status == 200
            except (OSError, veertest.ProtocolError):
                return False
        veertest.wait_until(fresh_served, 3, msg='no connection served after one of two closed')


if __name__ == '__main__':
    veertest.main()
