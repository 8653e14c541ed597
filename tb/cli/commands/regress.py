"""`reram-accel regress`: run a long pytest regression spread over Dask workers.

Examples::

    reram-accel regress tests/blocks                      # local cluster, one shard per core
    reram-accel regress -m cocotb tests --scheduler tcp://head:8786 --shards 16

Each shard is the tests of one or more whole test files, run by ``pytest`` in this checkout on a
worker (:mod:`tb.scale.regression`); the exit status is 0 only if every shard passed.
"""
from __future__ import annotations

HELP = "run a pytest regression spread over Dask workers (local cluster or --scheduler)"


def add_arguments(p) -> None:
    from tb.cli.arguments import IntIn
    from tb.cli.commands._engine import add_engine_arguments

    p.add_argument("paths", nargs="*", default=["tests"], help="test files or directories (default: tests)")
    p.add_argument("-m", "--marker", default=None, help="pytest marker expression, e.g. 'cocotb and not slow'")
    p.add_argument("--shards", type=IntIn(1, 100_000), default=None,
                   help="number of shards (default: 2 per worker, so a long file does not hold up the rest)")
    add_engine_arguments(p)


def run(args) -> int:
    from golden.spec.params import ConfigError
    from tb.cli.commands._engine import sweep_engine
    from tb.kit.runner import ROOT
    from tb.scale.regression import collect, run_shard, shards

    ids = collect(args.paths, args.marker, ROOT)
    if not ids:
        raise ConfigError(f"regress: no test selected by {args.paths} -m {args.marker!r}")
    with sweep_engine(args, f"regress: {len(ids)} tests") as engine:
        n = args.shards or 2 * max(1, engine.worker_count())
        parts = shards(ids, n)
        results = engine.map(run_shard, parts, common=str(ROOT), desc="regress shards")
    bad = [r for r in results if r["returncode"] != 0]
    for part, r in zip(parts, results):
        files = sorted({_short(nid.split("::")[0], ROOT) for nid in part})
        state = "ok" if r["returncode"] == 0 else f"FAILED (exit {r['returncode']})"
        print(f"{state:>18}  {r['tests']:4d} tests  {r['seconds']:7.1f} s  {r['summary']}  [{', '.join(files)}]")
        for f in r["failed"]:
            print(f"{'':20}failed: {_short(f, ROOT)}")
    for r in bad:
        print(f"\n--- output of a failed shard ---\n{r['tail']}")
    print(f"regress: {len(parts)} shards, {len(ids)} tests, {len(bad)} shard(s) failed")
    return 1 if bad else 0


def _short(path: str, root) -> str:
    """``path`` relative to the checkout when it is inside it."""
    return path.removeprefix(f"{root}/")
