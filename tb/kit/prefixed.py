"""A view of a cocotb DUT handle under a port-name prefix."""
from __future__ import annotations


class Prefixed:
    """A view of a cocotb DUT handle whose attribute ``x`` is the DUT's ``<prefix>x``."""

    def __init__(self, dut, prefix: str):
        self._dut, self._prefix = dut, prefix

    def __getattr__(self, name: str):
        h = getattr(self._dut, self._prefix + name)
        setattr(self, name, h)          # resolved once: later lookups are plain attribute reads
        return h
