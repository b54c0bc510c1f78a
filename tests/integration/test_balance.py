"""Balancing end to end (one worker, so one balancer state): smooth
weighted round robin gives exact shares; hash keeps a key on one server."""

import collections

import veertest
from veertest import Client, make_config


class BalanceTest(veertest.TestCase):

    def start(self, weights, pool_opts=None):
        self.bs = [self.backend('b%d' % i) for i in range(len(weights))]
        servers = [(b.address, w) for b, w in zip(self.bs, weights)]
        return self.veer(make_config(servers, workers=1, pool_opts=pool_opts))

    def test_round_robin_weights_exact(self):
        v = self.start([1, 1, 2], {'balance': 'round_robin'})
        order = []
        with Client(v.port()) as c:
            for i in range(40):
                r = c.get('/json?i=%d' % i)
                self.assertEqual(r.status, 200, r)
                order.append(r.header('X-Backend'))
        counts = collections.Counter(order)
        self.assertEqual(dict(counts), {'b0': 10, 'b1': 10, 'b2': 20}, order)
        # smooth: every run of 4 (the weight sum) holds each server by weight
        for k in range(0, 40, 4):
            self.assertEqual(collections.Counter(order[k:k + 4]),
                             {'b0': 1, 'b1': 1, 'b2': 2}, order)
        for b in self.bs:
            self.assertEqual(len(b.received()), {'b0': 10, 'b1': 10, 'b2': 20}[b.name])

    def test_round_robin_across_client_connections(self):
        v = self.start([1, 1, 2], {'balance': 'round_robin'})
        order = []
        for i in range(40):
            order.append(veertest.http(v.port(), 'GET', '/json').header('X-Backend'))
        self.assertEqual(collections.Counter(order), {'b0': 10, 'b1': 10, 'b2': 20}, order)

    def test_weight_zero_gets_nothing(self):
        v = self.start([1, 0], {'balance': 'round_robin'})
        with Client(v.port()) as c:
            order = [c.get('/json').header('X-Backend') for _ in range(10)]
        self.assertEqual(order, ['b0'] * 10)
        self.assertEqual(self.bs[1].received(), [])

    def test_hash_on_header_is_sticky(self):
        v = self.start([1, 1, 1], {'balance': 'hash', 'hash_on': 'header:X-User-Id'})
        seen = {}
        with Client(v.port()) as c:
            for rnd in range(3):
                for user in range(30):
                    r = c.get('/json', [('X-User-Id', 'user-%d' % user)])
                    self.assertEqual(r.status, 200, r)
                    seen.setdefault(user, set()).add(r.header('X-Backend'))
        for user, servers in seen.items():
            self.assertEqual(len(servers), 1, 'user-%d went to %s' % (user, servers))
        used = set().union(*seen.values())
        self.assertGreater(len(used), 1, 'hash sent 30 keys all to %s' % used)

    def test_other_balancers_serve(self):
        for balance in ('least_conn', 'p2c', 'random'):
            with self.subTest(balance):
                bs = [self.backend('%s%d' % (balance, i)) for i in range(2)]
                v = veertest.Veer(make_config([b.address for b in bs], pool_opts={
                    'balance': balance}))
                with v:
                    with Client(v.port()) as c:
                        names = [c.get('/json').header('X-Backend') for _ in range(40)]
                self.assertEqual(set(names), {b.name for b in bs}, names)


if __name__ == '__main__':
    veertest.main()
