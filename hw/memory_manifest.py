"""The memories of an elaborated design: what a macro flow must provide (``reram-accel verilog``
writes it as ``memories.json`` next to the Verilog)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from amaranth import Module, Shape
from amaranth.hdl import Fragment
from amaranth.lib.memory import Memory

from hw.sram import SimpleDualPortRam

# Contents after reset, per kind of memory (why none of them needs a reset of its storage).
CLEARED_BY_WALK = "undefined at power-up; the owning block writes every word after reset (clear walk)"
FIFO_STORAGE = "not reset: the FIFO's pointers are; a word is read only after it was written"
FRAME_BUFFER = "not reset: every word a committed frame uses is written by that frame before it is read"


@dataclass(frozen=True)
class MemoryEntry:
    """One memory instance: ``path`` is the instance path from the top (Verilog hierarchy names)."""

    path: str
    depth: int
    width: int
    signed: bool
    write_ports: int
    read_ports: int
    read_latency: int          # 1: synchronous read (SRAM macro), 0: asynchronous (register file)
    transparent: bool          # a read of the word being written returns the new word
    wrapper: str               # the hw component that owns the storage (a macro replaces it there)
    contents_after_reset: str

    @property
    def bits(self) -> int:
        return self.depth * self.width


def memories(top, name: str, fragment: Fragment | None = None) -> list[MemoryEntry]:
    """Every :class:`amaranth.lib.memory.Memory` in ``top`` (a component), in elaboration order.

    Memories inside a :class:`hw.sram.SimpleDualPortRam` are the design's macro candidates; any other
    (the storage of Amaranth's FIFOs) is listed with the component that owns it. ``fragment``: ``top``
    already elaborated (``Fragment.get(top, None)``; only read here), else ``top`` is elaborated.
    """
    out: list[MemoryEntry] = []

    def walk(frag: Fragment, path: tuple[str, ...], owner) -> None:
        origins = tuple(getattr(frag, "origins", None) or ())
        mem = next((o for o in origins if isinstance(o, Memory)), None)
        # the innermost elaboratable (past ResetInserter wrappers and Modules)
        here = next((o for o in reversed(origins) if not isinstance(o, (Memory, Module))), None)
        if mem is not None:
            out.append(_entry(mem, ".".join(path), owner))
        for sub, sub_name, *_ in frag.subfragments:
            walk(sub, (*path, sub_name or "unnamed"), here if here is not None else owner)

    walk(fragment if fragment is not None else Fragment.get(top, None), (name,), None)
    return out


def _entry(mem: Memory, path: str, owner) -> MemoryEntry:
    rps, wps = mem.read_ports, mem.write_ports
    sync_read = all(rp.domain != "comb" for rp in rps)
    transparent = any(rp.transparent_for for rp in rps)
    sram = isinstance(owner, SimpleDualPortRam)
    shape = Shape.cast(mem.shape)
    return MemoryEntry(path=path, depth=mem.depth, width=shape.width, signed=shape.signed,
                       write_ports=len(wps), read_ports=len(rps), read_latency=1 if sync_read else 0,
                       transparent=transparent, wrapper=type(owner).__name__ if owner is not None else "",
                       # an SRAM owner may state its own (a frame buffer); else the clear walk
                       contents_after_reset=getattr(owner, "contents_after_reset", CLEARED_BY_WALK) if sram
                       else FIFO_STORAGE)


def manifest(top, name: str, fragment: Fragment | None = None) -> list[dict]:
    """:func:`memories` as JSON-ready dicts (with ``bits``)."""
    return [{**asdict(e), "bits": e.bits} for e in memories(top, name, fragment)]
