"""ccxt `binanceusdm` (sync) against `sim serve` on real data: the OCO lifecycle in both eras.

ccxt signs with its own parameter order and percent-encoding, sends POSTs as form bodies and asks
MARKET orders for `newOrderRespType=RESULT`; its unified API routes conditional orders to the Algo
Order API (algo era); the legacy era's legs go through its implicit `fapiPrivatePostOrder`.
Errors come back as ccxt's own exception classes carrying Binance's code.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from clientlib import advance_until_a_leg_fires, assert_only_the_planted_reduce_only, SYMBOL_ALGO, SYMBOL_LEGACY, StreamReader, filters, legs_for_long, otu, round_to
from conftest import ALGO, LEGACY

ccxt = pytest.importorskip("ccxt")
QTY = 10


def _code(err) -> int:
    text = str(err)
    doc = json.loads(text[text.index("{"):])
    return doc["code"]


def _lifecycle(s, symbol, algo):
    ex = ccxt.binanceusdm({"apiKey": s.server.api_key, "secret": s.server.secret})
    bad = ccxt.binanceusdm({"apiKey": s.server.api_key, "secret": "not-the-secret"})
    markets = ex.load_markets()
    unified = next(m for m in markets.values() if m["id"] == symbol)
    assert unified["linear"] and unified["swap"] and unified["settle"] == "USDT"
    sym = unified["symbol"]
    info = next(x for x in ex.fapiPublicGetExchangeInfo()["symbols"] if x["symbol"] == symbol)
    f = filters(info)
    assert ex.fetch_position_mode(sym)["hedged"] is True

    key = ex.fapiPrivatePostListenKey()["listenKey"]
    stream = StreamReader(f"{s.ws}/stream?streams={key}")  # combined-stream form, wrapped frames
    try:
        entry = ex.create_order(sym, "market", "buy", QTY, None, {"positionSide": "LONG"})
        assert entry["status"] == "closed" and entry["filled"] == QTY  # ccxt asks for RESULT
        s.advance(1000)
        stream.wait_for(otu(int(entry["id"]), "FILLED"))
        sl, tp = legs_for_long(Decimal(str(entry["average"])), f["tick"])
        if algo:
            legs = [ex.create_order(sym, kind, "sell", QTY, None, {"positionSide": "LONG", "triggerPrice": px})
                    for kind, px in (("STOP_MARKET", sl), ("TAKE_PROFIT_MARKET", tp))]
            ids = [int(leg["info"]["algoId"]) for leg in legs]

            def open_ids():
                return [o["algoId"] for o in ex.fapiPrivateGetOpenAlgoOrders({"symbol": symbol})]
        else:
            legs = [ex.fapiPrivatePostOrder({"symbol": symbol, "side": "SELL", "positionSide": "LONG", "type": kind,
                                             "quantity": str(QTY), "stopPrice": px})
                    for kind, px in (("STOP_MARKET", sl), ("TAKE_PROFIT_MARKET", tp))]
            ids = [int(leg["orderId"]) for leg in legs]

            def open_ids():
                return [int(o["id"]) for o in ex.fetch_open_orders(sym)]

        assert sorted(int(i) for i in open_ids()) == sorted(ids)
        assert advance_until_a_leg_fires(s, stream, open_ids, ids, algo), "no leg filled within a day"
        remaining = [int(i) for i in open_ids()]
        assert len(remaining) == 1, remaining
        survivor = remaining[0]
        if algo:
            ex.fapiPrivateDeleteAlgoOrder({"symbol": symbol, "algoId": survivor})
        else:
            assert ex.cancel_order(str(survivor), sym)["status"] == "canceled"
        assert open_ids() == []
        s.advance(1000)
        stream.wait_for(lambda e: e.get("e") == "ACCOUNT_UPDATE")

        positions = ex.fetch_positions([sym])
        assert all(p["contracts"] in (0, None) for p in positions if p["side"] == "long"), positions
        balance = ex.fetch_balance()
        assert balance["USDT"]["total"] is not None and Decimal(str(balance["USDT"]["total"])) != 10000

        with pytest.raises(ccxt.AuthenticationError) as e:
            bad.fetch_balance()
        assert _code(e.value) == -1022
        with s.clock.wall_skew(-120_000), pytest.raises(ccxt.InvalidNonce) as e:
            ex.fetch_balance()
        assert _code(e.value) == -1021
        price = Decimal(ex.fapiPublicGetTickerPrice({"symbol": symbol})["price"])
        above = round_to(price * Decimal("1.05"), f["tick"])
        with pytest.raises(ccxt.OrderImmediatelyFillable) as e:
            if algo:
                ex.create_order(sym, "STOP_MARKET", "sell", QTY, None, {"positionSide": "LONG", "triggerPrice": above})
            else:
                ex.fapiPrivatePostOrder({"symbol": symbol, "side": "SELL", "positionSide": "LONG",
                                         "type": "STOP_MARKET", "quantity": str(QTY), "stopPrice": above})
        assert _code(e.value) == -2021
        with pytest.raises(ccxt.BadRequest) as e:
            ex.fapiPrivatePostOrder({"symbol": symbol, "side": "SELL", "positionSide": "LONG", "type": "MARKET",
                                     "quantity": str(QTY), "reduceOnly": "true"})
        assert _code(e.value) == -1106
    finally:
        stream.close()
    assert_only_the_planted_reduce_only(s.stop())


def test_ccxt_oco_lifecycle_on_the_algo_order_api(session):
    _lifecycle(session(ALGO), SYMBOL_ALGO, algo=True)


def test_ccxt_oco_lifecycle_on_the_legacy_endpoint(session):
    _lifecycle(session(LEGACY), SYMBOL_LEGACY, algo=False)
