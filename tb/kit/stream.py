"""cocotb drivers and monitors for Amaranth ``stream.Signature`` ports, plus a shared cycle counter.

Amaranth flattens a stream port ``i`` into the Verilog ports ``i__valid``, ``i__ready`` and
``i__payload`` (one vector; struct fields are packed LSB-first in declaration order). The classes
here find those three by prefix and (un)pack payloads with the port's Amaranth layout, so a test
talks in dicts (or golden dataclasses) instead of bit vectors.

Cycles and backpressure
-----------------------
The cycle convention and the draw rules of sources and sinks are those of
:mod:`golden.spec.handshake`, applied through its :class:`~golden.spec.handshake.SourceSide` and
:class:`~golden.spec.handshake.SinkSide`; the golden cycle models use the same two classes, so the
same seeded generators given to the testbench and to the model give identical timing. Here a
:class:`CycleCounter` started right after the reset was released numbers the clock periods (cycle 0
is the period that starts at that edge); every driver writes its inputs right after the rising edge
that starts cycle ``c`` and samples the handshake in ``ReadOnly`` of the same cycle.

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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import cocotb
from amaranth.hdl import Shape
from amaranth.lib import data
from cocotb.triggers import Event, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from golden.spec.handshake import SinkSide, SourceSide

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


class _StreamEnd:
    """What a stream driver and a stream monitor share: the port, the cycle counter and one coroutine
    (polling, or lazy with a time-based counter), started and stopped here."""

    def __init__(self, dut, prefix: str, clk, counter: CycleCounter, layout, lazy: bool):
        if lazy and counter.period is None:
            raise ValueError("lazy=True needs a time-based CycleCounter(clk, period=...)")
        self.lazy = lazy
        self.port = _Port(dut, prefix, layout)
        self.clk = clk
        self.counter = counter
        self._task = None

    def start(self):
        self._task = cocotb.start_soon(self._run_lazy() if self.lazy else self._run())
        return self

    def stop(self) -> None:
        """Cancel the coroutine (call at a write-safe point) and drop this end's handshake output."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._release()


class StreamSource(_StreamEnd):
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
        Idle generator (:mod:`golden.spec.handshake`); default always valid.

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
        if lazy and strobe is not None:
            raise ValueError("lazy=True needs a time-based CycleCounter(clk, period=...) and no strobe")
        super().__init__(dut, prefix, clk, counter, layout, lazy)
        self._more = Event()
        self.side = SourceSide((), valid_gen)
        self.strobe = strobe
        self.sent: list[Transfer] = []
        self.strobes: list[int] = []
        self.port.valid.value = 0
        self.port.payload.value = 0   # a 4-state simulator would show Z until the first item
        if strobe is not None:
            strobe[1].value = 0

    def send(self, items: Iterable[Any]) -> None:
        """Queue items (ints, dicts or dataclasses matching the layout)."""
        self.side.extend(items)
        self._more.set()

    def _release(self) -> None:
        """``valid`` (and the strobe) are dropped."""
        self.port.valid.value = 0
        if self.strobe is not None:
            self.strobe[1].value = 0

    @property
    def idle(self) -> bool:
        return self.side.idle

    async def _run(self) -> None:
        edge, port, side = RisingEdge(self.clk), self.port, self.side
        marker, strobe = self.strobe if self.strobe is not None else (None, None)
        strobing = False
        while True:
            if strobing:
                strobe.value = 0
                strobing = False
            if side.current is None:
                item = side.present()
                if item is None:
                    port.valid.value = 0
                elif strobe is not None and type(item) is type(marker) and item == marker:
                    side.taken()   # a marker is drawn like an item but strobed, not presented
                    strobe.value = 1
                    strobing = True
                    port.valid.value = 0
                else:
                    port.payload.value = pack(port.layout, item)
                    port.valid.value = 1
            await ReadOnly()
            if strobing:
                self.strobes.append(self.counter.cycle)
            if side.current is not None and port.ready.value:
                self.sent.append(Transfer(self.counter.cycle, side.taken()))
            await edge

    async def _run_lazy(self) -> None:
        edge, port, counter, side = RisingEdge(self.clk), self.port, self.counter, self.side
        while True:   # at a write-safe point right after the edge that starts the current cycle
            if side.current is None:
                if side.idle:
                    port.valid.value = 0
                    self._more.clear()
                    await self._more.wait()
                    await edge
                    continue
                skip = side.draws_to_present()
                if skip:
                    port.valid.value = 0
                    await counter.skip(skip)
                port.payload.value = pack(port.layout, side.current)
                port.valid.value = 1
            await ReadOnly()
            while not port.ready.value:
                await RisingEdge(port.ready)
                await ReadOnly()
            self.sent.append(Transfer(counter.cycle, side.taken()))
            await edge

    async def wait_idle(self) -> None:
        edge = RisingEdge(self.clk)
        while not self.idle:
            await edge


class StreamSink(_StreamEnd):
    """Accept transfers from an Amaranth stream output port and record them with their cycle.

    Parameters
    ----------
    dut, prefix, clk, counter, layout :
        As for :class:`StreamSource`.
    ready_gen : iterator of bool
        One draw per cycle drives ``ready`` (:mod:`golden.spec.handshake`; default always ready).
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
        super().__init__(dut, prefix, clk, counter, layout, lazy)
        self.side = SinkSide(ready_gen)
        self.convert = convert
        self.check_stable = check_stable
        self.received: list[Transfer] = []
        self.port.ready.value = 0

    def _release(self) -> None:
        """``ready`` is dropped."""
        self.port.ready.value = 0

    async def _run(self) -> None:
        edge, port = RisingEdge(self.clk), self.port
        pending = None  # raw payload offered and not taken in the previous cycle
        while True:
            rdy = self.side.draw()
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
        while True:                  # right after the edge that starts the current cycle
            c = counter.cycle
            rdy = self.side.draw_at(c)   # also makes the draws of the cycles slept through
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
