"""Coverage kit: cover groups on cocotb-coverage, the coverage.dat reader and the merged report."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tb.coverage import report, verilator_dat
from tb.coverage.waivers import Waiver
from tb.kit.coverage import Coverage, gaps, gen_class, label, ranges


def test_ranges_and_labels():
    assert ranges(3) == [(1, 1), (2, 2), (3, 3)]
    bins = ranges(255)
    assert bins[:4] == [(1, 1), (2, 2), (3, 3), (4, 4)] and bins[-2:] == [(254, 254), (255, 255)]
    covered = sorted(v for lo, hi in bins for v in range(lo, hi + 1))
    assert covered == list(range(1, 256))           # every count in exactly one bin
    assert [label(b) for b in ((3, 3), (4, 7), (16, 1 << 62))] == ["3", "4..7", ">=16"]
    assert [gen_class(s) for s in (None, 1.0, 0.7, ["burst", 0.5], ["pattern", [1, 0]])] == \
        ["always", "always", "random", "burst", "pattern"]
    assert gaps([3, 4, 8]) == [0, 3]


def _write_run(tmp_path, hits: list[int], seed: int) -> None:
    """One run in a fresh process: cocotb-coverage's database is a process-wide singleton."""
    code = f"""
from tb.kit.coverage import Coverage, ranges
cov = Coverage("blk", {{"seed": {seed}, "coverage": {{"dir": r"{tmp_path}", "label": "cfg"}}}})
g = cov.group("pc", {{"count": ranges(3), "pol": ["SET", "RESET"]}}, {{"x": ("count", "pol")}},
              ignore={{"x": [("3", "RESET")]}})
for c in {hits}:
    g.sample(count=c, pol="SET")
g.sample(count=99, pol="RESET")     # no count bin: the cross is not hit
cov.write()
"""
    subprocess.run([sys.executable, "-c", code], check=True)


def test_runs_merge_bin_by_bin_and_waivers_apply(tmp_path):
    _write_run(tmp_path, [1, 1], seed=1)
    _write_run(tmp_path, [2], seed=2)
    items = report.load_functional(sorted(tmp_path.glob("*.yml")))
    assert items["blk.cfg.pc.count"].bins == {"1": 2, "2": 1, "3": 0}
    assert items["blk.cfg.pc.pol"].bins == {"SET": 3, "RESET": 2}
    cross = items["blk.cfg.pc.x"]
    assert len(cross.bins) == 5 and cross.kind == "cross"          # 3 x 2 minus the ignored bin
    waiver = Waiver("blk.cfg.pc.*", "3", "reason")
    blocks, used = report.functional_summary(items, [waiver])
    b = blocks["blk"]
    assert (b.bins, b.hit, b.waived) == (10, 6, 1) and used[waiver] == 1
    assert ("blk.cfg.pc.x", "('3', 'SET')") in b.holes
    text = report.markdown(items, {}, {"blk": 2}, "make coverage", [waiver])
    assert "| blk | 2 | 10 | 6 | 1 | 3 | 70.0 % |" in text and "`('1', 'RESET')`" in text


def test_collection_off_is_a_no_op(tmp_path):
    cov = Coverage("blk", {"seed": 1})
    cov.group("g", {"p": [1, 2]}).sample(p=1)
    assert not cov.enabled and cov.write() is None


DAT = (verilator_dat.HEADER + "\n"
       "C '\x01f\x02/b/x.v\x01l\x0210\x01n\x023\x01t\x02line\x01page\x02v_line/top\x01o\x02block\x01h\x02top' 5\n"
       "C '\x01f\x02/b/x.v\x01l\x0211\x01n\x023\x01t\x02line\x01page\x02v_line/top\x01o\x02block\x01h\x02top' 0\n"
       "C '\x01f\x02/b/x.v\x01l\x0212\x01n\x028\x01t\x02toggle\x01page\x02v_toggle/top\x01o\x02a:0->1\x01h\x02top' 1\n"
       "C '\x01f\x02/b/x.v\x01l\x0212\x01n\x028\x01t\x02toggle\x01page\x02v_toggle/top\x01o\x02a:1->0\x01h\x02top' 0\n")


def test_coverage_dat_reader(tmp_path):
    a, b = tmp_path / "top-cfg-1-1.dat", tmp_path / "top-cfg-2-2.dat"
    a.write_text(DAT)
    b.write_text(DAT.replace("' 0\n", "' 2\n", 1).replace("/b/x.v", "/other/x.v"))   # another build dir
    assert verilator_dat.summary(verilator_dat.read(a)) == {"line": (1, 2), "branch": (0, 0), "toggle": (1, 2)}
    merged = verilator_dat.merge([a, b])
    assert verilator_dat.summary(merged)["line"] == (2, 2)        # the same points, counts added
    assert report.load_code([a, b])["top"]["line"] == (2, 2)
    bad = tmp_path / "new.dat"
    bad.write_text("# SystemC::Coverage-4\n")
    with pytest.raises(ValueError, match="Coverage-3"):
        verilator_dat.read(bad)


def test_merge_adds_new_blocks_to_a_report(tmp_path):
    """A report of new blocks merged into an earlier one: rows, cover items, holes and waiver counts
    added, totals recomputed, the earlier header kept with the note; a block in both is refused."""
    _write_run(tmp_path, [1, 1], seed=1)
    items = report.load_functional(sorted(tmp_path.glob("*.yml")))
    w = (Waiver("blk.cfg.pc.*", "3", "a | reason"), Waiver("old.*", "x", "older"))
    new = report.markdown(items, {"blk": {"line": (1, 2), "branch": (0, 0), "toggle": (3, 4)}}, {"blk": 1},
                          "new runs", w)
    old = report.markdown({"old.any.g.p": report.Item("old.any.g.p", "point", {"x": 0, "y": 2})},
                          {"old": {"line": (5, 5), "branch": (1, 2), "toggle": (2, 2)}}, {"old": 3}, "make coverage", w)
    merged = report.merge_reports(old, new, "Merged: blk from new runs.")
    assert "Written by `make coverage`" in merged and "Merged: blk from new runs." in merged
    assert "| blk | 1 | 10 | 4 | 1 | 5 | 50.0 % |" in merged and "| old | 3 | 2 | 1 | 1 | 0 | 100.0 % |" in merged
    assert "| **all** | 4 | 12 | 5 | 2 | 5 | 58.3 % |" in merged
    assert "| blk | 1/2 (50.0 %) | 0/0 (-) | 3/4 (75.0 %) |" in merged and "| old | 5/5 (100.0 %) |" in merged
    assert "| `blk.cfg.pc.*` | `3` | 1 | a | reason |" in merged and "| `old.*` | `x` | 1 | older |" in merged
    assert "`old.any.g.p` | point | 2 | 1 |" in merged and "`blk.cfg.pc.x` | cross | 5 | 1 |" in merged
    assert merged.count("- `blk.cfg.pc") == 5
    with pytest.raises(ValueError, match="blocks in both reports"):
        report.merge_reports(merged, new, "again")
