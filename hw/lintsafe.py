"""Width-exact expression helpers, so that generated Verilog passes ``verilator --lint-only`` silently.

Amaranth's Verilog backend trims constants to their minimal width, and writes a zero-extended
operand of ``+``/``==``/``<`` as the bare narrower signal (Verilog extends it implicitly). Verilator's
WIDTH lint then flags the operand ("Operator ADD expects 16 bits on the RHS, but RHS's ... generates
7 bits"); ``x == 0`` even becomes ``!x`` (WIDTHTRUNC). Verilator accepts equal-width operands (and a
one-bit carry into the result), explicit concatenations, and muxes. These helpers build expressions
of those forms only; each takes unsigned bit vectors unless stated.
"""
from __future__ import annotations

from amaranth import Cat, Const, Mux


def zext(x, width: int):
    """Zero-extend (or truncate) ``x`` to ``width`` bits. Safe as a Mux arm or assignment source,
    not as an operand of ``+`` (see :func:`zext_operand`)."""
    return Cat(x, Const(0, width - len(x))) if width > len(x) else x[:width]


def zext_operand(x, width: int, en):
    """``zext(x, width)`` where ``en`` is true, else 0: a mux keeps the extension explicit, so the
    result can be an operand of ``+``. Use it where ``x`` matters only when ``en`` holds."""
    return Mux(en, zext(x, width), 0)


def sext(x, width: int):
    """Sign-extend ``x`` (its top bit is the sign) to ``width`` bits as an explicit concatenation."""
    return Cat(x, x[-1].replicate(width - len(x))) if width > len(x) else x[:width]


def eq_const(x, k: int):
    """``x == k`` as an AND over the bits (no constant operand)."""
    if not 0 <= k < (1 << len(x)):
        return Const(0, 1)
    return Cat(*(x[i] if (k >> i) & 1 else ~x[i] for i in range(len(x)))).all()


def ge_const(x, k: int):
    """``x >= k`` for ``0 < k < 2**len(x)``, compared at the bit length of ``k``."""
    lk = k.bit_length()
    low = x[:lk] >= Const(k, lk)
    return (x[lk:].any() | low) if lk < len(x) else low


def add_const(x, k: int):
    """``(x + k) mod 2**len(x)`` with a full-width constant: ``x + k`` if ``k``'s top bit is set,
    else ``x - (2**w - k)`` (whose constant then has its top bit set)."""
    w = len(x)
    k %= 1 << w
    if k == 0:
        return x
    if k >> (w - 1):
        return (x + Const(k, w))[:w]
    return (x - Const((1 << w) - k, w))[:w]
