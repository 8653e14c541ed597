"""OuterProductEngine: golden cycle model, Amaranth-simulator and cocotb/Verilator runs against it."""
from __future__ import annotations

import random
import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.spec.handshake import make_gen
from golden.spec.params import AccelParams
from golden.spec.transactions import PulseCount
from golden.twins.outer_product_engine import OuterProductEngine as GoldenEngine
from golden.twins.outer_product_engine import (
    clear_cycles,
    engine_cycle_model,
    frame_cycles,
    frame_items,
    frame_words,
    groups,
    pipeline_stages,
)
from hw.outer_product_engine import OuterProductEngine, _abs_ge_pow2, _two_or_more
from tb.envs.outer_product_engine_tb import phase_stimulus, replay
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams, simulate
from tb.kit.runner import run_cocotb
from tb.kit.scoreboard import Scoreboard


def P(rows=13, cols=10, lanes=4, **update) -> AccelParams:
    return AccelParams().with_(array={"rows": rows, "cols": cols}, engine={"lanes": lanes},
                               update={"count_width": 2, **update})


# --- (a) the cycle model on its own ----------------------------------------------------------------

def test_cycle_model_equals_transaction_twin(seed):
    """Every PulseCount of a run with bad frames, zero frames and interleaved requests equals the
    transaction twin applied in commit order; chi too."""
    p = P(lanes=2, eps=100)
    frames, reqs = phase_stimulus(p, seed, 0, {"frames": 12, "bad": 0.3, "requests": 20, "density": 0.4})
    tr = engine_cycle_model(p, frames, reqs, make_gen(0.7, seed, 1), make_gen(0.2, seed, 2),
                            make_gen(0.5, seed, 3), clearing=clear_cycles(p))
    assert [pc for _, pc in tr.emitted] == replay(p, frames, tr, reqs)
    assert len(tr.end_cycles) == sum(ok for _, ok in tr.frames) and tr.frame_error == any(
        not ok for _, ok in tr.frames)


def test_cycle_model_frame_timing():
    """Without backpressure a frame takes frame_cycles() from its commit on; with G = 3 the
    all-zero x words are fetched while a row issues (no bubble)."""
    p = P(rows=12, cols=10, lanes=4, eps=1 << 14)       # eps out of reach: no pulse
    x = np.zeros(12, dtype=np.int64)
    x[[1, 2, 7]] = [5, 1, 1023]                        # x words of 3: words 0, 2 non-zero, 1, 3 zero
    tr = engine_cycle_model(p, [frame_words(x, np.arange(10) - 5, p)], [], make_gen(1.0, 0, 0),
                            make_gen(1.0, 0, 1), make_gen(1.0, 0, 2))
    commit = tr.frames[0][0]
    assert tr.words[0][0] == 0 and commit == len(tr.words) - 1     # one word per cycle (P >= 2)
    assert tr.end_cycles == [commit + frame_cycles(p, 3)] == [commit + 3 * 3 + 7 + 5]
    assert groups(p) == 3 and pipeline_stages(p) == 7 and not tr.emitted


def test_cycle_model_drops_bad_frames_whole():
    p = P()
    good = frame_words(np.full(13, 200), np.full(10, 30000), p)
    tr = engine_cycle_model(p, [good[:-1], good + [1], good], [], make_gen(1.0, 0, 0), make_gen(1.0, 0, 1),
                            make_gen(1.0, 0, 2))
    assert [ok for _, ok in tr.frames] == [False, False, True] and tr.frame_error
    assert len(tr.end_cycles) == 1
    assert [pc for _, pc in tr.emitted] == GoldenEngine(p).frame_from_words(good).counts


def test_cycle_model_pulse_order_is_row_major():
    p = P(lanes=4, eps=1)
    x, d = np.ones(13, dtype=np.int64) * 128, np.full(10, 256)      # dw = 1 everywhere
    tr = engine_cycle_model(p, [frame_words(x, d, p)], [], make_gen(1.0, 0, 0), make_gen(1.0, 0, 1),
                            make_gen(1.0, 0, 2))
    assert [(pc.row, pc.col) for _, pc in tr.emitted] == [(j, i) for j in range(13) for i in range(10)]


# --- (b) Amaranth simulator against the golden cycle model ----------------------------------------

def run_amaranth(p: AccelParams, frames, reqs, specs, seed, clears=(), streams=(1, 2, 3)):
    """RTL from power-up against :func:`engine_cycle_model`: every transfer with its cycle, the
    end_cycle strobes, idle in every cycle, the error flags and chi (backdoor) at the end."""
    (fv, rv, ov), (a, b, c) = specs, streams
    tr = engine_cycle_model(p, frames, reqs, make_gen(fv, seed, a), make_gen(rv, seed, b), make_gen(ov, seed, c),
                            clearing=clear_cycles(p), clears=clears)
    dut = OuterProductEngine(p)
    fs = SimSource(dut.frame, frame_items(frames), make_gen(fv, seed, a))
    rs = SimSource(dut.req, reqs, make_gen(rv, seed, b))
    sk = SimSink(dut.o, make_gen(ov, seed, c), convert=lambda d: PulseCount(**d))
    obs = {"end": [], "idle": []}
    clear_set = set(clears)

    def hook(ctx, cycle):
        ctx.set(dut.clear, int(cycle in clear_set))
        if ctx.get(dut.end_cycle):
            obs["end"].append(cycle)
        obs["idle"].append(bool(ctx.get(dut.idle)))

    async def bench(ctx):
        await run_streams(ctx, [fs, rs], [sk], until=lambda c: c >= tr.cycles + 4, hooks=[hook])
        obs["flags"] = (ctx.get(dut.frame_error), ctx.get(dut.addr_error))
        G = groups(p)
        obs["chi"] = np.array([[ctx.get(dut.chi_rams[c % p.engine.lanes].memory.data[r * G + c // p.engine.lanes])
                                for c in range(p.array.cols)] for r in range(p.array.rows)])

    dt = simulate(dut, bench)
    sb = Scoreboard("outer_product_engine (amaranth sim)", seed)
    sb.check(tr.words, fs.sent)
    sb.check(tr.requests, rs.sent)
    sb.check(tr.emitted, sk.received)
    assert obs["end"] == tr.end_cycles, (seed, obs["end"], tr.end_cycles)
    assert obs["idle"][:tr.cycles] == tr.idle, f"idle differs (seed {seed})"
    assert obs["flags"] == (tr.frame_error, tr.addr_error), (seed, obs["flags"])
    assert (obs["chi"] == tr.chi).all(), f"chi differs (seed {seed})"
    return tr, dt


SIM_CONFIGS = {
    # P = 1: two cycles per delta word (16-bit codes, two per word)
    "13x10-P1-eps256": (P(lanes=1), (0.8, 0.3, 0.6)),
    # cols not a multiple of P, eps not a power of two (restoring division stages)
    "13x10-P4-eps100": (P(lanes=4, eps=100), (["burst", 0.7], 0.5, ["burst", 0.5])),
    "9x10-P8-eps7-cw3": (P(rows=9, lanes=8, eps=7, count_width=3), (1.0, 0.2, 0.4)),
    # narrow codes: 1-bit x (32 per word), 10-bit deltas (3 per word over 2 lanes: 2 cycles, 2 + 1)
    "33x7-P2-narrow": (AccelParams().with_(array={"rows": 33, "cols": 7}, update={"eps": 64, "count_width": 3},
                                           engine={"lanes": 2, "x_width": 1, "x_frac": 0, "delta_width": 10,
                                                   "delta_frac": 2}), (0.9, 0.5, 0.7)),
}


@pytest.mark.parametrize("name", SIM_CONFIGS)
def test_amaranth_sim_random(name, seed):
    p, specs = SIM_CONFIGS[name]
    frames, reqs = phase_stimulus(p, seed, 0, {"frames": 8, "bad": 0.25, "requests": 15, "density": 0.4})
    tr, dt = run_amaranth(p, frames, reqs, specs, seed)
    assert [pc for _, pc in tr.emitted] == replay(p, frames, tr, reqs)
    print(f"{name}: {len(frames)} frames, {len(reqs)} requests, {len(tr.emitted)} PulseCounts, "
          f"{tr.cycles} cycles, {tr.cycles / dt:.0f} cycles/s (Amaranth sim)")


def test_amaranth_sim_clear_during_work(seed):
    """``clear`` pulses at random cycles (while frames load, compute and requests wait)."""
    p, specs = SIM_CONFIGS["13x10-P4-eps100"]
    rng = random.Random(f"clear/{seed}")
    frames, reqs = phase_stimulus(p, seed, 1, {"frames": 8, "bad": 0.1, "requests": 10, "density": 0.5})
    clears = sorted(rng.sample(range(clear_cycles(p), 500), 4))
    print(f"seed {seed}: clear pulses in cycles {clears}")
    tr, _ = run_amaranth(p, frames, reqs, specs, seed, clears=clears)
    assert tr.emitted


# --- (c) cocotb under Verilator --------------------------------------------------------------------

COCOTB_CONFIGS = {
    # P = 1 (two cycles per delta word), eps not a power of two (restoring division), clear pulses
    # (while busy, during the walk, when idle); dW 10 bits, so large products saturate; every
    # handshake class on the three streams (the phases also close the functional coverage)
    "13x10-P1-eps100": (P(lanes=1, eps=100, dw_width=10),
                        [{"frames": 12, "bad": 0.25, "requests": 30, "density": 0.4, "frame_valid": ["burst", 0.7],
                          "req_valid": 0.3, "ready": ["burst", 0.5]},
                         {"frames": 6, "requests": 10, "density": 0.2, "clears": [60, 61, 400], "frame_valid": 0.6,
                          "ready": 0.7},
                         {"frames": 4, "bad": 0.2, "requests": 8, "density": 1.0, "clears": [40, 1500],
                          "frame_valid": ["pattern", [1, 1, 0, 1, 0, 0, 0, 0, 0]],
                          "req_valid": ["pattern", [0] * 16 + [1, 1]], "ready": ["pattern", [1, 1, 0, 1, 0, 0]]}]),
    # P = 8, cols not a multiple of P, power-of-two eps (bit slices), dense rows and many pulses
    "50x30-P8-eps256": (P(rows=50, cols=30, lanes=8, count_width=4),
                        [{"frames": 14, "bad": 0.3, "requests": 20, "density": 0.3, "frame_valid": 0.9,
                          "req_valid": 0.1, "ready": 1.0},
                         {"frames": 4, "requests": 40, "density": 1.0, "req_valid": ["burst", 0.5],
                          "ready": ["burst", 0.3]}]),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("name", COCOTB_CONFIGS)
def test_cocotb_outer_product_engine(name, seed):
    p, phases = COCOTB_CONFIGS[name]
    res = run_cocotb(OuterProductEngine.from_params(p), toplevel="outer_product_engine",
                     test_module="tb.envs.outer_product_engine_tb",
                     config={"params": p.to_dict(), "seed": seed, "phases": phases})
    print(f"outer_product_engine {name}: {sum(ph['frames'] for ph in phases)} frames, 0 mismatches, "
          f"build {res.build_seconds:.1f} s, run {res.run_seconds:.1f} s")


@pytest.mark.cocotb
def test_cocotb_scoreboard_catches_wrong_model(seed):
    """The model run with another eps (a deliberately wrong expectation) must be reported as a
    mismatch naming its cycle; the cocotb test passes only then."""
    p, phases = COCOTB_CONFIGS["13x10-P1-eps100"]
    wrong = p.with_(update={"eps": 101}).to_dict()
    res = run_cocotb(OuterProductEngine.from_params(p), toplevel="outer_product_engine",
                     test_module="tb.envs.outer_product_engine_tb",
                     config={"params": p.to_dict(), "golden_params": wrong, "expect_mismatch": True,
                             "seed": seed, "phases": phases[:1]})
    log = (res.results_xml.parent / "sim.log").read_text()
    assert re.search(rf"expected mismatch reported: scoreboard .* mismatch at index \d+, cycle \d+: .*"
                     rf"\(seed {seed}\)", log), log[-2000:]


def test_memory_manifest_lists_the_banks():
    """P chi banks (cleared by the walk), P delta banks and one x store (frame buffers), all behind
    the SRAM wrapper a macro can replace."""
    from hw.memory_manifest import CLEARED_BY_WALK, FRAME_BUFFER, memories

    p = P(rows=13, cols=10, lanes=4)
    mems = {m.path.split(".")[1]: m for m in memories(OuterProductEngine(p), "ope")}
    assert set(mems) == {f"chi_ram{k}" for k in range(4)} | {f"delta_ram{k}" for k in range(4)} | {"x_ram"}
    assert all(m.wrapper == "SimpleDualPortRam" for m in mems.values())
    assert (mems["chi_ram0"].depth, mems["chi_ram0"].contents_after_reset) == (13 * 3, CLEARED_BY_WALK)
    assert (mems["delta_ram3"].depth, mems["delta_ram3"].contents_after_reset) == (2 * 4, FRAME_BUFFER)
    assert mems["x_ram"].width == 3 * (p.engine.x_width + 1) and mems["x_ram"].contents_after_reset == FRAME_BUFFER


def _exhaustive(width: int, expr, want) -> list[int]:
    """Every value of a ``width``-bit signal through the combinational ``expr``; the values where it
    differs from ``want(value)``."""
    from amaranth import Module, Signal

    x, o = Signal(width), Signal()
    m = Module()
    m.d.comb += o.eq(expr(x))
    bad = []

    async def bench(ctx):
        for v in range(1 << width):
            ctx.set(x, v)
            if ctx.get(o) != int(want(v)):
                bad.append(v)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return bad


@pytest.mark.parametrize("width", [1, 2, 5, 8])
def test_two_or_more_bits(width):
    """The scanner's "two or more elements left" test, against a bit count, for every mask."""
    assert _exhaustive(width, _two_or_more, lambda v: v.bit_count() >= 2) == []


@pytest.mark.parametrize("width, kk", [(4, 0), (4, 2), (6, 1), (6, 4), (8, 3)])
def test_abs_ge_pow2(width, kk):
    """A beat's emit with a power-of-two eps, ``|s| >= 2**kk``, for every signed ``s`` of the width."""
    def signed(v):
        return v - (1 << width) if v >> (width - 1) else v
    assert _exhaustive(width, lambda x: _abs_ge_pow2(x, kk), lambda v: abs(signed(v)) >= 1 << kk) == []
