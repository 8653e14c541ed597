"""Which part of the update arithmetic changes in-situ training accuracy (controlled experiments).

The golden training forms every update as the outer-product engine does
(:class:`golden.training.update_codes.UpdateCodes`): x codes, delta codes, an exact integer product and
``floor((x_q * d_q + 2**(s-1)) / 2**s)`` (round half up). Before, dw was ``rint(a * d)`` of a float32
product (round half to even). This module swaps the arithmetic of every array of a run for one
:class:`Variant` and keeps everything else (network, chip, sample order, schedule):

* ``xq`` / ``dq``: the operands are the x codes / delta codes (``x_q / 2**x_frac``, ``d_q /
  2**delta_frac``) or the float32 values;
* ``rounding`` of the product to whole LSBs: ``even`` (ties to even, numpy ``rint``), ``up`` (ties
  towards +inf, the engine's ``floor(v + 1/2)``), ``away`` (ties away from zero), ``down`` (ties
  towards -inf). With both operands quantised the product is exact and the rounding is done on the
  integer (``engine`` = ``xq, dq, up``, bit-identical to :class:`UpdateCodes`); otherwise the product is
  a float32 product as in the old path (``float32`` = ``no xq, no dq, even``, the old arithmetic).

:class:`CompareCodes` runs one arithmetic (the one the network trains with) and, on the same inputs,
a second one, and counts per epoch and layer where their dw differ (zero in one and not in the other,
the sign of the differences, ties). ``python -m golden.studies.update_arithmetic --help``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from golden.training import multi_device_synapses as mds
from golden.training.update_codes import ONE, UpdateCodes

ROUNDINGS = ("even", "up", "away", "down")


@dataclass(frozen=True)
class Variant:
    """One update arithmetic: quantised operands or not, and the rounding of ties of the product."""

    xq: bool
    dq: bool
    rounding: str
    gain: float = 1.0

    def __post_init__(self):
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"rounding {self.rounding!r} is not one of {ROUNDINGS}")

    @property
    def name(self) -> str:
        g = "" if self.gain == 1.0 else f" (lr x {self.gain:g})"
        return f"{'xq' if self.xq else 'xf'}-{'dq' if self.dq else 'df'}-{self.rounding}{g}"


#: named variants (the others are written ``xq-df-even`` etc., see :func:`variant`)
NAMED = {"engine": Variant(True, True, "up"), "float32": Variant(False, False, "even")}


def variant(name: str) -> Variant:
    """``engine``, ``float32`` or ``{xq|xf}-{dq|df}-{even|up|away|down}``."""
    if name in NAMED:
        return NAMED[name]
    try:
        x, d, r = name.split("-")
        if x not in ("xq", "xf") or d not in ("dq", "df"):
            raise ValueError
        return Variant(x == "xq", d == "dq", r)
    except ValueError:
        raise ValueError(f"variant {name!r}: engine, float32 or {{xq|xf}}-{{dq|df}}-{{{'|'.join(ROUNDINGS)}}}") from None


def round_int(p: np.ndarray, s: int, mode: str) -> np.ndarray:
    """``p / 2**s`` (integers, exact) rounded to an integer, ties by ``mode``."""
    if s == 0:
        return p
    half, mask = 1 << (s - 1), (1 << s) - 1
    q = p >> s                                        # floor
    rem = p & mask
    q = q + (rem > half)
    tie = rem == half
    if mode == "up":
        q = q + tie
    elif mode == "even":
        q = q + (tie & ((p >> s) & 1).astype(bool))
    elif mode == "away":
        q = q + (tie & (p > 0))
    return q                                          # "down": floor already


def round_float(v: np.ndarray, mode: str) -> np.ndarray:
    """float32 ``v`` rounded to integers, ties by ``mode`` (float32 results)."""
    if mode == "even":
        return np.rint(v)
    half = np.float32(0.5)
    if mode == "up":
        return np.floor(v + half)
    if mode == "down":
        return np.ceil(v - half)
    return np.copysign(np.floor(np.abs(v) + half), v)


class VariantCodes(UpdateCodes):
    """:class:`UpdateCodes` with the arithmetic of a :class:`Variant` (same interface, same counters
    for the codes it forms; every row with ``a != 0`` is a row when x is not quantised)."""

    def __init__(self, params, out_dtype=np.int64, var: Variant = NAMED["engine"]):
        super().__init__(params, out_dtype)
        self.var = var
        e = params.engine
        self.x_frac, self.d_frac = e.x_frac, e.delta_frac

    def raw_dw(self, a: np.ndarray, d: np.ndarray, factor: np.float32 = ONE) -> np.ndarray:
        """The full ``len(a) x len(d)`` dw matrix (int64) of this arithmetic."""
        v = self.var
        if v.gain != 1.0:
            factor = np.float32(factor * np.float32(v.gain))
        xq = self.x_codes(a) if v.xq else None
        dq = self.delta_codes(d, factor) if v.dq else None
        if v.xq and v.dq:
            p = xq.astype(np.int64)[:, None] * dq.astype(np.int64)
            dw = round_int(p, self.x_frac + self.d_frac, v.rounding)
        else:
            af = xq / self.x_scale if v.xq else a
            df = dq / self.d_scale if v.dq else d * factor
            dw = round_float(af[:, None] * df, v.rounding).astype(np.int64)
        return np.clip(dw, self.dw_lo, self.dw_hi)

    def dw(self, a, d, factor=ONE):
        dw = self.raw_dw(a, d, factor)
        rows = np.flatnonzero(np.any(dw != 0, axis=1))
        dw = dw[rows]
        bound = int(np.abs(dw).max(initial=0))
        return rows, dw.astype(self.out_dtype, copy=False), bound


class CompareCodes(VariantCodes):
    """Trains with ``var`` and counts, on the same inputs, where ``other`` gives another dw.

    ``stats[epoch][layer]`` (filled by :func:`run`): updates (non-zero dw of ``var``), of ``other``,
    ``only_var`` (non-zero here, zero in ``other``), ``only_other``, ``differ`` (both non-zero,
    different), ``diff_pos`` / ``diff_neg`` (dw_var - dw_other > 0 / < 0), ``sum_diff`` (sum of
    dw_var - dw_other), ``sum_abs`` (sum of |dw_var|), ``pos`` / ``neg`` (sum of the positive / negative
    dw_var).
    """

    KEYS = ("n_var", "n_other", "only_var", "only_other", "differ", "diff_pos", "diff_neg",
            "sum_diff", "sum_abs", "pos", "neg", "sum_diff_x1", "differ_x1")

    def __init__(self, params, out_dtype=np.int64, var: Variant = NAMED["engine"],
                 other: Variant = NAMED["float32"]):
        super().__init__(params, out_dtype, var)
        self.other = VariantCodes(params, out_dtype, other)
        self.stats: dict[int, dict[str, int]] = {}
        self.epoch = 0
        self.rows: np.ndarray | None = None
        self.cum = np.zeros((params.array.rows, params.array.cols), dtype=np.int64)

    def dw(self, a, d, factor=ONE):
        mine = self.raw_dw(a, d, factor)
        theirs = self.other.raw_dw(a, d, factor)
        st = self.stats.setdefault(self.epoch, dict.fromkeys(self.KEYS, 0))
        nz_m, nz_t = mine != 0, theirs != 0
        diff = mine - theirs
        st["n_var"] += int(nz_m.sum())
        st["n_other"] += int(nz_t.sum())
        st["only_var"] += int((nz_m & ~nz_t).sum())
        st["only_other"] += int((nz_t & ~nz_m).sum())
        st["differ"] += int((nz_m & nz_t & (diff != 0)).sum())
        st["diff_pos"] += int((diff > 0).sum())
        st["diff_neg"] += int((diff < 0).sum())
        st["sum_diff"] += int(diff.sum())
        st["sum_abs"] += int(np.abs(mine).sum())
        st["pos"] += int(mine[mine > 0].sum())
        st["neg"] += int(mine[mine < 0].sum())
        one = a == np.float32(1.0)
        st["sum_diff_x1"] += int(diff[one].sum())
        st["differ_x1"] += int(np.count_nonzero(diff[one]))
        if self.rows is None:
            self.cum += diff
        else:
            self.cum[self.rows] += diff
        rows = np.flatnonzero(nz_m.any(axis=1))
        dw = mine[rows]
        return rows, dw.astype(self.out_dtype, copy=False), int(np.abs(dw).max(initial=0))


@contextlib.contextmanager
def arithmetic(factory):
    """Within the block, every :class:`SynapseArray` built forms its updates with ``factory(params,
    out_dtype)`` instead of :class:`UpdateCodes`."""
    old, plan = mds.UpdateCodes, mds.SynapseArray.plan_update

    def plan_update(arr, rows, a, delta, lr, trace=None):
        arr.codes.rows = None if rows is None else np.asarray(rows)
        return plan(arr, rows, a, delta, lr, trace)

    mds.UpdateCodes = factory
    mds.SynapseArray.plan_update = plan_update
    try:
        yield
    finally:
        mds.UpdateCodes, mds.SynapseArray.plan_update = old, plan


def run(variant_name: str, seed: int, devices: int = 1, binary: bool = True, x_width: int | None = None,
        compare: str | None = None, epochs: int | None = None, train_samples: int | None = None,
        gain: float = 1.0) -> dict:
    """One MNIST training run (default schedule) with the arithmetic ``variant_name``; with
    ``compare``, the per-epoch difference counts against that arithmetic. ``gain`` scales the error
    in dw LSBs (the learning rate) by that factor (1 + 1e-4: a null perturbation that changes which
    products round up, like another arithmetic, but biases nothing)."""
    from golden.data.datasets import load
    from golden.training import in_situ

    data = load("mnist")
    sched = dict(in_situ.DATASET_DEFAULTS["mnist"])
    if epochs is not None:
        sched["epochs"] = epochs
    cfg = in_situ.make_config(devices=devices, binary=binary, seed=seed, train_samples=train_samples, **sched)
    if x_width is not None:
        cfg = replace(cfg, engine=replace(cfg.engine, x_width=x_width))
    var = replace(variant(variant_name), gain=gain)
    made: list[VariantCodes] = []

    def factory(params, out_dtype=np.int64):
        c = (CompareCodes(params, out_dtype, var, variant(compare)) if compare
             else VariantCodes(params, out_dtype, var))
        made.append(c)
        return c

    hook = _EpochHook(made, len(data.y_train) if train_samples is None else train_samples)
    t0 = time.perf_counter()
    with arithmetic(factory), hook.installed():
        res = in_situ.train_insitu(data, cfg)
    out = {"variant": var.name, "seed": seed, "devices": devices, "binary": binary,
           "x_width": cfg.engine.x_width, "epochs": cfg.epochs,
           "test_accuracy": res["test_accuracy"], "test_accuracy_noise_free": res["test_accuracy_noise_free"],
           "test_accuracy_per_epoch": res["test_accuracy_per_epoch"], "pulses": res["pulses"],
           "training_pulses_per_layer": [int(a.pulse_total) - p for a, p in zip(res["net"].layers,
                                                                                hook.programmed)],
           "programming_pulses": sum(hook.programmed),
           "saturations": res["saturations"], "wall_seconds": time.perf_counter() - t0}
    if compare:
        out["compare"] = variant(compare).name
        out["stats"] = [{str(k): v for k, v in c.stats.items()} for c in made]
        eps = cfg.update.eps
        out["cum_diff"] = [{"max_abs": int(np.abs(c.cum).max()), "eps": eps,
                            "over_eps_4": int(np.count_nonzero(np.abs(c.cum) >= eps // 4)),
                            "over_eps_2": int(np.count_nonzero(np.abs(c.cum) >= eps // 2)),
                            "over_eps": int(np.count_nonzero(np.abs(c.cum) >= eps)),
                            "synapses": int(c.cum.size), "bias_row": c.cum[-1].tolist(),
                            "percentiles_abs": np.percentile(np.abs(c.cum), [50, 90, 99, 99.9]).tolist()}
                           for c in made]
    return out


class _EpochHook:
    """Sets ``epoch`` of the compare objects from the training step counter."""

    def __init__(self, made, per_epoch):
        self.made, self.per_epoch = made, per_epoch
        self.programmed = [0, 0]

    @contextlib.contextmanager
    def installed(self):
        from golden.training import in_situ
        step = in_situ.InSituMLP.step
        hook = self

        def counted(net, *args, **kw):
            if net.t == 0:
                hook.programmed = [int(a.pulse_total) for a in net.layers]
            ep = net.t // hook.per_epoch
            for c in hook.made:
                if isinstance(c, CompareCodes):
                    c.epoch = ep
            return step(net, *args, **kw)

        in_situ.InSituMLP.step = counted
        try:
            yield
        finally:
            in_situ.InSituMLP.step = step


def report(lines: list[dict]) -> str:
    """Markdown table of runs (one dict per run, as :func:`run` returns): accuracy per variant and
    x width, mean +- std over seeds, the seeds' values, the accuracy after each epoch and the
    training pulses (mean over seeds)."""
    groups: dict[tuple, list[dict]] = {}
    for r in lines:
        groups.setdefault((r["variant"], r["x_width"]), []).append(r)
    out = [("| arithmetic (x, delta, ties) | x bits | seeds | test accuracy % | per seed | after epoch 1 / 2 / 3 "
            "| training pulses (M) |"), "|---|---|---|---|---|---|---|"]
    for (name, xw), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        acc = 100 * np.array([r["test_accuracy"] for r in rs])
        ep = 100 * np.array([r["test_accuracy_per_epoch"] for r in rs]).mean(axis=0)
        pulses = np.mean([sum(r["training_pulses_per_layer"]) for r in rs]) / 1e6
        std = f" ± {acc.std(ddof=1):.2f}" if len(rs) > 1 else ""
        out.append(f"| {name} | {xw} | {','.join(str(r['seed']) for r in rs)} | {acc.mean():.2f}{std} | "
                   f"{' / '.join(f'{v:.2f}' for v in acc)} | {' / '.join(f'{v:.2f}' for v in ep)} | {pulses:.3f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m golden.studies.update_arithmetic", description=__doc__.split("\n")[0])
    ap.add_argument("--variant", default="engine", help="engine, float32 or {xq|xf}-{dq|df}-{even|up|away|down}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--devices", type=int, default=1)
    ap.add_argument("--analog", action="store_true", help="analog devices (default: binary)")
    ap.add_argument("--x-width", type=int, default=None, help="x code width (default: engine_params_for)")
    ap.add_argument("--compare", default=None, help="also form this arithmetic's dw and count the differences")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--train-samples", type=int, default=None)
    ap.add_argument("--json", default=None, help="append the result as one JSON line to this file")
    ap.add_argument("--gain", type=float, default=1.0, help="scale the error in LSBs (lr) by this factor")
    ap.add_argument("--report", default=None, help="only print the table of the runs in this JSON-lines file")
    a = ap.parse_args(argv)
    if a.report:
        with open(a.report) as f:
            print(report([json.loads(x) for x in f if x.strip()]))
        return 0
    out = run(a.variant, a.seed, a.devices, not a.analog, a.x_width, a.compare, a.epochs, a.train_samples, a.gain)
    line = json.dumps(out)
    if a.json:
        with open(a.json, "a") as f:
            f.write(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
