"""Host side of the in-situ training co-simulation: the run's configuration, the golden and host
networks, the behavioural arrays with the golden chip's device ids, and the stimulus encodings
(UPDATE words, the C++ harness's stimulus file)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import ClassVar

import numpy as np

from golden.data.datasets import load_digits
from golden.physics.crossbar_state import CrossbarArray
from golden.physics.device import DeviceModel
from golden.spec.params import AccelParams, ConfigError, check_int
from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.spec.transactions import ProgramRequest, UpdateRequest
from golden.training.in_situ import InSituMLP, initial_weights, make_config, sample_order, sparse_inputs
from golden.twins.pulse_scheduler import pulses_for
from tb.tops.cosim_top import ADC_WIDTH


@dataclass(frozen=True)
class CosimConfig:
    """One co-simulation run.

    Attributes
    ----------
    samples : int, 1..1437
        Training samples (one epoch over the first ``samples`` digits training images).
    hidden : int, 1..64
        Hidden width of the ``64 - hidden - 10`` MLP.
    devices : int, 1..16
        N, devices per synapse (non-differential).
    lr : float
        SGD learning rate.
    seed : int
        Initial weights, sample order and chip seed.
    read_cells : int, 0..
        Cells per layer read back through READ_REQ/READ_DATA at the end (spread over the array).
    """

    samples: int = 200
    hidden: int = 16
    devices: int = 4
    lr: float = 0.05
    seed: int = 0
    read_cells: int = 64

    MAX_SAMPLES: ClassVar[int] = 1437
    BNN_MAX_IMAGES: ClassVar[int] = 360
    """Images :func:`tb.cosim.run.run_cosim_bnn` accepts (its own check)."""

    def __post_init__(self):
        check_int("cosim.samples", self.samples, 1, self.MAX_SAMPLES)
        check_int("cosim.hidden", self.hidden, 1, 64)
        check_int("cosim.devices", self.devices, 1, 16)
        check_int("cosim.seed", self.seed, 0, 2 ** 31)
        check_int("cosim.read_cells", self.read_cells, 0, 100_000)
        if not 0 < self.lr <= 10:
            raise ConfigError(f"cosim.lr = {self.lr} is out of range: allowed (0, 10]")

    def training_config(self):
        return make_config(devices=self.devices, hidden=self.hidden, lr=self.lr, epochs=1,
                           train_samples=self.samples, seed=self.seed, read_noise="output")

    def to_dict(self) -> dict:
        return asdict(self)


def layer_params(cfg: CosimConfig, n_in: int = 64, n_out: int = 10) -> list[AccelParams]:
    """The two layers' hardware parameters, as the golden InSituMLP builds them."""
    net = InSituMLP(cfg.training_config(), n_in, n_out)
    return [arr.params for arr in net.layers]


class OffsetCrossbarArray(CrossbarArray):
    """:class:`CrossbarArray` whose device ``(row, pc)`` has global id ``id_base + row * phys_cols + pc``
    (the id the golden DeviceStore gives it), so that several arrays form one chip."""

    def __init__(self, params: AccelParams, device: DeviceModel, id_base: int, adc_width: int = ADC_WIDTH):
        super().__init__(params, device, adc_width=adc_width)
        self.id_base = int(id_base)
        self.ids = np.arange(self.rows * self.phys_cols, dtype=np.uint64) + np.uint64(self.id_base)
        self.dev = device.per_device(self.ids)
        self.g_flat = device.initial(self.ids, dev=self.dev)


# --- golden and host networks ---------------------------------------------------------------------------
def _traced(net) -> list[list]:
    """Make every layer's ``plan_update`` append its transactions to a list (returned, one per layer)."""
    traces = [[] for _ in net.layers]
    for arr, tr in zip(net.layers, traces):
        arr.plan_update = partial(type(arr).plan_update, arr, trace=tr)
    return traces


def twin_networks(tcfg, data) -> tuple[InSituMLP, InSituMLP]:
    """The golden reference run and the host copy: two :class:`InSituMLP` of ``tcfg`` on ``data``'s
    shape, both open-loop programmed to the seed's initial weights (the same chip state)."""
    w0 = initial_weights(tcfg.seed, data.n_inputs, tcfg.hidden, data.n_classes)
    golden = InSituMLP(tcfg, data.n_inputs, data.n_classes)
    host = InSituMLP(tcfg, data.n_inputs, data.n_classes)
    for net in (golden, host):
        net.program(w0)
    return golden, host


def behavioural_arrays(golden: InSituMLP, params: list[AccelParams]) -> list[OffsetCrossbarArray]:
    """Behavioural-array states (one per layer, with the hardware ``params``) equal to the golden
    chip's devices now (after the initial programming: the co-simulation's start)."""
    out = []
    for arr, p in zip(golden.layers, params):
        xa = OffsetCrossbarArray(p, golden.model, arr.id_base)
        sl = slice(arr.id_base, arr.id_base + arr.n_devices)
        xa.g_flat[:] = golden.store.g[sl]
        xa.k[:] = golden.store.k[sl]
        out.append(xa)
    return out


class Networks:
    """The golden reference run and the host copy, both :class:`golden.training.in_situ.InSituMLP`."""

    def __init__(self, cfg: CosimConfig):
        self.cfg = cfg
        self.tcfg = cfg.training_config()
        self.data = load_digits()
        d = self.data
        self.golden, self.host = twin_networks(self.tcfg, d)
        self.program_pulses = int(sum(a.pulse_total for a in self.golden.layers))
        self.golden_trace = _traced(self.golden)
        self.host_trace = _traced(self.host)
        self.x, self.y = d.x_train[:cfg.samples], d.y_train[:cfg.samples]
        self.order = sample_order(self.tcfg.seed, len(self.y), 0)
        self.sparse = sparse_inputs(self.x)

    @property
    def params(self) -> list[AccelParams]:
        return [arr.params for arr in self.golden.layers]

    def arrays(self) -> list[OffsetCrossbarArray]:
        """Behavioural-array states equal to the golden chip after the initial (open-loop) programming."""
        return behavioural_arrays(self.golden, self.params)

    def load_host(self, arrays: list[CrossbarArray]) -> None:
        """Host copy's conductances := the behavioural arrays' (the RTL-produced state)."""
        for arr, xa in zip(self.host.layers, arrays):
            self.host.store.g[arr.id_base:arr.id_base + arr.n_devices] = xa.g_flat
            arr._recompute_all()

    def step(self, n: int) -> tuple[list[list[UpdateRequest]], list[list[UpdateRequest]], list[list[ProgramRequest]]]:
        """Sample ``n`` of the epoch on both networks: (host requests, golden requests, golden
        program requests), one list per layer."""
        i = int(self.order[n])
        for tr in self.host_trace + self.golden_trace:
            tr.clear()
        self.host.step(self.x[i], int(self.y[i]), self.tcfg.lr, self.sparse[i])
        self.golden.step(self.x[i], int(self.y[i]), self.tcfg.lr, self.sparse[i])
        hreq = [[t for t in tr if isinstance(t, UpdateRequest)] for tr in self.host_trace]
        greq = [[t for t in tr if isinstance(t, UpdateRequest)] for tr in self.golden_trace]
        gprog = [[t for t in tr if isinstance(t, ProgramRequest)] for tr in self.golden_trace]
        return hreq, greq, gprog

    def accuracy(self, net) -> float:
        return float(net.accuracy(self.data.x_test, self.data.y_test))


# --- stimulus ------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _update_fields(params: AccelParams) -> tuple[tuple[int, int], ...]:
    """(offset, width) of UPDATE's row, col, dw, end_cycle, marker fields."""
    reg = accelerator_register_map(params, fifo_depth=16, adc_width=ADC_WIDTH)["update"]
    return tuple((reg.field(f).offset, reg.field(f).width) for f in ("row", "col", "dw", "end_cycle", "marker"))


def update_words(params: AccelParams, requests: list[UpdateRequest]) -> list[int]:
    """UPDATE words of one layer's update cycle (END_CYCLE on the last, MARKER + END_CYCLE if empty);
    the same words as ``register_map["update"].encode(...)``, packed without per-field checks (the
    requests come from the golden UpdateUnit formats)."""
    (ro, _), (co, _), (do, dwid), (eo, _), (mo, _) = _update_fields(params)
    if not requests:
        return [(1 << mo) | (1 << eo)]
    dmask = (1 << dwid) - 1
    out = [(r.row << ro) | (r.col << co) | ((r.dw & dmask) << do) for r in requests]
    out[-1] |= 1 << eo
    return out


def expected_pulses(params: AccelParams, prog: list[ProgramRequest]) -> list[list[tuple[int, int, int, int]]]:
    """(cycle, row, phys_col, polarity) of the pulses of each program request, in order."""
    return [[(q.cycle, q.row, q.phys_col, q.polarity) for q in pulses_for(params, pr)] for pr in prog]


def read_cells(params: AccelParams, n: int) -> list[tuple[int, int]]:
    """``n`` cells (row, phys_col) spread over the array (deterministic)."""
    total = params.array.rows * params.phys_cols
    n = min(n, total)
    if n == 0:
        return []
    idx = np.unique(np.linspace(0, total - 1, n).round().astype(np.int64))
    return [(int(i) // params.phys_cols, int(i) % params.phys_cols) for i in idx]


def write_stimulus(path: Path, addrs: dict, samples: list[list[list[int]]]) -> None:
    """Text stimulus of the C++ harness: a header (``A`` UPDATE address, STATUS address, BUSY bit,
    sequencer depth, mode 1 = batches through the :class:`~tb.tops.axil_sequencer.AxilSequencer` /
    0 = direct writes), then per sample ``S n1 n2`` and the words (hex) of port l1 then port l2."""
    lines = [f"A {addrs['update']} {addrs['status']} {addrs['busy_bit']} {addrs['seq_depth']} {addrs['mode']}",
             f"N {len(samples)}"]
    for words in samples:
        lines.append("S " + " ".join(str(len(w)) for w in words))
        for w in words:
            lines.append(" ".join(f"{x:08x}" for x in w))
    path.write_text("\n".join(lines) + "\n")
