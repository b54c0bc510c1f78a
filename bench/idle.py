#!/usr/bin/env python3
"""bench/idle.py: what an idle keep-alive client connection costs in memory,
veer beside HAProxy and nginx.

    python3 bench/idle.py                      # 10,000 connections, or what the fd limit allows
    python3 bench/idle.py --conns 5000 --proxies veer,haproxy

Each proxy (one worker, one thread) is started alone in front of a small
backend.  The script raises its open-file limit to the hard limit (the
proxies inherit it), opens the connections one by one, sends one request on
each and reads the answer (so every connection has been used and now waits
in keep-alive), and reads the proxy's VmRSS from /proc/PID/status: once
before the first connection, at half the connections and at all of them.
It prints, per proxy, the growth per connection over all of them and over
the second half (the steadier figure: allocator warm-up is behind it).

Python 3 standard library only; needs haproxy and nginx on PATH (scripts/deps)
and a built veer (--veer, default $VEER or build/veer).  Linux only (/proc).
"""

import argparse
import os
import re
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

REQUEST = b'GET /idle HTTP/1.1\r\nHost: bench\r\n\r\n'
BODY = b'ok\n'
RESPONSE = b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n' + BODY
# Descriptors the script needs besides the client connections.
FD_SLACK = 200


class Backend:
    """One thread, selectors: answers every request head on a connection
    with RESPONSE and keeps the connection open."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(512)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            for key, _ in self.sel.select(0.1):
                if key.data is None:
                    try:
                        s, _ = self.lsock.accept()
                    except OSError:
                        continue
                    s.setblocking(False)
                    self.sel.register(s, selectors.EVENT_READ, bytearray())
                    continue
                s, buf = key.fileobj, key.data
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b''
                if not data:
                    self.sel.unregister(s)
                    s.close()
                    continue
                buf += data
                while True:
                    i = buf.find(b'\r\n\r\n')
                    if i < 0:
                        break
                    del buf[:i + 4]
                    s.sendall(RESPONSE)

    def close(self):
        self.stopping = True
        self.thread.join(2)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
        return True
    except OSError:
        return False


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS for pid %d' % pid)


def haproxy_conf(tmp, port, backend, conns):
    return ('global\n'
            '\tnbthread 1\n'
            '\tmaxconn %d\n'
            'defaults\n'
            '\tmode http\n'
            '\toption http-keep-alive\n'
            '\thttp-reuse always\n'
            '\ttimeout connect 2s\n'
            '\ttimeout client 300s\n'
            '\ttimeout server 30s\n'
            '\ttimeout http-request 10s\n'
            '\ttimeout http-keep-alive 300s\n'
            'frontend idle\n'
            '\tbind 127.0.0.1:%d\n'
            '\tdefault_backend backend\n'
            'backend backend\n'
            '\tserver b1 127.0.0.1:%d\n') % (haproxy_maxconn(conns), port, backend)


def haproxy_maxconn(conns):
    """HAProxy reserves two descriptors per connection (client and server
    side) plus 14, and refuses to start when the open-file limit is lower:
    the most it can take under our limit."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return min(conns + 50, (soft - 14) // 2)


def max_conns(name, conns):
    """How many connections NAME can hold: HAProxy's maxconn bounds it."""
    return min(conns, haproxy_maxconn(conns) - 20) if name == 'haproxy' else conns


def nginx_conf(tmp, port, backend, conns):
    v = subprocess.run(['nginx', '-V'], stderr=subprocess.PIPE, text=True).stderr
    temps = ['client_body_temp_path %s/body;' % tmp, 'proxy_temp_path %s/proxy;' % tmp]
    for mod in ('fastcgi', 'uwsgi', 'scgi'):
        if '--without-http_%s_module' % mod not in v:
            temps.append('%s_temp_path %s/%s;' % (mod, tmp, mod))
    return ('daemon off;\n'
            'master_process off;\n'
            'worker_processes 1;\n'
            'worker_rlimit_nofile %d;\n'
            'pid %s/nginx.pid;\n'
            'error_log %s/error.log warn;\n'
            'events { worker_connections %d; }\n'
            'http {\n'
            '  access_log off;\n'
            '  %s\n'
            '  keepalive_timeout 300s;\n'
            '  upstream backend { server 127.0.0.1:%d; keepalive 16; }\n'
            '  server {\n'
            '    listen 127.0.0.1:%d backlog=4096;\n'
            '    location / {\n'
            '      proxy_pass http://backend;\n'
            '      proxy_http_version 1.1;\n'
            '      proxy_set_header Connection "";\n'
            '    }\n'
            '  }\n'
            '}\n') % (conns + 1000, tmp, tmp, conns + 1000, '\n  '.join(temps), backend, port)


def veer_conf(tmp, port, backend, conns):
    return ('global:\n'
            '  workers: 1\n'
            '  max_connections: %d\n'
            '  log: { level: warn }\n'
            'listeners:\n'
            '  - name: idle\n'
            '    listen: "127.0.0.1:%d"\n'
            '    timeouts: { idle: 300s }\n'
            'pools:\n'
            '  - name: backend\n'
            '    servers: [ { address: "127.0.0.1:%d" } ]\n'
            '    keepalive: { max_idle: 16 }\n'
            'routes:\n'
            '  - { name: all, match: { path_prefix: / }, pool: backend }\n'
            ) % (conns + 1000, port, backend)


def version(name, veer):
    if name == 'haproxy':
        out = subprocess.run(['haproxy', '-v'], stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r'version (\S+)', out)
        return 'HAProxy ' + (m.group(1).split('-')[0] if m else '?')
    if name == 'nginx':
        out = subprocess.run(['nginx', '-v'], stderr=subprocess.PIPE, text=True).stderr
        m = re.search(r'nginx/(\S+)', out)
        return 'nginx ' + (m.group(1) if m else '?')
    out = subprocess.run([veer, '--version'], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True).stdout
    m = re.search(r'(\d+\.\d+\.\d+\S*)', out)
    return 'veer ' + (m.group(1) if m else '?')


def start(name, tmp, backend, conns, veer):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    port = free_port()
    if name == 'haproxy':
        path = os.path.join(d, 'haproxy.cfg')
        text = haproxy_conf(d, port, backend, conns)
        cmd = ['haproxy', '-db', '-f', path]
    elif name == 'nginx':
        path = os.path.join(d, 'nginx.conf')
        text = nginx_conf(d, port, backend, conns)
        cmd = ['nginx', '-p', d + '/', '-e', os.path.join(d, 'error.log'), '-c', path]
    else:
        path = os.path.join(d, 'veer.yaml')
        text = veer_conf(d, port, backend, conns)
        cmd = [veer, '-c', path]
    with open(path, 'w') as f:
        f.write(text)
    log = open(os.path.join(d, 'log'), 'wb')
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            cwd=d)
    log.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if port_open(port):
            return proc, port
        time.sleep(0.05)
    stop(proc)
    with open(os.path.join(d, 'log'), 'rb') as f:
        raise RuntimeError('%s did not start:\n%s' % (name, f.read().decode('utf-8', 'replace')))


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def use_one(port):
    """A new connection with one request answered; the open socket."""
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    s.sendall(REQUEST)
    got = b''
    while not got.endswith(BODY) or b'\r\n\r\n' not in got:
        data = s.recv(4096)
        if not data:
            s.close()
            raise RuntimeError('connection closed before the answer: %r' % got)
        got += data
    if not got.startswith(b'HTTP/1.1 200'):
        s.close()
        raise RuntimeError('unexpected answer: %r' % got[:200])
    return s


def settled_rss(pid):
    """VmRSS once it stopped moving (the proxy finished its work)."""
    last = rss_kib(pid)
    for _ in range(20):
        time.sleep(0.25)
        now = rss_kib(pid)
        if now == last:
            return now
        last = now
    return last


def measure(name, tmp, conns, veer):
    conns = max_conns(name, conns)
    backend = Backend()
    proc, port = start(name, tmp, backend.port, conns, veer)
    socks = []
    try:
        use_one(port).close()  # one request first: pools and buffers exist
        time.sleep(0.5)
        before = settled_rss(proc.pid)
        half = None
        t0 = time.monotonic()
        for i in range(conns):
            socks.append(use_one(port))
            if i + 1 == conns // 2:
                half = settled_rss(proc.pid)
        after = settled_rss(proc.pid)
        elapsed = time.monotonic() - t0
        if proc.poll() is not None:
            raise RuntimeError('%s exited during the run' % name)
        return conns, before, half, after, elapsed
    finally:
        for s in socks:
            s.close()
        stop(proc)
        backend.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--conns', type=int, default=10000)
    ap.add_argument('--proxies', default='veer,haproxy,nginx')
    ap.add_argument('--veer', default=os.environ.get('VEER') or os.path.join(REPO, 'build', 'veer'))
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    conns = args.conns
    # The client sockets live in this process; each proxy has its own limit
    # (inherited: the same) for the client side plus a few upstream ones.
    limit = soft - FD_SLACK
    if conns > limit:
        print('note: open-file limit %d: %d connections instead of %d' % (soft, limit, conns),
              file=sys.stderr)
        conns = limit
    names = [n.strip() for n in args.proxies.split(',') if n.strip()]
    for n in names:
        exe = args.veer if n == 'veer' else n
        if n not in ('veer', 'haproxy', 'nginx'):
            ap.error('unknown proxy %r' % n)
        if shutil.which(exe) is None and not os.access(exe, os.X_OK):
            ap.error('%s not found (%s)' % (n, exe))

    tmp = tempfile.mkdtemp(prefix='veer-idle-')
    rows = []
    try:
        for n in names:
            try:
                m = measure(n, tmp, conns, args.veer)
            except Exception as e:  # reported, the other proxies go on
                rows.append((version(n, args.veer), None, str(e)))
                continue
            rows.append((version(n, args.veer), m, None))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print('# Idle keep-alive connections, up to %d per proxy (open-file limit %d)'
          % (conns, soft))
    print()
    print('| proxy | connections | RSS before | RSS at half | RSS at all | bytes/conn (all) | '
          'bytes/conn (2nd half) | setup time |')
    print('|---|---|---|---|---|---|---|---|')
    for name, m, err in rows:
        if m is None:
            print('| %s | failed: %s | | | | | | |' % (name, err.splitlines()[0] if err else '?'))
            continue
        n, before, half, after, elapsed = m
        all_b = (after - before) * 1024 / n
        second = (after - half) * 1024 / (n - n // 2)
        print('| %s | %d | %.1f MiB | %.1f MiB | %.1f MiB | %.0f | %.0f | %.1f s |' % (
            name, n, before / 1024, half / 1024, after / 1024, all_b, second, elapsed))
    if any(m is not None and m[0] < conns for _, m, _ in rows):
        print()
        print('HAProxy needs two descriptors per connection (it reserves the server side) and '
              'refuses a maxconn the open-file limit cannot cover: it holds fewer.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
