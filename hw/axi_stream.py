"""AXI4-Stream port signature of the accelerator's frame input (tdata, tlast, tvalid, tready)."""
from __future__ import annotations

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.spec.checks import ConfigError, check_int


class AxiStreamSignature(wiring.Signature):
    """AXI4-Stream from the manager's side (a subordinate port is ``In(AxiStreamSignature(..))``).

    Members ``tdata tlast tvalid tready``, and ``tuser`` with ``user_width`` > 0 (no ``tkeep``/``tstrb``/``tid``/``tdest``: every
    beat carries a whole word). A port ``s_axis`` of this signature appears in Verilog as
    ``s_axis__tdata`` ...; cocotbext-axi finds it with ``AxiStreamBus.from_prefix(dut, "s_axis_")``
    (its separator is ``_``, so the prefix carries the second underscore).

    Parameters
    ----------
    data_width : int, 8..1024, a multiple of 8
        Width of ``tdata``.
    user_width : int, 0..8
        Width of ``tuser`` (0: no ``tuser`` member).
    """

    def __init__(self, data_width: int = 32, user_width: int = 0):
        check_int("axis data_width", data_width, 8, 1024)
        if data_width % 8:
            raise ConfigError(f"axis data_width = {data_width} is not a multiple of 8: allowed 8, 16, .., 1024")
        check_int("axis user_width", user_width, 0, 8)
        self.data_width, self.user_width = data_width, user_width
        members = {"tdata": Out(data_width), "tlast": Out(1), "tvalid": Out(1), "tready": In(1)}
        if user_width:
            members["tuser"] = Out(user_width)
        super().__init__(members)

    def __eq__(self, other):
        return (isinstance(other, AxiStreamSignature) and other.data_width == self.data_width
                and other.user_width == self.user_width)

    def __hash__(self):
        return hash(("AxiStreamSignature", self.data_width, self.user_width))
