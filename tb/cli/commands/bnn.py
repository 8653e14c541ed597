"""`reram-accel bnn`: train (or load) a binarized MLP, run it on the 2T2R-bridge hardware model.

Examples::

    reram-accel bnn --dataset digits --json build/bnn_digits.json
    reram-accel bnn --dataset mnist                      # the paper's 784-1025-1025-1025-10
    reram-accel bnn --dataset mnist --hw-seeds 0,1,2,3,4,5,6,7,8,9   # 10 chip instances
    reram-accel bnn --dataset mnist --sweep              # docs/bnn_ber.png, docs/bnn_sa_clock.png
    reram-accel bnn --error-models --ir-drop --energy    # docs/bnn_error_models.png, docs/ir_drop.png

Trained models are cached in ``build/bnn/<config key>.npz`` (``--retrain`` to redo).

Nominal operating point: physical model at the 10 ns SA clock with every SA offset *measured* by the
bias-cell ramp (:mod:`golden.bnn.sa_calibration`, ``--sa-calibration measured --sa-cal-repeats 8
--sa-cal-patterns 4``) and trimmed with the bias cells; the uncalibrated chip and the oracle trim are
reported next to it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from tb.cli.arguments import FloatIn, IntIn, IntList, OutputDir, OutputFile, check_count

HELP = "BNN on 2T2R ReRAM bridges + capacitive neurons: train, hardware-model accuracy, sweeps, IR drop, energy"


def _per_dataset(field: str) -> str:
    """``digits: <value>; mnist: <value>``: a field of the training presets, for the help texts."""
    from golden.bnn.model_params import TRAIN_PRESETS

    def show(v):
        return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)
    return "; ".join(f"{name}: {show(getattr(p, field))}" for name, p in TRAIN_PRESETS.items())


def add_arguments(p) -> None:
    from golden.bnn.model_params import BnnTrainParams, NeuronParams
    from golden.bnn.sa_calibration import DEFAULT_PATTERNS, DEFAULT_REPEATS, MAX_PATTERNS, MAX_REPEATS

    p.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    p.add_argument("--hidden", default=None,
                   help=f"hidden widths, odd, comma-separated ({_per_dataset('hidden')})")
    p.add_argument("--epochs", type=IntIn(1, 1000), default=None,
                   help=f"training epochs, 1..1000 ({_per_dataset('epochs')})")
    p.add_argument("--dropout-in", type=FloatIn(0.0, 0.9), default=None,
                   help=f"input dropout, 0..0.9 ({_per_dataset('dropout_in')})")
    p.add_argument("--dropout-hidden", type=FloatIn(0.0, 0.9), default=None,
                   help=f"hidden dropout, 0..0.9 ({_per_dataset('dropout_hidden')})")
    p.add_argument("--batch", type=IntIn(1, 4096), default=None, help=f"batch size ({_per_dataset('batch')})")
    p.add_argument("--lr", type=FloatIn(0.0, 1.0, lo_open=True), default=None,
                   help="initial Adam step, in (0, 1] (decays x100 over the run)")
    p.add_argument("--seed", type=IntIn(0, 2**32 - 1), default=BnnTrainParams.seed,
                   help="training seed (and hardware seed unless --hw-seeds)")
    p.add_argument("--hw-seeds", type=IntList(0, 2**32 - 1), default=None,
                   help="comma-separated hardware-model seeds (chip instances); accuracies are averaged")
    p.add_argument("--sa-clock-ns", type=FloatIn(1.0, 100.0), default=NeuronParams.sa_clock_ns,
                   help="SA clock period, 1..100 ns (nominal %(default)s ns)")
    p.add_argument("--sa-calibration", default="measured", metavar="{none,oracle,measured}",
                   help="SA offset trim with the bias cells: measured by the chip's bias-cell ramp (default), "
                        "oracle (true offsets) or none")
    p.add_argument("--sa-cal-repeats", type=IntIn(1, MAX_REPEATS), default=DEFAULT_REPEATS,
                   help=f"measured calibration: conversions per ramp step, 1..{MAX_REPEATS} (default %(default)s)")
    p.add_argument("--sa-cal-patterns", type=IntIn(1, MAX_PATTERNS), default=DEFAULT_PATTERNS,
                   help=f"measured calibration: input patterns (ramps) per layer, 1..{MAX_PATTERNS} "
                        "(default %(default)s)")
    p.add_argument("--bit-error", type=FloatIn(0.0, 1.0), default=None,
                   help="static bridge bit-error rate (default: from the bridge resistance model)")
    p.add_argument("--test-limit", type=IntIn(1), default=None,
                   help="evaluate on the first N test images (at most the test set: digits 359, mnist 10000)")
    p.add_argument("--retrain", action="store_true", help="ignore a cached model")
    p.add_argument("--json", type=OutputFile(), default=None, help="write the results here")
    p.add_argument("--docs", type=OutputDir(), default=Path("docs"), help="where plots go")
    p.add_argument("--sweep", action="store_true",
                   help="accuracy vs bridge bit-error rate and vs SA clock -> docs/bnn_ber.png, docs/bnn_sa_clock.png")
    p.add_argument("--error-models", action="store_true",
                   help="P_err(delta): authors' model vs physical neuron -> docs/bnn_error_models.png")
    p.add_argument("--ir-drop", action="store_true",
                   help="crossbar IR drop vs 2T2R bridges over fan-in 32..2048 -> docs/ir_drop.png")
    p.add_argument("--energy", action="store_true", help="energy per synaptic operation and TOPS/W (22 nm)")
    p.add_argument("--no-train", action="store_true", help="only the studies that need no trained model")
    from tb.cli.commands._engine import add_engine_arguments
    add_engine_arguments(p)


def _train_params(args):
    from golden.bnn.model_params import TRAIN_PRESETS, BnnTrainParams

    d = TRAIN_PRESETS[args.dataset]
    def given(value, default):   # `value or default` would turn an explicit 0 into the default
        return default if value is None else value

    return BnnTrainParams(dataset=args.dataset, hidden=given(args.hidden, d.hidden),
                          epochs=given(args.epochs, d.epochs), batch=given(args.batch, d.batch),
                          lr=given(args.lr, d.lr), lr_final=d.lr_final if args.lr is None else args.lr / 100,
                          seed=args.seed,
                          dropout_in=d.dropout_in if args.dropout_in is None else args.dropout_in,
                          dropout_hidden=d.dropout_hidden if args.dropout_hidden is None else args.dropout_hidden)


def _chip_run(common: tuple, chip: tuple) -> dict:
    """One chip instance's hardware accuracy: ``common = (model, x_bits, y)``, ``chip = (key, HardwareConfig)``."""
    from golden.bnn.experiments import hardware_accuracy

    model, xb, y = common
    return hardware_accuracy(model, xb, y, chip[1])


def _chip_runs(args, chips: list, common: tuple, n_seeds: int) -> list[dict]:
    """The chip runs, in order: several chip seeds (or ``--jobs``/``--scheduler``/$RERAM_DASK_SCHEDULER)
    go to the Dask engine; one seed runs here with a progress bar per chip."""
    from golden.bnn.experiments import hardware_accuracy
    from tb.cli.commands._engine import sweep_engine
    from tb.scale.engine import scheduler_address

    if n_seeds > 1 or args.jobs is not None or scheduler_address(args.scheduler) is not None:
        with sweep_engine(args, f"bnn: {len(chips)} chip runs ({n_seeds} seeds)") as engine:
            return engine.map(_chip_run, chips, common, desc="hardware chips")
    model, xb, y = common
    return [hardware_accuracy(model, xb, y, cfg, progress=True, desc=f"hardware ({key}, seed {cfg.seed})")
            for key, cfg in chips]


def run(args) -> int:
    import numpy as np

    from golden.bnn.chip_model import HardwareConfig, authors_ab, bridge_error_probability
    from golden.bnn.model_params import BridgeParams, NeuronParams
    from golden.bnn.network import binarize_images, load_or_train, model_path
    from golden.bnn.sa_calibration import check_calibration
    from golden.data import datasets
    from tb.scale.store import atomic_write_text

    check_calibration("", args.sa_calibration, args.sa_cal_repeats, args.sa_cal_patterns)
    result: dict = {}
    if not args.no_train:
        params = _train_params(args)
        check_count("test_limit", args.test_limit, datasets.SIZES[args.dataset][1], f"the {args.dataset} test set")
        data = datasets.load(args.dataset)
        path = model_path(params)
        t0 = time.perf_counter()
        cached = path.exists() and not args.retrain
        print(f"model {path} ({'cached' if cached else 'training'})")
        model = load_or_train(params, retrain=args.retrain, progress=True, log=print, data=data)
        n = len(data.y_test) if args.test_limit is None else args.test_limit
        xb, y = binarize_images(data.x_test[:n]), data.y_test[:n]
        sw = float(np.mean(model.predict_bits(xb) == y))
        neuron = NeuronParams(sa_clock_ns=args.sa_clock_ns)
        bridge = BridgeParams()
        hw_seeds = list(args.hw_seeds) if args.hw_seeds else [args.seed]
        nominal = args.sa_calibration
        runs_cfg = [("physical", "physical", "fabricated", nominal)]
        if nominal != "none":
            runs_cfg.append(("physical_uncalibrated", "physical", "fabricated", "none"))
        if nominal != "oracle":
            runs_cfg.append(("physical_sa_trim", "physical", "fabricated", "oracle"))
        runs_cfg += [("authors", "authors", "fabricated", "none"),
                     ("authors_scale_invariant", "authors", "scale_invariant", "none")]
        hw = {}
        cal_cost = []
        chips = [(key, HardwareConfig(mode=mode, seed=hs, bit_error=args.bit_error, neuron=neuron, bridge=bridge,
                                      calibration=cal, sa_calibration=sa_cal, sa_cal_repeats=args.sa_cal_repeats,
                                      sa_cal_patterns=args.sa_cal_patterns))
                 for key, mode, cal, sa_cal in runs_cfg for hs in hw_seeds]
        chip_runs = iter(_chip_runs(args, chips, (model, xb, y), len(hw_seeds)))
        for key, mode, cal, sa_cal in runs_cfg:
            runs = []
            for hs in hw_seeds:
                runs.append(next(chip_runs))
                if key == "physical" and sa_cal != "none":
                    cal_cost.append(runs[-1]["calibration_layers"])
            accs = np.array([r["accuracy"] for r in runs])
            hw[key] = {"accuracy": float(accs.mean()),
                       "accuracy_std": float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
                       "per_seed": accs.tolist(),
                       "neuron_error_rate": np.mean([r["neuron_error_rate"] for r in runs], axis=0).tolist()}
        if "physical_uncalibrated" not in hw:
            hw["physical_uncalibrated"] = hw["physical"]
        if "physical_sa_trim" not in hw:
            hw["physical_sa_trim"] = hw["physical"]
        calib = {"method": nominal, "repeats": args.sa_cal_repeats, "patterns": args.sa_cal_patterns}
        if cal_cost and nominal == "measured":
            calib["per_layer"] = [{k: float(np.mean([c[li][k] for c in cal_cost]))
                                   for k in cal_cost[0][li] if k != "shift"} for li in range(len(cal_cost[0]))]
        elif cal_cost:
            calib["per_layer"] = [{"at_limit": float(np.mean([c[li]["at_limit"] for c in cal_cost]))}
                                  for li in range(len(cal_cost[0]))]
        ber = bridge_error_probability(bridge)
        result.update({
            "software_accuracy": sw,
            "hardware_accuracy": hw["physical"]["accuracy"],
            "hardware_accuracy_authors_model": hw["authors"]["accuracy"],
            "accuracy_drop": sw - hw["physical"]["accuracy"],
            "accuracy_drop_std": hw["physical"]["accuracy_std"],
            "accuracy_drop_stderr": hw["physical"]["accuracy_std"] / np.sqrt(len(hw_seeds)),
            "sa_calibration": calib,
            "hardware_accuracy_uncalibrated": hw["physical_uncalibrated"]["accuracy"],
            "accuracy_drop_uncalibrated": sw - hw["physical_uncalibrated"]["accuracy"],
            "accuracy_drop_authors_model": sw - hw["authors"]["accuracy"],
            "hardware_accuracy_sa_trim": hw["physical_sa_trim"]["accuracy"],
            "hardware_accuracy_authors_scale_invariant": hw["authors_scale_invariant"]["accuracy"],
            "neuron_error_rate": {m: hw[m]["neuron_error_rate"] for m in hw},
            "hardware_seeds": hw_seeds,
            "hardware_per_seed": {m: hw[m]["per_seed"] for m in hw},
            "bridge_ber": args.bit_error if args.bit_error is not None else ber["p"],
            "authors_ab": authors_ab(args.sa_clock_ns, neuron),
            "authors_ab_scale_invariant": authors_ab(args.sa_clock_ns, neuron, "scale_invariant"),
            "clipped_neurons": model.clipped,
            "sizes": model.sizes,
            "test_images": int(n),
            "model_path": str(path),
            "config": {**model.meta.get("config", {}), "sa_clock_ns": args.sa_clock_ns, "bit_error": args.bit_error,
                       "hardware_seeds": hw_seeds, "sa_calibration": nominal, "sa_cal_repeats": args.sa_cal_repeats,
                       "sa_cal_patterns": args.sa_cal_patterns},
            "seconds": time.perf_counter() - t0,
        })
        print(f"software accuracy            {sw * 100:.2f} %  ({n} test images, {args.dataset}, sizes {model.sizes})")
        if len(hw_seeds) > 1:
            print(f"hardware seeds {hw_seeds}: accuracies are means; std over seeds (points): "
                  + ", ".join(f"{k} {hw[k]['accuracy_std'] * 100:.2f}" for k in hw))
        se = hw["physical"]["accuracy_std"] / np.sqrt(len(hw_seeds)) * 100
        labels = [("physical", f"hardware, NOMINAL (SA calibration {nominal})"),
                  ("physical_uncalibrated", "hardware, physical, uncalibrated"),
                  ("physical_sa_trim", "hardware, physical, oracle trim")]
        for key, lab in labels:
            if key != "physical" and hw[key] is hw["physical"]:
                continue
            extra = f", std err {se:.2f}" if key == "physical" and len(hw_seeds) > 1 else ""
            print(f"{lab:<46s} {hw[key]['accuracy'] * 100:.2f} %  (drop {(sw - hw[key]['accuracy']) * 100:.2f} "
                  f"points{extra}; neuron errors per layer {[round(v * 100, 2) for v in hw[key]['neuron_error_rate']]} %)")
        if calib.get("per_layer") and nominal == "measured":
            for li, c in enumerate(calib["per_layer"]):
                print(f"  SA calibration layer {li}: {c['conversions_per_neuron']:.0f} conversions per neuron "
                      f"({c['patterns']:.0f} ramps x {c['bias_cells'] + 1:.0f} steps x {c['repeats']:.0f}) = "
                      f"{c['time_us']:.1f} us at {args.sa_clock_ns:g} ns; {c['bias_writes_per_neuron']:.1f} bias-cell "
                      f"rewrites per neuron; {c['at_limit']:.1f} neurons at the bias-cell limit, "
                      f"{c['unbracketed']:.1f} unbracketed (means over seeds)")
        print(f"hardware, authors' P_err     {hw['authors']['accuracy'] * 100:.2f} %  (drop "
              f"{(sw - hw['authors']['accuracy']) * 100:.2f} points; neuron errors per layer "
              f"{[round(v * 100, 2) for v in hw['authors']['neuron_error_rate']]} %)")
        print(f"hardware, authors' scale-inv {hw['authors_scale_invariant']['accuracy'] * 100:.2f} %  (drop "
              f"{(sw - hw['authors_scale_invariant']['accuracy']) * 100:.2f} points; neuron errors per layer "
              f"{[round(v * 100, 2) for v in hw['authors_scale_invariant']['neuron_error_rate']]} %)")
        print(f"bridge bit-error rate        {result['bridge_ber']:.2e}; SA clock {args.sa_clock_ns} ns; "
              f"clipped thresholds per hidden layer {model.clipped}")
        if args.sweep:
            result["sweep"] = _sweep(model, xb, y, args)
    if args.error_models:
        result["error_models"] = _error_models(args)
    if args.ir_drop:
        result["ir_drop"] = _ir_drop(args)
    if args.energy:
        result["energy"] = _energy(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(result, indent=1, default=_jsonable))
        print(f"wrote {args.json}")
    return 0


def _jsonable(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


# ---------------------------------------------------------------------------------------------
def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _sweep(model, xb, y, args) -> dict:
    from golden.bnn.experiments import ber_sweep, clock_sweep

    bers = [0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
    clocks = [2.0, 3.0, 4.0, 6.0, 10.0, 15.0, 20.0]
    sw = float((model.predict_bits(xb) == y).mean())
    nominal = args.sa_calibration
    b = ber_sweep(model, xb, y, bers, seed=args.seed, progress=True, sa_calibration=nominal)
    c = clock_sweep(model, xb, y, clocks, seed=args.seed, progress=True,
                    sa_calibrations=("none",) if nominal == "none" else ("none", nominal))
    plt = _plt()
    args.docs.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    xs = [max(r["bit_error"], 3e-5) for r in b]
    ax.semilogx(xs, [r["accuracy"] * 100 for r in b], "o-",
                label=f"hardware model (physical neuron, 10 ns, SA calibration {nominal})")
    ax.axhline(sw * 100, color="k", ls="--", lw=1, label="software (integer BNN)")
    ax.set_xlabel("static bridge bit-error rate (0 plotted at 3e-5)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{args.dataset} {'-'.join(map(str, model.sizes))}: accuracy vs bit errors", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.docs / "bnn_ber.png", dpi=130)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    series = [("physical", "none", "physical neuron (22 nm projection), uncalibrated")]
    if nominal != "none":
        series.append(("physical", nominal, f"physical neuron, SA offsets trimmed ({nominal} calibration)"))
    series.append(("authors", "none", "authors' P_err model (3.12 % full range at N_tot=23, 10 ns)"))
    for mode, cal, lab in series:
        rs = [r for r in c if r["mode"] == mode and r["sa_calibration"] == cal]
        ax.plot([r["clock_ns"] for r in rs], [r["accuracy"] * 100 for r in rs], "o-", label=lab)
    ax.axhline(sw * 100, color="k", ls="--", lw=1, label="software")
    ax.set_xlabel("SA clock period (ns)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{args.dataset}: accuracy vs SA clock (bridge BER from device model)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.docs / "bnn_sa_clock.png", dpi=130)
    plt.close(fig)
    print("bit-error sweep:", [(r["bit_error"], round(r["accuracy"] * 100, 2)) for r in b])
    print("SA clock sweep:", [(r["mode"], r["sa_calibration"], r["clock_ns"], round(r["accuracy"] * 100, 2))
                              for r in c])
    print(f"wrote {args.docs / 'bnn_ber.png'}, {args.docs / 'bnn_sa_clock.png'}")
    return {"software_accuracy": sw, "ber": b, "clock": c}


def _error_models(args) -> dict:
    import numpy as np

    from golden.bnn.experiments import error_model_curves

    res = error_model_curves(seed=args.seed)
    plt = _plt()
    args.docs.mkdir(parents=True, exist_ok=True)
    n_tots = sorted({c["n_tot"] for c in res["curves"]})
    fig, axes = plt.subplots(1, len(n_tots), figsize=(5 * len(n_tots), 3.8))
    colors = {4.0: "C3", 10.0: "C0", 20.0: "C2"}
    for ax, n in zip(np.atleast_1d(axes), n_tots):
        for c in (c for c in res["curves"] if c["n_tot"] == n):
            col = colors.get(c["clock_ns"], "C7")
            ax.semilogy(c["delta"], c["authors"], "-", color=col,
                        label=f"authors {c['clock_ns']:g} ns (sigma {c['sigma_authors']:.1f}, "
                              f"full range {c['full_range_authors'] * 100:.2f} %)")
            ax.semilogy(c["delta"], c["physical"], "--", color=col,
                        label=f"physical {c['clock_ns']:g} ns (sigma {c['sigma_physical']:.1f}, "
                              f"{c['full_range_physical'] * 100:.2f} %)")
            if c["clock_ns"] == 10.0:
                ax.semilogy(c["delta"], c["authors_scale_invariant"], ":", color="k",
                            label=f"authors, scale-invariant calibration 10 ns (sigma {c['sigma_scale_invariant']:.1f}, "
                                  f"{c['full_range_scale_invariant'] * 100:.2f} %)")
            if "mc_physical" in c:
                mc = np.array(c["mc_physical"])
                ax.semilogy(np.array(c["mc_delta"])[mc > 0], mc[mc > 0], "o", color=col, ms=4,
                            label="physical, Monte Carlo (10 ns)")
        ax.set_xlim(0, min(n, 4 * max(c["sigma_scale_invariant"] for c in res["curves"] if c["n_tot"] == n)))
        ax.set_ylim(1e-5, 0.6)
        ax.set_xlabel("|delta| = |2 P_tot - N_tot|")
        ax.set_ylabel("P(SA decision wrong)")
        ax.set_title(f"N_tot = {n}", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(args.docs / "bnn_error_models.png", dpi=130)
    plt.close(fig)
    for c in res["curves"]:
        print(f"N_tot {c['n_tot']:5d} clock {c['clock_ns']:4.0f} ns: sigma authors {c['sigma_authors']:6.2f} "
              f"physical {c['sigma_physical']:6.2f} scale-invariant {c['sigma_scale_invariant']:6.2f}; full-range error "
              f"authors {c['full_range_authors'] * 100:.2f} % physical {c['full_range_physical'] * 100:.2f} % "
              f"scale-invariant {c['full_range_scale_invariant'] * 100:.2f} %")
    print(f"wrote {args.docs / 'bnn_error_models.png'}")
    return res


def _ir_drop(args) -> dict:
    from golden.bnn.experiments import accuracy_vs_fan_in, decision_error_vs_fan_in
    from golden.physics.ir_drop import bridge_row_drop

    dec = decision_error_vs_fan_in(seed=args.seed, progress=True)
    acc = accuracy_vs_fan_in(seed=args.seed, log=print)
    banks = [8, 16, 32, 64, 128, 256, 512, 1024]
    rows = [{"bank": k, **{kk: v for kk, v in bridge_row_drop(k, 2.5).items() if kk != "v_sl"}} for k in banks]
    plt = _plt()
    args.docs.mkdir(parents=True, exist_ok=True)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    f = [r["fan_in"] for r in dec]
    for key, lab, st in (("crossbar_r1", "crossbar, 1 ohm/segment", "s-"),
                         ("crossbar_r2.5", "crossbar, 2.5 ohm/segment", "o-"),
                         ("crossbar_r10", "crossbar, 10 ohm/segment", "^-"),
                         ("crossbar_r2.5_highR", "crossbar, 2.5 ohm, 60k/1.2M devices", "v-"),
                         ("bridge_physical", "2T2R bridge + cap. neuron (variability + SA noise)", "D-"),
                         ("bridge_ir_only", "2T2R bridge, IR drop only", "k--")):
        a1.semilogx(f, [max(r[key], 1e-4) * 100 for r in dec], st, label=lab, base=2)
    rows2d = [r for r in dec if "crossbar_r2.5_rows" in r]
    a1.semilogx([r["fan_in"] for r in rows2d], [r["crossbar_r2.5_rows"] * 100 for r in rows2d], "x",
                color="C1", ms=8, label="crossbar 2.5 ohm, with row wires (2-D solve)", base=2)
    a1.set_xlabel("fan-in N (inputs per neuron)")
    a1.set_ylabel("decision-error rate (%)")
    a1.set_title("random layer, 128 neurons x 200 input vectors; LRS 6k, HRS 120k, access 1k; XNOR mapping", fontsize=8)
    a1.grid(True, which="both", alpha=0.3)
    a1.legend(fontsize=6)
    w = [r["width"] for r in acc]
    a2.semilogx(w, [r["software"] * 100 for r in acc], "k--", label="software", base=2)
    a2.semilogx(w, [r["bridge"] * 100 for r in acc], "D-", label="2T2R bridges (physical model)", base=2)
    a2.semilogx(w, [r["crossbar"] * 100 for r in acc], "o-", label="crossbar, 2.5 ohm/segment, 6k/120k", base=2)
    a2.semilogx(w, [r["crossbar_highR"] * 100 for r in acc], "v-", label="crossbar, 2.5 ohm/segment, 60k/1.2M",
                base=2)
    a2.set_xlabel("hidden width H = fan-in of layers 2 and 3 (digits, 64-H-H-10)")
    a2.set_ylabel("test accuracy (%)")
    a2.grid(True, which="both", alpha=0.3)
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.docs / "ir_drop.png", dpi=130)
    plt.close(fig)
    for r in dec:
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
    for r in rows:
        print(f"bridge BL/BLb with {r['bank']:4d} bridges selected: line current {r['line_current'] * 1e3:.2f} mA, "
              f"worst SL-voltage error = {r['margin_used'] * 100:.1f} % of the inverter margin")
    print(f"wrote {args.docs / 'ir_drop.png'}")
    return {"decision_error": dec, "accuracy": acc, "bridge_row_drop": rows}


def _energy(args) -> dict:
    from golden.bnn.energy import EnergyParams, network_energy, neuron_energy

    p = EnergyParams()
    out = {"assumptions": {k: v for k, v in p.__dict__.items()}, "points": []}
    for n in (23, 784, 1025):
        for clk in (4.0, 10.0, 20.0):
            r = neuron_energy(n, clk, p)
            out["points"].append({"fan_in": n, "sa_clock_ns": clk, "e_per_op_fJ": r["e_per_op"] * 1e15,
                                  "tops_per_w": r["tops_per_w"],
                                  "per_cell_fJ": {k: v * 1e15 for k, v in r["per_cell"].items()}})
            print(f"N={n:5d} clock {clk:4.0f} ns: {r['e_per_op'] * 1e15:6.3f} fJ/op, {r['tops_per_w']:7.1f} TOPS/W  "
                  f"(per cell, fJ: " + ", ".join(f"{k} {v * 1e15:.3f}" for k, v in r["per_cell"].items()) + ")")
    net = network_energy([784, 1025, 1025, 1025, 10], args.sa_clock_ns, p)
    out["mnist_network"] = {"e_inference_nJ": net["e_inference"] * 1e9, "tops_per_w": net["tops_per_w"],
                            "ops": net["ops"]}
    print(f"MNIST 784-1025-1025-1025-10 at {args.sa_clock_ns:g} ns: {net['e_inference'] * 1e9:.2f} nJ per image, "
          f"{net['tops_per_w']:.1f} TOPS/W")
    return out
