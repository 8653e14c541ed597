"""The accuracy-vs-devices table of Boybat et al. reproduced on our models (``reram-accel train-sweep``).

Runs, for every seed: the FP baseline and in-situ training with N in ``devices`` for analog
non-differential, analog differential and binary (non-differential) synapses; a Markdown table
with mean +- standard deviation over seeds and a plot of accuracy against N. The runs are executed
(on the Dask engine) and stored (one JSON store, each finished run merged at once) by
``reram-accel train-sweep`` through :mod:`tb.scale`.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

MODES = ("analog", "analog-diff", "binary")
MODE_LABEL = {"analog": "analog, non-differential", "analog-diff": "analog, differential (with refresh)",
              "binary": "binary devices, non-differential"}


def run_spec(spec: dict) -> dict:
    """One run of the sweep (a pure function of ``spec``; executed on a Dask worker)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from golden.data.datasets import load
    from golden.training.in_situ import make_config, train_fp, train_insitu

    data = load(spec["dataset"])
    t0 = time.perf_counter()
    sched = {k: spec[k] for k in SCHEDULE_KEYS}
    if spec["mode"] == "fp":
        cfg = make_config(seed=spec["seed"], train_samples=spec["train_samples"], **sched)
        r = train_fp(data, cfg)
        out = {"test_accuracy": r["test_accuracy"], "seconds_per_sample": r["seconds_per_sample"],
               "test_accuracy_per_epoch": r["test_accuracy_per_epoch"]}
    else:
        cfg = make_config(devices=spec["devices"], differential=spec["mode"] == "analog-diff",
                          binary=spec["mode"] == "binary", seed=spec["seed"],
                          train_samples=spec["train_samples"], **sched)
        r = train_insitu(data, cfg)
        out = {k: r[k] for k in ("test_accuracy", "test_accuracy_noise_free", "test_accuracy_per_epoch",
                                 "seconds_per_sample", "pulses", "refreshes", "samples", "saturations")}
    out.update(spec)
    out["wall_seconds"] = time.perf_counter() - t0
    return out


#: schedule fields of a run spec (runs of older sweeps without them were 1 epoch at constant lr 0.01)
SCHEDULE_KEYS = ("epochs", "lr", "lr_schedule", "lr_end")
_OLD_SCHEDULE = {"lr": 0.01, "lr_schedule": "constant", "lr_end": 0.001}


def run_key(s: dict) -> tuple:
    """What identifies a run (reuse of finished runs, selection for the table)."""
    s = {**_OLD_SCHEDULE, **s}
    sched = tuple(s[k] for k in SCHEDULE_KEYS)
    if s["lr_schedule"] == "constant":
        sched = sched[:3]                       # lr_end does not matter
    return (s["dataset"], s["mode"], s["devices"], s["seed"], s["train_samples"]) + sched


def jobs(dataset: str, devices: Iterable[int], seeds: Iterable[int], epochs: int, train_samples: int | None,
         modes: Iterable[str] = MODES, lr: float = 0.01, lr_schedule: str = "constant",
         lr_end: float = 0.001) -> list[dict]:
    """The run specifications, longest first (large N, binary, differential)."""
    base = {"dataset": dataset, "epochs": epochs, "train_samples": train_samples, "lr": lr,
            "lr_schedule": lr_schedule, "lr_end": lr_end}
    specs = []
    for seed in seeds:
        specs.append({**base, "mode": "fp", "devices": 0, "seed": seed})
        for n in devices:
            for mode in modes:
                specs.append({**base, "mode": mode, "devices": n, "seed": seed})
    cost = {"fp": 0.2, "analog": 1.0, "analog-diff": 1.5, "binary": 3.0}
    return sorted(specs, key=lambda s: -cost[s["mode"]] * max(s["devices"], 1))


def summarise(runs: list[dict]) -> dict:
    """{(mode, N): (mean, std, n, ms per sample)} with mode "fp" at N = 0."""
    groups: dict = {}
    for r in runs:
        groups.setdefault((r["mode"], r["devices"]), []).append(r)
    out = {}
    for k, rs in groups.items():
        acc = np.array([r["test_accuracy"] for r in rs])
        out[k] = (float(acc.mean()), float(acc.std(ddof=1)) if len(acc) > 1 else 0.0, len(acc),
                  float(np.mean([r["seconds_per_sample"] for r in rs])) * 1e3)
    return out


def table_markdown(runs: list[dict]) -> str:
    s = summarise(runs)
    ns = sorted({n for (m, n) in s if m != "fp"})
    fp = s.get(("fp", 0))
    lines = ["| synapse | " + " | ".join(f"N = {n}" for n in ns) + " |", "|---|" + "---|" * len(ns)]
    if fp:
        lines.append(f"| FP baseline (same network, init, order, lr schedule; {fp[2]} seeds) | "
                     + " | ".join(f"{100 * fp[0]:.2f} ± {100 * fp[1]:.2f}" for _ in ns) + " |")
    for m in MODES:
        if not any((m, n) in s for n in ns):
            continue
        cells = []
        for n in ns:
            v = s.get((m, n))
            cells.append("—" if v is None else f"{100 * v[0]:.2f} ± {100 * v[1]:.2f}")
        lines.append(f"| {MODE_LABEL[m]} | " + " | ".join(cells) + " |")
    lines.append("| ms per training sample (analog non-diff / diff / binary) | " + " | ".join(
        " / ".join(f"{s[(m, n)][3]:.2f}" if (m, n) in s else "—" for m in MODES) for n in ns) + " |")
    return "\n".join(lines)


def plot(runs: list[dict], path: Path, title: str = "") -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summarise(runs)
    ns = sorted({n for (m, n) in s if m != "fp"})
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    fp = s.get(("fp", 0))
    if fp:
        ax.axhspan(100 * (fp[0] - fp[1]), 100 * (fp[0] + fp[1]), color="0.85")
        ax.axhline(100 * fp[0], color="k", lw=1, label="FP baseline")
        ax.axhline(100 * (fp[0] - 0.02), color="k", lw=0.8, ls=":", label="FP - 2 points")
    for m, mk in zip(MODES, "osD"):
        xs = [n for n in ns if (m, n) in s]
        if not xs:
            continue
        ax.errorbar(xs, [100 * s[(m, n)][0] for n in xs], yerr=[100 * s[(m, n)][1] for n in xs], marker=mk,
                    capsize=3, label=MODE_LABEL[m])
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("devices per synapse N (per group if differential)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title or "In-situ training on multi-ReRAM synapses (mean ± std over seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


BEGIN, END = "<!-- train-sweep:begin -->", "<!-- train-sweep:end -->"


def with_results_section(text: str, block: str) -> str:
    """``text`` (a RESULTS.md, may be empty) with ``block`` between the train-sweep markers inside the
    in-situ training section."""
    text = text or "# Results\n"
    block = f"{BEGIN}\n{block}\n{END}"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        return pre + block + rest.split(END, 1)[1]
    head = "## In-situ training with multi-ReRAM synapses (issue 3, Boybat et al.)"
    if head in text:
        i = text.index(head) + len(head)
        return text[:i] + "\n\n" + block + "\n" + text[i:]
    return text.rstrip() + f"\n\n{head}\n\n{block}\n"
