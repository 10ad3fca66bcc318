"""Where block tasks run: a Dask distributed client (local cluster or scheduler) or threads."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from biakit.errors import ParameterError

#: Environment given to the worker processes a local cluster starts (threads set per worker).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BIAKIT_THREADS")


def _pin_threads(n: int) -> None:
    """Give biakit's torch work (and numba / BLAS started later) ``n`` threads in this process."""
    import biakit.runtime as rt

    for name in THREAD_VARIABLES:
        os.environ[name] = str(n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    rt.set_threads(n)


class ThreadPinPlugin(WorkerPlugin):
    """Worker plugin: pin torch / BLAS threads to the worker's ``nthreads`` (any cluster)."""

    name = "biakit-thread-pin"

    def __init__(self) -> None:
        self.origin_pid = os.getpid()

    def setup(self, worker: Any) -> None:
        """Run on each worker when it joins; in-process workers leave the host's threads alone."""
        if os.getpid() == self.origin_pid:  # a worker thread of the client's own process
            return
        _pin_threads(max(1, int(worker.state.nthreads)))

    def teardown(self, worker: Any) -> None:
        """Nothing to undo."""


def _local_sizes(n_workers: int | None) -> tuple[int, int]:
    """Workers and threads per worker for a local cluster: ``workers * threads <= CPUs``."""
    from biakit.runtime import available_cpus

    cpus = available_cpus()
    if n_workers is None:
        n_workers = cpus if cpus <= 8 else cpus // 2  # big machines: 2 threads per worker
    return n_workers, max(1, cpus // n_workers)


def _check_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def check_scheduler(scheduler: Any) -> Any:
    """Validate a ``scheduler`` value; return it (strings lower-cased where they are keywords).

    Examples
    --------
    >>> check_scheduler("Threads")
    'threads'
    >>> check_scheduler("slurm")
    Traceback (most recent call last):
    ...
    biakit.errors.ParameterError: scheduler: expected 'local', 'threads', a scheduler address \
such as 'tcp://HOST:PORT' or a distributed.Client, got 'slurm'
    """
    if scheduler is None or _is_client(scheduler):
        return scheduler
    if isinstance(scheduler, str):
        low = scheduler.strip().lower()
        if low in ("local", "threads"):
            return low
        if "://" in scheduler and scheduler.split("://", 1)[1].strip(":/"):
            return scheduler.strip()
    raise ParameterError(
        "scheduler: expected 'local', 'threads', a scheduler address such as 'tcp://HOST:PORT' "
        f"or a distributed.Client, got {scheduler!r}"
    )


def _is_client(obj: Any) -> bool:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        return False
    return isinstance(obj, Client)


class BlockClient:
    """Runs block tasks on a Dask distributed client, or on local threads.

    Made by :func:`get_client`; a context manager that closes what it started
    (a local cluster and its client; the connection to a remote scheduler) and
    nothing else (a client passed in stays open).

    Attributes
    ----------
    client : distributed.Client or None
        None for the threaded scheduler.
    n_workers : int
        Workers (threads for the threaded scheduler) at start.
    dashboard_link : str or None
        The Dask dashboard (needs ``bokeh`` on the scheduler), None for threads.
    """

    def __init__(self, client: Any, *, n_workers: int, owned: tuple[Any, ...] = ()) -> None:
        self.client = client
        self.n_workers = n_workers
        self._owned = owned
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.dashboard_link = None if client is None else client.dashboard_link

    @property
    def kind(self) -> str:
        """``"threads"`` or ``"distributed"``."""
        return "threads" if self.client is None else "distributed"

    def __repr__(self) -> str:
        return f"BlockClient({self.kind}, n_workers={self.n_workers})"

    def __enter__(self) -> BlockClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def submit(self, func: Callable[..., Any], *args: Any, key: str | None = None) -> Any:
        """Run ``func(*args)`` as a task; return its future."""
        if self.client is not None:
            return self.client.submit(func, *args, key=key, pure=False, retries=2)
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.n_workers)
        return self._pool.submit(func, *args)

    def scatter(self, data: Any) -> Any:
        """Send a large object to the workers once (no-op for threads)."""
        if self.client is None:
            return data
        return self.client.scatter(data, broadcast=True, hash=False)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        """Yield futures as they finish."""
        futures = list(futures)
        if self.client is not None:
            from distributed import as_completed

            yield from as_completed(futures)
        else:
            yield from concurrent.futures.as_completed(futures)

    def cancel(self, futures: Iterable[Any]) -> None:
        """Cancel tasks not yet finished."""
        futures = list(futures)
        if self.client is not None:
            self.client.cancel(futures)
        else:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        """Close the thread pool and whatever :func:`get_client` started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for thing in self._owned:
            thing.close()
        self._owned = ()


def get_client(
    scheduler: Any = "local",
    *,
    n_workers: int | None = None,
    memory_limit: str | int | None = None,
) -> BlockClient:
    """Connect to (or start) where block-wise work runs.

    Parameters
    ----------
    scheduler : {"local", "threads"}, str, distributed.Client or None
        ``"local"``: start a :class:`distributed.LocalCluster` of worker processes
        sized to the CPUs this process may use (:func:`biakit.runtime.available_cpus`),
        each worker's torch / OpenMP / BLAS threads pinned so that workers x threads
        <= CPUs. ``"tcp://HOST:PORT"`` (or another address): connect to a running
        scheduler (e.g. one started by dask-jobqueue, see :mod:`biakit.distributed`).
        ``"threads"``: no cluster, a pool of threads in this process. A
        ``distributed.Client``: use it (it is not closed). None: the current default
        distributed client if there is one, else threads.
    n_workers : int, optional
        Worker processes of a local cluster (threads for ``"threads"``); default one
        per CPU (two threads per worker above 8 CPUs).
    memory_limit : str or int, optional
        Memory per local worker (``"2GiB"`` or bytes); default: the machine's memory
        shared equally. Dask spills, then pauses, then restarts a worker above it.

    Returns
    -------
    BlockClient
        Use as a context manager; ``.dashboard_link`` gives the dashboard.

    Raises
    ------
    ParameterError
        An unknown ``scheduler``, a non-positive ``n_workers``, or an unreachable
        scheduler address.

    Examples
    --------
    >>> with get_client("threads", n_workers=2) as bc:
    ...     bc.submit(sum, [1, 2]).result()
    3
    """
    scheduler = check_scheduler(scheduler)
    n_workers = _check_int(n_workers, "n_workers")
    if scheduler is None:
        scheduler = _default_client() or "threads"
    if scheduler == "threads":
        from biakit.runtime import available_cpus

        return BlockClient(None, n_workers=n_workers or available_cpus())
    if _is_client(scheduler):
        _register_pin(scheduler)
        return BlockClient(scheduler, n_workers=len(scheduler.scheduler_info()["workers"]))
    from distributed import Client

    if scheduler == "local":
        return _local(n_workers, memory_limit)
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as err:
        raise ParameterError(
            f"scheduler: cannot connect to {scheduler!r} ({type(err).__name__}: {err}); "
            "start one with `dask scheduler` (and `dask worker ADDRESS`) or use --scheduler local"
        ) from None
    _register_pin(client)
    return BlockClient(client, n_workers=len(client.scheduler_info()["workers"]), owned=(client,))


def _default_client() -> Any:
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def _register_pin(client: Any) -> None:
    client.register_plugin(ThreadPinPlugin(), name=ThreadPinPlugin.name)


def _local(n_workers: int | None, memory_limit: str | int | None) -> BlockClient:
    from distributed import Client, LocalCluster

    workers, threads = _local_sizes(n_workers)
    env = {name: str(threads) for name in THREAD_VARIABLES}
    env["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
    # ":0": a free port, never a clash with another cluster's 8787 (None still binds 8787)
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=threads, processes=True,
        memory_limit=memory_limit if memory_limit is not None else "auto",
        dashboard_address=":0", env=env,
    )  # fmt: skip
    client = Client(cluster)
    _register_pin(client)
    handle = BlockClient(client, n_workers=workers, owned=(client, cluster))
    if importlib.util.find_spec("bokeh") is None:  # no dashboard pages without bokeh
        handle.dashboard_link = None
    return handle
