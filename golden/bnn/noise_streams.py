"""Keys of the BNN chip's counter-based draws: one kind per random quantity, and the synapse index.

Every random quantity of the 2T2R chip model (:mod:`golden.bnn.chip_model`) and of the SA-offset
calibration (:mod:`golden.bnn.sa_calibration`) is a pure function of ``(seed, kind, layer, neuron,
input)``; both modules, and the cocotb macro model, draw through :func:`synapse_index`.
"""
from __future__ import annotations

import numpy as np

from golden.spec import rng
from golden.spec.checks import ConfigError

# kinds (top 8 bits of the hash index)
KIND_R_TOP_LRS = 1
KIND_R_TOP_HRS = 2
KIND_R_BOT_LRS = 3
KIND_R_BOT_HRS = 4
KIND_R_TOP_C2C = 5
KIND_R_BOT_C2C = 6
KIND_VM = 7
KIND_CAP_P = 8
KIND_CAP_N = 9
KIND_SA_OFFSET = 10
KIND_SA_NOISE = 11
KIND_WEIGHT_ERR = 12
KIND_READ_ERR = 13
KIND_SA_ERR = 14
KIND_STUCK_TOP = 15
KIND_STUCK_BOT = 16
KIND_CAL_PATTERN = 17      # golden.bnn.sa_calibration: calibration input patterns
KIND_CAL_NOISE = 18        # golden.bnn.sa_calibration: SA noise of the calibration conversions

MAX_LAYER = 255
MAX_INDEX = (1 << 24) - 1


def synapse_index(kind: int, layer, neuron, inp) -> np.ndarray:
    """uint64 hash index ``splitmix64(kind<<56 | layer<<48 | neuron<<24 | input)`` (broadcast, range-checked)."""
    layer = np.asarray(layer, dtype=np.int64)
    neuron = np.asarray(neuron, dtype=np.int64)
    inp = np.asarray(inp, dtype=np.int64)
    for name, v, hi in (("layer", layer, MAX_LAYER), ("neuron_idx", neuron, MAX_INDEX), ("input_idx", inp, MAX_INDEX)):
        if v.size and (v.min() < 0 or v.max() > hi):
            raise ConfigError(f"{name} out of range: allowed [0, {hi}], got [{v.min()}, {v.max()}]")
    packed = ((np.uint64(kind) << np.uint64(56)) | (layer.astype(np.uint64) << np.uint64(48))
              | (neuron.astype(np.uint64) << np.uint64(24)) | inp.astype(np.uint64))
    # one extra splitmix64 round: indices that differ only in their high bits (kind, layer) are
    # otherwise mixed by a single finaliser, which left a measurable tail correlation
    return rng.splitmix64(packed)
