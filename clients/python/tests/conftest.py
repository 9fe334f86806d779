"""Fixtures: a `sim serve` process per test on a shipped real-data scenario, and a clock session.

The binary is `$OCOSIM_SIM` (default `$CARGO_TARGET_DIR/release/sim`, else `target/release/sim`).
Without it the server tests are skipped, unless `OCOSIM_REQUIRE_SIM=1` (ci.sh), which fails them.
"""

from __future__ import annotations

import os
import pathlib

import pytest

from ocosim_clock import Session, default_sim_binary, start_server

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
SCENARIOS = HERE / "scenarios"
ALGO = SCENARIOS / "algo-avax.toml"
LEGACY = SCENARIOS / "legacy-near.toml"


def pytest_configure(config):
    config.addinivalue_line("markers", "python_binance: tests of python-binance (run in the 1.0.19 venv too)")


def sim_binary() -> str:
    sim = default_sim_binary()
    if not os.path.isabs(sim):
        sim = str(REPO / sim)
    return sim


@pytest.fixture
def sim():
    path = sim_binary()
    if not os.path.exists(path):
        if os.environ.get("OCOSIM_REQUIRE_SIM") == "1":
            pytest.fail(f"sim binary missing: {path}")
        pytest.skip(f"sim binary missing: {path} (set OCOSIM_SIM)")
    return path


@pytest.fixture
def serve(sim, tmp_path):
    """`serve(scenario, *args)` starts `sim serve` (killed at teardown if still running)."""
    started = []

    def start(scenario=ALGO, *args, out=None):
        server = start_server(str(scenario), sim=sim, args=list(args), out=str(out or tmp_path / "out"))
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def session(serve):
    """`session(scenario)` starts a server and installs the clock and patches (keys not forced)."""
    sessions = []

    def open_(scenario=ALGO, *args, **kw):
        server = serve(scenario, *args)
        s = Session(server.rest, server.ws, server.api_key, server.secret, force_keys=False, **kw).install()
        s.server = server
        sessions.append(s)
        return s

    yield open_
    for s in sessions:
        s.uninstall()
        s.harness.close()
