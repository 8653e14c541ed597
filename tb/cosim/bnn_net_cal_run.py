"""The calibrated BNN chip through the network top (:mod:`tb.cosim.bnn_net_cal_tb`): the measured SA-offset
calibration ramp over AXI-Lite, the trim, calibrated analog inference; the run and its numbers."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from golden.bnn.sa_calibration import DEFAULT_PATTERNS, DEFAULT_REPEATS, check_calibration


def run_cosim_bnn_net_cal(dataset: str = "digits", images: int = 10, seed: int = 0, *,
                          repeats: int = DEFAULT_REPEATS, patterns: int = DEFAULT_PATTERNS, bit_error: float = 0.01,
                          out_dir: Path | None = None, fault: dict | None = None) -> dict:
    """Calibrate every hidden layer of ``dataset``'s network (``patterns`` x (B + 1) x ``repeats`` ramp
    images per layer) on a physical-model chip of ``seed``, then ``images`` test images in analog mode;
    returns the result dict (``decision_mismatches``, ``trim_mismatches``, ``class_mismatches`` etc. must
    be 0); ``fault``: see :mod:`tb.cosim.bnn_net_cal_tb`."""
    from tb.cosim.bnn_net_run import load_run
    from tb.cosim.run import run_dir
    from tb.kit.runner import run_cocotb
    from tb.tops.bnn_cosim_top import bnn_net_top

    check_calibration("", "measured", repeats, patterns)
    t0 = time.perf_counter()
    _, path, x, y, net = load_run(dataset, images, ("analog",))
    out_dir = run_dir(out_dir, f"bnn_net_cal_{dataset}").resolve()
    x_path = out_dir / f"x{images}.npy"
    np.save(x_path, x)
    result = out_dir / "cosim_bnn_net_cal_result.json"
    result.unlink(missing_ok=True)
    hc = {"mode": "physical", "seed": seed, "bit_error": bit_error, "sa_cal_repeats": repeats,
          "sa_cal_patterns": patterns}
    cfg = {"images": images, "seed": seed, "result": str(result), "model": str(path), "x_path": str(x_path),
           "labels": y.tolist(), "hardware": hc, "fault": fault or {},
           "net": asdict(net)}   # tb.cosim.bnn_net_tb.net_from_dict reads it back
    res = run_cocotb(bnn_net_top(net), toplevel="cosim_bnn_net_top", test_module="tb.cosim.bnn_net_cal_tb",
                     testcase="cosim_bnn_net_cal", config=cfg, check=False)
    if not result.exists():
        raise RuntimeError(f"the calibrated BNN network co-simulation wrote no result (see {res.results_xml.parent})")
    out = json.loads(result.read_text())
    out.update(dataset=dataset, model=path.name, build_seconds=res.build_seconds, run_seconds=res.run_seconds,
               total_wall_seconds=time.perf_counter() - t0)
    return out


def cal_summary(res: dict) -> str:
    """Lines for the terminal: per layer the ramp and its checks, then the calibrated inference."""
    hc = res["hardware"]
    lines = [(f"calibrated BNN {'-'.join(map(str, res['sizes']))} ({res['dataset']}, {res['model']}) through the "
             f"top: physical chip seed {hc['seed']}, {hc['sa_cal_patterns']} patterns x {hc['sa_cal_repeats']} "
             f"repeats per ramp step, build {res['build_seconds']:.0f} s")]
    for layer, v in res["per_layer"].items():
        lines.append(f"  layer {layer}: {v['conversions']} ramp images ({v['cycles']} cycles), {v['decisions']} "
                     f"decisions, {v['decision_mismatches']} differ from golden; shifts/trims "
                     f"{v['shift_mismatches']}/{v['trim_mismatches']} differ; mean |shift| {v['mean_abs_shift']:.2f}, "
                     f"{v['at_limit']} at the limit, {v['bias_writes']} bias-cell writes")
    lines.append(f"  calibrated analog inference: {res['images']} images, {res['class_mismatches']} class / "
                 f"{res['count_mismatches']} popcount mismatches, accuracy {res['accuracy']:.4f} (golden "
                 f"{res['golden_accuracy']:.4f}, uncalibrated {res['uncalibrated_accuracy']:.4f}); the trim "
                 f"changes {res['hidden_bits_changed_by_trim']} hidden bits; "
                 f"{res['inference_cycles_per_image']:.0f} cycles/image with the bus traffic; wall "
                 f"{res['calibration_wall_seconds']:.0f} s calibration, {res['inference_wall_seconds']:.0f} s inference")
    return "\n".join(lines)
