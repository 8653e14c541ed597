"""UpdateUnit: mixed-precision accumulator memory (chi per synapse) that emits signed pulse counts."""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth import Const as C
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.params import AccelParams
from hw.layouts import pulse_count_layout, update_request_layout
from hw.lintsafe import add_const, eq_const, ge_const, sext, zext, zext_operand
from hw.sram import SimpleDualPortRam


class UpdateUnit(wiring.Component):
    """Per-synapse accumulator chi += dW; emits ``count`` pulses when |chi| reaches eps.

    Bit-true to :mod:`golden.twins.update_unit`: ``s = saturate(chi + dw)`` to the signed ``chi_width``
    range, ``n = min(|s| // eps, max_count)`` (truncation toward zero), ``count = sign(s) * n``,
    ``chi := s - count * eps``; a PulseCount is emitted only when ``count != 0``. ``eps`` is any
    integer constant (the quotient is found by a restoring division over ``count_width`` bits, one
    cycle, against constant multiples of eps).

    chi lives in a ``rows * cols`` word :class:`hw.sram.SimpleDualPortRam` (signed ``chi_width``;
    read port transparent to the write port), address ``row * cols + col``, whose contents are
    undefined at power-up. **Clear walk**: after ``rst`` (and at power-up) and after a ``clear``
    pulse the unit writes 0 to one word per cycle, addresses 0 .. rows*cols - 1, so the walk takes
    ``rows * cols`` cycles (:func:`golden.twins.update_unit.clear_cycles`); meanwhile ``clearing`` is
    high and ``i.ready`` low. A ``clear`` drops the request in stage B (no chi write, no PulseCount);
    a PulseCount already in the output register is still offered.

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
    clear : In(1)
        Start the clear walk (again) from address 0 in the next cycle; ``i.ready`` is low already in
        the cycle of the pulse.
    clearing : Out(1)
        The clear walk runs (``rows * cols`` cycles from the cycle after ``rst`` or ``clear``).

    Latency 2 (a request accepted in cycle t is offered on ``o`` from cycle t + 2); throughput one
    request per cycle, also for back-to-back requests to one synapse; a request with count 0 never
    waits for ``o``. ``i.ready = ~clearing & ~clear & (~b_valid | b_go)`` depends combinationally on
    ``o.ready``. The first request after reset is accepted in cycle ``rows * cols`` at the earliest.
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
            "clear": In(1),
            "clearing": Out(1),
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

        m.submodules.chi_ram = ram = SimpleDualPortRam(signed(cw), depth, transparent=True)
        aw = len(ram.r_addr)

        def address(row, col, valid):
            # row * cols + col (the col operand is muxed to keep its zero extension explicit)
            prod = (zext(row, aw) * C(self.cols, aw))[:aw]
            return (prod + zext_operand(col, aw, valid))[:aw]

        # --- stage B: the request whose chi is on ram.r_data ---------------------------------------
        b_valid = Signal()
        b_row = Signal.like(self.i.payload.row)
        b_col = Signal.like(self.i.payload.col)
        b_dw = Signal.like(self.i.payload.dw)
        b_ok = Signal()

        # chi + dw in cw + 1 bits cannot overflow; it leaves the cw-bit range iff its top two bits
        # differ, and then saturates towards its sign.
        s_wide = Signal(cw + 1)
        m.d.comb += s_wide.eq(sext(ram.r_data, cw + 1) + sext(b_dw, cw + 1))
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
            b_go.eq(b_valid & ~self.clear & (~emit | o_free)),
            self.i.ready.eq(~self.clearing & ~self.clear & (~b_valid | b_go)),
        ]
        self._clear_walk(m, ram, aw)

        # --- stage A: accept and read ------------------------------------------------------------
        p = self.i.payload
        m.d.comb += [ram.r_en.eq(self.i.ready), ram.r_addr.eq(address(p.row, p.col, self.i.valid))]
        with m.If(self.clear):
            m.d.sync += b_valid.eq(0)        # the request in B is dropped
        with m.Elif(self.i.ready):
            m.d.sync += [
                b_valid.eq(self.i.valid),
                b_row.eq(p.row), b_col.eq(p.col), b_dw.eq(p.dw),
                b_ok.eq(self._in_range(p.row, self.rows) & self._in_range(p.col, self.cols)),
            ]

        # --- write back and output register ------------------------------------------------------
        with m.If(~self.clearing):
            m.d.comb += [ram.w_en.eq(b_go & b_ok), ram.w_addr.eq(address(b_row, b_col, b_valid)),
                         ram.w_data.eq(chi_new)]
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

    def _clear_walk(self, m: Module, ram: SimpleDualPortRam, aw: int) -> None:
        """Write 0 to words 0 .. rows*cols-1, one per cycle, from reset (``clearing`` resets to 1) or
        from the cycle after ``clear``. Stage B is empty meanwhile, so the walk owns the write port."""
        last = self.rows * self.cols - 1
        walking = Signal(init=1)             # the walk starts at reset / power-up
        addr = Signal(aw)
        m.d.comb += self.clearing.eq(walking)
        with m.If(walking):
            m.d.comb += [ram.w_en.eq(1), ram.w_addr.eq(addr), ram.w_data.eq(0)]
        with m.If(self.clear):
            m.d.sync += [walking.eq(1), addr.eq(0)]
        with m.Elif(walking):
            m.d.sync += addr.eq(add_const(addr, 1))
            with m.If(eq_const(addr, last)):
                m.d.sync += [walking.eq(0), addr.eq(0)]
