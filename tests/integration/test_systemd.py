"""systemd integration: the unit file verifies, and veer speaks sd_notify.

A real AF_UNIX datagram socket stands in for systemd's $NOTIFY_SOCKET: veer
must send READY=1 once it serves, RELOADING=1 (with MONOTONIC_USEC) then
READY=1 around a SIGHUP reload (STATUS= names the generation), and
STOPPING=1 on SIGTERM.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import veertest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

CONFIG = '''
global: { workers: 1 }
listeners:
  - { name: web, listen: "127.0.0.1:0" }
routes:
  - { name: ping, match: { path_prefix: / }, respond: { status: 200, body: "%s" } }
'''


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='veer-notify-')
        self.sock_path = os.path.join(self.dir, 'notify')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(10)
        self.conf = os.path.join(self.dir, 'veer.yaml')
        with open(self.conf, 'w') as f:
            f.write(CONFIG % 'one')
        self.log = open(os.path.join(self.dir, 'veer.log'), 'w+')
        env = dict(os.environ, NOTIFY_SOCKET=self.sock_path)
        self.proc = subprocess.Popen([veertest.veer_bin(), '-c', self.conf], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.log)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def message(self):
        data = self.sock.recv(4096).decode()
        return dict(line.split('=', 1) for line in data.strip().split('\n'))

    def test_ready_reloading_stopping(self):
        m = self.message()
        self.assertEqual(m.get('READY'), '1', m)
        self.assertIn('generation 1', m.get('STATUS', ''))
        with open(self.conf, 'w') as f:
            f.write(CONFIG % 'two')
        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        self.proc.send_signal(signal.SIGHUP)
        m = self.message()
        self.assertEqual(m.get('RELOADING'), '1', m)
        usec = int(m['MONOTONIC_USEC'])
        self.assertGreaterEqual(usec, int(before * 1e6))
        self.assertLess(usec, int((time.clock_gettime(time.CLOCK_MONOTONIC) + 1) * 1e6))
        m = self.message()
        self.assertEqual(m.get('READY'), '1', m)
        self.assertIn('generation 2', m.get('STATUS', ''))
        self.proc.send_signal(signal.SIGTERM)
        m = self.message()
        self.assertEqual(m.get('STOPPING'), '1', m)
        self.assertEqual(self.proc.wait(10), 0)


class UnitFileTest(unittest.TestCase):
    def test_unit_verifies(self):
        analyze = shutil.which('systemd-analyze')
        self.assertIsNotNone(analyze, 'systemd-analyze is missing (Debian package systemd)')
        d = tempfile.mkdtemp(prefix='veer-unit-')
        try:
            with open(os.path.join(ROOT, 'systemd', 'veer.service')) as f:
                unit = f.read()
            # Point the unit at the binary under test (systemd-analyze
            # checks that ExecStart's program exists and is executable).
            unit = unit.replace('/usr/local/bin/veer', veertest.veer_bin())
            path = os.path.join(d, 'veer.service')
            with open(path, 'w') as f:
                f.write(unit)
            r = subprocess.run([analyze, 'verify', path], capture_output=True, text=True)
            # Only complaints about this unit count (the host's other units
            # may have their own).
            mine = [l for l in (r.stdout + r.stderr).splitlines() if 'veer.service' in l]
            self.assertEqual(mine, [], r.stdout + r.stderr)
            self.assertIn('Type=notify', unit)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    unittest.main()
