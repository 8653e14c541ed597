"""Stuck-at device faults, reusable by the variability study, in-situ training and the BNN.

A device is stuck at LRS (always reads the low-resistance / high-conductance state) or stuck at HRS
with fixed probabilities. Which devices are stuck is a pure function of ``(seed, device id,
counter)`` through the counter-based generator (:mod:`golden.spec.rng`), so the same chip (same seed and
counter) has the same stuck devices in every call, whatever order or batch the devices are visited
in, and the training run and the testbench agree. One uniform ``u`` per device decides:
``u < p_lrs`` -> stuck at LRS, ``p_lrs <= u < p_lrs + p_hrs`` -> stuck at HRS. Raising a rate therefore
only *adds* stuck devices (fault sets are nested), which keeps fault-rate curves monotone in the
draw.
"""
from __future__ import annotations

import numpy as np

from golden.spec.params import ConfigError, check_float
from golden.spec.rng import STREAM_VARIABILITY, uniform

STREAM_STUCK = STREAM_VARIABILITY + 2

HEALTHY = 0
STUCK_LRS = 1
STUCK_HRS = -1


def stuck_fault_mask(shape, p_stuck_lrs: float, p_stuck_hrs: float, *, seed: int, counter: int = 0,
                     device_ids: np.ndarray | None = None, stream: int = STREAM_STUCK) -> np.ndarray:
    """int8 array of ``shape``: ``STUCK_LRS`` (+1), ``STUCK_HRS`` (-1) or ``HEALTHY`` (0) per device.

    Parameters
    ----------
    shape : tuple
        Device array shape.
    p_stuck_lrs, p_stuck_hrs : float in [0, 1], sum <= 1
        Probability that a device is stuck at LRS / at HRS.
    seed : int
    counter : int
        Chip instance (e.g. Monte-Carlo trial); the same counter gives the same faults.
    device_ids : array of int, optional
        Global device ids (default ``arange(prod(shape))`` in C order); pass ids to keep faults fixed
        to physical devices when visiting a sub-array.
    """
    check_float("p_stuck_lrs", p_stuck_lrs, 0.0, 1.0)
    check_float("p_stuck_hrs", p_stuck_hrs, 0.0, 1.0)
    if p_stuck_lrs + p_stuck_hrs > 1.0 + 1e-12:
        raise ConfigError(f"p_stuck_lrs + p_stuck_hrs = {p_stuck_lrs + p_stuck_hrs} is out of range: allowed [0, 1]")
    shape = tuple(np.atleast_1d(shape)) if not isinstance(shape, tuple) else shape
    if device_ids is None:
        device_ids = np.arange(int(np.prod(shape)), dtype=np.uint64).reshape(shape)
    elif np.shape(device_ids) != shape:
        raise ConfigError(f"device_ids shape {np.shape(device_ids)} does not match shape {shape}")
    mask = np.zeros(shape, dtype=np.int8)
    if p_stuck_lrs == 0 and p_stuck_hrs == 0:
        return mask
    u = uniform(seed, stream, device_ids, counter)
    mask[u < p_stuck_lrs] = STUCK_LRS
    mask[(u >= p_stuck_lrs) & (u < p_stuck_lrs + p_stuck_hrs)] = STUCK_HRS
    return mask


def inject_stuck_faults(values: np.ndarray, p_stuck_lrs: float, p_stuck_hrs: float, *, lrs_value, hrs_value,
                        seed: int, counter: int = 0, device_ids: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Replace the values of stuck devices; returns ``(faulty_values, mask)``.

    ``values`` may be anything per device (a state index, a conductance, a resistance, a bit);
    stuck-at-LRS devices get ``lrs_value`` and stuck-at-HRS devices ``hrs_value`` (scalars or arrays
    broadcastable to ``values``). E.g. for conductances ``lrs_value=g_max, hrs_value=g_min``; for
    bridge resistances ``lrs_value=r_lrs, hrs_value=r_hrs``; for stored bits ``1, 0``. The input is
    not modified. The mask is :func:`stuck_fault_mask` of ``values.shape``.
    """
    values = np.asarray(values)
    mask = stuck_fault_mask(values.shape, p_stuck_lrs, p_stuck_hrs, seed=seed, counter=counter,
                            device_ids=device_ids)
    out = values.copy()
    lrs = np.broadcast_to(np.asarray(lrs_value, dtype=out.dtype), out.shape)
    hrs = np.broadcast_to(np.asarray(hrs_value, dtype=out.dtype), out.shape)
    out[mask == STUCK_LRS] = lrs[mask == STUCK_LRS]
    out[mask == STUCK_HRS] = hrs[mask == STUCK_HRS]
    return out, mask
