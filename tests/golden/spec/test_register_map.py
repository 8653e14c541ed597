"""The register-map description: builder checks, the golden register-file model, the emitters."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from golden.spec.bnn_datapath_params import PHASES, BnnHwParams
from golden.spec.params import AccelParams, ConfigError
from golden.spec.register_map import (
    OKAY,
    SLVERR,
    Access,
    Field,
    Register,
    RegisterFileModel,
    RegisterMapBuilder,
    accelerator_register_map,
    lane_mask,
    params_summary,
)

RO, RW, W1C, W1P, WO = Access.RO, Access.RW, Access.W1C, Access.W1P, Access.WO
CONFIGS = {
    "default": AccelParams(),
    "diff-2t2r": AccelParams().with_(array={"rows": 5, "cols": 3, "cell": "2T2R"},
                                     synapse={"devices": 3, "increment": 2, "differential": True}),
    "large": AccelParams().with_(array={"rows": 4096, "cols": 4096}, synapse={"devices": 1},
                                 update={"dw_width": 16, "chi_width": 40, "eps": (1 << 39) - 1}),
}


# --- builder / description checks -------------------------------------------------------------------
def test_fields_are_placed_lsb_first_and_explicit_offsets_kept():
    r = Register("r", (Field("a", 3, RW), Field("b", 5, RO), Field("c", 1, W1C, offset=31)))
    assert [(f.name, f.offset) for f in r.fields] == [("a", 0), ("b", 3), ("c", 31)]
    assert r.field("c").mask == 0x80000000 and r.field("b").bits == "[7:3]"


@pytest.mark.parametrize("make, match", [
    (lambda: Field("f", 33, RW), r"width = 33 is out of range: allowed \[1, 32\]"),
    (lambda: Field("f", 0, RW), r"width = 0 is out of range"),
    (lambda: Field("f", 4, RW, reset=16), r"reset = 16 is out of range: allowed \[0, 15\]"),
    (lambda: Field("f", 4, W1C, reset=1), r"reset = 1 is only allowed for RW"),
    (lambda: Field("f", 4, RW, const=1), r"const is only allowed for RO"),
    (lambda: Field("Bad", 4, RW), r"field name = 'Bad' is not allowed"),
    (lambda: Field("a__b", 4, RW), r"field name = 'a__b' is not allowed"),
    (lambda: Field("f", 4, "RW"), r"access = 'RW' is not allowed"),
    (lambda: Register("r", (Field("a", 20, RW), Field("b", 20, RW))), r"field b at bit 20 with width 20 ends past bit 31"),
    (lambda: Register("r", (Field("a", 8, RW), Field("b", 4, RW, offset=4))), r"field b \[7:4\] overlaps field a \[7:0\]"),
    (lambda: Register("r", (Field("a", 8, RW), Field("a", 4, RW))), r"field name 'a' is used twice"),
    (lambda: Register("r", (Field("a", 8, RW),), push=True), r"push registers hold only WO fields"),
    (lambda: Register("r", (Field("a", 8, WO),)), r"WO fields belong to push registers only"),
    (lambda: Register("r", (Field("a", 1, W1C), Field("a_set", 1, RW))), r"collides with the set port"),
    (lambda: Register("r", ()), r"needs at least one field"),
])
def test_bad_descriptions_raise_config_error(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_builder_rejects_overlap_misalignment_and_out_of_window():
    b = RegisterMapBuilder("m", addr_width=8)
    b.add(Register("a", (Field("x", 1, RW),)), 0x10)
    with pytest.raises(ConfigError, match=r"register b: address 0x10 overlaps register a"):
        b.add(Register("b", (Field("x", 1, RW),)), 0x10)
    with pytest.raises(ConfigError, match=r"address 0x6 is not 4-byte aligned"):
        b.add(Register("c", (Field("x", 1, RW),)), 6)
    with pytest.raises(ConfigError, match=r"address = 256 is out of range: allowed \[0, 252\]"):
        b.add(Register("d", (Field("x", 1, RW),)), 0x100)
    with pytest.raises(ConfigError, match=r"register name 'a' is used twice"):
        b.add(Register("a", (Field("x", 1, RW),)))
    e = b.add(Register("e", (Field("x", 1, RW),)))       # automatic: the word after the last one
    assert e.addr == 0x14
    with pytest.raises(ConfigError, match="addr_width"):
        RegisterMapBuilder("m", addr_width=40)


@pytest.mark.parametrize("name", CONFIGS)
def test_accelerator_map_is_consistent(name):
    p = CONFIGS[name]
    m = accelerator_register_map(p)
    addrs = [r.addr for r in m.registers]
    assert len(set(addrs)) == len(addrs) and all(a % 4 == 0 and a < 1 << m.addr_width for a in addrs)
    for must in ("id", "version", "ctrl", "status", "events", "errors", "irq_enable", "timing0", "timing1",
                 "pulse_count", "request_count", "skipped_count", "refresh_count", "busy_cycles", "update",
                 "refresh", "program", "read_req", "read_data"):
        assert must in m, must
    assert not any(r.name.startswith("bnn_") for r in m.registers)   # no BNN path asked for
    mb = accelerator_register_map(p, bnn=BnnHwParams())
    for must in ("bnn_cfg0", "bnn_cfg1", "bnn_ctrl", "bnn_phase", "bnn_input", "bnn_out_index", "bnn_out_data"):
        assert must in mb, must
    assert mb["bnn_cfg0"].decode(mb["bnn_cfg0"].reset_value) == {"inputs_m1": 63, "neurons_m1": 32, "bank_m1": 3}
    assert [n for n, _ in mb["bnn_phase"].field("phase").values] == list(PHASES)
    # PROGRAM holds row, col, slot, polarity and a 4-bit count in one word for every array size
    assert {f.name for f in m["program"].fields} == {"row", "col", "slot", "polarity", "count"}
    # build-time constants reproduce the parameters
    assert m["id"].reset_value == 0x52524143
    cfg = m["array_cfg"]
    assert cfg.field("rows_m1").const == p.array.rows - 1 and cfg.field("cols_m1").const == p.array.cols - 1
    eps = m["eps"].field("value").const | m["eps_hi"].field("value").const << 32
    assert eps == p.update.eps
    # the update request carries row, col and dw (in one push word, or with UPDATE_ADDR when too wide)
    upd = m["update"]
    assert upd.push and upd.field("dw").width == p.update.dw_width and upd.field("dw").signed
    names = {f.name for f in upd.fields} | ({f.name for f in m["update_addr"].fields} if "update_addr" in m else set())
    assert names == {"row", "col", "dw", "end_cycle", "marker"}
    assert ("update_addr" in m) == (p.row_width + p.col_width + p.update.dw_width > 32)
    # the (build-time) timing is visible as constants
    t0 = m["timing0"]
    assert [t0.field(f).const for f in ("setup", "width", "gap", "settle")] == [
        p.timing.setup, p.timing.width, p.timing.gap, p.timing.settle]


def test_accelerator_map_rejects_bad_options():
    with pytest.raises(ConfigError, match=r"fifo_depth = 1 is out of range: allowed \[2, 255\]"):
        accelerator_register_map(AccelParams(), fifo_depth=1)
    with pytest.raises(ConfigError, match=r"adc_width = 17 is out of range"):
        accelerator_register_map(AccelParams(), adc_width=17)


def test_at_ignores_low_address_bits_and_reports_holes():
    m = accelerator_register_map(AccelParams())
    ctrl = m["ctrl"].addr
    assert m.at(ctrl) is m.at(ctrl + 3) is m["ctrl"]
    assert m.at(0x024) is None and m.at(0xFFC) is None


# --- the golden register-file model ------------------------------------------------------------------
def _small_map():
    b = RegisterMapBuilder("t", addr_width=8)
    b.add(Register("rw", (Field("a", 12, RW, reset=0xABC), Field("b", 4, RW, offset=28, reset=5))))
    b.add(Register("flags", (Field("f", 4, W1C), Field("g", 2, W1P, offset=8), Field("h", 8, RO, offset=16))))
    b.add(Register("push", (Field("x", 12, WO), Field("y", 4, WO, offset=24)), push=True), 0x20)
    return b.build()


def test_model_rw_with_byte_strobes():
    mdl = RegisterFileModel(_small_map())
    assert mdl.read(0x0) == (0x5000_0ABC, OKAY)
    assert mdl.write(0x0, 0xFFFF_FFFF, strb=0b0001).resp == OKAY        # only bits [7:0]
    assert mdl.read(0x0) == (0x5000_0AFF, OKAY)
    mdl.write(0x0, 0x1234_5678, strb=0b1010)                               # bytes 1 and 3
    assert mdl.value("rw", "a") == 0x6FF and mdl.value("rw", "b") == 0x1


def test_model_w1c_w1p_ro_and_push():
    mdl = RegisterFileModel(_small_map())
    mdl.hw_set("flags", "f", 0b1011)
    assert mdl.read(0x4, {("flags", "h"): 0x1FF}) == (0xFF_000B, OKAY)     # RO input masked to 8 bits
    eff = mdl.write(0x4, 0b11_0000_0010)                                   # clear f[1], pulse g = 3
    assert eff.strobes == {("flags", "g"): 3} and mdl.value("flags", "f") == 0b1001
    assert mdl.write(0x4, 0x300, strb=0b1110).strobes == {("flags", "g"): 3}
    assert mdl.write(0x4, 0x300, strb=0b0001).strobes == {}                 # g's lane not strobed
    eff = mdl.write(0x20, 0x0F00_0FFF, strb=0b0111)                        # lane 3 (y) not strobed
    assert eff.push == ("push", {"x": 0xFFF, "y": 0}) and mdl.read(0x20) == (0, OKAY)
    assert mdl.write(0x20, 1, strb=0).push is None                          # no strobe: no push


def test_model_holes():
    mdl = RegisterFileModel(_small_map())
    assert mdl.read(0x8) == (0, SLVERR) and mdl.write(0xFC, 1).resp == SLVERR
    assert lane_mask(0b0101) == 0x00FF00FF


# --- emitters ----------------------------------------------------------------------------------------
def test_markdown_lists_every_register_and_field():
    m = accelerator_register_map(AccelParams())
    md = m.to_markdown(params_summary=params_summary(AccelParams()))
    for r in m.registers:
        assert f"## {r.name.upper()}" in md and f"`0x{r.addr:03X}`" in md
        for f in r.fields:
            assert f"| `{f.bits}` | {f.name.upper()} |" in md
    assert "Build-time vs runtime" in md


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("name", ["default", "large"])
def test_c_header_compiles_and_matches_the_map(name, tmp_path):
    """Compile a program that prints every macro of the header; compare with the Python description."""
    m = accelerator_register_map(CONFIGS[name])
    (tmp_path / "reram_accel_regs.h").write_text(m.to_c_header())
    macros = re.findall(r"^#define (RERAM_ACCEL_[A-Z0-9_]+) [0-9x]", m.to_c_header(), re.MULTILINE)
    prog = ["#include <stdint.h>", "#include <stdio.h>", '#include "reram_accel_regs.h"', "int main(void) {"]
    prog += [f'  printf("{n} %lu\\n", (unsigned long)({n}));' for n in macros]
    prog += ['  printf("GET %lu\\n", (unsigned long)RERAM_ACCEL_GET(0x00000100u, RERAM_ACCEL_CTRL_MODE));',
             '  printf("PUT %lu\\n", (unsigned long)RERAM_ACCEL_PUT(1u, RERAM_ACCEL_CTRL_MODE));',
             "  return 0;", "}"]
    (tmp_path / "t.c").write_text("\n".join(prog))
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "t"),
                    str(tmp_path / "t.c")], check=True, cwd=tmp_path)
    out = dict(ln.split() for ln in subprocess.run([str(tmp_path / "t")], capture_output=True, text=True,
                                                   check=True).stdout.splitlines())
    got = {k: int(v) for k, v in out.items()}
    for r in m.registers:
        R = f"RERAM_ACCEL_{r.name.upper()}"
        assert got[f"{R}_ADDR"] == r.addr and got[f"{R}_RESET"] == r.reset_value
        for f in r.fields:
            F = f"{R}_{f.name.upper()}"
            assert (got[f"{F}_SHIFT"], got[f"{F}_WIDTH"], got[f"{F}_MASK"]) == (f.offset, f.width, f.mask)
            if f.const is not None:
                assert got[f"{F}_VALUE"] == f.const
            for vn, v in f.values:
                assert got[f"{F}_{vn.upper()}"] == v
    assert got["GET"] == 1 and got["PUT"] == 0x100


def test_encode_decode_round_trip():
    m = accelerator_register_map(AccelParams())
    upd = m["update"]
    w = upd.encode(row=31, col=2, dw=-5, end_cycle=1)
    assert w >> 30 == 1 and upd.decode(w) == {"dw": -5, "col": 2, "row": 31, "end_cycle": 1, "marker": 0}
    with pytest.raises(ConfigError, match=r"update.dw = 2048 is out of range: allowed \[-2048, 2047\]"):
        upd.encode(dw=2048)
    with pytest.raises(KeyError):
        upd.encode(nope=1)


def test_docs_registers_md_is_current():
    """docs/registers.md is generated; regenerate with `python -m golden.spec.register_map > docs/registers.md`."""
    from pathlib import Path

    from golden.spec.register_map import reference_markdown

    doc = Path(__file__).resolve().parents[3] / "docs" / "registers.md"
    assert doc.read_text() == reference_markdown(), "docs/registers.md is stale: regenerate it"


def test_cli_writes_register_map_next_to_the_verilog(tmp_path, capsys):
    from tb.cli.main import main

    out = tmp_path / "v"
    assert main(["verilog", "--out", str(out), "--only", "axil_csr"]) == 0
    text = capsys.readouterr().out
    assert "reram_accel_regs.h" in text and "registers.md" in text
    m = accelerator_register_map(AccelParams())
    assert (out / "reram_accel_regs.h").read_text() == m.to_c_header(params_summary(AccelParams()))
    assert "## UPDATE" in (out / "registers.md").read_text()
