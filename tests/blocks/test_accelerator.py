"""Accelerator top: the golden chain used as its reference, its ports, and the cocotb smoke test."""
from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.handshake import always
from golden.spec.params import AccelParams, ConfigError
from golden.spec.register_map.accelerator_map import update_fits_one_word
from golden.spec.register_map.description import OKAY, SLVERR
from golden.spec.transactions import RESET, SET, Pulse, UpdateRequest
from golden.twins.bnn_layer_engine import array_image, digital_bits
from golden.twins.outer_product_engine import engine_cycle_model
from hw.accelerator import Accelerator
from tb.envs.accelerator_tb import UpdateEntry, golden_chain, random_entries
from tb.kit.lint import lint
from tb.kit.runner import run_cocotb, to_verilog

# 2 lanes over 5 columns: the last column group is partial
SMOKE = AccelParams().with_(array={"rows": 6, "cols": 5}, synapse={"devices": 3, "increment": 2, "pot_period": 2},
                            engine={"lanes": 2})
# row + col + dW + 2 flags > 32 bits: UPDATE_ADDR holds the synapse address; differential synapses
WIDE = AccelParams().with_(array={"rows": 8, "cols": 4}, synapse={"devices": 2, "differential": True},
                           update={"dw_width": 26, "chi_width": 28, "eps": 300})


# --- a minimal in-order AXI4-Lite host for Amaranth's simulator ---------------------------------------
async def axil_write(ctx, bus, addr: int, data: int, strb: int = 0xF, limit: int = 20_000) -> int:
    """One write; raises AssertionError if AW, W or B takes more than ``limit`` cycles (a hung bus)."""
    for name, v in (("awaddr", addr), ("wdata", data), ("wstrb", strb), ("awvalid", 1), ("wvalid", 1),
                    ("bready", 1)):
        ctx.set(getattr(bus, name), v)
    aw = w = False
    waited = 0

    def count():
        nonlocal waited
        waited += 1
        if waited > limit:
            raise AssertionError(f"write {addr:#x} <- {data:#010x}: no B response after {limit} cycles "
                                 f"(AW {'taken' if aw else 'waiting'}, W {'taken' if w else 'waiting'}): "
                                 f"the bus hangs")
    while not (aw and w):
        count()
        aw_hs, w_hs = ctx.get(bus.awvalid) and ctx.get(bus.awready), ctx.get(bus.wvalid) and ctx.get(bus.wready)
        await ctx.tick()
        if aw_hs:
            aw = True
            ctx.set(bus.awvalid, 0)
        if w_hs:
            w = True
            ctx.set(bus.wvalid, 0)
    while not ctx.get(bus.bvalid):
        count()
        await ctx.tick()
    resp = ctx.get(bus.bresp)
    await ctx.tick()
    ctx.set(bus.bready, 0)
    return resp


async def axil_read(ctx, bus, addr: int) -> tuple[int, int]:
    ctx.set(bus.araddr, addr)
    ctx.set(bus.arvalid, 1)
    ctx.set(bus.rready, 1)
    while not ctx.get(bus.arready):
        await ctx.tick()
    await ctx.tick()
    ctx.set(bus.arvalid, 0)
    while not ctx.get(bus.rvalid):
        await ctx.tick()
    data, resp = ctx.get(bus.rdata), ctx.get(bus.rresp)
    await ctx.tick()
    ctx.set(bus.rready, 0)
    return data, resp


def _one_hot(v: int) -> int:
    assert v and not v & (v - 1), f"{v:#x} is not one-hot"
    return v.bit_length() - 1


def run_with_monitor(dut, host, monitor) -> None:
    """Amaranth simulation of ``dut``: the ``host`` bench to its end, ``monitor`` in the background."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(monitor, background=True)
    sim.add_testbench(host)
    sim.run()


@pytest.mark.parametrize("name", ["smoke", "wide"])
def test_amaranth_sim_updates_through_axil(name, seed):
    """Amaranth simulator: UPDATE pushes (one-word and UPDATE_ADDR + UPDATE forms) give the golden
    chain's pulses on the array lines, in order; the counters agree."""
    p = {"smoke": SMOKE, "wide": WIDE}[name]
    assert update_fits_one_word(p) == (name == "smoke")
    dut = Accelerator(p)
    rmap = dut.regmap
    entries = random_entries(p, random.Random(seed), 40)
    want = golden_chain(p, entries)
    seen: list[tuple[int, int, int]] = []
    regs: dict[str, int] = {}

    async def monitor(ctx):
        prev = 0
        async for _, _, write, wl, bs, sr in ctx.tick().sample(dut.write, dut.wl, dut.bl_set, dut.sl_reset):
            if write and not prev:
                assert not (bs and sr)
                seen.append((_one_hot(wl), _one_hot(bs | sr), SET if bs else RESET))
            prev = write

    async def host(ctx):
        bus = dut.s_axil
        for e in entries:
            if not update_fits_one_word(p):
                assert await axil_write(ctx, bus, rmap["update_addr"].addr,
                                        rmap["update_addr"].encode(row=e.row, col=e.col)) == OKAY
                word = rmap["update"].encode(dw=e.dw, end_cycle=int(e.end_cycle), marker=int(e.marker))
            else:
                word = rmap["update"].encode(row=e.row, col=e.col, dw=e.dw, end_cycle=int(e.end_cycle),
                                             marker=int(e.marker))
            assert await axil_write(ctx, bus, rmap["update"].addr, word) == OKAY
        for _ in range(100_000):
            st = rmap["status"].decode((await axil_read(ctx, bus, rmap["status"].addr))[0])
            if not st["busy"]:
                break
        for r in ("pulse_count", "request_count", "skipped_count", "events"):
            regs[r] = (await axil_read(ctx, bus, rmap[r].addr))[0]

    run_with_monitor(dut, host, monitor)
    assert seen == [(q.row, q.phys_col, q.polarity) for q in want.pulses], f"seed {seed}"
    assert regs["pulse_count"] == len(want.pulses) and regs["request_count"] == want.requests
    assert regs["skipped_count"] == want.skipped
    assert rmap["events"].decode(regs["events"])["cycle_done"] == 1
    assert len(want.pulses) > 10


def test_golden_chain_by_hand():
    """eps 256: dW 600 -> 2 SET pulses on device sel_pos; END_CYCLE advances sel_pos by the increment;
    with pot_period 2 the next cycle's potentiation is skipped; depression is not gated."""
    p = SMOKE
    D, t = p.synapse.slots, p.timing
    r = golden_chain(p, [UpdateEntry(1, 2, 600, end_cycle=True),            # 2 SET on slot 0
                         UpdateEntry(1, 2, 300),                            # chi 88 + 300 -> 1 pulse: skipped
                         UpdateEntry(0, 4, -300, end_cycle=True),           # 1 RESET on slot 2 (0 + 2)
                         UpdateEntry(marker=True, end_cycle=True),
                         UpdateEntry(3, 3, 10)])                            # no pulse
    s = 1 + t.setup
    assert r.pulses == [Pulse(s, 1, 2 * D, SET), Pulse(s + t.width + t.gap, 1, 2 * D, SET),
                        Pulse(s, 0, 4 * D + 2, RESET)]
    assert (r.requests, r.program_requests, r.skipped, r.cycles_closed) == (4, 2, 1, 3)


def test_top_ports_and_lint(tmp_path):
    """The array port is flat (what tb.models.reram_array.ArrayModel attaches to) and the Verilog lints clean."""
    v = to_verilog(Accelerator(SMOKE), "accelerator")
    for port, width in (("wl", 6), ("bl_set", 15), ("sl_reset", 15), ("bl_read", 15), ("write", 1),
                        ("read", 1), ("adc", 8), ("irq", 1), ("s_axil__awaddr", 12), ("s_axil__rdata", 32)):
        decl = f"[{width - 1}:0] {port};" if width > 1 else f" {port};"
        assert decl in v, port
    for name, params in (("smoke", SMOKE), ("wide", WIDE)):
        path = tmp_path / name / "accelerator.v"
        path.parent.mkdir()
        path.write_text(v if name == "smoke" else to_verilog(Accelerator(params), "accelerator"))
        assert lint(path, wall=False) == [] and lint(path, wall=True) == [], name


def test_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="params"):
        Accelerator({"array": {}})
    with pytest.raises(ConfigError, match=r"fifo_depth = 1 is out of range"):
        Accelerator(SMOKE, fifo_depth=1)
    with pytest.raises(ConfigError, match=r"read_latency = 300 is out of range"):
        Accelerator(SMOKE, read_latency=300)


@pytest.mark.cocotb
def test_cocotb_smoke_training_random_power_up_state(seed):
    """The smoke test (updates, then frames) on Verilog without initial values, every register and
    memory word random at power-up (Verilator --x-initial unique, seeded): reset alone makes the top
    match golden. One build serves both checks: the Verilog with initial values only adds the
    values that reset gives anyway, and the co-simulations (tests/tb) run that flavour of the top."""
    vseed = seed % 2_000_000_000 + 1
    print(f"seed {seed}: +verilator+seed+{vseed}")
    dut = Accelerator(SMOKE)
    res = run_cocotb(dut, toplevel="accelerator", test_module="tb.envs.accelerator_tb",
                     verilog_text=to_verilog(dut, "accelerator", initial_values=False),
                     build_args=("--x-assign", "unique", "--x-initial", "unique"),
                     plusargs=("+verilator+rand+reset+2", f"+verilator+seed+{vseed}"),
                     config={"seed": seed, "params": SMOKE.to_dict(), "updates": 120, "frames": 6})
    print(f"accelerator cocotb: {res.tests} tests, build {res.build_seconds:.1f} s, run {res.run_seconds:.1f} s")


# --- BNN path and direct programming (Amaranth simulator) ---------------------------------------------
BNN_ARRAY = AccelParams().with_(array={"rows": 4, "cols": 18, "cell": "2T2R"}, synapse={"devices": 2})
BNN_HW = BnnHwParams(inputs=40, bias_cells=3, neurons=5, bank=2, out_fifo=4)   # 43 cells: 2-word images


def test_bnn_must_fit_the_array():
    with pytest.raises(ConfigError, match=r"array.cell = '1T1R' is not allowed with a BNN path"):
        Accelerator(SMOKE, bnn=BNN_HW)
    with pytest.raises(ConfigError, match=r"need 3 word lines: allowed at most array.rows = 2"):
        Accelerator(BNN_ARRAY.with_(array={"rows": 2}), bnn=BNN_HW)
    with pytest.raises(ConfigError, match=r"= 172 physical columns: allowed at most .* = 36"):
        Accelerator(BNN_ARRAY, bnn=BNN_HW)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_bnn_network_must_fit_the_array():
    """A network build: its rows (layers x banks) and columns must lie inside the array; a single
    layer with bnn.argmax is still refused, naming the network build."""
    from dataclasses import replace

    from golden.spec.bnn_network_params import BnnNetHwParams
    from tb.tops.bnn_cosim_top import bnn_net_top_params

    net = BnnNetHwParams(sizes=(20, 11, 15, 9, 4), bias_cells=(5, 2, 2), bank=2, bank_out=3)
    p = bnn_net_top_params(net)
    assert (p.array.rows, p.array.cols) == (net.rows, net.cols) == (26, 50)
    Accelerator(p, bnn=net)
    with pytest.raises(ConfigError, match=r"bnn_net needs 26 word lines .* allowed at most array.rows = 25"):
        Accelerator(p.with_(array={"rows": 25}), bnn=net)
    with pytest.raises(ConfigError, match=r"bnn_net needs 100 physical columns .* = 98"):
        Accelerator(p.with_(array={"cols": 49}), bnn=net)
    with pytest.raises(ConfigError, match=r"bnn\.argmax = true is not available for a single layer.*BnnNetHwParams"):
        Accelerator(BNN_ARRAY, bnn=replace(BNN_HW, argmax=True, bias_cells=0))


@pytest.mark.parametrize("sizes, bias", [((20, 11, 15, 9, 4), (5, 2, 2)), ((12, 7, 3), (1,))], ids=["3-hidden", "1-hidden"])
def test_bnn_network_top_lint(sizes, bias, tmp_path):
    """A network build (calibration images of every hidden layer's length, BNN_CTRL.LAYER clamped, the
    layer's bits in BNN_OUT_DATA) lints clean."""
    from golden.spec.bnn_network_params import BnnNetHwParams
    from tb.tops.bnn_cosim_top import bnn_net_top_params

    net = BnnNetHwParams(sizes=sizes, bias_cells=bias, bank=2, bank_out=min(3, sizes[-1]))
    path = tmp_path / "accelerator.v"
    path.write_text(to_verilog(Accelerator(bnn_net_top_params(net), bnn=net), "accelerator"))
    assert lint(path, wall=False) == [] and lint(path, wall=True) == []


def test_amaranth_sim_bnn_digital_through_axil(seed):
    """BNN_INPUT images -> engine (digital mode, bridge pair reads on the shared array port) -> output
    bits read through BNN_OUT_DATA equal golden digital_bits; the owner switch gates both paths. The
    last image runs with BNN_CTRL.CAL = 1, RAMP = 1 (calibration drive): ``bias_in`` shows the
    thermometer code during its reads, and the digital decision uses that drive."""
    p, hw = BNN_ARRAY.with_(array={"cols": 86}), BNN_HW
    dut = Accelerator(p, bnn=hw)
    rmap = dut.regmap
    rng = np.random.default_rng(seed)
    prog = rng.integers(0, 2, (hw.neurons, hw.cells), dtype=np.uint8)
    img = array_image(prog, hw)
    images = rng.integers(0, 2, (3, hw.inputs), dtype=np.uint8)
    ramp = 1
    want = np.concatenate([digital_bits(prog, images[:-1], hw.bias_cells),
                           digital_bits(prog, images[-1:], hw.bias_cells, ramp)])
    got, levels, bias_seen = [], [], []

    async def bridge_array(ctx):
        """Answers each (word) pair read on the lines ``read_latency - 1`` cycles later with the bits
        of its bridges (43 cells, read_width 32: reads of 32 and 11 bridges)."""
        pending, cycle, spans = [], 0, set()
        while True:
            due = [b for c, b in pending if c == cycle]
            pending = [(c, b) for c, b in pending if c != cycle]
            ctx.set(dut.rd_valid, bool(due))
            ctx.set(dut.rd_bits, due[0] if due else 0)
            if ctx.get(dut.read):
                bias_seen.append(ctx.get(dut.bias_in))
                row, cols = _one_hot(ctx.get(dut.wl)), ctx.get(dut.bl_read)
                low = (cols & -cols).bit_length() - 1
                n = (cols >> low).bit_length() // 2
                assert cols == ((1 << 2 * n) - 1) << low and low % 2 == 0, f"not a pair read: {cols:#x}"
                spans.add(n)
                bits = img[row, low // 2:low // 2 + n]
                pending.append((cycle + hw.read_latency - 1, sum(int(b) << i for i, b in enumerate(bits))))
            assert spans <= {hw.read_lanes, hw.last_read_lanes}, spans
            await ctx.tick()
            cycle += 1

    async def host(ctx):
        bus = dut.s_axil
        rd = lambda r: axil_read(ctx, bus, rmap[r].addr)
        wr = lambda r, **f: axil_write(ctx, bus, rmap[r].addr, rmap[r].encode(**f))
        assert (await rd("array_cfg"))[0] >> rmap["array_cfg"].field("bnn").offset & 1
        # an image pushed while training owns the port waits in the input FIFO
        for k in range(2):
            assert await wr("bnn_input", bits=int("".join(map(str, images[0][32 * k:32 * k + 32][::-1])), 2)) == OKAY
        for _ in range(30):
            await ctx.tick()
        st = rmap["status"].decode((await rd("status"))[0])
        assert st["owner"] == 0 and st["bnn_busy"] == 1 and st["bnn_full"] == 0, st
        assert await wr("ctrl", mode=1) == OKAY
        for i in range(len(images)):
            if i == len(images) - 1:
                assert await wr("bnn_ctrl", analog=0, cal=1, ramp=ramp) == OKAY
            if i:
                for k in range(2):
                    await wr("bnn_input", bits=int("".join(map(str, images[i][32 * k:32 * k + 32][::-1])), 2))
            while not rmap["events"].decode((await rd("events"))[0])["bnn_done"]:
                pass
            levels.append(rmap["status"].decode((await rd("status"))[0])["bnn_full"])
            assert await wr("bnn_out_index", word=0) == OKAY
            got.append((await rd("bnn_out_data"))[0])
            assert await wr("events", bnn_done=1) == OKAY
            assert await wr("ctrl", mode=1, bnn_ack=1) == OKAY
        assert await wr("ctrl", mode=0) == OKAY

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bridge_array, background=True)
    sim.add_testbench(host)
    sim.run()
    assert levels == [1] * len(images)
    assert got == [int("".join(map(str, w[::-1])), 2) for w in want], f"seed {seed}: {got} vs {want}"
    per_image = len(bias_seen) // len(images)
    full = (1 << hw.bias_cells) - 1
    assert bias_seen == [full] * (len(bias_seen) - per_image) + [(1 << ramp) - 1] * per_image, bias_seen
    print(f"BNN outputs {got}")


def test_amaranth_sim_program_and_read():
    """PROGRAM gives exactly COUNT pulses of the polarity on (row, col*D + slot); READ_REQ returns the
    array's code in READ_DATA; PROGRAM with count 0 is rejected (ERRORS.SCHED, code COUNT)."""
    p = SMOKE
    dut = Accelerator(p)
    rmap = dut.regmap
    seen, regs = [], {}

    async def monitor(ctx):
        prev = 0
        async for _, _, write, wl, bs, sr, read in ctx.tick().sample(dut.write, dut.wl, dut.bl_set, dut.sl_reset,
                                                                     dut.read):
            ctx.set(dut.adc, 0x5A if read else 0)
            if write and not prev:
                seen.append((_one_hot(wl), _one_hot(bs | sr), SET if bs else RESET))
            prev = write

    async def host(ctx):
        bus = dut.s_axil
        wr = lambda r, **f: axil_write(ctx, bus, rmap[r].addr, rmap[r].encode(**f))
        assert await wr("program", row=4, col=3, slot=2, polarity=SET, count=3) == OKAY
        assert await wr("program", row=1, col=0, slot=1, polarity=RESET, count=1) == OKAY
        assert await wr("read_req", row=4, phys_col=3 * 3 + 2) == OKAY
        while not rmap["events"].decode((await axil_read(ctx, bus, rmap["events"].addr))[0])["read_done"]:
            pass
        regs["read_data"] = rmap["read_data"].decode((await axil_read(ctx, bus, rmap["read_data"].addr))[0])
        assert await wr("program", row=0, col=0, slot=0, polarity=SET, count=0) == OKAY
        for _ in range(5):
            await ctx.tick()
        regs["errors"] = rmap["errors"].decode((await axil_read(ctx, bus, rmap["errors"].addr))[0])
        regs["pulse_count"] = (await axil_read(ctx, bus, rmap["pulse_count"].addr))[0]

    run_with_monitor(dut, host, monitor)
    assert seen == [(4, 11, SET)] * 3 + [(1, 1, RESET)]
    assert regs["read_data"] == {"data": 0x5A, "err": 0, "valid": 1}
    assert regs["errors"]["sched"] == 1 and regs["errors"]["sched_code"] == 4   # ErrorCode.COUNT
    assert regs["pulse_count"] == 4


@pytest.mark.parametrize("setup", [1, 3])
def test_update_to_pulse_latency(setup):
    """Documented: an UPDATE committed in cycle c gives its first pulse on the lines ``2 + L + 4 + setup``
    cycles later, L the engine's single-request latency from its cycle model."""
    p = AccelParams().with_(timing={"setup": setup})
    model = engine_cycle_model(p, [], [UpdateRequest(1, 1, 300)], always(), always(), always())
    latency = model.emitted[0][0] - model.requests[0][0]
    dut = Accelerator(p)
    rmap, ev = dut.regmap, {}

    async def monitor(ctx):
        c, prev = 0, 0
        async for _, _, bvalid, write in ctx.tick().sample(dut.s_axil.bvalid, dut.write):
            if bvalid:
                ev.setdefault("commit", c - 1)
            if write and not prev:
                ev.setdefault("pulse", c)
            prev, c = write, c + 1

    async def host(ctx):
        while rmap["status"].decode((await axil_read(ctx, dut.s_axil, rmap["status"].addr))[0])["clearing"]:
            pass            # the chi clear after reset (rows * cols cycles)
        await axil_write(ctx, dut.s_axil, rmap["update"].addr, rmap["update"].encode(row=1, col=1, dw=300))
        for _ in range(latency + 10 + setup):
            await ctx.tick()

    run_with_monitor(dut, host, monitor)
    assert ev["pulse"] - ev["commit"] == 2 + latency + 4 + setup, (ev, latency)


@pytest.mark.parametrize("setup", [1, 3])
def test_program_and_read_latency(setup):
    """Documented: a PROGRAM committed in cycle c gives its first pulse on the lines ``3 + setup`` cycles
    later (register slice 1, scheduler 1 + setup, CrossbarAddressing 1), and a READ_REQ committed in
    cycle c raises ``read`` as many cycles later (one more than before the slices)."""
    p = AccelParams().with_(timing={"setup": setup})
    dut = Accelerator(p)
    rmap, ev, phase = dut.regmap, {}, ["program"]

    async def monitor(ctx):
        c, prev = 0, (0, 0)
        async for _, _, bvalid, write, read in ctx.tick().sample(dut.s_axil.bvalid, dut.write, dut.read):
            if bvalid:
                ev.setdefault(f"{phase[0]}_commit", c - 1)
            if write and not prev[0]:
                ev.setdefault("pulse", c)
            if read and not prev[1]:
                ev.setdefault("read", c)
            prev, c = (write, read), c + 1

    async def host(ctx):
        bus = dut.s_axil
        await axil_write(ctx, bus, rmap["program"].addr, rmap["program"].encode(row=1, col=1, slot=0,
                                                                                polarity=SET, count=1))
        while rmap["status"].decode((await axil_read(ctx, bus, rmap["status"].addr))[0])["busy"]:
            pass
        phase[0] = "read"
        await axil_write(ctx, bus, rmap["read_req"].addr, rmap["read_req"].encode(row=1, phys_col=1))
        for _ in range(10):
            await ctx.tick()

    run_with_monitor(dut, host, monitor)
    assert ev["pulse"] - ev["program_commit"] == 3 + setup, ev
    assert ev["read"] - ev["read_commit"] == 3 + setup, ev


@pytest.mark.parametrize("target", ["read_req", "program", "update_17th", "update_wait"])
def test_amaranth_sim_no_write_hangs_the_bus(target):
    """With CTRL.MODE = BNN the training targets cannot become ready: the push is refused at once
    (SLVERR, ERRORS.PUSH, nothing pushed); a push to a target that is only busy (a full update FIFO in
    training mode, slow pulses) is refused after the documented bounded wait (push_wait cycles). The
    next write (CTRL.MODE = 0, SOFT_RESET) is accepted and a READ_REQ then works (no `rst` needed).
    Before the fix the push's B response never came (this test timed out in axil_write)."""
    push_wait = 8
    p = SMOKE.with_(timing={"width": 40}) if target == "update_wait" else SMOKE
    dut = Accelerator(p, push_wait=push_wait)
    rmap = dut.regmap
    resp, cycle = {}, [0]

    async def monitor(ctx):
        async for _, _, read in ctx.tick().sample(dut.read):
            ctx.set(dut.adc, 0x33 if read else 0)
            cycle[0] += 1

    async def host(ctx):
        bus = dut.s_axil
        wr = lambda r, **f: axil_write(ctx, bus, rmap[r].addr, rmap[r].encode(**f), limit=2 * push_wait + 50)
        assert await wr("ctrl", mode=int(target != "update_wait")) == OKAY
        if target.startswith("update"):
            level = lambda: axil_read(ctx, bus, rmap["status"].addr)
            while rmap["status"].decode((await level())[0])["update_level"] < dut.fifo_depth:
                assert await wr("update", row=1, col=1, dw=2000) == OKAY
            push = wr("update", row=1, col=1, dw=5)
        elif target == "program":
            push = wr("program", row=1, col=1, slot=0, polarity=SET, count=1)
        else:
            push = wr("read_req", row=1, phys_col=1)
        c0 = cycle[0]
        resp["push"] = await push
        resp["cycles"] = cycle[0] - c0
        resp["errors"] = rmap["errors"].decode((await axil_read(ctx, bus, rmap["errors"].addr))[0])
        resp["level"] = rmap["status"].decode((await axil_read(ctx, bus, rmap["status"].addr))[0])["update_level"]
        resp["recover"] = await wr("ctrl", mode=0, soft_reset=1)
        assert await wr("read_req", row=2, phys_col=3) == OKAY
        while not rmap["events"].decode((await axil_read(ctx, bus, rmap["events"].addr))[0])["read_done"]:
            pass
        resp["read_data"] = rmap["read_data"].decode((await axil_read(ctx, bus, rmap["read_data"].addr))[0])

    run_with_monitor(dut, host, monitor)
    print(target, resp)
    assert resp["push"] == SLVERR and resp["errors"]["push"] == 1, resp
    if target == "update_wait":       # AW/W, push_wait cycles of waiting, the refusal, B taken
        assert resp["cycles"] == push_wait + 3 and resp["level"] == dut.fifo_depth, resp
    else:                             # AW/W, the refusal, B taken: no waiting
        assert resp["cycles"] == 3, resp
    assert resp["recover"] == OKAY and resp["read_data"] == {"data": 0x33, "err": 0, "valid": 1}, resp


def test_amaranth_sim_read_results_are_not_lost():
    """Back-to-back READ_REQs: the second is refused (SLVERR, ERRORS.PUSH) while the first result is
    unacknowledged and READ_DATA keeps it; after EVENTS.READ_DONE is cleared the next read is taken. With
    timing.verify the program-and-verify result is reported in VERIFY_DATA."""
    p = SMOKE.with_(timing={"verify": True})
    dut = Accelerator(p)
    rmap = dut.regmap
    got, code = {}, [0x11]

    async def monitor(ctx):
        async for _, _, read in ctx.tick().sample(dut.read):
            ctx.set(dut.adc, code[0] if read else 0)

    async def host(ctx):
        bus = dut.s_axil
        wr = lambda r, **f: axil_write(ctx, bus, rmap[r].addr, rmap[r].encode(**f))
        rd = lambda r: axil_read(ctx, bus, rmap[r].addr)

        async def read_data():
            while not rmap["events"].decode((await rd("events"))[0])["read_done"]:
                pass
            return rmap["read_data"].decode((await rd("read_data"))[0])
        got["first"] = (await wr("read_req", row=1, phys_col=1), await read_data())
        code[0] = 0x22
        got["second"] = await wr("read_req", row=2, phys_col=2)
        got["kept"] = rmap["read_data"].decode((await rd("read_data"))[0])
        got["errors"] = rmap["errors"].decode((await rd("errors"))[0])["push"]
        assert await wr("events", read_done=1) == OKAY
        got["third"] = (await wr("read_req", row=2, phys_col=2), await read_data())
        code[0] = 0x44
        assert await wr("program", row=3, col=1, slot=0, polarity=SET, count=2) == OKAY
        while rmap["status"].decode((await rd("status"))[0])["busy"]:
            pass
        got["verify"] = rmap["verify_data"].decode((await rd("verify_data"))[0])

    run_with_monitor(dut, host, monitor)
    assert got["first"] == (OKAY, {"data": 0x11, "err": 0, "valid": 1}), got
    assert got["second"] == SLVERR and got["kept"] == {"data": 0x11, "err": 0, "valid": 1} and got["errors"] == 1
    assert got["third"] == (OKAY, {"data": 0x22, "err": 0, "valid": 1}), got
    assert got["verify"] == {"data": 0x44, "valid": 1}, got
