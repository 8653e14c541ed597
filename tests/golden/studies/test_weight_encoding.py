"""Weight encodings and their storage in cells: exact round trips, bit layout, bit errors."""
import itertools

import numpy as np
import pytest

import golden.studies.weight_encoding as we
from golden.physics.faults import STUCK_HRS, STUCK_LRS, stuck_fault_mask
from golden.physics.resistance_lut import load_default_lut
from golden.spec.params import ConfigError
from golden.studies.variability import VariabilityConfig, inject_bit_errors, program_and_read


@pytest.fixture(scope="module")
def lut():
    return load_default_lut()


def _weights(seed, n=600):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.05, n)
    w[:6] = [0.0, -0.0, 0.5, -0.5, 1e-6, -3e-5]  # zeros, extremes, float16 subnormals
    return w.astype(np.float32)


@pytest.mark.parametrize("enc", we.ENCODINGS)
def test_encode_decode_round_trip(enc, seed):
    w = _weights(seed)
    words, meta = we.encode(w, enc)
    assert words.dtype == np.uint64 and int(words.max()) < (1 << we.get_encoding(enc).width)
    back = we.decode(words, meta)
    q = we.quantize(w, enc)
    assert np.array_equal(back, q)
    # re-encoding the representable values is the identity on the words
    assert np.array_equal(we.encode(q, enc, frac_bits=meta.get("frac_bits"))[0], words)
    if enc == "float32":
        assert np.array_equal(back, w.astype(np.float64))
    if enc == "float16":
        assert np.array_equal(back, w.astype(np.float16).astype(np.float64))


def test_known_patterns():
    w = np.array([1.0, -2.0, 1 + 2**-8, 1 + 3 * 2**-8], dtype=np.float32)
    assert list(we.encode(w, "float32")[0][:2]) == [0x3F800000, 0xC0000000]
    assert list(we.encode(w, "float16")[0][:2]) == [0x3C00, 0xC000]
    # bfloat16 rounds to nearest even: 1+2^-8 is a tie -> 0x3F80; 1+3*2^-8 is a tie -> 0x3F82
    assert list(we.encode(w, "bfloat16")[0]) == [0x3F80, 0xC000, 0x3F80, 0x3F82]
    words, meta = we.encode(np.array([0.5, -1.0, 0.25]), "fixed8")
    assert meta["frac_bits"] == 6 and list(words) == [0x20, 0xC0, 0x10]
    assert list(we.decode(words, meta)) == [0.5, -1.0, 0.25]
    # saturation of fixed8 at an explicit scale
    w8, m8 = we.encode(np.array([10.0, -10.0]), "fixed8", frac_bits=4)
    assert list(we.decode(w8, m8)) == [127 / 16, -128 / 16]


def test_nonfinite_policy():
    words = np.array([0x7F800000, 0x7FC00000, 0x3F800000], dtype=np.uint64)  # +inf, nan, 1.0
    meta = {"encoding": "float32"}
    assert list(we.decode(words, meta)) == [0.0, 0.0, 1.0]
    assert np.isinf(we.decode(words, meta, nonfinite="keep")[0])


def test_fields_and_critical_bits():
    f32 = we.get_encoding("float32")
    assert f32.field_of(31) == "sign" and f32.field_of(23) == "exponent" and f32.field_of(22) == "mantissa"
    assert [we.get_encoding(e).critical_bits for e in we.ENCODINGS] == [9, 6, 9, 3]
    with pytest.raises(ConfigError, match="encoding"):
        we.get_encoding("float8")


@pytest.mark.parametrize("bpc", [1, 2, 3])
@pytest.mark.parametrize("code", we.LEVEL_CODES)
@pytest.mark.parametrize("width", [8, 16, 32])
def test_cells_round_trip(bpc, code, width, seed):
    words = np.random.default_rng(seed).integers(0, 1 << width, 300, dtype=np.uint64)
    cells = we.words_to_cells(words, width, bpc, code)
    assert cells.shape == (300, -(-width // bpc)) and cells.max() < (1 << bpc)
    assert np.array_equal(we.cells_to_words(cells, width, bpc, code), words)


def test_cell_layout_msb_first():
    # float32 at 3 bits per cell: cell 0 = bits 31..29, cells 0-2 hold sign + exponent, last cell padded
    word = np.array([0b101 << 29 | 0b11], dtype=np.uint64)
    cells = we.words_to_cells(word, 32, 3)[0]
    assert len(cells) == 11 and cells[0] == 0b101 and cells[-1] == 0b110  # bits 1,0 then a pad zero
    assert list(we.words_to_cells(np.array([0b10], dtype=np.uint64), 2, 1)[0]) == [1, 0]


def test_gray_code_adjacent_levels_differ_in_one_bit():
    levels = np.arange(8)
    g = we.gray(levels)
    assert sorted(g) == list(range(8))
    assert all(int(a ^ b).bit_count() == 1 for a, b in itertools.pairwise(g))
    assert np.array_equal(we.gray_inverse(g), levels)


def test_one_level_error_flips_expected_bits():
    word = np.array([0b011 << 5], dtype=np.uint64)  # fixed8 width 8: cell 0 holds value 3
    for code, expected_flips in (("binary", 0b111 << 5), ("gray", None)):
        cells = we.words_to_cells(word, 8, 3, code)
        cells[0, 0] += 1  # one level up
        flipped = int(we.cells_to_words(cells, 8, 3, code)[0] ^ word[0])
        if expected_flips is not None:
            assert flipped == expected_flips  # 011 -> 100: three bits
        else:
            assert flipped.bit_count() == 1 and flipped >> 5  # Gray: exactly one bit of cell 0


# ---- storing in devices --------------------------------------------------------------------------
@pytest.mark.parametrize("enc", we.ENCODINGS)
@pytest.mark.parametrize("bpc", [1, 3])
def test_zero_spread_round_trip_is_exact(enc, bpc, lut, seed):
    w = _weights(seed, 300)
    q = we.quantize(w, enc)
    for protect in ("none", "slc", "pair", "tmr"):
        for code in we.LEVEL_CODES:
            cfg = VariabilityConfig(encoding=enc, bits_per_cell=bpc, spread_scale=0.0, protect=protect,
                                    level_code=code)
            rb = program_and_read(w, cfg, lut, seed=seed)
            assert np.array_equal(rb.weights, q), (protect, code)
            assert rb.bit_errors == 0 and rb.devices_per_weight == cfg.devices_per_weight


def test_devices_per_weight():
    d = lambda **kw: VariabilityConfig(**kw).devices_per_weight
    assert d(encoding="float32") == 32 and d(encoding="float32", bits_per_cell=3) == 11
    assert d(encoding="float32", bits_per_cell=3, protect="pair") == 9 * 2 + 8
    assert d(encoding="float32", protect="tmr") == 9 * 3 + 23
    assert d(encoding="float16", bits_per_cell=3, protect="slc") == 6 + 4
    assert d(encoding="fixed8", protect="pair") == 3 * 2 + 5
    assert d(encoding="fixed8", protect="pair", protect_bits=8) == 16


@pytest.mark.parametrize("bpc", [1, 3])
def test_stuck_devices_flip_exactly_the_expected_bits(bpc, lut, seed):
    """With no spread, the only errors are stuck devices: each forces its bits to all-ones (LRS) or zeros."""
    w = _weights(seed, 400)
    cfg = VariabilityConfig(encoding="float16", bits_per_cell=bpc, spread_scale=0.0, p_stuck_lrs=0.05,
                            p_stuck_hrs=0.05)
    rb = program_and_read(w, cfg, lut, seed=seed, trial=2)
    n, D = w.size, cfg.devices_per_weight
    ids = np.arange(n, dtype=np.uint64)[:, None] * np.uint64(D) + np.arange(D, dtype=np.uint64)
    mask = stuck_fault_mask((n, D), 0.05, 0.05, seed=seed, counter=2, device_ids=ids)
    assert (mask != 0).any()
    expected = rb.words_written.copy()
    for d in range(D):  # device d holds bits [16 - bpc*(d+1), 16 - bpc*d) (last cell padded)
        hi = 16 - bpc * d
        lo = max(0, hi - bpc)
        field = np.uint64(((1 << (hi - lo)) - 1) << lo)
        expected = np.where(mask[:, d] == STUCK_LRS, expected | field, expected)
        expected = np.where(mask[:, d] == STUCK_HRS, expected & ~field, expected)
    assert np.array_equal(rb.words_read, expected)


def test_all_stuck_gives_all_ones_or_zeros(lut, seed):
    w = _weights(seed, 50)
    for bpc in (1, 3):
        ones = program_and_read(w, VariabilityConfig(encoding="fixed8", bits_per_cell=bpc, p_stuck_lrs=1.0, spread_scale=0.0),
                                lut, seed=seed)
        zeros = program_and_read(w, VariabilityConfig(encoding="fixed8", bits_per_cell=bpc, p_stuck_hrs=1.0, spread_scale=0.0),
                                 lut, seed=seed)
        assert np.all(ones.words_read == 0xFF) and np.all(zeros.words_read == 0)


@pytest.mark.parametrize("enc", we.ENCODINGS)
def test_bit_injection_flips_exactly_one_position(enc, seed):
    w = _weights(seed, 500)
    width = we.get_encoding(enc).width
    for bit in (0, width - 1, width // 2):
        rb = inject_bit_errors(w, enc, bit, 1.0, seed=seed)
        assert np.all(rb.words_read ^ rb.words_written == np.uint64(1 << bit))
        part = inject_bit_errors(w, enc, bit, 0.1, seed=seed)
        diff = part.words_read ^ part.words_written
        assert set(np.unique(diff).tolist()) <= {0, 1 << bit} and 10 < np.count_nonzero(diff) < 100
        assert part.bit_errors_per_position()[bit] == np.count_nonzero(diff)
    # sign bit flip negates floats exactly (fixed8 is two's complement: -128 is added instead)
    if enc == "fixed8":
        q = we.quantize(w, enc)
        flipped = inject_bit_errors(w, enc, 7, 1.0, seed=seed).weights
        assert np.allclose(flipped - q, np.where(q >= 0, -1, 1) * 128 * 2.0 ** -we.fixed8_frac_bits(w))
        return
    assert np.array_equal(inject_bit_errors(w, enc, width - 1, 1.0, seed=seed).weights[6:],
                          -we.quantize(w, enc)[6:])


def test_protection_reduces_errors(lut, seed):
    w = _weights(seed, 2000)
    base = VariabilityConfig(encoding="float32", bits_per_cell=1, spread_scale=2.0)
    none = program_and_read(w, base, lut, seed=seed)
    per_pos = none.bit_errors_per_position()
    assert per_pos.sum() > 0
    for scheme in ("pair", "tmr"):
        prot = program_and_read(w, VariabilityConfig(encoding="float32", spread_scale=2.0, protect=scheme),
                                lut, seed=seed)
        assert prot.bit_errors_per_position()[23:].sum() < per_pos[23:].sum()
