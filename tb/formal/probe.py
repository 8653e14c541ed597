"""Read a block's internal state in a formal wrapper, without new ports on the block.

A proof that compares a block with a reference model needs the block's hidden state to match the
model's (else k-induction starts from states no run can reach). :func:`elaborate_with_probes`
elaborates the block once, finds its internal signals (those it assigns) by name in the resulting fragment, and
returns an elaboratable that the wrapper adds as the submodule, so the probes are the very signals
of the instance under proof.
"""
from __future__ import annotations

from amaranth import Elaboratable
from amaranth.hdl import Fragment


class _Elaborated(Elaboratable):
    def __init__(self, fragment: Fragment):
        self.fragment = fragment

    def elaborate(self, platform):
        return self.fragment


def _signals(fragment: Fragment, found: dict) -> None:
    for stmts in fragment.statements.values():
        for stmt in stmts:
            for sig in stmt._lhs_signals():
                found.setdefault(sig.name, []).append(sig)
    for sub, _name, _loc in fragment.subfragments:
        _signals(sub, found)


def elaborate_with_probes(block: Elaboratable, *names: str) -> tuple[Elaboratable, dict]:
    """``(submodule, {name: signal})`` for the internal signals ``names`` of ``block``.

    Each name must denote exactly one signal of the block (its own or a submodule's); the error
    lists the names that match none or several.
    """
    fragment = Fragment.get(block, None)
    found: dict = {}
    _signals(fragment, found)
    probes, bad = {}, []
    for n in names:
        sigs = {id(s): s for s in found.get(n, [])}
        if len(sigs) != 1:
            bad.append(f"{n} ({len(sigs)} signals)")
        else:
            probes[n] = next(iter(sigs.values()))
    if bad:
        raise LookupError(f"{type(block).__name__}: no unique internal signal for {', '.join(bad)}")
    return _Elaborated(fragment), probes
