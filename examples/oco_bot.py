"""A small OCO manager written with python-binance, the way a user would write one.

Every 5 minutes it reads the last closed 5-minute klines and compares a fast and a slow moving
average. On a cross while flat it enters with a MARKET order (LONG on a cross up, SHORT on a cross
down, hedge mode), then protects the position with a stop-loss and a take-profit on the Algo Order
API. It follows its orders on the user-data stream: when one leg triggers it cancels the other.

It knows nothing of ocosim: run it against Binance with real keys, or against history with
    ocosim-run --scenario examples/oco-bot-avax.toml examples/oco_bot.py
where time, the URLs and the keys are the simulator's.

Settings (environment): SYMBOL (AVAXUSDT), QTY (10), SL_PCT (0.01), TP_PCT (0.02), FAST (6), SLOW (24),
BINANCE_API_KEY / BINANCE_API_SECRET. OCO_BOT_BUG plants a bug for the simulator to catch:
`reduce-only` sends reduceOnly with positionSide on the legs (Binance refuses it in hedge mode),
`no-cancel` never cancels the surviving leg.
"""

import asyncio
import os
import time
from datetime import datetime, timezone
from decimal import ROUND_DOWN, Decimal

from binance import AsyncClient, BinanceSocketManager
from binance.exceptions import BinanceAPIException

SYMBOL = os.environ.get("SYMBOL", "AVAXUSDT")
QTY = Decimal(os.environ.get("QTY", "10"))
SL_PCT = Decimal(os.environ.get("SL_PCT", "0.01"))
TP_PCT = Decimal(os.environ.get("TP_PCT", "0.02"))
FAST = int(os.environ.get("FAST", "6"))
SLOW = int(os.environ.get("SLOW", "24"))
BAR_S = 300
BUG = os.environ.get("OCO_BOT_BUG", "")


def log(*parts):
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    print(stamp, *parts, flush=True)


def round_down(value, unit):
    return format(((value / unit).to_integral_value(rounding=ROUND_DOWN) * unit).normalize(), "f")


class OcoBot:
    def __init__(self, client):
        self.client = client
        self.tick = None
        self.position = None  # "LONG" / "SHORT" while a position is open
        self.legs = {}  # algoId -> "SL" / "TP"
        self.trades = 0

    async def setup(self):
        info = await self.client.futures_exchange_info()
        sym = next(s for s in info["symbols"] if s["symbol"] == SYMBOL)
        price_filter = next(f for f in sym["filters"] if f["filterType"] == "PRICE_FILTER")
        self.tick = Decimal(price_filter["tickSize"])
        mode = await self.client.futures_get_position_mode()
        if not mode["dualSidePosition"]:
            await self.client.futures_change_position_mode(dualSidePosition="true")

    async def signal(self):
        bars = await self.client.futures_klines(symbol=SYMBOL, interval="5m", limit=SLOW + 2)
        now_ms = int(time.time() * 1000)
        closes = [Decimal(b[4]) for b in bars if b[6] < now_ms]  # closed bars only
        if len(closes) < SLOW + 1:
            return None
        def sma(n, upto):
            window = closes[upto - n:upto]
            return sum(window) / n
        fast_now, slow_now = sma(FAST, len(closes)), sma(SLOW, len(closes))
        fast_before, slow_before = sma(FAST, len(closes) - 1), sma(SLOW, len(closes) - 1)
        if fast_before <= slow_before and fast_now > slow_now:
            return "LONG"
        if fast_before >= slow_before and fast_now < slow_now:
            return "SHORT"
        return None

    async def enter(self, side):
        buy = side == "LONG"
        order = await self.client.futures_create_order(
            symbol=SYMBOL, side="BUY" if buy else "SELL", positionSide=side, type="MARKET",
            quantity=str(QTY), newOrderRespType="RESULT")
        price = Decimal(order["avgPrice"])
        self.position = side
        self.trades += 1
        log("enter", side, QTY, "@", price)
        sl = price * (1 - SL_PCT) if buy else price * (1 + SL_PCT)
        tp = price * (1 + TP_PCT) if buy else price * (1 - TP_PCT)
        for name, kind, px in (("SL", "STOP_MARKET", sl), ("TP", "TAKE_PROFIT_MARKET", tp)):
            params = dict(algoType="CONDITIONAL", symbol=SYMBOL, side="SELL" if buy else "BUY", positionSide=side,
                          type=kind, quantity=str(QTY), triggerPrice=round_down(px, self.tick),
                          workingType="CONTRACT_PRICE")
            if BUG == "reduce-only":
                params["reduceOnly"] = "true"
            try:
                leg = await self.client._request_futures_api("post", "algoOrder", True, data=params)
            except BinanceAPIException as e:
                log("could not place", name, e.code, e.message)
                continue
            self.legs[leg["algoId"]] = name
            log("placed", name, kind, params["triggerPrice"], "algoId", leg["algoId"])

    async def on_event(self, msg):
        if msg.get("e") != "ALGO_UPDATE":
            return
        o = msg["o"]
        aid, status = o.get("aid"), o.get("X")
        if aid not in self.legs:
            return
        if status == "TRIGGERED":
            name = self.legs.pop(aid)
            log(name, "triggered", "algoId", aid, "order", o.get("ai"))
            for other in list(self.legs):
                if BUG == "no-cancel":
                    continue
                try:
                    await self.client._request_futures_api("delete", "algoOrder", True,
                                                           data={"symbol": SYMBOL, "algoId": other})
                    log("cancelled", self.legs[other], "algoId", other)
                except BinanceAPIException as e:
                    log("cancel failed", other, e.code, e.message)
                self.legs.pop(other, None)
            self.position = None
        elif status in ("CANCELED", "EXPIRED", "REJECTED", "FINISHED"):
            self.legs.pop(aid, None)

    async def signal_loop(self):
        while True:
            now = time.time()
            await asyncio.sleep(BAR_S - now % BAR_S + 1)  # one second after each bar closes
            if self.position is not None:
                continue
            side = await self.signal()
            if side:
                await self.enter(side)

    async def stream_loop(self, stream):
        while True:
            msg = await stream.recv()
            if msg:
                await self.on_event(msg)


async def main():
    client = await AsyncClient.create(os.environ.get("BINANCE_API_KEY"), os.environ.get("BINANCE_API_SECRET"))
    bot = OcoBot(client)
    try:
        await bot.setup()
        log("start", SYMBOL, "fast", FAST, "slow", SLOW, "bug", BUG or "none")
        async with BinanceSocketManager(client).futures_user_socket() as stream:
            await asyncio.gather(bot.signal_loop(), bot.stream_loop(stream))
    finally:
        log("trades", bot.trades)
        await client.close_connection()


if __name__ == "__main__":
    asyncio.run(main())
