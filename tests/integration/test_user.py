"""global.user: after binding its sockets veer drops root for that user
(and its group), and still serves; started as root without global.user it
logs a warning once and keeps running."""

import os
import unittest

import veertest
from veertest import make_config


def ids(pid):
    uid = gid = None
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('Uid:'):
                uid = [int(x) for x in line.split()[1:]]
            elif line.startswith('Gid:'):
                gid = [int(x) for x in line.split()[1:]]
    return uid, gid


@unittest.skipUnless(os.geteuid() == 0, 'dropping privileges needs root (CI runs as root)')
class UserTest(veertest.TestCase):

    def test_drops_root_for_the_configured_user(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address], global_opts={'user': 'nobody'}))
        self.assertEqual(veertest.http(v.port(), 'GET', '/json').status, 200)
        uid, gid = ids(v.proc.pid)
        self.assertEqual(set(uid), {65534}, uid)   # real, effective, saved, fs: all nobody
        self.assertEqual(set(gid), {65534}, gid)
        self.assertIn('running as nobody', v.log())
        self.assertNotIn('running as root without global.user', v.log())

    def test_warns_once_when_root_without_user(self):
        b = self.backend('b1')
        v = self.veer(make_config([b.address]))
        self.assertEqual(veertest.http(v.port(), 'GET', '/json').status, 200)
        self.assertEqual(v.log().count('running as root without global.user'), 1)
        uid, _ = ids(v.proc.pid)
        self.assertEqual(set(uid), {0})

    def test_unknown_user_is_refused(self):
        r = veertest.run_veer(['-c', self._write('''
            global: { workers: 1, user: no-such-user-veer }
            listeners: [ { name: web, listen: "127.0.0.1:0" } ]
            routes: [ { name: r, match: { path_prefix: / }, respond: { status: 200 } } ]
            ''')])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(b'no such user no-such-user-veer', r.stdout + r.stderr)

    def _write(self, text):
        import tempfile
        import textwrap
        fd, path = tempfile.mkstemp(suffix='.yaml')
        with os.fdopen(fd, 'w') as f:
            f.write(textwrap.dedent(text))
        self.addCleanup(os.unlink, path)
        return path


if __name__ == '__main__':
    veertest.main()
