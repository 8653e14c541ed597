"""Transactions exchanged between the training-periphery blocks (golden and RTL build the same lists).

Every RTL stream payload has a twin here with the same field names (see :mod:`hw.layouts`); cycle
stamps, where a transaction has one, count clock edges from a reference stated by the producer.
"""
from __future__ import annotations

from dataclasses import dataclass

SET = 1      # polarity: potentiation pulse (conductance up)
RESET = 0    # polarity: depression pulse (conductance down)


@dataclass(frozen=True)
class UpdateRequest:
    """Host -> UpdateUnit: add ``dw`` (signed, update.dw_width) to the accumulator of synapse (row, col)."""
    row: int
    col: int
    dw: int


@dataclass(frozen=True)
class PulseCount:
    """UpdateUnit -> ArbitrationController: ``count`` pulses (signed: + potentiate, - depress)."""
    row: int
    col: int
    count: int


@dataclass(frozen=True)
class ProgramRequest:
    """ArbitrationController -> PulseScheduler: ``count`` pulses of ``polarity`` on device ``slot``."""
    row: int
    col: int
    slot: int
    polarity: int
    count: int


@dataclass(frozen=True)
class Pulse:
    """One programming pulse as it reaches the array: physical row/column, rising-edge cycle."""
    cycle: int
    row: int
    phys_col: int
    polarity: int
