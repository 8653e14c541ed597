"""Hardware model of a BNN layer: 2T2R ReRAM bridges, source-line inverters, capacitive neuron, clocked SA.

Every random quantity is counter-based (:mod:`golden.spec.rng`, stream ``STREAM_BNN``): a draw is a pure
function of ``(seed, kind, layer, neuron, input)`` (static, per programming cycle) or of
``(seed, kind, layer, neuron, image)`` (per read), so the cocotb array model injects exactly the same
errors whatever order the hardware evaluates neurons and images in.

Bridge (one weight)
-------------------
Devices ``top`` (BL -> SL) and ``bot`` (SL -> BLb), each with an access transistor ``r_access`` in
series. ``w = 1``: top LRS, bot HRS; ``w = 0``: top HRS, bot LRS. Input ``x = 1`` drives BL = VDD,
BLb = 0 (``x = 0`` the opposite). The source-line node sits at the divider voltage; it is high
(> ``vm``) iff ``x == w``, and the inverter regenerates it to a full-swing level, so the neuron receives
``XNOR(x, w)`` (the polarity of the inverter is absorbed in which side of the differential neuron it
drives). With ``R_H'``/``R_L'`` the HRS/LRS branch resistances (device + access) and ``m = vm/VDD``,
a bridge fails

* when its output should be 1 (``x == w``) iff ``R_H' < R_L' * m/(1-m)``,
* when its output should be 0 (``x != w``) iff ``R_H' < R_L' * (1-m)/m``.

Resistances are lognormal, ``ln R = ln r_median + s_d2d*z_dev + s_c2c*z_cycle`` with one ``z_dev`` per
device and state and one ``z_cycle`` per programming cycle: the bridge errors are *static* between
two programmings (read noise of a divider followed by a high-gain inverter is neglected).
:func:`bridge_error_probability` gives the bit-error rate by quadrature over the two lognormals and
the inverter threshold spread; :func:`bridge_error_monte_carlo` checks it.

Neuron (fully differential, capacitive)
---------------------------------------
Cell ``i`` (``N`` inputs, then ``B`` bias cells whose input is 1) drives unit capacitor ``c+_i`` of
the positive summing node with its bit ``b_i`` and ``c-_i`` of the negative node with ``1 - b_i``;
``c = 1 + cap_mismatch*z`` (static). Each node also carries ``c_par_units`` of parasitic capacitance.
Differential voltage ``V = VDD*(sum c+ b/(sum c+ + c_par) - sum c- (1-b)/(sum c- + c_par))``; ideally
``V = VDD*delta/(N_tot + c_par)`` with ``delta = 2*P_tot - N_tot``. The SA decides
``V*g(T) + offset + noise > 0`` with ``g(T) = 1 - exp(-T/(2 tau))``, offset static per neuron and
noise per decision, ``sigma_noise(T) = sa_noise*sqrt(t_ref/T)``.

SA offset trim (``HardwareConfig.sa_calibration``): the static offset is cancelled by reprogramming
the neuron's bias cells, ``k' = clip(k - shift, 0, B)``, with ``shift`` either the true offset in
bias-cell steps ("oracle") or measured by the chip's bias-cell ramp with noisy SA decisions
("measured", :mod:`golden.bnn.sa_calibration`; ``reram-accel bnn``'s nominal operating point).

Authors' error model (Ezzadeen et al.)
--------------------------------------
``P_err(delta) = 0.5*exp(-(|delta| + 1)^2 / (2 sigma^2))``, ``sigma = a*N_tot + b``, ``a, b`` per SA
clock. The precursor reports 3.12 % errors over the full popcount range (every odd ``delta`` in
``[-N_tot, N_tot]``); the paper's fitted ``a, b`` are not public to us. Two calibrations at the
nominal 10 ns clock (:func:`authors_ab`):

* ``"fabricated"`` (default): 3.12 % at the fabricated layer size ``N_tot = 23``, with the slope
  ``a = sigma_SA/VDD`` of our physical SA (input-referred offset + noise, 7.2 mV at 10 ns, over
  0.8 V): ``a = 0.00903, b = 1.785`` (sigma = 1.99 at N_tot = 23, 11.96 at 1127, where the
  full-range error is 0.62 %).
* ``"scale_invariant"``: 3.12 % at *every* N_tot (the literal reading "large neurons, 3.12 %"):
  ``a = 0.0498, b = 0.848`` (sigma = 57 at N_tot = 1127). It implies an input-referred SA sigma of
  ~5 % of VDD (40 mV at 0.8 V), which we consider implausible for a designed SA; reported as the
  pessimistic bound.

Other clocks scale ``a`` and ``b`` by the physical model's ratio of input-referred sigma
``sigma(T)/sigma(10 ns)`` (shorter clocks are noisier). The authors' form is the Chernoff upper bound
of a Gaussian tail ``Phi(-(|delta|+1)/sigma)``, so for the same sigma it is the more pessimistic one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr

from golden.bnn.model_params import BridgeParams, NeuronParams
from golden.bnn.noise_streams import (  # noqa: F401  (re-used by the studies and tests through this module)
    KIND_CAL_NOISE,
    KIND_CAL_PATTERN,
    KIND_CAP_N,
    KIND_CAP_P,
    KIND_R_BOT_C2C,
    KIND_R_BOT_HRS,
    KIND_R_BOT_LRS,
    KIND_R_TOP_C2C,
    KIND_R_TOP_HRS,
    KIND_R_TOP_LRS,
    KIND_READ_ERR,
    KIND_SA_ERR,
    KIND_SA_NOISE,
    KIND_SA_OFFSET,
    KIND_STUCK_BOT,
    KIND_STUCK_TOP,
    KIND_VM,
    KIND_WEIGHT_ERR,
    MAX_INDEX,
    MAX_LAYER,
    synapse_index,
)
from golden.bnn.sa_calibration import (
    DEFAULT_PATTERNS,
    DEFAULT_REPEATS,
    CalibrationState,
    calibrate_layer,
    check_calibration,
)
from golden.spec import rng
from golden.spec.params import ConfigError, check_choice, check_float, check_int

#: authors' model at the nominal clock, "fabricated" calibration (see module docstring)
AUTHORS_A = 0.009031
AUTHORS_B = 1.785
#: "scale_invariant" calibration: 3.12 % full-range error at every N_tot
SCALE_INVARIANT_A = 0.0498
SCALE_INVARIANT_B = 0.848
NOMINAL_CLOCK_NS = 10.0
FULL_RANGE_TARGET = 0.0312
FABRICATED_N_TOT = 23
CALIBRATIONS = ("fabricated", "scale_invariant")


# ---------------------------------------------------------------------------------------------
# error-injection functions shared with the cocotb array model
# ---------------------------------------------------------------------------------------------
def weight_bit_errors(seed: int, layer: int, neuron_idx, input_idx, p: float, cycle: int = 0) -> np.ndarray:
    """Static bridge errors (programming cycle ``cycle``): True where the bridge of ``(neuron, input)``
    reads as the inverted weight, with probability ``p``. Pure function of the indices (broadcast)."""
    check_float("bit_error", p, 0.0, 1.0)
    idx = synapse_index(KIND_WEIGHT_ERR, layer, neuron_idx, input_idx)
    return rng.uniform(seed, rng.STREAM_BNN, idx, np.uint64(cycle)) < p


def bridge_bit_errors(seed: int, layer: int, image_idx, neuron_idx, input_idx, p: float) -> np.ndarray:
    """Per-read bridge errors: True where the XNOR of ``(neuron, input)`` is inverted while
    ``image_idx`` is evaluated (probability ``p``). Pure function of the indices (broadcast)."""
    check_float("bit_error", p, 0.0, 1.0)
    idx = synapse_index(KIND_READ_ERR, layer, neuron_idx, input_idx)
    return rng.uniform(seed, rng.STREAM_BNN, idx, np.asarray(image_idx, dtype=np.uint64)) < p


def sa_error_probability(delta, sigma) -> np.ndarray:
    """Authors' model ``P_err = 0.5*exp(-(|delta| + 1)^2 / (2 sigma^2))``."""
    d = np.abs(np.asarray(delta, dtype=np.float64))
    s = np.asarray(sigma, dtype=np.float64)
    return 0.5 * np.exp(-((d + 1.0) ** 2) / (2.0 * s * s))


def sa_sigma(n_tot, a: float = AUTHORS_A, b: float = AUTHORS_B) -> np.ndarray:
    """``sigma = a*N_tot + b``."""
    return a * np.asarray(n_tot, dtype=np.float64) + b


def sa_errors(seed: int, layer: int, image_idx, neuron_idx, p_err) -> np.ndarray:
    """True where the SA of ``neuron`` decides wrongly on ``image`` (probability ``p_err``, broadcast)."""
    idx = synapse_index(KIND_SA_ERR, layer, neuron_idx, 0)
    return rng.uniform(seed, rng.STREAM_BNN, idx, np.asarray(image_idx, dtype=np.uint64)) < p_err


def sa_decision(seed: int, layer: int, image_idx, neuron_idx, delta, n_tot: int,
                a: float = AUTHORS_A, b: float = AUTHORS_B) -> np.ndarray:
    """Authors'-model SA output bit (uint8): ``delta > 0`` flipped with ``P_err(delta)``."""
    delta = np.asarray(delta)
    flip = sa_errors(seed, layer, image_idx, neuron_idx, sa_error_probability(delta, sa_sigma(n_tot, a, b)))
    return ((delta > 0) ^ flip).astype(np.uint8)


def full_range_error(n_tot: int, sigma: float) -> float:
    """Authors' P_err averaged over every odd ``delta`` in ``[-N_tot, N_tot]`` (the 'full popcount range')."""
    d = np.arange(-n_tot, n_tot + 1, 2)
    return float(np.mean(sa_error_probability(d, sigma)))


# ---------------------------------------------------------------------------------------------
# bridge physics
# ---------------------------------------------------------------------------------------------
def bridge_resistances(seed: int, layer: int, neuron_idx, input_idx, w_bits, bridge: BridgeParams,
                       cycle: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(R_top, R_bot) in ohm of the devices (without access transistors) after programming ``w_bits``."""
    w = np.asarray(w_bits).astype(bool)
    z = {}
    for k in (KIND_R_TOP_LRS, KIND_R_TOP_HRS, KIND_R_BOT_LRS, KIND_R_BOT_HRS):
        z[k] = rng.normal(seed, rng.STREAM_BNN, synapse_index(k, layer, neuron_idx, input_idx), np.uint64(0))
    zc_top = rng.normal(seed, rng.STREAM_BNN, synapse_index(KIND_R_TOP_C2C, layer, neuron_idx, input_idx),
                        np.uint64(cycle + 1))
    zc_bot = rng.normal(seed, rng.STREAM_BNN, synapse_index(KIND_R_BOT_C2C, layer, neuron_idx, input_idx),
                        np.uint64(cycle + 1))
    lnl, lnh = math.log(bridge.r_lrs), math.log(bridge.r_hrs)
    top_l = lnl + bridge.sigma_lrs_d2d * z[KIND_R_TOP_LRS] + bridge.sigma_lrs_c2c * zc_top
    top_h = lnh + bridge.sigma_hrs_d2d * z[KIND_R_TOP_HRS] + bridge.sigma_hrs_c2c * zc_top
    bot_l = lnl + bridge.sigma_lrs_d2d * z[KIND_R_BOT_LRS] + bridge.sigma_lrs_c2c * zc_bot
    bot_h = lnh + bridge.sigma_hrs_d2d * z[KIND_R_BOT_HRS] + bridge.sigma_hrs_c2c * zc_bot
    r_top = np.exp(np.where(w, top_l, top_h))
    r_bot = np.exp(np.where(w, bot_h, bot_l))
    return r_top, r_bot


def inverter_vm(seed: int, layer: int, neuron_idx, input_idx, bridge: BridgeParams) -> np.ndarray:
    """Switching threshold of each source-line inverter as a fraction of VDD (static, clipped to (0.01, 0.99))."""
    z = rng.normal(seed, rng.STREAM_BNN, synapse_index(KIND_VM, layer, neuron_idx, input_idx), np.uint64(0))
    return np.clip(bridge.vm_ratio + bridge.vm_sigma * z, 0.01, 0.99)


def bridge_failures(r_top, r_bot, w_bits, vm, r_access: float) -> tuple[np.ndarray, np.ndarray]:
    """(fail_hi, fail_lo): the bridge outputs the wrong bit when its XNOR should be 1 / 0."""
    w = np.asarray(w_bits).astype(bool)
    r_l = np.where(w, r_top, r_bot) + r_access
    r_h = np.where(w, r_bot, r_top) + r_access
    fail_hi = r_h < r_l * vm / (1.0 - vm)
    fail_lo = r_h < r_l * (1.0 - vm) / vm
    return fail_hi, fail_lo


def stuck_bridge_masks(seed: int, layer: int, neuron_idx, input_idx, p_stuck_lrs: float,
                       p_stuck_hrs: float) -> tuple[np.ndarray, np.ndarray]:
    """(mask_top, mask_bot): :func:`golden.physics.faults.stuck_fault_mask` codes of the two devices of each
    bridge (``STUCK_LRS`` = 1, ``STUCK_HRS`` = -1, healthy 0). Device ids are the hashed
    ``(kind, layer, neuron, input)`` indices, so the faults are fixed per seed and device whatever
    order the bridges are visited in, and raising a rate only adds stuck devices."""
    from golden.physics.faults import stuck_fault_mask
    ids_t = synapse_index(KIND_STUCK_TOP, layer, neuron_idx, input_idx)
    ids_b = synapse_index(KIND_STUCK_BOT, layer, neuron_idx, input_idx)
    ids_t, ids_b = np.broadcast_arrays(ids_t, ids_b)
    mt = stuck_fault_mask(ids_t.shape, p_stuck_lrs, p_stuck_hrs, seed=seed, device_ids=np.ascontiguousarray(ids_t))
    mb = stuck_fault_mask(ids_b.shape, p_stuck_lrs, p_stuck_hrs, seed=seed, device_ids=np.ascontiguousarray(ids_b))
    return mt, mb


def stuck_device_states(w_bits, mask_top, mask_bot) -> tuple[np.ndarray, np.ndarray]:
    """(top_lrs, bot_lrs): whether each device is in LRS after programming ``w_bits`` with stuck devices.

    Programming puts top in LRS and bot in HRS for ``w = 1`` (the opposite for ``w = 0``); a stuck
    device keeps its stuck state whatever is programmed."""
    w = np.asarray(w_bits).astype(bool)
    mt, mb = np.asarray(mask_top), np.asarray(mask_bot)
    top = np.where(mt == 1, True, np.where(mt == -1, False, w))
    bot = np.where(mb == 1, True, np.where(mb == -1, False, ~w))
    return top, bot


def stuck_bridge_resistances(seed: int, layer: int, neuron_idx, input_idx, w_bits, bridge: BridgeParams,
                             p_stuck_lrs: float, p_stuck_hrs: float, cycle: int = 0
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`bridge_resistances` with stuck devices; returns ``(r_top, r_bot, mask_top, mask_bot)``.

    A device stuck at LRS (HRS) takes the resistance it has in that state (its own lognormal LRS
    (HRS) draw, as if programmed there in cycle ``cycle``); healthy devices are as programmed. The
    divider + inverter physics of :func:`bridge_failures` then decides what the broken bridge reads
    (a pair in the same state sits near mid-rail and the inverter threshold and the two devices'
    mismatch decide; a pair in the swapped states reads the inverted weight)."""
    w = np.asarray(w_bits).astype(bool)
    mt, mb = stuck_bridge_masks(seed, layer, neuron_idx, input_idx, p_stuck_lrs, p_stuck_hrs)
    ones = np.ones(np.broadcast_shapes(w.shape, mt.shape), dtype=np.uint8)
    top_l, bot_h = bridge_resistances(seed, layer, neuron_idx, input_idx, ones, bridge, cycle)
    top_h, bot_l = bridge_resistances(seed, layer, neuron_idx, input_idx, 1 - ones, bridge, cycle)
    top, bot = stuck_device_states(w, mt, mb)
    return np.where(top, top_l, top_h), np.where(bot, bot_l, bot_h), mt, mb


def bridge_outputs(x_bits, w_bits, fail_hi, fail_lo) -> np.ndarray:
    """Bridge + inverter output bits: XNOR(x, w), inverted where the bridge fails for that case."""
    ideal = (np.asarray(x_bits) == np.asarray(w_bits))
    err = np.where(ideal, fail_hi, fail_lo)
    return (ideal ^ err).astype(np.uint8)


def bridge_divider_voltage(x_bits, r_top, r_bot, r_access: float, vdd: float = 1.0) -> np.ndarray:
    """Source-line voltage of the bridge (for plots and tests)."""
    x = np.asarray(x_bits).astype(bool)
    rt, rb = np.asarray(r_top) + r_access, np.asarray(r_bot) + r_access
    return vdd * np.where(x, rb / (rt + rb), rt / (rt + rb))


def bridge_error_probability(bridge: BridgeParams, n_quad: int = 64) -> dict:
    """Bit-error probability of one bridge (semi-analytic: Gauss-Hermite quadrature over ln R_LRS and the
    inverter threshold, closed-form lognormal CDF for R_HRS).

    Returns ``{"p_hi", "p_lo", "p"}``: failure probability when the XNOR should be 1, 0, and their
    mean (inputs and weights balanced).
    """
    zq, wq = np.polynomial.hermite_e.hermegauss(n_quad)
    wq = wq / wq.sum()
    zl = zq[:, None]          # ln R_LRS node
    zm = zq[None, :]          # inverter threshold node
    r_l = bridge.r_lrs * np.exp(bridge.sigma_lrs * zl) + bridge.r_access
    m = np.clip(bridge.vm_ratio + bridge.vm_sigma * zm, 0.01, 0.99)
    ww = wq[:, None] * wq[None, :]

    def p_hrs_below(q):
        q = q - bridge.r_access
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(q > 0, (np.log(np.maximum(q, 1e-300)) - math.log(bridge.r_hrs)) / max(bridge.sigma_hrs, 1e-300), -np.inf)
        if bridge.sigma_hrs == 0:
            return (q > bridge.r_hrs).astype(float)
        return ndtr(z)

    p_hi = float(np.sum(ww * p_hrs_below(r_l * m / (1 - m))))
    p_lo = float(np.sum(ww * p_hrs_below(r_l * (1 - m) / m)))
    return {"p_hi": p_hi, "p_lo": p_lo, "p": 0.5 * (p_hi + p_lo)}


def bridge_error_monte_carlo(bridge: BridgeParams, n: int = 2_000_000, seed: int = 0) -> dict:
    """Monte-Carlo twin of :func:`bridge_error_probability` with the counter-based draws (half w = 1)."""
    check_int("n", n, 1, 1 << 26)
    neuron = np.arange(n) >> 12
    inp = np.arange(n) & 0xFFF
    w = (np.arange(n) & 1).astype(np.uint8)
    r_top, r_bot = bridge_resistances(seed, 0, neuron, inp, w, bridge)
    vm = inverter_vm(seed, 0, neuron, inp, bridge)
    fhi, flo = bridge_failures(r_top, r_bot, w, vm, bridge.r_access)
    p_hi, p_lo = float(fhi.mean()), float(flo.mean())
    return {"p_hi": p_hi, "p_lo": p_lo, "p": 0.5 * (p_hi + p_lo), "n": n}


# ---------------------------------------------------------------------------------------------
# neuron physics
# ---------------------------------------------------------------------------------------------
def settle_gain(neuron: NeuronParams, clock_ns: float | None = None) -> float:
    t = neuron.sa_clock_ns if clock_ns is None else clock_ns
    if neuron.settle_tau_ns == 0:
        return 1.0
    return 1.0 - math.exp(-t / (2.0 * neuron.settle_tau_ns))


def sa_noise_sigma(neuron: NeuronParams, clock_ns: float | None = None) -> float:
    """Per-decision SA noise (V) at clock period ``clock_ns``: ``sa_noise*sqrt(t_ref/T)``."""
    t = neuron.sa_clock_ns if clock_ns is None else clock_ns
    return neuron.sa_noise * math.sqrt(neuron.t_ref_ns / t)


def input_referred_sigma(neuron: NeuronParams, clock_ns: float | None = None) -> float:
    """SA offset and noise combined, referred to the (unsettled) summing-node voltage: sqrt(off^2+n^2)/g."""
    return math.hypot(neuron.sa_offset, sa_noise_sigma(neuron, clock_ns)) / settle_gain(neuron, clock_ns)


def lsb_volts(n_tot: int, neuron: NeuronParams) -> float:
    """Differential voltage of one unit of ``delta``: VDD / (N_tot + c_par_units)."""
    return neuron.vdd / (n_tot + neuron.c_par_units)


def physical_sigma_delta(n_tot, neuron: NeuronParams, clock_ns: float | None = None) -> np.ndarray:
    """Sigma of the physical neuron's decision variable in units of delta (offset + noise + mismatch)."""
    n_tot = np.asarray(n_tot, dtype=np.float64)
    lsb = neuron.vdd / (n_tot + neuron.c_par_units)
    return np.sqrt((input_referred_sigma(neuron, clock_ns) / lsb) ** 2 + neuron.cap_mismatch ** 2 * n_tot)


def physical_perr(delta, n_tot, neuron: NeuronParams, clock_ns: float | None = None) -> np.ndarray:
    """Physical model's decision-error probability over the ensemble of neurons: Phi(-|delta|/sigma)."""
    return ndtr(-np.abs(np.asarray(delta, dtype=np.float64)) / physical_sigma_delta(n_tot, neuron, clock_ns))


def authors_ab(clock_ns: float, neuron: NeuronParams | None = None,
               calibration: str = "fabricated") -> tuple[float, float]:
    """(a, b) of the authors' model at ``clock_ns`` (see the module docstring for the calibrations).

    ``"fabricated"``: ``a = sigma_SA(10 ns)/VDD`` from ``neuron``, ``b`` solved so that the full-range
    error at ``N_tot = 23`` is 3.12 %; ``"scale_invariant"``: the constants. Both then scaled by
    ``sigma_SA(T)/sigma_SA(10 ns)``.
    """
    from scipy.optimize import brentq

    check_float("sa_clock_ns", clock_ns, 1.0, 100.0)
    check_choice("calibration", calibration, CALIBRATIONS)
    neuron = neuron or NeuronParams()
    r = input_referred_sigma(neuron, clock_ns) / input_referred_sigma(neuron, NOMINAL_CLOCK_NS)
    if calibration == "scale_invariant":
        return SCALE_INVARIANT_A * r, SCALE_INVARIANT_B * r
    a = input_referred_sigma(neuron, NOMINAL_CLOCK_NS) / neuron.vdd
    n = FABRICATED_N_TOT
    lo = 1e-9 - a * n
    if full_range_error(n, a * n + lo + 1e-9) > FULL_RANGE_TARGET:
        raise ConfigError(f"the SA noise of bnn_neuron alone gives more than {FULL_RANGE_TARGET:.2%} full-range "
                          f"error at N_tot = {n}: the 'fabricated' calibration needs b < 0")
    b = brentq(lambda bb: full_range_error(n, a * n + bb) - FULL_RANGE_TARGET, lo, 1e3, xtol=1e-12)
    return a * r, b * r


def physical_perr_monte_carlo(n_tot: int, deltas, neuron: NeuronParams, n_neurons: int = 2000,
                              n_reads: int = 20, seed: int = 0, clock_ns: float | None = None) -> np.ndarray:
    """Monte-Carlo P_err(delta) of the physical neuron: ``n_neurons`` neurons (own capacitors and SA
    offset) x ``n_reads`` decisions per delta, each delta realised by a random cell pattern."""
    deltas = np.asarray(deltas, dtype=np.int64)
    out = np.zeros(len(deltas))
    neurons = np.arange(n_neurons)
    cells = np.arange(n_tot)
    cp = 1 + neuron.cap_mismatch * rng.normal(seed, rng.STREAM_BNN, synapse_index(KIND_CAP_P, 0, neurons[:, None], cells[None, :]), np.uint64(0))
    cn = 1 + neuron.cap_mismatch * rng.normal(seed, rng.STREAM_BNN, synapse_index(KIND_CAP_N, 0, neurons[:, None], cells[None, :]), np.uint64(0))
    off = neuron.sa_offset * rng.normal(seed, rng.STREAM_BNN, synapse_index(KIND_SA_OFFSET, 0, neurons, 0), np.uint64(0))
    g = settle_gain(neuron, clock_ns)
    sn = sa_noise_sigma(neuron, clock_ns)
    gen = np.random.default_rng(seed)
    for j, d in enumerate(deltas):
        if (d + n_tot) % 2:
            raise ValueError(f"delta = {d} impossible for N_tot = {n_tot} (parity)")
        ones = (d + n_tot) // 2
        errs = 0
        for r in range(n_reads):
            b = np.zeros((n_neurons, n_tot), dtype=np.float64)
            pick = np.argsort(gen.random((n_neurons, n_tot)), axis=1)[:, :ones]
            np.put_along_axis(b, pick, 1.0, axis=1)
            v = neuron.vdd * ((cp * b).sum(1) / (cp.sum(1) + neuron.c_par_units)
                              - (cn * (1 - b)).sum(1) / (cn.sum(1) + neuron.c_par_units))
            noise = sn * rng.normal(seed, rng.STREAM_BNN, synapse_index(KIND_SA_NOISE, 0, neurons, 0),
                                    np.uint64(j * n_reads + r))
            dec = v * g + off + noise > 0
            errs += int(np.sum(dec != (d > 0)))
        out[j] = errs / (n_neurons * n_reads)
    return out


# ---------------------------------------------------------------------------------------------
# network-level hardware inference
# ---------------------------------------------------------------------------------------------
MODES = ("ideal", "physical", "authors")


@dataclass
class HardwareConfig:
    """Operating point of the hardware model.

    mode : "ideal" (bit-exact integer model), "physical" (bridge resistances + capacitive neuron +
        SA offset/noise) or "authors" (static bridge bit errors with probability ``bit_error`` + the
        authors' SA model ``P_err(delta)``).
    bit_error : None or float in [0, 1]
        "authors": bridge bit-error rate (None: the physical bridges' rate from
        :func:`bridge_error_probability`). "physical": None; a value replaces the resistance model by
        static weight errors with that probability.
    sa_clock_ns : None or float (None: ``neuron.sa_clock_ns``).
    sa_ab : None or (a, b) overriding :func:`authors_ab`.
    calibration : "fabricated" | "scale_invariant" (authors' model, see :func:`authors_ab`).
    p_stuck_lrs, p_stuck_hrs : float in [0, 1]
        Fractions of bridge devices stuck at LRS / HRS (:func:`stuck_bridge_resistances`; physical
        mode with the resistance model only). 0 (default): no faults, the unchanged model.
    sa_calibration : "none" | "oracle" | "measured"
        "physical" only: cancel each SA's static offset by reprogramming the neuron's bias cells,
        ``k' = clip(k - shift, 0, B)``. "oracle": ``shift = round(offset / (2*lsb*g(T)))`` from the true
        offset (at most one delta unit left); "measured": ``shift`` measured by the chip's bias-cell
        ramp with ``sa_cal_repeats`` noisy conversions per step and ``sa_cal_patterns`` input patterns
        (:mod:`golden.bnn.sa_calibration`). Default "none" (the library's default; ``reram-accel bnn``
        runs "measured").
    sa_cal_repeats : int in [1, 1024], sa_cal_patterns : int in [1, 64]
        Parameters of the "measured" calibration (defaults 8 and 4).
    sa_trim : bool
        Legacy alias: True means ``sa_calibration = "oracle"`` (default False).
    """

    mode: str = "physical"
    seed: int = 0
    bridge: BridgeParams = field(default_factory=BridgeParams)
    neuron: NeuronParams = field(default_factory=NeuronParams)
    bit_error: float | None = None
    sa_clock_ns: float | None = None
    sa_ab: tuple | None = None
    cycle: int = 0
    calibration: str = "fabricated"
    p_stuck_lrs: float = 0.0
    p_stuck_hrs: float = 0.0
    sa_trim: bool = False
    sa_calibration: str = "none"
    sa_cal_repeats: int = DEFAULT_REPEATS
    sa_cal_patterns: int = DEFAULT_PATTERNS

    def __post_init__(self):
        check_choice("hardware.mode", self.mode, MODES)
        check_int("hardware.seed", self.seed, 0, 2**63 - 1)
        if self.bit_error is not None:
            check_float("hardware.bit_error", self.bit_error, 0.0, 1.0)
        if self.sa_clock_ns is not None:
            check_float("hardware.sa_clock_ns", self.sa_clock_ns, 1.0, 100.0)
        check_int("hardware.cycle", self.cycle, 0, 2**62)
        check_choice("hardware.calibration", self.calibration, CALIBRATIONS)
        check_float("hardware.p_stuck_lrs", self.p_stuck_lrs, 0.0, 1.0)
        check_float("hardware.p_stuck_hrs", self.p_stuck_hrs, 0.0, 1.0)
        if self.p_stuck_lrs + self.p_stuck_hrs > 1.0:
            raise ConfigError(f"hardware.p_stuck_lrs + hardware.p_stuck_hrs = "
                              f"{self.p_stuck_lrs + self.p_stuck_hrs} is out of range: allowed [0, 1]")
        if not isinstance(self.sa_trim, bool):
            raise ConfigError(f"hardware.sa_trim must be true or false, got {self.sa_trim!r}")
        check_calibration("hardware.", self.sa_calibration, self.sa_cal_repeats, self.sa_cal_patterns)
        if self.sa_trim:
            if self.sa_calibration == "measured":
                raise ConfigError("hardware.sa_trim = true (oracle trim) conflicts with hardware.sa_calibration = "
                                  "'measured'")
            self.sa_calibration = "oracle"
        if self.sa_calibration != "none" and self.mode != "physical":
            name = "sa_trim" if self.sa_trim else "sa_calibration"
            raise ConfigError(f"hardware.{name} needs mode = 'physical' (the authors' model has no static offset)")
        if (self.p_stuck_lrs or self.p_stuck_hrs) and (self.mode != "physical" or self.bit_error is not None):
            raise ConfigError("hardware.p_stuck_lrs / hardware.p_stuck_hrs need mode = 'physical' with the "
                              "bridge resistance model (bit_error = None)")

    @property
    def stuck(self) -> bool:
        """True when stuck-at device faults are injected."""
        return bool(self.p_stuck_lrs or self.p_stuck_hrs)

    @property
    def clock(self) -> float:
        return self.neuron.sa_clock_ns if self.sa_clock_ns is None else self.sa_clock_ns


class BnnHardware:
    """Evaluates a :class:`golden.bnn.network.BnnModel` on the hardware model (one programming cycle).

    Static per-layer quantities (bridge outputs for x = 0 / 1, capacitors, SA offsets) are computed
    once and cached; per-decision noise is keyed by the global image index.
    """

    def __init__(self, model, config: HardwareConfig | None = None):
        self.model = model
        self.cfg = config or HardwareConfig()
        self._static: dict[int, dict] = {}
        self.decisions = np.zeros(model.n_layers, dtype=np.int64)   # hidden-neuron decisions made
        self.flips = np.zeros(model.n_layers, dtype=np.int64)       # ... that differ from the ideal SA
        self.calibration: dict[int, dict] = {}   # per calibrated layer: shifts and (measured) cost summary
        self._cal_states: dict[int, CalibrationState] = {}

    # --- static part ---------------------------------------------------------------------------
    def bridge_ber(self) -> float:
        if self.cfg.bit_error is not None:
            return self.cfg.bit_error
        return bridge_error_probability(self.cfg.bridge)["p"]

    def _layer_static(self, layer: int) -> dict:
        if layer in self._static:
            return self._static[layer]
        cfg, m = self.cfg, self.model
        hidden = m.layers[layer][1] is not None
        w = m.extended_weights(layer) if hidden else m.layers[layer][0]
        n_out, n_tot = w.shape
        neurons = np.arange(n_out)[:, None]
        inputs = np.arange(n_tot)[None, :]
        offset = cp = cn = None
        if hidden and cfg.mode == "physical":
            offset, cp, cn = self._neuron_static(layer, n_out, n_tot)
        w_prog = w
        if offset is not None and cfg.sa_calibration != "none":
            b = m.bias_cells(layer)
            k = m.bias_plus(layer)
            g = settle_gain(cfg.neuron, cfg.clock)
            if cfg.sa_calibration == "oracle":
                shift = np.rint(offset / (2 * lsb_volts(n_tot, cfg.neuron) * g)).astype(np.int64)
                k_new = np.clip(k - shift, 0, b)
                self.calibration[layer] = {"shift": shift, "at_limit": int(np.sum((k - shift < 0) | (k - shift > b)))}
            else:
                cal = calibrate_layer(self.calibration_state(layer), k, repeats=cfg.sa_cal_repeats,
                                      patterns=cfg.sa_cal_patterns)
                k_new = cal.k_trimmed
                self.calibration[layer] = {"shift": cal.shift, "result": cal, **cal.summary(cfg.clock)}
            w_prog = w.copy()
            w_prog[:, n_tot - b:] = np.arange(b)[None, :] < k_new[:, None]
        o1, o0 = self._bridge_bits(layer, w_prog, neurons, inputs)
        st = {"o1": o1.astype(np.float32), "o0": o0.astype(np.float32), "n_tot": n_tot, "hidden": hidden}
        if w_prog is not w:
            # reference for neuron_error_rate: an ideal SA on the untrimmed cells
            r1, r0 = self._bridge_bits(layer, w, neurons, inputs)
            st["a"] = (r1.astype(np.float32) - r0.astype(np.float32)).T.copy()
            st["b"] = r0.astype(np.float32).sum(1, dtype=np.float64)
        if hidden and cfg.mode == "physical":
            nc = cfg.neuron
            cp, cn = cp.astype(np.float32), cn.astype(np.float32)
            st["ap"] = (cp * (st["o1"] - st["o0"])).T.copy()      # [N_tot, out]
            st["bp"] = (cp * st["o0"]).sum(1, dtype=np.float64)
            st["an"] = (cn * (st["o1"] - st["o0"])).T.copy()
            st["bn"] = (cn * st["o0"]).sum(1, dtype=np.float64)
            st["cp_tot"] = cp.sum(1, dtype=np.float64) + nc.c_par_units
            st["cn_tot"] = cn.sum(1, dtype=np.float64) + nc.c_par_units
            st["cn_sum"] = cn.sum(1, dtype=np.float64)
            st["offset"] = offset
        else:
            st["a"] = (st["o1"] - st["o0"]).T.copy()
            st["b"] = st["o0"].sum(1, dtype=np.float64)
        self._static[layer] = st
        return st

    def _neuron_static(self, layer: int, n_out: int, n_tot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(SA offset [n] in V, c+ [n, N_tot], c- [n, N_tot]) of a physical hidden layer (static draws)."""
        cfg, nc = self.cfg, self.cfg.neuron
        neurons, inputs = np.arange(n_out)[:, None], np.arange(n_tot)[None, :]
        offset = nc.sa_offset * rng.normal(cfg.seed, rng.STREAM_BNN,
                                           synapse_index(KIND_SA_OFFSET, layer, np.arange(n_out), 0), np.uint64(0))
        cp = (1 + nc.cap_mismatch * rng.normal(cfg.seed, rng.STREAM_BNN,
                                               synapse_index(KIND_CAP_P, layer, neurons, inputs), np.uint64(0)))
        cn = (1 + nc.cap_mismatch * rng.normal(cfg.seed, rng.STREAM_BNN,
                                               synapse_index(KIND_CAP_N, layer, neurons, inputs), np.uint64(0)))
        return offset, cp, cn

    def calibration_state(self, layer: int) -> CalibrationState:
        """Hidden ``layer`` of this chip in the SA calibration state (weights as trained, all bias cells
        programmed to 1; :class:`golden.bnn.sa_calibration.CalibrationState`): what the measured calibration
        converts, and what the cocotb macro answers a calibration ramp with. Physical mode only, whatever
        ``sa_calibration`` is."""
        cfg, m = self.cfg, self.model
        if cfg.mode != "physical" or m.layers[layer][1] is None:
            raise ConfigError(f"calibration_state: layer {layer} must be a hidden layer of a 'physical' model "
                              f"(mode = {cfg.mode!r})")
        if layer not in self._cal_states:
            w = m.extended_weights(layer)
            n_out, n_tot = w.shape
            b = m.bias_cells(layer)
            w_cal = w.copy()
            w_cal[:, n_tot - b:] = 1
            c1, c0 = self._bridge_bits(layer, w_cal, np.arange(n_out)[:, None], np.arange(n_tot)[None, :])
            offset, cp, cn = self._neuron_static(layer, n_out, n_tot)
            self._cal_states[layer] = CalibrationState(
                seed=cfg.seed, layer=layer, w_in=w[:, :n_tot - b], o1=c1, o0=c0, cp=cp, cn=cn, offset=offset,
                gain=settle_gain(cfg.neuron, cfg.clock), sigma_noise=sa_noise_sigma(cfg.neuron, cfg.clock),
                vdd=cfg.neuron.vdd, c_par_units=cfg.neuron.c_par_units)
        return self._cal_states[layer]

    def layer_calibration(self, layer: int) -> dict:
        """SA calibration record of hidden ``layer`` (programming the layer first if needed): ``shift``,
        ``at_limit`` and, for the measured calibration, ``result`` (:class:`golden.bnn.sa_calibration.
        LayerCalibration`) and its cost summary; ``{}`` when the layer is not calibrated."""
        self._layer_static(layer)
        return self.calibration.get(layer, {})

    def _bridge_bits(self, layer: int, w: np.ndarray, neurons, inputs) -> tuple[np.ndarray, np.ndarray]:
        """(o1, o0): bridge + inverter output bits of programmed bits ``w`` for input 1 / input 0."""
        cfg = self.cfg
        if cfg.mode == "ideal":
            return w, 1 - w
        if cfg.mode == "physical" and cfg.bit_error is None:
            if cfg.stuck:
                r_top, r_bot, _, _ = stuck_bridge_resistances(cfg.seed, layer, neurons, inputs, w, cfg.bridge,
                                                              cfg.p_stuck_lrs, cfg.p_stuck_hrs, cfg.cycle)
            else:
                r_top, r_bot = bridge_resistances(cfg.seed, layer, neurons, inputs, w, cfg.bridge, cfg.cycle)
            vm = inverter_vm(cfg.seed, layer, neurons, inputs, cfg.bridge)
            fhi, flo = bridge_failures(r_top, r_bot, w, vm, cfg.bridge.r_access)
            return bridge_outputs(1, w, fhi, flo), bridge_outputs(0, w, fhi, flo)
        e = weight_bit_errors(cfg.seed, layer, neurons, inputs, self.bridge_ber(), cfg.cycle)
        o1 = (w.astype(bool) ^ e).astype(np.uint8)
        return o1, 1 - o1

    # --- per-image evaluation -----------------------------------------------------------------------
    def _extend(self, x_bits: np.ndarray, layer: int) -> np.ndarray:
        b = self.model.bias_cells(layer)
        if b == 0:
            return x_bits
        return np.concatenate([x_bits, np.ones((len(x_bits), b), dtype=x_bits.dtype)], axis=1)

    def cell_popcounts(self, x_bits: np.ndarray, layer: int) -> np.ndarray:
        """P_tot per neuron: count of cells (inputs and bias cells) whose bridge outputs 1 (int64)."""
        st = self._layer_static(layer)
        x = self._extend(np.asarray(x_bits, dtype=np.uint8), layer) if st["hidden"] else np.asarray(x_bits, np.uint8)
        return np.rint(x.astype(np.float32) @ st["a"] + st["b"][None, :]).astype(np.int64)

    def layer_bits(self, x_bits: np.ndarray, layer: int, image_idx: np.ndarray) -> np.ndarray:
        """Output bits of hidden layer ``layer`` for inputs ``x_bits`` of images ``image_idx``."""
        cfg = self.cfg
        st = self._layer_static(layer)
        n_out = st["o1"].shape[0]
        neurons = np.arange(n_out)[None, :]
        img = np.asarray(image_idx, dtype=np.uint64)[:, None]
        if cfg.mode == "physical":
            nc = cfg.neuron
            x = self._extend(np.asarray(x_bits, dtype=np.uint8), layer).astype(np.float32)
            qp = (x @ st["ap"]).astype(np.float64) + st["bp"][None, :]          # sum c+ b
            qn = st["cn_sum"][None, :] - ((x @ st["an"]).astype(np.float64) + st["bn"][None, :])  # sum c- (1-b)
            v = nc.vdd * (qp / st["cp_tot"][None, :] - qn / st["cn_tot"][None, :])
            noise = sa_noise_sigma(nc, cfg.clock) * rng.normal(
                cfg.seed, rng.STREAM_BNN, synapse_index(KIND_SA_NOISE, layer, neurons, 0), img)
            out = (v * settle_gain(nc, cfg.clock) + st["offset"][None, :] + noise > 0).astype(np.uint8)
            ideal_delta = 2 * self.cell_popcounts_ideal(x_bits, layer) - st["n_tot"]
        else:
            p_tot = self.cell_popcounts(x_bits, layer)
            delta = 2 * p_tot - st["n_tot"]
            if cfg.mode == "ideal":
                out = (delta > 0).astype(np.uint8)
            else:
                a, b = cfg.sa_ab if cfg.sa_ab is not None else authors_ab(cfg.clock, cfg.neuron, cfg.calibration)
                out = sa_decision(cfg.seed, layer, img, neurons, delta, st["n_tot"], a, b)
            ideal_delta = delta
        self.decisions[layer] += out.size
        self.flips[layer] += int(np.sum(out != (ideal_delta > 0)))
        return out

    def cell_popcounts_ideal(self, x_bits: np.ndarray, layer: int) -> np.ndarray:
        """P_tot with the (possibly erroneous) bridge outputs, summed without analog errors."""
        st = self._layer_static(layer)
        if "a" not in st:
            st["a"] = (st["o1"] - st["o0"]).T.copy()
            st["b"] = st["o0"].sum(1, dtype=np.float64)
        return self.cell_popcounts(x_bits, layer)

    def scores(self, x_bits: np.ndarray, image_idx: np.ndarray) -> np.ndarray:
        """Last-layer popcounts (read out digitally from the bridge outputs) for a batch of images."""
        h = np.asarray(x_bits, dtype=np.uint8)
        for layer in range(self.model.n_layers - 1):
            h = self.layer_bits(h, layer, image_idx)
        return self.cell_popcounts(h, self.model.n_layers - 1)

    def predict_bits(self, x_bits: np.ndarray, image_offset: int = 0, batch: int = 1000,
                     progress: bool = False, desc: str = "bnn hardware") -> np.ndarray:
        """Classes for input bits; image ``i`` of ``x_bits`` has global index ``image_offset + i``."""
        from golden.bnn.network import blas_threads
        x_bits = np.asarray(x_bits, dtype=np.uint8)
        out = []
        it = range(0, len(x_bits), batch)
        if progress:
            from tqdm import tqdm
            it = tqdm(it, desc=desc, unit="batch", leave=False)
        with blas_threads():
            for i in it:
                idx = np.arange(i, min(i + batch, len(x_bits))) + image_offset
                out.append(np.argmax(self.scores(x_bits[i:i + batch], idx), axis=1))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def bridge_output_error_rate(self) -> list[float]:
        """Per layer: fraction of (neuron, cell, x in {0, 1}) bridge outputs that differ from XNOR(x, w)
        (static bridge errors, including those of stuck devices)."""
        out = []
        for layer in range(self.model.n_layers):
            st = self._layer_static(layer)
            m = self.model
            w = (m.extended_weights(layer) if st["hidden"] else m.layers[layer][0]).astype(np.float32)
            out.append(float(0.5 * (np.mean(st["o1"] != w) + np.mean(st["o0"] != 1 - w))))
        return out

    def neuron_error_rate(self) -> list[float]:
        """Per hidden layer: fraction of SA decisions that differ from an ideal SA on the same cells."""
        return [float(self.flips[i] / self.decisions[i]) if self.decisions[i] else 0.0
                for i in range(self.model.n_layers - 1)]
