"""Hardware parameters of the BNN datapath (XnorPopcount, SenseAmpSequencer, BnnLayerEngine).

One frozen dataclass, checked once in ``__post_init__``; an out-of-range value raises
:class:`golden.spec.params.ConfigError` naming the field (``bnn.<name>``) and its allowed range.
Both the golden twins (``golden/twins/xnor_popcount.py``, ``golden/twins/sense_amp_sequencer.py``,
``golden/twins/bnn_layer_engine.py``) and the generators (``hw/``) read it.

Physical layout of a BNN layer in the 2T2R array (shared by golden and RTL)
-------------------------------------------------------------------------
A layer of ``neurons`` neurons with ``cells = inputs + bias_cells`` bridges each (the weights, then
the bias cells, as ``golden.bnn.network.BnnModel.extended_weights``) is stored bank by bank: neuron
``j`` belongs to bank ``b = j // bank`` and slot ``k = j % bank``; bank ``b`` sits on word line (row)
``b`` and neuron slot ``k`` occupies synapse columns ``k*cells .. (k+1)*cells - 1`` of that row. In the
2T2R array each synapse column ``c`` is a bridge of two devices on physical columns ``2c`` (BL) and
``2c+1`` (BLb). The array therefore has ``ceil(neurons/bank)`` rows and ``bank*cells`` synapse
columns; one word line activates the ``bank`` neurons that the capacitive neurons / sense amplifiers
of that bank evaluate together.
"""
from __future__ import annotations

from dataclasses import dataclass

from golden.spec.checks import ConfigError, bits_for, check_bool, check_choice, check_int, check_ints

MAX_INPUTS = 4096
MAX_NEURONS = 4096
MAX_BANK = 64
MAX_PHASE = 255
#: Width of a runtime phase-length register (0 .. MAX_PHASE cycles; 0 acts as 1).
PHASE_LENGTH_WIDTH = MAX_PHASE.bit_length()
#: Widest digital read: a whole row of the widest neuron (inputs + bias cells <= MAX_INPUTS), i.e.
#: full-row reads (one read per neuron) for every layer the engine can hold.
MAX_READ_WIDTH = MAX_INPUTS

#: Sense-amplifier phases in the order the sequencer runs them (index = cfg address).
PHASES = ("precharge", "input", "evaluate", "sense", "readout", "reset")

POPCOUNT_MODES = ("tree", "lut6")


@dataclass(frozen=True)
class BnnHwParams:
    """Sizes, popcount pipelining and sense-amplifier phase lengths of the BNN hardware.

    Attributes
    ----------
    inputs : int, 1..4096
        N, binary inputs per neuron (driven from the layer's input vector).
    bias_cells : int, 0..4096, inputs + bias_cells <= 4096
        B, bias cells per neuron (bridges whose input is tied to 1; ``golden.bnn.model_params.n_bias_cells``
        gives the paper's count). ``cells = N + B`` is the popcount width of the engine and of
        ``XnorPopcount.from_params``, and a neuron's column count in the array.
    neurons : int, 1..4096
        M, neurons of the layer the engine sequences.
    bank : int, 1..64 and <= neurons
        K, neurons sensed together (one word line) by the sense-amplifier sequencer.
    popcount_mode : "tree" | "lut6"
        ``tree``: binary adder tree (reference). ``lut6``: 6-input LUT popcounts (3-bit each) followed
        by a ternary adder tree: fewer levels, hence fewer pipeline registers, on FPGAs.
    stage_levels : int, 1..16
        A pipeline register after every ``stage_levels`` adder-tree levels (and after the last).
    precharge, input, evaluate, sense, readout, reset : int, 1..255
        Reset values (defaults) of the sequencer's runtime phase-length registers, in clock cycles.
    read_latency : int, 2..16
        Cycles from a bridge-read command of the engine to ``rd_valid`` from the array (1 cycle of
        CrossbarAddressing + the array's read delay); used by the golden cycle model and the
        testbench's array model (the RTL itself waits for ``rd_valid``).
    read_width : int, 1..4096
        W, bridges a digital-mode read returns at once: one word-line activation senses the
        XNOR/inverter outputs of ``read_lanes = min(W, cells)`` adjacent bridges of one neuron (a
        neuron of ``cells`` bridges takes ``reads_per_neuron = ceil(cells / W)`` reads; the last one
        reads the remaining ``cells - (reads_per_neuron - 1) * W`` bridges). 1: bit-serial.
        ``W >= cells`` (e.g. :data:`MAX_READ_WIDTH`): **full-row reads**, one read per neuron, the
        reference / FPGA mode; the popcount is ``cells`` wide whatever W is (a neuron's reads are
        assembled first), so a full row costs no popcount logic, only the width of the array's read
        port (``rd_bits``, ``read_lanes`` bits) and of CrossbarAddressing's read-run decoder
        (``2 * read_lanes`` columns). The general width is raised to the limit rather than a separate
        full-row flag because ``read_lanes = min(W, cells)``: a layer never pays for more than its row.
    out_fifo : int, 2..64
        Depth of the engine's output-word FIFO (words of ``bank`` bits) = credits for banks in flight.
    argmax : bool
        The layer is a network's output layer: in digital mode the engine also streams the image's
        class (the lowest index among the largest popcounts, :class:`hw.argmax_unit.ArgmaxUnit`) on
        its ``cls`` port. Needs ``neurons >= 2`` and no bias cells.
    """

    inputs: int = 64
    bias_cells: int = 7
    neurons: int = 33
    bank: int = 4
    popcount_mode: str = "tree"
    stage_levels: int = 2
    precharge: int = 2
    input: int = 1
    evaluate: int = 2
    sense: int = 1
    readout: int = 1
    reset: int = 1
    read_latency: int = 2
    out_fifo: int = 8
    read_width: int = 32
    argmax: bool = False

    def __post_init__(self):
        check_ints(self, "bnn", inputs=(1, MAX_INPUTS))
        check_ints(self, "bnn", bias_cells=(0, MAX_INPUTS - self.inputs), neurons=(1, MAX_NEURONS))
        check_ints(self, "bnn", bank=(1, min(MAX_BANK, self.neurons)))
        check_choice("bnn.popcount_mode", self.popcount_mode, POPCOUNT_MODES)
        check_ints(self, "bnn", stage_levels=(1, 16), **dict.fromkeys(PHASES, (1, MAX_PHASE)),
                   read_latency=(2, 16), out_fifo=(2, 64), read_width=(1, MAX_READ_WIDTH))
        check_bool("bnn.argmax", self.argmax)
        if self.argmax and (self.neurons < 2 or self.bias_cells):
            raise ConfigError(f"bnn.argmax needs an output layer: bnn.neurons >= 2 (got {self.neurons}) and "
                              f"bnn.bias_cells = 0 (got {self.bias_cells})")
        if self.bank * self.cells > MAX_INPUTS:
            raise ConfigError(f"bnn.bank * (bnn.inputs + bnn.bias_cells) = {self.bank * self.cells} array "
                              f"columns is out of range: allowed [1, {MAX_INPUTS}] (bnn.bank <= "
                              f"{max(1, MAX_INPUTS // self.cells)} for {self.cells} cells)")

    # --- derived -----------------------------------------------------------------------------
    @property
    def phase_lengths(self) -> tuple[int, ...]:
        """Default phase lengths in :data:`PHASES` order."""
        return tuple(getattr(self, n) for n in PHASES)

    @property
    def cells(self) -> int:
        """N_tot = inputs + bias_cells: popcount width, array columns per neuron."""
        return self.inputs + self.bias_cells

    @property
    def banks(self) -> int:
        """Word lines used by the layer: ceil(neurons / bank)."""
        return -(-self.neurons // self.bank)

    @property
    def array_cols(self) -> int:
        """Synapse (bridge) columns of the array: bank * cells."""
        return self.bank * self.cells

    @property
    def read_lanes(self) -> int:
        """Bridges one digital-mode read returns (width of ``rd_bits``): min(read_width, cells)."""
        return min(self.read_width, self.cells)

    @property
    def reads_per_neuron(self) -> int:
        """Digital-mode reads (= cycles at full rate) per neuron: ceil(cells / read_width)."""
        return -(-self.cells // self.read_lanes)

    @property
    def last_read_lanes(self) -> int:
        """Bridges the last read of a neuron returns: cells - (reads_per_neuron - 1) * read_lanes."""
        return self.cells - (self.reads_per_neuron - 1) * self.read_lanes

    @property
    def count_width(self) -> int:
        """Width of a popcount 0..cells."""
        return popcount_width(self.cells)

    @property
    def thr_width(self) -> int:
        """Width of a threshold 0..cells+1 (0: always 1, cells+1: always 0)."""
        return threshold_width(self.cells)

    @property
    def neuron_width(self) -> int:
        return bits_for(self.neurons)

    @property
    def ramp_width(self) -> int:
        """Width of the engine's ``x`` payload field ``ramp`` (and BNN_CTRL.RAMP): 0 .. ``bias_cells``, >= 1."""
        return max(1, self.bias_cells.bit_length())

    @property
    def bank_width(self) -> int:
        return bits_for(self.banks)


def popcount_width(n: int) -> int:
    """Bits of a count in 0..n."""
    return max(1, int(n).bit_length())


def threshold_width(n: int) -> int:
    """Bits of a threshold in 0..n+1."""
    return max(1, int(n + 1).bit_length())


def check_phase_lengths(name: str, lengths) -> tuple[int, ...]:
    """Validate a 6-tuple of phase lengths (1..255 each) and return it as a tuple."""
    lengths = tuple(lengths)
    if len(lengths) != len(PHASES):
        raise ConfigError(f"{name} must have {len(PHASES)} entries {list(PHASES)}, got {len(lengths)}")
    for p, v in zip(PHASES, lengths):
        check_int(f"{name}.{p}", v, 1, MAX_PHASE)
    return lengths


def bnn_hw_params_of(params) -> BnnHwParams:
    """The BNN hardware parameters carried by ``params``.

    ``params`` may be a :class:`BnnHwParams`, an object with a ``bnn`` attribute holding one (a
    future section of :class:`golden.spec.params.AccelParams`) or anything else (e.g. today's
    ``AccelParams``), for which the defaults are returned.
    """
    if isinstance(params, BnnHwParams):
        return params
    sub = getattr(params, "bnn", None)
    if isinstance(sub, BnnHwParams):
        return sub
    return BnnHwParams()
