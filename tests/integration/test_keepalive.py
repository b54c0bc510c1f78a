"""Keep-alive on both sides: many requests on one client connection, and
upstream connections reused from the per-worker pool (workers: 1 so the
pool is one)."""

import veertest
from veertest import Client, make_config


class KeepAliveTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config([self.b.address], workers=1))

    def test_many_requests_one_client_connection(self):
        with Client(self.v.port()) as c:
            for i in range(20):
                r = c.get('/json?i=%d' % i)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()['target'], '/json?i=%d' % i)
                r = c.request('POST', '/echo', body=b'x%d' % i)
                self.assertEqual(r.body, b'x%d' % i)
        self.assertEqual(len(self.b.received()), 40)

    def test_upstream_connection_reused(self):
        with Client(self.v.port()) as c:
            for i in range(20):
                r = c.get('/json?i=%d' % i)
                self.assertEqual(r.status, 200, r)
        conns = self.b.upstream_connections()
        self.assertEqual(len(conns), 1,
                         '20 sequential requests used %d upstream connections' % len(conns))

    def test_upstream_reused_across_client_connections(self):
        for i in range(10):
            with Client(self.v.port()) as c:
                self.assertEqual(c.get('/json?i=%d' % i).status, 200)
        conns = self.b.upstream_connections()
        self.assertLess(len(conns), 10, 'no upstream reuse: %d connections for 10 requests'
                        % len(conns))

    def test_upstream_chunked_and_close_do_not_break_pool(self):
        with Client(self.v.port()) as c:
            self.assertEqual(c.get('/json?chunked=1').status, 200)
            self.assertEqual(c.get('/json').status, 200)
            # a close-delimited answer ends that upstream connection; veer
            # either re-frames it (the client connection goes on) or passes
            # it on close-delimited (then the client connection ends too)
            r = c.get('/json?close=1')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()['target'], '/json?close=1')
        with Client(self.v.port()) as c:
            r = c.get('/json?after-close')
            self.assertEqual(r.status, 200, r)
        reqs = self.b.received()
        self.assertEqual(reqs[0].conn, reqs[1].conn, 'chunked response: connection not reused')
        self.assertEqual(reqs[1].conn, reqs[2].conn)
        self.assertNotEqual(reqs[2].conn, reqs[3].conn, 'reused a closed upstream connection')

    def test_dead_pooled_connection_retried_once(self):
        # The backend closes the kept-alive connection as the next request
        # arrives on it (the keep-alive race).  No byte of a response came
        # back, so veer retries once on a new connection.
        with Client(self.v.port()) as c:
            self.assertEqual(c.get('/json?drop_next=1').status, 200)
            r = c.get('/json?second')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()['target'], '/json?second')
        seconds = [q for q in self.b.received() if q.target == '/json?second']
        self.assertEqual(len(seconds), 2, seconds)
        self.assertNotEqual(seconds[0].conn, seconds[1].conn)


if __name__ == '__main__':
    veertest.main()
