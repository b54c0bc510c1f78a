"""Third-party request corpora replayed through the real veer (SPEC 3,
Proxying: the smuggling rules).

Two corpora live in shared/corpus beside the repository (see its README):

- desync_guardian_cases.json: the test cases of aws/http-desync-guardian,
  each with a `tier`.  Severe: veer answers 4xx itself, closes, and the
  backend receives nothing.  Ambiguous: our policy is to reject the same way
  (the README allows forwarding a normalised form, but we prefer rejecting;
  a forwarded Ambiguous case fails here with what the backend received, so
  the choice stays visible).  Compliant / Acceptable: forwarded, unless an
  entry of DESYNC_STRICTER documents the veer rule that refuses it.
- llhttp_request_cases.json: the request tests of nodejs/llhttp in strict
  mode, each with an `outcome`.  error: veer refuses it (a 4xx, or, for a
  request that simply stops, no response and a close once the client
  half-closes); at most `messages_completed` requests reach the backend
  whole (those llhttp completed before the error).  ok: the
  `messages_completed` requests reach the backend whole and the client gets
  the backend's answers, unless LLHTTP_STRICTER documents why veer refuses.

Each case is replayed byte for byte on a fresh client connection to one
veer per test class, in front of a recording backend.  After a case, a
"fence" request on another connection marks the end of what that case may
have caused at the backend.  The client reads until veer closes; when veer
goes quiet with the connection open (a truncated request waiting for more
bytes, or a keep-alive connection after its answers) the client shuts down
its write side (SHUT_WR) and reads on until veer closes.
"""

import json
import os
import re
import select
import socket
import time
import unittest

import veertest
from veertest import IO_TIMEOUT, ProtocolError, Stream, make_config, read_response

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
# In CI the repository is cloned elsewhere with a copy of shared/ beside it.
CORPUS_DIR = os.path.normpath(os.path.join(REPO_ROOT, '..', 'shared', 'corpus'))

# How long veer may stay silent, connection open, before the client
# half-closes; and how long after that it has to close.
IDLE = 0.25
AFTER_SHUT = 3.0

FENCE = '/__corpus_fence/'
# VEER_CORPUS_LOG=FILE: one line per case (what the client and the backend
# saw), to review every verdict, passing or not.
CASE_LOG = os.environ.get('VEER_CORPUS_LOG')
BACKEND = 'corpus'


def load_corpus(name):
    path = os.path.join(CORPUS_DIR, name)
    if not os.path.isfile(path):
        raise AssertionError(
            'corpus file not found: %s\nThe third-party corpora are expected in shared/corpus '
            'beside the repository (%s/../shared/corpus); copy shared/ next to the clone.'
            % (path, REPO_ROOT))
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def raw_bytes(text):
    """The bytes of a corpus `raw`: one byte per code point (latin-1).  The
    single case with code points above U+00FF (llhttp "Disallow UTF-8 in URI
    path in strict mode") means them as UTF-8."""
    try:
        return text.encode('latin-1')
    except UnicodeEncodeError:
        return text.encode('utf-8')


# ---------------------------------------------------------------------------
# A reference framer: how a strict RFC 9112 server splits well-formed bytes
# into requests.  Used only for what veer should forward (method, target,
# body of each request), never to decide what is malformed: that is the
# corpus authors' verdict.

TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
VERSION_RE = re.compile(rb'HTTP/1\.[0-9]')


class Framed:
    def __init__(self, method, target, version, headers):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers      # [(lower-case name, value bytes)]
        self.complete = False       # head and body all present
        self.body = None
        self.start = None           # offset of the request line
        self.line_end = None        # offset just past its CRLF

    def values(self, name):
        return [v for k, v in self.headers if k == name]

    def __repr__(self):
        return '<%s %s %s complete=%s body=%r>' % (self.method, self.target, self.version,
                                                   self.complete, (self.body or b'')[:40])


def _dechunk(raw, pos):
    """(body, end) of the chunked body at POS, or (None, None) if cut short."""
    body = []
    while True:
        eol = raw.find(b'\r\n', pos)
        if eol < 0:
            return None, None
        line = raw[pos:eol]
        m = re.fullmatch(rb'([0-9A-Fa-f]+)(;[^\r\n]*)?', line)
        if not m:
            raise ValueError('chunk size line %r' % line)
        size = int(m.group(1), 16)
        pos = eol + 2
        if size == 0:
            while True:  # trailer section
                eol = raw.find(b'\r\n', pos)
                if eol < 0:
                    return None, None
                done = eol == pos
                pos = eol + 2
                if done:
                    return b''.join(body), pos
        if len(raw) < pos + size + 2:
            return None, None
        body.append(raw[pos:pos + size])
        if raw[pos + size:pos + size + 2] != b'\r\n':
            raise ValueError('chunk data not followed by CRLF')
        pos += size + 2


def frame(raw):
    """The requests in RAW, in order: a list of Framed, the last one possibly
    incomplete (.complete False; .body None when even its head is cut short,
    then .method is None).  Requests after one that closes the connection
    (Connection: close, HTTP/1.0 without keep-alive) are not included.
    Raises ValueError for anything not plainly well-formed."""
    out = []
    pos = 0
    while pos < len(raw):
        while raw.startswith(b'\r\n', pos):  # RFC 9112 section 2.2
            pos += 2
        if pos >= len(raw):
            break
        end = raw.find(b'\r\n\r\n', pos)
        eol = raw.find(b'\r\n', pos)
        if end < 0:
            if b'\n' in raw[pos:].replace(b'\r\n', b''):
                raise ValueError('bare LF')
            m = Framed(None, None, None, [])
            m.start, m.line_end = pos, (eol + 2 if eol >= 0 else None)
            out.append(m)
            break
        lines = raw[pos:end].split(b'\r\n')
        for ln in lines:
            if b'\r' in ln or b'\n' in ln or b'\0' in ln:
                raise ValueError('bare CR/LF/NUL in %r' % ln)
        parts = lines[0].split(b' ')
        if len(parts) != 3 or not TOKEN_RE.fullmatch(parts[0]) or not parts[1] or \
                not VERSION_RE.fullmatch(parts[2]):
            raise ValueError('request line %r' % lines[0])
        headers = []
        for ln in lines[1:]:
            name, sep, value = ln.partition(b':')
            if not sep or not TOKEN_RE.fullmatch(name):
                raise ValueError('header line %r' % ln)
            value = value.strip(b' \t')
            if any(c < 0x20 and c != 0x09 or c == 0x7f for c in value):
                raise ValueError('control byte in %r' % ln)
            headers.append((name.decode('latin-1').lower(), value))
        m = Framed(parts[0].decode('latin-1'), parts[1].decode('latin-1'),
                   parts[2].decode('latin-1'), headers)
        m.start, m.line_end = pos, eol + 2
        out.append(m)
        pos = end + 4
        te = [t.strip().lower() for v in m.values('transfer-encoding') for t in v.split(b',')]
        cls = m.values('content-length')
        if te and cls:
            raise ValueError('Transfer-Encoding with Content-Length')
        if te:
            if te[-1] != b'chunked' or te.count(b'chunked') != 1:
                raise ValueError('Transfer-Encoding %r' % te)
            m.body, end = _dechunk(raw, pos)
            if m.body is None:
                break
            pos = end
        elif cls:
            if len(set(cls)) != 1 or not cls[0].isdigit():
                raise ValueError('Content-Length %r' % cls)
            n = int(cls[0])
            if len(raw) < pos + n:
                break
            m.body = raw[pos:pos + n]
            pos += n
        else:
            m.body = b''
        m.complete = True
        conn = [t.strip().lower() for v in m.values('connection') for t in v.split(b',')]
        if b'close' in conn or (m.version == 'HTTP/1.0' and b'keep-alive' not in conn):
            break
    return out


def try_frame(raw):
    try:
        return frame(raw), None
    except ValueError as e:
        return None, str(e)


# ---------------------------------------------------------------------------
# Replaying one case

class _BufSock:
    """recv() over bytes already received: lets veertest.read_response parse
    a finished capture (EOF at the end)."""

    def __init__(self, data):
        self.data = bytes(data)

    def recv(self, n):
        d, self.data = self.data[:n], self.data[n:]
        return d


def parse_responses(data, methods=()):
    """(responses, error): every whole response in DATA; error describes
    bytes left that are not a whole response."""
    sock = _BufSock(data)
    s = Stream(sock)
    out = []
    while s.buf or sock.data:
        method = methods[len(out)] if len(out) < len(methods) else 'GET'
        try:
            out.append(read_response(s, method))
        except (ProtocolError, ValueError) as e:
            return out, 'after %d response(s): %s' % (len(out), e)
    return out, None


class Outcome:
    """What the client saw of one case."""

    def __init__(self):
        self.data = b''
        self.responses = []
        self.error = None          # unparsable bytes from veer
        self.closed = False        # veer closed (EOF or reset)
        self.reset = False
        self.shut = False          # the client had to half-close first
        self.send_error = None

    @property
    def statuses(self):
        return [r.status for r in self.responses]

    def from_backend(self, r):
        return r.header('X-Backend') == BACKEND

    def describe(self):
        parts = []
        for r in self.responses:
            parts.append('%d%s' % (r.status, ' (backend)' if self.from_backend(r) else ' (veer)'))
        s = 'client got [%s]' % ', '.join(parts)
        if self.error:
            s += ' + unparsable bytes (%s): %r' % (self.error, self.data[-120:])
        if self.closed:
            s += '; veer closed%s%s' % (' with a reset' if self.reset else '',
                                        ' after the client half-closed' if self.shut else '')
        else:
            s += '; connection still open %.0fs after the client half-closed' % AFTER_SHUT
        if self.send_error:
            s += '; send failed: %s' % self.send_error
        return s


def replay(port, raw, methods=(), want=None):
    """Send RAW on a new connection; read until veer closes.  When veer is
    silent for IDLE seconds with the connection open, or once WANT whole
    responses arrived, half-close and read on (AFTER_SHUT seconds at most)."""
    out = Outcome()
    buf = bytearray()
    sock = socket.create_connection(('127.0.0.1', port), timeout=IO_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        try:
            sock.sendall(raw)
        except OSError as e:
            out.send_error = repr(e)

        def pump(timeout):
            """False when nothing arrived within TIMEOUT."""
            r, _, _ = select.select([sock], [], [], max(timeout, 0))
            if not r:
                return False
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                out.closed = out.reset = True
                return True
            if not data:
                out.closed = True
            buf.extend(data)
            return True

        while not out.closed:
            if not pump(IDLE):
                break
            if want is not None:
                got = parse_responses(buf, methods)[0]
                # All answers are in and the last keeps the connection
                # open: half-close now rather than wait.  After a
                # "Connection: close" answer, wait for veer to close.
                if len(got) >= want and not (got and 'close' in veertest.header_tokens(
                        got[-1].headers, 'connection')):
                    break
        if not out.closed:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            out.shut = True
            deadline = time.monotonic() + AFTER_SHUT
            while not out.closed and time.monotonic() < deadline:
                pump(deadline - time.monotonic())
    finally:
        sock.close()
    out.data = bytes(buf)
    out.responses, out.error = parse_responses(buf, methods)
    if out.error and 'HEAD' in methods:
        alt, err = parse_responses(buf, ['GET' if m == 'HEAD' else m for m in methods])
        if err is None:
            out.responses = alt
            out.error = ('an answer to HEAD carries a body (RFC 9110 section 9.3.2: a '
                         'response to HEAD has no content)')
    return out


class Seen:
    """What the backend received because of one case."""

    def __init__(self, requests, errors):
        self.requests = requests
        self.errors = errors

    @property
    def complete(self):
        return [r for r in self.requests if r.complete.is_set()]

    def describe(self):
        if not self.requests and not self.errors:
            return 'backend received nothing'
        items = []
        for r in self.requests:
            items.append('%s %s %s (%s, %s body, %d bytes%s)' % (
                r.method, r.target, r.version,
                'complete' if r.complete.is_set() else 'INCOMPLETE', r.framing, r.body_len,
                ', body %r' % r.body[:40] if r.body else ''))
        s = 'backend received %d request(s): %s' % (len(self.requests), '; '.join(items))
        if self.errors:
            s += '; backend parse errors: %s' % '; '.join(self.errors)
        return s


# ---------------------------------------------------------------------------

class CorpusCase(unittest.TestCase):
    """One veer and one recording backend for the whole class."""

    maxDiff = None
    CORPUS = None

    @classmethod
    def setUpClass(cls):
        cls.cases = load_corpus(cls.CORPUS)
        cls.backend = veertest.Backend(BACKEND).start()
        routes = ['{ name: all, match: { path_prefix: / }, pool: %s }' % BACKEND]
        cls.v = veertest.Veer(make_config([cls.backend.address], pool=BACKEND, routes=routes))
        try:
            cls.v.start()
        except BaseException:
            cls.backend.stop()
            raise
        cls.port = cls.v.port()
        cls.fences = 0
        cls.mark = (0, 0)
        cls.fence()

    @classmethod
    def tearDownClass(cls):
        rc = cls.v.stop()
        cls.backend.stop()
        if rc != 0:
            raise AssertionError('veer exited with %r after SIGTERM (want 0)\n--- log\n%s'
                                 % (rc, cls.v.log_tail()))

    @classmethod
    def fence(cls):
        """A normal request through veer; returns what the backend received
        since the previous fence (fences excluded)."""
        cls.fences += 1
        r = veertest.http(cls.port, 'GET', '%s%d' % (FENCE, cls.fences), timeout=5)
        if r.status != 200:
            raise AssertionError('fence request got %r\n--- veer log\n%s' % (r, cls.v.log_tail()))
        b = cls.backend
        veertest.wait_until(lambda: any(q.path == '%s%d' % (FENCE, cls.fences)
                                        for q in b.received()), 5)
        with b.lock:
            reqs, errs = list(b.requests), list(b.errors)
        nreq, nerr = cls.mark
        cls.mark = (len(reqs), len(errs))
        return Seen([q for q in reqs[nreq:] if not q.path.startswith(FENCE)], errs[nerr:])

    def run_case(self, raw, methods=(), want=None):
        out = replay(self.port, raw, methods, want)
        seen = self.fence()
        if CASE_LOG:
            with open(CASE_LOG, 'a') as f:
                f.write('%s\n    %s\n    %s\n' % (self.id().split('.')[-1] + ' ' +
                                                   str(getattr(self, '_subtest', None) or ''),
                                                   out.describe(), seen.describe()))
        if not self.v.alive():
            self.fail('veer died\n--- log\n%s' % self.v.log_tail())
        return out, seen

    # verdicts ---------------------------------------------------------------

    def expect_rejected(self, what, out, seen, forwarded_before=0, need_4xx=True,
                        heads_ok=False, status=None):
        """The first FORWARDED_BEFORE requests (complete, before the bad
        part) may be forwarded and answered by the backend; what follows is
        refused: a 4xx from veer and a close (or, unless NEED_4XX, no answer
        and a close once the client half-closed).  Nothing else reaches the
        backend whole; with HEADS_OK an incomplete request may have started
        (an error found in a body that was already streaming)."""
        ctx = '%s\n  %s\n  %s' % (what, out.describe(), seen.describe())
        problems = []
        if len(seen.complete) > forwarded_before:
            problems.append('%d request(s) reached the backend whole, at most %d may'
                            % (len(seen.complete), forwarded_before))
        extra_heads = [r for r in seen.requests if not r.complete.is_set()]
        if extra_heads and not heads_ok:
            problems.append('the backend received the head of a refused request')
        # The answers to the requests veer forwarded whole come first and
        # are the backend's; then at most one answer, veer's refusal.
        k = len(seen.complete)
        first, rest = out.responses[:k], out.responses[k:]
        if len(first) < k or any(not out.from_backend(r) for r in first):
            problems.append('a request forwarded whole did not get the backend\'s answer')
        if len(rest) > 1:
            problems.append('more than one answer after the refused request')
        if rest:
            r = rest[0]
            if out.from_backend(r) or not (400 <= r.status < 500 or r.status in (status or ())):
                problems.append('the refused request got %d%s, not a 4xx from veer'
                                % (r.status, ' from the backend' if out.from_backend(r) else ''))
            elif status is not None and r.status not in status:
                problems.append('refused with %d, want %s' % (r.status, ' or '.join(
                    str(x) for x in status)))
            elif out.shut and not out.reset and r.status != 404:
                # (a 404 answers a well-formed request that matches no
                # route: veer may keep the connection, as for any 404)
                problems.append('veer answered 4xx but kept the connection open')
        elif need_4xx:
            problems.append('no 4xx answer from veer')
        if out.error:
            problems.append('unparsable bytes from veer')
        if not out.closed:
            problems.append('veer did not close the connection, even after the client '
                            'half-closed')
        if problems:
            self.fail('%s\n  => %s' % (ctx, '; '.join(problems)))

    def expect_forwarded(self, what, out, seen, msgs):
        """MSGS (from frame()) reach the backend: each complete one whole,
        with its method, target and body, and its answer is the backend's; a
        last incomplete one with a complete head may have started."""
        ctx = '%s\n  %s\n  %s' % (what, out.describe(), seen.describe())
        whole = [m for m in msgs if m.complete]
        started = [m for m in msgs if m.method is not None]
        problems = []
        if len(seen.complete) != len(whole):
            problems.append('%d request(s) reached the backend whole, want %d'
                            % (len(seen.complete), len(whole)))
        if len(seen.requests) != len(started):
            problems.append('%d request head(s) reached the backend, want the %d the client '
                            'sent' % (len(seen.requests), len(started)))
        for m, r in zip(whole, seen.requests):
            if (r.method, r.target) != (m.method, m.target):
                problems.append('forwarded as %s %s, sent as %s %s'
                                % (r.method, r.target, m.method, m.target))
            elif r.complete.is_set() and r.body != m.body:
                problems.append('%s %s: body %r forwarded, %r sent'
                                % (m.method, m.target, r.body[:60], m.body[:60]))
        answers = out.responses[:len(whole)]
        if len(answers) < len(whole) or not all(out.from_backend(r) and r.status == 200
                                               for r in answers):
            problems.append('the client did not get the backend\'s %d answer(s)' % len(whole))
        if len(out.responses) > len(whole):
            extra = out.responses[len(whole)]
            problems.append('unexpected further answer %d%s' % (
                extra.status, ' from the backend' if out.from_backend(extra) else ' from veer'))
        if out.error:
            problems.append('unparsable bytes from veer')
        if not out.closed:
            problems.append('veer did not close after the client half-closed')
        if problems:
            self.fail('%s\n  => %s' % (ctx, '; '.join(problems)))


def _methods(msgs, raw=None):
    """Methods of the framed requests; when the framer gives up (an
    invalid request), the first token of RAW, so that an answer to HEAD is
    read without a body (RFC 9110 section 9.3.2)."""
    if not msgs and raw:
        first = raw.split(b' ', 1)[0]
        return [first.decode('latin-1')] if first.isalpha() else []
    return [m.method for m in msgs or () if m.method]


# ---------------------------------------------------------------------------
# aws/http-desync-guardian

# Compliant / Acceptable cases veer refuses on purpose, by a rule of its
# own that is stricter than desync-guardian's classifier (which looks at
# smuggling risk only, not at whether the request is valid HTTP).
# name -> (statuses veer may answer, why).  Each is still checked: that
# status from veer, a close, and nothing at the backend.
_BAD_NAME = ('not a valid field name (RFC 9110 section 5.1: a token; RFC 9112 section 5.1: '
             'no whitespace before the colon, MUST be rejected with 400); SPEC 3: invalid '
             'header names get 400 and a close')
_CTL_VALUE = ('a control character in a field value (RFC 9110 section 5.5); llhttp in strict '
              'mode refuses it, and veer runs llhttp without lenient flags (README, Strict '
              'parsing): 400')
_HTTP09 = ('HTTP/0.9 is not served: clients speak HTTP/1.1 or 1.0 (SPEC 3, README); '
           'src/http1.c answers an HTTP/0.9 request line 400')
_TE_PARAM = ('"chunked;custom_param": a transfer-parameter needs "=value" (RFC 9112 section 7, '
             'RFC 9110 section 10.1.4) and chunked defines none, so the final coding is not '
             'plainly chunked: 400 (RFC 9112 section 6.3; SPEC 3)')
DESYNC_STRICTER = {
    'No TE/CL headers, some others are non-compliant': ((400,), _BAD_NAME),
    'TE and some others are non-compliant': ((400,), _BAD_NAME),
    'CL and some others are non-compliant': ((400,), _BAD_NAME),
    'A non-essential header with a non-printable character (x01)': ((400,), _BAD_NAME),
    'Some-Header\\x01': ((400,), _BAD_NAME),
    '\\x01Some-Header': ((400,), _BAD_NAME),
    'Some-Header: \\x01value': ((400,), _CTL_VALUE),
    'Some-Header: value\\x01': ((400,), _CTL_VALUE),
    'Non-RFC, but OK HTTP/0.9': ((400,), _HTTP09),
    'Empty version, which means HTTP/0.9': ((400,), _HTTP09),
    'Extra spaces in version': ((400,), 'request-line = method SP request-target SP '
                                'HTTP-version, nothing after the version (RFC 9112 section 3); '
                                'llhttp strict refuses it: 400'),
    '[space] in URI': ((400,), 'a request-target holds no whitespace; an invalid request-line '
                       'gets 400 (RFC 9112 section 3.2)'),
    'Empty URI': ((400,), 'the request-target must not be empty (RFC 9112 section 3.2): 400'),
    'TE with custom parameters OK': ((400,), _TE_PARAM),
    'Transfer-Encoding with a param: chunked;custom_param': ((400,), _TE_PARAM),
    'Unknown but OK HTTP/1.2': ((400,), 'the bundled llhttp (8.1, Debian) refuses an HTTP/1.x '
                                'minor version above 1 in the request line, and veer runs it '
                                'without lenient flags: 400 (a later llhttp may accept it; '
                                'src/http1.c then serves it as 1.1, RFC 9110 section 2.5)'),
}

# Ambiguous cases veer forwards on purpose, as AWS's desync mitigation does
# in its default ("defensive") mode: their framing is plain to veer
# (Content-Length or chunked), only a body's meaning on GET or HEAD is
# undefined (RFC 9110 sections 9.3.1, 9.3.2) and real clients (search APIs)
# send them.  veer forwards the request intact and closes both connections
# after the answer (README, Proxying), so a server that ignores such a body
# cannot read it as a second request.  Checked: forwarded whole, the
# backend's answer carries "Connection: close", and veer closes first.
DESYNC_FORWARD_AND_CLOSE = {
    'Get with a body and Content-Length',
    'Get with a body and Transfer-Encoding',
    'Head with a body and Content-Length',
    'Head with a body and Transfer-Encoding',
    'Has a CL in GET',
    'Has a TE in GET',
}


class DesyncGuardianTest(CorpusCase):
    CORPUS = 'desync_guardian_cases.json'

    def test_corpus_size(self):
        self.assertEqual(len(self.cases), 155)

    def test_stricter_list_names_exist(self):
        names = {c['name']: c['tier'] for c in self.cases}
        for name in DESYNC_STRICTER:
            self.assertIn(names.get(name), ('Compliant', 'Acceptable'), name)

    def test_cases(self):
        for i, c in enumerate(self.cases):
            raw = raw_bytes(c['raw'])
            label = '#%d %s [%s/%s] %s' % (i, c['file'], c['tier'], c['reason'], c['name'])
            with self.subTest(label):
                msgs, why = try_frame(raw)
                if c['name'] in DESYNC_FORWARD_AND_CLOSE:
                    self.assertEqual(c['tier'], 'Ambiguous', label)
                    out, seen = self.run_case(raw, _methods(msgs),
                                              want=sum(m.complete for m in msgs))
                    self.expect_forwarded(label, out, seen, msgs)
                    last = out.responses[-1] if out.responses else None
                    self.assertTrue(last is not None and 'close' in veertest.header_tokens(
                        last.headers, 'connection'), '%s: no Connection: close' % label)
                    self.assertFalse(out.shut, '%s: veer did not close by itself' % label)
                elif c['tier'] in ('Severe', 'Ambiguous'):
                    out, seen = self.run_case(raw, _methods(msgs, raw))
                    self.expect_rejected(label, out, seen)
                elif c['name'] in DESYNC_STRICTER:
                    status, _ = DESYNC_STRICTER[c['name']]
                    out, seen = self.run_case(raw, _methods(msgs))
                    self.expect_rejected(label + ' (veer is stricter, DESYNC_STRICTER)', out,
                                         seen, status=status)
                else:
                    if msgs is None:
                        out, seen = self.run_case(raw)
                        self.fail('%s\n  %s\n  %s\n  => expected forwarding, but the reference '
                                  'framer cannot frame it (%s); decide and list it'
                                  % (label, out.describe(), seen.describe(), why))
                    out, seen = self.run_case(raw, _methods(msgs),
                                              want=sum(m.complete for m in msgs))
                    self.expect_forwarded(label, out, seen, msgs)


# ---------------------------------------------------------------------------
# nodejs/llhttp

def llhttp_raw(c):
    """The bytes llhttp's test harness feeds for case C.  The corpus extractor
    dropped one line end from every ```http block that ends in an empty line:
    upstream, "PUT /url HTTP/1.1\\nConnection: keep-alive\\n\\n\\n```" is fed
    as 45 bytes ending in CRLF CRLF (its log says "off=45 headers
    complete"), the corpus has 43 ending in a single CRLF.  A raw that ends in
    exactly one CRLF therefore gets its second one back."""
    raw = raw_bytes(c['raw'])
    if raw.endswith(b'\r\n') and not raw.endswith(b'\r\n\r\n'):
        raw += b'\r\n'
    return raw


def llhttp_included(c):
    """Cases replayed: plain `request` cases.  Skipped: request-lenient-*
    (they assume llhttp lenient flags, which veer never sets),
    request-finish (they test llhttp_finish() on an unterminated stream, not a
    request veer could act on) and skipBody (the harness tells llhttp the
    request has no body, which changes its framing)."""
    meta = c.get('meta') or {}
    return meta.get('type') == 'request' and not meta.get('skipBody')


FIRST_LINE_RE = re.compile(rb'(?:\r\n)*[^\r\n]* HTTP/1\.1\r\n')


def lacks_host(raw):
    """The first request is HTTP/1.1 and has no Host header line."""
    m = FIRST_LINE_RE.match(raw)
    if not m:
        return False
    end = raw.find(b'\r\n\r\n', m.end() - 2)
    head = raw[m.end():] if end < 0 else raw[m.end():end + 2]
    return not re.search(rb'(?im)^host:', head)


def add_host(raw, msgs=None):
    """RAW with "Host: corpus.test" after the request line of the first
    request, or of every request in MSGS (from frame()) that is HTTP/1.1
    without Host."""
    host = b'Host: corpus.test\r\n'
    if msgs is None:
        m = FIRST_LINE_RE.match(raw)
        at = [m.end()]
    else:
        at = [m.line_end for m in msgs
              if m.line_end is not None and lacks_host(raw[m.start:])]
    for pos in reversed(at):
        raw = raw[:pos] + host + raw[pos:]
    return raw


# llhttp `ok` cases that veer refuses on purpose.  name -> (statuses veer
# may answer, why).  Checked: that status from veer, a close, nothing at
# the backend.  (HTTP/1.1 without Host is recognised mechanically, NO_HOST
# below, not listed: it concerns most of the corpus.)
_LLHTTP81 = ('the bundled llhttp (8.1, Debian) refuses this in strict mode, and veer runs it '
             'without lenient flags (README, Strict parsing): 400.  Refusing is safe; a later '
             'llhttp accepts it')
LLHTTP_STRICTER = {
    'No HTTP version': ((400,), _HTTP09),
    'QUERY request': ((400,), _LLHTTP81 + ' (llhttp 8.1 does not know the QUERY method)'),
    'Tabs in `Content-Length` (surrounding)': ((400,), _LLHTTP81),
    'Chunk extensions': ((400,), _LLHTTP81 + ' (several extensions on one chunk-size line)'),
    'Chunk extensions quoting': ((400,), _LLHTTP81 + ' (several extensions on one chunk-size '
                                 'line)'),
    'M-SEARCH request': ((404,), 'the asterisk-form target "*" matches no route: path_prefix '
                         'matches the start of the path and "*" does not start with "/" '
                         '(README, Routing: no match is a 404); asterisk-form is meant for '
                         'OPTIONS only (RFC 9112 section 3.2.4)'),
}

# llhttp `ok` cases that are not HTTP: llhttp also parses RTSP/1.0 and
# ICE/1.0 (SHOUTcast) request lines.  veer is an HTTP proxy: forwarding them
# relabelled "HTTP/1.1" would change what the request means, so they must
# be refused (400, or 505 as for another HTTP major version).
LLHTTP_NOT_HTTP = {
    'SOURCE request with ICE': 'ICE/1.0 request line',
    'OPTIONS request with RTSP': 'RTSP/1.0 request line',
    'ANNOUNCE request with RTSP': 'RTSP/1.0 request line',
}

# Corpus entries whose verdict does not fit their own bytes, corrected here.
# name -> (field overrides, why).
LLHTTP_ERRATA = {
    'CRLF between requests, implicit `keep-alive`': (
        {'outcome': 'error', 'messages_completed': 1, 'error': None},
        'the extractor ran past the end of the ```http block (raw holds the markdown that '
        'follows it: "```\\r\\n_Note the trailing CRLF above_ ..."), and the verdict '
        '(error at offset 36, inside the Host value, 0 requests complete) matches neither '
        'upstream nor these bytes.  For these bytes: the POST with its 4-byte body is a whole, '
        'valid request (upstream llhttp completes it too), then "GET / HTTP/1.1" is followed '
        'by the header line "```", which is invalid.'),
}

# The reason used for HTTP/1.1 requests without Host, checked mechanically
# (lacks_host) rather than listed: RFC 9112 section 3.2 says a server MUST
# answer 400 to an HTTP/1.1 request without Host, and veer does (src/http1.c).
NO_HOST = 'HTTP/1.1 without Host: 400 (RFC 9112 section 3.2)'


class LlhttpTest(CorpusCase):
    CORPUS = 'llhttp_request_cases.json'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for c in cls.cases:
            if c['name'] in LLHTTP_ERRATA:
                c.update(LLHTTP_ERRATA[c['name']][0])

    def test_lists_name_cases(self):
        names = {c['name'] for c in self.cases if llhttp_included(c)}
        for name in list(LLHTTP_NOT_HTTP) + list(LLHTTP_ERRATA):
            self.assertIn(name, names)

    def test_corpus_size(self):
        self.assertEqual(len(self.cases), 162)

    def test_stricter_list_names_exist(self):
        names = {c['name'] for c in self.cases if llhttp_included(c)}
        for name in LLHTTP_STRICTER:
            self.assertIn(name, names)

    def check(self, label, c, raw, head_error):
        """Replay RAW for case C.  HEAD_ERROR: llhttp finds the error inside
        the first request's head, so the backend must not even see a head."""
        n = c['messages_completed']
        msgs, _ = try_frame(raw)
        methods = _methods(msgs)
        if c['outcome'] == 'error':
            out, seen = self.run_case(raw, methods, want=None)
            # llhttp completed N requests before the error: veer may forward
            # them (or refuse earlier, stricter); an error inside the body of
            # a request whose head veer already passed on may leave that
            # request started, never whole.
            self.expect_rejected(label, out, seen, forwarded_before=n, need_4xx=False,
                                 heads_ok=not head_error)
            return
        if c['name'] in LLHTTP_NOT_HTTP:
            out, seen = self.run_case(raw, methods)
            self.expect_rejected('%s (not HTTP: %s; veer must refuse it, not forward it as '
                                 'HTTP/1.1)' % (label, LLHTTP_NOT_HTTP[c['name']]), out, seen,
                                 status=(400, 505))
            return
        stricter = LLHTTP_STRICTER.get(c['name'])
        if stricter is None and lacks_host(raw):
            stricter = ((400,), NO_HOST)
        if stricter is not None:
            out, seen = self.run_case(raw, methods)
            self.expect_rejected('%s (veer is stricter: %s)' % (label, stricter[1]), out, seen,
                                 status=stricter[0])
            return
        if c['outcome'] == 'pause':
            # llhttp completed N requests, the last asking for an Upgrade or
            # CONNECT, and stops: what follows is not HTTP for it.  veer
            # tunnels only WebSocket upgrades; others go on as HTTP/1.1.
            # Checked here: nothing beyond those N requests reaches the
            # backend, and veer does not leave the connection hanging.
            out, seen = self.run_case(raw, methods, want=n)
            ctx = '%s\n  %s\n  %s' % (label, out.describe(), seen.describe())
            self.assertLessEqual(len(seen.requests), n, ctx)
            self.assertTrue(out.closed, ctx)
            return
        if msgs is None or sum(m.complete for m in msgs) != n:
            out, seen = self.run_case(raw, methods)
            self.fail('%s\n  %s\n  %s\n  => llhttp completes %d request(s); the reference framer '
                      'finds %s: decide and list it' % (
                          label, out.describe(), seen.describe(), n,
                          try_frame(raw)[1] or '%d' % sum(m.complete for m in msgs)))
        out, seen = self.run_case(raw, methods, want=n)
        self.expect_forwarded(label, out, seen, msgs)

    @staticmethod
    def error_in_head(c, raw):
        """llhttp reports the error at an offset inside the first head."""
        off = (c.get('error') or {}).get('offset')
        end = raw.find(b'\r\n\r\n')
        return c['messages_completed'] == 0 and off is not None and (end < 0 or off < end + 4)

    def included(self):
        for i, c in enumerate(self.cases):
            if llhttp_included(c):
                yield i, c

    def test_cases_verbatim(self):
        for i, c in self.included():
            label = '#%d %s [%s%s, %d complete] %s' % (
                i, c['file'], c['outcome'],
                ': %s' % c['error']['reason'] if c.get('error') else '',
                c['messages_completed'], c['name'])
            with self.subTest(label):
                raw = llhttp_raw(c)
                self.check(label, c, raw, self.error_in_head(c, raw))

    def test_cases_with_host(self):
        """Most llhttp cases have no Host, so verbatim they only show veer's
        400 for HTTP/1.1 without Host.  Here those cases are replayed again
        with "Host: corpus.test" added after each request line, so that the
        rest of each case is what veer judges."""
        for i, c in self.included():
            raw = llhttp_raw(c)
            if not lacks_host(raw):
                continue
            label = '#%d %s [%s%s, %d complete] %s (+Host)' % (
                i, c['file'], c['outcome'],
                ': %s' % c['error']['reason'] if c.get('error') else '',
                c['messages_completed'], c['name'])
            with self.subTest(label):
                msgs, _ = try_frame(raw)
                if c['outcome'] == 'error' or msgs is None or len(msgs) <= 1:
                    hosted = add_host(raw)
                else:
                    hosted = add_host(raw, msgs)
                self.check(label, c, hosted, self.error_in_head(c, raw))


if __name__ == '__main__':
    veertest.main()
