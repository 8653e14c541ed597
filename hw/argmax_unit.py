"""ArgmaxUnit: the class index of a BNN output layer from its popcounts, on chip."""
from __future__ import annotations

from amaranth import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.bnn_datapath_params import MAX_NEURONS
from golden.spec.bnn_network_params import bnn_net_params_of
from golden.spec.checks import bits_for
from golden.spec.params import check_int
from hw.lintsafe import add_const, eq_const


def argmax_in_layout(count_width: int) -> data.StructLayout:
    """``i`` payload: one output neuron's ``count`` and ``last`` (the layer's last neuron)."""
    return data.StructLayout({"count": unsigned(count_width), "last": unsigned(1)})


def argmax_out_layout(classes: int, count_width: int) -> data.StructLayout:
    """``o`` payload: the image's class ``cls`` and its popcount ``count``."""
    return data.StructLayout({"cls": unsigned(bits_for(classes)), "count": unsigned(count_width)})


class ArgmaxUnit(wiring.Component):
    """Running maximum over the popcounts of an output layer's neurons, in neuron order; the class
    is the lowest index among the largest counts (as ``numpy.argmax``).

    Cycle-exact twin: :func:`golden.twins.argmax_unit.argmax_run`.

    Parameters
    ----------
    classes : int, 2..4096
        Output neurons (classes) per image.
    count_width : int, 1..16
        Width of a popcount.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout{count: count_width, last: 1}))
        One popcount per cycle, neurons 0..classes-1 in order, ``last`` on the last. Ready when the
        result register is empty or taken in this cycle (``~o.valid | o.ready``).
    o : Out(stream.Signature(StructLayout{cls: bits(classes), count: count_width}))
        The image's class and popcount, registered: offered from the cycle after the ``last`` transfer.

    Latency 1 cycle from the last popcount; throughput one popcount per cycle.
    """

    def __init__(self, classes: int = 10, count_width: int = 11):
        check_int("argmax.classes", classes, 2, MAX_NEURONS)
        check_int("argmax.count_width", count_width, 1, 16)
        self.classes, self.count_width = classes, count_width
        super().__init__({
            "i": In(stream.Signature(argmax_in_layout(count_width))),
            "o": Out(stream.Signature(argmax_out_layout(classes, count_width))),
        })

    @classmethod
    def from_params(cls, params) -> ArgmaxUnit:
        """The output layer of :func:`golden.spec.bnn_network_params.bnn_net_params_of` (``params``: a
        BnnNetHwParams, or AccelParams: the small network around its ``[bnn]`` layer)."""
        out = bnn_net_params_of(params).out_hw
        return cls(out.neurons, out.count_width)

    def elaborate(self, platform):
        m = Module()
        best = Signal(self.count_width)
        best_idx = Signal(bits_for(self.classes))
        idx = Signal(bits_for(self.classes))
        take = Signal()
        m.d.comb += [self.i.ready.eq(~self.o.valid | self.o.ready), take.eq(self.i.valid & self.i.ready)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        # the maximum including this transfer: strictly greater replaces (ties keep the lower index)
        new = Signal()
        m.d.comb += new.eq(eq_const(idx, 0) | (self.i.payload.count > best))
        n_best, n_idx = Signal.like(best), Signal.like(best_idx)
        m.d.comb += [n_best.eq(best), n_idx.eq(best_idx)]
        with m.If(new):
            m.d.comb += [n_best.eq(self.i.payload.count), n_idx.eq(idx)]
        with m.If(take):
            m.d.sync += [best.eq(n_best), best_idx.eq(n_idx)]
            with m.If(self.i.payload.last):
                m.d.sync += [idx.eq(0), self.o.valid.eq(1), self.o.payload.cls.eq(n_idx),
                             self.o.payload.count.eq(n_best)]
            with m.Else():
                m.d.sync += idx.eq(add_const(idx, 1))
        return m
