"""Testbench-side AXI4-Stream subordinate that only counts what it receives: the stand-in for the
accelerator's frame input when a co-simulation top is built around an accelerator without one."""
from __future__ import annotations

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.axi_stream import AxiStreamSignature


class FrameTally(wiring.Component):
    """Takes every word (``tready`` high in three cycles of four, from a free-running counter, so
    the manager sees backpressure) and counts words, frames (``tlast``) and a checksum.

    ``checksum`` after a word ``w``: ``rotl(checksum, 1) ^ w`` (32 bits; 0 after reset), so order
    matters. Latency: the counts include a word from the cycle after it was taken.

    Ports
    -----
    s_axis : In(AxiStreamSignature(32))
    words, frames, checksum : Out(32)
    """

    def __init__(self):
        super().__init__({"s_axis": In(AxiStreamSignature(32)), "words": Out(32), "frames": Out(32),
                          "checksum": Out(32)})

    def elaborate(self, platform):
        m = Module()
        phase = Signal(2)
        m.d.sync += phase.eq(phase + 1)
        bus = self.s_axis
        m.d.comb += bus.tready.eq(phase != 3)
        with m.If(bus.tvalid & bus.tready):
            m.d.sync += [self.words.eq(self.words + 1), self.frames.eq(self.frames + bus.tlast),
                         self.checksum.eq(Cat(self.checksum[31], self.checksum[:31]) ^ bus.tdata)]
        return m


def tally_checksum(words: list[int], checksum: int = 0) -> int:
    """:class:`FrameTally`'s checksum after ``words`` (starting from ``checksum``)."""
    for w in words:
        checksum = (((checksum << 1) | (checksum >> 31)) & 0xFFFFFFFF) ^ w
    return checksum
