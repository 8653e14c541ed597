"""UpdateUnit: mixed-precision accumulator memory (chi per synapse) that emits signed pulse counts."""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth import Const as C
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.spec.params import AccelParams
from hw.layouts import pulse_count_layout, update_request_layout
from hw.lintsafe import add_const, ge_const, sext, zext, zext_operand


class UpdateUnit(wiring.Component):
    """Per-synapse accumulator chi += dW; emits ``count`` pulses when |chi| reaches eps.

    Bit-true to :mod:`golden.twins.update_unit`: ``s = saturate(chi + dw)`` to the signed ``chi_width``
    range, ``n = min(|s| // eps, max_count)`` (truncation toward zero), ``count = sign(s) * n``,
    ``chi := s - count * eps``; a PulseCount is emitted only when ``count != 0``. ``eps`` is any
    integer constant (the quotient is found by a restoring division over ``count_width`` bits, one
    cycle, against constant multiples of eps).

    chi lives in a ``rows * cols`` word memory (signed ``chi_width``; synchronous read port
    transparent to the write port), address ``row * cols + col``. It starts at 0 when the design is
    configured; ``rst`` resets the pipeline, not the memory.

    Parameters
    ----------
    params : AccelParams
        ``array.rows``, ``array.cols`` and the ``update`` section (validated there).

    Attributes
    ----------
    i : In(stream.Signature(update_request_layout))
        Requests ``(row: row_width, col: col_width, dw: signed dw_width)``.
    o : Out(stream.Signature(pulse_count_layout))
        ``(row, col, count: signed count_width + 1)``, only for ``count != 0``.
    addr_error : Out(1)
        Sticky: a request with ``row >= rows`` or ``col >= cols`` was dropped (no chi change, no
        output). Cleared by ``rst``.

    Latency 2 (a request accepted in cycle t is offered on ``o`` from cycle t + 2); throughput one
    request per cycle, also for back-to-back requests to one synapse; a request with count 0 never
    waits for ``o``. ``i.ready = ~b_valid | b_go`` depends combinationally on ``o.ready``.
    """

    def __init__(self, params: AccelParams):
        self.params = params
        u = params.update
        self.rows, self.cols = params.array.rows, params.array.cols
        self.chi_width, self.eps, self.count_width = u.chi_width, u.eps, u.count_width
        super().__init__({
            "i": In(stream.Signature(update_request_layout(params))),
            "o": Out(stream.Signature(pulse_count_layout(params))),
            "addr_error": Out(1),
        })

    @classmethod
    def from_params(cls, params: AccelParams) -> UpdateUnit:
        return cls(params)

    def _in_range(self, value, limit: int):
        # Only compare where the field can hold an out-of-range value (a constant compare would
        # be a lint warning).
        return ~ge_const(value, limit) if (1 << len(value)) > limit else C(1, 1)

    def elaborate(self, platform):
        m = Module()
        cw, eps, ccw = self.chi_width, self.eps, self.count_width
        depth = max(2, self.rows * self.cols)  # depth 1 would give a 0-bit address ([-1:0] in Verilog)

        m.submodules.mem = mem = Memory(shape=signed(cw), depth=depth, init=[])
        wp = mem.write_port()
        rp = mem.read_port(transparent_for=(wp,))
        aw = len(rp.addr)

        def address(row, col, valid):
            # row * cols + col (the col operand is muxed to keep its zero extension explicit)
            prod = (zext(row, aw) * C(self.cols, aw))[:aw]
            return (prod + zext_operand(col, aw, valid))[:aw]

        # --- stage B: the request whose chi is on rp.data ---------------------------------------
        b_valid = Signal()
        b_row = Signal.like(self.i.payload.row)
        b_col = Signal.like(self.i.payload.col)
        b_dw = Signal.like(self.i.payload.dw)
        b_ok = Signal()

        # chi + dw in cw + 1 bits cannot overflow; it leaves the cw-bit range iff its top two bits
        # differ, and then saturates towards its sign.
        s_wide = Signal(cw + 1)
        m.d.comb += s_wide.eq(sext(rp.data, cw + 1) + sext(b_dw, cw + 1))
        neg = s_wide[cw]
        ovf = s_wide[cw] ^ s_wide[cw - 1]
        s = Signal(signed(cw))
        mag = Signal(unsigned(cw))
        m.d.comb += [
            s.eq(Mux(ovf, Cat((~neg).replicate(cw - 1), neg), s_wide[:cw])),
            mag.eq(Mux(neg, -s, s)),
        ]
        # Restoring division of |s| by eps, quotient bits ccw-1 .. 0: taking eps << k whenever it
        # fits gives min(|s| // eps, 2**ccw - 1) and the matching remainder.
        q_bits = []
        rem = mag
        for k in reversed(range(ccw)):
            d = eps << k
            if d > (1 << (cw - 1)):  # larger than any |s|: this quotient bit is always 0
                q_bits.append(C(0, 1))
                continue
            ge = Signal(name=f"q{k}")
            nxt = Signal(unsigned(cw), name=f"rem{k}")
            m.d.comb += [ge.eq(ge_const(rem, d)), nxt.eq(Mux(ge, add_const(rem, -d), rem))]
            q_bits.append(ge)
            rem = nxt
        n = Signal(unsigned(ccw))
        m.d.comb += n.eq(Cat(*reversed(q_bits)))
        count = Signal(signed(ccw + 1))
        chi_new = Signal(signed(cw))
        emit = Signal()
        m.d.comb += [
            count.eq(Mux(neg, -n, n)),
            chi_new.eq(Mux(neg, -rem, rem)),
            emit.eq(b_ok & n.any()),
        ]

        # --- handshakes -------------------------------------------------------------------------
        o_free = Signal()
        b_go = Signal()
        m.d.comb += [
            o_free.eq(~self.o.valid | self.o.ready),
            b_go.eq(b_valid & (~emit | o_free)),
            self.i.ready.eq(~b_valid | b_go),
        ]

        # --- stage A: accept and read ------------------------------------------------------------
        p = self.i.payload
        m.d.comb += [rp.en.eq(self.i.ready), rp.addr.eq(address(p.row, p.col, self.i.valid))]
        with m.If(self.i.ready):
            m.d.sync += [
                b_valid.eq(self.i.valid),
                b_row.eq(p.row), b_col.eq(p.col), b_dw.eq(p.dw),
                b_ok.eq(self._in_range(p.row, self.rows) & self._in_range(p.col, self.cols)),
            ]

        # --- write back and output register ------------------------------------------------------
        m.d.comb += [wp.en.eq(b_go & b_ok), wp.addr.eq(address(b_row, b_col, b_valid)), wp.data.eq(chi_new)]
        with m.If(o_free):
            m.d.sync += [
                self.o.valid.eq(b_go & emit),
                self.o.payload.row.eq(b_row),
                self.o.payload.col.eq(b_col),
                self.o.payload.count.eq(count),
            ]
        with m.If(b_go & ~b_ok):
            m.d.sync += self.addr_error.eq(1)
        return m
