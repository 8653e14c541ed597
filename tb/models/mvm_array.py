"""Behavioural array for the MVM read engine: line currents and ADC codes from golden's read path.

A thin adapter over :mod:`golden.mvm.read_path`: given the conductance codes ``g`` (R x C*D) and the
lines the engine drives in one read, each sensed line's current is Ohm and Kirchhoff with ideal wires
(``drive @ g``: the sum of the driven devices' codes), plus golden's counter-based read noise
(:func:`~golden.mvm.read_path.read_noise` of ``Q`` = sum of g**2 and ``m`` = driven devices, with
:func:`~golden.mvm.read_path.normal_exact` keyed by :func:`~golden.mvm.read_path.line_id` and
:func:`~golden.mvm.read_path.read_index`), through golden's :func:`~golden.mvm.read_path.adc` (forward:
``adc_full_scale``; transposed: ``fs_t``). Converter ``a`` of a pass sees lines ``a * K .. a * K + K - 1``
(K = ``cols_per_adc``) and outputs the code of line ``a * K + sel``.

The read index needs the sample, bit and group of a read, which the lines alone do not tell: the
model counts reads (:class:`MvmArrayPort`): the i-th read of a frame is bit ``i // groups``, group
``i % groups``, and a frame's reads end after ``passes`` of them (every committed frame makes all of
them), the sample index ``t`` then advancing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden.mvm.read_path import (
    PASS_FORWARD,
    PASS_TRANSPOSED,
    ReadNoise,
    adc,
    line_id,
    normal_exact,
    read_index,
    read_noise,
)
from golden.spec import rng
from golden.spec.mvm_params import MvmParams


class MvmArray:
    """Conductance codes of one layer array and its read-out.

    Parameters
    ----------
    g : int array (R, C*D)
        Conductance codes (:func:`golden.mvm.read_path.g_codes`).
    params : MvmParams
        ADC width and full scales.
    noise : ReadNoise or None
        Read noise (None: ideal reads).
    """

    def __init__(self, g, params: MvmParams, noise: ReadNoise | None = None):
        self.g = np.asarray(g, dtype=np.int64)
        self.gf = self.g.astype(np.float64)
        self.g2 = self.gf * self.gf
        self.params = params
        self.noise = noise

    def line_codes(self, transposed: bool, driven, t: int, k: int, grp: int) -> np.ndarray:
        """ADC codes of every sensed line (physical columns forward, rows transposed) for one read.

        ``driven``: 0/1 per driven line (R word lines forward, C*D bit lines transposed).
        """
        d = np.asarray(driven, dtype=np.float64)
        if transposed:
            cur, q = (self.gf @ d).astype(np.int64), self.g2 @ d
        else:
            cur, q = (d @ self.gf).astype(np.int64), d @ self.g2
        if self.noise is not None:
            n = self.noise
            lid = line_id(n.array_id, transposed, np.arange(len(cur)))
            ridx = read_index(t, PASS_TRANSPOSED if transposed else PASS_FORWARD, k, grp)
            z = normal_exact(n.seed, rng.STREAM_MVM, lid, ridx)
            cur = cur + read_noise(q, d.sum(), z, n.read_mult, n.read_add)
        return adc(cur, self.params, self.params.fs_t if transposed else None)


def converter_codes(line_codes: np.ndarray, sel: int, cols_per_adc: int, n_adc: int) -> list[int]:
    """The code each of ``n_adc`` converters outputs with ``sel``: line ``a * K + sel`` (0 past the
    last line)."""
    n = len(line_codes)
    return [int(line_codes[a * cols_per_adc + sel]) if a * cols_per_adc + sel < n else 0 for a in range(n_adc)]


def pack_codes(codes: list[int], width: int) -> int:
    """Converter codes packed into the engine's ``adc_code`` input (converter a at bits a*width)."""
    return sum(int(c) << (a * width) for a, c in enumerate(codes))


@dataclass
class ReadRecord:
    """One read as the array saw it: first cycle, mode, bit, group and the driven lines."""

    cycle: int
    transposed: bool
    k: int
    grp: int
    driven: tuple[int, ...]


@dataclass
class MvmArrayPort:
    """The array side of the engine's port, cycle by cycle (simulator-independent).

    Call :meth:`step` once per cycle with the engine's registered outputs of that cycle; it returns
    the ``adc_code`` to drive in the same cycle. Reads are counted as described in the module
    docstring; :attr:`reads` records them. ``auto_t`` (default) advances the sample index ``t`` after
    each frame's reads (one sample per frame, what the block tests do); with ``auto_t = False`` the
    testbench sets :attr:`t` itself, e.g. to the training sample of a forward and a transposed read
    of one array (golden's hardware-exact training reads both passes of a layer with one ``t``).
    """

    array: MvmArray
    input_width: int
    differential: bool
    cols_per_adc: int
    n_adc: int
    reads: list[ReadRecord] = field(default_factory=list)
    t: int = 0
    auto_t: bool = True
    i: int = 0
    _codes: np.ndarray | None = None
    _was_read: bool = False

    def step(self, cycle: int, read: bool, transposed: bool, wl: int, bl: int, sel: int) -> int:
        if read and not self._was_read:
            groups = 2 if transposed and self.differential else 1
            k, grp = divmod(self.i, groups)
            n = self.array.g.shape[1] if transposed else self.array.g.shape[0]
            v = bl if transposed else wl
            driven = tuple((v >> j) & 1 for j in range(n))
            self._codes = self.array.line_codes(transposed, driven, self.t, k, grp)
            self.reads.append(ReadRecord(cycle, transposed, k, grp, driven))
            self.i += 1
            if self.i == self.input_width * groups:
                self.i = 0
                if self.auto_t:
                    self.t += 1
        self._was_read = read
        if not read or self._codes is None:
            return 0
        return pack_codes(converter_codes(self._codes, sel, self.cols_per_adc, self.n_adc),
                          self.array.params.adc_width)
