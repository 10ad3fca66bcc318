"""The ``pixel_classifier`` pipeline step: a saved classifier turned into a foreground mask."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> Any:
    from biakit.pixel._classifier import PixelClassifier

    return PixelClassifier.load(path)


def load_model(path: str | Path) -> Any:
    """Load a saved :class:`PixelClassifier`, cached while its files are unchanged."""
    path = Path(path)
    config = path / "config.json"
    if not config.exists():
        raise FileNotFoundError(f"{path}: not a pixel classifier folder (no config.json)")
    return _cached(str(path.resolve()), config.stat().st_mtime)


def segment_with_model(
    image: np.ndarray,
    model: str,
    *,
    foreground: int | Sequence[int] = 2,
    threshold: float = 0.5,
    spacing: Sequence[float] | None = None,
) -> np.ndarray:
    """Foreground mask from a trained pixel classifier.

    Parameters
    ----------
    image : numpy.ndarray
        2D or 3D image (as the classifier was trained on).
    model : str
        Folder written by :meth:`PixelClassifier.save`.
    foreground : int or sequence of int
        Painted class value(s) that count as foreground (default 2: class 1
        is usually the background scribble).
    threshold : float
        A pixel is foreground when the summed probability of ``foreground``
        classes is at least this.
    spacing : sequence of float, optional
        Physical spacing (filter scales are physical when the model was trained so).

    Returns
    -------
    mask : numpy.ndarray of bool
    """
    clf = load_model(model)
    wanted = np.atleast_1d(foreground)
    missing = sorted(set(wanted.tolist()) - set(clf.classes_.tolist()))
    if missing:
        raise ValueError(
            f"foreground class(es) {missing} not in the model's classes {clf.classes_.tolist()}"
        )
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    # Physical filter scales only when the model was trained with a spacing.
    proba = clf.predict_proba(image, spacing=spacing if clf.spacing_ is not None else None)
    columns = np.flatnonzero(np.isin(clf.classes_, wanted))
    return proba[..., columns].sum(axis=-1) >= threshold
