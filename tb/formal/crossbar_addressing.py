"""Formal wrapper of :class:`hw.crossbar_addressing.CrossbarAddressing`.

Every input is free in every cycle (any command, legal or not). Properties on the registered
outputs, in every cycle out of reset:

* ``one_word_line``: at most one word line is on, and only the one of the previous command's row;
* ``no_set_and_reset_column``: no column is driven to the SET and the RESET rail at once;
* ``read_write_exclusive``: ``write`` and ``read`` are never both high, and no column is written
  and read at once;
* ``strobes_match_lines``: ``write`` (``read``) is high exactly when a write (read) line is on;
* ``error_drives_nothing``: a rejected command turns no line on.

The outputs are a registered function of the inputs, so k-induction closes at depth 2.
"""
from __future__ import annotations

from amaranth import Const, Module

from golden.spec.params import AccelParams
from hw.crossbar_addressing import CrossbarAddressing
from tb.formal.harness import FormalTop, drive_free, past


class CrossbarAddressingProof(FormalTop):
    """Wrapper around ``block_cls(params, read_width)`` (a mutant class may stand in)."""

    def __init__(self, params: AccelParams, read_width: int = 1, block_cls=CrossbarAddressing):
        super().__init__()
        self.params, self.read_width, self.block_cls = params, read_width, block_cls

    def build(self, m: Module) -> None:
        m.submodules.dut = dut = self.block_cls(self.params, self.read_width)
        c = dut.cmd
        inputs = [c.sel, c.row, c.phys_col, c.we, c.re, c.polarity, dut.pair]
        if self.read_width > 1:
            inputs.append(dut.span)
        drive_free(m, *inputs)
        rows = self.params.array.rows
        row_q = past(m, c.row, "row_q")
        wl, bs, sr, br = dut.wl, dut.bl_set, dut.sl_reset, dut.bl_read
        self.prop(m, "one_word_line", ~(wl & (wl - 1)).any() & ~(wl & ~(Const(1, rows) << row_q)).any())
        self.prop(m, "no_set_and_reset_column", ~(bs & sr).any())
        self.prop(m, "read_write_exclusive", ~(dut.write & dut.read) & ~((bs | sr) & br).any())
        self.prop(m, "strobes_match_lines", (dut.write == (bs | sr).any()) & (dut.read == br.any()))
        self.prop(m, "error_drives_nothing", ~dut.error | ~(wl.any() | bs.any() | sr.any() | br.any()))
