"""Many clients at once on two workers: every request answered correctly,
none mixed up with another's (bodies are unique per request)."""

import http.client
import os
import threading

import veertest
from veertest import make_config

CLIENTS = 24
REQUESTS = 25


class ConcurrencyTest(veertest.TestCase):

    def test_parallel_keepalive_clients(self):
        bs = [self.backend('b%d' % i) for i in range(2)]
        v = self.veer(make_config([b.address for b in bs], workers=2))
        errors = []

        def worker(n):
            try:
                conn = http.client.HTTPConnection('127.0.0.1', v.port(), timeout=10)
                for i in range(REQUESTS):
                    body = ('%d-%d-' % (n, i)).encode() + os.urandom(64 + (n * 131 + i * 17) % 5000)
                    if i % 3 == 2:
                        conn.request('GET', '/json?n=%d&i=%d' % (n, i))
                        r = conn.getresponse()
                        data = r.read()
                        if r.status != 200 or veertest.json.loads(data)['target'] != \
                                '/json?n=%d&i=%d' % (n, i):
                            errors.append((n, i, r.status, data[:200]))
                    else:
                        conn.request('POST', '/echo', body=body)
                        r = conn.getresponse()
                        data = r.read()
                        if r.status != 200 or data != body:
                            errors.append((n, i, r.status, data[:80]))
                conn.close()
            except Exception as e:
                errors.append((n, repr(e)))

        ts = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(CLIENTS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(errors, [])
        total = sum(len(b.received()) for b in bs)
        self.assertEqual(total, CLIENTS * REQUESTS)
        self.assertTrue(all(b.received() for b in bs), 'one backend got nothing')

    def test_parallel_short_connections(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address], workers=2))
        errors = []

        def worker(n):
            for i in range(20):
                try:
                    r = veertest.http(v.port(), 'GET', '/json?n=%d&i=%d' % (n, i),
                                      [('Connection', 'close')])
                    if r.status != 200:
                        errors.append((n, i, r.status))
                except Exception as e:
                    errors.append((n, i, repr(e)))

        ts = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(errors, [])


if __name__ == '__main__':
    veertest.main()
