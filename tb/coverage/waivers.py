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
    Waiver("axil_csr.*.access.strobe", "none",
           "cocotbext-axi's AxiLiteMaster issues no beat for a zero-length write, so wstrb = 0 never reaches "
           "the bus from it; the rule (nothing written, OKAY) is checked on the golden register file in "
           "tests/blocks/test_axil_csr.py"),
    Waiver("axil_csr.any.wait.channel_x_pause_x_cycles", "('*', 'random', '>=16')",
           "the random pause class stalls each cycle with p = 0.4: a 16-cycle stall has probability "
           "0.4^16 < 1e-6 per transfer (reachable in principle, not in a run's length); the burst class "
           "covers the long stalls"),
)
