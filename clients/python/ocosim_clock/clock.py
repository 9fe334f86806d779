"""Lockstep venue time for an unmodified bot.

One `VirtualClock` holds the venue time in milliseconds. While it is installed:

- `time.time`, `time.time_ns`, `datetime.now/utcnow`, `time.gmtime/localtime/strftime` read it
  (time-machine, `tick=False`); `time.monotonic`/`monotonic_ns` read it too (replaced on the `time`
  module, so code that looks them up at call time sees venue time);
- `time.sleep(s)` in the driving thread becomes `POST /sim/v1/advance?to=now+s`; in any other
  thread it waits (in real time) until the venue clock has passed its deadline;
- asyncio loops made by the default policy are `VirtualEventLoop`s: `loop.time()` is venue time
  (seconds since the session's start) and
  an idle wait for the next timer becomes an advance to that timer (aiotools/looptime style). The
  loop never advances while an HTTP request (aiohttp), a WebSocket handshake (websockets) or an
  executor job is in flight: it waits for the answer in real time, so the venue never runs ahead
  of a reply the bot has not read yet. That keeps a run a pure function of (scenario, bot);
- every HTTP answer of the server carries `X-Sim-Time` (venue time after the call, latency
  included); synchronous clients (requests) feed it to `observe()`, so a sync bot's clock follows
  each call's latency. In an event loop, answers and stream frames interleave by real timing, so
  there the clock moves only at advances (an advance answers with the venue's time, the calls'
  latency included): every timer a task sets is then a function of (scenario, bot).

When an advance reports `done` (the data has ended), `SimulationOver` (a `BaseException`, so a
bot's `except Exception` does not swallow it) is raised in the bot; the runner then stops the
session. After that loop time runs on locally (no server calls) so cleanup code can finish, while
the wall clock stays at the data's end (cleanup's real I/O races its timers); an
event loop's HTTP requests and WebSocket connects then fail at once (they would race the loop's
shutdown and make the server's request count vary run to run).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import selectors
import threading
import time
from typing import Callable, Iterator, Optional

import time_machine

from .harness import Harness

_REAL_SLEEP = time.sleep
_REAL_MONOTONIC = time.monotonic
_REAL_MONOTONIC_NS = time.monotonic_ns

#: real-time slice of a wait that must not advance the venue (a reply in flight, a follower loop)
REAL_WAIT_SLICE = 0.02


class SimulationOver(BaseException):
    """The venue's data has ended (an advance answered `done: true`)."""


class VirtualClock:
    """The venue clock of one session (see the module doc)."""

    def __init__(
        self,
        harness: Optional[Harness],
        start_ms: int,
        max_step_ms: Optional[int] = None,
        idle_step_ms: int = 1000,
    ):
        self.harness = harness
        self.ms = int(start_ms)
        self.origin_ms = self.ms
        self.max_step_ms = max_step_ms
        self.idle_step_ms = max(1, int(idle_step_ms))
        self.done = False
        self.advances = 0
        #: loop time that passed after the data's end (cleanup timers); the wall clock stays at the end
        self.after_end_ms = 0
        self._skew_ms = 0
        self._inflight = 0
        self._cond = threading.Condition()
        self._driver: Optional[int] = None
        self._travel: Optional[time_machine.travel] = None
        self._traveller = None
        self._saved: dict = {}
        self._policy_before: Optional[asyncio.AbstractEventLoopPolicy] = None

    # ---- reading and moving -------------------------------------------------------------------
    def now_ms(self) -> int:
        """Venue time in ms."""
        return self.ms

    def _set(self, ms: int) -> None:
        with self._cond:
            if ms > self.ms:
                self.ms = ms
            self._move_wall()
            self._cond.notify_all()

    def _move_wall(self) -> None:
        if self._traveller is not None:
            ns = (self.ms + self._skew_ms) * 1_000_000
            if hasattr(self._traveller, "_destination_timestamp_ns"):
                self._traveller._destination_timestamp_ns = ns
            else:  # pragma: no cover - other time-machine versions
                self._traveller.move_to((self.ms + self._skew_ms) / 1000.0)

    def observe(self, header: Optional[str]) -> None:
        """Follows the server's `X-Sim-Time` header (venue time after a call was answered)."""
        if header:
            try:
                ms = int(header)
            except ValueError:
                return
            if ms > self.ms:
                self._set(ms)

    def advance_to(self, target_ms: int) -> int:
        """Asks the venue to run to `target_ms`; raises `SimulationOver` at the data's end."""
        if self.done:
            raise SimulationOver()
        if self.harness is None:
            self._set(int(target_ms))
            return self.ms
        answer = self.harness.advance_to(int(target_ms))
        self.advances += 1
        self._set(int(answer.get("time", target_ms)))
        if answer.get("done"):
            self.done = True
            raise SimulationOver()
        return self.ms

    def advance_by(self, ms: int) -> int:
        """Advances by `ms` milliseconds from the current venue time."""
        return self.advance_to(self.ms + max(0, int(ms)))

    @contextlib.contextmanager
    def wall_skew(self, ms: int) -> Iterator[None]:
        """Shifts the wall clock (`time.time`, `datetime`) by `ms` inside the block (stale-timestamp tests)."""
        with self._cond:
            self._skew_ms += ms
            self._move_wall()
        try:
            yield
        finally:
            with self._cond:
                self._skew_ms -= ms
                self._move_wall()

    # ---- in-flight work (the venue must not run ahead of it) ----------------------------------
    def begin_inflight(self) -> None:
        """Marks a request whose answer the bot has not read yet."""
        with self._cond:
            self._inflight += 1

    def end_inflight(self) -> None:
        """Marks that request answered."""
        with self._cond:
            self._inflight -= 1
            self._cond.notify_all()

    @property
    def inflight(self) -> int:
        """Requests in flight (aiohttp, websockets handshakes)."""
        return self._inflight

    # ---- patched functions --------------------------------------------------------------------
    def monotonic(self) -> float:
        """Venue time in seconds since the session's start (replaces `time.monotonic`)."""
        return (self.ms - self.origin_ms) / 1000.0

    def monotonic_ns(self) -> int:
        """Venue time in ns (replaces `time.monotonic_ns`)."""
        return (self.ms - self.origin_ms) * 1_000_000

    def _is_driver(self) -> bool:
        return self._driver is None or threading.get_ident() == self._driver

    def sleep(self, seconds: float) -> None:
        """Replaces `time.sleep`: an advance in the driving thread, a wait for venue time elsewhere."""
        if seconds is None or seconds < 0:
            raise ValueError("sleep length must be non-negative")
        step = math.ceil(seconds * 1000 - 1e-9)
        if self._is_driver():
            if step <= 0:
                _REAL_SLEEP(0)
                if self.done:
                    raise SimulationOver()
                return
            self.advance_by(step)
            return
        deadline = self.ms + max(step, 0)
        with self._cond:
            while self.ms < deadline and not self.done:
                self._cond.wait(REAL_WAIT_SLICE * 5)

    # ---- install / uninstall ------------------------------------------------------------------
    def install(self) -> "VirtualClock":
        """Patches the clocks of this process (see the module doc); the calling thread drives."""
        self._driver = threading.get_ident()
        self._travel = time_machine.travel(self.ms / 1000.0, tick=False)
        self._traveller = self._travel.start()
        self._move_wall()
        self._saved = {"sleep": time.sleep, "monotonic": time.monotonic, "monotonic_ns": time.monotonic_ns}
        time.sleep = self.sleep
        time.monotonic = self.monotonic
        time.monotonic_ns = self.monotonic_ns
        self._policy_before = asyncio.get_event_loop_policy()
        asyncio.set_event_loop_policy(VirtualLoopPolicy(self))
        return self

    def uninstall(self) -> None:
        """Restores every patched clock."""
        if self._travel is not None:
            self._travel.stop()
            self._travel = None
            self._traveller = None
        for name, fn in self._saved.items():
            setattr(time, name, fn)
        self._saved = {}
        if self._policy_before is not None:
            asyncio.set_event_loop_policy(self._policy_before)
            self._policy_before = None

    # ---- the event loop's idle wait -----------------------------------------------------------
    def loop_select(self, loop: "VirtualEventLoop", real_select: Callable, timeout: Optional[float]):
        """What a virtual loop does where a real one would block in `select(timeout)`."""
        events = real_select(0)
        if events or timeout == 0:
            return events
        follower = loop.driver_thread is not None and loop.driver_thread != self._driver
        if follower or self._inflight > 0 or loop.pending_executor_jobs > 0:
            slice_ = REAL_WAIT_SLICE if timeout is None else min(timeout, REAL_WAIT_SLICE)
            return real_select(slice_)
        step = self.idle_step_ms if timeout is None else math.ceil(timeout * 1000 - 1e-6)
        if self.max_step_ms:
            step = min(step, self.max_step_ms)
        target = self.ms + max(step, 1)
        if self.done:
            self.after_end_ms += max(step, 1)
            return real_select(0)
        self.advance_to(target)
        return real_select(0)


class _SelectorShim:
    """Wraps a loop's selector so that its `select` goes through the clock."""

    def __init__(self, inner: selectors.BaseSelector, clock: VirtualClock, loop: "VirtualEventLoop"):
        self._inner = inner
        self._clock = clock
        self._loop = loop

    def select(self, timeout=None):
        return self._clock.loop_select(self._loop, self._inner.select, timeout)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop on venue time (see the module doc)."""

    def __init__(self, clock: VirtualClock):
        super().__init__()
        self._vclock = clock
        self.pending_executor_jobs = 0
        self.driver_thread: Optional[int] = threading.get_ident()
        self._selector = _SelectorShim(self._selector, clock, self)
        # loop time counts from the clock's start (small floats keep ms exact); timers closer
        # than the venue's resolution (1 ms) are due
        self._origin_ms = clock.origin_ms
        self._clock_resolution = 0.001

    def time(self) -> float:
        return (self._vclock.ms + self._vclock.after_end_ms - self._origin_ms) / 1000.0

    def run_forever(self):
        self.driver_thread = threading.get_ident()
        return super().run_forever()

    def run_in_executor(self, executor, func, *args):
        fut = super().run_in_executor(executor, func, *args)
        self.pending_executor_jobs += 1

        def done(_f, loop=self):
            loop.pending_executor_jobs -= 1

        fut.add_done_callback(done)
        return fut


class VirtualLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """Makes every new event loop a `VirtualEventLoop` on the given clock."""

    def __init__(self, clock: VirtualClock):
        super().__init__()
        self._vclock = clock

    def new_event_loop(self):
        return VirtualEventLoop(self._vclock)
