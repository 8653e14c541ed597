"""The co-simulation tops of BNN inference: the accelerator with a BNN section whose training array
holds one 2T2R layer, or a whole network."""
from __future__ import annotations

from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.bnn_network_params import BnnNetHwParams
from golden.spec.params import AccelParams
from hw.accelerator import Accelerator


def bnn_top_params(hw: BnnHwParams) -> AccelParams:
    """Training-array parameters that hold ``hw``'s 2T2R layer (rows = banks, 2 slots per synapse)."""
    return AccelParams().with_(array={"rows": hw.banks, "cols": hw.array_cols, "cell": "2T2R"},
                               synapse={"devices": 2})


def bnn_top(hw: BnnHwParams) -> Accelerator:
    """:class:`hw.accelerator.Accelerator` (ADC width and read latency its defaults) with the BNN
    section ``hw`` on the array of :func:`bnn_top_params`; its ports are the top's ports."""
    return Accelerator(bnn_top_params(hw), bnn=hw)


def bnn_net_top_params(net: BnnNetHwParams) -> AccelParams:
    """Training-array parameters that hold the whole network ``net`` (its rows and bridge columns)."""
    return AccelParams().with_(array={"rows": net.rows, "cols": net.cols, "cell": "2T2R"}, synapse={"devices": 2})


def bnn_net_top(net: BnnNetHwParams) -> Accelerator:
    """:class:`hw.accelerator.Accelerator` with a network build ``net`` (:class:`hw.bnn_network_engine.
    BnnNetworkEngine`, class register BNN_CLASS) on the array of :func:`bnn_net_top_params`."""
    return Accelerator(bnn_net_top_params(net), bnn=net)
