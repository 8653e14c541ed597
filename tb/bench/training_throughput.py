"""Benchmark: cycles per training sample of the on-chip update path (784-250-10, N = 4, MNIST).

The golden training records each layer's per-sample work over the first epoch
(:func:`golden.training.throughput.record_workload`); the engine's closed-form frame cycles
(checked here against its cycle model on the first recorded frames) give the cycles per sample for
each number of lanes P, next to the bound ``max(vector-load cycles, pulse-bound cycles)``. Samples
per second use the ECP5 Fmax of the accelerator top from the last ``make board`` run
(``build/boards/ulx3s.json``) when there is one.
"""
from __future__ import annotations

import os

from golden.training.in_situ import ENGINE_LANES
from golden.training.throughput import check_against_cycle_model, cycles_per_sample, record_workload
from tb.bench.board_builds import BOARDS_DIR, top_fmax_of

LANES = (1, 8, 64, 128)
#: the default lanes of the MNIST accelerator (every other row of the table is for comparison)
DEFAULT_LANES = ENGINE_LANES["mnist"]
BOARD_JSON = BOARDS_DIR / "ulx3s.json"


def ecp5_fmax() -> tuple[float | None, str]:
    """Post-route Fmax (MHz) of the accelerator top on the ULX3S from the last board build, if any."""
    f = top_fmax_of(BOARD_JSON)
    if f is None:
        return None, "no usable ULX3S board build (make board)"
    return f, "ULX3S accelerator top, last make board"


def rows() -> list[tuple[str, str, str]]:
    samples = int(os.environ.get("RERAM_BENCH_SAMPLES", "60000"))
    layers = record_workload(samples, progress=True, frames=8)
    fmax, fsrc = ecp5_fmax()
    out = []
    for lanes in LANES:
        r = cycles_per_sample(layers, lanes)
        rate = f", {fmax * 1e6 / r['cycles'] / 1e3:.0f}k samples/s at {fmax:.0f} MHz" if fmax else ""
        tag = " (default)" if lanes == DEFAULT_LANES else ""
        pulses = [round(c) for c in r["pulse_cycles_per_layer"]]
        note = (f"bound {r['bound']:.0f} (load {r['words_per_layer']}, pulses {pulses}), ratio "
                f"{r['ratio']:.2f}; lanes per layer {r['lanes_per_layer']}{rate}")
        out.append((f"update path, P = {lanes}{tag}", f"{r['cycles']:.0f} cycles/sample", note))
    chk = check_against_cycle_model(layers, DEFAULT_LANES)
    out.append(("closed form vs cycle model", " / ".join(f"{c['ratio']:.3f}" for c in chk),
                f"P = {DEFAULT_LANES}, first {chk[0]['frames']} frames back to back, per layer"))
    nz = [round(float(lw.rows.mean()), 1) for lw in layers]
    note = (f"MNIST epoch 0, non-zero input rows per layer {nz}, "
            f"{sum(float(lw.pulses.mean()) for lw in layers):.1f} pulses/sample; Fmax: {fsrc}")
    out.append(("workload", f"{samples} samples", note))
    return out
