"""AXI4-Lite slave + CSR decoder generated from a :class:`golden.spec.register_map.description.RegisterMap`.

The register map (fields, access modes, addresses) is described once in
:mod:`golden.spec.register_map.description`; this component turns it into hardware. Its golden twin is
:class:`golden.twins.axil_csr.RegisterFileModel`.
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.params import AccelParams, ConfigError, check_int
from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.spec.register_map.description import DATA_WIDTH, OKAY, SLVERR, Access, Register, RegisterMap
from hw.lintsafe import eq_const


def _or_all(terms, width: int):
    """Bitwise OR of equal-width terms as a balanced tree of four-input ORs (0 if there are none)."""
    terms = list(terms)
    if not terms:
        return Const(0, width)
    while len(terms) > 1:
        nxt = []
        for i in range(0, len(terms), 4):
            acc = terms[i]
            for t in terms[i + 1:i + 4]:
                acc = acc | t
            nxt.append(acc)
        terms = nxt
    return terms[0]


class AxiLiteSignature(wiring.Signature):
    """AXI4-Lite, 32-bit data, from the manager's side (a subordinate port is ``In(AxiLiteSignature(..))``).

    Members: ``awaddr awvalid awready wdata wstrb wvalid wready bresp bvalid bready araddr arvalid
    arready rdata rresp rvalid rready`` (no ``awprot``/``arprot``: the CSRs do not use them;
    cocotbext-axi treats them as optional). A port ``s_axil`` of this signature appears in Verilog as
    ``s_axil__awaddr`` ...; cocotbext-axi finds it with
    ``AxiLiteBus.from_prefix(dut, "s_axil", bus_separator="__")``.

    Parameters
    ----------
    addr_width : int, 4..32
        Byte-address bits.
    """

    def __init__(self, addr_width: int):
        check_int("axil addr_width", addr_width, 4, 32)
        self.addr_width = addr_width
        super().__init__({
            "awaddr": Out(addr_width), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(DATA_WIDTH), "wstrb": Out(DATA_WIDTH // 8), "wvalid": Out(1), "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arvalid": Out(1), "arready": In(1),
            "rdata": In(DATA_WIDTH), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })

    def __eq__(self, other):
        return isinstance(other, AxiLiteSignature) and other.addr_width == self.addr_width

    def __hash__(self):
        return hash(("AxiLiteSignature", self.addr_width))

    def __repr__(self):
        return f"AxiLiteSignature({self.addr_width})"


def push_layout(reg: Register) -> data.StructLayout:
    """Payload layout of a push register's stream: its fields, LSB first, in declaration order."""
    return data.StructLayout({f.name: (signed if f.signed else unsigned)(f.width) for f in reg.fields})


def register_signature(reg: Register, lookahead: frozenset[str] = frozenset()
                       ) -> wiring.Signature | stream.Signature | None:
    """Signature of one register's hardware ports, seen from the CSR block (None if it has none).

    See :meth:`golden.spec.register_map.description.RegisterMap.ports` for the naming convention.
    ``lookahead``: names of RW or W1C fields that also get an out ``f_next`` (the value of the next
    cycle).
    """
    if reg.push:
        return stream.Signature(push_layout(reg))
    members = {}
    for f in reg.fields:
        if f.access is Access.RW or f.access is Access.W1P:
            members[f.name] = Out(f.width, init=f.reset)
        elif f.access is Access.RO and f.has_port:
            members[f.name] = In(f.width)
        elif f.access is Access.W1C:
            members[f.name] = Out(f.width)
            members[f"{f.name}_set"] = In(f.width)
        if f.name in lookahead:
            members[f"{f.name}_next"] = Out(f.width, init=f.reset)
    return wiring.Signature(members) if members else None


def refuse_signature(regmap: RegisterMap) -> wiring.Signature:
    """One bit per push register, driven by the hardware behind it: "refuse a push now" (seen from
    that hardware, so the CSR block holds it as ``In``)."""
    return wiring.Signature({r.name: Out(1) for r in regmap.registers if r.push})


class _NextHead:
    """The head write of the next cycle (combinational, from the queues' next state): complete with
    B room, its strobed bits, its register hits."""

    __slots__ = ("held", "hit", "wbits")

    def __init__(self, held: Value, wbits: Value, hit: dict):
        self.held, self.wbits, self.hit = held, wbits, hit


class AxiLiteCsr(wiring.Component):
    """AXI4-Lite subordinate holding the registers of ``regmap``.

    Parameters
    ----------
    regmap : RegisterMap
        The registers (addresses, fields, access modes); its ``addr_width`` sets the bus address width.
    lookahead : iterable of str
        ``"register.field"`` names of RW or W1C fields that get an ``f_next`` output (default none).

    Attributes
    ----------
    s_axil : In(AxiLiteSignature(regmap.addr_width))
        The host bus (32-bit data). Verilog names ``s_axil__awaddr`` ... ``s_axil__rready``.
    <register> : Out(...)
        One member per register with hardware ports, named like the register; inside it, per field
        (widths from the map; directions seen from this block):

        * RW ``f``: out, the stored value (reset value from the map).
        * RO ``f``: in, sampled by reads (constants have no port).
        * W1C ``f``: out, the sticky flags; ``f_set``: in, bits to set this cycle.
        * W1P ``f``: out, one-cycle pulse of the bits written as 1.
        * push register: a ``stream.Signature`` whose payload holds the fields (``push_layout``).

        * ``f_next`` (only for the fields named in ``lookahead``): out, combinational, the value ``f``
          takes at the next clock edge (for a register that follows ``f`` with no cycle of delay).

    push_refused : Out(1)
        One-cycle pulse in the commit cycle of a refused push (for a sticky error flag).
    push_refuse : In(refuse_signature(regmap)) (if the map has push registers)
        Per push register ``r``, input ``push_refuse.r`` (Verilog ``push_refuse__r``): the target cannot
        become ready without another register write (wrong mode, an unacknowledged result); a push
        held while it is high is refused at once instead of waiting.

    Behaviour
    ---------
    Write path: AW and W each have a two-entry queue; ``awready`` / ``wready`` are registered: high
    while the queue holds fewer than two entries (no combinational path from the commit, the push
    streams or ``bready`` to them). The head write (the oldest AW with the oldest W) *commits* in the
    first cycle in which both are held, the B buffer (2 entries) has room and, for a push register,
    the stream is ready. RW and W1C state change at the end of the commit cycle; W1P pulses and the
    push transfer happen in the commit cycle; the response enters the B buffer: ``OKAY``, or
    ``SLVERR`` for an address with no register or a refused push. While the head waits, one more
    write is taken into the queue; then the readies fall.

    Pushes: ``valid`` is high from the first cycle the write could commit. A push written with
    ``wstrb != 0b1111``, or held while its ``push_refuse`` bit is high (even if ready), is refused at
    once; a push whose target stays not ready for
    ``regmap.push_wait`` cycles (counted while the B buffer has room) is refused in the next cycle
    (``valid`` is withdrawn then: the one exception to "valid is never withdrawn", so a push stream
    must end in a block that only looks at ``valid`` together with ``ready``; in the accelerator top
    each ends in a :class:`hw.stream_register_slice.StreamRegisterSlice` or a FIFO write port, whose
    own outputs never withdraw ``valid``). A refused push transfers nothing, answers ``SLVERR`` and pulses
    ``push_refused``. No write waits on the bus longer than ``push_wait + 2`` cycles (the head's wait,
    then the registered readies) plus the time the manager leaves B responses untaken; a write taken
    while another waits in the queue is answered at most ``2 * (push_wait + 1) + 1`` cycles after it
    completes (with ``bready`` high; the formal liveness bound).

    Read path: ``arready = ~rvalid | rready``; the registers are sampled in the AR transfer cycle
    (before a commit in the same cycle) and ``rvalid`` rises in the next cycle with ``rdata`` and
    ``OKAY`` (``SLVERR`` and 0 for a hole).

    Latency and throughput: a write transferred (AW and W) in cycle ``a`` commits in ``a + 1`` (if
    it is at the head of the queue, the target is ready and the B buffer has room) and its B
    response is valid from ``a + 2``. With
    ``bready`` held high: one write per cycle sustained (AW and W every cycle). Read data 1 cycle after
    AR; one read per cycle with ``rready`` held high. Reads and writes proceed in parallel.

    W1C flags: ``next = (value & ~cleared) | f_set`` — a set in the cycle of a clearing commit wins.
    The two low address bits are ignored; ``wstrb`` selects the byte lanes (see
    :mod:`golden.spec.register_map.description`).
    """

    def __init__(self, regmap: RegisterMap, *, lookahead: tuple[str, ...] = ()):
        if not isinstance(regmap, RegisterMap):
            self._MustUse__silence = True   # a rejected component is not an "unused elaboratable"
            raise ConfigError(f"regmap must be a RegisterMap, got {type(regmap).__name__}")
        self.regmap = regmap
        self.lookahead = tuple(lookahead)
        la: dict[str, set[str]] = {}
        for name in self.lookahead:
            reg, _, fld = str(name).partition(".")
            fields = {f.name: f for r in regmap.registers if r.name == reg and not r.push for f in r.fields}
            if fld not in fields or fields[fld].access not in (Access.RW, Access.W1C):
                self._MustUse__silence = True
                raise ConfigError(f"lookahead {name!r} is not allowed: name an RW or W1C field as "
                                  f"'register.field'")
            la.setdefault(reg, set()).add(fld)
        members = {"s_axil": In(AxiLiteSignature(regmap.addr_width)), "push_refused": Out(1)}
        if any(r.push for r in regmap.registers):
            members["push_refuse"] = In(refuse_signature(regmap))
        for r in regmap.registers:
            sig = register_signature(r, frozenset(la.get(r.name, ())))
            if sig is not None:
                if r.name in members:
                    self._MustUse__silence = True
                    raise ConfigError(f"register name {r.name!r} collides with the port {r.name!r}")
                members[r.name] = Out(sig)
        super().__init__(members)

    @classmethod
    def from_params(cls, p: AccelParams) -> AxiLiteCsr:
        """The CSR block of the accelerator top for parameter tree ``p`` (its default map options)."""
        return cls(accelerator_register_map(p))

    def elaborate(self, platform):
        m = Module()
        bus, rmap = self.s_axil, self.regmap
        word_w = rmap.addr_width - 2

        held, mask, wbits, hit, nxt = self._write_path(m)
        # --- register state -------------------------------------------------------------------------
        for r in rmap.registers:
            if r.push or r.name not in hit:    # (read-only registers: nothing to write)
                continue
            port = getattr(self, r.name, None)
            wr = Signal(name=f"wr_{r.name}")
            # a write to a register that is not a push commits as soon as it is held: `held` instead of
            # `commit` is the same strobe without the push wait and target ready logic in front of the
            # W1P pulses (CTRL.SOFT_RESET resets the whole datapath: the top's critical path)
            m.d.comb += wr.eq(held & hit[r.name])
            for f in r.fields:
                sl = slice(f.offset, f.offset + f.width)
                if f.access is Access.RW:
                    val = getattr(port, f.name)
                    with m.If(wr):
                        m.d.sync += val.eq((val & ~mask[sl]) | wbits[sl])
                    if hasattr(port, f"{f.name}_next"):
                        m.d.comb += getattr(port, f"{f.name}_next").eq(
                            Mux(wr, (val & ~mask[sl]) | wbits[sl], val))
                elif f.access is Access.W1C:
                    val = getattr(port, f.name)
                    setb = getattr(port, f"{f.name}_set")
                    clr = Signal(f.width, name=f"clr_{r.name}_{f.name}")
                    m.d.comb += clr.eq(wbits[sl] & wr.replicate(f.width))
                    m.d.sync += val.eq((val & ~clr) | setb)
                    if hasattr(port, f"{f.name}_next"):
                        m.d.comb += getattr(port, f"{f.name}_next").eq((val & ~clr) | setb)
                elif f.access is Access.W1P:
                    # the pulse register, loaded one cycle ahead with what `wbits & wr` will be
                    pulse = Signal(f.width, name=f"pulse_{r.name}_{f.name}")
                    m.d.sync += pulse.eq(nxt.wbits[sl] & nxt.hit[r.name].replicate(f.width)
                                         & nxt.held.replicate(f.width))
                    m.d.comb += getattr(port, f.name).eq(pulse)

        # --- read path (AND-OR multiplexer: no case statements, lint-clean) -----------------------------
        rvalid = Signal()
        rdata = Signal(DATA_WIDTH)
        rresp = Signal(2)
        m.d.comb += [bus.rvalid.eq(rvalid), bus.rdata.eq(rdata), bus.rresp.eq(rresp),
                     bus.arready.eq(~rvalid | bus.rready)]
        ar_word = Signal(word_w)
        m.d.comb += ar_word.eq(bus.araddr[2:])
        # The data multiplexer decodes only the low word-address bits that tell the registers apart;
        # an address with a high bit set is a hole whose data the register's synchronous reset zeroes
        # (one LUT on the reset input instead of the full decode in front of the multiplexer)
        low_w = min(word_w, max(r.addr >> 2 for r in rmap.registers).bit_length() or 1)
        ar_low = ar_word[:low_w]
        ar_high = Signal()           # a word-address bit above the map is set
        m.d.comb += ar_high.eq(ar_word[low_w:].any() if low_w < word_w else 0)
        # two-level decode: the registers are grouped by the word address above its 3 low bits; in a
        # group the 3 low bits select (one-hot AND-OR), then the group's line selects
        lo_w = min(3, low_w)
        ar_lo, ar_hi = ar_low[:lo_w], ar_low[lo_w:]
        groups: dict[int, list] = {}
        ar_hits = []
        for r in rmap.registers:
            w = r.addr >> 2
            h = Signal(name=f"ar_hit_{r.name}")
            m.d.comb += h.eq(eq_const(ar_low, w))
            ar_hits.append(h)
            sel = Signal(name=f"ar_lo_{r.name}")
            m.d.comb += sel.eq(eq_const(ar_lo, w & ((1 << lo_w) - 1)))
            groups.setdefault(w >> lo_w, []).append(self._read_value(m, r) & sel.replicate(DATA_WIDTH))
        terms = []
        for j, g in sorted(groups.items()):
            gv = Signal(DATA_WIDTH, name=f"rd_group{j}")
            m.d.comb += gv.eq(_or_all(g, DATA_WIDTH))
            terms.append(gv & (eq_const(ar_hi, j) if len(ar_hi) else Const(1)).replicate(DATA_WIDTH))
        rd_next = Signal(DATA_WIDTH)
        ar_mapped = Signal()
        m.d.comb += [rd_next.eq(_or_all(terms, DATA_WIDTH)), ar_mapped.eq(Cat(*ar_hits).any() & ~ar_high)]
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += [rvalid.eq(1), rresp.eq(Mux(ar_mapped, OKAY, SLVERR))]
            with m.If(ar_high):
                m.d.sync += rdata.eq(0)
            with m.Else():
                m.d.sync += rdata.eq(rd_next)
        with m.Elif(rvalid & bus.rready):
            m.d.sync += rvalid.eq(0)
        return m

    def _write_path(self, m: Module):
        """AW/W queues (two entries each), the commit rule, the push streams with their bounded wait,
        the B buffer.

        Returns ``(held, mask, wbits, hit)``: a complete write that may commit now (the commit strobe
        of a register that is not a push), the head write's lane mask and strobed bits, and its
        per-register address hits.
        """
        bus, rmap = self.s_axil, self.regmap
        # Two-entry AW and W queues with registered readies: `awready` / `wready` are flip-flops
        # (a queue holds fewer than two entries) and every entry loads at its write pointer, so the
        # commit decision (push ready, refuse, B room) reaches neither the bus readies nor the enables
        # of the entry registers: it only moves the read pointer and the counts.
        aw_n, w_n = Signal(2, name="aw_n"), Signal(2, name="w_n")     # entries held (0..2)
        aw_ne, w_ne = Signal(name="aw_ne"), Signal(name="w_ne")        # aw_n != 0, w_n != 0 (registered)
        aw_wp, w_wp, rp = Signal(name="aw_wp"), Signal(name="w_wp"), Signal(name="rp")
        commit = Signal(attrs={"keep": 1})
        aw_x, w_x = Signal(), Signal()
        m.d.comb += [bus.awready.eq(~aw_n[1]), bus.wready.eq(~w_n[1]),
                     aw_x.eq(bus.awvalid & bus.awready), w_x.eq(bus.wvalid & bus.wready)]
        ne_next = []
        for n, ne, x in ((aw_n, aw_ne, aw_x), (w_n, w_ne, w_x)):
            n_next = Signal(2, name=f"{n.name}_next")
            m.d.comb += n_next.eq(n + x - commit)
            m.d.sync += [n.eq(n_next), ne.eq(n_next.any())]
            ne_next.append(n_next.any())
        with m.If(aw_x):
            m.d.sync += aw_wp.eq(~aw_wp)
        with m.If(w_x):
            m.d.sync += w_wp.eq(~w_wp)
        with m.If(commit):
            m.d.sync += rp.eq(~rp)

        # W entries: the strobed bits, the lane mask and "all four lanes"; an entry loads whenever
        # W could be taken into it, `wvalid` or not (it counts only once w_n does)
        wb = [Signal(DATA_WIDTH, name=f"w_bits{k}") for k in range(2)]
        wm = [Signal(DATA_WIDTH // 8, name=f"w_strb{k}") for k in range(2)]
        wf = [Signal(name=f"w_full_strb{k}") for k in range(2)]
        in_mask = Cat(*(bus.wstrb[i].replicate(8) for i in range(DATA_WIDTH // 8)))
        for k in range(2):
            with m.If(bus.wready & (w_wp == k)):
                m.d.sync += [wb[k].eq(bus.wdata & in_mask), wm[k].eq(bus.wstrb), wf[k].eq(bus.wstrb.all())]
        # AW entries keep the address decoded: one flip-flop per register, loaded with the address
        # compare (the hits are the first term of every write strobe), and "is a push register"
        # (only for the registers a write changes; "mapped" for the response), and "is a push register"
        push_regs = [r for r in rmap.registers if r.push]
        written = [r for r in rmap.registers if r.push or any(f.access is not Access.RO for f in r.fields)]
        hits = [{r.name: Signal(name=f"hit{k}_{r.name}") for r in written} for k in range(2)]
        push_k = [Signal(name=f"is_push{k}") for k in range(2)]
        mapped_k = [Signal(name=f"mapped{k}") for k in range(2)]
        aw_word = bus.awaddr[2:]
        in_hit = {r.name: eq_const(aw_word, r.addr >> 2) for r in rmap.registers}
        in_push = Cat(*(in_hit[r.name] for r in push_regs)).any() if push_regs else Const(0)
        in_mapped = Cat(*in_hit.values()).any()
        aw_load = [bus.awready & (aw_wp == k) for k in range(2)]
        for k in range(2):
            with m.If(aw_load[k]):
                m.d.sync += [hits[k][r.name].eq(in_hit[r.name]) for r in written]
                m.d.sync += [push_k[k].eq(in_push), mapped_k[k].eq(in_mapped)]

        # the head write (entry rp of both queues)
        wbits, strb, full_strb, is_push = Signal(DATA_WIDTH), Signal(DATA_WIDTH // 8), Signal(), Signal()
        m.d.comb += [wbits.eq(Mux(rp, wb[1], wb[0])), strb.eq(Mux(rp, wm[1], wm[0])),
                     full_strb.eq(Mux(rp, wf[1], wf[0])), is_push.eq(Mux(rp, push_k[1], push_k[0]))]
        mask = Signal(DATA_WIDTH)    # byte-lane mask of the head write
        m.d.comb += mask.eq(Cat(*(strb[i].replicate(8) for i in range(DATA_WIDTH // 8))))
        hit = {r.name: Signal(name=f"hit_{r.name}") for r in written}
        m.d.comb += [hit[r.name].eq(Mux(rp, hits[1][r.name], hits[0][r.name])) for r in written]
        mapped = Signal()
        m.d.comb += mapped.eq(Mux(rp, mapped_k[1], mapped_k[0]))

        b_room = Signal()            # the B buffer holds fewer than 2 responses (registered)
        held = Signal()              # a complete write that may commit now
        m.d.comb += held.eq(aw_ne & w_ne & b_room)
        waited = Signal(range(rmap.push_wait + 1))
        expired = Signal()           # waited == push_wait, kept as a register of its own
        # go: the head push's target takes it or refuses it in this cycle (one term per push register,
        # each the OR of its ready and refuse inputs, so the commit is a shallow AND-OR of them)
        go, refuse = Const(0), Const(0)
        for r in push_regs:
            port = getattr(self, r.name)
            no = getattr(self.push_refuse, r.name)
            m.d.comb += port.valid.eq(held & hit[r.name] & full_strb & ~expired & ~no)
            m.d.comb += port.payload.eq(Cat(*(wbits[f.offset:f.offset + f.width] for f in r.fields)))
            # `keep`: one net per push register, so the commit is a shallow OR of them (mapped freely,
            # the head's hit multiplexers and the targets' readies became one LUT chain of up to seven
            # levels in front of the B buffer and the W1P pulse registers: the iCEBreaker top)
            go_r = Signal(name=f"go_{r.name}", attrs={"keep": 1})
            m.d.comb += go_r.eq(hit[r.name] & (port.ready | no))
            go = go | go_r
            refuse = refuse | (hit[r.name] & no)
        no_wait = Signal()           # the head write waits for no target
        refused = Signal()
        m.d.comb += [no_wait.eq(~is_push | ~full_strb | expired),
                     refused.eq(held & is_push & (~full_strb | expired | refuse)),
                     commit.eq(held & (no_wait | go)),
                     self.push_refused.eq(refused)]
        with m.If(commit):
            m.d.sync += [waited.eq(0), expired.eq(0)]
        with m.Elif(held):       # (an expired push commits: waited never passes push_wait)
            m.d.sync += [waited.eq(waited + 1), expired.eq(eq_const(waited, rmap.push_wait - 1))]
        b_room_next = self._b_buffer(m, commit, Mux(mapped & ~refused, OKAY, SLVERR), b_room)
        # The head write of the next cycle, from the next state of the queues (for the W1P pulse
        # registers: a W1P pulse, CTRL.SOFT_RESET among them, leaves a flip-flop instead of the
        # commit-side logic, with the same cycle)
        rp_next = Signal(name="rp_next")
        m.d.comb += rp_next.eq(rp ^ commit)
        w_load = [bus.wready & (w_wp == k) for k in range(2)]
        in_bits = bus.wdata & in_mask
        nxt_wb = [Mux(w_load[k], in_bits, wb[k]) for k in range(2)]
        nxt = _NextHead(
            held=ne_next[0] & ne_next[1] & b_room_next,
            wbits=Mux(rp_next, nxt_wb[1], nxt_wb[0]),
            hit={r.name: Mux(rp_next, Mux(aw_load[1], in_hit[r.name], hits[1][r.name]),
                             Mux(aw_load[0], in_hit[r.name], hits[0][r.name])) for r in written})
        return held, mask, wbits, hit, nxt

    def _b_buffer(self, m: Module, commit, resp, b_room):
        """Two-entry B response queue: head on the bus, a second entry behind it; ``b_room`` is
        registered (no path from ``bready`` to ``awready``), so one write per cycle needs ``bready``.
        Returns ``b_room`` of the next cycle."""
        bus = self.s_axil
        v0, v1 = Signal(name="v0"), Signal(name="v1")
        r0, r1 = Signal(2, name="r0"), Signal(2, name="r1")
        take = Signal()
        m.d.comb += [bus.bvalid.eq(v0), bus.bresp.eq(r0), take.eq(v0 & bus.bready), b_room.eq(~v1)]
        b_room_next = Signal(name="b_room_next")   # ~v1 after this cycle
        m.d.comb += b_room_next.eq(~Mux(take, v1 & commit, v1 | (v0 & commit)))
        # v0/v1 follow the commit; r0/r1 load whenever their entry can take a response (their
        # enables do not wait for the commit: a response loaded without one is not valid)
        with m.If(take):
            m.d.sync += [v0.eq(v1 | commit), v1.eq(v1 & commit)]
        with m.Elif(commit):
            m.d.sync += [v0.eq(1), v1.eq(v0)]
        with m.If(take | ~v0):
            m.d.sync += r0.eq(Mux(take & v1, r1, resp))
        with m.If(v0 & (take ^ ~v1)):
            m.d.sync += r1.eq(resp)
        return b_room_next

    def _read_value(self, m: Module, r: Register):
        """The 32-bit read value of register ``r``: fields at their offsets, explicit zeros between."""
        port = getattr(self, r.name, None)
        parts, pos = [], 0
        for f in sorted(r.fields, key=lambda f: f.offset):
            if f.offset > pos:
                parts.append(Const(0, f.offset - pos))
            if f.const is not None:
                parts.append(Const(f.const, f.width))
            elif f.access in (Access.RW, Access.W1C, Access.RO):
                parts.append(getattr(port, f.name))
            else:
                parts.append(Const(0, f.width))
            pos = f.offset + f.width
        if pos < DATA_WIDTH:
            parts.append(Const(0, DATA_WIDTH - pos))
        v = Signal(DATA_WIDTH, name=f"rd_{r.name}")
        m.d.comb += v.eq(Cat(*parts))
        return v
