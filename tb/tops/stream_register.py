"""A one-entry stream register and its cycle model: the smallest block with backpressure.

Used by the tests of :mod:`golden.spec.handshake`: the same seeded generators drive the register
through the cocotb and the Amaranth-simulator drivers, and :func:`stream_register_cycles` predicts
every transfer with the same :class:`~golden.spec.handshake.SourceSide` and
:class:`~golden.spec.handshake.SinkSide`.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.handshake import SinkSide, SourceSide


class StreamRegister(wiring.Component):
    """``o`` offers the last accepted payload; ``i.ready = ~o.valid | o.ready`` (full throughput).

    Parameters
    ----------
    width : int
        Payload width.
    """

    def __init__(self, width: int = 8):
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m


def stream_register_cycles(items: Iterable[int], valid_gen: Iterator[bool] | None = None,
                           ready_gen: Iterator[bool] | None = None
                           ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Cycle model of :class:`StreamRegister`: ``(accepted, emitted)``, ``[(cycle, payload)]`` each."""
    src, snk = SourceSide(items, valid_gen), SinkSide(ready_gen)
    held = None                      # payload in the register (o.valid)
    accepted, emitted = [], []
    cycle = 0
    while not src.idle or held is not None:
        cur, rdy = src.present(), snk.draw()
        i_ready = held is None or rdy
        if held is not None and rdy:
            emitted.append((cycle, held))
        if i_ready:
            held = cur
            if cur is not None:
                accepted.append((cycle, src.taken()))
        cycle += 1
    return accepted, emitted
