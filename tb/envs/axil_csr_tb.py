"""AXI4-Lite CSR block (:class:`hw.axil_csr.AxiLiteCsr`) against its golden twin
(:class:`golden.twins.axil_csr.RegisterFileModel`), under cocotb with cocotbext-axi's ``AxiLiteMaster``.

The check works on a *trace*: the value of every port of the DUT in every cycle (one dict per cycle,
keyed by Verilog port name), recorded in ``ReadOnly``. :func:`check_trace` replays the AXI transfers
it finds there into the register-file model in the documented order (a read samples before a commit
of the same cycle; hardware sets win over clears) and compares, transaction by transaction: every R
and B response, every W1P pulse and push transfer with its cycle, every RW/W1C output in every cycle,
and the documented timing: the cycle model :meth:`RegisterFileModel.commits` says in which cycle
each held write commits (and whether a push expired), the B buffer's contents are checked every cycle,
R comes one cycle after AR.
The Amaranth-simulator test (tests/blocks/test_axil_csr.py) builds the same trace and calls the same check.

cocotbext-axi finds the bus with ``AxiLiteBus.from_prefix(dut, "s_axil", bus_separator="__")``
(Amaranth joins the member path with ``__``).
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from golden.spec.handshake import burst_gen, random_gen
from golden.spec.register_map.description import SLVERR, Access, RegisterMap
from golden.twins.axil_csr import RegisterFileModel

AXI = ("awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp", "bvalid", "bready",
       "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid", "rready")
PREFIX = "s_axil"


def axi_name(sig: str) -> str:
    return f"{PREFIX}__{sig}"


def trace_names(regmap: RegisterMap) -> list[str]:
    """Every port name a trace records: the bus and the CSR ports."""
    return [axi_name(s) for s in AXI] + ["push_refused"] + refuse_names(regmap) + [p.verilog_name for p in regmap.ports()]


def refuse_names(regmap: RegisterMap) -> list[str]:
    """The CSR block's ``push_refuse__<register>`` inputs, one per push register."""
    return [f"push_refuse__{r.name}" for r in regmap.registers if r.push]


class CsrMismatch(AssertionError):
    """The DUT differs from the model; the message names the cycle, the register and the seed."""


@dataclass
class CheckStats:
    cycles: int = 0
    reads: int = 0
    writes: int = 0
    slverr: int = 0
    pushes: int = 0
    strobes: int = 0
    partial_writes: int = 0
    stalled_commits: int = 0
    refused: int = 0
    by_access: dict = field(default_factory=dict)


def check_trace(regmap: RegisterMap, trace: list[dict[str, int]], seed=None) -> CheckStats:
    """Compare a recorded trace with :class:`RegisterFileModel`; raise :class:`CsrMismatch` at the first
    difference, else return counts of what was checked."""
    model = RegisterFileModel(regmap)
    ports = regmap.ports()
    out_values = [p for p in ports if p.role == "value"]
    strobes = [p for p in ports if p.role == "strobe"]
    ro_in = [p for p in ports if p.role == "input"]
    sets = [p for p in ports if p.role == "set"]
    pushes = [r for r in regmap.registers if r.push]
    st = CheckStats(cycles=len(trace))

    def fail(cycle, what):
        raise CsrMismatch(f"axil_csr: cycle {cycle}: {what} (seed {seed})")

    def hs(t, ch):
        return t[axi_name(ch + "valid")] and t[axi_name(ch + "ready")]

    # Handshakes in order.
    aw_q, w_q = deque(), deque()
    ar_q = deque()
    b_obs, r_obs = [], []
    for c, t in enumerate(trace):
        if hs(t, "aw"):
            aw_q.append((c, t[axi_name("awaddr")]))
        if hs(t, "w"):
            w_q.append((c, t[axi_name("wdata")], t[axi_name("wstrb")]))
        if hs(t, "ar"):
            ar_q.append((c, t[axi_name("araddr")]))
        if hs(t, "b"):
            b_obs.append((c, t[axi_name("bresp")]))
        if hs(t, "r"):
            r_obs.append((c, t[axi_name("rdata")], t[axi_name("rresp")]))
    r_rise = [c for c in range(1, len(trace)) if trace[c][axi_name("rvalid")]
              and (not trace[c - 1][axi_name("rvalid")] or trace[c - 1][axi_name("rready")])]

    exp_r = []
    held = None           # [earliest commit cycle, addr, data, strb, cycles waited]
    b_queue = deque()     # responses in the B buffer at the start of the cycle (model)
    for c, t in enumerate(trace):
        # outputs at the start of cycle c show the state after cycle c-1
        for p in out_values:
            want = model.value(p.register, p.field)
            if t[p.verilog_name] != want:
                fail(c, f"{p.verilog_name} = {t[p.verilog_name]:#x}, model {want:#x}")
        if t[axi_name("bvalid")] != bool(b_queue) or (b_queue and t[axi_name("bresp")] != b_queue[0]):
            fail(c, f"B channel bvalid {t[axi_name('bvalid')]} bresp {t[axi_name('bresp')]}, model "
                    f"{'bresp ' + str(b_queue[0]) if b_queue else 'no response'}")
        # read sampled in this cycle, before a commit of this cycle
        if hs(t, "ar"):
            ro = {(p.register, p.field): t[p.verilog_name] for p in ro_in}
            exp_r.append((c, *model.read(t[axi_name("araddr")], ro)))
        # a complete write (both halves received) waits for its commit
        if held is None and aw_q and w_q and aw_q[0][0] < c and w_q[0][0] < c:
            (ca, addr), (cw, data, strb) = aw_q.popleft(), w_q.popleft()
            held = [max(ca, cw) + 1, addr, data, strb, 0]
        eff = None
        if held is not None:
            earliest, addr, data, strb, waited = held
            r = regmap.at(addr)
            push = r is not None and r.push
            commit, refused = model.commits(addr, strb, b_room=len(b_queue) < 2, waited=waited,
                                            ready=bool(push and t[f"{r.name}__ready"]),
                                            refuse=bool(push and t[f"push_refuse__{r.name}"]))
            if commit:
                st.stalled_commits += c > earliest
                eff = model.write(addr, data, strb, refused=refused)
                st.writes += 1
                st.partial_writes += strb != 0xF
                st.refused += eff.refused
                if r is not None:
                    for f in r.fields:
                        st.by_access[f.access.value] = st.by_access.get(f.access.value, 0) + 1
                held = None
            elif len(b_queue) < 2:
                held[4] += 1
        if t["push_refused"] != bool(eff and eff.refused):
            fail(c, f"push_refused = {t[axi_name('push_refused')]}, model {int(bool(eff and eff.refused))}")
        # W1P pulses and push transfers happen in the commit cycle only
        for p in strobes:
            want = (eff.strobes.get((p.register, p.field), 0) if eff else 0)
            if t[p.verilog_name] != want:
                fail(c, f"strobe {p.verilog_name} = {t[p.verilog_name]:#x}, model {want:#x}")
            st.strobes += bool(want)
        for r in pushes:
            valid, ready = t[f"{r.name}__valid"], t[f"{r.name}__ready"]
            want = eff.push if eff and eff.push and eff.push[0] == r.name else None
            if valid and ready:
                if want is None:
                    fail(c, f"unexpected push transfer on {r.name}")
                raw, pos = 0, 0
                for f in r.fields:
                    raw |= want[1][f.name] << pos
                    pos += f.width
                if t[f"{r.name}__payload"] != raw:
                    fail(c, f"push {r.name} payload {t[f'{r.name}__payload']:#x}, model {raw:#x}")
                st.pushes += 1
            elif want is not None:
                fail(c, f"model pushes {r.name} {want[1]} but the DUT did not transfer")
        # hardware sets of this cycle (win over a clear of this cycle)
        for p in sets:
            if t[p.verilog_name]:
                model.hw_set(p.register, p.field, t[p.verilog_name])
        if hs(t, "b"):
            b_queue.popleft()
        if eff is not None:
            b_queue.append(eff.resp)

    if not len(exp_r) == len(r_obs) == len(r_rise):
        fail(len(trace), f"{len(exp_r)} reads accepted, {len(r_rise)} R valid, {len(r_obs)} R responses seen")
    for (ac, data, resp), (oc, odata, oresp), rc in zip(exp_r, r_obs, r_rise):
        if rc != ac + 1:
            fail(rc, f"read accepted in cycle {ac}: rvalid rose in cycle {rc}, not {ac + 1}")
        if (data, resp) != (odata, oresp):
            reg = regmap.at(trace[ac][axi_name("araddr")])
            fail(oc, f"read of {trace[ac][axi_name('araddr')]:#x} ({reg.name if reg else 'hole'}) "
                     f"accepted in cycle {ac}: data {odata:#x} resp {oresp}, model {data:#x} resp {resp}")
        st.reads += 1
    st.slverr = sum(1 for _, r in b_obs if r == SLVERR) + sum(1 for _, _, r in r_obs if r == SLVERR)
    if aw_q or w_q or held or b_queue:
        fail(len(trace), f"unfinished writes at the end: {len(aw_q)} AW, {len(w_q)} W, "
                         f"{int(held is not None)} held, {len(b_queue)} B responses")
    return st


# --- stimulus ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Op:
    """One host operation: a write of ``data`` bytes at ``addr`` or a read of ``length`` bytes."""
    kind: str          # "w" | "r"
    addr: int
    data: bytes = b""
    length: int = 4


def hole_addresses(regmap: RegisterMap) -> list[int]:
    """Some unmapped word addresses (first/last of the window and holes between registers)."""
    used = {r.addr for r in regmap.registers}
    top = (1 << regmap.addr_width) - 4
    cands = [a for a in range(0, regmap.registers[-1].addr + 0x20, 4) if a not in used]
    return sorted(set(cands[:6] + [a for a in (top, top - 4, 0x100, 0x400) if a not in used and a <= top]))


def random_ops(regmap: RegisterMap, rng: random.Random, n: int, *, partial: float = 0.15,
               holes: float = 0.08) -> list[Op]:
    """Random reads and writes, mostly full aligned words to mapped registers; some partial/unaligned
    byte writes and accesses to holes."""
    regs = [r for r in regmap.registers]
    writable = [r for r in regs if any(f.access is not Access.RO for f in r.fields)]
    hole = hole_addresses(regmap)
    ops = []
    for _ in range(n):
        if rng.random() < holes:
            addr = rng.choice(hole)
        elif rng.random() < 0.5:
            addr = rng.choice(writable).addr
        else:
            addr = rng.choice(regs).addr
        if rng.random() < 0.5:
            if rng.random() < partial:   # 1..4 bytes at a random byte offset inside the word
                off = rng.randrange(4)
                ln = rng.randint(1, 4 - off)
                ops.append(Op("w", addr + off, bytes(rng.randrange(256) for _ in range(ln))))
            else:
                v = rng.getrandbits(32) if rng.random() < 0.7 else rng.choice((0, 0xFFFFFFFF, 1, 0x100))
                ops.append(Op("w", addr, v.to_bytes(4, "little")))
        else:
            ops.append(Op("r", addr, length=4))
    return ops


def target_kind(regmap: RegisterMap, addr: int) -> str:
    """What an address reaches: ``hole``, ``push`` (a stream register), ``ro`` (read-only fields
    only), ``w1c``/``w1p`` (has such a field), else ``rw``."""
    r = regmap.at(addr)
    if r is None:
        return "hole"
    if r.push:
        return "push"
    acc = {f.access for f in r.fields}
    if acc == {Access.RO}:
        return "ro"
    return "w1c" if Access.W1C in acc else "w1p" if Access.W1P in acc else "rw"


def sample_coverage(cov, regmap: RegisterMap, trace: list[dict], backpressure: str) -> None:
    """Functional coverage of the bus as the trace recorded it: every read and write (matched to its
    response in order) by target kind, strobe and response, the order of AW and W, and the cycles a
    valid waited for ready on each channel, crossed with the pause class of the master's channels."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    from tb.kit.coverage import GAP_BINS, label

    kinds = ["ro", "rw", "w1c", "w1p", "push", "hole"]
    resp = ["OKAY", "SLVERR"]
    names = {0: "OKAY", 2: "SLVERR"}   # EXOKAY and DECERR are never answered (the check fails on them)
    acc = cov.group("access", {"op": ["read", "write"], "target": kinds, "resp": resp,
                               "strobe": ["full", "partial", "none"], "aw_w": ["aw_first", "same", "w_first"]},
                    {"op_x_target_x_resp": ("op", "target", "resp")},
                    # the map's rules: a hole answers SLVERR, a mapped read OKAY, a write OKAY except a
                    # refused push (golden.spec.register_map.description)
                    ignore={"op_x_target_x_resp": [("read", "hole", "OKAY"), ("write", "hole", "OKAY")]
                            + [("read", k, "SLVERR") for k in kinds[:-1]]
                            + [("write", k, "SLVERR") for k in ("ro", "rw", "w1c", "w1p")]})
    wait = cov.group("wait", {"channel": ["aw", "w", "b", "ar", "r"], "pause": ["none", "random", "burst"],
                              "cycles": GAP_BINS}, {"channel_x_pause_x_cycles": ("channel", "pause", "cycles")},
                     # B and R wait only for the master's ready, which never drops without pauses
                     ignore={"channel_x_pause_x_cycles": [(ch, "none", label(g)) for ch in ("b", "r")
                                                          for g in GAP_BINS[1:]]},
                     shared=True)

    def hs(t, ch):
        return t[axi_name(ch + "valid")] and t[axi_name(ch + "ready")]

    aw, w, ar = deque(), deque(), deque()
    waiting = dict.fromkeys(("aw", "w", "b", "ar", "r"), 0)
    for t in trace:
        for ch in waiting:
            if hs(t, ch):
                wait.sample(channel=ch, pause=backpressure, cycles=waiting[ch])
                waiting[ch] = 0
            elif t[axi_name(ch + "valid")]:
                waiting[ch] += 1
        if hs(t, "aw"):
            aw.append((len(aw), t[axi_name("awaddr")]))
        if hs(t, "w"):
            w.append(t[axi_name("wstrb")])
        if hs(t, "ar"):
            ar.append(t[axi_name("araddr")])
        if hs(t, "r"):
            a = ar.popleft()
            acc.sample(op="read", target=target_kind(regmap, a), resp=names.get(t[axi_name("rresp")]))
    # writes: the i-th AW pairs with the i-th W and the i-th B (in order on AXI4-Lite)
    aw_c = [c for c, t in enumerate(trace) if hs(t, "aw")]
    w_c = [c for c, t in enumerate(trace) if hs(t, "w")]
    b = [t[axi_name("bresp")] for t in trace if hs(t, "b")]
    for (_, a), strb, ca, cw, br in zip(aw, w, aw_c, w_c, b):
        acc.sample(op="write", target=target_kind(regmap, a), resp=names.get(br),
                   strobe="full" if strb == 0xF else "none" if strb == 0 else "partial",
                   aw_w="same" if ca == cw else "aw_first" if ca < cw else "w_first")


# --- cocotb test -------------------------------------------------------------------------------------
def _pause(kind: str, seed: int, stream: int):
    """Pause generator for cocotbext-axi (True = idle / not ready)."""
    if kind == "none":
        return None
    if kind == "random":
        return random_gen(seed, 0.4, stream)
    if kind == "burst":
        return burst_gen(seed, 0.5, 12, stream)
    raise ValueError(kind)


try:  # the module is also imported by pytest for check_trace/random_ops, where cocotb has no simulator
    import cocotb
    from cocotb.triggers import ReadOnly, RisingEdge
    _HAVE_COCOTB = cocotb.is_simulation
except ImportError:  # pragma: no cover
    _HAVE_COCOTB = False


if _HAVE_COCOTB:
    from cocotbext.axi import AxiLiteBus, AxiResp

    from golden.spec.params import params_from_dict
    from golden.spec.register_map.accelerator_map import accelerator_register_map
    from tb.kit.coverage import Coverage
    from tb.kit.runner import test_config
    from tb.kit.testbench import Testbench

    class TB(Testbench):
        """The AXI-Lite master, drivers of the CSR inputs and the trace recorder (clock and reset:
        :class:`~tb.kit.testbench.Testbench`, the CSR inputs idle at 0, released without a settle edge)."""

        def __init__(self, dut, regmap: RegisterMap, seed: int):
            self.map, self.seed = regmap, seed
            self.rng = random.Random(f"{seed}/inputs")
            self.ports = regmap.ports()
            self.handles = {n: getattr(dut, n) for n in trace_names(regmap)}
            super().__init__(dut, idle=[self.handles[p.verilog_name] for p in self.ports if p.direction == "in"]
                             + [self.handles[n] for n in refuse_names(regmap)], settle_cycles=0)
            self.axil = self.axil_master(PREFIX)
            self.trace: list[dict[str, int | None]] = []
            self.recording = False

        def set_backpressure(self, kind: str) -> None:
            a = self.axil
            for i, ch in enumerate((a.write_if.aw_channel, a.write_if.w_channel, a.write_if.b_channel,
                                    a.read_if.ar_channel, a.read_if.r_channel)):
                g = _pause(kind, self.seed, i)
                if g is None:
                    ch.clear_pause_generator()
                else:
                    ch.set_pause_generator(g)

        async def drive_inputs(self, p_change: float, p_set: float, p_ready: float, p_refuse: float = 0.05) -> None:
            """Each cycle: RO inputs change now and then, W1C sets pulse, push readies and refuses toggle."""
            rng, clk = self.rng, self.dut.clk
            while True:
                for p in self.ports:
                    h = self.handles[p.verilog_name]
                    if p.role == "input" and rng.random() < p_change:
                        h.value = rng.getrandbits(p.width)
                    elif p.role == "set":
                        h.value = rng.getrandbits(p.width) if rng.random() < p_set else 0
                    elif p.role == "ready":
                        h.value = int(rng.random() < p_ready)
                for n in refuse_names(self.map):
                    self.handles[n].value = int(rng.random() < p_refuse)
                await RisingEdge(clk)

        async def record(self) -> None:
            clk = self.dut.clk
            items = list(self.handles.items())
            while True:
                await ReadOnly()
                if self.recording:
                    # None: X/Z, as cocotbext-axi drives the payload of an idle channel (a 2-state
                    # simulator shows it as 0); the model reads a payload only with its valid
                    self.trace.append({n: int(v) if (v := h.value).is_resolvable else None for n, h in items})
                await RisingEdge(clk)

    @cocotb.test()
    async def test_bus_names(dut):
        """cocotbext-axi finds every AXI4-Lite signal (wstrb, bresp, rresp included) from the prefix."""
        bus = AxiLiteBus.from_prefix(dut, PREFIX, bus_separator="__")
        for ch, sigs in ((bus.write.aw, ("awaddr", "awvalid", "awready")),
                         (bus.write.w, ("wdata", "wstrb", "wvalid", "wready")),
                         (bus.write.b, ("bresp", "bvalid", "bready")),
                         (bus.read.ar, ("araddr", "arvalid", "arready")),
                         (bus.read.r, ("rdata", "rresp", "rvalid", "rready"))):
            for s in sigs:
                assert hasattr(ch, s), f"cocotbext-axi did not find {PREFIX}__{s}"

    @cocotb.test()
    @cocotb.parametrize(backpressure=["none", "random", "burst"])
    async def test_random_access(dut, backpressure: str):
        """Random reads/writes (partial, unaligned, holes) with random channel stalls, checked per
        transaction against the register-file model."""
        cfg = test_config()
        seed = int(cfg["seed"]) + ("none", "random", "burst").index(backpressure)
        regmap = accelerator_register_map(params_from_dict(cfg["params"]), **cfg.get("map", {}))
        dut._log.info(f"seed = {seed}, backpressure = {backpressure}")
        tb = TB(dut, regmap, seed)
        tb.set_backpressure(backpressure)
        await tb.reset()
        cocotb.start_soon(tb.drive_inputs(0.1, 0.05, 0.6))
        cocotb.start_soon(tb.record())
        await RisingEdge(dut.clk)
        tb.recording = True
        ops = random_ops(regmap, random.Random(seed), int(cfg.get("ops", 400)))
        model_reads = []
        events = []
        for op in ops:   # everything in flight at once: reads and writes overlap
            if op.kind == "w":
                events.append(("w", op, tb.axil.init_write(op.addr, op.data)))
            else:
                events.append(("r", op, tb.axil.init_read(op.addr, op.length)))
        for kind, op, ev in events:
            await ev.wait()
            if kind == "r":
                model_reads.append(ev.data)
        for _ in range(4):
            await RisingEdge(dut.clk)
        tb.recording = False
        await RisingEdge(dut.clk)
        st = check_trace(regmap, tb.trace, seed)
        cov = Coverage("axil_csr", cfg)
        sample_coverage(cov, regmap, tb.trace, backpressure)
        cov.write()
        # the master saw the same read results as the trace
        r_trace = [(t[axi_name("rdata")], t[axi_name("rresp")]) for t in tb.trace
                   if t[axi_name("rvalid")] and t[axi_name("rready")]]
        got = [(int.from_bytes(r.data, "little"), int(r.resp)) for r in model_reads]
        assert got == r_trace, f"seed {seed}: AxiLiteMaster read results differ from the bus trace"
        assert st.reads == sum(op.kind == "r" for op in ops) and st.writes == sum(op.kind == "w" for op in ops)
        assert st.slverr > 0 and st.pushes > 0 and st.strobes > 0 and st.partial_writes > 0, st
        assert any(r.resp == AxiResp.SLVERR for r in model_reads) and any(r.resp == AxiResp.OKAY
                                                                          for r in model_reads)
        dut._log.info(f"checked {st}")

    @cocotb.test()
    async def test_sustained_writes(dut):
        """AxiLiteMaster with no pauses, 64 writes to an RW register and 64 pushes (ready held high):
        one write per cycle (AW and W transferred in consecutive cycles), counted on the bus."""
        cfg = test_config()
        regmap = accelerator_register_map(params_from_dict(cfg["params"]), **cfg.get("map", {}))
        tb = TB(dut, regmap, int(cfg["seed"]))
        await tb.reset()
        for p in tb.ports:
            if p.role == "ready":
                tb.handles[p.verilog_name].value = 1
        cocotb.start_soon(tb.record())
        await RisingEdge(dut.clk)
        tb.recording = True
        for reg in ("irq_enable", "update"):
            start = len(tb.trace)
            evs = [tb.axil.init_write(regmap[reg].addr, i.to_bytes(4, "little")) for i in range(64)]
            for ev in evs:
                await ev.wait()
            await RisingEdge(dut.clk)
            part = tb.trace[start:]
            aw = [c for c, t in enumerate(part) if t[axi_name("awvalid")] and t[axi_name("awready")]]
            b = [c for c, t in enumerate(part) if t[axi_name("bvalid")] and t[axi_name("bready")]]
            dut._log.info(f"{reg}: 64 writes, AW cycles {aw[0]}..{aw[-1]}, B {b[0]}..{b[-1]}: "
                          f"{(b[-1] - aw[0] + 1) / 64:.3f} cycles per write")
            assert aw == list(range(aw[0], aw[0] + 64)), f"{reg}: AW not accepted every cycle: {aw[:10]}"
            assert b == list(range(aw[0] + 2, aw[0] + 66)), f"{reg}: B not every cycle: {b[:10]}"
        tb.recording = False
        await RisingEdge(dut.clk)
        st = check_trace(regmap, tb.trace)
        assert st.writes == 128 and st.pushes == 64, st
