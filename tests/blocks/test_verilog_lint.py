"""`reram-accel verilog` writes one lint-clean Verilog file per block, for several configurations (the sim
flavour here, which Verilator simulates; tests/blocks/test_verilog_output.py lints the synth flavour)."""
from pathlib import Path

import pytest

from golden.spec.params import AccelParams
from hw.registry import blocks
from tb.cli.commands.verilog import generate
from tb.cli.main import main
from tb.kit.lint import WAIVERS, lint

ROOT = Path(__file__).resolve().parents[2]

CONFIGS = {
    "default": AccelParams(),
    "diff-n3-2t2r": AccelParams().with_(array={"rows": 5, "cols": 3, "cell": "2T2R"},
                                        synapse={"devices": 3, "increment": 2, "differential": True}),
    "n1-large": AccelParams().with_(array={"rows": 256, "cols": 128}, synapse={"devices": 1},
                                    timing={"verify": True}),
    "bnn-2t2r": AccelParams().with_(array={"rows": 8, "cols": 80, "cell": "2T2R"}, synapse={"devices": 2},
                                    bnn={"inputs": 23, "bias_cells": 2, "neurons": 9, "bank": 3,
                                         "read_width": 16}),
}


# n1-large (256 x 128, verify) in make test-extended; make test lints the other three
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.extended) if n == "n1-large" else n
                                  for n in CONFIGS])
def test_generated_verilog_lints_clean(name, tmp_path):
    written = generate(CONFIGS[name], tmp_path, flavour="sim")     # the synth flavour: test_verilog_output
    assert {n for n, _, _ in written} == set(blocks())
    problems = {}
    for block, path, _ in written:
        plain = lint(path, wall=False)
        wall = lint(path, wall=True)
        if plain or wall:
            problems[block] = {"--lint-only": plain, "-Wall (waived)": wall}
    assert not problems, f"{name}: lint warnings {problems}"


def test_cli_writes_and_reports(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[array]\nrows = 8\ncols = 4\n[synapse]\ndevices = 2\n")
    assert main(["verilog", "--config", str(cfg), "--out", str(tmp_path / "v"), "--only", "update_unit"]) == 0
    out = capsys.readouterr().out
    assert "update_unit.v" in out and (tmp_path / "v" / "update_unit.v").exists()


def test_cli_rejects_bad_config(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[synapse]\ndevices = 4\nincrement = 2\n")
    assert main(["verilog", "--config", str(cfg), "--out", str(tmp_path / "v")]) == 2
    assert "synapse.increment" in capsys.readouterr().err


def test_readme_lists_every_waiver():
    readme = (ROOT / "README.md").read_text()
    for code in WAIVERS:
        assert code in readme, f"README does not explain the -Wall waiver {code}"
