"""Golden twin of the AXI4-Lite CSR block (:class:`hw.axil_csr.AxiLiteCsr`): register state, reads,
committed writes with their W1P pulses and push transfers, bit-true for any register map
(:mod:`golden.spec.register_map.description`; bus conventions and timing are documented there).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from golden.spec.register_map.description import OKAY, SLVERR, Access, RegisterMap


@dataclass
class WriteEffect:
    """What one committed write did: its response, the W1P pulses, the push transfer (if any), and
    whether it was a refused push (``SLVERR``, nothing pushed, a ``push_refused`` pulse)."""

    resp: int
    strobes: dict[tuple[str, str], int] = field(default_factory=dict)
    push: tuple[str, dict[str, int]] | None = None
    refused: bool = False


def lane_mask(strb: int) -> int:
    """32-bit mask of the byte lanes enabled by a 4-bit ``wstrb``."""
    return sum(0xFF << (8 * i) for i in range(4) if strb >> i & 1)


class RegisterFileModel:
    """Bit-true model of the CSR block (:mod:`hw.axil_csr`): state, reads, committed writes.

    The caller orders the events of a cycle as the RTL does: :meth:`read` (sampled before the commit),
    :meth:`write` (the commit), then :meth:`hw_set` (set wins over a clear in the same cycle).
    :meth:`commits` is the cycle model of the write path (when a held write commits).
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

    def write(self, addr: int, data: int, strb: int = 0xF, refused: bool = False) -> WriteEffect:
        """Commit a write; returns the response and the W1P/push side effects.

        ``refused``: the write is a push the cycle model refused (its wait expired or the hardware
        refused it, :meth:`commits`). A push with ``strb != 0xF`` is refused too.
        """
        r = self.map.at(addr)
        if r is None:
            return WriteEffect(SLVERR)
        if r.push and (refused or strb & 0xF != 0xF):
            return WriteEffect(SLVERR, refused=True)
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
        if r.push:
            eff.push = (r.name, {f.name: (data & m) >> f.offset & ((1 << f.width) - 1) for f in r.fields})
        return eff

    def hw_set(self, reg: str, fld: str, bits: int) -> None:
        """The hardware sets W1C bits (input ``<field>_set``) in this cycle."""
        self.state[(reg, fld)] |= bits


    def commits(self, addr: int, strb: int, *, b_room: bool, ready: bool, waited: int,
                refuse: bool = False) -> tuple[bool, bool]:
        """Cycle model of a complete (AW + W held) write: (commits this cycle, refused).

        ``b_room``: the B buffer has room (fewer than 2 responses waiting); ``ready`` and ``refuse``: the
        push target's ready and refuse inputs in this cycle; ``waited``: cycles this push has already
        waited with room. A non-push write (or a push with a partial ``strb``) commits as soon as there
        is room; a push when its target is ready, or refused: at once if ``refuse``, else in the cycle
        after ``map.push_wait`` cycles of waiting.
        """
        r = self.map.at(addr)
        if not b_room:
            return False, False
        if r is None or not r.push or strb & 0xF != 0xF:
            return True, False
        if refuse or waited >= self.map.push_wait:    # valid is low: refused whatever ready does
            return True, True
        return ready, False
