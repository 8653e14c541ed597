"""Long regressions (``make regress``): every block's randomized cocotb test for at least
``RERAM_REGRESS_CYCLES`` cycles per configuration and seed, compared with golden as in ``make test``.

Knobs (environment): ``RERAM_REGRESS_CYCLES`` (cycles per configuration and seed; unset: these tests
skip, so ``make test`` does not run them) and ``RERAM_REGRESS_SEEDS`` (space- or comma-separated,
default ``1 2 3 4 5``). Each run appends one JSON line (block, configuration, seed, cycles,
seconds) to ``build/regress/runs.jsonl``; pytest's progress shows the runs as they finish.

How each environment reaches the length: the phased ones (UpdateUnit, ArbitrationController,
OuterProductEngine, MvmReadEngine, ArgmaxUnit) repeat their phase list with fresh stimulus streams
until the cycles add up (``min_cycles``); the PulseScheduler and XnorPopcount scale their request /
vector counts from a golden run of the default size; CrossbarAddressing drives one command per cycle
and the SenseAmpSequencer runs a fixed number of cycles, so both take the length directly. The
AXI4-Lite CSR issues batches of random operations (new stimulus streams each) and checks every cycle
as it happens (``tb.envs.axil_csr_tb.CsrChecker``: no trace is kept) until the cycles add up; the
BnnLayerEngine runs phases of random layers (weights, thresholds, inputs, modes), each from a reset,
until they do. The MvmReadEngine's and the ArgmaxUnit's phases draw new random frames / images each
(the MVM array's read-noise sample index counting on).
"""
from __future__ import annotations

import json
import os
import time

import pytest

from tb.kit.runner import ROOT

CYCLES = int(os.environ.get("RERAM_REGRESS_CYCLES", "0") or 0)
SEEDS = [int(s) for s in os.environ.get("RERAM_REGRESS_SEEDS", "1 2 3 4 5").replace(",", " ").split()]
LOG = ROOT / "build" / "regress" / "runs.jsonl"

pytestmark = [pytest.mark.regress, pytest.mark.cocotb,
              pytest.mark.skipif(not CYCLES, reason="long regression: set RERAM_REGRESS_CYCLES (make regress)")]


def _record(block: str, config: str, seed: int, cycles: int, seconds: float, **extra) -> None:
    assert cycles >= CYCLES, f"{block} {config} seed {seed}: {cycles} cycles, fewer than {CYCLES}"
    LOG.parent.mkdir(parents=True, exist_ok=True)
    line = {"block": block, "config": config, "seed": seed, "cycles": cycles, "seconds": round(seconds, 1),
            "mismatches": 0, **extra}
    with open(LOG, "a") as f:
        f.write(json.dumps(line) + "\n")
    print(f"{block} {config} seed {seed}: {cycles} cycles, 0 mismatches, {seconds:.0f} s")


def _phased(block, name, seed, tmp_path, component, toplevel, module, p, phases):
    from tb.kit.runner import run_cocotb

    stats = tmp_path / "stats.json"
    t0 = time.perf_counter()
    run_cocotb(component, toplevel=toplevel, test_module=module,
               config={"params": p.to_dict(), "seed": seed, "phases": phases, "min_cycles": CYCLES,
                       "stats_path": str(stats)})
    s = json.loads(stats.read_text())
    _record(block, name, seed, s["cycles"], time.perf_counter() - t0, phases=s["phases"])


def _ids(names):
    return [(n, s) for n in names for s in SEEDS]


def _update_unit_configs():
    from tests.blocks.test_update_unit import COCOTB_CONFIGS
    return COCOTB_CONFIGS


def _arbitration_configs():
    from tests.blocks.test_arbitration_controller import COCOTB_CONFIGS
    return COCOTB_CONFIGS


def _engine_configs():
    from tests.blocks.test_outer_product_engine import COCOTB_CONFIGS
    return COCOTB_CONFIGS


@pytest.mark.parametrize("name, seed", _ids(["13x10-P1-eps100", "50x30-P8-eps256"]))
def test_outer_product_engine(name, seed, tmp_path):
    from hw.outer_product_engine import OuterProductEngine

    p, phases = _engine_configs()[name]
    _phased("outer_product_engine", name, seed, tmp_path, OuterProductEngine.from_params(p), "outer_product_engine",
            "tb.envs.outer_product_engine_tb", p, phases)


@pytest.mark.parametrize("name, seed", _ids(["4x3-eps100", "256x128-eps256", "1x1-narrow", "5x3-eps7-cw8"]))
def test_update_unit(name, seed, tmp_path):
    from hw.update_unit import UpdateUnit

    p, phases = _update_unit_configs()[name]
    _phased("update_unit", name, seed, tmp_path, UpdateUnit.from_params(p), "update_unit",
            "tb.envs.update_unit_tb", p, phases)


@pytest.mark.parametrize("name, seed", _ids(["n1-4x3", "n2-diff-4x3", "n3-256x128", "n4-diff-256x128",
                                             "n8-diff-32x32"]))
def test_arbitration_controller(name, seed, tmp_path):
    from hw.arbitration_controller import ArbitrationController

    p, phases = _arbitration_configs()[name]
    _phased("arbitration_controller", name, seed, tmp_path, ArbitrationController.from_params(p),
            "arbitration_controller", "tb.envs.arbitration_controller_tb", p, phases)


@pytest.mark.parametrize("name, seed", _ids(["n1-tiny-verify", "n2-diff-2t2r", "n3-32x32-verify",
                                             "n4-diff-large-2t2r", "n8-wide-timing"]))
def test_pulse_scheduler(name, seed, tmp_path):
    from tb.kit.runner import run_cocotb
    from tb.tops.programming_path import SchedulerWithAddressing
    from tests.blocks.test_pulse_scheduler import COCOTB_RUNS, CONFIGS

    params, (n_req, n_reads) = CONFIGS[name], COCOTB_RUNS[name]
    stats = tmp_path / "stats.json"
    t0 = time.perf_counter()
    run_cocotb(SchedulerWithAddressing(params), toplevel="pulse_scheduler_top",
               test_module="tb.envs.pulse_scheduler_tb", testcase="random_traffic", build_args=("--assert",),
               config={"params": params.to_dict(), "seed": seed, "requests": n_req, "reads": n_reads,
                       "min_cycles": CYCLES, "stats_path": str(stats)})
    s = json.loads(stats.read_text())
    _record("pulse_scheduler", name, seed, s["cycles"], time.perf_counter() - t0, requests=s["requests"])


@pytest.mark.parametrize("name, seed", _ids(["n1-1t1r-tiny", "n3-2t2r-odd", "n8-diff-2t2r-large"]))
def test_crossbar_addressing(name, seed, tmp_path):
    from hw.crossbar_addressing import CrossbarAddressing
    from tb.kit.runner import run_cocotb
    from tests.blocks.test_crossbar_addressing import CONFIGS

    p = CONFIGS[name]
    stats = tmp_path / "stats.json"
    t0 = time.perf_counter()
    run_cocotb(CrossbarAddressing(p), toplevel="crossbar_addressing", build_args=("--assert",),
               test_module="tb.envs.crossbar_addressing_tb", testcase="random_commands_every_cycle",
               config={"params": p.to_dict(), "seed": seed, "commands": CYCLES, "stats_path": str(stats)})
    s = json.loads(stats.read_text())
    _record("crossbar_addressing", name, seed, s["cycles"], time.perf_counter() - t0)


@pytest.mark.parametrize("case, seed", _ids(["1025-tree-k2", "1025-lut6-k3", "3-tree-k1"]))
def test_xnor_popcount(case, seed):
    from hw.xnor_popcount import XnorPopcount
    from tb.kit.runner import run_cocotb
    from tests.blocks.test_xnor_popcount import COCOTB_CASES

    width, mode, k, tw, vectors = next(c for c in COCOTB_CASES if f"{c[0]}-{c[1]}-k{c[2]}" == case)
    cfg = {"width": width, "mode": mode, "stage_levels": k, "tag_width": tw, "seed": seed, "vectors": vectors,
           "p_valid": 0.85, "p_ready": 0.75, "min_cycles": CYCLES}
    t0 = time.perf_counter()
    res = run_cocotb(XnorPopcount(width, stage_levels=k, mode=mode, tag_width=tw), toplevel="xnor_popcount",
                     test_module="tb.envs.xnor_popcount_tb", config=cfg)
    m = json.loads((res.results_xml.parent / f"metrics_xnor_popcount_{width}_{mode}.json").read_text())
    assert m["mismatches"] == 0
    _record("xnor_popcount", case, seed, m["cycles"], time.perf_counter() - t0, vectors=m["vectors"])


@pytest.mark.parametrize("seed", SEEDS)
def test_sense_amp_sequencer(seed):
    from hw.sense_amp_sequencer import SenseAmpSequencer
    from tb.kit.runner import run_cocotb

    cfg = {"seed": seed, "bank": 4, "tag_width": 5, "requests": CYCLES * 400 // 9000 + 1, "cycles": CYCLES,
           "p_valid": 0.7, "p_ready": 0.6}
    t0 = time.perf_counter()
    res = run_cocotb(SenseAmpSequencer(cfg["bank"], tag_width=cfg["tag_width"]), toplevel="sense_amp_sequencer",
                     test_module="tb.envs.sense_amp_sequencer_tb", config=cfg)
    m = json.loads((res.results_xml.parent / "metrics_sense_amp_sequencer.json").read_text())
    _record("sense_amp_sequencer", "bank4-tag5", seed, m["cycles"], time.perf_counter() - t0,
            conversions=m["conversions"])



# AXI4-Lite CSR: (push_wait of the register map, pause class of the master's five channels)
AXIL_CSR_CONFIGS = {"default-none": (4096, "none"), "default-random": (4096, "random"),
                    "default-burst": (4096, "burst"), "pw3-random": (3, "random")}


@pytest.mark.parametrize("name, seed", _ids(list(AXIL_CSR_CONFIGS)))
def test_axil_csr(name, seed, tmp_path):
    from golden.spec.params import AccelParams
    from golden.spec.register_map.accelerator_map import accelerator_register_map
    from hw.axil_csr import AxiLiteCsr
    from tb.kit.runner import run_cocotb

    push_wait, backpressure = AXIL_CSR_CONFIGS[name]
    p = AccelParams()
    stats = tmp_path / "stats.json"
    t0 = time.perf_counter()
    run_cocotb(AxiLiteCsr(accelerator_register_map(p, push_wait=push_wait)), toplevel="axil_csr",
               test_module="tb.envs.axil_csr_tb", testcase=f"test_random_access/backpressure={backpressure}",
               config={"params": p.to_dict(), "map": {"push_wait": push_wait}, "seed": seed, "ops": 1500,
                       "min_cycles": CYCLES, "stats_path": str(stats)})
    s = json.loads(stats.read_text())
    _record("axil_csr", name, seed, s["cycles"], time.perf_counter() - t0, reads=s["reads"], writes=s["writes"],
            pushes=s["pushes"], refused=s["refused"], batches=s["batches"], max_rss_kb=s["max_rss_kb"])


# BnnLayerEngine: hardware parameters and random input vectors per phase (a random layer each)
def _bnn_configs():
    from golden.spec.bnn_datapath_params import BnnHwParams

    return {  # the trained digits layer's shape (as in make test), 8-neuron banks with 5-bridge reads,
              # bit-serial reads with one-neuron banks and LUT6 popcounts, the smallest engine
        "digits-b4": (BnnHwParams(), 16),
        "k8-w5": (BnnHwParams(inputs=20, bias_cells=3, neurons=64, bank=8, out_fifo=8, read_width=5), 8),
        "k1-lut6-serial": (BnnHwParams(bank=1, popcount_mode="lut6", read_width=1), 4),
        "tiny": (BnnHwParams(inputs=3, bias_cells=0, neurons=1, bank=1, out_fifo=2), 200),
    }


@pytest.mark.parametrize("name, seed", _ids(["digits-b4", "k8-w5", "k1-lut6-serial", "tiny"]))
def test_bnn_layer_engine(name, seed, tmp_path):
    from dataclasses import asdict

    from hw.bnn_layer_engine import BnnLayerEngine
    from tb.kit.runner import run_cocotb

    hw, images = _bnn_configs()[name]
    stats = tmp_path / "stats.json"
    t0 = time.perf_counter()
    run_cocotb(BnnLayerEngine(hw), toplevel="bnn_layer_engine", test_module="tb.envs.bnn_layer_engine_tb",
               testcase="bnn_layer_engine_random",
               config={"hw": asdict(hw), "seed": seed, "images": images, "p_valid": 0.8, "p_ready": 0.7,
                       "min_cycles": CYCLES, "stats_path": str(stats)})
    s = json.loads(stats.read_text())
    _record("bnn_layer_engine", name, seed, s["cycles"], time.perf_counter() - t0, phases=s["phases"],
            images=s["images"], y_words=s["y_words"], output_bits=s["output_bits"])


# MvmReadEngine: every configuration of the block test (differential or not, forward and transposed
# frames mixed, input / ADC / output widths, settle and conversion timing, handshake classes,
# programming pulses), phases of 200 random frames (a fifth of the wrong length) until the cycles add up
MVM_PHASE_FRAMES = 200


def _mvm_configs():
    from tests.blocks.test_mvm_read_engine import SIM_CONFIGS
    return SIM_CONFIGS


@pytest.mark.parametrize("name, seed", _ids(["7x5-N2-b3-A4-K4", "7x5-N2diff-b3-A6-K1", "7x5-N2diff-b8-A8-K4",
                                             "7x5-N2-b1-A2-K1-o8", "7x5-N2-b8-A3-K4-o32"]))
def test_mvm_read_engine(name, seed, tmp_path):
    from hw.mvm_read_engine import MvmReadEngine
    from tb.kit.runner import run_cocotb
    from tests.blocks.test_mvm_read_engine import cocotb_config, make_setup

    p, settle, conv, specs, prog_p = _mvm_configs()[name]
    s = make_setup(p, seed, n_frames=0, settle=settle, conv=conv)
    stats = tmp_path / "stats.json"
    t0 = time.perf_counter()
    run_cocotb(MvmReadEngine(s.p), toplevel="mvm_read_engine", test_module="tb.envs.mvm_read_engine_tb",
               config=cocotb_config(s, seed, specs, prog_p, phases=[{"random": MVM_PHASE_FRAMES}],
                                    min_cycles=CYCLES, stats_path=str(stats)))
    st = json.loads(stats.read_text())
    _record("mvm_read_engine", name, seed, st["cycles"], time.perf_counter() - t0, phases=st["phases"],
            frames=st["frames"], committed=st["committed"], outputs=st["outputs"], reads=st["reads"])


@pytest.mark.parametrize("name, seed", _ids(["c10-w11", "c2-w1", "c7-w5"]))
def test_argmax_unit(name, seed, tmp_path):
    from hw.argmax_unit import ArgmaxUnit
    from tb.kit.runner import run_cocotb
    from tests.blocks.test_argmax_unit import COCOTB_CONFIGS

    classes, cw, phases = COCOTB_CONFIGS[name]
    stats = tmp_path / "stats.json"
    t0 = time.perf_counter()
    run_cocotb(ArgmaxUnit(classes, cw), toplevel="argmax_unit", test_module="tb.envs.argmax_unit_tb",
               config={"classes": classes, "count_width": cw, "seed": seed, "phases": phases, "min_cycles": CYCLES,
                       "stats_path": str(stats)})
    st = json.loads(stats.read_text())
    _record("argmax_unit", name, seed, st["cycles"], time.perf_counter() - t0, phases=st["phases"],
            images=st["images"])
