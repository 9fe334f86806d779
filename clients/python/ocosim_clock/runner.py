"""`ocosim-run` / `python -m ocosim_clock`: run a bot file under lockstep venue time.

    ocosim-run --scenario examples/oco-bot-avax.toml [--sim PATH] [--out DIR] bot.py [ARGS…]
    ocosim-run --serve http://127.0.0.1:PORT --api-key K --api-secret S bot.py [ARGS…]
    python -m ocosim_clock --serve URL -- python bot.py [ARGS…]

With `--scenario` the runner starts `sim serve` itself (port 0) and reads its URLs and key from
what it prints; with `--serve` (or `OCOSIM_URL`) it attaches to a running server, keys from
`--api-key/--api-secret` or `OCOSIM_API_KEY/OCOSIM_API_SECRET`. It installs the clock and the
client patches, exports `OCOSIM_URL`, `OCOSIM_WS`, `OCOSIM_API_KEY`, `OCOSIM_API_SECRET` (and
`BINANCE_API_KEY/SECRET` when unset), seeds `random` and uuid4 (`--seed`), runs the bot as
`__main__` until it returns or the data ends,
then `POST /sim/v1/stop` and exits with the server's verdict code (0 pass, 1 a violation). A bot
that raised (or exited non-zero) on a passing run exits 3; user errors exit 2.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback
from typing import List, Optional

from . import Session
from .clock import SimulationOver
from .harness import HarnessError, start_server

_PYTHONS = ("python", "python3")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ocosim-run",
        description="Run an unmodified Python bot against `sim serve` under lockstep venue time.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--serve", metavar="URL", help="REST base of a running `sim serve` (default: $OCOSIM_URL)")
    src.add_argument("--scenario", metavar="FILE", help="start `sim serve FILE --port 0` for this run")
    p.add_argument("--sim", metavar="PATH", help="sim binary for --scenario (default: $OCOSIM_SIM or target/release/sim)")
    p.add_argument("--out", metavar="DIR", help="report folder for --scenario (passed as --out)")
    p.add_argument("--serve-arg", action="append", default=[], metavar="ARG", help="extra argument for `sim serve`")
    p.add_argument("--ws", metavar="URL", help="WebSocket base (default: derived from the REST base)")
    p.add_argument("--api-key", help="the server's API key (default: $OCOSIM_API_KEY)")
    p.add_argument("--api-secret", help="the server's secret (default: $OCOSIM_API_SECRET)")
    p.add_argument("--keep-bot-keys", action="store_true", help="do not replace the keys the bot passes")
    p.add_argument("--max-step-ms", type=int, help="longest single advance of an idle event loop")
    p.add_argument("--idle-step-ms", type=int, default=1000, help="advance of a loop with no timer (default 1000)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of `random` and uuid4 in the bot's process (default 0), so generated order ids repeat")
    p.add_argument("--no-stop", action="store_true", help="leave the session running when the bot ends")
    p.add_argument("-m", dest="module", metavar="MODULE", help="run a module as __main__ instead of a file")
    p.add_argument("bot", nargs=argparse.REMAINDER, help="bot file and its arguments (after an optional `--`)")
    return p


def _bot_argv(rest: List[str]) -> List[str]:
    if rest and rest[0] == "--":
        rest = rest[1:]
    if rest and (os.path.basename(rest[0]) in _PYTHONS or os.path.abspath(rest[0]) == os.path.abspath(sys.executable)):
        rest = rest[1:]
    return rest


def _fail(msg: str) -> int:
    print(f"ocosim-run: {msg}", file=sys.stderr)
    return 2


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    bot = _bot_argv(args.bot)
    if args.module is None and not bot:
        return _fail("no bot file given")
    if args.module is None and not os.path.isfile(bot[0]):
        return _fail(f"{bot[0]}: no such file")

    server = None
    rest, key, secret, ws = args.serve or os.environ.get("OCOSIM_URL"), args.api_key, args.api_secret, args.ws
    if args.scenario:
        if not os.path.isfile(args.scenario):
            return _fail(f"{args.scenario}: no such file")
        try:
            server = start_server(args.scenario, sim=args.sim, args=args.serve_arg, out=args.out)
        except (FileNotFoundError, HarnessError) as e:
            return _fail(str(e))
        rest, ws = server.rest, ws or server.ws
        key, secret = key or server.api_key, secret or server.secret
    if not rest:
        return _fail("no server: give --serve URL, --scenario FILE or set OCOSIM_URL")

    try:
        session = Session(rest, ws, key, secret, force_keys=not args.keep_bot_keys,
                          max_step_ms=args.max_step_ms, idle_step_ms=args.idle_step_ms, seed=args.seed)
    except (HarnessError, ValueError) as e:
        if server:
            server.kill()
        return _fail(str(e))

    env = {"OCOSIM_URL": session.rest, "OCOSIM_WS": session.ws}
    if session.target.api_key:
        env.update(OCOSIM_API_KEY=session.target.api_key, OCOSIM_API_SECRET=session.target.secret or "")
        os.environ.setdefault("BINANCE_API_KEY", session.target.api_key)
        os.environ.setdefault("BINANCE_API_SECRET", session.target.secret or "")
    os.environ.update(env)

    bot_failed = False
    ended_by_data = False
    saved_argv = sys.argv
    session.install()
    try:
        if args.module:
            sys.argv = [args.module] + bot
            runpy.run_module(args.module, run_name="__main__", alter_sys=True)
        else:
            sys.argv = bot
            sys.path.insert(0, os.path.dirname(os.path.abspath(bot[0])))
            runpy.run_path(bot[0], run_name="__main__")
    except SimulationOver:
        ended_by_data = True
    except SystemExit as e:
        code = e.code
        if code not in (None, 0):
            bot_failed = True
            if not isinstance(code, int):
                print(code, file=sys.stderr)
    except KeyboardInterrupt:
        bot_failed = True
    except BaseException:  # the bot's own crash: reported, the session still ends with its reports
        traceback.print_exc()
        bot_failed = True
    finally:
        sys.argv = saved_argv
        session.uninstall()

    how = "data ended" if ended_by_data else ("bot failed" if bot_failed else "bot returned")
    if args.no_stop:
        print(f"ocosim-run: {how}; session left running at venue time {session.now_ms()}", file=sys.stderr)
        return 3 if bot_failed else 0
    try:
        verdict = session.stop()
    except HarnessError as e:
        if server:
            server.kill()
        return _fail(f"stop failed: {e}")
    finally:
        session.harness.close()
    if server:
        try:
            server.wait(120)
        except Exception:
            server.kill()
    code = int(verdict.get("exit", 1))
    print(
        f"ocosim-run: {how}; verdict {verdict.get('verdict')} ({verdict.get('violations')} violations), "
        f"reports in {verdict.get('reports')}",
        file=sys.stderr,
    )
    if code == 0 and bot_failed:
        return 3
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
