"""ASIC estimate: yosys synthesis against the OSU 0.18 um standard cells, OpenSTA timing, SRAM macros.

Per block, ``build/asic/<config>/<block>/`` holds:

* ``<block>.v`` — the block's Verilog for synthesis (formal and print cells removed, see
  :func:`synthesis_verilog`);
* ``synth.ys`` / ``yosys.log`` — the yosys script and log; ``stat.txt`` (``stat -liberty``),
  ``memories.il`` (the memory cells kept as macros), ``synth.il`` (the mapped netlist);
* ``sta.v`` / ``macros.lib`` / ``sta.tcl`` / ``sta.log`` — the OpenSTA netlist (every memory a macro
  cell), the macros' timing model, the script and its report;
* ``result.json`` — the :class:`AsicResult`.

Synthesis: ``synth -flatten`` up to the fine stage, then ``techmap``, ``dfflibmap``, ``abc`` against the
liberty (with ABC's fanout buffering and gate sizing for the clock period, :data:`ABC_SCRIPT`), so
every cell is a standard cell except memories: yosys' ``memory -nomap`` keeps each Amaranth
``Memory`` as one ``$mem_v2`` cell, which is never mapped to flip-flops; its bits are counted as an
SRAM macro with the area model of :data:`SRAM_MODEL`. Only a memory shallower than
:data:`MACRO_MIN_DEPTH` words (a FIFO's few entries) is built from flip-flops, as a register file:
SRAM compilers do not go that small, and the macro's fixed periphery would outweigh its bits.

Timing: OpenSTA on the mapped netlist, ``create_clock`` on ``clk`` (a virtual clock for a purely
combinational block), input and output delays 0, the liberty's only (typical) corner, no wire load
and no placement; each memory is a macro cell whose read data leave ``access_ns`` after the clock
edge and whose inputs need ``setup_ns`` (assumed, :data:`SRAM_MODEL`). The minimum period is the
clock period minus the worst setup slack; Fmax is its inverse.

Tools: Debian's yosys (installed with ``qflow``, which also ships the OSU 0.18 um library) and
Debian's ``opensta``; ``make asic`` installs both. Debian's yosys is native and brings ``yosys-abc``;
the YoWASP yosys of the ``fpga`` extra would also read RTLIL directly but runs as WebAssembly.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from golden.spec.params import AccelParams, ConfigError

ROOT = Path(__file__).resolve().parents[1]
BUILD_ROOT = ROOT / "build" / "asic"
LIBERTY = Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib")
INSTALL_HINT = "install with `make asic` (runs `apt-get install -y qflow opensta`)"
CAVEATS = ("OSU 0.18 um standard cells, typical corner (1.8 V, 25 C); no wire load, no placement, "
           "no clock tree; SRAM macros from an area-per-bit model and an assumed access time")

Progress = Callable[[str], None]


class AsicToolError(RuntimeError):
    """A tool or the cell library is missing, or a tool failed."""


@dataclass(frozen=True)
class SramModel:
    """Area and timing of one SRAM macro, from its bit count (assumptions, not a memory compiler).

    ``bitcell_um2``: a 6T bit cell of a 0.18 um logic process is about 4.5-5 um^2 (4.65 um^2 is the
    value commonly published for foundry 0.18 um processes); ``array_efficiency``: the share of a
    small compiled single-port macro (a few kbit) taken by the bit cells, the rest being decoders,
    sense amplifiers and write drivers (about 0.5 at this size). A 1R1W (two-port) macro, which a
    read-modify-write memory needs for one access per cycle, is larger by roughly 1.5x; the
    estimate keeps the single-port figure and reports the ports. ``access_ns`` / ``setup_ns``:
    clock-to-read-data and input setup of such a macro at 1.8 V, typical.
    """

    bitcell_um2: float = 4.65
    array_efficiency: float = 0.5
    access_ns: float = 2.5
    setup_ns: float = 0.3

    @property
    def um2_per_bit(self) -> float:
        return self.bitcell_um2 / self.array_efficiency

    def area_um2(self, bits: int) -> float:
        return bits * self.um2_per_bit


SRAM_MODEL = SramModel()


# --- tools ---------------------------------------------------------------------------------------
def find_tools(liberty: Path = LIBERTY) -> dict[str, str]:
    """Paths of ``yosys``, ``yosys-abc``, ``sta`` and the liberty; a missing one is an
    :class:`AsicToolError` naming it and how to install it."""
    found = {"yosys": shutil.which("yosys"), "yosys-abc": shutil.which("yosys-abc"), "sta": shutil.which("sta")}
    missing = [name for name, path in found.items() if path is None]
    if not Path(liberty).is_file():
        missing.append(f"liberty {liberty} (Debian package qflow)")
    if missing:
        raise AsicToolError(f"ASIC flow: missing {', '.join(missing)}; {INSTALL_HINT}")
    return {**found, "liberty": str(liberty)}


def tool_versions(tools: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, flag in (("yosys", "-V"), ("sta", "-version")):
        r = subprocess.run([tools[name], flag], capture_output=True, text=True, timeout=60, check=False,
                           stdin=subprocess.DEVNULL)
        lines = (r.stdout + r.stderr).strip().splitlines()
        out[name] = lines[0] if lines else "?"
    return out


def run_tool(cmd: list[str], cwd: Path, log: Path, label: str, timeout: float = 3600) -> str:
    """Run ``cmd`` with its output in ``log``; a failure raises with the log's tail."""
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                       stdin=subprocess.DEVNULL)
    log.write_text(r.stdout + r.stderr)
    if r.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise AsicToolError(f"{label}: `{' '.join(cmd)}` failed (exit {r.returncode}); see {log}\n{tail}")
    return r.stdout


# --- Verilog for synthesis -----------------------------------------------------------------------
def synthesis_verilog(component, name: str) -> str:
    """Verilog of ``component`` without Amaranth's formal (``$check``) and print (``$print``) cells,
    which Debian's yosys 0.23 cannot read: the synth flavour of :func:`hw.verilog_output.convert`."""
    from hw.verilog_output import convert

    return convert(component, name, flavour="synth")


#: yosys' ABC script for a liberty, followed by ABC's fanout buffering and gate sizing against the
#: delay target: without them a high-fanout net (a FIFO enable, the reset) hangs on one X1 gate.
ABC_SCRIPT = ("+strash;&get,-n;&fraig,-x;&put;scorr;dc2;dretime;strash;&get,-n;&dch,-f;&nf,{D};&put;"
              "buffer,-p;upsize,{D};dnsize,{D};stime,-p")


#: Memories with fewer words than this become flip-flops (register files), the others SRAM macros.
MACRO_MIN_DEPTH = 32


def yosys_script(name: str, liberty: str, period_ns: float = 10.0, macro_min_depth: int = MACRO_MIN_DEPTH) -> str:
    """Synthesis to the liberty's cells with memories of at least ``macro_min_depth`` words left as
    ``$mem_v2`` macros; ABC maps, buffers and sizes for a delay target of ``period_ns``."""
    return "\n".join([
        f"read_verilog {name}.v",
        f"synth -top {name} -flatten -run :fine",  # ends with `memory -nomap`
        "opt -fast -full",
        f"memory_map t:$mem_v2 r:SIZE<{macro_min_depth} %i",  # register files; the rest stay macros
        "opt -full", "techmap", "opt -fast",  # synth's fine stage, memory_map restricted as above
        f"dfflibmap -liberty {liberty}",
        f"abc -D {round(period_ns * 1000)} -liberty {liberty} -script {ABC_SCRIPT}",
        "opt_clean",
        f"tee -o stat.txt stat -liberty {liberty}",
        "tee -q -o memories.il dump t:$mem_v2",
        "write_rtlil synth.il",
    ]) + "\n"


# --- parsing -------------------------------------------------------------------------------------
_STAT_CELL = re.compile(r"^\s+(\S+)\s+(\d+)\s*$")
_STAT_AREA = re.compile(r"Chip area for (?:module|top module) '\\?([^']+)':\s*([0-9.eE+-]+)")


def parse_yosys_stat(text: str) -> tuple[dict[str, int], float]:
    """Cells by type and the chip area (um^2) of the last module in a yosys ``stat -liberty`` text."""
    by_type: dict[str, int] = {}
    area = None
    in_cells = False
    for line in text.splitlines():
        if line.strip().startswith("=== "):
            by_type, in_cells = {}, False
        elif line.strip().startswith("Number of cells:"):
            in_cells = True
        elif in_cells and (m := _STAT_CELL.match(line)):
            by_type[m.group(1)] = int(m.group(2))
        elif in_cells and by_type:
            in_cells = False  # the first line after the list
        if m := _STAT_AREA.search(line):
            area = float(m.group(2))
    if area is None:
        raise ValueError("no 'Chip area' line in the yosys stat output: was it run with -liberty?")
    return by_type, area


def sequential_cells(liberty_text: str) -> set[str]:
    """Names of the liberty's cells that hold state (an ``ff`` or ``latch`` group)."""
    cells = set()
    for m in re.finditer(r"\bcell\s*\(\s*\"?([\w$]+)\"?\s*\)\s*\{(.*?)(?=\bcell\s*\(|\Z)", liberty_text, re.DOTALL):
        if re.search(r"\b(ff|latch|ff_bank|latch_bank)\s*\(", m.group(2)):
            cells.add(m.group(1))
    return cells


def standard_cells(by_type: dict[str, int]) -> dict[str, int]:
    """The mapped cells: yosys' internal cells (``$mem_v2`` macros) left out."""
    return {t: n for t, n in by_type.items() if not t.startswith("$")}


def count_flip_flops(by_type: dict[str, int], sequential: set[str]) -> int:
    """Standard cells that hold state; a memory macro counts as macro bits, never here."""
    return sum(n for t, n in standard_cells(by_type).items() if t in sequential)


@dataclass(frozen=True)
class Memory:
    """One memory kept as a macro: ``width`` x ``depth`` with its port counts."""

    name: str
    width: int
    depth: int
    abits: int
    read_ports: int
    write_ports: int
    read_clocked: bool

    @property
    def bits(self) -> int:
        return self.width * self.depth

    @property
    def macro_type(self) -> str:
        sync = "" if self.read_clocked else "a"
        return f"sram_{self.depth}x{self.width}_{self.read_ports}r{sync}{self.write_ports}w"


def _rtlil_int(value: str) -> int:
    value = value.strip()
    if "'" in value:
        return int(value.split("'", 1)[1].replace("x", "0"), 2)
    return int(value)


def parse_memories(rtlil_dump: str) -> list[Memory]:
    """The ``$mem_v2`` cells of a yosys ``dump`` (RTLIL text)."""
    mems = []
    for m in re.finditer(r"cell \$mem_v2 (\S+)\n(.*?)\n\s*end", rtlil_dump, re.DOTALL):
        params = dict(re.findall(r"parameter \\(\w+) (\S+)", m.group(2)))
        rd_ports = _rtlil_int(params["RD_PORTS"])
        mems.append(Memory(
            name=m.group(1).lstrip("\\"), width=_rtlil_int(params["WIDTH"]), depth=_rtlil_int(params["SIZE"]),
            abits=_rtlil_int(params["ABITS"]), read_ports=rd_ports, write_ports=_rtlil_int(params["WR_PORTS"]),
            read_clocked=rd_ports == 0 or _rtlil_int(params["RD_CLK_ENABLE"]) == (1 << rd_ports) - 1))
    return mems


@dataclass
class StaReport:
    """The worst setup path of an OpenSTA ``report_checks``."""

    period_ns: float
    slack_ns: float
    arrival_ns: float
    startpoint: str
    endpoint: str

    @property
    def min_period_ns(self) -> float:
        return round(self.period_ns - self.slack_ns, 3)

    @property
    def fmax_mhz(self) -> float:
        return round(1e3 / self.min_period_ns, 1)


def parse_sta_report(text: str, period_ns: float) -> StaReport | None:
    """The worst path of ``report_checks -path_delay max`` over its clock path groups; None if no such
    path is constrained.

    OpenSTA reports the worst path of each group. The ``**async_default**`` group holds the recovery
    checks of asynchronously reset flip-flops (the ``aresetn`` synchronizer), launched from an input
    port with no delay: its "period - slack" is no clock period, so it does not count here.
    """
    paths = []
    for block in re.split(r"(?m)^(?=Startpoint:)", text):
        start = re.search(r"Startpoint:\s*(\S+)", block)
        end = re.search(r"Endpoint:\s*(\S+)", block)
        group = re.search(r"Path Group:\s*(\S+)", block)
        arrival = re.search(r"^\s*(-?[0-9.]+)\s+data arrival time", block, re.MULTILINE)
        slack = re.search(r"^\s*(-?[0-9.]+)\s+slack \((?:MET|VIOLATED)\)", block, re.MULTILINE)
        if not (start and end and arrival and slack) or (group and group.group(1) == "**async_default**"):
            continue
        paths.append(StaReport(period_ns=period_ns, slack_ns=float(slack.group(1)),
                               arrival_ns=float(arrival.group(1)), startpoint=start.group(1),
                               endpoint=end.group(1)))
    return min(paths, key=lambda r: r.slack_ns, default=None)


# --- the macros' timing model and the STA run ----------------------------------------------------
def _pins(mem: Memory) -> list[tuple[str, int, str, str | None]]:
    """(pin, width, direction, related clock pin) of a ``$mem_v2`` cell."""
    r, w, a, d = mem.read_ports, mem.write_ports, mem.abits, mem.width
    rclk = "RD_CLK" if r == 1 else "RD_CLK[0]"
    wclk = "WR_CLK" if w == 1 else "WR_CLK[0]"
    pins = [("RD_CLK", r, "clock", None), ("RD_EN", r, "input", rclk), ("RD_ARST", r, "input", None),
            ("RD_SRST", r, "input", rclk), ("RD_ADDR", r * a, "input", rclk), ("RD_DATA", r * d, "output", rclk),
            ("WR_CLK", w, "clock", None), ("WR_EN", w * d, "input", wclk), ("WR_ADDR", w * a, "input", wclk),
            ("WR_DATA", w * d, "input", wclk)]
    return [p for p in pins if p[1] > 0]


def _pin_group(pin: str, width: int, direction: str, related: str | None, mem: Memory, model: SramModel) -> str:
    body = [f"direction : {'input' if direction == 'clock' else direction};"]
    if direction == "clock":
        body.append("clock : true;")
    if direction != "output":
        body.append("capacitance : 0.01;")
    if direction == "input" and related:
        for kind in ("setup_rising", "hold_rising"):
            v = model.setup_ns if kind == "setup_rising" else 0.0
            body.append(f'timing () {{ related_pin : "{related}"; timing_type : {kind}; '
                        f'rise_constraint (scalar) {{ values ("{v}"); }} fall_constraint (scalar) {{ values ("{v}"); }} }}')
    if direction == "output":
        src, kind = (related, "rising_edge") if mem.read_clocked else ("RD_ADDR", "combinational")
        body.append(f'timing () {{ related_pin : "{src}"; timing_type : {kind}; '
                    f'cell_rise (scalar) {{ values ("{model.access_ns}"); }} '
                    f'cell_fall (scalar) {{ values ("{model.access_ns}"); }} '
                    f'rise_transition (scalar) {{ values ("0.2"); }} fall_transition (scalar) {{ values ("0.2"); }} }}')
    inner = "\n      ".join(body)
    if width == 1:
        return f"    pin ({pin}) {{\n      {inner}\n    }}"
    return f"    bus ({pin}) {{\n      bus_type : bus{width};\n      {inner}\n    }}"


_THRESHOLDS = (("input_threshold_pct", 50), ("output_threshold_pct", 50), ("slew_lower_threshold_pct", 20),
               ("slew_upper_threshold_pct", 80))


def macro_liberty(memories: list[Memory], model: SramModel = SRAM_MODEL) -> str:
    """A Liberty library with one cell per memory shape: its area from ``model`` and its timing as
    a clocked macro (see the module doc)."""
    widths = sorted({w for m in memories for _, w, _, _ in _pins(m) if w > 1})
    types = [f"  type (bus{w}) {{ base_type : array; data_type : bit; bit_width : {w}; "
             f"bit_from : {w - 1}; bit_to : 0; downto : true; }}" for w in widths]
    cells, seen = [], set()
    for m in memories:
        if m.macro_type in seen:
            continue
        seen.add(m.macro_type)
        pins = "\n".join(_pin_group(*p, m, model) for p in _pins(m))
        cells.append(f"  cell ({m.macro_type}) {{\n    area : {model.area_um2(m.bits):.1f};\n"
                     f"    dont_use : true;\n{pins}\n  }}")
    return ("library (reram_accel_sram_macros) {\n  delay_model : table_lookup;\n  time_unit : \"1ns\";\n"
            "  voltage_unit : \"1V\";\n  current_unit : \"1uA\";\n  capacitive_load_unit (1,pf);\n"
            "  nom_voltage : 1.8;\n  nom_temperature : 25;\n  nom_process : 1;\n"
            + "".join(f"  {k}_{e} : {v};\n" for k, v in _THRESHOLDS for e in ("rise", "fall"))
            + "\n".join(types + cells) + "\n}\n")


_MEM_PARAMS = ("ABITS", "INIT", "MEMID", "OFFSET", "RD_ARST_VALUE", "RD_CE_OVER_SRST", "RD_CLK_ENABLE", "RD_CLK_POLARITY",
               "RD_COLLISION_X_MASK", "RD_INIT_VALUE", "RD_PORTS", "RD_SRST_VALUE", "RD_TRANSPARENCY_MASK",
               "RD_WIDE_CONTINUATION", "SIZE", "WIDTH", "WR_CLK_ENABLE", "WR_CLK_POLARITY", "WR_PORTS",
               "WR_PRIORITY_MASK", "WR_WIDE_CONTINUATION")


def sta_netlist_script(name: str, memories: list[Memory]) -> str:
    """yosys: the mapped netlist with each memory renamed to its macro cell, as plain Verilog."""
    lines = ["read_rtlil synth.il"]
    unset = " ".join(f"-unset {p}" for p in _MEM_PARAMS)
    for m in memories:
        lines.append(f"setparam -type {m.macro_type} {unset} {name}/{m.name}")
    lines += ["splitnets -ports", "opt_clean -purge", "write_verilog -noattr -noexpr -nohex -nodec sta.v"]
    return "\n".join(lines) + "\n"


def sta_script(name: str, liberty: str, period_ns: float, has_clock: bool) -> str:
    clock = "create_clock -name clk -period {p} [get_ports clk]" if has_clock else "create_clock -name clk -period {p}"
    inputs = "[delete_from_list [all_inputs] [get_ports clk]]" if has_clock else "[all_inputs]"
    return "\n".join([
        f"read_liberty {liberty}", "read_liberty macros.lib", "read_verilog sta.v", f"link_design {name}",
        clock.format(p=period_ns),
        f"set_input_delay 0 -clock clk {inputs}", "set_output_delay 0 -clock clk [all_outputs]",
        "report_checks -path_delay max -digits 3", "exit",
    ]) + "\n"


# --- results -------------------------------------------------------------------------------------
@dataclass
class AsicResult:
    """One block's estimate; areas in um^2, times in ns."""

    block: str
    config: str
    cells: int
    logic_area_um2: float
    flip_flops: int
    macro_bits: int
    macro_area_um2: float
    memories: list = field(default_factory=list)
    macro_min_depth: int = MACRO_MIN_DEPTH
    period_ns: float = 0.0
    min_period_ns: float | None = None
    fmax_mhz: float | None = None
    critical_from: str = ""
    critical_to: str = ""
    seconds: float = 0.0
    build_dir: str = ""
    cells_by_type: dict = field(default_factory=dict)
    sram_model: dict = field(default_factory=dict)
    tools: dict = field(default_factory=dict)
    caveats: str = CAVEATS

    def to_dict(self) -> dict:
        return asdict(self)


def synth_block(name: str, component, *, config: str = "default", out_root: Path = BUILD_ROOT,
                period_ns: float = 10.0, model: SramModel = SRAM_MODEL, liberty: Path = LIBERTY,
                macro_min_depth: int = MACRO_MIN_DEPTH, progress: Progress | None = None) -> AsicResult:
    """Synthesise ``component`` as module ``name``, time it, and return the estimate."""
    tools = find_tools(liberty)
    t0 = time.monotonic()
    out = out_root / config / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    lib = tools["liberty"]
    (out / f"{name}.v").write_text(synthesis_verilog(component, name))
    (out / "synth.ys").write_text(yosys_script(name, lib, period_ns, macro_min_depth))
    if progress:
        progress(f"  {config}/{name}: yosys")
    run_tool([tools["yosys"], "-q", "-l", "yosys.log", "-s", "synth.ys"], out, out / "yosys.run.log", f"yosys {name}")
    by_type, area = parse_yosys_stat((out / "stat.txt").read_text())
    memories = parse_memories((out / "memories.il").read_text())
    seq = sequential_cells(Path(lib).read_text())
    std = standard_cells(by_type)
    unmapped = sorted(t for t in by_type if t.startswith("$") and t != "$mem_v2")
    if unmapped:
        raise AsicToolError(f"yosys {name}: cells {unmapped} were not mapped to {Path(lib).name}; see {out}/yosys.log")

    (out / "macros.lib").write_text(macro_liberty(memories, model))
    (out / "sta.ys").write_text(sta_netlist_script(name, memories))
    run_tool([tools["yosys"], "-q", "-s", "sta.ys"], out, out / "sta.yosys.log", f"yosys {name} (STA netlist)")
    has_clock = re.search(r"^\s*input\s+clk\s*;", (out / "sta.v").read_text(), re.MULTILINE) is not None
    (out / "sta.tcl").write_text(sta_script(name, lib, period_ns, has_clock))
    if progress:
        progress(f"  {config}/{name}: OpenSTA")
    run_tool([tools["sta"], "-no_init", "-no_splash", "-exit", "sta.tcl"], out, out / "sta.log", f"OpenSTA {name}")
    sta_log = (out / "sta.log").read_text()
    errors = [line for line in sta_log.splitlines() if line.startswith("Error")]
    if errors:
        raise AsicToolError(f"OpenSTA {name}: {errors[0]}; see {out}/sta.log")
    sta = parse_sta_report(sta_log, period_ns)

    bits = sum(m.bits for m in memories)
    result = AsicResult(
        block=name, config=config, cells=sum(std.values()), logic_area_um2=round(area, 1),
        flip_flops=count_flip_flops(by_type, seq), macro_bits=bits,
        macro_area_um2=round(model.area_um2(bits), 1), macro_min_depth=macro_min_depth, memories=[asdict(m) | {"macro": m.macro_type} for m in memories],
        period_ns=period_ns, min_period_ns=sta.min_period_ns if sta else None,
        fmax_mhz=sta.fmax_mhz if sta else None, critical_from=sta.startpoint if sta else "",
        critical_to=sta.endpoint if sta else "", seconds=round(time.monotonic() - t0, 1), build_dir=str(out),
        cells_by_type=dict(sorted(std.items())), sram_model=asdict(model) | {"um2_per_bit": model.um2_per_bit},
        tools=tool_versions(tools))
    (out / "result.json").write_text(json.dumps(result.to_dict(), indent=2))
    return result


def select_blocks(names: str) -> dict[str, Callable[[AccelParams], object]]:
    """``"all"`` or comma-separated names of :func:`hw.registry.blocks`; an unknown name is a
    ConfigError listing the allowed ones."""
    from hw.registry import blocks

    table = blocks()
    if names == "all":
        return table
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    bad = [n for n in chosen if n not in table]
    if bad or not chosen:
        raise ConfigError(f"block(s) {bad or [names]} not known: allowed {sorted(table)} or 'all'")
    return {n: table[n] for n in chosen}


# --- tables --------------------------------------------------------------------------------------
COLUMNS = ("config", "block", "cells", "logic um^2", "FF", "macro bits", "macro um^2", "total um^2",
           "crit. path ns", "Fmax MHz")


def table_rows(results: list[AsicResult]) -> list[tuple[str, ...]]:
    def opt(v, fmt="{}"):
        return "-" if v is None else fmt.format(v)

    return [(r.config, r.block, str(r.cells), f"{r.logic_area_um2:,.0f}", str(r.flip_flops), str(r.macro_bits),
             f"{r.macro_area_um2:,.0f}", f"{r.logic_area_um2 + r.macro_area_um2:,.0f}",
             opt(r.min_period_ns, "{:.2f}"), opt(r.fmax_mhz, "{:.1f}")) for r in results]


def format_table(results: list[AsicResult], markdown: bool = False) -> str:
    rows = table_rows(results)
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(COLUMNS)]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*COLUMNS), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])
