#!/usr/bin/env python3
"""Runs the criterion benches and writes reports/bench.md (+ reports/bench.json).

Usage: python3 benches/report.py [--collect-only] [--measurement-time S] [--baseline REV]
                                 [--serve-before BIN] [--rounds N] [bench ...]
       python3 benches/report.py --bot [--rounds N]

--bot: times examples/oco_bot.py (python-binance, the user stream) under the lockstep clock on a day
and on the week of examples/oco-bot-avax.toml, N runs each (default 3), with the Python of
$OCOSIM_BOT_PYTHON (default: the pinned CI venv ~/.cache/ocosim-venv/pb-latest, which has
ocosim_clock installed) and this build's `sim`; it updates only that section of reports/bench.md
and its rows of reports/bench.json (a full report carries them over).

Rows of benches not rerun are kept from the committed report (marked "not rerun").
--serve-before BIN: runs the `serve` bench N times (default 2) against BIN (an older `sim`
build) and against this build, alternately, and writes a before/after table of the medians of the
rounds (the machine's load moves both alike).

Medians come from criterion's estimates (target/criterion/<group>/<function>/new/estimates.json);
throughput from its benchmark.json. The previous reports/bench.json, when present, is the baseline
of the comparison column is reports/bench.json as committed at git revision REV (default HEAD; the
file on disk when git has none), so re-running a subset of benches compares every row with the
same committed report. Targets are the issue's floors.
"""
import json, os, platform, statistics, subprocess, sys, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/ocosim-target"))
BENCHES = ["matching", "load_csv", "run_year", "sweep", "explore", "bracket", "serve"]
TARGETS = {  # benchmark id: (floor in elements per second, what)
    "matching/1_pair": (20e6, "≥ 20 M bars/s per core with one pair resting"),
    "load_csv/hand_parser": (5e6, "≥ 5 M rows/s"),
    "load_csv/hand_parser_1_thread": (5e6, "≥ 5 M rows/s (also on one core)"),
    "run_year/stream": (525600.0, "one year of 1m bars under 1 s"),
    "run_year/poll_2s": (525600.0, "one year of 1m bars under 1 s"),
    "explore/reference_1_thread": (9e3, "≥ 9 k cases/s on one core (#17, as before attribution)"),
    "serve/ping_4_connections": (20e3, "≥ 20 k requests/s on loopback, keep-alive, 2 cores"),
    "serve/signed_open_orders_4_connections": (20e3, "≥ 20 k requests/s on loopback, keep-alive, 2 cores"),
}

def run(benches, mt, extra_env=None):
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET), CARGO_INCREMENTAL="0", **(extra_env or {}))
    for b in benches:
        subprocess.run([os.environ.get("CARGO", "cargo"), "bench", "--bench", b, "--", "--warm-up-time", "1",
                        "--measurement-time", str(mt)], cwd=ROOT, env=env, check=True)

def collect():
    out = {}
    base = TARGET / "criterion"
    for est in sorted(base.glob("**/new/estimates.json")):
        d = est.parent
        bj = json.loads((d / "benchmark.json").read_text())
        e = json.loads(est.read_text())
        med_ns = e["median"]["point_estimate"]
        thr = bj.get("throughput") or {}
        n = thr.get("Elements") or thr.get("Bytes")
        name = bj.get("full_id") or f"{bj['group_id']}/{bj.get('function_id')}"
        out[name] = {"median_ns": med_ns, "elements": n,
                     "per_s": (n / (med_ns / 1e9)) if n else None}
    return out

def fmt_rate(x):
    if x is None: return "-"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div: return f"{x/div:.2f} {unit}/s"
    return f"{x:.1f} /s"

def fmt_time(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div: return f"{ns/div:.2f} {unit}"
    return f"{ns:.0f} ns"

def machine():
    cpu = "?"
    try:
        for l in Path("/proc/cpuinfo").read_text().splitlines():
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip(); break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, {rustc}"

def main():
    args = sys.argv[1:]
    if "--bot" in args:
        rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
        write_bot_only(bot_runs(rounds))
        return
    mt = "5"
    if "--measurement-time" in args:
        i = args.index("--measurement-time"); mt = args[i + 1]; del args[i:i + 2]
    baseline = "HEAD"
    if "--baseline" in args:
        i = args.index("--baseline"); baseline = args[i + 1]; del args[i:i + 2]
    serve_before = None
    if "--serve-before" in args:
        i = args.index("--serve-before"); serve_before = args[i + 1]; del args[i:i + 2]
    rounds = 2
    if "--rounds" in args:
        i = args.index("--rounds"); rounds = int(args[i + 1]); del args[i:i + 2]
    collect_only = "--collect-only" in args
    benches = [a for a in args if not a.startswith("--")] or BENCHES
    ab = {"before": [], "after": []}
    if serve_before:
        this = str(TARGET / "release/sim")
        for _ in range(rounds):
            for which, binary in (("before", serve_before), ("after", this)):
                run(["serve"], mt, {"OCOSIM_BENCH_SIM": binary})
                ab[which].append({k: v for k, v in collect().items() if k.startswith("serve/")})
    elif not collect_only:
        run(benches, mt)
    now = collect()
    prev_path = ROOT / "reports/bench.json"
    committed = subprocess.run(["git", "show", f"{baseline}:reports/bench.json"], cwd=ROOT,
                               capture_output=True, text=True)
    if committed.returncode == 0:
        prev = json.loads(committed.stdout)["results"]
    else:
        prev = json.loads(prev_path.read_text())["results"] if prev_path.exists() else {}
    lines = ["# Benchmarks", "",
             f"Machine: {machine()}.", "",
             "Medians from criterion (`python3 benches/report.py` reruns them). "
             f"Ratio = median in the report committed at `{baseline}` / this median (> 1: faster now).", "",
             "| benchmark | median | throughput | target | vs previous |",
             "|---|---:|---:|---|---:|"]
    # the example bot's rows are measured by `--bot` only: carried over
    for name, r in prev.items():
        if name.startswith("example_bot/") and name not in now:
            now[name] = r
    # benches not rerun this time keep their committed figures, marked as such
    for name, r in prev.items():
        if name not in now and "median_ns" in r:
            now[name] = dict(r, carried=True)
    for name, r in sorted(now.items()):
        if "median_ns" not in r:
            continue
        tgt = TARGETS.get(name)
        tcell = ""
        if tgt and r["per_s"]:
            ok = r["per_s"] >= tgt[0]
            tcell = ("✅ " if ok else "❌ ") + tgt[1]
        p = prev.get(name)
        ratio = f"{p['median_ns'] / r['median_ns']:.2f}×" if p and "median_ns" in p else "-"
        if r.get("carried"):
            ratio = "not rerun"
        lines.append(f"| `{name}` | {fmt_time(r['median_ns'])} | {fmt_rate(r['per_s'])} | {tcell} | {ratio} |")
    s1 = now.get("sweep_256/threads_1"); s2 = now.get("sweep_256/threads_2")
    if s1 and s2:
        lines += ["", f"Sweep scaling 1 → 2 threads, ratio of the two medians above: "
                      f"{s1['median_ns'] / s2['median_ns']:.2f}×."]
    sc = TARGET / "criterion/sweep_256/scaling.json"
    if sc.exists():
        j = json.loads(sc.read_text())
        m = j["median_ratio"]
        ok = "✅" if m >= 1.8 else "❌"
        lines += [f"Sweep scaling measured back to back (median of {j['rounds']} interleaved rounds of "
                  f"one 1-thread and one 2-thread sweep): **{m:.2f}×** {ok} target ≥ 1.8×; "
                  f"rounds ranged {min(j['ratios']):.2f}–{max(j['ratios']):.2f}×."]
        now["sweep_256/scaling"] = {"median_ratio": m, "ratios": j["ratios"]}
    lines += explore_section(now)
    lines += bracket_section(now)
    if ab["before"] and ab["after"]:
        import statistics
        lines += ["", f"`sim serve` before/after ({len(ab['after'])} alternating rounds of the `serve` bench "
                      f"against the build `{os.path.basename(serve_before)}` and this one; median of the rounds' "
                      f"medians; load average {os.getloadavg()[0]:.1f} at the end):", "",
                  "| benchmark | before | after | before/after |", "|---|---:|---:|---:|"]
        for name in sorted(ab["after"][0]):
            b = statistics.median(r[name]["median_ns"] for r in ab["before"] if name in r)
            a = statistics.median(r[name]["median_ns"] for r in ab["after"] if name in r)
            lines.append(f"| `{name}` | {fmt_time(b)} ({fmt_rate(1e9 / b)}) | {fmt_time(a)} ({fmt_rate(1e9 / a)}) | {b / a:.2f}× |")
    lines += bot_section(now)
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports/bench.md").write_text("\n".join(lines) + "\n")
    prev_path.write_text(json.dumps({"machine": machine(), "results": now}, indent=1, sort_keys=True) + "\n")
    print("\n".join(lines))

BOT_DATA = (("day", 1_440, "2026-02-02"), ("week", 10_080, None))

def bot_runs(rounds):
    """examples/oco_bot.py under lockstep on a day and a week of AVAXUSDT: wall time of the whole
    session (`ocosim_clock` starts `sim serve`, runs the bot, the server writes its reports)."""
    import statistics, tempfile, time
    py = os.environ.get("OCOSIM_BOT_PYTHON", str(Path.home() / ".cache/ocosim-venv/pb-latest/bin/python"))
    sim = str(TARGET / "release/sim")
    week = ROOT / "examples/oco-bot-avax.toml"
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, bars, to in BOT_DATA:
            sc = week
            if to:  # the same venue, cut to its first day (data paths made absolute)
                sc = Path(tmp) / f"oco-bot-{name}.toml"
                text = week.read_text().replace('"../data/', f'"{ROOT}/data/')
                sc.write_text(text.replace('to = "2026-02-08"', f'to = "{to}"'))
            runs, trades = [], 0
            for i in range(rounds):
                t0 = time.monotonic()
                r = subprocess.run([py, "-m", "ocosim_clock", "--scenario", str(sc), "--sim", sim,
                                    "--out", str(Path(tmp) / f"out-{name}-{i}"), "--", py,
                                    str(ROOT / "examples/oco_bot.py")],
                                   cwd=ROOT, capture_output=True, text=True)
                runs.append(time.monotonic() - t0)
                if r.returncode != 0:
                    sys.exit(f"examples/oco_bot.py on a {name} failed ({r.returncode}): {r.stderr[-2000:]}")
                trades = sum(1 for l in r.stdout.splitlines() if "enter" in l)
            m = statistics.median(runs)
            out[f"example_bot/{name}"] = {"wall_s": m, "runs": runs, "bars": bars, "entries": trades,
                                          "load": os.getloadavg()[0]}
    return out

def bot_section(now):
    rows = [(k, now[k]) for k in sorted(now) if k.startswith("example_bot/")]
    if not rows:
        return []
    lines = ["", "## The example bot under lockstep (#19)", "",
             "`examples/oco_bot.py` (a python-binance OCO manager on the user stream) against `sim serve` "
             "on AVAXUSDT 1m bars, clock `lockstep`: wall time of the whole session (`ocosim_clock` starts "
             "the server, runs the bot to the end of the data, the server writes its reports); "
             "`python3 benches/report.py --bot` remeasures.", "",
             "| data | bars | entries | wall time (median) | runs | venue time ÷ wall time | load avg |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for k, r in rows:
        runs = ", ".join(f"{x:.1f}" for x in r["runs"])
        lines.append(f"| a {k.split('/')[1]} | {r['bars']:,} | {r['entries']} | {r['wall_s']:.1f} s | {runs} s "
                     f"| {r['bars'] * 60 / r['wall_s']:,.0f}× | {r['load']:.1f} |")
    return lines

def write_bot_only(bot):
    """Updates the example bot's rows of reports/bench.json and its section of reports/bench.md."""
    jp, mp = ROOT / "reports/bench.json", ROOT / "reports/bench.md"
    j = json.loads(jp.read_text())
    j["results"].update(bot)
    jp.write_text(json.dumps(j, indent=1, sort_keys=True) + "\n")
    md = mp.read_text()
    head = "\n## The example bot under lockstep (#19)\n"
    if head in md:
        a = md.index(head)
        b = md.find("\n## ", a + len(head))
        md = md[:a] + (md[b:] if b >= 0 else "\n")
    md = md.rstrip("\n") + "\n" + "\n".join(bot_section(j["results"])) + "\n"
    mp.write_text(md)
    print("\n".join(bot_section(j["results"])))

# Instruction counts (valgrind --tool=callgrind, stable on this noisy machine) of the whole
# `sim run scenarios/bracket-filusdt.toml --quiet` process (load, run, invariants, every report),
# one row per step of #18; add a row after each step.
CALLGRIND = [
    ("main before #18 (events.jsonl built as one String)", 4_934_581_584),
    ("events.jsonl streamed through a buffered writer", 4_727_253_611),
    # r5-hot (lean per-trade path): measured with `sim run … --quiet`; `run` = `sim::run_inner`
    # (the venue, engine and matching, without invariants and reports) in the same profile
    ("r5-hot start: 35b8496 as built for r5-hot (run 1,565.3 M)", 5_103_241_406),
    ("read-only monitor pass without copies, openAlgoOrders ids only (run 1,346.2 M)", 4_885_764_698),
    ("fmt_time_ms without the formatter, signal_id without format! (run 1,273.1 M)", 4_657_788_677),
    ("sync returns at once when already at t, funding check inlined (run 1,235.5 M)", 4_620_217_252),
    # r5-inv (online invariants, streamed reports), measured on 35b8496 without r5-hot
    ("r5-inv before (main at 35b8496, remeasured)", 5_104_068_360),
    ("invariants online, reports streamed, no whole log kept (without r5-hot)", 4_839_747_054),
    # main after round 5's merges (lean path + online invariants + streamed reports + hand-rolled writer)
    ("main after the merges: lean path, online invariants, streamed reports, hand-rolled writer", 3_744_458_816),
    # r6-perf, from main d51fd65 (3,744.6 M remeasured; `run` = `sim::run_inner` with the streamed
    # reports and invariants it feeds; profiled on builds with line tables for ocosim only, same
    # counts ±0.01 %). 661 M of every row is sha256 of the data files for the provenance, in
    # software under valgrind (the CPU's SHA extensions natively).
    ("r6-perf: a quiet bar visited mid-bar walks to the target in one step (run 2,511.2 -> 2,379.1 M)", 3_612_397_937),
    ("r6-perf: orders.csv / fills.csv rows field by field, no String per field", 3_428_166_319),
    ("r6-perf: table numbers, decimals and times as bytes, not through the formatter", 3_323_818_988),
    ("r6-perf: price chart legs and fill glyphs in half pixels, not through the float formatter", 3_178_431_510),
    ("r6-perf: events.jsonl integers two digits per division (run 2,055.1 M)", 3_139_713_197),
]

# r6-perf before/after, measured side by side (the `bracket` bench built from main d51fd65 and from
# r6-perf, run alternately on the loaded 2-core machine, load average 3.8-4.8): (benchmark, rounds
# before in s, rounds after in s, trades)
BRACKET_AB = [
    ("bracket/quarter_filusdt", [0.21212, 0.20633], [0.19664, 0.19374], 6578),
    ("bracket/year_dense_reports", [2.9296, 3.0914], [2.2111, 1.8112], 34822),
]

def bracket_ab_lines():
    """The before/after table of r6-perf's alternating rounds (medians of the rounds)."""
    out = ["", "r6-perf before/after (criterion medians of alternating rounds, main d51fd65 vs r6-perf, "
               "load average 3.8-4.8; `sim run` of the quarter end to end: 0.48 s -> 0.44 s, medians of 5):", "",
           "| benchmark | before | after | µs / trade before → after | before/after |", "|---|---:|---:|---:|---:|"]
    for name, before, after, trades in BRACKET_AB:
        b, a = statistics.median(before), statistics.median(after)
        out.append(f"| `{name}` | {b:.3f} s | {a:.3f} s | {b / trades * 1e6:.1f} → {a / trades * 1e6:.1f} | {b / a:.2f}× |")
    return out

# instructions per `sim explore --profile reference --seed 3 --no-real` case: callgrind of 2,048
# cases minus 256 (RAYON_NUM_THREADS=1), over 1,792 cases
EXPLORE_CALLGRIND = [
    ("before #17 (1363cdf: no attribution, older generator)", 764_620),
    ("main 35b8496 (attribution, richer cases: duplicates, restarts after signals, targeted faults)", 807_824),
    ("r5-explore: case built from its TOML document as a table (no text re-parsed)", 734_426),
    ("r5-explore: bars to the series as e8 prices (no Decimal klines)", 675_144),
    ("main after round 5 (r5-rec binary, remeasured)", 676_125),
    ("r6-explore: LIMIT/STOP entries in both modes, richer cases (checker 76.2 k -> 75.9 k per case)", 687_447),
]

def explore_section(now):
    """#17: explore throughput on one core, cases/s on 1-day windows, instructions per case."""
    out = ["", "## `sim explore` (#17)", ""]
    r, d = now.get("explore/reference_1_thread"), now.get("explore/reference_1day_1_thread")
    if r and r.get("per_s"):
        out.append(f"`reference` on explore's own cases (generated paths, 256 per iteration, one core): "
                   f"**{r['per_s']:,.0f} cases/s**"
                   + (f"; on 1-day windows of real AVAXUSDT bars (1,440 bars per case): "
                      f"**{d['per_s']:,.1f} cases/s**" if d and d.get("per_s") else "")
                   + f" (load average {os.getloadavg()[0]:.1f} when written). `tradeengine-2026-08` "
                   "attributes every violating case (re-runs with its switches flipped), hence its "
                   "lower rate.")
    out += ["", "Callgrind (stable under load), instructions per `reference` case:", "",
            "| step | instructions / case | vs first |", "|---|---:|---:|"]
    for what, n in EXPLORE_CALLGRIND:
        out.append(f"| {what} | {n / 1e3:,.0f} k | {EXPLORE_CALLGRIND[0][1] / n:.2f}× |")
    return out

def bracket_section(now):
    """The dense workload of #18: µs per trade, bars/s, ratio to the floor, peak RSS."""
    mp = TARGET / "criterion/bracket/meta.json"
    if not mp.exists():
        return []
    meta = json.loads(mp.read_text())
    b = meta["benches"]
    out = ["", "## Dense workload: the built-in bracket (#18)", "",
           "Trades counted in the run (every signal executed); the floor is a hand-written loop of "
           "the same bracket over the same bars (no engine, no venue, no events). Targets: ≤ 2 µs per "
           "trade with every invariant and the events; a dense year end to end < 0.5 s.", "",
           "| benchmark | median | trades | µs / trade | bars/s | ÷ floor |",
           "|---|---:|---:|---:|---:|---:|"]
    floors = {"quarter_filusdt": "floor_quarter", "quarter_filusdt_stream": "floor_quarter",
              "quarter_filusdt_unchecked": "floor_quarter", "year_dense": "floor_year",
              "year_dense_reports": "floor_year", "year_dense_reports_thread": "floor_year"}
    for key in ["quarter_filusdt_stream", "quarter_filusdt_unchecked", "quarter_filusdt", "year_dense",
                "year_dense_reports", "year_dense_reports_thread", "floor_quarter", "floor_year"]:
        name = f"bracket/{key}"
        r = now.get(name); m = b.get(name)
        if not r or not m:
            continue
        us = r["median_ns"] / 1e3 / max(m["trades"], 1)
        fl = now.get(f"bracket/{floors[key]}") if key in floors else None
        ratio = f"{r['median_ns'] / fl['median_ns']:.0f}×" if fl else "-"
        out.append(f"| `{name}` | {fmt_time(r['median_ns'])} | {m['trades']} | {us:.2f} | "
                   f"{fmt_rate(r['per_s'])} | {ratio} |")
    out += ["", "Callgrind, whole `sim run scenarios/bracket-filusdt.toml` (6,578 trades), instructions:", "",
            "| step | instructions | per trade | vs first |", "|---|---:|---:|---:|"]
    for what, n in CALLGRIND:
        out.append(f"| {what} | {n / 1e6:,.1f} M | {n / 6578 / 1e3:,.0f} k | {CALLGRIND[0][1] / n:.2f}× |")
    out += bracket_ab_lines()
    d, i = meta.get("rss_3y_dense_kib"), meta.get("rss_3y_idle_kib")
    if d and i:
        diff = (d - i) / 1024
        ok = "✅" if diff <= 50 else "❌"
        out += ["", f"Peak RSS, three generated years (1,576,800 bars) end to end with reports: dense bracket "
                    f"{d / 1024:.0f} MiB, no signals {i / 1024:.0f} MiB: +{diff:.0f} MiB {ok} target ≤ +50 MiB."]
        now["bracket/rss_3y"] = {"dense_kib": d, "idle_kib": i}
    dr, ir = meta.get("rss_3y_dense_run_kib"), meta.get("rss_3y_idle_run_kib")
    if dr and ir:
        out += [f"The run alone (the high-water mark reset once the bars are built, which generating them "
                f"exceeds for a moment): dense {dr / 1024:.0f} MiB, no signals {ir / 1024:.0f} MiB: "
                f"+{(dr - ir) / 1024:.0f} MiB."]
        now["bracket/rss_3y_run"] = {"dense_kib": dr, "idle_kib": ir}
    return out

if __name__ == "__main__":
    main()
