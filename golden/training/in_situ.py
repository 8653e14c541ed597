"""In-situ training of an MLP on multi-ReRAM synapse arrays (Boybat et al.), with an FP baseline.

Network: ``n_in - hidden - 10``, ReLU hidden layer, softmax output with cross-entropy, biases as an
extra array row driven by a constant 1 input; one :class:`~golden.training.multi_device_synapses.SynapseArray` per
layer (``(n_in + 1) x hidden`` and ``(hidden + 1) x 10`` synapses). Online SGD with batch size 1.

Per training sample (one *update cycle* of both arrays):

1. forward pass in floating point from the device conductances, with device read noise;
2. backward pass in floating point (the error through layer 2 is another noisy array read);
3. ``dW = -lr * outer(a, delta)`` for each layer goes through the hardware's update path
   (:meth:`SynapseArray.update`: x and delta codes -> the outer-product engine's exact dw -> chi
   accumulator -> ArbitrationController -> device pulses); no weight is ever written directly;
4. every ``refresh_every`` cycles (differential mode) saturated synapses are refreshed.

Read noise (``read_noise``): ``"output"`` (default) adds to each array output the Gaussian noise
that independent per-device read noise produces, ``a @ (W + dW_read)``, whose variance is
``scale**2 * (read_mult**2 * a**2 @ sum_d G_d**2 + D * read_add**2 * sum a**2)`` (exact in
distribution, drawn counter-based per output and sample); ``"device"`` reads every device through
:meth:`golden.physics.device.DeviceModel.read` each sample (slow; what an RTL-in-the-loop run with the
behavioural array does); ``"off"`` uses noise-free conductances.

Initial weights: Glorot-uniform ``W0`` from the seed, programmed open loop into the devices
(:meth:`SynapseArray.program_weights`); the FP baseline starts from the same ``W0`` and sees the
same samples in the same order with the same learning rate.

Weight window: layer ``l`` spans ``[-w_max_l, w_max_l]`` with ``w_max_l = w_range * sqrt(6 / (fan_in
+ fan_out))`` (``w_range = 5`` Glorot bounds by default), wide enough that the trained FP weights of
this network fit (|W| after one MNIST epoch, seed 0: 99.9th percentile 2.7 and 4.3 bounds, maximum 4.7 and
4.6 bounds in layers 1 and 2).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from golden.data.datasets import Dataset
from golden.physics.device import RERAM_BINARY, RERAM_HFO2, DeviceModel, DeviceParams
from golden.spec import rng
from golden.spec.params import (
    AccelParams,
    ArrayParams,
    ConfigError,
    EngineParams,
    SynapseParams,
    UpdateParams,
    check_choice,
    check_float,
    check_int,
)
from golden.training.multi_device_synapses import (
    ArrayConfig,
    DeviceStore,
    SynapseArray,
    apply_plans,
    check_layer_fits,
)

#: counter-based stream index offsets of the output-referred read noise (disjoint from device ids)
_NOISE_INDEX = 1 << 48
_EVAL_COUNTER = 1 << 41


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that defines a training run (network, schedule, hardware, device).

    Attributes
    ----------
    hidden : int, 1..4096
        Hidden layer width.
    lr : float, (0, 10]
        SGD learning rate (batch 1) at the start of training, used for the FP baseline and in situ alike.
    lr_schedule : "constant" | "linear" | "cosine" | "step"
        How the learning rate goes from ``lr`` (first sample) to ``lr_end`` (last sample) over all
        ``epochs * samples`` update cycles (:func:`lr_at`): constant (``lr_end`` ignored), linear or
        cosine per sample, or step = geometric per epoch (``lr * (lr_end / lr) ** (e / (epochs - 1))``
        in epoch ``e``).
    lr_end : float, (0, 10]
        Final learning rate of a decaying schedule; must not exceed ``lr``.
    epochs : int, 1..1000
    train_samples : int or None
        Use only the first K training samples (None: all).
    w_range : float, (0, 100]
        Weight window of each layer in Glorot bounds (see module docstring).
    read_noise : "output" | "device" | "off"
    refresh_every : int, 1..10**9
        Differential mode: check for saturated synapses every this many update cycles.
    refresh_threshold : float, 0.05..1
        Refresh when a group's mean conductance exceeds this fraction of the window.
    seed : int, >= 0
        Seeds the initial weights, sample order and the chip (device model).
    synapse, update, engine : SynapseParams, UpdateParams, EngineParams
        Hardware parameters (N devices, differential, increment, periods, refresh pulses; the update
        formats; the x and delta code formats of the outer-product engine, see :func:`engine_params_for`).
        ``synapse.refresh_pulses`` is raised automatically to what the device needs for a full RESET
        when it is left at 1 (see :func:`refresh_pulses_for`).
    device : DeviceParams
    """

    hidden: int = 250
    lr: float = 0.01
    lr_schedule: str = "constant"
    lr_end: float = 0.001
    epochs: int = 1
    train_samples: int | None = None
    w_range: float = 5.0
    read_noise: str = "output"
    refresh_every: int = 100
    refresh_threshold: float = 0.85
    seed: int = 0
    synapse: SynapseParams = field(default_factory=SynapseParams)
    update: UpdateParams = field(default_factory=UpdateParams)
    engine: EngineParams = field(default_factory=EngineParams)
    device: DeviceParams = field(default_factory=lambda: RERAM_HFO2)

    def __post_init__(self):
        check_int("training.hidden", self.hidden, 1, 4096)
        check_float("training.lr", self.lr, 0.0, 10.0, lo_open=True)
        check_choice("training.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_float("training.lr_end", self.lr_end, 0.0, 10.0, lo_open=True)
        if self.lr_schedule != "constant" and self.lr_end > self.lr:
            raise ConfigError(f"training.lr_end = {self.lr_end} must be in (0, lr = {self.lr}] "
                              f"for the decaying schedule {self.lr_schedule!r}")
        check_int("training.epochs", self.epochs, 1, 1000)
        if self.train_samples is not None:
            check_int("training.train_samples", self.train_samples, 1)
        check_float("training.w_range", self.w_range, 0.0, 100.0, lo_open=True)
        check_choice("training.read_noise", self.read_noise, ("output", "device", "off"))
        check_int("training.refresh_every", self.refresh_every, 1, 10 ** 9)
        check_float("training.refresh_threshold", self.refresh_threshold, 0.05, 1.0)
        check_int("training.seed", self.seed, 0, 2 ** 63 - 1)
        for name, cls in (("synapse", SynapseParams), ("update", UpdateParams), ("engine", EngineParams),
                          ("device", DeviceParams)):
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"training.{name} must be a {cls.__name__}")

    def to_dict(self) -> dict:
        return asdict(self)


LR_SCHEDULES = ("constant", "linear", "cosine", "step")

#: default schedule per dataset (``reram-accel train`` / ``train-sweep``; see docs/RESULTS.md, issue 3)
DATASET_DEFAULTS = {
    "mnist": {"epochs": 3, "lr": 0.01, "lr_schedule": "linear", "lr_end": 0.001},
    "digits": {"epochs": 10, "lr": 0.01, "lr_schedule": "constant", "lr_end": 0.001},
}

#: P, the update engine's lanes, of the accelerator generated for a data set's network (per layer at
#: most the largest power of two <= its columns: 128 and 8 for 784-250-10). 128 keeps MNIST training
#: within 1.3x of max(vector load, pulses) per sample (docs/RESULTS.md, "Training throughput"); the
#: arithmetic and the pulse order do not depend on P. Other data sets: the parameter tree's default.
ENGINE_LANES = {"mnist": 128}


def lr_at(cfg: TrainingConfig, t: int, total: int) -> float:
    """Learning rate of update cycle ``t`` of ``total`` (0-based) under ``cfg.lr_schedule``.

    ``linear`` / ``cosine`` reach ``lr_end`` at the last cycle; ``step`` holds one value per epoch.
    """
    lr0, lr1 = cfg.lr, cfg.lr_end
    if cfg.lr_schedule == "constant":
        return lr0
    if cfg.lr_schedule == "step":
        if cfg.epochs == 1:
            return lr0
        ep = min(cfg.epochs - 1, t * cfg.epochs // max(total, 1))
        return lr0 * (lr1 / lr0) ** (ep / (cfg.epochs - 1))
    f = t / max(total - 1, 1)
    if cfg.lr_schedule == "linear":
        return lr0 + (lr1 - lr0) * f
    return lr1 + 0.5 * (lr0 - lr1) * (1.0 + math.cos(math.pi * f))


def lr_text(cfg: TrainingConfig) -> str:
    """``lr 0.01`` or ``lr 0.01 -> 0.001 (linear)``."""
    if cfg.lr_schedule == "constant":
        return f"lr {cfg.lr:g}"
    return f"lr {cfg.lr:g} -> {cfg.lr_end:g} ({cfg.lr_schedule})"


def make_config(devices: int = 4, differential: bool = False, binary: bool = False, **kw) -> TrainingConfig:
    """Convenience: the default configuration with N devices, (non-)differential, analog or binary."""
    inc = 1
    if devices > 2:  # the largest co-prime increment below N spreads consecutive cycles apart
        inc = max(i for i in range(1, devices) if math.gcd(i, devices) == 1 and i <= devices // 2 + 1)
    syn = SynapseParams(devices=devices, increment=inc, differential=differential)
    dev = kw.pop("device", RERAM_BINARY if binary else RERAM_HFO2)
    update = kw.pop("update", update_params_for(devices))
    engine = kw.pop("engine", engine_params_for(differential, binary, devices))
    return TrainingConfig(synapse=syn, device=dev, update=update, engine=engine, **kw)


def update_params_for(devices: int, dw_width: int = 12, chi_width: int = 16,
                      lsb_per_pulse: int = 256) -> UpdateParams:
    """UpdateUnit formats for N devices: the LSB is 1/256 of one *single-device* pulse for every N.

    With the weight window fixed, one pulse moves a weight by 1/N of a single-device step, so the
    threshold is ``eps = round(256 / N)`` LSBs and the pulse-count field grows by log2(N) bits; dw
    (12 bits: +-8 single-device steps per update) and chi (16 bits) then mean the same weight range
    for every N, so a larger N never saturates an update that a smaller N would pass.
    """
    eps = max(1, round(lsb_per_pulse / devices))
    count_width = min(8, 4 + math.ceil(math.log2(devices)))
    return UpdateParams(dw_width=dw_width, chi_width=chi_width, eps=eps, count_width=count_width)


def engine_params_for(differential: bool, binary: bool = False, devices: int = 4) -> EngineParams:
    """x and delta code formats of the outer-product engine for a synapse kind.

    Measured on MNIST (784-250-10, seed 0, lr 0.01; the first samples have the largest errors):

    * x codes: the default 10 bits with 7 fraction bits (0 .. 7.99 in steps of 1/128) hold the pixels
      and the bias input 1 exactly enough, and the hidden ReLU outputs of analog synapses nearly
      always (they exceed 8 in about 5 of a million codes at N = 1 over one epoch, never from N = 4
      on), and those of binary devices from N = 2 on (2 in 100,000 codes). One binary device per
      weight gives only the weights +-w_max and much larger activations (the largest hidden output
      of a sample is 9 in the median and up to 18, so 0.8 % of the layer-2 codes would saturate in the
      first 1500 samples): 12 bits there (0 .. 31.99, the same 1/128 steps).
    * delta codes are the error in dw LSBs, ``-lr * delta / lsb``; the LSB is a fixed share of the
      weight change of one mean device pulse, so the range they need depends on the synapse kind, not
      on N. Non-differential analog: at most 70 LSBs in layer 1 and 22 in layer 2 over one epoch: the
      default 16 bits with 8 fraction bits (+-128 LSBs in steps of 1/256) fit. Differential: one pulse
      moves a weight half as far (``scale`` spans ``2N`` devices), so the same update is twice as many
      LSBs: ``delta_frac = 7`` (+-256 LSBs in steps of 1/128) keeps the headroom. Binary: one pulse is
      a quarter of the window, 3.2x the analog mean step, so the errors are 3.2x fewer LSBs: the
      default fits.

    The resolution is far below the dw LSB in every case (products are rounded to whole LSBs). Every
    run counts its saturations (``train_insitu(...)["saturations"]``); the train-sweep section of
    docs/RESULTS.md gives their fractions.
    """
    return EngineParams(x_width=12 if binary and devices == 1 else 10, delta_frac=7 if differential else 8)


def refresh_pulses_for(p: DeviceParams) -> int:
    """RESET pulses that bring the nominal device from g_max to within 2 % of the window of g_min."""
    if p.binary:
        q = 1.0 - p.p_reset
        return 255 if q >= 1.0 else int(min(255, max(1, math.ceil(math.log(0.01) / math.log(max(q, 1e-12))))))
    if p.reset_mode == "abrupt":
        return 1
    g, n = p.g_max, 0
    while g > p.g_min + 0.02 * (p.g_max - p.g_min) and n < 255:
        g += float(p.mean_step(g, 0))
        n += 1
    return max(1, n)


def glorot(rng_: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    b = math.sqrt(6.0 / (fan_in + fan_out))
    return rng_.uniform(-b, b, (fan_in, fan_out))


def initial_weights(seed: int, n_in: int, hidden: int, n_out: int = 10) -> list[np.ndarray]:
    """Glorot-uniform weights including the bias row (float64), from the seed."""
    g = np.random.default_rng([seed, 1])
    w1 = glorot(g, n_in + 1, hidden)
    w2 = glorot(g, hidden + 1, n_out)
    w1[-1] = 0.0
    w2[-1] = 0.0
    return [w1, w2]


def sample_order(seed: int, n: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, 2, epoch]).permutation(n)


def sparse_input(x: np.ndarray, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, values) of the non-zero inputs of ``x`` plus the bias row ``n_in`` with value 1."""
    idx = np.flatnonzero(x)
    return np.append(idx, n_in), np.append(x[idx], np.float32(1.0)).astype(np.float32)


def sparse_inputs(x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`sparse_input` of every row of ``x``."""
    return [sparse_input(row, x.shape[1]) for row in x]


def _softmax_delta(z: np.ndarray, label: int) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    e /= e.sum()
    e[label] -= 1.0
    return e


def _accuracy(w1: np.ndarray, w2: np.ndarray, x: np.ndarray, y: np.ndarray, noise=None) -> float:
    """Batch inference accuracy; ``noise(layer, a) -> additive output noise`` or None."""
    a0 = np.hstack([x, np.ones((x.shape[0], 1), np.float32)])
    z1 = a0 @ w1
    if noise is not None:
        z1 += noise(0, a0)
    h = np.maximum(z1, 0.0)
    a1 = np.hstack([h, np.ones((h.shape[0], 1), h.dtype)])
    z2 = a1 @ w2
    if noise is not None:
        z2 += noise(1, a1)
    return float((z2.argmax(1) == y).mean())


class InSituMLP:
    """The two-array network and its per-sample training step (see module docstring).

    ``faults = (p_stuck_lrs, p_stuck_hrs)`` (optional): fractions of the chip's devices stuck at LRS
    (their ``g_max_i``) / at HRS (``g_min_i``) from the start; stuck devices ignore every pulse and
    read at their stuck value. Which devices are stuck is :func:`golden.physics.faults.stuck_fault_mask` of
    the global device ids with the chip seed ``cfg.seed`` (counter 0), so it is fixed per seed and a
    higher rate only adds stuck devices. None (default): no faults, exactly the unfaulted model.
    ``exact``: the device model's hardware-exact mode (:class:`golden.physics.device.DeviceModel`),
    used by :mod:`golden.training.hw_exact`.
    """

    def __init__(self, cfg: TrainingConfig, n_in: int, n_out: int = 10,
                 faults: tuple[float, float] | None = None, exact: bool = False):
        self.cfg = cfg
        self.n_in, self.hidden, self.n_out = n_in, cfg.hidden, n_out
        check_layer_fits(n_in + 1, cfg.hidden)
        check_layer_fits(cfg.hidden + 1, n_out)
        syn = cfg.synapse
        if syn.refresh_pulses == 1:
            from dataclasses import replace
            syn = replace(syn, refresh_pulses=refresh_pulses_for(cfg.device))
        self.model = DeviceModel(cfg.device, cfg.seed, exact=exact)
        shapes = [(n_in + 1, cfg.hidden), (cfg.hidden + 1, n_out)]
        n_dev = sum(r * c * syn.slots for r, c in shapes)
        mask = None
        if faults is not None:
            from golden.physics.faults import stuck_fault_mask
            p_lrs, p_hrs = faults
            mask = stuck_fault_mask((n_dev,), p_lrs, p_hrs, seed=cfg.seed)
        self.store = DeviceStore(self.model, n_dev, faults=mask)
        self.layers: list[SynapseArray] = []
        base = 0
        for rows, cols in shapes:
            p = AccelParams(array=ArrayParams(rows=rows, cols=cols), synapse=syn, update=cfg.update,
                            engine=cfg.engine)
            w_max = cfg.w_range * math.sqrt(6.0 / (rows + cols))
            acfg = ArrayConfig(w_max=w_max, refresh_threshold=cfg.refresh_threshold)
            arr = SynapseArray(p, self.model, acfg,
                               id_base=base, store=self.store)
            base += arr.n_devices
            self.layers.append(arr)
        self.t = 0  # update cycles done
        n_noise = 2 * cfg.hidden + n_out
        self._noise_idx = _NOISE_INDEX + np.arange(n_noise, dtype=np.uint64)
        self._noise_blk = -1
        self._noise_tab = None
        self._a1 = np.ones(cfg.hidden + 1, dtype=np.float32)

    # --- weights ----------------------------------------------------------------------------------
    def program(self, weights: list[np.ndarray]) -> None:
        for arr, w in zip(self.layers, weights):
            arr.program_weights(w)

    def weights(self) -> list[np.ndarray]:
        return [arr.weights for arr in self.layers]

    def _noise_std(self, arr: SynapseArray, a2: np.ndarray, rows=None) -> np.ndarray:
        return np.sqrt(arr.read_noise_var(a2, rows))

    # --- one sample --------------------------------------------------------------------------------
    def step(self, x: np.ndarray, label: int, lr: float, sparse: tuple | None = None) -> None:
        """One training sample (one update cycle of both arrays).

        ``sparse = (rows, values)``: the non-zero inputs plus the bias row (from :func:`sparse_inputs`),
        to skip recomputing them from ``x``.
        """
        L1, L2 = self.layers
        mode = self.cfg.read_noise
        H, n_out = self.hidden, self.n_out
        if sparse is None:
            sparse = sparse_input(x, self.n_in)
        rows1, a0 = sparse
        if mode == "device":
            w1 = L1.read_weights(self.t).astype(np.float32)
            w2 = L2.read_weights(self.t).astype(np.float32)
            z1 = a0 @ w1[rows1]
        elif mode == "output":
            wq = L1.WQ[rows1]                                 # weights and sums of G**2, one gather
            a2 = a0 * a0
            z1 = a0 @ wq[:, :H]
            xi = self._noise(self.t)
            z1 += xi[:H] * np.sqrt(L1.noise_var_from(a2 @ wq[:, H:], a2))
            w2 = L2.W
        else:
            z1 = a0 @ L1.W[rows1]
            w2 = L2.W
        a1 = self._a1                                   # [relu(z1), 1]; the bias input stays 1
        np.maximum(z1, np.float32(0.0), out=a1[:H])
        z2 = a1 @ w2
        if mode == "output":
            z2 += xi[H:H + n_out] * np.sqrt(L2.read_noise_var(a1 * a1))
        delta2 = _softmax_delta(z2, label)
        back = w2[:H] @ delta2
        if mode == "output":
            back += xi[H + n_out:] * np.sqrt(L2.read_noise_var_t(delta2 * delta2)[:H])
        delta1 = back * (z1 > 0)
        plans = [L1.plan_update(rows1, a0, delta1, lr), L2.plan_update(None, a1, delta2, lr)]
        apply_plans(self.layers, plans)
        self.t += 1
        if self.cfg.synapse.differential and self.t % self.cfg.refresh_every == 0:
            for arr in self.layers:
                arr.refresh(*arr.refresh_due())

    def _noise(self, t: int) -> np.ndarray:
        """Standard normals of the output-referred read noise of sample ``t`` (blocks of 64 samples)."""
        blk = t // 64
        if blk != self._noise_blk:
            cnt = blk * 64 + np.arange(64, dtype=np.uint64)
            self._noise_tab = self.model.normal(rng.STREAM_READ, self._noise_idx[None, :],
                                                cnt[:, None]).astype(np.float32)
            self._noise_blk = blk
        return self._noise_tab[t - blk * 64]

    # --- evaluation -------------------------------------------------------------------------------
    def accuracy(self, x: np.ndarray, y: np.ndarray, read_noise: bool = True) -> float:
        ws = [arr.W for arr in self.layers]
        if not read_noise or self.cfg.read_noise == "off":
            return _accuracy(ws[0], ws[1], x, y)

        def noise(layer: int, a: np.ndarray) -> np.ndarray:
            arr = self.layers[layer]
            std = np.sqrt(arr.read_noise_var(a * a))
            ids = _NOISE_INDEX + (layer << 20) + np.arange(std.shape[1], dtype=np.uint64)
            cnt = _EVAL_COUNTER + np.arange(std.shape[0], dtype=np.uint64)
            return (std * self.model.normal(rng.STREAM_READ, ids[None, :], cnt[:, None])).astype(np.float32)

        return _accuracy(ws[0], ws[1], x, y, noise)


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="sample", mininterval=0.5, smoothing=0.1)


def _training_split(data: Dataset, cfg: TrainingConfig):
    """The first ``cfg.train_samples`` training samples; more than the data set has is an error (a
    recorded count must be the count used)."""
    if cfg.train_samples is not None:
        check_int("training.train_samples", cfg.train_samples, 1, len(data.y_train))
    return data.x_train[:cfg.train_samples], data.y_train[:cfg.train_samples]


def train_insitu(data: Dataset, cfg: TrainingConfig, progress: bool = False,
                 faults: tuple[float, float] | None = None) -> dict:
    """Train in situ; returns test accuracy (with read noise), timing and counters.

    ``faults = (p_stuck_lrs, p_stuck_hrs)``: stuck devices from the start (see :class:`InSituMLP`).
    """
    x, y = _training_split(data, cfg)
    t_setup = time.perf_counter()
    net = InSituMLP(cfg, data.n_inputs, data.n_classes, faults=faults)
    w0 = initial_weights(cfg.seed, data.n_inputs, cfg.hidden, data.n_classes)
    net.program(w0)
    setup = time.perf_counter() - t_setup
    sp = sparse_inputs(x)
    bar = _progress(cfg.epochs * len(y), f"in situ N={cfg.synapse.devices}", progress)
    curve = []
    total, t = cfg.epochs * len(y), 0
    t0 = time.perf_counter()
    for ep in range(cfg.epochs):
        order = sample_order(cfg.seed, len(y), ep)
        for n, i in enumerate(order):
            net.step(x[i], int(y[i]), lr_at(cfg, t, total), sp[i])
            t += 1
            if bar is not None and n % 500 == 499:
                bar.update(500)
        curve.append(net.accuracy(data.x_test, data.y_test))
    train_time = time.perf_counter() - t0
    if bar is not None:
        bar.update(bar.total - bar.n)
        bar.close()
    samples = cfg.epochs * len(y)
    return {
        "test_accuracy": curve[-1],
        "test_accuracy_noise_free": net.accuracy(data.x_test, data.y_test, read_noise=False),
        "test_accuracy_per_epoch": curve,
        "seconds_per_sample": train_time / samples,
        "setup_seconds": setup,
        "samples": samples,
        "pulses": int(sum(a.pulse_total for a in net.layers)),
        "refreshes": int(sum(a.refreshes for a in net.layers)),
        "saturations": [a.saturations() for a in net.layers],
        "n_inputs": data.n_inputs,
        "weight_scale": [a.scale for a in net.layers],
        "w_max": [a.config.w_max for a in net.layers],
        "net": net,
    }


def summary_line(dataset: str, cfg: TrainingConfig, res: dict, fp: dict | None) -> str:
    """One-paragraph human summary of a run."""
    syn = cfg.synapse
    kind = (("binary" if cfg.device.binary else "analog")
            + (" differential" if syn.differential else " non-differential"))
    lines = [(f"dataset {dataset}: {res['samples']} training samples ({cfg.epochs} epoch(s)), network "
              f"{res.get('n_inputs', '?')}-{cfg.hidden}-10, {lr_text(cfg)}, seed {cfg.seed}"),
             (f"synapse: N = {syn.devices} {kind} devices, increment {syn.increment}; "
              f"{res['pulses']} pulses ({res['pulses'] / max(res['samples'], 1):.1f} per sample), "
              f"{res['refreshes']} refreshes"),
             (f"in-situ test accuracy {100 * res['test_accuracy']:.2f} % (with read noise; "
              f"{100 * res['test_accuracy_noise_free']:.2f} % noise-free)")]
    sat = res.get("saturations")
    if sat:
        lines.append("saturated engine codes: " + "; ".join(
            f"layer {k + 1} x {c['x']}/{c['x_codes']}, delta {c['delta']}/{c['delta_codes']}, dw {c['dw']}"
            for k, c in enumerate(sat)) + f" ({engine_text(cfg)})")
    if fp is not None:
        lines.append(f"FP baseline test accuracy {100 * fp['test_accuracy']:.2f} % "
                     f"(gap {100 * (fp['test_accuracy'] - res['test_accuracy']):+.2f} points)")
    lines.append(f"time: {1e3 * res['seconds_per_sample']:.3f} ms per training sample in situ"
                 + (f", {1e3 * fp['seconds_per_sample']:.3f} ms FP" if fp is not None else ""))
    return "\n".join(lines)


def engine_text(cfg: TrainingConfig) -> str:
    """``x 10.7, delta 16.8`` (width.fraction bits of the engine codes)."""
    e = cfg.engine
    return f"x {e.x_width}.{e.x_frac}, delta {e.delta_width}.{e.delta_frac}"


def train_fp(data: Dataset, cfg: TrainingConfig, progress: bool = False) -> dict:
    """Floating-point baseline: same network, initial weights, sample order and learning rate."""
    x, y = _training_split(data, cfg)
    w1, w2 = (w.astype(np.float32)
              for w in initial_weights(cfg.seed, data.n_inputs, cfg.hidden, data.n_classes))
    n_in, H = data.n_inputs, cfg.hidden
    bar = _progress(cfg.epochs * len(y), "FP baseline", progress)
    curve = []
    total, t = cfg.epochs * len(y), 0
    t0 = time.perf_counter()
    for ep in range(cfg.epochs):
        order = sample_order(cfg.seed, len(y), ep)
        for n, i in enumerate(order):
            lr = np.float32(lr_at(cfg, t, total))
            t += 1
            xi = x[i]
            idx = np.flatnonzero(xi)
            rows1 = np.append(idx, n_in)
            a0 = np.append(xi[idx], np.float32(1.0))
            z1 = a0 @ w1[rows1]
            h = np.maximum(z1, 0.0)
            a1 = np.append(h, np.float32(1.0))
            delta2 = _softmax_delta(a1 @ w2, int(y[i]))
            delta1 = (w2[:H] @ delta2) * (z1 > 0)
            w2 -= lr * np.multiply.outer(a1, delta2)
            w1[rows1] -= lr * np.multiply.outer(a0, delta1)
            if bar is not None and n % 500 == 499:
                bar.update(500)
        curve.append(_accuracy(w1, w2, data.x_test, data.y_test))
    if bar is not None:
        bar.update(bar.total - bar.n)
        bar.close()
    samples = cfg.epochs * len(y)
    return {"test_accuracy": curve[-1], "test_accuracy_per_epoch": curve,
            "seconds_per_sample": (time.perf_counter() - t0) / samples, "weights": [w1, w2]}
