"""Cycles per frame of the OuterProductEngine on MNIST inputs, from its golden cycle model.

    python -m tb.bench.engine_cycles [--frames 20] [--lanes 1,8,64]

One frame per training sample of the first layer (785 x 250: 784 pixels + the bias input, 250
hidden units): x = the image (and 1.0), delta normal with sigma eps/8 dw LSBs (a few
pulses per frame, as in training). Frames stream back to back, ``o`` always ready; the table gives
the mean interval between ``end_cycle`` strobes in steady state, the load bound (words per frame,
one per cycle; two per 16-bit delta word when P = 1) and the compute bound
(``nonzero_rows * G``).
"""
from __future__ import annotations

import argparse

import numpy as np

from golden.spec.handshake import make_gen
from golden.spec.params import AccelParams
from golden.twins.outer_product_engine import (
    delta_sub_cycles,
    engine_cycle_model,
    frame_words,
    groups,
    quantize_delta,
    quantize_x,
)


def mnist_frames(p: AccelParams, n: int, seed: int = 1) -> tuple[list[list[int]], list[int]]:
    from golden.data.datasets import load_mnist

    images = load_mnist().x_train[:n]
    rng = np.random.default_rng(seed)
    frames, nz = [], []
    for img in images:
        x = quantize_x(np.concatenate([img, [1.0]]), p)
        d = quantize_delta(rng.normal(0.0, p.update.eps / 8, p.array.cols), p)
        frames.append(frame_words(x, d, p))
        nz.append(np.count_nonzero(x))
    return frames, nz


def cycles_per_frame(lanes: int, n: int) -> dict:
    p = AccelParams().with_(array={"rows": 785, "cols": 250}, engine={"lanes": lanes})
    frames, nz_all = mnist_frames(p, n)
    nz = float(np.mean(nz_all[1:]))           # the frames timed: from the first end_cycle to the last
    tr = engine_cycle_model(p, frames, [], make_gen(1.0, 0, 0), make_gen(1.0, 0, 1), make_gen(1.0, 0, 2))
    ends = tr.end_cycles
    e = p.engine
    load = -(-p.array.cols // e.delta_per_word) * delta_sub_cycles(p) + -(-p.array.rows // e.x_per_word)
    return {"P": lanes, "G": groups(p), "nonzero_rows": nz,
            "cycles_per_frame": (ends[-1] - ends[0]) / (len(ends) - 1),
            "load_bound": load, "compute_bound": nz * groups(p), "pulses_per_frame": len(tr.emitted) / n}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--lanes", default="1,8,64")
    args = ap.parse_args(argv)
    print("| P | G | non-zero rows | cycles / frame | load bound | nonzero_rows * G | pulses / frame |")
    print("|---|---|---|---|---|---|---|")
    for lanes in (int(v) for v in args.lanes.split(",")):
        r = cycles_per_frame(lanes, args.frames)
        print(f"| {r['P']} | {r['G']} | {r['nonzero_rows']:.1f} | {r['cycles_per_frame']:.0f} | {r['load_bound']} | "
              f"{r['compute_bound']:.0f} | {r['pulses_per_frame']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
