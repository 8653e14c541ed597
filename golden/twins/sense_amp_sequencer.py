"""Golden twin of :class:`hw.sense_amp_sequencer.SenseAmpSequencer`: the capacitive-neuron phase
pipeline.

Phases and strobes
------------------
One *conversion* evaluates a bank of ``K`` capacitive neurons (one word line) and runs six phases,
each for a programmable number of cycles (:data:`golden.spec.bnn_datapath_params.PHASES`, cfg addresses 0..5):

=========  =====  =======================================  ==================================
phase      code   strobes high                              what the analog macro does
=========  =====  =======================================  ==================================
idle       0      none                                      --
precharge  1      ``eq``, ``precharge``                     equalise both summing nodes, precharge SA
input      2      ``input_en``                              drive BL/BLb from the input bits
evaluate   3      ``input_en``, ``evaluate``                charge sharing on the capacitors
sense      4      ``input_en``, ``sa_en``                   SA clock: the latch decides
readout    5      ``sa_en``, ``readout``                    latch output on the read-out bus
reset      6      ``sa_rst``                                discharge / reset the latch
=========  =====  =======================================  ==================================

Pipelined across banks
----------------------
Each phase is a pipeline *stage* that holds at most one conversion: while bank ``b`` evaluates or
senses, bank ``b+1`` can precharge and bank ``b+2`` wait for its inputs. With every phase one cycle
long the steady state is one conversion per cycle (one per SA clock); in general one per
``max(L)`` cycles (``Lp`` = phase length), against ``sum(L)`` for a non-overlapped sequencer. The
macro sees, per cycle, which stages are occupied (``stages``, bit ``p-1`` = phase ``p``) and which
of them a conversion entered in this cycle (``firsts``); the seven strobes are the OR of the strobes
of the occupied phases, ``phase`` is the code of the most advanced occupied phase (0: none). The
word line a conversion needs is its bank's during *evaluate* (the charge sharing); the engine
takes it from the sequencer's decoder ``eval_wl`` of the evaluate stage's registers (its tag,
one-hot, while occupied), equal to a register of ``eval_next`` / ``eval_tag_next`` (the evaluate
stage of the next cycle).

Cycle semantics
---------------
* A conversion in stage ``p`` whose count has run out moves to stage ``p+1`` at the clock edge if
  that stage is empty or its conversion moves on at the same edge (*reset* always leaves when its
  count runs out). The *precharge* stage is *free* when it is empty or its conversion moves on
  (a function of the state and of ``resp.ready``).
* Requests pass a one-entry *request queue* in front of *precharge*. ``req`` is ready when the queue
  is empty (a register: neither the stage moves nor ``resp.ready`` reach it). A request (its ``tag``
  names the bank) transferred in cycle ``c`` enters *precharge* at that edge if the stage is free
  (the queue stays empty), else it waits in the queue; a queued request enters *precharge* at the
  edge of the first cycle the stage is free (``req`` is not ready in that cycle, the queue is empty
  from the next). A conversion that enters *precharge* at the edge of cycle ``c`` makes cycles
  ``c+1 .. c+L0`` *precharge*, then ``L1`` cycles *input*, ``L2`` *evaluate*, ``L3`` *sense*, ``L4``
  *readout* and ``L5`` *reset*, unless a later stage is still busy. With a source that offers its
  next request from the cycle after a transfer, the conversions enter *precharge* in the same cycles
  as without the queue (a request waits in the queue where it would have waited on ``req``); the
  queue takes the transfer, not the conversion, one or more cycles earlier.
* The SA decision ``sa_out`` (K bits) of a conversion is the value driven during its *first* readout
  cycle (the macro's latch shows the decision of the conversion that was in *sense* in the cycle
  before); it is kept with the conversion and offered on ``resp`` (``tag``, ``bits``) from the cycle
  after its last readout cycle. Readout ends when its count has run out, the response register is
  free (or taken in that cycle) and the reset stage is free or leaving; otherwise it is extended
  (``readout`` stays high) and the stages behind it wait.
* Phase lengths are runtime registers (reset to the parameter defaults), written through
  ``cfg`` (``we``, ``addr`` 0..5, ``data`` 8 bits; addresses 6, 7 are ignored). A stage's counter is
  loaded from its register when a conversion enters it, with the value held *before* any write in
  the same cycle; a length of 0 acts as 1.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from golden.spec.bnn_datapath_params import MAX_BANK, PHASES, check_phase_lengths
from golden.spec.handshake import SinkSide, SourceSide
from golden.spec.interfaces import (  # noqa: F401  (phase codes: part of this twin's interface)
    EVALUATE,
    IDLE,
    INPUT,
    PRECHARGE,
    READOUT,
    RESET,
    SENSE,
    STROBE_TABLE,
    STROBES,
)
from golden.spec.params import check_int

PHASE_NAMES = ("idle", *PHASES)


@dataclass(frozen=True)
class SaResponse:
    """One captured decision vector: the request's tag and K SA bits (bit k = neuron slot k)."""

    tag: int
    bits: int


@dataclass(frozen=True)
class SeqState:
    """What the RTL shows in one cycle: phase, strobes, ``req.ready``, ``resp.valid``, the occupied
    stages and the stages entered in this cycle (bit ``p-1`` = phase ``p``)."""

    phase: int
    strobes: tuple
    req_ready: int
    resp_valid: int
    stages: int = 0
    firsts: int = 0


NSTAGES = len(PHASES)
EVAL = EVALUATE - 1            # stage index of evaluate
READ = READOUT - 1             # stage index of readout


class SenseAmpSequencerModel:
    """Cycle-exact model: read :meth:`outputs` for the current cycle, then :meth:`tick` the edge."""

    def __init__(self, bank: int = 1, lengths: Iterable[int] = (2, 1, 2, 1, 1, 1)):
        check_int("bnn.bank", bank, 1, MAX_BANK)
        self.bank = bank
        self.lens = list(check_phase_lengths("sense_amp_sequencer.lengths", lengths))
        self.occ = [0] * NSTAGES
        self.cnt = [0] * NSTAGES
        self.tags = [0] * NSTAGES
        self.first = [0] * NSTAGES
        self.rbits = 0
        self.resp_valid, self.resp = 0, SaResponse(0, 0)
        self.q_valid, self.q_tag = 0, 0           # the request queue in front of precharge

    # --- state views ------------------------------------------------------------------------------
    @property
    def phase(self) -> int:
        """Code of the most advanced occupied phase (0: none)."""
        return max((s + 1 for s in range(NSTAGES) if self.occ[s]), default=IDLE)

    @property
    def tag(self) -> int:
        """Tag of the conversion in *readout* (the one whose decision ``sa_out`` carries), else of the
        most advanced conversion in front of it."""
        for s in range(READ, -1, -1):
            if self.occ[s]:
                return self.tags[s]
        return self.tags[READ]

    def readout_first_tag(self) -> int | None:
        """Tag of the conversion in its first *readout* cycle (whose decision ``sa_out`` must carry in
        this cycle), None if there is none."""
        return self.tags[READ] if self.occ[READ] and self.first[READ] else None

    def eval_tag(self) -> int | None:
        """Tag of the conversion in *evaluate* (its word line), None if the stage is empty."""
        return self.tags[EVAL] if self.occ[EVAL] else None

    def _moves(self, resp_ready: int) -> list[bool]:
        mv = [False] * NSTAGES
        free_next = True                          # after reset: always free
        for s in range(NSTAGES - 1, -1, -1):
            ok = self.occ[s] and self.cnt[s] == 0 and free_next
            if s == READ:
                ok = ok and (not self.resp_valid or bool(resp_ready))
            mv[s] = bool(ok)
            free_next = (not self.occ[s]) or mv[s]
        return mv

    def req_ready(self, resp_ready: int = 1) -> int:
        """``req.ready``: the request queue is empty (``resp_ready`` does not matter)."""
        return int(not self.q_valid)

    def pre_free(self, resp_ready: int = 1) -> bool:
        """The *precharge* stage is empty or its conversion moves on at this edge."""
        return (not self.occ[0]) or self._moves(resp_ready)[0]

    def outputs(self, resp_ready: int = 1) -> SeqState:
        strobes = tuple(int(any(STROBE_TABLE[s + 1][i] for s in range(NSTAGES) if self.occ[s]))
                        for i in range(len(STROBES)))
        stages = sum(o << s for s, o in enumerate(self.occ))
        firsts = sum((o & f) << s for s, (o, f) in enumerate(zip(self.occ, self.first)))
        return SeqState(self.phase, strobes, self.req_ready(resp_ready), self.resp_valid, stages, firsts)

    def _load(self, lens: list[int], stage: int) -> int:
        return max(lens[stage], 1) - 1

    def tick(self, *, req_valid: int = 0, req_tag: int = 0, resp_ready: int = 0, cfg_we: int = 0,
             cfg_addr: int = 0, cfg_data: int = 0, sa_out: int = 0) -> dict:
        """Advance one clock edge; returns the transfers of the cycle that ended (``accepted``: tag
        or None, ``taken``: SaResponse or None, ``captured``: SaResponse or None)."""
        lens = list(self.lens)                      # values held during the cycle
        if cfg_we and cfg_addr < len(PHASES):
            self.lens[cfg_addr] = cfg_data & 0xFF
        mv = self._moves(resp_ready)
        free0 = (not self.occ[0]) or mv[0]
        accept = bool(req_valid and not self.q_valid)     # the transfer on req
        # what enters precharge: the queued request, else the one transferred now (bypass)
        enter0 = bool(self.q_valid or accept) and free0
        enter_tag = self.q_tag if self.q_valid else req_tag
        taken = self.resp if (self.resp_valid and resp_ready) else None
        captured = None
        mask = (1 << self.bank) - 1
        if self.occ[READ] and self.first[READ]:
            self.rbits = sa_out & mask              # the decision on the bus in the first readout cycle
        if mv[READ]:
            captured = SaResponse(self.tags[READ], self.rbits)
        occ, cnt, tags, first = list(self.occ), list(self.cnt), list(self.tags), [0] * NSTAGES
        for s in range(NSTAGES):
            if mv[s]:
                occ[s] = 0
            elif self.occ[s] and self.cnt[s] != 0:
                cnt[s] = self.cnt[s] - 1
        for s in range(NSTAGES - 1):
            if mv[s]:
                occ[s + 1], tags[s + 1], cnt[s + 1], first[s + 1] = 1, self.tags[s], self._load(lens, s + 1), 1
        if enter0:
            occ[0], tags[0], cnt[0], first[0] = 1, enter_tag, self._load(lens, 0), 1
        if self.q_valid:
            self.q_valid = int(not free0)
        elif accept and not free0:
            self.q_valid, self.q_tag = 1, req_tag
        self.occ, self.cnt, self.tags, self.first = occ, cnt, tags, first
        if captured is not None:
            self.resp_valid, self.resp = 1, captured
        elif taken is not None:
            self.resp_valid = 0
        return {"accepted": req_tag if accept else None, "taken": taken, "captured": captured}


def conversion_offsets(lengths: Iterable[int]) -> dict[str, tuple[int, int]]:
    """Without stalls: ``phase -> (first, last)`` cycle offsets from the request's transfer cycle."""
    lens = [max(v, 1) for v in lengths]
    out, t = {}, 1
    for name, n in zip(PHASES, lens):
        out[name] = (t, t + n - 1)
        t += n
    return out


@dataclass
class SequencerRun:
    """Result of :func:`sense_amp_run`: per-cycle outputs and the stream transfers with cycles."""

    timeline: list            # [(cycle, SeqState)]
    accepted: list            # [(cycle, tag)]
    responses: list           # [(cycle, SaResponse)] taken by the sink


def sense_amp_run(tags: Iterable[int], *, bank: int, lengths: Iterable[int], cycles: int,
                  valid_gen: Iterator[bool] | None = None, ready_gen: Iterator[bool] | None = None,
                  cfg_writes: dict[int, tuple[int, int]] | None = None,
                  sa_fn: Callable[[int], int] = lambda cycle: 0) -> SequencerRun:
    """Closed-loop cycle model of a testbench run of ``cycles`` cycles.

    The request source and response sink follow the draw rules of :mod:`golden.spec.handshake` with
    ``valid_gen`` / ``ready_gen``; ``cfg_writes`` maps a cycle to the ``(addr, data)`` written in it;
    ``sa_fn(cycle)`` is the SA output the macro drives during ``cycle``.
    """
    cfg_writes = cfg_writes or {}
    model = SenseAmpSequencerModel(bank, lengths)
    src, snk = SourceSide(tags, valid_gen), SinkSide(ready_gen)
    run = SequencerRun([], [], [])
    for cycle in range(cycles):
        current = src.present()
        rdy = snk.draw()
        run.timeline.append((cycle, model.outputs(int(rdy))))
        we = cycle in cfg_writes
        addr, data = cfg_writes.get(cycle, (0, 0))
        ev = model.tick(req_valid=int(current is not None), req_tag=current or 0, resp_ready=int(rdy),
                        cfg_we=int(we), cfg_addr=addr, cfg_data=data, sa_out=sa_fn(cycle))
        if ev["accepted"] is not None:
            run.accepted.append((cycle, ev["accepted"]))
            src.taken()
        if ev["taken"] is not None:
            run.responses.append((cycle, ev["taken"]))
    return run
