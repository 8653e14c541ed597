"""Binarized MLP: training (STE, latent weights, BatchNorm without affine) and bit-exact integer inference.

Conventions (the RTL, the cocotb array model and the hardware models all use these)
-------------------------------------------------------------------------------
* **Bits.** An activation or weight bit ``1`` means +1, ``0`` means -1. Weights are stored as
  ``uint8 [out, in]`` in {0, 1}; activations as ``uint8 [batch, in]``.
* **Input binarisation** (:func:`binarize_images`): MNIST pixel > 127 (of 255) -> 1; for inputs
  scaled to [0, 1] (``golden.data.datasets``) that is ``x > 0.5`` (digits: value > 8 of 16).
* **XNOR-popcount.** ``p = popcount(XNOR(x, w)) = #{i : x_i == w_i}``; the +-1 dot product is
  ``s = 2p - N``.
* **Hidden-layer threshold.** Training uses BatchNorm without affine, ``y = (s - mu)/sigma``, so
  ``sign(y) = sign(s - mu)`` and the output bit is ``1`` iff ``s >= mu``. Folded to integers:
  ``bit = (p >= T)`` with ``T = ceil((N + mu)/2)`` (the smallest p with ``2p - N >= mu``).
* **Bias cells.** A neuron has ``B = 2*int(0.05*N)`` bias cells (+1 if N is even), i.e. bridges
  whose input is tied to 1; ``k`` of them store 1 (XNOR = 1), ``B - k`` store 0. The analog neuron
  then takes a majority over ``N_tot = N + B`` (odd) cells: ``bit = (p + k >= (N_tot + 1)/2)``,
  which equals ``p >= T`` for ``k = (N_tot + 1)/2 - T``. Only ``0 <= k <= B`` is realisable, i.e.
  ``T`` in ``[(N + 1 - B)/2, (N + 1 + B)/2]`` (``|mu| <= B``). Training clips the subtracted BN
  mean to ``[-B, B]`` so the network learns within that range; at folding any threshold still
  outside is **clipped explicitly** to the nearest end and counted (``BnnModel.clipped``).
  The SA's differential input is ``delta = 2*(p + k) - N_tot`` (odd, never 0); bit = delta > 0.
* **Last layer**: no threshold; the class is ``argmax`` of the 10 popcounts (``np.argmax``: ties
  go to the lowest class index). The hardware reads these popcounts out digitally.

Training: latent real weights clipped to [-1, 1], forward with ``sign`` (0 -> +1), optional dropout
on the input bits and on the hidden activations (training only), straight-through
estimator (gradient of the weight sign = 1; of the activation sign = 1 where ``|y| <= 1``), BatchNorm
with batch statistics, softmax cross-entropy on ``alpha * s / sqrt(N)`` of the last layer (``alpha``
learnt), Adam with an exponentially decaying step. After training the BN means are recomputed
exactly over the training set with inference-mode (binary) activations and folded into ``T``.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from golden.bnn.model_params import BnnTrainParams, n_bias_cells
from golden.spec.params import ConfigError

DEFAULT_MODEL_DIR = Path("build") / "bnn"


# ---------------------------------------------------------------------------------------------
# input binarisation and popcounts
# ---------------------------------------------------------------------------------------------
def binarize_images(x: np.ndarray) -> np.ndarray:
    """Images -> input bits (uint8 {0,1}). uint8 pixels: ``> 127``; floats in [0, 1]: ``> 0.5``."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return (x > 127).astype(np.uint8)
    return (x > 0.5).astype(np.uint8)


def popcount_xnor(x_bits: np.ndarray, w_bits: np.ndarray) -> np.ndarray:
    """``p[b, j] = #{i : x[b, i] == w[j, i]}`` (int32), computed exactly with float32 matmuls."""
    x = np.asarray(x_bits, dtype=np.float32)
    w = np.asarray(w_bits, dtype=np.float32)
    if x.shape[-1] != w.shape[-1]:
        raise ValueError(f"popcount_xnor: {x.shape[-1]} input bits for weights with {w.shape[-1]} inputs")
    n = x.shape[-1]
    if n >= 1 << 24:
        raise ValueError("popcount_xnor: fan-in must be < 2**24 for exact float32 sums")
    # x==w  <=>  x*w + (1-x)*(1-w) = 1 - x - w + 2xw
    p = n - x.sum(-1, keepdims=True) - w.sum(-1)[None, :] + 2.0 * (x @ w.T)
    return np.rint(p).astype(np.int32)


def threshold_from_mean(mu: np.ndarray, n_inputs: int) -> np.ndarray:
    """Integer threshold ``T = min{p : 2p - N >= mu}`` for BN means ``mu`` (exact, float64)."""
    mu = np.asarray(mu, dtype=np.float64)
    t = np.ceil((n_inputs + mu) / 2.0).astype(np.int64)
    # fix-up against rounding of (N + mu)/2 at exact integers
    t = np.where(2 * (t - 1) - n_inputs >= mu, t - 1, t)
    t = np.where(2 * t - n_inputs < mu, t + 1, t)
    return t


def threshold_range(n_inputs: int, bias_fraction: float = 0.05) -> tuple[int, int]:
    """Realisable thresholds ``[T_lo, T_hi]`` with the neuron's bias cells."""
    b = n_bias_cells(n_inputs, bias_fraction)
    n_tot = n_inputs + b
    return (n_tot + 1) // 2 - b, (n_tot + 1) // 2


# ---------------------------------------------------------------------------------------------
# the integer model
# ---------------------------------------------------------------------------------------------
@dataclass
class BnnModel:
    """A trained, folded BNN in integer form.

    Attributes
    ----------
    layers : list of (weights, thresholds)
        ``weights`` uint8 ``[out, in]`` in {0, 1}; ``thresholds`` int64 ``[out]`` (hidden layers:
        ``bit = popcount >= T``, already clipped to the bias-cell range) or ``None`` (last layer:
        argmax of the popcounts).
    bias_fraction : float
        Bias cells per neuron ``B = 2*int(bias_fraction*N)`` (+1 for even N).
    thresholds_raw : list of int64 arrays (hidden layers)
        Thresholds before clipping (``ceil((N + mu)/2)``).
    meta : dict
        Training configuration, accuracies, timings (JSON-serialisable).
    """

    layers: list
    bias_fraction: float = 0.05
    thresholds_raw: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    # --- structure ----------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def sizes(self) -> list[int]:
        """``[n_in, h1, ..., n_classes]``."""
        return [self.layers[0][0].shape[1]] + [w.shape[0] for w, _ in self.layers]

    def fan_in(self, layer: int) -> int:
        return int(self.layers[layer][0].shape[1])

    def bias_cells(self, layer: int) -> int:
        """B of the hidden layer ``layer`` (0 for the last layer)."""
        if self.layers[layer][1] is None:
            return 0
        return n_bias_cells(self.fan_in(layer), self.bias_fraction)

    def n_tot(self, layer: int) -> int:
        """Cells summed by one neuron: N + B (odd for hidden layers)."""
        return self.fan_in(layer) + self.bias_cells(layer)

    def bias_plus(self, layer: int) -> np.ndarray:
        """k per neuron: bias cells storing 1 (``k = (N_tot + 1)/2 - T``), int64 ``[out]``."""
        t = self.layers[layer][1]
        if t is None:
            raise ValueError(f"layer {layer} is the output layer: it has no threshold / bias cells")
        return (self.n_tot(layer) + 1) // 2 - t

    def bias_bits(self, layer: int) -> np.ndarray:
        """uint8 ``[out, B]``: bias cell ``j`` of neuron ``n`` stores 1 iff ``j < k[n]``."""
        k = self.bias_plus(layer)
        return (np.arange(self.bias_cells(layer))[None, :] < k[:, None]).astype(np.uint8)

    def with_bias_plus(self, layer: int, k) -> BnnModel:
        """A copy whose hidden ``layer`` stores ``k [out]`` bias cells at 1 (``bias_plus(layer) == k``):
        the chip after a bias-cell trim such as :attr:`golden.bnn.sa_calibration.LayerCalibration.k_trimmed`."""
        w, t = self.layers[layer]
        k = np.asarray(k, dtype=np.int64)
        if t is None or k.shape != t.shape or np.any((k < 0) | (k > self.bias_cells(layer))):
            raise ValueError(f"with_bias_plus: layer {layer} needs k of shape {None if t is None else t.shape} "
                             f"in [0, {self.bias_cells(layer)}]")
        layers = list(self.layers)
        layers[layer] = (w, (self.n_tot(layer) + 1) // 2 - k)
        return replace(self, layers=layers)

    def extended_weights(self, layer: int) -> np.ndarray:
        """uint8 ``[out, N_tot]``: the weights followed by the bias cells (whose inputs are 1)."""
        w, _ = self.layers[layer]
        return np.concatenate([w, self.bias_bits(layer)], axis=1)

    @property
    def clipped(self) -> list[int]:
        """Neurons per hidden layer whose threshold had to be clipped into the bias-cell range."""
        return [int(np.sum(t != r)) for (_, t), r in zip(self.layers, self.thresholds_raw) if t is not None]

    # --- inference -----------------------------------------------------------------------------
    def popcounts(self, x_bits: np.ndarray, layer: int) -> np.ndarray:
        """int32 ``[batch, out]`` popcounts of XNOR(x, w) for layer ``layer`` (bias cells excluded)."""
        return popcount_xnor(x_bits, self.layers[layer][0])

    def layer_bits(self, x_bits: np.ndarray, layer: int) -> np.ndarray:
        """uint8 ``[batch, out]`` output bits of hidden layer ``layer``: ``popcount >= T``."""
        t = self.layers[layer][1]
        if t is None:
            raise ValueError(f"layer {layer} is the output layer: use popcounts()/predict_bits()")
        return (self.popcounts(x_bits, layer) >= t[None, :]).astype(np.uint8)

    def forward_bits(self, x_bits: np.ndarray) -> list[np.ndarray]:
        """Per-layer outputs: uint8 bits of every hidden layer, then the last layer's int32 popcounts."""
        outs = []
        h = np.asarray(x_bits, dtype=np.uint8)
        for layer in range(self.n_layers - 1):
            h = self.layer_bits(h, layer)
            outs.append(h)
        outs.append(self.popcounts(h, self.n_layers - 1))
        return outs

    def predict_bits(self, x_bits: np.ndarray, batch: int = 2000) -> np.ndarray:
        """Class per input-bit vector (argmax of the last layer's popcounts, ties -> lowest class)."""
        x_bits = np.asarray(x_bits, dtype=np.uint8)
        with blas_threads():
            out = [np.argmax(self.forward_bits(x_bits[i:i + batch])[-1], axis=1)
                   for i in range(0, len(x_bits), batch)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class per image (images binarised with :func:`binarize_images`)."""
        return self.predict_bits(binarize_images(x))

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    # --- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for i, (w, t) in enumerate(self.layers):
            arrays[f"w{i}"] = np.packbits(w.astype(np.uint8), axis=1)
            arrays[f"w{i}_shape"] = np.array(w.shape, dtype=np.int64)
            if t is not None:
                arrays[f"t{i}"] = t.astype(np.int64)
                arrays[f"traw{i}"] = self.thresholds_raw[i].astype(np.int64)
        arrays["meta"] = np.array(json.dumps({"bias_fraction": self.bias_fraction,
                                              "n_layers": self.n_layers, **self.meta}))
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")  # own name: runs may train at once
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> BnnModel:
        with np.load(Path(path)) as z:
            meta = json.loads(str(z["meta"]))
            n = meta.pop("n_layers")
            bf = meta.pop("bias_fraction")
            layers, raw = [], []
            for i in range(n):
                shape = tuple(int(v) for v in z[f"w{i}_shape"])
                w = np.unpackbits(z[f"w{i}"], axis=1, count=shape[1]).astype(np.uint8)
                if f"t{i}" in z:
                    layers.append((w, z[f"t{i}"].astype(np.int64)))
                    raw.append(z[f"traw{i}"].astype(np.int64))
                else:
                    layers.append((w, None))
        return cls(layers=layers, bias_fraction=bf, thresholds_raw=raw, meta=meta)


def random_model(sizes: list[int], seed: int = 0, bias_fraction: float = 0.05) -> BnnModel:
    """A random (untrained) model with realisable thresholds, for RTL/cocotb tests.

    Weights are uniform bits; hidden thresholds uniform in the bias-cell range ``[T_lo, T_hi]``.
    ``sizes = [n_in, h1, ..., n_out]``; hidden widths may be any size here (even widths allowed).
    """
    if len(sizes) < 2:
        raise ConfigError(f"sizes = {sizes!r} must have at least an input and an output size")
    gen = np.random.default_rng(seed)
    layers, raw = [], []
    for i, (fi, fo) in enumerate(itertools.pairwise(sizes)):
        w = gen.integers(0, 2, (fo, fi), dtype=np.uint8)
        if i == len(sizes) - 2:
            layers.append((w, None))
        else:
            lo, hi = threshold_range(fi, bias_fraction)
            t = gen.integers(lo, hi + 1, fo).astype(np.int64)
            layers.append((w, t))
            raw.append(t.copy())
    return BnnModel(layers=layers, bias_fraction=bias_fraction, thresholds_raw=raw,
                    meta={"random_model": {"sizes": list(sizes), "seed": seed}})


def model_path(params: BnnTrainParams, directory: str | Path | None = None) -> Path:
    """``build/bnn/<key>.npz`` for a training configuration."""
    return Path(directory if directory is not None else DEFAULT_MODEL_DIR) / f"{params.key()}.npz"


# ---------------------------------------------------------------------------------------------
# the float (training-form) network
# ---------------------------------------------------------------------------------------------
def _sign(a: np.ndarray) -> np.ndarray:
    """+-1 float32 with sign(0) = +1."""
    return np.where(a >= 0, np.float32(1.0), np.float32(-1.0))


@dataclass
class FloatBnn:
    """The training-form network: latent weights, BN means of the hidden layers, output scale."""

    latent: list            # float32 [out, in]
    mu: list                # float64 [out] per hidden layer (BN mean used at inference)
    alpha: float = 1.0
    bias_fraction: float = 0.05

    def forward(self, x_pm1: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Inference in floating point: (hidden activations in +-1, last-layer dot products s)."""
        h = np.asarray(x_pm1, dtype=np.float32)
        hidden = []
        for i, w in enumerate(self.latent):
            s = h @ _sign(w).T
            if i == len(self.latent) - 1:
                return hidden, s
            h = np.where(s.astype(np.float64) - self.mu[i][None, :] >= 0, np.float32(1), np.float32(-1))
            hidden.append(h)
        raise AssertionError("unreachable")

    def fold(self, clip: bool = True) -> BnnModel:
        """Integer model: weight bits, thresholds ``T = ceil((N + mu)/2)``, clipped to the bias range."""
        layers, raw = [], []
        for i, w in enumerate(self.latent):
            wb = (w >= 0).astype(np.uint8)
            if i == len(self.latent) - 1:
                layers.append((wb, None))
                continue
            n = w.shape[1]
            t_raw = threshold_from_mean(self.mu[i], n)
            lo, hi = threshold_range(n, self.bias_fraction)
            t = np.clip(t_raw, lo, hi) if clip else t_raw.copy()
            layers.append((wb, t))
            raw.append(t_raw)
        return BnnModel(layers=layers, bias_fraction=self.bias_fraction, thresholds_raw=raw)


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train_bnn` returns."""

    model: BnnModel
    float_net: FloatBnn
    history: list            # per epoch: dict(epoch, loss, train_acc, test_acc, lr, seconds)
    software_accuracy: float


def _adam_step(p, g, m, v, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * (g * g)
    mhat = m / (1 - b1 ** t)
    vhat = v / (1 - b2 ** t)
    p -= lr * mhat / (np.sqrt(vhat) + eps)


def recompute_means(latent: list, x_pm1: np.ndarray, batch: int = 2000) -> list[np.ndarray]:
    """Exact BN means of every hidden layer over ``x_pm1`` with inference-mode (sign) activations.

    Layer by layer: the mean of layer ``l`` is computed with layers ``< l`` already using their
    exact means (float64 accumulation of integer dot products, so the result is exact).
    """
    mus: list[np.ndarray] = []
    for li in range(len(latent) - 1):
        acc = np.zeros(latent[li].shape[0], dtype=np.float64)
        for i in range(0, len(x_pm1), batch):
            h = x_pm1[i:i + batch]
            for lj in range(li):
                s = h @ _sign(latent[lj]).T
                h = np.where(s.astype(np.float64) - mus[lj][None, :] >= 0, np.float32(1), np.float32(-1))
            s = h @ _sign(latent[li]).T
            acc += s.astype(np.float64).sum(0)
        mus.append(acc / len(x_pm1))
    return mus


def blas_threads(n: int | None = None):
    """Context manager limiting BLAS threads (default: env ``RERAM_BLAS_THREADS`` or 1).

    On the shared 2-core machines OpenBLAS with several threads was 25x slower than one thread for
    the small matrices of the digits nets (oversubscription), so the golden BNN code runs with one.
    """
    import os

    from threadpoolctl import threadpool_limits
    if n is None:
        n = int(os.environ.get("RERAM_BLAS_THREADS", "1"))
    return threadpool_limits(limits=n, user_api="blas")


def train_bnn(params: BnnTrainParams, data=None, progress: bool = False, log=None,
              recompute_subset: int | None = None) -> TrainResult:
    with blas_threads():
        return _train_bnn(params, data, progress, log, recompute_subset)


def _train_bnn(params: BnnTrainParams, data=None, progress: bool = False, log=None,
               recompute_subset: int | None = None) -> TrainResult:
    """Train the binarized MLP described by ``params``; returns the folded integer model and history.

    ``data`` is a :class:`golden.data.datasets.Dataset` (default: ``golden.data.datasets.load(params.dataset)``).
    ``progress`` shows a tqdm bar over minibatches. ``log`` (callable(str)) receives one line per epoch.
    ``recompute_subset`` limits the final exact BN-mean pass to the first n training samples.
    """
    from golden.data import datasets

    if data is None:
        data = datasets.load(params.dataset)
    rng = np.random.default_rng(params.seed)
    x_all = binarize_images(data.x_train).astype(np.float32) * 2 - 1
    y_all = np.asarray(data.y_train)
    if params.val_split:
        if params.val_split >= len(y_all):
            raise ConfigError(f"bnn_train.val_split = {params.val_split} is out of range: allowed "
                              f"[0, {len(y_all) - 1}] for {len(y_all)} training samples")
        x_tr, y_tr = x_all[:-params.val_split], y_all[:-params.val_split]
        x_val, y_val = x_all[-params.val_split:], y_all[-params.val_split:]
    else:
        x_tr, y_tr, x_val, y_val = x_all, y_all, None, None
    x_te = binarize_images(data.x_test).astype(np.float32) * 2 - 1
    y_te = np.asarray(data.y_test)
    n_classes = int(max(y_all.max(), y_te.max())) + 1

    sizes = [x_tr.shape[1], *params.hidden, n_classes]
    latent = []
    for fi, fo in itertools.pairwise(sizes):
        lim = math.sqrt(6.0 / (fi + fo))
        latent.append(rng.uniform(-lim, lim, size=(fo, fi)).astype(np.float32))
    clip_b = [float(n_bias_cells(fi, params.bias_fraction)) for fi in sizes[:-2]]
    run_mu = [np.zeros(fo, dtype=np.float64) for fo in sizes[1:-1]]
    log_alpha = np.float64(0.0)
    m_w = [np.zeros_like(w) for w in latent]
    v_w = [np.zeros_like(w) for w in latent]
    m_a = v_a = 0.0
    steps_per_epoch = -(-len(y_tr) // params.batch)
    total_steps = steps_per_epoch * params.epochs
    step = 0
    history = []
    best = (-1.0, None)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total_steps, desc=f"bnn train {params.dataset}", unit="batch", leave=False)
    eps_bn = np.float32(1e-4)
    for epoch in range(params.epochs):
        t0 = time.perf_counter()
        perm = rng.permutation(len(y_tr))
        loss_sum, correct = 0.0, 0
        for bi in range(steps_per_epoch):
            idx = perm[bi * params.batch:(bi + 1) * params.batch]
            xb, yb = x_tr[idx], y_tr[idx]
            nb = len(idx)
            # forward
            caches = []
            h = xb
            if params.dropout_in > 0:
                h = h * ((rng.random(h.shape, dtype=np.float32) >= params.dropout_in)
                         * np.float32(1.0 / (1.0 - params.dropout_in)))
            masks = []
            for li in range(len(latent) - 1):
                wb = _sign(latent[li])
                a = h @ wb.T
                m = a.mean(0)
                var = a.var(0)
                mc = np.clip(m, -clip_b[li], clip_b[li])
                inv = 1.0 / np.sqrt(var + eps_bn)
                yh = (a - mc) * inv
                z = yh + (mc - m) * inv          # standardised with the true batch mean
                caches.append((h, wb, yh, z, inv, (np.abs(m) <= clip_b[li]).astype(np.float32)))
                run_mu[li] = 0.9 * run_mu[li] + 0.1 * mc.astype(np.float64)
                h = _sign(yh)
                if params.dropout_hidden > 0:
                    dm = ((rng.random(h.shape, dtype=np.float32) >= params.dropout_hidden)
                          * np.float32(1.0 / (1.0 - params.dropout_hidden)))
                    h = h * dm
                    masks.append(dm)
                else:
                    masks.append(None)
            wb = _sign(latent[-1])
            s = h @ wb.T
            scale = np.float32(math.exp(log_alpha) / math.sqrt(latent[-1].shape[1]))
            logits = s * scale
            logits -= logits.max(1, keepdims=True)
            e = np.exp(logits)
            prob = e / e.sum(1, keepdims=True)
            loss_sum += float(-np.log(prob[np.arange(nb), yb] + 1e-12).sum())
            correct += int((np.argmax(s, 1) == yb).sum())
            # backward
            g = prob
            g[np.arange(nb), yb] -= 1.0
            g /= nb
            g_alpha = float((g * s).sum() * scale)  # d loss / d log_alpha
            g_s = g * scale
            grads = [None] * len(latent)
            grads[-1] = g_s.T @ h
            g_h = g_s @ wb
            for li in range(len(latent) - 2, -1, -1):
                hin, wbl, yh, z, inv, free = caches[li]
                if masks[li] is not None:
                    g_h = g_h * masks[li]
                g_y = g_h * (np.abs(yh) <= 1.0)
                # BN backward without affine; a clipped mean is a constant (no gradient through it),
                # the variance always depends on a: dL/da = inv*(g - free*mean(g) - z*mean(g*yh))
                g_a = inv * (g_y - free * g_y.mean(0) - z * (g_y * yh).mean(0))
                grads[li] = g_a.T @ hin
                if li > 0:
                    g_h = g_a @ wbl
            step += 1
            lr = params.lr * (params.lr_final / params.lr) ** (step / total_steps)
            for li in range(len(latent)):
                _adam_step(latent[li], grads[li].astype(np.float32), m_w[li], v_w[li], step, lr)
                np.clip(latent[li], -1.0, 1.0, out=latent[li])
            # scalar Adam for log_alpha
            m_a = 0.9 * m_a + 0.1 * g_alpha
            v_a = 0.999 * v_a + 0.001 * g_alpha * g_alpha
            log_alpha -= lr * (m_a / (1 - 0.9 ** step)) / (math.sqrt(v_a / (1 - 0.999 ** step)) + 1e-8)
            if bar is not None:
                bar.update(1)
        net = FloatBnn([w.copy() for w in latent], [m.copy() for m in run_mu], math.exp(log_alpha),
                       params.bias_fraction)
        mdl = net.fold()
        test_acc = _acc_pm1(mdl, x_te, y_te)
        val_acc = _acc_pm1(mdl, x_val, y_val) if x_val is not None else None
        rec = {"epoch": epoch + 1, "loss": loss_sum / len(y_tr), "train_acc": correct / len(y_tr),
               "test_acc": test_acc, "val_acc": val_acc, "lr": lr, "seconds": time.perf_counter() - t0}
        history.append(rec)
        if log is not None:
            log(f"epoch {epoch + 1}/{params.epochs}: loss {rec['loss']:.4f} train {rec['train_acc']:.4f} "
                f"test(running BN) {test_acc:.4f}" + (f" val {val_acc:.4f}" if val_acc is not None else "")
                + f" lr {lr:.2e} {rec['seconds']:.1f} s")
        if val_acc is not None and val_acc > best[0]:
            best = (val_acc, [w.copy() for w in latent], math.exp(log_alpha))
    if bar is not None:
        bar.close()
    if best[1] is not None:
        latent, alpha = best[1], best[2]
    else:
        alpha = math.exp(log_alpha)
    sub = x_tr if recompute_subset is None else x_tr[:recompute_subset]
    mus = recompute_means(latent, sub)
    net = FloatBnn([w.copy() for w in latent], mus, alpha, params.bias_fraction)
    model = net.fold()
    sw = _acc_pm1(model, x_te, y_te)
    model.meta = {"config": _config_dict(params), "software_accuracy": sw, "clipped": model.clipped,
                  "history": history, "sizes": sizes}
    return TrainResult(model=model, float_net=net, history=history, software_accuracy=sw)


def _acc_pm1(model: BnnModel, x_pm1: np.ndarray, y: np.ndarray) -> float:
    bits = (x_pm1 > 0).astype(np.uint8)
    return float(np.mean(model.predict_bits(bits) == y))


def _config_dict(params: BnnTrainParams) -> dict:
    from dataclasses import asdict
    d = asdict(params)
    d["hidden"] = list(params.hidden)
    return d


def load_or_train(params: BnnTrainParams, directory: str | Path | None = None, retrain: bool = False,
                  progress: bool = False, log=None, data=None) -> BnnModel:
    """The trained model for ``params`` from ``build/bnn/<key>.npz``, training (and saving) it if absent."""
    path = model_path(params, directory)
    if path.exists() and not retrain:
        return BnnModel.load(path)
    res = train_bnn(params, data=data, progress=progress, log=log)
    res.model.save(path)
    return res.model
