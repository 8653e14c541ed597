"""Benchmark: in-situ training co-simulation throughput with the RTL in the loop (cocotb + Verilator)
against the plain Verilator C++ harness replaying the same AXI stimulus (what cocotb costs)."""
from __future__ import annotations

from tb.kit.runner import ROOT
from tb.scale.run_dir import new_run_dir

Row = tuple[str, str, str]  # (what, value, note), as in tb.bench.benchmarks


def bench_cosim(samples: int = 200) -> list[Row]:
    """Both drivers (batched through the AxilSequencer; one Python wake-up per AXI write), each
    measured against its C++ replay in the same run."""
    from tb.cosim.run import compare_raw, run_cosim
    from tb.cosim.training_host import CosimConfig

    cfg = CosimConfig(samples=samples, read_cells=32)
    rows: list[Row] = []
    for driver in ("batch", "python"):
        res = run_cosim(cfg, out_dir=new_run_dir(ROOT / "build" / "bench-tmp", f"cosim-{driver}"), driver=driver)
        res = compare_raw(res, cfg)
        what = "batched AXI (AxilSequencer, HDL pulse log)" if driver == "batch" else "one Python wake-up per AXI write"
        ok = (f"{res['mismatches']} mismatches, {res['pulses']} pulses, {res['cycles']} cycles, "
              f"accuracy {100 * res['accuracy']:.2f} % = golden")
        rows += [
            (f"cosim {samples} samples, {what}: cycles/s", f"{res['cycles_per_second']:.0f}",
             f"{res['samples_per_second']:.1f} samples/s; host compute excluded; {ok}"),
            ("  raw Verilator C++ replay: cycles/s", f"{res['raw_cycles_per_second']:.0f}",
             (f"{res['raw_samples_per_second']:.0f} samples/s; same cycles: {res['raw_cycles_equal']}, "
              f"same pulse log: {res['raw_pulse_log_equal']}")),
            ("  cocotb cost (cocotb / raw)", f"x{res['ratio']:.1f}",
             (f"x{res['ratio_cpu']:.1f} in CPU time; x{res['ratio_end_to_end']:.1f} end to end incl. host golden "
              f"passes ({res['end_to_end_samples_per_second']:.1f} samples/s)")),
        ]
    return rows
