"""Golden twin of :class:`hw.sense_amp_sequencer.SenseAmpSequencer`: the capacitive-neuron phase FSM.

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

The strobes are registered: each equals the decode of the phase register in the same cycle (no
combinational glitches reach the macro).

Cycle semantics
---------------
* ``req`` is ready in *idle* and in the last cycle of *reset*; a request (its ``tag`` names the bank)
  transferred in cycle ``c`` makes cycles ``c+1 .. c+L0`` *precharge*, then ``L1`` cycles *input*,
  ``L2`` *evaluate*, ``L3`` *sense*, ``L4`` *readout* and ``L5`` *reset* (``Lp`` = phase length).
  Back-to-back requests give one conversion every ``sum(L)`` cycles.
* The SA decision ``sa_out`` (K bits) is captured at the end of the last *readout* cycle, i.e. the
  value driven during cycle ``c + L0+L1+L2+L3+L4``, and offered on ``resp`` (``tag``, ``bits``) from
  the next cycle until taken. If the previous response is still offered and not taken in that last
  readout cycle, *readout* is extended (``readout`` stays high) until the response register frees.
* Phase lengths are runtime registers (reset to the parameter defaults), written through
  ``cfg`` (``we``, ``addr`` 0..5, ``data`` 8 bits; addresses 6, 7 are ignored). A phase's counter is
  loaded from its register when the phase is entered, with the value held *before* any write in the
  same cycle; a length of 0 acts as 1.
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
    """What the RTL shows in one cycle (all Moore outputs)."""

    phase: int
    strobes: tuple
    req_ready: int
    resp_valid: int


class SenseAmpSequencerModel:
    """Cycle-exact model: read :meth:`outputs` for the current cycle, then :meth:`tick` the edge."""

    def __init__(self, bank: int = 1, lengths: Iterable[int] = (2, 1, 2, 1, 1, 1)):
        check_int("bnn.bank", bank, 1, MAX_BANK)
        self.bank = bank
        self.lens = list(check_phase_lengths("sense_amp_sequencer.lengths", lengths))
        self.phase, self.cnt, self.tag = IDLE, 0, 0
        self.resp_valid, self.resp = 0, SaResponse(0, 0)

    def req_ready(self) -> int:
        return int(self.phase == IDLE or (self.phase == RESET and self.cnt == 0))

    def outputs(self) -> SeqState:
        return SeqState(self.phase, STROBE_TABLE[self.phase], self.req_ready(), self.resp_valid)

    def _load(self, lens: list[int], phase: int) -> int:
        return max(lens[phase - 1], 1) - 1

    def tick(self, *, req_valid: int = 0, req_tag: int = 0, resp_ready: int = 0, cfg_we: int = 0,
             cfg_addr: int = 0, cfg_data: int = 0, sa_out: int = 0) -> dict:
        """Advance one clock edge; returns the transfers of the cycle that ended (``accepted``: tag
        or None, ``taken``: SaResponse or None, ``captured``: SaResponse or None)."""
        lens = list(self.lens)                      # values held during the cycle
        if cfg_we and cfg_addr < len(PHASES):
            self.lens[cfg_addr] = cfg_data & 0xFF
        accept = bool(self.req_ready() and req_valid)
        taken = self.resp if (self.resp_valid and resp_ready) else None
        captured = None
        p = self.phase
        if p == IDLE:
            if accept:
                self.tag, self.phase, self.cnt = req_tag, PRECHARGE, self._load(lens, PRECHARGE)
        elif p in (PRECHARGE, INPUT, EVALUATE, SENSE):
            if self.cnt == 0:
                self.phase = p + 1
                self.cnt = self._load(lens, p + 1)
            else:
                self.cnt -= 1
        elif p == READOUT:
            if self.cnt != 0:
                self.cnt -= 1
            elif not self.resp_valid or resp_ready:
                captured = SaResponse(self.tag, sa_out & ((1 << self.bank) - 1))
                self.phase, self.cnt = RESET, self._load(lens, RESET)
        elif p == RESET:
            if self.cnt != 0:
                self.cnt -= 1
            elif accept:
                self.tag, self.phase, self.cnt = req_tag, PRECHARGE, self._load(lens, PRECHARGE)
            else:
                self.phase = IDLE
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
        run.timeline.append((cycle, model.outputs()))
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
