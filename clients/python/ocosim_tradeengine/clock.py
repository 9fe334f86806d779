"""Lockstep time for an asyncio program, driven by ``sim serve``.

Three clocks move together with the venue's clock (the server's ``X-Sim-Time``):

- the event loop's ``time()`` (every ``asyncio.sleep``, ``wait_for`` and timer);
- the wall clock (``time.time``, ``datetime.now/utcnow``), through time-machine with
  ``tick=False``: it stamps the engine's signed requests, caches and ids;
- nothing else: ``time.monotonic`` stays real (the engine's users of it are not on the path).

The loop never sleeps: when it has nothing to do but wait for a timer, it asks the server to
advance venue time to that timer (``POST /sim/v1/advance?to=MS``), which returns once every
venue event up to then has been processed and every stream frame due has been written to its
socket; the frames are then read at that venue time. Work that is really in flight is never
skipped over: executor jobs run inline, on the loop's thread, as blocking calls that take no
venue time of their own (the engine's REST calls already block the loop the same way), and
while a WebSocket handshake is in flight (``busy``) the loop waits in real time instead of
advancing. A run is therefore a deterministic function of the scenario.

``guard_network`` refuses any connection or name lookup that is not loopback: the engine talks
to 127.0.0.1 and nothing else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import selectors
import socket
import threading
import time
from typing import Any, Callable, Iterator

#: Timers due within this many seconds of the venue time are run (float error of ms / 1000).
CLOCK_RESOLUTION = 0.0005
#: Real seconds the loop waits for in-flight work before it lets venue time move anyway.
BUSY_REAL_LIMIT = 10.0


class VenueClock:
    """Venue time as the engine sees it, in integer milliseconds."""

    def __init__(self, now_ms: int, advance: Callable[[int], tuple[int, bool]] | None = None) -> None:
        self.now_ms = int(now_ms)
        self.done = False
        self.advances = 0
        self._advance = advance
        self._busy = 0
        self._lock = threading.Lock()
        self._coords: Any = None
        self._traveller: Any = None

    # -- the wall clock
    def start_wall_clock(self) -> None:
        """Freezes ``time.time`` / ``datetime.now`` at the venue time (time-machine, no tick)."""
        import time_machine

        self._traveller = time_machine.travel(self._wall(self.now_ms), tick=False)
        self._coords = self._traveller.start()

    def stop_wall_clock(self) -> None:
        """Gives the real wall clock back."""
        if self._traveller is not None:
            self._traveller.stop()
            self._traveller = None
            self._coords = None

    @staticmethod
    def _wall(ms: int) -> float:
        # a tenth of a microsecond past the millisecond: int(time.time() * 1000) == ms
        return (ms + 0.0001) / 1000.0

    # -- venue time
    def observe(self, ms: int) -> None:
        """Venue time reported by the server (``X-Sim-Time``, an advance); never goes back."""
        with self._lock:
            if ms > self.now_ms:
                self.now_ms = int(ms)
                if self._coords is not None:
                    self._coords.move_to(self._wall(self.now_ms))

    def advance_to(self, ms: int) -> None:
        """Asks the server to move venue time to ``ms`` and waits for it."""
        if self._advance is None or ms <= self.now_ms or self.done:
            return
        t, done = self._advance(int(ms))
        self.advances += 1
        self.observe(t)
        if done:
            self.done = True

    # -- work in flight
    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """While inside, the loop waits in real time instead of advancing venue time."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1

    @property
    def is_busy(self) -> bool:
        """Whether work is in flight."""
        return self._busy > 0


class LockstepSelector(selectors.BaseSelector):
    """Wraps the loop's selector: a wait for a timer becomes an advance of venue time."""

    def __init__(self, clock: VenueClock, loop_time: Callable[[], float]) -> None:
        self._real = selectors.DefaultSelector()
        self._clock = clock
        self._loop_time = loop_time
        self._busy_since: float | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.get_key(fileobj)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if self._clock.is_busy:
            # a handshake or reply is on its way: real time passes, venue time does not
            now = time.monotonic()
            if self._busy_since is None:
                self._busy_since = now
            if now - self._busy_since < BUSY_REAL_LIMIT:
                return self._real.select(0.05 if timeout is None else min(timeout, 0.05))
        self._busy_since = None
        if timeout is None:
            # nothing scheduled at all: only I/O can wake the loop
            return self._real.select(0.05)
        when_ms = round((self._loop_time() + timeout) * 1000.0)
        if self._clock.done:
            # the data has ended: nothing can happen at the venue any more, so the engine's
            # clocks run on alone (its timers still fire) until the launcher stops the session
            self._clock.observe(when_ms)
            return self._real.select(0)
        self._clock.advance_to(when_ms)
        return self._real.select(0)


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each submitted job at once on the calling thread (deterministic executor work);
    a ThreadPoolExecutor only because asyncio insists on one, it starts no thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        f: concurrent.futures.Future = concurrent.futures.Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting coroutine
            f.set_exception(e)
        return f

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


class LockstepLoop(asyncio.SelectorEventLoop):
    """An event loop whose time is venue time and whose waits are advances."""

    def __init__(self, clock: VenueClock) -> None:
        self.venue = clock
        super().__init__(LockstepSelector(clock, self.time))
        self._clock_resolution = CLOCK_RESOLUTION
        self.set_default_executor(InlineExecutor())

    def time(self) -> float:
        return self.venue.now_ms / 1000.0


LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback_host(host: Any) -> bool:
    """Whether ``host`` (a name or an address) is loopback."""
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard / loopback
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0]
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkRefused(OSError):
    """A connection or lookup to something other than loopback."""


_guard_installed = False


def guard_network(log: Callable[[str], None] | None = None) -> None:
    """From now on, this process connects to and looks up loopback addresses only."""
    global _guard_installed
    if _guard_installed:
        return
    _guard_installed = True
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def refuse(what: str) -> NetworkRefused:
        if log is not None:
            log(f"refused non-loopback {what}")
        return NetworkRefused(f"ocosim: only loopback traffic is allowed (refused {what})")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback_host(host):
            raise socket.gaierror(socket.EAI_NONAME, f"ocosim: only loopback names resolve (refused {host!r})")
        return real_getaddrinfo(host, *args, **kwargs)

    def _check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not is_loopback_host(host):
                raise refuse(f"connection to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        _check(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
