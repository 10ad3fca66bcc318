"""Class-labelled image sets on disk (class folders or a CSV) and classification reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biakit.errors import DataError
from biakit.workflows._classification_config import ClassificationConfig
from biakit.workflows._results import Evaluation


def _class_ids(labels: Any, names: Sequence[str] | None, n: int | None,
               what: str) -> tuple[np.ndarray, tuple[str, ...]]:  # fmt: skip
    """Class ids ``(N,)`` int64 and the class names, from ids or names."""
    if labels is None:
        raise DataError(f"{what} is missing: give one class id or class name per image")
    values = list(labels)
    if values and all(isinstance(v, str) for v in values):
        names = tuple(names) if names else tuple(sorted(set(values)))
        index = {c: i for i, c in enumerate(names)}
        unknown = sorted(set(values) - set(index))
        if unknown:
            raise DataError(f"{what} holds unknown class(es) {unknown}; known: {list(names)}")
        return _at_least_two(np.array([index[v] for v in values], dtype=np.int64), names, what)
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{what} must be integer class ids or class names, got {arr.dtype} "
                        f"with shape {arr.shape}")  # fmt: skip
    arr = arr.astype(np.int64)
    count = n or (len(names) if names else int(arr.max(initial=1)) + 1)
    if arr.size and (arr.min() < 0 or arr.max() >= count):
        raise DataError(f"{what} must be class ids in 0..{count - 1}, got {arr.min()}..{arr.max()}")
    names = tuple(names) if names else tuple(str(i) for i in range(max(count, 2)))
    return _at_least_two(arr, names, what)


def _at_least_two(ids: np.ndarray, names: tuple, what: str) -> tuple[np.ndarray, tuple]:
    if len(names) < 2:
        raise DataError(f"{what}: need at least 2 classes, got {list(names)}")
    return ids, tuple(str(n) for n in names)


def load_classification_data(
    source: str | Path, *, ndim: int = 2, axes: str | None = None,
    class_names: Sequence[str] | None = None,
) -> tuple[list[np.ndarray], np.ndarray, tuple[str, ...]]:  # fmt: skip
    """Read labelled images: a folder with one sub-folder per class, or a CSV (path, class).

    Classes of a folder are its sub-folders, sorted by name; those of a CSV
    its distinct ``class`` values, sorted (paths relative to the CSV). Give
    ``class_names`` (a trained model's) to keep another model's class ids.

    Returns
    -------
    images : list of numpy.ndarray
        Channel-first images.
    labels : numpy.ndarray
        int64 class ids.
    class_names : tuple of str
    """
    from biakit.io import list_images, read_channel_first

    source = Path(source)
    if source.is_dir():
        pairs = [(p, d.name) for d in sorted(source.iterdir()) if d.is_dir()
                 and not d.name.startswith(".") for p in list_images(d)]  # fmt: skip
        if not pairs:
            raise DataError(f"{source}: no images in class sub-folders (expected "
                            f"{source}/CLASS_NAME/*.tif)")  # fmt: skip
    elif source.suffix.lower() == ".csv" and source.is_file():
        table = pd.read_csv(source)
        missing = {"path", "class"} - set(table.columns)
        if missing:
            raise DataError(f"{source}: missing column(s) {sorted(missing)}; expected path, class")
        pairs = [(p if Path(p).is_absolute() else source.parent / p, str(c))
                 for p, c in zip(table["path"], table["class"])]  # fmt: skip
    else:
        raise DataError(f"{source}: expected a folder of class sub-folders or a .csv file")
    labels, names = _class_ids([c for _, c in pairs], class_names, None, str(source))
    images = [read_channel_first(p, ndim=ndim, axes=axes)[0] for p, _ in pairs]
    return images, labels, names


def classification_training_data(cfg: ClassificationConfig, axes: str | None = None) -> tuple:
    """Read a config's ``data`` section for ``biakit train``: ``((images, names), test)``.

    Labels are given as class names, so training and test sets share the
    class ids of the (sorted) names; ``test`` is None without ``test_images``.
    """
    if cfg.data is None:
        raise DataError("the config has no 'data' section (data: {images: train/})")

    def read(source: str) -> tuple[list, list[str]]:
        images, labels, names = load_classification_data(
            source, ndim=cfg.ndim, axes=axes, class_names=cfg.class_names
        )
        return images, [names[k] for k in labels]

    test = read(cfg.data.test_images) if cfg.data.test_images else None
    return read(cfg.data.images), test


def write_classification_report(
    evaluation: Evaluation,
    folder: str | Path,
    *,
    overwrite: bool = False,
    classifier: Any = None,
    images: Sequence[Any] | None = None,
    labels: Sequence[Any] | None = None,
    n_cams: int = 8,
) -> list[Path]:
    """Write the report files of an :meth:`ImageClassifier.evaluate` result; return them.

    ``report.csv`` (per class, averages, accuracy, balanced accuracy),
    ``confusion_matrix.csv`` and ``confusion_matrix.png``, ``roc_curves.png``
    (one-vs-rest, with each class's AUC) go into ``folder``; with ``classifier``
    and the evaluated ``images`` (and their ``labels``) also ``grad_cam.png``:
    Grad-CAM overlays of ``n_cams`` images drawn with a fixed seed (does the
    network look at the cell or at the background?).
    """
    from biakit._atomic import atomic_write_text
    from biakit.evaluation._plots import plot_confusion_matrix
    from biakit.measure import write_table
    from biakit.visualize import plot_grad_cams, plot_roc_curves

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = ["report.csv", "confusion_matrix.csv", "confusion_matrix.png", "roc_curves.png"]
    cams = classifier is not None and images is not None and len(images) > 0
    paths = [folder / n for n in names + (["grad_cam.png"] if cams else [])]
    taken = [p for p in paths if p.exists()]
    if taken and not overwrite:
        raise FileExistsError(f"{taken[0]}: exists already; pass overwrite=True to replace it")
    m = evaluation.metrics
    report = m.report()
    extra = pd.DataFrame([{"class": "accuracy", "f1": m.accuracy, "support": sum(m.support)},
                          {"class": "balanced accuracy", "f1": m.balanced_accuracy,
                           "support": sum(m.support)}])  # fmt: skip
    write_table(pd.concat([report, extra], ignore_index=True), paths[0], overwrite=True)
    atomic_write_text(paths[1], m.confusion_table().to_csv(), overwrite=True)
    plot_confusion_matrix(np.asarray(m.confusion), np.asarray(m.class_names), paths[2])
    _save_figure(plot_roc_curves(evaluation), paths[3])
    if cams:
        figure = plot_grad_cams(classifier, list(images), labels, n=n_cams, seed=0)
        _save_figure(figure, paths[4])
    return paths


def _save_figure(figure: Any, path: Path) -> None:
    """Write a matplotlib figure as PNG atomically."""
    from biakit._atomic import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
