"""End-to-end co-simulations with the RTL in the loop: build the top, run the cocotb test module,
replay in the plain Verilator C++ harness, summarise.

In-situ training (:func:`run_cosim`). The chip under test is :class:`tb.tops.cosim_top.CosimTop`: one :class:`hw.accelerator.Accelerator` per network layer
(``l1``: ``(n_in + 1) x hidden`` synapses, ``l2``: ``(hidden + 1) x 10``), each with its own AXI4-Lite
port and array port -- exactly the golden stack's mapping (:class:`golden.training.in_situ.InSituMLP`: one
:class:`~golden.training.multi_device_synapses.SynapseArray`, with its own UpdateUnit chi memory and
ArbitrationController, per layer). A behavioural array (:class:`tb.models.reram_array.ArrayModel`) sits on
each array port; its device ids are the golden :class:`~golden.training.multi_device_synapses.DeviceStore`'s
(:class:`tb.cosim.training_host.OffsetCrossbarArray`), so the counter-based device model gives the same draws.

Per training sample (:mod:`tb.cosim.training_tb` runs this inside the simulator):

1. *host*: an :class:`InSituMLP` whose conductances are loaded from the two behavioural arrays (the
   state the RTL's pulses produced) runs the golden forward/backward pass and the golden
   quantisation; its :class:`~golden.spec.transactions.UpdateRequest` list (row-major, ``dw != 0``) is the
   stimulus. The update-cycle bookkeeping of the host copy (chi, arbitration, its own device
   pulses) is discarded: only the requests leave the host.
2. *bus*: the requests go to each layer's UPDATE register (END_CYCLE on the last one, or a MARKER +
   END_CYCLE if a layer has none), both ports in parallel; then STATUS.BUSY is polled on each port.
3. *RTL*: UpdateUnit -> ArbitrationController -> PulseScheduler -> CrossbarAddressing; every pulse
   is applied by the array model as it appears on the lines.
4. *golden reference*: an independent :class:`InSituMLP` (same config and seed) runs
   ``step`` on the same sample; its ProgramRequests (traced) give the expected pulses
   (:func:`golden.twins.pulse_scheduler.pulses_for`).

Compared: every pulse (order, row, physical column = device slot, polarity, and its cycle offset
inside its program request), every request sent against the reference's, the conductances of every
device (bit-identical float64) and the pulse counters at the end, cells read back through
READ_REQ/READ_DATA against the golden read codes, the CSR counters, and the test accuracy.

The AXI write stream of every sample is recorded (:func:`tb.cosim.training_host.write_stimulus`) so that the plain Verilator
C++ harness (``tb/cosim/harness``) replays it without Python: the cycle counts and pulse logs must agree,
and the wall-clock ratio is what cocotb costs.

BNN inference through the accelerator top (:func:`run_cosim_bnn`): :mod:`tb.cosim.bnn_tb`.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from golden.spec.params import ConfigError, check_int
from tb.cosim.bnn_host import MODES, bnn_hw_for, digits_bnn, digits_test_bits
from tb.cosim.harness.build import build_harness, compare_replay
from tb.cosim.progress import progress_printer
from tb.cosim.training_host import CosimConfig, layer_params
from tb.kit.runner import ROOT, run_cocotb
from tb.scale.run_dir import new_run_dir
from tb.tops.bnn_cosim_top import bnn_top
from tb.tops.cosim_top import CosimTop

PUBLIC_VLT = Path(__file__).resolve().parent / "harness" / "cosim_top_public.vlt"


def run_dir(out_dir: Path | None, kind: str) -> Path:
    """``out_dir`` (created), else a new directory of its own under ``build/cosim/`` for this run, so
    that co-simulations started together in one checkout never share their result, stimulus or
    pulse-log files (:func:`tb.scale.run_dir.new_run_dir`)."""
    if out_dir is None:
        return new_run_dir(ROOT / "build" / "cosim", kind)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def run_cosim(cfg: CosimConfig, *, out_dir: Path | None = None, progress: bool = False,
              waves: bool | None = None, driver: str = "batch", profile: str | None = None,
              drop_word: tuple[int, int] | None = None) -> dict:
    """Build :class:`~tb.tops.cosim_top.CosimTop`, run :mod:`tb.cosim.training_tb` under Verilator; returns its result dict
    (see :func:`tb.cosim.training_tb.cosim_training`), with ``build_seconds`` and ``run_seconds``.

    ``driver``: ``"batch"`` (default) loads ``SEQ_DEPTH`` UPDATE words at a time into the
    :class:`~tb.tops.axil_sequencer.AxilSequencer` in front of each AXI port (one Python wake-up per batch); ``"python"``
    drives every AXI write from Python (:class:`tb.kit.axil_host.FastAxil`, one wake-up per write).
    Both give the same bus protocol; the sequencer starts each batch one cycle later.
    ``drop_word = (sample, layer)`` loses the UPDATE word behind that layer's first golden pulse of that
    sample (fault injection: the run must then report mismatches; the cocotb failure is not raised).
    """
    if driver not in ("batch", "python"):
        raise ConfigError(f"driver = {driver!r} is not allowed: choose 'batch' or 'python'")
    out_dir = run_dir(out_dir, "train")
    result = out_dir / "cosim_result.json"
    stim = out_dir / "cosim_stimulus.txt"
    for f in (result, stim):
        f.unlink(missing_ok=True)
    prog = out_dir / "cosim_progress.txt"
    prog.unlink(missing_ok=True)
    top = CosimTop(layer_params(cfg))
    with progress_printer(prog, progress):
        # only the top's ports are visible to cocotb (see tb/cosim/harness/cosim_top_public.vlt)
        res = run_cocotb(top, toplevel="cosim_top", test_module="tb.cosim.training_tb", waves=waves,
                         build_args=("--no-public-flat-rw", str(PUBLIC_VLT)),
                         config={"cosim": cfg.to_dict(), "result": str(result), "stimulus": str(stim),
                                 "progress_file": str(prog) if progress else None, "driver": driver,
                                 "profile": profile, "drop_word": drop_word},
                         check=drop_word is None)
    out = json.loads(result.read_text())
    out["build_seconds"] = res.build_seconds
    out["run_seconds"] = res.run_seconds
    out["build_dir"] = str(res.build_dir)
    out["stimulus"] = str(stim)
    out["run_dir"] = str(out_dir)
    return out


def compare_raw(res: dict, cfg: CosimConfig, repeat: int = 3) -> dict:
    """Replay ``res``'s recorded stimulus in the plain Verilator C++ harness (built here, cached);
    adds ``raw_*`` numbers, the pulse-log and cycle comparison, and the cocotb cost ratio to ``res``.

    ``ratio`` = raw cycles/s over cocotb cycles/s (wall clock; cocotb side: simulator + Python
    drivers and monitors, host compute excluded); ``ratio_cpu`` the same with process CPU time (less
    sensitive to other load on the machine); ``ratio_end_to_end`` includes the host's golden
    forward/backward passes and checks.
    """
    exe = build_harness(CosimTop(layer_params(cfg)))
    raw = compare_replay(exe, res, repeat)
    same_log = res["raw_pulse_log_equal"]
    if not (same_log and res["raw_cycles_equal"]):
        res["mismatches"] += 1
        res.setdefault("first_mismatches", []).append(
            f"raw harness: cycles {raw['cycles']} vs {res['cycles']}, pulse logs equal: {same_log}")
    return res


def summary(res: dict) -> str:
    """Human summary of a :func:`run_cosim` result."""
    lines = [
        (f"co-simulation: {res['samples']} training samples, MLP {res['network']}, N = {res['devices']} "
         f"devices, seed {res['seed']}"),
        (f"  {res['requests']} update requests over AXI-Lite, {res['pulses']} pulses, {res['cycles']} cycles, "
         f"{res['reads']} cells read back"),
        (f"  mismatches: {res['mismatches']} (pulses {res['pulse_mismatches']}, requests "
         f"{res['request_mismatches']}, conductances {res['conductance_mismatches']}, reads "
         f"{res['read_mismatches']}, counters {res['counter_mismatches']}, line violations {res['violations']})"),
        f"  accuracy: co-sim {100 * res['accuracy']:.2f} %, golden {100 * res['golden_accuracy']:.2f} %",
        (f"  speed: {res['cycles_per_second']:.0f} cycles/s, {res['samples_per_second']:.1f} samples/s "
         f"(simulator + Python drivers, host compute excluded); end to end "
         f"{res['samples'] / res['wall_seconds']:.1f} samples/s"),
    ]
    if "raw_cycles_per_second" in res:
        lines.append(f"  raw Verilator C++ replay of the same AXI stimulus: {res['raw_cycles']} cycles "
                     f"({'equal' if res['raw_cycles_equal'] else 'DIFFERENT'}), pulse log "
                     f"{'identical' if res['raw_pulse_log_equal'] else 'DIFFERENT'}, "
                     f"{res['raw_cycles_per_second']:.0f} cycles/s, {res['raw_samples_per_second']:.0f} samples/s")
        lines.append(f"  cocotb cost: x{res['ratio']:.1f} wall clock (x{res['ratio_cpu']:.1f} CPU time); "
                     f"x{res['ratio_end_to_end']:.1f} end to end with the host's golden passes")
    return "\n".join(lines)


def run_cosim_bnn(images: int = 100, seed: int = 0, out_dir: Path | None = None, *,
                  modes: tuple[str, ...] = ("digital", "analog"), fault: dict | None = None,
                  bit_error: float = 0.01) -> dict:
    """BNN inference of ``images`` binarised digits through the accelerator top's AXI port with the
    trained digits layer (:mod:`tb.cosim.bnn_tb`), once per mode in ``modes``; hardware model
    ``authors`` with bridge bit-error rate ``bit_error`` and chip seed ``seed``. Returns the result
    dict (``image_mismatches`` must be 0; ``per_mode`` has the counts of each mode). ``fault``
    (``{"bridge": [row, col]}`` or ``{"sa": [image, neuron]}``) injects one error into the array model."""

    check_int("bnn images", images, 1, 360)
    for m in modes:
        if m not in MODES:
            raise ConfigError(f"bnn mode {m!r} is not allowed: choose from {list(MODES)}")
    out_dir = run_dir(out_dir, "bnn").resolve()
    model, path = digits_bnn()                        # trained once, cached under build/bnn/
    x_path = out_dir / f"cosim_bnn_x{images}.npy"     # spares scikit-learn inside the simulator
    np.save(x_path, digits_test_bits(images))
    hw = bnn_hw_for(model)
    result = out_dir / "cosim_bnn_result.json"
    result.unlink(missing_ok=True)
    res = run_cocotb(bnn_top(hw), toplevel="cosim_bnn_top", test_module="tb.cosim.bnn_tb", testcase="cosim_bnn",
                     config={"images": images, "seed": seed, "result": str(result), "hw": asdict(hw),
                             "model": str(path), "x_path": str(x_path.resolve()), "modes": list(modes),
                             "hardware": {"mode": "authors", "seed": seed, "bit_error": bit_error},
                             "fault": fault or {}})
    out = json.loads(result.read_text())
    out["build_seconds"], out["run_seconds"] = res.build_seconds, res.run_seconds
    return out
