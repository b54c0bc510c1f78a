"""veertest: the harness shared by veer's integration tests.

Python 3 standard library only.  Everything here is real: the veer binary
($VEER_BIN) runs as a child process with a YAML file written to a temporary
directory, backends are real HTTP/1.1 servers on 127.0.0.1 (OS-chosen ports)
served by threads of the test process, and clients are raw sockets, curl or
http.client.

Rules the tests follow:
- no blind sleeps: wait for a condition with wait_until() and a deadline;
- every blocking socket has a timeout, so a wrong veer fails a test, never
  hangs it;
- a veer that does not exit 0 after SIGTERM fails the test that started it.

Backend paths (Backend below; the query string adds options to any path):

  /json (or anything unlisted)  200, JSON {"backend", "method", "target", "path",
                                "version", "headers", "body_len", "conn", "index"}
  /echo                         200, the request body echoed back
  /bytes/N                      200, N bytes of pattern_bytes() streamed, never
                                held in memory
  /sink                         reads the body without keeping it, answers JSON
                                {"len", "sha256"}; ?stall=MS waits MS before
                                reading the body (back-pressure tests)
  /status/N                     status N (204/304/1xx-free: no body);
                                ?length=L on a 204 or 304: Content-Length: L
                                and still no body
  /hop                          200 with hop-by-hop headers in the response
  /hang                         reads the request, never answers
  /abort/headers                sends half a response head, then closes
  /abort/body                   sends a head announcing 100000 bytes, 1000 of
                                them, then closes
  /ws (Upgrade: websocket)      RFC 6455 handshake, then echoes every frame

  ?delay=MS     wait before the response head
  ?chunked=1    chunked response
  ?close=1      close-delimited response (no Content-Length, Connection: close)
  ?slow=MS      pause MS between body pieces (?piece=BYTES, default 16384)
  ?status=N     response status
  ?drop_next=1  after this response, read the next request on the same
                connection and close it without answering (a keep-alive
                connection that dies on reuse)

Every request is recorded (Backend.requests): method, target, headers in
order as raw (name, value) pairs, body, framing, peer port of the connection
and its index on that connection.  Any request with Upgrade: websocket is
answered with the WebSocket handshake whatever its path.
"""

import atexit
import base64
import hashlib
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# $VEER_TIMEOUT_MULTIPLIER scales the bounds below (and the reload wait):
# for a veer that runs much slower than usual, e.g. under valgrind.
TIMEOUT_MULTIPLIER = float(os.environ.get('VEER_TIMEOUT_MULTIPLIER') or 1)

# Bound on any single blocking socket operation in tests.
IO_TIMEOUT = 10.0 * TIMEOUT_MULTIPLIER
STARTUP_TIMEOUT = 10.0 * TIMEOUT_MULTIPLIER
STOP_TIMEOUT = 10.0 * TIMEOUT_MULTIPLIER

LISTENER_RE = re.compile(r'listener (\S+) on (\S+):(\d+)')

WS_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

HOP_BY_HOP = ('connection', 'keep-alive', 'proxy-connection', 'te', 'trailer',
              'transfer-encoding', 'upgrade')


def veer_bin():
    """Path of the binary under test: $VEER_BIN, else build/veer."""
    path = os.environ.get('VEER_BIN') or os.path.join(REPO, 'build', 'veer')
    if not os.access(path, os.X_OK):
        raise RuntimeError('veer binary not found or not executable: %s '
                           '(set VEER_BIN)' % path)
    return path


def veer_command(*args):
    """The command line that starts veer with ARGS: $VEER_BIN, prefixed by
    the words of $VEER_WRAPPER when set (e.g. "valgrind --error-exitcode=99
    ..."; .ci/run's valgrind pass).  The wrapper must keep veer's pid (valgrind
    does), since tests signal it."""
    return shlex.split(os.environ.get('VEER_WRAPPER', '')) + [veer_bin(), *args]


def wait_until(pred, timeout=5.0, interval=0.01, msg=None):
    """Poll PRED until it returns a true value (returned) or TIMEOUT seconds
    pass (AssertionError with MSG, which may be a callable)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            if callable(msg):
                msg = msg()
            raise AssertionError(msg or 'condition not met within %.1fs' % timeout)
        time.sleep(interval)


def clean_env(extra=None):
    """The environment for child processes: no proxy variables (curl would
    obey them), plus EXTRA."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy',
                                'no_proxy', 'ftp_proxy')}
    if extra:
        env.update(extra)
    return env


# ---------------------------------------------------------------------------
# Deterministic payloads

# A period that is prime and not a power of two, so lost, duplicated or
# reordered buffers of any usual size change the hash.
PATTERN_PERIOD = 65521
_PATTERN = bytes(((i * 131) ^ (i >> 7) ^ (i >> 13) ^ 0x5A) & 0xFF
                 for i in range(PATTERN_PERIOD))
_PIECE = 256 * 1024
_BIG = _PATTERN * (_PIECE // PATTERN_PERIOD + 2)
_sha_cache = {}


def pattern_pieces(n, piece=_PIECE):
    """Yield memoryviews that together are the first N bytes of the pattern."""
    piece = min(piece, _PIECE)
    big = memoryview(_BIG)
    off = 0
    while off < n:
        m = min(piece, n - off)
        s = off % PATTERN_PERIOD
        yield big[s:s + m]
        off += m


def pattern_bytes(n):
    return b''.join(bytes(p) for p in pattern_pieces(n))


def pattern_sha256(n):
    """sha256 hex digest of pattern_bytes(N), computed once per N."""
    if n not in _sha_cache:
        h = hashlib.sha256()
        for p in pattern_pieces(n):
            h.update(p)
        _sha_cache[n] = h.hexdigest()
    return _sha_cache[n]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# HTTP/1.1 parsing shared by the backends and the clients

class ProtocolError(Exception):
    pass


def header_get(headers, name, default=None):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return default


def header_all(headers, name):
    name = name.lower()
    return [v for k, v in headers if k.lower() == name]


def header_tokens(headers, name):
    """Comma-separated tokens of every NAME header, lower-cased."""
    out = []
    for v in header_all(headers, name):
        out += [t.strip().lower() for t in v.split(',') if t.strip()]
    return out


class Stream:
    """A socket with a read buffer.  Lines must end in CRLF (strict=True)."""

    def __init__(self, sock, strict=True):
        self.sock = sock
        self.buf = bytearray()
        self.strict = strict

    def _fill(self, n=65536):
        data = self.sock.recv(max(n, 65536))
        if not data:
            return False
        self.buf += data
        return True

    def read_line(self, limit=1 << 20):
        """One line without its CRLF; None on EOF before any byte."""
        start = 0
        while True:
            i = self.buf.find(b'\n', start)
            if i >= 0:
                break
            start = len(self.buf)
            if len(self.buf) > limit:
                raise ProtocolError('line longer than %d bytes' % limit)
            if not self._fill():
                if not self.buf:
                    return None
                raise ProtocolError('EOF in the middle of a line: %r' % bytes(self.buf[:200]))
        line = bytes(self.buf[:i + 1])
        del self.buf[:i + 1]
        if line.endswith(b'\r\n'):
            return line[:-2]
        if self.strict:
            raise ProtocolError('bare LF line ending: %r' % line[:200])
        return line[:-1]

    def read_head(self):
        """First line and header list, or (None, None) on EOF at a message
        boundary."""
        first = self.read_line()
        if first is None:
            return None, None
        headers = []
        while True:
            line = self.read_line()
            if line is None:
                raise ProtocolError('EOF inside a header block')
            if line == b'':
                break
            if line[:1] in (b' ', b'\t'):
                raise ProtocolError('obs-fold in header block: %r' % line)
            name, sep, value = line.partition(b':')
            if not sep or not name or name != name.strip():
                raise ProtocolError('bad header line: %r' % line)
            headers.append((name.decode('latin-1'),
                            value.strip(b' \t').decode('latin-1')))
        return first.decode('latin-1'), headers

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill(n - len(self.buf)):
                raise ProtocolError('EOF after %d of %d bytes' % (len(self.buf), n))
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def stream(self, n, sink, bufsize=1 << 20):
        """Pass the next N bytes to SINK without holding them all."""
        got = 0
        if self.buf:
            take = min(n, len(self.buf))
            sink(bytes(self.buf[:take]))
            del self.buf[:take]
            got = take
        while got < n:
            data = self.sock.recv(min(bufsize, n - got))
            if not data:
                raise ProtocolError('EOF after %d of %d body bytes' % (got, n))
            sink(data)
            got += len(data)

    def stream_to_eof(self, sink, bufsize=1 << 20):
        if self.buf:
            sink(bytes(self.buf))
            self.buf.clear()
        while True:
            data = self.sock.recv(bufsize)
            if not data:
                return
            sink(data)

    def stream_chunked(self, sink):
        """Decode a chunked body into SINK; returns the trailer list and the
        raw chunk-size lines (extensions included)."""
        sizes = []
        while True:
            line = self.read_line()
            if line is None:
                raise ProtocolError('EOF before chunk size')
            sizes.append(line)
            size_txt = line.split(b';', 1)[0].strip()
            if not size_txt or not re.fullmatch(rb'[0-9a-fA-F]+', size_txt):
                raise ProtocolError('bad chunk size line: %r' % line)
            size = int(size_txt, 16)
            if size == 0:
                break
            self.stream(size, sink)
            if self.read_exact(2) != b'\r\n':
                raise ProtocolError('chunk data not followed by CRLF')
        trailers = []
        while True:
            line = self.read_line()
            if line is None:
                raise ProtocolError('EOF in trailers')
            if line == b'':
                break
            name, _, value = line.partition(b':')
            trailers.append((name.decode('latin-1'), value.strip().decode('latin-1')))
        return trailers, sizes


def body_framing(headers, is_request):
    """('chunked'|'length'|'close'|'none', content_length) for a message with
    HEADERS (RFC 9112 section 6.3)."""
    te = header_tokens(headers, 'transfer-encoding')
    if te:
        if te[-1] != 'chunked':
            if is_request:
                raise ProtocolError('request Transfer-Encoding without final chunked')
            return 'close', None
        return 'chunked', None
    cls = header_all(headers, 'content-length')
    if cls:
        vals = set(v.strip() for v in cls)
        if len(vals) != 1 or not next(iter(vals)).isdigit():
            raise ProtocolError('bad Content-Length: %r' % cls)
        return 'length', int(next(iter(vals)))
    return ('none', 0) if is_request else ('close', None)


# ---------------------------------------------------------------------------
# Responses as clients see them

class Response:
    """A parsed response.  headers keeps order and case as received."""

    def __init__(self, version, status, reason, headers):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = b''
        self.body_len = 0
        self.framing = 'none'
        self.trailers = []
        self.interim = []  # 1xx responses that came before this one

    def header(self, name, default=None):
        return header_get(self.headers, name, default)

    def header_all(self, name):
        return header_all(self.headers, name)

    def has(self, name):
        return header_get(self.headers, name) is not None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return '<Response %s %d %s headers=%r body=%r>' % (
            self.version, self.status, self.reason, self.headers, self.body[:300])


def read_response(stream, method='GET', sink=None, keep_interim=False):
    """Read one response from STREAM.  1xx responses (other than 101) are
    collected in .interim unless KEEP_INTERIM, when the first is returned.
    With SINK the body is passed to it and not stored (body_len counts it)."""
    interim = []
    while True:
        first, headers = stream.read_head()
        if first is None:
            raise ProtocolError('connection closed before a response')
        parts = first.split(' ', 2)
        if len(parts) < 2 or not parts[0].startswith('HTTP/') or not parts[1].isdigit() \
                or len(parts[1]) != 3:
            raise ProtocolError('bad status line: %r' % first)
        resp = Response(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else '', headers)
        if 100 <= resp.status < 200 and resp.status != 101 and not keep_interim:
            interim.append(resp)
            continue
        break
    resp.interim = interim
    if method == 'HEAD' or resp.status in (204, 304) or 100 <= resp.status < 200:
        return resp
    framing, length = body_framing(headers, is_request=False)
    resp.framing = framing
    parts = []

    def collect(data):
        resp.body_len += len(data)
        if sink is not None:
            sink(data)
        else:
            parts.append(data)

    if framing == 'chunked':
        resp.trailers, _ = stream.stream_chunked(collect)
    elif framing == 'length':
        stream.stream(length, collect)
    else:
        stream.stream_to_eof(collect)
    if sink is None:
        resp.body = b''.join(parts)
    return resp


def build_request(method='GET', target='/', headers=None, body=None,
                  version='HTTP/1.1', host='test', chunked=False, chunk_size=None):
    """Bytes of one request.  HEADERS is a list of (name, value) pairs sent in
    order after Host (host=None sends no Host).  A BODY gets Content-Length
    unless CHUNKED or the headers already frame it."""
    lines = ['%s %s %s' % (method, target, version)]
    hdrs = list(headers or [])
    if host is not None and header_get(hdrs, 'host') is None:
        hdrs.insert(0, ('Host', host))
    if isinstance(body, str):
        body = body.encode()
    payload = b''
    if chunked:
        if header_get(hdrs, 'transfer-encoding') is None:
            hdrs.append(('Transfer-Encoding', 'chunked'))
        payload = chunk_encode(body or b'', chunk_size or 8192)
    elif body is not None:
        if header_get(hdrs, 'content-length') is None and \
                header_get(hdrs, 'transfer-encoding') is None:
            hdrs.append(('Content-Length', str(len(body))))
        payload = body
    for k, v in hdrs:
        lines.append('%s: %s' % (k, v))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + payload


def chunk_encode(body, chunk_size=8192, trailers=None):
    out = []
    for i in range(0, len(body), chunk_size):
        piece = body[i:i + chunk_size]
        out.append(b'%x\r\n' % len(piece) + piece + b'\r\n')
    out.append(b'0\r\n')
    for k, v in trailers or []:
        out.append(('%s: %s\r\n' % (k, v)).encode())
    out.append(b'\r\n')
    return b''.join(out)


class Client:
    """A raw-socket HTTP client on one connection."""

    def __init__(self, port, host='127.0.0.1', timeout=IO_TIMEOUT, connect=True):
        self.port = port
        self.host = host
        self.timeout = timeout
        self.sock = None
        self.stream = None
        if connect:
            self.connect()

    def connect(self):
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = Stream(self.sock)
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def settimeout(self, t):
        self.sock.settimeout(t)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode('latin-1')
        self.sock.sendall(data)

    def read_response(self, method='GET', sink=None, keep_interim=False):
        return read_response(self.stream, method, sink=sink, keep_interim=keep_interim)

    def read_responses(self, n, methods=None):
        methods = methods or ['GET'] * n
        return [self.read_response(m) for m in methods]

    def request(self, method='GET', target='/', headers=None, body=None, **kw):
        self.send(build_request(method, target, headers, body, **kw))
        return self.read_response(method)

    def get(self, target='/', headers=None, **kw):
        return self.request('GET', target, headers, **kw)

    def wait_closed(self, timeout=3.0):
        """True when the peer closes (EOF or reset) within TIMEOUT seconds
        and sends nothing more; raises AssertionError if bytes arrive; False
        when the connection is still open at the deadline."""
        deadline = time.monotonic() + timeout
        if self.stream.buf:
            raise AssertionError('unexpected bytes before close: %r' % bytes(self.stream.buf[:300]))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return True
            except OSError:
                return True
            if not data:
                return True
            raise AssertionError('unexpected bytes instead of close: %r' % data[:300])

    def readable_within(self, timeout):
        """True when data or EOF arrives within TIMEOUT seconds."""
        if self.stream.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)


def http(port, method='GET', target='/', headers=None, body=None, timeout=IO_TIMEOUT, **kw):
    """One request on a new connection; returns the Response."""
    with Client(port, timeout=timeout) as c:
        return c.request(method, target, headers, body, **kw)


# ---------------------------------------------------------------------------
# WebSocket frames (RFC 6455 section 5)

def ws_frame(opcode, payload, mask=True, fin=True):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + n.to_bytes(2, 'big')
    else:
        head = bytes([b0, mbit | 127]) + n.to_bytes(8, 'big')
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload)) if n < 4096 else \
        _xor_mask(payload, key)
    return head + key + masked


def _xor_mask(payload, key):
    n = len(payload)
    k = int.from_bytes((key * ((n + 3) // 4))[:n], 'big')
    return (int.from_bytes(payload, 'big') ^ k).to_bytes(n, 'big')


def ws_read_frame(stream):
    """(fin, opcode, payload, was_masked) of the next frame."""
    b0, b1 = stream.read_exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(stream.read_exact(2), 'big')
    elif n == 127:
        n = int.from_bytes(stream.read_exact(8), 'big')
    masked = bool(b1 & 0x80)
    key = stream.read_exact(4) if masked else None
    payload = stream.read_exact(n)
    if masked and n:
        payload = _xor_mask(payload, key)
    return bool(b0 & 0x80), b0 & 0x0F, payload, masked


def ws_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def ws_handshake(client, target='/ws', host='test', extra=None):
    """Send an RFC 6455 opening handshake on CLIENT; returns (response, key)."""
    key = base64.b64encode(os.urandom(16)).decode()
    headers = [('Upgrade', 'websocket'), ('Connection', 'Upgrade'),
               ('Sec-WebSocket-Key', key), ('Sec-WebSocket-Version', '13')]
    headers += extra or []
    client.send(build_request('GET', target, headers, host=host))
    return client.read_response('GET'), key


# ---------------------------------------------------------------------------
# Backends

class Request:
    """A request as a backend received it."""

    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        u = urlsplit(target)
        self.path = u.path
        self.query = {k: v[-1] for k, v in parse_qs(u.query).items()}
        self.body = b''
        self.body_len = 0
        self.body_sha256 = None
        self.framing = 'none'
        self.trailers = []
        self.chunk_lines = []
        self.conn = None    # peer port of the connection it came on
        self.index = 0      # 0 for the first request on that connection
        self.backend = None
        self.complete = threading.Event()  # set when the body was read

    def header(self, name, default=None):
        return header_get(self.headers, name, default)

    def header_all(self, name):
        return header_all(self.headers, name)

    def has(self, name):
        return header_get(self.headers, name) is not None

    def names(self):
        return [k.lower() for k, _ in self.headers]

    def __repr__(self):
        return '<Request %s %s %s headers=%r body_len=%d conn=%s>' % (
            self.method, self.target, self.version, self.headers, self.body_len, self.conn)


class Backend:
    """A threaded HTTP/1.1 origin server on 127.0.0.1 that records every
    request.  Use as a context manager or start()/stop()."""

    def __init__(self, name='backend', expect_continue=True):
        self.name = name
        self.expect_continue = expect_continue
        self.requests = []
        self.connections = []  # peer port of each accepted connection
        self.ws_frames = []    # (opcode, payload, was_masked) received
        self.errors = []       # protocol errors seen while parsing requests
        self.handlers = {}     # path prefix -> fn(backend, sock, stream, req) -> keep?
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._socks = set()
        self._threads = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(256)
        self.port = self.lsock.getsockname()[1]
        self.address = '127.0.0.1:%d' % self.port

    # lifecycle -------------------------------------------------------------
    def start(self):
        t = threading.Thread(target=self._accept_loop, name='backend-%s' % self.name, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self.stopping.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(2.0)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # queries ---------------------------------------------------------------
    def received(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_requests(self, n, path=None, timeout=5.0):
        return wait_until(lambda: len(self.received(path)) >= n and self.received(path),
                          timeout, msg=lambda: 'backend %s: %d requests for %s, wanted %d' % (
                              self.name, len(self.received(path)), path, n))

    def upstream_connections(self):
        """Distinct connections that carried requests."""
        with self.lock:
            return sorted(set(r.conn for r in self.requests))

    # serving ---------------------------------------------------------------
    def _accept_loop(self):
        self.lsock.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                sock, peer = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.connections.append(peer[1])
                self._socks.add(sock)
            t = threading.Thread(target=self._serve, args=(sock, peer[1]), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, sock, peer_port):
        stream = Stream(sock)
        index = 0
        drop_next = False
        try:
            while not self.stopping.is_set():
                first, headers = stream.read_head()
                if first is None:
                    break
                parts = first.split(' ')
                if len(parts) != 3 or not parts[2].startswith('HTTP/1.'):
                    raise ProtocolError('bad request line %r' % first)
                req = Request(parts[0], parts[1], parts[2], headers)
                req.conn, req.index, req.backend = peer_port, index, self.name
                index += 1
                with self.lock:
                    self.requests.append(req)
                if drop_next:
                    self._read_body(sock, stream, req)
                    break
                if 'websocket' in header_tokens(headers, 'upgrade'):
                    req.complete.set()
                    self._websocket(sock, stream, req)
                    break
                keep = self._dispatch(sock, stream, req)
                if req.query.get('drop_next'):
                    drop_next = True
                if not keep:
                    break
        except (ProtocolError, ValueError) as e:
            with self.lock:
                self.errors.append(repr(e))
        except OSError:
            pass
        finally:
            with self.lock:
                self._socks.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def _read_body(self, sock, stream, req, keep_body=True, sink=None):
        framing, length = body_framing(req.headers, is_request=True)
        req.framing = framing
        h = hashlib.sha256()
        parts = []

        def collect(data):
            req.body_len += len(data)
            h.update(data)
            if sink:
                sink(data)
            if keep_body:
                parts.append(data)

        if framing != 'none' and self.expect_continue and \
                '100-continue' in header_tokens(req.headers, 'expect'):
            sock.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
        if framing == 'chunked':
            req.trailers, req.chunk_lines = stream.stream_chunked(collect)
        elif framing == 'length':
            stream.stream(length, collect)
        req.body = b''.join(parts)
        req.body_sha256 = h.hexdigest()
        req.complete.set()

    def _wants_close(self, req):
        conn = header_tokens(req.headers, 'connection')
        if 'close' in conn:
            return True
        return req.version == 'HTTP/1.0' and 'keep-alive' not in conn

    def respond(self, sock, req, status=200, headers=None, body=b'', length=None,
                mode=None):
        """Send a response.  BODY is bytes or an iterable of byte pieces (then
        LENGTH gives its size for Content-Length).  MODE: 'length' (default),
        'chunked' or 'close'; the query options chunked/close/slow/delay/status
        of the request apply.  Returns whether the connection stays open."""
        q = req.query
        if 'status' in q:
            status = int(q['status'])
        if mode is None:
            mode = 'chunked' if q.get('chunked') else 'close' if q.get('close') else 'length'
        if 'delay' in q:
            if self.stopping.wait(int(q['delay']) / 1000.0):
                return False
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, (bytes, bytearray, memoryview)):
            length = len(body)
            piece = int(q.get('piece', 16384)) if 'slow' in q else max(len(body), 1)
            body = [body[i:i + piece] for i in range(0, len(body), piece)]
        keep = not self._wants_close(req) and mode != 'close'
        no_body = req.method == 'HEAD' or status in (204, 304)
        hdrs = [('X-Backend', self.name)] + list(headers or [])
        if status not in (204, 304):
            if mode == 'length':
                hdrs.append(('Content-Length', str(length)))
            elif mode == 'chunked':
                hdrs.append(('Transfer-Encoding', 'chunked'))
        if not keep:
            hdrs.append(('Connection', 'close'))
        head = 'HTTP/1.1 %d %s\r\n' % (status, REASONS.get(status, 'Status'))
        head += ''.join('%s: %s\r\n' % kv for kv in hdrs) + '\r\n'
        sock.sendall(head.encode('latin-1'))
        if no_body:
            return keep
        slow = int(q['slow']) / 1000.0 if 'slow' in q else 0
        first = True
        for p in body:
            if slow and not first:
                if self.stopping.wait(slow):
                    return False
            first = False
            if mode == 'chunked':
                if len(p):
                    sock.sendall(b'%x\r\n' % len(p))
                    sock.sendall(p)
                    sock.sendall(b'\r\n')
            else:
                sock.sendall(p)
        if mode == 'chunked':
            sock.sendall(b'0\r\n\r\n')
        return keep

    def _dispatch(self, sock, stream, req):
        path = req.path
        for prefix, fn in self.handlers.items():
            if path.startswith(prefix):
                return fn(self, sock, stream, req)
        if path.startswith('/sink'):
            if 'stall' in req.query:
                if self.stopping.wait(int(req.query['stall']) / 1000.0):
                    return False
            self._read_body(sock, stream, req, keep_body=False)
            return self.respond(sock, req, 200, [('Content-Type', 'application/json')],
                                json.dumps({'len': req.body_len, 'sha256': req.body_sha256}))
        self._read_body(sock, stream, req)
        if path == '/hang':
            self.stopping.wait()
            return False
        if path == '/abort/headers':
            sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: text/pl')
            return False
        if path == '/abort/body':
            sock.sendall(b'HTTP/1.1 200 OK\r\nX-Backend: %s\r\nContent-Length: 100000\r\n\r\n'
                         % self.name.encode())
            sock.sendall(pattern_bytes(1000))
            return False
        if path.startswith('/bytes/'):
            n = int(path[len('/bytes/'):])
            piece = int(req.query.get('piece', _PIECE))
            return self.respond(sock, req, 200, [('Content-Type', 'application/octet-stream')],
                                pattern_pieces(n, piece), length=n)
        if path.startswith('/echo'):
            ct = req.header('Content-Type', 'application/octet-stream')
            return self.respond(sock, req, 200, [('Content-Type', ct)], req.body)
        if path.startswith('/status/'):
            status = int(path[len('/status/'):])
            if 'length' in req.query and status in (204, 304):
                # The length of the representation, without a body (RFC
                # 9110 §8.6 allows it on a 304)
                sock.sendall(b'HTTP/1.1 %d %s\r\nX-Backend: %s\r\nContent-Length: %s\r\n\r\n'
                             % (status, REASONS[status].encode(), self.name.encode(),
                                req.query['length'].encode()))
                return True
            return self.respond(sock, req, status, [], b'' if status in (204, 304)
                                else ('status %d\n' % status))
        if path == '/hop':
            hop = [('Connection', 'X-Hop'), ('X-Hop', '1'), ('Keep-Alive', 'timeout=5, max=100'),
                   ('Proxy-Connection', 'keep-alive'), ('Upgrade', 'foo/1'),
                   ('X-End-To-End', 'yes')]
            return self.respond(sock, req, 200, hop, 'hop\n')
        return self.respond(sock, req, 200, [('Content-Type', 'application/json')],
                            json.dumps(self.describe(req)))

    def describe(self, req):
        return {'backend': self.name, 'method': req.method, 'target': req.target,
                'path': req.path, 'version': req.version,
                'headers': [[k, v] for k, v in req.headers],
                'body_len': req.body_len, 'conn': req.conn, 'index': req.index}

    def _websocket(self, sock, stream, req):
        key = req.header('Sec-WebSocket-Key', '')
        sock.sendall(('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                      'Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Backend: %s\r\n\r\n'
                      % (ws_accept(key), self.name)).encode())
        while not self.stopping.is_set():
            fin, opcode, payload, masked = ws_read_frame(stream)
            with self.lock:
                self.ws_frames.append((opcode, payload, masked))
            if opcode == 8:
                sock.sendall(ws_frame(8, payload[:2], mask=False))
                return
            if opcode == 9:
                sock.sendall(ws_frame(10, payload, mask=False))
                continue
            sock.sendall(ws_frame(opcode, payload, mask=False, fin=fin))


# The WebSocket echo server is Backend itself: any request carrying
# Upgrade: websocket gets the RFC 6455 handshake and then frame echo.
WebSocketBackend = Backend

REASONS = {100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created',
           204: 'No Content', 301: 'Moved Permanently', 304: 'Not Modified',
           400: 'Bad Request', 404: 'Not Found', 500: 'Internal Server Error',
           502: 'Bad Gateway', 503: 'Service Unavailable'}


def dead_address():
    """'127.0.0.1:PORT' where nothing listens: connections are refused."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return '127.0.0.1:%d' % port


# ---------------------------------------------------------------------------
# veer itself

_live = set()


@atexit.register
def _kill_leftovers():
    for p in list(_live):
        if p.poll() is None:
            p.kill()


class Veer:
    """A running veer with CONFIG (YAML text, dedented) in a temporary
    directory.  LISTENERS are the listener names to wait for; their ports are
    read from the log line 'listener NAME on HOST:PORT'."""

    def __init__(self, config, listeners=('web',), args=(), env=None):
        self.config = textwrap.dedent(config).lstrip('\n')
        self.listeners = tuple(listeners)
        self.args = tuple(args)
        self.env = env
        self.proc = None
        self.ports = {}
        self.rc = None
        self.dir = tempfile.mkdtemp(prefix='veer-it-')
        self.config_path = os.path.join(self.dir, 'veer.yaml')
        self.err_path = os.path.join(self.dir, 'stderr.log')
        self.out_path = os.path.join(self.dir, 'stdout.log')

    def start(self):
        with open(self.config_path, 'w') as f:
            f.write(self.config)
        out = open(self.out_path, 'wb')
        err = open(self.err_path, 'wb')
        try:
            self.proc = subprocess.Popen(veer_command('-c', self.config_path, *self.args),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         cwd=self.dir, env=clean_env(self.env))
        finally:
            out.close()
            err.close()
        _live.add(self.proc)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            for m in LISTENER_RE.finditer(self.log()):
                self.ports.setdefault(m.group(1), int(m.group(3)))
            if all(n in self.ports for n in self.listeners):
                return self
            rc = self.proc.poll()
            if rc is not None:
                _live.discard(self.proc)
                raise AssertionError('veer exited with %s during startup\n--- config\n%s--- log\n%s'
                                     % (rc, self.config, self.log()))
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError('veer did not log its listeners %s within %.0fs\n'
                                     '--- config\n%s--- log\n%s'
                                     % (self.listeners, STARTUP_TIMEOUT, self.config, self.log()))
            time.sleep(0.01)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        rc = self.stop()
        try:
            if exc_type is None and rc != 0:
                raise AssertionError('veer exited with %r after SIGTERM (want 0)\n--- log\n%s'
                                     % (rc, self.log_tail()))
            if exc_type is not None:
                sys.stderr.write('\n--- veer log (%s)\n%s\n' % (self.dir, self.log_tail()))
        finally:
            self.remove_dir()

    def remove_dir(self):
        """Delete the temporary directory (config and logs) unless
        $VEERTEST_KEEP is set."""
        if not os.environ.get('VEERTEST_KEEP'):
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def pid(self):
        return self.proc.pid

    def port(self, name='web'):
        return self.ports[name]

    def url(self, path='/', name='web'):
        return 'http://127.0.0.1:%d%s' % (self.ports[name], path)

    def log(self):
        out = []
        for p in (self.err_path, self.out_path):
            try:
                with open(p, 'rb') as f:
                    out.append(f.read().decode('utf-8', 'replace'))
            except FileNotFoundError:
                pass
        return ''.join(out)

    def log_tail(self, n=60):
        return '\n'.join(self.log().splitlines()[-n:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        """Resident set size in KiB (VmRSS of /proc/PID/status)."""
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        raise RuntimeError('no VmRSS')

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Exit status after waiting up to TIMEOUT; None if still running."""
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        _live.discard(self.proc)
        return self.rc

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait up to TIMEOUT, then SIGKILL.  Returns the exit status
        ('killed' when it had to be killed)."""
        if self.proc is None:
            return None
        if isinstance(self.rc, str):
            return self.rc  # killed earlier
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait_exit(timeout) is None:
                self.kill()
                self.rc = 'killed (no exit %.0fs after SIGTERM)' % timeout
                return self.rc
        self.rc = self.proc.poll()
        _live.discard(self.proc)
        return self.rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        _live.discard(self.proc)

    # reload ------------------------------------------------------------------
    def error_log(self):
        """The error log (stderr) alone: reload() measures offsets in it."""
        try:
            with open(self.err_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def write_config(self, config):
        """Replace the config file with CONFIG (dedented) the way a deploy
        pipeline does: a new file renamed over the old one."""
        self.config = textwrap.dedent(config).lstrip('\n')
        tmp = self.config_path + '.tmp'
        with open(tmp, 'w') as f:
            f.write(self.config)
        os.replace(tmp, self.config_path)

    def wait_ready(self, timeout=STARTUP_TIMEOUT):
        """Wait for the 'ready' line: signal handlers are in place only from
        then on (the listener lines come earlier)."""
        wait_until(lambda: READY_RE.search(self.error_log()) or not self.alive(), timeout,
                   msg=lambda: 'veer logged no ready line within %.0fs\n%s'
                   % (timeout, self.log_tail()))
        if not self.alive():
            raise AssertionError('veer exited (%r) before it was ready\n%s'
                                 % (self.proc.poll(), self.log_tail()))

    def reload(self, config=None, timeout=10.0 * TIMEOUT_MULTIPLIER):
        """Rewrite the config file with CONFIG (when given), send SIGHUP and
        wait for the outcome line: 'reload: generation N in force' or
        'reload failed: the running config (generation N) stays'.  Returns a
        ReloadResult; listeners the reload started (their 'listener NAME on
        HOST:PORT' lines) are entered in self.ports."""
        self.wait_ready()
        if config is not None:
            self.write_config(config)
        mark = len(self.error_log())

        def outcome():
            text = self.error_log()[mark:]
            text = text[:text.rfind('\n') + 1]  # whole lines only
            m = RELOAD_OUTCOME_RE.search(text)
            if m:
                return text[:m.end()], m
            if not self.alive():
                raise AssertionError('veer exited (%r) after SIGHUP\n%s'
                                     % (self.proc.poll(), self.log_tail()))
            return None

        self.signal(signal.SIGHUP)
        text, m = wait_until(outcome, timeout, msg=lambda: 'no reload outcome line %.0fs '
                             'after SIGHUP\n%s' % (timeout, self.log_tail()))
        res = ReloadResult(m.group(1) is not None, int(m.group(1) or m.group(2)), text)
        for mm in LISTENER_RE.finditer(text):
            res.listeners[mm.group(1)] = int(mm.group(3))
            self.ports[mm.group(1)] = int(mm.group(3))
        return res


READY_RE = re.compile(r' ready: \d+ workers?, pid \d+')
RELOAD_OUTCOME_RE = re.compile(
    r'^.*?(?:info: reload: generation (\d+) in force'
    r'|error: reload failed: the running config \(generation (\d+)\) stays)\n', re.M)


class ReloadResult:
    """What one SIGHUP did: ok (the new file is in force), generation (the
    new one when ok, else the one that stays), log (the error-log lines from
    the signal up to the outcome line, inclusive), listeners (name -> port
    of the listeners it started)."""

    def __init__(self, ok, generation, log):
        self.ok = ok
        self.generation = generation
        self.log = log
        self.listeners = {}

    def lines(self, level=None):
        """Log lines, only those at LEVEL ('error', 'warn', 'info') if given;
        each without its timestamp."""
        out = []
        for ln in self.log.splitlines():
            _, _, rest = ln.partition(' ')
            if level is None or rest.startswith(level + ': '):
                out.append(rest)
        return out

    def __repr__(self):
        return '<ReloadResult ok=%s generation=%d log=%r>' % (self.ok, self.generation, self.log)


def run_veer(args, timeout=10 * TIMEOUT_MULTIPLIER, cwd=None):
    """Run veer with ARGS to completion (for -t, --version)."""
    return subprocess.run(veer_command(*args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, cwd=cwd, env=clean_env())


def rss_env():
    """Environment for a veer whose RSS a test bounds.  Under AddressSanitizer
    freed memory sits in a quarantine (256 MiB by default) before reuse, so
    RSS follows bytes moved rather than bytes held; a small quarantine makes
    RSS mean what it means in a normal build.  Other binaries ignore it."""
    opts = os.environ.get('ASAN_OPTIONS', '')
    return {'ASAN_OPTIONS': (opts + ':' if opts else '') + 'quarantine_size_mb=8'}


class RssMonitor:
    """Samples a process's VmRSS every INTERVAL seconds in a thread."""

    def __init__(self, veer, interval=0.02):
        self.veer = veer
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(self.veer.rss_kib())
            except (OSError, RuntimeError):
                return
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(2)

    @property
    def peak(self):
        return max(self.samples) if self.samples else 0


def make_config(servers, workers=1, pool='api', version='1.2.3', global_opts=None,
                listener_opts=None, pool_opts=None, routes=None, ping=True):
    """YAML text of the usual test setup: listener 'web' on 127.0.0.1:0, one
    pool POOL with SERVERS (addresses, or (address, weight) pairs), a
    respond route /ping (when PING) and a catch-all route to the pool.
    The *_opts dicts map a key to flow-style YAML text, e.g.
    listener_opts={'timeouts': '{ header: 500ms }'}.  ROUTES, when given,
    replaces the route list (a list of flow-style route mappings)."""
    out = ['global:', '  workers: %s' % workers]
    for k, v in (global_opts or {}).items():
        out.append('  %s: %s' % (k, v))
    out += ['listeners:', '  - name: web', '    listen: "127.0.0.1:0"']
    for k, v in (listener_opts or {}).items():
        out.append('    %s: %s' % (k, v))
    out += ['pools:', '  - name: %s' % pool]
    if version:
        out.append('    version: %s' % version)
    out.append('    servers:')
    for s in servers:
        addr, weight = (s, 1) if isinstance(s, str) else s
        out.append('      - { address: "%s", weight: %d }' % (addr, weight))
    for k, v in (pool_opts or {}).items():
        out.append('    %s: %s' % (k, v))
    out.append('routes:')
    if routes is None:
        routes = []
        if ping:
            routes.append('{ name: ping, match: { path_prefix: /ping }, '
                          'respond: { status: 200, body: "pong\\n" } }')
        routes.append('{ name: main, match: { path_prefix: / }, pool: %s }' % pool)
    for r in routes:
        out.append('  - ' + r)
    return '\n'.join(out) + '\n'


# ---------------------------------------------------------------------------
# curl

class CurlResult:
    def __init__(self, proc, blocks, body):
        self.proc = proc
        self.rc = proc.returncode
        self.stderr = proc.stderr.decode('utf-8', 'replace')
        self.blocks = blocks  # every header block received, 1xx first
        final = blocks[-1] if blocks else (None, [])
        self.status = final[0]
        self.headers = final[1]
        self.body = body

    def header(self, name, default=None):
        return header_get(self.headers, name, default)

    def __repr__(self):
        return '<CurlResult rc=%s status=%s headers=%r body=%r stderr=%r>' % (
            self.rc, self.status, self.headers, self.body[:300], self.stderr[:300])


def curl(*args, timeout=60):
    """Run curl ARGS (no proxy from the environment); CompletedProcess."""
    return subprocess.run(['curl', '-sS', '--noproxy', '*', *args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          env=clean_env())


def curl_request(url, *args, timeout=60):
    """Run curl on URL with ARGS; returns a CurlResult with the final status,
    headers and body and every header block (100 Continue included)."""
    with tempfile.TemporaryDirectory(prefix='veer-curl-') as d:
        hfile = os.path.join(d, 'headers')
        bfile = os.path.join(d, 'body')
        proc = curl('-D', hfile, '-o', bfile, *args, url, timeout=timeout)
        blocks = []
        if os.path.exists(hfile):
            with open(hfile, 'rb') as f:
                raw = f.read().decode('latin-1')
            for block in raw.split('\r\n\r\n'):
                lines = [ln for ln in block.split('\r\n') if ln]
                if not lines or not lines[0].startswith('HTTP/'):
                    continue
                status = int(lines[0].split(' ')[1])
                hdrs = []
                for ln in lines[1:]:
                    k, _, v = ln.partition(':')
                    hdrs.append((k, v.strip()))
                blocks.append((status, hdrs))
        body = b''
        if os.path.exists(bfile):
            with open(bfile, 'rb') as f:
                body = f.read()
        return CurlResult(proc, blocks, body)


# ---------------------------------------------------------------------------
# Test case base

class TestCase(unittest.TestCase):
    """unittest.TestCase with helpers that stop what they start.

    self.backend() starts a Backend, self.veer() a Veer; both are stopped at
    cleanup (veer first, as it was started last), and a veer that does not
    exit 0 after SIGTERM fails the test.  When a test fails, the log of every
    veer it started is printed."""

    maxDiff = 4000

    def run(self, result=None):
        self._veers = []
        before = (len(result.failures) + len(result.errors)) if result else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            for v in self._veers:
                sys.stderr.write('\n--- veer log of %s (%s)\n%s\n--- config\n%s\n'
                                 % (self.id(), v.dir, v.log_tail(80), v.config))
        for v in self._veers:
            v.remove_dir()
        return out

    def backend(self, name='backend', **kw):
        b = Backend(name, **kw).start()
        self.addCleanup(b.stop)
        return b

    def veer(self, config, listeners=('web',), **kw):
        v = Veer(config, listeners, **kw)
        self._veers.append(v)
        v.start()  # on failure it has reported and reaped the process
        self.addCleanup(self._stop_veer, v)
        return v

    def _stop_veer(self, v):
        rc = v.stop()
        if rc != 0:
            self.fail('veer exited with %r after SIGTERM (want 0)\n--- log\n%s'
                      % (rc, v.log_tail()))

    def client(self, port, **kw):
        c = Client(port, **kw)
        self.addCleanup(c.close)
        return c

    def assertVeerError(self, resp, status):
        """A response veer made itself: STATUS, a short body, framed by
        Content-Length or chunked (never close-delimited)."""
        self.assertEqual(resp.status, status, resp)
        self.assertIn(resp.framing, ('length', 'chunked'), resp)
        self.assertLessEqual(len(resp.body), 1024, resp)


def main():
    unittest.main(verbosity=2)


# ---------------------------------------------------------------------------
# Fast backends and load generation: nginx and wrk, for the tests that need
# more throughput than the Python backends give (split accuracy over 100k
# requests).  Both are required tools, installed by scripts/deps: a test that
# needs one fails with a clear message when it is missing, it never skips.

NGINX_BIN = os.environ.get('NGINX_BIN', '/usr/sbin/nginx')
WRK_BIN = os.environ.get('WRK_BIN', '/usr/bin/wrk')


def require_tool(path, package):
    """PATH if executable, else the same name on $PATH; AssertionError naming
    PACKAGE (and scripts/deps) when neither exists."""
    if os.access(path, os.X_OK):
        return path
    found = shutil.which(os.path.basename(path))
    if found:
        return found
    raise AssertionError('%s not found (looked at %s and on PATH): install %s '
                         '(scripts/deps does)' % (os.path.basename(path), path, package))


def free_port():
    """A port on 127.0.0.1 that was free a moment ago (bind 0, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _port_open(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
        return True
    except OSError:
        return False


class Nginx:
    """One nginx process (no master, one worker, daemon off) serving each of
    NAMES on its own 127.0.0.1 port: every request gets 200, body "NAME\\n"
    and the header X-Backend: NAME.  ports[name] / address(name) after
    start().  Use as a context manager or start()/stop()."""

    def __init__(self, names):
        self.names = list(names)
        self.ports = {}
        self.proc = None
        self.bin = require_tool(NGINX_BIN, 'nginx (Debian: nginx-light)')
        self.dir = tempfile.mkdtemp(prefix='veer-nginx-')
        self.conf_path = os.path.join(self.dir, 'nginx.conf')
        self.log_path = os.path.join(self.dir, 'error.log')
        self.out_path = os.path.join(self.dir, 'stdout.log')

    def address(self, name):
        return '127.0.0.1:%d' % self.ports[name]

    def _config(self):
        d = self.dir
        v = subprocess.run([self.bin, '-V'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10).stdout.decode('utf-8', 'replace')
        temps = ['client_body_temp_path %s/body;' % d, 'proxy_temp_path %s/proxy;' % d]
        for mod in ('fastcgi', 'uwsgi', 'scgi'):
            if '--without-http_%s_module' % mod not in v:
                temps.append('%s_temp_path %s/%s;' % (mod, d, mod))
        servers = []
        for name in self.names:
            servers.append(
                '  server {\n'
                '    listen 127.0.0.1:%d;\n'
                '    location / {\n'
                '      add_header X-Backend %s always;\n'
                '      return 200 "%s\\n";\n'
                '    }\n'
                '  }\n' % (self.ports[name], name, name))
        return ('daemon off;\n'
                'master_process off;\n'
                'worker_processes 1;\n'
                'pid %s/nginx.pid;\n'
                'error_log %s warn;\n'
                'events { worker_connections 4096; }\n'
                'http {\n'
                '  access_log off;\n'
                '  default_type text/plain;\n'
                '  keepalive_requests 100000000;\n'
                '  keepalive_timeout 300s;\n'
                '  %s\n'
                '%s'
                '}\n') % (d, self.log_path, '\n  '.join(temps), ''.join(servers))

    def log(self):
        out = []
        for p in (self.log_path, self.out_path):
            try:
                with open(p, 'rb') as f:
                    out.append(f.read().decode('utf-8', 'replace'))
            except FileNotFoundError:
                pass
        return ''.join(out)

    def start(self):
        # The ports come from bind(0)+close; another process may take one
        # before nginx binds it, so a failed start is retried with new ones.
        for attempt in range(3):
            self.ports = {n: free_port() for n in self.names}
            with open(self.conf_path, 'w') as f:
                f.write(self._config())
            with open(self.out_path, 'wb') as out:
                self.proc = subprocess.Popen(
                    [self.bin, '-p', self.dir + '/', '-e', self.log_path, '-c', self.conf_path],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd=self.dir)
            _live.add(self.proc)
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if all(_port_open(p) for p in self.ports.values()):
                    return self
                if self.proc.poll() is not None:
                    _live.discard(self.proc)
                    break
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError('nginx did not listen on %s within %.0fs\n%s'
                                         % (self.ports, STARTUP_TIMEOUT, self.log()))
                time.sleep(0.01)
            if 'Address already in use' not in self.log():
                break
        raise AssertionError('nginx exited with %s at startup\n--- config\n%s--- log\n%s'
                             % (self.proc.returncode, self._config(), self.log()))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            _live.discard(self.proc)
        if not os.environ.get('VEERTEST_KEEP'):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# wrk script: counts responses per (status, X-Veer-Pool, X-Backend) in each
# thread; done() (which runs in wrk's main Lua state) collects the threads'
# tables and prints one "count STATUS POOL BACKEND N" line each ("-" for a
# missing header), then a "summary" line.
WRK_COUNT_LUA = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

counts = {}

function response(status, headers, body)
  local pool, backend = "-", "-"
  for k, v in pairs(headers) do
    local n = string.lower(k)
    if n == "x-veer-pool" then pool = v elseif n == "x-backend" then backend = v end
  end
  local key = status .. " " .. pool .. " " .. backend
  counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, n in pairs(c) do
      io.write(string.format("count %s %d\n", k, n))
    end
  end
  local e = summary.errors
  io.write(string.format("summary requests %d connect %d read %d write %d status %d timeout %d\n",
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


class WrkResult:
    def __init__(self, counts, summary, output):
        self.counts = counts    # collections.Counter of (status, pool, backend) -> responses
        self.summary = summary  # requests, connect, read, write, status, timeout
        self.output = output

    def pools(self, status=200):
        """Counter pool -> responses with STATUS."""
        import collections
        c = collections.Counter()
        for (s, pool, _), n in self.counts.items():
            if s == status:
                c[pool] += n
        return c

    def errors(self):
        """Socket errors and timeouts wrk saw (a dict of the nonzero ones)."""
        return {k: v for k, v in self.summary.items() if k != 'requests' and k != 'status' and v}

    @property
    def total(self):
        return sum(self.counts.values())

    def add(self, other):
        self.counts.update(other.counts)
        for k, v in other.summary.items():
            self.summary[k] = self.summary.get(k, 0) + v
        self.output += other.output
        return self

    def __repr__(self):
        return '<WrkResult counts=%r summary=%r>' % (dict(self.counts), self.summary)


def wrk_count(url, seconds=5, threads=1, connections=32, headers=(), timeout=None):
    """Run wrk against URL for SECONDS (a whole number: wrk knows no
    sub-second durations) and count its responses by status, X-Veer-Pool
    and X-Backend (WrkResult).  HEADERS: (name, value) pairs sent with every
    request."""
    import collections
    wrk = require_tool(WRK_BIN, 'wrk')
    with tempfile.TemporaryDirectory(prefix='veer-wrk-') as d:
        script = os.path.join(d, 'count.lua')
        with open(script, 'w') as f:
            f.write(WRK_COUNT_LUA)
        args = [wrk, '-t%d' % threads, '-c%d' % connections, '-d%ds' % seconds,
                '--timeout', '5s', '-s', script]
        for k, v in headers:
            args += ['-H', '%s: %s' % (k, v)]
        args.append(url)
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=clean_env(),
                              timeout=timeout or seconds + 30)
    out = proc.stdout.decode('utf-8', 'replace') + proc.stderr.decode('utf-8', 'replace')
    if proc.returncode != 0:
        raise AssertionError('wrk exited with %d\n%s' % (proc.returncode, out))
    counts = collections.Counter()
    summary = None
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ['count'] and len(parts) == 5:
            counts[(int(parts[1]), parts[2], parts[3])] += int(parts[4])
        elif parts[:1] == ['summary']:
            summary = {parts[i]: int(parts[i + 1]) for i in range(1, len(parts) - 1, 2)}
    if summary is None:
        raise AssertionError('wrk printed no summary (Lua script failed?)\n%s' % out)
    return WrkResult(counts, summary, out)


# ---------------------------------------------------------------------------
# Resilience: backends that fail on demand, go away and come back, answer
# health checks as the test says; a port whose connects never complete.

class FlakyBackend(Backend):
    """A Backend whose behaviour the test switches while veer runs.

    Health checks: requests for HEALTH_PATH (default /healthz) are answered
    with self.health_status (200 unless set; after self.health_delay ms when
    set) and are kept apart: health_checks() lists them, received() and
    traffic() leave them out.

    Every other request first meets the failure plan:
      fail_next(n, mode)   the next N requests fail with MODE, then normal
      fail_always(mode)    every request fails with MODE until heal()
      heal()               normal again
    MODE: an int status (answered at once with that status, body
    "status N\\n", keep-alive), 'reset' (the request is read, then the
    connection closed without an answer), 'hang' (read, never answered: the
    handler waits until veer closes the connection or the backend stops).
    Requests that were not failed get the usual Backend paths.

    outage() closes the listening socket and every open connection (new
    connects are refused); recover() listens on the same port again."""

    def __init__(self, name='backend', health_path='/healthz', **kw):
        super().__init__(name, **kw)
        self.health_path = health_path
        self.health_status = 200
        self.health_delay = 0
        self.failed = []          # (request, mode) of every request failed on purpose
        self._plan_mode = None
        self._plan_left = 0       # -1: always
        self._accept_thread = None
        self._down = False

    # plan ------------------------------------------------------------------
    def fail_next(self, n, mode=503):
        with self.lock:
            self._plan_mode, self._plan_left = mode, n
        return self

    def fail_always(self, mode=503):
        with self.lock:
            self._plan_mode, self._plan_left = mode, -1
        return self

    def heal(self):
        with self.lock:
            self._plan_mode, self._plan_left = None, 0
        return self

    def _take_plan(self):
        with self.lock:
            if self._plan_left == 0:
                return None
            if self._plan_left > 0:
                self._plan_left -= 1
            return self._plan_mode

    # queries ---------------------------------------------------------------
    def received(self, path=None):
        with self.lock:
            return [r for r in self.requests if r.path != self.health_path and
                    (path is None or r.path == path)]

    def traffic(self):
        """How many requests (health checks left out) reached this backend."""
        return len(self.received())

    def health_checks(self):
        with self.lock:
            return [r for r in self.requests if r.path == self.health_path]

    # lifecycle -------------------------------------------------------------
    def start(self):
        t = threading.Thread(target=self._accept_loop, name='backend-%s' % self.name, daemon=True)
        t.start()
        self._accept_thread = t
        self._threads.append(t)
        return self

    def outage(self):
        """Stop listening (connects are refused) and close every connection."""
        with self.lock:
            self._down = True
            socks = list(self._socks)
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.lsock.close()
        except OSError:
            pass
        if self._accept_thread is not None:
            self._accept_thread.join(2.0)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return self

    def recover(self):
        """Listen on the same port again."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:
            try:
                s.bind(('127.0.0.1', self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    s.close()
                    raise
                time.sleep(0.05)
        s.listen(256)
        self.lsock = s
        with self.lock:
            self._down = False
        return self.start()

    # serving ---------------------------------------------------------------
    def _hang(self, sock):
        """Wait until the peer closes SOCK or the backend stops."""
        while not self.stopping.is_set():
            try:
                r, _, _ = select.select([sock], [], [], 0.05)
                if r and not sock.recv(65536, socket.MSG_PEEK):
                    return False
            except (OSError, ValueError):
                return False
        return False

    def _dispatch(self, sock, stream, req):
        if req.path == self.health_path:
            self._read_body(sock, stream, req)
            if self.health_delay and self.stopping.wait(self.health_delay / 1000.0):
                return False
            st = self.health_status
            return self.respond(sock, req, st, [], 'health %d\n' % st)
        mode = self._take_plan()
        if mode is None:
            return super()._dispatch(sock, stream, req)
        with self.lock:
            self.failed.append((req, mode))
        self._read_body(sock, stream, req)
        if mode == 'reset':
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
            except OSError:
                pass
            return False
        if mode == 'hang':
            return self._hang(sock)
        status = int(mode)
        body = 'status %d\n' % status
        hdrs = [('Content-Length', str(len(body)))]
        keep = not self._wants_close(req)
        if not keep:
            hdrs.append(('Connection', 'close'))
        head = 'HTTP/1.1 %d %s\r\nX-Backend: %s\r\n' % (status, REASONS.get(status, 'Status'),
                                                         self.name)
        head += ''.join('%s: %s\r\n' % kv for kv in hdrs) + '\r\n'
        sock.sendall(head.encode('latin-1') + (b'' if req.method == 'HEAD' else body.encode()))
        return keep


class BlackholePort:
    """A port on 127.0.0.1 whose listen queue is full and never drained, so
    a connect() to it is never answered (Linux drops the SYN while the
    accept queue is full): a server that does not answer connects, on
    loopback.  The connect stays in progress until the connecting side's
    timeout.  Use as a context manager or close()."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self.address = '127.0.0.1:%d' % self.port
        self.fillers = []
        for _ in range(16):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.2)
            try:
                s.connect(('127.0.0.1', self.port))
            except socket.timeout:
                s.close()
                return  # the queue is full: connects now hang
            self.fillers.append(s)
        self.close()
        raise RuntimeError('could not fill the listen queue of a loopback port')

    def close(self):
        for s in self.fillers:
            s.close()
        self.fillers = []
        self.lsock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def syn_sent_to(port):
    """How many local TCP sockets are in SYN-SENT towards 127.0.0.1:PORT
    (connects in progress, from /proc/net/tcp)."""
    n = 0
    want = '0100007F:%04X' % port
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[2] == want and parts[3] == '02':
                n += 1
    return n


def client_from(port, source_ip, timeout=IO_TIMEOUT):
    """A Client to 127.0.0.1:PORT whose connection comes from SOURCE_IP (any
    127.x.y.z: all of 127/8 is loopback on Linux), so that veer sees another
    client address."""
    c = Client(port, timeout=timeout, connect=False)
    c.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout,
                                      source_address=(source_ip, 0))
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.stream = Stream(c.sock)
    return c


def parallel(fns, timeout=IO_TIMEOUT + 5):
    """Run the callables FNS at the same time, one thread each; returns
    their results in order (an exception is returned in its slot, not
    raised)."""
    results = [None] * len(fns)

    def run(i, fn):
        try:
            results[i] = fn()
        except Exception as e:  # noqa: BLE001 - reported to the caller
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, fn), daemon=True) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results


# ---------------------------------------------------------------------------
# TLS: certificates made with the openssl CLI, TLS clients, TLS backends.
# Every certificate a test uses is made by the test in a temporary directory:
# nothing is shipped, nothing expires in the tree.

import ssl  # noqa: E402  (the TLS helpers only)

OPENSSL_BIN = os.environ.get('OPENSSL_BIN', '/usr/bin/openssl')
SSLSCAN_BIN = os.environ.get('SSLSCAN_BIN', '/usr/bin/sslscan')

_CA_CNF = """\
[ ca ]
default_ca = ca_default
[ ca_default ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
certificate = {dir}/ca.crt
private_key = {dir}/ca.key
serial = {dir}/serial
default_md = sha256
default_days = 365
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = optional
organizationName = optional
"""


def openssl(*args, input=None, timeout=30, check=True):
    """Run the openssl CLI; CompletedProcess (AssertionError with its output
    when CHECK and it fails)."""
    exe = require_tool(OPENSSL_BIN, 'openssl')
    proc = subprocess.run([exe, *args], input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=clean_env())
    if check and proc.returncode != 0:
        raise AssertionError('openssl %s failed (%d)\n%s%s' % (
            ' '.join(args), proc.returncode, proc.stdout.decode('utf-8', 'replace'),
            proc.stderr.decode('utf-8', 'replace')))
    return proc


def _asn1_time(t):
    """openssl ca's -startdate/-enddate form of epoch seconds T."""
    return time.strftime('%Y%m%d%H%M%SZ', time.gmtime(t))


class Cert:
    """A certificate and its key on disk: cert, key (paths), combined (cert
    then key, HAProxy's crt form), serial (int), names."""

    def __init__(self, cert, key, serial, names):
        self.cert = cert
        self.key = key
        self.serial = serial
        self.names = names
        self.combined = cert[:-len('.crt')] + '.pem'
        with open(self.combined, 'wb') as out:
            for p in (cert, key):
                with open(p, 'rb') as f:
                    out.write(f.read())

    def der(self):
        with open(self.cert) as f:
            return ssl.PEM_cert_to_DER_cert(f.read())

    def __repr__(self):
        return '<Cert %s serial=%x names=%r>' % (self.cert, self.serial, self.names)


class CertFactory:
    """A throwaway CA in a temporary directory and the leaves it signs.

        f = CertFactory()                    # makes the CA (f.ca_cert, f.ca_key)
        a = f.leaf('a', ['a.example.com'])  # RSA 2048, SAN DNS:a.example.com
        e = f.leaf('e', ['e.test'], key='ec')            # ECDSA P-256
        x = f.leaf('x', ['x.test'], not_after=time.time() - 3600)   # expired
        s = f.self_signed('s', ['backend.test'])          # not from the CA

    NAMES: DNS names (and IP addresses, as 'IP:127.0.0.1') for the
    subjectAltName; CN defaults to the first name; san=False leaves the
    subjectAltName out (the names are then in the CN only).  Each leaf gets
    a random serial.  f.close() (or the atexit hook) removes the directory."""

    def __init__(self, ca_name='veer test CA', dir=None, parent=None):
        self.dir = dir or tempfile.mkdtemp(prefix='veer-certs-')
        self._own_dir = dir is None
        self.parent = parent
        os.makedirs(os.path.join(self.dir, 'newcerts'), exist_ok=True)
        open(os.path.join(self.dir, 'index.txt'), 'w').close()
        with open(os.path.join(self.dir, 'serial'), 'w') as f:
            f.write('01\n')  # unused: every leaf gets -rand_serial
        self.cnf = os.path.join(self.dir, 'ca.cnf')
        with open(self.cnf, 'w') as f:
            f.write(_CA_CNF.format(dir=self.dir))
        self.ca_key = os.path.join(self.dir, 'ca.key')
        self.ca_cert = os.path.join(self.dir, 'ca.crt')
        if parent is None:
            openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', self.ca_key,
                    '-out', self.ca_cert, '-days', '3650', '-subj', '/CN=%s' % ca_name,
                    '-addext', 'basicConstraints=critical,CA:TRUE',
                    '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
        else:
            # an intermediate CA signed by PARENT
            self.new_key(self.ca_key)
            csr = self.path('ca.csr')
            openssl('req', '-new', '-key', self.ca_key, '-subj', '/CN=%s' % ca_name, '-out', csr)
            ext = self.path('ca.ext')
            with open(ext, 'w') as f:
                f.write('[ext]\nbasicConstraints = critical, CA:TRUE, pathlen:0\n'
                        'keyUsage = critical, keyCertSign, cRLSign\n'
                        'subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n')
            now = time.time()
            openssl('ca', '-batch', '-config', parent.cnf, '-in', csr, '-out', self.ca_cert,
                    '-notext', '-rand_serial', '-startdate', _asn1_time(now - 3600),
                    '-enddate', _asn1_time(now + 365 * 86400), '-extfile', ext,
                    '-extensions', 'ext')
        _cert_dirs.add(self.dir) if self._own_dir else None

    def intermediate(self, ca_name='veer test intermediate CA'):
        """A CertFactory for an intermediate CA signed by this one; its
        leaves have .fullchain (leaf then intermediate)."""
        return CertFactory(ca_name, parent=self)

    def path(self, name):
        return os.path.join(self.dir, name)

    def new_key(self, path, key='rsa'):
        if key == 'rsa':
            openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048',
                    '-out', path)
        elif key in ('ec', 'ecdsa'):
            openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
                    '-out', path)
        else:
            raise ValueError(key)
        return path

    @staticmethod
    def _san(names):
        out = []
        for n in names:
            out.append(n if n.startswith(('IP:', 'DNS:')) else 'DNS:' + n)
        return ','.join(out)

    @staticmethod
    def _cn(names, cn):
        if cn is not None:
            return cn
        for n in names:
            if not n.startswith('IP:'):
                return n[4:] if n.startswith('DNS:') else n
        return 'veer test leaf'

    def leaf(self, name, names, key='rsa', cn=None, san=True, not_before=None,
             not_after=None, key_file=None):
        """Sign a server certificate NAME.crt (key NAME.key, or KEY_FILE's
        key) with the CA; NOT_BEFORE/NOT_AFTER are epoch seconds (default:
        an hour ago, 30 days from now).  Returns a Cert."""
        crt = self.path(name + '.crt')
        keyp = self.path(name + '.key')
        if key_file is not None:
            if os.path.abspath(key_file) != os.path.abspath(keyp):
                shutil.copyfile(key_file, keyp)
        else:
            self.new_key(keyp, key)
        csr = self.path(name + '.csr')
        cn = self._cn(names, cn)
        openssl('req', '-new', '-key', keyp, '-subj', '/CN=%s' % cn, '-out', csr)
        ext = self.path(name + '.ext')
        is_ec = 'ASN1 OID' in openssl('pkey', '-in', keyp, '-noout', '-text_pub').stdout.decode()
        with open(ext, 'w') as f:
            f.write('[ext]\nbasicConstraints = CA:FALSE\n'
                    'keyUsage = critical, %s\n'
                    'extendedKeyUsage = serverAuth\n'
                    'subjectKeyIdentifier = hash\n'
                    'authorityKeyIdentifier = keyid\n'
                    % ('digitalSignature' if is_ec else 'digitalSignature, keyEncipherment'))
            if san and names:
                f.write('subjectAltName = %s\n' % self._san(names))
        now = time.time()
        na = now + 30 * 86400 if not_after is None else not_after
        nb = min(now - 3600, na - 86400) if not_before is None else not_before
        openssl('ca', '-batch', '-config', self.cnf, '-in', csr, '-out', crt, '-notext',
                '-rand_serial', '-startdate', _asn1_time(nb), '-enddate', _asn1_time(na),
                '-extfile', ext, '-extensions', 'ext')
        serial = int(openssl('x509', '-in', crt, '-noout', '-serial').stdout.decode()
                     .strip().split('=', 1)[1], 16)
        cert = Cert(crt, keyp, serial, list(names))
        cert.fullchain = crt
        if self.parent is not None:
            cert.fullchain = self.path(name + '.fullchain.crt')
            with open(cert.fullchain, 'wb') as out:
                for p in (crt, self.ca_cert):
                    with open(p, 'rb') as f:
                        out.write(f.read())
        return cert

    def self_signed(self, name, names, key='rsa'):
        """A self-signed certificate for NAMES, not from the CA."""
        crt = self.path(name + '.crt')
        keyp = self.new_key(self.path(name + '.key'), key)
        openssl('req', '-x509', '-key', keyp, '-out', crt, '-days', '30',
                '-subj', '/CN=%s' % self._cn(names, None),
                '-addext', 'subjectAltName=%s' % self._san(names),
                '-addext', 'basicConstraints=critical,CA:FALSE')
        serial = int(openssl('x509', '-in', crt, '-noout', '-serial').stdout.decode()
                     .strip().split('=', 1)[1], 16)
        return Cert(crt, keyp, serial, list(names))

    def close(self):
        if self._own_dir and not os.environ.get('VEERTEST_KEEP'):
            shutil.rmtree(self.dir, ignore_errors=True)
        _cert_dirs.discard(self.dir)


_cert_dirs = set()


@atexit.register
def _remove_cert_dirs():
    if not os.environ.get('VEERTEST_KEEP'):
        for d in list(_cert_dirs):
            shutil.rmtree(d, ignore_errors=True)


def install_file(src, dst):
    """Copy SRC over DST the way certbot-style renewals do: a new file
    renamed over the old one (readers see the old or the new, never half)."""
    tmp = dst + '.tmp'
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def tls_client_context(ca=None, verify=True, minimum=None, maximum=None, alpn=None,
                       ciphers=None):
    """An ssl client context.  The chain is verified against CA when VERIFY
    (getpeercert() then returns the parsed certificate); the host name is
    never checked (tests look at the names themselves and send SNI names
    the certificate may not carry).  MINIMUM/MAXIMUM: ssl.TLSVersion;
    ALPN: protocol list; CIPHERS: an OpenSSL cipher string."""
    import warnings
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if ca:
            ctx.load_verify_locations(ca)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if ciphers:
        ctx.set_ciphers(ciphers)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # TLSv1/TLSv1_1
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


class TLSClient(Client):
    """A raw-socket HTTP client on one TLS connection.  CTX: an ssl
    context (tls_client_context); SNI: the server name sent (None: no SNI);
    SESSION: an ssl.SSLSession to resume.  The handshake runs in connect()
    and raises ssl.SSLError / OSError when it fails."""

    def __init__(self, port, ctx, sni=None, session=None, host='127.0.0.1',
                 timeout=IO_TIMEOUT, connect=True):
        self.ctx = ctx
        self.sni = sni
        self.session = session
        super().__init__(port, host=host, timeout=timeout, connect=connect)

    def connect(self):
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = self.ctx.wrap_socket(raw, server_hostname=self.sni,
                                             session=self.session)
        except BaseException:
            raw.close()
            raise
        self.stream = Stream(self.sock)
        return self

    # what the handshake gave ----------------------------------------------
    def peer_cert(self):
        """The parsed peer certificate (needs a verifying context)."""
        return self.sock.getpeercert()

    def peer_der(self):
        return self.sock.getpeercert(binary_form=True)

    def peer_names(self):
        """(CN, [SAN DNS names]) of the peer certificate."""
        return cert_names(self.peer_cert())

    def peer_serial(self):
        return int(self.peer_cert()['serialNumber'], 16)

    def version(self):
        return self.sock.version()

    def cipher(self):
        return self.sock.cipher()[0]

    def alpn(self):
        return self.sock.selected_alpn_protocol()

    def session_reused(self):
        return self.sock.session_reused

    def tls_session(self):
        return self.sock.session


def cert_names(parsed):
    """(CN, [SAN DNS names]) of a certificate parsed by ssl (getpeercert())."""
    cn = None
    for rdn in parsed.get('subject', ()):
        for k, v in rdn:
            if k == 'commonName':
                cn = v
    sans = [v for k, v in parsed.get('subjectAltName', ()) if k == 'DNS']
    return cn, sans


def der_key_type(der):
    """'rsa' or 'ec': the public key type of the DER certificate DER."""
    text = openssl('x509', '-inform', 'DER', '-noout', '-text', input=der).stdout.decode()
    if 'id-ecPublicKey' in text:
        return 'ec'
    if 'rsaEncryption' in text:
        return 'rsa'
    raise AssertionError('unknown key type in\n%s' % text)


def https_get(port, target='/', ctx=None, sni=None, session=None, headers=None,
              host='test', timeout=IO_TIMEOUT):
    """One GET on a new TLS connection; (Response, TLSClient) with the
    client already closed (its handshake facts stay readable)."""
    c = TLSClient(port, ctx, sni=sni, session=session, timeout=timeout)
    try:
        r = c.request('GET', target, headers, host=host)
        facts = {'version': c.sock.version(), 'cipher': c.sock.cipher()[0],
                 'alpn': c.sock.selected_alpn_protocol(),
                 'reused': c.sock.session_reused, 'session': c.sock.session,
                 'cert': c.sock.getpeercert(), 'der': c.sock.getpeercert(binary_form=True)}
    finally:
        c.close()
    return r, facts


def s_client(port, *args, input=b'', timeout=15):
    """openssl s_client -connect 127.0.0.1:PORT ARGS, stdin INPUT (then EOF);
    (returncode, stdout, stderr) as text.  s_client's exit status does not
    say whether the handshake succeeded: read the output."""
    exe = require_tool(OPENSSL_BIN, 'openssl')
    proc = subprocess.run([exe, 's_client', '-connect', '127.0.0.1:%d' % port,
                           *args], input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=clean_env())
    return (proc.returncode, proc.stdout.decode('utf-8', 'replace'),
            proc.stderr.decode('utf-8', 'replace'))


def tls_server_context(cert, key, minimum=None, maximum=None, ciphers=None, alpn=None):
    import warnings
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if ciphers:
        ctx.set_ciphers(ciphers)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


class TLSBackend(Backend):
    """Backend over TLS (python's ssl, server side): the same paths and
    recording as Backend, behind a handshake with CERT/KEY (a Cert, or
    cert= and key= paths).  CTX replaces the context built from them.

    Per accepted TCP connection (self.connections) the handshake is run in
    the connection's thread; self.handshakes lists the ones that completed
    (dicts: conn, sni, version, cipher, alpn, resumed) and
    self.handshake_errors the ones that failed (conn, error)."""

    def __init__(self, name='backend', cert=None, key=None, ctx=None, minimum=None,
                 maximum=None, **kw):
        super().__init__(name, **kw)
        if ctx is None:
            if isinstance(cert, Cert):
                cert, key = cert.cert, cert.key
            ctx = tls_server_context(cert, key, minimum=minimum, maximum=maximum)
        self.ctx = ctx
        self.ctx.sni_callback = self._on_sni
        self.handshakes = []
        self.handshake_errors = []

    @staticmethod
    def _on_sni(sslsock, server_name, ctx):
        sslsock.veer_sni = server_name
        return None

    def resumed(self):
        with self.lock:
            return sum(1 for h in self.handshakes if h['resumed'])

    def _serve(self, sock, peer_port):
        sock.settimeout(IO_TIMEOUT)
        try:
            ssock = self.ctx.wrap_socket(sock, server_side=True,
                                         do_handshake_on_connect=False)
        except (OSError, ValueError) as e:
            with self.lock:
                self.handshake_errors.append({'conn': peer_port, 'error': repr(e)})
                self._socks.discard(sock)
            sock.close()
            return
        with self.lock:
            self._socks.discard(sock)
            self._socks.add(ssock)
        try:
            ssock.do_handshake()
        except (OSError, ValueError) as e:
            with self.lock:
                self.handshake_errors.append({'conn': peer_port, 'error': repr(e),
                                              'sni': getattr(ssock, 'veer_sni', None)})
                self._socks.discard(ssock)
            try:
                ssock.close()
            except OSError:
                pass
            return
        ssock.settimeout(None)
        with self.lock:
            self.handshakes.append({
                'conn': peer_port, 'sni': getattr(ssock, 'veer_sni', None),
                'version': ssock.version(), 'cipher': ssock.cipher()[0],
                'alpn': ssock.selected_alpn_protocol(), 'resumed': ssock.session_reused})
        super()._serve(ssock, peer_port)


class SilentServer:
    """A listening socket on 127.0.0.1 that accepts connections and never
    sends or reads a byte (a TLS server whose handshake never answers).
    accepted counts the connections.  Context manager or close()."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.address = '127.0.0.1:%d' % self.port
        self.socks = []
        self.stopping = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    @property
    def accepted(self):
        return len(self.socks)

    def _run(self):
        self.lsock.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.socks.append(s)

    def close(self):
        self.stopping.set()
        self.t.join(2)
        for s in self.socks:
            s.close()
        self.lsock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sslscan(port, *args, timeout=120):
    """Run sslscan --no-colour on 127.0.0.1:PORT; its output (text).  Fails
    naming scripts/deps when sslscan is missing."""
    exe = require_tool(SSLSCAN_BIN, 'sslscan')
    proc = subprocess.run([exe, '--no-colour', *args, '127.0.0.1:%d' % port],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout, env=clean_env())
    out = proc.stdout.decode('utf-8', 'replace')
    if proc.returncode != 0:
        raise AssertionError('sslscan exited with %d\n%s' % (proc.returncode, out))
    return out
