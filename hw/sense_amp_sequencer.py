"""SenseAmpSequencer: phase FSM and strobes of a bank of capacitive neurons with clocked SAs."""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.hdl import Assert
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
from hw.lintsafe import add_const, and_each, eq_const, one_hot


def sa_response_layout(bank: int, tag_width: int) -> data.StructLayout:
    """``resp`` payload: ``tag`` (the request's) and ``bits`` (K SA decisions, bit k = slot k)."""
    return data.StructLayout({"tag": unsigned(tag_width), "bits": unsigned(bank)})


def cfg_signature() -> wiring.Signature:
    """Phase-length register write port, seen from the writer: ``we``, ``addr`` (3), ``data`` (8)."""
    return wiring.Signature({"we": Out(1), "addr": Out(3), "data": Out(PHASE_LENGTH_WIDTH)})


class SenseAmpSequencer(wiring.Component):
    """Run the equalise/precharge -> input -> evaluate -> sense -> read-out -> reset phases of a bank
    of ``bank`` capacitive neurons and capture their SA decisions, pipelined across banks: each phase
    is a stage holding one conversion, so the conversions of successive banks overlap.

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
    eval_lines : int, 0..4096
        Adds the ``eval_wl`` output with this many lines when > 0 (0: no port).

    Attributes
    ----------
    req : In(stream.Signature(tag_width))
        Start one conversion. Ready when the one-entry request queue in front of the precharge stage
        is empty (a register). A request enters precharge in its transfer cycle if the stage is free
        (empty or moving on), else it waits in the queue and enters in the first cycle it is.
    resp : Out(stream.Signature(StructLayout{tag: tag_width, bits: K}))
        Captured decisions, registered; offered from the cycle after the last readout cycle.
    cfg : In(cfg_signature())
        ``we``, ``addr`` (0..5 = phase, 6/7 ignored), ``data`` (8 bits): phase-length writes, taking
        effect for phases entered after the write's clock edge.
    sa_out : In(K)
        SA latch outputs of the bank, sampled in a conversion's first readout cycle.
    eq, precharge, input_en, evaluate, sa_en, readout, sa_rst : Out(1)
        Registered strobes to the analog macro: the OR of the strobes of the occupied phases.
    phase : Out(3)
        Code of the most advanced occupied phase (0 idle, 1 precharge .. 6 reset), decoded from the
        occupancy registers (a status code, not a strobe).
    stages, firsts : Out(6)
        Occupied stages and the stages a conversion entered in this cycle (bit p-1 = phase p),
        registered: the macro follows each conversion through the pipeline with them.
    eval_next : Out(1), eval_tag_next : Out(tag_width)
        The evaluate stage of the next cycle (occupied, tag), combinational.
    eval_wl : Out(eval_lines), only if ``eval_lines`` > 0
        The word-line decoder of the evaluate stage: bit t is 1 iff the stage is occupied by tag t
        (a tag >= ``eval_lines`` sets none). A decoder of the stage's registers (occupancy, tag)
        only, as a row decoder after its address register: the stage moves are not in its cone
        (in a registered decoder of the next state they reached its flip-flops, which the ULX3S
        top places with its word-line outputs across the die, and synthesis shared its LUTs with
        the moves' lookahead).

    Latency: a request transferred in cycle c gives precharge from c+1 if the stage is free; the
    response is offered in cycle c + sum(L[0:5]) + 1 (no stall). Throughput: one conversion per max(L) cycles back to back
    (one per cycle with every phase 1 cycle long).
    """

    def __init__(self, bank: int = 1, *, tag_width: int = 1, lengths=(2, 1, 2, 1, 1, 1), eval_lines: int = 0):
        check_int("bnn.bank", bank, 1, MAX_BANK)
        check_int("sense_amp_sequencer.tag_width", tag_width, 1, 16)
        check_int("sense_amp_sequencer.eval_lines", eval_lines, 0, 4096)
        self.bank, self.tag_width, self.eval_lines = bank, tag_width, eval_lines
        self.lengths = check_phase_lengths("sense_amp_sequencer.lengths", lengths)
        n = len(PHASES)
        super().__init__({
            "req": In(stream.Signature(unsigned(tag_width))),
            "resp": Out(stream.Signature(sa_response_layout(bank, tag_width))),
            "cfg": In(cfg_signature()),
            "sa_out": In(bank),
            **{s: Out(1) for s in STROBES},
            "phase": Out(3),
            "stages": Out(n),
            "firsts": Out(n),
            "eval_next": Out(1),
            "eval_tag_next": Out(tag_width),
            **({"eval_wl": Out(eval_lines)} if eval_lines else {}),
        })

    @classmethod
    def from_params(cls, params) -> SenseAmpSequencer:
        """From :class:`golden.spec.bnn_datapath_params.BnnHwParams` (or AccelParams: BNN defaults)."""
        p = bnn_hw_params_of(params)
        return cls(p.bank, tag_width=p.bank_width, lengths=p.phase_lengths)

    def elaborate(self, platform):
        m = Module()
        n = len(PHASES)
        ev, rd = 2, 4                         # stage indices of evaluate and readout
        lens = [Signal(PHASE_LENGTH_WIDTH, init=v, name=f"len_{name}") for name, v in zip(PHASES, self.lengths)]
        for a in range(n):                   # addresses 6, 7 write nothing
            with m.If(self.cfg.we & eq_const(self.cfg.addr, a)):
                m.d.sync += lens[a].eq(self.cfg.data)

        occ = [Signal(name=f"occ_{p}") for p in PHASES]
        cnt = [Signal(PHASE_LENGTH_WIDTH, name=f"cnt_{p}") for p in PHASES]
        tag = [Signal(self.tag_width, name=f"tag_{p}") for p in PHASES]
        first = [Signal(name=f"first_{p}") for p in PHASES]
        # `keep`: the moves are nets of their own in synthesis, so the logic behind them (word-line
        # decoder, counters, strobes) is not merged into the move LUTs and placed far from the stages
        mv = [Signal(name=f"mv_{p}", attrs={"keep": 1}) for p in PHASES]
        occ_n = [Signal(name=f"occ_n_{p}") for p in PHASES]
        tag_n = [Signal(self.tag_width, name=f"tag_n_{p}") for p in PHASES]
        # out[s]: the count of the occupied stage s ran out (cnt[s] == 0 while it counts), kept as a
        # flip-flop so that the move chain below starts at registers (a zero test on the counter put
        # its decrement's carry chain on the path)
        out = [Signal(name=f"out_{p}") for p in PHASES]
        rbits = Signal(self.bank)

        # moves: a stage whose count ran out moves on if the next one is free or moving; readout
        # also needs the response register free (or taken now). Stage s is free or moving,
        #   free[s] = ~occ[s] | pass[s] & free[s+1],   pass[s] = out[s] (& resp_free at readout),
        # a carry chain from the last stage back; it is formed in carry-lookahead form, every
        # free[s] a two-level OR of ANDs of registers (the ripple form was the critical path of the
        # BNN engine and of the ULX3S top): free[s] = OR_k (pass[s..k-1] all 1) & ~occ[k], the
        # stage past the last one always free.
        resp_free = Signal()
        m.d.comb += resp_free.eq(~self.resp.valid | self.resp.ready)
        pas = [Signal(name=f"pass_{p}") for p in PHASES]
        # (`keep` on the free flags and on `accept` too: their OR-of-ANDs are mapped as trees, not
        # merged into LUT chains with the moves and the precharge stage's enables)
        free = [Signal(name=f"free_{p}", attrs={"keep": 1}) for p in PHASES]
        for s in range(n):
            m.d.comb += pas[s].eq(out[s] & resp_free if s == rd else out[s])
        for s in range(n):
            terms = []
            for k in range(s, n + 1):
                run = Cat(*pas[s:k]).all() if k > s else Const(1, 1)
                terms.append(run & (~occ[k] if k < n else Const(1, 1)))
            m.d.comb += free[s].eq(Cat(*terms).any())
        for s in range(n):
            m.d.comb += mv[s].eq(occ[s] & pas[s] & (free[s + 1] if s + 1 < n else Const(1, 1)))
        # the request queue: `req.ready` is its empty flag, a register, so the stage moves stay out
        # of the requester's transfer logic (on the ULX3S top they ran on through `req.ready` into
        # the BNN engine's request counter and credits)
        q_valid = Signal()
        q_tag = Signal(self.tag_width)
        accept = Signal(attrs={"keep": 1})    # a conversion enters precharge: queued or bypassing
        m.d.comb += [self.req.ready.eq(~q_valid), accept.eq((q_valid | self.req.valid) & free[0])]
        with m.If(q_valid), m.If(free[0]):
            m.d.sync += q_valid.eq(0)
        with m.Else():                        # the tag follows the offered one while empty
            m.d.sync += [q_valid.eq(self.req.valid & ~free[0]), q_tag.eq(self.req.payload)]
        src0 = Signal(self.tag_width)
        m.d.comb += src0.eq(Mux(q_valid, q_tag, self.req.payload))

        def load(s):                          # counter value on entering stage s: max(len, 1) - 1
            L = lens[s]
            return Mux(eq_const(L, 0), 0, add_const(L, -1))

        for s in range(n):
            enter = accept if s == 0 else mv[s - 1]
            src_tag = src0 if s == 0 else tag[s - 1]
            m.d.comb += [occ_n[s].eq((occ[s] & ~mv[s]) | enter), tag_n[s].eq(Mux(enter, src_tag, tag[s]))]
            m.d.sync += [occ[s].eq(occ_n[s]), tag[s].eq(tag_n[s]), first[s].eq(enter)]
            # the counter loads whenever its stage is empty or its count ran out (a conversion enters
            # only then, so it finds the count of its entry cycle's length), counts down otherwise:
            # `enter` (behind the move chain) reaches only the `out` flag, not the counter's enables
            with m.If(~occ[s] | out[s]):
                m.d.sync += cnt[s].eq(load(s))
            with m.Else():
                m.d.sync += cnt[s].eq(add_const(cnt[s], -1))
            with m.If(enter):
                m.d.sync += out[s].eq(~lens[s][1:].any())    # len <= 1
            with m.Elif(occ[s] & ~out[s]):
                m.d.sync += out[s].eq(eq_const(cnt[s], 1))
            m.d.comb += Assert(~occ[s] | out[s] | ~eq_const(cnt[s], 0), f"{PHASES[s]}: count flag")

        # the decision on the bus in a conversion's first readout cycle stays with it
        bits_now = Signal(self.bank)
        m.d.comb += bits_now.eq(Mux(first[rd], self.sa_out, rbits))
        with m.If(occ[rd] & first[rd]):
            m.d.sync += rbits.eq(self.sa_out)
        with m.If(mv[rd]):
            m.d.sync += [self.resp.valid.eq(1), self.resp.payload.tag.eq(tag[rd]),
                         self.resp.payload.bits.eq(bits_now)]
        with m.Elif(self.resp.valid & self.resp.ready):
            m.d.sync += self.resp.valid.eq(0)

        # registered strobes and phase: decodes of the next occupancy
        for i, st in enumerate(STROBES):
            terms = [occ_n[code - 1] for code, bits in STROBE_TABLE.items() if code and bits[i]]
            m.d.sync += getattr(self, st).eq(Cat(*terms).any())
        # phase: the most advanced occupied phase, a decode of the occupancy registers (the same
        # value as a register of the next occupancy's decode, without the stage moves in its cone)
        ph = Const(0, 3)
        for s in range(n):
            ph = Mux(occ[s], s + 1, ph)
        m.d.comb += self.phase.eq(ph)
        m.d.comb += [
            self.stages.eq(Cat(*occ)),
            self.firsts.eq(Cat(*(o & f for o, f in zip(occ, first)))),
            self.eval_next.eq(occ_n[ev]),
            self.eval_tag_next.eq(tag_n[ev]),
        ]
        if self.eval_lines:
            dec = Signal(self.eval_lines)
            m.d.comb += dec.eq(one_hot(m, tag[ev], self.eval_lines, name="eval_dec"))
            m.d.comb += self.eval_wl.eq(and_each(dec, occ[ev]))
        return m
