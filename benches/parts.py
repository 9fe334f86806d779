#!/usr/bin/env python3
"""A trade's instructions by part of the run, from a callgrind profile of a bench body.

Usage: python3 benches/parts.py CALLGRIND_OUT TRADES

Record the profile with the `bracket` bench's once mode, e.g. the quarter (6,578 trades):

    OCOSIM_BRACKET_ONCE=quarter_stream valgrind --tool=callgrind --callgrind-out-file=q.out \\
        --toggle-collect='ocosim::scenario::build::Scenario::run_observed' <bracket bench binary>
    python3 benches/parts.py q.out 6578

Each function's self cost (code inlined into it counted there, as callgrind sees the binary) goes
to the part of ocosim it belongs to: the venue (`exchange`), the engine port (`engine`), the
checker (`invariants` and the run's observer), the run loop's glue (`sim::*`), the event log
(`events`), our `types`; calls that were not inlined (libc's `memcpy` and `malloc`/`free`,
`rust_decimal`, the standard library's generic code such as `Vec::retain`, drops of events) are
parts of their own. Needs `callgrind_annotate` (valgrind).
"""
import collections, re, subprocess, sys


def part(fn: str, obj: str) -> str:
    """The part of the run a function (as callgrind names it) belongs to."""
    if fn.startswith("<ocosim::sim::SimClient"):
        return "sim::SimClient"
    if "ocosim::invariants" in fn or "RunObserver" in fn:
        return "invariants (checker)"
    if "drop_in_place<ocosim::events" in fn:
        return "drop of events"
    m = re.match(r"<?ocosim::(\w+)::(\w+)", fn)
    if m:
        top, sub = m.groups()
        return f"{top}::{sub}" if top in ("sim", "events") else top
    if "memcpy" in fn or "memmove" in fn:
        return "memcpy"
    if "malloc" in obj or fn.startswith("__rustc::__r"):
        return "malloc/free"
    if "rust_decimal" in fn:
        return "rust_decimal (not inlined)"
    if re.match(r"<?(alloc|core|std)::", fn):
        return "std (not inlined)"
    return "other"


def parts(out_file: str) -> collections.Counter:
    text = subprocess.run(["callgrind_annotate", "--threshold=100", out_file],
                          capture_output=True, text=True, check=True).stdout
    body = text.split("file:function", 1)[1]
    cost = collections.Counter()
    for line in body.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(\S+?):(.*)", line)
        if m:
            n, obj, fn = int(m.group(1).replace(",", "")), m.group(2), m.group(3).strip()
            cost[part(fn, obj)] += n
    return cost


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    trades = int(sys.argv[2])
    cost = parts(sys.argv[1])
    total = sum(cost.values())
    # parts under 0.1 % of the run are folded into "other"
    for k in [k for k, n in cost.items() if n < total / 1000 and k != "other"]:
        cost["other"] += cost.pop(k)
    print("| part | instructions | a trade | share |\n|---|---:|---:|---:|")
    for k, n in cost.most_common():
        print(f"| {k} | {n / 1e6:,.1f} M | {n / trades / 1e3:,.2f} k | {n / total:.1%} |")
    print(f"| total | {total / 1e6:,.1f} M | {total / trades / 1e3:,.2f} k | |")


if __name__ == "__main__":
    main()
