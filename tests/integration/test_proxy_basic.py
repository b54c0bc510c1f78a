"""Basic proxying with curl, and the X-Veer-Pool / X-Veer-Version response
headers (on by default, off with global.expose_headers: false)."""

import veertest
from veertest import curl_request, make_config


class ProxyBasicTest(veertest.TestCase):

    def test_curl_through_veer(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address], version='1.2.3'))
        r = curl_request(v.url('/hello?x=1'))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header('X-Backend'), 'b1', r)
        body = veertest.json.loads(r.body)
        self.assertEqual(body['backend'], 'b1')
        self.assertEqual(body['method'], 'GET')
        self.assertEqual(body['target'], '/hello?x=1')
        self.assertEqual(r.header('X-Veer-Pool'), 'api', r)
        self.assertEqual(r.header('X-Veer-Version'), '1.2.3', r)
        self.assertEqual(len(b.received('/hello')), 1)

    def test_post_with_curl(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address]))
        r = curl_request(v.url('/echo'), '--data-binary', 'hello world', '-H',
                         'Content-Type: text/plain')
        self.assertEqual((r.rc, r.status, r.body), (0, 200, b'hello world'), r)
        req = b.received('/echo')[0]
        self.assertEqual(req.method, 'POST')
        self.assertEqual(req.body, b'hello world')
        self.assertEqual(req.header('Content-Type'), 'text/plain')

    def test_expose_headers_false(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address], global_opts={'expose_headers': 'false'}))
        r = curl_request(v.url('/hello'))
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertIsNone(r.header('X-Veer-Pool'), r)
        self.assertIsNone(r.header('X-Veer-Version'), r)

    def test_pool_without_version(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address], version=None))
        r = curl_request(v.url('/hello'))
        self.assertEqual((r.rc, r.status), (0, 200), r)
        self.assertEqual(r.header('X-Veer-Pool'), 'api', r)
        self.assertIsNone(r.header('X-Veer-Version'), r)


if __name__ == '__main__':
    veertest.main()
