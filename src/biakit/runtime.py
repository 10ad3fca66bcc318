"""CPU threads and OpenMP waiting: how biakit shares a machine with other jobs.

PyTorch (and numba's ``omp`` layer) run their parallel loops on OpenMP threads.
By default GNU OpenMP (``libgomp``, the runtime of the PyPI wheels) lets an idle
thread *spin* for about 300,000 iterations before it sleeps. Alone on a machine that
saves a little latency; beside another CPU-heavy process the spinning threads fight
it for the cores, and a U-Net training step was measured 5-20x slower, tiled
prediction up to 50x (``benchmarks/bench_contention.py``). biakit therefore applies
a policy:

* **Waiting.** ``import biakit`` sets ``OMP_WAIT_POLICY=PASSIVE`` (idle threads
  sleep at once; honoured by GNU, LLVM and Intel OpenMP) unless the user set
  ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or ``KMP_BLOCKTIME``. The OpenMP runtime
  reads it once, when it is loaded: **import biakit before torch** (or export the
  variable in the shell). :func:`runtime_info` says whether it took effect. On an
  otherwise idle machine sleeping costs some speed (a training step ~15% slower,
  a small-tile prediction more); a user who owns the machine can export
  ``OMP_WAIT_POLICY=ACTIVE`` (spin) or ``GOMP_SPINCOUNT=300000`` (GNU's default).
* **Threads.** When a model is placed on a device (:func:`biakit.nn.device.pick_device`,
  used by training and tiled inference) torch's intra-op thread count is set to
  :func:`threads`: the ``BIAKIT_THREADS`` variable or :func:`set_threads` when
  given, else ``OMP_NUM_THREADS`` when set, else the CPUs this process may use
  (CPU affinity, e.g. ``taskset`` or a Slurm cpuset, and the container's cgroup CPU
  quota, which torch itself ignores). A ``torch.set_num_threads`` the user made
  before (without ``BIAKIT_THREADS`` / :func:`set_threads`) is kept; see
  :func:`apply_torch_threads`. ``BIAKIT_THREADS`` also sets numba's
  ``NUMBA_NUM_THREADS`` when numba is not yet imported.

On a machine shared with other jobs, give each job its share of the cores
(``BIAKIT_THREADS=4`` for one of four jobs on 16 cores): then a neighbour slows
biakit no more than proportionally.

>>> import biakit.runtime as rt
>>> rt.threads() >= 1
True
>>> rt.set_threads(1)
>>> rt.threads()
1
>>> rt.set_threads(None)  # back to automatic
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from biakit.errors import ParameterError

__all__ = ["apply_torch_threads", "available_cpus", "runtime_info", "set_threads", "threads"]

#: Variables a user sets to choose the OpenMP waiting; any of them disables biakit's default.
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
_CGROUP = "/sys/fs/cgroup"

_state: dict[str, Any] = {"override": None, "applied": None, "policy": {}}


def _apply_env_policy() -> dict[str, Any]:
    """Set the waiting policy (and numba's threads) in ``os.environ``; run by ``import biakit``.

    Returns ``{"set": variables biakit set, "late": libraries imported before biakit,
    for which they come too late}``. A variable the user set is never changed.
    """
    done: dict[str, str] = {}
    if not any(os.environ.get(name) for name in WAIT_VARIABLES):
        os.environ["OMP_WAIT_POLICY"] = done["OMP_WAIT_POLICY"] = "PASSIVE"
    n = _env_threads(strict=False)
    if n is not None and "NUMBA_NUM_THREADS" not in os.environ:
        os.environ["NUMBA_NUM_THREADS"] = done["NUMBA_NUM_THREADS"] = str(n)
    late = [name for name in ("torch", "numba") if name in sys.modules]
    _state["policy"] = {"set": done, "late": late}
    if done and late:  # only import logging (a few ms) when there is something to say
        import logging

        logging.getLogger("biakit.runtime").debug(
            "%s imported before biakit: %s comes too late for its OpenMP runtime; "
            "import biakit first or export the variables in the shell",
            " and ".join(late),
            ", ".join(f"{k}={v}" for k, v in done.items()),
        )
    return _state["policy"]


def available_cpus() -> int:
    """Count the CPUs this process may use: its CPU affinity, capped by the cgroup CPU quota.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> 1 <= available_cpus() <= (os.cpu_count() or 1)
    True
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def _cgroup_cpu_quota(root: str = _CGROUP, proc: str = "/proc/self/cgroup") -> float | None:
    """CPUs allowed by the cgroup (v2 ``cpu.max`` or v1 CFS quota), ``None`` when unlimited.

    The smallest limit of the process's cgroup and its ancestors, looked up both
    under the cgroup path and at the mount root (a container sees its own cgroup there).
    """
    limits = []
    for line in _read(proc).splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        rel = parts[2].strip().strip("/")
        folders = [rel]
        while folders[-1]:
            folders.append(os.path.dirname(folders[-1]))
        if parts[0] == "0":  # cgroup v2
            limits += [_parse_cpu_max(os.path.join(root, f, "cpu.max")) for f in folders]
        elif "cpu" in parts[1].split(","):  # cgroup v1
            for sub in ("cpu", "cpu,cpuacct"):
                limits += [_parse_cfs(os.path.join(root, sub, f)) for f in folders]
    found = [q for q in limits if q is not None]
    return min(found) if found else None


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _parse_cpu_max(path: str) -> float | None:
    try:
        quota, period = _read(path).split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except ValueError:
        return None


def _parse_cfs(folder: str) -> float | None:
    try:
        quota = int(_read(os.path.join(folder, "cpu.cfs_quota_us")))
        period = int(_read(os.path.join(folder, "cpu.cfs_period_us")))
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _env_threads(strict: bool = True) -> int | None:
    """``BIAKIT_THREADS`` as an int (``None``: unset, empty or ``auto``)."""
    raw = os.environ.get("BIAKIT_THREADS", "").strip()
    if raw.lower() in ("", "auto"):
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        if not strict:
            return None
        raise ParameterError(
            f"environment variable BIAKIT_THREADS={raw!r} is not a thread count; expected a "
            "positive integer (or 'auto' / unset for the CPUs this process may use)"
        )
    return n


def threads() -> int:
    """Return the intra-op thread count biakit gives torch.

    In order: :func:`set_threads`, the ``BIAKIT_THREADS`` environment variable,
    ``OMP_NUM_THREADS`` (a plain number), else :func:`available_cpus`.

    Returns
    -------
    int

    Raises
    ------
    ParameterError
        When ``BIAKIT_THREADS`` is neither a positive integer, ``auto`` nor empty.

    Examples
    --------
    >>> threads() >= 1
    True
    """
    if _state["override"] is not None:
        return int(_state["override"])
    n = _env_threads()
    if n is not None:
        return n
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        return int(omp)
    return available_cpus()


def set_threads(n: int | None) -> None:
    """Choose the number of CPU threads biakit's torch work uses (``None``: automatic).

    Takes precedence over ``BIAKIT_THREADS``; applied to torch at once when torch
    is imported, else when a model is next placed on a device.

    Parameters
    ----------
    n : int or None
        A positive thread count, or ``None`` to go back to :func:`threads`' automatic choice.

    Raises
    ------
    ParameterError
        When ``n`` is not a positive integer or ``None``.

    Examples
    --------
    >>> set_threads(2)
    >>> threads()
    2
    >>> set_threads(None)
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ParameterError(f"set_threads(n={n!r}): expected a positive integer or None")
    _state["override"] = n
    if "torch" in sys.modules:
        apply_torch_threads()


def apply_torch_threads() -> int:
    """Give torch :func:`threads` intra-op threads; run by :func:`~biakit.nn.device.pick_device`.

    Whose choice wins:

    * ``BIAKIT_THREADS`` or :func:`set_threads`: biakit's choice, always;
    * otherwise, on biakit's first call, a count the user gave torch before
      (``torch.set_num_threads``: torch's count differs from torch's own default,
      see :func:`_torch_default_threads`) is kept; else biakit's choice is applied;
    * afterwards torch's count is changed only when biakit's choice changed since
      the last call, so a ``torch.set_num_threads`` made in between is kept too.

    Returns
    -------
    int
        Torch's intra-op thread count afterwards.

    Raises
    ------
    ParameterError
        When ``BIAKIT_THREADS`` is invalid.

    Examples
    --------
    >>> apply_torch_threads() >= 1
    True
    """
    import torch

    n = threads()
    if n != _state["applied"]:
        explicit = _state["override"] is not None or _env_threads() is not None
        first = _state["applied"] is None
        current = torch.get_num_threads()
        user_set = first and not explicit and current != _torch_default_threads(torch)
        if current != n and not user_set:
            torch.set_num_threads(n)
        _state["applied"] = n
    return torch.get_num_threads()


def _torch_default_threads(torch: Any) -> int:
    """Torch's own intra-op thread count at start-up (before any ``set_num_threads``).

    Torch takes ``OMP_NUM_THREADS``, then ``MKL_NUM_THREADS`` (positive integers), else
    its count of physical cores, which is also the default size of its inter-op pool
    (``torch.get_num_interop_threads()``, unless the user changed that as well).
    """
    found = 0
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        raw = os.environ.get(name, "").strip()
        if raw.isdigit() and int(raw) > 0:
            found = int(raw)
    return found or int(torch.get_num_interop_threads())


def runtime_info() -> dict[str, Any]:
    """Report what the policy did in this process: variables, threads, whether in time.

    Returns
    -------
    dict
        ``wait_policy`` (the variables as seen now), ``set_by_biakit``,
        ``imported_before_biakit`` (libraries whose OpenMP runtime had already read
        the environment), ``available_cpus``, ``threads`` and ``torch_threads``
        (``None`` when torch is not imported).

    Examples
    --------
    >>> sorted(runtime_info())[:2]
    ['available_cpus', 'imported_before_biakit']
    """
    torch = sys.modules.get("torch")
    return {
        "wait_policy": {name: os.environ.get(name) for name in WAIT_VARIABLES},
        "set_by_biakit": dict(_state["policy"].get("set", {})),
        "imported_before_biakit": list(_state["policy"].get("late", [])),
        "available_cpus": available_cpus(),
        "threads": threads(),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
    }
