"""StreamRegisterSlice: a two-entry register slice (skid buffer) that cuts every combinational path
through a valid/ready stream. Its golden twin is :mod:`golden.twins.stream_register_slice`."""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.params import ConfigError


class StreamRegisterSlice(wiring.Component):
    """Register slice between a stream source and its sink: ``valid`` and ``ready`` registered both ways.

    A main register drives ``o``; a skid register catches the item accepted in a cycle in which the
    main register could not move (``o.ready`` low), so ``i.ready`` can be a flip-flop and still give
    full throughput. No path runs from ``o.ready`` to ``i.ready`` or from ``i.valid`` to ``o.valid``.

    Parameters
    ----------
    payload : int or Layout
        Payload shape of both streams (an ``int`` width, 1..4096, or an Amaranth layout).

    Attributes
    ----------
    i : In(stream.Signature(payload))
        Input. ``i.ready`` is a register: high while the skid register is empty. ``i.valid`` may be
        withdrawn (the slice only looks at it in the cycle it is high with ``i.ready``).
    o : Out(stream.Signature(payload))
        Output. ``o.valid`` and ``o.payload`` are registers; once ``o.valid`` is high it stays high
        with the same payload until ``o.ready`` (never withdrawn).

    Latency and throughput: an item accepted on ``i`` in cycle ``c`` is offered on ``o`` from cycle
    ``c + 1``. One item per cycle sustained (with ``o.ready`` high); two items held at most.
    Order is preserved.
    """

    def __init__(self, payload):
        if isinstance(payload, int) and (isinstance(payload, bool) or not 1 <= payload <= 4096):
            self._MustUse__silence = True
            raise ConfigError(f"payload width must be 1..4096, got {payload!r}")
        self.payload_shape = payload
        super().__init__({"i": In(stream.Signature(payload)), "o": Out(stream.Signature(payload))})

    def elaborate(self, platform):
        m = Module()
        i, o = self.i, self.o
        skid = Signal.like(o.payload, name="skid")
        skid_full = Signal()
        m.d.comb += i.ready.eq(~skid_full)
        with m.If(~o.valid | o.ready):           # the main register is free in the next cycle
            with m.If(skid_full):
                m.d.sync += [o.payload.eq(skid), o.valid.eq(1), skid_full.eq(0)]
            with m.Else():
                m.d.sync += [o.payload.eq(i.payload), o.valid.eq(i.valid)]
        with m.Elif(i.valid & ~skid_full):      # main stays: the accepted item waits in the skid
            m.d.sync += [skid.eq(i.payload), skid_full.eq(1)]
        return m
