"""Fit :class:`golden.physics.device.DeviceParams` to pulse-response data (CSV).

CSV format (header row required, extra columns ignored, ``#`` comment lines allowed)::

    device,pulse,polarity,conductance_uS
    0,0,-1,6.12        <- pulse 0: the device's initial conductance (polarity ignored)
    0,1,1,8.95         <- conductance read after the device's 1st pulse, a SET (polarity 1)
    0,2,1,11.40
    ...
    0,61,0,47.80       <- after a RESET pulse (polarity 0)

``device`` is any integer label, ``pulse`` the device's own pulse counter (1, 2, ... in the order
the pulses were applied; rows may come in any order), ``polarity`` 1 = SET / 0 = RESET, and
``conductance_uS`` the conductance read after that pulse in microsiemens.

Method (analog mode): per device the bounds are the extreme observed conductances (the model clips
at them); the mean laws ``a_i (1 - x)**gamma_set`` and ``a_r,i x**gamma_reset`` are fitted by least
squares on the conductance changes with per-device amplitudes and a shared exponent (searched on a
grid, then refined), using only transitions from the unsaturated part of the window (SET from
``0.2 < x < 0.9``, RESET from ``0.1 < x < 0.8``: the noise grows with the step, so clipping at either
bound would bias the steps and the noise); the device-to-device spreads are
the standard deviations of the log amplitudes (less their estimation variance) and log bounds;
the cycle-to-cycle noise follows from
regressing the squared residuals on the squared mean step (``E r**2 = noise_mult**2 mu**2 +
noise_add**2``). Binary mode: the two levels per device, and the switching probabilities as the
fraction of SET (RESET) pulses from the low (high) state that switched.

The recovery is tested on data generated from known parameters (tests/golden/physics/test_device_fit.py).
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.physics.device import RESET, SET, DeviceModel, DeviceParams
from golden.physics.plausibility import check_group, limited
from golden.spec.checks import DataFileError

COLUMNS = ("device", "pulse", "polarity", "conductance_uS")


class FitDataError(DataFileError):
    """The pulse-response CSV is malformed or cannot support a fit; the message starts with
    ``file:line:column`` where a place in the file is to blame."""


@dataclass(frozen=True)
class PulseData:
    """Pulse-response data sorted by (device, pulse).

    ``line`` is each row's line number in its file (1-based; 0 for data not read from a file) and
    ``source`` the file, so later checks can name the row.
    """

    device: np.ndarray      # int64
    pulse: np.ndarray       # int64
    polarity: np.ndarray    # int64 (1 SET, 0 RESET, anything for pulse 0)
    g: np.ndarray           # float64, uS
    line: np.ndarray | None = None
    source: str = "data"

    def where(self, i: int, column: int | None = None) -> str:
        """``file:line:column`` of row ``i`` (after sorting)."""
        if self.line is None or self.line[i] == 0:
            return f"{self.source}: row {i}"
        return f"{self.source}:{int(self.line[i])}" + (f":{column}" if column else "")


def _read_text(p: Path) -> str:
    if p.is_dir():
        raise FitDataError(f"{p}: is a directory, not a CSV file")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise FitDataError(f"{p}: file not found") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise FitDataError.at(p, line, col, f"not UTF-8 text (byte 0x{raw[e.start]:02x}): is it a binary file?") \
            from None


def read_csv(path: str | Path) -> PulseData:
    """Read and validate a pulse-response CSV (see the module docstring); every error is a
    :class:`FitDataError` naming ``file:line:column``."""
    p = Path(path)
    text = _read_text(p)
    header, header_line, rows = None, 1, []
    for lineno, ln in enumerate(text.splitlines(), start=1):
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        rec = next(csv.reader([ln]))
        if header is None:
            header, header_line = [h.strip() for h in rec], lineno
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise FitDataError.at(p, lineno, 1, f"missing column(s) {missing}; header is {header}, "
                                                    f"expected {list(COLUMNS)}")
            cols = [header.index(c) for c in COLUMNS]
            continue
        if len(rec) < len(header):
            raise FitDataError.at(p, lineno, len(rec) + 1, f"expected {len(header)} fields "
                                                           f"({','.join(header)}), got {len(rec)}")
        vals = []
        for name, c in zip(COLUMNS, cols):
            field_ = rec[c].strip()
            try:
                vals.append(float(field_) if name == "conductance_uS" else int(field_))
            except ValueError:
                kind = "a number" if name == "conductance_uS" else "an integer"
                raise FitDataError.at(p, lineno, c + 1, f"{name}: {field_!r} is not {kind}") from None
        rows.append((*vals, lineno))
    if header is None:
        raise FitDataError.at(p, 1, 1, f"empty file (expected header {','.join(COLUMNS)})")
    if not rows:
        raise FitDataError.at(p, header_line + 1, 1, "no data rows")
    a = np.array(rows, dtype=object)
    return _validated(np.array(a[:, 0], dtype=np.int64), np.array(a[:, 1], dtype=np.int64),
                      np.array(a[:, 2], dtype=np.int64), np.array(a[:, 3], dtype=np.float64), str(p),
                      line=np.array(a[:, 4], dtype=np.int64), cols=[header.index(c) + 1 for c in COLUMNS])


def _validated(device, pulse, polarity, g, name="data", *, line=None, cols=(1, 2, 3, 4)) -> PulseData:
    """Sorted :class:`PulseData`; the first bad row named by ``name:line:column`` (``cols``: the
    1-based columns of device, pulse, polarity, conductance_uS)."""
    if line is None:
        line = np.zeros(device.shape, dtype=np.int64)
    order = np.lexsort((pulse, device))
    data = PulseData(device[order], pulse[order], polarity[order], g[order], line[order], name)

    def first(bad: np.ndarray, column: int, message: str) -> None:
        if np.any(bad):
            i = int(np.flatnonzero(bad)[np.argmin(data.line[bad])])    # the first in the file
            raise FitDataError(f"{data.where(i, column)}: {message}")
    first(~np.isfinite(data.g) | (data.g < 0), cols[3], "conductance_uS must be finite and >= 0")
    first(data.pulse < 0, cols[1], "pulse must be >= 0")
    first((data.pulse > 0) & (data.polarity != SET) & (data.polarity != RESET), cols[2],
          "polarity must be 1 (SET) or 0 (RESET) for pulse >= 1")
    dup = np.r_[False, (np.diff(data.device) == 0) & (np.diff(data.pulse) == 0)]
    if np.any(dup):
        i = int(np.flatnonzero(dup)[0])
        raise FitDataError(f"{data.where(i, cols[1])}: device {data.device[i]} has pulse {data.pulse[i]} twice "
                           f"(first at line {data.line[i - 1]})")
    return data


def write_csv(path: str | Path, model: DeviceModel, devices: int, n_set: int, n_reset: int,
              cycles: int = 1, header_note: str | None = None) -> Path:
    """Simulate ``devices`` fresh devices under ``cycles`` x (n_set SET, n_reset RESET) and write a CSV."""
    ids = np.arange(devices)
    dev = model.per_device(ids)
    g = model.initial(ids, dev=dev)
    out = [(i, 0, -1, g[i]) for i in ids]
    k = 0
    for _ in range(cycles):
        for pol, n in ((SET, n_set), (RESET, n_reset)):
            for _ in range(n):
                g = model.pulse(g, ids, k, pol, dev=dev)
                k += 1
                out.extend((i, k, pol, g[i]) for i in ids)
    p = Path(path)
    with p.open("w", newline="") as f:
        if header_note:
            for line in header_note.splitlines():
                f.write(f"# {line}\n")
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows((d, k_, pol, f"{v:.6f}") for d, k_, pol, v in out)
    return p


def _transitions(data: PulseData):
    """(device index, g_before, g_after, polarity) of consecutive pulses of the same device."""
    same = (np.diff(data.device) == 0) & (np.diff(data.pulse) == 1)
    i = np.flatnonzero(same)
    _, dev_idx = np.unique(data.device, return_inverse=True)
    return dev_idx[i + 1], data.g[i], data.g[i + 1], data.polarity[i + 1]


def _fit_law(f_of_gamma, dg, dev, n_dev, sign):
    """Shared exponent + per-device amplitude least squares for dg = sign * a_dev * f(gamma).

    Returns (gamma, amplitudes, relative estimation variance of each amplitude).
    """
    def solve(gamma, full=False):
        f = f_of_gamma(gamma)
        num = np.bincount(dev, sign * dg * f, n_dev)
        den = np.bincount(dev, f * f, n_dev)
        a = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        res = dg - sign * a[dev] * f
        if not full:
            return float(np.sum(res * res)), a
        # heteroscedasticity-robust (sandwich) variance of each amplitude, relative to a**2
        var = np.bincount(dev, f * f * res * res, n_dev) / np.where(den > 0, den * den, np.inf)
        return a, var / np.where(a > 0, a * a, np.inf)
    grid = np.linspace(0.0, 5.0, 101)
    errs = [solve(gm)[0] for gm in grid]
    j = int(np.argmin(errs))
    lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]
    for _ in range(40):   # golden-section refinement
        m1, m2 = lo + 0.382 * (hi - lo), lo + 0.618 * (hi - lo)
        if solve(m1)[0] < solve(m2)[0]:
            hi = m2
        else:
            lo = m1
    gamma = 0.5 * (lo + hi)
    return (gamma, *solve(gamma, full=True))


def fit(data: PulseData | str | Path, binary: bool | None = None,
        min_devices: int = 2, *, strict: bool = False) -> tuple[DeviceParams, dict]:
    """Fit device parameters; returns ``(DeviceParams, report)``.

    ``binary=None`` detects a two-level device (every conductance within 5 % of the window of its
    device's minimum or maximum). The report holds per-device estimates and fit diagnostics.

    Plausibility (:mod:`golden.physics.plausibility`): a conductance many decades from the others
    (a lost unit prefix) and a fitted value outside the model's range (which the model then limits)
    each give a :class:`~golden.spec.checks.PlausibilityWarning` naming the row or the parameter;
    ``strict=True`` makes them a :class:`FitDataError`.
    """
    if not isinstance(data, PulseData):
        data = read_csv(data)
    src = data.source
    check_group(data.g, data.where, "conductance_uS", "uS", strict)
    devs = np.unique(data.device)
    if devs.size < min_devices:
        raise FitDataError(f"{src}: need pulse data of at least {min_devices} devices for the device-to-device "
                           f"spread, got {devs.size}")
    dev, g0, g1, pol = _transitions(data)
    if (pol == SET).sum() < 10 or (pol == RESET).sum() < 10:
        raise FitDataError(f"{src}: need at least 10 consecutive SET and 10 consecutive RESET transitions")
    n_dev = devs.size
    _, dev_of_row = np.unique(data.device, return_inverse=True)
    gmin_i = np.full(n_dev, np.inf)
    gmax_i = np.full(n_dev, -np.inf)
    np.minimum.at(gmin_i, dev_of_row, data.g)
    np.maximum.at(gmax_i, dev_of_row, data.g)
    span_i = gmax_i - gmin_i
    if np.any(span_i <= 0):
        i = int(np.flatnonzero(span_i <= 0)[0])
        raise FitDataError(f"{src}: device {devs[i]} never changed its conductance: no window to fit")
    init = data.g[data.pulse == 0]
    if binary is None:
        near = (np.minimum(data.g - gmin_i[dev_of_row], gmax_i[dev_of_row] - data.g)
                <= 0.05 * span_i[dev_of_row])
        binary = bool(np.all(near))
    report: dict = {"devices": int(n_dev), "transitions": int(dev.size), "binary": binary}
    g_min = float(np.exp(np.mean(np.log(np.maximum(gmin_i, 1e-9)))))
    g_max = float(np.exp(np.mean(np.log(gmax_i))))
    d2d_bounds = float(np.sqrt(0.5 * (np.var(np.log(np.maximum(gmin_i, 1e-9))) + np.var(np.log(gmax_i)))))
    if binary:
        low = (g0 - gmin_i[dev]) < 0.5 * span_i[dev]
        up = pol == SET
        sw = (g1 - gmin_i[dev] >= 0.5 * span_i[dev]) != ~low
        s_try, r_try = up & low, ~up & ~low
        if s_try.sum() == 0 or r_try.sum() == 0:
            raise FitDataError(f"{src}: binary fit needs SET pulses from the low state and RESET pulses from the "
                               "high state")
        p_set = float(sw[s_try].mean())
        p_reset = float(sw[r_try].mean())
        params = DeviceParams(g_min=g_min, g_max=g_max, binary=True, p_set=p_set, p_reset=p_reset,
                              d2d_bounds=limited("d2d_bounds", d2d_bounds, 0.0, 2.0, strict, src), d2d_step=0.0, g_init=g_min, g_init_std=0.0,
                              a_set=0.5 * (g_max - g_min), a_reset=0.5 * (g_max - g_min))
        report.update(p_set=p_set, p_reset=p_reset)
        return params, report
    x = (g0 - gmin_i[dev]) / span_i[dev]
    dg = g1 - g0
    s_sel = (pol == SET) & (x > 0.2) & (x < 0.9)
    r_sel = (pol == RESET) & (x > 0.1) & (x < 0.8)
    if s_sel.sum() < 10 or r_sel.sum() < 10:
        raise FitDataError(f"{src}: too few SET transitions from the lower window or RESET from the upper window")
    gs, a_s, v_s = _fit_law(lambda gm: (1.0 - x[s_sel]) ** gm, dg[s_sel], dev[s_sel], n_dev, 1.0)
    gr, a_r, v_r = _fit_law(lambda gm: x[r_sel] ** gm, dg[r_sel], dev[r_sel], n_dev, -1.0)
    ok_s, ok_r = np.isfinite(a_s) & (a_s > 0), np.isfinite(a_r) & (a_r > 0)
    if not ok_s.any() or not ok_r.any():
        raise FitDataError(f"{src}: could not fit positive SET and RESET step amplitudes")
    # amplitudes are relative to each device's window; the model's a_i are absolute (uS)
    la_s, la_r = np.log(a_s[ok_s]), np.log(a_r[ok_r])
    # spread of the log amplitudes minus their estimation variance (var(log a) ~ var(a) / a**2)
    var_s = np.var(la_s) - np.mean(v_s[ok_s])
    var_r = np.var(la_r) - np.mean(v_r[ok_r])
    d2d_step = float(np.sqrt(max(0.5 * (var_s + var_r), 0.0)))
    a_set, a_reset = float(np.exp(la_s.mean())), float(np.exp(la_r.mean()))
    mu = np.concatenate([a_s[dev[s_sel]] * (1.0 - x[s_sel]) ** gs, -a_r[dev[r_sel]] * x[r_sel] ** gr])
    res = np.concatenate([dg[s_sel], dg[r_sel]]) - mu
    ok = np.isfinite(mu)
    A = np.stack([mu[ok] ** 2, np.ones(ok.sum())], axis=1)
    coef, *_ = np.linalg.lstsq(A, res[ok] ** 2, rcond=None)
    noise_mult = float(math.sqrt(max(coef[0], 0.0)))
    noise_add = float(math.sqrt(max(coef[1], 0.0)))
    span = g_max - g_min
    params = DeviceParams(
        g_min=g_min, g_max=g_max, a_set=limited("a_set", a_set, 0.0, span, strict, src),
        a_reset=limited("a_reset", a_reset, 0.0, span, strict, src),
        gamma_set=limited("gamma_set", float(gs), 0.0, 10.0, strict, src),
        gamma_reset=limited("gamma_reset", float(gr), 0.0, 10.0, strict, src),
        noise_mult=limited("noise_mult", noise_mult, 0.0, 5.0, strict, src),
        noise_add=limited("noise_add", noise_add, 0.0, g_max, strict, src),
        d2d_step=limited("d2d_step", d2d_step, 0.0, 2.0, strict, src),
        d2d_bounds=limited("d2d_bounds", d2d_bounds, 0.0, 2.0, strict, src),
        g_init=float(np.clip(init.mean(), g_min, g_max)) if init.size else g_min,
        g_init_std=float(init.std()) if init.size > 1 else 0.0)
    report.update(rms_residual=float(np.sqrt(np.mean(res[ok] ** 2))), gamma_set=gs, gamma_reset=gr,
                  a_set_per_device=a_s.tolist(), a_reset_per_device=a_r.tolist(),
                  g_min_per_device=gmin_i.tolist(), g_max_per_device=gmax_i.tolist())
    return params, report
