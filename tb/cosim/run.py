"""End-to-end co-simulation of in-situ training with the RTL in the loop (host side).

The chip under test is :class:`CosimTop`: one :class:`hw.accelerator.Accelerator` per network layer
(``l1``: ``(n_in + 1) x hidden`` synapses, ``l2``: ``(hidden + 1) x 10``), each with its own AXI4-Lite
port and array port -- exactly the golden stack's mapping (:class:`golden.training.in_situ.InSituMLP`: one
:class:`~golden.training.multi_device_synapses.SynapseArray`, with its own UpdateUnit chi memory and
ArbitrationController, per layer). A behavioural array (:class:`tb.models.reram_array.ArrayModel`) sits on
each array port; its device ids are the golden :class:`~golden.training.multi_device_synapses.DeviceStore`'s
(:class:`OffsetCrossbarArray`), so the counter-based device model gives the same draws.

Per training sample (:mod:`tb.cosim.training_tb` runs this inside the simulator):

1. *host*: an :class:`InSituMLP` whose conductances are loaded from the two behavioural arrays (the
   state the RTL's pulses produced) runs the golden forward/backward pass and the golden
   quantisation; its :class:`~golden.spec.transactions.UpdateRequest` list (row-major, ``dw != 0``) is the
   stimulus. The update-cycle bookkeeping of the host copy (chi, arbitration, its own device
   pulses) is discarded: only the requests leave the host.
2. *bus*: the requests go to each layer's UPDATE register (END_CYCLE on the last one, or a MARKER +
   END_CYCLE if a layer has none), both ports in parallel; then STATUS.BUSY is polled on each port.
3. *RTL*: UpdateUnit -> ArbitrationController -> PulseScheduler -> CrossbarAddressing; every pulse
   is applied by the array model as it appears on the lines.
4. *golden reference*: an independent :class:`InSituMLP` (same config and seed) runs
   ``step`` on the same sample; its ProgramRequests (traced) give the expected pulses
   (:func:`golden.twins.pulse_scheduler.pulses_for`).

Compared: every pulse (order, row, physical column = device slot, polarity, and its cycle offset
inside its program request), every request sent against the reference's, the conductances of every
device (bit-identical float64) and the pulse counters at the end, cells read back through
READ_REQ/READ_DATA against the golden read codes, the CSR counters, and the test accuracy.

The AXI write stream of every sample is recorded (:func:`write_stimulus`) so that the plain Verilator
C++ harness (``tb/cosim/harness``) replays it without Python: the cycle counts and pulse logs must agree,
and the wall-clock ratio is what cocotb costs.
"""
from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
from amaranth import Array, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.physics.crossbar_state import CrossbarArray
from golden.physics.device import DeviceModel
from golden.spec.params import AccelParams, ConfigError, check_int
from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.spec.transactions import ProgramRequest, UpdateRequest
from golden.twins.pulse_scheduler import pulses_for
from tb.kit.runner import ROOT

PUBLIC_VLT = Path(__file__).resolve().parent / "harness" / "cosim_top_public.vlt"
LAYERS = ("l1", "l2")
ADC_WIDTH = 8
#: words per AxilSequencer batch
SEQ_DEPTH = 64


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

    def __post_init__(self):
        check_int("cosim.samples", self.samples, 1, 1437)
        check_int("cosim.hidden", self.hidden, 1, 64)
        check_int("cosim.devices", self.devices, 1, 16)
        check_int("cosim.seed", self.seed, 0, 2 ** 31)
        check_int("cosim.read_cells", self.read_cells, 0, 100_000)
        if not 0 < self.lr <= 10:
            raise ConfigError(f"cosim.lr = {self.lr} is out of range: allowed (0, 10]")

    def training_config(self):
        from golden.training.in_situ import make_config
        return make_config(devices=self.devices, hidden=self.hidden, lr=self.lr, epochs=1,
                           train_samples=self.samples, seed=self.seed, read_noise="output")

    def to_dict(self) -> dict:
        return asdict(self)


def dataset():
    from golden.data.datasets import load_digits
    return load_digits()


def layer_params(cfg: CosimConfig, n_in: int = 64, n_out: int = 10) -> list[AccelParams]:
    """The two layers' hardware parameters, as the golden InSituMLP builds them."""
    from golden.training.in_situ import InSituMLP
    net = InSituMLP(cfg.training_config(), n_in, n_out)
    return [arr.params for arr in net.layers]


# --- the chip ------------------------------------------------------------------------------------------
#: AXI4-Lite members driven by the manager (the others are driven by the subordinate)
_AXIL_FROM_MANAGER = ("awaddr", "awvalid", "wdata", "wstrb", "wvalid", "bready", "araddr", "arvalid", "rready")


class AxilSequencer(wiring.Component):
    """Testbench-side AXI4-Lite manager that writes a batch of words to one address, then optionally
    polls a status bit until it is 0 -- so the Python side wakes once per batch, not once per write.

    Protocol (the same as :class:`tb.cosim.training_tb.FastAxil`, cycle for cycle, once started):
    AWVALID/WVALID are high while words remain; word ``j + 1`` is presented in the cycle in which
    BVALID acknowledges word ``j`` (one write every 2 cycles at best); BREADY and RREADY are held
    high. Polling: ARVALID for one cycle, RDATA sampled in the next; again in the cycle after if the
    bit is set.

    Ports
    -----
    words : In(32 * depth)
        The batch; word ``j`` in bits ``32j .. 32j + 31``.
    n : In(range(depth + 1))
        Words in the batch.
    addr, poll_addr : In(addr_width)
        Write address; status address polled after the batch if ``poll``.
    poll : In(1)
    batch : In(8)
        A batch starts in the cycle after ``batch`` changes (inputs must then hold until ``done``).
    done : Out(1)
        High (registered) while idle: after reset and from the cycle after the batch (and its poll)
        completed; low from the cycle after a batch was started.
    m_axil : Out(AxiLiteSignature(addr_width))
        Manager port.
    """

    def __init__(self, addr_width: int, depth: int, poll_bit: int):
        from hw.axil_csr import AxiLiteSignature
        check_int("sequencer depth", depth, 1, 4096)
        self.depth, self.poll_bit = depth, poll_bit
        super().__init__({
            "words": In(32 * depth), "n": In(range(depth + 1)), "addr": In(addr_width),
            "poll_addr": In(addr_width), "poll": In(1), "batch": In(8), "done": Out(1),
            "m_axil": Out(AxiLiteSignature(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.m_axil
        idx = Signal(range(self.depth + 1))
        cur = Signal(8)
        w = Signal(range(self.depth + 2))
        words = Array(self.words[32 * j:32 * (j + 1)] for j in range(self.depth))
        m.d.comb += [bus.bready.eq(1), bus.rready.eq(1), bus.wstrb.eq(0xF), bus.awaddr.eq(self.addr),
                     bus.araddr.eq(self.poll_addr), w.eq(idx + bus.bvalid)]
        with m.FSM(init="DONE"):
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
                with m.If(self.batch != cur):
                    m.d.sync += [cur.eq(self.batch), idx.eq(0)]
                    m.next = "WRITE"
            with m.State("WRITE"):
                with m.If(w < self.n):
                    m.d.comb += [bus.awvalid.eq(1), bus.wvalid.eq(1), bus.wdata.eq(words[w])]
                with m.If(bus.bvalid):
                    m.d.sync += idx.eq(w)
                with m.If(w >= self.n):
                    with m.If(self.poll):
                        m.next = "POLL_AR"
                    with m.Else():
                        m.next = "DONE"
            with m.State("POLL_AR"):
                m.d.comb += bus.arvalid.eq(1)
                m.next = "POLL_R"
            with m.State("POLL_R"):
                with m.If(bus.rdata[self.poll_bit]):
                    m.next = "POLL_AR"
                with m.Else():
                    m.next = "DONE"
        return m


#: entries of each PulseLogger's ring buffer, and the entry layout (LSB first)
PLOG_DEPTH = 128
PLOG_FIELDS = (("cycle", 32), ("row", 13), ("col", 15), ("pol", 1), ("width", 8), ("err_lines", 1),
               ("err_set_reset", 1), ("err_read", 1))
PLOG_ENTRY = sum(w for _, w in PLOG_FIELDS)


class PulseLogger(wiring.Component):
    """Testbench-side monitor of one array port: logs every programming pulse into a ring buffer that
    the Python side reads once per sample (no wake-up per pulse).

    An entry (:data:`PLOG_FIELDS`) is written when ``write`` falls: the cycle ``write`` rose (a
    free-running counter, 1 in the first cycle after reset), the word line and column indices, the
    polarity (1: ``bl_set``, SET), the number of cycles ``write`` was high, and three line checks made
    at the rising edge: ``err_lines`` (word lines or driven columns not exactly one-hot),
    ``err_set_reset`` (a column driven to SET and RESET), ``err_read`` (read path on). ``wp`` counts
    the entries written (entry ``i`` lives in slot ``i % PLOG_DEPTH``).
    """

    def __init__(self, rows: int, phys_cols: int, depth: int = PLOG_DEPTH):
        self.rows, self.pcols, self.depth = rows, phys_cols, depth
        super().__init__({"wl": In(rows), "bl_set": In(phys_cols), "sl_reset": In(phys_cols),
                          "bl_read": In(phys_cols), "write": In(1), "read": In(1),
                          "entries": Out(depth * PLOG_ENTRY), "wp": Out(32)})

    @staticmethod
    def _index(m, v, width):
        """(index of the set bit, not-exactly-one-hot flag) of ``v``."""
        idx = Signal(range(max(2, width)))
        acc = 0
        for i in range(width):
            acc = acc | Mux(v[i], i, 0)
        bad = Signal()
        m.d.comb += [idx.eq(acc), bad.eq((v == 0) | ((v & (v - 1)) != 0))]
        return idx, bad

    def elaborate(self, platform):
        m = Module()
        cycle = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)
        row, bad_r = self._index(m, self.wl, self.rows)
        drive = Signal(self.pcols)
        m.d.comb += drive.eq(self.bl_set | self.sl_reset)
        col, bad_c = self._index(m, drive, self.pcols)
        prev = Signal()
        m.d.sync += prev.eq(self.write)
        cur = Signal(PLOG_ENTRY)
        width = Signal(8)
        rise = self.write & ~prev
        vals = {"cycle": cycle, "row": row, "col": col, "pol": self.bl_set.any(), "width": 0,
                "err_lines": bad_r | bad_c, "err_set_reset": (self.bl_set & self.sl_reset).any(),
                "err_read": self.read | self.bl_read.any()}
        off = {}
        o = 0
        for name, w in PLOG_FIELDS:
            off[name] = (o, w)
            o += w
        with m.If(rise):
            m.d.sync += [cur[a:a + w].eq(vals[n]) for n, (a, w) in off.items() if n != "width"]
            m.d.sync += width.eq(1)
        with m.Elif(self.write):
            m.d.sync += width.eq(width + 1)
        slot = Signal(range(self.depth))
        wp = Signal(32)
        m.d.comb += [slot.eq(wp[:max(1, (self.depth - 1).bit_length())]), self.wp.eq(wp)]
        entries = Signal(self.depth * PLOG_ENTRY)
        m.d.comb += self.entries.eq(entries)
        a, w = off["width"]
        with m.If(~self.write & prev):
            full = Signal(PLOG_ENTRY)
            m.d.comb += [full.eq(cur), full[a:a + w].eq(width)]
            for i in range(self.depth):
                with m.If(slot == i):
                    m.d.sync += entries[i * PLOG_ENTRY:(i + 1) * PLOG_ENTRY].eq(full)
            m.d.sync += wp.eq(wp + 1)
        return m


def decode_plog(entries: int, wp: int, rp: int, depth: int = PLOG_DEPTH) -> list[dict]:
    """Entries ``rp .. wp - 1`` of a :class:`PulseLogger` ring (``entries`` the output as an int)."""
    if wp - rp > depth:
        raise OverflowError(f"pulse log overflow: {wp - rp} entries since the last read, ring of {depth}")
    out = []
    mask = (1 << PLOG_ENTRY) - 1
    for i in range(rp, wp):
        e = (entries >> ((i % depth) * PLOG_ENTRY)) & mask
        d = {}
        for name, w in PLOG_FIELDS:
            d[name] = e & ((1 << w) - 1)
            e >>= w
        out.append(d)
    return out


class CosimTop(wiring.Component):
    """Two accelerator tops side by side, one per MLP layer (ports ``l1__*`` and ``l2__*``).

    Each member is the full :class:`hw.accelerator.Accelerator` port (``s_axil``, array port, ``irq``)
    plus ``seq`` (an :class:`AxilSequencer`'s batch inputs) and ``seq_en``: while ``seq_en`` is high
    the sequencer, not ``s_axil``, drives the accelerator's bus (``s_axil`` then sees no responses);
    and ``plog`` (a :class:`PulseLogger` on the array port: ``entries``, ``wp``).
    The two layers share ``clk`` and ``rst`` only.
    """

    def __init__(self, params: list[AccelParams], seq_depth: int = SEQ_DEPTH):
        from hw.accelerator import Accelerator
        if len(params) != len(LAYERS):
            raise ConfigError(f"CosimTop needs {len(LAYERS)} layer parameter sets, got {len(params)}")
        self.tops = [Accelerator(p, adc_width=ADC_WIDTH) for p in params]
        self.seqs = []
        members = {}
        for name, t in zip(LAYERS, self.tops):
            busy = t.regmap["status"].field("busy").offset
            seq = AxilSequencer(t.regmap.addr_width, seq_depth, busy)
            self.seqs.append(seq)
            seq_in = {k: v for k, v in seq.signature.members.items() if k not in ("m_axil",)}
            members[name] = Out(wiring.Signature({
                **dict(t.signature.members.items()), "seq": Out(wiring.Signature(seq_in)), "seq_en": In(1),
                "plog": Out(wiring.Signature({"entries": Out(PLOG_DEPTH * PLOG_ENTRY), "wp": Out(32)}))}))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for name, top, seq in zip(LAYERS, self.tops, self.seqs):
            m.submodules[name] = top
            m.submodules[f"{name}_seq"] = seq
            port = getattr(self, name)
            log = m.submodules[f"{name}_plog"] = PulseLogger(top.params.array.rows, top.params.phys_cols)
            m.d.comb += [getattr(log, x).eq(getattr(top, x)) for x in ("wl", "bl_set", "sl_reset", "bl_read",
                                                                       "write", "read")]
            m.d.comb += [port.plog.entries.eq(log.entries), port.plog.wp.eq(log.wp)]
            for mname, member in top.signature.members.items():
                if mname == "s_axil":
                    continue
                if member.flow == wiring.In:
                    m.d.comb += getattr(top, mname).eq(getattr(port, mname))
                else:
                    m.d.comb += getattr(port, mname).eq(getattr(top, mname))
            for mname, member in seq.signature.members.items():
                if mname == "m_axil":
                    continue
                if member.flow == wiring.In:
                    m.d.comb += getattr(seq, mname).eq(getattr(port.seq, mname))
                else:
                    m.d.comb += getattr(port.seq, mname).eq(getattr(seq, mname))
            ext, sq, s = port.s_axil, seq.m_axil, top.s_axil
            en = port.seq_en
            for sig in _AXIL_FROM_MANAGER:
                m.d.comb += getattr(s, sig).eq(Mux(en, getattr(sq, sig), getattr(ext, sig)))
            for sig in ("awready", "wready", "bresp", "bvalid", "arready", "rdata", "rresp", "rvalid"):
                v = getattr(s, sig)
                m.d.comb += [getattr(sq, sig).eq(Mux(en, v, 0)), getattr(ext, sig).eq(Mux(en, 0, v))]
        return m


class Prefixed:
    """A view of a cocotb DUT handle whose attribute ``x`` is the DUT's ``<prefix>x``."""

    def __init__(self, dut, prefix: str):
        self._dut, self._prefix = dut, prefix

    def __getattr__(self, name: str):
        h = getattr(self._dut, self._prefix + name)
        setattr(self, name, h)          # resolved once: later lookups are plain attribute reads
        return h


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


class Networks:
    """The golden reference run and the host copy, both :class:`golden.training.in_situ.InSituMLP`."""

    def __init__(self, cfg: CosimConfig):
        from golden.training.in_situ import InSituMLP, initial_weights, sample_order, sparse_inputs
        self.cfg = cfg
        self.tcfg = cfg.training_config()
        self.data = dataset()
        d = self.data
        w0 = initial_weights(self.tcfg.seed, d.n_inputs, self.tcfg.hidden, d.n_classes)
        self.golden = InSituMLP(self.tcfg, d.n_inputs, d.n_classes)
        self.host = InSituMLP(self.tcfg, d.n_inputs, d.n_classes)
        for net in (self.golden, self.host):
            net.program(w0)
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
        out = []
        for arr in self.golden.layers:
            xa = OffsetCrossbarArray(arr.params, self.golden.model, arr.id_base)
            sl = slice(arr.id_base, arr.id_base + arr.n_devices)
            xa.g_flat[:] = self.golden.store.g[sl]
            xa.k[:] = self.golden.store.k[sl]
            out.append(xa)
        return out

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


def expected_pulses(params: AccelParams, prog: list[ProgramRequest]) -> list[tuple[int, list]]:
    """(request index, pulses) per program request, cycles relative to the request's accept."""
    return [(j, pulses_for(params, pr)) for j, pr in enumerate(prog)]


# --- stimulus file for the C++ harness ------------------------------------------------------------------
def write_stimulus(path: Path, addrs: dict, samples: list[list[list[int]]]) -> None:
    """Text stimulus: a header (``A`` UPDATE address, STATUS address, BUSY bit, sequencer depth, mode
    1 = batches through the :class:`AxilSequencer` / 0 = direct writes), then per sample ``S n1 n2`` and
    the words (hex) of port l1 then port l2."""
    lines = [f"A {addrs['update']} {addrs['status']} {addrs['busy_bit']} {addrs['seq_depth']} {addrs['mode']}",
             f"N {len(samples)}"]
    for words in samples:
        lines.append("S " + " ".join(str(len(w)) for w in words))
        for w in words:
            lines.append(" ".join(f"{x:08x}" for x in w))
    path.write_text("\n".join(lines) + "\n")


# --- running it ------------------------------------------------------------------------------------------
def run_cosim(cfg: CosimConfig, *, out_dir: Path | None = None, progress: bool = False,
              waves: bool | None = None, driver: str = "batch", profile: str | None = None,
              drop_word: tuple[int, int] | None = None) -> dict:
    """Build :class:`CosimTop`, run :mod:`tb.cosim.training_tb` under Verilator; returns its result dict
    (see :func:`tb.cosim.training_tb.cosim_training`), with ``build_seconds`` and ``run_seconds``.

    ``driver``: ``"batch"`` (default) loads ``SEQ_DEPTH`` UPDATE words at a time into the
    :class:`AxilSequencer` in front of each AXI port (one Python wake-up per batch); ``"python"``
    drives every AXI write from Python (:class:`tb.cosim.training_tb.FastAxil`, one wake-up per write).
    Both give the same bus protocol; the sequencer starts each batch one cycle later.
    ``drop_word = (sample, layer)`` loses the UPDATE word behind that layer's first golden pulse of that
    sample (fault injection: the run must then report mismatches; the cocotb failure is not raised).
    """
    if driver not in ("batch", "python"):
        raise ConfigError(f"driver = {driver!r} is not allowed: choose 'batch' or 'python'")
    from tb.kit.runner import run_cocotb

    out_dir = Path(out_dir) if out_dir is not None else ROOT / "build" / "cosim"
    out_dir.mkdir(parents=True, exist_ok=True)
    result = out_dir / "cosim_result.json"
    stim = out_dir / "cosim_stimulus.txt"
    for f in (result, stim):
        f.unlink(missing_ok=True)
    prog = out_dir / "cosim_progress.txt"
    prog.unlink(missing_ok=True)
    top = CosimTop(layer_params(cfg))
    stop = threading.Event()
    watcher = None
    if progress:
        watcher = threading.Thread(target=_watch_progress, args=(prog, stop), daemon=True)
        watcher.start()
    try:
        # only the top's ports are visible to cocotb (see tb/cosim/harness/cosim_top_public.vlt)
        res = run_cocotb(top, toplevel="cosim_top", test_module="tb.cosim.training_tb", waves=waves,
                         build_args=("--no-public-flat-rw", str(PUBLIC_VLT)),
                         config={"cosim": cfg.to_dict(), "result": str(result), "stimulus": str(stim),
                                 "progress_file": str(prog) if progress else None, "driver": driver,
                                 "profile": profile, "drop_word": drop_word},
                         check=drop_word is None)
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
    out = json.loads(result.read_text())
    out["build_seconds"] = res.build_seconds
    out["run_seconds"] = res.run_seconds
    out["build_dir"] = str(res.build_dir)
    out["stimulus"] = str(stim)
    return out


def compare_raw(res: dict, cfg: CosimConfig, repeat: int = 3) -> dict:
    """Replay ``res``'s recorded stimulus in the plain Verilator C++ harness (built here, cached);
    adds ``raw_*`` numbers, the pulse-log and cycle comparison, and the cocotb cost ratio to ``res``.

    ``ratio`` = raw cycles/s over cocotb cycles/s (wall clock; cocotb side: simulator + Python
    drivers and monitors, host compute excluded); ``ratio_cpu`` the same with process CPU time (less
    sensitive to other load on the machine); ``ratio_end_to_end`` includes the host's golden
    forward/backward passes and checks.
    """
    from tb.cosim.harness.build import build_harness, replay

    exe = build_harness(CosimTop(layer_params(cfg)))
    stim = Path(res["stimulus"])
    cpp_log = stim.with_suffix(".cpp_pulses.txt")
    raw = replay(exe, stim, cpp_log, repeat=repeat)
    py_log = stim.with_suffix(".pulses.txt")
    same_log = py_log.exists() and cpp_log.read_text() == py_log.read_text()
    res.update({
        "raw_cycles": raw["cycles"], "raw_pulses": raw["pulses"], "raw_wall_seconds": raw["wall_seconds"],
        "raw_cpu_seconds": raw["cpu_seconds"],
        "raw_cycles_per_second": raw["cycles"] / raw["wall_seconds"],
        "raw_samples_per_second": raw["samples"] / raw["wall_seconds"],
        "raw_pulse_log_equal": bool(same_log), "raw_cycles_equal": raw["cycles"] == res["cycles"],
        "ratio": res["sim_seconds"] / raw["wall_seconds"],
        "ratio_cpu": res["sim_cpu_seconds"] / max(raw["cpu_seconds"], 1e-9),
        "ratio_end_to_end": res["wall_seconds"] / raw["wall_seconds"],
    })
    if not (same_log and res["raw_cycles_equal"]):
        res["mismatches"] += 1
        res.setdefault("first_mismatches", []).append(
            f"raw harness: cycles {raw['cycles']} vs {res['cycles']}, pulse logs equal: {same_log}")
    return res


def _watch_progress(path: Path, stop: threading.Event) -> None:
    """Print the test's progress file (``done total``) while the simulation runs."""
    last = None
    while not stop.wait(0.5):
        try:
            txt = path.read_text().split()
        except OSError:
            continue
        if len(txt) == 2 and txt != last:
            last = txt
            print(f"\rcosim: {txt[0]}/{txt[1]} samples", end="", file=sys.stderr, flush=True)
    if last is not None:
        print(file=sys.stderr)


def summary(res: dict) -> str:
    """Human summary of a :func:`run_cosim` result."""
    lines = [
        (f"co-simulation: {res['samples']} training samples, MLP {res['network']}, N = {res['devices']} "
         f"devices, seed {res['seed']}"),
        (f"  {res['requests']} update requests over AXI-Lite, {res['pulses']} pulses, {res['cycles']} cycles, "
         f"{res['reads']} cells read back"),
        (f"  mismatches: {res['mismatches']} (pulses {res['pulse_mismatches']}, requests "
         f"{res['request_mismatches']}, conductances {res['conductance_mismatches']}, reads "
         f"{res['read_mismatches']}, counters {res['counter_mismatches']}, line violations {res['violations']})"),
        f"  accuracy: co-sim {100 * res['accuracy']:.2f} %, golden {100 * res['golden_accuracy']:.2f} %",
        (f"  speed: {res['cycles_per_second']:.0f} cycles/s, {res['samples_per_second']:.1f} samples/s "
         f"(simulator + Python drivers, host compute excluded); end to end "
         f"{res['samples'] / res['wall_seconds']:.1f} samples/s"),
    ]
    if "raw_cycles_per_second" in res:
        lines.append(f"  raw Verilator C++ replay of the same AXI stimulus: {res['raw_cycles']} cycles "
                     f"({'equal' if res['raw_cycles_equal'] else 'DIFFERENT'}), pulse log "
                     f"{'identical' if res['raw_pulse_log_equal'] else 'DIFFERENT'}, "
                     f"{res['raw_cycles_per_second']:.0f} cycles/s, {res['raw_samples_per_second']:.0f} samples/s")
        lines.append(f"  cocotb cost: x{res['ratio']:.1f} wall clock (x{res['ratio_cpu']:.1f} CPU time); "
                     f"x{res['ratio_end_to_end']:.1f} end to end with the host's golden passes")
    return "\n".join(lines)


def read_cells(params: AccelParams, n: int) -> list[tuple[int, int]]:
    """``n`` cells (row, phys_col) spread over the array (deterministic)."""
    total = params.array.rows * params.phys_cols
    n = min(n, total)
    if n == 0:
        return []
    idx = np.unique(np.linspace(0, total - 1, n).round().astype(np.int64))
    return [(int(i) // params.phys_cols, int(i) % params.phys_cols) for i in idx]


__all__ = [
    "CosimConfig",
    "CosimTop",
    "Networks",
    "OffsetCrossbarArray",
    "Prefixed",
    "expected_pulses",
    "read_cells",
    "run_cosim",
    "summary",
    "update_words",
    "write_stimulus",
]


def run_cosim_bnn(images: int = 100, seed: int = 0, out_dir: Path | None = None, *,
                  modes: tuple[str, ...] = ("digital", "analog"), fault: dict | None = None,
                  bit_error: float = 0.01) -> dict:
    """BNN inference of ``images`` binarised digits through the accelerator top's AXI port with the
    trained digits layer (:mod:`tb.cosim.bnn_tb`), once per mode in ``modes``; hardware model
    ``authors`` with bridge bit-error rate ``bit_error`` and chip seed ``seed``. Returns the result
    dict (``image_mismatches`` must be 0; ``per_mode`` has the counts of each mode). ``fault``
    (``{"bridge": [row, col]}`` or ``{"sa": [image, neuron]}``) injects one error into the array model."""
    from tb.cosim.bnn_tb import MODES, bnn_hw_for, bnn_top, digits_bnn, digits_test_bits
    from tb.kit.runner import run_cocotb

    check_int("bnn images", images, 1, 360)
    for m in modes:
        if m not in MODES:
            raise ConfigError(f"bnn mode {m!r} is not allowed: choose from {list(MODES)}")
    out_dir = Path(out_dir).resolve() if out_dir is not None else ROOT / "build" / "cosim"
    out_dir.mkdir(parents=True, exist_ok=True)
    model, path = digits_bnn()                        # trained once, cached under build/bnn/
    x_path = out_dir / f"cosim_bnn_x{images}.npy"     # spares scikit-learn inside the simulator
    np.save(x_path, digits_test_bits(images))
    hw = bnn_hw_for(model)
    result = out_dir / "cosim_bnn_result.json"
    result.unlink(missing_ok=True)
    res = run_cocotb(bnn_top(hw), toplevel="cosim_bnn_top", test_module="tb.cosim.bnn_tb", testcase="cosim_bnn",
                     config={"images": images, "seed": seed, "result": str(result), "hw": asdict(hw),
                             "model": str(path), "x_path": str(x_path.resolve()), "modes": list(modes),
                             "hardware": {"mode": "authors", "seed": seed, "bit_error": bit_error},
                             "fault": fault or {}})
    out = json.loads(result.read_text())
    out["build_seconds"], out["run_seconds"] = res.build_seconds, res.run_seconds
    return out
