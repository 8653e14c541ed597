"""cocotb: BNN inference through the accelerator top's AXI4-Lite port (digital mode), bit-identical
to the golden :func:`golden.bnn_layer_engine.digital_bits`.

The top (:class:`hw.accelerator.Accelerator` with a BNN section, :func:`bnn_top`) owns a 2T2R array
whose bridges hold a seeded random layer (``neurons`` x ``inputs + bias_cells`` bits); the array port
is closed by :class:`tb.bnn_layer_engine_tb.BnnMacroModel` (bridge pair reads answered ``read_latency``
cycles later; line checks). The host switches CTRL.MODE to the BNN path, then per image pushes the
``ceil(inputs / 32)`` BNN_INPUT words, polls EVENTS.BNN_DONE, reads BNN_OUT_DATA, clears the event and
acknowledges (CTRL.BNN_ACK). Images: the binarised digits test set (8x8 -> 64 bits).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from golden.bnn_hw_params import BnnHwParams
from golden.params import AccelParams

BNN_HW = BnnHwParams(inputs=64, bias_cells=6, neurons=10, bank=2)


def bnn_top_params(hw: BnnHwParams = BNN_HW) -> AccelParams:
    """Training-array parameters that hold ``hw``'s 2T2R layer (rows = banks, 2 slots per synapse)."""
    banks = -(-hw.neurons // hw.bank)
    cells = hw.inputs + hw.bias_cells
    return AccelParams().with_(array={"rows": banks, "cols": hw.bank * cells, "cell": "2T2R"},
                               synapse={"devices": 2})


def bnn_top(hw: BnnHwParams = BNN_HW):
    from hw.accelerator import Accelerator
    return Accelerator(bnn_top_params(hw), bnn=hw)


def scenario(n_images: int, seed: int):
    """(programmed bits [neurons, cells], array image, input bits [n, inputs], golden output bits)."""
    from golden.bnn_layer_engine import array_image, digital_bits
    from golden.bnn_training import binarize_images
    from golden.datasets import load_digits

    hw = BNN_HW
    prog = np.random.default_rng([seed, 6]).integers(0, 2, (hw.neurons, hw.inputs + hw.bias_cells), dtype=np.uint8)
    x = binarize_images(load_digits().x_test[:n_images])
    return prog, array_image(prog, hw), x, digital_bits(prog, x, hw.bias_cells)


try:
    import cocotb
    _HAVE_COCOTB = cocotb.is_simulation
except ImportError:  # pragma: no cover
    _HAVE_COCOTB = False

if _HAVE_COCOTB:
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

    from golden.register_map import accelerator_register_map
    from tb.bnn_layer_engine_tb import BnnMacroModel
    from tb.cosim_training_tb import FastAxil
    from tb.runner import test_config

    async def macro_loop(dut, model: BnnMacroModel, hw: BnnHwParams):
        """Sample the array port every cycle (ReadOnly), drive the macro's answer in the next."""
        nxt, cycle = None, 0
        names = ("read", "wl", "bl_read", "in_bits", "eq", "input_en", "sa_en", "sa_rst")
        handles = {n: getattr(dut, n) for n in names}
        while True:
            await RisingEdge(dut.clk)
            if nxt is not None:
                dut.rd_valid.value = nxt["rd_valid"]
                dut.rd_bit.value = nxt["rd_bit"]
                dut.sa_out.value = nxt["sa_out"]
            await ReadOnly()
            s = {n: int(h.value) for n, h in handles.items()}
            s["addr_error"] = 0
            nxt = model.step(cycle, s)
            cycle += 1

    @cocotb.test()
    async def cosim_bnn(dut):
        tc = test_config()
        n, seed = int(tc.get("images", 100)), int(tc.get("seed", 0))
        hw = BNN_HW
        _, img, x, want = scenario(n, seed)
        regmap = accelerator_register_map(bnn_top_params(hw), bnn=hw)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        dut.rst.value = 1
        for s in ("rd_valid", "rd_bit", "sa_out", "adc"):
            getattr(dut, s).value = 0
        bus = FastAxil(dut, "", dut.clk)
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        model = BnnMacroModel(hw, img, decide=lambda i, xb: np.zeros(hw.neurons, np.uint8), seed=seed)
        cocotb.start_soon(macro_loop(dut, model, hw))

        def wr(reg, **f):
            return bus.write_stream(regmap[reg].addr, [regmap[reg].encode(**f)])

        async def rd(reg):
            return regmap[reg].decode(await bus.read(regmap[reg].addr))

        t0 = time.perf_counter()
        await wr("ctrl", mode=1)
        n_words = -(-hw.inputs // 32)
        got = np.zeros_like(want)
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
        await wr("ctrl", mode=0)
        wall = time.perf_counter() - t0
        errors = await rd("errors")
        bad = np.flatnonzero((got != want).any(axis=1))
        res = {"images": n, "neurons": hw.neurons, "inputs": hw.inputs, "bias_cells": hw.bias_cells,
               "image_mismatches": int(bad.size), "bit_mismatches": int((got != want).sum()),
               "bridge_reads": model.reads, "violations": model.violations[:5], "errors": errors,
               "wall_seconds": wall}
        if tc.get("result"):
            Path(tc["result"]).write_text(json.dumps(res, indent=2))
        dut._log.info(json.dumps(res))
        assert not bad.size, f"seed {seed}: images {bad[:10].tolist()} differ from golden digital_bits"
        assert not model.violations, model.violations[:5]
        assert not any(errors.values()), errors
