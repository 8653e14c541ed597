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
    p.add_argument("--bnn-images", type=IntIn(0, C.BNN_MAX_IMAGES), default=0,
                   help=f"also run BNN inference of K (0..{C.BNN_MAX_IMAGES}) binarised digits through the top "
                        "(trained digits layer, digital and analog mode)")
    p.add_argument("--no-raw", action="store_true", help="skip the plain Verilator C++ replay (no ratio)")
    p.add_argument("--json", type=OutputFile(), default=None, help="write the results as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress indication")


def run(args) -> int:
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
