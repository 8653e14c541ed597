"""`reram-accel regress`: a pytest regression sharded by test file over the Dask engine."""
from __future__ import annotations

import pytest

from tb.cli.main import main
from tb.scale.regression import shards


def test_shards_keep_files_together_and_balance():
    ids = [f"a.py::t{i}" for i in range(5)] + [f"b.py::t{i}" for i in range(3)] + ["c.py::t0", "d.py::t0"]
    parts = shards(ids, 2)
    assert sorted(len(p) for p in parts) == [5, 5]
    for p in parts:                                   # a file's tests are never split
        files = {nid.split("::")[0] for nid in p}
        assert all(sum(nid.startswith(f) for nid in ids) == sum(nid.startswith(f) for nid in p) for f in files)
    assert len(shards(ids, 10)) == 4


@pytest.mark.scale
def test_regress_runs_shards_on_workers_and_reports_failures(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RERAM_DASK_SCHEDULER", raising=False)
    (tmp_path / "test_ok.py").write_text("def test_a():\n    assert 1 + 1 == 2\n\n\ndef test_b():\n    pass\n")
    (tmp_path / "test_bad.py").write_text("def test_fails():\n    assert 2 + 2 == 5\n")
    assert main(["regress", str(tmp_path / "test_ok.py"), "--jobs", "2"]) == 0
    assert "2 passed" in capsys.readouterr().out
    assert main(["regress", str(tmp_path), "--jobs", "2"]) == 1
    out = capsys.readouterr().out
    assert "test_bad.py::test_fails" in out and "1 shard(s) failed" in out and "assert (2 + 2) == 5" in out
