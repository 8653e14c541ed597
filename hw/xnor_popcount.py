"""XNOR-popcount neuron datapath: the digital reference (and FPGA mode) of a 2T2R BNN neuron."""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.bnn_datapath_params import (
    MAX_INPUTS,
    POPCOUNT_MODES,
    bnn_hw_params_of,
    popcount_width,
    threshold_width,
)
from golden.spec.params import check_choice, check_int


def popcount_in_layout(width: int, tag_width: int) -> data.StructLayout:
    """Input payload: ``x``, ``w`` (width bits each), ``thr`` (0..width+1) and optional ``tag``."""
    fields = {"x": unsigned(width), "w": unsigned(width), "thr": unsigned(threshold_width(width))}
    if tag_width:
        fields["tag"] = unsigned(tag_width)
    return data.StructLayout(fields)


def popcount_out_layout(width: int, tag_width: int) -> data.StructLayout:
    """Output payload: ``count`` (0..width), ``decision`` (count >= thr) and optional ``tag``."""
    fields = {"count": unsigned(popcount_width(width)), "decision": unsigned(1)}
    if tag_width:
        fields["tag"] = unsigned(tag_width)
    return data.StructLayout(fields)


class XnorPopcount(wiring.Component):
    """Pipelined XNOR-popcount with threshold compare, one vector per cycle.

    ``count = popcount(~(x ^ w))``, ``decision = count >= thr``. The twin is
    :mod:`golden.twins.xnor_popcount` (function, latency model and cycle model).

    Parameters
    ----------
    width : int, 1..4096
        n, bits of ``x`` and ``w``.
    stage_levels : int, 1..16
        k: a pipeline register after every k adder-tree levels and after the last one.
    mode : "tree" | "lut6"
        ``tree``: binary adder tree (reference datapath), ``D = ceil(log2 n)`` levels.
        ``lut6``: each 6-bit chunk's popcount is three 64-entry truth tables (one LUT6 per output
        bit on FPGAs), then a ternary adder tree: ``D = 1 + ceil(log3 ceil(n/6))`` levels, i.e.
        fewer levels and fewer pipeline registers for the same k. Both give identical results.
    tag_width : int, 0..32
        Width of a tag passed through with each vector (0: no tag field).

    Attributes
    ----------
    i : In(stream.Signature(StructLayout{x: n, w: n, thr: bits(n+1), tag: tag_width}))
        Input vectors. ``i.ready = ~o.valid | o.ready`` (combinational from ``o.ready``).
    o : Out(stream.Signature(StructLayout{count: bits(n), decision: 1, tag: tag_width}))
        Results, in input order. ``o.valid`` and the payload come from registers.
    latency : int
        ``L = ceil(D / k) + 1`` cycles: an input transferred in cycle c is offered on ``o`` in cycle
        c + L when ``o`` has not stalled. Throughput 1 vector/cycle; a stall of ``o`` freezes the
        whole pipeline (global enable).
    levels : int
        D, adder-tree levels actually built (checked against the golden latency model).
    """

    def __init__(self, width: int, *, stage_levels: int = 2, mode: str = "tree", tag_width: int = 0):
        check_int("bnn.inputs", width, 1, MAX_INPUTS)
        check_int("bnn.stage_levels", stage_levels, 1, 16)
        check_choice("bnn.popcount_mode", mode, POPCOUNT_MODES)
        check_int("xnor_popcount.tag_width", tag_width, 0, 32)
        self.width, self.stage_levels, self.mode, self.tag_width = width, stage_levels, mode, tag_width
        self.levels = self._levels()
        self.latency = -(-self.levels // stage_levels) + 1
        super().__init__({
            "i": In(stream.Signature(popcount_in_layout(width, tag_width))),
            "o": Out(stream.Signature(popcount_out_layout(width, tag_width))),
        })

    @classmethod
    def from_params(cls, params) -> XnorPopcount:
        """Width ``cells`` (inputs + bias cells) of :class:`golden.spec.bnn_datapath_params.BnnHwParams` (or of its
        defaults when given AccelParams)."""
        p = bnn_hw_params_of(params)
        return cls(p.cells, stage_levels=p.stage_levels, mode=p.popcount_mode, tag_width=p.neuron_width)

    def _levels(self) -> int:
        n, d = self.width, 0
        if self.mode == "lut6":
            n, d = -(-n // 6), 1
            while n > 1:
                n, d = -(-n // 3), d + 1
        else:
            while n > 1:
                n, d = -(-n // 2), d + 1
        return d

    def elaborate(self, platform):
        m = Module()
        n, k = self.width, self.stage_levels
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        # The XNOR vector is a Signal of its own: slicing an expression would repeat it per bit.
        xn = Signal(n)
        m.d.comb += xn.eq(~(self.i.payload.x ^ self.i.payload.w))

        # Side band travelling with the data: (valid, thr, tag), registered at each pipeline stage.
        valid, thr = self.i.valid, self.i.payload.thr
        tag = self.i.payload.tag if self.tag_width else None

        # Nodes of the current level (Signals). Verilator's WIDTH lint accepts ``a + b`` only with
        # equal operand widths (result one bit wider); Amaranth/Yosys write a zero-extended operand
        # as the bare narrow signal, so a narrower operand is widened through a Mux gated by the
        # stage's valid bit (data of an invalid stage is don't-care), which keeps the extension.
        nodes: list = [xn[b] for b in range(n)]
        level, stage = 0, 0

        def widen(v, w):
            return v if len(v) == w else Mux(valid, Cat(v, Const(0, w - len(v))), 0)

        if self.mode == "lut6":
            chunks = []
            for c in range(0, n, 6):
                bits = min(6, n - c)
                chunk = Signal(bits, name=f"chunk{c // 6}")
                m.d.comb += chunk.eq(xn[c:c + bits])
                # The chunk's popcount as a truth table over the <= 6 chunk bits: each of the three
                # output bits is one LUT6 on FPGAs (no carry logic at this level).
                s = Signal(range(bits + 1), name=f"pc{c // 6}")
                with m.Switch(chunk):
                    for v in range(1 << bits):
                        with m.Case(v):
                            m.d.comb += s.eq(v.bit_count())
                chunks.append(s)
            nodes, level = chunks, 1
            fan_in = 3
        else:
            fan_in = 2

        def register_stage():
            nonlocal nodes, valid, thr, tag, stage
            regs = []
            with m.If(en):
                for j, v in enumerate(nodes):
                    r = Signal(len(v), name=f"st{stage}_n{j}")
                    m.d.sync += r.eq(v)
                    regs.append(r)
                rv = Signal(name=f"st{stage}_valid")
                rt = Signal.like(thr, name=f"st{stage}_thr")
                m.d.sync += [rv.eq(valid), rt.eq(thr)]
                if tag is not None:
                    rg = Signal.like(tag, name=f"st{stage}_tag")
                    m.d.sync += rg.eq(tag)
                    tag = rg
            nodes, valid, thr, stage = regs, rv, rt, stage + 1

        if level and level % k == 0 and level < self.levels:
            register_stage()
        while len(nodes) > 1:
            nxt = []
            for j in range(0, len(nodes), fan_in):
                grp = nodes[j:j + fan_in]
                if len(grp) == 1:
                    nxt.append(grp[0])
                    continue
                w = max(len(v) for v in grp)
                total = Signal(w + 1, name=f"l{level + 1}_n{len(nxt)}" + ("_ab" if len(grp) == 3 else ""))
                m.d.comb += total.eq(widen(grp[0], w) + widen(grp[1], w))
                if len(grp) == 3:  # ternary add as two equal-width adds
                    t3 = Signal(w + 2, name=f"l{level + 1}_n{len(nxt)}")
                    m.d.comb += t3.eq(total + widen(grp[2], w + 1))
                    total = t3
                nxt.append(total)
            nodes, level = nxt, level + 1
            if level % k == 0 and level < self.levels:
                register_stage()
        assert level == self.levels, (level, self.levels)
        if self.levels:
            register_stage()

        count = nodes[0]
        cw = popcount_width(n)
        count = count[:cw] if len(count) > cw else count
        w = max(len(count), len(thr))
        with m.If(en):
            m.d.sync += [self.o.valid.eq(valid), self.o.payload.count.eq(count),
                         self.o.payload.decision.eq(widen(count, w) >= widen(thr, w))]
            if tag is not None:
                m.d.sync += self.o.payload.tag.eq(tag)
        return m
