"""The accelerator top's register map (:mod:`hw.accelerator`, docs/registers.md), built register group
by register group from the parameter tree.

Field widths and enumerations come from the definitions they describe (parameter limits, the BNN
phases, the scheduler's error codes), so the map follows them.
"""
from __future__ import annotations

from dataclasses import replace

from golden.spec.bnn_datapath_params import (
    MAX_BANK,
    MAX_INPUTS,
    MAX_NEURONS,
    MAX_READ_WIDTH,
    PHASE_LENGTH_WIDTH,
    PHASES,
    BnnHwParams,
)
from golden.spec.bnn_network_params import BnnNetHwParams
from golden.spec.checks import bits_for, check_int
from golden.spec.interfaces import ERROR_CODE_WIDTH, ErrorCode
from golden.spec.mvm_params import MvmParams
from golden.spec.params import MAX_COLS, MAX_DEVICES, MAX_ROWS, MAX_TIMING, AccelParams
from golden.spec.register_map.description import (
    DATA_WIDTH,
    DEFAULT_PUSH_WAIT,
    Access,
    Field,
    Register,
    RegisterMap,
    RegisterMapBuilder,
)
from golden.spec.register_map.emitters import markdown

MAGIC = 0x52524143          # ASCII "RRAC"
MAP_VERSION = (1, 1)
UPDATE_FLAG_BITS = 2        # UPDATE.END_CYCLE and UPDATE.MARKER in bits 30, 31
PROGRAM_COUNT_WIDTH = 4     # PROGRAM.COUNT: fits row + col + slot + polarity + count in 32 bits
TIMING_WIDTH = MAX_TIMING.bit_length()

MODE_VALUES = (("training", 0), ("bnn", 1))
SCHED_CODES = tuple((code.name.lower(), code.value) for code in ErrorCode)
BNN_PHASE_VALUES = tuple((name, i) for i, name in enumerate(PHASES))

RO, RW, W1C, W1P, WO = Access.RO, Access.RW, Access.W1C, Access.W1P, Access.WO

NOTES = (
    ("Conventions: registers are 32 bits at 4-byte aligned addresses; holes answer SLVERR (reads "
     "return 0); writes to read-only bits are ignored. `wstrb` byte lanes that are 0 are not "
     "written (RW keeps its bits; W1C/W1P bits there count as 0; `wstrb` = 0 writes nothing, OKAY)."),
    "",
    ("No write hangs the bus. A push register (UPDATE, REFRESH, PROGRAM, READ_REQ, BNN_PHASE, "
     "BNN_INPUT) needs `wstrb` = 0xF and a target that takes the word: it waits while the target is "
     "busy (a full FIFO, the two-entry register slice in front of REFRESH, PROGRAM and READ_REQ full), "
     "at most PUSH_WAIT cycles "
     "(below), then it is *refused*: nothing is pushed, the write answers SLVERR and ERRORS.PUSH is "
     "set. It is refused at once when only another register write could make the target ready: "
     "UPDATE with a full update FIFO, REFRESH not taken, PROGRAM and READ_REQ, all while CTRL.MODE = "
     "BNN; READ_REQ while a read waits, is in flight or EVENTS.READ_DONE is set; BNN_INPUT with a full input FIFO while CTRL.MODE = "
     "TRAINING or STATUS.BNN_FULL. Both, because SLVERR names the write "
     "that failed to a host that checks responses, and the sticky flag (and `irq` with "
     "IRQ_ENABLE.ERRORS) tells a host whose bus drops write errors. A partial `wstrb` on a push is "
     "refused at once. Poll the STATUS levels to avoid waiting. A REFRESH, PROGRAM or READ_REQ write "
     "answers OKAY once its register slice took the word; the target takes it from the next cycle on "
     "(STATUS.TRAIN_BUSY / READ_BUSY cover a word waiting there)."),
    "",
    ("Access: RO read-only (hardware value or build-time constant), RW read/write, W1C sticky "
     "flag set by hardware and cleared by writing 1, W1P write-1 one-cycle pulse (reads 0), WO "
     "write-only field of a push register (reads 0)."),
    "",
    ("Build-time vs runtime: array size and cell, devices per synapse, differential mode, "
     "arbitration increment and periods, fixed-point widths, the pulse threshold eps, the pulse "
     "timing (setup/width/gap/settle/read, verify) and the BNN layer shape are generator "
     "parameters, visible as RO constants. Runtime: the array-port owner (CTRL.MODE), interrupt "
     "enables, the BNN mode (digital/analog) and the sense-amplifier phase lengths."),
    "",
    ("Training flow: per training sample send one frame on the AXI4-Stream port `s_axis` (the layer's "
     "error vector, then its input vector, as fixed-point codes; ENGINE_CFG gives the formats): the "
     "outer-product engine forms every synapse's dW on chip, skips zero inputs, and closes the update "
     "cycle when the frame's pulse counts have reached the arbitration controller (EVENTS.CYCLE_DONE, "
     "FRAME_COUNT). A frame of the wrong length is dropped whole (ERRORS.FRAME). Single updates: push "
     "UPDATE words (row, col, dW); set UPDATE.END_CYCLE on the last update of an "
     "update cycle (or push a MARKER with END_CYCLE) so that the arbitration controller advances "
     "its selection counter after the pulses of that cycle; EVENTS.CYCLE_DONE tells when it did. "
     "PROGRAM bypasses the update unit and the arbitration: pulses on one chosen device (weight "
     "initialisation, BNN weights, tests). READ_REQ reads one device into READ_DATA."),
)
BNN_NET_NOTES = (
    "",
    ("BNN registers (0x0A0 ..) exist only in builds with a BNN path (ARRAY_CFG.BNN = 1). In a network "
     "build (BNN_NET) the whole network runs on chip: push an image as ceil(inputs/32) BNN_INPUT words; "
     "when it is complete, STATUS.OWNER is BNN and the result register is free, the hidden layers run "
     "one after the other (BNN_CTRL.ANALOG: analog or digital), then the output layer (digital) and "
     "its argmax; EVENTS.BNN_DONE marks BNN_CLASS valid; CTRL.BNN_ACK frees it for the next image. "
     "SA calibration: with BNN_CTRL.CAL = 1 an image is a calibration pattern of hidden layer "
     "BNN_CTRL.LAYER (ceil(fan_in/32) words), converted once with bias rows j < BNN_CTRL.RAMP driven; "
     "EVENTS.BNN_DONE then marks the layer's output bits valid in BNN_OUT_DATA (BNN_CLASS unchanged)."),
)

BNN_NOTES = (
    "",
    ("BNN registers (0x0A0 ..) exist only in builds with a BNN path (ARRAY_CFG.BNN = 1). "
     "BNN flow (CTRL.MODE = BNN): push an image as ceil(inputs/32) BNN_INPUT words; the engine runs "
     "the layer when the image is complete, STATUS.OWNER is BNN and the output buffer is free; "
     "EVENTS.BNN_DONE marks the output bits complete (read them with BNN_OUT_INDEX / "
     "BNN_OUT_DATA); CTRL.BNN_ACK frees the buffer for the next image."),
)


def update_fits_one_word(p: AccelParams) -> bool:
    """True if UPDATE holds row, col, dW and the two flags in one word (else UPDATE_ADDR holds row/col)."""
    return p.row_width + p.col_width + p.update.dw_width <= DATA_WIDTH - UPDATE_FLAG_BITS


def accelerator_register_map(p: AccelParams, *, bnn: BnnHwParams | None = None, fifo_depth: int = 16,
                             adc_width: int = 8, addr_width: int = 12,
                             push_wait: int = DEFAULT_PUSH_WAIT, mvm: MvmParams | None = None) -> RegisterMap:
    """The register map of the accelerator top (:mod:`hw.accelerator`) for parameter tree ``p``.

    Build-time (generator) parameters are visible as RO constants: ID, VERSION, ARRAY_CFG,
    SYNAPSE_CFG, UPDATE_CFG, EPS, EPS_HI, TIMING0, TIMING1 (and BNN_CFG0/1). Runtime: CTRL,
    IRQ_ENABLE, BNN_CTRL and the BNN phase lengths.

    Parameters
    ----------
    bnn : BnnHwParams, BnnNetHwParams or None
        The BNN layer engine's parameters if the top has a BNN path (adds the BNN registers), or a whole
        network's (:class:`golden.spec.bnn_network_params.BnnNetHwParams`: the class register BNN_CLASS
        and BNN_NET instead of the output bits).
    fifo_depth : int, 2..255
        Depth of the update-request and BNN input FIFOs in the top (STATUS shows their levels).
    adc_width : int, 1..16
        Width of the array's read code (READ_DATA.DATA).
    push_wait : int, 1..65535
        Cycles a push waits for a busy target before it is refused (SLVERR, ERRORS.PUSH).
    mvm : MvmParams or None
        The MVM read path's parameters if the top has one (adds the MVM registers at 0x100,
        STATUS.MVM_BUSY and ERRORS.MVM_FRAME / MVM_OVERLAP; without it the map is unchanged).
    """
    check_int("fifo_depth", fifo_depth, 2, 255)
    check_int("adc_width", adc_width, 1, 16)
    b = RegisterMapBuilder("reram_accel", addr_width, MAP_VERSION, push_wait)
    b.notes += NOTES + (f"PUSH_WAIT = {push_wait} cycles in this build.",)
    net = bnn if isinstance(bnn, BnnNetHwParams) else None
    b.notes += (BNN_NET_NOTES if net is not None else BNN_NOTES) if bnn is not None else ()
    b.notes += MVM_NOTES if mvm is not None else ()
    _add_identity(b)                                   # 0x000
    _add_array_config(b, p, bnn, mvm=mvm is not None)
    _add_update_config(b, p, fifo_depth)
    _add_timing_config(b, p, adc_width)
    _add_engine_config(b, p)
    _add_control_status(b, bits_for(fifo_depth + 1), mvm=mvm is not None)   # 0x040
    _add_events_errors(b, mvm=mvm is not None)
    _add_counters(b)                                   # 0x060
    _add_update_requests(b, p)                         # 0x080
    _add_refresh_and_program(b, p)                     # 0x088
    _add_cell_read(b, p, adc_width)
    if net is not None:
        _add_bnn_config(b, net.hidden_hw, inputs=net.sizes[0], net=net)   # 0x0A0
        _add_bnn_data(b, net.hidden_hw, net=net)
    elif bnn is not None:
        _add_bnn_config(b, bnn)                        # 0x0A0
        _add_bnn_data(b, bnn)
    if mvm is not None:
        _add_mvm(b, p, mvm)                            # 0x100
    return b.build()


# --- identification / build-time configuration (0x000) ------------------------------------------------
def _add_identity(b: RegisterMapBuilder) -> None:
    """ID and VERSION."""
    b.add(Register("id", (Field("magic", 32, RO, const=MAGIC, doc="ASCII \"RRAC\"."),),
                   "Identification word; reads 0x52524143 (\"RRAC\")."))
    b.add(Register("version", (Field("minor", 8, RO, const=MAP_VERSION[1], doc="Map minor version."),
                               Field("major", 8, RO, const=MAP_VERSION[0], doc="Map major version.")),
                   "Version of this register map."))


def _add_array_config(b: RegisterMapBuilder, p: AccelParams, bnn: BnnHwParams | None, mvm: bool = False) -> None:
    """ARRAY_CFG and SYNAPSE_CFG: geometry, cell type, synapse and arbitration parameters."""
    a, s, t = p.array, p.synapse, p.timing
    b.add(Register("array_cfg", (
        Field("rows_m1", bits_for(MAX_ROWS), RO, const=a.rows - 1, doc="Synapse rows - 1."),
        Field("cols_m1", bits_for(MAX_COLS), RO, const=a.cols - 1, doc="Synapse columns - 1."),
        Field("cell_2t2r", 1, RO, const=int(a.cell == "2T2R"), doc="1: 2T2R cells, 0: 1T1R."),
        Field("differential", 1, RO, const=int(s.differential), doc="1: G+ / G- device groups."),
        Field("verify", 1, RO, const=int(t.verify), doc="1: program-and-verify read after each request."),
        Field("bnn", 1, RO, const=int(bnn is not None), doc="1: the build has the BNN path."),
        *((Field("mvm", 1, RO, const=1, doc="1: the build has the MVM read path."),) if mvm else ())),
        "Array geometry and cell type (build-time)."))
    b.add(Register("synapse_cfg", (
        Field("devices_m1", bits_for(MAX_DEVICES), RO, const=s.devices - 1,
              doc="Devices per synapse (per group) - 1."),
        Field("increment", bits_for(MAX_DEVICES), RO, const=s.increment,
              doc="Step of the arbitration selection counter."),
        Field("pot_period_m1", 8, RO, const=s.pot_period - 1, doc="Potentiation period - 1."),
        Field("dep_period_m1", 8, RO, const=s.dep_period - 1, doc="Depression period - 1.")),
        "Multi-device synapse and arbitration parameters (build-time)."))


def _add_update_config(b: RegisterMapBuilder, p: AccelParams, fifo_depth: int) -> None:
    """UPDATE_CFG, EPS and EPS_HI: the update unit's fixed-point formats and threshold."""
    s, u = p.synapse, p.update
    b.add(Register("update_cfg", (
        Field("dw_width", 6, RO, const=u.dw_width, doc="Width of dW (signed)."),
        Field("chi_width", 6, RO, const=u.chi_width, doc="Width of the chi accumulator (signed)."),
        Field("count_width", 4, RO, const=u.count_width, doc="Width of the pulse count per request."),
        Field("refresh_pulses", 8, RO, const=s.refresh_pulses, doc="RESET pulses per device on a refresh."),
        Field("fifo_depth", 8, RO, const=fifo_depth, doc="Depth of the update and BNN input FIFOs.")),
        "Fixed-point formats of the update unit (build-time)."))
    b.add(Register("eps", (Field("value", 32, RO, const=u.eps & 0xFFFFFFFF, doc="eps bits [31:0]."),),
                   "Pulse threshold eps of the update unit, low word (build-time, LSBs of chi)."))
    b.add(Register("eps_hi", (Field("value", 8, RO, const=u.eps >> 32, doc="eps bits [39:32]."),),
                   "Pulse threshold eps, high bits (chi_width up to 40)."))


def _add_timing_config(b: RegisterMapBuilder, p: AccelParams, adc_width: int) -> None:
    """TIMING0 and TIMING1: the pulse scheduler's pulse and read timing."""
    t = p.timing
    b.add(Register("timing0", (
        Field("setup", TIMING_WIDTH, RO, const=t.setup, doc="Address setup before the first pulse (cycles)."),
        Field("width", TIMING_WIDTH, RO, const=t.width, doc="Programming pulse width (cycles)."),
        Field("gap", TIMING_WIDTH, RO, const=t.gap, doc="Gap between pulses of one request (cycles)."),
        Field("settle", TIMING_WIDTH, RO, const=t.settle, doc="Settling after the last pulse (cycles).")),
        "Pulse timing of the pulse scheduler (build-time)."))
    b.add(Register("timing1", (
        Field("read", TIMING_WIDTH, RO, const=t.read, doc="Read strobe length (cycles)."),
        Field("adc_width", 5, RO, const=adc_width, doc="Width of the read code."),),
        "Read timing of the pulse scheduler (build-time)."))


# --- control / status (0x040) ----------------------------------------------------------------------
def _add_control_status(b: RegisterMapBuilder, level_width: int, mvm: bool = False) -> None:
    """CTRL (strobes, array-port owner) and STATUS (live busy flags and FIFO levels)."""
    b.skip_to(0x040)
    b.add(Register("ctrl", (
        Field("soft_reset", 1, W1P, doc="Reset the datapath for one cycle: empty the FIFOs, abort the "
                                        "operation in flight, clear the blocks' sticky flags and the "
                                        "counters, and start the chi clear (as CLEAR_CHI). The CSRs keep "
                                        "their values."),
        Field("clear_counters", 1, W1P, doc="Zero the performance counters."),
        Field("bnn_ack", 1, W1P, doc="Free the BNN output buffer: the next image's bits may overwrite it."),
        Field("clear_chi", 1, W1P, doc="Zero the update unit's chi memory: one word per cycle, rows * cols "
                                       "cycles (STATUS.CLEARING); update requests wait meanwhile. Also "
                                       "runs after reset. Write it while the training path is idle: a "
                                       "request in the update unit is dropped."),
        Field("mode", 1, RW, offset=8, values=MODE_VALUES,
              doc="Requested owner of the array port; STATUS.OWNER follows once the current owner is "
                  "idle.")),
        "Control: strobes and the array-port owner."))
    b.add(Register("status", (
        Field("busy", 1, RO, doc="Any operation in flight (TRAIN_BUSY, BNN_BUSY or READ_BUSY)."),
        Field("train_busy", 1, RO, doc="Update FIFO not empty, a training block busy or the chi clear "
                                       "running."),
        Field("bnn_busy", 1, RO, doc="BNN engine busy, an image (part) waiting or output bits in flight."),
        Field("read_busy", 1, RO, doc="A cell read is in flight."),
        Field("owner", 1, RO, values=MODE_VALUES, doc="Current owner of the array port."),
        Field("bnn_full", 1, RO, doc="The BNN output buffer holds an unacknowledged image."),
        Field("clearing", 1, RO, doc="The chi clear runs (after reset, CTRL.CLEAR_CHI or CTRL.SOFT_RESET; "
                                     "rows * cols cycles); also sets TRAIN_BUSY."),
        Field("update_level", level_width, RO, offset=8, doc="Entries in the update FIFO."),
        Field("input_level", level_width, RO, offset=16, doc="Entries in the BNN input FIFO."),
        *((Field("mvm_busy", 1, RO, offset=24, doc="The MVM read engine holds a frame (loading done, "
                                                   "reads or outputs pending); also sets BUSY."),
           Field("mvm_wait", 1, RO, offset=25, doc="The MVM read engine waits for a programming "
                                                   "command in flight to end before its next read."))
          if mvm else ())),
        "Status of the datapath (live values)."))


def _add_events_errors(b: RegisterMapBuilder, mvm: bool = False) -> None:
    """EVENTS and ERRORS (sticky, W1C) and IRQ_ENABLE."""
    b.add(Register("events", (
        Field("bnn_done", 1, W1C, doc="The output bits of a BNN image are complete."),
        Field("read_done", 1, W1C, doc="A cell read finished (READ_DATA valid)."),
        Field("cycle_done", 1, W1C, doc="An update cycle was closed (a frame committed, or "
                                        "UPDATE.END_CYCLE reached the arbitration controller).")),
        "Sticky events, cleared by writing 1."))
    b.add(Register("errors", (
        Field("update_range", 1, W1C, doc="The update unit dropped a request outside the array (first "
                                          "one after reset / soft reset)."),
        Field("sched", 1, W1C, doc="The pulse scheduler rejected a request or read; reason in "
                                   "SCHED_CODE. Clearing it clears SCHED_CODE."),
        Field("xbar", 1, W1C, doc="A crossbar addressing unit rejected a command (never expected)."),
        Field("push", 1, W1C, doc="A push register write was refused (SLVERR): its target stayed busy "
                                  "for PUSH_WAIT cycles, or its `wstrb` was not 0xF. Nothing was pushed."),
        Field("frame", 1, W1C, doc="A frame on `s_axis` had the wrong length (TLAST early or late) and was "
                                   "dropped whole: no chi change, no pulse."),
        *((Field("mvm_frame", 1, W1C, doc="An MVM input frame on `s_axis_mvm` had the wrong length and "
                                          "was dropped whole (no read, no output)."),
           Field("mvm_overlap", 1, W1C, doc="An MVM read overlapped a programming command (never "
                                            "expected: the read engine and the pulse scheduler "
                                            "exclude each other)."))
          if mvm else ()),
        Field("sched_code", ERROR_CODE_WIDTH, RO, offset=8, values=SCHED_CODES,
              doc="First pulse-scheduler error since it was last cleared.")),
        "Sticky error flags (reason codes), cleared by writing 1."))
    b.add(Register("irq_enable", (
        Field("bnn_done", 1, RW, doc="Raise `irq` on EVENTS.BNN_DONE."),
        Field("read_done", 1, RW, doc="Raise `irq` on EVENTS.READ_DONE."),
        Field("cycle_done", 1, RW, doc="Raise `irq` on EVENTS.CYCLE_DONE."),
        Field("errors", 1, RW, offset=8, doc="Raise `irq` on any ERRORS flag.")),
        "Interrupt enables: `irq` = OR of the enabled EVENTS flags, and of any ERRORS flag."))


def _add_engine_config(b: RegisterMapBuilder, p: AccelParams) -> None:
    """ENGINE_CFG: lanes and the frame codes' fixed-point formats of the outer-product engine."""
    e = p.engine
    b.add(Register("engine_cfg", (
        Field("lanes_log2", 4, RO, const=e.lanes.bit_length() - 1, doc="log2 of the lanes P (synapses per cycle)."),
        Field("x_width", 5, RO, offset=4, const=e.x_width, doc="Width of the unsigned input codes x."),
        Field("x_frac", 5, RO, offset=9, const=e.x_frac, doc="Fraction bits of x."),
        Field("delta_width", 5, RO, offset=14, const=e.delta_width, doc="Width of the signed error codes delta."),
        Field("delta_frac", 5, RO, offset=19, const=e.delta_frac, doc="Fraction bits of delta (in dW LSBs).")),
        "Outer-product engine (build-time): dW = round(x * delta / 2**(X_FRAC + DELTA_FRAC)), "
        "saturated to UPDATE_CFG.DW_WIDTH."))


# --- counters (0x060) ------------------------------------------------------------------------------
COUNTERS = (("pulse_count", "Programming pulses that reached the array (rising `write`)."),
            ("request_count", "UPDATE requests accepted by the update engine."),
            ("skipped_count", "Pulse counts dropped by the period gating of the arbitration controller."),
            ("refresh_count", "Refresh requests accepted."),
            ("busy_cycles", "Cycles with STATUS.BUSY set."),
            ("frame_count", "Frames committed by the outer-product engine (update cycles)."))


def _add_counters(b: RegisterMapBuilder) -> None:
    """The 32-bit performance counters."""
    b.skip_to(0x060)
    for name, doc in COUNTERS:
        b.add(Register(name, (Field("value", 32, RO, doc=doc + " Wraps at 2**32."),),
                       doc + " Zeroed by CTRL.CLEAR_COUNTERS and CTRL.SOFT_RESET."))


# --- training path and cell reads (0x080) -----------------------------------------------------------
def _add_update_requests(b: RegisterMapBuilder, p: AccelParams) -> None:
    """UPDATE (push), and UPDATE_ADDR when row + col + dW + 2 flags exceed one word."""
    b.skip_to(0x080)
    rw, cw, dw = p.row_width, p.col_width, p.update.dw_width
    flags = (Field("end_cycle", 1, WO, offset=30, doc="Close the update cycle after this entry (its "
                                                      "pulse counts reach the arbitration controller "
                                                      "first)."),
             Field("marker", 1, WO, offset=31, doc="No update in this entry (ROW, COL, DW ignored): "
                                                   "with END_CYCLE, closes an update cycle."))
    if update_fits_one_word(p):
        b.add(Register("update", (
            Field("dw", dw, WO, signed=True, doc="Weight update dW (LSBs of chi)."),
            Field("col", cw, WO, doc="Synapse column."),
            Field("row", rw, WO, doc="Synapse row."), *flags),
            "Push one update request (row, col, dW) into the update FIFO.", push=True))
        return
    b.add(Register("update", (Field("dw", dw, WO, signed=True, doc="Weight update dW (LSBs of chi)."),
                              *flags),
                   "Push one update request (UPDATE_ADDR.ROW, UPDATE_ADDR.COL, dW) into the update "
                   "FIFO.", push=True))
    b.add(Register("update_addr", (Field("col", cw, RW, doc="Synapse column."),
                                   Field("row", rw, RW, offset=16, doc="Synapse row.")),
                   "Synapse address of the UPDATE pushes (this build's row + col + dW + 2 flags exceed "
                   "32 bits)."))


def _add_refresh_and_program(b: RegisterMapBuilder, p: AccelParams) -> None:
    """REFRESH (one synapse) and PROGRAM (one device, direct) pushes."""
    b.skip_to(0x088)
    rw, cw = p.row_width, p.col_width
    b.add(Register("refresh", (Field("col", cw, WO, doc="Synapse column."),
                               Field("row", rw, WO, offset=16, doc="Synapse row.")),
                   "Request a refresh of synapse (row, col): every device gets REFRESH_PULSES RESET pulses.",
                   push=True))
    b.add(Register("program", (
        Field("count", PROGRAM_COUNT_WIDTH, WO, doc="Pulses (1..15; 0 is rejected: ERRORS.SCHED, code COUNT)."),
        Field("polarity", 1, WO, values=(("reset", 0), ("set", 1)), doc="SET (1) or RESET (0)."),
        Field("slot", p.slot_width, WO, doc="Device slot in the synapse (0 .. D-1)."),
        Field("col", cw, WO, doc="Synapse column."),
        Field("row", rw, WO, doc="Row.")),
        "Program one device directly (bypasses the update unit and the arbitration controller; waits "
        "behind the arbitration controller's requests).", push=True))


def _add_cell_read(b: RegisterMapBuilder, p: AccelParams, adc_width: int) -> None:
    """READ_REQ (push) and READ_DATA: one device read through the pulse scheduler."""
    b.add(Register("read_req", (
        Field("phys_col", p.phys_col_width, WO, doc="Physical column (col * D + device slot)."),
        Field("row", p.row_width, WO, offset=16, doc="Row.")),
        "Request a read of one device; the result appears in READ_DATA. Taken only while no read waits "
        "or is in flight (STATUS.READ_BUSY) and EVENTS.READ_DONE is clear (else it is refused at once: "
        "SLVERR, ERRORS.PUSH), so no result is overwritten before the host acknowledged it.", push=True))
    b.add(Register("read_data", (
        Field("data", adc_width, RO, doc="Read code of the last read."),
        Field("err", 1, RO, offset=16, doc="The last read addressed a device outside the array."),
        Field("valid", 1, RO, offset=31, doc="DATA holds the result of the last READ_REQ.")),
        "Result of the last cell read; it stays until the host clears EVENTS.READ_DONE and sends the "
        "next READ_REQ."))
    if p.timing.verify:
        b.add(Register("verify_data", (
            Field("data", adc_width, RO, doc="Read code of the last program-and-verify read."),
            Field("valid", 1, RO, offset=31, doc="A verify read happened since reset / soft reset.")),
            "Result of the last program-and-verify read (builds with timing.verify; without it no "
            "verify read is made)."))


# --- BNN path (0x0A0) ------------------------------------------------------------------------------
def _add_bnn_config(b: RegisterMapBuilder, bnn: BnnHwParams, inputs: int | None = None,
                    net: BnnNetHwParams | None = None) -> None:
    """BNN_CFG0/1 (layer shape and engine parameters) and BNN_CTRL (mode, bias-row drive); a network
    build shows its image size in INPUTS_M1 and the hidden engine's shape in the other fields, and its
    BNN_CTRL selects the hidden layer a calibration image runs through (LAYER)."""
    b.skip_to(0x0A0)
    b.add(Register("bnn_cfg0", (
        Field("inputs_m1", bits_for(MAX_INPUTS), RO, const=(inputs or bnn.inputs) - 1,
              doc="Inputs N of the layer (network build: of the image) - 1."),
        Field("neurons_m1", bits_for(MAX_NEURONS), RO, const=bnn.neurons - 1, doc="Neurons M of the layer - 1."),
        Field("bank_m1", bits_for(MAX_BANK), RO, const=bnn.bank - 1, doc="Neurons per bank (word line) K - 1.")),
        "BNN layer shape (build-time)."))
    b.add(Register("bnn_cfg1", (
        Field("bias_cells", bits_for(MAX_INPUTS), RO, const=bnn.bias_cells, doc="Bias cells B per neuron."),
        Field("out_fifo", 7, RO, const=bnn.out_fifo, doc="Depth of the engine's output FIFO, in K-bit words (one per bank)."),
        Field("read_lanes", MAX_READ_WIDTH.bit_length(), RO, const=bnn.read_lanes,
              doc="Bridges one digital-mode read returns (min(read_width, inputs + bias cells)).")),
        "BNN layer parameters (build-time)."))
    analog = Field("analog", 1, RW, doc="1: analog (in-memory, sense amplifiers); "
                                        "0: digital (bridge reads + XNOR-popcount). "
                                        "Sampled when an image starts.")
    cal_doc = ("0: every bias row driven (normal operation). 1: SA calibration ramp, only bias rows j < RAMP "
               "driven (the bias cells then all store 1). Sampled when an image starts.")
    if net is not None:
        cal_doc = ("0: every bias row driven (normal operation: the image runs through the whole network). "
                   "1: SA calibration ramp: the image (BNN_CFG0 ignored: ceil(fan_in/32) words of hidden "
                   "layer LAYER) runs through hidden layer LAYER only, bias rows j < RAMP of the layer driven "
                   "(the bias cells then all store 1); its output bits are read with BNN_OUT_INDEX / "
                   "BNN_OUT_DATA. Set before an image's first word; sampled when the image starts.")
    lw = bits_for(net.hidden_layers) if net is not None else 0
    b.add(Register("bnn_ctrl", (
        analog,
        Field("cal", 1, RW, doc=cal_doc),
        *((Field("layer", lw, RW, offset=8,
                 doc=f"Hidden layer of a calibration image, 0 .. {net.hidden_layers - 1}"
                     f"{' (more: the last)' if (1 << lw) > net.hidden_layers else ''}."),) if net is not None else ()),
        Field("ramp", bnn.ramp_width, RW, offset=16,
              doc=f"Bias rows driven while CAL = 1, 0 .. {bnn.bias_cells}"
                  f"{' (more: all)' if (1 << bnn.ramp_width) - 1 > bnn.bias_cells else ''}.")),
        "BNN mode and bias-row drive (runtime"
        + ("; the output layer is always read digitally)." if net is not None else ").")))


def _add_bnn_data(b: RegisterMapBuilder, bnn: BnnHwParams, net: BnnNetHwParams | None = None) -> None:
    """BNN_PHASE and BNN_INPUT pushes, BNN_OUT_INDEX / BNN_OUT_DATA for the output bits (a network build:
    BNN_NET and BNN_CLASS)."""
    b.add(Register("bnn_phase", (
        Field("cycles", PHASE_LENGTH_WIDTH, WO, doc="Phase length in cycles (0 acts as 1)."),
        Field("phase", bits_for(len(PHASES)), WO, values=BNN_PHASE_VALUES, doc="Which sense-amplifier phase.")),
        "Set one sense-amplifier phase length (runtime; reset values from the build parameters).",
        push=True))
    b.add(Register("bnn_input", (Field("bits", 32, WO, doc="32 input bits; input 32*k+i in bit i of "
                                                            "the k-th word of the image."),),
                   "Push 32 input bits of an image into the BNN input FIFO.", push=True))
    if net is not None:
        b.add(Register("bnn_net", (
            Field("hidden_layers", 4, RO, const=net.hidden_layers, doc="Hidden layers of the network."),
            Field("classes_m1", bits_for(MAX_NEURONS), RO, offset=4, const=net.classes - 1,
                  doc="Output neurons (classes) - 1."),
            Field("bank_out_m1", bits_for(MAX_BANK), RO, offset=20, const=net.bank_out - 1,
                  doc="Output-layer neurons per word line - 1.")),
            "BNN network shape (build-time)."))
        cw = net.out_hw.count_width
        b.add(Register("bnn_class", (
            Field("cls", bits_for(net.classes), RO, doc="Class of the last image (lowest index among the "
                                                         "largest output popcounts)."),
            Field("count", cw, RO, offset=16, doc="Its output-layer popcount.")),
            "Result of the last BNN image (valid while STATUS.BNN_FULL)."))
    b.add(Register("bnn_out_index", (Field("word", 8, RW, doc="Word index into the output bits."),),
                   "Selects which 32 output bits BNN_OUT_DATA shows."))
    b.add(Register("bnn_out_data", (Field("bits", 32, RO, doc="Output bits 32*BNN_OUT_INDEX .. +31 "
                                                             "(neuron j in bit j mod 32; 0 past M)."),),
                   "Output (sign) bits of the last BNN image." if net is None else
                   "Output (sign) bits of hidden layer BNN_CTRL.LAYER for the last calibration image "
                   "(BNN_CTRL.CAL = 1; 0 past the layer's width)."))


# --- MVM read path (0x100) ------------------------------------------------------------------------
MVM_BASE = 0x100
MVM_FS_WIDTH = 32           # MVM_FS_FWD / MVM_FS_TR: 1 .. 2**32 - 1, 0 stands for 2**32
MVM_MULT_WIDTH = 17         # scale multipliers 1 .. 2**16
MVM_SHIFT_WIDTH = 6         # scale shifts 0 .. 48
MVM_COUNTERS = (("mvm_frame_count", "MVM frames whose last output code left on `m_axis_mvm`."),
                ("mvm_read_count", "MVM array reads (bit planes driven)."),
                ("mvm_wait_count", "MVM reads that had to wait for a programming command in flight."),
                ("mvm_wait_cycles", "Cycles the MVM read engine waited for programming."))

MVM_NOTES = (
    "",
    ("MVM registers (0x100 ..) exist only in builds with an MVM read path (ARRAY_CFG.MVM = 1). Input "
     "frames enter on the AXI4-Stream port `s_axis_mvm` (`tuser` = 1 on a frame's first word: a "
     "transposed read; forward: R unsigned input codes, transposed: C signed codes, 32 // INPUT_WIDTH "
     "codes per word from bit 0, TLAST on the last word); the output codes y leave on `m_axis_mvm` (one "
     "32-bit word per code, sign-extended from OUT_WIDTH, TLAST on a frame's last). The read settings "
     "MVM_TIMING, MVM_FS_*, MVM_G_REF and MVM_SCALE_* must stay constant while STATUS.MVM_BUSY is set. "
     "Reads and programming exclude each other: the pulse scheduler starts no request or cell read "
     "while the read engine requests the array, and the engine starts a read only when no programming "
     "command is in flight (MVM_WAIT_COUNT / MVM_WAIT_CYCLES count the waits; ERRORS.MVM_OVERLAP "
     "would flag a violation)."),
)


def _add_mvm(b: RegisterMapBuilder, p: AccelParams, mvm: MvmParams) -> None:
    """MVM_CFG (build-time), the read engine's runtime settings and its counters."""
    b.skip_to(MVM_BASE)
    b.add(Register("mvm_cfg", (
        Field("input_width", 4, RO, const=mvm.input_width, doc="Bits of an input code (b_in)."),
        Field("adc_width", 4, RO, const=mvm.adc_width, doc="ADC code bits A."),
        Field("cols_per_adc_log2", 3, RO, const=mvm.cols_per_adc.bit_length() - 1,
              doc="log2 of the lines sharing one ADC."),
        Field("out_width", 6, RO, offset=11, const=mvm.out_width, doc="Bits of an output code y (signed)."),
        Field("g_bits", 5, RO, const=mvm.g_bits, doc="Conductance code bits."),
        Field("differential", 1, RO, const=int(p.synapse.differential), doc="1: G+ - G- synapses.")),
        "MVM read path formats (build-time)."))
    b.add(Register("mvm_timing", (
        Field("settle", 8, RW, reset=1, doc="Cycles from driving a bit plane to the first conversion "
                                            "(0 acts as 1)."),
        Field("conv", 8, RW, reset=1, doc="Cycles of one ADC conversion (0 acts as 1).")),
        "MVM read timing (runtime)."))
    full = (1 << MVM_FS_WIDTH) - 1
    b.add(Register("mvm_fs_fwd", (
        Field("value", MVM_FS_WIDTH, RW, reset=mvm.adc_full_scale & full,
              doc="Forward ADC full scale in conductance codes (0: 2**32)."),),
        "Forward-read ADC full scale (runtime; reset value mvm.adc_full_scale)."))
    b.add(Register("mvm_fs_tr", (
        Field("value", MVM_FS_WIDTH, RW, reset=mvm.fs_t & full,
              doc="Transposed ADC full scale in conductance codes (0: 2**32)."),),
        "Transposed-read ADC full scale (runtime; reset value mvm.fs_t)."))
    b.add(Register("mvm_g_ref", (
        Field("value", mvm.g_bits, RW, doc="Reference conductance code (non-differential synapses)."),),
        "Reference conductance code of the non-differential reference term (runtime)."))
    for name, mult, shift, what in (("mvm_scale_fwd", mvm.scale_mult, mvm.scale_shift, "forward"),
                                    ("mvm_scale_tr", mvm.t_scale_mult, mvm.t_scale_shift, "transposed")):
        b.add(Register(name, (
            Field("mult", MVM_MULT_WIDTH, RW, reset=mult, doc="Multiplier (1 .. 2**16)."),
            Field("shift", MVM_SHIFT_WIDTH, RW, offset=24, reset=shift, doc="Right shift, round half up (0 .. 48).")),
            f"Scaling of the {what} read: y = saturate(floor((S * MULT + 2**(SHIFT-1)) / 2**SHIFT)) (runtime)."))
    b.skip_to(MVM_BASE + 0x20)
    for name, doc in MVM_COUNTERS:
        b.add(Register(name, (Field("value", 32, RO, doc=doc + " Wraps at 2**32."),),
                       doc + " Zeroed by CTRL.CLEAR_COUNTERS and CTRL.SOFT_RESET."))


# --- outputs for the default build -------------------------------------------------------------------
def params_summary(p: AccelParams) -> str:
    """One line naming the build parameters a generated map was made for."""
    return (f"{p.array.rows}x{p.array.cols} {p.array.cell}, {p.synapse.devices} device(s)/synapse"
            f"{' differential' if p.synapse.differential else ''}, dW {p.update.dw_width} b, "
            f"chi {p.update.chi_width} b, eps {p.update.eps}")


def network_bnn_map(p: AccelParams | None = None, net: BnnNetHwParams | None = None) -> RegisterMap:
    """The map of a network build (default: the paper network 784-1025-1025-1025-10)."""
    return accelerator_register_map(p or AccelParams(), bnn=net or BnnNetHwParams())


def reference_markdown() -> str:
    """docs/registers.md: the map for the default parameters with the default BNN path, then the BNN
    registers of a network build (the paper network)."""
    p = AccelParams()
    doc = markdown(accelerator_register_map(p, bnn=BnnHwParams()),
                   params_summary=params_summary(p) + "; BNN registers for the default BNN layer (64 "
                                                      "inputs, 7 bias cells, 33 neurons, banks of 4)")
    net_map = network_bnn_map(p)
    bnn_regs = replace(net_map, registers=tuple(r for r in net_map.registers if r.addr >= 0x0A0),
                       notes=BNN_NET_NOTES[1:])
    net_doc = markdown(bnn_regs, title="BNN registers of a network build",
                       params_summary="the paper network 784-1025-1025-1025-10 (bias cells 79, 102, 102; "
                                      "banks of 3); the registers below 0x0A0 are those above")
    mvm = MvmParams()
    mvm_map = accelerator_register_map(p, mvm=mvm)
    added = ", ".join(f"{r.upper()}.{f.upper()} {mvm_map[r].field(f).bits}" for r, f in
                      (("array_cfg", "mvm"), ("status", "mvm_busy"), ("status", "mvm_wait"),
                       ("errors", "mvm_frame"), ("errors", "mvm_overlap")))
    mvm_regs = replace(mvm_map, registers=tuple(r for r in mvm_map.registers if r.addr >= MVM_BASE),
                       notes=MVM_NOTES[1:])
    mvm_doc = markdown(mvm_regs, title="MVM registers of an [mvm] build",
                       params_summary=f"the default [mvm] section (input width {mvm.input_width}, ADC width "
                                      f"{mvm.adc_width}, {mvm.cols_per_adc} lines per ADC); the registers below "
                                      f"0x100 are those above, with the fields {added}")
    return doc + "\n" + net_doc + "\n" + mvm_doc


if __name__ == "__main__":   # python -m golden.spec.register_map.accelerator_map > docs/registers.md
    print(reference_markdown(), end="")
