"""Stream payload layouts shared by the training-periphery blocks, derived from the parameter tree.

Field names equal those of the golden transactions in :mod:`golden.spec.transactions`.
"""
from __future__ import annotations

from amaranth import signed, unsigned
from amaranth.lib import data

from golden.spec.params import AccelParams


def update_request_layout(p: AccelParams) -> data.StructLayout:
    """Host -> UpdateUnit: (row, col, dw)."""
    return data.StructLayout({"row": unsigned(p.row_width), "col": unsigned(p.col_width),
                              "dw": signed(p.update.dw_width)})


def pulse_count_layout(p: AccelParams) -> data.StructLayout:
    """UpdateUnit -> ArbitrationController: (row, col, signed count)."""
    return data.StructLayout({"row": unsigned(p.row_width), "col": unsigned(p.col_width),
                              "count": signed(p.update.count_width + 1)})


def program_request_layout(p: AccelParams) -> data.StructLayout:
    """ArbitrationController -> PulseScheduler: (row, col, slot, polarity, count)."""
    return data.StructLayout({"row": unsigned(p.row_width), "col": unsigned(p.col_width),
                              "slot": unsigned(p.slot_width), "polarity": unsigned(1),
                              "count": unsigned(max(p.update.count_width, 8))})


def frame_word_layout() -> data.StructLayout:
    """Host -> OuterProductEngine: one AXI4-Stream word of a frame (``tdata``, ``tlast``)."""
    return data.StructLayout({"data": unsigned(32), "last": unsigned(1)})
