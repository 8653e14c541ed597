"""cocotb: BNN inference of a *trained* digits layer through the accelerator top's AXI4-Lite port, in
digital and analog mode, bit-identical to the golden twin of each mode.

The top (:func:`tb.tops.bnn_cosim_top.bnn_top`: :class:`hw.accelerator.Accelerator` with a BNN
section) holds hidden layer 0 of the digits BNN that ``tests/blocks/test_bnn_layer_engine.py`` also
uses (:data:`tb.cosim.bnn_host.DIGITS_BNN`: 64 inputs + 7 bias cells, 33 neurons, banks of 4; trained
once and cached under ``build/bnn/``). Its 2T2R bridges hold the *programmed* bits of the hardware
model's ``authors`` mode (the ideal bits with the static bridge errors of
:func:`golden.bnn.chip_model.weight_bit_errors`). The array port is closed by
:class:`tb.models.bnn_macro.BnnMacroModel`:

* digital mode: word pair reads answered ``read_latency`` cycles later with the programmed bits;
* analog mode: the SA decisions of :meth:`golden.bnn.chip_model.BnnHardware.layer_bits` for the inputs
  the RTL actually drove, image index = how often that bank has been evaluated (counter-based error
  injection: the same draws as the golden :func:`golden.twins.bnn_layer_engine.analog_bits`);
* line checks (one word line, whole adjacent bridges per read, one word line per conversion).

The host switches CTRL.MODE to the BNN path and runs the images once per mode (BNN_CTRL.ANALOG), per
image: the ``ceil(inputs / 32)`` BNN_INPUT words, poll EVENTS.BNN_DONE, read BNN_OUT_DATA, clear the
event, CTRL.BNN_ACK. Expected bits: :func:`golden.twins.bnn_layer_engine.digital_bits` of the programmed
bits, and :func:`golden.twins.bnn_layer_engine.analog_bits`.

Fault injection (the comparison can fail): ``fault = {"bridge": [row, col]}`` flips one stored
bridge of the macro's array (not of the golden), ``fault = {"sa": [image, neuron]}`` flips one SA
decision of that analog image. A faulty run reports its mismatches instead of failing in the
simulator. (The macro's analog decisions come from the hardware model, not from its array contents,
so a flipped bridge shows in digital mode only.)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from golden.bnn.network import BnnModel
from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.register_map.accelerator_map import accelerator_register_map
from tb.cosim.bnn_host import MODES, golden_bits
from tb.kit.axil_host import FastAxil, RegisterHost
from tb.kit.runner import test_config
from tb.models.bnn_macro import BnnMacroModel, MacroPortSampler, make_decider
from tb.tops.bnn_cosim_top import bnn_top_params


async def macro_loop(dut, model: BnnMacroModel, stats: dict, hw: BnnHwParams | None = None, observe=None):
    """Sample the array port every cycle (ReadOnly), drive the macro's answer in the next. The
    1-bit strobes are read every cycle, the wide line vectors only when they matter. ``hw``: the
    port's layer parameters (default ``model.hw``); ``observe(sample)`` sees every cycle's sample."""
    nxt, cycle = None, 0
    port = MacroPortSampler(dut, hw or model.hw, ("read", "input_en"), ("sa_stages", "sa_firsts"))
    last = {"rd_valid": 0, "rd_bits": 0, "sa_out": 0}
    while True:
        await RisingEdge(dut.clk)
        if nxt is not None:
            for k, v in nxt.items():
                if v != last[k]:
                    getattr(dut, k).value = v
            last = nxt
        await ReadOnly()
        s = port.sample()
        s["addr_error"] = 0          # the top reports it in ERRORS.XBAR (checked at the end)
        if observe is not None:
            observe(s)
        nxt = model.step(cycle, s)
        cycle += 1
        stats["cycles"] = cycle


def faulty_macro(model, hw: BnnHwParams, img: np.ndarray, hc: dict, fault: dict, seed: int) -> BnnMacroModel:
    """The macro model on the programmed array image, with the injected ``fault`` (if any)."""
    macro_img = img.copy()
    if "bridge" in fault:
        r, c = fault["bridge"]
        macro_img[r, c] ^= 1
    decide = make_decider(model, hc, 0)
    if "sa" in fault:
        fi, fj = fault["sa"]
        inner = decide

        def decide(image_idx, x_bits, bias_drive=None):
            bits = np.array(inner(image_idx, x_bits, bias_drive), dtype=np.uint8)
            if image_idx == fi:
                bits[fj] ^= 1
            return bits
    return BnnMacroModel(hw, macro_img, decide=decide, seed=seed)


class BnnHost(RegisterHost):
    """The host's register accesses of BNN inference over :class:`FastAxil`."""

    def __init__(self, bus: FastAxil, hw: BnnHwParams):
        super().__init__(bus, accelerator_register_map(bnn_top_params(hw), bnn=hw))
        self.hw = hw

    async def infer(self, x_bits: np.ndarray) -> np.ndarray:
        """One image: BNN_INPUT words, wait for EVENTS.BNN_DONE, BNN_OUT_DATA, clear, acknowledge."""
        hw = self.hw
        bits = int.from_bytes(np.packbits(x_bits, bitorder="little").tobytes(), "little")
        await self.bus.write_stream(self.regmap["bnn_input"].addr,
                                    [(bits >> (32 * k)) & 0xFFFFFFFF for k in range(-(-hw.inputs // 32))])
        while not (await self.rd("events"))["bnn_done"]:
            pass
        out = 0
        for k in range(-(-hw.neurons // 32)):
            await self.wr("bnn_out_index", word=k)
            out |= (await self.rd("bnn_out_data"))["bits"] << (32 * k)
        await self.wr("events", bnn_done=1)
        await self.wr("ctrl", mode=1, bnn_ack=1)
        return np.array([(out >> j) & 1 for j in range(hw.neurons)], dtype=np.uint8)


async def run_mode(host: BnnHost, macro: BnnMacroModel, stats: dict, mode: str, x: np.ndarray,
                   want: np.ndarray) -> tuple[dict, list[str]]:
    """All images in ``mode``: (per-mode counts, first mismatch messages)."""
    await host.wr("bnn_ctrl", analog=int(mode == "analog"))
    c0, reads0, dec0 = stats["cycles"], macro.word_reads, macro.decisions
    got = np.zeros((len(x), host.hw.neurons), dtype=np.uint8)
    for i in range(len(x)):
        got[i] = await host.infer(x[i])
    diff = got != want
    first = [f"{mode} image {i} neuron {j}: RTL {got[i, j]}, golden {want[i, j]}" for i, j in np.argwhere(diff)[:5]]
    return {"image_mismatches": int(diff.any(axis=1).sum()), "bit_mismatches": int(diff.sum()),
            "mismatch_positions": np.argwhere(diff)[:100].tolist(),   # [image, neuron]
            "cycles": stats["cycles"] - c0, "word_reads": macro.word_reads - reads0,
            "sa_decisions": macro.decisions - dec0}, first


async def start_chip(dut, make_host, loop) -> tuple[object, dict]:
    """Clock, reset, the host (``make_host(bus)``) on the AXI4-Lite bus, and the macro model's loop
    (``loop(stats)``, a coroutine) on the array port; returns the host and the loop's stats."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for s in ("rd_valid", "rd_bits", "sa_out", "adc"):
        getattr(dut, s).value = 0
    host = make_host(FastAxil(dut, "", dut.clk))
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    stats = {"cycles": 0}
    cocotb.start_soon(loop(stats))
    return host, stats


@cocotb.test()
async def cosim_bnn(dut):
    tc = test_config()
    seed = int(tc["seed"])
    hw = BnnHwParams(**tc["hw"])
    model = BnnModel.load(tc["model"])
    x = np.load(tc["x_path"])[:int(tc["images"])].astype(np.uint8)
    hc = tc["hardware"]
    modes = tuple(tc.get("modes", MODES))
    fault = tc.get("fault") or {}
    _, img, want_d, want_a = golden_bits(model, hw, x, hc)
    want = {"digital": want_d, "analog": want_a}
    macro = faulty_macro(model, hw, img, hc, fault, seed)
    host, stats = await start_chip(dut, lambda bus: BnnHost(bus, hw), lambda st: macro_loop(dut, macro, st))

    t0 = time.perf_counter()
    cfg1 = await host.rd("bnn_cfg1")
    assert cfg1["read_lanes"] == hw.read_lanes, cfg1
    await host.wr("ctrl", mode=1)
    per_mode, first = {}, []
    for mode in modes:
        per_mode[mode], msgs = await run_mode(host, macro, stats, mode, x, want[mode])
        first += msgs
    await host.wr("ctrl", mode=0)
    wall = time.perf_counter() - t0
    errors = await host.rd("errors")
    res = {"images": len(x), "modes": list(modes), "neurons": hw.neurons, "inputs": hw.inputs,
           "bias_cells": hw.bias_cells, "bank": hw.bank, "read_lanes": hw.read_lanes,
           "per_mode": per_mode,
           "image_mismatches": sum(v["image_mismatches"] for v in per_mode.values()),
           "bit_mismatches": sum(v["bit_mismatches"] for v in per_mode.values()),
           "first_mismatches": first,
           "analog_vs_digital_bits_differing": int((want_d != want_a).sum()),
           "bridge_reads": macro.reads, "word_reads": macro.word_reads, "sa_decisions": macro.decisions,
           "violations": macro.violations[:5], "errors": errors, "cycles": stats["cycles"],
           "fault": fault, "wall_seconds": wall}
    if tc.get("result"):
        Path(tc["result"]).write_text(json.dumps(res, indent=2))
    dut._log.info(json.dumps(res))
    if not fault:
        assert not res["image_mismatches"], f"seed {seed}: {first}"
        assert not macro.violations, macro.violations[:5]
        assert not any(errors.values()), errors
