"""BnnLayerEngine RTL (cocotb + Verilator) on one hidden layer of the trained MNIST BNN.

Loads the cached paper network (784-1025-1025-1025-10, ``build/bnn/mnist_h1025-1025-1025_*.npz``),
keeps hidden layer ``--layer`` (default 1: 1025 inputs + bias cells) restricted to its first
``--neurons`` neurons (all of their inputs and bias cells), feeds it the golden layer inputs of
``--images`` MNIST test images and compares the RTL's output bits, cycle by cycle, with the golden
twin, in digital mode (word-parallel bridge reads, ``--read-width`` bridges per cycle) and/or analog
mode (one bank of K neurons per SA conversion, the SA errors drawn from the same counter-based
randomness as ``BnnHardware``).

    .venv/bin/python -m tb.cosim.bnn_engine_mnist --images 100 --neurons 1025 --bank 3 --mode both \
        --json build/bnn_engine_mnist.json
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

BNN_DIR = Path(__file__).resolve().parents[2] / "build" / "bnn"


def find_model(directory: Path = BNN_DIR) -> Path:
    """The cached paper-size MNIST model (prefers the longest-trained one)."""
    cands = sorted(directory.glob("mnist_h1025-1025-1025_*.npz"),
                   key=lambda p: int(p.name.split("_e")[1].split("_")[0]), reverse=True)
    if not cands:
        raise FileNotFoundError(f"no trained MNIST model in {directory}: run `reram-accel bnn --dataset mnist`")
    return cands[0]


def sub_model(model, layer: int, neurons: int):
    """``model`` with hidden layer ``layer`` cut to its first ``neurons`` neurons, the layers after it
    replaced by a dummy output layer. Layer/neuron/input indices are kept, so the counter-based
    error randomness of :class:`BnnHardware` is that of the full network."""
    from golden.bnn.network import BnnModel

    w, t = model.layers[layer]
    layers = list(model.layers[:layer]) + [(w[:neurons].copy(), t[:neurons].copy()),
                                           (np.zeros((10, neurons), dtype=np.uint8), None)]
    raw = list(model.thresholds_raw[:layer]) + [model.thresholds_raw[layer][:neurons].copy()]
    return BnnModel(layers=layers, bias_fraction=model.bias_fraction, thresholds_raw=raw,
                    meta={"source": "sub_model", "layer": layer, "neurons": neurons})


def run_engine_mnist(images: int = 100, layer: int = 1, neurons: int = 16, mode: str = "both",
                     bank: int = 2, seed: int = 20261123, bit_error: float = 0.01,
                     model_file: str | Path | None = None, read_width: int | None = None) -> dict:
    from golden.bnn.chip_model import BnnHardware, HardwareConfig
    from golden.bnn.network import BnnModel, binarize_images
    from golden.data.datasets import load_mnist
    from golden.spec.bnn_datapath_params import BnnHwParams
    from golden.twins.bnn_layer_engine import analog_bits
    from hw.bnn_layer_engine import BnnLayerEngine
    from tb.kit.runner import run_cocotb

    path = Path(model_file) if model_file else find_model()
    full = BnnModel.load(path)
    if not 0 <= layer < full.n_layers - 1:
        raise SystemExit(f"--layer {layer}: hidden layers are 0..{full.n_layers - 2}")
    neurons = min(neurons, full.sizes[layer + 1])
    data = load_mnist()
    x0 = binarize_images(data.x_test[:images])
    x = x0 if layer == 0 else full.forward_bits(x0)[layer - 1]      # golden inputs of the layer
    sub = sub_model(full, layer, neurons)
    out = BNN_DIR / "engine_mnist"
    out.mkdir(parents=True, exist_ok=True)
    key = f"{path.stem}_L{layer}_n{neurons}"
    sub_path = sub.save(out / f"{key}.npz")
    x_path = out / f"{key}_i{images}.x.npy"
    np.save(x_path, x.astype(np.uint8))
    hc = {"mode": "authors", "seed": seed, "bit_error": bit_error}
    # the truncation must not change the golden error draws: full layer, first `neurons` columns
    ana_full = analog_bits(BnnHardware(full, HardwareConfig(**hc)), x, layer)[:, :neurons]
    ana_sub = analog_bits(BnnHardware(sub, HardwareConfig(**hc)), x, layer)
    assert np.array_equal(ana_full, ana_sub), "sub-model changes the golden analog randomness"

    hw = BnnHwParams(inputs=sub.fan_in(layer), bias_cells=sub.bias_cells(layer), neurons=neurons,
                     bank=min(bank, neurons), out_fifo=8,
                     **({"read_width": read_width} if read_width is not None else {}))
    dut = BnnLayerEngine(hw)
    rows = []
    modes = ("digital", "analog") if mode == "both" else (mode,)
    for m in modes:
        cfg = {"hw": asdict(hw), "model": str(sub_path.resolve()), "x_path": str(x_path.resolve()),
               "n_images": images, "seed": seed, "layer": layer, "order": m, "hardware": hc,
               "p_valid": 0.8, "p_ready": 0.7}
        t1 = time.perf_counter()
        res = run_cocotb(dut, toplevel="bnn_layer_engine", test_module="tb.envs.bnn_layer_engine_tb", config=cfg,
                         testcase="bnn_layer_engine_trained_layer")
        wall = time.perf_counter() - t1
        met = json.loads((res.results_xml.parent / "metrics_bnn_layer_engine.json").read_text())
        got = np.load(res.results_xml.parent / "bnn_layer_engine_bits.npy")
        ideal = full.layer_bits(x, layer)[:, :neurons]
        rows.append({"mode": m, "images": met["images"], "neurons": neurons, "inputs": hw.inputs,
                     "bias_cells": hw.bias_cells, "bank": hw.bank, "read_width": hw.read_width,
                     "reads_per_neuron": hw.reads_per_neuron, "word_reads": met["word_reads"],
                     "bridge_reads": met["bridge_reads"], "sa_decisions": met["sa_decisions"],
                     "output_bits": met["output_bits"],
                     "mismatches": met[f"mismatches_{m}"],
                     "bits_differing_from_ideal_layer": int(np.sum(got != ideal)),
                     "cycles": met["cycles"], "sim_seconds": round(met["sim_seconds"], 1),
                     "build_seconds": round(res.build_seconds, 1), "run_seconds": round(res.run_seconds, 1),
                     "wall_seconds": round(wall, 1)})   # wall: + Verilog generation + golden twin
    return {"model": path.name, "layer": layer, "neurons_of_layer": full.sizes[layer + 1],
            "seed": seed, "bit_error": bit_error, "runs": rows}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--layer", type=int, default=1, help="hidden layer (0: 784 inputs, 1/2: 1025 inputs)")
    p.add_argument("--neurons", type=int, default=16, help="first N neurons of the layer (all their inputs)")
    p.add_argument("--mode", choices=("analog", "digital", "both"), default="both")
    p.add_argument("--bank", type=int, default=2, help="K neurons per SA conversion (<= 3 for 1025 inputs)")
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--bit-error", type=float, default=0.01)
    p.add_argument("--model", default=None, help="trained model .npz (default: cached paper MNIST net)")
    p.add_argument("--read-width", type=int, default=None,
                   help="bridges per digital-mode read (default: BnnHwParams.read_width)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    r = run_engine_mnist(a.images, a.layer, a.neurons, a.mode, a.bank, a.seed, a.bit_error, a.model,
                         a.read_width)
    r["total_wall_seconds"] = round(time.perf_counter() - t0, 1)
    w0 = r["runs"][0]
    print(f"{r['model']} layer {r['layer']}: first {w0['neurons']} of {r['neurons_of_layer']} "
          f"neurons, {w0['inputs']}+{w0['bias_cells']} cells each, K={w0['bank']}, read width "
          f"{w0['read_width']} ({w0['reads_per_neuron']} reads per neuron)")
    print("| mode | images | neurons | output bits | mismatches | cycles | build s | run s | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for w in r["runs"]:
        print(f"| {w['mode']} | {w['images']} | {w['neurons']} | {w['output_bits']} | {w['mismatches']} | "
              f"{w['cycles']} | {w['build_seconds']} | {w['run_seconds']} | {w['wall_seconds']} |")
    print(f"total {r['total_wall_seconds']} s")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(r, indent=1))
    return 0 if all(w["mismatches"] == 0 for w in r["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
