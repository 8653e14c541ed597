"""hw.verilog_output: the synth flavour is plain Verilog-2005 that iverilog, Yosys and Verilator read, without
assertions or prints; prefixes let two configurations link into one design; module names are identifiers;
``initial_values=False`` leaves no initial value; the sim flavour keeps the assertions.

iverilog and Yosys come from Debian (`make setup` installs them); without apt the tests that need them skip.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from golden.spec.params import AccelParams, load_config
from hw.pulse_scheduler import PulseScheduler
from hw.registry import blocks
from hw.verilog_output import convert, module_names
from tb.cli.commands.verilog import generate
from tb.cli.main import main
from tb.kit.lint import lint

ROOT = Path(__file__).resolve().parents[2]

CONFIGS = {
    "default": AccelParams(),
    "example": load_config(ROOT / "configs" / "example.toml"),
    "bnn-2t2r": AccelParams().with_(array={"rows": 8, "cols": 80, "cell": "2T2R"}, synapse={"devices": 2},
                                    bnn={"inputs": 23, "bias_cells": 2, "neurons": 9, "bank": 3, "read_width": 16}),
}
# Verilog that only simulators accept: SystemVerilog immediate assertions and display/print tasks.
SIMULATION_ONLY = re.compile(r"\bassert\b|\$write\b|\$display\b|\$finish\b|\$stop\b")
# An initial value: `reg x = ...;` (also memory arrays), an `initial` block, or a memory read from a file.
INITIAL_VALUE = re.compile(r"^\s*reg\b[^;]*=|\binitial\b|\$readmem", re.MULTILINE)
# A plain (not escaped) Verilog identifier: no `\\`, no `$`.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def require(tool: str) -> str:
    """Path of a Debian tool; skip only where apt cannot install it (`make setup` does where it can)."""
    path = shutil.which(tool)
    if path is None:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            pytest.skip(f"{tool} is not installed and apt-get is not available here (it needs root) to install it")
        pytest.fail(f"{tool} is not installed: run `make setup` (it calls apt-get install -y iverilog yosys)")
    return path


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)


@cache
def written(config: str, out: Path, prefix: str = "", initial_values: bool = True,
            only: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Synth Verilog of the blocks of ``config`` (default all) in ``out`` (written once per process)."""
    files = generate(CONFIGS[config], out, list(only) if only else None, prefix=prefix,
                     initial_values=initial_values)
    return {name: path for name, path, _ in files}


@cache
def verilog(config: str, name: str, flavour: str, initial_values: bool = True) -> str:
    """Text of one block of ``config`` with the prefix ``cfg7_`` (converted once per process)."""
    return convert(blocks()[name](CONFIGS[config]), name, flavour=flavour, prefix="cfg7_",
                   initial_values=initial_values)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("verilog")


# the example configuration's synth flavour in make test-extended (make test: default and bnn-2t2r)
@pytest.mark.parametrize("config", [pytest.param(c, marks=pytest.mark.extended) if c == "example" else c
                                    for c in CONFIGS])
def test_synth_flavour_is_plain_verilog_every_tool_reads(config, out):
    iverilog, yosys = require("iverilog"), require("yosys")
    files = written(config, out / config)
    assert set(files) == set(blocks())
    problems = {}
    for name, path in files.items():
        text = path.read_text()
        found = sorted(set(SIMULATION_ONLY.findall(text)))
        iv = run([iverilog, "-g2005", "-o", str(out / f"{config}-{name}.vvp"), str(path)])
        ys = run([yosys, "-q", "-p", f"read_verilog {path}; hierarchy -check -top {name}"])
        checks = {"simulation-only constructs": found,
                  "module names not identifiers": [n for n in module_names(text) if not IDENTIFIER.fullmatch(n)],
                  "iverilog -g2005": iv.stderr.strip() if iv.returncode else "",
                  "yosys read_verilog": ys.stderr.strip() if ys.returncode else "",
                  "verilator --lint-only": lint(path, wall=False),
                  "verilator -Wall (waived)": lint(path, wall=True)}
        if any(checks.values()):
            problems[name] = {k: v for k, v in checks.items() if v}
    assert not problems, f"{config}: {problems}"


def link(tools: dict[str, str], files: list[Path], cwd: Path) -> dict[str, str]:
    """Errors of iverilog and Yosys reading ``files`` as one design (empty when both link it)."""
    iv = run([tools["iverilog"], "-g2005", "-o", "design.vvp", *map(str, files)], cwd=cwd)
    ys = run([tools["yosys"], "-q", "-p", f"read_verilog {' '.join(map(str, files))}; hierarchy -check"], cwd=cwd)
    return {tool: (r.stdout + r.stderr).strip() for tool, r in (("iverilog", iv), ("yosys", ys)) if r.returncode}


def test_two_configurations_link_into_one_design_only_with_prefixes(out):
    tools = {t: require(t) for t in ("iverilog", "yosys")}
    only = ("update_unit", "accelerator")            # a block on its own and a top with submodules
    plain = [*written("default", out / "link-a", only=only).values(),
             *written("example", out / "link-b", only=only).values()]
    errors = link(tools, plain, out)
    assert set(errors) == {"iverilog", "yosys"}, f"without prefixes the two configurations linked: {errors}"
    assert "update_unit" in errors["iverilog"] and "update_unit" in errors["yosys"], errors
    prefixed = [*written("default", out / "a", prefix="cfg_a_", only=only).values(),
                *written("example", out / "b", prefix="cfg_b_", only=only).values()]
    assert [p.name for p in prefixed[:1]] == ["cfg_a_update_unit.v"]
    assert link(tools, prefixed, out) == {}


def test_module_names_are_prefixed_identifiers_from_the_hierarchy():
    """Every module of a block (sim flavour here; the synth flavour is checked above) is
    ``cfg7_<block>`` or ``cfg7_<block>__<submodule path>``."""
    for name in blocks():
        names = module_names(verilog("bnn-2t2r", name, "sim"))
        assert f"cfg7_{name}" in names, names
        bad = [n for n in names if not (IDENTIFIER.fullmatch(n) and re.fullmatch(rf"cfg7_{name}(__\w+)?", n))]
        assert not bad, f"{name}: module names {bad}"


@pytest.mark.parametrize("flavour", ["synth", "sim"])
def test_without_initial_values_no_register_or_memory_starts_with_a_value(flavour):
    for name in blocks():
        text = verilog("bnn-2t2r", name, flavour, initial_values=False)
        assert not INITIAL_VALUE.findall(text), f"{name} ({flavour}): {INITIAL_VALUE.findall(text)[:5]}"
    # with initial values the pattern does find them: it sees what it must not find above
    assert all(INITIAL_VALUE.search(verilog("bnn-2t2r", name, "sim")) for name in blocks())


def test_without_initial_values_every_tool_still_reads_it(tmp_path):
    iverilog, yosys = require("iverilog"), require("yosys")
    path = tmp_path / "cfg7_accelerator.v"
    path.write_text(verilog("bnn-2t2r", "accelerator", "synth", initial_values=False))
    assert run([iverilog, "-g2005", "-o", str(tmp_path / "a.vvp"), str(path)]).returncode == 0
    assert run([yosys, "-q", "-p", f"read_verilog {path}; hierarchy -check -top cfg7_accelerator"]).returncode == 0
    assert lint(path, wall=False) == []


def test_sim_flavour_keeps_the_assertions_synth_drops_them():
    sim, synth = (verilog("default", "pulse_scheduler", flavour) for flavour in ("sim", "synth"))
    assert "assert" in sim and "write and read at once" in sim
    assert not SIMULATION_ONLY.search(synth) and "write and read at once" not in synth


@pytest.mark.parametrize("kwargs, message", [
    ({"flavour": "asic"}, r"flavour must be one of \('synth', 'sim'\), not 'asic'"),
    ({"prefix": "2nd-"}, r"prefix must be empty or a Verilog identifier .*'2nd-'"),
])
def test_bad_options_name_the_parameter_and_its_allowed_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        convert(PulseScheduler.from_params(CONFIGS["default"]), "pulse_scheduler", **kwargs)


def test_cli_flavour_prefix_and_no_initial_values(tmp_path, capsys):
    assert main(["verilog", "--out", str(tmp_path), "--only", "pulse_scheduler", "--prefix", "x1_",
                 "--no-initial-values"]) == 0
    text = (tmp_path / "x1_pulse_scheduler.v").read_text()
    assert "x1_pulse_scheduler.v" in capsys.readouterr().out
    assert (tmp_path / "x1_registers.md").exists() and (tmp_path / "x1_reram_accel_regs.h").exists()
    assert module_names(text) == ["x1_pulse_scheduler"]
    assert not SIMULATION_ONLY.search(text) and not INITIAL_VALUE.search(text)      # synth is the default
    assert main(["verilog", "--out", str(tmp_path), "--only", "pulse_scheduler", "--flavour", "sim"]) == 0
    assert "assert" in (tmp_path / "pulse_scheduler.v").read_text()
    assert main(["verilog", "--out", str(tmp_path), "--prefix", "1x"]) == 2
    assert "prefix must be empty or a Verilog identifier" in capsys.readouterr().err


def test_parallel_generation_writes_the_same_files(tmp_path):
    """`--jobs`: the blocks converted in two processes give the files (and the memory manifest, in
    registry order) of one process, byte for byte."""
    import threading
    assert threading.active_count() == 1, "generate() forks only from a single-threaded process"
    only = ["update_unit", "crossbar_addressing", "pulse_scheduler", "xnor_popcount"]
    serial = generate(CONFIGS["default"], tmp_path / "serial", only, jobs=1)
    parallel = generate(CONFIGS["default"], tmp_path / "parallel", only, jobs=2)
    assert [name for name, _, _ in parallel] == [name for name, _, _ in serial] == only
    files = sorted(p.name for p in (tmp_path / "serial").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "parallel").iterdir())
    for f in files:
        assert (tmp_path / "serial" / f).read_bytes() == (tmp_path / "parallel" / f).read_bytes(), f


def test_one_elaboration_gives_the_same_text_and_manifest():
    """convert(fragment=...) and manifest(fragment=...) on one elaboration, as `verilog` does them, equal
    the separate elaborations; the garbage collector is on again after a conversion."""
    import gc

    from amaranth.hdl import Fragment

    from hw.memory_manifest import manifest

    def block():
        return blocks()["update_unit"](CONFIGS["example"])
    b = block()
    fragment = Fragment.get(b, None)
    mems = manifest(b, "update_unit", fragment)
    assert convert(b, "update_unit", fragment=fragment) == convert(block(), "update_unit")
    assert mems == manifest(block(), "update_unit") and mems
    assert gc.isenabled()
