"""`reram-accel train-sweep`: accuracy vs devices per synapse (FP, analog, differential, binary)."""
from __future__ import annotations

import shlex
import sys

from tb.cli.arguments import IntIn, IntList, OutputFile

HELP = "reproduce the accuracy-vs-N table (FP, N devices non-/differential, binary) over several seeds"

from tb.kit.runner import ROOT


def add_arguments(p) -> None:
    from golden.training.sweep import MODES
    from tb.cli.commands._engine import add_engine_arguments

    p.add_argument("--dataset", choices=("digits", "mnist"), default="mnist")
    from golden.spec.params import MAX_DEVICES

    p.add_argument("--devices", type=IntList(1, MAX_DEVICES), default=(1, 2, 4, 8),
                   help=f"comma-separated N values, each 1..{MAX_DEVICES} (default 1,2,4,8)")
    p.add_argument("--seeds", type=IntIn(1, 1000), default=3, help="number of seeds 0..S-1 (default 3)")
    from tb.cli.commands.train import _d, add_schedule_arguments
    p.add_argument("--epochs", type=IntIn(1, 1000), default=None,
                   help=f"epochs (default: {_d('mnist', 'epochs')} for mnist, {_d('digits', 'epochs')} for digits)")
    add_schedule_arguments(p)
    p.add_argument("--train-samples", type=IntIn(1), default=None,
                   help="first K training samples (default all; digits: at most 1438, mnist: 60000)")
    p.add_argument("--modes", default=",".join(MODES), help="subset of %(default)s")
    add_engine_arguments(p)
    p.add_argument("--out", type=OutputFile(), default=ROOT / "docs" / "train_sweep.json",
                   help="raw results (JSON store; finished runs are reused, concurrent sweeps may share it)")
    p.add_argument("--plot", type=OutputFile(), default=ROOT / "docs" / "accuracy_vs_devices.png")
    p.add_argument("--no-write", action="store_true", help="do not touch docs/RESULTS.md")
    p.add_argument("--report-only", action="store_true", help="only rebuild table/plot from --out")


def run(args) -> int:
    from golden.spec.params import ConfigError
    from golden.training.in_situ import TrainingConfig, lr_text
    from golden.training.sweep import (
        MODES,
        jobs,
        plot,
        run_key,
        run_spec,
        table_markdown,
        with_results_section,
    )
    from tb.cli.commands._engine import sweep_engine
    from tb.cli.commands.train import check_train_samples, schedule_from_args
    from tb.scale.store import ResultStore, atomic_write_text, file_lock
    from tb.scale.sweep import run_missing

    devices = list(args.devices)
    check_train_samples(args)
    modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ConfigError(f"--modes {bad} not allowed: choose from {list(MODES)}")
    sched = schedule_from_args(args)
    cfg = TrainingConfig(**sched)                       # checks the schedule before any run starts
    specs = jobs(args.dataset, devices, range(args.seeds), train_samples=args.train_samples, modes=modes,
                 **sched)
    store = ResultStore(args.out, run_key)
    if args.report_only:
        runs = store.load()
    else:
        with sweep_engine(args, f"train-sweep: {len(specs)} runs, store {args.out}") as engine:
            runs = run_missing(engine, run_spec, specs, store, desc="train-sweep",
                               label=lambda r: f"{r['mode']} N={r['devices']} seed {r['seed']}: "
                                               f"{100 * r['test_accuracy']:.2f} %")
    want = {run_key(s) for s in specs}
    runs = [r for r in runs if run_key(r) in want]
    if not runs:
        print(f"train-sweep: {args.out} holds no run of this sweep: no table, no plot")
        return 0
    table = table_markdown(runs)
    print(table)
    samples = f"first {args.train_samples}" if args.train_samples else "all"
    epochs = sched["epochs"]
    plot(runs, args.plot, f"{args.dataset}: {samples} training samples, {epochs} epoch(s), "
                          f"{lr_text(cfg)}, {args.seeds} seeds")
    print(f"wrote {args.plot}")
    if not args.no_write:
        if sys.argv[1:2] == ["train-sweep"]:
            cmd = "reram-accel " + " ".join(shlex.quote(a) for a in sys.argv[1:] if a != "--report-only")
        else:
            cmd = "reram-accel train-sweep"
        raw = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
        block = (f"Command: `{cmd}` (raw runs in `{raw}`, "
                 f"plot `{args.plot.name}`). Test accuracy in % on the {args.dataset} test set, "
                 f"mean ± std over "
                 f"{args.seeds} seeds, {samples} training samples, {epochs} epoch(s), {lr_text(cfg)}.\n\n{table}\n\n"
                 f"![accuracy vs devices]({args.plot.name})")
        results_md = ROOT / "docs" / "RESULTS.md"
        with file_lock(results_md):                     # another sweep may be updating it too
            atomic_write_text(results_md, with_results_section(
                results_md.read_text() if results_md.exists() else "", block))
        print("wrote docs/RESULTS.md (in-situ training section)")
    return 0
