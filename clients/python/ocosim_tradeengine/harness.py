"""The harness side of ``sim serve``: ``GET /sim/v1/clock``, ``POST /sim/v1/advance``,
``POST /sim/v1/stop`` (the contract is in SERVE-CONTRACT / the README).

Plain ``http.client`` on one keep-alive connection, so that nothing the engine patches
(python-binance, requests) is involved. Only loopback addresses are accepted.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


class HarnessError(Exception):
    """The server could not be reached or answered something the contract does not allow."""


def loopback_base(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``http://`` URL whose host is a loopback address; raises
    ``ValueError`` with a one-line reason otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"`{url}`: use an http:// URL (the server is plain HTTP on loopback)")
    host = parts.hostname or ""
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError(f"`{url}`: only loopback addresses (127.0.0.1, ::1) are allowed")
        except ValueError as e:
            if "loopback" in str(e):
                raise
            raise ValueError(f"`{url}`: the host must be a loopback IP address") from None
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"`{url}`: bad port") from None
    if port is None:
        raise ValueError(f"`{url}`: give the port, e.g. http://127.0.0.1:8400")
    return ("127.0.0.1" if host == "localhost" else host), port


@dataclass
class Clock:
    """``GET /sim/v1/clock``."""

    time: int
    start: int
    end: int
    done: bool
    mode: str


@dataclass
class Verdict:
    """``POST /sim/v1/stop``."""

    verdict: str
    violations: int
    exit: int
    reports: str


class Harness:
    """A client of the server's control endpoints."""

    def __init__(self, url: str, timeout: float = 600.0) -> None:
        self.host, self.port = loopback_base(url)
        self.base = f"http://{self.host}:{self.port}" if ":" not in self.host else f"http://[{self.host}]:{self.port}"
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self.calls = 0

    def _request(self, method: str, path: str) -> dict:
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, headers={"Content-Length": "0"} if method == "POST" else {})
                resp = self._conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as e:
                self._conn.close()
                self._conn = None
                if attempt == 0 and isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    continue  # a keep-alive connection the server closed: once more on a fresh one
                raise HarnessError(f"{method} {self.base}{path}: {e}") from None
            self.calls += 1
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                raise HarnessError(f"{method} {path}: not JSON: {body[:200]!r}") from None
            if resp.status >= 400:
                raise HarnessError(f"{method} {path}: HTTP {resp.status}: {data}")
            return data
        raise HarnessError(f"{method} {path}: no answer")  # pragma: no cover

    def clock(self) -> Clock:
        """The venue clock."""
        d = self._request("GET", "/sim/v1/clock")
        try:
            return Clock(int(d["time"]), int(d["start"]), int(d["end"]), bool(d["done"]), str(d.get("clock", "")))
        except (KeyError, TypeError, ValueError):
            raise HarnessError(f"GET /sim/v1/clock: unexpected answer {d}") from None

    def advance_to(self, ms: int) -> tuple[int, bool]:
        """Moves venue time to ``ms`` (lockstep); returns ``(time, done)``."""
        d = self._request("POST", f"/sim/v1/advance?to={int(ms)}")
        try:
            return int(d["time"]), bool(d["done"])
        except (KeyError, TypeError, ValueError):
            raise HarnessError(f"POST /sim/v1/advance: unexpected answer {d}") from None

    def stop(self) -> Verdict:
        """Ends the session; the server writes its reports and answers the verdict."""
        d = self._request("POST", "/sim/v1/stop")
        try:
            return Verdict(str(d["verdict"]), int(d["violations"]), int(d["exit"]), str(d.get("reports", "")))
        except (KeyError, TypeError, ValueError):
            raise HarnessError(f"POST /sim/v1/stop: unexpected answer {d}") from None

    def close(self) -> None:
        """Closes the keep-alive connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def port_is_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at ``host:port`` (loopback only)."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
