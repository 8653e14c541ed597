"""The MVM behavioural array: each read's line codes, seen only through the driven lines and the read
count, equal the codes of golden's forward / transposed read of that sample; converter mapping."""
from __future__ import annotations

import numpy as np
import pytest

from golden.mvm.read_path import ReadNoise, forward_read, transposed_read
from golden.spec.mvm_params import MvmParams
from tb.models.mvm_array import MvmArray, MvmArrayPort, converter_codes, pack_codes


def _plane(codes, k, b):
    return [(int(c) & ((1 << b) - 1)) >> k & 1 for c in codes]


@pytest.mark.parametrize("differential", [False, True])
def test_port_codes_equal_golden_reads(differential, seed):
    rng = np.random.default_rng([seed, 12])
    R, C, N, b = 9, 4, 3, 4
    D = N * (2 if differential else 1)
    mv = MvmParams(input_width=b, adc_width=6, adc_full_scale=9 * 4095 // 3, t_full_scale=C * D * 4095 // 3,
                   cols_per_adc=4)
    g = rng.integers(0, 4096, (R, C * D))
    noise = ReadNoise(seed, 0.05, 3.0, array_id=2)
    port = MvmArrayPort(MvmArray(g, mv, noise), b, differential, 4, 3)
    cycle = 0
    for t in range(3):
        u = rng.integers(0, 1 << b, R)
        e = rng.integers(-(1 << (b - 1)), 1 << (b - 1), C)
        want_f = forward_read(g, u, mv, devices=N, differential=differential, noise=noise, t=2 * t).codes
        want_t = transposed_read(g, e, mv, devices=N, differential=differential, noise=noise, t=2 * t + 1).codes
        for k in range(b):                                    # forward: word lines, one read per bit
            wl = sum(bit << r for r, bit in enumerate(_plane(u, k, b)))
            port.step(cycle, False, False, 0, 0, 0)
            got = [port.step(cycle + 1 + s, True, False, wl, 0, s) for s in range(4)]
            cycle += 6
            assert port.reads[-1].k == k and port.reads[-1].grp == 0
            for s, word in enumerate(got):
                assert word == pack_codes(converter_codes(want_f[k], s, 4, 3), 6)
        for k in range(b):                                    # transposed: bit lines, groups G+ / G-
            for grp in range(2 if differential else 1):
                slots = range(N * grp, N * grp + N) if differential else range(D)
                bits = _plane(e, k, b)
                bl = sum(bits[c] << (c * D + d) for c in range(C) for d in slots)
                port.step(cycle, False, True, 0, 0, 0)
                got = [port.step(cycle + 1 + s, True, True, 0, bl, s) for s in range(4)]
                cycle += 6
                assert (port.reads[-1].k, port.reads[-1].grp) == (k, grp)
                for s, word in enumerate(got):
                    assert word == pack_codes(converter_codes(want_t[k, grp], s, 4, 3), 6)
    assert port.t == 6


def test_converter_mapping():
    codes = np.arange(10)
    assert converter_codes(codes, 0, 4, 3) == [0, 4, 8]
    assert converter_codes(codes, 3, 4, 3) == [3, 7, 0]          # line 11 does not exist
    assert pack_codes([1, 2, 3], 4) == 0x321
