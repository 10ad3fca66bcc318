"""Save / load of :class:`biakit.pixel.ObjectClassifier`: JSON + numeric ``.npz``, no pickle.

Folder layout::

    classifier/
        config.json   # parameters, features, classes, versions, training summary
        model.npz     # tree node arrays + feature importances (allow_pickle=False)
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biakit._atomic import atomic_path
from biakit.pixel._objects_trees import BOOSTING, FOREST, TreeEnsemble

if TYPE_CHECKING:
    from biakit.pixel._objects import ObjectClassifier

FORMAT = "biakit.ObjectClassifier"
FORMAT_VERSION = 1
CONFIG = "config.json"
MODEL = "model.npz"


def _versions() -> dict[str, str]:
    import sklearn

    import biakit

    return {"biakit": biakit.__version__, "scikit-learn": sklearn.__version__,
            "numpy": np.__version__}  # fmt: skip


def save_classifier(clf: ObjectClassifier, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``clf`` to the folder ``path`` atomically; see the module docstring."""
    model = clf._fitted()
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "classifier": clf.classifier,
        "n_estimators": clf.n_estimators,
        "class_weight": clf.class_weight,
        "seed": clf.seed,
        "features": list(clf.features_),
        "classes": [int(c) for c in clf.classes_],
        "ndim": int(clf.ndim_),
        "model": {
            "kind": model.kind,
            "n_trees": model.n_trees,
            "n_nodes": int(model.arrays["left"].size),
        },
        "versions": _versions(),
        "training": clf.training_summary_,
    }
    arrays = model.to_arrays()
    arrays["classes"] = np.asarray(clf.classes_, dtype=np.int64)
    arrays["feature_importances"] = np.asarray(clf._importances, dtype=np.float64)
    with atomic_path(path, overwrite=overwrite, directory=True) as tmp:
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        np.savez(tmp / MODEL, allow_pickle=False, **arrays)
    return Path(path)


def _read_config(folder: Path) -> dict[str, Any]:
    file = folder / CONFIG
    if not file.is_file():
        raise FileNotFoundError(f"{folder}: no {CONFIG}; is this an ObjectClassifier folder?")
    try:
        config = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{file}: not valid JSON ({err})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        got = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"{file}: 'format' must be {FORMAT!r}, got {got!r}")
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{file}: format_version {config.get('format_version')!r} is not supported "
            f"(this biakit reads {FORMAT_VERSION})"
        )
    keys = ("classifier", "n_estimators", "class_weight", "seed", "features", "classes", "ndim")
    missing = [k for k in keys if k not in config]
    if missing:
        raise ValueError(f"{file}: missing keys {missing}")
    classes = config["classes"]
    if (
        not isinstance(classes, list)
        or len(classes) < 2
        or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in classes)
        or classes != sorted(set(classes))
    ):
        raise ValueError(f"{file}: 'classes' must be >= 2 sorted distinct ints >= 1, got {classes}")
    if config["ndim"] not in (2, 3):
        raise ValueError(f"{file}: 'ndim' must be 2 or 3, got {config['ndim']!r}")
    return config


def _read_arrays(file: Path) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise FileNotFoundError(f"{file}: missing model file")
    try:
        with np.load(file, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{file}: not a numeric .npz model ({err})") from None


def load_classifier(cls: type[ObjectClassifier], path: str | Path) -> ObjectClassifier:
    """Rebuild an :class:`ObjectClassifier` from a folder written by :func:`save_classifier`."""
    folder = Path(path)
    config = _read_config(folder)
    try:
        clf = cls(
            features=config["features"],
            classifier=config["classifier"],
            n_estimators=config["n_estimators"],
            class_weight=config["class_weight"],
            seed=config["seed"],
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"{folder / CONFIG}: invalid parameters ({err})") from None
    arrays = _read_arrays(folder / MODEL)
    file = folder / MODEL
    classes = np.asarray(config["classes"], dtype=np.int64)
    n_features = len(config["features"])
    saved_classes = arrays.pop("classes", None)
    if saved_classes is None or not np.array_equal(saved_classes, classes):
        raise ValueError(f"{file}: 'classes' {saved_classes} differ from {CONFIG} {classes}")
    importances = arrays.pop("feature_importances", None)
    if (
        importances is None
        or importances.shape != (n_features,)
        or not np.issubdtype(importances.dtype, np.floating)
    ):
        shape = None if importances is None else importances.shape
        raise ValueError(
            f"{file}: 'feature_importances' has shape {shape}, expected ({n_features},) floats"
        )
    kind = BOOSTING if clf.classifier == "gradient_boosting" else FOREST
    try:
        model = TreeEnsemble.from_arrays(kind, arrays, n_features, classes.size)
    except ValueError as err:
        raise ValueError(f"{file}: {err}") from None
    per_stage = 1 if kind == FOREST or classes.size == 2 else classes.size
    if model.n_trees != clf.n_estimators * per_stage:
        raise ValueError(
            f"{file}: {model.n_trees} trees, expected {clf.n_estimators * per_stage} "
            f"(n_estimators={clf.n_estimators})"
        )
    clf.features_, clf.classes_, clf.ndim_ = list(config["features"]), classes, config["ndim"]
    clf.training_summary_ = config.get("training")
    clf._model, clf._importances = model, importances.astype(np.float64)
    return clf
