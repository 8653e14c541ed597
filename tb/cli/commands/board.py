"""`reram-accel board`: FPGA builds of the generated blocks (iCEBreaker, ULX3S) with a resource/Fmax table.

    reram-accel board build icebreaker --block all --json build/boards/icebreaker.json
    reram-accel board build ulx3s --block update_unit,pulse_scheduler --markdown
    reram-accel board list

Needs the ``fpga`` extra (amaranth-boards and the YoWASP yosys/nextpnr wheels). Builds run one at a
time, niced; progress goes to stderr, the table to stdout.
"""
from __future__ import annotations

from pathlib import Path

from tb.cli.arguments import FloatIn, IntIn, OutputDir, OutputFile

HELP = "build blocks for an FPGA board (icebreaker, ulx3s) and report LUT/FF/BRAM/DSP and Fmax"


def add_arguments(p) -> None:
    from boards.platforms import BOARDS

    sub = p.add_subparsers(dest="board_command", required=True, metavar="ACTION")
    b = sub.add_parser("build", help="synthesise, place and route; print the resource/Fmax table",
                       description="Each block is wrapped in the board harness (LFSR stimulus on every input, "
                                   "registered XOR reduction of every output to the LEDs) and built with "
                                   "yosys + nextpnr; the block alone is also synthesised out of context.")
    b.add_argument("board", metavar="BOARD", help=f"one of {sorted(BOARDS)}")
    b.add_argument("--block", default="all", help="block name, comma-separated names, or 'all' (default)")
    b.add_argument("--config", type=Path, default=None,
                   help="board TOML ([board] [array] [synapse] [update] [timing] [emulator] [bnn]); "
                        "default boards/<BOARD>.toml")
    b.add_argument("--target-mhz", type=FloatIn(1.0, 500.0), default=None,
                   help="sync clock to build for, 1..500 MHz (default: config, else board)")
    b.add_argument("--json", type=OutputFile(), default=None, help="write the results (list of objects) here")
    b.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    b.add_argument("--out", type=OutputDir(), default=None, help="build root (default build/boards)")
    b.add_argument("--nice", type=IntIn(0, 19), default=10, help="niceness of the tool processes, 0..19 (default 10)")
    b.add_argument("--no-ooc", action="store_true", help="skip the out-of-context synthesis of the block alone")
    b.add_argument("--keep-going", action="store_true", help="report a failing block and continue")
    sub.add_parser("list", help="boards, their devices and the blocks available to build")


def _list() -> int:
    from boards import blocks
    from boards.platforms import BOARDS

    for b in BOARDS.values():
        cap = ", ".join(f"{k} {v}" for k, v in b.capacity.items())
        print(f"{b.name:11s} {b.device:20s} {cap}; default sync {b.default_target_mhz:g} MHz")
    print("blocks:", ", ".join(blocks.available()))
    missing = blocks.unavailable()
    if missing:
        print("not available yet:", ", ".join(missing))
    return 0


def run(args) -> int:
    if args.board_command == "list":
        return _list()

    from boards import blocks
    from boards.build import BUILD_ROOT, build_block, format_table, main_progress
    from boards.config import load_board_config
    from boards.platforms import board as get_board

    board = get_board(args.board)
    cfg = load_board_config(args.config, board.name)
    chosen = blocks.select(args.block)
    board.check_tools()             # the fpga extra: before the first build, not inside it
    results, failed = [], []
    for i, (name, factory) in enumerate(chosen.items(), 1):
        main_progress(f"[{i}/{len(chosen)}] {board.name}/{name}")
        try:
            results.append(build_block(board, name, factory, cfg, out_root=args.out or BUILD_ROOT,
                                       target_mhz=args.target_mhz, nice=args.nice, ooc=not args.no_ooc,
                                       progress=main_progress))
        except Exception as e:  # a toolchain or elaboration failure of one block
            if not args.keep_going:
                raise
            failed.append(name)
            main_progress(f"  FAILED: {type(e).__name__}: {e}")
        if results and results[-1].block == name:
            r = results[-1]
            main_progress(f"  done in {r.seconds:.0f} s: Fmax {r.fmax_mhz:.1f} MHz "
                          f"({'meets' if r.met else 'MISSES'} {r.target_mhz:g} MHz)")
    print(format_table(results, markdown=args.markdown))
    from tb.cli.report import finish_report

    return finish_report(results, args.json, failed)
