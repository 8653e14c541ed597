"""Golden twin of :class:`hw.bnn_network_engine.BnnNetworkEngine`: a whole BNN, one image in, its class out.

What the engine computes
------------------------
The network of :class:`golden.spec.bnn_network_params.BnnNetHwParams` (its mapping on the array is
described there): the hidden layers one after the other through one :class:`BnnLayerEngine`
(digital: ``popcount >= majority`` on the programmed bits; analog: the SA decisions of
:meth:`golden.bnn.chip_model.BnnHardware.layer_bits`), their output bits kept in the on-chip
activation register, then the output layer's popcounts (always digital, as the chip reads them out)
and their argmax, the lowest index on a tie. :func:`network_golden` gives every layer's bits and the
class of the digital and analog modes; they equal :meth:`golden.bnn.chip_model.BnnHardware.predict_bits`
(analog) and the chip model's ideal-SA forward pass (digital).

Cycle model (:class:`BnnNetworkEngineModel`)
--------------------------------------------
``x`` (one image, ``sizes[0]`` bits, and its mode) and ``cls`` follow :mod:`golden.spec.handshake`.

* ``x`` is ready while no image is in the engine (from the cycle after the previous image's ``cls``
  transfer).
* An image taken in cycle ``t`` is in the activation register in ``t + 1``; hidden layer 0 is offered to
  the hidden engine from ``t + 1`` and taken there (it is idle and drained). Each pass is a
  :class:`golden.twins.bnn_layer_engine.BnnLayerEngineModel` run of one image with ``y`` always ready;
  the layer's output words shift into a register, and in the cycle of the last word the masked layer
  output is loaded into the activation register: the next pass is offered from the following cycle.
* After the last hidden layer the output engine (digital, ``argmax``) takes the activations; its
  ``cls`` is the network's ``cls`` (same cycle, same backpressure).

Hence cycles per image = sum of the passes' cycles (first ``x`` transfer to last word, inclusive)
+ the output pass up to its class + 1.

* **SA calibration images** (``x`` payload ``cal = 1``, ``ramp = r``, ``layer = l``; an item
  ``(x_bits, mode, r, l)`` here): the image (``sizes[l]`` bits) goes through hidden layer ``l`` only,
  one pass of the hidden engine with bias drive ``r`` (:mod:`golden.twins.bnn_layer_engine`; in the
  analog mode the decisions are given, :meth:`golden.bnn.sa_calibration.CalibrationState.conversion`
  of the layer), the layer's padding bias rows driven 1 on ``bias_in``. In the cycle after the pass's
  last word the layer's bits are offered on ``cal_y`` (same sink draws as ``cls``); ``x`` is ready
  from the cycle after the transfer. (A digital-mode calibration image drives ``r`` on every bias row
  of the hidden engine, padding included: the ramp is an analog procedure.)
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from golden.spec.bnn_network_params import BnnNetHwParams
from golden.spec.handshake import SourceSide, always
from golden.twins.argmax_unit import ArgmaxOut
from golden.twins.bnn_layer_engine import BnnLayerEngineModel, array_image, programmed_bits


# ---------------------------------------------------------------------------------------------
# array contents
# ---------------------------------------------------------------------------------------------
def padded_weights(ext: np.ndarray, net: BnnNetHwParams, layer: int) -> np.ndarray:
    """uint8 ``[hidden_width, cells_h]``: hidden ``layer``'s programmed extended weights ``ext``
    (``[width, fan_in + bias]``) in the hidden engine's cells, with the padding bridges of
    :mod:`golden.spec.bnn_network_params` (unused neurons: all 0)."""
    hw = net.hidden_hw
    n, b = net.sizes[layer], net.bias_cells[layer]
    ext = np.asarray(ext, dtype=np.uint8)
    if ext.shape != (net.sizes[layer + 1], n + b):
        raise ValueError(f"padded_weights: layer {layer} weights {ext.shape}, the network wants "
                         f"({net.sizes[layer + 1]}, {n + b})")
    out = np.zeros((hw.neurons, hw.cells), dtype=np.uint8)
    w = out[:ext.shape[0]]
    w[:, :n] = ext[:, :n]
    w[:, hw.inputs:hw.inputs + b] = ext[:, n:]
    pad_x = np.concatenate([np.zeros(hw.inputs - n, np.uint8), np.ones(hw.bias_cells - b, np.uint8)])
    ones = np.arange(len(pad_x)) < len(pad_x) // 2          # XNOR = 1 for the first half
    pad_w = np.where(ones, pad_x, 1 - pad_x).astype(np.uint8)
    w[:, n:hw.inputs] = pad_w[:hw.inputs - n]
    w[:, hw.inputs + b:] = pad_w[hw.inputs - n:]
    return out


def network_programmed(model, *, seed: int = 0, bit_error: float = 0.0) -> list[np.ndarray]:
    """Programmed bits per layer (extended weights of the hidden layers, weights of the output layer),
    with the static bridge errors of :func:`golden.bnn.chip_model.weight_bit_errors` of each layer."""
    L = model.n_layers
    return [programmed_bits(model.extended_weights(i) if i < L - 1 else model.layers[i][0], seed=seed, layer=i,
                            bit_error=bit_error) for i in range(L)]


def network_array(prog: list[np.ndarray], net: BnnNetHwParams) -> np.ndarray:
    """uint8 ``[rows, cols]``: the network's array image (hidden layers padded, the output layer last)."""
    out = np.zeros((net.rows, net.cols), dtype=np.uint8)
    hb = net.hidden_banks
    for layer in range(net.hidden_layers):
        img = array_image(padded_weights(prog[layer], net, layer), net.hidden_hw)
        out[layer * hb:(layer + 1) * hb, :img.shape[1]] = img
    img = array_image(np.asarray(prog[-1], dtype=np.uint8), net.out_hw)
    out[net.hidden_layers * hb:, :img.shape[1]] = img
    return out


def layer_array(array: np.ndarray, net: BnnNetHwParams, layer: int) -> np.ndarray:
    """The rows and columns of ``layer`` (hidden or the output layer) in the network's array."""
    hw = net.hidden_hw if layer < net.hidden_layers else net.out_hw
    r = net.row_offset(layer)
    return array[r:r + hw.banks, :hw.array_cols]


def check_image(x_bits: np.ndarray, net: BnnNetHwParams) -> np.ndarray:
    """The image as uint8 ``[sizes[0]]`` in {0, 1}; a clear error naming its length otherwise."""
    x = np.asarray(x_bits)
    if x.ndim != 1 or x.shape[0] != net.sizes[0]:
        raise ValueError(f"image has shape {x.shape}: the network takes {net.sizes[0]} input bits (bnn_net.sizes[0])")
    if np.any((x != 0) & (x != 1)):
        raise ValueError("image bits must be 0 or 1")
    return x.astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# function: every layer's bits and the class, both modes
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkBits:
    """Per image: ``hidden[l]`` uint8 ``[images, sizes[l+1]]``, the output layer's popcounts
    ``counts [images, classes]`` and the classes."""

    hidden: list
    counts: np.ndarray
    classes: np.ndarray


def digital_network(prog: list[np.ndarray], x: np.ndarray) -> NetworkBits:
    """Digital mode: every hidden neuron ``popcount(XNOR(x_ext, w)) >= cells//2 + 1`` on the programmed
    bits (bias inputs 1), then the output popcounts and their argmax."""
    h = np.atleast_2d(np.asarray(x, dtype=np.int64))
    hidden = []
    for p in prog[:-1]:
        p = p.astype(np.int64)
        xe = np.concatenate([h, np.ones((len(h), p.shape[1] - h.shape[1]), np.int64)], axis=1)
        cnt = xe @ p.T + (1 - xe) @ (1 - p).T
        h = (cnt >= p.shape[1] // 2 + 1).astype(np.int64)
        hidden.append(h.astype(np.uint8))
    p = prog[-1].astype(np.int64)
    counts = h @ p.T + (1 - h) @ (1 - p).T
    return NetworkBits(hidden, counts, np.argmax(counts, axis=1))


def analog_network(hardware, x: np.ndarray, image_offset: int = 0) -> NetworkBits:
    """Analog mode: the hidden layers' SA decisions of ``hardware`` (a
    :class:`golden.bnn.chip_model.BnnHardware`; image index ``image_offset + i``), the output layer's
    digital popcounts of its bridge outputs, their argmax (= ``hardware.predict_bits``)."""
    h = np.atleast_2d(np.asarray(x, dtype=np.uint8))
    idx = np.arange(len(h)) + image_offset
    hidden = []
    L = hardware.model.n_layers
    for layer in range(L - 1):
        h = np.asarray(hardware.layer_bits(h, layer, idx), dtype=np.uint8)
        hidden.append(h)
    counts = hardware.cell_popcounts(h, L - 1)
    return NetworkBits(hidden, counts, np.argmax(counts, axis=1))


# ---------------------------------------------------------------------------------------------
# cycle model
# ---------------------------------------------------------------------------------------------
class _Draws:
    """A sink's backpressure draws by absolute cycle (one draw per cycle, drawn once)."""

    def __init__(self, gen: Iterator[bool] | None):
        self.gen, self.seen = gen if gen is not None else always(), []

    def at(self, cycle: int) -> bool:
        while len(self.seen) <= cycle:
            self.seen.append(bool(next(self.gen)))
        return self.seen[cycle]

    def from_cycle(self, cycle: int) -> Iterator[bool]:
        c = cycle
        while True:
            yield self.at(c)
            c += 1


class BnnNetworkEngineModel:
    """Cycle-exact model of the network engine with its array (and the macro's analog decisions).

    Parameters
    ----------
    net : BnnNetHwParams
    array : uint8 ``[rows, cols]``
        :func:`network_array`.
    analog : NetworkBits or None
        The analog decisions per image (:func:`analog_network`), image ``i`` of the run = row ``i``.
    cal_analog : dict or None
        The analog decisions of the calibration images: ``{image index: uint8 [sizes[l+1]]}``.
    """

    def __init__(self, net: BnnNetHwParams, array: np.ndarray, analog: NetworkBits | None = None,
                 cal_analog: dict | None = None):
        self.net, self.array, self.analog = net, np.asarray(array, dtype=np.uint8), analog
        self.cal_analog = cal_analog or {}
        self.hidden_models = [BnnLayerEngineModel(net.hidden_hw, layer_array(self.array, net, layer))
                              for layer in range(net.hidden_layers)]
        self.out_model = BnnLayerEngineModel(net.out_hw, layer_array(self.array, net, net.hidden_layers))

    def _hidden_pass(self, layer: int, act: np.ndarray, mode: int, img: int, ramp: int | None = None):
        """(cycles from the x transfer to the last word inclusive, output bits [hidden_width]);
        ``ramp``: a calibration image's bias drive."""
        net = self.net
        m = self.hidden_models[layer]
        if mode:
            a = np.zeros((1, net.hidden_width), np.uint8)
            a[0, :net.sizes[layer + 1]] = (self.analog.hidden[layer][img] if ramp is None
                                           else self.cal_analog[img])
            m.analog = a
        item = (act[:net.hidden_inputs], mode) if ramp is None else \
            (act[:net.hidden_inputs], mode, min(int(ramp), net.hidden_bias))
        acc, outs = m.run([item])
        assert acc == [(0, 0)], acc
        bits = np.zeros(net.hidden_hw.banks * net.bank, np.uint8)
        for _, w in outs:
            for k in range(net.bank):
                bits[w.word * net.bank + k] = (w.bits >> k) & 1
        return outs[-1][0] + 1, bits[:net.hidden_width], outs

    def run(self, images: Iterable[tuple[np.ndarray, int]], *, valid_gen: Iterator[bool] | None = None,
            cls_ready_gen: Iterator[bool] | None = None, max_cycles: int = 50_000_000):
        """``images``: ``(x_bits, analog_mode)`` or a calibration image ``(x_bits, analog_mode, ramp,
        layer)``. Returns ``(accepted, classes)``: ``[(cycle, image)]`` and ``[(cycle, ArgmaxOut)]``;
        :attr:`passes` lists ``(image, layer, start cycle, words)`` with each pass's ``[(cycle, OutWord)]``
        (hidden layers), :attr:`layer_bits` the activations of the network images and
        :attr:`cal_outputs` ``[(cycle, image, bits [sizes[l+1]])]`` the ``cal_y`` transfers."""
        net = self.net
        src = SourceSide(enumerate(images), valid_gen)
        draws = _Draws(cls_ready_gen)
        accepted, classes = [], []
        self.passes, self.layer_bits, self.cal_outputs = [], [], []
        ready_at = 0
        cycle = 0
        while not src.idle:
            if cycle >= max_cycles:
                raise TimeoutError(f"BnnNetworkEngineModel: no end after {max_cycles} cycles")
            cur = src.present()
            if cur is not None and cycle >= ready_at:
                idx, item = src.taken()
                if len(item) == 4:
                    self._cal_image(cycle, idx, item, draws)
                    accepted.append((cycle, idx))
                    ready_at = self._ready_at
                    cycle += 1
                    continue
                x_bits, mode = item
                x = check_image(x_bits, net)
                accepted.append((cycle, idx))
                act = np.zeros(net.act_width, np.uint8)
                act[:len(x)] = x
                start = cycle + 1
                per_layer = []
                for layer in range(net.hidden_layers):
                    dur, bits, outs = self._hidden_pass(layer, act, int(mode), idx)
                    self.passes.append((idx, layer, start, [(start + c, w) for c, w in outs]))
                    act = np.zeros(net.act_width, np.uint8)
                    act[:net.sizes[layer + 1]] = bits[:net.sizes[layer + 1]]
                    per_layer.append(act[:net.sizes[layer + 1]].copy())
                    start += dur
                self.layer_bits.append(per_layer)
                om = self.out_model
                acc, _ = om.run([(act[:net.sizes[-2]], 0)], cls_ready_gen=draws.from_cycle(start))
                assert acc == [(0, 0)], acc
                (c_rel, out), = om.classes
                classes.append((start + c_rel, ArgmaxOut(out.cls, out.count)))
                ready_at = start + c_rel + 1
            cycle += 1
        self.cycles = ready_at
        return accepted, classes

    def _cal_image(self, cycle: int, idx: int, item, draws: _Draws) -> None:
        """One calibration image taken in ``cycle``: its pass, its ``cal_y`` transfer (sets ``_ready_at``)."""
        net = self.net
        x_bits, mode, ramp, layer = item
        layer = min(int(layer), net.hidden_layers - 1)
        x = np.asarray(x_bits, dtype=np.uint8)
        if x.shape != (net.sizes[layer],):
            raise ValueError(f"calibration image of hidden layer {layer} has shape {x.shape}: the layer takes "
                             f"{net.sizes[layer]} input bits (bnn_net.sizes[{layer}])")
        act = np.zeros(net.act_width, np.uint8)
        act[:len(x)] = x
        start = cycle + 1
        dur, bits, outs = self._hidden_pass(layer, act, int(mode), idx, ramp=int(ramp))
        self.passes.append((idx, layer, start, [(start + c, w) for c, w in outs]))
        c = start + dur
        while not draws.at(c):
            c += 1
        self.cal_outputs.append((c, idx, bits[:net.sizes[layer + 1]].copy()))
        self._ready_at = c + 1
