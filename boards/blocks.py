"""Which blocks a board build can place: hw's registry, known blocks not (yet) in it, board-only ones.

Each entry is a factory ``BoardConfig -> wiring.Component`` (a fresh object per call: the board
build and the out-of-context synthesis elaborate separately). Blocks whose module does not exist
(yet) or fails to import are reported by :func:`unavailable`, not silently dropped.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

from boards.config import BoardConfig
from golden.spec.params import ConfigError

Factory = Callable[[BoardConfig], object]

#: name -> "module:Class" of every block the project plans (tried if hw.registry lacks it).
KNOWN: dict[str, str] = {
    "update_unit": "hw.update_unit:UpdateUnit",
    "outer_product_engine": "hw.outer_product_engine:OuterProductEngine",
    "arbitration_controller": "hw.arbitration_controller:ArbitrationController",
    "pulse_scheduler": "hw.pulse_scheduler:PulseScheduler",
    "crossbar_addressing": "hw.crossbar_addressing:CrossbarAddressing",
    "xnor_popcount": "hw.xnor_popcount:XnorPopcount",
    "sense_amp_sequencer": "hw.sense_amp_sequencer:SenseAmpSequencer",
    "bnn_layer_engine": "hw.bnn_layer_engine:BnnLayerEngine",
    "axil_csr": "hw.axil_csr:AxiLiteCsr",
    "accelerator": "hw.accelerator:Accelerator",
}

#: Registry blocks a board does not place, with the reason.
NOT_ON_BOARDS: dict[str, str] = {
    # the board wrapper drives `sync` from its PLL and power-on reset; this top brings its own
    # domain (aresetn through a reset synchronizer), which the wrapper cannot host as well
    "accelerator_arst": "brings its own clock domain; the board builds place `accelerator`",
}

#: Blocks that exist only for the boards.
BOARD_ONLY: dict[str, str] = {
    "array_emulator": "boards.emulated_array:ArrayEmulator",
    "demo": "boards.demo:TrainingDemo",
}


def _load(spec: str):
    mod, cls = spec.split(":")
    return getattr(importlib.import_module(mod), cls)


def _hw_factory(name: str, make) -> Factory:
    # every hw block takes the parameter tree (the BNN blocks read its [bnn] section)
    return lambda cfg: make(cfg.params)


def available() -> dict[str, Factory]:
    """Every block that imports, in a stable order: hw blocks first, then board-only ones."""
    table: dict[str, Factory] = {}
    try:
        from hw.registry import blocks as registry_blocks

        for name, make in registry_blocks().items():
            if name not in NOT_ON_BOARDS:
                table[name] = _hw_factory(name, make)
    except ImportError:
        pass  # a listed module is missing: fall back to probing one by one below
    for name, spec in KNOWN.items():
        if name in table:
            continue
        try:
            table[name] = _hw_factory(name, _load(spec).from_params)
        except (ImportError, AttributeError):
            continue
    for name, spec in BOARD_ONLY.items():
        try:
            cls = _load(spec)
        except (ImportError, AttributeError):
            continue
        if name == "array_emulator":
            table[name] = lambda cfg, cls=cls: cls(cfg.params, cfg.emulator)
        else:
            table[name] = lambda cfg, cls=cls: cls.from_board_config(cfg)
    return table


def unavailable() -> list[str]:
    """Planned blocks that do not import (yet)."""
    have = available()
    return [n for n in (*KNOWN, *BOARD_ONLY) if n not in have]


def select(names: str) -> dict[str, Factory]:
    """``"all"`` or a comma-separated list; an unknown name is a ConfigError listing the allowed."""
    table = available()
    if names == "all":
        return table
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    bad = [n for n in chosen if n not in table]
    if bad:
        missing = [n for n in bad if n in KNOWN or n in BOARD_ONLY]
        hint = f" ({missing} not implemented yet)" if missing else ""
        raise ConfigError(f"block(s) {bad} not available{hint}: allowed {sorted(table)} or 'all'")
    return {n: table[n] for n in chosen}
