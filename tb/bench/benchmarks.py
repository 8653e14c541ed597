"""Benchmarks behind `make bench`: each function measures one thing and returns table rows.

Results are written between markers in docs/RESULTS.md (section "Benchmarks"), with the machine
(cores, CPU model) and date, so the file says where each number came from.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from golden.spec.params import AccelParams
from golden.training.bench import rows as bench_training_rows
from tb.bench.bnn_throughput import rows as bench_bnn_rows
from tb.bench.cosim_speed import bench_cosim
from tb.bench.training_throughput import rows as bench_throughput_rows
from tb.kit.runner import ROOT

RESULTS = ROOT / "docs" / "RESULTS.md"
STORE = ROOT / "docs" / "bench.json"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

Row = tuple[str, str, str]  # (what, value, note)


def bench_verilog_and_build(params: AccelParams | None = None) -> list[Row]:
    """Verilog generation time and a fresh (uncached) Verilator build per block."""
    from cocotb_tools.runner import get_runner

    from hw.registry import blocks
    from tb.kit.runner import to_verilog, verilator_env

    params = params or AccelParams()
    verilator_env()
    rows: list[Row] = []
    for name, make in blocks().items():
        t0 = time.perf_counter()
        text = to_verilog(make(params), name)
        gen = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / f"{name}.v"
            src.write_text(text)
            t0 = time.perf_counter()
            get_runner("verilator").build(sources=[src], hdl_toplevel=name, build_dir=Path(d) / "b",
                                          build_args=["-Wno-fatal"], log_file=Path(d) / "log")
            build = time.perf_counter() - t0
        rows.append((f"{name}: Verilog generation", f"{gen:.2f} s", f"{text.count(chr(10))} lines"))
        rows.append((f"{name}: Verilator build (cold)", f"{build:.1f} s", "verilator + g++, default config"))
    return rows


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {date.today()}"


def write_results(sections: dict[str, list[Row]]) -> str:
    """Merge ``sections`` into the benchmark store (docs/bench.json) and rewrite the benchmark block of
    docs/RESULTS.md from the whole store, so `bench --only X` updates X and keeps the rest."""
    store = json.loads(STORE.read_text()) if STORE.exists() else {}
    for title, rows in sections.items():
        store[title] = {"machine": machine(), "rows": [list(r) for r in rows]}
    STORE.write_text(json.dumps(store, indent=1) + "\n")
    lines = [BEGIN, "Measured by `make bench` (`reram-accel bench`); each section names its machine and date.", ""]
    for title, entry in store.items():
        lines += [f"#### {title}", "", f"_{entry['machine']}_", "", "| what | value | note |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in entry["rows"]]
        lines.append("")
    lines.append(END)
    block = "\n".join(lines)
    text = RESULTS.read_text() if RESULTS.exists() else "# Results\n"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        text = pre + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Benchmarks\n\n" + block + "\n"
    RESULTS.write_text(text)
    return block


def available(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


BENCHES: dict[str, Callable[[], list[Row]]] = {
    "In-situ training step (golden, 784-250-10, N = 4)": bench_training_rows,
    "Verilog generation and Verilator build": bench_verilog_and_build,
    "Co-simulation (in-situ training, RTL in the loop) vs raw Verilator": bench_cosim,
    "Training throughput of the update path (784-250-10, N = 4, MNIST epoch 0)": bench_throughput_rows,
    "BNN inference throughput of the network engine (784-1025-1025-1025-10, golden cycle model)": bench_bnn_rows,
}


def run_all(only: list[str] | None = None) -> dict[str, list[Row]]:
    out = {}
    for title, fn in BENCHES.items():
        if only and not any(o.lower() in title.lower() for o in only):
            continue
        print(f"bench: {title} ...", flush=True)
        out[title] = fn()
        for a, b, c in out[title]:
            print(f"  {a:55s} {b:>14s}  {c}")
    shutil.rmtree(ROOT / "build" / "bench-tmp", ignore_errors=True)
    return out
