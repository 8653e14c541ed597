"""cocotb drivers and monitors for Amaranth ``stream.Signature`` ports, plus a shared cycle counter.

Amaranth flattens a stream port ``i`` into the Verilog ports ``i__valid``, ``i__ready`` and
``i__payload`` (one vector; struct fields are packed LSB-first in declaration order). The classes
here find those three by prefix and (un)pack payloads with the port's Amaranth layout, so a test
talks in dicts (or golden dataclasses) instead of bit vectors.

Cycle convention (shared with :mod:`tb.kit.amaranth_sim` and the golden cycle models)
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

Lazy mode (fewer Python wake-ups)
---------------------------------
A Python wake-up costs ~7 us, so waking every cycle caps a test at a few 10k cycles/s. With a
time-based counter (``CycleCounter(clk, period=...)``: the cycle is computed from the simulation
time, no coroutine) a source or sink built with ``lazy=True`` sleeps instead of polling, with the
same draw rules and stamps: a source skips a run of ``False`` draws with one timer, waits on
``RisingEdge(ready)`` while its item is not taken and on :meth:`StreamSource.send` when empty; a sink
sleeps on ``RisingEdge(valid)`` while nothing is offered and catches up the ``ready`` draws of the
cycles it slept through (``ready`` keeps its last value meanwhile, which a DUT must ignore while
``valid`` is low -- the stream rule). Lazy sources do not support ``strobe``.
"""
from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import cocotb
from amaranth.hdl import Shape
from amaranth.lib import data
from cocotb.triggers import Event, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

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


def make_gen(spec: Any, seed: int, stream: int) -> Iterator[bool]:
    """Idle/backpressure generator from a JSON-able spec: 1.0 (always), a float p (Bernoulli),
    ``["burst", p]`` or ``["pattern", [1, 0, ...]]``."""
    if spec is None or spec == 1 or spec == 1.0:
        return always()
    if isinstance(spec, (int, float)):
        return random_gen(seed, float(spec), stream)
    kind, arg = spec
    if kind == "burst":
        return burst_gen(seed, float(arg), 16, stream)
    if kind == "pattern":
        return pattern(arg)
    raise ValueError(f"unknown generator spec {spec!r}")


# ---------------------------------------------------------------------------------------------
# payload packing


def pack(layout, value: Any) -> int:
    """Pack ``value`` into the raw bits of a payload port.

    ``layout`` is an Amaranth ``data.Layout`` (``value``: dict or dataclass with its field names,
    extra keys ignored), a plain shape such as ``signed(5)`` (``value``: int, wrapped to the width),
    or ``None`` (``value`` is already the raw non-negative bits).
    """
    if layout is None:
        return int(value)
    if not isinstance(layout, data.Layout):
        return int(value) & ((1 << Shape.cast(layout).width) - 1)
    if is_dataclass(value):
        value = asdict(value)
    if isinstance(value, dict):
        names = {name for name, _ in layout}
        value = {k: v for k, v in value.items() if k in names}
    return layout.const(value).as_value().value


def unpack(layout, bits: int) -> dict | int:
    """Inverse of :func:`pack`: a dict of field values for a layout (signed fields sign-extended),
    an int for a plain shape (sign-extended if signed), the raw bits for ``None``."""
    if layout is None:
        return bits
    if not isinstance(layout, data.Layout):
        shape = Shape.cast(layout)
        if shape.signed and bits >> (shape.width - 1) & 1:
            return bits - (1 << shape.width)
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

    def __init__(self, clk, period: float | None = None, unit: str = "ns"):
        self.clk = clk
        self.period = period   # given: time-based (no coroutine; exact in any phase, see "Lazy mode")
        self.unit = unit
        self._cycle = 0
        self._t0 = 0.0
        self._task = None

    @property
    def cycle(self) -> int:
        if self.period is None:
            return self._cycle
        return int((get_sim_time(self.unit) - self._t0) / self.period + 1e-9)

    @cycle.setter
    def cycle(self, value: int) -> None:
        self._cycle = value

    def start(self) -> CycleCounter:
        self._cycle = 0
        if self.period is None:
            self._task = cocotb.start_soon(self._run())
        else:
            self._t0 = get_sim_time(self.unit)
        return self

    async def skip(self, n: int) -> None:
        """Time-based counter only: from right after the edge starting cycle ``c``, return right
        after the edge starting cycle ``c + n`` (two wake-ups whatever ``n``)."""
        if n > 0:
            await Timer(n * self.period - self.period / 2, self.unit)
            await RisingEdge(self.clk)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        edge = RisingEdge(self.clk)
        while True:
            await edge
            self._cycle += 1

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
    layout : amaranth.lib.data.Layout, shape or None
        Payload layout (see :func:`pack`; ``None``: raw integers).
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
                 valid_gen: Iterator[bool] | None = None, strobe: tuple[Any, Any] | None = None,
                 lazy: bool = False):
        if lazy and (counter.period is None or strobe is not None):
            raise ValueError("lazy=True needs a time-based CycleCounter(clk, period=...) and no strobe")
        self.lazy = lazy
        self._more = Event()
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
        self._more.set()

    def start(self) -> StreamSource:
        self._task = cocotb.start_soon(self._run_lazy() if self.lazy else self._run())
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

    async def _run_lazy(self) -> None:
        edge, port, counter = RisingEdge(self.clk), self.port, self.counter
        while True:   # at a write-safe point right after the edge that starts the current cycle
            if self._current is None:
                if not self.queue:
                    port.valid.value = 0
                    self._more.clear()
                    await self._more.wait()
                    await edge
                    continue
                skip = 0
                while not next(self.valid_gen):
                    skip += 1
                if skip:
                    port.valid.value = 0
                    await counter.skip(skip)
                self._current = self.queue.popleft()
                port.payload.value = pack(port.layout, self._current)
                port.valid.value = 1
            await ReadOnly()
            while not port.ready.value:
                await RisingEdge(port.ready)
                await ReadOnly()
            self.sent.append(Transfer(counter.cycle, self._current))
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
                 check_stable: bool = True, lazy: bool = False):
        if lazy and counter.period is None:
            raise ValueError("lazy=True needs a time-based CycleCounter(clk, period=...)")
        self.lazy = lazy
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
        self._task = cocotb.start_soon(self._run_lazy() if self.lazy else self._run())
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

    async def _run_lazy(self) -> None:
        edge, port, counter = RisingEdge(self.clk), self.port, self.counter
        pending = None
        due = counter.cycle          # the next cycle whose ready draw has not been made
        while True:                  # right after the edge that starts the current cycle
            c = counter.cycle
            for _ in range(c - due):  # cycles slept through: their draws are discarded
                next(self.ready_gen)
            rdy = next(self.ready_gen)
            due = c + 1
            port.ready.value = int(rdy)
            await ReadOnly()
            if port.valid.value:
                raw = int(port.payload.value)
                if self.check_stable and pending is not None and raw != pending:
                    raise AssertionError(
                        f"stream {port.prefix}: payload changed from {pending:#x} to {raw:#x} while valid "
                        f"and not ready (cycle {c})")
                if rdy:
                    v = unpack(port.layout, raw)
                    self.received.append(Transfer(c, self.convert(v) if self.convert else v))
                    pending = None
                else:
                    pending = raw
                await edge
            else:
                if self.check_stable and pending is not None:
                    raise AssertionError(f"stream {port.prefix}: valid dropped without a transfer (cycle {c})")
                await RisingEdge(port.valid)
