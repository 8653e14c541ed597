"""Options shared by the sweep commands: where their runs execute (:class:`tb.scale.engine.Engine`)."""
from __future__ import annotations

import contextlib


def add_engine_arguments(p) -> None:
    """``--jobs`` and ``--scheduler``."""
    from tb.cli.arguments import IntIn
    from tb.scale.engine import ENV_SCHEDULER, machine_workers

    g = p.add_argument_group("execution (Dask)")
    g.add_argument("--jobs", type=IntIn(1, 1024), default=None,
                   help=f"local Dask worker processes, one thread each (default: the cores, here {machine_workers()})")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help=f"send the runs to this running Dask scheduler instead (default: ${ENV_SCHEDULER}, "
                        "else a local cluster)")


@contextlib.contextmanager
def sweep_engine(args, what: str, progress: bool = True):
    """The engine of a sweep command, with SIGINT/SIGTERM stopping it cleanly; prints where it runs."""
    from tb.scale.engine import Engine
    from tb.scale.signals import stop_on_signals

    with stop_on_signals(), Engine(args.jobs, args.scheduler, progress=progress) as engine:
        print(f"{what}; running on {engine.describe()}", flush=True)
        yield engine
