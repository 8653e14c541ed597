"""cocotb test of :class:`hw.sense_amp_sequencer.SenseAmpSequencer`: the phase/strobe timeline, cycle
by cycle, against :func:`golden.twins.sense_amp_sequencer.sense_amp_run`.

Stimulus (:func:`stimulus`, shared with the Amaranth-sim test): random tags through a
:class:`tb.kit.stream.StreamSource` with idle cycles, a :class:`tb.kit.stream.StreamSink` with backpressure
on ``resp`` (which stretches *readout*), random phase-length writes at random cycles (including
addresses 6/7 and the value 0), and an ``sa_out`` that is fresh random bits in *every* cycle, so a
capture one cycle early or late returns other bits than the golden model predicts.
Checked: the per-cycle state (phase, 7 strobes, req.ready, resp.valid, occupied and entered stages),
the accepted requests and the responses with their cycles, each through a :class:`tb.kit.scoreboard.Scoreboard`.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from golden.spec.handshake import random_gen
from golden.twins.sense_amp_sequencer import STROBES, SaResponse, SeqState, sense_amp_run
from hw.sense_amp_sequencer import sa_response_layout
from tb.kit.coverage import Coverage
from tb.kit.runner import test_config
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch
from tb.kit.testbench import Testbench


def stimulus(seed: int, bank: int, tag_width: int, requests: int, cycles: int, p_cfg: float = 0.01):
    """(tags, initial lengths, cfg_writes {cycle: (addr, data)}, sa values per cycle)."""
    rng = random.Random(f"sa-seq/{seed}")
    tags = [rng.getrandbits(tag_width) for _ in range(requests)]
    lengths = tuple(rng.choice([1, 1, 2, 3, 4, 7]) for _ in range(6))
    writes = {}
    for c in range(cycles):
        if rng.random() < p_cfg:
            writes[c] = (rng.randrange(8), rng.choice([0, 1, 1, 2, 3, 5, 9]))
    sa = [rng.getrandbits(bank) for _ in range(cycles)]
    return tags, lengths, writes, sa


def golden_run(cfg: dict):
    tags, lengths, writes, sa = stimulus(cfg["seed"], cfg["bank"], cfg["tag_width"], cfg["requests"],
                                         cfg["cycles"])
    run = sense_amp_run(tags, bank=cfg["bank"], lengths=lengths, cycles=cfg["cycles"],
                        valid_gen=random_gen(cfg["seed"], cfg["p_valid"], 1),
                        ready_gen=random_gen(cfg["seed"], cfg["p_ready"], 2),
                        cfg_writes=writes, sa_fn=lambda c: sa[c])
    return tags, lengths, writes, sa, run


def check(name: str, seed: int, run, timeline, accepted, responses) -> int:
    """Scoreboard the three observed lists against the golden run; returns transactions compared."""
    n = Scoreboard(f"{name}.timeline", seed=seed).check(run.timeline, timeline)
    n += Scoreboard(f"{name}.req", seed=seed).check(run.accepted, accepted)
    n += Scoreboard(f"{name}.resp", seed=seed).check(run.responses, responses)
    return n


PHASE_NAMES = ("idle", "precharge", "input", "evaluate", "sense", "readout", "reset")
#: ``phase`` follows the leading conversion: its sequence, and from reset to idle or to the phase of
#: the conversion pipelined behind it.
LEGAL = ("idle->precharge", "precharge->input", "input->evaluate", "evaluate->sense", "sense->readout",
         "readout->reset", "reset->idle", "reset->precharge", "reset->input", "reset->evaluate",
         "reset->sense", "reset->readout")


def sample_coverage(cov, timeline) -> None:
    """Functional coverage of the observed per-cycle state: every phase transition and how long each
    phase lasted (readout stretched by backpressure)."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    from tb.kit.coverage import sample_transitions

    seen: dict = {}
    dur = cov.group("phase_length", {"phase": PHASE_NAMES[1:], "cycles": [(1, 1), (2, 3), (4, 1 << 62)]},
                    {"phase_x_cycles": ("phase", "cycles")})
    prev, run = None, 0
    for _, st in timeline:
        if prev is not None and st.phase != prev:
            key = f"{PHASE_NAMES[prev]}->{PHASE_NAMES[st.phase]}"
            seen[key] = seen.get(key, 0) + 1
            if prev:
                dur.sample(phase=PHASE_NAMES[prev], cycles=run)
            run = 0
        prev, run = st.phase, run + 1
    sample_transitions(cov, LEGAL, seen)


class TB(Testbench):
    """Tag driver on ``req``, response monitor on ``resp``, the cfg-write and ``sa_out`` driver and
    the per-cycle state sampler; the stimulus and the golden run (:attr:`golden`) come from
    :func:`golden_run`."""

    def __init__(self, dut, cfg: dict):
        super().__init__(dut, idle=[dut.req__valid, dut.resp__ready, dut.cfg__we, dut.cfg__addr, dut.cfg__data,
                                    dut.sa_out])
        seed = cfg["seed"]
        self.tags, self.lengths, self.writes, self.sa, self.golden = golden_run(cfg)
        self.source = self.stream_source("req", None, random_gen(seed, cfg["p_valid"], 1))
        self.sink = self.stream_sink("resp", sa_response_layout(cfg["bank"], cfg["tag_width"]),
                                     random_gen(seed, cfg["p_ready"], 2), convert=lambda d: SaResponse(**d))
        self.strobes = [getattr(dut, s) for s in STROBES]
        self.timeline: list = []

    async def write_cfg(self, addr: int, data: int) -> None:
        """One phase-length write (one cycle)."""
        dut = self.dut
        dut.cfg__we.value, dut.cfg__addr.value, dut.cfg__data.value = 1, addr, data
        await RisingEdge(self.clk)

    async def reset(self):
        """Reset, then write this run's initial phase lengths before cycle 0 (one write per cycle):
        the parameter defaults are the DUT's reset values, the random ones are checked in action."""
        await super().reset()
        for a, v in enumerate(self.lengths):
            await self.write_cfg(a, v)
        self.dut.cfg__we.value = 0
        return self.restart_counter()

    async def run(self, cycles: int) -> None:
        """Drive the cfg writes and ``sa_out`` of each cycle, record the state in ``ReadOnly``."""
        dut, edge = self.dut, RisingEdge(self.clk)
        self.source.start()
        self.sink.start()
        self.source.send(self.tags)
        for c in range(cycles):
            w = self.writes.get(c)
            dut.cfg__we.value = int(w is not None)
            dut.cfg__addr.value, dut.cfg__data.value = w if w else (0, 0)
            dut.sa_out.value = self.sa[c]
            await ReadOnly()
            self.timeline.append((c, SeqState(int(dut.phase.value), tuple(int(s.value) for s in self.strobes),
                                              int(dut.req__ready.value), int(dut.resp__valid.value),
                                              int(dut.stages.value), int(dut.firsts.value))))
            await edge


@cocotb.test()
async def sense_amp_sequencer_timeline(dut):
    cfg = test_config()
    seed, cycles = cfg["seed"], cfg["cycles"]
    dut._log.info(f"seed {seed}: bank {cfg['bank']}, {cfg['requests']} requests, {cycles} cycles")
    tb = TB(dut, cfg)
    run, src, snk, timeline = tb.golden, tb.source, tb.sink, tb.timeline
    assert run.responses, "stimulus produced no conversion"
    await tb.reset()
    t0 = time.perf_counter()
    await tb.run(cycles)
    wall = time.perf_counter() - t0

    accepted = [(t.cycle, t.value) for t in src.sent]
    compared = check("sense_amp_sequencer", seed, run, timeline, accepted, snk.received)
    cov = Coverage("sense_amp_sequencer", cfg)
    sample_coverage(cov, timeline)
    cov.write()
    dut._log.info(f"{compared} transactions match; {len(run.responses)} conversions, {cycles} cycles "
                  f"in {wall:.2f} s")

    # The scoreboard fails on a mutated expectation and names the cycle (one strobe flipped).
    j = len(run.timeline) // 3
    c, st = run.timeline[j]
    bad = list(run.timeline)
    bad[j] = (c, SeqState(st.phase, (1 - st.strobes[0],) + st.strobes[1:], st.req_ready, st.resp_valid,
                          st.stages, st.firsts))
    try:
        Scoreboard("mutated", seed=seed).check(bad, timeline)
    except ScoreboardMismatch as e:
        assert e.cycle == c and f"cycle {c}" in str(e), str(e)
    else:
        raise AssertionError("scoreboard accepted a mutated timeline")

    metrics = {"conversions": len(run.responses), "cycles": cycles, "compared": compared,
               "mismatches": 0, "sim_seconds": wall}
    Path("metrics_sense_amp_sequencer.json").write_text(json.dumps(metrics))
