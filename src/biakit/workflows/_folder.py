"""Model folders: written as a whole, versioned, readable by later releases.

A model folder holds::

    model.json       manifest: format, format_version, task, workflow class, architecture id
                     and version, the network's resolved config, training summary, versions
    config.json      the task config (the same schema ``biakit train`` reads)
    weights.pt       network state dict (read with ``torch.load(weights_only=True)``)
    thresholds.json  tuned post-processing (thresholds, size filters), where tuned
    training/        metrics.csv, curves.png, checkpoints (when trained with an output folder)

It is assembled in a temporary sibling and renamed into place, so a reader
never sees half a model. ``format_version`` grows when the layout changes;
:func:`read_manifest` upgrades older layouts (version 0: the single
``config.json`` of biakit 0.1 before the workflow contract).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from biakit.errors import ModelFileError

MODEL_FORMAT = "biakit.model"
FORMAT_VERSION = 1
MANIFEST = "model.json"
CONFIG = "config.json"
WEIGHTS = "weights.pt"
THRESHOLDS = "thresholds.json"

# workflow formats of biakit 0.1 (format_version 0) -> task
_V0_FORMATS = {
    "biakit.semantic_segmenter": "semantic",
    "biakit.instance_segmenter": "instance",
    "biakit.detector": "detection",
}


def partial_dir(target: str | Path) -> Path:
    """Where an unfinished training run into ``target`` keeps its work (``NAME.partial``)."""
    target = Path(target)
    return target.with_name(f"{target.name}.partial")


def new_temp_dir(target: Path) -> Path:
    """Make a fresh hidden sibling folder of ``target`` with the usual (umask) permissions."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    return tmp


def is_occupied(target: Path) -> bool:
    """Whether ``target`` exists and is not an empty folder (which a model may replace)."""
    return target.exists() and not (target.is_dir() and not any(target.iterdir()))


def commit_folder(tmp: Path, target: Path, *, overwrite: bool) -> Path:
    """Rename the finished folder ``tmp`` to ``target`` (replacing it only with ``overwrite``)."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if target.exists():
        if not overwrite:
            raise FileExistsError(f"{target}: exists already; pass overwrite to replace it")
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
    return target


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON (inside a temporary folder: no atomicity needed)."""
    path.write_text(json.dumps(data, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def read_json(path: Path, what: str) -> Any:
    """Read a JSON file of a model folder; errors name the file."""
    if not path.is_file():
        raise ModelFileError(f"{path}: missing; the model folder is incomplete ({what})")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(
            f"{path}: not valid JSON ({err}); the model folder is damaged"
        ) from None


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read (and upgrade) a model folder's manifest.

    Returns
    -------
    dict
        ``format_version``, ``task``, ``architecture`` (``{"id", "version"}``),
        ``network`` (resolved architecture config), ``config`` (task config),
        ``in_channels``, ``training`` (summary) and ``versions``.

    Raises
    ------
    ModelFileError
        Not a model folder, a newer ``format_version``, missing or damaged files.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(f"{path}: not a model folder (no such folder)")
    if not (path / MANIFEST).exists():
        if (path / CONFIG).is_file():
            return _upgrade_v0(path)
        raise ModelFileError(f"{path}: not a biakit model folder (no {MANIFEST})")
    manifest = read_json(path / MANIFEST, "manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path / MANIFEST}: not a biakit model manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path / MANIFEST}: format_version {version!r} is newer than this biakit reads "
            f"({FORMAT_VERSION}); upgrade biakit"
        )
    manifest["config"] = read_json(path / CONFIG, "task config")
    return manifest


def _upgrade_v0(path: Path) -> dict[str, Any]:
    """Read a biakit 0.1 folder (one ``config.json`` with the format and the U-Net config)."""
    meta = read_json(path / CONFIG, "config")
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt not in _V0_FORMATS:
        raise ModelFileError(f"{path}: not a biakit model folder (format {fmt!r})")
    config = dict(meta["config"])
    if isinstance(config.get("train"), dict):  # 0.1 kept the tuned values in the config
        config["train"] = dict(config["train"])
    thresholds = None
    if fmt == "biakit.detector":
        thresholds = {k: config[k] for k in ("threshold", "min_distance") if k in config}
    elif meta.get("decode"):
        thresholds = meta["decode"]
    if fmt == "biakit.instance_segmenter":
        config["encoding"] = {"mode": config.pop("encoding", "fg_contour_distance"),
                              "contour_width": config.pop("contour_width", 1)}  # fmt: skip
    return {
        "format": MODEL_FORMAT,
        "format_version": 0,
        "task": _V0_FORMATS[fmt],
        "architecture": {"id": "unet", "version": 1},
        "network": meta["unet"],
        "in_channels": meta.get("in_channels", 1),
        "config": config,
        "training": {},
        "thresholds": thresholds,
        "versions": meta.get("versions", {}),
    }


def load_weights(file: Path) -> dict[str, Any]:
    """Read a state dict safely; a damaged or tampered file is a one-line :class:`ModelFileError`.

    Only tensors and plain containers are accepted (``weights_only=True``): a file
    that needs arbitrary code to unpickle is refused, never executed.
    """
    import pickle
    import warnings
    import zipfile

    import torch

    if not file.is_file():
        raise ModelFileError(f"{file}: missing; the model folder is incomplete (weights)")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickles before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile,
            OSError, AttributeError, TypeError, KeyError, IndexError) as err:  # fmt: skip
        kind = "refused: it holds objects other than tensors" if _unsafe(err) else "damaged"
        raise ModelFileError(f"{file}: cannot read the weights ({kind}); the file is "
                             "not a biakit state dict or was modified") from None  # fmt: skip
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ModelFileError(f"{file}: not a state dict (a mapping of names to tensors)")
    return state


def _unsafe(err: BaseException) -> bool:
    text = str(err)
    return "weights_only" in text or "Unsupported global" in text or "GLOBAL" in text


def check_state(network: Any, state: dict[str, Any], file: Path) -> None:
    """Load ``state`` into ``network``; mismatched names or shapes are a ModelFileError."""
    try:
        network.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as err:
        first = " ".join(str(err).split())[:200]
        raise ModelFileError(
            f"{file}: the weights do not fit the network in model.json ({first})"
        ) from None
