"""Frame co-simulation (issue 11): in-situ training through the update engine's frame input, its host
side checked in isolation, its plumbing through FrameTally stand-ins, and (once the accelerator has
its ``s_axis`` engine input) digits and a 200-sample MNIST slice bit-true with the raw-Verilator replay."""
from __future__ import annotations

import os

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from golden.spec.params import ConfigError
from golden.spec.transactions import ProgramRequest, UpdateRequest
from golden.twins.outer_product_engine import (
    frame_length,
    frame_words,
    parse_frame,
    quantize_delta,
    quantize_x,
)
from golden.twins.pulse_scheduler import pulses_for
from hw.accelerator import Accelerator
from tb.cosim.frame_host import (
    FrameCosimConfig,
    FrameNetworks,
    FrameStimulus,
    ProgramTrace,
    frame_array,
    frame_int,
    layer_codes,
    layer_params,
    read_stimulus,
)
from tb.cosim.frame_run import compare_raw, run_frame_cosim, summary
from tb.tops.frame_cosim_top import FrameCosimTop
from tb.tops.frame_tally import tally_checksum
from tb.tops.pulse_logger import PulseLogger

HAS_ENGINE = "s_axis" in Accelerator(layer_params(FrameCosimConfig(dataset="digits"), 64)[0]).signature.members
needs_engine = pytest.mark.skipif(not HAS_ENGINE, reason="the accelerator has no s_axis frame input yet "
                                                         "(update engine not merged)")


# --- configuration ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, name", [
    ({"samples": 0}, "cosim.samples"), ({"samples": 60001}, "cosim.samples"),
    ({"dataset": "digits", "samples": 1438}, "cosim.samples"), ({"dataset": "cifar"}, "cosim.dataset"),
    ({"lanes": 3}, "cosim.lanes"), ({"hidden": 0}, "cosim.hidden"), ({"devices": 17}, "cosim.devices"),
])
def test_config_rejects_bad_values(kw, name):
    with pytest.raises(ConfigError, match=name):
        FrameCosimConfig(**kw)


def test_mnist_layers_and_lanes():
    p1, p2 = layer_params(FrameCosimConfig(), 784)
    assert (p1.array.rows, p1.array.cols, p2.array.rows, p2.array.cols) == (785, 250, 251, 10)
    assert p1.synapse.devices == 4 and not p1.synapse.differential
    q1, q2 = layer_params(FrameCosimConfig(lanes=64), 784)
    assert (q1.engine.lanes, q2.engine.lanes) == (64, 8)          # at most the columns, a power of two
    assert frame_length(q1) == frame_length(p1)                    # the frame does not depend on P
    assert (p1.engine.lanes, p2.engine.lanes) == (128, 8)          # the MNIST accelerator's default P
    d1, _ = layer_params(FrameCosimConfig(dataset="digits", samples=4), 64)
    assert d1.engine.lanes == 1                                    # digits: the parameter tree's default


# --- frames ----------------------------------------------------------------------------------------
def test_frame_array_equals_frame_words(seed):
    rng = np.random.default_rng(seed)
    for p in layer_params(FrameCosimConfig(), 784) + layer_params(FrameCosimConfig(dataset="digits"), 64):
        e, a = p.engine, p.array
        for _ in range(5):
            nx, nd = rng.integers(0, a.rows + 1), rng.integers(0, a.cols + 1)
            x = rng.integers(0, 1 << e.x_width, nx) * (rng.random(nx) < 0.3)
            d = rng.integers(-(1 << (e.delta_width - 1)), 1 << (e.delta_width - 1), nd)
            fa = frame_array(x, d, p)
            assert fa.dtype == np.uint32 and [int(w) for w in fa] == frame_words(x, d, p), f"seed {seed}"
            assert frame_int(fa) == sum(int(w) << (32 * k) for k, w in enumerate(fa))
            px, pd = parse_frame([int(w) for w in fa], p)
            assert (px[:nx] == x).all() and (pd[:nd] == d).all()


def test_layer_codes_are_the_engine_quantisation(seed):
    nets = FrameNetworks(FrameCosimConfig(dataset="digits", samples=4))
    rng = np.random.default_rng(seed)
    arr = nets.golden.layers[0]
    rows = np.array([3, 7, 64])
    a = rng.random(3).astype(np.float32)
    delta = rng.normal(size=arr.cols).astype(np.float32)
    x_q, d_q = layer_codes(arr, rows, a, delta, 0.01)
    full = np.zeros(arr.rows, np.float32)
    full[rows] = a
    assert (x_q == quantize_x(full, arr.params)).all()
    assert (d_q == quantize_delta(delta * np.float32(-0.01 / arr.lsb), arr.params)).all()
    assert x_q[rows].all() and np.count_nonzero(x_q) == 3 and np.abs(d_q).max() > 0


def test_program_trace_never_builds_update_requests():
    built = []

    def requests():
        for i in range(1000):
            built.append(i)
            yield UpdateRequest(0, i % 7, 1)
    tr = ProgramTrace()
    tr.extend(requests())
    tr.extend(iter(()))
    tr.extend([ProgramRequest(1, 2, 0, 1, 3), ProgramRequest(4, 5, 1, 0, 1)])
    assert len(built) == 1 and tr == [ProgramRequest(1, 2, 0, 1, 3), ProgramRequest(4, 5, 1, 0, 1)]


# --- the host loop against a perfect chip ------------------------------------------------------------
def test_closed_loop_with_golden_pulses_keeps_host_equal_to_golden():
    """The host loop of the co-simulation with the RTL replaced by the golden's own pulses: every
    frame equals the golden's and the behavioural arrays end equal to the golden chip (so a
    mismatch in a real run is the RTL's, not the testbench's)."""
    cfg = FrameCosimConfig(dataset="digits", samples=40)
    nets = FrameNetworks(cfg)
    xas = nets.arrays()
    frames_sent = 0
    for n in range(cfg.samples):
        step = nets.step(n)
        assert step.frames_equal() == [True, True], f"sample {n}"
        pulsed = []
        for p, xa, prog in zip(nets.params, xas, step.golden_program):
            idx = []
            for pr in prog:
                for q in pulses_for(p, pr):
                    xa.pulse(q.row, q.phys_col, q.polarity)
                    idx.append(q.row * p.phys_cols + q.phys_col)
            pulsed.append(np.array(idx, dtype=np.int64))
        nets.sync_host(xas, pulsed)
        frames_sent += sum(1 for x, _ in step.host_codes if x.any())
    assert frames_sent == 2 * cfg.samples
    for arr, xa in zip(nets.golden.layers, xas):
        sl = slice(arr.id_base, arr.id_base + arr.n_devices)
        assert (xa.g_flat == nets.golden.store.g[sl]).all() and (xa.k == nets.golden.store.k[sl]).all()
    assert nets.accuracy(nets.host) == nets.accuracy(nets.golden)
    assert sum(a.pulse_total for a in nets.golden.layers) > nets.program_pulses      # pulses happened


def test_incremental_host_sync_equals_full_sync(seed):
    nets = FrameNetworks(FrameCosimConfig(dataset="digits", samples=2))
    xas = nets.arrays()
    rng = np.random.default_rng(seed)
    pulsed = []
    for xa in xas:
        idx = rng.choice(xa.rows * xa.phys_cols, 25, replace=False)
        for i in idx:
            xa.pulse(int(i) // xa.phys_cols, int(i) % xa.phys_cols, int(rng.integers(0, 2)))
        pulsed.append(idx)
    nets.sync_host(xas, pulsed)
    inc = [(a.WQ.copy(), a.g.copy()) for a in nets.host.layers]
    nets.sync_host(xas)
    for (wq, g), a in zip(inc, nets.host.layers):
        assert (wq == a.WQ).all() and (g == a.g).all(), f"seed {seed}"


def test_stimulus_file_round_trip(tmp_path, seed):
    rng = np.random.default_rng(seed)
    samples = [[rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32) for n in (30, 11)]
               for _ in range(4)]
    st = FrameStimulus(tmp_path / "s.bin", status_addr=68, busy_bit=0, stand_in=True)
    for s in samples:
        st.add(s)
    st.close()
    head, back = read_stimulus(tmp_path / "s.bin")
    assert head == {"status_addr": 68, "busy_bit": 0, "stand_in": True, "layers": 2}
    assert len(back) == 4 and all((a == b).all() for s, t in zip(samples, back) for a, b in zip(s, t))


def test_tally_checksum_depends_on_order():
    assert tally_checksum([1, 2]) != tally_checksum([2, 1])
    assert tally_checksum([5], tally_checksum([1, 2])) == tally_checksum([1, 2, 5])


def test_pulse_logger_index_encoder_is_the_or_of_positions():
    """The one-hot encoder of the pulse logger (masked reductions, any width): the OR of the set
    bits' positions, and the not-exactly-one-hot flag."""
    width = 11
    m = Module()
    v = Signal(width)
    idx, bad = PulseLogger._index(m, v, width)

    async def bench(ctx):
        for x in range(1 << width):
            ctx.set(v, x)
            want = 0
            for i in range(width):
                if (x >> i) & 1:
                    want |= i
            assert ctx.get(idx) == want and ctx.get(bad) == int(x == 0 or bool(x & (x - 1))), x

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_frame_top_members():
    params = layer_params(FrameCosimConfig(dataset="digits"), 64)
    top = FrameCosimTop(params, stand_in=True)
    assert top.stand_in and top.depths == [frame_length(p) for p in params]
    mem = top.signature.members["l1"].signature.members
    assert {"frame", "seq", "seq_en", "plog", "tally", "s_axil", "wl", "write"} <= set(mem)
    assert "s_axis" not in mem
    with pytest.raises(ConfigError, match="plog_depth"):
        FrameCosimTop(params, plog_depth=100)
    if not HAS_ENGINE:
        with pytest.raises(ConfigError, match="s_axis"):
            FrameCosimTop(params, stand_in=False)


# --- simulations ---------------------------------------------------------------------------------------
@pytest.mark.skipif(HAS_ENGINE and not os.environ.get("RERAM_FRAME_STAND_IN"), reason="the engine runs below cover the loaders and the C++ replay "
                                        "(spares two builds in make test)")
@pytest.mark.cocotb
def test_frame_plumbing_through_stand_ins(tmp_path):
    """Frames of 12 digits samples through both loaders into FrameTally stand-ins (backpressure 1 in
    4 cycles), STATUS polled after each: every word arrives in order, and the raw C++ replay of the
    recorded frames gives the same cycle count and tallies. (``RERAM_FRAME_STAND_IN=1`` runs it
    with the engine present too.)"""
    cfg = FrameCosimConfig(dataset="digits", samples=12, read_cells=0)
    res = compare_raw(run_frame_cosim(cfg, out_dir=tmp_path, stand_in=True), cfg)
    print(summary(res))
    assert res["stand_in"] and res["mismatches"] == 0, res["first_mismatches"]
    assert res["frames"] == 12 and res["tally"][0][:2] == [12 * 30, 12] and res["tally"][1][:2] == [12 * 11, 12]
    assert res["raw_cycles_equal"] and res["raw_tally"] == res["tally"]


@needs_engine
@pytest.mark.cocotb
@pytest.mark.extended
def test_frame_cosim_digits_and_raw_replay(tmp_path):
    """40 digits samples through the engine bit-true (pulses, frames, conductances, counters, reads,
    accuracy); the raw C++ replay gives the same cycles and pulse log."""
    cfg = FrameCosimConfig(dataset="digits", samples=40, read_cells=8)
    res = compare_raw(run_frame_cosim(cfg, out_dir=tmp_path), cfg)
    print(summary(res))
    assert res["mismatches"] == 0, res["first_mismatches"]
    assert res["pulses"] == res["golden_pulses"] > 0 and res["accuracy"] == res["golden_accuracy"]
    assert res["raw_cycles_equal"] and res["raw_pulse_log_equal"] and res["reads"] == 16


@needs_engine
@pytest.mark.cocotb
def test_frame_cosim_detects_a_lost_frame(tmp_path):
    """Fault injection: layer 2's frame of the first sample (from 2 on) in which golden pulses layer 2
    carries zero deltas -> pulse and conductance mismatches are reported from that sample on (the
    comparison is not vacuous)."""
    cfg = FrameCosimConfig(dataset="digits", samples=12, read_cells=0)
    nets = FrameNetworks(cfg)
    n = next(n for n in range(cfg.samples) if nets.step(n).golden_program[1] and n >= 2)
    res = run_frame_cosim(cfg, out_dir=tmp_path, zero_delta=(n, 1))
    assert res["mismatches"] > 0 and res["pulse_mismatches"] + res["conductance_mismatches"] > 0, res
    assert res["first_mismatches"][0].startswith(f"sample {n} l2"), res["first_mismatches"]


@needs_engine
@pytest.mark.cocotb
def test_frame_cosim_mnist_slice(tmp_path):
    """A slice of the MNIST epoch (200 samples; RERAM_COSIM_MNIST_SAMPLES to change) through the
    784-250-10 accelerators bit-true: every pulse, every frame, every device at the end, the accuracy.
    (The raw C++ replay, a second build of this top, is left to ``make cosim-mnist``; the digits run
    above checks it on the same path.)"""
    n = int(os.environ.get("RERAM_COSIM_MNIST_SAMPLES", "200"))
    # P = 64 (8 in layer 2): ~1.2k cycles per sample, against ~41k with one lane
    cfg = FrameCosimConfig(dataset="mnist", samples=n, read_cells=16, lanes=64)
    res = run_frame_cosim(cfg, out_dir=tmp_path)
    print(summary(res))
    assert res["mismatches"] == 0, res["first_mismatches"]
    assert res["samples"] == n and res["pulses"] == res["golden_pulses"] > 0
    assert res["accuracy"] == res["golden_accuracy"] and res["reads"] == 32


def test_short_slices_build_at_o1_and_long_runs_at_o2():
    """An epoch's run dominates its compile (-O2); a slice's run and compile weigh alike (-O1)."""
    from tb.cosim.frame_run import OPTIMISED_BUILD_SAMPLES, cxx_flags

    assert cxx_flags(FrameCosimConfig(dataset="mnist", samples=200)) == ("-O1",)
    assert cxx_flags(FrameCosimConfig(dataset="mnist", samples=60000)) == ("-O2",)
    assert cxx_flags(FrameCosimConfig(dataset="mnist", samples=OPTIMISED_BUILD_SAMPLES)) == ("-O2",)
