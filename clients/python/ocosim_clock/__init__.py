"""ocosim_clock: run an unmodified Python bot against ocosim's `sim serve` under lockstep venue time.

    from ocosim_clock import Session
    with Session("http://127.0.0.1:PORT", api_key=K, secret=S) as s:
        ...            # python-binance / ccxt / binance-futures-connector now talk to the server,
        s.advance(60_000)   # and time.time, datetime, asyncio loops follow the venue clock
        verdict = s.stop()

The runner (`ocosim-run`, `python -m ocosim_clock`) does the same around a bot file. Importing this
package makes no network call.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Optional

from .clock import SimulationOver, VirtualClock, VirtualEventLoop
from .harness import Harness, HarnessError, Server, default_sim_binary, start_server
from .patches import Patches, Target

__all__ = [
    "Session",
    "SimulationOver",
    "VirtualClock",
    "VirtualEventLoop",
    "Harness",
    "HarnessError",
    "Server",
    "Target",
    "Patches",
    "start_server",
    "default_sim_binary",
]


class Session:
    """One bot session on a running server: the venue clock plus the client patches.

    On a paced server (`--clock paced:SPEED`) the bot keeps its own clock: only the patches apply.
    """

    def __init__(
        self,
        rest: Optional[str] = None,
        ws: Optional[str] = None,
        api_key: Optional[str] = None,
        secret: Optional[str] = None,
        force_keys: bool = True,
        max_step_ms: Optional[int] = None,
        idle_step_ms: int = 1000,
        clock: bool = True,
        seed: Optional[int] = None,
    ):
        rest = rest or os.environ.get("OCOSIM_URL")
        if not rest:
            raise ValueError("no server URL: pass one or set OCOSIM_URL")
        self.rest = rest.rstrip("/")
        self.ws = (ws or os.environ.get("OCOSIM_WS") or "ws" + self.rest[len("http") :]).rstrip("/")
        api_key = api_key if api_key is not None else os.environ.get("OCOSIM_API_KEY")
        secret = secret if secret is not None else os.environ.get("OCOSIM_API_SECRET")
        self.harness = Harness(self.rest)
        self.target = Target(self.rest, self.ws, api_key, secret, force_keys)
        self.clock: Optional[VirtualClock] = None
        self.mode = "lockstep"
        if clock:
            state = self.harness.clock()
            self.mode = str(state.get("clock", "lockstep"))
        if clock and self.mode.startswith("lockstep"):
            self.clock = VirtualClock(self.harness, int(state["time"]), max_step_ms, idle_step_ms)
            if state.get("done"):
                self.clock.done = True
        self.patches = Patches(self.target, self.clock)
        self.seed = seed
        self._uuid4 = None
        self.installed = False

    def install(self) -> "Session":
        """Installs the clock (if any) and the client patches in this process."""
        if self.clock is not None:
            self.clock.install()
        self.patches.install()
        if self.seed is not None:
            # client order ids drawn from `random` or uuid4 (python-binance 1.0.3x, ccxt) repeat run to run
            random.seed(self.seed)
            rng = random.Random(self.seed)
            self._uuid4 = uuid.uuid4
            uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
        self.installed = True
        return self

    def uninstall(self) -> None:
        """Undoes `install`."""
        if not self.installed:
            return
        self.patches.uninstall()
        if self._uuid4 is not None:
            uuid.uuid4 = self._uuid4
            self._uuid4 = None
        if self.clock is not None:
            self.clock.uninstall()
        self.installed = False

    def __enter__(self) -> "Session":
        return self.install()

    def __exit__(self, *exc) -> None:
        self.uninstall()

    def now_ms(self) -> int:
        """Venue time in ms as the bot sees it."""
        if self.clock is not None:
            return self.clock.ms
        return int(self.harness.clock()["time"])

    def advance(self, ms: int) -> int:
        """Advances the venue by `ms` (returns the new time; raises `SimulationOver` at the end)."""
        if self.clock is not None:
            return self.clock.advance_by(ms)
        return int(self.harness.advance_by(ms)["time"])

    def advance_to(self, ms: int) -> int:
        """Advances the venue to `ms`."""
        if self.clock is not None:
            return self.clock.advance_to(ms)
        return int(self.harness.advance_to(ms)["time"])

    def stop(self) -> dict:
        """Ends the session on the server: `{"verdict","violations","exit","reports"}`."""
        return self.harness.stop()
