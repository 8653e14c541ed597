"""Per-block cocotb times under Verilator and Icarus, from the JSON lines ``run_cocotb`` appends to
``$RERAM_SIM_TIMES`` (``tb.kit.runner``): ``python -m tb.bench.simulator_times FILE`` prints a
Markdown table (summed over each block's runs; build seconds are 0 for a cached build).
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def table(lines: list[dict]) -> str:
    """Markdown table: one row per toplevel, run and build seconds per simulator, the run ratio."""
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0]))
    for r in lines:
        a = acc[r["toplevel"]][r["simulator"]]
        a[0] += r["run_s"]
        a[1] += r["build_s"]
        a[2] += 1
    head = ("| block (toplevel) | runs | Verilator run s | Verilator build s | Icarus run s | Icarus build s "
            "| Icarus / Verilator (run) |")
    rows = [head, "|---|---|---|---|---|---|---|"]
    for top in sorted(acc):
        v, i = acc[top].get("verilator", [0.0, 0.0, 0]), acc[top].get("icarus", [0.0, 0.0, 0])
        ratio = f"x{i[0] / v[0]:.1f}" if v[0] and i[0] else "-"
        rows.append(f"| {top} | {max(v[2], i[2])} | {v[0]:.1f} | {v[1]:.1f} | {i[0]:.1f} | {i[1]:.1f} | {ratio} |")
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    lines = [json.loads(x) for f in argv for x in Path(f).read_text().splitlines() if x.strip()]
    print(table(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
