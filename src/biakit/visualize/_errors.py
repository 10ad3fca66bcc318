"""Error-coded overlays and colours shared by a true object and its match."""

from __future__ import annotations

from typing import Any

import numpy as np

from biakit.errors import DataError, ParameterError
from biakit.visualize._overlay import Color, grey_rgb, outline_mask, paint, palette, project

ERROR_COLORS: dict[str, Color] = {
    "tp": (0, 158, 115),  # bluish green
    "fp": (213, 94, 0),  # vermillion
    "missed": (240, 228, 66),  # yellow
    "merged": (204, 121, 167),  # reddish purple
    "split": (86, 180, 233),  # sky blue
}
"""Colour of each outcome (the Okabe-Ito palette, readable with colour blindness)."""

OUTCOME_NAMES: dict[str, str] = {
    "tp": "true positive",
    "fp": "false positive",
    "missed": "missed",
    "merged": "merged",
    "split": "split",
}
"""Legend text of each outcome."""

_CODE = {name: i for i, name in enumerate(ERROR_COLORS, start=1)}


def _errors_for(y_true: Any, y_pred: Any, thresh: float, errors: Any) -> Any:
    from biakit.metrics import instance_errors

    return instance_errors(y_true, y_pred, thresh=thresh) if errors is None else errors


def _outcome_image(labels: np.ndarray, values: tuple, outcomes: tuple) -> np.ndarray:
    """Replace each label by the code of its outcome (0 = background)."""
    out = np.zeros(labels.shape, np.int64)
    if values:
        keys = np.asarray(values, dtype=np.int64)
        codes = np.asarray([_CODE[o] for o in outcomes], dtype=np.int64)
        order = np.argsort(keys)
        fg = labels > 0
        pos = np.searchsorted(keys[order], labels[fg])
        pos = np.clip(pos, 0, len(keys) - 1)
        found = keys[order][pos] == labels[fg]
        out[fg] = np.where(found, codes[order][pos], 0)
    return out


def error_overlay(
    image: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    thresh: float = 0.5,
    alpha: float = 0.45,
    errors: Any = None,
) -> np.ndarray:
    """Colour each object by what kind of result it is: hit, false alarm, missed, merged, split.

    Predicted objects are filled and outlined in the colour of their outcome
    (:data:`ERROR_COLORS`: true positive, false positive, merged, split). True
    objects that were not matched are outlined in theirs on top: missed
    objects (also filled where nothing was predicted), the true objects inside
    a merged prediction, and split true objects around their fragments. The
    rules are those of :func:`biakit.metrics.instance_errors`.

    Parameters
    ----------
    image : numpy.ndarray
        2D or 3D intensity image (3D is shown as a maximum projection, each
        pixel showing the object nearest the viewer).
    y_true, y_pred : numpy.ndarray
        Ground-truth and predicted integer label images of the image's shape.
    thresh : float
        IoU threshold of the matching, in (0, 1].
    alpha : float
        Opacity of the fills, in [0, 1].
    errors : InstanceErrors, optional
        The result of ``instance_errors(y_true, y_pred, thresh=thresh)`` when
        already computed (then ``thresh`` is not used).

    Returns
    -------
    rgb : numpy.ndarray
        ``(Y, X, 3)`` uint8 image.

    Raises
    ------
    DataError
        If the three arrays differ in shape.
    ParameterError
        If ``alpha`` is outside [0, 1] or ``thresh`` outside (0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.zeros((12, 12), int); y_true[2:6, 2:6] = 1
    >>> y_pred = np.zeros_like(y_true); y_pred[8:11, 8:11] = 1
    >>> rgb = error_overlay(np.zeros((12, 12)), y_true, y_pred)
    >>> tuple(rgb[8, 9]) == ERROR_COLORS["fp"], tuple(rgb[2, 2]) == ERROR_COLORS["missed"]
    (True, True)

    """
    shapes = {np.shape(image), np.shape(y_true), np.shape(y_pred)}
    if len(shapes) != 1:
        raise DataError(
            f"image, y_true and y_pred must have the same shape, got {np.shape(image)}, "
            f"{np.shape(y_true)} and {np.shape(y_pred)}"
        )
    if not 0 <= alpha <= 1:
        raise ParameterError(f"alpha must be in [0, 1], got {alpha}")
    errors = _errors_for(y_true, y_pred, thresh, errors)
    image = np.asarray(image)
    shown, pred2d = project(image, np.asarray(y_pred))
    _, true2d = project(image, np.asarray(y_true))
    rgb = grey_rgb(shown)
    table = np.asarray([(0, 0, 0), *ERROR_COLORS.values()], dtype=np.float32)
    pred_codes = _outcome_image(pred2d, errors.pred_labels, errors.pred_outcomes)
    paint(rgb, pred_codes, table, alpha=alpha, outline=False)
    rgb[outline_mask(pred2d)] = table[pred_codes[outline_mask(pred2d)]]
    true_codes = _outcome_image(true2d, errors.true_labels, errors.true_outcomes)
    true_codes[true_codes == _CODE["tp"]] = 0  # shown by their matches
    paint(rgb, true_codes, table, alpha=alpha, outline=False, where=pred2d == 0)
    edge = outline_mask(np.where(true_codes > 0, true2d, 0))
    rgb[edge] = table[true_codes[edge]]
    return rgb.astype(np.uint8)


def error_legend(counts: Any = None) -> list[tuple[str, Color]]:
    """Legend entries ``(text, (r, g, b))`` of :func:`error_overlay`, with counts when given.

    Parameters
    ----------
    counts : ErrorCounts, optional
        From :func:`biakit.metrics.instance_errors`; merged and split entries
        also give how many true objects / fragments they involve.

    Returns
    -------
    list of (str, tuple of int)
        One entry per outcome, in the order of :data:`ERROR_COLORS`.

    Examples
    --------
    >>> from biakit.metrics import ErrorCounts
    >>> error_legend(ErrorCounts(tp=3, merged=1, merged_true=2))[3][0]
    'merged: 1 (2 true objects)'

    """
    out = []
    for key, color in ERROR_COLORS.items():
        text = OUTCOME_NAMES[key]
        if counts is not None:
            text += f": {getattr(counts, key)}"
            if key == "merged" and counts.merged:
                text += f" ({counts.merged_true} true objects)"
            if key == "split" and counts.split:
                text += f" ({counts.split_pred} fragments)"
        out.append((text, color))
    return out


def matched_colors(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    thresh: float = 0.5,
    errors: Any = None,
    seed: int = 0,
) -> tuple[dict[int, Color], dict[int, Color]]:
    """Colours that give a true object and its matched prediction the same colour.

    True label ``i`` gets colour ``i - 1`` of :func:`label_colors` (as in a plain
    :func:`overlay_labels` of the truth), so overlays of several methods
    against the same truth colour the same object alike. A predicted object
    matched at ``IoU >= thresh`` takes its partner's colour; unmatched ones get
    colours after those of the true labels.

    Parameters
    ----------
    y_true, y_pred : numpy.ndarray
        Ground-truth and predicted integer label images of the same shape.
    thresh : float
        IoU threshold of the matching, in (0, 1].
    errors : InstanceErrors, optional
        Precomputed ``instance_errors(y_true, y_pred, thresh=thresh)``.
    seed : int
        Shifts the hues (as in :func:`label_colors`).

    Returns
    -------
    true_colors, pred_colors : dict of int to (r, g, b)
        To pass as ``colors=`` to :func:`overlay_labels`.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.zeros((8, 8), int); y_true[1:5, 1:5] = 3
    >>> y_pred = np.zeros_like(y_true); y_pred[1:5, 1:6] = 9
    >>> t, p = matched_colors(y_true, y_pred)
    >>> t[3] == p[9]
    True

    """
    errors = _errors_for(y_true, y_pred, thresh, errors)
    true_labels = np.asarray(errors.true_labels, dtype=np.int64)
    colors = palette(true_labels - 1, seed=seed)
    true_colors = {int(v): tuple(int(c) for c in rgb) for v, rgb in zip(true_labels, colors)}
    partner = {p: t for t, p in errors.matched_pairs}
    unmatched = [p for p in errors.pred_labels if p not in partner]
    start = int(true_labels.max(initial=0))
    extra = palette(np.arange(start, start + len(unmatched)), seed=seed)
    pred_colors = {p: tuple(int(c) for c in rgb) for p, rgb in zip(unmatched, extra)}
    pred_colors.update({p: true_colors[t] for p, t in partner.items()})
    return true_colors, pred_colors
