"""`reram-accel verilog`: the whole configuration is checked before any file is written (whatever
--only selects), and the files appear in --out only when all of them were generated."""
from __future__ import annotations

import pytest

from tb.cli.main import main

BNN_ON_1T1R = """[array]
rows = 8
cols = 80
cell = "1T1R"
[synapse]
devices = 2
increment = 1
[bnn]
inputs = 23
bias_cells = 2
neurons = 9
bank = 3
read_width = 16
"""


def _files(d):
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_only_still_checks_the_bnn_against_the_array(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(BNN_ON_1T1R)
    out = tmp_path / "v"
    assert main(["verilog", "--config", str(cfg), "--out", str(out), "--only", "xnor_popcount"]) == 2
    assert "array.cell = '1T1R' is not allowed with a BNN path" in capsys.readouterr().err
    assert _files(out) == []
    assert _files(tmp_path) == ["c.toml"]                    # no staging directory left behind


def test_unknown_block_is_a_message(tmp_path, capsys):
    assert main(["verilog", "--out", str(tmp_path / "v"), "--only", "nope"]) == 2
    assert "unknown block(s) ['nope']" in capsys.readouterr().err


def test_a_failure_during_generation_leaves_the_old_files(tmp_path, monkeypatch, capsys):
    out = tmp_path / "v"
    assert main(["verilog", "--out", str(out), "--only", "update_unit,pulse_scheduler"]) == 0
    before = {p.name: p.read_text() for p in out.iterdir()}
    (out / "mine.txt").write_text("kept")                     # not ours: never touched

    from hw import verilog_output
    real = verilog_output.convert

    def failing(block, name, **kw):
        if name == "pulse_scheduler":
            raise RuntimeError("simulated failure in the second block")
        return real(block, name, **kw)
    monkeypatch.setattr(verilog_output, "convert", failing)
    with pytest.raises(RuntimeError, match="simulated failure"):
        main(["verilog", "--out", str(out), "--only", "update_unit,pulse_scheduler", "--prefix", "b_"])
    after = {p.name: p.read_text() for p in out.iterdir()}
    assert after == {**before, "mine.txt": "kept"}           # nothing of the failed run, nothing lost
    assert _files(tmp_path) == ["v"]


def test_success_replaces_only_the_generated_files(tmp_path):
    out = tmp_path / "v"
    out.mkdir()
    (out / "mine.txt").write_text("kept")
    assert main(["verilog", "--out", str(out), "--only", "update_unit", "--prefix", "a_"]) == 0
    assert main(["verilog", "--out", str(out), "--only", "update_unit", "--prefix", "b_"]) == 0
    names = _files(out)
    assert {"mine.txt", "a_update_unit.v", "b_update_unit.v", "a_memories.json", "b_registers.md"} <= set(names)
    assert _files(tmp_path) == ["v"]
