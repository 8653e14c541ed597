"""tb.scale: the atomic, locked result store; run directories; the Dask engine (local cluster)."""
from __future__ import annotations

import json
import multiprocessing as mp
import os

import pytest

from golden.spec.params import ConfigError
from tb.scale.engine import ENV_SCHEDULER, Engine, scheduler_address
from tb.scale.run_dir import new_run_dir
from tb.scale.store import ResultStore, atomic_write_text


def _key(r: dict) -> tuple:
    return (r["sweep"], r["i"])


def _add_runs(path: str, sweep: str, n: int) -> None:
    store = ResultStore(path, _key)
    for i in range(n):
        store.add([{"sweep": sweep, "i": i, "payload": "x" * 2000}])


def test_two_writers_sharing_a_store_keep_every_run(tmp_path):
    """Two processes adding to one store at once: every run of both survives (before: the last
    writer's in-memory list overwrote the other's runs)."""
    path = tmp_path / "store.json"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_add_runs, args=(str(path), s, 25)) for s in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    runs = json.loads(path.read_text())["runs"]
    assert sorted(_key(r) for r in runs) == sorted((s, i) for s in "ab" for i in range(25))
    assert not list(tmp_path.glob(".store.json.*.tmp")), "temporary files left behind"


def test_add_merges_and_skips_known_keys(tmp_path):
    store = ResultStore(tmp_path / "s.json", _key)
    store.add([{"sweep": "a", "i": 0, "v": 1}])
    stored = store.add([{"sweep": "a", "i": 0, "v": 2}, {"sweep": "a", "i": 1, "v": 3}])
    assert [(r["i"], r["v"]) for r in stored] == [(0, 1), (1, 3)]


@pytest.mark.parametrize("text", ['{"runs": [{"sweep": "a", "i": 0}, {"swe', "", "[1, 2]", '{"runs": 5}',
                                  "\udcff"])
def test_corrupt_store_is_set_aside_with_its_path(tmp_path, text):
    path = tmp_path / "s.json"
    if text == "\udcff":
        path.write_bytes(b"\xff\xfe binary")
    else:
        path.write_text(text)
    messages = []
    store = ResultStore(path, _key, warn=messages.append)
    assert store.load() == []
    (aside,) = tmp_path.glob("s.json.corrupt-*")
    assert str(path) in messages[0] and str(aside) in messages[0]
    assert not path.exists()
    store.add([{"sweep": "a", "i": 0}])                     # and the store works again
    assert json.loads(path.read_text()) == {"runs": [{"sweep": "a", "i": 0}]}


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "d" / "f.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new content")
    assert path.read_text() == "new content"
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]


def test_run_dirs_are_distinct(tmp_path):
    dirs = {new_run_dir(tmp_path, "train") for _ in range(20)}
    assert len(dirs) == 20 and all(d.is_dir() and d.parent == tmp_path for d in dirs)
    assert all(d.name.startswith("train-") for d in dirs)


def test_scheduler_address(monkeypatch):
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    assert scheduler_address(None) is None
    monkeypatch.setenv(ENV_SCHEDULER, "tcp://127.0.0.1:8786")
    assert scheduler_address(None) == "tcp://127.0.0.1:8786"
    assert scheduler_address("tcp://10.0.0.1:1") == "tcp://10.0.0.1:1"
    with pytest.raises(ConfigError, match="--scheduler = 'localhost' must be a scheduler address"):
        scheduler_address("localhost")
    with pytest.raises(ConfigError, match=r"jobs \(local Dask workers\) = 0 is out of range: allowed \[1, 1024\]"):
        Engine(workers=0)


def test_unreachable_scheduler_is_reported_at_once():
    """A port nobody listens on is refused in milliseconds: the error comes before any work, not after
    the Dask client's connect timeout (20 s)."""
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=rf"no Dask scheduler answers at tcp://127.0.0.1:{port}"):
        Engine(scheduler=f"tcp://127.0.0.1:{port}", progress=False).__enter__()
    assert time.perf_counter() - t0 < 5


def _square_plus(common: int, item: int) -> tuple[int, str]:
    return item * item + common, os.environ.get("OPENBLAS_NUM_THREADS", "")


def test_local_engine_map_order_common_and_worker_env(monkeypatch):
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    with Engine(workers=2, progress=False) as engine:
        assert "2 worker process(es)" in engine.describe()
        out = engine.map(_square_plus, list(range(12)), common=5)
    assert [v for v, _ in out] == [i * i + 5 for i in range(12)]
    assert {env for _, env in out} == {"1"}               # one BLAS thread in every worker


def _fail(item: int) -> int:
    if item == 3:
        raise ValueError(f"run {item} failed")
    return item


def test_engine_reraises_a_failed_run(monkeypatch):
    monkeypatch.delenv(ENV_SCHEDULER, raising=False)
    with Engine(workers=1, progress=False) as engine, pytest.raises(ValueError, match="run 3 failed"):
        engine.map(_fail, list(range(6)))
