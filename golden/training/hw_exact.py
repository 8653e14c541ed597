"""Hardware-exact in-situ training: forward and backward through the array's read path (issue 12).

The network, devices, initial weights, sample order and update path are those of
:mod:`golden.training.in_situ`; what changes is that every pass is the chip's:

1. **Forward, layer 1**: the image's x codes ``u1`` (and the bias row's code ``2**x_frac``, the value
   1.0) go through :func:`golden.mvm.read_path.forward_read` of layer 1's conductance codes, with
   read noise. The scaling is chosen so that the output code *is* the hidden activation in the
   update engine's x format (``x_width = input_width`` bits, ``x_frac`` fraction bits); ReLU and
   quantisation are the clamp ``h = min(max(y1, 0), 2**x_width - 1)``: integer arithmetic
   (:func:`hidden_codes`).
2. **Forward, layer 2**: ``u2 = [h, 2**x_frac]`` through layer 2; the output codes are the logits in
   units of ``2**-logit_frac``.
3. **Host**: the softmax error of the 10 logit codes, returned as the 10 layer-2 delta codes in the
   engine's delta format (:func:`softmax_delta_codes`; integers and one table built once).
4. **Backward**: the transposed read of layer 2 (hidden rows only) with ``e = saturate(round(d2 /
   2**error_shift), input_width)`` (round half up; :func:`error_codes`); its scaling gives the
   layer-1 delta codes directly; ``d1 = saturate(y_t, delta_width) * (h > 0)`` (ReLU';
   :func:`layer1_deltas`). Steps 1 and 4 (the clamp, the error codes, ReLU') are the chip's
   :class:`hw.mvm_activation_unit.MvmActivationUnit`, whose twin calls these functions.
5. **Updates**: both layers through :meth:`SynapseArray.plan_update_codes` with these codes (the
   engine's exact ``outer_dw``, chi, arbitration, pulses; no float quantisation of deltas), the
   device model in its hardware-exact mode (:class:`golden.physics.device.DeviceModel`,
   ``exact=True``).
6. **Accuracy**: the same forward reads on the test set (read noise with sample indices from
   :data:`EVAL_T0` on), class = argmax of the logit codes, ties to the lowest index.

What runs on the host: (a) the image's x codes, ``rint(pixel * 2**x_frac)`` saturated (float32, one
exact multiply by a power of two and ``rint``; the host streams codes); (b) the softmax error: 10
logit codes in, 10 delta codes out per sample. Everything else above is integer arithmetic or
exactly rounded float64 (conductances, read noise), so the same seed gives the same ADC codes and
pulses on every machine (:func:`run_digest` hashes them).

Set-up constants (once per run; exactly rounded float64 and exact rationals)
----------------------------------------------------------------------------
* ``g_lsb = device.g_max / 2**g_bits``; ``g_ref`` code ``= rint(g_ref / g_lsb)`` (non-differential).
* Full scales: ``FS = ceil(fs_margin * m_q * code(g_fs))``, where ``m_q`` is the 99.9th percentile,
  over the first ``calib_samples`` training samples and the input bits, of the number of lines
  driven in one read (forward: rows with the bit set; layer 2 from the initial network's noise-free
  hidden codes; transposed: synapse columns with the bit set times the devices per read, ``D`` or
  ``N``, from the initial network's errors), and ``g_fs`` the mean device conductance the range is
  dimensioned for: non-differential halfway between the reference (symmetry point) and ``g_max``,
  differential the refresh level ``g_min + refresh_threshold * (g_max - g_min)`` (a group's mean
  never stays above it). ``fs_margin`` (default 1) scales all three.
* Scalings (``scale_factor`` of the exact rational): layer 1 ``scale_1 * g_lsb * FS_1 / 2**A``
  (output = hidden x code); layer 2 ``scale_2 * g_lsb * FS_2 / 2**A * 2**(logit_frac - x_frac)``;
  transposed ``scale_2 * g_lsb * FS_t / 2**A * (lsb_2 / lsb_1) * 2**error_shift`` (output = layer-1
  delta code), with ``scale_l`` the weight per uS and ``lsb_l`` the dw LSB of layer ``l``
  (:class:`SynapseArray`).
* ``error_shift``: the smallest shift that maps a layer-2 error of magnitude ``error_range``
  (default 1, the largest a softmax error can have, at the first sample's learning rate) into the
  ``input_width``-bit signed range; smaller errors lose low bits (they round to 0 below ``2**-b_in``
  of the range).
* The learning rate schedule must be ``constant`` or ``linear`` (computed with ``+ - * /``).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np

from golden.data.datasets import Dataset
from golden.mvm import read_path as rp
from golden.spec.checks import ConfigError, check_float, check_int
from golden.spec.mvm_params import MvmParams
from golden.spec.params import EngineParams
from golden.training.in_situ import (
    InSituMLP,
    TrainingConfig,
    _progress,
    _training_split,
    engine_params_for,
    initial_weights,
    lr_at,
    sample_order,
)
from golden.training.multi_device_synapses import SynapseArray, apply_plans

#: sample index of the first test-set read (evaluation reads never share a counter with training)
EVAL_T0 = 1 << 36
#: fraction bits of the softmax exponentials (2**30 = exp(0))
SOFTMAX_FRAC = 30
#: output width of every pass (the codes are then clamped to their destination format)
OUT_WIDTH = 24


@dataclass(frozen=True)
class HwExactConfig:
    """A hardware-exact training run: the in-situ configuration plus the read path's formats.

    Attributes
    ----------
    training : TrainingConfig
        Network, schedule (``constant`` or ``linear``), synapses, update formats, device, seed. Its
        ``engine`` gives ``delta_width`` / ``delta_frac``; ``x_width`` and ``x_frac`` are replaced by
        the read path's (below). ``read_noise`` is ignored (see ``read_noise`` here).
    input_width : int, 2..8
        b_in of the read path, and the x code width of the update engine.
    adc_width : int, 2..12
    x_frac : int or None, 0..input_width - 1
        Fraction bits of the x codes (None: ``max(0, input_width - 3)``, i.e. hidden activations up
        to 8 at 8 bits, 7.5 in steps of 0.5 at 4 bits).
    logit_frac : int, 0..12
        Fraction bits of the logit codes.
    g_bits : int, 8..16
    fs_margin : float, (0, 100]
        Multiplies every full scale (module docstring).
    error_range : float, (0, 1]
        Layer-2 error magnitude that maps to the largest transposed-read input code.
    error_shift : int or None, 0..24
        Explicit shift from layer-2 delta codes to transposed-read inputs (None: from ``error_range``).
    calib_samples : int, 1..100000
        Training samples the full scales are derived from.
    read_noise : bool
        Read noise in every ADC read (the device's ``read_mult`` / ``read_add``).
    """

    training: TrainingConfig = field(default_factory=TrainingConfig)
    input_width: int = 8
    adc_width: int = 8
    x_frac: int | None = None
    logit_frac: int = 4
    g_bits: int = 12
    fs_margin: float = 1.0
    error_range: float = 1.0
    error_shift: int | None = None
    calib_samples: int = 256
    read_noise: bool = True

    def __post_init__(self):
        if not isinstance(self.training, TrainingConfig):
            raise ConfigError("hw_exact.training must be a TrainingConfig")
        check_int("mvm.input_width", self.input_width, 2, 8)
        check_int("mvm.adc_width", self.adc_width, 2, 12)
        if self.x_frac is not None:
            check_int("hw_exact.x_frac", self.x_frac, 0, self.input_width - 1)
        check_int("hw_exact.logit_frac", self.logit_frac, 0, 12)
        check_int("mvm.g_bits", self.g_bits, 8, 16)
        check_float("hw_exact.fs_margin", self.fs_margin, 0.0, 100.0, lo_open=True)
        check_float("hw_exact.error_range", self.error_range, 0.0, 1.0, lo_open=True)
        if self.error_shift is not None:
            check_int("hw_exact.error_shift", self.error_shift, 0, 24)
        check_int("hw_exact.calib_samples", self.calib_samples, 1, 100000)
        if self.training.lr_schedule not in ("constant", "linear"):
            raise ConfigError(f"training.lr_schedule = {self.training.lr_schedule!r} is not allowed in "
                              "hardware-exact mode: choose one of ['constant', 'linear'] (computed with "
                              "+ - * / only)")

    @property
    def xf(self) -> int:
        """The x codes' fraction bits."""
        return max(0, self.input_width - 3) if self.x_frac is None else self.x_frac

    def engine(self) -> EngineParams:
        """The update engine's formats: x codes of ``input_width`` bits, the training config's deltas."""
        e = self.training.engine
        return replace(e, x_width=self.input_width, x_frac=self.xf)

    def to_dict(self) -> dict:
        return asdict(self)


def hw_exact_config(devices: int = 4, differential: bool = False, input_width: int = 8, adc_width: int = 8,
                    **kw) -> HwExactConfig:
    """:func:`golden.training.in_situ.make_config` (analog devices) plus the read path's formats.

    Keyword arguments go to :class:`HwExactConfig` if they are its fields, else to ``make_config``.
    """
    from dataclasses import fields

    from golden.training.in_situ import make_config
    own = {f.name for f in fields(HwExactConfig)}
    mine = {k: kw.pop(k) for k in list(kw) if k in own}
    kw.setdefault("engine", engine_params_for(differential, False, devices))
    tc = make_config(devices=devices, differential=differential, **kw)
    return HwExactConfig(training=tc, input_width=input_width, adc_width=adc_width, **mine)


# --- host side: the softmax error ------------------------------------------------------------------
def exp_table(logit_frac: int, frac: int = SOFTMAX_FRAC) -> np.ndarray:
    """``T[d] = round(2**frac * exp(-d / 2**logit_frac))`` for ``d = 0, 1, ..`` until it is 0 (int64).

    Built with Python's :mod:`decimal` at 40 significant digits (``Decimal.exp`` is correctly
    rounded, libmpdec gives the same digits everywhere), then rounded half-even to an integer.
    """
    out = []
    with localcontext() as ctx:
        ctx.prec = 40
        scale = Decimal(2) ** frac
        step = Decimal(1) / (Decimal(2) ** logit_frac)
        d = 0
        while True:
            v = int(((-d * step).exp() * scale).to_integral_value())
            out.append(v)
            if v == 0:
                break
            d += 1
    return np.array(out, dtype=np.int64)


def delta_factor(lr: float, lsb: float, delta_frac: int) -> Fraction:
    """``K = -lr / lsb * 2**delta_frac`` as an exact rational of the float64 values."""
    return -Fraction(lr) / Fraction(lsb) * (1 << delta_frac)


def softmax_delta_codes(logits: np.ndarray, label: int, k: Fraction, table: np.ndarray, lo: int, hi: int
                        ) -> np.ndarray:
    """The 10 delta codes ``saturate(round(K * (softmax(z) - onehot(label))), [lo, hi])`` (int64).

    ``logits`` are integer codes; ``E_i = table[max(z) - z_i]`` (0 beyond the table), ``p_i = E_i /
    sum E``; the code is ``floor((2 * num + den) / (2 * den))`` (round half up) of the exact rational
    ``(E_i - [i == label] * sum E) * K / sum E``, all Python integers.
    """
    z = np.asarray(logits, dtype=np.int64)
    d = np.minimum(z.max() - z, len(table) - 1)
    e = table[d].tolist()
    s = sum(e)
    kn, kd = k.numerator, k.denominator
    den2 = 2 * s * kd
    out = []
    for i, ei in enumerate(e):
        num = (ei - (s if i == label else 0)) * kn
        out.append(min(max((2 * num + s * kd) // den2, lo), hi))
    return np.array(out, dtype=np.int64)


def error_codes(d2: np.ndarray, shift: int, width: int) -> np.ndarray:
    """Transposed-read inputs ``saturate(floor((d2 + 2**(shift-1)) / 2**shift), width)`` (signed)."""
    v = np.asarray(d2, dtype=np.int64)
    if shift:
        v = (v + (1 << (shift - 1))) >> shift
    return np.clip(v, -(1 << (width - 1)), (1 << (width - 1)) - 1)


def hidden_codes(y: np.ndarray, width: int) -> np.ndarray:
    """ReLU and quantisation of layer-1 outputs to the x format: ``min(max(y, 0), 2**width - 1)`` (int64)."""
    return np.clip(np.asarray(y, dtype=np.int64), 0, (1 << width) - 1)


def hidden_saturations(y: np.ndarray, width: int) -> int:
    """How many layer-1 outputs :func:`hidden_codes` clips at the top (``y > 2**width - 1``)."""
    return int(np.count_nonzero(np.asarray(y) > (1 << width) - 1))


def error_saturations(d2: np.ndarray, shift: int, width: int) -> int:
    """How many codes :func:`error_codes` saturates to ``width`` bits."""
    return int(np.count_nonzero(error_codes(d2, shift, width) != error_codes(d2, shift, 64)))


def layer1_deltas(yt: np.ndarray, h: np.ndarray, width: int) -> np.ndarray:
    """ReLU' of the transposed read: ``saturate(yt, width) * (h > 0)`` (signed ``width`` bits, int64)."""
    v = np.clip(np.asarray(yt, dtype=np.int64), -(1 << (width - 1)), (1 << (width - 1)) - 1)
    return v * (np.asarray(h) > 0)


def delta_saturations(yt: np.ndarray, width: int) -> int:
    """How many transposed-read outputs :func:`layer1_deltas` saturates (masked or not)."""
    yt = np.asarray(yt)
    return int(np.count_nonzero((yt > (1 << (width - 1)) - 1) | (yt < -(1 << (width - 1)))))


def _quantile_int(a: np.ndarray, num: int = 999, den: int = 1000) -> int:
    """The ``num/den`` quantile of integers (the smallest value with at least that share at or below)."""
    a = np.sort(np.asarray(a, dtype=np.int64).ravel())
    if a.size == 0:
        return 0
    idx = max(0, (num * a.size + den - 1) // den - 1)
    return int(a[idx])


def _bits_ones(codes: np.ndarray, width: int) -> np.ndarray:
    """``(..., width)`` number of codes with bit k set (two's complement for negatives)."""
    c = np.asarray(codes, dtype=np.int64) & ((1 << width) - 1)
    k = np.arange(width, dtype=np.int64)
    return ((c[..., None, :] >> k[:, None]) & 1).sum(axis=-1)


class _Layer:
    """A layer's conductance codes (float64 matrix for the read path, and its squares)."""

    def __init__(self, arr: SynapseArray, mvm: MvmParams, g_max: float):
        self.arr, self.mvm, self.g_max = arr, mvm, g_max
        self.gc = np.empty((arr.rows, arr.cols * arr.D))
        self.gc2 = np.empty_like(self.gc)
        self.refresh_all()

    def refresh_all(self) -> None:
        self.gc[:] = rp.g_codes(self.arr.g.reshape(self.arr.rows, -1), self.mvm, self.g_max)
        np.multiply(self.gc, self.gc, out=self.gc2)

    def refresh_at(self, r: np.ndarray, c: np.ndarray) -> None:
        """Codes of synapses ``(r, c)`` after their devices changed."""
        if r.size == 0:
            return
        a = self.arr
        codes = rp.g_codes(a.g[r, c], self.mvm, self.g_max).astype(np.float64)    # (k, D)
        g3 = self.gc.reshape(a.rows, a.cols, a.D)
        g3[r, c] = codes
        self.gc2.reshape(a.rows, a.cols, a.D)[r, c] = codes * codes


class HwExactMLP:
    """The two-array network trained with the chip's forward, backward and update passes.

    Parameters
    ----------
    cfg : HwExactConfig
    n_in, n_out : int
        Network inputs and classes.
    calib_x, calib_y : float32 array (samples, n_in), int array (samples,)
        The calibration images and labels (the first ``cfg.calib_samples`` of the first epoch's order).
    """

    def __init__(self, cfg: HwExactConfig, n_in: int, n_out: int, calib_x: np.ndarray, calib_y: np.ndarray):
        self.cfg = cfg
        tc = replace(cfg.training, engine=cfg.engine(), read_noise="off")
        self.tc = tc
        self.net = InSituMLP(tc, n_in, n_out, exact=True)
        self.net.program(initial_weights(tc.seed, n_in, tc.hidden, n_out))
        self.n_in, self.H, self.n_out = n_in, tc.hidden, n_out
        dev = tc.device
        syn = tc.synapse
        self.N, self.diff = syn.devices, syn.differential
        self.b, self.xf = cfg.input_width, cfg.xf
        self.x_max = (1 << self.b) - 1
        self.one = 1 << self.xf                                  # x code of the bias input 1.0
        e = tc.engine
        self.d_hi = (1 << (e.delta_width - 1)) - 1
        self.d_lo = -self.d_hi - 1
        self.delta_frac = e.delta_frac
        base = MvmParams(input_width=self.b, adc_width=cfg.adc_width, g_bits=cfg.g_bits, out_width=OUT_WIDTH)
        self.g_lsb = base.g_lsb(dev.g_max)
        L1, L2 = self.net.layers
        self.g_ref = 0 if self.diff else int(np.rint(L1.g_ref / self.g_lsb))
        self.layers = [_Layer(L1, base, dev.g_max), _Layer(L2, base, dev.g_max)]
        self.noise = [rp.ReadNoise.of_device(dev, base, tc.seed, i) if cfg.read_noise else None
                      for i in range(2)]
        self.table = exp_table(cfg.logit_frac)
        A = cfg.adc_width
        # error shift: |delta| = error_range at the first sample's lr maps to the largest e code
        k0 = abs(delta_factor(lr_at(tc, 0, 1), L2.lsb, self.delta_frac)) * Fraction(cfg.error_range)
        if cfg.error_shift is None:
            es, top = 0, (1 << (self.b - 1)) - 1
            while k0 > top * (1 << es):
                es += 1
            self.error_shift = es
        else:
            self.error_shift = cfg.error_shift
        # full scales from the calibration samples (module docstring)
        sp = dev.g_max - dev.g_min
        g_fs = (dev.g_min + tc.refresh_threshold * sp) if self.diff else 0.5 * (L1.g_ref + dev.g_max)
        g_fs_code = Fraction(int(rp.g_codes(g_fs, base, dev.g_max)))
        margin = Fraction(cfg.fs_margin)

        def fs_of(m: int) -> int:
            return max(1, math.ceil(margin * max(m, 1) * g_fs_code))

        u1 = self.x_codes(calib_x)
        u1 = np.hstack([u1, np.full((u1.shape[0], 1), self.one, dtype=np.int64)])
        fs1 = fs_of(_quantile_int(_bits_ones(u1, self.b)))
        self.p1 = replace(base, adc_full_scale=fs1,
                          **self._scale(Fraction(L1.scale) * Fraction(self.g_lsb) * fs1 / (1 << A)))
        h = hidden_codes(self._read(0, u1, None, 0, noise=False).y, self.b)
        u2 = np.hstack([h, np.full((h.shape[0], 1), self.one, dtype=np.int64)])
        fs2 = fs_of(_quantile_int(_bits_ones(u2, self.b)))
        self.p2 = replace(base, adc_full_scale=fs2, **self._scale(
            Fraction(L2.scale) * Fraction(self.g_lsb) * fs2 / (1 << A) * Fraction(2) ** (cfg.logit_frac - self.xf)))
        logits = self._read(1, u2, None, 0, noise=False).y
        k = delta_factor(lr_at(tc, 0, 1), L2.lsb, self.delta_frac)
        e = np.stack([error_codes(softmax_delta_codes(z, int(lab), k, self.table, self.d_lo, self.d_hi),
                                  self.error_shift, self.b) for z, lab in zip(logits, calib_y)])
        per_read = self.N if self.diff else L2.D
        fst = fs_of(_quantile_int(_bits_ones(e, self.b)) * per_read)
        ratio_t = (Fraction(L2.scale) * Fraction(self.g_lsb) * fst / (1 << A) * Fraction(L2.lsb) / Fraction(L1.lsb)
                   * (1 << self.error_shift))
        m, s = rp.scale_factor(ratio_t)
        self.pt = replace(base, adc_full_scale=fst, t_scale_mult=m, t_scale_shift=s)
        self.t = 0
        self._hash = hashlib.sha256()
        self.stats = {"adc_reads": 0, "adc_saturated": 0, "hidden_saturated": 0, "hidden_codes": 0,
                      "e_saturated": 0, "e_codes": 0, "d1_saturated": 0, "d2_saturated": 0}

    # --- set-up helpers ----------------------------------------------------------------------------
    @staticmethod
    def _scale(ratio: Fraction) -> dict:
        m, s = rp.scale_factor(ratio)
        return {"scale_mult": m, "scale_shift": s}

    def x_codes(self, x: np.ndarray) -> np.ndarray:
        """Host: the images' x codes ``min(rint(x * 2**x_frac), 2**b - 1)`` (float32 -> int64)."""
        q = np.rint(np.asarray(x, dtype=np.float32) * np.float32(self.one))
        return np.minimum(q, self.x_max).astype(np.int64)

    def constants(self) -> dict:
        """The run's set-up constants (full scales, scalings, shifts, reference code)."""
        return {"g_lsb": self.g_lsb, "g_ref_code": self.g_ref, "error_shift": self.error_shift,
                "x_frac": self.xf, "logit_frac": self.cfg.logit_frac,
                "fs": [self.p1.adc_full_scale, self.p2.adc_full_scale, self.pt.adc_full_scale],
                "scale": [(self.p1.scale_mult, self.p1.scale_shift), (self.p2.scale_mult, self.p2.scale_shift),
                          (self.pt.t_scale_mult, self.pt.t_scale_shift)]}

    # --- passes ------------------------------------------------------------------------------------
    def _read(self, li: int, u: np.ndarray, rows, t, noise: bool = True) -> rp.ReadResult:
        lay = self.layers[li]
        g = lay.gc if rows is None else lay.gc[rows]
        g2 = lay.gc2 if rows is None else lay.gc2[rows]
        return rp.forward_read(g, u, self.p1 if li == 0 else self.p2, devices=self.N, differential=self.diff,
                               g_ref=self.g_ref, noise=self.noise[li] if noise else None, t=t, g2=g2)

    def forward(self, u1: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
        """``(rows1, h, logits, (r1, r2))`` of one image's x codes ``u1`` (without the bias)."""
        rows1 = np.append(np.flatnonzero(u1), self.n_in)
        u = np.append(u1[rows1[:-1]], self.one)
        r1 = self._read(0, u, rows1, t)
        h = hidden_codes(r1.y, self.b)
        u2 = np.append(h, self.one)
        r2 = self._read(1, u2, None, t)
        return rows1, u, u2, (r1, r2)

    def step(self, u1: np.ndarray, label: int, lr: float) -> None:
        """One training sample: forward, host softmax error, transposed read, both updates."""
        t = self.t
        H = self.H
        rows1, u, u2, (r1, r2) = self.forward(u1, t)
        L1, L2 = self.net.layers
        st = self.stats
        h = u2[:H]
        st["hidden_saturated"] += hidden_saturations(r1.y, self.b)
        st["hidden_codes"] += H
        k = delta_factor(lr, L2.lsb, self.delta_frac)
        d2 = softmax_delta_codes(r2.y, label, k, self.table, self.d_lo, self.d_hi)
        e = error_codes(d2, self.error_shift, self.b)
        st["e_codes"] += e.size
        st["e_saturated"] += error_saturations(d2, self.error_shift, self.b)
        lay2 = self.layers[1]
        rt = rp.transposed_read(lay2.gc[:H], e, self.pt, devices=self.N, differential=self.diff,
                                g_ref=self.g_ref, noise=self.noise[1], t=t, g2=lay2.gc2[:H])
        yt = rt.y
        st["d1_saturated"] += delta_saturations(yt, self.tc.engine.delta_width)
        d1 = layer1_deltas(yt, h, self.tc.engine.delta_width)
        for r in (r1, r2, rt):
            st["adc_reads"] += r.codes.size
            st["adc_saturated"] += int(np.count_nonzero(r.codes == self.p1.code_max))
        plans = [L1.plan_update_codes(rows1, u, d1), L2.plan_update_codes(None, u2, d2)]
        apply_plans(self.net.layers, plans)
        hs = self._hash
        for r in (r1, r2, rt):
            hs.update(r.codes.astype("<i2").tobytes())
        for li, (arr, plan) in enumerate(zip(self.net.layers, plans)):
            slot = (plan.ids - arr.id_base) % arr.D
            for v in (plan.rows, plan.cols, slot, plan.polarity, plan.count):
                hs.update(np.asarray(v, dtype="<i8").tobytes())
            self.layers[li].refresh_at(plan.rows, plan.cols)
        self.t += 1
        if self.diff and self.t % self.tc.refresh_every == 0:
            for li, arr in enumerate(self.net.layers):
                r, c = arr.refresh_due()
                if r.size:
                    arr.refresh(r, c)
                    self.layers[li].refresh_at(np.asarray(r), np.asarray(c))
                    hs.update(np.asarray(r, dtype="<i8").tobytes() + np.asarray(c, dtype="<i8").tobytes())

    def digest(self) -> str:
        """sha256 of every ADC code and pulse so far, and of the current conductance codes."""
        h = self._hash.copy()
        for lay in self.layers:
            h.update(lay.gc.astype("<i4").tobytes())
        return h.hexdigest()

    def predict(self, x_codes: np.ndarray, t0: int = EVAL_T0, noise: bool = True) -> np.ndarray:
        """Classes of images (x codes) through the forward reads; argmax, ties to the lowest index."""
        out = np.empty(len(x_codes), dtype=np.int64)
        for i, u1 in enumerate(x_codes):
            rows1 = np.append(np.flatnonzero(u1), self.n_in)
            u = np.append(u1[rows1[:-1]], self.one)
            r1 = self._read(0, u, rows1, t0 + i, noise)
            u2 = np.append(hidden_codes(r1.y, self.b), self.one)
            out[i] = int(np.argmax(self._read(1, u2, None, t0 + i, noise).y))
        return out

    def accuracy(self, x: np.ndarray, y: np.ndarray, noise: bool = True) -> float:
        return float(np.mean(self.predict(self.x_codes(x), noise=noise) == y))


def train_hw_exact(data: Dataset, cfg: HwExactConfig, progress: bool = False, noise_free_eval: bool = False,
                   test_samples: int | None = None) -> dict:
    """Train with every pass through the read path (module docstring); returns accuracy, digest, stats."""
    tc = cfg.training
    x, y = _training_split(data, tc)
    xt, yt = data.x_test[:test_samples], data.y_test[:test_samples]
    t_setup = time.perf_counter()
    order0 = sample_order(tc.seed, len(y), 0)
    calib = order0[:cfg.calib_samples]
    net = HwExactMLP(cfg, data.n_inputs, data.n_classes, x[calib], y[calib])
    xc = net.x_codes(x)
    setup = time.perf_counter() - t_setup
    bar = _progress(tc.epochs * len(y), f"hw-exact N={tc.synapse.devices} A={cfg.adc_width} b={cfg.input_width}",
                    progress)
    total, t = tc.epochs * len(y), 0
    curve = []
    t0 = time.perf_counter()
    for ep in range(tc.epochs):
        order = order0 if ep == 0 else sample_order(tc.seed, len(y), ep)
        for n, i in enumerate(order):
            net.step(xc[i], int(y[i]), lr_at(tc, t, total))
            t += 1
            if bar is not None and n % 500 == 499:
                bar.update(500)
        t_eval = time.perf_counter()
        curve.append(net.accuracy(xt, yt))
        eval_time = time.perf_counter() - t_eval
    train_time = time.perf_counter() - t0 - eval_time * tc.epochs
    if bar is not None:
        bar.update(bar.total - bar.n)
        bar.close()
    res = {
        "test_accuracy": curve[-1],
        "test_accuracy_per_epoch": curve,
        "seconds_per_sample": train_time / max(total, 1),
        "eval_seconds": eval_time,
        "setup_seconds": setup,
        "samples": total,
        "test_samples": len(yt),
        "pulses": int(sum(a.pulse_total for a in net.net.layers)),
        "refreshes": int(sum(a.refreshes for a in net.net.layers)),
        "saturations": [a.saturations() for a in net.net.layers],
        "read_path": net.stats,
        "constants": net.constants(),
        "digest": net.digest(),
        "net": net,
    }
    if noise_free_eval:
        res["test_accuracy_noise_free"] = net.accuracy(xt, yt, noise=False)
    return res
