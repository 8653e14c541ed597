"""`reram-accel verilog`: write one Verilog file per generated block, the register map and the memory
manifest (``memories.json``: every memory instance of every written block)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from golden.spec.checks import ConfigError
from golden.spec.register_map import emitters
from hw.verilog_output import FLAVOURS
from tb.cli.arguments import IntIn, OutputDir

HELP = "generate Verilog for every block (one file each) from a TOML configuration"


def add_arguments(p) -> None:
    p.add_argument("--config", type=Path, default=None, help="TOML file ([array] [synapse] [update] [timing])")
    p.add_argument("--out", type=OutputDir(), default=Path("build/verilog"),
                   help="output directory (replaced as a whole when the generation succeeded)")
    p.add_argument("--only", default=None, help="comma-separated block names (default: all)")
    p.add_argument("--flavour", choices=FLAVOURS, default="synth",
                   help="synth (default): what a hardware team takes, plain Verilog-2005 without assertions "
                        "or $write; sim: keeps the assertions, for Verilator simulation and formal")
    p.add_argument("--prefix", default="",
                   help="put in front of every module name and file name, so that two configurations "
                        "link into one design (a Verilog identifier)")
    p.add_argument("--no-initial-values", dest="initial_values", action="store_false",
                   help="no initial value anywhere (no `reg x = ...`, no `initial`, no memory contents): "
                        "registers reach their state through reset only")
    p.add_argument("--jobs", type=IntIn(1, 1024), default=None,
                   help="blocks converted at once, one process each (default: the cores, at most the "
                        "number of blocks); the files are the same whatever the number")


MANIFEST = "memories.json"


def check_selection(params, only: list[str] | None) -> list[str]:
    """The block names to write (all by default), after checking the whole configuration: an unknown
    name or a configuration one of the blocks would reject (``[bnn]`` on a 1T1R array) is a
    :class:`ConfigError` whatever ``only`` selects."""
    from hw.registry import blocks, check_configuration

    table = blocks()
    names = only or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ConfigError(f"unknown block(s) {unknown}: allowed {sorted(table)}")
    check_configuration(params)
    return names


def generate(params, out: Path, only: list[str] | None = None, *, flavour: str = "synth", prefix: str = "",
             initial_values: bool = True, jobs: int = 1) -> list[tuple[str, Path, float]]:
    """Write the blocks as ``<prefix><name>.v``; returns (name, path, seconds) for each, in the order
    of :func:`hw.registry.blocks`; also writes ``<prefix>memories.json``, the memory manifest.

    ``flavour``, ``prefix`` and ``initial_values`` as in :func:`hw.verilog_output.convert`. The
    configuration is checked first (:func:`check_selection`); the files are written straight into
    ``out`` (:func:`staged` makes the set appear at once). ``jobs`` > 1 converts that many blocks at
    once in forked processes, the tops (which contain most other blocks and take longest) first;
    every file is the same as with ``jobs = 1``. A process with other threads running converts one
    block after the other whatever ``jobs`` says.
    """
    from hw import verilog_output
    from hw.registry import TOPS

    verilog_output.check_options(flavour=flavour, prefix=prefix)
    names = check_selection(params, only)
    out.mkdir(parents=True, exist_ok=True)
    tasks = {name: (params, name, out / f"{prefix}{name}.v", flavour, prefix, initial_values) for name in names}
    jobs = max(1, min(jobs, len(names)))
    # fork only from a single-threaded process: a child inherits none of the other threads, and a lock
    # one of them held at the fork would never be released in it
    if jobs == 1 or threading.active_count() > 1:
        done = {name: _write_block(*task) for name, task in tasks.items()}
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # fork: the workers start with Amaranth and the generators already imported
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            order = sorted(names, key=lambda n: n not in TOPS)
            futures = {name: pool.submit(_write_block, *tasks[name]) for name in order}
            done = {name: futures[name].result() for name in names}
    (out / f"{prefix}{MANIFEST}").write_text(json.dumps({n: done[n][1] for n in names}, indent=1) + "\n")
    return [(name, tasks[name][2], done[name][0]) for name in names]


def _write_block(params, name: str, path: Path, flavour: str, prefix: str,
                 initial_values: bool) -> tuple[float, list[dict]]:
    """Elaborate block ``name`` once, write its Verilog to ``path``; (seconds, memory manifest)."""
    from amaranth.hdl import Fragment

    from hw import verilog_output
    from hw.memory_manifest import manifest
    from hw.registry import blocks

    t0 = time.perf_counter()
    block = blocks()[name](params)
    fragment = Fragment.get(block, None)
    mems = manifest(block, name, fragment)           # before the conversion prepares the fragment
    path.write_text(verilog_output.convert(block, name, flavour=flavour, prefix=prefix,
                                           initial_values=initial_values, fragment=fragment))
    return time.perf_counter() - t0, mems


@contextmanager
def staged(out: Path):
    """A fresh directory next to ``out`` to generate into; when the block ends without an exception its
    files move into ``out``, else it is removed and ``out`` is untouched.

    A new ``out`` is the staging directory renamed (one atomic step). An existing ``out`` keeps
    every file the run does not write (other prefixes, other tools' files); each written file
    replaces its old version by an atomic rename, all of them after the whole generation succeeded.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        yield stage
        if not out.exists():
            stage.rename(out)
            return
        for f in sorted(stage.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_register_map(params, out: Path, prefix: str = "") -> list[Path]:
    """Write the accelerator's register map next to the Verilog: ``<prefix>registers.md`` and the C
    header ``<prefix>reram_accel_regs.h`` (both generated from :mod:`golden.spec.register_map`)."""
    from golden.spec.register_map.accelerator_map import params_summary
    from hw.accelerator import Accelerator

    rmap, summary = Accelerator.register_map_for(params), params_summary(params)
    out.mkdir(parents=True, exist_ok=True)
    md, h = out / f"{prefix}registers.md", out / f"{prefix}reram_accel_regs.h"
    md.write_text(emitters.markdown(rmap, params_summary=summary))
    h.write_text(emitters.c_header(rmap, params_summary=summary))
    return [md, h]


def run(args) -> int:
    from golden.spec.params import load_config
    from hw import verilog_output
    from tb.scale.engine import machine_workers

    params = load_config(args.config)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    try:
        verilog_output.check_options(flavour=args.flavour, prefix=args.prefix)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    check_selection(params, only)           # before the staging directory exists
    with staged(args.out) as stage:
        written = generate(params, stage, only, flavour=args.flavour, prefix=args.prefix,
                           initial_values=args.initial_values,
                           jobs=args.jobs if args.jobs is not None else machine_workers())
        maps = write_register_map(params, stage, args.prefix)
        lines = {path.name: path.read_text().count("\n") for _, path, _ in written}
        mems = json.loads((stage / f"{args.prefix}{MANIFEST}").read_text())
    for name, path, secs in written:
        print(f"wrote {args.out / path.name}  ({name}, {lines[path.name]} lines, {secs:.2f} s)")
    n = sum(len(v) for v in mems.values())
    print(f"wrote {args.out / (args.prefix + MANIFEST)}  (memory manifest: {n} memory instances in {len(mems)} blocks)")
    for path in maps:
        print(f"wrote {args.out / path.name}  (register map)")
    return 0
