"""Access log: one line per request with what SPEC §2 and the README list,
in json or combined format, buffered per worker and flushed within a short
delay; SIGUSR1 reopens the file after logrotate moved it."""

import json
import os
import re
import signal

import veertest
from veertest import make_config


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path, 'rb') as f:
        return [l for l in f.read().decode('utf-8').split('\n') if l]


class AccessLogTest(veertest.TestCase):

    def start(self, fmt, workers=1):
        b = self.backend('b1')
        path = os.path.join(self.tmpdir(), 'access.log')
        v = self.veer(make_config([b.address], workers=workers, global_opts={
            'log': '{ access: "%s", access_format: %s }' % (path, fmt)}))
        return b, v, path

    def tmpdir(self):
        import tempfile
        d = tempfile.mkdtemp(prefix='veer-al-')
        self.addCleanup(lambda: __import__('shutil').rmtree(d, ignore_errors=True))
        return d

    def test_json_lines_carry_the_request(self):
        b, v, path = self.start('json')
        r = veertest.http(v.port(), 'POST', '/json?x=1', body=b'hello',
                          headers=[('User-Agent', 'ua "quoted"\\x'), ('Referer', 'http://r/'),
                                   ('X-Request-Id', 'rid-1'),
                                   ('traceparent',
                                    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')])
        self.assertEqual(r.status, 200)
        self.assertEqual(veertest.http(v.port(), 'GET', '/ping').status, 200)
        self.assertEqual(veertest.http(v.port(), 'GET', '/ping', headers=[
            ('Host', 'x')]).status, 200)
        veertest.wait_until(lambda: len(lines(path)) >= 3, 5, msg='access log not flushed')
        recs = [json.loads(l) for l in lines(path)]
        first = recs[0]
        self.assertEqual(first['method'], 'POST')
        self.assertEqual(first['target'], '/json?x=1')
        self.assertEqual(first['protocol'], 'HTTP/1.1')
        self.assertEqual(first['status'], 200)
        self.assertEqual(first['client'], '127.0.0.1')
        self.assertEqual(first['route'], 'main')
        self.assertEqual(first['pool'], 'api')
        self.assertEqual(first['version'], '1.2.3')
        self.assertEqual(first['server'], b.address)
        self.assertEqual(first['retries'], 0)
        self.assertEqual(first['request_id'], 'rid-1')
        self.assertEqual(first['trace_id'], '4bf92f3577b34da6a3ce929d0e0e4736')
        self.assertEqual(first['user_agent'], 'ua "quoted"\\x')
        self.assertEqual(first['referer'], 'http://r/')
        self.assertGreater(first['bytes_in'], 5)
        self.assertGreaterEqual(first['bytes_out'], len(r.body))
        self.assertGreaterEqual(first['duration_ms'], 0)
        self.assertRegex(first['time'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$')
        ping = recs[1]
        self.assertEqual((ping['route'], ping['pool'], ping['status']), ('ping', None, 200))
        self.assertEqual(len(recs), 3)

    def test_combined_format(self):
        b, v, path = self.start('combined')
        self.assertEqual(veertest.http(v.port(), 'GET', '/json', headers=[
            ('User-Agent', 'curl-ish')]).status, 200)
        veertest.wait_until(lambda: len(lines(path)) >= 1, 5)
        line = lines(path)[0]
        self.assertRegex(line, r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                               r'"GET /json HTTP/1\.1" 200 \d+ "-" "curl-ish" route=main pool=api '
                               r'version=1\.2\.3 server=\S+ retries=0 duration_ms=[\d.]+ '
                               r'request_id=[0-9a-f]{32} trace_id=[0-9a-f]{32}$')

    def test_sigusr1_reopens_after_rotation(self):
        b, v, path = self.start('json', workers=2)
        self.assertEqual(veertest.http(v.port(), 'GET', '/ping').status, 200)
        veertest.wait_until(lambda: len(lines(path)) == 1, 5)
        os.rename(path, path + '.1')
        v.signal(signal.SIGUSR1)
        veertest.wait_until(lambda: 'log files reopened' in v.log(), 5)
        for _ in range(4):
            self.assertEqual(veertest.http(v.port(), 'GET', '/ping?after').status, 200)
        veertest.wait_until(lambda: len(lines(path)) == 4, 5, msg='new file did not get the lines')
        self.assertEqual(len(lines(path + '.1')), 1)
        self.assertTrue(all('/ping?after' in l for l in lines(path)))


if __name__ == '__main__':
    veertest.main()
