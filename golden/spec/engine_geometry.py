"""Geometry and pipeline depth of the OuterProductEngine, shared by the RTL and its golden twin.

:mod:`hw.outer_product_engine` sizes its banks and pipeline with these functions and
:mod:`golden.twins.outer_product_engine` times its cycle model with them, so both follow one
definition (the micro-architecture is described in the twin's module docstring).
"""
from __future__ import annotations

from golden.spec.params import AccelParams

__all__ = ["clear_cycles", "delta_sub_cycles", "eps_is_power_of_two", "groups", "layer_lanes", "pipeline_stages",
           "with_lanes"]


def groups(params: AccelParams) -> int:
    """G = ceil(cols / P): column groups, the depth of a lane's chi bank per row."""
    return -(-params.array.cols // params.engine.lanes)


def clear_cycles(params: AccelParams) -> int:
    """Cycles of the clear walk (all P banks in parallel, one word each per cycle): ``rows * G``."""
    return params.array.rows * groups(params)


def eps_is_power_of_two(params: AccelParams) -> bool:
    eps = params.update.eps
    return eps & (eps - 1) == 0


def pipeline_stages(params: AccelParams) -> int:
    """Registers from the issue stage to the merge stage: 7 (issue, delta read, delta register,
    product, dw + chi read, chi register, saturated sum), plus ``count_width + 1`` restoring
    division stages when eps is not a power of two (else count and residue are bit slices)."""
    return 7 if eps_is_power_of_two(params) else 7 + params.update.count_width + 1


def delta_sub_cycles(params: AccelParams) -> int:
    """Cycles per delta word: ``ceil(delta_per_word / min(P, delta_per_word))``."""
    dpw = params.engine.delta_per_word
    spw = min(params.engine.lanes, dpw)
    return -(-dpw // spw)


def layer_lanes(cols: int, lanes: int) -> int:
    """P of a layer with ``cols`` columns when the design asks for ``lanes``: at most the largest power
    of two <= ``cols`` (every lane must own a column), e.g. 128 -> 128 for 250 columns, 8 for 10."""
    return min(lanes, 1 << (cols.bit_length() - 1))


def with_lanes(params: AccelParams, lanes: int) -> AccelParams:
    """``params`` with ``engine.lanes = layer_lanes(array.cols, lanes)``."""
    return params.with_(engine={"lanes": layer_lanes(params.array.cols, lanes)})
