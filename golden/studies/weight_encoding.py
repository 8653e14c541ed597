"""Binary weight encodings and their mapping onto ReRAM cells (Prabhu et al.: each bit one device).

A weight is first coded as a ``width``-bit word (an unsigned integer holding the bit pattern):

============  =====  ==========================================================================
encoding      width  fields (bit positions, LSB = 0)
============  =====  ==========================================================================
float32       32     sign 31, exponent 30..23, mantissa 22..0 (IEEE 754 binary32)
float16       16     sign 15, exponent 14..10, mantissa 9..0 (IEEE 754 binary16)
bfloat16      16     sign 15, exponent 14..7, mantissa 6..0 (float32 rounded to nearest even)
fixed8        8      two's complement Q(7-f).f: sign 7 (weight -2**(7-f)), magnitude 6..0
============  =====  ==========================================================================

fixed8 uses one power-of-two scale per tensor (``frac_bits`` f, the largest f with
``max|w| * 2**f <= 127``, unless given); the scale is held digitally and is not stored in devices.

Cells
-----
The word's bits are cut into cells of ``bits_per_cell`` bits *from the MSB down*; the last cell is
padded with zero bits below the LSB. (So with 3 bits per cell the 9 sign+exponent bits of float32 and
bfloat16 and the 6 of float16 fill whole cells, separate from the mantissa.) Cell 0 is the most
significant. A cell's value ``v`` (its bits, MSB first) is stored as state ``level(v)``: ``binary``
stores ``v`` itself, ``gray`` stores the level whose Gray code is ``v`` (adjacent levels then differ
in one bit). State indices count up in conductance (:mod:`golden.physics.resistance_lut`): for 1 bit per cell
bit 1 = LRS (Logic-1), bit 0 = HRS (Logic-0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.spec.params import ConfigError, check_choice, check_int

ENCODINGS = ("float32", "float16", "bfloat16", "fixed8")
LEVEL_CODES = ("binary", "gray")


@dataclass(frozen=True)
class Encoding:
    """Bit layout of one weight encoding.

    Attributes
    ----------
    name : str
    width : int
        Bits per weight.
    fields : tuple[tuple[str, int, int], ...]
        ``(field, msb, lsb)`` from the MSB down: ``sign``, ``exponent``, ``mantissa`` (floats) or
        ``sign``, ``magnitude`` (fixed8).
    """

    name: str
    width: int
    fields: tuple

    @property
    def critical_bits(self) -> int:
        """Number of MSBs whose error is catastrophic: sign + exponent (floats); sign + 2 MSBs (fixed8)."""
        if self.name == "fixed8":
            return 3
        return 1 + (self.fields[1][1] - self.fields[1][2] + 1)

    def field_of(self, bit: int) -> str:
        for name, msb, lsb in self.fields:
            if lsb <= bit <= msb:
                return name
        raise ConfigError(f"bit = {bit} is out of range: allowed [0, {self.width - 1}] for {self.name}")


_LAYOUTS = {
    "float32": Encoding("float32", 32, (("sign", 31, 31), ("exponent", 30, 23), ("mantissa", 22, 0))),
    "float16": Encoding("float16", 16, (("sign", 15, 15), ("exponent", 14, 10), ("mantissa", 9, 0))),
    "bfloat16": Encoding("bfloat16", 16, (("sign", 15, 15), ("exponent", 14, 7), ("mantissa", 6, 0))),
    "fixed8": Encoding("fixed8", 8, (("sign", 7, 7), ("magnitude", 6, 0))),
}


def get_encoding(name: str) -> Encoding:
    check_choice("encoding", name, ENCODINGS)
    return _LAYOUTS[name]


def fixed8_frac_bits(w: np.ndarray) -> int:
    """Largest f in [-8, 24] with ``max|w| * 2**f <= 127`` (the per-tensor power-of-two scale)."""
    m = float(np.max(np.abs(w))) if np.size(w) else 0.0
    if m == 0:
        return 7
    f = int(np.floor(np.log2(127.0 / m)))
    return int(min(24, max(-8, f)))


def encode(w: np.ndarray, encoding: str, *, frac_bits: int | None = None) -> tuple[np.ndarray, dict]:
    """Weights -> words (uint64 array, same shape) and metadata (``frac_bits`` for fixed8).

    The words hold the exact bit pattern of the format; :func:`decode` inverts it exactly.
    """
    enc = get_encoding(encoding)
    w = np.asarray(w)
    meta: dict = {"encoding": enc.name}
    if enc.name == "float32":
        words = w.astype(np.float32).view(np.uint32).astype(np.uint64)
    elif enc.name == "float16":
        with np.errstate(over="ignore"):
            words = w.astype(np.float16).view(np.uint16).astype(np.uint64)
    elif enc.name == "bfloat16":
        u = w.astype(np.float32).view(np.uint32).astype(np.uint64)
        rounding = np.uint64(0x7FFF) + ((u >> np.uint64(16)) & np.uint64(1))
        words = ((u + rounding) >> np.uint64(16)) & np.uint64(0xFFFF)
    else:
        f = fixed8_frac_bits(w) if frac_bits is None else frac_bits
        check_int("frac_bits", f, -8, 24)
        q = np.clip(np.rint(w.astype(np.float64) * 2.0 ** f), -128, 127).astype(np.int64)
        words = (q & 0xFF).astype(np.uint64)
        meta["frac_bits"] = f
    return words, meta


def decode(words: np.ndarray, meta: dict, *, nonfinite: str = "zero") -> np.ndarray:
    """Words -> float64 weights. ``nonfinite="zero"`` maps decoded NaN/Inf to 0 ("keep" keeps them)."""
    check_choice("nonfinite", nonfinite, ("zero", "keep"))
    enc = get_encoding(meta["encoding"])
    words = np.asarray(words, dtype=np.uint64)
    if enc.name in ("float32", "float16", "bfloat16"):
        with np.errstate(invalid="ignore"):  # signalling-NaN patterns are legitimate read-backs
            if enc.name == "float32":
                w = words.astype(np.uint32).view(np.float32).astype(np.float64)
            elif enc.name == "float16":
                w = words.astype(np.uint16).view(np.float16).astype(np.float64)
            else:
                w = (words << np.uint64(16)).astype(np.uint32).view(np.float32).astype(np.float64)
    else:
        q = words.astype(np.int64)
        q = np.where(q >= 128, q - 256, q)
        return q.astype(np.float64) * 2.0 ** (-meta["frac_bits"])
    if nonfinite == "zero":
        w = np.where(np.isfinite(w), w, 0.0)
    return w


def quantize(w: np.ndarray, encoding: str) -> np.ndarray:
    """What the format can represent: ``decode(encode(w))`` (float64)."""
    words, meta = encode(w, encoding)
    return decode(words, meta, nonfinite="keep")


# --------------------------------------------------------------------------------------------------
# Bits <-> cells
# --------------------------------------------------------------------------------------------------
def gray(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    return v ^ (v >> 1)


def gray_inverse(g: np.ndarray) -> np.ndarray:
    g = np.asarray(g, dtype=np.int64)
    v = g.copy()
    shift = g >> 1
    while np.any(shift):
        v ^= shift
        shift = shift >> 1
    return v


def n_cells(width: int, bits_per_cell: int) -> int:
    return -(-width // bits_per_cell)


def words_to_cells(words: np.ndarray, width: int, bits_per_cell: int, level_code: str = "binary") -> np.ndarray:
    """Words (shape S) -> cell states (shape S + (n_cells,)), cell 0 = most significant bits."""
    check_int("bits_per_cell", bits_per_cell, 1, 4)
    check_choice("level_code", level_code, LEVEL_CODES)
    n = n_cells(width, bits_per_cell)
    pad = n * bits_per_cell - width
    padded = np.asarray(words, dtype=np.uint64) << np.uint64(pad)
    shifts = np.array([(n - 1 - j) * bits_per_cell for j in range(n)], dtype=np.uint64)
    vals = ((padded[..., None] >> shifts) & np.uint64((1 << bits_per_cell) - 1)).astype(np.int64)
    return gray_inverse(vals) if level_code == "gray" else vals


def cells_to_words(cells: np.ndarray, width: int, bits_per_cell: int, level_code: str = "binary") -> np.ndarray:
    """Inverse of :func:`words_to_cells` (padding bits are dropped)."""
    check_choice("level_code", level_code, LEVEL_CODES)
    cells = np.asarray(cells, dtype=np.int64)
    vals = gray(cells) if level_code == "gray" else cells
    n = cells.shape[-1]
    if n != n_cells(width, bits_per_cell):
        raise ConfigError(f"cells has {n} cells per word: {width} bits at {bits_per_cell} bits per cell need "
                          f"{n_cells(width, bits_per_cell)}")
    pad = n * bits_per_cell - width
    shifts = np.array([(n - 1 - j) * bits_per_cell for j in range(n)], dtype=np.uint64)
    acc = np.bitwise_or.reduce(vals.astype(np.uint64) << shifts, axis=-1)
    return acc >> np.uint64(pad)


def bits_of(words: np.ndarray, width: int) -> np.ndarray:
    """Words -> bit array (shape S + (width,)), index b = bit position b (LSB = 0)."""
    return ((np.asarray(words, dtype=np.uint64)[..., None] >> np.arange(width, dtype=np.uint64))
            & np.uint64(1)).astype(np.uint8)


def flip_bits(words: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """XOR words with a mask of flipped bit positions."""
    return np.asarray(words, dtype=np.uint64) ^ np.asarray(mask, dtype=np.uint64)
