"""Accelerator top (:class:`hw.accelerator.Accelerator`) through its AXI4-Lite port, with the behavioural
array (:class:`tb.models.reram_array.ArrayModel`) on its array port.

Smoke test of the training path: seeded update requests (with update-cycle ends and a marker) are
pushed through UPDATE, then seeded frames (sparse inputs, one of them of the wrong length) through the
AXI4-Stream port; the pulses that reach the array lines must equal, in order, those of the golden
chain OuterProductEngine -> ArbitrationController -> PulseScheduler (:func:`golden_chain`); the array model's
conductances must equal the golden CrossbarArray's after the same pulses; the CSR counters, events,
errors, the interrupt, the owner switch, cell reads and the soft reset are checked on the way.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from golden.spec.params import AccelParams
from golden.spec.transactions import Pulse
from golden.twins.arbitration_controller import ArbitrationController as GoldenArbitration
from golden.twins.outer_product_engine import OuterProductEngine as GoldenEngine
from golden.twins.outer_product_engine import frame_length, frame_words
from golden.twins.pulse_scheduler import pulses_for


@dataclass(frozen=True)
class UpdateEntry:
    """One UPDATE push: an update request and the END_CYCLE / MARKER flags."""

    row: int = 0
    col: int = 0
    dw: int = 0
    end_cycle: bool = False
    marker: bool = False


@dataclass(frozen=True)
class FrameEntry:
    """One frame on ``s_axis``: its stream words (a frame of the wrong length is dropped whole)."""

    words: tuple[int, ...]


@dataclass
class ChainResult:
    """What the golden chain predicts for a list of entries (pulse cycles relative to their request)."""

    pulses: list[Pulse] = field(default_factory=list)
    requests: int = 0          # UPDATE requests the engine accepts
    program_requests: int = 0
    skipped: int = 0
    cycles_closed: int = 0
    frames: int = 0            # frames committed
    frames_dropped: int = 0


def golden_chain(params: AccelParams, entries: list[UpdateEntry | FrameEntry]) -> ChainResult:
    """The pulses the top must issue for ``entries``, in order (the chain is in-order end to end)."""
    eng, arb, out = GoldenEngine(params), GoldenArbitration(params), ChainResult()

    def select(pcs) -> None:
        for pc in pcs:
            pr = arb.select(pc)
            if pr is not None:
                out.program_requests += 1
                out.pulses.extend(pulses_for(params, pr))

    for e in entries:
        if isinstance(e, FrameEntry):
            res = eng.frame_from_words(list(e.words))
            out.frames_dropped += res.dropped
            if not res.dropped:
                select(res.counts)
                arb.end_cycle()
                out.frames += 1
                out.cycles_closed += 1
            continue
        if not e.marker:
            out.requests += 1
            if 0 <= e.row < params.array.rows and 0 <= e.col < params.array.cols:
                pc = eng.update(e.row, e.col, e.dw)
                select([pc] if pc is not None else [])
        if e.end_cycle:
            arb.end_cycle()
            out.cycles_closed += 1
    out.skipped = arb.skipped
    return out


def random_frames(params: AccelParams, rng: random.Random, n: int) -> list[FrameEntry]:
    """``n`` frames with about a quarter of the inputs non-zero and errors of up to ~3 eps per unit
    input, so that most frames give pulses; frame ``n // 2`` is one word short (dropped)."""
    e, u = params.engine, params.update
    x_hi, d_hi = (1 << e.x_width) - 1, (1 << (e.delta_width - 1)) - 1
    d_lim = min(d_hi, 3 * u.eps << e.delta_frac)
    out = []
    for k in range(n):
        x = [rng.randrange(1, x_hi + 1) if rng.random() < 0.25 else 0 for _ in range(params.array.rows)]
        d = [rng.randint(-d_lim, d_lim) for _ in range(params.array.cols)]
        words = frame_words(x, d, params)
        out.append(FrameEntry(tuple(words[:-1] if k == n // 2 else words)))
    assert all(len(f.words) <= frame_length(params) for f in out)
    return out


def random_entries(params: AccelParams, rng: random.Random, n: int, cycle_len: int = 4) -> list[UpdateEntry]:
    """Updates of a few synapses with |dW| up to ~2.5 eps (most give pulses), END_CYCLE every
    ``cycle_len`` entries, and one MARKER + END_CYCLE (an update cycle closed without an update)."""
    eps, lim = params.update.eps, (1 << (params.update.dw_width - 1)) - 1
    out = []
    for i in range(n):
        dw = max(-lim, min(lim, int(rng.uniform(-2.5, 2.5) * eps)))
        out.append(UpdateEntry(rng.randrange(params.array.rows), rng.randrange(params.array.cols), dw,
                               end_cycle=(i % cycle_len == cycle_len - 1)))
    out.insert(n // 2, UpdateEntry(marker=True, end_cycle=True))
    return out


try:  # the cocotb part only loads inside a simulation
    import cocotb
    _HAVE_COCOTB = cocotb.is_simulation
except ImportError:  # pragma: no cover
    _HAVE_COCOTB = False


if _HAVE_COCOTB:
    from cocotb.triggers import ClockCycles
    from cocotbext.axi import AxiResp, AxiStreamFrame

    from golden.physics.crossbar_state import CrossbarArray
    from golden.physics.device import PRESETS, DeviceModel
    from golden.spec.params import params_from_dict
    from golden.spec.register_map.accelerator_map import MAGIC, accelerator_register_map
    from golden.spec.register_map.description import RegisterMap
    from golden.twins.crossbar_addressing import LATENCY
    from golden.twins.pulse_scheduler import ErrorCode
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard
    from tb.kit.testbench import Testbench
    from tb.models.reram_array import ArrayModel

    class CsrHost:
        """Register-level host driver: reads and writes registers and fields by name through
        cocotbext-axi's AxiLiteMaster (``s_axil__*`` ports), checking every response."""

        def __init__(self, axil, regmap: RegisterMap):
            self.map = regmap
            self.axil = axil

        async def write(self, reg: str, word: int | None = None, **fields: int) -> None:
            r = self.map[reg]
            value = r.encode(**fields) if word is None else word
            resp = await self.axil.write(r.addr, value.to_bytes(4, "little"))
            assert resp.resp == AxiResp.OKAY, f"write {reg}: response {resp.resp}"

        async def read(self, reg: str) -> int:
            r = self.map[reg]
            resp = await self.axil.read(r.addr, 4)
            assert resp.resp == AxiResp.OKAY, f"read {reg}: response {resp.resp}"
            return int.from_bytes(resp.data, "little")

        async def fields(self, reg: str) -> dict[str, int]:
            return self.map[reg].decode(await self.read(reg))

        async def wait_for(self, reg: str, fld: str, value: int, limit: int = 2000) -> int:
            """Poll until the field equals ``value``; returns the number of polls."""
            for i in range(limit):
                if (await self.fields(reg))[fld] == value:
                    return i
            raise AssertionError(f"{reg}.{fld} did not become {value} in {limit} polls")

    class TB(Testbench):
        """The host driver on the AXI4-Lite port and, from cycle 0, the behavioural array on the
        array port (time-based counter: the array stamps its pulses with it)."""

        def __init__(self, dut, params: AccelParams, seed: int):
            super().__init__(dut, idle=[dut.adc], timed=True)
            self.regmap = accelerator_register_map(params)
            self.host = CsrHost(self.axil_master("s_axil"), self.regmap)
            self.device = DeviceModel(PRESETS["reram"], seed=seed)
            self.params = params
            self.array: ArrayModel | None = None

        async def reset(self):
            """Reset; the array model starts with cycle 0."""
            counter = await super().reset()
            self.array = ArrayModel(self.dut, CrossbarArray(self.params, self.device, adc_width=8),
                                    counter=counter, latency=LATENCY).start()
            return counter

    @cocotb.test()
    async def smoke_training(dut):
        """Updates through AXI-Lite -> pulses on the array port equal the golden chain's."""
        cfg = test_config()
        params, seed = params_from_dict(cfg["params"]), int(cfg["seed"])
        dut._log.info(f"seed = {seed}")
        tb = TB(dut, params, seed)
        await tb.reset()
        regmap, host, array, device = tb.regmap, tb.host, tb.array, tb.device
        # the chi clear walk runs after reset (rows * cols cycles; one register read takes a few)
        st = await host.fields("status")
        assert st["clearing"] == st["train_busy"] == 1, st

        # identification and build-time constants
        assert await host.read("id") == MAGIC
        for reg in ("array_cfg", "synapse_cfg", "update_cfg", "eps", "timing0", "timing1"):
            assert await host.read(reg) == regmap[reg].reset_value, reg
        assert dut.irq.value == 0

        # --- updates -----------------------------------------------------------------------------------
        entries = random_entries(params, random.Random(seed), int(cfg.get("updates", 24)))
        want = golden_chain(params, entries)
        await host.write("irq_enable", cycle_done=1)
        for e in entries:
            await host.write("update", row=e.row, col=e.col, dw=e.dw, end_cycle=int(e.end_cycle),
                             marker=int(e.marker))
        await host.wait_for("status", "busy", 0)
        assert int(dut.irq.value) == 1, "irq: EVENTS.CYCLE_DONE is enabled and set"
        assert (await host.fields("events"))["cycle_done"] == 1
        await host.write("events", cycle_done=1)
        assert (await host.fields("events"))["cycle_done"] == 0 and int(dut.irq.value) == 0

        sb = Scoreboard("accelerator.pulses", seed=seed, compare_cycles=False)
        strip = [(p.row, p.phys_col, p.polarity) for p in want.pulses]
        sb.check(strip, [(p.row, p.phys_col, p.polarity) for p in array.pulses])
        array.check_windows(width=params.timing.width)
        assert not array.violations, f"seed {seed}: {array.violations[:5]}"
        golden_array = CrossbarArray(params, device, adc_width=8)
        golden_array.apply(want.pulses)
        assert (golden_array.g_flat == array.array.g_flat).all(), f"seed {seed}: conductances differ"
        assert await host.read("pulse_count") == len(want.pulses)
        assert await host.read("request_count") == want.requests
        assert await host.read("skipped_count") == want.skipped
        assert (await host.fields("errors")) == {k: 0 for k in regmap["errors"].decode(0)}
        busy = await host.read("busy_cycles")
        assert busy > 0
        dut._log.info(f"{len(entries)} entries -> {want.program_requests} program requests, "
                      f"{len(want.pulses)} pulses, {want.skipped} skipped, {busy} busy cycles")

        # --- frames through s_axis: the chain continues from the updates' chi and counters ----------------
        frames = random_frames(params, random.Random(seed + 1), int(cfg.get("frames", 4)))
        chain = golden_chain(params, entries + frames)
        axis = tb.axis_source("s_axis")
        n0 = len(array.pulses)
        for f in frames:
            await axis.send(AxiStreamFrame(list(f.words)))
        await axis.wait()
        await host.wait_for("status", "busy", 0)
        got = [(p.row, p.phys_col, p.polarity) for p in array.pulses[n0:]]
        sb.check([(p.row, p.phys_col, p.polarity) for p in chain.pulses[len(want.pulses):]], got)
        assert await host.read("frame_count") == chain.frames
        assert (await host.fields("errors"))["frame"] == int(chain.frames_dropped > 0)
        await host.write("errors", frame=1)
        dut._log.info(f"{len(frames)} frames ({chain.frames_dropped} dropped) -> {len(got)} pulses")
        want = chain
        golden_array = CrossbarArray(params, device, adc_width=8)
        golden_array.apply(want.pulses)
        assert (golden_array.g_flat == array.array.g_flat).all(), f"seed {seed}: conductances differ"

        # --- a cell read of a programmed device ----------------------------------------------------------
        p0 = want.pulses[-1]
        await host.write("read_req", row=p0.row, phys_col=p0.phys_col)
        await host.wait_for("events", "read_done", 1)
        rd = await host.fields("read_data")
        code = golden_array.read_code(p0.row, p0.phys_col)
        assert rd == {"data": code, "err": 0, "valid": 1}, (rd, code)

        # --- errors: out-of-range update and read (needs a non-power-of-two array) -----------------------
        if params.array.rows < 1 << params.row_width:
            await host.write("update", row=params.array.rows, col=0, dw=1)
            await host.wait_for("errors", "update_range", 1)
            await host.write("events", read_done=1)      # acknowledge the last result: READ_REQ is taken again
            await host.write("read_req", row=params.array.rows, phys_col=0)
            await host.wait_for("errors", "sched", 1)
            e = await host.fields("errors")
            assert e["sched_code"] == ErrorCode.READ_ROW, e
            assert (await host.fields("read_data"))["err"] == 1
            await host.write("irq_enable", errors=1)
            assert int(dut.irq.value) == 1
            await host.write("errors", update_range=1, sched=1)
            e = await host.fields("errors")
            assert e["update_range"] == 0 and e["sched"] == 0 and e["sched_code"] == 0, e
            assert int(dut.irq.value) == 0
        # --- owner switch: updates wait while the BNN path owns the array port ---------------------------
        await host.write("ctrl", mode=1)
        assert (await host.fields("status"))["owner"] == 1
        n_pulses = len(array.pulses)
        # depression (never period-gated in the smoke configuration): at least one pulse
        big = -min(2 * params.update.eps, 1 << (params.update.dw_width - 1))
        await host.write("update", row=0, col=0, dw=big)
        await host.write("update", row=0, col=0, dw=big)
        await ClockCycles(dut.clk, 50)
        st = await host.fields("status")
        assert st["train_busy"] == 1 and len(array.pulses) == n_pulses, st
        await host.write("ctrl", mode=0)
        await host.wait_for("status", "busy", 0)
        assert len(array.pulses) > n_pulses
        # soft reset zeroes the counters and clears chi (STATUS.CLEARING for rows * cols cycles)
        await host.write("ctrl", soft_reset=1)
        assert await host.read("pulse_count") == 0 and await host.read("request_count") == 0
        await host.wait_for("status", "clearing", 0)
        await host.write("ctrl", clear_counters=1)
        assert await host.read("busy_cycles") == 0
