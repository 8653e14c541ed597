"""SimpleDualPortRam: the one memory wrapper of the design, the place a foundry SRAM macro goes."""
from __future__ import annotations

from amaranth import Module, Shape
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.spec.checks import check_int

MAX_DEPTH = 1 << 20


class SimpleDualPortRam(wiring.Component):
    """Simple-dual-port RAM (one write port, one read port, one clock), with a behavioural model.

    Every memory of the design's datapath is an instance of this component, so a foundry SRAM macro
    with the same port list can replace the behavioural model (an Amaranth
    :class:`~amaranth.lib.memory.Memory`, emitted as a Verilog ``reg`` array) without touching the
    blocks that use it; ``reram-accel verilog`` lists every instance in ``memories.json``.

    The contents are **undefined at power-up and after reset** (no initial values are relied on;
    the behavioural model's ``init`` is only what simulators show): a block that needs defined
    contents writes them (the UpdateUnit's clear walk).

    Parameters
    ----------
    shape : shape-castable
        Word shape (``width`` bits, signed or unsigned), 1 .. 1024 bits.
    depth : int, 2 .. 2**20
        Words; addresses are ``ceil(log2(depth))`` bits.
    transparent : bool
        True: a read of the address being written in the same cycle returns the new word
        (write-first); False: the old word (read-first).

    Attributes
    ----------
    w_en : In(1)
        Write enable: ``w_data`` is stored at ``w_addr`` on the clock edge.
    w_addr : In(range(depth))
    w_data : In(shape)
    r_en : In(1)
        Read enable: ``r_data`` is updated on the clock edge; it holds its value while ``r_en`` is 0.
    r_addr : In(range(depth))
    r_data : Out(shape)
        The word at ``r_addr``, one cycle after it was presented with ``r_en`` (read latency 1).

    Throughput one read and one write per cycle. ``rst`` does not touch the contents; consumers use
    ``r_data`` only in the cycle after a read they issued, so its value after reset does not matter.
    """

    PORTS = "1W1R"     # port kind in the memory manifest

    def __init__(self, shape, depth: int, *, transparent: bool = True):
        self.shape = Shape.cast(shape)
        try:
            check_int("shape.width", self.shape.width, 1, 1024)
            check_int("depth", depth, 2, MAX_DEPTH)
        except ValueError:
            self._MustUse__silence = True
            raise
        self.depth, self.transparent = depth, transparent
        super().__init__({
            "w_en": In(1), "w_addr": In(range(depth)), "w_data": In(self.shape),
            "r_en": In(1), "r_addr": In(range(depth)), "r_data": Out(self.shape),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=self.shape, depth=self.depth, init=[])
        self.memory = mem      # the behavioural model, for simulation backdoors (tests only)
        wp = mem.write_port()
        rp = mem.read_port(transparent_for=(wp,) if self.transparent else ())
        m.d.comb += [wp.en.eq(self.w_en), wp.addr.eq(self.w_addr), wp.data.eq(self.w_data),
                     rp.en.eq(self.r_en), rp.addr.eq(self.r_addr), self.r_data.eq(rp.data)]
        return m
