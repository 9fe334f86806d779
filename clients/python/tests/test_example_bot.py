"""examples/oco_bot.py (python-binance + user stream) on a week of real AVAXUSDT under lockstep.

Two runs give byte-identical reports and output; a planted bug (reduceOnly with positionSide in
hedge mode) is caught by the venue's invariants: exit 1.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.python_binance
BOT = REPO / "examples" / "oco_bot.py"
SCENARIO = REPO / "examples" / "oco-bot-avax.toml"


def _run(sim, out, bug=""):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "OCOSIM_URL", "OCO_BOT"))}
    if bug:
        env["OCO_BOT_BUG"] = bug
    cmd = [sys.executable, "-m", "ocosim_clock", "--scenario", str(SCENARIO), "--sim", sim, "--out", str(out),
           "--", "python", str(BOT)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env, cwd=str(REPO))


def _tree(root: pathlib.Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_example_bot_runs_a_week_twice_with_byte_identical_reports(sim, tmp_path):
    a = _run(sim, tmp_path / "a")
    assert a.returncode == 0, a.stderr[-3000:]
    b = _run(sim, tmp_path / "b")
    assert b.returncode == 0, b.stderr[-3000:]
    assert "enter" in a.stdout and "cancelled" in a.stdout, a.stdout[-2000:]
    assert "data ended; verdict PASS" in a.stderr
    assert a.stdout == b.stdout
    ta, tb = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert ta, "no reports written"
    assert ta.keys() == tb.keys()
    different = [name for name in ta if ta[name] != tb[name]]
    assert different == []


def test_example_bot_with_reduce_only_in_hedge_mode_is_caught(sim, tmp_path):
    r = _run(sim, tmp_path / "bug", bug="reduce-only")
    assert r.returncode == 1, (r.returncode, r.stderr[-3000:])
    assert "could not place" in r.stdout and "-1106" in r.stdout
    reports = b"".join(_tree(tmp_path / "bug").values())
    assert b"reduce-only-mode" in reports


def test_example_bot_that_never_cancels_the_survivor_is_caught(sim, tmp_path):
    r = _run(sim, tmp_path / "bug", bug="no-cancel")
    assert r.returncode == 1, (r.returncode, r.stderr[-3000:])
    assert "triggered" in r.stdout and "cancelled" not in r.stdout
    reports = b"".join(_tree(tmp_path / "bug").values())
    assert b"orphan" in reports
