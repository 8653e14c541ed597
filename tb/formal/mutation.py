"""Mutants: a block class whose module source has exactly one line broken, compiled in memory.

The file on disk is never touched (parallel tests read it as it is); the mutated module is a new
module object, so the real block stays importable unchanged in the same process.
"""
from __future__ import annotations

import importlib
import inspect
import types
from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    """Replace ``old`` (text found exactly once in ``module``, within one line) by ``new``."""

    module: str          # e.g. "hw.pulse_scheduler"
    cls: str             # the block class, e.g. "PulseScheduler"
    old: str
    new: str

    def apply(self) -> type:
        """The mutated class; :class:`LookupError` if ``old`` does not occur exactly once."""
        mod = importlib.import_module(self.module)
        src = inspect.getsource(mod)
        n = src.count(self.old)
        if n != 1:
            raise LookupError(f"mutation of {self.module}: {self.old!r} occurs {n} times, must be once "
                              "(the source changed: update the mutant)")
        if "\n" in self.old.strip("\n") or "\n" in self.new.strip("\n"):
            raise ValueError(f"mutation of {self.module}: old and new must each lie within one line")
        mutant = types.ModuleType(f"{self.module}__mutant")
        mutant.__file__ = mod.__file__
        code = compile(src.replace(self.old, self.new), f"{mod.__file__} (mutant)", "exec")
        exec(code, mutant.__dict__)      # noqa: S102 - our own module text with one line changed
        return getattr(mutant, self.cls)
