#!/usr/bin/env bash
# Pinned Python environments for the client tests of `sim serve` (issue 19).
#
# Two virtualenvs OUTSIDE the clone, under ${OCOSIM_VENV:-$HOME/.cache/ocosim-venv}:
#   pb-1.0.19  python-binance 1.0.19 (the live engine's pin) + websockets 11  -> tests marked python_binance
#   pb-latest  python-binance 1.0.37 (latest 1.0.x) + ccxt, connector, websockets 17 -> every test
# Each is reused while the hash of its pinned lock (requirements/*.txt + the python-binance pin + the
# Python version) matches; ./clients/python is reinstalled into it every run. The tests start
# `sim serve` themselves: the binary is $OCOSIM_SIM, default $CARGO_TARGET_DIR/release/sim (build it
# first). Ends with one line `python: N passed, M failed`; non-zero exit on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BASE="${OCOSIM_VENV:-$HOME/.cache/ocosim-venv}"
PY="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ocosim-target}"
export OCOSIM_SIM="${OCOSIM_SIM:-$CARGO_TARGET_DIR/release/sim}"
export OCOSIM_REQUIRE_SIM=1          # a missing binary fails the tests instead of skipping them
export PIP_DISABLE_PIP_VERSION_CHECK=1

# --- python3 and venv ----------------------------------------------------------------------------
need_apt=""
command -v "$PY" >/dev/null 2>&1 || need_apt="python3 python3-venv"
probe="$(mktemp -d)"
if [ -z "$need_apt" ] && ! "$PY" -m venv "$probe/venv" >/dev/null 2>&1; then need_apt="python3-venv"; fi
rm -rf "$probe"
if [ -n "$need_apt" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ci.sh: installing $need_apt with apt-get (running as root)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_apt >/dev/null
  else
    echo "ci.sh: $PY with the venv module is required (apt-get install $need_apt)" >&2
    exit 1
  fi
fi
if [ ! -x "$OCOSIM_SIM" ]; then
  echo "ci.sh: $OCOSIM_SIM not found: build it first (cargo build --release) or set OCOSIM_SIM" >&2
  exit 1
fi

mkdir -p "$BASE"
results=()
rc=0
run_env() {  # NAME PIN PYTEST-ARGS...
  local name="$1" pin="$2"; shift 2
  local req="$HERE/requirements/$name.txt" dir="$BASE/$name"
  local hash
  hash="$( { cat "$req"; echo "$pin"; "$PY" -VV; } | sha256sum | cut -c1-16)"
  if [ -f "$dir/.ocosim-hash" ] && [ "$(cat "$dir/.ocosim-hash")" = "$hash" ] && [ -x "$dir/bin/python" ]; then
    echo "== $name: reusing $dir ($hash)"
  else
    echo "== $name: creating $dir ($hash)"
    rm -rf "$dir"
    "$PY" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --no-deps -r "$req"   # incl. setuptools/wheel: ./clients/python builds offline
    # python-binance last: it shares the `binance` package folder with binance-futures-connector,
    # and its __init__ (Client, AsyncClient) must win
    "$dir/bin/python" -m pip install -q --no-deps --force-reinstall "$pin"
    "$dir/bin/python" -m pip check
    echo "$hash" > "$dir/.ocosim-hash"
  fi
  "$dir/bin/python" -m pip install -q --no-deps --no-build-isolation --force-reinstall "$HERE" >/dev/null
  "$dir/bin/python" -c 'from binance import Client, AsyncClient; from binance.um_futures import UMFutures; import ccxt, time_machine, websockets, ocosim_clock'
  local xml="$BASE/$name-junit.xml"
  echo "== $name: pytest $*"
  set +e
  (cd "$REPO" && OCOSIM_PB_ENV="$name" "$dir/bin/python" -m pytest "$HERE/tests" -q -p no:cacheprovider --junitxml="$xml" "$@")
  local code=$?
  set -e
  if [ "$code" != 0 ]; then rc=1; fi
  results+=("$xml")
}

run_env pb-1.0.19 "python-binance==1.0.19" -m python_binance
run_env pb-latest "python-binance==1.0.37"

"$PY" - "${results[@]}" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        failed += 1
        continue
    for s in root.iter("testsuite"):
        t, f, e, sk = (int(s.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += t - f - e - sk
        failed += f + e
        skipped += sk
line = f"python: {passed} passed, {failed} failed"
print(line + (f", {skipped} skipped" if skipped else ""))
PYEOF
exit "$rc"
