"""Host-side AXI4-Lite manager of the co-simulations: one write per bus cycle, two wake-ups per cycle.

The block tests drive AXI4-Lite with cocotbext-axi's ``AxiLiteMaster`` (``tb/envs``), the one
definition for tests; this driver is a second path, kept for the co-simulations for its measured
speed and its replayable timing (see :class:`FastAxil`).
"""
from __future__ import annotations

from cocotb.triggers import ReadOnly, RisingEdge

from tb.kit.prefixed import Prefixed


class FastAxil:
    """Minimal AXI4-Lite manager for :class:`hw.axil_csr.AxiLiteCsr`: two Python wake-ups per write
    (``ReadOnly`` to sample the handshakes, the rising edge to present the next word).

    BREADY and RREADY are held high. A write stream presents word ``j`` with AWVALID/WVALID high
    until AWREADY and WREADY are high together, then word ``j + 1`` in the next cycle (one write per
    cycle: the CSR block's peak rate), and ends in the cycle after the last B response (the timing
    the C++ harness replays in stimulus mode 0).
    A read presents ARVALID for one cycle (ARREADY is high while RREADY is) and samples RDATA in the
    next. Every response must be OKAY.

    Why not cocotbext-axi's ``AxiLiteMaster``: measured on ``reram-accel cosim --samples 20 --seed 0
    --driver python --no-raw`` with register map 1.0, when each UPDATE word went straight to the
    UpdateUnit (since map 1.1 it passes the update engine's single-request port, one request per
    ~12 cycles, so the cycle counts below are lower than today's; the driver costs are per write and
    unchanged) (8723 AXI writes and 124 STATUS polls over the two ports in parallel;
    Verilator, two cores shared with other jobs, two runs each), the simulator-and-driver share of
    the training loop took 0.78-0.81 s CPU (1.6-1.7 s wall) with this driver and 5.0-5.9 s CPU
    (9.0-12.0 s wall) with ``AxiLiteMaster`` issuing the same writes pipelined (``init_write``):
    6-7x. Same pulses, conductances and accuracy either way; the cycle count differs (14392 here,
    14439 with ``AxiLiteMaster``), and this driver's timing is the one the C++ harness replays in
    stimulus mode 0, cycle for cycle.

    Parameters
    ----------
    dut :
        cocotb handle with the ``<prefix>s_axil__*`` ports.
    prefix : str
        Port-name prefix of the subordinate port (``""`` for a plain accelerator top).
    clk :
        The bus clock.
    """

    def __init__(self, dut, prefix: str, clk):
        self.b = Prefixed(dut, prefix + "s_axil__")
        self.clk = clk
        b = self.b
        for s in ("awvalid", "wvalid", "arvalid", "awaddr", "wdata", "araddr"):
            getattr(b, s).value = 0
        b.wstrb.value = 0xF
        b.bready.value = 1
        b.rready.value = 1
        self.writes = 0
        self.reads = 0

    async def write_stream(self, addr: int, words: list[int]) -> None:
        """Write ``words`` to ``addr`` back to back (call it just after a rising edge)."""
        if not words:
            return
        b = self.b
        edge, settled = RisingEdge(self.clk), ReadOnly()
        awready, wready, bvalid, bresp = b.awready, b.wready, b.bvalid, b.bresp
        b.awaddr.value = addr
        b.wdata.value = words[0]
        b.awvalid.value = 1
        b.wvalid.value = 1
        sent = acked = 0
        while acked < len(words):
            await settled
            took = sent < len(words) and int(awready.value) and int(wready.value)
            if int(bvalid.value):
                if int(bresp.value):
                    raise AssertionError(f"write {addr:#x} <- {words[acked]:#010x}: response {int(bresp.value)}")
                acked += 1
            await edge
            if took:
                sent += 1
                if sent < len(words):
                    b.wdata.value = words[sent]
                else:
                    b.awvalid.value = 0
                    b.wvalid.value = 0
        self.writes += len(words)

    async def read(self, addr: int) -> int:
        """One read of ``addr`` (returns after the cycle in which RDATA was sampled)."""
        b = self.b
        b.araddr.value = addr
        b.arvalid.value = 1
        await RisingEdge(self.clk)
        b.arvalid.value = 0
        await ReadOnly()
        if not int(b.rvalid.value) or int(b.rresp.value) != 0:
            raise AssertionError(f"read {addr:#x}: rvalid {int(b.rvalid.value)} rresp {int(b.rresp.value)}")
        v = int(b.rdata.value)
        await RisingEdge(self.clk)
        self.reads += 1
        return v

    async def poll_clear(self, addr: int, bit: int, limit: int = 100_000) -> int:
        """Read ``addr`` until bit ``bit`` is 0; returns the number of reads."""
        for n in range(1, limit + 1):
            if not (await self.read(addr) >> bit) & 1:
                return n
        raise AssertionError(f"bit {bit} of {addr:#x} stayed set for {limit} reads")


class RegisterHost:
    """Register accesses by name over a :class:`FastAxil`: ``wr(reg, **fields)`` pushes one encoded
    word (a coroutine to await), ``await rd(reg)`` returns the decoded fields. The co-simulation hosts
    build on it with their own ``regmap``."""

    def __init__(self, bus: FastAxil, regmap):
        self.bus, self.regmap = bus, regmap

    def wr(self, reg, **f):
        return self.bus.write_stream(self.regmap[reg].addr, [self.regmap[reg].encode(**f)])

    async def rd(self, reg):
        return self.regmap[reg].decode(await self.bus.read(self.regmap[reg].addr))
