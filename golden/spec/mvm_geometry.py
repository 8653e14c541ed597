"""Shape and timing of the MvmReadEngine, shared by the RTL and its golden twin.

:mod:`hw.mvm_read_engine` sizes its registers and ports with :func:`engine_shape`, and
:mod:`golden.twins.mvm_read_engine` times its cycle model with the same functions, so both follow one
definition (the micro-architecture is described in the twin's module docstring).
"""
from __future__ import annotations

from dataclasses import dataclass

from golden.spec.mvm_params import MAX_FULL_SCALE, MvmParams
from golden.spec.params import AccelParams

WORD_BITS = 32


@dataclass(frozen=True)
class MvmEngineShape:
    """The sizes the engine is generated for (from ``array``, ``synapse`` and ``mvm``)."""

    rows: int
    cols: int
    devices: int
    differential: bool
    input_width: int
    adc_width: int
    cols_per_adc: int
    out_width: int
    g_bits: int

    @property
    def slots(self) -> int:
        """D: physical columns per synapse."""
        return self.devices * (2 if self.differential else 1)

    @property
    def phys_cols(self) -> int:
        return self.cols * self.slots

    @property
    def codes_per_word(self) -> int:
        """Input codes per 32-bit frame word (packed from bit 0)."""
        return WORD_BITS // self.input_width

    @property
    def fs_width(self) -> int:
        """Width of a full-scale setting: ``mvm.adc_full_scale`` and ``mvm.t_full_scale`` go up to 2**32."""
        return MAX_FULL_SCALE.bit_length()

    @property
    def acc_width(self) -> int:
        """Signed width of a line accumulator: ``|sum_k w_k * code| <= (2**A - 1) * (2**b - 1)``."""
        return self.adc_width + self.input_width + 2

    def n_in(self, transposed: bool) -> int:
        """Codes of an input frame: R forward, C transposed."""
        return self.cols if transposed else self.rows

    def n_out(self, transposed: bool) -> int:
        """Output codes of a frame: C forward, R transposed."""
        return self.rows if transposed else self.cols

    def frame_length(self, transposed: bool) -> int:
        """Words of an input frame: ``ceil(n_in / codes_per_word)``."""
        return -(-self.n_in(transposed) // self.codes_per_word)

    def lines(self, transposed: bool) -> int:
        """Sensed lines: physical columns forward, rows transposed."""
        return self.rows if transposed else self.phys_cols

    def n_adc(self, transposed: bool) -> int:
        """Converters of a pass: ``ceil(lines / cols_per_adc)``."""
        return -(-self.lines(transposed) // self.cols_per_adc)

    def passes(self, transposed: bool) -> int:
        """Array reads per frame: one per input bit, two (G+, G-) in a differential transposed read."""
        return self.input_width * (2 if transposed and self.differential else 1)


def mvm_params_of(params: AccelParams) -> MvmParams:
    """``params.mvm``, or the defaults of :class:`MvmParams` when the section is absent."""
    sub = getattr(params, "mvm", None)
    return sub if sub is not None else MvmParams()


def engine_shape(params: AccelParams) -> MvmEngineShape:
    """The engine's shape for ``params`` (``[mvm]`` absent: its defaults)."""
    mv = mvm_params_of(params)
    return MvmEngineShape(rows=params.array.rows, cols=params.array.cols, devices=params.synapse.devices,
                          differential=params.synapse.differential, input_width=mv.input_width,
                          adc_width=mv.adc_width, cols_per_adc=mv.cols_per_adc, out_width=mv.out_width,
                          g_bits=mv.g_bits)


def read_cycles(settle: int, conv: int, cols_per_adc: int) -> int:
    """Cycles of one array read, its ARM cycle included: ``1 + settle + cols_per_adc * conv``
    (``settle``, ``conv`` 0 act as 1)."""
    return 1 + max(settle, 1) + cols_per_adc * max(conv, 1)


def frame_cycles(shape: MvmEngineShape, transposed: bool, settle: int, conv: int) -> int:
    """Cycles from a frame's commit (last word accepted in cycle c) to its last ``y`` offered (cycle c +
    result) with ``o`` always ready and ``prog_active`` low: ``passes * read_cycles + n_out + 1``
    (the first ``y`` is offered ``n_out - 1`` cycles earlier)."""
    return shape.passes(transposed) * read_cycles(settle, conv, shape.cols_per_adc) + shape.n_out(transposed) + 1


def frame_period(shape: MvmEngineShape, transposed: bool, settle: int, conv: int) -> int:
    """Cycles per frame back to back (words offered without gaps, ``o`` always ready, ``prog_active``
    low): ``frame_length + passes * read_cycles + n_out`` (the next frame's first word is taken in
    the cycle its predecessor's last ``y`` is offered)."""
    return (shape.frame_length(transposed) + shape.passes(transposed) * read_cycles(settle, conv, shape.cols_per_adc)
            + shape.n_out(transposed))


def conversion_bound(shape: MvmEngineShape, transposed: bool, conv: int) -> int:
    """The ADC bound of one frame: ``passes * cols_per_adc * conv`` cycles of conversions."""
    return shape.passes(transposed) * shape.cols_per_adc * max(conv, 1)


@dataclass(frozen=True)
class ActivationShape:
    """The sizes and formats of the MvmActivationUnit (from ``array``, ``engine`` and ``mvm``).

    ``hidden = min(cols, rows - 1)``: the layer-1 forward read gives ``cols`` outputs, the layer-2
    read takes the hidden codes and the bias input on ``rows`` rows.
    """

    rows: int
    cols: int
    input_width: int
    x_width: int
    x_frac: int
    delta_width: int
    out_width: int

    @property
    def hidden(self) -> int:
        return min(self.cols, self.rows - 1)

    @property
    def x_max(self) -> int:
        """Largest hidden code, ``2**input_width - 1``."""
        return (1 << self.input_width) - 1

    @property
    def bias(self) -> int:
        """The bias input's code (the value 1.0), ``2**x_frac``."""
        return 1 << self.x_frac

    def per_word(self, fmt: int) -> int:
        """Codes per 32-bit word of a hidden frame: format 0 the read engine's, 1 the update engine's."""
        return WORD_BITS // (self.x_width if fmt else self.input_width)


def activation_shape(params: AccelParams) -> ActivationShape:
    """The unit's shape for ``params``, checked: a :class:`ConfigError` names the field and its range."""
    from golden.spec.checks import ConfigError

    mv = mvm_params_of(params)
    a, e = params.array, params.engine
    if a.rows < 2:
        raise ConfigError(f"array.rows = {a.rows} is out of range for the activation unit: allowed "
                          "[2, 4096] (layer 2 needs a row for the bias input)")
    if e.x_width < mv.input_width:
        raise ConfigError(f"engine.x_width = {e.x_width} is out of range for the activation unit: allowed "
                          f"[{mv.input_width}, 16] (a hidden code has mvm.input_width = {mv.input_width} bits "
                          "and is also the update engine's x code)")
    if e.x_frac > mv.input_width - 1:
        raise ConfigError(f"engine.x_frac = {e.x_frac} is out of range for the activation unit: allowed "
                          f"[0, {mv.input_width - 1}] (the bias code 2**x_frac must fit mvm.input_width = "
                          f"{mv.input_width} bits)")
    return ActivationShape(rows=a.rows, cols=a.cols, input_width=mv.input_width, x_width=e.x_width,
                           x_frac=e.x_frac, delta_width=e.delta_width, out_width=mv.out_width)
