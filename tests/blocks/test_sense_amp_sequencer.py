"""SenseAmpSequencer: golden phase timing, Amaranth-sim and cocotb/Verilator timelines cycle by cycle."""
from __future__ import annotations

import json

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.spec.bnn_datapath_params import PHASES, BnnHwParams
from golden.spec.handshake import random_gen
from golden.spec.params import ConfigError
from golden.twins.sense_amp_sequencer import (
    PRECHARGE,
    READOUT,
    RESET,
    STROBE_TABLE,
    STROBES,
    SaResponse,
    SenseAmpSequencerModel,
    SeqState,
    conversion_offsets,
    sense_amp_run,
)
from hw.sense_amp_sequencer import SenseAmpSequencer
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch

# constructors that reject bad parameters leave an unelaborated object behind: not a leak
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


# --- golden ---------------------------------------------------------------------------------------
def test_golden_phase_offsets_without_stalls():
    lens = (3, 1, 2, 2, 1, 4)
    run = sense_amp_run([5, 6], bank=2, lengths=lens, cycles=40, sa_fn=lambda c: c & 3)
    off = conversion_offsets(lens)
    c0 = run.accepted[0][0]
    # the second request waits in the queue (transferred in cycle 1: the queue was empty) and
    # precharges behind the first
    assert c0 == 0 and run.accepted[1][0] == 1
    entered = [c for c, st in run.timeline if st.firsts & 1]
    assert entered[:2] == [c0 + 1, c0 + 1 + lens[0]]
    assert [st.req_ready for _, st in run.timeline[:c0 + 2 + lens[0]]] == [1, 1] + [0] * (lens[0] - 1) + [1]
    phases = [st.phase for _, st in run.timeline]
    for p, name in enumerate(PHASES, start=1):                     # the first conversion leads
        first, last = off[name]
        assert phases[c0 + first:c0 + last + 1] == [p] * lens[p - 1], name
    cap = c0 + off["readout"][0]
    end = c0 + off["readout"][1]
    assert run.responses[0] == (end + 1, SaResponse(5, cap & 3))    # bits driven in the first readout cycle
    for _, st in run.timeline:                                     # strobes: OR over the occupied phases
        want = tuple(int(any(STROBE_TABLE[s + 1][i] for s in range(6) if st.stages >> s & 1)) for i in range(7))
        assert st.strobes == want


@pytest.mark.parametrize("lens", [(1, 1, 1, 1, 1, 1), (2, 1, 2, 1, 1, 1), (3, 1, 2, 2, 1, 4)])
def test_golden_pipelined_steady_state_is_one_conversion_per_longest_phase(lens):
    run = sense_amp_run(range(40), bank=3, lengths=lens, cycles=400, sa_fn=lambda c: c & 7)
    acc = [c for c, _ in run.accepted]
    assert len(acc) == 40 and set(np.diff(acc[20:])) == {max(lens)}             # once the pipeline is full
    resp = [c for c, _ in run.responses]
    assert set(np.diff(resp[20:])) == {max(lens)} and [r.tag for _, r in run.responses] == list(range(40))
    # every decision is the bus value of its conversion's first readout cycle
    first_ro = [c for c, st in run.timeline if st.firsts >> 4 & 1]
    assert [r.bits for _, r in run.responses] == [c & 7 for c in first_ro]


def test_golden_readout_stretches_under_backpressure():
    lens = (1, 1, 1, 1, 1, 1)
    run = sense_amp_run([1, 2], bank=1, lengths=lens, cycles=30, ready_gen=iter([False] * 12 + [True] * 30),
                        sa_fn=lambda c: 1)
    phases = [st.phase for _, st in run.timeline]
    # the second conversion waits in readout (cycles 11, 12) until the first response is taken in
    # cycle 12, and captures in that same cycle (the register frees on that edge)
    assert phases.count(READOUT) > 2 and phases[12] == READOUT
    assert [c for c, _ in run.responses] == [12, 13]


def test_golden_zero_length_acts_as_one_and_bad_lengths_rejected():
    m = SenseAmpSequencerModel(1, (1, 1, 1, 1, 1, 1))
    m.tick(cfg_we=1, cfg_addr=0, cfg_data=0)
    m.tick(req_valid=1)
    assert m.phase == PRECHARGE
    m.tick()
    assert m.phase != PRECHARGE
    with pytest.raises(ConfigError, match=r"sense_amp_sequencer\.lengths\.sense"):
        SenseAmpSequencer(1, lengths=(1, 1, 1, 0, 1, 1))
    with pytest.raises(ConfigError, match=r"bnn\.bank"):
        SenseAmpSequencer(65)
    with pytest.raises(ConfigError, match=r"bnn\.reset"):
        BnnHwParams(reset=256)


# --- Amaranth simulator ---------------------------------------------------------------------------
def _amaranth_run(cfg):
    from tb.envs.sense_amp_sequencer_tb import golden_run

    tags, lengths, writes, sa, run = golden_run(cfg)
    dut = SenseAmpSequencer(cfg["bank"], tag_width=cfg["tag_width"], lengths=lengths)
    src = SimSource(dut.req, tags, valid_gen=random_gen(cfg["seed"], cfg["p_valid"], 1))
    snk = SimSink(dut.resp, ready_gen=random_gen(cfg["seed"], cfg["p_ready"], 2),
                  convert=lambda d: SaResponse(**d))
    timeline = []

    def hook(ctx, c):
        w = writes.get(c)
        ctx.set(dut.cfg.we, int(w is not None))
        ctx.set(dut.cfg.addr, w[0] if w else 0)
        ctx.set(dut.cfg.data, w[1] if w else 0)
        ctx.set(dut.sa_out, sa[c])
        timeline.append((c, SeqState(ctx.get(dut.phase), tuple(ctx.get(getattr(dut, s)) for s in STROBES),
                                     ctx.get(dut.req.ready), ctx.get(dut.resp.valid), ctx.get(dut.stages),
                                     ctx.get(dut.firsts))))

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], hooks=[hook], until=lambda c: c >= cfg["cycles"])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return run, timeline, [(t.cycle, t.value) for t in src.sent], snk.received


@pytest.mark.parametrize("bank, tag_width", [(1, 1), (3, 4), (8, 5)])
def test_amaranth_sim_timeline(bank, tag_width, seed):
    from tb.envs.sense_amp_sequencer_tb import check

    cfg = {"seed": seed + bank, "bank": bank, "tag_width": tag_width, "requests": 40, "cycles": 900,
           "p_valid": 0.6, "p_ready": 0.5}
    run, timeline, accepted, responses = _amaranth_run(cfg)
    assert len(run.responses) >= 20
    check("sense_amp_sequencer", cfg["seed"], run, timeline, accepted, responses)


def test_scoreboard_names_cycle_of_mutated_timeline(seed):
    cfg = {"seed": seed, "bank": 2, "tag_width": 2, "requests": 10, "cycles": 300, "p_valid": 0.7,
           "p_ready": 0.5}
    run, timeline, _, _ = _amaranth_run(cfg)
    j = next(i for i, (_, st) in enumerate(run.timeline) if st.phase == RESET)
    c, st = run.timeline[j]
    bad = list(run.timeline)
    bad[j] = (c, SeqState(st.phase, st.strobes[:-1] + (0,), st.req_ready, st.resp_valid, st.stages, st.firsts))
    with pytest.raises(ScoreboardMismatch, match=f"cycle {c}") as e:
        Scoreboard("sense_amp_sequencer.timeline", seed=seed).check(bad, timeline)
    assert e.value.cycle == c


# --- cocotb + Verilator ---------------------------------------------------------------------------
@pytest.mark.cocotb
def test_cocotb_sense_amp_sequencer(seed):
    from tb.kit.runner import run_cocotb

    cfg = {"seed": seed, "bank": 4, "tag_width": 5, "requests": 400, "cycles": 9000,
           "p_valid": 0.7, "p_ready": 0.6}
    dut = SenseAmpSequencer(cfg["bank"], tag_width=cfg["tag_width"])
    res = run_cocotb(dut, toplevel="sense_amp_sequencer", test_module="tb.envs.sense_amp_sequencer_tb",
                     config=cfg)
    m = json.loads((res.results_xml.parent / "metrics_sense_amp_sequencer.json").read_text())
    print(f"sense_amp_sequencer: {m['conversions']} conversions, {m['cycles']} cycles compared cycle by "
          f"cycle ({m['compared']} transactions), build {res.build_seconds:.1f} s, "
          f"run {res.run_seconds:.1f} s, "
          f"{m['cycles'] / m['sim_seconds']:.0f} cycles/s")
    assert m["conversions"] >= 200


@pytest.mark.parametrize("bank, tag_width", [(1, 1), (64, 16)])
def test_verilog_lint_clean(bank, tag_width, tmp_path):
    from tb.kit.lint import lint
    from tb.kit.runner import to_verilog

    path = tmp_path / "sense_amp_sequencer.v"
    path.write_text(to_verilog(SenseAmpSequencer(bank, tag_width=tag_width), "sense_amp_sequencer"))
    assert lint(path, wall=False) == [] and lint(path, wall=True) == []


def test_registry_and_from_params():
    from golden.spec.params import AccelParams
    from hw.registry import blocks

    assert blocks()["sense_amp_sequencer"] == SenseAmpSequencer.from_params
    hw = BnnHwParams(neurons=20, bank=3, precharge=5, reset=9)
    d = SenseAmpSequencer.from_params(hw)
    d._MustUse__silence = True
    assert (d.bank, d.lengths, d.tag_width) == (3, hw.phase_lengths, hw.bank_width)
    d = SenseAmpSequencer.from_params(AccelParams())
    d._MustUse__silence = True
    assert d.lengths == BnnHwParams().phase_lengths
