"""Merge functional coverage (cocotb-coverage YAML) and code coverage (Verilator ``coverage.dat``) of all
runs into one Markdown report: bins hit / total per block, line, branch and toggle points per block,
the holes and the waived bins.

``python -m tb.coverage.report --dir build/coverage --out docs/coverage.md`` (``make coverage`` runs
it after the simulations). Runs of one configuration with several seeds add up bin by bin; a bin
is hit when any run hit it.
"""
from __future__ import annotations

import argparse
import fnmatch
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tb.coverage import verilator_dat
from tb.coverage.waivers import WAIVERS, Waiver


@dataclass
class Item:
    """One cover point or cross merged over runs: bin name -> hits."""

    name: str
    kind: str
    bins: Counter = field(default_factory=Counter)

    @property
    def block(self) -> str:
        return self.name.split(".")[0]


def load_functional(paths: Iterable[Path]) -> dict[str, Item]:
    """Merge cocotb-coverage YAML exports: item name -> :class:`Item` (hits summed per bin)."""
    import yaml

    items: dict[str, Item] = {}
    for path in paths:
        data = yaml.safe_load(Path(path).read_text()) or {}
        for name, attrs in data.items():
            hits = attrs.get("bins:_hits")
            if hits is None:
                continue   # a group node: its totals are recomputed from the bins
            kind = "cross" if "CoverCross" in attrs.get("type", "") else "point"
            item = items.setdefault(name, Item(name, kind))
            for b, n in hits.items():
                item.bins[str(b)] += int(n)
    return items


def waiver_for(item: str, bin_: str, waivers: Iterable[Waiver]) -> Waiver | None:
    return next((w for w in waivers if fnmatch.fnmatchcase(item, w.item) and fnmatch.fnmatchcase(bin_, w.bin)), None)


@dataclass
class BlockFunctional:
    bins: int = 0
    hit: int = 0
    waived: int = 0
    holes: list[tuple[str, str]] = field(default_factory=list)


def functional_summary(items: dict[str, Item], waivers: Iterable[Waiver] = WAIVERS
                       ) -> tuple[dict[str, BlockFunctional], Counter]:
    """Per block: bins, hit, waived, holes; and how many bins each waiver waived."""
    blocks: dict[str, BlockFunctional] = defaultdict(BlockFunctional)
    used: Counter = Counter()
    waivers = tuple(waivers)
    for name in sorted(items):
        item, b = items[name], blocks[items[name].block]
        for bin_, n in item.bins.items():
            b.bins += 1
            if n > 0:
                b.hit += 1
                continue
            w = waiver_for(name, bin_, waivers)
            if w is not None:
                b.waived += 1
                used[w] += 1
            else:
                b.holes.append((name, bin_))
    return dict(blocks), used


def load_code(paths: Iterable[Path]) -> dict[str, dict[str, tuple[int, int]]]:
    """Toplevel -> kind -> (hit, points); runs of one configuration merge point by point and the
    configurations of a block add their points (each has its own Verilog)."""
    per_block: dict[str, Counter] = defaultdict(Counter)
    for path in paths:
        top, label = Path(path).stem.split("-")[0], "-".join(Path(path).stem.split("-")[1:-2])
        for key, n in verilator_dat.read(Path(path)).items():
            per_block[top][(label, *key)] += n
    return {top: verilator_dat.summary(_strip(pts)) for top, pts in per_block.items()}


def _strip(points: Counter) -> Counter:
    """(label, kind, ...) keys -> (kind, label, ...) so :func:`verilator_dat.summary` reads the kind first."""
    return Counter({(k[1], k[0], *k[2:]): n for k, n in points.items()})


def _pct(hit: int, total: int) -> str:
    return f"{100 * hit / total:.1f} %" if total else "-"


def markdown(items: dict[str, Item], code: dict[str, dict[str, tuple[int, int]]], runs: dict[str, int],
             command: str, waivers: Iterable[Waiver] = WAIVERS) -> str:
    """The report text (see the module docstring)."""
    waivers = tuple(waivers)
    blocks, used = functional_summary(items, waivers)
    out = ["# Coverage", "",
           (f"Written by `{command}` from {sum(runs.values())} simulation runs; do not edit by hand. "
            "Functional coverage is sampled from what the monitors observed (accepted inputs, emitted "
            "outputs, strobes, flags), merged over configurations and seeds; code coverage is Verilator's "
            "line, branch and toggle coverage of the generated Verilog (see docs/ARCHITECTURE.md, "
            "\"Verification closure\")."), "",
           "## Functional coverage per block", "",
           "| block | runs | bins | hit | waived | holes | hit or waived |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for name in sorted(blocks):
        b = blocks[name]
        out.append(f"| {name} | {runs.get(name, 0)} | {b.bins} | {b.hit} | {b.waived} | {len(b.holes)} | "
                   f"{_pct(b.hit + b.waived, b.bins)} |")
    tot = BlockFunctional(sum(b.bins for b in blocks.values()), sum(b.hit for b in blocks.values()),
                          sum(b.waived for b in blocks.values()))
    nholes = sum(len(b.holes) for b in blocks.values())
    out += [(f"| **all** | {sum(runs.values())} | {tot.bins} | {tot.hit} | {tot.waived} | {nholes} | "
             f"{_pct(tot.hit + tot.waived, tot.bins)} |"), ""]
    out += ["## Code coverage per block (Verilator)", "",
            "| toplevel | line | branch | toggle |", "|---|---:|---:|---:|"]
    for top in sorted(code):
        cells = [f"{h}/{n} ({_pct(h, n)})" for h, n in (code[top][k] for k in verilator_dat.KINDS)]
        out.append(f"| {top} | " + " | ".join(cells) + " |")
    out += ["", "## Holes", ""]
    if nholes == 0:
        out.append("None: every bin is hit or waived.")
    for name in sorted(blocks):
        for item, bin_ in blocks[name].holes:
            out.append(f"- `{item}` bin `{bin_}`")
    out += ["", "## Waivers", "", "| items | bins | waived | reason |", "|---|---|---:|---|"]
    for w in waivers:
        out.append(f"| `{w.item}` | `{w.bin}` | {used.get(w, 0)} | {w.reason} |")
    out += ["", "## Cover items", "", "| item | kind | bins | hit |", "|---|---|---:|---:|"]
    for name in sorted(items):
        it = items[name]
        out.append(f"| `{name}` | {it.kind} | {len(it.bins)} | {sum(1 for n in it.bins.values() if n > 0)} |")
    return "\n".join(out) + "\n"


def _sections(text: str) -> dict[str, list[str]]:
    """A report's lines by ``## `` section ("" for the header)."""
    out: dict[str, list[str]] = {"": []}
    cur = ""
    for line in text.splitlines():
        if line.startswith("## "):
            cur = line[3:]
            out[cur] = []
        else:
            out[cur].append(line)
    return out


def _rows(lines: list[str], cells: int = -1) -> list[list[str]]:
    """The body rows of the Markdown table in ``lines`` (cells stripped); ``cells``: split into at most
    that many (the last keeps any ``|`` of its text, e.g. a waiver's reason)."""
    rows = [[c.strip() for c in ln.strip()[1:-1].split("|", cells - 1 if cells > 0 else -1)]
            for ln in lines if ln.startswith("|")]
    return rows[2:]


def _key(cell: str) -> str:
    return cell.strip("`*")


def merge_reports(old: str, new: str, note: str) -> str:
    """The report ``old`` with the blocks of report ``new`` added (their rows, cover items, holes and
    waiver counts), for coverage collected afterwards for blocks ``old`` does not have, without
    rerunning ``old``'s simulations; ``note`` (how ``new`` was made) joins the header. The totals are
    recomputed; a block in both reports is refused (the waiver counts of ``old`` are not per block)."""
    o, n = _sections(old), _sections(new)
    fun_o, fun_n = _rows(o["Functional coverage per block"]), _rows(n["Functional coverage per block"])
    old_blocks = {r[0] for r in fun_o if r[0] != "**all**"}
    new_blocks = {r[0] for r in fun_n if r[0] != "**all**"}
    if old_blocks & new_blocks:
        raise ValueError(f"merge: blocks in both reports: {sorted(old_blocks & new_blocks)} (rerun them all)")
    fun = sorted([r for r in fun_o + fun_n if r[0] != "**all**"], key=lambda r: r[0])
    tot = [sum(int(r[i]) for r in fun) for i in range(1, 6)]
    out = ["# Coverage", ""]
    for para in (ln for ln in o[""][1:] if ln.strip()):     # the earlier header's paragraphs, then the note
        out += [para, ""]
    out += [note, ""]
    out += ["## Functional coverage per block", "",
            "| block | runs | bins | hit | waived | holes | hit or waived |", "|---|---:|---:|---:|---:|---:|---:|"]
    out += ["| " + " | ".join(r) + " |" for r in fun]
    out += [f"| **all** | {tot[0]} | {tot[1]} | {tot[2]} | {tot[3]} | {tot[4]} | {_pct(tot[2] + tot[3], tot[1])} |", ""]
    code = sorted(_rows(o["Code coverage per block (Verilator)"]) + _rows(n["Code coverage per block (Verilator)"]),
                  key=lambda r: r[0])
    out += ["## Code coverage per block (Verilator)", "", "| toplevel | line | branch | toggle |", "|---|---:|---:|---:|"]
    out += ["| " + " | ".join(r) + " |" for r in code] + ["", "## Holes", ""]
    holes = sorted(ln for ln in o["Holes"] + n["Holes"] if ln.startswith("- "))
    out += holes or ["None: every bin is hit or waived."]
    counts = {}
    for r in _rows(o["Waivers"], 4) + _rows(n["Waivers"], 4):
        key = (r[0], r[1], r[3])
        counts[key] = counts.get(key, 0) + int(r[2])
    out += ["", "## Waivers", "", "| items | bins | waived | reason |", "|---|---|---:|---|"]
    out += [f"| {i} | {b} | {c} | {why} |" for (i, b, why), c in counts.items()]
    items = sorted(_rows(o["Cover items"]) + _rows(n["Cover items"]), key=lambda r: _key(r[0]))
    out += ["", "## Cover items", "", "| item | kind | bins | hit |", "|---|---|---:|---:|"]
    out += ["| " + " | ".join(r) + " |" for r in items]
    return "\n".join(out) + "\n"


def runs_per_block(paths: Iterable[Path]) -> dict[str, int]:
    return dict(Counter(Path(p).stem.split("-")[0] for p in paths))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("build/coverage"), help="RERAM_COVERAGE_DIR of the runs")
    ap.add_argument("--out", type=Path, default=Path("docs/coverage.md"))
    ap.add_argument("--command", default="make coverage", help="named in the report's first line")
    ap.add_argument("--seeds", default="", help="the seeds of the runs, named in the report")
    ap.add_argument("--fail-on-holes", action="store_true", help="exit 1 if a bin is neither hit nor waived")
    ap.add_argument("--merge", type=Path, default=None,
                    help="an earlier report: add these runs' blocks to it (blocks it does not have) and write the "
                         "result to --out, instead of a report of these runs alone")
    ap.add_argument("--note", default="", help="with --merge: the sentence on how the added runs were made")
    args = ap.parse_args(argv)
    fun = sorted((args.dir / "functional").glob("*.yml"))
    dat = sorted((args.dir / "code").glob("*.dat"))
    if not fun:
        raise SystemExit(f"--dir {args.dir}: no functional coverage files (run the tests with RERAM_COVERAGE_DIR)")
    items = load_functional(fun)
    command = f"{args.command} (seeds {args.seeds})" if args.seeds else args.command
    text = markdown(items, load_code(dat), runs_per_block(fun), command)
    if args.merge is not None:
        text = merge_reports(args.merge.read_text(), text, args.note)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    blocks, _ = functional_summary(items)
    holes = sum(len(b.holes) for b in blocks.values())
    for name, b in sorted(blocks.items()):
        print(f"{name}: {b.hit}/{b.bins} bins hit, {b.waived} waived, {len(b.holes)} holes")
    print(f"wrote {args.out} ({len(fun)} functional, {len(dat)} code coverage files)")
    return 1 if holes and args.fail_on_holes else 0


if __name__ == "__main__":
    raise SystemExit(main())
