"""Points the common Binance clients at a `sim serve` server, without touching the bot's code.

Each patch is applied when its module is imported (a post-import hook on `sys.meta_path`), or at
once if it already is, so installing costs nothing for clients the bot does not use:

- python-binance (`binance.client`, 1.0.x): the `BaseClient` URL class attributes (`API_URL`,
  `FUTURES_URL`, their `_TESTNET_`/`_DEMO_` twins, `FUTURES_DATA_URL`) and the socket manager's
  `FSTREAM_URL`s; keys replaced by the server's;
- ccxt (`binance`, `binanceusdm`; sync, `async_support` and `pro`): every `urls['api']` entry and
  its `test`/`demo` twins rewritten to the server, `fetchCurrencies` off; keys replaced; its error
  classes still chosen as for Binance's own hosts (ccxt picks them by the URL's host);
- binance-futures-connector: `UMFutures(base_url=…)` and `UMFuturesWebsocketClient(stream_url=…)`;
- transports: `requests` answers (synchronous, so in a deterministic order) feed `X-Sim-Time` to
  the clock; aiohttp requests and websockets handshakes count as in flight (see `clock`); websockets keepalive pings off
  (a ping timeout on venue time would fire while the pong is on the wire).
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import inspect
import sys
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from .clock import VirtualClock


@dataclass
class Target:
    """Where the clients go: REST and WebSocket bases and the server's credentials."""

    rest: str
    ws: str
    api_key: Optional[str] = None
    secret: Optional[str] = None
    #: replace whatever key the bot passes (the venue accepts only its own)
    force_keys: bool = True


class _HookLoader(importlib.abc.Loader):
    def __init__(self, inner, hook):
        self._inner = inner
        self._hook = hook

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        self._hook(module)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    def __init__(self, hooks: Dict[str, Callable]):
        self.hooks = hooks
        self._busy: set = set()

    def find_spec(self, name, path, target=None):
        hook = self.hooks.get(name)
        if hook is None or name in self._busy:
            return None
        self._busy.add(name)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy.discard(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _HookLoader(spec.loader, hook)
        return spec


def _rebase(url: str, rest: str) -> str:
    """`https://fapi.binance.com/fapi/v1` → `http://127.0.0.1:P/fapi/v1`."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return url
    return rest.rstrip("/") + urllib.parse.urlsplit(url).path


class Patches:
    """The set of client patches for one target; `install()` / `uninstall()`."""

    def __init__(self, target: Target, clock: Optional[VirtualClock] = None):
        self.target = target
        self.clock = clock
        self._undo: List[Tuple[object, str, object]] = []
        self._finder: Optional[_PostImportFinder] = None
        self.applied: List[str] = []

    # ---- helpers ------------------------------------------------------------------------------
    def _set(self, obj, name: str, value) -> None:
        had = name in vars(obj)
        self._undo.append((obj, name, vars(obj)[name] if had else _MISSING))
        setattr(obj, name, value)

    def _wrap_init(self, cls, fix: Callable[[inspect.BoundArguments], None]) -> None:
        orig = cls.__init__
        sig = inspect.signature(orig)

        @functools.wraps(orig)
        def __init__(self_, *args, **kwargs):
            try:
                bound = sig.bind_partial(self_, *args, **kwargs)
            except TypeError:
                return orig(self_, *args, **kwargs)
            fix(bound)
            return orig(*bound.args, **bound.kwargs)

        self._set(cls, "__init__", __init__)

    def _keys(self, bound: inspect.BoundArguments, key_name: str, secret_name: str) -> None:
        t = self.target
        if t.api_key is None:
            return
        if t.force_keys or not bound.arguments.get(key_name):
            bound.arguments[key_name] = t.api_key
            bound.arguments[secret_name] = t.secret

    # ---- python-binance -----------------------------------------------------------------------
    def _python_binance(self, module) -> None:
        base = sys.modules.get("binance.base_client")
        cls = getattr(base, "BaseClient", None) or getattr(module, "BaseClient", None)
        if cls is None:
            return
        rest = self.target.rest.rstrip("/")
        for name in ("API_URL", "API_TESTNET_URL", "API_DEMO_URL"):
            if hasattr(cls, name):
                self._set(cls, name, rest + "/api")
        for name in ("FUTURES_URL", "FUTURES_TESTNET_URL", "FUTURES_DEMO_URL"):
            if hasattr(cls, name):
                self._set(cls, name, rest + "/fapi")
        for name in ("FUTURES_DATA_URL", "FUTURES_DATA_TESTNET_URL"):
            if hasattr(cls, name):
                self._set(cls, name, rest + "/futures/data")
        self._wrap_init(cls, lambda b: self._keys(b, "api_key", "api_secret"))
        self.applied.append("python-binance")

    def _python_binance_streams(self, module) -> None:
        cls = getattr(module, "BinanceSocketManager", None)
        if cls is None:
            return
        ws = self.target.ws.rstrip("/") + "/"
        for name in ("FSTREAM_URL", "FSTREAM_TESTNET_URL", "FSTREAM_DEMO_URL"):
            if hasattr(cls, name):
                self._set(cls, name, ws)

    # ---- ccxt ---------------------------------------------------------------------------------
    def _ccxt(self, module) -> None:
        for name in ("binance", "binanceusdm"):
            cls = getattr(module, name, None)
            if cls is None or "__init__" in vars(cls) and getattr(vars(cls)["__init__"], "_ocosim", False):
                continue
            self._ccxt_class(cls)
        self.applied.append(module.__name__)

    def _ccxt_class(self, cls) -> None:
        orig = cls.__init__
        patches = self

        @functools.wraps(orig)
        def __init__(self_, config={}, *args, **kwargs):
            config = dict(config or {})
            t = patches.target
            if t.api_key is not None and (t.force_keys or not config.get("apiKey")):
                config["apiKey"], config["secret"] = t.api_key, t.secret
            options = dict(config.get("options") or {})
            options.setdefault("fetchCurrencies", False)
            options.setdefault("disableFuturesSandboxWarning", True)
            config["options"] = options
            orig(self_, config, *args, **kwargs)
            rest, ws = t.rest, t.ws.rstrip("/")
            for group in ("api", "test", "demo"):
                urls = self_.urls.get(group)
                if not isinstance(urls, dict):
                    continue
                for key, value in list(urls.items()):
                    if isinstance(value, str):
                        urls[key] = _rebase(value, rest)
                    elif key == "ws" and isinstance(value, dict):
                        for wkey in list(value):
                            if isinstance(value[wkey], str) and wkey in ("future", "fapi"):
                                value[wkey] = ws + "/ws"

        __init__._ocosim = True
        self._set(cls, "__init__", __init__)
        orig_by_url = vars(cls).get("get_exceptions_by_url")
        if orig_by_url is not None:
            # ccxt picks its per-market error map (e.g. -2021 → OrderImmediatelyFillable on fapi)
            # from the URL's host: give it the host the path stands for
            rest_base = self.target.rest.rstrip("/")

            @functools.wraps(orig_by_url)
            def get_exceptions_by_url(self_, url, exactOrBroad):
                if isinstance(url, str) and url.startswith(rest_base + "/"):
                    path = url[len(rest_base):]
                    section = path.split("/")[1]
                    host = getattr(self_, "hostname", None) or "binance.com"
                    if section in ("fapi", "dapi", "eapi", "papi", "api", "sapi"):
                        sub = "api" if section == "sapi" else section
                        url = f"https://{sub}.{host}{path}"
                return orig_by_url(self_, url, exactOrBroad)

            self._set(cls, "get_exceptions_by_url", get_exceptions_by_url)

    # ---- binance-futures-connector ------------------------------------------------------------
    def _connector(self, module) -> None:
        cls = getattr(module, "UMFutures", None)
        if cls is None:
            return
        rest = self.target.rest.rstrip("/")

        def fix(bound: inspect.BoundArguments) -> None:
            self._keys(bound, "key", "secret")
            kwargs = bound.arguments.setdefault("kwargs", {})
            kwargs["base_url"] = rest

        self._wrap_init(cls, fix)
        self.applied.append("binance-futures-connector")

    def _connector_ws(self, module) -> None:
        cls = getattr(module, "UMFuturesWebsocketClient", None)
        if cls is None:
            return
        ws = self.target.ws.rstrip("/")

        def fix(bound: inspect.BoundArguments) -> None:
            bound.arguments["stream_url"] = ws

        self._wrap_init(cls, fix)

    # ---- transports ---------------------------------------------------------------------------
    def _requests(self, module) -> None:
        clock = self.clock
        if clock is None:
            return
        orig = module.Session.send

        @functools.wraps(orig)
        def send(self_, request, **kwargs):
            resp = orig(self_, request, **kwargs)
            clock.observe(resp.headers.get("X-Sim-Time"))
            return resp

        self._set(module.Session, "send", send)

    def _aiohttp(self, module) -> None:
        clock = self.clock
        if clock is None:
            return
        cls = module.ClientSession
        orig = cls._request

        @functools.wraps(orig)
        async def _request(self_, *args, **kwargs):
            if clock.done:
                # after the data's end, cleanup tasks race the loop's shutdown: keep them off the wire
                raise module.ClientConnectionError("ocosim: the session's data has ended")
            clock.begin_inflight()
            try:
                resp = await orig(self_, *args, **kwargs)
                # no X-Sim-Time here: in an event loop, answers and stream frames interleave by real
                # timing, so time moves only at advances (which return the venue's time, latency
                # included); that keeps every timer a bot sets a function of (scenario, bot)
                if resp.status != 101 and "Upgrade" not in resp.headers:
                    await resp.read()  # the body too, before the venue may move on
                return resp
            finally:
                clock.end_inflight()

        self._set(cls, "_request", _request)

    def _websockets_asyncio(self, module) -> None:
        cls = getattr(module, "connect", None)
        if cls is None or not inspect.isclass(cls):
            return
        self._websockets_class(cls, "connect")

    def _websockets_legacy(self, module) -> None:
        cls = getattr(module, "Connect", None)
        if cls is None:
            return
        self._websockets_class(cls, "__await_impl__")

    def _websockets_class(self, cls, method: str) -> None:
        orig_init = cls.__init__

        @functools.wraps(orig_init)
        def __init__(self_, *args, **kwargs):
            kwargs["ping_interval"] = None
            orig_init(self_, *args, **kwargs)

        self._set(cls, "__init__", __init__)
        clock = self.clock
        orig = getattr(cls, method, None)
        if clock is None or orig is None:
            return

        @functools.wraps(orig)
        async def handshake(self_, *args, **kwargs):
            if clock.done:
                raise ConnectionRefusedError("ocosim: the session's data has ended")
            clock.begin_inflight()
            try:
                return await orig(self_, *args, **kwargs)
            finally:
                clock.end_inflight()

        self._set(cls, method, handshake)

    # ---- install ------------------------------------------------------------------------------
    def hooks(self) -> Dict[str, Callable]:
        """Module name → patch, applied at import."""
        return {
            "binance.client": self._python_binance,
            "binance.streams": self._python_binance_streams,
            "binance.ws.streams": self._python_binance_streams,
            "binance.um_futures": self._connector,
            "binance.websocket.um_futures.websocket_client": self._connector_ws,
            "ccxt": self._ccxt,
            "ccxt.async_support": self._ccxt,
            "ccxt.pro": self._ccxt,
            "requests": self._requests,
            "aiohttp": self._aiohttp,
            "websockets.asyncio.client": self._websockets_asyncio,
            "websockets.legacy.client": self._websockets_legacy,
        }

    def install(self) -> "Patches":
        """Patches modules already imported and hooks the others' import."""
        hooks = self.hooks()
        for name, hook in hooks.items():
            if name in sys.modules:
                hook(sys.modules[name])
        self._finder = _PostImportFinder(hooks)
        sys.meta_path.insert(0, self._finder)
        return self

    def uninstall(self) -> None:
        """Removes the import hook and every attribute patch, last first."""
        if self._finder is not None and self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        self._finder = None
        while self._undo:
            obj, name, old = self._undo.pop()
            if old is _MISSING:
                try:
                    delattr(obj, name)
                except AttributeError:
                    pass
            else:
                setattr(obj, name, old)
        self.applied = []


class _Missing:
    pass


_MISSING = _Missing()
