"""Golden twin of the ArbitrationController: counter-based device selection (Boybat et al.).

Specification (exact; :mod:`hw.arbitration_controller` is bit-true to it)
-------------------------------------------------------------------------
``N = synapse.devices``, ``D = synapse.slots`` (``2N`` in differential mode, else ``N``).

State: selection counters ``sel_pos`` and ``sel_neg`` in ``[0, N)`` (``sel_neg`` only used in
differential mode) and period phases ``pot_phase`` in ``[0, pot_period)`` and ``dep_phase`` in
``[0, dep_period)``. All reset to 0, so the first update cycle programs device 0. (aihwkit's
SINGLE_SEQUENTIAL updates device 1 first; we deliberately start at 0 so that reset state, slot
numbering and the first selection coincide.)

Per :class:`~golden.spec.transactions.PulseCount` ``(row, col, count)`` of the current update cycle:

* ``count > 0`` (potentiation) passes only if ``pot_phase == 0`` and gives
  ``ProgramRequest(row, col, slot=sel_pos, polarity=SET, count=count)``;
* ``count < 0`` (depression) passes only if ``dep_phase == 0`` and gives, non-differential,
  ``(slot=sel_pos, RESET, |count|)`` and, differential, ``(slot=N + sel_neg, SET, |count|)`` (the
  G- devices are only ever SET, as in Boybat's differential scheme);
* otherwise (phase not 0) the PulseCount is consumed and counted in ``skipped``; ``count == 0`` is
  consumed silently (the UpdateUnit never emits it). ``|count|`` must be <= ``update.max_count``.

At the end-of-update-cycle strobe: the counter of a group advances by ``increment`` mod N if at
least one ProgramRequest of that group (G+ = all slots < N, i.e. every request in non-differential
mode; G- = slots >= N) was issued in this update cycle; ``pot_phase`` and ``dep_phase`` advance by
one modulo their periods every update cycle. Since ``increment`` is co-prime with N, every device
of a group is selected once in N advances.

Refresh (the answer to saturation in differential mode; also allowed non-differential): a refresh of
``(row, col)`` gives ``ProgramRequest(row, col, d, RESET, synapse.refresh_pulses)`` for d = 0 .. D-1
in that order. It does not count as an update (no counter advances, no ``skipped``).

Cycle model (micro-architecture of the RTL)
-------------------------------------------
One output register ``o`` (``o_free = ~o.valid | o.ready``). In each cycle, in priority order:

1. a refresh in progress loads its next slot into ``o`` if ``o_free``;
2. else a valid refresh request is accepted if ``o_free`` (``refresh.ready = ~busy & o_free``) and
   slot 0 is loaded; slots 1 .. D-1 follow in the next ``o_free`` cycles (``refresh_busy`` is high
   from the cycle after the accept until the last slot is loaded);
3. else a PulseCount is accepted if ``o_free`` (``i.ready = ~busy & ~refresh.valid & o_free``) and
   its decision (made with the state of this cycle) is loaded into ``o`` if it passes.

**Refresh has priority** over PulseCounts and is not interrupted: a refresh is requested because a
synapse saturated, and pulses applied before its refresh would be lost. (Continuous refresh
requests can starve PulseCounts; they are rare by construction.)

``end_cycle`` sampled high in cycle t closes the update cycle *including* a PulseCount accepted in
cycle t: its decision used the old state and its group flag counts; the new selection and phases
are visible from cycle t + 1. Latency: a PulseCount accepted in cycle t is offered on ``o`` from
cycle t + 1; a refresh accepted in cycle t offers slot d from cycle t + 1 + d (no backpressure).
Throughput: one PulseCount per cycle; a refresh takes D cycles.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from golden.spec.handshake import SinkSide, SourceSide
from golden.spec.params import AccelParams
from golden.spec.transactions import RESET, SET, ProgramRequest, PulseCount


@dataclass(frozen=True)
class RefreshRequest:
    """Host -> ArbitrationController: RESET every device of synapse (row, col)."""
    row: int
    col: int


class Decision(NamedTuple):
    """What one update cycle does, for a vectorised training step over a whole matrix."""
    pot_slot: int        # slot a potentiation (count > 0) programs, with SET
    dep_slot: int        # slot a depression (count < 0) programs, with :attr:`ArbitrationController.dep_polarity`
    pot_enabled: bool    # potentiation passes in this update cycle (pot_phase == 0)
    dep_enabled: bool    # depression passes in this update cycle (dep_phase == 0)


class ArbitrationController:
    """Transaction-level twin: :meth:`select` per PulseCount, :meth:`end_cycle` per update cycle.

    Parameters
    ----------
    params : AccelParams
        Uses the ``synapse`` section and ``update.max_count``.
    """

    def __init__(self, params: AccelParams):
        self.params = params
        s = params.synapse
        self.n, self.slots, self.inc = s.devices, s.slots, s.increment
        self.differential = s.differential
        self.sel_pos = 0
        self.sel_neg = 0
        self.pot_phase = 0
        self.dep_phase = 0
        self.skipped = 0
        self.refreshes = 0
        self.update_cycles = 0
        self._used_pos = False
        self._used_neg = False

    # --- the scalar view for vectorised training -------------------------------------------------
    @property
    def dep_polarity(self) -> int:
        """Polarity of a depression pulse: SET on a G- device (differential), else RESET."""
        return SET if self.differential else RESET

    def decision(self) -> Decision:
        """Slots and enables of the current update cycle (no state change)."""
        dep_slot = self.n + self.sel_neg if self.differential else self.sel_pos
        return Decision(self.sel_pos, dep_slot, self.pot_phase == 0, self.dep_phase == 0)

    def record(self, pot_issued: bool, dep_issued: bool, skipped: int = 0) -> None:
        """Vectorised path: note that at least one potentiation / depression ProgramRequest was
        issued in this update cycle (and how many PulseCounts were skipped), as :meth:`select`
        would have; then call :meth:`end_cycle`."""
        if pot_issued or (dep_issued and not self.differential):
            self._used_pos = True
        if dep_issued and self.differential:
            self._used_neg = True
        self.skipped += skipped

    # --- transaction level -------------------------------------------------------------------------
    def select(self, pc: PulseCount) -> ProgramRequest | None:
        """The ProgramRequest for ``pc`` in the current update cycle, or None (skipped / count 0)."""
        mc = self.params.update.max_count
        if not -mc <= pc.count <= mc:
            raise ValueError(f"PulseCount count = {pc.count} outside [-{mc}, {mc}] (update.max_count)")
        if pc.count == 0:
            return None
        d = self.decision()
        if pc.count > 0:
            if not d.pot_enabled:
                self.skipped += 1
                return None
            self._used_pos = True
            return ProgramRequest(pc.row, pc.col, d.pot_slot, SET, pc.count)
        if not d.dep_enabled:
            self.skipped += 1
            return None
        if self.differential:
            self._used_neg = True
        else:
            self._used_pos = True
        return ProgramRequest(pc.row, pc.col, d.dep_slot, self.dep_polarity, -pc.count)

    def end_cycle(self) -> None:
        """Close the update cycle: advance the used groups' counters and both phases."""
        if self._used_pos:
            self.sel_pos = (self.sel_pos + self.inc) % self.n
        if self._used_neg:
            self.sel_neg = (self.sel_neg + self.inc) % self.n
        self._used_pos = self._used_neg = False
        s = self.params.synapse
        self.pot_phase = (self.pot_phase + 1) % s.pot_period
        self.dep_phase = (self.dep_phase + 1) % s.dep_period
        self.update_cycles += 1

    def refresh(self, row: int, col: int) -> list[ProgramRequest]:
        """The D RESET requests of a refresh of synapse (row, col), slot 0 first."""
        self.refreshes += 1
        p = self.params.synapse.refresh_pulses
        return [ProgramRequest(row, col, d, RESET, p) for d in range(self.slots)]


# --- cycle model ------------------------------------------------------------------------------------
END_CYCLE = "end_cycle"
"""Marker in the PulseCount event list: the driver strobes ``end_cycle`` for one cycle there."""


@dataclass
class ArbitrationTrace:
    """What :func:`arbitration_cycle_model` predicts (all stamps are transfer / strobe cycles)."""

    accepted: list[tuple[int, PulseCount]] = field(default_factory=list)
    strobes: list[int] = field(default_factory=list)
    refreshes: list[tuple[int, RefreshRequest]] = field(default_factory=list)
    emitted: list[tuple[int, ProgramRequest]] = field(default_factory=list)
    # (cycle after each strobe, sel_pos, sel_neg, skipped mod 2**32)
    status: list[tuple[int, int, int, int]] = field(default_factory=list)
    cycles: int = 0


def arbitration_cycle_model(params: AccelParams, events: Iterable[PulseCount | str],
                            refreshes: Iterable[RefreshRequest], valid: Iterator[bool],
                            refresh_valid: Iterator[bool], ready: Iterator[bool],
                            ctrl: ArbitrationController | None = None,
                            max_cycles: int = 50_000_000) -> ArbitrationTrace:
    """Cycle-by-cycle model of :class:`hw.arbitration_controller.ArbitrationController`.

    Stimulus rules (those of :mod:`golden.spec.handshake`, extended by the end-of-cycle marker): the
    PulseCount driver, whenever it presents nothing and has events left, draws ``valid``; on True it
    takes the next event: an :data:`END_CYCLE` marker strobes ``end_cycle`` in this cycle (no PulseCount valid),
    a PulseCount is presented until accepted. The refresh source draws ``refresh_valid`` likewise;
    the ProgramRequest sink draws ``ready`` every cycle. Decisions come from ``ctrl`` (a fresh
    :class:`ArbitrationController` by default; updated in place, so runs can be chained).
    """
    ctrl = ctrl if ctrl is not None else ArbitrationController(params)
    src, rsrc = SourceSide(events, valid), SourceSide(refreshes, refresh_valid)
    draw_ready = SinkSide(ready).draw
    tr = ArbitrationTrace()
    o = None
    rf_rest: list[ProgramRequest] = []
    cycle = 0
    while not src.idle or not rsrc.idle or o is not None or rf_rest:
        if cycle >= max_cycles:
            raise TimeoutError("arbitration_cycle_model: no end")
        cur = src.present()
        strobe = cur == END_CYCLE      # the marker is drawn like an item, then strobed, not presented
        if strobe:
            src.taken()
            cur = None
        rcur = rsrc.present()
        rdy = draw_ready()
        o_free = o is None or rdy
        busy = bool(rf_rest)
        # clock edge
        if o is not None and rdy:
            tr.emitted.append((cycle, o))
            o = None
        if o_free:
            if busy:
                o = rf_rest.pop(0)
            elif rcur is not None:
                tr.refreshes.append((cycle, rsrc.taken()))
                o, *rf_rest = ctrl.refresh(rcur.row, rcur.col)
            elif cur is not None:
                tr.accepted.append((cycle, src.taken()))
                o = ctrl.select(cur)
        if strobe:
            ctrl.end_cycle()
            tr.strobes.append(cycle)
            tr.status.append((cycle + 1, ctrl.sel_pos, ctrl.sel_neg, ctrl.skipped % (1 << 32)))
        cycle += 1
    tr.cycles = cycle
    return tr
