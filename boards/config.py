"""Board build configuration: a TOML file with the usual parameter sections plus ``[board]``.

``boards/icebreaker.toml`` and ``boards/ulx3s.toml`` are the defaults (sized to fit their device).
Sections:

``[board]`` (this module)
    ``target_mhz`` (float, PLL output the design is built for; default: the board's),
    ``seed`` (1..2**32-1, stimulus LFSR), ``pnr_seed`` (0..2**31-1, nextpnr placer seed),
    ``placer`` (``"heap"``, nextpnr's default analytic placer, or ``"sa"``, simulated annealing: slower,
    but it places a nearly full iCE40 where the analytic placer's legaliser can search for hours),
    ``capture`` (``"register"`` or ``"xor"``: how the board harness takes the block's outputs,
    :class:`boards.board_wrapper.BoardHarness`),
    ``baud`` (UART of the demo, default 115200), ``demo_updates`` (update requests between two
    array dumps of the demo, default 4096); sub-table ``[board.targets]``: per-block target clock
    in MHz overriding ``target_mhz`` (e.g. ``demo = 12``: the iCEBreaker demo runs from the 12 MHz
    oscillator, below the iCE40 PLL's 16 MHz minimum).
``[emulator]``
    :class:`boards.emulated_array.EmulatorParams`.
all others
    :func:`golden.spec.params.params_from_dict` (``[array] [synapse] [update] [timing] [bnn]``; ``[bnn]``
    sizes the BNN blocks and adds the BNN path to the accelerator top, which then needs 2T2R cells
    and the BNN array inside the training array).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from boards.board_wrapper import CAPTURES
from boards.emulated_array import EmulatorParams, emulator_params_from_dict
from golden.spec.params import (
    AccelParams,
    ConfigError,
    check_float,
    check_ints,
    dataclass_from_dict,
    params_from_dict,
    read_toml,
)

BOARDS_DIR = Path(__file__).resolve().parent
#: nextpnr placers ``[board] placer`` may name.
PLACERS = ("heap", "sa")


@dataclass(frozen=True)
class BoardSection:
    """``[board]``: build options (see module docstring); ``target_mhz = None``: board default."""

    def target_for(self, block: str) -> float | None:
        """The configured target clock of ``block`` (MHz), None if the board default applies."""
        return self.targets.get(block, self.target_mhz)

    target_mhz: float | None = None
    seed: int = 1
    pnr_seed: int = 1
    placer: str = "heap"
    capture: str = "register"
    baud: int = 115200
    demo_updates: int = 4096
    targets: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.targets, dict):
            raise ConfigError(f"board.targets must be a table of block = MHz, got {self.targets!r}")
        for name, mhz in self.targets.items():
            check_float(f"board.targets.{name}", mhz, 1.0, 500.0)
        if self.target_mhz is not None:
            check_float("board.target_mhz", self.target_mhz, 1.0, 500.0)
        if self.placer not in PLACERS:
            raise ConfigError(f"board.placer = {self.placer!r}: allowed {', '.join(map(repr, PLACERS))}")
        if self.capture not in CAPTURES:
            raise ConfigError(f"board.capture = {self.capture!r}: allowed {', '.join(map(repr, CAPTURES))}")
        check_ints(self, "board", seed=(1, (1 << 32) - 1), pnr_seed=(0, (1 << 31) - 1), baud=(300, 12_000_000),
                   demo_updates=(1, 1 << 24))


@dataclass(frozen=True)
class BoardConfig:
    """Everything one board build needs besides the board and the block."""

    params: AccelParams = field(default_factory=AccelParams)
    board: BoardSection = field(default_factory=BoardSection)
    emulator: EmulatorParams = field(default_factory=EmulatorParams)
    path: Path | None = None


def board_config_from_dict(d: dict, path: Path | None = None) -> BoardConfig:
    d = dict(d)
    board = dataclass_from_dict(BoardSection, d.pop("board", {}), "board")
    emu = emulator_params_from_dict(d.pop("emulator", {}))
    return BoardConfig(params=params_from_dict(d), board=board, emulator=emu, path=path)


def default_config_path(board_name: str) -> Path:
    return BOARDS_DIR / f"{board_name}.toml"


def load_board_config(path: str | Path | None, board_name: str) -> BoardConfig:
    """Read ``path`` (None: ``boards/<board>.toml``)."""
    p = Path(path) if path is not None else default_config_path(board_name)
    return board_config_from_dict(read_toml(p), p)
