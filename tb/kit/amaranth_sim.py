"""Stream drivers for Amaranth's Python simulator, with the cycle convention and draw rules of
:mod:`golden.spec.handshake` (those of :mod:`tb.kit.stream` too).

The fast tests drive a component's ``stream.Signature`` ports from one ``add_testbench`` bench:
:func:`run_streams` calls, in every cycle, ``drive`` on each source, sink and hook (inputs for this
cycle), then ``sample`` (which transfers happened in this cycle), then ``await ctx.tick()``. Cycle 0 is
the first cycle of the bench (Amaranth's simulator starts out of reset). Sources and sinks apply the
idle and backpressure generators of :mod:`golden.spec.handshake` through its ``SourceSide`` and
``SinkSide``, like the golden cycle models and the cocotb drivers, so one golden cycle model predicts
both simulators.

Example::

    src = SimSource(dut.i, reqs, valid_gen=random_gen(seed, 0.7, 1))
    snk = SimSink(dut.o, ready_gen=random_gen(seed, 0.6, 2), convert=lambda d: PulseCount(**d))

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], until=lambda c: src.idle and c > last_cycle)

    seconds = simulate(dut, bench)
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, is_dataclass
from typing import Any

from amaranth.lib import data

from golden.spec.handshake import SinkSide, SourceSide
from tb.kit.stream import Transfer


def _as_payload(layout, value: Any) -> Any:
    if not isinstance(layout, data.Layout):
        return int(value)
    if is_dataclass(value):
        value = asdict(value)
    names = {name for name, _ in layout}
    return layout.const({k: v for k, v in value.items() if k in names})


def _from_payload(layout, value: Any) -> Any:
    if not isinstance(layout, data.Layout):
        return int(value)
    return {name: getattr(value, name) for name, _ in layout}


def _layout_of(port) -> Any:
    return port.signature.members["payload"].shape


class SimSource:
    """Drive a stream input ``port`` (e.g. ``dut.i``) with ``items`` (ints, dicts or dataclasses).

    ``valid_gen`` is drawn with the source rule of :mod:`golden.spec.handshake` (once per cycle while
    an item is waiting and none is presented; a presented item is held until taken). :attr:`sent` records a :class:`tb.kit.stream.Transfer` per accepted item.
    ``strobe = (marker, signal)``: a queued item equal to ``marker`` pulses ``signal`` for the cycle in
    which it is drawn instead of being sent (see :class:`tb.kit.stream.StreamSource`); :attr:`strobes`
    lists those cycles.
    """

    def __init__(self, port, items: Iterable[Any] = (), valid_gen: Iterator[bool] | None = None,
                 strobe: tuple[Any, Any] | None = None):
        self.port = port
        self.layout = _layout_of(port)
        self.side = SourceSide(items, valid_gen)
        self.strobe = strobe
        self.sent: list[Transfer] = []
        self.strobes: list[int] = []

    @property
    def idle(self) -> bool:
        return self.side.idle

    def drive(self, ctx, cycle: int) -> None:
        marker, strobe = self.strobe if self.strobe is not None else (None, None)
        if strobe is not None:
            ctx.set(strobe, 0)
        if self.side.current is None:
            item = self.side.present()
            if item is None:
                ctx.set(self.port.valid, 0)
            elif strobe is not None and type(item) is type(marker) and item == marker:
                self.side.taken()   # a marker is drawn like an item but strobed, not presented
                ctx.set(strobe, 1)
                ctx.set(self.port.valid, 0)
                self.strobes.append(cycle)
            else:
                ctx.set(self.port.payload, _as_payload(self.layout, item))
                ctx.set(self.port.valid, 1)

    def sample(self, ctx, cycle: int) -> None:
        if self.side.current is not None and ctx.get(self.port.ready):
            self.sent.append(Transfer(cycle, self.side.taken()))


class SimSink:
    """Accept from a stream output ``port`` with ``ready`` drawn from ``ready_gen`` every cycle (the
    sink rule of :mod:`golden.spec.handshake`).

    :attr:`received` records a :class:`tb.kit.stream.Transfer` per accepted payload (a dict of fields,
    passed through ``convert`` if given). ``check_stable`` asserts that an offered payload is held,
    unchanged and valid, until it is taken.
    """

    def __init__(self, port, ready_gen: Iterator[bool] | None = None,
                 convert: Callable[[Any], Any] | None = None, check_stable: bool = True):
        self.port = port
        self.layout = _layout_of(port)
        self.side = SinkSide(ready_gen)
        self.convert = convert
        self.check_stable = check_stable
        self.received: list[Transfer] = []
        self._pending: Any = None

    def drive(self, ctx, cycle: int) -> None:
        ctx.set(self.port.ready, int(self.side.draw()))

    def sample(self, ctx, cycle: int) -> None:
        if ctx.get(self.port.valid):
            v = _from_payload(self.layout, ctx.get(self.port.payload))
            if self.check_stable and self._pending is not None and v != self._pending:
                raise AssertionError(f"payload changed from {self._pending} to {v} while valid and not "
                                     f"ready (cycle {cycle})")
            if self.side.ready:
                self.received.append(Transfer(cycle, self.convert(v) if self.convert else v))
                self._pending = None
            else:
                self._pending = v
        elif self.check_stable and self._pending is not None:
            raise AssertionError(f"valid dropped without a transfer (cycle {cycle})")


async def run_streams(ctx, sources: Iterable[SimSource], sinks: Iterable[SimSink], *,
                      until: Callable[[int], bool], hooks: Iterable[Callable[[Any, int], Any]] = (),
                      max_cycles: int = 10_000_000) -> int:
    """Run the per-cycle drive/sample loop until ``until(cycle)`` is true; return the cycle count.

    ``hooks`` are extra ``hook(ctx, cycle)`` drivers (strobes, status sampling) called after the
    streams were driven and before they are sampled; a hook may be ``async`` (awaited).
    """
    sources, sinks, hooks = list(sources), list(sinks), list(hooks)
    cycle = 0
    while not until(cycle):
        if cycle >= max_cycles:
            raise TimeoutError(f"run_streams: no end after {max_cycles} cycles")
        for s in sources:
            s.drive(ctx, cycle)
        for k in sinks:
            k.drive(ctx, cycle)
        for h in hooks:
            r = h(ctx, cycle)
            if isinstance(r, Awaitable):
                await r
        for s in sources:
            s.sample(ctx, cycle)
        for k in sinks:
            k.sample(ctx, cycle)
        await ctx.tick()
        cycle += 1
    return cycle


def run_pipe(dut, items: list, valid_gen, ready_gen, *, max_cycles: int = 10_000) -> tuple[list, list]:
    """Simulate a component with one stream in (``dut.i``) and one out (``dut.o``): ``items`` offered
    under ``valid_gen``, taken under ``ready_gen``, until all came out (or ``max_cycles``); returns the
    ``[(cycle, value)]`` transfers on ``i`` and on ``o``."""
    src = SimSource(dut.i, items, valid_gen=valid_gen)
    snk = SimSink(dut.o, ready_gen=ready_gen)

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], until=lambda c: len(snk.received) == len(items) or c > max_cycles)

    simulate(dut, bench)
    return [(t.cycle, t.value) for t in src.sent], [(t.cycle, t.value) for t in snk.received]


def simulate(dut, bench: Callable[[Any], Awaitable[None]]) -> float:
    """Run ``bench`` as the one testbench of ``dut`` (sync clock of period 1 us); returns the wall
    seconds of the simulation."""
    import time

    from amaranth.sim import Simulator

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    t0 = time.perf_counter()
    sim.run()
    return time.perf_counter() - t0
