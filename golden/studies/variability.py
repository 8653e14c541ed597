"""Resistance-variability study (Prabhu et al., seed 001): conv1 weights stored bit by bit in ReRAM.

Pipeline for one Monte-Carlo trial (:func:`program_and_read`):

1. encode each conv1 weight as a ``width``-bit word (:mod:`golden.studies.weight_encoding`: float32,
   float16, bfloat16, fixed8);
2. optionally take the ``protect_bits`` most significant bits (default: sign + exponent, the bits
   whose error is catastrophic) out of the multi-bit cells and store each in a protected form:
   ``slc`` (one single-level LRS/HRS cell, the wide margin of a binary cell), ``pair`` (two cells
   programmed complementary, read by comparing them: no reference needed, as a 2T2R bridge) or
   ``tmr`` (three LRS/HRS cells, majority vote);
3. cut the remaining bits into cells of ``bits_per_cell`` bits (1: LRS/HRS, 3: 8 levels);
4. mark stuck-at-LRS / stuck-at-HRS devices (:func:`golden.physics.faults.stuck_fault_mask`): they hold
   the lowest-/highest-resistance state whatever was programmed;
5. draw each device's read resistance from the LUT (:mod:`golden.physics.resistance_lut`, lognormal fit or
   measured samples, scaled by the spread and window scales) and read it back by reference
   thresholds (nearest level in log R by default);
6. reassemble the words and decode; decoded NaN/Inf are replaced by 0 (the reader flags an invalid
   float; the count is reported).

The metric (:func:`relative_error`) is ``||Y - Y_ideal|| / ||Y_ideal||`` (Frobenius norm over all
images, filters and positions) of the conv1 MAC output, where ``Y_ideal`` uses the trained float32
weights; the accuracy is the test accuracy of the whole network with the read-back conv1 weights.
Randomness is counter-based (device id, trial) so every configuration of a sweep sees the same
underlying draws (common random numbers) and results do not depend on evaluation order.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

import golden.studies.weight_encoding as we
from golden.physics.faults import STUCK_HRS, STUCK_LRS, stuck_fault_mask
from golden.physics.resistance_lut import ResistanceLUT
from golden.spec.params import ConfigError, check_choice, check_float, check_int
from golden.spec.rng import STREAM_VARIABILITY, uniform
from golden.spec.runs import RunAll, serial_runs

STREAM_BIT_INJECTION = STREAM_VARIABILITY + 3

PROTECT = ("none", "slc", "pair", "tmr")
_DEVICES_PER_PROTECTED_BIT = {"none": 0, "slc": 1, "pair": 2, "tmr": 3}


@dataclass(frozen=True)
class VariabilityConfig:
    """How conv1 weights are stored and read.

    Attributes
    ----------
    encoding : "float32" | "float16" | "bfloat16" | "fixed8"
    bits_per_cell : 1 | 2 | 3
        1: LRS/HRS cells; 3: 8-level cells (needs 8 levels in the resistance data).
    level_code : "binary" | "gray"
        Bit pattern -> level mapping of multi-bit cells.
    spread_scale : float, 0..10
        Multiplies every state's log-deviation (1 = as measured, 0 = no variability).
    window_scale : float, (0, 10]
        Scales the log-distance of each state's median from the window centre (< 1: more overlap).
    model : "lognormal" | "empirical"
        Draw from the lognormal fit or from the measured samples.
    reference : "midpoint" | "optimal"
        Read thresholds: geometric midpoint of adjacent medians (nearest level in log R, the default)
        or the crossing of the two fitted lognormal densities (the best fixed reference).
    protect : "none" | "slc" | "pair" | "tmr"
        Protection of the ``protect_bits`` MSBs (module docstring).
    protect_bits : int, -1..width
        -1: the encoding's critical bits (sign + exponent; sign + 2 MSBs for fixed8).
    p_stuck_lrs, p_stuck_hrs : float in [0, 1]
        Fractions of devices stuck at LRS / HRS.
    """

    encoding: str = "float32"
    bits_per_cell: int = 1
    level_code: str = "binary"
    spread_scale: float = 1.0
    window_scale: float = 1.0
    model: str = "lognormal"
    reference: str = "midpoint"
    protect: str = "none"
    protect_bits: int = -1
    p_stuck_lrs: float = 0.0
    p_stuck_hrs: float = 0.0

    def __post_init__(self):
        check_choice("encoding", self.encoding, we.ENCODINGS)
        check_int("bits_per_cell", self.bits_per_cell, 1, 3)
        check_choice("level_code", self.level_code, we.LEVEL_CODES)
        check_float("spread_scale", self.spread_scale, 0.0, 10.0)
        check_float("window_scale", self.window_scale, 0.0, 10.0, lo_open=True)
        check_choice("model", self.model, ("lognormal", "empirical"))
        check_choice("reference", self.reference, ("optimal", "midpoint"))
        check_choice("protect", self.protect, PROTECT)
        check_int("protect_bits", self.protect_bits, -1, we.get_encoding(self.encoding).width)
        check_float("p_stuck_lrs", self.p_stuck_lrs, 0.0, 1.0)
        check_float("p_stuck_hrs", self.p_stuck_hrs, 0.0, 1.0)
        if self.p_stuck_lrs + self.p_stuck_hrs > 1.0:
            raise ConfigError(f"p_stuck_lrs + p_stuck_hrs = {self.p_stuck_lrs + self.p_stuck_hrs} is out of "
                              f"range: allowed [0, 1]")

    @property
    def width(self) -> int:
        return we.get_encoding(self.encoding).width

    @property
    def n_protected(self) -> int:
        """Number of MSBs stored in protected form (0 when ``protect == "none"``)."""
        if self.protect == "none":
            return 0
        return we.get_encoding(self.encoding).critical_bits if self.protect_bits < 0 else self.protect_bits

    @property
    def devices_per_weight(self) -> int:
        p = self.n_protected
        rest = self.width - p
        cells = we.n_cells(rest, self.bits_per_cell) if rest > 0 else 0
        return p * _DEVICES_PER_PROTECTED_BIT[self.protect] + cells

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ReadBack:
    """Result of programming and reading one weight tensor."""

    weights: np.ndarray        # decoded float64, same shape as the input
    words_written: np.ndarray  # uint64 bit patterns
    words_read: np.ndarray
    width: int
    devices_per_weight: int
    nonfinite: int             # decoded NaN/Inf replaced by 0

    @property
    def bit_errors(self) -> int:
        return int(we.bits_of(self.words_written ^ self.words_read, self.width).sum())

    @property
    def bit_error_rate(self) -> float:
        return self.bit_errors / (self.words_written.size * self.width)

    def bit_errors_per_position(self) -> np.ndarray:
        return we.bits_of(self.words_written ^ self.words_read, self.width).reshape(-1, self.width).sum(axis=0)


def program_and_read(w: np.ndarray, cfg: VariabilityConfig, lut: ResistanceLUT, *, seed: int, trial: int = 0,
                     frac_bits: int | None = None) -> ReadBack:
    """Store ``w`` in simulated devices as ``cfg`` says and read it back (module docstring)."""
    enc = we.get_encoding(cfg.encoding)
    W = enc.width
    words, meta = we.encode(np.asarray(w).ravel(), cfg.encoding, frac_bits=frac_bits)
    n = words.size
    P = cfg.n_protected
    R = W - P
    D = cfg.devices_per_weight
    c = cfg.bits_per_cell
    ids = (np.arange(n, dtype=np.uint64)[:, None] * np.uint64(D) + np.arange(D, dtype=np.uint64)[None, :])
    mask = stuck_fault_mask((n, D), cfg.p_stuck_lrs, cfg.p_stuck_hrs, seed=seed, counter=trial, device_ids=ids)

    binary = lut.state_model(1).scaled(cfg.spread_scale, cfg.window_scale)
    th_bin = binary.thresholds(cfg.reference)

    def program(states: np.ndarray, cols: slice, model) -> np.ndarray:
        m = mask[:, cols].reshape(states.shape)
        states = np.where(m == STUCK_LRS, model.mu.size - 1, np.where(m == STUCK_HRS, 0, states))
        return model.sample_log_r(states, ids[:, cols].reshape(states.shape), seed=seed, trial=trial,
                                  model=cfg.model)

    slot = 0
    top_read = np.zeros(n, dtype=np.uint64)
    if P > 0:
        top = words >> np.uint64(R)
        pbits = ((top[:, None] >> np.arange(P - 1, -1, -1, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
        k = _DEVICES_PER_PROTECTED_BIT[cfg.protect]
        cols = slice(slot, slot + P * k)
        slot += P * k
        if cfg.protect == "slc":
            bits = binary.read(program(pbits, cols, binary), th_bin)
        elif cfg.protect == "pair":
            st = np.stack([pbits, 1 - pbits], axis=-1).reshape(n, P * 2)
            lr = program(st, cols, binary).reshape(n, P, 2)
            bits = (lr[..., 0] < lr[..., 1]).astype(np.int64)  # device A lower resistance -> bit 1
        else:  # tmr
            st = np.repeat(pbits, 3, axis=1)
            reads = binary.read(program(st, cols, binary), th_bin).reshape(n, P, 3)
            bits = (reads.sum(axis=-1) >= 2).astype(np.int64)
        top_read = np.bitwise_or.reduce(bits.astype(np.uint64) << np.arange(P - 1, -1, -1, dtype=np.uint64),
                                        axis=1)
    rest_read = np.zeros(n, dtype=np.uint64)
    if R > 0:
        rest = words & np.uint64((1 << R) - 1)
        model = binary if c == 1 else lut.state_model(c).scaled(cfg.spread_scale, cfg.window_scale)
        th = th_bin if c == 1 else model.thresholds(cfg.reference)
        cells = we.words_to_cells(rest, R, c, cfg.level_code)
        nc = cells.shape[1]
        cols = slice(slot, slot + nc)
        slot += nc
        read = model.read(program(cells, cols, model), th)
        rest_read = we.cells_to_words(read, R, c, cfg.level_code)
    assert slot == D
    words_read = (top_read << np.uint64(R)) | rest_read
    raw = we.decode(words_read, meta, nonfinite="keep")
    bad = ~np.isfinite(raw)
    dec = np.where(bad, 0.0, raw).reshape(np.shape(w))
    return ReadBack(dec, words, words_read, W, D, int(bad.sum()))


def inject_bit_errors(w: np.ndarray, encoding: str, bit: int, p: float, *, seed: int, trial: int = 0
                      ) -> ReadBack:
    """Flip bit position ``bit`` (LSB = 0) of each encoded weight with probability ``p``.

    The same uniform draw per weight is used for every bit position (common random numbers), so
    per-bit results differ only by which bit is hit.
    """
    enc = we.get_encoding(encoding)
    check_int("bit", bit, 0, enc.width - 1)
    check_float("p", p, 0.0, 1.0)
    words, meta = we.encode(np.asarray(w).ravel(), encoding)
    u = uniform(seed, STREAM_BIT_INJECTION, np.arange(words.size, dtype=np.uint64), trial)
    flip = np.where(u < p, np.uint64(1) << np.uint64(bit), np.uint64(0))
    read = we.flip_bits(words, flip)
    raw = we.decode(read, meta, nonfinite="keep")
    bad = ~np.isfinite(raw)
    return ReadBack(np.where(bad, 0.0, raw).reshape(np.shape(w)), words, read, enc.width,
                    we.n_cells(enc.width, 1), int(bad.sum()))


def relative_error(y: np.ndarray, y_ideal: np.ndarray) -> float:
    """``||y - y_ideal||_F / ||y_ideal||_F`` (computed in float64)."""
    y = np.asarray(y, dtype=np.float64)
    y_ideal = np.asarray(y_ideal, dtype=np.float64)
    if y.shape != y_ideal.shape:
        raise ConfigError(f"y shape {y.shape} does not match y_ideal shape {y_ideal.shape}")
    den = float(np.linalg.norm(y_ideal))
    if den == 0:
        raise ConfigError("relative error is undefined: ||y_ideal|| = 0")
    return float(np.linalg.norm(y - y_ideal)) / den


# --------------------------------------------------------------------------------------------------
# The study: network + evaluation set + LUT
# --------------------------------------------------------------------------------------------------
class Study:
    """A trained network, an evaluation set and a LUT; evaluates storage configurations.

    ``evaluate`` returns, per trial, the relative error of the conv1 MAC output against the
    trained float32 weights and the test accuracy on the evaluation set.

    Evaluation is incremental: the ideal MAC output ``Y_ideal`` (float32) and, per encoding, the
    quantization offset ``Y_q - Y_ideal`` are computed once; a read-back weight tensor then only
    costs the product of the patches with the (sparse) weight change ``W_read - W_q``, computed in
    float64 per changed filter (so decoded weights up to 3.4e38 cannot overflow).
    """

    SPARSE_MAX = 150

    def __init__(self, net, x_eval: np.ndarray, y_eval: np.ndarray, lut: ResistanceLUT, *, seed: int = 0,
                 chunk: int = 1000):
        from golden.studies import cnn

        check_int("chunk", chunk, 1, 100000)
        self.net = net
        self.x = x_eval
        self.y = y_eval
        self.lut = lut
        self.seed = seed
        self.chunk = chunk
        self._cnn = cnn
        cfg = net.config
        self._w_ideal = net.w1.astype(np.float64).reshape(cfg.filters, -1)
        self._y_ideal = []
        self._den = 0.0
        correct = 0
        for i in self._chunks():
            y = cnn.conv_mac(self._cols(i).astype(np.float64), self._w_ideal)
            self._den += float(np.sum(y * y))
            self._y_ideal.append(y.astype(np.float32))
            correct += int(np.sum(np.argmax(cnn.head_logits(net, y), axis=1) == self._labels(i)))
        self.ideal_accuracy = correct / len(self.y)
        self._quant: dict = {}

    def _chunks(self):
        return range(0, len(self.x), self.chunk)

    def _cols(self, i: int) -> np.ndarray:
        cfg = self.net.config
        return self._cnn.im2col(self.x[i:i + self.chunk], cfg.kernel, cfg.stride)

    def _labels(self, i: int) -> np.ndarray:
        return self.y[i:i + self.chunk]

    def _quantized(self, encoding: str) -> dict:
        """Per encoding: W_q (float64 rows), offset chunks Y_q - Y_ideal (float32 or None), score."""
        if encoding not in self._quant:
            wq = we.quantize(self.net.w1, encoding).reshape(self._w_ideal.shape)
            dw = wq - self._w_ideal
            offs = None
            if np.any(dw):
                offs = [self._cnn.conv_mac(self._cols(i).astype(np.float64), dw).astype(np.float32)
                        for i in self._chunks()]
            entry = {"w": wq, "offsets": offs}
            self._quant[encoding] = entry
            entry["score"] = self._score_delta(entry, np.zeros_like(wq))
        return self._quant[encoding]

    def _patch_column(self, i: int, j: int) -> np.ndarray:
        """Column ``j`` of the im2col patches of chunk ``i`` (N, P) in float64, without full im2col."""
        cfg = self.net.config
        k, s, side = cfg.kernel, cfg.stride, cfg.conv_side
        c, rem = divmod(j, k * k)
        di, dj = divmod(rem, k)
        xs = self.x[i:i + self.chunk, c, di:di + s * (side - 1) + 1:s, dj:dj + s * (side - 1) + 1:s]
        return xs.reshape(xs.shape[0], -1).astype(np.float64)

    def _score_delta(self, base: dict, delta: np.ndarray, against: str = "ideal") -> tuple[float, float]:
        """(relative error, accuracy) for weights ``base["w"] + delta``.

        The error is ``||Y - Y_ideal|| / ||Y_ideal||``, or with ``against="quantized"``
        ``||Y - Y_q|| / ||Y_ideal||`` (the part due to ``delta`` alone). ``delta`` with at most
        ``SPARSE_MAX`` nonzeros is applied entry by entry (patch column times weight change),
        otherwise by one dense product.
        """
        nz_f, nz_j = np.nonzero(delta)
        dense = nz_f.size > self.SPARSE_MAX
        num, correct = 0.0, 0
        for k, i in enumerate(self._chunks()):
            diff = np.zeros(self._y_ideal[k].shape)
            if dense:
                if np.max(np.abs(delta)) < 1e30:  # no overflow possible in float32: 2x faster product
                    diff += self._cnn.conv_mac(self._cols(i), delta.astype(np.float32))
                else:
                    diff += self._cnn.conv_mac(self._cols(i).astype(np.float64), delta)
            elif nz_f.size:
                cols = {j: self._patch_column(i, j) for j in np.unique(nz_j)}
                for f, j in zip(nz_f, nz_j):
                    diff[..., f] += cols[j] * delta[f, j]
            if base["offsets"] is not None and against == "ideal":
                diff += base["offsets"][k]
            num += float(np.einsum("ijk,ijk->", diff, diff))
            y = diff
            y += self._y_ideal[k]
            if base["offsets"] is not None and against != "ideal":
                y += base["offsets"][k]
            correct += int(np.sum(np.argmax(self._cnn.head_logits(self.net, y), axis=1) == self._labels(i)))
        return math.sqrt(num / self._den), correct / len(self.y)

    def score_weights(self, w1: np.ndarray, encoding: str | None = None) -> tuple[float, float]:
        """(relative error, accuracy) of the network with conv1 weights ``w1``.

        ``encoding`` names the format ``w1`` came from (its quantized output is the cached base);
        None measures against the trained float32 weights directly.
        """
        w = np.asarray(w1, dtype=np.float64).reshape(self._w_ideal.shape)
        base = self._quantized(encoding) if encoding else {"w": self._w_ideal, "offsets": None}
        return self._score_delta(base, w - base["w"])

    def _score_readback(self, rb: ReadBack, encoding: str, against: str = "ideal") -> tuple[float, float]:
        base = self._quantized(encoding)
        if rb.bit_errors == 0 and rb.nonfinite == 0:
            return base["score"] if against == "ideal" else (0.0, base["score"][1])
        return self._score_delta(base, rb.weights.reshape(base["w"].shape) - base["w"], against)

    def evaluate(self, cfg: VariabilityConfig, trials: int = 3, progress: Callable | None = None) -> dict:
        """Monte-Carlo over ``trials`` chips; returns per-trial lists and summaries."""
        check_int("trials", trials, 1, 10000)
        errs, accs, bers, nonf = [], [], [], []
        for t in range(trials):
            rb = program_and_read(self.net.w1, cfg, self.lut, seed=self.seed, trial=t)
            e, a = self._score_readback(rb, cfg.encoding)
            errs.append(e)
            accs.append(a)
            bers.append(rb.bit_error_rate)
            nonf.append(rb.nonfinite)
            if progress is not None:
                progress(1)
        return summarize(errs, accs, bers, nonf, cfg.devices_per_weight)

    def evaluate_bit(self, encoding: str, bit: int, p: float, trials: int = 3) -> dict:
        """Per-bit-position error injection (:func:`inject_bit_errors`) over ``trials`` draws.

        The relative error here is ``||Y - Y_q|| / ||Y_ideal||``: the error the flipped bits add to
        the encoding's own quantization error (which would otherwise hide the low bits).
        """
        errs, accs, bers, nonf = [], [], [], []
        for t in range(trials):
            rb = inject_bit_errors(self.net.w1, encoding, bit, p, seed=self.seed, trial=t)
            e, a = self._score_readback(rb, encoding, against="quantized")
            errs.append(e)
            accs.append(a)
            bers.append(rb.bit_error_rate)
            nonf.append(rb.nonfinite)
        return summarize(errs, accs, bers, nonf, we.get_encoding(encoding).width)


def summarize(errs, accs, bers, nonf, devices_per_weight) -> dict:
    return {
        "relative_error": float(np.median(errs)),
        "relative_error_min": float(np.min(errs)),
        "relative_error_max": float(np.max(errs)),
        "relative_error_trials": [float(e) for e in errs],
        "test_accuracy": float(np.mean(accs)),
        "test_accuracy_std": float(np.std(accs)),
        "test_accuracy_trials": [float(a) for a in accs],
        "bit_error_rate": float(np.mean(bers)),
        "nonfinite_weights": int(np.sum(nonf)),
        "devices_per_weight": int(devices_per_weight),
    }


def lut_summary(lut: ResistanceLUT) -> dict:
    """Per-state lognormal fits (median ohm, sigma of ln R, sample count) for reports."""
    return {s: {"median_ohm": round(f.median_ohm, 1), "sigma_log": round(f.sigma_log, 4), "n": f.n}
            for s, f in lut.fits().items()}


def device_misread(lut: ResistanceLUT, bits_per_cell: int, spread: float = 1.0, window: float = 1.0,
                   reference: str = "midpoint") -> float:
    """Mean analytic misread probability of a device (lognormal fit, uniform states)."""
    return float(np.mean(lut.state_model(bits_per_cell).scaled(spread, window).misread_rates(reference)))


# --------------------------------------------------------------------------------------------------
# Sweeps (used by `reram-accel variability --sweep`)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPlan:
    """Grid of the full study; ``quick()`` gives a small grid for smoke tests."""

    encodings: tuple = we.ENCODINGS
    bits_per_cell: tuple = (1, 3)
    spreads: tuple = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
    windows: tuple = (0.4, 0.55, 0.7, 0.85, 1.0, 1.2)
    bit_p: float = 0.01
    protect_spreads: tuple = (1.0, 2.0)
    protect_schemes: tuple = PROTECT
    variants: bool = True  # also: Gray-coded levels, the optimal reference, the empirical draw
    stuck_rates: tuple = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
    stuck_kinds: tuple = ("lrs", "hrs", "both")
    stuck_spread: float = 0.0  # faults alone (no spread) so the fault curve is not masked by misreads
    trials: int = 3

    @classmethod
    def quick(cls) -> SweepPlan:
        return cls(encodings=("float16", "fixed8"), bits_per_cell=(1, 3), spreads=(0.0, 1.0, 2.0),
                   windows=(0.7, 1.0), protect_spreads=(1.0,), protect_schemes=("none", "pair"),
                   variants=False, stuck_rates=(0.0, 1e-2), stuck_kinds=("both",), trials=1)

    def protect_rows(self, bits_per_cell: int) -> list[dict]:
        """Overrides of the protection/variant table for one bits-per-cell value."""
        rows = [{"protect": s} for s in self.protect_schemes if not (s == "slc" and bits_per_cell == 1)]
        if self.variants:
            if bits_per_cell > 1:
                rows.append({"level_code": "gray"})
            rows += [{"reference": "optimal"}, {"model": "empirical"}]
        return rows

    def count(self) -> int:
        ne, nb = len(self.encodings), len(self.bits_per_cell)
        bits = sum(we.get_encoding(e).width for e in self.encodings)
        return self.trials * (ne * nb * (len(self.spreads) + len(self.windows))
                              + bits
                              + ne * len(self.protect_spreads) * sum(len(self.protect_rows(b))
                                                                     for b in self.bits_per_cell)
                              + ne * len(self.stuck_kinds) * len(self.stuck_rates))


def run_sweep(study: Study, plan: SweepPlan, base: VariabilityConfig | None = None,
              progress: Callable | None = None, run_all: RunAll | None = None) -> dict:
    """All sweeps of the study; returns a JSON-able dict (rows of config + summary).

    Every row is an independent evaluation of ``study``: they run through ``run_all``
    (:mod:`golden.spec.runs`; default: one after the other here, ``progress`` ticked per trial),
    and the result is the same whatever runs them."""
    base = base or VariabilityConfig()
    out: dict = {"ideal_test_accuracy": study.ideal_accuracy, "plan": asdict(plan), "base": base.to_dict(),
                 "lut": lut_summary(study.lut), "spread": [], "window": [], "bits": [], "protect": [],
                 "stuck": []}
    rows = _sweep_rows(study, plan, base)
    tasks = [(("bit", r["encoding"], r["bit"], plan.bit_p) if table == "bits" else ("config", r["config"]),
              plan.trials) for table, r in rows]
    tick = (lambda k=1: progress(k * plan.trials)) if progress is not None else None   # plan.count(): trials
    runner = run_all or partial(serial_runs, progress=tick)
    for (table, r), res in zip(rows, runner(_evaluate_task, tasks, study, desc="variability sweep")):
        r = dict(r)
        if table != "bits":
            r["config"] = r["config"].to_dict()
        out[table].append({**r, **res})
    return out


def _evaluate_task(study: Study, task: tuple) -> dict:
    """One row of :func:`run_sweep`: ``(("config", cfg), trials)`` or ``(("bit", encoding, bit, p), trials)``."""
    what, trials = task
    if what[0] == "bit":
        return study.evaluate_bit(what[1], what[2], what[3], trials)
    return study.evaluate(what[1], trials)


def _sweep_rows(study: Study, plan: SweepPlan, base: VariabilityConfig) -> list[tuple[str, dict]]:
    """``(table, row head)`` of every row of :func:`run_sweep`, in table order; a head holds the
    :class:`VariabilityConfig` under ``"config"`` (bit rows: encoding, bit, field, p)."""
    rows: list[tuple[str, dict]] = []
    for e in plan.encodings:
        for b in plan.bits_per_cell:
            for s in plan.spreads:
                rows.append(("spread", {"config": replace(base, encoding=e, bits_per_cell=b, spread_scale=s),
                                        "device_misread": device_misread(study.lut, b, s, base.window_scale,
                                                                         base.reference)}))
            for wnd in plan.windows:
                model = study.lut.state_model(b).scaled(base.spread_scale, wnd)
                rows.append(("window", {"config": replace(base, encoding=e, bits_per_cell=b, window_scale=wnd),
                                        "window_ratio": float(math.exp(model.mu[0] - model.mu[-1])),
                                        "device_misread": device_misread(study.lut, b, base.spread_scale, wnd,
                                                                         base.reference)}))
    for e in plan.encodings:
        enc = we.get_encoding(e)
        for bit in range(enc.width):
            rows.append(("bits", {"encoding": e, "bit": bit, "field": enc.field_of(bit), "p": plan.bit_p}))
    for e in plan.encodings:
        for b in plan.bits_per_cell:
            for s in plan.protect_spreads:
                for over in plan.protect_rows(b):
                    rows.append(("protect", {"config": replace(base, encoding=e, bits_per_cell=b, spread_scale=s,
                                                               **over),
                                             "variant": ", ".join(f"{k}={v}" for k, v in over.items())}))
    for e in plan.encodings:
        for kind in plan.stuck_kinds:
            for rate in plan.stuck_rates:
                lrs = rate if kind in ("lrs", "both") else 0.0
                hrs = rate if kind in ("hrs", "both") else 0.0
                rows.append(("stuck", {"config": replace(base, encoding=e, bits_per_cell=1,
                                                         spread_scale=plan.stuck_spread, p_stuck_lrs=lrs,
                                                         p_stuck_hrs=hrs), "kind": kind, "rate": rate}))
    return rows


# --------------------------------------------------------------------------------------------------
# Plots and the Markdown table
# --------------------------------------------------------------------------------------------------
_FLOOR = 1e-9
_COLORS = {"float32": "C0", "float16": "C1", "bfloat16": "C2", "fixed8": "C3"}


def plot_sweep(res: dict, out_dir: str | Path, prefix: str = "variability") -> list[Path]:
    """Write the study figures; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    encs = list(dict.fromkeys(r["config"]["encoding"] for r in res["spread"]))
    bpcs = sorted({r["config"]["bits_per_cell"] for r in res["spread"]})

    def curves(kind: str, xkey, ykey, ylabel, fname, logy, title):
        fig, axes = plt.subplots(1, len(bpcs), figsize=(5.2 * len(bpcs), 4), squeeze=False)
        for ax, b in zip(axes[0], bpcs):
            for e in encs:
                rows = [r for r in res[kind] if r["config"]["encoding"] == e and r["config"]["bits_per_cell"] == b]
                x = [xkey(r) for r in rows]
                if ykey == "relative_error":
                    y = [max(r["relative_error"], _FLOOR) for r in rows]
                    lo = [max(r["relative_error_min"], _FLOOR) for r in rows]
                    hi = [max(r["relative_error_max"], _FLOOR) for r in rows]
                    ax.fill_between(x, lo, hi, color=_COLORS.get(e), alpha=0.15)
                else:
                    y = [100 * r["test_accuracy"] for r in rows]
                ax.plot(x, y, "o-", color=_COLORS.get(e), label=e, ms=4)
            if ykey != "relative_error":
                ax.axhline(100 * res["ideal_test_accuracy"], color="k", ls=":", lw=1, label="ideal (float32)")
            if logy:
                ax.set_yscale("log")
            ax.set_title(f"{b} bit{'s' if b > 1 else ''} per cell")
            ax.set_xlabel(title)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3, which="both")
            if kind == "spread":
                sec = ax.secondary_xaxis("top")
                rows = [r for r in res[kind] if r["config"]["encoding"] == encs[0] and r["config"]["bits_per_cell"] == b]
                sec.set_xticks([xkey(r) for r in rows][::2])
                sec.set_xticklabels([f"{r['device_misread']:.0e}" for r in rows][::2], fontsize=7)
                sec.set_xlabel("device misread probability", fontsize=8)
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        p = out / fname
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)

    curves("spread", lambda r: r["config"]["spread_scale"], "relative_error",
           "relative error ||Y-Y_ideal||/||Y_ideal||", f"{prefix}_error_vs_spread.png", True,
           "spread scale (x measured sigma of ln R)")
    curves("spread", lambda r: r["config"]["spread_scale"], "test_accuracy", "test accuracy (%)",
           f"{prefix}_accuracy_vs_spread.png", False, "spread scale (x measured sigma of ln R)")
    if res["window"]:
        curves("window", lambda r: r["window_ratio"], "relative_error",
               "relative error", f"{prefix}_error_vs_window.png", True,
               "memory window R_max/R_min (smaller = more overlap)")

    # per-bit sensitivity
    if res["bits"]:
        bencs = list(dict.fromkeys(r["encoding"] for r in res["bits"]))
        fig, axes = plt.subplots(len(bencs), 1, figsize=(10, 2.3 * len(bencs)), squeeze=False)
        fcol = {"sign": "C3", "exponent": "C1", "mantissa": "C0", "magnitude": "C0"}
        for ax, e in zip(axes[:, 0], bencs):
            rows = [r for r in res["bits"] if r["encoding"] == e]
            x = [r["bit"] for r in rows]
            ax.bar(x, [max(r["relative_error"], _FLOOR) for r in rows], color=[fcol[r["field"]] for r in rows])
            ax.set_yscale("log")
            ax.set_xlim(max(x) + 0.7, -0.7)  # MSB on the left
            ax.set_ylabel("added rel. error")
            ax2 = ax.twinx()
            ax2.plot(x, [100 * (res["ideal_test_accuracy"] - r["test_accuracy"]) for r in rows], "k.", ms=5)
            ax2.set_ylabel("acc. drop (pp)", fontsize=8)
            ax.set_title(f"{e}: bit flipped with p = {rows[0]['p']:g} per weight "
                         f"(red sign, orange exponent, blue mantissa/magnitude)", fontsize=9)
        axes[-1, 0].set_xlabel("bit position (MSB left)")
        fig.tight_layout()
        p = out / f"{prefix}_bit_sensitivity.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)

    if res["stuck"]:
        kinds = list(dict.fromkeys(r["kind"] for r in res["stuck"]))
        sencs = list(dict.fromkeys(r["config"]["encoding"] for r in res["stuck"]))
        fig, axes = plt.subplots(2, len(kinds), figsize=(4.6 * len(kinds), 7), squeeze=False)
        for j, kind in enumerate(kinds):
            for e in sencs:
                rows = [r for r in res["stuck"] if r["kind"] == kind and r["config"]["encoding"] == e]
                x = [max(r["rate"], 3e-5) for r in rows]
                axes[0, j].plot(x, [max(r["relative_error"], _FLOOR) for r in rows], "o-", color=_COLORS.get(e),
                                label=e, ms=4)
                axes[1, j].plot(x, [100 * r["test_accuracy"] for r in rows], "o-", color=_COLORS.get(e), ms=4)
            for i in range(2):
                axes[i, j].set_xscale("log")
                axes[i, j].grid(alpha=0.3, which="both")
            axes[0, j].set_yscale("log")
            axes[0, j].set_title(f"stuck at {kind.upper() if kind != 'both' else 'LRS and HRS (each)'}")
            axes[1, j].set_xlabel("stuck device fraction (0 plotted at 3e-5)")
            axes[1, j].axhline(100 * res["ideal_test_accuracy"], color="k", ls=":", lw=1)
        axes[0, 0].set_ylabel("relative error")
        axes[1, 0].set_ylabel("test accuracy (%)")
        axes[0, 0].legend(fontsize=8)
        fig.tight_layout()
        p = out / f"{prefix}_stuck_at.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


def _fmt_err(e: float) -> str:
    return "0" if e == 0 else f"{e:.2g}"


def markdown_tables(res: dict, nominal_spread: float = 1.0) -> str:
    """Markdown tables: nominal point per encoding/bits per cell, protection cost, per-field bits, stuck-at."""
    lines = []
    ideal = 100 * res["ideal_test_accuracy"]
    lines.append(f"Ideal (trained float32 weights) test accuracy on the evaluation set: {ideal:.2f} %.\n")
    lines.append("| encoding | bits/cell | devices/weight | BER (bits) | rel. error (median [min, max]) | "
                 "accuracy (%) | rel. error, spread 0 |")
    lines.append("|---|---|---|---|---|---|---|")
    for r in res["spread"]:
        c = r["config"]
        if c["spread_scale"] != nominal_spread:
            continue
        zero = [q for q in res["spread"] if q["config"]["encoding"] == c["encoding"]
                and q["config"]["bits_per_cell"] == c["bits_per_cell"] and q["config"]["spread_scale"] == 0.0]
        z = _fmt_err(zero[0]["relative_error"]) if zero else "-"
        lines.append(f"| {c['encoding']} | {c['bits_per_cell']} | {r['devices_per_weight']} | "
                     f"{r['bit_error_rate']:.1e} | {_fmt_err(r['relative_error'])} "
                     f"[{_fmt_err(r['relative_error_min'])}, {_fmt_err(r['relative_error_max'])}] | "
                     f"{100 * r['test_accuracy']:.2f} ± {100 * r['test_accuracy_std']:.2f} | {z} |")
    if res["protect"]:
        lines.append("\nProtection of the critical MSBs (sign + exponent; sign + 2 MSBs for fixed8) and read-out "
                     "variants (one change from the base configuration each):\n")
        lines.append("| encoding | bits/cell | spread | variant | devices/weight | overhead | BER | "
                     "rel. error (median) | accuracy (%) |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for r in res["protect"]:
            c = r["config"]
            d0 = we.n_cells(we.get_encoding(c["encoding"]).width, c["bits_per_cell"])
            lines.append(f"| {c['encoding']} | {c['bits_per_cell']} | {c['spread_scale']:g} | "
                         f"{r.get('variant', c['protect'])} | "
                         f"{r['devices_per_weight']} | {100 * (r['devices_per_weight'] / d0 - 1):+.0f} % | "
                         f"{r['bit_error_rate']:.1e} | {_fmt_err(r['relative_error'])} | "
                         f"{100 * r['test_accuracy']:.2f} |")
    if res["bits"]:
        lines.append(f"\nPer-field bit sensitivity (one bit position flipped with p = {res['bits'][0]['p']:g} "
                     "per weight; error added to the format's own quantization error, ||Y - Y_q|| / ||Y_ideal||; "
                     "worst and median bit of each field):\n")
        lines.append("| encoding | field | bits | worst bit: rel. error / accuracy drop (pp) | median rel. error |")
        lines.append("|---|---|---|---|---|")
        for e in dict.fromkeys(r["encoding"] for r in res["bits"]):
            rows = [r for r in res["bits"] if r["encoding"] == e]
            for fld in [f[0] for f in we.get_encoding(e).fields]:
                fr = [r for r in rows if r["field"] == fld]
                worst = max(fr, key=lambda r: r["relative_error"])
                med = float(np.median([r["relative_error"] for r in fr]))
                lines.append(f"| {e} | {fld} | {max(r['bit'] for r in fr)}..{min(r['bit'] for r in fr)} | "
                             f"bit {worst['bit']}: {_fmt_err(worst['relative_error'])} / "
                             f"{ideal - 100 * worst['test_accuracy']:.2f} | {_fmt_err(med)} |")
    if res["stuck"]:
        sp = res["stuck"][0]["config"]["spread_scale"]
        lines.append(f"\nStuck-at faults (1 bit per cell, spread scale {sp:g}); columns are the stuck fraction of "
                     "devices (for 'both': each of LRS and HRS): accuracy (%) / relative error\n")
        rates = list(dict.fromkeys(r["rate"] for r in res["stuck"]))
        lines.append("| encoding | stuck at | " + " | ".join(f"{x:g}" for x in rates) + " |")
        lines.append("|---|---|" + "---|" * len(rates))
        for e in dict.fromkeys(r["config"]["encoding"] for r in res["stuck"]):
            for kind in dict.fromkeys(r["kind"] for r in res["stuck"]):
                rows = [r for r in res["stuck"] if r["kind"] == kind and r["config"]["encoding"] == e]
                cells = " | ".join(f"{100 * r['test_accuracy']:.1f} / {_fmt_err(r['relative_error'])}" for r in rows)
                lines.append(f"| {e} | {kind} | {cells} |")
    return "\n".join(lines) + "\n"
