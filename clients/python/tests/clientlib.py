"""Helpers shared by the client lifecycle tests: filters, rounding, a plain user-stream reader."""

from __future__ import annotations

import json
import threading
from decimal import ROUND_DOWN, Decimal
from typing import Callable, List, Optional

SYMBOL_ALGO = "AVAXUSDT"
SYMBOL_LEGACY = "NEARUSDT"
#: how far the legs sit from the entry: close enough that one fills within hours of real data
LEG_PCT = Decimal("0.006")
#: one advance step while waiting for a leg to fill (the scenarios' reaction window is 30 s)
STEP_MS = 5_000
#: how long to wait for a leg to fill
MAX_WAIT_MS = 24 * 3_600_000


def advance_until(session, done: Callable[[], bool], step_ms: int = STEP_MS, max_ms: int = MAX_WAIT_MS) -> bool:
    """Advances the venue in `step_ms` steps until `done()` (checked after each step) or `max_ms`."""
    for _ in range(max_ms // step_ms):
        session.advance(step_ms)
        if done():
            return True
    return False


def advance_until_a_leg_fires(session, reader, open_ids: Callable[[], list], ids, algo: bool) -> bool:
    """Advances until one of the legs `ids` has left the open orders, then waits for its stream event.

    The check after each step is a REST read (`open_ids()`), not the stream: an advance returns once
    the server has *written* the frames, but the reader thread may not have parsed them yet on a loaded
    machine, and each step the check lags is 5 s more of market. CI once saw 17 such steps (85 s)
    between a stop's fill and the survivor's cancel: an orphan past the 30 s window. The fired leg's
    frames are then waited for in real time, so the stream is still checked.
    """
    if not advance_until(session, lambda: len(open_ids()) < len(ids)):
        return False
    pred = (lambda e: algo_update(status="TRIGGERED")(e) and e["o"]["aid"] in ids) if algo else (
        lambda e: otu(status="FILLED")(e) and e["o"]["i"] in ids)
    reader.wait_for(pred)
    return True


def filters(symbol_info: dict) -> dict:
    """`{"tick": Decimal, "step": Decimal}` from an exchangeInfo symbol."""
    f = {x["filterType"]: x for x in symbol_info["filters"]}
    return {"tick": Decimal(f["PRICE_FILTER"]["tickSize"]), "step": Decimal(f["LOT_SIZE"]["stepSize"])}


def round_to(value, unit: Decimal) -> str:
    """`value` rounded down to a multiple of `unit`, as the plain string Binance expects."""
    q = (Decimal(str(value)) / unit).to_integral_value(rounding=ROUND_DOWN) * unit
    return format(q.normalize(), "f")


def legs_for_long(price, tick: Decimal, pct: Decimal = LEG_PCT):
    """(stop, take-profit) prices for a LONG entered at `price`."""
    p = Decimal(str(price))
    return round_to(p * (1 - pct), tick), round_to(p * (1 + pct), tick)


class StreamReader:
    """Reads a user-data WebSocket in a thread (websockets' sync client) and keeps every event."""

    def __init__(self, url: str, subscribe: Optional[List[str]] = None):
        from websockets.sync.client import connect

        self.url = url
        self.events: List[dict] = []
        self.frames: List[str] = []
        self._cond = threading.Condition()
        self.ws = connect(url)
        if subscribe:
            self.ws.send(json.dumps({"method": "SUBSCRIBE", "params": subscribe, "id": 1}))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for frame in self.ws:
                doc = json.loads(frame)
                with self._cond:
                    self.frames.append(frame)
                    if isinstance(doc, dict) and "data" in doc and "stream" in doc:
                        doc = doc["data"]  # combined-stream wrapper
                    if isinstance(doc, dict) and "e" in doc:
                        self.events.append(doc)
                    self._cond.notify_all()
        except Exception:
            pass

    def wait_for(self, pred: Callable[[dict], bool], timeout: float = 10.0) -> dict:
        """The first event matching `pred`, waiting (real time) up to `timeout` s."""
        with self._cond:
            ok = self._cond.wait_for(lambda: any(pred(e) for e in self.events), timeout)
            if not ok:
                kinds = [e.get("e") for e in self.events]
                raise AssertionError(f"no matching event on {self.url} within {timeout}s; got {kinds}")
            return next(e for e in self.events if pred(e))

    def has(self, pred: Callable[[dict], bool]) -> bool:
        """Whether an event matching `pred` has arrived (no wait)."""
        with self._cond:
            return any(pred(e) for e in self.events)

    def close(self) -> None:
        self.ws.close()
        self.thread.join(5)


def otu(order_id=None, status=None, kind=None):
    """Matcher for ORDER_TRADE_UPDATE events."""

    def pred(e):
        if e.get("e") != "ORDER_TRADE_UPDATE":
            return False
        o = e["o"]
        return ((order_id is None or o.get("i") == order_id) and (status is None or o.get("X") == status)
                and (kind is None or o.get("ot") == kind or o.get("o") == kind))

    return pred


def algo_update(algo_id=None, status=None):
    """Matcher for ALGO_UPDATE events."""

    def pred(e):
        if e.get("e") != "ALGO_UPDATE":
            return False
        o = e.get("o", {})
        return (algo_id is None or o.get("aid") == algo_id) and (status is None or o.get("X") == status)

    return pred


def assert_only_the_planted_reduce_only(verdict: dict) -> None:
    """The session's only violation is the `reduceOnly` request the error checks sent on purpose."""
    import pathlib

    summary = json.loads((pathlib.Path(verdict["reports"]) / "summary.json").read_text())
    counts = {k: v for k, v in summary["violations_by_invariant"].items() if v}
    assert counts == {"reduce-only-mode": 1}, counts
    assert summary["rejections_by_code"].get("-1106") == 1 and summary["rejections_by_code"].get("-2021") == 1
    assert verdict["verdict"] == "FAIL" and verdict["exit"] == 1 and verdict["violations"] == 1, verdict
