"""`reram-accel verilog`: write one Verilog file per generated block, the register map and the memory
manifest (``memories.json``: every memory instance of every written block)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from golden.spec.register_map import emitters

HELP = "generate Verilog for every block (one file each) from a TOML configuration"


def add_arguments(p) -> None:
    p.add_argument("--config", type=Path, default=None, help="TOML file ([array] [synapse] [update] [timing])")
    p.add_argument("--out", type=Path, default=Path("build/verilog"), help="output directory")
    p.add_argument("--only", default=None, help="comma-separated block names (default: all)")


MANIFEST = "memories.json"


def generate(params, out: Path, only: list[str] | None = None) -> list[tuple[str, Path, float]]:
    """Write the blocks and ``memories.json``; returns (name, path, seconds) for each block."""
    from hw.registry import blocks
    from tb.kit.runner import to_verilog

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
        path = out / f"{name}.v"
        block = table[name](params)
        path.write_text(to_verilog(block, name))
        mems[name] = manifest(block, name)
        written.append((name, path, time.perf_counter() - t0))
    (out / MANIFEST).write_text(json.dumps(mems, indent=1) + "\n")
    return written


def write_register_map(params, out: Path) -> list[Path]:
    """Write the accelerator's register map next to the Verilog: ``registers.md`` and the C header
    ``reram_accel_regs.h`` (both generated from :mod:`golden.spec.register_map`)."""
    from golden.spec.register_map.accelerator_map import params_summary
    from hw.accelerator import Accelerator

    rmap, summary = Accelerator.register_map_for(params), params_summary(params)
    out.mkdir(parents=True, exist_ok=True)
    md, h = out / "registers.md", out / "reram_accel_regs.h"
    md.write_text(emitters.markdown(rmap, params_summary=summary))
    h.write_text(emitters.c_header(rmap, params_summary=summary))
    return [md, h]


def run(args) -> int:
    from golden.spec.params import load_config

    params = load_config(args.config)
    only = args.only.split(",") if args.only else None
    for name, path, secs in generate(params, args.out, only):
        lines = path.read_text().count("\n")
        print(f"wrote {path}  ({name}, {lines} lines, {secs:.2f} s)")
    mems = json.loads((args.out / MANIFEST).read_text())
    n = sum(len(v) for v in mems.values())
    print(f"wrote {args.out / MANIFEST}  (memory manifest: {n} memory instances in {len(mems)} blocks)")
    for path in write_register_map(params, args.out):
        print(f"wrote {path}  (register map)")
    return 0
