"""Run a board build (yosys -> nextpnr -> bitstream) and report LUTs, FFs, BRAMs, DSPs and Fmax.

Per (board, block) the build directory ``build/boards/<board>/<block>/`` holds:

* ``top.*`` — the Amaranth build plan of :class:`boards.board_wrapper.BoardTop` and its products:
  ``top.rpt`` (yosys log), ``top.stat.json`` (yosys ``stat -json`` after synthesis),
  ``top.tim`` (nextpnr log), ``top.report.json`` (nextpnr ``--report``: utilisation and Fmax),
  ``top.bin`` (iCE40) / ``top.bit`` (ECP5);
* ``ooc/`` — the block alone synthesised out of context (``synth_ice40`` / ``synth_ecp5``, no I/O
  buffers, no harness): ``<block>.stat.json``;
* ``result.json`` — the :class:`BuildResult`.

Counting rules (the same for both families and for block and board):
LUT4 = yosys LUT4 cells (iCE40 ``SB_LUT4``; ECP5 ``LUT4`` + 2 per ``CCU2C`` carry cell, which holds two
LUT4s); FF = yosys flip-flop cells; BRAM = iCE40 ``SB_RAM40_4K`` (4 Kbit) / ECP5 ``DP16KD``,
``PDPW16KD`` (18 Kbit); DSP = ``SB_MAC16`` / ``MULT18X18D`` + ``ALU54B``. ``cells`` is nextpnr's
placed logic-cell count (``ICESTORM_LC`` = LUT4+FF pairs / ``TRELLIS_COMB`` = LUT4 slots incl.
route-through), against the device's total. Fmax is nextpnr's final (post-route) estimate for the
``sync`` clock, from its JSON report (the log's ``Max frequency for clock`` line as a fallback).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from boards.board_wrapper import BoardTop
from boards.config import BoardConfig
from boards.platforms import Board, tool_environment
from golden.spec.params import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BUILD_ROOT = ROOT / "build" / "boards"

Progress = Callable[[str], None]


# --- parsing -----------------------------------------------------------------------------------
#: Extra synthesis options per family: the iCE40's SB_MAC16 multipliers are used only with ``-dsp``
#: (without it the OuterProductEngine's product is built from LUTs and sets Fmax).
SYNTH_OPTS = {"ice40": "-dsp"}


def count_cells(by_type: dict[str, int], family: str) -> dict[str, int]:
    """LUT4 / FF / BRAM / DSP (and ECP5 LUTRAM) from yosys ``num_cells_by_type`` (see module doc)."""
    def total(pred) -> int:
        return sum(n for t, n in by_type.items() if pred(t))

    if family == "ice40":
        return {
            "LUT": by_type.get("SB_LUT4", 0),
            "FF": total(lambda t: t.startswith("SB_DFF")),
            "BRAM": total(lambda t: t.startswith("SB_RAM40_4K")),
            "DSP": by_type.get("SB_MAC16", 0),
            "SPRAM": by_type.get("SB_SPRAM256KA", 0),
        }
    if family == "ecp5":
        return {
            "LUT": by_type.get("LUT4", 0) + 2 * by_type.get("CCU2C", 0),
            "FF": total(lambda t: t in ("TRELLIS_FF", "FD1S3AX", "FD1S3BX", "FD1S3DX", "FD1S3IX")),
            "BRAM": by_type.get("DP16KD", 0) + by_type.get("PDPW16KD", 0),
            "DSP": by_type.get("MULT18X18D", 0) + by_type.get("ALU54B", 0),
            "LUTRAM": by_type.get("TRELLIS_DPR16X4", 0),
        }
    raise ConfigError(f"family {family!r} is not known: allowed ['ecp5', 'ice40']")


def parse_yosys_stat(text: str, family: str, module: str | None = None) -> dict[str, int]:
    """Counts from yosys ``stat -json`` output (the whole design, or ``module``)."""
    data = json.loads(text)
    if module is not None:
        node = data["modules"].get("\\" + module) or data["modules"][module]
    else:
        node = data["design"]
    return count_cells(node.get("num_cells_by_type", {}), family)


_LOG_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s*([0-9.]+) MHz \((PASS|FAIL) at ([0-9.]+) MHz\)")

UTIL_KEYS = {
    "ice40": {"cells": "ICESTORM_LC", "BRAM": "ICESTORM_RAM", "DSP": "ICESTORM_DSP"},
    "ecp5": {"cells": "TRELLIS_COMB", "BRAM": "DP16KD", "DSP": "MULT18X18D", "FF": "TRELLIS_FF"},
}


@dataclass
class PnrReport:
    """What nextpnr says about one build."""

    clock: str
    fmax_mhz: float
    constraint_mhz: float
    utilization: dict[str, dict[str, int]] = field(default_factory=dict)
    critical_ns: float | None = None
    critical_sources: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return self.fmax_mhz >= self.constraint_mhz

    def used(self, family: str, what: str) -> tuple[int, int] | None:
        key = UTIL_KEYS[family].get(what)
        if key is None or key not in self.utilization:
            return None
        u = self.utilization[key]
        return int(u["used"]), int(u["available"])


def _pick_clock(fmax: dict[str, dict], target_mhz: float | None) -> str:
    if not fmax:
        raise ValueError("nextpnr reported no clock: the design has no clocked logic")
    if target_mhz is None:
        return max(fmax, key=lambda c: fmax[c]["constraint"])
    return min(fmax, key=lambda c: abs(fmax[c]["constraint"] - target_mhz))


def parse_nextpnr_report(text: str, target_mhz: float | None = None) -> PnrReport:
    """nextpnr ``--report`` JSON: the clock whose constraint is nearest ``target_mhz`` (None: the
    fastest constraint), its achieved Fmax, and the utilisation table."""
    data = json.loads(text)
    fmax = data.get("fmax", {})
    clock = _pick_clock(fmax, target_mhz)
    ns, sources = critical_path(data)
    return PnrReport(clock=clock, fmax_mhz=float(fmax[clock]["achieved"]),
                     constraint_mhz=float(fmax[clock]["constraint"]),
                     utilization=data.get("utilization", {}), critical_ns=ns, critical_sources=sources)


def critical_path(report: dict, root: Path = ROOT) -> tuple[float | None, list[str]]:
    """The slowest clock-to-clock path of a nextpnr report: total delay (ns) and the project source
    lines (``file:line``, relative to the repository) its nets come from, in path order."""
    best = None
    for cp in report.get("critical_paths", []):
        if cp.get("from", "").startswith("posedge") and cp.get("to", "").startswith("posedge"):
            total = sum(float(st.get("delay", 0.0)) for st in cp.get("path", []))
            if best is None or total > best[0]:
                best = (total, cp)
    if best is None:
        return None, []
    prefix = str(root) + "/"
    sources: list[str] = []
    for st in best[1]["path"]:
        for src in st.get("sources", []):
            if src.startswith(prefix):
                short = src[len(prefix):]
                if short not in sources:
                    sources.append(short)
    return round(best[0], 2), sources


def parse_nextpnr_log(text: str, target_mhz: float | None = None) -> PnrReport:
    """Fallback: the last ``Max frequency for clock`` line per clock in a nextpnr log."""
    fmax = {}
    for clock, got, _, want in _LOG_FMAX.findall(text):
        fmax[clock] = {"achieved": float(got), "constraint": float(want)}  # later lines win
    clock = _pick_clock(fmax, target_mhz)
    return PnrReport(clock=clock, fmax_mhz=fmax[clock]["achieved"], constraint_mhz=fmax[clock]["constraint"])


# --- results -----------------------------------------------------------------------------------
@dataclass
class BuildResult:
    """One (board, block) build; ``block_*`` from the out-of-context synthesis (None if skipped)."""

    board: str
    device: str
    block: str
    config: str
    target_mhz: float
    fmax_mhz: float
    met: bool
    lut: int
    ff: int
    bram: int
    dsp: int
    cells: int
    cells_available: int
    w_in: int
    w_out: int
    block_lut: int | None = None
    block_ff: int | None = None
    block_bram: int | None = None
    block_dsp: int | None = None
    seconds: float = 0.0
    build_dir: str = ""
    bitstream: str = ""
    critical_ns: float | None = None
    critical_sources: list = field(default_factory=list)
    tools: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


# --- running -----------------------------------------------------------------------------------
#: nextpnr log markers, latest stage first.
_STAGES = (("Program finished", "nextpnr done; bitstream"), ("Info: Routing", "nextpnr: routing"),
           ("placer", "nextpnr: placing"), ("Info: Packing", "nextpnr: packing"))


def _stage(build_dir: Path) -> str:
    tim = build_dir / "top.tim"
    if not tim.exists():
        return "yosys: synthesis"
    try:
        text = tim.read_text(errors="replace")
    except OSError:
        return "nextpnr"
    for key, label in _STAGES:
        if key in text:
            return label
    return "nextpnr: reading netlist"


def run_logged(cmd: list[str], cwd: Path, env: dict, log: Path, *, nice: int, label: str,
               progress: Progress | None, stage: Callable[[], str] | None = None, every: float = 15.0) -> None:
    """Run ``cmd`` (niced) with its output in ``log``, reporting the stage on change or every ``every`` s."""
    if nice and shutil.which("nice"):
        cmd = ["nice", "-n", str(nice), *cmd]
    t0 = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        last_msg, last_t = None, t0
        while proc.poll() is None:
            time.sleep(0.5)
            msg = stage() if stage else "running"
            now = time.monotonic()
            if progress and (msg != last_msg or now - last_t >= every):
                progress(f"  {label}: {msg} ({now - t0:.0f} s)")
                last_msg, last_t = msg, now
    if proc.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"{label}: `{' '.join(cmd)}` failed (exit {proc.returncode}); see {log}\n{tail}")


def tool_versions(board: Board, env: dict) -> dict[str, str]:
    out = {}
    for var in board.tools:
        exe = env.get(var)
        if not exe or var == "ICEPACK":  # icepack has no version option
            continue
        flag = "-V" if var == "YOSYS" else "--version"
        try:
            r = subprocess.run([exe, flag], env=env, capture_output=True, text=True, timeout=300, check=False)
            text = (r.stdout + r.stderr).strip().splitlines()
            out[var] = text[-1] if text else "?"
        except (OSError, subprocess.SubprocessError):
            out[var] = "?"
    return out


def synth_ooc(board: Board, dut, name: str, out_dir: Path, env: dict, *, nice: int,
              progress: Progress | None) -> dict[str, int]:
    """The block alone through yosys (``synth_<family> -top <name>``); returns its counts."""
    from amaranth.back import rtlil

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.il").write_text(rtlil.convert(dut, name=name, emit_src=False))
    script = (f"read_rtlil {name}.il; synth_{board.family} {SYNTH_OPTS.get(board.family, '')} -top {name}; "
              f"tee -q -o {name}.stat.json stat -json")
    run_logged([env["YOSYS"], "-q", "-l", f"{name}.yosys.log", "-p", script], out_dir, env,
               out_dir / "run.log", nice=nice, label=f"{board.name}/{name} (block alone)",
               progress=progress, stage=lambda: "yosys: out-of-context synthesis")
    return parse_yosys_stat((out_dir / f"{name}.stat.json").read_text(), board.family, name)



def nextpnr_options(section) -> str:
    """nextpnr's options for a build with the ``[board]`` section ``section`` (seed and placer)."""
    return (f"--report top.report.json --timing-allow-fail --seed {section.pnr_seed} "
            f"--placer {section.placer}")

def build_block(board: Board, name: str, factory, cfg: BoardConfig, *, out_root: Path = BUILD_ROOT,
                target_mhz: float | None = None, nice: int = 10, ooc: bool = True,
                progress: Progress | None = print) -> BuildResult:
    """Place ``factory(cfg)`` on ``board`` through the harness, run the toolchain, parse the reports."""
    t0 = time.monotonic()
    target = target_mhz or cfg.board.target_for(name) or board.default_target_mhz
    cfg = replace(cfg, board=replace(cfg.board, target_mhz=target))  # the demo's UART divisor uses it
    build_dir = out_root / board.name / name
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True)
    env = tool_environment(board)

    top = BoardTop(board, factory(cfg), target_hz=target * 1e6, seed=cfg.board.seed,
                   capture=cfg.board.capture)
    pll_mhz = top.f_hz / 1e6
    plat = board.platform()
    plan = plat.prepare(
        top, name="top", synth_opts=SYNTH_OPTS.get(board.family, ""),
        nextpnr_opts=nextpnr_options(cfg.board),
        script_after_synth="tee -q -o top.stat.json stat -json")
    plan.extract(build_dir)
    if progress:
        progress(f"{board.name}/{name}: {top.harness.w_in} input bits, {top.harness.w_out} output bits, "
                 f"sync {pll_mhz:g} MHz -> {build_dir.relative_to(ROOT) if build_dir.is_relative_to(ROOT) else build_dir}")
    run_logged(["sh", "build_top.sh"], build_dir, env, build_dir / "build.log", nice=nice,
               label=f"{board.name}/{name}", progress=progress, stage=lambda: _stage(build_dir))

    board_counts = parse_yosys_stat((build_dir / "top.stat.json").read_text(), board.family)
    report_path = build_dir / "top.report.json"
    if report_path.exists():
        pnr = parse_nextpnr_report(report_path.read_text(), pll_mhz)
    else:
        pnr = parse_nextpnr_log((build_dir / "top.tim").read_text(), pll_mhz)
    cells = pnr.used(board.family, "cells") or (0, 0)
    bram = pnr.used(board.family, "BRAM")
    dsp = pnr.used(board.family, "DSP")

    block_counts = None
    if ooc:
        block_counts = synth_ooc(board, factory(cfg), name, build_dir / "ooc", env, nice=nice, progress=progress)

    bit = build_dir / ("top.bin" if board.family == "ice40" else "top.bit")
    result = BuildResult(
        board=board.name, device=board.device, block=name,
        config=str(cfg.path.relative_to(ROOT) if cfg.path and cfg.path.is_relative_to(ROOT) else cfg.path),
        target_mhz=round(pll_mhz, 3), fmax_mhz=round(pnr.fmax_mhz, 2), met=pnr.met,
        lut=board_counts["LUT"], ff=board_counts["FF"],
        bram=bram[0] if bram else board_counts["BRAM"], dsp=dsp[0] if dsp else board_counts["DSP"],
        cells=cells[0], cells_available=cells[1],
        w_in=top.harness.w_in, w_out=top.harness.w_out,
        block_lut=block_counts["LUT"] if block_counts else None,
        block_ff=block_counts["FF"] if block_counts else None,
        block_bram=block_counts["BRAM"] if block_counts else None,
        block_dsp=block_counts["DSP"] if block_counts else None,
        seconds=round(time.monotonic() - t0, 1),
        build_dir=str(build_dir), bitstream=str(bit) if bit.exists() else "",
        critical_ns=pnr.critical_ns, critical_sources=pnr.critical_sources,
        tools=tool_versions(board, env),
    )
    (build_dir / "result.json").write_text(json.dumps(result.to_dict(), indent=2))
    return result


# --- tables ------------------------------------------------------------------------------------
COLUMNS = ("board", "block", "LUT4", "FF", "BRAM", "DSP", "board LUT4", "board FF", "cells", "Fmax MHz",
           "target MHz", "met")


def table_rows(results: list[BuildResult]) -> list[tuple[str, ...]]:
    def opt(v):
        return "-" if v is None else str(v)

    rows = []
    for r in results:
        pct = f"{100 * r.cells / r.cells_available:.1f}%" if r.cells_available else "?"
        rows.append((r.board, r.block, opt(r.block_lut), opt(r.block_ff), opt(r.block_bram), opt(r.block_dsp),
                     str(r.lut), str(r.ff), f"{r.cells} ({pct})", f"{r.fmax_mhz:.1f}", f"{r.target_mhz:g}",
                     "yes" if r.met else "NO"))
    return rows


def format_table(results: list[BuildResult], markdown: bool = False) -> str:
    rows = table_rows(results)
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(COLUMNS)]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*COLUMNS), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


def main_progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_rows(board_names: tuple[str, ...] = ("icebreaker", "ulx3s"), block: str = "all",
               progress: Progress | None = main_progress) -> list[tuple[str, str, str]]:
    """Build every block on each board and return ``(what, value, note)`` rows in the format of
    :mod:`tb.bench.benchmarks` (one row per build: Fmax as the value, resources in the note)."""
    from boards import blocks
    from boards.config import load_board_config
    from boards.platforms import board as get_board

    rows = []
    for name in board_names:
        b = get_board(name)
        cfg = load_board_config(None, name)
        for blk, factory in blocks.select(block).items():
            r = build_block(b, blk, factory, cfg, progress=progress)
            note = (f"block LUT4 {r.block_lut}, FF {r.block_ff}, BRAM {r.block_bram}, DSP {r.block_dsp}; "
                    f"on board {r.cells}/{r.cells_available} cells; target {r.target_mhz:g} MHz "
                    f"{'met' if r.met else 'missed'}; build {r.seconds:.0f} s")
            rows.append((f"{name}/{blk}: Fmax", f"{r.fmax_mhz:.1f} MHz", note))
    return rows
