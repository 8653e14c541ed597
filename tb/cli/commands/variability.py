"""`reram-accel variability`: conv1 weights stored bit by bit in ReRAM with measured (or example) variability.

One configuration by default (relative error of the conv1 output and test accuracy, Monte-Carlo over
``--trials`` chips); ``--sweep`` runs the whole study (error/accuracy vs spread, window, per-bit
sensitivity, protection cost, stuck-at faults) and writes ``docs/variability_*.png`` plus Markdown
tables. The trained network is cached under ``--cache-dir`` keyed by its configuration and
``--train-seed``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tb.cli.arguments import FloatIn, IntIn, OutputDir, OutputFile

HELP = "resistance-variability LUT study: conv1 weights coded bit-per-device, error and accuracy vs spread"


def add_arguments(p) -> None:
    from golden.data.datasets import MNIST_TEST_SIZE
    from golden.studies.cnn import CNNConfig
    from golden.studies.variability import VariabilityConfig as Stored

    g = p.add_argument_group("device data")
    g.add_argument("--data", type=Path, action="append", default=None, metavar="FILE.csv",
                   help="resistance data CSV (format: golden/physics/resistance_lut.py); repeat to merge files "
                        "(default: the shipped SYNTHETIC HfO2 example, binary + 8 levels)")
    g.add_argument("--strict", action="store_true",
                   help="reject a resistance many decades away from the other reads of its state (default: warn)")
    g.add_argument("--read-voltage", type=FloatIn(-10.0, 10.0), default=0.1, help="read voltage for I-V form data (V)")
    g = p.add_argument_group("storage")
    g.add_argument("--encoding", default=Stored.encoding, help="float32 | float16 | bfloat16 | fixed8")
    g.add_argument("--bits-per-cell", type=IntIn(1, 3), default=Stored.bits_per_cell, help="1 (LRS/HRS) or 3 (8 levels)")
    g.add_argument("--level-code", default=Stored.level_code, help="multi-level cell code: binary | gray")
    g.add_argument("--spread", type=FloatIn(0.0, 10.0), default=Stored.spread_scale,
                   help="spread scale: x measured sigma of ln R (0 = none)")
    g.add_argument("--window", type=FloatIn(0.0, 10.0, lo_open=True), default=Stored.window_scale,
                   help="window scale (< 1 compresses the memory window)")
    g.add_argument("--model", default=Stored.model, help="device draw: lognormal (fit) | empirical (samples)")
    g.add_argument("--reference", default=Stored.reference,
                   help="read thresholds: midpoint (nearest level in log R) | optimal (density crossing)")
    g.add_argument("--protect", default=Stored.protect, help="critical-MSB protection: none | slc | pair | tmr")
    g.add_argument("--protect-bits", type=IntIn(-1, 32), default=Stored.protect_bits, help="MSBs protected (-1: sign + exponent)")
    g.add_argument("--stuck-lrs", type=FloatIn(0.0, 1.0), default=Stored.p_stuck_lrs, help="fraction of devices stuck at LRS")
    g.add_argument("--stuck-hrs", type=FloatIn(0.0, 1.0), default=Stored.p_stuck_hrs, help="fraction of devices stuck at HRS")
    g = p.add_argument_group("run")
    g.add_argument("--seed", type=IntIn(0), default=1, help="device-variability seed (counter-based draws)")
    g.add_argument("--trials", type=IntIn(1, 10000), default=5, help="Monte-Carlo chips per configuration")
    g.add_argument("--eval-size", type=IntIn(1, MNIST_TEST_SIZE), default=None,
                   help=f"test images evaluated, an evenly strided subset (default {MNIST_TEST_SIZE}; 2000 with "
                        "--sweep)")
    g.add_argument("--train-seed", type=IntIn(0), default=CNNConfig.seed, help="seed of the network training")
    g.add_argument("--dataset", default=CNNConfig.dataset,
                   help="mnist (AlexNet-style 96 x 11x11 conv1) | digits (tiny 16 x 3x3 net, smoke tests only)")
    g.add_argument("--epochs", type=IntIn(1, 100), default=CNNConfig.epochs, help="training epochs (first run only: cached)")
    g.add_argument("--cache-dir", type=OutputDir(), default=Path("build/variability"), help="trained-model cache")
    g.add_argument("--json", type=OutputFile(), default=None, metavar="PATH", help="write the results as JSON")
    g = p.add_argument_group("sweep")
    g.add_argument("--sweep", action="store_true", help="run the full study and write plots + tables")
    g.add_argument("--quick", action="store_true", help="with --sweep: a small grid (smoke test)")
    g.add_argument("--plots", type=OutputDir(), default=Path("docs"), help="with --sweep: directory for the PNGs")
    g.add_argument("--markdown", type=OutputFile(), default=None,
                   help="with --sweep: write the tables here (default <cache-dir>/sweep.md)")
    from tb.cli.commands._engine import add_engine_arguments
    add_engine_arguments(p)


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="eval", file=sys.stderr, leave=False,
                disable=None if sys.stderr.isatty() else True)


def run(args) -> int:
    from golden.data.datasets import MNIST_TEST_SIZE
    from golden.physics.resistance_lut import ResistanceLUT, load_default_lut, load_lut
    from golden.spec.params import ConfigError, check_choice, check_int
    from golden.studies import cnn
    from golden.studies.variability import (
        Study,
        SweepPlan,
        VariabilityConfig,
        device_misread,
        lut_summary,
        markdown_tables,
        plot_sweep,
        run_sweep,
    )
    from tb.cli.commands._engine import sweep_engine
    from tb.scale.store import atomic_write_text

    cfg = VariabilityConfig(encoding=args.encoding, bits_per_cell=args.bits_per_cell, level_code=args.level_code,
                            spread_scale=args.spread, window_scale=args.window, model=args.model,
                            reference=args.reference, protect=args.protect, protect_bits=args.protect_bits,
                            p_stuck_lrs=args.stuck_lrs, p_stuck_hrs=args.stuck_hrs)
    check_int("seed", args.seed, 0)
    check_int("trials", args.trials, 1, 10000)
    eval_size = args.eval_size if args.eval_size is not None else (2000 if args.sweep else MNIST_TEST_SIZE)
    check_int("eval_size", eval_size, 1, MNIST_TEST_SIZE)

    if args.data:
        lut: ResistanceLUT = load_lut(args.data[0], read_voltage=args.read_voltage, strict=args.strict)
        for extra in args.data[1:]:
            lut = lut.merged(load_lut(extra, read_voltage=args.read_voltage, strict=args.strict))
    else:
        lut = load_default_lut()
    lut.state_model(cfg.bits_per_cell)  # fail early if the data lacks the states
    if cfg.protect != "none" or cfg.bits_per_cell == 1:
        lut.state_model(1)
    print(f"resistance data: {lut.source}{'  (SYNTHETIC example, not measured)' if lut.is_synthetic else ''}")
    for s, f in lut_summary(lut).items():
        print(f"  {s:>4}: median {f['median_ohm']:>10.0f} ohm  sigma_log {f['sigma_log']:.3f}  n={f['n']}")

    if args.dataset == "digits":
        ccfg = cnn.CNNConfig(dataset="digits", filters=16, kernel=3, stride=1, epochs=args.epochs, batch=32,
                             lr=0.01, seed=args.train_seed)
    else:
        check_choice("dataset", args.dataset, ("mnist", "digits"))
        ccfg = cnn.CNNConfig(epochs=args.epochs, seed=args.train_seed)
    t0 = time.perf_counter()
    data = cnn.load_images(ccfg)
    bar = _progress(100, "training conv1 (first run only)")
    last = [0]

    def train_progress(frac: float):
        k = int(frac * 100)
        if k > last[0]:
            bar.update(k - last[0])
            last[0] = k

    net, cached = cnn.load_or_train(ccfg, args.cache_dir, data=data, progress=train_progress)
    bar.close()
    print(f"network: {ccfg.filters} x {ccfg.kernel}x{ccfg.kernel} conv1 stride {ccfg.stride} on {ccfg.dataset} "
          f"({'cached' if cached else 'trained'}: {cnn.cache_path(ccfg, args.cache_dir)}, "
          f"{time.perf_counter() - t0:.1f} s); float32 test accuracy {100 * net.test_accuracy:.2f} %")
    eval_size = min(eval_size, len(data[3]))
    step = len(data[3]) // eval_size  # an evenly strided subset of the test set
    study = Study(net, data[2][::step][:eval_size], data[3][::step][:eval_size], lut, seed=args.seed)

    if args.sweep:
        plan = SweepPlan.quick() if args.quick else SweepPlan()
        t1 = time.perf_counter()
        with sweep_engine(args, "variability sweep", progress=sys.stderr.isatty()) as engine:
            res = run_sweep(study, plan, base=cfg, run_all=engine.map)
        res["seconds"] = time.perf_counter() - t1
        res["eval_size"] = eval_size
        res["data"] = lut.source
        res["command"] = " ".join(["reram-accel", *sys.argv[1:]]) if "variability" in sys.argv[1:2] else ""
        paths = plot_sweep(res, args.plots)
        md = markdown_tables(res, nominal_spread=cfg.spread_scale)
        md_path = args.markdown or (args.cache_dir / "sweep.md")
        md_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(md_path, md)
        print(md)
        for p in paths:
            print(f"wrote {p}")
        print(f"wrote {md_path}  ({res['seconds']:.0f} s sweep)")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(args.json, json.dumps(res, indent=1))
            print(f"wrote {args.json}")
        return 0

    bar = _progress(args.trials, "trials")
    r = study.evaluate(cfg, args.trials, progress=bar.update)
    bar.close()
    try:
        misread = device_misread(lut, cfg.bits_per_cell, cfg.spread_scale, cfg.window_scale, cfg.reference)
    except ConfigError:
        misread = float("nan")
    out = {
        "relative_error": r["relative_error"],
        "test_accuracy": r["test_accuracy"],
        "ideal_test_accuracy": study.ideal_accuracy,
        "config": {**cfg.to_dict(), "seed": args.seed, "trials": args.trials, "eval_size": eval_size,
                   "data": [str(d) for d in args.data] if args.data else "synthetic HfO2 example",
                   "network": {**ccfg.__dict__}},
        **{k: v for k, v in r.items() if k not in ("relative_error", "test_accuracy")},
        "device_misread_probability": misread,
        "lut": lut_summary(lut),
    }
    print(f"{cfg.encoding}, {cfg.bits_per_cell} bit/cell, protect {cfg.protect}, spread x{cfg.spread_scale:g}: "
          f"{r['devices_per_weight']} devices/weight, bit error rate {r['bit_error_rate']:.2e}")
    print(f"relative error (median of {args.trials}): {r['relative_error']:.4g}  "
          f"[min {r['relative_error_min']:.3g}, max {r['relative_error_max']:.3g}]")
    print(f"test accuracy: {100 * r['test_accuracy']:.2f} % +- {100 * r['test_accuracy_std']:.2f} "
          f"(ideal {100 * study.ideal_accuracy:.2f} %, {eval_size} test images)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 0
