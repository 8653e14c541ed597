"""`reram-accel cosim`: in-situ training with the RTL in the loop (cocotb + Verilator), checked
against the golden run, and its replay in a plain Verilator C++ harness (what cocotb costs).

``--dataset digits`` (default): the 64-H-10 MLP with per-synapse UPDATE words over AXI4-Lite
(:mod:`tb.cosim.run`). ``--dataset mnist``: the 784-250-10 MLP trained through the update engine's
frame input, one frame per sample and layer (:mod:`tb.cosim.frame_run`); ``--frames`` runs the
digits MLP that way too."""
from __future__ import annotations

import json

from tb.cli.arguments import FloatIn, IntIn, OutputFile

HELP = "co-simulate in-situ training (digits or MNIST) with the accelerator RTL in the loop"


def add_arguments(p) -> None:
    from tb.cosim.training_host import CosimConfig as C  # the defaults are the config's, defined once

    p.add_argument("--dataset", choices=("digits", "mnist"), default="digits",
                   help="digits: 64-H-10 over UPDATE words (default); mnist: 784-250-10 through the "
                        "update engine's frames")
    p.add_argument("--frames", action="store_true",
                   help="train through the update engine's frame input (implied by --dataset mnist)")
    p.add_argument("--samples", type=IntIn(1, 60_000), default=None,
                   help=f"training samples (default {C.samples}; at most 1437 for digits, 60000 for mnist)")
    p.add_argument("--hidden", type=IntIn(1, 4096), default=None,
                   help=f"hidden width (default {C.hidden} for digits, 250 for mnist)")
    p.add_argument("--lanes", type=IntIn(1, 256), default=None,
                   help="frame path: P, the update engine's lanes, a power of two (default: the parameter tree's)")
    p.add_argument("--profile", type=OutputFile(), default=None,
                   help="frame path: write a cProfile of the training loop (simulator + host) here")
    p.add_argument("--devices", type=IntIn(1, 16), default=C.devices,
                   help="N devices per synapse, 1..16 (default %(default)s)")
    p.add_argument("--lr", type=FloatIn(0.0, 10.0, lo_open=True), default=C.lr,
                   help="learning rate (default %(default)s)")
    p.add_argument("--seed", type=IntIn(0, 2**31), default=C.seed, help="initial weights, sample order and chip seed")
    p.add_argument("--read-cells", type=IntIn(0, 100_000), default=C.read_cells,
                   help="cells per layer read back through READ_REQ/READ_DATA at the end (default %(default)s)")
    p.add_argument("--driver", choices=("batch", "python"), default="batch",
                   help="batch: AXI writes batched by the testbench AxilSequencer (default); python: one "
                        "Python wake-up per AXI write")
    p.add_argument("--bnn-images", type=IntIn(0, 10_000), default=0,
                   help=f"also run BNN inference of K (0..{C.BNN_MAX_IMAGES}) binarised digits through the top "
                        "(trained digits layer, digital and analog mode); with --bnn-net: test images per mode "
                        "(1..10000 for mnist, 1..360 for digits)")
    p.add_argument("--bnn-net", choices=("digits", "mnist"), default=None,
                   help="instead of training: a whole trained BNN through the top, one image in, its class out "
                        "(digits: 64-255-255-10; mnist: the paper's 784-1025-1025-1025-10, cached by "
                        "`reram-accel bnn --dataset mnist`); --bnn-images test images per mode (default 10)")
    p.add_argument("--bnn-modes", default="digital,analog",
                   help="with --bnn-net: comma-separated modes, digital and/or analog (default %(default)s)")
    p.add_argument("--bnn-engine", choices=("cocotb", "cxx"), default="cocotb",
                   help="with --bnn-net: cocotb (default) or cxx, the plain Verilator C++ harness replaying the "
                        "cocotb host cycle for cycle (-O2 build; for long runs, e.g. all 10,000 MNIST test images)")
    p.add_argument("--bnn-read-width", type=IntIn(1, 4096), default=None,
                   help="with --bnn-net: bridges per digital-mode read, 1..4096 (a width >= a neuron's row, "
                        "e.g. 4096, reads the whole row at once: full-row reads); default: full rows for "
                        "mnist, 32 for digits")
    p.add_argument("--bnn-bit-error", type=FloatIn(0.0, 0.5), default=0.01,
                   help="with --bnn-net: static bridge bit-error rate of the chip model (default %(default)s)")
    p.add_argument("--bnn-cal", action="store_true",
                   help="with --bnn-net: the calibrated chip (physical model, measured SA offsets): the host runs "
                        "the SA-offset calibration ramp of every hidden layer over AXI-Lite, writes the bias-cell "
                        "trim back, then --bnn-images test images in analog mode (cocotb)")
    p.add_argument("--bnn-cal-repeats", type=IntIn(1, 1024), default=8,
                   help="with --bnn-cal: conversions per ramp step, 1..1024 (default %(default)s)")
    p.add_argument("--bnn-cal-patterns", type=IntIn(1, 64), default=4,
                   help="with --bnn-cal: calibration patterns per layer, 1..64 (default %(default)s)")
    p.add_argument("--fmax", type=FloatIn(0.0, 1000.0, lo_open=True), default=None,
                   help="with --bnn-net: clock in MHz for the images/s column")
    p.add_argument("--no-raw", action="store_true", help="skip the plain Verilator C++ replay (no ratio)")
    p.add_argument("--json", type=OutputFile(), default=None, help="write the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress indication")


def run(args) -> int:
    from tb.cosim.training_host import CosimConfig as CosimConfigLimits

    if args.bnn_net:
        return run_bnn_net_cal(args) if args.bnn_cal else run_bnn_net(args)
    if args.bnn_cal:
        print("error: --bnn-cal is not allowed without --bnn-net (the calibrated chip runs through the network top)")
        return 2
    if args.bnn_read_width is not None:
        print(f"error: --bnn-read-width = {args.bnn_read_width} is not allowed without --bnn-net (the "
              f"single-layer run's read width is that of its trained layer)")
        return 2
    if args.bnn_images > CosimConfigLimits.BNN_MAX_IMAGES:
        print(f"error: --bnn-images = {args.bnn_images} is out of range without --bnn-net: allowed "
              f"[0, {CosimConfigLimits.BNN_MAX_IMAGES}]")
        return 2
    if args.dataset == "mnist" or args.frames:
        return run_frames(args)
    from tb.cosim.run import compare_raw, run_cosim, run_cosim_bnn, summary
    from tb.cosim.training_host import CosimConfig

    cfg = CosimConfig(samples=args.samples if args.samples is not None else CosimConfig.samples,
                      hidden=args.hidden if args.hidden is not None else CosimConfig.hidden,
                      devices=args.devices, lr=args.lr, seed=args.seed, read_cells=args.read_cells)
    if not args.quiet:
        print(f"cosim: building and running {cfg.samples} samples (first build of the top takes ~1-2 min)",
              flush=True)
    res = run_cosim(cfg, progress=not args.quiet, driver=args.driver)
    if not args.no_raw:
        res = compare_raw(res, cfg)
    print(summary(res))
    for m in res.get("first_mismatches", []):
        print(f"  mismatch: {m}")
    if args.bnn_images:
        bnn = run_cosim_bnn(args.bnn_images, seed=args.seed)
        res["bnn"] = bnn
        res["mismatches"] += bnn["image_mismatches"] + len(bnn["violations"])
        pm = bnn["per_mode"]
        print(f"BNN through the top (trained digits layer): {bnn['images']} images x {bnn['neurons']} neurons "
              f"({bnn['inputs']} inputs + {bnn['bias_cells']} bias cells), digital: {pm['digital']['word_reads']} "
              f"word reads ({bnn['bridge_reads']} bridges), {pm['digital']['image_mismatches']} images differ "
              f"from golden digital_bits; analog: {pm['analog']['sa_decisions']} SA conversions, "
              f"{pm['analog']['image_mismatches']} images differ from golden analog_bits")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"config": cfg.to_dict(), **res}, indent=2))
        print(f"wrote {args.json}")
    return 0 if res["mismatches"] == 0 else 1


def run_frames(args) -> int:
    """The frame path (:mod:`tb.cosim.frame_run`): the configuration is checked before any work."""
    from tb.cosim.frame_host import FrameCosimConfig
    from tb.cosim.frame_run import compare_raw, run_frame_cosim, summary

    cfg = FrameCosimConfig(dataset=args.dataset,
                           samples=args.samples if args.samples is not None else FrameCosimConfig.samples,
                           hidden=args.hidden, devices=args.devices, seed=args.seed, lanes=args.lanes,
                           read_cells=args.read_cells)
    if not args.quiet:
        print(f"cosim: {cfg.samples} {cfg.dataset} samples through the update engine's frame input "
              f"(building the top first: minutes for 784-250-10)", flush=True)
    res = run_frame_cosim(cfg, progress=not args.quiet, profile=str(args.profile) if args.profile else None)
    if not args.no_raw:
        res = compare_raw(res, cfg)
    print(summary(res))
    for m in res.get("first_mismatches", []):
        print(f"  mismatch: {m}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"config": cfg.to_dict(), **res}, indent=2))
        print(f"wrote {args.json}")
    return 0 if res["mismatches"] == 0 else 1


def run_bnn_net_cal(args) -> int:
    """The calibrated chip through the network top (:mod:`tb.cosim.bnn_net_cal_run`)."""
    from golden.spec.checks import ConfigError
    from tb.cosim.bnn_net_cal_run import cal_summary, run_cosim_bnn_net_cal

    if args.bnn_engine != "cocotb":
        print("error: --bnn-cal is not allowed with --bnn-engine cxx (the calibrated chip runs in cocotb)")
        return 2
    images = args.bnn_images or 10
    if not args.quiet:
        print(f"cosim: SA calibration of the {args.bnn_net} network's hidden layers ({args.bnn_cal_patterns} "
              f"patterns x {args.bnn_cal_repeats} repeats per ramp step), then {images} analog test images "
              f"through the top", flush=True)
    try:
        res = run_cosim_bnn_net_cal(args.bnn_net, images, seed=args.seed, repeats=args.bnn_cal_repeats,
                                    patterns=args.bnn_cal_patterns, bit_error=args.bnn_bit_error)
    except ConfigError as e:
        print(f"error: {e}")
        return 2
    print(cal_summary(res))
    for m in res.get("first_mismatches", []):
        print(f"  mismatch: {m}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
        print(f"wrote {args.json}")
    bad = (res["decision_mismatches"] + res["trim_mismatches"] + res["class_mismatches"] + res["count_mismatches"]
           + len(res["violations"]) + len(res["decider_errors"]) + sum(res["errors"].values()))
    return 0 if bad == 0 else 1


def run_bnn_net(args) -> int:
    """A whole trained BNN through the top (:mod:`tb.cosim.bnn_net_run`)."""
    from golden.spec.checks import ConfigError
    from tb.cosim.bnn_net_cxx import cxx_summary, run_cosim_bnn_net_cxx
    from tb.cosim.bnn_net_run import run_cosim_bnn_net, summary

    modes = tuple(m.strip() for m in args.bnn_modes.split(",") if m.strip())
    images = args.bnn_images or 10
    cxx = args.bnn_engine == "cxx"
    if not args.quiet:
        print(f"cosim: {images} {args.bnn_net} test images per mode ({', '.join(modes)}) through the top"
              f"{' in the C++ harness' if cxx else ''} (building it first: minutes for the paper network)",
              flush=True)
    try:
        run = run_cosim_bnn_net_cxx if cxx else run_cosim_bnn_net
        res = run(args.bnn_net, images, seed=args.seed, modes=modes, bit_error=args.bnn_bit_error,
                  progress=not args.quiet, read_width=args.bnn_read_width)
    except ConfigError as e:
        print(f"error: {e}")
        return 2
    print(cxx_summary(res, args.fmax) if cxx else summary(res, args.fmax))
    for m in res.get("first_mismatches", []):
        print(f"  mismatch: {m}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
        print(f"wrote {args.json}")
    bad = (res["class_mismatches"] + res["activation_mismatches"] + res["count_mismatches"] + len(res["violations"])
           + sum(res["errors"].values()))
    return 0 if bad == 0 else 1
