"""Benchmark of the golden in-situ training step (called by ``make bench``).

``bench(samples)`` trains the 784-250-10 network in situ with N = 4 analog non-differential devices
(the default configuration) on the first ``samples`` MNIST training samples and reports the time per
training sample, wall clock and process CPU time (the machine is shared; CPU time is what the code
costs, wall time what one observed), with OpenBLAS threads as they are. The first samples of an
epoch are the most expensive (the error and hence the number of pulses is largest); the per-sample
time of complete epochs is in the train-sweep table of docs/RESULTS.md.
"""
from __future__ import annotations

import time


def bench(samples: int = 2000, devices: int = 4, differential: bool = False, seed: int = 0) -> dict:
    from golden.data.datasets import load_mnist
    from golden.training.in_situ import InSituMLP, initial_weights, make_config, sample_order, sparse_inputs

    data = load_mnist()
    cfg = make_config(devices=devices, differential=differential, seed=seed)
    order = sample_order(seed, len(data.y_train), 0)[:samples]
    x, y = data.x_train[order], data.y_train[order]
    sp = sparse_inputs(x)
    t0 = time.perf_counter()
    net = InSituMLP(cfg, data.n_inputs, data.n_classes)
    net.program(initial_weights(seed, data.n_inputs, cfg.hidden))
    setup = time.perf_counter() - t0
    p0 = sum(a.pulse_total for a in net.layers)
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(samples):
        net.step(x[i], int(y[i]), cfg.lr, sp[i])
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    pulses = sum(a.pulse_total for a in net.layers) - p0
    return {"samples": samples, "devices": devices, "differential": differential,
            "wall_ms_per_sample": 1e3 * wall / samples, "cpu_ms_per_sample": 1e3 * cpu / samples,
            "setup_seconds": setup, "pulses_per_sample": pulses / samples}


def rows(samples: int = 2000) -> list[tuple[str, str, str]]:
    """Rows for tb/bench/benchmarks.py: (what, value, note)."""
    r = bench(samples)
    note = (f"784-250-10, N = 4 analog non-differential, first {samples} MNIST samples, "
            f"{r['pulses_per_sample']:.0f} pulses/sample, target <= 0.23 ms")
    return [("in-situ training step (wall)", f"{r['wall_ms_per_sample']:.3f} ms/sample", note),
            ("in-situ training step (CPU)", f"{r['cpu_ms_per_sample']:.3f} ms/sample", "process CPU time"),
            ("in-situ setup (per_device table + open-loop programming)", f"{r['setup_seconds']:.1f} s",
             "785 x 250 x 4 + 251 x 10 x 4 devices")]


if __name__ == "__main__":
    import json
    print(json.dumps(bench(), indent=1))
