"""Build and run the plain Verilator C++ harnesses of the co-simulation tops.

``cosim_harness.cpp`` replays the AXI-Lite stimulus recorded by :mod:`tb.cosim.training_tb` with the
same bus protocol and no Python; ``frame_harness.cpp`` (:data:`FRAME_SOURCE`) replays the frames
recorded by :mod:`tb.cosim.frame_tb`. :func:`replay` returns the cycle count, pulse log and timings.
Builds are cached per (Verilog text, harness source, flags) under ``build/harness/``.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import subprocess
from pathlib import Path

from tb.kit.runner import ROOT, to_verilog, verilator_env

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "cosim_harness.cpp"
FRAME_SOURCE = HERE / "frame_harness.cpp"
#: included by both harnesses (one-hot decoding, pulse log, replay timer): part of every cache key
COMMON_HEADER = HERE / "harness_common.h"
BUILD = ROOT / "build" / "harness"
#: the same Verilator options as the cocotb build (tb.kit.runner.run_cocotb), minus cocotb's VPI flags
FLAGS = ("-Wno-fatal", "--x-assign", "0", "--x-initial", "0")


def build_harness(component, toplevel: str = "cosim_top", source: Path = SOURCE,
                  defines: tuple[str, ...] = (), verilog_text: str | None = None,
                  cxx_flags: tuple[str, ...] = ()) -> Path:
    """Verilog of ``component`` (or ``verilog_text``, already converted) + the harness ``source``
    (C++ ``defines``, e.g. ``"STAND_IN"``; extra compiler ``cxx_flags``, e.g. ``"-O2"``) ->
    executable (cached); returns its path."""
    verilator_env()
    text = to_verilog(component, toplevel) if verilog_text is None else verilog_text
    cpp = Path(source).read_text() + COMMON_HEADER.read_text()
    cflags = [f"-D{d}" for d in defines] + list(cxx_flags)
    key = hashlib.sha1((text + cpp + repr(FLAGS) + (repr(cflags) if cflags else "")).encode()).hexdigest()[:12]
    d = BUILD / f"{toplevel}-{key}"
    d.mkdir(parents=True, exist_ok=True)
    exe = d / "obj" / "cosim_harness"
    with open(d / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.exists():
            return exe
        src = d / f"{toplevel}.v"
        src.write_text(text)
        cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "--top-module", toplevel, "--prefix", "Vtop",
               *FLAGS, *(x for f in cflags for x in ("-CFLAGS", f)),
               "-Mdir", str(d / "obj"), "-o", "cosim_harness", str(src), str(source)]
        r = subprocess.run(cmd, cwd=d, capture_output=True, text=True, check=False)
        (d / "build.log").write_text(r.stdout + r.stderr)
        if r.returncode != 0 or not exe.exists():
            raise RuntimeError(f"harness build failed (see {d / 'build.log'}):\n{r.stderr[-3000:]}")
    return exe


def replay(exe: Path, stimulus: Path, pulses_out: Path, repeat: int = 1) -> dict:
    """Run the harness on a recorded stimulus; returns its JSON summary (cycles, pulses, seconds)."""
    r = subprocess.run([str(exe), str(stimulus), str(pulses_out), str(repeat)], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"harness failed ({r.returncode}): {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare_replay(exe: Path, res: dict, repeat: int = 1) -> dict:
    """Replay ``res["stimulus"]`` with ``exe`` and add to ``res`` what both co-simulations report: the
    ``raw_*`` numbers, whether the C++ pulse log equals the cocotb one (``<stimulus>.pulses.txt``) and
    the cycle counts agree, and the cocotb / raw ratios (``ratio``: cocotb simulator-and-driver wall
    time, host compute excluded, over the replay's; ``ratio_cpu`` the same in process CPU time;
    ``ratio_end_to_end`` with the host's golden passes). Returns the replay's own summary."""
    stim = Path(res["stimulus"])
    cpp_log = stim.with_suffix(".cpp_pulses.txt")
    raw = replay(exe, stim, cpp_log, repeat=repeat)
    py_log = stim.with_suffix(".pulses.txt")
    wall, cpu = max(raw["wall_seconds"], 1e-9), max(raw["cpu_seconds"], 1e-9)
    res.update({
        "raw_samples": raw["samples"], "raw_cycles": raw["cycles"], "raw_pulses": raw["pulses"],
        "raw_wall_seconds": raw["wall_seconds"], "raw_cpu_seconds": raw["cpu_seconds"],
        "raw_cycles_per_second": raw["cycles"] / wall, "raw_samples_per_second": raw["samples"] / wall,
        "raw_pulse_log_equal": py_log.exists() and cpp_log.read_text() == py_log.read_text(),
        "raw_cycles_equal": raw["cycles"] == res["cycles"],
        "ratio": res["sim_seconds"] / wall, "ratio_cpu": res["sim_cpu_seconds"] / cpu,
        "ratio_end_to_end": res["wall_seconds"] / wall,
    })
    return raw
