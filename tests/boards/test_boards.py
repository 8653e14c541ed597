"""FPGA board support (boards/): harness, PLL settings, report parsing, array emulator, demo, CLI.

No toolchain runs here: board designs are only prepared (Amaranth -> RTLIL + constraints); place and
route is `reram-accel board build` (make bench / by hand, docs/RESULTS.md "### FPGA").
"""
from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from boards import blocks
from boards.board_wrapper import LFSR_WIDTH, BoardHarness, BoardTop, lfsr_step, port_bits
from boards.build import (
    BuildResult,
    count_cells,
    critical_path,
    format_table,
    parse_nextpnr_log,
    parse_nextpnr_report,
    parse_yosys_stat,
)
from boards.config import board_config_from_dict, load_board_config
from boards.demo import TrainingDemo, decode_sweeps
from boards.emulated_array import (
    LFSR_TAPS,
    ArrayEmulator,
    ArrayEmulatorModel,
    EmulatorParams,
    lfsr_advance,
    noise_of,
)
from boards.platforms import BOARDS, board
from boards.pll import ecp5_pll, ice40_pll
from golden.spec.params import AccelParams, ConfigError
from tb.cli.main import main


# --- boards, configs, PLLs -----------------------------------------------------------------------
def test_unknown_board_lists_the_allowed_ones(capsys):
    with pytest.raises(ConfigError, match=r"'nosuch' is not known: allowed boards are \['icebreaker', 'ulx3s'\]"):
        board("nosuch")
    assert main(["board", "build", "nosuch", "--block", "update_unit"]) == 2
    err = capsys.readouterr().err
    assert "nosuch" in err and "icebreaker" in err and "ulx3s" in err


def test_unknown_block_lists_the_allowed_ones():
    with pytest.raises(ConfigError, match="not available.*allowed.*update_unit"):
        blocks.select("update_unit,nosuch")


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_shipped_board_configs_load(name):
    cfg = load_board_config(None, name)
    assert cfg.path.name == f"{name}.toml"
    devices = cfg.params.array.rows * cfg.params.phys_cols
    if name == "icebreaker":  # UP5K: emulator words of 16 bits, 256 per 4 Kbit BRAM
        assert devices * cfg.emulator.word_bits <= 8 * 4096
    assert cfg.board.target_for("demo") is not None


def test_board_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="unknown key board.speed"):
        board_config_from_dict({"board": {"speed": 3}})
    with pytest.raises(ConfigError, match="emulator.g_init"):
        board_config_from_dict({"emulator": {"g_init": 300}})
    with pytest.raises(ConfigError, match="board.targets.demo"):
        board_config_from_dict({"board": {"targets": {"demo": 0}}})
    with pytest.raises(ConfigError, match=r"board.placer = 'fast': allowed 'heap', 'sa'"):
        board_config_from_dict({"board": {"placer": "fast"}})
    with pytest.raises(ConfigError, match=r"board.capture = 'none': allowed 'register', 'xor'"):
        board_config_from_dict({"board": {"capture": "none"}})
    with pytest.raises(ValueError, match=r"capture = 'none': allowed 'register', 'xor'"):
        BoardHarness(_Toy(), capture="none")


def test_nextpnr_gets_the_configured_seed_and_placer():
    from boards.build import nextpnr_options

    cfg = board_config_from_dict({"board": {"pnr_seed": 7, "placer": "sa"}})
    assert "--seed 7 --placer sa" in nextpnr_options(cfg.board)
    assert "--placer heap" in nextpnr_options(board_config_from_dict({}).board)


def test_pll_settings_match_icepll_and_ecppll():
    # `icepll -i 12 -o 48` / `-o 40`, `ecppll -i 25 -o 100` (the YoWASP tools) give these.
    p = ice40_pll(12e6, 48e6)
    assert (p.divr, p.divf, p.divq, p.filter_range, p.f_out_hz) == (0, 63, 4, 1, 48e6)
    assert ice40_pll(12e6, 40e6).divf == 52
    e = ecp5_pll(25e6, 100e6)
    assert (e.clki_div, e.clkfb_div, e.clkop_div, e.clkop_cphase, e.f_out_hz) == (1, 4, 6, 2, 100e6)
    with pytest.raises(ConfigError, match="target_mhz = 12 is out of range for the iCE40 PLL"):
        ice40_pll(12e6, 12e6)


# --- the harness ---------------------------------------------------------------------------------
class _Toy(wiring.Component):
    """5 input bits, 3 output bits: o = registered (a + b), p = combinational a[0]."""

    def __init__(self):
        super().__init__({"a": In(3), "b": In(2), "o": Out(3), "p": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.o.eq(self.a + self.b)
        m.d.comb += self.p.eq(self.a[0])
        return m


@pytest.mark.parametrize("capture", ["register", "xor"])
def test_harness_drives_every_input_and_reduces_every_output(seed, capture):
    dut = _Toy()
    h = BoardHarness(dut, n_out=2, seed=seed % ((1 << LFSR_WIDTH) - 1) + 1, capture=capture)
    assert (h.w_in, h.w_out) == (5, 4)
    assert [n for n, _ in port_bits(dut)[0]] == ["a", "b"]
    seen = []

    async def bench(ctx):
        for _ in range(60):
            a, b, o, p, out = (ctx.get(x) for x in (dut.a, dut.b, dut.o, dut.p, h.out))
            seen.append((a, b, o, p, out))
            await ctx.tick()

    sim = Simulator(h)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # stimulus: the shift register is fed by the LFSR's bit 0, one bit per cycle
    state, bits = h.seed, []
    for _ in range(60):
        bits.append(state & 1)
        state = lfsr_step(state)
    for t in range(8, 60):
        stim = 0
        for i in range(5):  # stim[i] = LFSR bit of cycle t-1-i
            stim |= bits[t - 1 - i] << i
        a, b = seen[t][:2]
        assert (a, b) == (stim & 7, stim >> 3), f"cycle {t}: inputs {(a, b)} != stimulus {stim:05b} (seed {h.seed})"
    # outputs: bit i of Cat(o, p) goes to group i % 2, captured then XORed (levels = 1 here), or
    # XORed straight into the first register level
    lat = 1 + h.levels if capture == "register" else max(h.levels, 1)
    for t in range(8, 60):
        _, _, o, p, _ = seen[t - lat]
        word = o | (p << 3)
        g0 = (word & 1) ^ ((word >> 2) & 1)
        g1 = ((word >> 1) & 1) ^ ((word >> 3) & 1)
        assert seen[t][4] == g0 | (g1 << 1), f"cycle {t}: LED bits {seen[t][4]:02b} (seed {h.seed})"


def test_harness_rejects_a_block_without_outputs():
    class NoOut(wiring.Component):
        def __init__(self):
            super().__init__({"a": In(1)})

        def elaborate(self, platform):
            return Module()

    dut = NoOut()
    dut._MustUse__silence = True  # never elaborated, on purpose
    with pytest.raises(ValueError, match="no output ports"):
        BoardHarness(dut)


def _block_cases():
    return [(b, n) for b in sorted(BOARDS) for n in blocks.available()]


@pytest.mark.parametrize("board_name,block", _block_cases())
def test_block_prepares_on_board(board_name, block):
    """Every available block elaborates inside the harness on both boards (no toolchain run).

    The iCEBreaker's (small) configuration is used for both boards: the subject is the wrapper;
    the ULX3S sizes take minutes to elaborate (a 1025-input BNN engine) and are built by hand."""
    pytest.importorskip("amaranth_boards")  # the `fpga` extra
    b = board(board_name)
    cfg = load_board_config(None, "icebreaker")
    target = cfg.board.target_for(block) if board_name == "icebreaker" else b.default_target_mhz
    factory = blocks.available()[block]
    cfg = replace(cfg, board=replace(cfg.board, target_mhz=target))
    top = BoardTop(b, factory(cfg), target_hz=target * 1e6, seed=cfg.board.seed)
    plan = b.platform().prepare(top, name="top", debug_verilog=False)
    il = plan.files["top.il"]
    il = il.decode() if isinstance(il, bytes) else il
    assert top.harness.w_out > 0
    if top.pll is not None:
        assert ("SB_PLL40_PAD" if b.family == "ice40" else "EHXPLLL") in il
    assert "build_top.sh" in plan.files


# --- report parsing: trimmed samples of what `reram-accel board build` produced -----------------
# iCEBreaker, update_unit, nextpnr-ice40 0.11 (`--report`), critical path shortened to 3 steps.
ICE40_REPORT = {
    "critical_paths": [
        {"from": "posedge clk", "to": "posedge clk", "path": [
            {"delay": 1.178, "type": "clk-to-q",
             "from": {"cell": "harness.dut.mem.0.0_RAM", "port": "RDATA_0"},
             "to": {"cell": "harness.dut.mem.0.0_RAM", "port": "RDATA_0"}},
            {"delay": 60.0, "type": "routing", "net": "x",
             "sources": ["/share/ice40/cells_map.v:6.21-6.22", "/ROOT/hw/update_unit.py:94"],
             "from": {"cell": "a", "port": "O"}, "to": {"cell": "b", "port": "I3"}},
            {"delay": 4.08, "type": "logic", "sources": ["/ROOT/hw/update_unit.py:124", "/ROOT/hw/update_unit.py:94"],
             "from": {"cell": "b", "port": "I3"}, "to": {"cell": "b", "port": "O"}}]},
        {"from": "posedge clk", "to": "<async>", "path": [{"delay": 7.69, "type": "routing"}]}],
    "fmax": {"clk": {"achieved": 15.322617530822754, "constraint": 24.001535415649414}},
    "utilization": {"ICESTORM_DSP": {"available": 8, "used": 0}, "ICESTORM_LC": {"available": 5280, "used": 336},
                    "ICESTORM_PLL": {"available": 1, "used": 1}, "ICESTORM_RAM": {"available": 30, "used": 1},
                    "SB_IO": {"available": 39, "used": 8}},
}
ICE40_LOG = """Info: Max frequency for clock 'clk': 16.45 MHz (FAIL at 24.00 MHz)
Info: Routing complete.
Warning: Max frequency for clock 'clk': 15.32 MHz (FAIL at 24.00 MHz)
"""
ICE40_STAT = {"design": {"num_cells_by_type": {
    "$scopeinfo": 16, "SB_CARRY": 93, "SB_DFF": 44, "SB_DFFE": 17, "SB_DFFESR": 47, "SB_DFFSR": 57, "SB_IO": 7,
    "SB_LUT4": 202, "SB_PLL40_PAD": 1, "SB_RAM40_4K": 1}}, "modules": {}}
# ULX3S, update_unit (16 x 16), nextpnr-ecp5 0.11: the PLL output clock is a global net.
ECP5_REPORT = {
    "fmax": {"$glbnet$harness.clk": {"achieved": 31.756113052368164, "constraint": 50}},
    "utilization": {"DCCA": {"available": 56, "used": 1}, "DP16KD": {"available": 208, "used": 1},
                    "EHXPLLL": {"available": 4, "used": 1}, "TRELLIS_COMB": {"available": 83640, "used": 284},
                    "TRELLIS_FF": {"available": 83640, "used": 167}, "MULT18X18D": {"available": 156, "used": 0}},
}
ECP5_STAT = {"design": {"num_cells_by_type": {
    "$scopeinfo": 29, "CCU2C": 60, "DP16KD": 1, "EHXPLLL": 1, "LUT4": 122, "PFUMX": 1, "TRELLIS_FF": 167,
    "TRELLIS_IO": 9}}, "modules": {}}


def test_parse_ice40_report_and_log(tmp_path):
    text = json.dumps(ICE40_REPORT).replace("/ROOT/", "/repo/")
    r = parse_nextpnr_report(text, 24.0)
    assert r.clock == "clk" and abs(r.fmax_mhz - 15.3226) < 1e-3 and not r.met
    assert r.used("ice40", "cells") == (336, 5280) and r.used("ice40", "BRAM") == (1, 30)
    assert r.used("ice40", "DSP") == (0, 8)
    ns, src = critical_path(json.loads(text), Path("/repo"))
    assert ns == round(1.178 + 60.0 + 4.08, 2) and src == ["hw/update_unit.py:94", "hw/update_unit.py:124"]
    lg = parse_nextpnr_log(ICE40_LOG, 24.0)  # the post-route (last) line wins
    assert (lg.clock, lg.fmax_mhz, lg.constraint_mhz) == ("clk", 15.32, 24.0)
    assert parse_yosys_stat(json.dumps(ICE40_STAT), "ice40") == {"LUT": 202, "FF": 165, "BRAM": 1, "DSP": 0, "SPRAM": 0}


def test_parse_ecp5_report():
    r = parse_nextpnr_report(json.dumps(ECP5_REPORT), 50.0)
    assert r.clock == "$glbnet$harness.clk" and abs(r.fmax_mhz - 31.756) < 1e-3 and r.constraint_mhz == 50
    assert r.used("ecp5", "cells") == (284, 83640) and r.used("ecp5", "BRAM") == (1, 208)
    assert r.critical_ns is None
    # LUT4 = LUT4 + 2 per CCU2C
    assert parse_yosys_stat(json.dumps(ECP5_STAT), "ecp5") == {"LUT": 242, "FF": 167, "BRAM": 1, "DSP": 0, "LUTRAM": 0}
    with pytest.raises(ConfigError, match="family 'gowin'"):
        count_cells({}, "gowin")
    with pytest.raises(ValueError, match="no clock"):
        parse_nextpnr_report(json.dumps({"fmax": {}}))


def test_table_formats():
    r = BuildResult(board="icebreaker", device="iCE40UP5K-SG48", block="update_unit", config="boards/icebreaker.toml",
                    target_mhz=24.0, fmax_mhz=15.32, met=False, lut=202, ff=165, bram=1, dsp=0, cells=336,
                    cells_available=5280, w_in=22, w_out=16, block_lut=149, block_ff=54, block_bram=1, block_dsp=0)
    md = format_table([r], markdown=True)
    assert md.splitlines()[2] == "| icebreaker | update_unit | 149 | 54 | 1 | 0 | 202 | 165 | 336 (6.4%) | 15.3 | 24 | NO |"
    assert "update_unit" in format_table([r])


# --- the array emulator: RTL (Amaranth sim) against the golden rule ---------------------------------
def _scheduler_like_commands(params, rng, n_ops):
    """Per-cycle array commands with the PulseScheduler's shapes (setup, pulses with width/gap,
    settle, reads with the adc sampled one cycle after the last ``re``), random timing and some
    out-of-range addresses; idle cycles drive garbage addresses."""
    cyc = []
    rows, pcols = params.array.rows, params.phys_cols

    def idle(n):
        for _ in range(n):
            cyc.append({"sel": 0, "row": rng.randrange(1 << params.row_width),
                        "phys_col": rng.randrange(1 << params.phys_col_width), "we": 0, "re": 0,
                        "polarity": rng.randrange(2), "op": None})

    for _ in range(n_ops):
        idle(rng.randrange(3))
        # an address outside the array now and then, where the field can hold one
        row = rng.randrange(min(rows + (rng.random() < 0.1), 1 << params.row_width))
        col = rng.randrange(min(pcols + (rng.random() < 0.1), 1 << params.phys_col_width))
        S, W, G, T, R = (rng.randrange(1, 3) for _ in range(5))
        base = {"sel": 1, "row": row, "phys_col": col, "we": 0, "re": 0, "polarity": 0, "op": None}
        if rng.random() < 0.6:
            pol, n = rng.randrange(2), rng.randrange(1, 5)
            cyc.extend(dict(base, polarity=pol) for _ in range(S))
            for j in range(n):
                for w in range(W):
                    cyc.append(dict(base, we=1, polarity=pol, op=("pulse", row, col, pol) if w == 0 else None))
                if j < n - 1:
                    cyc.extend(dict(base, polarity=pol) for _ in range(G))
            cyc.extend(dict(base, polarity=pol) for _ in range(T))
        else:
            cyc.extend(dict(base) for _ in range(S))
            cyc.extend(dict(base, re=1) for _ in range(R))
            idle(1)
            cyc[-1]["op"] = ("sample", row, col)
    idle(2)
    return cyc


@pytest.mark.parametrize("case", ["default", "noiseless-2t2r", "wide-noise"])
def test_array_emulator_matches_golden_rule(case, seed):
    params = AccelParams().with_(array={"rows": 3, "cols": 2}, synapse={"devices": 2, "increment": 1})
    emu = EmulatorParams()
    if case == "noiseless-2t2r":
        params = params.with_(array={"rows": 2, "cols": 3, "cell": "2T2R"})
        emu = EmulatorParams(noise_bits=0, set_gain=64, reset_gain=64)
    elif case == "wide-noise":
        emu = EmulatorParams(code_bits=6, g_min=2, g_max=60, g_init=10, noise_bits=4, state_bits=11)
    rng = random.Random(seed)
    cyc = _scheduler_like_commands(params, rng, 250)
    dut = ArrayEmulator(params, emu)
    model = ArrayEmulatorModel(params, emu)
    mismatches, samples = [], [0]

    async def bench(ctx):
        for t, c in enumerate(cyc):
            for k in ("sel", "row", "phys_col", "we", "re", "polarity"):
                ctx.set(getattr(dut.cmd, k), c[k])
            op = c["op"]
            if op and op[0] == "pulse":
                model.pulse(*op[1:])
            elif op and op[0] == "sample" and model.addr(op[1], op[2]) is not None:
                samples[0] += 1
                got, exp = ctx.get(dut.adc), model.read(op[1], op[2])
                if got != exp:
                    mismatches.append((t, op, got, exp))
            await ctx.tick()
        # final state of every device: a read command, sampled one cycle later
        for r in range(params.array.rows):
            for pc in range(params.phys_cols):
                for k, v in {"sel": 1, "row": r, "phys_col": pc, "we": 0, "re": 1}.items():
                    ctx.set(getattr(dut.cmd, k), v)
                await ctx.tick()
                if ctx.get(dut.adc) != model.read(r, pc):
                    mismatches.append(("final", r, pc, ctx.get(dut.adc), model.read(r, pc)))
        assert ctx.get(dut.pulses) == sum(1 for c in cyc if c["op"] and c["op"][0] == "pulse"
                                          and model.addr(c["op"][1], c["op"][2]) is not None)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert samples[0] > 20
    assert not mismatches, f"first mismatch (cycle, op, rtl, golden): {mismatches[0]} (seed {seed})"
    assert any(c != emu.g_init for c in model.code), "no device moved: the test exercised nothing"


@pytest.mark.parametrize("n", sorted(LFSR_TAPS))
def test_emulator_lfsr_is_maximal(n):
    s, period = 1, 0
    while True:
        s = lfsr_advance(s, n, 1)
        period += 1
        if s == 1:
            break
    assert period == (1 << n) - 1


def test_emulator_noise_statistics():
    """Over one LFSR period (n = 8, B = 2): the stated mean, the variance of a sum of two uniforms,
    and |lag-1/lag-2 autocorrelation| < 0.04 (the module docstring's claims)."""
    e = EmulatorParams()
    s, seq = 1, []
    for _ in range((1 << e.state_bits) - 1):
        seq.append(noise_of(s, e.noise_bits))
        s = lfsr_advance(s, e.state_bits)
    a = np.array(seq, float)
    m = (1 << e.noise_bits) - 1
    assert abs(a.mean() - m / ((1 << e.state_bits) - 1)) < 1e-9
    assert abs(a.var() - 2 * ((m + 1) ** 2 - 1) / 12) < 0.05
    for lag in (1, 2):
        assert abs(np.corrcoef(a[:-lag], a[lag:])[0, 1]) < 0.04


def test_emulator_params_are_checked():
    with pytest.raises(ConfigError, match="emulator.noise_bits"):
        EmulatorParams(noise_bits=5, state_bits=8)
    with pytest.raises(ConfigError, match="emulator.state_bits"):
        EmulatorParams(state_bits=7)


# --- the board demo: the whole chain in Amaranth's simulator --------------------------------------
def test_training_demo_dumps_the_emulated_array_over_uart():
    params = AccelParams().with_(array={"rows": 2, "cols": 3}, synapse={"devices": 2, "increment": 1})
    emu = EmulatorParams()
    div = 4
    dut = TrainingDemo(params, emu, divisor=div, updates=40, batch=4, drain=300)
    model = ArrayEmulatorModel(params, emu)
    snaps, out = [], bytearray()

    async def bench(ctx):
        prev_we, start, byte = 0, None, 0
        c = dut.array.cmd
        for cyc in range(9000):
            sel, we = ctx.get(c.sel), ctx.get(c.we)
            if sel and we and not prev_we:
                model.pulse(ctx.get(c.row), ctx.get(c.phys_col), ctx.get(c.polarity))
            prev_we = sel and we
            tx = ctx.get(dut.uart_tx)
            if start is None and tx == 0:
                start, byte = cyc, 0
            elif start is not None:
                k = cyc - start - div - div // 2  # sample in the middle of each data bit
                if k >= 0 and k % div == 0:
                    i = k // div
                    if i < 8:
                        byte |= tx << i
                    else:
                        assert tx == 1, f"cycle {cyc}: no stop bit"
                        out.append(byte)
                        start = None
                        if byte == ord("#"):
                            snaps.append(list(model.code))
            await ctx.tick()
        assert ctx.get(dut.error) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    sweeps = decode_sweeps(out.decode(), params.array.rows, params.phys_cols, 2)
    assert len(sweeps) >= 2, out.decode()
    for k, sweep in enumerate(sweeps):
        assert [v for row in sweep for v in row] == snaps[k], f"sweep {k}: UART dump != golden emulator state"
    # the checkerboard target: SET synapses ((row ^ col) odd) end above RESET ones
    last = sweeps[-1]
    d = params.synapse.slots
    hi = [last[r][c * d + s] for r in range(2) for c in range(3) for s in range(d) if (r ^ c) & 1]
    lo = [last[r][c * d + s] for r in range(2) for c in range(3) for s in range(d) if not (r ^ c) & 1]
    assert min(hi) > max(lo)
