"""``ocosim-tradeengine --engine PATH [--serve URL] SCENARIO``: one session of the real engine.

Steps: read the scenario's inputs (``sim signals``), connect to a running ``sim serve`` (or
start one), set up the engine (``engine.prepare``/``engine.build``), then, on the lockstep loop,
deliver each signal (``Dispatcher.dispatch``) and manual close
(``Dispatcher.close_position_with_cleanup``) at its venue time while the engine's own tasks
(OCO monitor, user-data stream, …) run; at the end of the data stop the session and exit with
the server's verdict: 0 every invariant held, 1 one was violated, 2 bad input, 3 the run
failed (server unreachable, engine did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ocosim_tradeengine import engine as eng_mod
from ocosim_tradeengine import scenario as sc_mod
from ocosim_tradeengine.clock import LockstepLoop, VenueClock, guard_network
from ocosim_tradeengine.harness import Harness, HarnessError, loopback_base

log = logging.getLogger("ocosim_tradeengine")


class Usage(Exception):
    """Bad input (exit 2)."""


class RunFailed(Exception):
    """The run could not be carried out (exit 3)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="ocosim-tradeengine",
        description="Run a checkout of petrosa-tradeengine (its own Dispatcher, unmodified) against sim serve under lockstep venue time.",
    )
    p.add_argument("scenario", help="scenario file (the one sim serve serves)")
    p.add_argument("--engine", required=True, help="folder of a petrosa-tradeengine checkout (v1.1.78, v1.1.80 or the 2026-08 snapshot)")
    p.add_argument("--serve", metavar="URL", help="REST base of a running `sim serve` (http://127.0.0.1:PORT); without it the launcher starts one")
    p.add_argument("--ws", metavar="URL", help="WebSocket base of the server (default: the REST base as ws://)")
    p.add_argument("--api-key", default=os.environ.get("OCOSIM_API_KEY"), help="API key printed by sim serve (or [serve] api_key, $OCOSIM_API_KEY)")
    p.add_argument("--api-secret", default=os.environ.get("OCOSIM_API_SECRET"), help="secret printed by sim serve (or [serve] api_secret, $OCOSIM_API_SECRET)")
    p.add_argument("--sim", default=os.environ.get("OCOSIM_SIM") or shutil.which("sim") or "sim", help="the sim binary (for `sim signals`, and `sim serve` when --serve is not given)")
    p.add_argument("--record", metavar="FILE", help="with a started server: its --record FILE (wire trace)")
    p.add_argument("--out", metavar="DIR", help="with a started server: its --out DIR (reports)")
    p.add_argument("--log", metavar="FILE", help="write the engine's full log (INFO) to FILE")
    p.add_argument("--results", metavar="FILE", help="write each dispatch / manual close result as JSON lines to FILE")
    p.add_argument("-v", "--verbose", action="store_true", help="the engine's log at INFO on stderr (default: only the launcher's warnings)")
    return p.parse_args(argv)


def setup_logging(args: argparse.Namespace) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.INFO if args.verbose else logging.WARNING)
    if not args.verbose:
        # the engine logs its own (expected) failures at ERROR: keep them for --log / -v
        err.addFilter(lambda r: r.name.startswith("ocosim_tradeengine"))
    err.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root.addHandler(err)
    if args.log:
        try:
            fh = logging.FileHandler(args.log, mode="w")
        except OSError as e:
            raise Usage(f"{args.log}: {e.strerror or e}") from None
        fh.setLevel(logging.INFO)
        fh.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        root.addHandler(fh)
    log.setLevel(logging.INFO)


class Server:
    """A ``sim serve`` the launcher started (``--serve`` not given)."""

    def __init__(self, sim: str, scenario: Path, record: str | None, out: str | None) -> None:
        cmd = [sim, "serve", str(scenario), "--port", "0"]
        if record:
            cmd += ["--record", record]
        if out:
            cmd += ["--out", out]
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
        except FileNotFoundError:
            raise Usage(f"`{sim}`: the sim binary was not found (give --sim PATH)") from None
        self.info: dict[str, str] = {}
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line == "ready":
                break
            k, sep, v = line.partition(": ")
            if sep:
                self.info[k] = v
        else:
            code = self.proc.wait()
            raise Usage(f"sim serve exited with {code} before it was ready") if code == 2 else RunFailed(f"sim serve exited with {code} before it was ready")
        for k in ("rest", "api key", "secret"):
            if k not in self.info:
                self.proc.kill()
                raise RunFailed(f"sim serve did not print `{k}:`")

    def wait(self, timeout: float = 120.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            return self.proc.wait(30)


def fmt_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Run:
    """One session: the engine, the venue clock and the scenario's inputs."""

    def __init__(self, info: sc_mod.ScenarioInfo, engine: eng_mod.Engine, harness: Harness, clock: VenueClock, results: TextIO | None, ws: str = "") -> None:
        self.info = info
        self.engine = engine
        self.ws = ws
        self.harness = harness
        self.clock = clock
        self.results = results
        self.counts: dict[str, int] = {}

    def _record(self, item: sc_mod.Item, result: Any) -> None:
        status = str(result.get("status")) if isinstance(result, dict) else type(result).__name__
        self.counts[f"{item.kind}:{status}"] = self.counts.get(f"{item.kind}:{status}", 0) + 1
        if self.results is not None:
            self.results.write(json.dumps({"at": item.at, "venue_time": self.clock.now_ms, "kind": item.kind, "result": result}, default=str, sort_keys=True) + "\n")

    async def manual_close(self, item: sc_mod.Item) -> list[Any]:
        """``close_position_with_cleanup`` for one side (or each open side for BOTH), with the
        engine's own notion of the quantity (its local book) and the side's first active OCO
        pair as ``position_id``, as a manual script would call it. A partial close
        (``quantity``/``fraction``) passes that part of it as ``quantity``: the engine's
        ``close_position_with_cleanup`` has no other notion of a partial close (no close signal
        carries a quantity; ``tradeengine-oco.md`` §3.3)."""
        d = self.engine.dispatcher
        fam = self.engine.release.family
        sym = item.symbol
        book = getattr(d.position_manager, "positions", {}) or {}
        pairs = getattr(d.oco_manager, "active_oco_pairs", {}) or {}

        def qty(side: str) -> float:
            if fam == "p78":  # one number per symbol
                return abs(float((book.get(sym) or {}).get("quantity", 0) or 0))
            return abs(float((book.get((sym, side)) or {}).get("quantity", 0) or 0))

        def pair_ids(side: str) -> list[str]:
            if fam == "p78":
                return [pid for pid, p in pairs.items() if p.get("symbol") == sym and p.get("position_side") == side and p.get("status") == "active"]
            return [str(p.get("position_id") or "") for p in pairs.get(f"{sym}_{side}", []) if p.get("status") == "active"]

        if item.position_side in ("LONG", "SHORT"):
            sides = [item.position_side]
        elif fam == "p78":
            q = float((book.get(sym) or {}).get("quantity", 0) or 0)
            sides = ["SHORT" if q < 0 else "LONG"]
        else:
            sides = [s for s in ("LONG", "SHORT") if qty(s) > 0 or pair_ids(s)]
        out = []
        for side in sides:
            ids = pair_ids(side)
            out.append(await d.close_position_with_cleanup(ids[0] if ids else "", sym, side, item.close_qty(qty(side)), reason="manual"))
        return out

    async def restart(self) -> dict[str, Any]:
        """``[faults] restarts_ms``: the engine's process dies and starts again. Every task of the
        old engine (OCO monitor, user-data stream, …) is cancelled with no shutdown hook, as in a
        crash, and its objects are dropped; a fresh exchange adapter and ``Dispatcher`` are built
        and started by the engine's own start-up path (``engine.build``: for 2026-08
        ``Dispatcher.initialize()`` reconciles from the exchange and seeds the user-data store).
        Module-level singletons of the engine survive, since the process is the launcher's."""
        me = asyncio.current_task()
        old = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        for t in old:
            t.cancel()
        if old:
            await asyncio.wait(old, timeout=5.0)
        stuck = sum(1 for t in old if not t.done())
        self.engine = await eng_mod.build(self.engine.release, self.ws, self.clock, restart_of=self.engine)
        return {"status": "restarted", "tasks_cancelled": len(old), "tasks_stuck": stuck}

    async def drive(self) -> None:
        c = self.harness.clock()
        self.clock.observe(c.time)
        end = c.end
        Signal = self.engine.signal_cls
        for item in self.info.items:
            if item.at > end:
                log.warning("input at %s is past the end of the data (%s): not delivered", fmt_ms(item.at), fmt_ms(end))
                break
            if item.at > self.clock.now_ms:
                await asyncio.sleep((item.at - self.clock.now_ms) / 1000.0)
            if self.clock.done:
                break
            if item.kind == "restart":
                self._record(item, await self.restart())
            elif item.kind == "signal":
                assert item.signal is not None
                fields = sc_mod.engine_signal(item.signal, self.engine.release.family)
                try:
                    sig = Signal(**fields)
                except Exception as e:  # noqa: BLE001 - the engine's own validation
                    self._record(item, {"status": "invalid_signal", "error": str(e)})
                    continue
                self._record(item, await self.engine.dispatcher.dispatch(sig))
            else:
                for r in await self.manual_close(item):
                    self._record(item, r)
        while not self.clock.done:
            await asyncio.sleep(max(end + 1 - self.clock.now_ms, 1) / 1000.0)


async def session(info: sc_mod.ScenarioInfo, release: eng_mod.Release, rest: str, ws: str, results: TextIO | None) -> Run:
    """Builds the engine on the running lockstep loop and drives it to the end of the data."""
    clock: VenueClock = asyncio.get_running_loop().venue  # type: ignore[attr-defined]
    engine = await eng_mod.build(release, ws, clock)
    run = Run(info, engine, Harness(rest), clock, results, ws)
    await run.drive()
    return run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        setup_logging(args)
        return _main(args)
    except Usage as e:
        print(f"ocosim-tradeengine: error: {e}", file=sys.stderr)
        return 2
    except (sc_mod.ScenarioError, eng_mod.EngineError) as e:
        print(f"ocosim-tradeengine: error: {e}", file=sys.stderr)
        return 2
    except (RunFailed, HarnessError) as e:
        print(f"ocosim-tradeengine: run failed: {e}", file=sys.stderr)
        return 3
    except Exception as e:  # noqa: BLE001 - anything else is a failed run, not a verdict
        log.exception("the run failed")
        print(f"ocosim-tradeengine: run failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 3


def _main(args: argparse.Namespace) -> int:
    release = eng_mod.detect(args.engine)
    info = sc_mod.load(args.scenario, args.sim)
    if args.serve:
        if args.record or args.out:
            raise Usage("--record and --out belong to the server: pass them to `sim serve` (or leave out --serve)")
        rest = args.serve
        key = args.api_key or info.api_key
        secret = args.api_secret or info.api_secret
        if not key or not secret:
            raise Usage("give --api-key and --api-secret (sim serve prints them at start)")
        return _session(args, release, info, None, rest, key, secret)
    server = Server(args.sim, info.path, args.record, args.out)
    if args.ws is None and "ws" in server.info:
        args.ws = server.info["ws"]
    try:
        return _session(args, release, info, server, server.info["rest"], server.info["api key"], server.info["secret"])
    except BaseException:
        if server.proc.poll() is None:
            server.proc.terminate()  # a started server must not outlive a failed run
            server.wait(30)
        raise


def _session(args: argparse.Namespace, release: eng_mod.Release, info: sc_mod.ScenarioInfo, server: Server | None, rest: str, key: str, secret: str) -> int:
    """Connects to the server, runs the engine to the end of the data, stops the session."""
    try:
        loopback_base(rest)
    except ValueError as e:
        raise Usage(str(e)) from None
    ws = args.ws or ("ws://" + rest.split("://", 1)[1])
    rest = rest.rstrip("/")
    guard_network(lambda m: log.warning("%s", m))
    harness = Harness(rest)
    c0 = harness.clock()
    if c0.mode and c0.mode != "lockstep":
        raise Usage(f"the server's clock is `{c0.mode}`: the launcher needs --clock lockstep")
    clock = VenueClock(c0.time, harness.advance_to)
    try:
        results = open(args.results, "w") if args.results else None
    except OSError as e:
        raise Usage(f"{args.results}: {e.strerror or e}") from None
    eng_mod.prepare(release, rest, ws, key, secret, info.symbol, info.position_mode, clock, info.seed)
    loop = LockstepLoop(clock)
    loop.venue = clock  # type: ignore[attr-defined]
    asyncio.set_event_loop(loop)
    clock.start_wall_clock()
    t0 = time.monotonic()
    try:
        task = loop.create_task(session(info, release, rest, ws, results))
        try:
            run = loop.run_until_complete(task)
        except eng_mod.EngineError as e:
            raise RunFailed(str(e)) from None
        finally:
            for t in asyncio.all_tasks(loop):
                t.cancel()
            try:
                loop.run_until_complete(asyncio.sleep(0))
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                if pending:
                    loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
            except Exception:  # noqa: BLE001 - best effort shutdown of the engine's tasks
                pass
    finally:
        clock.stop_wall_clock()
        if results is not None:
            results.close()
    real = time.monotonic() - t0
    verdict = harness.stop()
    harness.close()
    span = max(clock.now_ms - c0.time, 0)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items())) or "none"
    print(f"engine: {release.path} ({release.name})")
    n_sig = len([i for i in info.items if i.kind == "signal"])
    n_close = len([i for i in info.items if i.kind == "manual_close"])
    n_restart = len([i for i in info.items if i.kind == "restart"])
    print(f"inputs: {n_sig} signals, {n_close} manual closes{f', {n_restart} restarts' if n_restart else ''}; results: {counts}")
    speed = f"{span / 1000 / real:,.0f}x real time" if real > 0 else "-"
    print(f"venue: {fmt_ms(c0.time)} -> {fmt_ms(clock.now_ms)} ({span / 86_400_000:.2f} days) in {real:.1f} s real ({speed}), {clock.advances} advances")
    print(f"verdict: {verdict.verdict} ({verdict.violations} violations), reports: {verdict.reports}")
    code = verdict.exit
    if server is not None:
        sc = server.wait()
        if sc != code:
            log.warning("sim serve exited with %s, its verdict said %s", sc, code)
    return code
