"""Host side of the BNN inference co-simulation: the trained digits layer, its test images, the
engine parameters, and the golden output bits of both modes."""
from __future__ import annotations

import numpy as np

from golden.bnn.chip_model import BnnHardware, HardwareConfig
from golden.bnn.model_params import BnnTrainParams
from golden.bnn.network import binarize_images, load_or_train, model_path
from golden.data.datasets import load_digits
from golden.spec.bnn_datapath_params import BnnHwParams
from golden.twins.bnn_layer_engine import (
    analog_bits,
    array_image,
    digital_bits,
    extend_inputs,
    majority_threshold,
    programmed_bits,
)

#: The trained digits BNN (one hidden layer of 33) shared with tests/blocks/test_bnn_layer_engine.py.
DIGITS_BNN = {"dataset": "digits", "hidden": (33,), "epochs": 30, "batch": 50, "lr": 3e-3, "seed": 0}
MODES = ("digital", "analog")


def digits_bnn():
    """(model, path) of the trained :data:`DIGITS_BNN` (trained once, then loaded from build/bnn/)."""
    params = BnnTrainParams(**DIGITS_BNN)
    return load_or_train(params), model_path(params).resolve()


def digits_test_bits(n: int) -> np.ndarray:
    """uint8 ``[n, 64]``: the first ``n`` binarised digits test images."""
    return binarize_images(load_digits().x_test[:n]).astype(np.uint8)


def bnn_hw_for(model, bank: int = 4) -> BnnHwParams:
    """Engine parameters for hidden layer 0 of ``model`` (a :class:`golden.bnn.network.BnnModel`)."""
    return BnnHwParams(inputs=model.fan_in(0), bias_cells=model.bias_cells(0), neurons=model.sizes[1],
                       bank=bank, out_fifo=8)


def golden_bits(model, hw: BnnHwParams, x: np.ndarray, hc: dict):
    """(programmed bits [neurons, cells], array image, digital bits, analog bits), each [images, neurons]
    for the two bit arrays; ``hc``: :class:`golden.bnn.chip_model.HardwareConfig` fields."""
    prog = programmed_bits(model.extended_weights(0), seed=hc["seed"], bit_error=hc.get("bit_error") or 0.0)
    return (prog, array_image(prog, hw), digital_bits(prog, x, hw.bias_cells),
            analog_bits(BnnHardware(model, HardwareConfig(**hc)), x, 0))


def sensitive_bridge(prog: np.ndarray, x: np.ndarray, hw: BnnHwParams) -> dict:
    """A bridge whose flip changes the digital output of some image: the first (image, neuron) whose
    popcount sits exactly on the majority threshold, and one of its agreeing cells (flipping it drops
    the count below the threshold). Returns ``{"row", "col", "image", "neuron"}`` (array coordinates)."""
    xe = extend_inputs(x, hw.bias_cells).astype(np.int64)
    p = prog.astype(np.int64)
    cnt = xe @ p.T + (1 - xe) @ (1 - p).T
    hits = np.argwhere(cnt == majority_threshold(hw.cells))
    if not len(hits):
        raise ValueError("no neuron on its threshold: no single bridge flip changes an output")
    i, j = (int(v) for v in hits[0])
    c = int(np.flatnonzero(xe[i] == p[j])[0])
    b, k = divmod(j, hw.bank)
    return {"row": b, "col": k * hw.cells + c, "image": i, "neuron": j}
