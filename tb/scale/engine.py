"""The execution engine of the sweeps: a Dask (``distributed``) client on a local cluster or on a
running scheduler.

A sweep hands the engine a function and a list of independent items; each item runs as one Dask
task on some worker, and the results come back either in input order (:meth:`Engine.map`, the form
the golden studies take through their ``run_all`` argument, see :mod:`golden.spec.runs`) or as
they finish (:meth:`Engine.as_completed`, for stores that save every finished run at once). Every
run is a pure function of its item (seeds travel inside the item; randomness is counter-based), so
the results do not depend on the number of workers or on which worker ran what.

Where the work goes:

* no scheduler: a :class:`distributed.LocalCluster` of ``workers`` processes (default: the cores
  this process may use), one thread each, with ``OPENBLAS_NUM_THREADS=1`` so that the processes do
  not oversubscribe the cores with BLAS threads;
* ``scheduler="tcp://HOST:PORT"`` or the environment variable ``RERAM_DASK_SCHEDULER``: the work is
  sent to that running cluster (``dask scheduler`` + ``dask worker`` processes that can import this
  project, see the README). The cluster's workers are not stopped when the sweep ends.

Data every task needs (a trained network, a test set) is passed once as ``common``: it is
scattered to every worker and each task receives it as its first argument.
"""
from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Self

from golden.spec.checks import check_int
from golden.spec.params import ConfigError

#: environment variable naming a running Dask scheduler (``tcp://HOST:PORT``)
ENV_SCHEDULER = "RERAM_DASK_SCHEDULER"
#: environment of every local worker process: one BLAS thread per single-threaded worker
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_NO_COMMON = object()


def machine_workers() -> int:
    """The number of cores this process may run on (the default local cluster size)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                      # not Linux
        return os.cpu_count() or 1


def scheduler_address(scheduler: str | None) -> str | None:
    """``scheduler``, else ``$RERAM_DASK_SCHEDULER``, else None (local cluster); checks the form."""
    address = scheduler if scheduler else os.environ.get(ENV_SCHEDULER, "").strip() or None
    if address is not None and "://" not in address:
        source = "--scheduler" if scheduler else ENV_SCHEDULER
        raise ConfigError(f"{source} = {address!r} must be a scheduler address like tcp://HOST:PORT")
    return address


def probe_scheduler(address: str, timeout: float = 3.0) -> None:
    """A TCP connect to ``address`` (``tcp://HOST:PORT``) before the Dask client's handshake, so a
    refused or unroutable address is reported in at most ``timeout`` s instead of after the client's
    20 s connect timeout. Other protocols (tls://, ...) go straight to the client."""
    from urllib.parse import urlsplit

    url = urlsplit(address)
    if url.scheme != "tcp":
        return
    try:
        host, port = url.hostname, url.port
    except ValueError as e:
        raise ConfigError(f"scheduler address {address!r}: {e}") from None
    if not host or port is None:
        raise ConfigError(f"scheduler address {address!r} must be tcp://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise ConfigError(f"no Dask scheduler answers at {address}: {e}") from None


def _call_with_common(fn: Callable, common: Any, item: Any) -> Any:
    return fn(common, item)


def _call(fn: Callable, item: Any) -> Any:
    return fn(item)


class Engine:
    """A Dask client for one sweep; use as a context manager.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default: :func:`machine_workers`); ignored with a scheduler.
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running scheduler (default: ``$RERAM_DASK_SCHEDULER``, else a local
        cluster).
    progress : bool
        Show a progress bar (tqdm, on stderr) while tasks finish.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None, progress: bool = True):
        if workers is not None:
            check_int("jobs (local Dask workers)", workers, 1, 1024)
        self.address = scheduler_address(scheduler)
        self.workers = workers or machine_workers()
        self.progress = progress
        self.client = None
        self._cluster = None

    def __enter__(self) -> Self:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("the Dask engine needs the `distributed` package: "
                              "pip install -e '.[cluster]' (or `make setup`)") from None
        if self.address is not None:
            probe_scheduler(self.address)
            try:
                self.client = Client(self.address, timeout="20s")
            except OSError as e:
                raise ConfigError(f"no Dask scheduler answers at {self.address}: {e}") from None
        else:
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                         dashboard_address="127.0.0.1:0", memory_limit=0, env=dict(WORKER_ENV),
                                         silence_logs=40)
            self.client = Client(self._cluster)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect (the scheduler drops this client's unfinished runs) and stop the local cluster's
        worker processes; the workers of a running cluster stay up."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def describe(self) -> str:
        """One line: where the work runs."""
        if self.address is not None:
            return f"Dask scheduler {self.address} ({self.worker_count()} workers)"
        return f"local Dask cluster, {self.workers} worker process(es) x 1 thread"

    def worker_count(self) -> int:
        """Workers connected now (the local cluster's size, or the running cluster's)."""
        return len(self.client.nthreads())

    def _submit(self, fn: Callable, items: Sequence, common: Any) -> list:
        if self.client is None:
            raise RuntimeError("Engine used outside its `with` block")
        if common is _NO_COMMON:
            return [self.client.submit(_call, fn, item, pure=False) for item in items]
        shared = self.client.scatter(common, broadcast=True, hash=False)
        return [self.client.submit(_call_with_common, fn, shared, item, pure=False) for item in items]

    def as_completed(self, fn: Callable, items: Sequence, *, common: Any = _NO_COMMON,
                     desc: str = "runs", label: Callable[[Any], str] | None = None) -> Iterator[tuple[int, Any]]:
        """Run ``fn(item)`` (or ``fn(common, item)``) for every item; yields ``(index, result)`` as
        runs finish. A failed run raises its exception here (the rest are cancelled on close)."""
        from distributed import as_completed

        futures = self._submit(fn, items, common)
        index = {f.key: i for i, f in enumerate(futures)}
        bar = self._bar(len(futures), desc)
        try:
            for fut in as_completed(futures):
                result = fut.result()
                if bar is not None:
                    bar.update(1)
                    if label is not None:
                        bar.set_postfix_str(label(result), refresh=False)
                yield index[fut.key], result
        finally:
            if bar is not None:
                bar.close()
            for f in futures:
                if not f.done():
                    f.cancel()

    def map(self, fn: Callable, items: Sequence, common: Any = _NO_COMMON, desc: str = "runs") -> list:
        """``[fn(item) for item in items]`` (or ``fn(common, item)``) on the cluster, in input order."""
        out: list = [None] * len(items)
        for i, r in self.as_completed(fn, items, common=common, desc=desc):
            out[i] = r
        return out

    def _bar(self, total: int, desc: str):
        if not self.progress or total == 0:
            return None
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit="run", file=sys.stderr, mininterval=0.5)
