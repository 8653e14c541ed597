"""Fault robustness across the project: stuck-at-LRS / stuck-at-HRS devices in in-situ training and
in BNN inference (issue 5, last bullet). The variability (LUT) study has its own stuck-at sweep
(:mod:`golden.studies.variability`); all three use :func:`golden.physics.faults.stuck_fault_mask`, so a device's
fault is a pure function of ``(seed, device id)`` and raising a rate only adds stuck devices.

Fault models
------------
*In-situ training* (:class:`golden.training.in_situ.InSituMLP` with ``faults=(p_lrs, p_hrs)``): a stuck
device sits at its own bound from the start (stuck at LRS: ``g_max_i``, stuck at HRS: ``g_min_i``,
device-to-device spread included), ignores every programming pulse (open-loop programming of the
initial weights, updates, refresh) and is read at its stuck conductance with the usual read noise.
The periphery does not know which devices are stuck: the arbitration still routes pulses to them.

*BNN inference* (:class:`golden.bnn.chip_model.HardwareConfig` with ``p_stuck_lrs/p_stuck_hrs``,
physical mode): each of the two devices of a 2T2R bridge may be stuck; a stuck device keeps its
stuck state (with its own lognormal LRS/HRS resistance) whatever the weight programs. A device stuck
in the state the weight wants is harmless. Otherwise the pair is no longer complementary: both LRS
or both HRS put the source line near mid-rail (``V = R_bot'/(R_top' + R_bot')`` for x = 1), so the
output is decided by the two devices' mismatch against the inverter threshold (``vm = 0.5 +- 0.02``):
with the resistance spread the broken bridge behaves like a random weight, about half its XNOR
outputs are wrong; both devices stuck in swapped states read the inverted weight. The existing
divider/inverter model (:func:`golden.bnn.chip_model.bridge_failures`) is applied unchanged to the
resulting resistances.

Rates: ``kind = "lrs"`` -> ``(rate, 0)``, ``"hrs"`` -> ``(0, rate)``, ``"both"`` -> ``(rate, rate)``
(each, as in the variability study).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from functools import partial

import numpy as np

from golden.spec.params import ConfigError, check_choice, check_float, check_int
from golden.spec.runs import RunAll, serial_runs

KINDS = ("lrs", "hrs", "both")
TRAIN_RATES = (0.0, 1e-3, 1e-2, 3e-2, 0.1, 0.3)
BNN_RATES = (0.0, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)


def split_rate(kind: str, rate: float, name: str = "faults.rate") -> tuple[float, float]:
    """``(p_stuck_lrs, p_stuck_hrs)`` of a fault kind at ``rate`` (ConfigError naming ``name``)."""
    check_choice("faults.kind", kind, KINDS)
    check_float(name, rate, 0.0, 0.5 if kind == "both" else 1.0)
    return (float(rate) if kind in ("lrs", "both") else 0.0, float(rate) if kind in ("hrs", "both") else 0.0)


def _check_rates(rates, kinds, name: str) -> tuple[float, ...]:
    rates = tuple(rates)
    if not rates:
        raise ConfigError(f"{name} is empty: give at least one rate in [0, 1]")
    for i, r in enumerate(rates):
        for k in kinds:
            split_rate(k, r, f"{name}[{i}]")
    return tuple(float(r) for r in rates)


@dataclass(frozen=True)
class TrainingFaultPlan:
    """In-situ training sweep: network, schedule, synapse sizes, fault rates and kinds, seeds."""

    dataset: str = "digits"
    devices: tuple = (1, 4)
    rates: tuple = TRAIN_RATES
    kinds: tuple = KINDS
    seeds: int = 3
    hidden: int = 100
    epochs: int = 5
    train_samples: int | None = None
    test_samples: int | None = None

    def __post_init__(self):
        check_choice("faults.dataset", self.dataset, ("digits", "mnist"))
        for i, n in enumerate(self.devices):
            check_int(f"faults.devices[{i}]", n, 1, 16)
        for k in self.kinds:
            check_choice("faults.kind", k, KINDS)
        object.__setattr__(self, "rates", _check_rates(self.rates, self.kinds, "faults.rates"))
        check_int("faults.seeds", self.seeds, 1, 100)
        check_int("faults.hidden", self.hidden, 1, 4096)
        check_int("faults.epochs", self.epochs, 1, 1000)

    def count(self) -> int:
        """Runs: per seed one FP baseline and, per N, each nonzero (kind, rate) plus one fault-free run."""
        nz = sum(1 for r in self.rates if r > 0)
        return self.seeds * (1 + len(self.devices) * (nz * len(self.kinds) + (1 if nz < len(self.rates) else 0)))


@dataclass(frozen=True)
class BnnFaultPlan:
    """BNN inference sweep on the hardware model (physical mode): rates, kinds, chip seeds."""

    dataset: str = "digits"
    rates: tuple = BNN_RATES
    kinds: tuple = KINDS
    seeds: int = 3
    test_samples: int | None = None

    def __post_init__(self):
        check_choice("faults.dataset", self.dataset, ("digits", "mnist"))
        for k in self.kinds:
            check_choice("faults.kind", k, KINDS)
        object.__setattr__(self, "rates", _check_rates(self.rates, self.kinds, "faults.rates"))
        check_int("faults.seeds", self.seeds, 1, 100)

    def count(self) -> int:
        nz = sum(1 for r in self.rates if r > 0)
        return self.seeds * (nz * len(self.kinds) + (1 if nz < len(self.rates) else 0))


# --------------------------------------------------------------------------------------------------
# in-situ training
# --------------------------------------------------------------------------------------------------
def training_run(data, devices: int, seed: int, p_lrs: float, p_hrs: float, hidden: int = 100,
                 epochs: int = 5, train_samples: int | None = None) -> dict:
    """One in-situ training run with stuck devices; accuracy, stuck fractions and pulse count."""
    from golden.physics.faults import STUCK_HRS, STUCK_LRS
    from golden.training.in_situ import make_config, train_insitu

    cfg = make_config(devices=devices, hidden=hidden, epochs=epochs, seed=seed, train_samples=train_samples)
    t0 = time.perf_counter()
    res = train_insitu(data, cfg, faults=(p_lrs, p_hrs))
    mask = res["net"].store.fault_mask
    return {"devices": devices, "seed": seed, "p_stuck_lrs": p_lrs, "p_stuck_hrs": p_hrs,
            "accuracy": res["test_accuracy"], "accuracy_noise_free": res["test_accuracy_noise_free"],
            "stuck_lrs_fraction": float(np.mean(mask == STUCK_LRS)),
            "stuck_hrs_fraction": float(np.mean(mask == STUCK_HRS)),
            "n_devices": int(mask.size), "pulses": res["pulses"], "seconds": time.perf_counter() - t0}


def _fault_points(kinds, rates) -> list[tuple[str, float, bool]]:
    """``(kind, rate, computed)`` in table order for one seed (and N): the fault-free point is run once,
    for the first kind, and reused by the other kinds."""
    points, have_base = [], False
    for kind in kinds:
        for rate in rates:
            computed = not (rate == 0 and have_base)
            have_base = have_base or rate == 0
            points.append((kind, float(rate), computed))
    return points


def _training_task(data, task: dict) -> dict | float:
    """One run of :func:`training_study`: the FP baseline (``task["fp"]``) or a run with stuck devices."""
    from golden.training.in_situ import make_config, train_fp

    if task.get("fp"):
        return train_fp(data, make_config(hidden=task["hidden"], epochs=task["epochs"],
                                          seed=task["seed"]))["test_accuracy"]
    return training_run(data, task["devices"], task["seed"], *split_rate(task["kind"], task["rate"]),
                        hidden=task["hidden"], epochs=task["epochs"])


def training_study(data, plan: TrainingFaultPlan, progress=None, run_all: RunAll | None = None) -> dict:
    """Accuracy of in-situ training vs stuck fraction, per N and fault kind (rows per seed + means).

    The runs go through ``run_all`` (:mod:`golden.spec.runs`; default: one after the other here,
    ``progress`` ticked per run); the result does not depend on what runs them."""
    if plan.train_samples or plan.test_samples:
        data = data.subset(plan.train_samples, plan.test_samples)
    common = {"hidden": plan.hidden, "epochs": plan.epochs}
    points = _fault_points(plan.kinds, plan.rates)
    tasks = [{**common, "fp": True, "seed": seed} for seed in range(plan.seeds)]
    tasks += [{**common, "seed": seed, "devices": n, "kind": kind, "rate": rate}
              for seed in range(plan.seeds) for n in plan.devices for kind, rate, computed in points if computed]
    runner = run_all or partial(serial_runs, progress=progress)
    results = runner(_training_task, tasks, data, desc="in-situ training with stuck devices")
    fp, runs = results[:plan.seeds], iter(results[plan.seeds:])
    rows = []
    for seed in range(plan.seeds):
        for n in plan.devices:
            base = None
            for kind, rate, computed in points:
                r = {**next(runs), "kind": kind, "rate": rate} if computed else {**base, "kind": kind, "rate": 0.0}
                if computed and rate == 0:
                    base = r
                rows.append(r)
    return {"plan": asdict(plan), "rows": rows, "fp_accuracy": fp,
            "summary": summarize(rows, ("devices", "kind", "rate"))}


# --------------------------------------------------------------------------------------------------
# BNN inference
# --------------------------------------------------------------------------------------------------
def digits_bnn_params():
    """The digits BNN of ``reram-accel bnn --dataset digits`` (cached in build/bnn/)."""
    from golden.bnn.model_params import TRAIN_PRESETS
    return TRAIN_PRESETS["digits"]


def mnist_bnn_params():
    """The paper's MNIST BNN 784-1025-1025-1025-10 of ``reram-accel bnn --dataset mnist``, trained 30 epochs."""
    from golden.bnn.model_params import TRAIN_PRESETS
    return replace(TRAIN_PRESETS["mnist"], epochs=30)


def broken_bridge_fraction(model, seed: int, p_lrs: float, p_hrs: float) -> float:
    """Fraction of bridges (all layers, bias cells included) with a device stuck against its weight."""
    from golden.bnn.chip_model import stuck_bridge_masks, stuck_device_states

    broken = total = 0
    for layer in range(model.n_layers):
        hidden = model.layers[layer][1] is not None
        w = model.extended_weights(layer) if hidden else model.layers[layer][0]
        n_out, n_tot = w.shape
        mt, mb = stuck_bridge_masks(seed, layer, np.arange(n_out)[:, None], np.arange(n_tot)[None, :], p_lrs, p_hrs)
        top, bot = stuck_device_states(w, mt, mb)
        broken += int(np.sum((top != w.astype(bool)) | (bot != ~w.astype(bool))))
        total += w.size
    return broken / total


def bnn_run(model, x_bits, y, seed: int, p_lrs: float, p_hrs: float) -> dict:
    """Hardware-model (physical) accuracy of ``model`` with stuck bridge devices on chip ``seed``."""
    from golden.bnn.chip_model import BnnHardware, HardwareConfig

    t0 = time.perf_counter()
    hw = BnnHardware(model, HardwareConfig(mode="physical", seed=seed, p_stuck_lrs=p_lrs, p_stuck_hrs=p_hrs))
    pred = hw.predict_bits(x_bits)
    sizes = [np.prod((model.extended_weights(i) if model.layers[i][1] is not None else model.layers[i][0]).shape)
             for i in range(model.n_layers)]
    xe = hw.bridge_output_error_rate()
    return {"seed": seed, "p_stuck_lrs": p_lrs, "p_stuck_hrs": p_hrs, "accuracy": float(np.mean(pred == y)),
            "xnor_error": float(np.dot(xe, sizes) / np.sum(sizes)), "xnor_error_per_layer": xe,
            "broken_bridges": broken_bridge_fraction(model, seed, p_lrs, p_hrs),
            "neuron_error_rate": hw.neuron_error_rate(), "seconds": time.perf_counter() - t0}


def _bnn_task(common: tuple, task: tuple) -> dict:
    """One run of :func:`bnn_study`: ``common = (model, x_bits, y)``, ``task = (seed, kind, rate)``."""
    model, x_bits, y = common
    seed, kind, rate = task
    return bnn_run(model, x_bits, y, seed, *split_rate(kind, rate))


def bnn_study(model, x_bits, y, plan: BnnFaultPlan, progress=None, run_all: RunAll | None = None) -> dict:
    """BNN accuracy, XNOR error rate and broken-bridge fraction vs stuck fraction (per kind, chip seed).

    The chip runs go through ``run_all`` (:mod:`golden.spec.runs`; default: one after the other here,
    ``progress`` ticked per run)."""
    from golden.bnn.network import blas_threads

    if plan.test_samples:
        x_bits, y = x_bits[:plan.test_samples], y[:plan.test_samples]
    with blas_threads():
        software = float(np.mean(model.predict_bits(x_bits) == y))
    points = _fault_points(plan.kinds, plan.rates)
    tasks = [(seed, kind, rate) for seed in range(plan.seeds) for kind, rate, computed in points if computed]
    runner = run_all or partial(serial_runs, progress=progress)
    runs = iter(runner(_bnn_task, tasks, (model, x_bits, y), desc="BNN inference with stuck devices"))
    rows = []
    for seed in range(plan.seeds):
        base = None
        for kind, rate, computed in points:
            r = {**next(runs), "kind": kind, "rate": rate} if computed else {**base, "kind": kind, "rate": 0.0}
            if computed and rate == 0:
                base = r
            rows.append(r)
    return {"plan": asdict(plan), "rows": rows, "software_accuracy": software, "sizes": model.sizes,
            "summary": summarize(rows, ("kind", "rate"), ("accuracy", "xnor_error", "broken_bridges"))}


# --------------------------------------------------------------------------------------------------
# summaries, tables, plots
# --------------------------------------------------------------------------------------------------
def summarize(rows: list[dict], keys: tuple, values: tuple = ("accuracy",)) -> list[dict]:
    """Mean and std over seeds of ``values`` for every distinct combination of ``keys`` (input order)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, rs in groups.items():
        d = dict(zip(keys, key))
        d["n"] = len(rs)
        for v in values:
            a = np.array([r[v] for r in rs], dtype=float)
            d[v] = float(a.mean())
            d[v + "_std"] = float(a.std())
        out.append(d)
    return out


def _lookup(summary, **kw):
    for s in summary:
        if all(s[k] == v for k, v in kw.items()):
            return s
    return None


def _table_head(first_columns: str, rates) -> list[str]:
    """Markdown header and rule of a table with two label columns and one column per fault rate."""
    return ["| " + first_columns + " | " + " | ".join(f"{r:g}" for r in rates) + " |",
            "|---|---|" + "---|" * len(rates)]


def _kind_label(kind: str) -> str:
    return "LRS and HRS (each)" if kind == "both" else kind.upper()


def _accuracy_cell(s: dict) -> str:
    return f"{100 * s['accuracy']:.1f} ± {100 * s['accuracy_std']:.1f}"


def training_table(res: dict) -> str:
    """Markdown: accuracy (mean +- std over seeds, %) per N and kind (rows) and fault rate (columns)."""
    plan, summ = res["plan"], res["summary"]
    rates = plan["rates"]
    lines = _table_head("N | stuck at", rates)
    for n in plan["devices"]:
        for kind in plan["kinds"]:
            cells = [_accuracy_cell(_lookup(summ, devices=n, kind=kind, rate=r)) for r in rates]
            lines.append(f"| {n} | {_kind_label(kind)} | " + " | ".join(cells) + " |")
    fp = res["fp_accuracy"]
    lines.append(f"\nFP baseline (same network, initial weights and samples): {100 * np.mean(fp):.1f} ± "
                 f"{100 * np.std(fp):.1f} %.")
    return "\n".join(lines)


def bnn_table(res: dict) -> str:
    """Markdown: accuracy / XNOR error / broken bridges per kind and fault rate."""
    plan, summ = res["plan"], res["summary"]
    rates = plan["rates"]
    lines = _table_head("stuck at | quantity", rates)
    for kind in plan["kinds"]:
        label = _kind_label(kind)
        ss = [_lookup(summ, kind=kind, rate=r) for r in rates]
        lines.append(f"| {label} | accuracy (%) | " + " | ".join(_accuracy_cell(s) for s in ss) + " |")
        lines.append(f"| {label} | broken bridges | " + " | ".join(f"{s['broken_bridges']:.2g}" for s in ss) + " |")
        lines.append(f"| {label} | XNOR error rate | " + " | ".join(f"{s['xnor_error']:.2g}" for s in ss) + " |")
    lines.append(f"\nSoftware (bit-exact integer model) accuracy: {100 * res['software_accuracy']:.1f} %; "
                 f"network {'-'.join(str(s) for s in res['sizes'])}.")
    return "\n".join(lines)


def _zero_at(rates) -> float:
    """Where rate 0 is drawn on a log axis: a third of the smallest positive rate."""
    pos = [r for r in rates if r > 0]
    return min(pos) / 3 if pos else 1e-4


def _x(rates, zero_at):
    return [r if r > 0 else zero_at for r in rates]


def plot_training(res: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plan, summ = res["plan"], res["summary"]
    rates = plan["rates"]
    zero_at = _zero_at(rates)
    fig, axes = plt.subplots(1, len(plan["kinds"]), figsize=(4.2 * len(plan["kinds"]), 3.6), sharey=True,
                             squeeze=False)
    fp = 100 * np.mean(res["fp_accuracy"])
    for ax, kind in zip(axes[0], plan["kinds"]):
        for n in plan["devices"]:
            ss = [_lookup(summ, devices=n, kind=kind, rate=r) for r in rates]
            ax.errorbar(_x(rates, zero_at), [100 * s["accuracy"] for s in ss],
                        yerr=[100 * s["accuracy_std"] for s in ss], marker="o", capsize=3, label=f"N = {n}")
        ax.axhline(fp, color="gray", ls="--", lw=1, label="FP baseline")
        ax.set_xscale("log")
        ax.set_xlabel(f"stuck device fraction (0 plotted at {zero_at:.0e})")
        ax.set_title("stuck at LRS and HRS (each)" if kind == "both" else f"stuck at {kind.upper()}")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"In-situ training with stuck devices ({plan['dataset']}, {plan['hidden']} hidden, "
                 f"{plan['epochs']} epochs, mean ± std over {plan['seeds']} seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_bnn(res: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plan, summ = res["plan"], res["summary"]
    rates = plan["rates"]
    pos = [r for r in rates if r > 0]
    zero_at = _zero_at(rates)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    for j, kind in enumerate(plan["kinds"]):
        col = f"C{j}"
        ss = [_lookup(summ, kind=kind, rate=r) for r in rates]
        label = "LRS and HRS (each)" if kind == "both" else kind.upper()
        a1.errorbar(_x(rates, zero_at), [100 * s["accuracy"] for s in ss], yerr=[100 * s["accuracy_std"] for s in ss],
                    marker="o", capsize=3, color=col, label=f"stuck at {label}")
        sp = [s for s, r in zip(ss, rates) if r > 0]
        a2.plot(pos, [s["xnor_error"] for s in sp], marker="o", color=col, label=f"{label}: XNOR errors")
        a2.plot(pos, [s["broken_bridges"] for s in sp], ls=":", marker=".", color=col,
                label=f"{label}: broken bridges")
    s0 = [s for s in summ if s["rate"] == 0]
    if s0:
        a2.axhline(s0[0]["xnor_error"], color="gray", ls="--", lw=1, label="XNOR errors without faults")
    a1.axhline(100 * res["software_accuracy"], color="gray", ls="--", lw=1, label="software")
    for a in (a1, a2):
        a.set_xscale("log")
        a.set_xlabel(f"stuck device fraction (0 plotted at {zero_at:.0e})")
        a.grid(alpha=0.3)
    a2.set_yscale("log")
    a2.set_xlabel("stuck device fraction")
    a1.set_ylabel("test accuracy (%)")
    a2.set_ylabel("fraction of bridges / outputs")
    a1.legend(fontsize=8)
    a2.legend(fontsize=7)
    fig.suptitle(f"BNN {'-'.join(str(s) for s in res['sizes'])} on 2T2R bridges with stuck devices "
                 f"({plan['dataset']}, physical model, {plan['seeds']} chips)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
