"""Accuracy of hardware-exact training against ADC and input width (issue 12).

``python -m golden.training.hw_exact_sweep --out docs/hw_exact_sweep.json`` runs, one after the
other (one CPU), the FP baseline and :func:`golden.training.hw_exact.train_hw_exact` for every
(synapse kind, input width, ADC width) of the grid, merging each finished run into the JSON file at
once (a run already in the file is not repeated); ``--plot`` draws accuracy against ADC width.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

KINDS = ("non-differential", "differential")


def run_key(s: dict) -> tuple:
    return (s["dataset"], s["mode"], s.get("differential", False), s.get("input_width", 0), s.get("adc_width", 0),
            s["devices"], s["seed"], s["epochs"], s["train_samples"])


def run_spec(spec: dict) -> dict:
    """One run (a pure function of ``spec``)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from golden.data.datasets import load
    from golden.training.hw_exact import hw_exact_config, train_hw_exact
    from golden.training.in_situ import make_config, train_fp

    data = load(spec["dataset"])
    t0 = time.perf_counter()
    common = {"seed": spec["seed"], "epochs": spec["epochs"], "train_samples": spec["train_samples"],
              "hidden": spec["hidden"], "lr": spec["lr"]}
    if spec["mode"] == "fp":
        r = train_fp(data, make_config(**common))
        out = {"test_accuracy": r["test_accuracy"], "seconds_per_sample": r["seconds_per_sample"]}
    else:
        cfg = hw_exact_config(spec["devices"], spec["differential"], spec["input_width"], spec["adc_width"],
                              **common)
        r = train_hw_exact(data, cfg)
        out = {k: r[k] for k in ("test_accuracy", "test_accuracy_per_epoch", "seconds_per_sample",
                                 "eval_seconds", "pulses", "refreshes", "samples", "saturations", "read_path",
                                 "constants", "digest")}
    out.update(spec)
    out["wall_seconds"] = time.perf_counter() - t0
    return out


def grid(dataset: str, devices: int, seeds, epochs: int, train_samples, adc_widths, input_widths,
         hidden: int = 250, lr: float = 0.01) -> list[dict]:
    """Run specifications: the FP baseline per seed, then input width (largest first), ADC width
    (largest first), non-differential before differential."""
    base = {"dataset": dataset, "devices": devices, "epochs": epochs, "train_samples": train_samples,
            "hidden": hidden, "lr": lr}
    specs = [{**base, "mode": "fp", "devices": 0, "seed": s} for s in seeds]
    for s in seeds:
        for b in sorted(input_widths, reverse=True):
            for a in sorted(adc_widths, reverse=True):
                for diff in (False, True):
                    specs.append({**base, "mode": "hw-exact", "differential": diff, "input_width": b,
                                  "adc_width": a, "seed": s})
    return specs


def load_runs(path: Path) -> list[dict]:
    return json.loads(path.read_text())["runs"] if path.exists() else []


def save_runs(path: Path, runs: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"runs": runs}, indent=1, sort_keys=True))
    tmp.replace(path)


def plot(runs: list[dict], path: Path) -> None:
    """Test accuracy against ADC width, one line per (synapse kind, input width); FP as a line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    fp = [r["test_accuracy"] for r in runs if r["mode"] == "fp"]
    if fp:
        ax.axhline(100 * sum(fp) / len(fp), color="k", ls="--", label="FP baseline")
    lines = sorted({(r["differential"], r["input_width"]) for r in runs if r["mode"] == "hw-exact"})
    for diff, b in lines:
        pts = sorted((r["adc_width"], r["test_accuracy"]) for r in runs
                     if r["mode"] == "hw-exact" and r["differential"] == diff and r["input_width"] == b)
        ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], "o-" if not diff else "s--",
                label=f"N = 4 {KINDS[int(diff)]}, input {b} bits")
    ax.set_xticks(sorted({r["adc_width"] for r in runs if r["mode"] == "hw-exact"}))
    ax.set_xlabel("ADC width (bits)")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_title("Hardware-exact in-situ training, 784-250-10, 1 epoch, seed 0")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def table(runs: list[dict]) -> str:
    """Markdown table: test accuracy (%) per synapse kind and input width (rows) and ADC width (columns),
    with the wall time of each run, and the FP baseline."""
    hw = [r for r in runs if r["mode"] == "hw-exact"]
    adcs = sorted({r["adc_width"] for r in hw})
    head = "| synapse (N = 4), input width | " + " | ".join(f"ADC {a} bits" for a in adcs) + " |"
    out = [head, "|---|" + "---|" * len(adcs)]
    fp = [r for r in runs if r["mode"] == "fp"]
    if fp:
        v = fp[0]["test_accuracy"]
        out.append("| FP baseline (float32, same network, init, order, lr) | "
                   + " | ".join(f"{100 * v:.2f}" for _ in adcs) + " |")
    for diff in (False, True):
        for b in sorted({r["input_width"] for r in hw}, reverse=True):
            cells = []
            for a in adcs:
                m = [r for r in hw if r["differential"] == diff and r["input_width"] == b and r["adc_width"] == a]
                cells.append(f"{100 * m[0]['test_accuracy']:.2f} ({m[0]['wall_seconds'] / 60:.0f} min)"
                             if m else "not run")
            if any(c != "not run" for c in cells):
                out.append(f"| {KINDS[int(diff)]}, {b} bits | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist", choices=("mnist", "digits"))
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-samples", type=int, default=None)
    ap.add_argument("--hidden", type=int, default=250)
    ap.add_argument("--adc-widths", type=int, nargs="+", default=[4, 6, 8])
    ap.add_argument("--input-widths", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--out", type=Path, default=Path("docs/hw_exact_sweep.json"))
    ap.add_argument("--plot", type=Path, default=None, help="only draw the plot of --out into this PNG")
    ap.add_argument("--table", action="store_true", help="only print the Markdown table of --out")
    a = ap.parse_args(argv)
    if a.plot is not None or a.table:
        if a.plot is not None:
            plot(load_runs(a.out), a.plot)
        if a.table:
            print(table(load_runs(a.out)))
        return 0
    runs = load_runs(a.out)
    done = {run_key(r) for r in runs}
    for spec in grid(a.dataset, a.devices, a.seeds, a.epochs, a.train_samples, a.adc_widths, a.input_widths,
                     a.hidden):
        if run_key(spec) in done:
            continue
        r = run_spec(spec)
        print(json.dumps({k: r[k] for k in ("mode", "test_accuracy", "wall_seconds") if k in r}
                         | {k: spec.get(k) for k in ("differential", "input_width", "adc_width")}), flush=True)
        runs = load_runs(a.out) + [r]
        save_runs(a.out, runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
