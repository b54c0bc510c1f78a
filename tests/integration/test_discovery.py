"""Service discovery (pools[].discovery): endpoints found at runtime.

A real dnsmasq (Debian's dnsmasq-base, installed by scripts/deps) serves SRV
and A records on a loopback port; it reads its records at start, so a test
changes them by restarting it.  veer re-resolves in the background and moves
traffic without a reload: new endpoints get requests, removed ones get none.
A resolver that is down, or an answer without usable records, keeps the last
good set (traffic goes on), is logged and counted in
veer_discovery_errors_total{pool}.  Endpoint files are watched: an atomic
rename (consul-template, ConfigMaps) is picked up within about a second,
and a broken file keeps the last set with FILE:LINE:COL in the log.
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import veertest
from veertest import wait_until

ADMIN_RE = re.compile(r'admin on 127\.0\.0\.1:(\d+)')
SRV_NAME = '_http._tcp.api.test'


def find_dnsmasq():
    for path in (shutil.which('dnsmasq'), '/usr/sbin/dnsmasq', '/sbin/dnsmasq'):
        if path and os.access(path, os.X_OK):
            return path
    return None


def free_port():
    """A loopback port free for both UDP and TCP (dnsmasq takes both)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind(('127.0.0.1', 0))
            port = t.getsockname()[1]
            u.bind(('127.0.0.1', port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise AssertionError('no free port for dnsmasq')


def dns_query(port, name, qtype=33, timeout=0.2):
    """Send one question to 127.0.0.1:PORT; True when anything answers."""
    q = struct.pack('>HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0)
    q += b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0'
    q += struct.pack('>HH', qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, ('127.0.0.1', port))
        return len(s.recv(4096)) >= 12
    except OSError:
        return False
    finally:
        s.close()


class Dnsmasq:
    """dnsmasq on 127.0.0.1:PORT (UDP and TCP), no upstream, no hosts file,
    only the records given as options; authoritative for .test (unknown
    names there get NXDOMAIN)."""

    def __init__(self, port, logdir):
        self.port = port
        self.logdir = logdir
        self.proc = None
        self.starts = 0

    def start(self, *records):
        self.starts += 1
        log = open(os.path.join(self.logdir, 'dnsmasq-%d.log' % self.starts), 'wb')
        self.proc = subprocess.Popen(
            [find_dnsmasq(), '--no-daemon', '--conf-file=/dev/null', '--pid-file=',
             '--port=%d' % self.port, '--listen-address=127.0.0.1', '--bind-interfaces',
             '--no-resolv', '--no-hosts', '--local=/test/', '--local-ttl=0', '--log-queries',
             *records],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(lambda: dns_query(self.port, SRV_NAME) or self.proc.poll() is not None, 5,
                   msg='dnsmasq did not answer on port %d' % self.port)
        if self.proc.poll() is not None:
            raise AssertionError('dnsmasq exited: %s' % self.log())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None

    def restart(self, *records):
        self.stop()
        self.start(*records)

    def log(self):
        with open(os.path.join(self.logdir, 'dnsmasq-%d.log' % self.starts), 'rb') as f:
            return f.read().decode('utf-8', 'replace')


def srv(backend, weight=10, prio=0, target=None):
    """dnsmasq options for an SRV record to BACKEND and its target's A record
    (host-record: dnsmasq adds it as glue)."""
    target = target or 'b%d.api.test' % backend.port
    return ['--srv-host=%s,%s,%d,%d,%d' % (SRV_NAME, target, backend.port, prio, weight),
            '--host-record=%s,127.0.0.1' % target]


def config(discovery, workers=2):
    return ('global: { workers: %d, admin: { listen: "127.0.0.1:0" } }\n'
            'listeners: [ { name: web, listen: "127.0.0.1:0" } ]\n'
            'pools:\n'
            '  - name: api\n'
            '    discovery: %s\n'
            '    keepalive: { max_idle: 8 }\n'
            'routes: [ { name: main, match: { path_prefix: / }, pool: api } ]\n'
            % (workers, discovery))


class DiscoveryTest(veertest.TestCase):

    def setUp(self):
        if find_dnsmasq() is None:
            self.fail('dnsmasq not found: run scripts/deps (it installs dnsmasq-base)')
        self.tmp = tempfile.mkdtemp(prefix='veer-discovery-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def dnsmasq(self):
        d = Dnsmasq(free_port(), self.tmp)
        self.addCleanup(d.stop)
        return d

    def start(self, discovery):
        v = self.veer(config(discovery))
        m = wait_until(lambda: ADMIN_RE.search(v.log()), 10,
                       msg=lambda: 'no "admin on" line\n' + v.log_tail())
        v.admin_port = int(m.group(1))
        v.wait_ready()
        return v

    def dns(self, d, refresh='1s'):
        return '{ dns: { name: %s, resolvers: ["127.0.0.1:%d"], refresh: %s } }' % (
            SRV_NAME, d.port, refresh)

    def metrics(self, v):
        return veertest.http(v.admin_port, 'GET', '/metrics').body.decode()

    def metric(self, v, name):
        m = re.search(r'^%s (\d+)$' % re.escape(name), self.metrics(v), re.M)
        return int(m.group(1)) if m else None

    def errors(self, v):
        return self.metric(v, 'veer_discovery_errors_total{pool="api"}')

    def hits(self, v, n=20):
        """Backend names of N requests (several connections: each worker)."""
        out = []
        for i in range(n):
            r = veertest.http(v.port(), 'GET', '/json?i=%d' % i)
            self.assertEqual(r.status, 200, r)
            out.append(r.header('X-Backend'))
        return out

    def wait_only(self, v, name, timeout=5):
        """Wait until 10 requests in a row reach backend NAME alone."""
        wait_until(lambda: set(self.hits(v, 10)) == {name}, timeout, 0.05,
                   msg=lambda: 'traffic did not move to %s alone: %r\n%s'
                   % (name, self.hits(v, 10), v.log_tail()))

    def wait_log(self, v, pattern, timeout=5):
        return wait_until(lambda: re.search(pattern, v.log()), timeout, 0.02,
                          msg=lambda: 'no log line /%s/ within %ss\n%s'
                          % (pattern, timeout, v.log_tail()))

    # -----------------------------------------------------------------------

    def test_srv_changes_move_traffic_without_a_reload(self):
        b1, b2 = self.backend('b1'), self.backend('b2')
        d = self.dnsmasq()
        d.start(*srv(b1))
        v = self.start(self.dns(d))
        # the first answer is in generation 1: traffic from the start
        self.assertEqual(set(self.hits(v)), {'b1'})
        # a second backend; its target has no glue (--address): veer
        # resolves it with evdns
        d.restart(*srv(b1), '--srv-host=%s,nog.api.test,%d,0,10' % (SRV_NAME, b2.port),
                  '--address=/nog.api.test/127.0.0.1')
        wait_until(lambda: set(self.hits(v)) == {'b1', 'b2'}, 5, 0.05,
                   msg=lambda: 'b2 got no traffic\n' + v.log_tail())
        # the first one goes: no request reaches it any more
        d.restart(*srv(b2, target='nog.api.test'), '--address=/nog.api.test/127.0.0.1')
        self.wait_only(v, 'b2')
        self.wait_log(v, r'discovery: pool api: 1 endpoint from DNS SRV %s \(added: none; '
                      r'removed: 127\.0\.0\.1:%d\)' % (re.escape(SRV_NAME), b1.port))
        self.assertNotIn('reload', re.sub(r'reload: generation \d+ in force', '', v.log()))
        self.assertEqual(self.metric(v, 'veer_config_reloads_total{result="success"}'), 0)
        self.assertEqual(self.errors(v), 0)

    def test_srv_weights_and_priorities(self):
        b1, b2, b3 = self.backend('b1'), self.backend('b2'), self.backend('b3')
        d = self.dnsmasq()
        # b3 is a backup (priority 1): unused while priority 0 has targets
        d.start(*srv(b1, weight=100), *srv(b2, weight=300), *srv(b3, prio=1))
        v = self.start(self.dns(d))
        hits = self.hits(v, 200)
        self.assertEqual(hits.count('b3'), 0, hits)
        # smooth weighted round robin per worker: 1:3 within a few requests
        self.assertTrue(35 <= hits.count('b1') <= 65, hits.count('b1'))

    def test_dns_down_or_empty_keeps_the_last_set(self):
        b1 = self.backend('b1')
        d = self.dnsmasq()
        d.start(*srv(b1))
        v = self.start(self.dns(d))
        self.assertEqual(set(self.hits(v)), {'b1'})
        # the resolver goes away: an error is logged and counted, traffic
        # goes on to the last set
        d.stop()
        self.wait_log(v, r'warn: discovery: pool api: DNS SRV %s: connection refused; '
                      r'keeping the last 1 endpoint' % re.escape(SRV_NAME))
        wait_until(lambda: self.errors(v) >= 1, 3)
        self.assertEqual(set(self.hits(v)), {'b1'})
        # it comes back with no usable record (a "." target: service not
        # available): an empty answer keeps the set too, and says so
        d.start('--srv-host=%s' % SRV_NAME)
        self.wait_log(v, r'warn: discovery: pool api: DNS SRV %s: empty answer \(no usable '
                      r'records\); keeping the last 1 endpoint' % re.escape(SRV_NAME))
        self.assertEqual(set(self.hits(v)), {'b1'})
        # and a name it does not know at all
        before = self.errors(v)
        d.restart('--srv-host=_other._tcp.api.test,x.api.test,1')
        self.wait_log(v, r'DNS SRV %s: no such name; keeping the last 1 endpoint'
                      % re.escape(SRV_NAME))
        wait_until(lambda: self.errors(v) > before, 3)
        self.assertEqual(set(self.hits(v)), {'b1'})
        # records again: back to normal
        d.restart(*srv(b1))
        self.wait_log(v, r'DNS SRV %s answers again' % re.escape(SRV_NAME))
        self.assertEqual(set(self.hits(v)), {'b1'})

    def test_a_records_with_a_port(self):
        """Kubernetes headless services publish A records; the port is
        configured."""
        b1 = self.backend('b1')
        d = self.dnsmasq()
        d.start('--host-record=api.ns.svc.cluster.local,127.0.0.1')
        v = self.start('{ dns: { name: api.ns.svc.cluster.local, type: A, port: %d, '
                       'resolvers: ["127.0.0.1:%d"] } }' % (b1.port, d.port))
        self.assertEqual(set(self.hits(v)), {'b1'})

    def write_endpoints(self, path, text):
        """Write PATH the way consul-template and ConfigMaps do: a new file,
        then an atomic rename over the old one."""
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            f.write(text)
        os.rename(tmp, path)

    def test_endpoint_file(self):
        b1, b2 = self.backend('b1'), self.backend('b2')
        path = os.path.join(self.tmp, 'api.yaml')
        self.write_endpoints(path, '- { address: "%s", weight: 1 }\n' % b1.address)
        v = self.start('{ file: "%s" }' % path)
        self.assertEqual(set(self.hits(v)), {'b1'})
        # an atomic rename is picked up within about a second
        t0 = time.monotonic()
        self.write_endpoints(path, '- { address: "%s" }\n' % b2.address)
        self.wait_only(v, 'b2', timeout=4)
        self.assertLess(time.monotonic() - t0, 2.5)
        # a broken file keeps the last set; the log says where
        self.write_endpoints(path, '- { address: "%s" }\n- { adress: "%s" }\n'
                             % (b2.address, b1.address))
        self.wait_log(v, r'error: discovery: pool api: %s:2:5: \[1\]: unknown key "adress" '
                      r'\(known keys: address, weight\)' % re.escape(path))
        self.wait_log(v, r'file %s: broken file; keeping the last 1 endpoint' % re.escape(path))
        self.assertEqual(self.errors(v), 1)
        self.assertEqual(set(self.hits(v)), {'b2'})
        # an empty list is refused the same way (never an empty pool)
        self.write_endpoints(path, '[]\n')
        self.wait_log(v, r'no endpoints in the file; keeping the last 1 endpoint')
        self.assertEqual(set(self.hits(v)), {'b2'})
        # fixed: both
        self.write_endpoints(path, '- { address: "%s" }\n- { address: "%s" }\n'
                             % (b2.address, b1.address))
        wait_until(lambda: set(self.hits(v)) == {'b1', 'b2'}, 4, 0.05)
        self.assertEqual(self.metric(v, 'veer_config_reloads_total{result="success"}'), 0)

    def test_reload_keeps_discovered_endpoints(self):
        """A reload that keeps the discovery settings keeps the set: the new
        generation has the endpoints at once."""
        b1 = self.backend('b1')
        d = self.dnsmasq()
        d.start(*srv(b1))
        v = self.start(self.dns(d, refresh='1h'))
        self.assertEqual(set(self.hits(v)), {'b1'})
        d.stop()  # the next answer would fail; the set must not need one
        res = v.reload(config(self.dns(d, refresh='1h')).replace('max_idle: 8', 'max_idle: 9'))
        self.assertTrue(res.ok, res)
        self.assertEqual(set(self.hits(v)), {'b1'})


if __name__ == '__main__':
    veertest.main()
