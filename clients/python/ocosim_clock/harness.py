"""The harness side of `sim serve`: the `/sim/v1/*` endpoints and starting a server process.

`Harness` talks to `GET /sim/v1/clock`, `POST /sim/v1/advance` and `POST /sim/v1/stop` over one
keep-alive `http.client` connection (the standard library only, so that none of the patched
exchange clients or clocks is involved). `start_server` runs `sim serve SCENARIO --port 0` and
parses the lines it prints at start (`rest:`, `ws:`, `api key:`, `secret:`, `clock:`, `ready`).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import List, Optional


class HarnessError(RuntimeError):
    """The server answered a harness call with an error or not at all."""


class Harness:
    """A client of the server's harness endpoints (no key, no signature)."""

    def __init__(self, rest_url: str, timeout: float = 600.0):
        parts = urllib.parse.urlsplit(rest_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"server URL must be http://HOST:PORT, got {rest_url!r}")
        self.rest_url = rest_url.rstrip("/")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()

    def _call(self, method: str, path: str) -> dict:
        with self._lock:
            for attempt in (0, 1):
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                try:
                    self._conn.request(method, path, headers={"Content-Length": "0"} if method == "POST" else {})
                    resp = self._conn.getresponse()
                    body = resp.read()
                except (ConnectionError, http.client.HTTPException, OSError) as e:
                    self._conn.close()
                    self._conn = None
                    if attempt == 1 or path.startswith("/sim/v1/stop"):
                        raise HarnessError(f"{method} {path}: {e}") from e
                    continue
                if resp.getheader("Connection", "").lower() == "close":
                    self._conn.close()
                    self._conn = None
                try:
                    doc = json.loads(body.decode() or "{}")
                except ValueError as e:
                    raise HarnessError(f"{method} {path}: HTTP {resp.status}, not JSON: {body[:200]!r}") from e
                if resp.status >= 400:
                    raise HarnessError(f"{method} {path}: HTTP {resp.status} {doc}")
                return doc
        raise AssertionError("unreachable")

    def clock(self) -> dict:
        """`GET /sim/v1/clock`: `{"time","start","end","done","clock"}`."""
        return self._call("GET", "/sim/v1/clock")

    def advance_to(self, ms: int) -> dict:
        """`POST /sim/v1/advance?to=MS`: returns `{"time","done"}` once everything due is served."""
        return self._call("POST", f"/sim/v1/advance?to={int(ms)}")

    def advance_by(self, ms: int) -> dict:
        """`POST /sim/v1/advance?by=MS`."""
        return self._call("POST", f"/sim/v1/advance?by={int(ms)}")

    def stop(self) -> dict:
        """`POST /sim/v1/stop`: writes the reports; `{"verdict","violations","exit","reports"}`."""
        return self._call("POST", "/sim/v1/stop")

    def close(self) -> None:
        """Closes the keep-alive connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


@dataclass
class Server:
    """A running `sim serve` process and what it printed at start."""

    proc: subprocess.Popen
    rest: str
    ws: str
    api_key: str
    secret: str
    clock: str
    lines: List[str] = field(default_factory=list)

    def harness(self) -> Harness:
        """A harness client for this server."""
        return Harness(self.rest)

    def wait(self, timeout: float = 60.0) -> int:
        """Waits (real time, also under the clock) for the process to end; returns its exit code."""
        # Popen.wait(timeout) polls with time.sleep and time.monotonic, which the clock replaces;
        # a blocking waitpid in a helper thread and Thread.join's lock timeout are real time
        code: List[int] = []
        waiter = threading.Thread(target=lambda: code.append(self.proc.wait()), daemon=True)
        waiter.start()
        waiter.join(timeout)
        if not code:
            raise TimeoutError(f"sim serve (pid {self.proc.pid}) still running after {timeout} s")
        return code[0]

    def kill(self) -> None:
        """Ends the process if it still runs (tests' cleanup)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.wait(30)

    def output(self) -> str:
        """Everything the server printed on stdout so far."""
        return "\n".join(self.lines)


def default_sim_binary() -> str:
    """`$OCOSIM_SIM`, else `$CARGO_TARGET_DIR/release/sim`, else `target/release/sim`."""
    if os.environ.get("OCOSIM_SIM"):
        return os.environ["OCOSIM_SIM"]
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return os.path.join(target, "release", "sim")


def start_server(
    scenario: str,
    sim: Optional[str] = None,
    args: Optional[List[str]] = None,
    out: Optional[str] = None,
    startup_timeout: float = 120.0,
) -> Server:
    """Starts `sim serve SCENARIO --port 0 [--out OUT] ARGS…` and waits for its `ready` line."""
    sim = sim or default_sim_binary()
    if not os.path.exists(sim):
        raise FileNotFoundError(f"sim binary not found: {sim} (set OCOSIM_SIM or CARGO_TARGET_DIR)")
    cmd = [sim, "serve", scenario, "--port", "0"]
    if out:
        cmd += ["--out", out]
    cmd += list(args or [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, bufsize=1)
    lines: List[str] = []
    info = {}
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            for key in ("rest", "ws", "api key", "secret", "clock"):
                if line.startswith(key + ": ") and key not in info:
                    info[key] = line[len(key) + 2 :].strip()
            if line.strip() == "ready":
                ready.set()
        ready.set()

    threading.Thread(target=pump, name="sim-serve-stdout", daemon=True).start()
    if not ready.wait(startup_timeout) or proc.poll() is not None and "rest" not in info:
        proc.kill()
        raise HarnessError(f"`{' '.join(cmd)}` did not print `ready` (exit {proc.poll()}): {lines[-5:]}")
    missing = [k for k in ("rest", "ws", "api key", "secret") if k not in info]
    if missing:
        proc.kill()
        raise HarnessError(f"`sim serve` printed no {missing}: {lines[-10:]}")
    return Server(proc, info["rest"], info["ws"], info["api key"], info["secret"], info.get("clock", ""), lines)
