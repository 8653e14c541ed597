"""`reram-accel asic` (boards/asic.py): report parsers on recorded tool output, memories kept as SRAM
macros, the tool checks, and one real synthesis when yosys, OpenSTA and the OSU 0.18 um library are
installed (`make asic` installs them; without them that test skips and says so).

The fixtures were recorded from a run of the flow on an UpdateUnit of 2x2 synapses, chi_width 8
(Debian yosys 0.23, OpenSTA 2.0.17, OSU 0.18 um typical).
"""
from __future__ import annotations

import shutil

import pytest

from boards import asic
from boards.asic import (
    LIBERTY,
    SRAM_MODEL,
    AsicResult,
    AsicToolError,
    count_flip_flops,
    find_tools,
    format_table,
    macro_liberty,
    parse_memories,
    parse_sta_report,
    parse_yosys_stat,
    select_blocks,
    sequential_cells,
    synthesis_verilog,
    yosys_script,
)
from golden.spec.params import AccelParams, ConfigError
from tb.cli.main import main

STAT = r"""
9. Printing statistics.

=== update_unit ===

   Number of wires:                206
   Number of wire bits:            371
   Number of public wires:          51
   Number of public wire bits:     216
   Number of memories:               0
   Number of memory bits:            0
   Number of processes:              0
   Number of cells:                186
     $mem_v2                         1
     AND2X2                         13
     AOI21X1                        24
     AOI22X1                         2
     BUFX2                           5
     DFFPOSX1                       18
     INVX1                          21
     MUX2X1                          2
     NAND2X1                        16
     NAND3X1                         6
     NOR2X1                         21
     NOR3X1                          2
     OAI21X1                        38
     OAI22X1                         1
     OR2X2                           5
     XNOR2X1                        11

   Area for cell type $mem_v2 is unknown!

   Chip area for module '\update_unit': 6466.000000
"""

MEMORIES = r"""
  attribute \src "update_unit.v:101.13-101.16"
  cell $mem_v2 \mem
    parameter \ABITS 2
    parameter \INIT 0
    parameter \MEMID "\\mem"
    parameter \OFFSET 0
    parameter \RD_ARST_VALUE 8'x
    parameter \RD_CE_OVER_SRST 1'0
    parameter \RD_CLK_ENABLE 1'1
    parameter \RD_CLK_POLARITY 1'1
    parameter \RD_COLLISION_X_MASK 1'0
    parameter \RD_INIT_VALUE 8'x
    parameter \RD_PORTS 1
    parameter \RD_SRST_VALUE 8'x
    parameter \RD_TRANSPARENCY_MASK 1'1
    parameter \RD_WIDE_CONTINUATION 1'0
    parameter \SIZE 4
    parameter \WIDTH 8
    parameter \WR_CLK_ENABLE 1'1
    parameter \WR_CLK_POLARITY 1'1
    parameter \WR_PORTS 1
    parameter \WR_PRIORITY_MASK 1'0
    parameter \WR_WIDE_CONTINUATION 1'0
    connect \RD_ADDR { \i__payload [0] \$30 }
    connect \RD_ARST 1'0
    connect \RD_CLK \clk
    connect \RD_DATA \_0_
    connect \RD_EN \i__ready
    connect \RD_SRST 1'0
    connect \WR_ADDR { \b_row \$33 }
    connect \WR_CLK \clk
    connect \WR_DATA \chi_new
    connect \WR_EN { \wp__en \wp__en \wp__en \wp__en \wp__en \wp__en \wp__en \wp__en }
  end
"""

STA = r"""
Startpoint: mem (rising edge-triggered flip-flop clocked by clk)
Endpoint: mem (rising edge-triggered flip-flop clocked by clk)
Path Group: clk
Path Type: max

   Delay     Time   Description
-----------------------------------------------------------
   0.000    0.000   clock clk (rise edge)
   0.000    0.000   clock network delay (ideal)
   0.000    0.000 ^ mem/RD_CLK (sram_4x8_1r1w)
   2.500    2.500 v mem/RD_DATA[0] (sram_4x8_1r1w)
   0.190    2.690 v _161_/Y (AND2X2)
   0.141    2.831 ^ _164_/Y (AOI21X1)
   0.078    2.909 v _167_/Y (OAI21X1)
   0.148    3.057 ^ _170_/Y (OAI21X1)
   0.111    3.168 v _172_/Y (OAI21X1)
   0.173    3.341 ^ _176_/Y (AOI21X1)
   0.143    3.484 v _187_/Y (NOR2X1)
   0.069    3.554 ^ _188_/Y (NAND2X1)
   0.184    3.738 ^ _189_/Y (BUFX2)
   0.107    3.845 ^ _200_/Y (AND2X2)
   0.097    3.941 v _201_/Y (INVX1)
   0.212    4.154 ^ _238_/Y (OAI21X1)
   0.209    4.363 v _239_/Y (XNOR2X1)
   0.181    4.543 ^ _246_/Y (NAND3X1)
   0.045    4.589 v _247_/Y (NAND3X1)
   0.214    4.802 v _248_/Y (BUFX2)
   0.256    5.058 v _249_/Y (BUFX2)
   0.000    5.058 v mem/RD_EN (sram_4x8_1r1w)
            5.058   data arrival time

  10.000   10.000   clock clk (rise edge)
   0.000   10.000   clock network delay (ideal)
   0.000   10.000   clock reconvergence pessimism
           10.000 ^ mem/RD_CLK (sram_4x8_1r1w)
  -0.300    9.700   library setup time
            9.700   data required time
-----------------------------------------------------------
            9.700   data required time
           -5.058   data arrival time
-----------------------------------------------------------
            4.642   slack (MET)
"""


# --- parsers on recorded output --------------------------------------------------------------------
def test_yosys_stat_gives_cells_and_area():
    by_type, area = parse_yosys_stat(STAT)
    assert area == 6466.0
    assert by_type["$mem_v2"] == 1 and by_type["DFFPOSX1"] == 18 and by_type["XNOR2X1"] == 11
    assert sum(by_type.values()) == 186  # yosys' "Number of cells", the macro included


def test_yosys_stat_without_liberty_is_an_error():
    with pytest.raises(ValueError, match="Chip area"):
        parse_yosys_stat(STAT.split("Area for cell type")[0])


def test_memory_is_a_macro_not_flip_flops():
    by_type, _ = parse_yosys_stat(STAT)
    sequential = {"DFFPOSX1", "DFFNEGX1", "DFFSR", "LATCH"}
    assert count_flip_flops(by_type, sequential) == 18  # the pipeline registers, not the 32 chi bits
    (mem,) = parse_memories(MEMORIES)
    assert (mem.name, mem.width, mem.depth, mem.abits) == ("mem", 8, 4, 2)
    assert (mem.read_ports, mem.write_ports, mem.read_clocked) == (1, 1, True)
    assert mem.bits == 2 * 2 * 8 and mem.macro_type == "sram_4x8_1r1w"


def test_sequential_cells_of_a_liberty():
    text = """library(x) {
      cell (INVX1) { area : 16; pin(Y) { function : "(!A)"; } }
      cell (DFFPOSX1) { area : 96; ff (DS0000,P0002) { next_state : "D"; clocked_on : "CLK"; } }
      cell (LATCH) { area : 64; latch (DS0000,P0000) { data_in : "D"; enable : "CLK"; } }
    }"""
    assert sequential_cells(text) == {"DFFPOSX1", "LATCH"}
    if LIBERTY.is_file():
        assert sequential_cells(LIBERTY.read_text()) == {"DFFNEGX1", "DFFPOSX1", "DFFSR", "LATCH"}


def test_sta_report_gives_the_worst_path():
    r = parse_sta_report(STA, period_ns=10.0)
    assert (r.startpoint, r.endpoint) == ("mem", "mem")
    assert r.arrival_ns == 5.058 and r.slack_ns == 4.642
    assert r.min_period_ns == pytest.approx(10.0 - 4.642) and r.fmax_mhz == pytest.approx(1e3 / 5.358, abs=0.05)
    violated = STA.replace("4.642   slack (MET)", "-1.250   slack (VIOLATED)")
    assert parse_sta_report(violated, 10.0).min_period_ns == pytest.approx(11.25)
    assert parse_sta_report("No paths found.", 10.0) is None


ASYNC_GROUP = """Startpoint: aresetn (input port clocked by clk)
Endpoint: _18322_ (recovery check against rising-edge clock clk)
Path Group: **async_default**
Path Type: max

   Delay     Time   Description
-----------------------------------------------------------
   0.000    0.000 ^ aresetn (in)
   0.000    0.000 ^ _18322_/S (DFFSR)
            0.000   data arrival time
  10.016   10.016   data required time
-----------------------------------------------------------
           10.016   slack (MET)
"""


def test_sta_report_takes_the_worst_path_of_every_group():
    """OpenSTA reports one path per group; the asynchronous reset's recovery check (a top with an
    ``aresetn`` synchronizer) comes first and has the larger slack: the clock group decides Fmax."""
    r = parse_sta_report(ASYNC_GROUP + STA, period_ns=10.0)
    assert (r.startpoint, r.slack_ns, r.arrival_ns) == ("mem", 4.642, 5.058)
    assert r.fmax_mhz == pytest.approx(1e3 / 5.358, abs=0.05)
    assert parse_sta_report(STA + ASYNC_GROUP, period_ns=10.0) == r


def test_sta_report_without_a_register_to_register_path_has_no_fmax():
    """Only the recovery check of an input: period - slack is not a clock period (it was -0.016 ns,
    printed as Fmax -62500 MHz)."""
    assert parse_sta_report(ASYNC_GROUP, period_ns=10.0) is None


def test_macro_liberty_has_area_and_timing_of_each_shape():
    mems = parse_memories(MEMORIES)
    text = macro_liberty(mems * 2)  # the same shape twice: one cell
    assert text.count("cell (sram_4x8_1r1w)") == 1
    assert f"area : {SRAM_MODEL.area_um2(32):.1f};" in text
    assert "bus (RD_DATA)" in text and "bus_type : bus8;" in text and "timing_type : rising_edge" in text
    assert text.count("{") == text.count("}")


def test_sram_model_is_bits_times_area_per_bit():
    assert SRAM_MODEL.um2_per_bit == pytest.approx(SRAM_MODEL.bitcell_um2 / SRAM_MODEL.array_efficiency)
    assert SRAM_MODEL.area_um2(16384) == pytest.approx(16384 * SRAM_MODEL.um2_per_bit)


def test_table_has_logic_and_macro_area_apart():
    r = AsicResult(block="update_unit", config="default", cells=185, logic_area_um2=6466.0, flip_flops=18,
                   macro_bits=32, macro_area_um2=297.6, min_period_ns=5.36, fmax_mhz=186.6)
    md = format_table([r], markdown=True).splitlines()
    assert md[0].startswith("| config | block | cells | logic um^2 | FF | macro bits | macro um^2 | total um^2")
    assert md[2] == "| default | update_unit | 185 | 6,466 | 18 | 32 | 298 | 6,764 | 5.36 | 186.6 |"
    assert "update_unit" in format_table([r])


def test_only_shallow_memories_become_flip_flops():
    script = yosys_script("update_unit", "cells.lib", period_ns=8.0, macro_min_depth=32)
    lines = script.splitlines()
    assert "memory_map t:$mem_v2 r:SIZE<32 %i" in lines  # register files below 32 words (%i: both)
    assert "memory_map" not in " ".join(line for line in lines if not line.startswith("memory_map t:$mem_v2 r:"))
    assert "-run :fine" in script  # synth stops before its own (unrestricted) memory_map
    assert "abc -D 8000 -liberty cells.lib" in script


# --- bad input -------------------------------------------------------------------------------------
def test_unknown_block_names_the_allowed_ones(capsys):
    with pytest.raises(ConfigError, match=r"\['nosuch'\] not known: allowed .*update_unit"):
        select_blocks("update_unit,nosuch")
    assert main(["asic", "--block", "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_bad_period_or_config_fails_before_any_synthesis(capsys, tmp_path):
    assert main(["asic", "--block", "update_unit", "--period-ns", "0"]) == 2
    assert "argument --period-ns: 0 is out of range" in capsys.readouterr().err
    assert main(["asic", "--block", "update_unit", "--config", "default", "--config", "nosuch.toml",
                 "--out", str(tmp_path)]) == 2
    assert "nosuch.toml" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # the default config was not synthesised first


def test_missing_tool_or_library_says_how_to_install(monkeypatch, tmp_path):
    with pytest.raises(AsicToolError, match=r"liberty .*nolib.lib.*qflow.*make asic"):
        find_tools(tmp_path / "nolib.lib")
    real = shutil.which
    monkeypatch.setattr(asic.shutil, "which", lambda name: None if name == "sta" else real(name))
    with pytest.raises(AsicToolError, match=r"missing .*sta.*apt-get install -y qflow opensta"):
        find_tools(tmp_path / "nolib.lib")


def test_missing_tool_is_a_clear_cli_error(monkeypatch, capsys):
    monkeypatch.setattr(asic.shutil, "which", lambda name: None)
    assert main(["asic", "--block", "update_unit"]) == 2
    err = capsys.readouterr().err
    assert "yosys" in err and "sta" in err and "make asic" in err


# --- Verilog for synthesis -------------------------------------------------------------------------
def test_synthesis_verilog_has_no_formal_or_print_cells():
    from hw.pulse_scheduler import PulseScheduler
    from tb.kit.runner import to_verilog

    params = AccelParams()
    assert "assert (" in to_verilog(PulseScheduler.from_params(params), "pulse_scheduler")  # what 0.23 rejects
    text = synthesis_verilog(PulseScheduler.from_params(params), "pulse_scheduler")
    assert "module pulse_scheduler(" in text
    assert "assert" not in text and "$write" not in text and "$display" not in text


# --- one real synthesis ----------------------------------------------------------------------------
def _tools_or_skip():
    try:
        return find_tools()
    except AsicToolError as e:
        pytest.skip(f"ASIC tools not installed ({e})")


def test_real_synthesis_keeps_the_chi_memory_a_macro(tmp_path):
    _tools_or_skip()
    from hw.update_unit import UpdateUnit

    params = AccelParams().with_(array={"rows": 32, "cols": 64})
    chi_bits = 32 * 64 * params.update.chi_width
    r = asic.synth_block("update_unit", UpdateUnit(params), config="test", out_root=tmp_path)
    assert r.macro_bits == chi_bits and r.macro_area_um2 == pytest.approx(SRAM_MODEL.area_um2(chi_bits), abs=0.1)
    (mem,) = r.memories
    assert (mem["depth"], mem["width"]) == (32 * 64, params.update.chi_width)
    assert 0 < r.flip_flops < 100  # pipeline registers only: the 32768 chi bits are not flip-flops
    assert r.cells >= r.flip_flops and r.logic_area_um2 > 0
    assert r.fmax_mhz is not None and 10 < r.fmax_mhz < 1000
    assert r.critical_from  # OpenSTA found a constrained path


def test_real_synthesis_builds_a_tiny_memory_from_flip_flops(tmp_path):
    _tools_or_skip()
    from hw.update_unit import UpdateUnit

    params = AccelParams().with_(array={"rows": 2, "cols": 2})  # 4 words: under MACRO_MIN_DEPTH
    chi_bits = 4 * params.update.chi_width
    tiny = asic.synth_block("update_unit", UpdateUnit(params), config="tiny", out_root=tmp_path)
    assert tiny.macro_bits == 0 and tiny.memories == []
    as_macro = asic.synth_block("update_unit", UpdateUnit(params), config="macro", out_root=tmp_path,
                                macro_min_depth=0)
    assert as_macro.macro_bits == chi_bits
    # the chi words, one flip-flop per bit, plus the read-data register the macro holds inside
    assert tiny.flip_flops == as_macro.flip_flops + chi_bits + params.update.chi_width
