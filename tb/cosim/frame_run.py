"""In-situ training through the update engine with the RTL in the loop (MNIST 784-250-10 or digits):
build the frame co-simulation top, run :mod:`tb.cosim.frame_tb` under Verilator, replay the same
frames in the plain Verilator C++ harness, summarise.

The chip under test is :class:`tb.tops.frame_cosim_top.FrameCosimTop`: one
:class:`hw.accelerator.Accelerator` per network layer, each with its AXI4-Stream frame input fed by a
testbench :class:`~tb.tops.frame_loader.FrameLoader`, its AXI4-Lite port polled by an
:class:`~tb.tops.axil_sequencer.AxilSequencer`, and a behavioural array on its array port whose device
ids are the golden chip's (as in :mod:`tb.cosim.run`).

Per training sample (:mod:`tb.cosim.frame_tb` runs this inside the simulator):

1. *host*: an :class:`~golden.training.in_situ.InSituMLP` whose conductances are those of the
   behavioural arrays runs the golden forward/backward pass; the arguments of each layer's update
   (its input ``x``, error ``delta`` and the learning rate) become the engine's codes
   (:func:`tb.cosim.frame_host.layer_codes`: ``quantize_x(x)``, ``quantize_delta(-lr * delta / lsb)``)
   and one frame per layer (:func:`~golden.twins.outer_product_engine.frame_words`);
2. *stream*: both frames are played into ``s_axis`` in parallel; then STATUS.BUSY is polled on
   each port until 0 (the engine strobes the arbitration's end of cycle after each frame itself);
3. *RTL*: OuterProductEngine -> ArbitrationController -> PulseScheduler -> CrossbarAddressing; the
   pulses are logged on the lines and applied to the array models;
4. *golden reference*: an independent InSituMLP (same configuration and seed) steps on the same
   sample; its ProgramRequests give the expected pulses, its codes the expected frames.

Compared: every pulse (order, row, device column, polarity, cycle offset inside its request), every
frame against the golden's, the conductance and pulse counter of every device at the end,
PULSE_COUNT, cells read back through READ_REQ/READ_DATA, and the test accuracy. The frames are
recorded (binary) for the C++ replay: equal cycle count and pulse log, and the wall-clock ratio.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from tb.cosim.frame_host import N_INPUTS, FrameCosimConfig, layer_params
from tb.cosim.harness.build import FRAME_SOURCE, build_harness, compare_replay
from tb.cosim.progress import progress_printer
from tb.kit.runner import ROOT, run_cocotb, to_verilog
from tb.tops.frame_cosim_top import FrameCosimTop
from tb.tops.pulse_logger import PLOG_DEPTH

PUBLIC_VLT = Path(__file__).resolve().parent / "harness" / "frame_cosim_top_public.vlt"
TOPLEVEL = "frame_cosim_top"
#: runs of at least this many samples build the top at -O2, shorter ones at -O1 (see :func:`cxx_flags`)
OPTIMISED_BUILD_SAMPLES = 2000


def cxx_flags(cfg: FrameCosimConfig) -> tuple[str, ...]:
    """C++ flags of both builds of ``cfg``'s top (cocotb and the raw replay: the same flags keep the
    cocotb / raw ratio fair). A long run gets -O2: about 1.3x the cycles/s of verilated.mk's -Os for a
    similar compile time. A short slice gets -O1: at 784-250-10 the 200-sample slice (238k cycles)
    simulated at about 2k cycles/s built at -O0 (about 120 s) and at 22k cycles/s at -O1 (11 s), a
    saving far larger than -O1's longer compile; -O2 compiles in 158 s of CPU."""
    return ("-O2",) if cfg.samples >= OPTIMISED_BUILD_SAMPLES else ("-O1",)


def frame_top(cfg: FrameCosimConfig, stand_in: bool | None = None, plog_depth: int = PLOG_DEPTH) -> FrameCosimTop:
    """The co-simulation top of ``cfg`` (``stand_in``: see :class:`FrameCosimTop`)."""
    return FrameCosimTop(layer_params(cfg, N_INPUTS[cfg.dataset]), plog_depth=plog_depth, stand_in=stand_in)


def run_frame_cosim(cfg: FrameCosimConfig, *, out_dir: Path | None = None, progress: bool = False,
                    stand_in: bool | None = None, plog_depth: int = PLOG_DEPTH, profile: str | None = None,
                    waves: bool | None = None, zero_delta: tuple[int, int] | None = None) -> dict:
    """Build the frame top, run :mod:`tb.cosim.frame_tb` under Verilator; returns its result dict
    with ``build_seconds``, ``run_seconds`` and the stimulus path. ``stand_in``: feed FrameTally
    stand-ins instead of the engine (None: when the accelerator has no ``s_axis``).
    ``zero_delta = (sample, layer)``: that frame is sent with all deltas 0 (fault injection: the run
    must then report mismatches; the cocotb failure is not raised)."""
    out_dir = Path(out_dir) if out_dir is not None else ROOT / "build" / "cosim"
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{cfg.dataset}"
    result, stim, prog = (out_dir / f"frames_{tag}_result.json", out_dir / f"frames_{tag}_stimulus.bin",
                          out_dir / f"frames_{tag}_progress.txt")
    for f in (result, stim, prog, stim.with_suffix(".pulses.txt")):
        f.unlink(missing_ok=True)
    top = frame_top(cfg, stand_in, plog_depth)
    # converted once and kept: the C++ harness build reuses it (minutes at 784-250-10)
    verilog = out_dir / f"frames_{tag}_{TOPLEVEL}.v"
    verilog.write_text(to_verilog(top, TOPLEVEL))
    with progress_printer(prog, progress):
        res = run_cocotb(top, toplevel=TOPLEVEL, test_module="tb.cosim.frame_tb", waves=waves,
                         verilog_text=verilog.read_text(),
                         build_args=("--no-public-flat-rw", str(PUBLIC_VLT),
                                     *(a for f in cxx_flags(cfg) for a in ("-CFLAGS", f))),
                         config={"cosim": cfg.to_dict(), "result": str(result), "stimulus": str(stim),
                                 "progress_file": str(prog) if progress else None, "profile": profile,
                                 "stand_in": top.stand_in, "plog_depth": plog_depth,
                                 "zero_delta": list(zero_delta) if zero_delta is not None else None},
                         check=False)
    if not result.exists():
        raise RuntimeError(f"frame co-simulation wrote no result (see {res.build_dir}/run-*/sim.log)")
    out = json.loads(result.read_text())
    out.update(build_seconds=res.build_seconds, run_seconds=res.run_seconds, build_dir=str(res.build_dir),
               stimulus=str(stim), plog_depth=plog_depth, verilog=str(verilog))
    return out


def compare_raw(res: dict, cfg: FrameCosimConfig, repeat: int = 1) -> dict:
    """Replay ``res``'s recorded frames in the plain Verilator C++ harness (built here, cached); adds
    ``raw_*`` numbers, the pulse-log / cycle / tally comparison and the cocotb cost ratios to ``res``.

    The ratios are those of :func:`tb.cosim.harness.build.compare_replay`.
    """
    top = frame_top(cfg, res["stand_in"], res["plog_depth"])
    t0 = time.perf_counter()
    text = Path(res["verilog"]).read_text() if Path(res.get("verilog", "")).is_file() else None
    exe = build_harness(top, TOPLEVEL, source=FRAME_SOURCE, defines=("STAND_IN",) if res["stand_in"] else (),
                        cxx_flags=cxx_flags(cfg),
                        verilog_text=text)
    res["raw_build_seconds"] = time.perf_counter() - t0
    raw = compare_replay(exe, res, repeat)
    res["raw_tally"] = raw["tally"]
    same_log = res["raw_pulse_log_equal"]
    ok = same_log and res["raw_cycles_equal"] and raw["samples"] == res["samples"]
    if res["stand_in"]:
        ok = ok and raw["tally"] == res["tally"]
    if not ok:
        res["mismatches"] += 1
        res.setdefault("first_mismatches", []).append(
            f"raw harness: cycles {raw['cycles']} vs {res['cycles']}, samples {raw['samples']} vs "
            f"{res['samples']}, pulse logs equal: {same_log}")
    return res


def summary(res: dict) -> str:
    """Human summary of a :func:`run_frame_cosim` result."""
    lines = [
        (f"frame co-simulation: {res['samples']} training samples of {res['dataset']}, MLP {res['network']}, "
         f"N = {res['devices']} devices, engine lanes {res['lanes']}, seed {res['seed']}"
         + (" -- STAND-IN (no update engine in the accelerator: frame delivery only)" if res["stand_in"] else "")),
        (f"  {res['frames']} frames ({res['frame_words']} words), {res['pulses']} pulses (golden "
         f"{res['golden_pulses']}), {res['cycles']} cycles ({res['cycles_per_sample']:.0f} per sample), "
         f"{res['reads']} cells read back"),
        (f"  mismatches: {res['mismatches']} (pulses {res['pulse_mismatches']}, frames {res['frame_mismatches']}, "
         f"conductances {res['conductance_mismatches']}, reads {res['read_mismatches']}, counters "
         f"{res['counter_mismatches']}, line violations {res['violations']})"),
        f"  accuracy: co-sim {100 * res['accuracy']:.2f} %, golden {100 * res['golden_accuracy']:.2f} %",
        (f"  time: {res['wall_seconds']:.1f} s training loop ({res['host_ms_per_sample']:.2f} ms host Python per "
         f"sample), {res['setup_seconds']:.1f} s setup, {res['build_seconds']:.0f} s build; "
         f"{res['cycles_per_second']:.0f} cycles/s simulator + drivers"),
    ]
    if "raw_cycles_per_second" in res:
        lines.append(f"  raw Verilator C++ replay of the same frames: {res['raw_cycles']} cycles "
                     f"({'equal' if res['raw_cycles_equal'] else 'DIFFERENT'}), pulse log "
                     f"{'identical' if res['raw_pulse_log_equal'] else 'DIFFERENT'}, {res['raw_wall_seconds']:.1f} s, "
                     f"{res['raw_cycles_per_second']:.0f} cycles/s")
        lines.append(f"  cocotb / raw: x{res['ratio']:.2f} wall clock (x{res['ratio_cpu']:.2f} CPU time); "
                     f"x{res['ratio_end_to_end']:.2f} end to end with the host's golden passes")
    return "\n".join(lines)
