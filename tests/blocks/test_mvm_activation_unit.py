"""MvmActivationUnit: the RTL in Amaranth's simulator against its golden cycle twin (every transfer on
the seven stream ports, cycle by cycle, under seeded random idle and backpressure), the transactions
against hw_exact's arithmetic and the two engines' frame parsers, wrong-length vectors, bad
parameters, lint, and one cocotb run under Verilator."""
from __future__ import annotations

import random

import numpy as np
import pytest

from golden.spec.checks import ConfigError
from golden.spec.handshake import make_gen
from golden.spec.mvm_geometry import activation_shape
from golden.spec.params import AccelParams
from golden.training import hw_exact as hx
from golden.twins.mvm_activation_unit import (
    FMT_MVM,
    FMT_OPE,
    MvmActivationUnit,
    unit_cycle_model,
    vector_items,
)
from hw.mvm_activation_unit import MvmActivationUnit as Rtl
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams, simulate

IN_PORTS = ("y_i", "send", "d_i", "t_i")
OUT_PORTS = ("h_o", "e_o", "d1_o")
STATUS = ("h_valid", "hidden_saturated", "e_saturated", "d1_saturated", "h_error", "e_error", "d1_error")


def accel(rows=7, cols=5, b=4, x_width=6, x_frac=1, delta_width=8, out_width=10) -> AccelParams:
    return AccelParams().with_(array={"rows": rows, "cols": cols},
                               engine={"x_width": x_width, "x_frac": x_frac, "delta_width": delta_width,
                                       "delta_frac": 0},
                               mvm={"input_width": b, "out_width": out_width})


CONFIGS = {   # parameters, (idle, backpressure) generator specs
    "7x5-b4-x6": (accel(), (0.7, 0.6)),
    "5x9-b3-x8-free": (accel(rows=5, cols=9, b=3, x_width=8, x_frac=2, delta_width=5), (1.0, 1.0)),
    "12x4-b8-x8-bursty": (accel(rows=12, cols=4, b=8, x_width=8, x_frac=3, delta_width=12, out_width=12),
                          (["burst", 0.6], ["burst", 0.5])),
    "3x3-b2-slow-sink": (accel(rows=3, cols=3, b=2, x_width=2, x_frac=1, delta_width=3, out_width=8),
                         (0.9, 0.3)),
    "40x6-b4-x5-zero-words": (accel(rows=40, cols=6, b=4, x_width=5, x_frac=2, delta_width=10), (0.8, 0.5)),
}


def stimulus(p: AccelParams, seed: int, vectors: int = 4, bad: float = 0.0) -> dict:
    """Random vectors per input port (codes spanning and exceeding every format; with probability
    ``bad`` a vector of the wrong length: ``last`` early or late) and send requests."""
    rng = random.Random(f"act/{seed}")
    sh = activation_shape(p)
    ow, dw = sh.out_width, sh.delta_width

    def vec(n: int, lo: int, hi: int) -> list[dict]:
        k = n
        if rng.random() < bad:
            k = rng.choice([max(1, n - rng.randint(1, 3)), n + rng.randint(1, 3)])
        codes = [rng.randint(lo, hi) if rng.random() < 0.8 else rng.choice([lo, hi, 0]) for _ in range(k)]
        return vector_items(codes)

    big = 1 << (ow - 1)
    hx_hi = 1 << (sh.input_width + 1)
    items = {"y_i": [], "d_i": [], "t_i": [], "send": []}
    for _ in range(vectors):
        items["y_i"] += vec(sh.cols, max(-big, -hx_hi), min(hx_hi, big - 1) if rng.random() < 0.5 else big - 1)
        items["d_i"] += vec(sh.cols, -(1 << (dw - 1)), (1 << (dw - 1)) - 1)
        items["t_i"] += vec(sh.rows, -big, big - 1) if rng.random() < 0.5 else \
            vec(sh.rows, max(-big, -(1 << dw)), min(big - 1, 1 << dw))
        items["send"] += [rng.randint(0, 1) for _ in range(rng.randint(0, 2))]
    return items


def gens(seed: int, specs) -> dict:
    v, r = specs
    out = {k: make_gen(v, seed, i) for i, k in enumerate(IN_PORTS, 1)}
    out.update({k: make_gen(r, seed, i) for i, k in enumerate(OUT_PORTS, 11)})
    return out


def run_rtl(p: AccelParams, items: dict, g: dict, e_shift: int, cycles: int, dut_cls=Rtl) -> tuple[dict, dict, dict]:
    dut = dut_cls(p)
    srcs = {k: SimSource(getattr(dut, k), items[k], valid_gen=g[k]) for k in IN_PORTS}
    snks = {k: SimSink(getattr(dut, k), ready_gen=g[k]) for k in OUT_PORTS}
    status = {}

    async def bench(ctx):
        ctx.set(dut.e_shift, e_shift)
        await run_streams(ctx, srcs.values(), snks.values(), until=lambda c: c >= cycles)
        status.update({k: ctx.get(getattr(dut, k)) for k in STATUS})

    simulate(dut, bench)
    taken = {k: [(t.cycle, t.value) for t in s.sent] for k, s in srcs.items()}
    offered = {k: [(t.cycle, {f: int(v) for f, v in t.value.items()}) for t in s.received]
               for k, s in snks.items()}
    return taken, offered, status


def compare(p, items, specs, seed, e_shift, cycles, dut_cls=Rtl) -> None:
    want = unit_cycle_model(p, items, gens(seed, specs), e_shift=e_shift, cycles=cycles)
    taken, offered, status = run_rtl(p, items, gens(seed, specs), e_shift, cycles, dut_cls)
    for k in IN_PORTS:
        got, exp = taken[k], want.taken[k]
        bad = next((i for i, (a, b) in enumerate(zip(got, exp)) if a != b), min(len(got), len(exp)))
        assert got == exp, f"seed {seed}: {k} transfer {bad}: RTL {got[bad:bad + 1]}, twin {exp[bad:bad + 1]}"
    for k in OUT_PORTS:
        got, exp = offered[k], want.offered[k]
        bad = next((i for i, (a, b) in enumerate(zip(got, exp)) if a != b), min(len(got), len(exp)))
        assert got == exp, (f"seed {seed}: {k} transfer {bad} (cycle "
                            f"{(got[bad:bad + 1] or exp[bad:bad + 1] or [(None,)])[0][0]}): RTL {got[bad:bad + 1]}, "
                            f"twin {exp[bad:bad + 1]}")
    assert status == want.status, f"seed {seed}: status RTL {status}, twin {want.status}"
    return want


# --- (a) arithmetic: the twin is hw_exact's ------------------------------------------------------
def test_functions_equal_the_training_expressions(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(-300, 300, 200)
    assert np.array_equal(hx.hidden_codes(y, 6), np.clip(y, 0, 63))
    assert hx.hidden_saturations(y, 6) == int(np.count_nonzero(y > 63))
    d2 = rng.integers(-2000, 2000, 200)
    for s in (0, 1, 5, 12):
        e = hx.error_codes(d2, s, 4)
        assert hx.error_saturations(d2, s, 4) == int(np.count_nonzero(e != hx.error_codes(d2, s, 32)))
    yt, h = rng.integers(-600, 600, 200), rng.integers(0, 4, 200)
    assert np.array_equal(hx.layer1_deltas(yt, h, 9), np.clip(yt, -256, 255) * (h > 0))
    assert hx.delta_saturations(yt, 9) == int(np.count_nonzero((yt > 255) | (yt < -256)))


def test_transactions_and_frames(seed):
    p = accel(rows=11, cols=6, b=4, x_width=6, x_frac=2, delta_width=8)
    tw = MvmActivationUnit(p)
    rng = np.random.default_rng(seed)
    y = rng.integers(-40, 40, 6)
    assert tw.hidden(y)
    assert tw.h.tolist() == np.clip(y, 0, 15).tolist()
    codes = tw.frame_codes()
    assert codes.tolist() == [*np.clip(y, 0, 15).tolist(), 4, 0, 0, 0, 0]
    for fmt in (FMT_MVM, FMT_OPE):
        assert tw.parse_frame(tw.frame(fmt), fmt).tolist() == codes.tolist()
    assert len(tw.frame(FMT_MVM)) == 2 and len(tw.frame(FMT_OPE)) == 3      # 8 and 5 codes per word
    yt = rng.integers(-300, 300, 11)
    assert tw.deltas(yt).tolist() == (np.clip(yt[:6], -128, 127) * (tw.h > 0)).tolist()
    assert tw.errors(np.array([100, -100, 7, 8, -9, 0]), 4).tolist() == [6, -6, 0, 1, -1, 0]
    assert not tw.hidden(y[:5]) and tw.h_error and tw.h is None
    assert tw.deltas(yt).tolist() == [0] * 6


# --- (b) RTL against the cycle twin --------------------------------------------------------------
@pytest.mark.parametrize("name", CONFIGS)
def test_amaranth_sim_random(name, seed):
    p, specs = CONFIGS[name]
    items = stimulus(p, seed, vectors=8)
    shift = random.Random(f"shift/{seed}/{name}").randint(0, 3)
    want = compare(p, items, specs, seed, shift, cycles=900)
    # every vector went through (the run is long enough) and every output vector is hw_exact's
    assert len(want.taken["y_i"]) == len(items["y_i"]) and len(want.taken["t_i"]) == len(items["t_i"])
    assert len(want.offered["e_o"]) == len(items["d_i"])


@pytest.mark.parametrize("shift", [0, 1, 9, 13, 31])
def test_amaranth_sim_error_shifts(shift, seed):
    """Every shift of the 5-bit register, up to and beyond the delta width (all codes round to 0 or -1)."""
    p = accel(rows=4, cols=6, b=3, x_width=4, x_frac=1, delta_width=12)
    items = {"y_i": [], "send": [], "t_i": [], "d_i": vector_items(
        [*random.Random(f"d/{seed}").choices(range(-2048, 2048), k=20), -2048, 2047, 0, -1])}
    items["d_i"] = [dict(it, last=int(k % 6 == 5)) for k, it in enumerate(items["d_i"])]
    want = compare(p, items, (0.8, 0.7), seed, shift, cycles=60)
    codes = [v["code"] for _, v in want.offered["e_o"]]
    assert codes == hx.error_codes([it["code"] for it in items["d_i"]], shift, 3).tolist()


def test_values_follow_the_training_step(seed):
    """One training step's order (forward y, read-engine frame, errors, transposed read, x frame): the
    offered codes are the transaction twin's, the frames parse in both engines."""
    p = accel(rows=9, cols=6, b=4, x_width=5, x_frac=1, delta_width=8)
    rng = np.random.default_rng(seed)
    y, d2, yt = rng.integers(-30, 30, 6), rng.integers(-128, 128, 6), rng.integers(-400, 400, 9)
    items = {"y_i": vector_items(y), "send": [FMT_MVM], "d_i": vector_items(d2), "t_i": []}
    items["send"].append(FMT_OPE)
    items["t_i"] = vector_items(yt)
    tw = MvmActivationUnit(p)
    tw.hidden(y)
    # t_i waits until the y vector is stored: hold it back by a long idle spell
    g = gens(seed, (1.0, 0.7))
    g["t_i"] = iter([False] * 12 + [True] * 10_000)
    want = unit_cycle_model(p, items, g, e_shift=3, cycles=120)
    g = gens(seed, (1.0, 0.7))
    g["t_i"] = iter([False] * 12 + [True] * 10_000)
    _, offered, status = run_rtl(p, items, g, 3, 120)
    assert offered == want.offered and status == want.status
    words = [v["data"] for _, v in offered["h_o"]]
    n_mvm = len(tw.frame(FMT_MVM))
    assert words == tw.frame(FMT_MVM) + tw.frame(FMT_OPE)
    assert [v["code"] for _, v in offered["e_o"]] == tw.errors(d2, 3).tolist()
    assert [v["code"] for _, v in offered["d1_o"]] == tw.deltas(yt).tolist()
    assert [v["last"] for _, v in offered["h_o"]] == [int(k in (n_mvm - 1, len(words) - 1)) for k in range(len(words))]
    assert status["hidden_saturated"] == tw.hidden_saturated and status["e_saturated"] == tw.e_saturated
    assert status["d1_saturated"] == tw.d1_saturated and not (status["h_error"] or status["e_error"])


def test_full_rate_and_latency():
    """Free-running: one code per cycle on every path; e in c + 1, d1 in c + 2, a frame in R + 2."""
    p = accel(rows=10, cols=6, b=4)
    y = list(range(-2, 4))
    items = {"y_i": vector_items(y), "send": [FMT_MVM], "d_i": vector_items([5] * 6), "t_i": []}
    tr = unit_cycle_model(p, items, cycles=40)
    assert [c for c, _ in tr.taken["y_i"]] == list(range(6))
    assert [c for c, _ in tr.taken["d_i"]] == list(range(6))
    assert [c for c, _ in tr.offered["e_o"]] == list(range(1, 7))
    c_send = tr.taken["send"][0][0]
    assert c_send == 6                                      # h_valid from the cycle after the last code
    # 10 codes at 8 per word: word 0 completes with code 7 (issued in c + 8, offered in c + 10); word 1
    # lies past the bias (code 6): all zero, issued whole in the next cycle
    assert [c for c, _ in tr.offered["h_o"]] == [c_send + 3 + 7, c_send + 3 + 8]
    p40 = accel(rows=40, cols=6, b=4)
    tr = unit_cycle_model(p40, {"y_i": vector_items(y), "send": [FMT_MVM, FMT_OPE]}, cycles=60)
    c0, c1 = (c for c, _ in tr.taken["send"])
    # read-engine frame: 5 words of 8 codes, words 1..4 zero; x frame (x_width 6): 8 words of 5 codes,
    # word 1 holds code 6 (the bias) and 7..9, words 2..7 zero
    assert [c for c, _ in tr.offered["h_o"]] == [c0 + 10, c0 + 11, c0 + 12, c0 + 13, c0 + 14,
                                                 c1 + 7, c1 + 12, *range(c1 + 13, c1 + 19)]
    assert c1 == c0 + 13                                    # the next send is taken after the last issue
    words = [v["data"] for _, v in tr.offered["h_o"]]
    tw = MvmActivationUnit(p40)
    tw.hidden(y)
    assert words == tw.frame(FMT_MVM) + tw.frame(FMT_OPE)
    items = {"y_i": [], "send": [], "d_i": [], "t_i": vector_items(list(range(10)))}
    tr = unit_cycle_model(p, items, cycles=30)
    assert [c for c, _ in tr.taken["t_i"]] == list(range(10))
    assert [c for c, _ in tr.offered["d1_o"]] == list(range(2, 8))      # H = 6 codes


def test_mnist_layer_geometry(seed):
    """The 785 x 250 array of the MNIST network (b = 8, x_frac 5, 16-bit deltas): one training step's
    vectors through the RTL, every transfer as the twin predicts, the values hw_exact's, and the
    frame time of the docstring (386 issue cycles for 197 words)."""
    p = AccelParams().with_(array={"rows": 785, "cols": 250}, engine={"x_width": 8, "x_frac": 5},
                            mvm={"input_width": 8, "out_width": 24})
    rng = np.random.default_rng(seed)
    y, yt = rng.integers(-300, 400, 250), rng.integers(-40000, 40000, 785)
    d2 = np.zeros(250, dtype=np.int64)
    d2[:10] = rng.integers(-30000, 30000, 10)
    items = {"y_i": vector_items(y), "send": [FMT_MVM, FMT_OPE], "d_i": vector_items(d2), "t_i": []}
    g = gens(seed, (1.0, 1.0))
    want = unit_cycle_model(p, items, g, e_shift=9, cycles=1100)
    _, offered, status = run_rtl(p, items, gens(seed, (1.0, 1.0)), 9, 1100)
    assert offered == want.offered and status == want.status
    c0, c1 = (c for c, _ in want.taken["send"])
    assert c1 - c0 == 386 + 1 and offered["h_o"][196][0] == c0 + 386 + 2
    tw = MvmActivationUnit(p)
    tw.hidden(y)
    assert [v["data"] for _, v in offered["h_o"]] == tw.frame(FMT_MVM) + tw.frame(FMT_OPE)
    assert [v["code"] for _, v in offered["e_o"]] == hx.error_codes(d2, 9, 8).tolist()
    # the transposed read's 785 outputs after the hidden vector is stored
    items = {"y_i": vector_items(y), "send": [], "d_i": [], "t_i": vector_items(yt)}
    g, g2 = gens(seed, (1.0, 1.0)), gens(seed, (1.0, 1.0))
    g["t_i"] = iter([False] * 251 + [True] * 2000)
    g2["t_i"] = iter([False] * 251 + [True] * 2000)
    want = unit_cycle_model(p, items, g, cycles=1100)
    _, offered, status = run_rtl(p, items, g2, 0, 1100)
    assert offered == want.offered and status == want.status
    assert [v["code"] for _, v in offered["d1_o"]] == hx.layer1_deltas(yt[:250], hx.hidden_codes(y, 8)[:250],
                                                                      16).tolist()


# --- (c) wrong-length vectors --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["7x5-b4-x6", "3x3-b2-slow-sink"])
def test_amaranth_sim_wrong_lengths(name, seed):
    p, specs = CONFIGS[name]
    items = stimulus(p, seed, vectors=5, bad=0.5)
    want = compare(p, items, specs, seed, 2, cycles=600)
    print(f"seed {seed}: status {want.status}")


def test_error_bits_and_no_partial_hidden_vector():
    p = accel(rows=7, cols=5)
    short = vector_items([3, 3, 3])                                     # last on the 3rd of 5
    long = vector_items([1, 2, 3, 4, 5, 6, 7])                          # no last on the 5th
    items = {"y_i": short + long, "send": [FMT_MVM], "d_i": vector_items([1] * 4),
             "t_i": vector_items([9] * 7)}
    tr = unit_cycle_model(p, items, cycles=60)
    _, offered, status = run_rtl(p, items, gens(0, (1.0, 1.0)), 0, 60)
    assert status == tr.status
    assert status["h_error"] and status["e_error"] and not status["d1_error"] and not status["h_valid"]
    assert offered["h_o"] == [] and tr.offered["h_o"] == []            # nothing sent from a bad vector
    assert [v["code"] for _, v in offered["d1_o"]] == [0] * 5          # no valid hidden vector: d1 = 0
    assert [v["last"] for _, v in offered["e_o"]] == [0, 0, 0, 1]      # the early last goes out


# --- (d) parameters ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, field", [
    ({"b": 8, "x_width": 6, "x_frac": 1}, "engine.x_width"),
    ({"b": 3, "x_width": 6, "x_frac": 3}, "engine.x_frac"),
    ({"rows": 1, "cols": 4}, "array.rows"),
])
def test_bad_parameters(kw, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.") + r" = \d+ is out of range.*allowed \["):
        Rtl(accel(**kw))
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        MvmActivationUnit(accel(**kw))


def test_lint_clean(tmp_path):
    from tb.kit.lint import lint
    from tb.kit.runner import to_verilog

    for name in ("7x5-b4-x6", "12x4-b8-x8-bursty", "40x6-b4-x5-zero-words"):
        path = tmp_path / "mvm_activation_unit.v"
        path.write_text(to_verilog(Rtl(CONFIGS[name][0]), "mvm_activation_unit"))
        assert lint(path, wall=False) == [] and lint(path, wall=True) == [], name


# --- (e) cocotb under Verilator ------------------------------------------------------------------
COCOTB_CASE = "7x5-b4-x6"


def cocotb_config(seed: int, **extra) -> dict:
    p, specs = CONFIGS[COCOTB_CASE]
    items = stimulus(p, seed, vectors=6, bad=0.2)
    return {"params": p.to_dict(), "seed": seed, "items": items, "specs": list(specs), "e_shift": 2,
            "cycles": 700, **extra}


@pytest.mark.cocotb
@pytest.mark.extended      # a Verilator build of about a minute: make test-extended (make test: the Amaranth runs)
def test_cocotb_mvm_activation_unit(seed):
    from tb.kit.runner import run_cocotb

    res = run_cocotb(Rtl(CONFIGS[COCOTB_CASE][0]), toplevel="mvm_activation_unit",
                     test_module="tb.envs.mvm_activation_unit_tb", config=cocotb_config(seed))
    print(f"mvm_activation_unit {COCOTB_CASE}: 0 mismatches, build {res.build_seconds:.1f} s, "
          f"run {res.run_seconds:.1f} s")


@pytest.mark.cocotb
@pytest.mark.extended
def test_cocotb_scoreboard_catches_wrong_model(seed):
    """The model run with another error shift must be reported as a mismatch naming its cycle (same
    build as above)."""
    import re

    from tb.kit.runner import run_cocotb

    res = run_cocotb(Rtl(CONFIGS[COCOTB_CASE][0]), toplevel="mvm_activation_unit",
                     test_module="tb.envs.mvm_activation_unit_tb",
                     config=cocotb_config(seed, model_e_shift=5, expect_mismatch=True))
    log = (res.results_xml.parent / "sim.log").read_text()
    assert re.search(rf"expected mismatch reported: scoreboard e_o: mismatch at index \d+, cycle \d+: .*\(seed {seed}\)",
                     log), log[-2000:]
