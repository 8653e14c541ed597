"""A small synthesizable behavioural ReRAM array for the FPGA demo, and its golden rule.

The cocotb testbenches attach golden's floating-point device model to the array port; on an FPGA
we need the same port served by logic. This emulator keeps one memory word per device
(``rows * phys_cols`` words, BRAM), holding an integer conductance code and the device's pulse
counter, and applies a fixed-point soft-bounds pulse response with counter-based hash noise.

Golden rule (all integers; :class:`ArrayEmulatorModel` is its Python twin)
--------------------------------------------------------------------------
Device ``a = row * phys_cols + phys_col`` holds ``(code, k)``, initially ``(g_init, 0)``. Its
``k``-th pulse of polarity ``p`` does::

    mu    = +((g_max - code) * set_gain) >> 8            p = SET (1)
    mu    = -(((code - g_min) * reset_gain) >> 8)         p = RESET (0)
    h     = hash32(seed, a, k)                            (below)
    u1    = h[31 .. 32-B], u2 = h[31-B .. 32-2B]           B = noise_bits (0: no noise)
    noise = u1 + u2 - (2**B - 1)                          triangular in [-(2**B - 1), 2**B - 1]
    code' = clamp(code + mu + noise, g_min, g_max)
    k'    = (k + 1) mod 2**pulse_bits

``hash32``: ``x = seed ^ (a << pulse_bits | k)`` (32 bits), then Jenkins' one-at-a-time final
mix, all mod 2**32: ``x += x << 10; x ^= x >> 6; x += x << 3; x ^= x >> 11; x += x << 15``.
(Checked over 256 devices x 256 pulses: mean and variance of the noise as for independent draws,
|correlation| <= 0.1 between pulses k and k+1 and between neighbouring devices; two xorshift32
rounds, which need no adders, gave 0.8.) Like the golden device model
(DESIGN.md §3) the noise of a device's k-th pulse is a pure function of (seed, device, k), so the
result does not depend on the order in which the scheduler visits devices. A read returns ``code``
(no read noise). The mean step is state dependent (soft bounds, as ``gamma = 1`` in
:mod:`golden.device`): ``g_min`` and ``g_max`` are approached but only noise reaches them.

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

from dataclasses import dataclass, fields

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.params import AccelParams, ConfigError, bits_for, check_int

SET, RESET = 1, 0
MASK32 = 0xFFFF_FFFF


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
    noise_bits : int, 0..8
        B: noise is the sum of two B-bit uniforms, centred (0: noiseless).
    pulse_bits : int, 1..16
        Width of the per-device pulse counter k (hash input; wraps).
    seed : int, 0..2**32-1
        Hash seed.
    """

    code_bits: int = 8
    g_min: int = 16
    g_max: int = 240
    g_init: int = 32
    set_gain: int = 24
    reset_gain: int = 28
    noise_bits: int = 2
    pulse_bits: int = 8
    seed: int = 0x5EED_0001

    def __post_init__(self):
        check_int("emulator.code_bits", self.code_bits, 2, 16)
        top = (1 << self.code_bits) - 1
        check_int("emulator.g_max", self.g_max, 1, top)
        check_int("emulator.g_min", self.g_min, 0, self.g_max - 1)
        check_int("emulator.g_init", self.g_init, self.g_min, self.g_max)
        check_int("emulator.set_gain", self.set_gain, 0, 256)
        check_int("emulator.reset_gain", self.reset_gain, 0, 256)
        check_int("emulator.noise_bits", self.noise_bits, 0, 8)
        check_int("emulator.pulse_bits", self.pulse_bits, 1, 16)
        check_int("emulator.seed", self.seed, 0, MASK32)

    @property
    def word_bits(self) -> int:
        return self.code_bits + self.pulse_bits


def emulator_params_from_dict(d: dict) -> EmulatorParams:
    allowed = {f.name for f in fields(EmulatorParams)}
    for k in d:
        if k not in allowed:
            raise ConfigError(f"unknown key emulator.{k}: allowed {sorted(allowed)}")
    return EmulatorParams(**d)


def hash32(seed: int, addr: int, k: int, pulse_bits: int) -> int:
    """The emulator's noise hash (see module docstring)."""
    x = (seed ^ ((addr << pulse_bits) | k)) & MASK32
    x = (x + (x << 10)) & MASK32
    x ^= x >> 6
    x = (x + (x << 3)) & MASK32
    x ^= x >> 11
    return (x + (x << 15)) & MASK32


def noise_of(h: int, noise_bits: int) -> int:
    if noise_bits == 0:
        return 0
    m = (1 << noise_bits) - 1
    return ((h >> (32 - noise_bits)) & m) + ((h >> (32 - 2 * noise_bits)) & m) - m


def pulse_response(e: EmulatorParams, code: int, k: int, addr: int, polarity: int) -> tuple[int, int]:
    """``(code', k')`` after one pulse: the golden rule."""
    if polarity == SET:
        mu = ((e.g_max - code) * e.set_gain) >> 8
    else:
        mu = -(((code - e.g_min) * e.reset_gain) >> 8)
    s = code + mu + noise_of(hash32(e.seed, addr, k, e.pulse_bits), e.noise_bits)
    return min(max(s, e.g_min), e.g_max), (k + 1) % (1 << e.pulse_bits)


class ArrayEmulatorModel:
    """Python twin: the array state and the golden rule, device by device."""

    def __init__(self, params: AccelParams, emu: EmulatorParams | None = None):
        self.e = emu or EmulatorParams()
        self.rows, self.phys_cols = params.array.rows, params.phys_cols
        self.code = [self.e.g_init] * (self.rows * self.phys_cols)
        self.k = [0] * (self.rows * self.phys_cols)

    def addr(self, row: int, phys_col: int) -> int | None:
        if row >= self.rows or phys_col >= self.phys_cols:
            return None
        return row * self.phys_cols + phys_col

    def pulse(self, row: int, phys_col: int, polarity: int) -> None:
        a = self.addr(row, phys_col)
        if a is not None:
            self.code[a], self.k[a] = pulse_response(self.e, self.code[a], self.k[a], a, polarity)

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
        The fixed-point device model; ``rows * phys_cols <= 2**(32 - pulse_bits)`` (hash input).

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

    Stage H (one cycle) holds the hash: three 32-bit adds in series, the emulator's longest path.
    Latency: a pulse whose ``we`` rises in cycle t is written to memory at the end of cycle t+2 and
    visible on ``adc`` from cycle t+2 (forwarding). Throughput one pulse per 2 cycles (the
    scheduler's minimum ``width + gap``); memory: ``rows * phys_cols`` words of
    ``code_bits + pulse_bits`` bits.
    """

    def __init__(self, params: AccelParams, emu: EmulatorParams | None = None):
        from hw.crossbar_addressing import array_command_signature

        self.params = params
        self.emu = emu or EmulatorParams()
        self.rows, self.phys_cols = params.array.rows, params.phys_cols
        self.depth = self.rows * self.phys_cols
        if self.depth > (1 << (32 - self.emu.pulse_bits)):
            raise ConfigError(
                f"emulator: rows * phys_cols = {self.depth} devices is out of range for "
                f"emulator.pulse_bits = {self.emu.pulse_bits}: allowed <= 2**(32 - pulse_bits)")
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
        cb, pb = e.code_bits, e.pulse_bits
        aw = bits_for(self.depth)
        init_word = e.g_init  # k = 0 in the upper bits
        m.submodules.mem = mem = Memory(shape=unsigned(e.word_bits), depth=self.depth,
                                        init=[init_word] * self.depth)
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

        # --- stage W (write) registers, from stage H ----------------------------------------------
        w_valid = Signal()
        w_addr = Signal(aw)
        w_code = Signal(cb)
        w_k = Signal(pb)
        dw = max(cb, e.noise_bits + 1) + 2
        w_delta = Signal(signed(dw))  # mu + noise
        s = Signal(signed(dw + 1))
        new_code = Signal(cb)
        new_word = Signal(e.word_bits)
        m.d.comb += [
            s.eq(w_code + w_delta),
            new_code.eq(Mux(s < e.g_min, e.g_min, Mux(s > e.g_max, e.g_max, s))),
            new_word.eq(Cat(new_code, (w_k + 1)[:pb])),
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
        h_k = Signal(pb)
        h_pol = Signal()
        m.d.sync += [
            h_valid.eq(fire & in_range),
            h_addr.eq(prev_addr), h_code.eq(cur_word[:cb]), h_k.eq(cur_word[cb:]), h_pol.eq(c.polarity),
        ]
        with m.If(fire & ~in_range):
            m.d.sync += self.addr_error.eq(1)
        with m.If(fire & in_range):
            m.d.sync += self.pulses.eq(self.pulses + 1)

        # --- stage H (hash, mean step) ------------------------------------------------------------
        x0, x1, x2, x3, x4, x = (Signal(32, name=f"hash{i}") for i in range(6))
        m.d.comb += [
            x0.eq(Const(e.seed, 32) ^ Cat(h_k, h_addr)),
            x1.eq(x0 + (x0 << 10)[:32]),
            x2.eq(x1 ^ (x1 >> 6)),
            x3.eq(x2 + (x2 << 3)[:32]),
            x4.eq(x3 ^ (x3 >> 11)),
            x.eq(x4 + (x4 << 15)[:32]),
        ]
        nb = e.noise_bits
        noise = Signal(signed(dw))
        if nb:
            mask = (1 << nb) - 1
            m.d.comb += noise.eq(x[32 - nb:32] + x[32 - 2 * nb:32 - nb] - mask)
        mu_set = Signal(cb)
        mu_reset = Signal(cb)
        m.d.comb += [
            mu_set.eq(((e.g_max - h_code) * e.set_gain) >> 8),
            mu_reset.eq(((h_code - e.g_min) * e.reset_gain) >> 8),
        ]
        m.d.sync += [
            w_valid.eq(h_valid), w_addr.eq(h_addr), w_code.eq(h_code), w_k.eq(h_k),
            w_delta.eq(Mux(h_pol, mu_set, -mu_reset) + noise),
        ]
        return m
