"""SenseAmpSequencer: phase FSM and strobes of a bank of capacitive neurons with clocked SAs."""
from __future__ import annotations

from amaranth import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.bnn_datapath_params import (
    MAX_BANK,
    PHASE_LENGTH_WIDTH,
    PHASES,
    bnn_hw_params_of,
    check_phase_lengths,
)
from golden.spec.interfaces import STROBE_TABLE, STROBES
from golden.spec.params import check_int
from hw.lintsafe import add_const, eq_const


def sa_response_layout(bank: int, tag_width: int) -> data.StructLayout:
    """``resp`` payload: ``tag`` (the request's) and ``bits`` (K SA decisions, bit k = slot k)."""
    return data.StructLayout({"tag": unsigned(tag_width), "bits": unsigned(bank)})


def cfg_signature() -> wiring.Signature:
    """Phase-length register write port, seen from the writer: ``we``, ``addr`` (3), ``data`` (8)."""
    return wiring.Signature({"we": Out(1), "addr": Out(3), "data": Out(PHASE_LENGTH_WIDTH)})


class SenseAmpSequencer(wiring.Component):
    """Run the equalise/precharge -> input -> evaluate -> sense -> read-out -> reset phases of a bank
    of ``bank`` capacitive neurons and capture their SA decisions.

    The phase table, the strobe of each phase and the exact cycle semantics are specified by the
    golden twin :mod:`golden.twins.sense_amp_sequencer` (``SenseAmpSequencerModel``).

    Parameters
    ----------
    bank : int, 1..64
        K, neurons (sense amplifiers) evaluated per conversion.
    tag_width : int, 1..16
        Width of the request tag (the bank / word-line index), returned with the decisions.
    lengths : 6 ints, 1..255
        Reset values of the phase-length registers (precharge, input, evaluate, sense, readout,
        reset), in cycles.

    Attributes
    ----------
    req : In(stream.Signature(tag_width))
        Start one conversion. Ready in idle and in the last reset cycle (a registered decode).
    resp : Out(stream.Signature(StructLayout{tag: tag_width, bits: K}))
        Captured decisions, registered; offered from the cycle after the last readout cycle.
    cfg : In(cfg_signature())
        ``we``, ``addr`` (0..5 = phase, 6/7 ignored), ``data`` (8 bits): phase-length writes, taking
        effect for phases entered after the write's clock edge.
    sa_out : In(K)
        SA latch outputs of the bank, sampled at the end of the last readout cycle.
    eq, precharge, input_en, evaluate, sa_en, readout, sa_rst : Out(1)
        Registered strobes to the analog macro (decode of the phase register).
    phase : Out(3)
        Current phase code (0 idle, 1 precharge .. 6 reset), registered.

    Latency: a request transferred in cycle c gives precharge from c+1; the response is offered in
    cycle c + sum(L[0:5]) + 1 (no stall). Throughput: one conversion per sum(L) cycles back to back.
    """

    def __init__(self, bank: int = 1, *, tag_width: int = 1, lengths=(2, 1, 2, 1, 1, 1)):
        check_int("bnn.bank", bank, 1, MAX_BANK)
        check_int("sense_amp_sequencer.tag_width", tag_width, 1, 16)
        self.bank, self.tag_width = bank, tag_width
        self.lengths = check_phase_lengths("sense_amp_sequencer.lengths", lengths)
        super().__init__({
            "req": In(stream.Signature(unsigned(tag_width))),
            "resp": Out(stream.Signature(sa_response_layout(bank, tag_width))),
            "cfg": In(cfg_signature()),
            "sa_out": In(bank),
            **{s: Out(1) for s in STROBES},
            "phase": Out(3),
        })

    @classmethod
    def from_params(cls, params) -> SenseAmpSequencer:
        """From :class:`golden.spec.bnn_datapath_params.BnnHwParams` (or AccelParams: BNN defaults)."""
        p = bnn_hw_params_of(params)
        return cls(p.bank, tag_width=p.bank_width, lengths=p.phase_lengths)

    def elaborate(self, platform):
        m = Module()
        n = len(PHASES)
        lens = [Signal(PHASE_LENGTH_WIDTH, init=v, name=f"len_{name}") for name, v in zip(PHASES, self.lengths)]
        cnt = Signal(PHASE_LENGTH_WIDTH)
        cnt_n = Signal(PHASE_LENGTH_WIDTH)   # next value of cnt (comb)
        cnt_nz = Signal()                    # cnt_n == 0, formed per branch (no compare after the decrement)
        tag = Signal(self.tag_width)
        nxt = Signal(3)                      # next phase (comb); phase and strobes register it
        last = Signal()
        m.d.comb += last.eq(eq_const(cnt, 0))

        for a in range(n):                   # addresses 6, 7 write nothing
            with m.If(self.cfg.we & eq_const(self.cfg.addr, a)):
                m.d.sync += lens[a].eq(self.cfg.data)

        def load(p):                         # counter value on entering phase p: max(len, 1) - 1
            L = lens[p - 1]
            with m.If(eq_const(L, 0)):
                m.d.comb += cnt_n.eq(0)
            with m.Else():
                m.d.comb += cnt_n.eq(add_const(L, -1))
            m.d.comb += cnt_nz.eq(~L[1:].any())

        # ready = phase 0, or phase 6 in its last cycle; kept as a register of its own, set from the
        # next phase and count (a flip-flop output: the BNN engine's word-line address depends on it)
        ready = Signal(init=1)
        m.d.comb += [
            self.req.ready.eq(ready),
            nxt.eq(self.phase),
            cnt_n.eq(cnt),
            cnt_nz.eq(last),
        ]
        m.d.sync += [cnt.eq(cnt_n), ready.eq(eq_const(nxt, 0) | (eq_const(nxt, 6) & cnt_nz))]
        accept = Signal()
        m.d.comb += accept.eq(ready & self.req.valid)

        # Capture at the end of the last readout cycle, once the response register is free.
        capture = Signal()
        m.d.comb += capture.eq(eq_const(self.phase, 5) & last & (~self.resp.valid | self.resp.ready))
        with m.If(capture):
            m.d.sync += [self.resp.valid.eq(1), self.resp.payload.tag.eq(tag),
                         self.resp.payload.bits.eq(self.sa_out)]
        with m.Elif(self.resp.valid & self.resp.ready):
            m.d.sync += self.resp.valid.eq(0)

        def start():
            m.d.sync += tag.eq(self.req.payload)
            m.d.comb += nxt.eq(1)
            load(1)

        with m.Switch(self.phase):
            with m.Case(0), m.If(accept):
                start()
            for p in range(1, 5):
                with m.Case(p):
                    with m.If(last):
                        m.d.comb += nxt.eq(p + 1)
                        load(p + 1)
                    with m.Else():
                        m.d.comb += [cnt_n.eq(add_const(cnt, -1)), cnt_nz.eq(eq_const(cnt, 1))]
            with m.Case(5):
                with m.If(~last):
                    m.d.comb += [cnt_n.eq(add_const(cnt, -1)), cnt_nz.eq(eq_const(cnt, 1))]
                with m.Elif(capture):
                    m.d.comb += nxt.eq(6)
                    load(6)
            with m.Default():               # 6: reset (7 is unreachable and behaves like reset)
                with m.If(~last):
                    m.d.comb += [cnt_n.eq(add_const(cnt, -1)), cnt_nz.eq(eq_const(cnt, 1))]
                with m.Elif(accept):
                    start()
                with m.Else():
                    m.d.comb += nxt.eq(0)

        # Registered strobes: decode of the next phase, so that each strobe is a flip-flop output
        # equal to the decode of the phase register in the same cycle.
        m.d.sync += self.phase.eq(nxt)
        with m.Switch(nxt):
            for code, bits in STROBE_TABLE.items():
                with m.Case(code):
                    m.d.sync += [getattr(self, s).eq(b) for s, b in zip(STROBES, bits)]
            with m.Default():
                m.d.sync += [getattr(self, s).eq(0) for s in STROBES]
        return m
