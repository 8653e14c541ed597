"""BnnNetworkEngine: a whole BNN on one 2T2R array, one image in, its class out."""
from __future__ import annotations

import operator
from functools import reduce

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.bnn_datapath_params import PHASES
from golden.spec.bnn_network_params import BnnNetHwParams, bnn_net_params_of
from golden.spec.checks import bits_for
from golden.spec.interfaces import STROBES
from golden.spec.params import ConfigError
from hw.argmax_unit import argmax_out_layout
from hw.bnn_layer_engine import BnnLayerEngine
from hw.lintsafe import add_const, eq_const, ge_const
from hw.sense_amp_sequencer import cfg_signature


def _or(values):
    """OR of the values (at the widest's width)."""
    return reduce(operator.or_, values)


def cal_layer_width(net: BnnNetHwParams) -> int:
    """Width of the ``x`` payload field ``layer`` (and BNN_CTRL.LAYER): hidden layers 0 .. H-1, >= 1."""
    return bits_for(net.hidden_layers)


def net_in_layout(net: BnnNetHwParams) -> data.StructLayout:
    """``x`` payload: the image's ``bits`` (bit i = input i; ``act_width`` bits, those past the image's
    length are ignored), its mode (``analog`` = 1) and the SA calibration fields: ``cal`` = 1 runs the
    bits through hidden layer ``layer`` only (a calibration pattern of ``sizes[layer]`` bits) with bias
    rows ``j < ramp`` of the layer driven (:class:`hw.bnn_layer_engine.BnnLayerEngine`'s ``cal``/``ramp``)."""
    return data.StructLayout({"bits": unsigned(net.act_width), "analog": unsigned(1), "cal": unsigned(1),
                              "ramp": unsigned(net.hidden_hw.ramp_width), "layer": unsigned(cal_layer_width(net))})


class BnnNetworkEngine(wiring.Component):
    """Run a whole BNN on one array: the hidden layers one after the other through one
    :class:`BnnLayerEngine` (time-multiplexed, activations kept in an on-chip register), then the output
    layer through a second, digital engine with :class:`hw.argmax_unit.ArgmaxUnit`.

    Cycle-exact twin: :class:`golden.twins.bnn_network_engine.BnnNetworkEngineModel`; the mapping on the
    array (word lines per layer, padding of the smaller hidden layers) is in
    :mod:`golden.spec.bnn_network_params`.

    Why time-multiplexed and not pipelined: the hidden layers of the paper network have the same
    geometry, the array port is one (word lines of every layer on it), and a layer pass is bounded by
    the array (SA conversions or bridge reads), not by the logic; one engine per layer would replicate
    the 1,127-bit popcount three times for at most a 3x overlap that the single array could not feed.

    Parameters
    ----------
    net : BnnNetHwParams

    Attributes
    ----------
    x : In(stream.Signature(StructLayout{bits: act_width, analog: 1, cal: 1, ramp: ramp_width, layer: ...}))
        One image per transfer. Ready while no image is in the engine. ``cal = 0``: an image
        (``sizes[0]`` bits) through the whole network, every bias row driven. ``cal = 1``: one step of
        the SA calibration ramp (:mod:`golden.bnn.sa_calibration`): the bits (``sizes[layer]`` of them;
        ``layer`` >= H acts as H - 1) go through hidden layer ``layer`` only, bias rows ``j < ramp``
        of the layer driven (the rows past the layer's own bias cells stay driven: the padding).
    cls : Out(stream.Signature(StructLayout{cls: bits(classes), count: bits(cells_out)}))
        The image's class (lowest index among the largest output popcounts) and its popcount.
    cal_y : Out(stream.Signature(hidden_width))
        A calibration image's result: the layer's output bits (neuron j in bit j, 0 past its width),
        valid from the cycle after the pass's last word; the engine takes the next image after the
        transfer.
    layer : Out(layer_width)
        The layer in progress (the output layer is ``hidden_layers``).
    busy : Out(1)
        An image is in the engine.
    cfg : In(cfg_signature())
        Phase-length writes of the hidden engine's sense-amplifier sequencer.
    wl : Out(rows), bl_read : Out(2 * cols), read : Out(1), addr_error : Out(1)
        Array lines: the engine of the layer in progress, its word lines moved to the layer's rows.
    rd_valid : In(1), rd_bits : In(max read lanes)
        Bridge reads, to the engine of the layer in progress.
    in_bits : Out(N_h), bias_in : Out(B_h) (if B_h > 0), eq .. sa_rst, phase, stages, firsts : Out
        The hidden engine's analog macro lines (the output layer is read digitally); ``bias_in``'s rows
        past the layer's own bias cells (the padding) are always driven.
    sa_out : In(bank)
        SA decisions of the hidden engine's bank.

    Latency: per image, the sum of the hidden passes (each from its ``x`` transfer to its last word,
    inclusive) and of the output pass to its class, + 1 cycle to load the image.
    """

    def __init__(self, net: BnnNetHwParams | None = None):
        net = net if net is not None else BnnNetHwParams()
        if not isinstance(net, BnnNetHwParams):
            raise ConfigError(f"bnn_network_engine needs BnnNetHwParams, got {type(net).__name__}")
        self.net = net
        self.hidden = BnnLayerEngine(net.hidden_hw)
        self.out = BnnLayerEngine(net.out_hw)
        hh, oh = net.hidden_hw, net.out_hw
        super().__init__({
            "x": In(stream.Signature(net_in_layout(net))),
            "cls": Out(stream.Signature(argmax_out_layout(oh.neurons, oh.count_width))),
            "cal_y": Out(stream.Signature(net.hidden_width)),
            "layer": Out(net.layer_width),
            "busy": Out(1),
            "cfg": In(cfg_signature()),
            "wl": Out(net.rows),
            "bl_read": Out(2 * net.cols),
            "read": Out(1),
            "addr_error": Out(1),
            "rd_valid": In(1),
            "rd_bits": In(max(hh.read_lanes, oh.read_lanes)),
            "in_bits": Out(hh.inputs),
            **({"bias_in": Out(hh.bias_cells)} if hh.bias_cells else {}),
            **{s: Out(1) for s in STROBES},
            "phase": Out(3),
            "stages": Out(len(PHASES)),
            "firsts": Out(len(PHASES)),
            "sa_out": In(hh.bank),
        })

    @classmethod
    def from_params(cls, params) -> BnnNetworkEngine:
        """From :class:`BnnNetHwParams` (or AccelParams: the small network of
        :func:`golden.spec.bnn_network_params.bnn_net_params_of` around its ``[bnn]`` layer)."""
        return cls(bnn_net_params_of(params))

    def elaborate(self, platform):
        m = Module()
        net = self.net
        hh, oh = net.hidden_hw, net.out_hw
        H = net.hidden_layers
        m.submodules.hidden = hid = self.hidden
        m.submodules.out = out = self.out

        act = Signal(net.act_width)              # the image, then each hidden layer's output bits
        nxt = Signal(hh.banks * hh.bank)         # the words of the layer in progress, shifted in
        layer = Signal(net.layer_width)
        busy = Signal()
        feed = Signal()                          # the engine of `layer` is offered `act`
        mode = Signal()
        cal = Signal()                           # a calibration image: one hidden pass, then `cal_y`
        ramp = Signal(hh.ramp_width)
        cal_done = Signal()
        is_out = Signal()
        m.d.comb += [is_out.eq(eq_const(layer, H)), self.layer.eq(layer), self.busy.eq(busy),
                     self.x.ready.eq(~busy)]

        # --- image in ---------------------------------------------------------------------------
        # the first layer: 0, or a calibration image's layer (clamped to H - 1); the image keeps that
        # layer's fan-in bits (an AND-OR over the layers)
        xp = self.x.payload
        first = Signal(net.layer_width)
        if H > 1:
            lsel = Signal(range(H))
            m.d.comb += lsel.eq(Mux(ge_const(xp.layer, H - 1), H - 1, xp.layer))
            m.d.comb += first.eq(Mux(xp.cal, lsel, 0))
        in_mask = Signal(net.act_width)
        m.d.comb += in_mask.eq(_or(eq_const(first, i).replicate(net.act_width) & ((1 << net.sizes[i]) - 1)
                                   for i in range(H)))
        with m.If(self.x.valid & self.x.ready):
            m.d.sync += [act.eq(xp.bits & in_mask), mode.eq(xp.analog), layer.eq(first), cal.eq(xp.cal),
                         ramp.eq(xp.ramp), busy.eq(1), feed.eq(1)]

        # --- hidden passes ----------------------------------------------------------------------
        m.d.comb += [
            hid.x.valid.eq(feed & ~is_out),
            hid.x.payload.bits.eq(act[:hh.inputs]),
            hid.x.payload.analog.eq(mode),
            hid.x.payload.cal.eq(cal),
            hid.x.payload.ramp.eq(ramp),
            hid.y.ready.eq(1),
            out.x.valid.eq(feed & is_out),
            out.x.payload.bits.eq(act[:oh.inputs]),
            out.x.payload.analog.eq(0),
            out.y.ready.eq(1),                   # the output layer's threshold bits are not used
        ]
        with m.If((hid.x.valid & hid.x.ready) | (out.x.valid & out.x.ready)):
            m.d.sync += feed.eq(0)
        K = hh.bank
        shifted = Signal.like(nxt)
        m.d.comb += shifted.eq(Cat(nxt[K:], hid.y.payload.bits) if len(nxt) > K else hid.y.payload.bits)
        mask = Signal.like(nxt)
        m.d.comb += mask.eq(_or(eq_const(layer, i).replicate(len(nxt)) & ((1 << net.sizes[i + 1]) - 1)
                                for i in range(H)))
        with m.If(hid.y.valid):
            m.d.sync += nxt.eq(shifted)
            with m.If(hid.y.payload.last):
                # the layer's width is a constant per layer: bits past it are 0 in the activations
                # (an AND-OR over the layers, not a case statement: every layer value is covered)
                m.d.sync += act.eq(shifted & mask)
                with m.If(cal):
                    m.d.sync += cal_done.eq(1)
                with m.Else():
                    m.d.sync += [layer.eq(add_const(layer, 1)), feed.eq(1)]

        # --- calibration image: the layer's bits ------------------------------------------------
        m.d.comb += [self.cal_y.valid.eq(cal_done), self.cal_y.payload.eq(act[:net.hidden_width])]
        with m.If(self.cal_y.valid & self.cal_y.ready):
            m.d.sync += [cal_done.eq(0), busy.eq(0)]

        # --- output layer: the class ------------------------------------------------------------
        wiring.connect(m, out.cls, wiring.flipped(self.cls))
        with m.If(self.cls.valid & self.cls.ready):
            m.d.sync += busy.eq(0)

        # --- array port: the engine of the layer in progress -------------------------------------
        # bias rows past the layer's own bias cells are padding: driven 1 in the calibration ramp too
        pad_rows = Signal(max(1, hh.bias_cells))
        pads = [((1 << hh.bias_cells) - 1) & ~((1 << net.bias_cells[i]) - 1) for i in range(H)]
        if any(pads):
            m.d.comb += pad_rows.eq(_or(eq_const(layer, i).replicate(len(pad_rows)) & pads[i]
                                        for i in range(H) if pads[i]))
        wl_h = Signal(self.wl.shape())
        m.d.comb += wl_h.eq(_or((hid.wl & eq_const(layer, i).replicate(len(hid.wl))) << net.row_offset(i)
                                for i in range(H)))
        m.d.comb += [
            self.wl.eq(wl_h | (out.wl << net.row_offset(H))),
            self.bl_read.eq(hid.bl_read | out.bl_read),
            self.read.eq(hid.read | out.read),
            self.addr_error.eq(hid.addr_error | out.addr_error),
            hid.rd_valid.eq(self.rd_valid & ~is_out),
            hid.rd_bits.eq(self.rd_bits[:hh.read_lanes]),
            out.rd_valid.eq(self.rd_valid & is_out),
            out.rd_bits.eq(self.rd_bits[:oh.read_lanes]),
            self.in_bits.eq(hid.in_bits),
            *([self.bias_in.eq(hid.bias_in | pad_rows)] if hh.bias_cells else []),
            self.phase.eq(hid.phase), self.stages.eq(hid.stages), self.firsts.eq(hid.firsts),
            hid.sa_out.eq(self.sa_out),
            out.sa_out.eq(0),
            *[getattr(self, s).eq(getattr(hid, s)) for s in STROBES],
        ]
        wiring.connect(m, wiring.flipped(self.cfg), hid.cfg)
        m.d.comb += [out.cfg.we.eq(0)]
        return m
