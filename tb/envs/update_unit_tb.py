"""cocotb environment of the UpdateUnit: drive UpdateRequests, monitor PulseCounts, compare with golden.

The configuration (from :func:`tb.kit.runner.test_config`) holds the parameter tree, the seed and a list
of *phases*; each phase is a stimulus (directed by name, or random) with its own input idle and
output backpressure generators. Phases run back to back on one DUT: the golden
:class:`~golden.twins.update_unit.UpdateUnit` carries the chi state from phase to phase (the memory is not
reset), and :func:`~golden.twins.update_unit.update_unit_cycle_model`, run on the same stimulus and the same
generators, gives the expected transfers with their cycle stamps. The first phase starts in the
first cycle after reset, so its model includes the clear walk of the chi memory
(:func:`~golden.twins.update_unit.clear_cycles`); a phase's optional ``clears`` (cycles of the
phase) pulse the ``clear`` input. The stimulus builders are plain functions so the fast
Amaranth-simulator tests reuse them.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

from golden.spec.handshake import make_gen
from golden.spec.params import AccelParams, params_from_dict
from golden.spec.transactions import PulseCount, UpdateRequest
from golden.twins.update_unit import UpdateUnit as GoldenUpdateUnit
from golden.twins.update_unit import clear_cycles, update_unit_cycle_model

# ---------------------------------------------------------------------------------------------
# stimulus (no cocotb here: also used by tests/blocks/test_update_unit.py)


def directed_requests(p: AccelParams, name: str) -> list[UpdateRequest]:
    """Named directed stimuli: edge cases of the update rule and of the pipeline."""
    u, rows, cols = p.update, p.array.rows, p.array.cols
    dmax, dmin, eps = (1 << (u.dw_width - 1)) - 1, -(1 << (u.dw_width - 1)), u.eps
    last = (rows - 1, cols - 1)
    if name == "saturate":
        # drive one synapse into both rails and back; max_count limits the pulses per request
        return ([UpdateRequest(0, 0, dmax)] * 40 + [UpdateRequest(0, 0, dmin)] * 80
                + [UpdateRequest(0, 0, dmax)] * 40)
    if name == "threshold":
        # just below, at and just above +-eps on the last synapse (the top of the memory)
        seq = []
        for d in (eps - 1, 1, -1, -(eps - 1), -1, 1, eps, -eps, min(2 * eps, dmax), max(-2 * eps, dmin)):
            seq.append(UpdateRequest(*last, max(min(d, dmax), dmin)))
        return seq
    if name == "back_to_back":
        # the read-during-write path: the same synapse in consecutive cycles, then alternating pairs
        seq = [UpdateRequest(0, 0, (i % 7 - 3) * max(1, eps // 3)) for i in range(30)]
        seq += [UpdateRequest(r, c, dmax if i % 2 else dmin // 3)
                for i in range(30) for (r, c) in ([(0, 0), last][i % 2],)]
        return [UpdateRequest(r.row, r.col, max(min(r.dw, dmax), dmin)) for r in seq]
    if name == "pulse_counts":
        # every pulse-count bin of the coverage model (both ends), both signs, on synapse (0, 0):
        # from chi = 0 (the first phase after reset) dW = +-n * eps gives exactly n pulses and leaves
        # chi at 0 again, so each request hits its bin whatever came before in this stimulus
        from tb.kit.coverage import ranges

        ns = sorted({n for lo, hi in ranges(max_pulses(p)) for n in (lo, hi)})
        return [UpdateRequest(0, 0, max(min(s * n * eps, dmax), dmin)) for n in ns for s in (1, -1)]
    if name == "out_of_range":
        # addresses the fields can hold but the array does not have (dropped, addr_error)
        seq = []
        if (1 << p.row_width) > rows:
            seq.append(UpdateRequest(rows, 0, dmax))
        if (1 << p.col_width) > cols:
            seq.append(UpdateRequest(0, cols, dmin))
        return seq + [UpdateRequest(0, 0, eps)] if seq else []
    raise ValueError(f"unknown directed stimulus {name!r}")


def random_requests(p: AccelParams, seed: int, n: int, stream: int = 0, hot: int = 0) -> list[UpdateRequest]:
    """``n`` seeded random requests; ``hot > 0`` draws 3/4 of the addresses from ``hot`` synapses
    (so large arrays also see many updates of one chi); dW mixes small, near-eps and extreme values."""
    rng = random.Random(f"update_unit/{seed}/{stream}")
    u, rows, cols = p.update, p.array.rows, p.array.cols
    dmax, dmin, eps = (1 << (u.dw_width - 1)) - 1, -(1 << (u.dw_width - 1)), u.eps
    hot_set = [(rng.randrange(rows), rng.randrange(cols)) for _ in range(hot)]
    hot_set += [(0, 0), (rows - 1, cols - 1)] if hot else []
    out = []
    for _ in range(n):
        if hot_set and rng.random() < 0.75:
            r, c = rng.choice(hot_set)
        else:
            r, c = rng.randrange(rows), rng.randrange(cols)
        k = rng.random()
        if k < 0.4:
            dw = rng.randint(-eps, eps)
        elif k < 0.7:
            dw = rng.choice((1, -1)) * (rng.randint(1, 3) * eps + rng.randint(-2, 2))
        elif k < 0.85:
            dw = rng.choice((dmax, dmin, dmax - rng.randrange(4), dmin + rng.randrange(4)))
        else:
            dw = rng.randint(dmin, dmax)
        out.append(UpdateRequest(r, c, max(min(dw, dmax), dmin)))
    return out


def max_pulses(p: AccelParams) -> int:
    """The largest pulse count one request can give: it leaves |chi| < eps unless it was capped, so
    at most ``(eps - 1 + |dmin|) // eps`` pulses (and ``max_count``)."""
    return min(p.update.max_count, (p.update.eps - 1 + (1 << (p.update.dw_width - 1))) // p.update.eps)


def dw_class(p: AccelParams, dw: int) -> str:
    """Class of a weight update: the rails, the +-eps threshold, zero."""
    dmax, dmin, eps = (1 << (p.update.dw_width - 1)) - 1, -(1 << (p.update.dw_width - 1)), p.update.eps
    if dw in (dmax, dmin):
        return "max" if dw == dmax else "min"
    if dw == 0:
        return "zero"
    mag = "ge_eps" if abs(dw) >= eps else "lt_eps"
    return f"{'pos' if dw > 0 else 'neg'}_{mag}"


def edge_class(value: int, size: int) -> str:
    """An address against its range: first, last, inside, or outside the array."""
    if value >= size:
        return "outside"
    return "first" if value == 0 else "last" if value == size - 1 else "inside"


def sample_coverage(cov, p: AccelParams, phase: dict, sent, received, clears, addr_error: int) -> None:
    """Functional coverage of one phase from what the monitors saw (``sent``: accepted requests,
    ``received``: emitted PulseCounts, both :class:`~tb.kit.stream.Transfer` lists)."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    from tb.kit.coverage import GAP_BINS, ranges, sample_stream

    dws = ["min", "neg_ge_eps", "neg_lt_eps", "zero", "pos_lt_eps", "pos_ge_eps", "max"]
    edges = ["first", "inside", "last"]
    # "outside" only where the field can hold an address beyond the array
    rows = edges + ["outside"] * ((1 << p.row_width) > p.array.rows)
    cols = edges + ["outside"] * ((1 << p.col_width) > p.array.cols)
    req = cov.group("request", {"dw": dws, "row": rows, "col": cols, "repeat_gap": GAP_BINS},
                    {"dw_x_repeat": ("dw", "repeat_gap")})
    last: dict = {}
    for t in sent:
        r = t.value
        prev = last.get((r.row, r.col))
        req.sample(dw=dw_class(p, r.dw), row=edge_class(r.row, p.array.rows), col=edge_class(r.col, p.array.cols),
                   repeat_gap=None if prev is None else t.cycle - prev - 1)
        last[(r.row, r.col)] = t.cycle
    # the counts above max_pulses cannot occur
    out = cov.group("pulse_count", {"count": ranges(max_pulses(p)), "sign": ["pot", "dep"]}, {"count_x_sign": ("count", "sign")})
    for t in received:
        out.sample(count=abs(t.value.count), sign="pot" if t.value.count > 0 else "dep")
    accepts = [t.cycle for t in sent]
    for c in clears:   # only phases that pulse ``clear`` have this group
        clr = cov.group("clear", {"after_accept": [(0, 0), (1, 1), (2, 1 << 62)]})
        before = [a for a in accepts if a < c]
        clr.sample(after_accept=c - before[-1] - 1 if before else None)
    outside = (1 << p.row_width) > p.array.rows or (1 << p.col_width) > p.array.cols
    cov.group("flags", {"addr_error": [0, 1] if outside else [0]}).sample(addr_error=addr_error)
    sample_stream(cov, "i", accepts, phase.get("valid", 1.0))
    sample_stream(cov, "o", [t.cycle for t in received], phase.get("ready", 1.0))


def phase_stimulus(p: AccelParams, seed: int, index: int, phase: dict) -> list[UpdateRequest]:
    if phase["kind"] == "directed":
        return directed_requests(p, phase["name"])
    return random_requests(p, seed, phase["n"], stream=index, hot=phase.get("hot", 0))


# ---------------------------------------------------------------------------------------------
# cocotb test (imported lazily so that the stimulus functions above need no simulator)

try:
    import cocotb
    from cocotb.triggers import RisingEdge
except ImportError:  # pragma: no cover
    cocotb = None

if cocotb is not None:
    from hw.layouts import pulse_count_layout, update_request_layout
    from tb.kit.coverage import Coverage
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, run_expecting
    from tb.kit.testbench import Testbench, run_phase_list

    class TB(Testbench):
        """Phases of UpdateRequests on ``i`` and PulseCounts on ``o`` against the golden UpdateUnit.

        Reset is held for 3 edges; each phase renumbers the cycles from the period after the release
        (or after the previous phase), the convention of :func:`update_unit_cycle_model`.
        """

        def __init__(self, dut, cfg: dict):
            super().__init__(dut, idle=[dut.i__valid, dut.o__ready, dut.clear], settle_cycles=0)
            self.params = params_from_dict(cfg["params"])
            # "golden_params" lets a test run the model with deliberately wrong parameters (the
            # scoreboard must then fail); normally the model and the DUT share ``params``.
            self.golden_params = params_from_dict(cfg.get("golden_params", cfg["params"]))
            self.seed = int(cfg["seed"])
            self.golden = GoldenUpdateUnit(self.golden_params)
            self.layouts = update_request_layout(self.params), pulse_count_layout(self.params)
            self.scoreboard = Scoreboard("update_unit", self.seed)
            self.addr_error = False
            # the walk after reset, for the first phase ("reset_clear": false models a unit without it)
            self.clearing = clear_cycles(self.params) if cfg.get("reset_clear", True) else 0
            self.coverage = Coverage("update_unit", cfg)

        async def run_phase(self, k: int, phase: dict) -> tuple | None:
            """Drive one phase, compare, return its statistics (None for an empty stimulus)."""
            p, pg, seed, clk = self.params, self.golden_params, self.seed, self.clk
            reqs = phase_stimulus(p, seed, k, phase)
            if not reqs:
                return None
            vspec, rspec = phase.get("valid", 1.0), phase.get("ready", 1.0)
            clears = set(phase.get("clears", ()))
            trace = update_unit_cycle_model(pg, reqs, make_gen(vspec, seed, 100 + 2 * k),
                                            make_gen(rspec, seed, 101 + 2 * k), unit=self.golden,
                                            clearing=self.clearing, clears=clears)
            self.clearing = 0
            self.addr_error |= trace.addr_error
            t0 = time.perf_counter()
            self.restart_counter()
            src = self.stream_source("i", self.layouts[0], make_gen(vspec, seed, 100 + 2 * k))
            snk = self.stream_sink("o", self.layouts[1], make_gen(rspec, seed, 101 + 2 * k),
                                   convert=lambda d: PulseCount(**d))
            src.send(reqs)
            src.start()
            snk.start()
            for c in range(trace.cycles + 4):  # a few idle cycles catch extra outputs
                self.dut.clear.value = int(c in clears)
                await RisingEdge(clk)
            src.stop()
            snk.stop()
            self.counter.stop()
            sb, name = self.scoreboard, phase.get("name", "random")
            sb.name = f"update_unit phase {k} ({name}) inputs"
            sb.check(trace.accepted, src.sent)
            sb.name = f"update_unit phase {k} ({name}) outputs"
            sb.check(trace.emitted, snk.received)
            if int(self.dut.addr_error.value) != int(self.addr_error):
                raise AssertionError(f"phase {k}: addr_error = {int(self.dut.addr_error.value)}, golden "
                                     f"{int(self.addr_error)} (seed {seed})")
            sample_coverage(self.coverage, p, phase, src.sent, snk.received, sorted(clears),
                            int(self.dut.addr_error.value))
            return k, name, len(reqs), len(trace.emitted), trace.cycles, time.perf_counter() - t0

    @cocotb.test()
    async def update_unit_phases(dut):
        """Run every phase of the configuration; compare inputs and outputs with cycle stamps.

        With ``expect_mismatch`` in the configuration (used with wrong ``golden_params``) the test
        passes only if the scoreboard reports a mismatch that names its cycle.
        """
        await run_expecting(dut, test_config(), _run_phases)

    async def _run_phases(dut, cfg: dict) -> None:
        """The phases in order; with ``min_cycles`` (long regressions) the list again, with new
        stimulus streams (the phase index goes on counting), until that many cycles have run."""
        tb = TB(dut, cfg)
        await tb.reset()
        stats, cycles = await run_phase_list(tb, dut, cfg["phases"], lambda st: st[4], cfg.get("min_cycles", 0))
        tb.coverage.write()
        if cfg.get("stats_path"):
            Path(cfg["stats_path"]).write_text(json.dumps({"cycles": cycles, "phases": len(stats),
                                                           "requests": sum(st[2] for st in stats)}))
        for k, name, n, m, cyc, dt in stats:
            dut._log.info(f"phase {k} {name}: {n} requests, {m} PulseCounts, {cyc} cycles, "
                          f"{dt:.2f} s, 0 mismatches")
