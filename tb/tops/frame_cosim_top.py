"""The co-simulation top of in-situ training through the update engine: one accelerator per MLP
layer, each fed one frame per training sample by its testbench-side frame loader."""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.spec.params import AccelParams, ConfigError
from golden.twins.outer_product_engine import frame_length
from hw.accelerator import Accelerator
from tb.tops.axil_sequencer import AxilSequencer
from tb.tops.cosim_top import ADC_WIDTH, LAYERS, SEQ_DEPTH, _share_bus
from tb.tops.frame_loader import FrameLoader
from tb.tops.frame_tally import FrameTally
from tb.tops.pulse_logger import PLOG_DEPTH, PLOG_ENTRY, PulseLogger


class FrameCosimTop(wiring.Component):
    """Two accelerator tops side by side, one per MLP layer (ports ``l1__*`` and ``l2__*``), each
    trained through its frame input.

    Each member is the :class:`hw.accelerator.Accelerator` port without ``s_axis`` (``s_axil``,
    array port, ``irq``), plus:

    * ``frame``: a :class:`~tb.tops.frame_loader.FrameLoader`'s inputs (``words``, ``n``, ``frame``)
      and ``done``; the loader drives the accelerator's ``s_axis``. Its depth is the layer's
      :func:`~golden.twins.outer_product_engine.frame_length`.
    * ``seq``, ``seq_en``: an :class:`~tb.tops.axil_sequencer.AxilSequencer` in front of ``s_axil``
      (while ``seq_en``), used to poll STATUS.BUSY after each frame (a batch of 0 words with ``poll``).
    * ``plog``: a :class:`~tb.tops.pulse_logger.PulseLogger` on the array port (``entries``, ``wp``)
      and ``half``, bit ``log2(depth) - 1`` of ``wp``: it toggles every ``depth / 2`` pulses, so the
      Python side can drain the ring on its edges and never wake per pulse.
    * ``tally`` (stand-in mode only): a :class:`~tb.tops.frame_tally.FrameTally` takes the loader's
      words instead of the accelerator (``words``, ``frames``, ``checksum``).

    The stand-in mode (``stand_in=True``, the default when the accelerator has no ``s_axis``)
    exercises the whole co-simulation plumbing -- loaders, polls, the C++ replay -- before the
    engine exists. The two layers share ``clk`` and ``rst`` only; the wrapping adds no latency.

    Parameters
    ----------
    params : list of AccelParams
        One per layer of :data:`~tb.tops.cosim_top.LAYERS`.
    plog_depth : int, a power of two >= 2
        Entries of each pulse-log ring.
    stand_in : bool or None
        Feed the frames to a FrameTally instead of the accelerator (None: iff it has no ``s_axis``).
    """

    def __init__(self, params: list[AccelParams], plog_depth: int = PLOG_DEPTH, stand_in: bool | None = None):
        if len(params) != len(LAYERS):
            raise ConfigError(f"FrameCosimTop needs {len(LAYERS)} layer parameter sets, got {len(params)}")
        if plog_depth < 2 or plog_depth & (plog_depth - 1):
            raise ConfigError(f"plog_depth = {plog_depth} is not allowed: a power of two >= 2")
        self.tops = [Accelerator(p, adc_width=ADC_WIDTH) for p in params]
        has_axis = ["s_axis" in t.signature.members for t in self.tops]
        self.stand_in = (not all(has_axis)) if stand_in is None else bool(stand_in)
        if not self.stand_in and not all(has_axis):
            raise ConfigError("FrameCosimTop: the accelerator has no s_axis frame input (stand_in=False "
                              "needs the update engine)")
        self.plog_depth = plog_depth
        self.depths = [frame_length(p) for p in params]
        self.seqs, self.loaders = [], []
        members = {}
        for name, t, depth in zip(LAYERS, self.tops, self.depths):
            seq = AxilSequencer(t.regmap.addr_width, SEQ_DEPTH, t.regmap["status"].field("busy").offset)
            loader = FrameLoader(depth)
            self.seqs.append(seq)
            self.loaders.append(loader)
            sub = {
                **{k: v for k, v in t.signature.members.items() if k != "s_axis"},
                "seq": Out(wiring.Signature({k: v for k, v in seq.signature.members.items() if k != "m_axil"})),
                "seq_en": In(1),
                "frame": Out(wiring.Signature({k: v for k, v in loader.signature.members.items()
                                               if k != "m_axis"})),
                "plog": Out(wiring.Signature({"entries": Out(plog_depth * PLOG_ENTRY), "wp": Out(32),
                                              "half": Out(1)})),
            }
            if self.stand_in:
                sub["tally"] = Out(wiring.Signature({"words": Out(32), "frames": Out(32), "checksum": Out(32)}))
            members[name] = Out(wiring.Signature(sub))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for name, top, seq, loader in zip(LAYERS, self.tops, self.seqs, self.loaders):
            m.submodules[name] = top
            m.submodules[f"{name}_seq"] = seq
            m.submodules[f"{name}_frame"] = loader
            port = getattr(self, name)
            log = m.submodules[f"{name}_plog"] = PulseLogger(top.params.array.rows, top.params.phys_cols,
                                                              self.plog_depth)
            m.d.comb += [getattr(log, x).eq(getattr(top, x)) for x in ("wl", "bl_set", "sl_reset", "bl_read",
                                                                       "write", "read")]
            half_bit = self.plog_depth.bit_length() - 2
            m.d.comb += [port.plog.entries.eq(log.entries), port.plog.wp.eq(log.wp),
                         port.plog.half.eq(log.wp[half_bit])]
            _pass_through(m, top, port, skip=("s_axil", "s_axis"))
            _pass_through(m, seq, port.seq, skip=("m_axil",))
            _pass_through(m, loader, port.frame, skip=("m_axis",))
            _share_bus(m, port.s_axil, seq.m_axil, top.s_axil, port.seq_en)
            if self.stand_in:
                tally = m.submodules[f"{name}_tally"] = FrameTally()
                wiring.connect(m, loader.m_axis, tally.s_axis)
                m.d.comb += [port.tally.words.eq(tally.words), port.tally.frames.eq(tally.frames),
                             port.tally.checksum.eq(tally.checksum)]
                if "s_axis" in top.signature.members:          # the engine sees no frame
                    m.d.comb += [top.s_axis.tvalid.eq(0), top.s_axis.tlast.eq(0), top.s_axis.tdata.eq(0)]
            else:
                wiring.connect(m, loader.m_axis, top.s_axis)
        return m


def _pass_through(m, inner, outer, skip: tuple[str, ...]) -> None:
    """Wire every member of ``inner`` except those in ``skip`` to the same-named member of ``outer``."""
    for mname, member in inner.signature.members.items():
        if mname in skip:
            continue
        if member.flow == wiring.In:
            m.d.comb += getattr(inner, mname).eq(getattr(outer, mname))
        else:
            m.d.comb += getattr(outer, mname).eq(getattr(inner, mname))
