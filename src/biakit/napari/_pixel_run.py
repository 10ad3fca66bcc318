"""The work behind the pixel classifier widget (no Qt): live updates, whole-image prediction."""

from __future__ import annotations

from typing import Any

import numpy as np

from biakit.cancel import check_cancelled

__all__ = ["iter_predict_image"]


def iter_predict_image(live: Any, image: Any, meta: Any, *, chunk: int = 256):
    """Predict the whole image, yielding ``(done, total)`` per chunk; return labels, uncertainty.

    With ``live`` (a trained :class:`~biakit.pixel.LiveClassifier`) the stored
    features are reused, ``chunk`` rows (2D) or planes (3D) at a time; otherwise
    ``image`` goes through ``live.classifier.iter_predict_proba`` block by block.
    Nothing is returned until the end, so a cancelled run changes nothing.
    """
    from biakit.pixel import LiveClassifier, uncertainty_from_proba

    if isinstance(live, LiveClassifier):
        shape = live.shape
        starts = list(range(0, shape[0], chunk if len(shape) == 2 else 1))
        labels = np.zeros(shape, np.uint16)
        uncertainty = np.zeros(shape, np.float32)
        for done, start in enumerate(starts, start=1):
            check_cancelled()
            view = (slice(start, start + (chunk if len(shape) == 2 else 1)),)
            part = live.predict(view + tuple(slice(0, n) for n in shape[1:]))
            labels[part.view], uncertainty[part.view] = part.labels, part.uncertainty
            yield done, len(starts)
        return labels.astype(part.labels.dtype), uncertainty
    clf = live
    channel_axis = meta.axes.index("C") if "C" in meta.axes else None
    proba = None
    for done, total, out in clf.iter_predict_proba(
        np.asarray(image), spacing=_spacing(meta), channel_axis=channel_axis
    ):
        proba = out
        yield done, total
    labels = clf.classes_.astype(np.uint16)[np.argmax(proba, axis=-1)]
    return labels, uncertainty_from_proba(proba)


def _spacing(meta: Any) -> tuple[float, ...] | None:
    """Relative spatial spacing (smallest = 1): filter scales stay in pixels, anisotropy kept."""
    spacing = np.asarray(meta.spatial_spacing, dtype=float)
    if np.allclose(spacing, spacing.min()):
        return None
    return tuple(float(s) for s in spacing / spacing.min())


def _live_update(live: Any, factory: Any, scribbles: np.ndarray, view: tuple) -> tuple:
    """Build the live classifier on first use (features), then refit and predict ``view``."""
    if live is None:
        live = factory()
    return live, live.update(scribbles, view)
