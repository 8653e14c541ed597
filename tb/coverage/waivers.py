"""The one waiver table of functional coverage: bins that cannot be reached in a configuration.

Each waiver names the items it covers with a glob over ``<block>.<label>.<group>.<point>`` (the
label is the configuration, ``any`` for configuration-independent groups) and a glob over the
bin's name, and says why the bin is unreachable. :mod:`tb.coverage.report` lists every waiver with
the number of bins it waived; a waiver that matches no unhit bin is reported as stale.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Waiver:
    """Unhit bins matching ``item`` and ``bin`` (fnmatch globs) are waived for ``reason``."""

    item: str
    bin: str
    reason: str


WAIVERS: tuple[Waiver, ...] = (
)
