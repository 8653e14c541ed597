"""Behavioural 2T2R array and analog macro on the array port of :class:`hw.bnn_layer_engine.BnnLayerEngine`.

It closes the DUT's port the way :mod:`tb.models.reram_array` closes the CrossbarAddressing lines;
the per-block environment (:mod:`tb.envs.bnn_layer_engine_tb`), the accelerator co-simulation
(:mod:`tb.cosim.bnn_tb`) and the Amaranth-sim tests step it once per cycle:

* **array** (digital mode): in a cycle where ``read`` is high it decodes the one word line and the
  run of 1 .. ``read_lanes`` adjacent bridges (``bl_read`` columns ``2c .. 2(c+n)-1``) and returns
  their programmed bits on ``rd_bits`` (bit l = bridge c+l; the lanes past n carry random garbage)
  with ``rd_valid`` ``read_latency - 1`` cycles later (``read_latency`` counts the addressing cycle
  too);
* **macro** (analog mode, the pipelined sequencer of :mod:`golden.twins.sense_amp_sequencer`): it
  follows each conversion through the phase stages with the DUT's ``stages`` / ``firsts``; ``input_en``
  latches the DUT's ``in_bits`` and ``bias_in`` (which must be a thermometer code, r = its ones) onto
  the rows; a conversion entering *evaluate* takes the one word line on (its bank) and the applied
  inputs; when it enters *sense* (the SA clock) the SAs decide with the decisions of a ``decide``
  callable (:func:`make_decider`: E1's hardware model
  :meth:`golden.bnn.chip_model.BnnHardware.layer_bits`, counter-based error injection, image
  index = how many times that bank has been evaluated, computed from the bits the DUT actually
  applied; all bias rows must be driven); ``sa_out`` carries in cycle ``t+1`` the decision of the
  conversion in *sense* in cycle ``t`` (random garbage when that stage is empty);
* line checks: one word line per read, a read selects whole adjacent bridges (at most
  ``read_lanes``) inside the array, exactly one and the same word line in every *evaluate* cycle of a
  conversion, a decision only for an evaluated conversion, ``addr_error`` never rises (violations
  are collected with their cycle).
"""
from __future__ import annotations

import random

import numpy as np

from golden.spec.bnn_datapath_params import BnnHwParams


def _bits(v: int, n: int) -> np.ndarray:
    return np.array([(v >> i) & 1 for i in range(n)], dtype=np.uint8)


def _one_hot(v: int) -> int | None:
    if v == 0 or v & (v - 1):
        return None
    return v.bit_length() - 1


class BnnMacroModel:
    """Behavioural 2T2R array and analog macro (see the module docstring).

    Parameters
    ----------
    hw : BnnHwParams
    array : uint8 ``[banks, bank*cells]``
        Programmed bits (:func:`golden.twins.bnn_layer_engine.array_image`).
    decide : callable ``(image_idx, x_bits, bias_drive) -> uint8 [neurons]``
        The SA decisions of the hardware model for one image (``bias_drive``: the number of bias
        rows driven, ``bias_in`` being a thermometer code).
    seed : int
        Garbage on ``sa_out`` outside the latch window.
    row_decide : callable ``(row, image_idx, x_bits, bias_drive) -> uint8 [bank]``, optional
        Instead of ``decide``: the bank decisions of word line ``row`` (an array holding several
        layers, :class:`hw.bnn_network_engine.BnnNetworkEngine`).
    read_lanes : int, optional
        Widest read accepted (default ``hw.read_lanes``).
    row_pad : callable ``row -> int``, optional
        The bias rows of word line ``row`` that are padding (a network's layer with fewer bias cells
        than the engine, :mod:`golden.spec.bnn_network_params`): they must be driven 1, and the bias
        drive handed to ``row_decide`` is the thermometer code of the other rows (the layer's own).
    """

    def __init__(self, hw: BnnHwParams, array: np.ndarray, decide, seed: int, *, row_decide=None,
                 read_lanes: int | None = None, row_pad=None):
        self.hw, self.array, self.decide = hw, np.asarray(array, dtype=np.uint8), decide
        self.row_decide = row_decide
        self.row_pad = row_pad
        self.bias_raw = (1 << hw.bias_cells) - 1
        self.read_lanes = read_lanes if read_lanes is not None else hw.read_lanes
        self.rng = random.Random(f"macro/{seed}")
        # each word line's bridges as one int (bit c = bridge c): a read is a shift and a mask
        self.program(self.array)
        # a read on the lines in cycle s (command in s-1) answers in cycle s-1+read_latency
        self.pipe = [None] * (hw.read_latency - 2)
        self.x_applied = None
        self.bias_applied = hw.bias_cells
        self.evaluated: list = []      # (bank, inputs, bias drive) of conversions between evaluate and sense
        self.evaluating = None
        self.sensed = 0
        self.evals = [0] * len(self.array)
        self.violations: list[str] = []
        self.reads = 0          # bridges read
        self.word_reads = 0     # read commands (up to read_lanes bridges each)
        self.decisions = 0

    def program(self, array: np.ndarray) -> None:
        """Store ``array`` (the same shape): programming between images (e.g. the bias-cell trim)."""
        array = np.asarray(array, dtype=np.uint8)
        if array.shape != self.array.shape:
            raise ValueError(f"program: array {array.shape}, the macro holds {self.array.shape}")
        self.array = array
        # each word line's bridges as one int (bit c = bridge c): a read is a shift and a mask
        self.row_ints = [int.from_bytes(np.packbits(r, bitorder="little").tobytes(), "little")
                         for r in self.array]

    def _row_bias(self, cycle: int, row: int) -> int:
        """The layer's own bias drive of an evaluation of ``row`` (``row_pad``: padding rows must be 1)."""
        pad = self.row_pad(row)
        bias = self.bias_raw
        if bias & pad != pad:
            self.violations.append(f"cycle {cycle}: padding bias rows {pad:#x} not all driven ({bias:#x})")
        own = bias & ~pad
        r = own.bit_count()
        if own != (1 << r) - 1:
            self.violations.append(f"cycle {cycle}: bias_in {bias:#x} is not a thermometer code")
        return r

    def step(self, cycle: int, s: dict) -> dict:
        """``s``: the DUT outputs sampled in ``cycle`` (``read``, ``wl``, ``bl_read``, ``in_bits``,
        ``bias_in`` (absent: all bias rows driven), ``input_en``, ``stages``, ``firsts``,
        ``addr_error``). Returns the inputs to drive in ``cycle + 1`` (``rd_valid``, ``rd_bits``,
        ``sa_out``)."""
        hw = self.hw
        if s["addr_error"]:
            self.violations.append(f"cycle {cycle}: CrossbarAddressing error")
        out_bit = None
        if s["read"]:
            row = _one_hot(s["wl"])
            cols = s["bl_read"]
            low = (cols & -cols).bit_length() - 1            # BL column of the first bridge
            run = cols >> low if low >= 0 else 0              # 2n ones for n bridges
            n = run.bit_length() // 2
            if (row is None or low < 0 or low & 1 or run & (run + 1) or run.bit_length() & 1
                    or n > self.read_lanes or low // 2 + n > self.array.shape[1]):
                self.violations.append(f"cycle {cycle}: bad read lines wl={s['wl']:#x} "
                                       f"bl_read={cols:#x}")
            else:
                garbage = self.rng.getrandbits(self.read_lanes) >> n << n if n < self.read_lanes else 0
                out_bit = ((self.row_ints[row] >> (low // 2)) & ((1 << n) - 1)) | garbage
                self.reads += n
                self.word_reads += 1
        self.pipe.append(out_bit)
        arrived = self.pipe.pop(0)
        # analog conversions through the stages (bit 2: evaluate, bit 3: sense)
        stages, firsts = s.get("stages", 0), s.get("firsts", 0)
        if s["input_en"]:
            self.x_applied = _bits(s["in_bits"], hw.inputs)
            bias = s.get("bias_in", (1 << hw.bias_cells) - 1)
            self.bias_raw = bias
            r = bias.bit_count()
            if bias != (1 << r) - 1 and self.row_pad is None:
                self.violations.append(f"cycle {cycle}: bias_in {bias:#x} is not a thermometer code")
            self.bias_applied = r
        if stages >> 2 & 1:
            b = _one_hot(s["wl"])
            if firsts >> 2 & 1:
                if b is None or self.x_applied is None:
                    self.violations.append(f"cycle {cycle}: evaluate without one word line ({s['wl']:#x}) / inputs")
                self.evaluating = b
                r = self._row_bias(cycle, b) if self.row_pad is not None and b is not None else self.bias_applied
                self.evaluated.append((b, self.x_applied, r))
            elif b != self.evaluating:
                self.violations.append(f"cycle {cycle}: word lines {s['wl']:#x} during the evaluation of "
                                       f"bank {self.evaluating}")
        if firsts >> 3 & 1:
            if not self.evaluated:
                self.violations.append(f"cycle {cycle}: SA decision of a conversion never evaluated")
                self.sensed = 0
            else:
                b, x, r = self.evaluated.pop(0)
                if b is None or x is None:
                    self.sensed = 0
                elif self.row_decide is not None:
                    bits = self.row_decide(b, self.evals[b], x, r)
                    self.evals[b] += 1
                    self.sensed = sum(int(bits[k]) << k for k in range(hw.bank))
                    self.decisions += 1
                else:
                    bits = self.decide(self.evals[b], x, r)
                    self.evals[b] += 1
                    v = 0
                    for k in range(hw.bank):
                        j = b * hw.bank + k
                        v |= (int(bits[j]) if j < hw.neurons else self.rng.getrandbits(1)) << k
                    self.sensed = v
                    self.decisions += 1
        sa = self.sensed if stages >> 3 & 1 else self.rng.getrandbits(hw.bank)
        return {"rd_valid": int(arrived is not None), "rd_bits": arrived or 0, "sa_out": sa}


def _wide_int(handle) -> int:
    """A wide line vector as an int straight from the simulator's bit string (a 6762-bit ``bl_read``
    through ``LogicArray`` costs more than the rest of a cycle); X/Z (4-state simulators) go the
    ordinary way and raise there."""
    try:
        return int(handle._handle.get_signal_val_binstr(), 2)
    except (AttributeError, ValueError):
        return int(handle.value)


class MacroPortSampler:
    """Read the engine's array/macro lines (in ``ReadOnly``) as :meth:`BnnMacroModel.step` expects them.

    The 1-bit ``strobes`` and the 6-bit ``stages`` / ``firsts`` are read every cycle; the wide line
    vectors only when they matter (``wl`` while reading or evaluating; ``bl_read`` while reading;
    ``in_bits`` and ``bias_in`` while the inputs are applied), which keeps the per-cycle Python cost small.
    """

    def __init__(self, dut, hw: BnnHwParams, strobes: tuple[str, ...], stages: tuple[str, str] = ("stages", "firsts")):
        self.small = [(n, getattr(dut, n)) for n in strobes]
        self.small += [("stages", getattr(dut, stages[0])), ("firsts", getattr(dut, stages[1]))]
        self.wl, self.bl_read, self.in_bits = dut.wl, dut.bl_read, dut.in_bits
        self.bias_in = dut.bias_in if hw.bias_cells else None

    def sample(self) -> dict:
        s = {n: int(h.value) for n, h in self.small}
        s["wl"] = _wide_int(self.wl) if (s["read"] or s["stages"] & 4) else 0
        s["bl_read"] = _wide_int(self.bl_read) if s["read"] else 0
        s["in_bits"] = int(self.in_bits.value) if s["input_en"] else 0
        if s["input_en"] and self.bias_in is not None:
            s["bias_in"] = int(self.bias_in.value)
        return s


def make_decider(model, hcfg: dict, layer: int = 0):
    """``(image_idx, x_bits, bias_drive) -> bits`` from a fresh :class:`BnnHardware` (cached per
    image/input); the bias rows must all be driven (normal operation)."""
    from golden.bnn.chip_model import BnnHardware, HardwareConfig

    hardware = BnnHardware(model, HardwareConfig(**hcfg))
    cache: dict = {}
    b = model.bias_cells(layer)

    def decide(image_idx: int, x_bits: np.ndarray, bias_drive: int | None = None) -> np.ndarray:
        if bias_drive is not None and bias_drive != b:
            raise AssertionError(f"image {image_idx}: {bias_drive} of {b} bias rows driven outside calibration")
        key = (image_idx, x_bits.tobytes())
        if key not in cache:
            cache[key] = hardware.layer_bits(x_bits[None, :], layer, np.array([image_idx]))[0]
        return cache[key]

    return decide


def network_row_pad(net):
    """``row -> padding bias rows`` of a whole network's array (:class:`BnnMacroModel`'s ``row_pad``):
    hidden layer ``l``'s bias rows ``bias_cells[l] .. B_h - 1``."""
    full = (1 << net.hidden_bias) - 1

    def pad(row: int) -> int:
        layer = min(row // net.hidden_banks, net.hidden_layers - 1)
        return full & ~((1 << net.bias_cells[layer]) - 1)

    return pad


def make_network_decider(model, hcfg: dict, net):
    """``(row, image_idx, x_bits, bias_drive) -> bits [bank]`` for the array of a whole network
    (:class:`golden.spec.bnn_network_params.BnnNetHwParams`): word line ``row`` is bank ``row % banks_h``
    of hidden layer ``row // banks_h``; the decisions are :meth:`BnnHardware.layer_bits` of that layer on
    its own inputs (the first ``fan_in`` of the applied bits; every bias row must be driven: the drive
    is the engine's or, with the macro's ``row_pad``, the layer's bias-cell count), 0 for the
    slots past the layer's width. The output layer's rows are never evaluated (read digitally)."""
    from golden.bnn.chip_model import BnnHardware, HardwareConfig

    hardware = BnnHardware(model, HardwareConfig(**hcfg))
    cache: dict = {}
    hb, K = net.hidden_banks, net.bank

    def decide(row: int, image_idx: int, x_bits: np.ndarray, bias_drive: int | None = None) -> np.ndarray:
        layer, b = divmod(row, hb)
        if layer >= net.hidden_layers:
            raise AssertionError(f"image {image_idx}: analog evaluation of output-layer row {row}")
        if bias_drive is not None and bias_drive not in (net.hidden_bias, net.bias_cells[layer]):
            raise AssertionError(f"image {image_idx}: {bias_drive} of {net.hidden_bias} bias rows driven")
        if np.any(x_bits[net.sizes[layer]:]):
            raise AssertionError(f"image {image_idx} layer {layer}: inputs past the layer's fan-in are not 0")
        x = x_bits[:net.sizes[layer]]
        key = (layer, image_idx, x.tobytes())
        if key not in cache:
            cache[key] = hardware.layer_bits(x[None, :], layer, np.array([image_idx]))[0]
        bits = cache[key]
        out = np.zeros(K, np.uint8)
        n = max(0, min(K, len(bits) - b * K))
        out[:n] = bits[b * K:b * K + n]
        return out

    return decide
