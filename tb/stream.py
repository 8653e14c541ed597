"""cocotb drivers and monitors for Amaranth ``stream.Signature`` ports, plus a shared cycle counter.

Amaranth flattens a stream port ``i`` into the Verilog ports ``i__valid``, ``i__ready`` and
``i__payload`` (one vector; struct fields are packed LSB-first in declaration order). The classes
here find those three by prefix and (un)pack payloads with the port's Amaranth layout, so a test
talks in dicts (or golden dataclasses) instead of bit vectors.

Cycle convention (shared with :mod:`tb.amaranth_sim` and the golden cycle models)
--------------------------------------------------------------------------------
A :class:`CycleCounter` started right after the reset was released numbers the clock periods:
cycle 0 is the period that starts at that edge, and the count increments at every later rising
edge. Every driver writes its inputs right after the rising edge that starts cycle ``c`` and samples
the handshake in ``ReadOnly`` of the same cycle; a transfer *in cycle c* means ``valid & ready`` held
during cycle ``c`` (the data moves on the edge that ends it). Outputs of the DUT are thus stamped
with the cycle in which the DUT offered them and the sink accepted them.

Backpressure
------------
* :class:`StreamSource` draws one bool from ``valid_gen`` in every cycle in which it holds an item
  but presents none; on ``True`` it presents the next item and keeps ``valid`` high until the item is
  taken (Amaranth stream rule: a presented payload is not withdrawn).
* :class:`StreamSink` draws one bool from ``ready_gen`` in *every* cycle and drives ``ready`` with it.

Both rules are also what the golden cycle models assume, so the same seeded generators (see
:func:`random_gen`) given to the testbench and to the model give identical timing.
"""
from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

# ---------------------------------------------------------------------------------------------
# backpressure / idle generators (plain iterators of bool; the golden cycle models consume them too)


def always() -> Iterator[bool]:
    """Never stall."""
    return itertools.repeat(True)


def pattern(bits: Iterable[int | bool]) -> Iterator[bool]:
    """Repeat a fixed pattern forever, e.g. ``pattern([1, 1, 0])``."""
    return (bool(b) for b in itertools.cycle(list(bits)))


def random_gen(seed: int, p_true: float, stream: int = 0) -> Iterator[bool]:
    """Seeded Bernoulli(p_true) bools; ``stream`` separates independent generators of one test."""
    rng = random.Random(f"{seed}/{stream}")
    while True:
        yield rng.random() < p_true


def burst_gen(seed: int, p_true: float, max_run: int = 8, stream: int = 0) -> Iterator[bool]:
    """Seeded runs of equal bools (run length 1..max_run): bursty traffic / long stalls."""
    rng = random.Random(f"burst/{seed}/{stream}")
    while True:
        v = rng.random() < p_true
        yield from itertools.repeat(v, rng.randint(1, max_run))


# ---------------------------------------------------------------------------------------------
# payload packing


def pack(layout, value: Any) -> int:
    """Pack ``value`` (int, dict or dataclass with the layout's field names) into a bit vector.

    ``layout`` is an Amaranth ``data.Layout`` or ``None`` for plain integer payloads (then ``value``
    is taken modulo nothing: it must already be the raw bits or a non-negative int).
    """
    if layout is None:
        return int(value)
    if is_dataclass(value):
        value = asdict(value)
    if isinstance(value, dict):
        names = {name for name, _ in layout}
        value = {k: v for k, v in value.items() if k in names}
    return layout.const(value).as_value().value


def unpack(layout, bits: int) -> dict | int:
    """Inverse of :func:`pack`: a dict of field values (signed fields sign-extended)."""
    if layout is None:
        return bits
    c = layout.from_bits(bits)
    return {name: getattr(c, name) for name, _ in layout}


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    """One completed stream transfer: the cycle it happened in and the (unpacked) payload."""

    cycle: int
    value: Any


class CycleCounter:
    """Counts rising edges of ``clk``; ``cycle`` is 0 in the period during which it was started.

    Read ``cycle`` only in ``ReadOnly`` (or after the edge-triggered coroutines of the cycle ran): the
    drivers in this module do exactly that, so their stamps do not depend on coroutine order.
    """

    def __init__(self, clk):
        self.clk = clk
        self.cycle = 0
        self._task = None

    def start(self) -> CycleCounter:
        self.cycle = 0
        self._task = cocotb.start_soon(self._run())
        return self

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        edge = RisingEdge(self.clk)
        while True:
            await edge
            self.cycle += 1

    async def wait_until(self, cycle: int) -> None:
        """Return right after the rising edge that starts ``cycle``, where inputs may be written.

        Call it from a write-safe point (not ``ReadOnly``) of an earlier cycle.
        """
        edge = RisingEdge(self.clk)
        while True:
            await ReadOnly()  # the counter coroutine has run for this cycle's edge
            if self.cycle >= cycle:
                raise RuntimeError(f"wait_until({cycle}) called in cycle {self.cycle}")
            last = self.cycle + 1 == cycle
            await edge
            if last:
                return


class _Port:
    def __init__(self, dut, prefix: str, layout):
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.layout = layout
        self.prefix = prefix


class StreamSource:
    """Drive an Amaranth stream input port ``<prefix>__{valid,ready,payload}`` of the DUT.

    Parameters
    ----------
    dut, prefix :
        The cocotb DUT handle and the port name (``"i"`` for ``i__valid`` ...).
    clk :
        Clock handle.
    counter : CycleCounter
        Stamps transfers; share one per test.
    layout : amaranth.lib.data.Layout or None
        Payload layout (``None``: raw integers).
    valid_gen : iterator of bool
        Idle generator (see the module docstring); default :func:`always`.

    strobe : (marker, handle), optional
        In-band side strobe: a queued item equal to ``marker`` is not sent; when it is drawn, the
        1-bit input ``handle`` is pulsed for that one cycle instead (with ``valid`` low) and the
        cycle is appended to :attr:`strobes` (e.g. an end-of-update-cycle strobe between requests).

    Items queued with :meth:`send` are driven in order; :attr:`sent` lists a :class:`Transfer` for
    each accepted item, stamped with its transfer cycle.
    """

    def __init__(self, dut, prefix: str, clk, counter: CycleCounter, layout=None,
                 valid_gen: Iterator[bool] | None = None, strobe: tuple[Any, Any] | None = None):
        self.port = _Port(dut, prefix, layout)
        self.clk = clk
        self.counter = counter
        self.valid_gen = valid_gen if valid_gen is not None else always()
        self.strobe = strobe
        self.queue: deque = deque()
        self.sent: list[Transfer] = []
        self.strobes: list[int] = []
        self._current: Any = None
        self.port.valid.value = 0
        if strobe is not None:
            strobe[1].value = 0
        self._task = None

    def send(self, items: Iterable[Any]) -> None:
        """Queue items (ints, dicts or dataclasses matching the layout)."""
        self.queue.extend(items)

    def start(self) -> StreamSource:
        self._task = cocotb.start_soon(self._run())
        return self

    def stop(self) -> None:
        """Cancel the driver (call at a write-safe point); ``valid`` (and the strobe) are dropped."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.port.valid.value = 0
        if self.strobe is not None:
            self.strobe[1].value = 0

    @property
    def idle(self) -> bool:
        return not self.queue and self._current is None

    async def _run(self) -> None:
        edge, port = RisingEdge(self.clk), self.port
        marker, strobe = self.strobe if self.strobe is not None else (None, None)
        strobing = False
        while True:
            if strobing:
                strobe.value = 0
                strobing = False
            if self._current is None:
                if self.queue and next(self.valid_gen):
                    item = self.queue.popleft()
                    if strobe is not None and type(item) is type(marker) and item == marker:
                        strobe.value = 1
                        strobing = True
                        port.valid.value = 0
                    else:
                        self._current = item
                        port.payload.value = pack(port.layout, item)
                        port.valid.value = 1
                else:
                    port.valid.value = 0
            await ReadOnly()
            if strobing:
                self.strobes.append(self.counter.cycle)
            if self._current is not None and port.ready.value:
                self.sent.append(Transfer(self.counter.cycle, self._current))
                self._current = None
            await edge

    async def wait_idle(self) -> None:
        edge = RisingEdge(self.clk)
        while not self.idle:
            await edge


class StreamSink:
    """Accept transfers from an Amaranth stream output port and record them with their cycle.

    Parameters
    ----------
    dut, prefix, clk, counter, layout :
        As for :class:`StreamSource`.
    ready_gen : iterator of bool
        One draw per cycle drives ``ready`` (default :func:`always`).
    convert : callable, optional
        Applied to each unpacked payload dict (e.g. ``lambda d: PulseCount(**d)``).
    check_stable : bool
        Assert the stream rule that a payload offered with ``valid`` and not taken stays unchanged
        (and ``valid`` stays high) until it is taken.

    :attr:`received` lists a :class:`Transfer` per accepted payload.
    """

    def __init__(self, dut, prefix: str, clk, counter: CycleCounter, layout=None,
                 ready_gen: Iterator[bool] | None = None, convert: Callable[[Any], Any] | None = None,
                 check_stable: bool = True):
        self.port = _Port(dut, prefix, layout)
        self.clk = clk
        self.counter = counter
        self.ready_gen = ready_gen if ready_gen is not None else always()
        self.convert = convert
        self.check_stable = check_stable
        self.received: list[Transfer] = []
        self.port.ready.value = 0
        self._task = None

    def start(self) -> StreamSink:
        self._task = cocotb.start_soon(self._run())
        return self

    def stop(self) -> None:
        """Cancel the monitor (call at a write-safe point); ``ready`` is dropped."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.port.ready.value = 0

    async def _run(self) -> None:
        edge, port = RisingEdge(self.clk), self.port
        pending = None  # raw payload offered and not taken in the previous cycle
        while True:
            rdy = next(self.ready_gen)
            port.ready.value = int(rdy)
            await ReadOnly()
            if port.valid.value:
                raw = int(port.payload.value)
                if self.check_stable and pending is not None and raw != pending:
                    raise AssertionError(
                        f"stream {port.prefix}: payload changed from {pending:#x} to {raw:#x} while valid "
                        f"and not ready (cycle {self.counter.cycle})")
                if rdy:
                    v = unpack(port.layout, raw)
                    self.received.append(Transfer(self.counter.cycle, self.convert(v) if self.convert else v))
                    pending = None
                else:
                    pending = raw
            elif self.check_stable and pending is not None:
                raise AssertionError(f"stream {port.prefix}: valid dropped without a transfer "
                                     f"(cycle {self.counter.cycle})")
            await edge
