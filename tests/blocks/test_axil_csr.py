"""AxiLiteCsr and its golden twin RegisterFileModel: the twin alone, then AxiLiteCsr against it in the
Amaranth simulator (fast) and under cocotb + Verilator with cocotbext-axi's AxiLiteMaster (random stalls
on all five channels)."""
from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from golden.spec.handshake import SinkSide, SourceSide, always, random_gen
from golden.spec.params import AccelParams, ConfigError
from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.spec.register_map.description import OKAY, SLVERR, Access, Field, Register, RegisterMapBuilder
from golden.twins.axil_csr import RegisterFileModel, lane_mask
from hw.axil_csr import AxiLiteCsr, AxiLiteSignature
from tb.envs.axil_csr_tb import (
    AXI,
    CsrChecker,
    CsrMismatch,
    Op,
    axi_name,
    check_trace,
    random_ops,
    refuse_names,
)
from tb.kit.runner import run_cocotb, to_verilog

PARAMS = AccelParams()
RO, RW, W1C, W1P, WO = Access.RO, Access.RW, Access.W1C, Access.W1P, Access.WO


# --- the golden twin alone -----------------------------------------------------------------------
def _small_map():
    b = RegisterMapBuilder("t", addr_width=8)
    b.add(Register("rw", (Field("a", 12, RW, reset=0xABC), Field("b", 4, RW, offset=28, reset=5))))
    b.add(Register("flags", (Field("f", 4, W1C), Field("g", 2, W1P, offset=8), Field("h", 8, RO, offset=16))))
    b.add(Register("push", (Field("x", 12, WO), Field("y", 4, WO, offset=24)), push=True), 0x20)
    return b.build()


def test_model_rw_with_byte_strobes():
    mdl = RegisterFileModel(_small_map())
    assert mdl.read(0x0) == (0x5000_0ABC, OKAY)
    assert mdl.write(0x0, 0xFFFF_FFFF, strb=0b0001).resp == OKAY        # only bits [7:0]
    assert mdl.read(0x0) == (0x5000_0AFF, OKAY)
    mdl.write(0x0, 0x1234_5678, strb=0b1010)                               # bytes 1 and 3
    assert mdl.value("rw", "a") == 0x6FF and mdl.value("rw", "b") == 0x1


def test_model_w1c_w1p_ro_and_push():
    mdl = RegisterFileModel(_small_map())
    mdl.hw_set("flags", "f", 0b1011)
    assert mdl.read(0x4, {("flags", "h"): 0x1FF}) == (0xFF_000B, OKAY)     # RO input masked to 8 bits
    eff = mdl.write(0x4, 0b11_0000_0010)                                   # clear f[1], pulse g = 3
    assert eff.strobes == {("flags", "g"): 3} and mdl.value("flags", "f") == 0b1001
    assert mdl.write(0x4, 0x300, strb=0b1110).strobes == {("flags", "g"): 3}
    assert mdl.write(0x4, 0x300, strb=0b0001).strobes == {}                 # g's lane not strobed
    eff = mdl.write(0x20, 0x0F00_0FFF)
    assert eff.push == ("push", {"x": 0xFFF, "y": 0xF}) and mdl.read(0x20) == (0, OKAY)
    for strb in (0b0111, 0):                                               # partial or no strobe: refused
        eff = mdl.write(0x20, 1, strb=strb)
        assert (eff.resp, eff.push, eff.refused) == (SLVERR, None, True)
    assert mdl.write(0x0, 0xFFFF_FFFF, strb=0) == mdl.write(0x0, 0, strb=0) and mdl.value("rw", "a") == 0xABC


def test_model_commit_cycle_model():
    """A push commits when ready, or is refused after map.push_wait cycles of waiting; nothing commits
    without room in the B buffer."""
    b = RegisterMapBuilder("t", addr_width=8, push_wait=3)
    b.add(Register("push", (Field("x", 12, WO),), push=True))
    b.add(Register("rw", (Field("a", 8, RW),)))
    mdl = RegisterFileModel(b.build())
    assert mdl.commits(0x0, 0xF, b_room=True, ready=False, waited=2) == (False, False)
    assert mdl.commits(0x0, 0xF, b_room=True, ready=True, waited=2) == (True, False)
    assert mdl.commits(0x0, 0xF, b_room=True, ready=True, waited=3) == (True, True)
    assert mdl.commits(0x0, 0x3, b_room=True, ready=False, waited=0) == (True, False)
    assert mdl.commits(0x0, 0xF, b_room=True, ready=True, waited=0, refuse=True) == (True, True)
    assert mdl.commits(0x4, 0xF, b_room=False, ready=True, waited=0) == (False, False)
    assert mdl.write(0x0, 5, refused=True).refused


def test_model_holes():
    mdl = RegisterFileModel(_small_map())
    assert mdl.read(0x8) == (0, SLVERR) and mdl.write(0xFC, 1).resp == SLVERR
    assert lane_mask(0b0101) == 0x00FF00FF


def _signals(dut, regmap):
    sigs = {axi_name(s): getattr(dut.s_axil, s) for s in AXI}
    sigs["push_refused"] = dut.push_refused
    for r in regmap.registers:
        if r.push:
            sigs[f"push_refuse__{r.name}"] = getattr(dut.push_refuse, r.name)
    for p in regmap.ports():
        h = getattr(getattr(dut, p.path[0]), p.path[1])
        sigs[p.verilog_name] = h.as_value() if p.role == "payload" else h
    return sigs


def _beat(op: Op) -> tuple[int, int, int]:
    """(awaddr, wdata, wstrb) of a write inside one word, placed on its byte lanes like cocotbext-axi."""
    off = op.addr % 4
    assert off + len(op.data) <= 4
    data = int.from_bytes(op.data, "little") << (8 * off)
    strb = ((1 << len(op.data)) - 1) << off
    return op.addr, data, strb


def run_amaranth(regmap, ops, seed, *, p_valid=0.7, p_ready=0.6, p_change=0.1, p_set=0.05, p_push=0.6,
                 p_refuse=0.05, stalls=True, max_cycles=100_000, lookahead=()):
    """Drive ``ops`` into AxiLiteCsr in Amaranth's simulator; return the trace (one dict per cycle;
    ``lookahead`` fields' ``f_next`` outputs under ``<register>__<field>_next``)."""
    dut = AxiLiteCsr(regmap, lookahead=lookahead)
    sigs = _signals(dut, regmap)
    for name in lookahead:
        reg, fld = name.split(".")
        sigs[f"{reg}__{fld}_next"] = getattr(getattr(dut, reg), f"{fld}_next")
    ports = regmap.ports()
    rng = random.Random(f"{seed}/inputs")
    gen = (lambda i, p: random_gen(seed, p, i)) if stalls else (lambda i, p: always())
    aw = [(_beat(o)[0],) for o in ops if o.kind == "w"]
    w = [_beat(o)[1:] for o in ops if o.kind == "w"]
    ar = [(o.addr,) for o in ops if o.kind == "r"]
    chans = {"aw": (SourceSide(aw, gen(1, p_valid)), ("awaddr",)),
             "w": (SourceSide(w, gen(2, p_valid)), ("wdata", "wstrb")),
             "ar": (SourceSide(ar, gen(3, p_valid)), ("araddr",))}
    b_sink, r_sink = SinkSide(gen(4, p_ready)), SinkSide(gen(5, p_ready))
    n_b, n_r = len(aw), len(ar)
    trace = []

    async def bench(ctx):
        seen_b = seen_r = 0
        tail = 0
        while tail < 3:
            if len(trace) > max_cycles:
                raise TimeoutError(f"seed {seed}: no end after {max_cycles} cycles")
            for k, (src, names) in chans.items():
                if src.current is None:
                    item = src.present()
                    for n, v in zip(names, item or ()):
                        ctx.set(sigs[axi_name(n)], v)
                    ctx.set(sigs[axi_name(k + "valid")], int(item is not None))
            ctx.set(sigs[axi_name("bready")], int(b_sink.draw()))
            ctx.set(sigs[axi_name("rready")], int(r_sink.draw()))
            for p in ports:
                if p.role == "input" and rng.random() < p_change:
                    ctx.set(sigs[p.verilog_name], rng.getrandbits(p.width))
                elif p.role == "set":
                    ctx.set(sigs[p.verilog_name], rng.getrandbits(p.width) if rng.random() < p_set else 0)
                elif p.role == "ready":
                    ctx.set(sigs[p.verilog_name], int(rng.random() < p_push) if stalls else 1)
            for n in refuse_names(regmap):
                ctx.set(sigs[n], int(rng.random() < p_refuse) if stalls else 0)
            t = {n: int(ctx.get(s)) for n, s in sigs.items()}
            trace.append(t)
            for k, (src, _) in chans.items():
                if src.current is not None and t[axi_name(k + "ready")]:
                    src.taken()
            seen_b += t[axi_name("bvalid")] and t[axi_name("bready")]
            seen_r += t[axi_name("rvalid")] and t[axi_name("rready")]
            if seen_b == n_b and seen_r == n_r and all(src.idle for src, _ in chans.values()):
                tail += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return trace


@pytest.mark.parametrize("push_wait", [3, 4096])
def test_amaranth_sim_random_against_model(seed, push_wait):
    regmap = accelerator_register_map(PARAMS, push_wait=push_wait)
    print(f"seed {seed}, push_wait {push_wait}")
    ops = random_ops(regmap, random.Random(seed), 300)
    trace = run_amaranth(regmap, ops, seed, p_push=0.3 if push_wait < 10 else 0.6)
    st = check_trace(regmap, trace, seed)
    assert st.reads == sum(o.kind == "r" for o in ops) and st.writes == sum(o.kind == "w" for o in ops)
    # the run exercised every behaviour the check looks at
    assert st.slverr and st.pushes and st.strobes and st.partial_writes and st.stalled_commits, st
    assert st.refused, st
    assert {"RW", "W1C", "W1P", "WO"} <= set(st.by_access), st


@pytest.mark.parametrize("reg", ["irq_enable", "update"])
def test_amaranth_sim_throughput(reg):
    """No stalls: one write per cycle (AW and W every cycle, B from cycle 2 on) to an RW and to a push
    register; one read per cycle (as documented)."""
    regmap = accelerator_register_map(PARAMS)
    t0 = regmap[reg].addr
    writes = [Op("w", t0, i.to_bytes(4, "little")) for i in range(50)]
    trace = run_amaranth(regmap, writes, 0, stalls=False)
    check_trace(regmap, trace, 0)
    b = [c for c, t in enumerate(trace) if t[axi_name("bvalid")] and t[axi_name("bready")]]
    assert b == list(range(2, 52)), b[:8]
    if reg == "update":
        return
    reads = [Op("r", regmap["id"].addr)] * 50
    trace = run_amaranth(regmap, reads, 0, stalls=False)
    check_trace(regmap, trace, 0)
    r = [c for c, t in enumerate(trace) if t[axi_name("rvalid")] and t[axi_name("rready")]]
    assert r == list(range(1, 51)), r[:8]
    assert {trace[c][axi_name("rdata")] for c in r} == {0x52524143}


def test_amaranth_sim_registered_readies():
    """awready / wready are flip-flops: while the head push waits for its target, one more write is
    taken into the queue and then the readies fall; they rise again in the cycle after the head
    commits (not in the commit cycle), and the queued write commits in the cycle after the head."""
    regmap = accelerator_register_map(PARAMS, push_wait=4096)
    dut = AxiLiteCsr(regmap)
    bus, upd = dut.s_axil, dut.update
    log = []

    async def bench(ctx):
        ctx.set(bus.bready, 1)
        for c in range(12):
            ctx.set(upd.ready, int(c >= 6))          # the target takes pushes from cycle 6 on
            ctx.set(bus.awaddr, regmap["update"].addr)
            ctx.set(bus.wstrb, 0xF)
            ctx.set(bus.wdata, c)
            ctx.set(bus.awvalid, 1)
            ctx.set(bus.wvalid, 1)
            log.append((ctx.get(bus.awready), ctx.get(bus.wready), ctx.get(upd.valid) and ctx.get(upd.ready)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    aw = [a for a, _, _ in log]
    assert [w for _, w, _ in log] == aw
    # cycles 0, 1 taken; full from 2; the head commits in 6, the readies rise in 7; one commit per cycle
    assert aw[:8] == [1, 1, 0, 0, 0, 0, 0, 1], aw
    assert [c for c, (_, _, x) in enumerate(log) if x][:3] == [6, 7, 8], log


def test_check_trace_detects_corruption(seed):
    """The check is not vacuous: a flipped read-data bit, a lost strobe and a changed RW output fail it,
    and the streaming checker stops in the cycle of the corruption (it keeps no trace)."""
    regmap = accelerator_register_map(PARAMS)
    ops = random_ops(regmap, random.Random(seed), 120)
    trace = run_amaranth(regmap, ops, seed)
    check_trace(regmap, trace, seed)
    r_cycle = next(c for c, t in enumerate(trace) if t[axi_name("rvalid")] and t[axi_name("rready")])
    strobe = next((c, n) for c, t in enumerate(trace) for n in ("ctrl__soft_reset", "ctrl__bnn_ack") if t[n])
    last = len(trace) - 1
    for cycle, mutate in (
            (r_cycle, lambda tr: tr[r_cycle].__setitem__(axi_name("rdata"), tr[r_cycle][axi_name("rdata")] ^ 4)),
            (strobe[0], lambda tr: tr[strobe[0]].__setitem__(strobe[1], 0)),
            (last, lambda tr: tr[-1].__setitem__("ctrl__mode", tr[-1]["ctrl__mode"] ^ 1))):
        bad = [dict(t) for t in trace]
        mutate(bad)
        chk = CsrChecker(regmap, seed)
        with pytest.raises(CsrMismatch, match=rf"cycle {cycle}: .*\(seed {seed}\)"):
            for t in bad:
                chk.step(t)
        assert chk.cycle == cycle


def test_reset_values_and_holes():
    """Directed: reads after reset give the map's reset values; holes and the window end give SLVERR."""
    regmap = accelerator_register_map(PARAMS)
    ops = [Op("r", r.addr) for r in regmap.registers] + [Op("r", 0x028), Op("r", 0xFFC), Op("w", 0xFFC, b"\1\2\3\4")]
    trace = run_amaranth(regmap, ops, 1, stalls=False, p_set=0.0, p_change=0.0)
    check_trace(regmap, trace, 1)
    rs = [(t[axi_name("rdata")], t[axi_name("rresp")]) for t in trace if t[axi_name("rvalid")] and t[axi_name("rready")]]
    for r, (d, resp) in zip(regmap.registers, rs):
        if all(f.const is not None or f.access.value in ("RW", "W1C", "W1P", "WO") for f in r.fields):
            assert (d, resp) == (r.reset_value, 0), r.name
    assert rs[-2:] == [(0, SLVERR), (0, SLVERR)]
    b = [t[axi_name("bresp")] for t in trace if t[axi_name("bvalid")] and t[axi_name("bready")]]
    assert b == [SLVERR]


def test_amaranth_sim_lookahead_is_the_next_value(seed):
    """``lookahead`` outputs: in every cycle of random traffic (stalls, pushes, set inputs) ``f_next``
    equals the value ``f`` has in the next cycle, for every RW and W1C field; the trace still matches
    the twin."""
    regmap = accelerator_register_map(PARAMS)
    la = tuple(f"{r.name}.{f.name}" for r in regmap.registers if not r.push for f in r.fields
               if f.access in (RW, W1C))
    assert "ctrl.mode" in la and "events.read_done" in la
    trace = run_amaranth(regmap, random_ops(regmap, random.Random(seed), 300), seed, p_set=0.2, lookahead=la)
    check_trace(regmap, trace, seed)
    changed = 0
    for name in la:
        reg, fld = name.split(".")
        cur, nxt = f"{reg}__{fld}", f"{reg}__{fld}_next"
        for c in range(len(trace) - 1):
            assert trace[c][nxt] == trace[c + 1][cur], f"{name}: cycle {c} (seed {seed})"
            changed += trace[c + 1][cur] != trace[c][cur]
    assert changed > 20, changed


def test_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="regmap"):
        AxiLiteCsr({"not": "a map"})
    regmap = accelerator_register_map(PARAMS)
    for bad in ("ctrl.soft_reset", "status.owner", "update.dw", "ctrl", "nope.mode"):
        with pytest.raises(ConfigError, match=rf"lookahead '{bad}' is not allowed: name an RW or W1C field"):
            AxiLiteCsr(regmap, lookahead=(bad,))
    with pytest.raises(ConfigError, match="addr_width"):
        AxiLiteSignature(2)


def test_port_names_for_cocotbext_axi():
    """Verilog ports are s_axil__<signal>, what AxiLiteBus.from_prefix(dut, 's_axil', bus_separator='__')
    looks up (the cocotb test checks the lookup itself)."""
    regmap = accelerator_register_map(PARAMS)
    v = to_verilog(AxiLiteCsr(regmap), "axil_csr")
    for s in AXI:
        assert f" s_axil__{s};" in v, s
    for p in regmap.ports():
        assert f" {p.verilog_name};" in v, p.verilog_name


@pytest.mark.cocotb
def test_cocotb_axil_master(seed):
    """cocotbext-axi AxiLiteMaster under Verilator: 3 backpressure settings x 1500 overlapping ops, and
    64 back-to-back writes with no pauses at one write per cycle."""
    regmap = accelerator_register_map(PARAMS)
    res = run_cocotb(AxiLiteCsr(regmap), toplevel="axil_csr", test_module="tb.envs.axil_csr_tb",
                     config={"seed": seed, "params": PARAMS.to_dict(), "ops": 1500})
    print(f"axil_csr cocotb: {res.tests} tests, build {res.build_seconds:.1f} s, run {res.run_seconds:.1f} s")
    assert res.tests == 5
