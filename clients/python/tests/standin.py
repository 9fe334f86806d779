"""A tiny stand-in for ``sim serve`` (tests only): the harness endpoints and just enough of
Binance USD-M for the live engine's OCO path, on a scripted price, in lockstep time.

Not a venue: one symbol, hedge mode, MARKET orders fill at once at the scripted price,
STOP_MARKET / TAKE_PROFIT_MARKET legs (legacy and algo) trigger when the price crosses them on
an advance, no signatures checked, no latency. Every request is logged with its venue time so
tests can compare runs.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit


class Venue:
    """State of the stand-in: clock, price script, orders and positions."""

    def __init__(self, symbol: str, start: int, end: int, price: Callable[[int], float]) -> None:
        self.symbol = symbol
        self.now = start
        self.start = start
        self.end = end
        self.price = price
        self.lock = threading.Lock()
        self.next_id = 1000
        self.orders: dict[int, dict[str, Any]] = {}  # resting legacy conditional orders
        self.algos: dict[int, dict[str, Any]] = {}  # resting algo orders
        self.pos = {"LONG": 0.0, "SHORT": 0.0}
        self.log: list[dict[str, Any]] = []
        self.fills: list[dict[str, Any]] = []
        self.stopped = False

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _fill(self, side: str, ps: str, qty: float, why: str) -> None:
        sign = 1 if (side == "BUY") == (ps == "LONG") else -1
        self.pos[ps] = max(self.pos[ps] + sign * qty, 0.0)
        self.fills.append({"t": self.now, "side": side, "ps": ps, "qty": qty, "price": self.price(self.now), "why": why})

    def _triggered(self, o: dict[str, Any], p: float) -> bool:
        stop = float(o["stop"])
        sl = o["type"] == "STOP_MARKET"
        if o["side"] == "SELL":  # protecting a long
            return p <= stop if sl else p >= stop
        return p >= stop if sl else p <= stop

    def advance(self, to: int) -> None:
        """Walks the clock second by second to ``to``, triggering legs."""
        to = min(to, self.end)
        t = self.now
        while t < to:
            t = min(t + 1000, to)
            self.now = t
            p = self.price(t)
            for book in (self.orders, self.algos):
                for oid in sorted(book):
                    o = book.get(oid)
                    if o is None or not self._triggered(o, p):
                        continue
                    del book[oid]
                    qty = o["qty"] if o["qty"] else self.pos[o["ps"]]
                    self._fill(o["side"], o["ps"], qty, f"{o['type']} {oid}")
                    if o.get("close_position") and self.pos[o["ps"]] == 0:
                        for k in [k for k, v in self.algos.items() if v["ps"] == o["ps"]]:
                            del self.algos[k]  # GTE_GTC: the survivor expires

    # -- REST
    def handle(self, method: str, path: str, q: dict[str, str]) -> tuple[int, Any]:
        s = self.symbol
        p = self.price(self.now)
        if path in ("/api/v3/ping", "/fapi/v1/ping"):
            return 200, {}
        if path in ("/fapi/v1/time", "/api/v3/time"):
            return 200, {"serverTime": self.now}
        if path == "/fapi/v1/exchangeInfo":
            return 200, {"symbols": [{
                "symbol": s, "status": "TRADING", "baseAsset": s[:-4], "quoteAsset": "USDT", "contractType": "PERPETUAL",
                "marginAsset": "USDT", "pricePrecision": 3, "quantityPrecision": 0,
                "filters": [
                    {"filterType": "PRICE_FILTER", "tickSize": "0.001", "minPrice": "0.001", "maxPrice": "100000"},
                    {"filterType": "LOT_SIZE", "stepSize": "1", "minQty": "1", "maxQty": "1000000"},
                    {"filterType": "MIN_NOTIONAL", "notional": "5"},
                    {"filterType": "PERCENT_PRICE", "multiplierUp": "1.1", "multiplierDown": "0.9", "multiplierDecimal": "4"},
                ]}]}
        if path == "/fapi/v1/ticker/price":
            return 200, {"symbol": s, "price": f"{p:.3f}", "time": self.now}
        if path == "/fapi/v1/leverage":
            return 200, {"symbol": q.get("symbol"), "leverage": int(q.get("leverage", 10)), "maxNotionalValue": "1000000"}
        if path == "/fapi/v1/listenKey":
            return 200, {"listenKey": "standin-listen-key"}
        if path in ("/fapi/v2/positionRisk", "/fapi/v3/positionRisk"):
            return 200, [{"symbol": s, "positionSide": ps, "positionAmt": str(a if ps == "LONG" else -a), "markPrice": f"{p:.3f}", "entryPrice": "0"} for ps, a in self.pos.items()]
        if path in ("/fapi/v2/account", "/fapi/v2/balance"):
            return 200, {"totalWalletBalance": "10000", "availableBalance": "10000", "totalMarginBalance": "10000", "assets": [], "positions": []}
        if path == "/fapi/v1/userTrades":
            return 200, []
        if path == "/fapi/v1/openOrders":
            return 200, [self._legacy_view(i, o) for i, o in sorted(self.orders.items())]
        if path == "/fapi/v1/openAlgoOrders":
            return 200, [self._algo_view(i, o) for i, o in sorted(self.algos.items())]
        if path == "/fapi/v1/order" and method == "POST":
            typ = q.get("type")
            ps = q.get("positionSide", "BOTH")
            qty = float(q.get("quantity", 0))
            oid = self._id()
            if typ == "MARKET":
                self._fill(q["side"], ps, qty, f"MARKET {oid}")
                return 200, {"orderId": oid, "symbol": s, "status": "NEW", "executedQty": "0", "origQty": q.get("quantity"), "price": "0", "avgPrice": "0.00", "type": "MARKET", "side": q["side"], "positionSide": ps, "updateTime": self.now}
            if typ in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
                self.orders[oid] = {"type": typ, "side": q["side"], "ps": ps, "qty": qty, "stop": q["stopPrice"]}
                return 200, self._legacy_view(oid, self.orders[oid])
            return 400, {"code": -1116, "msg": "Invalid orderType."}
        if path == "/fapi/v1/order" and method == "DELETE":
            oid = int(q.get("orderId", 0))
            if oid in self.orders:
                o = self.orders.pop(oid)
                v = self._legacy_view(oid, o)
                v["status"] = "CANCELED"
                return 200, v
            return 400, {"code": -2011, "msg": "Unknown order sent."}
        if path == "/fapi/v1/order" and method == "GET":
            return 400, {"code": -2013, "msg": "Order does not exist."}
        if path == "/fapi/v1/algoOrder" and method == "POST":
            aid = self._id()
            self.algos[aid] = {"type": q["type"], "side": q["side"], "ps": q.get("positionSide", "BOTH"), "qty": float(q.get("quantity", 0) or 0),
                               "stop": q["triggerPrice"], "close_position": q.get("closePosition", "").lower() == "true"}
            return 200, self._algo_view(aid, self.algos[aid])
        if path == "/fapi/v1/algoOrder" and method == "DELETE":
            aid = int(q.get("algoId", 0))
            if aid in self.algos:
                v = self._algo_view(aid, self.algos.pop(aid))
                v["algoStatus"] = "CANCELED"
                return 200, v
            return 400, {"code": -2011, "msg": "Unknown order sent."}
        return 400, {"code": -1, "msg": f"stand-in: {method} {path} not served"}

    def _legacy_view(self, oid: int, o: dict[str, Any]) -> dict[str, Any]:
        return {"orderId": oid, "symbol": self.symbol, "status": "NEW", "type": o["type"], "side": o["side"], "positionSide": o["ps"],
                "origQty": str(o["qty"]), "stopPrice": o["stop"], "price": "0", "updateTime": self.now}

    def _algo_view(self, aid: int, o: dict[str, Any]) -> dict[str, Any]:
        return {"algoId": aid, "symbol": self.symbol, "algoStatus": "NEW", "algoType": "CONDITIONAL", "orderType": o["type"], "side": o["side"],
                "positionSide": o["ps"], "triggerPrice": o["stop"], "closePosition": o["close_position"], "quantity": str(o["qty"]), "createTime": self.now}


def serve(venue: Venue) -> tuple[ThreadingHTTPServer, str]:
    """Starts the stand-in on a free loopback port; returns the server and its REST base."""

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # one write per answer (headers and body together: no Nagle stall)

        def log_message(self, *a: Any) -> None:
            pass

        def _go(self, method: str) -> None:
            u = urlsplit(self.path)
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode() if n else ""
            q = dict(parse_qsl(u.query))
            q.update(dict(parse_qsl(body)))
            q.pop("signature", None)
            with venue.lock:
                if u.path == "/sim/v1/clock":
                    code, ans = 200, {"time": venue.now, "start": venue.start, "end": venue.end, "done": venue.now >= venue.end, "clock": "lockstep"}
                elif u.path == "/sim/v1/advance":
                    venue.advance(int(q["to"]))
                    code, ans = 200, {"time": venue.now, "done": venue.now >= venue.end}
                elif u.path == "/sim/v1/stop":
                    venue.stopped = True
                    bad = sum(1 for o in venue.orders.values() if venue.pos[o["ps"]] == 0)
                    code, ans = 200, {"verdict": "FAIL" if bad else "PASS", "violations": bad, "exit": 1 if bad else 0, "reports": "standin"}
                else:
                    code, ans = venue.handle(method, u.path, {k: v for k, v in q.items() if k not in ("timestamp", "recvWindow")})
                    venue.log.append({"t": venue.now, "method": method, "path": u.path,
                                      "params": {k: v for k, v in sorted(q.items()) if k not in ("timestamp", "recvWindow", "newClientOrderId")},
                                      "status": code})
                t = venue.now
            data = json.dumps(ans).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Sim-Time", str(t))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._go("GET")

        def do_POST(self) -> None:
            self._go("POST")

        def do_PUT(self) -> None:
            self._go("PUT")

        def do_DELETE(self) -> None:
            self._go("DELETE")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"
