"""The vectorised read path against an obviously-correct loop implementation of the arithmetic."""
import math

import numpy as np
import pytest

from golden.mvm import read_path as rp
from golden.spec import rng
from golden.spec.mvm_params import MvmParams
from golden.spec.params import AccelParams, ConfigError, load_config, params_from_dict

SEEDS = list(range(1, 45))


# --- the slow reference: one line, one bit at a time, Python integers ---------------------------------
def _noise_slow(nz: rp.ReadNoise, transposed: bool, line: int, t: int, pass_: int, k: int, grp: int,
                q: int, m: int) -> int:
    lid = (nz.array_id << 24) + (int(transposed) << 23) + line
    ridx = ((t * 4 + pass_) * 8 + k) * 2 + grp
    h = int(rng.hash64(nz.seed, rng.STREAM_MVM, lid, ridx))
    s = sum((h >> (16 * i)) & 0xFFFF for i in range(4))
    z = float(s - 131070) * rp.Z_SCALE
    sigma = math.sqrt(float(q) * (nz.read_mult * nz.read_mult) + float(m) * (nz.read_add * nz.read_add))
    return int(np.rint(sigma * z))


def _adc_slow(i: int, A: int, fs: int) -> int:
    return min(max((i * 2 ** A) // fs, 0), 2 ** A - 1)


def _scale_slow(s: int, mult: int, shift: int, width: int) -> int:
    v = (s * mult + (2 ** (shift - 1) if shift else 0)) // 2 ** shift
    return min(max(v, -2 ** (width - 1)), 2 ** (width - 1) - 1)


def forward_slow(g, u, p: MvmParams, N, diff, g_ref, noise, t):
    R, P = len(g), len(g[0])
    D = N * (2 if diff else 1)
    A, b = p.adc_width, p.input_width
    codes = [[0] * P for _ in range(b)]
    ref = [0] * b
    for k in range(b):
        rows = [r for r in range(R) if (u[r] >> k) & 1]
        ref[k] = 0 if diff else min((len(rows) * g_ref * 2 ** A) // p.adc_full_scale, 2 ** A - 1)
        for c in range(P):
            i = sum(int(g[r][c]) for r in rows)
            if noise is not None:
                i += _noise_slow(noise, False, c, t, 0, k, 0, sum(int(g[r][c]) ** 2 for r in rows), len(rows))
            codes[k][c] = _adc_slow(i, A, p.adc_full_scale)
    acc = [sum(2 ** k * codes[k][c] for k in range(b)) for c in range(P)]
    ref_acc = sum(2 ** k * ref[k] for k in range(b))
    y = []
    for c in range(P // D):
        if diff:
            s = sum(acc[c * D + d] for d in range(N)) - sum(acc[c * D + d] for d in range(N, 2 * N))
        else:
            s = sum(acc[c * D + d] for d in range(N)) - N * ref_acc
        y.append(_scale_slow(s, p.scale_mult, p.scale_shift, p.out_width))
    return codes, y


def transposed_slow(g, e, p: MvmParams, N, diff, g_ref, noise, t):
    R, P = len(g), len(g[0])
    D = N * (2 if diff else 1)
    C = P // D
    A, b = p.adc_width, p.input_width
    fs = p.t_full_scale or p.adc_full_scale
    groups = [list(range(N)), list(range(N, 2 * N))] if diff else [list(range(D))]
    codes = [[[0] * R for _ in groups] for _ in range(b)]
    ref = [0] * b
    for k in range(b):
        cols = [c for c in range(C) if ((e[c] % 2 ** b) >> k) & 1]
        ref[k] = 0 if diff else min((N * len(cols) * g_ref * 2 ** A) // fs, 2 ** A - 1)
        for gi, slots in enumerate(groups):
            drv = [c * D + d for c in cols for d in slots]
            for r in range(R):
                i = sum(int(g[r][q]) for q in drv)
                if noise is not None:
                    i += _noise_slow(noise, True, r, t, 1, k, gi, sum(int(g[r][q]) ** 2 for q in drv), len(drv))
                codes[k][gi][r] = _adc_slow(i, A, fs)
    y = []
    for r in range(R):
        acc = 0
        for k in range(b):
            wk = -(2 ** k) if k == b - 1 else 2 ** k
            acc += wk * (codes[k][0][r] - (codes[k][1][r] if diff else ref[k]))
        y.append(_scale_slow(acc, p.t_scale_mult, p.t_scale_shift, p.out_width))
    return codes, y


def _case(seed):
    r = np.random.default_rng(seed)
    N = int(r.integers(1, 4))
    diff = bool(r.integers(0, 2))
    D = N * (2 if diff else 1)
    R, C = int(r.integers(1, 9)), int(r.integers(1, 5))
    b = int(r.integers(1, 9))
    A = int(r.integers(2, 13))
    p = MvmParams(input_width=b, adc_width=A, g_bits=int(r.integers(8, 13)),
                  adc_full_scale=int(r.integers(1, 4096 * R)), t_full_scale=int(r.integers(0, 4096 * C * D)),
                  out_width=int(r.integers(8, 33)), scale_mult=int(r.integers(1, 1 << 16)),
                  scale_shift=int(r.integers(0, 30)), t_scale_mult=int(r.integers(1, 1 << 16)),
                  t_scale_shift=int(r.integers(0, 30)))
    g = r.integers(0, p.g_code_max + 1, (R, C * D))
    u = r.integers(0, 1 << b, R)
    e = r.integers(-(1 << (b - 1)), 1 << (b - 1), C)
    g_ref = int(r.integers(0, p.g_code_max + 1))
    noise = None if r.integers(0, 3) == 0 else rp.ReadNoise(seed, float(r.uniform(0, 0.1)),
                                                             float(r.uniform(0, 50)), int(r.integers(0, 4)))
    return p, N, diff, g, u, e, g_ref, noise, int(r.integers(0, 1000))


@pytest.mark.parametrize("seed", SEEDS)
def test_forward_and_transposed_match_loops(seed):
    print(f"seed {seed}")
    p, N, diff, g, u, e, g_ref, noise, t = _case(seed)
    res = rp.forward_read(g, u, p, devices=N, differential=diff, g_ref=g_ref, noise=noise, t=t)
    codes, y = forward_slow(g.tolist(), u.tolist(), p, N, diff, g_ref, noise, t)
    assert res.codes.tolist() == codes, f"seed {seed}"
    assert res.y.tolist() == y, f"seed {seed}"
    res = rp.transposed_read(g, e, p, devices=N, differential=diff, g_ref=g_ref, noise=noise, t=t)
    codes, y = transposed_slow(g.tolist(), e.tolist(), p, N, diff, g_ref, noise, t)
    assert res.codes.tolist() == codes, f"seed {seed}"
    assert res.y.tolist() == y, f"seed {seed}"


def test_batched_reads_equal_single_reads():
    seed = 7
    print(f"seed {seed}")
    r = np.random.default_rng(seed)
    p = MvmParams(input_width=4, adc_width=6, adc_full_scale=20000, scale_shift=3, scale_mult=5)
    g = r.integers(0, 4096, (12, 3 * 4))
    u = r.integers(0, 16, (5, 12))
    t = np.arange(5) + 40
    nz = rp.ReadNoise(seed, 0.05, 10.0, 1)
    b = rp.forward_read(g, u, p, devices=2, differential=True, noise=nz, t=t)
    for i in range(5):
        s = rp.forward_read(g, u[i], p, devices=2, differential=True, noise=nz, t=int(t[i]))
        assert np.array_equal(b.codes[i], s.codes) and np.array_equal(b.y[i], s.y)
    e = r.integers(-8, 8, (5, 3))
    b = rp.transposed_read(g, e, p, devices=4, g_ref=900, noise=nz, t=t)
    for i in range(5):
        s = rp.transposed_read(g, e[i], p, devices=4, g_ref=900, noise=nz, t=int(t[i]))
        assert np.array_equal(b.codes[i], s.codes) and np.array_equal(b.y[i], s.y)


def test_noise_free_read_is_the_quantised_product():
    """With a fine ADC and a wide full scale the forward read is sum_r u[r] * (sum_d g - N g_ref)."""
    r = np.random.default_rng(3)
    p = MvmParams(input_width=8, adc_width=12, adc_full_scale=1 << 12)   # 1 code per conductance LSB
    g = r.integers(0, 8, (10, 6))
    u = r.integers(0, 256, 10)
    res = rp.forward_read(g, u, p, devices=2, g_ref=3)
    assert res.s.tolist() == (u @ (g.reshape(10, 3, 2).sum(-1) - 6)).tolist()


def test_normal_exact_moments():
    seed = 11
    print(f"seed {seed}")
    n = 1 << 20
    z = rp.normal_exact(seed, rng.STREAM_MVM, np.arange(n, dtype=np.uint64), 5)
    # mean 0 and variance 1: the sample moments of 2**20 draws lie within 5 standard errors
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 5 * math.sqrt(2 / n) * 1.0   # var of z**2 is 2 - 0.3 for Irwin-Hall 4
    assert np.abs(z).max() <= math.sqrt(12)
    assert abs((z ** 4).mean() - 2.7) < 0.02                  # Irwin-Hall(4) kurtosis 3 - 6/(5*4)
    # the constant: 1 / std of the sum of four uniform 16-bit integers, correctly rounded
    from decimal import Decimal, getcontext
    getcontext().prec = 40
    assert rp.Z_SCALE == float((Decimal(3) / Decimal(2 ** 32 - 1)).sqrt())


def test_g_codes_floor_and_clamp():
    p = MvmParams(g_bits=8)
    lsb = 50.0 / 256
    G = np.array([-1.0, 0.0, lsb * 0.999, lsb, 10.0, 49.99, 50.0, 80.0])
    assert rp.g_codes(G, p, 50.0).tolist() == [0, 0, 0, 1, 51, 255, 255, 255]


def test_scale_factor():
    assert rp.scale_factor(0.5) == (1 << 16, 17)
    m, s = rp.scale_factor(0.0123456)
    assert m <= 1 << 16 and abs(m / 2 ** s - 0.0123456) < 2 ** -s
    with pytest.raises(ValueError):
        rp.scale_factor(1e6)


def test_bad_input_codes():
    p = MvmParams(input_width=4)
    g = np.zeros((3, 4), dtype=np.int64)
    with pytest.raises(ValueError, match=r"\[0, 15\]"):
        rp.forward_read(g, [0, 16, 1], p, devices=4)
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        rp.transposed_read(g, [8], p, devices=4)


# --- the parameter section -------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value, match", [
    ("input_width", 0, r"mvm\.input_width = 0 is out of range: allowed \[1, 8\]"),
    ("input_width", 9, r"mvm\.input_width = 9 is out of range: allowed \[1, 8\]"),
    ("adc_width", 1, r"mvm\.adc_width = 1 is out of range: allowed \[2, 12\]"),
    ("adc_width", 13, r"mvm\.adc_width = 13 is out of range: allowed \[2, 12\]"),
    ("adc_full_scale", 0, r"mvm\.adc_full_scale = 0 is out of range: allowed \[1, 4294967296\]"),
    ("adc_full_scale", (1 << 32) + 1, r"mvm\.adc_full_scale"),
    ("t_full_scale", -1, r"mvm\.t_full_scale = -1 is out of range: allowed \[0, 4294967296\]"),
    ("cols_per_adc", 0, r"mvm\.cols_per_adc = 0 is out of range: allowed \[1, 64\]"),
    ("cols_per_adc", 128, r"mvm\.cols_per_adc = 128 is out of range: allowed \[1, 64\]"),
    ("cols_per_adc", 12, r"mvm\.cols_per_adc = 12 is not a power of two"),
    ("g_bits", 7, r"mvm\.g_bits = 7 is out of range: allowed \[8, 16\]"),
    ("g_bits", 17, r"mvm\.g_bits = 17 is out of range: allowed \[8, 16\]"),
    ("out_width", 7, r"mvm\.out_width = 7 is out of range: allowed \[8, 32\]"),
    ("out_width", 33, r"mvm\.out_width = 33 is out of range: allowed \[8, 32\]"),
    ("scale_mult", 0, r"mvm\.scale_mult = 0 is out of range: allowed \[1, 65536\]"),
    ("scale_mult", 65537, r"mvm\.scale_mult = 65537 is out of range: allowed \[1, 65536\]"),
    ("scale_shift", -1, r"mvm\.scale_shift = -1 is out of range: allowed \[0, 48\]"),
    ("scale_shift", 49, r"mvm\.scale_shift = 49 is out of range: allowed \[0, 48\]"),
    ("t_scale_mult", 0, r"mvm\.t_scale_mult = 0 is out of range: allowed \[1, 65536\]"),
    ("t_scale_shift", 49, r"mvm\.t_scale_shift = 49 is out of range: allowed \[0, 48\]"),
    ("input_width", 4.0, r"mvm\.input_width must be an integer"),
    ("adc_width", True, r"mvm\.adc_width must be an integer"),
])
def test_mvm_params_reject_bad_values(field, value, match):
    with pytest.raises(ConfigError, match=match):
        MvmParams(**{field: value})
    with pytest.raises(ConfigError, match=match):
        params_from_dict({"mvm": {field: value}})


def test_optional_mvm_section(tmp_path):
    assert AccelParams().mvm is None and "mvm" not in AccelParams().to_dict()
    f = tmp_path / "m.toml"
    f.write_text("[mvm]\ninput_width = 4\nadc_width = 6\ncols_per_adc = 16\n")
    p = load_config(f)
    assert (p.mvm.input_width, p.mvm.adc_width, p.mvm.cols_per_adc, p.mvm.g_bits) == (4, 6, 16, 12)
    assert params_from_dict(p.to_dict()) == p
    with pytest.raises(ConfigError, match=r"unknown key mvm\.adc_bits"):
        params_from_dict({"mvm": {"adc_bits": 4}})
    assert MvmParams(adc_full_scale=100).fs_t == 100 and MvmParams(t_full_scale=7).fs_t == 7


def test_row_order_does_not_matter():
    """Permuting the rows (another summation order in every matrix product) gives the same codes."""
    seed = 21
    print(f"seed {seed}")
    r = np.random.default_rng(seed)
    p = MvmParams(input_width=8, adc_width=8, adc_full_scale=400 * 4096, scale_mult=999, scale_shift=9)
    g = r.integers(0, 4096, (785, 40))
    u = r.integers(0, 256, 785)
    nz = rp.ReadNoise(seed, 0.02, 8.2, 0)
    a = rp.forward_read(g, u, p, devices=4, g_ref=2500, noise=nz, t=3)
    perm = r.permutation(785)
    b = rp.forward_read(g[perm], u[perm], p, devices=4, g_ref=2500, noise=nz, t=3)
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.y, b.y)
    e = r.integers(-128, 128, 10)
    a = rp.transposed_read(g, e, p, devices=4, g_ref=2500, noise=nz, t=3)
    pc = r.permutation(10)
    gp = g.reshape(785, 10, 4)[:, pc].reshape(785, 40)
    b = rp.transposed_read(gp, e[pc], p, devices=4, g_ref=2500, noise=nz, t=3)
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.y, b.y)
