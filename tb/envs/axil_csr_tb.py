"""AXI4-Lite CSR block (:class:`hw.axil_csr.AxiLiteCsr`) against its golden twin
(:class:`golden.twins.axil_csr.RegisterFileModel`), under cocotb with cocotbext-axi's ``AxiLiteMaster``.

The check works cycle by cycle as the simulation runs: the value of every port of the DUT in one
cycle (a dict keyed by Verilog port name, recorded in ``ReadOnly``) goes to :class:`CsrChecker`, which
replays the AXI transfers into the register-file model in the documented order (a read samples before
a commit of the same cycle; hardware sets win over clears) and compares, transaction by transaction:
every R and B response, every W1P pulse and push transfer with its cycle, every RW/W1C output in
every cycle, and the documented timing: the cycle model :meth:`RegisterFileModel.commits` says in
which cycle each held write commits (and whether a push expired), the B buffer's contents are checked
every cycle, R comes one cycle after AR. Nothing is kept per cycle, so a run's memory does not grow
with its length (the long regressions run 10^6 cycles). :func:`check_trace` runs the same checker
over a recorded list of cycles: the Amaranth-simulator test (tests/blocks/test_axil_csr.py) builds
such a trace and calls it. Functional coverage is sampled the same way (:class:`CoverageSampler`).

cocotbext-axi finds the bus with ``AxiLiteBus.from_prefix(dut, "s_axil", bus_separator="__")``
(Amaranth joins the member path with ``__``).
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType

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
    """Counts of what a check compared (cycles, transactions by kind, commits by field access)."""

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


def _hs(t: dict, ch: str) -> bool:
    return bool(t[axi_name(ch + "valid")] and t[axi_name(ch + "ready")])


class CsrChecker:
    """Streaming comparison of the CSR block with :class:`RegisterFileModel`: :meth:`step` takes the
    value of every port in one cycle (a dict keyed by :func:`trace_names`, recorded in ``ReadOnly``),
    in cycle order; :meth:`finish` closes the run. Memory stays constant over the run: it holds the
    model, the writes and reads in flight and nothing per cycle.

    Each cycle, in the documented order (a read samples before a commit of the same cycle; hardware
    sets win over clears): every RW/W1C output against the model, the B buffer's contents, a read
    accepted this cycle (its expected data and response), the held write's commit (cycle model
    :meth:`RegisterFileModel.commits`, whether a push expired or was refused), ``push_refused``, every
    W1P pulse and push transfer, the hardware sets. Every R response is compared as soon as it is on
    the bus (data, response, and ``rvalid`` rising the cycle after its AR); every read, write and B
    response must be finished at :meth:`finish`. The first difference raises :class:`CsrMismatch`
    naming the cycle and the seed.
    """

    def __init__(self, regmap: RegisterMap, seed=None):
        self.map, self.seed = regmap, seed
        self.model = RegisterFileModel(regmap)
        ports = regmap.ports()
        self.out_values = [p for p in ports if p.role == "value"]
        self.strobes = [p for p in ports if p.role == "strobe"]
        self.ro_in = [p for p in ports if p.role == "input"]
        self.sets = [p for p in ports if p.role == "set"]
        self.pushes = [r for r in regmap.registers if r.push]
        self.stats = CheckStats()
        self.aw_q: deque = deque()     # accepted AW (cycle, addr) not yet paired with its W
        self.w_q: deque = deque()      # accepted W (cycle, data, strb)
        self.held = None               # [earliest commit cycle, addr, data, strb, cycles waited]
        self.b_queue: deque = deque()  # responses in the B buffer at the start of the cycle (model)
        self.exp_r: deque = deque()    # (accept cycle, addr, data, resp) of reads not answered yet
        self.r_obs: deque = deque()    # (cycle, data, resp) of R transfers not matched yet
        self.r_rise: deque = deque()   # cycles in which rvalid rose, not matched yet
        self.counts = {"accepted": 0, "rise": 0, "responses": 0}
        self.prev: dict | None = None

    @property
    def cycle(self) -> int:
        """The cycle the next :meth:`step` checks (= cycles checked so far)."""
        return self.stats.cycles

    def fail(self, cycle: int, what: str):
        raise CsrMismatch(f"axil_csr: cycle {cycle}: {what} (seed {self.seed})")

    def step(self, t: dict[str, int | None]) -> None:
        """Check one cycle (``t``: port name -> value, ``None`` for X/Z)."""
        c, st, model, fail = self.stats.cycles, self.stats, self.model, self.fail
        # handshakes of this cycle, in order
        if _hs(t, "aw"):
            self.aw_q.append((c, t[axi_name("awaddr")]))
        if _hs(t, "w"):
            self.w_q.append((c, t[axi_name("wdata")], t[axi_name("wstrb")]))
        if _hs(t, "b") and t[axi_name("bresp")] == SLVERR:
            st.slverr += 1
        if _hs(t, "r"):
            self.r_obs.append((c, t[axi_name("rdata")], t[axi_name("rresp")]))
            self.counts["responses"] += 1
            st.slverr += t[axi_name("rresp")] == SLVERR
        prev = self.prev
        if prev is not None and t[axi_name("rvalid")] and (not prev[axi_name("rvalid")]
                                                            or prev[axi_name("rready")]):
            self.r_rise.append(c)
            self.counts["rise"] += 1
        # outputs at the start of cycle c show the state after cycle c-1
        for p in self.out_values:
            want = model.value(p.register, p.field)
            if t[p.verilog_name] != want:
                fail(c, f"{p.verilog_name} = {t[p.verilog_name]:#x}, model {want:#x}")
        b_queue = self.b_queue
        if t[axi_name("bvalid")] != bool(b_queue) or (b_queue and t[axi_name("bresp")] != b_queue[0]):
            fail(c, f"B channel bvalid {t[axi_name('bvalid')]} bresp {t[axi_name('bresp')]}, model "
                    f"{'bresp ' + str(b_queue[0]) if b_queue else 'no response'}")
        # read sampled in this cycle, before a commit of this cycle
        if _hs(t, "ar"):
            ro = {(p.register, p.field): t[p.verilog_name] for p in self.ro_in}
            addr = t[axi_name("araddr")]
            self.exp_r.append((c, addr, *model.read(addr, ro)))
            self.counts["accepted"] += 1
        # a complete write (both halves received in earlier cycles) waits for its commit
        if self.held is None and self.aw_q and self.w_q and self.aw_q[0][0] < c and self.w_q[0][0] < c:
            (ca, addr), (cw, data, strb) = self.aw_q.popleft(), self.w_q.popleft()
            self.held = [max(ca, cw) + 1, addr, data, strb, 0]
        eff = None
        if self.held is not None:
            earliest, addr, data, strb, waited = self.held
            r = self.map.at(addr)
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
                self.held = None
            elif len(b_queue) < 2:
                self.held[4] += 1
        if t["push_refused"] != bool(eff and eff.refused):
            fail(c, f"push_refused = {t['push_refused']}, model {int(bool(eff and eff.refused))}")
        # W1P pulses and push transfers happen in the commit cycle only
        for p in self.strobes:
            want = (eff.strobes.get((p.register, p.field), 0) if eff else 0)
            if t[p.verilog_name] != want:
                fail(c, f"strobe {p.verilog_name} = {t[p.verilog_name]:#x}, model {want:#x}")
            st.strobes += bool(want)
        for r in self.pushes:
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
        for p in self.sets:
            if t[p.verilog_name]:
                model.hw_set(p.register, p.field, t[p.verilog_name])
        if _hs(t, "b"):
            b_queue.popleft()
        if eff is not None:
            b_queue.append(eff.resp)
        self._match_reads()
        self.prev = t
        st.cycles += 1

    def _match_reads(self) -> None:
        """Compare every read whose expectation, R response and rvalid rise are all known."""
        while self.exp_r and self.r_obs and self.r_rise:
            (ac, addr, data, resp), (oc, odata, oresp), rc = (self.exp_r.popleft(), self.r_obs.popleft(),
                                                             self.r_rise.popleft())
            if rc != ac + 1:
                self.fail(rc, f"read accepted in cycle {ac}: rvalid rose in cycle {rc}, not {ac + 1}")
            if (data, resp) != (odata, oresp):
                reg = self.map.at(addr)
                self.fail(oc, f"read of {addr:#x} ({reg.name if reg else 'hole'}) accepted in cycle {ac}: "
                              f"data {odata:#x} resp {oresp}, model {data:#x} resp {resp}")
            self.stats.reads += 1

    def finish(self) -> CheckStats:
        """End of the run: every accepted read answered once, every write committed and its B taken;
        returns the counts of what was checked."""
        n, end = self.counts, self.stats.cycles
        if not n["accepted"] == n["responses"] == n["rise"]:
            self.fail(end, f"{n['accepted']} reads accepted, {n['rise']} R valid, "
                           f"{n['responses']} R responses seen")
        if self.aw_q or self.w_q or self.held or self.b_queue:
            self.fail(end, f"unfinished writes at the end: {len(self.aw_q)} AW, {len(self.w_q)} W, "
                           f"{int(self.held is not None)} held, {len(self.b_queue)} B responses")
        return self.stats


def check_trace(regmap: RegisterMap, trace: Iterable[dict[str, int]], seed=None) -> CheckStats:
    """Compare a recorded trace (one dict per cycle) with :class:`RegisterFileModel` through
    :class:`CsrChecker`; raise :class:`CsrMismatch` at the first difference, else return counts of
    what was checked."""
    chk = CsrChecker(regmap, seed)
    for t in trace:
        chk.step(t)
    return chk.finish()


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


class CoverageSampler:
    """Functional coverage of the bus, sampled cycle by cycle (:meth:`step`, the same per-cycle dicts
    as :class:`CsrChecker`): every read and write (matched to its response in order) by target kind,
    strobe and response, the order of AW and W, and the cycles a valid waited for ready on each
    channel, crossed with the pause class of the master's channels. With collection off, :meth:`step`
    does nothing."""

    CHANNELS = ("aw", "w", "b", "ar", "r")
    # EXOKAY and DECERR are never answered (the check fails on them)
    RESP_NAMES = MappingProxyType({0: "OKAY", 2: "SLVERR"})

    def __init__(self, cov, regmap: RegisterMap, backpressure: str):
        self.enabled = cov.enabled
        if not self.enabled:   # collection off (make test): nothing to compute
            return
        from tb.kit.coverage import GAP_BINS, label

        self.map, self.backpressure = regmap, backpressure
        kinds = ["ro", "rw", "w1c", "w1p", "push", "hole"]
        resp = ["OKAY", "SLVERR"]
        self.acc = cov.group("access", {"op": ["read", "write"], "target": kinds, "resp": resp,
                                        "strobe": ["full", "partial", "none"],
                                        "aw_w": ["aw_first", "same", "w_first"]},
                             {"op_x_target_x_resp": ("op", "target", "resp")},
                             # the map's rules: a hole answers SLVERR, a mapped read OKAY, a write OKAY
                             # except a refused push (golden.spec.register_map.description)
                             ignore={"op_x_target_x_resp": [("read", "hole", "OKAY"), ("write", "hole", "OKAY")]
                                     + [("read", k, "SLVERR") for k in kinds[:-1]]
                                     + [("write", k, "SLVERR") for k in ("ro", "rw", "w1c", "w1p")]})
        self.wait = cov.group("wait", {"channel": list(self.CHANNELS), "pause": ["none", "random", "burst"],
                                       "cycles": GAP_BINS},
                              {"channel_x_pause_x_cycles": ("channel", "pause", "cycles")},
                              # B and R wait only for the master's ready, which never drops without pauses
                              ignore={"channel_x_pause_x_cycles": [(ch, "none", label(g)) for ch in ("b", "r")
                                                                   for g in GAP_BINS[1:]]},
                              shared=True)
        self.waiting = dict.fromkeys(self.CHANNELS, 0)
        # the i-th AW pairs with the i-th W and the i-th B (in order on AXI4-Lite); reads with their R
        self.aw: deque = deque()   # (cycle, addr)
        self.w: deque = deque()    # (cycle, strb)
        self.b: deque = deque()    # bresp
        self.ar: deque = deque()   # araddr
        self.cycle = 0

    def step(self, t: dict) -> None:
        if not self.enabled:
            return
        for ch in self.CHANNELS:
            if _hs(t, ch):
                self.wait.sample(channel=ch, pause=self.backpressure, cycles=self.waiting[ch])
                self.waiting[ch] = 0
            elif t[axi_name(ch + "valid")]:
                self.waiting[ch] += 1
        c = self.cycle
        if _hs(t, "aw"):
            self.aw.append((c, t[axi_name("awaddr")]))
        if _hs(t, "w"):
            self.w.append((c, t[axi_name("wstrb")]))
        if _hs(t, "b"):
            self.b.append(t[axi_name("bresp")])
        if _hs(t, "ar"):
            self.ar.append(t[axi_name("araddr")])
        if _hs(t, "r"):
            a = self.ar.popleft()
            self.acc.sample(op="read", target=target_kind(self.map, a),
                            resp=self.RESP_NAMES.get(t[axi_name("rresp")]))
        while self.aw and self.w and self.b:
            (ca, a), (cw, strb), br = self.aw.popleft(), self.w.popleft(), self.b.popleft()
            self.acc.sample(op="write", target=target_kind(self.map, a), resp=self.RESP_NAMES.get(br),
                            strobe="full" if strb == 0xF else "none" if strb == 0 else "partial",
                            aw_w="same" if ca == cw else "aw_first" if ca < cw else "w_first")
        self.cycle += 1


def sample_coverage(cov, regmap: RegisterMap, trace: Iterable[dict], backpressure: str) -> None:
    """:class:`CoverageSampler` over a recorded trace."""
    s = CoverageSampler(cov, regmap, backpressure)
    for t in trace:
        s.step(t)


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
    import json
    import resource
    from pathlib import Path

    from cocotbext.axi import AxiLiteBus, AxiResp

    from golden.spec.params import params_from_dict
    from golden.spec.register_map.accelerator_map import accelerator_register_map
    from tb.kit.coverage import Coverage
    from tb.kit.runner import test_config
    from tb.kit.testbench import Testbench

    class TB(Testbench):
        """The AXI-Lite master, drivers of the CSR inputs and the cycle recorder (clock and reset:
        :class:`~tb.kit.testbench.Testbench`, the CSR inputs idle at 0, released without a settle edge).

        While ``recording``, every cycle's port values go, in ``ReadOnly``, to the streaming
        :class:`CsrChecker` (``checker``) and to every callable in ``sinks``; nothing is kept per
        cycle unless ``keep_trace`` (then ``trace`` is the list of them). The R transfers wait in
        ``r_seen`` until the test compares them with the master's read results. A mismatch stops the
        recording and is kept in ``error`` (:meth:`raise_error` raises it in the test).
        """

        def __init__(self, dut, regmap: RegisterMap, seed: int, *, keep_trace: bool = False):
            self.map, self.seed = regmap, seed
            self.rng = random.Random(f"{seed}/inputs")
            self.ports = regmap.ports()
            self.handles = {n: getattr(dut, n) for n in trace_names(regmap)}
            super().__init__(dut, idle=[self.handles[p.verilog_name] for p in self.ports if p.direction == "in"]
                             + [self.handles[n] for n in refuse_names(regmap)], settle_cycles=0)
            self.axil = self.axil_master(PREFIX)
            self.checker = CsrChecker(regmap, seed)
            self.sinks: list = []
            self.trace: list[dict[str, int | None]] | None = [] if keep_trace else None
            self.r_seen: deque = deque()
            self.error: CsrMismatch | None = None
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
            rvalid, rready, rdata, rresp = (axi_name(s) for s in ("rvalid", "rready", "rdata", "rresp"))
            while True:
                await ReadOnly()
                if self.recording and self.error is None:
                    # None: X/Z, as cocotbext-axi drives the payload of an idle channel (a 2-state
                    # simulator shows it as 0); the model reads a payload only with its valid
                    t = {n: int(v) if (v := h.value).is_resolvable else None for n, h in items}
                    if self.trace is not None:
                        self.trace.append(t)
                    if t[rvalid] and t[rready]:
                        self.r_seen.append((t[rdata], t[rresp]))
                    try:
                        self.checker.step(t)
                        for sink in self.sinks:
                            sink(t)
                    except CsrMismatch as e:
                        self.error = e
                await RisingEdge(clk)

        def raise_error(self) -> None:
            """Raise the first mismatch the recorder found, if any."""
            if self.error is not None:
                raise self.error

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
        """Random reads/writes (partial, unaligned, holes) with random channel stalls, checked cycle by
        cycle against the register-file model as they happen.

        ``ops`` operations are issued at once (a batch); with ``min_cycles`` (long regressions) further
        batches with new stimulus streams follow until that many cycles are checked. ``stats_path``:
        a JSON file with the cycles and transactions checked."""
        cfg = test_config()
        seed = int(cfg["seed"]) + ("none", "random", "burst").index(backpressure)
        regmap = accelerator_register_map(params_from_dict(cfg["params"]), **cfg.get("map", {}))
        n_ops, min_cycles = int(cfg.get("ops", 400)), int(cfg.get("min_cycles", 0))
        dut._log.info(f"seed = {seed}, backpressure = {backpressure}")
        tb = TB(dut, regmap, seed)
        cov = Coverage("axil_csr", cfg)
        tb.sinks.append(CoverageSampler(cov, regmap, backpressure).step)
        tb.set_backpressure(backpressure)
        await tb.reset()
        cocotb.start_soon(tb.drive_inputs(0.1, 0.05, 0.6))
        cocotb.start_soon(tb.record())
        await RisingEdge(dut.clk)
        tb.recording = True
        n_reads = n_writes = batches = 0
        resps: set[int] = set()
        while True:
            # the first batch is the stimulus of a single run; later ones draw new streams
            ops = random_ops(regmap, random.Random(seed if batches == 0 else f"{seed}/{batches}"), n_ops)
            events = []
            for op in ops:   # everything in flight at once: reads and writes overlap
                if op.kind == "w":
                    events.append(("w", tb.axil.init_write(op.addr, op.data)))
                else:
                    events.append(("r", tb.axil.init_read(op.addr, op.length)))
            reads = []
            for kind, ev in events:
                await ev.wait()
                if kind == "r":
                    reads.append(ev.data)
            tb.raise_error()
            # the master saw the same read results as the bus
            got = [(int.from_bytes(r.data, "little"), int(r.resp)) for r in reads]
            seen = [tb.r_seen.popleft() for _ in range(min(len(got), len(tb.r_seen)))]
            assert got == seen, (f"seed {seed}: AxiLiteMaster read results differ from the bus "
                                 f"(batch {batches})")
            resps |= {int(r.resp) for r in reads}
            n_reads += len(reads)
            n_writes += len(ops) - len(reads)
            batches += 1
            if tb.checker.cycle >= min_cycles:
                break
        for _ in range(4):
            await RisingEdge(dut.clk)
        tb.recording = False
        await RisingEdge(dut.clk)
        tb.raise_error()
        st = tb.checker.finish()
        cov.write()
        assert not tb.r_seen, f"seed {seed}: {len(tb.r_seen)} R transfers the master did not report"
        assert st.reads == n_reads and st.writes == n_writes, (st, n_reads, n_writes)
        assert st.slverr > 0 and st.pushes > 0 and st.strobes > 0 and st.partial_writes > 0, st
        assert {int(AxiResp.SLVERR), int(AxiResp.OKAY)} <= resps, resps
        if cfg.get("stats_path"):   # with the simulator process's peak memory (kB), flat in the run length
            Path(cfg["stats_path"]).write_text(json.dumps(
                {"cycles": st.cycles, "batches": batches, "reads": st.reads, "writes": st.writes,
                 "pushes": st.pushes, "slverr": st.slverr, "refused": st.refused,
                 "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
        dut._log.info(f"checked {st} in {batches} batch(es)")

    @cocotb.test()
    async def test_sustained_writes(dut):
        """AxiLiteMaster with no pauses, 64 writes to an RW register and 64 pushes (ready held high):
        one write per cycle (AW and W transferred in consecutive cycles), counted on the bus."""
        cfg = test_config()
        regmap = accelerator_register_map(params_from_dict(cfg["params"]), **cfg.get("map", {}))
        tb = TB(dut, regmap, int(cfg["seed"]), keep_trace=True)
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
        tb.raise_error()
        st = tb.checker.finish()
        assert st.writes == 128 and st.pushes == 64, st
