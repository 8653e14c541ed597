"""Testbench-side AXI4-Stream manager that plays one whole frame out of a wide input (co-simulation top).

The host side of the co-simulation writes a training frame (the engine's ``delta`` and ``x`` words,
:func:`golden.twins.outer_product_engine.frame_words`) with one write of a wide signal instead of one
write per word, so Python wakes up once per frame; the plain Verilator C++ harness loads the same
input the same way, so both runs share one stream timing. :func:`frame_loader_cycles` is its cycle
model (the handshake rule of :mod:`golden.spec.handshake`).
"""
from __future__ import annotations

from collections.abc import Iterator

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.spec.handshake import SinkSide
from golden.spec.params import check_int
from hw.axi_stream import AxiStreamSignature

WORD_BITS = 32


class FrameLoader(wiring.Component):
    """Plays ``words[0 .. n-1]`` on ``m_axis``, one word per cycle at best, ``tlast`` on the last.

    Protocol: a frame starts in the cycle after ``frame`` changes (a tag, not a level: the host
    writes the words, ``n`` and a new tag in one go, and needs no second write to clear a strobe);
    the inputs must then hold until ``done``. Word ``k`` is presented (``tvalid``) from the first
    cycle of the frame or the cycle after word ``k - 1`` was taken (``tvalid & tready``), and held
    until taken (AXI4-Stream: a presented word is never withdrawn). A frame of ``n = 0`` sends
    nothing.

    Latency: word 0 in the cycle after the tag changed; ``done`` falls in that cycle too and rises
    in the cycle after the last word was taken. Throughput: one word per cycle while ``tready``.

    Parameters
    ----------
    depth : int, 1..65536
        Words per frame at most (the width of ``words`` is ``32 * depth``).

    Ports
    -----
    words : In(32 * depth)
        The frame; word ``k`` in bits ``32k .. 32k + 31``.
    n : In(range(depth + 1))
        Words in the frame.
    frame : In(8)
        Tag; a change starts a frame.
    done : Out(1)
        High (registered) while idle: after reset and from the cycle after the last word was taken.
    m_axis : Out(AxiStreamSignature(32))
        Manager port.
    """

    def __init__(self, depth: int):
        check_int("frame loader depth", depth, 1, 65536)
        self.depth = depth
        super().__init__({"words": In(WORD_BITS * depth), "n": In(range(depth + 1)), "frame": In(8),
                          "done": Out(1), "m_axis": Out(AxiStreamSignature(WORD_BITS))})

    def elaborate(self, platform):
        m = Module()
        bus = self.m_axis
        sent = Signal(range(self.depth + 1))     # words taken in this frame
        cur = Signal(8)
        # an indexed part select (Verilog words[sent*32 +: 32]): no per-word multiplexer tree
        m.d.comb += [bus.tdata.eq(self.words.word_select(sent, WORD_BITS)), bus.tlast.eq(sent + 1 == self.n)]
        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                m.d.comb += self.done.eq(1)
                with m.If(self.frame != cur):
                    m.d.sync += [cur.eq(self.frame), sent.eq(0)]
                    m.next = "STREAM"
            with m.State("STREAM"):
                m.d.comb += bus.tvalid.eq(sent < self.n)
                with m.If(sent >= self.n):
                    m.next = "IDLE"
                with m.Elif(bus.tready):
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent + 1 == self.n):
                        m.next = "IDLE"
        return m


def frame_loader_cycles(words: list[int], ready_gen: Iterator[bool] | None = None,
                        start: int = 0) -> list[tuple[int, int, bool]]:
    """Cycle model of one :class:`FrameLoader` frame: ``[(cycle, word, tlast)]`` of the transfers,
    the tag changed in cycle ``start - 1`` (word 0 presented in cycle ``start``); ``ready_gen`` gives
    the sink's ``tready`` from cycle ``start`` on (one draw per cycle, :class:`SinkSide`). ``done``
    rises in the cycle after the last transfer (``start + 1`` for an empty frame)."""
    sink = SinkSide(ready_gen)
    out, cycle = [], start
    for k, w in enumerate(words):
        while not sink.draw():
            cycle += 1
        out.append((cycle, w, k == len(words) - 1))
        cycle += 1
    return out
