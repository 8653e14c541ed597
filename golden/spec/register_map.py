"""The accelerator's register map, described once: fields, access modes, addresses; many outputs.

Plain Python (no Amaranth), so the golden model, the RTL generator (:mod:`hw.axil_csr`), the
testbenches and the emitters (Markdown, C header) all read the same description — the idea of
amaranth-soc's ``csr`` package (registers as field collections with access modes, gathered by a
builder into a memory map), in our own small code.

Bus conventions (AXI4-Lite, 32-bit data)
-----------------------------------------
* Registers are 32 bits wide at 4-byte aligned byte addresses inside a ``2**addr_width`` byte
  window. The two low address bits are ignored (the byte lanes are chosen by ``wstrb``).
* An address with no register (a hole in the map) answers ``SLVERR`` on reads (data 0) and on writes
  (no effect). Writes to read-only bits are ignored (``OKAY``).
* ``wstrb``: a byte lane whose strobe is 0 is not written: RW bits in it keep their value, W1C/W1P
  bits in it are treated as 0, WO (push) bits in it are 0. A push register pushes only if at least
  one strobe bit is set.

Access modes (:class:`Access`)
------------------------------
``RO``   read-only; the value comes from the hardware (an input port of the CSR block) or is a
         build-time constant (``Field.const``; no port).
``RW``   read/write storage with a reset value; its value is an output port.
``W1C``  sticky flags: the hardware sets bits (input ``<field>_set``, any cycle, set wins over a
         clear in the same cycle); the host clears them by writing 1; value is an output port too.
``W1P``  write-1-to-pulse strobe: writing 1 gives a one-cycle pulse on the output port; reads 0.
``WO``   write-only data of a *push* register (``Register.push``): a write hands the fields to the
         hardware as one stream transfer (``valid/ready/payload``); if the stream is not ready the
         write response waits (bus backpressure, no data loss). Reads 0.

Timing (what the RTL does and :class:`RegisterFileModel` predicts)
-------------------------------------------------------------------
A write *commits* in one cycle (after its AW and W transfers, before its B response): RW/W1C state
changes at the end of that cycle, W1P pulses and the push transfer happen in that cycle. A read
*samples* the registers in the cycle of its AR transfer, before a commit of the same cycle.
"""
from __future__ import annotations

import enum
import keyword
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from golden.spec.params import ConfigError, bits_for, check_int

if TYPE_CHECKING:  # pragma: no cover
    from golden.spec.bnn_datapath_params import BnnHwParams
    from golden.spec.params import AccelParams

DATA_WIDTH = 32
OKAY = 0b00      # AXI response codes
SLVERR = 0b10

_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


class Access(enum.Enum):
    """Access mode of a field (see the module docstring)."""

    RO = "RO"
    RW = "RW"
    W1C = "W1C"
    W1P = "W1P"
    WO = "WO"


def _check_name(what: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name) or keyword.iskeyword(name):
        raise ConfigError(f"{what} = {name!r} is not allowed: lower-case identifier, words joined by "
                          f"single underscores (e.g. 'soft_reset')")


@dataclass(frozen=True)
class Field:
    """One bit field of a register.

    Attributes
    ----------
    name : str
        Lower-case identifier; also the port name in the CSR block.
    width : int, 1..32
        Bits.
    access : Access
    reset : int
        Reset value (RW only; W1C flags reset to 0).
    doc : str
    offset : int or None
        Bit position of the LSB; ``None`` places the field right after the previous one.
    const : int or None
        RO only: a build-time constant (no hardware port).
    signed : bool
        The bits are a two's-complement number (documentation, payload layouts).
    values : tuple of (name, value)
        Named values of an enumerated field (documented, and defined in the C header).
    """

    name: str
    width: int
    access: Access
    reset: int = 0
    doc: str = ""
    offset: int | None = None
    const: int | None = None
    signed: bool = False
    values: tuple[tuple[str, int], ...] = ()

    def __post_init__(self):
        _check_name("field name", self.name)
        if not isinstance(self.access, Access):
            raise ConfigError(f"field {self.name}: access = {self.access!r} is not allowed: "
                              f"choose one of {[a.value for a in Access]}")
        check_int(f"field {self.name}: width", self.width, 1, DATA_WIDTH)
        if self.offset is not None:
            check_int(f"field {self.name}: offset", self.offset, 0, DATA_WIDTH - 1)
        check_int(f"field {self.name}: reset", self.reset, 0, (1 << self.width) - 1)
        if self.reset and self.access is not Access.RW:
            raise ConfigError(f"field {self.name}: reset = {self.reset} is only allowed for RW fields "
                              f"(access is {self.access.value}; allowed reset: 0)")
        if self.const is not None:
            if self.access is not Access.RO:
                raise ConfigError(f"field {self.name}: const is only allowed for RO fields "
                                  f"(access is {self.access.value})")
            check_int(f"field {self.name}: const", self.const, 0, (1 << self.width) - 1)
        for vname, v in self.values:
            _check_name(f"field {self.name}: value name", vname)
            check_int(f"field {self.name}: value {vname}", v, 0, (1 << self.width) - 1)

    @property
    def mask(self) -> int:
        """Mask of the field in its register (needs a placed offset)."""
        return ((1 << self.width) - 1) << self.offset

    @property
    def bits(self) -> str:
        """``"[msb:lsb]"`` (or ``"[b]"``)."""
        msb = self.offset + self.width - 1
        return f"[{msb}]" if self.width == 1 else f"[{msb}:{self.offset}]"

    @property
    def has_port(self) -> bool:
        """True unless the field is a build-time constant."""
        return self.const is None


@dataclass(frozen=True)
class Register:
    """A 32-bit register: named fields, placed LSB first; optionally a push register.

    Attributes
    ----------
    name : str
    fields : tuple of Field
        Placed on construction (``offset`` filled in); no two fields may share a bit.
    doc : str
    push : bool
        All fields are WO; a write hands them to the hardware as one stream transfer.
    addr : int or None
        Byte address, assigned by :class:`RegisterMapBuilder`.
    """

    name: str
    fields: tuple[Field, ...]
    doc: str = ""
    push: bool = False
    addr: int | None = None

    def __post_init__(self):
        _check_name("register name", self.name)
        if not self.fields:
            raise ConfigError(f"register {self.name}: needs at least one field")
        placed, used, nxt, names = [], 0, 0, set()
        for f in self.fields:
            if f.name in names:
                raise ConfigError(f"register {self.name}: field name {f.name!r} is used twice")
            names.add(f.name)
            off = nxt if f.offset is None else f.offset
            if off + f.width > DATA_WIDTH:
                raise ConfigError(f"register {self.name}: field {f.name} at bit {off} with width {f.width} "
                                  f"ends past bit {DATA_WIDTH - 1}: allowed offset + width <= {DATA_WIDTH}")
            g = replace(f, offset=off)
            if used & g.mask:
                other = next(h for h in placed if h.mask & g.mask)
                raise ConfigError(f"register {self.name}: field {f.name} {g.bits} overlaps field {other.name} "
                                  f"{other.bits}")
            used |= g.mask
            nxt = off + f.width
            placed.append(g)
        for f in placed:
            if self.push != (f.access is Access.WO):
                raise ConfigError(f"register {self.name}: field {f.name} has access {f.access.value}; "
                                  f"{'push registers hold only WO fields' if self.push else 'WO fields belong to push registers only'}")
            if f.access is Access.W1C and f"{f.name}_set" in names:
                raise ConfigError(f"register {self.name}: field {f.name}_set collides with the set port of "
                                  f"W1C field {f.name}")
        object.__setattr__(self, "fields", tuple(placed))

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name!r}: {[f.name for f in self.fields]}")

    def encode(self, **values: int) -> int:
        """The 32-bit word with the given fields (signed fields take negative values); others 0."""
        word = 0
        for name, v in values.items():
            f = self.field(name)
            lo, hi = (-(1 << (f.width - 1)), (1 << (f.width - 1)) - 1) if f.signed else (0, (1 << f.width) - 1)
            if isinstance(v, bool):
                v = int(v)
            check_int(f"{self.name}.{name}", v, lo, hi)
            word |= (v & ((1 << f.width) - 1)) << f.offset
        return word

    def decode(self, word: int) -> dict[str, int]:
        """Field values of a 32-bit word (signed fields sign-extended)."""
        out = {}
        for f in self.fields:
            v = (word >> f.offset) & ((1 << f.width) - 1)
            if f.signed and v >> (f.width - 1):
                v -= 1 << f.width
            out[f.name] = v
        return out

    @property
    def reset_value(self) -> int:
        """Value read right after reset with all hardware inputs at 0."""
        v = 0
        for f in self.fields:
            if f.access is Access.RW:
                v |= f.reset << f.offset
            elif f.const is not None:
                v |= f.const << f.offset
        return v

    @property
    def has_ports(self) -> bool:
        return any(f.has_port for f in self.fields)


@dataclass(frozen=True)
class Port:
    """A port of the CSR block belonging to one field (see :meth:`RegisterMap.ports`).

    ``direction`` is from the CSR block: ``"out"`` (to the rest of the design) or ``"in"``.
    ``path`` is the Amaranth member path; the Verilog port name is ``"__".join(path)``.
    """

    path: tuple[str, ...]
    direction: str
    width: int
    register: str
    field: str | None
    role: str   # "value" | "set" | "strobe" | "input" | "valid" | "ready" | "payload"

    @property
    def verilog_name(self) -> str:
        return "__".join(self.path)


@dataclass(frozen=True)
class RegisterMap:
    """Registers with addresses, checked for overlap and window bounds; built by :class:`RegisterMapBuilder`.

    Attributes
    ----------
    name : str
        Prefix of the C macros (upper-cased).
    registers : tuple of Register
        Sorted by address.
    addr_width : int
        Byte-address bits of the bus window (``2**addr_width`` bytes).
    version : tuple of int
        (major, minor) of the map, documented.
    notes : tuple of str
        Extra paragraphs for the Markdown output.
    """

    name: str
    registers: tuple[Register, ...]
    addr_width: int
    version: tuple[int, int] = (1, 0)
    notes: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"no register {name!r} in map {self.name}: {[r.name for r in self.registers]}")

    def __contains__(self, name: str) -> bool:
        return any(r.name == name for r in self.registers)

    def at(self, addr: int) -> Register | None:
        """The register at byte address ``addr`` (low two bits ignored), or None for a hole."""
        word = (addr % (1 << self.addr_width)) >> 2
        for r in self.registers:
            if r.addr >> 2 == word:
                return r
        return None

    def ports(self) -> list[Port]:
        """Every hardware port of the CSR block, in map order (the one naming convention).

        Register ``r``: RW field ``f`` -> out ``r.f``; RO field -> in ``r.f`` (none if constant);
        W1C -> out ``r.f`` and in ``r.f_set``; W1P -> out ``r.f``; push register -> stream out
        ``r.valid``, in ``r.ready``, out ``r.payload`` (fields packed LSB first in field order).
        """
        out = []
        for r in self.registers:
            if r.push:
                w = sum(f.width for f in r.fields)
                out += [Port((r.name, "valid"), "out", 1, r.name, None, "valid"),
                        Port((r.name, "ready"), "in", 1, r.name, None, "ready"),
                        Port((r.name, "payload"), "out", w, r.name, None, "payload")]
                continue
            for f in r.fields:
                if f.access is Access.RW:
                    out.append(Port((r.name, f.name), "out", f.width, r.name, f.name, "value"))
                elif f.access is Access.RO and f.has_port:
                    out.append(Port((r.name, f.name), "in", f.width, r.name, f.name, "input"))
                elif f.access is Access.W1C:
                    out += [Port((r.name, f.name), "out", f.width, r.name, f.name, "value"),
                            Port((r.name, f"{f.name}_set"), "in", f.width, r.name, f.name, "set")]
                elif f.access is Access.W1P:
                    out.append(Port((r.name, f.name), "out", f.width, r.name, f.name, "strobe"))
        return out

    # --- outputs --------------------------------------------------------------------------------
    def to_markdown(self, title: str | None = None, params_summary: str | None = None) -> str:
        """The register reference as Markdown (docs/registers.md)."""
        up = self.name.upper()
        lines = [f"# {title or up + ' registers'}", "",
                 (f"Generated from `golden/spec/register_map.py` by `reram-accel verilog` — do not edit. "
                  f"Map version {self.version[0]}.{self.version[1]}; AXI4-Lite, 32-bit data, "
                  f"{self.addr_width}-bit byte addresses ({1 << self.addr_width} byte window); "
                  f"C header: `{self.name.lower()}_regs.h`."), ""]
        if params_summary:
            lines += [f"Generated for: {params_summary}.", ""]
        lines += list(self.notes)
        lines += ["", "## Summary", "", "| Address | Register | Access | Reset | Description |",
                  "|---|---|---|---|---|"]
        for r in self.registers:
            acc = "push (WO)" if r.push else "/".join(sorted({_acc_label(f) for f in r.fields}))
            lines.append(f"| `0x{r.addr:03X}` | [{r.name.upper()}](#{r.name}) | {acc} | "
                         f"`0x{r.reset_value:08X}` | {_first_sentence(r.doc)} |")
        for r in self.registers:
            lines += ["", f"## {r.name.upper()}", "", f"<a id=\"{r.name}\"></a>"
                      f"Address `0x{r.addr:03X}` (`{up}_{r.name.upper()}_ADDR`)"
                      + (" — **push register**: a write hands all fields to the hardware as one "
                         "transfer (the write response waits while the hardware is not ready)." if r.push
                         else "."), "", r.doc, "",
                      "| Bits | Field | Access | Reset | Description |", "|---|---|---|---|---|"]
            for f in r.fields:
                reset = (f"`{f.const:#x}` (const)" if f.const is not None
                         else f"`{f.reset:#x}`" if f.access in (Access.RW, Access.W1C) else "-")
                doc = f.doc + (" Signed (two's complement)." if f.signed else "")
                if f.values:
                    doc += " Values: " + ", ".join(f"`{v}` = {n.upper()}" for n, v in f.values) + "."
                lines.append(f"| `{f.bits}` | {f.name.upper()} | {_acc_label(f)} | {reset} | {doc} |")
        lines.append("")
        return "\n".join(lines)

    def to_c_header(self, params_summary: str | None = None) -> str:
        """A C header with ``<NAME>_<REG>_ADDR`` and per field ``_SHIFT``, ``_WIDTH``, ``_MASK`` (in place),
        ``_RESET`` (RW), ``_VALUE`` (constants) and one macro per named value."""
        up = self.name.upper()
        guard = f"{up}_REGS_H"
        lines = [(f"/* {self.name.lower()}_regs.h: register map of {self.name} (map version "
                  f"{self.version[0]}.{self.version[1]})."),
                 " * Generated from golden/spec/register_map.py by `reram-accel verilog`; do not edit.",
                 *( [f" * Generated for: {params_summary}."] if params_summary else []),
                 " * Byte addresses on an AXI4-Lite bus, 32-bit registers. MASK is in place (shifted). */",
                 f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", "",
                 f"#define {up}_ADDR_WIDTH {self.addr_width}u",
                 f"#define {up}_MAP_VERSION_MAJOR {self.version[0]}u",
                 f"#define {up}_MAP_VERSION_MINOR {self.version[1]}u",
                 f"/* Extract / insert a field: {up}_GET(v, {up}_CTRL_MODE), {up}_PUT(x, {up}_CTRL_MODE). */",
                 f"#define {up}_GET(v, F) (((uint32_t)(v) & F##_MASK) >> F##_SHIFT)",
                 f"#define {up}_PUT(x, F) (((uint32_t)(x) << F##_SHIFT) & F##_MASK)", ""]
        for r in self.registers:
            R = f"{up}_{r.name.upper()}"
            lines.append(f"/* {r.name.upper()}: {_first_sentence(r.doc)}{' (push register)' if r.push else ''} */")
            lines.append(f"#define {R}_ADDR 0x{r.addr:03X}u")
            lines.append(f"#define {R}_RESET 0x{r.reset_value:08X}u")
            for f in r.fields:
                F = f"{R}_{f.name.upper()}"
                lines += [f"#define {F}_SHIFT {f.offset}u", f"#define {F}_WIDTH {f.width}u",
                          f"#define {F}_MASK 0x{f.mask:08X}u"]
                if f.access is Access.RW:
                    lines.append(f"#define {F}_RESET 0x{f.reset:X}u")
                if f.const is not None:
                    lines.append(f"#define {F}_VALUE 0x{f.const:X}u")
                for n, v in f.values:
                    lines.append(f"#define {F}_{n.upper()} {v}u")
            lines.append("")
        lines += [f"#endif /* {guard} */", ""]
        return "\n".join(lines)

    def summary(self) -> list[str]:
        """One line per register: address, name, field list."""
        return [f"0x{r.addr:03X} {r.name.upper():<16} " + " ".join(
            f"{f.name}{f.bits}:{f.access.value}" for f in r.fields) for r in self.registers]


def _acc_label(f: Field) -> str:
    return "RO (const)" if f.const is not None else f.access.value


def _first_sentence(text: str) -> str:
    s = " ".join(text.split())
    i = s.find(". ")
    return s if i < 0 else s[:i + 1]


class RegisterMapBuilder:
    """Collect registers, assign addresses, check overlaps and bounds; :meth:`build` freezes the map.

    Parameters
    ----------
    name : str
        Map name (C macro prefix).
    addr_width : int, 4..32
        Byte-address bits of the bus window.
    """

    def __init__(self, name: str, addr_width: int = 12, version: tuple[int, int] = (1, 0)):
        _check_name("map name", name)
        check_int("register map addr_width", addr_width, 4, 32)
        self.name = name
        self.addr_width = addr_width
        self.version = version
        self._regs: list[Register] = []
        self._next = 0
        self.notes: list[str] = []

    def add(self, reg: Register, addr: int | None = None) -> Register:
        """Place ``reg`` at ``addr`` (byte address, 4-aligned) or at the next free word after the last one."""
        a = self._next if addr is None else addr
        check_int(f"register {reg.name}: address", a, 0, (1 << self.addr_width) - 4)
        if a % 4:
            raise ConfigError(f"register {reg.name}: address {a:#x} is not 4-byte aligned: allowed "
                              f"multiples of 4 in [0, {(1 << self.addr_width) - 4:#x}]")
        for r in self._regs:
            if r.name == reg.name:
                raise ConfigError(f"register name {reg.name!r} is used twice")
            if r.addr == a:
                raise ConfigError(f"register {reg.name}: address {a:#x} overlaps register {r.name}")
        placed = replace(reg, addr=a)
        self._regs.append(placed)
        self._next = a + 4
        return placed

    def skip_to(self, addr: int) -> None:
        """Continue automatic placement at ``addr`` (start of a new group)."""
        check_int("register map skip_to address", addr, 0, (1 << self.addr_width) - 4)
        self._next = addr

    def build(self) -> RegisterMap:
        regs = tuple(sorted(self._regs, key=lambda r: r.addr))
        return RegisterMap(self.name, regs, self.addr_width, self.version, tuple(self.notes))


# --- golden twin of the CSR block -----------------------------------------------------------------
@dataclass
class WriteEffect:
    """What one committed write did: its response, the W1P pulses, the push transfer (if any)."""

    resp: int
    strobes: dict[tuple[str, str], int] = field(default_factory=dict)
    push: tuple[str, dict[str, int]] | None = None


def lane_mask(strb: int) -> int:
    """32-bit mask of the byte lanes enabled by a 4-bit ``wstrb``."""
    return sum(0xFF << (8 * i) for i in range(4) if strb >> i & 1)


class RegisterFileModel:
    """Bit-true model of the CSR block (:mod:`hw.axil_csr`): state, reads, committed writes.

    The caller orders the events of a cycle as the RTL does: :meth:`read` (sampled before the commit),
    :meth:`write` (the commit), then :meth:`hw_set` (set wins over a clear in the same cycle).
    RO inputs are given to :meth:`read` as ``{(register, field): value}`` (missing ones read 0).
    Push fields are returned as raw unsigned bits.
    """

    def __init__(self, regmap: RegisterMap):
        self.map = regmap
        self.state: dict[tuple[str, str], int] = {}
        self.reset()

    def reset(self) -> None:
        self.state = {(r.name, f.name): f.reset for r in self.map.registers for f in r.fields
                      if f.access in (Access.RW, Access.W1C)}

    def value(self, reg: str, fld: str) -> int:
        """The stored value of an RW or W1C field (what its output port shows)."""
        return self.state[(reg, fld)]

    def read(self, addr: int, ro: dict[tuple[str, str], int] | None = None) -> tuple[int, int]:
        """(data, resp) of a read of byte address ``addr``."""
        r = self.map.at(addr)
        if r is None:
            return 0, SLVERR
        ro = ro or {}
        v = 0
        for f in r.fields:
            if f.access in (Access.RW, Access.W1C):
                x = self.state[(r.name, f.name)]
            elif f.access is Access.RO:
                x = f.const if f.const is not None else ro.get((r.name, f.name), 0) & ((1 << f.width) - 1)
            else:
                x = 0
            v |= x << f.offset
        return v, OKAY

    def write(self, addr: int, data: int, strb: int = 0xF) -> WriteEffect:
        """Commit a write; returns the response and the W1P/push side effects."""
        r = self.map.at(addr)
        if r is None:
            return WriteEffect(SLVERR)
        m = lane_mask(strb)
        eff = WriteEffect(OKAY)
        for f in r.fields:
            fm = (m >> f.offset) & ((1 << f.width) - 1)
            wv = (data >> f.offset) & fm
            key = (r.name, f.name)
            if f.access is Access.RW:
                self.state[key] = (self.state[key] & ~fm) | wv
            elif f.access is Access.W1C:
                self.state[key] &= ~wv
            elif f.access is Access.W1P and wv:
                eff.strobes[key] = wv
        if r.push and strb & 0xF:
            eff.push = (r.name, {f.name: (data & m) >> f.offset & ((1 << f.width) - 1) for f in r.fields})
        return eff

    def hw_set(self, reg: str, fld: str, bits: int) -> None:
        """The hardware sets W1C bits (input ``<field>_set``) in this cycle."""
        self.state[(reg, fld)] |= bits


# --- the accelerator's map ---------------------------------------------------------------------------
MAGIC = 0x52524143          # ASCII "RRAC"
MAP_VERSION = (1, 0)
BNN_DIM_WIDTH = 16          # BNN layer shape fields (inputs, neurons per layer)
UPDATE_FLAG_BITS = 2        # UPDATE.END_CYCLE and UPDATE.MARKER in bits 30, 31

PROGRAM_COUNT_WIDTH = 4     # PROGRAM.COUNT: fits row + col + slot + polarity + count in 32 bits
BNN_PHASES = ("precharge", "input", "evaluate", "sense", "readout", "reset")  # = golden.spec.bnn_datapath_params.PHASES

MODE_VALUES = (("training", 0), ("bnn", 1))
SCHED_CODES = (("none", 0), ("row", 1), ("col", 2), ("slot", 3), ("count", 4), ("read_row", 5),
               ("read_col", 6))     # golden.twins.pulse_scheduler.ErrorCode


def update_fits_one_word(p: AccelParams) -> bool:
    """True if UPDATE holds row, col, dW and the two flags in one word (else UPDATE_ADDR holds row/col)."""
    return p.row_width + p.col_width + p.update.dw_width <= DATA_WIDTH - UPDATE_FLAG_BITS


def accelerator_register_map(p: AccelParams, *, bnn: BnnHwParams | None = None, fifo_depth: int = 16,
                             adc_width: int = 8, addr_width: int = 12) -> RegisterMap:
    """The register map of the accelerator top (:mod:`hw.accelerator`) for parameter tree ``p``.

    Build-time (generator) parameters are visible as RO constants: ID, VERSION, ARRAY_CFG,
    SYNAPSE_CFG, UPDATE_CFG, EPS, EPS_HI, TIMING0, TIMING1 (and BNN_CFG0/1). Runtime: CTRL,
    IRQ_ENABLE, BNN_CTRL and the BNN phase lengths.

    Parameters
    ----------
    bnn : BnnHwParams or None
        The BNN layer engine's parameters if the top has a BNN path (adds the BNN registers).
    fifo_depth : int, 2..255
        Depth of the update-request and BNN input FIFOs in the top (STATUS shows their levels).
    adc_width : int, 1..16
        Width of the array's read code (READ_DATA.DATA).
    """
    check_int("fifo_depth", fifo_depth, 2, 255)
    check_int("adc_width", adc_width, 1, 16)
    RO, RW, W1C, W1P, WO = Access.RO, Access.RW, Access.W1C, Access.W1P, Access.WO
    a, s, u, t = p.array, p.synapse, p.update, p.timing
    lvl = bits_for(fifo_depth + 1)
    b = RegisterMapBuilder("reram_accel", addr_width, MAP_VERSION)
    b.notes += [
        ("Conventions: registers are 32 bits at 4-byte aligned addresses; holes answer SLVERR (reads "
         "return 0); writes to read-only bits are ignored. `wstrb` byte lanes that are 0 are not "
         "written (RW keeps its bits; W1C/W1P/WO bits there count as 0). A push register pushes when "
         "any strobe bit is set; its write response waits while the target is not ready (bus "
         "backpressure, nothing is dropped; poll the STATUS levels to avoid waiting)."),
        "",
        ("Access: RO read-only (hardware value or build-time constant), RW read/write, W1C sticky "
         "flag set by hardware and cleared by writing 1, W1P write-1 one-cycle pulse (reads 0), WO "
         "write-only field of a push register (reads 0)."),
        "",
        ("Build-time vs runtime: array size and cell, devices per synapse, differential mode, "
         "arbitration increment and periods, fixed-point widths, the pulse threshold eps, the pulse "
         "timing (setup/width/gap/settle/read, verify) and the BNN layer shape are generator "
         "parameters, visible as RO constants. Runtime: the array-port owner (CTRL.MODE), interrupt "
         "enables, the BNN mode (digital/analog) and the sense-amplifier phase lengths."),
        "",
        ("Training flow: push UPDATE words (row, col, dW); set UPDATE.END_CYCLE on the last update of an "
         "update cycle (or push a MARKER with END_CYCLE) so that the arbitration controller advances "
         "its selection counter after the pulses of that cycle; EVENTS.CYCLE_DONE tells when it did. "
         "PROGRAM bypasses the update unit and the arbitration: pulses on one chosen device (weight "
         "initialisation, BNN weights, tests). READ_REQ reads one device into READ_DATA."),
    ]
    if bnn is not None:
        b.notes += [
            "",
            ("BNN registers (0x0A0 ..) exist only in builds with a BNN path (ARRAY_CFG.BNN = 1). "
             "BNN flow (CTRL.MODE = BNN): push an image as ceil(inputs/32) BNN_INPUT words; the engine runs "
             "the layer when the image is complete, STATUS.OWNER is BNN and the output buffer is free; "
             "EVENTS.BNN_DONE marks the output bits complete (read them with BNN_OUT_INDEX / "
             "BNN_OUT_DATA); CTRL.BNN_ACK frees the buffer for the next image."),
        ]

    # --- identification / build-time configuration ---------------------------------------------
    b.add(Register("id", (Field("magic", 32, RO, const=MAGIC, doc="ASCII \"RRAC\"."),),
                   "Identification word; reads 0x52524143 (\"RRAC\")."))
    b.add(Register("version", (Field("minor", 8, RO, const=MAP_VERSION[1], doc="Map minor version."),
                               Field("major", 8, RO, const=MAP_VERSION[0], doc="Map major version.")),
                   "Version of this register map."))
    b.add(Register("array_cfg", (
        Field("rows_m1", 12, RO, const=a.rows - 1, doc="Synapse rows - 1."),
        Field("cols_m1", 12, RO, const=a.cols - 1, doc="Synapse columns - 1."),
        Field("cell_2t2r", 1, RO, const=int(a.cell == "2T2R"), doc="1: 2T2R cells, 0: 1T1R."),
        Field("differential", 1, RO, const=int(s.differential), doc="1: G+ / G- device groups."),
        Field("verify", 1, RO, const=int(t.verify), doc="1: program-and-verify read after each request."),
        Field("bnn", 1, RO, const=int(bnn is not None), doc="1: the build has the BNN path.")),
        "Array geometry and cell type (build-time)."))
    b.add(Register("synapse_cfg", (
        Field("devices_m1", 6, RO, const=s.devices - 1, doc="Devices per synapse (per group) - 1."),
        Field("increment", 6, RO, const=s.increment, doc="Step of the arbitration selection counter."),
        Field("pot_period_m1", 8, RO, const=s.pot_period - 1, doc="Potentiation period - 1."),
        Field("dep_period_m1", 8, RO, const=s.dep_period - 1, doc="Depression period - 1.")),
        "Multi-device synapse and arbitration parameters (build-time)."))
    b.add(Register("update_cfg", (
        Field("dw_width", 6, RO, const=u.dw_width, doc="Width of dW (signed)."),
        Field("chi_width", 6, RO, const=u.chi_width, doc="Width of the chi accumulator (signed)."),
        Field("count_width", 4, RO, const=u.count_width, doc="Width of the pulse count per request."),
        Field("refresh_pulses", 8, RO, const=s.refresh_pulses, doc="RESET pulses per device on a refresh."),
        Field("fifo_depth", 8, RO, const=fifo_depth, doc="Depth of the update and BNN input FIFOs.")),
        "Fixed-point formats of the update unit (build-time)."))
    b.add(Register("eps", (Field("value", 32, RO, const=u.eps & 0xFFFFFFFF, doc="eps bits [31:0]."),),
                   "Pulse threshold eps of the update unit, low word (build-time, LSBs of chi)."))
    b.add(Register("eps_hi", (Field("value", 8, RO, const=u.eps >> 32, doc="eps bits [39:32]."),),
                   "Pulse threshold eps, high bits (chi_width up to 40)."))
    b.add(Register("timing0", (
        Field("setup", 8, RO, const=t.setup, doc="Address setup before the first pulse (cycles)."),
        Field("width", 8, RO, const=t.width, doc="Programming pulse width (cycles)."),
        Field("gap", 8, RO, const=t.gap, doc="Gap between pulses of one request (cycles)."),
        Field("settle", 8, RO, const=t.settle, doc="Settling after the last pulse (cycles).")),
        "Pulse timing of the pulse scheduler (build-time)."))
    b.add(Register("timing1", (
        Field("read", 8, RO, const=t.read, doc="Read strobe length (cycles)."),
        Field("adc_width", 5, RO, const=adc_width, doc="Width of the read code."),),
        "Read timing of the pulse scheduler (build-time)."))

    # --- control / status -------------------------------------------------------------------------
    b.skip_to(0x040)
    b.add(Register("ctrl", (
        Field("soft_reset", 1, W1P, doc="Reset the datapath for one cycle: empty the FIFOs, abort the "
                                        "operation in flight, clear the blocks' sticky flags and the "
                                        "counters. The CSRs and the update unit's chi memory keep their "
                                        "values."),
        Field("clear_counters", 1, W1P, doc="Zero the performance counters."),
        Field("bnn_ack", 1, W1P, doc="Free the BNN output buffer: the next image's bits may overwrite it."),
        Field("mode", 1, RW, offset=8, values=MODE_VALUES,
              doc="Requested owner of the array port; STATUS.OWNER follows once the current owner is "
                  "idle.")),
        "Control: strobes and the array-port owner."))
    b.add(Register("status", (
        Field("busy", 1, RO, doc="Any operation in flight (TRAIN_BUSY, BNN_BUSY or READ_BUSY)."),
        Field("train_busy", 1, RO, doc="Update FIFO not empty or a training block busy."),
        Field("bnn_busy", 1, RO, doc="BNN engine busy, an image (part) waiting or output bits in flight."),
        Field("read_busy", 1, RO, doc="A cell read is in flight."),
        Field("owner", 1, RO, values=MODE_VALUES, doc="Current owner of the array port."),
        Field("bnn_full", 1, RO, doc="The BNN output buffer holds an unacknowledged image."),
        Field("update_level", lvl, RO, offset=8, doc="Entries in the update FIFO."),
        Field("input_level", lvl, RO, offset=16, doc="Entries in the BNN input FIFO.")),
        "Status of the datapath (live values)."))
    b.add(Register("events", (
        Field("bnn_done", 1, W1C, doc="The output bits of a BNN image are complete."),
        Field("read_done", 1, W1C, doc="A cell read finished (READ_DATA valid)."),
        Field("cycle_done", 1, W1C, doc="An update cycle was closed (UPDATE.END_CYCLE reached the "
                                        "arbitration controller).")),
        "Sticky events, cleared by writing 1."))
    b.add(Register("errors", (
        Field("update_range", 1, W1C, doc="The update unit dropped a request outside the array (first "
                                          "one after reset / soft reset)."),
        Field("sched", 1, W1C, doc="The pulse scheduler rejected a request or read; reason in "
                                   "SCHED_CODE. Clearing it clears SCHED_CODE."),
        Field("xbar", 1, W1C, doc="A crossbar addressing unit rejected a command (never expected)."),
        Field("sched_code", 3, RO, offset=8, values=SCHED_CODES,
              doc="First pulse-scheduler error since it was last cleared.")),
        "Sticky error flags (reason codes), cleared by writing 1."))
    b.add(Register("irq_enable", (
        Field("bnn_done", 1, RW, doc="Raise `irq` on EVENTS.BNN_DONE."),
        Field("read_done", 1, RW, doc="Raise `irq` on EVENTS.READ_DONE."),
        Field("cycle_done", 1, RW, doc="Raise `irq` on EVENTS.CYCLE_DONE."),
        Field("errors", 1, RW, offset=8, doc="Raise `irq` on any ERRORS flag.")),
        "Interrupt enables: `irq` = OR of the enabled EVENTS flags, and of any ERRORS flag."))

    # --- counters ---------------------------------------------------------------------------------------
    b.skip_to(0x060)
    for name, doc in (("pulse_count", "Programming pulses that reached the array (rising `write`)."),
                      ("request_count", "Update requests accepted by the update unit."),
                      ("skipped_count", ("Pulse counts dropped by the period gating of the arbitration "
                                         "controller.")),
                      ("refresh_count", "Refresh requests accepted."),
                      ("busy_cycles", "Cycles with STATUS.BUSY set.")):
        b.add(Register(name, (Field("value", 32, RO, doc=doc + " Wraps at 2**32."),),
                       doc + " Zeroed by CTRL.CLEAR_COUNTERS and CTRL.SOFT_RESET."))

    # --- training: update requests, refresh, direct programming, cell reads ---------------------------
    b.skip_to(0x080)
    rw, cw, dw = p.row_width, p.col_width, u.dw_width
    flags = (Field("end_cycle", 1, WO, offset=30, doc="Close the update cycle after this entry (its "
                                                      "pulse counts reach the arbitration controller "
                                                      "first)."),
             Field("marker", 1, WO, offset=31, doc="No update in this entry (ROW, COL, DW ignored): "
                                                   "with END_CYCLE, closes an update cycle."))
    if update_fits_one_word(p):
        b.add(Register("update", (
            Field("dw", dw, WO, signed=True, doc="Weight update dW (LSBs of chi)."),
            Field("col", cw, WO, doc="Synapse column."),
            Field("row", rw, WO, doc="Synapse row."), *flags),
            "Push one update request (row, col, dW) into the update FIFO.", push=True))
    else:
        b.add(Register("update", (Field("dw", dw, WO, signed=True, doc="Weight update dW (LSBs of chi)."),
                                  *flags),
                       "Push one update request (UPDATE_ADDR.ROW, UPDATE_ADDR.COL, dW) into the update "
                       "FIFO.", push=True))
        b.add(Register("update_addr", (Field("col", cw, RW, doc="Synapse column."),
                                       Field("row", rw, RW, offset=16, doc="Synapse row.")),
                       "Synapse address of the UPDATE pushes (this build's row + col + dW + 2 flags exceed "
                       "32 bits)."))
    b.skip_to(0x088)
    b.add(Register("refresh", (Field("col", cw, WO, doc="Synapse column."),
                               Field("row", rw, WO, offset=16, doc="Synapse row.")),
                   "Request a refresh of synapse (row, col): every device gets REFRESH_PULSES RESET pulses.",
                   push=True))
    b.add(Register("program", (
        Field("count", PROGRAM_COUNT_WIDTH, WO, doc="Pulses (1..15; 0 is rejected: ERRORS.SCHED, code COUNT)."),
        Field("polarity", 1, WO, values=(("reset", 0), ("set", 1)), doc="SET (1) or RESET (0)."),
        Field("slot", p.slot_width, WO, doc="Device slot in the synapse (0 .. D-1)."),
        Field("col", cw, WO, doc="Synapse column."),
        Field("row", rw, WO, doc="Row.")),
        "Program one device directly (bypasses the update unit and the arbitration controller; waits "
        "behind the arbitration controller's requests).", push=True))
    b.add(Register("read_req", (
        Field("phys_col", p.phys_col_width, WO, doc="Physical column (col * D + device slot)."),
        Field("row", rw, WO, offset=16, doc="Row.")),
        "Request a read of one device; the result appears in READ_DATA.", push=True))
    b.add(Register("read_data", (
        Field("data", adc_width, RO, doc="Read code of the last read."),
        Field("err", 1, RO, offset=16, doc="The last read addressed a device outside the array."),
        Field("valid", 1, RO, offset=31, doc="DATA holds the result of the last READ_REQ.")),
        "Result of the last cell read."))

    # --- BNN ---------------------------------------------------------------------------------------
    if bnn is not None:
        b.skip_to(0x0A0)
        b.add(Register("bnn_cfg0", (
            Field("inputs_m1", 12, RO, const=bnn.inputs - 1, doc="Inputs N of the layer - 1."),
            Field("neurons_m1", 12, RO, const=bnn.neurons - 1, doc="Neurons M of the layer - 1."),
            Field("bank_m1", 6, RO, const=bnn.bank - 1, doc="Neurons per bank (word line) K - 1.")),
            "BNN layer shape (build-time)."))
        b.add(Register("bnn_cfg1", (
            Field("bias_cells", 12, RO, const=bnn.bias_cells, doc="Bias cells B per neuron."),
            Field("out_fifo", 7, RO, const=bnn.out_fifo, doc="Depth of the engine's output FIFO."),
            Field("read_lanes", 9, RO, const=bnn.read_lanes,
                  doc="Bridges one digital-mode read returns (min(read_width, inputs + bias cells)).")),
            "BNN layer parameters (build-time)."))
        b.add(Register("bnn_ctrl", (
            Field("analog", 1, RW, doc="1: analog (in-memory, sense amplifiers); "
                                       "0: digital (bridge reads + XNOR-popcount). "
                                       "Sampled when an image starts."),
            Field("cal", 1, RW, doc="0: every bias row driven (normal operation). 1: SA calibration ramp, "
                                    "only bias rows j < RAMP driven (the bias cells then all store 1). "
                                    "Sampled when an image starts."),
            Field("ramp", bnn.ramp_width, RW, offset=16,
                  doc=f"Bias rows driven while CAL = 1, 0 .. {bnn.bias_cells}"
                      f"{' (more: all)' if (1 << bnn.ramp_width) - 1 > bnn.bias_cells else ''}.")),
            "BNN mode and bias-row drive (runtime)."))
        b.add(Register("bnn_phase", (
            Field("cycles", 8, WO, doc="Phase length in cycles (0 acts as 1)."),
            Field("phase", 3, WO, values=tuple((n, i) for i, n in enumerate(BNN_PHASES)),
                  doc="Which sense-amplifier phase.")),
            "Set one sense-amplifier phase length (runtime; reset values from the build parameters).",
            push=True))
        b.add(Register("bnn_input", (Field("bits", 32, WO, doc="32 input bits; input 32*k+i in bit i of "
                                                                "the k-th word of the image."),),
                       "Push 32 input bits of an image into the BNN input FIFO.", push=True))
        b.add(Register("bnn_out_index", (Field("word", 8, RW, doc="Word index into the output bits."),),
                       "Selects which 32 output bits BNN_OUT_DATA shows."))
        b.add(Register("bnn_out_data", (Field("bits", 32, RO, doc="Output bits 32*BNN_OUT_INDEX .. +31 "
                                                                 "(neuron j in bit j mod 32; 0 past M)."),),
                       "Output (sign) bits of the last BNN image."))
    return b.build()


def params_summary(p: AccelParams) -> str:
    """One line naming the build parameters a generated map was made for."""
    return (f"{p.array.rows}x{p.array.cols} {p.array.cell}, {p.synapse.devices} device(s)/synapse"
            f"{' differential' if p.synapse.differential else ''}, dW {p.update.dw_width} b, "
            f"chi {p.update.chi_width} b, eps {p.update.eps}")


def reference_markdown() -> str:
    """docs/registers.md: the map for the default parameters with the default BNN path."""
    from golden.spec.bnn_datapath_params import BnnHwParams
    from golden.spec.params import AccelParams

    p = AccelParams()
    return accelerator_register_map(p, bnn=BnnHwParams()).to_markdown(
        params_summary=params_summary(p) + "; BNN registers for the default BNN layer (64 inputs, 7 bias "
                                           "cells, 33 neurons, banks of 4)")


if __name__ == "__main__":   # python -m golden.spec.register_map > docs/registers.md
    print(reference_markdown(), end="")
