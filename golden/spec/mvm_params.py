"""Hardware parameters of the MVM read path (forward and transposed array reads, issue 12).

One frozen dataclass, checked once in ``__post_init__``; an out-of-range value raises
:class:`golden.spec.checks.ConfigError` naming the field (``mvm.<name>``) and its allowed range. The
arithmetic these parameters configure is :mod:`golden.mvm.read_path` (the golden reference of the
RTL read engine).

``adc_full_scale``, ``t_full_scale`` and the two scaling pairs are runtime registers of the read
engine; the values here are their reset values. The hardware-exact training
(:mod:`golden.training.hw_exact`) sets them per layer and pass (one :class:`MvmParams` per pass).
"""
from __future__ import annotations

from dataclasses import dataclass

from golden.spec.checks import ConfigError, check_ints

MAX_FULL_SCALE = 1 << 32


@dataclass(frozen=True)
class MvmParams:
    """Input, ADC, conductance-code and output formats of the MVM read path.

    Attributes
    ----------
    input_width : int, 1..8
        b_in, bits of a forward input code (unsigned) and of a transposed-read input code (signed
        two's complement). Inputs are applied bit-serially, LSB first.
    adc_width : int, 2..12
        A, bits of an ADC code (0 .. 2**A - 1).
    adc_full_scale : int, 1..2**32
        FS, the line current (in conductance-code units, see ``g_bits``) that maps to code 2**A;
        forward reads (codes saturate at 2**A - 1).
    t_full_scale : int, 0..2**32
        FS of the transposed read; 0: the same as ``adc_full_scale``. (An addition to the shared
        specification, which has one FS for both directions: a transposed read sums over the
        ``D * cols`` devices of a word line, a forward read over up to ``rows`` devices of a bit
        line, so the two currents differ by orders of magnitude.)
    cols_per_adc : int, power of two 1..64
        Physical lines sharing one ADC (converted one after the other).
    g_bits : int, 8..16
        Conductance code width: ``g_lsb = device.g_max / 2**g_bits`` uS.
    out_width : int, 8..32
        Signed width of the scaled output code y.
    scale_mult : int, 1..2**16
        Forward scaling multiplier: ``y = round_half_up(S * scale_mult / 2**scale_shift)``.
    scale_shift : int, 0..48
        Forward scaling shift.
    t_scale_mult : int, 1..2**16
        Transposed-read scaling multiplier.
    t_scale_shift : int, 0..48
        Transposed-read scaling shift.
    """

    input_width: int = 8
    adc_width: int = 8
    adc_full_scale: int = 1 << 16
    t_full_scale: int = 0
    cols_per_adc: int = 8
    g_bits: int = 12
    out_width: int = 16
    scale_mult: int = 1
    scale_shift: int = 0
    t_scale_mult: int = 1
    t_scale_shift: int = 0

    def __post_init__(self):
        check_ints(self, "mvm", input_width=(1, 8), adc_width=(2, 12), adc_full_scale=(1, MAX_FULL_SCALE),
                   t_full_scale=(0, MAX_FULL_SCALE), cols_per_adc=(1, 64), g_bits=(8, 16),
                   out_width=(8, 32), scale_mult=(1, 1 << 16), scale_shift=(0, 48),
                   t_scale_mult=(1, 1 << 16), t_scale_shift=(0, 48))
        if self.cols_per_adc & (self.cols_per_adc - 1):
            raise ConfigError(f"mvm.cols_per_adc = {self.cols_per_adc} is not a power of two: "
                              "allowed 1, 2, 4, .., 64")

    # --- derived ---------------------------------------------------------------------------------
    @property
    def fs_t(self) -> int:
        """The transposed read's full scale (``t_full_scale``, or ``adc_full_scale`` when 0)."""
        return self.t_full_scale or self.adc_full_scale

    @property
    def code_max(self) -> int:
        """Largest ADC code, ``2**adc_width - 1``."""
        return (1 << self.adc_width) - 1

    @property
    def g_code_max(self) -> int:
        """Largest conductance code, ``2**g_bits - 1``."""
        return (1 << self.g_bits) - 1

    def g_lsb(self, g_max: float) -> float:
        """Conductance of one code LSB (uS) for a device window top ``g_max`` (exactly rounded)."""
        return float(g_max) / float(1 << self.g_bits)
