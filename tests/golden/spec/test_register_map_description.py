"""The register-map description: field and register checks, placement, the builder."""
from __future__ import annotations

import pytest

from golden.spec.params import ConfigError
from golden.spec.register_map.description import Access, Field, Register, RegisterMapBuilder

RO, RW, W1C, W1P, WO = Access.RO, Access.RW, Access.W1C, Access.W1P, Access.WO


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
