"""Golden twin of the OuterProductEngine: dW = outer(x, delta) formed on chip, chi in P lanes.

The host no longer sends one dw per synapse. Per training sample and layer it streams one **frame**:
the layer's error vector ``delta`` (already scaled by ``-lr`` into dw LSBs) and its input vector
``x``, both as fixed-point codes (:class:`golden.spec.params.EngineParams`). The engine forms every
update itself and runs it through the mixed-precision accumulator rule of
:func:`golden.twins.update_unit.update_rule`.

Host side (float -> codes; the only floating-point step, done once per vector element)
---------------------------------------------------------------------------------------
* :func:`quantize_x`: ``x_q = min(rint(x * 2**x_frac), 2**x_width - 1)`` in float32 (x >= 0: layer
  inputs are pixels or ReLU outputs; a negative x is an error).
* :func:`quantize_delta`: ``d_q = clip(rint(d * 2**delta_frac), -2**(delta_width-1), 2**(delta_width-1)-1)``
  in float32, where ``d = -lr * delta / lsb`` is the error in dw LSBs.
  Rounding is to nearest, ties to even (numpy ``rint``). Both saturations are part of the format
  (counted by :func:`saturations`, reported by the training code), not silent range errors.

On chip (exact integer arithmetic; :mod:`hw.outer_product_engine` is bit-true to it)
------------------------------------------------------------------------------------
For every synapse ``(j, i)`` with ``x_q[j] != 0``::

    dw = saturate(floor((x_q[j] * d_q[i] + 2**(s-1)) / 2**s), update.dw_width)   s = x_frac + delta_frac
    if dw != 0:  chi[j, i], count = update_rule(chi[j, i], dw)                   (no request: no change)
    if count != 0: emit PulseCount(j, i, count)

Rows with ``x_q[j] == 0`` are skipped (most MNIST pixels are 0); a zero ``dw`` changes nothing, as
when the host sent no UpdateRequest for it. **Pulse order**: row-major, ``j`` ascending, then ``i``
ascending -- the order of the per-synapse UPDATE path, whatever the number of lanes P (lane ``k`` of
column group ``g`` holds column ``g * P + k``; groups go in order and a group's lanes are merged in
lane order). One frame is one update cycle of the ArbitrationController.

Frame format (AXI4-Stream, 32-bit words, ``tlast`` on the last word)
--------------------------------------------------------------------
``ceil(cols / delta_per_word)`` delta words, then ``ceil(rows / x_per_word)`` x words; codes are
packed from bit 0 (element ``n`` of a word at bits ``[n * width, (n + 1) * width)``, deltas in two's
complement), the unused high bits and the padding codes of the last word of each part are 0
(:func:`frame_words`). A frame with any other length (``tlast`` early or late) is dropped whole: no
chi changes, no pulse (the RTL's sticky error flag).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.spec.checks import ConfigError
from golden.spec.params import AccelParams
from golden.spec.transactions import PulseCount
from golden.twins.update_unit import update_rule

WORD_BITS = 32


# --- host side: float -> codes -----------------------------------------------------------------
def quantize_x(x: np.ndarray, params: AccelParams) -> np.ndarray:
    """Layer input (float, >= 0) -> unsigned ``x_width``-bit codes (int64), see the module docstring."""
    e = params.engine
    x = np.asarray(x, dtype=np.float32)
    if x.size and float(x.min()) < 0:
        raise ValueError(f"layer input x has a negative value {float(x.min())}: x codes are unsigned")
    q = np.rint(x * np.float32(1 << e.x_frac))
    return np.minimum(q, np.float32((1 << e.x_width) - 1)).astype(np.int64)


def quantize_delta(d: np.ndarray, params: AccelParams) -> np.ndarray:
    """Error in dw LSBs (float) -> signed ``delta_width``-bit codes (int64), see the module docstring."""
    e = params.engine
    lo, hi = -(1 << (e.delta_width - 1)), (1 << (e.delta_width - 1)) - 1
    q = np.rint(np.asarray(d, dtype=np.float32) * np.float32(1 << e.delta_frac))
    return np.clip(q, lo, hi).astype(np.int64)


def saturations(x: np.ndarray, d: np.ndarray, params: AccelParams) -> tuple[int, int]:
    """How many elements of ``x`` and ``d`` :func:`quantize_x` / :func:`quantize_delta` saturate."""
    e = params.engine
    xs = np.asarray(x, dtype=np.float32) * np.float32(1 << e.x_frac)
    ds = np.asarray(d, dtype=np.float32) * np.float32(1 << e.delta_frac)
    hi_d = (1 << (e.delta_width - 1)) - 1
    return (int(np.count_nonzero(np.rint(xs) > (1 << e.x_width) - 1)),
            int(np.count_nonzero((np.rint(ds) > hi_d) | (np.rint(ds) < -hi_d - 1))))


# --- on chip: exact integer arithmetic -----------------------------------------------------------
def product_dw(x_q, d_q, params: AccelParams):
    """``dw`` of codes ``x_q`` and ``d_q`` (ints or int64 arrays, broadcast), see the module docstring."""
    s, u = params.engine.shift, params.update
    p = np.asarray(x_q, dtype=np.int64) * np.asarray(d_q, dtype=np.int64)
    if s:
        p = (p + (1 << (s - 1))) >> s            # arithmetic shift: floor division by 2**s
    lo, hi = -(1 << (u.dw_width - 1)), (1 << (u.dw_width - 1)) - 1
    out = np.clip(p, lo, hi)
    return int(out) if out.ndim == 0 else out


def outer_dw(x_q: np.ndarray, d_q: np.ndarray, params: AccelParams) -> np.ndarray:
    """The frame's whole update matrix ``dw[j, i]`` (int64, ``len(x_q) x len(d_q)``)."""
    return product_dw(np.asarray(x_q, dtype=np.int64)[:, None], np.asarray(d_q, dtype=np.int64)[None, :],
                      params)


# --- frames ------------------------------------------------------------------------------------
def frame_length(params: AccelParams) -> int:
    """Words of one frame: ``ceil(cols / delta_per_word) + ceil(rows / x_per_word)``."""
    e = params.engine
    return -(-params.array.cols // e.delta_per_word) + -(-params.array.rows // e.x_per_word)


def _check_codes(name: str, codes: np.ndarray, n: int, lo: int, hi: int, what: str, fmt: str) -> np.ndarray:
    """``codes`` padded with 0 to ``n``; more than ``n`` codes (``what`` names the bound) or a code out of
    ``[lo, hi]`` (``fmt`` names the format field) is a :class:`ConfigError`."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim != 1 or len(codes) > n:
        raise ConfigError(f"{name} has {codes.size} elements: allowed at most {what} = {n}")
    if codes.size and (codes.min() < lo or codes.max() > hi):
        bad = codes[(codes < lo) | (codes > hi)][0]
        raise ConfigError(f"{name} code {bad} is out of range: allowed [{lo}, {hi}] ({fmt})")
    return np.concatenate([codes, np.zeros(n - len(codes), dtype=np.int64)])


def _check_frame(x_q: np.ndarray, d_q: np.ndarray, params: AccelParams) -> tuple[np.ndarray, np.ndarray]:
    """Both vectors of a frame checked and padded to the array (``(x, delta)``)."""
    e, a = params.engine, params.array
    x = _check_codes("x", x_q, a.rows, 0, (1 << e.x_width) - 1, "array.rows",
                     f"engine.x_width = {e.x_width}, unsigned")
    d = _check_codes("delta", d_q, a.cols, -(1 << (e.delta_width - 1)), (1 << (e.delta_width - 1)) - 1,
                     "array.cols", f"engine.delta_width = {e.delta_width}, signed")
    return x, d


def _pack(codes: np.ndarray, width: int) -> list[int]:
    per = WORD_BITS // width
    mask = (1 << width) - 1
    words = []
    for k in range(0, len(codes), per):
        w = 0
        for n, c in enumerate(codes[k:k + per]):
            w |= (int(c) & mask) << (n * width)
        words.append(w)
    return words


def _unpack(words: list[int], width: int, n: int, signed: bool) -> np.ndarray:
    per = WORD_BITS // width
    mask = (1 << width) - 1
    out = []
    for w in words:
        for k in range(per):
            c = (w >> (k * width)) & mask
            out.append(c - (1 << width) if signed and c >> (width - 1) else c)
    return np.array(out[:n], dtype=np.int64)


def frame_words(x_q: np.ndarray, d_q: np.ndarray, params: AccelParams) -> list[int]:
    """The stream words of one frame (deltas, then x). Vectors shorter than the array are padded
    with 0 (rows / columns the layer does not use); longer ones or codes out of range are errors."""
    e = params.engine
    x, d = _check_frame(x_q, d_q, params)
    return _pack(d, e.delta_width) + _pack(x, e.x_width)


def parse_frame(words: list[int], params: AccelParams) -> tuple[np.ndarray, np.ndarray] | None:
    """``(x_q, d_q)`` of a frame, or None if its length is not :func:`frame_length` (dropped)."""
    if len(words) != frame_length(params):
        return None
    e, a = params.engine, params.array
    nd = -(-a.cols // e.delta_per_word)
    return (_unpack(words[nd:], e.x_width, a.rows, signed=False),
            _unpack(words[:nd], e.delta_width, a.cols, signed=True))


# --- transaction-level twin ----------------------------------------------------------------------
@dataclass(frozen=True)
class FrameResult:
    """What one frame did: its pulse counts in emission order, and whether it was dropped."""

    counts: list[PulseCount]
    dropped: bool = False


class OuterProductEngine:
    """Transaction-level twin: the chi memory of ``rows x cols`` synapses, :meth:`frame` and :meth:`update`.

    Parameters
    ----------
    params : AccelParams
        ``array``, ``update`` and ``engine`` sections.
    """

    def __init__(self, params: AccelParams):
        self.params = params
        self.chi = np.zeros((params.array.rows, params.array.cols), dtype=np.int64)

    def frame(self, x_q: np.ndarray, d_q: np.ndarray) -> list[PulseCount]:
        """One update cycle from codes: update every synapse of a non-zero row, in pulse order."""
        x, d = _check_frame(x_q, d_q, self.params)
        out = []
        for j in np.flatnonzero(x):
            dws = product_dw(int(x[j]), d, self.params)
            for i in np.flatnonzero(dws):
                pc = self.update(int(j), int(i), int(dws[i]))
                if pc is not None:
                    out.append(pc)
        return out

    def frame_from_words(self, words: list[int]) -> FrameResult:
        """:meth:`frame` of a stream frame; a frame of the wrong length is dropped (no change)."""
        parsed = parse_frame(words, self.params)
        if parsed is None:
            return FrameResult([], dropped=True)
        return FrameResult(self.frame(*parsed))

    def update(self, row: int, col: int, dw: int) -> PulseCount | None:
        """One synapse (the per-synapse UPDATE path): the accumulator rule; the PulseCount or None."""
        chi, count = update_rule(int(self.chi[row, col]), dw, self.params)
        self.chi[row, col] = chi
        return PulseCount(row, col, count) if count else None

    def clear(self) -> None:
        self.chi[:] = 0
