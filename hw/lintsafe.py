"""Width-exact expression helpers, so that generated Verilog passes ``verilator --lint-only`` silently.

Amaranth's Verilog backend trims constants to their minimal width, and writes a zero-extended
operand of ``+``/``==``/``<`` as the bare narrower signal (Verilog extends it implicitly). Verilator's
WIDTH lint then flags the operand ("Operator ADD expects 16 bits on the RHS, but RHS's ... generates
7 bits"); ``x == 0`` even becomes ``!x`` (WIDTHTRUNC). Verilator accepts equal-width operands (and a
one-bit carry into the result), explicit concatenations, and muxes. These helpers build expressions
of those forms only; each takes unsigned bit vectors unless stated.
"""
from __future__ import annotations

from amaranth import Cat, Const, Mux, Signal


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


def one_hot(m, index, width: int, *, group: int = 64, name: str = "one_hot"):
    """``width`` bits with bit ``index`` set (all 0 when ``index >= width``), as ``Const(1, width) <<
    index`` truncated to ``width`` bits computes it, but built as a two-level predecoder: a
    ``group``-bit decoder of the low index bits ANDed into each of ``ceil(width / group)`` groups
    selected by a (recursive) decoder of the high bits. The decoders are signals of ``m``'s comb
    domain (named ``<name>_low``, ``<name>_high``), shared by all groups.

    Why: a ``width``-bit shift is one netlist cell whose every output bit depends on every input
    bit, and Amaranth's combinational-loop check walks all those edges, ``width**2`` of them (a
    16384-column array: minutes of elaboration); here every output bit has two.
    """
    lo_bits = group.bit_length() - 1
    if group & (group - 1) or lo_bits < 1:
        raise ValueError(f"group must be a power of two >= 2, not {group}")
    if width <= group or len(index) <= lo_bits:
        return (Const(1, width) << index)[:width]
    groups = -(-width // group)
    low = Signal(group, name=f"{name}_low")
    high = Signal(groups, name=f"{name}_high")
    m.d.comb += [low.eq((Const(1, group) << index[:lo_bits])[:group]),
                 high.eq(one_hot(m, index[lo_bits:], groups, group=group, name=f"{name}_high"))]
    return Cat(*(and_each(low, high[g]) for g in range(groups)))[:width]


def and_each(bits, bit):
    """``bits & bit.replicate(len(bits))``: every bit of ``bits`` ANDed with the 1-bit ``bit``, the
    same netlist cell, built as a signed operation whose sign extension repeats ``bit``.

    Why: in Amaranth 0.5 ``replicate(n)`` is a ``Cat`` of ``n`` parts, which every elaboration pass
    (domain lowering, signal collection, netlist building) walks part by part; the sign extension
    is one list operation (a 16384-column array: seconds per conversion).
    """
    if len(bit) != 1:
        raise ValueError(f"bit must be 1 bit wide, not {len(bit)}")
    return (bits.as_signed() & bit.as_signed()).as_unsigned()


def more_than_one(m, bits, *, name: str = "more_than_one"):
    """1 when two or more of ``bits`` are set: a tree of (any, many) pairs, one vector operation per
    level on signals of ``m``'s comb domain (``x & (x - 1)`` would be a subtractor whose every output
    bit depends on every input bit: quadratic work for Amaranth's netlist checks on wide vectors)."""
    any_, many = bits, Const(0, len(bits))
    level = 0
    while len(any_) > 1:
        if len(any_) % 2:
            any_, many = Cat(any_, Const(0, 1)), Cat(many, Const(0, 1))
        half = len(any_) // 2
        a, b = Signal(half, name=f"{name}_any{level}"), Signal(half, name=f"{name}_many{level}")
        m.d.comb += [a.eq(any_[0::2] | any_[1::2]),
                     b.eq(many[0::2] | many[1::2] | (any_[0::2] & any_[1::2]))]
        any_, many, level = a, b, level + 1
    return many[0]
