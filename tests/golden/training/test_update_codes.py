"""UpdateCodes (the training loop's vectorised engine arithmetic) element by element against the twin."""
import numpy as np
import pytest

from golden.spec.params import AccelParams
from golden.training.update_codes import COUNT_NAMES, UpdateCodes
from golden.twins.outer_product_engine import outer_dw, quantize_delta, quantize_x, saturations

FORMATS = [
    {},                                                              # the defaults: int32 products
    {"x_width": 4, "x_frac": 0, "delta_width": 2, "delta_frac": 0},  # s = 0: exact products
    {"x_width": 16, "x_frac": 12, "delta_width": 24, "delta_frac": 20},   # int64 products
    {"x_width": 8, "x_frac": 7, "delta_width": 12, "delta_frac": 3},      # dw saturates often
]


def params(fmt: dict, dw_width: int = 12) -> AccelParams:
    return AccelParams().with_(array={"rows": 40, "cols": 12}, engine=fmt,
                               update={"dw_width": dw_width, "chi_width": 24})


def stimulus(gen: np.random.Generator, p: AccelParams, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs with zeros, exact ties of the code grid and values beyond both saturation limits."""
    e = p.engine
    x_top = (1 << e.x_width) / (1 << e.x_frac)
    a = gen.uniform(0, 1.3 * x_top, n)
    a[gen.random(n) < 0.3] = 0
    ties = gen.random(n) < 0.2
    a[ties] = (gen.integers(0, 1 << e.x_width, ties.sum()) + 0.5) / (1 << e.x_frac)
    d_top = (1 << (e.delta_width - 1)) / (1 << e.delta_frac)
    d = gen.uniform(-1.3 * d_top, 1.3 * d_top, m)
    ties = gen.random(m) < 0.2
    d[ties] = (gen.integers(-(1 << (e.delta_width - 1)), 1 << (e.delta_width - 1), ties.sum()) + 0.5) \
        / (1 << e.delta_frac)
    return a.astype(np.float32), d.astype(np.float32)


@pytest.mark.parametrize("fmt", FORMATS, ids=["default", "s0", "int64", "dw-sat"])
def test_codes_and_products_equal_the_twin(fmt, seed):
    p = params(fmt, dw_width=8 if fmt.get("x_frac") == 7 else 12)
    codes = UpdateCodes(p, np.int32)
    gen = np.random.default_rng(seed)
    want = dict.fromkeys(COUNT_NAMES, 0)
    for _ in range(30):
        a, d = stimulus(gen, p, 40, 12)
        xq, dq = quantize_x(a, p), quantize_delta(d, p)
        assert np.array_equal(codes.x_codes(a), xq) and np.array_equal(codes.delta_codes(d), dq)
        nz, dw, bound = codes.dw(a, d)
        full = outer_dw(xq, dq, p)
        assert set(nz) <= set(np.flatnonzero(xq)), "only rows with x_q != 0"
        assert not np.delete(full, nz, axis=0).any(), "the rows left out have dw == 0 everywhere"
        f = np.float32(gen.uniform(-3, 3))                  # the error scale folded into the code scale
        assert np.array_equal(UpdateCodes(p).delta_codes(d / f, f), quantize_delta((d / f) * f, p))
        ref = full[nz]
        assert np.array_equal(dw, ref) and dw.dtype == np.int32
        assert np.abs(ref).max(initial=0) <= bound
        sx, sd = saturations(a, d, p)
        hi, lo = (1 << (p.update.dw_width - 1)) - 1, -(1 << (p.update.dw_width - 1))
        raw = (xq[nz, None] * dq[None, :] + ((1 << p.engine.shift) >> 1)) >> p.engine.shift
        want["x"] += 2 * sx                        # x_codes and dw() both count
        want["x_codes"] += 2 * a.size
        want["delta"] += 2 * sd
        want["delta_codes"] += 2 * d.size
        want["dw"] += int(np.count_nonzero((raw > hi) | (raw < lo)))
        want["dw_codes"] += np.count_nonzero(xq) * d.size
    got = codes.saturations()
    print(got)
    assert got == want
    assert got["x"] and got["delta"], "the stimulus must saturate"
    assert got["dw"] or fmt.get("x_frac") != 7, "the dw-sat format must saturate products"


def test_negative_input_is_an_error():
    codes = UpdateCodes(params({}))
    with pytest.raises(ValueError, match="negative"):
        codes.x_codes(np.array([0.5, -0.25], np.float32))


def test_rows_whose_products_all_round_to_zero_are_skipped():
    p = params({"x_width": 4, "x_frac": 0, "delta_width": 8, "delta_frac": 3})     # s = 3, half = 4
    codes = UpdateCodes(p)
    rows, dw, bound = codes.dw(np.array([1, 2, 3, 0, 4], np.float32), np.array([1, -1, 0.125], np.float32))
    # delta codes 8, -8, 1: x * 8 >= 4 for every x >= 1; all rows with x != 0 are kept
    assert rows.tolist() == [0, 1, 2, 4] and dw[:, 0].tolist() == [1, 2, 3, 4]
    rows, dw, bound = codes.dw(np.array([1, 2, 3, 0, 4], np.float32), np.array([0.25, -0.125], np.float32))
    # delta codes 2, -1: x * 2 < 4 for x = 1 -> row 0 rounds to 0 everywhere; -4 + 4 = 0 -> dw 0 at x = 4
    assert rows.tolist() == [1, 2, 4] and dw.tolist() == [[1, 0], [1, 0], [1, 0]] and bound == 1
    rows, dw, _ = codes.dw(np.array([1, 1], np.float32), np.array([0.125, -0.125], np.float32))
    assert rows.size == 0 and dw.shape == (0, 2)                    # every product rounds to 0
    assert codes.saturations()["dw_codes"] == 4 * 3 + 4 * 2 + 2 * 2


def test_product_rounds_half_up_and_skips_zero_rows():
    p = params({"x_width": 4, "x_frac": 1, "delta_width": 8, "delta_frac": 1})     # s = 2
    nz, dw, _ = UpdateCodes(p).dw(np.array([0.0, 0.5, 1.0], np.float32),
                                  np.array([1.0, -1.0, 0.5, -0.5, 1.5, -1.5], np.float32))
    # x codes 0, 1, 2; delta codes 2, -2, 1, -1, 3, -3; dw = floor((x * d + 2) / 4)
    assert nz.tolist() == [1, 2]
    assert dw.tolist() == [[1, 0, 0, 0, 1, -1], [1, -1, 1, 0, 2, -1]]      # -0.5 -> 0, -0.75 -> -1, -1.5 -> -1
