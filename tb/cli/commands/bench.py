"""`reram-accel bench`: run the benchmarks and write them into docs/RESULTS.md."""
from __future__ import annotations

from golden.spec.checks import ConfigError

HELP = "run the benchmarks (make bench) and write the numbers into docs/RESULTS.md"


def add_arguments(p) -> None:
    p.add_argument("--only", default=None, help="comma-separated words selecting benchmark sections")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/RESULTS.md alone")


def run(args) -> int:
    from tb.bench.benchmarks import BENCHES, run_all, write_results

    only = [w.strip() for w in args.only.split(",") if w.strip()] if args.only is not None else None
    for word in only or []:             # run_all selects sections whose title contains a word
        if not any(word.lower() in title.lower() for title in BENCHES):
            raise ConfigError(f"bench --only {word!r} matches no benchmark: the sections are {list(BENCHES)}")
    if only == []:
        raise ConfigError("bench --only: give at least one word of a section title")
    results = run_all(only)
    if not args.no_write:
        write_results(results)
        print("wrote docs/RESULTS.md (Benchmarks section)")
    return 0
