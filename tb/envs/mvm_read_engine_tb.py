"""cocotb environment of the MvmReadEngine: frames of input codes in, y codes out, the array closing the port.

The configuration (from :func:`tb.kit.runner.test_config`) holds the parameter tree, the seed, the
run-time settings (``cfg``: settle, conv, full scales, g_ref, scaling), the conductance codes, the read
noise, the frames (word lists with their mode), the idle / backpressure specs and the programming
side's start probability. The behavioural array (:class:`tb.models.mvm_array.MvmArrayPort`) answers
every conversion with golden's ADC code in the cycle it is asked for; :class:`ProgSide` drives
``prog_active``. The golden cycle model on the same stimulus gives every expected transfer with its
cycle, the reads and ``rd_req`` in every cycle; the values are golden's forward / transposed reads.

Phases (coverage closure, long regressions)
-------------------------------------------
Optional ``phases``: a list of dicts, each run from an idle engine (the engine is in LOAD with ``o``
empty after a phase; reset is not repeated, the sticky flags carry over). A phase takes its frames
from ``frames`` (a list as above) or draws ``random`` frames (:func:`random_frames`, a fraction ``bad``
of the wrong length, a fraction ``edges`` with all codes at one value: 0 or an end of the range) from
a generator keyed by the seed and the phase index; ``i_valid``,
``o_ready``, ``prog`` and ``obey`` (False: a programming side that ignores ``rd_req``, so reads overlap
pulses and ``overlap_error`` must rise) override the run's settings. Without ``phases`` the run is
one phase of the top-level ``frames``, with the stimulus streams of the single-run test. With
``min_cycles`` the phase list repeats (the phase index counting on: new stimulus) until that many
cycles have run; ``stats_path`` receives the totals (JSON).

Functional coverage (``make coverage``; :func:`sample_coverage`) is sampled from what the monitors
saw: accepted words, emitted codes, the reads the array served (mode, bit, group, driven lines, the
codes it returned), ``rd_req`` and ``i.ready`` in every cycle, the flags.
"""
from __future__ import annotations

import random
import time

import numpy as np

from golden.mvm.read_path import ReadNoise
from golden.spec.handshake import make_gen
from golden.spec.mvm_geometry import MvmEngineShape, engine_shape, read_cycles
from golden.spec.mvm_params import MvmParams
from golden.spec.params import params_from_dict
from golden.twins.mvm_read_engine import (
    Frame,
    ProgSide,
    engine_cycle_model,
    frame_items,
    frame_outputs,
    frame_words,
)


def cfg_values(mv: MvmParams, run: dict) -> dict:
    """The engine's ``cfg`` fields: the run's timing and reference code, the full scales and scaling of
    ``mv``."""
    return {"settle": run["settle"], "conv": run["conv"], "fs_fwd": mv.adc_full_scale, "fs_tr": mv.fs_t,
            "g_ref": run["g_ref"], "mult_fwd": mv.scale_mult, "shift_fwd": mv.scale_shift,
            "mult_tr": mv.t_scale_mult, "shift_tr": mv.t_scale_shift}


def random_frames(rng: random.Random, shape: MvmEngineShape, n: int, bad: float = 0.2,
                  edges: float = 0.0) -> list[Frame]:
    """``n`` frames, forward and transposed mixed, uniform codes; a fraction ``bad`` one word short
    or one (random) word long; a fraction ``edges`` with every code of the frame at one end of the
    range or 0 (bit planes with no line or every line driven, ADC codes at 0 and full scale)."""
    b = shape.input_width
    frames = []
    for _ in range(n):
        tr = rng.random() < 0.5
        lo, hi = (-(1 << (b - 1)), (1 << (b - 1)) - 1) if tr else (0, (1 << b) - 1)
        if edges and rng.random() < edges:
            codes = [rng.choice((lo, 0, hi))] * shape.n_in(tr)
        else:
            codes = [rng.randint(lo, hi) for _ in range(shape.n_in(tr))]
        words = frame_words(codes, tr, shape)
        if rng.random() < bad:
            words = words[:-1] if len(words) > 1 and rng.random() < 0.5 else words + [rng.getrandbits(32)]
        frames.append(Frame(tuple(words), tr))
    return frames


# ---------------------------------------------------------------------------------------------
# functional coverage (from what the monitors saw)

MODES = ("forward", "transposed")
LENGTHS = ("ok", "short", "long")
CODE_CLASSES = ("zero", "mid", "full")
PLANES = ("none", "some", "all")
Y_CLASSES = ("sat_neg", "neg", "zero", "pos", "sat_pos")
#: cycles a read waited in ARM for prog_active to fall (ProgSide bursts last 1..6 cycles)
WAIT_BINS = ((0, 0), (1, 1), (2, 3), (4, 6))
STARTS = ("back_to_back", "after_idle", "after_drop")


def split_frames(words) -> list[tuple[int, int, bool, int]]:
    """Accepted words (:class:`~tb.kit.stream.Transfer` of ``{"data", "last", "transposed"}``) grouped up
    to each ``last``: (first word's cycle, last word's cycle, mode of the first word, words)."""
    out, first, mode, n = [], None, False, 0
    for t in words:
        if first is None:
            first, mode, n = t.cycle, bool(t.value["transposed"]), 0
        n += 1
        if t.value["last"]:
            out.append((first, t.cycle, mode, n))
            first = None
    return out


def _cls(v: int, full: int) -> str:
    return "zero" if v == 0 else "full" if v == full else "mid"


def sample_coverage(cov, shape: MvmEngineShape, mv: MvmParams, run: dict, phase: dict, words, received,
                    reads, read_codes, rd_req: list[bool], ready: list[bool], flags: dict[str, int],
                    before: tuple | None) -> None:
    """Functional coverage of one phase: accepted words and emitted codes (the monitors), the reads
    the array served with the codes it returned (``read_codes``: one array per read), ``rd_req`` and
    ``i.ready`` per cycle, the sticky flags; ``before``: (mode, good, -1) of the previous phase's
    last frame (None: none)."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    from tb.kit.coverage import sample_stream

    b, A, diff, D = shape.input_width, shape.adc_width, shape.differential, shape.slots
    full = (1 << A) - 1
    T = read_cycles(run["settle"], run["conv"], shape.cols_per_adc) - 1
    # frames: length class per mode (the mode a frame's first word carries)
    fg = cov.group("frame", {"mode": MODES, "length": LENGTHS}, {"mode_x_length": ("mode", "length")})
    frames = split_frames(words)
    for _, _, tr, n in frames:
        want = shape.frame_length(tr)
        fg.sample(mode=MODES[tr], length="ok" if n == want else "short" if n < want else "long")
    # how each frame follows the one before (``before``: the previous phase's last frame, mode and
    # whether it was good): back to back (its first word taken in the cycle i.ready rose again after
    # the previous frame's outputs), after idle cycles in LOAD, or right after a dropped frame (the
    # engine never left LOAD); crossed with a change of mode
    bt = cov.group("sequence", {"start": STARTS, "mode": ["same", "switch"]}, {"start_x_mode": ("start", "mode")},
                   shared=True)
    rises = [c for c in range(1, len(ready)) if ready[c] and not ready[c - 1]]
    prevs = [before] + [(tr, n == shape.frame_length(tr), last) for _, last, tr, n in frames[:-1]]
    for (first, _, tr, _), prev in zip(frames, prevs):
        if prev is None:
            continue
        pmode, pgood, plast = prev
        if not pgood:
            start = "after_drop"
        else:
            rise = max((c for c in rises if c <= first), default=None)
            start = "back_to_back" if rise is not None and rise > plast and first == rise else "after_idle"
        bt.sample(start=start, mode="same" if tr == pmode else "switch")
    # reads: every bit plane and group per mode, how much of the plane is driven, the wait for programming
    groups = ["G+", "G-"] if diff else ["G+"]
    rg = cov.group("read", {"mode": MODES, "bit": list(range(b)), "group": groups, "plane": PLANES},
                   {"mode_x_bit_x_group": ("mode", "bit", "group"), "mode_x_plane": ("mode", "plane")},
                   ignore={"mode_x_bit_x_group": [("forward", None, "G-")]})
    ag = cov.group("adc", {"mode": MODES, "code": CODE_CLASSES}, {"mode_x_code": ("mode", "code")})
    refg = (cov.group("reference", {"mode": MODES, "ref": CODE_CLASSES}, {"mode_x_ref": ("mode", "ref")})
            if not diff else None)
    wg = cov.group("prog_wait", {"mode": MODES, "wait": WAIT_BINS}, {"mode_x_wait": ("mode", "wait")}, shared=True)
    prev_end = -1
    for r, codes in zip(reads, read_codes):
        mode = MODES[r.transposed]
        n = sum(r.driven) // (D if r.transposed and not diff else 1)
        n_lines = shape.n_in(r.transposed) if not (r.transposed and diff) else shape.cols * shape.devices
        plane = "none" if n == 0 else "all" if n == n_lines else "some"
        rg.sample(mode=mode, bit=r.k, group=groups[r.grp], plane=plane)
        for c in {_cls(int(v), full) for v in codes}:
            ag.sample(mode=mode, code=c)
        if refg is not None:
            ones = sum(r.driven[::D]) if r.transposed else sum(r.driven)
            nn, fs = (shape.devices, mv.fs_t) if r.transposed else (1, mv.adc_full_scale)
            prod = ones * run["g_ref"] * nn
            ref = full if prod >= fs else min(full, (prod << A) // fs)
            refg.sample(mode=mode, ref=_cls(ref, full))
        # ARM began right after the previous read of the frame, or where rd_req rose
        a0 = r.cycle - 1
        while a0 - 1 > prev_end and rd_req[a0 - 1]:
            a0 -= 1
        wg.sample(mode=mode, wait=r.cycle - 1 - a0)
        prev_end = r.cycle + T - 1
    # outputs: saturation and sign per mode (the mode of each frame from the reads: a frame's outputs
    # follow its reads in order)
    ow = shape.out_width
    lo, hi = -(1 << (ow - 1)), (1 << (ow - 1)) - 1
    yg = cov.group("y", {"mode": MODES, "y": Y_CLASSES}, {"mode_x_y": ("mode", "y")})
    modes = [r.transposed for r in reads if r.k == 0 and r.grp == 0]
    k = 0
    for m in modes:
        for t in received[k:k + shape.n_out(m)]:
            y = int(t.value["y"])
            yg.sample(mode=MODES[m], y="sat_neg" if y == lo else "sat_pos" if y == hi else
                      "zero" if y == 0 else "neg" if y < 0 else "pos")
        k += shape.n_out(m)
    # sticky flags: the bins are "raised" (overlap_error is one register whatever the configuration)
    cov.group("flags", {"frame_error": [1]}).sample(frame_error=flags["frame_error"])
    cov.group("overlap", {"overlap_error": [1]}, shared=True).sample(overlap_error=flags["overlap_error"])
    sample_stream(cov, "i", [t.cycle for t in words], phase.get("i_valid", run["i_valid"]))
    sample_stream(cov, "o", [t.cycle for t in received], phase.get("o_ready", run["o_ready"]))


try:
    import cocotb
    from cocotb.triggers import ReadWrite, RisingEdge
except ImportError:       # the stimulus helpers above are importable without cocotb
    cocotb = None

if cocotb is not None:
    import json
    from pathlib import Path

    from hw.mvm_read_engine import mvm_cfg_layout, mvm_in_layout, mvm_out_layout
    from tb.kit.coverage import Coverage
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, run_expecting
    from tb.kit.testbench import Testbench, run_phase_list
    from tb.models.mvm_array import MvmArray, MvmArrayPort

    class TB(Testbench):
        """Phases of frames against the golden cycle model (cycle 0 of each = the period it starts in;
        the first one starts right after the release of reset)."""

        def __init__(self, dut, cfg: dict):
            # a time-based counter and lazy stream ends: no per-cycle coroutine besides the array's
            super().__init__(dut, idle=[dut.i__valid, dut.o__ready, dut.prog_active], settle_cycles=0, timed=True)
            self.cfg = cfg
            self.params = params_from_dict(cfg["params"])
            self.shape = engine_shape(self.params)
            self.seed = int(cfg["seed"])
            self.mv = MvmParams(**cfg["params"]["mvm"])
            self.golden_mv = MvmParams(**cfg.get("golden_mvm", cfg["params"]["mvm"]))
            self.g = np.array(cfg["g"], dtype=np.int64)
            self.noise = ReadNoise(**cfg["noise"]) if cfg.get("noise") else None
            self.t = 0                       # sample index of the next committed frame (read noise)
            self.frame_error = False
            self.overlap = False
            self.before = None               # the last frame so far: (mode, good, -1)
            self.coverage = Coverage("mvm_read_engine", cfg)
            self.dut.cfg.value = mvm_cfg_layout(self.shape).const(cfg_values(self.mv, cfg["run"])).as_value().value

        def phase_frames(self, k: int, phase: dict) -> list[Frame]:
            if "frames" in phase:
                return [Frame(tuple(f["words"]), bool(f["transposed"])) for f in phase["frames"]]
            return random_frames(random.Random(f"mvm/{self.seed}/phase{k}"), self.shape, int(phase["random"]),
                                 float(phase.get("bad", 0.2)), float(phase.get("edges", 0.0)))

        async def run_phase(self, k: int, phase: dict) -> tuple:
            """Drive one phase, compare, return its statistics."""
            run, shape, seed, dut = self.cfg["run"], self.shape, self.seed, self.dut
            frames = self.phase_frames(k, phase)
            iv, ov = phase.get("i_valid", run["i_valid"]), phase.get("o_ready", run["o_ready"])
            prog_p, obey = phase.get("prog", run["prog"]), bool(phase.get("obey", True))
            # phase 0: the streams of the single-run test; later phases new ones
            s_i, s_o, s_p = (1, 2, seed) if k == 0 else (100 + 3 * k, 101 + 3 * k, seed + 1_000_003 * k)
            t0_sample = self.t
            base = frame_outputs(self.g, self.golden_mv, shape, g_ref=run["g_ref"], noise=self.noise)

            def outputs(t, tr, codes):
                return base(t + t0_sample, tr, codes)

            trace = engine_cycle_model(shape, frames, outputs, make_gen(iv, seed, s_i), make_gen(ov, seed, s_o),
                                       ProgSide(s_p, prog_p, obey=obey), settle=run["settle"], conv=run["conv"])
            self.t += sum(ok for _, ok in trace.frames)
            self.frame_error |= trace.frame_error
            port = MvmArrayPort(MvmArray(self.g, self.mv, self.noise), shape.input_width, shape.differential,
                                shape.cols_per_adc, max(shape.n_adc(False), shape.n_adc(True)), t=t0_sample)
            prog = ProgSide(s_p, prog_p, obey=obey)
            cov = self.coverage.enabled
            t0 = time.perf_counter()
            self.restart_counter()
            src = self.stream_source("i", mvm_in_layout(), make_gen(iv, seed, s_i), lazy=True)
            snk = self.stream_sink("o", mvm_out_layout(shape.out_width), make_gen(ov, seed, s_o), lazy=True)
            src.send(frame_items(frames))
            src.start()
            snk.start()
            rd_prev, rd_req, ready, read_codes, code_prev, pa_prev = False, [], [], [], 0, False
            for c in range(trace.cycles + 3):
                await ReadWrite()          # this cycle's registered outputs, still allowed to drive inputs
                pa = prog.step(rd_prev)
                if c == 0 or pa != pa_prev:
                    dut.prog_active.value = int(pa)
                pa_prev = pa
                n_reads = len(port.reads)
                reading = bool(dut.read.value)
                # the lines and the mode matter only when a read starts, the select only while reading
                start = reading and not port._was_read
                code = port.step(c, reading, start and bool(dut.transposed.value),
                                 int(dut.wl.value) if start else 0, int(dut.bl.value) if start else 0,
                                 int(dut.adc_sel.value) if reading else 0)
                if c == 0 or code != code_prev:
                    dut.adc_code.value = code
                code_prev = code
                rd_prev = bool(dut.rd_req.value)
                rd_req.append(rd_prev)
                self.overlap |= pa and reading
                if cov:
                    ready.append(bool(dut.i__ready.value))
                    if len(port.reads) > n_reads:
                        read_codes.append(port._codes.copy())
                await RisingEdge(self.clk)
            src.stop()
            snk.stop()
            self.counter.stop()
            sb = Scoreboard("mvm_read_engine", seed)
            for name, exp, got in (("frame words", trace.words, src.sent), ("outputs", trace.outputs, snk.received),
                                   ("reads", trace.reads, [(r.cycle, int(r.transposed), r.k, r.grp) for r in port.reads]),
                                   ("rd_req", list(enumerate(trace.rd_req)), list(enumerate(rd_req[:trace.cycles])))):
                sb.name = f"mvm_read_engine phase {k} {name}"
                sb.check(exp, got)
            for flag, want in (("frame_error", self.frame_error), ("overlap_error", self.overlap)):
                if int(getattr(dut, flag).value) != int(want):
                    raise AssertionError(f"phase {k}: {flag} = {int(getattr(dut, flag).value)}, expected {int(want)} "
                                         f"(seed {seed})")
            sample_coverage(self.coverage, shape, self.mv, run, phase, src.sent, snk.received, port.reads, read_codes,
                            rd_req, ready, {f: int(getattr(dut, f).value) for f in ("frame_error", "overlap_error")},
                            self.before)
            seen = split_frames(src.sent)
            if seen:
                self.before = (seen[-1][2], seen[-1][3] == shape.frame_length(seen[-1][2]), -1)
            return (k, len(frames), sum(ok for _, ok in trace.frames), len(trace.outputs), len(trace.reads),
                    sum(shape.lines(r.transposed) for r in port.reads), trace.cycles, time.perf_counter() - t0)

    @cocotb.test()
    async def mvm_read_engine_run(dut):
        """Every transfer, read and ``rd_req`` against the golden cycle model; with ``expect_mismatch``
        (wrong ``golden_mvm`` on purpose) the test passes only if a mismatch naming its cycle is reported."""
        await run_expecting(dut, test_config(), _run)

    async def _run(dut, cfg: dict) -> None:
        tb = TB(dut, cfg)
        await tb.reset()
        phases = cfg.get("phases") or [{"frames": cfg["frames"]}]
        stats, cycles = await run_phase_list(tb, dut, phases, lambda st: st[6], cfg.get("min_cycles", 0))
        tb.coverage.write()
        if cfg.get("expect_overlap") and not tb.overlap:
            raise AssertionError(f"expect_overlap: no read overlapped a programming pulse (seed {tb.seed})")
        if cfg.get("stats_path"):
            Path(cfg["stats_path"]).write_text(json.dumps({
                "cycles": cycles, "phases": len(stats), "frames": sum(st[1] for st in stats),
                "committed": sum(st[2] for st in stats), "outputs": sum(st[3] for st in stats),
                "reads": sum(st[4] for st in stats)}))
        for k, nf, ok, ny, nr, na, cyc, dt in stats[:20]:
            dut._log.info(f"phase {k}: {nf} frames ({ok} committed), {ny} y codes, {nr} reads, {na} ADC codes, "
                          f"{cyc} cycles, {dt:.2f} s, 0 mismatches")
