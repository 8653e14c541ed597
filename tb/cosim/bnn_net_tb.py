"""cocotb: a whole trained BNN through the accelerator top's AXI4-Lite port, one image in, its class out,
in digital and analog mode, every class bit-identical to the golden twin of each mode.

The top (:func:`tb.tops.bnn_cosim_top.bnn_net_top`: :class:`hw.accelerator.Accelerator` with a
network build, :class:`hw.bnn_network_engine.BnnNetworkEngine`) holds every layer of the network on
one array (:mod:`golden.spec.bnn_network_params`), programmed with the hardware model's ``authors``
bits (static bridge errors of each layer). :class:`tb.models.bnn_macro.BnnMacroModel` closes the array
port: digital reads return the programmed bits; an analog conversion of word line ``r`` returns the
decisions of :meth:`golden.bnn.chip_model.BnnHardware.layer_bits` of layer ``r // banks`` for the
inputs the RTL applied (counter-based SA errors, image index = that row's evaluations so far).

Fault injection (the comparison can fail): ``fault = {"invert": [[row, c0, c1], ...]}`` inverts stored
bridges of the macro's array (not of the golden); the run then reports its mismatches instead of failing.

Per mode (BNN_CTRL.ANALOG) and image the host pushes the ``ceil(inputs/32)`` BNN_INPUT words, waits for
``irq`` (IRQ_ENABLE.BNN_DONE) and reads EVENTS.BNN_DONE, reads BNN_CLASS, clears the event and acknowledges (CTRL.BNN_ACK). Expected:
:func:`golden.twins.bnn_network_engine.digital_network` of the programmed bits and
:func:`golden.twins.bnn_network_engine.analog_network` (= ``BnnHardware.predict_bits``). The hidden
layers' inputs (the activations of the layer before) are observed on ``in_bits`` when a layer's first
word line comes on and compared too.
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
from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.bnn_network_params import BnnNetHwParams
from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.twins.bnn_network_engine import analog_network, digital_network, network_array, network_programmed
from tb.cosim.bnn_tb import macro_loop as layer_macro_loop
from tb.cosim.bnn_tb import start_chip
from tb.kit.axil_host import FastAxil, RegisterHost
from tb.kit.runner import test_config
from tb.models.bnn_macro import BnnMacroModel, make_network_decider
from tb.tops.bnn_cosim_top import bnn_net_top_params


def net_from_dict(d: dict) -> BnnNetHwParams:
    return BnnNetHwParams(sizes=tuple(d["sizes"]), bias_cells=tuple(d["bias_cells"]), bank=d["bank"],
                          bank_out=d["bank_out"], layer=BnnHwParams(**d["layer"]))


def macro_loop(dut, net: BnnNetHwParams, macro: BnnMacroModel, stats: dict, seen: list):
    """:func:`tb.cosim.bnn_tb.macro_loop` on the hidden layers' port, recording ``in_bits`` when a
    hidden layer's first word line comes on (``seen``: (layer, bits))."""
    layer_now = [None]

    def observe(s):
        if s["wl"]:
            layer = (s["wl"].bit_length() - 1) // net.hidden_banks
            if layer != layer_now[0]:
                layer_now[0] = layer
                if layer < net.hidden_layers:
                    seen.append((layer, int(dut.in_bits.value)))

    return layer_macro_loop(dut, macro, stats, hw=net.hidden_hw, observe=observe)


class NetHost(RegisterHost):
    """The host's register accesses of whole-network inference over :class:`FastAxil`."""

    def __init__(self, bus: FastAxil, net: BnnNetHwParams):
        super().__init__(bus, accelerator_register_map(bnn_net_top_params(net), bnn=net))
        self.net = net

    async def infer(self, x_bits: np.ndarray, irq=None) -> dict:
        """One image: BNN_INPUT words, wait for EVENTS.BNN_DONE (on ``irq`` if given: IRQ_ENABLE.BNN_DONE
        set, no polling traffic during the image), BNN_CLASS, clear, acknowledge."""
        bits = int.from_bytes(np.packbits(x_bits, bitorder="little").tobytes(), "little")
        await self.bus.write_stream(self.regmap["bnn_input"].addr,
                                    [(bits >> (32 * k)) & 0xFFFFFFFF for k in range(-(-self.net.sizes[0] // 32))])
        if irq is not None:
            while not irq.value:
                await RisingEdge(irq)
        while not (await self.rd("events"))["bnn_done"]:
            pass
        out = await self.rd("bnn_class")
        await self.wr("events", bnn_done=1)
        await self.wr("ctrl", mode=1, bnn_ack=1)
        return out


def _bits(v: int, n: int) -> np.ndarray:
    return np.array([(v >> i) & 1 for i in range(n)], dtype=np.uint8)


@cocotb.test()
async def cosim_bnn_net(dut):
    tc = test_config()
    seed = int(tc["seed"])
    net = net_from_dict(tc["net"])
    model = BnnModel.load(tc["model"])
    x = np.load(tc["x_path"])[:int(tc["images"])].astype(np.uint8)
    hc = tc["hardware"]
    modes = tuple(tc["modes"])
    progress = Path(tc["progress"]) if tc.get("progress") else None
    prog = network_programmed(model, seed=hc["seed"], bit_error=hc.get("bit_error") or 0.0)
    array = network_array(prog, net)
    want = {"digital": digital_network(prog, x), "analog": analog_network(BnnHardware(model, HardwareConfig(**hc)), x)}
    hh = net.hidden_hw
    fault = tc.get("fault") or {}
    for r, c0, c1 in fault.get("invert", []):     # fault injection: invert bridges c0 .. c1-1 of row r
        array = array.copy()
        array[r, c0:c1] ^= 1
    macro = BnnMacroModel(hh, array, None, seed, row_decide=make_network_decider(model, hc, net),
                          read_lanes=max(hh.read_lanes, net.out_hw.read_lanes))

    seen = []
    host, stats = await start_chip(dut, lambda bus: NetHost(bus, net),
                                   lambda st: macro_loop(dut, net, macro, st, seen))

    net_reg = await host.rd("bnn_net")
    assert net_reg["hidden_layers"] == net.hidden_layers and net_reg["classes_m1"] == net.classes - 1, net_reg
    await host.wr("ctrl", mode=1)
    await host.wr("irq_enable", bnn_done=1)
    per_mode, first = {}, []
    total = len(modes) * len(x)
    done_n = 0
    t0 = time.perf_counter()
    for mode in modes:
        await host.wr("bnn_ctrl", analog=int(mode == "analog"))
        w = want[mode]
        c0, t_mode = stats["cycles"], time.perf_counter()
        got_cls = np.zeros(len(x), np.int64)
        got_cnt = np.zeros(len(x), np.int64)
        img_cycles = np.zeros(len(x), np.int64)
        act_mis = act_cmp = 0
        for i in range(len(x)):
            seen.clear()
            c_img = stats["cycles"]
            r = await host.infer(x[i], dut.irq)
            img_cycles[i] = stats["cycles"] - c_img
            got_cls[i], got_cnt[i] = r["cls"], r["count"]
            for layer, v in seen:          # the input of hidden layer l = the output of layer l-1
                if layer == 0:
                    ok = np.array_equal(_bits(v, hh.inputs)[:net.sizes[0]], x[i])
                else:
                    ok = np.array_equal(_bits(v, hh.inputs)[:net.sizes[layer]], w.hidden[layer - 1][i])
                act_cmp += 1
                act_mis += int(not ok)
                if not ok and len(first) < 5:
                    first.append(f"{mode} image {i}: input of hidden layer {layer} differs from golden")
            if got_cls[i] != w.classes[i] and len(first) < 5:
                first.append(f"{mode} image {i}: RTL class {got_cls[i]}, golden {w.classes[i]}")
            done_n += 1
            if progress is not None:
                progress.write_text(f"{done_n} {total}")
        want_cnt = w.counts[np.arange(len(x)), w.classes]
        y = tc.get("labels")
        per_mode[mode] = {
            "class_mismatches": int(np.sum(got_cls != w.classes)),
            "count_mismatches": int(np.sum(got_cnt != want_cnt)),
            "activation_checks": act_cmp, "activation_mismatches": act_mis,
            "cycles": stats["cycles"] - c0, "cycles_per_image": (stats["cycles"] - c0) / len(x),
            "wall_seconds": time.perf_counter() - t_mode,
            "wall_per_image": (time.perf_counter() - t_mode) / len(x),
            "accuracy": float(np.mean(got_cls == np.asarray(y[:len(x)]))) if y is not None else None,
            "golden_accuracy": float(np.mean(w.classes == np.asarray(y[:len(x)]))) if y is not None else None,
            "classes": got_cls.tolist(), "image_cycles": img_cycles.tolist(),
        }
    await host.wr("ctrl", mode=0)
    errors = await host.rd("errors")
    res = {"images": len(x), "modes": list(modes), "sizes": list(net.sizes), "bias_cells": list(net.bias_cells),
           "bank": net.bank, "bank_out": net.bank_out, "read_lanes": hh.read_lanes, "per_mode": per_mode,
           "class_mismatches": sum(v["class_mismatches"] for v in per_mode.values()),
           "activation_mismatches": sum(v["activation_mismatches"] for v in per_mode.values()),
           "count_mismatches": sum(v["count_mismatches"] for v in per_mode.values()),
           "first_mismatches": first, "word_reads": macro.word_reads, "bridge_reads": macro.reads,
           "sa_decisions": macro.decisions, "violations": macro.violations[:5], "errors": errors,
           "cycles": stats["cycles"], "wall_seconds": time.perf_counter() - t0}
    res["fault"] = fault
    if tc.get("result"):
        Path(tc["result"]).write_text(json.dumps(res, indent=1))
    dut._log.info(json.dumps({k: v for k, v in res.items() if k != "per_mode"}))
    if fault:
        return                       # a faulty run reports its mismatches
    assert not res["class_mismatches"] and not res["activation_mismatches"] and not res["count_mismatches"], \
        f"seed {seed}: {first}"
    assert not macro.violations, macro.violations[:5]
    assert not any(errors.values()), errors
