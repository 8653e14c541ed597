"""`reram-accel demo` (`make demo`): the main job, end to end, in a few minutes on 2 cores.

1. generate the Verilog of every block and the top (+ register map docs and C header);
2. train the golden MNIST MLP with multi-ReRAM synapses (N = 4) and its floating-point baseline,
   and print the paper-reproduction table from docs/RESULTS.md;
3. co-simulate in-situ training through the RTL top (cocotb + Verilator) and BNN inference through
   the top: every pulse, conductance and output bit compared with golden;
4. record one example waveform and print where everything is.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

HELP = "the main job: generate Verilog, train, co-simulate and print the results"

from tb.cli.arguments import IntIn, OutputDir
from tb.kit.runner import ROOT


def add_arguments(p) -> None:
    from golden.data.datasets import MNIST_TRAIN_SIZE
    from golden.training.in_situ import DATASET_DEFAULTS

    d = DATASET_DEFAULTS["mnist"]
    p.add_argument("--train-samples", type=IntIn(1, MNIST_TRAIN_SIZE), default=MNIST_TRAIN_SIZE,
                   help="MNIST training samples per epoch for the golden in-situ run (default: all %(default)s; "
                        f"epochs and lr schedule are the train defaults: {d['epochs']} epochs, lr {d['lr']} -> "
                        f"{d['lr_end']} {d['lr_schedule']})")
    from tb.cosim.training_host import CosimConfig

    p.add_argument("--cosim-samples", type=IntIn(1, CosimConfig.MAX_SAMPLES), default=CosimConfig.samples,
                   help=f"samples trained through the RTL, 1..{CosimConfig.MAX_SAMPLES} (default %(default)s)")
    p.add_argument("--bnn-images", type=IntIn(0, CosimConfig.BNN_MAX_IMAGES), default=100,
                   help=f"images through the BNN path of the top, 0..{CosimConfig.BNN_MAX_IMAGES} (0: none)")
    p.add_argument("--out", type=OutputDir(), default=Path("build/demo"), help="where JSON results and Verilog go")


def _step(title: str) -> float:
    print(f"\n=== {title} ===", flush=True)
    return time.perf_counter()


def _results_table(heading: str) -> str | None:
    """The first Markdown table under ``heading`` in docs/RESULTS.md."""
    path = ROOT / "docs" / "RESULTS.md"
    if not path.exists():
        return None
    text = path.read_text()
    i = text.find(heading)
    if i < 0:
        return None
    m = re.search(r"((?:^\|.*\|\s*$\n?)+)", text[i:], re.MULTILINE)
    return m.group(1).rstrip() if m else None


def _waveform(out: Path) -> Path | None:
    """A short PulseScheduler -> CrossbarAddressing run with tracing on: a VCD a person can open."""
    from golden.spec.params import AccelParams
    from tb.kit.runner import run_cocotb
    from tb.tops.programming_path import SchedulerWithAddressing

    params = AccelParams().with_(array={"rows": 4, "cols": 3}, synapse={"devices": 2})
    res = run_cocotb(SchedulerWithAddressing(params), toplevel="pulse_scheduler_top",
                     test_module="tb.envs.pulse_scheduler_tb", testcase="random_traffic", waves=True,
                     build_args=("--assert",),
                     config={"params": params.to_dict(), "seed": 1, "requests": 40, "reads": 8,
                             "stats_path": str((out / "waveform_stats.json").resolve())})
    return res.waves


def run(args) -> int:
    from tb.cli.main import main

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    failures = []

    t = _step("1/4 Verilog (default configuration, configs/example.toml for another)")
    if main(["verilog", "--out", str(out / "verilog")]) != 0:
        failures.append("verilog")
    print(f"({time.perf_counter() - t:.0f} s)")

    from golden.training.in_situ import DATASET_DEFAULTS
    d = DATASET_DEFAULTS["mnist"]
    t = _step(f"2/4 golden in-situ training on MNIST, N = 4 devices, {args.train_samples} samples x "
              f"{d['epochs']} epochs, lr {d['lr']} -> {d['lr_end']} ({d['lr_schedule']})")
    train_json = out / "train.json"
    if main(["train", "--dataset", "mnist", "--devices", "4", "--train-samples", str(args.train_samples),
             "--json", str(train_json)]) != 0:
        failures.append("train")
    table = _results_table("## In-situ training")
    if table:
        print("\nFull MNIST table (docs/RESULTS.md, 60k samples, mean ± std over seeds):")
        print(table)
    print(f"({time.perf_counter() - t:.0f} s)")

    t = _step(f"3/4 co-simulation: {args.cosim_samples} training samples and {args.bnn_images} BNN images "
              "through the RTL top")
    cosim_json = out / "cosim.json"
    rc = main(["cosim", "--samples", str(args.cosim_samples), "--bnn-images", str(args.bnn_images),
               "--json", str(cosim_json)])
    if rc != 0:
        failures.append("cosim")
    print(f"({time.perf_counter() - t:.0f} s)")

    t = _step("4/4 example waveform")
    wave = _waveform(out)
    print(f"({time.perf_counter() - t:.0f} s)")

    print("\n=== where things are ===")
    print(f"Verilog, register map, C header : {out / 'verilog'}/")
    print(f"training / co-simulation results: {train_json}, {cosim_json}")
    print(f"plots                           : {', '.join(sorted(str(p) for p in (ROOT / 'docs').glob('*.png')))}")
    print(f"waveform (VCD)                  : {wave}")
    print("all measured numbers            : docs/RESULTS.md")
    if cosim_json.exists():
        c = json.loads(cosim_json.read_text())
        print(f"\nco-simulation mismatches: {c.get('mismatches')}  (pulses {c.get('pulses')}, cycles {c.get('cycles')})")
    print(f"demo took {time.perf_counter() - t_all:.0f} s" + (f"; FAILED steps: {failures}" if failures else ""))
    return 1 if failures else 0
