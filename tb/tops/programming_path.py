"""PulseScheduler behind CrossbarAddressing: the programming path as an analog macro sees it.

Used by the PulseScheduler's cocotb environment (the behavioural array sits on the line enables)
and by `make demo` for its example waveform.
"""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out, connect

from golden.spec.params import AccelParams
from hw.crossbar_addressing import CrossbarAddressing
from hw.pulse_scheduler import PulseScheduler


class SchedulerWithAddressing(wiring.Component):
    """Test top: PulseScheduler -> CrossbarAddressing; the array macro's ports are the top's ports."""

    def __init__(self, params: AccelParams, data_width: int = 8):
        self.params = params
        self.sched = PulseScheduler(params, data_width=data_width)
        self.addr = CrossbarAddressing(params)
        s = self.sched.signature.members
        a = self.addr.signature.members
        super().__init__({
            **{k: s[k] for k in ("i", "rd_cmd", "rd_resp", "adc", "verify_valid", "verify_data", "error",
                                 "error_code", "clear")},
            **{k: a[k] for k in ("wl", "bl_set", "sl_reset", "bl_read", "write", "read")},
            "addr_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.sched = s = self.sched
        m.submodules.addr = a = self.addr
        connect(m, s.cmd, a.cmd)
        connect(m, wiring.flipped(self.i), s.i)
        connect(m, wiring.flipped(self.rd_cmd), s.rd_cmd)
        connect(m, s.rd_resp, wiring.flipped(self.rd_resp))
        m.d.comb += [s.adc.eq(self.adc), s.clear.eq(self.clear), a.pair.eq(0),
                     self.verify_valid.eq(s.verify_valid), self.verify_data.eq(s.verify_data),
                     self.error.eq(s.error), self.error_code.eq(s.error_code), self.addr_error.eq(a.error)]
        for k in ("wl", "bl_set", "sl_reset", "bl_read", "write", "read"):
            m.d.comb += getattr(self, k).eq(getattr(a, k))
        return m
