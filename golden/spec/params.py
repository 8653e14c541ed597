"""The one parameter tree that feeds both the golden model and the Amaranth generators.

Every field is checked once, in its dataclass's ``__post_init__`` (helpers in
:mod:`golden.spec.checks`); an out-of-range value raises :class:`ConfigError` naming the dotted field and
its allowed range. Nothing is clamped silently.

Physical layout of a synapse array (shared by golden and RTL)
-------------------------------------------------------------
A synapse (logical weight) at ``(row, col)`` is ``D = devices * (2 if differential else 1)``
devices on word line ``row``. Device slot ``d`` in ``[0, D)`` sits on physical column
``col * D + d``. In differential mode slots ``[0, N)`` form the G+ group and ``[N, 2N)`` the G- group.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.checks import (  # noqa: F401  (re-exported: the checks are part of the parameter API)
    ConfigError,
    LoOpen,
    bits_for,
    check_bool,
    check_choice,
    check_float,
    check_floats,
    check_int,
    check_ints,
    dataclass_from_dict,
)
from golden.spec.mvm_params import MvmParams

MAX_ROWS = 4096
MAX_COLS = 4096
MAX_DEVICES = 64
MAX_TIMING = 255


@dataclass(frozen=True)
class ArrayParams:
    """Crossbar size in synapses and the cell type.

    Attributes
    ----------
    rows : int, 1..4096
        Synapse rows (word lines).
    cols : int, 1..4096
        Synapse columns (each occupies ``D`` physical columns, see module docstring).
    cell : "1T1R" | "2T2R"
        Cell type the crossbar addressing drives.
    """

    rows: int = 32
    cols: int = 32
    cell: str = "1T1R"

    def __post_init__(self):
        check_ints(self, "array", rows=(1, MAX_ROWS), cols=(1, MAX_COLS))
        check_choice("array.cell", self.cell, ("1T1R", "2T2R"))


@dataclass(frozen=True)
class SynapseParams:
    """Multi-ReRAM synapse and its counter-based arbitration (Boybat et al.).

    Attributes
    ----------
    devices : int, 1..64
        N, devices per synapse (per group in differential mode).
    increment : int
        Step of the global selection counter, 1..N-1 and co-prime with N (1 when N = 1), so that
        the counter visits every device.
    differential : bool
        Weight = sum G+ - sum G- with separate selection counters per group.
    pot_period, dep_period : int, 1..256
        Potentiation (depression) is applied only in every P-th update cycle (asymmetry balance).
    refresh_pulses : int, 1..255
        RESET pulses applied to each device of a synapse on a refresh.
    """

    devices: int = 4
    increment: int = 1
    differential: bool = False
    pot_period: int = 1
    dep_period: int = 1
    refresh_pulses: int = 1

    def __post_init__(self):
        check_int("synapse.devices", self.devices, 1, MAX_DEVICES)
        check_int("synapse.increment", self.increment, 1, max(1, self.devices - 1))
        if math.gcd(self.increment, self.devices) != 1:
            raise ConfigError(
                f"synapse.increment = {self.increment} is not co-prime with synapse.devices = "
                f"{self.devices}: the selection counter would skip devices; allowed: 1..{max(1, self.devices - 1)} "
                f"with gcd(increment, devices) == 1")
        check_bool("synapse.differential", self.differential)
        check_ints(self, "synapse", pot_period=(1, 256), dep_period=(1, 256), refresh_pulses=(1, 255))

    @property
    def slots(self) -> int:
        """D: physical devices per synapse (2N in differential mode)."""
        return self.devices * (2 if self.differential else 1)


@dataclass(frozen=True)
class UpdateParams:
    """Mixed-precision update unit fixed-point formats (all in LSBs of the chi accumulator).

    Attributes
    ----------
    dw_width : int, 2..32
        Width of the signed two's-complement weight update dW.
    chi_width : int, dw_width..40
        Width of the signed accumulator chi; chi + dW saturates at its range.
    eps : int, 1..2**(chi_width-1)-1
        Pulse threshold: while |chi| >= eps one pulse is emitted and chi -= sign(chi)*eps.
    count_width : int, 1..8
        Width of the unsigned pulse count: at most 2**count_width - 1 pulses per request (the rest
        stays in chi).
    """

    dw_width: int = 12
    chi_width: int = 16
    eps: int = 256
    count_width: int = 4

    def __post_init__(self):
        # each range needs the field checked before it: chi_width's dw_width, eps's chi_width
        check_ints(self, "update", dw_width=(2, 32))
        check_ints(self, "update", chi_width=(self.dw_width, 40))
        check_ints(self, "update", eps=(1, (1 << (self.chi_width - 1)) - 1), count_width=(1, 8))

    @property
    def max_count(self) -> int:
        return (1 << self.count_width) - 1


@dataclass(frozen=True)
class EngineParams:
    """Outer-product update engine: lanes and the fixed-point formats of its input vectors.

    Per training sample and layer the host streams the layer input ``x`` (one value per array row)
    and the back-propagated error ``delta`` (one value per array column, already multiplied by
    ``-lr`` and expressed in dw LSBs); the engine forms every ``dw[j, i]`` itself
    (:func:`golden.twins.outer_product_engine.product_dw`)::

        x_q[j]     unsigned x_width bits, value x_q / 2**x_frac          (host: rint, saturate)
        d_q[i]     signed delta_width bits, value d_q / 2**delta_frac     (dw LSBs; host: rint, saturate)
        dw[j, i] = saturate(floor((x_q[j] * d_q[i] + 2**(s-1)) / 2**s), update.dw_width),
                   s = x_frac + delta_frac                                (round half up; s = 0: exact)

    Attributes
    ----------
    lanes : int, power of two 1..256, at most array.cols
        P: synapses updated per cycle; lane k owns the columns ``col % P == k`` and its own chi bank
        (``rows * ceil(cols / P)`` words). The last column group is partial when P does not divide
        ``array.cols``: those lanes idle.
    x_width : int, 1..16
        Width of the unsigned layer-input code ``x_q``.
    x_frac : int, 0..x_width - 1
        Fraction bits of ``x_q``: values up to ``(2**x_width - 1) / 2**x_frac``; 1.0 (the bias
        input) must be representable, so at least one integer bit.
    delta_width : int, 2..24
        Width of the signed error code ``d_q``.
    delta_frac : int, 0..24
        Fraction bits of ``d_q`` (in dw LSBs).
    """

    lanes: int = 1
    x_width: int = 10
    x_frac: int = 7
    delta_width: int = 16
    delta_frac: int = 8

    def __post_init__(self):
        check_ints(self, "engine", lanes=(1, 256), x_width=(1, 16), delta_width=(2, 24), delta_frac=(0, 24))
        if self.lanes & (self.lanes - 1):
            raise ConfigError(f"engine.lanes = {self.lanes} is not a power of two: allowed 1, 2, 4, .., 256")
        check_ints(self, "engine", x_frac=(0, self.x_width - 1))

    @property
    def shift(self) -> int:
        """s = x_frac + delta_frac: fraction bits of the product ``x_q * d_q``."""
        return self.x_frac + self.delta_frac

    @property
    def x_per_word(self) -> int:
        """x codes per 32-bit stream word (packed from bit 0)."""
        return 32 // self.x_width

    @property
    def delta_per_word(self) -> int:
        """delta codes per 32-bit stream word (packed from bit 0)."""
        return 32 // self.delta_width


@dataclass(frozen=True)
class TimingParams:
    """Programming and read timing in clock cycles (all 1..255).

    Attributes
    ----------
    setup : int
        Address/line setup before the first pulse of a request.
    width : int
        Programming pulse width.
    gap : int
        Gap between two pulses of one request.
    settle : int
        Settling time after the last pulse before the next request (or the verify read).
    read : int
        Read strobe length (read path and optional program-and-verify read).
    verify : bool
        Program-and-verify: a read of the cell after the pulses of each request.
    """

    setup: int = 1
    width: int = 2
    gap: int = 1
    settle: int = 1
    read: int = 2
    verify: bool = False

    def __post_init__(self):
        cycles = (1, MAX_TIMING)
        check_ints(self, "timing", setup=cycles, width=cycles, gap=cycles, settle=cycles, read=cycles)
        check_bool("timing.verify", self.verify)


@dataclass(frozen=True)
class AccelParams:
    """Root of the parameter tree: one object feeds golden and the generators."""

    array: ArrayParams = field(default_factory=ArrayParams)
    synapse: SynapseParams = field(default_factory=SynapseParams)
    update: UpdateParams = field(default_factory=UpdateParams)
    timing: TimingParams = field(default_factory=TimingParams)
    engine: EngineParams = field(default_factory=EngineParams)
    #: Optional BNN datapath (XnorPopcount, SenseAmpSequencer, BnnLayerEngine); a ``[bnn]`` TOML
    #: section adds it to the accelerator top. Its fields and ranges: :class:`golden.spec.bnn_datapath_params.BnnHwParams`.
    bnn: BnnHwParams | None = None
    #: Optional MVM read path (forward and transposed array reads with ADCs); a ``[mvm]`` TOML section
    #: adds it. Its fields and ranges: :class:`golden.spec.mvm_params.MvmParams`.
    mvm: MvmParams | None = None

    def __post_init__(self):
        for name, cls in SECTIONS.items():
            v = getattr(self, name)
            if not (isinstance(v, cls) or (name in OPTIONAL_SECTIONS and v is None)):
                raise ConfigError(f"{name} must be a {cls.__name__}, got {type(v).__name__}")
        if self.phys_cols > MAX_COLS * 4:
            raise ConfigError(
                f"array.cols * synapse devices per synapse = {self.phys_cols} physical columns is out of "
                f"range: allowed [1, {MAX_COLS * 4}]")
        if self.engine.lanes > self.array.cols:
            raise ConfigError(f"engine.lanes = {self.engine.lanes} exceeds array.cols = {self.array.cols}: "
                              f"allowed a power of two in [1, {1 << (self.array.cols.bit_length() - 1)}] "
                              f"(every lane owns at least one column)")

    # --- derived widths (the generators use these; golden uses them for range checks) ---------
    @property
    def phys_cols(self) -> int:
        """Physical bit lines: cols * D."""
        return self.array.cols * self.synapse.slots

    @property
    def row_width(self) -> int:
        return bits_for(self.array.rows)

    @property
    def col_width(self) -> int:
        return bits_for(self.array.cols)

    @property
    def slot_width(self) -> int:
        return bits_for(self.synapse.slots)

    @property
    def phys_col_width(self) -> int:
        return bits_for(self.phys_cols)

    def with_(self, **sections: dict) -> AccelParams:
        """Copy with some fields changed: ``p.with_(synapse={"devices": 8, "increment": 3})``."""
        new = {}
        for name, kv in sections.items():
            cur = getattr(self, name)
            new[name] = SECTIONS[name](**kv) if cur is None else replace(cur, **kv)
        return replace(self, **new)

    def to_dict(self) -> dict:
        out = {}
        for name in SECTIONS:
            sec = getattr(self, name)
            if sec is not None:
                out[name] = {g.name: getattr(sec, g.name) for g in fields(sec)}
        return out


SECTIONS = {"array": ArrayParams, "synapse": SynapseParams, "update": UpdateParams, "timing": TimingParams,
            "engine": EngineParams, "bnn": BnnHwParams, "mvm": MvmParams}
OPTIONAL_SECTIONS = ("bnn", "mvm")


def params_from_dict(d: dict) -> AccelParams:
    """Build an :class:`AccelParams` from nested dicts; unknown sections or keys are errors."""
    known = SECTIONS
    sections = {}
    for name, kv in d.items():
        if name not in known:
            raise ConfigError(f"unknown config section [{name}]: allowed {sorted(known)}")
        sections[name] = dataclass_from_dict(known[name], kv, name)
    return AccelParams(**sections)


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file; every problem is a :class:`ConfigError` naming the file.

    A UTF-8 byte-order mark (as some Windows editors write) is accepted. A file without any key
    or section (empty, or only comments) is an error, not "all defaults": a config file that
    says nothing is more likely the wrong file than a wish for the defaults, which a command
    gives when no ``--config`` is passed.
    """
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"config file {p} is a directory, not a TOML file")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except OSError as e:
        raise ConfigError(f"config file {p} cannot be read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")          # utf-8-sig: drops a leading byte-order mark
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(f"{p}:{line}:{col}: config file is not UTF-8 text (byte 0x{raw[e.start]:02x}): "
                          "is it a binary file?") from None
    if "\x00" in text:
        raise ConfigError(f"{p}: config file contains NUL characters: is it a binary file?")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # Python 3.11's tomllib puts the position only into the text: "... (at line 3, column 7)"
        m = re.match(r"(.*) \(at line (\d+), column (\d+)\)$", str(e))
        where, msg = (f"{p}:{m[2]}:{m[3]}", m[1]) if m else (str(p), str(e))
        raise ConfigError(f"{where}: config file is not valid TOML: {msg}") from None
    if not data:
        raise ConfigError(f"config file {p} is empty (no section, no key): leave out --config for the "
                          "built-in defaults")
    return data


def load_config(path: str | Path | None) -> AccelParams:
    """Read a TOML file (sections ``[array] [synapse] [update] [timing]``, optional ``[bnn]``, ``[mvm]``);
    None gives the defaults."""
    if path is None:
        return AccelParams()
    return params_from_dict(read_toml(path))
