"""Tests of the live-engine launcher (``ocosim_tradeengine``).

The unit tests need only the launcher (and time-machine for the wall clock). The end-to-end
tests run a real checkout of petrosa-tradeengine against the stand-in server; they run when
``OCOSIM_TE_ENGINES`` names them, e.g.
``OCOSIM_TE_ENGINES="/work/engine/v1.1.80=/work/engine/venv-v1.1.80/bin/python;..."``
(engine folder = the python of its virtualenv, ``;``-separated), and are skipped otherwise:
the engine's code is never part of this repository.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from ocosim_tradeengine import scenario as sc_mod  # noqa: E402
from ocosim_tradeengine.clock import LockstepLoop, VenueClock, is_loopback_host  # noqa: E402
from ocosim_tradeengine.engine import DataManagerStub, _rebase, detect, EngineError  # noqa: E402
from ocosim_tradeengine.harness import Harness, loopback_base  # noqa: E402


# ---------------------------------------------------------------- loopback only


def test_loopback_urls_are_accepted_and_others_refused() -> None:
    assert loopback_base("http://127.0.0.1:8400") == ("127.0.0.1", 8400)
    assert loopback_base("http://localhost:9/") == ("127.0.0.1", 9)
    assert loopback_base("http://[::1]:8400") == ("::1", 8400)
    for bad in ("http://10.0.0.1:80", "http://example.com:80", "https://127.0.0.1:8400", "http://127.0.0.1", "http://192.168.1.2:1"):
        with pytest.raises(ValueError):
            loopback_base(bad)
    assert is_loopback_host("127.0.0.2") and is_loopback_host("localhost") and is_loopback_host("::1")
    assert not is_loopback_host("8.8.8.8") and not is_loopback_host("petrosa-data-manager")


def test_network_guard_refuses_everything_but_loopback() -> None:
    # in a child process: the guard patches the socket module for good
    code = textwrap.dedent(
        f"""
        import socket, sys
        sys.path.insert(0, {str(HERE.parent)!r})
        from ocosim_tradeengine.clock import guard_network, NetworkRefused
        srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
        guard_network()
        try:
            socket.getaddrinfo("example.com", 443); print("lookup allowed")
        except socket.gaierror:
            print("lookup refused")
        s = socket.socket()
        try:
            s.connect(("192.0.2.1", 80)); print("connect allowed")
        except NetworkRefused:
            print("connect refused")
        c = socket.create_connection(srv.getsockname(), timeout=2); print("loopback ok"); c.close()
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["lookup", "refused", "connect", "refused", "loopback", "ok"]


def test_python_binance_urls_are_rebased_on_the_server() -> None:
    rest, ws = "http://127.0.0.1:8400", "ws://127.0.0.1:8400"
    assert _rebase("https://testnet.binancefuture.com/fapi", rest, ws) == "http://127.0.0.1:8400/fapi"
    assert _rebase("https://api.binance.{}/api", rest, ws) == "http://127.0.0.1:8400/api"
    assert _rebase("wss://fstream.binance.{}/", rest, ws) == "ws://127.0.0.1:8400/"


# ---------------------------------------------------------------- the lockstep loop


def test_sleeps_become_advances_of_venue_time() -> None:
    asked: list[int] = []

    def advance(ms: int) -> tuple[int, bool]:
        asked.append(ms)
        return ms, False

    clock = VenueClock(1_000_000, advance)
    loop = LockstepLoop(clock)
    seen: list[float] = []

    async def bot() -> None:
        for d in (2, 2, 0.5, 60):
            await asyncio.sleep(d)
            seen.append(loop.time())

    t0 = time.monotonic()
    loop.run_until_complete(bot())
    loop.close()
    assert time.monotonic() - t0 < 2.0  # 64.5 venue seconds in far less real time
    assert asked == [1_002_000, 1_004_000, 1_004_500, 1_064_500]
    assert seen == [1002.0, 1004.0, 1004.5, 1064.5]


def test_time_reported_by_the_server_moves_the_loop_and_never_goes_back() -> None:
    clock = VenueClock(5_000, lambda ms: (ms, False))
    clock.observe(5_080)  # an answer after 40 + 40 ms of latency
    clock.observe(5_010)
    assert clock.now_ms == 5_080
    loop = LockstepLoop(clock)
    assert loop.time() == 5.08
    loop.close()


def test_a_request_that_ends_without_an_answer_reads_the_venue_clock() -> None:
    """A timeout fault: the server drops the connection after ``timeout_ms`` of venue time; the
    exception carries no ``X-Sim-Time``, so the launcher asks the clock before the engine sees
    it (else its retry back-off and ``wait_for`` deadline are measured from before the call)."""
    import requests

    from ocosim_tradeengine.engine import watch_sim_time

    real = requests.Session.send
    asked: list[int] = []

    def dropped(self: object, request: object, **kwargs: object) -> object:
        raise requests.ConnectionError("Remote end closed connection without response")

    requests.Session.send = dropped  # type: ignore[method-assign]
    try:
        clock = VenueClock(1_000)
        watch_sim_time(clock, "127.0.0.1", 8400, lambda: (asked.append(1), 11_000)[1])
        with pytest.raises(requests.ConnectionError):
            requests.Session().post("http://127.0.0.1:8400/fapi/v1/algoOrder")
        assert clock.now_ms == 11_000 and asked == [1]
        with pytest.raises(requests.ConnectionError):  # not the server: its clock is not asked
            requests.Session().get("http://127.0.0.1:9999/other")
        assert asked == [1]
    finally:
        requests.Session.send = real  # type: ignore[method-assign]


def test_executor_jobs_run_inline_and_take_no_venue_time() -> None:
    asked: list[int] = []
    clock = VenueClock(0, lambda ms: (asked.append(ms), (ms, False))[1])
    loop = LockstepLoop(clock)

    async def bot() -> tuple[int, int]:
        tid = await asyncio.to_thread(threading.get_ident)
        return tid, threading.get_ident()

    a, b = loop.run_until_complete(bot())
    loop.close()
    assert a == b and asked == []


def test_in_flight_work_is_waited_for_in_real_time_not_skipped() -> None:
    asked: list[int] = []
    clock = VenueClock(0, lambda ms: (asked.append(ms), (ms, False))[1])
    loop = LockstepLoop(clock)
    r, w = socket.socketpair()

    async def bot() -> bytes:
        reader, _ = await asyncio.open_connection(sock=r)
        threading.Timer(0.2, lambda: w.send(b"pong\n")).start()
        with clock.busy():
            # the handshake's own timeout is on venue time: it must not expire while waiting
            return await asyncio.wait_for(reader.readline(), timeout=10)

    assert loop.run_until_complete(bot()) == b"pong\n"
    loop.close()
    w.close()
    assert asked == []  # venue time did not move while the reply was in flight


def test_past_the_end_of_the_data_the_engine_clock_runs_on_alone() -> None:
    asked: list[int] = []

    def advance(ms: int) -> tuple[int, bool]:
        asked.append(ms)
        return min(ms, 10_000), ms >= 10_000

    clock = VenueClock(0, advance)
    loop = LockstepLoop(clock)

    async def bot() -> None:
        await asyncio.sleep(60)  # past the end (10 s)
        await asyncio.sleep(5)

    loop.run_until_complete(bot())
    loop.close()
    assert asked == [60_000] and clock.done and clock.now_ms == 65_000


def test_wall_clock_follows_venue_time() -> None:
    pytest.importorskip("time_machine")
    from datetime import datetime

    clock = VenueClock(1_738_368_000_123, lambda ms: (ms, False))
    clock.start_wall_clock()
    try:
        assert int(time.time() * 1000) == 1_738_368_000_123
        clock.observe(1_738_368_060_000)
        assert int(time.time() * 1000) == 1_738_368_060_000
        assert datetime.utcnow().strftime("%H:%M:%S") == "00:01:00"
    finally:
        clock.stop_wall_clock()
    assert time.time() > 1_760_000_000


# ---------------------------------------------------------------- inputs


def test_engine_signal_is_naive_utc_from_petrosa_cio_with_absolute_prices() -> None:
    s = {"strategy_id": "s1", "symbol": "NEARUSDT", "action": "sell", "confidence": "0.8", "quantity": "100",
         "current_price": "3.123", "stop_loss": "3.160", "take_profit": "3.061", "stop_loss_pct": None,
         "take_profit_pct": None, "order_type": "market", "timestamp": 1738627260000}
    f = sc_mod.engine_signal(s, "p78")
    assert f["timestamp"].tzinfo is None and f["timestamp"].isoformat() == "2025-02-04T00:01:00"
    assert f["source"] == "petrosa-cio" and f["action"] == "sell"
    assert f["price"] == f["current_price"] == 3.123 and f["quantity"] == 100.0
    assert f["stop_loss"] == 3.16 and f["take_profit"] == 3.061 and "stop_loss_pct" not in f


def _fake_sim(tmp: Path, lines: list[dict], code: int = 0, err: str = "") -> str:
    p = tmp / "sim"
    body = "\n".join(json.dumps(x) for x in lines)
    p.write_text(f"#!/bin/sh\ncat <<'J'\n{body}\nJ\necho '{err}' >&2\nexit {code}\n")
    p.chmod(0o755)
    return str(p)


def test_scenario_inputs_come_from_sim_signals(tmp_path: Path) -> None:
    scen = tmp_path / "s.toml"
    scen.write_text('name = "x"\nseed = 4\n[data]\nklines = ["../data/NEARUSDT/1m/NEARUSDT-1m-2025-02.csv"]\n[exchange]\nposition_mode = "hedge"\n[serve]\napi_key = "K"\napi_secret = "S"\n')
    sim = _fake_sim(tmp_path, [
        {"kind": "manual_close", "at": 5, "symbol": "NEARUSDT", "position_side": "LONG"},
        {"kind": "signal", "at": 7, "signal": {"symbol": "NEARUSDT"}},
    ])
    info = sc_mod.load(str(scen), sim)
    assert (info.name, info.symbol, info.position_mode, info.api_key, info.api_secret, info.seed) == ("x", "NEARUSDT", "hedge", "K", "S", 4)
    assert [(i.at, i.kind, i.position_side) for i in info.items] == [(5, "manual_close", "LONG"), (7, "signal", "")]


def test_a_partial_manual_close_passes_its_part_of_the_engines_quantity(tmp_path: Path) -> None:
    # `sim signals` writes `fraction` / `quantity` (strings) for a partial close; the launcher
    # hands close_position_with_cleanup that part of the engine's own notion of the side, as the
    # port does: a fraction of it, a given quantity as given, or all of it
    scen = tmp_path / "s.toml"
    scen.write_text('name = "x"\n[data]\nsymbol = "AVAXUSDT"\n')
    sim = _fake_sim(tmp_path, [
        {"kind": "manual_close", "at": 5, "symbol": "AVAXUSDT", "position_side": "LONG", "fraction": "0.5"},
        {"kind": "manual_close", "at": 6, "symbol": "AVAXUSDT", "position_side": "LONG", "quantity": "20"},
        {"kind": "manual_close", "at": 7, "symbol": "AVAXUSDT", "position_side": "SHORT"},
        {"kind": "manual_close", "at": 8, "symbol": "AVAXUSDT", "position_side": "LONG", "fraction": "0.35"},
    ])
    half, given, whole, part = sc_mod.load(str(scen), sim).items
    assert (half.close_qty(20.0), half.close_qty(0.0)) == (10.0, 0.0)
    assert (given.close_qty(0.0), given.close_qty(7.0)) == (20.0, 20.0)
    assert whole.close_qty(3.3) == 3.3
    assert part.close_qty(10.0) == 3.5
    bad = _fake_sim(tmp_path, [{"kind": "manual_close", "at": 5, "symbol": "A", "position_side": "LONG", "fraction": "half"}])
    with pytest.raises(sc_mod.ScenarioError, match="sim signals: line 1: unexpected output"):
        sc_mod.load(str(scen), bad)


def test_a_bad_scenario_is_one_line(tmp_path: Path) -> None:
    scen = tmp_path / "s.toml"
    scen.write_text('name = "x"\n[data\n')
    with pytest.raises(sc_mod.ScenarioError, match=r"s\.toml:2: "):
        sc_mod.load(str(scen), "sim")
    scen.write_text('name = "x"\n')
    sim = _fake_sim(tmp_path, [], 2, "sim: error: s.toml:1: field `data`: missing")
    with pytest.raises(sc_mod.ScenarioError, match=r"^s\.toml:1: field `data`: missing$"):
        sc_mod.load(str(scen), sim)


def test_not_an_engine_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="not a petrosa-tradeengine checkout"):
        detect(tmp_path)


def test_data_manager_stub_answers_like_a_healthy_empty_service() -> None:
    stub = DataManagerStub()
    run = asyncio.new_event_loop().run_until_complete
    assert run(stub.request(None, "GET", "/health/readiness")) == {"status": "healthy"}
    assert run(stub.request(None, "POST", "/api/v1/data/query", json_body={})) == {"data": [], "pagination": None}
    assert run(stub.request(None, "POST", "/api/v1/data/insert", json_body={"records": [1, 2]})) == {"inserted_count": 2}
    assert run(stub.request(None, "PUT", "/api/v1/mysql/positions"))["modified_count"] == 1
    assert stub.calls["PUT /api/v1/mysql/positions"] == 1


def test_harness_talks_to_the_stand_in() -> None:
    from standin import Venue, serve

    v = Venue("AVAXUSDT", 1_000, 10_000, lambda t: 25.0)
    srv, url = serve(v)
    try:
        h = Harness(url)
        c = h.clock()
        assert (c.time, c.start, c.end, c.done, c.mode) == (1_000, 1_000, 10_000, False, "lockstep")
        assert h.advance_to(4_000) == (4_000, False)
        assert h.advance_to(99_000) == (10_000, True)
        assert h.stop().exit == 0
        h.close()
    finally:
        srv.shutdown()


# ---------------------------------------------------------------- the real engine (opt-in)


def _engines() -> list[tuple[str, str]]:
    spec = os.environ.get("OCOSIM_TE_ENGINES", "")
    out = []
    for part in filter(None, spec.split(";")):
        eng, _, py = part.partition("=")
        out.append((eng, py))
    return out


START = 1_738_368_000_000  # 2025-02-01


def _run_engine(tmp: Path, engine: str, python: str) -> tuple[int, str, list[dict], list[dict]]:
    from standin import Venue, serve

    v = Venue("AVAXUSDT", START, START + 3_600_000, lambda t: 25.0 if t < START + 600_000 else 23.0)  # below both the 24.625 stop and the 2026-08 6 % floor (23.5)
    srv, url = serve(v)
    sim = _fake_sim(tmp, [{"kind": "signal", "at": START + 60_000, "signal": {
        "strategy_id": "strategy", "symbol": "AVAXUSDT", "action": "buy", "confidence": "0.8", "quantity": "10",
        "current_price": "25.000", "stop_loss": "24.625", "take_profit": "25.75", "stop_loss_pct": None,
        "take_profit_pct": None, "order_type": "market", "timestamp": START + 60_000}}])
    scen = tmp / "standin.toml"
    scen.write_text('name = "standin"\nseed = 3\n[data]\nklines = ["AVAXUSDT-1m.csv"]\n[exchange]\nposition_mode = "hedge"\n')
    env = {"PYTHONPATH": str(HERE.parent), "PATH": os.environ.get("PATH", "")}
    try:
        p = subprocess.run([python, "-m", "ocosim_tradeengine", "--engine", engine, "--serve", url, "--api-key", "k",
                            "--api-secret", "s", "--sim", sim, str(scen)], env=env, capture_output=True, text=True, timeout=600)
    finally:
        srv.shutdown()
    return p.returncode, p.stdout + p.stderr, v.log, v.fills


@pytest.mark.parametrize("engine,python", _engines() or [pytest.param("", "", marks=pytest.mark.skip(reason="OCOSIM_TE_ENGINES not set"))])
def test_the_real_engine_trades_on_the_stand_in_deterministically(tmp_path: Path, engine: str, python: str) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    code, out, log1, fills = _run_engine(a, engine, python)
    assert code == 0, out
    assert "verdict: PASS" in out
    posts = [(r["path"], r["params"].get("type")) for r in log1 if r["method"] == "POST" and r["path"] in ("/fapi/v1/order", "/fapi/v1/algoOrder")]
    assert posts[0] == ("/fapi/v1/order", "MARKET")
    if "v1.1.78" in engine:
        # W1: the ACK answer has no fills, the legs get quantity 0 and are never sent
        assert posts == [("/fapi/v1/order", "MARKET")]
    else:
        assert len(posts) == 3 and {p[1] for p in posts[1:]} == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
        assert [f["why"].split()[0] for f in fills] == ["MARKET", "STOP_MARKET"]
        assert fills[1]["t"] == START + 600_000
    if "2026-08" not in engine and "v1.1.78" not in engine:
        cancels = [r for r in log1 if r["method"] == "DELETE"]
        assert len(cancels) == 1 and START + 600_000 <= cancels[0]["t"] <= START + 602_000
    code2, out2, log2, _ = _run_engine(b, engine, python)
    assert code2 == 0, out2
    assert log1 == log2  # the same requests at the same venue times, run after run


# ---------------------------------------------------------------- a started server


def test_a_started_server_is_read_from_its_banner(tmp_path: Path) -> None:
    from ocosim_tradeengine.cli import RunFailed, Server, Usage

    sim = tmp_path / "sim"
    sim.write_text(
        "#!/bin/sh\n"
        'case "$*" in *bad*) echo "sim: error: bad.toml:3: field `x`: no" >&2; exit 2;; esac\n'
        'case "$*" in *dies*) exit 1;; esac\n'
        "printf 'rest: http://127.0.0.1:8400\\nws: ws://127.0.0.1:8400\\napi key: K\\nsecret: S\\n"
        "clock: lockstep (venue time 5)\\nready\\n'\n"
        "exit 0\n"
    )
    sim.chmod(0o755)
    s = Server(str(sim), tmp_path / "ok.toml", str(tmp_path / "t.jsonl"), None)
    assert s.info == {"rest": "http://127.0.0.1:8400", "ws": "ws://127.0.0.1:8400", "api key": "K", "secret": "S", "clock": "lockstep (venue time 5)"}
    assert s.wait() == 0
    with pytest.raises(Usage, match="exited with 2"):
        Server(str(sim), tmp_path / "bad.toml", None, None)
    with pytest.raises(RunFailed, match="exited with 1"):
        Server(str(sim), tmp_path / "dies.toml", None, None)
