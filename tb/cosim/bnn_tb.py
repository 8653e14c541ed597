"""cocotb: BNN inference of a *trained* digits layer through the accelerator top's AXI4-Lite port, in
digital and analog mode, bit-identical to the golden twin of each mode.

The top (:class:`hw.accelerator.Accelerator` with a BNN section, :func:`bnn_top`) holds hidden layer
0 of the digits BNN that ``tests/test_bnn_layer_engine.py`` also uses (:data:`DIGITS_BNN`: 64 inputs
+ 7 bias cells, 33 neurons, banks of 4; trained once and cached under ``build/bnn/``). Its 2T2R
bridges hold the *programmed* bits of the hardware model's ``authors`` mode (the ideal bits with
the static bridge errors of :func:`golden.bnn.chip_model.weight_bit_errors`). The array port is closed
by :class:`tb.envs.bnn_layer_engine_tb.BnnMacroModel`:

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

import numpy as np

from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.params import AccelParams

#: The trained digits BNN (one hidden layer of 33) shared with tests/test_bnn_layer_engine.py.
DIGITS_BNN = {"dataset": "digits", "hidden": (33,), "epochs": 30, "batch": 50, "lr": 3e-3, "seed": 0}
MODES = ("digital", "analog")


def digits_bnn():
    """(model, path) of the trained :data:`DIGITS_BNN` (trained once, then loaded from build/bnn/)."""
    from golden.bnn.model_params import BnnTrainParams
    from golden.bnn.network import load_or_train, model_path

    params = BnnTrainParams(**DIGITS_BNN)
    return load_or_train(params), model_path(params).resolve()


def digits_test_bits(n: int) -> np.ndarray:
    """uint8 ``[n, 64]``: the first ``n`` binarised digits test images."""
    from golden.bnn.network import binarize_images
    from golden.data.datasets import load_digits

    return binarize_images(load_digits().x_test[:n]).astype(np.uint8)


def bnn_hw_for(model, bank: int = 4) -> BnnHwParams:
    """Engine parameters for hidden layer 0 of ``model`` (a :class:`golden.bnn.network.BnnModel`)."""
    return BnnHwParams(inputs=model.fan_in(0), bias_cells=model.bias_cells(0), neurons=model.sizes[1],
                       bank=bank, out_fifo=8)


def bnn_top_params(hw: BnnHwParams) -> AccelParams:
    """Training-array parameters that hold ``hw``'s 2T2R layer (rows = banks, 2 slots per synapse)."""
    return AccelParams().with_(array={"rows": hw.banks, "cols": hw.array_cols, "cell": "2T2R"},
                               synapse={"devices": 2})


def bnn_top(hw: BnnHwParams):
    from hw.accelerator import Accelerator
    return Accelerator(bnn_top_params(hw), bnn=hw)


def golden_bits(model, hw: BnnHwParams, x: np.ndarray, hc: dict):
    """(programmed bits [neurons, cells], array image, digital bits, analog bits), each [images, neurons]
    for the two bit arrays; ``hc``: :class:`golden.bnn.chip_model.HardwareConfig` fields."""
    from golden.bnn.chip_model import BnnHardware, HardwareConfig
    from golden.twins.bnn_layer_engine import analog_bits, array_image, digital_bits, programmed_bits

    prog = programmed_bits(model.extended_weights(0), seed=hc["seed"], bit_error=hc.get("bit_error") or 0.0)
    return (prog, array_image(prog, hw), digital_bits(prog, x, hw.bias_cells),
            analog_bits(BnnHardware(model, HardwareConfig(**hc)), x, 0))


def sensitive_bridge(prog: np.ndarray, x: np.ndarray, hw: BnnHwParams) -> dict:
    """A bridge whose flip changes the digital output of some image: the first (image, neuron) whose
    popcount sits exactly on the majority threshold, and one of its agreeing cells (flipping it drops
    the count below the threshold). Returns ``{"row", "col", "image", "neuron"}`` (array coordinates)."""
    from golden.twins.bnn_layer_engine import extend_inputs, majority_threshold

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


try:
    import cocotb
    _HAVE_COCOTB = cocotb.is_simulation
except ImportError:  # pragma: no cover
    _HAVE_COCOTB = False

if _HAVE_COCOTB:
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

    from golden.spec.register_map import accelerator_register_map
    from tb.cosim.training_tb import FastAxil
    from tb.kit.runner import test_config
    from tb.models.bnn_macro import BnnMacroModel, MacroPortSampler, make_decider

    async def macro_loop(dut, model: BnnMacroModel, stats: dict):
        """Sample the array port every cycle (ReadOnly), drive the macro's answer in the next. The
        1-bit strobes are read every cycle, the wide line vectors only when they matter."""
        nxt, cycle = None, 0
        port = MacroPortSampler(dut, model.hw, ("read", "eq", "input_en", "sa_en", "sa_rst"))
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
            nxt = model.step(cycle, s)
            cycle += 1
            stats["cycles"] = cycle

    @cocotb.test()
    async def cosim_bnn(dut):
        from golden.bnn.network import BnnModel

        tc = test_config()
        seed = int(tc["seed"])
        hw = BnnHwParams(**tc["hw"])
        model = BnnModel.load(tc["model"])
        x = np.load(tc["x_path"])[:int(tc["images"])].astype(np.uint8)
        n = len(x)
        hc = tc["hardware"]
        modes = tuple(tc.get("modes", MODES))
        fault = tc.get("fault") or {}
        _, img, want_d, want_a = golden_bits(model, hw, x, hc)
        want = {"digital": want_d, "analog": want_a}

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

        regmap = accelerator_register_map(bnn_top_params(hw), bnn=hw)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        dut.rst.value = 1
        for s in ("rd_valid", "rd_bits", "sa_out", "adc"):
            getattr(dut, s).value = 0
        bus = FastAxil(dut, "", dut.clk)
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        macro = BnnMacroModel(hw, macro_img, decide=decide, seed=seed)
        stats = {"cycles": 0}
        cocotb.start_soon(macro_loop(dut, macro, stats))

        def wr(reg, **f):
            return bus.write_stream(regmap[reg].addr, [regmap[reg].encode(**f)])

        async def rd(reg):
            return regmap[reg].decode(await bus.read(regmap[reg].addr))

        t0 = time.perf_counter()
        cfg1 = await rd("bnn_cfg1")
        assert cfg1["read_lanes"] == hw.read_lanes, cfg1
        await wr("ctrl", mode=1)
        n_words = -(-hw.inputs // 32)
        per_mode, first = {}, []
        for mode in modes:
            await wr("bnn_ctrl", analog=int(mode == "analog"))
            c0, reads0, dec0 = stats["cycles"], macro.word_reads, macro.decisions
            got = np.zeros((n, hw.neurons), dtype=np.uint8)
            for i in range(n):
                bits = int.from_bytes(np.packbits(x[i], bitorder="little").tobytes(), "little")
                await bus.write_stream(regmap["bnn_input"].addr,
                                       [(bits >> (32 * k)) & 0xFFFFFFFF for k in range(n_words)])
                while not (await rd("events"))["bnn_done"]:
                    pass
                out = 0
                for k in range(-(-hw.neurons // 32)):
                    await wr("bnn_out_index", word=k)
                    out |= (await rd("bnn_out_data"))["bits"] << (32 * k)
                got[i] = [(out >> j) & 1 for j in range(hw.neurons)]
                await wr("events", bnn_done=1)
                await wr("ctrl", mode=1, bnn_ack=1)
            diff = got != want[mode]
            first += [f"{mode} image {i} neuron {j}: RTL {got[i, j]}, golden {want[mode][i, j]}"
                      for i, j in np.argwhere(diff)[:5]]
            per_mode[mode] = {"image_mismatches": int(diff.any(axis=1).sum()), "bit_mismatches": int(diff.sum()),
                              "mismatch_positions": np.argwhere(diff)[:100].tolist(),   # [image, neuron]
                              "cycles": stats["cycles"] - c0, "word_reads": macro.word_reads - reads0,
                              "sa_decisions": macro.decisions - dec0}
        await wr("ctrl", mode=0)
        wall = time.perf_counter() - t0
        errors = await rd("errors")
        res = {"images": n, "modes": list(modes), "neurons": hw.neurons, "inputs": hw.inputs,
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
