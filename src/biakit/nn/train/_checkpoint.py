"""Random-number states, seeding and atomic checkpoint files loadable with ``weights_only=True``."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biakit._atomic import atomic_path

CHECKPOINT_FORMAT = "biakit.nn.train/1"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and all GPUs).

    Examples
    --------
    >>> seed_everything(0); a = torch.rand(1)
    >>> seed_everything(0); bool(torch.equal(a, torch.rand(1)))
    True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (global state, on purpose)
    torch.manual_seed(seed)


def seed_worker(worker_id: int, rank: int = 0) -> None:
    """``worker_init_fn`` for data loaders: seed ``random`` and NumPy from the worker's torch seed.

    PyTorch gives every worker the seed ``base_seed + worker_id`` (the base seed
    drawn from the loader's generator); this propagates it to the other RNGs.
    In multi-process training every rank draws the same base seed, so ``rank``
    (bound with :func:`functools.partial`) is mixed in, torch's generator included:
    workers of different ranks get different streams (rank 0: unchanged).
    """
    seed = torch.initial_seed() % 2**32
    if rank:
        seed = int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])
        torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002


def get_rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Capture all random states as tensors and plain Python values (``weights_only``-safe)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    state: dict[str, Any] = {
        "python": {
            "version": int(version),
            "state": torch.tensor(internal, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if generator is not None:
        state["loader"] = generator.get_state()
    return state


def set_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Restore the states captured by :func:`get_rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    nps = state["numpy"]
    keys = nps["keys"].numpy().astype(np.uint32)
    np.random.set_state((nps["name"], keys, nps["pos"], nps["has_gauss"], nps["cached"]))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    if generator is not None and "loader" in state:
        generator.set_state(state["loader"])


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` to a temporary sibling, then rename over ``path`` (never half-written)."""
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        torch.save(state, tmp)
    return path


def copy_atomic(src: str | Path, dst: str | Path) -> Path:
    """Copy a file to ``dst`` atomically."""
    with atomic_path(dst, overwrite=True) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dst)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :class:`~biakit.nn.train.Trainer` with ``weights_only=True``.

    Only tensors and plain Python containers are unpickled, so loading a file
    of unknown origin cannot execute code.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not a biakit training checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a biakit training checkpoint (expected format {CHECKPOINT_FORMAT!r})"
        )
    return state
