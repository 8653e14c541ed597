"""Accelerator top: AXI4-Lite CSRs in front of the training periphery, around one array port."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from amaranth import Cat, Const, Module, Mux, ResetSignal, Signal, Value, unsigned
from amaranth.hdl import Assert, ResetInserter
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.bnn_datapath_params import PHASES, BnnHwParams
from golden.spec.bnn_network_params import BnnNetHwParams
from golden.spec.interfaces import DEFAULT_READ_LATENCY, EVALUATE, STROBES
from golden.spec.mvm_params import MvmParams
from golden.spec.params import AccelParams, ConfigError, check_int
from golden.spec.register_map.accelerator_map import accelerator_register_map, update_fits_one_word
from golden.spec.register_map.description import DATA_WIDTH, DEFAULT_PUSH_WAIT
from hw.arbitration_controller import ArbitrationController
from hw.axi_stream import AxiStreamSignature
from hw.axil_csr import AxiLiteCsr, AxiLiteSignature, push_layout
from hw.bnn_layer_engine import BnnLayerEngine, array_params
from hw.bnn_network_engine import BnnNetworkEngine
from hw.crossbar_addressing import CrossbarAddressing
from hw.lintsafe import add_const, eq_const, ge_const, sext
from hw.mvm_read_engine import MvmReadEngine
from hw.outer_product_engine import OuterProductEngine
from hw.pulse_scheduler import PulseScheduler
from hw.stream_register_slice import StreamRegisterSlice
from hw.sync_fifo import SyncFifo

COUNTER_WIDTH = 32


def update_entry_layout(p: AccelParams) -> data.StructLayout:
    """One entry of the update FIFO: an update request and its two flags (see UPDATE in the map)."""
    return data.StructLayout({"row": unsigned(p.row_width), "col": unsigned(p.col_width),
                              "dw": unsigned(p.update.dw_width), "end_cycle": unsigned(1),
                              "marker": unsigned(1)})


def _or_bits(values):
    """OR of the values (at the widest's width)."""
    out = None
    for v in values:
        out = v if out is None else out | v
    return out


def bnn_port_sizes(bnn: BnnHwParams | BnnNetHwParams) -> tuple[int, int, int, int]:
    """(read lanes, input drivers, bias rows, SA bank) of the BNN path's array-port members."""
    if isinstance(bnn, BnnNetHwParams):
        hh = bnn.hidden_hw
        return max(hh.read_lanes, bnn.out_hw.read_lanes), hh.inputs, hh.bias_cells, hh.bank
    return bnn.read_lanes, bnn.inputs, bnn.bias_cells, bnn.bank


def _event_counters(m: Module, csr, clear, counters) -> None:
    """One ``COUNTER_WIDTH``-bit register per ``(name, inc)``: +1 in every cycle ``inc`` holds, 0 after
    ``clear``; read through the CSR register of the same name."""
    for name, inc in counters:
        c = Signal(COUNTER_WIDTH, name=name)
        with m.If(clear):
            m.d.sync += c.eq(0)
        with m.Elif(inc):
            m.d.sync += c.eq(c + 1)
        m.d.comb += getattr(csr, name).value.eq(c)


def check_bnn_fits(p: AccelParams, bnn: BnnHwParams | BnnNetHwParams) -> None:
    """Raise :class:`ConfigError` unless the BNN layer's (or network's) 2T2R array lies inside the
    training array (the two paths share one array port: bank ``b`` on word line ``b``, bridge ``c`` on
    physical columns ``2c, 2c+1``; see :mod:`golden.spec.bnn_datapath_params` and, for a whole
    network, :mod:`golden.spec.bnn_network_params`)."""
    if not isinstance(bnn, (BnnHwParams, BnnNetHwParams)):
        raise ConfigError(f"bnn must be a BnnHwParams, a BnnNetHwParams or None, got {type(bnn).__name__}")
    if p.array.cell != "2T2R":
        raise ConfigError(f"array.cell = {p.array.cell!r} is not allowed with a BNN path: choose '2T2R' "
                          f"(the BNN layer reads 2T2R bridges)")
    if isinstance(bnn, BnnNetHwParams):
        if bnn.rows > p.array.rows:
            raise ConfigError(f"bnn_net needs {bnn.rows} word lines ({bnn.hidden_layers} hidden layers of "
                              f"{bnn.hidden_banks} banks + {bnn.out_hw.banks} output banks): allowed at most "
                              f"array.rows = {p.array.rows}")
        if 2 * bnn.cols > p.phys_cols:
            raise ConfigError(f"bnn_net needs {2 * bnn.cols} physical columns (2 x {bnn.cols} bridges): "
                              f"allowed at most array.cols * synapse slots = {p.phys_cols}")
        return
    if bnn.argmax:
        raise ConfigError("bnn.argmax = true is not available for a single layer through the accelerator top: "
                          "build the whole network (BnnNetHwParams, class register BNN_CLASS), or set "
                          "bnn.argmax = false")
    ap = array_params(bnn)
    if ap.array.rows > p.array.rows:
        raise ConfigError(f"bnn.neurons / bnn.bank need {ap.array.rows} word lines: allowed at most "
                          f"array.rows = {p.array.rows}")
    if ap.phys_cols > p.phys_cols:
        raise ConfigError(f"bnn.bank * (bnn.inputs + bnn.bias_cells) * 2 = {ap.phys_cols} physical columns: "
                          f"allowed at most array.cols * synapse slots = {p.phys_cols}")


@dataclass(frozen=True)
class _Datapath:
    """The CSR block, the soft reset and the training blocks of one elaboration."""

    csr: AxiLiteCsr
    soft: Signal
    eng: OuterProductEngine
    arb: ArbitrationController
    sched: PulseScheduler
    xbar: CrossbarAddressing
    fifo: SyncFifo
    entry: data.StructLayout
    slices: dict[str, StreamRegisterSlice]   # REFRESH, PROGRAM, READ_REQ pushes -> their targets;
                                             # "requests": ArbitrationController -> PulseScheduler


class _PortOwner(NamedTuple):
    owner: Signal                   # 0: training periphery, 1: BNN path
    train: Signal                   # the training path may start new work (a register)
    train_next: Signal              # its value in the next cycle
    sched_idle: Signal
    bnn_idle: Signal


class _UpdateCycle(NamedTuple):
    closing: Signal                 # an update cycle was closed; waiting to strobe end_cycle
    uu_acc: Signal                  # the engine accepted an UPDATE request in this cycle
    uu_acc_prev: Signal
    close_now: Signal               # end_cycle strobe of an UPDATE-closed cycle
    frame_done: Signal              # end_cycle strobe of a committed frame


class _CellReads(NamedTuple):
    done: Signal                    # the scheduler's read response, this cycle
    busy: Signal                    # a read waits in its register slice or in the scheduler


class _MvmStatus(NamedTuple):
    """The MVM read path's status for STATUS, ERRORS and the counters."""

    busy: Signal
    wait: Signal                    # the engine waits in ARM for programming to end
    frame_set: Signal               # ERRORS.MVM_FRAME / MVM_OVERLAP set inputs
    overlap_set: Signal


class _BnnStatus(NamedTuple):
    """The BNN path's line enables (zero-extended to the array port) and status (constants without one)."""

    wl: Value
    bl_read: Value
    read: Value
    busy: Value
    done: Value
    error: Value
    input_level: Value | int
    full: Value | int


class Accelerator(wiring.Component):
    """The accelerator top: frames (AXI4-Stream) and host CSRs (AXI4-Lite, UPDATE via the update
    FIFO) -> OuterProductEngine -> ArbitrationController -> PulseScheduler -> CrossbarAddressing -> the
    array port.

    The register map is :func:`golden.spec.register_map.accelerator_map.accelerator_register_map` (docs/registers.md).

    Parameters
    ----------
    params : AccelParams
        The parameter tree (array, synapse, update, timing, engine sections).
    bnn : BnnHwParams or None
        Adds the BNN path (:class:`hw.bnn_layer_engine.BnnLayerEngine`) on the same array port; its
        2T2R array must lie inside the training array (:func:`check_bnn_fits`).
    fifo_depth : int, 2..255
        Depth of the update FIFO and of the BNN input FIFO (:class:`hw.sync_fifo.SyncFifo`, 32-bit
        words; storage in the memory wrapper).
    adc_width : int, 1..16
        Width of the array's read code ``adc``.
    read_latency : int, 0..255
        Cycles from the scheduler's read strobe to valid ``adc`` (1: combinational array behind the
        registered CrossbarAddressing outputs).
    push_wait : int, 1..65535
        Cycles a push register write waits for a busy target before it is refused (SLVERR and
        ERRORS.PUSH; see :class:`hw.axil_csr.AxiLiteCsr`).
    mvm : MvmParams or None
        Adds the MVM read path (:class:`hw.mvm_read_engine.MvmReadEngine` for ``params`` with this
        ``[mvm]`` section) with its own stream ports and array read port; not together with ``bnn``.

    Attributes
    ----------
    s_axil : In(AxiLiteSignature(12))
        Host bus, 32-bit data, 12-bit byte addresses. Verilog ``s_axil__awaddr`` ... ``s_axil__rready``.
    s_axis : In(AxiStreamSignature(32))
        Training frames (one per sample: the layer's error and input codes,
        :mod:`golden.twins.outer_product_engine`). Verilog ``s_axis__tdata``, ``s_axis__tlast``,
        ``s_axis__tvalid``, ``s_axis__tready``.
    irq : Out(1)
        OR of the EVENTS flags enabled in IRQ_ENABLE and, if IRQ_ENABLE.ERRORS, of any ERRORS flag.
    wl : Out(rows)
        Word-line enables (one-hot while a command is active).
    bl_set, sl_reset, bl_read : Out(phys_cols)
        Column enables: BL to the SET rail, SL to the RESET rail, BL to the read bias.
    write, read : Out(1)
        A programming pulse is on / the sense path is on.
    adc : In(adc_width)
        Read code from the array, sampled ``read_latency`` cycles after the read strobe.

    With a BNN path, the array port also has (see :class:`hw.bnn_layer_engine.BnnLayerEngine`):

    rd_valid : In(1), rd_bits : In(bnn.read_lanes)
        Bridge states of an earlier digital-mode (word) pair read, in order (bit l = its l-th bridge).
    in_bits : Out(bnn.inputs)
        The image's input bits for the BL/BLb input drivers (analog mode).
    bias_in : Out(bnn.bias_cells) (if bias_cells > 0)
        The bias rows' drive, a thermometer code (all ones unless BNN_CTRL.CAL: rows j < BNN_CTRL.RAMP).
    eq, precharge, input_en, evaluate, sa_en, readout, sa_rst : Out(1)
        Sense-amplifier strobes; ``sa_phase`` : Out(3) the sequencer phase; ``sa_stages``, ``sa_firsts`` :
        Out(6) the sequencer's occupied and entered phase stages (the engine's ``stages``, ``firsts``).
    sa_out : In(bnn.bank)
        SA decisions of the selected bank.

    With an MVM read path (``mvm``, the ``[mvm]`` section; :class:`hw.mvm_read_engine.MvmReadEngine`):

    s_axis_mvm : In(AxiStreamSignature(32, user_width=1))
        MVM input frames (forward: R unsigned codes; transposed: C signed codes; ``32 // b`` codes per
        word from bit 0); ``tuser`` on a frame's first word: 1 = transposed read. Verilog
        ``s_axis_mvm__tdata`` ... ``s_axis_mvm__tuser``.
    m_axis_mvm : Out(AxiStreamSignature(32))
        Output codes y, one per word, sign-extended from ``mvm.out_width``; ``tlast`` on a frame's last.
    mvm_wl : Out(rows), mvm_bl : Out(phys_cols), mvm_read : Out(1)
        The engine's own array read port: word lines driven (forward), bit lines driven (transposed),
        the sense path on (registered).
    mvm_transposed : Out(1), mvm_adc_start : Out(1), mvm_adc_sel : Out(bits(cols_per_adc))
        Mode of the current frame; conversion start and line index within each converter's group.
    mvm_adc_code : In(n_adc * adc_width)
        The converters' codes (converter a at bits ``[a*A, (a+1)*A)``), sampled in the last cycle of a
        conversion.

    The array port is that of :class:`hw.crossbar_addressing.CrossbarAddressing` (its outputs are
    registered: lines follow the scheduler's command by one cycle).

    Behaviour
    ---------
    * No write hangs the bus: a push whose target stays busy for ``push_wait`` cycles (a full FIFO, a
      full register slice in front of a busy target) is refused (SLVERR, ERRORS.PUSH); so is, at once, a
      push that only a later register write could let through (the other path owning the array port,
      an unacknowledged or pending read).
    * Register slices: REFRESH, PROGRAM and READ_REQ pushes enter a two-entry
      :class:`hw.stream_register_slice.StreamRegisterSlice` when they commit (its ``ready`` is a
      register, so the CSR commit does not wait on the target's handshake) and reach their target from
      the next cycle on; the write response means "taken by the slice". UPDATE and BNN_INPUT pushes
      go to FIFO write ports (``w_rdy`` is a register) in the commit cycle, BNN_PHASE to the
      sequencer's configuration registers (always ready) one cycle after it. So no block's stream input in the
      top sees a ``valid`` withdrawn: the CSR block's refused pushes withdraw theirs only in front of a
      slice or a FIFO write port, which take a word only in a cycle with ``valid`` and ``ready`` high.
    * Frames on ``s_axis`` go to the OuterProductEngine (:class:`hw.outer_product_engine.OuterProductEngine`),
      which forms every synapse's dW, accumulates chi in ``engine.lanes`` lanes and strobes the
      ArbitrationController's ``end_cycle`` after each frame's last pulse count (EVENTS.CYCLE_DONE,
      FRAME_COUNT); a frame of the wrong length is dropped whole (ERRORS.FRAME).
    * UPDATE pushes enter the update FIFO (the write response waits while it is full). Entries go to
      the engine's single-request input in order (between frames); an entry with END_CYCLE (or a MARKER with END_CYCLE) closes the update
      cycle: no further entry is taken until every pulse count of the closed cycle has been accepted by
      the ArbitrationController, then its ``end_cycle`` strobe fires (EVENTS.CYCLE_DONE).
    * REFRESH pushes go to the ArbitrationController's refresh stream; READ_REQ pushes to the
      scheduler's read stream (one read at a time, and only once the host has cleared EVENTS.READ_DONE of
      the previous one: a READ_REQ while a read waits in its slice, is in flight or has an unacknowledged
      result is refused at once), whose result lands in READ_DATA (EVENTS.READ_DONE). STATUS.READ_BUSY
      covers a read waiting in its slice, STATUS.TRAIN_BUSY a PROGRAM or REFRESH waiting in its slice. With ``timing.verify``
      the last program-and-verify result is in VERIFY_DATA.
    * CTRL.MODE requests the owner of the array port; STATUS.OWNER follows when the scheduler is idle.
      While the BNN path owns the port, program requests and reads wait in front of the scheduler.
    * PROGRAM pushes go to the scheduler (the ArbitrationController's requests first), one cycle after
      their commit at the earliest (register slice). The ArbitrationController's requests reach the
      scheduler through a register slice too (one cycle).
    * CTRL.SOFT_RESET resets every datapath block, the FIFOs and the counters for one cycle (the CSRs
      keep their contents); like every reset it starts the engine's chi clear walk.
    * Chi clear: after reset, CTRL.SOFT_RESET or CTRL.CLEAR_CHI (which reaches the engine one cycle
      after its write commits) the engine writes 0 to its chi
      memory, one word per lane and cycle, ``rows * ceil(cols / lanes)`` cycles (STATUS.CLEARING,
      STATUS.TRAIN_BUSY); update entries and frames wait meanwhile.
    * MVM (``[mvm]``): frames on ``s_axis_mvm`` go to the read engine, its y codes to ``m_axis_mvm``;
      its settings come from MVM_TIMING, MVM_FS_FWD/TR (0: 2**32), MVM_G_REF, MVM_SCALE_FWD/TR.
      Exclusion: the engine's ``rd_req`` holds the pulse scheduler (``hold``: no new program request
      or cell read is accepted, the one in flight finishes) and the scheduler's ``prog_active`` keeps
      the engine from starting a read; so an MVM read never overlaps a programming command, whose
      CrossbarAddressing lines follow the scheduler by one cycle and are low by the cycle after the
      scheduler is idle, the earliest cycle an engine read can start. STATUS.MVM_BUSY / MVM_WAIT,
      ERRORS.MVM_FRAME (a frame of the wrong length, dropped) and MVM_OVERLAP (never expected), the
      counters MVM_FRAME_COUNT, MVM_READ_COUNT, MVM_WAIT_COUNT (reads that waited for programming)
      and MVM_WAIT_CYCLES. The MVM path cannot be combined with a BNN path in one top.
    * BNN: BNN_INPUT words (``ceil(inputs/32)`` per image) fill the input FIFO; a complete image goes to
      the engine when STATUS.OWNER is BNN and the output buffer is free; the engine's line enables are
      ORed into the array port (bank ``b`` on word line ``b``, bridges from column 0); the M output bits
      fill the output buffer (BNN_OUT_INDEX / BNN_OUT_DATA), EVENTS.BNN_DONE is set and the buffer
      stays full (the engine waits) until CTRL.BNN_ACK.

    Latency: an UPDATE committed in cycle c into an idle datapath (chi clear done) gives its first
    pulse on the lines ``2 + engine latency + 4 + timing.setup`` cycles later (update FIFO 2, the
    engine's single-request latency, ArbitrationController 1, register slice 1, scheduler 1 + setup,
    CrossbarAddressing 1). A PROGRAM or READ_REQ committed in cycle c into an idle scheduler gives its first pulse / raises
    ``read`` ``3 + timing.setup`` cycles later (register slice 1, scheduler 1 + setup, CrossbarAddressing
    1). Throughput: one UPDATE push per bus cycle into the FIFO, one PROGRAM push per bus cycle into
    its slice; one frame word per cycle on
    ``s_axis``; the engine's cycles per frame and the scheduler's occupancy per program request
    (:func:`golden.twins.pulse_scheduler.occupancy`) bound the sustained rate.
    """

    def __init__(self, params: AccelParams, *, bnn: BnnHwParams | None = None, fifo_depth: int = 16,
                 adc_width: int = 8, read_latency: int = DEFAULT_READ_LATENCY,
                 push_wait: int = DEFAULT_PUSH_WAIT, mvm: MvmParams | None = None):
        if not isinstance(params, AccelParams):
            self._MustUse__silence = True
            raise ConfigError(f"params must be an AccelParams, got {type(params).__name__}")
        try:
            check_int("read_latency", read_latency, 0, 255)
            if mvm is not None:
                if not isinstance(mvm, MvmParams):
                    raise ConfigError(f"mvm must be an MvmParams or None, got {type(mvm).__name__}")
                if bnn is not None:
                    raise ConfigError("an [mvm] section cannot be combined with a [bnn] section in one "
                                      "accelerator top (both drive the array's read lines): remove one")
            if bnn is not None:
                check_bnn_fits(params, bnn)
            self.regmap = accelerator_register_map(params, bnn=bnn, fifo_depth=fifo_depth,
                                                   adc_width=adc_width, push_wait=push_wait, mvm=mvm)
        except ConfigError:
            self._MustUse__silence = True
            raise
        self.params, self.bnn, self.mvm = params, bnn, mvm
        self.mvm_engine = None if mvm is None else MvmReadEngine(replace(params, mvm=mvm))
        self.fifo_depth, self.adc_width, self.read_latency = fifo_depth, adc_width, read_latency
        rows, pcols = params.array.rows, params.phys_cols
        if bnn is not None:
            lanes, n_in, n_bias, bank = bnn_port_sizes(bnn)
        bnn_ports = {} if bnn is None else {
            "rd_valid": In(1), "rd_bits": In(lanes), "in_bits": Out(n_in),
            **({"bias_in": Out(n_bias)} if n_bias else {}),
            **{st: Out(1) for st in STROBES}, "sa_phase": Out(3), "sa_stages": Out(len(PHASES)),
            "sa_firsts": Out(len(PHASES)), "sa_out": In(bank)}
        mvm_ports = {}
        if mvm is not None:
            e = self.mvm_engine
            mvm_ports = {"s_axis_mvm": In(AxiStreamSignature(DATA_WIDTH, user_width=1)),
                         "m_axis_mvm": Out(AxiStreamSignature(DATA_WIDTH)),
                         "mvm_wl": Out(e.R), "mvm_bl": Out(e.PC), "mvm_read": Out(1),
                         "mvm_transposed": Out(1), "mvm_adc_start": Out(1),
                         "mvm_adc_sel": Out(len(e.adc_sel)), "mvm_adc_code": In(len(e.adc_code))}
        super().__init__({
            "s_axil": In(AxiLiteSignature(self.regmap.addr_width)),
            "s_axis": In(AxiStreamSignature(DATA_WIDTH)),
            "irq": Out(1),
            "wl": Out(rows),
            "bl_set": Out(pcols),
            "sl_reset": Out(pcols),
            "bl_read": Out(pcols),
            "write": Out(1),
            "read": Out(1),
            "adc": In(adc_width),
            **bnn_ports,
            **mvm_ports,
        })

    @staticmethod
    def bnn_of(params: AccelParams) -> BnnHwParams | None:
        """The BNN section ``params`` carries (None: a training-only top)."""
        bnn = getattr(params, "bnn", None)
        return bnn if isinstance(bnn, BnnHwParams) else None

    @staticmethod
    def mvm_of(params: AccelParams) -> MvmParams | None:
        """The MVM section ``params`` carries (None: no MVM read path)."""
        mvm = getattr(params, "mvm", None)
        return mvm if isinstance(mvm, MvmParams) else None

    @classmethod
    def from_params(cls, params: AccelParams) -> Accelerator:
        """The top for ``params``; with a BNN path if ``params`` carries a ``bnn`` section, with an MVM
        read path if it carries an ``mvm`` section."""
        return cls(params, bnn=cls.bnn_of(params), mvm=cls.mvm_of(params))

    @classmethod
    def register_map_for(cls, params: AccelParams):
        """The register map :meth:`from_params` builds (without building the component)."""
        return accelerator_register_map(params, bnn=cls.bnn_of(params), mvm=cls.mvm_of(params))

    def elaborate(self, platform):
        m = Module()
        csr = self._csr_bus(m)
        dp = self._datapath_blocks(m, csr)
        port = self._array_port_owner(m, dp)
        self._update_fifo_write(m, dp)
        upd = self._update_fifo_read(m, dp, port.train)
        self._scheduler_requests(m, dp, port.train)
        reads = self._cell_reads(m, dp, port)
        bnn = self._array_port(m, dp, port)
        mvm = None if self.mvm is None else self._mvm_path(m, dp)
        busy = self._status(m, dp, port, upd, reads, bnn, mvm)
        self._push_refusals(m, dp, bnn, reads)
        self._events_errors_irq(m, dp, upd, reads, bnn, mvm)
        self._performance_counters(m, dp, upd, busy)
        return m

    def _csr_bus(self, m: Module) -> AxiLiteCsr:
        """The CSR block on the host bus."""
        csr = m.submodules.csr = AxiLiteCsr(self.regmap, lookahead=("ctrl.mode", "events.read_done"))
        wiring.connect(m, wiring.flipped(self.s_axil), csr.s_axil)
        return csr

    def _datapath_blocks(self, m: Module, csr: AxiLiteCsr) -> _Datapath:
        """The update FIFO and the training blocks, each reset by CTRL.SOFT_RESET (not the CSRs)."""
        p = self.params
        soft = Signal()                  # one cycle, for every datapath block
        m.d.comb += soft.eq(csr.ctrl.soft_reset)
        eng = OuterProductEngine(p)
        arb = ArbitrationController(p)
        sched = PulseScheduler(p, data_width=self.adc_width, read_latency=self.read_latency,
                               exclusion=self.mvm is not None)
        xbar = CrossbarAddressing(p)
        entry = update_entry_layout(p)
        fifo = SyncFifo(width=entry.size, depth=self.fifo_depth)
        for name, blk in (("update_fifo", fifo), ("engine", eng), ("arbitration", arb),
                          ("scheduler", sched), ("xbar", xbar)):
            m.submodules[name] = ResetInserter(soft)(blk)
        # the pushes whose targets have a combinational ready (the scheduler's input arbitration, the
        # ArbitrationController's refresh input) reach them through a register slice: no path from the
        # held write through the target's handshake back to the CSR commit and the W/AW readies
        slices = {}
        for name in ("refresh", "program", "read_req"):
            sl = slices[name] = StreamRegisterSlice(push_layout(self.regmap[name]))
            m.submodules[f"{name}_slice"] = ResetInserter(soft)(sl)
            wiring.connect(m, getattr(csr, name), sl.i)
        # and the ArbitrationController's program requests reach the scheduler through one, too: the
        # scheduler's input arbitration (its `i.ready` follows `rd_cmd.valid`) does not run on into the
        # ArbitrationController's and the engine's backpressure
        sl = slices["requests"] = StreamRegisterSlice(arb.o.payload.shape())
        m.submodules.request_slice = ResetInserter(soft)(sl)
        # CTRL.CLEAR_CHI reaches the engine one cycle after the write commits (a register: the
        # engine uses `clear` in its scanner and input handshakes, too deep behind the CSR decode)
        clear_chi = Signal()
        m.d.sync += clear_chi.eq(csr.ctrl.clear_chi)
        m.d.comb += [eng.clear.eq(clear_chi),
                     eng.frame.valid.eq(self.s_axis.tvalid), self.s_axis.tready.eq(eng.frame.ready),
                     eng.frame.payload.data.eq(self.s_axis.tdata), eng.frame.payload.last.eq(self.s_axis.tlast)]
        return _Datapath(csr, soft, eng, arb, sched, xbar, fifo, entry, slices)

    def _array_port_owner(self, m: Module, dp: _Datapath) -> _PortOwner:
        """OWNER follows CTRL.MODE once the scheduler, the BNN engine and the lines are idle."""
        owner = Signal()                 # 0: training periphery, 1: BNN path
        # A path starts new work only while it owns the port *and* is the requested owner, so nothing
        # starts in the cycle the owner changes. The training path's permission `train`
        # (= ~owner & ~CTRL.MODE) is a flip-flop loaded with its next value (the owner's and CTRL.MODE's
        # next values): the scheduler's input handshakes start at a register, not at the owner's
        # fan-out and the mode decode (the iCEBreaker top's critical path), with the same cycles.
        train, train_next = Signal(init=1), Signal()
        sched_idle = Signal()
        bnn_idle = Signal(init=1)        # the BNN engine drives no line (set by the BNN path if there is one)
        owner_next = Signal()
        mode, mode_next = dp.csr.ctrl.mode, dp.csr.ctrl.mode_next
        m.d.comb += [sched_idle.eq(dp.sched.i.ready | dp.sched.rd_cmd.ready),
                     owner_next.eq(Mux(sched_idle & bnn_idle & ~dp.xbar.write & ~dp.xbar.read, mode, owner)),
                     train_next.eq(~owner_next & ~mode_next)]
        m.d.sync += [owner.eq(owner_next), train.eq(train_next)]
        m.d.sync += Assert(ResetSignal() | (train == (~owner & ~mode)), "train differs from ~owner & ~mode")
        return _PortOwner(owner, train, train_next, sched_idle, bnn_idle)

    def _update_fifo_write(self, m: Module, dp: _Datapath) -> None:
        """UPDATE pushes (with UPDATE_ADDR if the address does not fit) -> update FIFO entries."""
        w_entry = Signal(dp.entry)
        push, csr = dp.csr.update, dp.csr
        if update_fits_one_word(self.params):
            m.d.comb += [w_entry.row.eq(push.payload.row), w_entry.col.eq(push.payload.col)]
        else:
            m.d.comb += [w_entry.row.eq(csr.update_addr.row), w_entry.col.eq(csr.update_addr.col)]
        m.d.comb += [w_entry.dw.eq(push.payload.dw), w_entry.end_cycle.eq(push.payload.end_cycle),
                     w_entry.marker.eq(push.payload.marker),
                     dp.fifo.w_data.eq(w_entry), dp.fifo.w_en.eq(push.valid), push.ready.eq(dp.fifo.w_rdy)]

    def _update_fifo_read(self, m: Module, dp: _Datapath, train) -> _UpdateCycle:
        """FIFO head -> the engine's single-request input; an END_CYCLE entry holds the FIFO until the
        closed cycle's pulse counts have reached the ArbitrationController (the engine is idle), then
        strobes its ``end_cycle``. A committed frame strobes it by itself (``frame_done``)."""
        eng, fifo = dp.eng, dp.fifo
        head = Signal(dp.entry)
        closing = Signal()               # an update cycle was closed; waiting to strobe end_cycle
        uu_acc = Signal()                # the engine accepted an UPDATE request in this cycle
        uu_acc_prev = Signal()
        take = Signal()                  # the FIFO head may be consumed this cycle
        pop = Signal()
        m.d.comb += [
            head.eq(fifo.r_data),
            take.eq(fifo.r_rdy & ~closing & train),
            eng.req.valid.eq(take & ~head.marker),
            eng.req.payload.row.eq(head.row), eng.req.payload.col.eq(head.col),
            eng.req.payload.dw.eq(head.dw),
            uu_acc.eq(eng.req.valid & eng.req.ready),
            pop.eq(uu_acc | (take & head.marker)),
            fifo.r_en.eq(pop),
        ]
        # `idle` covers what the engine accepted up to the previous cycle; a request accepted in the
        # cycle before is waited for explicitly.
        close_now = Signal()
        m.d.comb += close_now.eq(closing & ~uu_acc_prev & eng.idle)
        m.d.sync += uu_acc_prev.eq(uu_acc)
        with m.If(pop & head.end_cycle):
            m.d.sync += closing.eq(1)
        with m.If(close_now):
            m.d.sync += closing.eq(0)
        m.d.comb += dp.arb.end_cycle.eq(close_now | eng.end_cycle)
        with m.If(dp.soft):
            m.d.sync += [closing.eq(0), uu_acc_prev.eq(0)]
        return _UpdateCycle(closing, uu_acc, uu_acc_prev, close_now, eng.end_cycle)

    def _scheduler_requests(self, m: Module, dp: _Datapath, train) -> None:
        """Engine -> ArbitrationController (with REFRESH pushes) -> PulseScheduler, sharing the
        scheduler's input with PROGRAM pushes (the arbitration controller's requests go first)."""
        arb, sched, req = dp.arb, dp.sched, dp.slices["requests"]
        wiring.connect(m, dp.eng.o, arb.i)
        wiring.connect(m, arb.o, req.i)
        rf = dp.slices["refresh"].o
        m.d.comb += [arb.refresh.valid.eq(rf.valid), rf.ready.eq(arb.refresh.ready),
                     arb.refresh.payload.row.eq(rf.payload.row), arb.refresh.payload.col.eq(rf.payload.col)]
        pg = dp.slices["program"].o
        m.d.comb += [
            sched.i.valid.eq((req.o.valid | pg.valid) & train),
            req.o.ready.eq(sched.i.ready & train),
            pg.ready.eq(sched.i.ready & train & ~req.o.valid),
        ]
        with m.If(req.o.valid):
            m.d.comb += sched.i.payload.eq(req.o.payload)
        with m.Else():
            m.d.comb += [sched.i.payload.row.eq(pg.payload.row), sched.i.payload.col.eq(pg.payload.col),
                         sched.i.payload.slot.eq(pg.payload.slot),
                         sched.i.payload.polarity.eq(pg.payload.polarity),
                         sched.i.payload.count.eq(pg.payload.count)]

    def _cell_reads(self, m: Module, dp: _Datapath, port: _PortOwner) -> _CellReads:
        """READ_REQ pushes -> the scheduler's read stream; its response is held in READ_DATA."""
        csr, sched = dp.csr, dp.sched
        rq = dp.slices["read_req"].o
        m.d.comb += [sched.rd_cmd.payload.row.eq(rq.payload.row),
                     sched.rd_cmd.payload.phys_col.eq(rq.payload.phys_col),
                     sched.rd_resp.ready.eq(1)]
        rd_data = Signal(self.adc_width)
        rd_err = Signal()
        rd_valid = Signal()
        read_busy, busy_next = Signal(), Signal()
        # one read at a time, and not before the host acknowledged the last result: none is lost.
        # `free` (= train & ~read_busy & ~EVENTS.READ_DONE) is a flip-flop loaded with its next value,
        # like `train`: the read request's valid starts at registers
        free = Signal(init=1)
        m.d.comb += [sched.rd_cmd.valid.eq(rq.valid & free), rq.ready.eq(sched.rd_cmd.ready & free)]
        rd_done = Signal()
        m.d.comb += [rd_done.eq(sched.rd_resp.valid),
                     busy_next.eq(~dp.soft & ~rd_done & (read_busy | (rq.valid & rq.ready)))]
        m.d.sync += [read_busy.eq(busy_next),
                     free.eq(port.train_next & ~busy_next & ~csr.events.read_done_next)]
        m.d.sync += Assert(ResetSignal() | (free == (port.train & ~read_busy & ~csr.events.read_done)),
                           "free differs from train & ~read_busy & ~READ_DONE")
        with m.If(rq.valid & rq.ready):
            m.d.sync += rd_valid.eq(0)
        with m.If(rd_done):
            m.d.sync += [rd_data.eq(sched.rd_resp.payload.data), rd_err.eq(sched.rd_resp.payload.err),
                         rd_valid.eq(1)]
        busy = Signal()
        m.d.comb += busy.eq(read_busy | rq.valid)
        m.d.comb += [csr.read_data.data.eq(rd_data), csr.read_data.err.eq(rd_err),
                     csr.read_data.valid.eq(rd_valid)]
        if self.params.timing.verify:
            vf_data, vf_valid = Signal(self.adc_width), Signal()
            with m.If(sched.verify_valid):
                m.d.sync += [vf_data.eq(sched.verify_data), vf_valid.eq(1)]
            with m.If(dp.soft):
                m.d.sync += vf_valid.eq(0)
            m.d.comb += [csr.verify_data.data.eq(vf_data), csr.verify_data.valid.eq(vf_valid)]
        return _CellReads(rd_done, busy)

    def _array_port(self, m: Module, dp: _Datapath, port: _PortOwner) -> _BnnStatus:
        """Scheduler -> CrossbarAddressing -> the array port, the BNN path's line enables ORed in."""
        sched, xbar, owner = dp.sched, dp.xbar, port.owner
        m.d.comb += [
            # (the scheduler only starts work under `train`, and the owner changes only when it is idle)
            xbar.cmd.sel.eq(sched.cmd.sel & ~owner), xbar.cmd.row.eq(sched.cmd.row),
            xbar.cmd.phys_col.eq(sched.cmd.phys_col), xbar.cmd.we.eq(sched.cmd.we & ~owner),
            xbar.cmd.re.eq(sched.cmd.re & ~owner), xbar.cmd.polarity.eq(sched.cmd.polarity),
            xbar.pair.eq(0),
            sched.adc.eq(self.adc),
            self.bl_set.eq(xbar.bl_set), self.sl_reset.eq(xbar.sl_reset), self.write.eq(xbar.write),
        ]
        if self.bnn is None:
            bnn = _BnnStatus(Const(0, len(self.wl)), Const(0, len(self.bl_read)), Const(0, 1), Const(0, 1),
                             Const(0, 1), Const(0, 1), 0, 0)
        else:
            bnn = self._bnn_path(m, dp.csr, dp.soft, owner, port.bnn_idle)
        m.d.comb += [self.wl.eq(xbar.wl | bnn.wl), self.bl_read.eq(xbar.bl_read | bnn.bl_read),
                     self.read.eq(xbar.read | bnn.read)]
        return bnn

    def _status(self, m: Module, dp: _Datapath, port: _PortOwner, upd: _UpdateCycle, reads: _CellReads,
                bnn: _BnnStatus, mvm: _MvmStatus | None = None):
        """STATUS: busy flags, owner, FIFO levels; returns ``busy``."""
        fifo, arb, csr = dp.fifo, dp.arb, dp.csr
        # `keep`: the busy ORs are nets of their own, each a flat OR of the flags (BUSY not behind
        # TRAIN_BUSY), mapped as trees in front of the CSR's read multiplexer (merged into it they
        # became a LUT chain: the iCEBreaker top's critical path at some placer seeds)
        train_busy = Signal(attrs={"keep": 1})
        bnn_busy = Signal()
        busy = Signal(attrs={"keep": 1})
        train_terms = [fifo.r_rdy, upd.closing, upd.uu_acc_prev, ~dp.eng.idle, arb.o.valid, arb.refresh_busy,
                       ~port.sched_idle, dp.xbar.write, dp.eng.clearing, dp.slices["program"].o.valid,
                       dp.slices["refresh"].o.valid, dp.slices["requests"].o.valid]
        other_terms = [bnn.busy, reads.busy] + ([] if mvm is None else [mvm.busy])
        m.d.comb += [
            train_busy.eq(Cat(*train_terms).any()),
            bnn_busy.eq(bnn.busy),
            busy.eq(Cat(*train_terms, *other_terms).any()),
            csr.status.busy.eq(busy), csr.status.train_busy.eq(train_busy),
            csr.status.bnn_busy.eq(bnn_busy), csr.status.read_busy.eq(reads.busy),
            csr.status.owner.eq(port.owner), csr.status.update_level.eq(fifo.level),
            csr.status.input_level.eq(bnn.input_level), csr.status.bnn_full.eq(bnn.full),
            csr.status.clearing.eq(dp.eng.clearing),
        ]
        if mvm is not None:
            m.d.comb += [csr.status.mvm_busy.eq(mvm.busy), csr.status.mvm_wait.eq(mvm.wait)]
        return busy

    def _push_refusals(self, m: Module, dp: _Datapath, bnn: _BnnStatus, reads: _CellReads) -> None:
        """Refuse a push at once (SLVERR, ERRORS.PUSH) when only a later register write could make its
        target ready: CTRL.MODE hands the array port to the other path, or a result waits for its
        acknowledgement (a READ_REQ while a read is waiting or in flight: its result would set
        EVENTS.READ_DONE first). Otherwise a busy target gets the CSR block's bounded wait. Every input
        is a register (no path from a target's handshake to the CSR commit)."""
        csr = dp.csr
        no, mode = csr.push_refuse, csr.ctrl.mode
        m.d.comb += [no.update.eq(mode & ~dp.fifo.w_rdy), no.refresh.eq(mode & ~dp.slices["refresh"].i.ready),
                     no.program.eq(mode), no.read_req.eq(mode | csr.events.read_done | reads.busy)]
        if self.bnn is not None:
            m.d.comb += no.bnn_input.eq(~csr.bnn_input.ready & (~mode | bnn.full))

    def _events_errors_irq(self, m: Module, dp: _Datapath, upd: _UpdateCycle, reads: _CellReads,
                           bnn: _BnnStatus, mvm: _MvmStatus | None = None) -> None:
        """EVENTS and ERRORS set inputs (rising edges of the blocks' sticky flags) and ``irq``."""
        eng, sched, csr = dp.eng, dp.sched, dp.csr
        uu_err_prev, sched_err_prev, sched_clear_prev, flag_prev = Signal(), Signal(), Signal(), Signal()
        frame_err_prev = Signal()
        sched_clear = Signal()
        m.d.sync += [uu_err_prev.eq(eng.addr_error), frame_err_prev.eq(eng.frame_error),
                     sched_err_prev.eq(sched.error),
                     flag_prev.eq(csr.errors.sched), sched_clear_prev.eq(sched_clear)]
        # Clearing ERRORS.SCHED clears the scheduler's sticky error (and SCHED_CODE) one cycle later; an
        # error still present the cycle after that clear is a new one.
        m.d.comb += [
            sched_clear.eq(flag_prev & ~csr.errors.sched),
            sched.clear.eq(sched_clear),
            csr.events.read_done_set.eq(reads.done),
            csr.events.cycle_done_set.eq(upd.close_now | upd.frame_done),
            csr.events.bnn_done_set.eq(bnn.done),
            csr.errors.update_range_set.eq(eng.addr_error & ~uu_err_prev),
            csr.errors.frame_set.eq(eng.frame_error & ~frame_err_prev),
            csr.errors.sched_set.eq(sched.error & (~sched_err_prev | sched_clear_prev)),
            csr.errors.xbar_set.eq(dp.xbar.error | bnn.error),
            csr.errors.push_set.eq(csr.push_refused),
            csr.errors.sched_code.eq(sched.error_code),
        ]
        ev, en, er = csr.events, csr.irq_enable, csr.errors
        flags = [er.update_range, er.sched, er.xbar, er.push, er.frame]
        if mvm is not None:
            m.d.comb += [er.mvm_frame_set.eq(mvm.frame_set), er.mvm_overlap_set.eq(mvm.overlap_set)]
            flags += [er.mvm_frame, er.mvm_overlap]
        m.d.comb += self.irq.eq((ev.bnn_done & en.bnn_done) | (ev.read_done & en.read_done)
                                | (ev.cycle_done & en.cycle_done)
                                | (en.errors & Cat(*flags).any()))

    def _performance_counters(self, m: Module, dp: _Datapath, upd: _UpdateCycle, busy) -> None:
        """The counter registers, zeroed by CTRL.CLEAR_COUNTERS and CTRL.SOFT_RESET."""
        csr, soft, arb = dp.csr, dp.soft, dp.arb
        clear = Signal()
        m.d.comb += clear.eq(csr.ctrl.clear_counters | soft)
        write_prev = Signal()
        m.d.sync += write_prev.eq(dp.xbar.write)
        _event_counters(m, csr, clear, (("pulse_count", dp.xbar.write & ~write_prev),
                                        ("request_count", upd.uu_acc), ("busy_cycles", busy),
                                        ("frame_count", upd.frame_done)))
        # The arbitration controller's own counters, seen relative to the last clear: kept here as
        # counters of their own, advanced by the controller's strobes (the same values as the
        # controller's counter minus its value at the last clear, without a subtractor in front of
        # the CSR read multiplexer; a soft reset zeroes both)
        for name, inc in (("skipped_count", arb.skip), ("refresh_count", arb.refresh_accept)):
            c = Signal(COUNTER_WIDTH, name=name)
            with m.If(soft):
                m.d.sync += c.eq(0)
            with m.Elif(clear):
                m.d.sync += c.eq(inc)
            with m.Elif(inc):
                m.d.sync += c.eq(c + 1)
            m.d.comb += getattr(csr, name).value.eq(c)

    def _mvm_path(self, m: Module, dp: _Datapath) -> _MvmStatus:
        """``s_axis_mvm`` -> MvmReadEngine -> ``m_axis_mvm``; its settings from the MVM registers, its
        array read port out of the top, the exclusion with the pulse scheduler, status, sticky errors
        and the MVM counters."""
        csr, soft, sched = dp.csr, dp.soft, dp.sched
        eng = self.mvm_engine
        m.submodules.mvm_engine = ResetInserter(soft)(eng)
        si, mo = self.s_axis_mvm, self.m_axis_mvm
        m.d.comb += [eng.i.valid.eq(si.tvalid), si.tready.eq(eng.i.ready),
                     eng.i.payload.data.eq(si.tdata), eng.i.payload.last.eq(si.tlast),
                     eng.i.payload.transposed.eq(si.tuser[0]),
                     mo.tvalid.eq(eng.o.valid), eng.o.ready.eq(mo.tready),
                     mo.tdata.eq(sext(eng.o.payload.y, DATA_WIDTH)), mo.tlast.eq(eng.o.payload.last)]
        # settings: the full scales' 0 stands for 2**32 (the engine's fs is 33 bits wide)
        cfg = eng.cfg
        m.d.comb += [cfg.settle.eq(csr.mvm_timing.settle), cfg.conv.eq(csr.mvm_timing.conv),
                     cfg.fs_fwd.eq(Cat(csr.mvm_fs_fwd.value, ~csr.mvm_fs_fwd.value.any())),
                     cfg.fs_tr.eq(Cat(csr.mvm_fs_tr.value, ~csr.mvm_fs_tr.value.any())),
                     cfg.g_ref.eq(csr.mvm_g_ref.value),
                     cfg.mult_fwd.eq(csr.mvm_scale_fwd.mult), cfg.shift_fwd.eq(csr.mvm_scale_fwd.shift),
                     cfg.mult_tr.eq(csr.mvm_scale_tr.mult), cfg.shift_tr.eq(csr.mvm_scale_tr.shift)]
        # the exclusion: reads hold the scheduler, programming in flight holds the reads
        m.d.comb += [sched.hold.eq(eng.rd_req), eng.prog_active.eq(sched.prog_active)]
        # the engine's array read port
        m.d.comb += [self.mvm_wl.eq(eng.wl), self.mvm_bl.eq(eng.bl), self.mvm_read.eq(eng.read),
                     self.mvm_transposed.eq(eng.transposed), self.mvm_adc_start.eq(eng.adc_start),
                     self.mvm_adc_sel.eq(eng.adc_sel), eng.adc_code.eq(self.mvm_adc_code)]
        # status and sticky errors (rising edges of the engine's sticky flags)
        wait, wait_q, read_q, frame_q, overlap_q = (Signal(name=f"mvm_{n}") for n in
                                                    ("wait", "wait_q", "read_q", "frame_err_q", "overlap_q"))
        frame_set, overlap_set = Signal(name="mvm_frame_set"), Signal(name="mvm_overlap_set")
        m.d.comb += [wait.eq(eng.rd_req & ~eng.read & sched.prog_active),
                     frame_set.eq(eng.frame_error & ~frame_q), overlap_set.eq(eng.overlap_error & ~overlap_q)]
        m.d.sync += [wait_q.eq(wait), read_q.eq(eng.read), frame_q.eq(eng.frame_error),
                     overlap_q.eq(eng.overlap_error)]
        clear = Signal(name="mvm_clear_counters")
        m.d.comb += clear.eq(csr.ctrl.clear_counters | soft)
        _event_counters(m, csr, clear, (("mvm_frame_count", eng.o.valid & eng.o.ready & eng.o.payload.last),
                                        ("mvm_read_count", eng.read & ~read_q), ("mvm_wait_count", wait & ~wait_q),
                                        ("mvm_wait_cycles", wait)))
        busy = Signal(name="mvm_busy")
        m.d.comb += busy.eq(eng.busy | eng.o.valid)
        return _MvmStatus(busy, wait, frame_set, overlap_set)

    def _bnn_path(self, m: Module, csr, soft, owner, bnn_idle) -> _BnnStatus:
        """Input FIFO -> image assembly -> BnnLayerEngine -> output buffer; returns the engine's line
        enables (zero-extended to the array port) and its status signals. A network build
        (:class:`BnnNetHwParams`) runs :class:`BnnNetworkEngine` and keeps the class in BNN_CLASS."""
        if isinstance(self.bnn, BnnNetHwParams):
            return self._bnn_net_path(m, csr, soft, owner, bnn_idle)
        eng = BnnLayerEngine(self.bnn)
        ififo = SyncFifo(width=DATA_WIDTH, depth=self.fifo_depth)
        m.submodules.bnn_engine = ResetInserter(soft)(eng)
        m.submodules.bnn_input_fifo = ResetInserter(soft)(ififo)
        image, got, complete = self._bnn_image(m, csr, ififo)
        full = self._bnn_start(m, csr, eng, image, got, complete, owner, soft)
        done = self._bnn_output_buffer(m, csr, eng, full, soft)
        self._bnn_phase_writes(m, csr, eng)
        wl, blr, busy = self._bnn_array_port(m, eng, ififo, got, bnn_idle)
        return _BnnStatus(wl, blr, eng.read, busy, done, eng.addr_error, ififo.level, full)

    def _bnn_net_path(self, m: Module, csr, soft, owner, bnn_idle) -> _BnnStatus:
        """Input FIFO -> image assembly -> BnnNetworkEngine -> class register (BNN_CLASS); a calibration
        image (BNN_CTRL.CAL) is a pattern of hidden layer BNN_CTRL.LAYER, its output bits go to
        BNN_OUT_DATA."""
        net = self.bnn
        H = net.hidden_layers
        eng = BnnNetworkEngine(net)
        ififo = SyncFifo(width=DATA_WIDTH, depth=self.fifo_depth)
        m.submodules.bnn_engine = ResetInserter(soft)(eng)
        m.submodules.bnn_input_fifo = ResetInserter(soft)(ififo)
        ctrl = csr.bnn_ctrl
        # the image's layer: 0, or the calibration image's (BNN_CTRL.LAYER, clamped to H - 1)
        first = [Const(1, 1)] + [Const(0, 1)] * (H - 1)
        if H > 1:
            lsel = Signal(range(H), name="bnn_cal_layer")
            m.d.comb += lsel.eq(Mux(ge_const(ctrl.layer, H - 1), H - 1, ctrl.layer))
            first = [Mux(ctrl.cal, eq_const(lsel, i), Const(int(i == 0), 1)) for i in range(H)]
        image, got, complete = self._bnn_image(m, csr, ififo, net.sizes[0],
                                               lengths=[(first[i], net.sizes[i]) for i in range(H)])
        full = Signal()
        m.d.comb += [eng.x.valid.eq(complete & owner & csr.ctrl.mode & ~full),
                     eng.x.payload.bits.eq(image),
                     eng.x.payload.analog.eq(ctrl.analog), eng.x.payload.cal.eq(ctrl.cal),
                     eng.x.payload.ramp.eq(ctrl.ramp), eng.x.payload.layer.eq(ctrl.layer)]
        with m.If((eng.x.valid & eng.x.ready) | soft):
            m.d.sync += got.eq(0)
        # the class register: the engine's class waits in its ArgmaxUnit while the register is full;
        # a calibration image's bits wait in the engine's activation register (BNN_OUT_DATA)
        done = Signal()
        cls_r, count_r = Signal.like(eng.cls.payload.cls), Signal.like(eng.cls.payload.count)
        m.d.comb += [eng.cls.ready.eq(~full), eng.cal_y.ready.eq(~full),
                     done.eq((eng.cls.valid & eng.cls.ready) | (eng.cal_y.valid & eng.cal_y.ready)),
                     csr.bnn_class.cls.eq(cls_r), csr.bnn_class.count.eq(count_r)]
        with m.If(eng.cls.valid & eng.cls.ready):
            m.d.sync += [cls_r.eq(eng.cls.payload.cls), count_r.eq(eng.cls.payload.count)]
        with m.If(done):
            m.d.sync += full.eq(1)
        with m.If(csr.ctrl.bnn_ack | soft):
            m.d.sync += full.eq(0)
        cal_bits = Signal(net.hidden_width, name="bnn_cal_bits")
        with m.If(eng.cal_y.valid & eng.cal_y.ready):
            m.d.sync += cal_bits.eq(eng.cal_y.payload)
        out_words = -(-net.hidden_width // DATA_WIDTH)
        padded = Signal(out_words * DATA_WIDTH)
        m.d.comb += padded.eq(cal_bits)
        sel = csr.bnn_out_index.word
        word = Const(0, DATA_WIDTH)
        for k in range(out_words):
            word = word | (padded[k * DATA_WIDTH:(k + 1) * DATA_WIDTH] & eq_const(sel, k).replicate(DATA_WIDTH))
        m.d.comb += csr.bnn_out_data.bits.eq(word)
        self._bnn_phase_writes(m, csr, eng)
        wl, blr, busy = self._bnn_array_port(m, eng, ififo, got, bnn_idle,
                                             out_valid=eng.cls.valid | eng.cal_y.valid)
        return _BnnStatus(wl, blr, eng.read, busy, done, eng.addr_error, ififo.level, full)

    def _bnn_image(self, m: Module, csr, ififo, inputs: int | None = None, lengths=None):
        """BNN_INPUT words -> input FIFO -> image register (word k of an image = inputs 32k .. 32k+31);
        returns the image, the words it holds and ``complete``. ``lengths``: ``[(select, inputs)]``, the
        image lengths of a network build (one selected at a time), the image then zero past its length."""
        if lengths:
            return self._bnn_image_var(m, ififo, csr, lengths)
        n_words = -(-(inputs or self.bnn.inputs) // DATA_WIDTH)
        bi = csr.bnn_input
        m.d.comb += [ififo.w_data.eq(bi.payload), ififo.w_en.eq(bi.valid), bi.ready.eq(ififo.w_rdy)]
        image = Signal(n_words * DATA_WIDTH)
        got = Signal(range(n_words + 1))
        complete = Signal()
        m.d.comb += [complete.eq(eq_const(got, n_words)), ififo.r_en.eq(~complete)]
        with m.If(ififo.r_rdy & ~complete):
            m.d.sync += [image.eq(Cat(image[DATA_WIDTH:], ififo.r_data) if n_words > 1 else ififo.r_data),
                         got.eq(add_const(got, 1))]
        return image, got, complete

    def _bnn_image_var(self, m: Module, ififo, csr, lengths):
        """:meth:`_bnn_image` with an image length chosen among ``lengths`` (``[(select, inputs)]``): the
        words shift in from the top of a register of the longest image's words, so an image of n words
        sits in the top n; the image is that slice, zero past its length (an AND-OR over the lengths)."""
        words = [-(-n // DATA_WIDTH) for _, n in lengths]
        n_max = max(words)
        bi = csr.bnn_input
        m.d.comb += [ififo.w_data.eq(bi.payload), ififo.w_en.eq(bi.valid), bi.ready.eq(ififo.w_rdy)]
        reg = Signal(n_max * DATA_WIDTH)
        got = Signal(range(n_max + 1))
        complete = Signal()
        m.d.comb += [complete.eq(_or_bits(sel & eq_const(got, w) for (sel, _), w in zip(lengths, words))),
                     ififo.r_en.eq(~complete)]
        with m.If(ififo.r_rdy & ~complete):
            m.d.sync += [reg.eq(Cat(reg[DATA_WIDTH:], ififo.r_data) if n_max > 1 else ififo.r_data),
                         got.eq(add_const(got, 1))]
        width = max(n for _, n in lengths)
        image = Signal(width)
        m.d.comb += image.eq(_or_bits(
            sel.replicate(width) & reg[(n_max - w) * DATA_WIDTH:(n_max - w) * DATA_WIDTH + n]
            for (sel, n), w in zip(lengths, words)))
        return image, got, complete

    def _bnn_start(self, m: Module, csr, eng, image, got, complete, owner, soft):
        """A complete image goes to the engine (and the image register empties) while the BNN path owns
        the array port and the output buffer is free; returns the buffer's ``full`` flag."""
        full = Signal()
        m.d.comb += [eng.x.valid.eq(complete & owner & csr.ctrl.mode & ~full),
                     eng.x.payload.bits.eq(image[:self.bnn.inputs]),
                     eng.x.payload.analog.eq(csr.bnn_ctrl.analog), eng.x.payload.cal.eq(csr.bnn_ctrl.cal),
                     eng.x.payload.ramp.eq(csr.bnn_ctrl.ramp)]
        with m.If(eng.x.valid & eng.x.ready):
            m.d.sync += got.eq(0)
        with m.If(soft):
            m.d.sync += got.eq(0)
        return full

    def _bnn_output_buffer(self, m: Module, csr, eng, full, soft):
        """Output words -> the buffer BNN_OUT_DATA shows 32 bits at a time; full from the last word until
        CTRL.BNN_ACK. Returns ``done`` (the last word arrived)."""
        hw = self.bnn
        neurons, K = hw.neurons, hw.bank
        out_words = -(-neurons // DATA_WIDTH)
        # word b (neurons b*K ..) lands in bits b*K .. of the buffer: neuron j in bit j. The engine
        # hands out an image's words in order b = 0 .. banks-1, so the buffer is a shift register
        # (each word enters at the top and the image's first word reaches bits 0 .. K-1 with its
        # last) and the last word is known from a counter, not from the FIFO's data: the buffer's
        # enables and `full` start at flip-flops (a decode of the word from the engine's output-FIFO
        # multiplexer was the iCEBreaker top's critical path)
        out = Signal(hw.banks * K)
        y_xfer = Signal(attrs={"keep": 1})     # a net of its own: the buffer's enables start at it
        m.d.comb += [eng.y.ready.eq(~full), y_xfer.eq(eng.y.valid & eng.y.ready)]
        with m.If(y_xfer):
            m.d.sync += out.eq(Cat(out[K:], eng.y.payload.bits) if hw.banks > 1 else eng.y.payload.bits)
        idx, last = Signal(range(hw.banks), name="bnn_out_word"), Signal(init=hw.banks == 1, name="bnn_out_last")
        if hw.banks > 1:
            with m.If(y_xfer):
                m.d.sync += [idx.eq(Mux(last, 0, add_const(idx, 1))), last.eq(eq_const(idx, hw.banks - 2))]
            with m.If(soft):
                m.d.sync += [idx.eq(0), last.eq(0)]
        m.d.sync += Assert(ResetSignal() | ~y_xfer | ((eng.y.payload.word == idx) & (eng.y.payload.last == last)),
                           "BNN output words out of order")
        done = Signal()
        m.d.comb += done.eq(y_xfer & last)
        with m.If(done):
            m.d.sync += full.eq(1)
        with m.If(csr.ctrl.bnn_ack | soft):
            m.d.sync += full.eq(0)
        padded = Signal(out_words * DATA_WIDTH)
        m.d.comb += padded.eq(out[:neurons])
        sel = csr.bnn_out_index.word
        word = Const(0, DATA_WIDTH)
        for k in range(out_words):
            word = word | (padded[k * DATA_WIDTH:(k + 1) * DATA_WIDTH] & eq_const(sel, k).replicate(DATA_WIDTH))
        m.d.comb += csr.bnn_out_data.bits.eq(word)
        return done

    def _bnn_phase_writes(self, m: Module, csr, eng) -> None:
        """BNN_PHASE pushes -> the sense-amplifier sequencer's phase-length registers, one cycle after
        the commit (a register stage: the CSR write decode does not run on into the sequencer's
        register enables)."""
        ph = csr.bnn_phase
        we, addr, cycles = (Signal.like(s, name=f"bnn_phase_{n}") for s, n in
                            ((ph.valid, "we"), (ph.payload.phase, "addr"), (ph.payload.cycles, "data")))
        m.d.sync += [we.eq(ph.valid), addr.eq(ph.payload.phase), cycles.eq(ph.payload.cycles)]
        m.d.comb += [eng.cfg.we.eq(we), eng.cfg.addr.eq(addr), eng.cfg.data.eq(cycles), ph.ready.eq(1)]

    def _bnn_array_port(self, m: Module, eng, ififo, got, bnn_idle, out_valid=None):
        """BNN members of the array port pass through; returns the engine's line enables (to be ORed
        with the training path's) and the path's ``busy``."""
        if bnn_port_sizes(self.bnn)[2]:
            m.d.comb += self.bias_in.eq(eng.bias_in)
        m.d.comb += [eng.rd_valid.eq(self.rd_valid), eng.rd_bits.eq(self.rd_bits), self.in_bits.eq(eng.in_bits),
                     eng.sa_out.eq(self.sa_out), self.sa_phase.eq(eng.phase),
                     self.sa_stages.eq(eng.stages), self.sa_firsts.eq(eng.firsts),
                     *(getattr(self, st).eq(getattr(eng, st)) for st in STROBES)]
        wl, blr = Signal(len(self.wl)), Signal(len(self.bl_read))
        m.d.comb += [wl.eq(eng.wl), blr.eq(eng.bl_read)]
        busy = Signal()
        # the engine drives a word line only with a digital read (CrossbarAddressing's line of a read
        # command, registered with `read`) or while a conversion is in the sequencer's evaluate
        # stage (its decoder of that stage; the tag is always a bank): the idle flag takes those two
        # registers instead of an OR over every word line (the ULX3S top's critical path ran from
        # that OR into the port owner's enable)
        wl_on = Signal()
        m.d.comb += [wl_on.eq(eng.read | eng.stages[EVALUATE - 1]),
                     busy.eq(eng.busy | (eng.y.valid if out_valid is None else out_valid) | got.any() | ififo.r_rdy),
                     bnn_idle.eq(~eng.busy & ~wl_on)]
        m.d.sync += Assert(ResetSignal() | ~eng.wl.any() | wl_on, "BNN word line without a read or an evaluate stage")
        return wl, blr, busy
