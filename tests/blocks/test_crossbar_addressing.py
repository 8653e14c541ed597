"""CrossbarAddressing: golden decode rules, Amaranth-sim (exhaustive and random) and Verilator/cocotb runs."""
from __future__ import annotations

import itertools
import json
import random
import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.spec.params import AccelParams, ConfigError
from golden.spec.transactions import RESET, SET
from golden.twins.crossbar_addressing import IDLE, ArrayCommand, CrossbarAddressingModel, LineEnables
from hw.crossbar_addressing import CrossbarAddressing
from tb.envs.crossbar_addressing_tb import random_commands
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch


def cfg(rows, cols, cell, n, diff=False):
    return AccelParams().with_(array={"rows": rows, "cols": cols, "cell": cell},
                               synapse={"devices": n, "increment": 1 if n == 1 else n - 1,
                                        "differential": diff})


CONFIGS = {
    "n1-1t1r-tiny": cfg(3, 5, "1T1R", 1),                 # P = 5
    "n2-diff-2t2r": cfg(7, 3, "2T2R", 2, True),           # P = 12
    "n3-2t2r-odd": cfg(5, 3, "2T2R", 3),                  # P = 9: the last pair has no BLb
    "n4-1t1r-32x32": cfg(32, 32, "1T1R", 4),              # P = 128
    "n8-diff-2t2r-large": cfg(256, 64, "2T2R", 8, True),  # P = 1024
}

# ----------------------------------------------------------------------------------------------
# golden


def test_set_reset_read_drive_the_right_lines():
    m = CrossbarAddressingModel(cfg(4, 2, "1T1R", 2))      # P = 4
    assert m.decode(ArrayCommand(sel=1, row=2, phys_col=3, we=1, polarity=SET)) == LineEnables(
        wl=0b100, bl_set=0b1000, write=1)
    assert m.decode(ArrayCommand(sel=1, row=1, phys_col=0, we=1, polarity=RESET)) == LineEnables(
        wl=0b10, sl_reset=0b1, write=1)
    assert m.decode(ArrayCommand(sel=1, row=3, phys_col=2, re=1)) == LineEnables(
        wl=0b1000, bl_read=0b100, read=1)
    assert m.decode(ArrayCommand(sel=1, row=3, phys_col=2)) == LineEnables(wl=0b1000)   # setup: WL only
    assert m.decode(ArrayCommand(row=3, phys_col=2)) == IDLE
    arr = m.decode(ArrayCommand(sel=1, row=2, phys_col=3, we=1, polarity=SET)).arrays(4, 4)
    assert arr["wl"].tolist() == [False, False, True, False] and arr["bl_set"].dtype == np.bool_


def test_2t2r_pair_read_and_single_device_write():
    m = CrossbarAddressingModel(cfg(2, 3, "2T2R", 3))      # P = 9: pairs (0,1) (2,3) (4,5) (6,7), 8 alone
    assert m.decode(ArrayCommand(sel=1, row=1, phys_col=5, re=1, pair=1)).bl_read == 0b110000
    assert m.decode(ArrayCommand(sel=1, row=1, phys_col=4, re=1, pair=1)).bl_read == 0b110000
    assert m.decode(ArrayCommand(sel=1, row=1, phys_col=5, we=1, polarity=SET)).bl_set == 0b100000
    assert m.decode(ArrayCommand(sel=1, row=0, phys_col=8, re=1, pair=1)).error == 1   # BLb outside
    assert m.decode(ArrayCommand(sel=1, row=0, phys_col=8, re=1)).bl_read == 1 << 8
    one = CrossbarAddressingModel(cfg(2, 3, "1T1R", 2))
    assert one.decode(ArrayCommand(sel=1, row=0, phys_col=1, re=1, pair=1)) == LineEnables(error=1)


@pytest.mark.parametrize("cmd", [
    ArrayCommand(sel=1, we=1, re=1), ArrayCommand(we=1), ArrayCommand(re=1),
    ArrayCommand(sel=1, we=1, pair=1), ArrayCommand(sel=1, row=4, re=1),
    ArrayCommand(sel=1, phys_col=6, we=1),
    ArrayCommand(sel=1, row=4),
])
def test_errors_drive_nothing(cmd):
    assert CrossbarAddressingModel(cfg(4, 3, "2T2R", 2)).decode(cmd) == LineEnables(error=1)


def test_bad_parameters_name_the_field():
    with pytest.raises(ConfigError, match=r"array\.cell = '3T1R' is not allowed"):
        cfg(4, 4, "3T1R", 1)
    with pytest.raises(ConfigError, match=r"array\.rows = 0 is out of range: allowed \[1, 4096\]"):
        cfg(0, 4, "1T1R", 1)


# ----------------------------------------------------------------------------------------------
# Amaranth simulator (Asserts active): every cycle's outputs against the golden cycle model


def run_amaranth(params: AccelParams, cmds: list[ArrayCommand], seed: int = 0, mutate: bool = False,
                 read_width: int = 1, range_hint: bool = False, hint_flip: int | None = None) -> int:
    """Drive ``cmds``; with ``range_hint`` the ``in_range`` port gets the twin's range rule (inverted
    in cycle ``hint_flip``)."""
    dut = CrossbarAddressing(params, read_width=read_width, range_hint=range_hint)
    model = CrossbarAddressingModel(params, read_width)
    want = list(enumerate(model.cycle_model(cmds)))
    if mutate:
        c, le = want[len(want) // 2]
        want[len(want) // 2] = (c, LineEnables(**{**le.__dict__, "wl": le.wl ^ 1}))
    got = []
    names = ("wl", "bl_set", "sl_reset", "bl_read", "write", "read", "error")

    async def bench(ctx):
        for cycle in range(len(cmds) + 1):
            if cycle < len(cmds):
                c = cmds[cycle]
                for k in ("sel", "row", "phys_col", "we", "re", "polarity"):
                    ctx.set(getattr(dut.cmd, k), getattr(c, k))
                ctx.set(dut.pair, c.pair)
                if read_width > 1:
                    ctx.set(dut.span, c.span)
                if range_hint:
                    ctx.set(dut.in_range, int(not model.range_error(c)) ^ (cycle == hint_flip))
            got.append((cycle, LineEnables(*(ctx.get(getattr(dut, k)) for k in names))))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return Scoreboard("crossbar_addressing", seed=seed).check(want, got)


@pytest.mark.parametrize("name", ["n1-1t1r-tiny", "n3-2t2r-odd"])
def test_amaranth_sim_exhaustive(name):
    """Every (row, phys_col) representable in the field widths, with every mode bit combination."""
    p = CONFIGS[name]
    cmds = [ArrayCommand(sel, r, c, we, re, pol, pair)
            for r in range(1 << p.row_width) for c in range(1 << p.phys_col_width)
            for sel, we, re, pol, pair in itertools.product((0, 1), repeat=5)]
    assert run_amaranth(p, cmds) == len(cmds) + 1


@pytest.mark.parametrize("name", CONFIGS)
def test_amaranth_sim_random(name, seed):
    p = CONFIGS[name]
    n = 300 if p.phys_cols > 200 else 1000
    assert run_amaranth(p, random_commands(p, random.Random(seed), n), seed) == n + 1


def test_word_read_selects_adjacent_cells():
    """A pair read with ``span`` s selects cells m .. m+s (read_width W > 1, BNN word reads)."""
    m = CrossbarAddressingModel(cfg(2, 5, "2T2R", 2), read_width=4)     # P = 10: cells 0..4
    assert m.decode(ArrayCommand(sel=1, row=1, phys_col=3, re=1, pair=1, span=2)) == LineEnables(
        wl=0b10, bl_read=0b11111100, read=1)
    assert m.decode(ArrayCommand(sel=1, row=0, phys_col=4, re=1, pair=1, span=2)).bl_read == 0b1111110000
    assert m.decode(ArrayCommand(sel=1, row=0, phys_col=4, re=1, pair=1, span=3)).error == 1   # cell 5
    assert m.decode(ArrayCommand(sel=1, row=0, phys_col=4, re=1, span=1)).error == 1           # not a pair
    with pytest.raises(ValueError, match="span = 4"):
        m.decode(ArrayCommand(sel=1, pair=1, re=1, span=4))
    with pytest.raises(ConfigError, match=r"read_width = 0 is out of range"):
        CrossbarAddressing(cfg(2, 5, "2T2R", 2), read_width=0)
    with pytest.raises(ConfigError, match=r"read_width = 4097 is out of range: allowed \[1, 4096\]"):
        CrossbarAddressing(cfg(2, 5, "2T2R", 2), read_width=4097)
    with pytest.raises(ConfigError, match=r"read_width = 4097 is out of range: allowed \[1, 4096\]"):
        CrossbarAddressingModel(cfg(2, 5, "2T2R", 2), read_width=4097)


@pytest.mark.parametrize("name, width", [("n3-2t2r-odd", 3), ("n2-diff-2t2r", 4)])
def test_amaranth_sim_word_reads(name, width, seed):
    """Exhaustive pair reads over (phys_col, span) and random commands, with W = 3 and 4."""
    p = CONFIGS[name]
    cmds = [ArrayCommand(1, r, c, 0, 1, 0, 1, s) for r in range(p.array.rows)
            for c in range(1 << p.phys_col_width) for s in range(width)]
    cmds += random_commands(p, random.Random(seed), 400, read_width=width)
    assert run_amaranth(p, cmds, seed, read_width=width) == len(cmds) + 1


@pytest.mark.parametrize("name, width", [("n3-2t2r-odd", 1), ("n3-2t2r-odd", 3), ("n1-1t1r-tiny", 1)])
def test_amaranth_sim_range_hint(name, width, seed):
    """With ``range_hint`` the driver's ``in_range`` replaces the address compares: the outputs stay
    the twin's, and a hint that disagrees with the range rule while ``sel`` trips the assertion."""
    p = CONFIGS[name]
    cmds = [ArrayCommand(1, r, c, 0, 1, 0, 1, s) for r in range(1 << p.row_width)
            for c in range(1 << p.phys_col_width) for s in range(width)] if p.array.cell == "2T2R" else []
    cmds += random_commands(p, random.Random(seed), 400, read_width=width)
    assert run_amaranth(p, cmds, seed, read_width=width, range_hint=True) == len(cmds) + 1
    flip = next(i for i, c in enumerate(cmds) if c.sel and not CrossbarAddressingModel(p, width).mode_error(c))
    with pytest.raises(AssertionError, match="in_range disagrees with the address check"):
        run_amaranth(p, cmds, seed, read_width=width, range_hint=True, hint_flip=flip)
    with pytest.raises(ConfigError, match="range_hint"):
        CrossbarAddressing(p, range_hint=1)


def test_scoreboard_names_the_cycle_of_a_mutated_expectation(seed):
    p = CONFIGS["n2-diff-2t2r"]
    cmds = random_commands(p, random.Random(seed), 200)
    with pytest.raises(ScoreboardMismatch, match=r"mismatch at index 100, cycle 100") as e:
        run_amaranth(p, cmds, seed, mutate=True)
    assert e.value.cycle == 100


class BrokenDecoder(CrossbarAddressing):
    """A mutated DUT: SET is mirrored onto RESET one cycle later (breaks an asserted invariant)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.sync += self.sl_reset.eq(self.bl_set)
        return m


def test_assert_catches_a_broken_decoder():
    """An invariant violation inside the RTL (SET and RESET on one column) stops the simulation."""
    dut = BrokenDecoder(CONFIGS["n1-1t1r-tiny"])

    async def bench(ctx):
        ctx.set(dut.cmd.sel, 1)
        ctx.set(dut.cmd.we, 1)
        ctx.set(dut.cmd.polarity, SET)
        for _ in range(4):
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    with pytest.raises(AssertionError, match="driven to SET and RESET at once"):
        sim.run()


# ----------------------------------------------------------------------------------------------
# Verilator + cocotb

# Three builds (Verilator builds dominate the run time); N = 2 and 4 reach this block through the
# pulse scheduler's cocotb top (tests/blocks/test_pulse_scheduler.py), which instantiates it.
COCOTB_RUNS = {"n1-1t1r-tiny": 4000, "n3-2t2r-odd": 4000, "n8-diff-2t2r-large": 3000}   # >= 10,000 commands


@pytest.mark.cocotb
@pytest.mark.parametrize("name", COCOTB_RUNS)
def test_cocotb_random_commands(name, seed, tmp_path):
    """Every cycle's outputs against the golden; in the first configuration the same simulation also
    runs ``scoreboard_self_test`` (a mutated expectation must fail and be reported with its cycle)."""
    from tb.kit.runner import run_cocotb

    p = CONFIGS[name]
    stats = tmp_path / "stats.json"
    self_test = name == next(iter(COCOTB_RUNS))
    cases = ["random_commands_every_cycle"] + (["scoreboard_self_test"] if self_test else [])
    res = run_cocotb(CrossbarAddressing(p), toplevel="crossbar_addressing", build_args=("--assert",),
                     test_module="tb.envs.crossbar_addressing_tb", testcase=cases,
                     config={"params": p.to_dict(), "seed": seed, "commands": COCOTB_RUNS[name],
                             "stats_path": str(stats)})
    s = json.loads(stats.read_text())
    print(f"{name}: build {res.build_seconds:.1f} s, run {res.run_seconds:.1f} s, {s}")
    assert res.tests == len(cases)
    assert s["commands"] == COCOTB_RUNS[name] and s["compared"] == s["cycles"] and s["errors"] > 0


@pytest.mark.cocotb
def test_cocotb_verilog_assertions_fire(simulator, seed):
    """The RTL's Amaranth Asserts are Verilog immediate assertions: with ``--assert`` (Icarus: the
    runner's mapping of it) a broken decoder stops the simulation in the cycle it breaks a rule.

    Checked the way both simulators report it: cocotb records a ``SimFailure`` (the simulator ended
    the run, not a Python check), and the log holds the assertion's own message, which the Verilog
    prints; the simulators' own wording differs and is not looked at."""
    from tb.kit.runner import failure_types, run_cocotb

    p = CONFIGS["n1-1t1r-tiny"]
    res = run_cocotb(BrokenDecoder(p), toplevel="crossbar_addressing", build_args=("--assert",),
                     test_module="tb.envs.crossbar_addressing_tb", testcase="random_commands_every_cycle",
                     config={"params": p.to_dict(), "seed": seed, "commands": 300}, check=False,
                     simulator=simulator)
    assert res.tests == 1 and res.failed == 1
    assert failure_types(res.results_xml) == {"random_commands_every_cycle": "SimFailure"}
    log = (res.results_xml.parent / "sim.log").read_text()
    # the mirror breaks "SET and RESET at once", "write and read on one column" (a read after a SET on
    # its column) or, after a rejected command, "drives a line"
    assert re.search(r"driven to SET and RESET at once|write and read on one column|a rejected command drives a line",
                     log), log[-2000:]
