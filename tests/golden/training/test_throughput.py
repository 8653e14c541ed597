"""Cycles per training sample of the update path (golden/training/throughput.py)."""
import numpy as np
import pytest

from golden.data.datasets import MNIST_TRAIN_SIZE, load_mnist
from golden.spec.params import AccelParams
from golden.training.in_situ import sample_order
from golden.training.throughput import (
    check_against_cycle_model,
    cycles_per_sample,
    program_cycles,
    record_workload,
)
from golden.twins.outer_product_engine import quantize_x
from golden.twins.pulse_scheduler import occupancy


@pytest.mark.parametrize("verify", [False, True])
def test_program_cycles_is_the_sum_of_the_scheduler_occupancy(seed, verify):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        t = {k: int(rng.integers(1, 6)) for k in ("setup", "width", "gap", "settle", "read")}
        p = AccelParams().with_(timing={**t, "verify": verify})
        counts = rng.integers(1, 16, int(rng.integers(0, 40)))
        assert program_cycles(p, counts) == sum(occupancy(p, int(c)) for c in counts)


@pytest.fixture(scope="module")
def workload():
    return record_workload(samples=24, frames=3)


def test_workload_records_every_sample_and_layer(workload):
    assert len(workload) == 2
    for lw in workload:
        assert lw.rows.shape == lw.pulse_cycles.shape == lw.pulses.shape == (24,)
        assert (lw.rows <= lw.params.array.rows).all() and (lw.rows > 0).any()
        assert len(lw.frames) == 3
        assert (lw.pulse_cycles >= lw.pulses).all()
    # layer 1 visits the rows of the non-zero pixel codes of each image, plus the bias row: counted
    # here from the data set and the twin's quantisation, not from the recorder
    p1 = workload[0].params
    x = load_mnist().x_train[sample_order(0, MNIST_TRAIN_SIZE, 0)[:24]]
    assert [int(np.count_nonzero(quantize_x(img, p1))) + 1 for img in x] == list(workload[0].rows)


@pytest.mark.parametrize("lanes", [8, 64])
def test_cycles_per_sample_is_at_least_the_bound_and_falls_with_lanes(workload, lanes):
    one, many = cycles_per_sample(workload, 1), cycles_per_sample(workload, lanes)
    assert many["cycles"] >= many["bound"] and many["ratio"] >= 1.0
    assert many["cycles"] < one["cycles"] and many["bound"] == one["bound"]


def test_closed_form_follows_the_engine_cycle_model(workload):
    for row in check_against_cycle_model(workload, 8):
        assert 0.9 <= row["ratio"] <= 1.05, row
