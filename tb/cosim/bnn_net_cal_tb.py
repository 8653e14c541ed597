"""cocotb: the calibrated BNN chip through the network top's AXI4-Lite port: the measured SA-offset
calibration ramp of every hidden layer, the bias-cell trim, then calibrated inference in analog mode.

The top is the one of :mod:`tb.cosim.bnn_net_tb` (:func:`tb.tops.bnn_cosim_top.bnn_net_top`). The chip is
a *physical-model* chip (:class:`golden.bnn.chip_model.HardwareConfig` ``mode = "physical"``, SA offsets,
capacitor mismatch, per-conversion SA noise; ``bit_error``: the static bridge errors), first in the SA
calibration state (weights as trained, every bias cell 1).

Host procedure, per hidden layer ``l`` with bias cells (:mod:`golden.bnn.sa_calibration`):

1. the ramp :func:`golden.bnn.sa_calibration.ramp_images` (per pattern ``p``, ramp step ``r = 0 .. B_l``,
   repeat ``m``): BNN_CTRL = {ANALOG: 1, CAL: 1, LAYER: l, RAMP: r} (written when it changes), the
   pattern's ``ceil(sizes[l]/32)`` BNN_INPUT words, wait for ``irq`` (EVENTS.BNN_DONE), read the layer's
   output bits (BNN_OUT_INDEX / BNN_OUT_DATA), clear the event, CTRL.BNN_ACK;
2. the ones counted per neuron, pattern and step -> shifts -> trimmed counts ``k'``
   (:func:`golden.bnn.sa_calibration.calibration_from_bits`, the controller's own weights);
3. the trim written back: bias cells ``j >= k'`` of every neuron programmed to 0 in the macro's array
   (:meth:`tb.models.bnn_macro.BnnMacroModel.program`; ``B_l - k'`` bridge writes per neuron).

Then BNN_CTRL = {ANALOG: 1, CAL: 0} and the test images through the whole network (:class:`NetHost`).

The macro model (:class:`tb.models.bnn_macro.BnnMacroModel`, the padding bias rows of layer 0 checked
driven) answers a ramp conversion with :meth:`golden.bnn.sa_calibration.CalibrationState.conversion` of
the inputs and bias drive the RTL applied (noise counter = the conversion's position in the ramp; the
applied pattern, layer and drive are checked against the host's), and an inference conversion with
:meth:`golden.bnn.chip_model.BnnHardware.layer_bits` of the chip *with the host's trim*
(``model.with_bias_plus(l, k')``, no further calibration).

Fault injection (the comparison can fail): ``fault = {"flip": [layer, conversion, neuron]}`` flips that
SA decision of the ramp in the macro (not in the golden); the run then reports its mismatches instead of
failing.

Expected, bit for bit: every ramp decision = ``CalibrationState.conversion`` of the golden chip; the
shifts and trims = :meth:`golden.bnn.chip_model.BnnHardware.layer_calibration` (golden's own measured
calibration, ``sa_calibration = "measured"``); every class and its popcount =
:func:`golden.twins.bnn_network_engine.analog_network` of that golden calibrated chip.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from golden.bnn.chip_model import BnnHardware, HardwareConfig
from golden.bnn.network import BnnModel
from golden.bnn.sa_calibration import calibration_from_bits, ramp_images
from golden.twins.bnn_network_engine import analog_network, network_array, network_programmed
from tb.cosim.bnn_net_tb import NetHost, macro_loop, net_from_dict
from tb.cosim.bnn_tb import start_chip
from tb.kit.runner import test_config
from tb.models.bnn_macro import BnnMacroModel, make_network_decider, network_row_pad


def chip_array(model, net, hc: dict) -> np.ndarray:
    """The network's array image of ``model`` with the chip's static bridge errors."""
    return network_array(network_programmed(model, seed=hc["seed"], bit_error=hc.get("bit_error") or 0.0), net)


def calibration_state_model(model, net):
    """The model in the SA calibration state: every bias cell of every hidden layer stores 1."""
    for layer in range(net.hidden_layers):
        model = model.with_bias_plus(layer, np.full(net.sizes[layer + 1], net.bias_cells[layer]))
    return model


class ChipDecider:
    """``row_decide`` of the macro: a ramp conversion (``ramp`` set by the host: layer, counter, pattern,
    drive) from the golden chip's :class:`golden.bnn.sa_calibration.CalibrationState`, else an inference
    conversion of the trimmed chip (``infer``, image index = the row's evaluations since ``base``)."""

    def __init__(self, hardware: BnnHardware, net, flip=None):
        self.net, self.hardware = net, hardware
        self.flip = tuple(flip) if flip else None
        self.ramp = None
        self.infer = None
        self.base: list[int] = []
        self.errors: list[str] = []

    def __call__(self, row: int, idx: int, x_bits: np.ndarray, r: int) -> np.ndarray:
        net = self.net
        layer, b = divmod(row, net.hidden_banks)
        K = net.bank
        if self.ramp is None:
            return self.infer(row, idx - self.base[row], x_bits, r)
        l_want, counter, x_want, r_want = self.ramp
        n_in, width = net.sizes[layer], net.sizes[layer + 1]
        if (layer, r) != (l_want, r_want) or not np.array_equal(x_bits[:n_in], x_want) or np.any(x_bits[n_in:]):
            self.errors.append(f"ramp conversion {counter} of layer {l_want}: row {row} (layer {layer}), drive "
                               f"{r} (want {r_want}), pattern {'ok' if np.array_equal(x_bits[:n_in], x_want) else 'differs'}")
        neurons = np.arange(b * K, min((b + 1) * K, width))
        out = np.zeros(K, np.uint8)
        if len(neurons):
            out[:len(neurons)] = self.hardware.calibration_state(layer).conversion(
                x_bits[:n_in], min(r, net.bias_cells[layer]), counter, neurons)
        if self.flip is not None and self.flip[:2] == (layer, counter) and self.flip[2] in neurons:
            out[self.flip[2] - b * K] ^= 1
        return out


async def read_bits(host: NetHost, n: int) -> np.ndarray:
    """The ``n`` output bits of the last calibration image (BNN_OUT_INDEX / BNN_OUT_DATA)."""
    v = 0
    for k in range(-(-n // 32)):
        await host.wr("bnn_out_index", word=k)
        v |= (await host.rd("bnn_out_data"))["bits"] << (32 * k)
    return np.array([(v >> i) & 1 for i in range(n)], dtype=np.uint8)


async def ramp_image(host: NetHost, x_bits: np.ndarray, n_out: int, irq) -> np.ndarray:
    """One calibration image (BNN_CTRL already set): its words, the event, its output bits, the ack."""
    bits = int.from_bytes(np.packbits(x_bits, bitorder="little").tobytes(), "little")
    await host.bus.write_stream(host.regmap["bnn_input"].addr,
                                [(bits >> (32 * k)) & 0xFFFFFFFF for k in range(-(-len(x_bits) // 32))])
    while not irq.value:
        await RisingEdge(irq)
    while not (await host.rd("events"))["bnn_done"]:
        pass
    out = await read_bits(host, n_out)
    await host.wr("events", bnn_done=1)
    await host.wr("ctrl", mode=1, bnn_ack=1)
    return out


@cocotb.test()
async def cosim_bnn_net_cal(dut):
    tc = test_config()
    seed = int(tc["seed"])
    net = net_from_dict(tc["net"])
    model = BnnModel.load(tc["model"])
    x = np.load(tc["x_path"])[:int(tc["images"])].astype(np.uint8)
    hc = {**tc["hardware"], "sa_calibration": "measured"}
    reps, pats = hc["sa_cal_repeats"], hc["sa_cal_patterns"]
    golden = BnnHardware(model, HardwareConfig(**hc))
    gcal = {layer: golden.layer_calibration(layer)["result"] for layer in range(net.hidden_layers)
            if net.bias_cells[layer]}
    want = analog_network(golden, x)
    uncal = analog_network(BnnHardware(model, HardwareConfig(**{**hc, "sa_calibration": "none"})), x)
    hh = net.hidden_hw
    fault = tc.get("fault") or {}
    decider = ChipDecider(golden, net, fault.get("flip"))
    macro = BnnMacroModel(hh, chip_array(calibration_state_model(model, net), net, hc), None, seed,
                          row_decide=decider, row_pad=network_row_pad(net),
                          read_lanes=max(hh.read_lanes, net.out_hw.read_lanes))
    seen = []
    host, stats = await start_chip(dut, lambda bus: NetHost(bus, net),
                                   lambda st: macro_loop(dut, net, macro, st, seen))
    await host.wr("ctrl", mode=1)
    await host.wr("irq_enable", bnn_done=1)
    t0, c0 = time.perf_counter(), stats["cycles"]
    first: list[str] = []
    per_layer = {}
    trimmed = model
    for layer, g in gcal.items():
        b, n_in, n_out = net.bias_cells[layer], net.sizes[layer], net.sizes[layer + 1]
        ramp = ramp_images(layer, n_in, b, pats, reps)
        bits = np.zeros((len(ramp), n_out), np.uint8)
        want_bits = np.zeros_like(bits)
        state = golden.calibration_state(layer)
        ctrl = None
        c_layer = stats["cycles"]
        for i, (xp, r) in enumerate(ramp):
            if ctrl != r:
                await host.wr("bnn_ctrl", analog=1, cal=1, layer=layer, ramp=r)
                ctrl = r
            decider.ramp = (layer, i, xp, r)
            bits[i] = await ramp_image(host, xp, n_out, dut.irq)
            want_bits[i] = state.conversion(xp, r, i)
            if not np.array_equal(bits[i], want_bits[i]) and len(first) < 5:
                first.append(f"layer {layer} ramp conversion {i} (step {r}): neurons "
                             f"{np.flatnonzero(bits[i] != want_bits[i])[:5].tolist()} differ from golden")
        decider.ramp = None
        got = calibration_from_bits(bits, layer, model.extended_weights(layer)[:, :n_in], model.bias_plus(layer),
                                    b, reps, pats)
        trimmed = trimmed.with_bias_plus(layer, got.k_trimmed)
        per_layer[layer] = {
            "conversions": len(ramp), "decisions": int(bits.size), "ones": int(bits.sum()),
            "decision_mismatches": int(np.sum(bits != want_bits)),
            "shift_mismatches": int(np.sum(got.shift != g.shift)),
            "trim_mismatches": int(np.sum(got.k_trimmed != g.k_trimmed)),
            "mean_abs_shift": float(np.mean(np.abs(got.shift))), "at_limit": int(got.at_limit.sum()),
            "unbracketed": int(got.unbracketed.sum()), "bias_writes": int(np.sum(b - got.k_trimmed)),
            "cycles": stats["cycles"] - c_layer}
    cal_cycles, cal_wall = stats["cycles"] - c0, time.perf_counter() - t0
    # the trim written back into the array; inference of the trimmed chip
    macro.program(chip_array(trimmed, net, hc))
    decider.infer = make_network_decider(trimmed, {**hc, "sa_calibration": "none"}, net)
    decider.base = list(macro.evals)
    await host.wr("bnn_ctrl", analog=1, cal=0)
    t1, c1 = time.perf_counter(), stats["cycles"]
    got_cls, got_cnt = np.zeros(len(x), np.int64), np.zeros(len(x), np.int64)
    for i in range(len(x)):
        r = await host.infer(x[i], dut.irq)
        got_cls[i], got_cnt[i] = r["cls"], r["count"]
        if got_cls[i] != want.classes[i] and len(first) < 5:
            first.append(f"image {i}: RTL class {got_cls[i]}, golden {want.classes[i]}")
    await host.wr("ctrl", mode=0)
    errors = await host.rd("errors")
    y = tc.get("labels")
    res = {
        "images": len(x), "sizes": list(net.sizes), "bias_cells": list(net.bias_cells), "hardware": hc,
        "per_layer": per_layer,
        "decision_mismatches": sum(v["decision_mismatches"] for v in per_layer.values()),
        "trim_mismatches": sum(v["trim_mismatches"] + v["shift_mismatches"] for v in per_layer.values()),
        "calibration_cycles": cal_cycles, "calibration_wall_seconds": cal_wall,
        "class_mismatches": int(np.sum(got_cls != want.classes)),
        "count_mismatches": int(np.sum(got_cnt != want.counts[np.arange(len(x)), want.classes])),
        "hidden_bits_changed_by_trim": int(sum(np.sum(a != u) for a, u in zip(want.hidden, uncal.hidden))),
        "classes_changed_by_trim": int(np.sum(want.classes != uncal.classes)),
        "inference_cycles_per_image": (stats["cycles"] - c1) / len(x),
        "inference_wall_seconds": time.perf_counter() - t1,
        "accuracy": float(np.mean(got_cls == np.asarray(y[:len(x)]))) if y is not None else None,
        "golden_accuracy": float(np.mean(want.classes == np.asarray(y[:len(x)]))) if y is not None else None,
        "uncalibrated_accuracy": float(np.mean(uncal.classes == np.asarray(y[:len(x)]))) if y is not None else None,
        "first_mismatches": first, "decider_errors": decider.errors[:5], "violations": macro.violations[:5],
        "errors": errors, "cycles": stats["cycles"], "wall_seconds": time.perf_counter() - t0}
    res["fault"] = fault
    if tc.get("result"):
        Path(tc["result"]).write_text(json.dumps(res, indent=1))
    dut._log.info(json.dumps(res))
    if fault:
        return                       # a faulty run reports its mismatches
    assert not res["decision_mismatches"] and not res["trim_mismatches"] and not res["class_mismatches"] \
        and not res["count_mismatches"], f"seed {seed}: {first}"
    assert not decider.errors and not macro.violations, (decider.errors[:5], macro.violations[:5])
    assert not any(errors.values()), errors
