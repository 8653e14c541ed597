"""Host side of the frame co-simulation (in-situ training through the update engine, MNIST or digits):
the run's configuration, the golden and host networks, the frames, the behavioural arrays' sync
into the host network, and the C++ harness's binary stimulus.

Per training sample and layer the host sends one frame: the codes of the layer input ``x`` and of
the error ``d = -lr * delta / lsb`` (:func:`layer_codes`, the arithmetic of
:mod:`golden.twins.outer_product_engine`), packed by :func:`frame_int` exactly as
:func:`~golden.twins.outer_product_engine.frame_words` packs them.

Python per sample is kept small (a few ms at 784-250-10):

* the host network's update is not computed at all: its layers' ``plan_update`` only records its
  arguments (``rows, a, delta, lr``) and plans nothing (:func:`_recorder`), so the host's devices change only
  through :meth:`FrameNetworks.sync_host`, which copies just the devices the RTL pulsed;
* the golden network's trace keeps only the ProgramRequests (:class:`ProgramTrace`: the
  per-synapse UpdateRequests, tens of thousands per MNIST sample, are never built);
* the frame is packed with numpy into one integer (one write of the loader's wide input).
"""
from __future__ import annotations

import struct
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from golden.data.datasets import load
from golden.spec.engine_geometry import with_lanes
from golden.spec.params import AccelParams, ConfigError, check_choice, check_int
from golden.spec.transactions import ProgramRequest
from golden.training.in_situ import (
    DATASET_DEFAULTS,
    ENGINE_LANES,
    InSituMLP,
    lr_at,
    make_config,
    sample_order,
    sparse_input,
)
from golden.training.multi_device_synapses import _EMPTY, PulsePlan, SynapseArray
from golden.twins.outer_product_engine import WORD_BITS, quantize_delta, quantize_x
from tb.cosim.training_host import OffsetCrossbarArray, behavioural_arrays, twin_networks

#: training-set sizes (the limit of ``samples``: one epoch at most) and default hidden widths
TRAIN_SIZE = {"mnist": 60000, "digits": 1437}
HIDDEN = {"mnist": 250, "digits": 16}


@dataclass(frozen=True)
class FrameCosimConfig:
    """One frame co-simulation run.

    Attributes
    ----------
    dataset : "mnist" | "digits"
    samples : int, 1..60000 (mnist) / 1..1437 (digits)
        Training samples: the first ``samples`` of one epoch's sample order over the whole training set.
    hidden : int, 1..250 or None
        Hidden width (None: 250 for MNIST, 16 for digits).
    devices : int, 1..16
        N, devices per synapse (non-differential).
    seed : int
        Initial weights, sample order and chip seed.
    lanes : int or None
        P of the hardware's update engine (a power of two; per layer at most the largest power of
        two <= its columns). None: the data set's ``ENGINE_LANES`` (128 for MNIST), else the parameter
        tree's default. The golden arithmetic and the pulse order do not depend on it.
    read_cells : int, 0..
        Cells per layer read back through READ_REQ/READ_DATA at the end.

    The learning-rate schedule is the dataset's default (``DATASET_DEFAULTS``) spread over the
    ``samples`` update cycles of the run.
    """

    dataset: str = "mnist"
    samples: int = 200
    hidden: int | None = None
    devices: int = 4
    seed: int = 0
    lanes: int | None = None
    read_cells: int = 32

    def __post_init__(self):
        check_choice("cosim.dataset", self.dataset, tuple(TRAIN_SIZE))
        check_int("cosim.samples", self.samples, 1, TRAIN_SIZE[self.dataset])
        if self.hidden is not None:
            check_int("cosim.hidden", self.hidden, 1, 250)
        check_int("cosim.devices", self.devices, 1, 16)
        check_int("cosim.seed", self.seed, 0, 2 ** 31)
        check_int("cosim.read_cells", self.read_cells, 0, 100_000)
        if self.lanes is not None:
            check_int("cosim.lanes", self.lanes, 1, 256)
            if self.lanes & (self.lanes - 1):
                raise ConfigError(f"cosim.lanes = {self.lanes} is not a power of two: allowed 1, 2, 4, .., 256")

    @property
    def width(self) -> int:
        return self.hidden if self.hidden is not None else HIDDEN[self.dataset]

    def training_config(self):
        d = DATASET_DEFAULTS[self.dataset]
        return make_config(devices=self.devices, hidden=self.width, lr=d["lr"], lr_schedule=d["lr_schedule"],
                           lr_end=d["lr_end"], epochs=1, seed=self.seed, read_noise="output")

    def to_dict(self) -> dict:
        return asdict(self)


def hw_params(cfg: FrameCosimConfig, golden_params: list[AccelParams]) -> list[AccelParams]:
    """The layers' hardware parameters: golden's, with ``engine.lanes`` set from ``cfg.lanes`` (None:
    the data set's :data:`golden.training.in_situ.ENGINE_LANES`, else golden's)."""
    lanes = cfg.lanes if cfg.lanes is not None else ENGINE_LANES.get(cfg.dataset)
    if lanes is None:
        return list(golden_params)
    return [with_lanes(p, lanes) for p in golden_params]


def layer_params(cfg: FrameCosimConfig, n_in: int, n_out: int = 10) -> list[AccelParams]:
    """The two layers' hardware parameters without loading the data (``n_in`` inputs)."""
    net = InSituMLP(cfg.training_config(), n_in, n_out)
    return hw_params(cfg, [arr.params for arr in net.layers])


N_INPUTS = {"mnist": 784, "digits": 64}


# --- the engine's codes and frames ----------------------------------------------------------------
def layer_codes(arr: SynapseArray, rows: np.ndarray | None, a: np.ndarray, delta: np.ndarray,
                lr: float) -> tuple[np.ndarray, np.ndarray]:
    """``(x_q, d_q)`` of one layer's update cycle, from the arguments of its ``plan_update``: ``x``
    is ``a`` on ``rows`` (0 elsewhere), ``d = delta * float32(-lr / lsb)`` in float32 (the error in
    dw LSBs), both quantised by the engine's host-side functions -- through the golden array's own
    ``frame_codes`` where it has one (the golden training's definition), else the same formula here."""
    p = arr.params
    x = np.zeros(p.array.rows, dtype=np.float32)
    if rows is None:
        x[:len(a)] = a
    else:
        x[rows] = a
    if hasattr(arr, "frame_codes"):
        return arr.frame_codes(x, delta, lr)
    d = np.asarray(delta, dtype=np.float32) * np.float32(-lr / arr.lsb)
    return quantize_x(x, p), quantize_delta(d, p)


def _pack_np(codes: np.ndarray, width: int, n: int) -> np.ndarray:
    """:func:`golden.twins.outer_product_engine._pack` of ``codes`` padded to ``n``, vectorised (uint64 words)."""
    per = WORD_BITS // width
    nw = -(-n // per)
    c = np.zeros(nw * per, dtype=np.uint64)
    c[:len(codes)] = (np.asarray(codes, dtype=np.int64) & ((1 << width) - 1)).astype(np.uint64)
    shifts = (np.arange(per, dtype=np.uint64) * np.uint64(width))[None, :]
    return (c.reshape(nw, per) << shifts).sum(axis=1, dtype=np.uint64)


def frame_array(x_q: np.ndarray, d_q: np.ndarray, params: AccelParams) -> np.ndarray:
    """The frame's words (uint32), equal to :func:`~golden.twins.outer_product_engine.frame_words`
    (codes assumed in range: they come from :func:`layer_codes`)."""
    e, a = params.engine, params.array
    if len(x_q) > a.rows or len(d_q) > a.cols:
        raise ConfigError(f"frame: {len(x_q)} x codes / {len(d_q)} delta codes for an array of "
                          f"{a.rows} rows / {a.cols} cols")
    return np.concatenate([_pack_np(d_q, e.delta_width, a.cols), _pack_np(x_q, e.x_width, a.rows)]).astype(np.uint32)


def frame_int(words: np.ndarray) -> int:
    """The loader's ``words`` input value of a frame (word ``k`` at bits ``32k``)."""
    return int.from_bytes(np.asarray(words, dtype="<u4").tobytes(), "little")


# --- networks ---------------------------------------------------------------------------------------
class ProgramTrace(list):
    """A ``plan_update`` trace that keeps the ProgramRequests only: any other batch (the per-synapse
    UpdateRequests, tens of thousands per MNIST sample; PulseCounts) is dropped without building it
    (``extend`` gets a generator of one kind; its first item tells which)."""

    def extend(self, items) -> None:
        it = iter(items)
        first = next(it, None)
        if not isinstance(first, ProgramRequest):
            return
        self.append(first)
        super().extend(it)


def _recorder(arr: SynapseArray, log: list):
    """A ``plan_update`` that records its arguments and plans nothing (the host's layers)."""
    def plan_update(rows, a, delta, lr, trace=None):
        log.append((None if rows is None else np.array(rows), np.array(a, dtype=np.float32),
                    np.array(delta, dtype=np.float32), float(lr)))
        return PulsePlan(_EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY)
    return plan_update


def _traced(arr: SynapseArray, log: list, trace: ProgramTrace):
    """The golden layers' ``plan_update``: records its arguments, runs, traces its ProgramRequests."""
    real = partial(type(arr).plan_update, arr)

    def plan_update(rows, a, delta, lr, trace_=None):
        log.append((None if rows is None else np.array(rows), np.array(a, dtype=np.float32),
                    np.array(delta, dtype=np.float32), float(lr)))
        return real(rows, a, delta, lr, trace=trace)
    return plan_update


@dataclass
class SampleStep:
    """One sample on both networks: per layer the host's and the golden's codes ``(x_q, d_q)``
    and the golden ProgramRequests."""

    host_codes: list[tuple[np.ndarray, np.ndarray]]
    golden_codes: list[tuple[np.ndarray, np.ndarray]]
    golden_program: list[list[ProgramRequest]]

    def frames_equal(self) -> list[bool]:
        return [bool(np.array_equal(h[0], g[0]) and np.array_equal(h[1], g[1]))
                for h, g in zip(self.host_codes, self.golden_codes)]


class FrameNetworks:
    """The golden reference run and the host copy (both :class:`InSituMLP`), see the module docstring."""

    def __init__(self, cfg: FrameCosimConfig):
        self.cfg = cfg
        self.tcfg = cfg.training_config()
        self.data = d = load(cfg.dataset)
        self.golden, self.host = twin_networks(self.tcfg, d)
        self.program_pulses = int(sum(a.pulse_total for a in self.golden.layers))
        self.host_args: list[list] = [[] for _ in self.host.layers]
        self.golden_args: list[list] = [[] for _ in self.golden.layers]
        self.golden_trace = [ProgramTrace() for _ in self.golden.layers]
        for arr, log in zip(self.host.layers, self.host_args):
            arr.plan_update = _recorder(arr, log)
        for arr, log, tr in zip(self.golden.layers, self.golden_args, self.golden_trace):
            arr.plan_update = _traced(arr, log, tr)
        self.order = sample_order(self.tcfg.seed, len(d.y_train), 0)[:cfg.samples]
        self.params = hw_params(cfg, [arr.params for arr in self.golden.layers])

    def arrays(self) -> list[OffsetCrossbarArray]:
        """Behavioural-array states equal to the golden chip after the initial (open-loop) programming."""
        return behavioural_arrays(self.golden, self.params)

    def sync_host(self, arrays: list[OffsetCrossbarArray], pulsed: list[np.ndarray] | None = None) -> None:
        """Host conductances := the behavioural arrays' (the RTL-produced state): only the devices
        in ``pulsed`` (local device indices per layer, ``row * phys_cols + phys_col``), or all."""
        store = self.host.store
        for arr, xa, idx in zip(self.host.layers, arrays, pulsed or [None] * len(arrays)):
            if idx is None:
                store.g[arr.id_base:arr.id_base + arr.n_devices] = xa.g_flat
                store.k[arr.id_base:arr.id_base + arr.n_devices] = xa.k
                arr._recompute_all()
                continue
            if not len(idx):
                continue
            idx = np.unique(np.asarray(idx, dtype=np.int64))
            store.g[arr.id_base + idx] = xa.g_flat[idx]
            store.k[arr.id_base + idx] = xa.k[idx]
            r, pc = np.divmod(idx, arr.cols * arr.D)
            syn = np.unique(r * arr.cols + pc // arr.D)
            arr._recompute(*np.divmod(syn, arr.cols))

    def lr(self, n: int) -> float:
        return lr_at(self.tcfg, n, self.cfg.samples)

    def step(self, n: int) -> SampleStep:
        """Sample ``n`` of the run on both networks."""
        d = self.data
        i = int(self.order[n])
        x, y, lr = d.x_train[i], int(d.y_train[i]), self.lr(n)
        sparse = sparse_input(x, d.n_inputs)
        for log in self.host_args + self.golden_args:
            log.clear()
        for tr in self.golden_trace:
            tr.clear()
        self.host.step(x, y, lr, sparse)
        self.golden.step(x, y, lr, sparse)
        hc = [layer_codes(arr, *args[0]) for arr, args in zip(self.host.layers, self.host_args)]
        gc = [layer_codes(arr, *args[0]) for arr, args in zip(self.golden.layers, self.golden_args)]
        return SampleStep(hc, gc, [list(tr) for tr in self.golden_trace])

    def accuracy(self, net) -> float:
        return float(net.accuracy(self.data.x_test, self.data.y_test))


# --- the C++ harness's stimulus ---------------------------------------------------------------------
STIM_MAGIC = b"RFRM0001"


class FrameStimulus:
    """Binary stimulus of the C++ frame harness, written sample by sample.

    Layout (little-endian uint32 after the magic): ``status_addr, busy_bit, stand_in, layers``; then
    per sample, per layer ``n`` and the ``n`` frame words. The sample count is what the file holds.
    """

    def __init__(self, path: Path, status_addr: int, busy_bit: int, stand_in: bool, layers: int = 2):
        self.path = Path(path)
        self.f = open(self.path, "wb")  # noqa: SIM115  (closed by close())
        self.f.write(STIM_MAGIC + struct.pack("<4I", status_addr, busy_bit, int(stand_in), layers))
        self.samples = 0

    def add(self, frames: list[np.ndarray]) -> None:
        for w in frames:
            self.f.write(struct.pack("<I", len(w)))
            self.f.write(np.asarray(w, dtype="<u4").tobytes())
        self.samples += 1

    def close(self) -> None:
        self.f.close()


def read_stimulus(path: Path) -> tuple[dict, list[list[np.ndarray]]]:
    """(header, samples) of a :class:`FrameStimulus` file (for tests)."""
    b = Path(path).read_bytes()
    if b[:8] != STIM_MAGIC:
        raise ValueError(f"{path}: not a frame stimulus file")
    status_addr, busy_bit, stand_in, layers = struct.unpack_from("<4I", b, 8)
    off, samples = 24, []
    while off < len(b):
        s = []
        for _ in range(layers):
            (n,) = struct.unpack_from("<I", b, off)
            s.append(np.frombuffer(b, dtype="<u4", count=n, offset=off + 4).copy())
            off += 4 + 4 * n
        samples.append(s)
    return {"status_addr": status_addr, "busy_bit": busy_bit, "stand_in": bool(stand_in), "layers": layers}, samples
