"""The live engine in a folder, prepared to trade against ``sim serve`` without changing it.

What it takes (``live-engine-wire.md`` §2.3, §3), in order:

1. environment before any import: API key and secret of the server, ``BINANCE_TESTNET=true``,
   placeholder ``MONGODB_URI``/``MONGODB_DATABASE`` (required at import, never connected),
   ``NATS_ENABLED=false``, ``RISK_MANAGEMENT_ENABLED=false``, the scenario's symbol as
   ``SUPPORTED_SYMBOLS``, every other service URL on a closed loopback port, OpenTelemetry off,
   ``TZ=UTC``;
2. python-binance: every ``*_URL`` class attribute of ``Client`` (REST, spot ping, streams) and
   of the stream managers re-pointed at the server (no URL setting of the engine works);
3. stubs: the MongoDB lock always granted, ``tradeengine.api`` as a module holding the
   launcher's exchange (order sizing imports it), ``PositionManager._initialize_mongodb`` a
   no-op, and for the 2026-08 snapshot the data-manager's HTTP client answered in memory;
4. 2026-08: the user-data stream URL (``UserDataStreamConsumer._WS_*_URL``) on the server,
   ``websockets.connect`` without keepalive pings and marked busy while it handshakes.

Nothing is written into the engine's folder; ``sys.path`` gains it, that is all.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
import types
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from ocosim_tradeengine.clock import VenueClock
from ocosim_tradeengine.harness import Harness

log = logging.getLogger("ocosim_tradeengine")

#: A loopback port nothing listens on: services the engine may look for are refused at once.
CLOSED = "127.0.0.1:9"


class EngineError(Exception):
    """The folder is not a usable checkout of the engine (one-line reason)."""


@dataclass
class Release:
    """What kind of engine a folder holds."""

    path: Path
    #: "p78" (v1.1.78 / v1.1.80: legacy orders, no user stream) or "phead" (2026-08 snapshot).
    family: str
    #: Short description for the log.
    name: str
    notes: list[str] = field(default_factory=list)


def detect(path: str | os.PathLike) -> Release:
    """Checks the folder and tells which family of releases it belongs to."""
    p = Path(path).expanduser().resolve()
    if not (p / "tradeengine" / "dispatcher.py").is_file() or not (p / "contracts" / "signal.py").is_file():
        raise EngineError(f"{p}: not a petrosa-tradeengine checkout (no tradeengine/dispatcher.py or contracts/signal.py)")
    if (p / "tradeengine" / "exchange_truth_store.py").is_file():
        return Release(p, "phead", "2026-08 snapshot family (algo legs, user-data stream)")
    return Release(p, "p78", "v1.1.78/v1.1.80 family (legacy legs, polling)")


def environment(key: str, secret: str, symbol: str, position_mode: str) -> dict[str, str]:
    """The environment the engine is imported under."""
    return {
        "BINANCE_API_KEY": key,
        "BINANCE_API_SECRET": secret,
        "BINANCE_TESTNET": "true",
        "MONGODB_URI": f"mongodb://{CLOSED}/ocosim",
        "MONGODB_DATABASE": "ocosim",
        "MONGODB_TIMEOUT_MS": "50",
        "MYSQL_URI": f"mysql+pymysql://ocosim:ocosim@{CLOSED}/ocosim",
        "DATA_MANAGER_URL": f"http://{CLOSED}",
        "NATS_ENABLED": "false",
        "NATS_URL": f"nats://{CLOSED}",
        "NATS_SERVERS": f"nats://{CLOSED}",
        "REDIS_URL": f"redis://{CLOSED}",
        "RISK_MANAGEMENT_ENABLED": "false",
        "SUPPORTED_SYMBOLS": symbol,
        "HEDGE_MODE_ENABLED": "true" if position_mode == "hedge" else "false",
        "POSITION_MODE": "hedge" if position_mode == "hedge" else "one-way",
        "ENVIRONMENT": "development",
        "OTEL_SDK_DISABLED": "true",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{CLOSED}",
        "ENABLE_OTEL": "false",
        "ENABLE_PROFILER": "false",
        "TZ": "UTC",
    }


def _rebase(url: str, rest: str, ws: str) -> str:
    """``https://host/path`` → ``rest/path``; ``wss://host/path`` → ``ws/path``."""
    parts = urlsplit(url.replace("{}", "com"))
    base = ws if parts.scheme in ("ws", "wss") else rest
    return base.rstrip("/") + parts.path


def patch_python_binance(rest: str, ws: str) -> list[str]:
    """Points every URL class attribute of python-binance at the server; returns their names."""
    import binance.client as bc

    classes: list[type] = [bc.Client]
    for modname in ("binance.base_client", "binance.async_client", "binance.streams", "binance.ws.streams"):
        mod = sys.modules.get(modname)
        if mod is None:
            try:
                __import__(modname)
                mod = sys.modules[modname]
            except Exception:  # noqa: BLE001 - absent in this python-binance version
                continue
        for name in ("BaseClient", "AsyncClient", "BinanceSocketManager"):
            c = getattr(mod, name, None)
            if isinstance(c, type) and c not in classes:
                classes.append(c)
    changed = []
    for c in classes:
        for name in dir(c):
            if not name.endswith("_URL"):
                continue
            v = getattr(c, name, None)
            if isinstance(v, str) and v.startswith(("http://", "https://", "ws://", "wss://")):
                setattr(c, name, _rebase(v, rest, ws))
                changed.append(f"{c.__name__}.{name}")
    return changed


def watch_sim_time(clock: VenueClock, host: str, port: int, venue_time: Callable[[], int] | None = None) -> None:
    """Every answer of the server moves the engine's clocks to its ``X-Sim-Time``.

    A request that ends without an answer (the server drops the connection after a timeout
    fault's ``timeout_ms``: ``requests`` raises) carries no header, yet venue time has moved on
    while the engine was blocked in it, as real time does while a real request times out; then
    ``venue_time`` (the harness's ``GET /sim/v1/clock``) is asked, before the exception reaches
    the engine, so its next sleep or ``wait_for`` deadline is measured from the right instant."""
    import requests

    real_send = requests.Session.send
    netloc = {f"{host}:{port}", f"localhost:{port}"}

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        try:
            resp = real_send(self, request, **kwargs)
        except Exception:
            if venue_time is not None and urlsplit(request.url).netloc in netloc:
                try:
                    clock.observe(venue_time())
                except Exception:  # noqa: BLE001 - the engine's own exception matters here
                    pass
            raise
        t = resp.headers.get("X-Sim-Time")
        if t is not None and urlsplit(request.url).netloc in netloc:
            try:
                clock.observe(int(t))
            except ValueError:
                pass
        return resp

    requests.Session.send = send  # type: ignore[method-assign]


def deterministic_ids(seed: int) -> None:
    """uuid4 and ``random`` from the seed: local ids and client order ids repeat run to run."""
    rng = random.Random(seed)
    random.seed(seed)

    def uuid4() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    uuid.uuid4 = uuid4  # type: ignore[assignment]


async def _granted(*args: Any, **kwargs: Any) -> bool:
    return True


async def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def stub_lock() -> None:
    """The MongoDB lock: always granted (there is one engine), initialise/close do nothing."""
    from shared import distributed_lock as dl

    m = dl.distributed_lock_manager
    for name in ("acquire_lock", "release_lock"):
        if hasattr(m, name):
            setattr(m, name, _granted)
    for name in ("initialize", "close"):
        if hasattr(m, name):
            setattr(m, name, _nothing)


def stub_api(exchange: Any) -> None:
    """``tradeengine.api`` as a bare module exposing the launcher's exchange."""
    mod = types.ModuleType("tradeengine.api")
    mod.binance_exchange = exchange  # type: ignore[attr-defined]
    mod.__doc__ = "ocosim stand-in for the engine's FastAPI module (order sizing reads binance_exchange)"
    sys.modules["tradeengine.api"] = mod
    import tradeengine

    tradeengine.api = mod  # type: ignore[attr-defined]


def stub_mongodb() -> None:
    """``PositionManager._initialize_mongodb``: nothing to connect to."""
    from tradeengine import position_manager as pm

    if hasattr(pm.PositionManager, "_initialize_mongodb"):
        pm.PositionManager._initialize_mongodb = _nothing  # type: ignore[method-assign]


class DataManagerStub:
    """The 2026-08 data-manager's HTTP client answered in memory, as a healthy, empty service."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    async def request(self, client: Any, method: str, path: str, *, json_body: Any = None, params: Any = None) -> dict:
        key = f"{method} {path.split('?')[0]}"
        self.calls[key] = self.calls.get(key, 0) + 1
        if path.startswith("/health"):
            return {"status": "healthy"}
        if path.endswith("/data/query") or method == "GET":
            return {"data": [], "pagination": None}
        if path.endswith("/data/insert"):
            records = (json_body or {}).get("records") or [None]
            return {"inserted_count": len(records)}
        if method == "PUT":
            return {"modified_count": 1, "upserted_count": 0}
        if method == "DELETE":
            return {"deleted_count": 0}
        return {}


def stub_data_manager() -> DataManagerStub | None:
    """Replaces ``BaseDataManagerClient._retry_request`` (2026-08) with the in-memory stub."""
    try:
        from tradeengine.services import data_manager_client as dmc
    except ImportError:
        return None
    stub = DataManagerStub()

    async def _retry_request(self: Any, method: str, path: str, *, json_body: Any = None, params: Any = None) -> dict:
        return await stub.request(self, method, path, json_body=json_body, params=params)

    dmc.BaseDataManagerClient._retry_request = _retry_request  # type: ignore[method-assign]
    return stub


def patch_user_stream(ws: str, clock: VenueClock) -> None:
    """2026-08: the user-data stream on the server; websockets without keepalive, busy while
    the handshake or the closing handshake is in flight."""
    from tradeengine import exchange_truth_store as ets

    c = ets.UserDataStreamConsumer
    c._WS_TESTNET_URL = ws.rstrip("/") + "/ws"
    c._WS_MAINNET_URL = ws.rstrip("/") + "/ws"

    import websockets

    real_connect = websockets.connect

    class _Connect:
        def __init__(self, uri: str, **kwargs: Any) -> None:
            kwargs["ping_interval"] = None
            self._c = real_connect(uri, **kwargs)

        async def __aenter__(self) -> Any:
            with clock.busy():
                return await self._c.__aenter__()

        async def __aexit__(self, *exc: Any) -> Any:
            with clock.busy():
                return await self._c.__aexit__(*exc)

        def __await__(self) -> Any:
            async def go() -> Any:
                with clock.busy():
                    return await self._c

            return go().__await__()

    websockets.connect = _Connect  # type: ignore[assignment,misc]


@dataclass
class Engine:
    """The imported engine: its exchange adapter, dispatcher and ``Signal`` class."""

    release: Release
    exchange: Any
    dispatcher: Any
    signal_cls: Any
    data_manager: DataManagerStub | None


def prepare(release: Release, rest: str, ws: str, key: str, secret: str, symbol: str, position_mode: str, clock: VenueClock, seed: int) -> None:
    """Environment, import path and every patch that must precede the engine's imports."""
    os.environ.update(environment(key, secret, symbol, position_mode))
    if hasattr(time, "tzset"):
        time.tzset()
    sys.path.insert(0, str(release.path))
    deterministic_ids(seed)
    changed = patch_python_binance(rest, ws)
    log.info("python-binance URLs on the server: %s", ", ".join(changed))
    parts = urlsplit(rest)
    harness = Harness(rest)
    watch_sim_time(clock, parts.hostname or "127.0.0.1", parts.port or 80, lambda: harness.clock().time)


async def build(release: Release, ws: str, clock: VenueClock, restart_of: Engine | None = None) -> Engine:
    """Imports the engine, stubs its infrastructure, builds and initialises its exchange and
    dispatcher as the service does (``initialize()`` of the exchange; of the dispatcher too for
    the 2026-08 family, where it sets leverage, reconciles and starts the user-data stream).

    ``restart_of``: the engine this one replaces after a restart; the stubs and patches stay (they
    are the environment), everything else is built afresh by the same start-up path."""
    from contracts.signal import Signal
    from tradeengine.exchange.binance import BinanceFuturesExchange

    if restart_of is not None:
        dm = restart_of.data_manager
    else:
        stub_lock()
        stub_mongodb()
        dm = stub_data_manager() if release.family == "phead" else None
        if release.family == "phead":
            patch_user_stream(ws, clock)
    exchange = BinanceFuturesExchange()
    stub_api(exchange)
    from tradeengine.dispatcher import Dispatcher

    await exchange.initialize()
    if getattr(exchange, "client", None) is None:
        raise EngineError("the engine's Binance client did not start (see the log)")
    dispatcher = Dispatcher(exchange=exchange)
    if release.family == "phead":
        await dispatcher.initialize()
    return Engine(release, exchange, dispatcher, Signal, dm)
