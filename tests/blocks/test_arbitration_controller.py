"""ArbitrationController: golden spec, Amaranth-simulator and cocotb/Verilator runs against the cycle model."""
from __future__ import annotations

import math
import random
import re

import pytest

from golden.spec.handshake import make_gen
from golden.spec.params import AccelParams, ConfigError
from golden.spec.transactions import RESET, SET, ProgramRequest, PulseCount
from golden.twins.arbitration_controller import END_CYCLE, RefreshRequest, arbitration_cycle_model
from golden.twins.arbitration_controller import ArbitrationController as GoldenArbiter
from hw.arbitration_controller import ArbitrationController
from tb.envs.arbitration_controller_tb import count_requests, directed_events, random_events
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams, simulate
from tb.kit.runner import run_cocotb
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch


def P(array=None, update=None, **synapse) -> AccelParams:
    return AccelParams().with_(array=array or {"rows": 4, "cols": 3}, synapse=synapse, update=update or {})


# --- (a) golden ------------------------------------------------------------------------------------

@pytest.mark.parametrize("diff", [False, True])
def test_first_update_cycle_selects_device_zero(diff):
    g = GoldenArbiter(P(devices=4, increment=3, differential=diff))
    assert g.decision() == (0, 4 if diff else 0, True, True)
    assert g.select(PulseCount(1, 2, 3)) == ProgramRequest(1, 2, 0, SET, 3)
    assert g.select(PulseCount(1, 2, -2)) == (ProgramRequest(1, 2, 4, SET, 2) if diff
                                               else ProgramRequest(1, 2, 0, RESET, 2))


def test_counter_visits_every_device_for_every_coprime_increment():
    for n in range(1, 13):
        for inc in range(1, max(2, n)):
            if math.gcd(inc, n) != 1:
                continue
            g = GoldenArbiter(P(devices=n, increment=inc, differential=True))
            pot, dep = [], []
            for _ in range(n):
                pot.append(g.select(PulseCount(0, 0, 1)).slot)
                dep.append(g.select(PulseCount(0, 0, -1)).slot)
                g.end_cycle()
            assert pot == [(k * inc) % n for k in range(n)], (n, inc)
            assert sorted(pot) == list(range(n)) and sorted(dep) == list(range(n, 2 * n)), (n, inc)
            assert (g.sel_pos, g.sel_neg) == (0, 0)  # back at the start after N advances


def test_group_counter_advances_only_when_used():
    g = GoldenArbiter(P(devices=5, increment=2, differential=True))
    g.select(PulseCount(0, 0, 1))
    g.end_cycle()                                    # only G+ used
    assert (g.sel_pos, g.sel_neg) == (2, 0)
    g.select(PulseCount(0, 0, -1))
    g.end_cycle()                                    # only G- used
    assert (g.sel_pos, g.sel_neg) == (2, 2)
    g.select(PulseCount(0, 0, 0))
    g.end_cycle()                                    # nothing issued: no advance
    assert (g.sel_pos, g.sel_neg) == (2, 2)
    g = GoldenArbiter(P(devices=5, increment=2))
    g.select(PulseCount(0, 0, -1))
    g.end_cycle()                                    # non-differential: depression uses G+
    assert g.sel_pos == 2


def test_periods_skip_and_count():
    g = GoldenArbiter(P(devices=2, pot_period=3, dep_period=2))
    issued = []
    for _ in range(12):
        issued.append((g.select(PulseCount(0, 0, 1)) is not None, g.select(PulseCount(0, 0, -1)) is not None))
        g.end_cycle()
    assert [a for a, _ in issued] == [k % 3 == 0 for k in range(12)]
    assert [b for _, b in issued] == [k % 2 == 0 for k in range(12)]
    assert g.skipped == sum(not a for a, _ in issued) + sum(not b for _, b in issued)


def test_refresh_resets_every_slot_and_leaves_counters():
    g = GoldenArbiter(P(devices=3, increment=2, differential=True, refresh_pulses=7))
    g.select(PulseCount(0, 0, 1))
    before = (g.sel_pos, g.sel_neg, g.skipped)
    assert g.refresh(2, 1) == [ProgramRequest(2, 1, d, RESET, 7) for d in range(6)]
    assert (g.sel_pos, g.sel_neg, g.skipped) == before and g.refreshes == 1


def test_select_rejects_counts_beyond_max_count():
    g = GoldenArbiter(P(update={"count_width": 2}))
    with pytest.raises(ValueError, match="max_count"):
        g.select(PulseCount(0, 0, 4))
    assert g.select(PulseCount(0, 0, 0)) is None and g.skipped == 0


@pytest.mark.parametrize("diff", [False, True])
def test_vectorised_view_matches_select(diff, seed):
    """decision() + record() (the training path) gives the same requests and state as select()."""
    p = P(devices=4, increment=3, differential=diff, pot_period=2, dep_period=3)
    a, b = GoldenArbiter(p), GoldenArbiter(p)
    rng = random.Random(seed)
    for _ in range(200):
        counts = [rng.randint(-15, 15) for _ in range(rng.randint(0, 5))]
        got_a = [a.select(PulseCount(0, 0, c)) for c in counts]
        d = b.decision()
        got_b = []
        for c in counts:
            if c > 0 and d.pot_enabled:
                got_b.append(ProgramRequest(0, 0, d.pot_slot, SET, c))
            elif c < 0 and d.dep_enabled:
                got_b.append(ProgramRequest(0, 0, d.dep_slot, b.dep_polarity, -c))
            else:
                got_b.append(None)
        b.record(pot_issued=any(c > 0 for c in counts) and d.pot_enabled,
                 dep_issued=any(c < 0 for c in counts) and d.dep_enabled,
                 skipped=sum(1 for c in counts if (c > 0 and not d.pot_enabled) or (c < 0 and not d.dep_enabled)))
        assert got_a == got_b
        a.end_cycle()
        b.end_cycle()
        assert (a.sel_pos, a.sel_neg, a.pot_phase, a.dep_phase, a.skipped) == \
               (b.sel_pos, b.sel_neg, b.pot_phase, b.dep_phase, b.skipped)


def test_cycle_model_latency_throughput_and_refresh_priority():
    p = P(devices=3, increment=1, differential=True)  # D = 6

    def always():
        return make_gen(1.0, 0, 0)

    ev = [PulseCount(0, 0, 1)] * 10 + [END_CYCLE]
    tr = arbitration_cycle_model(p, ev, [], always(), always(), always())
    assert [c for c, _ in tr.accepted] == list(range(10)) and [c for c, _ in tr.emitted] == list(range(1, 11))
    # a refresh valid in the same cycle as a PulseCount goes first, its 6 requests back to back
    tr = arbitration_cycle_model(p, ev, [RefreshRequest(1, 1)], always(), always(), always())
    assert tr.refreshes == [(0, RefreshRequest(1, 1))]
    assert [r.slot for _, r in tr.emitted[:6]] == list(range(6)) and [c for c, _ in tr.emitted[:6]] == list(range(1, 7))
    assert tr.accepted[0][0] == 6  # the PulseCount waits until the last refresh slot is loaded


@pytest.mark.parametrize("synapse, field", [
    ({"devices": 4, "increment": 2}, "synapse.increment"),
    ({"devices": 6, "increment": 6}, "synapse.increment"),
    ({"devices": 0}, "synapse.devices"),
    ({"devices": 65}, "synapse.devices"),
    ({"pot_period": 0}, "synapse.pot_period"),
    ({"dep_period": 257}, "synapse.dep_period"),
    ({"refresh_pulses": 256}, "synapse.refresh_pulses"),
    ({"differential": 1}, "synapse.differential"),
])
def test_bad_parameters_name_the_field(synapse, field):
    with pytest.raises(ConfigError, match=re.escape(field)):
        ArbitrationController.from_params(AccelParams().with_(synapse=synapse))


# --- (b) Amaranth simulator against the golden cycle model ------------------------------------------

def run_amaranth(p, events, refreshes, specs, seed, mutate=None):
    def gens():
        return tuple(make_gen(s, seed, 10 + k) for k, s in enumerate(specs))

    tr = arbitration_cycle_model(p, events, refreshes, *gens())
    gv, gr, go = gens()
    dut = ArbitrationController(p)
    src = SimSource(dut.i, events, gv, strobe=(END_CYCLE, dut.end_cycle))
    rsrc = SimSource(dut.refresh, refreshes, gr)
    snk = SimSink(dut.o, go, convert=lambda d: ProgramRequest(**d))
    status = []

    def sample_status(ctx, c):
        if c - 1 in src.strobes[-2:]:
            status.append((c, (ctx.get(dut.sel_pos), ctx.get(dut.sel_neg), ctx.get(dut.skipped))))

    async def bench(ctx):
        await run_streams(ctx, [src, rsrc], [snk], hooks=[sample_status], until=lambda c: c >= tr.cycles + 4)

    dt = simulate(dut, bench)
    emitted = mutate(tr.emitted) if mutate else tr.emitted
    sb = Scoreboard("arbitration_controller (amaranth sim)", seed)
    sb.check(tr.accepted, src.sent)
    sb.check([(c, "end_cycle") for c in tr.strobes], [(c, "end_cycle") for c in src.strobes])
    sb.check(tr.refreshes, rsrc.sent)
    sb.check(emitted, snk.received)
    sb.check([(s[0], s[1:]) for s in tr.status], status)
    return tr, dt


SIM_CONFIGS = {
    "n1": P(devices=1, pot_period=2),
    "n3-diff": P(devices=3, increment=2, differential=True, dep_period=3, refresh_pulses=2),
    "n4-periods": P(devices=4, increment=3, pot_period=3, dep_period=2),
    "n8-diff": P(array={"rows": 32, "cols": 32}, devices=8, increment=5, differential=True,
                 update={"count_width": 8}),
}


@pytest.mark.parametrize("name", SIM_CONFIGS)
def test_amaranth_sim_random(name, seed):
    p = SIM_CONFIGS[name]
    events, refreshes = [], []
    for d in ("rotation", "groups", "periods", "refresh"):
        e, r = directed_events(p, d)
        events += e
        refreshes += r
    e, r = random_events(p, seed, 500, n_refresh=5)
    tr, dt = run_amaranth(p, events + e, refreshes + r, (0.7, 0.05, 0.6), seed)
    print(f"{name}: {count_requests(events + e)} PulseCounts, {len(refreshes + r)} refreshes, "
          f"{len(tr.emitted)} ProgramRequests, {tr.cycles} cycles, {tr.cycles / dt:.0f} cycles/s (Amaranth sim)")


# --- (d) the scoreboard reports a wrong expectation with its cycle -----------------------------------

def test_scoreboard_reports_mutated_expectation(seed):
    p = SIM_CONFIGS["n3-diff"]
    events, refreshes = random_events(p, seed, 150, n_refresh=2)
    k = {}

    def wrong_slot(emitted):
        k["i"] = i = len(emitted) // 2
        cyc, r = emitted[i]
        k["cycle"] = cyc
        return emitted[:i] + [(cyc, ProgramRequest(r.row, r.col, (r.slot + 1) % 6, r.polarity, r.count))] + emitted[i + 1:]

    with pytest.raises(ScoreboardMismatch) as e:
        run_amaranth(p, events, refreshes, (0.7, 0.05, 0.6), seed, mutate=wrong_slot)
    assert e.value.index == k["i"] and e.value.cycle == k["cycle"]
    assert f"cycle {k['cycle']}" in str(e.value) and f"seed {seed}" in str(e.value)


# --- (c) cocotb under Verilator ----------------------------------------------------------------------

DIRECTED = [{"kind": "directed", "name": n} for n in ("rotation", "groups", "periods", "refresh", "refresh_idle")]


def _random(n, refresh, valid, rvalid, ready):
    return {"kind": "random", "n": n, "refresh": refresh, "valid": valid, "refresh_valid": rvalid, "ready": ready}


COCOTB_CONFIGS = {
    "n1-4x3": (P(devices=1, refresh_pulses=3),
               DIRECTED + [_random(2000, 10, 0.8, 0.02, 0.7),
                           # fixed handshake patterns (the pattern class of the generators)
                           _random(300, 8, ["pattern", [1, 0, 1, 1] + [0] * 17], ["pattern", [0, 0, 0, 1]],
                                   ["pattern", [1, 0, 1, 1, 0, 0, 0]])]),
    "n2-diff-4x3": (P(devices=2, differential=True, pot_period=2),
                    DIRECTED + [_random(2500, 20, 0.7, 0.02, 0.6)]),
    "n3-256x128": (P(array={"rows": 256, "cols": 128}, devices=3, increment=2, dep_period=3),
                   DIRECTED + [_random(2500, 20, ["burst", 0.7], 0.01, ["burst", 0.6])]),
    "n4-diff-256x128": (P(array={"rows": 256, "cols": 128}, devices=4, increment=3, differential=True,
                          pot_period=3, dep_period=2, update={"count_width": 8}),
                        DIRECTED + [_random(2500, 20, 0.6, 0.02, 0.5)]),
    "n8-diff-32x32": (P(array={"rows": 32, "cols": 32}, devices=8, increment=5, differential=True,
                        refresh_pulses=255),
                      DIRECTED + [_random(2500, 15, 1.0, 0.01, 0.9)]),
}


#: the configurations `make test` runs (one plain, one differential on the large array); the others are
#: `extended` (`make test-extended`, `make regress`)
COCOTB_RUNS_IN_MAKE_TEST = ("n1-4x3", "n4-diff-256x128")


@pytest.mark.cocotb
@pytest.mark.parametrize("name", [n if n in COCOTB_RUNS_IN_MAKE_TEST else pytest.param(n, marks=pytest.mark.extended)
                                  for n in COCOTB_CONFIGS])
def test_cocotb_arbitration_controller(name, seed):
    p, phases = COCOTB_CONFIGS[name]
    res = run_cocotb(ArbitrationController.from_params(p), toplevel="arbitration_controller",
                     test_module="tb.envs.arbitration_controller_tb",
                     config={"params": p.to_dict(), "seed": seed, "phases": phases})
    n = sum(count_requests(directed_events(p, ph["name"])[0]) if ph["kind"] == "directed" else ph["n"]
            for ph in phases)
    print(f"arbitration_controller {name}: {n} PulseCounts, 0 mismatches, build {res.build_seconds:.1f} s, "
          f"run {res.run_seconds:.1f} s")


@pytest.mark.cocotb
def test_cocotb_scoreboard_catches_wrong_model(seed):
    """The golden model run with another increment (a deliberately wrong expectation) must be
    reported as a mismatch naming its cycle; the cocotb test passes only then."""
    p, _ = COCOTB_CONFIGS["n3-256x128"]
    wrong = p.with_(synapse={"increment": 1}).to_dict()
    res = run_cocotb(ArbitrationController.from_params(p), toplevel="arbitration_controller",
                     test_module="tb.envs.arbitration_controller_tb",
                     config={"params": p.to_dict(), "golden_params": wrong, "expect_mismatch": True, "seed": seed,
                             "phases": [{"kind": "directed", "name": "rotation"}]})
    log = (res.results_xml.parent / "sim.log").read_text()
    assert re.search(rf"expected mismatch reported: scoreboard .* mismatch at index \d+, cycle \d+: .*"
                     rf"\(seed {seed}\)", log), log[-2000:]
