"""A whole trained BNN through the accelerator top in the plain Verilator C++ harness
(``tb/cosim/harness/bnn_net_harness.cpp``): the long runs of :mod:`tb.cosim.bnn_net_run`.

    reram-accel cosim --bnn-net mnist --bnn-images 10000 --bnn-modes analog,digital --bnn-engine cxx

Python writes the stimulus (:func:`stimulus`): the network's geometry, the programmed array, golden's
layer vectors per image and mode (the image, then every hidden layer's output bits: the digital network
of the programmed bits, and the analog network of :class:`golden.bnn.chip_model.BnnHardware` with its
counter-based SA errors) and the host's register operations, exactly those :class:`tb.cosim.bnn_net_tb.
NetHost` performs over :class:`tb.kit.axil_host.FastAxil` (BNN_NET read, CTRL.MODE, IRQ_ENABLE.BNN_DONE;
per mode BNN_CTRL.ANALOG; per image the BNN_INPUT words, the ``irq`` wait, EVENTS polled until BNN_DONE,
BNN_CLASS, EVENTS cleared, CTRL.BNN_ACK; at the end CTRL.MODE = 0 and ERRORS). The harness replays
them with the cocotb run's bus timing and reactions, closes the array port as
:class:`tb.models.bnn_macro.BnnMacroModel` does (analog decisions: golden's, for the image given by the
row's evaluation count, after checking that the RTL applied golden's inputs of that layer), checks every
hidden layer's input as the cocotb run observes it, and logs each read and each image's cycles. Python
compares every class and its popcount with golden (:func:`run_cosim_bnn_net_cxx`).
"""
from __future__ import annotations

import json
import struct
import subprocess
import time
from pathlib import Path

import numpy as np

from golden.spec.bnn_network_params import BnnNetHwParams
from tb.cosim.bnn_net_run import MODES, golden_cycles, load_run

SOURCE = Path(__file__).resolve().parent / "harness" / "bnn_net_harness.cpp"
TOPLEVEL = "cosim_bnn_net_top"
MAGIC = b"RBNN0001"
OP_WRITE, OP_READ, OP_WAIT_IRQ, OP_POLL, OP_IMAGE, OP_IMAGE_END = 1, 2, 3, 4, 5, 6


def _bit(reg, field: str) -> int:
    """Bit position of a 1-bit ``field`` of register ``reg``."""
    return reg.encode(**{field: 1}).bit_length() - 1


def _packed(bits: np.ndarray) -> np.ndarray:
    """uint32 ``[rows, ceil(n/32)]`` of a 0/1 array ``[rows, n]`` (bit j of word k = column 32k + j)."""
    bits = np.atleast_2d(np.asarray(bits, dtype=np.uint8))
    n = bits.shape[1]
    pad = np.zeros((bits.shape[0], -(-n // 32) * 32), np.uint8)
    pad[:, :n] = bits
    return np.packbits(pad, axis=1, bitorder="little").view("<u4").reshape(bits.shape[0], -1)


def host_operations(net: BnnNetHwParams, x: np.ndarray, modes: tuple[str, ...]) -> tuple[list[int], list[str]]:
    """(the operation words, the name of each logged read in order) of :class:`tb.cosim.bnn_net_tb.NetHost`'s
    run of ``x`` in ``modes``."""
    from golden.spec.register_map.accelerator_map import accelerator_register_map
    from tb.tops.bnn_cosim_top import bnn_net_top_params

    rm = accelerator_register_map(bnn_net_top_params(net), bnn=net)
    ops: list[int] = []
    reads: list[str] = []

    def wr(reg: str, words: list[int]) -> None:
        ops.extend([OP_WRITE, rm[reg].addr, len(words), *words])

    def rd(reg: str) -> None:
        ops.extend([OP_READ, rm[reg].addr])
        reads.append(reg)

    rd("bnn_net")
    wr("ctrl", [rm["ctrl"].encode(mode=1)])
    wr("irq_enable", [rm["irq_enable"].encode(bnn_done=1)])
    words = _packed(x)
    n_words = -(-net.sizes[0] // 32)
    done_bit = _bit(rm["events"], "bnn_done")
    clear, ack = rm["events"].encode(bnn_done=1), rm["ctrl"].encode(mode=1, bnn_ack=1)
    for mode in modes:
        m = MODES.index(mode)
        wr("bnn_ctrl", [rm["bnn_ctrl"].encode(analog=int(mode == "analog"))])
        for i in range(len(x)):
            ops.extend([OP_IMAGE, m, i])
            wr("bnn_input", [int(v) for v in words[i, :n_words]])
            ops.append(OP_WAIT_IRQ)
            ops.extend([OP_POLL, rm["events"].addr, done_bit])
            rd("bnn_class")
            wr("events", [clear])
            wr("ctrl", [ack])
            ops.append(OP_IMAGE_END)
    wr("ctrl", [rm["ctrl"].encode(mode=0)])
    rd("errors")
    return ops, reads


def stimulus(net: BnnNetHwParams, array: np.ndarray, x: np.ndarray, golden: dict, modes: tuple[str, ...],
             seed: int) -> tuple[bytes, list[str]]:
    """The harness's stimulus file (format in ``bnn_net_harness.cpp``) and the names of its logged reads.
    ``golden``: mode -> :class:`golden.twins.bnn_network_engine.NetworkBits` of ``x``."""
    hh = net.hidden_hw
    head = [net.rows, net.cols, net.hidden_layers, net.hidden_banks, net.bank, hh.inputs, hh.bias_cells,
            max(hh.read_lanes, net.out_hw.read_lanes), hh.read_latency, seed & 0xFFFFFFFF, len(net.sizes),
            *net.sizes]
    parts = [MAGIC, struct.pack(f"<{len(head)}I", *head), _packed(array).astype("<u4").tobytes()]
    for mode in MODES:                      # table 0: digital, table 1: analog (images 0 if not run)
        if mode not in modes:
            parts.append(struct.pack("<I", 0))
            continue
        g = golden[mode]
        vecs = [_packed(x)] + [_packed(h) for h in g.hidden]
        parts += [struct.pack("<I", len(x)), np.concatenate(vecs, axis=1).astype("<u4").tobytes()]
    ops, reads = host_operations(net, x, modes)
    parts += [struct.pack("<I", len(ops)), np.asarray(ops, dtype="<u4").tobytes()]
    return b"".join(parts), reads


def build(net: BnnNetHwParams, cxx_flags: tuple[str, ...] = ("-O2",), verilog_text: str | None = None) -> Path:
    """The harness executable of ``net``'s top (cached by :func:`tb.cosim.harness.build.build_harness`)."""
    from tb.cosim.harness.build import build_harness
    from tb.tops.bnn_cosim_top import bnn_net_top

    return build_harness(bnn_net_top(net), TOPLEVEL, source=SOURCE, cxx_flags=cxx_flags, verilog_text=verilog_text)


def parse_output(path: Path) -> tuple[list[tuple[int, int]], list[tuple[int, ...]]]:
    """(reads ``[(value, cycle)]``, images ``[(mode, index, start, end, checks, mismatches, violations)]``)."""
    reads, images = [], []
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if f[0] == "R":
            reads.append((int(f[1]), int(f[2])))
        elif f[0] == "I":
            images.append(tuple(int(v) for v in f[1:]))
    return reads, images


def run_cosim_bnn_net_cxx(dataset: str = "digits", images: int = 10, seed: int = 0, *,
                          modes: tuple[str, ...] = MODES, bit_error: float = 0.01, out_dir: Path | None = None,
                          progress: bool = True, fault: dict | None = None,
                          cxx_flags: tuple[str, ...] = ("-O2",), cycles_model: bool = True,
                          read_width: int | None = None) -> dict:
    """``images`` test images of ``dataset`` through the top in the C++ harness, once per mode; returns the
    result dict of :func:`tb.cosim.bnn_net_run.run_cosim_bnn_net` (``class_mismatches`` etc. must be 0)
    with each image's cycles, the wall times and the simulated images/s. ``fault``: as there (bridges of
    the harness's array inverted, not golden's). ``cycles_model``: also the golden cycle model's cycles
    per image (two images per mode). ``read_width``: digital read width of the engines (default: the
    data set's, :data:`tb.cosim.bnn_net_run.READ_WIDTH`)."""
    from golden.bnn.chip_model import BnnHardware, HardwareConfig
    from golden.spec.register_map.accelerator_map import accelerator_register_map
    from golden.twins.bnn_network_engine import (
        analog_network,
        digital_network,
        network_array,
        network_programmed,
    )
    from tb.cosim.progress import progress_printer
    from tb.cosim.run import run_dir
    from tb.tops.bnn_cosim_top import bnn_net_top_params

    t0 = time.perf_counter()
    model, path, x, y, net = load_run(dataset, images, modes, read_width)
    out_dir = run_dir(out_dir, f"bnn_net_cxx_{dataset}").resolve()
    hc = {"mode": "authors", "seed": seed, "bit_error": bit_error}
    prog = network_programmed(model, seed=hc["seed"], bit_error=hc.get("bit_error") or 0.0)
    array = network_array(prog, net)
    golden = {}
    if "digital" in modes:
        golden["digital"] = digital_network(prog, x)
    if "analog" in modes:
        golden["analog"] = analog_network(BnnHardware(model, HardwareConfig(**hc)), x)
    t_golden = time.perf_counter() - t0
    harness_array = array.copy()
    for r, c0, c1 in (fault or {}).get("invert", []):       # fault injection: the harness's array only
        harness_array[r, c0:c1] ^= 1
    data, read_names = stimulus(net, harness_array, x, golden, modes, seed)
    stim, out, prog_file = out_dir / "stimulus.bin", out_dir / "harness_out.txt", out_dir / "progress.txt"
    stim.write_bytes(data)
    for f in (out, prog_file):
        f.unlink(missing_ok=True)
    t1 = time.perf_counter()
    exe = build(net, cxx_flags)
    t_build = time.perf_counter() - t1
    t2 = time.perf_counter()
    with progress_printer(prog_file, enabled=progress, unit="images"):
        r = subprocess.run([str(exe), str(stim), str(out), str(prog_file)], capture_output=True, text=True,
                           check=False)
    t_run = time.perf_counter() - t2
    if r.returncode != 0:
        raise RuntimeError(f"BNN network harness failed ({r.returncode}): {r.stderr[-2000:]}")
    raw = json.loads(r.stdout.strip().splitlines()[-1])
    reads, imgs = parse_output(out)
    if len(reads) != len(read_names):
        raise RuntimeError(f"harness logged {len(reads)} reads, the host made {len(read_names)}")
    rm = accelerator_register_map(bnn_net_top_params(net), bnn=net)
    vals = [rm[n].decode(v) for n, (v, _) in zip(read_names, reads, strict=True)]
    net_reg, errors = vals[0], vals[-1]
    cls_vals = [v for n, v in zip(read_names, vals, strict=True) if n == "bnn_class"]
    per_mode, first = {}, list(raw["first_mismatches"])
    k = 0
    for mode in modes:
        w = golden[mode]
        mi = imgs[k:k + len(x)]
        got = cls_vals[k:k + len(x)]
        k += len(x)
        got_cls = np.array([v["cls"] for v in got], np.int64)
        got_cnt = np.array([v["count"] for v in got], np.int64)
        want_cnt = w.counts[np.arange(len(x)), w.classes]
        cyc = np.array([e - s for _, _, s, e, *_ in mi], np.int64)
        for i in np.flatnonzero(got_cls != w.classes)[:5]:
            first.append(f"{mode} image {i}: RTL class {got_cls[i]}, golden {w.classes[i]}")
        per_mode[mode] = {
            "class_mismatches": int(np.sum(got_cls != w.classes)),
            "count_mismatches": int(np.sum(got_cnt != want_cnt)),
            "activation_checks": int(sum(m[4] for m in mi)), "activation_mismatches": int(sum(m[5] for m in mi)),
            "violations": int(sum(m[6] for m in mi)),
            "cycles": int(mi[-1][3] - mi[0][2]), "cycles_per_image": float(cyc.mean()),
            "cycles_per_image_min": int(cyc.min()), "cycles_per_image_max": int(cyc.max()),
            "accuracy": float(np.mean(got_cls == y)), "golden_accuracy": float(np.mean(w.classes == y)),
            "classes": got_cls.tolist(), "image_cycles": cyc.tolist(),
        }
    wall = raw["wall_seconds"]
    n_img = len(modes) * len(x)
    res = {"engine": "cxx", "images": len(x), "modes": list(modes), "sizes": list(net.sizes),
           "bias_cells": list(net.bias_cells), "bank": net.bank, "bank_out": net.bank_out,
           "read_lanes": net.hidden_hw.read_lanes, "per_mode": per_mode, "bnn_net": net_reg,
           "class_mismatches": sum(v["class_mismatches"] for v in per_mode.values()),
           "activation_mismatches": sum(v["activation_mismatches"] for v in per_mode.values()),
           "count_mismatches": sum(v["count_mismatches"] for v in per_mode.values()),
           "first_mismatches": first[:10], "word_reads": raw["word_reads"], "bridge_reads": raw["bridge_reads"],
           "sa_decisions": raw["sa_decisions"], "violations": raw["violations"],
           "violation_count": raw["violation_count"], "errors": errors, "cycles": raw["cycles"],
           "dataset": dataset, "model": path.name, "fault": fault or {},
           "harness_wall_seconds": wall, "harness_cpu_seconds": raw["cpu_seconds"],
           "cycles_per_second": raw["cycles"] / max(wall, 1e-9), "images_per_second_simulated": n_img / max(wall, 1e-9),
           "golden_seconds": t_golden, "build_seconds": t_build, "run_seconds": t_run,
           "out_rows": [net.row_offset(net.hidden_layers), net.rows], "out_cols": net.out_hw.array_cols,
           "stimulus": str(stim)}
    for mode, v in per_mode.items():
        v["wall_seconds"] = wall * len(x) / n_img            # the harness's wall time, shared by image count
        v["wall_per_image"] = wall / n_img
    if net_reg["hidden_layers"] != net.hidden_layers or net_reg["classes_m1"] != net.classes - 1:
        res["first_mismatches"].insert(0, f"BNN_NET reads {net_reg}")
        res["class_mismatches"] += 1
    if cycles_model:
        res["golden"] = golden_cycles(model, net, x, hc, modes)
    res["total_wall_seconds"] = time.perf_counter() - t0
    return res


def cxx_summary(res: dict, fmax_mhz: float | None = None) -> str:
    """Lines for the terminal: per mode mismatches, accuracy, cycles per image, the simulation rate."""
    lines = [(f"BNN network {'-'.join(map(str, res['sizes']))} ({res['dataset']}, {res['model']}) through the top, "
              f"C++ harness: {res['images']} images per mode, build {res['build_seconds']:.0f} s, harness "
              f"{res['harness_wall_seconds']:.1f} s wall ({res['images_per_second_simulated']:.1f} images/s, "
              f"{res['cycles_per_second'] / 1e3:.0f}k cycles/s), golden {res['golden_seconds']:.0f} s")]
    for mode, v in res["per_mode"].items():
        g = res.get("golden", {}).get(mode)
        line = (f"  {mode}: {v['class_mismatches']} class / {v['count_mismatches']} popcount / "
                f"{v['activation_mismatches']} activation mismatches ({v['activation_checks']} layer inputs "
                f"compared), accuracy {v['accuracy']:.4f} (golden {v['golden_accuracy']:.4f}); "
                f"{v['cycles_per_image']:.1f} cycles/image with the host's bus traffic"
                + (f", engine {g['cycles_per_image']} (golden model)" if g else ""))
        if fmax_mhz and g:
            line += f", {fmax_mhz * 1e6 / g['cycles_per_image']:.0f} images/s at {fmax_mhz} MHz"
        lines.append(line)
    lines.append(f"  violations {res['violation_count']}, ERRORS {res['errors']}")
    return "\n".join(lines)
