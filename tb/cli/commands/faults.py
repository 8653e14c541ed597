"""`reram-accel faults`: accuracy vs stuck-at-LRS / stuck-at-HRS device fraction, in-situ training and BNN.

Examples::

    reram-accel faults                                   # both studies, 3 seeds, docs/faults_*.png
    reram-accel faults --study bnn --seeds 2 --json build/faults/bnn.json

The fault models are described in :mod:`golden.studies.fault_study`; the variability (LUT) study has its own
stuck-at sweep (``reram-accel variability --sweep``).
"""
from __future__ import annotations

import time
from pathlib import Path

from tb.cli.arguments import IntIn, IntList, OutputDir, OutputFile, check_count

HELP = "fault robustness: accuracy vs stuck-at-LRS/HRS device fraction for in-situ training and the BNN"


def _floats(text: str) -> tuple:
    from golden.spec.params import ConfigError
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise ConfigError(f"faults.rates = {text!r} must be comma-separated numbers, e.g. 0,1e-3,1e-2") from None


def _listed(values) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def add_arguments(p) -> None:
    from golden.studies.fault_study import BNN_RATES, KINDS, TRAIN_RATES, TrainingFaultPlan

    # --seeds and --dataset serve both studies: the two plans have the same defaults
    p.add_argument("--study", choices=("training", "bnn", "all"), default="all")
    p.add_argument("--seeds", type=IntIn(1, 100), default=TrainingFaultPlan.seeds,
                   help="seeds (training runs / BNN chip instances) per point")
    p.add_argument("--dataset", choices=("digits", "mnist"), default=TrainingFaultPlan.dataset,
                   help="data set of both studies (mnist: use --train-samples/--test-samples to bound the time)")
    p.add_argument("--train-rates", default=None,
                   help=f"comma-separated stuck fractions (training; default {_listed(TRAIN_RATES)})")
    p.add_argument("--bnn-rates", default=None,
                   help=f"comma-separated stuck fractions (BNN; default {_listed(BNN_RATES)})")
    p.add_argument("--kinds", default=_listed(KINDS), help="fault kinds: lrs, hrs, both (each at the rate)")
    p.add_argument("--devices", type=IntList(1, 16), default=TrainingFaultPlan.devices,
                   help=f"N devices per synapse for the training study, each 1..16 "
                        f"(default {_listed(TrainingFaultPlan.devices)})")
    p.add_argument("--hidden", type=IntIn(1, 4096), default=TrainingFaultPlan.hidden,
                   help="hidden width of the in-situ MLP (default %(default)s)")
    p.add_argument("--epochs", type=IntIn(1, 1000), default=TrainingFaultPlan.epochs,
                   help="in-situ training epochs (default %(default)s)")
    p.add_argument("--train-samples", type=IntIn(1), default=None,
                   help="first K training samples (training study; at most the training set)")
    p.add_argument("--test-samples", type=IntIn(1), default=None,
                   help="first K test samples (both studies; at most the test set)")
    p.add_argument("--docs", type=OutputDir(), default=Path("docs"),
                   help="where faults_training.png / faults_bnn.png go")
    p.add_argument("--json", type=OutputFile(), default=None, help="write every run and the summaries as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    from tb.cli.commands._engine import add_engine_arguments
    add_engine_arguments(p)


def run(args) -> int:
    import json

    import numpy as np

    import golden.studies.fault_study as fs
    from golden.data import datasets
    from tb.cli.commands._engine import sweep_engine
    from tb.scale.store import atomic_write_text

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    devices = tuple(args.devices)
    n_train, n_test = datasets.SIZES[args.dataset]
    check_count("train_samples", args.train_samples, n_train, f"the {args.dataset} training set")
    check_count("test_samples", args.test_samples, n_test, f"the {args.dataset} test set")
    plans = {}
    if args.study in ("training", "all"):
        plans["training"] = fs.TrainingFaultPlan(
            dataset=args.dataset, devices=devices, kinds=kinds, seeds=args.seeds, hidden=args.hidden,
            epochs=args.epochs, train_samples=args.train_samples, test_samples=args.test_samples,
            **({"rates": _floats(args.train_rates)} if args.train_rates else {}))
    if args.study in ("bnn", "all"):
        plans["bnn"] = fs.BnnFaultPlan(dataset=args.dataset, kinds=kinds, seeds=args.seeds,
                                       test_samples=args.test_samples,
                                       **({"rates": _floats(args.bnn_rates)} if args.bnn_rates else {}))
    data = datasets.load(args.dataset)
    args.docs.mkdir(parents=True, exist_ok=True)
    out: dict = {"args": {k: str(v) for k, v in vars(args).items() if not k.startswith("_")}}
    with sweep_engine(args, "faults", progress=not args.quiet) as engine:
        _studies(args, plans, data, engine, out)
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(out, indent=1, default=lambda o: o.tolist()
                                                if isinstance(o, np.ndarray) else float(o)))
        print(f"wrote {args.json}")
    return 0


def _studies(args, plans: dict, data, engine, out: dict) -> None:
    """Run the planned studies on ``engine``; plots, tables and the JSON parts go into ``out``."""
    import golden.studies.fault_study as fs

    if "training" in plans:
        plan = plans["training"]
        t0 = time.perf_counter()
        res = fs.training_study(data, plan, run_all=engine.map)
        res["seconds"] = time.perf_counter() - t0
        png = args.docs / "faults_training.png"
        fs.plot_training(res, png)
        print(f"\nIn-situ training ({plan.dataset}, {data.n_inputs}-{plan.hidden}-10, {plan.epochs} epochs, "
              f"non-differential analog HfO2 synapses), test accuracy (%) mean ± std over {plan.seeds} seeds; "
              f"columns: stuck device fraction ({res['seconds']:.0f} s)\n")
        print(fs.training_table(res))
        print(f"wrote {png}")
        out["training"] = res
    if "bnn" in plans:
        from golden.bnn.network import binarize_images, load_or_train
        plan = plans["bnn"]
        params = fs.digits_bnn_params() if plan.dataset == "digits" else fs.mnist_bnn_params()
        model = load_or_train(params, progress=not args.quiet, data=data)
        t0 = time.perf_counter()
        res = fs.bnn_study(model, binarize_images(data.x_test), data.y_test, plan, run_all=engine.map)
        res["seconds"] = time.perf_counter() - t0
        res["model"] = params.key()
        png = args.docs / "faults_bnn.png"
        fs.plot_bnn(res, png)
        print(f"\nBNN inference ({plan.dataset}, model {params.key()}, physical hardware model), "
              f"mean ± std over {plan.seeds} chips; columns: stuck device fraction ({res['seconds']:.0f} s)\n")
        print(fs.bnn_table(res))
        print(f"wrote {png}")
        out["bnn"] = res
