"""Parameter checks shared by every parameter dataclass: each error names the field and its range."""
from __future__ import annotations

import math
from typing import Any


class ConfigError(ValueError):
    """A parameter is out of its allowed range; the message names the field and the range."""


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


def check_choice(name: str, value: Any, choices: tuple) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} = {value!r} is not allowed: choose one of {list(choices)}")


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
