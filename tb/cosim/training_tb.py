"""cocotb: in-situ training of a digits MLP with the RTL in the loop (see :mod:`tb.cosim.run`).

Python wake-ups are kept few: the UPDATE words of a sample go to each port's
:class:`~tb.tops.axil_sequencer.AxilSequencer` in batches (driver ``batch``, one wake-up per batch)
or through :class:`tb.kit.axil_host.FastAxil` (driver ``python``: one write per cycle, two wake-ups per
bus cycle while a stream is in flight); the pulses come from each port's
:class:`~tb.tops.pulse_logger.PulseLogger`, read once per batch (driver ``batch``), or from the array
models, which wake on the rising and falling edges of ``write``/``read`` only; the clock is
cocotb's. Nothing wakes per idle cycle except the STATUS polls at the end of each sample.

Forward passes use the conductances of the behavioural arrays (the state the RTL's pulses produced,
loaded into the host network every sample); READ_REQ/READ_DATA is exercised at the end on
``read_cells`` cells per layer and compared with the golden read codes.
"""
from __future__ import annotations

import cProfile
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadWrite, RisingEdge

from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.spec.transactions import Pulse, UpdateRequest
from golden.twins.crossbar_addressing import LATENCY
from tb.cosim.training_host import (
    CosimConfig,
    Networks,
    expected_pulses,
    read_cells,
    update_words,
    write_stimulus,
)
from tb.kit.axil_host import FastAxil
from tb.kit.prefixed import Prefixed
from tb.kit.runner import test_config
from tb.kit.stream import CycleCounter
from tb.models.reram_array import ArrayModel
from tb.tops.cosim_top import ADC_WIDTH, LAYERS, SEQ_DEPTH
from tb.tops.pulse_logger import PLOG_DEPTH, decode_plog

PERIOD_NS = 10


class Sequencer:
    """Python side of :class:`tb.tops.axil_sequencer.AxilSequencer`: one wake-up per batch of
    ``SEQ_DEPTH`` words (the last batch of a sample also polls STATUS.BUSY in hardware)."""

    def __init__(self, port, addr: int, poll_addr: int, on_batch=None):
        self.p = port
        self.on_batch = on_batch      # called after every batch (drains the pulse log: no ring overflow)
        self.rise, self.fall = RisingEdge(port.seq__done), FallingEdge(port.seq__done)
        self.batch = 0
        self.batches = 0
        port.seq__addr.value = addr
        port.seq__poll_addr.value = poll_addr
        port.seq__batch.value = 0
        port.seq__n.value = 0
        port.seq__poll.value = 0
        port.seq__words.value = 0

    async def _settled(self, edge, value: int) -> None:
        """Wait for ``edge`` of ``done`` that leaves it at ``value`` once the time step has settled.

        ``done`` is combinational: an event-driven simulator (Icarus) may glitch it while a block is
        re-evaluated, e.g. when ``batch`` is written; in ``ReadWrite`` (after the edge's updates, still
        allowed to write the next batch) only a real change remains. The pulse log is then settled too.
        """
        while True:
            await edge
            await ReadWrite()
            if int(self.p.seq__done.value) == value:
                return

    async def run(self, words: list[int]) -> None:
        p = self.p
        for j in range(0, len(words), SEQ_DEPTH):
            chunk = words[j:j + SEQ_DEPTH]
            p.seq__words.value = int.from_bytes(np.asarray(chunk, dtype="<u4").tobytes(), "little")
            p.seq__n.value = len(chunk)
            p.seq__poll.value = int(j + SEQ_DEPTH >= len(words))
            self.batch = (self.batch + 1) & 0xFF
            p.seq__batch.value = self.batch
            self.batches += 1
            await self._settled(self.fall, 0)   # the batch started ...
            await self._settled(self.rise, 1)   # ... and completed
            if self.on_batch is not None:
                self.on_batch()


def drain_plog(port, model: ArrayModel, rp: int, width: int, at_least: int = 1, depth: int = PLOG_DEPTH) -> int:
    """Apply the pulses logged by the port's :class:`tb.tops.pulse_logger.PulseLogger` (a ring of
    ``depth`` entries) since entry ``rp`` to the array model (its CrossbarArray and pulse list,
    violations as the model would record them), if there are at least ``at_least``; returns the new
    read pointer. The pulses go to the array in one vectorised call
    (:meth:`golden.physics.crossbar_state.CrossbarArray.apply`: each device's pulses in their order;
    the counter-based device model makes that equal to one call per pulse): a per-pulse Python call
    costs about a millisecond at 784-250-10."""
    wp = int(port.plog__wp.value)
    if wp - rp < at_least:
        return rp
    new = []
    for e in decode_plog(int(port.plog__entries.value), wp, rp, depth):
        c = e["cycle"] - 1 - model.latency        # the CycleCounter's cycle of the rising edge
        if e["err_lines"] or e["err_set_reset"] or e["err_read"]:
            model.violations.append(f"cycle {c}: line check failed {e}")
        if e["width"] != width:
            model.violations.append(f"cycle {c}: pulse width {e['width']}, expected {width}")
        if not e["err_lines"] and e["row"] < model.array.rows and e["col"] < model.array.phys_cols:
            new.append(Pulse(c, e["row"], e["col"], e["pol"]))
    model.array.apply(new)
    model.pulses.extend(new)
    return wp


def compare_pulses(got: list[Pulse], want: list[list[tuple]], where: str) -> tuple[int, list[str]]:
    """(mismatch count, messages) of one layer's pulses of one sample against the golden ones
    (``want``: per program request, see :func:`tb.cosim.training_host.expected_pulses`): row, column,
    polarity, and the cycle offset inside its program request."""
    flat = [w for ps in want for w in ps]
    bad = len(got) != len(flat)
    msgs = []
    i = 0
    for ps in want:
        if bad:
            break
        base_w, base_g = ps[0][0], got[i].cycle
        for w in ps:
            g = got[i]
            if (g.row, g.phys_col, g.polarity) != w[1:] or g.cycle - base_g != w[0] - base_w:
                bad = True
                msgs.append(f"{where} pulse {i}: got {g}, want {w} "
                            f"(cycle offset in its request {g.cycle - base_g} vs {w[0] - base_w})")
                break
            i += 1
    if not bad:
        return 0, msgs
    if len(got) != len(flat):
        msgs.append(f"{where}: {len(got)} pulses, golden {len(flat)}")
    return max(1, abs(len(got) - len(flat))), msgs


@dataclass
class Tally:
    """Mismatch counts by kind and the first messages."""

    pulses: int = 0
    requests: int = 0
    conductances: int = 0
    reads: int = 0
    counters: int = 0
    violations: int = 0
    first: list[str] = field(default_factory=list)


class HostClock:
    """Wall-clock and CPU time spent in ``with`` blocks (the host's share of the run)."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def __enter__(self):
        self._t, self._p = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._t
        self.cpu += time.process_time() - self._p


class Chip:
    """The co-simulation top with its bus drivers, pulse logs and array models.

    ``batch_mode``: UPDATE words through the AxilSequencers and pulses from the PulseLoggers;
    otherwise through :class:`FastAxil`, pulses from the array models.
    """

    def __init__(self, dut, nets: Networks, batch_mode: bool):
        self.dut, self.nets, self.batch_mode = dut, nets, batch_mode
        self.params = nets.params
        self.maps = [accelerator_register_map(p, fifo_depth=16, adc_width=ADC_WIDTH) for p in self.params]
        self.upd_addr = [m["update"].addr for m in self.maps]
        self.st_addr = [m["status"].addr for m in self.maps]
        self.busy_bit = self.maps[0]["status"].field("busy").offset
        assert all(m["status"].field("busy").offset == self.busy_bit for m in self.maps)
        self.ports = [Prefixed(dut, f"{name}__") for name in LAYERS]
        self.rp = [0] * len(LAYERS)          # pulse-log read pointers
        self.polls = 0

    async def start(self) -> None:
        """Clock, reset, bus drivers; then the array models on the golden chip's programmed state."""
        dut = self.dut
        cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
        dut.rst.value = 1
        for p in self.ports:
            p.adc.value = 0
        self.bus = [FastAxil(dut, f"{name}__", dut.clk) for name in LAYERS]
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        self.seqs = [Sequencer(p, self.upd_addr[k], self.st_addr[k], on_batch=self._drainer(k, PLOG_DEPTH // 2))
                     for k, p in enumerate(self.ports)]
        for p in self.ports:
            p.seq_en.value = int(self.batch_mode)
        self.counter = CycleCounter(dut.clk, period=PERIOD_NS).start()
        self.xas = self.nets.arrays()
        self.models = [ArrayModel(p, xa, counter=self.counter, latency=LATENCY) for p, xa in zip(self.ports, self.xas)]
        if not self.batch_mode:
            for mdl in self.models:
                mdl.start()

    def _drainer(self, k: int, at_least: int = 1):
        def drain() -> None:
            self.rp[k] = drain_plog(self.ports[k], self.models[k], self.rp[k], self.params[k].timing.width, at_least)
        return drain

    async def send(self, words: list[list[int]]) -> None:
        """One sample's UPDATE words to both ports in parallel, until STATUS.BUSY is clear."""
        if self.batch_mode:
            tasks = [cocotb.start_soon(self.seqs[k].run(words[k])) for k in range(len(LAYERS))]
            for t in tasks:
                await t
            return
        tasks = [cocotb.start_soon(self.bus[k].write_stream(self.upd_addr[k], words[k])) for k in range(len(LAYERS))]
        for t in tasks:
            await t
        for k in range(len(LAYERS)):
            self.polls += await self.bus[k].poll_clear(self.st_addr[k], self.busy_bit)

    def drain(self) -> None:
        """Pulses logged since the last batch (batch mode; a no-op unless pulses came later)."""
        if self.batch_mode:
            for k in range(len(LAYERS)):
                self._drainer(k)()

    def to_bus_port(self) -> None:
        """Hand the buses to ``s_axil`` and the lines to the array models (for the read-back)."""
        for p in self.ports:
            p.seq_en.value = 0
        if self.batch_mode:
            for mdl in self.models:   # the read-back goes through the array model's read path
                mdl.start()


class Training:
    """The per-sample loop: host step, stimulus, bus, pulse comparison."""

    def __init__(self, chip: Chip, nets: Networks, tally: Tally, drop_word=None):
        self.chip, self.nets, self.tally = chip, nets, tally
        self.drop = drop_word          # [sample, layer]: lose one UPDATE word (negative test)
        self.stimulus: list[list[list[int]]] = []
        self.seen = [0] * len(LAYERS)
        self.host = HostClock()

    def sample_words(self, n: int) -> list[list[int]]:
        """Host step of sample ``n``: the UPDATE words per layer (requests checked against the golden's);
        the golden program requests are kept for :meth:`check_pulses`."""
        nets = self.nets
        nets.load_host(self.chip.xas)
        hreq, greq, self.gprog = nets.step(n)
        words = [update_words(p, r) for p, r in zip(self.chip.params, self._sent(n, hreq))]
        self.stimulus.append(words)
        for layer in range(len(LAYERS)):
            if hreq[layer] != greq[layer]:
                self.tally.requests += 1
                self.tally.first.append(f"sample {n} {LAYERS[layer]}: host requests differ from the golden's")
        return words

    def _sent(self, n: int, hreq: list[list[UpdateRequest]]) -> list[list[UpdateRequest]]:
        """The requests that reach the bus: all, or (fault injection) all but the one behind the
        dropped layer's first golden pulse."""
        d = self.drop
        if d is None or d[0] != n or not self.gprog[d[1]]:
            return hreq
        pr = self.gprog[d[1]][0]
        sent = [list(r) for r in hreq]
        sent[d[1]] = [r for r in hreq[d[1]] if (r.row, r.col) != (pr.row, pr.col)]
        return sent

    def check_pulses(self, n: int) -> None:
        """The pulses the array models received for sample ``n`` against the golden program requests'."""
        for k, (p, mdl) in enumerate(zip(self.chip.params, self.chip.models)):
            got = mdl.pulses[self.seen[k]:]
            self.seen[k] = len(mdl.pulses)
            mm, msgs = compare_pulses(got, expected_pulses(p, self.gprog[k]), f"sample {n} {LAYERS[k]}")
            self.tally.pulses += mm
            self.tally.first += msgs

    async def run(self, samples: int, progress: str | None) -> None:
        for n in range(samples):
            with self.host:
                words = self.sample_words(n)
            await self.chip.send(words)
            with self.host:
                self.chip.drain()
                self.check_pulses(n)
            if progress and (n % max(1, samples // 100) == 0 or n == samples - 1):
                Path(progress).write_text(f"{n + 1} {samples}\n")


def check_state(chip: Chip, nets: Networks, tally: Tally) -> None:
    """Conductances and pulse counters of every device against the golden chip; line invariants."""
    for arr, xa in zip(nets.golden.layers, chip.xas):
        sl = slice(arr.id_base, arr.id_base + arr.n_devices)
        tally.conductances += int(np.count_nonzero(xa.g_flat != nets.golden.store.g[sl]))
        tally.conductances += int(np.count_nonzero(xa.k != nets.golden.store.k[sl]))
    for p, mdl in zip(chip.params, chip.models):
        mdl.check_windows(width=p.timing.width)
        tally.violations += len(mdl.violations)
        tally.first += mdl.violations[:3]


async def check_counters(chip: Chip, stimulus: list[list[list[int]]], tally: Tally) -> int:
    """PULSE_COUNT and REQUEST_COUNT of each layer against the array models and the words sent;
    returns the requests counted."""
    requests = 0
    for k, m in enumerate(chip.maps):
        n_pulses = len(chip.models[k].pulses)
        pc = await chip.bus[k].read(m["pulse_count"].addr)
        rc = await chip.bus[k].read(m["request_count"].addr)
        want_rc = sum(sum(1 for w in s[k] if not (w >> 31) & 1) for s in stimulus)
        if pc != n_pulses or rc != want_rc:
            tally.counters += 1
            tally.first.append(f"{LAYERS[k]}: PULSE_COUNT {pc} (array saw {n_pulses}), REQUEST_COUNT {rc} "
                               f"(sent {want_rc})")
        requests += rc
    return requests


async def check_reads(chip: Chip, nets: Networks, cells: int, tally: Tally) -> int:
    """``cells`` cells per layer through READ_REQ/READ_DATA against the golden read codes; returns
    the reads made."""
    n_reads = 0
    model = nets.golden.model
    for k, (p, m, arr) in enumerate(zip(chip.params, chip.maps, nets.golden.layers)):
        rreq, rdat, ev = m["read_req"], m["read_data"], m["events"]
        xa = chip.xas[k]
        for row, pc in read_cells(p, cells):
            await chip.bus[k].write_stream(rreq.addr, [rreq.encode(row=row, phys_col=pc)])
            while True:
                f = rdat.decode(await chip.bus[k].read(rdat.addr))
                if f["valid"]:
                    break
            # acknowledge the result (EVENTS.READ_DONE): the next READ_REQ is refused until then
            await chip.bus[k].write_stream(ev.addr, [ev.encode(read_done=1)])
            dev = row * p.phys_cols + pc
            gid = arr.id_base + dev
            r_idx = int(xa.r[dev]) - 1          # the array model counted this read already
            g_read = model.read(nets.golden.store.g[gid:gid + 1], np.array([gid], dtype=np.uint64),
                                np.array([r_idx], dtype=np.uint64))[0]
            code = xa.adc_code(float(g_read))
            n_reads += 1
            if f["data"] != code or f["err"]:
                tally.reads += 1
                tally.first.append(f"{LAYERS[k]} read ({row}, {pc}): READ_DATA {f}, golden code {code}")
    return n_reads


def result(cfg: CosimConfig, chip: Chip, nets: Networks, tally: Tally, *, cycles: int, requests: int,
           reads: int, accuracy: tuple[float, float], wall: float, cpu: float, host: HostClock,
           setup: float) -> dict:
    """The run's result dict (see :func:`tb.cosim.run.summary`)."""
    acc, gacc = accuracy
    n_pulses = [len(m.pulses) for m in chip.models]
    mism = (tally.pulses + tally.requests + tally.conductances + tally.reads + tally.counters + tally.violations
            + int(acc != gacc))
    sim_s = wall - host.wall
    return {
        "samples": cfg.samples, "network": f"{nets.data.n_inputs}-{cfg.hidden}-{nets.data.n_classes}",
        "devices": cfg.devices, "seed": cfg.seed, "lr": cfg.lr,
        "requests": int(requests), "pulses": int(sum(n_pulses)), "pulses_per_layer": n_pulses,
        "golden_pulses": int(sum(a.pulse_total for a in nets.golden.layers)) - nets.program_pulses,
        "cycles": int(cycles), "axi_writes": int(sum(b.writes for b in chip.bus)), "status_polls": int(chip.polls),
        "reads": reads,
        "mismatches": int(mism), "pulse_mismatches": int(tally.pulses), "request_mismatches": int(tally.requests),
        "conductance_mismatches": int(tally.conductances), "read_mismatches": int(tally.reads),
        "counter_mismatches": int(tally.counters),
        "violations": int(tally.violations), "accuracy": acc, "golden_accuracy": gacc,
        "first_mismatches": tally.first[:10],
        "wall_seconds": wall, "host_seconds": host.wall, "sim_seconds": sim_s, "setup_seconds": setup,
        "cpu_seconds": cpu, "host_cpu_seconds": host.cpu, "sim_cpu_seconds": cpu - host.cpu,
        "cycles_per_second": cycles / sim_s if sim_s > 0 else 0.0,
        "samples_per_second": cfg.samples / sim_s if sim_s > 0 else 0.0,
        "end_to_end_samples_per_second": cfg.samples / wall,
        "addresses": {"update": chip.upd_addr, "status": chip.st_addr, "busy_bit": chip.busy_bit},
        "driver": "batch" if chip.batch_mode else "python", "batches": int(sum(q.batches for q in chip.seqs)),
    }


def save_stimulus(path: Path, chip: Chip, stimulus: list[list[list[int]]], c0: int) -> None:
    """The AXI stimulus for the C++ harness, and the pulse log it must reproduce (``.pulses.txt``)."""
    write_stimulus(path, {"update": chip.upd_addr[0], "status": chip.st_addr[0], "busy_bit": chip.busy_bit,
                          "seq_depth": SEQ_DEPTH, "mode": int(chip.batch_mode)}, stimulus)
    assert chip.upd_addr[0] == chip.upd_addr[1] and chip.st_addr[0] == chip.st_addr[1]
    save_pulse_log(path.with_suffix(".pulses.txt"), chip.models, c0)


def save_pulse_log(path: Path, models, c0: int) -> None:
    """The pulse log a C++ harness must reproduce: one line per layer's array model, each pulse as
    ``cycle row phys_col polarity`` with cycles counted from ``c0``."""
    path.write_text("\n".join(" ".join(f"{q.cycle + LATENCY - c0} {q.row} {q.phys_col} {q.polarity}"
                                       for q in m.pulses) for m in models) + "\n")


async def timed_training(run, profile: str | None) -> tuple[float, float]:
    """Await ``run`` (the training loop); returns its (wall, process CPU) seconds. ``profile``: write a
    cProfile of it (simulator and host together) to that path."""
    t0, p0 = time.perf_counter(), time.process_time()
    prof = cProfile.Profile() if profile else None
    if prof is not None:
        prof.enable()
    await run
    wall, cpu = time.perf_counter() - t0, time.process_time() - p0
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    return wall, cpu


@cocotb.test()
async def cosim_training(dut):
    """Train the digits MLP for ``samples`` samples through both accelerators; compare everything."""
    tc = test_config()
    cfg = CosimConfig(**tc.get("cosim", {}))
    t_setup = time.perf_counter()
    nets = Networks(cfg)
    chip = Chip(dut, nets, batch_mode=tc.get("driver", "batch") == "batch")
    await chip.start()
    setup_s = time.perf_counter() - t_setup

    tally = Tally()
    training = Training(chip, nets, tally, drop_word=tc.get("drop_word"))
    c0 = chip.counter.cycle
    wall, cpu = await timed_training(training.run(cfg.samples, tc.get("progress_file")), tc.get("profile"))
    cycles = chip.counter.cycle - c0

    check_state(chip, nets, tally)
    chip.to_bus_port()
    requests = await check_counters(chip, training.stimulus, tally)
    reads = await check_reads(chip, nets, cfg.read_cells, tally)
    nets.load_host(chip.xas)
    accuracy = nets.accuracy(nets.host), nets.accuracy(nets.golden)
    res = result(cfg, chip, nets, tally, cycles=cycles, requests=requests, reads=reads, accuracy=accuracy,
                 wall=wall, cpu=cpu, host=training.host, setup=setup_s)
    if tc.get("stimulus"):
        save_stimulus(Path(tc["stimulus"]), chip, training.stimulus, c0)
    if tc.get("result"):
        Path(tc["result"]).write_text(json.dumps(res, indent=2))
    dut._log.info(json.dumps({k: v for k, v in res.items() if k != "first_mismatches"}))
    assert res["mismatches"] == 0, f"seed {cfg.seed}: {res['mismatches']} mismatches; first: {tally.first[:5]}"
