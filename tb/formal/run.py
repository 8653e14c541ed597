"""Run the formal proofs and their mutants; print and write the table (``make formal``).

``python -m tb.formal.run [--quick] [--markdown PATH] [--json PATH] [-k TEXT]``: every proof must
PASS and every mutant's proof must FAIL; the exit code is 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tb.formal.catalog import MUTANTS, PROOFS, MutantSpec, ProofSpec, proof
from tb.formal.harness import DEFAULT_WORKDIR, ensure_compiled, run_sby


@dataclass
class Row:
    """One line of the table."""

    kind: str          # proof or mutant
    name: str
    block: str
    mode: str
    depth: int
    solver: str
    status: str
    expected: str
    seconds: float
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == self.expected


def run_proof(spec: ProofSpec, workdir: Path = DEFAULT_WORKDIR) -> Row:
    """The proof on the real block: PASS is expected."""
    r = run_sby(spec.name, spec.make(None), spec.mode, spec.depth, spec.solver, workdir)
    return Row("proof", spec.name, spec.block, spec.mode, spec.depth, spec.solver, r.status, "PASS", r.seconds,
               spec.params if r.passed else f"failed: {', '.join(r.failed) or 'see ' + str(r.workdir)}")


def run_mutant(spec: MutantSpec, workdir: Path = DEFAULT_WORKDIR) -> Row:
    """The mutant's proof of its one property: FAIL (with a counterexample naming it) is expected."""
    p = proof(spec.proof)
    try:
        block_cls = spec.mutation.apply()
    except (LookupError, ValueError) as e:
        return Row("mutant", spec.name, p.block, "bmc", spec.depth, p.solver, "ERROR", "FAIL", 0.0, str(e))
    r = run_sby(f"mutant_{spec.name}", p.make(block_cls), "bmc", spec.depth, p.solver, workdir,
                only=spec.prop)
    caught = r.status == "FAIL" and r.failed == [spec.prop]
    return Row("mutant", spec.name, p.block, "bmc", spec.depth, p.solver, "FAIL" if caught else r.status,
               "FAIL", r.seconds, f"`{spec.mutation.old}` -> `{spec.mutation.new}`")


def markdown(rows: list[Row], compile_seconds: float) -> str:
    out = ["| kind | name | block | mode | depth | solver | result | wall time (s) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        result = r.status if r.ok else f"**{r.status}** (expected {r.expected})"
        out.append(f"| {r.kind} | {r.name} | {r.block} | {r.mode} | {r.depth} | {r.solver} | {result} | {r.seconds:.1f} |")
    total = sum(r.seconds for r in rows)
    out.append("")
    out.append(f"{len(rows)} runs, {sum(r.ok for r in rows)} as expected; total {total:.0f} s of SymbiYosys "
               f"wall time; WebAssembly Yosys ready in {compile_seconds:.1f} s (cache).")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the proofs and mutants that `make test` runs")
    ap.add_argument("-k", default="", help="only names containing this text")
    ap.add_argument("--markdown", type=Path, default=DEFAULT_WORKDIR / "formal.md")
    ap.add_argument("--json", type=Path, default=DEFAULT_WORKDIR / "formal.json")
    ap.add_argument("--no-mutants", action="store_true")
    args = ap.parse_args(argv)
    compile_seconds = ensure_compiled()
    rows = []
    for spec in PROOFS:
        if (spec.quick or not args.quick) and args.k in spec.name:
            rows.append(run_proof(spec))
            print(f"{rows[-1].kind:6} {rows[-1].name:50} {rows[-1].status:8} {rows[-1].seconds:7.1f} s", flush=True)
    for spec in () if args.no_mutants else MUTANTS:
        if (spec.quick or not args.quick) and args.k in spec.name:
            rows.append(run_mutant(spec))
            print(f"{rows[-1].kind:6} {rows[-1].name:50} {rows[-1].status:8} {rows[-1].seconds:7.1f} s", flush=True)
    text = markdown(rows, compile_seconds)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(text)
    args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    print(text)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
