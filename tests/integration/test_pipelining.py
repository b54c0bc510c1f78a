"""Pipelining: requests written back to back in one send() are answered
in order (RFC 9112 section 9.3.2)."""

import veertest
from veertest import Client, build_request, make_config


class PipeliningTest(veertest.TestCase):

    def setUp(self):
        self.b = self.backend('b1')
        self.v = self.veer(make_config([self.b.address]))

    def test_ten_gets_in_one_send(self):
        with Client(self.v.port()) as c:
            c.send(b''.join(build_request('GET', '/json?n=%d' % i) for i in range(10)))
            rs = c.read_responses(10)
        for i, r in enumerate(rs):
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()['target'], '/json?n=%d' % i)
        self.assertEqual(len(self.b.received()), 10)

    def test_order_kept_when_first_is_slow(self):
        with Client(self.v.port()) as c:
            c.send(build_request('GET', '/json?n=0&delay=300') +
                   b''.join(build_request('GET', '/json?n=%d' % i) for i in range(1, 5)))
            rs = c.read_responses(5)
        self.assertEqual([r.json()['target'].split('&')[0] for r in rs],
                         ['/json?n=%d' % i for i in range(5)])

    def test_mixed_methods_bodies_and_direct_answers(self):
        reqs = [
            build_request('POST', '/echo', body=b'first body'),
            build_request('GET', '/ping'),
            build_request('GET', '/json?n=2'),
            build_request('POST', '/echo', body=b'fourth', chunked=True, chunk_size=3),
            build_request('HEAD', '/json?n=4'),
            build_request('GET', '/json?n=5&chunked=1'),
            build_request('GET', '/ping'),
            build_request('DELETE', '/json?n=7'),
        ]
        methods = ['POST', 'GET', 'GET', 'POST', 'HEAD', 'GET', 'GET', 'DELETE']
        with Client(self.v.port()) as c:
            c.send(b''.join(reqs))
            rs = c.read_responses(len(reqs), methods)
            # the connection is still usable afterwards
            self.assertEqual(c.get('/ping').body, b'pong\n')
        self.assertEqual([r.status for r in rs], [200] * len(reqs), rs)
        self.assertEqual(rs[0].body, b'first body')
        self.assertEqual(rs[1].body, b'pong\n')
        self.assertEqual(rs[2].json()['target'], '/json?n=2')
        self.assertEqual(rs[3].body, b'fourth')
        self.assertEqual(rs[4].body, b'')
        self.assertEqual(rs[5].json()['target'], '/json?n=5&chunked=1')
        self.assertEqual(rs[6].body, b'pong\n')
        self.assertEqual(rs[7].json()['method'], 'DELETE')

    def test_pipelined_byte_by_byte(self):
        data = b''.join(build_request('GET', '/json?n=%d' % i) for i in range(3))
        with Client(self.v.port()) as c:
            for i in range(len(data)):
                c.send(data[i:i + 1])
            rs = c.read_responses(3)
        self.assertEqual([r.json()['target'] for r in rs], ['/json?n=%d' % i for i in range(3)])


if __name__ == '__main__':
    veertest.main()
