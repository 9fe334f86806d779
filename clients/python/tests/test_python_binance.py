"""python-binance (1.0.19 and the latest 1.0.x) against `sim serve` on real data: the OCO lifecycle.

Sync `Client` on both eras (legacy conditional orders on /fapi/v1/order, Algo Order API), the
user stream read by a plain websockets client; `AsyncClient` with its own socket manager under the
virtual event loop. Errors come back as `BinanceAPIException` with Binance's code.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from decimal import Decimal

import pytest

from clientlib import (advance_until, advance_until_a_leg_fires, assert_only_the_planted_reduce_only, SYMBOL_ALGO, SYMBOL_LEGACY, StreamReader, algo_update, filters,
                       legs_for_long, otu, round_to)
from conftest import ALGO, LEGACY

pytestmark = pytest.mark.python_binance
QTY = "10"


def _symbol(client, symbol):
    info = client.futures_exchange_info()
    s = next(x for x in info["symbols"] if x["symbol"] == symbol)
    assert s["contractType"] == "PERPETUAL" and s["marginAsset"] == "USDT" and s["status"] == "TRADING"
    return filters(s)


def _algo(client, method, **params):
    return client._request_futures_api(method, "algoOrder", True, data=params)


def _routes_to_algo(client) -> bool:
    """python-binance 1.0.3x sends conditional types given to futures_create_order to /algoOrder."""
    return "algoOrder" in inspect.getsource(type(client).futures_create_order)


def _leg(client, algo, **params):
    """A conditional leg the way each version's user would send it, on the era's endpoint."""
    routed = _routes_to_algo(client)
    if algo:
        if routed:
            return client.futures_create_order(stopPrice=params.pop("triggerPrice"), **params)
        return _algo(client, "post", algoType="CONDITIONAL", **params)
    params["stopPrice"] = params.pop("triggerPrice")
    if routed:  # the legacy endpoint by hand: 1.0.3x would send these to the Algo Order API
        return client._request_futures_api("post", "order", True, data=params)
    return client.futures_create_order(**params)


def _open_algo(client, symbol):
    return client._request_futures_api("get", "openAlgoOrders", True, data={"symbol": symbol})


def _errors(client, bad_secret_client, session, symbol, f, algo):
    from binance.exceptions import BinanceAPIException

    with pytest.raises(BinanceAPIException) as e:
        bad_secret_client.futures_account()
    assert e.value.code == -1022
    with session.clock.wall_skew(-120_000), pytest.raises(BinanceAPIException) as e:
        client.futures_account()
    assert e.value.code == -1021
    price = Decimal(client.futures_symbol_ticker(symbol=symbol)["price"])
    above = round_to(price * Decimal("1.05"), f["tick"])  # a LONG's stop above the market fires at once
    with pytest.raises(BinanceAPIException) as e:
        _leg(client, algo, symbol=symbol, side="SELL", positionSide="LONG", type="STOP_MARKET", quantity=QTY,
             triggerPrice=above)
    assert e.value.code == -2021
    with pytest.raises(BinanceAPIException) as e:
        client.futures_create_order(symbol=symbol, side="SELL", positionSide="LONG", type="MARKET",
                                    quantity=QTY, reduceOnly=True)
    assert e.value.code == -1106 and "reduceonly" in e.value.message.lower()


def _lifecycle_sync(session, symbol, algo):
    from binance.client import Client

    s = session
    client = Client(s.server.api_key, s.server.secret)  # pings /api/v3/ping on the server
    bad = Client(s.server.api_key, "not-the-secret")
    assert client.futures_time()["serverTime"] == s.now_ms()
    f = _symbol(client, symbol)
    assert client.futures_get_position_mode()["dualSidePosition"] is True

    key = client.futures_stream_get_listen_key()
    stream = StreamReader(f"{s.ws}/ws/{key}")
    try:
        entry = client.futures_create_order(symbol=symbol, side="BUY", positionSide="LONG", type="MARKET",
                                            quantity=QTY)
        assert isinstance(entry["orderId"], int) and entry["status"] in ("NEW", "FILLED")
        s.advance(1000)
        stream.wait_for(otu(entry["orderId"], "FILLED"))
        filled = client.futures_get_order(symbol=symbol, orderId=entry["orderId"])
        assert filled["status"] == "FILLED"
        price = Decimal(filled["avgPrice"])
        rows = client.futures_position_information(symbol=symbol)
        long_row = next(r for r in rows if r["positionSide"] == "LONG")
        assert Decimal(long_row["positionAmt"]) == Decimal(QTY) and Decimal(long_row["entryPrice"]) == price
        sl, tp = legs_for_long(price, f["tick"])
        legs = [_leg(client, algo, symbol=symbol, side="SELL", positionSide="LONG", type=kind, quantity=QTY,
                     triggerPrice=px)
                for kind, px in (("STOP_MARKET", sl), ("TAKE_PROFIT_MARKET", tp))]
        if algo:
            ids = [leg["algoId"] for leg in legs]
            assert all(isinstance(i, int) for i in ids)
            assert sorted(o["algoId"] for o in _open_algo(client, symbol)) == sorted(ids)
        else:
            ids = [leg["orderId"] for leg in legs]
            assert all(isinstance(i, int) for i in ids)
            assert sorted(o["orderId"] for o in client.futures_get_open_orders(symbol=symbol)) == sorted(ids)

        def open_ids():
            if algo:
                return [o["algoId"] for o in _open_algo(client, symbol)]
            return [o["orderId"] for o in client.futures_get_open_orders(symbol=symbol)]

        # let the market run until one leg fills. The check is a REST read, not the stream: an
        # advance returns once the server has *written* the frames, but the reader thread may not
        # have parsed them yet (a loaded machine), and each step it lags is 5 s more of market in
        # which the survivor can fire too (it was seen flaky that way); the fired leg's frames
        # are waited for below
        assert advance_until(s, lambda: len(open_ids()) < len(ids)), "no leg filled within a day"
        remaining = open_ids()
        assert len(remaining) == 1, remaining
        survivor = remaining[0]
        fired = next(i for i in ids if i != survivor)
        if algo:
            stream.wait_for(algo_update(fired, "TRIGGERED"))
            stream.wait_for(otu(status="FILLED", kind="MARKET"))
            gone = _algo(client, "delete", symbol=symbol, algoId=survivor)
            assert gone["algoId"] == survivor
            s.advance(1000)
            stream.wait_for(algo_update(survivor, "CANCELED"))
        else:
            stream.wait_for(otu(fired, "FILLED"))
            gone = client.futures_cancel_order(symbol=symbol, orderId=survivor)
            assert gone["status"] == "CANCELED"
            s.advance(1000)
            stream.wait_for(otu(survivor, "CANCELED"))
        assert open_ids() == []

        # flat: v2 (1.0.19) lists the row with 0, v3 (1.0.3x) lists only open positions
        rows = client.futures_position_information(symbol=symbol)
        assert all(Decimal(r["positionAmt"]) == 0 for r in rows if r["positionSide"] == "LONG"), rows
        balances = client.futures_account_balance()
        usdt = next(b for b in balances if b["asset"] == "USDT")
        assert Decimal(usdt["balance"]) != Decimal("10000")  # fees and a realized PnL were booked
        account = client.futures_account()
        assert Decimal(account["totalWalletBalance"]) == Decimal(usdt["balance"])
        stream.wait_for(lambda e: e.get("e") == "ACCOUNT_UPDATE")

        _errors(client, bad, s, symbol, f, algo)
    finally:
        stream.close()
    assert_only_the_planted_reduce_only(s.stop())
    assert s.server.wait(60) == 1


def test_sync_client_oco_lifecycle_on_the_algo_order_api(session):
    _lifecycle_sync(session(ALGO), SYMBOL_ALGO, algo=True)


def test_sync_client_oco_lifecycle_on_the_legacy_endpoint(session):
    _lifecycle_sync(session(LEGACY), SYMBOL_LEGACY, algo=False)


def test_async_client_and_its_socket_manager_under_the_virtual_loop(session):
    """An asyncio bot: AsyncClient, BinanceSocketManager.futures_user_socket, sleeps as advances."""
    from binance import AsyncClient, BinanceSocketManager
    from binance.exceptions import BinanceAPIException

    s = session(ALGO)
    symbol = SYMBOL_ALGO
    seen = []

    async def bot():
        client = await AsyncClient.create(s.server.api_key, s.server.secret)
        try:
            info = await client.futures_exchange_info()
            f = filters(next(x for x in info["symbols"] if x["symbol"] == symbol))
            bsm = BinanceSocketManager(client)
            async with bsm.futures_user_socket() as us:
                entry = await client.futures_create_order(symbol=symbol, side="BUY", positionSide="LONG",
                                                          type="MARKET", quantity=QTY, newOrderRespType="RESULT")
                assert entry["status"] == "FILLED"
                sl, tp = legs_for_long(Decimal(entry["avgPrice"]), f["tick"])
                ids = []
                for kind, px in (("STOP_MARKET", sl), ("TAKE_PROFIT_MARKET", tp)):
                    leg = await client._request_futures_api(
                        "post", "algoOrder", True,
                        data=dict(algoType="CONDITIONAL", symbol=symbol, side="SELL", positionSide="LONG",
                                  type=kind, quantity=QTY, triggerPrice=px))
                    ids.append(leg["algoId"])
                t0 = asyncio.get_running_loop().time()
                fired = None
                while fired is None:
                    # wait for the stream; an idle wait is an advance of venue time
                    msg = await asyncio.wait_for(us.recv(), timeout=3600)
                    seen.append(msg)
                    o = msg.get("o", {}) if isinstance(msg, dict) else {}
                    if msg.get("e") == "ALGO_UPDATE" and o.get("X") == "TRIGGERED":
                        fired = o["aid"]
                    assert asyncio.get_running_loop().time() - t0 < 3 * 86400
                survivor = next(i for i in ids if i != fired)
                await client._request_futures_api("delete", "algoOrder", True,
                                                  data={"symbol": symbol, "algoId": survivor})
                while True:
                    msg = await asyncio.wait_for(us.recv(), timeout=60)
                    seen.append(msg)
                    o = msg.get("o", {})
                    if msg.get("e") == "ALGO_UPDATE" and o.get("aid") == survivor and o.get("X") == "CANCELED":
                        break
            rows = await client.futures_position_information(symbol=symbol)
            assert all(Decimal(r["positionAmt"]) == 0 for r in rows if r["positionSide"] == "LONG"), rows
            with pytest.raises(BinanceAPIException) as e:
                await client.futures_create_order(symbol=symbol, side="BUY", positionSide="LONG", type="MARKET",
                                                  quantity=QTY, reduceOnly=True)
            assert e.value.code == -1106
            return asyncio.get_running_loop().time() - t0
        finally:
            await client.close_connection()

    elapsed = asyncio.run(bot())
    assert elapsed > 0 and s.clock.advances > 0
    kinds = {m.get("e") for m in seen}
    assert {"ALGO_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"} <= kinds, kinds
    summary = s.stop()
    assert {k: v for k, v in json.loads(open(summary["reports"] + "/summary.json").read())[
        "violations_by_invariant"].items() if v} == {"reduce-only-mode": 1}


def test_unknown_key_is_refused_with_2015(session):
    from binance.client import Client
    from binance.exceptions import BinanceAPIException

    s = session(ALGO)
    with pytest.raises(BinanceAPIException) as e:
        Client("no-such-key", "x").futures_account()
    assert e.value.code == -2015
    assert Decimal(Client(s.server.api_key, s.server.secret).futures_account()["totalWalletBalance"]) == 10000


def test_on_a_paced_server_the_bot_keeps_its_own_clock(session):
    """`--clock paced:SPEED`: no virtual clock (advance is refused there), only the URL patches."""
    import time

    from binance.client import Client

    s = session(ALGO, "--clock", "paced:60")
    assert s.clock is None and s.mode.startswith("paced")
    client = Client(s.server.api_key, s.server.secret)
    t0 = client.futures_time()["serverTime"]
    assert abs(time.time() * 1000 - t0) > 86_400_000  # venue time is February 2026, not the wall clock
    assert Decimal(client.futures_account()["totalWalletBalance"]) == 10000  # timestamp checked on wall time
    t1 = client.futures_time()["serverTime"]
    assert t1 >= t0
    verdict = s.stop()
    assert verdict["exit"] == 0, verdict


def test_gte_gtc_close_position_legs_the_survivor_expires_with_the_position(session):
    """The engine-style legs (closePosition=true, GTE_GTC): no cancel needed, the venue expires the survivor."""
    from binance.client import Client

    s = session(ALGO)
    symbol = SYMBOL_ALGO
    client = Client(s.server.api_key, s.server.secret)
    f = _symbol(client, symbol)
    stream = StreamReader(f"{s.ws}/ws/{client.futures_stream_get_listen_key()}")
    try:
        entry = client.futures_create_order(symbol=symbol, side="BUY", positionSide="LONG", type="MARKET",
                                            quantity=QTY, newOrderRespType="RESULT")
        sl, tp = legs_for_long(Decimal(entry["avgPrice"]), f["tick"])
        ids = [_algo(client, "post", algoType="CONDITIONAL", symbol=symbol, side="SELL", positionSide="LONG",
                     type=kind, closePosition="true", triggerPrice=px, timeInForce="GTE_GTC",
                     workingType="CONTRACT_PRICE")["algoId"]
               for kind, px in (("STOP_MARKET", sl), ("TAKE_PROFIT_MARKET", tp))]
        assert advance_until_a_leg_fires(s, stream, lambda: [o["algoId"] for o in _open_algo(client, symbol)], ids, algo=True), \
            "no leg fired within a day"
        s.advance(1000)
        fired = next(e["o"]["aid"] for e in stream.events if algo_update(status="TRIGGERED")(e))
        survivor = next(i for i in ids if i != fired)
        stream.wait_for(algo_update(survivor, "EXPIRED"))
        assert _open_algo(client, symbol) == []
    finally:
        stream.close()
    verdict = s.stop()
    assert verdict["verdict"] == "PASS" and verdict["exit"] == 0, verdict
