"""Data sets for the in-situ training runs: full MNIST (shipped, gzipped IDX) and scikit-learn digits.

Nothing is fetched over the network. MNIST is read from ``golden/data/mnist/*.gz`` (see the README
there for attribution and licence); the decompressed bytes are checked against the published md5
sums and the IDX headers (magic number, dimensions) are validated, so a truncated or foreign file
gives a :class:`DatasetError` naming the file and the problem.
"""
from __future__ import annotations

import gzip
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_DIR = Path(__file__).resolve().parent / "mnist"

#: md5 of the *decompressed* IDX files (golden/data/mnist/README.md).
MNIST_MD5 = {
    "train-images.idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels.idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images.idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels.idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

DATASETS = ("digits", "mnist")
MNIST_TRAIN_SIZE = 60000
MNIST_TEST_SIZE = 10000
DIGITS_TRAIN_SIZE = 1438   # scikit-learn's 1797 digits, split by :func:`load_digits`
DIGITS_TEST_SIZE = 359
SIZES = {"digits": (DIGITS_TRAIN_SIZE, DIGITS_TEST_SIZE), "mnist": (MNIST_TRAIN_SIZE, MNIST_TEST_SIZE)}
"""(training, test) samples of each data set, known without loading it (option checks use them)."""


class DatasetError(ValueError):
    """A data file is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class Dataset:
    """Train/test split: float32 inputs in [0, 1] (one row per sample), int64 labels 0..9."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return 10

    def subset(self, train: int | None = None, test: int | None = None) -> Dataset:
        """The first ``train`` training and ``test`` test samples (None: all)."""
        return Dataset(self.name, self.x_train[:train], self.y_train[:train],
                       self.x_test[:test], self.y_test[:test])


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse an IDX file (unsigned-byte data) into a uint8 array; :class:`DatasetError` if malformed."""
    if len(data) < 4:
        raise DatasetError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or not 1 <= ndim <= 3:
        raise DatasetError(f"{name}: bad IDX magic {data[:4].hex()} (expected 0000080{'1|3'} for "
                           f"unsigned-byte data with 1..3 dimensions)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{name}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    size = int(np.prod(dims))
    if len(data) != header + size:
        raise DatasetError(f"{name}: IDX header says {dims} = {size} bytes of data, file has "
                           f"{len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _read_idx_gz(path: Path, check_md5: bool) -> np.ndarray:
    if not path.exists():
        raise DatasetError(f"{path}: file not found (MNIST ships with the repository in golden/data/mnist)")
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path}: not a valid gzip file ({e})") from None
    arr = parse_idx(data, str(path))
    key = path.name.removesuffix(".gz")
    if check_md5 and key in MNIST_MD5:
        digest = hashlib.md5(data).hexdigest()
        if digest != MNIST_MD5[key]:
            raise DatasetError(f"{path}: md5 of the decompressed data is {digest}, expected {MNIST_MD5[key]}")
    return arr


def load_mnist(directory: str | Path | None = None, check_md5: bool = True) -> Dataset:
    """Full MNIST: 60,000 training and 10,000 test images as 784-vectors in [0, 1]."""
    d = Path(directory) if directory is not None else MNIST_DIR
    parts = {}
    for split, prefix, n in (("train", "train", MNIST_TRAIN_SIZE), ("test", "t10k", MNIST_TEST_SIZE)):
        x = _read_idx_gz(d / f"{prefix}-images.idx3-ubyte.gz", check_md5)
        y = _read_idx_gz(d / f"{prefix}-labels.idx1-ubyte.gz", check_md5)
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DatasetError(f"{d}/{prefix}-images: expected N x 28 x 28 images, got {x.shape}")
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise DatasetError(f"{d}/{prefix}-labels: {y.shape} labels for {x.shape[0]} images")
        if y.size and y.max() > 9:
            raise DatasetError(f"{d}/{prefix}-labels: label {int(y.max())} outside 0..9")
        if check_md5 and x.shape[0] != n:
            raise DatasetError(f"{d}/{prefix}-images: expected {n} images, got {x.shape[0]}")
        parts[split] = ((x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255.0)),
                        y.astype(np.int64))
    return Dataset("mnist", parts["train"][0], parts["train"][1], parts["test"][0], parts["test"][1])


def load_digits(test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 8x8 digits (1797 samples), inputs scaled to [0, 1], a fixed shuffled split."""
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(y))  # fixed split, independent of run seeds
    n_test = round(test_fraction * len(y))
    te, tr = perm[:n_test], perm[n_test:]
    return Dataset("digits", x[tr], y[tr], x[te], y[te])


def load(name: str) -> Dataset:
    """``"digits"`` or ``"mnist"``."""
    if name == "digits":
        return load_digits()
    if name == "mnist":
        return load_mnist()
    from golden.spec.params import ConfigError
    raise ConfigError(f"dataset = {name!r} is not allowed: choose one of {list(DATASETS)}")
