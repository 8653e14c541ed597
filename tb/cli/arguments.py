"""Command-line value types: every number, list and output path a command takes is parsed and
range-checked here, while argparse reads the command line, so a bad value stops the command before
any work starts (exit code 2, the option named with its allowed range).

    p.add_argument("--epochs", type=IntIn(1, 1000))
    p.add_argument("--lr", type=FloatIn(0.0, 1.0, lo_open=True))
    p.add_argument("--hw-seeds", type=IntList(0, 2**32 - 1))
    p.add_argument("--json", type=OutputFile())

The ranges are those of the parameter dataclasses the values end up in (which check them again);
ranges that depend on data (more samples than a data set has) are checked by the command before
it starts, through :func:`check_count`.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from golden.spec.checks import ConfigError, check_int


def _range_text(lo, hi, lo_open: bool = False) -> str:
    if hi is None:
        return f"> {lo}" if lo_open else f">= {lo}"
    return f"{'(' if lo_open else '['}{lo}, {hi}]"


class IntIn:
    """An integer in ``[lo, hi]`` (``hi`` None: no upper bound)."""

    def __init__(self, lo: int, hi: int | None = None):
        self.lo, self.hi = lo, hi
        self.__name__ = "integer"   # argparse names the type in its "invalid ... value" message

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < self.lo or (self.hi is not None and value > self.hi):
            raise argparse.ArgumentTypeError(f"{value} is out of range: allowed {self.range_text}")
        return value

    @property
    def range_text(self) -> str:
        return _range_text(self.lo, self.hi)


class FloatIn:
    """A finite real number in ``[lo, hi]``, or ``(lo, hi]`` with ``lo_open`` (``hi`` None: no upper bound)."""

    def __init__(self, lo: float, hi: float | None = None, *, lo_open: bool = False):
        self.lo, self.hi, self.lo_open = lo, hi, lo_open
        self.__name__ = "number"

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        hi = math.inf if self.hi is None else self.hi
        if not math.isfinite(value) or value < self.lo or value > hi or (self.lo_open and value == self.lo):
            raise argparse.ArgumentTypeError(f"{text} is out of range: allowed {self.range_text}")
        return value

    @property
    def range_text(self) -> str:
        return _range_text(self.lo, self.hi, self.lo_open)


class IntList:
    """Comma-separated integers, each in ``[lo, hi]``; at least one; returned as a tuple."""

    def __init__(self, lo: int, hi: int | None = None):
        self.item = IntIn(lo, hi)
        self.__name__ = "list of integers"

    def __call__(self, text: str) -> tuple[int, ...]:
        parts = [t.strip() for t in text.split(",") if t.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers, e.g. 1,2,4")
        out = []
        for t in parts:
            try:
                out.append(self.item(t))
            except argparse.ArgumentTypeError as e:
                raise argparse.ArgumentTypeError(f"{text!r}: {e} (comma-separated integers)") from None
        return tuple(out)

    @property
    def range_text(self) -> str:
        return self.item.range_text


class _OutputPath:
    """An argparse type for a path the command will write; ``_check`` raises ConfigError if it can't."""

    def __call__(self, text: str) -> Path:
        path = Path(text)
        try:
            type(self)._check(path)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return path


class OutputFile(_OutputPath):
    """A file the command will write: not a directory, and its nearest existing ancestor a writable
    directory (the missing directories in between are created when the file is written)."""

    __name__ = "output file"

    @staticmethod
    def _check(path: Path) -> None:
        check_writable_file(path)


class OutputDir(_OutputPath):
    """A directory the command will write into: not a file, writable, or creatable under a writable
    directory."""

    __name__ = "output directory"

    @staticmethod
    def _check(path: Path) -> None:
        check_writable_dir(path)


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_writable_dir(path: Path) -> None:
    """:class:`ConfigError` unless ``path`` is (or can be created as) a writable directory."""
    base = _nearest_existing(path)
    if not base.is_dir():
        raise ConfigError(f"{path}: {base} is a file, not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: directory {base} is not writable")


def check_writable_file(path: Path) -> None:
    """:class:`ConfigError` unless ``path`` can be written as a file (see :class:`OutputFile`)."""
    if path.is_dir():
        raise ConfigError(f"{path} is a directory: give a file name")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{path} is not writable")
        return
    check_writable_dir(path.parent)


def check_count(name: str, value: int | None, available: int, what: str) -> None:
    """A sample count against the data it selects from: None (all) or ``1 .. available``.

    Raises :class:`ConfigError` naming ``name``, the range and ``what`` holds that many samples.
    """
    if value is None:
        return
    try:
        check_int(name, value, 1, available)
    except ConfigError as e:
        raise ConfigError(f"{e} ({what} has {available})") from None


VALUE_TYPES = (IntIn, FloatIn, IntList, OutputFile, OutputDir)
"""Every ``type=`` a command may give a numeric or output-path option (tests/cli check this)."""
