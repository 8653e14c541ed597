"""cocotb test of the handshake drivers on :class:`tb.tops.stream_register.StreamRegister`.

:class:`tb.kit.stream.StreamSource` on ``i`` and :class:`tb.kit.stream.StreamSink` on ``o`` (both
polling, or both ``lazy``) with seeded generators; :func:`tb.tops.stream_register.stream_register_cycles`
fed with fresh copies of the same generators must predict every transfer and its cycle. Config keys:
seed, items, lazy, valid, ready (generator specs of :func:`golden.spec.handshake.make_gen`).
"""
from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge

from golden.spec.handshake import make_gen
from tb.kit.runner import test_config
from tb.kit.stream import CycleCounter, StreamSink, StreamSource
from tb.kit.testbench import clock_and_reset
from tb.tops.stream_register import stream_register_cycles

PERIOD_NS = 10


@cocotb.test()
async def stream_register_transfers(dut):
    cfg = test_config()
    seed, items, lazy = cfg["seed"], list(range(cfg["items"])), cfg["lazy"]

    def gens():
        return make_gen(cfg["valid"], seed, 1), make_gen(cfg["ready"], seed, 2)

    accepted, emitted = stream_register_cycles(items, *gens())
    await clock_and_reset(dut, idle=[dut.i__valid, dut.o__ready], cycles=3, period_ns=PERIOD_NS)
    counter = CycleCounter(dut.clk, period=PERIOD_NS if lazy else None).start()
    valid_gen, ready_gen = gens()
    src = StreamSource(dut, "i", dut.clk, counter, valid_gen=valid_gen, lazy=lazy)
    snk = StreamSink(dut, "o", dut.clk, counter, ready_gen=ready_gen, lazy=lazy)
    src.send(items)
    src.start(), snk.start()
    last = emitted[-1][0]
    while counter.cycle <= last + 4:
        await RisingEdge(dut.clk)
    for what, got, want in (("accepted", src.sent, accepted), ("emitted", snk.received, emitted)):
        got = [(t.cycle, t.value) for t in got]
        k = next((k for k, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
        assert got == want, f"seed {seed}: {what} #{k}: {got[k:k + 1]}, model {want[k:k + 1]}"
    dut._log.info(f"{len(items)} items, {last + 1} cycles: every transfer as predicted")
