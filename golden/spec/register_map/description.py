"""Register-map description: fields, access modes, registers, addresses, checked on construction.

Plain Python (no Amaranth), so the golden twin (:mod:`golden.twins.axil_csr`), the RTL generator
(:mod:`hw.axil_csr`), the testbenches and the emitters (:mod:`golden.spec.register_map.emitters`)
all read the same description — the idea of amaranth-soc's ``csr`` package (registers as field
collections with access modes, gathered by a builder into a memory map), in our own small code. The
accelerator's concrete map is :mod:`golden.spec.register_map.accelerator_map`.

Bus conventions (AXI4-Lite, 32-bit data)
-----------------------------------------
* Registers are 32 bits wide at 4-byte aligned byte addresses inside a ``2**addr_width`` byte
  window. The two low address bits are ignored (the byte lanes are chosen by ``wstrb``).
* An address with no register (a hole in the map) answers ``SLVERR`` on reads (data 0) and on writes
  (no effect). Writes to read-only bits are ignored (``OKAY``).
* ``wstrb``: a byte lane whose strobe is 0 is not written: RW bits in it keep their value, W1C/W1P
  bits in it are treated as 0 (``wstrb = 0`` therefore writes nothing and answers ``OKAY``). A push
  register needs all four strobes: a push written with any other ``wstrb`` (0 included) is *refused*.
* A write never stalls the bus for more than a bounded time: a push whose target is not ready waits
  at most ``RegisterMap.push_wait`` cycles (counted while the B response has room), then it is
  refused. A refused push transfers nothing, answers ``SLVERR`` and pulses the CSR block's
  ``push_refused`` output (the accelerator latches it in a sticky error flag).

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
         write waits, at most ``push_wait`` cycles, then is refused (``SLVERR``, nothing pushed;
         ``valid`` is withdrawn). Reads 0.

Timing (what the RTL does and :class:`golden.twins.axil_csr.RegisterFileModel` predicts)
-----------------------------------------------------------------------------------------
A write *commits* in one cycle (after its AW and W transfers, before its B response): RW/W1C state
changes at the end of that cycle, W1P pulses and the push transfer happen in that cycle. A read
*samples* the registers in the cycle of its AR transfer, before a commit of the same cycle.
"""
from __future__ import annotations

import enum
import keyword
import re
from dataclasses import dataclass, replace

from golden.spec.checks import ConfigError, check_int

DATA_WIDTH = 32
OKAY = 0b00      # AXI response codes
SLVERR = 0b10
DEFAULT_PUSH_WAIT = 4096   # cycles a push waits for a busy target before it is refused
MAX_PUSH_WAIT = 65535

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
    push_wait : int, 1..65535
        Cycles a push may wait for its target before it is refused (``SLVERR``).
    """

    name: str
    registers: tuple[Register, ...]
    addr_width: int
    version: tuple[int, int] = (1, 0)
    notes: tuple[str, ...] = ()
    push_wait: int = DEFAULT_PUSH_WAIT

    def __post_init__(self):
        check_int("register map push_wait", self.push_wait, 1, MAX_PUSH_WAIT)

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

    def summary(self) -> list[str]:
        """One line per register: address, name, field list."""
        return [f"0x{r.addr:03X} {r.name.upper():<16} " + " ".join(
            f"{f.name}{f.bits}:{f.access.value}" for f in r.fields) for r in self.registers]


class RegisterMapBuilder:
    """Collect registers, assign addresses, check overlaps and bounds; :meth:`build` freezes the map.

    Parameters
    ----------
    name : str
        Map name (C macro prefix).
    addr_width : int, 4..32
        Byte-address bits of the bus window.
    push_wait : int, 1..65535
        Bounded wait of a push for its target (see :class:`RegisterMap`).
    """

    def __init__(self, name: str, addr_width: int = 12, version: tuple[int, int] = (1, 0),
                 push_wait: int = DEFAULT_PUSH_WAIT):
        _check_name("map name", name)
        check_int("register map addr_width", addr_width, 4, 32)
        check_int("register map push_wait", push_wait, 1, MAX_PUSH_WAIT)
        self.push_wait = push_wait
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
        return RegisterMap(self.name, regs, self.addr_width, self.version, tuple(self.notes), self.push_wait)
