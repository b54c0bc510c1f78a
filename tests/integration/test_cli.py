"""The command line: veer -t checks a file (exit 0 and 'FILE: ok', or exit
1 and one 'FILE:LINE:COL: message' line per error), veer --version."""

import os
import re
import tempfile
import textwrap

import veertest
from veertest import make_config, run_veer

GOOD = make_config(['127.0.0.1:9'])


class CliTest(veertest.TestCase):

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix='veer-cli-')
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text).lstrip('\n'))
        return path

    def check(self, path):
        p = run_veer(['-t', '-c', path])
        return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')

    def errors(self, path, out):
        rx = re.compile(r'^%s:(\d+):(\d+): (.+)$' % re.escape(path), re.M)
        return [(int(l), int(c), m) for l, c, m in rx.findall(out)]

    def test_good_file(self):
        path = self.write('good.yaml', GOOD)
        rc, out = self.check(path)
        self.assertEqual(rc, 0, out)
        self.assertIn('%s: ok' % path, out.splitlines(), out)

    def test_yaml_syntax_error(self):
        path = self.write('bad.yaml', '''
            global:
              workers: 1
            listeners:
              - { name: web, listen: "127.0.0.1:0"
            pools: []
            ''')
        rc, out = self.check(path)
        self.assertEqual(rc, 1, out)
        errs = self.errors(path, out)
        self.assertTrue(errs, 'no FILE:LINE:COL line in: %r' % out)
        self.assertIn(errs[0][0], (4, 5), out)

    def test_unknown_key_position(self):
        path = self.write('bad.yaml', GOOD.replace('  workers: 1\n', '  workers: 1\n  bogus: 2\n'))
        rc, out = self.check(path)
        self.assertEqual(rc, 1, out)
        errs = self.errors(path, out)
        self.assertEqual([(l, c) for l, c, _ in errs], [(3, 3)], out)
        self.assertIn('bogus', errs[0][2])

    def test_one_line_per_error(self):
        text = GOOD.replace('  workers: 1\n', '  workers: 1\n  bogus: 2\n')
        text = text.replace('    listen: "127.0.0.1:0"\n',
                            '    listen: "127.0.0.1:0"\n    nonsense: true\n')
        path = self.write('bad.yaml', text)
        rc, out = self.check(path)
        self.assertEqual(rc, 1, out)
        lines = sorted(l for l, _, _ in self.errors(path, out))
        self.assertEqual(lines, [3, 7], out)

    def test_semantic_errors(self):
        cases = {
            'dangling_pool': (GOOD.replace('pool: api }', 'pool: nope }'), 13),
            'bad_duration': (GOOD.replace('    listen: "127.0.0.1:0"\n',
                                          '    listen: "127.0.0.1:0"\n'
                                          '    timeouts: { header: 10 parsecs }\n'), 6),
            'bad_size': (GOOD.replace('    listen: "127.0.0.1:0"\n',
                                      '    listen: "127.0.0.1:0"\n'
                                      '    limits: { body_bytes: lots }\n'), 6),
            'bad_address': (GOOD.replace('127.0.0.1:9"', '127.0.0.1:99999"'), 10),
            'wrong_type': (GOOD.replace('  workers: 1\n', '  workers: [1]\n'), 2),
            'duplicate_pool': (GOOD.replace('routes:\n', '  - { name: api, servers: '
                                            '[ { address: "127.0.0.1:9" } ] }\nroutes:\n'), 11),
            'empty_servers': (GOOD.replace(
                '    servers:\n      - { address: "127.0.0.1:9", weight: 1 }\n',
                '    servers: []\n'), 9),
            'route_without_action': (GOOD.replace(', pool: api }', ' }'), 13),
            'workers_out_of_range': (GOOD.replace('  workers: 1\n', '  workers: -3\n'), 2),
        }
        for name, (text, line) in cases.items():
            with self.subTest(name):
                path = self.write(name + '.yaml', text)
                rc, out = self.check(path)
                self.assertEqual(rc, 1, out)
                errs = self.errors(path, out)
                self.assertTrue(errs, 'no FILE:LINE:COL line in %r' % out)
                self.assertIn(line, [l for l, _, _ in errs], '%s\n%s' % (out, text))

    def test_missing_file(self):
        path = os.path.join(self.dir.name, 'absent.yaml')
        rc, out = self.check(path)
        self.assertEqual(rc, 1, out)
        self.assertIn(path, out)

    def test_version(self):
        p = run_veer(['--version'])
        out = (p.stdout + p.stderr).decode()
        self.assertEqual(p.returncode, 0, out)
        self.assertRegex(out.splitlines()[0], r'^veer \d+\.\d+\.\d+')
        for lib in ('libevent', 'OpenSSL', 'libyaml', 'llhttp'):
            self.assertRegex(out, '(?i)' + lib, out)

    def test_run_refuses_bad_file(self):
        path = self.write('bad.yaml', GOOD.replace('  workers: 1\n', '  workers: 1\n  bogus: 2\n'))
        try:
            p = run_veer(['-c', path], timeout=5)
        except veertest.subprocess.TimeoutExpired:
            self.fail('veer -c started with an invalid file')
        self.assertNotEqual(p.returncode, 0)
        out = (p.stdout + p.stderr).decode()
        self.assertTrue(self.errors(path, out), out)


if __name__ == '__main__':
    veertest.main()
