"""A small synthesizable behavioural ReRAM array for the FPGA demo, and its golden rule.

The cocotb testbenches attach golden's floating-point device model to the array port; on an FPGA
we need the same port served by logic. This emulator keeps one memory word per device
(``rows * phys_cols`` words, BRAM) holding an integer conductance code and the device's noise
state, and applies a fixed-point soft-bounds pulse response with counter-based noise.

Golden rule (all integers; :class:`ArrayEmulatorModel` is its Python twin)
--------------------------------------------------------------------------
Device ``a = row * phys_cols + phys_col`` holds ``(code, s)``, initially ``(g_init, s0(a))`` with
``s0(a) = 1 + hash64(seed, STREAM_EMULATOR, a, 0) mod (2**n - 1)`` (:func:`golden.spec.rng.hash64`,
``n = state_bits``): a non-zero state of an n-bit maximal-length Galois LFSR
(:data:`LFSR_TAPS`). A pulse of polarity ``p`` does::

    mu    = +((g_max - code) * set_gain) >> 8            p = SET (1)
    mu    = -(((code - g_min) * reset_gain) >> 8)         p = RESET (0)
    noise = s[0:B] + s[B:2B] - (2**B - 1)                 B = noise_bits (0: noiseless)
    code' = clamp(code + mu + noise, g_min, g_max)
    s'    = L**n (s)                                       n LFSR steps: a fresh state per pulse

So the noise of a device's k-th pulse is ``g(L**(n*k)(s0(a)))``, a pure function of (seed, device,
k) as in the golden device model (docs/ARCHITECTURE.md, "Bit-true conventions"): the result does not depend on the order in which
the scheduler visits devices. The noise is triangular in ``[-(2**B - 1), 2**B - 1]``; over one LFSR
period (``2**n - 1`` pulses, n = 8: 255) its mean is ``(2**B - 1) / (2**n - 1)`` (the all-zero
state is missing: +0.012 codes per pulse for B = 2, n = 8), its lag-1 and lag-2 autocorrelations
are below 0.04 in magnitude (checked in tests/boards/test_boards.py). A hash of (seed, a, k) mixed with
adders (Jenkins' one-at-a-time finaliser) has the same statistics but three 32-bit carry chains
in series: 19 MHz on the UP5K against 2 XOR levels here. The mean step is state dependent (soft
bounds, ``gamma = 1`` in :mod:`golden.physics.device`). A read returns ``code`` (no read noise).

Port
----
The emulator sits where CrossbarAddressing + array would: on the PulseScheduler's array command
port (:func:`hw.crossbar_addressing.array_command_signature`: ``sel, row, phys_col, we, re,
polarity``). One pulse is applied per rising edge of ``sel & we`` (the scheduler keeps ``we`` low
for at least one gap cycle between pulses and holds the address from the setup cycle on); ``adc``
is the code of the device addressed in the previous cycle (read latency 1, as behind
CrossbarAddressing), including any pulse still in the emulator's pipeline (forwarding), so a read
or verify right after a pulse sees its effect.
"""
from __future__ import annotations

from dataclasses import dataclass

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.spec.params import AccelParams, bits_for, check_choice, check_ints, dataclass_from_dict
from golden.spec.rng import STREAM_EMULATOR  # the emulator's initial noise states

SET, RESET = 1, 0

#: Galois feedback masks of maximal-length LFSRs (x^n + ... + 1), per state width n.
LFSR_TAPS = {8: 0xB8, 9: 0x110, 10: 0x240, 11: 0x500, 12: 0xE08, 13: 0x1C80, 14: 0x3802,
             15: 0x6000, 16: 0xB400}


@dataclass(frozen=True)
class EmulatorParams:
    """Fixed-point device model of the FPGA array emulator (section ``[emulator]`` of a board TOML).

    Attributes
    ----------
    code_bits : int, 2..16
        Width of the conductance code.
    g_min, g_max : int, 0 <= g_min < g_max <= 2**code_bits - 1
        Code bounds.
    g_init : int, g_min..g_max
        Initial code of every device.
    set_gain, reset_gain : int, 0..256
        Soft-bounds step factors in 1/256: ``mu = (distance to the bound) * gain >> 8``.
    noise_bits : int, 0..state_bits/2
        B: noise is the sum of two B-bit uniforms, centred (0: noiseless).
    state_bits : int, 8..16
        n: width of each device's LFSR noise state (period 2**n - 1 pulses).
    seed : int, 0..2**64-1
        Seed of the initial noise states.
    """

    code_bits: int = 8
    g_min: int = 16
    g_max: int = 240
    g_init: int = 32
    set_gain: int = 24
    reset_gain: int = 28
    noise_bits: int = 2
    state_bits: int = 8
    seed: int = 0x5EED_0001

    def __post_init__(self):
        # each range needs the fields checked before it (code_bits, then g_max, then g_min)
        check_ints(self, "emulator", code_bits=(2, 16))
        check_ints(self, "emulator", g_max=(1, (1 << self.code_bits) - 1))
        check_ints(self, "emulator", g_min=(0, self.g_max - 1))
        check_ints(self, "emulator", g_init=(self.g_min, self.g_max), set_gain=(0, 256), reset_gain=(0, 256))
        check_choice("emulator.state_bits", self.state_bits, tuple(LFSR_TAPS))
        check_ints(self, "emulator", noise_bits=(0, self.state_bits // 2), seed=(0, (1 << 64) - 1))

    @property
    def word_bits(self) -> int:
        return self.code_bits + self.state_bits


def emulator_params_from_dict(d: dict) -> EmulatorParams:
    return dataclass_from_dict(EmulatorParams, d, "emulator")


def lfsr_advance(state: int, n: int, steps: int | None = None) -> int:
    """``steps`` (default n) steps of the n-bit Galois LFSR."""
    taps = LFSR_TAPS[n]
    for _ in range(n if steps is None else steps):
        state = (state >> 1) ^ (taps if state & 1 else 0)
    return state


def initial_states(e: EmulatorParams, count: int) -> list[int]:
    """``s0(a)`` for devices ``0 .. count-1``."""
    import numpy as np

    from golden.spec.rng import hash64

    h = hash64(e.seed, STREAM_EMULATOR, np.arange(count, dtype=np.uint64), 0)
    return [1 + int(v) % ((1 << e.state_bits) - 1) for v in h]


def noise_of(state: int, noise_bits: int) -> int:
    if noise_bits == 0:
        return 0
    m = (1 << noise_bits) - 1
    return (state & m) + ((state >> noise_bits) & m) - m


def pulse_response(e: EmulatorParams, code: int, state: int, polarity: int) -> tuple[int, int]:
    """``(code', state')`` after one pulse: the golden rule."""
    if polarity == SET:
        mu = ((e.g_max - code) * e.set_gain) >> 8
    else:
        mu = -(((code - e.g_min) * e.reset_gain) >> 8)
    s = code + mu + noise_of(state, e.noise_bits)
    return min(max(s, e.g_min), e.g_max), lfsr_advance(state, e.state_bits)


class ArrayEmulatorModel:
    """Python twin: the array state and the golden rule, device by device."""

    def __init__(self, params: AccelParams, emu: EmulatorParams | None = None):
        self.e = emu or EmulatorParams()
        self.rows, self.phys_cols = params.array.rows, params.phys_cols
        self.code = [self.e.g_init] * (self.rows * self.phys_cols)
        self.state = initial_states(self.e, self.rows * self.phys_cols)

    def addr(self, row: int, phys_col: int) -> int | None:
        if row >= self.rows or phys_col >= self.phys_cols:
            return None
        return row * self.phys_cols + phys_col

    def pulse(self, row: int, phys_col: int, polarity: int) -> None:
        a = self.addr(row, phys_col)
        if a is not None:
            self.code[a], self.state[a] = pulse_response(self.e, self.code[a], self.state[a], polarity)

    def read(self, row: int, phys_col: int) -> int:
        a = self.addr(row, phys_col)
        return 0 if a is None else self.code[a]


class ArrayEmulator(wiring.Component):
    """Synthesizable behavioural ReRAM array on the PulseScheduler's array command port.

    Parameters
    ----------
    params : AccelParams
        ``array.rows`` and ``phys_cols`` (= cols * devices per synapse) set the device count.
    emu : EmulatorParams
        The fixed-point device model.

    Attributes
    ----------
    cmd : In(array_command_signature(params))
        ``sel, row, phys_col, we, re, polarity`` from the scheduler.
    adc : Out(code_bits)
        Code of the device addressed in the previous cycle (combinational from the memory's read
        register and the forwarding mux; read latency 1).
    pulses : Out(32)
        Pulses applied since reset (wraps), for the demo's status.
    addr_error : Out(1)
        Sticky: a pulse addressed a device outside the array (ignored).

    Pipeline E (event: capture code and state) -> H (mean step, noise, next state) -> W (add,
    clamp, write). A pulse whose ``we`` rises in cycle t is written to memory at the end of cycle
    t+2 and is visible on ``adc`` from cycle t+2 (forwarding from W and from the last write).
    Throughput one pulse per cycle for different devices; pulses to one device need >= 2 cycles
    between rising edges (the scheduler's ``width + gap >= 2``). Memory: ``rows * phys_cols``
    words of ``code_bits + state_bits`` bits (1024 x 16 bits = 4 iCE40 BRAMs for 16 x 16 x 4).
    """

    def __init__(self, params: AccelParams, emu: EmulatorParams | None = None):
        from hw.crossbar_addressing import array_command_signature

        self.params = params
        self.emu = emu or EmulatorParams()
        self.rows, self.phys_cols = params.array.rows, params.phys_cols
        self.depth = self.rows * self.phys_cols
        super().__init__({
            "cmd": In(array_command_signature(params)),
            "adc": Out(self.emu.code_bits),
            "pulses": Out(32),
            "addr_error": Out(1),
        })

    @classmethod
    def from_params(cls, params: AccelParams, emu: EmulatorParams | None = None) -> ArrayEmulator:
        return cls(params, emu)

    def elaborate(self, platform):
        m = Module()
        e = self.emu
        cb, n = e.code_bits, e.state_bits
        aw = bits_for(self.depth)
        init = [e.g_init | (s << cb) for s in initial_states(e, self.depth)]
        m.submodules.mem = mem = Memory(shape=unsigned(e.word_bits), depth=self.depth, init=init)
        wp = mem.write_port()
        rp = mem.read_port()  # not transparent: forwarding below covers the in-flight writes

        c = self.cmd
        in_range = Signal()
        row_ok = (c.row < self.rows) if (1 << len(c.row)) > self.rows else Const(1)
        col_ok = (c.phys_col < self.phys_cols) if (1 << len(c.phys_col)) > self.phys_cols else Const(1)
        addr = Signal(aw)
        m.d.comb += [in_range.eq(row_ok & col_ok),
                     addr.eq((c.row * self.phys_cols + c.phys_col)[:aw]),
                     rp.addr.eq(addr), rp.en.eq(1)]
        prev_addr = Signal(aw)  # address of rp.data
        m.d.sync += prev_addr.eq(addr)

        # --- stage W (write), registers loaded by stage H ---------------------------------------
        dw = max(cb, e.noise_bits + 1) + 2
        w_valid = Signal()
        w_addr = Signal(aw)
        w_code = Signal(cb)
        w_state = Signal(n)     # already advanced
        w_delta = Signal(signed(dw))  # mu + noise
        s = Signal(signed(dw + 1))
        new_code = Signal(cb)
        new_word = Signal(e.word_bits)
        m.d.comb += [
            s.eq(w_code + w_delta),
            new_code.eq(Mux(s < e.g_min, e.g_min, Mux(s > e.g_max, e.g_max, s))),
            new_word.eq(Cat(new_code, w_state)),
            wp.en.eq(w_valid), wp.addr.eq(w_addr), wp.data.eq(new_word),
        ]
        # a write of the previous cycle is not yet on rp.data: forward it one more cycle
        last_valid = Signal()
        last_addr = Signal(aw)
        last_word = Signal(e.word_bits)
        m.d.sync += [last_valid.eq(w_valid), last_addr.eq(w_addr), last_word.eq(new_word)]

        cur_word = Signal(e.word_bits)
        m.d.comb += cur_word.eq(
            Mux(w_valid & (w_addr == prev_addr), new_word,
                Mux(last_valid & (last_addr == prev_addr), last_word, rp.data)))
        m.d.comb += self.adc.eq(cur_word[:cb])

        # --- stage E (event): rising edge of sel & we ---------------------------------------------
        we_prev = Signal()
        fire = Signal()
        m.d.sync += we_prev.eq(c.sel & c.we)
        m.d.comb += fire.eq(c.sel & c.we & ~we_prev)
        h_valid = Signal()
        h_addr = Signal(aw)
        h_code = Signal(cb)
        h_state = Signal(n)
        h_pol = Signal()
        m.d.sync += [
            h_valid.eq(fire & in_range),
            h_addr.eq(prev_addr), h_code.eq(cur_word[:cb]), h_state.eq(cur_word[cb:]),
            h_pol.eq(c.polarity),
        ]
        with m.If(fire & ~in_range):
            m.d.sync += self.addr_error.eq(1)
        with m.If(fire & in_range):
            m.d.sync += self.pulses.eq(self.pulses + 1)

        # --- stage H: mean step, noise, n LFSR steps ------------------------------------------------
        nxt = h_state
        for i in range(n):
            step = Signal(n, name=f"lfsr{i}")
            m.d.comb += step.eq((nxt >> 1) ^ Mux(nxt[0], LFSR_TAPS[n], 0))
            nxt = step
        nb = e.noise_bits
        noise = Signal(signed(dw))
        if nb:
            m.d.comb += noise.eq(h_state[:nb] + h_state[nb:2 * nb] - ((1 << nb) - 1))
        mu_set = Signal(cb)
        mu_reset = Signal(cb)
        m.d.comb += [
            mu_set.eq(((e.g_max - h_code) * e.set_gain) >> 8),
            mu_reset.eq(((h_code - e.g_min) * e.reset_gain) >> 8),
        ]
        m.d.sync += [
            w_valid.eq(h_valid), w_addr.eq(h_addr), w_code.eq(h_code), w_state.eq(nxt),
            w_delta.eq(Mux(h_pol, mu_set, -mu_reset) + noise),
        ]
        return m
