"""A whole trained BNN through the accelerator top (:mod:`tb.cosim.bnn_net_tb`): the run, its golden
cycle counts and throughput numbers.

    reram-accel cosim --bnn-net mnist --bnn-images 20 --bnn-modes analog,digital --json build/bnn_net.json

Long runs (all 10,000 MNIST test images) go through the plain Verilator C++ harness instead
(``--bnn-engine cxx``, :mod:`tb.cosim.bnn_net_cxx`), which replays this run cycle for cycle.

``digits``: the trained 64-255-255-10 network (:data:`golden.bnn.model_params.TRAIN_PRESETS`, trained in
seconds and cached under ``build/bnn/``); ``mnist``: the paper network 784-1025-1025-1025-10 cached by
``reram-accel bnn --dataset mnist`` (the longest-trained one found).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from golden.spec.bnn_datapath_params import MAX_READ_WIDTH, BnnHwParams
from golden.spec.bnn_network_params import BnnNetHwParams, bnn_net_params_for
from golden.spec.checks import ConfigError, check_int

DATASETS = ("digits", "mnist")
MODES = ("digital", "analog")
#: The engines' common parameters: 32-bridge digital reads, 1-cycle phases except precharge/evaluate (2).
LAYER = BnnHwParams(bank=1, neurons=2, read_width=32, out_fifo=8)
#: Digital read width of each data set's build (``--bnn-read-width`` overrides it). The paper network
#: reads full rows (one read per neuron, 1127 / 1025 bridges): its output layer, read digitally in both
#: modes, then costs 21 cycles instead of 341, which puts the default-phase analog image within 2x of the
#: SA-clock bound, and the digital mode (the reference / FPGA mode) needs 3,130 cycles per image instead
#: of 111,075. The digits network keeps 32-bridge reads, so that the make-test slice runs a neuron's row
#: in several reads (9 of 32 bridges for its 279-bridge hidden rows, 8 for its 255-bridge output rows).
READ_WIDTH = {"digits": 32, "mnist": MAX_READ_WIDTH}


def trained_network(dataset: str):
    """(model, path) of the trained network of ``dataset``."""
    from golden.bnn.model_params import TRAIN_PRESETS
    from golden.bnn.network import BnnModel, load_or_train, model_path

    if dataset == "digits":
        p = TRAIN_PRESETS["digits"]
        return load_or_train(p), model_path(p).resolve()
    from tb.cosim.bnn_engine_mnist import find_model

    path = find_model()
    return BnnModel.load(path), path.resolve()


def test_images(dataset: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(binarised test images [n, inputs] uint8, labels [n])."""
    from golden.bnn.network import binarize_images
    from golden.data.datasets import load_digits, load_mnist

    d = load_digits() if dataset == "digits" else load_mnist()
    return binarize_images(d.x_test[:n]).astype(np.uint8), np.asarray(d.y_test[:n])


def net_params(model, dataset: str, read_width: int | None = None) -> BnnNetHwParams:
    """The network build for ``model``: banks of 3 for the paper network (3 x 1127 columns), 4 otherwise;
    digital reads of ``read_width`` bridges (1..4096; default :data:`READ_WIDTH` of the data set; a
    width >= a row's bridges reads the row at once)."""
    w = READ_WIDTH[dataset] if read_width is None else read_width
    return bnn_net_params_for(model, bank=3 if dataset == "mnist" else 4, bank_out=3,
                              layer=replace(LAYER, read_width=w))


def golden_cycles(model, net: BnnNetHwParams, x: np.ndarray, hc: dict, modes=MODES) -> dict:
    """Cycles per image of the engine (golden cycle model, first image, back-to-back images)."""
    from golden.bnn.chip_model import BnnHardware, HardwareConfig
    from golden.twins.bnn_network_engine import (
        BnnNetworkEngineModel,
        analog_network,
        network_array,
        network_programmed,
    )

    prog = network_programmed(model, seed=hc["seed"], bit_error=hc.get("bit_error") or 0.0)
    array = network_array(prog, net)
    out = {}
    for mode in modes:
        a = analog_network(BnnHardware(model, HardwareConfig(**hc)), x[:2]) if mode == "analog" else None
        m = BnnNetworkEngineModel(net, array, a)
        acc, cls = m.run([(x[i], int(mode == "analog")) for i in range(min(2, len(x)))])
        out[mode] = {"cycles_per_image": acc[1][0] - acc[0][0] if len(acc) > 1 else m.cycles,
                     "latency": cls[0][0] - acc[0][0] + 1,
                     "pass_cycles": [ws[-1][0] - s + 1 for img, _, s, ws in m.passes if img == 0]}
    return out


def load_run(dataset: str, images: int, modes, read_width: int | None = None) -> tuple:
    """Check a run's arguments, then load it: (model, model path, images, labels, network build)."""
    if dataset not in DATASETS:
        raise ConfigError(f"bnn-net dataset {dataset!r} is not allowed: choose from {list(DATASETS)}")
    check_int("bnn images", images, 1, 10_000)
    if read_width is not None:
        check_int("bnn read width", read_width, 1, MAX_READ_WIDTH)
    for m in modes:
        if m not in MODES:
            raise ConfigError(f"bnn mode {m!r} is not allowed: choose from {list(MODES)}")
    model, path = trained_network(dataset)
    x, y = test_images(dataset, images)
    if len(x) < images:
        raise ConfigError(f"bnn images = {images} is out of range for {dataset}: allowed [1, {len(x)}]")
    return model, path, x, y, net_params(model, dataset, read_width)


def run_cosim_bnn_net(dataset: str = "digits", images: int = 10, seed: int = 0, *,
                      modes: tuple[str, ...] = MODES, bit_error: float = 0.01, out_dir: Path | None = None,
                      progress: bool = True, fault: dict | None = None, read_width: int | None = None) -> dict:
    """``images`` test images of ``dataset`` through the top, once per mode; returns the result dict
    (``class_mismatches`` etc. must be 0) with golden cycles per image and the wall time per image.
    ``read_width``: digital read width of the engines (default: the data set's, :data:`READ_WIDTH`)."""
    from tb.cosim.progress import progress_printer
    from tb.cosim.run import run_dir
    from tb.kit.runner import run_cocotb
    from tb.tops.bnn_cosim_top import bnn_net_top

    t0 = time.perf_counter()
    model, path, x, y, net = load_run(dataset, images, modes, read_width)
    out_dir = run_dir(out_dir, f"bnn_net_{dataset}").resolve()
    x_path = out_dir / f"x{images}.npy"
    np.save(x_path, x)
    result, prog_file = out_dir / "cosim_bnn_net_result.json", out_dir / "progress.txt"
    result.unlink(missing_ok=True)
    hc = {"mode": "authors", "seed": seed, "bit_error": bit_error}
    cfg = {"images": images, "seed": seed, "result": str(result), "model": str(path), "x_path": str(x_path),
           "labels": y.tolist(), "modes": list(modes), "hardware": hc, "progress": str(prog_file),
           "fault": fault or {},
           "net": asdict(net)}   # tb.cosim.bnn_net_tb.net_from_dict reads it back
    with progress_printer(prog_file, enabled=progress, unit="images"):
        res = run_cocotb(bnn_net_top(net), toplevel="cosim_bnn_net_top", test_module="tb.cosim.bnn_net_tb",
                         testcase="cosim_bnn_net", config=cfg, check=False)
    if not result.exists():
        raise RuntimeError(f"the BNN network co-simulation wrote no result (see {res.results_xml.parent})")
    out = json.loads(result.read_text())
    out.update(dataset=dataset, model=path.name, build_seconds=res.build_seconds, run_seconds=res.run_seconds,
               golden=golden_cycles(model, net, x, hc, modes), total_wall_seconds=time.perf_counter() - t0,
               out_rows=[net.row_offset(net.hidden_layers), net.rows], out_cols=net.out_hw.array_cols)
    return out


def summary(res: dict, fmax_mhz: float | None = None) -> str:
    """Lines for the terminal: per mode classes, accuracy, cycles and wall time per image."""
    lines = [(f"BNN network {'-'.join(map(str, res['sizes']))} ({res['dataset']}, {res['model']}) through the top: "
             f"{res['images']} images per mode, build {res['build_seconds']:.0f} s")]
    for mode, v in res["per_mode"].items():
        g = res["golden"][mode]
        line = (f"  {mode}: {v['class_mismatches']} class / {v['activation_mismatches']} activation mismatches "
                f"({v['activation_checks']} layer inputs compared), accuracy {v['accuracy']:.4f} (golden "
                f"{v['golden_accuracy']:.4f}); engine {g['cycles_per_image']} cycles/image (golden model), "
                f"{v['cycles_per_image']:.0f} with the host's bus traffic; {v['wall_per_image']:.2f} s wall/image")
        if fmax_mhz:
            line += f", {fmax_mhz * 1e6 / g['cycles_per_image']:.0f} images/s at {fmax_mhz} MHz"
        lines.append(line)
    return "\n".join(lines)
