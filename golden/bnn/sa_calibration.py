"""Measured SA offset calibration of the BNN neurons (bias-cell ramp, counted with the SA's own decisions).

The static SA offset of a neuron (``sa_offset``, 6 mV sigma = 8.7 delta units in a 1127-cell neuron)
is the largest error term of the physical model. It can be cancelled with the bias cells that
realise the threshold: ``k' = k - shift`` with ``shift = round(offset / 2 delta units)`` (one bias
cell is 2 delta units). ``HardwareConfig(sa_calibration="oracle")`` uses the true offset; this module
*measures* it the way the chip would, with nothing but the SA's noisy output bits.

Procedure (per hidden layer, every neuron of the layer in parallel: each column has its own SA and
bias cells, the input rows are shared)
------------------------------------------------------------------------------------------------
1. Program the weights as usual and **all B bias cells to 1** (calibration state).
2. Apply calibration input pattern ``x_p`` (``p < patterns``; fixed pseudo-random bits, the same for
   every chip, counter-based from ``(KIND_CAL_PATTERN, layer, p, input)``) to the input rows. The
   controller knows the weights, so it knows every neuron's ideal input popcount ``P_in`` and the
   ramp position of the ideal flip point ``c = N_tot/2 - P_in``.
3. **Ramp** the bias rows with a thermometer code: for ``r = 0 .. B`` drive bias rows ``j < r`` with 1
   and the others with 0 (a bias cell storing 1 outputs ``XNOR(drive, 1) = drive``), so the ideal
   ``delta = 2 (P_in + r) - N_tot`` rises by 2 per step; no device is rewritten during the ramp.
   At each step run ``repeats`` conversions; a per-neuron counter adds up the ones: ``S``.
4. Estimate the 50 % point with the Spearman-Kaerber (ramp-count) estimator
   ``r50 = B + 0.5 - S / repeats`` (exact for a noise-free step: it lands half-way between the last 0
   and the first 1). Each neuron uses the pattern whose ``c`` is nearest to ``B/2`` (its flip point
   is then best centred in the ramp); the other ramps ran anyway (all neurons convert together).
5. ``shift = rint(c - r50)`` (= the offset in bias-cell steps, positive when the SA fires too
   early), ``k' = clip(k - shift, 0, B)``; program bias cells ``j >= k'`` back to 0 (``B - k'``
   bridge writes per neuron; the ``k'`` cells storing 1 were written once in step 1).

What limits it: per-conversion SA noise (4 mV sigma at 10 ns = 5.8 delta units = 2.9 ramp steps):
the estimator's standard deviation is ``sqrt(sum_r p_r (1 - p_r) / repeats)`` ~ ``1.3 / sqrt(repeats)``
steps; quantisation of the trim to one bias cell (+-1 delta unit); the bias-cell budget (``k'`` must
stay in ``[0, B]``: ``at_limit`` neurons keep a partial trim); transitions that are not fully inside
the ramp (``unbracketed``: the estimator is then biased towards the inside). The measurement also
takes the calibration pattern's static bridge errors (one step each; 0.15 per 863-cell neuron at the
nominal bridge bit-error rate, but ~9 steps of spread at a 10 % rate, where a single-pattern
calibration hurts) and capacitor mismatch (a fraction of a delta unit) for offset. Not modelled: the cycle-to-cycle redraw of the bias cells' resistances when
they are rewritten in step 5 (bridge bit-error rate 1.8e-4: irrelevant here).

Cost per neuron (all neurons of a layer in parallel): ``patterns * (B + 1) * repeats`` conversions,
i.e. that many SA clock periods per layer; ``B - k'`` extra bridge writes.

Randomness: ``normal(seed, STREAM_BNN, (KIND_CAL_NOISE, layer, neuron), counter)`` with ``counter =
(p * (B + 1) + r) * repeats + m`` for conversion ``m`` of ramp step ``r`` of pattern ``p``: the
calibration is a pure function of the chip seed and the parameters, whatever order it is run in.

One conversion and the RTL
--------------------------
:class:`CalibrationState` is a layer in the calibration state (step 1);
:meth:`CalibrationState.conversion` gives the SA decisions of *one* conversion ``(input bits, bias
drive r, noise counter)``. :func:`calibrate_layer` draws the same decisions vectorised
(:func:`ramp_counts`; both go through :func:`cal_decisions`), and the cocotb analog macro of
``tb/envs/bnn_layer_engine_tb.py`` calls ``conversion`` for every conversion the RTL runs. The
:class:`hw.bnn_layer_engine.BnnLayerEngine` drives the ramp (``x`` payload ``cal = 1``, ``ramp = r``
-> ``bias_in`` thermometer code). The host side of the procedure is :func:`ramp_images` (the
conversions in counter order) and :func:`calibration_from_bits` (ones counted from the engine's
output bits -> shifts); both it and :func:`calibrate_layer` end in :func:`shifts_from_counts`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.bnn.noise_streams import KIND_CAL_NOISE, KIND_CAL_PATTERN, synapse_index
from golden.spec import rng
from golden.spec.checks import ConfigError, check_int

SA_CALIBRATIONS = ("none", "oracle", "measured")
MAX_REPEATS = 1024
MAX_PATTERNS = 64
DEFAULT_REPEATS = 8
DEFAULT_PATTERNS = 4
#: the calibration patterns are a design constant (the same on every chip)
PATTERN_SEED = 0x5CA1

_CHUNK = 16   # conversions drawn at once per ramp step (bounds the memory of large ``repeats``)


def check_calibration(prefix: str, method: str, repeats: int, patterns: int) -> None:
    """Raise :class:`ConfigError` naming ``<prefix>sa_calibration`` / ``..._repeats`` / ``..._patterns``."""
    if method not in SA_CALIBRATIONS:
        raise ConfigError(f"{prefix}sa_calibration = {method!r} is not allowed: choose one of {list(SA_CALIBRATIONS)}")
    check_int(f"{prefix}sa_cal_repeats", repeats, 1, MAX_REPEATS)
    check_int(f"{prefix}sa_cal_patterns", patterns, 1, MAX_PATTERNS)


def calibration_patterns(layer: int, n_inputs: int, patterns: int, seed: int = PATTERN_SEED) -> np.ndarray:
    """uint8 ``[patterns, n_inputs]``: the calibration input patterns of ``layer`` (bits with p = 1/2)."""
    check_int("sa_cal_patterns", patterns, 1, MAX_PATTERNS)
    idx = synapse_index(KIND_CAL_PATTERN, layer, np.arange(patterns)[:, None], np.arange(n_inputs)[None, :])
    return (rng.uniform(seed, rng.STREAM_BNN, idx, np.uint64(0)) < 0.5).astype(np.uint8)


def ramp_voltages(o_in: np.ndarray, o_on: np.ndarray, o_off: np.ndarray, cp: np.ndarray, cn: np.ndarray,
                  vdd: float, c_par_units: float) -> np.ndarray:
    """Differential summing-node voltage ``[n, B+1]`` at every ramp step ``r`` (bias rows ``j < r`` driven 1).

    ``o_in [n, N]``: input-cell outputs for the applied pattern; ``o_on``/``o_off [n, B]``: the bias
    cells' outputs (programmed to 1) with their row driven 1 / 0; ``cp``/``cn [n, N+B]``: unit
    capacitors (relative) of the positive / negative summing node.
    """
    n_in = o_in.shape[1]
    o_in, o_on, o_off = (np.asarray(a, dtype=np.float64) for a in (o_in, o_on, o_off))
    cp, cn = np.asarray(cp, dtype=np.float64), np.asarray(cn, dtype=np.float64)

    def node(c, on, off, inp):
        base = (c[:, :n_in] * inp).sum(1)
        cb = c[:, n_in:]
        z = np.zeros((len(c), 1))
        on_cum = np.concatenate([z, np.cumsum(cb * on, axis=1)], axis=1)            # rows j < r driven 1
        off_tail = (cb * off).sum(1)[:, None] - np.concatenate([z, np.cumsum(cb * off, axis=1)], axis=1)
        return base[:, None] + on_cum + off_tail

    qp = node(cp, o_on, o_off, o_in)                      # sum c+ b
    qn = node(cn, 1.0 - o_on, 1.0 - o_off, 1.0 - o_in)    # sum c- (1 - b)
    return vdd * (qp / (cp.sum(1) + c_par_units)[:, None] - qn / (cn.sum(1) + c_par_units)[:, None])


def cal_decisions(seed: int, layer: int, neurons, mean, counter, sigma_noise: float) -> np.ndarray:
    """SA decisions (bool) of calibration conversions: ``mean + sigma_noise * noise > 0``.

    ``mean = v * gain + offset`` (V, before noise); ``noise`` is the draw of ``counter`` of each neuron's
    calibration-noise stream (kind 18). ``neurons``, ``mean`` and ``counter`` broadcast together.
    """
    idx = synapse_index(KIND_CAL_NOISE, layer, np.asarray(neurons, dtype=np.int64), 0)
    noise = sigma_noise * rng.normal(seed, rng.STREAM_BNN, idx, np.asarray(counter, dtype=np.uint64)) \
        if sigma_noise else 0.0
    return mean + noise > 0


def ramp_counts(seed: int, layer: int, neurons: np.ndarray, v: np.ndarray, offset: np.ndarray, gain: float,
                sigma_noise: float, repeats: int, counter0: int = 0) -> np.ndarray:
    """Ones counted per neuron and ramp step: ``[n, B+1]`` ints in ``[0, repeats]``.

    Conversion ``m`` of step ``r`` decides ``v[:, r]*gain + offset + noise > 0`` with the noise draw of
    counter ``counter0 + r*repeats + m`` of the neuron's calibration-noise stream (:func:`cal_decisions`).
    """
    neurons = np.asarray(neurons, dtype=np.int64)
    steps = v.shape[1]
    mean = (v * gain + np.asarray(offset, dtype=np.float64)[:, None])[:, :, None]
    counts = np.zeros(v.shape, dtype=np.int64)
    for m0 in range(0, repeats, _CHUNK):
        m = np.arange(m0, min(m0 + _CHUNK, repeats))
        ctr = (counter0 + np.arange(steps)[:, None] * repeats + m[None, :]).astype(np.uint64)[None, :, :]
        counts += np.sum(cal_decisions(seed, layer, neurons[:, None, None], mean, ctr, sigma_noise), axis=2)
    return counts


def ramp_flip_point(counts: np.ndarray, repeats: int) -> np.ndarray:
    """Spearman-Kaerber estimate of the 50 % ramp position: ``B + 0.5 - sum(counts)/repeats``."""
    counts = np.asarray(counts)
    b = counts.shape[1] - 1
    return b + 0.5 - counts.sum(1) / repeats


@dataclass
class LayerCalibration:
    """Result of :func:`calibrate_layer` for one layer (arrays per neuron)."""

    shift: np.ndarray          # bias-cell steps subtracted from k (int64)
    k: np.ndarray              # trained bias-cell count
    k_trimmed: np.ndarray      # programmed after calibration, clip(k - shift, 0, B)
    at_limit: np.ndarray       # k - shift fell outside [0, B] (bool)
    unbracketed: np.ndarray    # the flip was not fully inside the ramp (bool)
    pattern: np.ndarray        # calibration pattern used
    offset_delta: np.ndarray   # estimated offset in delta units, 2*(c - r50)
    bias_cells: int
    repeats: int
    patterns: int

    @property
    def conversions(self) -> int:
        """SA conversions per neuron (= SA clock periods per layer, neurons in parallel; 0 without bias cells)."""
        return self.patterns * (self.bias_cells + 1) * self.repeats if self.bias_cells else 0

    def summary(self, clock_ns: float) -> dict:
        return {"bias_cells": self.bias_cells, "repeats": self.repeats, "patterns": self.patterns,
                "conversions_per_neuron": self.conversions, "time_us": self.conversions * clock_ns * 1e-3,
                "bias_writes_per_neuron": float(np.mean(self.bias_cells - self.k_trimmed)),
                "at_limit": int(self.at_limit.sum()), "unbracketed": int(self.unbracketed.sum()),
                "neurons": len(self.shift), "mean_abs_shift": float(np.mean(np.abs(self.shift)))}


def conversion_counter(p: int, r: int, m: int, bias_cells: int, repeats: int) -> int:
    """Noise counter of conversion ``m`` of ramp step ``r`` of pattern ``p``: ``(p (B+1) + r) repeats + m``."""
    return (p * (bias_cells + 1) + r) * repeats + m


@dataclass(frozen=True)
class CalibrationState:
    """A hidden layer in the calibration state (weights as trained, all B bias cells programmed to 1).

    ``w_in [n, N]``: programmed weight bits; ``o1``/``o0 [n, N+B]``: bridge + inverter outputs of the
    cells for row drive 1 / 0; ``cp``/``cn [n, N+B]``: unit capacitors; ``offset [n]`` (V), ``gain =
    g(T)``, ``sigma_noise`` (V per conversion), ``vdd``, ``c_par_units`` as in
    :class:`golden.bnn.chip_model.BnnHardware` (:meth:`~golden.bnn.chip_model.BnnHardware.calibration_state`).
    """

    seed: int
    layer: int
    w_in: np.ndarray
    o1: np.ndarray
    o0: np.ndarray
    cp: np.ndarray
    cn: np.ndarray
    offset: np.ndarray
    gain: float
    sigma_noise: float
    vdd: float
    c_par_units: float

    @property
    def n_inputs(self) -> int:
        return self.w_in.shape[1]

    @property
    def bias_cells(self) -> int:
        return self.o1.shape[1] - self.w_in.shape[1]

    def voltages(self, x_bits: np.ndarray, neurons: np.ndarray) -> np.ndarray:
        """:func:`ramp_voltages` ``[n, B+1]`` of ``neurons`` with input bits ``x_bits [N]`` on the rows."""
        n_in = self.n_inputs
        xp = np.asarray(x_bits, dtype=np.int64)[None, :]
        o_in = xp * self.o1[neurons, :n_in] + (1 - xp) * self.o0[neurons, :n_in]
        return ramp_voltages(o_in, self.o1[neurons, n_in:], self.o0[neurons, n_in:], self.cp[neurons],
                             self.cn[neurons], self.vdd, self.c_par_units)

    def conversion(self, x_bits: np.ndarray, bias_drive: int, counter: int,
                   neurons: np.ndarray | None = None) -> np.ndarray:
        """uint8 ``[n]``: the SA decisions of one conversion of ``neurons`` (default: all) with input bits
        ``x_bits``, bias rows ``j < bias_drive`` driven 1 (the others 0) and noise counter ``counter``
        (:func:`conversion_counter` in the ramp)."""
        check_int("bias_drive", bias_drive, 0, self.bias_cells)
        neurons = np.arange(self.w_in.shape[0]) if neurons is None else np.asarray(neurons, dtype=np.int64)
        v = self.voltages(x_bits, neurons)[:, bias_drive]
        mean = v * self.gain + np.asarray(self.offset, dtype=np.float64)[neurons]
        return cal_decisions(self.seed, self.layer, neurons, mean, counter, self.sigma_noise).astype(np.uint8)


def calibration_plan(layer: int, w_in: np.ndarray, bias_cells: int, patterns: int,
                     pattern_seed: int = PATTERN_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the controller knows digitally: ``(x [P, N], c [n, P], best [n])``: the patterns, each
    neuron's ideal flip point ``c = N_tot/2 - P_in`` per pattern, the pattern it is calibrated with."""
    w_in = np.asarray(w_in, dtype=np.int64)
    n_in = w_in.shape[1]
    x = calibration_patterns(layer, n_in, patterns, pattern_seed).astype(np.int64)     # [P, N]
    p_in = w_in @ x.T + (1 - w_in) @ (1 - x).T                                          # [n, P]
    c = (n_in + bias_cells) / 2.0 - p_in                                                # half-integer
    best = np.argmin(np.abs(c - bias_cells / 2.0), axis=1)
    return x, c, best


def shifts_from_counts(counts: np.ndarray, c_best: np.ndarray, k: np.ndarray, best: np.ndarray,
                       repeats: int, patterns: int) -> LayerCalibration:
    """Steps 4-5: ``counts [n, B+1]`` (ones of each neuron's own pattern ``best``) -> trimmed counts."""
    counts = np.asarray(counts, dtype=np.int64)
    b = counts.shape[1] - 1
    k = np.asarray(k, dtype=np.int64)
    r50 = ramp_flip_point(counts, repeats)
    unbracketed = (counts[:, 0] > 0) | (counts[:, -1] < repeats)
    shift = np.rint(c_best - r50).astype(np.int64)
    raw = k - shift
    return LayerCalibration(shift=shift, k=k, k_trimmed=np.clip(raw, 0, b), at_limit=(raw < 0) | (raw > b),
                            unbracketed=unbracketed, pattern=np.asarray(best), offset_delta=2.0 * (c_best - r50),
                            bias_cells=b, repeats=repeats, patterns=patterns)


def _uncalibrated(k: np.ndarray, repeats: int, patterns: int) -> LayerCalibration:
    # nothing to ramp or trim with (fan-in < 20, odd): the layer stays uncalibrated
    n_out = len(k)
    z = np.zeros(n_out, dtype=np.int64)
    return LayerCalibration(shift=z, k=k, k_trimmed=k.copy(), at_limit=np.zeros(n_out, dtype=bool),
                            unbracketed=np.ones(n_out, dtype=bool), pattern=z, offset_delta=np.zeros(n_out),
                            bias_cells=0, repeats=repeats, patterns=patterns)


def calibrate_layer(state: CalibrationState, k: np.ndarray, repeats: int = DEFAULT_REPEATS,
                    patterns: int = DEFAULT_PATTERNS, pattern_seed: int = PATTERN_SEED) -> LayerCalibration:
    """Measure every SA offset of a layer with the bias-cell ramp and return the trimmed bias counts.

    ``state``: the layer in the calibration state; ``k [n]``: trained bias-cell counts.
    """
    check_int("sa_cal_repeats", repeats, 1, MAX_REPEATS)
    check_int("sa_cal_patterns", patterns, 1, MAX_PATTERNS)
    k = np.asarray(k, dtype=np.int64)
    b = state.bias_cells
    if b == 0:
        return _uncalibrated(k, repeats, patterns)
    x, c, best = calibration_plan(state.layer, state.w_in, b, patterns, pattern_seed)
    n_out = len(k)
    counts = np.zeros((n_out, b + 1), dtype=np.int64)
    for p in range(patterns):
        sel = np.flatnonzero(best == p)
        if not len(sel):
            continue          # the ramp still runs on the chip (all neurons convert together)
        v = state.voltages(x[p], sel)
        counts[sel] = ramp_counts(state.seed, state.layer, sel, v, state.offset[sel], state.gain,
                                  state.sigma_noise, repeats, counter0=conversion_counter(p, 0, 0, b, repeats))
    return shifts_from_counts(counts, c[np.arange(n_out), best], k, best, repeats, patterns)


# ---------------------------------------------------------------------------------------------
# host side of a calibration run on the RTL (any engine that converts one input pattern + ramp step)
# ---------------------------------------------------------------------------------------------
def ramp_images(layer: int, n_inputs: int, bias_cells: int, patterns: int, repeats: int,
                pattern_seed: int = PATTERN_SEED) -> list[tuple[np.ndarray, int]]:
    """The calibration conversions in counter order: ``(x_bits [N] uint8, bias_drive r)``; item
    ``i`` is conversion ``m`` of ramp step ``r`` of pattern ``p`` with ``i = conversion_counter(p, r, m)``."""
    check_int("sa_cal_repeats", repeats, 1, MAX_REPEATS)
    x = calibration_patterns(layer, n_inputs, patterns, pattern_seed)
    return [(x[p], r) for p in range(patterns) for r in range(bias_cells + 1) for _ in range(repeats)]


def calibration_from_bits(bits: np.ndarray, layer: int, w_in: np.ndarray, k: np.ndarray, bias_cells: int,
                          repeats: int, patterns: int, pattern_seed: int = PATTERN_SEED) -> LayerCalibration:
    """Host side: the output bits ``[conversions, n]`` of the :func:`ramp_images` run (in that order)
    -> ones counted per neuron, pattern and ramp step -> :func:`shifts_from_counts`."""
    bits = np.asarray(bits, dtype=np.int64)
    n_out = bits.shape[1]
    if bits.shape[0] != patterns * (bias_cells + 1) * repeats:
        raise ValueError(f"calibration_from_bits: {bits.shape[0]} conversions, the ramp has "
                         f"{patterns * (bias_cells + 1) * repeats}")
    k = np.asarray(k, dtype=np.int64)
    if bias_cells == 0:
        return _uncalibrated(k, repeats, patterns)
    _, c, best = calibration_plan(layer, w_in, bias_cells, patterns, pattern_seed)
    counts = bits.reshape(patterns, bias_cells + 1, repeats, n_out).sum(axis=2)       # [P, B+1, n]
    own = counts[best, :, np.arange(n_out)]                                            # [n, B+1]
    return shifts_from_counts(own, c[np.arange(n_out), best], k, best, repeats, patterns)


__all__ = [
    "DEFAULT_PATTERNS",
    "DEFAULT_REPEATS",
    "MAX_PATTERNS",
    "MAX_REPEATS",
    "SA_CALIBRATIONS",
    "CalibrationState",
    "LayerCalibration",
    "cal_decisions",
    "calibrate_layer",
    "calibration_from_bits",
    "calibration_patterns",
    "calibration_plan",
    "check_calibration",
    "conversion_counter",
    "ramp_counts",
    "ramp_flip_point",
    "ramp_images",
    "ramp_voltages",
    "shifts_from_counts",
]
