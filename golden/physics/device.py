"""Stochastic pulse-response model of one resistive memory device (ReRAM, with a PCM stand-in preset).

The model is used twice: by the golden in-situ training run (:mod:`golden.training.in_situ`) and by the
testbench's behavioural ReRAM array, which applies it to every pulse the RTL emits. Every random draw
is counter-based (:mod:`golden.spec.rng`): the response of device ``device_id`` to its ``k``-th pulse is a
pure function of ``(seed, device_id, k)``, so both users obtain the same conductances whatever order
the pulses are applied in (docs/ARCHITECTURE.md, "Bit-true conventions").

Equations (all conductances in uS)
----------------------------------
Per device ``i`` the parameters are drawn once (device-to-device spread, lognormal factors with
``z_j = rng.normal(seed, STREAM_DEVICE, i, j)``)::

    a_set_i   = a_set   * exp(d2d_step * z_0)          a_reset_i = a_reset * exp(d2d_step * z_1)
    g_min_i   = g_min   * exp(d2d_bounds * z_2)        g_max_i   = g_max   * exp(d2d_bounds * z_3)
    p_set_i   = clip(p_set   * exp(d2d_step * z_0), 0, 1)    (binary mode; same factor as a_set)
    p_reset_i = clip(p_reset * exp(d2d_step * z_1), 0, 1)

Where the two bound draws would leave a device less than 5 % of the nominal window,
``g_max_i = g_min_i + 0.05 (g_max - g_min)`` (a device always has a window; this is part of the
model, not a silent correction of a parameter: for the default 5..50 uS window it concerns no
device at ``d2d_bounds`` <= 0.3, 0.12 % at 0.5 and 7 % at 1.0). A *fitted* ``d2d_bounds`` or ``d2d_step``
above the allowed 2.0 is reported by :func:`golden.physics.device_fit.fit`, never clamped silently.
With the normalised state ``x = (G - g_min_i) / (g_max_i -
g_min_i)`` clipped to [0, 1], a pulse ``k`` (``xi = rng.normal(seed, STREAM_PULSE_MEAN, i, k)``) does:

analog mode (``binary = False``)::

    mu_SET(G)   = +a_set_i   * (1 - x) ** gamma_set          (state-dependent, "soft bounds")
    mu_RESET(G) = -a_reset_i * x ** gamma_reset
    sigma(G)    = sqrt((noise_mult * mu)**2 + (noise_add + noise_state * (G - g_min_i))**2)
    G'          = clip(G + mu + sigma * xi, g_min_i, g_max_i)

``sigma`` is the standard deviation of ``mu * (1 + noise_mult * n1) + (noise_add + noise_state *
(G - g_min)) * n2`` with independent standard normals ``n1, n2`` (multiplicative plus additive
cycle-to-cycle noise), drawn with one normal per pulse. With ``reset_mode = "abrupt"`` (PCM: a RESET
melts and re-amorphises the cell) a RESET instead sets ``G' = clip(g_init + g_init_std * xi, g_min_i,
g_max_i)``.

binary mode (``binary = True``): two levels ``g_min_i`` and ``g_max_i``. A SET pulse on a device in
the low state (``x < 0.5``) switches it to ``g_max_i`` with probability ``p_set_i``; a RESET pulse on a
device in the high state switches it to ``g_min_i`` with probability ``p_reset_i``
(``u = rng.uniform(seed, STREAM_PULSE_SWITCH, i, k) < p``). Otherwise the conductance is unchanged.

Initial state: ``G_0 = clip(g_init + g_init_std * rng.normal(seed, STREAM_INIT, i, 0), g_min_i,
g_max_i)`` (binary mode: ``g_min_i``).

Read: ``read(G) = max(0, G + sqrt((read_mult * G)**2 + read_add**2) * rng.normal(seed, STREAM_READ, i,
r))`` for the ``r``-th read of device ``i``.

Hardware-exact mode
-------------------
``DeviceModel(params, seed, exact=True)`` computes every value that decides a conductance with
operations whose result IEEE 754 fixes bit for bit (``+ - * /``, ``sqrt``, comparisons, ``rint`` and
scaling by powers of two), so that the same seed gives the same conductances on every machine and
numpy build:

* every normal draw is :func:`golden.spec.rng.normal_exact` (Irwin-Hall of order 4 from the same
  counter-based hash; no ``ndtri``), uniforms are unchanged (the top 53 bits of the hash);
* the device-to-device factors ``exp(sigma * z)`` use :func:`exp_exact` (Cody-Waite reduction and a
  fixed Horner polynomial; relative error below 1e-15, see there);
* the state dependence ``(1 - x)**gamma``, ``x**gamma`` is formed by multiplications, so only
  ``gamma_set, gamma_reset`` in {0, 1, 2} are allowed (a ConfigError names the field otherwise).

The model is the same; only the normal draws differ in distribution (Irwin-Hall: the same mean and
variance, tails bounded at 3.46 std), so an exact-mode chip is a different chip of the same seed.

Presets
-------
:data:`RERAM_HFO2` (the default) — a Pt/HfO2/Ti/TiN-like bidirectional filamentary ReRAM. The
numbers are *literature-plausible, not measured by us* (Boybat et al. used such a stack but published
no fit): a 5..50 uS window (20 kOhm..200 kOhm at a 0.2 V read); an abrupt-ish SET (``a_set`` = 8 uS at
``g_min``, ~6 pulses to reach 2/3 of the window) and a more gradual RESET (``a_reset`` = 6 uS), i.e.
only ~10-20 distinguishable levels under identical pulses, as typical of filamentary HfOx without
compliance tuning; cycle-to-cycle noise with a standard deviation equal to the mean step plus
0.5 uS (HfOx analog-update fits report c2c noise of the order of the step or larger, e.g. the
Gong et al. 2018 fit used in IBM's aihwkit ReRAM presets); 30 % device-to-device spread of the step
sizes and 10 % of the bounds (as in those presets); read noise 2 % + 0.1 uS.
:data:`RERAM_BINARY` — the same window used as a two-level device, switching probability 0.5 per pulse.

:data:`PCM_NANDAKUMAR` — the published PCM stand-in of Nandakumar et al., 2018,
SET-only with an abrupt RESET: mean dG = m1*G + c1 + A1*P, sigma = m2*G + c2 + A2*P with
m1 = -0.084, c1 = 0.880 uS,
A1 = 1.40, m2 = 0.091, c2 = 0.260 uS, A2 = 2.15, G in [0.1, 12] uS. We take the pulse
term P = 0.1 (the unit of P in the published fit is not available to us). The linear mean law is
mapped onto ``a_set * (1 - x)`` with ``a_set = m1*g_min + c1 + A1*P`` = 1.0116 uS; our slope
(a_set / (g_max - g_min) = 0.0850 /pulse) differs from |m1| = 0.084 by 1 %, i.e. by at most 0.012 uS
over the window. The sigma law maps exactly onto ``noise_add = m2*g_min + c2 + A2*P`` and
``noise_state = m2``. The published model's read noise and drift are not included.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.special import ndtri

from golden.spec import rng
from golden.spec.params import (
    ConfigError,
    LoOpen,
    check_bool,
    check_choice,
    check_floats,
    dataclass_from_dict,
)

SET = 1
RESET = 0

_MASK = (1 << 64) - 1


def _splitmix_int(x: int) -> int:
    """splitmix64 on a Python int (exactly :func:`golden.spec.rng.splitmix64` for one value)."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def stream_key(seed: int, stream: int) -> np.uint64:
    """The per-(seed, stream) key of :func:`golden.spec.rng.hash64`, computed once."""
    return np.uint64(_splitmix_int((seed & _MASK) ^ _splitmix_int(stream & _MASK)))


def _sm_inplace(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """splitmix64 of a uint64 array in place (``t`` is scratch of the same shape)."""
    z += rng._GOLDEN
    np.right_shift(z, np.uint64(30), out=t)
    z ^= t
    z *= rng._M1
    np.right_shift(z, np.uint64(27), out=t)
    z ^= t
    z *= rng._M2
    np.right_shift(z, np.uint64(31), out=t)
    z ^= t
    return z


def uniform_keyed(key: np.uint64, index, counter) -> np.ndarray:
    """``golden.spec.rng.uniform(seed, stream, index, counter)`` for ``key = stream_key(seed, stream)``.

    The same values as :mod:`golden.spec.rng` (tests/golden/physics/test_device.py checks bit equality), computed with
    in-place uint64 arithmetic and the key computed once; ``index`` and ``counter`` broadcast.
    """
    h = hash_keyed(key, index, counter)
    h >>= np.uint64(11)
    u = h.astype(np.float64)
    u += 0.5
    u *= 1.0 / (1 << 53)
    return u


def hash_keyed(key: np.uint64, index, counter) -> np.ndarray:
    """``golden.spec.rng.hash64(seed, stream, index, counter)`` for ``key = stream_key(seed, stream)``
    (in-place uint64 arithmetic)."""
    idx = np.asarray(index, dtype=np.uint64)
    cnt = np.asarray(counter, dtype=np.uint64)
    shape = np.broadcast_shapes(idx.shape, cnt.shape)
    h = np.empty(shape, dtype=np.uint64)
    np.bitwise_xor(idx, key, out=h)
    t = np.empty(shape, dtype=np.uint64)
    _sm_inplace(h, t)
    c = np.array(np.broadcast_to(cnt, shape), dtype=np.uint64)
    _sm_inplace(c, t)
    h ^= c
    return _sm_inplace(h, t)


def normal_exact_keyed(key: np.uint64, index, counter) -> np.ndarray:
    """``golden.spec.rng.normal_exact(seed, stream, index, counter)`` for ``key = stream_key(seed, stream)``."""
    h = hash_keyed(key, index, counter)
    f = np.uint64(0xFFFF)
    s = h & f
    for sh in (16, 32):
        s += (h >> np.uint64(sh)) & f
    s += h >> np.uint64(48)
    return (s.astype(np.int64) - rng.Z_MEAN).astype(np.float64) * rng.Z_SCALE


def normal_keyed(key: np.uint64, index, counter) -> np.ndarray:
    """``golden.spec.rng.normal(seed, stream, index, counter)`` for ``key = stream_key(seed, stream)``."""
    return ndtri(uniform_keyed(key, index, counter))


_LOG2E = 1.4426950408889634                  # log2(e), correctly rounded
_LN2_HI = float.fromhex("0x1.62e42feep-1")  # ln 2 split (fdlibm): n * _LN2_HI is exact for |n| < 2**20
_LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
#: Taylor coefficients 1/k!, k = 13..0 (each one correctly rounded division)
_EXP_COEF = tuple(1.0 / math.factorial(k) for k in range(13, -1, -1))


def exp_exact(x) -> np.ndarray:
    """``exp(x)`` from exactly rounded operations only (machine and numpy-build independent).

    ``n = rint(x * log2(e))``, ``r = (x - n * ln2_hi) - n * ln2_lo`` (``|r| <= 0.347``), ``exp(r)`` by
    the degree-13 Taylor polynomial in Horner form (truncation error below 4e-18 relative), then
    ``ldexp(exp(r), n)`` (exact). For ``|x| <= 700`` the relative error is below 1e-15
    (tests/golden/physics/test_device_exact.py compares against correctly rounded values); the value
    is not always the correctly rounded one, but it is the same bits everywhere.
    """
    x = np.asarray(x, dtype=np.float64)
    n = np.rint(x * _LOG2E)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = np.full(x.shape, _EXP_COEF[0])
    for c in _EXP_COEF[1:]:
        p = p * r + c
    return np.ldexp(p, n.astype(np.int64))


def _pow_small(v: np.ndarray, gamma: float) -> np.ndarray:
    """``v ** gamma`` for gamma in {0, 1, 2} by multiplication (exactly rounded)."""
    if gamma == 0.0:
        return np.ones_like(v)
    if gamma == 1.0:
        return v
    return v * v


EXACT_GAMMAS = (0.0, 1.0, 2.0)


#: index ``j`` of the device-to-device draws ``rng.normal(seed, STREAM_DEVICE, device_id, j)``
_D2D_SET, _D2D_RESET, _D2D_GMIN, _D2D_GMAX = 0, 1, 2, 3


@dataclass(frozen=True)
class DeviceParams:
    """Parameters of the device model (see the module docstring for the equations).

    Attributes
    ----------
    g_min, g_max : float, uS
        Conductance bounds (0 <= g_min < g_max <= 10000).
    a_set, a_reset : float, uS, (0, g_max - g_min]
        Mean SET step at ``G = g_min`` and mean RESET step (magnitude) at ``G = g_max``.
    gamma_set, gamma_reset : float, 0..10
        Exponent of the state dependence (0: constant step; 1: exponential approach to the bound).
    noise_mult : float, 0..5
        Multiplicative cycle-to-cycle noise (std as a fraction of the mean step).
    noise_add : float, uS, 0..g_max
        Additive cycle-to-cycle noise std.
    noise_state : float, 0..5
        Additive noise std growing with ``G - g_min`` (per uS; PCM preset).
    d2d_step, d2d_bounds : float, 0..2
        Device-to-device spread: log-std of the step sizes (and switching probabilities) and of the
        bounds.
    g_init, g_init_std : float, uS
        Initial conductance mean (g_min..g_max) and std (0..g_max).
    reset_mode : "gradual" | "abrupt"
        Abrupt: a RESET returns the device to its initial distribution (PCM).
    binary : bool
        Two-level device with a switching probability per pulse.
    p_set, p_reset : float, 0..1
        Binary mode switching probabilities (low -> high on SET, high -> low on RESET).
    read_mult, read_add : float
        Read noise: relative std (0..1) and additive std in uS (0..g_max).
    """

    g_min: float = 5.0
    g_max: float = 50.0
    a_set: float = 8.0
    a_reset: float = 6.0
    gamma_set: float = 1.0
    gamma_reset: float = 1.0
    noise_mult: float = 1.0
    noise_add: float = 0.5
    noise_state: float = 0.0
    d2d_step: float = 0.3
    d2d_bounds: float = 0.1
    g_init: float = 6.0
    g_init_std: float = 0.5
    reset_mode: str = "gradual"
    binary: bool = False
    p_set: float = 0.5
    p_reset: float = 0.5
    read_mult: float = 0.02
    read_add: float = 0.1

    def __post_init__(self):
        check_floats(self, "device", g_min=(0.0, 10000.0))
        check_floats(self, "device", g_max=LoOpen(self.g_min, 10000.0))
        # the ranges below are computed from the bounds checked above
        span = self.g_max - self.g_min
        check_floats(self, "device", a_set=LoOpen(0.0, span), a_reset=LoOpen(0.0, span),
                     gamma_set=(0.0, 10.0), gamma_reset=(0.0, 10.0), noise_mult=(0.0, 5.0),
                     noise_add=(0.0, self.g_max), noise_state=(0.0, 5.0), d2d_step=(0.0, 2.0),
                     d2d_bounds=(0.0, 2.0), g_init=(self.g_min, self.g_max), g_init_std=(0.0, self.g_max))
        check_choice("device.reset_mode", self.reset_mode, ("gradual", "abrupt"))
        check_bool("device.binary", self.binary)
        check_floats(self, "device", p_set=(0.0, 1.0), p_reset=(0.0, 1.0), read_mult=(0.0, 1.0),
                     read_add=(0.0, self.g_max))

    # --- derived ------------------------------------------------------------------------------
    @property
    def g_mid(self) -> float:
        return 0.5 * (self.g_min + self.g_max)

    def mean_step(self, g, polarity: int) -> np.ndarray:
        """Mean conductance change of one pulse at state ``g`` for the nominal (no-spread) device."""
        g = np.asarray(g, dtype=np.float64)
        span = self.g_max - self.g_min
        x = np.clip((g - self.g_min) / span, 0.0, 1.0)
        if self.binary:
            if polarity == SET:
                return np.where(x < 0.5, self.p_set * (self.g_max - g), 0.0)
            return np.where(x >= 0.5, -self.p_reset * (g - self.g_min), 0.0)
        # gamma 0, 1, 2 by multiplication: the same values as ``**`` (numpy's own fast path), and no
        # libm call on the hardware-exact path
        if polarity == SET:
            if self.gamma_set in EXACT_GAMMAS:
                return self.a_set * _pow_small(1.0 - x, self.gamma_set)
            return self.a_set * (1.0 - x) ** self.gamma_set
        if self.reset_mode == "abrupt":
            return self.g_init - g
        if self.gamma_reset in EXACT_GAMMAS:
            return -self.a_reset * _pow_small(x, self.gamma_reset)
        return -self.a_reset * x ** self.gamma_reset

    @property
    def nominal_step(self) -> float:
        """The device's nominal mean step |dG| per pulse (uS): the one the update threshold eps maps to.

        Analog: mean of the SET and RESET mean-step magnitudes at mid-window ``(g_min + g_max) / 2``
        (PCM-like abrupt RESET: the SET step there). Binary: the mean conductance change of one pulse
        averaged over the two states and polarities, ``(p_set + p_reset) / 4 * (g_max - g_min)``.
        """
        if self.binary:
            return 0.25 * (self.p_set + self.p_reset) * (self.g_max - self.g_min)
        up = float(self.mean_step(self.g_mid, SET))
        if self.reset_mode == "abrupt":
            return up
        down = float(-self.mean_step(self.g_mid, RESET))
        return 0.5 * (up + down)

    def with_(self, **kw: Any) -> DeviceParams:
        return replace(self, **kw)

    def to_dict(self) -> dict:
        return asdict(self)


def device_params_from_dict(d: dict) -> DeviceParams:
    """Build :class:`DeviceParams` from a dict; unknown keys are a :class:`ConfigError`."""
    return dataclass_from_dict(DeviceParams, d, "device")


#: Default: Pt/HfO2/Ti/TiN-like analog ReRAM (literature-plausible numbers, not measured by us).
RERAM_HFO2 = DeviceParams()

#: Binary (two-level, stochastic switching) variant of the same stack.
RERAM_BINARY = DeviceParams(binary=True, p_set=0.5, p_reset=0.5, g_init=5.0, g_init_std=0.0)

_P = 0.1
#: PCM stand-in of Nandakumar et al. 2018 (see module docstring for the mapping).
PCM_NANDAKUMAR = DeviceParams(
    g_min=0.1, g_max=12.0,
    a_set=-0.084 * 0.1 + 0.880 + 1.40 * _P, a_reset=1.0, gamma_set=1.0, gamma_reset=1.0,
    noise_mult=0.0, noise_add=0.091 * 0.1 + 0.260 + 2.15 * _P, noise_state=0.091,
    d2d_step=0.0, d2d_bounds=0.0, g_init=0.1, g_init_std=0.01, reset_mode="abrupt",
    read_mult=0.0, read_add=0.0)

PRESETS = {"reram": RERAM_HFO2, "reram-binary": RERAM_BINARY, "pcm": PCM_NANDAKUMAR}


class PerDevice:
    """Per-device parameters after device-to-device spread.

    ``tab[..., j]`` holds, for the devices it was computed for: j = 0 the SET strength (``a_set_i``,
    or ``p_set_i`` in binary mode), 1 the RESET strength (``a_reset_i`` / ``p_reset_i``), 2 ``g_min_i``,
    3 ``g_max_i``.
    """

    __slots__ = ("tab",)

    def __init__(self, tab: np.ndarray):
        self.tab = tab

    up = property(lambda self: self.tab[..., 0])
    down = property(lambda self: self.tab[..., 1])
    g_min = property(lambda self: self.tab[..., 2])
    g_max = property(lambda self: self.tab[..., 3])

    def take(self, index) -> PerDevice:
        """The entries at ``index`` (any numpy index over the device axes)."""
        return PerDevice(self.tab[index])


class DeviceModel:
    """Vectorised, counter-based device model: ``initial``, ``pulse``, ``read``.

    Parameters
    ----------
    params : DeviceParams
    seed : int
        Chip seed: fixes the device-to-device spread and every cycle-to-cycle and read-noise draw.
    exact : bool
        Hardware-exact mode (module docstring): exactly rounded operations only on every path that
        decides a conductance; ``gamma_set`` and ``gamma_reset`` must be 0, 1 or 2.

    All methods take arrays that broadcast against each other; device ids are global non-negative
    integers (for an array: ``row * phys_cols + phys_col``). Results are float64 conductances in uS.
    ``dev`` (from :meth:`per_device`, shaped like the broadcast result) may be passed to skip
    recomputing the device-to-device parameters.
    """

    def __init__(self, params: DeviceParams | None = None, seed: int = 0, exact: bool = False):
        if params is None:
            params = RERAM_HFO2
        if not isinstance(params, DeviceParams):
            raise ConfigError(f"device params must be a DeviceParams, got {type(params).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"device seed must be a non-negative integer, got {seed!r}")
        check_bool("device model exact", exact)
        if exact:
            for name in ("gamma_set", "gamma_reset"):
                v = getattr(params, name)
                if v not in EXACT_GAMMAS:
                    raise ConfigError(f"device.{name} = {v} is not allowed in hardware-exact mode: "
                                      "choose one of [0, 1, 2] (the state dependence is formed by "
                                      "multiplication)")
        self.params = params
        self.seed = int(seed)
        self.exact = exact
        self._key = {st: stream_key(self.seed, st) for st in
                     (rng.STREAM_PULSE_MEAN, rng.STREAM_PULSE_SWITCH, rng.STREAM_DEVICE, rng.STREAM_READ,
                      rng.STREAM_INIT)}

    def normal(self, stream: int, index, counter) -> np.ndarray:
        """``golden.spec.rng.normal(self.seed, stream, index, counter)`` (exact mode:
        :func:`golden.spec.rng.normal_exact`)."""
        key = self._key.get(stream)
        if key is None:
            key = stream_key(self.seed, stream)
        if self.exact:
            return normal_exact_keyed(key, index, counter)
        return normal_keyed(key, index, counter)

    def uniform(self, stream: int, index, counter) -> np.ndarray:
        """``golden.spec.rng.uniform(self.seed, stream, index, counter)``."""
        key = self._key.get(stream)
        if key is None:
            key = stream_key(self.seed, stream)
        return uniform_keyed(key, index, counter)

    # --- device-to-device ---------------------------------------------------------------------
    def per_device(self, device_ids) -> PerDevice:
        """Device-to-device parameters of ``device_ids`` (pure function of seed and id)."""
        p = self.params
        ids = np.asarray(device_ids, dtype=np.uint64)

        def factor(sigma: float, j: int) -> np.ndarray:
            if sigma == 0.0:
                return np.ones(ids.shape)
            if self.exact:
                return exp_exact(sigma * self.normal(rng.STREAM_DEVICE, ids, j))
            return np.exp(sigma * self.normal(rng.STREAM_DEVICE, ids, j))

        tab = np.empty(ids.shape + (4,))
        f_set = factor(p.d2d_step, _D2D_SET)
        f_reset = factor(p.d2d_step, _D2D_RESET)
        if p.binary:
            tab[..., 0] = np.minimum(p.p_set * f_set, 1.0)
            tab[..., 1] = np.minimum(p.p_reset * f_reset, 1.0)
        else:
            tab[..., 0] = p.a_set * f_set
            tab[..., 1] = p.a_reset * f_reset
        g_min = p.g_min * factor(p.d2d_bounds, _D2D_GMIN)
        g_max = p.g_max * factor(p.d2d_bounds, _D2D_GMAX)
        tab[..., 2] = g_min
        tab[..., 3] = np.maximum(g_max, g_min + 0.05 * (p.g_max - p.g_min))
        return PerDevice(tab)

    # --- state transitions ----------------------------------------------------------------------
    def initial(self, device_ids, dev: PerDevice | None = None) -> np.ndarray:
        """Conductance of fresh devices (after forming), uS."""
        ids = np.asarray(device_ids, dtype=np.uint64)
        if dev is None:
            dev = self.per_device(ids)
        p = self.params
        if p.binary:
            return np.array(np.broadcast_to(dev.g_min, ids.shape), dtype=np.float64)
        g = p.g_init + p.g_init_std * self.normal(rng.STREAM_INIT, ids, 0)
        return np.clip(g, dev.g_min, dev.g_max)

    def pulse(self, g, device_ids, pulse_index, polarity, dev: PerDevice | None = None) -> np.ndarray:
        """Conductance after one programming pulse.

        Parameters
        ----------
        g : array, uS
            Current conductances.
        device_ids : int array
            Global device ids.
        pulse_index : int array
            The device's own pulse counter ``k`` (0 for its first pulse, counting SET and RESET).
        polarity : int array
            1 = SET (conductance up), 0 = RESET (down).
        dev : PerDevice, optional
            :meth:`per_device` of the broadcast ids (computed if omitted).
        """
        g = np.asarray(g, dtype=np.float64)
        ids = np.asarray(device_ids, dtype=np.uint64)
        k = np.asarray(pulse_index, dtype=np.uint64)
        pol = np.asarray(polarity)
        if pol.size and not np.all((pol == 0) | (pol == 1)):
            raise ValueError("polarity must be 1 (SET) or 0 (RESET)")
        shape = np.broadcast_shapes(g.shape, ids.shape, k.shape, pol.shape)
        if dev is None:
            dev = self.per_device(np.broadcast_to(ids, shape))
        tab = np.broadcast_to(dev.tab, shape + (4,))
        return self.step(np.broadcast_to(g, shape), np.broadcast_to(pol == SET, shape), tab,
                         self.draws(ids, k))

    def draws(self, device_ids, pulse_index) -> np.ndarray:
        """The random draw of each pulse: ``rng.normal(seed, STREAM_PULSE_MEAN, id, k)`` (analog) or
        ``rng.uniform(seed, STREAM_PULSE_SWITCH, id, k)`` (binary)."""
        if self.params.binary:
            return self.uniform(rng.STREAM_PULSE_SWITCH, device_ids, pulse_index)
        return self.normal(rng.STREAM_PULSE_MEAN, device_ids, pulse_index)

    def step(self, g: np.ndarray, up: np.ndarray, tab: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """The pulse equations on aligned arrays: the core of :meth:`pulse`.

        ``g`` float64, ``up`` bool (True = SET), ``tab`` per-device table (``PerDevice.tab`` rows of
        these devices), ``xi`` the pulses' draws (:meth:`draws`). Returns a new float64 array.
        """
        p = self.params
        gmin = tab[..., 2]
        gmax = tab[..., 3]
        if p.binary:
            prob = np.where(up, tab[..., 0], tab[..., 1])
            high = (g - gmin) >= 0.5 * (gmax - gmin)
            switch = (xi < prob) & (up != high)
            return np.where(switch, np.where(up, gmax, gmin), g)
        x = np.clip((g - gmin) / (gmax - gmin), 0.0, 1.0)
        if self.exact:          # the powers as multiplications (gamma in {0, 1, 2})
            mu = np.where(up, tab[..., 0] * _pow_small(1.0 - x, p.gamma_set),
                          -(tab[..., 1] * _pow_small(x, p.gamma_reset)))
        elif p.gamma_set == 1.0 and p.gamma_reset == 1.0:
            mu = np.where(up, tab[..., 0] * (1.0 - x), -(tab[..., 1] * x))
        else:
            mu = np.where(up, tab[..., 0] * (1.0 - x) ** p.gamma_set, -(tab[..., 1] * x ** p.gamma_reset))
        add = p.noise_add + p.noise_state * (g - gmin) if p.noise_state else p.noise_add
        if p.noise_mult:
            m = p.noise_mult * mu
            sigma = np.sqrt(m * m + add * add)     # m * m: the square exactly rounded, no power call
        else:
            sigma = add
        out = g + mu + sigma * xi
        if p.reset_mode == "abrupt":
            out = np.where(up, out, p.g_init + p.g_init_std * xi)
        return np.clip(out, gmin, gmax)

    def pulses(self, g, device_ids, first_index, polarity, count, dev: PerDevice | None = None) -> np.ndarray:
        """Apply ``count`` (>= 0, per element) pulses of one polarity; pulse indices ``first_index ..``.

        Equivalent to calling :meth:`pulse` ``count`` times with increasing ``pulse_index``.
        """
        g = np.array(g, dtype=np.float64)
        ids = np.asarray(device_ids)
        count = np.asarray(count)
        shape = np.broadcast_shapes(g.shape, ids.shape, np.shape(first_index), np.shape(polarity),
                                    count.shape)
        g = np.array(np.broadcast_to(g, shape))
        ids = np.broadcast_to(ids, shape)
        k0 = np.broadcast_to(np.asarray(first_index), shape)
        pol = np.broadcast_to(np.asarray(polarity), shape)
        cnt = np.broadcast_to(count, shape)
        if dev is None:
            dev = self.per_device(ids)
        for j in range(int(cnt.max(initial=0))):
            sel = np.nonzero(cnt > j)
            g[sel] = self.pulse(g[sel], ids[sel], k0[sel] + j, pol[sel], dev=dev.take(sel))
        return g

    def read(self, g, device_ids, read_index) -> np.ndarray:
        """Noisy read of conductances ``g`` (the ``read_index``-th read of each device)."""
        p = self.params
        g = np.asarray(g, dtype=np.float64)
        if p.read_mult == 0.0 and p.read_add == 0.0:
            return np.array(np.broadcast_to(g, np.broadcast_shapes(g.shape, np.shape(device_ids),
                                                                    np.shape(read_index))), dtype=np.float64)
        n = self.normal(rng.STREAM_READ, np.asarray(device_ids, dtype=np.uint64),
                        np.asarray(read_index, dtype=np.uint64))
        if self.exact:
            m = p.read_mult * g
            return np.maximum(0.0, g + np.sqrt(m * m + p.read_add * p.read_add) * n)
        return np.maximum(0.0, g + np.sqrt((p.read_mult * g) ** 2 + p.read_add ** 2) * n)

    def response_curve(self, device_ids, n_set: int, n_reset: int) -> np.ndarray:
        """Conductance trajectory of fresh devices under ``n_set`` SET then ``n_reset`` RESET pulses.

        Returns an array ``(n_set + n_reset + 1, len(device_ids))`` (row 0 = initial state).
        """
        ids = np.asarray(device_ids).ravel()
        dev = self.per_device(ids)
        g = self.initial(ids, dev=dev)
        out = [g]
        for k in range(n_set + n_reset):
            g = self.pulse(g, ids, k, SET if k < n_set else RESET, dev=dev)
            out.append(g)
        return np.stack(out)
