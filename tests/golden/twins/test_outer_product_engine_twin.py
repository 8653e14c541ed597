"""OuterProductEngine golden twin: host quantisation, exact products, frames, the update cycle, bad input."""
import numpy as np
import pytest

from golden.spec.params import AccelParams, ConfigError, EngineParams
from golden.spec.transactions import PulseCount, UpdateRequest
from golden.twins.outer_product_engine import (
    OuterProductEngine,
    frame_length,
    frame_words,
    outer_dw,
    parse_frame,
    product_dw,
    quantize_delta,
    quantize_x,
    saturations,
)
from golden.twins.update_unit import UpdateUnit


def P(rows=7, cols=5, **engine) -> AccelParams:
    return AccelParams().with_(array={"rows": rows, "cols": cols}, engine=engine,
                               update={"eps": 40, "count_width": 3})


# --- arithmetic --------------------------------------------------------------------------------------
def test_product_rounds_half_up_also_for_negative_ties():
    p = P(x_width=4, x_frac=1, delta_width=8, delta_frac=1)           # s = 2: dw = floor((x*d + 2) / 4)
    assert p.engine.shift == 2
    ties = {2: 1, 6: 2, 10: 3, -2: 0, -6: -1, -10: -2}               # +-0.5, +-1.5, +-2.5: half up
    for prod, want in ties.items():
        assert product_dw(1, prod, p) == want, prod
    assert [product_dw(1, d, p) for d in (1, 3, -1, -3, 5, -5)] == [0, 1, 0, -1, 1, -1]   # .25/.75
    q = P(x_width=4, x_frac=0, delta_width=4, delta_frac=0)           # s = 0: the exact product
    assert product_dw(np.arange(4), -3, q).tolist() == [0, -3, -6, -9]


def test_host_quantisation_rounds_ties_to_even():
    p = P()                                                           # x_frac 7, delta_frac 8
    x = np.array([0.5, 1.5, 2.5, 3.49], np.float32) / 128
    assert quantize_x(x, p).tolist() == [0, 2, 2, 3]
    d = np.array([0.5, 1.5, -0.5, -1.5, -2.5], np.float32) / 256
    assert quantize_delta(d, p).tolist() == [0, 2, 0, -2, -2]
    assert quantize_x(np.float32(1.0), p) == 128                      # the bias input is exact


def test_saturation_of_codes_and_products():
    p = P()                                                           # x <= 1023 / 128, |d| <= 128 LSBs
    x = np.array([7.99, 8.0, 100.0, 0.0], np.float32)
    assert quantize_x(x, p).tolist() == [1023, 1023, 1023, 0]
    d = np.array([127.99, 128.0, -128.0, -1000.0, 0.0], np.float32)
    assert quantize_delta(d, p).tolist() == [32765, 32767, -32768, -32768, 0]
    assert saturations(x, d, p) == (2, 2)                             # 7.99 -> 1023 is exact; -128 too
    hi = (1 << (p.update.dw_width - 1)) - 1
    wide = P(x_width=16, x_frac=0, delta_width=16, delta_frac=0)      # s = 0: products up to 2**31
    assert product_dw(65535, 32767, wide) == hi and product_dw(65535, -32768, wide) == -hi - 1
    assert outer_dw(np.array([1, 1000]), np.array([2047, -3]), wide).tolist() == [[2047, -3], [hi, -2048]]


def test_negative_layer_input_is_an_error():
    with pytest.raises(ValueError, match="negative"):
        quantize_x(np.array([0.1, -0.1], np.float32), P())


# --- frames ------------------------------------------------------------------------------------------
def random_codes(gen, p: AccelParams, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    e = p.engine
    x = gen.integers(0, 1 << e.x_width, rows)
    x[gen.random(rows) < 0.4] = 0
    d = gen.integers(-(1 << (e.delta_width - 1)), 1 << (e.delta_width - 1), cols)
    return x, d


@pytest.mark.parametrize("fmt", [{}, {"x_width": 7, "x_frac": 3, "delta_width": 5, "delta_frac": 2},
                                 {"x_width": 16, "x_frac": 15, "delta_width": 24, "delta_frac": 24}],
                         ids=["default", "narrow", "wide"])
def test_frame_pack_parse_round_trip(fmt, seed):
    gen = np.random.default_rng(seed)
    p = P(rows=23, cols=9, **fmt)
    e = p.engine
    for rows, cols in ((23, 9), (11, 4), (0, 0), (23, 1)):
        x, d = random_codes(gen, p, rows, cols)
        words = frame_words(x, d, p)
        assert len(words) == frame_length(p) == -(-9 // e.delta_per_word) + -(-23 // e.x_per_word)
        assert all(0 <= w < 1 << 32 for w in words)
        px, pd = parse_frame(words, p)
        assert px.tolist() == x.tolist() + [0] * (23 - rows)          # shorter vectors: padded with 0
        assert pd.tolist() == d.tolist() + [0] * (9 - cols)


def test_frame_word_layout():
    p = P(rows=3, cols=3)                                             # 2 deltas / word, 3 x / word
    words = frame_words(np.array([1, 2, 1023]), np.array([-1, 5, 3]), p)
    assert words == [0x0005FFFF, 0x00000003, (1023 << 20) | (2 << 10) | 1]


@pytest.mark.parametrize("extra", [-1, 1, -3])
def test_wrong_length_frame_is_dropped_whole(extra, seed):
    gen = np.random.default_rng(seed)
    p = P()
    eng = OuterProductEngine(p)
    x, d = random_codes(gen, p, 7, 5)
    words = frame_words(x, d, p)
    bad = words[:extra] if extra < 0 else words + [0] * extra
    assert parse_frame(bad, p) is None
    r = eng.frame_from_words(bad)
    assert r.dropped and r.counts == [] and not eng.chi.any()
    good = eng.frame_from_words(words)
    assert not good.dropped and good.counts == OuterProductEngine(p).frame(x, d)


# --- the update cycle ----------------------------------------------------------------------------------
def test_frame_equals_per_synapse_requests_in_row_major_order(seed):
    """A frame = one UpdateRequest per synapse with dw != 0, row-major, through the UpdateUnit twin."""
    gen = np.random.default_rng(seed)
    p = P(rows=9, cols=6, delta_frac=4)
    eng, uu = OuterProductEngine(p), UpdateUnit(p)
    total = 0
    for _ in range(30):
        x, d = random_codes(gen, p, 9, 6)
        got = eng.frame(x, d)
        dw = outer_dw(x, d, p)
        want = []
        for j, i in zip(*np.nonzero(dw)):
            pc = uu.request(UpdateRequest(int(j), int(i), int(dw[j, i])))
            if pc is not None:
                want.append(pc)
        assert got == want
        assert all(isinstance(c, PulseCount) and c.count for c in got)
        assert [(c.row, c.col) for c in got] == sorted((c.row, c.col) for c in got)
        total += len(got)
    assert np.array_equal(eng.chi, uu.chi)
    assert total > 50, "the stimulus must produce pulses"
    eng.clear()
    assert not eng.chi.any()


def test_zero_inputs_change_nothing():
    p = P()
    eng = OuterProductEngine(p)
    assert eng.frame(np.zeros(7, np.int64), np.full(5, 32767)) == []
    assert eng.frame(np.full(7, 1023), np.zeros(5, np.int64)) == []
    assert not eng.chi.any()


# --- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x, d, match", [
    (np.zeros(8, np.int64), np.zeros(5, np.int64), r"x has 8 elements: allowed at most array.rows = 7"),
    (np.zeros(7, np.int64), np.zeros(6, np.int64), r"delta has 6 elements: allowed at most array.cols = 5"),
    (np.array([1024]), np.zeros(5, np.int64), r"x code 1024 is out of range: allowed \[0, 1023\] \(engine.x_width"),
    (np.array([-1]), np.zeros(5, np.int64), r"x code -1 is out of range.*engine.x_width"),
    (np.zeros(7, np.int64), np.array([32768]),
     r"delta code 32768 is out of range: allowed \[-32768, 32767\] \(engine.delta_width"),
    (np.zeros(7, np.int64), np.array([-32769]), r"delta code -32769 .*engine.delta_width"),
], ids=["x-long", "delta-long", "x-range", "x-negative", "delta-high", "delta-low"])
def test_bad_frames_are_errors_naming_the_parameter(x, d, match):
    p = P()
    with pytest.raises(ConfigError, match=match):
        frame_words(x, d, p)
    with pytest.raises(ConfigError, match=match):
        OuterProductEngine(p).frame(x, d)


@pytest.mark.parametrize("engine, array, match", [
    ({"lanes": 3}, {}, r"engine.lanes = 3 is not a power of two"),
    ({"lanes": 512}, {}, r"engine.lanes = 512 is out of range: allowed \[1, 256\]"),
    ({"lanes": 8}, {"cols": 6}, r"engine.lanes = 8 exceeds array.cols = 6: allowed a power of two in \[1, 4\]"),
    ({"x_width": 8, "x_frac": 8}, {}, r"engine.x_frac = 8 is out of range: allowed \[0, 7\]"),
    ({"x_width": 17}, {}, r"engine.x_width = 17 is out of range: allowed \[1, 16\]"),
    ({"delta_width": 1}, {}, r"engine.delta_width = 1 is out of range: allowed \[2, 24\]"),
    ({"delta_frac": 25}, {}, r"engine.delta_frac = 25 is out of range: allowed \[0, 24\]"),
], ids=["lanes-pow2", "lanes-max", "lanes-cols", "x_frac", "x_width", "delta_width", "delta_frac"])
def test_engine_params_are_validated(engine, array, match):
    with pytest.raises(ConfigError, match=match):
        AccelParams().with_(array={"rows": 4, "cols": 64, **array}, engine=engine)
    assert EngineParams(lanes=4).lanes == 4 and P(cols=4, lanes=4).engine.lanes == 4
