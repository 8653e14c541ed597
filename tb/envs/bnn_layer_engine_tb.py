"""cocotb test of :class:`hw.bnn_layer_engine.BnnLayerEngine` on a trained BNN layer, both modes.

The DUT's array port is closed by :class:`tb.models.bnn_macro.BnnMacroModel`, a behavioural 2T2R
array + analog macro; its SA decisions come from E1's hardware model (:func:`tb.models.bnn_macro.make_decider`)
or, for a chip in the SA calibration state, from
:meth:`golden.bnn.sa_calibration.CalibrationState.conversion` with the applied inputs, bias drive r and
noise counter = the bank's evaluation index (:func:`make_calibration_decider`).

The same model drives the Amaranth-sim test (``tests/blocks/test_bnn_layer_engine.py``). The DUT's ``y``
transfers and ``x`` acceptances are compared, cycle by cycle, with
:class:`golden.twins.bnn_layer_engine.BnnLayerEngineModel`; the per-image bit vectors also with the golden
functions :func:`golden.twins.bnn_layer_engine.digital_bits` and :func:`analog_bits`.

SA calibration (cocotb test ``bnn_layer_engine_calibration``, :func:`calibration_scenario`): a host
driver sends the measured calibration's ramp (:func:`golden.bnn.sa_calibration.ramp_images`: per pattern,
ramp step r = 0 .. B and repeat, one analog image with ``cal = 1, ramp = r``) to a chip in the
calibration state, counts the ones per neuron from the ``y`` bits and computes the shifts
(:func:`golden.bnn.sa_calibration.calibration_from_bits`); they must equal
:meth:`golden.bnn.chip_model.BnnHardware.layer_calibration` of the same chip seed and parameters, and
the stream timeline the golden twin's. Then (same build, after a reset) the host writes bias cells
``j >= k'`` back to 0 with *its* k' (:func:`trimmed_chip`) and sends test images in random modes; every
``y`` bit and cycle must equal the golden twin of golden's own calibrated chip
(:func:`calibrated_inference_scenario`: digital = trimmed thresholds, analog = ``BnnHardware`` with
``sa_calibration = "measured"``), and the trim must change some analog bits. ``fault = {"sa":
[conversion, neuron]}`` flips one SA decision of the macro (the run then reports the mismatch, the
changed shift and the inference mismatches it causes instead of failing).
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from golden.spec.bnn_datapath_params import BnnHwParams
from golden.twins.bnn_layer_engine import words_to_bits
from tb.models.bnn_macro import BnnMacroModel, MacroPortSampler, make_decider


def hw_from_config(cfg: dict) -> BnnHwParams:
    return BnnHwParams(**cfg["hw"])


def make_calibration_decider(state):
    """``(image_idx, x_bits, bias_drive) -> bits`` of a chip in the SA calibration state
    (:class:`golden.bnn.sa_calibration.CalibrationState`): one conversion, noise counter = ``image_idx``."""
    cache: dict = {}

    def decide(image_idx: int, x_bits: np.ndarray, bias_drive: int) -> np.ndarray:
        key = (image_idx, x_bits.tobytes(), bias_drive)
        if key not in cache:
            cache[key] = state.conversion(x_bits, bias_drive, image_idx)
        return cache[key]

    return decide


def calibration_scenario(cfg: dict):
    """The SA calibration run of hidden layer ``cfg["layer"]`` (default 0) through the engine.

    ``cfg``: ``hw`` (BnnHwParams fields), ``model`` (saved BnnModel), ``seed`` (stream draws),
    ``hardware`` (HardwareConfig fields of the physical chip; its ``sa_calibration`` is set to
    "measured" with ``patterns`` / ``repeats``), ``p_valid``, ``p_ready``; ``modes`` "analog" (the
    ramp) or "mixed" (each ramp image in a random mode: digital ones give the ideal twin of the
    conversion; a unit test of the bias drive). Returns the golden run and the golden calibration.
    """
    from golden.bnn.chip_model import BnnHardware, HardwareConfig
    from golden.bnn.network import BnnModel
    from golden.bnn.sa_calibration import ramp_images
    from golden.spec.handshake import random_gen
    from golden.twins.bnn_layer_engine import BnnLayerEngineModel, array_image, digital_bits

    hw = hw_from_config(cfg)
    model = BnnModel.load(cfg["model"])
    layer = cfg.get("layer", 0)
    hc = {**cfg["hardware"], "sa_calibration": "measured", "sa_cal_patterns": cfg["patterns"],
          "sa_cal_repeats": cfg["repeats"]}
    hardware = BnnHardware(model, HardwareConfig(**hc))
    state = hardware.calibration_state(layer)
    golden_cal = hardware.layer_calibration(layer)["result"]
    ramp = ramp_images(layer, hw.inputs, hw.bias_cells, cfg["patterns"], cfg["repeats"])
    # the stored bits in the calibration state: weights as trained, every bias cell 1
    w_cal = model.extended_weights(layer).astype(np.uint8)
    w_cal[:, hw.inputs:] = 1
    array = array_image(w_cal, hw)
    rng = random.Random(f"calmodes/{cfg['seed']}")
    modes = [1 if cfg.get("modes", "analog") == "analog" else rng.randrange(2) for _ in ramp]
    # analog image index (= noise counter) = how often the array was evaluated in analog mode before
    analog_run = np.zeros((len(ramp), hw.neurons), dtype=np.uint8)
    spec = np.zeros_like(analog_run)
    k = 0
    for i, ((x, r), mode) in enumerate(zip(ramp, modes)):
        if mode:
            analog_run[i] = spec[i] = state.conversion(x, r, k)
            k += 1
        else:
            spec[i] = digital_bits(w_cal, x, hw.bias_cells, r)[0]
    images = [(x, mode, r) for (x, r), mode in zip(ramp, modes)]
    gm = BnnLayerEngineModel(hw, array, analog_run)
    accepted, outputs = gm.run(images, valid_gen=random_gen(cfg["seed"], cfg["p_valid"], 1),
                               ready_gen=random_gen(cfg["seed"], cfg["p_ready"], 2))
    return {"hw": hw, "model": model, "layer": layer, "hardware": hardware, "state": state, "images": images,
            "array": array, "accepted": accepted, "outputs": outputs, "cycles": gm.cycles, "spec": spec,
            "golden_cal": golden_cal, "modes": modes}


def host_calibration(sc: dict, bits: np.ndarray):
    """The host's side: output bits of the ramp run ``[conversions, neurons]`` -> LayerCalibration."""
    from golden.bnn.sa_calibration import calibration_from_bits

    g = sc["golden_cal"]
    return calibration_from_bits(bits, sc["layer"], sc["state"].w_in, g.k, g.bias_cells, g.repeats, g.patterns)


def sensitive_flip(sc: dict) -> tuple[int, int]:
    """(conversion, neuron) whose one flipped SA decision changes that neuron's shift (for fault tests)."""
    bits = sc["spec"]
    ref = host_calibration(sc, bits).shift
    for i in range(len(bits)):
        for j in range(bits.shape[1]):
            bad = bits.copy()
            bad[i, j] ^= 1
            if host_calibration(sc, bad).shift[j] != ref[j]:
                return i, j
    raise AssertionError("no single SA decision changes a shift")


INFER_STREAMS = (3, 4)    # random_gen streams of the calibrated-inference phase (the ramp uses 1, 2)


def trimmed_chip(sc: dict, k_trimmed: np.ndarray):
    """The chip after the host's trim: ``(model, array)`` with bias cells ``j < k'`` storing 1
    (:meth:`golden.bnn.network.BnnModel.with_bias_plus`) and its array image."""
    from golden.twins.bnn_layer_engine import array_image

    model = sc["model"].with_bias_plus(sc["layer"], k_trimmed)
    return model, array_image(model.extended_weights(sc["layer"]), sc["hw"])


def calibrated_inference_scenario(sc: dict, cfg: dict):
    """Golden run of inference on the calibrated chip of :func:`calibration_scenario` ``sc``, from
    golden's own measured calibration (``sc["golden_cal"].k_trimmed``, not the RTL's): digital = the
    integer layer with the trimmed thresholds k', analog = ``sc["hardware"]`` (``sa_calibration =
    "measured"``), analog image index = analog evaluations before. ``cfg``: ``x_path`` (saved uint8
    images), ``n_images`` (default 24); each image in a random mode. Also the uncalibrated chip's
    analog bits of the same runs (the trim must matter)."""
    from golden.bnn.chip_model import BnnHardware, HardwareConfig
    from golden.spec.handshake import random_gen
    from golden.twins.bnn_layer_engine import BnnLayerEngineModel, analog_bits, digital_bits

    hw, layer = sc["hw"], sc["layer"]
    n = cfg.get("n_images", 24)
    x = np.load(cfg["x_path"])[:n].astype(np.uint8)
    model_g, array_g = trimmed_chip(sc, sc["golden_cal"].k_trimmed)
    prog_g = model_g.extended_weights(layer)
    rng = random.Random(f"calinfer/{cfg['seed']}")
    run = [(i, rng.randrange(2)) for i in range(n)]
    pos_a = [p for p, (_, m) in enumerate(run) if m]
    xa = x[[run[p][0] for p in pos_a]]
    analog_run = np.zeros((n, hw.neurons), dtype=np.uint8)
    analog_run[pos_a] = analog_bits(sc["hardware"], xa, layer)
    uncal = BnnHardware(sc["model"], HardwareConfig(**{**cfg["hardware"], "sa_calibration": "none"}))
    uncal_run = analog_run.copy()
    uncal_run[pos_a] = analog_bits(uncal, xa, layer)
    images = [(x[i], m) for i, m in run]
    gm = BnnLayerEngineModel(hw, array_g, analog_run)
    accepted, outputs = gm.run(images, valid_gen=random_gen(cfg["seed"], cfg["p_valid"], INFER_STREAMS[0]),
                               ready_gen=random_gen(cfg["seed"], cfg["p_ready"], INFER_STREAMS[1]))
    modes = np.array([m for _, m in run])
    spec = np.where(modes[:, None] == 1, analog_run, digital_bits(prog_g, x[[i for i, _ in run]], hw.bias_cells))
    return {"images": images, "modes": modes, "accepted": accepted, "outputs": outputs, "cycles": gm.cycles,
            "spec": spec, "uncal_analog": uncal_run, "array": array_g}


def scenario(cfg: dict):
    """Everything both simulators need: (hw, model, images [(x, mode)], array, golden run, spec bits).

    ``cfg``: ``hw`` (BnnHwParams fields), ``model`` (path of a saved BnnModel), ``n_images``, the
    inputs (``x_path``: a saved uint8 ``[images, inputs]`` array; ``x_random``: seeded random bits;
    else the binarised digits test set),
    ``hardware`` (HardwareConfig fields: mode "authors", seed, bit_error), ``seed``, ``p_valid``,
    ``p_ready``, ``order`` ("blocks": all digital then all analog; "mixed": random modes).
    """
    from golden.bnn.chip_model import BnnHardware, HardwareConfig
    from golden.bnn.network import BnnModel, binarize_images
    from golden.data.datasets import load_digits
    from golden.spec.handshake import random_gen
    from golden.twins.bnn_layer_engine import (
        BnnLayerEngineModel,
        analog_bits,
        array_image,
        digital_bits,
        programmed_bits,
    )

    hw = hw_from_config(cfg)
    model = BnnModel.load(cfg["model"])
    n = cfg["n_images"]
    if cfg.get("x_random"):
        x = np.random.default_rng(cfg["seed"]).integers(0, 2, (n, hw.inputs), dtype=np.uint8)
    elif cfg.get("x_path"):                   # binarised test images saved by the pytest wrapper
        x = np.load(cfg["x_path"])[:n].astype(np.uint8)
    else:
        x = binarize_images(load_digits().x_test[:n])
    hc = cfg["hardware"]
    layer = cfg.get("layer", 0)               # hidden layer of ``model`` the engine holds
    prog = programmed_bits(model.extended_weights(layer), seed=hc["seed"],
                           bit_error=hc.get("bit_error") or 0.0)
    array = array_image(prog, hw)
    dig = digital_bits(prog, x, hw.bias_cells)
    hardware = BnnHardware(model, HardwareConfig(**hc))
    ana = analog_bits(hardware, x, layer)
    rng = random.Random(f"modes/{cfg['seed']}")
    if cfg.get("order", "blocks") == "blocks":
        run = [(i, 0) for i in range(n)] + [(i, 1) for i in range(n)]
    elif cfg["order"] in ("digital", "analog"):   # one mode only
        run = [(i, int(cfg["order"] == "analog")) for i in range(n)]
    else:
        run = [(i, rng.randrange(2)) for i in range(n)]
    # analog image index = how often the array was evaluated in analog mode before
    analog_run = np.zeros((len(run), hw.neurons), dtype=np.uint8)
    pos_a = [pos for pos, (_, mode) in enumerate(run) if mode]
    if pos_a:
        analog_run[pos_a] = analog_bits(hardware, x[[run[p][0] for p in pos_a]], layer, image_offset=0)
    images = [(x[i], mode) for i, mode in run]
    gm = BnnLayerEngineModel(hw, array, analog_run)
    accepted, outputs = gm.run(images, valid_gen=random_gen(cfg["seed"], cfg["p_valid"], 1),
                               ready_gen=random_gen(cfg["seed"], cfg["p_ready"], 2))
    spec = np.where(np.array([m for _, m in run])[:, None] == 1, analog_run, dig[[i for i, _ in run]])
    return {"hw": hw, "model": model, "layer": layer, "x": x, "run": run, "images": images, "array": array,
            "accepted": accepted, "outputs": outputs, "cycles": gm.cycles, "spec": spec,
            "digital": dig, "analog": ana, "analog_run": analog_run, "hc": hc}


# --- randomized stimulus (long regressions) ------------------------------------------------------
def random_layer(hw: BnnHwParams, rng: np.random.Generator):
    """A random hidden layer of ``hw``'s shape as a :class:`golden.bnn.network.BnnModel` (with a
    3-class output layer the engine never sees): each neuron's weights with its own density of ones
    (0..1), thresholds anywhere in the range the bias cells realise
    (:func:`golden.bnn.network.threshold_range`), its two ends a quarter of the time.
    ``hw.bias_cells`` must be the model's count for ``hw.inputs`` (bias fraction 0.05)."""
    from golden.bnn.model_params import n_bias_cells
    from golden.bnn.network import BnnModel, threshold_range

    n, m = hw.inputs, hw.neurons
    if hw.bias_cells != n_bias_cells(n):
        raise ValueError(f"bnn.bias_cells = {hw.bias_cells}: a random layer of {n} inputs has "
                         f"{n_bias_cells(n)} bias cells")
    lo, hi = threshold_range(n)
    w0 = (rng.random((m, n)) < rng.random(m)[:, None]).astype(np.uint8)
    t0 = rng.integers(lo, hi + 1, m)
    ends = rng.random(m) < 0.25
    t0[ends] = rng.choice([lo, hi], int(ends.sum()))
    w1 = rng.integers(0, 2, (3, m), dtype=np.uint8)
    return BnnModel(layers=[(w0, t0.astype(np.int64)), (w1, None)], bias_fraction=0.05,
                    thresholds_raw=[t0.astype(np.int64)])


def random_phase_config(cfg: dict, k: int, workdir: Path) -> dict:
    """Phase ``k`` of the randomized mode as a :func:`scenario` configuration: a :func:`random_layer`
    and ``cfg["images"]`` (default 16) random input vectors (each with its own density of ones) saved
    in ``workdir``, random modes (``order = "mixed"``), the "authors" chip model with a bit-error rate
    of 0, 1 % or 5 %; phase seed ``seed * 1000 + k`` (streams, modes, chip)."""
    hw = hw_from_config(cfg)
    rng = np.random.default_rng([int(cfg["seed"]), k, 29])
    n = int(cfg.get("images", 16))
    x = (rng.random((n, hw.inputs)) < rng.random(n)[:, None]).astype(np.uint8)
    model_path = random_layer(hw, rng).save(workdir / "random_layer.npz")
    x_path = workdir / "random_inputs.npy"
    np.save(x_path, x)
    seed = int(cfg["seed"]) * 1000 + k
    return {**cfg, "model": str(model_path), "x_path": str(x_path), "n_images": n, "order": "mixed",
            "seed": seed, "hardware": {"mode": "authors", "seed": seed,
                                       "bit_error": float(rng.choice([0.0, 0.01, 0.05]))}}


def x_payloads(images) -> list[dict]:
    """``x`` stream items: ``{"bits": int (bit i = input i), "analog": mode, "cal", "ramp"}`` from
    ``(x_bits, mode)`` (``cal = 0``: every bias row driven) or ``(x_bits, mode, bias_drive)`` (``cal = 1,
    ramp = bias_drive``)."""
    out = []
    for xb, m, *drive in images:
        r = drive[0] if drive else None
        out.append({"bits": int.from_bytes(np.packbits(xb, bitorder="little").tobytes(), "little"), "analog": int(m),
                    "cal": int(r is not None), "ramp": 0 if r is None else int(r)})
    return out


def bits_per_image(outputs, n_images: int, neurons: int, bank: int) -> np.ndarray:
    """Reassemble ``y`` word transfers into ``[images, neurons]`` (raises if the order is broken)."""
    seq = [t[1] if isinstance(t, tuple) else t.value for t in outputs]
    banks = -(-neurons // bank)
    if len(seq) != n_images * banks:
        raise AssertionError(f"{len(seq)} output words, expected {n_images * banks}")
    return words_to_bits(seq, neurons, bank)


def neuron_edge(j: int, neurons: int, bank: int) -> str:
    """Where neuron ``j`` sits: first/last of the layer, first/last of its bank, or inside a bank."""
    if j == 0:
        return "layer_first"
    if j == neurons - 1:
        return "layer_last"
    return "bank_first" if j % bank == 0 else "bank_last" if j % bank == bank - 1 else "bank_inside"


def sample_coverage(cov, hw: BnnHwParams, sent, received) -> None:
    """Functional coverage from the monitors: every output bit (of the ``y`` words) by neuron edge (layer and bank edges),
    bank index, mode and value; every accepted image by mode and the mode of the image before it."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    banks = -(-hw.neurons // hw.bank)
    edges = ["layer_first", "bank_first", "bank_inside", "bank_last", "layer_last"]
    # a bank of one or two neurons has no inside, of one no last; a single bank no second bank edge
    present = {neuron_edge(j, hw.neurons, hw.bank) for j in range(hw.neurons)}
    edges = [e for e in edges if e in present]
    modes = ["digital", "analog"]
    out = cov.group("output", {"edge": edges, "bank": list(range(banks)), "mode": modes, "bit": [0, 1]},
                    {"edge_x_mode_x_bit": ("edge", "mode", "bit"), "bank_x_mode": ("bank", "mode")})
    img = cov.group("image", {"mode": modes, "prev": modes, "cal": [0, 1]}, {"prev_x_mode": ("prev", "mode")},
                    shared=True)   # independent of the layer's size: merged over the tests
    mode_of = [modes[int(t.value["analog"])] for t in sent]
    for k, t in enumerate(sent):
        img.sample(mode=mode_of[k], prev=mode_of[k - 1] if k else None, cal=int(t.value["cal"]))
    for k, t in enumerate(received):
        i, b = divmod(k, banks)
        for j in range(b * hw.bank, min((b + 1) * hw.bank, hw.neurons)):
            out.sample(edge=neuron_edge(j, hw.neurons, hw.bank), bank=b,
                       mode=mode_of[i] if i < len(mode_of) else None, bit=(t.value.bits >> (j - b * hw.bank)) & 1)


# ---------------------------------------------------------------------------------------------
# cocotb test
# ---------------------------------------------------------------------------------------------
try:
    import cocotb
    from cocotb.triggers import ReadOnly, RisingEdge
except ImportError:  # pragma: no cover - the Amaranth-sim test imports this module without cocotb
    cocotb = None

if cocotb is not None:

    from golden.spec.handshake import random_gen
    from golden.twins.bnn_layer_engine import OutWord
    from hw.bnn_layer_engine import in_layout, out_word_layout
    from tb.kit.coverage import Coverage
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch
    from tb.kit.testbench import Testbench

    class TB(Testbench):
        """Driver on ``x``, monitor on ``y`` and a :class:`BnnMacroModel` on the array port.

        :meth:`run_engine` runs one phase from its own reset, so a test may run several phases on
        one clock (the counter restarts at each).
        """

        IDLE = ("x__valid", "y__ready", "rd_valid", "rd_bits", "sa_out", "cfg__we", "cfg__addr", "cfg__data")

        def __init__(self, dut, hw: BnnHwParams, cfg: dict):
            super().__init__(dut, idle=[getattr(dut, name) for name in self.IDLE])
            self.hw, self.cfg = hw, cfg
            self.port = MacroPortSampler(dut, hw, ("read", "addr_error", "input_en"))

        async def run_engine(self, macro: BnnMacroModel, images, n_cycles: int,
                             streams: tuple[int, int] = (1, 2)):
            """Reset, stream ``images`` in (seeded idle cycles, ``random_gen`` stream ``streams[0]``) and
            ``y`` out (seeded backpressure, stream ``streams[1]``) for ``n_cycles`` cycles while ``macro``
            closes the array port; then stop the drivers. Returns ``(source, sink, wall s)``."""
            hw, cfg, seed = self.hw, self.cfg, self.cfg["seed"]
            await self.reset()
            t0 = time.perf_counter()
            src = self.stream_source("x", in_layout(hw), random_gen(seed, cfg["p_valid"], streams[0]))
            snk = self.stream_sink("y", out_word_layout(hw), random_gen(seed, cfg["p_ready"], streams[1]),
                                   convert=lambda d: OutWord(**d))
            src.send(x_payloads(images))
            src.start()
            snk.start()
            await self.close_port(macro, n_cycles)
            src.stop()
            snk.stop()
            self.counter.stop()
            return src, snk, time.perf_counter() - t0

        async def close_port(self, macro: BnnMacroModel, n_cycles: int) -> None:
            """Sample the array port in ``ReadOnly`` of each cycle and drive the macro's answer after
            the next edge (only the inputs that change are written)."""
            dut, port = self.dut, self.port
            rd_valid, rd_bits, sa_out = dut.rd_valid, dut.rd_bits, dut.sa_out
            last = {"rd_valid": 0, "rd_bits": 0, "sa_out": 0}
            edge = RisingEdge(self.clk)
            for c in range(n_cycles):
                await ReadOnly()
                drive = macro.step(c, port.sample())
                await edge
                if drive["rd_valid"] != last["rd_valid"]:
                    rd_valid.value = drive["rd_valid"]
                if drive["rd_bits"] != last["rd_bits"]:
                    rd_bits.value = drive["rd_bits"]
                if drive["sa_out"] != last["sa_out"]:
                    sa_out.value = drive["sa_out"]
                last = drive

    @cocotb.test()
    async def bnn_layer_engine_trained_layer(dut):
        cfg = test_config()
        seed = cfg["seed"]
        sc = scenario(cfg)
        hw = sc["hw"]
        dut._log.info(f"seed {seed}: {len(sc['images'])} image runs, golden {sc['cycles']} cycles")
        macro = BnnMacroModel(hw, sc["array"], make_decider(sc["model"], sc["hc"], sc["layer"]), seed)
        modes = [m for _, m in sc["images"]]
        end = sc["cycles"] + 20
        src, snk, wall = await TB(dut, hw, cfg).run_engine(macro, sc["images"], end)

        assert not macro.violations, f"seed {seed}: array/macro line violations: {macro.violations[:5]}"
        acc = [(t.cycle, i) for i, t in enumerate(src.sent)]
        Scoreboard("bnn_layer_engine.x", seed=seed).check(sc["accepted"], acc)
        compared = Scoreboard("bnn_layer_engine.y", seed=seed).check(sc["outputs"], snk.received)
        got = bits_per_image(snk.received, len(sc["images"]), hw.neurons, hw.bank)
        cov = Coverage("bnn_layer_engine", cfg)
        sample_coverage(cov, hw, src.sent, snk.received)
        cov.write()
        modes_a = np.array(modes)
        mism_d = int(np.sum(got[modes_a == 0] != sc["spec"][modes_a == 0]))
        mism_a = int(np.sum(got[modes_a == 1] != sc["spec"][modes_a == 1]))
        assert mism_d == 0 and mism_a == 0, f"seed {seed}: {mism_d} digital, {mism_a} analog bit mismatches"

        # The scoreboard must fail on a mutated expectation and name the cycle.
        j = len(sc["outputs"]) // 2
        c, ob = sc["outputs"][j]
        bad = list(sc["outputs"])
        bad[j] = (c, OutWord(ob.word, ob.bits ^ 1, ob.last))
        try:
            Scoreboard("mutated", seed=seed).check(bad, snk.received)
        except ScoreboardMismatch as e:
            assert e.cycle == c and f"cycle {c}" in str(e), str(e)
        else:
            raise AssertionError("scoreboard accepted a mutated expectation")

        n = cfg["n_images"]
        dig_vs_ana = int(np.sum(sc["digital"] != sc["analog"]))
        dut._log.info(f"{compared} output words ({got.size} bits) match cycle-exact; {macro.reads} bridges in "
                      f"{macro.word_reads} reads, "
                      f"{macro.decisions} SA decisions; {end} cycles in {wall:.1f} s")
        metrics = {"images": n, "image_runs": len(sc["images"]), "output_words": compared, "output_bits": int(got.size),
                   "mismatches_digital": mism_d, "mismatches_analog": mism_a,
                   "analog_vs_digital_bits_differing": dig_vs_ana,
                   "bridge_reads": macro.reads, "word_reads": macro.word_reads,
                   "read_lanes": hw.read_lanes, "sa_decisions": macro.decisions,
                   "cycles": end, "sim_seconds": wall}
        Path("metrics_bnn_layer_engine.json").write_text(json.dumps(metrics))
        np.save("bnn_layer_engine_bits.npy", got)          # [image runs, neurons] as observed on y

    @cocotb.test()
    async def bnn_layer_engine_random(dut):
        """Randomized stimulus: phases of a random layer (weights, thresholds), random inputs and
        modes (:func:`random_phase_config`), each from its own reset, compared with the golden twin
        cycle by cycle (``x`` acceptances, ``y`` words) and bit by bit with the golden functions.
        One phase, or with ``min_cycles`` (long regressions) phases until that many cycles have run;
        ``stats_path``: a JSON file with the cycles and bits checked."""
        cfg = test_config()
        hw = hw_from_config(cfg)
        tb = TB(dut, hw, cfg)
        cov = Coverage("bnn_layer_engine", cfg)
        min_cycles = int(cfg.get("min_cycles", 0))
        cycles = phases = images = words = bits = 0
        while True:
            pcfg = random_phase_config(cfg, phases, Path.cwd())
            seed = pcfg["seed"]
            sc = scenario(pcfg)
            macro = BnnMacroModel(hw, sc["array"], make_decider(sc["model"], sc["hc"], sc["layer"]), seed)
            tb.cfg = pcfg            # run_engine draws its stream timing from the phase's seed
            end = sc["cycles"] + 20
            src, snk, wall = await tb.run_engine(macro, sc["images"], end)
            assert not macro.violations, f"seed {seed}: array/macro line violations: {macro.violations[:5]}"
            Scoreboard(f"bnn_layer_engine.x phase {phases}", seed=seed).check(
                sc["accepted"], [(t.cycle, i) for i, t in enumerate(src.sent)])
            words += Scoreboard(f"bnn_layer_engine.y phase {phases}", seed=seed).check(sc["outputs"], snk.received)
            got = bits_per_image(snk.received, len(sc["images"]), hw.neurons, hw.bank)
            bad = int(np.sum(got != sc["spec"]))
            assert bad == 0, f"seed {seed}: {bad} output bits differ from the golden functions"
            bits += got.size
            sample_coverage(cov, hw, src.sent, snk.received)
            dut._log.info(f"phase {phases} (seed {seed}): {len(sc['images'])} images, {len(snk.received)} y words "
                          f"({got.size} bits), {end} cycles in {wall:.1f} s, 0 mismatches")
            cycles += end
            images += len(sc["images"])
            phases += 1
            if cycles >= min_cycles:
                break
        cov.write()
        if cfg.get("stats_path"):
            Path(cfg["stats_path"]).write_text(json.dumps({"cycles": cycles, "phases": phases, "images": images,
                                                           "y_words": words, "output_bits": bits}))

    @cocotb.test()
    async def bnn_layer_engine_calibration(dut):
        """SA calibration ramp through the engine: host-side shifts == golden measured calibration; then
        the host trims the bias cells and images in both modes must match golden's calibrated chip."""
        cfg = test_config()
        seed = cfg["seed"]
        sc = calibration_scenario(cfg)
        hw = sc["hw"]
        decide = make_calibration_decider(sc["state"])
        fault = cfg.get("fault") or {}
        if "sa" in fault:                       # flip one SA decision of the macro (not of the golden)
            fi, fj = fault["sa"]
            inner = decide

            def decide(image_idx, x_bits, bias_drive):
                bits = inner(image_idx, x_bits, bias_drive).copy()
                if image_idx == fi:
                    bits[fj] ^= 1
                return bits
        macro = BnnMacroModel(hw, sc["array"], decide, seed)
        end = sc["cycles"] + 20
        dut._log.info(f"seed {seed}: calibration ramp of {len(sc['images'])} conversions, golden {sc['cycles']} cycles")
        tb = TB(dut, hw, cfg)
        src, snk, wall = await tb.run_engine(macro, sc["images"], end)

        errors = []
        if macro.violations:
            errors.append(f"line violations: {macro.violations[:5]}")
        acc = [(t.cycle, i) for i, t in enumerate(src.sent)]
        first_mismatch = None
        try:
            Scoreboard("bnn_layer_engine.x", seed=seed).check(sc["accepted"], acc)
            Scoreboard("bnn_layer_engine.y", seed=seed).check(sc["outputs"], snk.received)
        except ScoreboardMismatch as e:
            first_mismatch = {"cycle": e.cycle, "index": e.index, "message": str(e)[:300]}
            errors.append(f"scoreboard: {e}")
        got = bits_per_image(snk.received, len(sc["images"]), hw.neurons, hw.bank)
        host = host_calibration(sc, got)
        g = sc["golden_cal"]
        differ = [int(j) for j in np.flatnonzero(host.shift != g.shift)]
        if differ:
            errors.append(f"shifts differ from golden at neurons {differ[:10]}")
        bit_mism = int(np.sum(got != sc["spec"]))
        dut._log.info(f"calibration: {len(sc['images'])} conversions, {bit_mism} bit mismatches, "
                      f"shifts {'==' if not differ else '!='} golden (nonzero: {int(np.sum(g.shift != 0))}); "
                      f"{end} cycles in {wall:.1f} s")
        # phase 2, inference on the calibrated chip: the host writes bias cells j >= k' back to 0 (its own
        # k', from the counted bits) in the macro's array; then images in both modes (same build, reset)
        model_h, array_h = trimmed_chip(sc, host.k_trimmed)
        if np.any(array_h > sc["array"]):
            errors.append("the trim would set a bias cell (it may only clear cells j >= k')")
        bias_writes = int(np.sum(sc["array"]) - np.sum(array_h))
        inf = calibrated_inference_scenario(sc, cfg)
        macro_i = BnnMacroModel(hw, array_h, make_decider(model_h, {**cfg["hardware"], "sa_calibration": "none"},
                                                          sc["layer"]), seed + 1)
        end_i = inf["cycles"] + 20
        src_i, snk_i, wall_i = await tb.run_engine(macro_i, inf["images"], end_i, streams=INFER_STREAMS)
        if macro_i.violations:
            errors.append(f"inference line violations: {macro_i.violations[:5]}")
        inf_first = None
        try:
            Scoreboard("bnn_layer_engine.x.calibrated", seed=seed).check(
                inf["accepted"], [(t.cycle, i) for i, t in enumerate(src_i.sent)])
            inf_compared = Scoreboard("bnn_layer_engine.y.calibrated", seed=seed).check(inf["outputs"], snk_i.received)
        except ScoreboardMismatch as e:
            inf_compared = None
            inf_first = {"cycle": e.cycle, "index": e.index, "message": str(e)[:300]}
            errors.append(f"calibrated inference scoreboard: {e}")
        got_i = bits_per_image(snk_i.received, len(inf["images"]), hw.neurons, hw.bank)
        if not fault:
            cov = Coverage("bnn_layer_engine", cfg)
            sample_coverage(cov, hw, list(src.sent) + list(src_i.sent), list(snk.received) + list(snk_i.received))
            cov.write()
        ma = inf["modes"] == 1
        mism_d = int(np.sum(got_i[~ma] != inf["spec"][~ma]))
        mism_a = int(np.sum(got_i[ma] != inf["spec"][ma]))
        trim_changed = int(np.sum(inf["spec"][ma] != inf["uncal_analog"][ma]))
        if mism_d or mism_a:
            errors.append(f"calibrated inference: {mism_d} digital, {mism_a} analog bit mismatches")
        if not trim_changed:
            errors.append("calibrated analog outputs equal the uncalibrated ones: the trim is not exercised")
        dut._log.info(f"calibrated inference: {len(inf['images'])} images ({int(ma.sum())} analog), "
                      f"{bias_writes} bias-cell writes, {mism_d}/{mism_a} digital/analog bit mismatches, "
                      f"trim changes {trim_changed} analog bits; {end_i} cycles in {wall_i:.1f} s")
        inference = {"images": len(inf["images"]), "analog_images": int(ma.sum()), "bias_writes": bias_writes,
                     "output_words": len(snk_i.received), "compared": inf_compared, "mismatches_digital": mism_d,
                     "mismatches_analog": mism_a, "trim_changed_analog_bits": trim_changed,
                     "analog_bits": int(ma.sum()) * hw.neurons, "first_mismatch": inf_first,
                     "cycles": end_i, "sim_seconds": wall_i}
        metrics = {"conversions": len(sc["images"]), "patterns": g.patterns, "repeats": g.repeats,
                   "bias_cells": g.bias_cells, "neurons": hw.neurons, "output_words": len(snk.received),
                   "bit_mismatches": bit_mism, "shift_differs": differ, "shifts_rtl": host.shift.tolist(),
                   "shifts_golden": g.shift.tolist(), "first_mismatch": first_mismatch,
                   "sa_decisions": macro.decisions, "cycles": end, "golden_cycles": sc["cycles"],
                   "first_accept": sc["accepted"][0][0], "last_output": sc["outputs"][-1][0],
                   "sim_seconds": wall, "inference": inference, "errors": errors}
        Path("metrics_bnn_layer_engine_calibration.json").write_text(json.dumps(metrics))
        if not fault:
            assert not errors, f"seed {seed}: {errors}"
