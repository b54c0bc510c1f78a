#!/usr/bin/env python3
"""A tiny demo backend for veer's README: python3 standard library only.

    python3 scripts/demo_backend.py --name api-v1 --version 1.8.3 --port 9001 --port 9002

Serves HTTP/1.1 with keep-alive on 127.0.0.1, one thread per connection, on
every --port given.  Each answer is a small JSON document saying which backend
and port served it, and echoing the request's method, path, the headers a
proxy adds (X-Forwarded-*, Via, X-Request-Id ...) and the body's size, so that
`curl` through veer shows routing, load balancing and header rewriting.
"""

import argparse
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Request headers worth showing: the ones a reverse proxy sets or passes on.
ECHO_HEADERS = (
    "Host", "User-Agent", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
    "Via", "X-Request-Id", "Traceparent", "X-Api-Version", "Connection",
    "Content-Type", "Content-Length", "Transfer-Encoding",
)

MAX_BODY = 64 * 1024 * 1024  # refuse larger uploads: this is a demo


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says close

    def version_string(self):
        return "demo-backend"

    def log_message(self, fmt, *args):  # quiet unless --verbose
        if self.server.verbose:
            sys.stderr.write("%s:%d %s\n" % (self.server.backend_name,
                                             self.server.server_address[1], fmt % args))

    def read_body(self):
        """Read a Content-Length or chunked body (RFC 9112 §6, §7.1)."""
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ValueError("eof in chunked body")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # trailer section up to the empty line
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    raise ValueError("body too large")
                data += self.rfile.read(size)
                self.rfile.readline(8)  # CRLF after the chunk
        length = int(self.headers.get("Content-Length", "0") or "0")
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def answer(self):
        try:
            body = self.read_body()
        except (ValueError, OSError) as e:
            self.send_error(400, str(e))
            self.close_connection = True
            return
        srv = self.server
        doc = {
            "message": "hello from %s (version %s)" % (srv.backend_name, srv.backend_version),
            "backend": srv.backend_name,
            "version": srv.backend_version,
            "server": "127.0.0.1:%d" % srv.server_address[1],
            "method": self.command,
            "path": self.path,
            "headers": {h: self.headers[h] for h in ECHO_HEADERS if h in self.headers},
            "body_bytes": len(body),
        }
        if body and len(body) <= 1024:
            doc["body"] = body.decode("utf-8", "replace")
        out = (json.dumps(doc, indent=2) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-Backend", "%s@%d" % (srv.backend_name, srv.server_address[1]))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = answer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def alive(pid):
    """True while PID runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True, help="backend name shown in answers")
    ap.add_argument("--version", default="0.0.0", help="version shown in answers")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, action="append", required=True,
                    help="port to listen on (repeatable)")
    ap.add_argument("--verbose", action="store_true", help="log every request")
    ap.add_argument("--exit-with", type=int, metavar="PID",
                    help="exit when process PID is gone (scripts/run passes veer's pid)")
    args = ap.parse_args()

    servers = []
    for port in args.port:
        srv = Server((args.host, port), Handler)
        srv.backend_name, srv.backend_version = args.name, args.version
        srv.verbose = args.verbose
        servers.append(srv)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        print("demo backend %s (version %s) on %s:%d" % (args.name, args.version,
                                                        args.host, port), file=sys.stderr)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(1.0):
        if args.exit_with and not alive(args.exit_with):
            break
    for srv in servers:
        srv.shutdown()
        srv.server_close()


if __name__ == "__main__":
    main()
