"""A sweep whose finished runs live in a :class:`~tb.scale.store.ResultStore`: only the runs the store
lacks are started, and each one is merged into the store as soon as it finishes, so a stopped sweep
keeps what it finished and the next one resumes from there."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from tb.scale.engine import Engine
from tb.scale.store import ResultStore


def run_missing(engine: Engine, fn: Callable[[dict], dict], specs: Sequence[dict], store: ResultStore, *,
                desc: str = "runs", label: Callable[[dict], str] | None = None) -> list[dict]:
    """Run ``fn(spec)`` on ``engine`` for every spec whose key is not in ``store``; returns every
    stored run afterwards (those of other sweeps sharing the store included)."""
    have = {store.key(r) for r in store.load()}
    todo = [s for s in specs if store.key(s) not in have]
    for _, result in engine.as_completed(fn, todo, desc=desc, label=label):
        store.add([result])
    return store.load()
