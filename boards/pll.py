"""PLL settings for the board clocks, found by exhaustive search (the same rules as icepll/ecppll).

The harness runs its ``sync`` domain from a PLL so that the clock constraint nextpnr optimises for is
the clock the board really runs at (no "constraint at 48 MHz, oscillator at 12 MHz" builds).
Both functions are pure: they return the divider settings and the frequency actually achieved, and
raise :class:`golden.spec.params.ConfigError` naming the requested frequency when none is reachable.
"""
from __future__ import annotations

from dataclasses import dataclass

from golden.spec.params import ConfigError


@dataclass(frozen=True)
class Ice40Pll:
    """SB_PLL40 (SIMPLE feedback): ``fout = fin * (divf + 1) / ((divr + 1) * 2**divq)``."""
    divr: int
    divf: int
    divq: int
    filter_range: int
    f_out_hz: float
    f_vco_hz: float


@dataclass(frozen=True)
class Ecp5Pll:
    """EHXPLLL (CLKOP feedback): ``fout = fin * clkfb_div / clki_div``, ``fvco = fout * clkop_div``."""
    clki_div: int
    clkfb_div: int
    clkop_div: int
    clkop_cphase: int
    f_out_hz: float
    f_vco_hz: float


def ice40_pll(f_in_hz: float, f_out_hz: float) -> Ice40Pll:
    """Closest SB_PLL40 setting (iCE40 sysCLOCK limits: PFD 10..133 MHz, VCO 533..1066 MHz,
    output 16..275 MHz; ties go to the lower VCO, as icepll does)."""
    fin, want = f_in_hz / 1e6, f_out_hz / 1e6
    if not 16.0 <= want <= 275.0:
        raise ConfigError(f"board.target_mhz = {want:g} is out of range for the iCE40 PLL: allowed [16, 275]")
    best = None
    for divr in range(16):
        pfd = fin / (divr + 1)
        if not 10.0 <= pfd <= 133.0:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533.0 <= vco <= 1066.0:
                continue
            for divq in range(1, 7):
                out = vco / (1 << divq)
                key = (abs(out - want), vco)
                if best is None or key < best[0]:
                    best = (key, divr, divf, divq, out, vco, pfd)
    if best is None:
        raise ConfigError(f"board.target_mhz = {want:g}: no iCE40 PLL setting from a {fin:g} MHz clock")
    _, divr, divf, divq, out, vco, pfd = best
    filt = 1 if pfd < 17 else 2 if pfd < 26 else 3 if pfd < 44 else 4 if pfd < 66 else 5 if pfd < 101 else 6
    return Ice40Pll(divr, divf, divq, filt, out * 1e6, vco * 1e6)


def ecp5_pll(f_in_hz: float, f_out_hz: float) -> Ecp5Pll:
    """Closest EHXPLLL setting (ECP5 limits: PFD 3.125..400 MHz, VCO 400..800 MHz, output
    10..400 MHz; ties go to the VCO closest to 600 MHz)."""
    fin, want = f_in_hz / 1e6, f_out_hz / 1e6
    if not 10.0 <= want <= 400.0:
        raise ConfigError(f"board.target_mhz = {want:g} is out of range for the ECP5 PLL: allowed [10, 400]")
    best = None
    for clki in range(1, 129):
        pfd = fin / clki
        if not 3.125 <= pfd <= 400.0:
            continue
        for clkfb in range(1, 81):
            out = pfd * clkfb
            for clkop in range(1, 129):
                vco = out * clkop
                if not 400.0 <= vco <= 800.0:
                    continue
                key = (round(abs(out - want), 9), abs(vco - 600.0))
                if best is None or key < best[0]:
                    best = (key, clki, clkfb, clkop, out, vco)
    if best is None:
        raise ConfigError(f"board.target_mhz = {want:g}: no ECP5 PLL setting from a {fin:g} MHz clock")
    _, clki, clkfb, clkop, out, vco = best
    return Ecp5Pll(clki, clkfb, clkop, max(0, clkop // 2 - 1), out * 1e6, vco * 1e6)
