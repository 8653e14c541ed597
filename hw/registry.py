"""Every generated block, by name: what `reram-accel verilog` writes, one Verilog file each.

Each entry maps the Verilog module name to a function ``AccelParams -> wiring.Component``.
"""
from __future__ import annotations

from collections.abc import Callable

from golden.spec.params import AccelParams

# The blocks that contain (most of) the others: the slowest to generate (`reram-accel verilog
# --jobs` starts them first).
TOPS = ("accelerator", "accelerator_arst")


def blocks() -> dict[str, Callable[[AccelParams], object]]:
    from hw.accelerator import Accelerator
    from hw.arbitration_controller import ArbitrationController
    from hw.argmax_unit import ArgmaxUnit
    from hw.async_reset_top import AsyncResetTop
    from hw.axil_csr import AxiLiteCsr
    from hw.bnn_layer_engine import BnnLayerEngine
    from hw.bnn_network_engine import BnnNetworkEngine
    from hw.crossbar_addressing import CrossbarAddressing
    from hw.mvm_activation_unit import MvmActivationUnit
    from hw.mvm_read_engine import MvmReadEngine
    from hw.outer_product_engine import OuterProductEngine
    from hw.pulse_scheduler import PulseScheduler
    from hw.sense_amp_sequencer import SenseAmpSequencer
    from hw.update_unit import UpdateUnit
    from hw.xnor_popcount import XnorPopcount

    return {
        "update_unit": UpdateUnit.from_params,
        "outer_product_engine": OuterProductEngine.from_params,
        "arbitration_controller": ArbitrationController.from_params,
        "pulse_scheduler": PulseScheduler.from_params,
        "crossbar_addressing": CrossbarAddressing.from_params,
        "axil_csr": AxiLiteCsr.from_params,
        "accelerator": Accelerator.from_params,
        # the same top with an active-low asynchronous reset input (aresetn) and its synchronizer
        "accelerator_arst": AsyncResetTop.accelerator,
        # BNN blocks: sizes from golden.spec.bnn_datapath_params.BnnHwParams (defaults for a plain AccelParams)
        "xnor_popcount": XnorPopcount.from_params,
        "sense_amp_sequencer": SenseAmpSequencer.from_params,
        "bnn_layer_engine": BnnLayerEngine.from_params,
        # a whole network: without a BnnNetHwParams, a small network around the [bnn] layer
        # (golden.spec.bnn_network_params.bnn_net_params_of); its output layer's argmax
        "argmax_unit": ArgmaxUnit.from_params,
        "bnn_network_engine": BnnNetworkEngine.from_params,
        # MVM read path: sizes from the [mvm] section (golden.spec.mvm_params.MvmParams defaults without one)
        "mvm_read_engine": MvmReadEngine.from_params,
        # the activation between the read passes (ReLU, error codes, ReLU'): [array], [engine], [mvm] formats
        "mvm_activation_unit": MvmActivationUnit.from_params,
    }


def check_configuration(params: AccelParams) -> None:
    """The checks that span blocks, run whatever subset of :func:`blocks` is generated: a ``[bnn]``
    section must fit the training array and needs 2T2R cells (the accelerator top checks the same
    when it is built; a BNN block alone would not)."""
    if params.bnn is not None:
        from hw.accelerator import check_bnn_fits

        check_bnn_fits(params, params.bnn)
