"""MvmReadEngine: the RTL in Amaranth's simulator against its golden cycle twin, cycle by cycle and value
by value, with the behavioural array (golden's line currents, read noise and ADC) closing the port."""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace

import numpy as np
import pytest

from golden.mvm.read_path import ReadNoise, forward_read, transposed_read
from golden.spec.handshake import make_gen
from golden.spec.mvm_geometry import MvmEngineShape, engine_shape, frame_cycles, frame_period, read_cycles
from golden.spec.mvm_params import MvmParams
from golden.spec.params import AccelParams
from golden.twins.mvm_read_engine import (
    Frame,
    ProgSide,
    engine_cycle_model,
    frame_items,
    frame_outputs,
    frame_words,
    parse_frame,
)
from hw.mvm_read_engine import MvmReadEngine
from tb.envs.mvm_read_engine_tb import random_frames
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams, simulate
from tb.kit.runner import ENV_COVERAGE
from tb.kit.scoreboard import Scoreboard
from tb.models.mvm_array import MvmArray, MvmArrayPort


def accel(rows=7, cols=5, devices=2, differential=False, **mvm) -> AccelParams:
    return AccelParams().with_(array={"rows": rows, "cols": cols},
                               synapse={"devices": devices, "increment": 1, "differential": differential},
                               mvm=mvm)


@dataclass
class Setup:
    """One random test case: the parameters, the array, the run-time settings and the frames."""

    p: AccelParams
    shape: MvmEngineShape
    mv: MvmParams
    g: np.ndarray
    g_ref: int
    noise: ReadNoise | None
    settle: int
    conv: int
    frames: list[Frame]


def make_setup(p: AccelParams, seed: int, n_frames: int = 6, bad: float = 0.2, noise: bool = True,
               settle: int = 2, conv: int = 1) -> Setup:
    """Random conductance codes, full scales that spread the codes over the ADC range, random scaling
    and frames (forward and transposed mixed, some of the wrong length)."""
    rng = random.Random(f"mvm/{seed}")
    shape = engine_shape(p)
    mv0 = p.mvm
    # |S * mult| < 2**(A + b + bits(D) + 17): shifts that put y around the top of out_width (some
    # saturate, most do not), and shift 0 now and then
    top = mv0.adc_width + mv0.input_width + shape.slots.bit_length() + 17
    lo_sh = max(0, top - mv0.out_width - 1)
    shifts = (lo_sh, min(48, lo_sh + 6)) if rng.random() < 0.8 else (0, 0)
    gmax = (1 << mv0.g_bits) - 1
    g = np.array([[rng.randint(0, gmax) for _ in range(shape.phys_cols)] for _ in range(shape.rows)])
    # full scales around the mean line current of a half-driven bit plane
    fs = max(1, shape.rows * gmax // 3 + rng.randint(-50, 50))
    fs_t = max(1, shape.phys_cols * gmax // 3 + rng.randint(-50, 50))
    mv = MvmParams(**{**{f: getattr(mv0, f) for f in ("input_width", "adc_width", "cols_per_adc", "g_bits",
                                                      "out_width")},
                      "adc_full_scale": fs, "t_full_scale": fs_t,
                      "scale_mult": rng.randint(1, 1 << 16), "scale_shift": rng.randint(*shifts),
                      "t_scale_mult": rng.randint(1, 1 << 16), "t_scale_shift": rng.randint(*shifts)})
    p = p.with_(mvm={f: getattr(mv, f) for f in mv.__dataclass_fields__})
    frames = random_frames(rng, shape, n_frames, bad)
    nz = ReadNoise(seed, 0.05, 3.0, array_id=1) if noise else None
    return Setup(p, shape, mv, g, rng.randint(0, gmax), nz, settle, conv, frames)


def cfg_of(s: Setup) -> dict:
    return {"settle": s.settle, "conv": s.conv, "fs_fwd": s.mv.adc_full_scale, "fs_tr": s.mv.fs_t,
            "g_ref": s.g_ref, "mult_fwd": s.mv.scale_mult, "shift_fwd": s.mv.scale_shift,
            "mult_tr": s.mv.t_scale_mult, "shift_tr": s.mv.t_scale_shift}


def run_case(s: Setup, seed: int, specs=(0.8, 0.7), prog_p: float = 0.1, obey: bool = True,
             dut_cls=MvmReadEngine):
    """The RTL from power-up against :func:`engine_cycle_model`: every ``i`` and ``o`` transfer with
    its cycle, every read's first cycle, bit and group, ``rd_req`` in every cycle and the flags."""
    iv, ov = specs
    outputs = frame_outputs(s.g, s.mv, s.shape, g_ref=s.g_ref, noise=s.noise)
    tr = engine_cycle_model(s.shape, s.frames, outputs, make_gen(iv, seed, 1), make_gen(ov, seed, 2),
                            ProgSide(seed, prog_p), settle=s.settle, conv=s.conv)
    dut = dut_cls(s.p)
    src = SimSource(dut.i, frame_items(s.frames), make_gen(iv, seed, 1))
    snk = SimSink(dut.o, make_gen(ov, seed, 2))
    port = MvmArrayPort(MvmArray(s.g, s.mv, s.noise), s.shape.input_width, s.shape.differential,
                        s.shape.cols_per_adc, dut.n_adc)
    prog = ProgSide(seed, prog_p, obey=obey)
    obs = {"rd_req": [], "prog": [], "rd": False}
    cfg = cfg_of(s)

    def hook(ctx, cycle):
        if cycle == 0:
            for k, v in cfg.items():
                ctx.set(getattr(dut.cfg, k), v)
        pa = prog.step(obs["rd"])
        ctx.set(dut.prog_active, int(pa))
        code = port.step(cycle, bool(ctx.get(dut.read)), bool(ctx.get(dut.transposed)), ctx.get(dut.wl),
                         ctx.get(dut.bl), ctx.get(dut.adc_sel))
        ctx.set(dut.adc_code, code)
        obs["rd"] = bool(ctx.get(dut.rd_req))
        obs["rd_req"].append(obs["rd"])
        obs["prog"].append(pa)

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], until=lambda c: c >= tr.cycles + 3, hooks=[hook])
        obs["flags"] = (ctx.get(dut.frame_error), ctx.get(dut.overlap_error))

    dt = simulate(dut, bench)
    sb = Scoreboard("mvm_read_engine (amaranth sim)", seed)
    sb.check(tr.words, src.sent)
    sb.check(tr.outputs, snk.received)
    sb.check(tr.reads, [(r.cycle, int(r.transposed), r.k, r.grp) for r in port.reads])
    assert obs["rd_req"][:tr.cycles] == tr.rd_req, f"rd_req differs (seed {seed})"
    assert obs["prog"][:tr.cycles] == tr.prog, f"prog_active differs (seed {seed})"
    assert obs["flags"] == (int(tr.frame_error), 0), (seed, obs["flags"])
    return tr, dt, sum(s.shape.lines(r.transposed) for r in port.reads)


# --- (a) the twin on its own ------------------------------------------------------------------------

def test_frame_timing_formula():
    """Without backpressure and programming: the reads start 2 cycles after the commit, one per
    read_cycles; the last y comes frame_cycles after the commit; back to back, one frame per
    frame_period."""
    p = accel(input_width=3, adc_width=4, cols_per_adc=4)
    s = make_setup(p, 1, n_frames=0, noise=False, settle=3, conv=2)
    for tr_mode in (False, True):
        words = tuple(frame_words([1] * s.shape.n_in(tr_mode), tr_mode, s.shape))
        tr = engine_cycle_model(s.shape, [Frame(words, tr_mode)] * 2, lambda t, m, c: [0] * s.shape.n_out(m),
                                make_gen(1.0, 0, 0), make_gen(1.0, 0, 1), None, settle=3, conv=2)
        commit = tr.frames[0][0]
        n_out = s.shape.n_out(tr_mode)
        assert commit == len(words) - 1
        assert tr.outputs[n_out - 1][0] == commit + frame_cycles(s.shape, tr_mode, 3, 2)
        assert tr.outputs[0][0] == commit + s.shape.passes(tr_mode) * read_cycles(3, 2, 4) + 2
        assert [c for c, *_ in tr.reads][:2] == [commit + 2, commit + 2 + read_cycles(3, 2, 4)]
        assert tr.words[len(words)][0] - tr.words[0][0] == frame_period(s.shape, tr_mode, 3, 2)


def test_twin_outputs_are_golden_reads(seed):
    """The twin's y of each committed frame are golden's forward / transposed read of that sample."""
    s = make_setup(accel(differential=True, input_width=3, adc_width=5, cols_per_adc=4), seed, n_frames=8)
    tr = engine_cycle_model(s.shape, s.frames, frame_outputs(s.g, s.mv, s.shape, g_ref=s.g_ref, noise=s.noise),
                            make_gen(0.7, seed, 1), make_gen(0.6, seed, 2), ProgSide(seed, 0.2))
    ys = [o["y"] for _, o in tr.outputs]
    want, t = [], 0
    for f in s.frames:
        codes = parse_frame(list(f.words), f.transposed, s.shape)
        if codes is None:
            continue
        read = transposed_read if f.transposed else forward_read
        want += list(read(s.g, np.array(codes), s.mv, devices=2, differential=True, noise=s.noise, t=t).y)
        t += 1
    assert ys == want and len(ys) > 0


# --- (b) Amaranth simulator against the twin ------------------------------------------------------

SIM_CONFIGS = {
    # name: (AccelParams, settle, conv, (i valid, o ready), prog_active start probability)
    "7x5-N2-b3-A4-K4": (accel(input_width=3, adc_width=4, cols_per_adc=4), 2, 1, (0.8, 0.7), 0.1),
    "7x5-N2diff-b3-A6-K1": (accel(differential=True, input_width=3, adc_width=6, cols_per_adc=1), 1, 2,
                            (["burst", 0.7], 0.5), 0.2),
    # settle 0 acts as 1
    "7x5-N2diff-b8-A8-K4": (accel(differential=True, input_width=8, adc_width=8, cols_per_adc=4), 0, 1,
                            (1.0, 1.0), 0.05),
    "7x5-N2-b1-A2-K1-o8": (accel(input_width=1, adc_width=2, cols_per_adc=1, out_width=8), 3, 1,
                           (0.6, ["burst", 0.6]), 0.3),
    "7x5-N2-b8-A3-K4-o32": (accel(input_width=8, adc_width=3, cols_per_adc=4, out_width=32), 1, 3, (0.9, 0.9), 0.0),
}


@pytest.mark.parametrize("name", SIM_CONFIGS)
def test_amaranth_sim_random(name, seed):
    p, settle, conv, specs, prog_p = SIM_CONFIGS[name]
    s = make_setup(p, seed, n_frames=6, settle=settle, conv=conv)
    tr, dt, n_adc = run_case(s, seed, specs, prog_p)
    n_ok = sum(ok for _, ok in tr.frames)
    assert n_ok and tr.outputs
    print(f"{name}: {len(s.frames)} frames ({n_ok} committed), {len(tr.outputs)} y codes, {len(tr.reads)} reads, "
          f"{n_adc} ADC codes, {tr.cycles} cycles, 0 mismatches, {tr.cycles / dt:.0f} cycles/s (Amaranth sim)")


def test_amaranth_sim_bad_frames(seed):
    """Frames one word short and one word long (both modes) are dropped whole and raise frame_error;
    the good frames around them are read as usual."""
    p = accel(input_width=8, adc_width=5, cols_per_adc=4)         # 4 codes per word: 2 words each way
    s = make_setup(p, seed, n_frames=0)
    rng = random.Random(seed)
    good = [Frame(tuple(frame_words([rng.randint(0, 255) for _ in range(7)], False, s.shape))),
            Frame(tuple(frame_words([rng.randint(-128, 127) for _ in range(5)], True, s.shape)), True)]
    s.frames = [good[0], Frame(good[0].words[:-1]), Frame(good[1].words + (5,), True), good[1],
                Frame(good[1].words + (0, 0), True), Frame(good[0].words + (1,)), good[0]]
    tr, _, _ = run_case(s, seed, (0.9, 0.8), 0.1)
    assert [ok for _, ok in tr.frames] == [True, False, False, True, False, False, True] and tr.frame_error
    assert len(tr.outputs) == 5 + 7 + 5


def test_amaranth_sim_read_never_overlaps_programming(seed):
    """A programming side that ignores rd_req starts pulses during reads: the RTL's assertion stops
    the simulation (and overlap_error would be set in hardware)."""
    p = accel(input_width=3, adc_width=4, cols_per_adc=4)
    s = make_setup(p, seed, n_frames=3)
    with pytest.raises(AssertionError, match="a read overlaps a programming pulse"):
        run_case(s, seed, (1.0, 1.0), 0.5, obey=False)


MUTANTS = {
    # name: (config, old, new) -- each must make the scoreboard report a mismatch
    "sign-bit weight": ("7x5-N2-b3-A4-K4", "neg.eq(sign_bit ^ (grp & mode))", "neg.eq(grp & mode)"),
    "G- not negated": ("7x5-N2diff-b3-A6-K1", "neg.eq(sign_bit ^ (grp & mode))", "neg.eq(sign_bit)"),
    "no reference term": ("7x5-N2-b3-A4-K4", "racc.eq((racc + rterm)[:aw])", "racc.eq(racc)"),
    "rounding": ("7x5-N2diff-b8-A8-K4", "u1.eq(add_const(sext(u, xw + 1), 1))", "u1.eq(sext(u, xw + 1))"),
}


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_is_caught(name, seed):
    """One line of the RTL broken (in memory): the comparison with the twin must fail."""
    from tb.formal.mutation import Mutation
    from tb.kit.scoreboard import ScoreboardMismatch

    cfg, old, new = MUTANTS[name]
    p, settle, conv, specs, prog_p = SIM_CONFIGS[cfg]
    s = make_setup(p, seed, n_frames=6, settle=settle, conv=conv, bad=0.0)
    s.mv = replace(s.mv, scale_shift=max(s.mv.scale_shift, 3), t_scale_shift=max(s.mv.t_scale_shift, 3))
    mutant = Mutation("hw.mvm_read_engine", "MvmReadEngine", old, new).apply()
    with pytest.raises(ScoreboardMismatch):
        run_case(s, seed, specs, prog_p, dut_cls=mutant)


# --- (c) cocotb under Verilator --------------------------------------------------------------------

def cocotb_config(s: Setup, seed: int, specs, prog_p: float, **extra) -> dict:
    """The JSON configuration of :mod:`tb.envs.mvm_read_engine_tb` for one case."""
    n = s.noise
    return {"params": s.p.with_(mvm={f: getattr(s.mv, f) for f in s.mv.__dataclass_fields__}).to_dict(),
            "seed": seed, "g": s.g.tolist(),
            "noise": None if n is None else {"seed": n.seed, "read_mult": n.read_mult, "read_add": n.read_add,
                                             "array_id": n.array_id},
            "frames": [{"words": list(f.words), "transposed": f.transposed} for f in s.frames],
            "run": {"settle": s.settle, "conv": s.conv, "g_ref": s.g_ref, "i_valid": specs[0], "o_ready": specs[1],
                    "prog": prog_p}, **extra}


COCOTB_CASE = ("7x5-N2diff-b3-A6-K1", 10)        # differential, both modes, bursts, programming
# Under `make coverage` every configuration of SIM_CONFIGS runs, with this many frames (docs/coverage.md)
COVERAGE_FRAMES = 150
_COVERAGE_ONLY = pytest.mark.skipif(not os.environ.get(ENV_COVERAGE),
                                    reason=f"further configurations: `make coverage` ({ENV_COVERAGE} set)")


@pytest.mark.cocotb
@pytest.mark.extended      # a Verilator build of about a minute: make test-extended (make test: the Amaranth runs)
@pytest.mark.parametrize("name", [n if n == COCOTB_CASE[0] else pytest.param(n, marks=_COVERAGE_ONLY)
                                  for n in SIM_CONFIGS])
def test_cocotb_mvm_read_engine(name, seed):
    from tb.kit.runner import run_cocotb

    n_frames = COVERAGE_FRAMES if os.environ.get(ENV_COVERAGE) else COCOTB_CASE[1]
    p, settle, conv, specs, prog_p = SIM_CONFIGS[name]
    s = make_setup(p, seed, n_frames=n_frames, settle=settle, conv=conv)
    res = run_cocotb(MvmReadEngine(s.p), toplevel="mvm_read_engine", test_module="tb.envs.mvm_read_engine_tb",
                     config=cocotb_config(s, seed, specs, prog_p))
    print(f"mvm_read_engine {name}: {n_frames} frames, 0 mismatches, build {res.build_seconds:.1f} s, "
          f"run {res.run_seconds:.1f} s")


@pytest.mark.cocotb
@pytest.mark.extended
def test_cocotb_scoreboard_catches_wrong_model(seed):
    """The golden model run with another forward and transposed multiplier must be reported as a
    mismatch naming its cycle; the cocotb test passes only then (same build as above)."""
    import re

    from tb.kit.runner import run_cocotb

    name, n_frames = COCOTB_CASE
    p, settle, conv, specs, prog_p = SIM_CONFIGS[name]
    s = make_setup(p, seed, n_frames=n_frames, settle=settle, conv=conv, bad=0.0)
    wrong = replace(s.mv, scale_mult=s.mv.scale_mult % (1 << 16) + 1, t_scale_mult=s.mv.t_scale_mult % (1 << 16) + 1,
                    scale_shift=0, t_scale_shift=0)
    cfg = cocotb_config(s, seed, specs, prog_p, expect_mismatch=True,
                        golden_mvm={f: getattr(wrong, f) for f in wrong.__dataclass_fields__})
    res = run_cocotb(MvmReadEngine(s.p), toplevel="mvm_read_engine", test_module="tb.envs.mvm_read_engine_tb",
                     config=cfg)
    log = (res.results_xml.parent / "sim.log").read_text()
    assert re.search(rf"expected mismatch reported: scoreboard .* mismatch at index \d+, cycle \d+: .*\(seed {seed}\)",
                     log), log[-2000:]
