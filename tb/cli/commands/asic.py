"""`reram-accel asic`: standard-cell area and timing estimate of the generated blocks (OSU 0.18 um).

    reram-accel asic                                   # every block, default configuration
    reram-accel asic --block update_unit,accelerator --config default --config configs/example.toml
    reram-accel asic --json build/asic/asic.json --markdown

Needs Debian's yosys, the OSU 0.18 um library (both from the ``qflow`` package) and ``opensta``;
``make asic`` installs them. Memories are kept as SRAM macros with an area-per-bit model
(``boards/asic.py``). Progress goes to stderr, the table to stdout.
"""
from __future__ import annotations

import sys
from pathlib import Path

from tb.cli.arguments import FloatIn, IntIn, OutputDir, OutputFile

HELP = "synthesise blocks to OSU 0.18 um standard cells; report cells, area, flip-flops, SRAM macros, Fmax"


def add_arguments(p) -> None:
    p.add_argument("--block", default="all", help="block name of hw/registry.py, comma-separated names, or 'all'")
    p.add_argument("--config", action="append", default=None, metavar="TOML",
                   help="configuration file, or 'default' for the built-in parameters; repeatable "
                        "(default: 'default')")
    p.add_argument("--period-ns", type=FloatIn(0.0, 1e6, lo_open=True), default=10.0,
                   help="clock period for OpenSTA and ABC's delay target (default 10 ns)")
    p.add_argument("--macro-min-depth", type=IntIn(0), default=None,
                   help="memories with fewer words become flip-flops, the others SRAM macros (default 32)")
    p.add_argument("--json", type=OutputFile(), default=None, help="write the results (list of objects) here")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--out", type=OutputDir(), default=None, help="build root (default build/asic)")
    p.add_argument("--keep-going", action="store_true", help="report a failing block and continue")


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _configs(names: list[str] | None) -> list[tuple[str, object]]:
    """(label, parameters) per ``--config``, all loaded before any synthesis so a bad file fails first."""
    from golden.spec.params import load_config

    return [("default", load_config(None)) if name == "default" else (Path(name).stem, load_config(Path(name)))
            for name in names or ["default"]]


def run(args) -> int:
    from boards.asic import (
        BUILD_ROOT,
        CAVEATS,
        MACRO_MIN_DEPTH,
        SRAM_MODEL,
        AsicToolError,
        find_tools,
        format_table,
        select_blocks,
        synth_block,
    )

    min_depth = MACRO_MIN_DEPTH if args.macro_min_depth is None else args.macro_min_depth
    chosen = select_blocks(args.block)  # an unknown name is a ConfigError: exit 2 with the allowed names
    configs = _configs(args.config)
    try:
        find_tools()
    except AsicToolError as e:
        print(f"reram-accel asic: {e}", file=sys.stderr)
        return 2
    results, failed = [], []
    for label, params in configs:
        for i, (name, make) in enumerate(chosen.items(), 1):
            _progress(f"[{i}/{len(chosen)}] {label}/{name}")
            try:
                r = synth_block(name, make(params), config=label, out_root=args.out or BUILD_ROOT,
                                period_ns=args.period_ns, macro_min_depth=min_depth, progress=_progress)
            except AsicToolError as e:
                if not args.keep_going:
                    print(f"reram-accel asic: {e}", file=sys.stderr)
                    return 1
                failed.append(f"{label}/{name}")
                _progress(f"  FAILED: {e}")
                continue
            results.append(r)
            _progress(f"  done in {r.seconds:.0f} s")
    print(format_table(results, markdown=args.markdown))
    print(f"\n{CAVEATS}; SRAM {SRAM_MODEL.um2_per_bit:.1f} um^2/bit "
          f"({SRAM_MODEL.bitcell_um2} um^2 bit cell / {SRAM_MODEL.array_efficiency} array efficiency), "
          f"access {SRAM_MODEL.access_ns} ns; memories under {min_depth} words are flip-flops.")
    from tb.cli.report import finish_report

    return finish_report(results, args.json, failed)
