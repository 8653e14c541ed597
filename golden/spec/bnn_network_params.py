"""Hardware parameters of a whole BNN on one 2T2R array (:class:`hw.bnn_network_engine.BnnNetworkEngine`).

One frozen dataclass, checked once in ``__post_init__``; an out-of-range value raises
:class:`golden.spec.params.ConfigError` naming the field (``bnn_net.<name>``) and its range.

Mapping of the network on the array (shared by golden and RTL)
-------------------------------------------------------------
The network ``sizes = (n_in, h_1, ..., h_{L-1}, classes)`` has ``L - 1`` hidden layers (hidden layer
``l`` has ``fan_in_l = sizes[l]`` inputs, ``bias_cells[l]`` bias cells and ``sizes[l+1]`` neurons)
and one output layer (``sizes[-2]`` inputs, no bias cells, ``classes`` neurons, argmax).

* **Hidden layers share one layer engine**, time-multiplexed: its geometry (:attr:`hidden_hw`) is
  the largest of the hidden layers': ``N_h = max fan_in``, ``B_h = max bias_cells``, ``M_h = max width``,
  ``cells_h = N_h + B_h``. Hidden layer ``l`` occupies word lines ``l*banks_h .. (l+1)*banks_h - 1``
  (``banks_h = ceil(M_h / bank)``), each row laid out as in :mod:`golden.spec.bnn_datapath_params`.
  A layer smaller than the engine is **padded**: its inputs sit at bridges ``0 .. fan_in_l - 1`` and
  its bias cells at ``N_h .. N_h + bias_cells[l] - 1``; the ``pad_l = cells_h - fan_in_l - bias_cells[l]``
  other bridges see a known input (the activation register holds 0 past the layer's fan-in, the
  bias rows are all driven 1) and store that input's value in the first ``pad_l / 2`` of them
  (XNOR = 1) and its complement in the rest (XNOR = 0). The popcount therefore grows by exactly
  ``pad_l / 2`` and the engine's majority ``cells_h // 2 + 1`` equals the layer's own
  ``(fan_in_l + bias_cells[l]) // 2 + 1``: ``pad_l`` must be even (both totals odd, as training
  makes them). The analog differential sum ``2*popcount - cells`` is unchanged as well.
* **The output layer** has an engine of its own (:attr:`out_hw`: ``argmax``, always digital; the
  class is the argmax of the popcounts) on word lines ``(L-1)*banks_h ..`` after the hidden layers.
* **Activations stay on chip**: one register of ``act_width = max(sizes[:-1])`` bits holds the image,
  then each hidden layer's output bits (bits past the layer's width are 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from golden.spec.bnn_datapath_params import MAX_BANK, MAX_INPUTS, MAX_NEURONS, BnnHwParams, bnn_hw_params_of
from golden.spec.checks import ConfigError, check_int

MAX_LAYERS = 8


@dataclass(frozen=True)
class BnnNetHwParams:
    """A BNN ``sizes[0] - sizes[1] - ... - sizes[-1]`` on one array, hidden layers through one engine.

    Attributes
    ----------
    sizes : tuple of int, 3..9 entries
        ``(n_in, h_1, ..., classes)``: inputs 1..4096, hidden widths 1..4096, classes 2..4096.
    bias_cells : tuple of int, one per hidden layer
        Bias cells of each hidden layer (0..4096 - fan-in).
    bank : int, 1..64
        K, neurons per word line of the hidden layers (SA bank).
    bank_out : int, 1..64 and <= classes
        Neurons per word line of the output layer.
    layer : BnnHwParams
        Popcount pipelining, phase lengths, read latency and width, output FIFO of both engines
        (its sizes are ignored).
    """

    sizes: tuple = (784, 1025, 1025, 1025, 10)
    bias_cells: tuple = (79, 102, 102)
    bank: int = 3
    bank_out: int = 3
    layer: BnnHwParams = field(default_factory=lambda: BnnHwParams(bank=3, neurons=33))

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(v) for v in self.sizes))
        object.__setattr__(self, "bias_cells", tuple(int(v) for v in self.bias_cells))
        if not 3 <= len(self.sizes) <= MAX_LAYERS + 1:
            raise ConfigError(f"bnn_net.sizes has {len(self.sizes)} entries: allowed [3, {MAX_LAYERS + 1}] "
                              f"(inputs, at least one hidden layer, classes)")
        check_int("bnn_net.sizes[0]", self.sizes[0], 1, MAX_INPUTS)
        for i, v in enumerate(self.sizes[1:-1], 1):
            check_int(f"bnn_net.sizes[{i}]", v, 1, MAX_NEURONS)
        check_int(f"bnn_net.sizes[{len(self.sizes) - 1}]", self.sizes[-1], 2, MAX_NEURONS)
        if len(self.bias_cells) != self.hidden_layers:
            raise ConfigError(f"bnn_net.bias_cells has {len(self.bias_cells)} entries: the network has "
                              f"{self.hidden_layers} hidden layers")
        for i, b in enumerate(self.bias_cells):
            check_int(f"bnn_net.bias_cells[{i}]", b, 0, MAX_INPUTS - self.sizes[i])
        check_int("bnn_net.bank", self.bank, 1, min(MAX_BANK, self.hidden_width))
        check_int("bnn_net.bank_out", self.bank_out, 1, min(MAX_BANK, self.classes))
        if not isinstance(self.layer, BnnHwParams):
            raise ConfigError(f"bnn_net.layer must be a BnnHwParams, got {type(self.layer).__name__}")
        cells = self.hidden_inputs + self.hidden_bias
        if self.bank * cells > MAX_INPUTS:
            raise ConfigError(f"bnn_net.bank * (max fan-in + max bias cells) = {self.bank} * {cells} array columns "
                              f"is out of range: allowed [1, {MAX_INPUTS}] (bnn_net.bank <= "
                              f"{max(1, MAX_INPUTS // cells)})")
        if self.bank_out * self.sizes[-2] > MAX_INPUTS:
            raise ConfigError(f"bnn_net.bank_out * {self.sizes[-2]} output-layer inputs = "
                              f"{self.bank_out * self.sizes[-2]} array columns is out of range: allowed "
                              f"[1, {MAX_INPUTS}] (bnn_net.bank_out <= {max(1, MAX_INPUTS // self.sizes[-2])})")
        for i in range(self.hidden_layers):
            if self.pad(i) % 2:
                raise ConfigError(f"bnn_net: hidden layer {i} has {self.sizes[i]} + {self.bias_cells[i]} cells "
                                  f"against the engine's {cells}: the difference must be even (padding "
                                  f"keeps the majority), i.e. every layer's total odd or every one even")
        self.hidden_hw   # noqa: B018  (the engines' own checks, with their field names)
        self.out_hw      # noqa: B018

    # --- derived -----------------------------------------------------------------------------
    @property
    def hidden_layers(self) -> int:
        return len(self.sizes) - 2

    @property
    def classes(self) -> int:
        return self.sizes[-1]

    @property
    def hidden_inputs(self) -> int:
        """N_h: the hidden engine's inputs (largest hidden fan-in)."""
        return max(self.sizes[:-2])

    @property
    def hidden_bias(self) -> int:
        """B_h: the hidden engine's bias cells (largest of the hidden layers')."""
        return max(self.bias_cells)

    @property
    def hidden_width(self) -> int:
        """M_h: the hidden engine's neurons (widest hidden layer)."""
        return max(self.sizes[1:-1])

    @property
    def act_width(self) -> int:
        """Bits of the on-chip activation register: max(sizes[:-1])."""
        return max(self.sizes[:-1])

    def pad(self, layer: int) -> int:
        """Padding bridges of hidden ``layer`` in the engine's cells."""
        return self.hidden_inputs + self.hidden_bias - self.sizes[layer] - self.bias_cells[layer]

    @property
    def hidden_hw(self) -> BnnHwParams:
        """The hidden engine's parameters (``argmax`` off)."""
        return replace(self.layer, inputs=self.hidden_inputs, bias_cells=self.hidden_bias,
                       neurons=self.hidden_width, bank=self.bank, argmax=False)

    @property
    def out_hw(self) -> BnnHwParams:
        """The output engine's parameters (no bias cells, ``argmax`` on)."""
        return replace(self.layer, inputs=self.sizes[-2], bias_cells=0, neurons=self.classes,
                       bank=self.bank_out, argmax=True)

    @property
    def hidden_banks(self) -> int:
        return self.hidden_hw.banks

    def row_offset(self, layer: int) -> int:
        """First word line of ``layer`` (the output layer is ``hidden_layers``)."""
        return layer * self.hidden_banks

    @property
    def rows(self) -> int:
        """Word lines of the network's array."""
        return self.hidden_layers * self.hidden_banks + self.out_hw.banks

    @property
    def cols(self) -> int:
        """Bridge (synapse) columns of the network's array."""
        return max(self.hidden_hw.array_cols, self.out_hw.array_cols)

    @property
    def layer_width(self) -> int:
        """Bits of the layer index (0 .. hidden_layers)."""
        return max(1, self.hidden_layers.bit_length())


def bnn_net_params_for(model, bank: int = 3, bank_out: int = 3, layer: BnnHwParams | None = None) -> BnnNetHwParams:
    """Parameters that hold the trained ``model`` (:class:`golden.bnn.network.BnnModel`)."""
    hidden = range(model.n_layers - 1)
    return BnnNetHwParams(sizes=tuple(model.sizes), bias_cells=tuple(model.bias_cells(i) for i in hidden),
                          bank=bank, bank_out=min(bank_out, model.sizes[-1]),
                          layer=layer if layer is not None else BnnHwParams(bank=1, neurons=33))


#: Classes of the network a plain parameter tree builds (:func:`bnn_net_params_of`).
DEFAULT_CLASSES = 10


def bnn_net_params_of(params) -> BnnNetHwParams:
    """The network a block generator builds from ``params`` (``reram-accel verilog``, the board and ASIC
    block lists).

    ``params`` may be a :class:`BnnNetHwParams`, an object with a ``bnn`` attribute holding one, or
    anything else (an :class:`golden.spec.params.AccelParams` with or without a ``[bnn]`` section): then
    a small network of two hidden layers is built around the BNN layer of
    :func:`golden.spec.bnn_datapath_params.bnn_hw_params_of` (its defaults without ``[bnn]``): ``sizes
    = (N, M, M, 10)``, bias cells ``(B, B)`` or the nearest pair that keeps both layers' padding even
    (as the engine needs), the layer's bank (reduced until the engine's rows fit 4096 columns), its
    read width, phase lengths, popcount and FIFO settings for both engines. A layer at the size limits
    (no room for the second layer's bias cells) gives the one-hidden-layer network ``(N, M, 10)``."""
    if isinstance(params, BnnNetHwParams):
        return params
    sub = getattr(params, "bnn", None)
    if isinstance(sub, BnnNetHwParams):
        return sub
    hw = bnn_hw_params_of(params)
    n, b, m = hw.inputs, hw.bias_cells, hw.neurons
    bank_out = max(1, min(hw.bank, DEFAULT_CLASSES, MAX_INPUTS // m))
    # bias cells near the layer's whose padding is even in both hidden layers (see the module docstring)
    for bias in ((b, b), (b, b - 1), (b, b + 1), (b + 1, b)):
        if min(bias) < 0 or any((max(n, m) + max(bias) - s - bc) % 2 for s, bc in zip((n, m), bias)):
            continue
        bank = max(1, min(hw.bank, m, MAX_INPUTS // (max(n, m) + max(bias))))
        try:
            return BnnNetHwParams(sizes=(n, m, m, DEFAULT_CLASSES), bias_cells=bias, bank=bank,
                                  bank_out=bank_out, layer=hw)
        except ConfigError:
            break       # a layer at the size limits: one hidden layer, the [bnn] layer itself
    return BnnNetHwParams(sizes=(n, m, DEFAULT_CLASSES), bias_cells=(b,), bank=min(hw.bank, m),
                          bank_out=bank_out, layer=hw)
