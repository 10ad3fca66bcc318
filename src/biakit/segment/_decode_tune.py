"""Grid search of :class:`DecodeParams` on validation predictions."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from biakit.metrics.instance import match_instances
from biakit.segment._decode import DecodeParams, decode_instances

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(9))
"""IoU thresholds 0.5, 0.55, ..., 0.9 over which the matching accuracy is averaged."""

DEFAULT_GRID = {
    "fg_threshold": (0.3, 0.4, 0.5, 0.6, 0.7),
    "seed_threshold": (0.3, 0.5, 0.7, 0.8),
}
"""Grid used when ``tune_decoding(grid=None)``: 20 combinations."""


def _check_grid(grid: Mapping[str, Sequence[Any]] | None) -> dict[str, tuple[Any, ...]]:
    if grid is None:
        return dict(DEFAULT_GRID)
    if not isinstance(grid, Mapping) or not grid:
        raise TypeError(
            f"grid must be a non-empty dict of DecodeParams field -> values, got {grid!r}"
        )
    fields = {f.name for f in dataclasses.fields(DecodeParams)}
    out = {}
    for key, values in grid.items():
        if key not in fields:
            raise ValueError(
                f"grid key {key!r} is not a DecodeParams field; expected one of {sorted(fields)}"
            )
        values = tuple(np.atleast_1d(np.asarray(values, dtype=object)).tolist())
        if not values:
            raise ValueError(f"grid[{key!r}] is empty; give at least one value")
        out[key] = values
    return out


def tune_decoding(
    predictions: Sequence[Any],
    truths: Sequence[Any],
    enc: Any,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    base: DecodeParams | None = None,
) -> tuple[DecodeParams, Any]:
    """Choose decoding parameters that best reproduce the ground truth.

    Every combination of ``grid`` (fields of ``base`` replaced) decodes every
    prediction with :func:`decode_instances`; its score is the matching
    accuracy ``tp / (tp + fp + fn)`` (:func:`biakit.metrics.match_instances`)
    averaged over the IoU thresholds 0.5, 0.55, ..., 0.9 and then over the
    images.  The first combination with the highest score wins.

    Parameters
    ----------
    predictions : sequence of ndarray
        Validation predictions ``(n_channels, *spatial)`` (see :func:`decode_instances`).
    truths : sequence of ndarray of int
        Ground-truth label images, same spatial shapes.
    enc : InstanceEncoding or str
        The encoding (or its mode).
    grid : dict, optional
        ``{field: values}`` of :class:`DecodeParams` fields; default
        ``DEFAULT_GRID`` (fg_threshold x seed_threshold, 20 combinations).
    base : DecodeParams, optional
        Values of the fields not in ``grid``; default ``DecodeParams()``.

    Returns
    -------
    best : DecodeParams
        The best combination.
    table : pandas.DataFrame
        One row per combination, in grid order: the grid fields, ``score`` (the
        mean accuracy above), ``accuracy_iou50`` (mean accuracy at IoU 0.5) and
        ``n_pred`` (mean number of predicted objects per image).

    Raises
    ------
    TypeError, ValueError
        If the lists are empty or of different lengths, or ``grid`` names an
        unknown field, holds no values or an invalid value.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((16, 16), dtype=np.int32)
    >>> truth[2:8, 2:8], truth[9:14, 4:12] = 1, 2
    >>> pred = np.stack([(truth > 0) * 0.7, np.zeros(truth.shape)])
    >>> best, table = tune_decoding([pred], [truth], "fg_contour",
    ...                             grid={"fg_threshold": [0.5, 0.8]})
    >>> best.fg_threshold, table["score"].tolist()
    (0.5, [1.0, 0.0])
    """
    import pandas as pd

    if len(predictions) != len(truths):
        raise ValueError(
            f"predictions and truths must have the same length, got {len(predictions)} "
            f"and {len(truths)}"
        )
    if len(predictions) == 0:
        raise ValueError("predictions and truths are empty; give at least one validation image")
    base = DecodeParams() if base is None else base
    if not isinstance(base, DecodeParams):
        raise TypeError(f"base must be a DecodeParams, got {type(base).__name__}")
    grid = _check_grid(grid)
    keys = list(grid)
    rows, candidates = [], []
    for combo in itertools.product(*grid.values()):
        params = dataclasses.replace(base, **dict(zip(keys, combo)))
        acc, acc50, n_pred = [], [], []
        for pred, truth in zip(predictions, truths):
            labels = decode_instances(pred, enc, params)
            if labels.shape != np.shape(truth):
                raise ValueError(
                    f"a prediction decodes to shape {labels.shape} but its truth has shape "
                    f"{np.shape(truth)}"
                )
            res = match_instances(truth, labels, thresh=IOU_THRESHOLDS)
            acc.append(np.mean([r.accuracy for r in res]))
            acc50.append(res[0].accuracy)
            n_pred.append(res[0].n_pred)
        rows.append(
            {
                **dict(zip(keys, combo)),
                "score": float(np.mean(acc)),
                "accuracy_iou50": float(np.mean(acc50)),
                "n_pred": float(np.mean(n_pred)),
            }
        )
        candidates.append(params)
    table = pd.DataFrame(rows)
    best = candidates[int(np.argmax(table["score"].to_numpy()))]
    return best, table
