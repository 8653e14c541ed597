"""Cycles per training sample of the on-chip update path, measured on the golden training's workload.

The golden in-situ training (:class:`golden.training.in_situ.InSituMLP`) runs the first ``samples``
samples of an MNIST epoch; per sample and layer it records what the hardware has to do:

* ``words``: the frame's stream words (:func:`golden.twins.outer_product_engine.frame_length`), one
  per cycle on ``s_axis``: the **vector-load bound**;
* ``rows``: the input rows with a non-zero code ``x_q`` (the rows the engine visits);
* ``program``: the program requests (one per device that gets pulses) and their pulse counts; the
  PulseScheduler is busy :func:`golden.twins.pulse_scheduler.occupancy` cycles for each: the
  **pulse bound** is their sum.

The engine's cycles for a frame come from its cycle model's closed form
(:func:`golden.twins.outer_product_engine.frame_cycles`) for a given number of lanes P. Each layer is
its own array with its own engine (the golden stack's mapping), so a sample takes the slower
layer's cycles: ``max_l max(engine_l, pulses_l)`` in the steady state, where frame t + 1 loads
while frame t computes and the scheduler drains the pulses of frame t - 1. The bound next to it is
``max_l max(words_l, pulses_l)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.spec.engine_geometry import with_lanes
from golden.spec.params import AccelParams
from golden.twins.outer_product_engine import frame_cycles, frame_length, quantize_delta, quantize_x
from golden.twins.pulse_scheduler import occupancy


@dataclass
class LayerWorkload:
    """One layer's per-sample work over the recorded samples."""

    params: AccelParams
    words: int                     # frame length (the same for every sample)
    rows: np.ndarray               # (samples,) non-zero input rows
    zero_words: np.ndarray         # (samples,) x words whose codes are all 0
    pulse_cycles: np.ndarray       # (samples,) scheduler occupancy of the sample's program requests
    pulses: np.ndarray             # (samples,) device pulses
    frames: list                   # (x_q, d_q) of the first recorded samples


def record_workload(samples: int = 60_000, devices: int = 4, seed: int = 0, progress: bool = False,
                    frames: int = 0) -> list[LayerWorkload]:
    """Run the golden training (MNIST 784-250-10, the default schedule) for the first ``samples``
    samples of epoch 0 and record each layer's work per sample; the codes ``(x_q, d_q)`` of the first
    ``frames`` samples are kept in :attr:`LayerWorkload.frames` (to check :func:`sample_cycles`
    against the cycle model)."""
    from golden.data.datasets import MNIST_TRAIN_SIZE, load_mnist
    from golden.spec.checks import check_int
    from golden.training.in_situ import (
        DATASET_DEFAULTS,
        InSituMLP,
        initial_weights,
        lr_at,
        make_config,
        sample_order,
        sparse_inputs,
    )

    check_int("samples", samples, 1, MNIST_TRAIN_SIZE)
    data = load_mnist()
    d = DATASET_DEFAULTS["mnist"]
    cfg = make_config(devices=devices, seed=seed, epochs=d["epochs"], lr=d["lr"],
                      lr_schedule=d["lr_schedule"], lr_end=d["lr_end"])
    net = InSituMLP(cfg, data.n_inputs, data.n_classes)
    net.program(initial_weights(seed, data.n_inputs, cfg.hidden, data.n_classes))
    n_layers = len(net.layers)
    rows = np.zeros((n_layers, samples), dtype=np.int64)
    zw = np.zeros((n_layers, samples), dtype=np.int64)
    pcyc = np.zeros((n_layers, samples), dtype=np.int64)
    npul = np.zeros((n_layers, samples), dtype=np.int64)
    k = [0]
    kept: list[list] = [[] for _ in range(n_layers)]
    for li, arr in enumerate(net.layers):
        arr.plan_update = _recorder(arr, li, rows, zw, pcyc, npul, k, kept[li], frames)
    order = sample_order(seed, len(data.y_train), 0)[:samples]
    x, y = data.x_train[order], data.y_train[order]
    sp = sparse_inputs(x)
    total = cfg.epochs * len(data.y_train)
    for n in range(samples):
        k[0] = n
        net.step(x[n], int(y[n]), lr_at(cfg, n, total), sp[n])
        if progress and n % 5000 == 4999:
            print(f"  workload: {n + 1} / {samples} samples", flush=True)
    return [LayerWorkload(arr.params, frame_length(arr.params), rows[li], zw[li], pcyc[li], npul[li], kept[li])
            for li, arr in enumerate(net.layers)]


def _recorder(arr, li: int, rows, zw, pcyc, npul, k, kept: list, frames: int):
    """Wrap one array's ``plan_update`` (an instance attribute: only this run is affected)."""
    plan_update = arr.plan_update
    xpw = arr.params.engine.x_per_word
    n_words = -(-arr.rows // xpw)

    def plan(rows_in, a, delta, lr, trace=None):
        xq = quantize_x(a, arr.params)
        nz = np.flatnonzero(xq) if rows_in is None else np.asarray(rows_in)[xq != 0]
        rows[li, k[0]] = nz.size
        zw[li, k[0]] = n_words - np.unique(nz // xpw).size
        if k[0] < frames:
            x_full = np.zeros(arr.rows, dtype=np.int64)
            x_full[nz] = xq[xq != 0]
            d_q = quantize_delta(np.asarray(delta, np.float32) * np.float32(-lr / arr.lsb), arr.params)
            kept.append((x_full, d_q))
        p = plan_update(rows_in, a, delta, lr, trace)
        counts = np.asarray(p.count, dtype=np.int64)
        pcyc[li, k[0]] = program_cycles(arr.params, counts)
        npul[li, k[0]] = int(counts.sum())
        return p
    return plan


def program_cycles(params: AccelParams, counts: np.ndarray) -> int:
    """Scheduler cycles of program requests with pulse ``counts``: the sum of
    :func:`golden.twins.pulse_scheduler.occupancy` over them (it is affine in the count, so two calls
    of the twin give the sum without a Python loop over ~10^5 requests per sample)."""
    counts = np.asarray(counts, dtype=np.int64)
    base = occupancy(params, 0)
    return int(counts.size * base + counts.sum() * (occupancy(params, 1) - base))


def cycles_per_sample(layers: list[LayerWorkload], lanes: int) -> dict:
    """Mean cycles per sample with ``lanes`` lanes, and the bound, over the recorded samples."""
    eng, bound = [], []
    used = []
    for lw in layers:
        p = with_lanes(lw.params, lanes)
        used.append(p.engine.lanes)
        ec = np.maximum(lw.words, frame_cycles(p, lw.rows, bubbles=lw.zero_words))   # per sample
        eng.append(np.maximum(ec, lw.pulse_cycles))
        bound.append(np.maximum(lw.words, lw.pulse_cycles))
    per = np.max(eng, axis=0)
    lim = np.max(bound, axis=0)
    return {"lanes": lanes, "lanes_per_layer": used, "cycles": float(per.mean()), "bound": float(lim.mean()),
            "ratio": float(per.mean() / lim.mean()),
            "engine_cycles_per_layer": [float(e.mean()) for e in eng],
            "words_per_layer": [lw.words for lw in layers],
            "rows_per_layer": [float(lw.rows.mean()) for lw in layers],
            "pulse_cycles_per_layer": [float(lw.pulse_cycles.mean()) for lw in layers],
            "pulses_per_sample": float(sum(lw.pulses.mean() for lw in layers))}


def check_against_cycle_model(layers: list[LayerWorkload], lanes: int) -> list[dict]:
    """Per layer: the closed form of :func:`cycles_per_sample` against the engine's cycle model
    (:func:`golden.twins.outer_product_engine.engine_cycle_model`) on the recorded frames, streamed
    back to back with ``o`` always ready: total cycles to the last ``end_cycle`` and their ratio."""
    from golden.spec.handshake import always
    from golden.twins.outer_product_engine import engine_cycle_model, frame_words

    out = []
    for lw in layers:
        p = with_lanes(lw.params, lanes)
        n = len(lw.frames)
        if n == 0:
            raise ValueError("no recorded frames: call record_workload(..., frames=K)")
        words = [frame_words(x, d, p) for x, d in lw.frames]
        model = engine_cycle_model(p, words, [], always(), always(), always()).end_cycles[-1]
        closed = int(np.maximum(lw.words, frame_cycles(p, lw.rows[:n], bubbles=lw.zero_words[:n])).sum())
        out.append({"lanes": p.engine.lanes, "frames": n, "model": model, "closed_form": closed,
                    "ratio": closed / model})
    return out
