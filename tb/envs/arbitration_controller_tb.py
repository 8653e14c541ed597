"""cocotb environment of the ArbitrationController: PulseCounts + end-of-cycle strobes + refreshes in,
ProgramRequests and status out, compared with the golden twin's cycle model.

The configuration (from :func:`tb.kit.runner.test_config`) holds the parameter tree, the seed and a list
of *phases* (directed by name, or random), each with its own idle / backpressure generators. Phases
run back to back on one DUT; the golden :class:`~golden.twins.arbitration_controller.ArbitrationController`
carries the counters from phase to phase. The PulseCount stream carries
:data:`~golden.twins.arbitration_controller.END_CYCLE` markers that the driver turns into ``end_cycle``
strobes (:class:`tb.kit.stream.StreamSource` ``strobe=``). Checked per phase: accepted PulseCounts,
strobes, accepted refreshes and emitted ProgramRequests with their cycles, the status outputs
(``sel_pos``, ``sel_neg``, ``skipped``) in the cycle after each strobe, and the final counters.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

from golden.spec.handshake import make_gen
from golden.spec.params import AccelParams, params_from_dict
from golden.spec.transactions import ProgramRequest, PulseCount
from golden.twins.arbitration_controller import (
    END_CYCLE,
    ArbitrationController,
    RefreshRequest,
    arbitration_cycle_model,
)

# ---------------------------------------------------------------------------------------------
# stimulus (no cocotb here: also used by tests/blocks/test_arbitration_controller.py)


def directed_events(p: AccelParams, name: str) -> tuple[list, list[RefreshRequest]]:
    """Named directed stimuli: (PulseCount / END_CYCLE events, refresh requests)."""
    n, mc = p.synapse.devices, p.update.max_count
    rows, cols = p.array.rows, p.array.cols
    last = (rows - 1, cols - 1)
    if name == "rotation":
        # 2N+1 update cycles with one potentiation each, then 2N+1 with one depression: the slot
        # sequence visits every device of each group
        ev = []
        for k in range(2 * n + 1):
            ev += [PulseCount(0, 0, 1 + k % mc), END_CYCLE]
        for k in range(2 * n + 1):
            ev += [PulseCount(*last, -(1 + k % mc)), END_CYCLE]
        return ev, []
    if name == "groups":
        # update cycles with only pot, only dep, both, none, zero counts: each group advances only
        # when it was used
        ev = []
        for k in range(3 * n + 3):
            kind = k % 5
            if kind in (0, 2):
                ev.append(PulseCount(k % rows, k % cols, mc))
            if kind in (1, 2):
                ev.append(PulseCount(k % rows, (k + 1) % cols, -mc))
            if kind == 4:
                ev.append(PulseCount(0, 0, 0))
            ev.append(END_CYCLE)
        return ev, []
    if name == "periods":
        # every update cycle has both polarities: the periods skip most of them
        ev = []
        for k in range(4 * max(p.synapse.pot_period, p.synapse.dep_period) + 3):
            ev += [PulseCount(0, 0, 1), PulseCount(0, 1 % cols, -1), PulseCount(*last, mc), END_CYCLE]
        return ev, []
    if name == "refresh":
        # refreshes racing a stream of PulseCounts (priority, and no interleaving inside a refresh)
        ev = []
        for k in range(6):
            ev += [PulseCount(k % rows, k % cols, (-1) ** k * (1 + k % mc)) for _ in range(4)] + [END_CYCLE]
        return ev, [RefreshRequest(*last), RefreshRequest(0, 0), RefreshRequest(1 % rows, 1 % cols)]
    if name == "refresh_idle":
        # refreshes while the update cycles carry no PulseCount (a refresh alone in its update cycle)
        ev = [END_CYCLE] * 12 + [PulseCount(0, 0, 1), END_CYCLE]
        return ev, [RefreshRequest(0, 0), RefreshRequest(*last)]
    raise ValueError(f"unknown directed stimulus {name!r}")


def random_events(p: AccelParams, seed: int, n_counts: int, stream: int = 0,
                  n_refresh: int = 0) -> tuple[list, list[RefreshRequest]]:
    """About ``n_counts`` seeded random PulseCounts grouped into update cycles of 0..12 counts
    (empty update cycles included), counts in [-max_count, max_count] (a few zeros; |count| biased
    to 1..4 and to the max_count edge so every count bin of the coverage is reached), plus
    ``n_refresh`` random refresh requests."""
    rng = random.Random(f"arbitration/{seed}/{stream}")
    mc, rows, cols = p.update.max_count, p.array.rows, p.array.cols
    ev: list = []
    made = 0
    while made < n_counts:
        k = rng.choice((0, 1, 1, 2, 3, 5, 8, 12))
        for _ in range(min(k, n_counts - made)):
            u = rng.random()   # biased to the small counts and the max_count edge, else uniform
            mag = (rng.randint(1, min(4, mc)) if u < 0.4 else rng.choice((max(mc - 1, 1), mc)) if u < 0.5
                   else rng.randint(1, mc))
            c = 0 if rng.random() < 0.03 else rng.choice((1, -1)) * mag
            ev.append(PulseCount(rng.randrange(rows), rng.randrange(cols), c))
        made += k
        ev.append(END_CYCLE)
    rf = [RefreshRequest(rng.randrange(rows), rng.randrange(cols)) for _ in range(n_refresh)]
    return ev, rf


def phase_stimulus(p: AccelParams, seed: int, index: int, phase: dict) -> tuple[list, list[RefreshRequest]]:
    if phase["kind"] == "directed":
        return directed_events(p, phase["name"])
    return random_events(p, seed, phase["n"], stream=index, n_refresh=phase.get("refresh", 0))


def refresh_position(refresh_cycle: int, count_cycles: list[int], strobes: list[int]) -> str:
    """Where a refresh was accepted within its update cycle (between two ``end_cycle`` strobes):
    ``alone`` (no PulseCount in that update cycle), ``before`` / ``after`` all of them, or ``between``."""
    lo = max([s for s in strobes if s < refresh_cycle], default=-1)
    hi = min([s for s in strobes if s >= refresh_cycle], default=1 << 62)
    mine = [c for c in count_cycles if lo < c <= hi]
    before, after = any(c < refresh_cycle for c in mine), any(c >= refresh_cycle for c in mine)
    return "between" if before and after else "after" if before else "before" if after else "alone"


def unreachable_programs(p: AccelParams, count_bins: list[tuple[int, int]]) -> list[tuple[str, str, str]]:
    """(count, polarity, slot) bins no ProgramRequest can have: SET only with 1..max_count; RESET
    with 1..max_count only on a G+ device in non-differential mode, and with ``refresh_pulses`` on
    every device (refresh)."""
    from tb.kit.coverage import label

    mc, rp, n = p.update.max_count, p.synapse.refresh_pulses, p.synapse.devices
    out = []
    for lo, hi in count_bins:
        update = lo <= mc
        refresh = lo <= rp <= hi
        for slot in range(p.synapse.slots):
            if not update:
                out.append((label((lo, hi)), "SET", str(slot)))
            if not (refresh or (update and not p.synapse.differential and slot < n)):
                out.append((label((lo, hi)), "RESET", str(slot)))
    return out


def sample_coverage(cov, p: AccelParams, phase: dict, sent, strobes, refreshes, emitted, status) -> None:
    """Functional coverage of one phase from the monitors: accepted PulseCounts and strobes, accepted
    refreshes, emitted ProgramRequests and the status sampled after each strobe."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    from tb.kit.coverage import ranges, sample_stream

    n, D, mc = p.synapse.devices, p.synapse.slots, p.update.max_count
    inp = cov.group("pulse_count", {"kind": ["pot", "dep", "zero"], "count": ranges(mc)}, {"kind_x_count": ("kind", "count")},
                    ignore={"kind_x_count": [("zero", None)]})
    for t in sent:
        c = t.value.count
        inp.sample(kind="pot" if c > 0 else "dep" if c < 0 else "zero", count=abs(c) or None)
    rp = p.synapse.refresh_pulses    # counts are 1..max_count, and refresh_pulses for a refresh
    count_bins = ranges(mc) + ([(rp, rp)] if rp > mc else [])
    out = cov.group("program", {"count": count_bins, "polarity": ["RESET", "SET"], "slot": list(range(D))},
                    {"count_x_polarity_x_slot": ("count", "polarity", "slot")},
                    ignore={"count_x_polarity_x_slot": unreachable_programs(p, count_bins)})
    for t in emitted:
        r = t.value
        out.sample(count=r.count, polarity="SET" if r.polarity else "RESET", slot=r.slot)
    counts = [t.cycle for t in sent]
    rf = cov.group("refresh", {"position": ["alone", "before", "between", "after"]})
    for t in refreshes:
        rf.sample(position=refresh_position(t.cycle, counts, list(strobes)))
    # sel_neg exists in differential mode only; PulseCounts are skipped only with a period above 1
    sel = {"sel_pos": list(range(n))} | ({"sel_neg": list(range(n))} if p.synapse.differential else {})
    periodic = max(p.synapse.pot_period, p.synapse.dep_period) > 1
    st = cov.group("selection", sel | {"skipped": ["same", "more"] if periodic else ["same"]})
    prev_skipped = None
    for _, sel_pos, sel_neg, skipped in status:
        st.sample(sel_pos=sel_pos, sel_neg=sel_neg,
                  skipped=None if prev_skipped is None else "more" if skipped != prev_skipped else "same")
        prev_skipped = skipped
    sample_stream(cov, "i", counts, phase.get("valid", 1.0))
    sample_stream(cov, "o", [t.cycle for t in emitted], phase.get("ready", 1.0))


def count_requests(events: list) -> int:
    return sum(1 for e in events if e != END_CYCLE)


# ---------------------------------------------------------------------------------------------

try:
    import cocotb
    from cocotb.triggers import ReadOnly, RisingEdge
except ImportError:  # pragma: no cover
    cocotb = None

if cocotb is not None:
    from hw.arbitration_controller import refresh_request_layout
    from hw.layouts import program_request_layout, pulse_count_layout
    from tb.kit.coverage import Coverage
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, run_expecting
    from tb.kit.testbench import Testbench, run_phase_list

    def _gens(specs, seed: int, phase: int) -> tuple:
        """(PulseCount idle, refresh idle, ProgramRequest ready) generators of one phase."""
        return tuple(make_gen(spec, seed, 200 + 3 * phase + j) for j, spec in enumerate(specs))

    class TB(Testbench):
        """Phases of PulseCounts (with ``end_cycle`` strobes) and refreshes in, ProgramRequests and the
        status after each strobe out, against the golden ArbitrationController.

        Reset is held for 3 edges; each phase renumbers the cycles from the period after the release
        (or after the previous phase), the convention of :func:`arbitration_cycle_model`.
        """

        def __init__(self, dut, cfg: dict):
            super().__init__(dut, idle=[dut.i__valid, dut.refresh__valid, dut.end_cycle, dut.o__ready],
                             settle_cycles=0)
            p = self.params = params_from_dict(cfg["params"])
            self.golden_params = params_from_dict(cfg.get("golden_params", cfg["params"]))  # wrong on purpose in one test
            self.seed = int(cfg["seed"])
            self.ctrl = ArbitrationController(self.golden_params)
            self.layouts = pulse_count_layout(p), refresh_request_layout(p), program_request_layout(p)
            self.scoreboard = Scoreboard("arbitration_controller", self.seed)
            self.coverage = Coverage("arbitration_controller", cfg)

        async def _status_monitor(self, src, out: list) -> None:
            """Sample (sel_pos, sel_neg, skipped) in the cycle after each end_cycle strobe."""
            dut, edge = self.dut, RisingEdge(self.clk)
            while True:
                await ReadOnly()
                c = self.counter.cycle
                if c - 1 in src.strobes[-2:]:
                    out.append((c, int(dut.sel_pos.value), int(dut.sel_neg.value), int(dut.skipped.value)))
                await edge

        async def run_phase(self, k: int, phase: dict) -> tuple:
            """Drive one phase, compare everything observable, return its statistics."""
            dut, p, seed, ctrl = self.dut, self.params, self.seed, self.ctrl
            lay_i, lay_r, lay_o = self.layouts
            events, refreshes = phase_stimulus(p, seed, k, phase)
            specs = (phase.get("valid", 1.0), phase.get("refresh_valid", 1.0), phase.get("ready", 1.0))
            trace = arbitration_cycle_model(self.golden_params, events, refreshes, *_gens(specs, seed, k),
                                            ctrl=ctrl)
            gv, gr, go = _gens(specs, seed, k)  # the same draws again, for the drivers
            t0 = time.perf_counter()
            self.restart_counter()
            src = self.stream_source("i", lay_i, gv, strobe=(END_CYCLE, dut.end_cycle))
            rsrc = self.stream_source("refresh", lay_r, gr)
            snk = self.stream_sink("o", lay_o, go, convert=lambda d: ProgramRequest(**d))
            status: list = []
            src.send(events)
            rsrc.send(refreshes)
            for x in (src, rsrc, snk):
                x.start()
            mon = cocotb.start_soon(self._status_monitor(src, status))
            for _ in range(trace.cycles + 4):
                await RisingEdge(self.clk)
            mon.cancel()
            for x in (src, rsrc, snk, self.counter):
                x.stop()
            tag = f"arbitration_controller phase {k} ({phase.get('name', 'random')})"
            sb = self.scoreboard
            for what, want, got in (("PulseCount accepts", trace.accepted, src.sent),
                                    ("end_cycle strobes", trace.strobes, src.strobes),
                                    ("refresh accepts", trace.refreshes, rsrc.sent),
                                    ("ProgramRequests", trace.emitted, snk.received),
                                    ("status after strobes", trace.status, status)):
                sb.name = f"{tag} {what}"
                if what == "end_cycle strobes":
                    want, got = [(c, "strobe") for c in want], [(c, "strobe") for c in got]
                elif what == "status after strobes":
                    want, got = [(s[0], s[1:]) for s in want], [(s[0], s[1:]) for s in got]
                sb.check(want, got)
            final = (int(dut.sel_pos.value), int(dut.sel_neg.value), int(dut.skipped.value),
                     int(dut.refreshes.value), int(dut.refresh_busy.value))
            expect = (ctrl.sel_pos, ctrl.sel_neg, ctrl.skipped % 2**32, ctrl.refreshes % 2**32, 0)
            if final != expect:
                raise AssertionError(f"{tag}: final (sel_pos, sel_neg, skipped, refreshes, busy) = {final}, "
                                     f"golden {expect} (seed {seed})")
            sample_coverage(self.coverage, p, phase, src.sent, src.strobes, rsrc.sent, snk.received, status)
            return (k, phase.get("name", "random"), count_requests(events), len(refreshes),
                    len(trace.emitted), trace.cycles, time.perf_counter() - t0)

    @cocotb.test()
    async def arbitration_controller_phases(dut):
        """Run every phase of the configuration and compare everything observable with golden.

        With ``expect_mismatch`` (used with wrong ``golden_params``) the test passes only if the
        scoreboard reports a mismatch that names its cycle.
        """
        await run_expecting(dut, test_config(), _run_phases)

    async def _run_phases(dut, cfg: dict) -> None:
        """The phases in order; with ``min_cycles`` (long regressions) the list again, with new
        stimulus streams (the phase index goes on counting), until that many cycles have run."""
        tb = TB(dut, cfg)
        await tb.reset()
        stats, cycles = await run_phase_list(tb, dut, cfg["phases"], lambda st: st[5], cfg.get("min_cycles", 0))
        tb.coverage.write()
        if cfg.get("stats_path"):
            Path(cfg["stats_path"]).write_text(json.dumps({"cycles": cycles, "phases": len(stats),
                                                           "pulse_counts": sum(st[2] for st in stats)}))
        for k, name, n, nr, m, cyc, dt in stats:
            dut._log.info(f"phase {k} {name}: {n} PulseCounts, {nr} refreshes, {m} ProgramRequests, "
                          f"{cyc} cycles, {dt:.2f} s, 0 mismatches")
