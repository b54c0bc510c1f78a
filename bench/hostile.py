#!/usr/bin/env python3
"""bench/hostile.py: the same hostile HTTP/1.1 requests against HAProxy,
nginx and veer, each in front of its own recording backend.

    python3 bench/hostile.py                 # all three proxies, every case
    python3 bench/hostile.py --proxies veer  # veer alone
    python3 bench/hostile.py --only cl_te,obs_fold --show-bytes

For each case and proxy the table shows what the client got (the status
codes of the responses, or "closed" / "timeout") and what reached the
backend ("-": nothing, "1 req": one complete request, "head": a request
that never completed, "+partial": bytes after the last complete request).
A cell is marked "!" when the proxy forwarded something suspicious; see
bench/README.md ("Hostile requests") for the classes and the rule.

Python 3 standard library only.  Needs haproxy and nginx on PATH (Debian's,
installed by scripts/deps) and a built veer (--veer, default $VEER or
build/veer).  Every process listens on a free 127.0.0.1 port and runs from a
temporary directory; nothing is left behind.
"""

import argparse
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.normpath(os.path.join(REPO, '..', 'shared', 'corpus',
                                       'desync_guardian_cases.json'))

IDLE = 1.0        # client: silence that ends the wait for an answer
AFTER_EOF = 1.5   # client: wait after half-closing, for the proxy to close
SETTLE = 0.3      # backend: quiet time that ends a case
SETTLE_MAX = 3.0

# ---------------------------------------------------------------------------
# The cases.
#
# cls says what RFC 9110/9112 let a proxy do with the request:
#   reject     the RFC says reject it (400/505/501; MUST or SHOULD): anything
#              that reaches the backend is suspicious, unless CHECK narrows it
#              (errors inside a body, which a streaming proxy may find after
#              it forwarded the head: then only the bad bytes count);
#   normalise  the RFC lets a proxy reject it, or repair it and forward the
#              repaired form: suspicious when CHECK finds the hostile form at
#              the backend;
#   policy     the RFC lets a proxy accept it (veer refuses it by policy or
#              by a limit): only a desync is suspicious;
#   valid      a control: it should reach the backend.
# For every class, the backend seeing more requests than the client sent is
# suspicious (a desync).


def _head(data):
    """The head part of what the backend received (up to the first blank
    line), for checks that look only at headers."""
    m = re.search(rb'\r?\n\r?\n', data)
    return data[:m.start()] if m else data


def has(marker):
    return lambda seen: marker in seen.raw


def has_ci(marker):
    return lambda seen: marker.lower() in seen.raw.lower()


def bare_lf(seen):
    return re.search(rb'(?<!\r)\n', _head(seen.raw)) is not None


def bare_cr(seen):
    return re.search(rb'\r(?!\n)', _head(seen.raw)) is not None


def folded(seen):
    return re.search(rb'\n[ \t]', _head(seen.raw)) is not None


def cl_and_te(seen):
    return any('content-length' in h and 'transfer-encoding' in h for h in seen.heads)


def two_cl(seen):
    return any(len(h.get('content-length', ())) > 1 or
               any(b',' in v for v in h.get('content-length', ())) for h in seen.heads)


def http10_te(seen):
    return b' HTTP/1.0\r\n' in seen.raw and any('transfer-encoding' in h for h in seen.heads)


def any_of(*checks):
    return lambda seen: any(c(seen) for c in checks)


def req(head, body=b''):
    """HEAD (lines ended by LF, a blank line last) with CRLF line ends, then
    BODY as it is."""
    return head.replace(b'\n', b'\r\n') + body


POST = b'POST / HTTP/1.1\nHost: h\n'
GET = b'GET / HTTP/1.1\nHost: h\n'
SMUGGLED = b'GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n'

CASES = [
    # name, description, raw bytes, class, rule, check, requests sent
    ('valid_get', 'control: a plain GET', req(GET + b'\n'), 'valid', '', None, 1),
    ('valid_chunked', 'control: a chunked POST',
     req(POST + b'Transfer-Encoding: chunked\n\n', b'5\r\nhello\r\n0\r\n\r\n'),
     'valid', '', None, 1),

    # -- Content-Length and Transfer-Encoding
    ('cl_te', 'CL and TE (CL.TE, "G" left over)',
     req(POST + b'Content-Length: 6\nTransfer-Encoding: chunked\n\n', b'0\r\n\r\nG'),
     'normalise', '9112 6.1: reject, or drop CL and close', cl_and_te, 1),
    ('te_cl', 'TE and CL (TE.CL, a chunk holds a request)',
     req(POST + b'Transfer-Encoding: chunked\nContent-Length: 3\n\n',
         b'8\r\nSMUGGLED\r\n0\r\n\r\n'),
     'normalise', '9112 6.1: reject, or drop CL and close', cl_and_te, 1),
    ('cl_te_pipelined', 'CL and TE, a whole request after the body',
     req(POST + b'Content-Length: 44\nTransfer-Encoding: chunked\n\n',
         b'0\r\n\r\n' + SMUGGLED),
     'normalise', '9112 6.1: close after answering', any_of(cl_and_te, has(b'/smuggled')), 1),
    ('cl_differ', 'two different Content-Length',
     req(POST + b'Content-Length: 3\nContent-Length: 5\n\n', b'hello'),
     'reject', '9112 6.3 (5): 400, close', None, 1),
    ('cl_same_twice', 'Content-Length: 5 twice',
     req(POST + b'Content-Length: 5\nContent-Length: 5\n\n', b'hello'),
     'normalise', '9110 8.6: reject, or forward one', two_cl, 1),
    ('cl_list', 'Content-Length: 5, 5',
     req(POST + b'Content-Length: 5, 5\n\n', b'hello'),
     'normalise', '9110 8.6: reject, or forward one', two_cl, 1),
    ('cl_junk', 'Content-Length: 5x', req(POST + b'Content-Length: 5x\n\n', b'hello'),
     'reject', '9112 6.3 (5): 400, close', None, 1),
    ('cl_negative', 'Content-Length: -1', req(POST + b'Content-Length: -1\n\n'),
     'reject', '9112 6.3 (5): 400, close', None, 1),
    ('cl_plus', 'Content-Length: +5', req(POST + b'Content-Length: +5\n\n', b'hello'),
     'reject', '9112 6.3 (5): 400, close', None, 1),
    ('cl_hex', 'Content-Length: 0x5', req(POST + b'Content-Length: 0x5\n\n', b'hello'),
     'reject', '9112 6.3 (5): 400, close', None, 1),
    ('cl_empty', 'Content-Length: (empty)', req(POST + b'Content-Length: \n\n'),
     'reject', '9112 6.3 (5): 400, close', None, 1),
    ('cl_overflow', 'Content-Length: 2^64+5',
     req(POST + b'Content-Length: 18446744073709551621\n\n', b'hello'),
     'reject', '9112 6.3 (5): 400, close', None, 1),
    ('cl_vtab', 'Content-Length: \\x0b5', req(POST + b'Content-Length: \x0b5\n\n', b'hello'),
     'reject', '9112 6.3 (5): 400, close', None, 1),
    ('te_not_final', 'Transfer-Encoding: chunked, gzip',
     req(POST + b'Transfer-Encoding: chunked, gzip\n\n', b'0\r\n\r\n'),
     'reject', '9112 6.3 (4): 400, close', None, 1),
    ('te_two_lines', 'Transfer-Encoding: chunked + Transfer-Encoding: gzip',
     req(POST + b'Transfer-Encoding: chunked\nTransfer-Encoding: gzip\n\n', b'0\r\n\r\n'),
     'reject', '9112 6.3 (4): 400, close', None, 1),
    ('te_unknown', 'Transfer-Encoding: xchunked',
     req(POST + b'Transfer-Encoding: xchunked\n\n', b'0\r\n\r\n'),
     'reject', '9112 6.1: 501 (SHOULD)', None, 1),
    ('te_identity', 'Transfer-Encoding: identity',
     req(POST + b'Transfer-Encoding: identity\nContent-Length: 5\n\n', b'hello'),
     'reject', '9112 6.1: 501 (SHOULD)', None, 1),
    ('te_http10', 'chunked in an HTTP/1.0 request',
     req(b'POST / HTTP/1.0\nHost: h\nTransfer-Encoding: chunked\n\n', b'0\r\n\r\n'),
     'normalise', '9112 6.1: faulty framing, close after', http10_te, 1),
    ('te_space_colon', '"Transfer-Encoding : chunked"',
     req(POST + b'Transfer-Encoding : chunked\n\n', b'0\r\n\r\n'),
     'reject', '9112 5.1: 400 (MUST)', None, 1),
    ('te_vtab', 'Transfer-Encoding: \\x0bchunked',
     req(POST + b'Transfer-Encoding: \x0bchunked\n\n', b'0\r\n\r\n'),
     'reject', '9112 6.3 (4): 400, close', None, 1),
    ('te_folded', 'Transfer-Encoding: obs-fold, then chunked',
     req(POST + b'Transfer-Encoding:\n chunked\n\n', b'0\r\n\r\n'),
     'normalise', '9112 5.2: 400, or unfold', folded, 1),
    ('te_underscore', 'Transfer_Encoding: chunked (and CL)',
     req(POST + b'Content-Length: 5\nTransfer_Encoding: chunked\n\n', b'0\r\n\r\n'),
     'normalise', 'CGI/WSGI read "_" as "-": drop or reject', has_ci(b'transfer_encoding'), 1),
    ('cl_underscore', 'Content_Length: 5 on a GET',
     req(GET + b'Content_Length: 5\n\n'),
     'normalise', 'CGI/WSGI read "_" as "-": drop or reject', has_ci(b'content_length'), 1),

    # -- chunked bodies: the head may be on its way before the error shows
    ('chunk_size_junk', 'chunk size "zz"',
     req(POST + b'Transfer-Encoding: chunked\n\n', b'zz\r\nhello\r\n0\r\n\r\n'),
     'reject', '9112 7.1: invalid framing', has(b'zz\r\n'), 1),
    ('chunk_size_overflow', 'chunk size 2^84-1',
     req(POST + b'Transfer-Encoding: chunked\n\n', b'fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n'),
     'reject', '9112 7.1: invalid framing', has(b'fffffffffffffffffffff'), 1),
    ('chunk_size_0x', 'chunk size "0x5"',
     req(POST + b'Transfer-Encoding: chunked\n\n', b'0x5\r\nhello\r\n0\r\n\r\n'),
     'reject', '9112 7.1: invalid framing', has(b'0x5\r\n'), 1),
    ('chunk_ext_nul', 'NUL in a chunk extension',
     req(POST + b'Transfer-Encoding: chunked\n\n', b'5;a=\x00b\r\nhello\r\n0\r\n\r\n'),
     'reject', '9112 7.1.1: invalid chunk-ext', has(b'\x00'), 1),
    ('chunk_ext_lf', 'bare LF inside a chunk extension',
     req(POST + b'Transfer-Encoding: chunked\n\n', b'5;a\nb\r\nhello\r\n0\r\n\r\n'),
     'reject', '9112 7.1.1: invalid chunk-ext', has(b';a\nb'), 1),
    ('chunk_no_crlf', 'chunk data not followed by CRLF',
     req(POST + b'Transfer-Encoding: chunked\n\n', b'5\r\nhelloXX0\r\n\r\n'),
     'reject', '9112 7.1: invalid framing', has(b'helloXX'), 1),

    # -- line ends and whitespace
    ('bare_lf', 'bare LF line ends throughout', b'GET / HTTP/1.1\nHost: h\nX-A: 1\n\n',
     'normalise', '9112 2.2: MAY accept LF', bare_lf, 1),
    ('bare_cr_value', 'bare CR inside a value', req(GET + b'X-A: a\rb\n\n'),
     'normalise', '9112 2.2: 400, or CR -> SP', bare_cr, 1),
    ('bare_cr_line_end', 'bare CR as a line end', req(b'GET / HTTP/1.1\nHost: h\rX-A: 1\n\n'),
     'normalise', '9112 2.2: 400, or CR -> SP', bare_cr, 1),
    ('obs_fold', 'obs-fold (continuation line)', req(GET + b'X-A: 1\n  folded\n\n'),
     'normalise', '9112 5.2: 400, or unfold', folded, 1),
    ('ws_first_line', 'whitespace line before the first header',
     req(b'GET / HTTP/1.1\n X-A: 1\nHost: h\n\n'),
     'normalise', '9112 2.2: 400, or drop the line', has(b'\n X-A'), 1),
    ('ws_before_colon', '"X-A : 1"', req(GET + b'X-A : 1\n\n'),
     'reject', '9112 5.1: 400 (MUST)', None, 1),

    # -- characters in names and values
    ('nul_in_value', 'NUL in a value', req(GET + b'X-A: a\x00b\n\n'),
     'normalise', '9110 5.5: 400, or NUL -> SP', has(b'\x00'), 1),
    ('nul_in_name', 'NUL in a name', req(GET + b'X-A\x00B: 1\n\n'),
     'normalise', '9110 5.1: not a token: 400, or drop', has(b'\x00'), 1),
    ('ctl_in_value', 'CTL \\x01 in a value', req(GET + b'X-A: a\x01b\n\n'),
     'policy', '9110 5.5: MAY keep other CTLs', None, 1),
    ('bad_name_char', 'name "X(A)"', req(GET + b'X(A): 1\n\n'),
     'normalise', '9110 5.1: not a token: 400, or drop', has(b'X(A)'), 1),
    ('space_in_name', 'name "Bad Name"', req(GET + b'Bad Name: 1\n\n'),
     'normalise', '9110 5.1: not a token: 400, or drop', has(b'Bad Name'), 1),
    ('no_colon', 'a header line without a colon', req(GET + b'NoColonHere\n\n'),
     'normalise', '9112 5: not a field line: 400, or drop', has(b'NoColonHere'), 1),

    # -- Host
    ('no_host', 'HTTP/1.1 without Host', req(b'GET / HTTP/1.1\nX-A: 1\n\n'),
     'reject', '9112 3.2: 400 (MUST)', None, 1),
    ('two_hosts', 'two Host lines', req(GET + b'Host: other\n\n'),
     'reject', '9112 3.2: 400 (MUST)', None, 1),
    ('host_space', 'Host: "a b"', req(b'GET / HTTP/1.1\nHost: a b\n\n'),
     'reject', '9112 3.2: 400 (MUST)', None, 1),

    # -- request line
    ('space_in_target', 'target "/a b"', req(b'GET /a b HTTP/1.1\nHost: h\n\n'),
     'reject', '9112 3: 400 (SHOULD)', None, 1),
    ('ctl_in_target', 'CTL \\x01 in the target', req(b'GET /a\x01 HTTP/1.1\nHost: h\n\n'),
     'reject', '9112 3: 400 (SHOULD)', None, 1),
    ('tab_separators', 'tabs between method, target and version',
     req(b'GET\t/\tHTTP/1.1\nHost: h\n\n'),
     'policy', '9112 3: MAY split on whitespace', None, 1),
    ('version_lower', 'version "http/1.1"', req(b'GET / http/1.1\nHost: h\n\n'),
     'reject', '9112 3: invalid line: 400, no autocorrect', None, 1),
    ('version_1_10', 'version "HTTP/1.10"', req(b'GET / HTTP/1.10\nHost: h\n\n'),
     'reject', '9112 3: invalid line: 400, no autocorrect', None, 1),
    ('version_2', 'version "HTTP/2.0" on HTTP/1 framing', req(b'GET / HTTP/2.0\nHost: h\n\n'),
     'normalise', '9110 2.5: 505, or not forwarded as 2.0', has(b'HTTP/2.0'), 1),
    ('h2_preface', 'the HTTP/2 connection preface', b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
     'reject', '9113 3.4: not HTTP/1.1', None, 1),
    ('version_0_9', 'version "HTTP/0.9"', req(b'GET / HTTP/0.9\nHost: h\n\n'),
     'normalise', '9110 2.5: 505, or not forwarded as 0.9', has(b'HTTP/0.9'), 1),
    ('http09_simple', 'HTTP/0.9 simple request "GET /"', b'GET /\r\n',
     'policy', 'none: 0.9 is long gone', None, 1),
    ('no_method', 'no method', req(b' / HTTP/1.1\nHost: h\n\n'),
     'reject', '9112 3: 400 (SHOULD)', None, 1),

    # -- limits
    ('huge_header', 'one 70 KiB header', req(GET + b'X-Big: ' + b'a' * 70000 + b'\n\n'),
     'policy', 'limit: 431', None, 1),
    ('many_headers', '200 headers',
     req(GET + b''.join(b'X-H%d: %d\n' % (i, i) for i in range(200)) + b'\n'),
     'policy', 'limit: 431', None, 1),
    ('huge_target', 'a 70 KiB target', req(b'GET /' + b'a' * 70000 + b' HTTP/1.1\nHost: h\n\n'),
     'policy', 'limit: 414/431', None, 1),

    # -- body semantics
    ('get_with_body', 'GET whose body is a request',
     req(GET + b'Content-Length: %d\n\n' % len(SMUGGLED), SMUGGLED),
     'policy', '9110 9.3.1: no defined meaning', None, 1),
]


def desync_cases(path):
    """The Severe cases of aws/http-desync-guardian (shared/corpus): class
    reject (their verdict, stricter than the RFC in places)."""
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    out = []
    for i, c in enumerate(x for x in data if x['tier'] == 'Severe'):
        try:
            raw = c['raw'].encode('latin-1')
        except UnicodeEncodeError:
            raw = c['raw'].encode('utf-8')
        out.append(('dg%02d' % (i + 1), c['name'], raw, 'reject', 'desync-guardian ' + c['reason'],
                    None, 1))
    return out


# ---------------------------------------------------------------------------
# The recording backend: answers what it can parse, keeps every byte.

class Seen:
    """What one backend received during one case."""

    def __init__(self, chunks):
        self.raw = b''.join(chunks)
        self.conns = len(chunks)
        self.heads = []      # header dicts: lower-case name -> [values]
        self.complete = 0
        self.partial = 0     # a request that began and did not complete
        for data in chunks:
            reqs, rest = parse_requests(data)
            for head, done in reqs:
                self.heads.append(head)
                if done:
                    self.complete += 1
                else:
                    self.partial += 1
            if rest.strip(b'\r\n'):
                self.partial += 1

    @property
    def any(self):
        return bool(self.raw)

    @property
    def starts(self):
        return self.complete + self.partial

    def label(self):
        if not self.raw:
            return '-'
        if self.complete == 0:
            return 'head' if self.heads else 'bytes'
        text = '%d req' % self.complete
        if self.partial:
            text += ' +partial'
        return text


def _chunked_end(buf, pos):
    """End of a chunked body starting at POS: an index, None when more bytes
    are needed, -1 when it is not chunked."""
    while True:
        nl = buf.find(b'\n', pos)
        if nl < 0:
            return None
        size = buf[pos:nl].split(b';', 1)[0].strip()
        if not re.fullmatch(rb'[0-9a-fA-F]{1,16}', size):
            return -1
        n = int(size, 16)
        pos = nl + 1
        if n == 0:
            while True:  # trailers, then an empty line
                nl = buf.find(b'\n', pos)
                if nl < 0:
                    return None
                line = buf[pos:nl].rstrip(b'\r')
                pos = nl + 1
                if not line:
                    return pos
        if len(buf) < pos + n + 2:
            return None
        pos += n
        if buf[pos:pos + 2] == b'\r\n':
            pos += 2
        elif buf[pos:pos + 1] == b'\n':
            pos += 1
        else:
            return -1


def parse_requests(buf):
    """Leniently split BUF into requests: ([(headers, complete)], rest).
    Framing: chunked when any Transfer-Encoding names it, else the first
    Content-Length digits, else no body."""
    out = []
    pos = 0
    while True:
        while buf[pos:pos + 2] == b'\r\n' or buf[pos:pos + 1] == b'\n':
            pos += 2 if buf[pos:pos + 1] == b'\r' else 1
        m = re.compile(rb'\r?\n\r?\n').search(buf, pos)
        if not m:
            return out, buf[pos:]
        lines = re.split(rb'\r?\n', buf[pos:m.start()])
        head = {'_line': lines[0]}
        for line in lines[1:]:
            name, sep, value = line.partition(b':')
            if sep:
                head.setdefault(name.strip().lower().decode('latin-1'), []).append(value.strip())
        body = m.end()
        te = b','.join(head.get('transfer-encoding', [])).lower()
        if b'chunked' in te:
            end = _chunked_end(buf, body)
            if end is None or end < 0:
                out.append((head, False))
                return out, b''
        else:
            cl = re.match(rb'\d+', (head.get('content-length') or [b''])[0])
            end = body + (int(cl.group()) if cl else 0)
            if len(buf) < end:
                out.append((head, False))
                return out, b''
        out.append((head, True))
        pos = end


class RecordingBackend:
    """127.0.0.1:PORT; every connection's bytes are kept; each complete
    request (parse_requests) gets "200 backend-ok".  mark() starts a case,
    collect() waits for quiet, closes every connection and returns a Seen."""

    RESPONSE = (b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n'
                b'backend-ok\n')

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(('127.0.0.1', 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []          # [sock, bytearray] of the current case
        self.last = time.monotonic()
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            entry = [s, bytearray()]
            with self.lock:
                self.conns.append(entry)
                self.last = time.monotonic()
            threading.Thread(target=self._serve, args=(entry,), daemon=True).start()

    def _serve(self, entry):
        s, buf = entry
        answered = 0
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return
                with self.lock:
                    buf += data
                    self.last = time.monotonic()
                    reqs, _ = parse_requests(bytes(buf))
                done = sum(1 for _, ok in reqs if ok)
                while answered < done:
                    s.sendall(self.RESPONSE)
                    answered += 1
        except OSError:
            return

    def mark(self):
        with self.lock:
            self.last = time.monotonic()

    def collect(self):
        deadline = time.monotonic() + SETTLE_MAX
        while time.monotonic() < deadline:
            with self.lock:
                quiet = time.monotonic() - self.last
            if quiet >= SETTLE:
                break
            time.sleep(0.05)
        with self.lock:
            conns, self.conns = self.conns, []
        for s, _ in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        return Seen([bytes(b) for _, b in conns if b])

    def close(self):
        self.stopping = True
        self.lsock.close()


# ---------------------------------------------------------------------------
# The client side of one case.

STATUS_RE = re.compile(rb'(?:^|\n)HTTP/\d\.\d (\d{3})')


def exchange(port, raw):
    """Send RAW on a new connection; the label of what came back."""
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=3)
    except OSError as e:
        return 'connect failed: %s' % e.strerror
    got, closed, shut, early = b'', False, False, False
    try:
        try:
            s.sendall(raw)
        except OSError:
            pass  # the proxy closed while we sent (a large request): read what it said
        deadline = time.monotonic() + IDLE
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if shut:
                    break
                shut = True
                early = bool(got)
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                deadline = time.monotonic() + AFTER_EOF
                continue
            r, _, _ = select.select([s], [], [], left)
            if not r:
                continue
            try:
                data = s.recv(65536)
            except OSError:
                closed = True
                break
            if not data:
                closed = True
                break
            got += data
            deadline = time.monotonic() + (AFTER_EOF if shut else IDLE)
    finally:
        s.close()
    codes = [c.decode() for c in STATUS_RE.findall(got)]
    if codes:
        text = '+'.join(codes)
    elif got:
        text = 'no status line'  # an HTTP/0.9 answer, or HTTP/2 frames
    else:
        text = 'closed'
    if shut and not early:
        # Nothing came before the half-close: the proxy was waiting for more.
        text = 'timeout' if text == 'closed' and not closed else 'timeout→' + text
    elif not closed:
        text += ' (open)'
    return text


# ---------------------------------------------------------------------------
# The proxies.

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


class Proxy:
    name = ''

    def __init__(self, backend_port, tmp):
        self.backend_port = backend_port
        self.tmp = os.path.join(tmp, self.name)
        os.makedirs(self.tmp)
        self.log_path = os.path.join(self.tmp, 'log')
        self.proc = None
        self.port = None

    def command(self):
        raise NotImplementedError

    def start(self):
        for _ in range(3):
            self.port = free_port()
            cmd = self.command()
            with open(self.log_path, 'ab') as log:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, cwd=self.tmp)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                if port_open(self.port):
                    return
                time.sleep(0.05)
            self.stop()
        raise RuntimeError('%s did not start: %s\n%s' % (self.name, ' '.join(cmd), self.log()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')[-3000:]
        except OSError:
            return ''

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(text)
        return path


class HAProxy(Proxy):
    name = 'haproxy'

    @staticmethod
    def version():
        out = subprocess.run(['haproxy', '-v'], stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r'version (\S+)', out)
        return 'HAProxy ' + (m.group(1).split('-')[0] if m else '?')

    def command(self):
        cfg = self.write('haproxy.cfg', (
            'global\n'
            '\tnbthread 1\n'
            '\tmaxconn 1000\n'
            'defaults\n'
            '\tmode http\n'
            '\toption http-keep-alive\n'
            '\ttimeout connect 2s\n'
            '\ttimeout client 10s\n'
            '\ttimeout server 10s\n'
            '\ttimeout http-request 10s\n'
            'frontend hostile\n'
            '\tbind 127.0.0.1:%d\n'
            '\tdefault_backend backend\n'
            'backend backend\n'
            '\tserver b1 127.0.0.1:%d\n') % (self.port, self.backend_port))
        return ['haproxy', '-db', '-f', cfg]


class Nginx(Proxy):
    name = 'nginx'

    @staticmethod
    def version():
        out = subprocess.run(['nginx', '-v'], stderr=subprocess.PIPE, text=True).stderr
        m = re.search(r'nginx/(\S+)', out)
        return 'nginx ' + (m.group(1) if m else '?')

    def command(self):
        d = self.tmp
        v = subprocess.run(['nginx', '-V'], stderr=subprocess.PIPE, text=True).stderr
        temps = ['client_body_temp_path %s/body;' % d, 'proxy_temp_path %s/proxy;' % d]
        for mod in ('fastcgi', 'uwsgi', 'scgi'):
            if '--without-http_%s_module' % mod not in v:
                temps.append('%s_temp_path %s/%s;' % (mod, d, mod))
        conf = self.write('nginx.conf', (
            'daemon off;\n'
            'master_process off;\n'
            'worker_processes 1;\n'
            'pid %s/nginx.pid;\n'
            'error_log %s/error.log warn;\n'
            'events { worker_connections 1024; }\n'
            'http {\n'
            '  access_log off;\n'
            '  %s\n'
            '  upstream backend { server 127.0.0.1:%d; keepalive 16; }\n'
            '  server {\n'
            '    listen 127.0.0.1:%d;\n'
            '    location / {\n'
            '      proxy_pass http://backend;\n'
            '      proxy_http_version 1.1;\n'
            '      proxy_set_header Connection "";\n'
            '      proxy_set_header Host $http_host;\n'
            '    }\n'
            '  }\n'
            '}\n') % (d, d, '\n  '.join(temps), self.backend_port, self.port))
        return ['nginx', '-p', d + '/', '-e', os.path.join(d, 'error.log'), '-c', conf]


class Veer(Proxy):
    name = 'veer'
    binary = 'build/veer'

    @classmethod
    def version(cls):
        out = subprocess.run([cls.binary, '--version'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True).stdout
        m = re.search(r'(\d+\.\d+\.\d+\S*)', out)
        return 'veer ' + (m.group(1) if m else '?')

    def command(self):
        cfg = self.write('veer.yaml', (
            'global:\n'
            '  workers: 1\n'
            'listeners:\n'
            '  - name: hostile\n'
            '    listen: "127.0.0.1:%d"\n'
            'pools:\n'
            '  - name: backend\n'
            '    servers: [ { address: "127.0.0.1:%d" } ]\n'
            'routes:\n'
            '  - { name: all, match: { path_prefix: / }, pool: backend }\n')
            % (self.port, self.backend_port))
        return [self.binary, '-c', cfg]


PROXIES = {'haproxy': HAProxy, 'nginx': Nginx, 'veer': Veer}


# ---------------------------------------------------------------------------
# Running and reporting.

def suspicious(case, seen):
    _, _, _, cls, _, check, sent = case
    if cls == 'valid':
        return False
    if seen.starts > sent:
        return True  # the backend saw more requests than the client sent
    if check is not None:
        return check(seen)
    return cls == 'reject' and seen.any


def run_proxy(cls, cases, tmp, results):
    backend = RecordingBackend()
    proxy = cls(backend.port, tmp)
    out = results[cls.name] = {}
    try:
        proxy.start()
        for case in cases:
            if not proxy.alive():
                out[case[0]] = ('proxy died', None)
                continue
            backend.mark()
            answer = exchange(proxy.port, case[2])
            seen = backend.collect()
            if not proxy.alive():
                answer += ' (proxy died)'
            out[case[0]] = (answer, seen)
    except Exception as e:  # reported, not raised: the other proxies go on
        out['_error'] = '%s: %s' % (type(e).__name__, e)
    finally:
        proxy.stop()
        backend.close()


def cell(case, res):
    answer, seen = res
    if seen is None:
        return answer
    text = '%s / %s' % (answer, seen.label())
    if suspicious(case, seen):
        text += ' **!**'
    return text


def md(text):
    return text.replace('|', '\\|')


def report(cases, names, versions, results, show_bytes, title):
    lines = ['### %s' % title, '',
             '| case | request | class | rule (RFC) | %s |'
             % ' | '.join(versions[n] for n in names),
             '|---|---|---|---|%s' % ('---|' * len(names))]
    for case in cases:
        row = [case[0], md(case[1]), case[3], md(case[4])]
        for n in names:
            res = results[n].get(case[0])
            row.append(md(cell(case, res)) if res else 'n/a')
        lines.append('| %s |' % ' | '.join(row))
        if show_bytes:
            for n in names:
                res = results[n].get(case[0])
                if res and res[1] is not None and res[1].any:
                    lines.append('|  | %s at the backend: `%s` | | | %s|' % (
                        n, md(repr(res[1].raw[:300])[2:-1]), ' | ' * (len(names) - 1)))
    return lines


def counts(cases, names, results):
    out = {}
    for n in names:
        sus, fwd, hostile = [], 0, 0
        for case in cases:
            res = results[n].get(case[0])
            if case[3] == 'valid' or res is None or res[1] is None:
                continue
            hostile += 1
            if res[1].any:
                fwd += 1
            if suspicious(case, res[1]):
                sus.append(case[0])
        out[n] = (sus, fwd, hostile)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--veer', default=os.environ.get('VEER') or os.path.join(REPO, 'build', 'veer'),
                    help='veer binary (default: $VEER, else build/veer)')
    ap.add_argument('--proxies', default='haproxy,nginx,veer',
                    help='comma-separated, from haproxy, nginx, veer')
    ap.add_argument('--corpus', default=CORPUS,
                    help='desync_guardian_cases.json (its Severe cases are a second table); '
                         '"none" to skip')
    ap.add_argument('--only', help='comma-separated case names')
    ap.add_argument('--show-bytes', action='store_true',
                    help='add what reached each backend under each row')
    args = ap.parse_args()

    Veer.binary = args.veer
    names = [n.strip() for n in args.proxies.split(',') if n.strip()]
    for n in names:
        if n not in PROXIES:
            ap.error('unknown proxy %r' % n)
        exe = args.veer if n == 'veer' else n
        if shutil.which(exe) is None and not os.access(exe, os.X_OK):
            ap.error('%s not found (%s); scripts/deps installs haproxy and nginx, '
                     'meson/ninja build veer' % (n, exe))
    curated = CASES
    severe = []
    if args.corpus != 'none':
        if os.path.isfile(args.corpus):
            severe = desync_cases(args.corpus)
        else:
            print('note: %s not found: desync-guardian table skipped' % args.corpus,
                  file=sys.stderr)
    if args.only:
        keep = set(args.only.split(','))
        curated = [c for c in curated if c[0] in keep]
        severe = [c for c in severe if c[0] in keep]
    versions = {n: PROXIES[n].version() for n in names}

    tmp = tempfile.mkdtemp(prefix='veer-hostile-')
    results = {}
    started = time.monotonic()
    try:
        threads = [threading.Thread(target=run_proxy,
                                    args=(PROXIES[n], curated + severe, tmp, results))
                   for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for n in names:
        if '_error' in results[n]:
            print('%s: %s' % (n, results[n]['_error']), file=sys.stderr)

    out = ['# Hostile requests: %s' % ', '.join(versions[n] for n in names), '',
           'Cell: client answer / what reached the backend; **!** = forwarded something '
           'suspicious (bench/README.md, "Hostile requests").', '']
    if curated:
        out += report(curated, names, versions, results, args.show_bytes,
                      'Curated cases (%d)' % len(curated)) + ['']
    if severe:
        out += report(severe, names, versions, results, args.show_bytes,
                      'desync-guardian Severe cases (%d; **!**: reached the backend, which '
                      'their verdict forbids)' % len(severe)) + ['']
    out += ['### Summary', '', '| | %s |' % ' | '.join(versions[n] for n in names),
            '|---|%s' % ('---|' * len(names))]
    c1 = counts(curated, names, results)
    c2 = counts(severe, names, results)
    if curated:
        out.append('| curated: forwarded something suspicious | %s |' % ' | '.join(
            '%d of %d' % (len(c1[n][0]), c1[n][2]) for n in names))
        out.append('| curated: anything reached the backend | %s |' % ' | '.join(
            '%d of %d' % (c1[n][1], c1[n][2]) for n in names))
    if severe:
        out.append('| desync-guardian Severe: reached the backend (their verdict: never) | %s |'
                   % ' | '.join(
            '%d of %d' % (len(c2[n][0]), c2[n][2]) for n in names))
    out.append('')
    for n in names:
        sus = c1[n][0] + c2[n][0]
        out.append('- %s, suspicious: %s' % (versions[n], ', '.join(sus) if sus else 'none'))
    out.append('')
    out.append('(%d cases per proxy, %.0f s)' % (len(curated) + len(severe),
                                                time.monotonic() - started))
    print('\n'.join(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
