"""BnnNetworkEngine: golden twin (function and cycle model) and the RTL in Amaranth's simulator against it,
cycle by cycle (image transfers, every hidden pass's output words, classes)."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.bnn.chip_model import BnnHardware, HardwareConfig
from golden.bnn.network import random_model
from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.bnn_network_params import BnnNetHwParams, bnn_net_params_for
from golden.spec.handshake import random_gen
from golden.spec.params import ConfigError
from golden.twins.argmax_unit import ArgmaxOut
from golden.twins.bnn_layer_engine import OutWord, digital_bits
from golden.twins.bnn_network_engine import (
    BnnNetworkEngineModel,
    NetworkBits,
    analog_network,
    check_image,
    digital_network,
    network_array,
    network_programmed,
    padded_weights,
)
from golden.twins.sense_amp_sequencer import STROBES
from hw.bnn_network_engine import BnnNetworkEngine
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams
from tb.kit.scoreboard import Scoreboard

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")

SIZES = [20, 11, 15, 9, 4]      # three hidden layers of different widths and cell counts (padding, masking)


def _net(model, read_width=4, bank=2, bank_out=3, **layer):
    base = BnnHwParams(read_width=read_width, bank=1, neurons=2, **layer)
    return bnn_net_params_for(model, bank=bank, bank_out=bank_out, layer=base)


# --- golden ---------------------------------------------------------------------------------------
def test_padding_keeps_every_layer_and_class(seed):
    m = random_model(SIZES, seed=seed, bias_fraction=0.1)
    net = _net(m)
    x = np.random.default_rng(seed).integers(0, 2, (50, SIZES[0]), dtype=np.uint8)
    prog = network_programmed(m)
    d = digital_network(prog, x)
    assert np.array_equal(d.classes, m.predict_bits(x))
    for layer, bits in enumerate(m.forward_bits(x)[:-1]):
        assert np.array_equal(d.hidden[layer], bits)
    # the padded rows give the same decisions through the engine's majority
    for layer in range(net.hidden_layers):
        pw = padded_weights(prog[layer], net, layer).astype(np.int64)
        h = np.zeros((len(x), net.hidden_inputs), np.int64)
        src = x if layer == 0 else d.hidden[layer - 1]
        h[:, :src.shape[1]] = src
        xe = np.concatenate([h, np.ones((len(x), net.hidden_bias), np.int64)], axis=1)
        cnt = xe @ pw.T + (1 - xe) @ (1 - pw).T
        got = (cnt >= net.hidden_hw.cells // 2 + 1)[:, :SIZES[layer + 1]]
        assert np.array_equal(got, d.hidden[layer])
    hc = {"mode": "authors", "seed": seed, "bit_error": 0.05}
    a = analog_network(BnnHardware(m, HardwareConfig(**hc)), x)
    assert np.array_equal(a.classes, BnnHardware(m, HardwareConfig(**hc)).predict_bits(x))
    out_prog = network_programmed(m, seed=seed, bit_error=0.05)[-1]     # output layer: digital read-out
    assert np.array_equal(a.counts, digital_network([out_prog], a.hidden[-1]).counts)


def test_bad_parameters_and_images():
    with pytest.raises(ConfigError, match=r"bnn_net\.sizes has 2"):
        BnnNetHwParams(sizes=(10, 4), bias_cells=())
    with pytest.raises(ConfigError, match=r"bnn_net\.bias_cells has 1"):
        BnnNetHwParams(sizes=(10, 5, 5, 4), bias_cells=(1,))
    with pytest.raises(ConfigError, match=r"bnn_net\.bank \* \(max fan-in \+ max bias cells\)"):
        BnnNetHwParams(sizes=(1025, 1025, 10), bias_cells=(102,), bank=4)
    with pytest.raises(ConfigError, match=r"bnn_net\.sizes\[2\]"):
        BnnNetHwParams(sizes=(10, 5, 1), bias_cells=(1,), bank=1, bank_out=1)
    with pytest.raises(ConfigError, match=r"hidden layer 1 .* must be even"):
        BnnNetHwParams(sizes=(10, 6, 5, 4), bias_cells=(1, 0), bank=1, bank_out=1)
    with pytest.raises(ConfigError, match=r"bnn_net\.bank_out"):
        BnnNetHwParams(sizes=(10, 5, 3), bias_cells=(1,), bank=1, bank_out=4)
    net = BnnNetHwParams()
    assert (net.rows, net.cols, net.hidden_hw.cells, net.pad(0)) == (3 * 342 + 4, 3 * 1127, 1127, 264)
    with pytest.raises(ValueError, match=r"takes 784 input bits \(bnn_net\.sizes\[0\]\)"):
        check_image(np.zeros(783, np.uint8), net)
    with pytest.raises(ConfigError, match="BnnNetHwParams"):
        BnnNetworkEngine(BnnHwParams())


# --- Amaranth simulator ---------------------------------------------------------------------------
def _scenario(seed, n_images=6, sizes=SIZES, **kw):
    m = random_model(sizes, seed=seed, bias_fraction=0.1)
    net = _net(m, **kw)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (n_images, sizes[0]), dtype=np.uint8)
    modes = rng.integers(0, 2, n_images)
    modes[:2] = (0, 1)
    hc = {"mode": "authors", "seed": seed, "bit_error": 0.05}
    prog = network_programmed(m, seed=seed, bit_error=0.05)
    array = network_array(prog, net)
    # analog image index = its ordinal among the analog images (the macro counts evaluations per row)
    a_rows = np.flatnonzero(modes == 1)
    a = analog_network(BnnHardware(m, HardwareConfig(**hc)), x[a_rows])
    per_img = NetworkBits([np.zeros((n_images, s), np.uint8) for s in sizes[1:-1]],
                          np.zeros((n_images, sizes[-1]), np.int64), np.zeros(n_images, np.int64))
    for k, i in enumerate(a_rows):
        for layer in range(net.hidden_layers):
            per_img.hidden[layer][i] = a.hidden[layer][k]
    return m, net, x, modes, hc, prog, array, per_img


def _net_sim(seed, m, net, x, modes, hc, array, p_valid=0.6, p_ready=0.5):
    from tb.models.bnn_macro import BnnMacroModel, make_network_decider

    dut = BnnNetworkEngine(net)
    hh = net.hidden_hw
    macro = BnnMacroModel(hh, array, None, seed, row_decide=make_network_decider(m, hc, net),
                          read_lanes=max(hh.read_lanes, net.out_hw.read_lanes))
    items = [{"bits": int.from_bytes(np.packbits(x[i], bitorder="little").tobytes(), "little"),
              "analog": int(modes[i])} for i in range(len(x))]
    src = SimSource(dut.x, items, valid_gen=random_gen(seed, p_valid, 1))
    snk = SimSink(dut.cls, ready_gen=random_gen(seed, p_ready, 2), convert=lambda d: ArgmaxOut(**d))
    words = []
    drive = {"rd_valid": 0, "rd_bits": 0, "sa_out": 0}
    names = ("read", "wl", "bl_read", "in_bits", *(("bias_in",) if hh.bias_cells else ()), "addr_error",
             *STROBES, "stages", "firsts")

    def hook(ctx, c):
        for k, v in drive.items():
            ctx.set(getattr(dut, k), v)
        s = {n: ctx.get(getattr(dut, n)) for n in names}
        if ctx.get(dut.hidden.y.valid):
            words.append((c, (ctx.get(dut.layer), OutWord(**{f: ctx.get(getattr(dut.hidden.y.payload, f))
                                                             for f in ("word", "bits", "last")}))))
        drive.update(macro.step(c, s))

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], hooks=[hook], until=lambda c: len(snk.received) == len(x))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not macro.violations, macro.violations[:5]
    return src, snk, words, macro


@pytest.mark.parametrize("read_width, bank, p", [
    (4, 2, {}), (32, 3, {"precharge": 1, "evaluate": 1}), (1, 1, {"popcount_mode": "lut6", "read_latency": 3}),
    # full-row reads (the reference / FPGA mode): one read per neuron; with 2 output-word credits the
    # reads wait for the words to leave
    (256, 1, {"out_fifo": 2}),
    # full-row reads of rows wider than the former 256-bridge limit: one hidden layer of 290-input
    # neurons (rows of 290 + bias bridges), two neurons per word line, no credit stall
    (4096, 2, {"sizes": [290, 9, 3]})], ids=["w4", "w32-1cycle", "bitserial-lut6", "full-row", "full-row-wide"])
def test_amaranth_sim_network_against_golden(read_width, bank, p, seed):
    m, net, x, modes, hc, prog, array, analog = _scenario(seed, read_width=read_width, bank=bank, **p)
    if read_width >= 256:
        assert net.hidden_hw.reads_per_neuron == net.out_hw.reads_per_neuron == 1
        assert net.hidden_hw.read_lanes == net.hidden_hw.cells
    if read_width > 256:
        assert net.hidden_hw.read_lanes == net.hidden_hw.cells > 256
    src, snk, words, _ = _net_sim(seed, m, net, x, modes, hc, array)
    model = BnnNetworkEngineModel(net, array, analog)
    acc, classes = model.run([(x[i], int(modes[i])) for i in range(len(x))],
                             valid_gen=random_gen(seed, 0.6, 1), cls_ready_gen=random_gen(seed, 0.5, 2))
    Scoreboard("bnn_network_engine.x", seed=seed).check(acc, [(t.cycle, i) for i, t in enumerate(src.sent)])
    want_words = [(c, (layer, w)) for _, layer, _, ws in model.passes for c, w in ws]
    Scoreboard("bnn_network_engine.hidden.y", seed=seed).check(want_words, words)
    Scoreboard("bnn_network_engine.cls", seed=seed).check(classes, snk.received)
    # and the function: every class is the digital or analog network's
    d = digital_network(prog, x)
    for i, (_, out) in enumerate(classes):
        if modes[i]:
            assert list(model.layer_bits[i][-1]) == list(analog.hidden[-1][i])
        else:
            assert out.cls == d.classes[i] and out.count == d.counts[i, out.cls]


@pytest.mark.parametrize("sizes, bias", [((20, 11, 15, 9, 4), (5, 2, 2)), ((12, 7, 3), (1,))], ids=["3-hidden", "1-hidden"])
def test_verilog_lint_clean(sizes, bias, tmp_path):
    from tb.kit.lint import lint
    from tb.kit.runner import to_verilog

    net = BnnNetHwParams(sizes=sizes, bias_cells=bias, bank=2, bank_out=2, layer=BnnHwParams(read_width=4))
    path = tmp_path / "bnn_network_engine.v"
    path.write_text(to_verilog(BnnNetworkEngine(net), "bnn_network_engine"))
    assert lint(path, wall=False) == [] and lint(path, wall=True) == []


def test_registry_and_from_params():
    from dataclasses import asdict

    from golden.spec.bnn_network_params import bnn_net_params_of
    from golden.spec.params import AccelParams
    from hw.registry import blocks

    assert blocks()["bnn_network_engine"] == BnnNetworkEngine.from_params
    net = BnnNetHwParams(sizes=(12, 7, 3), bias_cells=(1,), bank=1, bank_out=1)
    d = BnnNetworkEngine.from_params(net)
    for c in (d, d.hidden, d.out):                  # built, never elaborated here
        c._MustUse__silence = True
    assert d.net == net
    # a plain parameter tree: a small network around its [bnn] layer (the defaults without one)
    for hw in (BnnHwParams(), BnnHwParams(inputs=23, bias_cells=2, neurons=9, bank=3, read_width=16),
               BnnHwParams(inputs=10, bias_cells=0, neurons=5), BnnHwParams(inputs=5, bias_cells=0, neurons=10)):
        params = AccelParams() if hw == BnnHwParams() else AccelParams().with_(bnn=asdict(hw))
        got = bnn_net_params_of(params)
        assert got.sizes == (hw.inputs, hw.neurons, hw.neurons, 10) and got.layer == hw
        assert abs(got.bias_cells[1] - hw.bias_cells) <= 1 and got.bias_cells[0] in (hw.bias_cells, hw.bias_cells + 1)
    edge = bnn_net_params_of(BnnHwParams(inputs=4000, bias_cells=96, neurons=4096, bank=1))
    assert edge.sizes == (4000, 4096, 10) and edge.bias_cells == (96,)


# --- SA calibration images ------------------------------------------------------------------------
def _cal_bits(seed, layer, r, x, width):
    """Stand-in SA decisions of a calibration conversion: a function of the layer, ramp step and inputs."""
    key = int.from_bytes(np.packbits(x).tobytes(), "little") % (1 << 32)
    return np.random.default_rng([seed, layer, r, key]).integers(0, 2, width).astype(np.uint8)


def test_amaranth_sim_calibration_images_against_golden(seed):
    """Calibration images (``cal = 1``: one hidden layer, bias drive r, the layer's bits on ``cal_y``) mixed
    with digital network images, in both modes: transfers, hidden words, ``cal_y`` bits and cycles equal the
    twin; the macro sees the layer's own thermometer drive with the padding rows driven."""
    from tb.models.bnn_macro import BnnMacroModel, network_row_pad

    m = random_model(SIZES, seed=seed, bias_fraction=0.1)
    net = _net(m)
    assert len(set(net.bias_cells)) > 1                     # some layer has padding bias rows
    prog = network_programmed(m, seed=seed, bit_error=0.05)
    array = network_array(prog, net)
    rng = np.random.default_rng(seed + 7)
    items, cal_analog = [], {}
    for i in range(10):
        if i % 3 == 2:
            items.append((rng.integers(0, 2, SIZES[0], dtype=np.uint8), 0))
            continue
        layer = int(rng.integers(0, net.hidden_layers))
        x = rng.integers(0, 2, SIZES[layer], dtype=np.uint8)
        r = int(rng.integers(0, net.bias_cells[layer] + 1))
        mode = int(i % 3 == 0)
        items.append((x, mode, r, layer))
        if mode:
            cal_analog[i] = _cal_bits(seed, layer, r, x, SIZES[layer + 1])
    seen = []
    hb, K = net.hidden_banks, net.bank

    def row_decide(row, idx, x_bits, r):
        layer, b = divmod(row, hb)
        x = x_bits[:SIZES[layer]]
        seen.append((layer, r, x.tobytes()))
        out = np.zeros(K, np.uint8)
        bits = _cal_bits(seed, layer, r, x, SIZES[layer + 1])[b * K:(b + 1) * K]
        out[:len(bits)] = bits
        return out

    dut = BnnNetworkEngine(net)
    hh = net.hidden_hw
    macro = BnnMacroModel(hh, array, None, seed, row_decide=row_decide, row_pad=network_row_pad(net),
                          read_lanes=max(hh.read_lanes, net.out_hw.read_lanes))

    def payload(it):
        bits = int.from_bytes(np.packbits(it[0], bitorder="little").tobytes(), "little")
        if len(it) == 2:
            return {"bits": bits, "analog": it[1]}
        return {"bits": bits, "analog": it[1], "cal": 1, "ramp": it[2], "layer": it[3]}

    src = SimSource(dut.x, [payload(it) for it in items], valid_gen=random_gen(seed, 0.6, 1))
    snk = SimSink(dut.cls, ready_gen=random_gen(seed, 0.5, 2), convert=lambda d: ArgmaxOut(**d))
    cal_snk = SimSink(dut.cal_y, ready_gen=random_gen(seed, 0.5, 2), convert=int)
    words = []
    drive = {"rd_valid": 0, "rd_bits": 0, "sa_out": 0}
    names = ("read", "wl", "bl_read", "in_bits", "bias_in", "addr_error", *STROBES, "stages", "firsts")

    def hook(ctx, c):
        for k, v in drive.items():
            ctx.set(getattr(dut, k), v)
        s = {n: ctx.get(getattr(dut, n)) for n in names}
        if ctx.get(dut.hidden.y.valid):
            words.append((c, (ctx.get(dut.layer), OutWord(**{f: ctx.get(getattr(dut.hidden.y.payload, f))
                                                             for f in ("word", "bits", "last")}))))
        drive.update(macro.step(c, s))

    n_cal = sum(len(it) == 4 for it in items)

    async def bench(ctx):
        await run_streams(ctx, [src], [snk, cal_snk], hooks=[hook],
                          until=lambda c: len(snk.received) + len(cal_snk.received) == len(items))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not macro.violations, macro.violations[:5]
    model = BnnNetworkEngineModel(net, array, None, cal_analog=cal_analog)
    acc, classes = model.run(items, valid_gen=random_gen(seed, 0.6, 1), cls_ready_gen=random_gen(seed, 0.5, 2))
    Scoreboard("bnn_network_engine.x", seed=seed).check(acc, [(t.cycle, i) for i, t in enumerate(src.sent)])
    want_words = [(c, (layer, w)) for _, layer, _, ws in model.passes for c, w in ws]
    Scoreboard("bnn_network_engine.hidden.y", seed=seed).check(want_words, words)
    Scoreboard("bnn_network_engine.cls", seed=seed).check(classes, snk.received)
    want_cal = [(c, int.from_bytes(np.packbits(b, bitorder="little").tobytes(), "little"))
                for c, _, b in model.cal_outputs]
    Scoreboard("bnn_network_engine.cal_y", seed=seed).check(want_cal, cal_snk.received)
    assert len(cal_snk.received) == n_cal
    # every analog calibration conversion saw the image's bits and its layer's own ramp step
    want_seen = {(it[3], it[2], it[0].tobytes()) for i, it in enumerate(items) if len(it) == 4 and it[1]}
    assert set(seen) == want_seen
    # the digital calibration images: the hidden engine's digital bits with drive r (padding rows too)
    for (_, i, b) in model.cal_outputs:
        x, mode, r, layer = items[i]
        if not mode:
            h = np.zeros(net.hidden_inputs, np.uint8)
            h[:len(x)] = x
            pw = padded_weights(prog[layer], net, layer)
            assert np.array_equal(b, digital_bits(pw, h[None, :], net.hidden_bias, r)[0][:SIZES[layer + 1]])
