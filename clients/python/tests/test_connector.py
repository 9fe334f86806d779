"""binance-futures-connector (official, `UMFutures`) against `sim serve`: the OCO lifecycle.

The connector puts every parameter (POST too) in the query, `timestamp` last; its WebSocket client
connects to `<stream_url>/ws` and SUBSCRIBEs the listenKey. Errors are `binance.error.ClientError`
with Binance's code in `error_code`.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest

from clientlib import advance_until_a_leg_fires, assert_only_the_planted_reduce_only, SYMBOL_ALGO, SYMBOL_LEGACY, filters, legs_for_long, round_to
from conftest import ALGO, LEGACY

pytest.importorskip("binance.um_futures")
QTY = "10"


class Frames:
    """Collects what UMFuturesWebsocketClient hands its `on_message`."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def on_message(self, _ws, message):
        doc = json.loads(message)
        with self.cond:
            if isinstance(doc, dict) and "e" in doc:
                self.events.append(doc)
            self.cond.notify_all()

    def has(self, pred):
        with self.cond:
            return any(pred(e) for e in self.events)

    def wait_for(self, pred, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(lambda: any(pred(e) for e in self.events), timeout), [
                e.get("e") for e in self.events]


def _lifecycle(s, symbol, algo):
    from binance.error import ClientError
    from binance.um_futures import UMFutures
    from binance.websocket.um_futures.websocket_client import UMFuturesWebsocketClient

    um = UMFutures(s.server.api_key, s.server.secret)
    bad = UMFutures(s.server.api_key, "not-the-secret")
    assert um.time()["serverTime"] == s.now_ms()
    f = filters(next(x for x in um.exchange_info()["symbols"] if x["symbol"] == symbol))
    assert um.get_position_mode()["dualSidePosition"] is True

    frames = Frames()
    key = um.new_listen_key()["listenKey"]
    ws = UMFuturesWebsocketClient(on_message=frames.on_message)
    ws.user_data(listen_key=key)
    try:
        # the SUBSCRIBE is answered with {"result": null, "id": …}; the stream is live after it
        entry = um.new_order(symbol=symbol, side="BUY", positionSide="LONG", type="MARKET", quantity=QTY,
                             newOrderRespType="RESULT")
        assert entry["status"] == "FILLED" and isinstance(entry["orderId"], int)
        s.advance(1000)
        frames.wait_for(lambda e: e.get("e") == "ORDER_TRADE_UPDATE" and e["o"]["i"] == entry["orderId"]
                        and e["o"]["X"] == "FILLED")
        rows = um.get_position_risk(symbol=symbol)
        assert Decimal(next(r for r in rows if r["positionSide"] == "LONG")["positionAmt"]) == Decimal(QTY)
        sl, tp = legs_for_long(Decimal(entry["avgPrice"]), f["tick"])
        if algo:
            legs = [um.sign_request("POST", "/fapi/v1/algoOrder",
                                    {"algoType": "CONDITIONAL", "symbol": symbol, "side": "SELL",
                                     "positionSide": "LONG", "type": kind, "quantity": QTY, "triggerPrice": px})
                    for kind, px in (("STOP_MARKET", sl), ("TAKE_PROFIT_MARKET", tp))]
            ids = [leg["algoId"] for leg in legs]

            def open_ids():
                return [o["algoId"] for o in um.sign_request("GET", "/fapi/v1/openAlgoOrders", {"symbol": symbol})]
        else:
            legs = [um.new_order(symbol=symbol, side="SELL", positionSide="LONG", type=kind, quantity=QTY,
                                 stopPrice=px)
                    for kind, px in (("STOP_MARKET", sl), ("TAKE_PROFIT_MARKET", tp))]
            ids = [leg["orderId"] for leg in legs]

            def open_ids():
                return [o["orderId"] for o in um.get_orders(symbol=symbol)]

        assert sorted(open_ids()) == sorted(ids)
        assert advance_until_a_leg_fires(s, frames, open_ids, ids, algo), "no leg filled within a day"
        remaining = open_ids()
        assert len(remaining) == 1, remaining
        survivor = remaining[0]
        if algo:
            um.sign_request("DELETE", "/fapi/v1/algoOrder", {"symbol": symbol, "algoId": survivor})
        else:
            assert um.cancel_order(symbol=symbol, orderId=survivor)["status"] == "CANCELED"
        assert open_ids() == []
        s.advance(1000)
        frames.wait_for(lambda e: e.get("e") == "ACCOUNT_UPDATE")

        rows = um.get_position_risk(symbol=symbol)
        assert all(Decimal(r["positionAmt"]) == 0 for r in rows if r["positionSide"] == "LONG"), rows
        usdt = next(b for b in um.balance() if b["asset"] == "USDT")
        assert Decimal(usdt["balance"]) != 10000
        assert Decimal(um.account()["totalWalletBalance"]) == Decimal(usdt["balance"])

        with pytest.raises(ClientError) as e:
            bad.account()
        assert e.value.error_code == -1022 and e.value.status_code == 400
        with s.clock.wall_skew(-120_000), pytest.raises(ClientError) as e:
            um.account()
        assert e.value.error_code == -1021
        price = Decimal(um.ticker_price(symbol=symbol)["price"])
        above = round_to(price * Decimal("1.05"), f["tick"])
        with pytest.raises(ClientError) as e:
            if algo:
                um.sign_request("POST", "/fapi/v1/algoOrder",
                                {"algoType": "CONDITIONAL", "symbol": symbol, "side": "SELL", "positionSide": "LONG",
                                 "type": "STOP_MARKET", "quantity": QTY, "triggerPrice": above})
            else:
                um.new_order(symbol=symbol, side="SELL", positionSide="LONG", type="STOP_MARKET", quantity=QTY,
                             stopPrice=above)
        assert e.value.error_code == -2021
        with pytest.raises(ClientError) as e:
            um.new_order(symbol=symbol, side="SELL", positionSide="LONG", type="MARKET", quantity=QTY,
                         reduceOnly="true")
        assert e.value.error_code == -1106
    finally:
        ws.stop()
    assert_only_the_planted_reduce_only(s.stop())


def test_connector_oco_lifecycle_on_the_algo_order_api(session):
    _lifecycle(session(ALGO), SYMBOL_ALGO, algo=True)


def test_connector_oco_lifecycle_on_the_legacy_endpoint(session):
    _lifecycle(session(LEGACY), SYMBOL_LEGACY, algo=False)
