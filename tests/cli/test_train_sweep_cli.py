"""`reram-accel train-sweep` on the Dask engine: the same results with 1 worker, 2 workers and a
started `dask scheduler` + 2 `dask worker` processes; stores shared by concurrent sweeps; a corrupt
store; SIGTERM stops the workers and leaves the store valid."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from golden.training.sweep import jobs, run_key, run_spec
from tb.cli.main import main
from tb.scale.engine import ENV_SCHEDULER

ROOT = Path(__file__).resolve().parents[2]
#: a 4-run sweep on the digits set (~1 s per run)
SMALL = ["--dataset", "digits", "--devices", "1", "--seeds", "2", "--epochs", "1", "--train-samples", "100",
         "--modes", "analog", "--no-write"]
TIMING = ("wall_seconds", "seconds_per_sample")


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    env.pop(ENV_SCHEDULER, None)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tb.cli.main", "train-sweep", *args]


def _results(path: Path) -> dict:
    """run key -> the run without its timings."""
    runs = json.loads(path.read_text())["runs"]
    return {run_key(r): {k: v for k, v in r.items() if k not in TIMING} for r in runs}


@pytest.fixture(scope="module")
def reference() -> dict:
    """The small sweep's runs computed one after the other in this process, without Dask."""
    specs = jobs("digits", [1], range(2), epochs=1, train_samples=100, modes=["analog"])
    return {run_key(s): {k: v for k, v in run_spec(s).items() if k not in TIMING} for s in specs}


@pytest.fixture(autouse=True)
def _local(monkeypatch):
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)


@pytest.mark.parametrize("workers", [1, 2])
def test_results_do_not_depend_on_the_number_of_workers(tmp_path, reference, workers, capsys):
    out = tmp_path / "sweep.json"
    assert main(["train-sweep", *SMALL, "--jobs", str(workers), "--out", str(out),
                 "--plot", str(tmp_path / "p.png")]) == 0
    assert f"{workers} worker process(es)" in capsys.readouterr().out
    assert _results(out) == reference


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sweep_through_a_started_dask_scheduler_and_two_workers(tmp_path, reference, capsys):
    dask = Path(sys.executable).parent / "dask"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = _env()
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(open(tmp_path / f"{n}.log", "w")) for n in ("scheduler", "w1", "w2")]
        procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], env=env, stdout=logs[0], stderr=subprocess.STDOUT)]
        stack.callback(_stop, procs)
        for i in (1, 2):
            procs.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                           "--no-dashboard", "--name", f"w{i}"], cwd=tmp_path,
                                          env=env, stdout=logs[i], stderr=subprocess.STDOUT))
        from distributed import Client
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        out = tmp_path / "sweep.json"
        rc = main(["train-sweep", *SMALL, "--scheduler", address, "--out", str(out),
                   "--plot", str(tmp_path / "p.png")])
        assert rc == 0, capsys.readouterr()
        assert f"Dask scheduler {address} (2 workers)" in capsys.readouterr().out
        assert _results(out) == reference


def _stop(procs: list) -> None:
    """Terminate the scheduler and worker processes this test started (workers first)."""
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_two_sweeps_sharing_out_keep_both(tmp_path):
    """Before: each sweep rewrote the store from its own list, so the last one dropped the other's runs."""
    out = tmp_path / "shared.json"
    common = ["--dataset", "digits", "--devices", "1,2", "--seeds", "2", "--epochs", "1", "--train-samples", "100",
              "--no-write", "--jobs", "1", "--out", str(out)]
    procs = [subprocess.Popen(_cli(*common, "--modes", m, "--plot", str(tmp_path / f"{m}.png")), env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for m in ("analog", "binary")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    modes = sorted((r["mode"], r["devices"], r["seed"]) for r in json.loads(out.read_text())["runs"])
    assert modes == sorted({(m, n, s) for m in ("analog", "binary") for n in (1, 2) for s in (0, 1)}
                           | {("fp", 0, 0), ("fp", 0, 1)})


def test_truncated_store_is_reported_and_set_aside(tmp_path, capsys):
    """Before: a truncated docs/train_sweep.json made every later sweep fail with a traceback."""
    out = tmp_path / "sweep.json"
    out.write_text('{"runs": [{"dataset": "digits", "mode": "fp", "devi')
    args = ["train-sweep", *SMALL, "--seeds", "1", "--jobs", "1", "--out", str(out), "--plot", str(tmp_path / "p.png")]
    assert main([*args, "--report-only"]) == 0
    out_text, err = capsys.readouterr()
    assert "holds no run of this sweep" in out_text
    (aside,) = tmp_path.glob("sweep.json.corrupt-*")
    assert f"result store {out} is not valid JSON" in err and str(aside) in err
    assert aside.read_text().startswith('{"runs": [{"dataset"')
    assert main(args) == 0
    assert len(json.loads(out.read_text())["runs"]) == 2


def _descendants(pid: int) -> list[int]:
    import psutil
    return [c.pid for c in psutil.Process(pid).children(recursive=True)]


def test_sigterm_stops_the_workers_and_leaves_the_store_valid(tmp_path):
    """Before: SIGTERM ended the parent and left its pool workers running."""
    import psutil

    out = tmp_path / "sweep.json"
    p = subprocess.Popen(_cli("--dataset", "digits", "--devices", "1,2,4,8", "--seeds", "3", "--epochs", "2",
                              "--train-samples", "300", "--no-write", "--jobs", "2", "--out", str(out),
                              "--plot", str(tmp_path / "p.png")),
                         env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (out.exists() and json.loads(out.read_text())["runs"]):
            assert p.poll() is None and time.monotonic() < deadline, "no run finished"
            time.sleep(0.2)
        workers = _descendants(p.pid)
        assert workers, "no worker processes"
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "stopped by SIGTERM" in err
    deadline = time.monotonic() + 20
    while any(psutil.pid_exists(w) and psutil.Process(w).status() != psutil.STATUS_ZOMBIE for w in workers):
        assert time.monotonic() < deadline, f"workers still running: {workers}"
        time.sleep(0.2)
    runs = json.loads(out.read_text())["runs"]                # valid JSON, finished runs kept
    assert 1 <= len(runs) < 39
    assert not list(tmp_path.glob(".sweep.json.*.tmp"))
