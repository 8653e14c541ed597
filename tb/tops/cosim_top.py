"""The co-simulation top of in-situ training: one accelerator per MLP layer, each with its
testbench-side AXI4-Lite sequencer and pulse logger."""
from __future__ import annotations

from amaranth import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.spec.params import AccelParams, ConfigError
from hw.accelerator import Accelerator
from tb.tops.axil_sequencer import AxilSequencer
from tb.tops.pulse_logger import PLOG_DEPTH, PLOG_ENTRY, PulseLogger

#: the MLP layers, in order (port name prefixes of the top)
LAYERS = ("l1", "l2")
ADC_WIDTH = 8
#: words per AxilSequencer batch
SEQ_DEPTH = 64
#: AXI4-Lite members driven by the manager (the others are driven by the subordinate)
_AXIL_FROM_MANAGER = ("awaddr", "awvalid", "wdata", "wstrb", "wvalid", "bready", "araddr", "arvalid", "rready")
_AXIL_FROM_SUBORDINATE = ("awready", "wready", "bresp", "bvalid", "arready", "rdata", "rresp", "rvalid")


class CosimTop(wiring.Component):
    """Two accelerator tops side by side, one per MLP layer (ports ``l1__*`` and ``l2__*``).

    Each member is the full :class:`hw.accelerator.Accelerator` port (``s_axil``, array port, ``irq``)
    plus ``seq`` (an :class:`~tb.tops.axil_sequencer.AxilSequencer`'s batch inputs) and ``seq_en``:
    while ``seq_en`` is high the sequencer, not ``s_axil``, drives the accelerator's bus (``s_axil``
    then sees no responses); and ``plog`` (a :class:`~tb.tops.pulse_logger.PulseLogger` on the array
    port: ``entries``, ``wp``). The two layers share ``clk`` and ``rst`` only; the wrapping adds no
    latency (combinational muxes and taps).

    Parameters
    ----------
    params : list of AccelParams
        One per layer of :data:`LAYERS`.
    seq_depth : int
        Words per sequencer batch.
    """

    def __init__(self, params: list[AccelParams], seq_depth: int = SEQ_DEPTH):
        if len(params) != len(LAYERS):
            raise ConfigError(f"CosimTop needs {len(LAYERS)} layer parameter sets, got {len(params)}")
        self.tops = [Accelerator(p, adc_width=ADC_WIDTH) for p in params]
        self.seqs = []
        members = {}
        for name, t in zip(LAYERS, self.tops):
            busy = t.regmap["status"].field("busy").offset
            seq = AxilSequencer(t.regmap.addr_width, seq_depth, busy)
            self.seqs.append(seq)
            seq_in = {k: v for k, v in seq.signature.members.items() if k not in ("m_axil",)}
            members[name] = Out(wiring.Signature({
                **dict(t.signature.members.items()), "seq": Out(wiring.Signature(seq_in)), "seq_en": In(1),
                "plog": Out(wiring.Signature({"entries": Out(PLOG_DEPTH * PLOG_ENTRY), "wp": Out(32)}))}))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for name, top, seq in zip(LAYERS, self.tops, self.seqs):
            m.submodules[name] = top
            m.submodules[f"{name}_seq"] = seq
            port = getattr(self, name)
            log = m.submodules[f"{name}_plog"] = PulseLogger(top.params.array.rows, top.params.phys_cols)
            m.d.comb += [getattr(log, x).eq(getattr(top, x)) for x in ("wl", "bl_set", "sl_reset", "bl_read",
                                                                       "write", "read")]
            m.d.comb += [port.plog.entries.eq(log.entries), port.plog.wp.eq(log.wp)]
            _pass_through(m, top, port, skip="s_axil")
            _pass_through(m, seq, port.seq, skip="m_axil")
            _share_bus(m, port.s_axil, seq.m_axil, top.s_axil, port.seq_en)
        return m


def _pass_through(m, inner, outer, skip: str) -> None:
    """Wire every port of ``inner`` (interfaces port by port) except member ``skip`` to the same path
    in ``outer``."""
    for path, member, value in inner.signature.flatten(inner):
        if path[0] == skip:
            continue
        other = outer
        for name in path:
            other = getattr(other, name) if isinstance(name, str) else other[name]
        if member.flow == wiring.In:
            m.d.comb += value.eq(other)
        else:
            m.d.comb += other.eq(value)


def _share_bus(m, ext, seq, sub, seq_en) -> None:
    """Subordinate ``sub`` driven by manager ``seq`` while ``seq_en``, by ``ext`` otherwise; the
    manager not in charge sees no responses."""
    for sig in _AXIL_FROM_MANAGER:
        m.d.comb += getattr(sub, sig).eq(Mux(seq_en, getattr(seq, sig), getattr(ext, sig)))
    for sig in _AXIL_FROM_SUBORDINATE:
        v = getattr(sub, sig)
        m.d.comb += [getattr(seq, sig).eq(Mux(seq_en, v, 0)), getattr(ext, sig).eq(Mux(seq_en, 0, v))]
