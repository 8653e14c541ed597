"""`reram-accel verilog`: write one Verilog file per generated block, the register map and the memory
manifest (``memories.json``: every memory instance of every written block)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from golden.spec.register_map import emitters
from hw.verilog_output import FLAVOURS
from tb.cli.arguments import OutputDir

HELP = "generate Verilog for every block (one file each) from a TOML configuration"


def add_arguments(p) -> None:
    p.add_argument("--config", type=Path, default=None, help="TOML file ([array] [synapse] [update] [timing])")
    p.add_argument("--out", type=OutputDir(), default=Path("build/verilog"),
                   help="output directory (replaced as a whole when the generation succeeded)")
    p.add_argument("--only", default=None, help="comma-separated block names (default: all)")
    p.add_argument("--flavour", choices=FLAVOURS, default="synth",
                   help="synth (default): what a hardware team takes, plain Verilog-2005 without assertions "
                        "or $write; sim: keeps the assertions, for Verilator simulation and formal")
    p.add_argument("--prefix", default="",
                   help="put in front of every module name and file name, so that two configurations "
                        "link into one design (a Verilog identifier)")
    p.add_argument("--no-initial-values", dest="initial_values", action="store_false",
                   help="no initial value anywhere (no `reg x = ...`, no `initial`, no memory contents): "
                        "registers reach their state through reset only")


MANIFEST = "memories.json"


def generate(params, out: Path, only: list[str] | None = None, *, flavour: str = "synth", prefix: str = "",
             initial_values: bool = True) -> list[tuple[str, Path, float]]:
    """Write the blocks as ``<prefix><name>.v``; returns (name, path, seconds) for each; also writes
    ``<prefix>memories.json``, the memory manifest.

    ``flavour``, ``prefix`` and ``initial_values`` as in :func:`hw.verilog_output.convert`.
    """
    from hw import verilog_output
    from hw.registry import blocks

    verilog_output.check_options(flavour=flavour, prefix=prefix)
    table = blocks()
    names = only or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"reram-accel verilog: unknown block(s) {unknown}: allowed {sorted(table)}")
    out.mkdir(parents=True, exist_ok=True)
    from hw.memory_manifest import manifest

    written, mems = [], {}
    for name in names:
        t0 = time.perf_counter()
        path = out / f"{prefix}{name}.v"
        block = table[name](params)
        path.write_text(verilog_output.convert(block, name, flavour=flavour, prefix=prefix,
                                               initial_values=initial_values))
        mems[name] = manifest(block, name)
        written.append((name, path, time.perf_counter() - t0))
    (out / f"{prefix}{MANIFEST}").write_text(json.dumps(mems, indent=1) + "\n")
    return written


def write_register_map(params, out: Path, prefix: str = "") -> list[Path]:
    """Write the accelerator's register map next to the Verilog: ``<prefix>registers.md`` and the C
    header ``<prefix>reram_accel_regs.h`` (both generated from :mod:`golden.spec.register_map`)."""
    from golden.spec.register_map.accelerator_map import params_summary
    from hw.accelerator import Accelerator

    rmap, summary = Accelerator.register_map_for(params), params_summary(params)
    out.mkdir(parents=True, exist_ok=True)
    md, h = out / f"{prefix}registers.md", out / f"{prefix}reram_accel_regs.h"
    md.write_text(emitters.markdown(rmap, params_summary=summary))
    h.write_text(emitters.c_header(rmap, params_summary=summary))
    return [md, h]


def run(args) -> int:
    from golden.spec.params import load_config

    params = load_config(args.config)
    only = args.only.split(",") if args.only else None
    try:
        written = generate(params, args.out, only, flavour=args.flavour, prefix=args.prefix,
                           initial_values=args.initial_values)
    except ValueError as e:
        raise SystemExit(f"reram-accel verilog: {e}") from None
    for name, path, secs in written:
        lines = path.read_text().count("\n")
        print(f"wrote {path}  ({name}, {lines} lines, {secs:.2f} s)")
    mems = json.loads((args.out / f"{args.prefix}{MANIFEST}").read_text())
    n = sum(len(v) for v in mems.values())
    print(f"wrote {args.out / (args.prefix + MANIFEST)}  (memory manifest: {n} memory instances in {len(mems)} blocks)")
    for path in write_register_map(params, args.out, args.prefix):
        print(f"wrote {path}  (register map)")
    return 0
