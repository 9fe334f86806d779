"""A stand-in for the harness half of `sim serve`, to test the clock alone (not the venue).

It keeps a venue time, answers `/sim/v1/clock|advance|stop`, `/fapi/v1/time` and
`/api/v3/ping`, stamps `X-Sim-Time` on every answer, moves time by `latency_ms` per REST call like
lockstep does, can hold a REST answer for `slow_s` real seconds, and logs every call in order.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_sleep = time.sleep  # the real one, taken before any clock is installed


class StubVenue:
    def __init__(self, start_ms=1_738_368_000_000, end_ms=None, latency_ms=0, slow_s=0.0):
        self.time = start_ms
        self.start = start_ms
        self.end = end_ms if end_ms is not None else start_ms + 7 * 86_400_000
        self.latency_ms = latency_ms
        self.slow_s = slow_s
        self.log = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Sim-Time", str(stub.time))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                self._route("POST")

            def _route(self, method):
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/sim/v1/clock":
                    return self._answer(200, {"time": stub.time, "start": stub.start, "end": stub.end,
                                              "done": stub.time >= stub.end, "clock": "lockstep"})
                if url.path == "/sim/v1/advance":
                    with stub.lock:
                        to = int(q["to"]) if "to" in q else stub.time + int(q["by"])
                        stub.time = min(max(stub.time, to), stub.end)
                        stub.log.append(("advance", to, stub.time))
                    return self._answer(200, {"time": stub.time, "done": stub.time >= stub.end})
                if url.path == "/sim/v1/stop":
                    stub.log.append(("stop", stub.time))
                    return self._answer(200, {"verdict": "PASS", "violations": 0, "exit": 0, "reports": "-"})
                with stub.lock:
                    stub.log.append(("rest", url.path, stub.time, int(q.get("timestamp", 0) or 0)))
                if stub.slow_s:
                    _sleep(stub.slow_s)
                with stub.lock:
                    stub.time += stub.latency_ms
                    stub.log.append(("answered", url.path, stub.time))
                if url.path in ("/fapi/v1/time", "/api/v3/time"):
                    return self._answer(200, {"serverTime": stub.time})
                return self._answer(200, {})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def advances(self):
        return [e for e in self.log if e[0] == "advance"]
