"""Verilator lint of generated Verilog: plain `--lint-only` must be silent; `-Wall` only with the
waivers below, each with its reason (the README lists the same table).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tb.kit.runner import verilator_env

# Warning code -> why it is waived under -Wall (not under plain --lint-only, which must be clean).
WAIVERS: dict[str, str] = {
    "DECLFILENAME": "Amaranth names the file after the top module only; submodules share the file.",
    "UNUSEDSIGNAL": "Amaranth keeps every port and struct field of a signature even where a block "
                    "uses only part of a payload (e.g. the row field passed through a stream).",
    "PROCASSINIT": "Amaranth gives every register an initial value in its declaration and also "
                   "assigns it in the reset branch of the process.",
}

_WARN = re.compile(r"^%Warning-([A-Z0-9_]+):", re.MULTILINE)


def lint(path: Path, *, wall: bool) -> list[str]:
    """Warning lines Verilator prints for ``path`` (waived codes removed when ``wall``)."""
    verilator_env()
    top = Path(path).stem
    cmd = ["verilator", "--lint-only", "--top-module", top, str(path)]
    if wall:
        cmd.insert(2, "-Wall")
        cmd += [f"-Wno-{code}" for code in WAIVERS]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    lines = [ln for ln in out.splitlines() if ln.startswith(("%Warning", "%Error"))]
    if proc.returncode != 0 and not lines:
        lines = [out.strip() or f"verilator exited {proc.returncode}"]
    return lines
