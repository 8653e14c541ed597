"""Co-simulations started together in one checkout do not share files (each gets its own run directory).

Before: both runs wrote build/cosim/cosim_result.json and cosim_stimulus.txt, so of two concurrent
``reram-accel cosim --seed 0`` / ``--seed 1`` runs one reported the other's pulses with exit 0."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tb.cosim.run import run_dir
from tb.kit.runner import ROOT


def test_each_cosim_gets_its_own_run_directory(tmp_path):
    a, b = run_dir(None, "train"), run_dir(None, "train")
    try:
        assert a != b and a.is_dir() and b.is_dir()
        assert a.parent == b.parent == ROOT / "build" / "cosim"
    finally:
        a.rmdir()
        b.rmdir()
    assert run_dir(tmp_path / "given", "train") == tmp_path / "given"      # an explicit directory is kept


@pytest.mark.cocotb
@pytest.mark.scale
def test_two_concurrent_cosim_runs_keep_their_own_results(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    procs = {seed: subprocess.Popen([sys.executable, "-m", "tb.cli.main", "cosim", "--samples", "20", "--seed",
                                     str(seed), "--quiet", "--no-raw", "--json", str(tmp_path / f"{seed}.json")],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for seed in (0, 1)}
    for seed, p in procs.items():
        out, _ = p.communicate(timeout=900)
        assert p.returncode == 0, out[-3000:]
    res = {seed: json.loads((tmp_path / f"{seed}.json").read_text()) for seed in procs}
    # the swap itself depends on timing; the shared files it comes from do not
    assert res[0]["stimulus"] != res[1]["stimulus"], f"both runs wrote {res[0]['stimulus']}"
    for seed, r in res.items():
        assert r["config"]["seed"] == r["seed"] == seed, f"seed {seed}'s JSON holds seed {r['seed']}'s run"
        assert Path(r["stimulus"]).parent == Path(r["run_dir"])
    assert res[0]["pulses"] != res[1]["pulses"]
