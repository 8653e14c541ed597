"""PulseScheduler: golden timing rules, Amaranth-sim and Verilator/cocotb runs against the cycle model."""
from __future__ import annotations

import json
import random

import pytest
from amaranth.sim import Simulator

from golden.physics.crossbar_state import CrossbarArray, FollowingReader
from golden.physics.device import DeviceModel
from golden.spec.handshake import random_gen
from golden.spec.params import AccelParams, ConfigError, TimingParams
from golden.spec.transactions import RESET, SET, ProgramRequest, Pulse
from golden.twins.pulse_scheduler import (
    ErrorCode,
    ReadCommand,
    ReadResult,
    ReadStrobe,
    occupancy,
    pulses_for,
    schedule,
    scheduler_cycle_model,
)
from hw.pulse_scheduler import PulseScheduler
from tb.envs.pulse_scheduler_tb import check_pulse_counts, random_reads, random_requests
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch
from tb.tops.programming_path import SchedulerWithAddressing

# ----------------------------------------------------------------------------------------------
# configurations: N in {1,2,3,4,8}, differential on/off, small and large arrays, 1T1R/2T2R, timing


def cfg(rows, cols, cell, n, diff, verify, setup=1, width=2, gap=1, settle=1, read=2, count_width=4):
    inc = 1 if n == 1 else (n - 1)   # co-prime with n
    return AccelParams().with_(array={"rows": rows, "cols": cols, "cell": cell},
                               synapse={"devices": n, "increment": inc, "differential": diff},
                               update={"count_width": count_width},
                               timing={"setup": setup, "width": width, "gap": gap, "settle": settle,
                                       "read": read, "verify": verify})


CONFIGS = {
    "n1-tiny-verify": cfg(3, 5, "1T1R", 1, False, True, 1, 1, 1, 1, 1),
    "n2-diff-2t2r": cfg(7, 3, "2T2R", 2, True, False, 2, 3, 2, 1, 2),
    "n3-32x32-verify": cfg(32, 32, "1T1R", 3, False, True, 1, 2, 1, 2, 3),
    "n4-diff-large-2t2r": cfg(256, 64, "2T2R", 4, True, True, 3, 1, 4, 2, 1),
    "n8-wide-timing": cfg(100, 20, "1T1R", 8, False, False, 4, 5, 3, 6, 2, count_width=5),
}


# ----------------------------------------------------------------------------------------------
# golden unit tests


def test_pulses_for_follows_the_timing_diagram():
    p = cfg(4, 4, "1T1R", 4, False, False, setup=3, width=2, gap=5)
    req = ProgramRequest(row=2, col=3, slot=1, polarity=SET, count=3)
    assert pulses_for(p, req) == [Pulse(4, 2, 13, SET), Pulse(11, 2, 13, SET), Pulse(18, 2, 13, SET)]
    assert occupancy(p, 3) == 1 + 3 + 3 * 2 + 2 * 5 + 1
    pv = p.with_(timing={"verify": True, "read": 4})
    assert occupancy(pv, 3) == occupancy(p, 3) + 4 + 1
    assert occupancy(pv, 3, read_latency=0) == occupancy(p, 3) + 4


@pytest.mark.parametrize("field,value,code", [("row", 4, ErrorCode.ROW), ("col", 5, ErrorCode.COL),
                                              ("slot", 4, ErrorCode.SLOT), ("count", 0, ErrorCode.COUNT)])
def test_rejected_requests_make_no_pulse_and_one_cycle(field, value, code):
    p = cfg(4, 5, "1T1R", 4, False, True)
    base = {"row": 1, "col": 1, "slot": 1, "polarity": RESET, "count": 2}
    bad = ProgramRequest(**{**base, field: value})
    good = ProgramRequest(**base)
    assert pulses_for(p, bad) == []
    tr = scheduler_cycle_model(p, [bad, good])
    assert [c for c, _ in tr.accepted] == [0, 1]           # the rejected one took one cycle
    assert tr.error_rise == 1 and tr.error_code == code
    assert tr.pulses == schedule(p, [(1, good)])


def test_round_robin_and_read_timing():
    p = cfg(4, 4, "1T1R", 1, False, False, setup=2, read=3)
    reqs = [ProgramRequest(0, 0, 0, SET, 1), ProgramRequest(1, 1, 0, RESET, 1)]
    reads = [ReadCommand(2, 3), ReadCommand(3, 9)]          # the second is outside the array
    tr = scheduler_cycle_model(p, reqs, reads, read_value=lambda r, c, ps: 10 * r + c)
    L = occupancy(p, 1)
    # write first after reset, then the read (round robin), then the write, then the bad read
    assert [c for c, _ in tr.accepted] == [0, L + 2 + 3 + 1 + 1 + 1]
    assert [c for c, _ in tr.reads_accepted] == [L, 2 * L + 2 + 3 + 1 + 1 + 1]
    assert tr.strobes == [ReadStrobe(L + 3, 2, 3)]
    assert tr.results == [(L + 2 + 3 + 1 + 1, ReadResult(23, 0)),
                          (2 * L + 2 + 3 + 1 + 1 + 1 + 1, ReadResult(0, 1))]
    assert tr.error_code == ErrorCode.READ_COL


def test_bad_timing_parameters_name_the_field():
    for f in ("setup", "width", "gap", "settle", "read"):
        with pytest.raises(ConfigError, match=rf"timing\.{f} = 0 is out of range: allowed \[1, 255\]"):
            TimingParams(**{f: 0})
    with pytest.raises(ConfigError, match=r"timing\.width = 256"):
        AccelParams().with_(timing={"width": 256})
    with pytest.raises(ConfigError, match="data_width = 0"):
        PulseScheduler(AccelParams(), data_width=0)
    with pytest.raises(ConfigError, match="read_latency = -1"):
        PulseScheduler(AccelParams(), read_latency=-1)


# ----------------------------------------------------------------------------------------------
# Amaranth simulator: RTL (Asserts active) against the golden cycle model


def hold_bursts(seed: int, max_run: int = 12):
    """The ``hold`` input as alternating low and high runs of 1 .. ``max_run`` cycles (seeded)."""
    rng = random.Random(seed * 7919 + 4)
    level = False
    while True:
        for _ in range(rng.randint(1, max_run)):
            yield level
        level = not level


def run_amaranth(params: AccelParams, seed: int, n_req: int, n_reads: int, *,
                 dut: PulseScheduler | None = None, p_valid=0.6, p_rvalid=0.3, p_ready=0.5,
                 hold: bool = False) -> None:
    dut = dut if dut is not None else PulseScheduler(params, exclusion=hold)
    rng = random.Random(seed)
    reqs = random_requests(params, rng, n_req)
    reads = random_reads(params, rng, n_reads)
    device = DeviceModel(seed=seed)
    reader = FollowingReader(CrossbarArray(params, device))
    want = scheduler_cycle_model(params, reqs, reads, valid_gen=random_gen(seed, p_valid, 1),
                                 read_valid_gen=random_gen(seed, p_rvalid, 2),
                                 resp_ready_gen=random_gen(seed, p_ready, 3), read_value=reader,
                                 read_latency=dut.read_latency,
                                 hold_gen=hold_bursts(seed) if hold else None)
    golden_array = reader.finish(want.pulses)

    src = SimSource(dut.i, reqs, valid_gen=random_gen(seed, p_valid, 1))
    rsrc = SimSource(dut.rd_cmd, reads, valid_gen=random_gen(seed, p_rvalid, 2))
    sink = SimSink(dut.rd_resp, ready_gen=random_gen(seed, p_ready, 3), convert=lambda d: ReadResult(**d))
    array = CrossbarArray(params, device)
    got = {"pulses": [], "strobes": [], "verify": [], "error": [], "active": []}
    prev = {"we": 0, "re": 0, "err": 0, "act": 0}
    holds = hold_bursts(seed)

    def drive_hold(ctx, cycle):
        # one draw per cycle, as in the cycle model; prog_active intervals [first, end)
        ctx.set(dut.hold, next(holds))
        act = ctx.get(dut.prog_active)
        if act and not prev["act"]:
            got["active"].append([cycle, None])
        elif prev["act"] and not act:
            got["active"][-1][1] = cycle
        prev["act"] = act

    def hook(ctx, cycle):
        c = dut.cmd
        we, re, err = ctx.get(c.we), ctx.get(c.re), ctx.get(dut.error)
        if we and not prev["we"]:
            row, pc, pol = ctx.get(c.row), ctx.get(c.phys_col), ctx.get(c.polarity)
            got["pulses"].append(Pulse(cycle, row, pc, pol))
            array.pulse(row, pc, pol)
        if re and not prev["re"]:
            row, pc = ctx.get(c.row), ctx.get(c.phys_col)
            got["strobes"].append(ReadStrobe(cycle, row, pc))
            ctx.set(dut.adc, array.read_code(row, pc))
        if ctx.get(dut.verify_valid):
            got["verify"].append((cycle, ctx.get(dut.verify_data)))
        if err and not prev["err"]:
            got["error"].append((cycle, ctx.get(dut.error_code)))
        prev.update(we=we, re=re, err=err)

    async def bench(ctx):
        await run_streams(ctx, [src, rsrc], [sink], hooks=[drive_hold, hook] if hold else [hook],
                          until=lambda c: c >= want.cycles + 4)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()

    def sb(name: str) -> Scoreboard:
        return Scoreboard(f"pulse_scheduler.{name}", seed=seed)

    sb("i").check(want.accepted, src.sent)
    sb("rd_cmd").check(want.reads_accepted, rsrc.sent)
    sb("pulses").check(want.pulses, got["pulses"])
    sb("read_strobes").check(want.strobes, got["strobes"])
    sb("rd_resp").check(want.results, sink.received)
    sb("verify").check(want.verifies, got["verify"])
    sb("error").check([(want.error_rise, int(want.error_code))] if want.error_rise is not None else [],
                      got["error"])
    assert not check_pulse_counts(params, src.sent, rsrc.sent, got["pulses"])
    assert (array.g_flat == golden_array.g_flat).all()
    if hold:
        sb("prog_active").check(want.active, [tuple(a) for a in got["active"]])


@pytest.mark.parametrize("name", CONFIGS)
def test_amaranth_sim_matches_cycle_model(name, seed):
    run_amaranth(CONFIGS[name], seed, n_req=60, n_reads=20)


@pytest.mark.parametrize("name", ["n1-tiny-verify", "n2-diff-2t2r", "n8-wide-timing"])
def test_amaranth_sim_hold_bursts(name, seed):
    """``hold`` in random bursts: no acceptance while it is high, the request in flight runs to its
    end (pulses and verify reads as the cycle model has them), ``prog_active`` = the busy intervals."""
    run_amaranth(CONFIGS[name], seed, n_req=50, n_reads=20, hold=True)


def test_hold_blocks_acceptance_but_not_the_request_in_flight():
    p = CONFIGS["n2-diff-2t2r"]
    req = ProgramRequest(1, 1, 0, SET, 3)
    occ = occupancy(p, 3)
    # hold rises in the cycle after the acceptance: every pulse of the request still comes
    tr = scheduler_cycle_model(p, [req, req], hold_gen=iter([False] + [True] * 40 + [False] * 1000))
    assert [a for a, _ in tr.accepted] == [0, 41]
    assert tr.pulses == schedule(p, tr.accepted)
    assert tr.active == [(1, occ), (42, 41 + occ)]


def test_amaranth_sim_read_latency_zero_and_two(seed):
    p = CONFIGS["n1-tiny-verify"]
    for lat in (0, 2):
        run_amaranth(p, seed + lat, n_req=40, n_reads=20, dut=PulseScheduler(p, read_latency=lat))


def test_amaranth_sim_back_to_back(seed):
    """Always-valid sources, always-ready sink: the throughput bound (one request per occupancy)."""
    run_amaranth(CONFIGS["n3-32x32-verify"], seed, n_req=40, n_reads=10,
                 p_valid=1.0, p_rvalid=1.0, p_ready=1.0)


class _LateGap(PulseScheduler):
    """A mutated DUT: the scheduler is built as if the gap were one cycle longer."""

    def __init__(self, params):
        super().__init__(params.with_(timing={"gap": params.timing.gap + 1}))
        self.params_for_golden = params


def test_scoreboard_catches_a_mutated_dut(seed):
    p = CONFIGS["n2-diff-2t2r"]
    pattern = r"pulse_scheduler\.(i|pulses): mismatch at index \d+, cycle \d+"
    with pytest.raises(ScoreboardMismatch, match=pattern) as e:
        run_amaranth(p, seed, n_req=30, n_reads=0, dut=_LateGap(p))
    assert e.value.cycle is not None


def test_clear_and_first_error_wins():
    p = cfg(3, 3, "1T1R", 4, False, False)
    dut = PulseScheduler(p)
    seen = []

    async def bench(ctx):
        def send(**kw):
            ctx.set(dut.i.payload, {"row": 0, "col": 0, "slot": 0, "polarity": 0, "count": 1, **kw})
            ctx.set(dut.i.valid, 1)
        send(row=3)
        await ctx.tick()
        send(count=0)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        seen.append((ctx.get(dut.error), ctx.get(dut.error_code)))   # ROW stays (first error wins)
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        seen.append((ctx.get(dut.error), ctx.get(dut.error_code)))
        send(slot=3 if (1 << p.slot_width) > 3 else 0, col=3)   # col first in priority
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.clear, 0)
        seen.append((ctx.get(dut.error), ctx.get(dut.error_code)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(1, ErrorCode.ROW), (0, 0), (1, ErrorCode.COL)]


# ----------------------------------------------------------------------------------------------
# Verilator + cocotb: the scheduler behind CrossbarAddressing, the behavioural array on the lines


COCOTB_RUNS = {  # name -> (requests, host reads); >= 10,000 requests in total
    "n1-tiny-verify": (2600, 600),
    "n2-diff-2t2r": (2100, 500),
    "n3-32x32-verify": (2100, 500),
    "n4-diff-large-2t2r": (1600, 400),
    "n8-wide-timing": (2100, 400),
}


#: the configurations `make test` runs; the others are `extended` (`make test-extended`, `make regress`)
COCOTB_RUNS_IN_MAKE_TEST = ("n1-tiny-verify", "n4-diff-large-2t2r")


@pytest.mark.cocotb
@pytest.mark.parametrize("name", [n if n in COCOTB_RUNS_IN_MAKE_TEST else pytest.param(n, marks=pytest.mark.extended)
                                  for n in COCOTB_RUNS])
def test_cocotb_random_traffic(name, seed, tmp_path):
    """Random traffic against the cycle model; in the first configuration the same simulation also
    runs ``scoreboard_self_test`` (a mutated expectation must fail and be reported with its cycle)."""
    n_req, n_reads = COCOTB_RUNS[name]
    run_random_traffic(name, n_req, n_reads, seed, tmp_path, self_test=name == next(iter(COCOTB_RUNS)))


@pytest.mark.cocotb
@pytest.mark.icarus
def test_cocotb_random_traffic_icarus_slice(seed, tmp_path):
    """A slice of the random traffic under Icarus, which updates the registered lines of one clock
    edge one after the other: every pulse, read and conductance must still match the golden."""
    run_random_traffic("n2-diff-2t2r", 300, 80, seed, tmp_path, self_test=False, simulator="icarus")


def run_random_traffic(name: str, n_req: int, n_reads: int, seed: int, tmp_path, *, self_test: bool,
                       simulator: str | None = None) -> None:
    from tb.kit.runner import run_cocotb

    params = CONFIGS[name]
    stats = tmp_path / "stats.json"
    res = run_cocotb(SchedulerWithAddressing(params), toplevel="pulse_scheduler_top",
                     test_module="tb.envs.pulse_scheduler_tb",
                     testcase=None if self_test else "random_traffic", build_args=("--assert",),
                     config={"params": params.to_dict(), "seed": seed, "requests": n_req, "reads": n_reads,
                             "stats_path": str(stats)}, simulator=simulator)
    s = json.loads(stats.read_text())
    print(f"{name} ({res.simulator}): build {res.build_seconds:.1f} s, run {res.run_seconds:.1f} s, {s}")
    assert res.tests == (2 if self_test else 1)
    assert s["requests"] == n_req and s["compared"] > n_req + n_reads
