"""The MVM read path's exact arithmetic: forward and transposed array reads, ADC, digital accumulation.

This module is the golden reference of the read engine (issue 12). Every function is pure and
vectorised over leading batch axes; every value that decides an ADC code or an output code is an
integer, or a float64 formed only by exactly rounded operations (``+ - * /`` and ``sqrt``, IEEE 754),
so the results do not depend on the machine, the numpy build or the BLAS:

* Sums over lines are float64 matrix products of *integer-valued* matrices (0/1 drive patterns times
  conductance codes or their squares). Every partial sum is an integer below 2**53 (at most
  ``4096 * 65535**2 < 2**44`` for the squares), hence exact whatever order the BLAS adds in.
* The ADC, the shift-and-add over input bits, the sum over the devices of a synapse, G+ - G-, the
  reference offset and the output scaling are int64 arithmetic.
* Read noise: ``n = rint(sigma * z)`` (round half to even) with ``sigma = sqrt(read_mult**2 * Q +
  m * read_add**2)`` computed in that fixed order from exactly rounded operations, and ``z`` from
  :func:`normal_exact` (integers and one exactly rounded multiply).

Conductance codes
-----------------
``g = clamp(floor(G / g_lsb), 0, 2**g_bits - 1)`` with ``g_lsb = device.g_max / 2**g_bits`` uS
(:func:`g_codes`). A layer array of R synapse rows x C synapse columns with D slots per synapse is a
code matrix ``g[r, p]`` of R x (C*D) physical columns, ``p = c*D + d`` (slots ``d < N`` the G+ group
of a differential synapse, ``N <= d < 2N`` the G- group; :mod:`golden.spec.params`).

Forward read (word lines driven, bit lines sensed), input ``u[r]`` unsigned ``input_width`` bits
-------------------------------------------------------------------------------------------------
For each input bit ``k`` (LSB first) the rows with bit ``k`` of ``u[r]`` set are driven at once::

    I[p, k]    = sum over driven r of g[r, p] + n[p, k]
    code[p, k] = min(max(floor(I[p, k] * 2**A / FS), 0), 2**A - 1)             (adc)
    acc[p]     = sum_k 2**k * code[p, k]
    S[c]       = sum_{d<N} acc[c*D+d] - (sum_{N<=d<2N} acc[c*D+d]  if differential  else  N * ref_acc)
    ref_acc    = sum_k 2**k * ref_code[k],   ref_code[k] = min(floor(ones[k] * g_ref * 2**A / FS), 2**A - 1)
    y[c]       = saturate(floor((S[c] * scale_mult + 2**(scale_shift-1)) / 2**scale_shift), out_width)

``ones[k]`` is the number of rows with bit ``k`` set; ``g_ref`` the layer's integer reference code
(the symmetry-point conductance's code; unused when differential).

Transposed read (bit lines driven, word lines sensed), input ``e[c]`` signed ``input_width`` bits
-------------------------------------------------------------------------------------------------
For each bit ``k`` of the two's-complement code, the physical columns of the synapses with that bit
set are driven: non-differential all D slot columns at once (one read, group 0); differential the
G+ slot columns (group 0) and, in a second read, the G- slot columns (group 1). Each word line is
converted by an ADC with full scale ``FS_t`` (:attr:`MvmParams.fs_t`)::

    I[r, k, grp] = sum over driven p of g[r, p] + n[r, k, grp];   code as above
    w_k          = 2**k (k < b_in - 1),  -2**(b_in - 1) (the sign bit)
    acc[r]       = sum_k w_k * (code[r, k, 0] - code[r, k, 1])                 (differential)
    acc[r]       = sum_k w_k * (code[r, k, 0] - ref_code_t[k])                 (non-differential)
    ref_code_t[k] = min(floor(N * ones[k] * g_ref * 2**A / FS_t), 2**A - 1)
    y[r]         = the scaling above with t_scale_mult / t_scale_shift

``mvm.cols_per_adc`` sets the order and number of conversions (the RTL's latency), not the codes:
each line's conversion depends only on its own current.

Read noise (counter-based)
--------------------------
``n = rint(sigma * z)``, ``sigma = sqrt(read_mult**2 * Q + m * (read_add / g_lsb)**2)`` where ``Q`` is
the sum of ``g**2`` over the driven devices of the sensed line and ``m`` their number (output-referred
noise with the first two moments of independent per-device read noise of std ``sqrt((read_mult *
G)**2 + read_add**2)``), ``z = normal_exact(seed, STREAM_MVM, line_id, read_index)`` with
``line_id = array_id * 2**24 + transposed * 2**23 + line`` (:func:`line_id`) and ``read_index =
((t * 4 + pass) * 8 + k) * 2 + group`` (:func:`read_index`; ``t`` the sample index, ``pass`` 0
forward, 1 transposed): the order of reads never matters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from golden.spec import rng
from golden.spec.mvm_params import MvmParams

#: :func:`normal_exact` (Irwin-Hall of the four 16-bit fields of ``rng.hash64``) lives with the other
#: counter-based draws in :mod:`golden.spec.rng`; re-exported here as part of the read path's API
normal_exact = rng.normal_exact
Z_SCALE = rng.Z_SCALE
Z_MEAN = rng.Z_MEAN

PASS_FORWARD = 0
PASS_TRANSPOSED = 1


# --- conductance codes ---------------------------------------------------------------------------
def g_codes(G, params: MvmParams, g_max: float) -> np.ndarray:
    """Conductance codes ``clamp(floor(G / g_lsb), 0, 2**g_bits - 1)`` (int64) of conductances ``G`` (uS).

    ``g_lsb = g_max / 2**g_bits`` (``g_max`` the device's nominal window top); the division and the
    floor are exactly rounded, so the codes are machine independent.
    """
    q = np.floor(np.asarray(G, dtype=np.float64) / params.g_lsb(g_max))
    return np.clip(q, 0, params.g_code_max).astype(np.int64)


# --- ADC and reference codes ---------------------------------------------------------------------
def adc(I, params: MvmParams, full_scale: int | None = None) -> np.ndarray:
    """ADC codes ``min(max(floor(I * 2**A / FS), 0), 2**A - 1)`` of integer line currents ``I`` (int64).

    ``full_scale`` None: ``params.adc_full_scale`` (forward reads).
    """
    fs = params.adc_full_scale if full_scale is None else int(full_scale)
    i = np.asarray(I, dtype=np.int64)
    return np.minimum(np.maximum((i << params.adc_width) // fs, 0), params.code_max)


def ref_codes(ones, g_ref: int, params: MvmParams, full_scale: int | None = None, devices: int = 1
              ) -> np.ndarray:
    """Reference ADC codes ``min(floor(devices * ones * g_ref * 2**A / FS), 2**A - 1)`` (int64).

    Forward: ``devices = 1``, FS the forward full scale; transposed: ``devices = N`` and ``FS_t``.
    ``ones`` is the number of driven lines per bit (int array).
    """
    fs = params.adc_full_scale if full_scale is None else int(full_scale)
    o = np.asarray(ones, dtype=np.int64) * (int(devices) * int(g_ref))
    return np.minimum((o << params.adc_width) // fs, params.code_max)


# --- exact normal draws and read noise -----------------------------------------------------------
@dataclass(frozen=True)
class ReadNoise:
    """Read-noise configuration of one array's reads.

    Attributes
    ----------
    seed : int
        Chip seed.
    read_mult : float
        Relative read-noise std of one device (``device.read_mult``).
    read_add : float
        Additive read-noise std of one device in conductance-code units (``device.read_add / g_lsb``).
    array_id : int, 0..2**39
        Distinguishes the arrays of a chip in the line ids.
    """

    seed: int
    read_mult: float
    read_add: float
    array_id: int = 0

    @classmethod
    def of_device(cls, device, params: MvmParams, seed: int, array_id: int = 0) -> ReadNoise | None:
        """From :class:`golden.physics.device.DeviceParams` (None if the device has no read noise)."""
        if device.read_mult == 0.0 and device.read_add == 0.0:
            return None
        return cls(int(seed), float(device.read_mult), float(device.read_add) / params.g_lsb(device.g_max),
                   int(array_id))


def line_id(array_id: int, transposed: bool, line) -> np.ndarray:
    """Global id of a sensed line: ``array_id * 2**24 + transposed * 2**23 + line`` (uint64)."""
    return np.uint64((int(array_id) << 24) | (int(bool(transposed)) << 23)) + np.asarray(line, dtype=np.uint64)


@lru_cache(maxsize=64)
def _line_hashes(seed: int, array_id: int, transposed: bool, n: int) -> np.ndarray:
    """``rng.line_hash`` of the first ``n`` lines (the per-line half of the noise hash, cached)."""
    h = rng.line_hash(seed, rng.STREAM_MVM, line_id(array_id, transposed, np.arange(n)))
    h.setflags(write=False)
    return h


def line_normals(noise: ReadNoise, transposed: bool, n: int, counter) -> np.ndarray:
    """``normal_exact(seed, STREAM_MVM, line_id(array_id, transposed, 0..n-1), counter)``; ``counter``
    broadcasts against the line axis (last)."""
    return rng.normal_exact_parts(_line_hashes(noise.seed, noise.array_id, bool(transposed), n), counter)


def read_index(t, pass_: int, k, group=0) -> np.ndarray:
    """Read counter of bit ``k`` (0..7), group ``group`` (0/1), pass ``pass_`` (0..3) of sample ``t``."""
    t = np.asarray(t, dtype=np.uint64)
    return ((t * np.uint64(4) + np.uint64(pass_)) * np.uint64(8) + np.asarray(k, dtype=np.uint64)) \
        * np.uint64(2) + np.asarray(group, dtype=np.uint64)


def read_noise(Q, m, z, read_mult: float, read_add: float) -> np.ndarray:
    """Integer read noise ``rint(sqrt(read_mult**2 * Q + m * read_add**2) * z)`` (int64, ties to even).

    ``Q`` sum of squared codes over the driven devices, ``m`` their number, ``z`` the draws
    (:func:`normal_exact`), ``read_add`` in code units; all broadcast. Evaluated in exactly this
    order of exactly rounded float64 operations.
    """
    a = float(read_mult) * float(read_mult)
    b = float(read_add) * float(read_add)
    var = np.asarray(Q, dtype=np.float64) * a + np.asarray(m, dtype=np.float64) * b
    return np.rint(np.sqrt(var) * z).astype(np.int64)


# --- scaling -------------------------------------------------------------------------------------
def scale_out(S, mult: int, shift: int, out_width: int) -> np.ndarray:
    """``saturate(floor((S * mult + 2**(shift-1)) / 2**shift), out_width)`` (int64; round half up)."""
    v = np.asarray(S, dtype=np.int64) * int(mult)
    if shift:
        v = (v + (1 << (shift - 1))) >> shift
    hi = (1 << (out_width - 1)) - 1
    return np.minimum(np.maximum(v, -hi - 1), hi)


def scale_factor(ratio, mult_max: int = 1 << 16, shift_max: int = 48) -> tuple[int, int]:
    """``(mult, shift)`` with ``mult / 2**shift`` closest to ``ratio`` (> 0) and ``1 <= mult <= mult_max``.

    The largest ``shift <= shift_max`` whose rounded ``mult`` still fits is taken (the finest
    representation); ``ratio`` (a float or Fraction) is converted exactly, the rounding is half up
    on the exact rational, so the result is machine independent.
    """
    r = Fraction(ratio)
    if r <= 0:
        raise ValueError(f"scaling ratio must be positive, got {ratio}")
    for shift in range(shift_max, -1, -1):
        mult = math.floor(r * (1 << shift) + Fraction(1, 2))
        if mult <= mult_max:
            return max(1, mult), shift
    raise ValueError(f"scaling ratio {float(r)} exceeds {mult_max} (no shift makes it fit)")


# --- the reads ------------------------------------------------------------------------------------
class ReadResult(NamedTuple):
    """Outcome of one (batched) read.

    ``codes`` the ADC codes: forward ``(..., b_in, P)``, transposed ``(..., b_in, groups, R)``;
    ``ref`` the reference codes ``(..., b_in)`` (zeros when differential); ``acc`` the shift-and-add
    sums (forward per physical column, transposed per word line); ``s`` the per-synapse sums
    (forward ``(..., C)``; transposed: ``acc``); ``y`` the scaled output codes.
    """

    codes: np.ndarray
    ref: np.ndarray
    acc: np.ndarray
    s: np.ndarray
    y: np.ndarray


def _bits(v: np.ndarray, width: int) -> np.ndarray:
    """``(..., width, n)`` float64 0/1 of bit k of ``v[..., n]`` (two's complement for negatives)."""
    k = np.arange(width, dtype=np.int64)
    return ((v[..., None, :] >> k[:, None]) & 1).astype(np.float64)


def _as_matrix(g) -> np.ndarray:
    g = np.asarray(g)
    if g.ndim != 2:
        raise ValueError(f"conductance codes must be a 2-d (rows x physical columns) array, got shape {g.shape}")
    return g.astype(np.float64)


def forward_read(g, u, params: MvmParams, *, devices: int, differential: bool = False, g_ref: int = 0,
                 noise: ReadNoise | None = None, t=0, g2=None) -> ReadResult:
    """Forward read of input codes ``u`` (``(..., R)`` unsigned ``input_width`` bits) through ``g``.

    Parameters
    ----------
    g : int array (R, C*D)
        Conductance codes (:func:`g_codes`), physical column ``c*D + d``.
    u : int array (..., R)
        Input codes; rows of code 0 may be left out (pass the matching rows of ``g``).
    params : MvmParams
        Formats; ``adc_full_scale``, ``scale_mult``, ``scale_shift`` of this pass.
    devices, differential, g_ref
        N devices per synapse (per group), differential synapses, the reference code.
    noise : ReadNoise or None
        Read noise (None: noise-free reads).
    t : int or int array broadcasting against ``u``'s batch axes
        Sample index (the read counter of the noise draws).
    g2 : float64 array (R, C*D), optional
        ``g**2`` precomputed (the noise needs it).

    Returns a :class:`ReadResult`; see the module docstring for the arithmetic.
    """
    gm = _as_matrix(g)
    D = devices * (2 if differential else 1)
    R, P = gm.shape
    if P % D:
        raise ValueError(f"{P} physical columns is not a multiple of D = {D}")
    u = np.asarray(u, dtype=np.int64)
    if u.shape[-1] != R:
        raise ValueError(f"input has {u.shape[-1]} codes for {R} rows")
    b = params.input_width
    if u.size and (u.min() < 0 or u.max() >= 1 << b):
        raise ValueError(f"forward input codes must be in [0, {(1 << b) - 1}] (mvm.input_width = {b})")
    bits = _bits(u, b)                                          # (..., b, R)
    cur = (bits @ gm).astype(np.int64)                           # exact: integer sums < 2**53
    ones = bits.sum(axis=-1).astype(np.int64)                    # (..., b)
    if noise is not None:
        q = bits @ (gm * gm if g2 is None else g2)
        ridx = read_index(np.asarray(t)[..., None, None], PASS_FORWARD, np.arange(b)[:, None], 0)
        z = line_normals(noise, False, P, ridx)
        cur = cur + read_noise(q, ones[..., None], z, noise.read_mult, noise.read_add)
    codes = adc(cur, params)
    w = np.int64(1) << np.arange(b, dtype=np.int64)
    acc = np.einsum("...kp,k->...p", codes, w)
    C = P // D
    a3 = acc.reshape(acc.shape[:-1] + (C, D))
    N = devices
    if differential:
        ref = np.zeros_like(ones)
        s = a3[..., :N].sum(axis=-1) - a3[..., N:].sum(axis=-1)
    else:
        ref = ref_codes(ones, g_ref, params)
        ref_acc = ref @ w
        s = a3.sum(axis=-1) - N * ref_acc[..., None]
    y = scale_out(s, params.scale_mult, params.scale_shift, params.out_width)
    return ReadResult(codes, ref, acc, s, y)


def transposed_read(g, e, params: MvmParams, *, devices: int, differential: bool = False, g_ref: int = 0,
                    noise: ReadNoise | None = None, t=0, g2=None) -> ReadResult:
    """Transposed read of signed codes ``e`` (``(..., C)``, ``input_width``-bit two's complement).

    Same parameters as :func:`forward_read` (``params.fs_t``, ``t_scale_mult``, ``t_scale_shift`` of
    this pass); ``codes`` is ``(..., b_in, groups, R)`` with groups 1 (non-differential) or 2 (G+, G-).
    """
    gm = _as_matrix(g)
    N = devices
    D = N * (2 if differential else 1)
    R, P = gm.shape
    if P % D:
        raise ValueError(f"{P} physical columns is not a multiple of D = {D}")
    C = P // D
    e = np.asarray(e, dtype=np.int64)
    if e.shape[-1] != C:
        raise ValueError(f"input has {e.shape[-1]} codes for {C} synapse columns")
    b = params.input_width
    lo, hi = -(1 << (b - 1)), (1 << (b - 1)) - 1
    if e.size and (e.min() < lo or e.max() > hi):
        raise ValueError(f"transposed input codes must be in [{lo}, {hi}] (mvm.input_width = {b})")
    bits = _bits(e & ((1 << b) - 1), b)                           # (..., b, C)
    ones = bits.sum(axis=-1).astype(np.int64)
    groups = 2 if differential else 1
    slot_groups = [np.arange(N), np.arange(N, 2 * N)] if differential else [np.arange(D)]
    fs = params.fs_t
    codes = []
    g2m = None
    for grp, slots in enumerate(slot_groups):
        mask = np.zeros(D)
        mask[slots] = 1.0
        drive = (bits[..., :, :, None] * mask).reshape(bits.shape[:-1] + (P,))   # (..., b, P)
        cur = (drive @ gm.T).astype(np.int64)                                     # (..., b, R)
        if noise is not None:
            if g2m is None:
                g2m = (gm * gm if g2 is None else g2).T
            q = drive @ g2m
            ridx = read_index(np.asarray(t)[..., None, None], PASS_TRANSPOSED, np.arange(b)[:, None], grp)
            z = line_normals(noise, True, R, ridx)
            cur = cur + read_noise(q, (len(slots) * ones)[..., None], z, noise.read_mult, noise.read_add)
        codes.append(adc(cur, params, fs))
    codes = np.stack(codes, axis=-2)                                              # (..., b, groups, R)
    w = np.int64(1) << np.arange(b, dtype=np.int64)
    w[-1] = -w[-1]
    if differential:
        ref = np.zeros_like(ones)
        diff = codes[..., 0, :] - codes[..., 1, :]
    else:
        ref = ref_codes(ones, g_ref, params, fs, devices=N)
        diff = codes[..., 0, :] - ref[..., None]
    acc = np.einsum("...kr,k->...r", diff, w)
    y = scale_out(acc, params.t_scale_mult, params.t_scale_shift, params.out_width)
    assert codes.shape[-2] == groups
    return ReadResult(codes, ref, acc, acc, y)
