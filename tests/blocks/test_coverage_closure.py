"""Directed and biased runs that close functional-coverage holes the randomized tests leave open.

They run under ``make coverage`` only (``RERAM_COVERAGE_DIR`` set): each hole they close is a bin of
docs/coverage.md, and the behaviour they exercise is compared with golden like every other run.
"""
from __future__ import annotations

import json
import os

import pytest

from golden.spec.interfaces import ErrorCode
from tb.kit.runner import ENV_COVERAGE

pytestmark = [pytest.mark.cocotb,
              pytest.mark.skipif(not os.environ.get(ENV_COVERAGE),
                                 reason=f"coverage closure: runs under `make coverage` ({ENV_COVERAGE} set)")]


@pytest.mark.parametrize("code", [e.name for e in ErrorCode if e != ErrorCode.NONE])
def test_pulse_scheduler_every_error_code(code, seed, tmp_path):
    """The error flag is sticky (the first code since reset): one short run per code, the rejected
    request or read first, no other bad input; the run checks the code against golden."""
    from tb.kit.runner import run_cocotb
    from tb.tops.programming_path import SchedulerWithAddressing
    from tests.blocks.test_pulse_scheduler import CONFIGS

    params = CONFIGS["n1-tiny-verify"]
    stats = tmp_path / "stats.json"
    run_cocotb(SchedulerWithAddressing(params), toplevel="pulse_scheduler_top",
               test_module="tb.envs.pulse_scheduler_tb", testcase="random_traffic", build_args=("--assert",),
               config={"params": params.to_dict(), "seed": seed, "requests": 40, "reads": 10, "p_bad": 0.0,
                       "first_error": code, "stats_path": str(stats), "coverage_label": "n1-tiny-verify"})
    assert json.loads(stats.read_text())["requests"] == 41 - code.startswith("READ")


@pytest.mark.parametrize("name", ["n1-tiny-verify", "n2-diff-2t2r", "n3-32x32-verify", "n4-diff-large-2t2r",
                                  "n8-wide-timing"])
def test_pulse_scheduler_read_bursts(name, seed, tmp_path):
    """More host reads than program requests: reads follow reads once the requests run out (the
    round-robin arbiter otherwise alternates)."""
    from tb.kit.runner import run_cocotb
    from tb.tops.programming_path import SchedulerWithAddressing
    from tests.blocks.test_pulse_scheduler import CONFIGS

    params = CONFIGS[name]
    run_cocotb(SchedulerWithAddressing(params), toplevel="pulse_scheduler_top",
               test_module="tb.envs.pulse_scheduler_tb", testcase="random_traffic", build_args=("--assert",),
               config={"params": params.to_dict(), "seed": seed, "requests": 60, "reads": 200, "p_bad": 0.2,
                       "p_rvalid": 0.9, "stats_path": str(tmp_path / "stats.json"), "coverage_label": name})


@pytest.mark.parametrize("valid, ready", [(1.0, ["burst", 0.5]), (["burst", 0.6], 1.0),
                                          (["pattern", [1, 0, 0, 1, 1] + [0] * 17],
                                           ["pattern", [0, 1, 1, 0, 0, 0, 1] + [0] * 17])],
                         ids=["always-burst", "burst-always", "pattern"])
def test_xnor_popcount_handshake_classes(valid, ready, seed):
    """The handshake generator classes the randomized runs (Bernoulli on both sides) do not use."""
    from hw.xnor_popcount import XnorPopcount
    from tb.kit.runner import run_cocotb

    cfg = {"width": 3, "mode": "tree", "stage_levels": 1, "tag_width": 0, "seed": seed, "vectors": 1000,
           "p_valid": valid, "p_ready": ready, "coverage_label": "3-tree-k1"}
    run_cocotb(XnorPopcount(3, stage_levels=1, mode="tree", tag_width=0), toplevel="xnor_popcount",
               test_module="tb.envs.xnor_popcount_tb", config=cfg)


# UpdateUnit: the holes of the randomized runs, each closed by one phase list (a run from reset)
UPDATE_UNIT_CLOSURE = {
    # 1x1 array: every request hits synapse (0, 0); the input pattern leaves 17 idle cycles after
    # each accept, so every dW class (neg_lt_eps = -1, -2 included) repeats after a gap >= 16
    "1x1-narrow": [{"kind": "random", "n": 150, "valid": ["pattern", [1] + [0] * 17], "ready": 1.0}],
    # count_width 8, eps 7: both ends of every pulse-count bin (1..4, the middle ranges, 254, 255) in
    # both signs, from chi = 0 after reset; then o's ready in a pattern with 2- and 3-cycle gaps
    "5x3-eps7-cw8": [{"kind": "directed", "name": "pulse_counts"},
                     {"kind": "random", "n": 300, "valid": 1.0, "ready": ["pattern", [1, 0, 0, 1, 0, 0, 0]]}],
}


@pytest.mark.parametrize("name", UPDATE_UNIT_CLOSURE)
def test_update_unit_closure(name, seed):
    """Directed pulse counts and patterned handshakes (docs/coverage.md, UpdateUnit), compared with
    golden cycle by cycle like the randomized run of the same configuration."""
    from hw.update_unit import UpdateUnit
    from tb.kit.runner import run_cocotb
    from tests.blocks.test_update_unit import COCOTB_CONFIGS

    p = COCOTB_CONFIGS[name][0]
    run_cocotb(UpdateUnit.from_params(p), toplevel="update_unit", test_module="tb.envs.update_unit_tb",
               config={"params": p.to_dict(), "seed": seed, "phases": UPDATE_UNIT_CLOSURE[name],
                       "coverage_label": name})


# OuterProductEngine: req is ready again 2 cycles after an accepted request only when that request
# was out of range (dropped in the cycle after its accept; an in-range one first forms row * G, then
# runs through the pipeline), so request gaps of 1..3 cycles need requests out of range back to back.
# Out-of-range requests (no frames) with the pattern class (gaps 1, 1, 2, 3 in turn) and the burst
# class on req; burst idle runs are 1..16 cycles long, so only about one accept in 200 follows a run
# of exactly 2 or 3: that phase is long and all out of range.
OUTER_PRODUCT_ENGINE_CLOSURE = [
    {"frames": 0, "requests": 150, "out_of_range": 0.8,
     "req_valid": ["pattern", [1, 0, 1, 0, 0, 1, 0, 0, 0, 1]], "ready": 1.0},
    {"frames": 0, "requests": 600, "out_of_range": 1.0, "req_valid": ["burst", 0.5], "ready": 1.0},
]


def test_outer_product_engine_closure(seed):
    """Short request gaps after out-of-range requests (docs/coverage.md, OuterProductEngine),
    compared with golden cycle by cycle (the 13x10 P = 1 configuration)."""
    from hw.outer_product_engine import OuterProductEngine
    from tb.kit.runner import run_cocotb
    from tests.blocks.test_outer_product_engine import COCOTB_CONFIGS

    name = "13x10-P1-eps100"
    p = COCOTB_CONFIGS[name][0]
    run_cocotb(OuterProductEngine.from_params(p), toplevel="outer_product_engine",
               test_module="tb.envs.outer_product_engine_tb",
               config={"params": p.to_dict(), "seed": seed, "phases": OUTER_PRODUCT_ENGINE_CLOSURE,
                       "coverage_label": name})


# MvmReadEngine: the handshake classes the randomized runs do not use (pattern on i and o, burst on
# two-word frames), output saturation (scaling shift 0: y = saturate(S * mult)), frames with every
# code at 0 or an end of the range (bit planes with no line or every line driven), and phases of two
# frames (a frame after the engine sat idle in LOAD: the first of each phase)
_MVM_PATTERN = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1] + [0] * 17
MVM_CLOSURE = [
    {"random": 40, "edges": 0.3, "i_valid": ["pattern", _MVM_PATTERN], "o_ready": ["pattern", _MVM_PATTERN]},
    {"random": 40, "edges": 0.3, "i_valid": ["burst", 0.5], "o_ready": ["burst", 0.5]},
    *[{"random": 2, "bad": 0.0}] * 6,
]
# (configuration, run-time setting): "saturate" sets the scaling shifts to 0; "reference_max" sets
# g_ref to its largest code with the random scaling kept: with b = 1 and A = 2 a forward S = c0 + c1 -
# 2 * ref is negative only where the reference exceeds both lines' codes, which the random g_ref of
# the coverage seeds (about a third of full scale) made too rare for an unsaturated negative y
MVM_CLOSURE_RUNS = [(n, "saturate") for n in ("7x5-N2-b3-A4-K4", "7x5-N2diff-b3-A6-K1", "7x5-N2diff-b8-A8-K4",
                                               "7x5-N2-b1-A2-K1-o8", "7x5-N2-b8-A3-K4-o32")]
MVM_CLOSURE_RUNS.append(("7x5-N2-b1-A2-K1-o8", "reference_max"))


@pytest.mark.parametrize("name, setting", MVM_CLOSURE_RUNS, ids=[f"{n}-{v}" for n, v in MVM_CLOSURE_RUNS])
def test_mvm_read_engine_closure(name, setting, seed):
    """Patterned and bursty handshakes, edge codes, saturating scaling or the largest reference, frames
    after idle cycles (docs/coverage.md, MvmReadEngine), compared with golden cycle by cycle like the
    randomized run of the configuration."""
    from dataclasses import replace

    from hw.mvm_read_engine import MvmReadEngine
    from tb.kit.runner import run_cocotb
    from tests.blocks.test_mvm_read_engine import SIM_CONFIGS, cocotb_config, make_setup

    p, settle, conv, specs, prog_p = SIM_CONFIGS[name]
    s = make_setup(p, seed, n_frames=0, settle=settle, conv=conv)
    if setting == "saturate":
        s.mv = replace(s.mv, scale_shift=0, t_scale_shift=0)
    else:
        s.g_ref = (1 << s.mv.g_bits) - 1
    run_cocotb(MvmReadEngine(s.p), toplevel="mvm_read_engine", test_module="tb.envs.mvm_read_engine_tb",
               config=cocotb_config(s, seed, specs, prog_p, phases=MVM_CLOSURE, coverage_label=name))


def test_mvm_read_engine_overlap_error(seed):
    """A programming side that ignores rd_req: reads overlap pulses and the sticky overlap_error must
    rise (checked against the reads and pulses the run made). The simulation Verilog stops on the RTL's
    assertion first (tests/blocks/test_mvm_read_engine.py shows it), so this run takes the synth
    flavour, which has no assertions: the hardware's flag (its code coverage is the row
    ``mvm_read_engine_synth``)."""
    from hw import verilog_output
    from hw.mvm_read_engine import MvmReadEngine
    from tb.kit.runner import run_cocotb
    from tests.blocks.test_mvm_read_engine import SIM_CONFIGS, cocotb_config, make_setup

    name = "7x5-N2-b3-A4-K4"
    p, settle, conv, specs, prog_p = SIM_CONFIGS[name]
    s = make_setup(p, seed, n_frames=0, settle=settle, conv=conv)
    dut = MvmReadEngine(s.p)
    run_cocotb(dut, toplevel="mvm_read_engine_synth", test_module="tb.envs.mvm_read_engine_tb",
               verilog_text=verilog_output.convert(dut, "mvm_read_engine_synth", flavour="synth"),
               config=cocotb_config(s, seed, specs, prog_p, phases=[{"random": 30, "prog": 0.3, "obey": False}],
                                    coverage_label=name, expect_overlap=True))
