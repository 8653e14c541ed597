"""Parameters of the BNN golden model (issue 4, Ezzadeen et al. 2024): training, 2T2R bridge, neuron.

Three frozen dataclasses, each checked once in ``__post_init__`` with the helpers of
:mod:`golden.spec.params`; an out-of-range value raises :class:`golden.spec.params.ConfigError` naming the
dotted field (``bnn_train.*``, ``bnn_bridge.*``, ``bnn_neuron.*``) and its allowed range. (The
RTL-side sizes and phase lengths live in :mod:`golden.spec.bnn_datapath_params`, section ``bnn.*``.)

Default values and where they come from
---------------------------------------
* Network: the paper's MNIST MLP 784-1025-1025-1025-10 (odd hidden widths: no ties).
* Bias cells: ``2*int(0.05*N)`` per neuron (paper), plus one when the fan-in N is even so that
  the total ``N_tot = N + B`` is odd and the differential sum can never be 0 (our addition, needed
  for the 784-input first layer).
* Bridge: HfO2 ReRAM (CEA-Leti-like) LRS median 6 kOhm, HRS median 120 kOhm, lognormal; sigma of
  ln R: LRS 0.25 device-to-device (d2d) + 0.15 cycle-to-cycle (c2c), HRS 0.60 d2d + 0.50 c2c.
  These are our assumptions (the paper's device fits are not public to us); they give a bridge
  bit-error rate of ~1e-4 (see :func:`golden.bnn.chip_model.bridge_error_probability`).
* Neuron (projected to 22 nm): VDD 0.8 V, unit capacitor 1 fF with 1 % mismatch (sigma of dC/C),
  parasitic capacitance on each summing node = 30 unit capacitors, SA (StrongARM-like latch)
  offset 6 mV (sigma), input-referred noise 4 mV (sigma) at the reference clock 10 ns, scaling as
  sqrt(10 ns / T), and the summing node settling with tau 0.8 ns within half a clock period.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from golden.spec.params import (
    ConfigError,
    LoOpen,
    check_choice,
    check_float,
    check_floats,
    check_int,
    check_ints,
)

MAX_WIDTH = 4096
MAX_LAYERS = 8


def parse_hidden(text: str | tuple | list) -> tuple[int, ...]:
    """``"1025,1025,1025"`` (or a sequence) -> ``(1025, 1025, 1025)``; ConfigError naming ``bnn_train.hidden``."""
    if isinstance(text, str):
        try:
            vals = tuple(int(t) for t in text.split(",") if t.strip())
        except ValueError:
            raise ConfigError(f"bnn_train.hidden = {text!r} must be comma-separated integers, "
                              f"e.g. 1025,1025,1025") from None
    else:
        vals = tuple(text)
    return vals


@dataclass(frozen=True)
class BnnTrainParams:
    """Training of the binarized MLP (straight-through estimator, latent real weights, Adam).

    Attributes
    ----------
    dataset : "digits" | "mnist"
    hidden : tuple of int, 1..8 layers, each odd in 3..4095
        Hidden widths (odd: the differential sum of the next layer cannot tie).
    epochs : int, 1..1000
    batch : int, 1..4096
    lr, lr_final : float, (0, 1]
        Adam step size, decayed exponentially from ``lr`` to ``lr_final`` over the run.
    seed : int, 0..2**32-1
        Initial weights and minibatch order.
    bias_fraction : float, [0, 0.5]
        Bias cells per neuron ``B = 2*int(bias_fraction*N)`` (+1 if N is even).
    val_split : int, 0..20000
        Training samples held out (the last ones) to pick the best epoch; 0 = use the last epoch.
    dropout_in, dropout_hidden : float, [0, 0.9]
        Dropout probability on the input bits / hidden activations during training (0: none).
    """

    dataset: str = "mnist"
    hidden: tuple = (1025, 1025, 1025)
    epochs: int = 20
    batch: int = 100
    lr: float = 3e-3
    lr_final: float = 3e-5
    seed: int = 0
    bias_fraction: float = 0.05
    val_split: int = 0
    dropout_in: float = 0.0
    dropout_hidden: float = 0.0

    def __post_init__(self):
        check_choice("bnn_train.dataset", self.dataset, ("digits", "mnist"))
        if not isinstance(self.hidden, tuple):
            object.__setattr__(self, "hidden", parse_hidden(self.hidden))
        if not 1 <= len(self.hidden) <= MAX_LAYERS:
            raise ConfigError(f"bnn_train.hidden has {len(self.hidden)} layers: allowed [1, {MAX_LAYERS}]")
        for i, h in enumerate(self.hidden):
            check_int(f"bnn_train.hidden[{i}]", h, 3, MAX_WIDTH - 1)
            if h % 2 == 0:
                raise ConfigError(f"bnn_train.hidden[{i}] = {h} is even: hidden widths must be odd "
                                  f"(3, 5, ..., {MAX_WIDTH - 1}) so that the next layer's sum cannot tie")
        check_ints(self, "bnn_train", epochs=(1, 1000), batch=(1, 4096))
        check_floats(self, "bnn_train", lr=LoOpen(0.0, 1.0), lr_final=LoOpen(0.0, 1.0))
        check_ints(self, "bnn_train", seed=(0, 2**32 - 1))
        check_floats(self, "bnn_train", bias_fraction=(0.0, 0.5))
        check_ints(self, "bnn_train", val_split=(0, 20000))
        check_floats(self, "bnn_train", dropout_in=(0.0, 0.9), dropout_hidden=(0.0, 0.9))

    def key(self) -> str:
        """File-name key of a trained model: everything that changes the result."""
        h = "-".join(str(v) for v in self.hidden)
        return (f"{self.dataset}_h{h}_e{self.epochs}_b{self.batch}_lr{self.lr:g}-{self.lr_final:g}"
                f"_bf{self.bias_fraction:g}_v{self.val_split}"
                + (f"_do{self.dropout_in:g}-{self.dropout_hidden:g}" if self.dropout_in or self.dropout_hidden else "")
                + f"_s{self.seed}")


#: The trained networks per data set (``reram-accel bnn --dataset <name>`` without training options):
#: the digits net 64-255-255-10 and the paper's MNIST net 784-1025-1025-1025-10.
TRAIN_PRESETS = {
    "digits": BnnTrainParams(dataset="digits", hidden=(255, 255), epochs=30, batch=50, lr=1e-2, lr_final=1e-4,
                             dropout_in=0.1, dropout_hidden=0.2),
    "mnist": BnnTrainParams(dataset="mnist", epochs=60, dropout_in=0.2, dropout_hidden=0.2),
}


@dataclass(frozen=True)
class BridgeParams:
    """2T2R bridge: two ReRAM devices in series between BL and BLb, complementary LRS/HRS.

    Resistances are lognormal: ``ln R = ln(r_median) + sigma_d2d*z_device + sigma_c2c*z_cycle``.

    Attributes
    ----------
    r_lrs, r_hrs : float, ohm, [100, 1e9], r_hrs > r_lrs
        Median low and high resistance.
    sigma_lrs_d2d, sigma_lrs_c2c, sigma_hrs_d2d, sigma_hrs_c2c : float, [0, 3]
        Standard deviations of ln R (device-to-device, cycle-to-cycle).
    vm_ratio : float, (0, 1)
        Switching threshold of the source-line inverter as a fraction of VDD (nominal).
    vm_sigma : float, [0, 0.2]
        Inverter-to-inverter spread of that fraction (sigma).
    r_access : float, ohm, [0, 1e6]
        On-resistance of each access transistor (in series with its device).
    """

    r_lrs: float = 6e3
    r_hrs: float = 120e3
    sigma_lrs_d2d: float = 0.25
    sigma_lrs_c2c: float = 0.15
    sigma_hrs_d2d: float = 0.60
    sigma_hrs_c2c: float = 0.50
    vm_ratio: float = 0.5
    vm_sigma: float = 0.02
    r_access: float = 1e3

    def __post_init__(self):
        check_floats(self, "bnn_bridge", r_lrs=(100.0, 1e9), r_hrs=(100.0, 1e9))
        if self.r_hrs <= self.r_lrs:
            raise ConfigError(f"bnn_bridge.r_hrs = {self.r_hrs} must be greater than bnn_bridge.r_lrs = "
                              f"{self.r_lrs}: allowed ({self.r_lrs}, 1e9]")
        sigma = (0.0, 3.0)
        check_floats(self, "bnn_bridge", sigma_lrs_d2d=sigma, sigma_lrs_c2c=sigma, sigma_hrs_d2d=sigma,
                     sigma_hrs_c2c=sigma, vm_ratio=LoOpen(0.0, 1.0))
        if self.vm_ratio >= 1.0:
            raise ConfigError(f"bnn_bridge.vm_ratio = {self.vm_ratio} is out of range: allowed (0, 1)")
        check_floats(self, "bnn_bridge", vm_sigma=(0.0, 0.2), r_access=(0.0, 1e6))

    @property
    def sigma_lrs(self) -> float:
        """Total sigma of ln R_LRS for one programming (d2d and c2c combined)."""
        return (self.sigma_lrs_d2d ** 2 + self.sigma_lrs_c2c ** 2) ** 0.5

    @property
    def sigma_hrs(self) -> float:
        return (self.sigma_hrs_d2d ** 2 + self.sigma_hrs_c2c ** 2) ** 0.5


@dataclass(frozen=True)
class NeuronParams:
    """Fully differential capacitive neuron and its clocked sense amplifier.

    The summing node of each side holds ``N_tot`` unit capacitors plus a parasitic capacitance; one
    unit of the differential sum ``delta = 2*P_tot - N_tot`` is ``lsb = vdd / (N_tot + c_par_units)``
    volts. The SA sees ``delta*lsb*g(T) + offset + noise`` with ``g(T) = 1 - exp(-T/(2*tau))``
    (settling in the evaluate half of the clock), offset static per SA and noise per decision with
    ``sigma_noise(T) = sa_noise * sqrt(t_ref / T)``.

    Attributes
    ----------
    vdd : float, V, [0.3, 3.3]
    c_unit : float, F, [1e-17, 1e-12]
        Unit (MOM) capacitor.
    cap_mismatch : float, [0, 0.2]
        Sigma of dC/C of a unit capacitor (static).
    c_par_units : float, [0, 1e5]
        Parasitic capacitance of a summing node in units of c_unit.
    sa_offset, sa_noise : float, V, [0, 0.5]
        SA input-referred offset (static, per SA) and noise at ``t_ref`` (per decision), sigma.
    sa_clock_ns : float, ns, [1, 100]
        SA clock period (the paper's range is 4-20 ns).
    t_ref_ns : float, ns, [1, 100]
        Clock period at which ``sa_noise`` is specified.
    settle_tau_ns : float, ns, [0, 100]
        Time constant of the summing node.
    """

    vdd: float = 0.8
    c_unit: float = 1e-15
    cap_mismatch: float = 0.01
    c_par_units: float = 30.0
    sa_offset: float = 6e-3
    sa_noise: float = 4e-3
    sa_clock_ns: float = 10.0
    t_ref_ns: float = 10.0
    settle_tau_ns: float = 0.8

    def __post_init__(self):
        check_floats(self, "bnn_neuron", vdd=(0.3, 3.3), c_unit=(1e-17, 1e-12), cap_mismatch=(0.0, 0.2),
                     c_par_units=(0.0, 1e5), sa_offset=(0.0, 0.5), sa_noise=(0.0, 0.5),
                     sa_clock_ns=(1.0, 100.0), t_ref_ns=(1.0, 100.0), settle_tau_ns=(0.0, 100.0))


@dataclass(frozen=True)
class BnnParams:
    """Root of the BNN golden parameters."""

    train: BnnTrainParams = field(default_factory=BnnTrainParams)
    bridge: BridgeParams = field(default_factory=BridgeParams)
    neuron: NeuronParams = field(default_factory=NeuronParams)

    def __post_init__(self):
        for name, cls in (("train", BnnTrainParams), ("bridge", BridgeParams), ("neuron", NeuronParams)):
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"bnn.{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")


def n_bias_cells(n_inputs: int, bias_fraction: float = 0.05) -> int:
    """Bias cells of a neuron with ``n_inputs`` inputs: ``2*int(f*N)`` plus 1 if N is even (N_tot odd)."""
    check_int("n_inputs", n_inputs, 1, 1 << 24)
    check_float("bias_fraction", bias_fraction, 0.0, 0.5)
    return 2 * int(round(bias_fraction * n_inputs, 9)) + (1 if n_inputs % 2 == 0 else 0)


__all__ = ["BnnParams", "BnnTrainParams", "BridgeParams", "NeuronParams", "n_bias_cells", "parse_hidden"]
