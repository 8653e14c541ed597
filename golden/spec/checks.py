"""Parameter checks shared by every parameter dataclass: each error names the field and its range."""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, NamedTuple


class ConfigError(ValueError):
    """A parameter is out of its allowed range; the message names the field and the range."""


class DataFileError(ConfigError):
    """A data file (device measurements, data set) is malformed or implausible; the message starts
    with ``file:line:column`` (as far as known), as a compiler's does."""

    @classmethod
    def at(cls, path: Any, line: int | None, column: int | None, message: str) -> DataFileError:
        """``path:line:column: message`` (``line`` / ``column`` None: left out)."""
        where = str(path) + "".join(f":{v}" for v in (line, column) if v is not None)
        return cls(f"{where}: {message}")


class PlausibilityWarning(UserWarning):
    """A value in device data lies far outside the rest (``--strict`` turns it into an error)."""


def bits_for(n: int) -> int:
    """Width in bits of an unsigned signal that holds values ``0 .. n-1`` (at least 1)."""
    return max(1, (n - 1).bit_length())


def check_int(name: str, value: Any, lo: int, hi: int | None = None) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an int in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ConfigError(f"{name} = {value} is out of range: allowed {rng}")


def check_float(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a real number in ``[lo, hi]`` (or ``(lo, hi]``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if value < lo or value > hi or (lo_open and value == lo):
        rng = f"{'(' if lo_open else '['}{lo}, {hi}]"
        raise ConfigError(f"{name} = {value} is out of range: allowed {rng}")


class LoOpen(NamedTuple):
    """The range ``(lo, hi]`` of a :func:`check_floats` entry (a plain ``(lo, hi)`` is closed)."""

    lo: float
    hi: float


def check_ints(obj: Any, section: str, /, **ranges: tuple[int, int | None]) -> None:
    """:func:`check_int` of ``section.name`` for every ``name=(lo, hi)``, in the order given.

    Each range is computed before the first check of the call: a range that depends on another field
    belongs in a later call than that field's check.
    """
    for name, (lo, hi) in ranges.items():
        check_int(f"{section}.{name}", getattr(obj, name), lo, hi)


def check_floats(obj: Any, section: str, /, **ranges: tuple[float, float] | LoOpen) -> None:
    """:func:`check_float` of ``section.name`` for every ``name=(lo, hi)`` or ``name=LoOpen(lo, hi)``,
    in the order given (ranges depending on another field: as in :func:`check_ints`)."""
    for name, (lo, hi) in ranges.items():
        check_float(f"{section}.{name}", getattr(obj, name), lo, hi,
                    lo_open=isinstance(ranges[name], LoOpen))


def dataclass_from_dict(cls: type, d: Any, section: str) -> Any:
    """``cls(**d)`` for the config table ``[section]``; a non-table or an unknown key is a
    :class:`ConfigError` naming the section (and the allowed keys)."""
    if not isinstance(d, dict):
        raise ConfigError(f"config section [{section}] must be a table, got {d!r}")
    allowed = {f.name for f in fields(cls)}
    for k in d:
        if k not in allowed:
            raise ConfigError(f"unknown key {section}.{k}: allowed {sorted(allowed)}")
    return cls(**d)


def check_choice(name: str, value: Any, choices: tuple) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} = {value!r} is not allowed: choose one of {list(choices)}")


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
