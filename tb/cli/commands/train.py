"""`reram-accel train`: in-situ training of an MLP on multi-ReRAM synapses, with an FP baseline."""
from __future__ import annotations

import json

from tb.cli.arguments import FloatIn, IntIn, OutputFile, check_count

HELP = "train an MLP in situ on simulated multi-ReRAM synapses (Boybat et al.) and compare with FP"


def _d(dataset: str, key: str):
    from golden.training.in_situ import DATASET_DEFAULTS
    return DATASET_DEFAULTS[dataset][key]


def add_schedule_arguments(p) -> None:
    """--lr, --lr-schedule, --lr-end (shared with train-sweep); None = the dataset's default."""
    from golden.training.in_situ import LR_SCHEDULES
    p.add_argument("--lr", type=FloatIn(0.0, 10.0, lo_open=True), default=None,
                   help=f"initial SGD learning rate, in (0, 10] (default {_d('mnist', 'lr')})")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=None,
                   help="learning-rate schedule from --lr to --lr-end over all samples of all epochs: "
                        "constant, linear or cosine per sample, step = geometric per epoch (default: "
                        f"{_d('mnist', 'lr_schedule')} for mnist, {_d('digits', 'lr_schedule')} for digits)")
    p.add_argument("--lr-end", type=FloatIn(0.0, 10.0, lo_open=True), default=None,
                   help="final learning rate of a decaying schedule, in (0, --lr] "
                        f"(default {_d('mnist', 'lr_end')})")


def schedule_from_args(args) -> dict:
    """{epochs, lr, lr_schedule, lr_end}: the arguments given, else the dataset's defaults."""
    from golden.training.in_situ import DATASET_DEFAULTS
    out = dict(DATASET_DEFAULTS[args.dataset])
    for key in out:
        if getattr(args, key, None) is not None:
            out[key] = getattr(args, key)
    return out


def add_arguments(p) -> None:
    from golden.spec.params import MAX_DEVICES, SynapseParams
    from golden.training.in_situ import TrainingConfig

    p.add_argument("--dataset", choices=("digits", "mnist"), default="digits",
                   help="digits: scikit-learn 8x8 (fast); mnist: full 60k/10k (shipped)")
    p.add_argument("--devices", type=IntIn(1, MAX_DEVICES), default=SynapseParams.devices,
                   help=f"N, devices per synapse (per group if differential), 1..{MAX_DEVICES}")
    p.add_argument("--binary", action="store_true", help="binary (two-level, stochastic switching) devices")
    p.add_argument("--differential", action=__import__("argparse").BooleanOptionalAction,
                   default=SynapseParams.differential,
                   help="weight = sum G+ - sum G- with refresh "
                        "(default: non-differential, sum G - reference)")
    p.add_argument("--device", choices=("reram", "pcm"), default="reram",
                   help="device preset: reram (HfO2-like, default) or pcm (Nandakumar 2018 stand-in)")
    p.add_argument("--epochs", type=IntIn(1, 1000), default=None,
                   help=f"epochs (default: {_d('mnist', 'epochs')} for mnist, {_d('digits', 'epochs')} for digits)")
    p.add_argument("--train-samples", type=IntIn(1), default=None,
                   help="use only the first K training samples (digits: at most 1438, mnist: 60000)")
    p.add_argument("--hidden", type=IntIn(1, 4096), default=TrainingConfig.hidden,
                   help="hidden layer width (default %(default)s)")
    add_schedule_arguments(p)
    p.add_argument("--read-noise", choices=("output", "device", "off"), default=TrainingConfig.read_noise,
                   help="read-noise model (default: output-referred, exact in distribution)")
    p.add_argument("--seed", type=IntIn(0, 2**63 - 1), default=TrainingConfig.seed,
                   help="seed of initial weights, sample order and chip")
    p.add_argument("--hw-exact", action="store_true",
                   help="hardware-exact training: forward and backward through the array's read path "
                        "(ADC codes, integer accumulation), device model in exact mode; analog devices, "
                        "lr schedule constant or linear (golden.training.hw_exact)")
    p.add_argument("--input-width", type=IntIn(2, 8), default=8,
                   help="--hw-exact: input code width of the read path and x code width, 2..8 (default 8)")
    p.add_argument("--adc-width", type=IntIn(2, 12), default=8,
                   help="--hw-exact: ADC width, 2..12 (default 8)")
    p.add_argument("--no-fp", action="store_true", help="skip the floating-point baseline")
    p.add_argument("--json", type=OutputFile(), default=None, help="write the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args):
    from golden.physics.device import PRESETS
    from golden.training.in_situ import make_config

    if args.binary and args.device == "pcm":
        from golden.spec.params import ConfigError
        raise ConfigError("--binary cannot be combined with --device pcm")
    device = PRESETS["reram-binary"] if args.binary else PRESETS[args.device]
    return make_config(devices=args.devices, differential=args.differential, binary=args.binary,
                       device=device, train_samples=args.train_samples, hidden=args.hidden,
                       read_noise=args.read_noise, seed=args.seed, **schedule_from_args(args))


def check_train_samples(args) -> None:
    """``--train-samples`` against the data set's training set (before any run)."""
    from golden.data.datasets import SIZES

    check_count("train_samples", args.train_samples, SIZES[args.dataset][0], f"the {args.dataset} training set")


def run(args) -> int:
    from golden.data.datasets import load
    from golden.training.in_situ import summary_line, train_fp, train_insitu

    cfg = config_from_args(args)
    check_train_samples(args)
    if args.hw_exact:
        return run_hw_exact(args, cfg)
    data = load(args.dataset)
    fp = None if args.no_fp else train_fp(data, cfg, progress=not args.quiet)
    res = train_insitu(data, cfg, progress=not args.quiet)
    print(summary_line(args.dataset, cfg, res, fp))
    if args.json is not None:
        out = {k: v for k, v in res.items() if k != "net"}
        out["fp_test_accuracy"] = None if fp is None else fp["test_accuracy"]
        out["fp_seconds_per_sample"] = None if fp is None else fp["seconds_per_sample"]
        out["dataset"] = args.dataset
        out["config"] = cfg.to_dict()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=float))
        print(f"wrote {args.json}")
    return 0


def run_hw_exact(args, cfg) -> int:
    """``train --hw-exact``: :func:`golden.training.hw_exact.train_hw_exact` with the FP baseline."""
    from golden.data.datasets import load
    from golden.spec.params import ConfigError
    from golden.training.hw_exact import HwExactConfig, train_hw_exact
    from golden.training.in_situ import lr_text, train_fp

    if args.binary:
        raise ConfigError("--hw-exact needs analog devices: leave out --binary")
    hcfg = HwExactConfig(training=cfg, input_width=args.input_width, adc_width=args.adc_width)
    data = load(args.dataset)
    fp = None if args.no_fp else train_fp(data, cfg, progress=not args.quiet)
    res = train_hw_exact(data, hcfg, progress=not args.quiet)
    syn = cfg.synapse
    kind = "differential" if syn.differential else "non-differential"
    lines = [(f"dataset {args.dataset}: {res['samples']} training samples ({cfg.epochs} epoch(s)), network "
              f"{data.n_inputs}-{cfg.hidden}-10, {lr_text(cfg)}, seed {cfg.seed}"),
             (f"hardware-exact: N = {syn.devices} {kind}, input {args.input_width} bits, ADC {args.adc_width} "
              f"bits; {res['pulses']} pulses, {res['refreshes']} refreshes"),
             f"test accuracy {100 * res['test_accuracy']:.2f} % (forward reads with read noise)",
             f"set-up: {res['constants']}",
             f"read path: {res['read_path']}",
             f"digest {res['digest']}"]
    if fp is not None:
        lines.append(f"FP baseline test accuracy {100 * fp['test_accuracy']:.2f} % "
                     f"(gap {100 * (fp['test_accuracy'] - res['test_accuracy']):+.2f} points)")
    lines.append(f"time: {1e3 * res['seconds_per_sample']:.3f} ms per training sample, "
                 f"{res['eval_seconds']:.1f} s per test-set evaluation")
    print("\n".join(lines))
    if args.json is not None:
        out = {k: v for k, v in res.items() if k != "net"}
        out["fp_test_accuracy"] = None if fp is None else fp["test_accuracy"]
        out["dataset"] = args.dataset
        out["config"] = hcfg.to_dict()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=float))
        print(f"wrote {args.json}")
    return 0
