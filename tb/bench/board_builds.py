"""What the last board builds (`make board`, `reram-accel board build --json`) left in
``build/boards/<board>.json``: read by the benches for the tops' Fmax and resources."""
from __future__ import annotations

import json
from pathlib import Path

from tb.kit.runner import ROOT

BOARDS_DIR = ROOT / "build" / "boards"


def board_results(path: Path) -> list[dict]:
    """The entries of a board build's JSON (a list of dicts); [] when the file is missing, not JSON or
    not a list of objects (entries that are not objects are dropped)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def positive_number(v) -> float | None:
    """``v`` as a float if it is a positive number (not a bool), else None."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None


def top_fmax_of(path: Path) -> float | None:
    """Post-route Fmax (MHz) of the accelerator top in the board build ``path``, None if there is none."""
    for r in board_results(path):
        f = positive_number(r.get("fmax_mhz"))
        if r.get("block") == "accelerator" and f is not None:
            return f
    return None


def fmax_target(board: str, block: str) -> float | None:
    """The configured target clock of ``block`` on ``board`` (MHz, ``[board]`` of ``boards/<board>.toml``;
    None: the board's default)."""
    from boards.config import load_board_config

    return load_board_config(None, board).board.target_for(block)
