"""Throughput of BNN inference on the BnnLayerEngine: cycles per image from the engine's golden cycle
model, and the sense-amplifier-clock bound it is compared with.

* **SA-clock bound** (:func:`sa_clock_bound`): with ``K`` sense amplifiers per bank a layer of ``M``
  neurons needs ``ceil(M / K)`` conversions; an SA that converts once per SA clock ``t_SA`` bounds the
  network at ``sum_l ceil(M_l / K)`` conversions, i.e. ``1 / (conversions * t_SA)`` images/s. For the
  paper's 784-1025-1025-1025-10 network with K = 3 and t_SA = 10 ns: 3 * 342 + 4 = 1030 conversions,
  10.3 us, 97.1k images/s.
* **Engine cycles per image** (:func:`engine_cycles_per_image`): the layers run one after the other
  on one engine configured for each layer (its ``BnnHwParams``: inputs, bias cells, neurons, bank,
  read width, phase lengths); per layer the steady-state interval between two images' ``x`` transfers
  of :class:`golden.twins.bnn_layer_engine.BnnLayerEngineModel` with ``y`` always ready. Images
  never overlap in the engine, so that interval is the layer's cost per image.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from golden.bnn.model_params import n_bias_cells
from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.checks import check_float, check_int

#: The paper's MNIST network (Ezzadeen et al.): 784 inputs, three hidden layers of 1025, 10 outputs.
PAPER_SIZES = (784, 1025, 1025, 1025, 10)


def conversions_per_image(sizes: tuple[int, ...], bank: int) -> int:
    """Analog conversions (one bank of ``bank`` neurons each) one image needs: ``sum ceil(M_l / K)``."""
    check_int("bnn.bank", bank, 1, 64)
    return sum(-(-m // bank) for m in sizes[1:])


@dataclass(frozen=True)
class SaClockBound:
    """The SA-clock bound of a network (:func:`sa_clock_bound`)."""

    conversions: int          # per image
    sa_clock_ns: float
    ns_per_image: float
    images_per_s: float


def sa_clock_bound(sizes: tuple[int, ...] = PAPER_SIZES, bank: int = 3, sa_clock_ns: float = 10.0) -> SaClockBound:
    """Images/s when every SA clock of ``sa_clock_ns`` completes one conversion of ``bank`` neurons."""
    check_float("sa_clock_ns", sa_clock_ns, 0.1, 1000.0)
    n = conversions_per_image(sizes, bank)
    t = n * sa_clock_ns
    return SaClockBound(n, sa_clock_ns, t, 1e9 / t)


def layer_params(sizes: tuple[int, ...], base: BnnHwParams, bias_fraction: float = 0.05) -> list[BnnHwParams]:
    """One ``BnnHwParams`` per layer (bias cells as the trained network: none on the output layer)."""
    out = []
    for li, (n_in, m) in enumerate(pairwise(sizes)):
        last = li == len(sizes) - 2
        b = 0 if last else n_bias_cells(n_in, bias_fraction)
        k = min(base.bank, m)
        out.append(replace(base, inputs=n_in, bias_cells=b, neurons=m, bank=k))
    return out


def layer_cycles_per_image(hw: BnnHwParams, analog: bool, images: int = 3, seed: int = 0) -> float:
    """Steady-state cycles between two images' ``x`` transfers of the golden cycle model (``y`` and
    ``x`` always ready), on a random array and random inputs."""
    from golden.twins.bnn_layer_engine import BnnLayerEngineModel

    rng = np.random.default_rng(seed)
    array = rng.integers(0, 2, (hw.banks, hw.bank * hw.cells), dtype=np.uint8)
    x = rng.integers(0, 2, (images, hw.inputs), dtype=np.uint8)
    dec = rng.integers(0, 2, (images, hw.neurons), dtype=np.uint8)
    model = BnnLayerEngineModel(hw, array, dec)
    accepted, _ = model.run([(x[i], int(analog)) for i in range(images)])
    starts = [c for c, _ in accepted]
    return (starts[-1] - starts[0]) / (len(starts) - 1)


def engine_cycles_per_image(sizes: tuple[int, ...] = PAPER_SIZES, base: BnnHwParams | None = None,
                            analog: bool = True) -> tuple[float, list[float]]:
    """``(total, per layer)`` engine cycles per image, the layers run one after the other."""
    base = base if base is not None else BnnHwParams(bank=3)
    per = [layer_cycles_per_image(hw, analog) for hw in layer_params(sizes, base)]
    return float(sum(per)), per
