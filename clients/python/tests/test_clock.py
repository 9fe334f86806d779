"""The clock and the patches on their own, against a stand-in of the harness endpoints."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import textwrap
import time

import pytest

from ocosim_clock import Session, SimulationOver
from stub_venue import StubVenue

START = 1_738_368_000_000  # 2025-02-01T00:00:00Z


def test_sync_sleep_is_an_advance_and_every_wall_clock_follows():
    with StubVenue(START) as stub:
        real_before = time.time()
        with Session(stub.url, api_key="k", secret="s") as s:
            assert time.time() == pytest.approx(START / 1000)
            m0 = time.monotonic()
            t_real = time.perf_counter()
            time.sleep(60)
            time.sleep(0.25)
            assert stub.advances() == [("advance", START + 60_000, START + 60_000),
                                       ("advance", START + 60_250, START + 60_250)]
            assert s.now_ms() == START + 60_250
            assert int(time.time() * 1000) in (START + 60_250, START + 60_249)
            assert time.monotonic() - m0 == pytest.approx(60.25)
            now = dt.datetime.now(dt.timezone.utc)
            assert now == dt.datetime(2025, 2, 1, 0, 1, 0, 250000, tzinfo=dt.timezone.utc)
            assert dt.datetime.utcnow() == now.replace(tzinfo=None)
            assert time.perf_counter() - t_real < 5  # virtual minutes, real milliseconds
        assert time.time() >= real_before  # restored


def test_asyncio_sleep_advances_to_the_timer_and_loop_time_is_venue_time():
    with StubVenue(START) as stub:
        with Session(stub.url, api_key="k", secret="s"):
            seen = {}

            async def main():
                loop = asyncio.get_running_loop()
                seen["t0"] = loop.time()
                await asyncio.sleep(5)
                seen["t1"] = loop.time()
                await asyncio.wait_for(asyncio.sleep(3600), timeout=10)

            with pytest.raises(asyncio.TimeoutError):
                asyncio.run(main())
            assert seen["t0"] == 0.0  # loop time counts from the session's start
            assert seen["t1"] == 5.0
            # the wait_for fired at +10 s of venue time, not after an hour
            assert [a[1] for a in stub.advances()] == [START + 5_000, START + 15_000]
            assert time.time() == pytest.approx((START + 15_000) / 1000)


def test_the_loop_does_not_advance_while_an_aiohttp_answer_is_in_flight():
    aiohttp = pytest.importorskip("aiohttp")
    with StubVenue(START, latency_ms=40, slow_s=0.3) as stub:
        with Session(stub.url, api_key="k", secret="s") as s:

            async def ask():
                async with aiohttp.ClientSession() as http:
                    async with http.get(stub.url + "/fapi/v1/time") as r:
                        return (await r.json())["serverTime"]

            async def main():
                # a timer due at +1 s competes with an answer that takes 0.3 s of real time
                return await asyncio.gather(ask(), asyncio.sleep(1, result="slept"))

            server_time, slept = asyncio.run(main())
            assert slept == "slept"
            assert server_time == START + 40
            kinds = [e[0] for e in stub.log]
            assert kinds.index("answered") < kinds.index("advance"), stub.log
            # the timer set at 0 is due at +1 s; in a loop only advances move time (not X-Sim-Time)
            assert stub.log.index(("answered", "/fapi/v1/time", START + 40)) < stub.log.index(
                ("advance", START + 1000, START + 1000))
            assert s.now_ms() == START + 1000


def test_requests_answers_move_the_clock_by_x_sim_time():
    requests = pytest.importorskip("requests")
    with StubVenue(START, latency_ms=25) as stub:
        with Session(stub.url, api_key="k", secret="s") as s:
            assert requests.get(stub.url + "/fapi/v1/time").json()["serverTime"] == START + 25
            assert s.now_ms() == START + 25
            assert time.time() == pytest.approx((START + 25) / 1000)


def test_the_end_of_the_data_raises_simulation_over_in_sync_and_async_bots():
    with StubVenue(START, end_ms=START + 10_000) as stub:
        with Session(stub.url, api_key="k", secret="s"):
            n = 0
            with pytest.raises(SimulationOver):
                while True:
                    time.sleep(3)
                    n += 1
            assert n == 3  # 3, 6, 9 s; the 4th advance reached the end (10 s)
            with pytest.raises(SimulationOver):
                time.sleep(1)
        stub.time = START
        with Session(stub.url, api_key="k", secret="s"):
            cleaned = []

            async def main():
                try:
                    while True:
                        await asyncio.sleep(4)
                finally:
                    await asyncio.sleep(0.5)  # cleanup after the end still runs (local time)
                    cleaned.append(True)

            with pytest.raises(SimulationOver):
                asyncio.run(main())
            assert cleaned == [True]


def test_a_thread_sleeping_follows_the_driving_thread():
    import threading

    with StubVenue(START) as stub:
        with Session(stub.url, api_key="k", secret="s") as s:
            woke = []
            th = threading.Thread(target=lambda: (time.sleep(30), woke.append(s.now_ms())))
            th.start()
            time.sleep(10)
            assert not woke
            time.sleep(25)
            th.join(5)
            assert woke and woke[0] >= START + 30_000
            assert len(stub.advances()) == 2  # only the driving thread advanced


def _run_bot(tmp_path, stub, body, *extra):
    bot = tmp_path / "bot.py"
    bot.write_text(textwrap.dedent(body))
    cmd = [sys.executable, "-m", "ocosim_clock", "--serve", stub.url, "--api-key", "k", "--api-secret", "s",
           *extra, "--", "python", str(bot), "arg1"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_runner_runs_a_bot_file_until_the_data_ends_then_stops_with_the_verdict(tmp_path):
    with StubVenue(START, end_ms=START + 3_600_000) as stub:
        r = _run_bot(tmp_path, stub, """
            import sys, time, datetime, os
            assert sys.argv[1:] == ["arg1"], sys.argv
            assert __name__ == "__main__"
            assert os.environ["OCOSIM_API_KEY"] == "k" and os.environ["OCOSIM_URL"].startswith("http://127.0.0.1:")
            print("start", datetime.datetime.utcfromtimestamp(time.time()).isoformat())
            while True:
                time.sleep(60)
        """)
        assert r.returncode == 0, r.stderr
        assert "start 2025-02-01T00:00:00" in r.stdout
        assert len(stub.advances()) == 60
        assert stub.log[-1] == ("stop", START + 3_600_000)
        assert "data ended; verdict PASS" in r.stderr


def test_runner_exits_3_when_the_bot_crashes_and_2_on_a_missing_file(tmp_path):
    with StubVenue(START) as stub:
        r = _run_bot(tmp_path, stub, "raise RuntimeError('boom')\n")
        assert r.returncode == 3
        assert "RuntimeError: boom" in r.stderr
        assert stub.log[-1][0] == "stop"  # the session still ends with its reports
        r = subprocess.run([sys.executable, "-m", "ocosim_clock", "--serve", stub.url, "nope.py"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "nope.py: no such file" in r.stderr


@pytest.mark.python_binance
def test_python_binance_urls_and_keys_point_at_the_server_and_are_restored():
    from binance.client import Client

    before = Client.FUTURES_URL
    with StubVenue(START) as stub:
        s = Session(stub.url, api_key="K", secret="S", force_keys=True).install()
        try:
            assert Client.FUTURES_URL == stub.url + "/fapi"
            assert Client.API_URL == stub.url + "/api"
            try:
                from binance.ws.streams import BinanceSocketManager
            except ImportError:
                from binance.streams import BinanceSocketManager
            assert BinanceSocketManager.FSTREAM_URL == s.ws + "/"
            c = Client("real-key", "real-secret")  # the constructor pings /api/v3/ping on the server
            assert (c.API_KEY, c.API_SECRET) == ("K", "S")
            assert ("rest", "/api/v3/ping", START, 0) in stub.log
            assert c.futures_time()["serverTime"] == START
        finally:
            s.uninstall()
    assert Client.FUTURES_URL == before


def test_ccxt_and_the_connector_are_pointed_at_the_server():
    ccxt = pytest.importorskip("ccxt")
    with StubVenue(START) as stub:
        with Session(stub.url, api_key="K", secret="S"):
            ex = ccxt.binanceusdm({"apiKey": "x", "secret": "y"})
            assert ex.urls["api"]["fapiPrivate"] == stub.url + "/fapi/v1"
            assert ex.urls["api"]["fapiPublicV3"] == stub.url + "/fapi/v3"
            assert ex.urls["api"]["public"] == stub.url + "/api/v3"
            assert (ex.apiKey, ex.secret) == ("K", "S")
            assert ex.options["fetchCurrencies"] is False
            # error classes as for Binance's own fapi host
            exact = ex.get_exceptions_by_url(stub.url + "/fapi/v1/order", "exact")
            assert exact["-2021"] is ccxt.OrderImmediatelyFillable
            import ccxt.async_support as accxt

            assert accxt.binanceusdm().urls["api"]["fapiPrivateV2"] == stub.url + "/fapi/v2"
            from binance.um_futures import UMFutures

            um = UMFutures("x", "y")
            assert um.base_url == stub.url and um.key == "K"
            assert um.time()["serverTime"] == START
        assert ccxt.binanceusdm().urls["api"]["fapiPrivate"].startswith("https://")
        assert UMFutures().base_url.startswith("https://")


def test_importing_the_package_makes_no_network_call():
    code = ("import socket\n"
            "def deny(*a, **k): raise AssertionError('network at import')\n"
            "socket.socket.connect = deny\n"
            "socket.create_connection = deny\n"
            "import ocosim_clock, ocosim_clock.runner\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "OCOSIM_URL": "http://127.0.0.1:9"})
    assert r.returncode == 0, r.stderr


def test_runner_seeds_random_and_uuid4_so_generated_ids_repeat(tmp_path):
    body = "import random, uuid\nprint(random.getrandbits(88), uuid.uuid4())\n"
    with StubVenue(START) as stub:
        a = _run_bot(tmp_path, stub, body)
        b = _run_bot(tmp_path, stub, body)
        c = _run_bot(tmp_path, stub, body, "--seed", "7")
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout != c.stdout


def test_console_script_and_module_form(tmp_path):
    (tmp_path / "mybot.py").write_text("import sys, time\ntime.sleep(5)\nprint('argv', sys.argv[1:])\n")
    exe = os.path.join(os.path.dirname(sys.executable), "ocosim-run")
    assert os.path.exists(exe)
    with StubVenue(START) as stub:
        r = subprocess.run([exe, "--serve", stub.url, "--api-key", "k", "--api-secret", "s",
                            str(tmp_path / "mybot.py"), "x"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "argv ['x']" in r.stdout and "bot returned; verdict PASS" in r.stderr
        r = subprocess.run([sys.executable, "-m", "ocosim_clock", "--serve", stub.url, "-m", "mybot", "y"],
                           capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert "argv ['y']" in r.stdout
        assert [a[1] for a in stub.advances()] == [START + 5000, START + 10_000]  # the venue went on
