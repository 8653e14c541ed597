"""The update-arithmetic variants of the controlled experiments: the two named ones are the engine
arithmetic (bit-identical to UpdateCodes) and the old float32 path; the tie rules on exact ties."""
import numpy as np
import pytest

from golden.spec.params import AccelParams, ArrayParams, EngineParams
from golden.studies.update_arithmetic import CompareCodes, VariantCodes, round_float, round_int, variant
from golden.training.in_situ import update_params_for
from golden.training.update_codes import UpdateCodes


def params() -> AccelParams:
    return AccelParams(array=ArrayParams(rows=48, cols=12), update=update_params_for(1),
                       engine=EngineParams(x_width=12))


def stimulus(gen: np.random.Generator):
    a = (gen.random(48) * gen.choice([0.5, 3.0, 20.0])).astype(np.float32)
    a[gen.random(48) < 0.4] = 0
    a[:4] = np.float32(1.0)                                   # the bias input: exact ties
    d = (gen.normal(size=12) * gen.choice([0.3, 3.0, 30.0])).astype(np.float32)
    d[:3] = np.float32(0.5), np.float32(-0.5), np.float32(1.5)
    return a, d, np.float32(gen.choice([1.0, 0.5, 2.7]))


def test_engine_variant_is_update_codes():
    gen = np.random.default_rng(3)
    p = params()
    for _ in range(100):
        a, d, f = stimulus(gen)
        rows, dw, _ = UpdateCodes(p).dw(a, d, f)
        full = np.zeros((a.size, d.size), dtype=np.int64)
        full[rows] = dw
        assert np.array_equal(VariantCodes(p, var=variant("engine")).raw_dw(a, d, f), full)


def test_float32_variant_is_the_old_path():
    gen = np.random.default_rng(4)
    p = params()
    for _ in range(100):
        a, d, f = stimulus(gen)
        old = np.clip(np.rint(a[:, None] * (d * f)), -2048, 2047)    # rint of a float32 product
        assert np.array_equal(VariantCodes(p, var=variant("float32")).raw_dw(a, d, f), old)


@pytest.mark.parametrize(("mode", "want"), [("even", [-2, -2, 0, 0, 2, 2]), ("up", [-2, -1, 0, 1, 2, 3]),
                                            ("away", [-3, -2, -1, 1, 2, 3]), ("down", [-3, -2, -1, 0, 1, 2])])
def test_tie_rules(mode, want):
    ties = np.array([-10, -6, -2, 2, 6, 10])                  # -2.5 .. 2.5 in quarters
    assert round_int(ties, 2, mode).tolist() == want
    assert round_float((ties / 4).astype(np.float32), mode).tolist() == want
    off = np.array([-11, -9, 9, 11])                          # not ties: nearest for every rule
    assert round_int(off, 2, mode).tolist() == [-3, -2, 2, 3]


def test_compare_counts_the_differences():
    gen = np.random.default_rng(5)
    p = params()
    c = CompareCodes(p, var=variant("engine"), other=variant("float32"))
    a, d, f = stimulus(gen)
    rows, dw, _ = c.dw(a, d, f)
    mine = VariantCodes(p, var=variant("engine")).raw_dw(a, d, f)
    theirs = VariantCodes(p, var=variant("float32")).raw_dw(a, d, f)
    st = c.stats[0]
    assert st["n_var"] == np.count_nonzero(mine) and st["n_other"] == np.count_nonzero(theirs)
    assert st["sum_diff"] == int((mine - theirs).sum())
    assert st["diff_pos"] + st["diff_neg"] == np.count_nonzero(mine != theirs)
    assert np.array_equal(mine[rows], dw)


def test_variant_names():
    assert variant("xq-df-even").name == "xq-df-even"
    with pytest.raises(ValueError, match="variant"):
        variant("xq-even")
