"""A small numpy CNN whose first layer is AlexNet's conv1 shape, trained on MNIST for the variability study.

No ImageNet data or AlexNet weights are reachable offline, so the project trains its own
AlexNet-style first convolution: **96 filters of 11 x 11** (one input channel: MNIST is grey, so
96 x 1 x 11 x 11 = 11,616 weights instead of AlexNet's 96 x 3 x 11 x 11). AlexNet uses stride 4 on
224 x 224 images; on the native 28 x 28 digits we use **stride 2** (9 x 9 outputs per filter) as the
stride appropriate to the input size (``upsample=4, stride=4`` reproduces AlexNet's stride on
112 x 112 upsampled digits, at 8x the cost). Head: ReLU -> AlexNet's overlapping 3 x 3 / stride 2
max-pool -> one dense layer to 10 classes. Trained with Adam and cross-entropy; im2col + matmul.

The crossbar computes the convolution's multiply-accumulate ``Y = X * W`` (no bias: the bias is
added digitally); :func:`conv_mac` is exactly that quantity, used by the relative-error metric.

Trained models are cached as ``.npz`` under a cache directory keyed by a hash of the configuration
(including the seed), so repeated study runs skip training.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from golden.spec.params import ConfigError, LoOpen, check_choice, check_floats, check_ints

CACHE_VERSION = 1


@dataclass(frozen=True)
class CNNConfig:
    """Architecture and training of the study network.

    Attributes
    ----------
    dataset : "mnist" | "digits"
        ``digits`` (scikit-learn 8x8) is for fast tests only.
    filters : int, 1..512        conv1 output channels (AlexNet: 96)
    kernel : int, 1..31          conv1 kernel size (AlexNet: 11)
    stride : int, 1..8           conv1 stride (AlexNet: 4 on 224 px; 2 on 28 px MNIST)
    upsample : int, 1..8         nearest-neighbour upsampling of the input images
    epochs : int, 1..100
    batch : int, 1..4096
    lr : float, (0, 1]           Adam step size (times 0.7 after each epoch)
    n_train : int, 0..60000      training images used (0: all)
    seed : int >= 0              initialisation and shuffling (numpy Generator)
    """

    dataset: str = "mnist"
    filters: int = 96
    kernel: int = 11
    stride: int = 2
    upsample: int = 1
    epochs: int = 3
    batch: int = 128
    lr: float = 2e-3
    n_train: int = 0
    seed: int = 0

    def __post_init__(self):
        check_choice("cnn.dataset", self.dataset, ("mnist", "digits"))
        check_ints(self, "cnn", filters=(1, 512), kernel=(1, 31), stride=(1, 8), upsample=(1, 8),
                   epochs=(1, 100), batch=(1, 4096))
        check_floats(self, "cnn", lr=LoOpen(0.0, 1.0))
        check_ints(self, "cnn", n_train=(0, 60000), seed=(0, None))
        side = self.image_side
        if self.kernel > side:
            raise ConfigError(f"cnn.kernel = {self.kernel} is out of range: allowed [1, {side}] "
                              f"(the {side} x {side} input)")
        if self.conv_side < 3:
            raise ConfigError(f"cnn.stride = {self.stride} is out of range: the conv output "
                              f"({self.conv_side} x {self.conv_side}) must be at least 3 x 3 for the 3x3 pool")

    @property
    def image_side(self) -> int:
        return (28 if self.dataset == "mnist" else 8) * self.upsample

    @property
    def conv_side(self) -> int:
        return (self.image_side - self.kernel) // self.stride + 1

    @property
    def pool_side(self) -> int:
        return (self.conv_side - 3) // 2 + 1

    def key(self) -> str:
        blob = json.dumps({"v": CACHE_VERSION, **asdict(self)}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class ConvNet:
    """Trained parameters: conv1 ``w1`` (F, 1, k, k) float32, ``b1`` (F,), dense ``w2`` (F*P*P, 10), ``b2``."""

    config: CNNConfig
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    test_accuracy: float = float("nan")


def load_images(cfg: CNNConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) with images as (N, 1, side, side) float32 in [0, 1]."""
    from golden.data import datasets

    ds = datasets.load(cfg.dataset)
    base = 28 if cfg.dataset == "mnist" else 8

    def shape(x):
        x = x.reshape(-1, 1, base, base)
        if cfg.upsample > 1:
            x = x.repeat(cfg.upsample, axis=2).repeat(cfg.upsample, axis=3)
        return np.ascontiguousarray(x, dtype=np.float32)

    xtr, ytr = ds.x_train, ds.y_train
    if cfg.n_train:
        xtr, ytr = xtr[:cfg.n_train], ytr[:cfg.n_train]
    return shape(xtr), ytr, shape(ds.x_test), ds.y_test


def im2col(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """(N, C, H, W) -> (N, oh*ow, C*k*k) patches, row-major over output positions."""
    n, c = x.shape[:2]
    win = sliding_window_view(x, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    oh, ow = win.shape[2], win.shape[3]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n, oh * ow, c * kernel * kernel)


def conv_mac(cols: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """The crossbar MAC ``Y = X * W``: (N, P, C*k*k) patches x (F, C, k, k) weights -> (N, P, F)."""
    w = w1.reshape(w1.shape[0], -1)
    return (cols.reshape(-1, cols.shape[-1]) @ w.T).reshape(*cols.shape[:-1], w.shape[0])


def _pool_windows(a: np.ndarray) -> np.ndarray:
    """(N, S, S, F) -> (N, P, P, F, 9) overlapping 3x3 / stride 2 windows."""
    w = sliding_window_view(a, (3, 3), axis=(1, 2))[:, ::2, ::2]
    return w.reshape(*w.shape[:4], 9)


def max_pool(a: np.ndarray) -> np.ndarray:
    """Overlapping 3x3 / stride 2 max-pool of (N, S, S, F) -> (N, P, P, F), done separably."""
    p = (a.shape[1] - 3) // 2 + 1
    r = np.maximum(np.maximum(a[:, 0:2 * p - 1:2], a[:, 1:2 * p:2]), a[:, 2:2 * p + 1:2])
    return np.maximum(np.maximum(r[:, :, 0:2 * p - 1:2], r[:, :, 1:2 * p:2]), r[:, :, 2:2 * p + 1:2])


def head_logits(net: ConvNet, y_mac: np.ndarray) -> np.ndarray:
    """Logits from the conv MAC output (N, P, F): + bias, ReLU, 3x3/2 max-pool, dense.

    Computed as ``relu(maxpool(y) + b)``, equal to ``maxpool(relu(y + b))`` (per-filter bias and
    ReLU are monotone) on a 4x smaller array.
    """
    cfg = net.config
    n = y_mac.shape[0]
    pooled = max_pool(y_mac.reshape(n, cfg.conv_side, cfg.conv_side, cfg.filters))
    return np.maximum(pooled + net.b1, 0).reshape(n, -1) @ net.w2 + net.b2


def predict(net: ConvNet, x: np.ndarray, w1: np.ndarray | None = None, *, chunk: int = 1000,
            dtype=np.float64, y_ref_norm2: list | None = None) -> tuple[np.ndarray, float, float]:
    """Predicted classes for images ``x`` with conv1 weights ``w1`` (default: the trained ones).

    Returns ``(pred, sum ||Y - Y_ref||^2, sum ||Y_ref||^2)`` where Y is the conv MAC with ``w1`` and
    Y_ref with the trained weights (both computed in ``dtype``).
    """
    cfg = net.config
    w_ref = net.w1.astype(dtype)
    w = w_ref if w1 is None else np.asarray(w1, dtype=dtype)
    preds, num, den = [], 0.0, 0.0
    for i in range(0, x.shape[0], chunk):
        cols = im2col(x[i:i + chunk], cfg.kernel, cfg.stride).astype(dtype)
        y = conv_mac(cols, w)
        y_ref = y if w1 is None else conv_mac(cols, w_ref)
        num += float(np.sum((y - y_ref) ** 2))
        den += float(np.sum(y_ref ** 2))
        preds.append(np.argmax(head_logits(net, y), axis=1))
    return np.concatenate(preds), num, den


def accuracy(net: ConvNet, x: np.ndarray, y: np.ndarray, w1: np.ndarray | None = None) -> float:
    return float(np.mean(predict(net, x, w1)[0] == y))


def train(cfg: CNNConfig, data=None, progress=None) -> ConvNet:
    """Train the network (Adam, cross-entropy); ``progress(fraction)`` is called per batch if given."""
    xtr, ytr, xte, yte = data if data is not None else load_images(cfg)
    rng = np.random.default_rng(cfg.seed)
    k, f = cfg.kernel, cfg.filters
    fan1 = k * k
    n_feat = f * cfg.pool_side ** 2
    params = {
        "w1": (rng.standard_normal((f, 1, k, k)) * np.sqrt(2.0 / fan1)).astype(np.float32),
        "b1": np.zeros(f, np.float32),
        "w2": (rng.standard_normal((n_feat, 10)) * np.sqrt(1.0 / n_feat)).astype(np.float32),
        "b2": np.zeros(10, np.float32),
    }
    m = {kk: np.zeros_like(v) for kk, v in params.items()}
    v2 = {kk: np.zeros_like(v) for kk, v in params.items()}
    b1_, b2_, eps = 0.9, 0.999, 1e-8
    t = 0
    n = xtr.shape[0]
    steps = cfg.epochs * ((n + cfg.batch - 1) // cfg.batch)
    done = 0
    s, ps = cfg.conv_side, cfg.pool_side
    for epoch in range(cfg.epochs):
        lr = cfg.lr * 0.7 ** epoch
        perm = rng.permutation(n)
        for i in range(0, n, cfg.batch):
            idx = perm[i:i + cfg.batch]
            xb, yb = xtr[idx], ytr[idx]
            nb = xb.shape[0]
            cols = im2col(xb, k, cfg.stride)                         # (nb, S*S, k*k)
            z = conv_mac(cols, params["w1"]) + params["b1"]          # (nb, S*S, F)
            a = np.maximum(z, 0).reshape(nb, s, s, f)
            win = _pool_windows(a)                                   # (nb, P, P, F, 9)
            arg = win.argmax(axis=-1)
            pooled = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0].reshape(nb, -1)
            logits = pooled @ params["w2"] + params["b2"]
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(nb), yb] -= 1.0
            dlog = p / nb
            grads = {"w2": pooled.T @ dlog, "b2": dlog.sum(axis=0)}
            dpool = (dlog @ params["w2"].T).reshape(nb, ps, ps, f)
            da = np.zeros((nb, s, s, f), np.float32)
            di, dj = np.divmod(arg, 3)
            ii = (np.arange(ps) * 2)[None, :, None, None] + di
            jj = (np.arange(ps) * 2)[None, None, :, None] + dj
            bb = np.broadcast_to(np.arange(nb)[:, None, None, None], arg.shape)
            ff = np.broadcast_to(np.arange(f)[None, None, None, :], arg.shape)
            np.add.at(da, (bb, ii, jj, ff), dpool)
            dz = (da.reshape(nb, s * s, f) * (z > 0)).reshape(-1, f)
            grads["w1"] = (dz.T @ cols.reshape(-1, k * k)).reshape(f, 1, k, k)
            grads["b1"] = dz.sum(axis=0)
            t += 1
            for kk, g in grads.items():
                g = g.astype(np.float32)
                m[kk] = b1_ * m[kk] + (1 - b1_) * g
                v2[kk] = b2_ * v2[kk] + (1 - b2_) * g * g
                mh = m[kk] / (1 - b1_ ** t)
                vh = v2[kk] / (1 - b2_ ** t)
                params[kk] = (params[kk] - lr * mh / (np.sqrt(vh) + eps)).astype(np.float32)
            done += 1
            if progress is not None:
                progress(done / steps)
    net = ConvNet(cfg, params["w1"], params["b1"], params["w2"], params["b2"])
    net.test_accuracy = accuracy(net, xte, yte)
    return net


def cache_path(cfg: CNNConfig, cache_dir: str | Path) -> Path:
    return Path(cache_dir) / f"cnn_{cfg.dataset}_f{cfg.filters}_k{cfg.kernel}_s{cfg.stride}_{cfg.key()}.npz"


def load_or_train(cfg: CNNConfig, cache_dir: str | Path | None = "build/variability", data=None,
                  progress=None) -> tuple[ConvNet, bool]:
    """The trained network from the cache, or train and cache it; returns ``(net, from_cache)``."""
    path = cache_path(cfg, cache_dir) if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            z = np.load(path)
            net = ConvNet(cfg, z["w1"], z["b1"], z["w2"], z["b2"], float(z["test_accuracy"]))
            return net, True
        except (OSError, KeyError, ValueError):
            pass  # unreadable cache entry: retrain and overwrite
    net = train(cfg, data, progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")  # own name: runs may train at once
        np.savez(tmp, w1=net.w1, b1=net.b1, w2=net.w2, b2=net.b2, test_accuracy=net.test_accuracy,
                 config=json.dumps(asdict(cfg)))
        tmp.replace(path)
    return net, False
