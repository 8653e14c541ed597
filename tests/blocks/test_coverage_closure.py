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
