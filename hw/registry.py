"""Every generated block, by name: what `reram-accel verilog` writes, one Verilog file each.

Each entry maps the Verilog module name to a function ``AccelParams -> wiring.Component``.
"""
from __future__ import annotations

from collections.abc import Callable

from golden.params import AccelParams


def blocks() -> dict[str, Callable[[AccelParams], object]]:
    from .arbitration_controller import ArbitrationController
    from .axil_csr import AxiLiteCsr
    from .crossbar_addressing import CrossbarAddressing
    from .pulse_scheduler import PulseScheduler
    from .update_unit import UpdateUnit

    return {
        "update_unit": UpdateUnit.from_params,
        "arbitration_controller": ArbitrationController.from_params,
        "pulse_scheduler": PulseScheduler.from_params,
        "crossbar_addressing": CrossbarAddressing.from_params,
        "axil_csr": AxiLiteCsr.from_params,
    }
