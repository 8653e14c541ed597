"""`reram-accel cosim`: in-situ training with the RTL in the loop (cocotb + Verilator), checked
against the golden run, and its replay in a plain Verilator C++ harness (what cocotb costs)."""
from __future__ import annotations

import json

from tb.cli.arguments import FloatIn, IntIn, OutputFile

HELP = "co-simulate in-situ training of the digits MLP with the accelerator RTL in the loop"


def add_arguments(p) -> None:
    from tb.cosim.training_host import CosimConfig as C  # the defaults are the config's, defined once

    p.add_argument("--samples", type=IntIn(1, C.MAX_SAMPLES), default=C.samples,
                   help=f"training samples, 1..{C.MAX_SAMPLES} (default %(default)s)")
    p.add_argument("--hidden", type=IntIn(1, 64), default=C.hidden,
                   help="hidden width of the 64-H-10 MLP, 1..64 (default %(default)s)")
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
    from tb.cosim.run import compare_raw, run_cosim, run_cosim_bnn, summary
    from tb.cosim.training_host import CosimConfig

    cfg = CosimConfig(samples=args.samples, hidden=args.hidden, devices=args.devices, lr=args.lr,
                      seed=args.seed, read_cells=args.read_cells)
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
