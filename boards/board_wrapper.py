"""Put any generated block on an FPGA board so that nothing is optimised away and timing is
measured register to register.

Methodology (used for every number in the ``### FPGA`` table of docs/RESULTS.md)
-------------------------------------------------------------------------------
A block's ports are far wider than a board's pins, so the harness closes them on chip:

* **Inputs**: every input bit of the block (all ``In`` members of its signature, flattened, in
  signature order) is a flip-flop of one shift register of ``W_in`` bits, fed one bit per cycle by a
  32-bit maximal-length Galois LFSR (x^32 + x^22 + x^2 + x + 1, seeded by ``seed``). The block
  therefore sees pseudo-random values on every input (valid, ready, payloads, ...) and no input is
  a constant yosys could propagate.
* **Outputs**: every output bit is registered (``W_out`` flip-flops), then XOR-reduced into
  ``n_out`` groups (bit ``i`` goes to group ``i mod n_out``) by a tree of 4-input XORs with a
  register after every level; the group bits drive LEDs. Every output bit thus reaches a pin, so no
  logic of the block is dead, and the reduction tree never sits on a block path.
  With ``capture = "xor"`` the per-bit output register is left out: the first level of the tree
  XORs four output bits straight from the block into its register. That saves ``W_out`` flip-flops
  (on an iCE40 each is a logic cell of its own) at the cost of one 4-input XOR after an output, a
  LUT that a real consumer of the output would put there too. The iCEBreaker top uses it (300
  output bits, 5.7 % of the UP5K's cells, took the top to where nextpnr's placer no longer
  legalised it reliably).
* Every timing path of the block therefore starts and ends at a flip-flop (stimulus FF -> block
  logic -> block FF or output FF); nextpnr's Fmax of the ``sync`` clock is the block's
  register-to-register Fmax (block-internal paths, plus at most one input or output hop that a real
  integration would have too).
* The harness costs ``W_in + 32`` FFs of stimulus, ``W_out`` output FFs and about ``W_out / 3``
  LUTs (+ FFs) of XOR tree. The report therefore also gives the block alone, synthesised out of
  context by the same yosys (``synth_ice40`` / ``synth_ecp5``, no I/O buffers, see
  :mod:`boards.build`).
* Clocking (:class:`BoardTop`): the ``sync`` domain runs from the board PLL at the target frequency
  (the clock nextpnr is constrained to is the clock the board really runs at), or straight from the
  oscillator when the target is its frequency; ``sync`` is held in reset until the PLL locks and
  15 us after (iCE40 BRAMs read zero for ~3 us after configuration).
  LED 0 is a heartbeat (bit 24 of a free-running counter: ~1.4 Hz at 48 MHz).
"""
from __future__ import annotations

from amaranth import Cat, ClockDomain, ClockSignal, Const, Elaboratable, Instance, Module, Mux, Signal, Value
from amaranth.lib import io, wiring

#: Galois LFSR feedback mask for x^32 + x^22 + x^2 + x + 1 (maximal length).
LFSR_TAPS = 0x80200003
LFSR_WIDTH = 32
#: How the harness takes the block's outputs into its XOR tree (:class:`BoardHarness`).
CAPTURES = ("register", "xor")


def port_bits(dut: wiring.Component) -> tuple[list[tuple[str, Value]], list[tuple[str, Value]]]:
    """The block's ports, flattened in signature order: ``(inputs, outputs)`` as (name, value)."""
    ins, outs = [], []
    for path, member, value in dut.signature.flatten(dut):
        name = ".".join(str(p) for p in path)
        (ins if member.flow == wiring.In else outs).append((name, Value.cast(value)))
    return ins, outs


def lfsr_step(state: int) -> int:
    """One step of the stimulus LFSR (Python twin of the RTL, for tests)."""
    return (state >> 1) ^ (LFSR_TAPS if state & 1 else 0)


class BoardHarness(Elaboratable):
    """Stimulus shift register + registered XOR reduction around one block (see module docstring).

    Parameters
    ----------
    dut : wiring.Component
        The block; it runs in the ``sync`` domain.
    n_out : int, >= 1
        Number of reduced output bits (LEDs).
    seed : int, 1..2**32-1
        LFSR start state.
    capture : {"register", "xor"}
        Output bits registered one by one before the XOR tree, or XORed four at a time into the
        tree's first register level (module docstring).

    Attributes
    ----------
    out : Signal(n_out)
        Registered XOR groups of all block outputs; latency from a block output bit to ``out`` is
        ``1 + levels`` cycles with ``capture = "register"``, ``max(levels, 1)`` with ``"xor"``
        (:attr:`levels` = XOR tree depth).
    w_in, w_out : int
        Input and output bits of the block.
    """

    def __init__(self, dut: wiring.Component, *, n_out: int = 4, seed: int = 1, capture: str = "register"):
        self._MustUse__silence = True  # until the checks pass: a rejected harness is not "unused"
        if capture not in CAPTURES:
            raise ValueError(f"capture = {capture!r}: allowed {', '.join(map(repr, CAPTURES))}")
        self.capture = capture
        if not isinstance(n_out, int) or n_out < 1:
            raise ValueError(f"n_out = {n_out!r} must be an integer >= 1")
        if not isinstance(seed, int) or not 1 <= seed < (1 << LFSR_WIDTH):
            raise ValueError(f"seed = {seed!r} must be an integer in [1, 2**32 - 1] (an LFSR state)")
        self.dut = dut
        self.n_out = n_out
        self.seed = seed
        self.inputs, self.outputs = port_bits(dut)
        self.w_in = sum(len(v) for _, v in self.inputs)
        self.w_out = sum(len(v) for _, v in self.outputs)
        if self.w_out == 0:
            raise ValueError("the block has no output ports: nothing would survive synthesis")
        self._MustUse__silence = False
        self.out = Signal(n_out)
        self.levels = 0
        group = -(-self.w_out // n_out)
        while group > 1:
            group = -(-group // 4)
            self.levels += 1

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = self.dut

        lfsr = Signal(LFSR_WIDTH, init=self.seed)
        m.d.sync += lfsr.eq(Mux(lfsr[0], (lfsr >> 1) ^ LFSR_TAPS, lfsr >> 1))
        if self.w_in:
            stim = Signal(self.w_in, reset_less=True)
            if self.w_in == 1:
                m.d.sync += stim.eq(lfsr[0])
            else:
                m.d.sync += stim.eq(Cat(lfsr[0], stim[:-1]))
            pos = 0
            for _, value in self.inputs:
                m.d.comb += value.eq(stim[pos:pos + len(value)])
                pos += len(value)

        if self.capture == "register":
            captured = Signal(self.w_out, reset_less=True)
            m.d.sync += captured.eq(Cat(*(v for _, v in self.outputs)))
        else:   # the tree's first level registers the block's outputs themselves
            captured = Cat(*(v for _, v in self.outputs))
        groups = [[captured[i] for i in range(g, self.w_out, self.n_out)] for g in range(self.n_out)]
        # "xor": at least one level, so that every output bit ends at a register of the harness
        for level in range(max(self.levels, 1) if self.capture == "xor" else self.levels):
            nxt = []
            for g, bits in enumerate(groups):
                regs = []
                for k in range(0, len(bits), 4):
                    r = Signal(name=f"xor_l{level}_g{g}_{k // 4}", reset_less=True)
                    part = bits[k:k + 4]
                    acc = part[0]
                    for b in part[1:]:
                        acc = acc ^ b
                    m.d.sync += r.eq(acc)
                    regs.append(r)
                nxt.append(regs)
            groups = nxt
        m.d.comb += self.out.eq(Cat(*(bits[0] if bits else Const(0, 1) for bits in groups)))
        return m


class BoardTop(Elaboratable):
    """A :class:`BoardHarness` on a board: PLL clock, power-on reset, LEDs.

    Parameters
    ----------
    board : boards.platforms.Board
        Which board (PLL type, clock and LED resources).
    dut : wiring.Component
        The block.
    target_hz : float
        Requested ``sync`` frequency; the PLL setting closest to it is used (:attr:`f_hz`).
    seed : int
        Stimulus LFSR seed.
    capture : {"register", "xor"}
        How the harness takes the outputs (:class:`BoardHarness`).
    """

    def __init__(self, board, dut: wiring.Component, *, target_hz: float, seed: int = 1,
                 capture: str = "register"):
        self.board = board
        self.dut = dut
        # The board oscillator itself when the target is its frequency (the iCE40 PLL cannot go
        # below 16 MHz), else the closest PLL setting.
        self.pll = None if abs(target_hz - board.clock_hz) < 1e3 else board.pll(target_hz)
        self.f_hz = board.clock_hz if self.pll is None else self.pll.f_out_hz
        self.harness = BoardHarness(dut, n_out=len(board.leds) - 1, seed=seed, capture=capture)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd_sync = ClockDomain("sync")
        m.domains.por = cd_por = ClockDomain("por", local=True)
        locked = Signal()
        if self.pll is None:
            m.submodules.clk_buf = clk = io.Buffer("i", platform.request(self.board.clock_resource, dir="-"))
            m.d.comb += [cd_sync.clk.eq(clk.i), locked.eq(1)]
        else:
            m.submodules.pll = self.board.pll_instance(platform, self.pll, cd_sync.clk, locked)
        # No add_clock_constraint: nextpnr derives the PLL output constraint from the board clock's
        # (and a constraint on cd_sync.clk would name a net that flattening renames).

        delay = int(15e-6 * self.f_hz)
        timer = Signal(range(delay + 1))
        ready = Signal()
        with m.If(timer == delay):
            m.d.por += ready.eq(1)
        with m.Else():
            m.d.por += timer.eq(timer + 1)
        m.d.comb += [cd_por.clk.eq(ClockSignal("sync")), cd_por.rst.eq(~locked), cd_sync.rst.eq(~ready)]

        m.submodules.harness = self.harness
        heartbeat = Signal(25)
        m.d.sync += heartbeat.eq(heartbeat + 1)
        leds = []
        for k, (res, idx) in enumerate(self.board.leds):
            buf = io.Buffer("o", platform.request(res, idx, dir="-"))
            m.submodules[f"led_buf{k}"] = buf
            leds.append(buf)
        m.d.comb += leds[0].o.eq(heartbeat[-1])
        for i, led in enumerate(leds[1:]):
            m.d.comb += led.o.eq(self.harness.out[i])
        # A block with a UART transmitter (the demo) also drives the board's UART TX pin.
        if "uart_tx" in self.dut.signature.members:
            uart = platform.request("uart", 0, dir="-")
            m.submodules.uart_tx_buf = tx = io.Buffer("o", uart.tx)
            m.d.comb += tx.o.eq(self.dut.uart_tx)
        return m


def ice40_pll_instance(platform, pll, clk_out: Signal, locked: Signal, *, clock: str = "clk12") -> Instance:
    """SB_PLL40_PAD on the board clock pin (the iCEBreaker's 12 MHz input is the PLL pad)."""
    return Instance(
        "SB_PLL40_PAD",
        p_FEEDBACK_PATH="SIMPLE",
        p_DIVR=pll.divr, p_DIVF=pll.divf, p_DIVQ=pll.divq, p_FILTER_RANGE=pll.filter_range,
        i_PACKAGEPIN=platform.request(clock, dir="-").io,
        i_RESETB=Const(1), i_BYPASS=Const(0),
        o_PLLOUTGLOBAL=clk_out, o_LOCK=locked,
    )


def ecp5_pll_instance(platform, pll, clk_out: Signal, locked: Signal, *, clock: str = "clk25",
                      f_in_hz: float = 25e6) -> Module:
    """EHXPLLL with CLKOP feedback (the parameters ecppll writes)."""
    clk_in = io.Buffer("i", platform.request(clock, dir="-"))
    pll_inst = Instance(
        "EHXPLLL",
        a_FREQUENCY_PIN_CLKI=f"{f_in_hz / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{pll.f_out_hz / 1e6:g}",
        a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
        p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
        p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
        p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
        p_CLKI_DIV=pll.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=pll.clkop_div,
        p_CLKOP_CPHASE=pll.clkop_cphase, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
        p_CLKFB_DIV=pll.clkfb_div,
        i_RST=Const(0), i_STDBY=Const(0), i_CLKI=clk_in.i, i_CLKFB=clk_out,
        i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(1), i_PHASESTEP=Const(1),
        i_PHASELOADREG=Const(1), i_PLLWAKESYNC=Const(0), i_ENCLKOP=Const(0),
        o_CLKOP=clk_out, o_LOCK=locked,
    )
    m = Module()
    m.submodules.clk_buf = clk_in
    m.submodules.pll = pll_inst
    return m
