"""Testbench-side AXI4-Lite manager that replays a batch of words in hardware (co-simulation top)."""
from __future__ import annotations

from amaranth import Array, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.spec.params import check_int
from hw.axil_csr import AxiLiteSignature


class AxilSequencer(wiring.Component):
    """Writes a batch of words to one address, then optionally polls a status bit until it is 0 --
    so the Python side wakes once per batch, not once per write.

    It is the path the plain Verilator C++ harness (``tb/cosim/harness``, stimulus mode 1) needs:
    the harness loads the same batches into it, so cocotb and C++ runs share one bus timing. It is
    also the fastest host path: on ``reram-accel cosim --samples 20 --seed 0`` (register map 1.0, see
    :class:`tb.kit.axil_host.FastAxil`) the
    simulator-and-driver share of the training loop took 0.23 s CPU, against 0.8 s with
    :class:`tb.kit.axil_host.FastAxil` and 5-6 s with cocotbext-axi's ``AxiLiteMaster``.

    Protocol (the same as :class:`tb.kit.axil_host.FastAxil`, cycle for cycle, once started):
    AWVALID/WVALID are high while words remain; word ``j + 1`` is presented in the cycle after AWREADY
    and WREADY were high together for word ``j`` (one write per cycle at best); the batch ends in the
    cycle after the last B response; BREADY and RREADY are held high. Polling: ARVALID for one cycle, RDATA sampled in the next; again in the cycle after if the
    bit is set.

    Parameters
    ----------
    addr_width : int
        Byte address width of the bus.
    depth : int, 1..4096
        Words per batch at most.
    poll_bit : int
        Bit of the polled status word that means busy.

    Ports
    -----
    words : In(32 * depth)
        The batch; word ``j`` in bits ``32j .. 32j + 31``.
    n : In(range(depth + 1))
        Words in the batch.
    addr, poll_addr : In(addr_width)
        Write address; status address polled after the batch if ``poll``.
    poll : In(1)
    batch : In(8)
        A batch starts in the cycle after ``batch`` changes (inputs must then hold until ``done``).
    done : Out(1)
        High (registered) while idle: after reset and from the cycle after the batch (and its poll)
        completed; low from the cycle after a batch was started.
    m_axil : Out(AxiLiteSignature(addr_width))
        Manager port.
    """

    def __init__(self, addr_width: int, depth: int, poll_bit: int):
        check_int("sequencer depth", depth, 1, 4096)
        self.depth, self.poll_bit = depth, poll_bit
        super().__init__({
            "words": In(32 * depth), "n": In(range(depth + 1)), "addr": In(addr_width),
            "poll_addr": In(addr_width), "poll": In(1), "batch": In(8), "done": Out(1),
            "m_axil": Out(AxiLiteSignature(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.m_axil
        sent = Signal(range(self.depth + 1))     # words accepted (AW and W)
        acked = Signal(range(self.depth + 2))    # B responses received
        cur = Signal(8)
        words = Array(self.words[32 * j:32 * (j + 1)] for j in range(self.depth))
        m.d.comb += [bus.bready.eq(1), bus.rready.eq(1), bus.wstrb.eq(0xF), bus.awaddr.eq(self.addr),
                     bus.araddr.eq(self.poll_addr)]
        with m.FSM(init="DONE"):
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
                with m.If(self.batch != cur):
                    m.d.sync += [cur.eq(self.batch), sent.eq(0), acked.eq(0)]
                    m.next = "WRITE"
            with m.State("WRITE"):
                with m.If(sent < self.n):
                    m.d.comb += [bus.awvalid.eq(1), bus.wvalid.eq(1), bus.wdata.eq(words[sent])]
                    with m.If(bus.awready & bus.wready):
                        m.d.sync += sent.eq(sent + 1)
                with m.If(bus.bvalid):
                    m.d.sync += acked.eq(acked + 1)
                with m.If(acked + bus.bvalid >= self.n):
                    with m.If(self.poll):
                        m.next = "POLL_AR"
                    with m.Else():
                        m.next = "DONE"
            with m.State("POLL_AR"):
                m.d.comb += bus.arvalid.eq(1)
                m.next = "POLL_R"
            with m.State("POLL_R"):
                with m.If(bus.rdata[self.poll_bit]):
                    m.next = "POLL_AR"
                with m.Else():
                    m.next = "DONE"
        return m
