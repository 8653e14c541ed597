"""SyncFifo: the top's buffered synchronous FIFO, its storage in the design's one memory wrapper."""
from __future__ import annotations

from amaranth import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.spec.checks import check_int
from hw.lintsafe import add_const, eq_const
from hw.memory_manifest import FIFO_STORAGE
from hw.sram import SimpleDualPortRam


class SyncFifo(wiring.Component):
    """Buffered synchronous FIFO whose storage is a :class:`hw.sram.SimpleDualPortRam`.

    Cycle-for-cycle the behaviour of Amaranth's ``SyncFIFOBuffered`` (same ports, same latency,
    tests/blocks/test_sync_fifo.py compares the two): ``depth - 1`` entries in the RAM plus an output
    register. Only the pointers, the level and the output register's valid flag are reset; the RAM
    holds no state that matters after reset (an entry is read only after it was written), so a
    foundry SRAM macro without reset or initial contents can replace it.

    Parameters
    ----------
    width : int, 1..1024
        Entry width.
    depth : int, 2..65536
        Entries (RAM ``depth - 1`` words, at least 2 for the wrapper, + the output register).

    Attributes
    ----------
    w_data : In(width), w_en : In(1), w_rdy : Out(1)
        Write port: ``w_data`` is taken in a cycle with ``w_en & w_rdy``. ``w_rdy`` is a flip-flop
        (``full``, updated with the level), so nothing combinational runs from it into a writer's logic.
    r_data : Out(width), r_en : In(1), r_rdy : Out(1)
        Read port: ``r_data`` is the head while ``r_rdy``; ``r_en & r_rdy`` pops it.
    level : Out(range(depth + 1))
        Entries held (RAM + output register).

    Latency: an entry written in cycle t into an empty FIFO is at the head (``r_rdy``) from cycle
    t + 2. Throughput one write and one read per cycle.
    """

    def __init__(self, *, width: int, depth: int):
        try:
            check_int("fifo width", width, 1, 1024)
            check_int("fifo depth", depth, 2, 1 << 16)
        except ValueError:
            self._MustUse__silence = True
            raise
        self.width, self.depth = width, depth
        super().__init__({"w_data": In(width), "w_en": In(1), "w_rdy": Out(1),
                          "r_data": Out(width), "r_en": In(1), "r_rdy": Out(1),
                          "level": Out(range(depth + 1))})

    def elaborate(self, platform):
        m = Module()
        inner = self.depth - 1
        m.submodules.storage = ram = SimpleDualPortRam(self.width, max(2, inner), transparent=False)
        ram.contents_after_reset = FIFO_STORAGE     # the memory manifest's note for this wrapper
        inner_level = Signal(range(inner + 1))
        produce = Signal(range(max(2, inner)))
        consume = Signal(range(max(2, inner)))
        do_write, inner_rdy, do_inner_read = Signal(), Signal(), Signal()
        do_pop = Signal()
        full = Signal()                     # inner_level == inner, kept as its own register (w_rdy)
        count = Signal.like(self.level)     # inner_level + r_rdy, kept as its own register
        m.d.comb += self.level.eq(count)
        with m.If(do_write & ~do_pop):
            m.d.sync += count.eq(add_const(count, 1))
        with m.If(do_pop & ~do_write):
            m.d.sync += count.eq(add_const(count, -1))
        m.d.comb += [
            self.w_rdy.eq(~full),
            inner_rdy.eq(inner_level.any()),
            do_write.eq(self.w_en & self.w_rdy),
            do_inner_read.eq(inner_rdy & (~self.r_rdy | self.r_en)),
            ram.w_en.eq(do_write), ram.w_addr.eq(produce), ram.w_data.eq(self.w_data),
            ram.r_en.eq(do_inner_read), ram.r_addr.eq(consume), self.r_data.eq(ram.r_data),
            do_pop.eq(self.r_en & self.r_rdy),
        ]
        with m.If(do_write):
            m.d.sync += produce.eq(self._next(produce, inner))
        with m.If(do_inner_read):
            m.d.sync += [consume.eq(self._next(consume, inner)), self.r_rdy.eq(1)]
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        with m.If(do_write & ~do_inner_read):
            m.d.sync += [inner_level.eq(add_const(inner_level, 1)), full.eq(eq_const(inner_level, inner - 1))]
        with m.If(do_inner_read & ~do_write):
            m.d.sync += [inner_level.eq(add_const(inner_level, -1)), full.eq(0)]
        return m

    @staticmethod
    def _next(ptr: Signal, inner: int):
        """ptr + 1, wrapping after ``inner - 1``."""
        if inner == 1:
            return Const(0, len(ptr))
        return Mux(eq_const(ptr, inner - 1), 0, add_const(ptr, 1))
