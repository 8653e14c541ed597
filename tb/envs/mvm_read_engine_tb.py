"""cocotb environment of the MvmReadEngine: frames of input codes in, y codes out, the array closing the port.

The configuration (from :func:`tb.kit.runner.test_config`) holds the parameter tree, the seed, the
run-time settings (``cfg``: settle, conv, full scales, g_ref, scaling), the conductance codes, the read
noise, the frames (word lists with their mode), the idle / backpressure specs and the programming
side's start probability. The behavioural array (:class:`tb.models.mvm_array.MvmArrayPort`) answers
every conversion with golden's ADC code in the cycle it is asked for; :class:`ProgSide` drives
``prog_active``. The golden cycle model on the same stimulus gives every expected transfer with its
cycle, the reads and ``rd_req`` in every cycle; the values are golden's forward / transposed reads.
"""
from __future__ import annotations

import time

import numpy as np

from golden.mvm.read_path import ReadNoise
from golden.spec.handshake import make_gen
from golden.spec.mvm_geometry import engine_shape
from golden.spec.mvm_params import MvmParams
from golden.spec.params import params_from_dict
from golden.twins.mvm_read_engine import Frame, ProgSide, engine_cycle_model, frame_items, frame_outputs


def cfg_values(mv: MvmParams, run: dict) -> dict:
    """The engine's ``cfg`` fields: the run's timing and reference code, the full scales and scaling of
    ``mv``."""
    return {"settle": run["settle"], "conv": run["conv"], "fs_fwd": mv.adc_full_scale, "fs_tr": mv.fs_t,
            "g_ref": run["g_ref"], "mult_fwd": mv.scale_mult, "shift_fwd": mv.scale_shift,
            "mult_tr": mv.t_scale_mult, "shift_tr": mv.t_scale_shift}


try:
    import cocotb
    from cocotb.triggers import ReadWrite, RisingEdge
except ImportError:       # the stimulus helpers above are importable without cocotb
    cocotb = None

if cocotb is not None:
    from hw.mvm_read_engine import mvm_cfg_layout, mvm_in_layout, mvm_out_layout
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, run_expecting
    from tb.kit.testbench import Testbench
    from tb.models.mvm_array import MvmArray, MvmArrayPort

    class TB(Testbench):
        """One run of frames against the golden cycle model (cycle 0 = the period after the release)."""

        def __init__(self, dut, cfg: dict):
            super().__init__(dut, idle=[dut.i__valid, dut.o__ready, dut.prog_active], settle_cycles=0)
            self.cfg = cfg
            self.params = params_from_dict(cfg["params"])
            self.shape = engine_shape(self.params)
            self.seed = int(cfg["seed"])

        async def run(self) -> tuple:
            cfg, shape, seed = self.cfg, self.shape, self.seed
            mv = MvmParams(**cfg["params"]["mvm"])
            golden_mv = MvmParams(**cfg.get("golden_mvm", cfg["params"]["mvm"]))
            g = np.array(cfg["g"], dtype=np.int64)
            nz = ReadNoise(**cfg["noise"]) if cfg.get("noise") else None
            frames = [Frame(tuple(f["words"]), bool(f["transposed"])) for f in cfg["frames"]]
            run = cfg["run"]
            iv, ov, prog_p = run["i_valid"], run["o_ready"], run["prog"]
            trace = engine_cycle_model(shape, frames, frame_outputs(g, golden_mv, shape, g_ref=run["g_ref"], noise=nz),
                                       make_gen(iv, seed, 1), make_gen(ov, seed, 2), ProgSide(seed, prog_p),
                                       settle=run["settle"], conv=run["conv"])
            dut = self.dut
            dut.cfg.value = mvm_cfg_layout(shape).const(cfg_values(mv, run)).as_value().value
            port = MvmArrayPort(MvmArray(g, mv, nz), shape.input_width, shape.differential, shape.cols_per_adc,
                                max(shape.n_adc(False), shape.n_adc(True)))
            prog = ProgSide(seed, prog_p)
            t0 = time.perf_counter()
            self.restart_counter()
            src = self.stream_source("i", mvm_in_layout(), make_gen(iv, seed, 1))
            snk = self.stream_sink("o", mvm_out_layout(shape.out_width), make_gen(ov, seed, 2))
            src.send(frame_items(frames))
            src.start()
            snk.start()
            rd_prev, rd_req = False, []
            for c in range(trace.cycles + 3):
                await ReadWrite()          # this cycle's registered outputs, still allowed to drive inputs
                dut.prog_active.value = int(prog.step(rd_prev))
                dut.adc_code.value = port.step(c, bool(dut.read.value), bool(dut.transposed.value),
                                               int(dut.wl.value), int(dut.bl.value), int(dut.adc_sel.value))
                rd_prev = bool(dut.rd_req.value)
                rd_req.append(rd_prev)
                await RisingEdge(self.clk)
            src.stop()
            snk.stop()
            self.counter.stop()
            sb = Scoreboard("mvm_read_engine", seed)
            for name, exp, got in (("frame words", trace.words, src.sent), ("outputs", trace.outputs, snk.received),
                                   ("reads", trace.reads, [(r.cycle, int(r.transposed), r.k, r.grp) for r in port.reads]),
                                   ("rd_req", list(enumerate(trace.rd_req)), list(enumerate(rd_req[:trace.cycles])))):
                sb.name = f"mvm_read_engine {name}"
                sb.check(exp, got)
            for flag, want in (("frame_error", trace.frame_error), ("overlap_error", False)):
                if int(getattr(dut, flag).value) != int(want):
                    raise AssertionError(f"{flag} = {int(getattr(dut, flag).value)}, golden {int(want)} (seed {seed})")
            return (len(frames), sum(ok for _, ok in trace.frames), len(trace.outputs), len(trace.reads),
                    sum(shape.lines(r.transposed) for r in port.reads), trace.cycles, time.perf_counter() - t0)

    @cocotb.test()
    async def mvm_read_engine_run(dut):
        """Every transfer, read and ``rd_req`` against the golden cycle model; with ``expect_mismatch``
        (wrong ``golden_mvm`` on purpose) the test passes only if a mismatch naming its cycle is reported."""
        await run_expecting(dut, test_config(), _run)

    async def _run(dut, cfg: dict) -> None:
        tb = TB(dut, cfg)
        await tb.reset()
        nf, ok, ny, nr, na, cyc, dt = await tb.run()
        dut._log.info(f"{nf} frames ({ok} committed), {ny} y codes, {nr} reads, {na} ADC codes, {cyc} cycles, "
                      f"{dt:.2f} s, 0 mismatches")
