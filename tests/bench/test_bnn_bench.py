"""`make bench`'s BNN section (tb/bench/bnn_throughput.py): the board-build reader and its fallback, the
full-row estimate against the closed form where the read width allows it, and the rows."""
from __future__ import annotations

import json

import pytest

from boards.config import load_board_config
from golden.bnn.throughput import network_cycles, network_cycles_model
from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.bnn_network_params import BnnNetHwParams
from tb.bench import bnn_throughput as bench

TOP = {"board": "ulx3s", "block": "accelerator", "fmax_mhz": 91.5, "lut": 10, "ff": 20, "bram": 3,
       "block_lut": None}


def _write(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_top_fmax_reads_the_board_build(tmp_path):
    path = _write(tmp_path / "ulx3s.json", [{"block": "bnn_layer_engine", "fmax_mhz": 120.0}, TOP])
    assert bench.top_fmax(path) == (91.5, "ULX3S accelerator top, last make board")


@pytest.mark.parametrize("content", [
    None,                                                   # no file
    "{not json",
    {"block": "accelerator", "fmax_mhz": 91.5},             # an object, not a list
    ["accelerator", 91.5],                                  # entries that are not objects
    [{**TOP, "fmax_mhz": "fast"}],
    [{**TOP, "fmax_mhz": 0}],
    [{**TOP, "fmax_mhz": True}],
    [{**TOP, "block": "bnn_layer_engine"}],                 # no accelerator entry
], ids=["missing", "not-json", "object", "not-objects", "string", "zero", "bool", "no-top"])
def test_top_fmax_falls_back_on_a_missing_or_malformed_build(tmp_path, content):
    path = tmp_path / "ulx3s.json"
    if content is not None:
        _write(path, content)
    f, note = bench.top_fmax(path)
    assert f == bench.FALLBACK_FMAX_MHZ
    assert "no usable ULX3S board build" in note and str(bench.FALLBACK_FMAX_MHZ) in note


def test_full_row_reads_of_the_paper_network():
    """The paper network's build reads full rows (one read per neuron, 1127 / 1025 bridges); its cycles
    are the closed form with one read per neuron, which equals the cycle model on a small network too."""
    net = BnnNetHwParams(sizes=(30, 17, 17, 5), bias_cells=(3, 2), bank=3, bank_out=2,
                         layer=BnnHwParams(bank=1, neurons=2, read_width=256))
    assert net.hidden_hw.reads_per_neuron == net.out_hw.reads_per_neuron == 1
    assert network_cycles(net, False, reads_per_neuron=1) == network_cycles(net, False) \
        == network_cycles_model(net, False)
    paper = bench.paper_net()
    assert (paper.hidden_hw.read_lanes, paper.out_hw.read_lanes) == (1127, 1025)
    assert paper.hidden_hw.reads_per_neuron == paper.out_hw.reads_per_neuron == 1
    # no credit stall with one read per neuron: per pass M reads, read latency 2, popcount 7, + 2
    assert network_cycles(paper, False).total == 1 + 3 * (1025 + 2 + 7 + 2) + (10 + 2 + 7 + 2) == 3130
    assert bench.measure(fmax_mhz=100.0)["full_row_cycles"] == 3130
    # the default-phase analog image: three 693-cycle passes and the 21-cycle output read, within 2x of the
    # bound at the ULX3S top's 106.6 MHz (2.20x with the 32-bridge reads of the earlier preset)
    runs = {r["run"]: r for r in bench.measure(fmax_mhz=106.6)["runs"]}
    default = runs["analog, K = 3, phase lengths (2, 1, 2, 1, 1, 1)"]
    assert default["cycles"].total == 2101 and default["cycles"].output == 21 and default["ratio_to_bound"] < 2
    assert runs["analog, K = 3, phase lengths (2, 1, 2, 1, 1, 1), read width 32"]["cycles"].total == 2421


def test_resource_rows(tmp_path):
    rows = bench.resource_rows({"ulx3s": [TOP], "icebreaker": []})
    target = load_board_config(None, "ulx3s").board.target_for("accelerator")
    assert rows[0][:2] == ("ulx3s: accelerator", "91.5 MHz") and f"target {target:g} MHz missed" in rows[0][2]
    met = bench.resource_rows({"ulx3s": [{**TOP, "fmax_mhz": target}]})
    assert f"target {target:g} MHz met" in met[0][2]
    assert "block alone not reported" in rows[0][2] and "10 LUT / 20 FF / 3 BRAM" in rows[0][2]
    assert rows[1][1] == "no build"


def test_rows_without_a_board_build(tmp_path, monkeypatch):
    monkeypatch.setattr(bench.board_builds, "BOARDS_DIR", tmp_path)
    rows = {a: (b, c) for a, b, c in bench.rows()}
    assert rows["clock"][0] == f"{bench.FALLBACK_FMAX_MHZ:.1f} MHz" and "no usable" in rows["clock"][1]
    assert rows["closed form vs cycle model"][0] == "= / = / ="
    default = rows["network engine, analog, K = 3, phase lengths (2, 1, 2, 1, 1, 1)"]
    assert f"{network_cycles(bench.paper_net(), True).total:,} cycles/image" in default[1]
    assert rows["energy per image, analog, K = 3, phase lengths (1, 1, 1, 1, 1, 1)"][0].endswith(" nJ")
    assert rows["ulx3s: resources"][0] == rows["icebreaker: resources"][0] == "no build"
