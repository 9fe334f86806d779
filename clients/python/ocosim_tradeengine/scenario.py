"""The scenario's inputs for the real engine.

Signals and manual closes come from ``sim signals SCENARIO``: the simulator's own resolution
of ``[signals] inline``/``csv``/``random`` and ``manual_closes`` (percentages turned into
absolute prices from the price the strategy saw, rounded to the tick), so the real engine and
the port are fed exactly the same inputs. The few settings the launcher needs itself (position
mode, symbol, ``[serve]`` keys) are read from the TOML directly.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]


class ScenarioError(Exception):
    """Bad input: one line, ``FILE:LINE: field `x`: ...`` or ``FILE: ...``."""


@dataclass
class Item:
    """One input at a venue time: a signal (``signal`` set), a manual close, or a restart of the
    engine (``[faults] restarts_ms``)."""

    at: int
    kind: str
    signal: dict[str, Any] | None = None
    symbol: str = ""
    position_side: str = ""
    #: A partial manual close: this quantity (``[[manual_closes]] quantity``), or this fraction
    #: of the engine's own notion of the side's quantity (``fraction``); both None: all of it.
    quantity: Decimal | None = None
    fraction: Decimal | None = None

    def close_qty(self, full: float) -> float:
        """How much of ``full`` (the engine's own notion of the side) this manual close sends,
        as the port's manual close under a live release: all of it, the given quantity as given
        (the engine's ``close_position_with_cleanup(quantity)`` sends what its caller passes, as
        its own manual scripts do), or the fraction of it."""
        if self.quantity is not None:
            return float(self.quantity)
        if self.fraction is not None:
            return float((Decimal(repr(full)) * self.fraction).normalize())
        return full


@dataclass
class ScenarioInfo:
    """What the launcher takes from the scenario."""

    path: Path
    name: str
    symbol: str
    position_mode: str
    api_key: str | None
    api_secret: str | None
    seed: int
    items: list[Item]


def read_toml(path: Path) -> dict[str, Any]:
    """The scenario as a table; syntax errors as ``FILE:LINE: ...``."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ScenarioError(f"{path}: {e.strerror or e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise ScenarioError(f"{path}:{m.group(1) if m else 0}: {e}") from None


def resolved_items(sim: str, path: Path) -> list[Item]:
    """``sim signals SCENARIO``, parsed."""
    try:
        p = subprocess.run([sim, "signals", str(path)], capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        raise ScenarioError(f"`{sim}`: the sim binary was not found (give --sim PATH)") from None
    if p.returncode != 0:
        msg = (p.stderr.strip().splitlines() or [f"sim signals exited with {p.returncode}"])[-1]
        msg = msg.removeprefix("sim: error: ")
        raise ScenarioError(msg)
    items = []
    for n, line in enumerate(p.stdout.splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if d["kind"] == "signal":
                items.append(Item(int(d["at"]), "signal", signal=d["signal"], symbol=d["signal"]["symbol"]))
            elif d["kind"] == "manual_close":
                q, f = d.get("quantity"), d.get("fraction")
                items.append(
                    Item(
                        int(d["at"]),
                        "manual_close",
                        symbol=d["symbol"],
                        position_side=str(d["position_side"]).upper(),
                        quantity=None if q is None else Decimal(str(q)),
                        fraction=None if f is None else Decimal(str(f)),
                    )
                )
            else:
                raise KeyError(d["kind"])
        except (ValueError, KeyError, TypeError, InvalidOperation) as e:
            raise ScenarioError(f"sim signals: line {n}: unexpected output ({e})") from None
    return items


def load(path: str, sim: str) -> ScenarioInfo:
    """Reads the scenario and resolves its inputs with ``sim``."""
    p = Path(path)
    t = read_toml(p)
    items = resolved_items(sim, p)
    faults = t.get("faults") or {}
    restarts = faults.get("restarts_ms") or []
    if not isinstance(restarts, list) or not all(isinstance(r, int) and not isinstance(r, bool) for r in restarts):
        raise ScenarioError(f"{p}: field `faults.restarts_ms`: a list of venue times in ms")
    # at one instant a restart comes first, then manual closes, then signals (as in `sim run`)
    rank = {"restart": 0, "manual_close": 1, "signal": 2}
    items = sorted(items + [Item(int(r), "restart") for r in restarts], key=lambda i: (i.at, rank[i.kind]))
    ex = t.get("exchange") or {}
    mode = str(ex.get("position_mode", "one-way"))
    data = t.get("data") or {}
    symbol = next((i.symbol for i in items if i.symbol), "") or str(data.get("symbol") or "")
    if not symbol:
        for k in data.get("klines") or []:
            m = re.search(r"([A-Z0-9]{2,}USDT)", str(k))
            if m:
                symbol = m.group(1)
                break
    if not symbol:
        raise ScenarioError(f"{p}: field `data.symbol`: cannot tell the symbol; set it")
    serve = t.get("serve") or {}
    return ScenarioInfo(
        path=p,
        name=str(t.get("name") or p.stem),
        symbol=symbol,
        position_mode=mode,
        api_key=serve.get("api_key"),
        api_secret=serve.get("api_secret"),
        seed=int(t.get("seed", 0) or 0),
        items=items,
    )


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def engine_signal(s: dict[str, Any], family: str) -> dict[str, Any]:
    """The port's resolved signal as the engine's own ``Signal`` fields.

    - ``price`` and ``current_price`` are the price the strategy saw; ``quantity`` 0 lets the
      engine size the order to the minimum, as the port does;
    - ``source`` is ``petrosa-cio`` (the 2026-08 dispatcher refuses buy/sell from any other);
    - ``timestamp`` is a **naive** UTC datetime (v1.1.78/v1.1.80 compare it with a naive
      ``utcnow()``: an aware one makes the signal, and every later one, fail).
    """
    ts = datetime.fromtimestamp(int(s["timestamp"]) / 1000.0, tz=timezone.utc).replace(tzinfo=None)
    out: dict[str, Any] = {
        "strategy_id": s["strategy_id"],
        "strategy": s["strategy_id"],
        "source": "petrosa-cio",
        "symbol": s["symbol"],
        "action": str(s["action"]).lower(),
        "confidence": float(s["confidence"]),
        "price": float(s["current_price"]),
        "current_price": float(s["current_price"]),
        "quantity": float(s["quantity"]),
        "order_type": str(s.get("order_type") or "market"),
        "timestamp": ts,
    }
    for k in ("stop_loss", "take_profit", "stop_loss_pct", "take_profit_pct"):
        v = _num(s.get(k))
        if v is not None:
            out[k] = v
    return out
