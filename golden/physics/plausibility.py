"""Plausibility checks on device data: a value far from the rest of its group, and a fitted value the
model has to limit, are reported, never taken silently.

Rule (one for every data file): a positive value is *far* from its group when its ``log10`` lies
more than :data:`SIGMAS` robust standard deviations (1.4826 x the median absolute deviation of the
group's ``log10`` values) **and** more than :data:`DECADES` decades from the group's median. The
two conditions together keep a legitimate tail (a wide but continuous distribution has a large
deviation) and a tight group (a tiny deviation would flag a 10 % step) from being reported, while a
typing error (a unit prefix lost, ``1e300`` for ``1e3``) is always many decades away.

A far value gives a :class:`PlausibilityWarning` naming its ``file:line`` (the value is kept, the
result may be wrong), or with ``strict`` a :class:`golden.spec.checks.DataFileError`. Commands
print the warnings (``reram-accel: warning: ...``) and take ``--strict``.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from golden.spec.checks import DataFileError, PlausibilityWarning

SIGMAS = 10.0
DECADES = 1.0
MIN_GROUP = 5          # fewer values: no statistics to judge by


def far_from_group(values: np.ndarray, *, sigmas: float = SIGMAS, decades: float = DECADES) -> np.ndarray:
    """Mask of the positive ``values`` that are far from their group (module docstring);
    non-positive values are never flagged (their own checks reject what must be > 0)."""
    v = np.asarray(values, dtype=np.float64)
    pos = np.isfinite(v) & (v > 0)
    out = np.zeros(v.shape, dtype=bool)
    if pos.sum() < MIN_GROUP:
        return out
    lg = np.log10(v[pos])
    med = np.median(lg)
    robust_sd = 1.4826 * np.median(np.abs(lg - med))
    dist = np.abs(lg - med)
    out[pos] = (dist > decades) & (dist > sigmas * robust_sd)
    return out


def report(message: str, strict: bool) -> None:
    """Warn (:class:`PlausibilityWarning`), or raise :class:`DataFileError` when ``strict``."""
    if strict:
        raise DataFileError(f"{message} (rejected under --strict)")
    warnings.warn(message, PlausibilityWarning, stacklevel=3)


def check_group(values: np.ndarray, where: Callable[[int], str], what: str, unit: str, strict: bool,
                *, shown: int = 5) -> np.ndarray:
    """Report every far value of one group (``where(i)``: ``file:line`` of value ``i``); returns the mask.

    At most ``shown`` values are named in one message (with the count of the others).
    """
    far = far_from_group(values)
    idx = np.flatnonzero(far)
    if idx.size:
        med = float(np.exp(np.median(np.log(values[np.asarray(values) > 0]))))
        named = "; ".join(f"{where(int(i))}: {values[i]:.4g} {unit}" for i in idx[:shown])
        more = f" and {idx.size - shown} more" if idx.size > shown else ""
        report(f"implausible {what}: {named}{more}: more than {DECADES:g} decade(s) and {SIGMAS:g} robust "
               f"standard deviations from the median {med:.4g} {unit} of the other values", strict)
    return far


def limited(name: str, value: float, lo: float, hi: float, strict: bool, source: str) -> float:
    """``value`` limited to ``[lo, hi]``; a value outside is reported (never clamped silently)."""
    if lo <= value <= hi:
        return value
    kept = min(max(value, lo), hi)
    report(f"{source}: fitted {name} = {value:.4g} is outside the model's range [{lo:g}, {hi:g}]"
           + ("" if strict else f": the model uses {kept:g}"), strict)
    return kept
