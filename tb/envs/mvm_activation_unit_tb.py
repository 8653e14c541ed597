"""cocotb test of :class:`hw.mvm_activation_unit.MvmActivationUnit` under Verilator.

Drivers on the four input streams and monitors on the three outputs, with the seeded idle and
backpressure generators of :mod:`golden.spec.handshake`; the golden cycle model
:func:`golden.twins.mvm_activation_unit.unit_cycle_model`, fed fresh copies of the same generators,
predicts every transfer (cycle and payload) and the status outputs after the run; the scoreboard
compares in order and names the first mismatch, its cycle and the seed. Config keys: params, seed,
items (per input port), specs (idle, backpressure), e_shift, cycles; optional ``model_e_shift`` (the
model run with another shift) and ``expect_mismatch`` (the test passes only if the scoreboard
reports a mismatch).
"""
from __future__ import annotations

import cocotb
from cocotb.triggers import RisingEdge

from golden.spec.handshake import make_gen
from golden.spec.mvm_geometry import activation_shape
from golden.spec.params import params_from_dict
from golden.twins.mvm_activation_unit import unit_cycle_model
from hw.mvm_activation_unit import code_layout
from hw.mvm_read_engine import mvm_in_layout
from tb.kit.runner import test_config
from tb.kit.stream import CycleCounter, StreamSink, StreamSource
from tb.kit.testbench import clock_and_reset

PERIOD_NS = 10
IN_PORTS = ("y_i", "send", "d_i", "t_i")
OUT_PORTS = ("h_o", "e_o", "d1_o")
STATUS = ("h_valid", "hidden_saturated", "e_saturated", "d1_saturated", "h_error", "e_error", "d1_error")


def gens(seed: int, specs) -> dict:
    v, r = specs
    out = {k: make_gen(v, seed, i) for i, k in enumerate(IN_PORTS, 1)}
    out.update({k: make_gen(r, seed, i) for i, k in enumerate(OUT_PORTS, 11)})
    return out


@cocotb.test()
async def activation_transfers(dut):
    cfg = test_config()
    seed, items, specs, cycles = cfg["seed"], cfg["items"], cfg["specs"], cfg["cycles"]
    p = params_from_dict(cfg["params"])
    sh = activation_shape(p)
    want = unit_cycle_model(p, items, gens(seed, specs), e_shift=cfg.get("model_e_shift", cfg["e_shift"]),
                            cycles=cycles)
    layouts = {"y_i": code_layout(sh.out_width), "send": None, "d_i": code_layout(sh.delta_width),
               "t_i": code_layout(sh.out_width), "h_o": mvm_in_layout(), "e_o": code_layout(sh.input_width),
               "d1_o": code_layout(sh.delta_width)}
    dut.e_shift.value = cfg["e_shift"]
    await clock_and_reset(dut, idle=[getattr(dut, f"{k}__valid") for k in IN_PORTS]
                          + [getattr(dut, f"{k}__ready") for k in OUT_PORTS], cycles=3, period_ns=PERIOD_NS)
    counter = CycleCounter(dut.clk).start()
    g = gens(seed, specs)
    srcs = {k: StreamSource(dut, k, dut.clk, counter, layouts[k], valid_gen=g[k]) for k in IN_PORTS}
    snks = {k: StreamSink(dut, k, dut.clk, counter, layouts[k], ready_gen=g[k]) for k in OUT_PORTS}
    for k, s in srcs.items():
        s.send(items[k])
        s.start()
    for s in snks.values():
        s.start()
    while counter.cycle < cycles:
        await RisingEdge(dut.clk)
    try:
        checked = scoreboard(srcs, snks, want, cycles, seed)
        status = {k: int(getattr(dut, k).value) for k in STATUS}
        assert status == want.status, f"status {status}, model {want.status} (seed {seed})"
    except AssertionError as e:
        if cfg.get("expect_mismatch"):
            dut._log.info(f"expected mismatch reported: {e}")
            return
        raise
    assert not cfg.get("expect_mismatch"), "the scoreboard missed a wrong model"
    dut._log.info(f"{checked} transfers and the status as predicted ({cycles} cycles, seed {seed})")


def scoreboard(srcs, snks, want, cycles: int, seed: int) -> int:
    """Compare every transfer with the model's, in order; returns how many were checked."""
    checked = 0
    for side, ports, model in (("taken", srcs, want.taken), ("offered", snks, want.offered)):
        for k, port in ports.items():
            got = [(t.cycle, t.value) for t in (port.sent if side == "taken" else port.received)]
            got = [(c, dict(v) if isinstance(v, dict) else int(v)) for c, v in got if c < cycles]
            exp = model[k]
            n = next((i for i, (a, b) in enumerate(zip(got, exp)) if a != b), min(len(got), len(exp)))
            assert got == exp, (f"scoreboard {k}: mismatch at index {n}, cycle "
                                f"{(got[n:n + 1] or exp[n:n + 1])[0][0]}: got {got[n:n + 1]}, model "
                                f"{exp[n:n + 1]} (seed {seed})")
            checked += len(got)
    return checked
