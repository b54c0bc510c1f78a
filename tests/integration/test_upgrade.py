"""Zero-downtime binary upgrade (SIGUSR2): the running veer starts its own
binary again, hands it the listening sockets, and drains once the new one
serves; a new process that fails leaves the old one serving.

Run with processes started directly (not the harness's Veer object): the
process serving at the end is not the one the test started."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import veertest

CONFIG = '''
global: { workers: 2, drain_timeout: 5s }
listeners:
  - { name: web, listen: "127.0.0.1:0" }
routes:
  - { name: ping, match: { path_prefix: / }, respond: { status: 200, body: "ok\\n" } }
'''


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class UpgradeTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='veer-upgrade-')
        self.conf = os.path.join(self.dir, 'veer.yaml')
        with open(self.conf, 'w') as f:
            f.write(CONFIG)
        self.logpath = os.path.join(self.dir, 'veer.log')
        self.log = open(self.logpath, 'w')
        self.proc = subprocess.Popen([veertest.veer_bin(), '-c', self.conf],
                                     env=veertest.clean_env(), stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        self.port = int(self.wait_log(r'listener web on 127\.0\.0\.1:(\d+)').group(1))
        self.pids = [self.proc.pid]

    def tearDown(self):
        for pid in self.pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def text(self):
        with open(self.logpath) as f:
            return f.read()

    def wait_log(self, pattern, start=0, timeout=10):
        found = {}

        def look():
            m = re.compile(pattern).search(self.text(), start)
            if m:
                found['m'] = m
            return m is not None
        veertest.wait_until(look, timeout, msg='log never matched %r:\n%s' % (pattern, self.text()))
        return found['m']

    def test_upgrade_under_load_loses_nothing(self):
        stop = threading.Event()
        results = {'ok': 0, 'bad': []}

        def load():
            while not stop.is_set():
                try:
                    r = veertest.http(self.port, 'GET', '/x', timeout=5)
                    if r.status == 200 and r.body == b'ok\n':
                        results['ok'] += 1
                    else:
                        results['bad'].append(repr(r))
                except Exception as e:  # a refused or reset connection fails the test
                    results['bad'].append(repr(e))

        threads = [threading.Thread(target=load, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        veertest.wait_until(lambda: results['ok'] > 50, 10)
        mark = len(self.text())
        self.proc.send_signal(signal.SIGUSR2)
        m = self.wait_log(r'upgrade: started \S+ as pid (\d+)', mark)
        new_pid = int(m.group(1))
        self.pids.append(new_pid)
        self.wait_log(r'upgrade: took over from pid %d' % self.proc.pid, mark)
        # The old process drains and exits 0 on its own.
        self.assertEqual(self.proc.wait(10), 0, self.text())
        before = results['ok']
        veertest.wait_until(lambda: results['ok'] > before + 50, 10,
                            msg='the new process does not serve')
        stop.set()
        for t in threads:
            t.join(10)
        self.assertEqual(results['bad'], [], 'requests lost during the upgrade')
        self.assertTrue(pid_alive(new_pid))
        # The new process serves the same port, and stops gracefully too.
        os.kill(new_pid, signal.SIGTERM)
        veertest.wait_until(lambda: not pid_alive(new_pid) or
                            'stopped' in self.text()[mark:].split('took over')[-1], 10)

    def test_failed_upgrade_keeps_the_old_process(self):
        with open(self.conf, 'w') as f:
            f.write('global: { workers: 2\n')  # the new process cannot start with this
        mark = len(self.text())
        self.proc.send_signal(signal.SIGUSR2)
        m = self.wait_log(r'upgrade: started \S+ as pid (\d+)', mark)
        self.pids.append(int(m.group(1)))
        self.wait_log(r'upgrade: new process %s ended \(exit status 1\) before taking over'
                      % m.group(1), mark)
        r = veertest.http(self.port, 'GET', '/y', timeout=5)
        self.assertEqual((r.status, r.body), (200, b'ok\n'))
        self.assertIsNone(self.proc.poll())
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(10), 0, self.text())


if __name__ == '__main__':
    unittest.main()
