"""cocotb: in-situ training through the update engine with the RTL in the loop (see :mod:`tb.cosim.frame_run`).

Per sample and layer Python wakes four times: the frame is written into the
:class:`~tb.tops.frame_loader.FrameLoader` (one write of its wide input and a new tag), the loader's
``done`` falls and rises (the frame was streamed into ``s_axis``), then, in the same time step, a
poll-only batch starts on the :class:`~tb.tops.axil_sequencer.AxilSequencer` (STATUS.BUSY until 0),
whose ``done`` falls and rises. The two layers run in parallel; the next sample's frames go out in
the time step in which the slower layer finished. Pulses come from each layer's
:class:`~tb.tops.pulse_logger.PulseLogger`: drained at the end of every sample and on every edge of
``plog.half`` (every ``depth / 2`` pulses), so the ring never overflows and nothing wakes per pulse.
The C++ harness (``tb/cosim/harness/frame_harness.cpp``) replays the same frames with the same
reactions, cycle for cycle.

Stand-in mode (the top built around an accelerator without ``s_axis``): the frames go to a
:class:`~tb.tops.frame_tally.FrameTally`; only their delivery is checked (words, frames, checksum).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, ReadWrite, RisingEdge, ValueChange

from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.twins.crossbar_addressing import LATENCY
from tb.cosim.frame_host import FrameCosimConfig, FrameNetworks, FrameStimulus, frame_array, frame_int
from tb.cosim.training_host import expected_pulses
from tb.cosim.training_tb import (
    HostClock,
    Tally,
    check_reads,
    check_state,
    compare_pulses,
    drain_plog,
    save_pulse_log,
    timed_training,
)
from tb.kit.axil_host import FastAxil
from tb.kit.prefixed import Prefixed
from tb.kit.runner import test_config
from tb.kit.stream import CycleCounter
from tb.models.reram_array import ArrayModel
from tb.tops.cosim_top import ADC_WIDTH, LAYERS
from tb.tops.frame_tally import tally_checksum

PERIOD_NS = 10


async def _settled(sig, edge, value: int) -> None:
    """Wait for ``edge`` of ``sig`` that leaves it at ``value`` once the time step has settled (an
    event-driven simulator may glitch a combinational ``done``; see training_tb.Sequencer)."""
    while True:
        await edge
        await ReadWrite()
        if int(sig.value) == value:
            return


class FrameChip:
    """The frame co-simulation top with its loaders, poll sequencers, pulse logs and array models."""

    def __init__(self, dut, nets: FrameNetworks, plog_depth: int, stand_in: bool):
        self.dut, self.nets, self.stand_in = dut, nets, stand_in
        self.params = nets.params
        self.plog_depth = plog_depth
        self.maps = [accelerator_register_map(p, fifo_depth=16, adc_width=ADC_WIDTH) for p in self.params]
        self.st_addr = [m["status"].addr for m in self.maps]
        self.busy_bit = self.maps[0]["status"].field("busy").offset
        self.ports = [Prefixed(dut, f"{name}__") for name in LAYERS]
        self.rp = [0] * len(LAYERS)           # pulse-log read pointers
        self.tags = [0] * len(LAYERS)
        self.polls = [0] * len(LAYERS)
        self.frames = 0
        self.tallies: list[list[int]] = []   # stand-in mode: (words, frames, checksum) per layer at the end

    async def start(self) -> None:
        """Clock, reset, the sequencers on the bus, the array models on the golden chip's programmed
        state, the pulse-log drainers. Ends right after the first edge with reset released (cycle 0)."""
        dut = self.dut
        cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
        dut.rst.value = 1
        for p, a in zip(self.ports, self.st_addr):
            p.adc.value = 0
            p.seq_en.value = 1
            p.seq__addr.value = 0
            p.seq__poll_addr.value = a
            p.seq__n.value = 0
            p.seq__poll.value = 1
            p.seq__batch.value = 0
            p.seq__words.value = 0
            p.frame__frame.value = 0
            p.frame__n.value = 0
        self.bus = [FastAxil(dut, f"{name}__", dut.clk) for name in LAYERS]
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        self.counter = CycleCounter(dut.clk, period=PERIOD_NS).start()
        self.xas = self.nets.arrays()
        self.models = [ArrayModel(p, xa, counter=self.counter, latency=LATENCY) for p, xa in zip(self.ports, self.xas)]
        for k in range(len(LAYERS)):
            cocotb.start_soon(self._drain_on_half(k))

    def drain(self, k: int) -> None:
        self.rp[k] = drain_plog(self.ports[k], self.models[k], self.rp[k], self.params[k].timing.width,
                                depth=self.plog_depth)

    async def _drain_on_half(self, k: int) -> None:
        half = self.ports[k].plog__half
        while True:
            await ValueChange(half)
            await ReadOnly()
            self.drain(k)

    async def _layer(self, k: int, words: int, n: int) -> None:
        """One frame into layer ``k``, then STATUS.BUSY polled until 0."""
        p = self.ports[k]
        p.frame__words.value = words
        p.frame__n.value = n
        self.tags[k] = (self.tags[k] + 1) & 0xFF
        p.frame__frame.value = self.tags[k]
        await _settled(p.frame__done, FallingEdge(p.frame__done), 0)
        await _settled(p.frame__done, RisingEdge(p.frame__done), 1)
        self.polls[k] = (self.polls[k] + 1) & 0xFF
        p.seq__batch.value = self.polls[k]
        await _settled(p.seq__done, FallingEdge(p.seq__done), 0)
        await _settled(p.seq__done, RisingEdge(p.seq__done), 1)

    async def send(self, frames: list[np.ndarray]) -> None:
        """One sample's frames to both layers in parallel, until both are idle again."""
        tasks = [cocotb.start_soon(self._layer(k, frame_int(f), len(f))) for k, f in enumerate(frames)]
        for t in tasks:
            await t
        self.frames += 1

    def to_bus_port(self) -> None:
        """Hand the buses to ``s_axil`` and the lines to the array models (for the read-back)."""
        for p in self.ports:
            p.seq_en.value = 0
        for mdl in self.models:
            mdl.start()


class FrameTraining:
    """The per-sample loop: host step, frames, bus, pulse comparison, host sync."""

    def __init__(self, chip: FrameChip, nets: FrameNetworks, tally: Tally, stimulus: FrameStimulus | None,
                 zero_delta=None):
        self.chip, self.nets, self.tally, self.stimulus = chip, nets, tally, stimulus
        self.zero_delta = zero_delta    # [sample, layer]: that frame carries zero deltas (negative test)
        self.seen = [0] * len(LAYERS)
        self.host = HostClock()
        self.checksums = [0] * len(LAYERS)
        self.words = [0] * len(LAYERS)
        self.frame_mismatches = 0

    def sample_frames(self, n: int) -> list[np.ndarray]:
        """Host step of sample ``n``: the frames per layer (the host's codes checked against the golden's)."""
        step = self.nets.step(n)
        self.gprog = step.golden_program
        codes = list(step.host_codes)
        if self.zero_delta is not None and self.zero_delta[0] == n:
            k = self.zero_delta[1]
            codes[k] = (codes[k][0], np.zeros_like(codes[k][1]))
        frames = [frame_array(x, d, p) for p, (x, d) in zip(self.chip.params, codes)]
        if not self.chip.stand_in:
            for k, same in enumerate(step.frames_equal()):
                if not same:
                    self.frame_mismatches += 1
                    self.tally.first.append(f"sample {n} {LAYERS[k]}: host frame differs from the golden's")
        for k, f in enumerate(frames):
            self.checksums[k] = tally_checksum([int(w) for w in f], self.checksums[k])
            self.words[k] += len(f)
        if self.stimulus is not None:
            self.stimulus.add(frames)
        return frames

    def after_sample(self, n: int) -> None:
        """Pulses of sample ``n`` against golden's; the pulsed devices into the host network."""
        chip = self.chip
        pulsed = []
        for k, (p, mdl) in enumerate(zip(chip.params, chip.models)):
            chip.drain(k)
            got = mdl.pulses[self.seen[k]:]
            self.seen[k] = len(mdl.pulses)
            pulsed.append(np.fromiter((q.row * p.phys_cols + q.phys_col for q in got), dtype=np.int64,
                                      count=len(got)))
            if not chip.stand_in:
                mm, msgs = compare_pulses(got, expected_pulses(p, self.gprog[k]), f"sample {n} {LAYERS[k]}")
                self.tally.pulses += mm
                self.tally.first += msgs
        self.nets.sync_host(chip.xas, pulsed)

    async def run(self, samples: int, progress: str | None) -> None:
        for n in range(samples):
            with self.host:
                frames = self.sample_frames(n)
            await self.chip.send(frames)
            with self.host:
                self.after_sample(n)
                if progress and (n % max(1, samples // 200) == 0 or n == samples - 1):
                    Path(progress).write_text(f"{n + 1} {samples}\n")


async def check_delivery(chip: FrameChip, training: FrameTraining, tally: Tally) -> None:
    """Stand-in mode: every word of every frame reached the FrameTally, in order."""
    for k, p in enumerate(chip.ports):
        got = (int(p.tally__words.value), int(p.tally__frames.value), int(p.tally__checksum.value))
        chip.tallies.append(list(got))
        want = (training.words[k], chip.frames, training.checksums[k])
        if got != want:
            tally.counters += 1
            tally.first.append(f"{LAYERS[k]}: FrameTally (words, frames, checksum) {got}, sent {want}")


async def check_pulse_counters(chip: FrameChip, tally: Tally) -> None:
    """PULSE_COUNT of each layer against the pulses its array model received."""
    for k, m in enumerate(chip.maps):
        pc = await chip.bus[k].read(m["pulse_count"].addr)
        if pc != len(chip.models[k].pulses):
            tally.counters += 1
            tally.first.append(f"{LAYERS[k]}: PULSE_COUNT {pc}, array saw {len(chip.models[k].pulses)}")


@cocotb.test()
async def cosim_frames(dut):
    """Train through both accelerators' frame inputs for ``samples`` samples; compare everything."""
    tc = test_config()
    cfg = FrameCosimConfig(**tc["cosim"])
    stand_in = bool(tc["stand_in"])
    t_setup = time.perf_counter()
    nets = FrameNetworks(cfg)
    chip = FrameChip(dut, nets, tc["plog_depth"], stand_in)
    await chip.start()
    setup_s = time.perf_counter() - t_setup
    stim = (FrameStimulus(Path(tc["stimulus"]), chip.st_addr[0], chip.busy_bit, stand_in)
            if tc.get("stimulus") else None)
    assert chip.st_addr[0] == chip.st_addr[1]

    tally = Tally()
    training = FrameTraining(chip, nets, tally, stim, zero_delta=tc.get("zero_delta"))
    c0 = chip.counter.cycle
    wall, cpu = await timed_training(training.run(cfg.samples, tc.get("progress_file")), tc.get("profile"))
    cycles = chip.counter.cycle - c0
    if stim is not None:
        stim.close()
        save_pulse_log(Path(tc["stimulus"]).with_suffix(".pulses.txt"), chip.models, c0)

    reads = 0
    if stand_in:
        await check_delivery(chip, training, tally)
    else:
        check_state(chip, nets, tally)
        chip.to_bus_port()
        await check_pulse_counters(chip, tally)
        reads = await check_reads(chip, nets, cfg.read_cells, tally)
    nets.sync_host(chip.xas)
    acc, gacc = nets.accuracy(nets.host), nets.accuracy(nets.golden)
    res = result(cfg, chip, nets, tally, training, cycles=cycles, reads=reads, accuracy=(acc, gacc), wall=wall,
                 cpu=cpu, setup=setup_s)
    Path(tc["result"]).write_text(json.dumps(res, indent=2))
    dut._log.info(json.dumps({k: v for k, v in res.items() if k != "first_mismatches"}))
    if tc.get("zero_delta") is not None:
        return                                     # negative test: the caller inspects the result
    assert res["mismatches"] == 0, f"seed {cfg.seed}: {res['mismatches']} mismatches; first: {tally.first[:5]}"


def result(cfg: FrameCosimConfig, chip: FrameChip, nets: FrameNetworks, tally: Tally, training: FrameTraining, *,
           cycles: int, reads: int, accuracy: tuple[float, float], wall: float, cpu: float, setup: float) -> dict:
    """The run's result dict (see :func:`tb.cosim.frame_run.summary`)."""
    acc, gacc = accuracy
    host = training.host
    n_pulses = [len(m.pulses) for m in chip.models]
    mism = (tally.pulses + training.frame_mismatches + tally.conductances + tally.reads + tally.counters
            + tally.violations + int(not chip.stand_in and acc != gacc))
    sim_s = wall - host.wall
    golden_pulses = int(sum(a.pulse_total for a in nets.golden.layers)) - nets.program_pulses
    return {
        "dataset": cfg.dataset, "samples": cfg.samples,
        "network": f"{nets.data.n_inputs}-{cfg.width}-{nets.data.n_classes}", "devices": cfg.devices,
        "seed": cfg.seed, "lanes": [p.engine.lanes for p in chip.params], "stand_in": chip.stand_in,
        "frames": chip.frames, "frame_words": int(sum(training.words)), "tally": chip.tallies,
        "pulses": int(sum(n_pulses)), "pulses_per_layer": n_pulses, "golden_pulses": golden_pulses,
        "cycles": int(cycles), "cycles_per_sample": cycles / cfg.samples, "reads": int(reads),
        "mismatches": int(mism), "pulse_mismatches": int(tally.pulses),
        "frame_mismatches": int(training.frame_mismatches), "conductance_mismatches": int(tally.conductances),
        "read_mismatches": int(tally.reads), "counter_mismatches": int(tally.counters),
        "violations": int(tally.violations), "accuracy": acc, "golden_accuracy": gacc,
        "first_mismatches": tally.first[:10],
        "wall_seconds": wall, "host_seconds": host.wall, "sim_seconds": sim_s, "setup_seconds": setup,
        "cpu_seconds": cpu, "host_cpu_seconds": host.cpu, "sim_cpu_seconds": cpu - host.cpu,
        "host_ms_per_sample": 1e3 * host.wall / cfg.samples,
        "cycles_per_second": cycles / sim_s if sim_s > 0 else 0.0,
        "samples_per_second": cfg.samples / sim_s if sim_s > 0 else 0.0,
        "end_to_end_samples_per_second": cfg.samples / wall,
    }
