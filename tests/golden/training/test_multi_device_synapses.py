"""Multi-ReRAM synapse arrays: the vectorised path against the bit-true twins (request by request, and
the outer-product engine frame by frame), weights, refresh."""
from dataclasses import replace

import numpy as np
import pytest

from golden.physics.device import RERAM_BINARY, RERAM_HFO2, RESET, SET, DeviceModel
from golden.spec import rng
from golden.spec.params import AccelParams, ConfigError
from golden.spec.transactions import ProgramRequest, PulseCount, UpdateRequest
from golden.training.multi_device_synapses import (
    ArrayConfig,
    DeviceStore,
    SynapseArray,
    apply_plans,
    nominal_trajectory,
    symmetry_point,
)
from golden.twins.arbitration_controller import ArbitrationController
from golden.twins.outer_product_engine import OuterProductEngine, quantize_delta, quantize_x
from golden.twins.update_unit import UpdateUnit


def make(rows=6, cols=5, devices=3, differential=False, device=RERAM_HFO2, seed=0, engine=None, **syn):
    inc = syn.pop("increment", 1)
    p = AccelParams().with_(array={"rows": rows, "cols": cols},
                            synapse={"devices": devices, "increment": inc, "differential": differential, **syn},
                            update={"eps": 64, "count_width": 3}, engine=engine or {})
    return SynapseArray(p, DeviceModel(device, seed), ArrayConfig(w_max=1.0))


def replay(arr0: SynapseArray, cycles: list[list]) -> tuple:
    """Step the golden UpdateUnit and ArbitrationController transaction by transaction and apply each
    ProgramRequest with DeviceModel.pulse one pulse at a time."""
    p, model = arr0.params, arr0.model
    uu, arb = UpdateUnit(p), ArbitrationController(p)
    g = model.initial(np.arange(arr0.n_devices)).reshape(arr0.g.shape)
    k = np.zeros(g.shape, dtype=int)
    out = []
    for reqs in cycles:
        progs = []
        for req in reqs:
            pc = uu.request(req)
            if pc is not None:
                pr = arb.select(pc)
                if pr is not None:
                    progs.append(pr)
        arb.end_cycle()
        for pr in progs:
            did = arr0.device_ids(pr.row, pr.col, pr.slot)
            for _ in range(pr.count):
                g[pr.row, pr.col, pr.slot] = model.pulse(g[pr.row, pr.col, pr.slot], did,
                                                         k[pr.row, pr.col, pr.slot], pr.polarity)
                k[pr.row, pr.col, pr.slot] += 1
        out.append(progs)
    return out, uu.chi, g, arb


def stimulus(arr: SynapseArray, seed: int, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, a, delta) of cycle t: ~70 % of the rows, inputs up to beyond the x range every 5th cycle,
    an error 10x larger every 7th (delta codes saturate)."""
    rows = np.flatnonzero(rng.uniform(seed, 50, np.arange(arr.rows), t) < 0.7)
    a = (rng.uniform(seed, 51, rows, t) * (12.0 if t % 5 == 4 else 1.0)).astype(np.float32)
    delta = (rng.normal(seed, 52, np.arange(arr.cols), t) * (3.0 if t % 7 else 40.0)).astype(np.float32)
    return rows, a, delta


KW = [{"devices": 3, "differential": False, "increment": 2},
      {"devices": 2, "differential": True},
      {"devices": 4, "differential": True, "increment": 3, "pot_period": 2, "dep_period": 3},
      {"devices": 2, "engine": {"x_width": 6, "x_frac": 3, "delta_width": 9, "delta_frac": 2}}]
KW_IDS = ["N3", "N2-diff", "N4-diff-periods", "N2-narrow-codes"]


@pytest.mark.parametrize("kw", KW, ids=KW_IDS)
def test_vectorised_update_equals_stepping_the_twins(kw, seed):
    arr = make(**kw, seed=seed)
    cycles, progs_vec = [], []
    for t in range(40):
        rows, a, delta = stimulus(arr, seed, t)
        trace: list = []
        arr.update(rows, a, delta, lr=0.02, trace=trace)
        cycles.append([x for x in trace if isinstance(x, UpdateRequest)])
        progs_vec.append([x for x in trace if isinstance(x, ProgramRequest)])
    progs_ref, chi_ref, g_ref, arb_ref = replay(arr, cycles)
    assert sum(len(c) for c in progs_ref) > 20, "the stimulus must produce pulses"
    for t, (a, b) in enumerate(zip(progs_vec, progs_ref)):
        assert a == b, f"cycle {t}: first difference {next((x, y) for x, y in zip(a + [None], b + [None]) if x != y)}"
    assert np.array_equal(arr.chi.astype(np.int64), chi_ref)
    assert np.array_equal(arr.g, g_ref)
    assert (arr.arb.sel_pos, arr.arb.sel_neg, arr.arb.skipped) == (arb_ref.sel_pos, arb_ref.sel_neg, arb_ref.skipped)
    assert np.allclose(arr.W, arr.weights, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw", KW, ids=KW_IDS)
def test_vectorised_update_equals_the_outer_product_engine(kw, seed):
    """Frame by frame: the codes the host would stream (quantize_x, quantize_delta) through
    OuterProductEngine.frame give the vectorised path's pulse counts, in order, and its chi."""
    arr = make(**kw, seed=seed)
    eng = OuterProductEngine(arr.params)
    lr, pulses = 0.02, 0
    for t in range(40):
        rows, a, delta = stimulus(arr, seed, t)
        trace: list = []
        arr.update(rows, a, delta, lr=lr, trace=trace)
        a_full = np.zeros(arr.rows, np.float32)
        a_full[rows] = a
        x_q, d_q = quantize_x(a_full, arr.params), quantize_delta(arr.delta_lsb(delta, lr), arr.params)
        assert [np.array_equal(u, v) for u, v in zip(arr.frame_codes(a_full, delta, lr), (x_q, d_q))] == [True] * 2
        want = eng.frame(x_q, d_q)
        got = [x for x in trace if isinstance(x, PulseCount)]
        assert got == want, f"cycle {t}: first difference {next((x, y) for x, y in zip(got + [None], want + [None]) if x != y)}"
        assert np.array_equal(arr.chi, eng.chi), f"cycle {t}: chi differs"
        pulses += len(want)
    sat = arr.saturations()
    print(f"pulse counts {pulses}, saturations {sat}")
    assert pulses > 20, "the stimulus must produce pulses"
    assert sat["x"] > 0 and sat["delta"] > 0, "the stimulus must saturate x and delta codes"


def test_dw_saturates_and_requests_only_for_nonzero_dw():
    arr = make(devices=1, engine={"delta_frac": 0})            # delta codes up to 32767 LSBs: dw saturates
    trace: list = []
    rows = np.array([0, 2])
    arr.update(rows, np.array([1.0, 0.0], np.float32), np.array([1e9, -1e9, 0, 0, 0], np.float32), 1.0, trace)
    reqs = [x for x in trace if isinstance(x, UpdateRequest)]
    hi = (1 << (arr.params.update.dw_width - 1)) - 1
    assert reqs == [UpdateRequest(0, 0, -hi - 1), UpdateRequest(0, 1, hi)]
    progs = [x for x in trace if isinstance(x, ProgramRequest)]
    mc = arr.params.update.max_count
    assert progs == [ProgramRequest(0, 0, 0, RESET, mc), ProgramRequest(0, 1, 0, SET, mc)]
    assert arr.saturations() == {"x": 0, "x_codes": 2, "delta": 2, "delta_codes": 5, "dw": 2, "dw_codes": 5}
    # the default formats: the delta code saturates first (+-128 dw LSBs, 1/256 LSB resolution)
    d = make(devices=1)
    d.update(rows, np.array([1.0, 0.0], np.float32), np.array([1e9, -1e9, 0, 0, 0], np.float32), 1.0)
    assert d.quantise([1.0, 0.0], [1e9, -1e9, 0, 0, 0], 1.0).tolist() == [[-128, 128, 0, 0, 0], [0] * 5]
    assert d.saturations()["delta"] == 2 and d.saturations()["dw"] == 0
    with pytest.raises(ValueError, match="negative"):
        d.update(rows, np.array([1.0, -0.5], np.float32), np.zeros(5, np.float32), 1.0)


def test_weight_mapping_and_device_ids():
    arr = make(devices=3, differential=True)
    assert arr.device_ids(2, 4, 5) == (2 * arr.cols + 4) * 6 + 5
    g = arr.g
    w = arr.scale * (g[..., :3].sum(-1) - g[..., 3:].sum(-1))
    assert np.allclose(arr.weights, w)
    nd = make(devices=3)
    assert np.allclose(nd.weights, nd.scale * (nd.g.sum(-1) - 3 * nd.g_ref))
    p = RERAM_HFO2
    assert p.mean_step(nd.g_ref, SET) == pytest.approx(-p.mean_step(nd.g_ref, RESET), rel=1e-9)
    assert symmetry_point(RERAM_BINARY) == RERAM_BINARY.g_mid
    # the weight window is +-w_max for every N: N devices at g_max give w_max
    assert nd.scale * 3 * (p.g_max - p.g_min) / 2 == pytest.approx(1.0)
    assert arr.scale * 3 * (p.g_max - p.g_min) == pytest.approx(1.0)
    # one eps of chi is one nominal device step in weight units
    assert arr.lsb * arr.eps == pytest.approx(arr.scale * p.nominal_step)


FINE = RERAM_HFO2.with_(a_set=3.0, a_reset=3.6, noise_mult=0.3, noise_add=0.3, d2d_step=0.15)


@pytest.mark.parametrize("differential", [False, True])
@pytest.mark.parametrize("device, corr, err", [(FINE, 0.9, 0.1), (RERAM_HFO2, 0.6, 0.2)], ids=["fine", "default"])
def test_open_loop_programming_reaches_the_targets(differential, device, corr, err, seed):
    """Open loop (pulse counts from the nominal response): precise for a fine-step device, coarse
    for the default device whose single pulse moves ~8 uS of a 45 uS window."""
    arr = make(rows=20, cols=20, devices=4, differential=differential, seed=seed, device=device)
    w0 = np.random.default_rng(seed).uniform(-0.4, 0.4, (20, 20))
    arr.program_weights(w0)
    assert np.corrcoef(arr.weights.ravel(), w0.ravel())[0, 1] > corr
    assert np.abs(arr.weights - w0).mean() < err
    t = nominal_trajectory(RERAM_HFO2, 6.0, 10)
    assert np.all(np.diff(t) > 0)


SAT = 100


def test_refresh_resets_every_slot_and_keeps_the_weight(seed):
    arr = make(rows=4, cols=4, devices=2, differential=True, refresh_pulses=60, seed=seed, device=FINE)
    # threshold 0.75 of the nominal window: the d2d spread of g_max puts some saturated groups below 0.85
    arr.config = replace(arr.config, refresh_threshold=0.75)
    # saturate G+ of (1, 2) and G- of (3, 0) (SAT pulses: enough for every device of the d2d spread);
    # both keep a moderate net weight
    arr.apply_pulses([1, 1, 1, 1], [2, 2, 2, 2], [0, 1, 2, 3], [SET] * 4, [SAT, SAT, 12, 12])
    arr.apply_pulses([3, 3, 3, 3], [0, 0, 0, 0], [0, 1, 2, 3], [SET] * 4, [12, 12, SAT, SAT])
    r, c = arr.refresh_due()
    assert sorted(zip(r.tolist(), c.tolist())) == [(1, 2), (3, 0)]
    w_before = arr.weights[r, c]
    trace: list = []
    arr.refresh(r, c, trace)
    resets = [x for x in trace if x.polarity == RESET]
    assert resets == [ProgramRequest(int(a), int(b), d, RESET, 60) for a, b in zip(r, c) for d in range(4)]
    assert len(arr.refresh_due()[0]) == 0
    w_after = arr.weights[r, c]
    assert np.all(np.sign(w_after) == np.sign(w_before))
    assert np.allclose(w_after, w_before, rtol=0.35, atol=0.1)   # open-loop re-programming: ~0.1 absolute
    assert arr.refreshes == 2 and arr.arb.refreshes == 2


def test_shared_store_applies_all_arrays_at_once(seed):
    model = DeviceModel(RERAM_HFO2, seed)
    p1 = AccelParams().with_(array={"rows": 5, "cols": 4}, synapse={"devices": 2})
    p2 = AccelParams().with_(array={"rows": 4, "cols": 3}, synapse={"devices": 2})
    n1, n2 = 5 * 4 * 2, 4 * 3 * 2
    store = DeviceStore(model, n1 + n2)
    a1 = SynapseArray(p1, model, ArrayConfig(0.5), id_base=0, store=store)
    a2 = SynapseArray(p2, model, ArrayConfig(0.5), id_base=n1, store=store)
    b1 = SynapseArray(p1, model, ArrayConfig(0.5), id_base=0)
    b2 = SynapseArray(p2, model, ArrayConfig(0.5), id_base=n1)
    for t in range(10):
        d1 = rng.normal(seed, 60, np.arange(4), t).astype(np.float32) * 20
        d2 = rng.normal(seed, 61, np.arange(3), t).astype(np.float32) * 20
        apply_plans([a1, a2], [a1.plan_update(None, np.ones(5, np.float32), d1, 0.1),
                               a2.plan_update(None, np.ones(4, np.float32), d2, 0.1)])
        b1.update(None, np.ones(5, np.float32), d1, 0.1)
        b2.update(None, np.ones(4, np.float32), d2, 0.1)
    assert a1.pulse_total > 0 and a2.pulse_total > 0
    assert np.array_equal(a1.g, b1.g) and np.array_equal(a2.g, b2.g)
    with pytest.raises(ConfigError, match="device store"):
        SynapseArray(p2, model, ArrayConfig(0.5), id_base=n1 + 1, store=store)


def test_array_config_is_validated():
    with pytest.raises(ConfigError, match="w_max"):
        ArrayConfig(w_max=0.0)
    with pytest.raises(ConfigError, match="refresh_threshold"):
        ArrayConfig(refresh_threshold=2.0)


def test_pulse_counts_are_routed_like_the_controller():
    """One PulseCount -> the controller's ProgramRequest (sanity of the reference used above)."""
    p = AccelParams().with_(synapse={"devices": 2, "differential": True})
    arb = ArbitrationController(p)
    assert arb.select(PulseCount(0, 0, -3)) == ProgramRequest(0, 0, 2, SET, 3)
