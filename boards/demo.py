"""Board demo: in-situ training traffic through the generated periphery into the emulated array.

:class:`TrainingDemo` closes the training loop on the FPGA without a host::

    LFSR update requests --> UpdateUnit --> ArbitrationController --> PulseScheduler --> ArrayEmulator
          (row, col, dw)     (chi, eps)      (device selection)       (timed pulses)    (codes in BRAM)
                                                                           ^  read path   |
    UART TX <-- hex dump <-- array sweep (rd_cmd / rd_resp) --------------+---- adc <-----+

Update phase: ``updates`` requests to random synapses (rows/cols from a 32-bit LFSR; draws outside
the array are skipped), ``dw = sign * magnitude`` with a random magnitude below ``2**(dw_width-2)``
and the sign of a checkerboard target (``+`` where ``row ^ col`` is odd), so the conductance
picture converges to a checkerboard of SET (high) and RESET (low) synapses; ``end_cycle`` closes an
update cycle every ``batch`` requests (the arbitration counter then moves to the next device).
Drain phase: ``drain`` idle cycles (the pipeline empties: no pulse can arrive during the sweep).
Sweep phase: every device is read through the PulseScheduler's host read path and printed over
the UART (8N1, ``baud``) as lowercase hex, one line per row::

    #\\r\\n
    <code(0,0)><code(0,1)>...<code(0,phys_cols-1)>\\r\\n      (ceil(code_bits/4) hex digits per code)
    ...

then the next update phase. On the iCEBreaker/ULX3S the UART is the board's FTDI serial port
(e.g. ``picocom -b 115200 /dev/ttyUSB1``).
"""
from __future__ import annotations

from dataclasses import replace

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from boards.emulated_array import ArrayEmulator, EmulatorParams
from golden.spec.params import AccelParams, ConfigError, check_int

LFSR_TAPS32 = 0x80200003


class UartTx(wiring.Component):
    """8N1 UART transmitter: one byte per ``10 * divisor`` cycles.

    Attributes
    ----------
    i : In(stream.Signature(8))
        Bytes; ``ready`` while idle.
    tx : Out(1)
        Line (idle high).
    """

    def __init__(self, divisor: int):
        check_int("uart divisor", divisor, 1, 1 << 24)
        self.divisor = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        shreg = Signal(10, init=0x3FF)  # stop, data[7:0], start: shifted out LSB first
        bits = Signal(range(11))
        timer = Signal(range(self.divisor))
        m.d.comb += [self.i.ready.eq(bits == 0), self.tx.eq(shreg[0])]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shreg.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))), bits.eq(10),
                         timer.eq(self.divisor - 1)]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [shreg.eq(Cat(shreg[1:], Const(1, 1))), bits.eq(bits - 1),
                             timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


def hex_digit(n):
    """ASCII of a 4-bit value (lowercase)."""
    return Mux(n < 10, n + ord("0"), n + (ord("a") - 10))


class TrainingDemo(wiring.Component):
    """The board demo (module docstring). All outputs are also XOR-reduced to LEDs by the harness.

    Parameters
    ----------
    params : AccelParams
    emu : EmulatorParams
    divisor : int
        UART bit time in clock cycles (clock / baud).
    updates : int, 1..2**24
        Update requests per phase.
    batch : int, 1..2**16
        Requests per update cycle (``end_cycle`` strobe).
    drain : int, 1..2**16
        Idle cycles between the update phase and the sweep.

    Attributes
    ----------
    uart_tx : Out(1)
        Serial output (the board harness also drives the board's UART TX pin with it).
    pulses : Out(32)
        Pulses applied to the emulated array.
    sweeps : Out(16)
        Completed sweeps.
    error : Out(1)
        Any sticky error flag of the update unit, scheduler or emulator.
    """

    def __init__(self, params: AccelParams, emu: EmulatorParams | None = None, *, divisor: int = 104,
                 updates: int = 4096, batch: int = 16, drain: int = 1024, seed: int = 0xACE1):
        check_int("demo.updates", updates, 1, 1 << 24)
        check_int("demo.batch", batch, 1, 1 << 16)
        check_int("demo.drain", drain, 1, 1 << 16)
        check_int("demo.seed", seed, 1, (1 << 32) - 1)
        self.params, self.emu = params, emu or EmulatorParams()
        self.divisor, self.updates, self.batch, self.drain, self.seed = divisor, updates, batch, drain, seed
        self.digits = -(-self.emu.code_bits // 4)
        from hw.arbitration_controller import ArbitrationController
        from hw.pulse_scheduler import PulseScheduler
        from hw.update_unit import UpdateUnit

        # The chain, as attributes so that a testbench can watch its internal ports.
        self.uu = UpdateUnit(params)
        self.arb = ArbitrationController(params)
        self.sched = PulseScheduler(params, data_width=self.emu.code_bits)
        self.array = ArrayEmulator(params, self.emu)
        self.uart = UartTx(divisor)
        super().__init__({"uart_tx": Out(1, init=1), "pulses": Out(32), "sweeps": Out(16), "error": Out(1)})

    @classmethod
    def from_board_config(cls, cfg) -> TrainingDemo:
        """From a :class:`boards.config.BoardConfig` (its ``[board]`` target clock and baud rate)."""
        mhz = cfg.board.target_mhz
        if mhz is None:
            raise ConfigError("board.target_mhz must be set for the demo (the UART divisor depends on it)")
        return cls(cfg.params, cfg.emulator, divisor=max(1, round(mhz * 1e6 / cfg.board.baud)),
                   updates=cfg.board.demo_updates)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.uu = uu = self.uu
        m.submodules.arb = arb = self.arb
        m.submodules.sched = sched = self.sched
        m.submodules.array = emu = self.array
        m.submodules.uart = uart = self.uart
        wiring.connect(m, uu.o, arb.i)
        wiring.connect(m, arb.o, sched.i)
        wiring.connect(m, sched.cmd, emu.cmd)
        m.d.comb += [
            sched.adc.eq(emu.adc), sched.clear.eq(0), arb.refresh.valid.eq(0),
            self.uart_tx.eq(uart.tx), self.pulses.eq(emu.pulses),
            self.error.eq(uu.addr_error | sched.error | emu.addr_error),
        ]

        # --- request generator ---------------------------------------------------------------------
        lfsr = Signal(32, init=self.seed)
        row = Signal(p.row_width)
        col = Signal(p.col_width)
        mag_bits = p.update.dw_width - 2
        mag = Signal(mag_bits)
        m.d.comb += [row.eq(lfsr[0:]), col.eq(lfsr[p.row_width:]), mag.eq(lfsr[32 - mag_bits:])]
        rows_ok = (row < p.array.rows) if (1 << p.row_width) > p.array.rows else Const(1)
        cols_ok = (col < p.array.cols) if (1 << p.col_width) > p.array.cols else Const(1)
        target_set = row[0] ^ col[0]
        m.d.comb += [
            uu.i.payload.row.eq(row), uu.i.payload.col.eq(col),
            uu.i.payload.dw.eq(Mux(target_set, mag, -mag)),
        ]

        sent = Signal(range(self.updates + 1))
        in_batch = Signal(range(self.batch))
        timer = Signal(range(self.drain + 1))
        rd_row = Signal(p.row_width)
        rd_col = Signal(p.phys_col_width)
        code = Signal(self.emu.code_bits)
        digit = Signal(range(self.digits + 1))
        m.d.comb += [sched.rd_cmd.payload.row.eq(rd_row), sched.rd_cmd.payload.phys_col.eq(rd_col)]
        last_col = rd_col == p.phys_cols - 1
        last_row = rd_row == p.array.rows - 1

        def send(byte, nxt):
            m.d.comb += [uart.i.valid.eq(1), uart.i.payload.eq(byte)]
            with m.If(uart.i.ready):
                m.next = nxt

        with m.FSM():
            with m.State("UPDATE"):
                m.d.comb += uu.i.valid.eq(rows_ok & cols_ok)
                with m.If(~uu.i.valid | uu.i.ready):
                    m.d.sync += lfsr.eq(Mux(lfsr[0], (lfsr >> 1) ^ LFSR_TAPS32, lfsr >> 1))
                with m.If(uu.i.valid & uu.i.ready):
                    m.d.sync += [sent.eq(sent + 1), in_batch.eq(Mux(in_batch == self.batch - 1, 0, in_batch + 1))]
                    m.d.comb += arb.end_cycle.eq(in_batch == self.batch - 1)
                    with m.If(sent == self.updates - 1):
                        m.d.sync += [sent.eq(0), timer.eq(self.drain)]
                        m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [rd_row.eq(0), rd_col.eq(0)]
                    m.next = "HDR0"
            with m.State("HDR0"):
                send(ord("#"), "HDR1")
            with m.State("HDR1"):
                send(ord("\r"), "HDR2")
            with m.State("HDR2"):
                send(ord("\n"), "READ")
            with m.State("READ"):
                m.d.comb += sched.rd_cmd.valid.eq(1)
                with m.If(sched.rd_cmd.ready):
                    m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += sched.rd_resp.ready.eq(1)
                with m.If(sched.rd_resp.valid):
                    m.d.sync += [code.eq(sched.rd_resp.payload.data), digit.eq(self.digits - 1)]
                    m.next = "HEX"
            with m.State("HEX"):
                nib = (code >> (digit * 4))[:4]
                m.d.comb += [uart.i.valid.eq(1), uart.i.payload.eq(hex_digit(nib))]
                with m.If(uart.i.ready):
                    m.d.sync += digit.eq(digit - 1)
                    with m.If(digit == 0):
                        with m.If(last_col):
                            m.d.sync += rd_col.eq(0)
                            m.next = "CR"
                        with m.Else():
                            m.d.sync += rd_col.eq(rd_col + 1)
                            m.next = "READ"
            with m.State("CR"):
                send(ord("\r"), "LF")
            with m.State("LF"):
                m.d.comb += [uart.i.valid.eq(1), uart.i.payload.eq(ord("\n"))]
                with m.If(uart.i.ready):
                    with m.If(last_row):
                        m.d.sync += self.sweeps.eq(self.sweeps + 1)
                        m.next = "UPDATE"
                    with m.Else():
                        m.d.sync += rd_row.eq(rd_row + 1)
                        m.next = "READ"
        return m


def decode_sweeps(text: str, rows: int, phys_cols: int, digits: int) -> list[list[list[int]]]:
    """Parse the UART dump into sweeps of ``rows x phys_cols`` codes (incomplete sweeps dropped)."""
    sweeps, cur = [], None
    for line in text.split("\r\n")[:-1]:  # the last piece is unterminated (or empty)
        if line == "#":
            cur = []
            continue
        if cur is None:
            continue
        if len(line) != phys_cols * digits:
            cur = None  # garbled: drop this sweep
            continue
        cur.append([int(line[i:i + digits], 16) for i in range(0, len(line), digits)])
        if len(cur) == rows:
            sweeps.append(cur)
            cur = None
    return sweeps


def demo_config(cfg, **board):
    """``cfg`` with ``[board]`` fields replaced (e.g. the CLI's target clock)."""
    return replace(cfg, board=replace(cfg.board, **board))

