"""Resistance look-up table (LUT) from measured ReRAM read data, and the device-state model built on it.

Prabhu et al. (seed 001) cycle a device 1000 times between Logic-1 (SET, low resistance, LRS) and
Logic-0 (RESET, high resistance, HRS) and program 8 levels by the RESET stop voltage; the measured
read resistances form a LUT from which each simulated device draws the resistance it is read at.
This module reads such data, fits each state (lognormal and empirical), and turns the fits into a
sampler + reader used by :mod:`golden.studies.variability`.

CSV format
----------
UTF-8 text; lines starting with ``#`` and blank lines are ignored (use them for provenance). The
first other line is the header; column names are case-insensitive, extra columns are ignored.

Resistance form (one read per row)::

    device,cycle,state,resistance_ohm
    d0,0,LRS,8123.4
    d0,0,HRS,151020.0

I-V form (one or more I-V points per read; R is derived at the read voltage)::

    device,cycle,state,voltage_v,current_a
    d0,0,LRS,0.05,6.1e-6
    d0,0,LRS,0.10,1.23e-5

``state`` (required)
    ``LRS`` or ``HRS`` (aliases ``logic1`` / ``logic0``) for the binary (1 bit per cell) states, or
    ``L0`` .. ``L15`` for multi-level states. Labels are case-insensitive. The level *number* is only
    a name: levels are ranked by their fitted median resistance, so either numbering direction works.
``device`` (optional, any text) and ``cycle`` (optional, integer)
    Identify one read; rows of the I-V form sharing (device, cycle, state) are one I-V sweep.
    Without a ``cycle`` column every row is a read of its own.
``resistance_ohm``
    Read resistance in ohm, finite and > 0.
``voltage_v``, ``current_a``
    Used when there is no ``resistance_ohm`` column. A read with a single point gives R = V / I; a
    read with several points gives R = V_read / I(V_read), I linearly interpolated in V (V_read must
    lie inside the swept range). R must come out finite and > 0.

Every malformed input raises :class:`LUTFormatError` naming the file, line and column.

Device-state model
------------------
:class:`StateModel` orders the states of one cell type by *increasing conductance* (state index 0 =
highest resistance), so for a binary cell index 0 = HRS = bit 0 and index 1 = LRS = bit 1 (Logic-1 is
the SET state, as in the paper). A device programmed to state ``k`` is read at
``R = exp(mu'_k + s * d)`` where ``d`` is a log-deviation drawn from the state's lognormal fit or
from its measured samples (empirical), ``s`` is the *spread scale* (1 = as measured, 0 = no
variability) and ``mu'_k = c + w * (mu_k - c)`` compresses (``w < 1``) or widens the memory window
around its log-centre ``c`` (the *window scale*, which sets the overlap together with ``s``). The
reader compares ``ln R`` with thresholds between adjacent states: the crossing of the two fitted
(scaled) lognormal densities (``"optimal"``, equal priors) or the geometric midpoint of the medians
(``"midpoint"``).
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden.physics.plausibility import check_group
from golden.spec.checks import DataFileError
from golden.spec.params import ConfigError, check_choice, check_float, check_floats, check_int, check_ints
from golden.spec.rng import STREAM_VARIABILITY, normal, uniform

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
EXAMPLE_BINARY = DATA_DIR / "hfo2_example_binary.csv"
EXAMPLE_LEVELS = DATA_DIR / "hfo2_example_levels.csv"
EXAMPLE_IV = DATA_DIR / "hfo2_example_iv.csv"

STREAM_LUT_NORMAL = STREAM_VARIABILITY          # lognormal read draw (index = device id, counter = trial)
STREAM_LUT_EMPIRICAL = STREAM_VARIABILITY + 1   # empirical draw: which measured sample

MAX_LEVELS = 16
_LEVEL_RE = re.compile(r"^L(\d+)$")
_ALIASES = {"LRS": "LRS", "LOGIC1": "LRS", "HRS": "HRS", "LOGIC0": "HRS"}


class LUTFormatError(DataFileError):
    """A resistance-data file is malformed; the message names the file, line and column."""


def canonical_state(label: str) -> str | None:
    """``'lrs'`` -> ``'LRS'``, ``'logic0'`` -> ``'HRS'``, ``'l3'`` -> ``'L3'``; None if unknown."""
    s = label.strip().upper()
    if s in _ALIASES:
        return _ALIASES[s]
    m = _LEVEL_RE.match(s)
    if m and int(m.group(1)) < MAX_LEVELS:
        return f"L{int(m.group(1))}"
    return None


@dataclass(frozen=True)
class LognormalFit:
    """Lognormal fit of one state: ``ln R ~ N(mu, sigma_log)``; ``median_ohm = exp(mu)``."""

    state: str
    mu: float
    sigma_log: float
    n: int

    @property
    def median_ohm(self) -> float:
        return math.exp(self.mu)


@dataclass(frozen=True)
class ResistanceLUT:
    """Measured read resistances per state (ohm), as loaded from a CSV file.

    Attributes
    ----------
    samples : dict[str, np.ndarray]
        Canonical state label -> float64 array of read resistances (ohm), in file order.
    source : str
        Where the data came from (file path or a description).
    comments : tuple[str, ...]
        The ``#`` lines of the file (provenance; the shipped example says it is synthetic).
    """

    samples: dict
    source: str = "<memory>"
    comments: tuple = ()

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(sorted(self.samples, key=_state_sort_key))

    @property
    def is_synthetic(self) -> bool:
        return any("SYNTHETIC" in c.upper() for c in self.comments)

    def fit(self, state: str) -> LognormalFit:
        """Lognormal fit (mean and sample standard deviation of ln R) of one state."""
        r = self.samples[state]
        ln = np.log(r)
        sigma = float(np.std(ln, ddof=1)) if ln.size > 1 else 0.0
        return LognormalFit(state, float(np.mean(ln)), sigma, int(ln.size))

    def fits(self) -> dict[str, LognormalFit]:
        return {s: self.fit(s) for s in self.states}

    def empirical(self, state: str) -> np.ndarray:
        """Sorted measured resistances of one state (the empirical distribution)."""
        return np.sort(self.samples[state])

    def merged(self, other: ResistanceLUT) -> ResistanceLUT:
        """Union of two LUTs (states present in both are concatenated)."""
        s = dict(self.samples)
        for k, v in other.samples.items():
            s[k] = np.concatenate([s[k], v]) if k in s else v
        return ResistanceLUT(s, f"{self.source} + {other.source}", self.comments + other.comments)

    def has_binary(self) -> bool:
        return "LRS" in self.samples and "HRS" in self.samples

    def levels(self) -> list[str]:
        return [s for s in self.states if s.startswith("L") and s != "LRS"]

    def state_model(self, bits_per_cell: int) -> StateModel:
        """The device-state model for cells of ``bits_per_cell`` bits (2**bits_per_cell states).

        1 bit: LRS/HRS if present, else the lowest- and highest-resistance level. More bits: exactly
        2**bits_per_cell ``L<k>`` levels must be present.
        """
        check_int("bits_per_cell", bits_per_cell, 1, 4)
        n = 1 << bits_per_cell
        if bits_per_cell == 1 and self.has_binary():
            labels = ["HRS", "LRS"]
        else:
            labels = self.levels()
            if bits_per_cell == 1 and len(labels) >= 2:
                fits = {s: self.fit(s) for s in labels}
                labels = sorted(labels, key=lambda s: fits[s].mu)
                labels = [labels[-1], labels[0]]
            elif len(labels) != n:
                need = "states LRS and HRS (or levels)" if bits_per_cell == 1 else f"{n} levels L0..L{n - 1}"
                raise ConfigError(
                    f"bits_per_cell = {bits_per_cell} needs {need} in the resistance data {self.source}; "
                    f"found states {list(self.states)}")
        return StateModel.from_lut(self, labels)


def _state_sort_key(s: str):
    if s == "HRS":
        return (0, 0)
    if s == "LRS":
        return (0, 1)
    return (1, int(s[1:]))


# --------------------------------------------------------------------------------------------------
# Loader
# --------------------------------------------------------------------------------------------------
def _parse_number(text: str, where: str, col: str, colno: int) -> float:
    try:
        v = float(text)
    except ValueError:
        raise LUTFormatError(f"{where}:{colno}: column '{col}': {text.strip()!r} is not a number") from None
    if not math.isfinite(v):
        raise LUTFormatError(f"{where}:{colno}: column '{col}': {text.strip()!r} is not a finite number")
    return v


def load_lut(path: str | Path, *, read_voltage: float = 0.1, strict: bool = False) -> ResistanceLUT:
    """Read a resistance-data CSV (format in the module docstring) into a :class:`ResistanceLUT`.

    Parameters
    ----------
    path : file path
    read_voltage : float, volts
        Read voltage for the I-V form (ignored for the resistance form); 0 < |V| <= 10.
    strict : bool
        A resistance many decades and robust standard deviations from the other reads of its state
        (:mod:`golden.physics.plausibility`) is an error; without ``strict`` a
        :class:`~golden.spec.checks.PlausibilityWarning` naming its ``file:line``.

    Raises
    ------
    LUTFormatError
        On a missing file, empty file, missing column, wrong field count, non-numeric or non-finite
        value, resistance <= 0, unknown state label, or a read voltage outside an I-V sweep; the
        message names the file and line (and the column where one is involved).
    """
    p = Path(path)
    check_float("read_voltage", abs(read_voltage), 0.0, 10.0, lo_open=True)
    if p.is_dir():
        raise LUTFormatError(f"{p}: is a directory, not a resistance data file")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise LUTFormatError(f"{p}: resistance data file does not exist") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        colno = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise LUTFormatError(f"{p}:{line}:{colno}: not UTF-8 text (byte 0x{raw[e.start]:02x}): "
                             "is it a binary file?") from None

    comments: list[str] = []
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
            continue
        fields_ = next(csv.reader([line]))
        if header is None:
            header = [h.strip().lower() for h in fields_]
            header_line = lineno
        else:
            rows.append((lineno, fields_))
    if header is None:
        raise LUTFormatError(f"{p}:1:1: empty file: expected a header line such as "
                             f"'device,cycle,state,resistance_ohm'")
    col = {name: i for i, name in enumerate(header)}
    if "state" not in col:
        raise LUTFormatError(f"{p}:{header_line}:1: missing column 'state'; found columns {header}")
    iv = "resistance_ohm" not in col
    if iv and not ("voltage_v" in col and "current_a" in col):
        missing = [c for c in ("voltage_v", "current_a") if c not in col]
        raise LUTFormatError(
            f"{p}:{header_line}:1: missing column 'resistance_ohm' (or the I-V pair 'voltage_v', 'current_a': "
            f"missing {missing}); found columns {header}")
    if not rows:
        raise LUTFormatError(f"{p}:{header_line + 1}:1: empty file: a header but no data rows")

    reads: dict[tuple, list] = {}
    order: list[tuple] = []
    for lineno, f in rows:
        where = f"{p}:{lineno}"
        if len(f) < len(header):
            raise LUTFormatError(f"{where}:{len(f) + 1}: expected {len(header)} fields ({','.join(header)}), got {len(f)}")
        raw_state = f[col["state"]]
        state = canonical_state(raw_state)
        if state is None:
            raise LUTFormatError(
                f"{where}:{col['state'] + 1}: column 'state': unknown state label {raw_state.strip()!r}: "
                f"allowed LRS, HRS (aliases logic1, logic0) or L0..L{MAX_LEVELS - 1}")
        device = f[col["device"]].strip() if "device" in col else ""
        if "cycle" in col:
            c = f[col["cycle"]].strip()
            try:
                cycle = int(c)
            except ValueError:
                raise LUTFormatError(f"{where}:{col['cycle'] + 1}: column 'cycle': "
                                     f"{c!r} is not an integer") from None
        else:
            cycle = lineno
        if not iv:
            r = _parse_number(f[col["resistance_ohm"]], where, "resistance_ohm", col["resistance_ohm"] + 1)
            if r <= 0:
                raise LUTFormatError(f"{where}:{col['resistance_ohm'] + 1}: column 'resistance_ohm': "
                                     f"resistance must be > 0 ohm, got {r:g}")
            key = (device, cycle, state, lineno)
            reads[key] = [(lineno, r)]
            order.append(key)
        else:
            v = _parse_number(f[col["voltage_v"]], where, "voltage_v", col["voltage_v"] + 1)
            i = _parse_number(f[col["current_a"]], where, "current_a", col["current_a"] + 1)
            key = (device, cycle, state)
            if key not in reads:
                reads[key] = []
                order.append(key)
            reads[key].append((lineno, v, i))

    samples: dict[str, list[float]] = {}
    lines: dict[str, list[int]] = {}
    for key in order:
        pts = reads[key]
        state = key[2]
        if not iv:
            r = pts[0][1]
        else:
            r = _resistance_from_iv(p, pts, read_voltage, header, col)
        samples.setdefault(state, []).append(r)
        lines.setdefault(state, []).append(pts[0][0])
    for state, values in samples.items():
        check_group(np.asarray(values), lambda i, s=state: f"{p}:{lines[s][i]}", f"{state} resistance", "ohm",
                    strict)
    return ResistanceLUT({k: np.asarray(v, dtype=np.float64) for k, v in samples.items()},
                         str(p), tuple(comments))


def _resistance_from_iv(p: Path, pts: list, read_voltage: float, header, col) -> float:
    ci = col["current_a"] + 1
    first = pts[0][0]
    if len(pts) == 1:
        lineno, v, i = pts[0]
        if i == 0 or v == 0:
            raise LUTFormatError(f"{p}:{lineno}:{ci}: columns 'voltage_v', 'current_a': "
                                 f"R = V / I needs V != 0 and I != 0, got V={v:g}, I={i:g}")
        r = v / i
        where = f"{p}:{lineno}"
    else:
        vs = np.array([q[1] for q in pts])
        cs = np.array([q[2] for q in pts])
        srt = np.argsort(vs)
        vs, cs = vs[srt], cs[srt]
        if not (vs[0] <= read_voltage <= vs[-1]):
            raise LUTFormatError(
                f"{p}:{first}:{col['voltage_v'] + 1}: column 'voltage_v': read voltage {read_voltage:g} V "
                f"is outside this I-V sweep [{vs[0]:g}, {vs[-1]:g}] V (lines {first}..{pts[-1][0]})")
        i = float(np.interp(read_voltage, vs, cs))
        if i == 0:
            raise LUTFormatError(f"{p}:{first}:{ci}: column 'current_a': zero current at the read voltage")
        r = read_voltage / i
        where = f"{p}:{first}"
    if not (r > 0 and math.isfinite(r)):
        raise LUTFormatError(f"{where}:{ci}: column 'current_a': derived resistance V/I = {r:g} ohm "
                             f"must be finite and > 0 (current sign opposite to voltage?)")
    return r


def load_default_lut() -> ResistanceLUT:
    """The shipped *synthetic* HfO2 example (binary + 8 levels), see ``hfo2_example_README.md``."""
    return load_lut(EXAMPLE_BINARY).merged(load_lut(EXAMPLE_LEVELS))


# --------------------------------------------------------------------------------------------------
# State model: sample and read devices
# --------------------------------------------------------------------------------------------------
def _crossing(mu_lo: float, s_lo: float, mu_hi: float, s_hi: float) -> float:
    """x in (mu_lo, mu_hi) where N(mu_lo, s_lo) and N(mu_hi, s_hi) densities cross (midpoint if none)."""
    mid = 0.5 * (mu_lo + mu_hi)
    if s_lo <= 0 or s_hi <= 0 or mu_hi <= mu_lo:
        return mid
    if math.isclose(s_lo, s_hi, rel_tol=1e-12):
        return mid
    # (x-a)^2/s1^2 - (x-b)^2/s2^2 = 2 ln(s2/s1)
    a, b, s1, s2 = mu_lo, mu_hi, s_lo, s_hi
    A = 1 / s1**2 - 1 / s2**2
    B = -2 * (a / s1**2 - b / s2**2)
    C = a**2 / s1**2 - b**2 / s2**2 - 2 * math.log(s2 / s1)
    disc = B * B - 4 * A * C
    if disc < 0:
        return mid
    roots = [(-B + sgn * math.sqrt(disc)) / (2 * A) for sgn in (1, -1)]
    inside = [x for x in roots if a < x < b]
    return inside[0] if inside else mid


@dataclass(frozen=True)
class StateModel:
    """States of one cell type, ordered by increasing conductance (index 0 = highest resistance).

    Attributes
    ----------
    labels : tuple[str, ...]
        State labels in index order (``("HRS", "LRS")`` for a binary cell).
    mu, sigma : tuple[float, ...]
        Lognormal fit per state (natural log of ohm).
    deviations : tuple[np.ndarray, ...]
        Measured log-deviations ``ln R - mu`` per state (the empirical distribution).
    """

    labels: tuple
    mu: tuple
    sigma: tuple
    deviations: tuple = field(repr=False)

    @classmethod
    def from_lut(cls, lut: ResistanceLUT, labels: list[str]) -> StateModel:
        fits = [lut.fit(s) for s in labels]
        order = sorted(range(len(labels)), key=lambda k: -fits[k].mu)  # highest R first
        fits = [fits[k] for k in order]
        devs = tuple(np.log(lut.samples[f.state]) - f.mu for f in fits)
        return cls(tuple(f.state for f in fits), tuple(f.mu for f in fits), tuple(f.sigma_log for f in fits), devs)

    @property
    def n_states(self) -> int:
        return len(self.labels)

    def scaled(self, spread: float = 1.0, window: float = 1.0) -> ScaledStates:
        """Apply a spread scale (log-deviations times ``spread``) and a window scale (see module doc)."""
        check_float("spread_scale", spread, 0.0, 100.0)
        check_float("window_scale", window, 0.0, 100.0, lo_open=True)
        mu = np.asarray(self.mu)
        c = 0.5 * (mu.max() + mu.min())
        return ScaledStates(self, c + window * (mu - c), spread * np.asarray(self.sigma), spread)


@dataclass(frozen=True)
class ScaledStates:
    """A :class:`StateModel` with spread/window scaling applied: what devices are drawn from."""

    base: StateModel
    mu: np.ndarray
    sigma: np.ndarray
    spread: float

    def thresholds(self, reference: str = "optimal") -> np.ndarray:
        """Ascending thresholds on ``-ln R`` (log-conductance) between adjacent states."""
        check_choice("reference", reference, ("optimal", "midpoint"))
        th = []
        for k in range(len(self.mu) - 1):
            # state k has the higher resistance; work in g = -ln R where k is the lower state
            g_lo, g_hi = -self.mu[k], -self.mu[k + 1]
            if reference == "midpoint":
                th.append(0.5 * (g_lo + g_hi))
            else:
                th.append(_crossing(g_lo, self.sigma[k], g_hi, self.sigma[k + 1]))
        return np.asarray(th)

    def sample_log_r(self, states: np.ndarray, device_ids: np.ndarray, *, seed: int, trial: int = 0,
                     model: str = "lognormal") -> np.ndarray:
        """``ln R`` read from devices programmed to ``states`` (counter-based: pure in seed, id, trial)."""
        check_choice("model", model, ("lognormal", "empirical"))
        states = np.asarray(states)
        out = self.mu[states].astype(np.float64)
        if self.spread == 0:
            return out
        if model == "lognormal":
            z = normal(seed, STREAM_LUT_NORMAL, device_ids, trial)
            out += self.sigma[states] * z
        else:
            u = uniform(seed, STREAM_LUT_EMPIRICAL, device_ids, trial)
            for k, dev in enumerate(self.base.deviations):
                m = states == k
                if m.any():
                    idx = np.minimum((u[m] * dev.size).astype(np.int64), dev.size - 1)
                    out[m] += self.spread * dev[idx]
        return out

    def read(self, log_r: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
        """State index read back from ``ln R`` by the reference thresholds (nearest level)."""
        return np.searchsorted(thresholds, -np.asarray(log_r), side="right").astype(np.int64)

    def misread_rates(self, reference: str = "optimal") -> np.ndarray:
        """Analytic probability (lognormal model) that a device programmed to state k is misread."""
        from scipy.special import ndtr

        th = self.thresholds(reference)
        out = np.zeros(len(self.mu))
        for k in range(len(self.mu)):
            g, s = -self.mu[k], self.sigma[k]
            lo = th[k - 1] if k > 0 else -np.inf
            hi = th[k] if k < len(th) else np.inf
            if s == 0:
                out[k] = 0.0 if lo < g <= hi else 1.0
            else:
                out[k] = 1.0 - (ndtr((hi - g) / s) - ndtr((lo - g) / s))
        return out


# --------------------------------------------------------------------------------------------------
# Synthetic example data (no measured data is available to the project: see hfo2_example_README.md)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HfO2ExampleParams:
    """Literature-plausible HfO2 1T1R read statistics used to *synthesise* the example data set.

    Not measured. Typical TiN/HfO2/Ti(N) cells read at 0.1 V show LRS of a few kohm with a narrow
    lognormal spread and an HRS one to two decades higher with a much broader, lognormal-tailed
    spread; RESET-stop-voltage multi-level states lie in between with a spread that grows with the
    resistance. Each device gets its own median per state (device-to-device, ``sigma_d2d``) and each
    cycle its own read (cycle-to-cycle, ``sigma_*``); both lognormal.

    Attributes (ohm; sigma_* are standard deviations of ln R)
    ----------
    lrs_median, lrs_sigma : 8 kohm, 0.12
    hrs_median, hrs_sigma : 150 kohm, 0.45
    level_r_min, level_r_max : 8 kohm (L0, shallowest RESET), 240 kohm (L7, deepest RESET); the
        level medians are log-spaced between them.
    level_sigma0, level_sigma_step : 0.05, 0.02 (level k has sigma 0.05 + 0.02 k)
    sigma_d2d : 0.05 (device-to-device spread of each state's median)
    devices, cycles : 4 devices x 250 cycles = 1000 reads per state (as the paper's 1000 cycles)
    n_levels : 8
    seed : numpy Generator seed used to draw the file
    """

    lrs_median: float = 8e3
    lrs_sigma: float = 0.12
    hrs_median: float = 150e3
    hrs_sigma: float = 0.45
    level_r_min: float = 8e3
    level_r_max: float = 240e3
    level_sigma0: float = 0.05
    level_sigma_step: float = 0.02
    sigma_d2d: float = 0.05
    devices: int = 4
    cycles: int = 250
    n_levels: int = 8
    read_voltage: float = 0.1
    seed: int = 20200501

    def __post_init__(self):
        ohms, sigma = (1.0, 1e9), (0.0, 5.0)
        check_floats(self, "hfo2", lrs_median=ohms, hrs_median=ohms, level_r_min=ohms, level_r_max=ohms,
                     lrs_sigma=sigma, hrs_sigma=sigma, level_sigma0=sigma, level_sigma_step=sigma,
                     sigma_d2d=sigma)
        check_ints(self, "hfo2", devices=(1, 1000), cycles=(1, 100000), n_levels=(2, MAX_LEVELS))

    def level_medians(self) -> np.ndarray:
        return np.geomspace(self.level_r_min, self.level_r_max, self.n_levels)

    def level_sigmas(self) -> np.ndarray:
        return self.level_sigma0 + self.level_sigma_step * np.arange(self.n_levels)


def _synth(states: list[tuple[str, float, float]], p: HfO2ExampleParams, rng: np.random.Generator):
    rows = []
    offsets = {s: rng.normal(0.0, p.sigma_d2d, p.devices) for s, _, _ in states}
    for d in range(p.devices):
        for c in range(p.cycles):
            for s, med, sig in states:
                r = med * math.exp(offsets[s][d] + sig * rng.normal())
                rows.append((f"d{d}", d * p.cycles + c, s, r))
    return rows


def _header(p: HfO2ExampleParams, what: str) -> str:
    return (
        "# SYNTHETIC example data - NOT measured. Generated by golden.physics.resistance_lut.write_example_data\n"
        f"# ({what}) from literature-plausible HfO2 1T1R parameters (read at {p.read_voltage} V):\n"
        f"# LRS median {p.lrs_median:.0f} ohm sigma_log {p.lrs_sigma}; HRS median {p.hrs_median:.0f} ohm "
        f"sigma_log {p.hrs_sigma};\n"
        f"# {p.n_levels} levels log-spaced {p.level_r_min:.0f}..{p.level_r_max:.0f} ohm, sigma_log "
        f"{p.level_sigma0} + {p.level_sigma_step}*k; device-to-device sigma_log {p.sigma_d2d};\n"
        f"# {p.devices} devices x {p.cycles} cycles; numpy seed {p.seed}. Replace with measured data via "
        "--data FILE.csv.\n")


def write_example_data(out_dir: str | Path = DATA_DIR, params: HfO2ExampleParams | None = None) -> list[Path]:
    """(Re)generate the shipped synthetic CSV files; returns their paths."""
    p = params or HfO2ExampleParams()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(p.seed)
    paths = []

    rows = _synth([("LRS", p.lrs_median, p.lrs_sigma), ("HRS", p.hrs_median, p.hrs_sigma)], p, rng)
    path = out / "hfo2_example_binary.csv"
    with path.open("w") as fh:
        fh.write(_header(p, "Logic-1 = LRS / Logic-0 = HRS over bipolar cycles"))
        fh.write("device,cycle,state,resistance_ohm\n")
        fh.writelines(f"{d},{c},{s},{r:.1f}\n" for d, c, s, r in rows)
    paths.append(path)

    lv = [(f"L{k}", m, s) for k, (m, s) in enumerate(zip(p.level_medians(), p.level_sigmas()))]
    rows = _synth(lv, p, rng)
    path = out / "hfo2_example_levels.csv"
    with path.open("w") as fh:
        fh.write(_header(p, "8 levels set by the RESET stop voltage; L0 shallowest RESET = lowest R"))
        fh.write("device,cycle,state,resistance_ohm\n")
        fh.writelines(f"{d},{c},{s},{r:.1f}\n" for d, c, s, r in rows)
    paths.append(path)

    # A small I-V form example: 1 device x 100 cycles, 5 points 0.025..0.2 V, mildly nonlinear HRS.
    vs = np.array([0.025, 0.05, p.read_voltage, 0.15, 0.2])
    path = out / "hfo2_example_iv.csv"
    with path.open("w") as fh:
        fh.write(_header(p, "I-V form: R is derived at the read voltage by interpolation"))
        fh.write("device,cycle,state,voltage_v,current_a\n")
        for c in range(100):
            for s, med, sig, nl in (("LRS", p.lrs_median, p.lrs_sigma, 0.0),
                                    ("HRS", p.hrs_median, p.hrs_sigma, 2.0)):
                r = med * math.exp(sig * rng.normal())
                for v in vs:
                    # I = V/R * (1 + nl*(V^2 - Vread^2)) keeps R(V_read) = r exactly.
                    i = v / r * (1 + nl * (v * v - p.read_voltage ** 2))
                    fh.write(f"d0,{c},{s},{v:.3f},{i:.6e}\n")
    paths.append(path)
    return paths
