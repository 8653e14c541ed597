"""Interface constants that the golden twins and the RTL blocks share: latencies, error codes, strobes.

They are part of the specification, not of one twin: ``hw/`` reads them from here, and the twins in
:mod:`golden.twins` import them from here, so a change moves both sides at once.
"""
from __future__ import annotations

from enum import IntEnum

#: Latency of CrossbarAddressing's registered decoder, in cycles.
ADDRESSING_LATENCY = 1

#: Cycles from the array command to valid read data behind CrossbarAddressing (its register).
DEFAULT_READ_LATENCY = ADDRESSING_LATENCY


class ErrorCode(IntEnum):
    """Reason of the PulseScheduler's sticky error flag (``error_code`` output, 3 bits)."""

    NONE = 0
    ROW = 1          # program request: row >= array.rows
    COL = 2          # program request: col >= array.cols
    SLOT = 3         # program request: slot >= D
    COUNT = 4        # program request: count == 0
    READ_ROW = 5     # host read: row >= array.rows
    READ_COL = 6     # host read: phys_col >= phys_cols


#: Width of an :class:`ErrorCode` (the ``error_code`` output, ERRORS.SCHED_CODE).
ERROR_CODE_WIDTH = max(ErrorCode).bit_length()


#: SenseAmpSequencer phase codes (``phase`` output); the names after idle are
#: :data:`golden.spec.bnn_datapath_params.PHASES`.
IDLE, PRECHARGE, INPUT, EVALUATE, SENSE, READOUT, RESET = range(7)

#: The analog macro's control strobes, in the bit order of the ``strobes`` output.
STROBES = ("eq", "precharge", "input_en", "evaluate", "sa_en", "readout", "sa_rst")

#: phase code -> strobe bits (STROBES order)
STROBE_TABLE = {
    IDLE: (0, 0, 0, 0, 0, 0, 0),
    PRECHARGE: (1, 1, 0, 0, 0, 0, 0),
    INPUT: (0, 0, 1, 0, 0, 0, 0),
    EVALUATE: (0, 0, 1, 1, 0, 0, 0),
    SENSE: (0, 0, 1, 0, 1, 0, 0),
    READOUT: (0, 0, 0, 0, 1, 1, 0),
    RESET: (0, 0, 0, 0, 0, 0, 1),
}
