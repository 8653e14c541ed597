"""The outer-product engine's arithmetic, vectorised for the training loop (codes, dW, saturations).

:class:`UpdateCodes` forms, for one layer and one training sample, exactly the values of
:mod:`golden.twins.outer_product_engine`:

* x codes ``x_q = quantize_x(a)`` and delta codes ``d_q = quantize_delta(delta * float32(-lr / lsb))``
  (host side; float32 ``rint``, ties to even, then saturation to the code range);
* ``dw = outer_dw(x_q, d_q)`` (on chip; exact integers, round half up, saturation to ``update.dw_width``),
  for the rows with ``x_q != 0`` only (the engine skips the others); rows whose products all round
  to 0 are left out too (:meth:`UpdateCodes.dw`): a zero dw changes nothing, so the transactions are
  the same, only the work is less.

It does so with the fewest numpy passes the training loop can afford: the products are computed in
int32 whenever the widths make that exact (``(2**x_width - 1) * 2**(delta_width - 1) + 2**(s - 1) <
2**31``; int64 otherwise), and a saturation is looked for only when a bound from the vector maxima says
one is possible. tests/golden/training/test_update_codes.py checks it element by element against the
twin's functions. Saturations are counted (:attr:`UpdateCodes.counts`), they are part of the format
and the training reports them.
"""
from __future__ import annotations

import numpy as np

from golden.spec.params import AccelParams

#: names of :attr:`UpdateCodes.counts`: saturated x codes, x codes formed, saturated delta codes, delta
#: codes formed, saturated dw products, dw products formed (rows with x_q != 0 times columns)
COUNT_NAMES = ("x", "x_codes", "delta", "delta_codes", "dw", "dw_codes")
ONE = np.float32(1)
_EMPTY = np.empty(0, dtype=np.int64)


def _int_dtype(magnitude: int) -> type:
    """The narrower of int32 / int64 that holds every value of magnitude < ``magnitude``."""
    return np.int32 if magnitude <= 1 << 31 else np.int64


class UpdateCodes:
    """Engine arithmetic of one layer (``params.engine`` formats, ``params.update.dw_width``).

    Parameters
    ----------
    params : AccelParams
        The layer's parameters; ``engine`` gives the code formats, ``update.dw_width`` the dw range.
    out_dtype : numpy integer dtype
        Type of the returned ``dw`` (the accumulator's type of the caller, so that adding it does not
        promote); must hold ``update.dw_width`` bits.
    """

    def __init__(self, params: AccelParams, out_dtype=np.int64):
        e, u = params.engine, params.update
        self.x_scale = np.float32(1 << e.x_frac)
        self.x_max = (1 << e.x_width) - 1
        self.x_max32 = np.float32(self.x_max)
        self.d_scale = np.float32(1 << e.delta_frac)
        self.d_hi = (1 << (e.delta_width - 1)) - 1
        self.d_lo = -self.d_hi - 1
        self.shift = e.shift
        self.half = (1 << (e.shift - 1)) if e.shift else 0
        self.dw_hi = (1 << (u.dw_width - 1)) - 1
        self.dw_lo = -self.dw_hi - 1
        self.dtype = _int_dtype(self.x_max * (self.d_hi + 1) + self.half + 1)
        self.out_dtype = np.dtype(out_dtype)
        self.counts = [0] * len(COUNT_NAMES)

    # --- host side ------------------------------------------------------------------------------
    def x_codes(self, a: np.ndarray) -> np.ndarray:
        """``quantize_x(a)`` as float32 integers (a float32, >= 0); counts saturations."""
        if a.min(initial=0) < 0:
            raise ValueError(f"layer input a has a negative value {float(a.min())}: x codes are unsigned")
        q = a * self.x_scale
        np.rint(q, out=q)
        c = self.counts
        c[1] += q.size
        top = q.max(initial=0)
        if top > self.x_max32:
            c[0] += int(np.count_nonzero(q > self.x_max32))
            np.minimum(q, self.x_max32, out=q)
            top = self.x_max32
        self._x_top = int(top)                   # bound of the next product
        return q

    def delta_codes(self, d: np.ndarray, factor: np.float32 = ONE) -> np.ndarray:
        """``quantize_delta(d * factor)`` as float32 integers (d float32; ``d * factor`` in dw LSBs);
        counts saturations. ``(d * factor) * 2**delta_frac == d * (factor * 2**delta_frac)`` in float32
        (a power-of-two scaling is exact), so one multiplication does both."""
        q = d * (factor * self.d_scale)
        np.rint(q, out=q)
        c = self.counts
        c[3] += q.size
        hi, lo = q.max(initial=0), q.min(initial=0)
        if hi > self.d_hi or lo < self.d_lo:
            c[2] += int(np.count_nonzero((q > self.d_hi) | (q < self.d_lo)))
            np.clip(q, self.d_lo, self.d_hi, out=q)
            hi, lo = min(hi, self.d_hi), max(lo, self.d_lo)
        self._d_top = max(int(hi), -int(lo))      # bound of the next product
        return q

    # --- on chip --------------------------------------------------------------------------------
    def outer_dw(self, xq: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, int]:
        """``(outer_dw(xq, dq), bound on |dw|)`` for the codes (float32 integers) that :meth:`x_codes`
        and :meth:`delta_codes` returned last (their maxima bound the product; see the module docstring)."""
        p = xq.astype(self.dtype)[:, None] * dq.astype(self.dtype)
        bound = self._x_top * self._d_top
        if self.shift:
            p += self.half
            p >>= self.shift                         # arithmetic shift: floor division by 2**s
            bound = (bound + self.half) >> self.shift
        c = self.counts
        c[5] += p.size
        if bound > self.dw_hi:
            c[4] += int(np.count_nonzero((p > self.dw_hi) | (p < self.dw_lo)))
            np.clip(p, self.dw_lo, self.dw_hi, out=p)
            bound = self.dw_hi + 1
        return p.astype(self.out_dtype, copy=False), bound

    def dw(self, a: np.ndarray, d: np.ndarray, factor: np.float32 = ONE
           ) -> tuple[np.ndarray, np.ndarray, int]:
        """``(rows, dw, bound)``: ``outer_dw(quantize_x(a), quantize_delta(d * factor))`` on the
        positions ``rows`` of ``a`` that can have a non-zero dw, and a bound on ``|dw|``.

        ``rows`` holds every position whose x code is at least ``ceil(2**(s-1) / max|d_q|)``: below that
        ``|x_q * d_q| < 2**(s-1)`` rounds to 0 for every column, so such a row, like a row with
        ``x_q == 0``, changes nothing (late in training, with small errors, that is most rows). The
        ``dw_codes`` counter still counts every product the engine forms (all rows with ``x_q != 0``).
        """
        return self._rows_dw(self.x_codes(a), self.delta_codes(d, factor))

    def dw_codes(self, xq: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """:meth:`dw` for codes the chip formed itself (hardware-exact training): ``xq`` unsigned
        ``x_width``-bit and ``dq`` signed ``delta_width``-bit integer codes, used as they are (a code
        out of its range is a ValueError; nothing is quantised or saturated here)."""
        xq = np.asarray(xq, dtype=np.int64)
        dq = np.asarray(dq, dtype=np.int64)
        if xq.size and (xq.min() < 0 or xq.max() > self.x_max):
            raise ValueError(f"x codes must be in [0, {self.x_max}]")
        if dq.size and (dq.min() < self.d_lo or dq.max() > self.d_hi):
            raise ValueError(f"delta codes must be in [{self.d_lo}, {self.d_hi}]")
        c = self.counts
        c[1] += xq.size
        c[3] += dq.size
        self._x_top = int(xq.max(initial=0))
        self._d_top = max(int(dq.max(initial=0)), -int(dq.min(initial=0)))
        return self._rows_dw(xq, dq)

    def _rows_dw(self, xq: np.ndarray, dq: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """The tail of :meth:`dw`: the rows that can have a non-zero dw, their products, the bound."""
        low = -(-self.half // self._d_top) if self._d_top else self.x_max + 1   # smallest x with a dw
        if low <= 1:
            rows = np.flatnonzero(xq)
        else:
            self.counts[5] += int(np.count_nonzero(xq)) * dq.size
            rows = np.flatnonzero(xq >= low) if self._x_top >= low else _EMPTY
            self.counts[5] -= rows.size * dq.size            # outer_dw counts them again
        if rows.size < xq.size:
            xq = xq[rows]
        dw, bound = self.outer_dw(xq, dq)
        return rows, dw, bound

    def saturations(self) -> dict[str, int]:
        """The saturation counters by name (:data:`COUNT_NAMES`)."""
        return dict(zip(COUNT_NAMES, self.counts))
