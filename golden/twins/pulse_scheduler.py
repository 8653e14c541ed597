"""Golden twin of the PulseScheduler: program requests and host reads -> timed array commands.

Cycle convention: that of :mod:`golden.spec.handshake` -- a transfer *in cycle a* means ``valid &
ready`` held during cycle ``a``; an output "in cycle c" is the value it holds during cycle ``c``.

Program request ``(row, col, slot, polarity, count)`` accepted in cycle ``a``
----------------------------------------------------------------------------
With ``S, W, G, T, R`` = ``timing.setup, width, gap, settle, read``, ``V = timing.verify``, ``L_r`` =
the read latency (cycles from the array command to valid read data; 1 behind CrossbarAddressing)
and ``n = count``, the scheduler drives its array command port (``phys_col = col * D + slot``)::

    cycles a+1 .. a+S                     sel=1                    address setup
    pulse j = 0..n-1 starts at            p_j = a + 1 + S + j*(W+G)
    cycles p_j .. p_j+W-1                 sel=1 we=1 polarity      pulse j
    G cycles after each pulse but the last: sel=1                  gap
    e = a + S + n*W + (n-1)*G             last cycle of the last pulse
    cycles e+1 .. e+T                     sel=1                    settle
    if V: cycles e+T+1 .. e+T+R           sel=1 re=1               program-and-verify read
          cycles .. e+T+R+L_r             (waiting for the data)   ``adc`` sampled in cycle e+T+R+L_r
          cycle e+T+R+L_r+1               verify_valid=1, verify_data = the sample
    ready again (idle) in cycle a + occupancy(n)

``occupancy(n) = 1 + S + n*W + (n-1)*G + T + V*(R + L_r)``: back-to-back requests are accepted every
``occupancy`` cycles (throughput one request per occupancy). A request with ``count == 0`` or an
address outside the array (``row >= rows``, ``col >= cols``, ``slot >= D``) is consumed without any
command, raises the sticky error flag (visible from cycle ``a + 1``) and takes one cycle
(occupancy 1).

Host read ``(row, phys_col)`` accepted in cycle ``a``
-----------------------------------------------------
``sel=1`` in cycles ``a+1 .. a+S+R``, ``re=1`` in ``a+S+1 .. a+S+R``; ``adc`` is sampled in cycle
``a+S+R+L_r``; the result ``(data, err=0)`` is offered on ``rd_resp`` from cycle ``a+S+R+L_r+1`` until
taken (cycle ``t``); idle again in cycle ``t + 1``. A read outside the array (``row >= rows`` or
``phys_col >= phys_cols``) issues no command, raises the sticky error and offers ``(data=0, err=1)``
from cycle ``a + 1``.

Arbitration: program requests and host reads share one sequencer, so reads and writes are mutually
exclusive by construction. When idle, the stream that did *not* win the previous grant wins if both
are valid (round robin; program requests first after reset)::

    i.ready      = idle & ~(rd_cmd.valid & prefer_rd)
    rd_cmd.ready = idle & ~(i.valid & ~prefer_rd)

Hold (the read/programming exclusion, ``PulseScheduler(exclusion=True)``): in a cycle with ``hold``
high neither stream is accepted::

    i.ready      = idle & ~hold & ~(rd_cmd.valid & prefer_rd)
    rd_cmd.ready = idle & ~hold & ~(i.valid & ~prefer_rd)

What is *in flight* -- a request or host read accepted in an earlier cycle, up to the cycle before
the scheduler is idle again (setup, every pulse and gap, settle, the verify read; a host read up to
the transfer of its result) -- runs on unchanged. ``prog_active = ~idle``: high from cycle ``a + 1``
of an acceptance in cycle ``a`` up to and including the cycle before ``idle_from``. A rejected
request keeps the scheduler idle (``prog_active`` stays low); a rejected host read holds it busy
until its error result is taken.

Error codes (sticky: the code of the first error since reset or ``clear``; an error in the same cycle
as ``clear`` wins): see :class:`ErrorCode`, checked in the listed order.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from golden.spec.handshake import SinkSide, SourceSide
from golden.spec.interfaces import DEFAULT_READ_LATENCY, ErrorCode
from golden.spec.params import AccelParams
from golden.spec.transactions import ProgramRequest, Pulse


@dataclass(frozen=True)
class ReadCommand:
    """Host -> PulseScheduler: read one device."""

    row: int
    phys_col: int


@dataclass(frozen=True)
class ReadResult:
    """PulseScheduler -> host: ADC code of the read (``err``: the address was outside the array)."""

    data: int
    err: int


@dataclass(frozen=True)
class ReadStrobe:
    """A read as it reaches the array (host read or program-and-verify): first cycle of ``re``."""

    cycle: int
    row: int
    phys_col: int


def occupancy(params: AccelParams, count: int, read_latency: int = DEFAULT_READ_LATENCY) -> int:
    """Cycles from accepting a valid request with ``count`` pulses to being ready again."""
    t = params.timing
    return (1 + t.setup + count * t.width + (count - 1) * t.gap + t.settle
            + (t.read + read_latency if t.verify else 0))


def request_error(params: AccelParams, req: ProgramRequest) -> ErrorCode:
    """Why a program request is rejected (``ErrorCode.NONE`` if it is not)."""
    if req.row >= params.array.rows:
        return ErrorCode.ROW
    if req.col >= params.array.cols:
        return ErrorCode.COL
    if req.slot >= params.synapse.slots:
        return ErrorCode.SLOT
    if req.count == 0:
        return ErrorCode.COUNT
    return ErrorCode.NONE


def read_error(params: AccelParams, cmd: ReadCommand) -> ErrorCode:
    if cmd.row >= params.array.rows:
        return ErrorCode.READ_ROW
    if cmd.phys_col >= params.phys_cols:
        return ErrorCode.READ_COL
    return ErrorCode.NONE


def pulses_for(params: AccelParams, req: ProgramRequest) -> list[Pulse]:
    """Pulses of one request, cycle stamps relative to its accept cycle (empty if rejected)."""
    if request_error(params, req) != ErrorCode.NONE:
        return []
    t = params.timing
    pc = req.col * params.synapse.slots + req.slot
    return [Pulse(1 + t.setup + j * (t.width + t.gap), req.row, pc, req.polarity) for j in range(req.count)]


def schedule(params: AccelParams, accepted: Iterable[tuple[int, ProgramRequest]]) -> list[Pulse]:
    """Pulses of requests accepted in the given cycles, with absolute cycle stamps."""
    out: list[Pulse] = []
    for a, req in accepted:
        out.extend(Pulse(a + p.cycle, p.row, p.phys_col, p.polarity) for p in pulses_for(params, req))
    return out


@dataclass
class SchedulerTrace:
    """Everything the cycle model predicts; cycles are absolute (cycle 0 = first cycle)."""

    accepted: list[tuple[int, ProgramRequest]] = field(default_factory=list)
    reads_accepted: list[tuple[int, ReadCommand]] = field(default_factory=list)
    pulses: list[Pulse] = field(default_factory=list)
    strobes: list[ReadStrobe] = field(default_factory=list)
    results: list[tuple[int, ReadResult]] = field(default_factory=list)
    verifies: list[tuple[int, int]] = field(default_factory=list)
    errors: list[tuple[int, ErrorCode]] = field(default_factory=list)  # (cycle visible, code) per error
    error_code: ErrorCode = ErrorCode.NONE      # sticky code at the end
    error_rise: int | None = None               # first cycle the sticky flag was high
    cycles: int = 0                             # first cycle in which everything is idle again
    active: list[tuple[int, int]] = field(default_factory=list)  # prog_active high in [first, end)


def scheduler_cycle_model(params: AccelParams, requests: Sequence[ProgramRequest],
                          reads: Sequence[ReadCommand] = (), *,
                          valid_gen: Iterator[bool] | None = None,
                          read_valid_gen: Iterator[bool] | None = None,
                          resp_ready_gen: Iterator[bool] | None = None,
                          hold_gen: Iterator[bool] | None = None,
                          read_value: Callable[[int, int, list[Pulse]], int] | None = None,
                          read_latency: int = DEFAULT_READ_LATENCY,
                          max_cycles: int = 50_000_000) -> SchedulerTrace:
    """Cycle-exact model of :class:`hw.pulse_scheduler.PulseScheduler` under a given stimulus timing.

    The ``req`` and ``rd`` sources and the ``rd_resp`` sink follow :mod:`golden.spec.handshake` with
    ``valid_gen``, ``read_valid_gen`` and ``resp_ready_gen`` (``None``: always). ``hold_gen`` gives
    the ``hold`` input, one bool per cycle from cycle 0 (``None``: tied low); the busy intervals
    (``prog_active``) are in :attr:`SchedulerTrace.active`.

    ``read_value(row, phys_col, pulses)`` gives the ADC code of a read (sampled after all listed
    pulses -- every pulse issued so far -- have been applied); default 0.
    """
    t = params.timing
    w_src, r_src = SourceSide(requests, valid_gen), SourceSide(reads, read_valid_gen)
    draw_resp_ready = SinkSide(resp_ready_gen).draw
    prefer_rd = False
    idle_from = 0          # first cycle the sequencer is idle (when no result is pending)
    pending: ReadResult | None = None
    pending_from = 0
    tr = SchedulerTrace()

    def value(row: int, pc: int) -> int:
        return read_value(row, pc, tr.pulses) if read_value is not None else 0

    def raise_error(cycle: int, code: ErrorCode) -> None:
        tr.errors.append((cycle + 1, code))
        if tr.error_rise is None:
            tr.error_rise, tr.error_code = cycle + 1, code

    c = 0
    busy_from = None
    while True:
        w_cur, r_cur = w_src.present(), r_src.present()
        resp_ready = draw_resp_ready()
        held = next(hold_gen) if hold_gen is not None else False
        if pending is not None and c >= pending_from and resp_ready:
            tr.results.append((c, pending))
            pending = None
            idle_from = c + 1
        elif pending is None and c >= idle_from and not held:
            w_valid, r_valid = w_cur is not None, r_cur is not None
            if w_valid and not (r_valid and prefer_rd):
                req, prefer_rd = w_src.taken(), True
                tr.accepted.append((c, req))
                err = request_error(params, req)
                if err != ErrorCode.NONE:
                    raise_error(c, err)
                    idle_from = c + 1
                else:
                    busy_from = c + 1
                    ps = pulses_for(params, req)
                    tr.pulses.extend(Pulse(c + p.cycle, p.row, p.phys_col, p.polarity) for p in ps)
                    n = req.count
                    idle_from = c + occupancy(params, n, read_latency)
                    if t.verify:
                        pc = ps[0].phys_col
                        e = c + t.setup + n * t.width + (n - 1) * t.gap
                        tr.strobes.append(ReadStrobe(e + t.settle + 1, req.row, pc))
                        tr.verifies.append((idle_from, value(req.row, pc)))
            elif r_valid:
                cmd, prefer_rd = r_src.taken(), False
                tr.reads_accepted.append((c, cmd))
                busy_from = c + 1
                err = read_error(params, cmd)
                if err != ErrorCode.NONE:
                    raise_error(c, err)
                    pending, pending_from = ReadResult(0, 1), c + 1
                else:
                    tr.strobes.append(ReadStrobe(c + t.setup + 1, cmd.row, cmd.phys_col))
                    pending = ReadResult(value(cmd.row, cmd.phys_col), 0)
                    pending_from = c + t.setup + t.read + read_latency + 1
        c += 1
        if busy_from is not None and pending is None and c >= idle_from:
            tr.active.append((busy_from, idle_from))
            busy_from = None
        if w_src.idle and r_src.idle and pending is None and c >= idle_from:
            tr.cycles = c
            return tr
        if c >= max_cycles:
            raise TimeoutError(f"scheduler model did not finish in {max_cycles} cycles")
