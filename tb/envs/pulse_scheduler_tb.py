"""cocotb environment of the PulseScheduler, seen through CrossbarAddressing by the behavioural array.

DUT: the scheduler's array command port feeds a CrossbarAddressing (see
``tests/blocks/test_pulse_scheduler.py::SchedulerWithAddressing``); the :class:`tb.models.reram_array.ArrayModel`
sits on the addressing's line enables and returns ADC codes on ``adc``. Drivers: program requests on
``i`` and host reads on ``rd_cmd`` (random valid gaps), random ``ready`` on ``rd_resp``. The golden
:func:`golden.twins.pulse_scheduler.scheduler_cycle_model`, fed the same seeded generators and a golden
:class:`golden.physics.crossbar_state.CrossbarArray`, predicts every transfer, pulse, read strobe, read result,
verify result and error; in-order scoreboards compare them, and at the end the testbench array's
conductances must equal the golden's bit for bit.

The stimulus generators at the top are plain functions, shared with the pytest side.
"""
from __future__ import annotations

import bisect
import json
import random
import time
from pathlib import Path

from golden.spec.params import AccelParams
from golden.spec.transactions import ProgramRequest, Pulse
from golden.twins.pulse_scheduler import ErrorCode, ReadCommand, request_error


def random_requests(params: AccelParams, rng: random.Random, n: int, p_bad: float = 0.05,
                    max_count: int | None = None) -> list[ProgramRequest]:
    """``n`` program requests: mostly 1..4 pulses, some up to ``update.max_count`` (its edge biased),
    rare long bursts;
    a fraction ``p_bad`` is rejected (count 0 or an out-of-range field where the width allows one)."""
    rows, cols, D = params.array.rows, params.array.cols, params.synapse.slots
    top = max_count if max_count is not None else params.update.max_count
    widths = (("row", rows, params.row_width), ("col", cols, params.col_width),
              ("slot", D, params.slot_width))
    bad_fields = ["count"] + [f for f, lim, w in widths if (1 << w) > lim]
    out = []
    for _ in range(n):
        u = rng.random()
        count = (rng.randint(1, 4) if u < 0.75 else rng.randint(1, top) if u < 0.92
                 else rng.choice((max(top - 1, 1), top)) if u < 0.995 else rng.randint(top, max(top, 40)))
        r = {"row": rng.randrange(rows), "col": rng.randrange(cols), "slot": rng.randrange(D),
             "polarity": rng.randrange(2), "count": count}
        if rng.random() < p_bad:
            f = rng.choice(bad_fields)
            if f == "count":
                r["count"] = 0
            else:
                lim, w = {"row": (rows, params.row_width), "col": (cols, params.col_width),
                          "slot": (D, params.slot_width)}[f]
                r[f] = rng.randrange(lim, 1 << w)
        out.append(ProgramRequest(**r))
    return out


def random_reads(params: AccelParams, rng: random.Random, n: int, p_bad: float = 0.05) -> list[ReadCommand]:
    """``n`` host reads, a fraction ``p_bad`` outside the array where the widths allow it."""
    rows, P = params.array.rows, params.phys_cols
    out = []
    for _ in range(n):
        row, pc = rng.randrange(rows), rng.randrange(P)
        if rng.random() < p_bad:
            if (1 << params.row_width) > rows and rng.random() < 0.5:
                row = rng.randrange(rows, 1 << params.row_width)
            elif (1 << params.phys_col_width) > P:
                pc = rng.randrange(P, 1 << params.phys_col_width)
        out.append(ReadCommand(row, pc))
    return out


def reachable_errors(params: AccelParams) -> list[str]:
    """The error codes a configuration can raise: an out-of-range code needs a field wide enough to
    hold an address beyond the array."""
    fits = {"ROW": (1 << params.row_width) > params.array.rows, "COL": (1 << params.col_width) > params.array.cols,
            "SLOT": (1 << params.slot_width) > params.synapse.slots, "COUNT": True,
            "READ_ROW": (1 << params.row_width) > params.array.rows,
            "READ_COL": (1 << params.phys_col_width) > params.phys_cols}
    return [e.name for e in ErrorCode if fits.get(e.name)]


def first_error_item(params: AccelParams, code: str) -> tuple[str, ProgramRequest | ReadCommand]:
    """A request or read (``("request" | "read", item)``) rejected with ``code`` (an ErrorCode name);
    raises if the field widths cannot hold such an address."""
    rows, cols, D, P = params.array.rows, params.array.cols, params.synapse.slots, params.phys_cols
    if code not in reachable_errors(params):
        raise ValueError(f"first_error = {code!r}: no such error in this configuration")
    good = {"row": 0, "col": 0, "slot": 0, "polarity": 1, "count": 1}
    bad = {"ROW": {"row": rows}, "COL": {"col": cols}, "SLOT": {"slot": D}, "COUNT": {"count": 0}}
    if code in bad:
        return "request", ProgramRequest(**{**good, **bad[code]})
    return "read", ReadCommand(rows, 0) if code == "READ_ROW" else ReadCommand(0, P)


def check_pulse_counts(params: AccelParams, sent, read_sent, pulses: list[Pulse]) -> list[str]:
    """Independent of the golden: every request got exactly ``count`` pulses (0 if rejected) between
    its accept cycle and the next accept (``sent``/``read_sent``: transfers with cycles)."""
    accepts = sorted([(x.cycle, x.value) for x in sent] + [(x.cycle, None) for x in read_sent],
                     key=lambda a: a[0])
    cycles = sorted(p.cycle for p in pulses)
    out = []
    for i, (a, req) in enumerate(accepts):
        end = accepts[i + 1][0] if i + 1 < len(accepts) else float("inf")
        got = bisect.bisect_left(cycles, end) - bisect.bisect_right(cycles, a)
        want = req.count if req is not None and request_error(params, req) == ErrorCode.NONE else 0
        if got != want:
            out.append(f"request accepted in cycle {a} ({req}): {got} pulses, expected {want}")
    return out


def legal_transitions(params: AccelParams, read_latency: int) -> list[str]:
    """The sequencer's phase changes that can occur with these timing parameters (one-hot flags of
    hw.pulse_scheduler; ``idle`` when none is set)."""
    verify = params.timing.verify    # a verify read ends in idle, a host read in result
    if read_latency:
        done = ["read->capture", "capture->result"] + ["capture->idle"] * verify
    else:
        done = ["read->result"] + ["read->idle"] * verify
    after_settle = ["settle->read"] if verify else ["settle->idle"]
    bad_read = any(c.startswith("READ") for c in reachable_errors(params))   # answered at once
    return ["idle->setup", *["idle->result"] * bad_read, "setup->pulse", "setup->read", "pulse->gap", "pulse->settle",
            "gap->pulse", *after_settle, *done, "result->idle"]


def sample_coverage(cov, params: AccelParams, sent, read_sent, pulses: list[Pulse], errors,
                    transitions: dict, read_latency: int) -> None:
    """Functional coverage from the monitors: accepted requests and reads (``sent``, ``read_sent``),
    the pulses the array saw, the error flag's code and the sequencer's phase changes."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    from tb.kit.coverage import ranges, sample_transitions

    D = params.synapse.slots
    top = (1 << params.update.count_width) - 1
    codes = reachable_errors(params)
    prog = cov.group("program", {"error": ["NONE"] + [c for c in codes if not c.startswith("READ")],
                                 "pulses": ranges(top), "polarity": ["RESET", "SET"], "slot": list(range(D))},
                     {"pulses_x_polarity_x_slot": ("pulses", "polarity", "slot")})
    reads = cov.group("read", {"error": ["NONE"] + [c for c in codes if c.startswith("READ")],
                               "after": ["program", "read"]},
                      {"error_x_after": ("error", "after")})
    accepts = sorted([(x.cycle, 0, x.value) for x in sent] + [(x.cycle, 1, x.value) for x in read_sent],
                     key=lambda a: a[0])
    cycles = sorted(p.cycle for p in pulses)
    pol = {p.cycle: p.polarity for p in pulses}
    for i, (a, is_read, item) in enumerate(accepts):
        if is_read:
            bad = not (item.row < params.array.rows and item.phys_col < params.phys_cols)
            code = ("READ_ROW" if item.row >= params.array.rows else "READ_COL") if bad else "NONE"
            reads.sample(error=code, after=None if i == 0 else ("read" if accepts[i - 1][1] else "program"))
            continue
        end = accepts[i + 1][0] if i + 1 < len(accepts) else float("inf")
        lo, hi = bisect.bisect_right(cycles, a), bisect.bisect_left(cycles, end)
        code = request_error(params, item)
        if code != ErrorCode.NONE or hi == lo:
            prog.sample(error=code.name)
            continue
        prog.sample(error=code.name, pulses=hi - lo, polarity="SET" if pol[cycles[lo]] else "RESET", slot=item.slot)
    flag = cov.group("error_flag", {"code": [e.name for e in ErrorCode if e != ErrorCode.NONE]}, shared=True)
    for _, code in errors:
        flag.sample(code=ErrorCode(code).name)
    sample_transitions(cov, legal_transitions(params, read_latency), transitions)


try:  # the cocotb part only loads inside a simulation
    import cocotb
    from cocotb.triggers import ReadOnly, RisingEdge
except ImportError:  # pragma: no cover
    cocotb = None


if cocotb is not None:
    from golden.physics.crossbar_state import CrossbarArray, FollowingReader
    from golden.physics.device import PRESETS, DeviceModel
    from golden.spec.handshake import random_gen
    from golden.spec.params import params_from_dict
    from golden.twins.crossbar_addressing import LATENCY
    from golden.twins.pulse_scheduler import ReadResult, ReadStrobe, scheduler_cycle_model
    from hw.layouts import program_request_layout
    from hw.pulse_scheduler import read_command_layout, read_result_layout
    from tb.kit.coverage import Coverage, watch_fsm
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch
    from tb.kit.testbench import Testbench
    from tb.models.reram_array import ArrayModel

    class TB(Testbench):
        """Drivers of ``i`` (program requests) and ``rd_cmd`` (host reads), the monitor of ``rd_resp``,
        the behavioural array on the line enables and the watchers of ``verify`` and ``error``.

        Lazy stream drivers (``cfg["lazy"]``, default on) need the time-based counter.
        """

        def __init__(self, dut, params, seed: int, cfg: dict, device, data_width: int):
            super().__init__(dut, idle=[dut.clear, dut.adc], timed=True)
            p_valid, p_rvalid = cfg.get("p_valid", 0.6), cfg.get("p_rvalid", 0.3)
            p_ready, lazy = cfg.get("p_ready", 0.5), cfg.get("lazy", True)
            self.params, self.device, self.data_width = params, device, data_width
            self.source = self.stream_source("i", program_request_layout(params), random_gen(seed, p_valid, 1),
                                             lazy=lazy)
            self.read_source = self.stream_source("rd_cmd", read_command_layout(params),
                                                  random_gen(seed, p_rvalid, 2), lazy=lazy)
            self.sink = self.stream_sink("rd_resp", read_result_layout(data_width), random_gen(seed, p_ready, 3),
                                         convert=lambda d: ReadResult(**d), lazy=lazy)
            self.array: ArrayModel | None = None
            self.verifies: list[tuple[int, int]] = []
            self.errors: list[tuple[int, int]] = []

        def start(self) -> None:
            """From cycle 0: the array model, the watchers, then the stream drivers."""
            self.array = ArrayModel(self.dut, CrossbarArray(self.params, self.device, adc_width=self.data_width),
                                    counter=self.counter, latency=LATENCY).start()
            cocotb.start_soon(self._watch_verify())
            cocotb.start_soon(self._watch_error())
            self.source.start(), self.read_source.start(), self.sink.start()

        async def _watch_verify(self) -> None:
            while True:
                await RisingEdge(self.dut.verify_valid)
                await ReadOnly()   # verify_data of this edge has settled (simulator-independent)
                self.verifies.append((self.array.cycle() + LATENCY, int(self.dut.verify_data.value)))

        async def _watch_error(self) -> None:
            await RisingEdge(self.dut.error)
            await ReadOnly()
            self.errors.append((self.array.cycle() + LATENCY, int(self.dut.error_code.value)))

    @cocotb.test()
    async def random_traffic(dut):
        """Seeded random program requests and host reads against the golden cycle model."""
        cfg = test_config()
        stats = await traffic(dut, cfg)
        if cfg.get("stats_path"):
            Path(cfg["stats_path"]).write_text(json.dumps(stats))

    @cocotb.test()
    async def scoreboard_self_test(dut):
        """A wrong expectation (one pulse one cycle late) must be reported with its cycle."""
        cfg = {**test_config(), "requests": 100, "reads": 10, "mutate": "pulse_cycle"}
        try:
            await traffic(dut, cfg)
        except ScoreboardMismatch as e:
            want = cfg["mutated_cycle"]
            dut._log.info("expected mismatch reported: %s", e)
            assert e.cycle == want and f"expected Pulse(cycle={want}," in str(e), str(e)
            assert str(e).startswith("scoreboard pulse_scheduler.pulses: mismatch at index")
        else:
            raise AssertionError("the scoreboard missed a mutated expectation")

    def scaled_traffic(params, cfg: dict) -> dict:
        """``requests`` and ``reads`` scaled so that the golden run lasts at least ``min_cycles``
        (measured on the configured counts, then scaled with a 10 % margin; the regression checks the length)."""
        rng = random.Random(cfg["seed"])
        reqs = random_requests(params, rng, cfg["requests"], cfg.get("p_bad", 0.05))
        reads = random_reads(params, rng, cfg["reads"], cfg.get("p_bad", 0.05))
        seed, device = cfg["seed"], DeviceModel(PRESETS[cfg.get("device", "reram")], seed=cfg["seed"])
        reader = FollowingReader(CrossbarArray(params, device, adc_width=cfg.get("data_width", 8)))
        cycles = scheduler_cycle_model(params, reqs, reads, valid_gen=random_gen(seed, cfg.get("p_valid", 0.6), 1),
                                       read_valid_gen=random_gen(seed, cfg.get("p_rvalid", 0.3), 2),
                                       resp_ready_gen=random_gen(seed, cfg.get("p_ready", 0.5), 3),
                                       read_value=reader).cycles
        f = max(1.0, 1.1 * cfg["min_cycles"] / cycles)
        return {"requests": int(cfg["requests"] * f) + 1, "reads": int(cfg["reads"] * f) + 1}

    async def traffic(dut, cfg: dict) -> dict:
        """Reset, drive, compare; returns run statistics (raises on the first mismatch)."""
        params = params_from_dict(cfg["params"])
        seed, data_width = cfg["seed"], cfg.get("data_width", 8)
        if cfg.get("min_cycles"):   # long regression: scale the traffic to at least that many cycles
            cfg = {**cfg, **scaled_traffic(params, cfg)}
        rng = random.Random(seed)
        requests = random_requests(params, rng, cfg["requests"], cfg.get("p_bad", 0.05))
        reads = random_reads(params, rng, cfg["reads"], cfg.get("p_bad", 0.05))
        if cfg.get("first_error"):   # coverage closure: a run whose sticky error code is this one
            where, item = first_error_item(params, cfg["first_error"])
            (requests if where == "request" else reads).insert(0, item)
        p_valid, p_rvalid = cfg.get("p_valid", 0.6), cfg.get("p_rvalid", 0.3)
        p_ready = cfg.get("p_ready", 0.5)
        device = DeviceModel(PRESETS[cfg.get("device", "reram")], seed=seed)
        dut._log.info("seed %d: %d requests, %d reads, params %s", seed, len(requests), len(reads),
                      cfg["params"])

        # --- golden ------------------------------------------------------------------------------
        t_model = time.perf_counter()
        reader = FollowingReader(CrossbarArray(params, device, adc_width=data_width))
        want = scheduler_cycle_model(params, requests, reads, valid_gen=random_gen(seed, p_valid, 1),
                                     read_valid_gen=random_gen(seed, p_rvalid, 2),
                                     resp_ready_gen=random_gen(seed, p_ready, 3), read_value=reader)
        golden_array = reader.finish(want.pulses)
        t_model = time.perf_counter() - t_model
        mutate = cfg.get("mutate")
        if mutate == "pulse_cycle" and want.pulses:   # the scoreboard self-test: a wrong expectation
            k = len(want.pulses) // 2
            p = want.pulses[k]
            want.pulses[k] = Pulse(p.cycle + 1, p.row, p.phys_col, p.polarity)
            cfg["mutated_cycle"] = p.cycle + 1

        # --- DUT ---------------------------------------------------------------------------------
        tb = TB(dut, params, seed, cfg, device, data_width)
        await tb.reset()
        tb.source.send(requests)
        tb.read_source.send(reads)
        tb.start()
        cov, transitions = Coverage("pulse_scheduler", cfg), {}
        if cov.enabled:   # the phase flags of the sequencer, every cycle: only under coverage
            sched = dut.sched
            flags = {n: getattr(sched, f"ph_{n}") for n in ("setup", "pulse", "gap", "settle", "read", "result")}
            if LATENCY:
                flags["capture"] = sched.ph_capture
            fsm = cocotb.start_soon(watch_fsm(tb.clk, flags, transitions))
        src, rsrc, sink, array = tb.source, tb.read_source, tb.sink, tb.array
        t_sim = time.perf_counter()
        await tb.counter.skip(want.cycles + 8)
        t_sim = time.perf_counter() - t_sim
        if cov.enabled:
            fsm.cancel()

        # --- compare -----------------------------------------------------------------------------
        def sb(name: str) -> Scoreboard:
            return Scoreboard(f"pulse_scheduler.{name}", seed=seed)

        compared = sb("i").check(want.accepted, src.sent)
        compared += sb("rd_cmd").check(want.reads_accepted, rsrc.sent)
        compared += sb("pulses").check(want.pulses, array.pulses)
        strobes = [ReadStrobe(c, r, pc) for c, r, pc, _ in array.reads]
        compared += sb("read_strobes").check(want.strobes, strobes)
        compared += sb("rd_resp").check(want.results, sink.received)
        compared += sb("verify").check(want.verifies, tb.verifies)
        want_err = [(want.error_rise, int(want.error_code))] if want.error_rise is not None else []
        compared += sb("error").check(want_err, tb.errors)
        array.check_windows(width=params.timing.width)
        assert not array.violations, f"seed {seed}: array invariants violated: {array.violations[:5]}"
        bad = check_pulse_counts(params, src.sent, rsrc.sent, array.pulses)
        assert not bad, f"seed {seed}: pulse count per request differs: {bad[:5]}"
        mism = int((array.array.g_flat != golden_array.g_flat).sum())
        assert mism == 0, f"seed {seed}: {mism} conductances differ from the golden array"
        assert (array.array.k == golden_array.k).all() and (array.array.r == golden_array.r).all()
        if cfg.get("mutate") is None:
            sample_coverage(cov, params, src.sent, rsrc.sent, array.pulses, tb.errors, transitions, LATENCY)
            cov.write()
        stats = {"requests": len(requests), "reads": len(reads), "pulses": len(want.pulses),
                 "cycles": want.cycles, "sim_s": t_sim, "model_s": t_model,
                 "cycles_per_s": want.cycles / t_sim, "compared": compared,
                 "devices_compared": int(array.array.g_flat.size)}
        dut._log.info("RESULT %s", stats)
        return stats
