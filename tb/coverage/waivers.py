"""The one waiver table of functional coverage: bins that cannot be reached in a configuration.

Each waiver names the items it covers with a glob over ``<block>.<label>.<group>.<point>`` (the
label is the configuration, ``any`` for configuration-independent groups) and a glob over the
bin's name, and says why the bin is unreachable. :mod:`tb.coverage.report` lists every waiver with
the number of bins it waived; a waiver that matches no unhit bin is reported as stale.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Waiver:
    """Unhit bins matching ``item`` and ``bin`` (fnmatch globs) are waived for ``reason``."""

    item: str
    bin: str
    reason: str


WAIVERS: tuple[Waiver, ...] = (
    Waiver("axil_csr.*.access.strobe", "none",
           "cocotbext-axi's AxiLiteMaster issues no beat for a zero-length write, so wstrb = 0 never reaches "
           "the bus from it; the rule (nothing written, OKAY) is checked on the golden register file in "
           "tests/blocks/test_axil_csr.py"),
    Waiver("axil_csr.any.wait.channel_x_pause_x_cycles", "('*', 'random', '>=16')",
           "the random pause class stalls each cycle with p = 0.4: a 16-cycle stall has probability "
           "0.4^16 < 1e-6 per transfer (reachable in principle, not in a run's length); the burst class "
           "covers the long stalls"),
    Waiver("axil_csr.any.wait.channel_x_pause_x_cycles", "('ar', 'none', '*')",
           "without pauses the master takes R in the cycle it is offered, so the slave's one outstanding "
           "read is gone before the next AR: AR never waits (every run shows it accepted when offered)"),
    Waiver("axil_csr.any.wait.channel_x_pause_x_cycles", "('[aw]*', 'none', '>=16')",
           "without pauses B is taken in the cycle it is offered, so AW and W wait only for a held write's "
           "commit, which is shorter than 16 cycles in this register map"),
    Waiver("crossbar_addressing.*.lines.op_x_col", "('read_multi', 'last')",
           "a pair or word read starts at an even physical column, and the last column is odd (2T2R): it is "
           "never the lowest line a multi-cell read drives"),
    Waiver("xnor_popcount.3-tree-k1.result.*", "*mid*",
           "width 3: every popcount (0, 1, 2 = width-1, 3 = width) falls in an edge bin"),
    Waiver("update_unit.1x1-narrow.request.*", "inside",
           "a 1 x 1 array: address 0 is the first and the last line (counted as first)"),
    Waiver("update_unit.1x1-narrow.request.*", "last",
           "a 1 x 1 array: address 0 is the first and the last line (counted as first)"),
    Waiver("outer_product_engine.50x30-P8-eps256.codes.dw", "sat_*",
           "default formats (x 10 b with 7 fraction bits, delta 16 b with 8, dW 12 b): |x_q * d_q| / 2**15 <= "
           "1023 * 32768 / 32768 = 1023 < 2047, so a product never saturates; the 13x10 configuration (dW 10 b) "
           "covers both saturations"),
    Waiver("outer_product_engine.any.stream_req.*", "*'0'*",
           "req.ready is low in the cycle after every accept (the request is checked or starts forming row * G "
           "then), so two requests are never taken back to back"),
    Waiver("outer_product_engine.any.stream_req.gap", "0",
           "req.ready is low in the cycle after every accept, so two requests are never taken back to back"),
    Waiver("mvm_read_engine.7x5-N2*-b[13]-*.frame.*", "*short*",
           "input_width 1 or 3: 32 or 10 codes per word, so a forward frame (7 codes) and a transposed one (5) "
           "are one word each, and a frame one word short would have no word (a frame of the wrong length is "
           "one word too long: covered as long)"),
    Waiver("mvm_read_engine.7x5-N2-b8-A3-K4-o32.y.*", "*sat_*",
           "out_width 32: |S| <= 2 * 2 * (2**3 - 1) * (2**8 - 1) < 2**13 and mult < 2**17, so |S * mult| < 2**30 "
           "and y never reaches the 32-bit limits (any shift only makes it smaller)"),
    Waiver("argmax_unit.any.stream_o.gap", "0",
           "one result per image, and an image is classes >= 2 popcounts taken one per cycle: two results "
           "are never offered in consecutive cycles"),
    Waiver("argmax_unit.any.stream_o.gen_x_gap", "*'0')",
           "one result per image, and an image is classes >= 2 popcounts taken one per cycle: two results "
           "are never offered in consecutive cycles"),
    Waiver("*.any.stream_*.gen_x_gap", "('random', '>=16')",
           "the random class draws each cycle (valid or ready with p >= 0.5 in these runs): 16 idle cycles "
           "in a row have probability < 1e-6; the burst and pattern classes cover the long gaps"),
)
