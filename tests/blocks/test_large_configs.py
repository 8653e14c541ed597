"""The largest configuration the parameter checks allow (rows = cols = 4096) generates in seconds:
no memory contents written one line per word, decoders whose netlist grows linearly with the array,
no expression with one part per column. The full `verilog` run at 4096 x 4096 is in `make
test-large` (docs/RESULTS.md, "Validation")."""
from __future__ import annotations

import os
import time

import pytest
from amaranth import Module, Signal
from amaranth.back import rtlil
from amaranth.hdl import Fragment
from amaranth.hdl._ast import Concat, Operator, Slice, Switch
from amaranth.sim import Simulator

from golden.spec.params import MAX_COLS, MAX_ROWS, AccelParams
from hw.crossbar_addressing import CrossbarAddressing
from hw.lintsafe import and_each, more_than_one, one_hot
from hw.update_unit import UpdateUnit
from hw.verilog_output import convert
from tb.cli.main import main

LARGEST = AccelParams().with_(array={"rows": MAX_ROWS, "cols": MAX_COLS})


@pytest.mark.parametrize("width, group", [(1, 4), (5, 4), (16, 4), (37, 4), (64, 8), (100, 4)])
def test_one_hot_is_the_truncated_shift(width, group):
    """Every index, including those at or past ``width`` (all zeros), against ``(1 << i) & mask``."""
    m = Module()
    index = Signal(range(width + 9))
    out = Signal(width)
    m.d.comb += out.eq(one_hot(m, index, width, group=group, name="dec"))
    several = Signal()
    m.d.comb += several.eq(more_than_one(m, index, name="many"))

    async def bench(ctx):
        for i in range(1 << len(index)):
            ctx.set(index, i)
            assert ctx.get(out) == ((1 << i) & ((1 << width) - 1)), (width, group, i)
            assert ctx.get(several) == (i.bit_count() > 1), i
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_and_each_is_the_replicated_and():
    """Same values and the same netlist as ``bits & bit.replicate(len(bits))``."""
    def design(form):
        m = Module()
        bits, bit, out = Signal(6), Signal(), Signal(6)
        m.d.comb += out.eq(form(bits, bit))
        return m, bits, bit, out

    def text(form):
        m, bits, bit, out = design(form)
        return rtlil.convert(m, ports=[bits, bit, out], emit_src=False)

    assert text(and_each) == text(lambda bits, bit: bits & bit.replicate(len(bits)))
    m, bits, bit, out = design(and_each)

    async def bench(ctx):
        for v in range(64):
            for b in (0, 1):
                ctx.set(bits, v)
                ctx.set(bit, b)
                assert ctx.get(out) == (v if b else 0), (v, b)
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def _widest_concat(value) -> int:
    """The most parts of any ``Cat`` in ``value`` (``replicate(n)`` is a ``Cat`` of ``n`` parts)."""
    if isinstance(value, Concat):
        return max([len(value.parts), *(_widest_concat(p) for p in value.parts)])
    if isinstance(value, Operator):
        return max(_widest_concat(p) for p in value.operands)
    if isinstance(value, Slice):
        return _widest_concat(value.value)
    return 0


def test_largest_crossbar_has_no_expression_with_a_part_per_column():
    """Each elaboration pass of Amaranth walks a ``Cat`` part by part: the 16,384-column decoder and
    line enables are vector operations (before: four ``replicate``s of 16,384 parts and 256 of 64)."""
    xbar = CrossbarAddressing(LARGEST)
    assert xbar.phys_cols == 16384
    statements = [s for stmts in Fragment.get(xbar, None).statements.values() for s in stmts]
    rhs = []
    while statements:
        s = statements.pop()
        if isinstance(s, Switch):
            statements.extend(st for _, stmts, _ in s.cases for st in stmts)
        elif hasattr(s, "rhs"):
            rhs.append(s.rhs)
    widest = max(_widest_concat(v) for v in rhs)
    assert widest <= MAX_ROWS // 2, widest      # the word-line check tree's first level: 2048 pairs


def test_zero_memory_contents_are_not_written():
    """The chi memory of a 64 x 64 array: its 4096 words would be 4096 lines of initial text."""
    text = convert(UpdateUnit(AccelParams().with_(array={"rows": 64, "cols": 64})), "update_unit")
    assert "initial begin" not in text and text.count("\n") < 1000


def test_largest_update_unit_in_seconds():
    t0 = time.perf_counter()
    text = convert(UpdateUnit(LARGEST), "update_unit")
    seconds = time.perf_counter() - t0
    assert "[16777215:0]" in text           # the 4096 x 4096-word chi memory
    assert len(text) < 100_000 and seconds < 60, (len(text), seconds)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("RERAM_LARGE"), reason="~50 s of CPU: `make test-large` runs it")
def test_largest_configuration_generates(tmp_path):
    """Every block at rows = cols = 4096 (`make test-large`, not `make test`): about 50 s of CPU,
    half of it in wall time with one process per core (docs/RESULTS.md, "Large configurations")."""
    cfg = tmp_path / "largest.toml"
    cfg.write_text(f"[array]\nrows = {MAX_ROWS}\ncols = {MAX_COLS}\n")
    t0 = time.perf_counter()
    assert main(["verilog", "--config", str(cfg), "--out", str(tmp_path / "v")]) == 0
    assert time.perf_counter() - t0 < 300
    assert sum(p.stat().st_size for p in (tmp_path / "v").iterdir()) < 20_000_000
