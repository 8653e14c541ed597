"""UpdateUnit: golden rule, Amaranth-simulator and cocotb/Verilator runs against the golden cycle model."""
from __future__ import annotations

import random
import re

import numpy as np
import pytest

from golden.spec.handshake import make_gen
from golden.spec.params import AccelParams, ConfigError
from golden.spec.transactions import PulseCount, UpdateRequest
from golden.twins.update_unit import UpdateUnit as GoldenUpdateUnit
from golden.twins.update_unit import apply_many, clear_cycles, saturate, update_rule, update_unit_cycle_model
from hw.update_unit import UpdateUnit
from tb.envs.update_unit_tb import directed_requests, random_requests
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams, simulate
from tb.kit.runner import run_cocotb, to_verilog
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch


def P(**update) -> AccelParams:
    return AccelParams().with_(array={"rows": 4, "cols": 3}, update=update)


# --- (a) golden ------------------------------------------------------------------------------------

def pulse_loop(chi: int, dw: int, p: AccelParams) -> tuple[int, int]:
    """The rule as the papers state it: while |chi| >= eps emit a pulse, at most max_count."""
    u = p.update
    chi = saturate(chi + dw, u.chi_width)
    count = 0
    while abs(chi) >= u.eps and abs(count) < u.max_count:
        step = 1 if chi > 0 else -1
        chi -= step * u.eps
        count += step
    return chi, count


def test_rule_worked_examples():
    p = P(eps=100, count_width=2, chi_width=16, dw_width=12)
    assert update_rule(0, 250, p) == (50, 2)          # two pulses, remainder stays
    assert update_rule(0, -250, p) == (-50, -2)       # truncation toward zero, sign kept
    assert update_rule(0, 99, p) == (99, 0)           # below eps: nothing
    assert update_rule(-1, 1, p) == (0, 0)
    assert update_rule(0, 100, p) == (0, 1)           # exactly eps
    assert update_rule(0, 2047, p) == (2047 - 300, 3)  # max_count = 3 caps; the rest stays in chi
    assert update_rule(32767, 2047, p) == (32767 - 300, 3)   # saturation before the division
    assert update_rule(-32768, -2048, p) == (-32768 + 300, -3)


def test_rule_equals_pulse_loop(seed):
    rng = random.Random(seed)
    for cw, dww, eps, ccw in ((16, 12, 100, 2), (6, 4, 3, 1), (20, 16, 7, 8), (16, 12, 32767, 4), (2, 2, 1, 1)):
        p = AccelParams().with_(update={"chi_width": cw, "dw_width": dww, "eps": eps, "count_width": ccw})
        lo, hi = -(1 << (cw - 1)), (1 << (cw - 1)) - 1
        dlo, dhi = -(1 << (dww - 1)), (1 << (dww - 1)) - 1
        edges = [lo, hi, 0, eps, -eps, eps - 1, 1 - eps]
        for _ in range(3000):
            chi = rng.choice(edges) if rng.random() < 0.2 else rng.randint(lo, hi)
            dw = rng.choice((dlo, dhi, 0)) if rng.random() < 0.2 else rng.randint(dlo, dhi)
            new, count = update_rule(chi, dw, p)
            assert (new, count) == pulse_loop(chi, dw, p), (seed, cw, chi, dw)
            assert lo <= new <= hi and abs(count) <= p.update.max_count


def test_apply_many_matches_scalar(seed):
    rng = np.random.default_rng(seed)
    p = P(eps=77, count_width=3, chi_width=14, dw_width=10)
    chi = rng.integers(-(1 << 13), 1 << 13, size=(40, 30))
    chi[0, :4] = [-(1 << 13), (1 << 13) - 1, 0, 77]
    dw = rng.integers(-(1 << 9), 1 << 9, size=chi.shape)
    new, counts = apply_many(chi, dw, p)
    for idx in np.ndindex(chi.shape):
        assert (new[idx], counts[idx]) == update_rule(int(chi[idx]), int(dw[idx]), p)
    with pytest.raises(ValueError, match="dw_width"):
        apply_many(chi, dw * 4, p)
    with pytest.raises(ValueError, match="chi_width"):
        apply_many(chi * 4, dw, p)


def test_transaction_twin_checks_its_inputs():
    p = AccelParams().with_(array={"rows": 5, "cols": 3})
    unit = GoldenUpdateUnit(p)
    assert unit.request(UpdateRequest(4, 2, p.update.eps)) == PulseCount(4, 2, 1)
    with pytest.raises(ValueError, match="outside"):
        unit.apply(5, 0, 1)
    with pytest.raises(ValueError, match="dw_width"):
        unit.apply(0, 0, 1 << p.update.dw_width)


def test_cycle_model_latency_and_throughput():
    p = P(eps=1, count_width=1)
    reqs = [UpdateRequest(i % 4, i % 3, 1) for i in range(50)]  # every request emits one pulse
    tr = update_unit_cycle_model(p, reqs, make_gen(1.0, 0, 0), make_gen(1.0, 0, 1))
    assert [c for c, _ in tr.accepted] == list(range(50))        # one request per cycle
    assert [c for c, _ in tr.emitted] == list(range(2, 52))      # latency 2
    # count-0 requests never wait for a stalled output
    reqs = [UpdateRequest(0, 0, 1)] + [UpdateRequest(1, 1, 0)] * 10
    tr = update_unit_cycle_model(p, reqs, make_gen(1.0, 0, 0), make_gen(["pattern", [0] * 20 + [1]], 0, 1))
    assert [c for c, _ in tr.accepted] == list(range(11))


def test_cycle_model_clear_walk():
    """After reset the first request waits rows*cols cycles; a clear drops the request in B, zeroes
    chi and blocks the input for its own cycle plus rows*cols cycles."""
    p = P(eps=100, count_width=2)
    n = clear_cycles(p)
    assert n == 12
    reqs = [UpdateRequest(1, 2, 60)] * 4
    tr = update_unit_cycle_model(p, reqs, make_gen(1.0, 0, 0), make_gen(1.0, 0, 1), clearing=n)
    assert [c for c, _ in tr.accepted] == [n, n + 1, n + 2, n + 3]
    assert [c for c, _ in tr.emitted] == [n + 3, n + 5]          # chi 60, 120 -> 1 pulse, 80, 140 -> 1
    # clear in cycle 1: the request accepted in cycle 0 is dropped, the next waits for the walk
    tr = update_unit_cycle_model(p, reqs, make_gen(1.0, 0, 0), make_gen(1.0, 0, 1), clears=[1])
    assert [c for c, _ in tr.accepted] == [0, n + 2, n + 3, n + 4]
    assert tr.dropped == [(1, reqs[0])] and tr.chi[1, 2] == 80 and len(tr.emitted) == 1
    unit = GoldenUpdateUnit(p)
    unit.apply(0, 0, 99)
    tr = update_unit_cycle_model(p, [], make_gen(1.0, 0, 0), make_gen(1.0, 0, 1), unit=unit, clears=[3])
    assert tr.cycles == 4 + n and not tr.chi.any()


@pytest.mark.parametrize("section, field, value", [
    ("update", "eps", 0), ("update", "eps", 1 << 15), ("update", "chi_width", 8),
    ("update", "count_width", 9), ("update", "dw_width", 1), ("array", "rows", 0), ("array", "cols", 5000)])
def test_bad_parameters_name_the_field(section, field, value):
    with pytest.raises(ConfigError, match=rf"{section}\.{field}"):
        UpdateUnit.from_params(AccelParams().with_(**{section: {field: value}}))


# --- (b) Amaranth simulator against the golden cycle model ------------------------------------------

def run_amaranth(p: AccelParams, reqs, vspec, rspec, seed, expected=None, clears=()):
    """Run the RTL in Amaranth's simulator from power-up (the clear walk first), with ``clear``
    pulses in the cycles ``clears``; returns (trace, seconds)."""
    tr = update_unit_cycle_model(p, reqs, make_gen(vspec, seed, 1), make_gen(rspec, seed, 2),
                                 clearing=clear_cycles(p), clears=clears)
    dut = UpdateUnit(p)
    src = SimSource(dut.i, reqs, make_gen(vspec, seed, 1))
    snk = SimSink(dut.o, make_gen(rspec, seed, 2), convert=lambda d: PulseCount(**d))
    flags = {"clearing": []}
    clear_set = set(clears)

    def clear_hook(ctx, cycle):
        ctx.set(dut.clear, int(cycle in clear_set))
        flags["clearing"].append(ctx.get(dut.clearing))

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], until=lambda c: c >= tr.cycles + 4, hooks=[clear_hook])
        flags["addr_error"] = ctx.get(dut.addr_error)

    dt = simulate(dut, bench)
    sb = Scoreboard("update_unit (amaranth sim)", seed)
    sb.check(tr.accepted, src.sent)
    sb.check(expected if expected is not None else tr.emitted, snk.received)
    assert flags["addr_error"] == tr.addr_error, f"addr_error mismatch (seed {seed})"
    walk = flags["clearing"]
    assert walk[:clear_cycles(p)] == [1] * clear_cycles(p) and walk[clear_cycles(p)] == 0, (seed, walk[:40])
    for c in clears:   # ``clearing`` rises the cycle after a clear pulse and lasts rows*cols cycles
        assert walk[c + 1:c + 1 + clear_cycles(p)] == [1] * clear_cycles(p), (seed, c)
    return tr, dt


SIM_CONFIGS = {
    "4x3-eps100": (P(eps=100, count_width=2), 0.7, 0.6),
    "1x1-narrow": (AccelParams().with_(array={"rows": 1, "cols": 1},
                                       update={"dw_width": 4, "chi_width": 6, "eps": 3, "count_width": 1}), 1.0, 0.3),
    "5x3-eps7-cw8": (AccelParams().with_(array={"rows": 5, "cols": 3},
                                         update={"dw_width": 16, "chi_width": 20, "eps": 7, "count_width": 8}),
                     ["burst", 0.6], ["burst", 0.5]),
}


@pytest.mark.parametrize("name", SIM_CONFIGS)
def test_amaranth_sim_random(name, seed):
    p, vspec, rspec = SIM_CONFIGS[name]
    reqs = [r for d in ("saturate", "threshold", "back_to_back", "out_of_range") for r in directed_requests(p, d)]
    reqs += random_requests(p, seed, 600, hot=4)
    tr, dt = run_amaranth(p, reqs, vspec, rspec, seed)
    print(f"{name}: {len(reqs)} requests, {len(tr.emitted)} PulseCounts, {tr.cycles} cycles, "
          f"{tr.cycles / dt:.0f} cycles/s (Amaranth sim)")


def test_amaranth_sim_clear_pulses(seed):
    """``clear`` pulses at random cycles (also while requests are in flight) against the cycle model:
    the same accepted requests, PulseCounts and dropped requests, cycle by cycle."""
    p, vspec, rspec = SIM_CONFIGS["4x3-eps100"]
    rng = random.Random(f"clear/{seed}")
    reqs = random_requests(p, seed, 300, hot=3)
    clears = sorted(rng.sample(range(clear_cycles(p), 400), 6))
    print(f"seed {seed}: clear pulses in cycles {clears}")
    tr, _ = run_amaranth(p, reqs, vspec, rspec, seed, clears=clears)
    assert tr.emitted and len(tr.accepted) == len(reqs)


# --- (d) the scoreboard reports a wrong expectation with its cycle -----------------------------------

def test_scoreboard_reports_mutated_expectation(seed):
    p, vspec, rspec = SIM_CONFIGS["4x3-eps100"]
    reqs = random_requests(p, seed, 200, hot=2)
    tr = update_unit_cycle_model(p, reqs, make_gen(vspec, seed, 1), make_gen(rspec, seed, 2),
                                 clearing=clear_cycles(p))
    k = len(tr.emitted) // 2
    cyc, pc = tr.emitted[k]
    mutated = list(tr.emitted)
    mutated[k] = (cyc, PulseCount(pc.row, pc.col, pc.count + 1))
    with pytest.raises(ScoreboardMismatch, match=rf"index {k}, cycle {cyc}:.*seed {seed}") as e:
        run_amaranth(p, reqs, vspec, rspec, seed, expected=mutated)
    assert e.value.cycle == cyc
    late = list(tr.emitted)
    late[k] = (cyc + 1, pc)  # right value, wrong cycle
    with pytest.raises(ScoreboardMismatch, match=rf"index {k}, cycle {cyc + 1}"):
        run_amaranth(p, reqs, vspec, rspec, seed, expected=late)


# --- (c) cocotb under Verilator ----------------------------------------------------------------------

DIRECTED = [{"kind": "directed", "name": n} for n in ("saturate", "threshold", "back_to_back", "out_of_range")]

COCOTB_CONFIGS = {
    # small array, eps not a power of two, max_count 3: many capped requests
    "4x3-eps100": (P(eps=100, count_width=2),
                   DIRECTED + [{"kind": "random", "n": 3000, "valid": 0.7, "ready": 0.6, "hot": 0},
                               {"kind": "random", "n": 500, "valid": 0.9, "ready": 0.6, "hot": 2,
                                "clears": [40, 41, 45, 300]},
                               # fixed patterns on both handshakes (the pattern class of the generators)
                               {"kind": "random", "n": 300, "valid": ["pattern", [1, 1, 0, 1, 0, 0, 0, 1] + [0] * 17],
                                "ready": ["pattern", [0, 1, 1, 0, 1, 0, 0, 0, 0, 1] + [0] * 17], "hot": 2}]),
    # the large array: hot synapses give repeated updates of one chi anywhere in the memory
    "256x128-eps256": (AccelParams().with_(array={"rows": 256, "cols": 128}),
                       DIRECTED + [{"kind": "random", "n": 3000, "valid": ["burst", 0.7],
                                    "ready": ["burst", 0.6], "hot": 24}]),
    # narrowest formats: constant saturation, one pulse per request
    "1x1-narrow": (SIM_CONFIGS["1x1-narrow"][0],
                   DIRECTED + [{"kind": "random", "n": 2000, "valid": 1.0, "ready": 0.3}]),
    # rows/cols not powers of two (address errors), 8-bit counts, full throughput
    "5x3-eps7-cw8": (SIM_CONFIGS["5x3-eps7-cw8"][0],
                     DIRECTED + [{"kind": "random", "n": 2500, "valid": 1.0, "ready": 0.9}]),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("name", COCOTB_CONFIGS)
def test_cocotb_update_unit(name, seed):
    p, phases = COCOTB_CONFIGS[name]
    res = run_cocotb(UpdateUnit.from_params(p), toplevel="update_unit", test_module="tb.envs.update_unit_tb",
                     config={"params": p.to_dict(), "seed": seed, "phases": phases})
    n = sum(len(directed_requests(p, ph["name"])) if ph["kind"] == "directed" else ph["n"] for ph in phases)
    print(f"update_unit {name}: {n} requests, 0 mismatches, build {res.build_seconds:.1f} s, "
          f"run {res.run_seconds:.1f} s")


@pytest.mark.cocotb
def test_cocotb_scoreboard_catches_wrong_model(seed):
    """The golden model run with eps + 1 (a deliberately wrong expectation) must be reported as a
    mismatch naming its cycle; the cocotb test passes only then (``expect_mismatch``)."""
    p, _ = COCOTB_CONFIGS["4x3-eps100"]
    wrong = p.with_(update={"eps": p.update.eps + 1}).to_dict()
    res = run_cocotb(UpdateUnit.from_params(p), toplevel="update_unit", test_module="tb.envs.update_unit_tb",
                     config={"params": p.to_dict(), "golden_params": wrong, "expect_mismatch": True,
                             "seed": seed, "phases": [{"kind": "random", "n": 300, "valid": 0.7, "ready": 0.6}]})
    log = (res.results_xml.parent / "sim.log").read_text()
    assert re.search(rf"expected mismatch reported: scoreboard .* mismatch at index \d+, cycle \d+: .*"
                     rf"\(seed {seed}\)", log), log[-2000:]


# --- (e) random power-up state: Verilog without initial values, Verilator's --x-initial unique --------

X_RANDOM_BUILD = ("--x-assign", "unique", "--x-initial", "unique")


def x_random_plusargs(seed: int) -> tuple[str, ...]:
    """Every uninitialised register and memory word random, drawn from ``seed`` (Verilator runtime)."""
    return ("+verilator+rand+reset+2", f"+verilator+seed+{seed % 2_000_000_000 + 1}")


class UpdateUnitWithoutClearWalk(UpdateUnit):
    """The UpdateUnit as it was before the hardware clear: chi is never written after reset."""

    def _clear_walk(self, m, ram, aw):
        m.d.comb += self.clearing.eq(0)


X_PHASES = DIRECTED + [{"kind": "random", "n": 1500, "valid": 0.8, "ready": 0.7, "hot": 2}]


def _run_x_random(dut, p, seed, **config):
    text = to_verilog(dut, "update_unit", initial_values=False)
    assert "initial" not in text and " = 0;" not in text.replace("dump_module$1  = 0;", "")
    print(f"seed {seed}: Verilator random power-up state {x_random_plusargs(seed)}")
    return run_cocotb(dut, toplevel="update_unit", test_module="tb.envs.update_unit_tb", verilog_text=text,
                      build_args=X_RANDOM_BUILD, plusargs=x_random_plusargs(seed),
                      config={"params": p.to_dict(), "seed": seed, "phases": X_PHASES, **config})


@pytest.mark.cocotb
def test_cocotb_random_power_up_state_matches_golden(seed):
    """Registers and chi start random (no initial values): reset and the clear walk alone bring the
    unit to golden's state, cycle for cycle."""
    p = COCOTB_CONFIGS["4x3-eps100"][0]
    _run_x_random(UpdateUnit.from_params(p), p, seed)


@pytest.mark.cocotb
def test_cocotb_random_power_up_state_needs_the_clear_walk(seed):
    """The same run without the clear walk: chi garbage changes the pulse counts, and the scoreboard
    reports it (the test passes only on that mismatch)."""
    p = COCOTB_CONFIGS["4x3-eps100"][0]
    res = _run_x_random(UpdateUnitWithoutClearWalk(p), p, seed, reset_clear=False, expect_mismatch=True)
    log = (res.results_xml.parent / "sim.log").read_text()
    assert "expected mismatch reported" in log, log[-2000:]
