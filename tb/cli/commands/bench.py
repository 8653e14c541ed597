"""`reram-accel bench`: run the benchmarks and write them into docs/RESULTS.md."""
from __future__ import annotations

HELP = "run the benchmarks (make bench) and write the numbers into docs/RESULTS.md"


def add_arguments(p) -> None:
    p.add_argument("--only", default=None, help="comma-separated words selecting benchmark sections")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/RESULTS.md alone")


def run(args) -> int:
    from tb.bench.benchmarks import run_all, write_results

    results = run_all(args.only.split(",") if args.only else None)
    if not args.no_write:
        write_results(results)
        print("wrote docs/RESULTS.md (Benchmarks section)")
    return 0
