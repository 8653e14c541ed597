"""`reram-accel cosim --dataset mnist`: bad input is refused before any build, naming the parameter."""
from __future__ import annotations

import pytest

from tb.cli.main import main


@pytest.mark.parametrize("argv, name", [
    (["--dataset", "mnist", "--samples", "0"], "argument --samples: 0 is out of range: allowed [1, 60000]"),
    (["--dataset", "mnist", "--samples", "60001"], "argument --samples: 60001 is out of range"),
    (["--dataset", "mnist", "--lanes", "3"], "cosim.lanes"),
    (["--frames", "--samples", "1438"], "cosim.samples"),
])
def test_bad_frame_cosim_input_is_refused_first(argv, name, capsys, monkeypatch):
    import tb.cosim.frame_run as fr

    def no_run(*a, **k):
        raise AssertionError("the simulation must not start")
    monkeypatch.setattr(fr, "run_frame_cosim", no_run)
    assert main(["cosim", *argv]) == 2
    err = capsys.readouterr().err
    assert name in err and "allowed" in err


@pytest.mark.parametrize("argv, name", [
    (["--bnn-net", "digits", "--bnn-modes", "digital,fast"], "bnn mode 'fast' is not allowed"),
    (["--bnn-net", "mnist", "--bnn-images", "10001"], "argument --bnn-images: 10001 is out of range"),
    (["--bnn-images", "361"], "--bnn-images = 361 is out of range without --bnn-net: allowed [0, 360]"),
    (["--bnn-net", "digits", "--bnn-engine", "cxx", "--bnn-modes", "fast"], "bnn mode 'fast' is not allowed"),
    (["--bnn-net", "digits", "--bnn-engine", "cxx", "--bnn-images", "361"], "bnn images = 361 is out of range"),
    (["--bnn-net", "mnist", "--bnn-engine", "cxx", "--bnn-read-width", "4097"],
     "argument --bnn-read-width: 4097 is out of range"),
    (["--bnn-net", "digits", "--bnn-read-width", "0"], "argument --bnn-read-width: 0 is out of range"),
    (["--bnn-read-width", "64"], "--bnn-read-width = 64 is not allowed without --bnn-net"),
    (["--bnn-cal"], "--bnn-cal is not allowed without --bnn-net"),
    (["--bnn-net", "digits", "--bnn-cal", "--bnn-engine", "cxx"], "--bnn-cal is not allowed with --bnn-engine cxx"),
    (["--bnn-net", "digits", "--bnn-cal", "--bnn-images", "361"], "bnn images = 361 is out of range"),
    (["--bnn-net", "digits", "--bnn-cal", "--bnn-cal-repeats", "0"], "argument --bnn-cal-repeats: 0 is out of range"),
])
def test_bad_bnn_network_cosim_input_is_refused_first(argv, name, capsys, monkeypatch):
    from tb.cosim import bnn_net_cxx
    from tb.kit import runner

    def no_run(*a, **k):
        raise AssertionError("the simulation must not start")
    monkeypatch.setattr(runner, "run_cocotb", no_run)
    monkeypatch.setattr(bnn_net_cxx, "build", no_run)
    assert main(["cosim", *argv]) == 2
    out = capsys.readouterr()
    assert name in out.out + out.err and "allowed" in out.out + out.err
